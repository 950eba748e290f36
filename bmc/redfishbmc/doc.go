// Package redfishbmc is a [bmc.Driver] over Redfish, the DMTF's REST API
// for baseboard management controllers, through the gofish client.
//
// [New] takes the BMC's endpoint and credentials; [NewFromClient] takes a
// gofish client the caller already connected. Open logs in (a Redfish
// session with an X-Auth-Token by default, basic authentication with
// Options.BasicAuth) and finds the computer system (Options.SystemID, or
// the only one); Close deletes the session, so BMCs with few session
// slots are not exhausted.
//
// TLS certificates are verified: trust a BMC's CA with Options.RootCAs.
// Options.InsecureSkipVerify turns verification off, explicitly, and an
// http:// endpoint needs Options.AllowHTTP.
//
// # Power
//
// SetPower reads the system's PowerState, decides with
// [bmc.CheckPowerAction], then picks a ResetType among those the system
// advertises (ResetType@Redfish.AllowableValues, or the Reset ActionInfo):
//
//	on        On, else ForceOn
//	off       ForceOff
//	soft-off  GracefulShutdown, else PushPowerButton (an ACPI button press)
//	cycle     PowerCycle, else ForceOff, a wait until Off, then On (or ForceOn)
//	reset     ForceRestart, else GracefulRestart
//
// A BMC that advertises no ResetType at all is sent the first choice. After
// on, off and the cycle fallback, SetPower waits (Options.PowerTimeout)
// until the BMC reports the new state.
//
// A boot override is PATCHed as BootSourceOverrideTarget Pxe, Hdd or Cd,
// BootSourceOverrideEnabled Once and, when asked, BootSourceOverrideMode
// UEFI or Legacy, then read back. ConsoleHealth looks for a serial console
// on the system and its manager (SerialConsole, CommandShell). The
// optional capabilities of package bmc are there too: [Driver.ResetBMC]
// (Manager.Reset), [Driver.EventLog] (the SEL log service) and virtual
// media ([Driver.InsertMedia], [Driver.EjectMedia]); each fails with
// bmc.ErrUnsupported on a BMC that lacks the resource.
//
// # Errors
//
// HTTP answers map to the sentinels of package bmc: 401 and 403 wrap
// [bmc.ErrAuth], 404 [bmc.ErrNotFound], 405 and 501 [bmc.ErrUnsupported];
// 429, 502, 503 and 504, timeouts, refused, reset or dropped connections
// are transient ([bmc.IsTransient]) and retried with [bmc.Retry]
// (Options.Retry). When the BMC answers 401 in the middle of a session
// (it expired or dropped it), the driver logs in once more and repeats
// the request; a second refusal is bmc.ErrAuth. A cycle or reset whose
// request may have reached the BMC is never repeated: its error says so.
// Calls before Open or after Close fail with [bmc.ErrNotOpen].
//
// Errors name the operation and the resource (endpoint and Redfish path).
// What the BMC says is rebuilt from its parsed Redfish error (status,
// message ID, message), clipped, never quoted raw, and the password is
// removed from every message: neither the credentials nor the session
// token ever appear in errors, logs or String.
//
// # Concurrency
//
// A Driver is safe for concurrent use; its calls are serialised (a call
// waits for the one before it, including SetPower's wait for the new
// state). Every call is bounded by its ctx, which the driver never keeps.
package redfishbmc

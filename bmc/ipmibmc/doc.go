// Package ipmibmc is a bmc.Driver over IPMI v2.0 LAN (RMCP+), the protocol
// every server BMC of the last twenty years speaks, through
// github.com/bougou/go-ipmi (pure Go, no ipmitool).
//
// What each bmc.Driver call sends:
//
//   - Open: Get Channel Authentication Capabilities, then the RMCP+ Open
//     Session / RAKP 1-4 handshake with one cipher suite (3 by default:
//     RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128), then Set Session
//     Privilege Level (administrator). Close sends Close Session.
//   - PowerState: Get Chassis Status. IPMI has no "powering on/off": the
//     state is on or off.
//   - SetPower: Get Chassis Status, bmc.CheckPowerAction, then Chassis
//     Control (power up, power down, soft shutdown, power cycle, hard
//     reset). After on and off it waits (Options.PowerTimeout) until the
//     BMC reports the new state.
//   - SetBootOverride: Set System Boot Options parameter 3 (do not clear
//     the boot flags on the 60-second timeout), parameter 5 (boot flags:
//     valid, next boot only, UEFI or legacy, PXE/disk/CD), then Get System
//     Boot Options parameter 5 to check what the BMC kept.
//   - ConsoleHealth: Get SOL Configuration Parameters, parameter 1 "SOL
//     Enable", on the session (and an RMCP presence ping when the BMC does
//     not answer). Console is "SOL".
//   - EventLog (bmc.EventLogReader): Get SEL Info and Get SEL Entry.
//   - ResetBMC (bmc.BMCResetter): Cold Reset.
//
// A session lives from Open to Close. When the BMC stops answering on it
// (it restarted and forgot the session), a call opens a new session and
// runs once more; after ResetBMC the next call opens one.
//
// # Errors
//
// Errors wrap the sentinels of package bmc and name the operation and the
// BMC (host:port and user name), never the password:
//
//   - bmc.ErrAuth: the RAKP handshake failed (wrong password: the BMC's
//     RAKP 2 code does not match ours), the BMC does not know the user
//     (RMCP+ status 0x0d), refuses its role, or answers a command with
//     completion code 0xd4 (insufficient privilege). Never retried.
//   - bmc.ErrUnsupported: completion code 0xc1 (invalid command), a boot
//     or SOL parameter the BMC does not implement (0x80), a cipher suite
//     the BMC does not offer (also assumed when the BMC refuses Open
//     Session with an answer too short for go-ipmi to decode, as OpenIPMI
//     does).
//   - bmc.ErrBootNotApplied: the boot flags read back differ from those
//     written.
//   - bmc.ErrInvalidPowerAction, bmc.ErrInvalidArgument, bmc.ErrNotOpen.
//   - Transient (bmc.IsTransient): no answer before the timeout (after the
//     request was sent three times, Options.Timeout apart), refused datagrams,
//     completion codes meaning busy (0xc0 node busy, 0xc3 timeout, 0xce,
//     0xcf, 0xd1, 0xd2, 0xd0) and RMCP+ "no session slot" (0x01). Calls
//     retry them with bmc.Retry and Options.Retry; a soft shutdown, power
//     cycle or hard reset whose request may have reached the BMC is never
//     repeated.
//
// Other completion codes come back as errors naming the code and the
// command.
//
// # Concurrency
//
// A Driver is safe for concurrent use. An IPMI session is a sequence of
// numbered requests, so calls are serialised: one runs at a time, and a
// call waiting for its turn gives up when its ctx is done. While a session
// is open, go-ipmi sends Get Session Info every 30 seconds from a
// goroutine of its own so that the BMC does not expire an idle session;
// Close stops it.
package ipmibmc

// Command bmcctl is an example command-line tool over the bmc packages: it
// reads and changes the power of servers, sets a one-time boot device and
// checks remote consoles, on one host or a whole list of them at once
// (bmc.FanOut), through Redfish (bmc/redfishbmc), IPMI (bmc/ipmibmc), or
// both (a bmc.Client that tries Redfish first, then IPMI, and says which
// one answered).
//
// Usage:
//
//	bmcctl [flags] <command> [args]
//
// Commands:
//
//	power status                       read the power state
//	power on|off|soft-off|cycle|reset  change the power
//	boot pxe|disk|cd [--legacy]        boot once from a device (UEFI unless --legacy)
//	console check                      check the remote console is usable
//
// Try it without hardware: -serve-fake starts simulated BMCs (bmc/fakebmc)
// served as one Redfish endpoint over TLS, prints its URL, the CA
// certificate file to trust and a hosts file, and serves until interrupted:
//
//	go run ./examples/bmcctl -serve-fake 40 -fake-latency 20ms
//
// Then, in another terminal (with what it printed):
//
//	export BMC_PASSWORD=password
//	go run ./examples/bmcctl -redfish https://127.0.0.1:41234 -ca /tmp/bmcctl-fake-1/ca.pem \
//	    -user admin -host host0001 power status
//	go run ./examples/bmcctl -redfish https://127.0.0.1:41234 -ca /tmp/bmcctl-fake-1/ca.pem \
//	    -user admin -hosts /tmp/bmcctl-fake-1/hosts.txt -concurrency 32 -o json power cycle
//
// On real fleets, a Redfish endpoint per host is built from a template, and
// IPMI can back Redfish up:
//
//	bmcctl -redfish-template 'https://{host}-bmc.example.com' -ipmi-template '{host}-bmc:623' \
//	    -user root -password-file ~/.bmcpass -ca bmc-ca.pem -hosts rack12.txt boot pxe
//	bmcctl -credentials creds.json -redfish-template 'https://{host}-bmc.example.com' \
//	    -hosts all.txt console check
//
// The password never goes on the command line, where ps would show it: it
// comes from the environment variable BMC_PASSWORD, a -password-file, or a
// -credentials file (JSON: a default, per-host and per-rack credentials,
// and each host's rack; see bmc.StaticCredentials):
//
//	{
//	  "default": {"user": "admin", "password": "…"},
//	  "hosts":   {"db01": {"user": "root", "password": "…"}},
//	  "racks":   {"r12": {"user": "admin", "password": "…"}},
//	  "rack_of": {"web01": "r12", "web02": "r12"}
//	}
//
// Results print as an aligned table (host, result, driver, duration,
// error) or, with -o json, as one JSON document. On a terminal, a
// fan-out shows a progress bar on stderr (done, failed, rate, ETA).
//
// Exit status: 0 when every host succeeded, 1 when some host failed, 2 on
// a usage error.
package main

// Command sysops-populate publishes one host's objects to the inventory
// cache (package inventory), as sysops-api's module_populate_mps_cache
// did: the files linked from a directory of symlinks and the command
// outputs of a JSON file (name → output), with their MD5 digests, file
// metadata, line/word/character counts and collection time, written to
// every server of the host's replica group in parallel.
//
// Usage:
//
//	sysops-populate [--host NAME] [--dir DIR] [--commands FILE]
//	    (--topology FILE | --servers ADDR,ADDR…) [--ttl 6h] [--min-replicas N]
//
// The group is the one of --host (default: the machine's hostname) in the
// topology file, or the servers of --servers. Unchanged objects only have
// their expiry renewed; objects no longer present are removed. It prints
// one line per server (latency, records written, renewed and removed,
// bytes) and exits 1 when fewer than --min-replicas servers took the
// publish, naming those that missed it.
//
// Example:
//
//	sysops-populate --host web1.dc1 --dir /var/cfengine/outgoing \
//	    --commands /etc/hardware_identification.json --servers 127.0.0.1:6379,127.0.0.1:6380
//
// Exit status: 0 success, 1 the publish failed, 2 usage error.
package main

// Command sysops-extract asks a question of the whole fleet through the
// inventory cache (package inventory), in the spirit of sysops-api's
// extract_sysops_cache.py: which objects exist, what they hold, and
// whether every host has the same value.
//
// Usage:
//
//	sysops-extract --search NAME [--scope local|site|global] [--site SITE] [--hosts GLOB]
//	    [--contents | --md5sum | --stat | --wordcount | --time | --list-files]
//	    [--grep TEXT] [--regexp RE] [--count | --differ] [--prefix-hostnames] [--json]
//	    (--topology FILE | --servers ADDR,ADDR…) [--legacy]
//
// --search takes a glob over object names (file paths or command names);
// without a wildcard it matches names containing it, as sysops-api's
// search did. --grep keeps the lines holding TEXT (--regexp: matching an
// RE2 expression); --count aggregates identical lines across hosts like
// `sort | uniq -c`, most common first; --differ tells whether every host
// has the same value (the matched lines, or the MD5 digest without a
// filter) and lists those that differ.
//
// The servers come from a topology file (JSON or YAML, see
// inventory.Topology), resolved by --scope: local (the group of --host,
// default this machine's name), site (--site, default the local group's)
// or global; or --servers gives one replica group directly. --legacy reads
// a sysops-api cache (Redis database 1) instead of fleetkit's format.
//
// A progress line is drawn on stderr when stderr is a terminal
// (--progress=auto). Problems (failovers, undecodable records, groups with
// no live server under --allow-gaps) are listed on stderr after the
// results.
//
// Examples:
//
//	sysops-extract --servers 127.0.0.1:6379 --search sysctl-a --grep net.core.netdev_budget --count
//	sysops-extract --topology fleet.yaml --scope site --site dc1 --search /etc/resolv.conf --differ
//	sysops-extract --servers 127.0.0.1:6379 --search 'uname*' --hosts 'web1*' --contents --prefix-hostnames
//
// Exit status: 0 success, 1 the extraction failed, 2 usage error.
package main

package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/inventory"
)

// The reference data set: every host has sysctl -a (about 1,300 lines),
// uname -a, an 800-line package list and /etc/sysctl.conf. Most lines are
// the same on every host, as on a real fleet; a few differ per host
// (hostname, boot ID, counters), so no two outputs are identical.

// sysctlKeys are the keys of the generated sysctl -a, with a value that is
// the same fleet-wide; per-host values are added by sysctlOutput.
var sysctlKeys = buildSysctlKeys()

func buildSysctlKeys() []string {
	var keys []string
	add := func(format string, args ...any) { keys = append(keys, fmt.Sprintf(format, args...)) }
	ifaces := []string{"all", "default", "lo", "eth0", "eth1", "eth2", "eth3", "bond0", "docker0", "virbr0"}
	v4 := []string{"accept_local", "accept_redirects", "accept_source_route", "arp_accept", "arp_announce", "arp_filter", "arp_ignore", "arp_notify", "bc_forwarding", "bootp_relay", "disable_policy", "disable_xfrm", "drop_gratuitous_arp", "drop_unicast_in_l2_multicast", "forwarding", "igmpv2_unsolicited_report_interval", "igmpv3_unsolicited_report_interval", "ignore_routes_with_linkdown", "log_martians", "mc_forwarding", "medium_id", "promote_secondaries", "proxy_arp", "proxy_arp_pvlan", "route_localnet", "rp_filter", "secure_redirects", "send_redirects", "shared_media", "src_valid_mark", "tag"}
	v6 := []string{"accept_dad", "accept_ra", "accept_ra_defrtr", "accept_ra_from_local", "accept_ra_min_hop_limit", "accept_ra_mtu", "accept_ra_pinfo", "accept_ra_rt_info_max_plen", "accept_ra_rt_info_min_plen", "accept_ra_rtr_pref", "accept_redirects", "accept_source_route", "addr_gen_mode", "autoconf", "dad_transmits", "disable_ipv6", "disable_policy", "drop_unicast_in_l2_multicast", "drop_unsolicited_na", "enhanced_dad", "force_mld_version", "force_tllao", "forwarding", "hop_limit", "ignore_routes_with_linkdown", "keep_addr_on_down", "max_addresses", "max_desync_factor", "mc_forwarding", "mldv1_unsolicited_report_interval", "mldv2_unsolicited_report_interval", "mtu", "ndisc_notify", "ndisc_tclass", "proxy_ndp", "regen_max_retry", "router_probe_interval", "router_solicitation_delay", "router_solicitation_interval", "router_solicitation_max_interval", "router_solicitations", "seg6_enabled", "seg6_require_hmac", "suppress_frag_ndisc", "temp_prefered_lft", "temp_valid_lft", "use_oif_addrs_only", "use_tempaddr"}
	neigh := []string{"anycast_delay", "app_solicit", "base_reachable_time_ms", "delay_first_probe_time", "gc_stale_time", "locktime", "mcast_resolicit", "mcast_solicit", "proxy_delay", "proxy_qlen", "retrans_time_ms", "ucast_solicit", "unres_qlen", "unres_qlen_bytes"}
	for _, i := range ifaces {
		for _, p := range v4 {
			add("net.ipv4.conf.%s.%s = %d", i, p, len(p)%3)
		}
		for _, p := range v6 {
			add("net.ipv6.conf.%s.%s = %d", i, p, len(p)%4)
		}
		for _, p := range neigh {
			add("net.ipv4.neigh.%s.%s = %d", i, p, 100*len(p))
			add("net.ipv6.neigh.%s.%s = %d", i, p, 100*len(p))
		}
	}
	for i := range 82 {
		add("kernel.sched_domain.cpu%d.domain0.max_newidle_lb_cost = %d", i/4, 1000+i)
	}
	for _, k := range []string{"core.bpf_jit_enable = 1", "core.busy_poll = 0", "core.default_qdisc = fq_codel", "core.dev_weight = 64", "core.message_burst = 10", "core.netdev_budget_usecs = 8000", "core.netdev_max_backlog = 1000", "core.optmem_max = 20480", "core.rmem_default = 212992", "core.rmem_max = 212992", "core.somaxconn = 4096", "core.wmem_default = 212992", "core.wmem_max = 212992", "ipv4.tcp_congestion_control = cubic", "ipv4.tcp_fin_timeout = 60", "ipv4.tcp_keepalive_time = 7200", "ipv4.tcp_max_syn_backlog = 1024", "ipv4.tcp_rmem = 4096\t131072\t6291456", "ipv4.tcp_wmem = 4096\t16384\t4194304", "ipv4.ip_local_port_range = 32768\t60999"} {
		add("net.%s", k)
	}
	for i := range 60 {
		add("vm.param_%02d = %d", i, i*7)
		add("fs.param_%02d = %d", i, i*11)
	}
	for len(keys) < 1290 {
		add("kernel.param_%03d = %d", len(keys), len(keys)%97)
	}
	return keys
}

// budget is the value of net.core.netdev_budget of host i: 300 but on one
// host in a thousand, 600.
func budget(i int) int {
	if i%1000 == 999 {
		return 600
	}
	return 300
}

func hostName(i int) string { return fmt.Sprintf("host%05d.dc%d.example.com", i, i%4+1) }

// sysctlOutput is host i's sysctl -a.
func sysctlOutput(i int, r *rand.Rand, b *strings.Builder) {
	fmt.Fprintf(b, "fs.dentry-state = %d\t%d\t45\t0\t%d\t0\n", 100000+r.IntN(900000), 50000+r.IntN(400000), r.IntN(5000))
	fmt.Fprintf(b, "fs.file-nr = %d\t0\t9223372036854775807\n", 1000+r.IntN(30000))
	fmt.Fprintf(b, "fs.inode-nr = %d\t%d\n", 50000+r.IntN(500000), r.IntN(10000))
	fmt.Fprintf(b, "kernel.hostname = %s\n", hostName(i))
	fmt.Fprintf(b, "kernel.ns_last_pid = %d\n", 1000+r.IntN(4000000))
	fmt.Fprintf(b, "kernel.random.boot_id = %08x-%04x-%04x-%04x-%012x\n", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
	fmt.Fprintf(b, "kernel.random.entropy_avail = %d\n", 256+r.IntN(3840))
	fmt.Fprintf(b, "net.core.netdev_budget = %d\n", budget(i))
	for _, k := range sysctlKeys {
		b.WriteString(k)
		b.WriteByte('\n')
	}
}

var packageNames = func() []string {
	var out []string
	stems := []string{"lib", "python3-", "perl-", "golang-", "ruby-", "node-", "fonts-", "x11-", "gir1.2-", "linux-"}
	words := []string{"ssl", "curl", "xml", "yaml", "zstd", "lz4", "bz2", "gnutls", "krb5", "ldap", "pam", "systemd", "udev", "dbus", "glib", "gtk", "pango", "cairo", "jpeg", "png", "tiff", "webp", "sqlite", "pq", "mysql", "redis", "lua", "tcl", "readline", "ncurses", "acl", "attr", "cap", "seccomp", "selinux", "audit", "nss", "nspr", "idn", "psl", "ffi", "gmp", "mpfr", "isl", "zlib", "expat", "json", "uuid", "blkid", "mount", "fdisk", "smartcols", "parted", "lvm", "crypt", "gcrypt", "gpg", "assuan", "ksba", "npth", "sasl", "ssh", "tls", "nghttp2", "brotli", "rtmp", "unistring", "tasn1", "p11", "hogweed", "nettle", "elf", "dw", "unwind", "numa", "pci", "usb", "hwloc", "ibverbs", "rdma"}
	for _, s := range stems {
		for _, w := range words {
			out = append(out, s+w)
			if len(out) == 800 {
				return out
			}
		}
	}
	return out
}()

// packageLines holds each package's line at the fleet's version ([0]) and
// one minor version ahead ([1]).
var packageLines = func() [][2]string {
	out := make([][2]string, len(packageNames))
	for j, p := range packageNames {
		for k := range 2 {
			out[j][k] = fmt.Sprintf("%s-%d.%d.%d-%d.el9.x86_64\n", p, 1+j%5, j%17+k, j%9, 1+j%3)
		}
	}
	return out
}()

// packages is host i's package list (rpm -qa style): a host is a little
// ahead on about one package in 200.
func packages(r *rand.Rand, b *strings.Builder) {
	for _, l := range packageLines {
		k := 0
		if r.IntN(200) == 0 {
			k = 1
		}
		b.WriteString(l[k])
	}
}

const sysctlConf = `# Kernel tunables managed by configuration management.
kernel.panic = 10
kernel.panic_on_oops = 1
kernel.pid_max = 4194304
kernel.sysrq = 0
net.core.netdev_max_backlog = 1000
net.core.somaxconn = 4096
net.ipv4.conf.all.rp_filter = 1
net.ipv4.conf.default.rp_filter = 1
net.ipv4.ip_local_port_range = 32768 60999
net.ipv4.tcp_fin_timeout = 60
net.ipv4.tcp_keepalive_time = 7200
net.ipv4.tcp_max_syn_backlog = 1024
net.ipv4.tcp_syncookies = 1
vm.max_map_count = 262144
vm.overcommit_memory = 0
vm.swappiness = 10
fs.file-max = 9223372036854775807
fs.inotify.max_user_watches = 524288
`

// hostObjects returns host i's four objects, collected at t.
func hostObjects(i int, t time.Time) []inventory.Object {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	var b strings.Builder
	b.Grow(64 << 10)
	sysctlOutput(i, r, &b)
	sys := b.String()
	var p strings.Builder
	p.Grow(32 << 10)
	packages(r, &p)
	uname := fmt.Sprintf("Linux %s 5.14.0-%d.el9.x86_64 #1 SMP PREEMPT_DYNAMIC Tue Jan 9 12:00:00 UTC 2026 x86_64 x86_64 x86_64 GNU/Linux\n", hostName(i), 360+i%8)
	conf := &inventory.FileStat{Mode: 0o644, Size: int64(len(sysctlConf)), ModTime: time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC)}
	return []inventory.Object{
		inventory.NewObject("/etc/sysctl.conf", inventory.KindFile, []byte(sysctlConf), conf, t),
		inventory.NewObject("rpm-qa", inventory.KindCommand, []byte(p.String()), nil, t),
		inventory.NewObject("sysctl-a", inventory.KindCommand, []byte(sys), nil, t),
		inventory.NewObject("uname-a", inventory.KindCommand, []byte(uname), nil, t),
	}
}

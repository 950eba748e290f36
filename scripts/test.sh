#!/usr/bin/env bash
# scripts/test.sh: run the whole fleetkit test suite against real services.
#
# Starts a throwaway PostgreSQL server, four redis-server instances and an IPMI
# BMC simulator (OpenIPMI's ipmi_sim, configured from scripts/ipmisim/) on free
# loopback ports in a temporary directory, exports their addresses for
# internal/testenv, runs `go vet` and `go test -race -count=1`, then stops
# everything and removes the directory (also on failure and on ctrl-C).
#
# Usage:
#   scripts/test.sh                          # go vet ./... && go test -race -count=1 ./...
#   scripts/test.sh -run Foo ./lifecycle/... # arguments replace ./... for go test;
#                                            # package patterns among them are also what is vetted
#   scripts/test.sh -run Foo                 # no package pattern given: ./... is appended
#
# Environment:
#   CI=true                  a missing service fails the tests instead of skipping them
#   FLEETKIT_TEST_RACE=0     run go test without -race (used by `make bench`)
#
# On a fresh Debian machine, run as root, it installs what is missing
# (postgresql, redis-server, openipmi and ipmitool, rpm and createrepo-c for
# the real yum repository fixtures, bzip2 for the legacy inventory records,
# and gcc for -race) with apt-get.
set -euo pipefail

log() { printf '==> %s\n' "$*"; }
warn() { printf '\n*** WARNING: %s ***\n\n' "$*" >&2; }
die() {
	printf '*** ERROR: %s ***\n' "$*" >&2
	exit 1
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."

IS_ROOT=false
[[ $(id -u) -eq 0 ]] && IS_ROOT=true

RACE=true
[[ ${FLEETKIT_TEST_RACE:-1} == 0 || ${FLEETKIT_TEST_RACE:-1} == false ]] && RACE=false

# ---------------------------------------------------------------- cleanup ---

TMP=""
PG_DATA=""
PG_CTL=""
PG_USER="" # user the PostgreSQL server runs as when we are root
REDIS_PIDS=()
IPMI_PID=""
CHILD_PID=""
POLICY_RC_CREATED=false

as_pg() {
	# Runs a PostgreSQL command, as the unprivileged PG_USER when we are root
	# (initdb and postgres refuse to run as root). The subshell cds to the
	# temp dir so that the command's cwd is readable by that user.
	if [[ -n $PG_USER ]] && have runuser; then
		(cd "$TMP" && runuser -u "$PG_USER" -- "$@")
	elif [[ -n $PG_USER ]]; then
		(cd "$TMP" && su -s /bin/sh "$PG_USER" -c "$(printf '%q ' "$@")")
	else
		"$@"
	fi
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	set +e
	trap '' INT TERM
	if [[ -n $CHILD_PID ]] && kill -0 "$CHILD_PID" 2>/dev/null; then
		kill -TERM -- "-$CHILD_PID" 2>/dev/null || kill -TERM "$CHILD_PID" 2>/dev/null
		wait "$CHILD_PID" 2>/dev/null
	fi
	if [[ $POLICY_RC_CREATED == true ]]; then
		rm -f /usr/sbin/policy-rc.d
	fi
	if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
		as_pg "$PG_CTL" -D "$PG_DATA" stop -m fast -w -t 30 >/dev/null 2>&1 ||
			as_pg "$PG_CTL" -D "$PG_DATA" stop -m immediate -w -t 10 >/dev/null 2>&1
	fi
	local pid
	for pid in "${REDIS_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${REDIS_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [[ -n $IPMI_PID ]]; then
		kill -TERM "$IPMI_PID" 2>/dev/null
		wait "$IPMI_PID" 2>/dev/null
	fi
	if [[ -n $TMP && -d $TMP ]]; then
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------ arguments & tools ---

TEST_ARGS=("$@")
PKGS=()
for a in "$@"; do
	case $a in
	. | ./* | ../* | github.com/fleetkit/*) PKGS+=("$a") ;;
	esac
done
if [[ ${#PKGS[@]} -eq 0 ]]; then
	PKGS=(./...)
	TEST_ARGS+=(./...)
fi

# have CMD: CMD is an executable in PATH (bash's `command -v` alone also
# reports non-executable files).
have() {
	local p
	p=$(command -v "$1" 2>/dev/null) && [[ -x $p ]]
}

GO=""
have go && GO=$(command -v go)
if [[ -z $GO && -x /usr/local/go/bin/go ]]; then
	GO=/usr/local/go/bin/go
fi
[[ -n $GO ]] || die "go not found in PATH nor at /usr/local/go/bin/go"

find_pg_bin() {
	# Prints the directory holding initdb, pg_ctl and postgres: PATH first,
	# else the newest /usr/lib/postgresql/*/bin.
	local d
	if have initdb && have pg_ctl && have postgres; then
		dirname "$(command -v pg_ctl)"
		return 0
	fi
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5Vr); do
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

have_cc() {
	local cc
	cc=$("$GO" env CC 2>/dev/null || true)
	[[ -n $cc ]] && have "${cc%% *}"
}

MISSING_PKGS=()
find_pg_bin >/dev/null || MISSING_PKGS+=(postgresql)
have redis-server || MISSING_PKGS+=(redis-server)
have ipmi_sim || MISSING_PKGS+=(openipmi)
have ipmitool || MISSING_PKGS+=(ipmitool)
# rpm (rpm, rpmbuild) and createrepo_c build the real rpms and repository
# metadata that the snapshot tests read; they start no service.
if ! have rpm || ! have rpmbuild; then
	MISSING_PKGS+=(rpm)
fi
have createrepo_c || MISSING_PKGS+=(createrepo-c)
# bzip2 writes the legacy (sysops-api) inventory records the tests read.
have bzip2 || MISSING_PKGS+=(bzip2)
if [[ $RACE == true ]] && ! have_cc; then
	MISSING_PKGS+=(gcc libc6-dev) # go test -race needs cgo
fi

if [[ ${#MISSING_PKGS[@]} -gt 0 ]]; then
	if [[ $IS_ROOT == true ]] && have apt-get; then
		log "installing missing packages: ${MISSING_PKGS[*]}"
		# Do not let the packages start their own system-wide services
		# (postgresql on 5432, redis on 6379, ipmitool's ipmievd): we run
		# private instances.
		if [[ ! -e /usr/sbin/policy-rc.d ]]; then
			POLICY_RC_CREATED=true
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod 755 /usr/sbin/policy-rc.d
		fi
		export DEBIAN_FRONTEND=noninteractive
		apt-get -o DPkg::Lock::Timeout=600 update -q
		apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${MISSING_PKGS[@]}"
		if [[ $POLICY_RC_CREATED == true ]]; then
			rm -f /usr/sbin/policy-rc.d
			POLICY_RC_CREATED=false
		fi
	else
		warn "missing: ${MISSING_PKGS[*]} (not root or no apt-get, so not installing them);
*** tests needing them will be SKIPPED (or FAIL under CI=true). Install them with:
***   sudo apt-get install --no-install-recommends ${MISSING_PKGS[*]}"
	fi
fi

if [[ $RACE == true ]] && ! have_cc; then
	warn "no C compiler (go env CC), so go test runs WITHOUT -race"
	RACE=false
fi

# ------------------------------------------------------------- free ports ---

USED_PORTS=" "
FREE_PORT=""
port_in_use() {
	# port_in_use PORT [udp]: a TCP (or UDP) socket is bound to PORT. Without
	# ss, UDP ports cannot be checked: the server's bind tells (and is retried).
	if have ss; then
		local flags=-Htan
		[[ ${2:-tcp} == udp ]] && flags=-Huan
		[[ -n $(ss "$flags" "sport = :$1" 2>/dev/null) ]]
	elif [[ ${2:-tcp} == udp ]]; then
		return 1
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}
free_port() {
	# free_port [udp]: sets FREE_PORT to a free TCP (or UDP) port below the usual
	# ephemeral range (32768-60999), so that outgoing connections are unlikely to
	# grab it before the server binds.
	local p i proto=${1:-tcp}
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12000))
		[[ $USED_PORTS == *" $p "* ]] && continue
		if ! port_in_use "$p" "$proto"; then
			USED_PORTS+="$p "
			FREE_PORT=$p
			return 0
		fi
	done
	die "no free ${proto^^} port found on 127.0.0.1"
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleetkit-test.XXXXXX")
chmod 755 "$TMP" # the PostgreSQL user must be able to reach its data dir
SERVICES=()

# ------------------------------------------------------------- PostgreSQL ---

start_postgres() {
	local bin port try
	bin=$(find_pg_bin) || return 0 # reported above and in the list of services
	PG_CTL=$bin/pg_ctl
	mkdir -p "$TMP/pg/sock"
	if [[ $IS_ROOT == true ]]; then
		PG_USER=postgres
		id -u postgres >/dev/null 2>&1 || PG_USER=nobody
		chown -R "$PG_USER" "$TMP/pg"
	fi
	local data=$TMP/pg/data logf=$TMP/pg/postgres.log
	# --no-sync only skips initdb's own final flush of this throwaway
	# cluster; the server itself runs with fsync on.
	if ! as_pg "$bin/initdb" -D "$data" -U fleetkit --auth=trust -E UTF8 --locale=C --no-sync \
		>"$TMP/initdb.log" 2>&1; then
		cat "$TMP/initdb.log" >&2
		die "initdb failed"
	fi
	PG_DATA=$data
	for ((try = 1; try <= 3; try++)); do
		free_port
		port=$FREE_PORT
		cat >>"$data/postgresql.conf" <<-EOF

			# scripts/test.sh (later settings win)
			listen_addresses = '127.0.0.1'
			port = $port
			unix_socket_directories = '$TMP/pg/sock'
			max_connections = 200
			fsync = on
		EOF
		if as_pg "$PG_CTL" -D "$data" -w -t 60 -l "$logf" start >/dev/null; then
			export FLEETKIT_TEST_POSTGRES="postgres://fleetkit@127.0.0.1:$port/postgres?sslmode=disable"
			SERVICES+=("PostgreSQL $("$bin/postgres" --version | awk '{print $3}')  $FLEETKIT_TEST_POSTGRES  (pid $(head -1 "$data/postmaster.pid"), fsync=on)")
			return 0
		fi
		echo "--- PostgreSQL log (attempt $try, port $port) ---" >&2
		tail -n 20 "$logf" >&2 2>/dev/null || true
	done
	die "PostgreSQL did not start"
}

# ------------------------------------------------------------------ Redis ---

redis_ping() {
	local port=$1 reply=""
	if have redis-cli; then
		reply=$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) || return 1
		[[ $reply == PONG ]]
	else
		(
			exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
			printf 'PING\r\n' >&3
			IFS= read -r -t 2 reply <&3 || exit 1
			[[ $reply == +PONG* ]]
		) 2>/dev/null
	fi
}

start_redis() {
	local n=4 i try port pid dir
	local addrs=()
	have redis-server || return 0 # reported above and in the list of services
	for ((i = 1; i <= n; i++)); do
		dir=$TMP/redis$i
		mkdir -p "$dir"
		for ((try = 1; try <= 3; try++)); do
			free_port
			port=$FREE_PORT
			redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
				--daemonize no --dir "$dir" --logfile "$dir/redis.log" </dev/null &
			pid=$!
			local ok=false t
			for ((t = 0; t < 100; t++)); do
				if redis_ping "$port"; then
					ok=true
					break
				fi
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			if [[ $ok == true ]]; then
				REDIS_PIDS+=("$pid")
				addrs+=("127.0.0.1:$port")
				break
			fi
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			echo "--- redis-server log (instance $i, attempt $try, port $port) ---" >&2
			tail -n 10 "$dir/redis.log" >&2 2>/dev/null || true
		done
		[[ $ok == true ]] || die "redis-server instance $i did not start"
	done
	FLEETKIT_TEST_REDIS=$(
		IFS=,
		echo "${addrs[*]}"
	)
	export FLEETKIT_TEST_REDIS
	SERVICES+=("redis-server $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') x$n  $FLEETKIT_TEST_REDIS  (pids ${REDIS_PIDS[*]})")
}

# --------------------------------------------------------------- ipmi_sim ---

# ipmi_ready PORT USER PASSWORD: ipmitool gets an answer to Get Chassis Status
# over RMCP+ with cipher suite 3 (the password goes through the environment,
# not the command line).
ipmi_ready() {
	IPMI_PASSWORD=$3 timeout 10 ipmitool -I lanplus -H 127.0.0.1 -p "$1" -U "$2" -E -C 3 \
		-N 1 -R 1 chassis power status >/dev/null 2>&1
}

start_ipmi_sim() {
	# OpenIPMI's BMC simulator, configured from scripts/ipmisim/: one user
	# with a random password, on loopback, its chassis (power, boot device)
	# kept in files by scripts/ipmisim/chassiscontrol.
	local dir=$TMP/ipmisim src=scripts/ipmisim user=fleetkit pw try port pid ok t
	have ipmi_sim && have ipmitool || return 0 # reported above and in the list of services
	if [[ $dir == *[[:space:]\"\&\|\\]* ]]; then
		warn "the temp dir $TMP has a space, quote, backslash, & or |, which lan.conf (and sed) cannot hold: ipmi_sim NOT started"
		return 0
	fi
	mkdir -p "$dir"
	cp "$src/chassiscontrol" "$dir/chassiscontrol"
	chmod 755 "$dir/chassiscontrol"
	pw=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
	for ((try = 1; try <= 3; try++)); do
		free_port udp
		port=$FREE_PORT
		rm -rf "$dir/state" "$dir/chassis"
		mkdir -p "$dir/state" "$dir/chassis"
		sed -e "s|@PORT@|$port|" -e "s|@CHASSISCONTROL@|$dir/chassiscontrol|" \
			-e "s|@CHASSISDIR@|$dir/chassis|" -e "s|@USER@|$user|" -e "s|@PASSWORD@|$pw|" \
			"$src/lan.conf" >"$dir/lan.conf"
		cp "$src/sim.emu" "$dir/sim.emu"
		(cd "$dir" && exec ipmi_sim -c lan.conf -f sim.emu -s state -n) </dev/null >"$dir/ipmi_sim.log" 2>&1 &
		pid=$!
		ok=false
		for ((t = 0; t < 50; t++)); do
			kill -0 "$pid" 2>/dev/null || break
			if ipmi_ready "$port" "$user" "$pw"; then
				ok=true
				break
			fi
			sleep 0.2
		done
		if [[ $ok == true ]]; then
			IPMI_PID=$pid
			export FLEETKIT_TEST_IPMI="$user:$pw@127.0.0.1:$port"
			local ver
			ver=$(ipmi_sim -v 2>&1 | sed -n 's/^IPMI Simulator version //p') || true # -v exits 1
			SERVICES+=("ipmi_sim ${ver:-?}  $user@127.0.0.1:$port/udp (RMCP+, cipher suite 3; pid $pid)")
			return 0
		fi
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		echo "--- ipmi_sim log (attempt $try, port $port) ---" >&2
		tail -n 10 "$dir/ipmi_sim.log" >&2 2>/dev/null || true
	done
	die "ipmi_sim did not start"
}

unset FLEETKIT_TEST_POSTGRES FLEETKIT_TEST_REDIS FLEETKIT_TEST_IPMI
start_postgres
start_redis
start_ipmi_sim

log "services (temp dir $TMP):"
if [[ ${#SERVICES[@]} -eq 0 ]]; then
	echo "    (none)"
fi
for s in "${SERVICES[@]}"; do
	echo "    $s"
done
[[ -n ${FLEETKIT_TEST_POSTGRES:-} ]] || echo "    PostgreSQL: NOT started (FLEETKIT_TEST_POSTGRES unset: its tests will skip, or fail under CI=true)"
[[ -n ${FLEETKIT_TEST_REDIS:-} ]] || echo "    redis-server: NOT started (FLEETKIT_TEST_REDIS unset: its tests will skip, or fail under CI=true)"
[[ -n ${FLEETKIT_TEST_IPMI:-} ]] || echo "    ipmi_sim: NOT started (FLEETKIT_TEST_IPMI unset: its tests will skip, or fail under CI=true)"
if have rpm && have rpmbuild && have createrepo_c; then
	echo "    tools: $(rpm --version), $(createrepo_c --version | head -1 | awk '{print "createrepo_c " $2}')"
else
	echo "    rpm/rpmbuild/createrepo_c: NOT all found (the real yum repository fixture tests will skip, or fail under CI=true)"
fi
echo "    CI=${CI:-}  race=$RACE  $("$GO" version)"

# ------------------------------------------------------------------ tests ---

run() {
	# Runs a command in the background, in a process group of its own, and
	# waits for it, so that INT/TERM reach the traps at once; cleanup then
	# stops the whole group (go and the test binaries it runs).
	if have setsid; then
		setsid "$@" &
	else
		"$@" &
	fi
	CHILD_PID=$!
	local rc=0
	wait "$CHILD_PID" || rc=$?
	CHILD_PID=""
	return "$rc"
}

START=$SECONDS
VET=ok TEST=ok
log "$(basename "$GO") vet ${PKGS[*]}"
run "$GO" vet "${PKGS[@]}" || VET=FAIL

GOTEST=("$GO" test -count=1)
[[ $RACE == true ]] && GOTEST+=(-race)
log "$(basename "$GO") test ${GOTEST[*]:2} ${TEST_ARGS[*]}"
run "${GOTEST[@]}" "${TEST_ARGS[@]}" || TEST=FAIL

ELAPSED=$((SECONDS - START))
PG_STATE=up REDIS_STATE=up IPMI_STATE=up
[[ -n ${FLEETKIT_TEST_POSTGRES:-} ]] || PG_STATE=MISSING
[[ -n ${FLEETKIT_TEST_REDIS:-} ]] || REDIS_STATE=MISSING
[[ -n ${FLEETKIT_TEST_IPMI:-} ]] || IPMI_STATE=MISSING
SUMMARY="${ELAPSED}s; postgres $PG_STATE, redis $REDIS_STATE, ipmi_sim $IPMI_STATE, race=$RACE, CI=${CI:-unset}"
if [[ $PG_STATE == MISSING || $REDIS_STATE == MISSING || $IPMI_STATE == MISSING ]]; then
	SUMMARY+="; tests needing the MISSING services were SKIPPED"
fi
if [[ $VET == ok && $TEST == ok ]]; then
	log "PASS: go vet ok, go test ok ($SUMMARY)"
	exit 0
fi
log "FAIL: go vet $VET, go test $TEST ($SUMMARY)"
exit 1

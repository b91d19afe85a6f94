# tests/bench/common.sh - what the bench's scripts share, sourced by each:
#
#   . "$(dirname "$0")/common.sh"
#   bench_init NAME
#
# bench_init sets ROOT (and changes to it), BUILD (build/bench, the tree
# tests/bench/run.sh builds), LOADGEN, BROKERD (unless already set) and T, a
# fresh directory that goes on exit, and arms the traps: every process id
# added to PIDS is ended on the way out, however the script ends.

bench_init() {
	BENCH_NAME=$1
	ROOT=$(cd "$(dirname "$0")/../.." && pwd)
	cd "$ROOT" || exit 1
	BUILD=build/bench
	LOADGEN=$ROOT/$BUILD/loadgen
	BROKERD=${BROKERD:-$ROOT/$BUILD/brokerd}
	T=$(mktemp -d "${TMPDIR:-/tmp}/broker$1.XXXXXX") || exit 1
	# the daemons' sockets and files are read by processes of other uids
	# (pamtester as nobody, PostgreSQL) in some rows
	chmod 0755 "$T"
	PIDS=
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM HUP
}

# TERM first, so that daemons flush their logs; KILL what is left after 3 s.
bench_cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	i=0
	while [ $i -lt 30 ]; do
		alive=
		for p in $PIDS; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ -z "$alive" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}

note() { echo "$BENCH_NAME: $*" >&2; }
fatal() { note "$*"; exit 1; }
forget() { PIDS=$(echo " $PIDS " | sed "s/ $1 / /g"); }
# kv KEY FILE: the value of KEY=value in the first line of FILE that has it.
kv() { sed -n "s/.*\(^\| \)$1=\([^ ]*\).*/\2/p" "$2" | head -1; }

# bench_needs FILE...: fail unless run.sh has built them into $BUILD.
bench_needs() {
	for f in "$@"; do
		[ -e "$BUILD/$f" ] ||
		    fatal "$BUILD/$f is missing: run tests/bench/run.sh first"
	done
}

# bench_policy: $T/policy.json, the example policy with the per-user request
# rate and pending limits lifted, since the loads file as one user.
bench_policy() {
	sed -e 's/"requests_per_minute": 60/"requests_per_minute": 10000000/' \
	    -e 's/"pending_per_user": 20/"pending_per_user": 100000/' \
	    policy/examples/dev.json >"$T/policy.json"
	grep -q '"requests_per_minute": 10000000' "$T/policy.json" ||
		fatal "could not lift the request rate in the bench policy"
}

# bench_config NAME [GROUP_COMMIT [MAPSIZE]]: a new daemon directory $T/NAME
# with an empty state directory and its brokerd.json (group commit on by
# default, a 4 GiB map).
bench_config() {
	rm -rf "${T:?}/$1"
	mkdir -p "$T/$1"
	mkdir -m 0700 "$T/$1/state"
	cat >"$T/$1/brokerd.json" <<EOF
{ "state_dir": "$T/$1/state", "socket": "$T/$1/broker.sock",
  "policy": "$T/policy.json", "group_commit": ${2:-true},
  "mapsize": ${3:-4294967296}, "max_connections": 1024,
  "local_groups": { "dev": ["alice", "bob"] } }
EOF
}

# bench_start NAME [PRELOAD [ENV...]]: start $BROKERD on $T/NAME's config
# and wait until it answers; sets PID, LISTEN_MS and READY_MS.  The daemon
# runs with synccount.so preloaded (and PRELOAD after it): $T/NAME/syncs
# counts the syncs and page writes it makes.  ENV: more VAR=value.
bench_start() {
	_n=$1
	_pre=${2:-}
	if [ $# -ge 2 ]; then shift 2; else shift 1; fi
	if ! $LOADGEN start 120 "$T/$_n/brokerd.log" "$T/$_n/broker.sock" \
	    "$(command -v env)" \
	    LD_PRELOAD="$ROOT/$BUILD/synccount.so${_pre:+ $_pre}" \
	    SYNCCOUNT_FILE="$T/$_n/syncs" "$@" \
	    "$BROKERD" -c "$T/$_n/brokerd.json" >"$T/$_n/start.out"; then
		p=$(kv pid "$T/$_n/start.out")
		[ -n "$p" ] && PIDS="$PIDS $p"
		tail -20 "$T/$_n/brokerd.log" >&2
		fatal "brokerd ($_n) did not start"
	fi
	PID=$(kv pid "$T/$_n/start.out")
	PIDS="$PIDS $PID"
	LISTEN_MS=$(kv listen_ms "$T/$_n/start.out")
	READY_MS=$(kv ready_ms "$T/$_n/start.out")
}

stop() {	# stop PID [SIGNAL]: signal it (TERM), KILL it after 5 s
	kill "-${2:-TERM}" "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	forget "$1"
}

# syncs NAME: syncs daemon NAME has made so far (synccount.c: fdatasync,
# fsync, msync(MS_SYNC), ..., and writes on O_DSYNC descriptors)
syncs() {
	od -A n -t u8 -N 16 "$T/$1/syncs" 2>/dev/null |
	    awk '{ t += $1 + $2 } END { printf "%.0f\n", t }'
}
# pbytes NAME: bytes daemon NAME has written with pwrite/pwritev so far
# (synccount.c: LMDB's pages, so pages per grant = bytes / 4096 / grants)
pbytes() {
	od -A n -t u8 -j 16 -N 8 "$T/$1/syncs" 2>/dev/null |
	    awk '{ t += $1 } END { printf "%.0f\n", t }'
}

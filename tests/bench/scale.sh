#!/bin/sh
# tests/bench/scale.sh - the scale ratio of `make bench` alone, several
# times: issuance on a fresh store against issuance on a seeded big store,
# alternately, in the same run.
#
#   sh tests/bench/scale.sh [ROUNDS]      (3)
#
# Seeds one store of SCALE_N grants (SCALE_ACTIVE active) as run.sh does,
# then for each round: a load of SCALE_SECONDS s on a new fresh store, then
# the same load on the big store (which keeps what earlier rounds added, so
# round 1 is the one that matches `make bench`).  For each load it prints
# the certificates per second, the LMDB pages the daemon wrote per grant
# and per sync (synccount.so counts the bytes of pwrite/pwritev), the
# grants per sync, the CPU per grant of each daemon thread and of the CA
# signer (/proc, clock ticks), and the big store's ratio to the fresh one
# of the same round.  The load average is printed with each round: the
# machine may be shared.
#
# Knobs: SCALE_N (1000000), SCALE_ACTIVE (10000), SCALE_SECONDS (10),
# SCALE_CONNS (64), SCALE_PERF=1 (perf record -g of the big store's daemon
# during round 1; the report goes to $SCALE_OUT/perf.txt), SCALE_OUT (where
# the figures and mdb_stat's view of both stores are kept; a temporary
# directory if unset).  Needs build/bench (tests/bench/run.sh builds it).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=build/bench
ROUNDS=${1:-3}
N=${SCALE_N:-1000000}
ACTIVE=${SCALE_ACTIVE:-10000}
SECS=${SCALE_SECONDS:-10}
CONNS=${SCALE_CONNS:-64}
T=$(mktemp -d "${TMPDIR:-/tmp}/brokerscale.XXXXXX") || exit 1
chmod 0755 "$T"
OUT=${SCALE_OUT:-$T}
mkdir -p "$OUT"
PIDS=
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.5
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
note() { echo "scale: $*" >&2; }
fatal() { note "$*"; exit 1; }
kv() { sed -n "s/.*\(^\| \)$1=\([^ ]*\).*/\2/p" "$2" | head -1; }
forget() { PIDS=$(echo " $PIDS " | sed "s/ $1 / /g"); }
say() { tee -a "$OUT/scale.txt"; }

for f in loadgen seed brokerd synccount.so; do
	[ -e $BUILD/$f ] ||
	    fatal "$BUILD/$f is missing: run tests/bench/run.sh first"
done
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/key" || fatal "ssh-keygen"
sed -e 's/"requests_per_minute": 60/"requests_per_minute": 10000000/' \
    -e 's/"pending_per_user": 20/"pending_per_user": 100000/' \
    policy/examples/dev.json >"$T/policy.json"

config() {
	rm -rf "${T:?}/$1"
	mkdir -p "$T/$1"
	mkdir -m 0700 "$T/$1/state"
	cat >"$T/$1/brokerd.json" <<EOF
{ "state_dir": "$T/$1/state", "socket": "$T/$1/broker.sock",
  "policy": "$T/policy.json", "group_commit": true,
  "mapsize": 17179869184, "max_connections": 1024,
  "local_groups": { "dev": ["alice", "bob"] } }
EOF
}
start() {
	$BUILD/loadgen start 120 "$T/$1/brokerd.log" "$T/$1/broker.sock" \
	    "$(command -v env)" LD_PRELOAD="$ROOT/$BUILD/synccount.so" \
	    SYNCCOUNT_FILE="$T/$1/syncs" "$ROOT/$BUILD/brokerd" \
	    -c "$T/$1/brokerd.json" >"$T/$1/start.out" ||
		fatal "brokerd ($1) did not start"
	PID=$(kv pid "$T/$1/start.out")
	PIDS="$PIDS $PID"
}
stop() {
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	forget "$1"
}
# syncs NAME: syncs daemon NAME has made so far; pbytes NAME: what it has
# written with pwrite/pwritev (LMDB's pages)
syncs() {
	od -A n -t u8 -N 16 "$T/$1/syncs" 2>/dev/null |
	    awk '{ t += $1 + $2 } END { printf "%.0f\n", t }'
}
pbytes() {
	od -A n -t u8 -j 16 -N 8 "$T/$1/syncs" 2>/dev/null |
	    awk '{ t += $1 } END { printf "%.0f\n", t }'
}
# per-thread user+system ticks of the daemon, and its signer's
tticks() {
	for _t in /proc/"$PID"/task/*; do
		echo "${_t##*/} $(awk '{ print $14 + $15 }' "$_t/stat")"
	done
	for _c in $(cat /proc/"$PID"/task/*/children 2>/dev/null); do
		echo "signer $(awk '{ print $14 + $15 }' "/proc/$_c/stat")"
	done
}
# load NAME ROUND: one load on daemon NAME (started); prints its figures
load() {
	tticks >"$T/t0"
	w0=$(pbytes "$1")
	s0=$(syncs "$1")
	PP=
	if [ "${SCALE_PERF:-0}" = 1 ] && [ "$1" = big ] && [ "$2" = 1 ]; then
		perf record -q -g -p "$PID" -o "$OUT/perf.data" \
		    -- sleep "$SECS" 2>/dev/null &
		PP=$!
	fi
	$BUILD/loadgen issue "$T/$1/broker.sock" "$CONNS" "$SECS" alice \
	    "$T/key.pub" >"$T/$1.out" 2>/dev/null
	[ -n "$PP" ] && wait "$PP"
	w1=$(pbytes "$1")
	s1=$(syncs "$1")
	tticks >"$T/t1"
	c=$(kv certs "$T/$1.out")
	r=$(kv certs_per_s "$T/$1.out")
	awk -v c="${c:-0}" -v w="$w0" -v w1="$w1" -v s="$s0" -v s1="$s1" \
	    -v r="${r:-0}" -v n="$1" 'BEGIN { w = w1 - w; s = s1 - s
	    printf "%s: %s certs/s, %.1f pages written per grant, %.0f per sync, %.1f grants per sync\n", n, r, c ? w / 4096 / c : 0, s ? w / 4096 / s : 0, s ? c / s : 0 }'
	echo "${r:-0}" >"$T/$1.rate"
	join "$T/t0" "$T/t1" | awk -v c="${c:-0}" '{ d = $3 - $2; if (d > 0)
	    printf "  %s %.0f us", $1, c ? d * 1e4 / c : 0 }
	    END { print "  CPU per grant by thread" }'
}

note "seeding $N grants ($ACTIVE active)"
config big
$BUILD/seed "$T/big/state" 16384 "$N" "$ACTIVE" 50000 || fatal "seed failed"
: >"$OUT/scale.txt"
round=1
while [ $round -le "$ROUNDS" ]; do
	echo "round $round, load $(cut -d ' ' -f 1-3 /proc/loadavg)" | say
	config fresh
	start fresh
	load fresh $round | say
	stop "$PID"
	start big
	load big $round | say
	stop "$PID"
	awk -v a="$(cat "$T/big.rate")" -v b="$(cat "$T/fresh.rate")" \
	    'BEGIN { printf "ratio big/fresh: %.2f\n", b ? a / b : 0 }' | say
	round=$((round + 1))
done
if [ "${SCALE_PERF:-0}" = 1 ] && [ -s "$OUT/perf.data" ]; then
	perf report -i "$OUT/perf.data" --no-children --stdio 2>/dev/null |
	    head -120 >"$OUT/perf.txt"
fi
du -sh "$T/big/state" "$T/fresh/state" | say
mdb_stat -a -e -f "$T/big/state" >"$OUT/big.stat" 2>&1
mdb_stat -a -e -f "$T/fresh/state" >"$OUT/fresh.stat" 2>&1
exit 0

#!/bin/sh
# tests/bench/profile.sh - where brokerd spends its time under the issuance
# load of `make bench` (64 connections, group commit on).
#
#   sh tests/bench/profile.sh [SECONDS] [OUTDIR]
#
# Needs the tree and tools that tests/bench/run.sh builds (build/bench).
# Uses `perf record` (software cpu-clock event, DWARF call graphs) when perf
# works here, else valgrind --tool=callgrind on a shorter run.  Prints the
# hottest symbols, by library and by function, and leaves perf.data (or
# callgrind.out) in OUTDIR (default: the temporary directory, removed).
set -u
. "$(dirname "$0")/common.sh"
bench_init prof
SECS=${1:-8}
OUT=${2:-$T}
[ -x $BUILD/brokerd ] && [ -x $BUILD/loadgen ] ||
	{ echo "profile: run tests/bench/run.sh first" >&2; exit 1; }
mkdir -p "$OUT"
mkdir -m 0700 "$T/state"
bench_policy
cat >"$T/brokerd.json" <<EOF
{ "state_dir": "$T/state", "socket": "$T/broker.sock",
  "policy": "$T/policy.json", "group_commit": true,
  "local_groups": { "dev": ["alice", "bob"] } }
EOF
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/key" || exit 1

if perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
	$BUILD/loadgen start 30 "$T/brokerd.log" "$T/broker.sock" \
	    "$ROOT/$BUILD/brokerd" -c "$T/brokerd.json" >"$T/start.out" || exit 1
	PID=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$T/start.out")
	PIDS="$PIDS $PID"
	$BUILD/loadgen issue "$T/broker.sock" 64 $((SECS + 2)) alice \
	    "$T/key.pub" >"$T/load.out" &
	PIDS="$PIDS $!"
	sleep 1
	perf record -q -e cpu-clock -F 999 --call-graph dwarf,16384 \
	    -p "$PID" -o "$OUT/perf.data" -- sleep "$SECS" 2>/dev/null
	wait
	echo "load: $(cat "$T/load.out")"
	echo "== by library =="
	perf report -i "$OUT/perf.data" --no-children --sort dso 2>/dev/null |
	    grep -v '^#' | grep '%' | head -12
	echo "== by function (self) =="
	perf report -i "$OUT/perf.data" --no-children --sort dso,sym -g none \
	    2>/dev/null | grep -v '^#' | grep '%' | head -40
	echo "== by function (with callees) =="
	perf report -i "$OUT/perf.data" --children --sort sym -g none \
	    2>/dev/null | grep -v '^#' | grep '%' | head -40
else
	$BUILD/loadgen start 120 "$T/brokerd.log" "$T/broker.sock" \
	    "$(command -v valgrind)" --tool=callgrind \
	    --callgrind-out-file="$OUT/callgrind.out" \
	    "$ROOT/$BUILD/brokerd" -c "$T/brokerd.json" >"$T/start.out" || exit 1
	PID=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$T/start.out")
	PIDS="$PIDS $PID"
	$BUILD/loadgen issue "$T/broker.sock" 64 "$SECS" alice "$T/key.pub"
	kill -TERM "$PID"
	sleep 3
	callgrind_annotate --inclusive=no "$OUT/callgrind.out" | head -60
fi

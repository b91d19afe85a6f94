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
. "$(dirname "$0")/common.sh"
bench_init scale
ROUNDS=${1:-3}
N=${SCALE_N:-1000000}
ACTIVE=${SCALE_ACTIVE:-10000}
SECS=${SCALE_SECONDS:-10}
CONNS=${SCALE_CONNS:-64}
OUT=${SCALE_OUT:-$T}
mkdir -p "$OUT"
say() { tee -a "$OUT/scale.txt"; }

bench_needs loadgen seed brokerd synccount.so
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/key" || fatal "ssh-keygen"
bench_policy

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
bench_config big true 17179869184
$BUILD/seed "$T/big/state" 16384 "$N" "$ACTIVE" 50000 || fatal "seed failed"
: >"$OUT/scale.txt"
round=1
while [ $round -le "$ROUNDS" ]; do
	echo "round $round, load $(cut -d ' ' -f 1-3 /proc/loadavg)" | say
	bench_config fresh true 17179869184
	bench_start fresh
	load fresh $round | say
	stop "$PID"
	bench_start big
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

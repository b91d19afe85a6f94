#!/bin/sh
# tests/bench/threadcpu.sh - CPU per grant by thread, user and system, and
# context switches per grant, under the issuance load of `make bench`
# (64 connections, durable auto grants with an Ed25519 certificate, group
# commit on).
#
#   sh tests/bench/threadcpu.sh [SECONDS] [BROKERD] [CONNS]
#
# Needs the tree and tools that tests/bench/run.sh builds (build/bench).
# BROKERD (default build/bench/brokerd) lets two builds be compared on the
# same machine, alternately.  Counts come from /proc/PID/task/*/stat
# (utime, stime: clock ticks) and /proc/PID/task/*/status (voluntary and
# involuntary context switches), read one second into the load and SECONDS
# later; grants are the load's rate times SECONDS.  Prints one line per
# thread (the daemon's threads in the order they start: the event loop,
# the workers, the writer, then the audit feed; last the CA signer), a
# total, and the load generator's own CPU per grant.
set -u
. "$(dirname "$0")/common.sh"
bench_init cpu
SECS=${1:-5}
BROKERD=${2:-$ROOT/$BUILD/brokerd}
CONNS=${3:-64}
HZ=$(getconf CLK_TCK)
[ -x "$BROKERD" ] || fatal "no $BROKERD: run tests/bench/run.sh first"
bench_needs loadgen synccount.so
# the bench's policy: the load's one user may file as many as it likes
bench_policy
bench_config d
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/key" || exit 1
bench_start d
SPID=$(cat /proc/"$PID"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | head -1)
# snap: per thread "tid utime stime name voluntary involuntary"
snap() {
	for f in /proc/"$PID"/task/* /proc/"$SPID"/task/*; do
		printf '%s %s %s %s\n' "${f##*/}" \
		    "$(sed 's/^.*) //' "$f/stat" | awk '{ print $12, $13 }')" \
		    "$(tr ' ' _ <"$f/comm")" \
		    "$(awk '/^voluntary_ctxt/ { v = $2 } /^nonvoluntary/ { n = $2 } END { print v, n }' "$f/status")"
	done
}
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# The load lasts 4 s longer than the readings: on a busy machine the
# second reading comes late, and must still find the load generator running.
$BUILD/loadgen issue "$T/d/broker.sock" "$CONNS" $((SECS + 4)) alice \
    "$T/key.pub" >"$T/load.out" 2>"$T/load.err" &
LG=$!
PIDS="$PIDS $LG"
sleep 1
snap >"$T/a"
LGA=$(ticks $LG)
sleep "$SECS"
snap >"$T/b"
LGB=$(ticks $LG)
wait $LG
RATE=$(sed -n 's/.*certs_per_s=\([0-9.]*\).*/\1/p' "$T/load.out")
[ -n "$RATE" ] || { cat "$T/load.err"; exit 1; }
echo "load: $(cat "$T/load.out") loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
sort -k1,1 "$T/a" >"$T/a.s"
sort -k1,1 "$T/b" >"$T/b.s"
join "$T/a.s" "$T/b.s" | sort -n | awk -v g="$(awk -v r="$RATE" -v s="$SECS" 'BEGIN { print r * s }')" \
    -v hz="$HZ" -v lg=$((LGB - LGA)) '
{ u = ($7 - $2) * 1e6 / hz / g; s = ($8 - $3) * 1e6 / hz / g
  v = ($10 - $5) / g; n = ($11 - $6) / g
  if (u + s + v > 0.001)
	printf "%-8s %-16s user %6.1f sys %5.1f us/grant  cswitch %.2f + %.2f\n", $1, $4, u, s, v, n
  tu += u; ts += s; tv += v; tn += n }
END { printf "total: user %.1f sys %.1f = %.1f us/grant, context switches %.2f voluntary + %.2f involuntary; loadgen %.1f us/grant\n", tu, ts, tu + ts, tv, tn, lg * 1e6 / hz / g }'

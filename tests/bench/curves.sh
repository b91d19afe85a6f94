#!/bin/sh
# tests/bench/curves.sh - how issuance and check latency change with the
# store's size, and policy evaluation with the number of rules: a table and
# SVG plots (gnuplot) in docs/performance.md and docs/perf/.
#
#   sh tests/bench/curves.sh          (`make bench-curves`)
#
# Store sizes 10,000, 100,000 and 1,000,000 grants (1% of them active, as
# `seed` writes them, with one audit record each): for each, a fresh state
# directory is seeded, brokerd started on it, then the issuance load of
# `make bench` (CURVE_CONNS connections, CURVE_SECONDS s, durable auto grants
# with certificates, group commit) and CURVE_CHECKS sequential `check` calls
# for a user with one grant.  Policy: policy_bench on generated "sparse"
# policies of 10, 1,000, 10,000 and 100,000 rules.  Wall-clock figures:
# the load average at the time is written beside them.
#
# Each load and each check run is made CURVE_ROUNDS times (3) and the median
# kept: one round under a shared machine's load is mostly that load.
#
# Knobs: CURVE_SIZES ("10000 100000 1000000"), CURVE_RULES ("10 1000 10000
# 100000"), CURVE_SECONDS (5), CURVE_CONNS (64), CURVE_CHECKS (5000),
# CURVE_OUT (docs: where performance.md and perf/ go).  Needs the tools that
# tests/bench/run.sh builds (it builds them when build/bench has none) and
# gnuplot (Debian gnuplot-nox; deploy/deps.sh installs it).
set -u
. "$(dirname "$0")/common.sh"
bench_init curves
SIZES=${CURVE_SIZES:-10000 100000 1000000}
RULES=${CURVE_RULES:-10 1000 10000 100000}
SECS=${CURVE_SECONDS:-5}
CONNS=${CURVE_CONNS:-64}
CHECKS=${CURVE_CHECKS:-5000}
ROUNDS=${CURVE_ROUNDS:-3}
OUTD=${CURVE_OUT:-docs}
# median KEY FILE: the median of KEY's values over the lines of FILE
median() {
	sed -n "s/.*\(^\| \)$1=\([^ ]*\).*/\2/p" "$2" | sort -n |
	    awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

command -v gnuplot >/dev/null || fatal "gnuplot is needed (sh deploy/deps.sh)"
if [ ! -x $BUILD/seed ] || [ ! -x $BUILD/loadgen ] ||
    [ ! -x $BUILD/policy_bench ] || [ ! -x $BUILD/brokerd ] ||
    [ ! -e $BUILD/synccount.so ]; then
	note "building the bench tools (BENCH_QUICK=1 tests/bench/run.sh)"
	BENCH_QUICK=1 sh tests/bench/run.sh >/dev/null ||
		fatal "tests/bench/run.sh failed"
fi
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/key" || fatal "ssh-keygen"
bench_policy
LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)

echo "# grants issuance_per_s issue_p50_ms issue_p99_ms check_p50_us check_p99_us ready_ms lmdb_pages_per_grant" >"$T/scale.dat"
for n in $SIZES; do
	d=$T/s$n
	bench_config "s$n" true 17179869184
	active=$((n / 100))
	note "store of $n grants: seeding"
	$BUILD/seed "$d/state" 16384 "$n" "$active" 50000 >"$d/seed.out" ||
		fatal "seed failed"
	bench_start "s$n"
	note "store of $n grants: $ROUNDS x (issuance for ${SECS}s, $CHECKS checks)"
	$BUILD/broker --socket "$d/broker.sock" --as bob request host:web-1 \
	    --reason curve >/dev/null 2>&1 || fatal "bob's request failed"
	: >"$d/issue.out"
	: >"$d/check.out"
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		b0=$(pbytes "s$n")
		$LOADGEN issue "$d/broker.sock" "$CONNS" "$SECS" alice \
		    "$T/key.pub" >"$d/one.out" ||
			note "the load on $n grants reported errors"
		# LMDB pages written per grant (synccount.so: pwrite bytes)
		awk -v b="$(($(pbytes "s$n") - b0))" \
		    -v c="$(kv certs "$d/one.out")" '{ printf "%s pages_per_grant=%.2f\n", $0, c ? b / 4096 / c : 0 }' \
		    "$d/one.out" >>"$d/issue.out"
		$LOADGEN check "$d/broker.sock" "$CHECKS" root bob host:web-1 \
		    >>"$d/check.out" || note "check calls reported errors"
		r=$((r + 1))
	done
	stop "$PID"
	echo "$n $(median certs_per_s "$d/issue.out") \
$(awk -v v="$(median p50_us "$d/issue.out")" 'BEGIN { print v / 1000 }') \
$(awk -v v="$(median p99_us "$d/issue.out")" 'BEGIN { print v / 1000 }') \
$(median p50_us "$d/check.out") $(median p99_us "$d/check.out") \
$(kv ready_ms "$d/start.out") $(median pages_per_grant "$d/issue.out")" >>"$T/scale.dat"
	rm -rf "$d/state"
done

echo "# rules parse_ms p50_us p90_us p99_us" >"$T/policy.dat"
for r in $RULES; do
	note "policy of $r rules"
	: >"$T/pol.out"
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		$BUILD/policy_bench "$r" sparse 100000 >>"$T/pol.out" ||
			fatal "policy_bench failed"
		i=$((i + 1))
	done
	echo "$r $(median parse_ms "$T/pol.out") $(median p50_us "$T/pol.out") \
$(median p90_us "$T/pol.out") $(median p99_us "$T/pol.out")" >>"$T/policy.dat"
done
LOAD_AFTER=$(cut -d ' ' -f 1-3 /proc/loadavg)

mkdir -p "$OUTD/perf"
cp "$T/scale.dat" "$OUTD/perf/scale.dat"
cp "$T/policy.dat" "$OUTD/perf/policy.dat"
gnuplot <<EOF || fatal "gnuplot failed"
set terminal svg size 640,400 font "sans,12" background rgb "white"
set logscale x 10
set grid
set key left top
set xlabel "grants in the store"
set format x "%.0s%c"
set output "$OUTD/perf/issuance-vs-store.svg"
set title "Durable issuance with certificates ($CONNS connections, group commit)"
set ylabel "certificates per second"
set yrange [0:*]
plot "$T/scale.dat" using 1:2 with linespoints lw 2 pt 7 title "issued / s"
set output "$OUTD/perf/check-vs-store.svg"
set title "check over the socket, one connection, sequential"
set ylabel "microseconds"
plot "$T/scale.dat" using 1:5 with linespoints lw 2 pt 7 title "p50", \
     "$T/scale.dat" using 1:6 with linespoints lw 2 pt 5 title "p99"
set output "$OUTD/perf/policy-vs-rules.svg"
set title "policy_evaluate(), generated sparse policies"
set xlabel "rules"
set ylabel "microseconds"
set logscale y 10
set yrange [*:*]
plot "$T/policy.dat" using 1:3 with linespoints lw 2 pt 7 title "p50", \
     "$T/policy.dat" using 1:5 with linespoints lw 2 pt 5 title "p99"
EOF

# the document
{
	cat <<EOF
# Performance: how the broker scales

Generated by \`make bench-curves\` (\`tests/bench/curves.sh\`) on
$(date -u +%Y-%m-%d): $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'),
$(nproc) cores, kernel $(uname -r). Load average $LOAD_BEFORE before the run
and $LOAD_AFTER after it (1, 5 and 15 minutes).

**Read these as shapes, not as numbers.** They are wall-clock figures
taken on a machine that other builds and tests were sharing at the time
(see the load average: on 2 cores, anything above 2 means waiting for a
CPU). The load generator runs on the same machine. \`make bench\` has the
same-run ratios against what the machine can do at best; instruction counts
per grant, which do not depend on the load, are in tests/bench/README.md.

## Store size

For each size a fresh state directory is seeded with that many grants (1%
still active, the rest expired, over 10,000 users and 1,000 hosts, one audit
record each; the last quarter, at most 80,000, written 20 to a transaction
as the daemon writes them: see "Why a big store costs more" below),
brokerd is started on it, then $ROUNDS rounds of: $CONNS
connections requesting auto-approved grants with an Ed25519 key for $SECS s
(every reply durable: group commit), then $CHECKS sequential \`check\` calls
for a user holding one grant. Each figure is the median of the rounds. The
loads add their own grants (their rate times $((ROUNDS * SECS)) s), which
matters for the smallest store only.

| grants in the store | issuance (certs/s) | issue latency p50 / p99 (ms, $CONNS in flight) | check p50 / p99 (µs) | start to ready (ms) | LMDB pages written per grant |
| ---: | ---: | ---: | ---: | ---: | ---: |
EOF
	awk '!/^#/ { printf "| %d | %.0f | %.1f / %.1f | %.0f / %.0f | %.0f | %.2f |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$T/scale.dat"
	cat <<EOF

![issuance against store size](perf/issuance-vs-store.svg)

![check latency against store size](perf/check-vs-store.svg)

### Why a big store costs more

Measured on 2026-12-02 with \`tests/bench/scale.sh\` (a fresh and a
1,000,000-grant store alternately, in the same run) at load 5-6 on this
2-core machine; pages are LMDB's, counted as the bytes the daemon wrote
with \`pwrite\` (\`synccount.so\`), by table from the page headers of an
\`strace -xx\` of the writes.

- **The seed's free list, not the store.** The first seed wrote the store
  in 50,000-grant transactions and left LMDB a list of 35,697 free pages.
  LMDB writes the list of the free pages it has taken up for reuse out
  again in every commit until they are used, so the daemon's first seconds
  on that store measured the list being used up: 35, 72, 89, 91 and 91
  pages per commit in five 2-second slices of the load (CPU per grant 130
  to 164 µs), against 49 to 57 pages (125 to 141 µs) on the same store
  compacted with \`mdb_copy -c\`; the list was still 8,911 pages after 12 s.
  A store the daemon filled has a few hundred free pages. The seed now
  writes the last quarter of the grants (at most 80,000) 20 to a
  transaction, as the daemon does, which leaves about 5,000 (55 to 60
  pages per commit from the start). How much of a 10-second load the old
  list taxed depends on how many commits it made: at 10,000 grants/s
  (a quiet machine) most of them; at 3,500/s (this machine with an ASan
  build beside) few, and the old seed's store then wrote fewer pages per
  commit than the new one (46 to 49 against 53 to 61).
- **What is left is the trees.** With about 24 grants per commit on both,
  a commit writes about 35 pages on a fresh store and 55 on the big one:
  the audit index by resource (a random insertion point per grant, since
  each grant's resource has its own range of keys) 5.7 leaves and 0.9
  branches against 13.3 and 4.7, and one more branch level in the audit,
  requests and audit-index trees (depth 4 against 3). The writer thread
  spends about 46 µs per grant on the fresh store and 53 to 66 µs on the
  big one; the other threads and the signer the same on both. Keying the
  audit index by resource under a coarse sequence bucket (field, bucket,
  value, seq) would keep the current bucket as small as a fresh store's
  index, at the cost of one seek per bucket in audit searches and an index
  migration: not done.

## Policy size

\`policy_bench\` on policies generated as tests/unit/test_policy_scale.c
does (the "sparse" kind: exact resources, team globs, label rules, user and
group rules, a few broad rules), 100,000 \`policy_evaluate()\` calls over
4,096 generated queries, each timed on its own; the median of $ROUNDS runs.

| rules | parse (ms) | p50 (µs) | p90 (µs) | p99 (µs) |
| ---: | ---: | ---: | ---: | ---: |
EOF
	awk '!/^#/ { printf "| %d | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$T/policy.dat"
	cat <<EOF

![policy evaluation against rule count](perf/policy-vs-rules.svg)

The raw figures are in docs/perf/scale.dat and docs/perf/policy.dat.
EOF
} >"$OUTD/performance.md.tmp" && mv "$OUTD/performance.md.tmp" "$OUTD/performance.md"
note "wrote $OUTD/performance.md and $OUTD/perf/*.svg"

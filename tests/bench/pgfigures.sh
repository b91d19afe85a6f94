#!/bin/sh
# pgfigures.sh - figures of the PostgreSQL store against LMDB, in one run
# on this machine:
#   durable grants/s with certificates, 64 connections: LMDB, one broker on
#   PostgreSQL, two brokers on one PostgreSQL (32 connections each);
#   `check` p50/p99 over the socket on LMDB and on PostgreSQL;
#   a freeze made on broker B in force on broker A, p50/p99 of 20;
#   a pipe round trip between two processes before and after the loads
#   (loadgen pingpong): what a wake-up costs on this machine at the time;
#   the statements PostgreSQL logged as taking 20 ms or more, counted by
#   their first word (how the hot-key read's table scan was found:
#   tests/integration/t_pgplan.sh).
# Usage: sh tests/bench/pgfigures.sh [SECONDS]   (after make all)
# With BENCH_ROWS=FILE it also appends its rows to FILE in the format of
# tests/bench/run.sh (which calls it so, for `make bench`).
set -u
cd "$(dirname "$0")/../.."
SECS=${1:-5}
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/pgfig.XXXXXX)
chmod 0755 "$T"
CC=${CC:-cc}
$CC -std=gnu11 -D_GNU_SOURCE -O2 -o "$T/loadgen" tests/bench/loadgen.c || exit 1
LG=$T/loadgen
BROKERD=$PWD/$BUILD/brokerd
# lib.sh's pg_start, without the rest of lib.sh's test machinery
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG=$T/pg
[ -n "$PGBIN" ] && command -v psql >/dev/null ||
    { echo "pgfigures: PostgreSQL is not installed (deploy/deps.sh)" >&2; exit 1; }
asnobody() { setpriv --reuid=nobody --regid=65534 --clear-groups "$@"; }
mkdir -p "$PG"; chown nobody "$PG"; chmod 0700 "$PG"
asnobody "$PGBIN/initdb" -D "$PG/data" -U postgres -A trust >/dev/null 2>&1 || exit 1
asnobody "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w -o \
    "-k $PG -c listen_addresses='' -p 5432 -c log_min_duration_statement=20" \
    start >/dev/null 2>&1 || exit 1
trap 'for p in $PIDS; do kill $p 2>/dev/null; wait $p 2>/dev/null; done;
      asnobody "$PGBIN/pg_ctl" -D "$PG/data" -m immediate stop >/dev/null 2>&1;
      rm -rf "$T"' EXIT
PIDS=
psql -X -q -h "$PG" -U postgres -d postgres -c "CREATE DATABASE broker" >/dev/null
printf 'host=%s port=5432 dbname=broker user=postgres\n' "$PG" >"$T/pg.conninfo"
chmod 0600 "$T/pg.conninfo"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/key" || exit 1
sed -e 's/"requests_per_minute": 60/"requests_per_minute": 10000000/' \
    -e 's/"pending_per_user": 20/"pending_per_user": 100000/' \
    policy/examples/dev.json >"$T/policy.json"
config() { # NAME STORE_JSON
	mkdir -p -m 0700 "$T/$1"
	cat >"$T/$1.json" <<C
{ "state_dir": "$T/$1", "socket": "$T/$1.sock", "policy": "$T/policy.json",
  "max_connections": 1024,
  "local_groups": { "dev": ["alice", "bob"], "secops": ["erin"] } $2 }
C
}
start() {
	out=$($LG start 60 "$T/$1.log" "$T/$1.sock" "$BROKERD" -c "$T/$1.json") ||
	    { tail "$T/$1.log"; exit 1; }
	PIDS="$PIDS $(echo "$out" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')"
}
kv() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$2"; }
PGS=', "store": { "backend": "postgres", "conninfo_file": "'$T/pg.conninfo'" }'
config lmdb ""
config pga "$PGS"
config pgb "$PGS"
"$BROKERD" -c "$T/pga.json" --migrate >/dev/null || exit 1
start lmdb
start pga
cp -a "$T/pga/ca" "$T/pgb/" 2>/dev/null
start pgb

# The machine's cost of a wake-up, before and after the loads: every
# statement to a PostgreSQL backend is a round trip between two processes,
# so these figures fall far when wake-ups turn dear (a contended VM), which
# LMDB's figure hardly feels.
$LG pingpong 20000 >"$T/pp.before"
$LG issue "$T/lmdb.sock" 64 "$SECS" alice "$T/key.pub" >"$T/i.lmdb"
$LG issue "$T/pga.sock" 64 "$SECS" alice "$T/key.pub" >"$T/i.pg1"
$LG issue "$T/pga.sock" 32 "$SECS" alice "$T/key.pub" >"$T/i.pg2a" &
a=$!
$LG issue "$T/pgb.sock" 32 "$SECS" alice "$T/key.pub" >"$T/i.pg2b"
wait $a
$LG pingpong 20000 >"$T/pp.after"
for b in lmdb pga; do
	s=$T/$b.sock
	"$BUILD/broker" --socket "$s" --as bob request host:web-1 --reason bench >/dev/null 2>&1
	$LG check "$s" 5000 root bob host:web-1 >"$T/c.$b"
done
# a freeze on B in force on A: from B's reply to A holding a request
BK=$BUILD/broker
: >"$T/fz"
i=0
while [ $i -lt 20 ]; do
	$BK --socket "$T/pgb.sock" --as erin freeze --reason bench --for 1h >/dev/null 2>&1 ||
	    { echo "pgfigures: freeze failed" >&2; break; }
	t0=$(date +%s%N)
	n=0
	while [ $n -lt 400 ]; do
		$BK --socket "$T/pga.sock" --as bob request host:web-f$i-$n --for 10m >/dev/null 2>&1
		[ $? = 3 ] && break
		n=$((n + 1))
	done
	echo $(( ($(date +%s%N) - t0) / 1000 )) >>"$T/fz"
	$BK --socket "$T/pgb.sock" --as erin unfreeze --reason bench >/dev/null 2>&1
	i=$((i + 1))
done
FZ50=$(sort -n "$T/fz" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] + 0 }')
FZ99=$(sort -n "$T/fz" | awk '{ a[NR] = $1 } END { i = int(NR * 0.99 + 0.999); print a[i] + 0 }')

L=$(kv certs_per_s "$T/i.lmdb")
P1=$(kv certs_per_s "$T/i.pg1")
P2=$(echo "$(kv certs_per_s "$T/i.pg2a") + $(kv certs_per_s "$T/i.pg2b")" | bc)
echo "grants/s with certificates, 64 connections, ${SECS} s each:"
echo "  LMDB                          $L"
echo "  PostgreSQL, one broker        $P1 ($(echo "scale=2; $P1 / $L" | bc) x LMDB)"
echo "  PostgreSQL, two brokers       $P2 ($(echo "scale=2; $P2 / $L" | bc) x LMDB)"
echo "check over the socket, 5000 sequential calls, p50 / p99 us:"
echo "  LMDB                          $(kv p50_us "$T/c.lmdb") / $(kv p99_us "$T/c.lmdb")"
echo "  PostgreSQL                    $(kv p50_us "$T/c.pga") / $(kv p99_us "$T/c.pga")"
echo "a freeze on B in force on A (20 times; incl. CLI round trips), p50 / p99 us:"
echo "  PostgreSQL                    $FZ50 / $FZ99"
# PostgreSQL logged every statement of 20 ms or more: by its first word
# (COMMIT waits for the WAL's sync, LOCK for the other broker's writer)
echo "statements of 20 ms or more (PostgreSQL's log), by first word:"
sed -n 's/.*duration: \([0-9.]*\) ms  [a-z]*[^:]*: *\([A-Za-z]*\).*/\2 \1/p' "$PG/log" |
    awk '{ n[$1]++; if ($2 > m[$1]) m[$1] = $2 }
    END { for (k in n) printf "  %-28s  %d, the longest %.0f ms\n", k, n[k], m[k]
	  if (length(n) == 0) print "  none" }'
echo "a pipe round trip between two processes, p50 / p99 us:"
echo "  before the loads              $(kv p50_us "$T/pp.before") / $(kv p99_us "$T/pp.before")"
echo "  after the loads               $(kv p50_us "$T/pp.after") / $(kv p99_us "$T/pp.after")"
if [ -n "${BENCH_ROWS:-}" ]; then
	rat() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
	r2=$(rat "$P2" "$L")
	ok() { if [ "$(echo "$1" | bc)" = 1 ]; then echo PASS; else echo MISS; fi; }
	CP99=$(kv p99_us "$T/c.pga")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
	    pg.issue.two "PostgreSQL: issuance, two brokers (certs/s)" \
	    "$(printf %.0f "$P2")/s" "$P2" certs/s \
	    "$(printf %.0f "$L")/s LMDB same run" "$L" "$r2" ">= 0.25 x ref" \
	    "$(ok "$P2 >= 0.25 * $L")" \
	    pg.issue.one "  one broker (certs/s)" \
	    "$(printf %.0f "$P1")/s" "$P1" certs/s \
	    "$(printf %.0f "$L")/s LMDB same run" "$L" \
	    "$(rat "$P1" "$L")" "-" info \
	    pg.check "PostgreSQL: check over the socket p50 / p99" \
	    "$(printf %.0f "$(kv p50_us "$T/c.pga")") / $(printf %.0f "$CP99") us" \
	    "$CP99" us "$(printf %.0f "$(kv p99_us "$T/c.lmdb")") us LMDB p99" \
	    "$(kv p99_us "$T/c.lmdb")" \
	    "$(rat "$CP99" "$(kv p99_us "$T/c.lmdb")")" \
	    "p99 <= 1000 us" "$(ok "$CP99 <= 1000")" \
	    pg.freeze "PostgreSQL: a freeze on B in force on A p50 / p99" \
	    "$((FZ50 / 1000)) / $((FZ99 / 1000)) ms" "$FZ99" us "-" null null \
	    "p99 <= 1 s" "$(ok "$FZ99 <= 1000000")" \
	    pg.wakeup "  pipe round trip, two processes, p50 before / after" \
	    "$(kv p50_us "$T/pp.before") / $(kv p50_us "$T/pp.after") us" \
	    "$(kv p50_us "$T/pp.after")" us "-" null "-" "-" info >>"$BENCH_ROWS"
fi

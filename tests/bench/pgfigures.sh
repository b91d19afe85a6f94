#!/bin/sh
# pgfigures.sh - ad hoc figures of the PostgreSQL store against LMDB, in
# one run on this machine (not yet rows of `make bench`):
#   durable grants/s with certificates, 64 connections: LMDB, one broker on
#   PostgreSQL, two brokers on one PostgreSQL (32 connections each);
#   `check` p50/p99 over the socket on LMDB and on PostgreSQL.
# Usage: sh tests/bench/pgfigures.sh [SECONDS]   (after make all)
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
asnobody() { setpriv --reuid=nobody --regid=65534 --clear-groups "$@"; }
mkdir -p "$PG"; chown nobody "$PG"; chmod 0700 "$PG"
asnobody "$PGBIN/initdb" -D "$PG/data" -U postgres -A trust >/dev/null 2>&1 || exit 1
asnobody "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w -o \
    "-k $PG -c listen_addresses='' -p 5432" start >/dev/null 2>&1 || exit 1
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
  "max_connections": 1024, "local_groups": { "dev": ["alice", "bob"] } $2 }
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

$LG issue "$T/lmdb.sock" 64 "$SECS" alice "$T/key.pub" >"$T/i.lmdb"
$LG issue "$T/pga.sock" 64 "$SECS" alice "$T/key.pub" >"$T/i.pg1"
$LG issue "$T/pga.sock" 32 "$SECS" alice "$T/key.pub" >"$T/i.pg2a" &
a=$!
$LG issue "$T/pgb.sock" 32 "$SECS" alice "$T/key.pub" >"$T/i.pg2b"
wait $a
for b in lmdb pga; do
	s=$T/$b.sock
	"$BUILD/broker" --socket "$s" --as bob request host:web-1 --reason bench >/dev/null 2>&1
	$LG check "$s" 5000 root bob host:web-1 >"$T/c.$b"
done
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

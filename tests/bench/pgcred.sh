#!/bin/sh
# tests/bench/pgcred.sh - time from a db:NAME request to a working psql
# login, against a private PostgreSQL server (as t_pgcred.sh starts one:
# initdb/pg_ctl as nobody when run as root, a Unix socket in the temp dir,
# no TCP).  Called by run.sh; usable alone:
#
#   sh tests/bench/pgcred.sh BROKERD BROKER POLICY WORKDIR [N]
#
# Prints one line "p50_ms=.. p99_ms=.. ref_p50_ms=.. ref_p99_ms=.. n=.."
# and exits 0, or prints "n/a: WHY" and exits 2 when the PostgreSQL
# binaries are missing, 1 when something failed.
#
# Each sample: `broker --json request db:app --role readonly --new` (the
# role is made and its password returned in the reply), the password read
# out of the reply, and `psql -c 'SELECT 1'` logging in with it (SCRAM).
# The reference sample: a credential-less request (k8s:bench) and a psql
# login of the admin over trust: the same processes and round trips
# without the role's creation and its SCRAM login.
set -u
BROKERD=$1 BROKER=$2 POLICY=$3 W=$4 N=${5:-100}

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/psql" ]; then
	echo "n/a: PostgreSQL is not installed"; exit 2
fi
mkdir -p "$W/pg" "$W/state"
chmod 0700 "$W/state"
PG=$W/pg
if [ "$(id -u)" = 0 ]; then
	chown nobody "$PG"
	asdb() { setpriv --reuid=nobody --regid=65534 --clear-groups "$@"; }
else
	asdb() { "$@"; }
fi
chmod 0700 "$PG"
BRK_PID=
cleanup() {
	[ -n "$BRK_PID" ] && kill "$BRK_PID" 2>/dev/null && wait "$BRK_PID"
	asdb "$PGBIN/pg_ctl" -D "$PG/data" -m immediate stop >/dev/null 2>&1
}
trap cleanup EXIT
asdb "$PGBIN/initdb" -D "$PG/data" -U postgres -A trust >"$W/initdb.log" 2>&1 ||
	{ echo "failed: initdb"; exit 1; }
printf 'local all postgres trust\nlocal all all scram-sha-256\n' >"$PG/data/pg_hba.conf"
asdb "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w -o \
    "-k $PG -c listen_addresses='' -p 5432" start >/dev/null 2>&1 ||
	{ echo "failed: PostgreSQL does not start"; exit 1; }
# the server's own psql: Debian's /usr/bin/psql is pg_wrapper, a Perl
# script that picks a cluster and execs this one; its start-up (~50 ms
# here) is the same with or without the broker, and other systems have
# no such wrapper
PSQL=$PGBIN/psql
su_psql() { $PSQL -X -q -A -t -h "$PG" -p 5432 -U postgres "$@"; }
su_psql -d postgres -c "CREATE DATABASE app" >/dev/null &&
su_psql -d app -c "CREATE ROLE app_readonly NOLOGIN" >/dev/null ||
	{ echo "failed: schema"; exit 1; }
printf 'host=%s port=5432 dbname=app user=postgres\n' "$PG" >"$W/app.pg"
chmod 0600 "$W/app.pg"
sed -e 's|"rules": \[|"rules": [\
    { "id": "db-app", "when": { "groups": ["dev"], "resources": ["db:app"] },\
      "principals": ["readonly"], "grant": "auto", "max_ttl": "1h" },\
    { "id": "k8s", "when": { "groups": ["dev"], "resources": ["k8s:*"] },\
      "grant": "auto", "max_ttl": "1h" },|' "$POLICY" >"$W/policy.json"
cat >"$W/brokerd.json" <<C
{ "state_dir": "$W/state", "socket": "$W/broker.sock", "policy": "$W/policy.json",
  "local_groups": { "dev": ["alice"] },
  "databases": { "app": { "conninfo_file": "$W/app.pg",
    "roles": { "readonly": "app_readonly" }, "max_connections": 2 } } }
C
"$BROKERD" -c "$W/brokerd.json" >"$W/brokerd.log" 2>&1 &
BRK_PID=$!
export BROKER_SOCKET=$W/broker.sock
i=0
until "$BROKER" status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "failed: brokerd does not start"; exit 1; }
	sleep 0.05
done

now_us() { echo $(($(date +%s%N) / 1000)); }
# one sample each; the times in microseconds into $W/pg.us and $W/ref.us
: >"$W/pg.us"
: >"$W/ref.us"
k=0
while [ $k -lt "$N" ]; do
	t0=$(now_us)
	reply=$("$BROKER" --json --as alice request db:app --role readonly \
	    --for 10m --new) || { echo "failed: request"; exit 1; }
	# read by the shell itself: a pipeline of sed and tail per value
	# cost ~12 ms of process start-up here, more than the role's login
	u=${reply##*\"user\": \"} pw=${reply##*\"password\": \"}
	u=${u%%\"*} pw=${pw%%\"*}
	[ "$(PGPASSWORD=$pw $PSQL -X -q -A -t -h "$PG" -p 5432 -d app -U "$u" \
	    -c 'SELECT 1')" = 1 ] || { echo "failed: login as $u"; exit 1; }
	t1=$(now_us)
	"$BROKER" --json --as alice request k8s:bench --for 10m --new \
	    >/dev/null || { echo "failed: reference request"; exit 1; }
	[ "$(su_psql -d app -c 'SELECT 1')" = 1 ] ||
	    { echo "failed: reference login"; exit 1; }
	t2=$(now_us)
	echo $((t1 - t0)) >>"$W/pg.us"
	echo $((t2 - t1)) >>"$W/ref.us"
	k=$((k + 1))
done
# pct FILE P: the P-th percentile (nearest rank), in ms
pct() {
	sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 }
	    END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1;
		  printf "%.1f", v[i] / 1000 }'
}
echo "p50_ms=$(pct "$W/pg.us" 50) p99_ms=$(pct "$W/pg.us" 99)" \
    "ref_p50_ms=$(pct "$W/ref.us" 50) ref_p99_ms=$(pct "$W/ref.us" 99) n=$N"

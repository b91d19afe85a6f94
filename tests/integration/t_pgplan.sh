#!/bin/sh
# t_pgplan.sh - the PostgreSQL store's hot-key read ("gm": the keys the
# writer's last transaction read, fetched again as each write transaction
# begins) is an index lookup per key in every plan PostgreSQL may choose,
# and no statement of the broker's scans the whole of broker_kv.
#
# A session keeps the generic plan of a prepared statement once it has
# chosen it; chosen while broker_kv was small, "(tbl, k) IN (SELECT *
# FROM unnest(...))" was a hash join over a scan of the whole table, run
# by every write transaction for the session's life, and under
# SERIALIZABLE that scan conflicts with every other writer: `make bench`'s
# PostgreSQL rows fell in half the runs to a fifth (about 2,100 grants/s
# for one broker, 1,000 for two, a freeze in force after 70 ms).  Here
# the broker's sessions are made to plan generically from the start
# (plan_cache_mode=force_generic_plan, on an empty table), and
# auto_explain logs every plan they run (both set on the database: the
# broker gives its sessions options of its own).
#
# Fails with the old statement: checked by putting the IN form back in
# store_pg.c (every logged plan of it scanned broker_kv: three checks
# red).
. "$(dirname "$0")/lib.sh"
pg_cluster_begin
[ -f "$("$PGBIN/pg_config" --pkglibdir 2>/dev/null)/auto_explain.so" ] ||
    [ -f "$(dirname "$PGBIN")/lib/auto_explain.so" ] ||
    { not_ok "PostgreSQL's auto_explain module is installed"; finish; }
# the broker sets its sessions' own options: these come from the database
su_psql -d broker -c "ALTER DATABASE broker SET plan_cache_mode = force_generic_plan" \
    -c "ALTER DATABASE broker SET session_preload_libraries = auto_explain" \
    -c "ALTER DATABASE broker SET auto_explain.log_min_duration = 0" ||
    not_ok "the database's settings for generic plans and auto_explain"
mkdir -p -m 0700 "$T/a"
cat >"$T/a.json" <<C
{ "state_dir": "$T/a", "socket": "$T/a.sock", "policy": "$T/policy.json",
  $GROUPS_JSON,
  "store": { "backend": "postgres", "conninfo_file": "$PG_CONNINFO" } }
C
export BROKER_SOCKET=$T/a.sock
expect 0 "brokerd --migrate" "$BROKERD" -c "$T/a.json" --migrate
start_broker -c "$T/a.json"
i=0
while [ $i -lt 5 ]; do
	expect 0 "bob's request $i" B --as bob request "host:web-$i" --reason plan
	i=$((i + 1))
done
stop_broker

# The log's entries, one per line; those that are a plan of the hot-key
# read (two arrays: the many-key write has three).
awk '/^[0-9][0-9][0-9][0-9]-/ { if (e != "") print e; e = "" }
    { gsub(/\t/, " "); e = e " " $0 } END { if (e != "") print e }' \
    "$PG/log" | grep 'plan:' >"$T/all.plans"
grep -F 'unnest($1::int2[], $2::bytea[])' "$T/all.plans" >"$T/gm.plans"
n=$(wc -l <"$T/gm.plans")
[ "$n" -ge 3 ] && ok "PostgreSQL logged the hot-key read's plans ($n)" ||
    not_ok "PostgreSQL logged the hot-key read's plans (found $n)"
grep -q "Seq Scan on broker_kv" "$T/gm.plans" &&
    not_ok "the hot-key read never scans broker_kv (generic plan)" ||
    ok "the hot-key read never scans broker_kv (generic plan)"
grep -q "Seq Scan on broker_kv" "$T/all.plans" &&
    not_ok "no statement of the broker scans broker_kv (generic plans)" ||
    ok "no statement of the broker scans broker_kv ($(wc -l <"$T/all.plans") plans)"
grep -q "Index Scan using broker_kv_pkey" "$T/gm.plans" &&
    ok "the hot-key read looks each key up in the primary key" ||
    not_ok "the hot-key read looks each key up in the primary key"
sed 's/^/# /' "$T/gm.plans" | head -3 | cut -c1-400
finish

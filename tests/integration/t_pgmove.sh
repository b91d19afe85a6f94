#!/bin/sh
# t_pgmove.sh - brokerd --export-store / --import-store: a whole LMDB
# state moved into PostgreSQL and back, serials and audit chain intact
# (`audit verify` passes after each move, the next request continues the
# serials); bad files and a store in use are refused and change nothing.
. "$(dirname "$0")/lib.sh"
# this test chooses its brokers' stores itself, under make check-pg too
pg_cluster_begin
cfg() { # NAME [STORE_JSON]
	mkdir -p -m 0700 "$T/$1"
	cat >"$T/$1.json" <<C
{ "state_dir": "$T/$1", "socket": "$T/$1.sock", "policy": "$T/policy.json",
  $GROUPS_JSON, "delegates": [$VIA_DELEGATES] ${2:-} }
C
}
PGS=', "store": { "backend": "postgres", "conninfo_file": "'$PG_CONNINFO'" }'
cfg a
cfg p "$PGS"
cfg c
rows() { su_psql -d broker -c "SELECT count(*) FROM broker_kv"; }
req() { sed -n 's/^\(r[0-9]*\) .*/\1/p' | head -1; }

# ---- a state in LMDB ----------------------------------------------------
export BROKER_SOCKET=$T/a.sock
start_broker -c "$T/a.json"
expect 0 "a grant" B --as alice request host:web-1 --for 1h
g1=$(echo "$OUT" | req)
run B --as alice request host:app-prod-1 --reason deploy --ticket OPS-1
p1=$(echo "$OUT" | req)
expect 0 "one approval" A frank approve "$p1" --reason ok
expect 0 "a freeze" A erin freeze --reason drill --for 1h
expect 0 "audit verify on LMDB" B audit verify
stop_broker

expect 0 "export the LMDB state" "$BROKERD" -c "$T/a.json" --export-store "$T/a.dump"
n_a=$(echo "$OUT" | sed -n 's/.*exported \([0-9]*\) keys.*/\1/p')
[ "${n_a:-0}" -gt 10 ] && ok "it says how many keys ($n_a)" || not_ok "keys exported: $OUT"
equals "the export is private (0600)" 600 "$(stat -c %a "$T/a.dump")"
cp "$T/a.dump" "$T/keep"
expect 1 "an export never overwrites a file" "$BROKERD" -c "$T/a.json" --export-store "$T/a.dump"
cmp -s "$T/a.dump" "$T/keep" && ok "... which is left as it was" || not_ok "the existing file changed"

# ---- bad inputs change nothing -----------------------------------------
run "$BROKERD" -c "$T/p.json" --import-store "$T/a.dump"
if [ "$RC" = 1 ] && echo "$ERR" | grep -q -- "--migrate"; then
	ok "an import into an unmigrated database says to run --migrate"
else not_ok "unmigrated import (exit $RC: $ERR)"; fi
expect 0 "migrate" "$BROKERD" -c "$T/p.json" --migrate
size=$(stat -c %s "$T/a.dump")
head -c $((size - 40)) "$T/a.dump" >"$T/cut.dump"
# one byte of the audit trail changed (a JSON key's case): same length
sed 's/"action"/"Action"/' "$T/a.dump" >"$T/alt.dump"
cmp -s "$T/a.dump" "$T/alt.dump" && not_ok "the altered copy differs"
echo "not an export" >"$T/junk.dump"
# Fails when the import trusts the file: checked by skipping the digest
# comparison in store_import() (the altered file was imported: red).
for f in cut alt junk; do
	run "$BROKERD" -c "$T/p.json" --import-store "$T/$f.dump"
	if [ "$RC" = 1 ] && echo "$ERR" | grep -q "not a store export"; then
		ok "a $f file is refused"
	else not_ok "$f file refused (exit $RC: $ERR)"; fi
done
expect 1 "a missing file is refused" "$BROKERD" -c "$T/p.json" --import-store "$T/nothing"
equals "PostgreSQL is still empty" 0 "$(rows)"

# ---- LMDB -> PostgreSQL ------------------------------------------------
expect 0 "import into PostgreSQL" "$BROKERD" -c "$T/p.json" --import-store "$T/a.dump"
contains "the same number of keys" "imported $n_a keys" "$OUT"
equals "rows in PostgreSQL" "$n_a" "$(rows)"
# Fails when the destination may hold a state already: checked by
# dropping the all_empty() test (a second import overwrote keys: red).
run "$BROKERD" -c "$T/p.json" --import-store "$T/a.dump"
if [ "$RC" = 1 ] && echo "$ERR" | grep -q "not empty"; then
	ok "an import into a store in use is refused"
else not_ok "import into a store in use (exit $RC: $ERR)"; fi
equals "... and changes nothing" "$n_a" "$(rows)"
cp -a "$T/a/ca" "$T/p/"
export BROKER_SOCKET=$T/p.sock
start_broker -c "$T/p.json"
expect 0 "audit verify on PostgreSQL after the move" B audit verify
run B show "$g1"
contains "the grant moved" "active" "$OUT"
run B show "$p1"
contains "the pending request and its approval moved" "frank" "$OUT"
expect 0 "the second approval on PostgreSQL" A erin approve "$p1" --reason ok
expect 0 "... makes it active" B check --user alice --resource host:app-prod-1
expect 3 "the freeze moved too" B --as bob request host:web-2
expect 0 "unfreeze" A erin unfreeze --reason over
expect 0 "a new grant on PostgreSQL" B --as bob request host:web-3 --for 1h
g2=$(echo "$OUT" | req)
[ "${g2#r}" -gt "${p1#r}" ] && ok "serials continue ($g2 after $p1)" ||
    not_ok "serial $g2 not after $p1"
expect 0 "audit verify with the new records" B audit verify
stop_broker

# ---- PostgreSQL -> LMDB ------------------------------------------------
expect 0 "export from PostgreSQL" "$BROKERD" -c "$T/p.json" --export-store "$T/p.dump"
n_p=$(echo "$OUT" | sed -n 's/.*exported \([0-9]*\) keys.*/\1/p')
equals "every row" "$(rows)" "$n_p"
expect 0 "import into a new LMDB" "$BROKERD" -c "$T/c.json" --import-store "$T/p.dump"
cp -a "$T/a/ca" "$T/c/"
export BROKER_SOCKET=$T/c.sock
start_broker -c "$T/c.json"
expect 0 "audit verify on LMDB after the move back" B audit verify
run B show "$g2"
contains "the grant made on PostgreSQL is there" "active" "$OUT"
expect 0 "the approval made on PostgreSQL is there" B check --user alice --resource host:app-prod-1
stop_broker
finish

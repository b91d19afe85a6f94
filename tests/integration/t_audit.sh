#!/bin/sh
# The audit trail: chain verification, tampering found at the right record
# (one byte, a deleted record, a reordering, a truncated tail caught by a
# signed anchor), every search filter, readers limited to their own
# records, resumable export, hostile text printed safely, no secrets in
# records, prune, periodic anchors, and failing closed when the store is
# full.  (The general full-store and read-only faults are in t_faults.sh;
# here the full store is about the audit chain and the audit commands.)
. "$(dirname "$0")/lib.sh"

S=$T/state
mkdir -m 0700 "$S"
bulk_policy "$T/policy.json"
export BROKER_SOCKET=$T/broker.sock
TAMPER=$TOOLS/audit_tamper

# config [MAPSIZE [STATE_DIR [ANCHOR_RECORDS [ANCHOR_SECONDS]]]] > file
config() {
	cat <<EOF
{ "state_dir": "${2:-$S}", "socket": "$BROKER_SOCKET", "delegates": [ $VIA_DELEGATES ],
  "policy": "$T/policy.json", "mapsize": ${1:-16777216},
  "audit_anchor_records": ${3:-0}, "audit_anchor_seconds": ${4:-0},
  "local_groups": { "dev": ["alice", "bob"], "secops": ["erin", "gus"],
                    "dba-leads": ["carol", "dave"],
                    "contractors": ["mallory"] } }
EOF
}
config >"$T/c.json"

# seqs: the "seq" of each JSON record in $OUT, in order, one a line
seqs() { printf '%s\n' "$OUT" | sed -n 's/^ *"seq": \([0-9]*\),\{0,1\}$/\1/p'; }
# head: the number of records in the log (as an auditor sees it)
head_seq() { B --json --as erin audit --limit 1 | sed -n 's/^ *"seq": \([0-9]*\),\{0,1\}$/\1/p'; }
# tamper ARGS...: run the tool on the stopped broker's store
tamper() {
	stop_broker
	if "$TAMPER" "$S" "$@" 2>"$T/tamper.err"; then :; else
		not_ok "audit_tamper $*"; cat "$T/tamper.err"
	fi
	start_broker -c "$T/c.json"
}
# save / restore the store around a tampering
save() { stop_broker; cp "$S/data.mdb" "$T/saved.mdb"; start_broker -c "$T/c.json"; }
restore() { stop_broker; cp "$T/saved.mdb" "$S/data.mdb"; start_broker -c "$T/c.json"; }

start_broker -c "$T/c.json"

# --- a small seeded log -----------------------------------------------------
hostile=$(printf 'evil\033[2J\033]0;pwned\007 tab\there\nsecond line')
expect 0 "alice gets web-1" B --as alice request host:web-1 --reason "deploy 4.2"
expect 0 "bob gets web-2 with a hostile reason" B --as bob request host:web-2 --reason "$hostile"
expect 3 "alice asks for the database" B --as alice request host:db-prod-1 --role alice --reason "fix index"
expect 0 "carol approves it" A carol approve r3 --reason "ok"
expect 0 "alice ends web-1" B --as alice revoke r1 --reason "done"
ssh-keygen -q -t ed25519 -N '' -C 'alice@test' -f "$T/key" </dev/null >/dev/null 2>&1
expect 0 "alice asks with a public key" B --as alice request host:web-3 --pubkey "$T/key.pub"
contains "  and gets a certificate" "cert" "$OUT$(ls "$T")"
expect 4 "mallory is refused" B --as mallory request host:db-prod-1 --role alice --reason x

expect 0 "the chain verifies" B audit verify
contains "  intact" "intact" "$OUT"
contains "  and says no anchor was there to check" "no stored anchor" "$OUT"
n=$(head_seq)
[ "${n:-0}" -ge 7 ] && ok "the log holds the changes ($n records)" ||
    not_ok "the log holds the changes (${n:-none})"

# --- secrets never in records ------------------------------------------------
expect 0 "an auditor exports the log" B --as erin audit export
export_all=$OUT
keyb64=$(cut -d' ' -f2 "$T/key.pub")
lacks "no public key in the records" "$keyb64" "$export_all"
lacks "no certificate in the records" "cert-v01" "$export_all"
lacks "no private key in the records" "PRIVATE" "$export_all"
equals "one line per record" "$n" "$(printf '%s\n' "$export_all" | grep -c '^{')"

# --- the canonical form checks out with sed + sha256sum ------------------
bad=0
printf '%s\n' "$export_all" >"$T/export.ndjson"
while IFS= read -r line; do
	h=$(printf '%s' "$line" | sed -E 's/^.*,"hash":"([0-9a-f]{64})","prev":".*$/\1/')
	c=$(printf '%s' "$line" | sed -E 's/^(.*),"hash":"[0-9a-f]{64}"(,"prev":")/\1\2/' |
	    sha256sum | cut -c1-64)
	[ "$h" = "$c" ] || bad=$((bad + 1))
done <"$T/export.ndjson"
equals "every hash is SHA-256 of the record without its hash member" 0 "$bad"

# --- search filters -----------------------------------------------------------
expect 0 "search --user bob" B --json --as erin audit --user bob
equals "  only bob's records" "" "$(printf '%s\n' "$OUT" | grep '"user": "' | grep -v '"user": "bob"')"
contains "  bob's grant is there" '"target": "r2"' "$OUT"
expect 0 "search --resource host:web-1" B --json --as erin audit --resource host:web-1
equals "  only web-1" "" "$(printf '%s\n' "$OUT" | grep '"resource": "' | grep -v 'host:web-1"')"
contains "  web-1's revocation is there" "grant.revoked" "$OUT"
expect 0 "search --action request.approved" B --json --as erin audit --action request.approved
equals "  one approval" 1 "$(printf '%s\n' "$OUT" | grep -c '"action": "request.approved"')"
expect 0 "search --request r3" B --json --as erin audit --request r3
equals "  only r3" "" "$(printf '%s\n' "$OUT" | grep '"target": "' | grep -v '"r3"')"
contains "  with carol's approval" '"actor": "carol"' "$OUT"
expect 0 "search --since 1h" B --json --as erin audit --since 1h
equals "  finds everything" "$n" "$(seqs | wc -l)"
expect 0 "search --until 2000-01-01" B --json --as erin audit --until 2000-01-01
equals "  finds nothing" 0 "$(seqs | wc -l)"
future=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
expect 0 "search --since a future RFC 3339 time" B --json --as erin audit --since "$future"
equals "  finds nothing" 0 "$(seqs | wc -l)"
expect 0 "search --since and --until around now" B --json --as erin audit --since 2h --until "$future" --user alice --action request.granted
equals "  alice's two grants" 2 "$(seqs | wc -l)"
expect 0 "search --limit 2" B --json --as erin audit --limit 2
equals "  two records, newest first" "$n $((n - 1))" "$(seqs | tr '\n' ' ' | sed 's/ $//')"
expect 0 "audit --json (as an option) is an array" B --as erin audit --json --limit 1
case $OUT in "["*) ok "  it starts with [" ;; *) not_ok "  it starts with [" ;; esac
expect 2 "a bad --since is a usage error" B --as erin audit --since yesterday
expect 2 "a bad --limit is a usage error" B --as erin audit --limit 0
expect 2 "an unknown subcommand is a usage error" B audit frobnicate

# --- hostile text printed safely ----------------------------------------------
expect 0 "the human table" B --as erin audit --user bob
contains "  shows the escape escaped" '\x1b[2J' "$OUT"
contains "  shows the newline escaped" 'tab\there\nsecond line' "$OUT"
esc=$(printf '\033'); bel=$(printf '\007')
lacks "  no raw ESC reaches the terminal" "$esc" "$OUT"
lacks "  no raw BEL reaches the terminal" "$bel" "$OUT"
equals "  one line per record plus the header" "$(($(B --json --as erin audit --user bob | grep -c '"seq"') + 1))" "$(printf '%s\n' "$OUT" | wc -l)"
expect 0 "the human table with --since" B --as erin audit --since 1h
contains "  has the columns" "ACTOR(CALLER)" "$OUT"
contains "  names the caller under --as" "alice(root)" "$OUT"
contains "  and the delegate that carried an approval" "carol(daemon)" "$OUT"

# --- readers see only their own records ----------------------------------
expect 0 "alice searches" B --json --as alice audit
lacks "  she does not see bob's" '"user": "bob"' "$OUT"
contains "  she sees carol's approval of her request" '"actor": "carol"' "$OUT"
expect 0 "alice asks for bob's records" B --json --as alice audit --user bob
equals "  and gets none" 0 "$(seqs | wc -l)"
expect 0 "carol sees the approval she made" B --json --as carol audit --action request.approved
equals "  one" 1 "$(seqs | wc -l)"
expect 0 "mallory searches" B --json --as mallory audit
lacks "  she sees no one else's" '"user": "alice"' "$OUT"
expect 4 "alice may not export" B --as alice audit export
expect 4 "alice may not read anchors" B --as alice audit anchor
expect 4 "alice may not prune" B --as alice audit prune --before 1d
expect 4 "bob (no role) may not prune" B --as bob audit prune --before 1d

# --- export resumes -------------------------------------------------------
third=$(printf '%s\n' "$export_all" | sed -n 3p | sed -E 's/.*,"seq":([0-9]+),.*/\1/')
expect 0 "export --since the third record" B --as erin audit export --since "$third"
equals "  the rest of the log" "$((n - 3))" "$(printf '%s\n' "$OUT" | grep -c '^{')"
equals "  starting right after it" "$((third + 1))" "$(printf '%s\n' "$OUT" | sed -n 1p | sed -E 's/.*,"seq":([0-9]+),.*/\1/')"
equals "  first three + rest = everything" "$export_all" "$(printf '%s\n' "$export_all" | sed -n 1,3p; printf '%s\n' "$OUT")"
expect 0 "export --since the head is empty" B --as erin audit export --since "$n"
equals "  no lines" "" "$OUT"

# --- anchors -----------------------------------------------------------------
expect 1 "no anchor before one is made (auditor)" B --as erin audit anchor
expect 0 "an auditor makes an anchor" B --as erin audit anchor --new -o "$T/anchor1.txt"
aseq=$(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$T/anchor1.txt")
equals "  it covers the head" "$n" "$aseq"
[ -f "$S/anchors/anchor-$aseq.txt" ] && ok "  and is exported to the state dir" ||
    not_ok "  and is exported to the state dir"
expect 0 "  the latest anchor can be fetched" B --as erin audit anchor
equals "  it is the same" "$(cat "$T/anchor1.txt")" "$OUT"
expect 0 "  an audit.anchor record was written" B --json --as erin audit --action audit.anchor
contains "  naming the anchored record" "\"seq\": $aseq" "$OUT"
expect 0 "verify --anchor passes" B audit verify --anchor "$T/anchor1.txt"
contains "  and says so" "holds the anchor" "$OUT"
expect 0 "plain verify checks the latest stored anchor too" B audit verify
contains "  and says so" "holds the latest stored anchor (record $aseq)" "$OUT"
sed 's/"seq":[0-9]*/"seq":1/' "$T/anchor1.txt" >"$T/forged.txt"
expect 4 "a forged anchor fails" B audit verify --anchor "$T/forged.txt"
contains "  on its signature" "signature" "$OUT"
printf 'garbage\n' >"$T/garbage.txt"
expect 2 "a malformed anchor is a usage error" B audit verify --anchor "$T/garbage.txt"

# --- tampering, found at the right record ------------------------------
B --as bob request host:web-4 --reason "after the anchor" >/dev/null
B --as alice request host:web-5 --reason "also after" >/dev/null
save
tamper flip 3
expect 4 "one byte changed in record 3 is found" B audit verify
contains "  at record 3" "first bad record: 3" "$OUT"
expect 0 "  and reads still work" B --as erin audit --limit 1
restore
tamper flip 5 20
expect 4 "one byte changed at offset 20 of record 5 is found" B audit verify
contains "  at record 5" "first bad record: 5" "$OUT"
restore
tamper delete 4
expect 4 "a deleted record is found" B audit verify
contains "  at record 4" "first bad record: 4" "$OUT"
contains "  as missing" "missing" "$OUT"
restore
tamper swap 2 6
expect 4 "reordered records are found" B audit verify
contains "  at record 2" "first bad record: 2" "$OUT"
restore
tamper delete 1
expect 4 "a deleted first record is found" B audit verify
contains "  at record 1" "first bad record: 1" "$OUT"
restore
expect 0 "the restored log verifies" B audit verify --anchor "$T/anchor1.txt"
# truncation: the anchor, its record and what followed are cut off and the
# head moved back, so the chain alone looks whole
# (plain verify caught nothing here before it checked the stored anchor:
# checked against the previous broker, which exits 0)
tamper truncate 4
expect 4 "a truncated log with a moved head is caught by the stored anchor" B audit verify
contains "  and says so" "truncated" "$OUT"
expect 4 "  and by the exported anchor" B audit verify --anchor "$T/anchor1.txt"
contains "  and says so" "truncated" "$OUT"
restore

# --- prune: two people and a floor ----------------------------------------
# Fails when the broker prunes at once on one admin's word, or within
# limits.audit_min_retention: checked against the previous broker (which
# pruned on "audit prune --before 1s" and knew no confirm) and by dropping
# the two-person-prune test and the floor in op_audit_prune/apply_confirm.
expect 0 "a fresh anchor" B --as erin audit anchor --new -o "$T/anchor2.txt"
a2=$(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$T/anchor2.txt")
sleep 2
expect 4 "a prune within limits.audit_min_retention (90d by default) is refused" B --as erin audit prune --before 1s
contains "  naming the limit" "audit_min_retention" "$ERR"
expect 0 "  and nothing was pruned" B --json --as erin audit --request r1
[ "$(seqs | grep -c .)" -gt 0 ] && ok "  r1's records are all there" || not_ok "  r1's records are all there"
expect 2 "a bad retention is refused by policy check" B policy check "$(sed 's/"clock_skew": "60s",/"clock_skew": "60s", "audit_min_retention": "ever",/' "$T/policy.json" >"$T/bad.json"; echo "$T/bad.json")"
contains "  naming the key" "audit_min_retention" "$ERR"
sed 's/"clock_skew": "60s",/"clock_skew": "60s", "audit_min_retention": "1s",/' "$T/policy.json" >"$T/short.json"
expect 0 "a policy keeping 1s of history" B --as erin policy load "$T/short.json" --reason "test retention"
expect 4 "alice may not file a prune" B --as alice audit prune --before 1s
expect 3 "erin files a prune: it is pending" B --as erin audit prune --before 1s
pid=$(printf '%s\n' "$OUT" | sed -n 's/^\(p[0-9]*\) pending.*/\1/p')
contains "  with an id" "p" "$pid"
contains "  and says who confirms it" "another policy admin or auditor" "$OUT"
expect 0 "  nothing is pruned yet" B --json --as erin audit --request r1
[ "$(seqs | grep -c .)" -gt 0 ] && ok "  r1's records are still there" || not_ok "  r1's records are still there"
expect 0 "the pending prune is listed" B --as gus audit prune list
contains "  by id" "$pid" "$OUT"
expect 4 "alice may not list prunes" B --as alice audit prune list
expect 4 "erin may not confirm her own prune" B --as erin audit prune confirm "$pid"
contains "  named rule" "two-person-prune" "$ERR"
expect 4 "gus may not confirm it through the connection that filed it (root)" B --as gus audit prune confirm "$pid"
contains "  named rule" "two-person-prune" "$ERR"
expect 4 "bob (no role) may not confirm" A bob audit prune confirm "$pid"
expect 2 "a bad prune id is a usage error" A gus audit prune confirm r1
expect 1 "an unknown prune id is refused" A gus audit prune confirm p999999
expect 4 "gus confirms through his own connection: what the anchor covers goes, the rest is refused" A gus audit prune confirm "$pid"
contains "  it pruned through the anchor" "through record $a2" "$OUT"
contains "  and says the rest needs an anchor" "no exported anchor covers" "$ERR"
expect 1 "a prune runs once" A gus audit prune confirm "$pid"
expect 0 "the pruned log verifies" B audit verify
expect 0 "  and still holds the anchor" B audit verify --anchor "$T/anchor2.txt"
expect 4 "  an anchor older than the kept records is refused" B audit verify --anchor "$T/anchor1.txt"
contains "  as pruned" "pruned" "$OUT"
expect 0 "pruned records are gone from search" B --json --as erin audit --request r1
equals "  none for r1" 0 "$(seqs | grep -c .)"
expect 0 "the prune is itself recorded" B --json --as erin audit --action audit.pruned
contains "  run by gus" '"actor": "gus"' "$OUT"
contains "  filed by erin" '"filed_by": "erin"' "$OUT"
expect 0 "so are its filing and its confirmation, under its id" B --json --as erin audit --request "$pid"
contains "  filed by erin" '"action": "audit.prune.filed"' "$OUT"
contains "  confirmed by gus" '"actor": "gus"' "$OUT"
expect 3 "a prune of nothing is filed" B --as erin audit prune --before 2000-01-01
pid=$(printf '%s\n' "$OUT" | sed -n 's/^\(p[0-9]*\) pending.*/\1/p')
expect 0 "  and confirmed" A gus audit prune confirm "$pid"
contains "  nothing to prune" "nothing to prune" "$OUT"
tamper delete "$((a2 + 1))"
expect 4 "deleting the first kept record after a prune is found" B audit verify
contains "  at that record" "first bad record: $((a2 + 1))" "$OUT"
stop_broker

# --- periodic anchors -------------------------------------------------------
config 16777216 "$S" 2 0 >"$T/periodic.json"
rm -rf "$S" && mkdir -m 0700 "$S"
start_broker -c "$T/periodic.json"
for i in 1 2 3; do B --as alice request "host:web-$i" >/dev/null; done
i=0
while [ $i -lt 40 ] && [ "$(ls "$S/anchors" 2>/dev/null | grep -c 'anchor-.*\.txt$')" -lt 1 ]; do
	sleep 0.1; i=$((i + 1))
done
files=$(ls "$S/anchors" 2>/dev/null | grep -c 'anchor-.*\.txt$')
[ "$files" -ge 1 ] && ok "anchors are made every N records ($files files)" ||
    not_ok "anchors are made every N records"
expect 0 "  and recorded" B --json --as erin audit --action audit.anchor
contains "  as audit.anchor" "audit.anchor" "$OUT"
f=$(ls "$S/anchors"/anchor-*.txt | head -1)
expect 0 "  an exported anchor file verifies" B audit verify --anchor "$f"
stop_broker

# --- fail closed: a full store refuses changes, keeps the chain --------
F=$T/full
mkdir -m 0700 "$F"
config 1048576 "$F" >"$T/small.json"
start_broker -c "$T/small.json"
reason=$(printf '%0500d' 0)
i=0; full=
while [ $i -lt 600 ]; do
	run B --as alice request "host:web-$((i % 50))" --reason "$reason" --new
	if [ "$RC" != 0 ]; then full=$RC; break; fi
	i=$((i + 1))
done
# then small ones, until not even those fit
j=0
while [ -n "$full" ] && [ $j -lt 600 ]; do
	run B --as bob request "host:web-$((j % 50))" --new
	[ "$RC" != 0 ] && break
	j=$((j + 1))
done
equals "changes are refused once the store is full (exit 1)" 1/1 "${full:-none}/$RC"
contains "  the error says the store is full" "full" "$ERR"
before=$(head_seq)
expect 1 "another change is refused" B --as bob request host:web-1 --reason x --new
contains "  with the same error" "full" "$ERR"
equals "  and no audit record was written" "$before" "$(head_seq)"
expect 0 "reads work: search" B --as erin audit --limit 3
expect 0 "reads work: verify, intact" B audit verify
contains "  intact" "intact" "$OUT"
expect 0 "reads work: export" B --as erin audit export --since "$((before - 2))"
equals "  the last two records" 2 "$(printf '%s\n' "$OUT" | grep -c '^{')"
stop_broker
config 16777216 "$F" >"$T/big.json"
start_broker -c "$T/big.json"
expect 0 "after a restart with a bigger mapsize, changes work" B --as bob request host:web-1 --new
equals "  one more record" "$((before + 1))" "$(head_seq)"
expect 0 "  and the chain verifies" B audit verify
stop_broker
finish

#!/bin/sh
# t_pgcluster.sh - two brokers on one PostgreSQL store (lib.sh pg_start):
# a request filed on A is approved on A and B (quorum 2), two approvals
# racing on both brokers count right, a freeze made on B is in force on A,
# A killed with -9 under load while B keeps serving: every acknowledged
# grant is there exactly once and `audit verify` passes on both.  Expiry
# sweeps and notifications run once for the cluster (by the leader), and
# B takes them over when A dies; a review made overdue before A dies is
# recorded once, not again by B.
. "$(dirname "$0")/lib.sh"
# this test chooses its brokers' stores itself, under make check-pg too
pg_cluster_begin
# one webhook for both brokers: the cluster's events must reach it once
mkdir -p "$T/sink"
"$TOOLS/httpsink" "$T/sink" >"$T/sink.port" 2>"$T/sink.log" &
SINK_PID=$!
i=0
while [ $i -lt 100 ] && ! [ -s "$T/sink.port" ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$T/sink.port")
cfg() {
	mkdir -p -m 0700 "$T/$1"
	cat >"$T/$1.json" <<C
{ "state_dir": "$T/$1", "socket": "$T/$1.sock", "policy": "$T/policy.json",
  $GROUPS_JSON, "delegates": [$VIA_DELEGATES],
  "store": { "backend": "postgres", "conninfo_file": "$PG_CONNINFO" },
  "notify": { "webhook": { "url": "http://127.0.0.1:$port/hook", "timeout": 10,
                           "retries": 0 }, "events": ["grant.expired"] } }
C
}
cfg a
cfg b
SA=$T/a.sock
SB=$T/b.sock
export BROKER_SOCKET=$SA
# break-glass reviews due 2 s after the grant (test knob, reviews.c)
export BROKER_REVIEW_UNSAFE_DUE=2
expect 0 "brokerd --migrate" "$BROKERD" -c "$T/a.json" --migrate
# Every 3rd write transaction of each broker is answered as a lost
# serialization conflict (a test knob; the table lock makes real ones
# rare): every check below holds with batches run again.
export BROKER_STORE_UNSAFE_CONFLICT=3
start_broker -c "$T/a.json"
# A takes the cluster's chores before B starts (its first leader poll
# comes from its feed thread, soon after ready: on a loaded machine B
# could start first), so that "A leads, B stands by" below is a fact
i=0
while [ $i -lt 100 ] && ! grep -q "event=store_leader acquired" "$T/brokerd.log"; do
	sleep 0.05; i=$((i + 1))
done
# one CA for the cluster: B signs with A's keys (docs/scaling.md)
start_peer b
onA() { BROKER_SOCKET=$SA "$@"; }
onB() { BROKER_SOCKET=$SB "$@"; }
req() { sed -n 's/^\(r[0-9]*\) .*/\1/p' | head -1; }

# ---- quorum 2 across brokers -----------------------------------------
run onA "$BROKER" --as alice request host:app-prod-1 --reason deploy --ticket OPS-1
id=$(echo "$OUT" | req)
equals "filed on A, pending (exit 3)" 3 "$RC"
onB expect 0 "B sees A's request" "$BROKER" show "$id"
onA expect 0 "frank approves on A" A frank approve "$id" --reason ok
run onB "$BROKER" show "$id"
contains "one approval is not quorum 2" "pending" "$OUT"
onB expect 0 "erin approves on B" A erin approve "$id" --reason ok
onA expect 0 "A sees it active" "$BROKER" check --user alice --resource host:app-prod-1

# ---- a revoke on B ends A's answer to check within 1 s ----------------
# A answers check from memory (ops_query.c); B's commit must end that copy.
# Fails when the copy outlives other brokers' commits: checked by not
# moving the generation in store_follow_poll() (A still said allowed
# after 1155 ms: red).
onA "$BROKER" check --user alice --resource host:app-prod-1 >/dev/null
onA "$BROKER" check --user alice --resource host:app-prod-1 >/dev/null
onB expect 0 "revoke on B" A erin revoke "$id" --reason over
# Timed to the start of the check that refused (a slow CLI run on a loaded
# machine is not slow propagation).
t0=$(date +%s%N)
n=0
while [ $n -lt 40 ]; do
	ta=$(date +%s%N)
	run onA "$BROKER" check --user alice --resource host:app-prod-1
	[ "$RC" != 0 ] && break
	sleep 0.02; n=$((n + 1))
done
ms=$(( (ta - t0) / 1000000 ))
if [ "$RC" != 0 ] && [ $ms -le 1000 ]; then
	ok "A's check refuses after B's revoke (${ms} ms)"
else not_ok "revoke on B seen by A's check (exit $RC after $ms ms)"; fi

# ---- racing approvals ----------------------------------------------------
# Two approvers at once, one on each broker: quorum reached once, both
# recorded.  The same approver on both at once: counted once.  Fails when
# write transactions neither queue on the table lock nor are SERIALIZABLE
# (checked with READ COMMITTED and no LOCK TABLE in store_pg.c
# begin_top(): one approval of two racing ones was lost, 2 of 5 went
# active: red; again with the write transactions' overlay and prefetch:
# 0 of 5 active, serials acknowledged twice, the chain forked: red).
ok_races=0
same_races=0
for n in 1 2 3 4 5; do
	run onA "$BROKER" --as alice request host:app-prod-$((n + 1)) --reason r --ticket OPS-$n
	r1=$(echo "$OUT" | req)
	onA A frank approve "$r1" --reason a >/dev/null 2>&1 &
	p1=$!
	onB A erin approve "$r1" --reason b >/dev/null 2>&1 &
	p2=$!
	wait $p1; wait $p2
	run onB "$BROKER" show "$r1"
	case $OUT in *active*) ok_races=$((ok_races + 1)) ;; esac
	run onA "$BROKER" --as bob request host:app-prod-$((n + 10)) --reason r --ticket OPS-$n
	r2=$(echo "$OUT" | req)
	onA A frank approve "$r2" --reason a >/dev/null 2>&1 &
	p1=$!
	onB A frank approve "$r2" --reason b >/dev/null 2>&1 &
	p2=$!
	wait $p1; wait $p2
	run onA "$BROKER" show "$r2"
	case $OUT in *pending*) same_races=$((same_races + 1)) ;; esac
done
equals "two approvers racing on A and B: active, 5 of 5" 5 "$ok_races"
equals "one approver racing on A and B: still pending, 5 of 5" 5 "$same_races"

# ---- a batch run again applies each mutation as it was asked ----------
# A's writer waits for the table lock (held here by psql) with a flag
# removal queued; a cancel of a request that does not exist queues behind
# it; both go into one batch, the cancel fails, and the batch runs again
# from the start (writer.h).  The removal must keep the reason it was
# given.  Fails when the second run starts from what the first wrote
# (checked by passing apply_flag()'s output, op->f, to flags_change() as
# its input too: the removal recorded the flag's own reason, "own
# reason").
onA expect 0 "flag dave on A" A frank flag add dave --reason "own reason" --for 1h
locks() { # locks GRANTED: the table locks granted (true) or waited for
	su_psql -d broker -c "SELECT count(*) FROM pg_locks WHERE
	    relation = 'broker_kv'::regclass AND mode = 'ShareRowExclusiveLock'
	    AND granted = $1"
}
hold_lock() { # the brokers' table lock, held here for 5 s (LOCKER)
	su_psql -d broker -c "BEGIN; LOCK TABLE broker_kv IN SHARE ROW
	    EXCLUSIVE MODE; SELECT pg_sleep(5); COMMIT" >/dev/null &
	LOCKER=$!
	n=0
	while [ $n -lt 100 ] && [ "$(locks true)" != 1 ]; do
		sleep 0.05; n=$((n + 1))
	done
}
waiters() { # waiters N: until N writers wait for the lock (at most 5 s)
	n=0
	while [ $n -lt 100 ] && [ "$(locks false)" -lt "$1" ]; do
		sleep 0.05; n=$((n + 1))
	done
	waited=$(locks false)
}
hold_lock
onA A frank --json flag remove dave --reason "removal reason" >"$T/unflag.out" 2>&1 &
UNFLAG=$!
waiters 1
onA A bob cancel r99999 >/dev/null 2>&1 &
CANCEL=$!
wait $LOCKER
wait $UNFLAG; urc=$?
wait $CANCEL; crc=$?
equals "  A's writer waited for the lock with the removal" 1 "$waited"
equals "  the removal succeeded" 0 "$urc"
[ "$crc" != 0 ] && ok "  the cancel behind it failed" || not_ok "  the cancel failed (exit $crc)"
contains "  the removal keeps its own reason" '"end_reason": "removal reason"' "$(cat "$T/unflag.out")"

# ---- a freeze on B is in force on A ------------------------------------
onB expect 0 "freeze on B" A erin freeze --reason "incident" --for 1h
t0=$(date +%s%N)
n=0
while [ $n -lt 40 ]; do
	run onA "$BROKER" --as bob request host:web-99
	[ "$RC" = 3 ] && break
	sleep 0.05; n=$((n + 1))
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$RC" = 3 ] && [ $ms -le 1000 ]; then
	ok "A holds automatic grants for people after B's freeze (${ms} ms)"
else not_ok "freeze on B seen by A (exit $RC after $ms ms)"; fi
onA expect 0 "unfreeze on A" A erin unfreeze --reason over

# ---- a policy loaded through A is in force on B -------------------------
# Fails without the policy follower (policystate.c): checked by not
# starting it (B kept the old policy: red).
sed 's/"id": "staging-auto"/"id": "staging-auto-v2"/' "$T/policy.json" >"$T/p2.json"
onA expect 0 "policy load through A" A erin policy load "$T/p2.json" --reason "v2"
t0=$(date +%s%N)
n=0
while [ $n -lt 40 ]; do
	run onB "$BROKER" --as bob request host:web-p$n --for 10m
	case $OUT in *staging-auto-v2*) break ;; esac
	sleep 0.05; n=$((n + 1))
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
case $OUT in
*staging-auto-v2*) [ $ms -le 1000 ] && ok "B decides by A's new policy (${ms} ms)" ||
	not_ok "B took $ms ms to install A's policy" ;;
*) not_ok "B decides by A's new policy (after $ms ms: $OUT)" ;;
esac

# ---- expiry: swept once, notified once, by the cluster's leader ---------
# hooks ID: how many webhook bodies name request ID
hooks() { grep -l "\"target\":\"$1\"" "$T/sink"/body.* 2>/dev/null | wc -l; }
# expiry ON ID: wait (5 s at most) for the webhook about ID's expiry
expiry() {
	n=0
	while [ $n -lt 100 ] && [ "$(hooks "$2")" = 0 ]; do sleep 0.05; n=$((n + 1)); done
	sleep 1 # time for a second, wrong, webhook to come
	equals "$1: one webhook for the expiry of $2" 1 "$(hooks "$2")"
	run onB "$BROKER" show "$2"
	equals "$1: one grant.expired record for $2" 1 "$(echo "$OUT" | grep -c grant.expired)"
}
# Fails when every broker runs the chores: checked with store_leader()
# always true (ops.c, auditfeed.c): two webhooks for one expiry: red.
onA expect 0 "a grant for 2 s through A" "$BROKER" --as alice request host:web-short --for 2s
short=$(echo "$OUT" | req)
expiry "two brokers" "$short"
grep -q "event=store_leader acquired" "$T/brokerd.log" &&
    ok "A (started first) leads" || not_ok "A leads"
grep -q "event=store_leader acquired" "$T/b.log" &&
    not_ok "B leads too" || ok "B stands by"

# ---- certificates issued on both brokers at once -----------------------
# Batches that lose a serialization conflict run again; a certificate must
# be signed for the record that was committed, once (with the knob above,
# a third of the batches run twice).  Fails when the signing is queued
# from apply on PostgreSQL too (store_may_conflict() made to say false):
# a pass that is rolled back queues the same request twice.
ssh-keygen -q -t ed25519 -N '' -C pgc -f "$T/ukey"
certload() { # $1 socket, $2 tag: 25 grants with certificates
	i=0
	while [ $i -lt 25 ]; do
		BROKER_SOCKET=$1 "$BROKER" --json --as alice request \
		    "host:web-c$2-$i" --for 10m --pubkey "$T/ukey.pub" \
		    >"$T/cert-$2-$i.json" 2>/dev/null
		i=$((i + 1))
	done
}
pids=
for k in 1 2 3 4; do
	certload "$SA" "a$k" &
	pids="$pids $!"
	certload "$SB" "b$k" &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
certs=0 bad=0
for f in "$T"/cert-*.json; do
	# the reply's id and serial; its certificate to one.cert
	set -- $(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write(r["cert"] + "\n")
print(r["id"], r["serial"])' "$f" "$T/one.cert" 2>/dev/null)
	[ $# -eq 2 ] || { bad=$((bad + 1)); certs=$((certs + 1)); continue; }
	cs=$(ssh-keygen -L -f "$T/one.cert" | sed -n 's/^ *Serial: //p')
	ss=$(onB "$BROKER" --json show "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["serial"])')
	[ "$cs" = "$2" ] && [ "$ss" = "$2" ] || bad=$((bad + 1))
	certs=$((certs + 1))
done >/dev/null
equals "200 grants with certificates from both brokers at once" 200 "$certs"
equals "each certificate carries its committed record's serial" 0 "$bad"
BROKER_SOCKET=$SA expect 0 "A still serves after the certificate load" "$BROKER" status
BROKER_SOCKET=$SB expect 0 "B still serves after the certificate load" "$BROKER" status

# ---- review.overdue: once per item, recorded by the leader -------------
# overdue_n ID: how many review.overdue records the audit holds for ID
overdue_n() {
	onB A erin audit --action review.overdue --request "$1" --json 2>/dev/null |
	    grep -o '"action": *"review.overdue"' | wc -l
}
# wait_overdue ID: until ID's record is there (10 s at most)
wait_overdue() {
	n=0
	while [ $n -lt 100 ] && [ "$(overdue_n "$1")" = 0 ]; do sleep 0.1; n=$((n + 1)); done
}
run onA "$BROKER" --as alice request host:db-prod-1 --break-glass --reason outage
bg1=$(echo "$OUT" | req)
equals "break-glass through A ($bg1)" 0 "$RC"
wait_overdue "$bg1"
equals "its review overdue: one record, by A (the leader)" 1 "$(overdue_n "$bg1")"

# ---- kill -9 of A under load; B keeps serving --------------------------
: >"$T/acked"
load() { # $1 broker socket, $2 tag
	i=0
	while [ $i -lt 400 ]; do
		out=$(BROKER_SOCKET=$1 "$BROKER" --as alice request host:web-$2-$i --for 10m 2>/dev/null) &&
		    echo "$out" | req >>"$T/acked"
		i=$((i + 1))
	done
}
load "$SA" a &
la=$!
load "$SB" b &
lb=$!
sleep 1
kill9_broker
wait $la
wait $lb
BROKER_SOCKET=$SB expect 0 "B still serves after A died" "$BROKER" --as alice request host:web-after --for 10m
acked=$(sort "$T/acked" | uniq | wc -l)
dups=$(sort "$T/acked" | uniq -d | wc -l)
equals "no serial acknowledged twice" 0 "$dups"
missing=0
for r in $(sort -u "$T/acked"); do
	onB "$BROKER" show "$r" 2>/dev/null | grep -q active || missing=$((missing + 1))
done
equals "every acknowledged grant ($acked) is active on B" 0 "$missing"
rows=$(su_psql -d broker -c "SELECT count(*) FROM broker_kv WHERE tbl = 1")
[ "$rows" -ge "$acked" ] && ok "each is one stored request ($rows rows)" || not_ok "rows $rows < acked $acked"
onB expect 0 "audit verify on B: one chain for the cluster" "$BROKER" audit verify
# B takes over the chores once A's session is gone.  Fails without the
# takeover: checked with p_leader_poll() never trying the lock again
# after a first "no" (no webhook, no grant.expired: red).
onB expect 0 "a grant for 2 s through B" "$BROKER" --as alice request host:web-short2 --for 2s
short=$(echo "$OUT" | req)
expiry "A killed, B took over" "$short"
grep -q "event=store_leader acquired" "$T/b.log" &&
    ok "B took the lead" || not_ok "B took the lead"
# B, now leading, looks for overdue reviews: a new one gets its record,
# and the one A recorded before it died gets none again.  Fails when the
# store is not asked whether an item has its record (overdue_recorded()
# in notify.c always answering no: 9 records for bg1, 2 for bg2: red).
run onB "$BROKER" --as bob request host:db-prod-1 --break-glass --reason outage
bg2=$(echo "$OUT" | req)
equals "break-glass through B ($bg2)" 0 "$RC"
wait_overdue "$bg2"
sleep 2.5 # B looks again every 2 s (the knob's due time)
equals "B records the overdue review of $bg2" 1 "$(overdue_n "$bg2")"
equals "A's overdue record of $bg1 is not repeated after the takeover" 1 "$(overdue_n "$bg1")"

start_broker -c "$T/a.json"
onA expect 0 "A restarted verifies the same chain" "$BROKER" audit verify
stop_peer
equals "B stops cleanly" 0 "$?"
stop_broker
kill $SINK_PID 2>/dev/null
finish

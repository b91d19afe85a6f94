#!/bin/sh
# Durability: kill -9 the daemon at random moments under load.  Every
# request acknowledged to a client must exist exactly once after restart,
# nothing may exist without its audit record, and the chain must verify.
# kill -9 keeps the page cache, so this passes even with syncing off: power
# loss is t_powerloss.sh.
. "$(dirname "$0")/lib.sh"
ROUNDS=${CRASH_ROUNDS:-20}

client() {	# client N: request in a loop, log acknowledged ids
	while :; do
		id=$("$BROKER" --json --as alice request host:web-$1 --new 2>/dev/null | json_get id)
		[ -n "$id" ] && echo "$id" >>"$T/acked.$1"
	done
}

approver() {	# file a request, approve it; log acknowledged approvals
	while :; do
		id=$("$BROKER" --json --as bob request host:db-prod-1 --role bob --reason crash --new 2>/dev/null | json_get id)
		[ -n "$id" ] && echo "$id" >>"$T/acked.pending" &&
		"$BROKER" --as carol approve "$id" --reason ok >/dev/null 2>&1 &&
			echo "$id" >>"$T/approved"
	done
}

opter() {	# add and remove opt-outs; log acknowledged ones
	while :; do
		id=$("$BROKER" --json --as frank optout add 'resource:host:app-prod-*' --tag maintenance --reason crash --for 1h 2>/dev/null | json_get id)
		[ -n "$id" ] && echo "$id" >>"$T/optouts" &&
		"$BROKER" --as frank optout remove "$id" --reason done >/dev/null 2>&1 &&
			echo "$id" >>"$T/removed"
	done
}

# the dev policy with the per-user request limits raised: alice and bob
# file hundreds of requests here, and a kill between bob's request and its
# approval leaves it pending
bulk_policy "$T/d/policy.json"
start_broker
expect 0 "a grant right before kill -9" B --json --as alice request host:web-0
first=$(echo "$OUT" | json_get id)
kill9_broker
start_broker
expect 0 "it is there after restart" B --json --as alice show "$first"
contains "still active" '"state": "active"' "$OUT"

round=0; bad=0
while [ $round -lt "$ROUNDS" ]; do
	round=$((round + 1))
	client 1 & c1=$!
	client 2 & c2=$!
	approver & c3=$!
	opter & c4=$!
	# a random moment between 0.1 and 0.6 s after this round's first
	# approval
	wait_more "$T/approved"
	sleep "0.$(( (round * 7919 + $$) % 5 + 1 ))"
	kill9_broker
	kill $c1 $c2 $c3 $c4 2>/dev/null; wait $c1 $c2 $c3 $c4 2>/dev/null
	start_broker
	"$BROKER" --json --as erin list --all --limit 10000 | sed -n 's/^    "id": "\(r[0-9]*\)",$/\1/p' | sort >"$T/stored"
	cat "$T"/acked.* 2>/dev/null | sort >"$T/acked"
	dups=$(uniq -d "$T/stored" | wc -l)
	missing=$(comm -23 "$T/acked" "$T/stored" | wc -l)
	nreq=$(wc -l <"$T/stored")
	nrec=$("$BROKER" --json audit verify | json_get records)
	intact=$("$BROKER" --json audit verify | json_get ok)
	# every acknowledged approval left its request active (or expired:
	# never pending), every acknowledged opt-out exists, and removed ones
	# are ended
	lost=0
	for id in $(tail -3 "$T/approved" 2>/dev/null); do
		st=$("$BROKER" --json --as erin show "$id" | json_get state)
		[ "$st" = active ] || lost=$((lost + 1))
	done
	for id in $(tail -3 "$T/optouts" 2>/dev/null); do
		"$BROKER" optout show "$id" >/dev/null 2>&1 || lost=$((lost + 1))
	done
	for id in $(tail -3 "$T/removed" 2>/dev/null); do
		"$BROKER" --json optout show "$id" | grep -q '"active": false' ||
			lost=$((lost + 1))
	done
	if [ "$dups" != 0 ] || [ "$missing" != 0 ] || [ "$intact" != true ] ||
	    [ "$lost" != 0 ]; then
		bad=$((bad + 1))
		echo "# round $round: dups=$dups missing=$missing lost=$lost requests=$nreq records=$nrec intact=$intact"
	fi
done
equals "$ROUNDS kill -9 rounds under grants, approvals and opt-outs: acknowledged = durable, exactly once, chain intact" 0 "$bad"
# Shown red: with the approver's "approve" line commented out, and with
# wait_more removed and a 0.01 s window
approvals=$(cat "$T/approved" 2>/dev/null | wc -l)
equals "approvals ran in most rounds" yes "$( [ "$approvals" -gt $((ROUNDS / 2)) ] && echo yes || echo "no: $approvals")"
equals "opt-outs ran" yes "$( [ "$(wc -l <"$T/optouts")" -gt 5 ] && echo yes || echo no)"
equals "load actually ran" yes "$( [ "$(wc -l <"$T/acked")" -gt 20 ] && echo yes || echo no)"
finish

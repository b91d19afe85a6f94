#!/bin/sh
# Durability: kill -9 the daemon at random moments under load.  Every
# request acknowledged to a client must exist exactly once after restart,
# nothing may exist without its audit record, and the chain must verify.
. "$(dirname "$0")/lib.sh"
ROUNDS=${CRASH_ROUNDS:-20}

client() {	# client N: request in a loop, log acknowledged ids
	while :; do
		id=$("$BROKER" --json --as alice request host:web-$1 2>/dev/null | json_get id)
		[ -n "$id" ] && echo "$id" >>"$T/acked.$1"
	done
}

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
	client 3 & c3=$!
	# a random moment between 0.1 and 0.6 s
	sleep "0.$(( (round * 7919 + $$) % 5 + 1 ))"
	kill9_broker
	kill $c1 $c2 $c3 2>/dev/null; wait $c1 $c2 $c3 2>/dev/null
	start_broker
	"$BROKER" --json --as erin list --all --limit 10000 | sed -n 's/^    "id": "\(r[0-9]*\)",$/\1/p' | sort >"$T/stored"
	cat "$T"/acked.* 2>/dev/null | sort >"$T/acked"
	dups=$(uniq -d "$T/stored" | wc -l)
	missing=$(comm -23 "$T/acked" "$T/stored" | wc -l)
	nreq=$(wc -l <"$T/stored")
	nrec=$("$BROKER" --json audit verify | json_get records)
	intact=$("$BROKER" --json audit verify | json_get ok)
	# one audit record per request, plus the policy load at first start
	if [ "$dups" != 0 ] || [ "$missing" != 0 ] || [ "$intact" != true ] ||
	    [ "$nrec" != $((nreq + 1)) ]; then
		bad=$((bad + 1))
		echo "# round $round: dups=$dups missing=$missing requests=$nreq records=$nrec intact=$intact"
	fi
done
equals "$ROUNDS kill -9 rounds: acknowledged = durable, exactly once, audited" 0 "$bad"
equals "load actually ran" yes "$( [ "$(wc -l <"$T/acked")" -gt 20 ] && echo yes || echo no)"
finish

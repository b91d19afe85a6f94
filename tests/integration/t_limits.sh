#!/bin/sh
# Per-user limits, so that no requester can flood the broker or bury the
# approvers' queue: at most limits.pending_per_user pending requests and
# limits.requests_per_minute new requests (denied ones included) per user,
# refused with exit 4 and a message naming the limit; and `pending` lists
# oldest first, a page at a time (--limit N, --after ID).
# Fails on the code before this change, which had neither limit and no
# paging (checked by running this file against it, with the limits taken
# out of the policy it could not parse: the "refused" checks, the paging
# checks and the concurrent one, 10 recorded instead of 6, went red).
. "$(dirname "$0")/lib.sh"
mkdir -m 0700 "$T/state"
cat >"$T/policy.json" <<'P'
{ "version": 1,
  "rules": [
    { "id": "web-auto", "when": { "groups": ["dev"], "resources": ["host:web-*"] },
      "grant": "auto", "max_ttl": "1h" },
    { "id": "db-approve", "when": { "groups": ["dev"], "resources": ["host:db-*"] },
      "grant": "approve", "max_ttl": "1h", "approvers": { "groups": ["leads"] } },
    { "id": "no-vault", "when": { "resources": ["host:vault-*"] }, "grant": "deny" }
  ],
  "roles": { "policy_admins": { "groups": ["secops"] }, "auditors": { "groups": ["secops"] } },
  "limits": { "pending_per_user": 3, "requests_per_minute": 6 } }
P
cat >"$T/brokerd.json" <<C
{ "state_dir": "$T/state", "socket": "$T/broker.sock", "policy": "$T/policy.json",
  "local_groups": { "dev": ["alice", "bob", "carol", "dave"], "secops": ["erin"],
                    "leads": ["lee"] } }
C
export BROKER_SOCKET=$T/broker.sock
start_broker -c "$T/brokerd.json"
records() { B --json --as erin audit verify | json_get records; }

# pending_per_user
expect 3 "alice: pending 1" B --json --as alice request host:db-1
a1=$(echo "$OUT" | json_get id)
expect 3 "alice: pending 2" B --json --as alice request host:db-2
a2=$(echo "$OUT" | json_get id)
expect 3 "alice: pending 3" B --json --as alice request host:db-3
a3=$(echo "$OUT" | json_get id)
expect 3 "carol files after her" B --json --as carol request host:db-9
c1=$(echo "$OUT" | json_get id)
n=$(records)
expect 4 "alice: a fourth pending request is refused (exit 4)" B --as alice request host:db-4
contains "  naming the limit" "limits.pending_per_user" "$ERR"
equals "  and nothing is recorded" "$n" "$(records)"
expect 0 "  an automatic grant is not capped by it" B --as alice request host:web-1
expect 0 "alice cancels one" B --as alice cancel "$a2"
expect 3 "  then she may file again" B --as alice request host:db-4

# pending: oldest first, in pages
run B --json --as lee pending
ids=$(echo "$OUT" | grep -o '"id": "r[0-9]*"' | sed 's/.*"\(r[0-9]*\)"/\1/' | tr '\n' ' ')
contains "pending --json lists oldest first" "$a1 $a3 $c1 " "$ids"
run B --as lee pending
ids=$(echo "$OUT" | awk '/^r[0-9]/ { print $1 }' | sed 's/\x1b\[[0-9;]*m//g' | tr '\n' ' ')
contains "  in order: alice's, then carol's" "$a1 $a3 $c1" "$ids"
expect 0 "pending --limit 2" B --as lee pending --limit 2
contains "  says more may wait" "broker pending --after $a3" "$OUT"
lacks "  and shows only two" "$c1" "$OUT"
expect 0 "pending --after the page's last" B --as lee pending --after "$a3" --limit 2
contains "  shows the next, carol's" "$c1" "$OUT"
lacks "  and not the first page" "$a1" "$OUT"
expect 2 "pending --limit 0 is a usage error" B --as lee pending --limit 0
expect 2 "pending --limit 1001 is a usage error" B --as lee pending --limit 1001
expect 2 "pending --after junk is refused" B --as lee pending --after "r1;x"

# requests_per_minute: every new request counts, denied ones too
expect 4 "bob: 1 (denied)" B --as bob request host:vault-1
expect 4 "bob: 2 (denied)" B --as bob request host:vault-2
expect 4 "bob: 3 (denied)" B --as bob request host:vault-3
expect 0 "bob: 4" B --as bob request host:web-1
expect 0 "bob: 5" B --as bob request host:web-2
expect 0 "bob: 6" B --as bob request host:web-3
n=$(records)
expect 4 "bob: a seventh within the minute is refused (exit 4)" B --as bob request host:web-4
contains "  naming the limit" "limits.requests_per_minute" "$ERR"
equals "  and nothing is recorded" "$n" "$(records)"
expect 0 "another user is not slowed by bob" B --as carol request host:web-1

# ... counted in the transaction that records them: racing requests too
i=0
pids=
while [ $i -lt 10 ]; do
	B --as dave request "host:web-$i" >/dev/null 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
for p in $pids; do wait "$p"; done
n=$(B --json --as erin list --all --limit 1000 | grep -c '"user": "dave"')
equals "10 concurrent requests from dave: exactly 6 recorded" 6 "$n"

# the limits are parsed strictly
cat >"$T/bad.json" <<'P'
{ "version": 1, "rules": [], "limits": { "pending_per_user": 0 } }
P
expect 2 "pending_per_user 0 is refused" B policy check "$T/bad.json"
contains "  with its path" "limits.pending_per_user" "$ERR$OUT"
finish

#!/bin/sh
# Manual approval: quorum, separation of duties, narrowing, denial,
# break-glass with review, and races between deciders.
. "$(dirname "$0")/lib.sh"
mkdir -m 0700 "$T/state"
cat >"$T/policy.json" <<'P'
{ "version": 1,
  "resources": { "host:db-1": { "labels": { "env": "prod" } },
                 "host:app-1": { "labels": { "env": "prod" } } },
  "rules": [
    { "id": "db", "when": { "groups": ["dev"], "resources": ["host:db-*"] },
      "grant": "approve", "max_ttl": "2h", "require": ["reason"], "break_glass": true,
      "approvers": { "groups": ["dba-leads", "secops"], "quorum": 1 } },
    { "id": "app", "when": { "groups": ["dev"], "resources": ["host:app-*"] },
      "grant": "approve", "max_ttl": "4h", "require": ["reason", "ticket"],
      "approvers": { "groups": ["dba-leads", "sre"], "quorum": 2 } }
  ],
  "roles": { "policy_admins": { "groups": ["secops"] }, "auditors": { "groups": ["secops"] },
             "reviewers": { "groups": ["secops"] } },
  "limits": { "break_glass_max_ttl": "1h" } }
P
cat >"$T/brokerd.json" <<C
{ "state_dir": "$T/state", "socket": "$T/broker.sock", "policy": "$T/policy.json",
  "local_groups": { "dev": ["alice", "bob", "dave", "erin"], "dba-leads": ["carol", "dave"],
                    "secops": ["carol", "erin", "rita"], "sre": ["frank"] } }
C
export BROKER_SOCKET=$T/broker.sock
start_broker -c "$T/brokerd.json"
req() { B --json --as "$@" | json_get id; }

expect 2 "a rule that requires a reason refuses without one" B --as alice request host:db-1
id=$(req alice request host:db-1 --reason "fix index")
expect 0 "the approver sees it in pending" B --as carol pending
contains "pending lists it" "$id" "$OUT"
expect 0 "pending --json" B --json --as carol pending
contains "pending shows the approvals so far" '"approvals_needed": 1' "$OUT"
expect 0 "alice does not see her own request as an approver" B --as alice pending
lacks "no self in pending" "$id" "$OUT"
expect 4 "a non-approver may not approve" B --as frank approve "$id" --reason ok
contains "the refusal names the rule" "eligible-approvers" "$ERR"
expect 2 "approve needs a reason" B --as carol approve "$id"
sleep 1.1
expect 0 "quorum 1: one approval grants" B --json --as carol approve "$id" --reason "looks fine"
contains "now active" '"state": "active"' "$OUT"
contains "carol counted once though in two groups" '"approvals": 1' "$OUT"
created=$(B --json --as alice show "$id" | sed -n 's/^  "created_at": "\(.*\)",$/\1/p')
started=$(B --json --as alice show "$id" | sed -n 's/^  "starts_at": "\(.*\)",$/\1/p')
[ "$started" != "$created" ] && ok "the window starts at approval, not at request" || not_ok "window starts at approval ($created vs $started)"
expect 0 "the grant is usable" B --as alice check --resource host:db-1
expect 1 "approving a decided request is refused" B --as dave approve "$id" --reason late

id=$(req dave request host:db-1 --reason mine)
expect 4 "a requester never approves their own request" B --as dave approve "$id" --reason self
contains "named rule" "requester-not-approver" "$ERR"
expect 0 "show of the pending request for an approver" B --as carol show "$id"

expect 2 "a rule that requires a ticket refuses without one" B --as alice request host:app-1 --reason r
id=$(req alice request host:app-1 --reason "deploy" --ticket OPS-1)
expect 0 "first of two approvals" B --json --as carol approve "$id" --reason one
contains "still pending after one of two" '"state": "pending"' "$OUT"
expect 4 "approving twice counts once" B --as carol approve "$id" --reason again
contains "named rule" "one-person-counts-once" "$ERR"
expect 4 "an approver may not lengthen" B --as frank approve "$id" --reason two --for 5h
expect 4 "an approver may not change the role" B --as frank approve "$id" --reason two --role root
expect 0 "second approval, shortened" B --json --as frank approve "$id" --reason two --for 30m
contains "quorum 2 reached" '"state": "active"' "$OUT"
contains "the grant takes the narrowest duration" '"ttl": 1800' "$OUT"
expect 0 "an approver may revoke what they approved" B --as frank revoke "$id" --reason "enough"

id=$(req alice request host:db-1 --new --reason "x")
expect 0 "one denial decides" B --as carol deny "$id" --reason "not now"
contains "denied" "denied" "$OUT"
expect 1 "no approval after a denial" B --as dave approve "$id" --reason late

expect 0 "break-glass grants at once" B --json --as alice request host:db-1 --new --break-glass --reason "outage" --incident INC-7
contains "break-glass is active" '"state": "active"' "$OUT"
contains "capped at break_glass_max_ttl" '"ttl": 3600' "$OUT"
bg=$(echo "$OUT" | json_get id)
expect 4 "break-glass on a rule that does not allow it" B --as alice request host:app-1 --reason r --ticket T --break-glass
expect 2 "break-glass needs a reason" B --as alice request host:db-1 --break-glass
expect 0 "reviewers see it" B --as rita review list
contains "review lists the break-glass grant" "$bg" "$OUT"
ebg=$(req erin request host:db-1 --new --break-glass --reason "my outage")
expect 4 "a reviewer cannot review their own break-glass" B --as erin review ack "$ebg" --note ok
contains "named rule" "no-self-review" "$ERR"
expect 4 "only reviewers review" B --as alice review ack "$bg" --note ok
expect 0 "a reviewer closes it" B --as rita review ack "$bg" --note "checked INC-7"
expect 1 "closing twice is refused" B --as rita review ack "$bg" --note again
expect 0 "review list --all shows closed items" B --as rita review list --all
contains "closed item" "checked INC-7" "$OUT"

# rule authors: erin loads the policy; requests routed by it are not hers
expect 0 "erin loads the policy" B --as erin policy load "$T/policy.json" --reason "reload"
id=$(req alice request host:db-1 --new --reason "after reload")
expect 4 "a policy admin may not approve under the version they loaded" B --as erin approve "$id" --reason ok
contains "named rule" "rule-authors-may-not-approve" "$ERR"
expect 0 "another approver may" B --as carol approve "$id" --reason ok

# --wait blocks until decided and exits with the decision's code
id_file=$T/wait.out
B --json --as alice request host:db-1 --new --reason "wait for me" --wait >"$id_file" 2>&1 &
wpid=$!
sleep 1.5
wid=$(B --json --as carol pending | sed -n 's/^    "id": "\(r[0-9]*\)",$/\1/p' | tail -1)
B --as carol approve "$wid" --reason ok >/dev/null
wait $wpid; wrc=$?
equals "--wait exits 0 once approved" 0 "$wrc"
contains "--wait prints the final state" '"state": "active"' "$(cat "$id_file")"

# races: approve against cancel, approve against deny, two final approvals
bad=0; i=0
while [ $i -lt 15 ]; do
	i=$((i + 1))
	id=$(req alice request host:db-1 --new --reason race)
	B --as carol approve "$id" --reason a >/dev/null 2>&1 & p1=$!
	B --as alice cancel "$id" >/dev/null 2>&1 & p2=$!
	wait $p1; r1=$?; wait $p2; r2=$?
	st=$(B --json --as alice show "$id" | json_get state)
	if [ $((r1 == 0)) -eq $((r2 == 0)) ]; then bad=$((bad + 1)); fi
	case "$r1:$st" in 0:active|1:cancelled) ;; *) bad=$((bad + 1)) ;; esac
	id=$(req alice request host:db-1 --new --reason race)
	B --as carol approve "$id" --reason a >/dev/null 2>&1 & p1=$!
	B --as dave deny "$id" --reason d >/dev/null 2>&1 & p2=$!
	wait $p1; r1=$?; wait $p2; r2=$?
	st=$(B --json --as alice show "$id" | json_get state)
	if [ $((r1 == 0)) -eq $((r2 == 0)) ]; then bad=$((bad + 1)); fi
	case "$r1:$st" in 0:active|1:denied) ;; *) bad=$((bad + 1)) ;; esac
	id=$(req alice request host:app-1 --new --reason race --ticket T)
	B --as carol approve "$id" --reason a >/dev/null 2>&1 & p1=$!
	B --as frank approve "$id" --reason b >/dev/null 2>&1 & p2=$!
	wait $p1 $p2
	n=$(B --json --as alice show "$id" | grep -c '"action": "request.approved"')
	[ "$n" = 1 ] || bad=$((bad + 1))
done
equals "45 races each end in exactly one consistent state" 0 "$bad"
expect 0 "the audit chain verifies after the races" B audit verify
finish

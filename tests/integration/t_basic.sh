#!/bin/sh
# The request lifecycle through the CLI: auto, pending, deny, clamp, list,
# show, cancel, revoke, check, status, whoami, delegation.
. "$(dirname "$0")/lib.sh"
start_broker

expect 0 "auto grant exits 0" B --as alice request host:web-1 --reason deploy
contains "auto grant is active" "active" "$OUT"
expect 0 "json request" B --json --as alice request host:web-2 --for 1h
for k in '"id"' '"state": "active"' '"expires_at": "2' '"cert"'; do
	contains "request --json has $k" "$k" "$OUT"
done
id2=$(echo "$OUT" | json_get id)
expect 0 "clamped to max_ttl" B --json --as alice request host:web-3 --for 12h
contains "reply says it was clamped" '"clamped": true' "$OUT"
contains "granted 8h" '"ttl_s": 28800' "$OUT"

expect 3 "approve rule files a pending request" B --as alice request host:db-prod-1 --reason "fix index"
contains "pending names the approver group" "dba-leads" "$OUT"
expect 4 "deny rule refuses" B --as mallory request host:db-prod-1 --reason x
expect 4 "no matching rule refuses" B --as alice request host:nothing-here
contains "no-rule reason" "no rule" "$OUT"
expect 4 "a principal not allowed by the resource is refused" B --as alice request host:db-prod-1 --role root --reason x

expect 0 "list mine" B --as alice list
contains "list shows r1" "r1 " "$OUT"
lacks "list does not show mallory's" "mallory" "$OUT"
expect 0 "list --json" B --json --as alice list
contains "list --json is an array of requests" '"state": "' "$OUT"
expect 4 "list --all refused to a plain user" B --as alice list --all
expect 0 "list --all for an auditor" B --as erin list --all
contains "auditor sees mallory's" "mallory" "$OUT"
expect 2 "list --user with an invalid name" B --as erin list --user Bob

expect 0 "show own request" B --as alice show r1
contains "show has a timeline" "request.granted" "$OUT"
expect 1 "show of someone else's request is not found" B --as bob show r1
expect 2 "show with a bad id" B --as alice show 'r1;DROP'

expect 0 "check allowed" B --as alice check --resource host:web-1
expect 4 "check refused without a grant" B --as alice check --resource host:web-9
contains "refusal says what to run" "broker request host:web-9" "$OUT"
expect 4 "bob may not check alice" B --as bob check --user alice --resource host:web-1
expect 0 "root (a host's PAM) may check others" B check --user alice --resource host:web-1

expect 1 "cancel of an active grant is refused" B --as alice cancel r1
pend=$(B --json --as bob request host:db-prod-1 --reason "r" | json_get id)
expect 4 "alice cannot cancel bob's request" B --as alice cancel "$pend"
expect 0 "bob cancels his pending request" B --as bob cancel "$pend"
contains "cancelled" "cancelled" "$OUT"
expect 1 "cancel twice is refused" B --as bob cancel "$pend"

expect 2 "revoke needs a reason" B --as alice revoke "$id2"
expect 4 "bob cannot revoke alice's grant" B --as bob revoke "$id2" --reason x
expect 0 "alice ends her own grant" B --as alice revoke "$id2" --reason done
expect 4 "revoked grant no longer passes check" B --as alice check --resource host:web-2
expect 0 "an opt-out manager revokes a grant" B --as frank revoke r1 --reason "incident"
expect 4 "check after revoke" B --as alice check --resource host:web-1

expect 0 "status" B --as alice status
contains "status shows health" "broker: ok" "$OUT"
expect 0 "status --json" B --json status
contains "status json counts" '"counts"' "$OUT"
expect 0 "whoami as root" B whoami
contains "root is root" "user: root" "$OUT"
expect 0 "whoami as alice" B --as alice whoami
contains "alice is in dev" "dev" "$OUT"

expect 4 "unknown user via --as is refused" B --as nosuchuser status
expect 2 "a non-canonical user via --as is refused" B --as Alice status
# setpriv is util-linux, essential on Debian: no branch for its absence
expect 4 "a non-delegate may not use --as" setpriv --reuid=nobody --regid=nogroup --clear-groups "$BROKER" --as alice status
expect 0 "identity comes from the kernel" setpriv --reuid=nobody --regid=nogroup --clear-groups "$BROKER" whoami
contains "nobody is nobody" "user: nobody" "$OUT"

expect 2 "bad duration" B --as alice request host:web-1 --for -1s
expect 2 "huge duration" B --as alice request host:web-1 --for 99999999999h
expect 2 "unknown option" B --as alice request host:web-1 --frobnicate
expect 2 "unknown command" B frobnicate
expect 2 "bad resource name" B --as alice request 'host:we b'
expect 0 "request --help" B request --help
expect 5 "unreachable broker" env BROKER_SOCKET="$T/none.sock" "$BROKER" status
finish

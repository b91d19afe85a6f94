#!/bin/sh
# Expiry: enforced at read time, recorded by the sweeper, for grants and
# for pending requests.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/d"
cat >"$T/d/policy.json" <<'P'
{
  "version": 1,
  "resources": { "host:db-1": { "labels": { "env": "prod" } } },
  "rules": [
    { "id": "short", "when": { "resources": ["host:web-*"] }, "grant": "auto", "max_ttl": "2s" },
    { "id": "prod", "when": { "labels": { "env": "prod" } }, "grant": "approve",
      "approvers": { "groups": ["dba-leads"] }, "max_ttl": "1h" }
  ],
  "roles": { "policy_admins": { "groups": ["secops"] }, "auditors": { "groups": ["secops"] } },
  "limits": { "pending_ttl": "2s" }
}
P
chmod 0755 "$T/d"
start_broker

expect 0 "short grant" B --json --as alice request host:web-1
id=$(echo "$OUT" | json_get id)
expect 0 "allowed while it lasts" B --as alice check --resource host:web-1
expect 3 "pending request" B --json --as alice request host:db-1
pid=$(echo "$OUT" | json_get id)
contains "pending says when it expires" '"pending_until": "2' "$OUT"
contains "... and has no grant end yet" '"expires_at": null' "$OUT"
sleep 2.2
expect 4 "refused once the window has passed (read time)" B --as alice check --resource host:web-1
expect 0 "show after expiry" B --json --as alice show "$id"
contains "shown as expired" '"state": "expired"' "$OUT"
sleep 1.5
expect 0 "show the pending request" B --as alice show "$pid"
contains "pending request expired" "expired" "$OUT"
contains "sweeper recorded the request expiry" "request.expired" "$OUT"
expect 0 "show the grant" B --as alice show "$id"
contains "sweeper recorded the grant expiry" "grant.expired" "$OUT"
expect 1 "an expired grant cannot be revoked" B --as alice revoke "$id" --reason late
expect 1 "an expired request cannot be cancelled" B --as alice cancel "$pid"
expect 0 "status counts nothing active" B --json status
contains "no active grants" '"active": 0' "$OUT"
expect 0 "chain intact" B audit verify
finish

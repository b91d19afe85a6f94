#!/bin/sh
# What the broker tells people and scripts, as a new user meets it: what
# waits for an approver and why, request --wait, certificates one file per
# grant and audited, JSON shapes and error codes scripts can tell apart,
# validation, and the small things (aligned lists, ended flags, reports,
# no "broker request" advice for the blocked).  Runs the --dev policy.
. "$(dirname "$0")/lib.sh"
start_broker --dev "$T/d"
oid() { echo "$1" | json_get id; }

# ---- status and pending for an approver --------------------------------------
# Fails when op_status() sends no "waiting" (checked by dropping its line)
# or pending prints no cause (checked by deleting the "why" line).
expect 3 "alice files a request for approval" \
    B --json --as alice request host:db-prod-1 --role postgres --reason "fix index"
p1=$(oid "$OUT")
expect 0 "carol's status" B --as carol status
contains "says how many wait for her, and the oldest" \
    "waiting for your approval: 1 (oldest $p1," "$OUT"
expect 0 "carol's status --json" B --json --as carol status
contains "--json: the count" '"count": 1' "$OUT"
contains "--json: the oldest's age in seconds" '"oldest_age_s":' "$OUT"
expect 0 "alice's status says nothing waits for her" B --as alice status
lacks "alice approves nothing" "waiting for your approval" "$OUT"
expect 0 "carol's pending" B --as carol pending
contains "pending says why a person decides: the rule" \
    "why a person decides: rule db-prod-postgres needs 1 approval" "$OUT"
contains "pending prints durations as typed" "for 2h (asked" "$OUT"
expect 0 "frank takes web hosts out of automation" B --json --as frank optout add \
    'resource:host:web-*' --tag incident --reason "INC-9: humans decide" --for 1h
o1=$(oid "$OUT")
expect 3 "bob's request is escalated" B --json --as bob request host:web-3 --reason hotfix
p2=$(oid "$OUT")
expect 0 "erin's pending" B --as erin pending
contains "the cause names the opt-out, its id and reason" \
    "why a person decides: taken out of automation by opt-out $o1 (resource:host:web-*, incident): INC-9: humans decide" "$OUT"
expect 0 "the opt-out ends" B --as frank optout remove "$o1" --reason over

# ---- JSON shapes ---------------------------------------------------------------
# Fails when record_to_json() keeps expires_at for a pending request or
# sends requested_ttl as 0 (checked by restoring the old members).
expect 0 "show --json of a pending request" B --json --as alice show "$p1"
contains "a pending request has pending_until" '"pending_until": "2' "$OUT"
contains "... and no grant end yet" '"expires_at": null' "$OUT"
contains "no --for: requested_ttl_s is null" '"requested_ttl_s": null' "$OUT"
contains "durations end in _s" '"ttl_s": 7200' "$OUT"
equals "no old duration key at the top" 0 "$(echo "$OUT" | grep -c '^  "ttl":')"
contains "timeline times are RFC 3339" '"ts": "20' "$OUT"
expect 0 "an automatic grant for 30m" B --json --as alice request host:web-5 --for 30m
contains "requested_ttl_s when given" '"requested_ttl_s": 1800' "$OUT"
contains "expires_at is the grant's end" '"expires_at": "2' "$OUT"
contains "no pending_until for a grant" '"pending_until": null' "$OUT"

# ---- error codes and exit statuses ------------------------------------------
# Fails when BRK_ERR_STATE keeps the wire name "state" (checked).
expect 0 "carol approves" B --as carol approve "$p1" --reason ok
expect 1 "deciding it again" B --json --as carol approve "$p1" --reason again
contains "is a conflict" '"code":"conflict"' "$ERR"
expect 1 "an unknown id" B --json --as carol approve r9999 --reason x
contains "is not_found" '"code":"not_found"' "$ERR"
# Fails when audit search takes any action name (checked by making
# action_valid() return true: exit 0, an empty table).
expect 2 "audit --action nonsense is a usage error" B audit --action nonsense
contains "... naming the families" "request, grant, breakglass, cert" "$ERR"
expect 0 "audit --action request.granted is fine" B audit --action request.granted
# Over a limit is always a usage error (2), never a refusal.
expect 2 "a flag longer than limits.optout_max" B --as frank flag add bob --reason r --for 48h
contains "... told as typed" "flags last at most 1d (limits.optout_max)" "$ERR"
expect 2 "an opt-out longer than limits.optout_max" B --as frank optout add \
    resource:host:web-1 --tag incident --reason r --for 48h
expect 2 "--for past 366d" B --as alice request host:web-1 --for 400d

# ---- validation --------------------------------------------------------------
# Fails when proto_arg_str() takes a blank string (checked by deleting its
# strspn test: the request was filed with a reason of spaces).  The CLI
# passes the text through, so the refusal is the daemon's (the JSON
# protocol is covered too).
expect 2 "a reason of spaces is no reason" \
    B --as alice request host:db-prod-1 --role postgres --reason "   " --new
contains "... and says so" 'argument "reason" is blank' "$ERR"
out=$(printf '%s\n' '{"v":1,"id":"b","op":"request","as":"alice","args":{"resource":"host:db-prod-1","role":"postgres","reason":" \t "}}' |
    "$TOOLS/rawsend" "$BROKER_SOCKET" 2000)
contains "the JSON protocol refuses it too" '"code":"invalid"' "$out"
expect 2 "a blank approval reason" B --as carol approve r1 --reason " "
# Fails without the overflow-uid test in resolve() (checked: exit 4 only
# from the policy, "no rule matches user nobody").
expect 4 "--as nobody is refused" B --as nobody request host:web-1
contains "... as no person" "placeholder account" "$ERR"
expect 4 "--as an unknown user is refused" B --as nosuchuser99 request host:web-1
expect 2 "--state activ" B list --all --state activ
contains "lists the valid states" "pending, scheduled, active, denied" "$ERR"
expect 4 "a resource no rule covers" B --as alice request host:nothing-1
contains "says no rule covers it" "no rule covers host:nothing-1" "$OUT"
expect 4 "a covered resource, the wrong user" B --as mallory request host:web-1
contains "names the user" "no rule matches user mallory on host:web-1" "$OUT"

# ---- request --wait ------------------------------------------------------------
# Fails when the id is printed only on a terminal or after the decision
# (checked by making the first printf depend on cli->tty), when --timeout
# is ignored (checked: the wait went on), and when SIGINT kills the CLI
# without a word (checked by dropping the sigprocmask: exit 130, no id).
expect 2 "--timeout without --wait" B --as alice request host:db-prod-1 --timeout 1s
expect 3 "--wait --timeout 1s: still pending" B --as alice request host:db-prod-1 \
    --role postgres --reason w1 --new --wait --timeout 1s
contains "the id and state at once" "pending: waiting for a decision" "$OUT"
contains "the timeout says the request stays" "stays pending" "$ERR"
w1=$(echo "$OUT" | head -1 | cut -d' ' -f1)
contains "... naming it" "$w1 stays pending" "$ERR"
"$BROKER" --as alice request host:db-prod-1 --role postgres --reason w2 --new \
    --wait >"$T/w2.out" 2>"$T/w2.err" &
wp=$!
sleep 1.5
contains "printed before any decision, without a terminal" \
    "pending: waiting for a decision" "$(cat "$T/w2.out")"
w2=$(head -1 "$T/w2.out" | cut -d' ' -f1)
kill -TERM "$wp"
wait "$wp"
equals "SIGTERM: exit 3 (pending)" 3 "$?"
contains "stopping says it stays pending, with its id" \
    "stopped waiting; $w2 stays pending" "$(cat "$T/w2.err")"
# Ctrl-C itself: a shell's background job starts with SIGINT ignored, so
# perl (perl-base) restores its default before running the CLI.
perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' "$BROKER" --as alice request \
    host:db-prod-1 --role postgres --reason w4 --new --wait \
    >"$T/w4.out" 2>"$T/w4.err" &
wp=$!
sleep 1.5
w4=$(head -1 "$T/w4.out" | cut -d' ' -f1)
[ -n "$w4" ] || not_ok "the waiting request's id"
kill -INT "$wp"
wait "$wp"
equals "Ctrl-C: exit 3 (pending)" 3 "$?"
contains "Ctrl-C says it stays pending, with its id" \
    "stopped waiting; $w4 stays pending" "$(cat "$T/w4.err")"
expect 0 "... and it does" B --json --as alice show "$w2"
contains "still pending" '"state": "pending"' "$OUT"
"$BROKER" --as alice request host:db-prod-1 --role postgres --reason w3 --new \
    --wait >"$T/w3.out" 2>"$T/w3.err" &
wp=$!
sleep 1.5
w3=$(head -1 "$T/w3.out" | cut -d' ' -f1)
[ -n "$w3" ] || { not_ok "the waiting request's id"; kill "$wp"; }
expect 0 "carol denies it while alice waits" B --as carol deny "$w3" --reason "not during the freeze"
wait "$wp"
equals "the wait ends denied (exit 4)" 4 "$?"
contains "the denial names who and why" "denied by carol: not during the freeze" \
    "$(cat "$T/w3.out")"

# ---- certificates ------------------------------------------------------------
# Fails when the certificate keeps ssh-keygen's name only (checked by
# writing KEY-cert.pub again: the second grant's overwrote the first's),
# when cert.issued is not written (checked by dropping ops_audit_cert() in
# apply_create), and when a db: resource takes --pubkey (checked by
# deleting the host: test in op_request).
ssh-keygen -q -t ed25519 -N '' -f "$T/k"
expect 0 "a grant with a key" B --json --as alice request host:web-1 --pubkey "$T/k.pub"
g1=$(oid "$OUT")
contains "--json names the file written" "\"cert_file\": \"$T/k-$g1-cert.pub\"" "$OUT"
[ -s "$T/k-$g1-cert.pub" ] && ok "written as KEY-ID-cert.pub" || not_ok "written as KEY-ID-cert.pub"
[ ! -e "$T/k-cert.pub" ] && ok "not as KEY-cert.pub unless asked" || not_ok "not as KEY-cert.pub unless asked"
expect 0 "another grant, --default-cert" B --as alice request host:web-2 --pubkey "$T/k.pub" --default-cert
g2=$(echo "$OUT" | head -1 | cut -d' ' -f1)
contains "the path is printed" "certificate written to $T/k-$g2-cert.pub" "$OUT"
contains "... and the default one" "and to $T/k-cert.pub" "$OUT"
[ -s "$T/k-$g1-cert.pub" ] && [ -s "$T/k-$g2-cert.pub" ] &&
    ok "two grants, two files: neither overwrote the other" ||
    not_ok "two grants, two files"
contains "KEY-cert.pub is the latest grant's" "broker:$g2:alice" "$(ssh-keygen -L -f "$T/k-cert.pub")"
expect 0 "cert.issued is in the audit trail" B --as erin --json audit --action cert.issued --request "$g1"
contains "... with the key's fingerprint" '"key_fingerprint": "SHA256:' "$OUT"
contains "... the principals" '"principals": [' "$OUT"
contains "... the validity" '"valid_before": "2' "$OUT"
expect 0 "show's timeline has it" B --as alice show "$g1"
contains "cert.issued in show" "cert.issued" "$OUT"
expect 0 "a certificate again" B --as alice cert "$g1" --pubkey "$T/k.pub"
expect 0 "re-issuing is audited too" B --as erin --json audit --action cert.issued --request "$g1"
equals "two cert.issued records for $g1" 2 "$(echo "$OUT" | grep -c '"action": "cert.issued"')"
expect 2 "--default-cert needs --pubkey" B --as alice request host:web-1 --default-cert
expect 2 "no SSH certificate for a db: resource" B --as alice request db:orders --pubkey "$T/k.pub"
contains "... it is not a host" "db:orders is not a host" "$ERR"
expect 0 "nothing was filed" B --as erin --json audit --resource db:orders
equals "no record for db:orders" 0 "$(echo "$OUT" | grep -c '"action"')"

# ---- krl and metrics under --json ---------------------------------------------
expect 2 "--json krl without a file refuses (binary)" B --json krl
contains "... saying why" "binary" "$ERR"
expect 0 "--json krl -o FILE says what it wrote" B --json krl -o "$T/krl"
contains "the file" "\"file\": \"$T/krl\"" "$OUT"

# ---- small things ----------------------------------------------------------------
# Fails when print_table() pads to fixed widths (checked: the ENDS column
# moved on the long row).
expect 0 "a long resource name" B --as alice request host:web-with-a-rather-long-name-0123456789
expect 0 "alice's list" B --as alice list
cols=$(echo "$OUT" | awk '{ if (NR == 1) h = index($0, "ENDS"); else if (substr($0, h - 2, 2) != "  " || substr($0, h, 1) == " ") bad = 1 } END { print bad ? "ragged" : "aligned" }')
equals "list columns align for long names" aligned "$cols"
expect 0 "erin freezes" B --as erin freeze --reason "stop" --for 10m
expect 0 "root's status" B status
equals "the freeze is shown once" 1 "$(echo "$OUT" | grep -c FREEZE)"
contains "no empty table for root's grants" "my grants (root): none" "$OUT"
lacks "no table header without rows" "ID  STATE" "$OUT"
expect 0 "erin unfreezes" B --as erin unfreeze --reason "go"
# Fails when a removed flag is deleted (checked: flag list --all empty).
expect 0 "frank flags dave" B --as frank flag add dave --reason "odd logins" --for 1h
expect 0 "and removes the flag" B --as frank flag remove dave --reason "false alarm"
expect 0 "flag list" B flag list
lacks "flag list: only flags in force" "dave" "$OUT"
expect 0 "flag list --all" B flag list --all
contains "flag list --all shows the ended flag" "dave" "$OUT"
contains "... who removed it and why" "removed by frank: false alarm" "$OUT"
expect 0 "optout report" B --as erin optout report
contains "the by-person section is filled" "frank" "$(echo "$OUT" | sed -n '/^by person:/,$p')"
lacks "no zero-hour totals" " 0h " "$OUT"
# Fails when check advises a request whatever blocks it (checked by
# making request_blocked() return false).
expect 0 "frank blocks bob" B --as frank flag add bob --severity block --reason "stolen laptop" --for 1h
expect 4 "check for bob" B check --user bob --resource host:web-1
lacks "a blocked user is not told to request" "broker request" "$OUT"
contains "... but why it would be refused" "a request would be refused" "$OUT"
expect 4 "--json check says blocked" B --json check --user bob --resource host:web-1
contains "blocked is true" '"blocked": true' "$OUT"
expect 4 "check for alice on a host she has no grant for" B check --user alice --resource host:web-9
contains "an unblocked user is told how to ask" "broker request host:web-9" "$OUT"
finish

#!/bin/sh
# The README's five-minute walk-through, run as written: it must stay true.
. "$(dirname "$0")/lib.sh"
export BROKER_SOCKET=$T/run/broker.sock
start_broker --dev "$T/run"
sed -n '/^export BROKER_SOCKET=\$PWD\/run\/broker.sock$/,/^```$/p' "$ROOT/README.md" |
	sed -e '$d' -e "s|\$PWD/run|$T/run|g" -e "s|^B=build/broker|B=$BROKER|" \
	    -e "s|/tmp/alice_key|$T/alice_key|g" -e "s|/tmp/broker.krl|$T/krl|g" \
	    >"$T/walk.sh"
n=$(wc -l <"$T/walk.sh")
[ "$n" -gt 20 ] && ok "the walk-through was found ($n lines)" || not_ok "walk-through found"
run sh "$T/walk.sh"
contains "an automatic grant" "r1 active: host:web-1" "$OUT"
contains "the certificate parses" "Key ID: \"broker:r1:alice\"" "$OUT"
[ -f "$T/alice_key-r1-cert.pub" ] && ok "the certificate is kept under the grant's id" ||
    not_ok "the certificate is kept under the grant's id"
contains "the certificate is in show's timeline" "cert.issued" "$OUT"
contains "clamped to max_ttl, told as typed" "asked for 12h, granted 8h" "$OUT"
contains "a pending request" "r3 pending" "$OUT"
contains "carol sees it" "alice wants host:db-prod-1" "$OUT"
contains "carol approves it" "r3 active" "$OUT"
contains "mallory is denied" "denied by rule no-contractors-prod" "$OUT"
contains "bob's request is taken out of automation" "taken out of automation" "$OUT"
contains "status shows the opt-out with its time left" "left" "$OUT"
contains "status prints no empty table" "my grants (root): none" "$OUT"
contains "check allowed" "allowed: grant" "$OUT"
contains "check refused" "refused: bob has no active grant" "$OUT"
contains "the opt-out is removed" "(removed)" "$OUT"
contains "freeze shown" "FREEZE" "$OUT"
contains "revoked" "r1 revoked" "$OUT"
contains "CA key" "ssh-ed25519 AAAA" "$OUT"
contains "audit intact" "intact:" "$OUT"
lacks "no command failed to reach the broker" "unreachable" "$OUT$ERR"
equals "no command printed an error" "" "$ERR"

# Twice in a row, as someone trying it again would: ids come from --json,
# so nothing the second run prints contradicts the state.  Fails when the
# walk-through names ids (approve r3 then says "nothing to decide"):
# checked by putting "approve r3" back.
run sh "$T/walk.sh"
equals "the second run prints no error" "" "$ERR"
contains "a new automatic grant" "r6 active: host:web-1" "$OUT"
contains "its own certificate" "Key ID: \"broker:r6:alice\"" "$OUT"
[ -f "$T/alice_key-r1-cert.pub" ] && [ -f "$T/alice_key-r6-cert.pub" ] &&
    ok "two grants, two certificate files" || not_ok "two grants, two certificate files"
contains "a new pending request is approved" "r7 active: host:db-prod-1" "$OUT"
lacks "no stale decision" "nothing to decide" "$OUT$ERR"
contains "the revoked grant is the new one" "r6 revoked" "$OUT"
finish

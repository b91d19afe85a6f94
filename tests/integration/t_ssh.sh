#!/bin/sh
# End to end with a real sshd: a broker certificate logs in; an expired one,
# one for another principal, and a revoked one (through the KRL) do not.
. "$(dirname "$0")/lib.sh"
SSHD=/usr/sbin/sshd
if [ "$(id -u)" != 0 ] || [ ! -x "$SSHD" ] || ! command -v useradd >/dev/null; then
	skip "t_ssh needs root, sshd and useradd (uid $(id -u))"; finish
fi
U=brk$$x$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
useradd -M -p "*" -d "$T/home" -s /bin/sh "$U" || { not_ok "useradd $U"; finish; }
mkdir -p "$T/home" && chown "$U" "$T/home"
trap 'sshd_stop; userdel "$U" 2>/dev/null; [ -n "${KEEP:-}" ] || cleanup' EXIT

mkdir -p "$T/d"
# policy LIM_A_OPTIONS: the test's policy, with lim-a's certificate options
policy() {
	cat <<P
{ "version": 1,
  "rules": [
    { "id": "ssh", "when": { "resources": ["host:ssh-*"] }, "principals": ["$U", "alice"],
      "grant": "auto", "max_ttl": "1h" },
    { "id": "short", "when": { "resources": ["host:short-*"] }, "principals": ["$U"],
      "grant": "auto", "max_ttl": "3s" },
    { "id": "lim-a", "when": { "resources": ["host:lim-*"] }, "principals": ["$U"],
      "grant": "auto", "max_ttl": "1h", $1 },
    { "id": "lim-b", "when": { "resources": ["host:lim-2"] }, "principals": ["$U"],
      "grant": "auto", "max_ttl": "2h", "extensions": ["permit-pty", "permit-X11-forwarding"],
      "critical_options": { "source-address": "127.0.0.1,192.168.0.0/16" } }
  ],
  "roles": { "policy_admins": { "groups": ["secops"] }, "auditors": { "groups": ["secops"] },
             "optout_managers": { "groups": ["secops"] } },
  "limits": { "clock_skew": "1s" } }
P
}
policy '"extensions": ["permit-pty", "permit-port-forwarding"], "critical_options": { "force-command": "/bin/echo restricted", "source-address": "127.0.0.0/8,10.0.0.0/8" }' >"$T/d/policy.json"
start_broker
B ca show >"$T/ca.pub"
B krl -o "$T/krl"

sshd_start sshd "$T/ca.pub" "$T/krl" - || finish
PORT=$SSHD_PORT

login() {	# login KEY: ssh as $U with KEY and its certificate
	ssh -F none -i "$1" -o CertificateFile="$1-cert.pub" -o IdentitiesOnly=yes \
	    -o BatchMode=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 \
	    -p "$PORT" "$U@127.0.0.1" echo logged-in-as-'$(id -un)' 2>>"$T/ssh.log"
}

for type in ed25519 ecdsa rsa; do
	ssh-keygen -q -t $type -N '' -f "$T/k_$type"
	expect 0 "$type: a grant with a public key returns a certificate" \
	    B --as alice request host:ssh-1 --role "$U" --pubkey "$T/k_$type.pub" --default-cert
	run login "$T/k_$type"
	equals "$type: the broker's certificate logs in to sshd" "logged-in-as-$U" "$OUT"
done

ssh-keygen -q -t ed25519 -N '' -f "$T/k_other"
expect 0 "a certificate for another principal" B --as alice request host:ssh-1 --role alice --pubkey "$T/k_other.pub" --default-cert
run login "$T/k_other"
equals "another principal does not log in" "" "$OUT"

ssh-keygen -q -t ed25519 -N '' -f "$T/k_short"
expect 0 "a 3-second grant" B --as alice request host:short-1 --role "$U" --pubkey "$T/k_short.pub" --default-cert
sleep 5
run login "$T/k_short"
equals "an expired certificate does not log in" "" "$OUT"

ssh-keygen -q -t ed25519 -N '' -f "$T/k_rev"
expect 0 "a grant to revoke" B --json --as alice request host:ssh-2 --role "$U" --pubkey "$T/k_rev.pub" --default-cert
rid=$(echo "$OUT" | json_get id)
run login "$T/k_rev"
equals "it logs in before revocation" "logged-in-as-$U" "$OUT"
expect 0 "revoke it" B --as alice revoke "$rid" --reason "done"
expect 0 "write the KRL" B krl -o "$T/krl"
run ssh-keygen -Q -f "$T/krl" "$T/k_rev-cert.pub"
contains "ssh-keygen -Q reports it revoked" "REVOKED" "$OUT"
run ssh-keygen -Q -f "$T/krl" "$T/k_ed25519-cert.pub"
contains "ssh-keygen -Q reports others fine" "ok" "$OUT"
run login "$T/k_rev"
equals "a revoked certificate does not log in" "" "$OUT"
run login "$T/k_ed25519"
equals "other certificates still log in" "logged-in-as-$U" "$OUT"

# The same certificate through sshd's PAM account stack: pam_broker.so
# refuses it once the grant is revoked or a block covers it, even though
# the certificate itself is still valid and not in the KRL.
PAMSVC=$T/pam.d
mkdir -p "$PAMSVC"
cat >"$PAMSVC/sshd" <<S
auth     required pam_permit.so
account  required $BUILD/pam_broker.so socket=$BROKER_SOCKET resource=host:ssh-pam timeout_ms=2000
session  required pam_permit.so
password required pam_deny.so
S
: >"$T/krl-empty"
sshd_start sshd-pam "$T/ca.pub" "$T/krl-empty" "$PAMSVC" || finish
PAMPORT=$SSHD_PORT
PAM_SSHD=$SSHD_PID
pam_login() {
	ssh -F none -i "$1" -o CertificateFile="$1-cert.pub" -o IdentitiesOnly=yes \
	    -o BatchMode=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 \
	    -p "$PAMPORT" "$U@127.0.0.1" echo pam-ok 2>>"$T/ssh.log"
}
ssh-keygen -q -t ed25519 -N '' -f "$T/k_pam"
expect 0 "a grant for host:ssh-pam" B --json --as alice request host:ssh-pam --role "$U" --pubkey "$T/k_pam.pub" --default-cert
pid_pam=$(echo "$OUT" | json_get id)
run pam_login "$T/k_pam"
equals "with UsePAM and pam_broker.so an active grant logs in" "pam-ok" "$OUT"
expect 0 "block alice's automation" B --json --as erin optout add user:alice --tag incident --reason "stolen laptop" --for 1h --mode block
blk=$(echo "$OUT" | json_get id)
run pam_login "$T/k_pam"
equals "a block opt-out refuses the same certificate" "" "$OUT"
B --as erin optout remove "$blk" --reason cleared >/dev/null
run pam_login "$T/k_pam"
equals "after the block ends it logs in again" "pam-ok" "$OUT"
expect 0 "revoke the grant" B --as alice revoke "$pid_pam" --reason done
run pam_login "$T/k_pam"
equals "after revoke the account stack refuses it (KRL not even updated)" "" "$OUT"
contains "sshd logged the PAM refusal" "PAM" "$(cat "$T/sshd-pam.log")"
sshd_stop "$PAM_SSHD"

# Certificate restrictions are fixed in the grant record when the request
# is decided, combined over every matching rule so the most restrictive
# wins, and a later policy edit changes nothing for the grant.
# Fails on the code before: it signed with the deciding rule's options
# only, read from the policy in force at signing time (checked: the
# combined extensions/source-address and the after-edit checks went red).
ssh-keygen -q -t ed25519 -N '' -f "$T/k_lim"
expect 0 "a grant under two rules with certificate options" \
    B --json --as alice request host:lim-2 --role "$U" --pubkey "$T/k_lim.pub" --default-cert
lim2=$(echo "$OUT" | json_get id)
run ssh-keygen -L -f "$T/k_lim-cert.pub"
contains "the forced command of one rule is kept" "force-command /bin/echo restricted" "$OUT"
contains "source-address: only what both rules accept" "source-address 127.0.0.1" "$OUT"
lacks "  not a wider block of one rule" "10.0.0.0/8" "$OUT"
contains "extensions: only what both rules allow" "permit-pty" "$OUT"
lacks "  no port forwarding (one rule only)" "permit-port-forwarding" "$OUT"
lacks "  no X11 forwarding (the other rule only)" "permit-X11-forwarding" "$OUT"
run login "$T/k_lim"
equals "sshd runs the forced command" "restricted" "$OUT"
ssh-keygen -q -t ed25519 -N '' -f "$T/k_lim1"
expect 0 "a grant under lim-a alone" B --json --as alice request host:lim-1 --role "$U" --pubkey "$T/k_lim1.pub" --default-cert
lim1=$(echo "$OUT" | json_get id)
policy '"extensions": ["permit-pty", "permit-port-forwarding", "permit-agent-forwarding"]' >"$T/wide.json"
expect 0 "a policy edit drops lim-a's restrictions" B --as erin policy load "$T/wide.json" --reason widen
expect 0 "re-issue the certificate of the earlier grant" B --as alice cert "$lim1" --pubkey "$T/k_lim1.pub" -o "$T/k_lim1-cert.pub"
run ssh-keygen -L -f "$T/k_lim1-cert.pub"
contains "the grant keeps its forced command" "force-command /bin/echo restricted" "$OUT"
lacks "  and gains no extension" "permit-agent-forwarding" "$OUT"
expect 0 "the combined grant too" B --as alice cert "$lim2" --pubkey "$T/k_lim.pub" -o "$T/k_lim-cert.pub"
run ssh-keygen -L -f "$T/k_lim-cert.pub"
contains "  keeps its source-address" "source-address 127.0.0.1" "$OUT"
expect 0 "a new grant follows the new policy" B --as alice request host:lim-1 --new --role "$U" --pubkey "$T/k_lim1.pub" --default-cert
run ssh-keygen -L -f "$T/k_lim1-cert.pub"
lacks "  without the forced command" "force-command" "$OUT"
expect 4 "a role no rule lists is refused" B --as alice request host:lim-1 --role root --pubkey "$T/k_lim1.pub" --default-cert

expect 1 "no certificate for a revoked grant" B --as alice cert "$rid" --pubkey "$T/k_rev.pub" -o "$T/x"
printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA' >"$T/trunc.pub"
expect 2 "a truncated public key is refused" B --as alice request host:ssh-3 --pubkey "$T/trunc.pub" --default-cert
ssh-keygen -q -t rsa -b 1024 -N '' -f "$T/weak" 2>/dev/null && \
	expect 1 "a 1024-bit RSA key is refused as unsupported" B --as alice request host:ssh-3 --pubkey "$T/weak.pub" --default-cert
n=$(B --json --as erin list --all --limit 1000 | grep -c '"resource": "host:ssh-3"')
equals "refused keys change nothing" 0 "$n"
finish

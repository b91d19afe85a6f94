#!/bin/sh
# CA rotation: brokerd --rotate-ca makes a new key current, previous keys
# stay listed for TrustedUserCAKeys, and new certificates use the new key.
. "$(dirname "$0")/lib.sh"
mkdir -m 0700 "$T/state"
cat >"$T/brokerd.json" <<C
{ "state_dir": "$T/state", "socket": "$T/broker.sock",
  "policy": "$ROOT/policy/examples/dev.json", "local_groups": { "dev": ["alice"] } }
C
export BROKER_SOCKET=$T/broker.sock
start_broker -c "$T/brokerd.json"
old=$(B ca show)
contains "ca show prints an ssh-ed25519 line" "ssh-ed25519 AAAA" "$old"
ssh-keygen -q -t ed25519 -N '' -f "$T/k"
expect 0 "a certificate under the first key" B --as alice request host:web-1 --pubkey "$T/k.pub" --default-cert
cp "$T/k-cert.pub" "$T/old-cert.pub"
stop_broker
expect 0 "rotate the CA key" "$BROKERD" -c "$T/brokerd.json" --rotate-ca
start_broker -c "$T/brokerd.json"
new=$(B ca show)
[ "$new" != "$old" ] && ok "a new key is current" || not_ok "a new key is current"
all=$(B ca show --all)
equals "--all lists current and previous keys" 2 "$(echo "$all" | wc -l)"
equals "the previous key is still listed" "$old" "$(echo "$all" | sed -n 2p)"
expect 0 "a certificate under the new key" B --as alice request host:web-2 --pubkey "$T/k.pub" --default-cert
echo "$new" >"$T/new.pub"
newfp=$(ssh-keygen -lf "$T/new.pub" | awk '{print $2}')
contains "it is signed by the new key" "$newfp" "$(ssh-keygen -L -f "$T/k-cert.pub")"
expect 0 "revoke the grant from before the rotation" B --as alice revoke r1 --reason rotate
B krl -o "$T/krl"
run ssh-keygen -Q -f "$T/krl" "$T/old-cert.pub"
contains "the KRL still revokes certificates of the previous key" "REVOKED" "$OUT"
chmod 0644 "$T/state/ca/key-"*.pem
stop_broker
expect 1 "brokerd refuses a CA key file with a loose mode" "$BROKERD" -c "$T/brokerd.json"
contains "and says which file" "key-" "$ERR"
finish

#!/bin/sh
# The CA signer: brokerd's private key lives only in a sandboxed child
# process.  The daemon's memory holds no key (the same scan finds it in
# the signer), the signer has no network and no other descriptors, what it
# signs verifies against `ca show`, and killing it fails closed: nothing
# more is signed and brokerd stops with status 1 for systemd to restart.
#
# Fails when the daemon loads the key itself: checked by adding a
# ca_open() of the state dir in main.c's start() and keeping the result
# (memscan found the seed in brokerd).  Fails when the sandbox is skipped:
# checked by making signer_sandbox() return 0 at once (Seccomp: 0).  Fails
# when the loss is not acted on: checked by passing a NULL `lost` callback
# in main.c (brokerd kept running).
. "$(dirname "$0")/lib.sh"
mkdir -m 0700 "$T/state"
cat >"$T/brokerd.json" <<C
{ "state_dir": "$T/state", "socket": "$T/broker.sock",
  "policy": "$ROOT/policy/examples/dev.json", "local_groups": { "dev": ["alice"] } }
C
export BROKER_SOCKET=$T/broker.sock
start_broker -c "$T/brokerd.json"

# --- the signer process --------------------------------------------------
SPID=
for i in $(seq 50); do
	SPID=$(cat /proc/"$BROKERD_PID"/task/*/children 2>/dev/null | tr ' ' '\n' |
	    grep . | head -1)
	[ -n "$SPID" ] && break
	sleep 0.1
done
[ -n "$SPID" ] && ok "brokerd has a child process" ||
	{ not_ok "brokerd has a child process"; finish; }
equals "  it is the CA signer" "brokerd-signer" "$(cat /proc/"$SPID"/comm)"
st=/proc/$SPID/status
equals "  in seccomp filter mode" "2" "$(awk '$1 == "Seccomp:" { print $2 }' "$st")"
equals "  with no_new_privs" "1" "$(awk '$1 == "NoNewPrivs:" { print $2 }' "$st")"
fds=$(ls /proc/"$SPID"/fd | wc -l)
equals "  holding two descriptors (its channel, stderr)" "2" "$fds"
sock=$(for f in /proc/"$SPID"/fd/*; do readlink "$f"; done | grep -c '^socket:')
equals "  one of them a socket" "1" "$sock"
contains "brokerd logs the signer's start" "event=signer_started pid=$SPID" \
    "$(cat "$T/brokerd.log")"

# --- what it signs --------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$T/k"
expect 0 "a certificate through the signer" B --as alice request host:web-1 \
    --pubkey "$T/k.pub" --default-cert
B ca show >"$T/ca.pub"
cafp=$(ssh-keygen -lf "$T/ca.pub" | awk '{print $2}')
run ssh-keygen -L -f "$T/k-cert.pub"
contains "  signed by the CA key that ca show prints" "$cafp" "$OUT"
expect 0 "a signed snapshot through the signer" B snapshot --host web-1 \
    -o "$T/snap.txt"
contains "  with its signature line" "sig ed25519 " "$(cat "$T/snap.txt")"

# --- where the key is -----------------------------------------------------
key=$(ls "$T"/state/ca/key-*.pem)
run "$TOOLS/memscan" "$BROKERD_PID" "$key"
equals "brokerd's memory does not hold the private key" "0" "$RC"
contains "  (the scan read its memory)" "hits=0" "$OUT"
echo "$OUT" | sed 's/^/# brokerd: /'
run "$TOOLS/memscan" "$SPID" "$key"
equals "the same scan finds the key in the signer" "1" "$RC"
echo "$OUT" | sed "s/^/# signer: /"

# --- losing the signer ----------------------------------------------------
cp "$T/k-cert.pub" "$T/before.pub"
rm -f "$T/k-cert.pub"
kill -KILL "$SPID"
run B --as alice request host:web-2 --pubkey "$T/k.pub" --default-cert
[ "$RC" != 0 ] && ok "after the signer is killed, a request fails (exit $RC)" ||
	not_ok "after the signer is killed, a request fails"
[ ! -e "$T/k-cert.pub" ] && ok "  and no certificate is written" ||
	not_ok "  and no certificate is written"
i=0
while kill -0 "$BROKERD_PID" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 "$BROKERD_PID" 2>/dev/null; then
	not_ok "brokerd stops when its signer dies"
	kill -KILL "$BROKERD_PID"
	wait "$BROKERD_PID" 2>/dev/null
	BROKERD_PID=
else
	wait "$BROKERD_PID"
	st=$?
	BROKERD_PID=
	equals "brokerd stops when its signer dies, with status 1" "1" "$st"
fi
log=$(cat "$T/brokerd.log")
contains "  it logs the loss" "event=signer_lost" "$log"
contains "  naming the signal" "signal 9" "$log"
contains "  and says why it stopped" "CA signer process died" "$log"
expect 5 "no daemon is left answering (broker unreachable)" B status

# --- a fresh start has a fresh signer ---------------------------------------
start_broker -c "$T/brokerd.json"
expect 0 "after a restart, certificates are issued again" B --as alice \
    request host:web-3 --pubkey "$T/k.pub" --default-cert
stop_broker
finish

#!/bin/sh
# Many clients at once, slow clients, and the connection limit.
. "$(dirname "$0")/lib.sh"
mkdir -m 0700 "$T/state"
cat >"$T/brokerd.json" <<C
{ "state_dir": "$T/state", "socket": "$T/broker.sock",
  "policy": "$ROOT/policy/examples/dev.json",
  "local_groups": { "dev": ["alice"], "secops": ["erin"] },
  "max_connections": 400, "read_timeout": 1, "idle_timeout": 30 }
C
export BROKER_SOCKET=$T/broker.sock
start_broker -c "$T/brokerd.json"

expect 0 "300 concurrent connections are all served" "$TOOLS/connflood" "$BROKER_SOCKET" 300
contains "all 300 answered" "answered=300 refused=0" "$OUT"
expect 0 "300 slow-loris clients do not stall a fresh one" "$TOOLS/connflood" "$BROKER_SOCKET" 300 stall
out=$(printf '{"v":1,"id":"slow"' | "$TOOLS/rawsend" "$BROKER_SOCKET" 3000)
contains "a half-sent line times out with an error" '"code":"timeout"' "$out"

# concurrent requests from many processes: all recorded, chain intact
i=0; pids=
while [ $i -lt 40 ]; do
	"$BROKER" --as alice request host:web-$i >/dev/null 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
wait $pids
n=$("$BROKER" --json --as erin list --all --limit 1000 | grep -c '"id": "r')
equals "40 concurrent requests, 40 records" 40 "$n"
expect 0 "chain intact after concurrent writes" B audit verify
stop_broker

sed 's/"max_connections": 400/"max_connections": 50/' "$T/brokerd.json" >"$T/small.json"
start_broker -c "$T/small.json"
run "$TOOLS/connflood" "$BROKER_SOCKET" 80
contains "beyond the limit connections are refused politely" "refused=" "$OUT"
case $OUT in *"answered=80"*) not_ok "the limit was enforced" ;; *) ok "the limit was enforced" ;; esac
expect 0 "the broker serves again once they are gone" B status
finish

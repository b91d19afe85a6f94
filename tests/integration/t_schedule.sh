#!/bin/sh
# request --start: a later window, automatic or approved; checks, host
# snapshots and certificates honour it, and the policy bounds it.
. "$(dirname "$0")/lib.sh"
mkdir -m 0700 "$T/state"
cat >"$T/policy.json" <<'P'
{ "version": 1,
  "resources": { "host:db-1": { "labels": { "env": "prod" } } },
  "rules": [
    { "id": "web", "when": { "groups": ["dev"], "resources": ["host:web-*"] },
      "grant": "auto", "max_ttl": "1h" },
    { "id": "db", "when": { "groups": ["dev"], "labels": { "env": "prod" } },
      "grant": "approve", "max_ttl": "1h", "break_glass": true,
      "approvers": { "groups": ["dba-leads"], "quorum": 1 } }
  ],
  "limits": { "schedule_max": "2d" } }
P
cat >"$T/brokerd.json" <<C
{ "state_dir": "$T/state", "socket": "$T/broker.sock", "policy": "$T/policy.json",
  "delegates": [ $VIA_DELEGATES ],
  "local_groups": { "dev": ["alice", "bob"], "dba-leads": ["carol"] } }
C
export BROKER_SOCKET=$T/broker.sock
start_broker -c "$T/brokerd.json"
epoch() { date -u -d "$1" +%s; }

# An automatic grant three seconds ahead: active, but not yet in its window.
expect 0 "a scheduled automatic grant is active at once" \
    B --json --as alice request host:web-1 --start +3s --for 10m
id=$(echo "$OUT" | json_get id)
starts=$(echo "$OUT" | json_get starts_at)
ends=$(echo "$OUT" | json_get expires_at)
contains "the reply names the start asked for" '"requested_start": "2' "$OUT"
d=$(( $(epoch "$starts") - $(date +%s) ))
[ "$d" -ge 1 ] && [ "$d" -le 4 ] && ok "the window starts about 3 s from now ($d s)" ||
	not_ok "the window starts $d s from now, not about 3"
equals "the window is the granted ttl from its start" 600 \
    "$(( $(epoch "$ends") - $(epoch "$starts") ))"
expect 0 "the human form says from when" B --as alice show "$id"
expect 0 "the request's own output names its window" \
    B --as bob request host:web-2 --start +1h --for 5m
contains "from ... until ..." ", from 2" "$OUT"
expect 4 "check refuses before the window" \
    B check --user alice --resource host:web-1
expect 0 "a snapshot taken now" B snapshot --host web-1 -o "$T/snap"
lacks "leaves the window that has not begun out" "\"serial\": ${id#r}," \
    "$(tr -d '\n' <"$T/snap")"
ssh-keygen -q -t ed25519 -N '' -C t -f "$T/k"
expect 0 "a certificate may be had before the window" \
    B --as alice cert "$id" --pubkey "$T/k.pub"
valid=$(ssh-keygen -L -f "$T/k-cert.pub" | sed -n 's/^ *Valid: from \([^ ]*\) to.*/\1/p')
v=$(( $(epoch "$valid") - $(epoch "$starts") ))
[ "$v" -ge -61 ] && [ "$v" -le 0 ] &&
	ok "the certificate is valid from the window's start less the skew ($v s)" ||
	not_ok "the certificate is valid from $valid, the window starts $starts"
sleep 3.5
expect 0 "check allows once the window has begun" \
    B check --user alice --resource host:web-1

# A start in the past means now; too far ahead and break-glass are refused.
expect 0 "a start in the past" B --json --as alice request host:web-3 \
    --start 2020-01-01T00:00:00Z
equals "starts now" "$(echo "$OUT" | json_get decided_at)" \
    "$(echo "$OUT" | json_get starts_at)"
expect 0 "and is in force at once" B check --user alice --resource host:web-3
count() { B --json --as alice list | grep -c '"id": "r'; }
before=$(count)
expect 2 "more than schedule_max ahead is refused" \
    B --as alice request host:web-4 --start +3d
contains "the refusal names the limit" "limits.schedule_max" "$ERR"
expect 2 "break-glass cannot be scheduled" \
    B --as alice request host:db-1 --break-glass --reason fire --start +1h
expect 2 "a start that is neither a time nor a duration" \
    B --as alice request host:web-4 --start soon
out=$(printf '%s\n' '{"v":1,"id":"n","op":"request","as":"alice","args":{"resource":"host:web-4","start":-5}}' |
    "$TOOLS/rawsend" "$BROKER_SOCKET" 2000)
contains "the protocol refuses a negative start" '"ok":false' "$out"
equals "the refusals stored nothing" "$before" "$(count)"

# An approved request: its window starts at the later of approval and start.
expect 3 "a scheduled request that needs approval is pending" \
    B --json --as bob request host:db-1 --start +2h --for 30m
pid=$(echo "$OUT" | json_get id)
asked=$(echo "$OUT" | json_get requested_start)
expect 0 "approved now" A carol --json approve "$pid" --reason ok
contains "it is active" '"state": "active"' "$OUT"
equals "its window starts at the start asked for" "$asked" \
    "$(echo "$OUT" | json_get starts_at)"
equals "and lasts what was granted" 1800 \
    "$(( $(epoch "$(echo "$OUT" | json_get expires_at)") - $(epoch "$asked") ))"
expect 4 "no login to it yet" B check --user bob --resource host:db-1
expect 0 "chain intact" B audit verify
finish

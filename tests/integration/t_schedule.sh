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

# An automatic grant three seconds ahead: scheduled until its window opens.
# Fails when decide() stores a later window as active (as it once did:
# request said "active" while check refused); checked by reverting it.
expect 0 "a scheduled automatic grant is granted at once (exit 0)" \
    B --json --as alice request host:web-1 --start +3s --for 10m
id=$(echo "$OUT" | json_get id)
equals "its state is scheduled, not active" scheduled "$(echo "$OUT" | json_get state)"
starts=$(echo "$OUT" | json_get starts_at)
ends=$(echo "$OUT" | json_get expires_at)
contains "the reply names the start asked for" '"requested_start": "2' "$OUT"
d=$(( $(epoch "$starts") - $(date +%s) ))
[ "$d" -ge 1 ] && [ "$d" -le 4 ] && ok "the window starts about 3 s from now ($d s)" ||
	not_ok "the window starts $d s from now, not about 3"
equals "the window is the granted ttl from its start" 600 \
    "$(( $(epoch "$ends") - $(epoch "$starts") ))"
expect 0 "list --state scheduled lists it" B --as alice list --state scheduled
contains "the scheduled grant is listed" "$id " "$OUT"
expect 0 "list --state active does not" B --as alice list --state active
lacks "not among the active ones" "$id " "$OUT"
expect 2 "an unknown state is a usage error naming the states" \
    B --as alice list --state later
contains "the states are listed" "scheduled, active" "$ERR"
expect 0 "status counts it as scheduled" B --json status
contains "a scheduled count" '"scheduled": 1' "$OUT"
expect 0 "the human form says from when" B --as alice show "$id"
expect 0 "the request's own output names its window" \
    B --as bob request host:web-2 --start +1h --for 5m
contains "from ... until ..." ", from 2" "$OUT"
expect 4 "check refuses before the window" \
    B check --user alice --resource host:web-1
contains "check says when it starts" "$id is scheduled to start at $starts" "$OUT"
expect 0 "a snapshot taken now" B snapshot --host web-1 -o "$T/snap"
lacks "leaves the window that has not begun out" "\"serial\": ${id#r}," \
    "$(tr -d '\n' <"$T/snap")"
ssh-keygen -q -t ed25519 -N '' -C t -f "$T/k"
expect 0 "a certificate may be had before the window" \
    B --as alice cert "$id" --pubkey "$T/k.pub" --default-cert
valid=$(ssh-keygen -L -f "$T/k-cert.pub" | sed -n 's/^ *Valid: from \([^ ]*\) to.*/\1/p')
v=$(( $(epoch "$valid") - $(epoch "$starts") ))
[ "$v" -ge -61 ] && [ "$v" -le 0 ] &&
	ok "the certificate is valid from the window's start less the skew ($v s)" ||
	not_ok "the certificate is valid from $valid, the window starts $starts"
sleep 3.5
expect 0 "check allows once the window has begun" \
    B check --user alice --resource host:web-1
expect 0 "show reads it as active once its window opened" B --json --as alice show "$id"
equals "active now" active "$(echo "$OUT" | json_get state)"
# the sweep records the start (it runs about once a second)
i=0
while [ $i -lt 50 ]; do
	B --as alice show "$id" | grep -q grant.started && break
	sleep 0.2; i=$((i + 1))
done
expect 0 "the timeline" B --as alice show "$id"
contains "the sweep recorded the start as grant.started" "grant.started" "$OUT"

# A scheduled grant may be cancelled or revoked before it starts.
expect 0 "another scheduled grant" B --json --as alice request host:web-5 --start +1h
s1=$(echo "$OUT" | json_get id)
expect 0 "cancelled before it starts" B --json --as alice cancel "$s1"
equals "cancelled" cancelled "$(echo "$OUT" | json_get state)"
expect 0 "and another" B --json --as alice request host:web-6 --start +1h
s2=$(echo "$OUT" | json_get id)
expect 0 "revoked before it starts" B --json --as alice revoke "$s2" --reason "not needed"
equals "revoked" revoked "$(echo "$OUT" | json_get state)"
expect 0 "nothing scheduled is left" B --as alice list --state scheduled
lacks "the cancelled one is not scheduled" "$s1 " "$OUT"
lacks "the revoked one is not scheduled" "$s2 " "$OUT"

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
contains "approved for a later window, it is scheduled" '"state": "scheduled"' "$OUT"

equals "its window starts at the start asked for" "$asked" \
    "$(echo "$OUT" | json_get starts_at)"
equals "and lasts what was granted" 1800 \
    "$(( $(epoch "$(echo "$OUT" | json_get expires_at)") - $(epoch "$asked") ))"
expect 4 "no login to it yet" B check --user bob --resource host:db-1
expect 0 "chain intact" B audit verify
finish

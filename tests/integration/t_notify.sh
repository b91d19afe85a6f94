#!/bin/sh
# Notifications: an exec hook gets the right JSON for every event we can
# trigger; a webhook gets them over HTTP; a hanging webhook or hook never
# slows grants; a full queue drops its oldest and says so in the metrics;
# bad notify sections are refused.
. "$(dirname "$0")/lib.sh"
mkdir -m 0700 "$T/state" "$T/state2"
mkdir -p "$T/ev" "$T/sink"
bulk_policy "$T/policy.json"
GROUPS_JSON='"local_groups": { "dev": ["alice", "bob"], "dba-leads": ["carol", "dave"],
    "secops": ["erin"], "sre": ["frank"], "contractors": ["mallory"] }'

# The hook: each event's standard input into $T/ev/EVENT.PID, written
# whole; it sleeps first while $T/slow exists (to test the timeout).
cat >"$T/hook.sh" <<H
#!/bin/sh
[ -e "$T/slow" ] && sleep 30
f="$T/ev/.\$\$.tmp"
cat >"\$f"
echo "\$BROKER_EVENT" >>"$T/ev/.names"
mv "\$f" "$T/ev/\$BROKER_EVENT.\$\$"
H
chmod 0755 "$T/hook.sh"

# wait_for N GLOB: until at least N files match (10 s at most).
wait_for() {
	i=0
	while [ $i -lt 200 ]; do
		# shellcheck disable=SC2086 # the glob is the point
		n=$(ls $2 2>/dev/null | wc -l)
		[ "$n" -ge "$1" ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
# events NAME: every recorded event NAME, one JSON per line.
events() { cat "$T/ev/$1".* 2>/dev/null; }
# has_event DESC NAME NEEDLE...: some NAME event holds every NEEDLE (waits
# up to 10 s for it).
has_event() {
	desc=$1; name=$2; shift 2
	i=0
	while [ $i -lt 200 ]; do
		lines=$(events "$name")
		for needle in "$@"; do
			lines=$(printf '%s\n' "$lines" | grep -F -- "$needle")
		done
		[ -n "$lines" ] && break
		sleep 0.05
		i=$((i + 1))
	done
	if [ -n "$lines" ]; then ok "$desc"
	else not_ok "$desc"; events "$name" | sed 's/^/#   got: /' | head -5; fi
}
# settle WANT CMD...: wait until CMD prints WANT (10 s at most).
settle() {
	want=$1; shift
	i=0
	while [ $i -lt 100 ] && [ "$("$@")" != "$want" ]; do
		sleep 0.1; i=$((i + 1))
	done
}
metric() {	# metric NAME{LABELS}: its value from `broker metrics`
	B metrics | awk -v m="$1" '$1 == m { print $2 }'
}

# ---- bad notify sections are refused at start -------------------------------
badcfg() {
	printf '{ "state_dir": "%s", "socket": "%s", "notify": %s }\n' \
	    "$T/state2" "$T/bad.sock" "$2" >"$T/bad.json"
	run "$BROKERD" -c "$T/bad.json"
	if [ "$RC" != 0 ] && echo "$ERR" | grep -q "notify"; then ok "refused: $1"
	else not_ok "refused: $1 (exit $RC: $ERR)"; fi
}
badcfg "plain http to a remote host" '{ "webhook": { "url": "http://example.com/x" } }'
badcfg "a relative command" '{ "exec": { "command": ["hook.sh"] } }'
badcfg "a missing program" "{ \"exec\": { \"command\": [\"$T/nope\"] } }"
badcfg "an unknown key" "{ \"exec\": { \"command\": [\"$T/hook.sh\"], \"shell\": true } }"
badcfg "no sink" '{ "events": ["request.*"] }'
badcfg "a bad event glob" "{ \"exec\": { \"command\": [\"$T/hook.sh\"] }, \"events\": [\"a b\"] }"
printf 'Authorization: Bearer s3cr3t-t0ken\n' >"$T/header"
chmod 0644 "$T/header"
badcfg "a header file others may read" "{ \"webhook\": { \"url\": \"https://hooks.example/x\", \"header_file\": \"$T/header\" } }"
chmod 0600 "$T/header"

# ---- the exec hook sees every kind of event ---------------------------------
cat >"$T/brokerd.json" <<C
{ "state_dir": "$T/state", "socket": "$T/broker.sock", "policy": "$T/policy.json",
  "delegates": [ $VIA_DELEGATES ],
  $GROUPS_JSON,
  "notify": { "exec": { "command": ["$T/hook.sh"], "timeout": 2, "concurrency": 4 } } }
C
export BROKER_SOCKET=$T/broker.sock
start_broker -c "$T/brokerd.json"
ssh-keygen -q -t ed25519 -N '' -f "$T/key" 2>/dev/null

expect 0 "auto grant" B --as alice request host:web-1 --reason "deploy 4.2" --pubkey "$T/key.pub"
has_event "request.created for the auto grant" request.created '"target":"r1"' \
    '"user":"alice"' '"resource":"host:web-1"' '"reason":"deploy 4.2"' '"state":"active"' \
    '"severity":"info"' '"actor":"alice"' '"seq":'
for k in '"event"' '"time":"2' '"seq"' '"severity"' '"actor"' '"user"' '"resource"' \
    '"target"' '"reason"' '"details"'; do
	contains "the event has $k" "$k" "$(events request.created)"
done

expect 3 "a request for approval" B --as alice request host:db-prod-1 --reason "fix index"
has_event "request.created for the pending one" request.created '"target":"r2"' '"state":"pending"'
has_event "request.pending" request.pending '"target":"r2"' '"user":"alice"' '"resource":"host:db-prod-1"'
expect 0 "carol approves" A carol approve r2 --reason "ok"
has_event "request.approved" request.approved '"target":"r2"' '"actor":"carol"' '"user":"alice"'

expect 3 "bob asks" B --as bob request host:db-prod-1 --reason "look"
expect 0 "carol denies" A carol deny r3 --reason "not today"
has_event "request.denied by an approver" request.denied '"target":"r3"' '"actor":"carol"' \
    '"reason":"not today"' '"severity":"notice"'
expect 4 "a request denied by policy" B --as mallory request host:db-prod-1 --reason x
has_event "request.created for the denied one" request.created '"target":"r4"' '"state":"denied"'
has_event "request.denied by policy" request.denied '"target":"r4"' '"user":"mallory"'
equals "one request.created per request" 4 "$(events request.created | wc -l | tr -d ' ')"
equals "no second request.created for an approver's denial" 1 \
    "$(events request.created | grep -c '"target":"r3"')"

expect 0 "alice ends her grant" B --as alice revoke r1 --reason done
has_event "grant.revoked" grant.revoked '"target":"r1"' '"reason":"done"'

expect 0 "break-glass" B --as bob request host:db-prod-1 --break-glass --reason "outage INC-7"
has_event "breakglass.used is high severity" breakglass.used '"severity":"high"' \
    '"user":"bob"' '"reason":"outage INC-7"'

expect 0 "an opt-out" B --as frank optout add resource:host:web-* --tag maintenance --reason "patching" --for 1h
has_event "optout.added" optout.added '"actor":"frank"' '"target":"o1"' '"reason":"patching"'
expect 0 "its removal" B --as frank optout remove o1 --reason "done"
has_event "optout.removed" optout.removed '"target":"o1"' '"reason":"done"'
expect 0 "a short opt-out" B --as frank optout add user:bob --tag debugging --reason "short one" --for 1s
has_event "optout.expired (the sweeper)" optout.expired '"target":"o2"' '"actor":"brokerd"'

expect 0 "freeze" B --as erin freeze --reason "incident" --for 1h
has_event "freeze.on is high severity" freeze.on '"severity":"high"' '"actor":"erin"'
expect 0 "unfreeze" B --as erin unfreeze --reason "over"
has_event "freeze.off" freeze.off '"reason":"over"'

expect 0 "flag" B --as frank flag add bob --reason "odd logins" --for 1h
has_event "flag.added" flag.added '"user":"bob"' '"reason":"odd logins"'
expect 0 "unflag" B --as frank flag remove bob --reason "fine"
has_event "flag.removed" flag.removed '"user":"bob"' '"reason":"fine"'

all=$(cat "$T/ev/"*.* 2>/dev/null)
lacks "no certificate in any event" "-cert-v01@openssh.com" "$all"
lacks "no private key in any event" "PRIVATE KEY" "$all"
lacks "no cert field in any event" '"cert"' "$all"
equals "exec failures" 0 "$(metric 'broker_notify_failures_total{sink="exec"}')"

# A hook that hangs is killed after its timeout and never slows a grant.
touch "$T/slow"
t0=$(date +%s%N)
expect 0 "a grant while the hook hangs" B --as alice request host:web-2
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
if [ $ms -lt 1500 ]; then ok "the grant took ${ms} ms"; else not_ok "the grant took ${ms} ms"; fi
settle 1 metric 'broker_notify_failures_total{sink="exec"}'
equals "the hanging hook is killed and counted" 1 "$(metric 'broker_notify_failures_total{sink="exec"}')"
rm -f "$T/slow"
grep -q 'event=notify_failed sink=exec' "$T/brokerd.log" && ok "the kill is logged" ||
    not_ok "the kill is logged"
stop_broker

# ---- the webhook: delivery, a hanging server, the queue's drops --------------
"$TOOLS/httpsink" "$T/sink" >"$T/sink.port" 2>"$T/sink.log" &
SINK_PID=$!
i=0
while [ $i -lt 100 ] && ! [ -s "$T/sink.port" ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$T/sink.port")
# hookcfg STATE QUEUE: a config whose webhook is the sink
hookcfg() {
	cat >"$T/hook.json" <<C
{ "state_dir": "$1", "socket": "$T/broker.sock", "policy": "$T/policy.json",
  $GROUPS_JSON,
  "notify": { "webhook": { "url": "http://127.0.0.1:$port/hook", "timeout": 30,
                           "retries": 0, "queue": $2, "header_file": "$T/header" },
              "events": ["request.created"] } }
C
}
hookcfg "$T/state2" 1000
start_broker -c "$T/hook.json"
burst() {	# burst FROM [N]: N (50) grants, prints the milliseconds they took
	t0=$(date +%s%N)
	j=$1
	while [ $j -lt $(($1 + ${2:-50})) ]; do
		B --as alice request "host:web-$j" >/dev/null || echo "# request $j failed" >&2
		j=$((j + 1))
	done
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 ))
}
base=$(burst 1)
wait_for 50 "$T/sink/body.*" && ok "the webhook got all 50 events" ||
    not_ok "the webhook got all 50 events ($(ls "$T/sink" | grep -c body) bodies)"
contains "a body is the event JSON" '"event":"request.created"' "$(cat "$T/sink/body.1")"
contains "bodies come in order" '"target":"r1"' "$(cat "$T/sink/body.1")"
contains "bodies come in order" '"target":"r50"' "$(cat "$T/sink/body.50")"
contains "the configured header is sent" "Authorization: Bearer s3cr3t-t0ken" "$(cat "$T/sink/head.1")"
contains "the content type is JSON" "Content-Type: application/json" "$(cat "$T/sink/head.1")"
lacks "the header's secret is never logged" "s3cr3t" "$(cat "$T/brokerd.log")"
settle 50 metric 'broker_notify_delivered_total{sink="webhook"}'
equals "all 50 counted as delivered" 50 "$(metric 'broker_notify_delivered_total{sink="webhook"}')"

touch "$T/sink/hang"
hang=$(burst 51)
limit=$((2 * base + 1000))
if [ "$hang" -le "$limit" ]; then ok "50 grants while the webhook hangs: ${hang} ms (without: ${base} ms)"
else not_ok "50 grants while the webhook hangs: ${hang} ms (without: ${base} ms, limit ${limit})"; fi
settle 49 metric 'broker_notify_queue_length{sink="webhook"}'
equals "the events wait in the queue (1 in flight)" 49 "$(metric 'broker_notify_queue_length{sink="webhook"}')"
expect 0 "freeze (not an event the filter lets through)" B --as erin freeze --reason x --for 1m
expect 0 "unfreeze" B --as erin unfreeze --reason x

# Stopping does not wait for a hanging webhook; what is left is dropped.
t0=$(date +%s%N)
stop_broker
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
if [ $ms -lt 5000 ]; then ok "stopped in ${ms} ms with a hanging webhook"
else not_ok "stopped in ${ms} ms with a hanging webhook"; fi
grep -q "event=notify_stop sink=webhook dropped=49" "$T/brokerd.log" &&
    ok "the events left at stop are logged as dropped" ||
    not_ok "the events left at stop are logged as dropped"
lacks "filtered events are not sent" "freeze" "$(cat "$T/sink/body."*)"

# A small queue drops its oldest and counts it.  r1 is in flight (the sink
# holds it) before the other 49 are filed, so which ones are kept does not
# depend on when the sink's thread first runs: r2-r45 dropped, r46-r50 kept.
rm -f "$T/sink/"*
mkdir -m 0700 "$T/state3"
hookcfg "$T/state3" 5
touch "$T/sink/hang"
start_broker -c "$T/hook.json"
burst 1 1 >/dev/null
wait_for 1 "$T/sink/body.*" || not_ok "r1 reaches the hanging sink"
burst 2 49 >/dev/null
settle 44 metric 'broker_notify_dropped_total{sink="webhook"}'
equals "the full queue dropped 44 (1 in flight, 5 kept)" 44 "$(metric 'broker_notify_dropped_total{sink="webhook"}')"
equals "the queue is full" 5 "$(metric 'broker_notify_queue_length{sink="webhook"}')"
rm -f "$T/sink/hang"
wait_for 6 "$T/sink/body.*" && ok "after the hang the kept events arrive" ||
    not_ok "after the hang the kept events arrive"
settle 6 metric 'broker_notify_delivered_total{sink="webhook"}'
kept=$(cat "$T/sink/body."* 2>/dev/null)
equals "the sink got 6 (the one in flight, the 5 kept)" 6 "$(echo "$kept" | grep -o '"event":' | wc -l | tr -d ' ')"
for r in r46 r47 r48 r49 r50; do contains "the newest ($r) was kept" "\"target\":\"$r\"" "$kept"; done
contains "the one in flight (r1) was delivered" '"target":"r1"' "$kept"
for r in r2 r40 r45; do lacks "an older one ($r) was dropped" "\"target\":\"$r\"" "$kept"; done
equals "nothing failed" 0 "$(metric 'broker_notify_failures_total{sink="webhook"}')"

# A server that fails gets its event dropped after the retries, counted.
echo 500 >"$T/sink/status"
B --as alice request host:web-200 >/dev/null
settle 1 metric 'broker_notify_failures_total{sink="webhook"}'
equals "a 500 is a failure" 1 "$(metric 'broker_notify_failures_total{sink="webhook"}')"
rm -f "$T/sink/status"
stop_broker
kill "$SINK_PID" 2>/dev/null
wait "$SINK_PID" 2>/dev/null

# ---- who to tell: approvers, the requester, a link; reminders -----------------
# Fails when enrich() is skipped (checked by returning at its top: no
# "approvers", no "to"), when the requester is offered as an approver
# (checked by dropping the requester from approvers_json()'s exclude
# list), and when reminders are not sent or sent every look (checked by
# making reminder_due() ignore remind_every: 2 reminders in 2.5 s).  That
# a restart neither repeats nor loses one is t_ldap_tell.sh's.
mkdir -m 0700 "$T/statetell"
rm -rf "$T/ev"; mkdir -p "$T/ev"
cat >"$T/tell.json" <<C
{ "state_dir": "$T/statetell", "socket": "$T/broker.sock", "policy": "$T/policy.json",
  "delegates": [ $VIA_DELEGATES ],
  "local_groups": { "dev": ["alice", "bob", "dave"], "dba-leads": ["carol", "dave"],
    "secops": ["erin"], "sre": ["frank"], "contractors": ["mallory"] },
  "notify": { "exec": { "command": ["$T/hook.sh"], "timeout": 2 },
              "link": "https://broker.example.com/r/{id}",
              "remind_after": "2s", "remind_every": "1h" } }
C
badcfg "a link without {id}" "{ \"exec\": { \"command\": [\"$T/hook.sh\"] }, \"link\": \"https://x/\" }"
badcfg "a bad remind_after" "{ \"exec\": { \"command\": [\"$T/hook.sh\"] }, \"remind_after\": \"soon\" }"
start_broker -c "$T/tell.json"
expect 3 "dave (dev and dba-leads) asks for the database" \
    B --as dave request host:db-prod-1 --role postgres --reason "reindex"
has_event "request.pending names the approver groups and quorum" request.pending \
    '"target":"r1"' '"groups":["dba-leads"]' '"quorum":1' '"approvals":0' '"needed":1'
# dave is in dba-leads too: the people are carol alone
has_event "... the people in them, never the requester" request.pending \
    '"people":[{"name":"carol","mail":null}]'
has_event "... the requester" request.pending '"requester":{"name":"dave","mail":null}'
has_event "... whom to tell" request.pending '"to":[{"name":"carol","mail":null}]'
has_event "... and the link" request.pending '"link":"https://broker.example.com/r/r1"'
has_event "a reminder once it has waited remind_after" request.reminder \
    '"target":"r1"' '"actor":"brokerd"' '"to":[{"name":"carol","mail":null}]' '"waited_s":'
sleep 2.5
equals "one reminder within remind_every" 1 "$(events request.reminder | wc -l | tr -d ' ')"
expect 0 "carol approves" A carol approve r1 --reason ok
has_event "request.approved reaches the requester" request.approved \
    '"target":"r1"' '"to":[{"name":"dave","mail":null}]' '"link":"https://broker.example.com/r/r1"'
expect 3 "alice asks" B --as alice request host:db-prod-1 --reason "look"
expect 0 "carol denies" A carol deny r2 --reason "not today"
has_event "request.denied reaches the requester" request.denied \
    '"target":"r2"' '"to":[{"name":"alice","mail":null}]'
stop_broker
finish

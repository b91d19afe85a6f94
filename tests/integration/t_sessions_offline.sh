#!/bin/sh
# The session agent ("broker sessions watch") beyond the happy path, with
# sessions simulated by root-owned records for sleeping processes (the
# records are what pam_broker.so writes; t_sessions.sh covers the real sshd):
#  - ending in parallel: sessions that ignore SIGHUP cost one grace together,
#    never one grace each, and a plain one ends at once beside them;
#  - the broker stopped: nobody is ended within --offline-grace; past it, a
#    session is kept while the host's signed snapshot lists its grant as
#    active, or its record says keep_offline; ended when the snapshot does
#    not list the grant, when it has expired, or when no snapshot is set.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
	skip "t_sessions_offline needs root (records are trusted only when root's)"; finish
fi
PIDS=; AGENTS=
stop_all() {
	for p in $AGENTS $PIDS; do kill -KILL "$p" 2>/dev/null; done
	AGENTS=; PIDS=
}
trap 'stop_all; [ -n "${KEEP:-}" ] || cleanup' EXIT

mkdir -p "$T/d"
cat >"$T/d/policy.json" <<P
{ "version": 1,
  "rules": [
    { "id": "sess", "when": { "resources": ["host:web-*"] }, "principals": ["svc"],
      "grant": "auto", "max_ttl": "1h" }
  ],
  "roles": { "policy_admins": { "users": ["erin"] }, "auditors": { "users": ["erin"] } },
  "limits": { "clock_skew": "1s" } }
P
start_broker

# proc [deaf]: a detached sleeping process (reaped by init, so that a dead
# one does not linger as our zombie); its pid on stdout.  deaf: it ignores
# SIGHUP (an ignored signal stays ignored across exec).
proc() {
	if [ "${1:-}" = deaf ]; then
		sh -c "trap '' HUP; sleep 300 >/dev/null 2>&1 </dev/null & echo \$!"
	else
		sh -c 'sleep 300 >/dev/null 2>&1 </dev/null & echo $!'
	fi
}
# alive PID: the process runs (a zombie runs nothing).
alive() {
	[ -r "/proc/$1/stat" ] && ! awk '{ sub(/.*\) /, ""); exit !($1 == "Z") }' "/proc/$1/stat" 2>/dev/null
}
# record DIR PID GRANT GRACE KEEP: the record pam_broker.so would write.
record() {
	st=$(awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[20] }' "/proc/$2/stat")
	printf '{"v":1,"grant":"%s","account":"svc","ruser":"","resource":"host:web-1","tty":"","pid":%s,"start":%s,"uid":0,"opened_at":1,"grace":%s,"keep_offline":%s}' \
	    "$3" "$2" "$st" "$4" "$5" >"$1/$2-$st.json"
	chmod 0600 "$1/$2-$st.json"
}
# gone_within PID SECONDS: whether PID ends within SECONDS; tenths in $TOOK.
gone_within() {
	TOOK=0
	while alive "$1"; do
		[ $TOOK -ge $(($2 * 10)) ] && return 1
		sleep 0.1; TOOK=$((TOOK + 1))
	done
	return 0
}
grant() {	# grant USER: a new grant for USER as svc on web-1; its id
	B --json --as "$1" request host:web-1 --new --role svc >"$T/grant.json"
	json_get id <"$T/grant.json"
}
agent() {	# agent LOG ARGS...: start "sessions watch"; its pid in AGENT
	l=$1; shift
	"$BROKER" sessions watch --host web-1 "$@" >"$T/$l.out" 2>"$T/$l.err" &
	AGENT=$!; AGENTS="$AGENTS $AGENT"
}

# ---- ending in parallel ----
D=$T/par; mkdir -m 0700 "$D"
G1=$(grant alice)
[ -n "$G1" ] && ok "a grant for the parallel case ($G1)" || not_ok "a grant"
D1=$(proc deaf); D2=$(proc deaf); N1=$(proc)
PIDS="$PIDS $D1 $D2 $N1"
record "$D" "$D1" "$G1" 4 false
record "$D" "$D2" "$G1" 4 false
record "$D" "$N1" "$G1" 4 false
agent par --dir "$D" --interval 30
sleep 1
T0=$(date +%s)
expect 0 "revoke the grant of three sessions, two ignoring SIGHUP" B --as alice revoke "$G1" --reason "parallel"
# Fails when sessions are ended one after the other (checked: with
# sess_terminate_all() ending each record in turn, the deaf ones took 8 s
# and the second check went red; the first too when the plain one came
# after a deaf one).  The bound is generous: one grace (4 s)
# is needed, 6 s allowed, two graces (8 s) fail.
if gone_within "$N1" 3; then ok "the plain session ended at once beside them (${TOOK}00 ms)"
else not_ok "the plain session ended at once beside them"; fi
while { alive "$D1" || alive "$D2"; } && [ $(($(date +%s) - T0)) -le 12 ]; do sleep 0.1; done
took=$(($(date +%s) - T0))
if ! alive "$D1" && ! alive "$D2" && [ "$took" -le 6 ]; then ok "both sessions ignoring SIGHUP ended within one 4 s grace, not two (${took} s)"
else not_ok "both sessions ignoring SIGHUP ended within one 4 s grace, not two (${took} s)"; fi
sigkilled_two() { [ "$(grep -c 'SIGKILL after the grace period' "$T/par.out")" -ge 2 ]; }
within 10 sigkilled_two
within 10 audited '"grace_needed": true' --action session.terminated --request "$G1"
within 10 audited '"grace_needed": false' --action session.terminated --request "$G1"
equals "  each by SIGKILL after the grace period" 2 "$(grep -c 'SIGKILL after the grace period' "$T/par.out")"
run B --json --as erin audit --action session.terminated --request "$G1"
contains "session.terminated says the grace was needed" '"grace_needed": true' "$OUT"
contains "  and when it was not" '"grace_needed": false' "$OUT"

# ---- timer mode: a grant that simply expires ----
# No watch is held (--timer): the agent asks every 2 s, and the grant's end
# is noticed by the timer alone.  Fails when the timer does not drive the
# rounds (checked: with the timer's sleep ten times the interval, the
# session outlived its grant by far more than one period).
E=$T/exp; mkdir -m 0700 "$E"
B --json --as erin request host:web-1 --new --role svc --for 4s >"$T/grant.json"
GE=$(json_get id <"$T/grant.json")
PE=$(proc); PIDS="$PIDS $PE"
record "$E" "$PE" "$GE" 1 false
agent exp --dir "$E" --timer --interval 2
A_EXP=$AGENT
sleep 2.5
if alive "$PE"; then ok "timer mode keeps the session while its grant lasts"
else not_ok "timer mode keeps the session while its grant lasts"; fi
# the grant ends 4 s after it was granted: 1.5 s from here, then one 2 s
# period, then 2 s for a loaded machine
if gone_within "$PE" 6; then ok "it ends within one timer period of the grant's expiry"
else not_ok "it ends within one timer period of the grant's expiry"; fi
contains "  as an expiry" "of grant $GE (expiry)" "$(cat "$T/exp.out")"
kill "$A_EXP" 2>/dev/null

# ---- the broker stopped ----
O=$T/off; mkdir -m 0700 "$O"
N=$T/nosnap; mkdir -m 0700 "$N"
G2=$(grant bob); G3=$(grant carol); G4=$(grant dave)
P2=$(proc); P3=$(proc); P4=$(proc); P5=$(proc)
PIDS="$PIDS $P2 $P3 $P4 $P5"
record "$O" "$P2" "$G2" 1 false	# its grant in the snapshot
record "$O" "$P3" "$G3" 1 false	# its grant not in the snapshot
record "$O" "$P4" "$G4" 1 true	# not in it either, but keep_offline
record "$N" "$P5" "$G2" 1 false	# an agent without a snapshot
MK=$TOOLS/mksnapshot
"$MK" "$T/ca" keys >"$T/ca_keys" && chmod 0644 "$T/ca_keys"
"$MK" "$T/ca" sign web-1 -60 3600 "svc:${G2#r}" >"$T/snap" && chmod 0644 "$T/snap"
[ -s "$T/snap" ] && ok "a signed snapshot listing $G2" || not_ok "a signed snapshot"
agent off --dir "$O" --interval 30 --offline-grace 3 --snapshot "$T/snap" --ca-keys "$T/ca_keys"
A_OFF=$AGENT
agent nosnap --dir "$N" --interval 30 --offline-grace 3
sleep 1.5
expect 2 "--snapshot without --ca-keys is refused" B sessions watch --dir "$O" --once --snapshot "$T/snap"
stop_broker
sleep 1.5
# Fails when the broker's absence ends sessions at once (checked: with the
# offline-grace comparison dropped, all four went red).
for p in $P2 $P3 $P4 $P5; do alive "$p" || break; done
if alive "$P2" && alive "$P3" && alive "$P4" && alive "$P5"; then ok "a stopped broker ends nobody within --offline-grace"
else not_ok "a stopped broker ends nobody within --offline-grace"; fi
if gone_within "$P3" 6; then ok "past it, a session whose grant the snapshot does not list is ended"
else not_ok "past it, a session whose grant the snapshot does not list is ended"; fi
if gone_within "$P5" 3; then ok "  and, with no snapshot, every session"
else not_ok "  and, with no snapshot, every session"; fi
sleep 1.5
# Fails when the snapshot is not consulted (checked: with offline_due()
# ignoring it, P2 was ended) or keep_offline is ignored (checked: P4 ended).
if alive "$P2"; then ok "a session the valid snapshot lists as active is kept"
else not_ok "a session the valid snapshot lists as active is kept"; fi
if alive "$P4"; then ok "a session whose record says keep_offline is kept"
else not_ok "a session whose record says keep_offline is kept"; fi
contains "the agent says why it ended one" "snapshot does not list the grant" "$(cat "$T/off.err" "$T/off.out")"
# The snapshot expires (replaced by one that has): the session goes.
"$MK" "$T/ca" sign web-1 -7200 -5 "svc:${G2#r}" >"$T/snap.new" && chmod 0644 "$T/snap.new"
mv "$T/snap.new" "$T/snap"
if gone_within "$P2" 5; then ok "once the snapshot has expired, that session is ended too (${TOOK}00 ms)"
else not_ok "once the snapshot has expired, that session is ended too"; fi
contains "  and the agent says the snapshot could not be used" "offline snapshot not used" "$(cat "$T/off.err")"
if alive "$P4"; then ok "keep_offline still keeps its session"
else not_ok "keep_offline still keeps its session"; fi
# A snapshot others could write is not believed.
"$MK" "$T/ca" sign web-1 -60 3600 "svc:${G4#r}" >"$T/snap" && chmod 0666 "$T/snap"
sleep 1.5
contains "a world-writable snapshot is refused" "writable only by its owner" "$(cat "$T/off.err")"
# The broker back: the ends the agents could not report are reported now.
# Fails when reports made offline are dropped (checked: with keep_report()
# discarding its argument, no session.terminated of either grant arrived).
start_broker
i=0
while [ $i -lt 50 ] && ! grep -q "reachable again" "$T/off.err"; do sleep 0.2; i=$((i + 1)); done
sleep 1
run B --json --as erin audit --action session.terminated --request "$G3"
contains "the broker back, the ends made offline are audited" '"cause": "unconfirmed"' "$OUT"
contains "  with why" "snapshot does not list the grant" "$OUT"
run B --json --as erin audit --action session.terminated --request "$G2"
contains "  those of both agents" "no offline snapshot is configured" "$OUT"
kill "$A_OFF" 2>/dev/null
if [ "$FAILED" != 0 ]; then
	for f in par exp off nosnap; do cat "$T/$f.out" "$T/$f.err" | tail -15 | sed "s/^/#   $f: /"; done
fi
stop_all
stop_broker
finish

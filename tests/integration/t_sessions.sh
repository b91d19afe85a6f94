#!/bin/sh
# Ending access ends sessions: a real sshd with pam_broker.so in the account
# and session stacks records each login; "broker sessions watch" (root, on
# the "host") ends the sessions of a grant that is revoked, blocked by a
# flag, or revoked by freeze --revoke-active, within seconds, and reports
# session.terminated; an unrelated session stays; a forged record (a pid
# with another start time) and a record not owned by root are never acted on.
. "$(dirname "$0")/lib.sh"
SSHD=/usr/sbin/sshd
if [ "$(id -u)" != 0 ] || [ ! -x "$SSHD" ] || ! command -v useradd >/dev/null; then
	skip "t_sessions needs root, sshd and useradd (uid $(id -u))"; finish
fi
r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
UA=brs$$a$r; UB=brs$$b$r
useradd -M -p "*" -d "$T/home" -s /bin/sh "$UA" || { not_ok "useradd $UA"; finish; }
useradd -M -p "*" -d "$T/home" -s /bin/sh "$UB" || { userdel "$UA"; not_ok "useradd $UB"; finish; }
mkdir -p "$T/home" && chmod 0755 "$T/home"
WATCH_PID=; SPARE=
stop_all() {
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
	sshd_stop
	for p in $SPARE; do kill "$p" 2>/dev/null; done
	pkill -u "$UA" 2>/dev/null; pkill -u "$UB" 2>/dev/null
	WATCH_PID=
}
trap 'stop_all; userdel "$UA" 2>/dev/null; userdel "$UB" 2>/dev/null; [ -n "${KEEP:-}" ] || cleanup' EXIT

mkdir -p "$T/d"
cat >"$T/d/policy.json" <<P
{ "version": 1,
  "rules": [
    { "id": "sess", "when": { "resources": ["host:sess-*"] }, "principals": ["$UA", "$UB"],
      "grant": "auto", "max_ttl": "1h" }
  ],
  "roles": { "policy_admins": { "users": ["erin"] }, "auditors": { "users": ["erin"] },
             "optout_managers": { "users": ["erin"] }, "flaggers": { "users": ["erin"] }, "optout_approvers": { "users": ["erin"] } },
  "limits": { "clock_skew": "1s" } }
P
start_broker
B ca show >"$T/ca.pub"
: >"$T/krl"
SDIR=$T/sessions
mkdir -p "$SDIR" && chmod 0700 "$SDIR"

PAMSVC=$T/pam.d
mkdir -p "$PAMSVC"
PB="$BUILD/pam_broker.so socket=$BROKER_SOCKET resource=host:sess-1 timeout_ms=2000"
cat >"$PAMSVC/sshd" <<S
auth     required pam_permit.so
account  required $PB
session  required $PB session_dir=$SDIR session_grace=2
password required pam_deny.so
S
sshd_start sshd "$T/ca.pub" "$T/krl" "$PAMSVC" || finish
PORT=$SSHD_PORT

# session KEY ACCOUNT TAG: a long-running ssh session in the background;
# its ssh client's pid in $SPID.
session() {
	ssh -F none -i "$1" -o CertificateFile="$1-cert.pub" -o IdentitiesOnly=yes \
	    -o BatchMode=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 \
	    -p "$PORT" "$2@127.0.0.1" "sleep 300; echo $3" \
	    >>"$T/ssh-$3.out" 2>>"$T/ssh.log" </dev/null &
	SPID=$!
}
# wait_records N: until N records are in the session directory (10 s).
wait_records() {
	i=0
	while [ "$(ls "$SDIR" | grep -c '\.json$')" -lt "$1" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ "$(ls "$SDIR" | grep -c '\.json$')" -ge "$1" ]
}
# gone_within PID SECONDS: whether PID exits within SECONDS (tenths polled);
# the time taken in $TOOK (tenths of a second).
gone_within() {
	TOOK=0
	while kill -0 "$1" 2>/dev/null; do
		[ $TOOK -ge $(($2 * 10)) ] && return 1
		sleep 0.1; TOOK=$((TOOK + 1))
	done
	return 0
}
grant() {	# grant NAME ACCOUNT: request a grant as NAME, certificate in $T/k_NAME
	rm -f "$T/k_$1" "$T/k_$1.pub" "$T/k_$1-cert.pub"
	ssh-keygen -q -t ed25519 -N '' -f "$T/k_$1"
	B --json --as "$1" request host:sess-1 --new --role "$2" --pubkey "$T/k_$1.pub" --default-cert >"$T/grant.json"
	json_get id <"$T/grant.json"
}

GA=$(grant alice "$UA")
GB=$(grant bob "$UB")
[ -n "$GA" ] && [ -n "$GB" ] && ok "grants for alice ($GA) and bob ($GB)" || not_ok "grants"
session "$T/k_alice" "$UA" alice1; SA=$SPID
session "$T/k_bob" "$UB" bob1; SB=$SPID
if wait_records 2; then ok "pam_broker.so recorded both sessions"
else not_ok "pam_broker.so recorded both sessions"; ls -l "$SDIR" | sed 's/^/#   /'; tail -5 "$T/sshd.log" | sed 's/^/#   /'; fi
run stat -c '%U %a' "$SDIR/$(ls "$SDIR" | head -1)"
equals "a record is root's, mode 0600" "root 600" "$OUT"
run B --json sessions
contains "broker sessions lists alice's session" "\"grant\": \"$GA\"" "$OUT"
contains "  and bob's" "\"grant\": \"$GB\"" "$OUT"
run B --json --as erin show "$GA"
contains "broker show lists the grant's session and host" "\"account\": \"$UA\"" "$OUT"
run B --json --as erin audit --action session.opened
contains "session.opened is audited" "$GA" "$OUT"
expect 4 "a plain user may not report sessions" B --as alice sessions watch --once --dir "$SDIR"

# The forged records, beside the real ones: a root-owned one naming a live
# process with another start time, and one with the right start time that
# is not owned by root.  Both name alice's grant, which is about to end.
sleep 600 & V1=$!; sleep 600 & V2=$!; SPARE="$V1 $V2"
st2=$(awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[20] }' /proc/$V2/stat)
printf '{"v":1,"grant":"%s","account":"%s","ruser":"","resource":"host:sess-1","tty":"","pid":%s,"start":1,"uid":0,"opened_at":1,"grace":1,"keep_offline":false}' \
    "$GA" "$UA" "$V1" >"$SDIR/$V1-1.json"
chmod 0600 "$SDIR/$V1-1.json"
printf '{"v":1,"grant":"%s","account":"%s","ruser":"","resource":"host:sess-1","tty":"","pid":%s,"start":%s,"uid":0,"opened_at":1,"grace":1,"keep_offline":false}' \
    "$GA" "$UA" "$V2" "$st2" >"$SDIR/$V2-$st2.json"
chmod 0600 "$SDIR/$V2-$st2.json"; chown "$UB" "$SDIR/$V2-$st2.json"

# The agent, with a long timer (30 s), so that ending within 5 s is the
# stream's doing.  Fails when the audit feed does not wake parked watches
# (checked: with ops_sessions_on_record() returning at once, the revoke, the
# flag and the freeze checks below went red).
BROKER_SOCKET=$BROKER_SOCKET "$BROKER" sessions watch --dir "$SDIR" --interval 30 \
    >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
sleep 1
expect 0 "revoke alice's grant" B --as alice revoke "$GA" --reason "done for today"
if gone_within "$SA" 5; then ok "her ssh session ended within 5 s (${TOOK}00 ms)"
else not_ok "her ssh session ended within 5 s"; cat "$T/watch.err" | sed 's/^/#   /'; fi
if kill -0 "$SB" 2>/dev/null; then ok "bob's session is untouched"; else not_ok "bob's session is untouched"; fi
# Fails when the start time is compared nowhere (checked: with sess_alive()
# and open_checked() both ignoring it, V1 was killed: the last check below
# went red).
if kill -0 "$V1" 2>/dev/null; then ok "a record whose start time differs is never signalled"
else not_ok "a record whose start time differs is never signalled"; fi
# Fails when ownership is not checked (checked: with read_one() accepting any
# uid, V2 was killed).
if kill -0 "$V2" 2>/dev/null; then ok "a record not owned by root is never acted on"
else not_ok "a record not owned by root is never acted on"; fi
contains "  and it is reported" "$V2-$st2.json ignored: owned by uid" "$(cat "$T/watch.err")"
within 10 audited "\"target\": \"$GA\"" --action session.terminated
run B --json --as erin audit --action session.terminated
contains "session.terminated is audited" "\"target\": \"$GA\"" "$OUT"
contains "  with the cause" "\"cause\": \"revoke\"" "$OUT"
contains "  who ended it" "\"ended_by\": \"alice\"" "$OUT"
contains "  the processes signalled" "\"processes\"" "$OUT"
lacks "  and not bob's" "\"target\": \"$GB\"" "$OUT"
run B --json sessions
lacks "the ended session is gone from the list" "\"grant\": \"$GA\"" "$OUT"

# A block flag on alice ends her next session (its grant stays active).
GA2=$(grant alice "$UA")
session "$T/k_alice" "$UA" alice2; SA2=$SPID
wait_records 4 || not_ok "second session recorded"
sleep 0.5
expect 0 "a block flag on alice" B --as erin flag add alice --reason "compromised" --for 1h --severity block
if gone_within "$SA2" 5; then ok "the block flag ended her session within 5 s (${TOOK}00 ms)"
else not_ok "the block flag ended her session within 5 s"; fi
if kill -0 "$SB" 2>/dev/null; then ok "bob's session is still untouched"; else not_ok "bob's session is still untouched"; fi
within 10 audited '"cause": "flag"' --action session.terminated --request "$GA2"
run B --json --as erin audit --action session.terminated --request "$GA2"
contains "session.terminated says a flag did it" "\"cause\": \"flag\"" "$OUT"
B --as erin flag remove alice --reason cleared >/dev/null 2>&1

# freeze --revoke-active ends every automatic grant's sessions: alice's new
# one and bob's.
GA3=$(grant alice "$UA")
session "$T/k_alice" "$UA" alice3; SA3=$SPID
wait_records 4 || not_ok "third session recorded"
sleep 0.5
expect 0 "freeze --revoke-active" B --as erin freeze --reason "incident" --for 1h --revoke-active
contains "freeze says how many sessions on how many hosts" "2 open session(s) on 1 host(s)" "$OUT"
if gone_within "$SA3" 5; then ok "the freeze ended alice's session within 5 s (${TOOK}00 ms)"
else not_ok "the freeze ended alice's session within 5 s"; fi
if gone_within "$SB" 5; then ok "  and bob's"; else not_ok "  and bob's"; fi
within 10 audited '"cause": "freeze"' --action session.terminated
run B --json --as erin audit --action session.terminated
contains "session.terminated says a freeze did it" "\"cause\": \"freeze\"" "$OUT"
B --as erin unfreeze --reason over >/dev/null 2>&1

if kill -0 "$V1" 2>/dev/null && kill -0 "$V2" 2>/dev/null; then ok "the forged records' processes still run"
else not_ok "the forged records' processes still run"; fi
kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; WATCH_PID=

# Timer mode (what "host sync" without --watch does): no watch is held, the
# agent asks every --interval seconds, so a revoke ends the session within
# one period.  Fails when the timer does not drive the rounds (checked: with
# the timer's sleep ten times the interval, the session outlived 5 s).
BROKER_SOCKET=$BROKER_SOCKET "$BROKER" sessions watch --dir "$SDIR" --timer --interval 3 \
    >"$T/timer.out" 2>"$T/timer.err" &
WATCH_PID=$!
GA4=$(grant alice "$UA")
session "$T/k_alice" "$UA" alice4; SA4=$SPID
i=0; while [ $i -lt 100 ] && ! grep -q "\"$GA4\"" "$SDIR"/*.json 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
sleep 3.5	# at least one timer round has seen the session and kept it
if kill -0 "$SA4" 2>/dev/null; then ok "timer mode keeps a session whose grant stands"
else not_ok "timer mode keeps a session whose grant stands"; fi
expect 0 "revoke alice's grant again" B --as alice revoke "$GA4" --reason "timer test"
if gone_within "$SA4" 5; then ok "timer mode (3 s period) ended her session within one period and the grace (${TOOK}00 ms)"
else not_ok "timer mode ended her session within one period"; cat "$T/timer.err" | sed 's/^/#   /'; fi
within 10 grep -qF "of grant $GA4 (revoke)" "$T/timer.out"
contains "  and says so" "of grant $GA4 (revoke)" "$(cat "$T/timer.out")"
kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; WATCH_PID=
if [ "$FAILED" != 0 ]; then
	grep -i 'pam\|session' "$T/sshd.log" | tail -20 | sed 's/^/#   sshd: /'
	cat "$T/watch.out" "$T/watch.err" | tail -20 | sed 's/^/#   watch: /'
	grep -i 'session\|error' "$T/brokerd.log" | tail -20 | sed 's/^/#   brokerd: /'
fi
stop_all
stop_broker
finish

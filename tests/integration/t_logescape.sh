#!/bin/sh
# Logs cannot be forged: every value the daemon logs is escaped by the
# logger itself (broker/lib/log.c), so an op name, a request id or an
# "as" name holding a newline or a terminal escape never puts a raw
# control character in the log, never starts a line of its own.
# Fails when log_msg() writes the formatted text unescaped: checked by
# replacing escape_into() with a plain copy (both checks went red: raw
# ESC in the log, and a line not starting with ts=).
. "$(dirname "$0")/lib.sh"
export BROKER_SOCKET=$T/broker.sock
cp "$ROOT/policy/examples/dev.json" "$T/policy.json"
mkdir -m 0700 "$T/state"
cat >"$T/brokerd.json" <<EOF2
{ "state_dir": "$T/state", "socket": "$BROKER_SOCKET",
  "policy": "$T/policy.json", "log_level": "debug",
  "local_groups": { "dev": ["alice", "bob"], "secops": ["erin"] } }
EOF2
start_broker -c "$T/brokerd.json"
ESC=$(printf '\033')
# JSON escapes: \n and \u001b reach the daemon as real control bytes
printf '%s\n' \
    '{"v":1,"id":"a\u001b[2Jb","op":"stat\nus\u001b]0;pwned\u0007"}' \
    '{"v":1,"id":"x","op":"status","as":"ali\nts=forged level=info event=ready\u001b[31m"}' \
    '{"v":1,"id":"y","op":"nope\r\nts=2026-01-01T00:00:00.000Z level=error event=forged"}' |
    "$TOOLS/rawsend" "$BROKER_SOCKET" 1500 >"$T/replies"
equals "three replies" 3 "$(grep -c '"ok":false' "$T/replies")"
expect 0 "still serving" B status
stop_broker
grep -v '^==\|^    #\|^SUMMARY\|^$' "$T/brokerd.log" >"$T/log"
contains "the odd op reached the log (escaped)" 'op=stat\x0aus\x1b]0;pwned\x07' \
    "$(cat "$T/log")"
if grep -q "$ESC" "$T/log" || tr -d '\n' <"$T/log" | grep -q "$(printf '[\001-\037\177]')"; then
	not_ok "no raw control characters in the log"
	cat -v "$T/log" | sed 's/^/#   /' | head -20
else
	ok "no raw control characters in the log"
fi
bad=$(grep -vc '^ts=' "$T/log")
equals "every log line is the logger's own (starts with ts=)" 0 "$bad"
lacks "no forged event" "event=forged" "$(grep -v 'op=nope' "$T/log")"
finish

#!/bin/sh
# email.sh - a brokerd notify.exec hook: mail each event with sendmail.
#
#   "notify": { "exec": { "command": ["/usr/local/lib/broker/hooks/email.sh",
#                                     "secops@example.com"] },
#               "events": ["breakglass.used", "freeze.*", "review.overdue"] }
#
# brokerd runs it without a shell, with the event's JSON on standard input
# and BROKER_EVENT in the environment (docs/notifications.md).  It must
# finish within notify.exec.timeout seconds or it is killed; sendmail only
# queues the message, so that is quick.  Exit 0 means delivered.
set -eu
[ $# -ge 1 ] || { echo "usage: email.sh RECIPIENT..." >&2; exit 2; }
for r in "$@"; do
	case $r in
	-*|*[!A-Za-z0-9@._+-]*) echo "email.sh: bad recipient" >&2; exit 2 ;;
	esac
done
event=${BROKER_EVENT:-event}
case $event in *[!a-z0-9._-]*) event=event ;; esac
SENDMAIL=${SENDMAIL:-/usr/sbin/sendmail}
body=$(head -c 65536)
if command -v jq >/dev/null 2>&1; then
	# a readable summary first, then the whole event
	summary=$(printf '%s\n' "$body" | jq -r '"\(.severity): \(.event) by \(.actor // "-")\nuser:     \(.user // "-")\nresource: \(.resource // "-")\ntarget:   \(.target // "-")\nreason:   \(.reason // "-")\ntime:     \(.time)"' 2>/dev/null) || summary=
	pretty=$(printf '%s\n' "$body" | jq . 2>/dev/null) || pretty=$body
else
	summary=
	pretty=$body
fi
{
	printf 'To: %s\n' "$(echo "$@" | sed 's/ /, /g')"
	printf 'Subject: [broker] %s\n' "$event"
	printf 'Content-Type: text/plain; charset=utf-8\n'
	printf 'Auto-Submitted: auto-generated\n\n'
	[ -n "$summary" ] && printf '%s\n\n' "$summary"
	printf '%s\n' "$pretty"
} | "$SENDMAIL" -oi -- "$@"

#!/bin/sh
# chat.sh - a brokerd notify.exec hook: post each event to a Slack-style
# incoming webhook ({"text": "..."}) with curl.
#
#   "notify": { "exec": { "command": ["/usr/local/lib/broker/hooks/chat.sh",
#                                     "/etc/broker/chat-webhook-url"],
#                         "timeout": 10 } }
#
# The URL is a secret (anyone who has it can post), so it is read from a
# file only brokerd's user can read, never given on the command line where
# `ps` would show it.  Needs curl and jq.  For delivery to an HTTPS endpoint
# of your own, with retries and a bounded queue, prefer notify.webhook.
set -eu
[ $# -eq 1 ] || { echo "usage: chat.sh URL-FILE" >&2; exit 2; }
url=$(head -n 1 "$1")
case $url in https://*) ;; *) echo "chat.sh: the URL must be https://" >&2; exit 2 ;; esac
payload=$(head -c 65536 | jq -c '{
  text: ((if .severity == "high" then ":rotating_light: " else "" end)
    + "*\(.event)* by \(.actor // "-")"
    + (if .user then " for \(.user)" else "" end)
    + (if .resource then " on `\(.resource)`" else "" end)
    + (if .target then " (\(.target))" else "" end)
    + (if .reason then ": \(.reason)" else "" end))
}')
# the URL goes to curl through its config on standard input, not argv
printf 'url = "%s"\n' "$url" |
    curl --silent --show-error --fail --max-time 8 --proto =https \
        --header 'Content-Type: application/json' --data-binary "$payload" \
        --config - >/dev/null

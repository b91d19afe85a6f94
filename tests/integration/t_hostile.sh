#!/bin/sh
# Hostile values, through the CLI and through the raw protocol: uids where
# names belong (-1, 4294967295), names with newlines and terminal escapes,
# numbers out of range, absurd durations.  Each gets a clear error (one
# line, no raw control characters echoed to a terminal, a usage/refusal
# exit code, never a crash) and changes nothing: the full request list and
# the audit chain are the same before and after.  (SECURITY.md, failures.)
. "$(dirname "$0")/lib.sh"
start_broker
RAW="$TOOLS/rawsend $BROKER_SOCKET 1500"
ESC=$(printf '\033')
BEL=$(printf '\007')
NL='
'

# Some state to protect: a grant, a pending request, an opt-out, a flag.
expect 0 "setup: a grant" B --as alice request host:web-1 --reason setup
expect 3 "setup: a pending request" B --as alice request host:db-prod-1 \
    --role postgres --reason setup
snapshot() {
	B --json --as erin list --all --limit 10000
	B --json audit verify
}
before=$(snapshot)
nbefore=$(printf '%s' "$before" | grep -c '"id"')

# cli WANT DESC ARGS...: exit WANT, one "broker: ..." line on stderr with
# no raw ESC/BEL/CR, nothing on stdout.
cli() {
	want=$1; desc=$2; shift 2
	run B "$@"
	if [ "$RC" = "$want" ]; then ok "cli $desc: exit $want"
	else
		not_ok "cli $desc: exit $RC, wanted $want"
		printf '%s\n' "$OUT$ERR" | cat -v | sed 's/^/#   /' | head -5
	fi
	case $ERR in
	"broker: "*"$NL"*) not_ok "cli $desc: the error is one line" ;;
	"broker: "*) ok "cli $desc: one clear error line" ;;
	*) not_ok "cli $desc: the error is one line (got '$ERR')" ;;
	esac
	case $ERR in
	*"$ESC"* | *"$BEL"* | *"$(printf '\r')"*)
		not_ok "cli $desc: control characters reach the terminal" ;;
	esac
	[ -z "$OUT" ] || not_ok "cli $desc: nothing on stdout (got '$OUT')"
}

# uids and numbers where a user name belongs
cli 2 "--as -1" --as -1 request host:web-2
cli 4 "--as 4294967295" --as 4294967295 request host:web-2
cli 4 "--as 18446744073709551615" --as 18446744073709551615 request host:web-2
cli 2 "--as ''" --as "" request host:web-2
cli 2 "check --user -1" check --user -1 --resource host:web-1
# names with newlines and terminal escapes
cli 2 "--as with a newline" --as "al${NL}ice" request host:web-2
cli 2 "--as with an escape" --as "alice${ESC}[31m" request host:web-2
cli 2 "--as with an OSC title" --as "alice${ESC}]0;pwned${BEL}" status
cli 2 "resource with an escape" --as alice request "host:${ESC}[2J"
cli 2 "resource with a newline" --as alice request "host:web-1${NL}host:web-2"
cli 2 "role with a newline" --as alice request host:web-2 --role "ro${NL}ot"
cli 2 "role with an escape" --as alice request host:web-2 --role "root${ESC}[8m"
cli 2 "check --user with an escape" check --user "alice${ESC}[31m" \
    --resource host:web-1
cli 2 "check --resource with a newline" check --user alice \
    --resource "host:web-1${NL}"
cli 2 "explain --user with a newline" policy explain --user "a${NL}b" \
    --resource host:web-1
cli 2 "show id with an escape" --as alice show "r1${ESC}[31m"
# numbers out of range
cli 2 "list --limit 2^64+1" --as erin list --all --limit 18446744073709551617
cli 2 "list --limit -1" --as erin list --all --limit -1
cli 2 "list --limit 0" --as erin list --all --limit 0
cli 2 "list --limit 1e9" --as erin list --all --limit 1e9
cli 2 "show a 20-digit id" --as alice show r99999999999999999999
cli 2 "show r-1" --as alice show r-1
# absurd durations
for d in 99999999999h -1s 0s 367d 9223372036854775807s 18446744073709551617s \
    1e9s 1.5h 8h-1h "8 h" "" h 1h1h; do
	cli 2 "request --for '$d'" --as alice request host:web-2 --for "$d"
done
cli 2 "explain --for 99999999999h" policy explain --user alice \
    --resource host:web-1 --for 99999999999h

# Raw protocol lines, all on one connection (one round trip, not one
# timeout each): raw DESC LINE queues LINE with its "id":"@" numbered;
# every queued line must get an error reply (ok:false with a code and a
# message) under its own id, and a good line sent last must still be
# answered.  A line that is not valid JSON to jansson (a \u0000 escape, an
# integer beyond 64 bits) has no id to echo: its reply has "id":"" (raw
# DESC LINE noid), and there must be as many of those.
: >"$T/raw.lines"; : >"$T/raw.descs"
n=0; noid=0
raw() {
	if [ "${3:-}" = noid ]; then
		noid=$((noid + 1))
		printf '%s\n' "$2" >>"$T/raw.lines"
		return
	fi
	n=$((n + 1))
	printf '%s\n' "$2" | sed "s/\"id\":\"@\"/\"id\":\"h$n\"/" >>"$T/raw.lines"
	printf 'h%s %s\n' "$n" "$1" >>"$T/raw.descs"
}
req() {	# req DESC AS ARGS-JSON [noid]: a request op
	raw "$1" "{\"v\":1,\"id\":\"@\",\"op\":\"request\",\"as\":$2,\"args\":$3}" \
	    "${4:-}"
}
req '"as":"-1"' '"-1"' '{"resource":"host:web-2"}'
req '"as":"4294967295"' '"4294967295"' '{"resource":"host:web-2"}'
req '"as":4294967295 (a number)' '4294967295' '{"resource":"host:web-2"}'
req '"as":-1 (a number)' '-1' '{"resource":"host:web-2"}'
req '"as":""' '""' '{"resource":"host:web-2"}'
req '"as" with a newline' '"al\nice"' '{"resource":"host:web-2"}'
req '"as" with an escape' '"alice\u001b[31m"' '{"resource":"host:web-2"}'
req '"as" with a C1 CSI' '"alice\u009b31m"' '{"resource":"host:web-2"}'
req '"as" with a NUL escape' '"alice\u0000"' '{"resource":"host:web-2"}' noid
req 'resource with a BEL' '"alice"' '{"resource":"host:web-2\u0007"}'
req 'role with a newline' '"alice"' '{"resource":"host:web-2","role":"ro\not"}'
req 'role -1 (a number)' '"alice"' '{"resource":"host:web-2","role":-1}'
req 'reason with a NUL' '"alice"' '{"resource":"host:web-2","reason":"a\u0000b"}' \
    noid
# ("for": null means "not stated", as for every optional argument)
for f in 0 -1 99999999999 9223372036854775807 -9223372036854775808 \
    1e300 1.5 '"8h"' true '[]' '{}'; do
	req "\"for\":$f" '"alice"' "{\"resource\":\"host:web-2\",\"for\":$f}"
done
for s in -1 1e300 1.5 '"8h"' true '[]' 253402300800 9223372036854775807; do
	req "\"start\":$s" '"alice"' "{\"resource\":\"host:web-2\",\"start\":$s}"
done
req '"for":2^64' '"alice"' '{"resource":"host:web-2","for":18446744073709551616}' \
    noid
for l in -1 0 10001 4294967296 1e9 '"10"'; do
	raw "list \"limit\":$l" "{\"v\":1,\"id\":\"@\",\"op\":\"list\",\"as\":\"erin\",\"args\":{\"all\":true,\"limit\":$l}}"
done
raw 'list "limit":10^20' '{"v":1,"id":"@","op":"list","as":"erin","args":{"all":true,"limit":99999999999999999999}}' noid
raw "show a 20-digit id" '{"v":1,"id":"@","op":"show","as":"alice","args":{"id":"r99999999999999999999"}}'
raw "show id r-1" '{"v":1,"id":"@","op":"show","as":"alice","args":{"id":"r-1"}}'
raw "show id as a number" '{"v":1,"id":"@","op":"show","as":"alice","args":{"id":1}}'
raw "check user with an OSC" '{"v":1,"id":"@","op":"check","args":{"user":"a\u001b]0;x\u0007","resource":"host:web-1"}}'
raw "check user -1" '{"v":1,"id":"@","op":"check","args":{"user":"-1","resource":"host:web-1"}}'
raw "check user 4294967295" '{"v":1,"id":"@","op":"check","args":{"user":4294967295,"resource":"host:web-1"}}'
raw "optout for 99999999999" '{"v":1,"id":"@","op":"optout.add","as":"erin","args":{"scope":"global","tag":"incident","reason":"x","for":99999999999}}'
raw "optout for -1" '{"v":1,"id":"@","op":"optout.add","as":"erin","args":{"scope":"global","tag":"incident","reason":"x","for":-1}}'
raw "optout scope with an escape" '{"v":1,"id":"@","op":"optout.add","as":"erin","args":{"scope":"user:\u001b[31m","tag":"incident","reason":"x","for":60}}'
raw "flag for 0" '{"v":1,"id":"@","op":"flag.add","as":"erin","args":{"user":"bob","reason":"x","for":0}}'
raw "flag user -1" '{"v":1,"id":"@","op":"flag.add","as":"erin","args":{"user":"-1","reason":"x","for":60}}'
raw "revoke id 2^64" '{"v":1,"id":"@","op":"revoke","as":"alice","args":{"id":"r18446744073709551616","reason":"x"}}'
printf '%s\n' '{"v":1,"id":"after","op":"status"}' >>"$T/raw.lines"
$RAW <"$T/raw.lines" >"$T/raw.out"
while read -r id desc; do
	reply=$(grep "\"id\":\"$id\"," "$T/raw.out")
	case $reply in
	*'"ok":false'*'"code":"'*'"message":"'*) ok "raw $desc: error reply" ;;
	*) not_ok "raw $desc: error reply"
	   printf '%s\n' "$reply" | cut -c1-300 | sed 's/^/#   /' ;;
	esac
done <"$T/raw.descs"
equals "raw: the $noid lines jansson cannot read get an error reply" "$noid" \
    "$(grep -c '"id":"","ok":false,"error":{"code":"' "$T/raw.out")"
contains "raw: the connection is still usable after $((n + noid)) bad lines" \
    '"id":"after","ok":true' "$(cat "$T/raw.out")"

# Nothing changed, nothing broke.
after=$(snapshot)
nafter=$(printf '%s' "$after" | grep -c '"id"')
equals "no request was added or changed" "$nbefore" "$nafter"
if [ "$before" = "$after" ]; then ok "list and audit identical before and after"
else
	not_ok "list and audit identical before and after"
	printf '%s\n' "$before" >"$T/before"; printf '%s\n' "$after" >"$T/after"
	diff "$T/before" "$T/after" | sed 's/^/#   /' | head -20
fi
expect 0 "audit chain intact" B audit verify
expect 0 "no opt-out was added" B --as erin optout list
lacks "  (the list is empty)" "global" "$OUT"
expect 0 "brokerd still serves" B status
kill -0 "$BROKERD_PID" 2>/dev/null && ok "brokerd is still running" ||
    not_ok "brokerd is still running"
finish

#!/bin/sh
# The CLI's conventions: options anywhere (getopt_long's way), --name=VALUE,
# help for every command and subcommand with one line per option, help and
# --version, and a suggestion for a mistyped command.
#
# Fails when: global options are taken only before the command (the
# "status --json" and "--socket=" checks), "--for=1h" is not split (checked
# by the request), an option is added to a command without a line in
# broker/cli/help.c (the "(undocumented)" checks: seen red by removing the
# glossary's "action" line), or the suggestion is dropped.
. "$(dirname "$0")/lib.sh"

# ---- help, without a broker --------------------------------------------------
expect 0 "broker -h" B -h
contains "  lists the commands" "request" "$OUT"
expect 0 "broker help" B help
contains "  lists the commands" "optout" "$OUT"
expect 0 "broker --version" B --version
contains "  names the version" "broker 0." "$OUT"
expect 0 "brokerd --version" "$BROKERD" --version
contains "  names the version" "brokerd 0." "$OUT"
cmds=$(B help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }')
[ "$(echo "$cmds" | wc -l)" -ge 20 ] && ok "help lists every command" ||
    not_ok "help lists every command ($cmds)"
for c in $cmds; do
	expect 0 "broker help $c" B help "$c"
	lacks "  every option of $c described" "(undocumented)" "$OUT"
	run B "$c" --help
	equals "broker $c --help is the same" "$(B help "$c")" "$OUT"
done
# subcommands have their own options
for sc in "optout add" "optout extend o1" "optout list" "optout remove o1" \
    "optout report" "flag add u" "flag list" "flag remove u" "review list" \
    "review ack r1" "audit verify" "audit export" "audit anchor" \
    "audit prune" "policy load f" "policy explain" "policy check f"; do
	# shellcheck disable=SC2086 # word splitting is the point
	expect 0 "broker $sc --help" B $sc --help
	lacks "  every option of $sc described" "(undocumented)" "$OUT"
	contains "  with a line per option" "  --" "$OUT"
done
expect 2 "an unknown command" B stauts
contains "  suggests the nearest" 'did you mean "status"' "$ERR"
expect 2 "nothing near" B frobnicate
lacks "  suggests nothing" "did you mean" "$ERR"
expect 2 "help for an unknown command" B help requets
contains "  suggests the nearest" 'did you mean "request"' "$ERR"

# ---- options anywhere -----------------------------------------------------------
start_broker
expect 0 "status --json (a global option after the command)" B status --json
contains "  prints JSON" '{' "$OUT"
expect 0 "--json before the command still works" B --json status
expect 0 "--socket=PATH" "$BROKER" --socket="$BROKER_SOCKET" status
expect 0 "--socket=PATH after the command" "$BROKER" status --socket="$BROKER_SOCKET"
expect 5 "--socket=PATH is used (a missing one is unreachable)" "$BROKER" status --socket="$T/none.sock"
expect 0 "--as=alice after the command" B request host:web-1 --as=alice --for=1h --reason=x --json
contains "  --for=1h is one hour" '"ttl_s": 3600' "$OUT"
contains "  --as=alice files it for alice" '"user": "alice"' "$OUT"
expect 0 "options before the positional argument" B --as alice request --for 30m --reason y host:web-2
expect 2 "a flag given a value" B --as alice request host:web-1 --wait=yes
expect 2 "a value option without its value" B --as alice request host:web-1 --for
expect 2 "--as without a value" B status --as
run B --as alice request -- host:web-3
equals "-- ends the options" 0 "$RC"
finish

#!/bin/sh
# Hostile protocol input: every bad line gets an error reply, the
# connection stays usable, and nothing in the store changes.
. "$(dirname "$0")/lib.sh"
start_broker
RAW="$TOOLS/rawsend $BROKER_SOCKET 1500"
B --as alice request host:web-1 >/dev/null
before=$(B --json --as erin list --all --limit 10000 | grep -c '"id"')
ok_line='{"v":1,"id":"after","op":"status"}'

# send LINE-PRODUCING-COMMAND, then a good line; both must be answered.
probe() {
	desc=$1; shift
	out=$( { "$@"; printf '%s\n' "$ok_line"; } | $RAW)
	contains "$desc: error reply" '"ok":false' "$out"
	contains "$desc: connection still usable" '"id":"after","ok":true' "$out"
}

probe "oversized line" sh -c 'head -c 70000 /dev/zero | tr "\0" "a"; echo'
probe "invalid UTF-8" printf '{"v":1,"id":"u","op":"status","args":{"x":"\377\376"}}\n'
probe "NUL byte" printf '{"v":1,"id":"n","op":"st\000atus"}\n'
probe "deep nesting" sh -c 'printf "{\"v\":1,\"id\":\"d\",\"op\":\"status\",\"args\":{\"a\":"; i=0; while [ $i -lt 100 ]; do printf "["; i=$((i+1)); done; i=0; while [ $i -lt 100 ]; do printf "]"; i=$((i+1)); done; printf "}}\n"'
probe "unknown op" printf '{"v":1,"id":"o","op":"format_disk"}\n'
probe "wrong version" printf '{"v":2,"id":"w","op":"status"}\n'
probe "not an object" printf '[1,2,3]\n'
probe "malformed JSON" printf '{"v":1,"id":\n'
probe "duplicate keys" printf '{"v":1,"id":"k","op":"status","op":"list"}\n'
probe "unknown top-level field" printf '{"v":1,"id":"f","op":"status","admin":true}\n'
probe "wrong type for resource" printf '{"v":1,"id":"t","op":"request","as":"alice","args":{"resource":5}}\n'
probe "unknown argument" printf '{"v":1,"id":"a","op":"request","as":"alice","args":{"resource":"host:web-1","grant":"forever"}}\n'
probe "out-of-range duration" printf '{"v":1,"id":"r","op":"request","as":"alice","args":{"resource":"host:web-1","for":99999999999}}\n'
probe "negative duration" printf '{"v":1,"id":"r","op":"request","as":"alice","args":{"resource":"host:web-1","for":-1}}\n'
probe "name with a newline" printf '{"v":1,"id":"r","op":"request","as":"al\\nice","args":{"resource":"host:web-1"}}\n'
probe "terminal escape in a resource" printf '{"v":1,"id":"r","op":"request","as":"alice","args":{"resource":"host:\\u001b[31m"}}\n'
probe "huge string" sh -c 'printf "{\"v\":1,\"id\":\"h\",\"op\":\"request\",\"as\":\"alice\",\"args\":{\"resource\":\""; head -c 20000 /dev/zero | tr "\0" "a"; printf "\"}}\n"'
probe "id too long" sh -c 'printf "{\"v\":1,\"id\":\""; head -c 100 /dev/zero | tr "\0" "i"; printf "\",\"op\":\"status\"}\n"'

out=$(printf '{"v":1,"id":"x1","op":"status"}\n{"v":1,"id":"x2","op":"status"}\n' | $RAW)
contains "pipelined requests: first answered" '"id":"x1","ok":true' "$out"
contains "pipelined requests: second answered" '"id":"x2","ok":true' "$out"

after=$(B --json --as erin list --all --limit 10000 | grep -c '"id"')
equals "no state change from bad input" "$before" "$after"
expect 0 "audit chain intact after hostile input" B audit verify
expect 0 "broker still serves" B status
finish

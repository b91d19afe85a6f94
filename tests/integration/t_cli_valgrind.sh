#!/bin/sh
# The CLI under valgrind memcheck: no invalid access and no definite leak on
# its main paths, including errors.
. "$(dirname "$0")/lib.sh"
if ! command -v valgrind >/dev/null || ldd "$BROKER" | grep -q 'libasan\|libtsan'; then
	skip "needs valgrind and a build without sanitizers"
	finish
fi
start_broker
ssh-keygen -q -t ed25519 -N '' -f "$T/k"
VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
vg() {	# vg WANT DESCRIPTION ARGS...: the broker CLI under valgrind
	want=$1; desc=$2; shift 2
	run $VG "$BROKER" "$@"
	if [ "$RC" = "$want" ]; then ok "valgrind clean: $desc"
	else
		not_ok "valgrind clean: $desc (exit $RC, wanted $want)"
		echo "$ERR" | sed 's/^/#   /' | head -30
	fi
}
vg 0 "request with a public key" --as alice request host:web-1 --pubkey "$T/k.pub" --reason test
vg 0 "request --json" --json --as alice request host:web-2
vg 3 "pending request" --as alice request host:db-prod-1 --role postgres --reason x
vg 0 "list --json" --json --as alice list
vg 0 "show" --as alice show r1
vg 0 "status" status
vg 0 "check" check --user alice --resource host:web-1
vg 4 "refused check" check --user bob --resource host:web-1
vg 0 "policy check (offline parser)" policy check "$ROOT/policy/examples/production.json"
vg 2 "policy check of a broken file" policy check "$ROOT/tests/data/invalid/$(ls "$ROOT/tests/data/invalid" | grep '\.json$' | head -1)"
vg 3 "policy explain" --as alice policy explain --user alice --resource host:db-prod-1
vg 0 "optout list" optout list --all
vg 0 "krl" krl -o "$T/krl"
vg 2 "usage error" --as alice request
vg 2 "bad duration" --as alice request host:web-1 --for 5x
vg 4 "refused by the broker" --as alice list --all
BROKER_SOCKET=$T/none.sock vg 5 "broker unreachable" status
finish

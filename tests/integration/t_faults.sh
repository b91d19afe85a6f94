#!/bin/sh
# Fault injection: the store fills up, the state directory turns
# read-only, the socket or the policy cannot be had at start, the state
# directory is too open.  Each gives a clear error and a defined exit code,
# never a crash or a hang; reads go on while writes cannot, nothing is
# half-written (the audit chain verifies), and writes resume once the cause
# is gone.  (SECURITY.md, "When a dependency fails".)
. "$(dirname "$0")/lib.sh"

S=$T/state
mkdir -m 0700 "$S"
bulk_policy "$T/policy.json"
export BROKER_SOCKET=$T/broker.sock

# config [MAPSIZE [STATE_DIR [SOCKET [POLICY]]]] > file
config() {
	cat <<EOF
{ "state_dir": "${2:-$S}", "socket": "${3:-$BROKER_SOCKET}",
  "policy": "${4:-$T/policy.json}", "mapsize": ${1:-16777216},
  "local_groups": { "dev": ["alice", "bob"], "secops": ["erin"],
                    "dba-leads": ["carol", "dave"] } }
EOF
}

# start_fails DESC CONFIG NEEDLE: brokerd exits 1 at once with one
# "brokerd: ..." line naming the problem; no crash, no hang.
start_fails() {
	desc=$1; cfg=$2; needle=$3
	timeout 20 "$BROKERD" -c "$cfg" >"$T/start.out" 2>&1
	rc=$?
	errs=$(grep -c '^brokerd: ' "$T/start.out")
	line=$(grep '^brokerd: ' "$T/start.out")
	if [ "$rc" = 1 ] && [ "$errs" = 1 ]; then
		ok "$desc: exit 1 with one error line"
	else
		not_ok "$desc: exit $rc, $errs error lines (wanted 1 and 1)"
		sed 's/^/#   /' "$T/start.out" | head -10
	fi
	contains "$desc: the error says why" "$needle" "$line"
}

# --- 1. the store fills up (MDB_MAP_FULL is reported, reads go on)
config 1048576 >"$T/small.json"	# 1 MiB: the smallest mapsize accepted
start_broker -c "$T/small.json"
expect 0 "a first request fits" B --as alice request host:web-1
first=$(B --json --as alice list | sed -n 's/^    "id": "\(r[0-9]*\)",$/\1/p' | head -1)
reason=$(printf '%0400d' 0)
i=0; full=
while [ $i -lt 400 ]; do
	run B --as alice request "host:web-$((i % 50))" --reason "$reason" --new
	if [ "$RC" != 0 ]; then full=$RC; break; fi
	i=$((i + 1))
done
# then small ones, until not even those fit
j=0
while [ -n "$full" ] && [ $j -lt 400 ]; do
	run B --as bob request "host:web-$((j % 50))" --new
	[ "$RC" != 0 ] && break
	j=$((j + 1))
done
equals "requests are refused once the store is full (exit 1)" 1/1 "${full:-none}/$RC"
echo "# full after $i large and $j small requests: $ERR"
contains "the refusal says the store is full" "full" "$ERR"
lacks "the refusal is not a timeout" "did not answer" "$ERR"
n=$(printf '%s\n' "$ERR" | grep -c .)
equals "the refusal is one line" 1 "$n"
run B --json --as erin list --all --limit 10000
before=$(printf '%s' "$OUT" | grep -c '"id"')
expect 1 "another write is refused too" B --as bob request host:web-1 --new
contains "  with the same clear error" "full" "$ERR"
expect 0 "status still works when full" B status
expect 0 "list still works when full" B --as alice list
expect 0 "show still works when full" B --as alice show "$first"
expect 0 "check still works when full" B check --user alice --resource host:web-1
expect 0 "audit verify passes when full" B audit verify
contains "  and reports an intact chain" "intact" "$OUT"
run B --json --as erin list --all --limit 10000
after=$(printf '%s' "$OUT" | grep -c '"id"')
equals "refused writes left nothing behind" "$before" "$after"
kill -0 "$BROKERD_PID" 2>/dev/null && ok "brokerd survived a full store" ||
    not_ok "brokerd survived a full store"
stop_broker
config 16777216 >"$T/big.json"
start_broker -c "$T/big.json"
expect 0 "after a restart with a bigger mapsize, writes work" \
    B --as alice request host:web-1 --new
expect 0 "  and the audit chain still verifies" B audit verify
run B --json --as erin list --all --limit 10000
equals "  and nothing was lost" "$((after + 1))" "$(printf '%s' "$OUT" | grep -c '"id"')"
stop_broker

# --- 2. a read-only state directory ----------------------------------------
# chmod does not stop root, and the tests run as root in CI.  While the
# daemon runs: the store file is made immutable (chattr +i), which refuses
# writes even to root.  At start: the state directory is a read-only bind
# mount, in a private mount namespace so that nothing leaks.
if [ "$(id -u)" = 0 ] && command -v chattr >/dev/null &&
    chattr +i "$S/data.mdb" 2>/dev/null; then
	chattr -i "$S/data.mdb"
	start_broker -c "$T/big.json"
	run B --json --as erin list --all --limit 10000
	before=$(printf '%s' "$OUT" | grep -c '"id"')
	chattr +i "$S/data.mdb"
	# cleanup must be able to remove it whatever happens
	trap 'chattr -i "$S/data.mdb" 2>/dev/null; cleanup' EXIT
	run timeout 20 "$BROKER" --as alice request host:web-2 --new
	equals "immutable store file: a write is refused (exit 1)" 1 "$RC"
	echo "# refusal: $ERR"
	contains "  with a clear error" "broker: " "$ERR"
	lacks "  not a timeout" "did not answer" "$ERR"
	expect 0 "  status still works" B status
	expect 0 "  list still works" B --as alice list
	expect 0 "  audit verify passes" B audit verify
	chattr -i "$S/data.mdb"
	kill -0 "$BROKERD_PID" 2>/dev/null && ok "  brokerd survived" ||
	    not_ok "  brokerd survived"
	stop_broker
	start_broker -c "$T/big.json"
	run B --json --as erin list --all --limit 10000
	equals "  nothing half-written" "$before" "$(printf '%s' "$OUT" | grep -c '"id"')"
	expect 0 "  writes work again once the file is writable" \
	    B --as alice request host:web-2 --new
	expect 0 "  and the chain verifies" B audit verify
	stop_broker
else
	echo "# chattr +i is not supported here (not root, or the" \
	    "filesystem lacks it)"
	skip "immutable store file: chattr +i unavailable"
fi

mkdir -p "$T/ro"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    unshare -m sh -c "mount --bind '$S' '$T/ro' &&
    mount -o remount,ro,bind '$T/ro'" 2>/dev/null; then
	config 16777216 "$T/ro" "$T/ro.sock" >"$T/ro.json"
	unshare -m sh -c "mount --bind '$S' '$T/ro' &&
	    mount -o remount,ro,bind '$T/ro' &&
	    exec timeout 20 '$BROKERD' -c '$T/ro.json'" >"$T/start.out" 2>&1
	rc=$?
	equals "read-only state mount at start: exit 1" 1 "$rc"
	line=$(grep '^brokerd: ' "$T/start.out")
	equals "  with one error line" 1 "$(printf '%s\n' "$line" | grep -c .)"
	echo "# $line"
	contains "  that names the state" "$T/ro" "$line"
else
	skip "read-only state mount: no mount namespaces here"
fi

# --- 3. unusable paths at start --------------------------------------------
config 16777216 "$S" "$T/no/such/dir/broker.sock" >"$T/c1.json"
start_fails "socket in a missing directory" "$T/c1.json" "$T/no/such/dir"
long=$T/$(printf '%0120d' 0)/broker.sock
config 16777216 "$S" "$long" >"$T/c1b.json"
start_fails "socket path too long for a unix socket" "$T/c1b.json" "sock"
config 16777216 "$S" "$BROKER_SOCKET" "$T/missing.json" >"$T/c2.json"
start_fails "missing policy file" "$T/c2.json" "$T/missing.json"
mkdir "$T/policy-dir"
config 16777216 "$S" "$BROKER_SOCKET" "$T/policy-dir" >"$T/c3.json"
start_fails "unreadable policy (a directory)" "$T/c3.json" "$T/policy-dir"
printf '{"version": 1,\n "rules": [\n' >"$T/broken.json"
config 16777216 "$S" "$BROKER_SOCKET" "$T/broken.json" >"$T/c4.json"
start_fails "broken policy file (truncated JSON)" "$T/c4.json" "$T/broken.json"
printf '{"version": 1, "rules": [{"id": "x", "grant": "sometimes"}]}' \
    >"$T/invalid.json"
config 16777216 "$S" "$BROKER_SOCKET" "$T/invalid.json" >"$T/c5.json"
start_fails "invalid policy file" "$T/c5.json" "rules[0]"
truncate -s 17M "$T/huge.json"
config 16777216 "$S" "$BROKER_SOCKET" "$T/huge.json" >"$T/c6.json"
start_fails "oversized policy file" "$T/c6.json" "$T/huge.json"
mkdir -m 0755 "$T/open-state"
config 16777216 "$T/open-state" >"$T/c7.json"
start_fails "state_dir with mode 0755" "$T/c7.json" "0700"
config 16777216 "$T/no-state" >"$T/c8.json"
start_fails "missing state_dir" "$T/c8.json" "$T/no-state"
printf '{"state_dir": "%s",' "$S" >"$T/c9.json"
start_fails "broken config file" "$T/c9.json" "config"
start_fails "missing config file" "$T/nothing.json" "$T/nothing.json"
[ -e "$BROKER_SOCKET" ] && not_ok "no socket left behind by failed starts" ||
    ok "no socket left behind by failed starts"
finish

#!/bin/sh
# Offline and live decide alike: one table of logins, each decided by the
# live broker (broker check) and by pam_broker.so from the signed snapshot
# the same broker issued (the broker then out of reach), with every kind of
# login block in force in turn: block flag, user, group, resource, label,
# global, rule and request opt-outs, and a freeze.  Both must give the
# expected answer, so they agree.
#
# Fails when they do not: checked once with main's op_snapshot (no blocks,
# blocked grants listed) and main's snapshot_decide (a grant's user or role
# admitted): 19 checks went red, among them "roles: alice on db-prod-1:
# wanted deny; live exit 4, offline 0" and every block case ("offline 0").
. "$(dirname "$0")/lib.sh"

PAMMOD=$BUILD/pam_broker.so
SVC=$T/svc
mkdir -p "$SVC"
if [ ! -f "$PAMMOD" ] || ! command -v pamtester >/dev/null; then
	not_ok "pam_broker.so and pamtester are there"
	finish
fi
PRELOAD="libpam_wrapper.so"
if ldd "$PAMMOD" | grep -q libasan; then
	PRELOAD="$(gcc -print-file-name=libasan.so) $PRELOAD"
fi
if ldd "$PAMMOD" | grep -q libtsan; then
	# pamtester, which we do not build, cannot load a TSan-built module
	# ("Module is unknown"): make check-tsan leaves this test out
	skip "t_snapshot_agree under TSan (pamtester cannot load the module)"
	finish
fi

# offline LOGIN HOST: pam_broker.so's decision from $T/snap.HOST with the
# broker unreachable; 0 allowed, 1 denied.
offline() {
	{
		echo "account required $PAMMOD socket=$T/none.sock" \
		    "resource=host:$2 timeout_ms=300 snapshot=$T/snap.$2" \
		    "ca_keys=$T/ca_keys"
	} >"$SVC/off"
	OUT=$(env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 \
	    PAM_WRAPPER_SERVICE_DIR="$SVC" PAM_WRAPPER_DEBUGLEVEL=2 \
	    PAM_WRAPPER_DISABLE_DEEPBIND=1 pamtester -v off "$1" acct_mgmt 2>&1)
	case $OUT in
	*"decision=allow source=snapshot"*) echo 0 ;;
	*"decision=deny source=snapshot"*) echo 1 ;;
	*) echo "none: $(echo "$OUT" | grep -v PWRAP_DEBUG | tail -2)" ;;
	esac
}

# live LOGIN HOST: 0 allowed, 4 refused (broker check's exit codes).
live() {
	B check --user "$1" --resource "host:$2" >/dev/null 2>&1
	echo $?
}

# table CASE HOST "LOGIN:WANT ..."  (WANT: allow or deny), after a fresh
# snapshot of HOST.
table() {
	name=$1; host=$2
	if ! B snapshot --host "$host" -o "$T/snap.$host" >/dev/null; then
		not_ok "$name: snapshot of $host"
		return
	fi
	for lw in $3; do
		login=${lw%%:*}; want=${lw#*:}
		l=$(live "$login" "$host"); f=$(offline "$login" "$host")
		case $want in allow) wl=0; wo=0 ;; *) wl=4; wo=1 ;; esac
		if [ "$l" = "$wl" ] && [ "$f" = "$wo" ]; then
			ok "$name: $login on $host: live and offline $want"
		else
			not_ok "$name: $login on $host: wanted $want; live exit" \
			    "$l, offline $f"
		fi
	done
}

start_broker
B ca show --all >"$T/ca_keys" && chmod 0644 "$T/ca_keys"
B --as alice request host:web-1 --reason t >/dev/null
B --as bob request host:web-1 --reason t >/dev/null
pg=$(B --json --as alice request host:db-prod-1 --role postgres --reason "db fix" | json_get id)
expect 0 "carol approves alice's postgres grant" B --as carol approve "$pg" --reason ok

# A grant admits its role, never the requester's own name.
table "roles" db-prod-1 "postgres:allow alice:deny bob:deny root:deny"
table "no block" web-1 "alice:allow bob:allow carol:deny"
contains "the snapshot says how many grants and blocks it carries" \
    '"grants": 2' "$(B --json snapshot --host web-1)"

# block KIND CMD...: add a block, run the table, end the block.
B --as frank flag add bob --reason "odd logins" --for 1h --severity block >/dev/null
table "block flag on bob" web-1 "alice:allow bob:deny"
grep -q '"scope":"flag","user":"bob"' "$T/snap.web-1" &&
    ok "the block flag travels as a block naming bob" ||
    not_ok "the block flag travels as a block naming bob"
grep -q '"user":"bob","role"' "$T/snap.web-1" &&
    not_ok "bob's blocked grant is left out" || ok "bob's blocked grant is left out"
B --as frank flag remove bob --reason over >/dev/null
B --as frank flag add alice --reason "just watch" --for 1h --severity review >/dev/null
table "review flag (no login block)" web-1 "alice:allow bob:allow"
B --as frank flag remove alice --reason over >/dev/null

optout() { # optout SCOPE: a block opt-out's id
	B --json --as frank optout add "$1" --tag incident --reason "test $1" \
	    --for 1h --mode block | json_get id
}
end() { B --as frank optout remove "$1" --reason over >/dev/null; }

o=$(optout user:alice)
table "user block" web-1 "alice:deny bob:allow"
table "user block, role grant" db-prod-1 "postgres:deny"
end "$o"
o=$(optout group:dev)
table "group block (dev)" web-1 "alice:deny bob:deny"
grep -q '"scope":"group:dev","user":"alice"' "$T/snap.web-1" &&
    grep -q '"scope":"group:dev","user":"bob"' "$T/snap.web-1" &&
    ok "a group block is expanded to the group's members with grants" ||
    not_ok "a group block is expanded to the group's members with grants"
table "group block (dev), role grant" db-prod-1 "postgres:deny"
end "$o"
o=$(optout "resource:host:web-*")
table "resource block" web-1 "alice:deny bob:deny"
table "resource block elsewhere" db-prod-1 "postgres:allow"
end "$o"
o=$(optout label:env=prod)
table "label block elsewhere" web-1 "alice:allow bob:allow"
table "label block" db-prod-1 "postgres:deny"
end "$o"
o=$(B --json --as erin optout add global --tag incident --reason everyone \
    --for 1h --mode block | json_get id)
table "global block" web-1 "alice:deny bob:deny"
table "global block" db-prod-1 "postgres:deny"
B --as erin optout remove "$o" --reason over >/dev/null
o=$(optout "request:$pg")
table "request block" db-prod-1 "postgres:deny"
end "$o"
o=$(optout rule:staging-auto)
table "rule block" web-1 "alice:deny bob:deny"
table "rule block elsewhere" db-prod-1 "postgres:allow"
end "$o"
# a freeze stops automation; it refuses logins only with --revoke-active
B --as erin freeze --reason drill --for 1h >/dev/null
table "freeze" web-1 "alice:allow bob:allow"
B --as erin unfreeze --reason over >/dev/null
table "all blocks ended" web-1 "alice:allow bob:allow"
stop_broker
finish

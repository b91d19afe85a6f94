#!/bin/sh
# Who can approve, from a real directory (slapd.sh): an LDAP approver
# group's members and their mail addresses in the request.pending
# notification and in show/pending, the requester left out; the directory
# down -> the members are "unknown", never an empty list; reminders kept
# in the store, so a restart neither loses nor repeats one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slapd.sh"

P=ou=people,$SUFFIX
G=ou=groups,$SUFFIX
person() {	# person UID [MAIL]
	printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n' \
	    "$1" "$P" "$1" "$1" "$1"
	[ -n "${2:-}" ] && printf 'mail: %s\n' "$2"
	echo
}
{
	printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n' "$SUFFIX"
	printf 'dn: %s\nobjectClass: organizationalUnit\nou: people\n\n' "$P"
	printf 'dn: %s\nobjectClass: organizationalUnit\nou: groups\n\n' "$G"
	printf 'dn: cn=broker,%s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: broker\nuserPassword: brokerpw\n\n' "$SUFFIX"
	person ann ann@example.com
	person ben ben@example.com
	person dan dan@example.com
	person eve 'eve "x"@example.com'
	cat <<L
dn: cn=ldap-dev,$G
objectClass: groupOfNames
cn: ldap-dev
member: uid=dan,$P

dn: cn=db-approvers,$G
objectClass: groupOfNames
cn: db-approvers
member: uid=ann,$P
member: uid=dan,$P
member: cn=px-approvers,$G

dn: cn=px-approvers,$G
objectClass: posixGroup
cn: px-approvers
gidNumber: 5100
memberUid: ben

dn: cn=ops-approvers,$G
objectClass: groupOfNames
cn: ops-approvers
member: uid=ann,$P

dn: cn=web-approvers,$G
objectClass: groupOfNames
cn: web-approvers
member: uid=ann,$P
member: uid=eve,$P

L
} >"$T/seed.ldif"
slapd_make plain
slapd_start plain
ok "slapd runs on 127.0.0.1:$PORT_plain"

mkdir -p "$T/d/state" "$T/ev"
chmod 0700 "$T/d/state"
printf 'brokerpw\n' >"$T/bindpw"
chmod 0600 "$T/bindpw"
cat >"$T/policy.json" <<'J'
{
  "version": 1,
  "rules": [
    { "id": "db", "when": { "groups": ["ldap-dev"], "resources": ["host:db-*"] },
      "grant": "approve", "max_ttl": "1h",
      "approvers": { "groups": ["db-approvers"], "quorum": 1 } },
    { "id": "web", "when": { "groups": ["ldap-dev"], "resources": ["host:web-*"] },
      "grant": "approve", "max_ttl": "1h",
      "approvers": { "groups": ["web-approvers"], "quorum": 1 } },
    { "id": "ops", "when": { "groups": ["ldap-dev"], "resources": ["host:ops-*"] },
      "grant": "approve", "max_ttl": "1h",
      "approvers": { "groups": ["ops-approvers"], "quorum": 1 } }
  ],
  "limits": { "pending_ttl": "1h" }
}
J
# The hook: each event into $T/ev/EVENT.PID, written whole.
cat >"$T/hook.sh" <<H
#!/bin/sh
f="$T/ev/.\$\$.tmp"
cat >"\$f"
mv "\$f" "$T/ev/\$BROKER_EVENT.\$\$"
H
chmod 0755 "$T/hook.sh"
cat >"$T/broker.json" <<J
{
  "state_dir": "$T/d/state", "socket": "$T/d/broker.sock",
  "policy": "$T/policy.json", "delegates": ["root", $VIA_DELEGATES],
  "ldap": {
    "uri": "ldap://127.0.0.1:$PORT_plain", "bind_dn": "cn=broker,$SUFFIX",
    "bind_password_file": "$T/bindpw", "user_base": "$P",
    "user_filter": "(&(objectClass=inetOrgPerson)(uid=%u))",
    "group_base": "$G", "nested_groups": true,
    "cache_ttl": 1, "cache_stale_max": 600, "timeout": 2
  },
  "notify": { "exec": { "command": ["$T/hook.sh"], "timeout": 5 },
              "remind_after": "3s", "remind_every": "1h" }
}
J

events() { cat "$T/ev/$1".* 2>/dev/null; }
# has_event DESC NAME NEEDLE...: some NAME event holds every NEEDLE
# (waits up to 10 s).
has_event() {
	desc=$1; name=$2; shift 2
	i=0
	while [ $i -lt 200 ]; do
		lines=$(events "$name")
		for needle in "$@"; do
			lines=$(printf '%s\n' "$lines" | grep -F -- "$needle")
		done
		[ -n "$lines" ] && break
		sleep 0.05
		i=$((i + 1))
	done
	if [ -n "$lines" ]; then ok "$desc"
	else not_ok "$desc"; events "$name" | sed 's/^/#   got: /' | head -5; fi
}
# reminders ID: how many request.reminder events name request ID.
reminders() { events request.reminder | grep -c "\"target\":\"$1\""; }

start_broker -c "$T/broker.json"

# ---- members and mail from the directory -------------------------------------
# Fails when find_user() does not ask for mail_attr (checked by dropping it
# from attrs: "mail":null, 8 checks red), and when the requester is
# offered (checked by putting NULL for the requester in approvers_json()'s
# exclude list: dan listed, 3 red).  ben comes through px-approvers (a
# posixGroup inside a groupOfNames): nested and memberUid members count.
expect 3 "dan (ldap-dev) asks for a database" B --as dan request host:db-1 --reason reindex
has_event "request.pending lists the LDAP group's members with their mail" request.pending \
    '"target":"r1"' '{"name":"ann","mail":"ann@example.com"}' '{"name":"ben","mail":"ben@example.com"}'
has_event "... the requester with their mail" request.pending \
    '"target":"r1"' '"requester":{"name":"dan","mail":"dan@example.com"}'
lacks "... and the requester is not among the people" '"name":"dan"' \
    "$(events request.pending | grep -o '"people":\[[^]]*\]')"
equals "exactly ann and ben" 1 "$(events request.pending | grep -c \
    '"people":\[{"name":"ann","mail":"ann@example.com"},{"name":"ben","mail":"ben@example.com"}\]')"
expect 3 "dan asks for a web host" B --as dan request host:web-1 --reason deploy
has_event "a mail that is not a plain address is left out: eve's becomes null" request.pending \
    '"target":"r2"' '{"name":"eve","mail":null}'

# show and pending say who can still approve, as people.
# Fails when op_show() does not call ops_add_people() (checked: no
# "people" in the reply, no "who can approve" line; 5 red).
expect 0 "show --json as ann" B --json --as ann show r1
contains "approval.people names ann with her mail" '"name": "ann"' "$OUT"
contains "... and ben" '"mail": "ben@example.com"' "$OUT"
lacks "... not dan" '"name": "dan"' "$OUT"
contains "people_unknown is null" '"people_unknown": null' "$OUT"
expect 0 "show as ann" B --as ann show r1
contains "who can approve, in words" "who can approve: ann <ann@example.com>, ben <ben@example.com>" "$OUT"
expect 0 "pending as ann" B --as ann pending
contains "pending lists the people too" "who can approve: ann <ann@example.com>, eve" "$OUT"

# ---- reminders survive a restart ------------------------------------------------
# Fails when the stored reminders are not consulted (checked by making
# last_reminder() report "never", as an in-memory record is after a
# restart: 2 reminders for r1 and for r2).
stop_broker
sleep 3.5   # remind_after passes while brokerd is down
start_broker -c "$T/broker.json"
has_event "a reminder due while brokerd was down is sent after the start" request.reminder \
    '"target":"r1"' '"actor":"brokerd"' '{"name":"ann","mail":"ann@example.com"}'
sleep 2
equals "exactly one reminder for r1" 1 "$(reminders r1)"
expect 0 "the reminder is in r1's timeline" B --as ann show r1
contains "... as a request.reminder record" "request.reminder" "$OUT"
stop_broker
start_broker -c "$T/broker.json"
sleep 3
equals "after another restart, still one reminder for r1" 1 "$(reminders r1)"
equals "... and one for r2" 1 "$(reminders r2)"
expect 3 "r3, filed just before a restart" B --as dan request host:db-3 --reason r3
stop_broker
start_broker -c "$T/broker.json"
i=0
while [ $i -lt 100 ] && [ "$(reminders r3)" != 1 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1.5
equals "restart between pending and remind_after: exactly one reminder" 1 "$(reminders r3)"

# ---- the directory down: unknown, never empty -------------------------------------
# Fails when ident_people() hands back what it has when a group's members
# are unknown (checked by clearing why instead of its "goto out":
# "people":[] and "no one listed", 5 red), and when the CLI does not say
# so (checked by skipping print_people()'s people_unknown branch).
slapd_stop plain
sleep 1.2   # past cache_ttl: dan's groups come from the stale cache now
expect 3 "with the directory down, dan (stale cache) asks for an ops host" \
    B --json --as dan request host:ops-1 --reason outage
r5=$(echo "$OUT" | json_get id)
has_event "ops-approvers was never looked up: members null, marked unknown" request.pending \
    "\"target\":\"$r5\"" '"people":null' '"people_unknown":"members of ops-approvers unknown: directory unreachable"'
has_event "... and to is null, not an empty list" request.pending "\"target\":\"$r5\"" '"to":null'
lacks "no notification says nobody can approve" '"people":[]' "$(events request.pending)"
expect 0 "show as ann with the directory down" B --as ann show "$r5"
contains "says the people are unknown" "who can approve: unknown (members of ops-approvers unknown: directory unreachable)" "$OUT"
lacks "... never 'no one'" "no one listed" "$OUT"
expect 3 "a group looked up since the start (stale now) still names its people" \
    B --json --as dan request host:db-4 --reason again
r6=$(echo "$OUT" | json_get id)
has_event "... ann and ben from the stale answer" request.pending \
    "\"target\":\"$r6\"" '"people":[{"name":"ann","mail":"ann@example.com"},{"name":"ben","mail":"ben@example.com"}]'
stop_broker
finish

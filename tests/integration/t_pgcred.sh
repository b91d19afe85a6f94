#!/bin/sh
# t_pgcred.sh - db:NAME grants as PostgreSQL login roles, against a private
# PostgreSQL server this test starts (initdb/pg_ctl as user nobody, a Unix
# socket in the temp dir, listen_addresses='': never a system server).
. "$(dirname "$0")/lib.sh"

if [ -z "$PGBIN" ] || ! command -v psql >/dev/null; then
	skip "PostgreSQL is not installed (deploy/deps.sh)"; finish
fi
# the admin logs in over the socket by peer-less trust only as postgres
# from this test; grant roles must use their password (scram)
PG_HBA='local all postgres trust
local all all scram-sha-256'
pg_start || { not_ok "PostgreSQL starts"; finish; }
ok "private PostgreSQL on a socket in the temp dir"

su_psql -d postgres -c "CREATE DATABASE app" &&
su_psql -d app <<S || not_ok "schema"
CREATE ROLE app_readonly NOLOGIN;
CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2);
CREATE TABLE secrets (x text); INSERT INTO secrets VALUES ('s');
GRANT SELECT ON orders TO app_readonly;
S
printf 'host=%s port=5432 dbname=app user=postgres\n' "$PG" >"$T/app.pg"
chmod 0600 "$T/app.pg"

# policy: dev gets db:app as readonly and k8s:* at once
sed -e 's|"rules": \[|"rules": [\
    { "id": "db-app", "when": { "groups": ["dev"], "resources": ["db:app", "db:down"] },\
      "principals": ["readonly"], "grant": "auto", "max_ttl": "1h" },\
    { "id": "db-apr", "when": { "groups": ["dev"], "resources": ["db:apr"] },\
      "principals": ["readonly"], "grant": "approve", "max_ttl": "1h",\
      "approvers": { "groups": ["dba-leads"], "quorum": 1 } },\
    { "id": "k8s", "when": { "groups": ["dev"], "resources": ["k8s:*"] },\
      "grant": "auto", "max_ttl": "1h" },|' \
    "$ROOT/policy/examples/dev.json" >"$T/policy.json"
GROUPS_JSON='"local_groups": { "dev": ["alice", "bob"], "secops": ["erin"], "sre": ["frank"], "dba-leads": ["carol"] }, "delegates": ['"$VIA_DELEGATES"']'
cfg() {
	cat >"$1" <<C
{ "state_dir": "$T/state", "socket": "$T/broker.sock", "policy": "$T/policy.json",
  $GROUPS_JSON, "databases": $2 }
C
}
DBS="{ \"app\": { \"conninfo_file\": \"$T/app.pg\", \"roles\": { \"readonly\": \"app_readonly\" }, \"max_connections\": 3 },
        \"down\": { \"conninfo_file\": \"$T/down.pg\", \"roles\": { \"readonly\": \"app_readonly\" } },
        \"apr\": { \"conninfo_file\": \"$T/app.pg\", \"roles\": { \"readonly\": \"app_readonly\" } } }"
printf 'host=%s/nowhere port=5432 dbname=app user=postgres connect_timeout=2\n' "$PG" >"$T/down.pg"
chmod 0600 "$T/down.pg"
export BROKER_SOCKET=$T/broker.sock

# ---- bad config is refused -------------------------------------------------
# Fails when pgconfig.c stops checking identifiers: checked by making
# pg_ident_plain() return 1 (the three name rows went red).
badcfg() {
	cfg "$T/bad.json" "$2"
	run "$BROKERD" -c "$T/bad.json"
	if [ "$RC" != 0 ] && echo "$ERR" | grep -q "databases"; then ok "refused: $1"
	else not_ok "refused: $1 (exit $RC: $ERR)"; fi
}
badcfg "a mapped role that is SQL" "{ \"app\": { \"conninfo_file\": \"$T/app.pg\", \"roles\": { \"readonly\": \"x\\\"; DROP ROLE postgres; --\" } } }"
badcfg "a role name that is SQL" "{ \"app\": { \"conninfo_file\": \"$T/app.pg\", \"roles\": { \"r; drop\": \"app_readonly\" } } }"
badcfg "a database name that is not an identifier" "{ \"A-p\": { \"conninfo_file\": \"$T/app.pg\", \"roles\": { \"readonly\": \"app_readonly\" } } }"
cp "$T/app.pg" "$T/open.pg"; chmod 0644 "$T/open.pg"
badcfg "a readable conninfo file" "{ \"app\": { \"conninfo_file\": \"$T/open.pg\", \"roles\": { \"readonly\": \"app_readonly\" } } }"
badcfg "an unknown key" "{ \"app\": { \"conninfo_file\": \"$T/app.pg\", \"roles\": { \"readonly\": \"app_readonly\" }, \"superuser\": true } }"

cfg "$T/brokerd.json" "$DBS"
mkdir -m 0700 "$T/state"
start_broker -c "$T/brokerd.json"

# ---- a grant is a working login that reads what app_readonly reads ---------
expect 0 "db:app granted" B --json --as alice request db:app --role readonly --for 10m
RES=$OUT
ID=$(echo "$RES" | jq -r .id)
U=$(echo "$RES" | jq -r .db.user)
PW=$(echo "$RES" | jq -r .db.password)
equals "role named for the grant" "brk_alice_$ID" "$U"
equals "password of 48 hex digits (192 bits)" 48 "$(printf %s "$PW" | tr -cd 0-9a-f | wc -c)"
contains "db reply names host, port, dbname, expires_at" '"expires_at"' "$(echo "$RES" | jq -c .db)"
# Fails when the role is not made a member of app_readonly: checked by
# replacing the GRANT with a no-op (orders became "permission denied").
g_psql() { PGPASSWORD=$2 psql -X -q -A -t -h "$PG" -p 5432 -d app -U "$1" -c "$3"; }
equals "the grant reads orders" 2 "$(g_psql "$U" "$PW" 'SELECT count(*) FROM orders' 2>&1)"
run g_psql "$U" "$PW" 'SELECT * FROM secrets'
contains "but not secrets" "permission denied" "$ERR"
run g_psql "$U" "wrong$PW" 'SELECT 1'
contains "a wrong password fails" "authentication failed" "$ERR"
equals "connection limit set" 3 "$(su_psql -d app -c "SELECT rolconnlimit FROM pg_roles WHERE rolname='$U'")"
lacks "the password is not in the audit" "$PW" "$(B --as erin audit --json 2>/dev/null; cat "$T/state"/* 2>/dev/null | strings)"
lacks "the password is not in brokerd's log" "$PW" "$(cat "$T/brokerd.log")"
within 10 audited "$U" --action cred.issued
contains "cred.issued audited with the role name" "$U" "$(B --as erin audit --action cred.issued --json 2>&1)"

# ---- broker cred rotates ---------------------------------------------------
expect 0 "cred re-issues" B --json --as alice cred "$ID"
PW2=$(echo "$OUT" | jq -r .db.password)
run g_psql "$U" "$PW" 'SELECT 1'
contains "the old password stops working" "authentication failed" "$ERR"
equals "the new one works" 1 "$(g_psql "$U" "$PW2" 'SELECT 1' 2>&1)"
expect 1 "bob may not rotate alice's" B --as bob cred "$ID"

# ---- the admin connection is kept between calls -------------------------
# adm: the pids of brokerd's admin sessions on the server, one line.  Only
# those on database app: with the PostgreSQL store (make check-pg) the
# broker's store sessions, on its own database of the same server, come
# and go as its threads need them.
adm() { su_psql -d app -c "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'brokerd%' AND datname = 'app' ORDER BY pid" | tr '\n' ' '; }
A1=$(adm)
B --as alice request db:app --role readonly --for 10m --new >/dev/null
B --as alice cred "$ID" >/dev/null
# Fails when admin_give() closes every connection: checked (no session
# stayed, and each call had a new pid).
if [ -n "$A1" ] && [ "$A1" = "$(adm)" ]; then ok "two more calls used the kept admin session ($A1)"
else not_ok "two more calls used the kept admin session ('$A1' then '$(adm)')"; fi
su_psql -d app -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'brokerd%' AND datname = 'app'" >/dev/null
# Fails when admin_usable() trusts PQstatus() without a round trip:
# checked (the reply came without credentials, "unreachable").
expect 0 "after the server ended it, a new one serves the next request" B --json --as alice request db:app --role readonly --for 10m --new
equals "  with a working login" 1 "$(g_psql "$(echo "$OUT" | jq -r .db.user)" "$(echo "$OUT" | jq -r .db.password)" 'SELECT 1' 2>&1)"
printf 'host=%s port=5432 dbname=app user=postgres application_name=brokerd_new\n' "$PG" >"$T/app.pg"
expect 0 "a request after the conninfo file changed" B --json --as alice request db:app --role readonly --for 10m --new
# Fails when admin_usable() ignores the file's digest: checked (the old
# session served it and no brokerd_new session existed).
equals "  connects with the file's new settings" 1 "$(su_psql -d app -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'brokerd_new'")"

# ---- broker psql: credentials in the environment ---------------------------
expect 0 "broker psql runs psql" B --as alice psql app -- -X -A -t -c 'SELECT current_user'
contains "psql logged in as the grant's role" "brk_alice_$ID" "$OUT"

# ---- revoke: open session terminated, new login refused, role gone --------
# Fails when end_role skips pg_terminate_backend: checked (selecting pid
# instead, the open session survived and this went red).
PWS=$(B --json --as alice cred "$ID" | jq -r .db.password)
( PGPASSWORD=$PWS psql -X -q -h "$PG" -p 5432 -d app -U "$U" -c 'SELECT pg_sleep(30)' \
    >"$T/sess.out" 2>&1; echo $? >"$T/sess.rc" ) &
SESS=$!
i=0; while [ $i -lt 50 ]; do
	n=$(su_psql -d app -c "SELECT count(*) FROM pg_stat_activity WHERE usename='$U'")
	[ "$n" = 1 ] && break; sleep 0.1; i=$((i + 1)); done
equals "a session is open" 1 "$n"
expect 0 "revoke" B --as alice revoke "$ID" --reason done
i=0; while [ $i -lt 100 ] && kill -0 $SESS 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
wait $SESS 2>/dev/null
contains "the open session was terminated" "terminat" "$(cat "$T/sess.out")"
run g_psql "$U" "$PWS" 'SELECT 1'
lacks "a new login fails" "1" "$OUT"
i=0; while [ $i -lt 100 ]; do
	n=$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname='$U'")
	[ "$n" = 0 ] && break; sleep 0.1; i=$((i + 1)); done
equals "the role is dropped" 0 "$n"
within 10 audited "$U" --action cred.revoked
contains "cred.revoked audited" "$U" "$(B --as erin audit --action cred.revoked --json 2>&1)"

# ---- k8s: no credential; host: still a certificate ------------------------
ssh-keygen -q -t ed25519 -N '' -f "$T/key" 2>/dev/null
expect 2 "a k8s request with --pubkey is refused (no SSH certificate for it)" B --json --as alice request k8s:prod --pubkey "$T/key.pub"
expect 0 "k8s grant" B --json --as alice request k8s:prod
equals "k8s carries no cert and no db" "null null" "$(echo "$OUT" | jq -r '"\(.cert) \(.db)"')"
expect 2 "cert refused for a k8s grant" B --as alice cert "$(echo "$OUT" | jq -r .id)" --pubkey "$T/key.pub"
expect 0 "host grant" B --json --as alice request host:web-1 --pubkey "$T/key.pub" --for 10m
contains "host grants still get certificates" "ssh-ed25519-cert-v01" "$(echo "$OUT" | jq -r .cert)"

# ---- database down: the grant stands, credentials pending, cred retries ---
expect 0 "db:down granted though unreachable" B --json --as alice request db:down --role readonly
DID=$(echo "$OUT" | jq -r .id)
equals "the grant is active" active "$(echo "$OUT" | jq -r .state)"
contains "the reply says credentials are pending" "broker cred $DID" "$(echo "$OUT" | jq -r .cred_pending)"
printf 'host=%s port=5432 dbname=app user=postgres\n' "$PG" >"$T/down.pg"
expect 0 "broker cred retries once it is back" B --json --as alice cred "$DID"
UD=$(echo "$OUT" | jq -r .db.user)
equals "and the login works" 1 "$(g_psql "$UD" "$(echo "$OUT" | jq -r .db.password)" 'SELECT 1' 2>&1)"

# ---- injection-shaped role names are refused -------------------------------
expect 2 "a role that is SQL is refused" B --as alice request db:app --role 'readonly"; DROP ROLE postgres; --'
equals "postgres is still there" 1 "$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname='postgres'")"

# ---- crash: an orphan role is removed by the sweep ------------------------
expect 0 "a short grant" B --json --as bob request db:app --role readonly --for 3s
BU=$(echo "$OUT" | jq -r .db.user); BPW=$(echo "$OUT" | jq -r .db.password)
kill9_broker
sleep 4
# VALID UNTIL: the login ends with the grant even with no broker running.
# Fails when set_role leaves out VALID UNTIL: checked, this went red.
run g_psql "$BU" "$BPW" 'SELECT 1'
contains "after expiry the login fails with the broker stopped" "authentication failed" "$ERR"
su_psql -d app -c "CREATE ROLE brk_ghost_r999 LOGIN" >/dev/null
start_broker -c "$T/brokerd.json"
i=0; while [ $i -lt 100 ]; do
	n=$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname IN ('$BU', 'brk_ghost_r999')")
	[ "$n" = 0 ] && break; sleep 0.1; i=$((i + 1)); done
# Fails when the periodic reconcile is off (ops_cred_tick never submits):
# checked, this went red.
equals "the sweep removed the expired and the orphan role" 0 "$n"
equals "the live grant's role stays" 1 "$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname='$UD'")"

# role_gone ROLE: waits (up to 15 s: the reconcile runs every few seconds)
role_gone() {
	i=0; while [ $i -lt 150 ]; do
		n=$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname='$1'")
		[ "$n" = 0 ] && return 0; sleep 0.1; i=$((i + 1)); done
	return 1
}

# ---- a block flag ends the login ------------------------------------------
# Fails when the reconciler keeps blocked grants live: checked by making
# blocked() return false (the role stayed and this went red).
expect 0 "bob's grant" B --json --as bob request db:app --role readonly --for 10m
FU=$(echo "$OUT" | jq -r .db.user); FID=$(echo "$OUT" | jq -r .id)
expect 0 "monitoring blocks bob" B --as frank flag add bob --reason "odd queries" --for 10m --severity block
if role_gone "$FU"; then ok "a block flag drops the role"; else not_ok "a block flag drops the role"; fi
expect 4 "and no new credentials while blocked" B --as bob cred "$FID"
B --as frank flag remove bob --reason ok >/dev/null

# ---- freeze --revoke-active ends the login --------------------------------
expect 0 "alice's grant" B --json --as alice request db:app --role readonly --for 10m --new
ZU=$(echo "$OUT" | jq -r .db.user)
expect 0 "freeze --revoke-active" B --as erin freeze --reason incident --for 10m --revoke-active
if role_gone "$ZU" && role_gone "$UD"; then ok "freeze --revoke-active drops the roles"
else not_ok "freeze --revoke-active drops the roles"; fi
B --as erin unfreeze --reason over >/dev/null

# role_there ROLE [TENTHS]: waits (up to 15 s) until ROLE exists.
role_there() {
	i=0; while [ $i -lt "${2:-150}" ]; do
		n=$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname='$1'")
		[ "$n" = 1 ] && return 0; sleep 0.1; i=$((i + 1)); done
	return 1
}
# no_orphans: every brk_ role belongs to a grant that is active.
no_orphans() {
	bad=
	for r in $(su_psql -d app -c "SELECT rolname FROM pg_roles WHERE rolname LIKE 'brk\\_%'"); do
		st=$(B --json --as erin show "${r##*_}" 2>/dev/null | jq -r .state)
		[ "$st" = active ] || bad="$bad $r($st)"
	done
	if [ -z "$bad" ]; then ok "$1: no role without an active grant"
	else not_ok "$1: no role without an active grant:$bad"; fi
}

# ---- approval: the role exists once approved; cred gives its password ------
# Fails when the reconciler makes no missing role: checked by skipping
# provision() in reconcile_db (the role never appeared, and the crash
# rows below went red too).
expect 3 "db:apr waits for approval" B --json --as alice request db:apr --role readonly --reason r --for 10m
PID_=$(echo "$OUT" | jq -r .id)
equals "no role while pending" 0 "$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname='brk_alice_$PID_'")"
# At once, not at the next periodic reconcile: a revoke just before runs
# one, so the next periodic one is 5 s away.
# Fails when the approval asks for no reconcile: checked by dropping
# ops_cred_activated() from done_reply (the role came 5 s later).
KID=$(B --json --as alice request k8s:tick --new | jq -r .id)
B --as alice revoke "$KID" --reason tick >/dev/null
expect 0 "carol approves" A carol approve "$PID_" --reason ok
if role_there "brk_alice_$PID_" 25; then ok "the approved grant's role exists at once, before anyone asks"
else not_ok "the approved grant's role exists at once, before anyone asks"; fi
equals "  valid until the grant's end" 1 "$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname='brk_alice_$PID_' AND rolvaliduntil IS NOT NULL AND rolcanlogin")"
within 10 audited "brk_alice_$PID_" --action cred.issued --request "$PID_"
contains "  cred.issued audited by brokerd" "brk_alice_$PID_" "$(B --as erin audit --action cred.issued --request "$PID_" --json 2>&1)"
expect 0 "the requester's cred gives its password" B --json --as alice cred "$PID_"
equals "  and the login works" 1 "$(g_psql "brk_alice_$PID_" "$(echo "$OUT" | jq -r .db.password)" 'SELECT 1' 2>&1)"
expect 1 "carol may not take alice's password" A carol cred "$PID_"

# ---- a scheduled start: the role appears when the window opens --------------
expect 0 "db:app scheduled 2 s ahead" B --json --as bob request db:app --role readonly --start +2s --for 10m --new
SCH=$(echo "$OUT" | jq -r .id)
equals "  scheduled, no password yet" "scheduled null" "$(echo "$OUT" | jq -r '"\(.state) \(.db)"')"
equals "  no role before the start" 0 "$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname='brk_bob_$SCH'")"
if role_there "brk_bob_$SCH"; then ok "the role exists once the window opens"
else not_ok "the role exists once the window opens"; fi
expect 0 "  cred gives its password" B --json --as bob cred "$SCH"
equals "  and the login works" 1 "$(g_psql "brk_bob_$SCH" "$(echo "$OUT" | jq -r .db.password)" 'SELECT 1' 2>&1)"
no_orphans "before the crashes"

# ---- kill -9 between the grant's commit and its role ---------------------
# The test knob kills brokerd right after the commit, before the role is
# made (before-issue) or right after (after-issue).
# Fails when the knob does nothing: checked with cred_crash_point() a
# no-op (the request succeeded and "no role yet" went red).
stop_broker
nalice() { su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'brk\\_alice\\_%'"; }
NA0=$(nalice)
BROKER_CRED_UNSAFE_CRASH=before-issue start_broker -c "$T/brokerd.json"
run B --json --as alice request db:app --role readonly --for 10m --new
i=0; while [ $i -lt 50 ] && kill -0 "$BROKERD_PID" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -0 "$BROKERD_PID" 2>/dev/null && not_ok "brokerd died at the crash point" || ok "brokerd died at the crash point"
kill9_broker
equals "  before making the role" "$NA0" "$(nalice)"
start_broker -c "$T/brokerd.json"
CR=$(B --json --as alice list | jq -r '.[] | select(.resource == "db:app") | .id' | head -1)
equals "the grant was committed" active "$(B --json --as alice show "$CR" | jq -r .state)"
if role_there "brk_alice_$CR"; then ok "after restart the reconcile made its missing role"
else not_ok "after restart the reconcile made its missing role"; fi
expect 0 "  cred gives its password" B --json --as alice cred "$CR"
equals "  and the login works" 1 "$(g_psql "brk_alice_$CR" "$(echo "$OUT" | jq -r .db.password)" 'SELECT 1' 2>&1)"
no_orphans "after a crash before the role"

stop_broker
BROKER_CRED_UNSAFE_CRASH=after-issue start_broker -c "$T/brokerd.json"
run B --json --as bob request db:app --role readonly --for 10m --new
i=0; while [ $i -lt 50 ] && kill -0 "$BROKERD_PID" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill9_broker
lacks "  the reply never left" "password" "$OUT"
start_broker -c "$T/brokerd.json"
CA=$(B --json --as bob list | jq -r '.[] | select(.resource == "db:app") | .id' | head -1)
equals "the grant was committed" active "$(B --json --as bob show "$CA" | jq -r .state)"
sleep 1.5 # the first reconcile after the start has run
equals "its role, made before the crash, stays" 1 "$(su_psql -d app -c "SELECT count(*) FROM pg_roles WHERE rolname='brk_bob_$CA'")"
expect 0 "  cred gives its password" B --json --as bob cred "$CA"
equals "  and the login works" 1 "$(g_psql "brk_bob_$CA" "$(echo "$OUT" | jq -r .db.password)" 'SELECT 1' 2>&1)"
no_orphans "after a crash after the role"

stop_broker
finish

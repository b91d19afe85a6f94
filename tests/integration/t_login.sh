#!/bin/sh
# broker login over TLS: PAM on the broker (pam_wrapper's pam_matrix as the
# password check), answers read from standard input, a login certificate
# from the broker's user CA, then remote commands with the same
# authorisation as local callers; failed logins audited and backed off;
# bad certificates refused.
. "$(dirname "$0")/lib.sh"

MATRIX=$(find /usr/lib -name pam_matrix.so -path '*pam_wrapper*' 2>/dev/null |
    head -1)
if [ -z "$MATRIX" ]; then
	skip "t_login (libpam-wrapper is not installed)"
	finish
fi
if ldd "$BROKERD" | grep -q libtsan; then
	skip "t_login under TSAN (pam_wrapper needs RTLD_DEEPBIND)"
	finish
fi

# certificates: the broker's (from ca), a host's (client_ca = ca), and a
# client certificate from another CA (lib.sh)
test_pki alice ||
	not_ok "openssl makes the test certificates"
FP=SHA256:$(openssl x509 -in "$T/server.crt" -noout -fingerprint -sha256 |
    sed 's/.*=//')

# PAM: the "broker" service checks passwords with pam_matrix
SVC=$T/svc
mkdir -p "$SVC"
printf '%s\n' alice:alice-pw:broker carol:carol-pw:broker \
    dave:dave-pw:broker >"$T/passdb"
printf '%s\n' "auth required $MATRIX passdb=$T/passdb" \
    "account required $MATRIX passdb=$T/passdb" >"$SVC/broker"

mkdir -m 0700 "$T/state"
cp "$ROOT/policy/examples/dev.json" "$T/policy.json"
export BROKER_SOCKET=$T/b.sock
PRELOAD="$(asan_first "$BROKERD") libpam_wrapper.so"
tries=0
while :; do
	PORT=$("$TOOLS/freeport")
	printf '%s\n' "{ \"state_dir\": \"$T/state\", \"socket\": \"$T/b.sock\"," \
	    "\"policy\": \"$T/policy.json\"," \
	    "\"local_groups\": { \"dev\": [\"alice\", \"bob\"]," \
	    "  \"dba-leads\": [\"carol\", \"dave\"], \"secops\": [\"erin\"] }," \
	    "\"tls\": { \"listen\": \"127.0.0.1:$PORT\", \"cert\": \"$T/server.crt\"," \
	    "  \"key\": \"$T/server.key\", \"client_ca\": \"$T/ca.crt\" }," \
	    "\"login\": { \"pam_service\": \"broker\", \"cert_ttl\": \"1h\" } }" \
	    >"$T/broker.json"
	env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SVC" \
	    PAM_WRAPPER_DISABLE_DEEPBIND=1 \
	    "$BROKERD" -c "$T/broker.json" >>"$T/brokerd.log" 2>&1 &
	BROKERD_PID=$!
	i=0
	while [ $i -lt 100 ] && ! B status >/dev/null 2>&1 &&
	    kill -0 "$BROKERD_PID" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
	if B status >/dev/null 2>&1; then break; fi
	stop_broker
	tries=$((tries + 1))
	if [ $tries -ge 3 ]; then
		sed 's/^/# /' "$T/brokerd.log" | tail -5
		not_ok "brokerd starts with a TLS listener"
		finish
	fi
done
ok "brokerd starts with a TLS listener and PAM login"
URL=tls://localhost:$PORT

equals "the user CA key is made at first start, 0600" 600 \
    "$(stat -c %a "$T/state/user_ca.key")"

# R NAME ARGS...: the CLI as a remote person (their own $BROKER_HOME, no
# socket in the environment: the saved login is the transport).
R() {
	r_name=$1; shift
	env -u BROKER_SOCKET BROKER_HOME="$T/home-$r_name" "$BROKER" "$@"
}
# L NAME USER PASSWORD [ARGS...]: broker login, the password on stdin.
L() {
	l_home=$1; l_user=$2; l_pw=$3; shift 3
	run sh -c "printf '%s\n' '$l_pw' | env -u BROKER_SOCKET \
	    BROKER_HOME='$T/home-$l_home' '$BROKER' login --url '$URL' \
	    --user '$l_user' $*"
}
# audit_has DESC ACTION NEEDLE: the audit trail (read by erin, an auditor,
# on the local socket) holds a record of ACTION containing NEEDLE.  A
# refused handshake is audited after the client has seen the refusal (the
# record goes through the writer), so the trail is read again for up to 5 s.
audit_has() {
	ah_i=0
	while :; do
		run B --as erin --json audit --action "$2"
		case $OUT in *"$3"*) break ;; esac
		[ $ah_i -ge 50 ] && break
		ah_i=$((ah_i + 1))
		sleep 0.1
	done
	contains "$1" "$3" "$OUT"
}

# ---- logging in -------------------------------------------------------
# Fails when the answer is not relayed to PAM: checked by sending an
# empty answer in login_answer(), which made this exit 4.
L alice alice alice-pw --ca "$T/ca.crt"
equals "alice logs in with her password on stdin (exit 0)" 0 "$RC"
contains "login says who and until when" "logged in as alice until" "$OUT"
equals "BROKER_HOME is 0700" 700 "$(stat -c %a "$T/home-alice")"
equals "the key is 0600" 600 "$(stat -c %a "$T/home-alice/key.pem")"
equals "the certificate is 0600" 600 "$(stat -c %a "$T/home-alice/cert.pem")"
X=$(openssl x509 -in "$T/home-alice/cert.pem" -noout -subject -issuer 2>&1)
contains "the login certificate names alice" "CN = alice" "$X"
contains "... and is issued by the user CA" "brokerd user CA" "$X"
audit_has "login.ok is audited with the source address" login.ok \
    '"source": "127.0.0.1"'

run R alice whoami
equals "whoami over TLS (exit 0)" 0 "$RC"
contains "whoami: the certificate's user" "user: alice" "$OUT"
contains "whoami: the groups resolved by the broker" "dev" "$OUT"
contains "whoami: the transport and the expiry" \
    "$URL (login certificate of alice, expires" "$OUT"

# carol pins the broker's certificate by its fingerprint
L carol carol carol-pw --ca-fingerprint "$FP"
equals "carol logs in with --ca-fingerprint (exit 0)" 0 "$RC"
L x carol carol-pw --ca-fingerprint "SHA256:$(printf '%064d' 0)"
equals "a fingerprint that does not match is refused (exit 5)" 5 "$RC"
contains "... saying so" "does not match the fingerprint" "$ERR"

# ---- remote commands, the same authorisation as local ones -------------
run R alice --json request host:db-prod-1 --reason "remote fix"
equals "alice requests remotely: pending approval (exit 3)" 3 "$RC"
ID=$(echo "$OUT" | json_get id)
expect 4 "alice may not approve her own request remotely" \
    R alice approve "$ID" --reason self
expect 4 "alice may not act --as carol (not a delegate)" \
    R alice --as carol approve "$ID" --reason as
expect 4 "alice may not freeze remotely (not a policy admin)" \
    R alice freeze --reason no
# Fails when a person's certificate is taken for a host's: checked by
# classifying user-CA certificates as PEER_HOST in hs_done(), which made
# whoami, request and approve exit 4 (host rules).
expect 4 "alice's certificate does not make her a host (check about bob)" \
    R alice check --user bob --resource host:web-1
run R carol pending
contains "carol sees the request remotely" "$ID" "$OUT"
expect 0 "carol approves remotely (exit 0)" R carol approve "$ID" --reason ok
run R alice --json show "$ID"
contains "the grant is active" '"state": "active"' "$OUT"
run B --as erin --json audit --request "$ID"
contains "the approval is audited under carol" '"actor": "carol"' "$OUT"

# ---- bad inputs: each refused, audited, nothing changed ----------------
before=$(B --as erin --json audit --action login.failed | grep -c '"seq"')
# Fails when a wrong password logs in: checked with "auth sufficient
# pam_permit.so" as the service's auth line, which made this exit 0.
L bad alice wrong --ca "$T/ca.crt"
equals "a wrong password is refused (exit 4)" 4 "$RC"
MSG1=$ERR
contains "... with a clear message" "login failed" "$ERR"
if [ ! -e "$T/home-bad" ]; then ok "... and nothing is saved"
else not_ok "... and nothing is saved"; fi
L bad nosuchuser wrong --ca "$T/ca.crt"
equals "an unknown user is refused (exit 4)" 4 "$RC"
equals "... with the very same message (existence not told)" "$MSG1" "$ERR"
after=$(B --as erin --json audit --action login.failed | grep -c '"seq"')
equals "both failures are audited (login.failed)" $((before + 2)) "$after"
audit_has "login.failed names the source" login.failed '"source": "127.0.0.1"'

# Back-off: after 3 failures dave must wait, even with the right password.
# Fails without backoff_left() in login_begin(): checked by removing it,
# which made the 4th login exit 0.
for n in 1 2 3; do L dave dave wrong --ca "$T/ca.crt"; done
L dave dave dave-pw --ca "$T/ca.crt"
equals "after 3 failures dave is backed off even with his password (exit 4)" 4 "$RC"
contains "... told to wait" "too many failed logins; try again in" "$ERR"
audit_has "the refusal is audited" login.failed "too many failed logins"
sleep 2.2
L dave dave dave-pw --ca "$T/ca.crt"
equals "after the back-off dave logs in (exit 0)" 0 "$RC"

# a client certificate from another CA
mkdir -m 0700 "$T/home-rogue"
cp "$T/rogue.crt" "$T/home-rogue/cert.pem"
cp "$T/rogue.key" "$T/home-rogue/key.pem"
cp "$T/home-alice/login.json" "$T/home-alice/server-ca.pem" "$T/home-rogue/"
expect 5 "a certificate from another CA is refused at the handshake" \
    R rogue whoami
contains "... with a message that says what to do" "log in again" "$ERR"
audit_has "... and audited (login.refused, with the source)" login.refused \
    '"source": "127.0.0.1"'
# a host certificate used as a user's
mkdir -m 0700 "$T/home-web1"
cp "$T/web1.crt" "$T/home-web1/cert.pem"
cp "$T/web1.key" "$T/home-web1/key.pem"
cp "$T/home-alice/login.json" "$T/home-alice/server-ca.pem" "$T/home-web1/"
expect 4 "a host certificate cannot act as a user (request)" \
    R web1 request host:web-1 --reason x
contains "... told why" "a host may only use the ops check and snapshot" "$ERR"
audit_has "... and audited (login.refused)" login.refused \
    'a host may only use the ops check and snapshot'
# a login past its expiry: the client says so before connecting
mkdir -m 0700 "$T/home-old"
cp "$T/home-alice/"* "$T/home-old/"
sed 's/"expires_at": [0-9]*/"expires_at": 1000/' "$T/home-alice/login.json" \
    >"$T/home-old/login.json"
expect 4 "an expired login is refused (exit 4)" R old whoami
contains "... log in again" "expired at 1970-01-01T00:16:40Z: log in again" "$ERR"
# a login certificate of ours past its expiry (signed by the user CA with
# openssl, already expired) but a login.json that still believes in it:
# the broker says so.  Fails when hs_done() ignores the chain's verdict:
# checked by dropping that check, which made this exit 0 (and the other
# CA's certificate pass as host "alice").
mkdir -m 0700 "$T/home-past"
cp "$T/home-alice/login.json" "$T/home-alice/server-ca.pem" "$T/home-past/"
openssl req -new -newkey ed25519 -nodes -keyout "$T/home-past/key.pem" \
    -subj "/CN=alice" -out "$T/past.csr" 2>/dev/null
printf '%s\n' "extendedKeyUsage=clientAuth" >"$T/past.ext"
openssl x509 -req -in "$T/past.csr" -CA "$T/state/user_ca.crt" \
    -CAkey "$T/state/user_ca.key" -days -1 -extfile "$T/past.ext" \
    -out "$T/home-past/cert.pem" 2>/dev/null
n_before=$(B --as erin --json audit --action login.refused | grep -c '"seq"')
expect 4 "a login certificate past expiry is refused by the broker (exit 4)" \
    R past request host:web-1 --reason late
contains "... log in again" "your login certificate has expired: log in again" "$ERR"
for _ in 1 2 3 4 5 6 7 8 9 10; do
	n_after=$(B --as erin --json audit --action login.refused | grep -c '"seq"')
	[ "$n_after" -gt "$n_before" ] && break
	sleep 0.5
done
equals "... audited (login.refused)" $((n_before + 1)) "$n_after"
run B --as alice --json list
lacks "... and nothing was filed" '"reason": "late"' "$OUT"
# no certificate at all: only "login" is allowed
OUT=$(printf '%s\n' '{"v":1,"id":"1","op":"status","args":{}}' |
    timeout 10 openssl s_client -quiet -ign_eof -connect "127.0.0.1:$PORT" \
    -CAfile "$T/ca.crt" -tls1_3 2>/dev/null)
contains "without a certificate, ops other than login are refused" \
    "not logged in" "$OUT"

# ---- logout ------------------------------------------------------------
expect 0 "logout" R alice logout
if [ ! -e "$T/home-alice/key.pem" ] && [ ! -e "$T/home-alice/cert.pem" ] &&
    [ ! -e "$T/home-alice/login.json" ]; then
	ok "logout removes key and certificate"
else
	not_ok "logout removes key and certificate"
fi
expect 4 "after logout --url says to log in" R alice --url "$URL" whoami
contains "... how" "not logged in to $URL: run broker login" "$ERR"

expect 0 "the audit chain verifies" B --as erin audit verify
stop_broker
finish

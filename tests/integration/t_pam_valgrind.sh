#!/bin/sh
# pam_broker.so called many times in one process through the real libpam
# (tests/tools/pamloop): every answer as expected, no descriptor growth, and
# under valgrind no leak and no memory error, on each path: allowed and
# denied over the unix socket, allowed over TLS, the snapshot fallback, and
# a hanging broker.  Sanitizer builds skip valgrind (LeakSanitizer checks
# the same process at exit instead).
. "$(dirname "$0")/lib.sh"

PAMMOD=$BUILD/pam_broker.so
LOOP=$TOOLS/pamloop
N=${PAM_LOOP_N:-10000}
VG=
if ldd "$PAMMOD" | grep -q 'libasan\|libtsan'; then
	:	# the sanitizer checks the same process instead
elif command -v valgrind >/dev/null; then
	VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
else
	skip "valgrind is not installed: the loop runs without it"
fi

start_broker
B --as alice request host:web-1 --reason loop >/dev/null
mkdir "$T/conf"
conf() { name=$1; shift; echo "account required $PAMMOD $*" >"$T/conf/$name"; }

# loop DESC SERVICE USER N allow|deny
loop() {
	desc=$1; shift
	run $VG "$LOOP" "$T/conf" "$@"
	if [ "$RC" = 0 ]; then ok "$desc: $OUT"
	else
		not_ok "$desc (exit $RC): $OUT"
		echo "$ERR" | sed 's/^/#   /' | head -30
	fi
}

conf unix socket="$BROKER_SOCKET" resource=host:web-1
loop "$N allowed checks over the unix socket${VG:+ under valgrind}" unix alice "$N" allow
loop "1000 denied checks (conversation, syslog)${VG:+ under valgrind}" unix bob 1000 deny

"$TOOLS/mksnapshot" "$T/ca" keys >"$T/keys"
"$TOOLS/mksnapshot" "$T/ca" sign web-1 -60 3600 alice >"$T/snap"
conf snap socket="$T/none.sock" resource=host:web-1 snapshot="$T/snap" ca_keys="$T/keys"
loop "1000 snapshot decisions with the broker down${VG:+ under valgrind}" snap alice 1000 allow

"$TOOLS/fakebroker" hang "$T/hang.sock" 60 >"$T/fake.out" &
FAKE=$!
i=0
while [ $i -lt 50 ] && [ ! -s "$T/fake.out" ]; do sleep 0.1; i=$((i + 1)); done
conf hang socket="$T/hang.sock" resource=host:web-1 timeout_ms=20
loop "50 timeouts against a hanging broker${VG:+ under valgrind}" hang alice 50 deny
kill "$FAKE" 2>/dev/null
wait "$FAKE" 2>/dev/null
stop_broker

# TLS: the same broker configuration with a listener, short-lived certs.
# A client under valgrind on a loaded machine can take more than the
# default 2 s handshake deadline (which t_tls_dos.sh tests): widened here.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T/ca.key" -out "$T/ca.crt" -days 1 -subj "/CN=loop ca" 2>/dev/null
for c in "server localhost subjectAltName=DNS:localhost" "web1 web-1 extendedKeyUsage=clientAuth"; do
	set -- $c
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$T/$1.key" -subj "/CN=$2" -out "$T/$1.csr" 2>/dev/null
	echo "$3" >"$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" \
	    -CAcreateserial -days 1 -extfile "$T/$1.ext" -out "$T/$1.crt" 2>/dev/null
	chmod 0600 "$T/$1.key"
done
mkdir -m 0700 "$T/tstate"
cp "$ROOT/policy/examples/dev.json" "$T/policy.json"
export BROKER_SOCKET=$T/t.sock
for try in 1 2 3; do
	PORT=$("$TOOLS/freeport")
	cat >"$T/tls.json" <<EOF
{ "state_dir": "$T/tstate", "socket": "$T/t.sock", "policy": "$T/policy.json",
  "local_groups": { "dev": ["alice", "bob"] },
  "tls": { "listen": "127.0.0.1:$PORT", "cert": "$T/server.crt",
    "key": "$T/server.key", "client_ca": "$T/ca.crt",
    "handshake_timeout_ms": 30000 } }
EOF
	"$BROKERD" -c "$T/tls.json" >>"$T/brokerd.log" 2>&1 &
	BROKERD_PID=$!
	i=0
	while [ $i -lt 100 ] && ! B status >/dev/null 2>&1 &&
	    kill -0 "$BROKERD_PID" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
	if B status >/dev/null 2>&1; then break; fi
	stop_broker
done
B --as alice request host:web-1 --reason loop >/dev/null
# the first call loads OpenSSL under valgrind: seconds on a loaded machine
conf tls url=tls://localhost:$PORT ca="$T/ca.crt" cert="$T/web1.crt" key="$T/web1.key" resource=host:web-1 timeout_ms=30000
loop "200 allowed checks over TLS${VG:+ under valgrind}" tls alice 200 allow
# four hosts' worth of logins at once: the listener's loop interleaves them
PIDS=
for k in 1 2 3 4; do
	"$LOOP" "$T/conf" tls alice 100 allow >"$T/par.$k" 2>&1 &
	PIDS="$PIDS $!"
done
wait $PIDS
for k in 1 2 3 4; do
	if grep -q "unexpected=0" "$T/par.$k"; then ok "parallel TLS client $k: $(cat "$T/par.$k")"
	else not_ok "parallel TLS client $k: $(head -3 "$T/par.$k")"; fi
done
stop_broker
if grep -q "Sanitizer\|runtime error" "$T/brokerd.log"; then
	not_ok "brokerd ran without sanitizer reports"
	grep -A20 "Sanitizer\|runtime error" "$T/brokerd.log" | head -40 | sed 's/^/#   /'
else
	ok "brokerd ran without sanitizer reports"
fi
finish

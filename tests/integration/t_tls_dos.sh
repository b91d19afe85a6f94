#!/bin/sh
# The TLS listener under unauthenticated load: 1,000 idle TCP sockets (and
# 1,000 that send half a ClientHello and stall) do not slow a host's check;
# the handshake deadline closes silent peers; the per-source cap and the
# total cap (oldest handshake dropped first) hold; an authenticated
# connection is never dropped for handshakes; TLS 1.3 sessions resume;
# bad values of the new keys are refused.
#
# Fails when the listener spends a thread per connection (the old
# tls.c: checked by running this test against it with the new config keys
# removed: the 33rd connection is closed at once, every check fails),
# when the handshake deadline is not enforced (checked by setting it to
# the idle timeout: "silent peers closed after ~2 s" fails), when the
# per-source cap is not applied (checked by dropping the comparison in
# new_conn(): 40 of 40 stay open), when the total cap drops the newest
# instead of the oldest (checked by closing t->hs.tail: the later burst
# loses sockets), when authenticated connections are counted with
# handshakes (checked by closing t->open.head instead: the held host gets
# no answer), and when session tickets are off (checked with
# SSL_CTX_set_num_tickets(ctx, 0): "New" instead of "Reused").
#
# Timing: the latency target (a check answered in under 50 ms with the
# flood held) is asserted on the median of a run of 10 checks, the best of
# up to 3 runs, with every check answered and the slowest under 5 s (a
# check that waited behind a stalled handshake would take the 60 s
# handshake deadline set here).  On a loaded machine the target follows
# this run's unflooded median (see TARGET below).
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null; then
	not_ok "openssl is there"
	finish
fi
# brokerd holds 1,000 flood sockets plus its own; so does tlsflood
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
	ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 2600 ]; then
	skip "the descriptor limit ($(ulimit -n)) is below 2600"
	finish
fi

# the broker's certificate and a host's, from ca (lib.sh; its "rogue" is
# not used here)
test_pki nobody ||
	not_ok "openssl makes the test certificates"

mkdir -m 0700 "$T/tstate"
cp "$ROOT/policy/examples/dev.json" "$T/policy.json"
export BROKER_SOCKET=$T/t.sock

# tls_broker EXTRA: start brokerd with a TLS listener on a free port
# ($PORT); EXTRA is more keys for the "tls" section.
tls_broker() {
	tries=0
	while :; do
		PORT=$("$TOOLS/freeport")
		cat >"$T/tls.json" <<EOC
{ "state_dir": "$T/tstate", "socket": "$T/t.sock", "policy": "$T/policy.json",
  "local_groups": { "dev": ["alice", "bob"] },
  "tls": { "listen": "127.0.0.1:$PORT", "cert": "$T/server.crt",
    "key": "$T/server.key", "client_ca": "$T/ca.crt" $1 } }
EOC
		${BROKERD_WRAPPER:-} "$BROKERD" -c "$T/tls.json" \
		    >>"$T/brokerd.log" 2>&1 &
		BROKERD_PID=$!
		i=0
		while [ $i -lt 100 ] && ! B status >/dev/null 2>&1 &&
		    kill -0 "$BROKERD_PID" 2>/dev/null; do
			sleep 0.05
			i=$((i + 1))
		done
		if B status >/dev/null 2>&1; then return 0; fi
		stop_broker
		tries=$((tries + 1))
		if [ $tries -ge 3 ]; then
			sed 's/^/# /' "$T/brokerd.log" | tail -5
			not_ok "brokerd starts with a TLS listener"
			finish
		fi
	done
}

# ask N: N checks by host web-1, each on a fresh connection as the PAM
# module makes them; the tool's lines in $ASK.
ask() {
	ASK=$("$TOOLS/tlsask" localhost "$PORT" "$T/ca.crt" "$T/web1.crt" \
	    "$T/web1.key" host:web-1 alice "$1" 5000)
}

# flood NAME ARGS...: tlsflood in the background, output in $T/NAME.out;
# waits until every connection is open.
flood() {
	name=$1; shift
	"$TOOLS/tlsflood" "$PORT" "$@" >"$T/$name.out" 2>&1 &
	FLOOD_PID=$!
	i=0
	while [ $i -lt 200 ] && ! grep -qs "^opened=" "$T/$name.out"; do
		sleep 0.05
		i=$((i + 1))
	done
	grep -q '^opened=' "$T/$name.out" || {
		not_ok "tlsflood $* opens its connections"
		sed 's/^/#   /' "$T/$name.out"
	}
}

# val KEY TEXT: the number after KEY= in TEXT
val() { printf '%s\n' "$2" | sed -n "s/.*$1=\(-\{0,1\}[0-9]*\).*/\1/p" | tail -1; }

# 1. The latency target under 1,000 held handshakes.  The deadline is long
# here so that the flood is held for the whole measurement, and the caps
# are wide enough for it (100 sources, 10 sockets each).
tls_broker ', "handshake_timeout_ms": 60000, "max_unauthenticated": 2000'
ok "brokerd starts with a TLS listener on 127.0.0.1:$PORT"
B --as alice request host:web-1 --reason tls >/dev/null

ask 20
equals "baseline: 20 checks answered" 20 "$(val answered "$ASK")"
echo "# baseline: $(echo "$ASK" | tail -1)"
# The target is 50 ms.  When the machine is loaded (the unflooded median
# is over 25 ms, as under a parallel "make check" or a sanitizer build),
# it is twice this run's unflooded median instead (three times for a
# sanitizer build), said in a note.
base=$(val median_ms "$(echo "$ASK" | tail -1)")
base=${base:-0}
TARGET=50
if ldd "$BROKERD" | grep -q 'libasan\|libtsan\|libubsan'; then
	[ $((base * 3)) -gt $TARGET ] && TARGET=$((base * 3))
elif [ $((base * 2)) -gt $TARGET ]; then
	TARGET=$((base * 2))
fi
[ "$TARGET" = 50 ] || echo "# loaded machine: the target is $TARGET ms"

for mode in idle partial; do
	flood "flood-$mode" 1000 100 "$mode" 60000 "$([ $mode = idle ] &&
	    echo 0 || echo 200)"
	sleep 0.5	# let the broker accept them all
	# up to 3 runs of 10 checks; the target holds when one run's median
	# is under it (a burst of load elsewhere does not fail the test)
	all=""
	best=""
	for run in 1 2 3; do
		ask 10
		all="$all
$(echo "$ASK" | grep '^ms=')"
		echo "# $mode flood, run $run: $(echo "$ASK" | tail -1)"
		median=$(val median_ms "$(echo "$ASK" | tail -1)")
		# a refusal is quick: only a run answered in full counts
		[ "$(val answered "$(echo "$ASK" | tail -1)")" = 10 ] ||
			median=99999
		if [ -z "$best" ] || [ "${median:-99999}" -lt "$best" ]; then
			best=${median:-99999}
		fi
		[ "$best" -lt "$TARGET" ] && break
	done
	n=$(echo "$all" | grep -c '^ms=')
	answered=$(echo "$all" | grep -c ' rc=0')
	max=$(echo "$all" | grep '^ms=' | sed 's/ms=\([0-9]*\).*/\1/' |
	    sort -n | tail -1)
	equals "$mode flood of 1000: every check is answered ($n)" "$n" "$answered"
	if [ "$best" -lt "$TARGET" ]; then
		ok "$mode flood of 1000: median check ${best} ms (< $TARGET ms)"
	else
		not_ok "$mode flood of 1000: median check ${best} ms (< $TARGET ms)"
	fi
	if [ -n "$max" ] && [ "$max" -lt 5000 ]; then
		ok "$mode flood of 1000: slowest check ${max} ms (< 5 s)"
	else
		not_ok "$mode flood of 1000: slowest check ${max:-?} ms (< 5 s)"
	fi
	kill -TERM "$FLOOD_PID"
	wait "$FLOOD_PID"
	out=$(tail -1 "$T/flood-$mode.out")
	equals "$mode flood: the broker held all 1000 sockets meanwhile" \
	    1000 "$(val still_open "$out")"
done

# The per-source cap: 40 sockets from one address, 16 kept.
flood persource 40 1 idle 1500 400
wait "$FLOOD_PID"
out=$(tail -1 "$T/persource.out")
equals "per source: 16 of 40 handshakes kept (max_unauthenticated_per_source)" \
    16 "$(val still_open "$out")"
equals "per source: the other 24 closed at once" 24 "$(val closed "$out")"
stop_broker
if [ "$(grep -c . "$T/brokerd.log")" -lt 300 ]; then
	ok "a flood is not a flood of log lines ($(grep -c . "$T/brokerd.log"))"
else
	not_ok "a flood is not a flood of log lines ($(grep -c . "$T/brokerd.log"))"
fi
contains "the drops are logged as counts" "event=tls_dropped" \
    "$(cat "$T/brokerd.log")"

# 2. Deadline, total cap, authenticated connections, resumption: default
# handshake deadline (2 s), a total cap of 50.
tls_broker ', "max_unauthenticated": 50, "max_unauthenticated_per_source": 100'
for mode in idle partial; do
	flood "deadline-$mode" 5 5 "$mode" 4500 "$([ $mode = idle ] &&
	    echo 500 || echo 510)"
	wait "$FLOOD_PID"
	out=$(tail -1 "$T/deadline-$mode.out")
	first=$(val first_close_ms "$out")
	last=$(val last_close_ms "$out")
	equals "$mode: silent peers are closed by the handshake deadline" 5 \
	    "$(val closed "$out")"
	if [ "$first" -ge 1500 ] && [ "$last" -le 3500 ]; then
		ok "$mode: ... after about 2 s (${first}..${last} ms)"
	else
		not_ok "$mode: ... after about 2 s (${first}..${last} ms)"
	fi
done

# A host that has finished its handshake holds its connection through
# handshake floods well past the total cap.
REQ='{"v":1,"id":"held","op":"check","args":{"user":"alice","resource":"host:web-1"}}'
{ sleep 2; printf '%s\n' "$REQ"; sleep 1; } |
    timeout 10 openssl s_client -brief -connect "127.0.0.1:$PORT" \
    -servername localhost -CAfile "$T/ca.crt" -cert "$T/web1.crt" \
    -key "$T/web1.key" -tls1_3 >"$T/held.out" 2>/dev/null &
HELD=$!
sleep 0.7
flood older 50 1 idle 2500 600
sleep 0.3
flood newer 20 1 idle 800 601
wait "$FLOOD_PID"
sleep 2.5	# "older" runs out
out=$(tail -1 "$T/newer.out")
equals "total cap: the newer handshakes are kept" 20 "$(val still_open "$out")"
out=$(tail -1 "$T/older.out")
first=$(val first_close_ms "$out")
if [ "$first" -ge 0 ] && [ "$first" -lt 1500 ]; then
	ok "total cap: the oldest are dropped first (at $first ms, before the deadline)"
else
	not_ok "total cap: the oldest are dropped first (first close at $first ms)"
fi
wait "$HELD"
contains "an authenticated host is not dropped for handshakes" \
    '"id":"held","ok":true' "$(cat "$T/held.out")"

# Session resumption: the second connection shows no certificate and is
# still host web-1.
REQ='{"v":1,"id":"r","op":"check","args":{"user":"alice","resource":"host:web-1"}}'
OUT=$({ printf '%s\n' "$REQ"; sleep 0.5; } | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$T/ca.crt" -cert "$T/web1.crt" -key "$T/web1.key" -tls1_3 \
    -sess_out "$T/sess" 2>&1)
contains "a full handshake first" "New, TLSv1.3" "$OUT"
# Forward secrecy with the cheapest group, and the suite the broker
# prefers over the client's first choice (s_client offers AES-256 with
# SHA-384 first).  Fails without SSL_OP_CIPHER_SERVER_PREFERENCE in
# make_ctx(): checked, "Cipher is TLS_AES_256_GCM_SHA384".
contains "... with an X25519 key exchange" "Server Temp Key: X25519" "$OUT"
contains "... and AES-128-GCM with SHA-256, the broker's choice" \
    "Cipher is TLS_AES_128_GCM_SHA256" "$OUT"
OUT=$({ printf '%s\n' "$REQ"; sleep 0.5; } | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$T/ca.crt" -tls1_3 -sess_in "$T/sess" 2>&1)
contains "the TLS 1.3 session resumes from its ticket" "Reused, TLSv1.3" "$OUT"
contains "a resumed session is still host web-1" '"id":"r","ok":true' "$OUT"
# Tickets name sessions kept in the broker's memory, each good once (a
# new ticket comes with each resumption).  Fails when
# hs_done() leaves a resumed session in the cache: checked.
OUT=$({ printf '%s\n' "$REQ"; sleep 0.5; } | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$T/ca.crt" -tls1_3 -sess_in "$T/sess" 2>&1)
lacks "a used ticket does not resume again" "Reused" "$OUT"
lacks "... and without a certificate gets no answer" '"ok":true' "$OUT"
# A peer without a certificate gets no ticket: it has nothing to resume
# and must not fill the session cache.  Fails when hs_done() sends
# tickets to every peer: checked by dropping its !unauth(tc).
OUT=$({ printf '%s\n' "$REQ"; sleep 0.5; } | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$T/ca.crt" -tls1_3 -sess_out "$T/sessanon" 2>&1)
contains "a peer without a certificate is answered" '"id":"r"' "$OUT"
OUT=$({ printf '%s\n' "$REQ"; sleep 0.5; } | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$T/ca.crt" -tls1_3 -sess_in "$T/sessanon" 2>&1)
lacks "... but gets no ticket: nothing resumes" "Reused" "$OUT"
# Read-ahead: the client's Finished and three requests, one TLS record
# each, in one TCP write.  The broker reads them all with the handshake's
# last read, so the requests wait in OpenSSL's buffer, where epoll cannot
# see them; each must still be answered, in order, one at a time.  Fails
# when the requests are left to the next epoll event: checked by
# replacing hs_done()'s open_pump(tc) with set_interest(tc, EPOLLIN)
# (no reply within 10 s).
cat >"$T/pipe.py" <<'EOP'
import os, socket, ssl, sys, time
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
reqs = [a.encode() + b"\n" for a in sys.argv[5:]]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname="localhost")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        if out.pending:
            s.sendall(out.read())
        data = s.recv(65536)
        if not data:
            sys.exit("closed during the handshake")
        inc.write(data)
gap = float(os.environ.get("PIPE_GAP", "0"))
for i, r in enumerate(reqs):
    tls.write(r)
    if gap and i == 0:  # the rest arrive while the first call runs
        s.sendall(out.read())
        time.sleep(gap)
s.sendall(out.read())
got, end = b"", time.time() + 10
while got.count(b"\n") < len(reqs) and time.time() < end:
    try:
        got += tls.read(65536)
        continue
    except ssl.SSLWantReadError:
        pass
    try:
        data = s.recv(65536)
    except socket.timeout:
        break
    if not data:
        break
    inc.write(data)
sys.stdout.write(got.decode())
EOP
if command -v python3 >/dev/null; then
	req() { printf '{"v":1,"id":"%s","op":"check","args":{"user":"alice","resource":"host:web-1"}}' "$1"; }
	OUT=$(timeout 20 python3 "$T/pipe.py" "$PORT" "$T/ca.crt" \
	    "$T/web1.crt" "$T/web1.key" "$(req q1)" "$(req q2)" "$(req q3)" 2>&1)
	equals "requests sent with the Finished are all answered, in order" \
	    "q1 q2 q3" "$(echo "$OUT" | sed -n 's/.*"id":"\(q[0-9]\)","ok":true.*/\1/p' |
	    tr '\n' ' ' | sed 's/ $//')"
	# Input while a call runs: s1 asks for a snapshot, whose signature
	# waits for the CA signer, stopped here for 2 s; q2 arrives 0.3 s
	# later.  The listener stops watching the socket until s1's reply
	# rather than wake for q2's bytes on every loop: the daemon spends
	# little CPU in those 2 s, and both are answered, in order.  Fails
	# when loop_main() pumps a busy connection instead of clearing its
	# interest: checked (1.35 s of CPU in the 2 s).
	SIGNER=$(cat /proc/"$BROKERD_PID"/task/*/children | tr ' ' '\n' |
	    grep . | head -1)
	cpu() { awk '{ print $14 + $15 }' "/proc/$BROKERD_PID/stat"; }
	snap='{"v":1,"id":"s1","op":"snapshot","args":{"host":"web-1"}}'
	kill -STOP "$SIGNER"
	C0=$(cpu)
	PIPE_GAP=0.3 timeout 20 python3 "$T/pipe.py" "$PORT" "$T/ca.crt" \
	    "$T/web1.crt" "$T/web1.key" "$snap" "$(req q2)" >"$T/gap.out" 2>&1 &
	GAP_PID=$!
	sleep 2
	C1=$(cpu)
	# pipe.py prints when both replies are in: nothing yet
	equals "the snapshot waits for the stopped signer" "" \
	    "$(cat "$T/gap.out")"
	kill -CONT "$SIGNER"
	wait "$GAP_PID"
	TICKS=$((C1 - C0))
	if [ "$TICKS" -lt 50 ]; then
		ok "a host's input while its call runs costs no busy loop ($TICKS ticks in 2 s)"
	else
		not_ok "a host's input while its call runs costs no busy loop ($TICKS ticks in 2 s)"
	fi
	equals "... and both calls are answered, in order" "s1 q2" \
	    "$(sed -n 's/.*"id":"\([sq][0-9]\)","ok":true.*/\1/p' "$T/gap.out" |
	    tr '\n' ' ' | sed 's/ $//')"
else
	not_ok "python3 is there (the read-ahead check needs it)"
fi
stop_broker

tls_broker ', "ticket_lifetime": 0'
OUT=$({ printf '%s\n' "$REQ"; sleep 0.5; } | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$T/ca.crt" -cert "$T/web1.crt" -key "$T/web1.key" -tls1_3 \
    -sess_out "$T/sess0" 2>&1)
OUT=$({ printf '%s\n' "$REQ"; sleep 0.5; } | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$T/ca.crt" -tls1_3 -sess_in "$T/sess0" 2>&1)
lacks "ticket_lifetime 0: nothing resumes" "Reused" "$OUT"
lacks "ticket_lifetime 0: ... and no certificate, no answer" '"ok":true' "$OUT"
stop_broker

# 3. Bad values of the new keys: a clear error naming the key, no start.
for kv in '"handshake_timeout_ms": 50' '"handshake_timeout_ms": "2000"' \
    '"max_unauthenticated": 0' '"max_unauthenticated_per_source": -1' \
    '"ticket_lifetime": 86401' '"max_connections": 10001'; do
	key=$(echo "$kv" | sed 's/"\([a-z_]*\)".*/\1/')
	sed "s/\"client_ca\"/$kv, \"client_ca\"/" "$T/tls.json" >"$T/bad.json"
	run "$BROKERD" -c "$T/bad.json"
	if [ "$RC" != 0 ] && echo "$ERR$OUT" | grep -q "$key"; then
		ok "tls $kv is refused, naming the key"
	else
		not_ok "tls $kv is refused, naming the key (exit $RC: $ERR)"
	fi
done

if grep -q "Sanitizer\|runtime error" "$T/brokerd.log"; then
	not_ok "brokerd ran without sanitizer reports"
	grep -A20 "Sanitizer\|runtime error" "$T/brokerd.log" | head -40 |
	    sed 's/^/#   /'
else
	ok "brokerd ran without sanitizer reports"
fi
finish

#!/bin/sh
# web_pending.sh - the figures of the web pages (issue #20): the "Waiting
# for me" page with 10,000 pending requests, and sign-in to first page,
# measured on the server side with curl over plain HTTP on loopback (so
# TLS and a browser do not blur the server's time; the same handlers run
# behind HTTPS).  Not part of make check: run it by hand,
#     sh tests/bench/web_pending.sh [N]        (default 10000)
# It prints one "figure:" line per measure (best and median of 11 runs).
. "$(dirname "$0")/../integration/lib.sh"
N=${1:-10000}
MATRIX=$(find /usr/lib -name pam_matrix.so -path '*pam_wrapper*' | head -1)
[ -n "$MATRIX" ] || { echo "needs libpam-wrapper" >&2; exit 1; }
SVC=$T/svc
mkdir -p "$SVC"
printf 'frank:frank-pw:broker\n' >"$T/passdb"
printf '%s\n' "auth required $MATRIX passdb=$T/passdb" \
    "account required $MATRIX passdb=$T/passdb" >"$SVC/broker"
mkdir -m 0700 "$T/state"
bulk_policy "$T/policy.json"
PORT=$("$TOOLS/freeport")
cat >"$T/broker.json" <<C
{ "state_dir": "$T/state", "socket": "$T/b.sock", "policy": "$T/policy.json",
  "local_groups": { "dev": ["alice", "bob"], "sre": ["frank"] },
  "web": { "listen": "127.0.0.1:$PORT" } }
C
export BROKER_SOCKET=$T/b.sock
env LD_PRELOAD="libpam_wrapper.so" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SVC" \
    PAM_WRAPPER_DISABLE_DEEPBIND=1 "$BROKERD" -c "$T/broker.json" \
    >>"$T/brokerd.log" 2>&1 &
BROKERD_PID=$!
i=0; while [ $i -lt 100 ] && ! B status >/dev/null 2>&1; do sleep 0.05; i=$((i+1)); done

# N pending requests (quorum 2 of sre/secops: frank may approve them all),
# filed as alice over one connection
/usr/bin/python3 - "$T/b.sock" "$N" <<'P'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
f = s.makefile("rwb")
n = int(sys.argv[2])
for i in range(n):
    f.write((json.dumps({"v": 1, "id": str(i), "op": "request", "as": ("alice", "bob")[i % 2],
        "args": {"resource": "host:app-prod-%d" % i, "for": 3600,
                 "reason": "bench %d" % i, "ticket": "T-%d" % i}}) + "\n").encode())
    f.flush()
    r = json.loads(f.readline())
    if not r.get("ok") or r["result"]["state"] != "pending":
        sys.exit("request %d: %s" % (i, r))
P
[ $? = 0 ] || { echo "filing failed" >&2; exit 1; }
echo "# $N pending requests filed"

W=http://127.0.0.1:$PORT
C() { curl -sS "$@"; }
stats() { sort -n | awk '{ a[NR] = $1 } END { printf "best %.1f ms, median %.1f ms", a[1] * 1000, a[int((NR + 1) / 2)] * 1000 }'; }
signin() {
	C -c "$T/jar" -o "$T/l.html" "$W/login"
	tok=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/l.html" | head -1)
	C -b "$T/jar" -c "$T/jar" -o /dev/null --data-urlencode "csrf=$tok" --data-urlencode user=frank "$W/login"
	C -b "$T/jar" -c "$T/jar" -o /dev/null --data-urlencode "csrf=$tok" --data-urlencode answer=frank-pw "$W/login"
	C -b "$T/jar" -o "$T/first.html" "$W/"
}
for k in 1 2 3 4 5 6 7 8 9 10 11; do
	t0=$(date +%s%N); signin; t1=$(date +%s%N)
	echo "$(( (t1 - t0) / 1000 ))" | awk '{ print $1 / 1e6 }'
done | stats | sed 's/^/figure: sign-in to first page (4 HTTP requests, PAM): /'
echo
grep -o 'class="card pending"' "$T/first.html" | wc -l | sed 's/^/# requests on the first page: /'
for k in 1 2 3 4 5 6 7 8 9 10 11; do
	C -b "$T/jar" -o /dev/null -w '%{time_total}\n' "$W/"
done | stats | sed "s/^/figure: \"Waiting for me\", first page of $N pending: /"
echo
for k in 1 2 3 4 5 6 7 8 9 10 11; do
	C -o /dev/null -w '%{time_total}\n' "$W/static/broker.css"
done | stats | sed "s/^/reference: the stylesheet (the HTTP floor, no op): /"
echo
last=$((N - 60))
for k in 1 2 3 4 5 6 7 8 9 10 11; do
	C -b "$T/jar" -o /dev/null -w '%{time_total}\n' "$W/?after=r$last"
done | stats | sed "s/^/figure: \"Waiting for me\", the last page of $N pending: /"
echo
finish

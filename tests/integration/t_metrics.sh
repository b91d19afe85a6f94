#!/bin/sh
# Metrics: `broker metrics` and the metrics_listen endpoint speak the
# Prometheus text format line for line, the counters move, and the HTTP
# endpoint answers only GET /metrics, within bounds.
. "$(dirname "$0")/lib.sh"
mkdir -m 0700 "$T/state"
cp "$ROOT/policy/examples/dev.json" "$T/policy.json"
export BROKER_SOCKET=$T/broker.sock

# The exposition grammar (text format 0.0.4), one regular expression per
# kind of line; every line must be one of them.
NAME='[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL='[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"'
VALUE='(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|[+-]?Inf|NaN)'
SAMPLE="^$NAME(\\{($LABEL(,$LABEL)*,?)?\\})? $VALUE( -?[0-9]+)?\$"
HELP="^# HELP $NAME( .*)?\$"
TYPE="^# TYPE $NAME (counter|gauge|histogram|summary|untyped)\$"

# grammar WHAT FILE: every line parses, every sample has its TYPE first,
# no family is declared twice, the text ends with a newline.
grammar() {
	bad=$(grep -Ev "$SAMPLE|$HELP|$TYPE" "$2")
	if [ -z "$bad" ] && [ -s "$2" ]; then ok "$1: every line is Prometheus text"
	else not_ok "$1: every line is Prometheus text"; echo "$bad" | sed 's/^/#   bad: /' | head; fi
	untyped=$(awk '/^# TYPE / { t[$3] = 1; next } /^#/ { next }
	    { n = $1; sub(/\{.*/, "", n); b = n; sub(/_(sum|count|bucket)$/, "", b)
	      if (!(n in t) && !(b in t)) print n }' "$2")
	equals "$1: every sample follows its # TYPE" "" "$untyped"
	equals "$1: no family is declared twice" "" \
	    "$(grep '^# TYPE' "$2" | awk '{ print $3 }' | sort | uniq -d)"
	equals "$1: ends with a newline" "" "$(tail -c 1 "$2")"
}
metric() { B metrics | awk -v m="$1" '$1 == m { print $2 }'; }
# http REQUEST-TEXT: the raw answer of the endpoint (CRs removed)
http() { printf "$1" | "$TOOLS/httpsink" -c "$MPORT" | tr -d '\r'; }

# ---- a bad metrics_listen is refused --------------------------------------
for bad in '"example.com:80"' '"127.0.0.1"' '"127.0.0.1:99999"' '9469'; do
	printf '{ "state_dir": "%s", "socket": "%s", "metrics_listen": %s }\n' \
	    "$T/state" "$T/bad.sock" "$bad" >"$T/bad.json"
	run "$BROKERD" -c "$T/bad.json"
	if [ "$RC" != 0 ] && echo "$ERR" | grep -q metrics_listen; then ok "refused: metrics_listen $bad"
	else not_ok "refused: metrics_listen $bad (exit $RC: $ERR)"; fi
done

# ---- start with the endpoint on a free loopback port ------------------------
tries=0
while :; do
	MPORT=$("$TOOLS/freeport")
	cat >"$T/brokerd.json" <<C
{ "state_dir": "$T/state", "socket": "$T/broker.sock", "policy": "$T/policy.json",
  "local_groups": { "dev": ["alice", "bob"], "dba-leads": ["carol", "dave"],
                    "secops": ["erin"], "sre": ["frank"] },
  "metrics_listen": "127.0.0.1:$MPORT" }
C
	"$BROKERD" -c "$T/brokerd.json" >>"$T/brokerd.log" 2>&1 &
	BROKERD_PID=$!
	i=0
	while [ $i -lt 100 ] && ! B status >/dev/null 2>&1 && kill -0 "$BROKERD_PID" 2>/dev/null; do
		sleep 0.05; i=$((i + 1))
	done
	if B status >/dev/null 2>&1; then break; fi
	wait "$BROKERD_PID" 2>/dev/null
	BROKERD_PID=
	tries=$((tries + 1))
	if [ $tries -ge 5 ]; then not_ok "brokerd starts with metrics_listen"; sed 's/^/# /' "$T/brokerd.log"; exit 1; fi
done
ok "brokerd starts with metrics_listen on port $MPORT"

# ---- broker metrics -----------------------------------------------------------
expect 0 "broker metrics" B metrics
printf '%s\n' "$OUT" >"$T/cli.txt"
grammar "broker metrics" "$T/cli.txt"
for m in broker_up broker_requests_total broker_grants_active broker_requests_pending \
    broker_pending_oldest_age_seconds broker_optouts_active broker_flags_active \
    broker_freeze_active broker_store_commits_total broker_store_mutations_total \
    broker_store_batch_max broker_store_commit_seconds broker_checks_total \
    broker_ldap_configured broker_notify_events_total; do
	contains "has $m" "# TYPE $m " "$OUT"
done
expect 0 "broker --json metrics" B --json metrics
# Fails when --json prints the broker's reply as it came (one "text"
# string): checked by dropping parse_metrics() from cmd_metrics.
contains "--json carries the figures, parsed" '"name": "broker_up"' "$OUT"
contains "--json: labels as an object" '"outcome": "granted"' "$OUT"
lacks "--json: not the text" '"text":' "$OUT"
expect 2 "broker metrics takes no arguments" B metrics extra
expect 0 "a plain user may read the metrics" B --as alice metrics

# ---- the counters move ------------------------------------------------------
g0=$(metric 'broker_requests_total{outcome="granted"}')
p0=$(metric 'broker_requests_total{outcome="pending"}')
c0=$(metric broker_store_commits_total)
a0=$(metric broker_grants_active)
expect 0 "a grant" B --as alice request host:web-1
expect 0 "another" B --as bob request host:web-2
expect 3 "a pending one" B --as alice request host:db-prod-1 --reason x
equals "granted moved by 2" $((g0 + 2)) "$(metric 'broker_requests_total{outcome="granted"}')"
equals "pending moved by 1" $((p0 + 1)) "$(metric 'broker_requests_total{outcome="pending"}')"
c1=$(metric broker_store_commits_total)
if [ "$c1" -gt "$c0" ]; then ok "commits moved ($c0 -> $c1)"; else not_ok "commits moved ($c0 -> $c1)"; fi
sleep 1.1	# the sweeper refreshes the stored counts every second
equals "grants active" $((a0 + 2)) "$(metric broker_grants_active)"
equals "requests pending" 1 "$(metric broker_requests_pending)"
age=$(metric broker_pending_oldest_age_seconds)
if [ "$age" -ge 1 ]; then ok "the oldest pending has an age ($age s)"; else not_ok "the oldest pending has an age ($age)"; fi
expect 0 "check allowed" B --as alice check --resource host:web-1
expect 4 "check refused" B --as alice check --resource host:web-9
expect 4 "check refused again" B --as alice check --resource host:web-8
equals "checks allowed" 1 "$(metric 'broker_checks_total{result="allowed"}')"
equals "checks refused" 2 "$(metric 'broker_checks_total{result="refused"}')"
expect 0 "an opt-out" B --as frank optout add user:bob --tag debugging --reason "watch" --for 1h
expect 0 "a flag" B --as frank flag add bob --reason "odd" --for 1h
expect 0 "a freeze" B --as erin freeze --reason "drill" --for 1h
equals "opt-outs active (the freeze included)" 2 "$(metric broker_optouts_active)"
equals "freeze active" 1 "$(metric broker_freeze_active)"
equals "flags active" 1 "$(metric broker_flags_active)"
expect 0 "unfreeze" B --as erin unfreeze --reason "over"
equals "freeze over" 0 "$(metric broker_freeze_active)"

# ---- the HTTP endpoint --------------------------------------------------------
resp=$(http 'GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n')
contains "GET /metrics is 200" "HTTP/1.1 200 OK" "$resp"
contains "with the Prometheus content type" "Content-Type: text/plain; version=0.0.4" "$resp"
printf '%s\n' "$resp" | sed '1,/^$/d' >"$T/http.txt"
grammar "GET /metrics" "$T/http.txt"
equals "the endpoint serves what broker metrics prints (same families)" \
    "$(grep '^# TYPE' "$T/cli.txt" | sort)" "$(grep '^# TYPE' "$T/http.txt" | sort)"
contains "the endpoint sees the counters" 'broker_checks_total{result="refused"} 2' "$(cat "$T/http.txt")"
resp=$(http 'HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
contains "HEAD is 200" "HTTP/1.1 200 OK" "$resp"
lacks "HEAD has no body" "# HELP" "$resp"
contains "another path is 404" "HTTP/1.1 404" "$(http 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')"
contains "POST is 405" "HTTP/1.1 405" "$(http 'POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n')"
contains "garbage is 400" "HTTP/1.1 400" "$(http 'hello there\r\n\r\n')"
big=$(head -c 9000 /dev/zero | tr '\0' a)
contains "an oversized request is 431" "HTTP/1.1 431" "$(http "GET /metrics HTTP/1.1\r\nX-Big: $big\r\n\r\n")"

# A client that sends nothing is cut off after 5 s; the next scrape works.
(sleep 8 | "$TOOLS/httpsink" -c "$MPORT" >"$T/slow.out") &
slow=$!
sleep 0.2
t0=$(date +%s%N)
resp=$(http 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
contains "a scrape behind a silent client is answered" "HTTP/1.1 200 OK" "$resp"
if [ $ms -lt 7000 ]; then ok "within the 5 s bound (${ms} ms)"; else not_ok "within the 5 s bound (${ms} ms)"; fi
wait "$slow" 2>/dev/null
equals "the silent client got nothing" "" "$(cat "$T/slow.out")"
expect 0 "the broker still answers" B status
finish

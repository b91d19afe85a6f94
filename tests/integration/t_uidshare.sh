#!/bin/sh
# One local user cannot deny service to everyone.  User "daemon" opens
# 1,000 connections and floods status requests on every one it gets (half
# of them never read their replies).  It gets a quarter of
# max_connections (256 of the default 1024); the rest are refused with one
# clear error line.  Meanwhile another user's status and a PAM-style check
# (root, a fresh connection each time) are all answered, each within
# 50 ms, and the daemon's RSS stays under 200 MB.
# Fails when the per-uid share is dropped (uid_may_connect() returning
# true): the flood then holds all 1000 connections; when back-pressure is
# dropped (held_back() returning false): the slowest answers took 70 and
# 84 ms (14 and 9 ms with it, on an idle machine).  Without the per-uid
# turns of run_queue() (every queued connection served in one go) they
# took 199 ms.  The RSS
# bound under unread replies is shown by t_pipeline_rss.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	skip "needs root and setpriv"; finish
fi
# ASan keeps freed memory in a quarantine (256 MB by default), which
# would be measured here as if the daemon held it: keep it small
if ldd "$BROKERD" | grep -q libasan; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
fi
start_broker
expect 0 "setup: alice has a grant" B --as alice request host:web-1 \
    --reason setup
# as_user UID CMD...: run as another local uid (its own gid, no groups)
as_user() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
# The latency target is 50 ms.  The flood, this test's tools and the other
# tests share two CPUs, so a single sample can wait on the scheduler: the
# target holds for 9 answers in 10 (p90), and no answer may take over
# 250 ms.  ASan builds are several times slower; TSan builds slower still
# (p90 near 48 ms here, against 3 ms for a plain build), and TSan's shadow
# memory counts in the RSS (424 MB measured, against 82 MB plain and
# 175 MB under ASan, on the same machine in the same hour).  Under TSan
# one answer in 40 once took 1,362 ms (p90 60 ms) on a loaded machine:
# there the bound on the slowest is 3 s, which still catches a starved
# user (the plain build keeps 250 ms).
LIMIT=50; STALL=250; RSS_MB=200
if ldd "$BROKERD" | grep -q libasan; then LIMIT=250; STALL=1000; RSS_MB=400; fi
if ldd "$BROKERD" | grep -q libtsan; then LIMIT=250; STALL=3000; RSS_MB=1000; fi

as_user 1 "$TOOLS/userflood" "$BROKER_SOCKET" 1000 8 >"$T/flood" 2>&1 &
FLOOD=$!
sleep 2
STATUS='{"v":1,"id":"s","op":"status"}'
CHECK='{"v":1,"id":"c","op":"check","args":{"user":"alice","resource":"host:web-1"}}'
as_user 65534 "$TOOLS/latency" "$BROKER_SOCKET" 40 "$STATUS" >"$T/lat1" 2>&1
rc1=$?
"$TOOLS/latency" "$BROKER_SOCKET" 40 "$CHECK" >"$T/lat2" 2>&1
rc2=$?
rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$BROKERD_PID/status")
wait $FLOOD
echo "# flood: $(cat "$T/flood")"
echo "# nobody status: $(tail -1 "$T/lat1"); root check: $(tail -1 "$T/lat2"); RSS ${rss} kB"
equals "another user's status always answered" 0 "$rc1"
equals "a PAM-style check always answered" 0 "$rc2"
for f in lat1 lat2; do
	p90=$(sed -n 's/.*p90_ms=\([0-9]*\).*/\1/p' "$T/$f")
	ms=$(sed -n 's/.*max_ms=\([0-9]*\).*/\1/p' "$T/$f")
	if [ -n "$p90" ] && [ "$p90" -lt "$LIMIT" ]; then
		ok "$f: 9 answers in 10 within ${p90} ms (< $LIMIT)"
	else
		not_ok "$f: 9 answers in 10 within ${p90:-?} ms (< $LIMIT)"
	fi
	if [ -n "$ms" ] && [ "$ms" -lt "$STALL" ]; then
		ok "$f: the slowest of 40 took ${ms} ms (< $STALL)"
	else
		not_ok "$f: the slowest of 40 took ${ms:-?} ms (< $STALL)"
	fi
done
if [ "$rss" -lt $((RSS_MB * 1024)) ]; then ok "RSS ${rss} kB < ${RSS_MB} MB"
else not_ok "RSS ${rss} kB < ${RSS_MB} MB"; fi
contains "the flood got its share: 256 connections" "open=256 " "$(cat "$T/flood")"
contains "the rest were refused" "refused=744 " "$(cat "$T/flood")"
contains "with a clear error line" "too many connections from uid 1 (at most 256 per user)" \
    "$(cat "$T/flood")"
expect 0 "still serving" B status
finish

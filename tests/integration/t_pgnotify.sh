#!/bin/sh
# t_pgnotify.sh - changes made through one broker reach another through
# LISTEN/NOTIFY alone: both brokers run with the periodic re-read (the
# safety net, 200 ms in production) stretched to 30 s by the test knob
# BROKER_FOLLOW_UNSAFE_MS, so anything seen well under that came by the
# announcement of the other broker's commit.  A policy load, a revoke, an
# opt-out and a freeze on B are in force on A within 1 s (A's remembered
# `check` answers end with the announcement); after the listening
# sessions are killed, each broker listens again by itself and the next
# change still arrives at once.
#
# Fails when commits are not announced: checked by sending puts_and_commit()'s
# NOTIFY in store_pg.c to another channel (policy on A not after 3 s, check
# still allowed after the revoke and the opt-out until its copy aged, ~1.9
# s: 4 red).  Fails when a lost listener is not replaced: checked by
# p_wait() never connecting again after a loss (the policy after the
# kill took the 30 s safety net: red).
. "$(dirname "$0")/lib.sh"
# this test chooses its brokers' stores itself, under make check-pg too
pg_cluster_begin
cfg() {
	mkdir -p -m 0700 "$T/$1"
	cat >"$T/$1.json" <<C
{ "state_dir": "$T/$1", "socket": "$T/$1.sock", "policy": "$T/policy.json",
  $GROUPS_JSON, "delegates": [$VIA_DELEGATES],
  "store": { "backend": "postgres", "conninfo_file": "$PG_CONNINFO",
             "stale_max": 600 } }
C
}
cfg a
cfg b
SA=$T/a.sock
SB=$T/b.sock
export BROKER_SOCKET=$SA
export BROKER_FOLLOW_UNSAFE_MS=30000
expect 0 "brokerd --migrate" "$BROKERD" -c "$T/a.json" --migrate
start_broker -c "$T/a.json"
start_peer b
grep -q "event=policy_follow_unsafe every_ms=30000" "$T/brokerd.log" &&
    ok "A's safety net is 30 s (test knob)" || not_ok "A's safety net is 30 s"
onA() { BROKER_SOCKET=$SA "$@"; }
onB() { BROKER_SOCKET=$SB "$@"; }
req() { sed -n 's/^\(r[0-9]*\) .*/\1/p' | head -1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# within NAME CMD...: run CMD until it succeeds, 3 s at most; ok when the
# attempt that succeeded started within 1 s (30 s is the safety net, and
# A's remembered check answers age in ~2 s: only an announcement is
# faster).  Timed to the start of that attempt, not its end, so that a
# loaded machine's slow CLI runs do not count as slow propagation.
within() {
	w_name=$1; shift
	w_t0=$(now_ms)
	while :; do
		w_ta=$(now_ms)
		"$@" >/dev/null 2>&1 && break
		if [ $((w_ta - w_t0)) -ge 3000 ]; then w_ta=; break; fi
		sleep 0.02
	done
	if [ -z "$w_ta" ]; then
		not_ok "$w_name (not in force after $(($(now_ms) - w_t0)) ms)"
	elif [ $((w_ta - w_t0)) -le 1000 ]; then
		ok "$w_name (in force by $((w_ta - w_t0)) ms)"
	else not_ok "$w_name (in force only by $((w_ta - w_t0)) ms)"; fi
}
policy_v() { # on A, bob's request is decided by rule staging-auto-$1
	run onA "$BROKER" --as bob request host:web-p$(now_ms) --for 10m
	case $OUT in *"staging-auto-$1"*) return 0 ;; esac
	return 1
}
refused() { # A's check for $1 on $2 refuses (exit not 0)
	! onA "$BROKER" check --user "$1" --resource "$2"
}
grant() { # an active grant for alice on $1, approved through B
	run onA "$BROKER" --as alice request "$1" --reason deploy --ticket OPS-1
	g=$(echo "$OUT" | req)
	onA A frank approve "$g" --reason ok >/dev/null
	onB A erin approve "$g" --reason ok >/dev/null
	onA expect 0 "alice holds $1" "$BROKER" check --user alice --resource "$1"
}
# approved before erin loads a policy (she may not approve what it routes)
grant host:app-prod-1
g1=$g
grant host:app-prod-2

# ---- a policy load on B is in force on A -------------------------------
sed 's/"id": "staging-auto"/"id": "staging-auto-v2"/' "$T/policy.json" >"$T/p2.json"
onB expect 0 "policy load through B" A erin policy load "$T/p2.json" --reason v2
within "A decides by B's new policy" policy_v v2

# ---- a revoke on B ends A's remembered check answer --------------------
onA "$BROKER" check --user alice --resource host:app-prod-1 >/dev/null
onB expect 0 "revoke on B" A erin revoke "$g1" --reason over
within "A's check refuses after B's revoke" refused alice host:app-prod-1

# ---- an opt-out on B ends it too ---------------------------------------
onA "$BROKER" check --user alice --resource host:app-prod-2 >/dev/null
onB expect 0 "opt-out on B" A erin optout add resource:host:app-prod-2 --tag incident --reason r --for 1h --mode block
within "A's check refuses after B's opt-out" refused alice host:app-prod-2

# ---- a freeze on B ---------------------------------------------------------
onB expect 0 "freeze on B" A erin freeze --reason incident --for 1h
held() { run onA "$BROKER" --as bob request host:web-f$(now_ms); [ "$RC" = 3 ]; }
within "A holds automatic grants after B's freeze" held
onA expect 0 "unfreeze on A" A erin unfreeze --reason over

# ---- listening sessions killed: each broker listens again --------------
before=$(grep -c "event=store_pg_listening" "$T/brokerd.log")
killed=$(su_psql -d postgres -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'brokerd-listen'")
equals "two listening sessions killed" 2 "$killed"
n=0
while [ $n -lt 100 ] && [ "$(grep -c "event=store_pg_listening" "$T/brokerd.log")" -le "$before" ]; do
	sleep 0.05; n=$((n + 1))
done
[ "$(grep -c "event=store_pg_listening" "$T/brokerd.log")" -gt "$before" ] &&
    ok "A listens again" || not_ok "A listens again"
n=0
while [ $n -lt 100 ] && [ "$(su_psql -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'brokerd-listen'")" != 2 ]; do
	sleep 0.05; n=$((n + 1))
done
sed 's/"id": "staging-auto"/"id": "staging-auto-v3"/' "$T/policy.json" >"$T/p3.json"
onB expect 0 "policy load through B after the kill" A erin policy load "$T/p3.json" --reason v3
within "A decides by B's newer policy after listening again" policy_v v3

stop_peer
equals "B stops cleanly" 0 "$?"
stop_broker
finish

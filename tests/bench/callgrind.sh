#!/bin/sh
# tests/bench/callgrind.sh - instructions per durable auto grant, by part.
#
#   sh tests/bench/callgrind.sh [SECONDS] [CONNS] [OUTDIR]
#
# Wall-clock profiles on a shared machine are noise; instruction counts are
# not.  This runs brokerd (and its forked CA signer process) under valgrind
# --tool=callgrind, drives the issuance load of `make bench` (auto-approved
# requests with an Ed25519 key, group commit on) for SECONDS (default 20)
# with CONNS connections (default 16), and divides the instructions counted
# during the load by the number of certificates issued.  Start-up and
# shutdown are left out.
#
# Prints the instructions per grant for the daemon and the signer, by
# library (self cost) and for the functions that make up a grant (inclusive
# cost), and the system calls per grant (strace -c when strace exists, in a
# second, shorter run without valgrind).  Leaves callgrind.out.* in OUTDIR
# (default: a temporary directory, removed).
#
# Needs the bench tools that tests/bench/run.sh builds (build/bench); builds
# build/prof/brokerd itself.
set -u
. "$(dirname "$0")/common.sh"
bench_init cg
SECS=${1:-20}
CONNS=${2:-16}
OUT=${3:-$T}
[ -x $BUILD/loadgen ] ||
	{ echo "callgrind: run tests/bench/run.sh first" >&2; exit 1; }
# The signer's seccomp filter kills valgrind: build/prof is the -O2 tree
# without it (BROKER_PROFILE_NO_SANDBOX), used for nothing else.
PROF=build/prof
${MAKE:-make} -s -j"$(nproc)" BUILD=$PROF \
    OPT="${OPT:--O2} -DBROKER_PROFILE_NO_SANDBOX" $PROF/brokerd >&2 ||
	{ echo "callgrind: cannot build $PROF/brokerd" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "callgrind: no valgrind" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
mkdir -m 0700 "$T/state"
bench_policy
cat >"$T/brokerd.json" <<EOF
{ "state_dir": "$T/state", "socket": "$T/broker.sock",
  "policy": "$T/policy.json", "group_commit": true,
  "local_groups": { "dev": ["alice", "bob"] } }
EOF
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/key" || exit 1

rm -f "$OUT"/callgrind.out.*
$BUILD/loadgen start 300 "$T/brokerd.log" "$T/broker.sock" \
    "$(command -v valgrind)" --tool=callgrind --collect-atstart=no \
    --toggle-collect=server_run --toggle-collect='writer_main*' \
    --toggle-collect='worker*' --toggle-collect='feed_main*' \
    --toggle-collect='refresher*' --toggle-collect=ca_sign \
    --callgrind-out-file="$OUT/callgrind.out.%p" \
    "$ROOT/$PROF/brokerd" -c "$T/brokerd.json" >"$T/start.out" || {
	tail "$T/brokerd.log" >&2; exit 1; }
PID=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$T/start.out")
PIDS="$PIDS $PID"
# Counted: what the daemon's threads do in their loops (collection is
# toggled on in server_run, writer_main, worker, feed_main, refresher),
# zeroed when the load starts and dumped when it ends; and the signer's
# signatures (ca_sign: the warm-up one at its start, then one per
# certificate), dumped when it exits.
# callgrind_control does not reach the forked signer, hence the toggles.
callgrind_control -z "$PID" >/dev/null
KID=$(ps -o pid= --ppid "$PID" | head -1 | tr -d ' ')
$BUILD/loadgen issue "$T/broker.sock" "$CONNS" "$SECS" alice "$T/key.pub" \
    >"$T/load.out" || { cat "$T/load.out"; exit 1; }
callgrind_control -d "$PID" >/dev/null
kill -TERM "$PID"
i=0
while { kill -0 "$PID" || kill -0 "${KID:-0}"; } 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
GRANTS=$(sed -n 's/.*certs=\([0-9]*\).*/\1/p' "$T/load.out")
LATE=$(sed -n 's/.* late=\([0-9]*\).*/\1/p' "$T/load.out")
GRANTS=$((GRANTS + LATE))
echo "load: $(cat "$T/load.out")"
echo "grants: $GRANTS"
# the dump made on request is callgrind.out.PID.1
SIGF=
[ -n "$KID" ] && [ -f "$OUT/callgrind.out.$KID" ] && SIGF=$OUT/callgrind.out.$KID
sh "$ROOT/tests/bench/cgsplit.sh" "$GRANTS" "$OUT/callgrind.out.$PID.1" \
    ${SIGF:+"$SIGF"}

if command -v strace >/dev/null; then
	# system calls per grant, without valgrind (which runs the threads one
	# at a time and so changes how many wake-ups there are)
	rm -rf "$T/state" "$T/broker.sock"
	mkdir -m 0700 "$T/state"
	$BUILD/loadgen start 60 "$T/brokerd2.log" "$T/broker.sock" \
	    "$ROOT/$BUILD/brokerd" -c "$T/brokerd.json" >"$T/start2.out" || exit 1
	PID=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$T/start2.out")
	PIDS="$PIDS $PID"
	strace -c -f -q -p "$PID" -o "$T/strace.out" &
	SP=$!
	PIDS="$PIDS $SP"
	sleep 1
	$BUILD/loadgen issue "$T/broker.sock" "$CONNS" 5 alice "$T/key.pub" \
	    >"$T/load2.out"
	kill -INT "$SP"
	wait "$SP" 2>/dev/null
	G2=$(sed -n 's/.*certs=\([0-9]*\).*/\1/p' "$T/load2.out")
	echo "== system calls per grant (strace -c -f, $G2 grants, without valgrind) =="
	awk -v g="$G2" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
		printf "  %-16s %8.2f\n", $NF, $4 / g; t += $4 }
	    END { printf "  %-16s %8.2f\n", "all", t / g }' "$T/strace.out" |
	    sort -k2 -n -r | head -16
fi

#!/bin/sh
# run.sh - build the libFuzzer targets with clang into build/fuzz/ and run
# each for FUZZ_SECONDS (default 30).
#
#   sh tests/fuzz/run.sh [TARGET...]        (default: every target)
#
# Environment: FUZZ_SECONDS, FUZZ_CC (default clang-14, else clang),
# FUZZ_JOBS (targets run at once, default 1), FUZZ_ARGS (extra libFuzzer
# flags).  Each target starts from its seed corpus tests/fuzz/corpus/T/
# plus what earlier runs found (build/fuzz/corpus/T/, not committed).
# Inputs that crash, leak, time out or run out of memory are copied to
# tests/fuzz/crashes/T-<name>; the script exits 1 when there are any.
# A summary line per target gives its runs and executions per second.
set -u
cd "$(dirname "$0")/../.."
# the packages and libraries the daemon links, from the main Makefile
MAIN_PKGS="jansson libcrypto libssl lmdb ldap"
MAIN_LIBS="-ljansson -lcrypto -lssl -llmdb -lldap -llber -lpthread"
eval "$(make -s --no-print-directory -f Makefile -f tests/fuzz/vars.mk \
    fuzz-vars 2>/dev/null | grep '^MAIN_')"
OUT=build/fuzz
SECS=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-1}
CC=${FUZZ_CC:-$(command -v clang-14 || command -v clang)}
ALL="proto policy config duration_glob sshkey snapshot pam_options signer_check"
TARGETS=${*:-$ALL}

if [ -z "$CC" ]; then
	echo "fuzz: clang is needed (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
make -s -f tests/fuzz/fuzz.mk PKGS="$MAIN_PKGS" LIBS="$MAIN_LIBS" \
    MODE=fuzz OUT=$OUT CC="$CC" \
    -j"$(nproc 2>/dev/null || echo 2)" targets || exit 1

run_one() {
	t=$1
	work=$OUT/corpus/$t
	art=$OUT/artifacts/$t
	mkdir -p "$work" "$art" tests/fuzz/crashes
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	# ASan: leaks are bugs too; UBSan aborts with a report.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	    "$OUT/fuzz_$t" -max_total_time="$SECS" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$art/" $dict ${FUZZ_ARGS:-} \
	    "$work" "tests/fuzz/corpus/$t" >"$OUT/$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t.log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$OUT/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$OUT/$t.log" | tail -1)
	n=0
	for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* \
	    "$art"/oom-* "$art"/slow-unit-*; do
		[ -f "$f" ] || continue
		case $f in */slow-unit-*) continue ;; esac
		cp "$f" "tests/fuzz/crashes/$t-$(basename "$f")"
		rm -f "$f"
		n=$((n + 1))
	done
	if [ "$rc" != 0 ] || [ "$n" != 0 ]; then
		echo "FAIL fuzz_$t: exit $rc, $n new crashing input(s) in" \
		    "tests/fuzz/crashes/ (log: $OUT/$t.log)"
		grep -m1 -A12 'ERROR: \|runtime error' "$OUT/$t.log" | sed 's/^/  /'
		return 1
	fi
	echo "ok   fuzz_$t: ${runs:-?} runs in ${SECS}s (${speed:-?}/s), $cov"
}

fail=0
if [ "$JOBS" -le 1 ]; then
	for t in $TARGETS; do run_one "$t" || fail=1; done
else
	# JOBS lanes, each running its share of the targets in turn
	lane=0; pids=
	while [ $lane -lt "$JOBS" ]; do
		(
			i=0; lfail=0
			for t in $TARGETS; do
				[ $((i % JOBS)) = $lane ] && { run_one "$t" || lfail=1; }
				i=$((i + 1))
			done
			exit $lfail
		) &
		pids="$pids $!"
		lane=$((lane + 1))
	done
	for p in $pids; do wait "$p" || fail=1; done
fi
exit $fail

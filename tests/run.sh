#!/bin/sh
# run.sh - run every test: unit tests (criterion) and integration tests,
# in parallel, then print one summary line "N passed, M failed, K skipped".
# A skip is not a pass: under CI=true (where every dependency is
# installed) any skipped check fails the run.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/brokerlogs.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT

# TESTS="t_basic t_approve" runs only the tests whose names start so;
# EXCLUDE="t_cli_valgrind" leaves out the tests of exactly those names (a
# build variant leaves out what cannot run under it, rather than skipping).
wanted() {
	for w in ${EXCLUDE:-}; do
		[ "$(basename "$1" .sh)" = "$w" ] && return 1
	done
	[ -z "${TESTS:-}" ] && return 0
	for w in $TESTS; do
		case $(basename "$1") in "$w"*) return 0 ;; esac
	done
	return 1
}

list_tests() {
	for t in "$BUILD"/tests/test_*; do
		case $t in *.d) continue ;; esac
		[ -x "$t" ] && wanted "$t" && echo "$t"
	done
	for t in tests/integration/t_*.sh; do
		[ -f "$t" ] && wanted "$t" && echo "$t"
	done
}

export LOGS
list_tests >"$LOGS/list"
# portable parallel run: xargs -P with a small shell per test
xargs -P "$JOBS" -I{} sh -c '
	t={}; name=$(basename "$t")
	case $t in
	*.sh) sh "$t" >"$LOGS/$name.log" 2>&1 ;;
	*) "$t" --jobs 1 --ascii --verbose >"$LOGS/$name.log" 2>&1 ;;
	esac
	echo $? >"$LOGS/$name.rc"' <"$LOGS/list"

passed=0; failed=0; skipped=0; bad=""
while read -r t; do
	name=$(basename "$t")
	log=$LOGS/$name.log
	rc=$(cat "$LOGS/$name.rc" 2>/dev/null || echo 99)
	case $t in
	*.sh)
		p=$(grep -c '^ok - ' "$log")
		f=$(grep -c '^not ok - ' "$log")
		s=$(grep -c '^skip - ' "$log")
		;;
	*)
		p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' "$log" | tail -1)
		f=$(sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p' "$log" | tail -1)
		f=$(( ${f% *} + ${f#* } ))
		p=${p:-0}
		s=$(grep -c '^\[SKIP\]' "$log")
		;;
	esac
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$rc" != 0 ] || [ "$f" != 0 ]; then
		bad="$bad $name"
		echo "=== FAILED: $t (exit $rc)"
		grep -v '^ok - \|^\[RUN \]\|^\[PASS\]' "$log" | tail -40
	else
		echo "PASS: $t ($p checks${s:+, $s skipped})" | sed 's/, 0 skipped//'
	fi
	if [ "$s" != 0 ]; then
		grep '^skip - \|^\[SKIP\]' "$log" | sed "s|^|   $name: |"
	fi
done <"$LOGS/list"

echo
[ -n "$bad" ] && echo "failed:$bad"
if [ "${CI:-}" = true ] && [ "$skipped" != 0 ]; then
	echo "CI=true: $skipped skipped check(s) count as failures (every dependency is installed here)"
	failed=$((failed + skipped))
fi
[ "$passed" = 0 ] && [ "$failed" = 0 ] && { echo "no test ran"; failed=1; }
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]

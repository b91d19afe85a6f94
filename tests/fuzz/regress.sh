#!/bin/sh
# regress.sh - run every seed corpus file through its fuzz target once,
# without libFuzzer: each target is linked with driver.c and built with
# ASan + UBSan (clang if present, else gcc) into $BUILD/fuzz-regress/.
# Prints "ok - TARGET: N inputs" or "not ok - ..." per target (TAP-like,
# as the integration tests do); exits 1 when any failed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
OUT=$BUILD/fuzz-regress
CC=${REGRESS_CC:-$(command -v clang-14 || command -v clang || command -v gcc)}
TARGETS="proto policy config duration_glob sshkey snapshot pam_options"
mkdir -p "$OUT"

build() {
	make -s -f tests/fuzz/fuzz.mk MODE=regress OUT="$OUT" CC="$CC" \
	    -j"$(nproc 2>/dev/null || echo 2)" targets >"$OUT/build.log" 2>&1
}
# one build at a time in $OUT (tests may run concurrently)
if command -v flock >/dev/null 2>&1; then
	( flock 9 && build ) 9>"$OUT/.lock"
else
	build
fi
if [ $? != 0 ]; then
	echo "not ok - build the fuzz targets with $CC"
	sed 's/^/# /' "$OUT/build.log" | tail -30
	exit 1
fi

fail=0
for t in $TARGETS; do
	out=$(ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$OUT/fuzz_$t" -q "tests/fuzz/corpus/$t" 2>"$OUT/$t.err")
	rc=$?
	if [ $rc = 0 ]; then
		echo "ok - $t: $out"
	else
		echo "not ok - $t (exit $rc)"
		sed 's/^/# /' "$OUT/$t.err" | head -40
		fail=1
	fi
done
exit $fail

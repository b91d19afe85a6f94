#!/bin/sh
# regress.sh - run every seed corpus file through its fuzz target once,
# without libFuzzer: each target is linked with driver.c and built with
# ASan + UBSan into $BUILD/fuzz-regress-CC/, by the compiler `make check` uses
# (REGRESS_CC, else $CC, else gcc), so that it breaks only when the build
# does.
# Prints "ok - TARGET: N inputs" or "not ok - ..." per target (TAP-like,
# as the integration tests do); exits 1 when any failed.
set -u
cd "$(dirname "$0")/../.."
# under `make check-asan` the parent make passes SAN=asan etc. down through
# MAKEFLAGS; this build chooses its own flags
unset MAKEFLAGS MFLAGS MAKELEVEL
# the packages and libraries the daemon links, from the main Makefile
MAIN_PKGS="jansson libcrypto libssl lmdb ldap"
MAIN_LIBS="-ljansson -lcrypto -lssl -llmdb -lldap -llber -lpthread"
eval "$(make -s --no-print-directory -f Makefile -f tests/fuzz/vars.mk \
    fuzz-vars 2>/dev/null | grep '^MAIN_')"
BUILD=${BUILD:-build}
OUT=
CC=${REGRESS_CC:-${CC:-gcc}}
command -v "$CC" >/dev/null 2>&1 || CC=$(command -v gcc || command -v clang)
OUT=$BUILD/fuzz-regress-$(basename "$CC")	# objects of one compiler
TARGETS="proto policy config duration_glob sshkey snapshot pam_options signer_check"
mkdir -p "$OUT"

build() {
	make -s -f tests/fuzz/fuzz.mk PKGS="$MAIN_PKGS" LIBS="$MAIN_LIBS" \
	    MODE=regress OUT="$OUT" CC="$CC" \
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

#!/bin/sh
# lint.sh - static checks (make lint): cppcheck and clang-tidy over every
# project source (policy/, broker/, pam/, and the fuzz targets), with the
# flags the build uses.  clang-tidy's checks are in .clang-tidy at the top
# of the tree; a false positive is suppressed where it occurs with a
# NOLINT/cppcheck-suppress comment that says why.  Exits 1 on any finding.
#
#   sh tests/lint.sh [FILE.c...]     (default: every source)
#
# Environment: LINT_CPPCHECK=0 or LINT_TIDY=0 skip one of the tools;
# JOBS (default: the number of CPUs).
set -u
cd "$(dirname "$0")/.."
OUT=build/lint
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# make's deps check does not look for the linters: install them here
have_tidy() { command -v clang-tidy-14 || command -v clang-tidy; }
if ! command -v cppcheck >/dev/null || ! have_tidy >/dev/null; then
	sh deploy/deps.sh || exit 1
fi
TIDY=$(command -v clang-tidy-14 || command -v clang-tidy)
mkdir -p "$OUT"

if [ $# -gt 0 ]; then
	SRC="$*"
else
	SRC=$(ls policy/*.c broker/lib/*.c broker/daemon/*.c broker/daemon/*/*.c broker/cli/*.c \
	    pam/*.c tests/fuzz/*.c 2>/dev/null)
fi
INC="-Ibroker/lib -Ibroker/cli -Ipolicy -Ipam"
for d in broker/daemon broker/daemon/*/; do INC="$INC -I${d%/}"; done
PKG=$(pkg-config --cflags jansson libcrypto libssl lmdb ldap libpq 2>/dev/null)
FLAGS="-std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wformat=2 \
-Wno-unused-parameter $INC $PKG"
fail=0

# --- layering --------------------------------------------------------------
# Includes go down, never up: the daemon's lower folders (core, store,
# identity, cred, domain, notify) never include a header of ops/ or net/,
# net/ never one of ops/ (main.c wires them),
# and broker/lib and policy/ never include one of broker/daemon.  Headers
# are included by name (the Makefile gives each folder its own -I), so a
# name is looked up in the folders it must not come from.
layer_check() {	# $1: folders whose sources are checked, $2: forbidden ones
	for f in $(ls $(for d in $1; do echo "$d/*.c $d/*.h"; done) 2>/dev/null); do
		sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | while read -r h; do
			for up in $2; do
				if [ -e "$up/$h" ]; then
					echo "$f: includes $up/$h (an upper layer)"
				fi
			done
		done
	done
}
if [ $# -eq 0 ]; then
	D=broker/daemon
	{
		layer_check "$D/core $D/store $D/identity $D/cred $D/domain $D/notify" \
		    "$D/ops $D/net"
		layer_check "broker/lib policy" "$D $(ls -d $D/*/ | sed 's,/$,,')"
		# the transports reach the ops through what main.c gives them
		layer_check "$D/net" "$D/ops"
	} >"$OUT/layers.log"
	if [ -s "$OUT/layers.log" ]; then
		cat "$OUT/layers.log"
		echo "layers: upward includes above"
		fail=1
	else
		echo "layers: clean"
	fi
fi

# --- cppcheck ------------------------------------------------------------
# System headers are not parsed (that is slow and noisy); the jansson
# iteration macros the code uses are described to cppcheck instead.
cat >"$OUT/jansson.cfg" <<'CFG'
<?xml version="1.0"?>
<def format="2">
  <define name="json_object_foreach(object, key, value)" value="for (key = json_object_iter_key(json_object_iter(object)); key &amp;&amp; (value = json_object_iter_value(json_object_key_to_iter(key))); key = json_object_iter_key(json_object_iter_next(object, json_object_key_to_iter(key))))"/>
  <define name="json_object_foreach_safe(object, n, key, value)" value="for (key = json_object_iter_key(json_object_iter(object)), n = json_object_iter_next(object, json_object_key_to_iter(key)); key &amp;&amp; (value = json_object_iter_value(json_object_key_to_iter(key))); key = json_object_iter_key(n), n = json_object_iter_next(object, json_object_key_to_iter(key)))"/>
  <define name="json_array_foreach(array, index, value)" value="for (index = 0; index &lt; json_array_size(array) &amp;&amp; (value = json_array_get(array, index)); index++)"/>
</def>
CFG
if [ "${LINT_CPPCHECK:-1}" != 0 ]; then
	echo "== cppcheck $(cppcheck --version | cut -d' ' -f2)"
	# shellcheck disable=SC2086
	if cppcheck --enable=warning,portability --error-exitcode=1 \
	    --inline-suppr --std=c11 --quiet -j"$JOBS" \
	    --library=posix --library="$OUT/jansson.cfg" \
	    -D_GNU_SOURCE -D__GNUC__ $INC \
	    --suppress=missingIncludeSystem \
	    --template='{file}:{line}: {severity} ({id}): {message}' \
	    $SRC >"$OUT/cppcheck.log" 2>&1; then
		echo "cppcheck: clean"
	else
		cat "$OUT/cppcheck.log"
		echo "cppcheck: findings above"
		fail=1
	fi
fi

# --- clang-tidy ----------------------------------------------------------
if [ "${LINT_TIDY:-1}" != 0 ]; then
	if [ -z "$TIDY" ]; then
		echo "lint: clang-tidy not found" >&2
		exit 1
	fi
	echo "== $($TIDY --version | grep -o 'LLVM version [0-9.]*')"
	# a compilation database with the build's flags
	{
		echo "["
		sep=
		for f in $SRC; do
			printf '%s{"directory":"%s","file":"%s",' "$sep" "$PWD" "$f"
			printf '"command":"cc %s -c %s"}\n' "$FLAGS" "$f"
			sep=,
		done
		echo "]"
	} >"$OUT/compile_commands.json"
	rm -f "$OUT"/tidy.*.log
	# shellcheck disable=SC2086
	printf '%s\n' $SRC | xargs -P "$JOBS" -I{} sh -c \
	    '"$1" -p "$2" --quiet "$3" >"$2/tidy.$(echo "$3" | tr / _).log" 2>&1' \
	    sh "$TIDY" "$OUT" {}
	cat "$OUT"/tidy.*.log | grep -E '(warning|error):' | sort -u \
	    >"$OUT/tidy.log"
	if [ -s "$OUT/tidy.log" ]; then
		cat "$OUT"/tidy.*.log | grep -v '^[0-9]* warnings\? generated'
		echo "clang-tidy: $(wc -l <"$OUT/tidy.log") finding(s) above"
		fail=1
	else
		echo "clang-tidy: clean ($(echo $SRC | wc -w) files)"
	fi
fi
exit $fail

# lib.sh - shared helpers for integration tests (sourced by each t_*.sh).
#
# Every test gets its own temporary directory and its own brokerd, so tests
# run in parallel without clashing.  Results are TAP-like lines:
# "ok - what" / "not ok - what"; the script exits 1 if any check failed.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BROKERD=$BUILD/brokerd
BROKER=$BUILD/broker
TOOLS=$BUILD/tools
T=$(mktemp -d "${TMPDIR:-/tmp}/brokertest.XXXXXX")
chmod 0755 "$T"
FAILED=0
BROKERD_PID=
export BROKER_SOCKET=$T/d/broker.sock

# What to put first in LD_PRELOAD when an ASan-built object is loaded into
# a process (brokerd itself, or sshd loading pam_broker.so) that also
# preloads a wrapper library: the ASan runtime must come first.
asan_first() {
	if ldd "$1" 2>/dev/null | grep -q libasan; then
		gcc -print-file-name=libasan.so
	fi
}

cleanup() {
	stop_broker
	rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }
# A check that could not run here.  Counted apart by tests/run.sh, and a
# failure under CI=true, where every dependency is installed.
skip() { echo "skip - $*"; }

# bulk_policy FILE: the dev policy with the per-user limits on requests
# (limits.requests_per_minute, limits.pending_per_user) raised, for tests
# that file many requests as one user on purpose (durability, load, store
# full); every other test runs with the defaults.  For --dev $T/d, write
# it to $T/d/policy.json before start_broker: --dev keeps an existing one.
bulk_policy() {
	mkdir -p "$(dirname "$1")"
	sed -e 's/"requests_per_minute": 60/"requests_per_minute": 100000/' \
	    -e 's/"pending_per_user": 20/"pending_per_user": 100000/' \
	    "$ROOT/policy/examples/dev.json" >"$1"
}

# start_broker [brokerd args...]  (default: --dev $T/d); waits until ready.
start_broker() {
	if [ $# -eq 0 ]; then set -- --dev "$T/d"; fi
	${BROKERD_WRAPPER:-} "$BROKERD" "$@" >>"$T/brokerd.log" 2>&1 &
	BROKERD_PID=$!
	i=0
	while [ $i -lt 100 ]; do
		if "$BROKER" status >/dev/null 2>&1; then return 0; fi
		if ! kill -0 "$BROKERD_PID" 2>/dev/null; then break; fi
		sleep 0.05
		i=$((i + 1))
	done
	echo "# brokerd did not start:"; sed 's/^/# /' "$T/brokerd.log"
	not_ok "brokerd starts"
	exit 1
}

# A clean stop is part of every test: a crash, a sanitizer report or a
# leak at exit makes brokerd's status non-zero.
stop_broker() {
	if [ -n "$BROKERD_PID" ]; then
		kill -TERM "$BROKERD_PID" 2>/dev/null
		wait "$BROKERD_PID" 2>/dev/null
		st=$?
		BROKERD_PID=
		if [ "$st" = 0 ]; then ok "brokerd stops cleanly"
		else
			not_ok "brokerd stops cleanly (status $st)"
			tail -30 "$T/brokerd.log" | sed 's/^/#   log: /'
		fi
	fi
}

kill9_broker() {
	kill -KILL "$BROKERD_PID" 2>/dev/null
	wait "$BROKERD_PID" 2>/dev/null
	BROKERD_PID=
}

# run CMD...: runs, keeps stdout in $OUT, stderr in $ERR, exit code in $RC.
run() {
	OUT=$("$@" 2>"$T/stderr")
	RC=$?
	ERR=$(cat "$T/stderr")
}

# expect RC DESCRIPTION CMD...: the command exits with RC.
expect() {
	want=$1; desc=$2; shift 2
	run "$@"
	if [ "$RC" = "$want" ]; then ok "$desc"
	else
		not_ok "$desc (exit $RC, wanted $want)"
		echo "$OUT" | sed 's/^/#   out: /' | head -20
		echo "$ERR" | sed 's/^/#   err: /' | head -20
	fi
}

# contains DESCRIPTION NEEDLE HAYSTACK
contains() {
	case $3 in *"$2"*) ok "$1" ;;
	*) not_ok "$1 (no \"$2\")"; echo "$3" | sed 's/^/#   got: /' | head -20 ;;
	esac
}

lacks() {
	case $3 in *"$2"*) not_ok "$1 (found \"$2\")" ;; *) ok "$1" ;; esac
}

# equals DESCRIPTION WANT GOT
equals() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (wanted '$2', got '$3')"; fi
}

# json_get KEY < json: the value of a top-level "key": "value" or number.
json_get() {
	sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -1
}

B() { "$BROKER" "$@"; }

# The broker counts approvals once per connection principal and lets no
# delegate decide what it filed, and root files most requests here with
# --as; so a decider acts through a local uid of their own (a system user
# standing for them, a delegate acting --as them).  A NAME ARGS...: the CLI
# as NAME through that uid.  A config using it lists $VIA_DELEGATES in
# "delegates".  (Tests run as root: setpriv needs it.)
VIA_DELEGATES='"daemon", "bin", "sys", "games", "man", "lp", "mail"'
via_uid() {
	case $1 in
	carol) echo daemon ;; dave) echo bin ;; frank) echo sys ;;
	erin) echo games ;; rita) echo man ;; lee) echo lp ;; *) echo mail ;;
	esac
}
A() {
	a_name=$1; shift
	setpriv --reuid="$(via_uid "$a_name")" --regid=65534 --clear-groups \
	    "$BROKER" --as "$a_name" "$@"
}

# Test certificates made with openssl, in $T (P-256, valid one day).
# mkcert NAME CN CA EXT: $T/NAME.key (0600) and $T/NAME.crt for CN, signed
# by $T/CA.{crt,key}, with the extensions EXT (lines of an extfile).
mkcert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$T/$1.key" -subj "/CN=$2" -out "$T/$1.csr" \
	    2>/dev/null &&
	printf '%s\n' "$4" >"$T/$1.ext" &&
	openssl x509 -req -in "$T/$1.csr" -CA "$T/$3.crt" -CAkey "$T/$3.key" \
	    -CAcreateserial -days 1 -extfile "$T/$1.ext" -out "$T/$1.crt" \
	    2>/dev/null && chmod 0600 "$T/$1.key"
}
# test_pki ROGUE_CN: two self-signed CAs, ca and ca-other; from ca the
# broker's server certificate (localhost) and a host's client certificate
# (web1, CN web-1); from ca-other a client certificate "rogue" for
# ROGUE_CN, which the broker must refuse.  Fails when openssl does.
test_pki() {
	for ca in ca ca-other; do
		openssl req -x509 -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -keyout "$T/$ca.key" -out "$T/$ca.crt" -days 1 \
		    -subj "/CN=test $ca" 2>/dev/null || return 1
	done
	mkcert server localhost ca "subjectAltName=DNS:localhost
extendedKeyUsage=serverAuth" &&
	mkcert web1 web-1 ca "extendedKeyUsage=clientAuth" &&
	mkcert rogue "$1" ca-other "extendedKeyUsage=clientAuth"
}

finish() {
	exit $FAILED
}

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
	sshd_stop
	stop_peer >/dev/null
	stop_broker
	pg_stop
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

# within SECONDS CMD...: whether CMD (a function too) succeeds within
# SECONDS, tenths polled.  For what a background process writes or audits
# after an event the test can see: a session agent reports a session after
# all its processes are gone, while the test sees the first go, and under
# ASan in CI that gap has outlasted a fixed wait.
within() {
	w_n=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$w_n" -le 0 ] && return 1
		sleep 0.1
		w_n=$((w_n - 1))
	done
}
# audited TEXT ARGS...: whether "audit ARGS", asked as erin (the tests'
# auditor), mentions TEXT.
audited() {
	a_text=$1
	shift
	B --json --as erin audit "$@" | grep -qF "$a_text"
}

# wait_more FILE: until FILE holds one line more than now (at most 10 s).
# The kill -9 and power-loss rounds wait so before their random moment,
# so that every round kills with approvals in flight even where a slow
# machine (CI under ASan) needs most of the round for one approval.
wait_more() {
	i=0
	n=$(cat "$1" 2>/dev/null | wc -l)
	while [ "$(cat "$1" 2>/dev/null | wc -l)" -le "$n" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# ---- a private PostgreSQL ----------------------------------------------
# pg_start [DIR]: initdb + pg_ctl from /usr/lib/postgresql/*/bin in DIR
# (default $T/pg; pg_hba.conf from $PG_HBA, default trust on the socket)
# as user nobody, a Unix socket in DIR only
# (listen_addresses=''), never a system server; database "broker" and a
# conninfo file $PG_CONNINFO (0600) for it.  Returns 1 when PostgreSQL is
# not installed.  A watchdog stops the server when the test's shell is
# gone, whatever cleanup the test has.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG=
PG_CONNINFO=
asnobody() { setpriv --reuid=nobody --regid=65534 --clear-groups "$@"; }
pg_start() {
	PG=${1:-$T/pg}
	[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || return 1
	mkdir -p "$PG"
	chown nobody "$PG"
	chmod 0700 "$PG"
	if [ ! -f "$PG/data/PG_VERSION" ]; then
		asnobody "$PGBIN/initdb" -D "$PG/data" -U postgres -A trust \
		    --no-sync >"$PG/initdb.log" 2>&1 ||
		    { sed 's/^/# initdb: /' "$PG/initdb.log"; return 1; }
		printf '%s\n' "${PG_HBA:-local all all trust}" \
		    >"$PG/data/pg_hba.conf"
	fi
	pg_ctl_start || return 1
	psql -X -q -h "$PG" -p 5432 -U postgres -d postgres \
	    -c "CREATE DATABASE broker" >/dev/null 2>&1
	PG_CONNINFO=$T/store.pg
	printf 'host=%s port=5432 dbname=broker user=postgres\n' "$PG" \
	    >"$PG_CONNINFO"
	chmod 0600 "$PG_CONNINFO"
	( pid=$$; exec >/dev/null 2>&1 </dev/null
	  while kill -0 "$pid" 2>/dev/null; do sleep 1; done
	  asnobody "$PGBIN/pg_ctl" -D "$PG/data" -m immediate stop ) &
	return 0
}
pg_ctl_start() {
	asnobody "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w -o \
	    "-k $PG -c listen_addresses='' -p 5432 -c fsync=on" \
	    start >/dev/null 2>&1 ||
	    { sed 's/^/# postgres: /' "$PG/log"; return 1; }
}
pg_stop() {
	[ -n "$PG" ] && [ -f "$PG/data/postmaster.pid" ] &&
	    asnobody "$PGBIN/pg_ctl" -D "$PG/data" -m immediate stop \
		>/dev/null 2>&1
	return 0
}
su_psql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG" -p 5432 -U postgres "$@"; }

# With BROKER_TEST_BACKEND=postgres (make check-pg) every broker a test
# starts keeps its state in a private PostgreSQL: one database per
# state_dir (a test that starts a broker on a new state_dir expects a new
# store), for --dev brokers through BROKER_DEV_PG_CONNINFO, for -c FILE
# brokers by a "store" section added to FILE (unless it has one); the
# schema is made with --migrate first.
pg_backend_args() {
	[ "${BROKER_TEST_BACKEND:-lmdb}" = postgres ] || return 0
	if [ -z "$PG_CONNINFO" ]; then
		pg_start || { not_ok "a private PostgreSQL starts"; exit 1; }
	fi
	[ "$1" = -c ] && grep -q '"store"' "$2" && return 0
	if [ "$1" = -c ]; then
		sd=$(tr '\n' ' ' <"$2" |
		    sed -n 's/.*"state_dir" *: *"\([^"]*\)".*/\1/p')
	else sd=$2; fi
	db=b_$(printf '%s' "$sd" | md5sum | cut -c1-16)
	ci=$T/store-$db.pg
	if [ ! -f "$ci" ]; then
		su_psql -d postgres -c "CREATE DATABASE $db" >/dev/null
		printf 'host=%s port=5432 dbname=%s user=postgres\n' \
		    "$PG" "$db" >"$ci"
		chmod 0600 "$ci"
	fi
	export BROKER_DEV_PG_CONNINFO="$ci"
	if [ "$1" = -c ]; then
		sed -i "1s|^{|{ \"store\": { \"backend\": \"postgres\", \"conninfo_file\": \"$ci\" },|" "$2"
	fi
	"$BROKERD" "$1" "$2" --migrate >>"$T/migrate.log" 2>&1 ||
	    { not_ok "brokerd --migrate"; tail -5 "$T/migrate.log"; exit 1; }
}

# start_broker [brokerd args...]  (default: --dev $T/d); waits until ready.
start_broker() {
	if [ $# -eq 0 ]; then set -- --dev "$T/d"; fi
	pg_backend_args "$@"
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

# pg_cluster_begin: the start of a test whose brokers choose their stores
# themselves (one private PostgreSQL for several brokers), whatever
# BROKER_TEST_BACKEND says: skipped without PostgreSQL; starts it, sets
# GROUPS_JSON (the groups the configs list) and writes a bulk policy to
# $T/policy.json.
pg_cluster_begin() {
	BROKER_TEST_BACKEND=lmdb
	if [ -z "$PGBIN" ] || ! command -v psql >/dev/null; then
		skip "PostgreSQL is not installed (deploy/deps.sh)"; finish
	fi
	pg_start || { not_ok "PostgreSQL starts"; finish; }
	GROUPS_JSON='"local_groups": { "dev": ["alice", "bob"], "dba-leads": ["carol", "dave"], "secops": ["erin"], "sre": ["frank"] }'
	bulk_policy "$T/policy.json"
}

# start_peer NAME: a second brokerd on the config $T/NAME.json, signing
# with the CA of the broker in $T/a (one CA for a cluster,
# docs/scaling.md), logging to $T/NAME.log; ok once it answers on
# $T/NAME.sock.  stop_peer (and cleanup, whatever happens) stops it.
PEER_PID=
start_peer() {
	cp -a "$T/a/ca" "$T/$1/ca" 2>/dev/null || cp -a "$T/a/." "$T/$1/"
	rm -f "$T/$1/lock" 2>/dev/null
	"$BROKERD" -c "$T/$1.json" >>"$T/$1.log" 2>&1 &
	PEER_PID=$!
	i=0
	while [ $i -lt 100 ] &&
	    ! BROKER_SOCKET=$T/$1.sock "$BROKER" status >/dev/null 2>&1; do
		sleep 0.05; i=$((i + 1))
	done
	BROKER_SOCKET=$T/$1.sock expect 0 "broker $1 runs on the same store" \
	    "$BROKER" status
}
# stop_peer: TERM, then the peer's exit status (0 for a clean stop).
stop_peer() {
	[ -n "$PEER_PID" ] || return 0
	kill -TERM "$PEER_PID" 2>/dev/null
	wait "$PEER_PID"
	sp_rc=$?
	PEER_PID=
	return $sp_rc
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

# A real sshd for the tests that log in with certificates (t_ssh, t_bssh,
# t_sessions, t_e2e).
# sshd_start NAME CA KRL PAMDIR [LINE...]: sshd on 127.0.0.1 and a free
# port (tools/freeport; another one when that was taken meanwhile), host
# key $T/hostkey (made on first use), user certificates of the keys in CA
# only (TrustedUserCAKeys, no authorized_keys, no passwords), RevokedKeys
# KRL ("-": none).  PAMDIR "-": UsePAM no; else UsePAM yes, PAM through
# pam_wrapper with PAMDIR as its service directory and pam_broker.so
# preloaded (the ASan runtime first when it is built with ASan).  Each
# LINE is one more sshd_config line.  Files $T/NAME_config, $T/NAME.log,
# $T/NAME.pid.  Sets SSHD_PORT and SSHD_PID once sshd listens; otherwise
# says not_ok with the log's end and returns 1.
SSHD_PIDS=
sshd_start() {
	ss_name=$1 ss_ca=$2 ss_krl=$3 ss_pam=$4
	shift 4
	[ -f "$T/hostkey" ] ||
	    ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" || return 1
	mkdir -p /run/sshd && chmod 0755 /run/sshd
	ss_log=$T/$ss_name.log
	ss_try=0
	while [ $ss_try -lt 5 ]; do
		SSHD_PORT=$("$TOOLS/freeport")
		{
			echo "Port $SSHD_PORT"
			echo "ListenAddress 127.0.0.1"
			echo "HostKey $T/hostkey"
			echo "PidFile $T/$ss_name.pid"
			echo "TrustedUserCAKeys $ss_ca"
			[ "$ss_krl" = - ] || echo "RevokedKeys $ss_krl"
			echo "AuthorizedKeysFile none"
			echo "PasswordAuthentication no"
			echo "KbdInteractiveAuthentication no"
			if [ "$ss_pam" = - ]; then echo "UsePAM no"
			else echo "UsePAM yes"; fi
			echo "StrictModes no"
			echo "LogLevel VERBOSE"
			for ss_l in "$@"; do echo "$ss_l"; done
		} >"$T/${ss_name}_config"
		if [ "$ss_pam" = - ]; then
			"${SSHD:-/usr/sbin/sshd}" -D -e -f "$T/${ss_name}_config" \
			    2>>"$ss_log" &
		else
			env LD_PRELOAD="$(asan_first "$BUILD/pam_broker.so") libpam_wrapper.so" \
			    PAM_WRAPPER=1 ASAN_OPTIONS=detect_leaks=0 \
			    PAM_WRAPPER_SERVICE_DIR="$ss_pam" \
			    PAM_WRAPPER_DISABLE_DEEPBIND=1 \
			    "${SSHD:-/usr/sbin/sshd}" -D -e \
			    -f "$T/${ss_name}_config" 2>>"$ss_log" &
		fi
		SSHD_PID=$!
		ss_up="Server listening on 127.0.0.1 port $SSHD_PORT"
		ss_i=0
		while [ $ss_i -lt 100 ] && kill -0 "$SSHD_PID" 2>/dev/null &&
		    ! grep -q "$ss_up" "$ss_log"; do
			sleep 0.1; ss_i=$((ss_i + 1))
		done
		if grep -q "$ss_up" "$ss_log"; then
			SSHD_PIDS="$SSHD_PIDS $SSHD_PID"
			return 0
		fi
		kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null
		ss_try=$((ss_try + 1))
	done
	tail -5 "$ss_log" | sed 's/^/#   sshd: /'
	not_ok "sshd ($ss_name) starts"
	return 1
}
# sshd_stop [PID]: stop the sshd PID, or every one sshd_start started.
sshd_stop() {
	if [ $# -gt 0 ]; then
		kill "$1" 2>/dev/null
		SSHD_PIDS=$(echo "$SSHD_PIDS" | tr ' ' '\n' | grep -vx "$1" |
		    tr '\n' ' ')
		return 0
	fi
	for ss_p in $SSHD_PIDS; do kill "$ss_p" 2>/dev/null; done
	SSHD_PIDS=
}

finish() {
	exit $FAILED
}

#!/bin/sh
# Running it like real infrastructure: `make install` puts exactly the
# expected files under DESTDIR, deploy/install.sh sets up a system image
# idempotently, the systemd units verify, the shipped config starts, and
# brokerd tells systemd READY=1 only once its socket answers.
BUILD_ARG=${BUILD:-build}	# as make knows it (lib.sh makes it absolute)
. "$(dirname "$0")/lib.sh"

case $BUILD_ARG in "$ROOT"/*) BUILD_ARG=${BUILD_ARG#"$ROOT"/} ;; esac
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

# make_install DESTDIR PREFIX: the Makefile's install target, or, until the
# Makefile includes deploy/install.mk, a scratch copy of it that does.  -o
# all: never rebuild here (other tests are running on these binaries).
make_install() {
	mk=$ROOT/Makefile
	if ! grep -q '^include deploy/install.mk' "$mk"; then
		sed '/^install:/,/^$/d' "$mk" >"$T/Makefile"
		echo 'include deploy/install.mk' >>"$T/Makefile"
		mk=$T/Makefile
	fi
	make -s -C "$ROOT" -f "$mk" -o all install BUILD="$BUILD_ARG" \
	    DESTDIR="$1" PREFIX="$2" >"$T/make.out" 2>&1
}

# ---- make install ----------------------------------------------------------
if make_install "$T/root" /usr; then ok "make install DESTDIR PREFIX=/usr"
else not_ok "make install DESTDIR PREFIX=/usr"; sed 's/^/#   /' "$T/make.out"; fi
if grep -qi 'warning' "$T/make.out"; then
	not_ok "make install is warning-free"; sed 's/^/#   /' "$T/make.out"
else ok "make install is warning-free"; fi

expected() {	# expected PREFIX: "mode path" lines, sorted
	p=${1#/}
	{
		echo "755 $p/sbin/brokerd"
		echo "755 $p/bin/broker"
		echo "644 usr/lib/$MULTIARCH/security/pam_broker.so"
		echo "644 $p/share/man/man1/broker.1"
		echo "644 $p/share/man/man5/broker-policy.5"
		echo "644 $p/share/man/man8/brokerd.8"
		echo "644 $p/share/man/man8/pam_broker.8"
		echo "644 $p/share/bash-completion/completions/broker"
		e=$p/share/broker/examples
		echo "644 $e/brokerd.json"
		echo "755 $e/install.sh"
		for f in "$ROOT"/policy/examples/*.json; do
			echo "644 $e/policy/${f##*/}"
		done
		for f in "$ROOT"/deploy/systemd/*.service "$ROOT"/deploy/systemd/*.timer; do
			echo "644 $e/systemd/${f##*/}"
		done
		echo "644 $e/pam.d/broker-sshd"
		echo "644 $e/sshd_config.d/broker.conf"
		# the hooks where docs/notifications.md names them; fails
		# without install.mk's HOOKDIR lines (checked)
		for f in "$ROOT"/deploy/hooks/*.sh; do
			echo "755 $p/lib/broker/hooks/${f##*/}"
		done
	} | sort
}
installed() {	# installed DIR: "mode path" lines of files and links, sorted
	(cd "$1" && find . \( -type f -o -type l \) -printf '%m %P\n' | sort)
}
expected /usr >"$T/want"
installed "$T/root" >"$T/got"
if cmp -s "$T/want" "$T/got"; then ok "exactly the expected files, with their modes"
else
	not_ok "exactly the expected files, with their modes"
	diff "$T/want" "$T/got" | sed 's/^/#   /'
fi
if cmp -s "$BUILD/brokerd" "$T/root/usr/sbin/brokerd" &&
    cmp -s "$BUILD/broker" "$T/root/usr/bin/broker" &&
    cmp -s "$BUILD/pam_broker.so" "$T/root/usr/lib/$MULTIARCH/security/pam_broker.so"
then ok "installed programs are the built ones"
else not_ok "installed programs are the built ones"; fi

if make_install "$T/local" /usr/local; then
	expected /usr/local >"$T/want"
	installed "$T/local" >"$T/got"
	if cmp -s "$T/want" "$T/got"; then ok "PREFIX=/usr/local honoured (PAM module stays in the PAM directory)"
	else not_ok "PREFIX=/usr/local honoured"; diff "$T/want" "$T/got" | sed 's/^/#   /'; fi
else not_ok "make install PREFIX=/usr/local"; sed 's/^/#   /' "$T/make.out"; fi

# ---- deploy/install.sh on a system image -----------------------------------
# --root keeps it off this machine: users go into the image's /etc/passwd.
if [ "$(id -u)" -ne 0 ]; then
	skip "install.sh: needs root to chown (running as $(id -un))"
elif ! command -v useradd >/dev/null; then
	skip "install.sh: no useradd here"
else
	mkdir -p "$T/root/etc"
	for f in passwd group shadow gshadow login.defs; do
		if [ -f /etc/$f ]; then cp -p /etc/$f "$T/root/etc/$f"; fi
	done
	# a stale image copy must not already know the user
	sed -i '/^broker:/d' "$T/root/etc/passwd" "$T/root/etc/group" \
	    "$T/root/etc/shadow" "$T/root/etc/gshadow" 2>/dev/null
	expect 0 "install.sh sets up the image" sh "$ROOT/deploy/install.sh" --root "$T/root" --prefix /usr
	contains "install.sh created the user" "created user broker" "$OUT"
	uid=$(awk -F: '$1 == "broker" { print $3 }' "$T/root/etc/passwd")
	gid=$(awk -F: '$1 == "broker" { print $3 }' "$T/root/etc/group")
	home=$(awk -F: '$1 == "broker" { print $6 }' "$T/root/etc/passwd")
	equals "broker's home is the state directory" /var/lib/broker "$home"
	equals "state dir 0700 broker" "700 $uid:$gid" \
	    "$(stat -c '%a %u:%g' "$T/root/var/lib/broker" 2>&1)"
	equals "/etc/broker 0750 root:broker" "750 0:$gid" \
	    "$(stat -c '%a %u:%g' "$T/root/etc/broker" 2>&1)"
	for f in brokerd.json policy.json; do
		equals "/etc/broker/$f 0640 root:broker" "640 0:$gid" \
		    "$(stat -c '%a %u:%g' "$T/root/etc/broker/$f" 2>&1)"
	done
	expect 0 "the installed policy.json is valid" B policy check "$T/root/etc/broker/policy.json"
	if [ -f "$T/root/etc/systemd/system/brokerd.service" ]; then ok "unit installed"
	else not_ok "unit installed"; fi
	if ! command -v systemctl >/dev/null; then
		skip "brokerd.service enabled: no systemctl (deploy/deps.sh installs systemd)"
	elif [ -L "$T/root/etc/systemd/system/multi-user.target.wants/brokerd.service" ]
	then ok "brokerd.service enabled"; else not_ok "brokerd.service enabled"; fi
	echo '{"version": 1, "rules": []}' >"$T/root/etc/broker/policy.json"
	(cd "$T/root" && find . -path ./usr -prune -o -printf '%m %u %g %p %l\n' |
	    sort; cat etc/broker/*.json etc/systemd/system/*.service etc/systemd/system/*.timer) >"$T/before"
	expect 0 "install.sh again" sh "$ROOT/deploy/install.sh" --root "$T/root" --prefix /usr
	lacks "the second run creates nothing" "created" "$OUT"
	lacks "the second run installs nothing" "installed" "$OUT"
	(cd "$T/root" && find . -path ./usr -prune -o -printf '%m %u %g %p %l\n' |
	    sort; cat etc/broker/*.json etc/systemd/system/*.service etc/systemd/system/*.timer) >"$T/after"
	if cmp -s "$T/before" "$T/after"; then ok "install.sh is idempotent and keeps an edited policy"
	else not_ok "install.sh is idempotent"; diff "$T/before" "$T/after" | sed 's/^/#   /'; fi
	cp -a "$T/local/usr/local" "$T/root/usr/"
	expect 0 "install.sh with another PREFIX" sh "$ROOT/deploy/install.sh" --root "$T/root" --prefix /usr/local --no-enable
	contains "ExecStart follows PREFIX" "ExecStart=/usr/local/sbin/brokerd -c" \
	    "$(cat "$T/root/etc/systemd/system/brokerd.service")"
fi

# ---- systemd units -----------------------------------------------------------
# Verified as install.sh writes them, with ExecStart pointing at the binary
# installed above (verify insists that it exists) and the man pages of
# Documentation= found in DESTDIR.
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T/units"
	for f in "$T"/root/usr/share/broker/examples/systemd/*; do
		sed "s#/usr/sbin/brokerd#$T/root/usr/sbin/brokerd#" "$f" >"$T/units/${f##*/}"
	done
	if (cd "$T" && MANPATH=$T/root/usr/share/man:$(manpath 2>/dev/null) \
	    systemd-analyze verify "$T"/units/* >"$T/verify.out" 2>&1) &&
	    ! [ -s "$T/verify.out" ]; then
		ok "systemd-analyze verify: every unit"
	else
		not_ok "systemd-analyze verify: every unit"; sed 's/^/#   /' "$T/verify.out"
	fi
	# shellcheck disable=SC2016 # $MAINPID is literal text
	for k in "Type=notify" "User=broker" "NoNewPrivileges=yes" "ProtectSystem=strict" \
	    "ProtectHome=yes" "PrivateTmp=yes" "ReadWritePaths=/var/lib/broker" \
	    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" \
	    "SystemCallFilter=@system-service" "CapabilityBoundingSet=" \
	    "RuntimeDirectory=broker" "RuntimeDirectoryMode=0755" "UMask=0077" \
	    'ExecReload=/bin/kill -HUP $MAINPID'; do
		if grep -qxF "$k" "$ROOT/deploy/systemd/brokerd.service"; then
			ok "brokerd.service has $k"
		else not_ok "brokerd.service has $k"; fi
	done
	score=$(cd "$T" && systemd-analyze security --offline=yes "$T/units/brokerd.service" 2>/dev/null |
	    sed -n 's/.*Overall exposure level for brokerd.service: \([0-9.]*\).*/\1/p')
	case $score in
	"") skip "systemd-analyze security: no offline mode in this systemd" ;;
	0.* | 1.*) ok "systemd-analyze security rates brokerd.service $score" ;;
	*) not_ok "systemd-analyze security rates brokerd.service $score (want < 2)" ;;
	esac
else
	skip "systemd-analyze is not installed (deploy/deps.sh installs systemd)"
fi

# ---- the shipped config starts, and READY=1 comes once the socket answers --
sed -e "s#/var/lib/broker#$T/state#" -e "s#/run/broker/broker.sock#$T/s/broker.sock#" \
    -e "s#/etc/broker/policy.json#$ROOT/policy/examples/production.json#" \
    "$ROOT/deploy/brokerd.json" >"$T/brokerd.json"
mkdir -m 0700 "$T/state"
mkdir -m 0755 "$T/s"

# ready_test NOTIFY_ADDR DESCRIPTION
ready_test() {
	: >"$T/nl.out"
	"$TOOLS/notifylisten" -c "$T/s/broker.sock" -t 30 "$1" -- \
	    "$BROKERD" -c "$T/brokerd.json" >"$T/nl.out" 2>"$T/nl.err" &
	nlpid=$!
	i=0
	while [ $i -lt 200 ] && ! grep -q '^msg: READY=1' "$T/nl.out"; do
		sleep 0.05; i=$((i + 1))
	done
	contains "$2: READY=1 arrives" "msg: READY=1" "$(cat "$T/nl.out")"
	equals "$2: the socket answers when READY=1 arrives" "connect ok" \
	    "$(sed -n '/^msg: READY=1/{n;p;}' "$T/nl.out")"
	expect 0 "$2: the broker answers" B --socket "$T/s/broker.sock" status
	pid=$(sed -n 's/^pid //p' "$T/nl.out")
	[ -n "$pid" ] && kill -TERM "$pid"
	wait "$nlpid"
	contains "$2: STOPPING=1 on SIGTERM" "msg: STOPPING=1" "$(cat "$T/nl.out")"
	contains "$2: clean exit" "exit 0" "$(cat "$T/nl.out")"
	equals "$2: READY=1 exactly once" 1 "$(grep -c '^msg: READY=1' "$T/nl.out")"
}
ready_test "$T/notify.sock" "path NOTIFY_SOCKET"
ready_test "@brokertest-notify-$$-$(basename "$T")" "abstract NOTIFY_SOCKET"

# A NOTIFY_SOCKET that is no address is logged, and the broker still runs.
NOTIFY_SOCKET=relative/path "$BROKERD" -c "$T/brokerd.json" >"$T/bad.log" 2>&1 &
bpid=$!
i=0
while [ $i -lt 100 ] && ! B --socket "$T/s/broker.sock" status >/dev/null 2>&1; do
	sleep 0.05; i=$((i + 1))
done
expect 0 "a bad NOTIFY_SOCKET does not stop the broker" B --socket "$T/s/broker.sock" status
kill -TERM $bpid; wait $bpid
contains "a bad NOTIFY_SOCKET is logged" "event=sd_notify_failed" "$(cat "$T/bad.log")"

# ---- bash completion -----------------------------------------------------------
if command -v bash >/dev/null; then
	comp() {	# comp WORDS...: the completions of the last word
		bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		    _broker 2>/dev/null; echo "${COMPREPLY[*]}"' _ \
		    "$ROOT/deploy/bash-completion/broker" "$@"
	}
	contains "completion: commands" "request" "$(comp broker re)"
	contains "completion: commands after global options" "optout" "$(comp broker --json --as alice o)"
	contains "completion: options per command" "--break-glass" "$(comp broker request host:x --b)"
	contains "completion: policy subcommands" "explain" "$(comp broker policy e)"
	contains "completion: files for policy check" "production.json" \
	    "$(comp broker policy check "$ROOT/policy/examples/pro")"
	contains "completion: files for --pubkey" "production.json" \
	    "$(comp broker cert r1 --pubkey "$ROOT/policy/examples/pro")"
	contains "completion: states" "revoked" "$(comp broker list --state r)"
	contains "completion: audit prune confirm" "confirm" "$(comp broker audit prune c)"
	contains "completion: audit prune --before" "--before" "$(comp broker audit prune --b)"
	# every command of `broker --help` is offered
	for c in $("$BROKER" --help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
		contains "completion offers $c" "$c" "$(comp broker "$c")"
	done
else
	ok "bash absent: completion not tested"
fi

finish

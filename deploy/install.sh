#!/bin/sh
# install.sh - set up this host to run brokerd, after `make install`.
#
#   sudo sh deploy/install.sh [--prefix DIR] [--root DIR] [--no-enable]
#
# Creates the "broker" system user and group, the state directory
# /var/lib/broker (0700, broker), /etc/broker (0750, root:broker) with
# brokerd.json and policy.json copied from the installed examples when they
# are missing, installs the systemd units into /etc/systemd/system and
# enables brokerd.service when systemd is present.  It never overwrites a
# configuration file and never starts the daemon: edit the policy first,
# then `systemctl start brokerd`.  Running it again changes nothing that is
# already right, so it is also the upgrade step.
#
#   --prefix DIR  where `make install` put things (default: /usr/local if
#                 /usr/local/sbin/brokerd exists, else /usr)
#   --root DIR    act on the system image under DIR (users are created with
#                 useradd --prefix, units enabled with systemctl --root);
#                 for image builds and tests
#   --no-enable   install the units but do not enable them
set -eu

PREFIX=
ROOT=
ENABLE=yes
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
	--root) ROOT=${2:?--root needs a directory}; shift 2 ;;
	--no-enable) ENABLE=no; shift ;;
	-h | --help) sed -n '2,22s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
done
case $ROOT in "" | /*) ;; *) ROOT=$(cd "$ROOT" && pwd) ;; esac
if [ -z "$PREFIX" ]; then
	if [ -x "$ROOT/usr/local/sbin/brokerd" ]; then PREFIX=/usr/local
	else PREFIX=/usr
	fi
fi
EXAMPLES=$ROOT$PREFIX/share/broker/examples
USER_NAME=broker
STATE=/var/lib/broker
ETC=/etc/broker
UNITDIR=/etc/systemd/system

say() { echo "install.sh: $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root"
[ -x "$ROOT$PREFIX/sbin/brokerd" ] ||
	die "$ROOT$PREFIX/sbin/brokerd is missing: run make install (PREFIX=$PREFIX) first"
[ -f "$EXAMPLES/brokerd.json" ] || die "$EXAMPLES is missing: run make install first"

# --- the user and group -------------------------------------------------
# With --root, look into the image's own files, not this host's NSS.
lookup() {	# lookup passwd|group NAME -> the id, or nothing
	if [ -n "$ROOT" ]; then
		awk -F: -v n="$2" '$1 == n { print $3 }' "$ROOT/etc/$1" 2>/dev/null
	else
		getent "$1" "$2" | cut -d: -f3
	fi
}
pfx() { if [ -n "$ROOT" ]; then echo "--prefix $ROOT"; fi; }

if [ -z "$(lookup group $USER_NAME)" ]; then
	# shellcheck disable=SC2046
	groupadd --system $(pfx) "$USER_NAME"
	say "created group $USER_NAME"
fi
if [ -z "$(lookup passwd $USER_NAME)" ]; then
	nologin=/usr/sbin/nologin
	[ -x "$ROOT$nologin" ] || nologin=/bin/false
	# shellcheck disable=SC2046
	useradd --system $(pfx) --gid "$USER_NAME" --home-dir "$STATE" \
	    --no-create-home --shell "$nologin" \
	    --comment "access-request broker" "$USER_NAME"
	say "created user $USER_NAME"
fi
uid=$(lookup passwd $USER_NAME)
gid=$(lookup group $USER_NAME)
if [ -z "$uid" ] || [ -z "$gid" ]; then die "cannot find user/group $USER_NAME"; fi

# --- directories ----------------------------------------------------------
# dir PATH MODE UID GID: create, or fix the mode and owner of, one directory
# (never recursively: a CA key of the wrong owner must stay an error).
dir() {
	if [ -L "$ROOT$1" ]; then die "$ROOT$1 is a symbolic link; refusing"; fi
	if [ ! -d "$ROOT$1" ]; then
		mkdir -p "$ROOT$1"
		say "created $1"
	fi
	chown "$3:$4" "$ROOT$1"
	chmod "$2" "$ROOT$1"
}
dir "$STATE" 0700 "$uid" "$gid"
dir "$ETC" 0750 0 "$gid"

# conf NAME SOURCE: copy an example into /etc/broker unless one is there.
conf() {
	if [ -e "$ROOT$ETC/$1" ]; then
		say "kept $ETC/$1"
		return 0
	fi
	cp "$2" "$ROOT$ETC/$1.new"
	chown "0:$gid" "$ROOT$ETC/$1.new"
	chmod 0640 "$ROOT$ETC/$1.new"
	mv "$ROOT$ETC/$1.new" "$ROOT$ETC/$1"
	say "installed $ETC/$1 (from $2; edit it)"
}
conf brokerd.json "$EXAMPLES/brokerd.json"
conf policy.json "$EXAMPLES/policy/production.json"

# --- systemd ----------------------------------------------------------------
# Units are ours: they are replaced when they differ (local changes belong
# in drop-ins, `systemctl edit brokerd`).  ExecStart follows PREFIX.
mkdir -p "$ROOT$UNITDIR"
changed=no
for src in "$EXAMPLES"/systemd/*.service "$EXAMPLES"/systemd/*.timer; do
	[ -f "$src" ] || continue
	name=${src##*/}
	sed "s#/usr/sbin/brokerd#$PREFIX/sbin/brokerd#" "$src" >"$ROOT$UNITDIR/$name.new"
	chmod 0644 "$ROOT$UNITDIR/$name.new"
	if cmp -s "$ROOT$UNITDIR/$name.new" "$ROOT$UNITDIR/$name"; then
		rm -f "$ROOT$UNITDIR/$name.new"
	else
		mv "$ROOT$UNITDIR/$name.new" "$ROOT$UNITDIR/$name"
		say "installed $UNITDIR/$name"
		changed=yes
	fi
done

if ! command -v systemctl >/dev/null 2>&1; then
	say "systemctl not found: start $PREFIX/sbin/brokerd -c $ETC/brokerd.json as $USER_NAME yourself"
elif [ -n "$ROOT" ]; then
	if [ "$ENABLE" = yes ] &&
	    ! systemctl --root="$ROOT" is-enabled --quiet brokerd.service 2>/dev/null; then
		systemctl --root="$ROOT" enable brokerd.service >/dev/null 2>&1 ||
			die "systemctl --root=$ROOT enable brokerd.service failed"
		say "enabled brokerd.service in $ROOT"
	fi
elif [ -d /run/systemd/system ]; then
	if [ "$changed" = yes ]; then systemctl daemon-reload; fi
	if [ "$ENABLE" = yes ] && ! systemctl is-enabled --quiet brokerd.service; then
		systemctl enable brokerd.service
		say "enabled brokerd.service"
	fi
	if systemctl is-active --quiet brokerd.service && [ "$changed" = yes ]; then
		say "units changed: systemctl restart brokerd to use them"
	fi
else
	say "systemd is not running here: units installed, not enabled"
fi
say "done.  Next: edit $ETC/policy.json (broker policy check $ETC/policy.json), then systemctl start brokerd"

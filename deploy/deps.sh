#!/bin/sh
# Installs every Debian 12 package that building, testing and running the
# broker needs. Does nothing when they are all present. Run as root.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
      libssl-dev openssl liblmdb-dev lmdb-utils libjansson-dev
      libldap2-dev slapd ldap-utils libcurl4-openssl-dev
      libpam0g-dev pamtester libpam-wrapper libnss-wrapper
      libcriterion-dev openssh-server openssh-client valgrind mandoc
      cppcheck clang-tidy systemd libpq-dev postgresql jq
      libmicrohttpd-dev chromium python3-websockets gnuplot-nox"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# slapd must not start a system directory: tests run their own.
apt-get install -q -y --no-install-recommends $missing

#!/bin/sh
# The man pages: they lint clean (mandoc -Tlint, man --warnings), and they
# stay complete: every command and option the CLI offers, every config key
# brokerd parses, every PAM option and every policy key is documented.
. "$(dirname "$0")/lib.sh"

PAGES="broker.1 broker-policy.5 brokerd.8 pam_broker.8"
for p in $PAGES; do
	if [ -f "$ROOT/man/$p" ]; then ok "man/$p exists"; else not_ok "man/$p exists"; fi
done

# ---- lint ------------------------------------------------------------------
linted=no
if command -v mandoc >/dev/null 2>&1; then
	linted=yes
	# Cross-references resolve against this machine's man database, which
	# lacks our own pages (and perhaps ssh's); that is not the pages' fault.
	# shellcheck disable=SC2086 # PAGES is a list
	(cd "$ROOT/man" && mandoc -Tlint -W style $PAGES) 2>&1 |
	    grep -v 'referenced manual not found\|outdated mandoc.db' >"$T/lint"
	if [ -s "$T/lint" ]; then
		not_ok "mandoc -Tlint is clean"; sed 's/^/#   /' "$T/lint"
	else ok "mandoc -Tlint is clean"; fi
fi
if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
	linted=yes
	for p in $PAGES; do
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$ROOT/man/$p" \
		    >"$T/out" 2>"$T/warn"
		if [ -s "$T/warn" ] || ! [ -s "$T/out" ]; then
			not_ok "man --warnings -l $p is clean"; sed 's/^/#   /' "$T/warn"
		else ok "man --warnings -l $p is clean"; fi
	done
fi
if [ $linted = no ]; then
	skip "man page lint: neither mandoc nor man with groff is installed"
fi

# ---- completeness ------------------------------------------------------------
# has PAGE WORD...: each WORD appears as a macro argument (Cm/Fl/Ar ...) or
# in the text of man/PAGE.
has() {
	page=$1; shift
	for w in "$@"; do
		if grep -qE "(^|[ .])(Cm|Fl|Ql|Qq|Ar|Ev|Pa|Dv) ?$(printf '%s' "$w" |
		    sed 's/[.[\*^$]/\\&/g')([ ,;:=]|$)" "$ROOT/man/$page"; then
			ok "$page documents $w"
		else not_ok "$page documents $w"; fi
	done
}

# broker(1): the contract's commands, and whatever the CLI offers now.
has broker.1 request status list show cancel cert revoke pending approve deny \
    review optout freeze unfreeze flag check policy audit ca krl snapshot \
    metrics whoami
cmds=$("$BROKER" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$cmds" ] || not_ok "broker --help lists commands"
for c in $cmds; do
	has broker.1 "$c"
	# the options in the command's usage line: --name and -x
	opts=$("$BROKER" "$c" --help 2>/dev/null | sed -n '1p' |
	    grep -oE '(^| |\[|\|)--?[a-z][a-z-]*' | sed 's/^[ [|]*//' |
	    sed 's/^-//' | sort -u | grep -v '^-socket$\|^-as$\|^-json$')
	for o in $opts; do has broker.1 "$o"; done
done

# The CAVEATS sentence of broker(1) names what this version lacks; once the
# CLI has it, the sentence must go.
usage_of() { "$BROKER" "$1" --help 2>/dev/null | sed -n '1p'; }
# shellcheck disable=SC2013 # one line of words
for x in $(sed -n 's/^\.\\" not-implemented: //p' "$ROOT/man/broker.1"); do
	case $x in
	audit-query) if usage_of audit | grep -q -- '--since'; then now=yes; else now=no; fi ;;
	audit-export) if usage_of audit | grep -q 'export'; then now=yes; else now=no; fi ;;
	request--start) if usage_of request | grep -q -- '--start'; then now=yes; else now=no; fi ;;
	*) if echo "$cmds" | grep -qx "$x"; then now=yes; else now=no; fi ;;
	esac
	if [ $now = yes ]; then
		not_ok "broker.1 CAVEATS says $x is not implemented, but the CLI has it now"
	else ok "broker.1 CAVEATS: $x is indeed not implemented yet"; fi
done

# brokerd(8): every key the config parser knows.
keys=$(cat "$ROOT"/broker/daemon/config.c "$ROOT"/broker/daemon/net/tls.c \
    "$ROOT"/broker/daemon/identity/identity_ldap_config.c \
    "$ROOT"/broker/daemon/net/login.c 2>/dev/null |
    grep -oE 'strcmp\(key, "[a-z_]+"\)' | sed 's/.*"\(.*\)".*/\1/' | sort -u)
[ -n "$keys" ] || not_ok "config keys found in the sources"
# shellcheck disable=SC2086
has brokerd.8 $keys

# pam_broker(8): every option the module parses.
popts=$(grep -oE 'opt_value\(arg, "[a-z_]+"\)|^	\{ "[a-z_]+", offsetof|"debug"' \
    "$ROOT/pam/options.c" | sed 's/[^"]*"\([a-z_]*\)".*/\1/' | sort -u)
[ -n "$popts" ] || not_ok "PAM options found in the sources"
# shellcheck disable=SC2086
has pam_broker.8 $popts

# broker-policy(5): every key of the policy format (the allowed-key tables
# and the role names in policy/).
pkeys=$(sed -n '/static const char \*const [a-z_]*\[[A-Z_]*\] = {/,/};/p' \
    "$ROOT"/policy/parse.c "$ROOT"/policy/rules.c "$ROOT"/policy/roles.c |
    grep -oE '"[A-Za-z0-9_-]+"' | tr -d '"' | sort -u)
[ -n "$pkeys" ] || not_ok "policy keys found in the sources"
# shellcheck disable=SC2086
has broker-policy.5 $pkeys

finish

#!/bin/sh
# Identity from NSS: users and groups that exist only in NSS (through
# nss_wrapper), group-based decisions, and names the broker refuses.
# Groups are known whole or not at all: a user in more groups than the
# broker tracks is refused, and a group whose entry needs a bigger buffer
# than the first try (ERANGE) is read whole, not skipped.
. "$(dirname "$0")/lib.sh"
WRAP=$(for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
	[ -e "$d/libnss_wrapper.so" ] && echo "$d/libnss_wrapper.so" && break; done)
if [ -z "$WRAP" ]; then not_ok "libnss_wrapper is installed"; finish; fi
cat >"$T/passwd" <<P
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
zoe:x:5001:5001:Zoe:/home/zoe:/bin/sh
yann:x:5002:5002:Yann:/home/yann:/bin/sh
Upper:x:5003:5003:Upper:/home/upper:/bin/sh
many:x:5004:5004:Many:/home/many:/bin/sh
wide:x:5005:5005:Wide:/home/wide:/bin/sh
P
cat >"$T/group" <<G
root:x:0:
nogroup:x:65534:
zoe:x:5001:
yann:x:5002:
dev:x:6001:zoe,many,wide
dba-leads:x:6002:yann
bad group:x:6003:zoe
many:x:5004:
wide:x:5005:
G
# many is in 300 more groups, then in contractors: past IDENT_MAX_GROUPS
# (256), where the broker used to stop reading
i=1
while [ $i -le 300 ]; do echo "filler$i:x:$((7000 + i)):many"; i=$((i + 1)); done >>"$T/group"
# contractors holds 4000 members: its entry is over 16 KiB, more than the
# broker's first buffer, so reading it takes an ERANGE retry
{
	printf 'contractors:x:6999:many,wide'
	i=0
	while [ $i -lt 4000 ]; do printf ',member%04d' $i; i=$((i + 1)); done
	printf '\n'
} >>"$T/group"
export NSS_WRAPPER_PASSWD=$T/passwd NSS_WRAPPER_GROUP=$T/group
ASAN_LIB=$(asan_first "$BROKERD")
BROKERD_WRAPPER="env LD_PRELOAD=${ASAN_LIB:+$ASAN_LIB:}$WRAP"
start_broker

expect 0 "an NSS-only user is known" B --as zoe whoami
contains "groups come from NSS" "dev" "$OUT"
contains "source is nss" "nss" "$OUT"
lacks "non-canonical group names are dropped" "bad group" "$OUT"
expect 0 "an NSS group grants automatically" B --as zoe request host:web-1
expect 3 "yann's request for prod is pending" B --as yann request host:db-prod-1 --role postgres --reason x
expect 4 "yann has no dev group: no auto rule" B --as yann request host:web-1
expect 2 "a user name with uppercase is refused" B --as Upper whoami
expect 4 "a user NSS does not know is refused" B --as ghost whoami

# The dev policy denies contractors anything in prod (no-contractors-prod)
# and lets dev ask for host:db-prod-1 with break-glass.  A contractors
# membership the broker fails to see turns that deny into a grant.
# Fails when identity.c cuts the list at IDENT_MAX_GROUPS again (keep what
# fit) or skips a group getgrgid_r answers ERANGE for: checked by running
# this file against the code before the fix (both break-glass requests
# were granted, exit 0).
expect 0 "many: whoami still answers" B --as many whoami
contains "whoami says the groups are unknown" "groups unknown: more groups than the broker tracks" "$OUT"
expect 0 "whoami --json: groups_complete is false" B --json --as many whoami
contains "whoami --json carries the flag" '"groups_complete": false' "$OUT"
expect 4 "over 256 groups: break-glass is refused, not granted" \
    B --as many request host:db-prod-1 --role postgres --reason x --break-glass
contains "the refusal says why" "many: groups unknown: more groups than the broker tracks" "$ERR"
expect 4 "over 256 groups: a plain request is refused too" B --as many request host:web-1
contains "... with the reason" "groups unknown" "$ERR"
expect 4 "policy explain shows the reason (exit 4: refused)" B --as many policy explain --resource host:web-1
contains "explain: deny, groups unknown" "deny: many: groups unknown" "$OUT"
expect 0 "wide: a group entry over 16 KiB is read whole" B --as wide whoami
contains "wide is in contractors" "contractors" "$OUT"
lacks "wide's groups are known" "groups unknown" "$OUT"
expect 4 "wide: the contractors deny holds against break-glass" \
    B --as wide request host:db-prod-1 --role postgres --reason x --break-glass
contains "denied by the contractors rule" "no-contractors-prod" "$OUT$ERR"
expect 0 "zoe's groups are known" B --json --as zoe whoami
contains "zoe: groups_complete is true" '"groups_complete": true' "$OUT"
# NSS's answers are kept for 2 s (identity.c, NSS_KEEP_MS), whole ones
# only.  A group given in NSS shows within that window, and the deny keyed
# on it holds from then on.  Fails when answers outlive the window:
# checked with NSS_KEEP_MS at 60000 (contractors not seen in 10 s).
# nss_wrapper reads a file again when its inode changes: each edit is a
# new file moved over the old.
regroup() { sed "$1" "$T/group" >"$T/group.new" && mv "$T/group.new" "$T/group"; }
expect 0 "zoe: whoami (her answer is kept)" B --as zoe whoami
lacks "zoe is not in contractors" "contractors" "$OUT"
regroup 's/^contractors:x:6999:many,wide/contractors:x:6999:many,wide,zoe/'
i=0
until B --as zoe whoami >"$T/zoe.out" 2>&1 && grep -q contractors "$T/zoe.out" ||
    [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done
contains "a group given in NSS shows within the window" contractors "$(cat "$T/zoe.out")"
expect 4 "zoe: the contractors deny holds from then on" \
    B --as zoe request host:db-prod-1 --role postgres --reason x --break-glass
# An answer NSS could not give whole (many's 300 groups) is never kept:
# with the groups cut to what the broker tracks, the next call knows them.
# Fails when incomplete answers are kept too: checked (still "groups
# unknown" right after the edit).
expect 0 "many: groups unknown while in 300 groups" B --as many whoami
contains "... so whoami says" "groups unknown" "$OUT"
regroup '/^filler/d'
expect 0 "many: whoami right after the edit" B --as many whoami
lacks "many's groups are known at once (not kept while unknown)" "groups unknown" "$OUT"
finish

#!/bin/sh
# Identity from NSS: users and groups that exist only in NSS (through
# nss_wrapper), group-based decisions, and names the broker refuses.
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
P
cat >"$T/group" <<G
root:x:0:
nogroup:x:65534:
zoe:x:5001:
yann:x:5002:
dev:x:6001:zoe
dba-leads:x:6002:yann
bad group:x:6003:zoe
G
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
finish

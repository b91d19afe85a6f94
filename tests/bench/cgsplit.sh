#!/bin/sh
# tests/bench/cgsplit.sh GRANTS DAEMON_OUT [SIGNER_OUT] - instructions per
# grant from callgrind files (tests/bench/callgrind.sh calls it).
#
# Prints, per grant: the totals; the daemon's instructions by library (self
# cost: where the instructions run); and the stages of a grant (inclusive
# cost of the functions that make one up, so they overlap: the reply
# contains its JSON, the commit its LMDB).
set -u
G=$1
D=$2
S=${3:-}

# self cost by object file, per grant, read from the callgrind file itself:
# callgrind_annotate's self view counts a call into a function whose
# collection is toggled on as the caller's own cost.  A cost line after a
# calls= line is the call's inclusive cost: skipped.
bylib() {	# bylib FILE [fn]: by object, or by function
	awk -v g="$G" -v by_fn="${2:-}" '
	function name(k, s,   id) {	# "(n) name" or "(n)": name compression
		if (match(s, /^\([0-9]+\)/)) {
			id = k substr(s, 1, RLENGTH)
			if (length(s) > RLENGTH + 1)
				names[id] = substr(s, RLENGTH + 2)
			return names[id]
		}
		return s
	}
	/^ob=/ { ob = name("o", substr($0, 4)); obj = ob; next }
	/^cob=/ { name("o", substr($0, 5)); next }
	/^cfn=/ { name("f", substr($0, 5)); next }
	/^calls=/ { skip = 1; next }
	/^([+-]?[0-9]|\*)/ {
		if (skip) { skip = 0; next }
		if (NF >= 2) { o = obj; by[o] += $2; t += $2 }
		next
	}
	/^fn=/ { obj = ob; if (by_fn != "") obj = name("f", substr($0, 4)) " (" ob ")"; next }
	END {
		for (o in by) {
			n = o; sub(/\/.*\//, "", n); sub(/.*\//, "", n)
			sub(/\.so[.0-9]*\)?$/, by_fn != "" ? ")" : "", n)
			if (n == "") n = "(unknown)"
			printf "  %-44s %9.0f  %5.1f%%\n", n, by[o] / g, 100 * by[o] / t
		}
	}' "$1" | sort -t '%' -k1,1 | awk '{ print $(NF - 1), $0 }' |
	    sort -n -r | cut -d ' ' -f 2- | head -"${3:-12}"
}

total() {
	callgrind_annotate "$1" 2>/dev/null |
	    awk '/PROGRAM TOTALS/ { n = $1; gsub(",", "", n); print n; exit }'
}

DT=$(total "$D")
echo "== instructions per grant (callgrind, $G grants) =="
printf "  %-28s %9.0f\n" "daemon (brokerd)" "$(awk -v t="$DT" -v g="$G" 'BEGIN { print t / g }')"
if [ -n "$S" ]; then
	ST=$(total "$S")
	printf "  %-28s %9.0f\n" "CA signer process" "$(awk -v t="$ST" -v g="$G" 'BEGIN { print t / g }')"
fi
echo "== daemon, by library (self) =="
bylib "$D"
echo "== daemon, top functions (self) =="
bylib "$D" fn 16
if [ -n "$S" ]; then
	echo "== signer, by library (self) =="
	bylib "$S"
	echo "== signer, top functions (self) =="
	bylib "$S" fn 6
fi
echo "== daemon, by stage (inclusive; stages overlap) =="
callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$D" 2>/dev/null |
    awk -v g="$G" '
BEGIN {
	n = split("proto_parse_request:parse the request line|" \
	    "policy_evaluate:policy decision|" \
	    "op_request:the request op (parse args, decide, queue)|" \
	    "apply_create:the write (record, audit, cert audit)|" \
	    "reqstore_create:  store the record and its indexes|" \
	    "audit_append:  audit records (2 per grant)|" \
	    "cred_issue_certs:certificate (build, sign over IPC)|" \
	    "signer_sign_many:  signing round trip, daemon side|" \
	    "store_commit_ex:LMDB commit (group, synced)|" \
	    "reply_ok_text:the reply line, written as text|" \
	    "record_to_json:  the record as a tree (slow path)|" \
	    "dump_line:  a tree'"'"'s JSON text (slow path)|" \
	    "feed_main:audit feed thread (syslog mirror)|" \
	    "server_run:event loop (accept, read, write)", a, "|")
	for (i = 1; i <= n; i++) {
		split(a[i], kv, ":")
		want[kv[1]] = i; label[i] = kv[2]
	}
}
$1 ~ /^[0-9,]+$/ {
	f = $0
	sub(/ \[[^]]*\]$/, "", f)
	sub(/.*:/, "", f)
	if (f in want && !(f in seen)) {
		seen[f] = 1
		v = $1; gsub(",", "", v)
		cost[want[f]] = v
	}
}
END {
	for (i = 1; i <= n; i++)
		printf "  %-44s %9.0f\n", label[i], cost[i] / g
}'

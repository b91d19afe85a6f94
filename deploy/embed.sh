#!/bin/sh
# Usage: embed.sh OUT.c NAME FILE [NAME FILE ...]
# Writes a C file defining `const char NAME[]` with each FILE's bytes, so
# that brokerd --dev carries its example policy and identities inside.
set -eu
out=$1; shift
tmp=$out.tmp
: > "$tmp"
while [ $# -ge 2 ]; do
	printf 'extern const char %s[];\nconst char %s[] = {\n' "$1" "$1" >> "$tmp"
	od -An -v -tx1 "$2" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g' >> "$tmp"
	printf '0x00 };\n' >> "$tmp"
	shift 2
done
mv "$tmp" "$out"

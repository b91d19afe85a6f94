#!/bin/sh
# Fuzz regression: every input of every seed corpus (tests/fuzz/corpus/,
# which also keeps each input a fuzzer ever crashed on) runs once through
# its target under ASan and UBSan.  See tests/fuzz/regress.sh.
exec sh "$(dirname "$0")/../fuzz/regress.sh"

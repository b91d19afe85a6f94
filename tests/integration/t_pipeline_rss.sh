#!/bin/sh
# Input limits hold under pipelining: a complete request line followed by
# one that never ends must not let the connection's input buffer grow past
# the line cap.  The daemon answers the first line, refuses the endless
# one (too_big) and its peak RSS (VmHWM) grows by a few MiB at most while
# 256 MiB stream in.
# Fails when the reader keeps reading as long as the buffer holds a
# newline (the old on_readable()): checked against that code, whose peak
# grew by the whole stream (+255 MiB for 256 MiB; +0 MiB now).
. "$(dirname "$0")/lib.sh"
start_broker
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$BROKERD_PID/status"; }
expect 0 "warm up" B status
before=$(hwm)
run "$TOOLS/pipeflood" "$BROKER_SOCKET" 256
contains "all 256 MiB were taken" "sent=268435456" "$OUT"
contains "the first line answered, the endless one refused" "replies=2" "$OUT"
after=$(hwm)
grow=$(( (after - before) / 1024 ))
echo "# VmHWM before ${before} kB, after ${after} kB (+${grow} MiB)"
# a line cap of 64 KiB, two of them buffered: a few MiB covers allocator
# slack (and ASan's redzones and quarantine)
if [ "$grow" -lt 32 ]; then ok "peak RSS grew by ${grow} MiB (< 32)"
else not_ok "peak RSS grew by ${grow} MiB (< 32)"; fi
expect 0 "still serving" B status
finish

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
# ASan keeps freed memory in a quarantine (256 MB by default), which
# would be measured here as if the daemon held it: keep it small
if ldd "$BROKERD" | grep -q libasan; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
fi
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

# Back-pressure: two clients pipeline status requests for 5 s and read no
# reply.  Once a connection's unread replies pass 1 MiB it is not read
# until they drain, so they cannot pile up in the daemon.
# Fails when held_back() never holds back: checked, +47 MiB in 5 s (and
# growing with the time) against +4 MiB with it.
before=$(hwm)
run "$TOOLS/userflood" "$BROKER_SOCKET" 2 5 noread
after=$(hwm)
grow=$(( (after - before) / 1024 ))
echo "# $OUT; VmHWM before ${before} kB, after ${after} kB (+${grow} MiB)"
contains "the flood was taken" "open=2 " "$OUT"
# (ASan's allocator, redzones and shadow add some 30 MiB of their own)
lim=16; if ldd "$BROKERD" | grep -q libasan; then lim=64; fi
if [ "$grow" -lt $lim ]; then ok "unread replies held: peak RSS +${grow} MiB (< $lim)"
else not_ok "unread replies held: peak RSS +${grow} MiB (< $lim)"; fi
expect 0 "still serving after the flood" B status
finish

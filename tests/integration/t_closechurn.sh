#!/bin/sh
# Clients that hang up between their reply and the daemon's next event on
# the connection, thousands of times: the event loop must never use a
# connection it has already freed (it marks it closed and reaps it after
# the epoll batch).  Under `make check-asan` a use-after-free aborts
# brokerd, which then fails both checks below.
# Fails when conn_free() frees inside the batch again (as flush_out() once
# did on EPIPE): checked by running this test against that code under
# ASan, which reported heap-use-after-free in on_readable/flush_out.
. "$(dirname "$0")/lib.sh"
start_broker
run "$TOOLS/closechurn" "$BROKER_SOCKET" 1000 32
equals "closechurn: brokerd still answers after 32000 early hang-ups" \
    "rounds=1000 alive=yes" "$OUT"
expect 0 "status after the churn" B status
if grep -q "AddressSanitizer" "$T/brokerd.log"; then
	not_ok "no sanitizer report"
	grep -A12 "AddressSanitizer" "$T/brokerd.log" | sed 's/^/#   /' | head -30
else
	ok "no sanitizer report"
fi
stop_broker
finish

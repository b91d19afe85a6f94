# Build, test and run the access-request broker.
#   make run     install missing packages, build, start `brokerd --dev ./run`
#   make check   install missing packages, build, run every test
# Variants build into their own directory: make check-asan, make check-tsan.

PREFIX   ?= /usr/local
DESTDIR  ?=
MULTIARCH ?= $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
PAMDIR   ?= /usr/lib/$(MULTIARCH)/security
BUILD    ?= build
SAN      ?=
CC       ?= cc

PKGS      = lmdb jansson libcrypto libssl ldap pam criterion libcurl libpq libmicrohttpd
DEPS_OK  := $(shell pkg-config --exists $(PKGS) 2>/dev/null && command -v pamtester slapd >/dev/null && test -e /usr/sbin/sshd && echo yes)

OPT      ?= -O2
HARDEN    = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIC
WARN      = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
ifeq ($(SAN),asan)
  OPT     = -O1
  HARDEN  = -fPIC
  SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
UNIT_RUNNER = -lcriterion
ifeq ($(SAN),tsan)
  OPT     = -O1
  HARDEN  = -fPIC
  SANFLAGS = -fsanitize=thread -fno-omit-frame-pointer
  # Criterion cannot start under TSan; the unit tests are built against
  # a small runner with the same API (tests/unit/tsan/criterion/criterion.h),
  # included as a system header as Criterion's own is, so that the tests'
  # assertion macros expand with the same warnings (-Wsign-compare is not
  # raised inside a system header's macro)
  UNIT_RUNNER = -isystem tests/unit/tsan
endif

VERSION   = 0.3.0
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   += -std=gnu11 -D_GNU_SOURCE -g $(OPT) $(WARN) $(HARDEN) $(SANFLAGS) $(PKG_CFLAGS) \
            -DBROKER_VERSION='"$(VERSION)"' -MMD -MP
# Include paths per library, so that the layering is the compiler's to
# enforce: libpolicy sees only itself, libbrk itself and the policy headers,
# the CLI and PAM module those two; only the daemon (and the tests and tools
# that link it) see broker/daemon's folders.
DAEMON_DIRS := broker/daemon $(sort $(patsubst %/,%,$(dir $(wildcard broker/daemon/*/*.h))))
INC_POLICY = -Ibroker/lib -Ipolicy
INC_LIB    = -Ibroker/lib
INC_CLIENT = -Ibroker/lib -Ipolicy
INC_DAEMON = -Ibroker/lib -Ipolicy $(addprefix -I,$(DAEMON_DIRS))
LDHARDEN  = -Wl,-z,relro,-z,now
EXE_LDFLAGS = -pie $(LDHARDEN) $(SANFLAGS)
LIBS_DAEMON = -llmdb -ljansson -lcrypto -lssl -lldap -llber -lcurl -lpq -lpam -lmicrohttpd -lpthread
LIBS_CLI    = -ljansson -lcrypto -lssl -lpthread
LIBS_PAM    = -lpam -ljansson -lcrypto -lssl

POLICY_SRC = $(wildcard policy/*.c)
LIB_SRC    = $(wildcard broker/lib/*.c)
DAEMON_SRC = $(filter-out broker/daemon/main.c,$(wildcard broker/daemon/*.c broker/daemon/*/*.c))
CLI_SRC    = $(wildcard broker/cli/*.c)
PAM_SRC    = $(wildcard pam/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
SHIM_SRC   = tests/tools/plshim.c
TOOL_SRC   = $(filter-out $(SHIM_SRC),$(wildcard tests/tools/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBPOLICY = $(BUILD)/libpolicy.a
LIBBRK    = $(BUILD)/libbrk.a
LIBDAEMON = $(BUILD)/libbrokerd.a
BROKERD   = $(BUILD)/brokerd
BROKER    = $(BUILD)/broker
PAMMOD    = $(BUILD)/pam_broker.so
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_BINS = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
SHIM      = $(BUILD)/tools/plshim.so

.PHONY: all deps run check unit check-unit check-integration check-pg check-asan check-tsan \
        install clean bench bench-curves fuzz lint fmt fmt-check

all: $(BROKERD) $(BROKER) $(if $(PAM_SRC),$(PAMMOD)) $(TOOL_BINS) $(SHIM)

deps:
ifneq ($(DEPS_OK),yes)
	sh deploy/deps.sh
endif

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(INC) -c -o $@ $<

$(call obj,$(POLICY_SRC)): INC = $(INC_POLICY)
$(call obj,$(LIB_SRC)): INC = $(INC_LIB)
$(call obj,$(CLI_SRC) $(PAM_SRC)): INC = $(INC_CLIENT)
$(call obj,$(DAEMON_SRC) broker/daemon/main.c): INC = $(INC_DAEMON)

$(LIBPOLICY): $(call obj,$(POLICY_SRC))
	ar rcs $@ $^
$(LIBBRK): $(call obj,$(LIB_SRC))
	ar rcs $@ $^
$(LIBDAEMON): $(call obj,$(DAEMON_SRC))
	ar rcs $@ $^

$(BUILD)/gen/embedded.c: policy/examples/dev.json deploy/dev.json deploy/embed.sh
	@mkdir -p $(dir $@)
	sh deploy/embed.sh $@ dev_policy_json policy/examples/dev.json dev_groups_json deploy/dev.json
$(BUILD)/gen/embedded.o: $(BUILD)/gen/embedded.c
	$(CC) $(CFLAGS) $(INC_DAEMON) -c -o $@ $<

$(BROKERD): $(call obj,broker/daemon/main.c) $(BUILD)/gen/embedded.o $(LIBDAEMON) $(LIBPOLICY) $(LIBBRK)
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(LIBS_DAEMON)
$(BROKER): $(call obj,$(CLI_SRC)) $(LIBPOLICY) $(LIBBRK)
	$(CC) $(EXE_LDFLAGS) -o $@ $^ $(LIBS_CLI)
$(PAMMOD): $(call obj,$(PAM_SRC)) $(LIBBRK)
	$(CC) -shared $(LDHARDEN) $(SANFLAGS) -Wl,--version-script=pam/exports.map -o $@ $^ $(LIBS_PAM)
$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/gen/embedded.o $(LIBDAEMON) $(LIBPOLICY) $(LIBBRK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_DAEMON) $(EXE_LDFLAGS) -o $@ $(filter-out %.h,$^) $(UNIT_RUNNER) $(LIBS_DAEMON)
$(BUILD)/tools/%: tests/tools/%.c $(LIBDAEMON) $(LIBPOLICY) $(LIBBRK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_DAEMON) $(EXE_LDFLAGS) -o $@ $^ $(LIBS_DAEMON)

# The power-loss shim (t_powerloss.sh) is preloaded into brokerd: a shared
# object of its own, never sanitized (an ASan brokerd loads the runtime first).
$(SHIM): $(SHIM_SRC) tests/tools/plshim.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE -g -O2 $(WARN) -fPIC -shared -o $@ $< -ldl -lpthread

run: deps
	$(MAKE) all
	$(BROKERD) --dev ./run

check: deps
	$(MAKE) all unit
	BUILD=$(BUILD) EXCLUDE="$(EXCLUDE)" sh tests/run.sh

unit: $(UNIT_BINS)

check-unit: deps
	$(MAKE) unit
	BUILD=$(BUILD) TESTS=test_ sh tests/run.sh

check-integration: deps
	$(MAKE) all
	BUILD=$(BUILD) TESTS=t_ sh tests/run.sh

# The integration suite with store.backend postgres: each test starts its
# own private PostgreSQL (tests/integration/lib.sh, pg_start).  Left out:
# t_powerloss, t_audit and t_faults work on the LMDB file itself (its
# syncs, tampering with it, a full map); t_uidshare's latency bounds are
# for LMDB (docs/scaling.md).
PG_EXCLUDE = t_powerloss t_audit t_faults t_uidshare
check-pg: deps
	$(MAKE) all
	BUILD=$(BUILD) TESTS=t_ BROKER_TEST_BACKEND=postgres \
	    EXCLUDE="$(PG_EXCLUDE)" sh tests/run.sh

# Every test under AddressSanitizer and UBSan, but the CLI's valgrind run
# (valgrind and ASan cannot share a process).
check-asan: deps
	$(MAKE) BUILD=build/asan SAN=asan EXCLUDE=t_cli_valgrind check

# ThreadSanitizer on every test that starts threads: the unit tests (built
# against tests/unit/tsan's runner) and every integration test, since each
# starts brokerd; a race aborts the process.  Left out, because a program
# we do not build trips TSan: t_nss, t_pam, t_login and t_web (nss_wrapper's and
# pam_wrapper's preloads), t_ssh, t_sessions and t_e2e (sshd loading a
# TSan-built PAM module: "cannot allocate memory in static TLS block"),
# t_snapshot_agree (pamtester loading a TSan-built PAM module: "Module is
# unknown"), and t_cli_valgrind (valgrind).
TSAN_EXCLUDE = t_cli_valgrind t_e2e t_login t_nss t_pam t_sessions \
	t_snapshot_agree t_ssh t_web
check-tsan: deps
	$(MAKE) BUILD=build/tsan SAN=tsan all unit
	BUILD=build/tsan EXCLUDE="$(TSAN_EXCLUDE)" \
	    TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
	    sh tests/run.sh

# The benchmark (tests/bench/run.sh), fuzzing (tests/fuzz/run.sh) and static
# checks (tests/lint.sh) are scripts so that they can build what they need
# with their own flags.
bench: deps
	sh tests/bench/run.sh
bench-curves: deps
	sh tests/bench/curves.sh

fuzz: deps
	sh tests/fuzz/run.sh

lint: deps
	sh tests/lint.sh

# The project's sources and headers in .clang-format's style: `make fmt`
# rewrites them, `make fmt-check` (run by .ci/run) fails on any difference.
FMT_SRC = $(wildcard policy/*.[ch] broker/lib/*.[ch] broker/daemon/*.[ch] \
	    broker/daemon/*/*.[ch] broker/cli/*.[ch] pam/*.[ch])
fmt:
	clang-format -i $(FMT_SRC)

fmt-check:
	clang-format --dry-run -Werror $(FMT_SRC)

clean:
	rm -rf build

include deploy/install.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# fuzz.mk - build the fuzz targets (used by run.sh and regress.sh; run from
# the top of the tree):
#
#   make -f tests/fuzz/fuzz.mk MODE=fuzz    OUT=build/fuzz          targets
#   make -f tests/fuzz/fuzz.mk MODE=regress OUT=build/fuzz-regress  targets
#
# MODE=fuzz links libFuzzer (clang only); MODE=regress links driver.c, a
# plain main() that runs each file once, with ASan and UBSan (gcc by
# default, as regress.sh calls it; clang works too).  Project sources are compiled here with the target's flags rather
# than taken from build/, so that every line under test is instrumented.
MODE    ?= fuzz
OUT     ?= build/$(MODE)
CC      ?= clang

PKGS    = jansson libcrypto libssl lmdb ldap
WARN    = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
INC     = -Ibroker/lib $(addprefix -I,broker/daemon $(wildcard broker/daemon/*/)) -Ipolicy -Ipam
CFLAGS_BASE = -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	$(WARN) $(INC) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -MMD -MP
LIBS    = -ljansson -lcrypto -lssl -llmdb -lldap -llber -lpthread

ifeq ($(MODE),fuzz)
  SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined
  OBJ_SAN  = $(SAN) -fsanitize=fuzzer-no-link
  LINK_SAN = $(SAN) -fsanitize=fuzzer
  DRIVER   =
else
  SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all
  OBJ_SAN  = $(SAN)
  LINK_SAN = $(SAN)
  DRIVER   = $(OUT)/obj/tests/fuzz/driver.o
endif

TARGETS = proto policy config duration_glob sshkey snapshot pam_options signer_check
BINS    = $(patsubst %,$(OUT)/fuzz_%,$(TARGETS))

# Everything a target may need; the archive lets the linker take only the
# objects that are referenced.
# (config.c's tls and ldap sections reach most of the daemon.)
SRC = $(wildcard policy/*.c) $(wildcard broker/lib/*.c) pam/options.c \
	$(filter-out broker/daemon/main.c,$(wildcard broker/daemon/*.c broker/daemon/*/*.c))
OBJ = $(patsubst %.c,$(OUT)/obj/%.o,$(SRC)) $(OUT)/obj/gen/embedded.o
LIB = $(OUT)/libfuzzsrc.a

.PHONY: targets
targets: $(BINS)

# In fuzz mode (clang) a clang-only warning in project code must not stop
# the fuzzing: warnings stay visible, errors only for the harnesses.  The
# regress mode is built with the compiler of `make check` and -Werror.
ifeq ($(MODE),fuzz)
  PROJ_WERROR = -Wno-error
endif

$(OUT)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_BASE) $(OBJ_SAN) -c -o $@ $<

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_BASE) $(PROJ_WERROR) $(OBJ_SAN) -c -o $@ $<

$(OUT)/gen/embedded.c: policy/examples/dev.json deploy/dev.json deploy/embed.sh
	@mkdir -p $(dir $@)
	@sh deploy/embed.sh $@ dev_policy_json policy/examples/dev.json \
	    dev_groups_json deploy/dev.json
$(OUT)/obj/gen/embedded.o: $(OUT)/gen/embedded.c
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_BASE) $(OBJ_SAN) -c -o $@ $<

$(LIB): $(OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(OUT)/fuzz_%: $(OUT)/obj/tests/fuzz/fuzz_%.o $(DRIVER) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(LINK_SAN) -o $@ $^ $(LIBS)

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)

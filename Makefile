# ptkit — one non-recursive Makefile.
#
#   make            build build/ptkit and build/libptkit.a
#   make check      install missing packages, build, run every test
#   make demo       install missing packages, build, run the loopback demo
#   make SAN=1 ...  the same with ASan+UBSan, objects in build-san/
#   make fuzz       build the libFuzzer targets (clang) in build-fuzz/
#   make lint       banned functions, layering, shell syntax
#   make install    PREFIX=/usr/local: binary, library, headers, ptkit.pc, man page

.SUFFIXES:
.DELETE_ON_ERROR:
SHELL := /bin/bash

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PYTHON ?= /usr/bin/python3
PKGS := libevent libevent_pthreads libsodium libcrypto jansson
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT := -O1
else
BUILD ?= build
SANFLAGS :=
OPT := -O2
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wno-unused-parameter -Wvla -Wimplicit-fallthrough
ifeq ($(WERROR),1)
WARN += -Werror
endif
CPPFLAGS += -D_GNU_SOURCE -DPTK_VERSION='"$(VERSION)"' -Iinclude -Isrc
CFLAGS ?= $(OPT) -g
CFLAGS += -std=gnu11 $(WARN) $(SANFLAGS) -fPIC $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS += $(PKG_LIBS) -lpthread

LIB_SRCS := $(sort $(wildcard src/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
BIN_SRCS := $(sort $(wildcard bin/ptkit/*.c))
BIN_OBJS := $(BIN_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
LIB := $(BUILD)/libptkit.a
PTKIT := $(BUILD)/ptkit

.PHONY: all deps check check-unit check-integration check-fuzz demo bench fuzz lint install clean

all: $(PTKIT) $(LIB)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(PTKIT): $(BIN_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(BIN_OBJS) $(LIB) $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

deps:
	@scripts/install-deps

check: deps
	$(MAKE) WERROR=$(WERROR) all
	$(MAKE) lint
	$(MAKE) WERROR=$(WERROR) check-unit
	$(MAKE) check-fuzz
	$(MAKE) WERROR=$(WERROR) check-integration

check-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

check-integration: $(PTKIT)
	PTKIT=$(abspath $(PTKIT)) scripts/in-netns $(PYTHON) -m pytest -q tests/integration

demo: deps
	$(MAKE) all
	$(PYTHON) scripts/demo.py --ptkit $(abspath $(PTKIT))

# ptkit against obfs4proxy, one run, inside a private network namespace; rewrites the results
# in doc/benchmarks.md (figures, never assertions).
bench: deps
	$(MAKE) all
	scripts/in-netns $(PYTHON) scripts/bench.py --ptkit $(abspath $(PTKIT)) --doc doc/benchmarks.md

lint:
	@scripts/lint
	@scripts/check-layers

# `ptkit check` against ptkit, obfs4proxy and snowflake-client, inside a private network
# namespace; rewrites the result tables in doc/conformance.md.
.PHONY: conformance
conformance: $(PTKIT)
	@command -v snowflake-client >/dev/null || { [ "$$(id -u)" = 0 ] && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y snowflake-client; } || \
	    echo "conformance: snowflake-client is not installed (apt-get install snowflake-client)"
	scripts/in-netns $(PYTHON) scripts/conformance.py --ptkit $(abspath $(PTKIT)) --doc doc/conformance.md

# ---- fuzzing (clang + libFuzzer), its own object tree ----
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
               -D_GNU_SOURCE -DPTK_VERSION='"$(VERSION)"' -DPTK_FUZZING -Iinclude -Isrc $(PKG_CFLAGS)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_SECONDS ?= 3

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ $<"
	@clang $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libptkit-fuzz.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libptkit-fuzz.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libptkit-fuzz.a $(PKG_LIBS) -lpthread

fuzz: $(FUZZ_BINS)

check-fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
	  n=$$(basename $$f); c=tests/fuzz/corpus/$${n#fuzz_}; mkdir -p $(FUZZ_BUILD)/work/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=1024 -print_final_stats=0 \
	      -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/work/$$n $$c >$(FUZZ_BUILD)/$$n.log 2>&1 \
	      || { tail -40 $(FUZZ_BUILD)/$$n.log; exit 1; }; \
	done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include/ptkit $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(PTKIT) $(DESTDIR)$(PREFIX)/bin/ptkit
	install -m 0644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libptkit.a
	install -m 0644 include/ptkit/*.h $(DESTDIR)$(PREFIX)/include/ptkit/
	install -m 0644 doc/ptkit.1 $(DESTDIR)$(PREFIX)/share/man/man1/ptkit.1
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' ptkit.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ptkit.pc

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJS:.o=.d) $(BIN_OBJS:.o=.d) $(UNIT_BINS:=.d) $(FUZZ_LIB_OBJS:.o=.d)

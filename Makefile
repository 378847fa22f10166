# fulfill - one Makefile.  `make` builds ./fulfill; `make check` runs every test;
# `make demo` runs the demo; `make bench` the benchmarks; `make fuzz` the fuzz drivers.
CC       ?= cc
PKGS     := sqlite3 libpq libmicrohttpd jansson libcurl libsodium libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wno-unused-parameter
ifeq ($(CI),true)
WARN     += -Werror
endif
CFLAGS   ?= -O2 -g
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc $(PKG_CFLAGS) $(CFLAGS)
LDLIBS   := $(PKG_LIBS) -lpthread -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC  := $(filter-out src/cli/main.c,$(sort $(wildcard src/*/*.c)))
CLI_MAIN := src/cli/main.c
UNIT_SRC := $(sort $(wildcard tests/unit/*/*.c tests/unit/*.c))

OBJ      := $(LIB_SRC:%.c=build/rel/%.o)
SAN_OBJ  := $(LIB_SRC:%.c=build/san/%.o)
HDRS     := $(wildcard include/fulfill/*.h src/*/*.h)

PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
DATADIR  ?= $(PREFIX)/share
MANDIR   ?= $(DATADIR)/man
# systemd reads units from /usr/lib/systemd/system and /usr/local/lib/systemd/system;
# with another PREFIX the operator copies the unit to /etc/systemd/system (docs/configuration.md)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

.PHONY: all check check-web unit unit-san integration demo bench fuzz clean deps install soak format

all: fulfill

deps:
	@./scripts/deps

build/rel/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

build/san/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c $< -o $@

build/libfulfill.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

build/libfulfill-san.a: $(SAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

fulfill: build/rel/$(CLI_MAIN:.c=.o) build/libfulfill.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

build/fulfill-san: build/san/$(CLI_MAIN:.c=.o) build/libfulfill-san.a
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

build/unit-tests: $(UNIT_SRC) build/libfulfill.a tests/unit/testutil.h
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $(UNIT_SRC) build/libfulfill.a $(LDLIBS) -lcriterion

build/unit-tests-san: $(UNIT_SRC) build/libfulfill-san.a tests/unit/testutil.h
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -Itests/unit -o $@ $(UNIT_SRC) build/libfulfill-san.a $(LDLIBS) -lcriterion

# Unit tests run from the repository root so they can read ../shared/conformance.
unit: build/unit-tests
	./build/unit-tests -j2

unit-san: build/unit-tests-san
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ./build/unit-tests-san -j2

integration: fulfill
	python3 tests/run-integration.py

check: deps
	$(MAKE) fulfill build/unit-tests build/unit-tests-san
	./tests/run-all

# the browser tests of web/ alone: Debian's Chromium driven by playwright-core (tests/web)
check-web: deps fulfill
	./tests/web/run

demo: deps fulfill
	./fulfill demo --listen 127.0.0.1:8080

bench: deps fulfill
	./bench/run
	python3 bench/http_bench.py
	python3 bench/pg_bench.py
	python3 tests/e2e/bench_fulfill.py

fuzz:
	./fuzz/run

# the long exactly-once test: 100,000 rewards, 50 kill -9 of the worker (docs/reliability.md);
# then scale-out on PostgreSQL at full size: 20,000 conversions, 2 servers, 4 workers (docs/scaling.md)
soak: fulfill build/libfulfill.a
	FULFILL_SOAK=1 PYTHONPATH=tests/lib python3 -m unittest -v tests/e2e/test_exactly_once.py
	FULFILL_SOAK=1 tests/with-postgres env PYTHONPATH=tests/lib python3 -m unittest -v tests/e2e/test_scaleout.py

# The binary, the man page, the systemd unit (its @BINDIR@ and @DATADIR@ filled in) and
# the example config as DATADIR/fulfill/fulfill.conf; /etc is the operator's, never
# written. The server looks for its console beside the binary in ../share/fulfill/web
# (src/http/server.c), so web/ is copied there (cp -L: the portal's shared modules are
# symlinks to the console's, installed as files).
install: fulfill
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(DATADIR)/fulfill
	install -m 0755 fulfill $(DESTDIR)$(BINDIR)/fulfill
	install -m 0644 docs/fulfill.1 $(DESTDIR)$(MANDIR)/man1/fulfill.1
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' etc/fulfill.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/fulfill.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/fulfill.service
	install -m 0644 etc/fulfill.conf $(DESTDIR)$(DATADIR)/fulfill/fulfill.conf
	if [ -n "$$(ls -A web 2>/dev/null)" ]; then \
		install -d $(DESTDIR)$(DATADIR)/fulfill/web && cp -rL web/. $(DESTDIR)$(DATADIR)/fulfill/web/; \
	fi

format:
	clang-format -i $(LIB_SRC) $(CLI_MAIN) $(wildcard include/fulfill/*.h src/*/*.h)

clean:
	rm -rf build fulfill bench/baseline bench/loadgen fuzz/build

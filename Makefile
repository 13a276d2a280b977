# piwebasync — `make demo` streams from the bundled simulator; `make test` runs every test.
# Everything builds in debug: faster to compile, and what valgrind wants.

CARGO     ?= cargo
TARGET    := target/debug
LIB_DIR   := $(abspath $(TARGET))
SIM       := $(TARGET)/piwebasync-sim
BUILD     := build
CC        ?= gcc
CXX       ?= g++
CFLAGS    := -std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -g -Iinclude
LDLIBS    := -L$(LIB_DIR) -Wl,-rpath,$(LIB_DIR) -lpiwebasync -lpthread

C_TESTS   := $(patsubst tests/c/%.c,$(BUILD)/%,$(wildcard tests/c/test_*.c))
EXAMPLES  := $(patsubst examples-c/%.c,$(BUILD)/%,$(wildcard examples-c/*.c))

.PHONY: all build deps lint demo test test-rust test-c test-asan sanitize test-install test-bindings check-header header bench install clean

all: build

deps:
	@scripts/install-deps.sh

build:
	$(CARGO) build --workspace --all-targets

$(BUILD)/%: examples-c/%.c include/piwebasync.h build
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

$(BUILD)/test_%: tests/c/test_%.c tests/c/check.h include/piwebasync.h build
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

## lint: formatting (rustfmt), clippy on every target with warnings as errors (including the
## workspace lints of Cargo.toml: unsafe ops only in `unsafe {}` blocks, each with a SAFETY
## comment), and the API docs with warnings as errors. Run by .ci/run before `make test`.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace

## demo: start the simulator, stream from it with examples-c/stream.c for a few seconds, stop.
demo: deps build $(EXAMPLES)
	scripts/demo.sh

## test: Rust tests, header check, C tests against the simulator (under valgrind, then again
## under AddressSanitizer + LeakSanitizer), the installed library, the C++, Python and .NET
## bindings.
test: deps build check-header test-rust test-c test-asan test-install test-bindings

test-rust:
	$(CARGO) test --workspace

# The committed header must match a fresh generation (also asserted by a Rust test), and
# compile as C99 and as C++17 with warnings as errors.
check-header: build
	@mkdir -p $(BUILD)
	$(CARGO) test --lib --quiet committed_header_is_current
	printf '#include "piwebasync.h"\nint main(void) { return pwa_version() == 0; }\n' > $(BUILD)/header_check.c
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -c $(BUILD)/header_check.c -o $(BUILD)/header_check_c.o
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -x c++ -c $(BUILD)/header_check.c -o $(BUILD)/header_check_cpp.o

test-c: build $(C_TESTS) $(EXAMPLES)
	scripts/run-c-tests.sh $(C_TESTS)
	scripts/test-examples.sh

# The C tests and examples again, built with AddressSanitizer + LeakSanitizer against the
# library built with -Zsanitizer=address on the nightly toolchain (target/san-address); a
# canary leak must be caught first. See scripts/sanitize.sh.
test-asan: build
	scripts/sanitize.sh address

## sanitize: the C tests and examples under ThreadSanitizer (nightly, std rebuilt with
## -Zbuild-std; suppressions in tests/c/tsan.supp, each explained there). Not part of
## `make test`.
sanitize: build
	scripts/sanitize.sh thread

# make install into build/stage; examples-c/stream.c built from it (pkg-config, shared and
# static) streams from the simulator.
test-install: build
	scripts/test-install.sh

# bindings/cpp (header-only RAII), bindings/python (ctypes) and bindings/dotnet (P/Invoke, built
# with Mono), each tested against simulators.
test-bindings: build
	scripts/test-cpp.sh
	scripts/test-python.sh
	scripts/test-dotnet.sh

## install: release library (SONAME libpiwebasync.so.0.1), header and pkg-config file under
## $(DESTDIR)$(PREFIX) (default /usr/local). See scripts/install.sh.
PREFIX ?= /usr/local
install:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) CARGO=$(CARGO) scripts/install.sh

## header: regenerate include/piwebasync.h from src/ffi.
header:
	PWA_UPDATE_HEADER=1 $(CARGO) build --lib

## bench: throughput, latency, scale, recovery and parsing benchmarks on loopback, each beside
## its baseline measured in the same run (release build; not part of `make test`). Prints a
## markdown table, also written to build/bench/results.md. See benches/README.md.
bench:
	scripts/bench.sh

clean:
	$(CARGO) clean
	rm -rf $(BUILD)

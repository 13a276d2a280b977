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

.PHONY: all build deps demo test test-rust test-c test-install test-bindings test-windows test-windows-rust check-header header bench install dist-windows clean

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

## demo: start the simulator, stream from it with examples-c/stream.c for a few seconds, stop.
demo: deps build $(EXAMPLES)
	scripts/demo.sh

## test: Rust tests, header check, C tests against the simulator, the installed library, the
## C++, Python and .NET bindings, and the Windows DLLs under Wine.
test: deps build check-header test-rust test-c test-install test-bindings test-windows

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

# The Windows DLLs (x64, x86), cross-built in debug, their exports, imports and import
# libraries, and the C tests, examples and Windows hosts run under Wine in a private prefix
# against the native simulator. See scripts/test-windows.sh.
test-windows: build
	CARGO=$(CARGO) scripts/test-windows.sh

# The same plus the Rust unit and integration tests (but tests/nginx.rs) for x64 under Wine
# (not in make test: they would take the Windows part past its 12-minute budget).
test-windows-rust: build
	CARGO=$(CARGO) PWA_WINDOWS_RUST_TESTS=1 scripts/test-windows.sh

## install: release library (SONAME libpiwebasync.so.0.1), header and pkg-config file under
## $(DESTDIR)$(PREFIX) (default /usr/local). See scripts/install.sh.
PREFIX ?= /usr/local
install:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) CARGO=$(CARGO) scripts/install.sh

## dist-windows: release piwebasync.dll for x64 and x86 with its .def, MSVC import library
## (piwebasync.lib), MinGW import library, header, debug info and a README, in
## dist/windows-x64/ and dist/windows-x86/. See scripts/dist-windows.sh.
dist-windows:
	CARGO=$(CARGO) scripts/dist-windows.sh

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

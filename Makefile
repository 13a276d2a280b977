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

.PHONY: all build deps lint demo test test-rust test-fuzz fuzz test-soak soak test-c test-asan sanitize test-install test-packages test-bindings test-windows test-kerberos check-header header bench install dist dist-windows clean

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

## test: Rust tests, header check, a bounded fuzz run, the 2-minute soak, C tests against the
## simulator (under valgrind, then again under AddressSanitizer + LeakSanitizer), the installed
## library (CMake and pkg-config, shared and static), the wheel and the .nupkg, the C++, Python
## and .NET bindings, the Windows DLLs under Wine, and Kerberos against a private realm.
test: deps build check-header test-rust test-fuzz test-soak test-c test-asan test-install test-packages test-bindings test-windows test-kerberos

## soak: channels under random faults for DURATION seconds (default 3600); SOAK_SEED=<n>
## replays a run. Prints a summary table (also build/soak-summary.md). See tests/soak.rs.
DURATION ?= 3600
soak:
	SOAK_DURATION=$(DURATION) $(CARGO) test -p piwebasync --test soak -- --ignored --nocapture

# The 2-minute soak that `make test` runs.
test-soak:
	$(MAKE) soak DURATION=120

test-rust:
	$(CARGO) test --workspace

# auth=negotiate against real servers: a private MIT Kerberos realm (krb5kdc) and Apache with
# mod_auth_gssapi + mod_proxy_wstunnel in front of the simulator, on free loopback ports,
# started and stopped by the tests (tests/kerberos.rs; ignored by a plain cargo test); the
# Windows DLL (SSPI) under Wine against the same servers. See scripts/test-kerberos.sh.
test-kerberos: deps
	CARGO=$(CARGO) scripts/test-kerberos.sh

# The cargo-fuzz targets of fuzz/ (nightly; fuzz/README.md): a bounded run of each in
# `make test`, FUZZ_TEST_SECONDS apiece; `make fuzz` for long runs, FUZZ_SECONDS apiece
# (FUZZ_TARGETS to pick some). Builds and the corpus grown so far are kept in target/fuzz.
FUZZ_TEST_SECONDS ?= 10
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=
test-fuzz: deps
	FUZZ_PROFILE=dev scripts/fuzz.sh $(FUZZ_TEST_SECONDS) $(FUZZ_TARGETS)

## fuzz: every fuzz target for FUZZ_SECONDS (default 600) each; not part of `make test`.
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The committed header must match a fresh generation (also asserted by a Rust test), and
# compile as C89, C99, C++98 and C++17 with warnings as errors; the C++ wrapper as C++14 and
# C++17.
check-header: build
	@mkdir -p $(BUILD)
	$(CARGO) test -p piwebasync-capi --lib --quiet committed_header_is_current
	printf '#include "piwebasync.h"\nint main(void) { return pwa_version() == 0; }\n' > $(BUILD)/header_check.c
	$(CC) -std=c89 -Wall -Wextra -Werror -pedantic -Iinclude -c $(BUILD)/header_check.c -o $(BUILD)/header_check_c89.o
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -c $(BUILD)/header_check.c -o $(BUILD)/header_check_c.o
	$(CXX) -std=c++98 -Wall -Wextra -Werror -pedantic -Iinclude -x c++ -c $(BUILD)/header_check.c -o $(BUILD)/header_check_cpp98.o
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -x c++ -c $(BUILD)/header_check.c -o $(BUILD)/header_check_cpp.o
	printf '#include "piwebasync.hpp"\nint main() { return piwebasync::version() == nullptr; }\n' > $(BUILD)/wrapper_check.cpp
	$(CXX) -std=c++14 -Wall -Wextra -Werror -pedantic -Iinclude -Ibindings/cpp -fsyntax-only $(BUILD)/wrapper_check.cpp
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -Ibindings/cpp -fsyntax-only $(BUILD)/wrapper_check.cpp

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

# make install into build/stage (then moved: the tree is relocatable); out-of-tree consumers
# built from it with pkg-config and CMake (shared, static, C89, C++14) stream from the simulator.
test-install: build
	scripts/test-install.sh

# The wheel and the .nupkg, built from the library test-install installed, each used as its
# users do (a fresh venv; a Mono program from the restored package) against the simulator;
# then every place that carries the version agrees with Cargo.toml.
PKGS := $(BUILD)/pkgs
test-packages: test-install
	@rm -rf $(PKGS)
	scripts/build-wheel.sh $(BUILD)/stage/moved/lib/libpiwebasync.so.$$(scripts/version.sh) $(PKGS)
	scripts/test-wheel.sh $(PKGS)/piwebasync_c-*.whl
	scripts/build-nupkg.sh $(PKGS) linux-x64=$(BUILD)/stage/moved/lib/libpiwebasync.so.$$(scripts/version.sh)
	scripts/test-nupkg.sh $(PKGS)/PiWebAsync.*.nupkg
	scripts/test-version.sh $(BUILD)/stage/moved $(PKGS)

# bindings/cpp (header-only RAII), bindings/python (ctypes) and bindings/dotnet (P/Invoke, built
# with Mono), each tested against simulators.
test-bindings: build
	scripts/test-cpp.sh
	scripts/test-python.sh
	scripts/test-dotnet.sh
	scripts/test-labview-layout.sh

# The Windows DLLs (x64, x86), cross-built in debug, their exports, imports and import
# libraries, and the C tests, examples, Windows hosts, the Rust tests and the bindings (in
# Windows .NET and CPython) run under Wine in a private prefix against the native simulator. See scripts/test-windows.sh.
test-windows: build
	CARGO=$(CARGO) scripts/test-windows.sh

## install: release library (SONAME libpiwebasync.so.0.1; stripped, debug info in lib/.debug),
## static library, headers (C and C++), pkg-config files and CMake package under
## $(DESTDIR)$(PREFIX) (default /usr/local). See scripts/install.sh.
PREFIX ?= /usr/local
install:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) CARGO=$(CARGO) scripts/install.sh

## dist: the release tarball, the Python wheel and the NuGet package in dist/ (scripts/dist.sh).
dist: deps
	scripts/dist.sh

## dist-windows: release piwebasync.dll for x64 and x86 with its .def, MSVC import library
## (piwebasync.lib), MinGW import library, header, debug info and a README, in
## dist/windows-x64/ and dist/windows-x86/. See scripts/dist-windows.sh.
dist-windows:
	CARGO=$(CARGO) scripts/dist-windows.sh

## header: regenerate include/piwebasync.h from capi/src (statuses and configuration keys from
## their tables) and the README's table of configuration keys.
header:
	PWA_UPDATE_HEADER=1 $(CARGO) build -p piwebasync-capi
	PWA_UPDATE_HEADER=1 $(CARGO) test -p piwebasync --test docs --quiet
	PWA_UPDATE_HEADER=1 $(CARGO) test -p piwebasync-capi --lib --quiet labview_status_table_is_current

## bench: throughput, latency, scale, recovery and parsing benchmarks on loopback, each beside
## its baseline measured in the same run (release build; not part of `make test`). Prints a
## markdown table, also written to build/bench/results.md. See benches/README.md. Then the
## Python asyncio client; PIWEBASYNC_ORIGINAL="CHECKOUT [DEPENDENCY_CHECKOUT...]" puts the
## original piwebasync beside it (scripts/compare-piwebasync.sh).
bench:
	scripts/bench.sh

clean:
	$(CARGO) clean
	rm -rf $(BUILD) dist

# Sourced by scripts/dist-windows.sh and scripts/test-windows.sh: the Windows targets, building
# piwebasync.dll with cargo, and packaging one architecture's files.
#   win_triple ARCH        x64 -> x86_64-pc-windows-gnu, x86 -> i686-pc-windows-gnu
#   win_prefix ARCH        the mingw-w64 tool prefix (x86_64-w64-mingw32 / i686-w64-mingw32)
#   win_build ARCH PROFILE cargo build of the C ABI crate (piwebasync-capi) for that target (PROFILE: debug or release)
#   win_package ARCH PROFILE OUT
#       writes into OUT: piwebasync.dll (stripped, with a .gnu_debuglink to) piwebasync.dll.debug,
#       piwebasync.def, piwebasync.lib (MSVC import library, from the .def), libpiwebasync.dll.a
#       (mingw import library), piwebasync.h and README.txt. Fails, saying why, when the DLL's
#       exports are not exactly the header's pwa_* functions.
# Each function prints what went wrong and returns non-zero on failure.

CARGO=${CARGO:-cargo}

win_triple() {
    case "$1" in
        x64) echo x86_64-pc-windows-gnu ;;
        x86) echo i686-pc-windows-gnu ;;
        *) echo "unknown Windows architecture '$1' (x64 or x86)" >&2; return 1 ;;
    esac
}

win_prefix() {
    case "$1" in
        x64) echo x86_64-w64-mingw32 ;;
        x86) echo i686-w64-mingw32 ;;
        *) echo "unknown Windows architecture '$1' (x64 or x86)" >&2; return 1 ;;
    esac
}

win_build() {
    local arch=$1 profile=$2 triple flag=()
    triple=$(win_triple "$arch") || return 1
    [ "$profile" = release ] && flag=(--release)
    rustup target list --installed 2>/dev/null | grep -qx "$triple" ||
        { echo "rustup target $triple is missing: run scripts/install-deps.sh" >&2; return 1; }
    command -v "$(win_prefix "$arch")-gcc" >/dev/null ||
        { echo "$(win_prefix "$arch")-gcc is missing: run scripts/install-deps.sh" >&2; return 1; }
    $CARGO build -p piwebasync-capi --lib "${flag[@]}" --target "$triple" ||
        { echo "cargo build --target $triple failed" >&2; return 1; }
}

# The functions the header declares, one a line, sorted.
header_functions() {
    grep -oE '^[A-Za-z_].*[ *]pwa_[a-z0-9_]+\(' include/piwebasync.h |
        grep -v '^typedef' | grep -oE 'pwa_[a-z0-9_]+\($' | tr -d '(' | sort -u
}

# The names a DLL exports, one a line, sorted.
dll_exports() { # dll_exports ARCH DLL
    "$(win_prefix "$1")-objdump" -p "$2" |
        sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/p' |
        sed -nE 's/^[[:space:]]*\[ *[0-9]+\] +([^ ]+)$/\1/p' | sort -u
}

# The DLLs a DLL or EXE imports, one a line, lowercase, sorted.
dll_imports() { # dll_imports ARCH FILE
    "$(win_prefix "$1")-objdump" -p "$2" | sed -nE 's/^[[:space:]]*DLL Name: (.*)$/\1/p' |
        tr 'A-Z' 'a-z' | sort -u
}

win_package() {
    local arch=$1 profile=$2 out=$3 triple prefix dir machine
    triple=$(win_triple "$arch") || return 1
    prefix=$(win_prefix "$arch")
    dir="target/$triple/$profile"
    [ -f "$dir/piwebasync.dll" ] || { echo "$dir/piwebasync.dll is missing: build it first" >&2; return 1; }
    rm -rf "$out"; mkdir -p "$out" || return 1

    # Exports: exactly the header's functions.
    local want got
    want=$(header_functions); got=$(dll_exports "$arch" "$dir/piwebasync.dll")
    if [ -z "$want" ] || [ "$want" != "$got" ]; then
        echo "$dir/piwebasync.dll: exports differ from include/piwebasync.h's functions:" >&2
        diff <(echo "$want") <(echo "$got") | sed -n 's/^[<>]/  &/p' >&2
        echo "  (< only in the header, > only in the DLL)" >&2
        return 1
    fi

    # Debug info beside the DLL, linked from it (gdb and WinDbg-with-DWARF tools follow it).
    "$prefix-objcopy" --only-keep-debug "$dir/piwebasync.dll" "$out/piwebasync.dll.debug" &&
        "$prefix-strip" --strip-debug --strip-unneeded -o "$out/piwebasync.dll" "$dir/piwebasync.dll" &&
        (cd "$out" && "$prefix-objcopy" --add-gnu-debuglink=piwebasync.dll.debug piwebasync.dll) ||
        { echo "$arch: separating the debug info failed" >&2; return 1; }

    { echo "LIBRARY piwebasync.dll"; echo "EXPORTS"; sed 's/^/    /' <<<"$got"; } > "$out/piwebasync.def"
    # MSVC import library from the .def (the short import format lib.exe writes; on x86 the C
    # names get the cdecl leading underscore, as MSVC's compiler expects).
    case "$arch" in x64) machine=i386:x86-64 ;; x86) machine=i386 ;; esac
    llvm-dlltool -m "$machine" -D piwebasync.dll -d "$out/piwebasync.def" -l "$out/piwebasync.lib" ||
        { echo "$arch: llvm-dlltool failed to write piwebasync.lib" >&2; return 1; }
    "$prefix-dlltool" -D piwebasync.dll -d "$out/piwebasync.def" -l "$out/libpiwebasync.dll.a" ||
        { echo "$arch: $prefix-dlltool failed to write libpiwebasync.dll.a" >&2; return 1; }
    cp include/piwebasync.h "$out/" || return 1

    local bits imports
    case "$arch" in x64) bits="64-bit (x64)" ;; x86) bits="32-bit (x86)" ;; esac
    imports=$(dll_imports "$arch" "$out/piwebasync.dll" | sed 's/^/    /')
    cat > "$out/README.txt" <<EOF
piwebasync $(sed -nE 's/^version = "(.*)"/\1/p' Cargo.toml | head -n 1) for Windows, $bits, $profile build

Needs Windows 10 or Windows Server 2016 or later (what Rust's standard library supports).
Built with Rust's $triple target (mingw-w64); it needs no MinGW runtime DLL.

Files
  piwebasync.dll        the library (debug info stripped)
  piwebasync.dll.debug  its debug info (DWARF), found through the DLL's .gnu_debuglink
  piwebasync.h          the C header: every function, type and status
  piwebasync.def        the exported functions
  piwebasync.lib        import library for MSVC (link.exe) and clang-cl
  libpiwebasync.dll.a   import library for MinGW (gcc/ld)

Calling convention: C (cdecl on x86, the default of C compilers; not stdcall).

Imported DLLs (all part of Windows):
$imports

Without the tls_ca_file setting, wss:// trusts the Windows certificate store ("Trusted Root
Certification Authorities"). File paths given to the library are UTF-8 and may be Windows paths
(C:\\...). Fork handling in the header is Unix-only; it does not apply on Windows.
EOF
}

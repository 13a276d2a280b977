#!/usr/bin/env bash
# The LabVIEW recipe (bindings/labview/README.md) states the size and every offset of the
# pwa_value and pwa_stream_info clusters for x64 and x86. This turns its tables into C static
# assertions and compiles them against include/piwebasync.h for x86_64 Linux (gcc), x64 Windows
# and x86 Windows (mingw-w64, installed by scripts/install-deps.sh): a header change that the
# recipe does not follow fails here. Compile-only: nothing runs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/labview
mkdir -p "$out"
python3 - bindings/labview/README.md > "$out/layout_check.c" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
asserts = []
for struct in ("pwa_value", "pwa_stream_info"):
    m = re.search(r"### `%s`\n\nSize: (\d+) bytes \(x64\), (\d+) bytes \(x86\)\.\n(.*?)(?:\n\n|\Z)" % struct,
                  text, re.S)
    if not m:
        sys.exit(f"test-labview-layout: no size line and table for {struct} in the recipe")
    asserts.append(f"CHECK(sizeof({struct}), {m.group(1)}, {m.group(2)}, \"sizeof({struct})\");")
    rows = [r for r in m.group(3).splitlines() if re.match(r"\| \d+ \|", r)]
    if not rows:
        sys.exit(f"test-labview-layout: the table of {struct} has no rows")
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        field, x64, x86 = cells[1], cells[3], cells[4]
        asserts.append(f"CHECK(offsetof({struct}, {field}), {x64}, {x86}, \"{struct}.{field}\");")
    # Every field of the struct is in the table: the last offset plus its size is the size.
    asserts.append(f"CHECK(sizeof(((({struct} *)0)->{field})) + offsetof({struct}, {field}), "
                   f"{m.group(1)}, {m.group(2)}, \"{struct}: the table ends at its last field\");")
print('#include <stddef.h>\n#include "piwebasync.h"\n')
print("#if defined(__x86_64__) || defined(_M_X64)\n#define CHECK(expr, x64, x86, what) _Static_assert((expr) == (x64), what)")
print("#elif defined(__i386__) || defined(_M_IX86)\n#define CHECK(expr, x64, x86, what) _Static_assert((expr) == (x86), what)")
print("#else\n#error \"x64 or x86 only\"\n#endif\n")
print("\n".join(asserts))
print("\nint pwa_labview_layout_checked;")
PY
n=$(grep -c '^CHECK' "$out/layout_check.c")
compilers=(gcc x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc)
for cc in "${compilers[@]}"; do
    command -v "$cc" >/dev/null || { echo "test-labview-layout: $cc not found (scripts/install-deps.sh installs mingw-w64)" >&2; exit 1; }
    "$cc" -std=c11 -Wall -Werror -Iinclude -c "$out/layout_check.c" -o "$out/layout_check-$cc.o"
    echo "labview-layout: $n checks hold for $cc"
done
echo "labview-layout: PASS"

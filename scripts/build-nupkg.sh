#!/usr/bin/env bash
# scripts/build-nupkg.sh OUTDIR RID=LIBRARY...: PiWebAsync.<version>.nupkg in OUTDIR, e.g.
#   scripts/build-nupkg.sh dist linux-x64=build/stage/lib/libpiwebasync.so.0.1.0
# (win-x64=.../piwebasync.dll and win-x86=... once the Windows build exists).
#
# No .NET SDK and no usable nuget.exe are reachable here (Debian's nuget is 2.8, Mono-based and
# would drag in mono-devel), so the package is written as the zip the format defines (Open
# Packaging Conventions: [Content_Types].xml, _rels/.rels naming the .nuspec) with
#   PiWebAsync.nuspec                       from packaging/nuget/PiWebAsync.nuspec.in
#   lib/netstandard2.0/PiWebAsync.Net.dll       bindings/dotnet/*.cs compiled by Mono's mcs (C# 7)
#   lib/netstandard2.0/PiWebAsync.Net.xml       its XML documentation
#   runtimes/<rid>/native/<library>         libpiwebasync.so / piwebasync.dll per RID
# The assembly references mscorlib (mcs has no netstandard reference assemblies here): .NET
# Framework 4.6.1+, Mono and .NET Core / .NET 5+ (through their mscorlib facade) load it.
# Prints the package's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1; shift
[ $# -gt 0 ] || { echo "usage: $0 OUTDIR RID=LIBRARY..." >&2; exit 2; }
command -v mcs >/dev/null || { echo "build-nupkg: mcs not found: scripts/install-deps.sh installs it (Debian: mono-mcs)" >&2; exit 1; }
version=$(scripts/version.sh)
IFS=. read -r major minor _ <<< "$version"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/pkg/lib/netstandard2.0" "$out"
mcs -langversion:7 -target:library -unsafe- -warnaserror+ -nowarn:1591 -nologo -optimize+ \
    -out:"$work/pkg/lib/netstandard2.0/PiWebAsync.Net.dll" -doc:"$work/pkg/lib/netstandard2.0/PiWebAsync.Net.xml" \
    bindings/dotnet/Native.cs bindings/dotnet/PiWebAsync.cs bindings/dotnet/AsyncChannel.cs

rids=()
for arg in "$@"; do
    rid=${arg%%=*}; lib=${arg#*=}
    case $rid in
        linux-*) name=libpiwebasync.so ;;
        win-*) name=piwebasync.dll ;;
        osx-*) name=libpiwebasync.dylib ;;
        *) echo "build-nupkg: unknown RID $rid" >&2; exit 2 ;;
    esac
    [ -f "$lib" ] || { echo "build-nupkg: $lib not found" >&2; exit 1; }
    install -D -m 0644 "$lib" "$work/pkg/runtimes/$rid/native/$name"
    rids+=("$rid")
done
sed -e "s/@VERSION@/$version/g" -e "s/@MAJOR@/$major/g" -e "s/@MINOR@/$minor/g" \
    -e "s/@NEXT_MINOR@/$((minor + 1))/g" -e "s/@RIDS@/${rids[*]}/g" \
    packaging/nuget/PiWebAsync.nuspec.in > "$work/pkg/PiWebAsync.nuspec"
cp LICENSE-MIT LICENSE-APACHE "$work/pkg/"

nupkg="$out/PiWebAsync.$version.nupkg"
rm -f "$out"/PiWebAsync.*.nupkg
python3 - "$work/pkg" "$nupkg" <<'PY'
import os, sys, zipfile
root, dest = sys.argv[1], sys.argv[2]
content_types = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="dll" ContentType="application/octet" />
  <Default Extension="xml" ContentType="application/octet" />
  <Default Extension="so" ContentType="application/octet" />
  <Default Extension="dylib" ContentType="application/octet" />
  <Default Extension="psmdcp" ContentType="application/vnd.openxmlformats-package.core-properties+xml" />
  <Override PartName="/LICENSE-MIT" ContentType="application/octet" />
  <Override PartName="/LICENSE-APACHE" ContentType="application/octet" />
</Types>
"""
rels = """<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/PiWebAsync.nuspec" Id="R0" />
</Relationships>
"""
with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("_rels/.rels", rels)
    z.writestr("PiWebAsync.nuspec", open(os.path.join(root, "PiWebAsync.nuspec"), "rb").read())
    for d, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
            if rel != "PiWebAsync.nuspec":
                z.write(os.path.join(d, f), rel)
    z.writestr("[Content_Types].xml", content_types)
PY
echo "$nupkg"

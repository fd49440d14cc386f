#!/usr/bin/env bash
# `cpack -G DEB` makes a kiln .deb whose control fields and contents are right, whose Depends covers
# every shared library its binaries need (checked against the packages that own those libraries on
# this machine), and that installs, runs and removes cleanly with dpkg inside a temporary root. The
# system's own dpkg database and /usr are never touched.
# usage: deb_test.sh BUILD_DIR MODEL.onnx WORKDIR
set -eu
BUILD=$1 MODEL=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }

(cd "$BUILD" && cpack -G DEB -B "$WORK/out" >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack -G DEB"; }
debs=("$WORK"/out/kiln_*.deb)
[ -f "${debs[0]}" ] || fail "cpack made no kiln_*.deb in $WORK/out: $(ls "$WORK/out")"
DEB=${debs[0]}

field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = kiln ] || fail "Package is '$(field Package)'"
[ -n "$(field Version)" ] && [ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ] \
  || fail "Version, Maintainer or Description is empty"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is '$(field Architecture)'"
DEPENDS=$(field Depends)
echo "Depends: $DEPENDS"

dpkg-deb -x "$DEB" "$WORK/x"
for f in usr/bin/kiln usr/lib/libkiln_runtime.so.0 usr/lib/libkiln_compiler.so.0 usr/include/kiln/runtime.hpp \
         usr/include/kiln/compiler.hpp usr/lib/cmake/kiln/kilnConfig.cmake usr/lib/cmake/kiln/kilnTargets.cmake \
         usr/lib/cmake/kiln/KilnAddPlan.cmake; do
  [ -e "$WORK/x/$f" ] || fail "the package lacks /$f"
done

# Every library a packaged ELF file needs is either in the package or owned by a package in Depends.
pkgs_in_depends=$(tr ',' '\n' <<<"$DEPENDS" | sed 's/|.*//; s/(.*//; s/:.*//; s/ //g')
for elf in "$WORK/x/usr/bin/kiln" "$WORK"/x/usr/lib/libkiln_*.so.0; do
  for lib in $(readelf -d "$elf" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
    [ -e "$WORK/x/usr/lib/$lib" ] && continue
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|64bit/ {print $NF; exit}')
    [ -n "$path" ] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
    [ -n "$path" ] || fail "$lib (needed by $(basename "$elf")) is not installed on this machine"
    # usrmerge: dpkg may know the file under /lib or /usr/lib, and by its real name or the link's.
    owner=""
    for p in "$(readlink -f "$path")" "$path" "${path#/usr}" "/usr$path"; do
      owner=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 || true)
      [ -n "$owner" ] && break
    done
    [ -n "$owner" ] || fail "no Debian package owns $path ($lib)"
    grep -qx "$owner" <<<"$pkgs_in_depends" || fail "$lib (from package $owner) is missing from Depends"
  done
done
grep -qx libdnnl2 <<<"$pkgs_in_depends" || fail "Depends lacks libdnnl2"

# Install and remove with dpkg in a scratch root with its own database. Dependencies are not
# installed there, so --force-depends; the binaries run with the host's libraries. The maintainer
# scripts (ldconfig on install and removal) run outside the root, so a stub ldconfig stands in for
# the host's, which must not rewrite the host's cache; it records the calls instead.
ROOT="$WORK/root"
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates" "$ROOT/var/lib/dpkg/triggers" "$WORK/stub"
touch "$ROOT/var/lib/dpkg/status" "$ROOT/var/lib/dpkg/available"
printf '#!/bin/sh\necho "ldconfig $*" >> "%s/ldconfig.calls"\n' "$WORK" > "$WORK/stub/ldconfig"
chmod +x "$WORK/stub/ldconfig"
export PATH="$WORK/stub:$PATH"
DPKG=(dpkg --force-not-root --force-depends --force-script-chrootless --root="$ROOT" --log=/dev/null)
"${DPKG[@]}" -i "$DEB" >"$WORK/dpkg-i.log" 2>&1 || { cat "$WORK/dpkg-i.log"; fail "dpkg -i"; }
"${DPKG[@]}" -s kiln | grep -q "^Status: install ok installed" || fail "dpkg -s: kiln not installed in the root"
[ "$(wc -l < "$WORK/ldconfig.calls")" = 1 ] || fail "postinst did not run ldconfig once"
# Relocated: RPATH $ORIGIN/../lib finds the packaged libraries under the scratch root.
"$ROOT/usr/bin/kiln" --version | grep -q "kiln $(field Version)" || fail "the installed kiln does not run"
rt=$(ldd "$ROOT/usr/bin/kiln" | awk '$1 == "libkiln_runtime.so.0" {print $3}')
[ "$(readlink -f "$rt")" = "$(readlink -f "$ROOT/usr/lib/libkiln_runtime.so.0")" ] \
  || fail "the installed kiln uses $rt, not the packaged runtime"
"$ROOT/usr/bin/kiln" compile "$MODEL" -o "$WORK/m.plan" 2>/dev/null || fail "the installed kiln cannot compile"
"$ROOT/usr/bin/kiln" inspect "$WORK/m.plan" >/dev/null || fail "the installed kiln cannot load its plan"

"${DPKG[@]}" -r kiln >"$WORK/dpkg-r.log" 2>&1 || { cat "$WORK/dpkg-r.log"; fail "dpkg -r"; }
[ "$(wc -l < "$WORK/ldconfig.calls")" = 2 ] || fail "postrm did not run ldconfig"
left=""
if [ -d "$ROOT/usr" ]; then left=$(find "$ROOT/usr" -type f -o -type l); fi
[ -z "$left" ] || fail "dpkg -r left files behind: $left"
if "${DPKG[@]}" -s kiln 2>/dev/null | grep -q "^Status: install ok installed"; then fail "still installed after -r"; fi
echo "deb: $(basename "$DEB") has the right fields, files and Depends, installs, runs and removes cleanly"

#!/usr/bin/env bash
# `cpack -G DEB` makes the kiln-runtime, kiln-tools and kiln-dev packages, whose control fields and
# contents are right (no file in two), whose Depends cover every shared library their binaries need
# (checked against the packages that own those libraries on this machine), and that install, run
# and remove cleanly with dpkg inside a temporary root. The system's own dpkg database and /usr are
# never touched.
# usage: deb_test.sh BUILD_DIR MODEL.onnx WORKDIR
set -eu
BUILD=$1 MODEL=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }

(cd "$BUILD" && cpack -G DEB -B "$WORK/out" >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack -G DEB"; }
declare -A DEB
for pkg in kiln-runtime kiln-tools kiln-dev; do
  debs=("$WORK"/out/${pkg}_*.deb)
  [ -f "${debs[0]}" ] || fail "cpack made no ${pkg}_*.deb in $WORK/out: $(ls "$WORK/out")"
  DEB[$pkg]=${debs[0]}
done

field() { dpkg-deb -f "${DEB[$1]}" "$2"; }
VERSION=$(field kiln-runtime Version)
for pkg in kiln-runtime kiln-tools kiln-dev; do
  [ "$(field $pkg Package)" = "$pkg" ] || fail "Package is '$(field $pkg Package)', not $pkg"
  [ "$(field $pkg Version)" = "$VERSION" ] || fail "$pkg has version $(field $pkg Version), kiln-runtime $VERSION"
  [ -n "$(field $pkg Maintainer)" ] && [ -n "$(field $pkg Description)" ] || fail "$pkg: Maintainer or Description is empty"
  [ "$(field $pkg Architecture)" = "$(dpkg --print-architecture)" ] || fail "$pkg: Architecture is '$(field $pkg Architecture)'"
  echo "$pkg Depends: $(field $pkg Depends)"
  mkdir -p "$WORK/x/$pkg" && dpkg-deb -x "${DEB[$pkg]}" "$WORK/x/$pkg"
done

has() {  # has PACKAGE FILE...
  local pkg=$1; shift
  for f in "$@"; do [ -e "$WORK/x/$pkg/$f" ] || [ -L "$WORK/x/$pkg/$f" ] || fail "$pkg lacks /$f"; done
}
has kiln-runtime usr/lib/libkiln_runtime.so.0 usr/lib/libkiln_runtime.so usr/include/kiln/runtime.h \
  usr/include/kiln/runtime.hpp usr/lib/cmake/kiln/kilnConfig.cmake usr/lib/cmake/kiln/kilnRuntimeTargets.cmake
has kiln-tools usr/bin/kiln usr/lib/libkiln_compiler.so.0
has kiln-dev usr/include/kiln/compiler.hpp usr/lib/libkiln_compiler.so usr/lib/cmake/kiln/kilnToolsTargets.cmake \
  usr/lib/cmake/kiln/KilnAddPlan.cmake
# No file in two packages (dpkg would refuse to install the second).
dups=$(cd "$WORK/x" && find . -type f -o -type l | cut -d/ -f3- | sort | uniq -d)
[ -z "$dups" ] || fail "files in two packages: $dups"

# Every library a packaged ELF file needs is in the same package, in a kiln package its Depends
# names, or owned by a Debian package in its Depends.
for pkg in kiln-runtime kiln-tools kiln-dev; do
  pkgs_in_depends=$(tr ',' '\n' <<<"$(field $pkg Depends)" | sed 's/|.*//; s/(.*//; s/:.*//; s/ //g')
  for elf in $(find "$WORK/x/$pkg" -type f \( -name 'kiln' -o -name '*.so.*' \)); do
    for lib in $(readelf -d "$elf" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
      [ -e "$WORK/x/$pkg/usr/lib/$lib" ] && continue
      inkiln=""
      for other in kiln-runtime kiln-tools kiln-dev; do [ -e "$WORK/x/$other/usr/lib/$lib" ] && inkiln=$other; done
      if [ -n "$inkiln" ]; then
        grep -qx "$inkiln" <<<"$pkgs_in_depends" || fail "$lib (in $inkiln) is needed by $pkg but not in its Depends"
        continue
      fi
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
      grep -qx "$owner" <<<"$pkgs_in_depends" || fail "$lib (from package $owner) is missing from $pkg's Depends"
    done
  done
done
grep -q libdnnl2 <<<"$(field kiln-runtime Depends)" || fail "kiln-runtime's Depends lacks libdnnl2"
if grep -qiE 'protobuf|onnx' <<<"$(field kiln-runtime Depends)"; then fail "kiln-runtime depends on protobuf or onnx"; fi

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
"${DPKG[@]}" -i "${DEB[kiln-runtime]}" "${DEB[kiln-tools]}" "${DEB[kiln-dev]}" >"$WORK/dpkg-i.log" 2>&1 \
  || { cat "$WORK/dpkg-i.log"; fail "dpkg -i"; }
for pkg in kiln-runtime kiln-tools kiln-dev; do
  "${DPKG[@]}" -s $pkg | grep -q "^Status: install ok installed" || fail "dpkg -s: $pkg not installed in the root"
done
calls=$(wc -l < "$WORK/ldconfig.calls")
[ "$calls" -ge 1 ] || fail "no postinst ran ldconfig"
# Relocated: RPATH $ORIGIN/../lib finds the packaged libraries under the scratch root.
"$ROOT/usr/bin/kiln" --version | grep -q "kiln $VERSION" || fail "the installed kiln does not run"
rt=$(ldd "$ROOT/usr/bin/kiln" | awk '$1 == "libkiln_runtime.so.0" {print $3}')
[ "$(readlink -f "$rt")" = "$(readlink -f "$ROOT/usr/lib/libkiln_runtime.so.0")" ] \
  || fail "the installed kiln uses $rt, not the packaged runtime"
"$ROOT/usr/bin/kiln" compile "$MODEL" -o "$WORK/m.plan" --builderOptimizationLevel=0 2>/dev/null || fail "the installed kiln cannot compile"
"$ROOT/usr/bin/kiln" inspect "$WORK/m.plan" >/dev/null || fail "the installed kiln cannot load its plan"

"${DPKG[@]}" -r kiln-dev kiln-tools kiln-runtime >"$WORK/dpkg-r.log" 2>&1 || { cat "$WORK/dpkg-r.log"; fail "dpkg -r"; }
[ "$(wc -l < "$WORK/ldconfig.calls")" -gt "$calls" ] || fail "no postrm ran ldconfig"
left=""
if [ -d "$ROOT/usr" ]; then left=$(find "$ROOT/usr" -type f -o -type l); fi
[ -z "$left" ] || fail "dpkg -r left files behind: $left"
for pkg in kiln-runtime kiln-tools kiln-dev; do
  if "${DPKG[@]}" -s $pkg 2>/dev/null | grep -q "^Status: install ok installed"; then fail "$pkg still installed after -r"; fi
done
echo "deb: $(cd "$WORK/out" && ls *.deb | tr '\n' ' ')have the right fields, files and Depends, install, run and remove cleanly"

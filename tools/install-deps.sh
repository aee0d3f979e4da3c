#!/usr/bin/env bash
# Installs what layercast needs to build and test on Debian/Ubuntu:
# a C compiler (and g++, which links CUDA programs), CMake, Ninja, OpenBLAS,
# CMocka, pkg-config, jansson (JSON), xxhash, PCRE2 (tokenizer regexes) and utf8proc
# (Unicode normalisation).  The CUDA toolkit is not installed here: it comes from
# NVIDIA's installer; without it layercast builds its CPU backend only.
# Does nothing (and needs no network) when everything is already present.
set -euo pipefail
pkgs=(gcc g++ cmake ninja-build pkg-config libopenblas-dev libcmocka-dev libjansson-dev libxxhash-dev
  libpcre2-dev libutf8proc-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all present (${pkgs[*]})"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to apt-get install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

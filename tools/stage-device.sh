#!/usr/bin/env bash
# Stages what a run on the GPU machine needs (it cannot download anything):
# ../shared/device/stage.sh's OpenBLAS, CMocka and models, plus the Debian
# packages of the other libraries layercast links (jansson, xxhash, PCRE2,
# utf8proc).  The prelude it writes unpacks every .deb in .device/debs.  Run
# from the project root, then name .device in the run's carry list.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
bash ../shared/device/stage.sh
if ! ls .device/debs/libjansson-dev_*.deb .device/debs/libxxhash-dev_*.deb \
  .device/debs/libpcre2-dev_*.deb .device/debs/libutf8proc-dev_*.deb >/dev/null 2>&1; then
  # runtime + development packages; libpcre2-dev's 16/32-bit and POSIX
  # libraries are not needed (only their .so links dangle)
  (cd .device/debs && apt-get download -qq libjansson4 libjansson-dev libxxhash0 libxxhash-dev \
    libpcre2-8-0 libpcre2-dev libutf8proc2 libutf8proc-dev 2>&1 |
    grep -v '^W: Download is performed unsandboxed' || true)
fi
ls .device/debs | sed 's/^/  /'

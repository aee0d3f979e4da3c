#!/usr/bin/env bash
# Installs what is needed, builds layercast (CUDA when nvcc is found) and runs
# the default job: `layercast demo`, a small accuracy-variance sweep on a
# synthetic Llama-shaped model written from a seed: strict and reference on
# the CPU, and strict, vendor-bf16 and vendor-fp32 on the GPU when there is
# one.  Extra arguments go to the demo (`tools/demo.sh --help`).
#
# It builds everything `cmake --install` installs (the shared and static
# libraries and the CLI), so `cmake --install build-release` works after it.
#   LC_BUILD_DIR   the build folder (default build-release)
#   LC_CUDA        AUTO (default), ON or OFF, as for CMake
#   --build-only   (first argument) build, do not run the demo
set -euo pipefail
cd "$(dirname "$0")/.."
build=${LC_BUILD_DIR:-build-release}
bash tools/install-deps.sh
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLC_CUDA="${LC_CUDA:-AUTO}" |
  grep -E "^-- (OpenBLAS|CUDA|CMocka)"
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target lc_installable >/dev/null
if [ "${1:-}" = "--build-only" ]; then exit 0; fi
exec "$build/layercast" demo "$@"

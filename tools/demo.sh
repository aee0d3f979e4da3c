#!/usr/bin/env bash
# Installs what is needed, builds layercast (CUDA when nvcc is found) and runs
# the default job: `layercast demo`, one matmul row across 23 batch sizes in
# strict and reference mode on the CPU.  Extra arguments go to the demo
# (`tools/demo.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release | grep -E "^-- (OpenBLAS|CUDA|CMocka)"
cmake --build build-release -j "$(nproc 2>/dev/null || echo 2)" --target layercast_cli >/dev/null
exec build-release/layercast demo "$@"

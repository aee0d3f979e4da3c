#!/usr/bin/env bash
# Installs what is needed, builds layercast (CUDA when nvcc is found) and runs
# the default job: `layercast demo`, a small accuracy-variance sweep on a
# synthetic Llama-shaped model written from a seed: strict and reference on
# the CPU, and strict, vendor-bf16 and vendor-fp32 on the GPU when there is
# one.  Extra arguments go to the demo (`tools/demo.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release | grep -E "^-- (OpenBLAS|CUDA|CMocka)"
cmake --build build-release -j "$(nproc 2>/dev/null || echo 2)" --target layercast_cli >/dev/null
exec build-release/layercast demo "$@"

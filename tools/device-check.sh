#!/usr/bin/env bash
# On the GPU machine (see ../shared/device/README.md): build with CUDA, run the
# whole test suite (GPU tests included) and the benchmarks, and leave the logs
# and bench/RESULTS-style Markdown under $OUT (or build-gpu/ without $OUT).
#   tools/device-check.sh [--quick-bench]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build-gpu}
mkdir -p "$out" build-gpu
[ -f .device/prelude.sh ] && source .device/prelude.sh
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
models="$PWD/.device/models"; [ -d "$models" ] || models="$PWD/../shared/models"
cmake -S . -B build-gpu "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLC_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DLC_MODELS_DIR="$models" | grep -E "^-- (OpenBLAS|CUDA|CMocka)"
cmake --build build-gpu -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
(cd build-gpu && ctest -j 4 -V >"$out/ctest.log" 2>&1); rc=$?
grep -E "Test +#[0-9]+: |tests passed|Total Test time" "$out/ctest.log" | sed -E 's/^[0-9]+: //' | grep -vE "^ *Start" || true
for k in PASSED FAILED SKIPPED; do
  printf '%s ' "$k"; grep -oE "\[  $k *\] [0-9]+ test" "$out/ctest.log" | awk '{s+=$(NF-1)} END {print s+0}'
done
[ $rc -ne 0 ] && (cd build-gpu && ctest --rerun-failed --output-on-failure 2>&1 | tail -60)
bq=(); [ "${1:-}" = "--quick-bench" ] && bq=(--quick)
bash bench/run.sh --build build-gpu --out "$out/RESULTS.md" "${bq[@]}" >"$out/bench.log" 2>&1 || echo "bench failed: see bench.log"
tail -45 "$out/bench.log"
exit $rc

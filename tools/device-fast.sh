#!/usr/bin/env bash
# On the GPU machine: the fast and bf16 tiers checked in priority order, so that
# a short device lease still answers the first questions: build, the MMA probe
# (does the hardware follow the CPU model?), test_cuda_fast (CUDA == CPU on every
# path, invariance), a CPU+CUDA sweep (CPU fast == CUDA fast end to end), the
# CUDA sweep beside vendor-bf16, bench_matmul --quick (the prefill bar), then
# the rest of the GPU suite.  Logs under $OUT (or build-gpu/).
#   tools/device-fast.sh [--model32]   (--model32: then bench_model on the
#   32-layer Llama-3-8B-shaped model and a sweep on it; ~15 GB in /tmp)
set -uo pipefail
cd "$(dirname "$0")/.."
model32=0; [ "${1:-}" = "--model32" ] && model32=1
out=${OUT:-build-gpu}; mkdir -p "$out"
t0=$(date +%s)
el() { echo "[$(($(date +%s) - t0))s] $*"; }
[ -f .device/prelude.sh ] && source .device/prelude.sh
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
models="$PWD/.device/models"; [ -d "$models" ] || models="$PWD/../shared/models"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
cmake -S . -B build-gpu "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLC_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90a -DLC_MODELS_DIR="$models" >"$out/cmake.log" 2>&1
cmake --build build-gpu -j "$(nproc)" --target layercast_cli test_cuda_mma test_cuda_fast \
  bench_matmul >"$out/build1.log" 2>&1 || { tail -30 "$out/build1.log"; exit 1; }
el "built"
timeout 120 build-gpu/tests/test_cuda_mma >"$out/mma.log" 2>&1
el "test_cuda_mma rc=$?"; grep -E "probe|verdict|FAIL|ERROR|SKIP" "$out/mma.log" | cut -c1-300
timeout 300 build-gpu/tests/test_cuda_fast >"$out/fast.log" 2>&1
el "test_cuda_fast rc=$?"
grep -E "awkward|model shapes|batch inv|normwise|wgmma|FAIL|ERROR|PASSED|Failure|differ" \
  "$out/fast.log" | cut -c1-300 | head -24
if [ -f "$models/stories260K.bin" ]; then
  for i in $(seq 0 7); do
    printf '{"tokens": [1'
    for j in $(seq 1 $((4 + 3 * i))); do printf ', %d' $(((i * 31 + j * 17) % 509 + 3)); done
    printf ']}\n'
  done >"$out/prompts260k.jsonl"
  timeout 150 build-gpu/layercast sweep --model "$models/stories260K.bin" \
    --prompts "$out/prompts260k.jsonl" --backends cpu,cuda --modes strict,fast,bf16 \
    --batch-sizes 1,7 --positions first,last --max-new 96 --no-progress \
    --out "$out/sweep260k-x" >"$out/sweep260k-x.log" 2>&1
  el "sweep cpu+cuda rc=$?"; tail -12 "$out/sweep260k-x.log"
  timeout 150 build-gpu/layercast sweep --model "$models/stories260K.bin" \
    --prompts "$out/prompts260k.jsonl" --backends cuda --modes strict,fast,bf16,vendor-bf16 \
    --batch-sizes 1,7,32,64 --positions first,middle,last --max-new 96 --no-progress \
    --out "$out/sweep260k" >"$out/sweep260k.log" 2>&1
  el "sweep cuda rc=$?"; tail -6 "$out/sweep260k.log"
  rm -f "$out"/sweep260k*/*.svg
fi
timeout 200 build-gpu/bench/bench_matmul --quick >"$out/bench_matmul.log" 2>&1
el "bench_matmul rc=$?"; grep -E "fast|bf16|sgemm|PASS|FAIL|copy" "$out/bench_matmul.log" | head -60
cmake --build build-gpu -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
(cd build-gpu && timeout 400 ctest -j 3 -R "cuda|cublaslt|verify|experiment|model|generate" \
  -E "test_cuda_fast|test_cuda_mma" >"$out/ctest-gpu.log" 2>&1)
el "GPU suite rc=$?"; tail -25 "$out/ctest-gpu.log"
[ $model32 -eq 1 ] || exit 0
timeout 560 build-gpu/bench/bench_model --dir /tmp/bm32 --layers 32 --batches 1,8,32,64 --steps 16 \
  --reps 3 --modes strict,fast,bf16,vendor-bf16 --md "$out/bench_model32.md" \
  >"$out/bench_model32.log" 2>&1
el "bench_model rc=$?"; tail -30 "$out/bench_model32.log"
for i in 0 1 2 3; do
  printf '{"tokens": [128000'
  for j in $(seq 1 $((6 + 5 * i))); do printf ', %d' $(((i * 7919 + j * 104729) % 128000 + 10)); done
  printf ']}\n'
done >"$out/prompts8b.jsonl"
timeout 400 build-gpu/layercast sweep --model /tmp/bm32 --prompts "$out/prompts8b.jsonl" \
  --backends cuda --modes strict,fast,bf16,vendor-bf16 --batch-sizes 1,8,32 --positions first,last \
  --max-new 32 --no-progress --out "$out/sweep8b" >"$out/sweep8b.log" 2>&1
el "sweep 8B rc=$?"; tail -8 "$out/sweep8b.log"; rm -f "$out"/sweep8b/*.svg

#!/usr/bin/env bash
# On the GPU machine: the open checks of the fast/bf16 tiers and of text, in
# priority order, so that a short device lease still answers the first
# questions.  Each step has a time limit; logs go under $OUT (or build-gpu/).
#   1. build; 2. test_cuda_mma (does the hardware follow the MMA model, now
#   with subnormal bf16 normalised? the subnormal-switch line says which
#   variant matches); 3. test_cuda_fast (CUDA == CPU emulation, every path);
#   4. bench_matmul --quick (fast vs fast-alt: the kernel family AUTO does not
#   take; the prefill bar); 5. tools/tok_check.py against Python `tokenizers`
#   (needs .cache/tokenizers carried: tools/fetch-tokenizers.sh); 6. a scored
#   text sweep (tests/data/arith50.jsonl, Qwen3's tokenizer on a synthetic
#   Qwen3-shaped model); 7. bench_model (decode tokens/s, Llama-3-8B layer
#   shapes, --layers N); 8. a sweep on that model; 9. the rest of the GPU suite.
#   tools/device-fast.sh [--layers N]     (default 8; 32 needs ~15 GB in /tmp)
# On an H100 on 2026-12-07 it ran past a call's 10-minute limit in its last step
# (the CUDA allocation walk); a TERM makes it pack its logs before it stops
# (not tried on the device yet).
# Carry: .device (tools/stage-device.sh) and .cache/tokenizers.
set -uo pipefail
cd "$(dirname "$0")/.."
layers=8
[ "${1:-}" = "--layers" ] && layers=${2:-8}
# Logs go to a folder of their own; $OUT gets them as one archive (the device
# tool brings back only a few files), also when the call's time limit cuts
# the script short.  Run it without a pipe (`bash tools/device-fast.sh`): the
# key lines are printed as each step ends.
out=/tmp/lc-device-logs
rm -rf "$out"
mkdir -p "$out"
pack() { [ -n "${OUT:-}" ] && tar czf "$OUT/device-fast-logs.tgz" -C "$out" . 2>/dev/null; }
trap pack EXIT
trap 'pack; exit 124' TERM INT
t0=$(date +%s)
el() { echo "[$(($(date +%s) - t0))s] $*"; }
[ -f .device/prelude.sh ] && source .device/prelude.sh
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
models="$PWD/.device/models"
[ -d "$models" ] || models="$PWD/../shared/models"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
L=build-gpu/layercast
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
cmake -S . -B build-gpu "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLC_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90a -DLC_MODELS_DIR="$models" >"$out/cmake.log" 2>&1
cmake --build build-gpu -j "$(nproc)" --target layercast_cli test_cuda_mma test_cuda_fast \
  bench_matmul bench_model >"$out/build1.log" 2>&1 || {
  tail -30 "$out/build1.log"
  exit 1
}
el "built"
timeout 90 build-gpu/tests/test_cuda_mma >"$out/mma.log" 2>&1
el "test_cuda_mma rc=$?"
grep -E "differ|verdict|switches|PASSED|FAILED" "$out/mma.log" | cut -c1-400
timeout 120 build-gpu/tests/test_cuda_fast >"$out/fast.log" 2>&1
el "test_cuda_fast rc=$?"
grep -E "runs|normwise|PASSED|FAILED|Failure" "$out/fast.log" | cut -c1-300
timeout 90 build-gpu/bench/bench_matmul --quick >"$out/bench_matmul.log" 2>&1
el "bench_matmul rc=$?"
grep -E "M=(1|16|256|4096) N=4096 K=(4096|14336)" "$out/bench_matmul.log" |
  grep -E "fast|bf16|sgemm" | cut -c1-120
grep -E "PASS|FAIL|validation|distinct" "$out/bench_matmul.log" | cut -c1-300
if [ -d .cache/tokenizers ] && python3 -c "import tokenizers" 2>/dev/null; then
  timeout 120 python3 tools/tok_check.py --cli "$L" --dir .cache/tokenizers --n 3000 --show 3 \
    >"$out/tok_check.log" 2>&1
  el "tok_check rc=$?"
  tail -25 "$out/tok_check.log" | cut -c1-300
fi
if [ -d .cache/tokenizers/qwen3 ]; then
  $L synth --out /tmp/q3s --arch qwen3 --dim 64 --hidden 128 --layers 2 --heads 4 --kv-heads 2 \
    --vocab 151936 --max-seq 512 >/dev/null && cp .cache/tokenizers/qwen3/* /tmp/q3s/ &&
    printf '{"eos_token_id": [151645, 151643]}\n' >/tmp/q3s/generation_config.json
  # batch 32 too takes over 200 s (151936-wide logits ranked and hashed on the host per row)
  rm -rf /tmp/swa
  timeout 120 $L sweep --model /tmp/q3s --prompts tests/data/arith50.jsonl --chat --answer number \
    --backends cuda --modes strict,fast,bf16,vendor-bf16 --batch-sizes 1,8 \
    --positions first,last --max-new 16 --no-progress --out /tmp/swa >"$out/sweep_arith.log" 2>&1
  el "sweep arith rc=$?"
  tail -7 "$out/sweep_arith.log"
  head -c 3000 /tmp/swa/runs.jsonl >"$out/arith_runs_head.txt"
fi
timeout 300 build-gpu/bench/bench_model --dir /tmp/bm --layers "$layers" --batches 1,8,32,64 \
  --steps 16 --reps 3 --modes strict,fast,bf16,vendor-bf16 --md "$out/bench_model.md" \
  >"$out/bench_model.log" 2>&1
el "bench_model rc=$?"
tail -24 "$out/bench_model.md" 2>/dev/null
for i in 0 1 2 3; do
  printf '{"tokens": [128000'
  for j in $(seq 1 $((6 + 5 * i))); do printf ', %d' $(((i * 7919 + j * 104729) % 128000 + 10)); done
  printf ']}\n'
done >"$out/prompts8b.jsonl"
rm -rf /tmp/sweep8b
timeout 200 $L sweep --model /tmp/bm --prompts "$out/prompts8b.jsonl" --backends cuda \
  --modes strict,fast,bf16,vendor-bf16 --batch-sizes 1,8,32 --positions first,last --max-new 32 \
  --no-progress --out /tmp/sweep8b >"$out/sweep8b.log" 2>&1
el "sweep 8B-shape rc=$?"
tail -8 "$out/sweep8b.log"
if [ -f "$models/stories260K.bin" ]; then
  for i in $(seq 0 7); do
    printf '{"tokens": [1'
    for j in $(seq 1 $((4 + 3 * i))); do printf ', %d' $(((i * 31 + j * 17) % 509 + 3)); done
    printf ']}\n'
  done >"$out/prompts260k.jsonl"
  rm -rf /tmp/sweep260k-x
  timeout 150 $L sweep --model "$models/stories260K.bin" --prompts "$out/prompts260k.jsonl" \
    --backends cpu,cuda --modes strict,fast,bf16 --batch-sizes 1,7 --positions first,last \
    --max-new 48 --no-progress --out /tmp/sweep260k-x >"$out/sweep260k-x.log" 2>&1
  el "sweep cpu+cuda rc=$?"
  tail -8 "$out/sweep260k-x.log"
  python3 -c 'import json,sys; [print("agreement:", a) for a in json.load(open(sys.argv[1])).get("agreement", [])]' \
    /tmp/sweep260k-x/summary.json 2>&1 | head -12
fi
cmake --build build-gpu -j "$(nproc)" >"$out/build.log" 2>&1 || {
  tail -30 "$out/build.log"
  exit 1
}
(cd build-gpu && timeout 400 ctest -j 3 -R "cuda|cublaslt|verify|experiment|model|generate|loglik" \
  -E "test_cuda_fast|test_cuda_mma" >"$out/ctest-gpu.log" 2>&1)
el "GPU suite rc=$?"
tail -25 "$out/ctest-gpu.log"
if [ -x build-gpu/tests/test_alloc_fail ]; then
  LCT_FILTER=test_alloc_fail_cuda timeout 120 build-gpu/tests/test_alloc_fail >"$out/alloc_fail_cuda.log" 2>&1
  el "alloc-fail CUDA walk rc=$?"
  grep -E "allocations|ERROR|PASSED|FAILED" "$out/alloc_fail_cuda.log" | cut -c1-300
fi

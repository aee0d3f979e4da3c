#!/usr/bin/env bash
# On the GPU machine (see ../shared/device/README.md): build with CUDA, run the
# whole test suite (GPU tests included) and the benchmarks, and leave the logs
# and bench/RESULTS-style Markdown under $OUT (or build-gpu/ without $OUT).
#   tools/device-check.sh [--quick-bench] [--no-tests] [--no-bench] [--sanitize]
# (--sanitize: build, then only the GPU tests under compute-sanitizer's four
# tools, tools/device-sanitize.sh; 0 errors is the bar)
# (--no-tests / --no-bench split the work into two runs of under 10 minutes)
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0 tests=1 bench=1 sanitize=0
for a in "$@"; do
  case "$a" in
    --quick-bench) quick=1 ;;
    --no-tests) tests=0 ;;
    --no-bench) bench=0 ;;
    --sanitize) sanitize=1 ;;
    *) echo "device-check: unknown option $a" >&2; exit 2 ;;
  esac
done
out=${OUT:-build-gpu}
mkdir -p "$out" build-gpu
[ -f .device/prelude.sh ] && source .device/prelude.sh
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
models="$PWD/.device/models"; [ -d "$models" ] || models="$PWD/../shared/models"
cmake -S . -B build-gpu "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLC_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90a -DLC_MODELS_DIR="$models" | grep -E "^-- (OpenBLAS|CUDA|CMocka)"
cmake --build build-gpu -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
if [ $sanitize -eq 1 ]; then
  bash tools/device-sanitize.sh
  exit $?
fi
rc=0
if [ $tests -eq 1 ]; then
(cd build-gpu && ctest -j 4 -V >"$out/ctest.log" 2>&1); rc=$?
grep -E "Test +#[0-9]+: |tests passed|Total Test time" "$out/ctest.log" | sed -E 's/^[0-9]+: //' | grep -vE "^ *Start" || true
for k in PASSED FAILED SKIPPED; do
  printf '%s ' "$k"; grep -oE "\[  $k *\] [0-9]+ test" "$out/ctest.log" | awk '{s+=$(NF-1)} END {print s+0}'
done
[ $rc -ne 0 ] && (cd build-gpu && ctest --rerun-failed --output-on-failure 2>&1 | tail -60)
fi
# the README's main command on this machine: it must find the GPU and say
# that CPU strict and CUDA strict agree bitwise
echo "== layercast demo"
build-gpu/layercast demo >"$out/demo.log" 2>&1 || { echo "demo failed"; rc=1; }
tail -25 "$out/demo.log"
# the promises checked on this machine: CUDA <mode> == CPU <mode> for strict,
# fast and bf16, op by op and through a whole model; a missing GPU is a
# failure here (--require-gpu)
for mode in strict fast bf16; do
  sfx=""; [ "$mode" = strict ] || sfx="-$mode"
  echo "== layercast verify ops / model --mode $mode --require-gpu"
  build-gpu/layercast verify ops --mode "$mode" --require-gpu >"$out/verify-ops$sfx.log" 2>&1 ||
    { echo "verify ops --mode $mode failed"; rc=1; }
  tail -1 "$out/verify-ops$sfx.log"
  if [ -f "$models/stories260K.bin" ]; then
    build-gpu/layercast verify model --model "$models/stories260K.bin" --mode "$mode" --require-gpu \
      >"$out/verify-model$sfx.log" 2>&1 || { echo "verify model --mode $mode failed"; rc=1; }
    tail -3 "$out/verify-model$sfx.log"
  fi
done
[ $bench -eq 1 ] || exit $rc
bq=(); [ $quick -eq 1 ] && bq=(--quick)
bash bench/run.sh --build build-gpu --out "$out/RESULTS.md" "${bq[@]}" >"$out/bench.log" 2>&1 || echo "bench failed: see bench.log"
grep -E "^- (PASS|FAIL)|^\| (strict|fast|bf16|vendor)" "$out/bench.log" | tail -40
# the accuracy-variance sweep on stories260K: CPU strict, CUDA strict, fast,
# bf16 and the vendor modes; strict, fast and bf16 must report 1 unique
# output per prompt
if [ -f "$models/stories260K.bin" ]; then
  echo "== sweep on stories260K"
  for i in $(seq 0 7); do
    printf '{"tokens": [1'; for j in $(seq 1 $((4 + 3 * i))); do printf ', %d' $(((i * 31 + j * 17) % 509 + 3)); done; printf ']}\n'
  done >"$out/prompts260k.jsonl"
  build-gpu/layercast sweep --model "$models/stories260K.bin" --prompts "$out/prompts260k.jsonl" \
    --backends cuda --modes strict,fast,bf16,vendor-bf16,vendor-fp32 --batch-sizes 1,7,32,64 \
    --positions first,middle,last --max-new 96 --no-progress --out "$out/sweep260k" \
    >"$out/sweep260k.log" 2>&1 || { echo "sweep failed"; rc=1; }
  tail -14 "$out/sweep260k.log"
  # CPU strict on a smaller grid: its token hashes must equal CUDA strict's
  build-gpu/layercast sweep --model "$models/stories260K.bin" --prompts "$out/prompts260k.jsonl" \
    --backends cpu --modes strict --batch-sizes 1,7 --positions first,last --max-new 96 \
    --no-progress --out "$out/sweep260k-cpu" >"$out/sweep260k-cpu.log" 2>&1 || { echo "sweep failed"; rc=1; }
  tail -6 "$out/sweep260k-cpu.log"
fi
# a sweep on the synthetic Llama-3-8B-shaped model bench_model wrote
m8=build-gpu/bench-model-llama3-8b-shape
if [ -f "$m8/config.json" ]; then
  echo "== sweep on $m8"
  for i in 0 1 2 3; do
    printf '{"tokens": [1'; for j in $(seq 1 $((12 + 5 * i))); do printf ', %d' $(((i * 7919 + j * 104729) % 128000 + 3)); done; printf ']}\n'
  done >"$out/prompts8b.jsonl"
  build-gpu/layercast sweep --model "$m8" --prompts "$out/prompts8b.jsonl" --backends cuda \
    --modes strict,fast,bf16,vendor-bf16,vendor-fp32 --batch-sizes 1,8,32 --positions first,last \
    --max-new 32 --no-progress --out "$out/sweep8b" >"$out/sweep8b.log" 2>&1 || { echo "sweep failed"; rc=1; }
  tail -20 "$out/sweep8b.log"
fi
exit $rc

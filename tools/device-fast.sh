#!/usr/bin/env bash
# On the GPU machine: the open checks of the fast/bf16 tiers and of text, in
# steps, so that one call of the device tool (10 minutes at most) runs a few of
# them and the next call, on the still-warm machine, the rest:
#   build    configure and build build-gpu (every step needs it; incremental)
#   mma      test_cuda_mma: does the hardware follow the MMA model? (the
#            subnormal-switch lines say which variant matches)
#   fast     test_cuda_fast: CUDA == the CPU emulation, every path
#   matmul   bench_matmul --quick (fast against fast-alt, the kernel family
#            AUTO does not take; the prefill bar)
#   ab       the wgmma decode kernel built with other switches (the CUDA
#            flags in LC_AB_FLAGS, default -DFDW_PF256=0: without W's
#            L2::256B hint; e.g. "-DFDW_TWO_PER_SM=0 -DFDW_SPLIT_AHEAD=0"),
#            in build-gpu-ab: bench_matmul --quick's M <= 16 rows, to set
#            beside those of `matmul`
#   profile  ncu (--clock-control none) kernel times of the M = 1 matmuls of
#            strict and fast on the Llama-3-8B shapes: the split, the wgmma
#            decode and the combine kernels one by one (cold L2, serialised)
#   text     tools/tok_check.py against Python `tokenizers` (needs
#            .cache/tokenizers: tools/fetch-tokenizers.sh) and a scored text
#            sweep (tests/data/arith50.jsonl, Qwen3's tokenizer)
#   model    bench_model: decode tokens/s on Llama-3-8B layer shapes (--layers N;
#            LC_BENCH_GRAPHS=on|off|both: decode passes from CUDA graphs)
#   sweeps   a sweep on that model; CPU and CUDA sweeps on stories260K
#   long     issue 12's long generation: 32760 greedy tokens after an 8-token
#            prompt on the 8B-shaped model with 2 layers, CUDA strict, the
#            target alone (batch 1) and as the last row of 8 beside random
#            neighbours; the two token lists must be equal
#   attn     bench_ops' attention (fp32 and bf16 KV, 8 sequences x 1K..32K)
#            and argmax rows (LC_BENCH_OPS_ONLY=attention,argmax)
#   graphs   bench_model --graphs both: decode steps replayed from CUDA graphs
#            against launched op by op (strict, fast, vendor-bf16; batch 1, 8)
#   fused    the fused decode ops' GPU tests (test_cuda_ops add_rmsnorm and
#            rope_kv_write), test_cuda_model (graphs, GPU == CPU), test_cuda_attention
#   joined   bench_matmul --quick on the k/v, q, joined q/k/v, gate/up and joined
#            gate/up shapes (one-row passes run the joined matmuls)
#   prefill  bench_ops' prefill attention rows (1 x 1024 and 4096 rows) as built (the
#            rows kernel), built with -DATTN_ROWS=0 (the tiled kernel, rows fastest)
#            and with -DATTN_ROWS_INNER=0 (the tiled kernel, the decode item order)
#   attnab   bench_ops' attention rows built as they are and with other switches
#            (the CUDA flags in LC_AB_FLAGS, default "-DATTN_MINB=3 -DATTN_TK_BIG=0":
#            32-key tiles, registers for 3 blocks per SM) in build-gpu-ab
#   m64      bench_matmul at every M on 4096x4096 and 4096x14336 with fast-alt the
#            wgmma tiled kernel (LC_BENCH_FAST_ALT=wgmma): where AUTO's switch from
#            the wgmma decode kernel (M <= 64) should be
#   pdlab    bench_model strict and vendor-bf16 (batch 1, 8; --layers) as built and
#            built with -DDS_PDL=0 (the streaming decode matmul without programmatic
#            dependent launch) in build-gpu-ab
#   suite    the rest of the GPU test suite (ctest)
#   alloc    the CUDA allocation-failure walk of tests/test_alloc_fail
#   tools/device-fast.sh [--layers N] [--context N] [--deadline S] [STEP ...]
#   (--context: bench_model's prompt tokens per sequence, default 128; no step:
#   build mma fast matmul model sweeps suite; --layers: default 8, 32 needs
#   ~15 GB in /tmp; --deadline: a step that would start S seconds or more
#   after the script began is skipped, and said so, instead of being cut
#   short by the device tool's limit)
# On an H100 on 2026-12-07 all steps in one call ran past the 10-minute limit.
# Carry: .device (tools/stage-device.sh) and .cache/tokenizers.
set -uo pipefail
cd "$(dirname "$0")/.."
layers=8 deadline=0 context=128
steps=()
while [ $# -gt 0 ]; do
  case "$1" in
    --layers) layers=${2:-8}; shift 2 ;;
    --deadline) deadline=${2:-0}; shift 2 ;;
    --context) context=${2:-128}; shift 2 ;;
    build | mma | fast | matmul | ab | profile | text | model | long | sweeps | suite | alloc | attn | \
      graphs | fused | joined | prefill | m64 | attnab | pdlab)
      steps+=("$1")
      shift
      ;;
    *) echo "device-fast: unknown step or option $1" >&2; exit 2 ;;
  esac
done
[ ${#steps[@]} -eq 0 ] && steps=(build mma fast matmul model sweeps suite)
want() {
  [[ " ${steps[*]} " == *" $1 "* ]] || return 1
  if [ "$deadline" -gt 0 ] && [ $(($(date +%s) - t0)) -ge "$deadline" ]; then
    echo "[$(($(date +%s) - t0))s] step $1 skipped: past the --deadline of ${deadline}s"
    return 1
  fi
  return 0
}
# Logs go to a folder of their own; $OUT gets them as one archive (the device
# tool brings back only a few files), also when the call's time limit cuts
# the script short.  Run it without a pipe (`bash tools/device-fast.sh`): the
# key lines are printed as each step ends.
out=/tmp/lc-device-logs
rm -rf "$out"
mkdir -p "$out"
pack() { [ -n "${OUT:-}" ] && tar czf "$OUT/device-fast-logs-${steps[0]}.tgz" -C "$out" . 2>/dev/null; }
trap pack EXIT
trap 'pack; exit 124' TERM INT
t0=$(date +%s)
el() { echo "[$(($(date +%s) - t0))s] $*"; }
[ -f .device/prelude.sh ] && source .device/prelude.sh
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
models="$PWD/.device/models"
[ -d "$models" ] || models="$PWD/../shared/models"
gen=() keep_going=()
command -v ninja >/dev/null && gen=(-G Ninja) keep_going=(-- -k 0)
L=build-gpu/layercast
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
cfg() { # cfg DIR [CUDA flags]
  cmake -S . -B "$1" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLC_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90a -DLC_MODELS_DIR="$models" ${2:+"-DCMAKE_CUDA_FLAGS=$2"} \
    >"$out/cmake-$(basename "$1").log" 2>&1
}
# ops_ab ONLY FLAGS TAG LIMIT "BENCH_ARGS" PATTERN WIDTH: bench_ops' rows ONLY
# (LC_BENCH_OPS_ONLY) from build-gpu, then from build-gpu-ab built with the CUDA
# flags FLAGS; logs $out/TAG-a.log and TAG-b.log, lines matching PATTERN printed
ops_ab() {
  local only=$1 flags=$2 tag=$3 limit=$4 args=$5 pat=$6 width=$7
  # shellcheck disable=SC2086  # args: several options
  LC_BENCH_OPS_ONLY=$only timeout "$limit" build-gpu/bench/bench_ops $args >"$out/$tag-a.log" 2>&1
  el "bench_ops $only, as built rc=$?"
  grep -E "$pat" "$out/$tag-a.log" | cut -c1-"$width"
  cfg build-gpu-ab "$flags"
  # shellcheck disable=SC2086
  cmake --build build-gpu-ab -j "$(nproc)" --target bench_ops >"$out/build-ab.log" 2>&1 &&
    LC_BENCH_OPS_ONLY=$only timeout "$limit" build-gpu-ab/bench/bench_ops $args \
      >"$out/$tag-b.log" 2>&1
  el "bench_ops $only, built with $flags rc=$?"
  grep -E "$pat" "$out/$tag-b.log" | cut -c1-"$width"
}
if want build; then
  cfg build-gpu
  # everything: the suite's binaries too (a warm machine keeps build-gpu)
  cmake --build build-gpu -j "$(nproc)" "${keep_going[@]}" >"$out/build.log" 2>&1 || {
    grep -E "error" "$out/build.log" | head -20
    tail -30 "$out/build.log"
    exit 1
  }
  el "built"
fi
if want mma; then
  timeout 90 build-gpu/tests/test_cuda_mma >"$out/mma.log" 2>&1
  el "test_cuda_mma rc=$?"
  grep -E "differ|diff [0-9]+:|verdict|switches|PASSED|FAILED" "$out/mma.log" | cut -c1-330 | head -60
fi
if want fast; then
  timeout 150 build-gpu/tests/test_cuda_fast >"$out/fast.log" 2>&1
  el "test_cuda_fast rc=$?"
  grep -E "runs|normwise|PASSED|FAILED|Failure|differ" "$out/fast.log" | cut -c1-300 | head -30
fi
if want matmul; then
  timeout 150 build-gpu/bench/bench_matmul --quick --md "$out/bench_matmul.md" \
    >"$out/bench_matmul.log" 2>&1
  el "bench_matmul rc=$?"
  grep -E "M=(1|16|256|4096) N=[0-9]+ K=[0-9]+" "$out/bench_matmul.log" |
    grep -E "strict|fast|bf16 " | cut -c1-120
  grep -E "PASS|FAIL|validation|distinct|bandwidth|decode grid" "$out/bench_matmul.log" | cut -c1-300
fi
if want ab; then
  cfg build-gpu-ab "${LC_AB_FLAGS:--DFDW_PF256=0}"
  cmake --build build-gpu-ab -j "$(nproc)" --target bench_matmul >"$out/build-ab.log" 2>&1 || {
    tail -30 "$out/build-ab.log"
    exit 1
  }
  el "built build-gpu-ab (${LC_AB_FLAGS:--DFDW_PF256=0})"
  timeout 150 build-gpu-ab/bench/bench_matmul --quick >"$out/bench_matmul-ab.log" 2>&1
  el "bench_matmul built with ${LC_AB_FLAGS:--DFDW_PF256=0} rc=$?"
  grep -E "M=(1|16) N=[0-9]+ K=[0-9]+" "$out/bench_matmul-ab.log" | grep -E "strict|fast |bf16 " |
    cut -c1-120
fi
if want profile; then
  ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  for sh in 4096x4096 4096x14336 14336x4096 128256x4096; do
    # the first matching launches: the validation calls of strict, fast and
    # bf16 at M = 1 (then the timed ones)
    timeout 150 "$ncu" --clock-control none \
      -k regex:"fast_split|fast_wgmma_decode|matmul_combine|matmul_decode_stream" \
      --launch-count 10 --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed \
      build-gpu/bench/bench_matmul --quick --shape "$sh" --reps 5 >"$out/ncu-$sh.log" 2>&1
    el "ncu N x K = $sh rc=$?"
    grep -E "^  [a-z_]+.*\(|gpu__time_duration|dram__bytes_read|dram__throughput" "$out/ncu-$sh.log" |
      sed -E 's/\(const .*\)\)? \(/ (/; s/, Context.*//; s/ +/ /g' | cut -c1-110
  done
fi
if want text && [ -d .cache/tokenizers ] && python3 -c "import tokenizers" 2>/dev/null; then
  timeout 120 python3 tools/tok_check.py --cli "$L" --dir .cache/tokenizers --n 3000 --show 3 \
    >"$out/tok_check.log" 2>&1
  el "tok_check rc=$?"
  tail -25 "$out/tok_check.log" | cut -c1-300
fi
if want text && [ -d .cache/tokenizers/qwen3 ]; then
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
if want model; then
  timeout 300 build-gpu/bench/bench_model --dir /tmp/bm --layers "$layers" --batches 1,8,32,64 \
    --steps 16 --reps 3 --context "$context" --modes strict,fast,bf16,vendor-bf16 \
    --graphs "${LC_BENCH_GRAPHS:-on}" \
    --md "$out/bench_model.md" \
    >"$out/bench_model.log" 2>&1
  el "bench_model rc=$?"
  tail -24 "$out/bench_model.md" 2>/dev/null
fi
if want pdlab; then
  # the streaming decode matmul with programmatic dependent launch (as built) and
  # without (-DDS_PDL=0), strict and vendor-bf16 at batch 1 and 8, one after the other
  cfg build-gpu-ab "-DDS_PDL=0"
  cmake --build build-gpu-ab -j "$(nproc)" --target bench_model >"$out/build-ab.log" 2>&1
  el "built build-gpu-ab (-DDS_PDL=0) rc=$?"
  for b in build-gpu build-gpu-ab; do
    timeout 160 $b/bench/bench_model --dir /tmp/bm --layers "$layers" --batches 1,8 --steps 16 \
      --reps 3 --context "$context" --modes strict,vendor-bf16 --graphs on \
      --md "$out/pdl-$b.md" >"$out/pdl-$b.log" 2>&1
    el "bench_model strict,vendor-bf16, $b rc=$?"
    grep -E "^\| (strict|vendor)" "$out/pdl-$b.md" 2>/dev/null
  done
fi
if want attn; then
  LC_BENCH_OPS_ONLY=attention,argmax timeout 150 build-gpu/bench/bench_ops --reps 30 --cell-ms 150 \
    --md "$out/bench_ops_attn.md" >"$out/bench_ops_attn.log" 2>&1
  el "bench_ops attention, argmax rc=$?"
  grep -E "attention|argmax|validation|bandwidth" "$out/bench_ops_attn.log" | cut -c1-170
fi
if want graphs; then
  timeout 200 build-gpu/bench/bench_model --dir /tmp/bm --layers "$layers" --batches 1,8 \
    --steps 16 --reps 3 --context "$context" --modes strict,fast,vendor-bf16 --graphs both \
    --md "$out/bench_model_graphs.md" >"$out/bench_model_graphs.log" 2>&1
  el "bench_model --graphs both rc=$?"
  tail -16 "$out/bench_model_graphs.md" 2>/dev/null
fi
if want long; then
  rm -rf /tmp/l32
  $L synth --out /tmp/l32 --preset llama3-8b-shape --layers 2 --max-seq 32800 \
    >"$out/long_synth.log" 2>&1
  el "synth 2-layer 8B shape, 32800 positions rc=$?"
  for b in 1 8; do
    t1=$(date +%s.%N)
    timeout 400 $L generate --model /tmp/l32 --backend cuda --mode strict \
      --prompt "1 2 3 4 5 6 7 8" --batch $b --position last --neighbours random \
      --max-new 32760 --stop none --no-progress --stats >"$out/long-$b.txt" 2>"$out/long-$b.err"
    rc=$?
    t2=$(date +%s.%N)
    el "32760 tokens, batch $b rc=$rc: $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f s, %.0f target tokens/s, %.0f tokens/s over the batch", b - a, 32760 / (b - a), '"$b"' * 32760 / (b - a) }')"
    tail -3 "$out/long-$b.err"
  done
  echo "token ids: batch 1 $(wc -w <"$out/long-1.txt"), batch 8 $(wc -w <"$out/long-8.txt")"
  cmp -s "$out/long-1.txt" "$out/long-8.txt" && echo "32K generation: batch 1 == batch 8, every token id" ||
    echo "32K generation: batch 1 and batch 8 DIFFER"
fi
if want sweeps; then
  for i in 0 1 2 3; do
    printf '{"tokens": [128000'
    for j in $(seq 1 $((6 + 5 * i))); do printf ', %d' $(((i * 7919 + j * 104729) % 128000 + 10)); done
    printf ']}\n'
  done >"$out/prompts8b.jsonl"
  rm -rf /tmp/sweep8b
  [ -d /tmp/bm ] && timeout 200 $L sweep --model /tmp/bm --prompts "$out/prompts8b.jsonl" \
    --backends cuda --modes strict,fast,bf16,vendor-bf16 --batch-sizes 1,8,32 --positions first,last \
    --max-new 32 --no-progress --out /tmp/sweep8b >"$out/sweep8b.log" 2>&1
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
fi
if want fused; then
  LC_CUDA_OPS_FILTER="*_rmsnorm_matches_cpu" timeout 90 build-gpu/tests/test_cuda_ops \
    >"$out/ops-fused.log" 2>&1
  el "test_cuda_ops (rmsnorm, add_rmsnorm) rc=$?"
  LC_CUDA_OPS_FILTER="*rope_kv_write*" timeout 90 build-gpu/tests/test_cuda_ops \
    >>"$out/ops-fused.log" 2>&1
  el "test_cuda_ops (rope_kv_write) rc=$?"
  grep -E "add_rmsnorm|rope_kv_write|PASSED|FAILED|Failure|differ" "$out/ops-fused.log" | cut -c1-250 | head -10
  timeout 150 build-gpu/tests/test_cuda_model >"$out/model.log" 2>&1
  el "test_cuda_model rc=$?"
  grep -E "replayed|last error|PASSED|FAILED|Failure|differ" "$out/model.log" | cut -c1-300 | head -16
  timeout 90 build-gpu/tests/test_cuda_attention >"$out/attention.log" 2>&1
  el "test_cuda_attention rc=$?"
  grep -E "PASSED|FAILED|Failure|differ" "$out/attention.log" | head -5
fi
if want joined; then
  for sh in 1024x4096 4096x4096 6144x4096 14336x4096 28672x4096; do
    timeout 60 build-gpu/bench/bench_matmul --quick --shape "$sh" >"$out/bm-$sh.log" 2>&1
    el "bench_matmul $sh rc=$?"
    grep -E "M=(1|16) N=[0-9]+ K=[0-9]+" "$out/bm-$sh.log" | grep -E "strict|fast |bf16 |vendor-bf16" |
      cut -c1-110
  done
fi
if want prefill; then
  ops_ab prefill "-DATTN_ROWS=0" prefill 120 "--reps 10 --cell-ms 200" "prefill|validation" 170
  # the third: the tiled kernel in the decode item order (no sharing at all)
  cfg build-gpu-ab "-DATTN_ROWS_INNER=0"
  cmake --build build-gpu-ab -j "$(nproc)" --target bench_ops >"$out/build-ab.log" 2>&1 &&
    LC_BENCH_OPS_ONLY=prefill timeout 120 build-gpu-ab/bench/bench_ops --reps 10 --cell-ms 200 \
      >"$out/prefill-c.log" 2>&1
  el "bench_ops prefill, built with -DATTN_ROWS_INNER=0 rc=$?"
  grep -E "prefill|validation" "$out/prefill-c.log" | cut -c1-170
fi
if want attnab; then
  ops_ab attention "${LC_AB_FLAGS:--DATTN_MINB=3 -DATTN_TK_BIG=0}" attn 150 "--reps 15 --cell-ms 80" \
    "^attention|validation" 150
fi
if want m64; then
  for sh in 4096x4096 4096x14336; do
    LC_BENCH_FAST_ALT=wgmma timeout 120 build-gpu/bench/bench_matmul --shape "$sh" --reps 20 \
      --cell-ms 60 >"$out/bm-full-$sh.log" 2>&1
    el "bench_matmul every M, $sh (fast-alt: wgmma tiled) rc=$?"
    grep -E "M=(16|64|256) N=[0-9]+ K=[0-9]+" "$out/bm-full-$sh.log" | grep -E "fast|bf16 |vendor-bf16" |
      cut -c1-110
  done
fi
if want suite; then
  (cd build-gpu && timeout 400 ctest -j 3 -R "cuda|cublaslt|verify|experiment|model|generate|loglik|test_tp" \
    -E "test_cuda_fast|test_cuda_mma" >"$out/ctest-gpu.log" 2>&1)
  el "GPU suite rc=$?"
  tail -25 "$out/ctest-gpu.log"
fi
if want alloc && [ -x build-gpu/tests/test_alloc_fail ]; then
  LCT_FILTER=test_alloc_fail_cuda timeout 200 build-gpu/tests/test_alloc_fail \
    >"$out/alloc_fail_cuda.log" 2>&1
  el "alloc-fail CUDA walk rc=$?"
  grep -E "allocations|ERROR|PASSED|FAILED" "$out/alloc_fail_cuda.log" | cut -c1-300
fi

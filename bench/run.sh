#!/usr/bin/env bash
# The one command for the benchmarks on the GPU machine: builds (if needed) and
# runs every benchmark, and writes a RESULTS-style Markdown report with the
# date, the GPU, driver and CUDA versions and the exact command.
#
#   bench/run.sh [--quick] [--out FILE] [--build DIR] [-- extra benchmark options]
#     --quick   fewer shapes and repetitions (a few minutes)
#     --out     the report (default: $OUT/RESULTS.md when $OUT is set, else
#               <build>/RESULTS-<date>.md, inside the ignored build folder)
#     --build   the build folder (default build-bench)
# Run from anywhere; sources .device/prelude.sh (OpenBLAS/CMocka carried to
# the GPU machine by ../shared/device/stage.sh) when it exists.  Exit status:
# non-zero when a build or a benchmark failed (a failed validation included).
set -euo pipefail
cd "$(dirname "$0")/.."
cmdline="bench/run.sh${*:+ $*}"
quick=() out="" build=build-bench extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick); shift ;;
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$out" ]; then
  if [ -n "${OUT:-}" ]; then out="$OUT/RESULTS.md"; else out="$build/RESULTS-$(date -u +%Y%m%d-%H%M%S).md"; fi
fi
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC1091
[ -f .device/prelude.sh ] && source .device/prelude.sh
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi

echo "== build ($build)"
if [ ! -f "$build/CMakeCache.txt" ]; then
  gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLC_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90a -DLC_BUILD_TESTS=OFF -DLC_BUILD_TOOLS=OFF \
    | grep -E "^-- (OpenBLAS|CUDA)" || true
fi
cmake --build "$build" -j "$(nproc)" --target bench_matmul bench_ops bench_model >"$build/bench-build.log" 2>&1 \
  || { tail -40 "$build/bench-build.log"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || echo "?")
cuda=$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p' | head -1)
commit=${LC_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo "?")}  # LC_COMMIT: when the tree is a copy
dirty=""
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then dirty=" (with uncommitted changes)"; fi
{
  echo "# layercast benchmarks"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- GPU: ${gpu} (name, driver, memory from nvidia-smi)"
  echo "- CUDA toolkit: ${cuda:-?}; commit ${commit}${dirty}"
  echo "- command: \`${cmdline}\` (from the project root)"
  echo
} >"$out"

status=0
for b in bench_matmul bench_ops bench_model; do
  args=("${quick[@]}" "${extra[@]}")
  # the model benchmark keeps its synthetic checkpoint (~3 GB) in the build folder
  if [ "$b" = bench_model ]; then
    args=(--dir "$build/bench-model-llama3-8b-shape" --modes strict,fast,bf16,vendor-bf16,vendor-fp32)
    [ ${#quick[@]} -gt 0 ] && args+=(--steps 16 --reps 3)
  fi
  echo "== $b ${args[*]}"
  if ! "$build/bench/$b" "${args[@]}" --md "$tmp/$b.md" 2>&1 | tee "$tmp/$b.log"; then
    status=1
    echo "$b failed (exit status non-zero); see its output above" >&2
  fi
  if [ -f "$tmp/$b.md" ]; then cat "$tmp/$b.md" >>"$out"; else
    { echo "## $b: no results (failed)"; echo; echo '```'; tail -30 "$tmp/$b.log"; echo '```'; echo; } >>"$out"
  fi
done
echo "== report: $out"
grep -E "^- (PASS|FAIL|SKIP)|validation failures|VALIDATION FAIL" "$out" || true
exit $status

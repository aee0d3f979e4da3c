#!/usr/bin/env bash
# On the GPU machine, after a CUDA build in build-gpu/ (tools/device-check.sh
# --sanitize builds, then runs this): the GPU tests under compute-sanitizer's
# four tools, on shapes small enough to finish in minutes:
#   memcheck (--leak-check full), racecheck, initcheck, synccheck.
# The bar is 0 errors.  A test cut by its time limit counts as not checked,
# never as clean.  Prints one line per (tool, test) and a total.
#   tools/device-sanitize.sh [--tools memcheck,racecheck,...] [--limit SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
tools=memcheck,racecheck,initcheck,synccheck limit=120 jobs=10 only=
while [ $# -gt 0 ]; do
  case "$1" in
    --tools) tools="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --tests) only="$2"; shift 2 ;;
    *) echo "device-sanitize: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f .device/prelude.sh ] && source .device/prelude.sh
cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
[ -x "$cs" ] || { echo "device-sanitize: compute-sanitizer not found"; exit 1; }
# the logs go to a folder of their own, and to $OUT as one archive (the
# device tool brings back only a few files), also when a call's limit cuts in
logs=/tmp/lc-sanitize-logs
rm -rf "$logs"
mkdir -p "$logs"
pack() { [ -n "${OUT:-}" ] && tar czf "$OUT/sanitize-logs.tgz" -C "$logs" . 2>/dev/null; }
trap pack EXIT
trap 'pack; exit 124' TERM INT
# Small shapes: test_cuda_ops up to 4096 columns, test_cuda_generate every
# 21st batch size, the long sweeps of the other tests every 7th case
# (LCT_THIN, tests/test_util.h); the models from the staged folder; one
# OpenBLAS thread per run (10 runs share 16 cores).
export LC_CUDA_OPS_MAX_N=4096 LC_CUDA_GEN_STRIDE=21 LCT_THIN=${LCT_THIN:-7} OPENBLAS_NUM_THREADS=1
[ -d .device/models ] && export LC_MODELS_DIR="$PWD/.device/models"
# cuBLASLt's own kernels (the vendor modes' baseline, not ours) are not
# checked by initcheck and racecheck (memcheck checks them: a bad leading
# dimension of ours would show there): on sm_90 they write through TMA and synchronise through mbarriers,
# which initcheck and racecheck do not follow (an H100 on 2026-12-07:
# initcheck 15596 "uninitialized" reads in splitKreduce_kernel of what the
# nvjet kernel before it wrote, racecheck 2 in nvjet_sm90_* kernels)
vendor_re='nvjet|splitKreduce|cublasLt|cutlass|xmma|gemv'
"$cs" --help 2>&1 | grep -A3 -- "--kernel-regex-exclude" >"$logs/kernel-regex-help.txt"
if [ -s "$logs/kernel-regex-help.txt" ]; then
  exclude=(--kernel-regex-exclude "kns=$vendor_re")
else
  exclude=()
  echo "device-sanitize: this compute-sanitizer has no --kernel-regex-exclude; cuBLASLt checked too"
fi
tests=(test_cuda_device test_cuda_ops test_cuda_attention test_cuda_matmul test_cuda_fast
  test_cuda_mma test_cuda_model test_cuda_generate test_cuda_loglik test_cuda_vendor)
[ -n "$only" ] && IFS=, read -r -a tests <<<"$only"
# one (tool, test) run: its log, and one result line in $logs/$tool-$t.res:
# "n leaked rc" (n empty when no summary was printed)
one() {
  local tool=$1 t=$2 extra=()
  [ "$tool" = memcheck ] && extra=(--leak-check full)
  [ "$tool" = initcheck ] || [ "$tool" = racecheck ] && extra=("${exclude[@]}")
  local log="$logs/$tool-$t.log"
  (cd build-gpu && timeout "$limit" "$cs" --tool "$tool" "${extra[@]}" --print-limit 20 \
    "tests/$t") >"$log" 2>&1
  local rc=$?
  # "ERROR SUMMARY: N errors" (memcheck, initcheck, synccheck) or
  # "RACECHECK SUMMARY: N hazards displayed (E errors, W warnings)"
  local n leak
  n=$(grep -oE "ERROR SUMMARY: [0-9]+ error|\(([0-9]+) errors" "$log" | grep -oE "[0-9]+" | tail -1)
  leak=$(grep -oE "LEAK SUMMARY: [0-9]+ bytes" "$log" | grep -oE "[0-9]+" | tail -1)
  echo "${n:--} ${leak:-0} $rc" >"$logs/$tool-$t.res"
}
runs=()
for tool in ${tools//,/ }; do
  for t in "${tests[@]}"; do
    [ -x "build-gpu/tests/$t" ] || continue
    runs+=("$tool:$t")
    rm -f "$logs/$tool-$t.res"
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    one "$tool" "$t" &
  done
done
wait
errors=0 unchecked=0
for r in "${runs[@]}"; do
  tool=${r%%:*} t=${r#*:}
  log="$logs/$tool-$t.log"
  read -r n leak rc <"$logs/$tool-$t.res" || { n=- leak=0 rc=?; }
  if [ "$rc" = 124 ] || [ "$n" = - ]; then
    unchecked=$((unchecked + 1))
    printf '%-10s %-22s NOT CHECKED (%s)\n' "$tool" "$t" \
      "$([ "$rc" = 124 ] && echo "over ${limit} s" || echo "no summary, rc $rc")"
    continue
  fi
  errors=$((errors + n + leak))
  printf '%-10s %-22s %s errors%s%s\n' "$tool" "$t" "$n" \
    "$([ "$leak" != 0 ] && echo ", $leak bytes leaked")" \
    "$(grep -qE "FAILED" "$log" && echo " (the test itself FAILED: see $(basename "$log"))")"
done
echo "compute-sanitizer: $errors errors (and leaked bytes) in all, $unchecked runs not checked"
[ $errors -eq 0 ] && [ $unchecked -eq 0 ]

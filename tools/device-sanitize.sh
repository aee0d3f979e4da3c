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
tools=memcheck,racecheck,initcheck,synccheck limit=120
while [ $# -gt 0 ]; do
  case "$1" in
    --tools) tools="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    *) echo "device-sanitize: unknown option $1" >&2; exit 2 ;;
  esac
done
cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
[ -x "$cs" ] || { echo "device-sanitize: compute-sanitizer not found"; exit 1; }
logs=${OUT:-build-gpu}/sanitize
mkdir -p "$logs"
# Small shapes: test_cuda_ops up to 4096 columns, test_cuda_generate every
# 21st batch size; the others are small already.
export LC_CUDA_OPS_MAX_N=4096 LC_CUDA_GEN_STRIDE=21
tests=(test_cuda_device test_cuda_ops test_cuda_attention test_cuda_matmul test_cuda_fast
  test_cuda_mma test_cuda_model test_cuda_generate test_cuda_loglik test_cuda_vendor)
errors=0 unchecked=0
for tool in ${tools//,/ }; do
  extra=()
  [ "$tool" = memcheck ] && extra=(--leak-check full)
  for t in "${tests[@]}"; do
    [ -x "build-gpu/tests/$t" ] || continue
    log="$logs/$tool-$t.log"
    (cd build-gpu && timeout "$limit" "$cs" --tool "$tool" "${extra[@]}" --print-limit 20 \
      "tests/$t") >"$log" 2>&1
    rc=$?
    # "ERROR SUMMARY: N errors" (memcheck, initcheck, synccheck) or
    # "RACECHECK SUMMARY: N hazards displayed (E errors, W warnings)"
    n=$(grep -oE "ERROR SUMMARY: [0-9]+ error|\(([0-9]+) errors" "$log" | grep -oE "[0-9]+" | tail -1)
    leak=$(grep -oE "LEAK SUMMARY: [0-9]+ bytes" "$log" | grep -oE "[0-9]+" | tail -1)
    if [ $rc -eq 124 ] || [ -z "$n" ]; then
      unchecked=$((unchecked + 1))
      printf '%-10s %-22s NOT CHECKED (%s)\n' "$tool" "$t" \
        "$([ $rc -eq 124 ] && echo "over ${limit} s" || echo "no summary, rc $rc")"
      continue
    fi
    errors=$((errors + n + ${leak:-0}))
    printf '%-10s %-22s %s errors%s%s\n' "$tool" "$t" "$n" "${leak:+, $leak bytes leaked}" \
      "$(grep -qE "FAILED" "$log" && echo " (the test itself FAILED: see $log)")"
  done
done
echo "compute-sanitizer: $errors errors (and leaked bytes) in all, $unchecked runs not checked"
[ $errors -eq 0 ] && [ $unchecked -eq 0 ]

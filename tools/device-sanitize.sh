#!/usr/bin/env bash
# On the GPU machine, after a CUDA build in build-gpu/ (tools/device-check.sh
# --sanitize builds, then runs this): the GPU tests under compute-sanitizer's
# four tools, in the tests' sanitize profile (LCT_SANITIZE=1: every test
# function, every kernel path, small shapes and few cases; tests/test_util.h):
#   memcheck (--leak-check full), racecheck, initcheck, synccheck.
# The bar is 0 errors.  A test cut by its time limit, or one that fails
# under the tool, counts as not checked, never as clean.  cuBLASLt (the vendor
# modes' baseline) is NVIDIA's code: initcheck and racecheck leave its kernels
# out, initcheck runs with LC_VENDOR_CLEAR_OUTPUT=1 (lib/vendor.c) and
# racecheck with LCT_SKIP_VENDOR_BF16=1 (tests/test_util.h); why, below.
# Prints one line per (tool, test) and a total.
#   tools/device-sanitize.sh [--tools racecheck,memcheck,...] [--tests test_cuda_ops,...]
#                            [--jobs N] [--limit SECONDS] [--total SECONDS] [--split] [--tag T]
# --jobs: runs at once (10); --limit: seconds per run (420); --total: seconds
# for the whole pass (480): a run gets at most what is left of it, and none
# starts with less than 10 s left (not checked then); --split: one run
# per test function of each binary (LCT_FILTER), so a slow function neither
# holds up nor hides the others; --tag: logs in /tmp/lc-sanitize-logs-T and
# $OUT/sanitize-logs-T.tgz, so that two passes can run side by side.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# racecheck and initcheck first: the slowest runs start first
tools=racecheck,initcheck,memcheck,synccheck limit=420 total=480 jobs=10 only='' split=0 tag=''
while [ $# -gt 0 ]; do
  case "$1" in
    --tools) tools="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --total) total="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --tests) only="$2"; shift 2 ;;
    --split) split=1; shift ;;
    --tag) tag="-$2"; shift 2 ;;
    *) echo "device-sanitize: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f .device/prelude.sh ] && source .device/prelude.sh
cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
[ -x "$cs" ] || { echo "device-sanitize: compute-sanitizer not found"; exit 1; }
# the logs go to a folder of their own, and to $OUT as one archive (the
# device tool brings back only a few files), also when a call's limit cuts in
logs=/tmp/lc-sanitize-logs$tag
rm -rf "$logs"
mkdir -p "$logs"
pack() { [ -n "${OUT:-}" ] && tar czf "$OUT/sanitize-logs$tag.tgz" -C "$logs" . 2>/dev/null; }
trap pack EXIT
trap 'pack; exit 124' TERM INT
# The tests' sanitize profile (LCT_SANITIZE, tests/test_util.h; each
# test_cuda_*.c says what it keeps); LCT_THIN passes through when set; the
# models from the staged folder; one OpenBLAS thread per run (10 runs share
# 16 cores).
export LCT_SANITIZE=1 OPENBLAS_NUM_THREADS=1
[ -d .device/models ] && export LC_MODELS_DIR="$PWD/.device/models"
# cuBLASLt's own kernels (the vendor modes' baseline, not ours) are not
# checked by initcheck and racecheck (memcheck checks them: a bad leading
# dimension of ours would show there): on sm_90 they write through TMA and
# synchronise through mbarriers, which initcheck and racecheck do not follow
# (an H100 on 2026-12-07: initcheck 15596 "uninitialized" reads in
# splitKreduce_kernel of what the nvjet kernel before it wrote, racecheck 2 in
# nvjet_sm90_* kernels).  None of our kernels (kernels/*.cu) matches the
# pattern.  The compute-sanitizer of CUDA 13.0 takes --kernel-name-exclude with
# key=value filters, a regex key matched against the mangled name; the .*
# around the names make it match whether the whole name or a part of it has
# to match.  Older ones had --kernel-regex-exclude with kns=.
vendor_re='nvjet|splitKreduce|cublasLt|cutlass|xmma|gemv'
"$cs" --help >"$logs/compute-sanitizer-help.txt" 2>&1
if grep -q -- "--kernel-name-exclude" "$logs/compute-sanitizer-help.txt"; then
  exclude=(--kernel-name-exclude "regex=.*($vendor_re).*")
elif grep -q -- "--kernel-regex-exclude" "$logs/compute-sanitizer-help.txt"; then
  exclude=(--kernel-regex-exclude "kns=$vendor_re")
else
  exclude=()
  echo "device-sanitize: this compute-sanitizer has no --kernel-name-exclude; cuBLASLt checked too"
fi
# the heavy tests first
tests=(test_cuda_ops test_cuda_attention test_cuda_matmul test_cuda_fast test_cuda_model
  test_cuda_loglik test_cuda_generate test_cuda_vendor test_cuda_mma test_cuda_device test_tp)
[ -n "$only" ] && IFS=, read -r -a tests <<<"$only"
t_start=$(date +%s)
# one run: tool, test binary, test function ("" for all); its log, and one
# result line in $logs/<name>.res: "n leaked rc" (n empty when no summary was
# printed; rc 124 when cut by its limit)
one() {
  local tool=$1 t=$2 fn=$3 name=$4 extra=() envs=(LCT_SANITIZE=1)
  [ "$tool" = memcheck ] && extra=(--leak-check full)
  { [ "$tool" = initcheck ] || [ "$tool" = racecheck ]; } && extra=("${exclude[@]}")
  # initcheck does not see the stores of cuBLASLt's TMA kernels: the vendor
  # modes clear their output first (lib/vendor.c), so that the reads of it
  # by our kernels and copies are not reported as uninitialized
  [ "$tool" = initcheck ] && envs+=(LC_VENDOR_CLEAR_OUTPUT=1)
  # racecheck stops in cuBLASLt's bf16 kernels ("Internal Sanitizer Error:
  # The Sanitizer failed to handle a hardware exception"; CUDA 13.0, H100):
  # the tests leave vendor-bf16 out under it (tests/test_util.h)
  [ "$tool" = racecheck ] && envs+=(LCT_SKIP_VENDOR_BF16=1)
  local log="$logs/$name.log" left=$((total - ($(date +%s) - t_start)))
  local lim=$((left < limit ? left : limit))
  if [ "$left" -lt 10 ]; then
    echo "- 0 notime" >"$logs/$name.res"
    return
  fi
  (cd build-gpu && env "${envs[@]}" LCT_FILTER="$fn" timeout "$lim" "$cs" --tool "$tool" "${extra[@]}" \
    --print-limit 20 "tests/$t") >"$log" 2>&1
  local rc=$?
  # "ERROR SUMMARY: N errors" (memcheck, initcheck, synccheck) or
  # "RACECHECK SUMMARY: N hazards displayed (E errors, W warnings)"
  local n leak
  n=$(grep -oE "ERROR SUMMARY: [0-9]+ error|\(([0-9]+) errors?" "$log" | grep -oE "[0-9]+" | tail -1)
  leak=$(grep -oE "LEAK SUMMARY: [0-9]+ bytes" "$log" | grep -oE "[0-9]+" | tail -1)
  echo "${n:--} ${leak:-0} $rc" >"$logs/$name.res"
}
# the test functions of a binary, from its source (--split)
functions() {
  grep -oE "cmocka_unit_test\(test_[a-z0-9_]+\)" "tests/$1.c" | sed -E 's/.*\((.*)\)/\1/'
}
runs=()
for tool in ${tools//,/ }; do
  for t in "${tests[@]}"; do
    [ -x "build-gpu/tests/$t" ] || continue
    fns=("")
    [ $split -eq 1 ] && mapfile -t fns < <(functions "$t")
    for fn in "${fns[@]}"; do
      name="$tool-$t${fn:+-$fn}"
      runs+=("$tool:$t:$fn:$name")
      rm -f "$logs/$name.res"
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
      one "$tool" "$t" "$fn" "$name" &
    done
  done
done
wait
errors=0 unchecked=0
for r in "${runs[@]}"; do
  IFS=: read -r tool t fn name <<<"$r"
  log="$logs/$name.log"
  label="$t${fn:+ ${fn#"${t}_"}}"
  read -r n leak rc <"$logs/$name.res" || { n=- leak=0 rc='?'; }
  if [ "$rc" = 124 ] || [ "$rc" = notime ] || [ "$n" = - ] || { [ "$rc" != 0 ] && [ "$n" = 0 ]; }; then
    unchecked=$((unchecked + 1))
    case "$rc" in
      124) why="over its limit" ;;
      notime) why="not started: under 10 s of --total ${total} left" ;;
      *) [ "$n" = - ] && why="no summary, rc $rc" || why="the test failed, rc $rc: see $(basename "$log")" ;;
    esac
    printf '%-10s %-22s NOT CHECKED (%s)\n' "$tool" "$label" "$why"
    continue
  fi
  errors=$((errors + n + leak))
  printf '%-10s %-22s %s errors%s%s\n' "$tool" "$label" "$n" \
    "$([ "$leak" != 0 ] && echo ", $leak bytes leaked")" \
    "$(grep -qE "FAILED" "$log" && echo " (the test itself FAILED: see $(basename "$log"))")"
done
echo "compute-sanitizer: $errors errors (and leaked bytes) in all, $unchecked runs not checked" \
  "($(($(date +%s) - t_start)) s)"
[ $errors -eq 0 ] && [ $unchecked -eq 0 ]

#!/usr/bin/env bash
# Builds the C code with ThreadSanitizer (clang, CUDA off) in build-tsan/ and
# runs the tests whose CPU work goes through the worker threads (lib/pool.c):
# test_threads (the matmul's and attention's splits, 1 against 2, 3 and 8
# threads) and test_model (a row-parallel decode pass at 3 threads, and the
# rest of the model's tests at one).  A reported race fails the run
# (TSAN_OPTIONS halt_on_error=1, exitcode 66).
#
#   tools/tsan.sh [--jobs N]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "tsan.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v clang >/dev/null || { echo "tsan.sh: clang not found" >&2; exit 2; }
dir=build-tsan
echo "== tsan: configure ($dir, clang, LC_TSAN=ON, LC_CUDA=OFF)"
cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLC_CUDA=OFF -DLC_TSAN=ON -DLC_BUILD_TOOLS=OFF | grep -E "^-- (Sanitizers|CUDA)"
echo "== tsan: build"
cmake --build "$dir" -j "$jobs" --target test_threads test_model >"$dir/build.log" 2>&1 ||
  { tail -50 "$dir/build.log"; exit 1; }
echo "== tsan: test"
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}"
rc=0
for t in test_threads test_model; do
  if "$dir/tests/$t" >"$dir/$t.log" 2>&1; then
    echo "$t: ok ($(grep -cE '^\[       OK \]' "$dir/$t.log") test functions, no race reported)"
  else
    echo "$t: FAILED (exit $?)"
    grep -E "WARNING: ThreadSanitizer|SUMMARY|FAILED|Failure" "$dir/$t.log" | head -20
    rc=1
  fi
done
exit $rc

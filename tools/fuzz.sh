#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ (clang, ASan + UBSan, CUDA off)
# in build-fuzz/, writes their seed corpora and runs each target for a while.
# Prints per target the executions, exec/s, coverage (cov: of libFuzzer's last
# status line) and whether it found a crash; exits 1 when any target did.
#
#   tools/fuzz.sh [--seconds N] [--target NAME] [--jobs N] [--no-build]
#     --seconds   time per target (default 60), libFuzzer's -max_total_time
#     --target    one target (llama2c hf tokenizer prompts records chat answer cli)
#     --jobs      build jobs (default 2)
#     --no-build  run what build-fuzz/ already holds
# Corpora grow in build-fuzz/corpus/<target>/ (kept between runs); crashing
# inputs land in build-fuzz/crashes/ (reproduce: build-fuzz/tests/fuzz/fuzz_NAME FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60 only="" jobs=2 build=1
targets="llama2c hf tokenizer prompts records chat answer cli"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --target) only="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$only" ]; then
  case " $targets " in *" $only "*) targets=$only ;;
    *) echo "fuzz.sh: unknown target '$only' (one of: $targets)" >&2; exit 2 ;; esac
fi
command -v clang >/dev/null || { echo "fuzz.sh: clang not found (libFuzzer needs it)" >&2; exit 2; }
dir=build-fuzz
if [ $build -eq 1 ]; then
  echo "== fuzz: configure ($dir, clang, LC_FUZZ=ON, LC_CUDA=OFF)"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLC_CUDA=OFF -DLC_FUZZ=ON -DLC_BUILD_TESTS=OFF -DLC_BUILD_TOOLS=OFF | grep -E "^-- (Fuzzing|CUDA)"
  echo "== fuzz: build"
  cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1 || { tail -50 "$dir/build.log"; exit 1; }
fi
rm -rf "$dir/seeds"
"$dir/tests/fuzz/fuzz_seeds" "$dir/seeds" >/dev/null
mkdir -p "$dir/crashes" "$dir/logs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
crashed=0
printf '%-10s %10s %8s %6s %s\n' target execs exec/s cov result
for t in $targets; do
  mkdir -p "$dir/corpus/$t"
  log="$dir/logs/$t.log"
  rc=0
  "$dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/crashes/$t-" "$dir/corpus/$t" "$dir/seeds/$t" \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE '(INITED|DONE|pulse|NEW|REDUCE) +cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="CRASH (rc $rc; $(grep -oE "crash-[0-9a-f]+|leak-[0-9a-f]+|timeout-[0-9a-f]+|oom-[0-9a-f]+" "$log" | tail -1); log $log)"
    crashed=1
  fi
  printf '%-10s %10s %8s %6s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$result"
  if [ $rc -ne 0 ]; then grep -E "^==[0-9]+==ERROR|SUMMARY|FUZZ CHECK FAILED|runtime error" "$log" | head -5 | sed 's/^/    /'; fi
done
if [ $crashed -ne 0 ]; then echo "fuzz: a target found a crash (inputs in $dir/crashes/)"; exit 1; fi
echo "fuzz: no crashes"

#!/usr/bin/env bash
# Cross-checks layercast's tokenizers against Hugging Face `tokenizers`
# (tools/tok_check.py; a check, never a dependency).  Meant for the GPU
# machine, whose python3 has `tokenizers`: carry .cache/tokenizers (from
# tools/fetch-tokenizers.sh) and .device (tools/stage-device.sh), then run
#   bash tools/tok-check.sh
# It builds a CPU-only CLI into build-tokcheck unless --cli names one, runs
# the check and prints a summary last (also in build-tokcheck/tok_check.log).
#
#   tools/tok-check.sh [--cli PATH] [--dir DIR] [--jobs N] [-- tok_check.py options]
#     --cli   a built layercast binary (default: build one)
#     --dir   tokenizer folders (default .cache/tokenizers)
#   tok_check.py options: --n 3000 --seed 1 --names llama2,llama3,qwen3 --show 5 ...
# Exit status: tok_check.py's (0 all equal, 1 differences or failures).
set -euo pipefail
cd "$(dirname "$0")/.."
cli="" dir=".cache/tokenizers" jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
  case "$1" in
    --cli) cli="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ -d "$dir" ] || { echo "tok-check: no $dir (run tools/fetch-tokenizers.sh and carry it)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "tok-check: python3 not found" >&2; exit 1; }
out=build-tokcheck
mkdir -p "$out"
if [ -z "$cli" ]; then
  # the GPU machine has no PCRE2/utf8proc/jansson headers: the staged packages
  if [ -f .device/prelude.sh ] && ! pkg-config --exists libpcre2-8 libutf8proc jansson 2>/dev/null; then
    # a warm machine may have unpacked an older .device without PCRE2 and
    # utf8proc (the prelude unpacks once): unpack again then
    if [ -f /tmp/lcdeps/.done ] && { [ ! -f /tmp/lcdeps/usr/include/pcre2.h ] ||
      [ ! -f /tmp/lcdeps/usr/include/utf8proc.h ]; }; then
      rm -f /tmp/lcdeps/.done
    fi
    # shellcheck disable=SC1091
    source .device/prelude.sh
    for h in pcre2.h utf8proc.h jansson.h; do
      [ -f "/tmp/lcdeps/usr/include/$h" ] ||
        { echo "tok-check: $h missing: re-run tools/stage-device.sh and carry .device" >&2; exit 1; }
    done
  fi
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  echo "tok-check: building a CPU-only CLI in $out"
  cmake -S . -B "$out" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLC_CUDA=OFF -DLC_BUILD_TESTS=OFF \
    >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
  cmake --build "$out" -j "$jobs" --target layercast_cli >"$out/build.log" 2>&1 ||
    { tail -40 "$out/build.log"; exit 1; }
  cli="$out/layercast"
fi
python3 -c 'import tokenizers; print("tok-check: python tokenizers", tokenizers.__version__)' 2>/dev/null ||
  echo "tok-check: python3 has no 'tokenizers': only the layercast side runs"
rc=0
python3 tools/tok_check.py --cli "$cli" --dir "$dir" "$@" 2>&1 | tee "$out/tok_check.log" || rc=$?
exit $rc

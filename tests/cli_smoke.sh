#!/usr/bin/env bash
# tests/cli_smoke.sh — end-to-end smoke test of the layercast CLI on a tiny
# synthetic model: synth, generate (text and json), loglik and perplexity,
# sweep on cpu strict + reference with 2 batch sizes; checks the files, the
# record count and that strict gave one unique output per prompt.
#   usage: tests/cli_smoke.sh path/to/layercast
set -euo pipefail
LC=${1:?usage: cli_smoke.sh path/to/layercast}
T=$(mktemp -d "${TMPDIR:-/tmp}/lc-cli-smoke-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "cli_smoke: FAIL: $*" >&2; exit 1; }

"$LC" synth --out "$T/m" --dim 64 --hidden 128 --layers 2 --heads 4 --kv-heads 2 --vocab 256 \
  --max-seq 128 --seed 3 >/dev/null || fail "synth"
[ -f "$T/m/config.json" ] || fail "synth wrote no config.json"

out=$("$LC" generate --model "$T/m" --prompt "1 2 3" --max-new 6 --batch 4 --position last)
[ "$(echo "$out" | wc -w)" -eq 6 ] || fail "generate printed '$out', expected 6 token ids"
alone=$("$LC" generate --model "$T/m" --prompt "1 2 3" --max-new 6)
# emulated tensor parallelism: tp 2 (its 2 KV heads split) gives the same tokens and records
tp1=$("$LC" generate --model "$T/m" --prompt "1 2 3" --max-new 6 --batch 2 --records)
tp2=$("$LC" generate --model "$T/m" --prompt "1 2 3" --max-new 6 --batch 2 --records --tp 2)
[ "$tp1" = "$tp2" ] || fail "generate --tp 2 differs from --tp 1: '$tp2' vs '$tp1'"
[ "$out" = "$alone" ] || fail "strict: batch 4 / last gave '$out', alone '$alone'"
"$LC" generate --model "$T/m" --prompt "1 2 3" --max-new 4 --format json --records |
  grep -q '"tokens_hash"' || fail "generate --format json has no tokens_hash"

# loglik: generate's greedy tokens score as greedy; perplexity: every token but the first
# scored once, and one window (the default here) gives exactly minus the loglik sum
ll=$("$LC" loglik --model "$T/m" --context "1 2 3" --cont "$alone")
echo "$ll" | grep -qx "all_greedy 1" || fail "loglik of generate's greedy tokens: $ll"
sum=$("$LC" loglik --model "$T/m" --context 1 --cont "2 3 $alone" --json --max-tokens 3 |
  grep -o '"sum_logprob":[^,}]*' | cut -d: -f2)
nll=$("$LC" perplexity --model "$T/m" --ids "1 2 3 $alone" --json |
  grep -o '"nll_sum":[^,}]*' | cut -d: -f2)
[ -n "$sum" ] && [ "$nll" = "${sum#-}" ] || fail "perplexity nll_sum '$nll', loglik sum '$sum'"
"$LC" perplexity --model "$T/m" --ids "1 2 3 $alone" --window 3 --stride 1 --mode fast |
  grep -qx "n_scored 8" || fail "perplexity --window 3 --stride 1: n_scored is not 8"

printf '{"tokens":[1,2,3],"answer":[7]}\n{"tokens":[4,5,6,7]}\n{"tokens":[9]}\n' >"$T/p.jsonl"
"$LC" sweep --model "$T/m" --prompts "$T/p.jsonl" --out "$T/s" --batch-sizes 1,4 \
  --positions first,last --modes strict,reference --max-new 8 --no-progress >/dev/null ||
  fail "sweep"
for f in runs.jsonl summary.json summary.csv summary_prompts.csv margins.svg \
  div_index_cpu-strict.svg div_index_cpu-reference.svg; do
  [ -s "$T/s/$f" ] || fail "sweep wrote no $f"
done
# runs: 2 modes x (batch 1: first = last, 1 cell; batch 4: 2 cells) x 1 repeat = 6
n=$(wc -l <"$T/s/runs.jsonl")
[ "$n" -eq 6 ] || fail "runs.jsonl has $n lines, expected 6"
# summary.csv: backend,mode,runs,prompts,unique_outputs_mean,unique_outputs_max,...
awk -F, '$1=="cpu" && $2=="strict" && $5==1 && $6==1 {ok=1} END {exit !ok}' "$T/s/summary.csv" ||
  fail "summary.csv has no cpu,strict row with 1 unique output: $(cat "$T/s/summary.csv")"
# bad usage exits 2, failures exit 1
set +e
"$LC" sweep --model "$T/m" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing options: exit not 2"
"$LC" generate --model "$T/nope" --prompt 1 >/dev/null 2>&1; [ $? -eq 1 ] || fail "bad model: exit not 1"
"$LC" generate --model "$T/m" --prompt 1 --tp 3 >/dev/null 2>&1; [ $? -eq 1 ] ||
  fail "tp 3 > 2 KV heads: exit not 1"
"$LC" loglik --model "$T/m" --context 1 --cont 9999 >/dev/null 2>&1; [ $? -eq 2 ] || fail "loglik bad id: exit not 2"
"$LC" perplexity --model "$T/m" --ids "1 2" --window 2 --stride 2 >/dev/null 2>&1; [ $? -eq 2 ] ||
  fail "perplexity stride = window: exit not 2"
set -e
echo "cli_smoke: OK"

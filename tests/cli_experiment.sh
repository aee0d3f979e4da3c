#!/usr/bin/env bash
# tests/cli_experiment.sh — what a new user hit in the CLI (issue 9, item 8),
# each checked end to end on a tiny synthetic model:
# - verify records refuses records of another setup (another max_new,
#   another model) as NOT COMPARABLE, naming the fields, exit 4;
# - a sweep that can run nothing (an empty grid; --backends cuda without a
#   GPU) exits non-zero and writes nothing;
# - a sweep validates its prompts before it creates its folder; an
#   interrupted sweep resumes from its records; compare -o leaves no partial
#   file;
# - demo --keep keeps the model, the prompts and the sweep's files;
# - synth --heads 3 names the kv-heads it did not get from the user;
# - messages in the CLI's words: --max-new past the model's positions names
#   --max-seq, --stop past the vocabulary says so (exit 2), a missing model
#   says it does not exist, --prompts DIR says it is a directory;
# - the SVG plots label both axes and put margins on a log scale;
# - generate --records shows the top-k ids and logits in text and csv too;
# - a CPU sweep in strict, fast and bf16 on `synth --preset tiny` gives one
#   unique output per prompt in each mode (all three promise it);
# - a sweep with tp 1,2 as an axis: one unique output per prompt in strict,
#   the degree in every record, resumable; tp past the KV heads refused.
#   usage: tests/cli_experiment.sh path/to/layercast
set -uo pipefail
cli=${1:?usage: $0 path/to/layercast}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check NAME STATUS
  if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
has_gpu=0
"$cli" generate --model /nonexistent --prompt 1 --backend cuda >/dev/null 2>"$tmp/gpu.txt"
grep -qiE "does not exist|no such file|cannot open" "$tmp/gpu.txt" && has_gpu=1

"$cli" synth --out "$tmp/m" --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 --vocab 200 \
  --max-seq 96 --seed 5 >/dev/null
check "synth a tiny model" $?
"$cli" synth --out "$tmp/m2" --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 --vocab 200 \
  --max-seq 96 --seed 6 >/dev/null
printf '{"tokens":[1,2,3,4]}\n{"tokens":[9,8,7]}\n{"tokens":[11]}\n' >"$tmp/p.jsonl"
sweep() { # sweep OUT MODEL [extra args]
  local out=$1 model=$2
  shift 2
  "$cli" sweep --model "$model" --prompts "$tmp/p.jsonl" --out "$out" --batch-sizes 1,3 \
    --modes strict,reference --max-new 6 --no-progress "$@"
}

# ---- verify records: comparable or refused ----
sweep "$tmp/s1" "$tmp/m" >/dev/null && sweep "$tmp/s2" "$tmp/m" >/dev/null &&
  sweep "$tmp/s3" "$tmp/m" --max-new 5 >/dev/null && sweep "$tmp/s4" "$tmp/m2" >/dev/null
check "four sweeps" $?
"$cli" verify records "$tmp/s1/runs.jsonl" "$tmp/s2/runs.jsonl" >"$tmp/v.txt"
check "verify records: the same setup passes" $?
"$cli" verify records "$tmp/s1/runs.jsonl" "$tmp/s3/runs.jsonl" >"$tmp/v.txt" 2>"$tmp/e.txt"
[ $? -eq 4 ] && grep -q "NOT COMPARABLE" "$tmp/e.txt" && grep -q "max_new: 6 | 5" "$tmp/e.txt" &&
  ! grep -q "FAIL" "$tmp/v.txt"
check "verify records: another max_new is not comparable (exit 4, field named)" $?
"$cli" verify records "$tmp/s1/runs.jsonl" "$tmp/s4/runs.jsonl" >"$tmp/v.txt" 2>"$tmp/e.txt"
[ $? -eq 4 ] && grep -q "weights_hash" "$tmp/e.txt" && ! grep -q "identical" "$tmp/v.txt"
check "verify records: another model is not comparable (weights_hash named)" $?

sweep "$tmp/s6" "$tmp/m" --modes reference >/dev/null && sweep "$tmp/s7" "$tmp/m" --modes strict >/dev/null
"$cli" verify records "$tmp/s6/runs.jsonl" "$tmp/s7/runs.jsonl" >/dev/null 2>"$tmp/e.txt"
[ $? -eq 4 ] && grep -q "nothing to compare" "$tmp/e.txt"
check "verify records: no cell in common is not comparable (exit 4)" $?

# ---- nothing to run: non-zero, nothing written ----
sweep "$tmp/e1" "$tmp/m" --batch-sizes 1,2 --positions 5 >/dev/null 2>"$tmp/e.txt"
rc=$?
[ $rc -ne 0 ] && [ ! -e "$tmp/e1" ] && grep -q "no runs" "$tmp/e.txt"
check "sweep: a grid without runs exits non-zero ($rc) and writes nothing" $?
if [ $has_gpu -eq 0 ]; then
  sweep "$tmp/e2" "$tmp/m" --backends cuda >/dev/null 2>"$tmp/e.txt"
  rc=$?
  [ $rc -eq 4 ] && [ ! -e "$tmp/e2" ] && grep -q "nothing was run" "$tmp/e.txt"
  check "sweep --backends cuda without a GPU: exit 4, nothing written" $?
  sweep "$tmp/e3" "$tmp/m" --backends cpu,cuda >"$tmp/o.txt" 2>"$tmp/e.txt"
  [ $? -eq 0 ] && grep -q "SKIPPED" "$tmp/o.txt" && grep -q "cuda/strict is not available" "$tmp/e.txt"
  check "sweep --backends cpu,cuda without a GPU: cuda SKIPPED and named" $?
fi

# ---- validate first, write atomically, resume ----
printf '{"tokens":[1,2]}\n{"tokens":[1,999]}\n' >"$tmp/bad.jsonl"
"$cli" sweep --model "$tmp/m" --prompts "$tmp/bad.jsonl" --out "$tmp/e4" --no-progress \
  >/dev/null 2>"$tmp/e.txt"
[ $? -eq 2 ] && [ ! -e "$tmp/e4" ] && grep -q "prompt 1: token id 999" "$tmp/e.txt"
check "sweep: a prompt past the vocabulary fails before the folder exists" $?
mkdir "$tmp/r"
head -2 "$tmp/s1/runs.jsonl" >"$tmp/r/runs.jsonl.partial"
sed -n 3p "$tmp/s1/runs.jsonl" | head -c 50 >>"$tmp/r/runs.jsonl.partial"
sweep "$tmp/r" "$tmp/m" >/dev/null 2>"$tmp/e.txt"
[ $? -eq 2 ] && grep -q "interrupted sweep" "$tmp/e.txt"
check "sweep into an interrupted sweep's folder asks for --resume" $?
sweep "$tmp/r" "$tmp/m" --resume >"$tmp/o.txt"
[ $? -eq 0 ] && cmp -s "$tmp/r/runs.jsonl" "$tmp/s1/runs.jsonl" &&
  cmp -s "$tmp/r/summary.csv" "$tmp/s1/summary.csv" && grep -q "taken from the earlier records" "$tmp/o.txt"
check "sweep --resume completes the records as an uninterrupted sweep" $?
# the second prompt is longer than the model's 96 positions: found only when its turn comes
long=$(seq -s, 1 100)
printf '{"tokens":[1,2]}\n{"tokens":[%s]}\n' "$long" >"$tmp/bad2.jsonl"
"$cli" compare --model "$tmp/m" --prompts "$tmp/bad2.jsonl" --max-new 3 -o "$tmp/c.txt" \
  >/dev/null 2>&1
[ $? -ne 0 ] && [ ! -e "$tmp/c.txt" ]
check "compare -o: a failure on the second prompt leaves no file" $?

# ---- demo --keep ----
"$cli" demo --cpu-only --prompts 2 --max-new 4 --batch-sizes 1,2 --keep "$tmp/d" >/dev/null
[ $? -eq 0 ] && [ -s "$tmp/d/model/config.json" ] && [ -s "$tmp/d/prompts.jsonl" ] &&
  [ -s "$tmp/d/sweep/runs.jsonl" ] && [ -s "$tmp/d/sweep/summary.csv" ] &&
  [ -s "$tmp/d/sweep/margins.svg" ]
check "demo --keep keeps the model, the prompts and the sweep's files" $?

# ---- synth ----
"$cli" synth --out "$tmp/s5" --heads 3 >/dev/null 2>"$tmp/e.txt"
[ $? -eq 2 ] && grep -q "kv-heads was not given" "$tmp/e.txt" && [ ! -e "$tmp/s5" ]
check "synth --heads 3 names the key/value heads it did not get" $?

# ---- messages in the CLI's words ----
"$cli" generate --model "$tmp/m" --prompt "1 2 3" --max-new 200 >/dev/null 2>"$tmp/e.txt"
[ $? -eq 2 ] && grep -q -- "--max-seq" "$tmp/e.txt" && ! grep -q "RoPE table" "$tmp/e.txt"
check "generate: --max-new past the model's positions names --max-seq (exit 2)" $?
"$cli" generate --model "$tmp/m" --prompt "1 2 3" --stop 99999 >/dev/null 2>"$tmp/e.txt"
[ $? -eq 2 ] && grep -q "stop token 99999 is outside the model's vocabulary" "$tmp/e.txt"
check "generate: --stop past the vocabulary says so (exit 2)" $?
"$cli" generate --model "$tmp/nope" --prompt 1 >/dev/null 2>"$tmp/e.txt"
[ $? -ne 0 ] && grep -qiE "does not exist|no such file" "$tmp/e.txt" &&
  ! grep -qiE "input/output error|LC_ERR_IO" "$tmp/e.txt"
check "generate: a missing model says it does not exist" $?
"$cli" generate --model "$tmp/m" --prompts "$tmp" >/dev/null 2>"$tmp/e.txt"
[ $? -ne 0 ] && grep -q "is a directory" "$tmp/e.txt"
check "generate --prompts DIR says it is a directory" $?

# ---- plots ----
grep -q "first divergent token index (tokens)" "$tmp/s1/div_index_cpu-strict.svg" &&
  grep -q "rotate(-90)" "$tmp/s1/div_index_cpu-strict.svg" &&
  grep -q ">prompts" "$tmp/s1/div_index_cpu-strict.svg" &&
  grep -q "logits; log scale" "$tmp/s1/margins.svg" && grep -q ">tokens" "$tmp/s1/margins.svg"
check "plots: both axes labelled with units, margins on a log scale" $?

# ---- generate --records in every format ----
"$cli" generate --model "$tmp/m" --prompt "1 2 3" --max-new 3 --records >"$tmp/g.txt" &&
  grep -q "top [0-9]*:" "$tmp/g.txt"
check "generate --records (text) shows the top-k" $?
"$cli" generate --model "$tmp/m" --prompt "1 2 3" --max-new 3 --records --format csv >"$tmp/g.csv" &&
  head -1 "$tmp/g.csv" | grep -q "top_ids,top_logits" &&
  [ "$(tail -1 "$tmp/g.csv" | awk -F, '{print NF}')" -eq 9 ]
check "generate --records (csv) has top_ids and top_logits" $?

# ---- strict, fast and bf16: one unique output per prompt (CPU) ----
# fast and bf16 emulate the tensor cores on the CPU (~10 ns per multiply-add):
# the smallest grid that still puts a prompt at two positions of a batch
"$cli" synth --out "$tmp/tiny" --preset tiny >/dev/null &&
  "$cli" sweep --model "$tmp/tiny" --prompts "$tmp/p.jsonl" --out "$tmp/sf" --batch-sizes 1,2 \
    --modes strict,fast,bf16 --max-new 3 --no-progress >/dev/null
check "sweep --modes strict,fast,bf16 on the tiny preset" $?
# summary.csv: backend,mode,runs,prompts,unique_outputs_mean,unique_outputs_max,...
for mode in strict fast bf16; do
  awk -F, -v m="$mode" '$1=="cpu" && $2==m && $3==3 && $5==1 && $6==1 {ok=1} END {exit !ok}' \
    "$tmp/sf/summary.csv"
  check "sweep: cpu $mode gives 1 unique output per prompt over 3 runs" $?
done

# ---- tensor parallelism as a grid axis (emulated) ----
# strict: 1 unique output per prompt over batch sizes x tp 1, 2; every record
# names its degree; the records of a tp sweep are comparable with themselves
# and a resumed tp sweep finds its runs
sweep "$tmp/tp" "$tmp/m" --modes strict --tp 1,2 >/dev/null &&
  awk -F, '$1=="cpu" && $2=="strict" && $3==6 && $5==1 && $6==1 {ok=1} END {exit !ok}' \
    "$tmp/tp/summary.csv" &&
  [ "$(grep -c '"tp":2' "$tmp/tp/runs.jsonl")" -eq 3 ] && [ "$(grep -c '"tp":1' "$tmp/tp/runs.jsonl")" -eq 3 ]
check "sweep --tp 1,2: 6 runs, 1 unique output per prompt, tp in every record" $?
sweep "$tmp/tp" "$tmp/m" --modes strict --tp 1,2 --resume >"$tmp/o.txt" 2>&1 &&
  grep -q "18 generations taken from the earlier records, 0 run now" "$tmp/o.txt"
check "sweep --tp 1,2 --resume: the runs are found" $?
sweep "$tmp/tp3" "$tmp/m" --modes strict --tp 3 >/dev/null 2>"$tmp/e.txt"
[ $? -ne 0 ] && grep -q "n_kv_heads" "$tmp/e.txt"
check "sweep --tp 3 on 2 KV heads: refused, the reason named" $?

if [ "$fails" -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "all checks passed"

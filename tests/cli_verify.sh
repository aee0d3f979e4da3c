#!/usr/bin/env bash
# tests/cli_verify.sh — `layercast verify ops|model` never passes silently
# without its GPU half, and its exit codes:
#   0 every check that ran passed; 1 a check failed or an error; 2 bad usage;
#   4 nothing was checked (--require-gpu and no usable GPU).
# Without a GPU: exit 0, the GPU half reported SKIPPED (header, every row,
# and a final line "PASS (CPU half only; GPU half SKIPPED: <why>)", never a
# bare PASS); --require-gpu exits 4.  With a GPU: the GPU is named, the final
# line is "PASS: ..." and --require-gpu exits 0.  The same in --mode fast (ops)
# and --mode bf16 (model), whose output names the mode; other modes are a
# usage error.
#   usage: tests/cli_verify.sh path/to/layercast
set -uo pipefail
cli=${1:?usage: $0 path/to/layercast}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lc-cli-verify-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check NAME CONDITION-STATUS
  if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}

"$cli" synth --out "$tmp/m" --dim 32 --hidden 48 --layers 2 --heads 4 --kv-heads 2 \
  --vocab 64 --max-seq 64 --seed 5 >/dev/null
check "synth a tiny model" $?

# $1: ops or model; the remaining arguments go to `layercast verify`.
verify_case() {
  local what=$1
  shift
  "$cli" verify "$@" >"$tmp/$what.txt" 2>"$tmp/$what.err"
  local rc=$?
  check "verify $what exits 0" $rc
  local last
  last=$(tail -n 1 "$tmp/$what.txt")
  if grep -qi "^  GPU half skipped" "$tmp/$what.txt"; then
    grep -q "^  GPU half SKIPPED (no usable CUDA device: .\+)$" "$tmp/$what.txt"
    check "verify $what: the header says the GPU half was SKIPPED, and why" $?
    # no GPU: SKIPPED in every row and in the final line, which is not a bare PASS
    local row='^  (matmul|rmsnorm|rope|kv_write|attention|silu_mul|add|round_bf16|embedding|softmax|log_softmax|argmax) |^ +[0-9]+ [0-9-]+ +(prefill|decode) '
    local rows skipped
    rows=$(grep -Ec "$row" "$tmp/$what.txt")
    skipped=$(grep -E "$row" "$tmp/$what.txt" | grep -c " SKIPPED ")
    [ "$rows" -gt 0 ] && [ "$skipped" -eq "$rows" ]
    check "verify $what: every row says SKIPPED for the GPU half ($skipped of $rows)" $?
    [[ "$last" == "PASS (CPU half only; GPU half SKIPPED: "* ]]
    check "verify $what: final line '$last' says the CPU half only passed" $?
    "$cli" verify "$@" --require-gpu >"$tmp/$what.req" 2>&1
    rc=$?
    [ "$rc" -eq 4 ]
    check "verify $what --require-gpu without a GPU exits 4 (got $rc)" $?
  else
    grep -q "^  GPU: " "$tmp/$what.txt"
    check "verify $what names the GPU (a GPU is present)" $?
    [ "$last" = "PASS" ] || [[ "$last" =~ ^"PASS: CUDA "(strict|fast|bf16)" vs CPU "(strict|fast|bf16)" bitwise" ]]
    check "verify $what: final line '$last' is a full PASS" $?
    "$cli" verify "$@" --require-gpu >"$tmp/$what.req" 2>&1
    check "verify $what --require-gpu with a GPU exits 0" $?
  fi
}

verify_case ops ops
verify_case model model --model "$tmp/m" --tokens 2
verify_case ops-fast ops --mode fast
verify_case model-bf16 model --model "$tmp/m" --tokens 2 --mode bf16
grep -q "^layercast verify ops (small shapes, seed 1, mode fast)$" "$tmp/ops-fast.txt" &&
  grep -q "^  matmul  .* (c_fast + gamma_600) sum|x w| + a_fast$" "$tmp/ops-fast.txt"
check "verify ops --mode fast names the mode and the fast order's matmul bound" $?
grep -q "^layercast verify model: .* (mode bf16)$" "$tmp/model-bf16.txt" &&
  grep -q "^  CPU reference vs CPU bf16: .*(bound 0.5)$" "$tmp/model-bf16.txt"
check "verify model --mode bf16 names the mode and takes bf16's bound" $?
"$cli" verify ops --mode vendor-bf16 >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ]
check "verify ops --mode vendor-bf16 is a usage error (2, got $rc)" $?

"$cli" verify ops --shapes huge >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ]
check "verify ops --shapes huge is a usage error (2, got $rc)" $?
"$cli" verify model --tokens 2 >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ]
check "verify model without --model is a usage error (2, got $rc)" $?
"$cli" verify model --model "$tmp/none" >/dev/null 2>&1
rc=$?
[ "$rc" -eq 1 ]
check "verify model on a missing model is an error (1, got $rc)" $?

if [ "$fails" -ne 0 ]; then
  echo "cli_verify: $fails check(s) failed"
  exit 1
fi
echo "cli_verify: all checks passed"

#!/usr/bin/env python3
"""tools/tok_check.py — cross-check layercast's tokenizers against Hugging Face
`tokenizers` (a check, never a dependency of the build or the tests).

For each tokenizer directory (tokenizer.json + tokenizer_config.json, as
tools/fetch-tokenizers.sh leaves them) it generates a seeded UTF-8 corpus
(English prose, code, numbers, CJK, emoji, combining marks, whitespace runs,
added tokens inside text, contractions, random code points), encodes it with
HF `tokenizers` and with `layercast tokenize --jsonl`, with and without the
special tokens, and compares ids and decode round trips.  It also decodes
random id sequences both ways.  For llama2.c's tokenizer.bin it writes a
tokenizer.bin from the SentencePiece-style vocabulary (scores -id, as an
export would order them) and compares layercast with a Python transcription
of run.c's encoder.

  python3 tools/tok_check.py --cli build/layercast --dir .cache/tokenizers \\
      [--names llama2,llama3,qwen3] [--n 3000] [--seed 1] [--show 5]

Without the `tokenizers` module it still runs the layercast side, the
round trips and the llama2.c check, and says so.  --dump-corpus F writes the
corpus of the first tokenizer as JSONL and exits; --reference DIR reads HF
results computed elsewhere (DIR/NAME.plain.jsonl, DIR/NAME.special.jsonl:
one {"ids": [...]} per corpus line) instead of calling `tokenizers`.
Exit status: 0 when every comparison that ran agreed, 1 otherwise, 2 on
usage errors.
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata

# ---- corpus --------------------------------------------------------------------------

WORDS = (
    "the of and to in is was that for it as with be on not he by this are at from his "
    "but have an they which one you were all her she there would their we him been has "
    "when who will no more if out so up said what its about than into them can only other "
    "time new some could these two may first then do any like my now over such our man me "
    "even most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very make "
    "world still own see men work long get here between both life being under never day "
    "same another know while last might us great old year off come since against go came "
    "right used take three reproducible inference tokenizer batch invariant kernel "
    "floating-point accumulation determinism"
).split()

CODE = [
    "int main(int argc, char **argv) {\n    return 0;\n}\n",
    "def f(x):\n\treturn x**2 + 3*x - 1  # comment\n",
    "for (size_t i = 0; i < n; i++) y[i] += a * x[i];",
    "    if (err != NULL) {\n        goto fail;\n    }\n",
    "const std::vector<int> v{1, 2, 3};\nauto it = std::find(v.begin(), v.end(), 2);",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    "{\"key\": [1, 2.5, -3e10, null, true], \"nested\": {\"a\": \"b\"}}",
    "x = [i for i in range(10) if i % 2 == 0]\nprint(f\"{x!r:>10}\")",
    "#!/bin/bash\nset -euo pipefail\nfor f in *.c; do clang-format -i \"$f\"; done\n",
    "fn main() { let s: &str = \"héllo\"; println!(\"{}\", s.len()); }",
    "a+=1;b-=2;c*=3;d/=4;e%=5;f<<=6;g>>=7;h&=8;i|=9;j^=10;",
]

CJK = [
    "我们今天去公园散步，天气非常好。",
    "机器学习模型的可复现性是一个重要问题。",
    "東京は日本の首都です。ひらがなとカタカナ、漢字。",
    "今日はいい天気ですね！",
    "한국어 문장도 포함됩니다. 안녕하세요?",
    "大型语言模型在批处理大小变化时输出不同。",
    "全角文字：ＡＢＣ１２３、句読点。",
]

EMOJI = [
    "😀", "😂🤣", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇯🇵", "❤️", "🔥🔥🔥", "🧑🏿‍💻", "✨", "🙂‍↔️",
    "☕", "🏳️‍🌈", "1️⃣", "🫠",
]

COMBINING = [
    "e\u0301", "a\u0300\u0316", "n\u0303", "o\u0308\u0304", "Cafe\u0301", "re\u0301sume\u0301",
    "Vie\u0323\u0302t Nam", "\u1e9b\u0323", "\u0915\u094d\u0937", "\u0e01\u0e34\u0e48",
    "A\u030a", "\u212b", "\uac00\u11a8", "\u1100\u1161\u11a8", "\ufb01", "x\u0336y\u0336",
]

WHITESPACE = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", " \n ",
              "\u00a0", "\u3000", "\u2003", "\u0085", "\u2028", " \t \n", "\f", "\v"]

SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>",
            "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
            "<think>", "</think>", "<|im_sta", "<s", "<|", "|>", "<|reserved_special_token_5|>"]

CONTRACTIONS = ["I'm", "don't", "THEY'RE", "we'Ve", "she'll", "he'd", "it's", "O'Neil",
                "'s", "''", "can't", "y'all", "We'LL", "it\u2019s", "rock'n'roll"]

# Code point ranges to draw random characters from: assigned blocks of many
# scripts (random unassigned points would test Unicode-version differences
# more than tokenizers).
RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF),
          (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE5B), (0x1100, 0x11FF), (0x2000, 0x206F),
          (0x20A0, 0x20BF), (0x2100, 0x214F), (0x2190, 0x22FF), (0x2500, 0x257F),
          (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xFF00, 0xFFEF),
          (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x10000, 0x1007F), (0x1D400, 0x1D7FF)]


def rand_char(r):
    lo, hi = r.choice(RANGES)
    return chr(r.randint(lo, hi))


def prose(r):
    n = r.randint(3, 30)
    words = [r.choice(WORDS) for _ in range(n)]
    if r.random() < 0.5:
        words[0] = words[0].capitalize()
    s = " ".join(words)
    return s + r.choice([".", "!", "?", ",", "", "...", ";"])


def number(r):
    k = r.randint(0, 6)
    if k == 0:
        return str(r.randint(0, 10 ** r.randint(1, 20)))
    if k == 1:
        return f"{r.uniform(-1e6, 1e6):.{r.randint(0, 8)}f}"
    if k == 2:
        return f"{r.randint(0, 10**9):,}"
    if k == 3:
        return f"{r.randint(1900, 2100)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
    if k == 4:
        return "".join(r.choice("0123456789") for _ in range(r.randint(1, 40)))
    if k == 5:
        return f"{r.randint(1, 99)}/{r.randint(1, 99)} = {r.random():.3g}e{r.randint(-30, 30)}"
    return "x" + str(r.randint(0, 999)) + "y" + str(r.randint(0, 99999))


def segment(r):
    k = r.randint(0, 10)
    if k == 0:
        return prose(r)
    if k == 1:
        return r.choice(CODE)
    if k == 2:
        return number(r)
    if k == 3:
        return r.choice(CJK)
    if k == 4:
        return "".join(r.choice(EMOJI) for _ in range(r.randint(1, 4)))
    if k == 5:
        return "".join(r.choice(COMBINING) for _ in range(r.randint(1, 3)))
    if k == 6:
        return r.choice(WHITESPACE) * r.randint(1, 3)
    if k == 7:
        return r.choice(SPECIALS)
    if k == 8:
        return r.choice(CONTRACTIONS)
    if k == 9:
        return "".join(rand_char(r) for _ in range(r.randint(1, 12)))
    return r.choice(["a" * r.randint(1, 300), "ab" * r.randint(1, 60), "-" * r.randint(1, 80),
                     "=" * r.randint(1, 40), "." * r.randint(1, 20), "_" * r.randint(1, 30)])


FIXED = ["", " ", "a", "  a", "a  ", "\n", "Hello world", " Hello world", "Hello  world",
         "hello\n\nworld", "1234567", "12345678901", "3.14159", "I'm sure they'll say it's OK.",
         "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
         "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
         "<s>[INST] hi [/INST]", "text<s>text</s>", "   leading spaces", "trailing spaces   ",
         "tabs\tand\ttabs", "Ünïcödé", "e\u0301", "\u00e9", "naïve café", "日本語", "😀😀",
         "a\u0300\u0301\u0302", "\u0085x\u0085", "x\u2028y", "\u00a0\u00a0a", "     \n     ",
         "!!!???", "$$$", "a\u200db", "\ufeffBOM", "zero\u200bwidth"]


def corpus(seed, n):
    r = random.Random(seed)
    out = list(FIXED)
    while len(out) < n:
        k = r.randint(1, 6)
        s = "".join(segment(r) + (r.choice(["", " ", "\n"]) if r.random() < 0.7 else "")
                    for _ in range(k))
        out.append(s)
    return out[:n]


# ---- layercast side ------------------------------------------------------------------

def run_cli(cli, model, lines, extra):
    """Runs `layercast tokenize --model M --jsonl -` on lines (JSON values);
    returns the parsed output lines."""
    payload = "".join(json.dumps(x, ensure_ascii=True) + "\n" for x in lines)
    p = subprocess.run([cli, "tokenize", "--model", model, "--jsonl", "-"] + extra,
                       input=payload.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=3600)
    if p.returncode != 0:
        raise RuntimeError(f"layercast exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    out = [json.loads(x) for x in p.stdout.decode().splitlines() if x.strip()]
    if len(out) != len(lines):
        raise RuntimeError(f"layercast printed {len(out)} lines for {len(lines)} inputs")
    return out


def short(s, n=120):
    r = repr(s)
    return r if len(r) <= n else r[:n] + "...'"


# ---- the HF side ---------------------------------------------------------------------

def hf_encode(tok, texts, special):
    return [e.ids for e in tok.encode_batch(texts, add_special_tokens=special)]


def load_reference(ref_dir, name, kind, n):
    path = os.path.join(ref_dir, f"{name}.{kind}.jsonl")
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(x) for x in f if x.strip()]
    if len(rows) != n:
        raise RuntimeError(f"{path}: {len(rows)} lines, expected {n}")
    return rows


# ---- llama2.c --------------------------------------------------------------------------

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def write_llama2c_bin(tokenizer_json, path):
    """A tokenizer.bin as llama2.c's export writes it, from a SentencePiece-style
    tokenizer.json: U+2581 -> ' ', BOS/EOS pieces '\\n<s>\\n' and '\\n</s>\\n',
    scores -id (0 for <0xNN> and the first three) since the JSON has none."""
    with open(tokenizer_json, encoding="utf-8") as f:
        d = json.load(f)
    vocab = d["model"]["vocab"]
    n = max(vocab.values()) + 1
    pieces = [b""] * n
    for k, v in vocab.items():
        pieces[v] = k.replace("\u2581", " ").encode("utf-8")
    if n > 2:
        pieces[1] = b"\n<s>\n"
        pieces[2] = b"\n</s>\n"
    scores = []
    for i, p in enumerate(pieces):
        is_byte = len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">")
        scores.append(0.0 if i < 3 or is_byte else float(-i))
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p in pieces)))
        for p, s in zip(pieces, scores):
            f.write(struct.pack("<fi", s, len(p)))
            f.write(p)
    return pieces, [f32(s) for s in scores]


def runc_encode(text, pieces, lookup, scores, bos):
    """run.c's encode(), transcribed: BOS, the dummy ' ' prefix, code points
    (unknown ones as byte + 3), then the best-score merge until none."""
    toks = []
    if bos:
        toks.append(1)
    if text:
        toks.append(lookup.get(b" ", 0x20 + 3))
    for ch in text:
        b = ch.encode("utf-8")
        if b in lookup:
            toks.append(lookup[b])
        else:
            toks.extend(x + 3 for x in b)
    floor = f32(-1e10)
    while True:
        best, best_id, best_i = floor, -1, -1
        for i in range(len(toks) - 1):
            j = lookup.get(pieces[toks[i]] + pieces[toks[i + 1]], -1)
            if j != -1 and scores[j] > best:
                best, best_id, best_i = scores[j], j, i
        if best_i == -1:
            break
        toks[best_i:best_i + 2] = [best_id]
    return toks


def check_llama2c(cli, tjson, texts, show, tmp):
    path = os.path.join(tmp, "tokenizer.bin")
    pieces, scores = write_llama2c_bin(tjson, path)
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)
    texts = [t for t in texts if "\x00" not in t]
    res = {}
    for special in (False, True):
        got = run_cli(cli, path, texts, [] if special else ["--no-special"])
        ok, bad = 0, []
        for t, g in zip(texts, got):
            want = runc_encode(t, pieces, lookup, scores, special)
            if g.get("ids") == want:
                ok += 1
            elif len(bad) < show:
                bad.append((t, want, g.get("ids", g.get("error"))))
        res[special] = (ok, bad)
    # round trip: with BOS and special tokens skipped, run.c's decode gives the text back
    rt = run_cli(cli, path, texts, ["--skip-special"])
    rt_ok = sum(1 for t, g in zip(texts, rt) if g.get("text") == t)
    return len(texts), res, rt_ok


# ---- main ------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", help="the layercast binary")
    ap.add_argument("--dir", default=".cache/tokenizers", help="folder of tokenizer folders")
    ap.add_argument("--names", default="llama2,llama3,qwen3")
    ap.add_argument("--n", type=int, default=3000, help="corpus strings per tokenizer")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", type=int, default=5, help="mismatches printed per check")
    ap.add_argument("--random-ids", type=int, default=500, help="random id sequences decoded")
    ap.add_argument("--reference", help="folder of HF results computed elsewhere")
    ap.add_argument("--dump-corpus", help="write the corpus as JSONL and exit")
    ap.add_argument("--no-llama2c", action="store_true", help="skip the tokenizer.bin check")
    a = ap.parse_args()

    texts = corpus(a.seed, a.n)
    if a.dump_corpus:
        with open(a.dump_corpus, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps(t, ensure_ascii=True) + "\n")
        print(f"wrote {len(texts)} strings to {a.dump_corpus}")
        return 0
    if not a.cli or not os.access(a.cli, os.X_OK):
        print(f"tok_check: --cli must name the built layercast binary (got {a.cli!r})", file=sys.stderr)
        return 2

    hf = None
    if not a.reference:
        try:
            import tokenizers as hf  # noqa: F401
            print(f"HF tokenizers {hf.__version__}")
        except ImportError:
            print("HF tokenizers: not installed; comparing layercast with itself only "
                  "(round trips, llama2.c transcription)")

    failed = False
    summary = []
    names = [x for x in a.names.split(",") if x]
    for name in names:
        d = os.path.join(a.dir, name)
        tj = os.path.join(d, "tokenizer.json")
        if not os.path.isfile(tj):
            print(f"== {name}: {tj} missing, skipped (run tools/fetch-tokenizers.sh)")
            summary.append(f"{name:8s} skipped: no {tj}")
            continue
        print(f"== {name}: {d}")
        with open(tj, encoding="utf-8") as f:
            spec = json.load(f)
        nfc = "NFC" in json.dumps(spec.get("normalizer"))
        byte_fallback_dec = "ByteFallback" in json.dumps(spec.get("decoder"))
        t0 = time.time()
        try:
            lc = {sp: run_cli(a.cli, d, texts, [] if sp else ["--no-special"])
                  for sp in (False, True)}
            lc_rt = run_cli(a.cli, d, texts, ["--no-special", "--plain"])
        except Exception as e:  # keep going: the other tokenizers still get checked
            print(f"   layercast failed: {e}")
            summary.append(f"{name:8s} layercast FAILED: {str(e)[:200]}")
            failed = True
            continue
        print(f"   layercast: {len(texts)} strings x 3 in {time.time() - t0:.1f} s")
        errors = [(t, g) for t, g in zip(texts, lc[False]) if "error" in g]
        for t, g in errors[:a.show]:
            print(f"   layercast error on {short(t)}: {g['error']}")
        # round trip: decode(encode(s)) == s (NFC(s) when the tokenizer
        # normalises), added tokens as plain text and no specials: with them,
        # SentencePiece's prepended U+2581 after an added token is not undone
        # by its decoder, in HF as here
        want_rt = [unicodedata.normalize("NFC", t) if nfc else t for t in texts]
        rt_ok = sum(1 for w, g in zip(want_rt, lc_rt) if g.get("text") == w)
        line = f"{name:8s} {len(texts)} strings; round trip {rt_ok}/{len(texts)}"
        if rt_ok != len(texts):
            failed = True
            for w, g in [(w, g) for w, g in zip(want_rt, lc_rt) if g.get("text") != w][:a.show]:
                print(f"   round trip: {short(w)} -> {short(g.get('text', g.get('error')))}")
        # ids against HF
        ref = None
        tok = None
        try:
            if a.reference:
                rows = {sp: load_reference(a.reference, name, "special" if sp else "plain",
                                           len(texts)) for sp in (False, True)}
                ref = {sp: [r["ids"] for r in rows[sp]] for sp in (False, True)}
                if all("text" in r for r in rows[True]):  # HF's decode of its ids
                    ok = sum(1 for g, r in zip(lc[True], rows[True])
                             if g.get("ids") == r["ids"] and g.get("text") == r["text"])
                    line += f"; decode of the ids {ok}/{len(texts)}"
                    if ok != len(texts):
                        failed = True
            elif hf is not None:
                tok = hf.Tokenizer.from_file(tj)
                ref = {sp: hf_encode(tok, texts, sp) for sp in (False, True)}
        except Exception as e:
            print(f"   HF side failed: {e}")
            line += f"; HF side FAILED ({str(e)[:100]})"
            failed = True
        if ref is not None:
            for sp in (False, True):
                ok = 0
                bad = []
                for t, g, w in zip(texts, lc[sp], ref[sp]):
                    if g.get("ids") == w:
                        ok += 1
                    elif len(bad) < a.show:
                        bad.append((t, w, g.get("ids", g.get("error"))))
                line += f"; ids {'with' if sp else 'without'} specials {ok}/{len(texts)}"
                if ok != len(texts):
                    failed = True
                for t, w, g in bad:
                    print(f"   ids ({'special' if sp else 'plain'}) differ on {short(t)}\n"
                          f"      HF        {w}\n      layercast {g}")
        # decoding: the corpus's ids (with specials) and random id sequences
        if tok is not None:
            ok = sum(1 for g, w in zip(lc[True], ref[True])
                     if g.get("ids") == w and g.get("text") == tok.decode(w, skip_special_tokens=False))
            line += f"; decode of the ids {ok}/{len(texts)}"
            if ok != len(texts):
                failed = True
        if tok is not None and a.random_ids > 0:
            r = random.Random(a.seed + 7)
            vs = tok.get_vocab_size(with_added_tokens=True)
            seqs = [[r.randrange(vs) for _ in range(r.randint(1, 24))] for _ in range(a.random_ids)]
            seqs = [[i for i in s if tok.id_to_token(i) is not None] or [0] for s in seqs]
            got = run_cli(a.cli, d, [{"ids": s} for s in seqs], [])
            ok, bad = 0, []
            for s, g in zip(seqs, got):
                w = tok.decode(s, skip_special_tokens=False)
                if g.get("text") == w:
                    ok += 1
                elif len(bad) < a.show:
                    bad.append((s, w, g.get("text", g.get("error"))))
            line += f"; random-id decode {ok}/{len(seqs)}"
            for s, w, g in bad:
                print(f"   decode differs on {s}\n      HF        {short(w)}\n      layercast {short(g)}")
            if ok != len(seqs):
                # HF's ByteFallback decoder turns every byte of an invalid run
                # into U+FFFD; layercast replaces maximal invalid subparts
                # (docs/text.md): only byte-level tokenizers must agree here
                if byte_fallback_dec:
                    line += " (differences expected: invalid byte runs are replaced differently)"
                else:
                    failed = True
        summary.append(line)
        # llama2.c: only for the SentencePiece-style vocabulary
        if not a.no_llama2c and name == "llama2":
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    n, res, rt = check_llama2c(a.cli, tj, texts, a.show, tmp)
                except Exception as e:
                    print(f"   llama2.c check failed: {e}")
                    summary.append(f"llama2c  FAILED: {str(e)[:200]}")
                    failed = True
                    continue
                line = f"llama2c  {n} strings (tokenizer.bin from {name}); round trip {rt}/{n}"
                for sp in (False, True):
                    ok, bad = res[sp]
                    line += f"; ids == run.c {'with BOS' if sp else 'without BOS'} {ok}/{n}"
                    if ok != n:
                        failed = True
                    for t, w, g in bad:
                        print(f"   llama2.c ids differ on {short(t)}\n      run.c     {w}\n"
                              f"      layercast {g}")
                if rt != n:
                    failed = True
                summary.append(line)
    print("\n== summary (seed %d)" % a.seed)
    for s in summary:
        print(s)
    print("RESULT:", "FAIL" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

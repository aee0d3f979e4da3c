/*
 * tests/fuzz/fuzz_seeds.c — writes the seed corpora of the fuzz targets:
 *   fuzz_seeds DIR
 * makes DIR/<target>/ for each target of tests/fuzz/ and writes small valid
 * inputs into it: a tiny llama2.c checkpoint (tied and untied), a tiny
 * synthetic Hugging Face checkpoint (lc_synth_write: bf16, f32, 2 shards)
 * in the FUZZ_SEP framing, the byte-level tokenizer.json
 * (lc_tokenizer_write_bytes) and a small tokenizer.bin, prompt files, the
 * records of a tiny sweep, chat formats and answer texts.  Nothing here is
 * committed as a binary: tools/fuzz.sh runs this before fuzzing.
 */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "include/layercast_experiment.h"
#include "include/layercast_model.h"
#include "include/layercast_text.h"
#include "tests/fuzz/fuzz_common.h"

static char g_out[512];

static void die(const char *what) {
  fprintf(stderr, "fuzz_seeds: %s: %s\n", what, lc_last_error(NULL));
  exit(1);
}

/* A growable byte buffer. */
typedef struct buf {
  unsigned char *p;
  size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = 2 * (b->n + n) + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p) die("realloc");
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}

static void put_file(buf *b, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  unsigned char tmp[4096];
  size_t k;
  while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) put(b, tmp, k);
  fclose(f);
}

static void seed(const char *target, const char *name, const void *d, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", g_out, target);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/%s/%s", g_out, target, name);
  fuzz_write(path, d, n);
}

static void seed_str(const char *target, const char *name, const char *s) {
  seed(target, name, s, strlen(s));
}

/* llama2.c: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 16
 * (negative: untied), seq_len 4; weights a small deterministic pattern. */
static void llama2c(int untied) {
  const int32_t dim = 8, hidden = 16, heads = 2, kv = 1, vocab = 16, seq = 4;
  const int32_t hdr[7] = {dim, hidden, 1, heads, kv, untied ? -vocab : vocab, seq};
  const int32_t kv_dim = dim * kv / heads, head = dim / heads;
  int64_t n = (int64_t)vocab * dim + dim + dim * dim + 2 * kv_dim * dim + dim * dim + dim +
              3 * hidden * dim + dim + 2 * seq * head / 2 + (untied ? vocab * dim : 0);
  buf b = {0};
  put(&b, hdr, sizeof hdr);
  for (int64_t i = 0; i < n; i++) {
    float v = (float)((i * 37) % 17 - 8) / 64.0f;
    put(&b, &v, sizeof v);
  }
  seed("llama2c", untied ? "untied.bin" : "tied.bin", b.p, b.n);
  free(b.p);
}

static void hf(const char *tmp, lc_dtype dtype, int shards, const char *name) {
  char dir[600], path[700];
  snprintf(dir, sizeof dir, "%s/hf_%s", tmp, name);
  lc_synth_params p;
  lc_synth_params_default(&p);
  p.config.dim = 16;
  p.config.hidden_dim = 32;
  p.config.n_layers = 1;
  p.config.n_heads = 2;
  p.config.n_kv_heads = 1;
  p.config.head_dim = 8;
  p.config.vocab_size = 32;
  p.config.max_seq_len = 16;
  p.seed = 1;
  p.dtype = dtype;
  p.n_shards = shards;
  if (lc_synth_write(dir, &p) != LC_OK) die("lc_synth_write");
  buf b = {0};
  snprintf(path, sizeof path, "%s/config.json", dir);
  put_file(&b, path);
  put(&b, FUZZ_SEP, strlen(FUZZ_SEP));
  if (shards == 1) {
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    put_file(&b, path);
  } else {
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    put_file(&b, path);
    for (int i = 1; i <= shards; i++) {
      put(&b, FUZZ_SEP, strlen(FUZZ_SEP));
      snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir, i, shards);
      put_file(&b, path);
    }
  }
  seed("hf", name, b.p, b.n);
  free(b.p);
}

static void tok_piece(buf *b, float score, const char *s, size_t n) {
  int32_t len = (int32_t)n;
  put(b, &score, 4);
  put(b, &len, 4);
  put(b, s, n);
}

static void tokenizers(const char *tmp) {
  char dir[600], path[700];
  snprintf(dir, sizeof dir, "%s/tok", tmp);
  mkdir(dir, 0755);
  if (lc_tokenizer_write_bytes(dir) != LC_OK) die("lc_tokenizer_write_bytes");
  buf b = {0};
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  put_file(&b, path);
  seed("tokenizer", "bytes.json", b.p, b.n);
  /* the same with an empty piece ("") sharing id 60 with "<": the input of
   * the first fuzz_tokenizer crash (an empty piece reached the output stage
   * as a NULL buffer plus 0; clang's UBSan reports it, gcc's does not) */
  static const char key[] = "\"vocab\": {";
  size_t at = 0;
  while (at + sizeof key - 1 <= b.n && memcmp(b.p + at, key, sizeof key - 1) != 0) at++;
  if (at + sizeof key - 1 <= b.n) {
    buf e = {0};
    const size_t head = at + sizeof key - 1;
    put(&e, b.p, head);
    put(&e, "\n   \"\": 60,", 11);
    put(&e, b.p + head, b.n - head);
    seed("tokenizer", "empty-piece.json", e.p, e.n);
    free(e.p);
  }
  free(b.p);
  /* tokenizer.bin: <unk> <s> </s>, the 256 byte pieces, a few merges */
  b = (buf){0};
  int32_t max_len = 16;
  put(&b, &max_len, 4);
  tok_piece(&b, 0.0f, "<unk>", 5);
  tok_piece(&b, 0.0f, "<s>", 3);
  tok_piece(&b, 0.0f, "</s>", 4);
  for (int i = 0; i < 256; i++) {
    char s[8];
    snprintf(s, sizeof s, "<0x%02X>", i);
    tok_piece(&b, 0.0f, s, 6);
  }
  static const char *const pieces[] = {
      "\xe2\x96\x81",    "a",  "b",   "e",    "h", "l", "o", "t", "ab", "\xe2\x96\x81t", "he",
      "\xe2\x96\x81the", "lo", "hel", "hello"};
  for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
    tok_piece(&b, -(float)i, pieces[i], strlen(pieces[i]));
  seed("tokenizer", "tiny.bin", b.p, b.n);
  free(b.p);
}

static void records(const char *tmp) {
  char model[600], out[600], path[700];
  snprintf(model, sizeof model, "%s/hf_bf16", tmp);
  snprintf(out, sizeof out, "%s/sweep", tmp);
  lc_prompt_list ps = {NULL, 0};
  const int32_t a[] = {1, 2, 3}, c[] = {4}, ans[] = {7};
  if (lc_prompt_list_add(&ps, a, 3, ans, 1) != LC_OK || lc_prompt_list_add(&ps, c, 1, NULL, 0))
    die("lc_prompt_list_add");
  static const lc_mode modes[] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  static const int32_t batches[] = {1, 2};
  static const char *const positions[] = {"first"};
  lc_sweep_params sp;
  lc_sweep_params_default(&sp);
  sp.model = model;
  sp.modes = modes;
  sp.n_modes = 2;
  sp.batch_sizes = batches;
  sp.n_batch_sizes = 2;
  sp.positions = positions;
  sp.n_positions = 1;
  sp.prompts = &ps;
  sp.max_new = 3;
  sp.out_dir = out;
  lc_sweep_result *r = NULL;
  if (lc_sweep_run(&sp, &r) != LC_OK) die("lc_sweep_run");
  lc_sweep_result_free(r);
  lc_prompt_list_free(&ps);
  buf b = {0};
  snprintf(path, sizeof path, "%s/runs.jsonl", out);
  put_file(&b, path);
  seed("records", "one.jsonl", b.p, b.n);
  put(&b, FUZZ_SEP, strlen(FUZZ_SEP));
  put_file(&b, path);
  seed("records", "two.jsonl", b.p, b.n);
  free(b.p);
}

int main(int argc, char **argv) {
  if (argc != 2 || strlen(argv[1]) > 400) {
    fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  snprintf(g_out, sizeof g_out, "%s", argv[1]);
  mkdir(g_out, 0755);
  const char *tmp = fuzz_tmpdir();
  llama2c(0);
  llama2c(1);
  hf(tmp, LC_DTYPE_BF16, 1, "bf16");
  hf(tmp, LC_DTYPE_F32, 1, "f32");
  hf(tmp, LC_DTYPE_F16, 2, "f16_sharded");
  tokenizers(tmp);
  records(tmp);
  seed_str("prompts", "ids.jsonl", "{\"tokens\": [1, 2, 3], \"answer\": [7]}\n{\"tokens\": [4]}\n");
  seed_str("prompts", "text.jsonl",
           "{\"tokens\": [5, 6], \"answer\": \"42\", \"text\": \"What is 6*7?\"}\n\n"
           "{\"tokens\": [0, 2147483647], \"answer\": []}\n");
  seed_str("chat", "format.json",
           "{\"begin\": \"<s>\", \"add_bos\": false, \"trim\": true,\n"
           " \"system\": {\"prefix\": \"[SYS]\", \"suffix\": \"\\n\"},\n"
           " \"user\": {\"prefix\": \"User: \", \"suffix\": \"\\n\"},\n"
           " \"assistant\": {\"prefix\": \"Assistant: \", \"suffix\": \"</s>\\n\"},\n"
           " \"generation_prompt\": \"Assistant:\", \"default_system\": \"Be kind.\"}\n");
  seed_str("chat", "chatml.jinja",
           "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
           "{% endfor %}");
  seed_str("chat", "llama3.jinja",
           "<|start_header_id|>{{ role }}<|end_header_id|>\n\n{{ content }}<|eot_id|>");
  seed_str("chat", "llama2.jinja", "[INST] <<SYS>>\n{{ system }}\n<</SYS>>\n\n{{ user }} [/INST]");
  seed_str("cli", "all",
           "--i32\n12\n--list\n1,8,32\n--tokens\n1 2 3\n--stop\n2,5\n--backends\ncpu,cuda\n"
           "--modes\nstrict,fast\n--f32=0.9\n--choice\nlast\n--flag\n--u64\n0x10\n--mode=bf16");
  seed_str("cli", "bad", "--i32=99999999999\n--list\n1,,2");
  seed_str("answer", "number", "1,234\nSo the total is $1,234.50 - no, 1234.");
  seed_str("answer", "boxed", "\\frac{1}{2}\nThus \\boxed{\\frac{1}{2}} and \\boxed 3");
  seed_str("answer", "choice", "(B)\nThe answer is (B). Option C is wrong.");
  seed_str("answer", "exact", "hello world\n  hello \t world  ");
  seed_str("answer", "minus",
           "-5\nIt is \xe2\x88\x92"
           "5, or \\$-5\\%");
  printf("fuzz_seeds: wrote the seed corpora under %s\n", g_out);
  return 0;
}

/*
 * tests/test_checkpoint.c — the checkpoint loaders (lib/checkpoint.c,
 * lib/ckpt_hf.c): stories260K.bin, llama2.c files and Hugging Face
 * directories written here, and corrupted copies of them.  Every rejection is
 * checked for its status and for a message naming what was wrong.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/checkpoint.h"
#include "test_util.h"

/* ---- helpers ----------------------------------------------------------------*/

static char g_dir[256]; /* this run's temporary folder */

static void make_tmpdir(void) {
  lct_tmpdir_make(g_dir, sizeof g_dir, "ckpt");
}

/* Teardown of every test: removes this test's folder even when it failed. */
static int cleanup_tmpdir(void **state) {
  (void)state;
  int rc = lct_tmpdir_remove(g_dir);
  g_dir[0] = '\0';
  return rc == 0 ? 0 : -1;
}

static void path_in(char *out, size_t n, const char *a, const char *b) {
  snprintf(out, n, "%s/%s", a, b);
}

static void write_text(const char *path, const char *text) {
  lct_write_file(path, text, strlen(text));
}

static char g_err[1024]; /* the message of the last expect_fail */

/* Opens path expecting status `want` and a message containing each of the
 * NULL-terminated substrings. */
static void expect_fail(const char *path, lc_model_format fmt, lc_status want, ...) {
  char *err = g_err;
  const size_t err_len = sizeof g_err;
  lc_checkpoint *c = (lc_checkpoint *)0x1;
  lc_status st = lc_checkpoint_open(path, fmt, &c, err, err_len);
  if (st != want) {
    print_error("open %s: expected %s, got %s: %s\n", path, lc_status_name(want),
                lc_status_name(st), err);
    if (st == LC_OK) lc_checkpoint_close(c);
    fail();
  }
  assert_null(c);
  va_list ap;
  va_start(ap, want);
  for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
    if (!strstr(err, s)) {
      print_error("open %s: message \"%s\" lacks \"%s\"\n", path, err, s);
      va_end(ap);
      fail();
    }
  }
  va_end(ap);
}

static lc_checkpoint *open_ok(const char *path, lc_model_format fmt) {
  char err[1024];
  lc_checkpoint *c = NULL;
  lc_status st = lc_checkpoint_open(path, fmt, &c, err, sizeof err);
  if (st != LC_OK) {
    print_error("open %s: %s: %s\n", path, lc_status_name(st), err);
    fail();
  }
  assert_non_null(c);
  return c;
}

static void assert_shape(const lc_checkpoint *c, const char *name, int ndim, int64_t r,
                         int64_t cols) {
  const lc_tensor_src *t = lc_checkpoint_find(c, name);
  if (!t) {
    print_error("tensor %s missing\n", name);
    fail();
  }
  if (t->ndim != ndim || t->shape[0] != r || t->shape[1] != cols) {
    print_error("tensor %s: shape %d-D [%lld, %lld], expected %d-D [%lld, %lld]\n", name,
                (int)t->ndim, (long long)t->shape[0], (long long)t->shape[1], ndim, (long long)r,
                (long long)cols);
    fail();
  }
}

/* ---- llama2.c ----------------------------------------------------------------*/

/* Writes a llama2.c file with header h whose float k (after the header) is
 * k * 1e-3 - 1 (exact enough to identify), `extra` floats more or fewer
 * than the header calls for.  Returns the float count written. */
static int64_t write_llama2c(const char *path, const int32_t h[7], int64_t extra) {
  int64_t dim = h[0], hid = h[1], L = h[2], nh = h[3], nkv = h[4];
  int64_t V = h[5] < 0 ? -(int64_t)h[5] : h[5], S = h[6];
  int64_t hd = dim / nh, kvd = nkv * hd;
  int64_t n =
      V * dim + L * (2 * dim + 2 * dim * dim + 2 * kvd * dim + 3 * hid * dim) + dim + S * hd;
  if (h[5] < 0) n += V * dim;
  n += extra;
  float *v = lct_alloc_f(n);
  for (int64_t k = 0; k < n; k++) v[k] = (float)k * 1e-3f - 1.0f;
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(h, 4, 7, f), 7);
  if (n > 0) assert_int_equal(fwrite(v, 4, (size_t)n, f), (size_t)n);
  assert_int_equal(fclose(f), 0);
  free(v);
  return n;
}

static float llama2c_val(int64_t k) {
  return (float)k * 1e-3f - 1.0f;
}

/* stories260K.bin opens with the README's config, 5*9+2 tensors (tied: no
 * lm_head), and tensors that point at the right bytes of the file. */
static void test_checkpoint_stories260k(void **state) {
  (void)state;
  char path[512];
  snprintf(path, sizeof path, "%s/stories260K.bin", lct_models_dir());
  if (access(path, R_OK) != 0) {
    print_message("SKIP: %s not found (set LC_MODELS_DIR)\n", path);
    skip();
  }
  lc_checkpoint *c = open_ok(path, LC_FORMAT_AUTO);
  assert_int_equal(lc_checkpoint_format(c), LC_FORMAT_LLAMA2C);
  const lc_model_config *g = lc_checkpoint_config(c);
  assert_int_equal(g->arch, LC_ARCH_LLAMA);
  assert_int_equal(g->dim, 64);
  assert_int_equal(g->hidden_dim, 172);
  assert_int_equal(g->n_layers, 5);
  assert_int_equal(g->n_heads, 8);
  assert_int_equal(g->n_kv_heads, 4);
  assert_int_equal(g->head_dim, 8);
  assert_int_equal(g->vocab_size, 512);
  assert_int_equal(g->max_seq_len, 512);
  assert_true(g->norm_eps == 1e-5f);
  assert_true(g->rope_theta == 10000.0);
  assert_int_equal(g->rope_style, LC_ROPE_INTERLEAVED);
  assert_int_equal(g->tied_embeddings, 1);
  assert_int_equal(g->qkv_bias, 0);
  assert_int_equal(g->qk_norm, 0);
  assert_int_equal(g->bos_id, 1);
  assert_int_equal(g->eos_id, 2);
  assert_null(lc_checkpoint_inv_freq(c));
  assert_int_equal(lc_checkpoint_n_tensors(c), 5 * 9 + 2);
  assert_null(lc_checkpoint_find(c, "lm_head.weight"));
  assert_shape(c, "model.embed_tokens.weight", 2, 512, 64);
  assert_shape(c, "model.layers.4.self_attn.k_proj.weight", 2, 32, 64);
  assert_shape(c, "model.layers.0.mlp.down_proj.weight", 2, 64, 172);
  assert_shape(c, "model.layers.3.mlp.gate_proj.weight", 2, 172, 64);
  assert_shape(c, "model.norm.weight", 1, 64, 1);

  size_t n;
  unsigned char *raw = lct_read_file(path, &n);
  assert_int_equal(n, 1056540);
  const float *f = (const float *)(raw + 28);
  /* Offsets in floats: embed 32768, rms_att 320, wq 5*4096, wk 5*2048, wv,
   * wo 5*4096, rms_ffn 320, w1 5*11008, w2, w3, rms_final 64. */
  int64_t o_embed = 0, o_rms_att = 32768, o_wq = o_rms_att + 320, o_wk = o_wq + 20480;
  int64_t o_wv = o_wk + 10240, o_wo = o_wv + 10240, o_rms_ffn = o_wo + 20480;
  int64_t o_w1 = o_rms_ffn + 320, o_w2 = o_w1 + 55040, o_w3 = o_w2 + 55040;
  int64_t o_final = o_w3 + 55040;
  struct {
    const char *name;
    int64_t off;
    size_t bytes;
  } want[] = {
      {"model.embed_tokens.weight", o_embed, 32768 * 4},
      {"model.layers.0.input_layernorm.weight", o_rms_att, 64 * 4},
      {"model.layers.2.self_attn.q_proj.weight", o_wq + 2 * 4096, 4096 * 4},
      {"model.layers.1.self_attn.k_proj.weight", o_wk + 2048, 2048 * 4},
      {"model.layers.4.self_attn.v_proj.weight", o_wv + 4 * 2048, 2048 * 4},
      {"model.layers.3.self_attn.o_proj.weight", o_wo + 3 * 4096, 4096 * 4},
      {"model.layers.4.post_attention_layernorm.weight", o_rms_ffn + 4 * 64, 64 * 4},
      {"model.layers.1.mlp.gate_proj.weight", o_w1 + 11008, 11008 * 4},
      {"model.layers.2.mlp.down_proj.weight", o_w2 + 2 * 11008, 11008 * 4},
      {"model.layers.4.mlp.up_proj.weight", o_w3 + 4 * 11008, 11008 * 4},
      {"model.norm.weight", o_final, 64 * 4},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const lc_tensor_src *t = lc_checkpoint_find(c, want[i].name);
    assert_non_null(t);
    assert_int_equal(t->dtype, LC_DTYPE_F32);
    assert_int_equal(t->bytes, want[i].bytes);
    assert_int_equal((uintptr_t)t->data % 4, 0);
    lct_assert_bitwise_f32(t->data, f + want[i].off, (int64_t)(want[i].bytes / 4), want[i].name);
  }
  /* RMSNorm weights of a trained model are O(1); a misplaced offset would
   * land in a matrix of small values. */
  assert_true(((const float *)lc_checkpoint_find(c, "model.norm.weight")->data)[0] > 0.1f);
  free(raw);
  lc_checkpoint_close(c);
}

/* A tied and an untied llama2.c file written here open, every tensor at the
 * offset the layout defines (w1 = gate, w3 = up, w2 = down; wcls after the
 * RoPE tables). */
static void test_checkpoint_llama2c_written(void **state) {
  (void)state;
  make_tmpdir();
  for (int untied = 0; untied < 2; untied++) {
    int32_t h[7] = {16, 24, 2, 4, 2, untied ? -40 : 40, 8};
    char path[512];
    path_in(path, sizeof path, g_dir, untied ? "untied.bin" : "tied.bin");
    write_llama2c(path, h, 0);
    lc_checkpoint *c = open_ok(path, untied ? LC_FORMAT_LLAMA2C : LC_FORMAT_AUTO);
    const lc_model_config *g = lc_checkpoint_config(c);
    assert_int_equal(g->tied_embeddings, !untied);
    assert_int_equal(g->vocab_size, 40);
    assert_int_equal(g->head_dim, 4);
    assert_int_equal(lc_checkpoint_n_tensors(c), 2 * 9 + 2 + untied);
    int64_t D = 16, H = 24, kvd = 8, L = 2;
    int64_t o_rms_att = 40 * D, o_wq = o_rms_att + L * D, o_wk = o_wq + L * D * D;
    int64_t o_wv = o_wk + L * kvd * D, o_wo = o_wv + L * kvd * D, o_ffn = o_wo + L * D * D;
    int64_t o_w1 = o_ffn + L * D, o_w2 = o_w1 + L * H * D, o_w3 = o_w2 + L * H * D;
    int64_t o_fin = o_w3 + L * H * D, o_cls = o_fin + D + 8 * 4; /* two RoPE tables of 8 * 4/2 */
    struct {
      const char *name;
      int64_t off;
    } want[] = {
        {"model.embed_tokens.weight", 0},
        {"model.layers.1.input_layernorm.weight", o_rms_att + D},
        {"model.layers.1.self_attn.q_proj.weight", o_wq + D * D},
        {"model.layers.1.self_attn.k_proj.weight", o_wk + kvd * D},
        {"model.layers.0.self_attn.v_proj.weight", o_wv},
        {"model.layers.1.self_attn.o_proj.weight", o_wo + D * D},
        {"model.layers.1.post_attention_layernorm.weight", o_ffn + D},
        {"model.layers.1.mlp.gate_proj.weight", o_w1 + H * D},
        {"model.layers.1.mlp.down_proj.weight", o_w2 + H * D},
        {"model.layers.1.mlp.up_proj.weight", o_w3 + H * D},
        {"model.norm.weight", o_fin},
        {"lm_head.weight", o_cls},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
      const lc_tensor_src *t = lc_checkpoint_find(c, want[i].name);
      if (!untied && strcmp(want[i].name, "lm_head.weight") == 0) {
        assert_null(t);
        continue;
      }
      assert_non_null(t);
      const float *d = t->data;
      int64_t n = (int64_t)(t->bytes / 4);
      assert_true(d[0] == llama2c_val(want[i].off));
      assert_true(d[n - 1] == llama2c_val(want[i].off + n - 1));
    }
    if (untied) assert_shape(c, "lm_head.weight", 2, 40, 16);
    lc_checkpoint_close(c);
  }
}

/* Truncated files, trailing bytes and lying headers are refused with
 * LC_ERR_FORMAT and a message naming the field or the sizes. */
static void test_checkpoint_llama2c_corrupt(void **state) {
  (void)state;
  make_tmpdir();
  char path[512];
  path_in(path, sizeof path, g_dir, "bad.bin");
  int32_t ok[7] = {16, 24, 2, 4, 2, 40, 8};

  write_llama2c(path, ok, -1); /* one float short */
  expect_fail(path, LC_FORMAT_LLAMA2C, LC_ERR_FORMAT, "bad.bin", "must be exactly", "truncated",
              NULL);
  write_llama2c(path, ok, 3);
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_FORMAT, "must be exactly", "trailing", NULL);
  /* a tied file read with a negative vocab (expects wcls) is too short */
  int32_t neg[7] = {16, 24, 2, 4, 2, -40, 8};
  write_llama2c(path, ok, 0);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, 20, SEEK_SET), 0);
  assert_int_equal(fwrite(&neg[5], 4, 1, f), 1);
  fclose(f);
  expect_fail(path, LC_FORMAT_LLAMA2C, LC_ERR_FORMAT, "separate classifier", "truncated", NULL);

  int32_t bad_heads[7] = {18, 24, 2, 4, 2, 40, 8}; /* 4 does not divide 18 */
  write_llama2c(path, ok, 0);
  f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fwrite(bad_heads, 4, 7, f), 7);
  fclose(f);
  expect_fail(path, LC_FORMAT_LLAMA2C, LC_ERR_FORMAT, "n_heads 4 must divide dim 18", NULL);

  int32_t hdrs[][7] = {
      {16, -24, 2, 4, 2, 40, 8},                            /* negative hidden_dim */
      {16, 24, 0, 4, 2, 40, 8},                             /* zero layers */
      {16, 24, 2, 4, 3, 40, 8},                             /* 3 kv heads of 4 */
      {24, 24, 2, 8, 2, 40, 8},                             /* head_dim 3 */
      {1 << 30, 1 << 30, 1 << 30, 1 << 10, 1 << 10, 40, 8}, /* overflows */
      {16, 24, 2, 4, 2, 0, 8},                              /* vocab 0 */
  };
  const char *msgs[] = {"hidden_dim must be positive; found -24",
                        "n_layers must be positive; found 0",
                        "n_kv_heads 3 must divide n_heads 4",
                        "head_dim = dim / n_heads = 3 must be even",
                        "too large",
                        "vocab_size must be nonzero"};
  for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
    lct_write_file(path, hdrs[i], 28);
    expect_fail(path, LC_FORMAT_LLAMA2C, LC_ERR_FORMAT, "bad.bin", msgs[i], NULL);
  }
  /* consistent, but beyond what layercast runs: head_dim 258 > LC_MAX_HEAD_DIM */
  int32_t wide[7] = {258, 8, 1, 1, 1, 4, 2};
  write_llama2c(path, wide, 0);
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_UNSUPPORTED, "bad.bin", "head_dim 258 is not supported",
              "up to 256", NULL);
  /* too short for a header; missing file */
  lct_write_file(path, ok, 12);
  expect_fail(path, LC_FORMAT_LLAMA2C, LC_ERR_FORMAT, "28-byte header", NULL);
  lct_write_file(path, ok, 0);
  expect_fail(path, LC_FORMAT_LLAMA2C, LC_ERR_FORMAT, "found a file of 0 bytes", NULL);
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_FORMAT, "not a recognised checkpoint",
              "found 0 bytes, shorter than the header", NULL);
  lct_write_file(path, hdrs[4], 28); /* huge sizes: not taken for llama2.c */
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_FORMAT, "not a recognised checkpoint", "dim 1073741824",
              NULL);
  int32_t v1[7] = {0x616b3432, 1, 16, 24, 2, 4, 2};
  lct_write_file(path, v1, 28);
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_UNSUPPORTED, "export version 1", "legacy version 0",
              NULL);
  write_text(path, "#!/bin/sh\necho not a model at all\n");
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_FORMAT, "not a recognised checkpoint", NULL);
  /* arguments */
  char err[256];
  assert_int_equal(lc_checkpoint_open(NULL, LC_FORMAT_AUTO, NULL, err, sizeof err),
                   LC_ERR_INVALID_ARGUMENT);
  lc_checkpoint *c = NULL;
  assert_int_equal(lc_checkpoint_open(path, (lc_model_format)7, &c, err, sizeof err),
                   LC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(err, "unknown format 7"));
  lc_checkpoint_close(NULL);
}

/* ---- Hugging Face -------------------------------------------------------------*/

/* A tiny synthetic checkpoint in dir: dim 16, hidden 24, 2 layers, 4 heads,
 * 2 kv heads, head_dim 4, vocab 40. */
static void synth_small(const char *dir, lc_arch arch, int tied, int n_shards, lc_dtype dt) {
  lc_synth_params p;
  lc_synth_params_default(&p);
  p.config.arch = arch;
  p.config.dim = 16;
  p.config.hidden_dim = 24;
  p.config.n_layers = 2;
  p.config.n_heads = 4;
  p.config.n_kv_heads = 2;
  p.config.head_dim = 4;
  p.config.vocab_size = 40;
  p.config.max_seq_len = 32;
  p.config.tied_embeddings = tied;
  p.n_shards = n_shards;
  p.dtype = dt;
  if (lc_synth_write(dir, &p) != LC_OK) {
    print_error("synth %s: %s\n", dir, lc_last_error(NULL));
    fail();
  }
}

typedef void (*json_edit)(json_t *root, void *user);

static json_t *load_json(const char *path) {
  json_error_t je;
  json_t *r = json_load_file(path, JSON_PRESERVE_ORDER, &je);
  if (!r) {
    print_error("%s: %s\n", path, je.text);
    fail();
  }
  return r;
}

static void save_json(const char *path, json_t *r) {
  assert_int_equal(json_dump_file(r, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER), 0);
}

static void edit_json_file(const char *path, json_edit fn, void *user) {
  json_t *r = load_json(path);
  fn(r, user);
  save_json(path, r);
  json_decref(r);
}

/* Rewrites a safetensors file's header through fn, keeping its data
 * section; `pad` extra spaces after the 8-byte alignment (pad 1 makes every
 * 2- and 4-byte tensor unaligned). */
static void edit_st_header(const char *path, json_edit fn, void *user, int pad) {
  size_t len;
  unsigned char *raw = lct_read_file(path, &len);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | raw[i];
  json_error_t je;
  json_t *h = json_loadb((const char *)raw + 8, (size_t)n, JSON_PRESERVE_ORDER, &je);
  assert_non_null(h);
  if (fn) fn(h, user);
  char *text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(h);
  assert_non_null(text);
  size_t hl = strlen(text);
  size_t padded = hl;
  while ((8 + padded) % 8) padded++;
  padded += (size_t)pad;
  unsigned char *out = lct_malloc(8 + padded + (len - 8 - n));
  for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  memcpy(out + 8, text, hl);
  memset(out + 8 + hl, ' ', padded - hl);
  memcpy(out + 8 + padded, raw + 8 + n, len - 8 - n);
  lct_write_file(path, out, 8 + padded + (len - 8 - n));
  free(text);
  free(out);
  free(raw);
}

/* Edits: user is a string "tensor|field|json value" or a key to delete. */
static void ed_set_tensor_field(json_t *h, void *user) {
  char spec[256];
  snprintf(spec, sizeof spec, "%s", (const char *)user);
  char *f = strchr(spec, '|');
  assert_non_null(f);
  *f++ = '\0';
  char *v = strchr(f, '|');
  assert_non_null(v);
  *v++ = '\0';
  json_t *t = json_object_get(h, spec);
  if (!t) { /* a new tensor */
    t = json_object();
    json_object_set_new(h, spec, t);
  }
  json_error_t je;
  json_t *val = json_loads(v, JSON_DECODE_ANY, &je);
  assert_non_null(val);
  json_object_set_new(t, f, val);
}

static void ed_delete_key(json_t *h, void *user) {
  assert_int_equal(json_object_del(h, (const char *)user), 0);
}

/* Copies tensor a's data_offsets onto tensor b ("a|b"). */
static void ed_copy_offsets(json_t *h, void *user) {
  char spec[256];
  snprintf(spec, sizeof spec, "%s", (const char *)user);
  char *b = strchr(spec, '|');
  *b++ = '\0';
  json_t *o = json_object_get(json_object_get(h, spec), "data_offsets");
  assert_non_null(o);
  json_object_set(json_object_get(h, b), "data_offsets", o);
}

/* Sets a config key to a JSON value ("key|value"); value "DELETE" removes it. */
static void ed_config(json_t *r, void *user) {
  char spec[512];
  snprintf(spec, sizeof spec, "%s", (const char *)user);
  char *v = strchr(spec, '|');
  assert_non_null(v);
  *v++ = '\0';
  if (strcmp(v, "DELETE") == 0) {
    json_object_del(r, spec);
    return;
  }
  json_error_t je;
  json_t *val = json_loads(v, JSON_DECODE_ANY, &je);
  if (!val) {
    print_error("bad test JSON %s: %s\n", v, je.text);
    fail();
  }
  json_object_set_new(r, spec, val);
}

/* Size of a safetensors file's data section. */
static uint64_t st_data_len(const char *path) {
  size_t len;
  unsigned char *raw = lct_read_file(path, &len);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | raw[i];
  free(raw);
  return len - 8 - n;
}

/* Appends n zero bytes to a file. */
static void append_zeros(const char *path, size_t n) {
  FILE *f = fopen(path, "ab");
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) assert_int_equal(fputc(0, f), 0);
  assert_int_equal(fclose(f), 0);
}

static void copy_file(const char *from, const char *to) {
  size_t n;
  void *p = lct_read_file(from, &n);
  lct_write_file(to, p, n);
  free(p);
}

/* A Hugging Face directory opens from the folder, from its config.json and
 * with the format forced; an unaligned data section is copied into aligned
 * memory with the same bytes; a tied checkpoint's stored lm_head is ignored;
 * unknown extra tensors (any dtype) are ignored. */
static void test_checkpoint_hf_opens(void **state) {
  (void)state;
  make_tmpdir();
  char dir[512], cfg[600], st[600], ref[600];
  path_in(dir, sizeof dir, g_dir, "m");
  synth_small(dir, LC_ARCH_LLAMA, 0, 1, LC_DTYPE_BF16);
  path_in(cfg, sizeof cfg, dir, "config.json");
  path_in(st, sizeof st, dir, "model.safetensors");
  path_in(ref, sizeof ref, g_dir, "ref.safetensors");
  copy_file(st, ref);

  lc_checkpoint *a = open_ok(dir, LC_FORMAT_AUTO);
  lc_checkpoint *b = open_ok(cfg, LC_FORMAT_AUTO);
  lc_checkpoint *c = open_ok(dir, LC_FORMAT_HF);
  assert_int_equal(lc_checkpoint_format(a), LC_FORMAT_HF);
  assert_int_equal(lc_checkpoint_n_tensors(a), 2 + 2 * 9 + 1);
  assert_int_equal(lc_checkpoint_n_tensors(b), lc_checkpoint_n_tensors(a));
  assert_int_equal(lc_checkpoint_config(c)->rope_style, LC_ROPE_HALF);
  assert_null(lc_checkpoint_inv_freq(a));
  assert_shape(a, "model.layers.1.self_attn.k_proj.weight", 2, 8, 16);
  assert_shape(a, "model.layers.0.mlp.down_proj.weight", 2, 16, 24);
  assert_shape(a, "model.layers.0.input_layernorm.weight", 1, 16, 1);
  assert_shape(a, "lm_head.weight", 2, 40, 16);
  const lc_tensor_src *ta = lc_checkpoint_find(a, "model.layers.1.mlp.up_proj.weight");
  assert_int_equal(ta->dtype, LC_DTYPE_BF16);
  assert_int_equal(ta->bytes, 24 * 16 * 2);
  /* keep a copy of the values before the file changes under the maps */
  uint16_t want[24 * 16];
  memcpy(want, ta->data, sizeof want);
  lc_checkpoint_close(a);
  lc_checkpoint_close(b);
  lc_checkpoint_close(c);

  /* one extra space: the data section starts at an odd offset */
  edit_st_header(st, NULL, NULL, 1);
  a = open_ok(dir, LC_FORMAT_AUTO);
  ta = lc_checkpoint_find(a, "model.layers.1.mlp.up_proj.weight");
  assert_int_equal((uintptr_t)ta->data % 2, 0);
  assert_memory_equal(ta->data, want, sizeof want);
  lc_checkpoint_close(a);

  /* tied config with lm_head stored: ignored; extra tensors of other dtypes
   * and ranks: ignored */
  copy_file(ref, st);
  edit_json_file(cfg, ed_config, "tie_word_embeddings|true");
  edit_st_header(st, ed_set_tensor_field, "extra.position_ids|dtype|\"I64\"", 0);
  edit_st_header(st, ed_set_tensor_field, "extra.position_ids|shape|[1, 2, 1]", 0);
  char spec[256];
  uint64_t dl = st_data_len(st);
  append_zeros(st, 16);
  snprintf(spec, sizeof spec, "extra.position_ids|data_offsets|[%llu, %llu]",
           (unsigned long long)dl, (unsigned long long)dl + 16);
  edit_st_header(st, ed_set_tensor_field, spec, 0);
  a = open_ok(dir, LC_FORMAT_AUTO);
  assert_int_equal(lc_checkpoint_config(a)->tied_embeddings, 1);
  assert_null(lc_checkpoint_find(a, "lm_head.weight"));
  assert_null(lc_checkpoint_find(a, "extra.position_ids"));
  assert_int_equal(lc_checkpoint_n_tensors(a), 2 + 2 * 9);
  lc_checkpoint_close(a);

  /* a safetensors file alone is refused with a hint */
  expect_fail(st, LC_FORMAT_AUTO, LC_ERR_FORMAT, "the Hugging Face model folder", NULL);
}

/* Optional config keys take Hugging Face's defaults; token ids may be lists
 * or null; Qwen2 has q/k/v biases and Qwen3 q/k norms. */
static void test_checkpoint_hf_config_fields(void **state) {
  (void)state;
  make_tmpdir();
  char dir[512], cfg[600];
  path_in(dir, sizeof dir, g_dir, "m");
  path_in(cfg, sizeof cfg, dir, "config.json");
  synth_small(dir, LC_ARCH_LLAMA, 0, 1, LC_DTYPE_F32);
  const char *edits[] = {"num_key_value_heads|DELETE", "head_dim|DELETE",     "rope_theta|DELETE",
                         "rms_norm_eps|DELETE",        "bos_token_id|[7, 8]", "eos_token_id|null",
                         "tie_word_embeddings|DELETE", "rope_scaling|DELETE", "rope_theta|DELETE",
                         "num_key_value_heads|2"};
  for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
    edit_json_file(cfg, ed_config, (void *)edits[i]);
  lc_checkpoint *c = open_ok(dir, LC_FORMAT_AUTO);
  const lc_model_config *g = lc_checkpoint_config(c);
  assert_int_equal(g->head_dim, 4); /* hidden_size / num_attention_heads */
  assert_int_equal(g->n_kv_heads, 2);
  assert_true(g->rope_theta == 10000.0);
  assert_true(g->norm_eps == 1e-6f);
  assert_int_equal(g->bos_id, 7);
  assert_int_equal(g->eos_id, -1);
  assert_int_equal(g->tied_embeddings, 0);
  lc_checkpoint_close(c);

  char d2[512];
  path_in(d2, sizeof d2, g_dir, "q2");
  synth_small(d2, LC_ARCH_QWEN2, 1, 2, LC_DTYPE_F16);
  c = open_ok(d2, LC_FORMAT_AUTO);
  g = lc_checkpoint_config(c);
  assert_int_equal(g->arch, LC_ARCH_QWEN2);
  assert_int_equal(g->qkv_bias, 1);
  assert_int_equal(g->qk_norm, 0);
  assert_shape(c, "model.layers.1.self_attn.q_proj.bias", 1, 16, 1);
  assert_shape(c, "model.layers.1.self_attn.k_proj.bias", 1, 8, 1);
  assert_int_equal(lc_checkpoint_find(c, "model.layers.1.self_attn.k_proj.bias")->dtype,
                   LC_DTYPE_F16);
  lc_checkpoint_close(c);
  path_in(d2, sizeof d2, g_dir, "q3");
  synth_small(d2, LC_ARCH_QWEN3, 0, 3, LC_DTYPE_BF16);
  c = open_ok(d2, LC_FORMAT_AUTO);
  g = lc_checkpoint_config(c);
  assert_int_equal(g->arch, LC_ARCH_QWEN3);
  assert_int_equal(g->qkv_bias, 0);
  assert_int_equal(g->qk_norm, 1);
  assert_shape(c, "model.layers.0.self_attn.q_norm.weight", 1, 4, 1);
  lc_checkpoint_close(c);
}

/* rope_scaling "linear" and "llama3" give Hugging Face's inv_freq (computed
 * here in double from transformers' formulas: equal to a few ulps, the pow
 * being the only libm call); other types are LC_ERR_UNSUPPORTED. */
static void test_checkpoint_hf_rope_scaling(void **state) {
  (void)state;
  make_tmpdir();
  char dir[512], cfg[600];
  path_in(dir, sizeof dir, g_dir, "m");
  path_in(cfg, sizeof cfg, dir, "config.json");
  synth_small(dir, LC_ARCH_LLAMA, 0, 1, LC_DTYPE_BF16);
  edit_json_file(cfg, ed_config, "rope_theta|500000.0");
  edit_json_file(cfg, ed_config, "rope_scaling|{\"type\": \"linear\", \"factor\": 4}");
  lc_checkpoint *c = open_ok(dir, LC_FORMAT_AUTO);
  const double *f = lc_checkpoint_inv_freq(c);
  assert_non_null(f);
  for (int i = 0; i < 2; i++) {
    double base = 1.0 / pow(500000.0, (2.0 * i) / 4.0);
    assert_true(fabs(f[i] - base / 4.0) <= 1e-15 * base);
  }
  lc_checkpoint_close(c);

  /* head_dim 4: inv_freq 1 and 1/707.1; wavelengths 6.3 and 4443, with
   * original 8192, low 1, high 4: the first is high-frequency (kept), the
   * second medium (smoothed). A third config makes it low (divided). */
  const double origs[2] = {8192.0, 2048.0};
  for (int k = 0; k < 2; k++) {
    char spec[512];
    snprintf(spec, sizeof spec,
             "rope_scaling|{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
             "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": %d}",
             (int)origs[k]);
    edit_json_file(cfg, ed_config, spec);
    c = open_ok(dir, LC_FORMAT_AUTO);
    f = lc_checkpoint_inv_freq(c);
    assert_non_null(f);
    for (int i = 0; i < 2; i++) {
      double base = 1.0 / pow(500000.0, (2.0 * i) / 4.0), want;
      double wl = 6.283185307179586476925286766559 / base, lowl = origs[k] / 1.0,
             highl = origs[k] / 4.0;
      if (wl < highl)
        want = base;
      else if (wl > lowl)
        want = base / 8.0;
      else {
        double sm = (origs[k] / wl - 1.0) / (4.0 - 1.0);
        want = (1 - sm) * base / 8.0 + sm * base;
      }
      if (fabs(f[i] - want) > 1e-14 * want) {
        print_error("llama3 inv_freq[%d]: got %.17g want %.17g\n", i, f[i], want);
        fail();
      }
    }
    if (k == 0) assert_true(f[1] < 1.0 / 707.0 && f[1] > 1.0 / 707.2 / 8.0); /* smoothed */
    if (k == 1) assert_true(fabs(f[1] * 8.0 * pow(500000.0, 0.5) - 1.0) < 1e-14);
    lc_checkpoint_close(c);
  }
  edit_json_file(cfg, ed_config, "rope_scaling|{\"rope_type\": \"default\"}");
  c = open_ok(dir, LC_FORMAT_AUTO);
  assert_null(lc_checkpoint_inv_freq(c));
  lc_checkpoint_close(c);

  edit_json_file(cfg, ed_config, "rope_scaling|{\"rope_type\": \"yarn\", \"factor\": 4.0}");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_UNSUPPORTED, "rope_scaling type \"yarn\"", NULL);
  edit_json_file(cfg, ed_config, "rope_scaling|{\"type\": \"dynamic\", \"factor\": 2.0}");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_UNSUPPORTED, "\"dynamic\" is not supported", NULL);
  edit_json_file(cfg, ed_config, "rope_scaling|{\"rope_type\": \"linear\"}");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "\"factor\" is missing", NULL);
  edit_json_file(cfg, ed_config, "rope_scaling|{\"factor\": 2.0}");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "\"rope_type\"", NULL);
  edit_json_file(cfg, ed_config, "rope_scaling|\"linear\"");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "must be an object or null; found a string",
              NULL);
}

/* A fresh small Llama (2 layers) in g_dir/m for config edits: dir, its
 * config.json (cfg) and a pristine copy of it (good), each 600 bytes. */
static void config_test_dir(char *dir, char *cfg, char *good) {
  make_tmpdir();
  path_in(dir, 512, g_dir, "m");
  path_in(cfg, 600, dir, "config.json");
  path_in(good, 600, g_dir, "good.json");
  synth_small(dir, LC_ARCH_LLAMA, 0, 1, LC_DTYPE_BF16);
  copy_file(cfg, good);
}

/* Broken config.json files are refused, naming the key and what was found. */
static void test_checkpoint_hf_config_corrupt(void **state) {
  (void)state;
  char dir[512], cfg[600], good[600];
  config_test_dir(dir, cfg, good);
  struct {
    const char *edit;
    lc_status st;
    const char *msg;
  } cases[] = {
      {"hidden_size|DELETE", LC_ERR_FORMAT, "required key \"hidden_size\" is missing"},
      {"hidden_size|\"16\"", LC_ERR_FORMAT,
       "key \"hidden_size\" must be an integer; found a string"},
      {"vocab_size|40.5", LC_ERR_FORMAT, "\"vocab_size\" must be an integer; found a real number"},
      {"num_hidden_layers|0", LC_ERR_FORMAT, "\"num_hidden_layers\" must be in [1, "},
      {"intermediate_size|null", LC_ERR_FORMAT, "required key \"intermediate_size\" is null"},
      {"num_key_value_heads|3", LC_ERR_FORMAT, "num_key_value_heads 3 must divide"},
      {"head_dim|5", LC_ERR_FORMAT, "head_dim must be even"},
      {"rms_norm_eps|-1", LC_ERR_FORMAT, "\"rms_norm_eps\" must be a positive number"},
      {"rope_theta|\"big\"", LC_ERR_FORMAT, "\"rope_theta\" must be a number; found a string"},
      {"tie_word_embeddings|1", LC_ERR_FORMAT, "must be true or false; found an integer"},
      {"bos_token_id|\"<s>\"", LC_ERR_FORMAT, "\"bos_token_id\" must be an integer"},
      {"model_type|\"mistral\"", LC_ERR_UNSUPPORTED, "model_type \"mistral\" is not supported"},
      {"model_type|DELETE", LC_ERR_FORMAT, "\"model_type\" must be a string; found nothing"},
      {"attention_bias|true", LC_ERR_UNSUPPORTED, "attention_bias = true"},
      {"mlp_bias|true", LC_ERR_UNSUPPORTED, "mlp_bias"},
      {"head_dim|512", LC_ERR_UNSUPPORTED, "head_dim 512 is not supported"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    copy_file(good, cfg);
    edit_json_file(cfg, ed_config, (void *)cases[i].edit);
    expect_fail(dir, LC_FORMAT_AUTO, cases[i].st, "config.json", cases[i].msg, NULL);
  }
  /* heads not dividing hidden_size without an explicit head_dim */
  copy_file(good, cfg);
  edit_json_file(cfg, ed_config, "head_dim|null");
  edit_json_file(cfg, ed_config, "num_attention_heads|3");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT,
              "num_attention_heads 3 must divide hidden_size 16 when head_dim is not given", NULL);
  /* a shape that disagrees with the config: intermediate_size 20 */
  copy_file(good, cfg);
  edit_json_file(cfg, ed_config, "intermediate_size|20");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "model.safetensors",
              "model.layers.0.mlp.gate_proj.weight has shape [24, 16]; the config expects [20, 16]",
              NULL);
  /* invalid JSON: line and column */
  write_text(cfg, "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 16,,\n}");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "invalid JSON at line 3, column", NULL);
  write_text(cfg, "[1, 2]");
  expect_fail(cfg, LC_FORMAT_AUTO, LC_ERR_FORMAT, "expected a JSON object; found an array", NULL);
}

/* config.json keys that would change the computation, with a value layercast
 * does not implement, are LC_ERR_UNSUPPORTED naming the key, the value and
 * what layercast supports (instead of loading and running something else). */
static void test_checkpoint_hf_config_unsupported(void **state) {
  (void)state;
  char dir[512], cfg[600], good[600];
  config_test_dir(dir, cfg, good);
  struct {
    const char *edits[3];
    const char *msg1, *msg2;
  } cases[] = {
      {{"hidden_act|\"gelu\""}, "hidden_act = \"gelu\" is not supported", "\"silu\""},
      {{"hidden_act|\"relu\""}, "hidden_act = \"relu\"", "alias \"swish\""},
      {{"hidden_activation|\"gelu_pytorch_tanh\""},
       "hidden_activation = \"gelu_pytorch_tanh\" is not supported",
       "\"silu\""},
      {{"mlp_bias|true"}, "mlp_bias = true is not supported", "supports false"},
      {{"attention_bias|true"},
       "attention_bias = true is not supported for llama",
       "supports false"},
      {{"partial_rotary_factor|0.5"},
       "partial_rotary_factor = 0.5 is not supported",
       "the whole head (1)"},
      {{"rope_scaling|null",
        "rope_parameters|{\"rope_type\": \"default\", \"rope_theta\": 10000.0, "
        "\"partial_rotary_factor\": 0.25}"},
       "rope_parameters.partial_rotary_factor = 0.25",
       "the whole head (1)"},
      {{"attn_logit_softcapping|50.0"},
       "attn_logit_softcapping = 50 is not supported",
       "no soft-capping (null)"},
      {{"final_logit_softcapping|30"},
       "final_logit_softcapping = 30 is not supported",
       "no soft-capping (null)"},
      {{"use_sliding_window|true", "sliding_window|16", "max_window_layers|0"},
       "use_sliding_window = true with sliding_window = 16 gives 2 of the 2 layers",
       "full causal attention"},
      {{"use_sliding_window|true", "layer_types|[\"full_attention\", \"sliding_attention\"]"},
       "sliding_window = 4096 gives 1 of the 2 layers (the first: layer 1)",
       "full causal attention"},
      {{"layer_types|[\"full_attention\", \"linear_attention\"]"},
       "layer_types[1] = \"linear_attention\" is not supported",
       "\"full_attention\""},
      {{"quantization_config|{\"quant_method\": \"gptq\", \"bits\": 4}"},
       "quantization_config (quant_method \"gptq\") is not supported",
       "unquantized"},
      {{"rope_scaling|null",
        "rope_parameters|{\"rope_type\": \"yarn\", \"factor\": 4.0, \"rope_theta\": 1e4}"},
       "rope_parameters type \"yarn\" is not supported",
       "\"llama3\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    copy_file(good, cfg);
    for (int k = 0; k < 3 && cases[i].edits[k]; k++)
      edit_json_file(cfg, ed_config, (void *)cases[i].edits[k]);
    expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_UNSUPPORTED, "config.json", cases[i].msg1,
                cases[i].msg2, NULL);
  }
  /* qwen3 has no q/k/v biases either; qwen2's come with its model_type */
  copy_file(good, cfg);
  edit_json_file(cfg, ed_config, "attention_bias|true");
  edit_json_file(cfg, ed_config, "model_type|\"qwen3\"");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_UNSUPPORTED,
              "attention_bias = true is not supported for qwen3", NULL);
  /* ill-typed values of those keys are LC_ERR_FORMAT */
  const char *bad[][2] = {{"hidden_act|3", "key \"hidden_act\" must be a string; found an integer"},
                          {"final_logit_softcapping|\"30\"", "must be a number or null"},
                          {"layer_types|[\"full_attention\"]", "list of num_hidden_layers (2)"},
                          {"rope_parameters|[]", "\"rope_parameters\" must be an object or null"},
                          {"sliding_window|\"big\"", NULL}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    copy_file(good, cfg);
    edit_json_file(cfg, ed_config, (void *)bad[i][0]);
    if (!bad[i][1]) { /* sliding_window is read only when sliding is on */
      edit_json_file(cfg, ed_config, "use_sliding_window|true");
      expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "\"sliding_window\" must be an integer",
                  NULL);
      continue;
    }
    expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, bad[i][1], NULL);
  }
}

/* What layercast computes, said in other words, loads: "swish", the
 * defaults written out, a sliding window that no layer uses, qwen2's
 * attention_bias, informative keys; transformers 5's rope_parameters gives
 * rope_theta and the scaling; rope_theta given twice must agree. */
static void test_checkpoint_hf_config_accepted(void **state) {
  (void)state;
  char dir[512], cfg[600], good[600];
  config_test_dir(dir, cfg, good);
  const char *edits[] = {
      "hidden_act|\"swish\"",
      "hidden_activation|\"silu\"",
      "mlp_bias|false",
      "attention_bias|false",
      "partial_rotary_factor|1.0",
      "attn_logit_softcapping|null",
      "final_logit_softcapping|null",
      "quantization_config|null",
      "use_sliding_window|true",
      "sliding_window|4096",
      "max_window_layers|28",
      "pretraining_tp|2",
      "attention_dropout|0.1",
      "initializer_range|0.02",
      "use_cache|true",
      "torch_dtype|\"bfloat16\"",
      "transformers_version|\"4.57.0\"",
      "pad_token_id|0",
  };
  for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
    edit_json_file(cfg, ed_config, (void *)edits[i]);
  lc_checkpoint *c = open_ok(dir, LC_FORMAT_AUTO);
  lc_checkpoint_close(c);
  /* sliding layers named, but use_sliding_window false: transformers drops the window */
  edit_json_file(cfg, ed_config, "use_sliding_window|false");
  edit_json_file(cfg, ed_config, "layer_types|[\"sliding_attention\", \"sliding_attention\"]");
  c = open_ok(dir, LC_FORMAT_AUTO);
  lc_checkpoint_close(c);

  /* transformers 5: rope_theta inside rope_parameters */
  copy_file(good, cfg);
  edit_json_file(cfg, ed_config, "rope_theta|DELETE");
  edit_json_file(cfg, ed_config, "rope_scaling|DELETE");
  edit_json_file(cfg, ed_config,
                 "rope_parameters|{\"rope_type\": \"default\", \"rope_theta\": 500000.0}");
  c = open_ok(dir, LC_FORMAT_AUTO);
  assert_true(lc_checkpoint_config(c)->rope_theta == 500000.0);
  assert_null(lc_checkpoint_inv_freq(c));
  lc_checkpoint_close(c);
  edit_json_file(cfg, ed_config,
                 "rope_parameters|{\"rope_type\": \"linear\", \"factor\": 4.0, "
                 "\"rope_theta\": 500000.0}");
  c = open_ok(dir, LC_FORMAT_AUTO);
  const double *f = lc_checkpoint_inv_freq(c);
  assert_non_null(f);
  assert_true(f[0] == 0.25);                                    /* theta^0 / 4 */
  assert_true(fabs(f[1] * 4.0 * sqrt(500000.0) - 1.0) < 1e-15); /* theta^(-2/4) / 4 */
  lc_checkpoint_close(c);
  /* the same theta at the top level agrees; another disagrees */
  edit_json_file(cfg, ed_config, "rope_theta|500000");
  c = open_ok(dir, LC_FORMAT_AUTO);
  lc_checkpoint_close(c);
  edit_json_file(cfg, ed_config, "rope_theta|10000");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT,
              "rope_theta 10000 and rope_parameters.rope_theta 500000 disagree", NULL);
  edit_json_file(cfg, ed_config, "rope_scaling|{\"rope_type\": \"linear\", \"factor\": 4.0}");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT,
              "both \"rope_scaling\" and \"rope_parameters\" are given", NULL);

  /* qwen2: attention_bias is not its switch (its q/k/v biases are) */
  char d2[512];
  path_in(d2, sizeof d2, g_dir, "q2");
  synth_small(d2, LC_ARCH_QWEN2, 0, 1, LC_DTYPE_BF16);
  path_in(cfg, sizeof cfg, d2, "config.json");
  edit_json_file(cfg, ed_config, "attention_bias|true");
  c = open_ok(d2, LC_FORMAT_AUTO);
  assert_int_equal(lc_checkpoint_config(c)->qkv_bias, 1);
  lc_checkpoint_close(c);
}

/* Corrupt safetensors files are refused with the status and a message
 * naming the file, the tensor, what was expected and what was found. */
static void test_checkpoint_hf_safetensors_corrupt(void **state) {
  (void)state;
  make_tmpdir();
  char dir[512], st[600], good[600];
  path_in(dir, sizeof dir, g_dir, "m");
  path_in(st, sizeof st, dir, "model.safetensors");
  path_in(good, sizeof good, g_dir, "good.safetensors");
  synth_small(dir, LC_ARCH_LLAMA, 0, 1, LC_DTYPE_F32);
  copy_file(st, good);
  size_t len;
  unsigned char *raw = lct_read_file(good, &len);
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = (hl << 8) | raw[i];
  uint64_t data_len = len - 8 - hl;

  /* truncated by 2 bytes: the last tensor runs past the data */
  lct_write_file(st, raw, len - 2);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "model.safetensors", "lm_head.weight",
              "run past the data section", NULL);
  /* truncated inside the header */
  lct_write_file(st, raw, 40);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "header length", "runs past the end of the file",
              NULL);
  lct_write_file(st, raw, 5);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "8-byte header length; found a file of 5 bytes",
              NULL);
  /* header length field lies: huge, and past the file */
  unsigned char *cp = lct_malloc(len);
  memcpy(cp, raw, len);
  memset(cp, 0xFF, 8);
  lct_write_file(st, cp, len);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "header length 18446744073709551615", NULL);
  /* invalid JSON inside the header */
  memcpy(cp, raw, len);
  cp[8 + 1] = '#'; /* {"__metadata__" becomes {#__metadata__" */
  lct_write_file(st, cp, len);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "invalid JSON header at line 1, column", NULL);
  memcpy(cp, raw, len);
  cp[8] = '[';
  lct_write_file(st, cp, len);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "invalid JSON header", NULL);
  free(cp);

  struct {
    json_edit fn;
    const char *arg;
    lc_status st;
    const char *msg1, *msg2;
  } cases[] = {
      {ed_set_tensor_field, "model.norm.weight|dtype|\"Q4_K\"", LC_ERR_UNSUPPORTED,
       "tensor model.norm.weight has dtype \"Q4_K\"", "F32, BF16 and F16"},
      {ed_set_tensor_field, "model.norm.weight|dtype|\"I32\"", LC_ERR_UNSUPPORTED,
       "tensor model.norm.weight has dtype I32", "F32, BF16 or F16"},
      {ed_set_tensor_field, "model.norm.weight|dtype|\"BF16\"", LC_ERR_FORMAT,
       "model.norm.weight: data_offsets", "hold 64 bytes; dtype BF16 with 16 elements needs 32"},
      {ed_set_tensor_field, "model.layers.0.mlp.gate_proj.weight|shape|[16, 24]", LC_ERR_FORMAT,
       "model.layers.0.mlp.gate_proj.weight has shape [16, 24]", "the config expects [24, 16]"},
      {ed_set_tensor_field, "model.layers.1.mlp.up_proj.weight|shape|[2, 12, 16]", LC_ERR_FORMAT,
       "model.layers.1.mlp.up_proj.weight has rank 3", NULL},
      {ed_set_tensor_field, "model.norm.weight|shape|[-16]", LC_ERR_FORMAT,
       "shape entries must be non-negative integers", NULL},
      {ed_set_tensor_field, "model.norm.weight|shape|[4294967296, 4294967296, 4294967296]",
       LC_ERR_FORMAT, "element count overflows", NULL},
      {ed_set_tensor_field, "model.norm.weight|data_offsets|[0]", LC_ERR_FORMAT,
       "\"data_offsets\" must be [begin, end] integers", NULL},
      {ed_set_tensor_field, "model.norm.weight|data_offsets|[64, 0]", LC_ERR_FORMAT,
       "must satisfy 0 <= begin <= end", NULL},
      {ed_set_tensor_field, "model.norm.weight|shape|{}", LC_ERR_FORMAT,
       "\"shape\" must be an array; found an object", NULL},
      {ed_delete_key, "model.layers.1.self_attn.v_proj.weight", LC_ERR_FORMAT,
       "tensor model.layers.1.self_attn.v_proj.weight is missing", "expected shape [8, 16]"},
      {ed_copy_offsets,
       "model.layers.0.self_attn.k_proj.weight|model.layers.0.self_attn.v_proj."
       "weight",
       LC_ERR_FORMAT, "overlap", "model.layers.0.self_attn.k_proj.weight"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    copy_file(good, st);
    edit_st_header(st, cases[i].fn, (void *)cases[i].arg, 0);
    expect_fail(dir, LC_FORMAT_AUTO, cases[i].st, "model.safetensors", cases[i].msg1, cases[i].msg2,
                NULL);
  }
  /* offsets past the data section, and a length that disagrees */
  char spec[256];
  snprintf(spec, sizeof spec, "model.norm.weight|data_offsets|[%llu, %llu]",
           (unsigned long long)data_len - 32, (unsigned long long)data_len + 32);
  copy_file(good, st);
  edit_st_header(st, ed_set_tensor_field, spec, 0);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "model.norm.weight", "run past the data section",
              NULL);
  copy_file(good, st);
  edit_st_header(st, ed_set_tensor_field, "model.norm.weight|data_offsets|[0, 60]", 0);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT,
              "hold 60 bytes; dtype F32 with 16 elements needs 64", NULL);
  free(raw);
}

/* Sharded checkpoints: an index naming a missing shard, a tensor missing
 * from the shard the index names, a broken index and a shard name that
 * leaves the folder are refused. */
static void test_checkpoint_hf_index_corrupt(void **state) {
  (void)state;
  make_tmpdir();
  char dir[512], idx[600], good[600], s2[600], s2b[600];
  path_in(dir, sizeof dir, g_dir, "m");
  path_in(idx, sizeof idx, dir, "model.safetensors.index.json");
  path_in(good, sizeof good, g_dir, "good.json");
  path_in(s2, sizeof s2, dir, "model-00002-of-00003.safetensors");
  path_in(s2b, sizeof s2b, g_dir, "shard2.safetensors");
  synth_small(dir, LC_ARCH_QWEN2, 0, 3, LC_DTYPE_BF16);
  copy_file(idx, good);
  copy_file(s2, s2b);
  lc_checkpoint *c = open_ok(dir, LC_FORMAT_AUTO);
  assert_int_equal(lc_checkpoint_n_tensors(c), 2 + 2 * 12 + 1);
  lc_checkpoint_close(c);

  /* a tensor the index places in shard 1 is in shard 3 */
  json_t *r = load_json(good);
  json_t *wm = json_object_get(r, "weight_map");
  json_object_set_new(wm, "lm_head.weight", json_string("model-00001-of-00003.safetensors"));
  save_json(idx, r);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT,
              "tensor lm_head.weight is listed in shard "
              "model-00001-of-00003.safetensors",
              "does not contain it", NULL);
  /* a tensor missing from every shard, but listed */
  json_object_set_new(wm, "lm_head.weight", json_string("model-00003-of-00003.safetensors"));
  save_json(idx, r);
  edit_st_header(s2, ed_delete_key, "model.layers.1.self_attn.q_proj.bias", 0);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "model.layers.1.self_attn.q_proj.bias", NULL);
  copy_file(s2b, s2);
  /* names leaving the folder, wrong types */
  json_object_set_new(wm, "lm_head.weight", json_string("../x.safetensors"));
  save_json(idx, r);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "must be a file name in the same folder", NULL);
  json_object_set_new(wm, "lm_head.weight", json_integer(3));
  save_json(idx, r);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT,
              "weight_map[\"lm_head.weight\"] must be a file "
              "name string; found an integer",
              NULL);
  json_object_set_new(r, "weight_map", json_array());
  save_json(idx, r);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT,
              "expected an object \"weight_map\"; found an "
              "array",
              NULL);
  json_decref(r);
  write_text(idx, "{\"weight_map\": {");
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "model.safetensors.index.json: invalid JSON",
              NULL);
  /* the same tensor in two shards */
  copy_file(good, idx);
  edit_st_header(s2, ed_set_tensor_field, "lm_head.weight|dtype|\"BF16\"", 0);
  edit_st_header(s2, ed_set_tensor_field, "lm_head.weight|shape|[1]", 0);
  uint64_t dl = st_data_len(s2);
  append_zeros(s2, 2);
  char spec[256];
  snprintf(spec, sizeof spec, "lm_head.weight|data_offsets|[%llu, %llu]", (unsigned long long)dl,
           (unsigned long long)dl + 2);
  edit_st_header(s2, ed_set_tensor_field, spec, 0);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_FORMAT, "tensor lm_head.weight appears twice", NULL);
}

/* A path that does not exist is LC_ERR_NOT_FOUND, "no such file or directory:
 * 'path'", whatever names it: the path given (file or folder, any format),
 * a folder's config.json, its weights, a shard the index names. */
static void test_checkpoint_missing_paths(void **state) {
  (void)state;
  make_tmpdir();
  char path[512], want[800];
  path_in(path, sizeof path, g_dir, "absent.bin");
  snprintf(want, sizeof want, "no such file or directory: '%s'", path);
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_NOT_FOUND, want, NULL);
  expect_fail(path, LC_FORMAT_LLAMA2C, LC_ERR_NOT_FOUND, want, NULL);
  expect_fail(path, LC_FORMAT_HF, LC_ERR_NOT_FOUND, want, NULL);
  path_in(path, sizeof path, g_dir, "absent/config.json");
  snprintf(want, sizeof want, "no such file or directory: '%s'", path);
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_NOT_FOUND, want, NULL);
  path_in(want, sizeof want, g_dir, "plain.bin");
  write_text(want, "x");
  path_in(path, sizeof path, g_dir, "plain.bin/model.bin"); /* ENOTDIR */
  snprintf(want, sizeof want, "no such file or directory: '%s'", path);
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_NOT_FOUND, want, NULL);

  /* a folder without config.json: says what a model folder holds */
  char dir[512], f[600];
  path_in(dir, sizeof dir, g_dir, "m");
  synth_small(dir, LC_ARCH_QWEN2, 0, 3, LC_DTYPE_BF16);
  path_in(f, sizeof f, dir, "config.json");
  char cfg_copy[600];
  path_in(cfg_copy, sizeof cfg_copy, g_dir, "config.json");
  copy_file(f, cfg_copy);
  unlink(f);
  snprintf(want, sizeof want, "no such file or directory: '%s'", f);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_NOT_FOUND, want,
              "a Hugging Face model folder holds config.json beside model.safetensors", NULL);
  expect_fail(dir, LC_FORMAT_HF, LC_ERR_NOT_FOUND, want, NULL);
  copy_file(cfg_copy, f);
  /* the index names a shard that is not there: the shard and the index named */
  path_in(f, sizeof f, dir, "model-00002-of-00003.safetensors");
  unlink(f);
  snprintf(want, sizeof want, "no such file or directory: '%s'", f);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_NOT_FOUND, want, "a shard that",
              "model.safetensors.index.json names", NULL);
  /* no weights at all */
  path_in(f, sizeof f, dir, "model.safetensors.index.json");
  unlink(f);
  path_in(f, sizeof f, dir, "model.safetensors");
  snprintf(want, sizeof want, "no such file or directory: '%s'", f);
  expect_fail(dir, LC_FORMAT_AUTO, LC_ERR_NOT_FOUND, "no weights", want,
              "model.safetensors.index.json", NULL);
}

/* Messages speak of files and folders a user can act on, not of API
 * arguments: an unrecognised file says which files layercast loads; a bare
 * safetensors file says to give its folder. */
static void test_checkpoint_messages_name_files(void **state) {
  (void)state;
  make_tmpdir();
  char path[512];
  path_in(path, sizeof path, g_dir, "notes.txt");
  write_text(path, "#!/bin/sh\necho not a model at all\n");
  expect_fail(path, LC_FORMAT_AUTO, LC_ERR_FORMAT, "notes.txt", "not a recognised checkpoint",
              "Hugging Face model folder", "config.json", "model.safetensors", "llama2.c .bin file",
              NULL);
  assert_null(strstr(g_err, "explicitly"));
  assert_null(strstr(g_err, "format"));
  char dir[512], st[600];
  path_in(dir, sizeof dir, g_dir, "m");
  synth_small(dir, LC_ARCH_LLAMA, 0, 1, LC_DTYPE_BF16);
  path_in(st, sizeof st, dir, "model.safetensors");
  expect_fail(st, LC_FORMAT_AUTO, LC_ERR_FORMAT, "this is a safetensors file",
              "folder that holds it beside its config.json", NULL);
  assert_null(strstr(g_err, "pass the"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_checkpoint_stories260k, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_llama2c_written, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_llama2c_corrupt, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_hf_opens, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_hf_config_fields, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_hf_rope_scaling, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_hf_config_corrupt, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_hf_config_unsupported, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_hf_config_accepted, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_hf_safetensors_corrupt, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_hf_index_corrupt, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_missing_paths, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_checkpoint_messages_name_files, cleanup_tmpdir),
  };
  return LCT_RUN(tests);
}

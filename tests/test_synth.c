/*
 * tests/test_synth.c — synthetic checkpoints (lib/synth.c): every arch and
 * dtype writes a checkpoint the loader accepts, whose values are the ones
 * docs/models.md defines (re-derived here independently), the same whatever
 * the shard count, with parameters validated and no temporaries left behind.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cast/lc_cast.h"
#include "layercast_model.h"
#include "lib/checkpoint.h"
#include "test_util.h"

static char g_dir[256];

static void make_tmpdir(void) {
  lct_tmpdir_make(g_dir, sizeof g_dir, "synth");
}

/* Teardown of every test: removes this test's folder even when it failed. */
static int cleanup_tmpdir(void **state) {
  (void)state;
  int rc = lct_tmpdir_remove(g_dir);
  g_dir[0] = '\0';
  return rc == 0 ? 0 : -1;
}

/* ---- the generator, as docs/models.md states it -------------------------------*/

static uint64_t ref_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t ref_fnv1a64(const char *s) {
  uint64_t h = 0xCBF29CE484222325ull;
  while (*s) {
    h ^= (unsigned char)*s++;
    h *= 0x100000001B3ull;
  }
  return h;
}

/* The fp32 value of element i of tensor `name` before rounding to the dtype. */
static float ref_value(uint64_t seed, const char *name, int64_t i, double mean, double std) {
  uint64_t key = ref_mix64(seed ^ ref_mix64(ref_fnv1a64(name)));
  uint64_t h = ref_mix64(key + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull);
  int64_t b = 0;
  for (int k = 0; k < 4; k++) b += (int64_t)((h >> (16 * k)) & 0xFFFF);
  double c = std * 1.7320508075688772 / 65536.0;
  return (float)(mean + (double)(b - 131070) * c);
}

static float stored_value(const lc_tensor_src *t, int64_t i) {
  if (t->dtype == LC_DTYPE_F32) return ((const float *)t->data)[i];
  uint16_t h = ((const uint16_t *)t->data)[i];
  return t->dtype == LC_DTYPE_BF16 ? lc_bf16_to_f32(h) : lc_f16_to_f32(h);
}

static float rounded(float v, lc_dtype d) {
  if (d == LC_DTYPE_F32) return v;
  if (d == LC_DTYPE_BF16) return lc_bf16_to_f32(lc_f32_to_bf16(v));
  return lc_f16_to_f32(lc_f32_to_f16(v));
}

/* (mean, std) docs/models.md gives the tensor. */
static void ref_scale(const lc_model_config *g, const char *name, double *mean, double *std) {
  *mean = 0.0;
  if (strstr(name, "norm")) {
    *mean = 1.0;
    *std = 0.05;
  } else if (strstr(name, ".bias")) {
    *std = 0.02;
  } else if (strstr(name, "embed_tokens")) {
    *std = g->tied_embeddings ? 1.0 / sqrt((double)g->dim) : 1.0;
  } else if (strstr(name, "o_proj")) {
    *std = 1.0 / sqrt((double)g->n_heads * g->head_dim);
  } else if (strstr(name, "down_proj")) {
    *std = 1.0 / sqrt((double)g->hidden_dim);
  } else {
    *std = 1.0 / sqrt((double)g->dim);
  }
}

static lc_synth_params small_params(lc_arch arch, lc_dtype dt) {
  lc_synth_params p;
  lc_synth_params_default(&p);
  p.config.arch = arch;
  p.config.dim = 32;
  p.config.hidden_dim = 72;
  p.config.n_layers = 2;
  p.config.n_heads = 4;
  p.config.n_kv_heads = 2;
  p.config.head_dim = arch == LC_ARCH_QWEN3 ? 16 : 8; /* qwen3: head_dim != dim/heads */
  p.config.vocab_size = 96;
  p.config.max_seq_len = 64;
  p.dtype = dt;
  p.seed = 1234;
  return p;
}

static lc_checkpoint *open_dir(const char *dir) {
  char err[1024];
  lc_checkpoint *c = NULL;
  lc_status st = lc_checkpoint_open(dir, LC_FORMAT_AUTO, &c, err, sizeof err);
  if (st != LC_OK) {
    print_error("open %s: %s: %s\n", dir, lc_status_name(st), err);
    fail();
  }
  return c;
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))) n++;
  closedir(d);
  return n;
}

/* ---- tests ----------------------------------------------------------------------*/

/* The defaults are the documented small Llama. */
static void test_synth_defaults(void **state) {
  (void)state;
  lc_synth_params p;
  memset(&p, 0xAB, sizeof p);
  lc_synth_params_default(&p);
  const lc_model_config *g = &p.config;
  assert_int_equal(g->arch, LC_ARCH_LLAMA);
  assert_int_equal(g->dim, 256);
  assert_int_equal(g->hidden_dim, 688);
  assert_int_equal(g->n_layers, 4);
  assert_int_equal(g->n_heads, 8);
  assert_int_equal(g->n_kv_heads, 4);
  assert_int_equal(g->head_dim, 32);
  assert_int_equal(g->vocab_size, 1024);
  assert_int_equal(g->max_seq_len, 1024);
  assert_true(g->norm_eps == 1e-5f);
  assert_true(g->rope_theta == 10000.0);
  assert_int_equal(g->rope_style, LC_ROPE_HALF);
  assert_int_equal(g->tied_embeddings, 0);
  assert_int_equal(g->bos_id, 1);
  assert_int_equal(g->eos_id, 2);
  assert_int_equal(p.seed, 1);
  assert_int_equal(p.dtype, LC_DTYPE_BF16);
  assert_int_equal(p.n_shards, 1);
}

/* Every arch x dtype (tied and untied) writes a checkpoint that opens with
 * the config it was given and whose every tensor holds, element for element,
 * the documented generator's values rounded to the dtype. */
static void test_synth_values_every_arch_dtype(void **state) {
  (void)state;
  make_tmpdir();
  const lc_dtype dts[3] = {LC_DTYPE_F32, LC_DTYPE_BF16, LC_DTYPE_F16};
  int64_t checked = 0;
  for (int a = 0; a < 3; a++) {
    for (int d = 0; d < 3; d++) {
      lc_synth_params p = small_params((lc_arch)a, dts[d]);
      p.config.tied_embeddings = (a + d) % 2;
      p.config.eos_id = d == 2 ? -1 : 2;
      char dir[512];
      snprintf(dir, sizeof dir, "%s/m_%d_%d", g_dir, a, d);
      lc_status st = lc_synth_write(dir, &p);
      if (st != LC_OK) {
        print_error("synth: %s\n", lc_last_error(NULL));
        fail();
      }
      lc_checkpoint *c = open_dir(dir);
      const lc_model_config *g = lc_checkpoint_config(c);
      lc_model_config want = p.config;
      want.qkv_bias = a == LC_ARCH_QWEN2;
      want.qk_norm = a == LC_ARCH_QWEN3;
      assert_int_equal(g->arch, want.arch);
      assert_int_equal(g->dim, want.dim);
      assert_int_equal(g->hidden_dim, want.hidden_dim);
      assert_int_equal(g->n_layers, want.n_layers);
      assert_int_equal(g->n_heads, want.n_heads);
      assert_int_equal(g->n_kv_heads, want.n_kv_heads);
      assert_int_equal(g->head_dim, want.head_dim);
      assert_int_equal(g->vocab_size, want.vocab_size);
      assert_int_equal(g->max_seq_len, want.max_seq_len);
      assert_true(g->norm_eps == want.norm_eps);
      assert_true(g->rope_theta == want.rope_theta);
      assert_int_equal(g->rope_style, LC_ROPE_HALF);
      assert_int_equal(g->tied_embeddings, want.tied_embeddings);
      assert_int_equal(g->qkv_bias, want.qkv_bias);
      assert_int_equal(g->qk_norm, want.qk_norm);
      assert_int_equal(g->bos_id, want.bos_id);
      assert_int_equal(g->eos_id, want.eos_id);
      int64_t per = 9 + 3 * want.qkv_bias + 2 * want.qk_norm;
      assert_int_equal(lc_checkpoint_n_tensors(c), 2 + 2 * per + !want.tied_embeddings);
      if (want.tied_embeddings) assert_null(lc_checkpoint_find(c, "lm_head.weight"));
      if (want.qkv_bias)
        assert_non_null(lc_checkpoint_find(c, "model.layers.1.self_attn.v_proj.bias"));
      if (want.qk_norm)
        assert_non_null(lc_checkpoint_find(c, "model.layers.0.self_attn.k_norm.weight"));
      /* Every element of each kind of tensor (the model is small). */
      const char *names[] = {"model.embed_tokens.weight",
                             "model.layers.0.input_layernorm.weight",
                             "model.layers.1.self_attn.q_proj.weight",
                             "model.layers.1.self_attn.k_proj.weight",
                             "model.layers.0.self_attn.v_proj.weight",
                             "model.layers.1.self_attn.o_proj.weight",
                             "model.layers.1.post_attention_layernorm.weight",
                             "model.layers.0.mlp.gate_proj.weight",
                             "model.layers.1.mlp.up_proj.weight",
                             "model.layers.1.mlp.down_proj.weight",
                             "model.norm.weight",
                             "lm_head.weight",
                             "model.layers.1.self_attn.q_proj.bias",
                             "model.layers.0.self_attn.k_proj.bias",
                             "model.layers.1.self_attn.q_norm.weight",
                             "model.layers.0.self_attn.k_norm.weight"};
      for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const lc_tensor_src *t = lc_checkpoint_find(c, names[k]);
        if (!t) continue; /* absent for this arch / tying */
        assert_int_equal(t->dtype, dts[d]);
        double mean, std;
        ref_scale(&p.config, names[k], &mean, &std);
        int64_t n = t->shape[0] * t->shape[1];
        for (int64_t i = 0; i < n; i++) {
          float want_v = rounded(ref_value(p.seed, names[k], i, mean, std), dts[d]);
          float got = stored_value(t, i);
          if (memcmp(&want_v, &got, 4) != 0) {
            print_error("%s [%lld] (%s): got %a, generator says %a\n", names[k], (long long)i, dir,
                        (double)got, (double)want_v);
            fail();
          }
          checked++;
        }
      }
      lc_checkpoint_close(c);
    }
  }
  assert_true(checked > 100000);
}

/* The values have the documented moments: a 1M-element matrix has mean ~0
 * and std ~1/sqrt(fan_in); norm weights have mean ~1.  Tolerances: 5 standard
 * errors of the estimate (std/sqrt(n) for the mean, std*sqrt(2/n)-ish for the
 * std), plus the Irwin-Hall variance being exactly 1 by construction. */
static void test_synth_distribution(void **state) {
  (void)state;
  make_tmpdir();
  lc_synth_params p;
  lc_synth_params_default(&p); /* dim 256, vocab 1024: embed 262144 values */
  p.dtype = LC_DTYPE_F32;
  p.config.n_layers = 1;
  assert_int_equal(lc_synth_write(g_dir, &p), LC_OK);
  lc_checkpoint *c = open_dir(g_dir);
  struct {
    const char *name;
    double mean, std;
  } want[] = {
      {"model.embed_tokens.weight", 0.0, 1.0},
      {"model.layers.0.mlp.gate_proj.weight", 0.0, 1.0 / 16.0},
      {"model.layers.0.mlp.down_proj.weight", 0.0, 1.0 / sqrt(688.0)},
      {"lm_head.weight", 0.0, 1.0 / 16.0},
  };
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
    const lc_tensor_src *t = lc_checkpoint_find(c, want[k].name);
    assert_non_null(t);
    int64_t n = t->shape[0] * t->shape[1];
    const float *v = t->data;
    double s = 0, s2 = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) {
      s += v[i];
      s2 += (double)v[i] * v[i];
      mx = fmax(mx, fabs(v[i]));
    }
    double mean = s / n, sd = sqrt(s2 / n - mean * mean);
    double se = want[k].std / sqrt((double)n);
    if (fabs(mean - want[k].mean) > 5 * se || fabs(sd / want[k].std - 1) > 5 * sqrt(2.0 / n) ||
        mx > 3.4642 * want[k].std) {
      print_error("%s: mean %g std %g max %g; want mean %g std %g, |v| <= 2 sqrt(3) std\n",
                  want[k].name, mean, sd, mx, want[k].mean, want[k].std);
      fail();
    }
  }
  const lc_tensor_src *nw = lc_checkpoint_find(c, "model.norm.weight");
  const float *v = nw->data;
  double s = 0;
  for (int64_t i = 0; i < nw->shape[0]; i++) {
    assert_true(v[i] > 0.8f && v[i] < 1.2f); /* 1 +- 0.05 * 3.47 */
    s += v[i];
  }
  assert_true(fabs(s / nw->shape[0] - 1.0) < 5 * 0.05 / 16);
  lc_checkpoint_close(c);
}

/* 1 shard and 3 shards give bitwise identical tensors (and the same seed
 * twice gives identical files; another seed other values). */
static void test_synth_shards_bitwise(void **state) {
  (void)state;
  make_tmpdir();
  for (int a = 0; a < 3; a++) {
    lc_synth_params p = small_params((lc_arch)a, LC_DTYPE_BF16);
    char d1[512], d3[512], d1b[512], ds[512];
    snprintf(d1, sizeof d1, "%s/one_%d", g_dir, a);
    snprintf(d3, sizeof d3, "%s/three_%d", g_dir, a);
    snprintf(d1b, sizeof d1b, "%s/again_%d", g_dir, a);
    snprintf(ds, sizeof ds, "%s/seed_%d", g_dir, a);
    assert_int_equal(lc_synth_write(d1, &p), LC_OK);
    assert_int_equal(lc_synth_write(d1b, &p), LC_OK);
    p.n_shards = 3;
    assert_int_equal(lc_synth_write(d3, &p), LC_OK);
    p.n_shards = 1;
    p.seed++;
    assert_int_equal(lc_synth_write(ds, &p), LC_OK);
    char f3[600];
    snprintf(f3, sizeof f3, "%s/model-00003-of-00003.safetensors", d3);
    assert_int_equal(access(f3, R_OK), 0);
    snprintf(f3, sizeof f3, "%s/model.safetensors.index.json", d3);
    assert_int_equal(access(f3, R_OK), 0);
    lc_checkpoint *c1 = open_dir(d1), *c3 = open_dir(d3), *cb = open_dir(d1b), *cs = open_dir(ds);
    assert_int_equal(lc_checkpoint_n_tensors(c1), lc_checkpoint_n_tensors(c3));
    const char *names[] = {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                           "model.layers.1.mlp.down_proj.weight", "model.norm.weight",
                           "lm_head.weight"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
      const lc_tensor_src *t1 = lc_checkpoint_find(c1, names[k]);
      const lc_tensor_src *t3 = lc_checkpoint_find(c3, names[k]);
      const lc_tensor_src *tb = lc_checkpoint_find(cb, names[k]);
      const lc_tensor_src *ts = lc_checkpoint_find(cs, names[k]);
      assert_non_null(t1);
      assert_non_null(t3);
      assert_int_equal(t1->bytes, t3->bytes);
      assert_memory_equal(t1->data, t3->data, t1->bytes);
      assert_memory_equal(t1->data, tb->data, t1->bytes);
      assert_memory_not_equal(t1->data, ts->data, t1->bytes);
    }
    lc_checkpoint_close(c1);
    lc_checkpoint_close(c3);
    lc_checkpoint_close(cb);
    lc_checkpoint_close(cs);
  }
}

/* Rewriting a folder replaces its checkpoint: sharded then single (the stale
 * index and shards are removed), parent folders are created, and no
 * temporaries stay. */
static void test_synth_rewrite_and_dirs(void **state) {
  (void)state;
  make_tmpdir();
  char dir[512];
  snprintf(dir, sizeof dir, "%s/a/b/c", g_dir);
  lc_synth_params p = small_params(LC_ARCH_LLAMA, LC_DTYPE_BF16);
  p.n_shards = 2;
  assert_int_equal(lc_synth_write(dir, &p), LC_OK);
  assert_int_equal(count_entries(dir), 4); /* 2 shards, index, config */
  p.n_shards = 1;
  p.config.n_layers = 3;
  assert_int_equal(lc_synth_write(dir, &p), LC_OK);
  /* config and model.safetensors only */
  char idx[600];
  snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
  assert_int_not_equal(access(idx, F_OK), 0);
  assert_int_equal(count_entries(dir), 2);
  lc_checkpoint *c = open_dir(dir);
  assert_int_equal(lc_checkpoint_config(c)->n_layers, 3);
  lc_checkpoint_close(c);
  /* a path under a regular file cannot be created: LC_ERR_IO */
  char bad[600];
  snprintf(bad, sizeof bad, "%s/config.json/x", dir);
  assert_int_equal(lc_synth_write(bad, &p), LC_ERR_IO);
  assert_non_null(strstr(lc_last_error(NULL), "cannot create"));
  assert_int_equal(count_entries(dir), 2);
}

static int cmp_name(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

/* Names of the entries of dir, sorted (strcmp), joined by spaces. */
static void list_dir(const char *dir, char *out, size_t len) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  char names[32][256];
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    assert_true(n < 32);
    snprintf(names[n++], sizeof names[0], "%s", e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_name);
  out[0] = '\0';
  for (int i = 0; i < n; i++)
    snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", names[i]);
}

/* After lc_synth_write the folder holds exactly the new checkpoint's files,
 * whatever an earlier checkpoint left there (3 shards, then 2, then one
 * file, then 2 shards again), and files of other names are never touched. */
static void test_synth_rewrite_removes_stale(void **state) {
  (void)state;
  make_tmpdir();
  char dir[512], path[700], got[2048];
  snprintf(dir, sizeof dir, "%s/m", g_dir);
  lc_synth_params p = small_params(LC_ARCH_QWEN2, LC_DTYPE_BF16);
  p.n_shards = 3;
  assert_int_equal(lc_synth_write(dir, &p), LC_OK);
  const char *others[] = {"tokenizer.json", "model-extra.safetensors", "model-1-of-2.safetensors",
                          "notes.model.safetensors"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, others[i]);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a checkpoint file", f);
    assert_int_equal(fclose(f), 0);
  }
  const char *two =
      "config.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors "
      "model-1-of-2.safetensors model-extra.safetensors model.safetensors.index.json "
      "notes.model.safetensors tokenizer.json";
  const char *one =
      "config.json model-1-of-2.safetensors model-extra.safetensors model.safetensors "
      "notes.model.safetensors tokenizer.json";
  const struct {
    int32_t n_shards;
    const char *want;
  } steps[] = {{2, two}, {1, one}, {2, two}};
  for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
    p.n_shards = steps[k].n_shards;
    p.seed = 10 + k;
    assert_int_equal(lc_synth_write(dir, &p), LC_OK);
    list_dir(dir, got, sizeof got);
    if (strcmp(got, steps[k].want) != 0) {
      print_error("after a write of %d shard(s) the folder holds\n  %s\nexpected\n  %s\n",
                  (int)steps[k].n_shards, got, steps[k].want);
      fail();
    }
    lc_checkpoint *c = open_dir(dir); /* the new checkpoint is what loads */
    assert_int_equal(lc_checkpoint_n_tensors(c), 2 + 2 * 12 + 1);
    lc_checkpoint_close(c);
  }
}

/* Bad parameters are refused with the status and a message naming them. */
static void test_synth_params_validated(void **state) {
  (void)state;
  make_tmpdir();
  lc_synth_params base = small_params(LC_ARCH_LLAMA, LC_DTYPE_BF16);
  assert_int_equal(lc_synth_write(NULL, &base), LC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(lc_last_error(NULL), "dir is NULL"));
  assert_int_equal(lc_synth_write(g_dir, NULL), LC_ERR_INVALID_ARGUMENT);
  int n = 0;
#define CASE(body, status, text)                                                             \
  do {                                                                                       \
    lc_synth_params q = base;                                                                \
    body;                                                                                    \
    lc_status got = lc_synth_write(g_dir, &q);                                               \
    if (got != (status) || !strstr(lc_last_error(NULL), (text))) {                           \
      print_error("case %s: got %s: %s\n", #body, lc_status_name(got), lc_last_error(NULL)); \
      fail();                                                                                \
    }                                                                                        \
    n++;                                                                                     \
  } while (0)
  CASE(q.config.dim = 0, LC_ERR_SHAPE, "config.dim must be >= 1; found 0");
  CASE(q.config.n_kv_heads = 3, LC_ERR_SHAPE, "n_kv_heads 3 must divide n_heads 4");
  CASE(q.config.head_dim = 7, LC_ERR_SHAPE, "head_dim must be even");
  CASE(q.config.vocab_size = -5, LC_ERR_SHAPE, "config.vocab_size must be >= 1; found -5");
  CASE(q.dtype = (lc_dtype)9, LC_ERR_INVALID_ARGUMENT, "dtype 9");
  CASE(q.n_shards = 0, LC_ERR_INVALID_ARGUMENT, "n_shards must be >= 1");
  CASE(q.n_shards = 1000, LC_ERR_INVALID_ARGUMENT, "n_shards 1000 must be at most");
  CASE(q.config.arch = (lc_arch)5, LC_ERR_INVALID_ARGUMENT, "unknown arch 5");
  CASE(q.config.rope_style = LC_ROPE_INTERLEAVED, LC_ERR_INVALID_ARGUMENT, "LC_ROPE_HALF");
  CASE(q.config.norm_eps = 0.0f, LC_ERR_INVALID_ARGUMENT, "norm_eps must be positive");
  CASE(q.config.bos_id = 96, LC_ERR_INVALID_ARGUMENT, "bos_id 96");
  CASE(q.config.head_dim = 512, LC_ERR_UNSUPPORTED, "head_dim 512 is not supported");
  CASE(q.config.vocab_size = 1 << 30; q.config.dim = 1 << 30;
       q.config.bos_id = 1, LC_ERR_OVERFLOW, "past 2^40 bytes");
#undef CASE
  assert_int_equal(n, 13);
  assert_int_equal(count_entries(g_dir), 0); /* nothing written */
}

/* Replaces the first `from` in a text file by `to`. */
static void replace_in_file(const char *path, const char *from, const char *to) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *at = strstr(buf, from);
  assert_non_null(at);
  f = fopen(path, "wb");
  assert_non_null(f);
  fprintf(f, "%.*s%s%s", (int)(at - buf), buf, to, at + strlen(from));
  assert_int_equal(fclose(f), 0);
}

/* lc_synth_write refuses exactly what lc_model_load refuses (one rule set,
 * lib/model_config.c): head_dim LC_MAX_HEAD_DIM (256) writes a checkpoint
 * that loads; 258 and 512 are LC_ERR_UNSUPPORTED from both, and synth
 * writes nothing. */
static void test_synth_refuses_what_load_refuses(void **state) {
  (void)state;
  make_tmpdir();
  char dir[512], cfg[600], empty[512];
  snprintf(dir, sizeof dir, "%s/m", g_dir);
  snprintf(cfg, sizeof cfg, "%s/config.json", dir);
  snprintf(empty, sizeof empty, "%s/refused", g_dir);
  lc_synth_params p = small_params(LC_ARCH_LLAMA, LC_DTYPE_BF16);
  p.config.n_heads = 2;
  p.config.n_kv_heads = 1;
  p.config.head_dim = 256;
  assert_int_equal(lc_synth_write(dir, &p), LC_OK);
  lc_context *ctx = lct_cpu(LC_MODE_STRICT);
  lc_model *m = NULL;
  if (lc_model_load(ctx, dir, NULL, &m) != LC_OK) {
    print_error("load head_dim 256: %s\n", lc_last_error(ctx));
    fail();
  }
  lc_model_free(m);
  const int32_t too_big[] = {258, 512};
  for (int k = 0; k < 2; k++) {
    lc_synth_params q = p;
    q.config.head_dim = too_big[k];
    char want[64];
    snprintf(want, sizeof want, "head_dim %d is not supported", (int)too_big[k]);
    assert_int_equal(lc_synth_write(empty, &q), LC_ERR_UNSUPPORTED);
    assert_non_null(strstr(lc_last_error(NULL), want));
    assert_int_not_equal(access(empty, F_OK), 0); /* not even the folder */
    /* the same config in a file (the 256 tensors beside it) */
    char from[32], to[32];
    snprintf(from, sizeof from, "\"head_dim\": %d", k ? 258 : 256);
    snprintf(to, sizeof to, "\"head_dim\": %d", (int)too_big[k]);
    replace_in_file(cfg, from, to);
    lc_status st = lc_model_load(ctx, dir, NULL, &m);
    if (st != LC_ERR_UNSUPPORTED || !strstr(lc_last_error(ctx), want)) {
      print_error("load head_dim %d: %s: %s\n", (int)too_big[k], lc_status_name(st),
                  lc_last_error(ctx));
      fail();
    }
    assert_null(m);
  }
  lc_context_free(ctx);
}

/* A Llama-3-8B-shaped checkpoint with 2 layers (~1.5e9 values, 3 GB bf16)
 * writes in well under a minute.  Runs only with LC_TEST_SYNTH_BIG=1 (it
 * needs 3 GB of /tmp); prints the time. */
static void test_synth_llama3_8b_shape_speed(void **state) {
  (void)state;
  if (!getenv("LC_TEST_SYNTH_BIG")) {
    print_message("SKIP: set LC_TEST_SYNTH_BIG=1 to write a 3 GB Llama-3-8B-shaped checkpoint\n");
    skip();
  }
  make_tmpdir();
  lc_synth_params p;
  lc_synth_params_default(&p);
  p.config.dim = 4096;
  p.config.hidden_dim = 14336;
  p.config.n_layers = 2;
  p.config.n_heads = 32;
  p.config.n_kv_heads = 8;
  p.config.head_dim = 128;
  p.config.vocab_size = 128256;
  p.config.max_seq_len = 8192;
  p.config.rope_theta = 500000.0;
  p.config.bos_id = 128000;
  p.config.eos_id = 128001;
  p.n_shards = 2;
  double t0 = lct_now_s();
  assert_int_equal(lc_synth_write(g_dir, &p), LC_OK);
  double t1 = lct_now_s();
  lc_checkpoint *c = open_dir(g_dir);
  double t2 = lct_now_s();
  print_message("llama3-8b-shaped, 2 layers, bf16, 2 shards: write %.1f s, open %.2f s\n", t1 - t0,
                t2 - t1);
  assert_int_equal(lc_checkpoint_n_tensors(c), 2 * 9 + 3);
  lc_checkpoint_close(c);
  assert_true(t1 - t0 < 60.0);
}

/* The presets: "tiny" is the defaults; "llama3-8b-shape" has Llama 3 8B's
 * layer shapes; an unknown name is refused and leaves the params alone. */
static void test_synth_presets(void **state) {
  (void)state;
  lc_synth_params p, d;
  lc_synth_params_default(&d);
  memset(&p, 0x5A, sizeof p);
  assert_int_equal(lc_synth_params_preset(&p, "tiny"), LC_OK);
  assert_memory_equal(&p, &d, sizeof p);
  assert_int_equal(lc_synth_params_preset(&p, "llama3-8b-shape"), LC_OK);
  assert_int_equal(p.config.dim, 4096);
  assert_int_equal(p.config.hidden_dim, 14336);
  assert_int_equal(p.config.n_heads, 32);
  assert_int_equal(p.config.n_kv_heads, 8);
  assert_int_equal(p.config.head_dim, 128);
  assert_int_equal(p.config.vocab_size, 128256);
  assert_true(p.config.rope_theta == 500000.0);
  assert_int_equal(p.config.n_layers, 2);
  assert_int_equal(p.dtype, LC_DTYPE_BF16);
  lc_synth_params keep = p;
  assert_int_equal(lc_synth_params_preset(&p, "llama4"), LC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(lc_last_error(NULL), "llama4"));
  assert_memory_equal(&p, &keep, sizeof p);
  assert_int_equal(lc_synth_params_preset(NULL, "tiny"), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_synth_params_preset(&p, NULL), LC_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_synth_presets),
      cmocka_unit_test_teardown(test_synth_defaults, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_synth_values_every_arch_dtype, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_synth_distribution, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_synth_shards_bitwise, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_synth_rewrite_and_dirs, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_synth_rewrite_removes_stale, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_synth_params_validated, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_synth_refuses_what_load_refuses, cleanup_tmpdir),
      cmocka_unit_test_teardown(test_synth_llama3_8b_shape_speed, cleanup_tmpdir),
  };
  return LCT_RUN(tests);
}

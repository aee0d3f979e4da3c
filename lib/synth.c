/*
 * lib/synth.c — synthetic Hugging Face checkpoints (lc_synth_write).
 *
 * Writes config.json and model.safetensors (or n_shards files
 * model-0000k-of-0000n.safetensors and model.safetensors.index.json) for a
 * Llama, Qwen2 or Qwen3 config.  Every weight is a pure function of
 * (seed, tensor name, element index), so the shard count, the write order or
 * the machine never change a value (docs/models.md, "Synthetic checkpoints"):
 *
 *   key  = mix64(seed ^ mix64(fnv1a64(name)))
 *   h    = mix64(key + (i + 1) * 0x9E3779B97F4A7C15)        element i
 *   B    = h[15:0] + h[31:16] + h[47:32] + h[63:48]        Irwin-Hall of 4
 *   v    = (float)(mean + (double)(B - 131070) * (std * sqrt(3) / 65536))
 *
 * mix64 is splitmix64's finaliser (lc_mix64, lib/rng.h).  (B - 131070) /
 * 65536 is the sum of four uniforms (b + 0.5) / 65536 minus its mean 2;
 * times sqrt(3) it has variance 1 (bounded by +-3.46): an approximately
 * normal value from one 64-bit hash.
 * v is then rounded to the file dtype (bf16/fp16: round to nearest even,
 * cast/lc_cast.h).  Scales (std): matrices 1/sqrt(fan_in); the embedding 1
 * when untied, 1/sqrt(dim) when tied (so logits have std ~1 either way);
 * RMSNorm and q/k-norm weights mean 1, std 0.05; biases std 0.02.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <pthread.h>

#include "cast/lc_cast.h"
#include "layercast_model.h"
#include "lib/exp_internal.h" /* lc_json_put */
#include "lib/lc_internal.h"
#include "lib/model_config.h"
#include "lib/rng.h"

#define SYN_PATH_LEN 4096
#define SYN_CHUNK ((int64_t)1 << 22) /* elements generated per write (16 MiB f32) */

void lc_synth_params_default(lc_synth_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  lc_model_config *g = &p->config;
  g->arch = LC_ARCH_LLAMA;
  g->dim = 256;
  g->hidden_dim = 688;
  g->n_layers = 4;
  g->n_heads = 8;
  g->n_kv_heads = 4;
  g->head_dim = 32;
  g->vocab_size = 1024;
  g->max_seq_len = 1024;
  g->norm_eps = 1e-5f;
  g->rope_theta = 10000.0;
  g->rope_style = LC_ROPE_HALF;
  g->tied_embeddings = 0;
  g->qkv_bias = 0;
  g->qk_norm = 0;
  g->bos_id = 1;
  g->eos_id = 2;
  p->seed = 1;
  p->dtype = LC_DTYPE_BF16;
  p->n_shards = 1;
}

lc_status lc_synth_params_preset(lc_synth_params *p, const char *name) {
  if (!p || !name)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_synth_params_preset: NULL %s",
                   !p ? "params" : "name");
  if (strcmp(name, "tiny") == 0) {
    lc_synth_params_default(p);
    return LC_OK;
  }
  if (strcmp(name, "llama3-8b-shape") != 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "lc_synth_params_preset: unknown preset '%s' (expected tiny or llama3-8b-shape)",
                   name);
  lc_synth_params_default(p);
  lc_model_config *g = &p->config;
  g->dim = 4096;
  g->hidden_dim = 14336;
  g->n_layers = 2;
  g->n_heads = 32;
  g->n_kv_heads = 8;
  g->head_dim = 128;
  g->vocab_size = 128256;
  g->max_seq_len = 2048;
  g->rope_theta = 500000.0;
  return LC_OK;
}

/* ---- the generator ----------------------------------------------------------*/

static uint64_t fnv1a64(const char *s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001B3ull;
  }
  return h;
}

typedef struct syn_tensor {
  char name[128];
  int ndim;
  int64_t rows, cols;
  double mean, std;
  int64_t numel;
  uint64_t bytes;  /* numel * element size */
  uint64_t offset; /* within its shard's data */
  int shard;
} syn_tensor;

/* Elements [i0, i1) of tensor t, as dtype, into out. */
static void gen_chunk(const syn_tensor *t, uint64_t seed, lc_dtype dt, int64_t i0, int64_t i1,
                      void *out) {
  const uint64_t key = lc_mix64(seed ^ lc_mix64(fnv1a64(t->name)));
  const double c = t->std * 1.7320508075688772 / 65536.0, mean = t->mean;
  float *f32 = out;
  uint16_t *u16 = out;
  for (int64_t i = i0; i < i1; i++) {
    uint64_t h = lc_mix64(key + (uint64_t)(i + 1) * LC_SPLITMIX64_GAMMA);
    int64_t b = (int64_t)(h & 0xFFFF) + (int64_t)((h >> 16) & 0xFFFF) +
                (int64_t)((h >> 32) & 0xFFFF) + (int64_t)(h >> 48);
    float v = (float)(mean + (double)(b - 131070) * c);
    if (dt == LC_DTYPE_F32)
      f32[i - i0] = v;
    else if (dt == LC_DTYPE_BF16)
      u16[i - i0] = lc_f32_to_bf16(v);
    else
      u16[i - i0] = lc_f32_to_f16(v);
  }
}

/* Generation of a chunk split over threads: each value is a pure function of
 * its index, so the split never changes a bit. */
typedef struct gen_job {
  const syn_tensor *t;
  uint64_t seed;
  lc_dtype dt;
  int64_t i0, i1;
  void *out;
} gen_job;

static void *gen_thread(void *arg) {
  gen_job *j = arg;
  gen_chunk(j->t, j->seed, j->dt, j->i0, j->i1, j->out);
  return NULL;
}

#define SYN_MAX_THREADS 16

/* A chunk being generated by up to SYN_MAX_THREADS threads, while the
 * caller writes the previous one. */
typedef struct gen_batch {
  pthread_t th[SYN_MAX_THREADS];
  gen_job jobs[SYN_MAX_THREADS];
  int started[SYN_MAX_THREADS];
  int n;
} gen_batch;

static void gen_start(gen_batch *g, const syn_tensor *t, uint64_t seed, lc_dtype dt, int64_t i0,
                      int64_t i1, void *out, int n_threads) {
  size_t es = dt == LC_DTYPE_F32 ? 4 : 2;
  int64_t n = i1 - i0;
  g->n = n < 65536 ? 1 : n_threads;
  for (int k = 0; k < g->n; k++) {
    int64_t a = i0 + n * k / g->n, b = i0 + n * (k + 1) / g->n;
    g->jobs[k] = (gen_job){t, seed, dt, a, b, (char *)out + (size_t)(a - i0) * es};
    g->started[k] = pthread_create(&g->th[k], NULL, gen_thread, &g->jobs[k]) == 0;
  }
}

static void gen_finish(gen_batch *g) {
  for (int k = 0; k < g->n; k++) {
    if (g->started[k])
      pthread_join(g->th[k], NULL);
    else
      gen_thread(&g->jobs[k]); /* no thread: do it here */
  }
}

static int synth_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > SYN_MAX_THREADS ? SYN_MAX_THREADS : (int)n;
}

/* ---- parameters and the tensor list -------------------------------------------*/

/* The config by the rules lc_model_load applies (lib/model_config.c), so
 * nothing is written that would not load; then what this writer adds:
 * dtype, Hugging Face's RoPE pairing, token ids and the shard count. */
static lc_status check_params(const lc_synth_params *p) {
  const lc_model_config *g = &p->config;
  const char *fn = "lc_synth_write";
  char msg[256];
  lc_status st = lc_model_config_check(g, 0, msg, sizeof msg);
  if (st != LC_OK) return LC_FAIL(NULL, st, "%s: %s", fn, msg);
  if (p->dtype != LC_DTYPE_F32 && p->dtype != LC_DTYPE_BF16 && p->dtype != LC_DTYPE_F16)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: dtype %d is not F32, BF16 or F16", fn,
                   (int)p->dtype);
  if (g->rope_style != LC_ROPE_HALF)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: Hugging Face checkpoints use rope_style LC_ROPE_HALF; found %d", fn,
                   (int)g->rope_style);
  if (g->bos_id < -1 || g->bos_id >= g->vocab_size || g->eos_id < -1 || g->eos_id >= g->vocab_size)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: bos_id %d and eos_id %d must be -1 or below vocab_size %d", fn,
                   (int)g->bos_id, (int)g->eos_id, (int)g->vocab_size);
  if (p->n_shards < 1)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: n_shards must be >= 1; found %d", fn,
                   (int)p->n_shards);
  return LC_OK;
}

/* The checkpoint.h tensor list for the config, in file order. */
static lc_status build_list(const lc_synth_params *p, syn_tensor **out, int64_t *n_out) {
  const lc_model_config *g = &p->config;
  int qkv_bias = g->arch == LC_ARCH_QWEN2, qk_norm = g->arch == LC_ARCH_QWEN3;
  int64_t per = 9 + 3 * qkv_bias + 2 * qk_norm;
  int64_t n = 2 + (int64_t)g->n_layers * per + !g->tied_embeddings;
  syn_tensor *t = lc_calloc((size_t)n, sizeof *t);
  if (!t) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_synth_write: out of memory");
  int64_t D = g->dim, H = g->hidden_dim, qd = (int64_t)g->n_heads * g->head_dim;
  int64_t kvd = (int64_t)g->n_kv_heads * g->head_dim, k = 0;
  double s_dim = 1.0 / sqrt((double)D);
#define SYN_ADD(nd, r, cc, m, s, ...)                   \
  do {                                                  \
    snprintf(t[k].name, sizeof t[k].name, __VA_ARGS__); \
    t[k].ndim = (nd);                                   \
    t[k].rows = (r);                                    \
    t[k].cols = (cc);                                   \
    t[k].mean = (m);                                    \
    t[k].std = (s);                                     \
    k++;                                                \
  } while (0)
  SYN_ADD(2, g->vocab_size, D, 0.0, g->tied_embeddings ? s_dim : 1.0, "model.embed_tokens.weight");
  for (int32_t l = 0; l < g->n_layers; l++) {
    int i = (int)l;
    SYN_ADD(1, D, 1, 1.0, 0.05, "model.layers.%d.input_layernorm.weight", i);
    SYN_ADD(2, qd, D, 0.0, s_dim, "model.layers.%d.self_attn.q_proj.weight", i);
    SYN_ADD(2, kvd, D, 0.0, s_dim, "model.layers.%d.self_attn.k_proj.weight", i);
    SYN_ADD(2, kvd, D, 0.0, s_dim, "model.layers.%d.self_attn.v_proj.weight", i);
    if (qkv_bias) {
      SYN_ADD(1, qd, 1, 0.0, 0.02, "model.layers.%d.self_attn.q_proj.bias", i);
      SYN_ADD(1, kvd, 1, 0.0, 0.02, "model.layers.%d.self_attn.k_proj.bias", i);
      SYN_ADD(1, kvd, 1, 0.0, 0.02, "model.layers.%d.self_attn.v_proj.bias", i);
    }
    if (qk_norm) {
      SYN_ADD(1, g->head_dim, 1, 1.0, 0.05, "model.layers.%d.self_attn.q_norm.weight", i);
      SYN_ADD(1, g->head_dim, 1, 1.0, 0.05, "model.layers.%d.self_attn.k_norm.weight", i);
    }
    SYN_ADD(2, D, qd, 0.0, 1.0 / sqrt((double)qd), "model.layers.%d.self_attn.o_proj.weight", i);
    SYN_ADD(1, D, 1, 1.0, 0.05, "model.layers.%d.post_attention_layernorm.weight", i);
    SYN_ADD(2, H, D, 0.0, s_dim, "model.layers.%d.mlp.gate_proj.weight", i);
    SYN_ADD(2, H, D, 0.0, s_dim, "model.layers.%d.mlp.up_proj.weight", i);
    SYN_ADD(2, D, H, 0.0, 1.0 / sqrt((double)H), "model.layers.%d.mlp.down_proj.weight", i);
  }
  SYN_ADD(1, D, 1, 1.0, 0.05, "model.norm.weight");
  if (!g->tied_embeddings) SYN_ADD(2, g->vocab_size, D, 0.0, s_dim, "lm_head.weight");
#undef SYN_ADD
  *out = t;
  *n_out = k;
  return LC_OK;
}

/* ---- files --------------------------------------------------------------------*/

typedef struct syn_files {
  char tmp[64][SYN_PATH_LEN]; /* temporaries written so far */
  char fin[64][SYN_PATH_LEN]; /* their final names */
  int n;
} syn_files;

static lc_status write_all(int fd, const void *buf, size_t n, const char *path) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return LC_FAIL(NULL, LC_ERR_IO, "lc_synth_write: %s: write failed: %s", path,
                     strerror(errno));
    }
    p += w;
    n -= (size_t)w;
  }
  return LC_OK;
}

/* Creates a temporary beside final name `name` in dir; records it in f. */
static lc_status open_tmp(syn_files *f, const char *dir, const char *name, int *fd) {
  if (f->n >= 64) return LC_FAIL(NULL, LC_ERR_INTERNAL, "lc_synth_write: too many files at once");
  int a = snprintf(f->fin[f->n], SYN_PATH_LEN, "%s/%s", dir, name);
  int b = snprintf(f->tmp[f->n], SYN_PATH_LEN, "%s/.%s.tmp.XXXXXX", dir, name);
  if (a < 0 || a >= SYN_PATH_LEN || b < 0 || b >= SYN_PATH_LEN)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_synth_write: %s/%s: path too long", dir,
                   name);
  *fd = mkstemp(f->tmp[f->n]);
  if (*fd < 0)
    return LC_FAIL(NULL, LC_ERR_IO, "lc_synth_write: cannot create a temporary in %s: %s", dir,
                   strerror(errno));
  fchmod(*fd, 0644);
  f->n++;
  return LC_OK;
}

static lc_status close_fd(int fd, const char *path) {
  if (close(fd) != 0)
    return LC_FAIL(NULL, LC_ERR_IO, "lc_synth_write: %s: close failed: %s", path, strerror(errno));
  return LC_OK;
}

static lc_status make_dirs(const char *dir) {
  char p[SYN_PATH_LEN];
  int n = snprintf(p, sizeof p, "%s", dir);
  if (n < 0 || n >= (int)sizeof p)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_synth_write: directory path too long");
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
      return LC_FAIL(NULL, LC_ERR_IO, "lc_synth_write: cannot create %s: %s", p, strerror(errno));
    *s = '/';
  }
  if (mkdir(p, 0755) != 0 && errno != EEXIST)
    return LC_FAIL(NULL, LC_ERR_IO, "lc_synth_write: cannot create %s: %s", p, strerror(errno));
  struct stat st;
  if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
    return LC_FAIL(NULL, LC_ERR_IO, "lc_synth_write: %s is not a directory", p);
  return LC_OK;
}

static const char *st_dtype_name(lc_dtype d) {
  return d == LC_DTYPE_F32 ? "F32" : d == LC_DTYPE_BF16 ? "BF16" : "F16";
}

/* A growable string. */
typedef struct sbuf {
  char *s;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if (b->s && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
    char *q = lc_realloc(b->s, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->s = q;
    b->cap = cap;
  }
}

/* Writes shard `s` (tensors with t.shard == s) to a temporary. */
static lc_status write_shard(const lc_synth_params *p, syn_tensor *t, int64_t n, int s,
                             const char *dir, const char *name, syn_files *files, void *buf[2]) {
  sbuf h = {0};
  sb_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
  for (int64_t i = 0; i < n; i++) {
    if (t[i].shard != s) continue;
    if (t[i].ndim == 2)
      sb_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],\"data_offsets\":[%llu,%llu]}",
                t[i].name, st_dtype_name(p->dtype), (long long)t[i].rows, (long long)t[i].cols,
                (unsigned long long)t[i].offset, (unsigned long long)(t[i].offset + t[i].bytes));
    else
      sb_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld],\"data_offsets\":[%llu,%llu]}",
                t[i].name, st_dtype_name(p->dtype), (long long)t[i].rows,
                (unsigned long long)t[i].offset, (unsigned long long)(t[i].offset + t[i].bytes));
  }
  sb_printf(&h, "}");
  while (!h.oom && (8 + h.len) % 8 != 0) sb_printf(&h, " "); /* data 8-byte aligned */
  if (h.oom) {
    free(h.s);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_synth_write: out of memory (header)");
  }
  int fd;
  lc_status st = open_tmp(files, dir, name, &fd);
  if (st != LC_OK) {
    free(h.s);
    return st;
  }
  const char *tmp = files->tmp[files->n - 1];
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
  st = write_all(fd, len8, 8, tmp);
  if (st == LC_OK) st = write_all(fd, h.s, h.len, tmp);
  free(h.s);
  size_t es = p->dtype == LC_DTYPE_F32 ? 4 : 2;
  int n_threads = synth_threads();
  /* Chunks (tensor ti, elements [i0, i0 + SYN_CHUNK)) of this shard in file
   * order; chunk k+1 is generated while chunk k is written. */
  int64_t ti = 0, i0 = 0;
  while (ti < n && (t[ti].shard != s || t[ti].numel == 0)) ti++;
  int k = 0;
  gen_batch g;
  if (ti < n) {
    gen_start(&g, &t[ti], p->seed, p->dtype, 0, t[ti].numel < SYN_CHUNK ? t[ti].numel : SYN_CHUNK,
              buf[0], n_threads);
    gen_finish(&g);
  }
  while (ti < n) {
    int64_t i1 = i0 + SYN_CHUNK < t[ti].numel ? i0 + SYN_CHUNK : t[ti].numel;
    int64_t nti = ti, ni0 = i1;
    if (ni0 >= t[nti].numel) {
      nti++;
      ni0 = 0;
      while (nti < n && (t[nti].shard != s || t[nti].numel == 0)) nti++;
    }
    if (nti < n) {
      int64_t ni1 = ni0 + SYN_CHUNK < t[nti].numel ? ni0 + SYN_CHUNK : t[nti].numel;
      gen_start(&g, &t[nti], p->seed, p->dtype, ni0, ni1, buf[1 - k], n_threads);
    }
    if (st == LC_OK) st = write_all(fd, buf[k], (size_t)(i1 - i0) * es, tmp);
    if (nti < n) gen_finish(&g);
    if (st != LC_OK) break;
    ti = nti;
    i0 = ni0;
    k = 1 - k;
  }
  lc_status st2 = close_fd(fd, tmp);
  return st != LC_OK ? st : st2;
}

static lc_status write_text(syn_files *files, const char *dir, const char *name, const char *text) {
  int fd;
  LC_TRY(open_tmp(files, dir, name, &fd));
  const char *tmp = files->tmp[files->n - 1];
  lc_status st = write_all(fd, text, strlen(text), tmp);
  lc_status st2 = close_fd(fd, tmp);
  return st != LC_OK ? st : st2;
}

/* The shortest decimal that reads back as the float f. */
static double shortest_float(float f) {
  char s[64];
  for (int prec = 1; prec <= 9; prec++) {
    snprintf(s, sizeof s, "%.*g", prec, (double)f);
    if (strtof(s, NULL) == f) return strtod(s, NULL);
  }
  return (double)f;
}

static char *config_json(const lc_synth_params *p) {
  const lc_model_config *g = &p->config;
  static const char *types[] = {"llama", "qwen2", "qwen3"};
  static const char *archs[] = {"LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"};
  static const char *torch[] = {"float32", "bfloat16", "float16"};
  json_t *r = json_object();
  if (!r) return NULL;
  int bad = 0; /* a failed put (out of memory) */
#define PUT(k, v) bad |= lc_json_put(r, (k), (v))
  json_t *arr = json_array();
  bad |= !arr || json_array_append_new(arr, json_string(archs[g->arch])) != 0;
  PUT("architectures", arr);
  PUT("model_type", json_string(types[g->arch]));
  PUT("hidden_size", json_integer(g->dim));
  PUT("intermediate_size", json_integer(g->hidden_dim));
  PUT("num_hidden_layers", json_integer(g->n_layers));
  PUT("num_attention_heads", json_integer(g->n_heads));
  PUT("num_key_value_heads", json_integer(g->n_kv_heads));
  PUT("head_dim", json_integer(g->head_dim));
  PUT("vocab_size", json_integer(g->vocab_size));
  PUT("max_position_embeddings", json_integer(g->max_seq_len));
  PUT("rms_norm_eps", json_real(shortest_float(g->norm_eps)));
  if (g->rope_theta == floor(g->rope_theta) && g->rope_theta < 9007199254740992.0)
    PUT("rope_theta", json_integer((json_int_t)g->rope_theta));
  else
    PUT("rope_theta", json_real(g->rope_theta));
  PUT("rope_scaling", json_null());
  PUT("tie_word_embeddings", json_boolean(g->tied_embeddings));
  if (g->arch != LC_ARCH_QWEN2) PUT("attention_bias", json_false());
  if (g->arch == LC_ARCH_QWEN2) PUT("use_sliding_window", json_false());
  PUT("hidden_act", json_string("silu"));
  PUT("bos_token_id", g->bos_id >= 0 ? json_integer(g->bos_id) : json_null());
  PUT("eos_token_id", g->eos_id >= 0 ? json_integer(g->eos_id) : json_null());
  PUT("torch_dtype", json_string(torch[p->dtype]));
  char seed[32];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
  PUT("layercast_synth_seed", json_string(seed));
  /* 9 digits: eps is the shortest decimal of a float, exact in 9 digits. */
#undef PUT
  char *s =
      bad ? NULL : json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
  json_decref(r);
  return s;
}

/* model.safetensors, model.safetensors.index.json or a shard
 * model-DDDDD-of-DDDDD.safetensors: the names a loader reads weights from. */
static int is_weights_name(const char *n) {
  if (strcmp(n, "model.safetensors") == 0 || strcmp(n, "model.safetensors.index.json") == 0)
    return 1;
  const char *shape = "model-#####-of-#####.safetensors";
  if (strlen(n) != strlen(shape)) return 0;
  for (size_t i = 0; shape[i]; i++)
    if (shape[i] == '#' ? !isdigit((unsigned char)n[i]) : n[i] != shape[i]) return 0;
  return 1;
}

/* Once the new files are in place: removes the weight files (is_weights_name)
 * of an earlier checkpoint that this write did not produce, which would
 * shadow the new one (a stale index) or sit beside it (stale shards).
 * Files of other names are never touched. */
static lc_status remove_stale(const char *dir, const syn_files *files) {
  DIR *d = opendir(dir);
  if (!d)
    return LC_FAIL(NULL, LC_ERR_IO, "lc_synth_write: %s: cannot list the folder: %s", dir,
                   strerror(errno));
  lc_status st = LC_OK;
  const size_t skip = strlen(dir) + 1; /* files->fin[i] is "dir/name" */
  for (struct dirent *ent; st == LC_OK && (ent = readdir(d));) {
    if (!is_weights_name(ent->d_name)) continue;
    int written = 0;
    for (int i = 0; i < files->n && !written; i++)
      written = strcmp(files->fin[i] + skip, ent->d_name) == 0;
    if (written) continue;
    char stale[SYN_PATH_LEN];
    snprintf(stale, sizeof stale, "%s/%s", dir, ent->d_name);
    if (unlink(stale) != 0 && errno != ENOENT)
      st = LC_FAIL(NULL, LC_ERR_IO,
                   "lc_synth_write: the new checkpoint is in %s, but the stale %s cannot be "
                   "removed: %s",
                   dir, stale, strerror(errno));
  }
  closedir(d);
  return st;
}

lc_status lc_synth_write(const char *dir, const lc_synth_params *p) {
  if (!dir || !p)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_synth_write: %s is NULL", !dir ? "dir" : "p");
  if (dir[0] == '\0') return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_synth_write: dir is empty");
  LC_TRY(check_params(p));
  syn_tensor *t = NULL;
  int64_t n = 0;
  LC_TRY(build_list(p, &t, &n));
  if (p->n_shards > n || p->n_shards > 60) {
    free(t);
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "lc_synth_write: n_shards %d must be at most %lld (the tensor count, and 60)",
                   (int)p->n_shards, (long long)(n < 60 ? n : 60));
  }
  size_t es = p->dtype == LC_DTYPE_F32 ? 4 : 2;
  /* Sizes (checked) and shards: tensor k goes to shard k * n_shards / n. */
  uint64_t off[64] = {0};
  uint64_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t numel;
    uint64_t bytes;
    if (__builtin_mul_overflow(t[i].rows, t[i].cols, &numel) ||
        __builtin_mul_overflow((uint64_t)numel, (uint64_t)es, &bytes) ||
        __builtin_add_overflow(total, bytes, &total) || total >= ((uint64_t)1 << 40)) {
      lc_status st =
          LC_FAIL(NULL, LC_ERR_OVERFLOW,
                  "lc_synth_write: tensor %s [%lld, %lld] takes the checkpoint past 2^40 bytes",
                  t[i].name, (long long)t[i].rows, (long long)t[i].cols);
      free(t);
      return st;
    }
    t[i].numel = numel;
    t[i].bytes = bytes;
    t[i].shard = (int)(i * p->n_shards / n);
    t[i].offset = off[t[i].shard];
    off[t[i].shard] += bytes;
  }
  lc_status st = make_dirs(dir);
  if (st != LC_OK) {
    free(t);
    return st;
  }
  syn_files *files = lc_calloc(1, sizeof *files);
  void *buf[2] = {lc_malloc((size_t)SYN_CHUNK * 4), lc_malloc((size_t)SYN_CHUNK * 4)};
  char *cfg = config_json(p);
  if (!files || !buf[0] || !buf[1] || !cfg) {
    free(files);
    free(buf[0]);
    free(buf[1]);
    free(cfg);
    free(t);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_synth_write: out of memory");
  }
  char name[128];
  for (int s = 0; s < p->n_shards && st == LC_OK; s++) {
    if (p->n_shards == 1)
      snprintf(name, sizeof name, "model.safetensors");
    else
      snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, (int)p->n_shards);
    st = write_shard(p, t, n, s, dir, name, files, buf);
  }
  if (st == LC_OK && p->n_shards > 1) {
    /* lc_json_put takes each value over, also when it fails */
    json_t *idx = json_object();
    int bad = !idx;
    bad |= lc_json_put(idx, "metadata", json_object());
    bad |= lc_json_put(json_object_get(idx, "metadata"), "total_size",
                       json_integer((json_int_t)total));
    bad |= lc_json_put(idx, "weight_map", json_object());
    json_t *wm = json_object_get(idx, "weight_map");
    for (int64_t i = 0; i < n && !bad; i++) {
      snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", t[i].shard + 1,
               (int)p->n_shards);
      bad |= lc_json_put(wm, t[i].name, json_string(name));
    }
    char *text = bad ? NULL : json_dumps(idx, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(idx);
    if (!text)
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_synth_write: out of memory (index)");
    else
      st = write_text(files, dir, "model.safetensors.index.json", text);
    free(text);
  }
  if (st == LC_OK) st = write_text(files, dir, "config.json", cfg);
  /* Publish: rename every temporary; on failure remove what is left. */
  int renamed = 0;
  while (st == LC_OK && renamed < files->n) {
    if (rename(files->tmp[renamed], files->fin[renamed]) == 0)
      renamed++;
    else /* files->tmp[renamed] stays a temporary: removed below */
      st = LC_FAIL(NULL, LC_ERR_IO, "lc_synth_write: cannot rename %s to %s: %s",
                   files->tmp[renamed], files->fin[renamed], strerror(errno));
  }
  if (st != LC_OK)
    for (int i = renamed; i < files->n; i++) unlink(files->tmp[i]);
  else
    st = remove_stale(dir, files);
  free(files);
  free(buf[0]);
  free(buf[1]);
  free(cfg);
  free(t);
  return st;
}

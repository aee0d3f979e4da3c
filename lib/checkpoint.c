/*
 * lib/checkpoint.c — the checkpoint object, format detection, and the
 * llama2.c loader.  Hugging Face directories are read by lib/ckpt_hf.c.
 *
 * llama2.c ("legacy" version 0 export, fp32), /work/shared/models/README.md:
 *   int32 header[7]: dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *                    vocab_size (negative: untied classifier), seq_len
 *   fp32 token_embedding[vocab][dim]
 *        rms_att[L][dim], wq[L][dim][dim], wk[L][kv_dim][dim],
 *        wv[L][kv_dim][dim], wo[L][dim][dim], rms_ffn[L][dim],
 *        w1[L][hidden][dim], w2[L][dim][hidden], w3[L][hidden][dim],
 *        rms_final[dim], freq_cis_real[seq_len][head_dim/2],
 *        freq_cis_imag[seq_len][head_dim/2], (untied) wcls[vocab][dim]
 * The file is mapped read-only and the tensors point into the map.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/ckpt_internal.h"

/* ---- errors, maps, tensor table ------------------------------------------*/

lc_status lc_ckpt_fail(lc_ckpt_err *e, lc_status st, const char *fmt, ...) {
  if (e && e->buf && e->len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf, e->len, fmt, ap);
    va_end(ap);
  }
  return st;
}

size_t lc_ckpt_dtype_size(lc_dtype d) {
  return d == LC_DTYPE_F32 ? 4 : 2;
}

lc_status lc_ckpt_map_file(lc_checkpoint *c, const char *path, const void **addr, size_t *len,
                           lc_ckpt_err *e) {
  *addr = NULL;
  *len = 0;
  if (c->n_maps == c->cap_maps) {
    int64_t cap = c->cap_maps ? c->cap_maps * 2 : 4;
    lc_ckpt_map *m = realloc(c->maps, (size_t)cap * sizeof *m);
    if (!m) return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    c->maps = m;
    c->cap_maps = cap;
  }
  int fd = open(path, O_RDONLY);
  if (fd < 0) return lc_ckpt_fail(e, LC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return lc_ckpt_fail(e, LC_ERR_IO, "%s: cannot stat: %s", path, strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return lc_ckpt_fail(e, LC_ERR_IO, "%s: not a regular file", path);
  }
  if ((uintmax_t)st.st_size > (uintmax_t)SIZE_MAX) {
    close(fd);
    return lc_ckpt_fail(e, LC_ERR_OVERFLOW, "%s: %jd bytes do not fit in memory", path,
                        (intmax_t)st.st_size);
  }
  size_t n = (size_t)st.st_size;
  void *p = NULL;
  if (n > 0) {
    p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      close(fd);
      return lc_ckpt_fail(e, LC_ERR_IO, "%s: cannot map %zu bytes: %s", path, n, strerror(err));
    }
  }
  close(fd);
  if (p) {
    c->maps[c->n_maps].addr = p;
    c->maps[c->n_maps].len = n;
    c->n_maps++;
  }
  *addr = p;
  *len = n;
  return LC_OK;
}

lc_status lc_ckpt_keep_copy(lc_checkpoint *c, void *p, lc_ckpt_err *e) {
  if (c->n_copies == c->cap_copies) {
    int64_t cap = c->cap_copies ? c->cap_copies * 2 : 8;
    void **q = realloc(c->copies, (size_t)cap * sizeof *q);
    if (!q) {
      free(p);
      return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "out of memory keeping a tensor copy");
    }
    c->copies = q;
    c->cap_copies = cap;
  }
  c->copies[c->n_copies++] = p;
  return LC_OK;
}

lc_status lc_ckpt_add_tensor(lc_checkpoint *c, const lc_tensor_src *t, lc_ckpt_err *e) {
  if (lc_checkpoint_find(c, t->name))
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "tensor %s appears twice", t->name);
  if (c->n_tensors == c->cap_tensors) {
    int64_t cap = c->cap_tensors ? c->cap_tensors * 2 : 64;
    lc_tensor_src *q = realloc(c->tensors, (size_t)cap * sizeof *q);
    if (!q) return lc_ckpt_fail(e, LC_ERR_OUT_OF_MEMORY, "out of memory for the tensor table");
    c->tensors = q;
    c->cap_tensors = cap;
  }
  c->tensors[c->n_tensors++] = *t;
  return LC_OK;
}

/* ---- required tensors ----------------------------------------------------*/

static lc_status check_one(const lc_checkpoint *c, const char *where, lc_ckpt_err *e,
                           const char *name, int ndim, int64_t rows, int64_t cols) {
  char want[64], got[64];
  if (ndim == 2)
    snprintf(want, sizeof want, "[%lld, %lld]", (long long)rows, (long long)cols);
  else
    snprintf(want, sizeof want, "[%lld]", (long long)rows);
  const lc_tensor_src *t = lc_checkpoint_find(c, name);
  if (!t)
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s is missing (expected shape %s)", where,
                        name, want);
  int64_t want_cols = ndim == 2 ? cols : 1;
  if (t->ndim != ndim || t->shape[0] != rows || t->shape[1] != want_cols) {
    if (t->ndim == 2)
      snprintf(got, sizeof got, "[%lld, %lld]", (long long)t->shape[0], (long long)t->shape[1]);
    else
      snprintf(got, sizeof got, "[%lld]", (long long)t->shape[0]);
    return lc_ckpt_fail(e, LC_ERR_FORMAT, "%s: tensor %s has shape %s; the config expects %s",
                        where, name, got, want);
  }
  return LC_OK;
}

lc_status lc_ckpt_check_required(const lc_checkpoint *c, const char *where, lc_ckpt_err *e) {
  const lc_model_config *g = &c->config;
  int64_t dim = g->dim, hid = g->hidden_dim, hd = g->head_dim;
  int64_t qd = (int64_t)g->n_heads * hd, kvd = (int64_t)g->n_kv_heads * hd;
  char n[128];
#define LC_CHECK(...)                                       \
  do {                                                      \
    lc_status st_ = check_one(c, where, e, n, __VA_ARGS__); \
    if (st_ != LC_OK) return st_;                           \
  } while (0)
  snprintf(n, sizeof n, "model.embed_tokens.weight");
  LC_CHECK(2, g->vocab_size, dim);
  for (int32_t i = 0; i < g->n_layers; i++) {
    snprintf(n, sizeof n, "model.layers.%d.input_layernorm.weight", (int)i);
    LC_CHECK(1, dim, 1);
    snprintf(n, sizeof n, "model.layers.%d.self_attn.q_proj.weight", (int)i);
    LC_CHECK(2, qd, dim);
    snprintf(n, sizeof n, "model.layers.%d.self_attn.k_proj.weight", (int)i);
    LC_CHECK(2, kvd, dim);
    snprintf(n, sizeof n, "model.layers.%d.self_attn.v_proj.weight", (int)i);
    LC_CHECK(2, kvd, dim);
    if (g->qkv_bias) {
      snprintf(n, sizeof n, "model.layers.%d.self_attn.q_proj.bias", (int)i);
      LC_CHECK(1, qd, 1);
      snprintf(n, sizeof n, "model.layers.%d.self_attn.k_proj.bias", (int)i);
      LC_CHECK(1, kvd, 1);
      snprintf(n, sizeof n, "model.layers.%d.self_attn.v_proj.bias", (int)i);
      LC_CHECK(1, kvd, 1);
    }
    if (g->qk_norm) {
      snprintf(n, sizeof n, "model.layers.%d.self_attn.q_norm.weight", (int)i);
      LC_CHECK(1, hd, 1);
      snprintf(n, sizeof n, "model.layers.%d.self_attn.k_norm.weight", (int)i);
      LC_CHECK(1, hd, 1);
    }
    snprintf(n, sizeof n, "model.layers.%d.self_attn.o_proj.weight", (int)i);
    LC_CHECK(2, dim, qd);
    snprintf(n, sizeof n, "model.layers.%d.post_attention_layernorm.weight", (int)i);
    LC_CHECK(1, dim, 1);
    snprintf(n, sizeof n, "model.layers.%d.mlp.gate_proj.weight", (int)i);
    LC_CHECK(2, hid, dim);
    snprintf(n, sizeof n, "model.layers.%d.mlp.up_proj.weight", (int)i);
    LC_CHECK(2, hid, dim);
    snprintf(n, sizeof n, "model.layers.%d.mlp.down_proj.weight", (int)i);
    LC_CHECK(2, dim, hid);
  }
  snprintf(n, sizeof n, "model.norm.weight");
  LC_CHECK(1, dim, 1);
  if (!g->tied_embeddings) {
    snprintf(n, sizeof n, "lm_head.weight");
    LC_CHECK(2, g->vocab_size, dim);
  }
#undef LC_CHECK
  return LC_OK;
}

/* ---- llama2.c --------------------------------------------------------------*/

/* "ak42" little-endian: the header of llama2.c's versioned exports (1, 2). */
#define LC_LLAMA2C_MAGIC 0x616b3432u

/* a*b into *out without overflow past INT64_MAX (a, b >= 0). */
static int mul_ok(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static int add_ok(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_add_overflow(a, b, out);
}

static lc_status open_llama2c(lc_checkpoint *c, const char *path, lc_ckpt_err *e) {
  const void *addr;
  size_t len;
  LC_TRY(lc_ckpt_map_file(c, path, &addr, &len, e));
  if (len < 28)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: a llama2.c checkpoint starts with a 28-byte header (7 int32); "
                        "found a file of %zu bytes",
                        path, len);
  int32_t h[7];
  memcpy(h, addr, sizeof h);
  if ((uint32_t)h[0] == LC_LLAMA2C_MAGIC)
    return lc_ckpt_fail(e, LC_ERR_UNSUPPORTED,
                        "%s: llama2.c export version %d (magic \"ak42\") is not supported; "
                        "layercast reads the legacy version 0 export (export.py --version 0)",
                        path, (int)h[1]);
  const char *names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                          "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; i++) {
    if (i == 5 ? (h[i] == 0 || h[i] == INT32_MIN) : h[i] <= 0)
      return lc_ckpt_fail(e, LC_ERR_FORMAT,
                          "%s: llama2.c header field %s must be %s; found %d (header: dim %d, "
                          "hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, "
                          "seq_len %d)",
                          path, names[i], i == 5 ? "nonzero" : "positive", (int)h[i], (int)h[0],
                          (int)h[1], (int)h[2], (int)h[3], (int)h[4], (int)h[5], (int)h[6]);
  }
  int32_t dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv = h[4];
  int32_t vocab = h[5] < 0 ? -h[5] : h[5], seq_len = h[6];
  int tied = h[5] > 0;
  if (dim % n_heads != 0)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c header: n_heads %d must divide dim %d (found remainder %d)",
                        path, (int)n_heads, (int)dim, (int)(dim % n_heads));
  if (n_kv > n_heads || n_heads % n_kv != 0)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c header: n_kv_heads %d must divide n_heads %d", path,
                        (int)n_kv, (int)n_heads);
  int32_t head_dim = dim / n_heads;
  if (head_dim % 2 != 0)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c header: head_dim = dim / n_heads = %d must be even", path,
                        (int)head_dim);
  int64_t kv_dim = (int64_t)n_kv * head_dim;

  /* Element counts, each checked. */
  int64_t L = n_layers, D = dim, H = hidden, V = vocab, S = seq_len;
  int64_t n_embed, n_dd, n_kvd, n_hd, n_rope, per_layer, t1, t2, total;
  int ok = mul_ok(V, D, &n_embed) && mul_ok(D, D, &n_dd) && mul_ok(kv_dim, D, &n_kvd) &&
           mul_ok(H, D, &n_hd) && mul_ok(S, head_dim / 2, &n_rope);
  /* per layer: 2 norms, wq, wk, wv, wo, w1, w2, w3 */
  ok = ok && mul_ok(n_dd, 2, &t1) && mul_ok(n_kvd, 2, &t2) && add_ok(t1, t2, &per_layer) &&
       mul_ok(n_hd, 3, &t1) && add_ok(per_layer, t1, &per_layer) &&
       add_ok(per_layer, 2 * D, &per_layer);
  ok = ok && mul_ok(per_layer, L, &total) && add_ok(total, n_embed, &total) &&
       add_ok(total, D, &total) && mul_ok(n_rope, 2, &t1) && add_ok(total, t1, &total);
  if (ok && !tied) ok = add_ok(total, n_embed, &total);
  int64_t want_bytes = 0;
  ok = ok && mul_ok(total, 4, &want_bytes) && add_ok(want_bytes, 28, &want_bytes);
  if (!ok || (uint64_t)want_bytes > (uint64_t)SIZE_MAX)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                        "n_kv_heads %d, vocab_size %d, seq_len %d) describes a file too large to "
                        "exist (size overflows 64 bits); found %zu bytes",
                        path, (int)h[0], (int)h[1], (int)h[2], (int)h[3], (int)h[4], (int)h[5],
                        (int)h[6], len);
  if ((uint64_t)want_bytes != (uint64_t)len)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: llama2.c checkpoint (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                        "n_kv_heads %d, vocab_size %d %s, seq_len %d) must be exactly %lld bytes; "
                        "found %zu bytes (%s)",
                        path, (int)h[0], (int)h[1], (int)h[2], (int)h[3], (int)h[4], (int)h[5],
                        tied ? "(shared classifier)" : "(separate classifier wcls)", (int)h[6],
                        (long long)want_bytes, len,
                        (uint64_t)len < (uint64_t)want_bytes ? "truncated" : "trailing bytes");

  lc_model_config *g = &c->config;
  memset(g, 0, sizeof *g);
  g->arch = LC_ARCH_LLAMA;
  g->dim = dim;
  g->hidden_dim = hidden;
  g->n_layers = n_layers;
  g->n_heads = n_heads;
  g->n_kv_heads = n_kv;
  g->head_dim = head_dim;
  g->vocab_size = vocab;
  g->max_seq_len = seq_len;
  g->norm_eps = 1e-5f;
  g->rope_theta = 10000.0;
  g->rope_style = LC_ROPE_INTERLEAVED;
  g->tied_embeddings = tied;
  g->qkv_bias = 0;
  g->qk_norm = 0;
  g->bos_id = 1;
  g->eos_id = 2;

  const float *p = (const float *)((const char *)addr + 28);
  const float *embed = p;
  p += n_embed;
  const float *rms_att = p;
  p += L * D;
  const float *wq = p;
  p += L * n_dd;
  const float *wk = p;
  p += L * n_kvd;
  const float *wv = p;
  p += L * n_kvd;
  const float *wo = p;
  p += L * n_dd;
  const float *rms_ffn = p;
  p += L * D;
  const float *w1 = p;
  p += L * n_hd;
  const float *w2 = p;
  p += L * n_hd;
  const float *w3 = p;
  p += L * n_hd;
  const float *rms_final = p;
  p += D;
  p += 2 * n_rope;
  const float *wcls = tied ? NULL : p;

#define LC_ADD(nm, ptr, r, cc, nd)                 \
  do {                                             \
    lc_tensor_src t_;                              \
    memset(&t_, 0, sizeof t_);                     \
    snprintf(t_.name, sizeof t_.name, "%s", (nm)); \
    t_.dtype = LC_DTYPE_F32;                       \
    t_.ndim = (nd);                                \
    t_.shape[0] = (r);                             \
    t_.shape[1] = (cc);                            \
    t_.data = (ptr);                               \
    t_.bytes = (size_t)(r) * (size_t)(cc)*4u;      \
    LC_TRY(lc_ckpt_add_tensor(c, &t_, e));         \
  } while (0)
  char nm[128];
  LC_ADD("model.embed_tokens.weight", embed, V, D, 2);
  for (int64_t l = 0; l < L; l++) {
    snprintf(nm, sizeof nm, "model.layers.%lld.input_layernorm.weight", (long long)l);
    LC_ADD(nm, rms_att + l * D, D, 1, 1);
    snprintf(nm, sizeof nm, "model.layers.%lld.self_attn.q_proj.weight", (long long)l);
    LC_ADD(nm, wq + l * n_dd, D, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.self_attn.k_proj.weight", (long long)l);
    LC_ADD(nm, wk + l * n_kvd, kv_dim, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.self_attn.v_proj.weight", (long long)l);
    LC_ADD(nm, wv + l * n_kvd, kv_dim, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.self_attn.o_proj.weight", (long long)l);
    LC_ADD(nm, wo + l * n_dd, D, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.post_attention_layernorm.weight", (long long)l);
    LC_ADD(nm, rms_ffn + l * D, D, 1, 1);
    snprintf(nm, sizeof nm, "model.layers.%lld.mlp.gate_proj.weight", (long long)l);
    LC_ADD(nm, w1 + l * n_hd, H, D, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.mlp.down_proj.weight", (long long)l);
    LC_ADD(nm, w2 + l * n_hd, D, H, 2);
    snprintf(nm, sizeof nm, "model.layers.%lld.mlp.up_proj.weight", (long long)l);
    LC_ADD(nm, w3 + l * n_hd, H, D, 2);
  }
  LC_ADD("model.norm.weight", rms_final, D, 1, 1);
  if (!tied) LC_ADD("lm_head.weight", wcls, V, D, 2);
#undef LC_ADD
  return lc_ckpt_check_required(c, path, e);
}

/* ---- detection and the public calls ---------------------------------------*/

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* AUTO: a directory or *.json is Hugging Face; a file whose first bytes are a
 * safetensors header is refused (its config.json is needed); a file starting
 * with 7 plausible int32 (sizes 1 .. 2^24, vocab_size nonzero) is llama2.c,
 * whose validation then names anything inconsistent. */
static lc_status detect(const char *path, lc_model_format *fmt, lc_ckpt_err *e) {
  struct stat st;
  if (stat(path, &st) != 0)
    return lc_ckpt_fail(e, LC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode) || ends_with(path, ".json")) {
    *fmt = LC_FORMAT_HF;
    return LC_OK;
  }
  unsigned char b[28] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) return lc_ckpt_fail(e, LC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t got = fread(b, 1, sizeof b, f);
  fclose(f);
  if (got >= 9 && b[8] == '{') {
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n + 8 <= (uint64_t)st.st_size)
      return lc_ckpt_fail(e, LC_ERR_FORMAT,
                          "%s: this is a safetensors file; pass the Hugging Face model directory "
                          "(with its config.json) instead",
                          path);
  }
  int32_t h[7] = {0};
  memcpy(h, b, sizeof h);
  if (got >= 8 && (uint32_t)h[0] == LC_LLAMA2C_MAGIC) {
    *fmt = LC_FORMAT_LLAMA2C; /* open_llama2c names the version */
    return LC_OK;
  }
  const int32_t lim = 1 << 24;
  int plausible = got == sizeof b && h[5] != 0 && h[5] >= -lim && h[5] <= lim;
  for (int i = 0; i < 7 && plausible; i++)
    if (i != 5 && (h[i] < 1 || h[i] > lim)) plausible = 0;
  if (!plausible)
    return lc_ckpt_fail(e, LC_ERR_FORMAT,
                        "%s: not a recognised checkpoint: not a directory or a .json file "
                        "(Hugging Face), and not a llama2.c file (found %zu bytes%s; its 7-int32 "
                        "header would read dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                        "n_kv_heads %d, vocab_size %d, seq_len %d: expected sizes 1 .. 2^24); "
                        "pass the format explicitly to see the llama2.c checks",
                        path, (size_t)st.st_size, got < sizeof b ? ", shorter than the header" : "",
                        (int)h[0], (int)h[1], (int)h[2], (int)h[3], (int)h[4], (int)h[5],
                        (int)h[6]);
  *fmt = LC_FORMAT_LLAMA2C;
  return LC_OK;
}

lc_status lc_checkpoint_open(const char *path, lc_model_format format, lc_checkpoint **out,
                             char *err, size_t err_len) {
  /* The loaders read their own messages back (lib/ckpt_hf.c), so there is
   * always a buffer. */
  char local[1024];
  lc_ckpt_err e = {err, err_len};
  if (!err || err_len == 0) {
    e.buf = local;
    e.len = sizeof local;
  }
  e.buf[0] = '\0';
  if (!out) return lc_ckpt_fail(&e, LC_ERR_INVALID_ARGUMENT, "lc_checkpoint_open: out is NULL");
  *out = NULL;
  if (!path) return lc_ckpt_fail(&e, LC_ERR_INVALID_ARGUMENT, "lc_checkpoint_open: path is NULL");
  if (format != LC_FORMAT_AUTO && format != LC_FORMAT_LLAMA2C && format != LC_FORMAT_HF)
    return lc_ckpt_fail(&e, LC_ERR_INVALID_ARGUMENT,
                        "lc_checkpoint_open: unknown format %d (expected AUTO, LLAMA2C or HF)",
                        (int)format);
  if (format == LC_FORMAT_AUTO) LC_TRY(detect(path, &format, &e));
  lc_checkpoint *c = calloc(1, sizeof *c);
  if (!c) return lc_ckpt_fail(&e, LC_ERR_OUT_OF_MEMORY, "out of memory");
  c->format = format;
  lc_status st =
      format == LC_FORMAT_LLAMA2C ? open_llama2c(c, path, &e) : lc_ckpt_open_hf(c, path, &e);
  if (st != LC_OK) {
    lc_checkpoint_close(c);
    return st;
  }
  *out = c;
  return LC_OK;
}

void lc_checkpoint_close(lc_checkpoint *c) {
  if (!c) return;
  for (int64_t i = 0; i < c->n_maps; i++) munmap(c->maps[i].addr, c->maps[i].len);
  for (int64_t i = 0; i < c->n_copies; i++) free(c->copies[i]);
  free(c->maps);
  free(c->copies);
  free(c->tensors);
  free(c->inv_freq);
  free(c);
}

lc_model_format lc_checkpoint_format(const lc_checkpoint *c) {
  return c ? c->format : LC_FORMAT_AUTO;
}

const lc_model_config *lc_checkpoint_config(const lc_checkpoint *c) {
  return c ? &c->config : NULL;
}

const double *lc_checkpoint_inv_freq(const lc_checkpoint *c) {
  return c ? c->inv_freq : NULL;
}

const lc_tensor_src *lc_checkpoint_find(const lc_checkpoint *c, const char *name) {
  if (!c || !name) return NULL;
  for (int64_t i = 0; i < c->n_tensors; i++)
    if (strcmp(c->tensors[i].name, name) == 0) return &c->tensors[i];
  return NULL;
}

int64_t lc_checkpoint_n_tensors(const lc_checkpoint *c) {
  return c ? c->n_tensors : 0;
}

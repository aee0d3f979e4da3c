/*
 * lib/metrics.c — the reproducibility metrics of layercast_metrics.h, the
 * XXH3-128 output hashes and the environment fingerprint (jansson).
 * docs/metrics.md defines every quantity computed here.
 */
#define _POSIX_C_SOURCE 200809L /* gethostname, uname */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>

#include "layercast_metrics.h"
#include "lib/lc_internal.h"

int32_t lc_div_index(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
  if (na < 0 || !a) na = 0;
  if (nb < 0 || !b) nb = 0;
  int32_t n = na < nb ? na : nb;
  for (int32_t i = 0; i < n; i++)
    if (a[i] != b[i]) return i;
  return na == nb ? -1 : n;
}

int lc_answer_found(const int32_t *tokens, int32_t n, const int32_t *answer, int32_t n_answer) {
  if (n_answer <= 0 || !answer) return 1;
  if (!tokens || n < n_answer) return 0;
  for (int32_t i = 0; i + n_answer <= n; i++)
    if (memcmp(tokens + i, answer, (size_t)n_answer * sizeof *answer) == 0) return 1;
  return 0;
}

void lc_mean_std(const double *x, int64_t n, double *mean, double *std) {
  double m = 0.0, v = 0.0;
  if (x && n > 0) {
    /* two passes: the mean, then the squared deviations (no cancellation) */
    for (int64_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    v = sqrt(v / (double)n);
  }
  if (mean) *mean = m;
  if (std) *std = v;
}

static int same_tokens(const lc_run_output *a, const lc_run_output *b) {
  return a->n_tokens == b->n_tokens &&
         (a->n_tokens == 0 ||
          memcmp(a->tokens, b->tokens, (size_t)a->n_tokens * sizeof *a->tokens) == 0);
}

lc_status lc_prompt_metrics_compute(const lc_run_output *runs, int32_t n_runs,
                                    const int32_t *answer, int32_t n_answer,
                                    lc_prompt_metrics *out) {
  if (!runs || !out || n_runs < 1)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "lc_prompt_metrics_compute: need runs, out and n_runs >= 1 (got n_runs %d)",
                   (int)n_runs);
  int have_top1 = 1;
  int32_t min_len = INT32_MAX;
  for (int32_t r = 0; r < n_runs; r++) {
    if (runs[r].n_tokens < 0 || (runs[r].n_tokens > 0 && !runs[r].tokens))
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                     "lc_prompt_metrics_compute: run %d has n_tokens %d and tokens %s", (int)r,
                     (int)runs[r].n_tokens, runs[r].tokens ? "set" : "NULL");
    if (!runs[r].top1_prob && runs[r].n_tokens > 0) have_top1 = 0;
    if (runs[r].n_tokens < min_len) min_len = runs[r].n_tokens;
  }
  double *buf = lc_malloc((size_t)n_runs * sizeof *buf);
  if (!buf)
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_prompt_metrics_compute: %d doubles",
                   (int)n_runs);
  lc_prompt_metrics m;
  memset(&m, 0, sizeof m);
  m.n_runs = n_runs;
  /* unique outputs: a run is new if no earlier run has the same tokens */
  for (int32_t r = 0; r < n_runs; r++) {
    int seen = 0;
    for (int32_t q = 0; q < r && !seen; q++) seen = same_tokens(&runs[q], &runs[r]);
    if (!seen) m.n_unique++;
  }
  /* Div_Index: min over r of div(run 0, run r); equal to the min over all
   * pairs (docs/metrics.md), -1 counting as +infinity */
  m.div_index = -1;
  for (int32_t r = 1; r < n_runs; r++) {
    int32_t d = lc_div_index(runs[0].tokens, runs[0].n_tokens, runs[r].tokens, runs[r].n_tokens);
    if (d >= 0 && (m.div_index < 0 || d < m.div_index)) m.div_index = d;
  }
  for (int32_t r = 0; r < n_runs; r++) buf[r] = (double)runs[r].n_tokens;
  lc_mean_std(buf, n_runs, &m.len_mean, &m.len_std);
  /* Avg_Std@top1_prob: positions 0 .. min_len-1, population std across runs */
  m.top1_positions = min_len;
  if (!have_top1) {
    m.avg_std_top1 = NAN;
  } else {
    double acc = 0.0;
    for (int32_t i = 0; i < min_len; i++) {
      double s;
      for (int32_t r = 0; r < n_runs; r++) buf[r] = (double)runs[r].top1_prob[i];
      lc_mean_std(buf, n_runs, NULL, &s);
      acc += s;
    }
    m.avg_std_top1 = min_len > 0 ? acc / (double)min_len : 0.0;
  }
  m.n_correct = -1;
  if (answer) {
    m.n_correct = 0;
    for (int32_t r = 0; r < n_runs; r++)
      m.n_correct += lc_answer_found(runs[r].tokens, runs[r].n_tokens, answer, n_answer);
  }
  free(buf);
  *out = m;
  return LC_OK;
}

lc_status lc_group_metrics_compute(const lc_prompt_metrics *pm, int32_t n_prompts, int32_t n_runs,
                                   const uint8_t *correct, const uint8_t *has_answer,
                                   lc_group_metrics *out) {
  if (!pm || !out || n_prompts < 1 || n_runs < 1)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "lc_group_metrics_compute: need pm, out, n_prompts >= 1 and n_runs >= 1 "
                   "(got %d prompts, %d runs)",
                   (int)n_prompts, (int)n_runs);
  for (int32_t p = 0; p < n_prompts; p++)
    if (pm[p].n_runs != n_runs)
      return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                     "lc_group_metrics_compute: prompt %d has %d runs, expected %d", (int)p,
                     (int)pm[p].n_runs, (int)n_runs);
  lc_group_metrics g;
  memset(&g, 0, sizeof g);
  g.n_prompts = n_prompts;
  g.n_runs = n_runs;
  g.div_index_min = -1;
  int32_t n_div = 0;
  double div_sum = 0.0, uniq = 0.0, top1 = 0.0, lstd = 0.0;
  for (int32_t p = 0; p < n_prompts; p++) {
    uniq += pm[p].n_unique;
    if (pm[p].n_unique > g.unique_max) g.unique_max = pm[p].n_unique;
    if (pm[p].n_unique > 1) n_div++;
    if (pm[p].div_index >= 0) {
      div_sum += pm[p].div_index;
      if (g.div_index_min < 0 || pm[p].div_index < g.div_index_min)
        g.div_index_min = pm[p].div_index;
    }
    top1 += pm[p].avg_std_top1;
    lstd += pm[p].len_std;
  }
  g.unique_mean = uniq / n_prompts;
  g.div_percent = 100.0 * n_div / n_prompts;
  g.div_index_mean = n_div > 0 ? div_sum / n_div : NAN;
  g.avg_std_top1 = top1 / n_prompts;
  g.len_std_mean = lstd / n_prompts;
  g.acc_mean = NAN;
  g.std_at_acc = NAN;
  if (correct) {
    int32_t answered = 0;
    for (int32_t p = 0; p < n_prompts; p++) answered += (!has_answer || has_answer[p]) ? 1 : 0;
    if (answered > 0) {
      double *acc = lc_malloc((size_t)n_runs * sizeof *acc);
      if (!acc)
        return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_group_metrics_compute: %d doubles",
                       (int)n_runs);
      for (int32_t r = 0; r < n_runs; r++) {
        int32_t c = 0;
        for (int32_t p = 0; p < n_prompts; p++)
          if (!has_answer || has_answer[p]) c += correct[(size_t)p * (size_t)n_runs + r] ? 1 : 0;
        acc[r] = (double)c / answered;
      }
      lc_mean_std(acc, n_runs, &g.acc_mean, &g.std_at_acc);
      free(acc);
    }
  }
  *out = g;
  return LC_OK;
}

/* ---- hashes ------------------------------------------------------------- */

static void hash_hex(XXH128_hash_t h, char hex[LC_HASH_HEX_LEN]) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    hex[2 * i] = digits[c.digest[i] >> 4];
    hex[2 * i + 1] = digits[c.digest[i] & 15];
  }
  hex[32] = '\0';
}

struct lc_hasher {
  XXH3_state_t *st;
};

lc_hasher *lc_hasher_new(void) {
  lc_hasher *h = lc_malloc(sizeof *h);
  if (!h) return NULL;
  h->st = XXH3_createState();
  if (!h->st) {
    free(h);
    return NULL;
  }
  XXH3_128bits_reset(h->st);
  return h;
}

void lc_hasher_update(lc_hasher *h, const void *data, size_t n) {
  if (n) XXH3_128bits_update(h->st, data, n);
}

void lc_hasher_u64(lc_hasher *h, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
  XXH3_128bits_update(h->st, b, sizeof b);
}

void lc_hasher_hex(const lc_hasher *h, char hex[LC_HASH_HEX_LEN]) {
  hash_hex(XXH3_128bits_digest(h->st), hex);
}

void lc_hasher_free(lc_hasher *h) {
  if (!h) return;
  XXH3_freeState(h->st);
  free(h);
}

/* Hashes n 32-bit words as little-endian bytes, streaming through a small
 * buffer so that big-endian hosts give the same hash. */
static lc_status hash_words(const uint32_t *w, int64_t n, char hex[LC_HASH_HEX_LEN],
                            const char *fn) {
  if (!hex || n < 0 || (n > 0 && !w))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: need hex, n >= 0 and data (n = %lld)", fn,
                   (long long)n);
  XXH3_state_t *st = XXH3_createState();
  if (!st) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: XXH3_createState failed", fn);
  XXH3_128bits_reset(st);
  unsigned char buf[4096];
  int64_t i = 0;
  while (i < n) {
    int64_t k = n - i < 1024 ? n - i : 1024;
    for (int64_t j = 0; j < k; j++) {
      uint32_t v = w[i + j];
      buf[4 * j] = (unsigned char)(v & 0xFF);
      buf[4 * j + 1] = (unsigned char)((v >> 8) & 0xFF);
      buf[4 * j + 2] = (unsigned char)((v >> 16) & 0xFF);
      buf[4 * j + 3] = (unsigned char)(v >> 24);
    }
    XXH3_128bits_update(st, buf, (size_t)(4 * k));
    i += k;
  }
  hash_hex(XXH3_128bits_digest(st), hex);
  XXH3_freeState(st);
  return LC_OK;
}

lc_status lc_hash_tokens(const int32_t *tokens, int64_t n, char hex[LC_HASH_HEX_LEN]) {
  /* int32_t and uint32_t share their representation (C11 6.2.5p6) */
  return hash_words((const uint32_t *)(const void *)tokens, n, hex, "lc_hash_tokens");
}

lc_status lc_hash_f32_bits(const float *v, int64_t n, char hex[LC_HASH_HEX_LEN]) {
  _Static_assert(sizeof(float) == sizeof(uint32_t), "binary32 floats");
  if (!hex || n < 0 || (n > 0 && !v))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "lc_hash_f32_bits: need hex, n >= 0 and data (n = %lld)", (long long)n);
  /* copy the bits through memcpy (no aliasing of float as uint32_t) */
  uint32_t *w = lc_malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
  if (!w) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_hash_f32_bits: %lld words", (long long)n);
  if (n > 0) memcpy(w, v, (size_t)n * sizeof *w);
  lc_status st = hash_words(w, n, hex, "lc_hash_f32_bits");
  free(w);
  return st;
}

/* ---- fingerprint -------------------------------------------------------- */

/* json_object_set_new that remembers a failure (NULL value or set error). */
static void jset(json_t *o, const char *k, json_t *v, int *bad) {
  if (!v || json_object_set_new(o, k, v) != 0) *bad = 1;
}

lc_status lc_env_fingerprint_json(const lc_context *ctx, char **json) {
  if (!ctx || !json)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_env_fingerprint_json: ctx and json needed");
  *json = NULL;
  lc_device_info di;
  lc_status st = lc_context_get_device_info(ctx, &di);
  if (st != LC_OK) return st;
  lc_canon_info ci;
  lc_canon_get_info(&ci);
  int bad = 0;
  json_t *root = json_object(), *lib = json_object(), *canon = json_object(), *dev = json_object(),
         *host = json_object();
  if (!root || !lib || !canon || !dev || !host) bad = 1;
  if (!bad) {
    jset(lib, "version", json_string(lc_version_string()), &bad);
    jset(lib, "version_number", json_integer(lc_version_number()), &bad);
    jset(canon, "version", json_integer(ci.version), &bad);
    jset(canon, "matmul_seg_len", json_integer(ci.matmul_seg_len), &bad);
    jset(canon, "attn_partition", json_integer(ci.attn_partition), &bad);
    jset(canon, "reduce_lanes", json_integer(ci.reduce_lanes), &bad);
    jset(canon, "max_head_dim", json_integer(ci.max_head_dim), &bad);
    char cc[32];
    snprintf(cc, sizeof cc, "%d.%d", di.cc_major, di.cc_minor);
    di.name[sizeof di.name - 1] = '\0';
    di.blas[sizeof di.blas - 1] = '\0';
    jset(dev, "name", json_string(di.name), &bad);
    jset(dev, "index", json_integer(di.device), &bad);
    jset(dev, "cc", json_string(cc), &bad);
    jset(dev, "n_sm", json_integer(di.n_sm), &bad);
    jset(dev, "global_bytes", json_integer((json_int_t)di.global_bytes), &bad);
    jset(dev, "driver_version", json_integer(di.driver_version), &bad);
    jset(dev, "runtime_version", json_integer(di.runtime_version), &bad);
    jset(dev, "cublaslt_version", json_integer(di.cublaslt_version), &bad);
    jset(dev, "blas", json_string(di.blas), &bad);
    char hn[256];
    if (gethostname(hn, sizeof hn) != 0) snprintf(hn, sizeof hn, "unknown");
    hn[sizeof hn - 1] = '\0';
    struct utsname u;
    int have_u = uname(&u) == 0;
    jset(host, "hostname", json_stringn(hn, strnlen(hn, sizeof hn)), &bad);
    jset(host, "os", json_string(have_u ? u.sysname : "unknown"), &bad);
    jset(host, "os_release", json_string(have_u ? u.release : "unknown"), &bad);
    jset(host, "os_version", json_string(have_u ? u.version : "unknown"), &bad);
    jset(host, "machine", json_string(have_u ? u.machine : "unknown"), &bad);
  }
  /* json_object_set_new takes the reference even on failure */
  if (!bad) {
    jset(root, "library", lib, &bad);
    lib = NULL;
    jset(root, "canon", canon, &bad);
    canon = NULL;
    jset(root, "backend", json_string(lc_backend_name(di.backend)), &bad);
    jset(root, "mode", json_string(lc_mode_name(lc_context_mode(ctx))), &bad);
    jset(root, "device", dev, &bad);
    dev = NULL;
    jset(root, "host", host, &bad);
    host = NULL;
  }
  char *text = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(root);
  json_decref(lib);
  json_decref(canon);
  json_decref(dev);
  json_decref(host);
  if (!text)
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY,
                   "lc_env_fingerprint_json: building the JSON failed (out of memory, or a "
                   "device or host string is not UTF-8)");
  /* copy into malloc'ed memory so that lc_string_free is always free(),
   * whatever allocator the program gave jansson */
  size_t len = strlen(text);
  char *copy = lc_malloc(len + 1);
  if (copy) memcpy(copy, text, len + 1);
  json_malloc_t jmalloc;
  json_free_t jfree;
  json_get_alloc_funcs(&jmalloc, &jfree);
  jfree(text);
  if (!copy) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_env_fingerprint_json: %zu bytes", len);
  *json = copy;
  return LC_OK;
}

void lc_string_free(char *s) {
  free(s);
}

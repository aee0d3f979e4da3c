/* tests/test_util.c — see test_util.h. */
#define _XOPEN_SOURCE 700 /* clock_gettime, mkdtemp, nftw */

#include "test_util.h"

#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cast/lc_cast.h"
#include "layercast_model.h"
#include "lib/bounds.h"

lct_rng lct_rng_new(uint64_t seed) {
  lct_rng r = {seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull};
  return r;
}

uint64_t lct_next(lct_rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double lct_uniform(lct_rng *r) {
  return (double)(lct_next(r) >> 11) * 0x1p-53;
}

float lct_uniformf(lct_rng *r, float lo, float hi) {
  return (float)(lo + (hi - lo) * lct_uniform(r));
}

int64_t lct_range(lct_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)(lct_next(r) % (uint64_t)(hi - lo + 1));
}

float lct_normalf(lct_rng *r) {
  double u1 = lct_uniform(r), u2 = lct_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float lct_any_finite(lct_rng *r) {
  for (;;) {
    float f = lc_f32_from_bits((uint32_t)lct_next(r));
    if (isfinite(f)) return f;
  }
}

float lct_any_bits(lct_rng *r) {
  return lc_f32_from_bits((uint32_t)lct_next(r));
}

void *lct_malloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  assert_non_null(p);
  return p;
}

float *lct_alloc_f(int64_t n) {
  float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  assert_non_null(p);
  return p;
}

double *lct_alloc_d(int64_t n) {
  double *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  assert_non_null(p);
  return p;
}

float *lct_malloc_f(int64_t n) {
  return lct_malloc((size_t)n * sizeof(float));
}

float *lct_randn(lct_rng *r, int64_t n, float scale) {
  float *v = lct_malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = scale * lct_normalf(r);
  return v;
}

float *lct_rand_uniform(lct_rng *r, int64_t n, float lo, float hi) {
  float *v = lct_malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = lct_uniformf(r, lo, hi);
  return v;
}

uint16_t *lct_rand_bf16(lct_rng *r, int64_t n, float scale) {
  uint16_t *v = lct_malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = lc_f32_to_bf16(scale * lct_normalf(r));
  return v;
}

static const char *const poison_names[LCT_POISON_KINDS] = {"NaN",    "+Inf",      "-Inf",
                                                           "+-3e38", "subnormal", "mixed"};

const char *lct_poison_name(int kind) {
  return poison_names[((kind % LCT_POISON_KINDS) + LCT_POISON_KINDS) % LCT_POISON_KINDS];
}

void lct_fill_poison(float *v, int64_t n, int kind, lct_rng *r) {
  static const float specials[] = {NAN, INFINITY, -INFINITY, 3e38f, -3e38f, 1e-40f, -1e-45f};
  kind %= LCT_POISON_KINDS;
  for (int64_t i = 0; i < n; i++) {
    switch (kind) {
      case 0:
        v[i] = NAN;
        break;
      case 1:
        v[i] = INFINITY;
        break;
      case 2:
        v[i] = -INFINITY;
        break;
      case 3:
        v[i] = (lct_next(r) & 1) ? 3e38f : -3e38f;
        break;
      case 4:
        v[i] = lc_f32_from_bits((uint32_t)(lct_next(r) & 0x807FFFFFu));
        break;
      default:
        v[i] = specials[lct_next(r) % (sizeof specials / sizeof specials[0])];
        break;
    }
  }
}

static lc_context *context_new(lc_backend backend, const char *name, lc_mode mode) {
  lc_context_params p;
  lc_context_params_default(&p);
  p.backend = backend;
  p.mode = mode;
  lc_context *ctx = NULL;
  lc_status st = lc_context_create(&p, &ctx);
  if (st != LC_OK)
    fail_msg("lc_context_create(%s, %s): %s: %s", name, lc_mode_name(mode), lc_status_name(st),
             lc_last_error(NULL));
  return ctx;
}

lc_context *lct_cpu(lc_mode mode) {
  return context_new(LC_BACKEND_CPU, "cpu", mode);
}

lc_context *lct_cuda(lc_mode mode) {
  return context_new(LC_BACKEND_CUDA, "cuda", mode);
}

int lct_have_cuda(void) {
  lc_context_params p;
  lc_context_params_default(&p);
  p.backend = LC_BACKEND_CUDA;
  lc_context *ctx = NULL;
  if (lc_context_create(&p, &ctx) != LC_OK) return 0;
  lc_context_free(ctx);
  return 1;
}

int lct_sanitize(void) {
  const char *e = getenv("LCT_SANITIZE");
  return e && *e && strcmp(e, "0") != 0;
}

int lct_skip_vendor_bf16(const char *what) {
  const char *e = getenv("LCT_SKIP_VENDOR_BF16");
  if (!(e && *e && strcmp(e, "0") != 0)) return 0;
  printf("  %s: vendor-bf16 left out (LCT_SKIP_VENDOR_BF16)\n", what);
  return 1;
}

int lct_thin(void) {
  const long dflt = lct_sanitize() ? 50 : 1;
  const char *e = getenv("LCT_THIN");
  long v = e && *e ? strtol(e, NULL, 10) : dflt;
  return v >= 1 && v <= 1000 ? (int)v : dflt;
}

const char *lct_profile_note(void) {
  return lct_sanitize() ? " [sanitize profile]" : "";
}

void lct_gpu_main_begin(void) {
  const char *filter = getenv("LCT_FILTER");
  if (filter && *filter) cmocka_set_test_filter(filter);
  if (lct_sanitize())
    printf(
        "LCT_SANITIZE: the sanitize profile: every test, small shapes, few cases (LCT_THIN=%d)\n",
        lct_thin());
}

double lct_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

float lct_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

float lct_canon(float v) {
  if (v != v) {
    uint32_t u = 0x7FC00000u;
    memcpy(&v, &u, sizeof v);
  }
  return v;
}

lc_attn_shape lct_attn_shape(int h, int g, int d, int max_len, int n_slots) {
  lc_attn_shape sh;
  sh.n_heads = h;
  sh.n_kv_heads = g;
  sh.head_dim = d;
  sh.max_len = max_len;
  sh.n_slots = n_slots;
  sh.scale = lc_attn_default_scale(d);
  sh.kv_dtype = LC_DTYPE_F32;
  return sh;
}

int64_t lct_attn_row_elems(const lc_attn_shape *sh) {
  return (int64_t)sh->n_heads * sh->head_dim;
}

int64_t lct_attn_kv_row_elems(const lc_attn_shape *sh) {
  return (int64_t)sh->n_kv_heads * sh->head_dim;
}

int64_t lct_attn_total_rows(const lc_attn_seq *seqs, int64_t n) {
  int64_t t = 0;
  for (int64_t i = 0; i < n; i++) t += seqs[i].n_q;
  return t;
}

const char *lct_models_dir(void) {
  const char *d = getenv("LC_MODELS_DIR");
  return (d && *d) ? d : LC_SOURCE_DIR "/../shared/models";
}

void lct_assert_bitwise_f32(const float *got, const float *ref, int64_t n, const char *what) {
  if (memcmp(got, ref, (size_t)n * sizeof(float)) == 0) return;
  for (int64_t i = 0; i < n; i++) {
    if (lc_f32_bits(got[i]) != lc_f32_bits(ref[i])) {
      fail_msg("%s: not bitwise equal: first difference at [%" PRId64
               "]: ref %.9g (0x%08X) got %.9g "
               "(0x%08X), %" PRIu64 " ulp",
               what, i, (double)ref[i], lc_f32_bits(ref[i]), (double)got[i], lc_f32_bits(got[i]),
               lc_ulp_distance_f32(got[i], ref[i]));
    }
  }
}

static uint64_t ulp_vs_double(float got, double ref) {
  return lc_ulp_distance_f32(got, (float)ref);
}

void lct_assert_within(const float *got, const double *ref, const double *tol, int64_t n,
                       const char *what) {
  int64_t worst;
  const double worst_ratio = lc_bound_worst_ratio(got, ref, tol, n, &worst);
  if (worst < 0 || worst_ratio <= 1.0) return;
  const double g = got[worst], r = ref[worst];
  if (isnan(r) || isnan(g))
    fail_msg("%s: [%" PRId64 "] ref %.17g got %.9g: NaN on one side only", what, worst, r, g);
  if (isinf(r) || isinf(g))
    fail_msg("%s: [%" PRId64 "] ref %.17g got %.9g: Inf on one side only", what, worst, r, g);
  fail_msg("%s: out of tolerance at [%" PRId64 "] of %" PRId64
           ": ref %.17g got %.9g abs %.3g tol %.3g "
           "(%.2fx) %" PRIu64 " ulp",
           what, worst, n, r, g, fabs(g - r), tol[worst], worst_ratio,
           ulp_vs_double(got[worst], r));
}

void lct_assert_close(const float *got, const double *ref, int64_t n, double atol, double rtol,
                      const char *what) {
  double *tol = lct_malloc((size_t)(n ? n : 1) * sizeof *tol);
  for (int64_t i = 0; i < n; i++) tol[i] = atol + rtol * fabs(ref[i]);
  lct_assert_within(got, ref, tol, n, what);
  free(tol);
}

void lct_tmpdir_make(char *buf, size_t len, const char *tag) {
  int n = snprintf(buf, len, "/tmp/lc_test_%s_XXXXXX", tag);
  if (n < 0 || (size_t)n >= len) fail_msg("lct_tmpdir_make: buffer too small for tag '%s'", tag);
  if (!mkdtemp(buf)) fail_msg("lct_tmpdir_make: mkdtemp(%s) failed", buf);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

int lct_tmpdir_remove(const char *dir) {
  if (!dir || !dir[0]) return 0;
  return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void lct_synth_tiny(const char *dir, uint64_t seed, lc_dtype dtype, int32_t n_shards,
                    int32_t max_seq) {
  lct_synth_tiny_vocab(dir, seed, dtype, n_shards, max_seq, 64);
}

void lct_synth_tiny_vocab(const char *dir, uint64_t seed, lc_dtype dtype, int32_t n_shards,
                          int32_t max_seq, int32_t vocab) {
  lc_synth_params p;
  lc_synth_params_default(&p);
  p.config.dim = 32;
  p.config.hidden_dim = 48;
  p.config.n_layers = 2;
  p.config.n_heads = 4;
  p.config.n_kv_heads = 2;
  p.config.head_dim = 8;
  p.config.vocab_size = vocab;
  p.config.max_seq_len = max_seq;
  p.seed = seed;
  p.dtype = dtype;
  p.n_shards = n_shards;
  lc_status st = lc_synth_write(dir, &p);
  if (st != LC_OK) fail_msg("lc_synth_write: %s: %s", lc_status_name(st), lc_last_error(NULL));
}

void *lct_dev_alloc(lc_context *ctx, size_t bytes) {
  void *d = NULL;
  if (lc_buffer_alloc(ctx, bytes ? bytes : 4, &d) != LC_OK)
    fail_msg("lc_buffer_alloc(%zu): %s", bytes, lc_last_error(ctx));
  return d;
}

void lct_dev_write(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  if (lc_buffer_write(ctx, dst, src, bytes) != LC_OK)
    fail_msg("lc_buffer_write: %s", lc_last_error(ctx));
}

void lct_dev_read(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  if (lc_buffer_read(ctx, dst, src, bytes) != LC_OK)
    fail_msg("lc_buffer_read: %s", lc_last_error(ctx));
}

lc_weights *lct_weights_bf16(lc_context *ctx, int64_t rows, int64_t cols, const uint16_t *bits) {
  lc_weights *w = NULL;
  if (lc_weights_create(ctx, rows, cols, LC_DTYPE_BF16, bits, &w) != LC_OK)
    fail_msg("lc_weights_create(%lld x %lld): %s", (long long)rows, (long long)cols,
             lc_last_error(ctx));
  return w;
}

double lct_normwise(const float *y, const double *ref, int64_t n) {
  double e = 0, r = 0;
  for (int64_t i = 0; i < n; i++) {
    e += ((double)y[i] - ref[i]) * ((double)y[i] - ref[i]);
    r += ref[i] * ref[i];
  }
  return sqrt(e / r);
}

uint64_t lct_mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void lct_write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) fail_msg("cannot write %s", path);
  if (n && fwrite(data, 1, n, f) != n) fail_msg("writing %s failed", path);
  if (fclose(f) != 0) fail_msg("writing %s failed", path);
}

unsigned char *lct_read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot read %s", path);
  long len = -1;
  if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
  if (len < 0 || fseek(f, 0, SEEK_SET) != 0) fail_msg("cannot size %s", path);
  unsigned char *p = lct_malloc((size_t)len + 1);
  if (len && fread(p, 1, (size_t)len, f) != (size_t)len) fail_msg("reading %s failed", path);
  fclose(f);
  p[len] = 0;
  *n = (size_t)len;
  return p;
}

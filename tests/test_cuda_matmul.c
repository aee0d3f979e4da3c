/*
 * tests/test_cuda_matmul.c — the CUDA strict matmul (kernels/matmul.cu) on a
 * real GPU: bitwise equal to the CPU strict backend on awkward and model
 * shapes, on both kernel paths (decode, tiled) and AUTO; bitwise batch
 * invariant on the GPU (a probe row at many positions in batches of 1..4096
 * rows, next to random or poisoned rows); the two paths equal on the same
 * rows; run-to-run and two-stream determinism; NaN/Inf/subnormal inputs; an
 * exact workspace and no write outside y.  Without a GPU (or without CUDA in
 * the build) every test reports skipped and the binary exits 77.
 *
 * CPU references are computed once per shape (for the most rows any check
 * uses; rows are independent, so a prefix of the reference is the reference
 * of the prefix) and, for the large shapes, in parallel over column slices
 * (each thread its own CPU strict context and weight slice): the CPU strict
 * matmul runs at ~4 GFLOP/s at M = 1 and ~50 GFLOP/s at M = 64 per core.
 * Each test prints one summary line: what it checked and how many.
 *
 * Under LCT_SANITIZE (tests/test_util.h) every test runs on the shorter
 * lists marked "sanitize" below: every path (decode's streaming kernel at
 * each of its row counts 1, 2, 4, 8, 16 and its split-K kernel, with and
 * without 16-byte loads; tiled split by segment and whole-k, with and without
 * vector loads; the combine), a few M per shape, 1024 x 1024 instead of 4096
 * x 4096, two repetitions.  Not covered then: the decode path's row slices
 * (a workspace past 256 MiB: the vocabulary projection at M = 64).
 */
#define _POSIX_C_SOURCE 200809L

#include "test_util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cast/lc_cast.h"
#include "lib/lc_internal.h"
#if defined(LC_HAVE_CUDA)
#include "kernels/lc_kernels.h"
#endif

enum { P_AUTO = 0, P_DECODE = 1, P_TILED = 2, N_PATHS = 3 };
static const char *const path_name[N_PATHS] = {"auto", "decode", "tiled"};

static int have_gpu;

/* ---- small utilities --------------------------------------------------------*/

static void *xmalloc_(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) fail_msg("out of host memory (%zu bytes)", bytes);
  return p;
}

static int n_threads(void) {
  long c = sysconf(_SC_NPROCESSORS_ONLN);
  if (c < 1) c = 1;
  if (c > 16) c = 16;
  return (int)c;
}

/* Counter-based random values (lct_mix64 of seed and index), so large arrays
 * fill in parallel and the same (seed, i) always gives the same value:
 * uniform in [-1, 1). */
static float hash_uniform(uint64_t seed, int64_t i) {
  uint64_t h = lct_mix64(seed * 0x632BE59BD9B4E019ull + (uint64_t)i);
  return (float)((double)(h >> 40) * 0x1p-23 - 1.0);
}

typedef struct fill_job {
  void *dst;
  int64_t lo, hi;
  uint64_t seed;
  float scale;
  int bf16;
} fill_job;

static void *fill_worker(void *arg) {
  fill_job *j = arg;
  if (j->bf16) {
    uint16_t *w = j->dst;
    for (int64_t i = j->lo; i < j->hi; i++)
      w[i] = lc_f32_to_bf16(j->scale * hash_uniform(j->seed, i));
  } else {
    float *x = j->dst;
    for (int64_t i = j->lo; i < j->hi; i++) x[i] = j->scale * hash_uniform(j->seed, i);
  }
  return NULL;
}

/* dst[i] = scale * uniform(-1, 1), as bf16 bits or fp32, i < n; threads for big n. */
static void fill_random(void *dst, int64_t n, uint64_t seed, float scale, int bf16) {
  int nt = n > ((int64_t)1 << 22) ? n_threads() : 1;
  pthread_t th[16];
  fill_job jobs[16];
  for (int t = 0; t < nt; t++) {
    jobs[t] = (fill_job){dst, n * t / nt, n * (t + 1) / nt, seed, scale, bf16};
    if (nt == 1) {
      fill_worker(&jobs[t]);
    } else if (pthread_create(&th[t], NULL, fill_worker, &jobs[t]) != 0) {
      fail_msg("pthread_create failed");
    }
  }
  if (nt > 1)
    for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
}

static uint16_t *rand_bf16(int64_t n, uint64_t seed, float scale) {
  uint16_t *w = xmalloc_((size_t)n * sizeof *w);
  fill_random(w, n, seed, scale, 1);
  return w;
}
static float *rand_f32(int64_t n, uint64_t seed, float scale) {
  float *x = xmalloc_((size_t)n * sizeof *x);
  fill_random(x, n, seed, scale, 0);
  return x;
}

/* ---- the CPU strict reference ----------------------------------------------*/

typedef struct ref_job {
  const float *x;
  int64_t m, k;
  const uint16_t *w; /* [n][k] bf16 bits, whole matrix */
  int64_t n;
  const uint16_t *bias; /* [n] or NULL */
  float *y;             /* [m][n] */
  int64_t n0, n1;       /* this job's columns */
  lc_status st;
  char msg[LC_ERR_LEN];
} ref_job;

/* Columns n0..n1-1 of y through the public API on a CPU strict context of its
 * own: W rows n0..n1-1 are a [n1-n0][k] weight of their own. */
static void *ref_worker(void *arg) {
  ref_job *j = arg;
  const int64_t cols = j->n1 - j->n0;
  lc_context_params p;
  lc_context_params_default(&p);
  lc_context *ctx = NULL;
  lc_weights *w = NULL, *b = NULL;
  float *ys = NULL;
  j->st = lc_context_create(&p, &ctx);
  if (j->st == LC_OK)
    j->st = lc_weights_create(ctx, cols, j->k, LC_DTYPE_BF16, j->w + j->n0 * j->k, &w);
  if (j->st == LC_OK && j->bias)
    j->st = lc_weights_create(ctx, 1, cols, LC_DTYPE_BF16, j->bias + j->n0, &b);
  if (j->st == LC_OK) {
    ys = malloc((size_t)(j->m * cols) * sizeof *ys);
    if (!ys) j->st = LC_ERR_OUT_OF_MEMORY;
  }
  if (j->st == LC_OK) j->st = lc_matmul(ctx, j->x, j->m, w, b, ys);
  if (j->st == LC_OK) {
    for (int64_t r = 0; r < j->m; r++)
      memcpy(j->y + r * j->n + j->n0, ys + r * cols, (size_t)cols * sizeof(float));
  } else {
    snprintf(j->msg, sizeof j->msg, "%s", ctx ? lc_last_error(ctx) : lc_last_error(NULL));
  }
  free(ys);
  lc_weights_free(b);
  lc_weights_free(w);
  lc_context_free(ctx);
  return NULL;
}

/* y[m][n] = CPU strict matmul; column slices on several threads when large. */
static void cpu_ref(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                    const uint16_t *bias, float *y) {
  int nt = (double)m * (double)n * (double)k > 3e7 ? n_threads() : 1;
  if (nt > n / 16) nt = n / 16 > 0 ? (int)(n / 16) : 1;
  ref_job *jobs = xmalloc_((size_t)nt * sizeof *jobs);
  pthread_t th[16];
  for (int t = 0; t < nt; t++) {
    /* slice edges on multiples of 16 (the CPU kernel's column block) */
    int64_t n0 = (n * t / nt) / 16 * 16, n1 = t + 1 == nt ? n : (n * (t + 1) / nt) / 16 * 16;
    jobs[t] = (ref_job){x, m, k, w, n, bias, y, n0, n1, LC_OK, {0}};
    if (nt == 1) {
      ref_worker(&jobs[t]);
    } else if (pthread_create(&th[t], NULL, ref_worker, &jobs[t]) != 0) {
      fail_msg("pthread_create failed");
    }
  }
  if (nt > 1)
    for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < nt; t++)
    if (jobs[t].st != LC_OK)
      fail_msg("CPU reference [%lld][%lld] x [%lld]: %s: %s", (long long)m, (long long)k,
               (long long)n, lc_status_name(jobs[t].st), jobs[t].msg);
  free(jobs);
}

/* ---- GPU helpers ----------------------------------------------------------*/

static lc_context *gpu_ctx(void) {
  lc_context_params p;
  lc_context_params_default(&p);
  p.backend = LC_BACKEND_CUDA;
  lc_context *ctx = NULL;
  lc_status st = lc_context_create(&p, &ctx);
  if (st != LC_OK) fail_msg("lc_context_create(cuda): %s", lc_last_error(NULL));
  return ctx;
}

/* Host buffer of 0xFF bytes (a NaN no strict op writes: canonical is 0x7FC00000)
 * used to poison device outputs before each call. */
static unsigned char *poison_host;
static size_t poison_bytes;
static void poison_dev(lc_context *g, void *d, size_t bytes) {
  if (bytes > poison_bytes) {
    free(poison_host);
    poison_host = xmalloc_(bytes);
    memset(poison_host, 0xFF, bytes);
    poison_bytes = bytes;
  }
  lct_dev_write(g, d, poison_host, bytes);
}

/* yd (device, poisoned first) = x W^T (+ b) on `path`; out (host) = the m x n result. */
static void gpu_run(lc_context *g, const float *xd, int64_t m, const lc_weights *wg,
                    const lc_weights *bg, float *yd, int path, float *out, const char *what) {
  const int64_t n = lc_weights_rows(wg);
  poison_dev(g, yd, (size_t)(m * n) * sizeof(float));
  lc_status st = lc_matmul_with_path(g, xd, m, wg, bg, yd, path);
  if (st != LC_OK)
    fail_msg("%s: lc_matmul (%s): %s: %s", what, path_name[path], lc_status_name(st),
             lc_last_error(g));
  lct_dev_read(g, out, yd, (size_t)(m * n) * sizeof(float));
}

/* ---- 1. awkward shapes --------------------------------------------------------*/

/* Every awkward shape (K = 1 .. 2049 across segment edges, N = 1 .. 130 across
 * tile edges, with and without bias) at M from 1 to 200 on decode, tiled and
 * AUTO, with x and y at 16-byte-aligned and misaligned addresses, is memcmp-equal
 * to the CPU strict backend, and every output element is written. */
static void test_cuda_matmul_awkward_shapes(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int64_t ks[] = {1, 5, 255, 256, 257, 511, 1000, 1500, 2049};
  static const int64_t ns[] = {1, 3, 17, 130};
  static const int64_t all_ms[] = {1, 2, 3, 5, 8, 16, 17, 31, 64, 129, 200};
  /* sanitize: (K, N, bias) = (257, 17, 1) no vector loads, two segments;
   * (1000, 130, 0) vector loads, four segments; (256, 3, 1) one segment;
   * M = 1, 2, 3, 5, 16: the decode kernels' 1, 2, 4, 8, 16 rows (the
   * streaming kernel's where K % 8 == 0, the split-K kernel's else), 17 the
   * split-K kernel, 129 two tile rows */
  static const int san_shapes[][3] = {{4, 2, 1}, {6, 3, 0}, {3, 1, 1}}; /* ks, ns index, bias */
  static const int64_t san_ms[] = {1, 2, 3, 5, 16, 17, 129};
  enum { NK = sizeof ks / sizeof ks[0], NN = sizeof ns / sizeof ns[0] };
  const int san = lct_sanitize();
  const int64_t *ms = san ? san_ms : all_ms;
  const int n_ms = san ? (int)LCT_LEN(san_ms) : (int)LCT_LEN(all_ms);
  const int64_t mmax = ms[n_ms - 1];
  const double t0 = lct_now_s();
  lc_context *g = gpu_ctx();
  int64_t shapes = 0, checks = 0;
  for (int ik = 0; ik < NK; ik++) {
    for (int in = 0; in < NN; in++) {
      for (int hb = 0; hb < 2; hb++) {
        int keep = ((ik * NN + in) * 2 + hb) % lct_thin() == 0;
        if (san) {
          keep = 0;
          for (size_t i = 0; i < LCT_LEN(san_shapes); i++)
            keep |= san_shapes[i][0] == ik && san_shapes[i][1] == in && san_shapes[i][2] == hb;
        }
        if (!keep) continue;
        const int64_t k = ks[ik], n = ns[in];
        const uint64_t seed = 1000 + (uint64_t)(ik * 64 + in * 2 + hb);
        uint16_t *w = rand_bf16(n * k, seed, 1.0f);
        uint16_t *b = hb ? rand_bf16(n, seed + 7, 4.0f) : NULL;
        float *x = rand_f32(mmax * k, seed + 11, 1.0f);
        float *ref = xmalloc_((size_t)(mmax * n) * sizeof *ref);
        float *got = xmalloc_((size_t)(mmax * n) * sizeof *got);
        cpu_ref(x, mmax, k, w, n, b, ref);
        lc_weights *wg = lct_weights_bf16(g, n, k, w);
        lc_weights *bg = b ? lct_weights_bf16(g, 1, n, b) : NULL;
        /* one extra float each side: x and y also at an address that is not
         * 16-byte aligned */
        float *xd = lct_dev_alloc(g, (size_t)(mmax * k + 4) * sizeof(float));
        float *yd = lct_dev_alloc(g, (size_t)(mmax * n + 4) * sizeof(float));
        for (int mis = 0; mis < 2; mis++) {
          float *xo = xd + mis, *yo = yd + mis;
          lct_dev_write(g, xo, x, (size_t)(mmax * k) * sizeof(float));
          for (int im = 0; im < n_ms; im++) {
            if (mis && im % 3 != 0) continue; /* misaligned: a subset of M */
            for (int p = 0; p < N_PATHS; p++) {
              char what[160];
              snprintf(what, sizeof what, "K=%lld N=%lld bias=%d M=%lld path=%s%s", (long long)k,
                       (long long)n, hb, (long long)ms[im], path_name[p], mis ? " misaligned" : "");
              gpu_run(g, xo, ms[im], wg, bg, yo, p, got, what);
              lct_assert_bitwise_f32(got, ref, ms[im] * n, what);
              checks++;
            }
          }
        }
        lc_buffer_free(g, xd);
        lc_buffer_free(g, yd);
        lc_weights_free(bg);
        lc_weights_free(wg);
        free(w);
        free(b);
        free(x);
        free(ref);
        free(got);
        shapes++;
      }
    }
  }
  lc_context_free(g);
  printf(
      "awkward shapes: %lld shapes (K x N x bias), %lld (M, path, alignment) runs, all bitwise "
      "equal to CPU strict (%.1f s)\n",
      (long long)shapes, (long long)checks, lct_now_s() - t0);
}

/* ---- 2. model shapes ----------------------------------------------------------*/

typedef struct model_shape {
  int64_t n, k;
  int bias;
  const char *what;
} model_shape;

static const model_shape model_shapes[] = {
    {4096, 4096, 0, "q/o projection (Llama 3 8B)"},
    {14336, 4096, 0, "gate/up projection (Llama 3 8B)"},
    {4096, 14336, 0, "down projection (Llama 3 8B)"},
    {18944, 3584, 1, "gate/up projection (Qwen2 7B), with bias"},
    {3584, 18944, 0, "down projection (Qwen2 7B)"},
    {128256, 4096, 0, "vocabulary projection (Llama 3)"},
};
/* sanitize: one shape instead, with bias and N % 4 == 0 (the tiled kernel's
 * vector stores) */
static const model_shape model_shapes_san[] = {
    {1536, 1024, 1, "a small projection with bias (sanitize profile)"},
};

/* On the model shapes (4096x4096 .. the 128256-row vocabulary projection):
 * M = 1, 7 and 64 on every path are memcmp-equal to CPU strict (M = 64 on
 * decode for the vocabulary projection runs in two workspace slices); at
 * M = 1000 decode and tiled are bitwise equal to each other on all rows and
 * to CPU strict on the first 64 rows and the last 3. */
static void test_cuda_matmul_model_shapes(void **state) {
  (void)state;
  if (!have_gpu) skip();
  enum { M_REF = 64, M_TAIL = 3 };
  static const int64_t ms[] = {1, 7, M_REF};
  const int san = lct_sanitize();
  const int64_t m_big = san ? 200 : 1000; /* sanitize: 200 rows */
  const double t0 = lct_now_s();
  double t_ref = 0;
  lc_context *g = gpu_ctx();
  int64_t checks = 0;
  const model_shape *shapes = san ? model_shapes_san : model_shapes;
  const int ns = san ? (int)LCT_LEN(model_shapes_san) : (int)LCT_LEN(model_shapes);
  for (int is = 0; is < ns; is++) {
    const model_shape *s = &shapes[is];
    const int64_t n = s->n, k = s->k;
    const uint64_t seed = 5000 + (uint64_t)is * 16;
    uint16_t *w = rand_bf16(n * k, seed, 1.0f);
    uint16_t *b = s->bias ? rand_bf16(n, seed + 1, 8.0f) : NULL;
    /* x [m_big][k]: rows 0..M_REF-1 are the reference rows, the last M_TAIL too */
    float *x = rand_f32(m_big * k, seed + 2, 1.0f);
    float *ref = xmalloc_((size_t)(M_REF * n) * sizeof *ref);
    float *ref_tail = xmalloc_((size_t)(M_TAIL * n) * sizeof *ref_tail);
    double tr = lct_now_s();
    cpu_ref(x, M_REF, k, w, n, b, ref);
    cpu_ref(x + (m_big - M_TAIL) * k, M_TAIL, k, w, n, b, ref_tail);
    t_ref += lct_now_s() - tr;
    lc_weights *wg = lct_weights_bf16(g, n, k, w);
    lc_weights *bg = b ? lct_weights_bf16(g, 1, n, b) : NULL;
    float *xd = lct_dev_alloc(g, (size_t)(m_big * k) * sizeof(float));
    float *yd = lct_dev_alloc(g, (size_t)(m_big * n) * sizeof(float));
    float *got = xmalloc_((size_t)(m_big * n) * sizeof *got);
    float *got2 = xmalloc_((size_t)(m_big * n) * sizeof *got2);
    lct_dev_write(g, xd, x, (size_t)(m_big * k) * sizeof(float));
    char what[200];
    for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++) {
      for (int p = 0; p < N_PATHS; p++) {
        snprintf(what, sizeof what, "%s: N=%lld K=%lld M=%lld path=%s", s->what, (long long)n,
                 (long long)k, (long long)ms[im], path_name[p]);
        gpu_run(g, xd, ms[im], wg, bg, yd, p, got, what);
        lct_assert_bitwise_f32(got, ref, ms[im] * n, what);
        checks++;
      }
    }
    /* m_big: tiled vs CPU on the reference rows, decode vs tiled everywhere */
    snprintf(what, sizeof what, "%s: N=%lld K=%lld M=%lld tiled vs CPU", s->what, (long long)n,
             (long long)k, (long long)m_big);
    gpu_run(g, xd, m_big, wg, bg, yd, P_TILED, got, what);
    lct_assert_bitwise_f32(got, ref, M_REF * n, what);
    lct_assert_bitwise_f32(got + (m_big - M_TAIL) * n, ref_tail, M_TAIL * n, what);
    snprintf(what, sizeof what, "%s: N=%lld K=%lld M=%lld decode vs tiled", s->what, (long long)n,
             (long long)k, (long long)m_big);
    gpu_run(g, xd, m_big, wg, bg, yd, P_DECODE, got2, what);
    lct_assert_bitwise_f32(got2, got, m_big * n, what);
    checks += 2;
    lc_buffer_free(g, xd);
    lc_buffer_free(g, yd);
    lc_weights_free(bg);
    lc_weights_free(wg);
    free(w);
    free(b);
    free(x);
    free(ref);
    free(ref_tail);
    free(got);
    free(got2);
  }
  lc_context_free(g);
  printf(
      "model shapes: %d shapes, %lld runs (M = 1, 7, 64 x 3 paths vs CPU; M = %lld decode = "
      "tiled = CPU on %d rows), bitwise (%.1f s, CPU references %.1f s)\n",
      ns, (long long)checks, (long long)m_big, M_REF + M_TAIL, lct_now_s() - t0, t_ref);
}

/* ---- 3. non-finite and tiny values -----------------------------------------------*/

/* x rows holding NaN, +-Inf, huge values and subnormals, W holding bf16 Inf,
 * NaN and subnormals, and tiny products that underflow to -0 (so a segment can
 * be -0, which a wrong K-tail padding would turn into +0): CUDA strict equals
 * CPU strict bit for bit on every path; NaN results are the canonical NaN; the
 * finite rows are unaffected by the poisoned ones. */
static void test_cuda_matmul_nonfinite(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int64_t ks[] = {3, 257, 600, 1000};
  static const int64_t ns[] = {5, 33, 130};
  const int64_t m = 40;
  const int san = lct_sanitize(); /* sanitize: K x N = 3 x 5 and 1000 x 130 */
  lc_context *g = gpu_ctx();
  lct_rng rng = lct_rng_new(77);
  int64_t checks = 0, nan_out = 0;
  for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++) {
    for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++) {
      if (san && !(ik == 0 && in == 0) && !(ik == 3 && in == 2)) continue;
      const int64_t k = ks[ik], n = ns[in];
      uint16_t *w = rand_bf16(n * k, 300 + ik * 8 + in, 1.0f);
      /* W row 1: a few specials; row 2: subnormal bf16 values */
      if (n > 2) {
        w[1 * k + 0] = 0x7F80;            /* +Inf */
        if (k > 2) w[1 * k + 2] = 0x7FC1; /* quiet NaN with payload */
        for (int64_t j = 0; j < k; j++)
          w[2 * k + j] = (uint16_t)(0x0001 + (j % 0x7F)) | (j & 1 ? 0x8000 : 0);
      }
      uint16_t *b = rand_bf16(n, 900 + ik * 8 + in, 2.0f);
      float *x = rand_f32(m * k, 400 + ik * 8 + in, 1.0f);
      for (int64_t r = 0; r < m; r++) {
        float *xr = x + r * k;
        switch (r % 8) {
          case 1: /* one special value */
            xr[lct_range(&rng, 0, k - 1)] = (r / 8) % 2 ? NAN : INFINITY;
            break;
          case 3: /* poison rows of every kind */
            lct_fill_poison(xr, k, (int)(r / 8), &rng);
            break;
          case 5: /* tiny: every product underflows (|x w| < 2^-149), signs random */
            for (int64_t j = 0; j < k; j++)
              xr[j] = ((lct_next(&rng) & 1) ? -1e-30f : 1e-30f) * 1e-20f;
            break;
          case 7: /* huge but finite: overflows to Inf in some chains */
            for (int64_t j = 0; j < k; j++) xr[j] = (float)((lct_next(&rng) & 1) ? 3e37 : -3e37);
            break;
          default:
            break;
        }
      }
      float *ref = xmalloc_((size_t)(m * n) * sizeof *ref);
      float *ref_nb = xmalloc_((size_t)(m * n) * sizeof *ref_nb);
      float *got = xmalloc_((size_t)(m * n) * sizeof *got);
      /* the weights as stored (bf16 conversion quiets signalling NaNs) */
      lc_weights *wg = lct_weights_bf16(g, n, k, w);
      lc_weights *bg = lct_weights_bf16(g, 1, n, b);
      if (lc_weights_read_bf16(wg, w) != LC_OK) fail_msg("read_bf16: %s", lc_last_error(g));
      cpu_ref(x, m, k, w, n, b, ref);
      cpu_ref(x, m, k, w, n, NULL, ref_nb);
      float *xd = lct_dev_alloc(g, (size_t)(m * k) * sizeof(float));
      float *yd = lct_dev_alloc(g, (size_t)(m * n) * sizeof(float));
      lct_dev_write(g, xd, x, (size_t)(m * k) * sizeof(float));
      for (int p = 0; p < N_PATHS; p++) {
        for (int hb = 0; hb < 2; hb++) {
          char what[160];
          snprintf(what, sizeof what, "non-finite K=%lld N=%lld bias=%d path=%s", (long long)k,
                   (long long)n, hb, path_name[p]);
          gpu_run(g, xd, m, wg, hb ? bg : NULL, yd, p, got, what);
          lct_assert_bitwise_f32(got, hb ? ref : ref_nb, m * n, what);
          for (int64_t i = 0; i < m * n; i++) {
            if (lc_f32_isnan(got[i])) {
              if (lc_f32_bits(got[i]) != 0x7FC00000u)
                fail_msg("%s: [%lld] NaN 0x%08X is not canonical", what, (long long)i,
                         lc_f32_bits(got[i]));
              nan_out++;
            }
          }
          checks++;
        }
      }
      lc_buffer_free(g, xd);
      lc_buffer_free(g, yd);
      lc_weights_free(bg);
      lc_weights_free(wg);
      free(w);
      free(b);
      free(x);
      free(ref);
      free(ref_nb);
      free(got);
    }
  }
  lc_context_free(g);
  printf("non-finite inputs: %lld runs bitwise equal to CPU strict, %lld canonical NaN outputs\n",
         (long long)checks, (long long)nan_out);
}

/* ---- 4. batch invariance ---------------------------------------------------------*/

/* Probe row p placed at the positions where `sel` says so in an m-row batch
 * whose other rows are random (poison < 0) or poisoned (kind `poison`). */
static void build_batch(float *x, int64_t m, int64_t k, const float *probe, const int64_t *pos,
                        int npos, int poison, lct_rng *rng) {
  for (int64_t r = 0; r < m; r++) {
    if (poison < 0) {
      for (int64_t j = 0; j < k; j++) x[r * k + j] = lct_uniformf(rng, -2.0f, 2.0f);
    } else {
      lct_fill_poison(x + r * k, k, poison + (int)r, rng);
    }
  }
  for (int i = 0; i < npos; i++) memcpy(x + pos[i] * k, probe, (size_t)k * sizeof(float));
}

/* A probe row gives the same bits on the GPU at every position of batches of
 * every M = 1..64 and at positions 0, 1, M/2, M-2, M-1 of batches of 65..4096
 * rows (primes, powers of two and their neighbours), next to random rows and
 * next to rows of NaN/Inf/huge/subnormal values, on decode, tiled (split by
 * segment and whole-k) and AUTO; the decode and tiled paths give the same
 * bits on every row of every batch; the probe's result equals CPU strict. */
static void test_cuda_matmul_batch_invariance(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int64_t big_ms[] = {65,   96,   127,  128,  129,  191,  255,  256,  257,
                                   509,  511,  512,  513,  1021, 1023, 1024, 1025, 2047,
                                   2048, 2049, 2053, 3001, 4093, 4095, 4096};
  static const struct {
    int64_t n, k;
    int bias;
  } shapes[] = {{300, 600, 1}, {77, 517, 0}, {2100, 264, 1}};
  /* k % 8 == 0 (16-byte loads) and not; the third has >= 256 output tiles at
   * M >= 1921, where the tiled path runs whole-k blocks instead of split ones.
   * sanitize: the first two shapes, M = 1, 17 (the split-K decode kernel)
   * and 33 (AUTO tiled) with the probe at every third row, and 129 at five
   * positions (idx below); whole-k tiled blocks run in
   * test_cuda_matmul_workspace_exact */
  static const int64_t san_idx[] = {0, 3 * 16, 3 * 32, 64 * 3 + 4};
  const int san = lct_sanitize();
  const int64_t n_idx = 64 * 3 + (int64_t)LCT_LEN(big_ms);
  const int64_t m_max = san ? 129 : 4096;
  const double t0 = lct_now_s();
  lc_context *g = gpu_ctx();
  int64_t batches = 0, probes = 0;
  for (size_t is = 0; is < (san ? 2 : LCT_LEN(shapes)); is++) {
    const int64_t n = shapes[is].n, k = shapes[is].k;
    uint16_t *w = rand_bf16(n * k, 7000 + is, 1.0f);
    uint16_t *b = shapes[is].bias ? rand_bf16(n, 7100 + is, 3.0f) : NULL;
    float *probe = rand_f32(k, 7200 + is, 2.0f);
    float *probe_cpu = xmalloc_((size_t)n * sizeof *probe_cpu);
    cpu_ref(probe, 1, k, w, n, b, probe_cpu);
    lc_weights *wg = lct_weights_bf16(g, n, k, w);
    lc_weights *bg = b ? lct_weights_bf16(g, 1, n, b) : NULL;
    float *x = xmalloc_((size_t)(m_max * k) * sizeof *x);
    float *got[N_PATHS];
    for (int p = 0; p < N_PATHS; p++) got[p] = xmalloc_((size_t)(m_max * n) * sizeof(float));
    float *xd = lct_dev_alloc(g, (size_t)(m_max * k) * sizeof(float));
    float *yd = lct_dev_alloc(g, (size_t)(m_max * n) * sizeof(float));
    lct_rng rng = lct_rng_new(7300 + is);
    int64_t pos[64];
    /* the batches: M = 1..64 with the probe at every third position (three
     * offsets), then the larger M with the probe at five positions */
    for (int64_t step = 0;; step++) {
      const int64_t idx =
          san ? (step < (int64_t)LCT_LEN(san_idx) ? san_idx[step] : n_idx) : step * lct_thin();
      if (idx >= n_idx) break;
      int64_t m;
      int npos = 0;
      if (idx < 64 * 3) {
        m = idx / 3 + 1;
        for (int64_t r = idx % 3; r < m; r += 3) pos[npos++] = r;
        if (npos == 0) continue; /* m < offset + 1 */
      } else {
        m = big_ms[idx - 64 * 3];
        const int64_t cand[5] = {0, 1, m / 2, m - 2, m - 1};
        for (int c = 0; c < 5; c++) {
          int dup = 0;
          for (int d = 0; d < npos; d++) dup |= pos[d] == cand[c];
          if (!dup) pos[npos++] = cand[c];
        }
      }
      for (int kind = -1; kind < 1; kind++) {
        /* kind -1: random neighbours; 0: poisoned neighbours (all poison kinds, by row) */
        build_batch(x, m, k, probe, pos, npos, kind < 0 ? -1 : (int)(idx % LCT_POISON_KINDS), &rng);
        lct_dev_write(g, xd, x, (size_t)(m * k) * sizeof(float));
        for (int p = 0; p < N_PATHS; p++) {
          char what[160];
          snprintf(what, sizeof what, "invariance N=%lld K=%lld M=%lld %s path=%s", (long long)n,
                   (long long)k, (long long)m, kind < 0 ? "random" : "poisoned", path_name[p]);
          gpu_run(g, xd, m, wg, bg, yd, p, got[p], what);
          for (int i = 0; i < npos; i++) {
            char w2[200];
            snprintf(w2, sizeof w2, "%s probe at row %lld", what, (long long)pos[i]);
            lct_assert_bitwise_f32(got[p] + pos[i] * n, probe_cpu, n, w2);
            probes++;
          }
        }
        char what[160];
        snprintf(what, sizeof what, "invariance N=%lld K=%lld M=%lld %s: decode vs tiled, all rows",
                 (long long)n, (long long)k, (long long)m, kind < 0 ? "random" : "poisoned");
        lct_assert_bitwise_f32(got[P_DECODE], got[P_TILED], m * n, what);
        batches++;
      }
    }
    lc_buffer_free(g, xd);
    lc_buffer_free(g, yd);
    lc_weights_free(bg);
    lc_weights_free(wg);
    for (int p = 0; p < N_PATHS; p++) free(got[p]);
    free(x);
    free(w);
    free(b);
    free(probe);
    free(probe_cpu);
  }
  lc_context_free(g);
  printf(
      "batch invariance: %lld batches (3 shapes; M = 1..64 every position, %d larger M up to "
      "4096; random and poisoned neighbours) x 3 paths, %lld probe rows bitwise equal to CPU, "
      "decode = tiled on all rows%s (%.1f s)\n",
      (long long)batches, (int)(sizeof big_ms / sizeof big_ms[0]), (long long)probes,
      lct_profile_note(), lct_now_s() - t0);
}

/* ---- 5. run to run ------------------------------------------------------------*/

/* 100 repetitions of the same call give the same bits, at M = 1 (decode),
 * M = 16 (decode, 16 chains per thread) and M = 300 (tiled), 4096 x 4096
 * with bias (sanitize: 2 repetitions, 1024 x 1024). */
static void test_cuda_matmul_run_to_run(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const int san = lct_sanitize();
  const int reps = san ? 2 : lct_thin() > 1 ? 4 : 100;
  const int64_t n = san ? 1024 : 4096, k = n;
  static const int64_t ms[] = {1, 16, 300};
  const double t0 = lct_now_s();
  lc_context *g = gpu_ctx();
  uint16_t *w = rand_bf16(n * k, 8000, 1.0f);
  uint16_t *b = rand_bf16(n, 8001, 1.0f);
  float *x = rand_f32(300 * k, 8002, 1.0f);
  lc_weights *wg = lct_weights_bf16(g, n, k, w);
  lc_weights *bg = lct_weights_bf16(g, 1, n, b);
  float *xd = lct_dev_alloc(g, (size_t)(300 * k) * sizeof(float));
  float *yd = lct_dev_alloc(g, (size_t)(300 * n) * sizeof(float));
  float *first = xmalloc_((size_t)(300 * n) * sizeof *first);
  float *got = xmalloc_((size_t)(300 * n) * sizeof *got);
  lct_dev_write(g, xd, x, (size_t)(300 * k) * sizeof(float));
  for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++) {
    for (int rep = 0; rep < reps; rep++) {
      char what[120];
      snprintf(what, sizeof what, "run to run M=%lld repetition %d", (long long)ms[im], rep);
      gpu_run(g, xd, ms[im], wg, bg, yd, P_AUTO, rep ? got : first, what);
      if (rep) lct_assert_bitwise_f32(got, first, ms[im] * n, what);
    }
  }
  lc_buffer_free(g, xd);
  lc_buffer_free(g, yd);
  lc_weights_free(bg);
  lc_weights_free(wg);
  lc_context_free(g);
  free(w);
  free(b);
  free(x);
  free(first);
  free(got);
  printf("run to run: %d repetitions at M = 1, 16, 300 (%lld x %lld, bias) identical (%.1f s)\n",
         reps, (long long)n, (long long)k, lct_now_s() - t0);
}

/* ---- 6. two streams -------------------------------------------------------------*/

enum { TS_NM = 4 };
static const int64_t ts_ms[TS_NM] = {1, 5, 33, 300};
/* Rounds per thread: 12; sanitize: 3 (every M still meets every path). */
static int ts_iters(void) {
  return lct_sanitize() ? 3 : 12;
}

typedef struct stream_job {
  const float *x; /* host [300][k] */
  const uint16_t *w, *b;
  int64_t n, k;
  float *out[TS_NM]; /* host [ts_ms[i]][n], the last iteration's result */
  int mismatch;      /* a later iteration differed from the first */
  lc_status st;
  char msg[LC_ERR_LEN];
} stream_job;

/* One thread, one CUDA context (its own stream, weights and buffers): ts_iters()
 * rounds of matmuls at every M on both paths, each result compared with the
 * thread's first. */
static void *stream_worker(void *arg) {
  stream_job *j = arg;
  lc_context_params p;
  lc_context_params_default(&p);
  p.backend = LC_BACKEND_CUDA;
  lc_context *g = NULL;
  lc_weights *wg = NULL, *bg = NULL;
  float *xd = NULL, *yd = NULL;
  const int64_t n = j->n, k = j->k;
  float *tmp = malloc((size_t)(300 * n) * sizeof *tmp);
  j->st = tmp ? lc_context_create(&p, &g) : LC_ERR_OUT_OF_MEMORY;
  if (j->st == LC_OK) j->st = lc_weights_create(g, n, k, LC_DTYPE_BF16, j->w, &wg);
  if (j->st == LC_OK) j->st = lc_weights_create(g, 1, n, LC_DTYPE_BF16, j->b, &bg);
  if (j->st == LC_OK) j->st = lc_buffer_alloc(g, (size_t)(300 * k) * sizeof(float), (void **)&xd);
  if (j->st == LC_OK) j->st = lc_buffer_alloc(g, (size_t)(300 * n) * sizeof(float), (void **)&yd);
  if (j->st == LC_OK) j->st = lc_buffer_write(g, xd, j->x, (size_t)(300 * k) * sizeof(float));
  const int iters = ts_iters();
  for (int it = 0; it < iters && j->st == LC_OK; it++) {
    for (int im = 0; im < TS_NM && j->st == LC_OK; im++) {
      const int path = (it + im) % N_PATHS;
      const size_t bytes = (size_t)(ts_ms[im] * n) * sizeof(float);
      j->st = lc_matmul_with_path(g, xd, ts_ms[im], wg, bg, yd, path);
      if (j->st == LC_OK) j->st = lc_buffer_read(g, it ? tmp : j->out[im], yd, bytes);
      if (j->st == LC_OK && it && memcmp(tmp, j->out[im], bytes) != 0) j->mismatch++;
    }
  }
  if (j->st != LC_OK)
    snprintf(j->msg, sizeof j->msg, "%s", g ? lc_last_error(g) : lc_last_error(NULL));
  if (g) {
    lc_buffer_free(g, xd);
    lc_buffer_free(g, yd);
  }
  lc_weights_free(bg);
  lc_weights_free(wg);
  lc_context_free(g);
  free(tmp);
  return NULL;
}

/* Two CUDA contexts (two streams) driven from two threads at once on the same
 * inputs give identical results, equal to a run alone and to CPU strict on
 * the rows checked. */
static void test_cuda_matmul_two_streams(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const int64_t n = lct_sanitize() ? 1024 : 4096, k = n; /* sanitize: 1024 x 1024 */
  const double t0 = lct_now_s();
  uint16_t *w = rand_bf16(n * k, 8100, 1.0f);
  uint16_t *b = rand_bf16(n, 8101, 1.0f);
  float *x = rand_f32(300 * k, 8102, 1.0f);
  float *ref = xmalloc_((size_t)(33 * n) * sizeof *ref);
  cpu_ref(x, 33, k, w, n, b, ref);
  stream_job jobs[3];
  for (int t = 0; t < 3; t++) {
    jobs[t] = (stream_job){x, w, b, n, k, {NULL}, 0, LC_OK, {0}};
    for (int im = 0; im < TS_NM; im++)
      jobs[t].out[im] = xmalloc_((size_t)(ts_ms[im] * n) * sizeof(float));
  }
  stream_worker(&jobs[2]); /* alone first */
  pthread_t th[2];
  for (int t = 0; t < 2; t++)
    if (pthread_create(&th[t], NULL, stream_worker, &jobs[t]) != 0) fail_msg("pthread_create");
  for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < 3; t++) {
    if (jobs[t].st != LC_OK)
      fail_msg("stream job %d: %s: %s", t, lc_status_name(jobs[t].st), jobs[t].msg);
    if (jobs[t].mismatch)
      fail_msg("stream job %d: %d results differed between iterations", t, jobs[t].mismatch);
  }
  for (int im = 0; im < TS_NM; im++) {
    char what[120];
    snprintf(what, sizeof what, "two streams M=%lld: thread 0 vs thread 1", (long long)ts_ms[im]);
    lct_assert_bitwise_f32(jobs[0].out[im], jobs[1].out[im], ts_ms[im] * n, what);
    snprintf(what, sizeof what, "two streams M=%lld: concurrent vs alone", (long long)ts_ms[im]);
    lct_assert_bitwise_f32(jobs[0].out[im], jobs[2].out[im], ts_ms[im] * n, what);
    const int64_t rows = ts_ms[im] < 33 ? ts_ms[im] : 33;
    snprintf(what, sizeof what, "two streams M=%lld: vs CPU strict", (long long)ts_ms[im]);
    lct_assert_bitwise_f32(jobs[0].out[im], ref, rows * n, what);
  }
  for (int t = 0; t < 3; t++)
    for (int im = 0; im < TS_NM; im++) free(jobs[t].out[im]);
  free(w);
  free(b);
  free(x);
  free(ref);
  printf(
      "two streams: 2 threads x 2 contexts concurrently, %d rounds x M = 1, 5, 33, 300 on "
      "rotating paths: identical to each other, to a run alone and to CPU strict (%.1f s)\n",
      ts_iters(), lct_now_s() - t0);
}

/* ---- 7. workspace and bounds ----------------------------------------------------*/

/* lc_kernels_matmul with exactly lc_kernels_matmul_workspace() bytes (and the
 * workspace size formula itself), guard bytes after the workspace and after y
 * untouched, y equal to CPU strict: decode with several segments (1 and many
 * x-row groups), decode with one segment (no workspace), tiled split by
 * segment (workspace), tiled whole-k (none), AUTO. */
static void test_cuda_matmul_workspace_exact(void **state) {
  (void)state;
  if (!have_gpu) skip();
#if defined(LC_HAVE_CUDA)
  /* split: the tiled path runs one block per (tile, segment) with a workspace
   * (fewer than 256 output tiles of 128 x 128 and nseg * m * n * 4 <= 256 MiB).
   * The last case runs under sanitize only, instead of 2048 x 512 x 2048:
   * whole-k with two segments from 257 tiles of one row. */
  static const struct {
    int64_t m, k, n;
    int path, decode, split;
  } cases[] = {
      {1, 1000, 130, LC_KMATMUL_DECODE, 1, 0},   {5, 257, 3, LC_KMATMUL_DECODE, 1, 0},
      {40, 1000, 77, LC_KMATMUL_DECODE, 1, 0},   {2, 256, 300, LC_KMATMUL_DECODE, 1, 0},
      {1, 2049, 33, LC_KMATMUL_AUTO, 1, 0},      {300, 2049, 33, LC_KMATMUL_AUTO, 0, 1},
      {129, 600, 130, LC_KMATMUL_TILED, 0, 1},   {3, 4096, 4096, LC_KMATMUL_AUTO, 1, 0},
      {2048, 512, 2048, LC_KMATMUL_TILED, 0, 0}, {100, 200, 50, LC_KMATMUL_TILED, 0, 0},
      {1, 264, 32773, LC_KMATMUL_TILED, 0, 0},
  };
  enum { GUARD = 4096 };
  const int san = lct_sanitize();
  lc_context *g = gpu_ctx();
  int nc = 0;
  for (size_t ic = 0; ic < sizeof cases / sizeof cases[0]; ic++) {
    if (san ? cases[ic].m == 2048 : ic + 1 == LCT_LEN(cases)) continue;
    const int64_t m = cases[ic].m, k = cases[ic].k, n = cases[ic].n;
    const lc_kmatmul_path path = (lc_kmatmul_path)cases[ic].path;
    const size_t ws = lc_kernels_matmul_workspace(m, k, n, path);
    const int64_t nseg = (k + 255) / 256;
    const int uses = nseg > 1 && (cases[ic].decode || cases[ic].split);
    const size_t expect = uses ? (size_t)(nseg * m * n) * sizeof(float) : 0;
    if (ws != expect)
      fail_msg("workspace(m=%lld k=%lld n=%lld path=%d) = %zu, expected %zu", (long long)m,
               (long long)k, (long long)n, (int)path, ws, expect);
    uint16_t *w = rand_bf16(n * k, 9000 + ic, 1.0f);
    uint16_t *b = rand_bf16(n, 9100 + ic, 1.0f);
    float *x = rand_f32(m * k, 9200 + ic, 1.0f);
    float *ref = xmalloc_((size_t)(m * n) * sizeof *ref);
    cpu_ref(x, m, k, w, n, b, ref);
    float *xd = lct_dev_alloc(g, (size_t)(m * k) * sizeof(float));
    uint16_t *wd = lct_dev_alloc(g, (size_t)(n * k) * 2);
    uint16_t *bd = lct_dev_alloc(g, (size_t)n * 2);
    float *yd = lct_dev_alloc(g, (size_t)(m * n) * sizeof(float) + GUARD);
    unsigned char *wsd = lct_dev_alloc(g, ws + GUARD);
    lct_dev_write(g, xd, x, (size_t)(m * k) * sizeof(float));
    lct_dev_write(g, wd, w, (size_t)(n * k) * 2);
    lct_dev_write(g, bd, b, (size_t)n * 2);
    poison_dev(g, yd, (size_t)(m * n) * sizeof(float) + GUARD);
    poison_dev(g, wsd, ws + GUARD);
    char err[256] = {0};
    lc_status st = lc_kernels_matmul(xd, m, k, wd, n, bd, yd, path, ws ? wsd : NULL, ws,
                                     lc_cuda_stream(g), err, sizeof err);
    if (st != LC_OK) fail_msg("lc_kernels_matmul case %zu: %s", ic, err);
    if (lc_context_synchronize(g) != LC_OK) fail_msg("synchronize: %s", lc_last_error(g));
    float *got = xmalloc_((size_t)(m * n) * sizeof(float) + GUARD);
    unsigned char *wsg = xmalloc_(GUARD);
    lct_dev_read(g, got, yd, (size_t)(m * n) * sizeof(float) + GUARD);
    lct_dev_read(g, wsg, wsd + ws, GUARD);
    char what[120];
    snprintf(what, sizeof what, "workspace case m=%lld k=%lld n=%lld path=%d", (long long)m,
             (long long)k, (long long)n, (int)path);
    lct_assert_bitwise_f32(got, ref, m * n, what);
    const unsigned char *yg = (const unsigned char *)(got + m * n);
    for (int i = 0; i < GUARD; i++) {
      if (yg[i] != 0xFF) fail_msg("%s: byte %d after y was written", what, i);
      if (wsg[i] != 0xFF) fail_msg("%s: byte %d after the workspace was written", what, i);
    }
    lc_buffer_free(g, xd);
    lc_buffer_free(g, wd);
    lc_buffer_free(g, bd);
    lc_buffer_free(g, yd);
    lc_buffer_free(g, wsd);
    free(w);
    free(b);
    free(x);
    free(ref);
    free(got);
    free(wsg);
    nc++;
  }
  lc_context_free(g);
  printf(
      "workspace: %d cases with the exact workspace, guards after y and the workspace intact, "
      "bitwise equal to CPU strict\n",
      nc);
#endif
}

int main(void) {
  lct_gpu_main_begin();
  have_gpu = lct_have_cuda();
  if (!have_gpu) printf("no usable CUDA device (or CUDA not in this build): GPU tests skip\n");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cuda_matmul_workspace_exact),
      cmocka_unit_test(test_cuda_matmul_awkward_shapes),
      cmocka_unit_test(test_cuda_matmul_nonfinite),
      cmocka_unit_test(test_cuda_matmul_batch_invariance),
      cmocka_unit_test(test_cuda_matmul_run_to_run),
      cmocka_unit_test(test_cuda_matmul_two_streams),
      cmocka_unit_test(test_cuda_matmul_model_shapes),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(poison_host);
  return (rc == 0 && !have_gpu) ? 77 : rc;
}

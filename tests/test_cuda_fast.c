/*
 * tests/test_cuda_fast.c — the fast and bf16 matmul on a real GPU
 * (kernels/matmul_fast.cu): bitwise equal to the CPU emulation
 * (cpu_ref/matmul_fast.c) on awkward and model shapes, on every kernel path
 * (decode, tiled, wgmma, wgmma decode) and AUTO; the paths equal; the wgmma
 * decode path on K = 14336 with and without its K split; bitwise batch
 * invariant over M = 1..64 and a spread to 4096 rows with poisoned neighbours;
 * 100 repetitions identical; normwise accuracy against float64 on a model
 * shape, beside CUDA strict's.
 * Without a GPU (or CUDA in the build) every test skips and the binary exits 77.
 *
 * The CPU emulation costs ~20 ns per multiply-add and part, so big shapes are
 * checked on column slices (rows of W are independent: a slice's outputs are
 * the full matrix's), on several threads.  Each test prints one summary line.
 *
 * Under LCT_SANITIZE (tests/test_util.h) every test runs on the shorter
 * lists marked "sanitize": both modes (3 and 1 parts) and every path still,
 * with M = 1, 9, 17, 64, 129 (the mma.sync decode kernel's 8- and 16-row
 * tiles, the wgmma decode kernel's BX = 8, 16, 32, 64, one and two tile rows
 * of the tiled kernels); the wgmma decode kernel's split grid (one block per
 * SM, runs of segments crossing tiles) and its unsplit grid over several
 * segments on K = 4608 and 512 instead of 14336; model shapes 2304 x 2048.
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
#include "cpu_ref/cpu_ref.h"
#include "kernels/lc_kernels.h" /* lc_kmatmul_path; lc_kernels_wgmma_probe with CUDA */
#include "lib/lc_internal.h"

static int have_gpu;
/* the kernel paths of lc_matmul_with_path (kernels/lc_kernels.h lc_kmatmul_path) */
#define N_PATHS 5
static const char *const path_name[N_PATHS] = {"auto", "decode", "tiled", "wgmma", "wgmma-dec"};
static const lc_mode modes[2] = {LC_MODE_FAST, LC_MODE_BF16};
static int mode_parts(lc_mode m) {
  return m == LC_MODE_FAST ? 3 : 1;
}

/* normal-ish values (sum of two uniforms), reproducible from (seed, i) */
static float hval(uint64_t seed, int64_t i) {
  uint64_t h = lct_mix64(seed * 0x632BE59BD9B4E019ull + (uint64_t)i);
  return (float)((double)(h >> 40) * 0x1p-24 + (double)((h >> 16) & 0xFFFFFF) * 0x1p-24 - 1.0);
}
static float *rand_f32(int64_t n, uint64_t seed, float scale) {
  float *x = lct_malloc((size_t)n * sizeof *x);
  for (int64_t i = 0; i < n; i++) x[i] = scale * hval(seed, i);
  return x;
}
static uint16_t *rand_bf16(int64_t n, uint64_t seed, float scale) {
  uint16_t *w = lct_malloc((size_t)n * sizeof *w);
  for (int64_t i = 0; i < n; i++) w[i] = lc_f32_to_bf16(scale * hval(seed, i));
  return w;
}

/* ---- the CPU emulation on column slices, threaded -------------------------*/

typedef struct ref_job {
  const float *x;
  int64_t m, k;
  const uint16_t *w, *bias;
  int64_t n, n0, n1;
  int parts;
  float *y; /* [m][n] */
} ref_job;

static void *ref_worker(void *arg) {
  ref_job *j = arg;
  const int64_t cols = j->n1 - j->n0;
  float *ys = lct_malloc((size_t)(j->m * cols) * sizeof *ys);
  if (lc_cpu_matmul_fast(j->x, j->m, j->k, j->w + j->n0 * j->k, cols,
                         j->bias ? j->bias + j->n0 : NULL, ys, j->parts) != LC_OK)
    fail_msg("lc_cpu_matmul_fast: out of memory");
  for (int64_t r = 0; r < j->m; r++)
    memcpy(j->y + r * j->n + j->n0, ys + r * cols, (size_t)cols * sizeof(float));
  free(ys);
  return NULL;
}

/* y [m][ncols] = columns n0 .. n0 + ncols - 1 of the CPU fast matmul */
static void cpu_fast(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n0,
                     int64_t ncols, const uint16_t *bias, float *y, int parts) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int nt = (double)m * (double)ncols * (double)k > 2e6 ? (int)(cores < 1 ? 1 : cores) : 1;
  if (nt > 16) nt = 16;
  if (nt > ncols) nt = (int)ncols;
  pthread_t th[16];
  ref_job jobs[16];
  for (int t = 0; t < nt; t++) {
    jobs[t] = (ref_job){x,
                        m,
                        k,
                        w + n0 * k,
                        bias ? bias + n0 : NULL,
                        ncols,
                        ncols * t / nt,
                        ncols * (t + 1) / nt,
                        parts,
                        y};
    if (nt == 1)
      ref_worker(&jobs[t]);
    else if (pthread_create(&th[t], NULL, ref_worker, &jobs[t]) != 0)
      fail_msg("pthread_create failed");
  }
  if (nt > 1)
    for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
}

/* ---- GPU helpers ----------------------------------------------------------*/

/* out (host, m x n) = the GPU result on `path`; y poisoned with 0xFF bytes first */
static void gpu_run(lc_context *g, const float *xd, int64_t m, const lc_weights *wg,
                    const lc_weights *bg, float *yd, int path, float *out, const char *what) {
  const int64_t n = lc_weights_rows(wg);
  const size_t bytes = (size_t)(m * n) * sizeof(float);
  unsigned char *poison = lct_malloc(bytes);
  memset(poison, 0xFF, bytes);
  lct_dev_write(g, yd, poison, bytes);
  free(poison);
  lc_status st = lc_matmul_with_path(g, xd, m, wg, bg, yd, path);
  if (st != LC_OK)
    fail_msg("%s: lc_matmul (%s): %s: %s", what, path_name[path], lc_status_name(st),
             lc_last_error(g));
  lct_dev_read(g, out, yd, bytes);
}

/* ---- 1. awkward shapes ----------------------------------------------------*/

static void test_cuda_fast_awkward_shapes_equal_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int64_t ks[] = {1, 15, 16, 17, 63, 64, 65, 172, 1000, 2049};
  static const int64_t ns[] = {1, 17, 130};
  static const int64_t all_ms[] = {1, 2, 7, 8, 9, 16, 17, 64, 129, 200};
  /* sanitize: (K, N) = (17, 130): no 16-byte copies (the decode kernel for
   * every path), misaligned, bias; (64, 17): one segment (the wgmma decode
   * kernel's unsplit grid), misaligned; (1000, 130): four segments (its
   * split grid) */
  static const int san_kn[][2] = {{3, 2}, {5, 1}, {8, 2}}; /* ks, ns index */
  static const int64_t san_ms[] = {1, 9, 17, 64, 129};
  const int san = lct_sanitize();
  const int64_t *ms = san ? san_ms : all_ms;
  const size_t n_ms = san ? LCT_LEN(san_ms) : LCT_LEN(all_ms);
  const int64_t mmax = ms[n_ms - 1];
  const double t0 = lct_now_s();
  int64_t runs = 0;
  for (int mi = 0; mi < 2; mi++) {
    lc_context *g = lct_cuda(modes[mi]);
    for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++) {
      for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++) {
        int keep = (ik * (sizeof ns / sizeof ns[0]) + in) % (size_t)lct_thin() == 0;
        if (san) {
          keep = 0;
          for (size_t i = 0; i < LCT_LEN(san_kn); i++)
            keep |= san_kn[i][0] == (int)ik && san_kn[i][1] == (int)in;
        }
        if (!keep) continue;
        const int64_t k = ks[ik], n = ns[in];
        const int hb = (int)((ik + in) & 1);
        const uint64_t seed = 500 + ik * 16 + in;
        uint16_t *w = rand_bf16(n * k, seed, 0.5f);
        uint16_t *b = hb ? rand_bf16(n, seed + 1, 2.0f) : NULL;
        float *x = rand_f32(mmax * k, seed + 2, 2.0f);
        float *ref = lct_malloc((size_t)(mmax * n) * sizeof *ref);
        float *got = lct_malloc((size_t)(mmax * n) * sizeof *got);
        cpu_fast(x, mmax, k, w, 0, n, b, ref, mode_parts(modes[mi]));
        lc_weights *wg = lct_weights_bf16(g, n, k, w);
        lc_weights *bg = b ? lct_weights_bf16(g, 1, n, b) : NULL;
        float *xd = lct_dev_alloc(g, (size_t)(mmax * k + 4) * sizeof(float));
        float *yd = lct_dev_alloc(g, (size_t)(mmax * n + 4) * sizeof(float));
        const int mis = (int)(ik % 2); /* x and y off 16-byte alignment for half the shapes */
        lct_dev_write(g, xd + mis, x, (size_t)(mmax * k) * sizeof(float));
        for (size_t im = 0; im < n_ms; im++) {
          for (int p = 0; p < N_PATHS; p++) {
            char what[160];
            snprintf(what, sizeof what, "%s K=%lld N=%lld bias=%d M=%lld path=%s mis=%d",
                     lc_mode_name(modes[mi]), (long long)k, (long long)n, hb, (long long)ms[im],
                     path_name[p], mis);
            gpu_run(g, xd + mis, ms[im], wg, bg, yd + mis, p, got, what);
            lct_assert_bitwise_f32(got, ref, ms[im] * n, what);
            runs++;
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
      }
    }
    lc_context_free(g);
  }
  printf(
      "awkward shapes: %lld (mode, K, N, M, path) runs bitwise equal to the CPU emulation "
      "(%.1f s)\n",
      (long long)runs, lct_now_s() - t0);
}

/* ---- 2. model shapes, column slices ------------------------------------------*/

static void test_cuda_fast_model_shapes_equal_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  /* Llama 3 8B: q/o 4096x4096, k/v 1024x4096, gate/up 14336x4096, down 4096x14336 */
  static const int64_t all_shapes[][2] = {{4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}};
  static const int64_t all_ms[] = {1, 8, 16, 32, 64, 256};
  /* sanitize: one shape of 18 tiles x 8 segments (144 units: the wgmma
   * decode kernel's split grid of 132 blocks, runs crossing tiles), M = 1,
   * 64, 256 */
  static const int64_t san_shapes[][2] = {{2304, 2048}};
  static const int64_t san_ms[] = {1, 64, 256};
  const int san = lct_sanitize();
  const int64_t(*shapes)[2] = san ? san_shapes : all_shapes;
  const size_t n_shapes = san ? LCT_LEN(san_shapes) : LCT_LEN(all_shapes);
  const int64_t *ms = san ? san_ms : all_ms;
  const size_t n_ms = san ? LCT_LEN(san_ms) : LCT_LEN(all_ms);
  const int64_t mmax = 256, slice = 48;
  const double t0 = lct_now_s();
  int64_t runs = 0;
  for (int mi = 0; mi < 2; mi++) {
    lc_context *g = lct_cuda(modes[mi]);
    for (size_t si = 0; si < n_shapes; si++) {
      const int64_t n = shapes[si][0], k = shapes[si][1];
      uint16_t *w = rand_bf16(n * k, 900 + si, 0.02f);
      float *x = rand_f32(mmax * k, 950 + si, 1.0f);
      /* CPU: the first and the last `slice` columns */
      float *ref_a = lct_malloc((size_t)(mmax * slice) * sizeof(float));
      float *ref_b = lct_malloc((size_t)(mmax * slice) * sizeof(float));
      cpu_fast(x, mmax, k, w, 0, slice, NULL, ref_a, mode_parts(modes[mi]));
      cpu_fast(x, mmax, k, w, n - slice, slice, NULL, ref_b, mode_parts(modes[mi]));
      lc_weights *wg = lct_weights_bf16(g, n, k, w);
      float *xd = lct_dev_alloc(g, (size_t)(mmax * k) * sizeof(float));
      float *yd = lct_dev_alloc(g, (size_t)(mmax * n) * sizeof(float));
      float *got = lct_malloc((size_t)(mmax * n) * sizeof(float));
      float *cols = lct_malloc((size_t)(mmax * slice) * sizeof(float));
      lct_dev_write(g, xd, x, (size_t)(mmax * k) * sizeof(float));
      for (size_t im = 0; im < n_ms; im++) {
        for (int p = 0; p < N_PATHS; p++) {
          const int64_t m = ms[im];
          char what[160];
          snprintf(what, sizeof what, "%s N=%lld K=%lld M=%lld path=%s", lc_mode_name(modes[mi]),
                   (long long)n, (long long)k, (long long)m, path_name[p]);
          gpu_run(g, xd, m, wg, NULL, yd, p, got, what);
          for (int side = 0; side < 2; side++) {
            const int64_t c0 = side ? n - slice : 0;
            for (int64_t r = 0; r < m; r++)
              memcpy(cols + r * slice, got + r * n + c0, (size_t)slice * sizeof(float));
            lct_assert_bitwise_f32(cols, side ? ref_b : ref_a, m * slice, what);
          }
          runs++;
        }
      }
      lc_buffer_free(g, xd);
      lc_buffer_free(g, yd);
      lc_weights_free(wg);
      free(w);
      free(x);
      free(ref_a);
      free(ref_b);
      free(got);
      free(cols);
    }
    lc_context_free(g);
  }
  printf(
      "model shapes: %lld (mode, shape, M, path) runs, 2 x 48 columns each bitwise equal to "
      "the CPU emulation (%.1f s)\n",
      (long long)runs, lct_now_s() - t0);
}

/* ---- 3. batch invariance, paths, repetitions ---------------------------------*/

static void test_cuda_fast_batch_invariant_paths_and_repeats(void **state) {
  (void)state;
  if (!have_gpu) skip();
  /* sanitize: M = 1, 9, 17, 64, 129, the row first and last; 2 repetitions */
  const int san = lct_sanitize();
  const int64_t k = 4096, n = 512, mbig = san ? 129 : 4096;
  const int reps = san ? 2 : 100;
  const double t0 = lct_now_s();
  int64_t checks = 0;
  lct_rng rng = lct_rng_new(77);
  for (int mi = 0; mi < 2; mi++) {
    lc_context *g = lct_cuda(modes[mi]);
    uint16_t *w = rand_bf16(n * k, 1200 + (uint64_t)mi, 0.02f);
    float *row = rand_f32(k, 1300, 1.0f);
    float *x = lct_malloc((size_t)(mbig * k) * sizeof(float));
    float *alone = lct_malloc((size_t)n * sizeof(float));
    float *got = lct_malloc((size_t)(mbig * n) * sizeof(float));
    lc_weights *wg = lct_weights_bf16(g, n, k, w);
    float *xd = lct_dev_alloc(g, (size_t)(mbig * k) * sizeof(float));
    float *yd = lct_dev_alloc(g, (size_t)(mbig * n) * sizeof(float));
    /* the row alone, decode path; also against the CPU */
    lct_dev_write(g, xd, row, (size_t)k * sizeof(float));
    gpu_run(g, xd, 1, wg, NULL, yd, 1, alone, "alone");
    float *cpu = lct_malloc((size_t)n * sizeof(float));
    cpu_fast(row, 1, k, w, 0, n, NULL, cpu, mode_parts(modes[mi]));
    lct_assert_bitwise_f32(alone, cpu, n, "row alone vs CPU");
    free(cpu);
    /* M = 1..64 every M, then a spread to 4096; the row first, last and inside;
     * neighbours random or poisoned (NaN, Inf, huge, subnormal) */
    int64_t mlist[80];
    int nm = 0;
    static const int64_t san_ms[] = {1, 9, 17, 64, 129};
    if (san) {
      for (size_t i = 0; i < LCT_LEN(san_ms); i++) mlist[nm++] = san_ms[i];
    } else {
      for (int64_t m = 1; m <= 64; m++) mlist[nm++] = m;
      const int64_t spread[] = {65, 100, 127, 128, 129, 255, 256, 511, 1000, 2048, 3000, 4096};
      for (size_t i = 0; i < sizeof spread / sizeof spread[0]; i++) mlist[nm++] = spread[i];
    }
    for (int i = 0; i < nm; i++) {
      const int64_t m = mlist[i];
      const int64_t at[3] = {0, m - 1, m / 2};
      for (int a = 0; a < (san ? 2 : 3); a++) {
        if (a > 0 && at[a] == at[0]) continue;
        if (i % 2)
          lct_fill_poison(x, m * k, i % LCT_POISON_KINDS, &rng);
        else
          for (int64_t e = 0; e < m * k; e++) x[e] = lct_normalf(&rng);
        memcpy(x + at[a] * k, row, (size_t)k * sizeof(float));
        lct_dev_write(g, xd, x, (size_t)(m * k) * sizeof(float));
        for (int p = 0; p < N_PATHS; p++) {
          /* the decode path at large M: slow, same code (wgmma-dec falls back to it above 64) */
          if (m > 256 && (p == 1 || p == 4)) continue;
          char what[128];
          snprintf(what, sizeof what, "%s M=%lld row at %lld path=%s", lc_mode_name(modes[mi]),
                   (long long)m, (long long)at[a], path_name[p]);
          gpu_run(g, xd, m, wg, NULL, yd, p, got, what);
          lct_assert_bitwise_f32(got + at[a] * n, alone, n, what);
          checks++;
        }
      }
    }
    /* 100 repetitions of one batch on AUTO (M = 64: the tiled path) */
    for (int64_t e = 0; e < 64 * k; e++) x[e] = lct_normalf(&rng);
    lct_dev_write(g, xd, x, (size_t)(64 * k) * sizeof(float));
    float *first = lct_malloc((size_t)(64 * n) * sizeof(float));
    gpu_run(g, xd, 64, wg, NULL, yd, 0, first, "repeat 0");
    for (int r = 1; r < reps; r++) {
      gpu_run(g, xd, 64, wg, NULL, yd, 0, got, "repeat");
      lct_assert_bitwise_f32(got, first, 64 * n, "repetitions");
    }
    /* decode path == tiled path on the same 64 rows */
    gpu_run(g, xd, 64, wg, NULL, yd, 1, got, "decode");
    lct_assert_bitwise_f32(got, first, 64 * n, "decode path vs auto (tiled) path");
    gpu_run(g, xd, 64, wg, NULL, yd, 2, got, "tiled mma.sync");
    lct_assert_bitwise_f32(got, first, 64 * n, "tiled (mma.sync) path vs auto");
    gpu_run(g, xd, 64, wg, NULL, yd, 3, got, "tiled wgmma");
    lct_assert_bitwise_f32(got, first, 64 * n, "wgmma path vs auto");
    gpu_run(g, xd, 64, wg, NULL, yd, 4, got, "wgmma decode");
    lct_assert_bitwise_f32(got, first, 64 * n, "wgmma decode path vs auto");
    free(first);
    lc_buffer_free(g, xd);
    lc_buffer_free(g, yd);
    lc_weights_free(wg);
    free(w);
    free(row);
    free(x);
    free(alone);
    free(got);
    lc_context_free(g);
  }
  printf(
      "batch invariance: %lld (mode, M, position, path) runs give the lone row's bits; %d "
      "repetitions identical; decode == tiled (%.1f s)\n",
      (long long)checks, reps, lct_now_s() - t0);
}

/* ---- 4. the wgmma decode path on long K -----------------------------------------*/

/* Path 4 (kernels/matmul_fast_wgmma_decode.cu) at K = 14336 (56 segments)
 * against the CPU emulation bit for bit, with a bias: N = 1024 splits K across
 * blocks at every M (8 column tiles x 56 segments over 132 blocks; the segment
 * sums meet in the combine kernel), N = 14336 at M = 1 and 8 (6272 units over
 * 132 blocks, whose runs of segments cross from one tile into the next) but
 * not at M = 33 and 64 (112 blocks keep y themselves); M = 1, 8, 33, 64
 * (wgmma N = 8, 8, 64, 64).  Three slices of 64 columns: the first
 * and the last (both warpgroups of a tile, every warp) and one across the tile
 * boundary at N/2.  Without sm_90a code or a 9.0 device path 4 falls back to
 * the mma.sync decode kernel, which is compared the same way (the summary line
 * says which ran).  sanitize: N x K = 1024 x 4608 (8 tiles x 18 segments:
 * 144 units over 132 blocks, split) and 16896 x 512 (132 tiles, one wave:
 * unsplit at every M, two segments). */
static void test_cuda_fast_wgmma_decode_long_k_equals_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const int64_t mmax = 64, slice = 64;
  static const int64_t all_nk[][2] = {{1024, 14336}, {14336, 14336}};
  static const int64_t san_nk[][2] = {{1024, 4608}, {16896, 512}};
  const int64_t(*nk)[2] = lct_sanitize() ? san_nk : all_nk;
  static const int64_t ms[] = {1, 8, 33, 64};
  int wgmma = 0;
#if defined(LC_HAVE_CUDA)
  {
    char err[256] = "";
    wgmma = lc_kernels_wgmma_probe(0, NULL, NULL, NULL, NULL, 0, err, sizeof err) == LC_OK;
  }
#endif
  const double t0 = lct_now_s();
  int64_t runs = 0;
  for (int mi = 0; mi < 2; mi++) {
    lc_context *g = lct_cuda(modes[mi]);
    for (size_t in = 0; in < 2; in++) {
      const int64_t n = nk[in][0], k = nk[in][1];
      const int64_t c0[3] = {0, n / 2 - slice / 2, n - slice};
      const uint64_t seed = 3000 + 8 * in + (uint64_t)mi;
      uint16_t *w = rand_bf16(n * k, seed, 0.02f);
      uint16_t *b = rand_bf16(n, seed + 1, 0.5f);
      float *x = rand_f32(mmax * k, seed + 2, 1.0f);
      /* rows are independent: the first m rows of the 64-row reference are M = m's */
      float *ref[3];
      for (int i = 0; i < 3; i++) {
        ref[i] = lct_malloc((size_t)(mmax * slice) * sizeof(float));
        cpu_fast(x, mmax, k, w, c0[i], slice, b, ref[i], mode_parts(modes[mi]));
      }
      lc_weights *wg = lct_weights_bf16(g, n, k, w);
      lc_weights *bg = lct_weights_bf16(g, 1, n, b);
      float *xd = lct_dev_alloc(g, (size_t)(mmax * k) * sizeof(float));
      float *yd = lct_dev_alloc(g, (size_t)(mmax * n) * sizeof(float));
      float *got = lct_malloc((size_t)(mmax * n) * sizeof(float));
      float *cols = lct_malloc((size_t)(mmax * slice) * sizeof(float));
      lct_dev_write(g, xd, x, (size_t)(mmax * k) * sizeof(float));
      for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++) {
        const int64_t m = ms[im];
        char what[160];
        snprintf(what, sizeof what, "%s N=%lld K=%lld M=%lld bias path=%s", lc_mode_name(modes[mi]),
                 (long long)n, (long long)k, (long long)m, path_name[LC_KMATMUL_WGMMA_DECODE]);
        gpu_run(g, xd, m, wg, bg, yd, LC_KMATMUL_WGMMA_DECODE, got, what);
        for (int i = 0; i < 3; i++) {
          for (int64_t r = 0; r < m; r++)
            memcpy(cols + r * slice, got + r * n + c0[i], (size_t)slice * sizeof(float));
          lct_assert_bitwise_f32(cols, ref[i], m * slice, what);
        }
        runs++;
      }
      lc_buffer_free(g, xd);
      lc_buffer_free(g, yd);
      lc_weights_free(bg);
      lc_weights_free(wg);
      for (int i = 0; i < 3; i++) free(ref[i]);
      free(w);
      free(b);
      free(x);
      free(got);
      free(cols);
    }
    lc_context_free(g);
  }
  printf(
      "wgmma decode, K = %s: %lld (mode, N, M) runs, 3 x 64 columns each bitwise equal to the "
      "CPU emulation; %s (%.1f s)\n",
      lct_sanitize() ? "4608 and 512" : "14336", (long long)runs,
      wgmma ? "the swap-AB wgmma kernel ran (split and unsplit grids)"
            : "no sm_90a code or not a 9.0 device: path 4 fell back to the mma.sync decode kernel",
      lct_now_s() - t0);
}

/* ---- 5. accuracy on a model shape ---------------------------------------------*/

static void test_cuda_fast_accuracy_vs_f64(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int64_t shapes[][2] = {{4096, 4096}, {4096, 14336}};
  const int64_t m = 16, slice = 128;
  for (size_t si = 0; si < (lct_sanitize() ? 1 : 2); si++) { /* sanitize: K = 4096 only */
    const int64_t n = shapes[si][0], k = shapes[si][1];
    uint16_t *w = rand_bf16(n * k, 2000 + si, 0.02f);
    float *x = rand_f32(m * k, 2100 + si, 1.0f);
    double *ref = lct_alloc_d(m * slice);
    for (int64_t r = 0; r < m; r++)
      for (int64_t j = 0; j < slice; j++) {
        double s = 0;
        for (int64_t kk = 0; kk < k; kk++) s += (double)x[r * k + kk] * lct_bf16(w[j * k + kk]);
        ref[r * slice + j] = s;
      }
    double err[3];
    const lc_mode ms[3] = {LC_MODE_FAST, LC_MODE_STRICT, LC_MODE_BF16};
    for (int i = 0; i < 3; i++) {
      lc_context *g = lct_cuda(ms[i]);
      lc_weights *wg = lct_weights_bf16(g, n, k, w);
      float *xd = lct_dev_alloc(g, (size_t)(m * k) * sizeof(float));
      float *yd = lct_dev_alloc(g, (size_t)(m * n) * sizeof(float));
      float *got = lct_malloc((size_t)(m * n) * sizeof(float));
      float *cols = lct_malloc((size_t)(m * slice) * sizeof(float));
      lct_dev_write(g, xd, x, (size_t)(m * k) * sizeof(float));
      gpu_run(g, xd, m, wg, NULL, yd, 0, got, lc_mode_name(ms[i]));
      for (int64_t r = 0; r < m; r++)
        memcpy(cols + r * slice, got + r * n, (size_t)slice * sizeof(float));
      err[i] = lct_normwise(cols, ref, m * slice);
      lc_buffer_free(g, xd);
      lc_buffer_free(g, yd);
      lc_weights_free(wg);
      free(got);
      free(cols);
      lc_context_free(g);
    }
    printf("N=%lld K=%lld: normwise vs float64: fast %.2e, strict %.2e, bf16 %.2e\n", (long long)n,
           (long long)k, err[0], err[1], err[2]);
    /* the fast tier's fidelity (docs/numerics.md 10.3) */
    assert_true(err[0] <= 1e-6);
    assert_true(err[0] <= 2.0 * err[1]);
    free(w);
    free(x);
    free(ref);
  }
}

int main(void) {
  lct_gpu_main_begin();
  have_gpu = lct_have_cuda();
  if (!have_gpu) printf("no usable CUDA device (or CUDA not in this build): GPU tests skip\n");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cuda_fast_awkward_shapes_equal_cpu),
      cmocka_unit_test(test_cuda_fast_model_shapes_equal_cpu),
      cmocka_unit_test(test_cuda_fast_batch_invariant_paths_and_repeats),
      cmocka_unit_test(test_cuda_fast_wgmma_decode_long_k_equals_cpu),
      cmocka_unit_test(test_cuda_fast_accuracy_vs_f64),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return (rc == 0 && !have_gpu) ? 77 : rc;
}

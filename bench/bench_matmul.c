/*
 * bench/bench_matmul.c — matmul y[M][N] = x[M][K] W[N][K]^T on the model
 * shapes, seven variants side by side in one run:
 *
 *   strict            lc_matmul in a strict CUDA context (bf16 W widened in
 *                     registers, canonical order, batch invariant)
 *   fast              lc_matmul in a fast CUDA context: x split into 3 bf16
 *                     parts, bf16 tensor cores in the fast order v1 (64-k
 *                     chunks; kernels/matmul_fast.cu), batch invariant
 *   bf16              lc_matmul in a bf16 CUDA context: x rounded to bf16,
 *                     the same order and kernels with one part
 *   vendor-bf16       lc_matmul in a vendor-bf16 context: x rounded to bf16,
 *                     cuBLASLt bf16 tensor cores, FP32 accumulation (engines)
 *   vendor-fp32       lc_matmul in a vendor-fp32 context: W widened to an FP32
 *                     temporary per call + cuBLASLt SGEMM (LayerCast as published)
 *   sgemm-prewidened  cuBLASLt SGEMM on a weight widened once beforehand (the
 *                     FP32 throughput bar for large-M strict)
 *   fast-alt          fast on the mma.sync kernels (lc_matmul_with_path:
 *                     DECODE for M <= 16, TILED above), where AUTO takes the
 *                     wgmma ones on sm_90 (the decode kernel up to M = 64,
 *                     the tiled one above); validated like fast.  With
 *                     LC_BENCH_FAST_ALT=wgmma: the wgmma tiled kernel at
 *                     every M (to place AUTO's switch at M = 64)
 *
 * Napkin math per call (the "GB/s" column counts the bf16 weight bytes only,
 * 2 N K, so it is comparable across variants and with the copy bandwidth):
 *   strict / vendor-bf16: read W 2NK + x 4MK (bf16: +2MK write, 2MK read),
 *                         write y 4MN bytes;
 *   fast / bf16:          read W 2NK + x 4MK, write and read the x parts
 *                         2PMK' each (P = 3 or 1 parts, K' = K rounded up to
 *                         64), write y 4MN bytes;
 *   vendor-fp32:          read W 2NK, write 4NK, read 4NK again (+ x, y);
 *   sgemm-prewidened:     read W 4NK (+ x, y);
 *   flops: 2 M N K for all (fast runs 3 bf16 MMAs per multiply-add, bf16 one:
 *   the tensor cores do 6 M N K and 2 M N K flops; the table counts 2 M N K).
 *
 * Before timing, every (shape, M, variant) is validated on rows 0, M/2 and
 * M-1 of slot 0: strict must be memcmp-equal to the CPU strict backend
 * (cpu_ref lc_cpu_matmul_strict), fast and bf16 memcmp-equal to the CPU
 * emulation of the MMAs (lc_cpu_matmul_fast with 3 or 1 parts; the count of
 * differing elements is printed, the run goes on and the exit status is 1),
 * the vendor variants within the bounds of
 * tests/test_cuda_vendor.c of a float64 oracle (vendor-fp32 and SGEMM:
 * gamma_K sum|x w|; vendor-bf16: (2^-8 + 4 gamma_K (1 + 2^-8)) sum|x w|).
 * Row 0 of x is the same at every M, so the number of distinct row-0
 * results across M shows which variants are batch invariant.
 *
 * Beside each decode bar (M = 1, K = N = 4096 and 8192) two calibrations of
 * the weight's own size, timed like the matmuls: a device-to-device copy of
 * its bytes, and a read-only stream of them (lc_kernels_stream_read, 4 blocks
 * of 512 threads per SM): a measured floor for a single launch that reads W.
 * The fast prefill bar (M = 4096, N = 4096, K = 14336, in --quick too):
 * >= 150 TFLOP/s and >= 3x the prewidened cuBLASLt SGEMM of the same run.
 *
 *   bench_matmul [--quick] [--md FILE] [--reps N] [--cell-ms T] [--device D] [--shape NxK]
 * (--shape: that one of the shapes below alone, at the M of --quick or not,
 * and no bars: a short run to profile, e.g. under ncu)
 * Exit status: 0, or 1 when a validation failed (strict, fast or bf16 bits, a
 * vendor bound; bars failing do not change it).
 */
#define _POSIX_C_SOURCE 200809L

#include <cuda_runtime_api.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cast/lc_cast.h"
#include "cpu_ref/cpu_ref.h"
#include "kernels/lc_kernels.h"
#include "lib/bounds.h"
#include "lib/lc_internal.h"

static const char usage[] =
    "usage: bench_matmul [--quick] [--md FILE] [--reps N] [--cell-ms T] [--device D]\n"
    "                    [--shape NxK]\n"
    "  --quick     3 shapes (4096x4096, 4096x14336, 8192x8192) at M = 1, 16, 256, 4096\n"
    "  --md FILE   also write the results as Markdown to FILE\n"
    "  --reps N    at most N timed repetitions per cell (default 200; quick 40)\n"
    "  --cell-ms T time budget per cell in ms (default 400; quick 100)\n"
    "  --shape NxK only that one of the shapes (no bars)\n";

typedef struct mm_shape {
  int64_t n, k;
  const char *what;
  int quick;
} mm_shape;

/* N x K (W is [N][K]). */
static const mm_shape shapes[] = {
    {4096, 4096, "attention q/o projection, Llama 3 8B", 1},
    {4096, 14336, "MLP down projection, Llama 3 8B", 1},
    {14336, 4096, "MLP gate/up projection, Llama 3 8B", 0},
    {1024, 4096, "attention k/v projection, Llama 3 8B", 0},
    {6144, 4096, "q, k and v joined (one-row passes), Llama 3 8B", 0},
    {28672, 4096, "gate and up joined (one-row passes), Llama 3 8B", 0},
    {3584, 18944, "MLP down projection, Qwen2 7B", 0},
    {128256, 4096, "vocabulary projection, Llama 3", 0},
    {8192, 8192, "K = N = 8192, DESIGN.md baselines and the decode bar", 1},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static const int64_t ms_full[] = {1, 4, 16, 64, 256, 1024, 4096};
static const int64_t ms_quick[] = {1, 16, 256, 4096};
#define MAX_MS 7
#define M_MAX 4096

/* Every variant but the SGEMM is lc_matmul in a context of its own mode
 * (ctx[v]); the SGEMM runs on vendor-fp32's context. */
enum { V_STRICT, V_FAST, V_BF16, V_VBF16, V_VFP32, V_SGEMM, V_FASTDEC, N_VARIANTS };
#define N_CTX V_SGEMM
static const char *const vnames[N_VARIANTS] = {
    "strict", "fast", "bf16", "vendor-bf16", "vendor-fp32", "sgemm-prewidened", "fast-alt"};
/* fast-alt: the mma.sync kernels (AUTO takes the wgmma ones on sm_90): the
 * decode kernel up to this M, the tiled one above */
#define FASTMMA_DECODE_MAX_M 16
static const lc_mode vmodes[N_CTX] = {LC_MODE_STRICT, LC_MODE_FAST, LC_MODE_BF16,
                                      LC_MODE_VENDOR_BF16, LC_MODE_VENDOR_FP32};
#define MAX_COPIES 8

/* Medians kept for the bars: [shape][M index][variant], 0 when not run. */
static double med_us[N_SHAPES][MAX_MS][N_VARIANTS];
static int n_validation_failures;
/* fast and bf16: elements that differed from the CPU emulation, of those checked */
static int64_t n_emul_diff[N_VARIANTS], n_emul_checked[N_VARIANTS];

/* ---- CPU references for the validated rows ------------------------------------*/

typedef struct row_ref {
  int64_t row;   /* row of x */
  float *strict; /* [N] CPU strict */
  float *fast;   /* [N] CPU fast (the MMAs emulated, 3 parts) */
  float *bf16;   /* [N] CPU bf16 (1 part) */
  double *exact; /* [N] float64 sum x w */
  double *abs_s; /* [N] float64 sum |x w| */
} row_ref;

/* One row's references: kind 0 strict and float64, 1 fast, 2 bf16 (each its
 * own thread: the emulation costs some 8 to 25 ns per multiply-add with 3
 * parts, ~0.5 s or more per row of N = 4096, K = 14336). */
typedef struct ref_job {
  row_ref *r;
  int kind;
  const float *x; /* the row, [K] */
  const uint16_t *w;
  int64_t n, k;
  lc_status st;
} ref_job;
#define REF_KINDS 3

static void *ref_worker(void *arg) {
  ref_job *j = arg;
  row_ref *r = j->r;
  if (j->kind > 0) {
    j->st = lc_cpu_matmul_fast(j->x, 1, j->k, j->w, j->n, NULL, j->kind == 1 ? r->fast : r->bf16,
                               j->kind == 1 ? 3 : 1);
    return NULL;
  }
  j->st = lc_cpu_matmul_strict(j->x, 1, j->k, j->w, j->n, NULL, r->strict);
  float *wrow = malloc((size_t)j->k * sizeof *wrow);
  if (!wrow) {
    j->st = LC_ERR_OUT_OF_MEMORY;
    return NULL;
  }
  for (int64_t c = 0; c < j->n; c++) {
    const uint16_t *wc = j->w + c * j->k;
    for (int64_t t = 0; t < j->k; t++) wrow[t] = lc_bf16_to_f32(wc[t]);
    double s = 0, a = 0;
    for (int64_t t = 0; t < j->k; t++) {
      double v = (double)j->x[t] * (double)wrow[t];
      s += v;
      a += fabs(v);
    }
    r->exact[c] = s;
    r->abs_s[c] = a;
  }
  free(wrow);
  return NULL;
}

/* ---- one shape -----------------------------------------------------------------*/

typedef struct mm_case {
  lc_context *ctx[N_CTX]; /* one per mode of vmodes (the SGEMM runs on vendor-fp32's) */
  int n_w;                /* bf16 weight copies per context (rotation) */
  lc_weights *w[N_CTX][MAX_COPIES];
  int n_w32; /* prewidened fp32 copies */
  float *w32[MAX_COPIES];
  int n_x; /* x copies, each [M_MAX][K], all holding the same data */
  float *x[MAX_COPIES];
  float *y; /* [M_MAX][N] */
  int64_t m, n, k;
  int variant;
} mm_case;

static lc_status mm_call(void *arg, int slot) {
  mm_case *c = arg;
  const float *x = c->x[slot % c->n_x];
  const int v = c->variant;
  if (v == V_SGEMM)
    return lc_vendor_sgemm_prewidened(c->ctx[V_VFP32], x, c->m, c->w32[slot % c->n_w32], c->n, c->k,
                                      c->y);
  if (v == V_FASTDEC) {
    /* LC_BENCH_FAST_ALT=wgmma: the wgmma tiled kernel at every M instead
     * (against AUTO's wgmma decode kernel up to M = 64) */
    static int wg = -1;
    if (wg < 0) {
      const char *e = getenv("LC_BENCH_FAST_ALT");
      wg = e && !strcmp(e, "wgmma");
    }
    const lc_kmatmul_path alt = wg                             ? LC_KMATMUL_WGMMA
                                : c->m <= FASTMMA_DECODE_MAX_M ? LC_KMATMUL_DECODE
                                                               : LC_KMATMUL_TILED;
    return lc_matmul_with_path(c->ctx[V_FAST], x, c->m, c->w[V_FAST][slot % c->n_w], NULL, c->y,
                               alt);
  }
  return lc_matmul(c->ctx[v], x, c->m, c->w[v][slot % c->n_w], NULL, c->y);
}

static lc_context *variant_ctx(const mm_case *c, int v) {
  return c->ctx[v == V_SGEMM ? V_VFP32 : v == V_FASTDEC ? V_FAST : v];
}

/* whether variant v runs at M = m */
static int variant_runs(int v, int64_t m) {
  (void)v;
  (void)m;
  return 1;
}

/* Elements of got whose bits differ from ref; the first is printed under
 * `what` (lcb_check_bitwise). */
static int64_t count_bit_diffs(const float *got, const float *ref, int64_t n, const char *what) {
  if (lcb_check_bitwise(got, ref, n, what)) return 0;
  int64_t d = 0;
  for (int64_t i = 0; i < n; i++) d += memcmp(&got[i], &ref[i], sizeof(float)) != 0;
  return d;
}

static int find_ref(const row_ref *refs, int n_refs, int64_t row) {
  for (int i = 0; i < n_refs; i++)
    if (refs[i].row == row) return i;
  return -1;
}

/* Validates the variant's result for the current M on rows 0, M/2, M-1
 * (after one call on slot 0); returns the worst err/bound (0 for strict,
 * fast and bf16, which must be bitwise; the differing elements of fast and
 * bf16 are counted in n_emul_diff) and copies row 0 into row0. */
static double validate(mm_case *c, int v, const row_ref *refs, int n_refs, float *row0) {
  lc_context *ctx = variant_ctx(c, v);
  lcb_check(ctx, mm_call(c, 0), "validation call");
  lcb_sync(ctx);
  int64_t rows[3] = {0, c->m / 2, c->m - 1};
  float *got = lcb_malloc((size_t)c->n * sizeof *got);
  double *tol = lcb_malloc((size_t)c->n * sizeof *tol);
  /* no bias: a product meets K roundings in any order */
  double g = lc_bound_gamma((double)lc_bound_matmul_any_order_rounds(c->k, 0));
  double worst = 0;
  int64_t emul_diff = 0, emul_checked = 0;
  for (int i = 0; i < 3; i++) {
    if (i > 0 && rows[i] == rows[i - 1]) continue;
    if (i == 2 && rows[2] == rows[0]) continue;
    int ri = find_ref(refs, n_refs, rows[i]);
    if (ri < 0) {
      fprintf(stderr, "bench_matmul: internal error: no reference for row %lld\n",
              (long long)rows[i]);
      exit(1);
    }
    lcb_download(ctx, got, c->y + rows[i] * c->n, (size_t)c->n * sizeof(float));
    if (rows[i] == 0) memcpy(row0, got, (size_t)c->n * sizeof(float));
    char what[160];
    snprintf(what, sizeof what, "matmul %s M=%lld N=%lld K=%lld row %lld", vnames[v],
             (long long)c->m, (long long)c->n, (long long)c->k, (long long)rows[i]);
    if (v == V_STRICT) {
      if (!lcb_check_bitwise(got, refs[ri].strict, c->n, what)) n_validation_failures++;
      continue;
    }
    if (v == V_FAST || v == V_BF16 || v == V_FASTDEC) {
      emul_diff += count_bit_diffs(got, v == V_BF16 ? refs[ri].bf16 : refs[ri].fast, c->n, what);
      emul_checked += c->n;
      continue;
    }
    /* tests/test_cuda_vendor.c derives these bounds */
    double f = v == V_VBF16 ? 0x1p-8 + 4.0 * g * (1.0 + 0x1p-8) : g;
    for (int64_t j = 0; j < c->n; j++) tol[j] = f * refs[ri].abs_s[j];
    int64_t wi;
    double r = lc_bound_worst_ratio(got, refs[ri].exact, tol, c->n, &wi);
    if (!(r <= 1.0)) {
      printf("VALIDATION FAIL %s: [%lld] exact %.9g got %.9g bound %.3g (%.2fx)\n", what,
             (long long)wi, refs[ri].exact[wi], (double)got[wi], tol[wi], r);
      n_validation_failures++;
    }
    if (!(r <= worst)) worst = r;
  }
  if (v == V_FAST || v == V_BF16 || v == V_FASTDEC) {
    if (emul_diff) {
      printf(
          "VALIDATION FAIL matmul %s M=%lld N=%lld K=%lld: %lld of %lld checked elements differ "
          "from the CPU emulation (lc_cpu_matmul_fast); timing it anyway\n",
          vnames[v], (long long)c->m, (long long)c->n, (long long)c->k, (long long)emul_diff,
          (long long)emul_checked);
      n_validation_failures++;
    }
    n_emul_diff[v] += emul_diff;
    n_emul_checked[v] += emul_checked;
  }
  free(got);
  free(tol);
  return worst;
}

static void run_shape(const lcb_device *d, const lcb_opts *o, int si) {
  const mm_shape *sh = &shapes[si];
  const int64_t n = sh->n, k = sh->k;
  const int64_t *ms = o->quick ? ms_quick : ms_full;
  const int n_ms = o->quick ? (int)(sizeof ms_quick / sizeof ms_quick[0])
                            : (int)(sizeof ms_full / sizeof ms_full[0]);
  double t0 = lcb_now();
  lcb_note("\n### matmul N=%lld K=%lld (%s)\n\n", (long long)n, (long long)k, sh->what);

  /* host data: W bf16 [N][K] and x [M_MAX][K], uniform, never zero */
  lcb_rng rng = lcb_rng_new(1000 + (uint64_t)si);
  uint16_t *wh = lcb_malloc((size_t)(n * k) * sizeof *wh);
  float *xh = lcb_malloc((size_t)(M_MAX * k) * sizeof *xh);
  lcb_fill_bf16(&rng, wh, n * k, (float)(1.0 / sqrt((double)k)));
  lcb_fill_f32(&rng, xh, M_MAX * k, 1.0f);

  /* CPU references for every validated row, in parallel */
  int64_t want[1 + 2 * MAX_MS];
  int n_refs = 0;
  want[n_refs++] = 0;
  for (int mi = 0; mi < n_ms; mi++) {
    int64_t cand[2] = {ms[mi] / 2, ms[mi] - 1};
    for (int q = 0; q < 2; q++) {
      int dup = 0;
      for (int i = 0; i < n_refs; i++) dup |= want[i] == cand[q];
      if (!dup) want[n_refs++] = cand[q];
    }
  }
  row_ref refs[1 + 2 * MAX_MS];
  ref_job jobs[REF_KINDS * (1 + 2 * MAX_MS)];
  pthread_t th[REF_KINDS * (1 + 2 * MAX_MS)];
  const int n_jobs = REF_KINDS * n_refs;
  for (int i = 0; i < n_refs; i++) {
    refs[i].row = want[i];
    refs[i].strict = lcb_malloc((size_t)n * sizeof(float));
    refs[i].fast = lcb_malloc((size_t)n * sizeof(float));
    refs[i].bf16 = lcb_malloc((size_t)n * sizeof(float));
    refs[i].exact = lcb_malloc((size_t)n * sizeof(double));
    refs[i].abs_s = lcb_malloc((size_t)n * sizeof(double));
  }
  for (int j = 0; j < n_jobs; j++) {
    const int i = j / REF_KINDS;
    jobs[j] = (ref_job){&refs[i], j % REF_KINDS, xh + want[i] * k, wh, n, k, LC_OK};
    if (pthread_create(&th[j], NULL, ref_worker, &jobs[j]) != 0) {
      fprintf(stderr, "bench_matmul: pthread_create failed\n");
      exit(1);
    }
  }
  for (int j = 0; j < n_jobs; j++) {
    pthread_join(th[j], NULL);
    if (jobs[j].st != LC_OK) {
      fprintf(stderr, "bench_matmul: CPU reference (kind %d) for row %lld failed\n", jobs[j].kind,
              (long long)jobs[j].r->row);
      exit(1);
    }
  }
  double t_ref = lcb_now() - t0;
  const int64_t emul0[3][2] = {{n_emul_diff[V_FAST], n_emul_checked[V_FAST]},
                               {n_emul_diff[V_BF16], n_emul_checked[V_BF16]},
                               {n_emul_diff[V_FASTDEC], n_emul_checked[V_FASTDEC]}};

  /* device data: fresh contexts (so memory figures are this shape's) */
  mm_case c;
  memset(&c, 0, sizeof c);
  c.n = n;
  c.k = k;
  for (int ci = 0; ci < N_CTX; ci++) c.ctx[ci] = lcb_context(d, vmodes[ci]);
  size_t wbytes = (size_t)(n * k) * 2;
  c.n_w = lcb_rotation(d, wbytes, MAX_COPIES);
  c.n_w32 = lcb_rotation(d, 2 * wbytes, MAX_COPIES);
  for (int ci = 0; ci < N_CTX; ci++)
    for (int i = 0; i < c.n_w; i++)
      lcb_check(c.ctx[ci], lc_weights_create(c.ctx[ci], n, k, LC_DTYPE_BF16, wh, &c.w[ci][i]),
                "lc_weights_create");
  {
    float *wf = lcb_malloc((size_t)(n * k) * sizeof *wf);
    for (int64_t i = 0; i < n * k; i++) wf[i] = lc_bf16_to_f32(wh[i]);
    for (int i = 0; i < c.n_w32; i++) {
      c.w32[i] = lcb_dalloc(c.ctx[V_VFP32], (size_t)(n * k) * sizeof(float));
      lcb_upload(c.ctx[V_VFP32], c.w32[i], wf, (size_t)(n * k) * sizeof(float));
    }
    free(wf);
  }
  c.n_x = c.n_w > c.n_w32 ? c.n_w : c.n_w32;
  size_t xbytes = (size_t)(M_MAX * k) * sizeof(float);
  for (int i = 0; i < c.n_x; i++) {
    c.x[i] = lcb_dalloc(c.ctx[0], xbytes);
    lcb_upload(c.ctx[0], c.x[i], xh, xbytes);
  }
  c.y = lcb_dalloc(c.ctx[0], (size_t)(M_MAX * n) * sizeof(float));
  lcb_note(
      "setup: CPU references for %d rows %.1f s; rotation: %d bf16 weight copies "
      "(%.0f MiB each), %d fp32 copies, %d x copies (L2 %.0f MiB)\n\n",
      n_refs, t_ref, c.n_w, (double)wbytes / 1048576.0, c.n_w32, c.n_x,
      (double)d->l2_bytes / 1048576.0);

  /* the table */
  float *row0[N_VARIANTS][MAX_MS] = {{0}};
  double worst[N_VARIANTS] = {0};
  /* baseline first */
  int order[N_VARIANTS] = {V_VBF16, V_STRICT, V_FAST, V_FASTDEC, V_BF16, V_VFP32, V_SGEMM};
  lcb_result_header();
  for (int mi = 0; mi < n_ms; mi++) {
    c.m = ms[mi];
    lcb_timing t[N_VARIANTS];
    for (int oi = 0; oi < N_VARIANTS; oi++) {
      int v = order[oi];
      if (!variant_runs(v, c.m)) continue;
      c.variant = v;
      row0[v][mi] = lcb_malloc((size_t)n * sizeof(float));
      double r = validate(&c, v, refs, n_refs, row0[v][mi]);
      if (r > worst[v]) worst[v] = r;
      lcb_time(d, o, variant_ctx(&c, v), mm_call, &c, c.n_x, &t[v]);
      med_us[si][mi][v] = t[v].median_us;
    }
    char shape[64];
    snprintf(shape, sizeof shape, "M=%lld N=%lld K=%lld", (long long)c.m, (long long)n,
             (long long)k);
    for (int v = 0; v < N_VARIANTS; v++) {
      if (!variant_runs(v, c.m)) continue;
      char vs[64];
      snprintf(vs, sizeof vs, "%.2fx vs vendor-bf16", t[V_VBF16].median_us / t[v].median_us);
      lcb_result("matmul", shape, vnames[v], &t[v], (double)wbytes,
                 2.0 * (double)c.m * (double)n * (double)k, v == V_VBF16 ? "1.00x (baseline)" : vs);
    }
  }

  /* batch invariance: distinct row-0 bit patterns across M */
  lcb_note("\nrow 0 (the same x row at every M) across the %d values of M, distinct results:",
           n_ms);
  for (int v = 0; v < N_VARIANTS; v++) {
    int distinct = 0, run = 0;
    for (int a = 0; a < n_ms; a++) {
      if (!row0[v][a]) continue;
      run++;
      int seen = 0;
      for (int b = 0; b < a && !seen; b++)
        seen = row0[v][b] && memcmp(row0[v][a], row0[v][b], (size_t)n * sizeof(float)) == 0;
      if (!seen) distinct++;
    }
    if (run == n_ms)
      lcb_note(" %s %d;", vnames[v], distinct);
    else
      lcb_note(" %s %d (of its %d values of M);", vnames[v], distinct, run);
  }
  lcb_note("\n\n");

  /* memory per mode, from lc_context_get_memory */
  lcb_note(
      "memory per mode (lc_context_get_memory; %d weight copies per context for rotation):\n\n",
      c.n_w);
  lcb_note("| mode | weight bytes/param | workspace peak | peak incl. workspace, bytes/param |\n");
  lcb_note("|---|---:|---:|---:|\n");
  for (int ci = 0; ci < N_CTX; ci++) {
    lc_memory_stats st;
    lcb_check(c.ctx[ci], lc_context_get_memory(c.ctx[ci], &st), "lc_context_get_memory");
    double params = (double)n * (double)k;
    double wpp = (double)st.weights_bytes / (double)c.n_w / params;
    lcb_note("| %s | %.2f | %.1f MiB | %.2f |\n", vnames[ci], wpp,
             (double)st.workspace_peak_bytes / 1048576.0,
             wpp + (double)st.workspace_peak_bytes / params);
  }
  lcb_note("| %s | 4.00 (caller's fp32 copy) | - | 4.00 + cuBLASLt workspace |\n\n",
           vnames[V_SGEMM]);
  lcb_note(
      "validation: strict memcmp-equal to CPU strict on rows 0, M/2, M-1 at every M; fast, "
      "fast-alt and bf16 against the CPU emulation on the same rows, elements whose bits "
      "differ: fast %lld of %lld, fast-alt %lld of %lld, bf16 %lld of %lld; worst "
      "err/bound: vendor-bf16 %.3g, vendor-fp32 %.3g, sgemm-prewidened %.3g (<= 1 passes)\n",
      (long long)(n_emul_diff[V_FAST] - emul0[0][0]),
      (long long)(n_emul_checked[V_FAST] - emul0[0][1]),
      (long long)(n_emul_diff[V_FASTDEC] - emul0[2][0]),
      (long long)(n_emul_checked[V_FASTDEC] - emul0[2][1]),
      (long long)(n_emul_diff[V_BF16] - emul0[1][0]),
      (long long)(n_emul_checked[V_BF16] - emul0[1][1]), worst[V_VBF16], worst[V_VFP32],
      worst[V_SGEMM]);
  lcb_note("shape time: %.1f s\n", lcb_now() - t0);

  for (int v = 0; v < N_VARIANTS; v++)
    for (int mi = 0; mi < n_ms; mi++) free(row0[v][mi]);
  for (int i = 0; i < c.n_x; i++) lc_buffer_free(c.ctx[0], c.x[i]);
  lc_buffer_free(c.ctx[0], c.y);
  for (int i = 0; i < c.n_w32; i++) lc_buffer_free(c.ctx[V_VFP32], c.w32[i]);
  for (int ci = 0; ci < N_CTX; ci++) {
    for (int i = 0; i < c.n_w; i++) lc_weights_free(c.w[ci][i]);
    lc_context_free(c.ctx[ci]);
  }
  for (int i = 0; i < n_refs; i++) {
    free(refs[i].strict);
    free(refs[i].fast);
    free(refs[i].bf16);
    free(refs[i].exact);
    free(refs[i].abs_s);
  }
  free(wh);
  free(xh);
}

/* ---- bars ------------------------------------------------------------------------*/

static int shape_index(int64_t n, int64_t k) {
  for (int i = 0; i < N_SHAPES; i++)
    if (shapes[i].n == n && shapes[i].k == k) return i;
  return -1;
}

static int m_index(const lcb_opts *o, int64_t m) {
  const int64_t *ms = o->quick ? ms_quick : ms_full;
  int n_ms = o->quick ? (int)(sizeof ms_quick / sizeof ms_quick[0])
                      : (int)(sizeof ms_full / sizeof ms_full[0]);
  for (int i = 0; i < n_ms; i++)
    if (ms[i] == m) return i;
  return -1;
}

/* The decode bars' calibrations on a weight-sized buffer, timed like the
 * matmuls: a device-to-device copy (the copy bandwidth at that size, fixed
 * per-call costs included; the bars compare against the 1 GiB copy) and a
 * read-only stream of the same bytes. */
typedef struct calib_case {
  lc_context *ctx;
  void *src[MAX_COPIES], *dst;
  size_t bytes;
  uint32_t *sink;  /* lc_kernels_stream_read's sink */
  int read_blocks; /* 4 per multiprocessor */
} calib_case;

static lc_status read_call(void *arg, int slot) {
  calib_case *c = arg;
  return lc_kernels_stream_read(c->src[slot], c->bytes, c->read_blocks, 512, c->sink,
                                lc_cuda_stream(c->ctx), NULL, 0);
}

static lc_status copy_call(void *arg, int slot) {
  calib_case *c = arg;
  return cudaMemcpyAsync(c->dst, c->src[slot], c->bytes, cudaMemcpyDeviceToDevice,
                         (cudaStream_t)lc_cuda_stream(c->ctx)) == cudaSuccess
             ? LC_OK
             : LC_ERR_CUDA;
}

/* ts: strict's median at M = 1 on this shape (us). */
static void calibrate_at_size(const lcb_device *d, const lcb_opts *o, int64_t nk, double ts) {
  calib_case c;
  memset(&c, 0, sizeof c);
  c.ctx = lcb_context(d, LC_MODE_STRICT);
  c.bytes = (size_t)(2 * nk * nk); /* the bf16 weight's bytes */
  int n = lcb_rotation(d, 2 * c.bytes, MAX_COPIES);
  lcb_rng r = lcb_rng_new(99);
  uint16_t *h = lcb_malloc(c.bytes);
  lcb_fill_bf16(&r, h, nk * nk, 1.0f);
  for (int i = 0; i < n; i++) {
    c.src[i] = lcb_dalloc(c.ctx, c.bytes);
    lcb_upload(c.ctx, c.src[i], h, c.bytes);
  }
  c.dst = lcb_dalloc(c.ctx, c.bytes);
  c.sink = lcb_dalloc(c.ctx, sizeof(uint32_t));
  c.read_blocks = 4 * d->n_sm;
  lcb_timing t, tr;
  lcb_time(d, o, c.ctx, copy_call, &c, n, &t);
  lcb_time(d, o, c.ctx, read_call, &c, n, &tr);
  lcb_note(
      "- context: a device-to-device copy of the %lld x %lld weight's %.0f MiB takes %.2f us "
      "(median) = %.0f GB/s read + write, %.1f%% of the 1 GiB copy's rate; strict reads the "
      "weight once (half the bytes of the copy)\n",
      (long long)nk, (long long)nk, (double)c.bytes / 1048576.0, t.median_us,
      2.0 * (double)c.bytes / (t.median_us * 1e3),
      100.0 * 2.0 * (double)c.bytes / (t.median_us * 1e3) / d->copy_gbps);
  lcb_note(
      "- context: merely reading those %.0f MiB once in one launch (lc_kernels_stream_read: "
      "16-byte loads, %d blocks of 512 threads, no arithmetic) takes %.2f us (median) = %.0f "
      "GB/s = %.1f%% of the copy bandwidth, the measured floor for M = 1 at this size; strict's "
      "%.2f us "
      "is %.2fx that floor\n",
      (double)c.bytes / 1048576.0, c.read_blocks, tr.median_us,
      (double)c.bytes / (tr.median_us * 1e3),
      100.0 * (double)c.bytes / (tr.median_us * 1e3) / d->copy_gbps, ts, ts / tr.median_us);
  for (int i = 0; i < n; i++) lc_buffer_free(c.ctx, c.src[i]);
  lc_buffer_free(c.ctx, c.dst);
  lc_buffer_free(c.ctx, c.sink);
  free(h);
  lc_context_free(c.ctx);
}

static void bars(const lcb_device *d, const lcb_opts *o) {
  lcb_note("\n### bars (issue 3 and DESIGN.md)\n\n");
  /* decode: strict at >= 80% of the copy bandwidth on weight bytes, and no
   * slower than vendor-bf16 */
  for (int q = 0; q < 2; q++) {
    int64_t nk = q == 0 ? 4096 : 8192;
    int si = shape_index(nk, nk), mi = m_index(o, 1);
    if (si < 0 || mi < 0 || med_us[si][mi][V_STRICT] <= 0) {
      lcb_note("- SKIP decode M=1 K=N=%lld (not run)\n", (long long)nk);
      continue;
    }
    double ts = med_us[si][mi][V_STRICT], tb = med_us[si][mi][V_VBF16];
    double gbps = 2.0 * (double)(nk * nk) / (ts * 1e-6) / 1e9;
    double frac = gbps / d->copy_gbps;
    lcb_note(
        "- %s decode M=1 K=N=%lld: strict %.0f GB/s on weight bytes = %.1f%% of the copy "
        "bandwidth %.0f GB/s (bar >= 80%%)\n",
        frac >= 0.8 ? "PASS" : "FAIL", (long long)nk, gbps, 100.0 * frac, d->copy_gbps);
    lcb_note("- %s decode M=1 K=N=%lld: strict %.2f us <= vendor-bf16 %.2f us (ratio %.2f)\n",
             ts <= tb ? "PASS" : "FAIL", (long long)nk, ts, tb, tb / ts);
    calibrate_at_size(d, o, nk, ts);
  }
  /* prefill: M = 4096 on the "4096x14336", read as N x K like the
   * table: N = 4096, K = 14336 (the MLP down projection) */
  {
    int si = shape_index(4096, 14336), mi = m_index(o, 4096);
    if (si < 0 || mi < 0 || med_us[si][mi][V_STRICT] <= 0) {
      lcb_note("- SKIP prefill M=4096 N=4096 K=14336 (not run)\n");
    } else {
      double ts = med_us[si][mi][V_STRICT], tg = med_us[si][mi][V_SGEMM];
      double fl = 2.0 * 4096.0 * 4096.0 * 14336.0;
      double r = tg / ts;
      lcb_note(
          "- %s prefill M=4096 N=4096 K=14336: strict %.1f TFLOP/s = %.2fx the prewidened "
          "cuBLASLt SGEMM's %.1f TFLOP/s (bar >= 0.75x)\n",
          r >= 0.75 ? "PASS" : "FAIL", fl / (ts * 1e-6) / 1e12, r, fl / (tg * 1e-6) / 1e12);
    }
  }
  /* the fast tier's prefill bar, same cell: >= 150 TFLOP/s (2 M N K) and
   * >= 3x the prewidened SGEMM measured in this run; bf16 printed beside it */
  {
    int si = shape_index(4096, 14336), mi = m_index(o, 4096);
    if (si < 0 || mi < 0 || med_us[si][mi][V_FAST] <= 0) {
      lcb_note("- SKIP fast prefill M=4096 N=4096 K=14336 (not run)\n");
    } else {
      const double fl = 2.0 * 4096.0 * 4096.0 * 14336.0;
      const double tf = med_us[si][mi][V_FAST], tb = med_us[si][mi][V_BF16];
      const double tg = med_us[si][mi][V_SGEMM], tv = med_us[si][mi][V_VFP32];
      const double tflops = fl / (tf * 1e-6) / 1e12, r = tg / tf;
      lcb_note("- %s fast prefill M=4096 N=4096 K=14336: %.1f TFLOP/s (bar >= 150)\n",
               tflops >= 150.0 ? "PASS" : "FAIL", tflops);
      lcb_note(
          "- %s fast prefill M=4096 N=4096 K=14336: %.2fx the prewidened cuBLASLt SGEMM's %.1f "
          "TFLOP/s (bar >= 3x); %.2fx vendor-fp32's %.1f TFLOP/s; bf16 %.1f TFLOP/s (%.2fx "
          "SGEMM, no bar)%s\n",
          r >= 3.0 ? "PASS" : "FAIL", r, fl / (tg * 1e-6) / 1e12, tv / tf, fl / (tv * 1e-6) / 1e12,
          fl / (tb * 1e-6) / 1e12, tg / tb,
          n_emul_diff[V_FAST] ? " (fast's bits differed from the CPU emulation: see above)" : "");
    }
  }
  /* goals of DESIGN.md over every shape run: decode 5x faster than
   * upcast + SGEMM; prefill (M >= 1024) at >= 0.75x SGEMM */
  double worst_dec = INFINITY, worst_pre = INFINITY;
  const char *wd = "-", *wp = "-";
  static char bd[96], bp[96];
  const int64_t *ms = o->quick ? ms_quick : ms_full;
  int n_ms = o->quick ? (int)(sizeof ms_quick / sizeof ms_quick[0])
                      : (int)(sizeof ms_full / sizeof ms_full[0]);
  for (int si = 0; si < N_SHAPES; si++) {
    for (int mi = 0; mi < n_ms; mi++) {
      double ts = med_us[si][mi][V_STRICT];
      if (ts <= 0) continue;
      if (ms[mi] <= 16) {
        double r = med_us[si][mi][V_VFP32] / ts;
        if (r < worst_dec) {
          worst_dec = r;
          snprintf(bd, sizeof bd, "M=%lld N=%lld K=%lld", (long long)ms[mi],
                   (long long)shapes[si].n, (long long)shapes[si].k);
          wd = bd;
        }
      }
      if (ms[mi] >= 1024) {
        double r = med_us[si][mi][V_SGEMM] / ts;
        if (r < worst_pre) {
          worst_pre = r;
          snprintf(bp, sizeof bp, "M=%lld N=%lld K=%lld", (long long)ms[mi],
                   (long long)shapes[si].n, (long long)shapes[si].k);
          wp = bp;
        }
      }
    }
  }
  if (isfinite(worst_dec))
    lcb_note(
        "- %s goal: decode (M <= 16) strict >= 5x faster than vendor-fp32 on every shape: "
        "worst %.2fx at %s\n",
        worst_dec >= 5.0 ? "PASS" : "FAIL", worst_dec, wd);
  if (isfinite(worst_pre))
    lcb_note(
        "- %s goal: prefill (M >= 1024) strict >= 0.75x prewidened SGEMM throughput on "
        "every shape: worst %.2fx at %s\n",
        worst_pre >= 0.75 ? "PASS" : "FAIL", worst_pre, wp);
}

int main(int argc, char **argv) {
  lcb_opts o;
  lcb_parse_args(argc, argv, &o, usage);
  lcb_device dev;
  lcb_device_open(&o, &dev);
  double t0 = lcb_now();
  int ran = 0;
  for (int si = 0; si < N_SHAPES; si++) {
    if (o.shape_n ? shapes[si].n != o.shape_n || shapes[si].k != o.shape_k
                  : o.quick && !shapes[si].quick)
      continue;
    run_shape(&dev, &o, si);
    ran++;
  }
  if (o.shape_n && ran == 0) {
    fprintf(stderr, "bench_matmul: no shape %lldx%lld in the table\n", (long long)o.shape_n,
            (long long)o.shape_k);
    return 2;
  }
  if (!o.shape_n) bars(&dev, &o);
  lcb_note(
      "\nfast, fast-alt and bf16 against the CPU emulation (bitwise): fast %lld of %lld "
      "elements differ, fast-alt %lld of %lld, bf16 %lld of %lld\n",
      (long long)n_emul_diff[V_FAST], (long long)n_emul_checked[V_FAST],
      (long long)n_emul_diff[V_FASTDEC], (long long)n_emul_checked[V_FASTDEC],
      (long long)n_emul_diff[V_BF16], (long long)n_emul_checked[V_BF16]);
  lcb_note("validation failures: %d; total time %.0f s\n", n_validation_failures, lcb_now() - t0);
  lcb_write_markdown(&o, &dev, "matmul: strict, fast and bf16 vs the vendor baselines",
                     "GB/s counts the bf16 weight bytes (2 N K) only; \"vs baseline\" is the "
                     "speed relative to vendor-bf16 (time of vendor-bf16 / time of the variant; "
                     "> 1 is faster). TFLOP/s counts 2 M N K.");
  lcb_device_close();
  return n_validation_failures ? 1 : 0;
}

/*
 * tests/test_cuda_mma.c — the probe: does the CPU model of the bf16 MMA
 * (cpu_ref/mma_bf16.c, docs/numerics.md 10.2) give the hardware's bits?
 *
 * Runs mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32 (the instruction of
 * kernels/matmul_fast.cu) on tiles of chosen inputs and compares every one of
 * the 128 outputs per tile with the model, bit for bit (NaN: both NaN, and the
 * payload reported).  Input families: random with spread exponents; exact
 * cancellation with small remainders; exponent spread far beyond 25 bits;
 * bf16 and fp32 subnormals; Inf and NaN; signed zeros; sums beyond the fp32
 * range; zeros times huge values; every bit pattern; the same dot with its
 * 16 terms permuted (which the fused sum must not see: the decode kernel
 * relies on it); and zero exponents (zero products whose -126 + e_b passes
 * the real products', a zero c beside products below 2^-126: the two rules of
 * step 3 about zeros).  The test prints the
 * verdict per family and fails on any difference: CPU fast == GPU fast is
 * promised only while it passes.  Without a GPU it skips (exit 77).
 *
 * The same families through wgmma.mma_async m64n8k16 (64-row tiles staged in
 * shared memory behind the descriptors of kernels/matmul_fast_wgmma.cu), and
 * that kernel itself against lc_cpu_matmul_fast bit for bit; both skip, saying
 * why, where the build has no sm_90a code or the GPU is not compute
 * capability 9.0.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_cast.h"
#include "cpu_ref/cpu_ref.h"
#if defined(LC_HAVE_CUDA)
#include "kernels/lc_kernels.h"
#endif

static int have_gpu;

#if defined(LC_HAVE_CUDA)
enum {
  F_RANDOM,
  F_CANCEL,
  F_SPREAD,
  F_SUBNORMAL,
  F_NONFINITE,
  F_ZEROS,
  F_OVERFLOW,
  F_ZERO_TIMES_HUGE,
  F_ANY_BITS,
  F_PERMUTED,
  F_ZERO_EXP,
  N_FAMILIES
};
static const char *const family_name[N_FAMILIES] = {"random, spread exponents",
                                                    "exact cancellation",
                                                    "exponent spread > 25 bits",
                                                    "subnormals",
                                                    "Inf and NaN",
                                                    "signed zeros",
                                                    "beyond the fp32 range",
                                                    "zero times huge",
                                                    "any bit pattern",
                                                    "permuted terms",
                                                    "zero exponents"};

#define TILES_PER_FAMILY 2048

static uint16_t bfv(float v) {
  return lc_f32_to_bf16(v);
}
static float pow2(lct_rng *r, int lo, int hi) {
  return ldexpf(1.0f, (int)lct_range(r, lo, hi));
}
static uint16_t any_bf16(lct_rng *r) {
  return (uint16_t)(lct_next(r) >> 48);
}
static uint16_t sub_bf16(lct_rng *r) { /* a bf16 subnormal, either sign */
  return (uint16_t)((lct_next(r) & 0x8000u) | (1 + lct_range(r, 0, 126)));
}

/* fills one tile (a [16][16], b [8][16], c [16][8]) of family f */
static void fill_tile(int f, lct_rng *r, uint16_t *a, uint16_t *b, float *c) {
  for (int i = 0; i < 256; i++) a[i] = bfv(lct_normalf(r) * pow2(r, -20, 20));
  for (int i = 0; i < 128; i++) b[i] = bfv(lct_normalf(r) * pow2(r, -20, 20));
  for (int i = 0; i < 128; i++) c[i] = lct_normalf(r) * pow2(r, -20, 20);
  switch (f) {
    case F_CANCEL: /* a[2j+1] = -a[2j], equal b's: pairs cancel; a few small terms */
      for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) {
          a[i * 16 + 2 * j + 1] = (uint16_t)(a[i * 16 + 2 * j] ^ 0x8000u);
          if (lct_range(r, 0, 3) == 0) a[i * 16 + 2 * j + 1] = bfv(lct_normalf(r) * 1e-6f);
        }
      for (int j = 0; j < 8; j++)
        for (int kk = 0; kk < 8; kk++) b[j * 16 + 2 * kk + 1] = b[j * 16 + 2 * kk];
      for (int i = 0; i < 128; i++) c[i] = lct_normalf(r) * pow2(r, -40, 0);
      break;
    case F_SPREAD:
      for (int i = 0; i < 256; i++) a[i] = bfv(lct_normalf(r) * pow2(r, -60, 60));
      for (int i = 0; i < 128; i++) b[i] = bfv(lct_normalf(r) * pow2(r, -30, 30));
      for (int i = 0; i < 128; i++) c[i] = lct_normalf(r) * pow2(r, -90, 90);
      break;
    case F_SUBNORMAL:
      for (int i = 0; i < 256; i++)
        if (lct_range(r, 0, 1))
          a[i] = sub_bf16(r);
        else
          a[i] = bfv(lct_normalf(r) * pow2(r, -126, -100));
      for (int i = 0; i < 128; i++)
        b[i] = lct_range(r, 0, 2) ? bfv(lct_normalf(r) * pow2(r, -10, 100)) : sub_bf16(r);
      for (int i = 0; i < 128; i++)
        c[i] = lct_range(r, 0, 1) ? lc_f32_from_bits((uint32_t)lct_range(r, 1, 0x7FFFFF) |
                                                     (uint32_t)(lct_next(r) & 0x80000000u))
                                  : lct_normalf(r) * pow2(r, -149, -100);
      break;
    case F_NONFINITE: {
      static const uint16_t specials[] = {0x7F80u, 0xFF80u, 0x7FC0u, 0xFFC1u, 0x0000u, 0x8000u};
      for (int i = 0; i < 256; i++)
        if (lct_range(r, 0, 15) == 0) a[i] = specials[lct_range(r, 0, 5)];
      for (int i = 0; i < 128; i++)
        if (lct_range(r, 0, 15) == 0) b[i] = specials[lct_range(r, 0, 5)];
      for (int i = 0; i < 128; i++)
        if (lct_range(r, 0, 7) == 0) c[i] = lc_bf16_to_f32(specials[lct_range(r, 0, 5)]);
      break;
    }
    case F_ZEROS:
      for (int i = 0; i < 256; i++)
        if (lct_range(r, 0, 1)) a[i] = (uint16_t)(lct_next(r) & 0x8000u);
      for (int i = 0; i < 128; i++)
        if (lct_range(r, 0, 1)) b[i] = (uint16_t)(lct_next(r) & 0x8000u);
      for (int i = 0; i < 128; i++)
        if (lct_range(r, 0, 1)) c[i] = lct_next(r) & 1 ? -0.0f : 0.0f;
      /* some rows all zero against all-zero columns */
      for (int kk = 0; kk < 16; kk++) a[3 * 16 + kk] = (uint16_t)(kk & 1 ? 0x8000u : 0);
      break;
    case F_OVERFLOW:
      for (int i = 0; i < 256; i++) a[i] = bfv(lct_uniformf(r, 1.0f, 2.0f) * pow2(r, 100, 127));
      for (int i = 0; i < 128; i++) b[i] = bfv(lct_uniformf(r, -2.0f, 2.0f) * pow2(r, 0, 27));
      for (int i = 0; i < 128; i++) c[i] = lct_uniformf(r, -1.0f, 1.0f) * 3.4e38f;
      break;
    case F_ZERO_TIMES_HUGE:
      for (int i = 0; i < 256; i++)
        a[i] = lct_range(r, 0, 1) ? (uint16_t)(lct_next(r) & 0x8000u)
                                  : bfv(lct_normalf(r) * pow2(r, -60, -30));
      for (int i = 0; i < 128; i++) b[i] = bfv(lct_normalf(r) * pow2(r, 60, 127));
      for (int i = 0; i < 128; i++) c[i] = lct_normalf(r) * pow2(r, -126, -20);
      break;
    case F_ZERO_EXP: /* the zeros' exponents in maxe (docs/numerics.md 10.2 step 3) */
      if (lct_range(r, 0, 1)) {
        /* a quarter of k: b huge and a mostly zero, so that a zero product's
         * -126 + e_b passes the real products' exponents */
        int big[16];
        for (int kk = 0; kk < 16; kk++) big[kk] = lct_range(r, 0, 3) == 0;
        for (int j = 0; j < 8; j++)
          for (int kk = 0; kk < 16; kk++)
            b[j * 16 + kk] = bfv(lct_normalf(r) * (big[kk] ? pow2(r, 40, 127) : pow2(r, -10, 30)));
        for (int i = 0; i < 16; i++)
          for (int kk = 0; kk < 16; kk++) {
            if (big[kk])
              a[i * 16 + kk] = lct_range(r, 0, 7) ? (uint16_t)(lct_next(r) & 0x8000u)
                                                  : bfv(lct_normalf(r) * pow2(r, -126, -100));
            else
              a[i * 16 + kk] =
                  lct_range(r, 0, 5) ? bfv(lct_normalf(r) * pow2(r, -60, -20)) : sub_bf16(r);
          }
        for (int i = 0; i < 128; i++)
          c[i] = lct_range(r, 0, 3) ? lct_normalf(r) * pow2(r, -80, 0)
                                    : (lct_next(r) & 1 ? -0.0f : 0.0f);
      } else {
        /* a zero c beside products that all lie below 2^-126 */
        for (int i = 0; i < 256; i++)
          a[i] = lct_range(r, 0, 1) ? sub_bf16(r) : bfv(lct_normalf(r) * pow2(r, -126, -110));
        for (int i = 0; i < 128; i++) b[i] = bfv(lct_normalf(r) * pow2(r, -30, 0));
        for (int i = 0; i < 128; i++) c[i] = lct_next(r) & 1 ? -0.0f : 0.0f;
      }
      break;
    case F_ANY_BITS:
      for (int i = 0; i < 256; i++) a[i] = any_bf16(r);
      for (int i = 0; i < 128; i++) b[i] = any_bf16(r);
      for (int i = 0; i < 128; i++) c[i] = lct_any_bits(r);
      break;
    default:
      break;
  }
}

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* Inputs of N_FAMILIES x per_family tiles of `rows` rows (a multiple of 16):
 * a [tiles][rows][16], b [tiles][8][16], c [tiles][rows][8].  A tile of 64
 * rows stacks the A and C of 4 fill_tile tiles and takes the B of the first
 * (every family's property holds with any of them: F_CANCEL's b pairs are equal
 * in each).  Permuted family: every odd tile is the previous one with k
 * permuted the same way in all its rows and columns.  For rows == 16 this is
 * the random stream of the first versions of this test. */
static void make_inputs(int rows, int64_t per_family, lct_rng *rng, uint16_t *a, uint16_t *b,
                        float *c) {
  uint16_t ta[256], tb[128];
  float tc[128];
  for (int f = 0; f < N_FAMILIES; f++) {
    for (int64_t t = 0; t < per_family; t++) {
      const int64_t ti = (int64_t)f * per_family + t;
      uint16_t *A = a + ti * rows * 16, *B = b + ti * 128;
      float *C = c + ti * rows * 8;
      if (f == F_PERMUTED && t % 2 == 1) {
        const uint16_t *pa = A - rows * 16, *pb = B - 128;
        int perm[16];
        for (int i = 0; i < 16; i++) perm[i] = i;
        for (int i = 15; i > 0; i--) {
          const int j = (int)lct_range(rng, 0, i), tmp = perm[i];
          perm[i] = perm[j];
          perm[j] = tmp;
        }
        for (int i = 0; i < rows; i++)
          for (int kk = 0; kk < 16; kk++) A[i * 16 + kk] = pa[i * 16 + perm[kk]];
        for (int j = 0; j < 8; j++)
          for (int kk = 0; kk < 16; kk++) B[j * 16 + kk] = pb[j * 16 + perm[kk]];
        memcpy(C, C - rows * 8, (size_t)rows * 8 * sizeof(float));
        continue;
      }
      for (int qt = 0; qt < rows / 16; qt++) {
        fill_tile(f == F_PERMUTED ? F_SPREAD : f, rng, ta, tb, tc);
        memcpy(A + qt * 256, ta, sizeof ta);
        memcpy(C + qt * 128, tc, sizeof tc);
        if (qt == 0) memcpy(B, tb, sizeof tb);
      }
    }
  }
}

/* Compares every output d [tiles][rows][8] with the model, prints one line per
 * family ("<label> <family> ...") and returns the number of differences (the
 * permuted family also counts outputs that its permutation changed). */
static int64_t check_outputs(const char *label, int rows, int64_t per_family, const uint16_t *a,
                             const uint16_t *b, const float *c, const float *d) {
  /* the model's variants: flags 0 (the model), zero products in maxe (the
   * first model), a zero c in maxe (the second), normalised bf16 subnormals */
  static const unsigned var_flags[4] = {0, LC_MMA_ZERO_IN_MAXE, LC_MMA_ZERO_C_IN,
                                        LC_MMA_NORM_SUBNORMALS};
  int64_t total_bad = 0, var_bad[4] = {0, 0, 0, 0};
  const int64_t tile_out = (int64_t)rows * 8;
  for (int f = 0; f < N_FAMILIES; f++) {
    int64_t n = 0, bad = 0, nan_payload = 0, nans = 0;
    char first[1024] = "";
    for (int64_t t = 0; t < per_family; t++) {
      const int64_t ti = (int64_t)f * per_family + t;
      for (int i = 0; i < rows; i++) {
        for (int j = 0; j < 8; j++) {
          const int64_t o = ti * tile_out + i * 8 + j;
          const float got = d[o];
          const float want =
              lc_cpu_mma_bf16(c[o], a + ti * rows * 16 + i * 16, b + ti * 128 + j * 16, 16);
          n++;
          for (unsigned v = 0; v < 4; v++) {
            const float w = lc_cpu_mma_bf16_variant(c[o], a + ti * rows * 16 + i * 16,
                                                    b + ti * 128 + j * 16, 16, var_flags[v]);
            var_bad[v] += bits(got) != bits(w) && !(isnan(got) && isnan(w));
          }
          if (isnan(got) && isnan(want)) {
            nans++;
            nan_payload += bits(got) != bits(want);
            continue;
          }
          if (bits(got) != bits(want)) {
            if (bad < 16) { /* each of the first 16 on a line of its own, to study */
              printf("%s %s diff %lld: c %a (0x%08x) GPU %a (0x%08x) model %a (0x%08x) a", label,
                     family_name[f], (long long)bad, (double)c[o], bits(c[o]), (double)got,
                     bits(got), (double)want, bits(want));
              for (int k = 0; k < 16; k++) printf(" %04x", a[ti * rows * 16 + i * 16 + k]);
              printf(" b");
              for (int k = 0; k < 16; k++) printf(" %04x", b[ti * 128 + j * 16 + k]);
              printf("\n");
            }
            if (!bad) {
              int at = snprintf(first, sizeof first,
                                "tile %lld [%d][%d]: c %a, GPU %a (0x%08x), model %a (0x%08x); a",
                                (long long)t, i, j, (double)c[o], (double)got, bits(got),
                                (double)want, bits(want));
              for (int k = 0; k < 16 && at > 0 && at < (int)sizeof first - 8; k++)
                at += snprintf(first + at, sizeof first - (size_t)at, " %04x",
                               a[ti * rows * 16 + i * 16 + k]);
              at += snprintf(first + at, sizeof first - (size_t)at, "; b");
              for (int k = 0; k < 16 && at > 0 && at < (int)sizeof first - 8; k++)
                at += snprintf(first + at, sizeof first - (size_t)at, " %04x",
                               b[ti * 128 + j * 16 + k]);
            }
            bad++;
          }
          if (f == F_PERMUTED && t % 2 == 1 && bits(got) != bits(d[o - tile_out]) &&
              !(isnan(got) && isnan(d[o - tile_out]))) {
            if (!bad)
              snprintf(first, sizeof first,
                       "tile %lld [%d][%d]: permuted terms changed the GPU result", (long long)t, i,
                       j);
            bad++;
          }
        }
      }
    }
    printf(
        "%s %-26s %7lld outputs, %lld differ from the model%s%s; NaN %lld (payload differs %lld)\n",
        label, family_name[f], (long long)n, (long long)bad, bad ? ": first " : "", first,
        (long long)nans, (long long)nan_payload);
    total_bad += bad;
  }
  printf(
      "%s against the model's variants (all families): outputs that differ with flags 0 (the "
      "model) %lld, zero products in maxe %lld, a zero c in maxe %lld, normalised "
      "subnormals %lld\n",
      label, (long long)var_bad[0], (long long)var_bad[1], (long long)var_bad[2],
      (long long)var_bad[3]);
  return total_bad;
}

static void device_name(char *name, size_t len) {
  char err[256] = "";
  lc_cuda_device_info info;
  memset(&info, 0, sizeof info);
  lc_kernels_device_probe(0, &info, err, sizeof err);
  snprintf(name, len, "%s", info.name);
}

#endif /* LC_HAVE_CUDA */

static void test_cuda_mma_model_matches_hardware(void **state) {
  (void)state;
  if (!have_gpu) skip();
#if defined(LC_HAVE_CUDA)
  const int64_t tiles = (int64_t)TILES_PER_FAMILY * N_FAMILIES;
  uint16_t *a = lct_malloc((size_t)tiles * 256 * 2), *b = lct_malloc((size_t)tiles * 128 * 2);
  float *c = lct_malloc((size_t)tiles * 128 * 4), *d = lct_malloc((size_t)tiles * 128 * 4);
  lct_rng rng = lct_rng_new(2026);
  make_inputs(16, TILES_PER_FAMILY, &rng, a, b, c);
  char err[256] = "";
  lc_status st = lc_kernels_mma_probe(0, a, b, c, d, tiles, err, sizeof err);
  if (st != LC_OK) fail_msg("lc_kernels_mma_probe: %s", err);
  char name[256];
  device_name(name, sizeof name);
  const int64_t total_bad = check_outputs("MMA probe", 16, TILES_PER_FAMILY, a, b, c, d);
  printf(
      "MMA probe verdict on %s: mma.sync m16n8k16 bf16 %s the model of docs/numerics.md 10.2 "
      "(%lld outputs differ)\n",
      name, total_bad ? "does NOT follow" : "follows", (long long)total_bad);
  free(a);
  free(b);
  free(c);
  free(d);
  assert_int_equal(total_bad, 0);
#endif
}

/* The same families through wgmma m64n8k16 (kernels/mma_probe.cu): a quarter
 * of the tiles, 64 rows each, so the same number of outputs.  Skips (with a
 * line saying why) when the build has no sm_90a code or the GPU is not
 * compute capability 9.0. */
static void test_cuda_wgmma_model_matches_hardware(void **state) {
  (void)state;
  if (!have_gpu) skip();
#if defined(LC_HAVE_CUDA)
  const int64_t per_family = TILES_PER_FAMILY / 4, tiles = per_family * N_FAMILIES;
  uint16_t *a = lct_malloc((size_t)tiles * 1024 * 2), *b = lct_malloc((size_t)tiles * 128 * 2);
  float *c = lct_malloc((size_t)tiles * 512 * 4), *d = lct_malloc((size_t)tiles * 512 * 4);
  lct_rng rng = lct_rng_new(2027);
  make_inputs(64, per_family, &rng, a, b, c);
  char err[256] = "";
  lc_status st = lc_kernels_wgmma_probe(0, a, b, c, d, tiles, err, sizeof err);
  if (st == LC_ERR_UNSUPPORTED) {
    printf("wgmma probe skipped: %s\n", err);
    free(a);
    free(b);
    free(c);
    free(d);
    skip();
  }
  if (st != LC_OK) fail_msg("lc_kernels_wgmma_probe: %s", err);
  char name[256];
  device_name(name, sizeof name);
  const int64_t total_bad = check_outputs("wgmma probe", 64, per_family, a, b, c, d);
  printf(
      "wgmma probe verdict on %s: wgmma m64n8k16 bf16 %s the model of docs/numerics.md 10.2 "
      "(%lld outputs differ)\n",
      name, total_bad ? "does NOT follow" : "follows", (long long)total_bad);
  free(a);
  free(b);
  free(c);
  free(d);
  assert_int_equal(total_bad, 0);
#endif
}

/* The wgmma tiled kernel of the fast order (kernels/matmul_fast_wgmma.cu) alone,
 * on parts split here as fast_split_kernel writes them, against
 * lc_cpu_matmul_fast bit for bit: M, N and K tails (K % 64 != 0, K % 256 != 0,
 * whole chunks past K in the last segment), several segments, one chunk, with
 * and without bias, both part counts, a few Inf/NaN in x and W; parts split
 * here, not by the split kernel (test_cuda_fast.c runs it as path 3 through
 * lc_matmul).  Skips as the wgmma probe. */
static void test_cuda_wgmma_fast_tiled_equals_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
#if defined(LC_HAVE_CUDA)
  static const int64_t shapes[][3] = {/* m, k, n */
                                      {1, 8, 1},        {64, 64, 128},   {65, 72, 129},
                                      {130, 1000, 200}, {257, 264, 131}, {128, 2056, 256},
                                      {300, 520, 70}};
  const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
  lct_rng rng = lct_rng_new(2028);
  int64_t checked = 0;
  for (int si = 0; si < n_shapes; si++) {
    for (int parts = 1; parts <= 3; parts += 2) {
      const int64_t m = shapes[si][0], k = shapes[si][1], n = shapes[si][2];
      const int64_t kp = (k + 63) / 64 * 64;
      const int with_bias = (si + parts) % 2;
      float *x = lct_randn(&rng, m * k, 1.0f);
      uint16_t *w = lct_rand_bf16(&rng, n * k, 0.05f);
      uint16_t *bias = with_bias ? lct_rand_bf16(&rng, n, 0.5f) : NULL;
      if (si == n_shapes - 1) { /* non-finite values reach a few outputs */
        x[3] = INFINITY;
        x[k + 5] = NAN;
        w[2 * k + 7] = 0xFF80u; /* -Inf */
      }
      uint16_t *pt = lct_malloc((size_t)(parts * m * kp) * 2);
      memset(pt, 0, (size_t)(parts * m * kp) * 2);
      for (int64_t r = 0; r < m; r++)
        for (int64_t kk = 0; kk < k; kk++) {
          uint16_t pr[3] = {0, 0, 0};
          if (parts == 3)
            lc_split3_bf16(x[r * k + kk], pr);
          else
            pr[0] = lc_f32_to_bf16(x[r * k + kk]);
          for (int p = 0; p < parts; p++) pt[(p * m + r) * kp + kk] = pr[p];
        }
      float *got = lct_malloc_f(m * n), *want = lct_malloc_f(m * n);
      char err[256] = "";
      lc_status st =
          lc_kernels_fast_wgmma_probe(0, pt, m, k, w, n, bias, got, parts, err, sizeof err);
      if (st == LC_ERR_UNSUPPORTED) {
        printf("wgmma fast tiled skipped: %s\n", err);
        free(x);
        free(w);
        free(bias);
        free(pt);
        free(got);
        free(want);
        skip();
      }
      if (st != LC_OK) fail_msg("lc_kernels_fast_wgmma_probe: %s", err);
      assert_int_equal(lc_cpu_matmul_fast(x, m, k, w, n, bias, want, parts), LC_OK);
      char what[128];
      snprintf(what, sizeof what, "wgmma fast tiled m %lld k %lld n %lld parts %d%s", (long long)m,
               (long long)k, (long long)n, parts, bias ? " bias" : "");
      lct_assert_bitwise_f32(got, want, m * n, what);
      checked += m * n;
      free(x);
      free(w);
      free(bias);
      free(pt);
      free(got);
      free(want);
    }
  }
  printf("wgmma fast tiled: %lld outputs over %d shapes x 2 part counts equal lc_cpu_matmul_fast\n",
         (long long)checked, n_shapes);
#endif
}

int main(void) {
  lct_gpu_main_begin();
  have_gpu = lct_have_cuda();
  if (!have_gpu) printf("no usable CUDA device (or CUDA not in this build): GPU tests skip\n");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cuda_mma_model_matches_hardware),
      cmocka_unit_test(test_cuda_wgmma_model_matches_hardware),
      cmocka_unit_test(test_cuda_wgmma_fast_tiled_equals_cpu),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return (rc == 0 && !have_gpu) ? 77 : rc;
}

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
 * range; zeros times huge values (a zero's exponent in the alignment); every
 * bit pattern; and the same dot with its 16 terms permuted (which the fused
 * sum must not see: the decode kernel relies on it).  The test prints the
 * verdict per family and fails on any difference: CPU fast == GPU fast is
 * promised only while it passes.  Without a GPU it skips (exit 77).
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
                                                    "permuted terms"};

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

#endif /* LC_HAVE_CUDA */

static void test_cuda_mma_model_matches_hardware(void **state) {
  (void)state;
  if (!have_gpu) skip();
#if defined(LC_HAVE_CUDA)
  const int64_t tiles = (int64_t)TILES_PER_FAMILY * N_FAMILIES;
  uint16_t *a = lct_malloc((size_t)tiles * 256 * 2), *b = lct_malloc((size_t)tiles * 128 * 2);
  float *c = lct_malloc((size_t)tiles * 128 * 4), *d = lct_malloc((size_t)tiles * 128 * 4);
  lct_rng rng = lct_rng_new(2026);
  for (int f = 0; f < N_FAMILIES; f++) {
    for (int t = 0; t < TILES_PER_FAMILY; t++) {
      const int64_t ti = (int64_t)f * TILES_PER_FAMILY + t;
      if (f == F_PERMUTED && t % 2 == 1) {
        /* the previous tile with k permuted the same way in a and b */
        const int64_t pi = ti - 1;
        int perm[16];
        for (int i = 0; i < 16; i++) perm[i] = i;
        for (int i = 15; i > 0; i--) {
          const int j = (int)lct_range(&rng, 0, i), tmp = perm[i];
          perm[i] = perm[j];
          perm[j] = tmp;
        }
        for (int i = 0; i < 16; i++)
          for (int kk = 0; kk < 16; kk++)
            a[ti * 256 + i * 16 + kk] = a[pi * 256 + i * 16 + perm[kk]];
        for (int j = 0; j < 8; j++)
          for (int kk = 0; kk < 16; kk++)
            b[ti * 128 + j * 16 + kk] = b[pi * 128 + j * 16 + perm[kk]];
        memcpy(c + ti * 128, c + pi * 128, 128 * sizeof(float));
        continue;
      }
      fill_tile(f == F_PERMUTED ? F_SPREAD : f, &rng, a + ti * 256, b + ti * 128, c + ti * 128);
    }
  }
  char err[256] = "";
  lc_status st = lc_kernels_mma_probe(0, a, b, c, d, tiles, err, sizeof err);
  if (st != LC_OK) fail_msg("lc_kernels_mma_probe: %s", err);
  lc_cuda_device_info info;
  memset(&info, 0, sizeof info);
  lc_kernels_device_probe(0, &info, err, sizeof err);
  int64_t total_bad = 0;
  for (int f = 0; f < N_FAMILIES; f++) {
    int64_t n = 0, bad = 0, nan_payload = 0, nans = 0;
    char first[256] = "";
    for (int t = 0; t < TILES_PER_FAMILY; t++) {
      const int64_t ti = (int64_t)f * TILES_PER_FAMILY + t;
      for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 8; j++) {
          const float got = d[ti * 128 + i * 8 + j];
          const float want = lc_cpu_mma_bf16(c[ti * 128 + i * 8 + j], a + ti * 256 + i * 16,
                                             b + ti * 128 + j * 16, 16);
          n++;
          if (isnan(got) && isnan(want)) {
            nans++;
            nan_payload += bits(got) != bits(want);
            continue;
          }
          if (bits(got) != bits(want)) {
            if (!bad)
              snprintf(first, sizeof first,
                       "tile %d [%d][%d]: c %a, GPU %a (0x%08x), model %a (0x%08x)", t, i, j,
                       (double)c[ti * 128 + i * 8 + j], (double)got, bits(got), (double)want,
                       bits(want));
            bad++;
          }
          if (f == F_PERMUTED && t % 2 == 1 && bits(got) != bits(d[(ti - 1) * 128 + i * 8 + j]) &&
              !(isnan(got) && isnan(d[(ti - 1) * 128 + i * 8 + j]))) {
            if (!bad)
              snprintf(first, sizeof first,
                       "tile %d [%d][%d]: permuted terms changed the GPU result", t, i, j);
            bad++;
          }
        }
      }
    }
    printf(
        "MMA probe %-26s %7lld outputs, %lld differ from the model%s%s; NaN %lld (payload "
        "differs %lld)\n",
        family_name[f], (long long)n, (long long)bad, bad ? ": first " : "", first, (long long)nans,
        (long long)nan_payload);
    total_bad += bad;
  }
  printf(
      "MMA probe verdict on %s: mma.sync m16n8k16 bf16 %s the model of docs/numerics.md 10.2 "
      "(%lld outputs differ)\n",
      info.name, total_bad ? "does NOT follow" : "follows", (long long)total_bad);
  free(a);
  free(b);
  free(c);
  free(d);
  assert_int_equal(total_bad, 0);
#endif
}

int main(void) {
  have_gpu = lct_have_cuda();
  if (!have_gpu) printf("no usable CUDA device (or CUDA not in this build): GPU tests skip\n");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cuda_mma_model_matches_hardware),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return (rc == 0 && !have_gpu) ? 77 : rc;
}

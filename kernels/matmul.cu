/*
 * kernels/matmul.cu — y[m][n] = x[m][k] W[n][k]^T (+ bias[n]) on the GPU, strict:
 * the entry, the path choice and the combine of segment results.
 *
 * Shapes and dtypes: x [m][k] fp32, W [n][k] bf16 (uint16_t bits), bias NULL or
 * [n] bf16, y [m][n] fp32, all device memory; m, k, n >= 1 of any size (no
 * multiple of a tile is assumed; m up to 2^31 - 1: every grid is 1-D).  bf16
 * becomes fp32 (exactly: a shift) in registers after the bf16 bits were staged in
 * shared memory; no fp32 copy of W exists anywhere.  Bitwise equal to
 * cpu_ref/matmul.c lc_cpu_matmul_strict: for every (m, n) exactly
 *
 *   for s = 0 .. ceil(k/256)-1:  acc = +0;
 *       for kk in segment s ascending: acc = __fmaf_rn(x[m][kk], widen(w[n][kk]), acc)
 *       y = (s == 0) ? acc : y + acc
 *   if bias: y = y + widen(bias[n]);   store lc_canon_nan(y)
 *
 * The order names only k, the segment and n's own data: not m, not the batch, not
 * the tile or block that ran it, not the path, not the GPU; so a row's result is
 * the same bits in any batch, at any position, on either path, on any device.
 * Where the chains of one segment are cut short by the end of k, the missing
 * steps are padded as fma(-0, +0, acc), which equals acc for every acc (+0 and
 * -0 included: -0 is the additive identity), so no path needs a tail loop.
 *
 * Two paths (lc_kmatmul_path); AUTO takes DECODE for m <= MM_DECODE_MAX_M (32:
 * the measured crossover on an H100, bench/RESULTS.md) and TILED above:
 *   kernels/matmul_decode.cu   DECODE (small m; the bytes of W are the cost):
 *                              the streaming kernel (m <= 16, x and w 16-byte
 *                              aligned, k % 8 == 0) and the split-K kernel;
 *   kernels/matmul_tiled.cu    TILED (larger m; FMA bound): register tiles
 *                              with two accumulator sets;
 *   kernels/matmul_common.cuh  what they share: the 8-k chain step fma_chunk,
 *                              cp.async, programmatic dependent launch, the
 *                              workspace budget, the functions of this list.
 * Segment results, where a path splits k, go to the workspace [nseg][m][n] and
 * matmul_combine_kernel (below) adds them in ascending s, adds the bias and
 * canonicalises NaN; it is launched with programmatic dependent launch so its
 * launch overlaps the first kernel's tail.
 *
 * The grids depend on the shapes only.  No atomics.  Every output element is
 * written exactly once, by the last kernel of the call.
 * Benchmark: bench/bench_matmul (bench/run.sh builds and runs it on the GPU
 * machine; `bench_matmul --quick`: M = 1 and 16 take the decode path, M = 256
 * and 4096 the tiled one); tests: tests/test_cuda_matmul.c.  The measured times
 * of these kernels and of the variants tried and not kept: bench/RESULTS.md,
 * "matmul kernel history".
 */
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/matmul_common.cuh"

/* AUTO takes the decode path for m <= this. */
#define MM_DECODE_MAX_M 32
#define COMBINE_THREADS 256
#define COMBINE_MAX_BLOCKS 4096

/* ======================================================================== */
/*  the segment combine                                                     */
/* ======================================================================== */

/* y[i] = ((p[0][i] + p[1][i]) + ...) + bias, canonical NaN; i over [rows][n]. */
__global__ void __launch_bounds__(COMBINE_THREADS)
    matmul_combine_kernel(const float *__restrict__ part, int64_t rows, int64_t n, int64_t nseg,
                          const uint16_t *__restrict__ bias, float *__restrict__ y) {
  griddep_wait(); /* the segment results of the previous kernel are complete */
  const int64_t total = rows * n;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    /* 16 loads in flight, then the adds in ascending order: y = p0, y = y + ps */
    float v = 0.0f;
    for (int64_t s0 = 0; s0 < nseg; s0 += 16) {
      float p[16];
#pragma unroll
      for (int j = 0; j < 16; j++)
        p[j] = s0 + j < nseg ? __ldcg(part + (s0 + j) * total + i) : 0.0f;
#pragma unroll
      for (int j = 0; j < 16; j++)
        if (s0 + j < nseg) v = s0 + j == 0 ? p[j] : v + p[j];
    }
    if (bias) v = v + lc_bf16_to_f32(bias[i % n]);
    y[i] = lc_canon_nan(v);
  }
}

cudaError_t lc_matmul_launch_combine(const float *part, int64_t rows, int64_t n, int64_t nseg,
                                     const uint16_t *bias, float *y, cudaStream_t st) {
  const int64_t total = rows * n;
  int64_t blocks = (total + COMBINE_THREADS - 1) / COMBINE_THREADS;
  if (blocks > COMBINE_MAX_BLOCKS) blocks = COMBINE_MAX_BLOCKS;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3((unsigned)blocks);
  cfg.blockDim = dim3(COMBINE_THREADS);
  cfg.dynamicSmemBytes = 0;
  cfg.stream = st;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  cudaError_t e = cudaLaunchKernelEx(&cfg, matmul_combine_kernel, part, rows, n, nseg, bias, y);
  if (e != cudaSuccess) return e;
  return cudaGetLastError();
}

/* ======================================================================== */
/*  path choice                                                             */
/* ======================================================================== */

static lc_kmatmul_path mm_resolve(int64_t m, lc_kmatmul_path path) {
  if (path == LC_KMATMUL_AUTO) return m <= MM_DECODE_MAX_M ? LC_KMATMUL_DECODE : LC_KMATMUL_TILED;
  return path;
}

/* ======================================================================== */
/*  entries                                                                 */
/* ======================================================================== */

extern "C" size_t lc_kernels_matmul_workspace(int64_t m, int64_t k, int64_t n,
                                              lc_kmatmul_path path) {
  if (m <= 0 || k <= 0 || n <= 0) return 0;
  const int64_t nseg = mm_nseg(k);
  if (mm_resolve(m, path) == LC_KMATMUL_TILED)
    return lc_matmul_tiled_split(m, k, n) ? (size_t)(nseg * m * n) * sizeof(float) : 0;
  if (nseg == 1) return 0; /* the decode kernel writes y itself */
  return (size_t)(nseg * lc_matmul_decode_slice_rows(m, k, n) * n) * sizeof(float);
}

extern "C" lc_status lc_kernels_matmul(const float *x, int64_t m, int64_t k, const uint16_t *w,
                                       int64_t n, const uint16_t *bias, float *y,
                                       lc_kmatmul_path path, void *ws, size_t ws_bytes,
                                       void *stream, char *err, size_t err_len) {
  if (m < 0 || k < 1 || n < 1) return mm_bad("bad shape", err, err_len);
  if (path != LC_KMATMUL_AUTO && path != LC_KMATMUL_DECODE && path != LC_KMATMUL_TILED)
    return mm_bad("unknown path", err, err_len);
  if (m == 0) return LC_OK;
  if (!x || !w || !y) return mm_bad("NULL tensor", err, err_len);
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  if (mm_resolve(m, path) == LC_KMATMUL_DECODE)
    return lc_matmul_run_decode(x, m, k, w, n, bias, y, ws, ws_bytes, st, err, err_len);
  return lc_matmul_run_tiled(x, m, k, w, n, bias, y, ws, ws_bytes, st, err, err_len);
}

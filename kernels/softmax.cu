/*
 * kernels/softmax.cu — softmax and log_softmax over the rows of x on the GPU,
 * strict.
 *
 * Shapes and dtypes: x, y [m][n] fp32, device; y may equal x.  No bf16.
 *
 * Order: the canonical order v1, bit for bit lc_cpu_softmax_strict and
 * lc_cpu_log_softmax_strict.  Per row:
 *   mx  = canon_zero(max_nonan of the row from -Inf)  — exact and order-free
 *         (NaN never wins, ties are equal values, -0/+0 made +0), so any
 *         thread may take any element;
 *   e_i = lc_expf(x_i - mx)                            — elementwise;
 *   sum = the canonical 32-lane sum of e: ONE warp, lane l adds e_l, e_(l+32),
 *         ... in ascending order from +0, then sum = sum + shfl_xor(sum, o)
 *         for o = 16, 8, 4, 2, 1, lane 0's value;
 *   softmax      y_i = canon(e_i / sum)   (IEEE division)
 *   log_softmax  y_i = canon((x_i - mx) - lc_logf(sum)).
 * lc_expf/lc_logf are the polynomials of cast/lc_canon.h, the same source as
 * the CPU's, so recomputing e_i gives exactly the e_i the CPU stores.  A row's
 * bits depend on its own data and n alone.
 *
 * Two launch shapes with the same arithmetic; which one runs depends on n
 * (and, within the block path, the register budget and grid on m), never a
 * bit of the result:
 *   warp path   (n <= 1024) SM_WARP_ROWS rows per block, one warp per row,
 *               three passes over the row: max (16-byte loads when aligned),
 *               sum of e (SM_UNROLL loads in flight per lane ahead of the
 *               in-order adds), write (e recomputed, no extra pass).
 *   block path  (n >= SM_BLOCK_MIN_N, e.g. a vocabulary) one block of
 *               SM_BLOCK_THREADS per row at a time: all warps take the max;
 *               then SM_PROD_WARPS producer warps compute e for tiles of
 *               SM_TILE elements into a double-buffered shared tile (loading
 *               the next tile before computing this one; softmax also stores
 *               e into y) while warp 0, the consumer, runs the canonical lane
 *               chains over the previous tile in order; then all warps write
 *               y (softmax: y = y / sum, reading back e).  With one warp per
 *               row a 128256-wide row would cost ~4000 dependent loads and
 *               exps per lane; here the exps run on 8 warps beside the chain.
 *               Two register budgets of this kernel, by m (SM_FEW_ROWS).
 *   In place: the max pass only reads; in the sum pass each element is read
 *   once before it is (softmax) overwritten with e; the write pass re-reads
 *   x_i (or e_i) at i only, in the thread that then writes y_i, after a
 *   barrier where another thread wrote it.
 *
 * Benchmark: bench/bench_ops (its softmax and log_softmax rows; bench/run.sh
 * builds and runs it on the GPU machine).  tests/test_cuda_ops.c also prints
 * a rough time per call for a few decode and prefill shapes.
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"

/* Tile sizes and launch shapes (none of them changes a bit). */
#define SM_WARP_ROWS 4       /* warp path: rows (= warps) per block */
#define SM_UNROLL 8          /* warp path: loads in flight per lane, sum pass */
#define SM_WARP_MAX_UNROLL 4 /* warp path: float4 loads in flight, max pass */
#define SM_PROD_WARPS 8      /* block path: producer warps (plus 1 consumer) */
#define SM_TILE 4096         /* block path: elements per shared tile (x2 buffers) */
#define SM_BLOCK_MIN_N 1025  /* rows at least this long take the block path */
/* Block path, two register budgets of the same code (no bit changes):
 *   few rows  (m <= SM_FEW_ROWS): one block per SM, 8 float4 loads in flight
 *             per thread in the max and write passes (166 registers);
 *   many rows: two blocks per SM (96 registers), 4 loads in flight, and a
 *             grid of max(SM_GRID_MIN, SM_L2_ROWS_BYTES / row bytes) blocks
 *             at most (rows loop), so that a row is still in L2 for its second
 *             and third pass.  H100, n = 128256: m = 1024 softmax 0.98 ms
 *             against 1.22 ms with the few-rows budget; m = 1: 88 us against 95. */
#define SM_FEW_ROWS 128
#define SM_GRID_MIN 264
#define SM_L2_ROWS_BYTES (24 << 20)
#define SM_BLOCK_THREADS (32 * (SM_PROD_WARPS + 1))

static_assert(SM_TILE % (4 * 32 * SM_PROD_WARPS) == 0, "producers cover a tile in float4 chunks");
static_assert(SM_TILE % 32 == 0, "the consumer takes a tile in rows of 32 lanes");

/* ---- the canonical pieces ------------------------------------------------*/

/* The 32-lane sum and its butterfly, the warp max and the row walks:
 * kernels/lc_cuda_common.cuh (lc_warp_canon_reduce, lc_lane_chain,
 * lc_warp_max_nonan, lc_row_visit, lc_lane_walk, lc_row_map). */

/* The partial max_nonan of row xr[0..n) over the elements thread t of T takes
 * (lc_row_visit: float4 chunks when xr is 16-byte aligned), from -Inf; U loads
 * in flight per thread. */
template <int U>
__device__ __forceinline__ float partial_max(const float *xr, int64_t n, int t, int T) {
  float mx = -INFINITY;
  lc_row_visit<U>(xr, n, t, T, [&](float v, int64_t) { mx = lc_max_nonan(mx, v); });
  return mx;
}

/* The written value, from x (log_softmax: k = log(sum)) or from e
 * (softmax: k = sum). */
struct out_log {
  float mx, k;
  __device__ __forceinline__ float operator()(float x) const { return lc_canon_nan((x - mx) - k); }
};
struct out_div {
  float k;
  __device__ __forceinline__ float operator()(float e) const { return lc_canon_nan(LC_DIV(e, k)); }
};

template <bool LOG>
__device__ __forceinline__ float softmax_out(float x, float mx, float sum_or_ls) {
  if (LOG) return lc_canon_nan((x - mx) - sum_or_ls);
  return lc_canon_nan(LC_DIV(lc_expf(x - mx), sum_or_ls));
}

/* ---- warp path -------------------------------------------------------------*/

/* The chain step of the sum of e: acc = acc + exp(x_i - mx). */
struct step_sum_exp {
  float mx;
  __device__ __forceinline__ float operator()(float acc, float x) const {
    return acc + lc_expf(x - mx);
  }
};

template <bool LOG, int ROWS, int UNROLL>
__global__ void __launch_bounds__(ROWS * 32)
    softmax_warp_kernel(const float *x, int64_t m, int64_t n, float *y) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = (int64_t)blockIdx.x * ROWS + (threadIdx.x >> 5); row < m;
       row += (int64_t)gridDim.x * ROWS) {
    const float *xr = x + row * n;
    float *yr = y + row * n;
    const float mx =
        lc_canon_zero(lc_warp_max_nonan(partial_max<SM_WARP_MAX_UNROLL>(xr, n, lane, 32)));
    const auto load_x = [&](int64_t i) { return xr[i]; };
    const float sum = lc_warp_canon_reduce<UNROLL>(n, lane, load_x, step_sum_exp{mx});
    const float k = LOG ? lc_logf(sum) : sum;
    lc_lane_walk<UNROLL, float>(n, lane, load_x,
                                [&](int64_t i, float v) { yr[i] = softmax_out<LOG>(v, mx, k); });
  }
}

/* ---- block path ------------------------------------------------------------*/

#define SM_CH (SM_TILE / 4 / (32 * SM_PROD_WARPS)) /* float4 chunks per producer per tile */

/* Producer p (0 .. 32*SM_PROD_WARPS-1) loads its chunks of tile `base`
 * (elements base .. base+SM_TILE-1): float4 chunks p, p+P, ... of the tile;
 * elements past n read as 0 (never used). */
__device__ __forceinline__ void load_tile(const float *xr, int64_t n, int64_t base, bool x_al,
                                          int p, float4 (&v)[SM_CH]) {
  constexpr int P = 32 * SM_PROD_WARPS;
#pragma unroll
  for (int k = 0; k < SM_CH; k++) {
    const int64_t e0 = base + 4 * (int64_t)(p + k * P);
    if (x_al && e0 + 3 < n) {
      v[k] = *reinterpret_cast<const float4 *>(xr + e0);
    } else {
      v[k].x = e0 < n ? xr[e0] : 0.0f;
      v[k].y = e0 + 1 < n ? xr[e0 + 1] : 0.0f;
      v[k].z = e0 + 2 < n ? xr[e0 + 2] : 0.0f;
      v[k].w = e0 + 3 < n ? xr[e0 + 3] : 0.0f;
    }
  }
}

/* e = exp(x - mx) for the loaded chunks into the shared tile; softmax
 * (STORE_E) also writes e into y (elements < n only), where the write pass
 * divides it. */
template <bool STORE_E>
__device__ __forceinline__ void emit_tile(const float4 (&v)[SM_CH], float *yr, int64_t n,
                                          int64_t base, float mx, bool y_al, int p, float4 *tile) {
  constexpr int P = 32 * SM_PROD_WARPS;
#pragma unroll
  for (int k = 0; k < SM_CH; k++) {
    const int64_t e0 = base + 4 * (int64_t)(p + k * P);
    float4 e;
    e.x = lc_expf(v[k].x - mx);
    e.y = lc_expf(v[k].y - mx);
    e.z = lc_expf(v[k].z - mx);
    e.w = lc_expf(v[k].w - mx);
    tile[p + k * P] = e;
    if (STORE_E) {
      if (y_al && e0 + 3 < n) {
        *reinterpret_cast<float4 *>(yr + e0) = e;
      } else {
        if (e0 < n) yr[e0] = e.x;
        if (e0 + 1 < n) yr[e0 + 1] = e.y;
        if (e0 + 2 < n) yr[e0 + 2] = e.z;
        if (e0 + 3 < n) yr[e0 + 3] = e.w;
      }
    }
  }
}

/* The consumer lane's chain over tile `base`: acc = acc + e for the lane's
 * elements base + lane + 32k, k ascending. */
__device__ __forceinline__ float consume_tile(const float *tile, int64_t n, int64_t base, int lane,
                                              float acc) {
  const auto load_e = [&](int64_t i) { return tile[i]; };
  if (base + SM_TILE <= n) return lc_lane_chain<16>(acc, SM_TILE, lane, load_e, lc_step_sum{});
  return lc_lane_chain<1>(acc, n - base, lane, load_e, lc_step_sum{}); /* 1 .. SM_TILE-1 left */
}

template <bool LOG, int MIN_BLOCKS, int LD_UNROLL>
__global__ void __launch_bounds__(SM_BLOCK_THREADS, MIN_BLOCKS)
    softmax_block_kernel(const float *x, int64_t m, int64_t n, float *y) {
  constexpr int WARPS = SM_PROD_WARPS + 1;
  __shared__ float4 s_tile[2][SM_TILE / 4];
  __shared__ float s_red[WARPS];
  __shared__ float s_k; /* sum (softmax) or log(sum) (log_softmax) */
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  for (int64_t row = blockIdx.x; row < m; row += gridDim.x) {
    const float *xr = x + row * n;
    float *yr = y + row * n;
    const bool x_al = lc_aligned16(xr), y_al = lc_aligned16(yr);

    /* 1. the max, by every thread; combined in a fixed order (any would do) */
    float mx = lc_warp_max_nonan(partial_max<LD_UNROLL>(xr, n, t, SM_BLOCK_THREADS));
    if (lane == 0) s_red[warp] = mx;
    __syncthreads();
    mx = s_red[0];
#pragma unroll
    for (int w = 1; w < WARPS; w++) mx = lc_max_nonan(mx, s_red[w]);
    mx = lc_canon_zero(mx);

    /* 2. producers fill tile i into buffer i&1 (having loaded it during tile
     * i-1: the loads of tile i+1 go out before tile i's exps) while the
     * consumer (warp 0) runs the chains over tile i-1.  A buffer is refilled
     * two tiles later, after the barrier the consumer reaches only once it
     * has read it.  In place, tile i+1 is loaded before tile i's e is stored,
     * and no element is stored before it is loaded. */
    const int64_t tiles = (n + SM_TILE - 1) / SM_TILE;
    float acc = 0.0f;
    float4 cur[SM_CH], nxt[SM_CH];
    if (warp != 0) load_tile(xr, n, 0, x_al, t - 32, cur);
    for (int64_t i = 0; i <= tiles; i++) {
      if (warp != 0 && i < tiles) {
        if (i + 1 < tiles) load_tile(xr, n, (i + 1) * SM_TILE, x_al, t - 32, nxt);
        emit_tile<!LOG>(cur, yr, n, i * SM_TILE, mx, y_al, t - 32, s_tile[i & 1]);
#pragma unroll
        for (int k = 0; k < SM_CH; k++) cur[k] = nxt[k];
      }
      if (warp == 0 && i > 0)
        acc = consume_tile(reinterpret_cast<const float *>(s_tile[(i - 1) & 1]), n,
                           (i - 1) * SM_TILE, lane, acc);
      __syncthreads();
    }
    if (warp == 0) {
      const float sum = lc_warp_canon_butterfly(acc);
      if (lane == 0) s_k = LOG ? lc_logf(sum) : sum;
    }
    __syncthreads();

    /* 3. write y: log_softmax from x, softmax from the e stored in y */
    if (LOG)
      lc_row_map<LD_UNROLL>(xr, yr, n, t, SM_BLOCK_THREADS, out_log{mx, s_k});
    else
      lc_row_map<LD_UNROLL>(yr, yr, n, t, SM_BLOCK_THREADS, out_div{s_k});
    __syncthreads(); /* s_red, s_k and the tiles are reused by the next row */
  }
}

/* ---- launcher and entry ----------------------------------------------------*/

/* Blocks of the many-rows block path (see SM_FEW_ROWS); depends on m and n only. */
static int64_t softmax_block_grid(int64_t m, int64_t n) {
  int64_t g = (int64_t)SM_L2_ROWS_BYTES / (n * (int64_t)sizeof(float));
  if (g < SM_GRID_MIN) g = SM_GRID_MIN;
  return m < g ? m : g;
}

template <bool LOG>
static lc_status softmax_launch(const float *x, int64_t m, int64_t n, float *y, cudaStream_t stream,
                                char *err, size_t err_len) {
  if (n >= SM_BLOCK_MIN_N && m <= SM_FEW_ROWS) {
    softmax_block_kernel<LOG, 1, 8><<<(unsigned)m, SM_BLOCK_THREADS, 0, stream>>>(x, m, n, y);
    return lc_launch_status("softmax_block_kernel", err, err_len);
  }
  if (n >= SM_BLOCK_MIN_N) {
    softmax_block_kernel<LOG, 2, 4>
        <<<(unsigned)softmax_block_grid(m, n), SM_BLOCK_THREADS, 0, stream>>>(x, m, n, y);
    return lc_launch_status("softmax_block_kernel", err, err_len);
  }
  int64_t blocks = (m + SM_WARP_ROWS - 1) / SM_WARP_ROWS;
  if (blocks > (1 << 20)) blocks = 1 << 20; /* the kernel loops over the rest */
  softmax_warp_kernel<LOG, SM_WARP_ROWS, SM_UNROLL>
      <<<(unsigned)blocks, SM_WARP_ROWS * 32, 0, stream>>>(x, m, n, y);
  return lc_launch_status("softmax_warp_kernel", err, err_len);
}

extern "C" lc_status lc_kernels_softmax(const float *x, int64_t m, int64_t n, int log, float *y,
                                        void *stream, char *err, size_t err_len) {
  if (m < 0 || n < 1 || (m > 0 && (!x || !y))) {
    if (err && err_len)
      snprintf(err, err_len, "lc_kernels_softmax: bad arguments (m = %lld, n = %lld)", (long long)m,
               (long long)n);
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (m == 0) return LC_OK;
  cudaStream_t s = (cudaStream_t)stream;
  return log ? softmax_launch<true>(x, m, n, y, s, err, err_len)
             : softmax_launch<false>(x, m, n, y, s, err, err_len);
}

/*
 * kernels/attention.cu — strict attention over the KV cache on the GPU,
 * bitwise equal to cpu_ref/attention.c lc_cpu_attention_strict.
 *
 * Contract (device memory):
 *   q, out            [total_q][n_heads][head_dim] fp32   query row r, head h
 *   k_cache, v_cache  [n_slots][max_len][n_kv_heads][head_dim], fp32 or bf16
 *                     (shape->kv_dtype; bf16 widened exactly as it is read,
 *                     so the bits are those of an fp32 cache of the same
 *                     values)
 *   q_slot, q_pos     int32 [total_q]: row r lives in slot q_slot[r] at
 *                     position q_pos[r] and sees keys 0 .. q_pos[r]
 *   ws                lc_kernels_attention_workspace(shape, total_q) bytes
 * Query head h reads kv head g = h / (n_heads / n_kv_heads).
 *
 * The order (the canonical order v1, docs/numerics.md), and why it cannot
 * depend on the batch: keys are cut into partitions of P = 256 positions
 * counted from position 0 of the slot, so which partition a key falls in is
 * a function of its position alone.  Per (row, head, partition b):
 *   s_j = (fma chain over i = 0 .. head_dim-1 from +0) * scale
 *   m_b = canon_zero(max_nonan of the s_j from -Inf)       (any order: exact)
 *   p_j = lc_expf(s_j - m_b)
 *   l_b = +0, then l_b = l_b + p_j           for j ascending (one chain)
 *   o_b[i] = +0, then fma(p_j, v_j[i], o_b[i]) for j ascending (one chain)
 * then, per (row, head), the partitions merged in ascending b:
 *   M = canon_zero(max_nonan(m, m_b)), a = exp(m - M), c = exp(m_b - M),
 *   l = fma(l, a, l_b * c), o[i] = fma(o[i], a, o_b[i] * c), m = M;
 *   out[i] = canon_nan(o[i] / l).
 * Every chain above is computed by one thread in its order; only the max is
 * spread over lanes, and the max of a set (NaN ignored, zero canonicalised)
 * is the same whatever the order.  A row's result therefore depends on its
 * q, slot and position only: not on total_q, the other rows, the chunking of
 * a prompt, the grid or the GPU.
 *
 * Two kernels:
 *  1. attn_partition_kernel: one block per (row, kv head, block of up to
 *     ATTN_HEADS query heads of that kv head's group, partition).  The
 *     group's heads share each K and V load.  Scores: thread t takes key
 *     j0 + t and runs the head_dim chain for every head of the block (the
 *     block's q in shared memory); the max: one warp per head; p: in place;
 *     l_b and o_b: thread (head subset, i) runs the key chain j ascending
 *     for dim i (every lane recomputes l_b for its heads, the lane i == 0
 *     stores it).  Writes (m_b, l_b) and o_b[head_dim] to the workspace.
 *     attn_tiled_kernel (taken where a row of a kv head is a whole number
 *     of 16-byte pieces and the caches are 16-byte aligned; build with
 *     -DATTN_TILED=0 to keep the first) computes the same chains in the
 *     same order from shared-memory tiles of 32 keys filled by cp.async,
 *     so its bits are the first kernel's.  attn_rows_kernel (head_dim
 *     128, more rows than slots: a prompt's prefill) runs up to ATTN_ROWS
 *     rows of one slot per item over the same tiles, every row's chains
 *     unchanged: K and V read once per group of rows instead of per row.
 *  2. attn_merge_kernel: one thread per (row, head, i) merges the row's
 *     partitions in ascending order and writes out (m and l recomputed
 *     identically by the head_dim threads of a (row, head)).
 * The workspace holds every partition of at most rows_per_launch() rows
 * (partitions per row bounded by ceil(max_len / P)); more rows are run in
 * successive launches on the stream, which changes no bit (rows are
 * independent).
 *
 * Benchmark: none yet (bench/bench_attention.c to come); tested by
 * build/tests/test_cuda_attention (CUDA strict vs CPU strict, bitwise).
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cast/lc_canon.h"
#include "kernels/lc_cuda_common.cuh"
#include "kernels/lc_kernels.h"
#include "kernels/matmul_common.cuh" /* cp_async16 */

/* ---- tile parameters ---------------------------------------------------- */
#define ATTN_P LC_ATTN_PARTITION /* keys per partition */
#define ATTN_THREADS 256         /* threads per partition block: one key each */
#define ATTN_HEADS 8             /* query heads per partition block */
#define ATTN_SROW (ATTN_P + 1)   /* score tile row stride (padded: no bank conflicts) */
#define ATTN_MERGE_THREADS 256
/* Partials one launch may hold; above it, rows go in several launches. */
#define ATTN_WS_CAP ((size_t)64 << 20)
/* Largest grid launched; blocks loop over the remaining items. */
#define ATTN_MAX_BLOCKS ((int64_t)1 << 22)

static_assert(ATTN_THREADS == ATTN_P, "the score phase maps one thread to one key");
static_assert(ATTN_THREADS >= LC_MAX_HEAD_DIM, "the o_b phase maps one thread to one dim");
static_assert(ATTN_THREADS % 32 == 0, "whole warps");

/* What both kernels read; rows row0 .. row0 + n_rows - 1 of the call. */
struct attn_args {
  const int32_t *q_slot; /* [total_q] */
  const int32_t *q_pos;  /* [total_q] */
  const float *q;        /* [total_q][n_heads][head_dim] */
  const void *kc;        /* [n_slots][max_len][n_kv][head_dim], fp32 or bf16 */
  const void *vc;
  float *out;    /* [total_q][n_heads][head_dim] */
  float2 *ws_ml; /* [n_rows][n_heads][n_parts] partition (m_b, l_b), workspace */
  float *ws_o;   /* [n_rows][n_heads][n_parts][head_dim] partition o_b, workspace */
  int64_t row0, n_rows;
  int n_heads, n_kv, group, n_hb, head_dim, n_parts;
  int rows_inner; /* item order: the rows fastest (prefill), else the partitions */
  int64_t max_len;
  float scale;
};

/* Reading the cache: KT = float (fp32) or uint16_t (bf16, widened exactly);
 * load4 reads 4 consecutive elements (VEC: 16 or 8 bytes, aligned). */
template <typename KT>
struct kv_io;
template <>
struct kv_io<float> {
  static __device__ __forceinline__ float4 load4(const float *p) {
    return __ldg(reinterpret_cast<const float4 *>(p));
  }
  static __device__ __forceinline__ float load1(const float *p) { return __ldg(p); }
};
template <>
struct kv_io<uint16_t> {
  static __device__ __forceinline__ float4 load4(const uint16_t *p) {
    const uint2 h = __ldg(reinterpret_cast<const uint2 *>(p));
    return make_float4(__uint_as_float(h.x << 16), __uint_as_float(h.x & 0xFFFF0000u),
                       __uint_as_float(h.y << 16), __uint_as_float(h.y & 0xFFFF0000u));
  }
  static __device__ __forceinline__ float load1(const uint16_t *p) {
    return lc_bf16_to_f32(__ldg(p));
  }
};

/* One item of the partition kernels: row r (rl within the launch), kv
 * head g's block of query heads h0 .. h0 + nh - 1, partition b, whose n
 * keys start at element `at` of the caches. */
struct attn_item {
  int b, n, nh, h0;
  int64_t rl, r, at;
};

/* item = ((row * n_kv + g) * n_hb + hb) * n_parts + b (the partitions of
 * one (row, kv head) side by side: decode), or, with rows_inner,
 * ((g * n_hb + hb) * n_parts + b) * n_rows + row (the rows of one
 * (kv head, partition) side by side: the blocks running at one time then
 * read the same K and V tiles, which the first brings into L2 for the
 * others, so that a prompt's prefill reads each partition from DRAM about
 * once instead of once per row).  The order of the items changes which
 * block runs what and when, never a chain.  False when the row does not
 * reach the partition. */
static __device__ __forceinline__ bool attn_item_at(const attn_args &a, int64_t item,
                                                    attn_item &it) {
  int64_t rest = item;
  int hb, g;
  if (a.rows_inner) {
    it.rl = rest % a.n_rows;
    rest /= a.n_rows;
    it.b = (int)(rest % a.n_parts);
    rest /= a.n_parts;
    hb = (int)(rest % a.n_hb);
    g = (int)(rest / a.n_hb);
  } else {
    it.b = (int)(rest % a.n_parts);
    rest /= a.n_parts;
    hb = (int)(rest % a.n_hb);
    rest /= a.n_hb;
    g = (int)(rest % a.n_kv);
    it.rl = rest / a.n_kv;
  }
  it.r = a.row0 + it.rl;
  const int64_t t = a.q_pos[it.r];
  const int64_t j0 = (int64_t)it.b * ATTN_P;
  if (j0 > t) return false;
  it.n = (int)((t + 1 - j0 < ATTN_P) ? t + 1 - j0 : ATTN_P);
  const int c0 = hb * ATTN_HEADS;
  it.nh = (a.group - c0 < ATTN_HEADS) ? a.group - c0 : ATTN_HEADS;
  it.h0 = g * a.group + c0;
  const int64_t kvs = (int64_t)a.n_kv * a.head_dim;
  it.at = ((int64_t)a.q_slot[it.r] * a.max_len + j0) * kvs + (int64_t)g * a.head_dim;
  return true;
}

/* Thread (hs, i)'s partials of heads hs, hs + ns, ... of the item (o_b[i],
 * and (m_b, l_b) from the thread of i == 0) into the workspace. */
static __device__ __forceinline__ void attn_store(const attn_args &a, const attn_item &it, int hs,
                                                  int ns, int i, const float (&o)[ATTN_HEADS],
                                                  const float (&l)[ATTN_HEADS], const float *m_s) {
#pragma unroll
  for (int k = 0; k < ATTN_HEADS; k++) {
    const int c = hs + k * ns;
    if (c < it.nh) {
      const int64_t idx = (it.rl * a.n_heads + it.h0 + c) * a.n_parts + it.b;
      a.ws_o[idx * a.head_dim + i] = o[k];
      if (i == 0) a.ws_ml[idx] = make_float2(m_s[c], l[k]);
    }
  }
}

/* The partition's max per head into m_s (one warp per head, order-free, see
 * above), a barrier, then p_j = exp(s_j - m_b) in place over the n scores of
 * each of the nh heads. */
static __device__ __forceinline__ void attn_exp_scores(float *s_s, float *m_s, int nh, int n) {
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  for (int c = warp; c < nh; c += ATTN_THREADS / 32) {
    float m = -INFINITY;
    for (int j = lane; j < n; j += 32) m = lc_max_nonan(m, s_s[c * ATTN_SROW + j]);
    m = lc_warp_max_nonan(m);
    if (lane == 0) m_s[c] = lc_canon_zero(m);
  }
  __syncthreads();
  for (int e = tid; e < nh * ATTN_P; e += ATTN_THREADS) {
    const int c = e / ATTN_P, j = e % ATTN_P;
    if (j < n) s_s[c * ATTN_SROW + j] = lc_expf(s_s[c * ATTN_SROW + j] - m_s[c]);
  }
}

/* One key of the l_b and o_b chains of heads hs, hs + ns, ... (< nh): p
 * points at the key's score of head 0 (head c's at p[c * ATTN_SROW]). */
static __device__ __forceinline__ void attn_pv_step(const float *p, float v, int hs, int ns, int nh,
                                                    float (&o)[ATTN_HEADS],
                                                    float (&l)[ATTN_HEADS]) {
#pragma unroll
  for (int k = 0; k < ATTN_HEADS; k++) {
    const int cc = hs + k * ns;
    if (cc < nh) {
      const float pk = p[cc * ATTN_SROW];
      l[k] = l[k] + pk;
      o[k] = LC_FMA(pk, v, o[k]);
    }
  }
}

/* ---- kernel 1: one partition of one row for up to ATTN_HEADS heads ------- */
/* VEC: head_dim % 4 == 0 and the cache aligned for 4-element loads.
 * Dynamic shared memory: q [ATTN_HEADS][head_dim], scores/p
 * [ATTN_HEADS][ATTN_SROW], m [ATTN_HEADS]. */
template <bool VEC, typename KT>
__global__ void __launch_bounds__(ATTN_THREADS) attn_partition_kernel(attn_args a) {
  extern __shared__ float4 attn_smem4[];
  float *const q_s = reinterpret_cast<float *>(attn_smem4);
  const int D = a.head_dim;
  float *const s_s = q_s + ATTN_HEADS * D;
  float *const m_s = s_s + ATTN_HEADS * ATTN_SROW;
  const int tid = threadIdx.x;
  const int64_t kvs = (int64_t)a.n_kv * D; /* elements between positions */
  const int64_t n_items = a.n_rows * a.n_kv * a.n_hb * a.n_parts;

  for (int64_t item = blockIdx.x; item < n_items; item += gridDim.x) {
    attn_item it;
    if (!attn_item_at(a, item, it)) continue; /* block-uniform */
    const int n = it.n, nh = it.nh, h0 = it.h0;
    const int64_t r = it.r;
    const KT *const kb = static_cast<const KT *>(a.kc) + it.at; /* key j0, kv head g */
    const KT *const vb = static_cast<const KT *>(a.vc) + it.at;

    /* the block's queries: heads h0 .. h0 + nh - 1 are contiguous in q */
    const float *qr = a.q + (r * a.n_heads + h0) * (int64_t)D;
    for (int e = tid; e < nh * D; e += ATTN_THREADS) q_s[e] = qr[e];
    __syncthreads();

    /* scores: thread tid runs key j0 + tid; one fma chain per head, i
     * ascending from +0, then times scale */
    if (tid < n) {
      const KT *kj = kb + (int64_t)tid * kvs;
      float acc[ATTN_HEADS];
#pragma unroll
      for (int c = 0; c < ATTN_HEADS; c++) acc[c] = 0.0f;
      if (VEC) {
        for (int i = 0; i < D; i += 4) {
          const float4 k4 = kv_io<KT>::load4(kj + i);
#pragma unroll
          for (int c = 0; c < ATTN_HEADS; c++) {
            if (c < nh) {
              const float4 q4 = *reinterpret_cast<const float4 *>(q_s + c * D + i);
              float d = acc[c];
              d = LC_FMA(q4.x, k4.x, d);
              d = LC_FMA(q4.y, k4.y, d);
              d = LC_FMA(q4.z, k4.z, d);
              d = LC_FMA(q4.w, k4.w, d);
              acc[c] = d;
            }
          }
        }
      } else {
        for (int i = 0; i < D; i++) {
          const float kv = kv_io<KT>::load1(kj + i);
#pragma unroll
          for (int c = 0; c < ATTN_HEADS; c++)
            if (c < nh) acc[c] = LC_FMA(q_s[c * D + i], kv, acc[c]);
        }
      }
#pragma unroll
      for (int c = 0; c < ATTN_HEADS; c++)
        if (c < nh) s_s[c * ATTN_SROW + tid] = acc[c] * a.scale;
    }
    __syncthreads();

    attn_exp_scores(s_s, m_s, nh, n);
    __syncthreads();

    /* l_b and o_b: thread (hs, i) runs the key chains of dim i for heads
     * c = hs, hs + ns, ... (at most ATTN_HEADS of them), j ascending */
    const int ns = (ATTN_THREADS / D < nh) ? ATTN_THREADS / D : nh;
    const int hs = tid / D, i = tid - hs * D;
    if (hs < ns) {
      float o[ATTN_HEADS], l[ATTN_HEADS];
#pragma unroll
      for (int k = 0; k < ATTN_HEADS; k++) o[k] = l[k] = 0.0f;
      const KT *vi = vb + i;
#pragma unroll 4
      for (int j = 0; j < n; j++) {
        attn_pv_step(s_s + j, kv_io<KT>::load1(vi + (int64_t)j * kvs), hs, ns, nh, o, l);
      }
      attn_store(a, it, hs, ns, i, o, l, m_s);
    }
    /* the next item's first write to shared memory (q_s) touches nothing
     * read since the last barrier, and its next barrier orders the rest */
  }
}

/* ---- kernel 1, tiled: the same partition, K and V through shared memory --
 * The same chains in the same order as attn_partition_kernel (so the same
 * bits); only the way K and V reach the threads differs.  Each partition's
 * keys go through shared memory in tiles of TK positions (32, or 64 for blocks of <= 4 heads),
 * copied with 16-byte cp.async in full rows (coalesced, many copies in flight, the next tile while
 * this one is used).  Scores: thread tid runs the chain of (key tid % TK, head tid / TK) of the
 * tile, reading k from the tile (rows padded by 16 bytes: conflict-free) and q from q_s.  Then the
 * max and p as before, then l_b and o_b with v from the V tiles, j
 * ascending across tiles (the chains live in registers).
 * Needs head_dim * sizeof(KT) % 16 == 0 and 16-byte aligned caches. */
/* Switches for A/B runs (tools/device-fast.sh attnab): blocks per SM the
 * tiled kernel's registers are sized for, and whether blocks of <= 4 heads
 * take 64-key tiles (else 32, the smaller shared-memory footprint). */
#ifndef ATTN_MINB
#define ATTN_MINB 2
#endif
#ifndef ATTN_TK_BIG
#define ATTN_TK_BIG 1
#endif
#ifndef ATTN_ROWS_INNER
#define ATTN_ROWS_INNER 1
#endif
#ifndef ATTN_TILED
#define ATTN_TILED 1
#endif
#define ATTN_TK 32 /* keys per shared-memory tile (64 where a block has <= 4 heads) */
static_assert(ATTN_TK * ATTN_HEADS <= ATTN_THREADS, "one (key, head) chain per thread");

/* Tile row stride in elements: the row plus 16 bytes. */
template <typename KT>
static __host__ __device__ __forceinline__ int tile_stride(int D) {
  return D + 16 / (int)sizeof(KT);
}

template <typename KT>
static __device__ __forceinline__ float tile_get(const KT *p);
template <>
__device__ __forceinline__ float tile_get<float>(const float *p) {
  return *p;
}
template <>
__device__ __forceinline__ float tile_get<uint16_t>(const uint16_t *p) {
  return lc_bf16_to_f32(*p);
}
template <typename KT>
static __device__ __forceinline__ float4 tile_get4(const KT *p);
template <>
__device__ __forceinline__ float4 tile_get4<float>(const float *p) {
  return *reinterpret_cast<const float4 *>(p);
}
template <>
__device__ __forceinline__ float4 tile_get4<uint16_t>(const uint16_t *p) {
  const uint2 h = *reinterpret_cast<const uint2 *>(p);
  return make_float4(__uint_as_float(h.x << 16), __uint_as_float(h.x & 0xFFFF0000u),
                     __uint_as_float(h.y << 16), __uint_as_float(h.y & 0xFFFF0000u));
}

/* Queues the copy of keys js .. js + nk - 1 (nk <= the tile's keys) of one kv head
 * from the cache at src (key js) into a tile; rows past nk are not copied. */
template <typename KT>
static __device__ __forceinline__ void tile_load(KT *tile, const KT *src, int nk, int D,
                                                 int64_t kvs) {
  const int cpr = D * (int)sizeof(KT) / 16; /* 16-byte chunks per row */
  const int st = tile_stride<KT>(D);
  for (int e = threadIdx.x; e < nk * cpr; e += ATTN_THREADS) {
    const int j = e / cpr, c = e - j * cpr;
    cp_async16(tile + j * st + c * (16 / (int)sizeof(KT)),
               src + (int64_t)j * kvs + c * (16 / (int)sizeof(KT)), true);
  }
  cp_async_commit();
}

/* The double buffer's step at tile ti of n_tiles: queues the copy of tile
 * ti + 1 (keys from base + (ti + 1) TK positions on, rows_of(ti + 1) of them)
 * into `next`, waits for tile ti's copies, then a barrier: tile ti is in
 * shared memory for every thread. */
template <typename KT, int TK, typename RowsOf>
static __device__ __forceinline__ void tile_step(KT *next, const KT *base, int ti, int n_tiles,
                                                 RowsOf rows_of, int D, int64_t kvs) {
  if (ti + 1 < n_tiles) {
    tile_load<KT>(next, base + (int64_t)(ti + 1) * TK * kvs, rows_of(ti + 1), D, kvs);
    cp_async_wait<1>();
  } else {
    cp_async_wait<0>();
  }
  __syncthreads();
}

/* HD: head_dim known at compile time (the common 128: the chains' loops
 * unroll and their shared-memory loads run ahead), or 0: a.head_dim.
 * TK: keys per tile, ATTN_TK or 2 ATTN_TK; TK x (heads of the block) <=
 * ATTN_THREADS, so that every (key, head) chain of a tile has a thread
 * (the launcher takes 2 ATTN_TK for groups of at most 4 heads). */
template <typename KT, int HD, int TK>
__global__ void __launch_bounds__(ATTN_THREADS, ATTN_MINB) attn_tiled_kernel(attn_args a) {
  static_assert(ATTN_P % TK == 0, "whole tiles per partition");
  extern __shared__ float4 attn_smem4[];
  float *const q_s = reinterpret_cast<float *>(attn_smem4);
  const int D = HD > 0 ? HD : a.head_dim;
  float *const s_s = q_s + ATTN_HEADS * D;
  float *const m_s = s_s + ATTN_HEADS * ATTN_SROW;
  const size_t head_bytes =
      ((size_t)(ATTN_HEADS * D + ATTN_HEADS * ATTN_SROW + ATTN_HEADS) * sizeof(float) + 15) &
      ~(size_t)15;
  const int st = tile_stride<KT>(D);
  KT *const tiles = reinterpret_cast<KT *>(reinterpret_cast<char *>(attn_smem4) + head_bytes);
  /* tile t % 2 of the double buffer (arithmetic, not an indexed array: no
   * local memory) */
  auto tile_of = [&](int t) { return tiles + (t & 1) * TK * st; };
  const int tid = threadIdx.x;
  const int64_t kvs = (int64_t)a.n_kv * D;
  const int64_t n_items = a.n_rows * a.n_kv * a.n_hb * a.n_parts;

  for (int64_t item = blockIdx.x; item < n_items; item += gridDim.x) {
    attn_item it;
    if (!attn_item_at(a, item, it)) continue; /* block-uniform */
    const int n = it.n, nh = it.nh, h0 = it.h0;
    const int64_t r = it.r;
    const KT *const kb = static_cast<const KT *>(a.kc) + it.at;
    const KT *const vb = static_cast<const KT *>(a.vc) + it.at;
    const int n_tiles = (n + TK - 1) / TK;
    auto rows_of = [&](int ti) { return n - ti * TK < TK ? n - ti * TK : TK; };

    /* the previous item's last reads of the tiles and q_s are behind us */
    __syncthreads();
    tile_load<KT>(tile_of(0), kb, rows_of(0), D, kvs);
    const float *qr = a.q + (r * a.n_heads + h0) * (int64_t)D;
    for (int e = tid; e < nh * D; e += ATTN_THREADS) q_s[e] = qr[e];

    /* scores, tile by tile */
    const int kk = tid % TK, c = tid / TK;
    for (int ti = 0; ti < n_tiles; ti++) {
      tile_step<KT, TK>(tile_of(ti + 1), kb, ti, n_tiles, rows_of, D, kvs);
      const int j = ti * TK + kk;
      if (c < nh && j < n) {
        const KT *kj = tile_of(ti) + kk * st;
        const float *qc = q_s + c * D;
        float d = 0.0f;
#pragma unroll
        for (int i = 0; i < D; i += 4) {
          const float4 k4 = tile_get4<KT>(kj + i);
          const float4 q4 = *reinterpret_cast<const float4 *>(qc + i);
          d = LC_FMA(q4.x, k4.x, d);
          d = LC_FMA(q4.y, k4.y, d);
          d = LC_FMA(q4.z, k4.z, d);
          d = LC_FMA(q4.w, k4.w, d);
        }
        s_s[c * ATTN_SROW + j] = d * a.scale;
      }
      __syncthreads(); /* the tile is free for the copy after next */
    }
    /* V's first tile comes while the max and p are computed */
    tile_load<KT>(tile_of(0), vb, rows_of(0), D, kvs);

    attn_exp_scores(s_s, m_s, nh, n); /* p is read after the next barrier */

    /* l_b and o_b: thread (hs, i), heads hs, hs + ns, ...; j ascending
     * through the V tiles */
    const int ns = (ATTN_THREADS / D < nh) ? ATTN_THREADS / D : nh;
    const int hs = tid / D, i = tid - hs * D;
    float o[ATTN_HEADS], l[ATTN_HEADS];
#pragma unroll
    for (int k = 0; k < ATTN_HEADS; k++) o[k] = l[k] = 0.0f;
    for (int ti = 0; ti < n_tiles; ti++) {
      /* the tile, and (first time) p, are visible after the step */
      tile_step<KT, TK>(tile_of(ti + 1), vb, ti, n_tiles, rows_of, D, kvs);
      if (hs < ns) {
        const KT *vt = tile_of(ti) + i;
        const int nj = rows_of(ti);
        const float *p0 = s_s + ti * TK;
        int jj = 0;
        /* 8 keys at a time: their v loaded first, then the chains in j order */
        for (; jj + 8 <= nj; jj += 8) {
          float v8[8];
#pragma unroll
          for (int u = 0; u < 8; u++) v8[u] = tile_get<KT>(vt + (jj + u) * st);
#pragma unroll
          for (int u = 0; u < 8; u++) attn_pv_step(p0 + jj + u, v8[u], hs, ns, nh, o, l);
        }
        for (; jj < nj; jj++) attn_pv_step(p0 + jj, tile_get<KT>(vt + jj * st), hs, ns, nh, o, l);
      }
      __syncthreads(); /* the tile is free for the copy after next */
    }
    if (hs < ns) attn_store(a, it, hs, ns, i, o, l, m_s);
  }
}

/* ---- kernel 1, rows: several rows of one slot share each K and V tile ------
 * A prompt's rows (prefill) all read the same keys of their slot: the tiled
 * kernel above, one row per item, brings each K and V tile into shared memory
 * once per row.  Here an item is (group of R consecutive rows of the launch,
 * kv head g, block of query heads, partition b), and the rows of the group
 * that lie in one slot (a run: consecutive rows with the slot of its first)
 * share every tile: the partition's K and V are read once per run instead
 * of once per row, and in the score phase a thread loads its key's four
 * elements once for the R rows' chains.  Every chain is the one of the
 * kernels above, element for element (i ascending from +0 for a score, j
 * ascending from +0 for l_b and o_b, the max over lanes), so the bits are
 * theirs; a row that does not reach the partition (position < its first
 * key) is carried through the run's loops and stores nothing, as an item
 * that does not reach it stores nothing above.
 * head_dim 128 only (HD, the common case; other head dims go to the tiled
 * kernel); TK keys per tile and HM = ATTN_THREADS / TK heads per block at
 * most (the launcher's choice, as for the tiled kernel).  Shared memory: q
 * [R][HM][HD], scores [R][HM][ATTN_SROW], m [R][HM], then two tiles. */
#ifndef ATTN_ROWS
#define ATTN_ROWS 4 /* rows per item of the rows kernel; 0: not used (A/B) */
#endif

template <int R, int HD, int TK>
static __host__ __device__ __forceinline__ size_t rows_head_bytes() {
  constexpr int HM = ATTN_THREADS / TK;
  return ((size_t)(R * HM * HD + R * HM * ATTN_SROW + R * HM) * sizeof(float) + 15) & ~(size_t)15;
}

template <typename KT, int R, int HD, int TK>
__global__ void __launch_bounds__(ATTN_THREADS, 2) attn_rows_kernel(attn_args a) {
  constexpr int HM = ATTN_THREADS / TK;   /* heads per block, at most */
  constexpr int NS = ATTN_THREADS / HD;   /* head subsets of the l_b/o_b phase */
  constexpr int KPT = (HM + NS - 1) / NS; /* heads per thread there, at most */
  static_assert(ATTN_P % TK == 0 && HM <= ATTN_HEADS && NS >= 1, "tile shape");
  extern __shared__ float4 attn_smem4[];
  float *const q_s = reinterpret_cast<float *>(attn_smem4); /* [R][HM][HD] */
  float *const s_s = q_s + R * HM * HD;                     /* [R][HM][ATTN_SROW] */
  float *const m_s = s_s + R * HM * ATTN_SROW;              /* [R][HM] */
  constexpr int st = HD + 16 / (int)sizeof(KT);
  KT *const tiles =
      reinterpret_cast<KT *>(reinterpret_cast<char *>(attn_smem4) + rows_head_bytes<R, HD, TK>());
  auto tile_of = [&](int t) { return tiles + (t & 1) * TK * st; };
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t kvs = (int64_t)a.n_kv * HD;
  const int64_t n_groups = (a.n_rows + R - 1) / R;
  const int64_t n_items = n_groups * a.n_kv * a.n_hb * a.n_parts;
  /* the heads of the block and the score and l_b/o_b thread maps */
  const int kk = tid % TK, c = tid / TK;
  const int ns_cap = NS; /* ns = min(NS, nh) below */
  const int hs0 = tid / HD, i = tid - hs0 * HD;

  for (int64_t item = blockIdx.x; item < n_items; item += gridDim.x) {
    /* item = ((g * n_hb + hb) * n_parts + b) * n_groups + group: the groups
     * of one (kv head, partition) side by side, as rows_inner above */
    int64_t rest = item;
    const int64_t grp = rest % n_groups;
    rest /= n_groups;
    const int b = (int)(rest % a.n_parts);
    rest /= a.n_parts;
    const int hb = (int)(rest % a.n_hb);
    const int g = (int)(rest / a.n_hb);
    const int c0 = hb * HM;
    const int nh = (a.group - c0 < HM) ? a.group - c0 : HM;
    const int h0 = g * a.group + c0;
    const int64_t j0 = (int64_t)b * ATTN_P;
    const int64_t rl_end = (grp + 1) * R < a.n_rows ? (grp + 1) * R : a.n_rows;

    for (int64_t rl0 = grp * R; rl0 < rl_end;) { /* one run per pass, block-uniform */
      const int32_t slot = a.q_slot[a.row0 + rl0];
      int nr = 1;
      while (rl0 + nr < rl_end && a.q_slot[a.row0 + rl0 + nr] == slot) nr++;
      int nrow[R]; /* keys of the partition each row of the run sees (<= 0: none) */
      int nmax = 0;
#pragma unroll
      for (int rr = 0; rr < R; rr++) {
        nrow[rr] = 0;
        if (rr < nr) {
          const int64_t t = a.q_pos[a.row0 + rl0 + rr];
          nrow[rr] = (t + 1 - j0 <= 0) ? 0 : (t + 1 - j0 < ATTN_P ? (int)(t + 1 - j0) : ATTN_P);
          nmax = nrow[rr] > nmax ? nrow[rr] : nmax;
        }
      }
      if (nmax == 0) {
        rl0 += nr;
        continue;
      }
      const int64_t at = ((int64_t)slot * a.max_len + j0) * kvs + (int64_t)g * HD;
      const KT *const kb = static_cast<const KT *>(a.kc) + at;
      const KT *const vb = static_cast<const KT *>(a.vc) + at;
      const int n_tiles = (nmax + TK - 1) / TK;
      auto rows_of = [&](int ti) { return nmax - ti * TK < TK ? nmax - ti * TK : TK; };

      __syncthreads(); /* the previous run's reads of the tiles, q_s and s_s are done */
      tile_load<KT>(tile_of(0), kb, rows_of(0), HD, kvs);
      for (int rr = 0; rr < nr; rr++) {
        const float *qr = a.q + ((a.row0 + rl0 + rr) * a.n_heads + h0) * (int64_t)HD;
        for (int e = tid; e < nh * HD; e += ATTN_THREADS) q_s[rr * HM * HD + e] = qr[e];
      }

      /* scores: thread (kk, c) runs key ti * TK + kk of head c for every row */
      for (int ti = 0; ti < n_tiles; ti++) {
        tile_step<KT, TK>(tile_of(ti + 1), kb, ti, n_tiles, rows_of, HD, kvs);
        const int j = ti * TK + kk;
        if (c < nh && j < nmax) {
          const KT *kj = tile_of(ti) + kk * st;
          float d[R];
#pragma unroll
          for (int rr = 0; rr < R; rr++) d[rr] = 0.0f;
#pragma unroll 8
          for (int e = 0; e < HD; e += 4) {
            const float4 k4 = tile_get4<KT>(kj + e);
#pragma unroll
            for (int rr = 0; rr < R; rr++) {
              if (rr < nr) {
                const float4 q4 = *reinterpret_cast<const float4 *>(q_s + (rr * HM + c) * HD + e);
                d[rr] = LC_FMA(q4.x, k4.x, d[rr]);
                d[rr] = LC_FMA(q4.y, k4.y, d[rr]);
                d[rr] = LC_FMA(q4.z, k4.z, d[rr]);
                d[rr] = LC_FMA(q4.w, k4.w, d[rr]);
              }
            }
          }
#pragma unroll
          for (int rr = 0; rr < R; rr++)
            if (rr < nr && j < nrow[rr]) s_s[(rr * HM + c) * ATTN_SROW + j] = d[rr] * a.scale;
        }
        __syncthreads(); /* the tile is free for the copy after next */
      }
      /* V's first tile comes while the max and p are computed */
      tile_load<KT>(tile_of(0), vb, rows_of(0), HD, kvs);

      /* the max of each (row, head), one warp each, then p in place */
      for (int rc = warp; rc < nr * HM; rc += ATTN_THREADS / 32) {
        const int rr = rc / HM, cc = rc - rr * HM;
        if (cc >= nh) continue;
        int n = 0;
#pragma unroll
        for (int u = 0; u < R; u++)
          if (u == rr) n = nrow[u];
        if (n == 0) continue;
        float m = -INFINITY;
        for (int jj = lane; jj < n; jj += 32) m = lc_max_nonan(m, s_s[rc * ATTN_SROW + jj]);
        m = lc_warp_max_nonan(m);
        if (lane == 0) m_s[rc] = lc_canon_zero(m);
      }
      __syncthreads();
      for (int rr = 0; rr < nr; rr++) {
        int n = 0;
#pragma unroll
        for (int u = 0; u < R; u++)
          if (u == rr) n = nrow[u];
        for (int e = tid; e < nh * ATTN_P; e += ATTN_THREADS) {
          const int cc = e / ATTN_P, jj = e % ATTN_P;
          const int rc = rr * HM + cc;
          if (jj < n) s_s[rc * ATTN_SROW + jj] = lc_expf(s_s[rc * ATTN_SROW + jj] - m_s[rc]);
        }
      }

      /* l_b and o_b: thread (hs, i), heads hs, hs + ns, ... of every row;
       * j ascending through the V tiles */
      const int ns = ns_cap < nh ? ns_cap : nh;
      const int hs = hs0;
      float o[R][KPT], l[R][KPT];
#pragma unroll
      for (int rr = 0; rr < R; rr++)
#pragma unroll
        for (int k = 0; k < KPT; k++) o[rr][k] = l[rr][k] = 0.0f;
      for (int ti = 0; ti < n_tiles; ti++) {
        /* the tile, and (first time) p, are visible after the step */
        tile_step<KT, TK>(tile_of(ti + 1), vb, ti, n_tiles, rows_of, HD, kvs);
        if (hs < ns) {
          const KT *vt = tile_of(ti) + i;
          const int nj = rows_of(ti);
          for (int jj = 0; jj < nj; jj++) {
            const float v = tile_get<KT>(vt + jj * st);
            const int j = ti * TK + jj;
#pragma unroll
            for (int rr = 0; rr < R; rr++) {
              if (rr < nr && j < nrow[rr]) {
#pragma unroll
                for (int k = 0; k < KPT; k++) {
                  const int cc = hs + k * ns;
                  if (cc < nh) {
                    const float pk = s_s[(rr * HM + cc) * ATTN_SROW + j];
                    l[rr][k] = l[rr][k] + pk;
                    o[rr][k] = LC_FMA(pk, v, o[rr][k]);
                  }
                }
              }
            }
          }
        }
        __syncthreads(); /* the tile is free for the copy after next */
      }
      if (hs < ns) {
#pragma unroll
        for (int rr = 0; rr < R; rr++) {
          if (rr < nr && nrow[rr] > 0) {
            const int64_t rl = rl0 + rr;
#pragma unroll
            for (int k = 0; k < KPT; k++) {
              const int cc = hs + k * ns;
              if (cc < nh) {
                const int64_t idx = (rl * a.n_heads + h0 + cc) * a.n_parts + b;
                a.ws_o[idx * HD + i] = o[rr][k];
                if (i == 0) a.ws_ml[idx] = make_float2(m_s[rr * HM + cc], l[rr][k]);
              }
            }
          }
        }
      }
      rl0 += nr;
    }
  }
}

/* ---- kernel 2: merge the partitions of one (row, head), one thread per dim */
__global__ void __launch_bounds__(ATTN_MERGE_THREADS) attn_merge_kernel(attn_args a) {
  griddep_launch_dependents(); /* a PDL-launched matmul after this may start */
  const int64_t D = a.head_dim;
  const int64_t n = a.n_rows * a.n_heads * D;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = e % D, rh = e / D; /* rh = rl * n_heads + h */
    const int64_t rl = rh / a.n_heads;
    const int64_t r = a.row0 + rl;
    const int nb = a.q_pos[r] / ATTN_P + 1;
    const int64_t base = rh * a.n_parts;
    float2 ml = a.ws_ml[base];
    float m = ml.x, l = ml.y, o = a.ws_o[base * D + i];
    for (int b = 1; b < nb; b++) {
      ml = a.ws_ml[base + b];
      const float ob = a.ws_o[(base + b) * D + i];
      const float mm = lc_canon_zero(lc_max_nonan(m, ml.x));
      const float sa = lc_expf(m - mm);
      const float sc = lc_expf(ml.x - mm);
      l = LC_FMA(l, sa, ml.y * sc);
      o = LC_FMA(o, sa, ob * sc);
      m = mm;
    }
    a.out[a.row0 * a.n_heads * D + e] = lc_canon_nan(LC_DIV(o, l)); /* out[r][h][i] */
  }
}

/* ---- launcher ------------------------------------------------------------ */

static int n_parts_of(const lc_attn_shape *sh) {
  return (int)(((int64_t)sh->max_len + ATTN_P - 1) / ATTN_P);
}

/* Workspace bytes of one row: every partition of every head; SIZE_MAX when
 * that cannot be allocated anyway (so the caller's allocation fails cleanly
 * instead of a product wrapping around). */
static size_t row_ws_bytes(const lc_attn_shape *sh) {
  const double approx =
      (double)sh->n_heads * (double)n_parts_of(sh) * ((double)sh->head_dim + 2) * sizeof(float);
  if (approx > 0x1p60) return SIZE_MAX;
  return (size_t)sh->n_heads * (size_t)n_parts_of(sh) * ((size_t)sh->head_dim + 2) * sizeof(float);
}

/* Rows whose partials one launch keeps: as many as fit ATTN_WS_CAP, >= 1. */
static int64_t rows_per_launch(const lc_attn_shape *sh, int64_t total_q) {
  int64_t rows = (int64_t)(ATTN_WS_CAP / row_ws_bytes(sh));
  if (rows < 1) rows = 1;
  return rows < total_q ? rows : total_q;
}

static size_t smem_bytes(int head_dim) {
  return ((size_t)ATTN_HEADS * head_dim + (size_t)ATTN_HEADS * ATTN_SROW + ATTN_HEADS) *
         sizeof(float);
}

/* The tiled kernel's: smem_bytes rounded to 16, then two tiles of tk keys. */
static size_t tiled_smem_bytes(int head_dim, bool bf16, int tk) {
  const size_t head = (smem_bytes(head_dim) + 15) & ~(size_t)15;
  const size_t row =
      bf16 ? (size_t)tile_stride<uint16_t>(head_dim) * 2 : (size_t)tile_stride<float>(head_dim) * 4;
  return head + 2 * (size_t)tk * row;
}

static lc_status launch_fail(cudaError_t e, const char *what, char *err, size_t err_len) {
  if (err && err_len)
    snprintf(err, err_len, "attention: %s: %s (%s)", what, cudaGetErrorString(e),
             cudaGetErrorName(e));
  return LC_ERR_CUDA;
}

template <typename KT, int HD, int TK>
static cudaError_t launch_tiled(const attn_args &a, unsigned grid, cudaStream_t st) {
  const size_t smem = tiled_smem_bytes(a.head_dim, sizeof(KT) == 2, TK);
  cudaError_t e = cudaFuncSetAttribute(attn_tiled_kernel<KT, HD, TK>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return e;
  attn_tiled_kernel<KT, HD, TK><<<grid, ATTN_THREADS, smem, st>>>(a);
  return cudaGetLastError();
}

/* head_dim 128 with groups of <= 4 query heads (Llama-3-8B's 32/8): tiles
 * of 64 keys, so that all 256 threads run score chains; else 32 keys. */
template <typename KT>
static cudaError_t launch_tiled_for(const attn_args &a, unsigned grid, cudaStream_t st) {
  if (a.head_dim != 128) return launch_tiled<KT, 0, ATTN_TK>(a, grid, st);
  if (ATTN_TK_BIG && a.group <= 4) return launch_tiled<KT, 128, 2 * ATTN_TK>(a, grid, st);
  return launch_tiled<KT, 128, ATTN_TK>(a, grid, st);
}

#if ATTN_ROWS > 0
template <typename KT, int TK>
static cudaError_t launch_rows_kernel(const attn_args &a, cudaStream_t st) {
  constexpr int R = ATTN_ROWS, HD = 128;
  const size_t smem =
      rows_head_bytes<R, HD, TK>() + 2 * (size_t)TK * (size_t)tile_stride<KT>(HD) * sizeof(KT);
  const int64_t items = (a.n_rows + R - 1) / R * a.n_kv * a.n_hb * a.n_parts;
  const unsigned grid = (unsigned)(items < ATTN_MAX_BLOCKS ? items : ATTN_MAX_BLOCKS);
  cudaError_t e = cudaFuncSetAttribute(attn_rows_kernel<KT, R, HD, TK>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return e;
  attn_rows_kernel<KT, R, HD, TK><<<grid, ATTN_THREADS, smem, st>>>(a);
  return cudaGetLastError();
}

/* The rows kernel's tiles: 64 keys for groups of <= 4 heads, as the tiled
 * kernel's. */
template <typename KT>
static cudaError_t launch_rows_for(const attn_args &a, cudaStream_t st) {
  if (ATTN_TK_BIG && a.group <= 4) return launch_rows_kernel<KT, 2 * ATTN_TK>(a, st);
  return launch_rows_kernel<KT, ATTN_TK>(a, st);
}
#endif

/* Runs rows a.row0 .. a.row0 + a.n_rows - 1: partitions, then the merge. */
static lc_status launch_rows(const attn_args &a, bool vec, bool tiled, bool bf16,
                             cudaStream_t stream, char *err, size_t err_len) {
  const int64_t items = a.n_rows * a.n_kv * a.n_hb * a.n_parts;
  const unsigned grid1 = (unsigned)(items < ATTN_MAX_BLOCKS ? items : ATTN_MAX_BLOCKS);
  const size_t smem = smem_bytes(a.head_dim);
  if (ATTN_ROWS > 0 && ATTN_TILED && tiled && a.rows_inner && a.head_dim == 128) {
#if ATTN_ROWS > 0
    /* a prompt's rows: several rows of one slot per item (prefill) */
    cudaError_t e = bf16 ? launch_rows_for<uint16_t>(a, stream) : launch_rows_for<float>(a, stream);
    if (e != cudaSuccess) return launch_fail(e, "rows kernel launch", err, err_len);
#endif
  } else if (ATTN_TILED && tiled) {
    cudaError_t e = bf16 ? launch_tiled_for<uint16_t>(a, grid1, stream)
                         : launch_tiled_for<float>(a, grid1, stream);
    if (e != cudaSuccess) return launch_fail(e, "tiled kernel launch", err, err_len);
  } else if (bf16 && vec)
    attn_partition_kernel<true, uint16_t><<<grid1, ATTN_THREADS, smem, stream>>>(a);
  else if (bf16)
    attn_partition_kernel<false, uint16_t><<<grid1, ATTN_THREADS, smem, stream>>>(a);
  else if (vec)
    attn_partition_kernel<true, float><<<grid1, ATTN_THREADS, smem, stream>>>(a);
  else
    attn_partition_kernel<false, float><<<grid1, ATTN_THREADS, smem, stream>>>(a);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return launch_fail(e, "partition kernel launch", err, err_len);
  const int64_t elems = a.n_rows * a.n_heads * (int64_t)a.head_dim;
  int64_t blocks = (elems + ATTN_MERGE_THREADS - 1) / ATTN_MERGE_THREADS;
  if (blocks > ATTN_MAX_BLOCKS) blocks = ATTN_MAX_BLOCKS;
  attn_merge_kernel<<<(unsigned)blocks, ATTN_MERGE_THREADS, 0, stream>>>(a);
  e = cudaGetLastError();
  if (e != cudaSuccess) return launch_fail(e, "merge kernel launch", err, err_len);
  return LC_OK;
}

/* ---- entries ------------------------------------------------------------- */

extern "C" size_t lc_kernels_attention_workspace(const lc_attn_shape *shape, int64_t total_q) {
  if (!shape || total_q <= 0 || shape->n_heads < 1 || shape->head_dim < 1 || shape->max_len < 1)
    return 0;
  const size_t row = row_ws_bytes(shape);
  if (row == SIZE_MAX) return SIZE_MAX;
  return (size_t)rows_per_launch(shape, total_q) * row; /* <= max(row, ATTN_WS_CAP) */
}

extern "C" lc_status lc_kernels_attention(const lc_attn_shape *shape, int64_t total_q,
                                          const int32_t *q_slot, const int32_t *q_pos,
                                          const float *q, const void *k_cache, const void *v_cache,
                                          float *out, void *ws, size_t ws_bytes, void *stream,
                                          char *err, size_t err_len) {
  if (err && err_len) err[0] = 0;
  if (!shape || total_q < 0) {
    if (err && err_len) snprintf(err, err_len, "attention: bad arguments");
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (total_q == 0) return LC_OK;
  if (shape->n_heads < 1 || shape->n_kv_heads < 1 || shape->n_heads % shape->n_kv_heads != 0 ||
      shape->head_dim < 1 || shape->head_dim > LC_MAX_HEAD_DIM || shape->max_len < 1) {
    if (err && err_len)
      snprintf(err, err_len, "attention: n_heads %d, n_kv_heads %d, head_dim %d, max_len %d",
               (int)shape->n_heads, (int)shape->n_kv_heads, (int)shape->head_dim,
               (int)shape->max_len);
    return LC_ERR_SHAPE;
  }
  if (shape->kv_dtype != LC_DTYPE_F32 && shape->kv_dtype != LC_DTYPE_BF16) {
    if (err && err_len) snprintf(err, err_len, "attention: kv_dtype %d", (int)shape->kv_dtype);
    return LC_ERR_INVALID_ARGUMENT;
  }
  if (!q_slot || !q_pos || !q || !k_cache || !v_cache || !out || !ws) {
    if (err && err_len) snprintf(err, err_len, "attention: NULL pointer");
    return LC_ERR_INVALID_ARGUMENT;
  }
  const size_t need = lc_kernels_attention_workspace(shape, total_q);
  if (need == SIZE_MAX || ws_bytes < need || !lc_aligned8(ws)) {
    if (err && err_len)
      snprintf(err, err_len, "attention: workspace of %zu bytes at %p, need %zu, 8-byte aligned",
               ws_bytes, ws, need);
    return LC_ERR_INVALID_ARGUMENT;
  }
  cudaStream_t st = (cudaStream_t)stream;
  /* launch on the stream's device; not while the stream is being captured
   * into a graph (the capturing thread has the device set already, and
   * the query may count as a call a capture refuses: a suspect for the
   * captures that did not hold on an H100, 2026-12-07) */
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  if (st && cudaStreamIsCapturing(st, &capturing) == cudaSuccess &&
      capturing == cudaStreamCaptureStatusNone) {
    int dev = 0;
    cudaError_t e = cudaStreamGetDevice(st, &dev);
    if (e == cudaSuccess) e = cudaSetDevice(dev);
    if (e != cudaSuccess) return launch_fail(e, "stream device", err, err_len);
  }

  attn_args a;
  a.q_slot = q_slot;
  a.q_pos = q_pos;
  a.q = q;
  a.kc = k_cache;
  a.vc = v_cache;
  a.out = out;
  a.n_heads = shape->n_heads;
  a.n_kv = shape->n_kv_heads;
  a.group = shape->n_heads / shape->n_kv_heads;
  a.n_hb = (a.group + ATTN_HEADS - 1) / ATTN_HEADS;
  a.head_dim = shape->head_dim;
  a.n_parts = n_parts_of(shape);
  a.max_len = shape->max_len;
  a.scale = shape->scale;
  const int64_t rows = rows_per_launch(shape, total_q);
  /* (m_b, l_b) pairs first (8-byte aligned), then the o_b vectors */
  a.ws_ml = (float2 *)ws;
  a.ws_o = (float *)ws + (size_t)rows * a.n_heads * a.n_parts * 2;
  const bool bf16 = shape->kv_dtype == LC_DTYPE_BF16;
  const bool vec = (a.head_dim % 4 == 0) && (bf16 ? lc_aligned8(k_cache) && lc_aligned8(v_cache)
                                                  : lc_aligned16(k_cache) && lc_aligned16(v_cache));
  /* the tiled kernel copies whole rows in 16-byte pieces */
  const bool tiled =
      (a.head_dim * (bf16 ? 2 : 4)) % 16 == 0 && lc_aligned16(k_cache) && lc_aligned16(v_cache);
  for (int64_t r0 = 0; r0 < total_q; r0 += rows) {
    a.row0 = r0;
    a.n_rows = (total_q - r0 < rows) ? total_q - r0 : rows;
    /* more rows than slots: some slot has several (a prompt's rows);
     * -DATTN_ROWS_INNER=0 keeps the decode order always (to compare) */
    a.rows_inner = ATTN_ROWS_INNER && a.n_rows > shape->n_slots;
    lc_status s = launch_rows(a, vec, tiled, bf16, st, err, err_len);
    if (s != LC_OK) return s;
  }
  return LC_OK;
}

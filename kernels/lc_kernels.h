/*
 * kernels/lc_kernels.h — the plain C entry points of the CUDA kernels.
 *
 * Everything behind these functions is CUDA C++ (kernels/<op>.cu); what is
 * in front of them is C.  Each entry checks what it launches, launches on
 * the current device (lib/ makes the context's device current first),
 * checks the launch, and returns an lc_status with a message in `err`
 * (err_len bytes, may be 0).  Pointers named *_dev are
 * device memory, *_host host memory.  Only compiled when LC_HAVE_CUDA; in a
 * build without CUDA, lib/kernels_stub.c stubs the entries lib/ops.c calls
 * (never reached: no context has the CUDA backend there).
 */
#ifndef LC_KERNELS_H
#define LC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "layercast.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lc_cuda_device_info {
  int device;   /* index */
  int cc_major; /* compute capability */
  int cc_minor;
  int n_sm;            /* multiprocessors */
  size_t l2_bytes;     /* L2 cache size */
  size_t global_bytes; /* device memory */
  char name[256];      /* e.g. "NVIDIA H100 80GB HBM3" */
} lc_cuda_device_info;

/* Number of usable CUDA devices; 0 on any error (no driver, no GPU: without
 * a GPU cudaGetDeviceCount returns cudaErrorInsufficientDriver, not
 * cudaErrorNoDevice). */
int lc_kernels_device_count(void);

/* Selects `device`, reads its properties and runs a probe kernel built for
 * this library's architectures, so that a GPU the build cannot run on
 * (compute capability below sm_90, no kernel image) fails here and not at
 * the first op.  LC_ERR_NO_DEVICE, LC_ERR_CUDA. */
lc_status lc_kernels_device_probe(int device, lc_cuda_device_info *info, char *err, size_t err_len);

/* The canonical functions of cast/ evaluated on the device, for tests that
 * check host and device give the same bits. */
typedef enum lc_canon_fn {
  LC_CANON_FN_EXP = 0,     /* lc_expf */
  LC_CANON_FN_LOG = 1,     /* lc_logf */
  LC_CANON_FN_SILU = 2,    /* lc_siluf */
  LC_CANON_FN_SIGMOID = 3, /* lc_sigmoidf */
  LC_CANON_FN_BF16 = 4,    /* lc_bf16_to_f32(lc_f32_to_bf16(x)) */
  LC_CANON_FN_F16 = 5,     /* lc_f16_to_f32(lc_f32_to_f16(x)) */
  LC_CANON_FN_COUNT
} lc_canon_fn;

/* out_host[i] = fn(in_host[i]) computed on `device`, i < n. */
lc_status lc_kernels_eval_canon(int device, lc_canon_fn fn, const float *in_host, float *out_host,
                                int64_t n, char *err, size_t err_len);

/* ======================================================================== *
 *  Strict ops.  Contract for every entry below:
 *  - tensors are device pointers, index arrays too (lib/ copies the host
 *    arrays of the public API to the device first); `stream` is the
 *    context's cudaStream_t passed as void*;
 *  - arguments were validated by lib/ (shapes in range, no bad aliasing,
 *    indices in range), so the entries only check what they launch;
 *  - launches are asynchronous: the status reports launch errors;
 *  - results are bitwise those of the cpu_ref/ *_strict function of the
 *    same name (docs/numerics.md), whatever the GPU, M or row position.
 * ======================================================================== */

/* Which matmul kernel runs.  Both compute the canonical order, so the choice
 * never changes a bit; AUTO picks by M alone (decode for M <= 32, where the measured times cross).
 */
typedef enum lc_kmatmul_path {
  LC_KMATMUL_AUTO = 0,
  LC_KMATMUL_DECODE = 1,       /* K split across blocks at segment boundaries */
  LC_KMATMUL_TILED = 2,        /* register-tiled, two accumulator sets */
  LC_KMATMUL_WGMMA = 3,        /* fast and bf16 only: the tiled path on Hopper's wgmma
                                  (sm_90a image on a 9.0 device; else TILED) */
  LC_KMATMUL_WGMMA_DECODE = 4, /* fast and bf16 only: M <= 64 on a swap-AB wgmma
                                  kernel (W as A, x parts as B, K split across
                                  blocks; sm_90a image on a 9.0 device, k % 8 ==
                                  0, 16-byte aligned w; else the mma.sync kernel
                                  AUTO would take) */
} lc_kmatmul_path;

/* Device workspace bytes that suffice for lc_kernels_matmul on this shape
 * and path (0 when none is needed).  Pointer alignment is not known here, so
 * for M <= 16 this is what the general decode kernel needs; the streaming
 * decode kernel (aligned x and w, K % 8 == 0) uses that much or none. */
size_t lc_kernels_matmul_workspace(int64_t m, int64_t k, int64_t n, lc_kmatmul_path path);

/* y[m][n] = x[m][k] W[n][k]^T (+ bias[n]).  x, y fp32 [m][k] / [m][n];
 * w bf16 [n][k]; bias NULL or bf16 [n]; ws: workspace of ws_bytes. */
lc_status lc_kernels_matmul(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                            const uint16_t *bias, float *y, lc_kmatmul_path path, void *ws,
                            size_t ws_bytes, void *stream, char *err, size_t err_len);

/* The fast order v1 on bf16 tensor cores (kernels/matmul_fast.cu): bitwise
 * lc_cpu_matmul_fast of cpu_ref/ with the same `parts` (3: fast, 1: bf16)
 * wherever the MMA model of docs/numerics.md 10.2 holds.  The path never
 * changes a bit: DECODE (the weight as the MMA's wide operand), TILED (x
 * parts as the wide operand), WGMMA (TILED on wgmma), WGMMA_DECODE (DECODE
 * on wgmma, K split across blocks); AUTO takes WGMMA_DECODE for M <= 64
 * (falling back to DECODE or TILED by M and alignment) and TILED above.
 * The workspace holds the x parts, and for WGMMA_DECODE or AUTO on a shape
 * it splits, nseg * m * n floats of segment sums after them. */
size_t lc_kernels_matmul_fast_workspace(int64_t m, int64_t k, int64_t n, int parts,
                                        lc_kmatmul_path path);
lc_status lc_kernels_matmul_fast(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                                 const uint16_t *bias, float *y, int parts, lc_kmatmul_path path,
                                 void *ws, size_t ws_bytes, void *stream, char *err,
                                 size_t err_len);

/* The MMA probe (kernels/mma_probe.cu): runs `tiles` independent
 * mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32 instructions on `device`:
 * for tile t, d[t][i][j] = MMA(a[t][i][:], b[t][j][:], c[t][i][j]) with a
 * [tiles][16][16], b [tiles][8][16] (column j's 16 k values), c and d
 * [tiles][16][8], all host memory.  For tests/test_cuda_mma.c. */
lc_status lc_kernels_mma_probe(int device, const uint16_t *a_host, const uint16_t *b_host,
                               const float *c_host, float *d_host, int64_t tiles, char *err,
                               size_t err_len);

/* The same for wgmma.mma_async.m64n8k16.f32.bf16.bf16 (Hopper, sm_90a code
 * only; kernels/mma_probe.cu): for tile t, d[t][i][j] = MMA(a[t][i][:],
 * b[t][j][:], c[t][i][j]) with a [tiles][64][16], b [tiles][8][16], c and d
 * [tiles][64][8], operands staged through the shared-memory layout and
 * descriptors of the wgmma fast kernel.  LC_ERR_UNSUPPORTED when the build has
 * no sm_90a code or the device is not compute capability 9.0. */
lc_status lc_kernels_wgmma_probe(int device, const uint16_t *a_host, const uint16_t *b_host,
                                 const float *c_host, float *d_host, int64_t tiles, char *err,
                                 size_t err_len);

/* The wgmma TILED kernel of the fast order alone (kernels/matmul_fast_wgmma.cu),
 * for tests before lc_kernels_matmul_fast calls it: y_host [m][n] from the
 * parts of x as the split writes them, parts_host [parts][m][kp] bf16 (kp = k
 * rounded up to 64, zero past k), w_host [n][k], bias_host NULL or [n]; host
 * memory, run synchronously on `device`.  k % 8 == 0.  LC_ERR_UNSUPPORTED as
 * lc_kernels_wgmma_probe. */
lc_status lc_kernels_fast_wgmma_probe(int device, const uint16_t *parts_host, int64_t m, int64_t k,
                                      const uint16_t *w_host, int64_t n, const uint16_t *bias_host,
                                      float *y_host, int parts, char *err, size_t err_len);

/* x, y [m][n] (y may equal x), w bf16 [n]. */
lc_status lc_kernels_rmsnorm(const float *x, int64_t m, int64_t n, const uint16_t *w, float eps,
                             float *y, void *stream, char *err, size_t err_len);

/* The residual add and the next RMSNorm in one: x = canon(x + d) in place,
 * then y = rmsnorm(x) (bit for bit lc_kernels_add then lc_kernels_rmsnorm);
 * round_bf16: x and y are rounded to bf16 values as they are stored (then
 * also bit for bit lc_kernels_round_bf16 after each, the vendor-bf16 mode's
 * activations).  x, d, y [m][n]; d may equal y, x must not; w bf16 [n]. */
lc_status lc_kernels_add_rmsnorm(float *x, const float *d, int64_t m, int64_t n, const uint16_t *w,
                                 float eps, int round_bf16, float *y, void *stream, char *err,
                                 size_t err_len);

/* x [m][n_heads][head_dim] in place; pos int32 [m]; cos/sin [max_pos][head_dim/2]. */
lc_status lc_kernels_rope(float *x, int64_t m, int64_t n_heads, int64_t head_dim,
                          const int32_t *pos, const float *cos_tab, const float *sin_tab,
                          lc_rope_style style, void *stream, char *err, size_t err_len);

/* Attention for total_q query rows; row r belongs to cache slot q_slot[r] and
 * sits at position q_pos[r] (it sees keys 0..q_pos[r]).  q, out
 * [total_q][n_heads][head_dim]; caches [n_slots][max_len][n_kv_heads][head_dim],
 * fp32 or bf16 (shape->kv_dtype).
 * ws: workspace of lc_kernels_attention_workspace() bytes. */
size_t lc_kernels_attention_workspace(const lc_attn_shape *shape, int64_t total_q);
lc_status lc_kernels_attention(const lc_attn_shape *shape, int64_t total_q, const int32_t *q_slot,
                               const int32_t *q_pos, const float *q, const void *k_cache,
                               const void *v_cache, float *out, void *ws, size_t ws_bytes,
                               void *stream, char *err, size_t err_len);

/* lc_kernels_rope of q [m][n_heads][head_dim] (in place) and of k
 * [m][n_kv_heads][head_dim] at positions pos, then lc_kernels_kv_write of
 * the rotated k and of v at (slot, pos), in one kernel: the same bits in q
 * and in the caches (k is not written); round_bf16 rounds the rotated q and
 * k to bf16 values first (lc_kernels_round_bf16's rounding). */
lc_status lc_kernels_rope_kv_write(const lc_attn_shape *shape, int64_t m, const int32_t *slot,
                                   const int32_t *pos, float *q, const float *k, const float *v,
                                   const float *cos_tab, const float *sin_tab, lc_rope_style style,
                                   int round_bf16, void *k_cache, void *v_cache, void *stream,
                                   char *err, size_t err_len);

/* out[i] = silu(gate[i]) * up[i]; out may equal gate or up. */
lc_status lc_kernels_silu_mul(const float *gate, const float *up, int64_t n, float *out,
                              void *stream, char *err, size_t err_len);
/* out[i] = a[i] + b[i]; out may equal a or b. */
lc_status lc_kernels_add(const float *a, const float *b, int64_t n, float *out, void *stream,
                         char *err, size_t err_len);
/* out[i][:] = widen(table[ids[i]][:]); table bf16 [vocab][dim], ids int32 [m]. */
lc_status lc_kernels_embedding(const uint16_t *table, int64_t dim, const int32_t *ids, int64_t m,
                               float *out, void *stream, char *err, size_t err_len);
/* Row softmax (log_softmax when `log` != 0); x, y [m][n], y may equal x. */
lc_status lc_kernels_softmax(const float *x, int64_t m, int64_t n, int log, float *y, void *stream,
                             char *err, size_t err_len);
/* idx[i] = first index of the row maximum (first NaN wins); idx int32 [m]. */
lc_status lc_kernels_argmax(const float *x, int64_t m, int64_t n, int32_t *idx, void *stream,
                            char *err, size_t err_len);

/* ---- conversions and helpers used by the vendor baselines (kernels/convert.cu) */
/* dst[i] = bf16(src[i]) (RNE, quiet NaN), i < n. */
lc_status lc_kernels_f32_to_bf16(const float *src, int64_t n, uint16_t *dst, void *stream,
                                 char *err, size_t err_len);
/* dst[i] = widen(src[i]), i < n. */
lc_status lc_kernels_bf16_to_f32(const uint16_t *src, int64_t n, float *dst, void *stream,
                                 char *err, size_t err_len);
/* x[i] = bf16(x[i]) widened back (round to nearest even), in place. */
lc_status lc_kernels_round_bf16(float *x, int64_t n, void *stream, char *err, size_t err_len);
/* y[i][j] = y[i][j] + widen(bias[j]) for y [m][n]. */
lc_status lc_kernels_add_bias(float *y, int64_t m, int64_t n, const uint16_t *bias, void *stream,
                              char *err, size_t err_len);

/* ---- benchmark calibration (kernels/stream_read.cu; not an op) ------------ */
/* Reads bytes [0, bytes) of src once (16-byte loads, `blocks` x `threads`
 * grid-stride); *sink is written only if the loaded words fold to a fixed
 * pattern.  src 16-byte aligned, bytes % 16 == 0. */
lc_status lc_kernels_stream_read(const void *src, size_t bytes, int blocks, int threads,
                                 uint32_t *sink, void *stream, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* LC_KERNELS_H */

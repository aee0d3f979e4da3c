/*
 * lib/kernels_stub.c — the kernels/lc_kernels.h entries that lib/ops.c calls,
 * for a build without CUDA, where kernels/ is not compiled.
 *
 * They let lib/ops.c dispatch to the CUDA backend with the same code in every
 * build (as lib/cuda_backend.c stubs its own calls), and are never reached:
 * without CUDA no context has the CUDA backend (lc_cuda_context_init fails), and
 * before any kernel entry lib/ops.c makes the context's device current
 * (lc_cuda_activate), which fails first.  Each reports LC_ERR_UNSUPPORTED; the
 * workspace sizes are 0.
 */
#include <stdio.h>

#include "kernels/lc_kernels.h"

#if !defined(LC_HAVE_CUDA)

static lc_status no_cuda(const char *fn, char *err, size_t err_len) {
  if (err && err_len)
    snprintf(err, err_len,
             "%s: this layercast was built without CUDA (configure with -DLC_CUDA=ON)", fn);
  return LC_ERR_UNSUPPORTED;
}

size_t lc_kernels_matmul_workspace(int64_t m, int64_t k, int64_t n, lc_kmatmul_path path) {
  (void)m, (void)k, (void)n, (void)path;
  return 0;
}

lc_status lc_kernels_matmul(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                            const uint16_t *bias, float *y, lc_kmatmul_path path, void *ws,
                            size_t ws_bytes, void *stream, char *err, size_t err_len) {
  (void)x, (void)m, (void)k, (void)w, (void)n, (void)bias, (void)y, (void)path, (void)ws,
      (void)ws_bytes, (void)stream;
  return no_cuda("lc_kernels_matmul", err, err_len);
}

size_t lc_kernels_matmul_fast_workspace(int64_t m, int64_t k, int64_t n, int parts,
                                        lc_kmatmul_path path) {
  (void)m, (void)k, (void)n, (void)parts, (void)path;
  return 0;
}

lc_status lc_kernels_matmul_fast(const float *x, int64_t m, int64_t k, const uint16_t *w, int64_t n,
                                 const uint16_t *bias, float *y, int parts, lc_kmatmul_path path,
                                 void *ws, size_t ws_bytes, void *stream, char *err,
                                 size_t err_len) {
  (void)x, (void)m, (void)k, (void)w, (void)n, (void)bias, (void)y, (void)parts, (void)path,
      (void)ws, (void)ws_bytes, (void)stream;
  return no_cuda("lc_kernels_matmul_fast", err, err_len);
}

lc_status lc_kernels_rmsnorm(const float *x, int64_t m, int64_t n, const uint16_t *w, float eps,
                             float *y, void *stream, char *err, size_t err_len) {
  (void)x, (void)m, (void)n, (void)w, (void)eps, (void)y, (void)stream;
  return no_cuda("lc_kernels_rmsnorm", err, err_len);
}

lc_status lc_kernels_rope(float *x, int64_t m, int64_t n_heads, int64_t head_dim,
                          const int32_t *pos, const float *cos_tab, const float *sin_tab,
                          lc_rope_style style, void *stream, char *err, size_t err_len) {
  (void)x, (void)m, (void)n_heads, (void)head_dim, (void)pos, (void)cos_tab, (void)sin_tab,
      (void)style, (void)stream;
  return no_cuda("lc_kernels_rope", err, err_len);
}

size_t lc_kernels_attention_workspace(const lc_attn_shape *shape, int64_t total_q) {
  (void)shape, (void)total_q;
  return 0;
}

lc_status lc_kernels_attention(const lc_attn_shape *shape, int64_t total_q, const int32_t *q_slot,
                               const int32_t *q_pos, const float *q, const void *k_cache,
                               const void *v_cache, float *out, void *ws, size_t ws_bytes,
                               void *stream, char *err, size_t err_len) {
  (void)shape, (void)total_q, (void)q_slot, (void)q_pos, (void)q, (void)k_cache, (void)v_cache,
      (void)out, (void)ws, (void)ws_bytes, (void)stream;
  return no_cuda("lc_kernels_attention", err, err_len);
}

lc_status lc_kernels_rope_kv_write(const lc_attn_shape *shape, int64_t m, const int32_t *slot,
                                   const int32_t *pos, float *q, const float *k, const float *v,
                                   const float *cos_tab, const float *sin_tab, lc_rope_style style,
                                   int round_bf16, void *k_cache, void *v_cache, void *stream,
                                   char *err, size_t err_len) {
  (void)shape, (void)m, (void)slot, (void)pos, (void)q, (void)k, (void)v, (void)cos_tab;
  (void)sin_tab, (void)style, (void)round_bf16, (void)k_cache, (void)v_cache, (void)stream;
  return no_cuda("lc_kernels_rope_kv_write", err, err_len);
}

lc_status lc_kernels_silu_mul(const float *gate, const float *up, int64_t n, float *out,
                              void *stream, char *err, size_t err_len) {
  (void)gate, (void)up, (void)n, (void)out, (void)stream;
  return no_cuda("lc_kernels_silu_mul", err, err_len);
}

lc_status lc_kernels_add(const float *a, const float *b, int64_t n, float *out, void *stream,
                         char *err, size_t err_len) {
  (void)a, (void)b, (void)n, (void)out, (void)stream;
  return no_cuda("lc_kernels_add", err, err_len);
}

lc_status lc_kernels_embedding(const uint16_t *table, int64_t dim, const int32_t *ids, int64_t m,
                               float *out, void *stream, char *err, size_t err_len) {
  (void)table, (void)dim, (void)ids, (void)m, (void)out, (void)stream;
  return no_cuda("lc_kernels_embedding", err, err_len);
}

lc_status lc_kernels_softmax(const float *x, int64_t m, int64_t n, int log, float *y, void *stream,
                             char *err, size_t err_len) {
  (void)x, (void)m, (void)n, (void)log, (void)y, (void)stream;
  return no_cuda("lc_kernels_softmax", err, err_len);
}

lc_status lc_kernels_argmax(const float *x, int64_t m, int64_t n, int32_t *idx, void *stream,
                            char *err, size_t err_len) {
  (void)x, (void)m, (void)n, (void)idx, (void)stream;
  return no_cuda("lc_kernels_argmax", err, err_len);
}

lc_status lc_kernels_f32_to_bf16(const float *src, int64_t n, uint16_t *dst, void *stream,
                                 char *err, size_t err_len) {
  (void)src, (void)n, (void)dst, (void)stream;
  return no_cuda("lc_kernels_f32_to_bf16", err, err_len);
}

lc_status lc_kernels_round_bf16(float *x, int64_t n, void *stream, char *err, size_t err_len) {
  (void)x, (void)n, (void)stream;
  return no_cuda("lc_kernels_round_bf16", err, err_len);
}

lc_status lc_kernels_add_rmsnorm(float *x, const float *d, int64_t m, int64_t n, const uint16_t *w,
                                 float eps, int round_bf16, float *y, void *stream, char *err,
                                 size_t err_len) {
  (void)x, (void)d, (void)m, (void)n, (void)w, (void)eps, (void)round_bf16, (void)y, (void)stream;
  return no_cuda("lc_kernels_add_rmsnorm", err, err_len);
}

#endif /* !LC_HAVE_CUDA */

/*
 * lib/weights.c — bf16 weight matrices resident on the backend, and the
 * RoPE tables.
 *
 * Weights are converted on the host (cast/lc_cast.h, round to nearest even)
 * and then live in backend memory as bf16: 2 bytes per parameter, never an
 * fp32 copy.  RoPE tables are computed once on the host in double and
 * rounded to float, so every backend reads the same numbers.
 */
#include <math.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "cast/lc_cast.h"
#include "lib/lc_internal.h"

/* Converts n source elements to bf16 into dst (host), accumulating stats. */
static void convert_to_bf16(lc_dtype dtype, const void *src, int64_t n, uint16_t *dst,
                            lc_conversion_stats *st) {
  for (int64_t i = 0; i < n; i++) {
    float f;
    switch (dtype) {
      case LC_DTYPE_F32:
        f = ((const float *)src)[i];
        break;
      case LC_DTYPE_F16:
        f = lc_f16_to_f32(((const uint16_t *)src)[i]);
        break;
      default:
        f = lc_bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    }
    uint16_t h = lc_f32_to_bf16(f);
    dst[i] = h;
    if (lc_f32_isnan(f)) {
      st->n_nan++;
      continue;
    }
    float back = lc_bf16_to_f32(h);
    if (back == f) continue;
    st->n_inexact++;
    if (isinf(back) && !isinf(f)) {
      st->n_overflow++;
      continue;
    }
    double rel = fabs((double)back - (double)f) / fabs((double)f);
    if (rel > st->max_rel_err) st->max_rel_err = rel;
  }
}

lc_status lc_weights_create(lc_context *ctx, int64_t rows, int64_t cols, lc_dtype src_dtype,
                            const void *src, lc_weights **out) {
  static const char fn[] = "lc_weights_create";
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(lc_check_ptr(ctx, out, fn, "out"));
  *out = NULL;
  LC_TRY(lc_check_ptr(ctx, src, fn, "src"));
  if (src_dtype != LC_DTYPE_F32 && src_dtype != LC_DTYPE_BF16 && src_dtype != LC_DTYPE_F16)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: unknown source dtype %d", fn, (int)src_dtype);
  LC_TRY(lc_check_dim(ctx, rows, fn, "rows"));
  LC_TRY(lc_check_dim(ctx, cols, fn, "cols"));
  size_t bytes;
  LC_TRY(lc_check_bytes(ctx, rows, cols, 4, fn, &bytes)); /* fp32 source size bounds all */
  bytes /= 2;

  lc_weights *w = lc_calloc(1, sizeof *w);
  if (!w) return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  w->ctx = ctx;
  w->rows = rows;
  w->cols = cols;
  w->stats.n_elements = rows * cols;
  lc_status st = lc_mem_alloc(ctx, bytes, (void **)&w->data);
  if (st != LC_OK) {
    free(w);
    return st;
  }
  uint16_t *host = w->data;
  if (ctx->backend == LC_BACKEND_CUDA) {
    host = lc_malloc(bytes);
    if (!host) {
      lc_mem_free(ctx, w->data);
      free(w);
      return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes of staging memory",
                     fn, bytes);
    }
  }
  convert_to_bf16(src_dtype, src, rows * cols, host, &w->stats);
  if (host != w->data) {
    st = lc_mem_write(ctx, w->data, host, bytes);
    free(host);
    if (st != LC_OK) {
      lc_mem_free(ctx, w->data);
      free(w);
      return st;
    }
  }
  ctx->mem.weights_bytes += bytes;
  *out = w;
  return LC_OK;
}

void lc_weights_free(lc_weights *w) {
  if (!w) return;
  if (!w->view) {
    w->ctx->mem.weights_bytes -= lc_weights_bytes(w);
    lc_mem_free(w->ctx, w->data);
  }
  free(w);
}

/* The shape of the join of parts[0..n), or 0 when they cannot be joined. */
static int join_shape(lc_weights *const *parts, int n, int64_t *rows, int64_t *cols) {
  if (n < 2) return 0;
  int same_cols = 1, single_rows = 1;
  *rows = *cols = 0;
  for (int i = 0; i < n; i++) {
    const lc_weights *p = parts[i];
    if (!p || p->view || p->ctx != parts[0]->ctx) return 0;
    same_cols &= p->cols == parts[0]->cols;
    single_rows &= p->rows == 1;
    *rows += p->rows;
    *cols += p->cols;
  }
  if (same_cols) {
    *cols = parts[0]->cols;
    return 1;
  }
  if (single_rows) {
    *rows = 1;
    return 1;
  }
  return 0;
}

int lc_weights_joinable(lc_weights *const *parts, int n) {
  int64_t rows, cols;
  if (!parts || !join_shape(parts, n, &rows, &cols)) return 0;
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    if (off % 256) return 0;
    off += lc_weights_bytes(parts[i]);
  }
  return 1;
}

lc_status lc_weights_join(lc_weights *const *parts, int n, lc_weights **out) {
  static const char fn[] = "lc_weights_join";
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
  *out = NULL;
  int64_t rows, cols;
  if (!parts || !join_shape(parts, n, &rows, &cols))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: expected 2 or more matrices of one context with equal cols, or of one "
                   "row each, none a view",
                   fn);
  lc_context *ctx = parts[0]->ctx;
  if (!lc_weights_joinable(parts, n))
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: a part would not start 256-byte aligned", fn);
  lc_weights *w = lc_calloc(1, sizeof *w);
  if (!w) return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  w->ctx = ctx;
  w->rows = rows;
  w->cols = cols;
  const size_t bytes = lc_weights_bytes(w);
  lc_status st = lc_mem_alloc(ctx, bytes, (void **)&w->data);
  size_t off = 0;
  for (int i = 0; i < n && st == LC_OK; i++) {
    const size_t b = lc_weights_bytes(parts[i]);
    st = lc_mem_copy(ctx, (char *)w->data + off, parts[i]->data, b);
    off += b;
  }
  if (st != LC_OK) {
    lc_mem_free(ctx, w->data); /* waits for the copies (lc_cuda_free) */
    free(w);
    return st;
  }
  ctx->mem.weights_bytes += bytes;
  off = 0;
  for (int i = 0; i < n; i++) {
    lc_weights *p = parts[i];
    lc_conversion_stats_add(&w->stats, &p->stats);
    const size_t b = lc_weights_bytes(p);
    ctx->mem.weights_bytes -= b;
    lc_mem_free(ctx, p->data); /* after the copies: lc_cuda_free synchronises */
    p->data = (uint16_t *)((char *)w->data + off);
    p->view = 1;
    off += b;
  }
  *out = w;
  return LC_OK;
}

lc_status lc_weights_view(const lc_weights *w, int64_t r0, int64_t nr, int64_t c0, int64_t nc,
                          lc_weights **out) {
  static const char fn[] = "lc_weights_view";
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
  *out = NULL;
  if (!w) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: w is NULL", fn);
  const int inside =
      r0 >= 0 && nr >= 1 && r0 <= w->rows - nr && c0 >= 0 && nc >= 1 && c0 <= w->cols - nc;
  const int contiguous = (c0 == 0 && nc == w->cols) || (w->rows == 1);
  if (!inside || !contiguous)
    return LC_FAIL(w->ctx, LC_ERR_SHAPE,
                   "%s: rows %lld+%lld, cols %lld+%lld of a [%lld][%lld] matrix: expected a "
                   "range inside it, whole rows or a part of its one row",
                   fn, (long long)r0, (long long)nr, (long long)c0, (long long)nc,
                   (long long)w->rows, (long long)w->cols);
  lc_weights *v = lc_calloc(1, sizeof *v);
  if (!v) return LC_FAIL(w->ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  v->ctx = w->ctx;
  v->rows = nr;
  v->cols = nc;
  v->data = w->data + r0 * w->cols + c0;
  v->view = 1;
  *out = v;
  return LC_OK;
}

lc_status lc_weights_copy_cols(const lc_weights *w, int64_t c0, int64_t nc, lc_weights **out) {
  static const char fn[] = "lc_weights_copy_cols";
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
  *out = NULL;
  if (!w) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: w is NULL", fn);
  lc_context *ctx = w->ctx;
  if (c0 < 0 || nc < 1 || c0 > w->cols - nc)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: cols %lld+%lld of a [%lld][%lld] matrix", fn,
                   (long long)c0, (long long)nc, (long long)w->rows, (long long)w->cols);
  lc_weights *v = lc_calloc(1, sizeof *v);
  if (!v) return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
  v->ctx = ctx;
  v->rows = w->rows;
  v->cols = nc;
  const size_t bytes = lc_weights_bytes(v);
  lc_status st = lc_mem_alloc(ctx, bytes, (void **)&v->data);
  if (st == LC_OK)
    st = lc_mem_copy2d(ctx, v->data, (size_t)nc * sizeof(uint16_t), w->data + c0,
                       (size_t)w->cols * sizeof(uint16_t), (size_t)nc * sizeof(uint16_t),
                       (size_t)w->rows);
  if (st != LC_OK) {
    lc_mem_free(ctx, v->data);
    free(v);
    return st;
  }
  ctx->mem.weights_bytes += bytes;
  *out = v;
  return LC_OK;
}

int64_t lc_weights_rows(const lc_weights *w) {
  return w ? w->rows : -1;
}
int64_t lc_weights_cols(const lc_weights *w) {
  return w ? w->cols : -1;
}
size_t lc_weights_bytes(const lc_weights *w) {
  return w ? (size_t)(w->rows * w->cols) * sizeof(uint16_t) : 0;
}

lc_status lc_weights_read_bf16(const lc_weights *w, uint16_t *dst) {
  if (!w) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_weights_read_bf16: weights are NULL");
  LC_TRY(lc_check_ptr(w->ctx, dst, "lc_weights_read_bf16", "dst"));
  return lc_mem_read(w->ctx, dst, w->data, lc_weights_bytes(w));
}

lc_status lc_weights_get_conversion_stats(const lc_weights *w, lc_conversion_stats *out) {
  if (!w)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "lc_weights_get_conversion_stats: weights are NULL");
  LC_TRY(lc_check_ptr(w->ctx, out, "lc_weights_get_conversion_stats", "out"));
  *out = w->stats;
  return LC_OK;
}

/* ---- RoPE tables -------------------------------------------------------------*/

lc_status lc_rope_create(lc_context *ctx, int64_t head_dim, int64_t max_pos, double theta,
                         lc_rope_style style, const double *inv_freq, lc_rope **out) {
  static const char fn[] = "lc_rope_create";
  LC_TRY(lc_check_ctx(ctx, fn));
  LC_TRY(lc_check_ptr(ctx, out, fn, "out"));
  *out = NULL;
  if (style != LC_ROPE_INTERLEAVED && style != LC_ROPE_HALF)
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: unknown rope style %d", fn, (int)style);
  if (head_dim < 2 || head_dim > LC_MAX_HEAD_DIM || head_dim % 2 != 0)
    return LC_FAIL(ctx, LC_ERR_SHAPE, "%s: head_dim = %lld, expected an even number in 2..%d", fn,
                   (long long)head_dim, LC_MAX_HEAD_DIM);
  LC_TRY(lc_check_dim(ctx, max_pos, fn, "max_pos"));
  int64_t half = head_dim / 2;
  if (inv_freq) {
    for (int64_t i = 0; i < half; i++)
      if (!isfinite(inv_freq[i]))
        return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: inv_freq[%lld] is not finite", fn,
                       (long long)i);
  } else if (!(isfinite(theta) && theta > 0.0)) {
    return LC_FAIL(ctx, LC_ERR_INVALID_ARGUMENT, "%s: theta = %g, expected finite and > 0", fn,
                   theta);
  }
  size_t bytes;
  LC_TRY(lc_check_bytes(ctx, max_pos, half, (int64_t)sizeof(float), fn, &bytes));

  lc_rope *r = lc_calloc(1, sizeof *r);
  float *cs = lc_malloc(2 * bytes);
  if (!r || !cs) {
    free(r);
    free(cs);
    return LC_FAIL(ctx, LC_ERR_OUT_OF_MEMORY, "%s: out of host memory for a %zu-byte table", fn,
                   2 * bytes);
  }
  r->ctx = ctx;
  r->head_dim = head_dim;
  r->max_pos = max_pos;
  r->style = style;
  /* angle = pos * inv_freq[i] in double, then cos/sin in double, rounded
   * once to float: the one table every backend uses. */
  float *c = cs, *s = cs + max_pos * half;
  for (int64_t i = 0; i < half; i++) {
    double f = inv_freq ? inv_freq[i] : pow(theta, -2.0 * (double)i / (double)head_dim);
    for (int64_t p = 0; p < max_pos; p++) {
      double a = (double)p * f;
      c[p * half + i] = (float)cos(a);
      s[p * half + i] = (float)sin(a);
    }
  }
  lc_status st = lc_mem_alloc(ctx, bytes, (void **)&r->cos_tab);
  if (st == LC_OK) st = lc_mem_alloc(ctx, bytes, (void **)&r->sin_tab);
  if (st == LC_OK) st = lc_mem_write(ctx, r->cos_tab, c, bytes);
  if (st == LC_OK) st = lc_mem_write(ctx, r->sin_tab, s, bytes);
  free(cs);
  if (st != LC_OK) { /* not yet accounted: free without lc_rope_free */
    lc_mem_free(ctx, r->cos_tab);
    lc_mem_free(ctx, r->sin_tab);
    free(r);
    return st;
  }
  ctx->mem.tables_bytes += 2 * bytes;
  *out = r;
  return LC_OK;
}

void lc_rope_free(lc_rope *rope) {
  if (!rope) return;
  rope->ctx->mem.tables_bytes -= 2 * (size_t)(rope->max_pos * (rope->head_dim / 2)) * sizeof(float);
  lc_mem_free(rope->ctx, rope->cos_tab);
  lc_mem_free(rope->ctx, rope->sin_tab);
  free(rope);
}

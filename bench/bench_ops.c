/*
 * bench/bench_ops.c — bandwidth of the strict ops other than matmul, on
 * Llama 3 8B sizes (d_model 4096, d_ff 14336, vocab 128256, 32 query heads,
 * 8 kv heads, head_dim 128), in the harness's line format.
 *
 * Each op's kernels/ entry is called directly on a strict CUDA context's
 * stream (device index arrays, no per-call upload), so the time is the
 * kernel's.  Before timing, the output of slot 0 is checked memcmp-equal to
 * the CPU strict backend (cpu_ref/) on the same inputs.  "GB/s" divides the
 * napkin bytes below by the median time; "vs baseline" is that as a
 * fraction of the device-to-device copy bandwidth.
 *
 * Napkin bytes per call (the least an op must move; fp32 = 4, bf16 = 2):
 *   rmsnorm      x, y [M][n]: 8 M n + w 2 n
 *   softmax      x, y [M][n]: 8 M n (log_softmax the same)
 *   argmax       x [M][n]: 4 M n + idx 4 M
 *   silu_mul     gate, up, out [n]: 12 n
 *   add          a, b, out [n]: 12 n
 *   embedding    M table rows (2 dim each) read, out 4 M dim written
 *   rope         x [M][H][hd] read and written: 8 M H hd + cos/sin 4 M hd
 *   attention    per decode query (one per sequence): K and V rows of its
 *                L positions, 2 L n_kv hd e (e = 4 fp32 cache, 2 bf16), + q
 *                and out 8 n_heads hd;
 *                flops 4 L n_heads hd (q.k and p.v)
 *
 *   bench_ops [--quick] [--md FILE] [--reps N] [--cell-ms T] [--device D]
 *   (LC_BENCH_OPS_ONLY=attention,argmax in the environment: those ops only;
 *   "softmax" matches log_softmax too)
 * Exit status: 0, or 1 when a validation failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cast/lc_cast.h"
#include "cpu_ref/cpu_ref.h"
#include "kernels/lc_kernels.h"
#include "lib/lc_internal.h"

static const char usage[] =
    "usage: bench_ops [--quick] [--md FILE] [--reps N] [--cell-ms T] [--device D]\n"
    "  --quick     fewer sizes and repetitions\n"
    "  --md FILE   also write the results as Markdown to FILE\n";

#define D_MODEL 4096
#define D_FF 14336
#define VOCAB 128256
#define N_HEADS 32
#define N_KV 8
#define HEAD_DIM 128
#define MAX_POS 8192
#define MAX_SLOTS 8192

static int n_fail;
static lcb_device dev;
static lcb_opts opt;
static lc_context *ctx;

/* ---- rotation slots: one device allocation of n copies of `per` bytes ---------*/

typedef struct slots {
  char *base;
  size_t per; /* bytes per slot, rounded to 256 */
  int n;
} slots;

static slots slots_alloc(size_t bytes, int n) {
  slots s;
  s.per = (bytes + 255) & ~(size_t)255;
  s.n = n;
  s.base = lcb_dalloc(ctx, s.per * (size_t)n);
  return s;
}

static void *slot_at(const slots *s, int i) {
  return s->base + (size_t)(i % s->n) * s->per;
}

/* Uploads host data into slot 0 and copies it into every other slot
 * (doubling copies: log2(n) device copies). */
static void slots_fill(const slots *s, const void *host, size_t bytes) {
  lcb_upload(ctx, s->base, host, bytes);
  for (int have = 1; have < s->n;) {
    int c = have < s->n - have ? have : s->n - have;
    lcb_dcopy(ctx, s->base + (size_t)have * s->per, s->base, (size_t)c * s->per);
    have += c;
  }
  lcb_sync(ctx);
}

static void slots_free(slots *s) {
  lc_buffer_free(ctx, s->base);
  s->base = NULL;
}

/* Rotation count for `bytes` per call (inputs and outputs). */
static int rot(size_t bytes) {
  return lcb_rotation(&dev, bytes, MAX_SLOTS);
}

static void report(const char *op, const char *shape, const lcb_timing *t, double bytes,
                   double flops) {
  char vs[64];
  double gbps = bytes / (t->median_us * 1e-6) / 1e9;
  snprintf(vs, sizeof vs, "%.2f of copy bandwidth", gbps / dev.copy_gbps);
  lcb_result(op, shape, "strict", t, bytes, flops, vs);
}

static void check_bits(const float *got, const float *ref, int64_t n, const char *what) {
  if (!lcb_check_bitwise(got, ref, n, what)) n_fail++;
}

#define KERR kerr, sizeof kerr
static char kerr[LC_ERR_LEN];

/* Turns a kernels/ failure into a context error the harness prints. */
static lc_status kfail(lc_status st, const char *op) {
  if (st == LC_OK) return LC_OK;
  return LC_FAIL(ctx, st, "%s: %s", op, kerr);
}

/* ---- rmsnorm -------------------------------------------------------------------*/

typedef struct rms_arg {
  slots x, y;
  int64_t m, n;
  const lc_weights *w;
} rms_arg;

static lc_status rms_call(void *p, int slot) {
  rms_arg *a = p;
  return kfail(lc_kernels_rmsnorm(slot_at(&a->x, slot), a->m, a->n, a->w->data, 1e-5f,
                                  slot_at(&a->y, slot), lc_cuda_stream(ctx), KERR),
               "rmsnorm");
}

static void bench_rmsnorm(int64_t m) {
  const int64_t n = D_MODEL;
  lcb_rng r = lcb_rng_new(11 + (uint64_t)m);
  float *xh = lcb_malloc((size_t)(m * n) * 4), *ref = lcb_malloc((size_t)(m * n) * 4);
  float *got = lcb_malloc((size_t)(m * n) * 4);
  uint16_t *wh = lcb_malloc((size_t)n * 2);
  lcb_fill_f32(&r, xh, m * n, 2.0f);
  lcb_fill_bf16(&r, wh, n, 1.5f);
  rms_arg a;
  a.m = m;
  a.n = n;
  lc_weights *w = NULL;
  lcb_check(ctx, lc_weights_create(ctx, 1, n, LC_DTYPE_BF16, wh, &w), "lc_weights_create");
  a.w = w;
  size_t b = (size_t)(m * n) * 4;
  int ns = rot(2 * b);
  a.x = slots_alloc(b, ns);
  a.y = slots_alloc(b, ns);
  slots_fill(&a.x, xh, b);
  lcb_check(ctx, rms_call(&a, 0), "rmsnorm");
  lcb_download(ctx, got, slot_at(&a.y, 0), b);
  lc_cpu_rmsnorm_strict(xh, m, n, wh, 1e-5f, ref);
  char shape[64];
  snprintf(shape, sizeof shape, "M=%lld n=%lld", (long long)m, (long long)n);
  check_bits(got, ref, m * n, "rmsnorm");
  lcb_timing t;
  lcb_time(&dev, &opt, ctx, rms_call, &a, ns, &t);
  report("rmsnorm", shape, &t, 8.0 * (double)(m * n) + 2.0 * (double)n, 0);
  slots_free(&a.x);
  slots_free(&a.y);
  lc_weights_free(w);
  free(xh);
  free(ref);
  free(got);
  free(wh);
}

/* ---- softmax, log_softmax, argmax ----------------------------------------------*/

typedef struct row_arg {
  slots x, y;
  int64_t m, n;
  int kind; /* 0 softmax, 1 log_softmax, 2 argmax */
} row_arg;

static lc_status row_call(void *p, int slot) {
  row_arg *a = p;
  if (a->kind == 2)
    return kfail(lc_kernels_argmax(slot_at(&a->x, slot), a->m, a->n, slot_at(&a->y, slot),
                                   lc_cuda_stream(ctx), KERR),
                 "argmax");
  return kfail(lc_kernels_softmax(slot_at(&a->x, slot), a->m, a->n, a->kind, slot_at(&a->y, slot),
                                  lc_cuda_stream(ctx), KERR),
               a->kind ? "log_softmax" : "softmax");
}

static void bench_rows(int kind, int64_t m) {
  static const char *const names[] = {"softmax", "log_softmax", "argmax"};
  const int64_t n = VOCAB;
  lcb_rng r = lcb_rng_new(23 + (uint64_t)m * 3 + (uint64_t)kind);
  size_t b = (size_t)(m * n) * 4, ob = kind == 2 ? (size_t)m * 4 : b;
  float *xh = lcb_malloc(b);
  void *ref = lcb_malloc(ob), *got = lcb_malloc(ob);
  lcb_fill_f32(&r, xh, m * n, 12.0f); /* logits of a realistic spread */
  row_arg a;
  a.m = m;
  a.n = n;
  a.kind = kind;
  int ns = rot(b + ob);
  a.x = slots_alloc(b, ns);
  a.y = slots_alloc(ob, ns);
  slots_fill(&a.x, xh, b);
  lcb_check(ctx, row_call(&a, 0), names[kind]);
  lcb_download(ctx, got, slot_at(&a.y, 0), ob);
  if (kind == 0) lc_cpu_softmax_strict(xh, m, n, ref);
  if (kind == 1) lc_cpu_log_softmax_strict(xh, m, n, ref);
  if (kind == 2) lc_cpu_argmax(xh, m, n, ref);
  if (kind == 2) {
    if (memcmp(got, ref, ob) != 0) {
      printf("VALIDATION FAIL argmax M=%lld: indices differ from CPU strict\n", (long long)m);
      n_fail++;
    }
  } else {
    check_bits(got, ref, m * n, names[kind]);
  }
  char shape[64];
  snprintf(shape, sizeof shape, "M=%lld n=%lld", (long long)m, (long long)n);
  lcb_timing t;
  lcb_time(&dev, &opt, ctx, row_call, &a, ns, &t);
  report(names[kind], shape, &t, (double)b + (double)ob, 0);
  slots_free(&a.x);
  slots_free(&a.y);
  free(xh);
  free(ref);
  free(got);
}

/* ---- silu_mul, add ---------------------------------------------------------------*/

typedef struct ew_arg {
  slots a, b, out;
  int64_t n;
  int kind; /* 0 silu_mul, 1 add */
} ew_arg;

static lc_status ew_call(void *p, int slot) {
  ew_arg *a = p;
  if (a->kind == 0)
    return kfail(lc_kernels_silu_mul(slot_at(&a->a, slot), slot_at(&a->b, slot), a->n,
                                     slot_at(&a->out, slot), lc_cuda_stream(ctx), KERR),
                 "silu_mul");
  return kfail(lc_kernels_add(slot_at(&a->a, slot), slot_at(&a->b, slot), a->n,
                              slot_at(&a->out, slot), lc_cuda_stream(ctx), KERR),
               "add");
}

static void bench_elementwise(int kind, int64_t m) {
  const int64_t width = kind == 0 ? D_FF : D_MODEL, n = m * width;
  lcb_rng r = lcb_rng_new(31 + (uint64_t)m * 2 + (uint64_t)kind);
  size_t b = (size_t)n * 4;
  float *ah = lcb_malloc(b), *bh = lcb_malloc(b), *ref = lcb_malloc(b), *got = lcb_malloc(b);
  lcb_fill_f32(&r, ah, n, 6.0f);
  lcb_fill_f32(&r, bh, n, 3.0f);
  ew_arg a;
  a.n = n;
  a.kind = kind;
  int ns = rot(3 * b);
  a.a = slots_alloc(b, ns);
  a.b = slots_alloc(b, ns);
  a.out = slots_alloc(b, ns);
  slots_fill(&a.a, ah, b);
  slots_fill(&a.b, bh, b);
  lcb_check(ctx, ew_call(&a, 0), kind ? "add" : "silu_mul");
  lcb_download(ctx, got, slot_at(&a.out, 0), b);
  if (kind == 0)
    lc_cpu_silu_mul_strict(ah, bh, n, ref);
  else
    lc_cpu_add(ah, bh, n, ref);
  check_bits(got, ref, n, kind ? "add" : "silu_mul");
  char shape[64];
  snprintf(shape, sizeof shape, "n=%lld (M=%lld x %lld)", (long long)n, (long long)m,
           (long long)width);
  lcb_timing t;
  lcb_time(&dev, &opt, ctx, ew_call, &a, ns, &t);
  report(kind ? "add" : "silu_mul", shape, &t, 12.0 * (double)n, 0);
  slots_free(&a.a);
  slots_free(&a.b);
  slots_free(&a.out);
  free(ah);
  free(bh);
  free(ref);
  free(got);
}

/* ---- embedding -------------------------------------------------------------------*/

typedef struct emb_arg {
  slots ids, out;
  int64_t m;
  const lc_weights *table;
} emb_arg;

static lc_status emb_call(void *p, int slot) {
  emb_arg *a = p;
  return kfail(lc_kernels_embedding(a->table->data, D_MODEL, slot_at(&a->ids, slot), a->m,
                                    slot_at(&a->out, slot), lc_cuda_stream(ctx), KERR),
               "embedding");
}

static void bench_embedding(const lc_weights *table, const uint16_t *table_h, int64_t m) {
  lcb_rng r = lcb_rng_new(41 + (uint64_t)m);
  size_t ob = (size_t)(m * D_MODEL) * 4, ib = (size_t)m * 4;
  int ns = rot((size_t)(m * D_MODEL) * 6);
  emb_arg a;
  a.m = m;
  a.table = table;
  a.ids = slots_alloc(ib, ns);
  a.out = slots_alloc(ob, ns);
  /* different random ids per slot, so the table rows rotate too */
  int32_t *ids = lcb_malloc(ib * (size_t)ns);
  for (int64_t i = 0; i < m * ns; i++) ids[i] = (int32_t)(lcb_next(&r) % VOCAB);
  for (int s = 0; s < ns; s++) lcb_upload(ctx, slot_at(&a.ids, s), ids + (size_t)s * m, ib);
  float *ref = lcb_malloc(ob), *got = lcb_malloc(ob);
  lcb_check(ctx, emb_call(&a, 0), "embedding");
  lcb_download(ctx, got, slot_at(&a.out, 0), ob);
  lc_cpu_embedding(table_h, D_MODEL, ids, m, ref);
  check_bits(got, ref, m * D_MODEL, "embedding");
  char shape[64];
  snprintf(shape, sizeof shape, "M=%lld of %dx%d", (long long)m, VOCAB, D_MODEL);
  lcb_timing t;
  lcb_time(&dev, &opt, ctx, emb_call, &a, ns, &t);
  report("embedding", shape, &t, 6.0 * (double)(m * D_MODEL), 0);
  slots_free(&a.ids);
  slots_free(&a.out);
  free(ids);
  free(ref);
  free(got);
}

/* ---- rope ------------------------------------------------------------------------*/

typedef struct rope_arg {
  slots x, pos;
  int64_t m;
  const lc_rope *rope;
} rope_arg;

static lc_status rope_call(void *p, int slot) {
  rope_arg *a = p;
  return kfail(lc_kernels_rope(slot_at(&a->x, slot), a->m, N_HEADS, HEAD_DIM,
                               slot_at(&a->pos, slot), a->rope->cos_tab, a->rope->sin_tab,
                               a->rope->style, lc_cuda_stream(ctx), KERR),
               "rope");
}

static void bench_rope(const lc_rope *rope, const float *cos_h, const float *sin_h, int64_t m) {
  lcb_rng r = lcb_rng_new(51 + (uint64_t)m);
  const int64_t n = m * N_HEADS * HEAD_DIM;
  size_t b = (size_t)n * 4, pb = (size_t)m * 4;
  float *xh = lcb_malloc(b), *got = lcb_malloc(b);
  int32_t *pos = lcb_malloc(pb);
  lcb_fill_f32(&r, xh, n, 2.0f);
  for (int64_t i = 0; i < m; i++) pos[i] = (int32_t)(lcb_next(&r) % MAX_POS);
  rope_arg a;
  a.m = m;
  a.rope = rope;
  int ns = rot(2 * b);
  a.x = slots_alloc(b, ns);
  a.pos = slots_alloc(pb, ns);
  slots_fill(&a.x, xh, b);
  slots_fill(&a.pos, pos, pb);
  lcb_check(ctx, rope_call(&a, 0), "rope"); /* in place: slot 0 now holds the result */
  lcb_download(ctx, got, slot_at(&a.x, 0), b);
  lc_cpu_rope_strict(xh, m, N_HEADS, HEAD_DIM, pos, cos_h, sin_h, LC_ROPE_HALF);
  check_bits(got, xh, n, "rope");
  char shape[64];
  snprintf(shape, sizeof shape, "M=%lld H=%d hd=%d", (long long)m, N_HEADS, HEAD_DIM);
  lcb_timing t;
  lcb_time(&dev, &opt, ctx, rope_call, &a, ns, &t);
  report("rope", shape, &t, 8.0 * (double)n + 4.0 * (double)(m * HEAD_DIM), 0);
  slots_free(&a.x);
  slots_free(&a.pos);
  free(xh);
  free(got);
  free(pos);
}

/* ---- attention decode ------------------------------------------------------------*/

typedef struct attn_arg {
  lc_attn_shape shape;
  int64_t n_seq;
  slots kc, vc, q, out;
  int32_t *idx; /* device: q_slot [n_seq] then q_pos [n_seq] */
  void *ws;
  size_t ws_bytes;
} attn_arg;

static lc_status attn_call(void *p, int slot) {
  attn_arg *a = p;
  return kfail(
      lc_kernels_attention(&a->shape, a->n_seq, a->idx, a->idx + a->n_seq, slot_at(&a->q, slot),
                           slot_at(&a->kc, slot), slot_at(&a->vc, slot), slot_at(&a->out, slot),
                           a->ws, a->ws_bytes, lc_cuda_stream(ctx), KERR),
      "attention");
}

/* The shape of the benches: N_HEADS/N_KV heads of HEAD_DIM, len positions
 * per slot, `rows` query rows in all. */
static void attn_init(attn_arg *a, int64_t len, int64_t n_slots, int64_t rows, lc_dtype kv_dtype) {
  memset(a, 0, sizeof *a);
  a->shape.n_heads = N_HEADS;
  a->shape.n_kv_heads = N_KV;
  a->shape.head_dim = HEAD_DIM;
  a->shape.max_len = (int32_t)len;
  a->shape.n_slots = (int32_t)n_slots;
  a->shape.scale = lc_attn_default_scale(HEAD_DIM);
  a->shape.kv_dtype = kv_dtype;
  a->n_seq = rows;
}

/* The rotating device copies of the caches (cb bytes each) and of q and out
 * (qb bytes each), filled from the host; returns the number of copies. */
static int attn_slots(attn_arg *a, const void *kh, const void *vh, const float *qh, size_t cb,
                      size_t qb) {
  const int ns = rot(2 * cb + 2 * qb);
  a->kc = slots_alloc(cb, ns);
  a->vc = slots_alloc(cb, ns);
  a->q = slots_alloc(qb, ns);
  a->out = slots_alloc(qb, ns);
  slots_fill(&a->kc, kh, cb);
  slots_fill(&a->vc, vh, cb);
  slots_fill(&a->q, qh, qb);
  return ns;
}

static void attn_free(attn_arg *a) {
  lc_buffer_free(ctx, a->idx);
  slots_free(&a->kc);
  slots_free(&a->vc);
  slots_free(&a->q);
  slots_free(&a->out);
}

/* kv_dtype: the cache's element type (LC_DTYPE_F32 or LC_DTYPE_BF16) */
static void bench_attention(int64_t len, int64_t n_seq, lc_dtype kv_dtype) {
  const int bf16 = kv_dtype == LC_DTYPE_BF16;
  const size_t esz = bf16 ? 2 : 4;
  lcb_rng r = lcb_rng_new(61 + (uint64_t)len);
  attn_arg a;
  attn_init(&a, len, n_seq, n_seq, kv_dtype);
  const int64_t cache_n = n_seq * len * N_KV * HEAD_DIM, q_n = n_seq * N_HEADS * HEAD_DIM;
  size_t cb = (size_t)cache_n * esz, qb = (size_t)q_n * 4;
  float *kh = lcb_malloc((size_t)cache_n * 4), *vh = lcb_malloc((size_t)cache_n * 4),
        *qh = lcb_malloc(qb);
  float *ref = lcb_malloc(qb), *got = lcb_malloc(qb);
  lcb_fill_f32(&r, kh, cache_n, 1.0f);
  lcb_fill_f32(&r, vh, cache_n, 1.0f);
  lcb_fill_f32(&r, qh, q_n, 1.0f);
  if (bf16) { /* the caches as bf16, in place (the first half of each array) */
    uint16_t *k16 = (uint16_t *)kh, *v16 = (uint16_t *)vh;
    for (int64_t i = 0; i < cache_n; i++) {
      k16[i] = lc_f32_to_bf16(kh[i]);
      v16[i] = lc_f32_to_bf16(vh[i]);
    }
  }
  const int ns = attn_slots(&a, kh, vh, qh, cb, qb);
  int32_t *idx_h = lcb_malloc((size_t)(2 * n_seq) * 4);
  lc_attn_seq *seqs = lcb_malloc((size_t)n_seq * sizeof *seqs);
  for (int64_t s = 0; s < n_seq; s++) {
    idx_h[s] = (int32_t)s;                 /* slot */
    idx_h[n_seq + s] = (int32_t)(len - 1); /* position: sees all len keys */
    seqs[s] = (lc_attn_seq){(int32_t)s, (int32_t)(len - 1), 1};
  }
  a.idx = lcb_dalloc(ctx, (size_t)(2 * n_seq) * 4);
  lcb_upload(ctx, a.idx, idx_h, (size_t)(2 * n_seq) * 4);
  a.ws_bytes = lc_kernels_attention_workspace(&a.shape, n_seq);
  lcb_check(ctx, lc_cuda_workspace(ctx, a.ws_bytes, &a.ws), "attention workspace");
  lcb_check(ctx, attn_call(&a, 0), "attention");
  lcb_download(ctx, got, slot_at(&a.out, 0), qb);
  lc_cpu_attention_strict(&a.shape, seqs, n_seq, qh, kh, vh, ref);
  check_bits(got, ref, q_n, "attention decode");
  char shape[64];
  snprintf(shape, sizeof shape, "%lld seqs x L=%lld, %d/%d heads, %s KV", (long long)n_seq,
           (long long)len, N_HEADS, N_KV, bf16 ? "bf16" : "fp32");
  lcb_timing t;
  lcb_time(&dev, &opt, ctx, attn_call, &a, ns, &t);
  double bytes = (double)n_seq *
                 (2.0 * (double)len * N_KV * HEAD_DIM * (double)esz + 8.0 * N_HEADS * HEAD_DIM);
  double flops = (double)n_seq * 4.0 * (double)len * N_HEADS * HEAD_DIM;
  report("attention", shape, &t, bytes, flops);
  attn_free(&a);
  free(kh);
  free(vh);
  free(qh);
  free(ref);
  free(got);
  free(idx_h);
  free(seqs);
}

/* A prompt's prefill: one sequence of len rows at positions 0 .. len-1, fp32
 * KV.  The bytes counted are those of linear traffic (K and V read once, q
 * read and out written once), so "of copy bandwidth" says how close the
 * kernel comes to not re-reading K and V per row.  Validated on the first
 * and the last 8 rows against CPU strict (every row on the CPU would take
 * minutes). */
static void bench_attention_prefill(int64_t len) {
  lcb_rng r = lcb_rng_new(81 + (uint64_t)len);
  attn_arg a;
  attn_init(&a, len, 1, len, LC_DTYPE_F32);
  const int64_t cache_n = len * N_KV * HEAD_DIM, q_n = len * N_HEADS * HEAD_DIM;
  const size_t cb = (size_t)cache_n * 4, qb = (size_t)q_n * 4;
  float *kh = lcb_malloc(cb), *vh = lcb_malloc(cb), *qh = lcb_malloc(qb);
  float *ref = lcb_malloc(qb), *got = lcb_malloc(qb);
  lcb_fill_f32(&r, kh, cache_n, 1.0f);
  lcb_fill_f32(&r, vh, cache_n, 1.0f);
  lcb_fill_f32(&r, qh, q_n, 1.0f);
  const int ns = attn_slots(&a, kh, vh, qh, cb, qb);
  int32_t *idx_h = lcb_malloc((size_t)(2 * len) * 4);
  for (int64_t i = 0; i < len; i++) {
    idx_h[i] = 0;
    idx_h[len + i] = (int32_t)i;
  }
  a.idx = lcb_dalloc(ctx, (size_t)(2 * len) * 4);
  lcb_upload(ctx, a.idx, idx_h, (size_t)(2 * len) * 4);
  a.ws_bytes = lc_kernels_attention_workspace(&a.shape, len);
  lcb_check(ctx, lc_cuda_workspace(ctx, a.ws_bytes, &a.ws), "attention workspace");
  lcb_check(ctx, attn_call(&a, 0), "attention prefill");
  lcb_download(ctx, got, slot_at(&a.out, 0), qb);
  const lc_attn_seq seq = {0, 0, (int32_t)len};
  const int64_t unit_d = N_HEADS * HEAD_DIM, edge = 8 * N_HEADS; /* 8 rows of units */
  lc_cpu_attention_strict_units(&a.shape, &seq, 1, qh, kh, vh, ref, 0, edge);
  lc_cpu_attention_strict_units(&a.shape, &seq, 1, qh, kh, vh, ref, len * N_HEADS - edge,
                                len * N_HEADS);
  check_bits(got, ref, 8 * unit_d, "attention prefill, first rows");
  check_bits(got + (len - 8) * unit_d, ref + (len - 8) * unit_d, 8 * unit_d,
             "attention prefill, last rows");
  char shape[64];
  snprintf(shape, sizeof shape, "prefill 1 seq x %lld rows, %d/%d heads, fp32 KV", (long long)len,
           N_HEADS, N_KV);
  lcb_timing t;
  lcb_time(&dev, &opt, ctx, attn_call, &a, ns, &t);
  const double bytes = 2.0 * (double)cb + 2.0 * (double)qb;
  const double flops = 2.0 * (double)len * (double)(len + 1) * N_HEADS * HEAD_DIM;
  report("attention", shape, &t, bytes, flops);
  attn_free(&a);
  free(kh), free(vh), free(qh), free(ref), free(got), free(idx_h);
}

int main(int argc, char **argv) {
  lcb_parse_args(argc, argv, &opt, usage);
  lcb_device_open(&opt, &dev);
  ctx = lcb_context(&dev, LC_MODE_STRICT);
  double t0 = lcb_now();
  static const int64_t ms_full[] = {1, 16, 256, 4096}, ms_quick[] = {1, 4096};
  static const int64_t rows_full[] = {1, 16, 256}, rows_quick[] = {1, 64};
  static const int64_t lens_full[] = {1024, 4096, 16384, 32768}, lens_quick[] = {1024, 16384};
  const int64_t *ms = opt.quick ? ms_quick : ms_full;
  const int64_t *rows = opt.quick ? rows_quick : rows_full;
  const int64_t *lens = opt.quick ? lens_quick : lens_full;
  int n_ms = opt.quick ? 2 : 4, n_rows = opt.quick ? 2 : 3, n_lens = opt.quick ? 2 : 4;
  /* LC_BENCH_OPS_ONLY=attention,argmax (say): those ops' rows alone */
  const char *only = getenv("LC_BENCH_OPS_ONLY");
#define WANT(name) (!only || strstr(only, name))
  static const char *const row_names[] = {"softmax", "log_softmax", "argmax"};

  lcb_result_header();
  for (int i = 0; i < n_ms && WANT("rmsnorm"); i++) bench_rmsnorm(ms[i]);
  for (int kind = 0; kind < 3; kind++)
    for (int i = 0; i < n_rows && WANT(row_names[kind]); i++) bench_rows(kind, rows[i]);
  for (int kind = 0; kind < 2; kind++)
    for (int i = 0; i < n_ms && WANT(kind ? "add" : "silu_mul"); i++)
      bench_elementwise(kind, ms[i]);
  if (WANT("embedding")) {
    lcb_rng r = lcb_rng_new(71);
    uint16_t *th = lcb_malloc((size_t)VOCAB * D_MODEL * 2);
    lcb_fill_bf16(&r, th, (int64_t)VOCAB * D_MODEL, 1.0f);
    lc_weights *table = NULL;
    lcb_check(ctx, lc_weights_create(ctx, VOCAB, D_MODEL, LC_DTYPE_BF16, th, &table),
              "lc_weights_create (embedding table)");
    for (int i = 0; i < n_ms; i++) bench_embedding(table, th, ms[i]);
    lc_weights_free(table);
    free(th);
  }
  if (WANT("rope")) {
    lc_rope *rope = NULL;
    lcb_check(ctx, lc_rope_create(ctx, HEAD_DIM, MAX_POS, 500000.0, LC_ROPE_HALF, NULL, &rope),
              "lc_rope_create");
    size_t tb = (size_t)MAX_POS * (HEAD_DIM / 2) * 4;
    float *cos_h = lcb_malloc(tb), *sin_h = lcb_malloc(tb);
    lcb_download(ctx, cos_h, rope->cos_tab, tb);
    lcb_download(ctx, sin_h, rope->sin_tab, tb);
    for (int i = 0; i < n_ms; i++) bench_rope(rope, cos_h, sin_h, ms[i]);
    lc_rope_free(rope);
    free(cos_h);
    free(sin_h);
  }
  for (int i = 0; i < n_lens && WANT("attention"); i++) bench_attention(lens[i], 8, LC_DTYPE_F32);
  for (int i = 0; i < n_lens && WANT("attention"); i++) bench_attention(lens[i], 8, LC_DTYPE_BF16);
  if (WANT("prefill")) { /* LC_BENCH_OPS_ONLY=prefill: these rows alone */
    bench_attention_prefill(1024);
    bench_attention_prefill(4096);
  }
#undef WANT

  lcb_note(
      "\nvalidation (memcmp-equal to CPU strict on every timed input of slot 0): %d "
      "failures; total time %.0f s\n",
      n_fail, lcb_now() - t0);
  lcb_write_markdown(&opt, &dev, "strict ops: bandwidth",
                     "GB/s divides the napkin bytes of bench/bench_ops.c by the median time; "
                     "\"vs baseline\" is that as a fraction of the device-to-device copy "
                     "bandwidth. Kernels called directly on a strict context's stream.");
  lc_context_free(ctx);
  lcb_device_close();
  return n_fail ? 1 : 0;
}

/*
 * tests/test_cuda_attention.c — strict attention on the GPU (kernels/attention.cu)
 * equal, bit for bit, to the CPU strict backend (cpu_ref/attention.c), through
 * the public API: the same caches filled with lc_kv_write on a CUDA context and
 * on a CPU strict context, the same queries, lc_attention on both, memcmp.
 *
 * Covered: head_dim 1, 8, 13, 64, 72, 96, 128, 256; GQA ratios 1, 2, 3, 4, 8,
 * 12, 16; key counts 1, 255, 256, 257, 511, 513, 1000 (partition
 * boundaries), decode and prefill rows mixed in one call; a prompt prefilled
 * at once, in chunks of 1, 7, 64, 300, and 300 then decoded token by token;
 * a sequence alone vs inside batches of many sizes with random or poisoned
 * neighbours; NaN, Inf, huge and subnormal inputs; a shape whose rows do not
 * fit one workspace (several launches); repeated runs.  Output buffers are
 * poisoned before every GPU call (a non-canonical NaN that no strict result
 * can be), so an element the kernels fail to write shows.
 *
 * Without a GPU (or without CUDA in the build) every test reports skipped
 * and the binary exits 77.
 *
 * Under LCT_SANITIZE (tests/test_util.h) every test runs with the shorter
 * lists marked "sanitize": one shape per kernel variant (the tiled kernel's
 * generic head_dim, head_dim 128 with 64- and 32-key tiles, the partition
 * kernel for head_dim 1 and 13, two blocks of query heads in both kernels,
 * head_dim 256), a 270-token prompt, a pool of 24 sequences in batches of
 * up to 24, 206 rows over two launches, 3 runs, a bf16 cache of 39 rows.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"
#if defined(LC_HAVE_CUDA)
#include "kernels/lc_kernels.h"
#endif

#define P LC_ATTN_PARTITION
/* What the GPU output buffer holds before each call: a NaN with a payload,
 * which no strict output can be (strict writes 0x7FC00000 for NaN). */
#define OUT_POISON_BITS 0xFFBADBADu

static int have_gpu;

/* ---- small helpers ----------------------------------------------------------*/

static int64_t slot_elems(const lc_attn_shape *sh) {
  return (int64_t)sh->max_len * lct_attn_kv_row_elems(sh);
}

static void check(lc_context *ctx, lc_status st, const char *what) {
  if (st != LC_OK) fail_msg("%s: %s: %s", what, lc_status_name(st), lc_last_error(ctx));
}

static float *dev_alloc(lc_context *g, int64_t n) {
  void *p = NULL;
  check(g, lc_buffer_alloc(g, (size_t)(n > 0 ? n : 1) * sizeof(float), &p), "lc_buffer_alloc");
  return p;
}

static void dev_put(lc_context *g, float *dst, const float *src, int64_t n) {
  if (n > 0) check(g, lc_buffer_write(g, dst, src, (size_t)n * sizeof(float)), "lc_buffer_write");
}

static void dev_get(lc_context *g, float *dst, const float *src, int64_t n) {
  if (n > 0) check(g, lc_buffer_read(g, dst, src, (size_t)n * sizeof(float)), "lc_buffer_read");
}

/* ---- the world: one cache on each backend, kept equal -------------------------
 * The CPU strict context's caches are host arrays (the CPU backend's memory is
 * host memory); the CUDA context's are device buffers.  Both start NaN
 * everywhere: a position that was never written shows in the output if it is
 * ever read. */
typedef struct world {
  lc_attn_shape sh;
  lc_context *gpu, *cpu;
  float *kc, *vc;   /* host caches of the CPU context */
  float *dkc, *dvc; /* device caches of the CUDA context */
  float *dq, *dout; /* device [cap_rows][H][D] */
  float *dk, *dv;   /* device [cap_kv][n_kv][D]: staging for lc_kv_write */
  float *poison;    /* host [cap_rows][H][D] of OUT_POISON_BITS */
  int64_t cap_rows, cap_kv;
} world;

static world *world_new(lc_attn_shape sh, int64_t cap_rows, int64_t cap_kv) {
  world *w = lct_malloc(sizeof *w);
  w->sh = sh;
  w->gpu = lct_cuda(LC_MODE_STRICT);
  w->cpu = lct_cpu(LC_MODE_STRICT);
  const int64_t ce = (int64_t)sh.n_slots * slot_elems(&sh), re = lct_attn_row_elems(&sh);
  w->kc = lct_malloc_f(ce);
  w->vc = lct_malloc_f(ce);
  for (int64_t i = 0; i < ce; i++) w->kc[i] = w->vc[i] = NAN;
  w->dkc = dev_alloc(w->gpu, ce);
  w->dvc = dev_alloc(w->gpu, ce);
  dev_put(w->gpu, w->dkc, w->kc, ce);
  dev_put(w->gpu, w->dvc, w->vc, ce);
  w->cap_rows = cap_rows;
  w->cap_kv = cap_kv;
  w->dq = dev_alloc(w->gpu, cap_rows * re);
  w->dout = dev_alloc(w->gpu, cap_rows * re);
  w->dk = dev_alloc(w->gpu, cap_kv * lct_attn_kv_row_elems(&sh));
  w->dv = dev_alloc(w->gpu, cap_kv * lct_attn_kv_row_elems(&sh));
  w->poison = lct_malloc_f(cap_rows * re);
  for (int64_t i = 0; i < cap_rows * re; i++) w->poison[i] = lc_f32_from_bits(OUT_POISON_BITS);
  return w;
}

static void world_free(world *w) {
  lc_buffer_free(w->gpu, w->dkc);
  lc_buffer_free(w->gpu, w->dvc);
  lc_buffer_free(w->gpu, w->dq);
  lc_buffer_free(w->gpu, w->dout);
  lc_buffer_free(w->gpu, w->dk);
  lc_buffer_free(w->gpu, w->dv);
  lc_context_free(w->gpu);
  lc_context_free(w->cpu);
  free(w->kc);
  free(w->vc);
  free(w->poison);
  free(w);
}

/* lc_kv_write of k, v (host [total_q][n_kv][D]) for seqs on both backends. */
static void world_kv_write(world *w, const lc_attn_seq *seqs, int64_t n, const float *k,
                           const float *v) {
  const int64_t tq = lct_attn_total_rows(seqs, n), kvs = lct_attn_kv_row_elems(&w->sh);
  assert_true(tq <= w->cap_kv);
  check(w->cpu, lc_kv_write(w->cpu, &w->sh, seqs, n, k, v, w->kc, w->vc), "lc_kv_write(cpu)");
  dev_put(w->gpu, w->dk, k, tq * kvs);
  dev_put(w->gpu, w->dv, v, tq * kvs);
  check(w->gpu, lc_kv_write(w->gpu, &w->sh, seqs, n, w->dk, w->dv, w->dkc, w->dvc),
        "lc_kv_write(cuda)");
}

/* Positions 0 .. n_pos-1 of `slot`: k, v uniform with variance 1 (written in
 * chunks of at most cap_kv positions). */
static void world_fill_slot(world *w, int32_t slot, int32_t n_pos, lct_rng *r) {
  const int64_t kvs = lct_attn_kv_row_elems(&w->sh);
  float *k = lct_malloc_f(w->cap_kv * kvs), *v = lct_malloc_f(w->cap_kv * kvs);
  for (int32_t p0 = 0; p0 < n_pos; p0 += (int32_t)w->cap_kv) {
    const int32_t c = (n_pos - p0 < w->cap_kv) ? n_pos - p0 : (int32_t)w->cap_kv;
    for (int64_t i = 0; i < c * kvs; i++) {
      k[i] = lct_uniformf(r, -1.7320508f, 1.7320508f);
      v[i] = lct_uniformf(r, -1.7320508f, 1.7320508f);
    }
    lc_attn_seq s = {slot, p0, c};
    world_kv_write(w, &s, 1, k, v);
  }
  free(k);
  free(v);
}

/* The whole of `slot` in both caches: poison of kinds kk (k) and kv (v). */
static void world_poison_slot(world *w, int32_t slot, int kk, int kv, lct_rng *r) {
  const int64_t se = slot_elems(&w->sh), at = (int64_t)slot * se;
  lct_fill_poison(w->kc + at, se, kk, r);
  lct_fill_poison(w->vc + at, se, kv, r);
  dev_put(w->gpu, w->dkc + at, w->kc + at, se);
  dev_put(w->gpu, w->dvc + at, w->vc + at, se);
}

/* GPU strict: q host [tq][H][D] in, out host [tq][H][D] back; the device
 * output is poisoned first. */
static void gpu_attn(world *w, const lc_attn_seq *seqs, int64_t n, const float *q, float *out) {
  const int64_t tq = lct_attn_total_rows(seqs, n), re = lct_attn_row_elems(&w->sh);
  assert_true(tq <= w->cap_rows);
  dev_put(w->gpu, w->dq, q, tq * re);
  dev_put(w->gpu, w->dout, w->poison, tq * re);
  check(w->gpu, lc_attention(w->gpu, &w->sh, seqs, n, w->dq, w->dkc, w->dvc, w->dout),
        "lc_attention(cuda)");
  dev_get(w->gpu, out, w->dout, tq * re);
}

static void cpu_attn(world *w, const lc_attn_seq *seqs, int64_t n, const float *q, float *out) {
  check(w->cpu, lc_attention(w->cpu, &w->sh, seqs, n, q, w->kc, w->vc, out), "lc_attention(cpu)");
}

/* ---- GPU vs CPU on many shapes --------------------------------------------------*/

/* Decode rows whose key counts sit at the partition boundaries, and prefill
 * chunks straddling them, each sequence in its own slot, interleaved. */
static const lc_attn_seq shape_seqs[] = {
    {0, 0, 1},   {7, 0, 3},   {1, 254, 1}, {2, 255, 1}, {8, 250, 10},  {3, 256, 1},
    {4, 510, 1}, {9, 505, 9}, {5, 512, 1}, {6, 999, 1}, {10, 990, 10},
};
#define N_SHAPE_SEQS ((int64_t)(sizeof shape_seqs / sizeof shape_seqs[0]))

/* Runs shape_seqs on a fresh world of this shape: GPU vs CPU bitwise.  Returns
 * the number of output elements compared. */
static int64_t gpu_vs_cpu_shape(int h, int g, int d, float q_scale, uint64_t seed) {
  lc_attn_shape sh = lct_attn_shape(h, g, d, 1000, 11);
  world *w = world_new(sh, 64, 1000);
  lct_rng r = lct_rng_new(seed);
  for (int64_t s = 0; s < N_SHAPE_SEQS; s++)
    world_fill_slot(w, shape_seqs[s].slot, shape_seqs[s].pos + shape_seqs[s].n_q, &r);
  const int64_t tq = lct_attn_total_rows(shape_seqs, N_SHAPE_SEQS),
                n = tq * lct_attn_row_elems(&sh);
  float *q = lct_randn(&r, n, q_scale), *got = lct_malloc_f(n), *want = lct_malloc_f(n);
  gpu_attn(w, shape_seqs, N_SHAPE_SEQS, q, got);
  cpu_attn(w, shape_seqs, N_SHAPE_SEQS, q, want);
  char what[96];
  snprintf(what, sizeof what, "GPU vs CPU strict, H=%d G=%d D=%d q_scale=%g", h, g, d,
           (double)q_scale);
  lct_assert_bitwise_f32(got, want, n, what);
  free(q);
  free(got);
  free(want);
  world_free(w);
  return n;
}

/* GPU strict equals CPU strict bitwise for head_dim 8, 64, 72, 128 x GQA
 * ratios 1, 2, 4, 8, and odd shapes (head_dim 1, 13, 96, 256; ratios 3, 12,
 * 16), with 1..1000 keys, decode and prefill rows mixed in one call. */
static void test_cuda_attention_shapes_match_cpu(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int dims[] = {8, 64, 72, 128};
  static const int ratios[] = {1, 2, 4, 8};
  static const struct {
    int h, g, d;
  } odd[] = {{2, 2, 256}, {6, 2, 1}, {12, 1, 13}, {16, 1, 96}, {24, 2, 64}};
  /* sanitize: (dims, ratios) index pairs: D 8 ratio 1 (the tiled kernel's
   * generic head_dim), D 128 ratio 2 (64-key tiles), D 128 ratio 8 (32-key
   * tiles); and the odd shapes 0 (D 256), 1 (D 1), 2 (D 13) and 3 (D 96), the
   * last two with two blocks of query heads */
  static const int san_pairs[][2] = {{0, 0}, {3, 1}, {3, 3}};
  const int san = lct_sanitize();
  const double t0 = lct_now_s();
  int64_t elems = 0;
  int n_shapes = 0;
  const size_t thin = (size_t)lct_thin();
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
    for (size_t ri = 0; ri < sizeof ratios / sizeof ratios[0]; ri++) {
      int keep = (di * (sizeof ratios / sizeof ratios[0]) + ri) % thin == 0;
      if (san) {
        keep = 0;
        for (size_t i = 0; i < LCT_LEN(san_pairs); i++)
          keep |= san_pairs[i][0] == (int)di && san_pairs[i][1] == (int)ri;
      }
      if (!keep) continue;
      elems +=
          gpu_vs_cpu_shape(2 * ratios[ri], 2, dims[di], (ri % 2) ? 3.0f : 1.0f, 100 + 10 * di + ri);
      n_shapes++;
    }
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    if (san ? i > 3 : i % thin != 0) continue;
    elems += gpu_vs_cpu_shape(odd[i].h, odd[i].g, odd[i].d, 2.0f, 200 + i);
    n_shapes++;
  }
  printf("cuda attention shapes: %d shapes, %lld elements bitwise equal GPU vs CPU (%.1f s)\n",
         n_shapes, (long long)elems, lct_now_s() - t0);
}

/* ---- prefill at once, in chunks, decode ------------------------------------------*/

/* A 1000-token prompt gives bitwise the same output at every position on the
 * GPU whether prefilled at once, in chunks of 1, 7, 64 or 300 tokens, or 300
 * then decoded token by token (each mode in its own slot, K/V written chunk
 * by chunk before the chunk's attention, later positions still NaN); and that
 * output equals the CPU's prefill at once. */
static void test_cuda_attention_prefill_chunks_decode(void **state) {
  (void)state;
  if (!have_gpu) skip();
  enum { H = 4, G = 1, D = 64 };
  /* sanitize: a 270-token prompt (past the first partition) at once, in
   * chunks of 7 and 64, and 256 then 1 by 1 */
  const int san = lct_sanitize();
  const int L = san ? 270 : 1000;
  const int all_chunks[] = {L, 1, 7, 64, 300, -300}; /* -300: 300 then 1 by 1 */
  const int san_chunks[] = {L, 7, 64, -256};
  const int *chunk = san ? san_chunks : all_chunks;
  const int n_modes = san ? (int)LCT_LEN(san_chunks) : (int)LCT_LEN(all_chunks);
  const double t0 = lct_now_s();
  lc_attn_shape sh = lct_attn_shape(H, G, D, L, n_modes);
  world *w = world_new(sh, L, L);
  lct_rng r = lct_rng_new(5);
  const int64_t re = (int64_t)H * D, kvs = (int64_t)G * D;
  float *q = lct_randn(&r, L * re, 1.5f);
  float *k = lct_randn(&r, L * kvs, 1.0f), *v = lct_randn(&r, L * kvs, 1.0f);
  float *out[6];
  int64_t calls = 0;
  for (int mdx = 0; mdx < n_modes; mdx++) {
    out[mdx] = lct_malloc_f(L * re);
    int32_t pos = 0;
    while (pos < L) {
      int c = chunk[mdx] > 0 ? chunk[mdx] : (pos == 0 ? -chunk[mdx] : 1);
      if (c > L - pos) c = L - pos;
      lc_attn_seq s = {mdx, pos, c};
      world_kv_write(w, &s, 1, k + pos * kvs, v + pos * kvs);
      gpu_attn(w, &s, 1, q + pos * re, out[mdx] + pos * re);
      pos += c;
      calls++;
    }
  }
  for (int mdx = 1; mdx < n_modes; mdx++) {
    char what[64];
    snprintf(what, sizeof what, "GPU chunk %d vs GPU whole prompt", chunk[mdx]);
    lct_assert_bitwise_f32(out[mdx], out[0], L * re, what);
  }
  float *want = lct_malloc_f(L * re);
  lc_attn_seq whole = {0, 0, L};
  cpu_attn(w, &whole, 1, q, want);
  lct_assert_bitwise_f32(out[0], want, L * re, "GPU whole prompt vs CPU whole prompt");
  printf(
      "cuda attention prefill/chunks/decode: %d-token prompt, %d modes, %lld GPU calls, all "
      "bitwise equal to the CPU (%.1f s)\n",
      L, n_modes, (long long)calls, lct_now_s() - t0);
  for (int mdx = 0; mdx < n_modes; mdx++) free(out[mdx]);
  free(want);
  free(q);
  free(k);
  free(v);
  world_free(w);
}

/* ---- batch invariance ------------------------------------------------------------
 * A pool of sequences, each in its own slot with its own position, query
 * count and queries; its output alone (a batch of one) on the GPU, checked
 * against the CPU.  Batches drawn from the pool, with or without poisoned
 * neighbours, must give every pool sequence its alone bits. */
enum { BI_H = 8, BI_G = 2, BI_D = 64, BI_LEN = 600, BI_POOL = 160, BI_POISON = 70 };

typedef struct bi_pool {
  world *w;
  int n, n_poison; /* BI_POOL and BI_POISON; sanitize: 24 and 8 */
  lc_attn_seq seq[BI_POOL];
  float *q[BI_POOL];     /* [n_q][H][D] */
  float *alone[BI_POOL]; /* [n_q][H][D], GPU */
} bi_pool;

static bi_pool *bi_pool_new(uint64_t seed) {
  bi_pool *bp = lct_malloc(sizeof *bp);
  bp->n = lct_sanitize() ? 24 : BI_POOL;
  bp->n_poison = lct_sanitize() ? 8 : BI_POISON;
  bp->w = world_new(lct_attn_shape(BI_H, BI_G, BI_D, BI_LEN, bp->n + bp->n_poison), 2048, BI_LEN);
  world *w = bp->w;
  lct_rng r = lct_rng_new(seed);
  const int64_t re = lct_attn_row_elems(&w->sh);
  for (int i = 0; i < bp->n; i++) {
    lc_attn_seq *s = &bp->seq[i];
    s->slot = i;
    const int64_t u = lct_range(&r, 0, 99);
    s->n_q = u < 5 ? 0 : (u < 55 ? 1 : (int32_t)lct_range(&r, 2, 8)); /* decode & prefill */
    const int64_t near = lct_range(&r, 0, 3);
    s->pos = near == 0   ? (int32_t)lct_range(&r, 250, 258)
             : near == 1 ? (int32_t)lct_range(&r, 505, 513)
                         : (int32_t)lct_range(&r, 0, BI_LEN - 8);
    world_fill_slot(w, s->slot, s->pos + s->n_q, &r);
    bp->q[i] = lct_rand_uniform(&r, s->n_q * re, -2.0f, 2.0f);
    bp->alone[i] = lct_malloc_f(s->n_q * re);
    if (s->n_q > 0) gpu_attn(w, s, 1, bp->q[i], bp->alone[i]);
  }
  /* poison slots: kinds fixed per slot, so batches only choose among them */
  for (int p = 0; p < bp->n_poison; p++)
    world_poison_slot(w, bp->n + p, p % LCT_POISON_KINDS, (p + 1) % LCT_POISON_KINDS, &r);
  /* the alone outputs are the CPU's: the whole pool in one CPU call (the CPU
   * backend's own batch invariance is tests/test_attention.c's) */
  const int64_t tq = lct_attn_total_rows(bp->seq, bp->n);
  float *q = lct_malloc_f(tq * re), *want = lct_malloc_f(tq * re);
  int64_t row = 0;
  for (int i = 0; i < bp->n; i++) {
    memcpy(q + row * re, bp->q[i], (size_t)(bp->seq[i].n_q * re) * sizeof(float));
    row += bp->seq[i].n_q;
  }
  cpu_attn(w, bp->seq, bp->n, q, want);
  row = 0;
  for (int i = 0; i < bp->n; i++) {
    char what[96];
    snprintf(what, sizeof what, "pool sequence %d alone on the GPU vs CPU (pos %d, n_q %d)", i,
             (int)bp->seq[i].pos, (int)bp->seq[i].n_q);
    lct_assert_bitwise_f32(bp->alone[i], want + row * re, bp->seq[i].n_q * re, what);
    row += bp->seq[i].n_q;
  }
  free(q);
  free(want);
  return bp;
}

static void bi_pool_free(bi_pool *bp) {
  for (int i = 0; i < bp->n; i++) {
    free(bp->q[i]);
    free(bp->alone[i]);
  }
  world_free(bp->w);
  free(bp);
}

/* Batch sizes: 1..24, then 31, 32, 33, 64, 100, 127, 128, 129; sanitize:
 * 1, 2, 7, 24. */
static const int bi_extra[] = {31, 32, 33, 64, 100, 127, 128, 129};
static const int bi_san[] = {1, 2, 7, 24};
static int bi_n_sizes(void) {
  return lct_sanitize() ? (int)LCT_LEN(bi_san) : 24 + (int)LCT_LEN(bi_extra);
}
static int bi_size(int i) {
  if (lct_sanitize()) return bi_san[i];
  return i < 24 ? i + 1 : bi_extra[i - 24];
}

/* Picks B distinct entries of a pool of n in random order into who[]. */
static void bi_draw(lct_rng *r, int n, int B, int *who) {
  int perm[BI_POOL];
  for (int i = 0; i < n; i++) perm[i] = i;
  for (int i = 0; i < B; i++) {
    int j = (int)lct_range(r, i, n - 1);
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    who[i] = perm[i];
  }
}

/* Runs one GPU batch: seqs[b] is pool entry who[b] (>= 0) or a poisoned
 * sequence (who[b] < 0, queries pq[b]); every pool entry must give its alone
 * bits.  Returns the rows checked. */
static int64_t bi_run_check(bi_pool *bp, int B, const int *who, const lc_attn_seq *seqs,
                            float *const *pq, const char *label) {
  const int64_t re = lct_attn_row_elems(&bp->w->sh), tq = lct_attn_total_rows(seqs, B);
  float *q = lct_malloc_f(tq * re), *out = lct_malloc_f(tq * re);
  int64_t row = 0, checked = 0;
  for (int b = 0; b < B; b++) {
    const float *src = who[b] >= 0 ? bp->q[who[b]] : pq[b];
    memcpy(q + row * re, src, (size_t)(seqs[b].n_q * re) * sizeof(float));
    row += seqs[b].n_q;
  }
  gpu_attn(bp->w, seqs, B, q, out);
  row = 0;
  for (int b = 0; b < B; b++) {
    if (who[b] >= 0 && seqs[b].n_q > 0) {
      char what[128];
      snprintf(what, sizeof what, "GPU %s: batch %d, index %d (pos %d, n_q %d)", label, B, b,
               (int)seqs[b].pos, (int)seqs[b].n_q);
      lct_assert_bitwise_f32(out + row * re, bp->alone[who[b]], seqs[b].n_q * re, what);
      checked += seqs[b].n_q;
    }
    row += seqs[b].n_q;
  }
  free(q);
  free(out);
  return checked;
}

/* Every sequence gives bitwise its alone GPU output (itself equal to the
 * CPU's) inside random batches of 1..24, 31..33, 64, 100, 127..129 sequences,
 * wherever it sits; and again with poisoned neighbours (queries and whole
 * cache slots NaN, +-Inf, +-3e38 or subnormal) at odd, then even, indices. */
static void test_cuda_attention_batch_invariance(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const double t0 = lct_now_s();
  bi_pool *bp = bi_pool_new(42);
  lct_rng r = lct_rng_new(43);
  const int64_t re = lct_attn_row_elems(&bp->w->sh);
  int who[BI_POOL];
  lc_attn_seq seqs[BI_POOL];
  float *pq[BI_POOL];
  int64_t batches = 0, rows = 0;
  /* parity -1: no poison; 0: probes at even indices; 1: probes at odd */
  for (int parity = -1; parity < 2; parity++) {
    for (int si = 0; si < bi_n_sizes(); si++) {
      const int B = bi_size(si);
      bi_draw(&r, bp->n, B, who);
      int n_poison = 0;
      for (int b = 0; b < B; b++) {
        pq[b] = NULL;
        if (parity < 0 || b % 2 == parity) {
          seqs[b] = bp->seq[who[b]];
          continue;
        }
        who[b] = -1;
        seqs[b].slot = bp->n + (n_poison++ % bp->n_poison);
        seqs[b].n_q = (int32_t)lct_range(&r, 1, 4);
        seqs[b].pos = (int32_t)lct_range(&r, 0, BI_LEN - seqs[b].n_q);
        pq[b] = lct_malloc_f(seqs[b].n_q * re);
        lct_fill_poison(pq[b], seqs[b].n_q * re, b + B, &r);
      }
      rows += bi_run_check(bp, B, who, seqs, pq,
                           parity < 0   ? "random batch"
                           : parity > 0 ? "probes at odd indices, poison at even"
                                        : "probes at even indices, poison at odd");
      batches++;
      for (int b = 0; b < B; b++) free(pq[b]);
    }
  }
  printf(
      "cuda attention batch invariance: %d pool sequences alone = CPU; %lld batches, %lld "
      "probe rows bitwise equal to alone (%.1f s)\n",
      bp->n, (long long)batches, (long long)rows, lct_now_s() - t0);
  bi_pool_free(bp);
}

/* ---- special values ----------------------------------------------------------------*/

/* With NaN, +-Inf, huge and subnormal values in q, k and v, and with a scale
 * so large that scores overflow, GPU strict still equals CPU strict bitwise
 * (every NaN written is 0x7FC00000 on both). */
static void test_cuda_attention_special_values(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const double t0 = lct_now_s();
  int64_t n_nan_total = 0, elems = 0;
  static const float scales[] = {0.0f /* default */, 3e38f, 1e-30f};
  for (size_t sc = 0; sc < sizeof scales / sizeof scales[0]; sc++) {
    lc_attn_shape sh = lct_attn_shape(8, 2, 16, 600, 8);
    if (scales[sc] != 0.0f) sh.scale = scales[sc];
    world *w = world_new(sh, 64, 600);
    lct_rng r = lct_rng_new(31 + sc);
    lc_attn_seq seqs[8];
    const int64_t kvs = lct_attn_kv_row_elems(&sh);
    for (int s = 0; s < 8; s++) {
      seqs[s].slot = s;
      seqs[s].n_q = 1 + s % 3;
      seqs[s].pos = (int32_t)lct_range(&r, 240, 600 - seqs[s].n_q);
      /* k, v ~ N(0,1) with a few specials per slot, one NaN with a payload */
      const int32_t n_pos = seqs[s].pos + seqs[s].n_q;
      float *k = lct_randn(&r, n_pos * kvs, 1.0f), *v = lct_randn(&r, n_pos * kvs, 1.0f);
      for (int c = 0; c < 6; c++) {
        float sp[1];
        lct_fill_poison(sp, 1, s + c, &r);
        const int64_t e = lct_range(&r, 0, n_pos * kvs - 1);
        if (c % 2)
          k[e] = sp[0];
        else
          v[e] = sp[0];
      }
      if (s == 3) v[5] = lc_f32_from_bits(0xFFC12345u);
      lc_attn_seq all = {seqs[s].slot, 0, n_pos};
      world_kv_write(w, &all, 1, k, v);
      free(k);
      free(v);
    }
    const int64_t tq = lct_attn_total_rows(seqs, 8), n = tq * lct_attn_row_elems(&sh);
    float *q = lct_randn(&r, n, 1.0f);
    lct_fill_poison(q + 2 * lct_attn_row_elems(&sh), 8, 0, &r);
    lct_fill_poison(q + 5 * lct_attn_row_elems(&sh) + 20, 40, 5, &r);
    lct_fill_poison(q + 9 * lct_attn_row_elems(&sh) + 3, 2, 4, &r);
    float *got = lct_malloc_f(n), *want = lct_malloc_f(n);
    gpu_attn(w, seqs, 8, q, got);
    cpu_attn(w, seqs, 8, q, want);
    char what[80];
    snprintf(what, sizeof what, "GPU vs CPU strict with special values, scale %g",
             (double)sh.scale);
    lct_assert_bitwise_f32(got, want, n, what);
    for (int64_t i = 0; i < n; i++) n_nan_total += lc_f32_isnan(got[i]);
    elems += n;
    free(q);
    free(got);
    free(want);
    world_free(w);
  }
  assert_true(n_nan_total > 0); /* the specials did reach the output */
  printf(
      "cuda attention special values: %lld elements (%lld NaN) bitwise equal GPU vs CPU, 3 "
      "scales (%.1f s)\n",
      (long long)elems, (long long)n_nan_total, lct_now_s() - t0);
}

/* ---- rows split over several launches ---------------------------------------------*/

/* With max_len 65536 one row's partials are 320 KiB, so the kernels run a
 * 306-row call in several launches (204 rows each); every row equals the CPU
 * and equals itself computed alone (one launch), including the last key of
 * the cache.  sanitize: 204 rows of slot 0 and the last 2 positions of slot
 * 1 (206 rows: two launches), 4 rows alone. */
static void test_cuda_attention_many_launches(void **state) {
  (void)state;
  if (!have_gpu) skip();
#if defined(LC_HAVE_CUDA)
  enum { H = 32, G = 4, D = 8, LEN = 65536 };
  const int san = lct_sanitize();
  const int n0 = san ? 204 : 300, n1 = san ? 2 : 6; /* rows in slot 0, at the end of slot 1 */
  const double t0 = lct_now_s();
  lc_attn_shape sh = lct_attn_shape(H, G, D, LEN, 2);
  world *w = world_new(sh, 306, 8192);
  lct_rng r = lct_rng_new(77);
  const lc_attn_seq seqs[2] = {{0, 0, n0}, {1, LEN - n1, n1}};
  world_fill_slot(w, 0, n0, &r);
  world_fill_slot(w, 1, LEN, &r);
  const int64_t tq = lct_attn_total_rows(seqs, 2), re = lct_attn_row_elems(&sh), n = tq * re;
  const size_t ws = lc_kernels_attention_workspace(&sh, tq);
  const size_t all_rows = (size_t)tq * H * (LEN / P) * (D + 2) * sizeof(float);
  if (ws >= all_rows)
    fail_msg("workspace %zu bytes holds all %lld rows (%zu): the test no longer splits", ws,
             (long long)tq, all_rows);
  float *q = lct_randn(&r, n, 2.0f), *got = lct_malloc_f(n), *want = lct_malloc_f(n),
        *one = lct_malloc_f(re);
  gpu_attn(w, seqs, 2, q, got);
  cpu_attn(w, seqs, 2, q, want);
  lct_assert_bitwise_f32(got, want, n, "GPU vs CPU, rows over several launches");
  static const int all_probes[] = {0, 1, 101, 102, 203, 204, 205, 299, 300, 303, 305};
  static const int san_probes[] = {0, 203, 204, 205};
  const int *probe = san ? san_probes : all_probes;
  const size_t n_probes = san ? LCT_LEN(san_probes) : LCT_LEN(all_probes);
  for (size_t i = 0; i < n_probes; i++) {
    const int row = probe[i];
    lc_attn_seq s = row < n0 ? (lc_attn_seq){0, row, 1} : (lc_attn_seq){1, LEN - n1 + row - n0, 1};
    gpu_attn(w, &s, 1, q + row * re, one);
    char what[64];
    snprintf(what, sizeof what, "row %d alone vs inside the %lld-row call", row, (long long)tq);
    lct_assert_bitwise_f32(got + row * re, one, re, what);
  }
  printf(
      "cuda attention many launches: %lld rows with %zu-byte workspace (all rows: %zu) "
      "bitwise equal to the CPU and to rows alone (%.1f s)\n",
      (long long)tq, ws, all_rows, lct_now_s() - t0);
  free(q);
  free(got);
  free(want);
  free(one);
  world_free(w);
#endif
}

/* ---- run to run -------------------------------------------------------------------*/

/* The same mixed call run 20 times on one context (and once on a second
 * context) gives the same bits every time, each time into a poisoned output. */
static void test_cuda_attention_run_to_run(void **state) {
  (void)state;
  if (!have_gpu) skip();
  const double t0 = lct_now_s();
  lc_attn_shape sh = lct_attn_shape(16, 4, 128, 1000, 11);
  world *w = world_new(sh, 64, 1000);
  lct_rng r = lct_rng_new(9);
  for (int64_t s = 0; s < N_SHAPE_SEQS; s++)
    world_fill_slot(w, shape_seqs[s].slot, shape_seqs[s].pos + shape_seqs[s].n_q, &r);
  const int64_t tq = lct_attn_total_rows(shape_seqs, N_SHAPE_SEQS),
                n = tq * lct_attn_row_elems(&sh);
  float *q = lct_randn(&r, n, 2.0f), *first = lct_malloc_f(n), *again = lct_malloc_f(n);
  gpu_attn(w, shape_seqs, N_SHAPE_SEQS, q, first);
  const int reps = lct_sanitize() ? 3 : 20; /* sanitize: 3 runs */
  for (int rep = 1; rep < reps; rep++) {
    gpu_attn(w, shape_seqs, N_SHAPE_SEQS, q, again);
    char what[48];
    snprintf(what, sizeof what, "GPU run %d vs run 0", rep);
    lct_assert_bitwise_f32(again, first, n, what);
  }
  /* a second CUDA context with its own workspace and stream */
  lc_context *g2 = lct_cuda(LC_MODE_STRICT);
  const int64_t ce = (int64_t)sh.n_slots * slot_elems(&sh);
  float *kc2 = dev_alloc(g2, ce), *vc2 = dev_alloc(g2, ce), *q2 = dev_alloc(g2, n);
  float *o2 = dev_alloc(g2, n);
  dev_put(g2, kc2, w->kc, ce);
  dev_put(g2, vc2, w->vc, ce);
  dev_put(g2, q2, q, n);
  check(g2, lc_attention(g2, &sh, shape_seqs, N_SHAPE_SEQS, q2, kc2, vc2, o2),
        "lc_attention(second context)");
  dev_get(g2, again, o2, n);
  lct_assert_bitwise_f32(again, first, n, "GPU second context vs first");
  lc_buffer_free(g2, kc2);
  lc_buffer_free(g2, vc2);
  lc_buffer_free(g2, q2);
  lc_buffer_free(g2, o2);
  lc_context_free(g2);
  printf(
      "cuda attention run to run: %d runs + a second context, %lld elements identical "
      "(%.1f s)\n",
      reps, (long long)n, lct_now_s() - t0);
  free(q);
  free(first);
  free(again);
  world_free(w);
}

/* A bf16 cache (kv_dtype LC_DTYPE_BF16) on the GPU: lc_kv_write's device
 * conversion stores the bits the CPU's does, and lc_attention over it equals
 * CPU strict over the CPU's bf16 cache, bitwise; head_dim 128 (the 8-byte
 * vector loads) and 5 (element loads), sequences past several partitions. */
static void test_cuda_attention_bf16_cache(void **state) {
  (void)state;
  if (!have_gpu) skip();
  static const int dims[][3] = {{8, 2, 128}, {3, 3, 5}};
  lc_context *g = lct_cuda(LC_MODE_STRICT), *c = lct_cpu(LC_MODE_STRICT);
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    lc_attn_shape sh = lct_attn_shape(dims[di][0], dims[di][1], dims[di][2], 900, 3);
    sh.kv_dtype = LC_DTYPE_BF16;
    lct_rng r = lct_rng_new(70 + di);
    lc_attn_seq seqs[3] = {{0, 0, 700}, {2, 0, 260}, {1, 0, 9}};
    if (lct_sanitize()) { /* sanitize: fewer rows, still past two partitions */
      seqs[0] = (lc_attn_seq){0, 500, 20};
      seqs[1] = (lc_attn_seq){2, 250, 10};
    }
    const int64_t tq = lct_attn_total_rows(seqs, 3), re = lct_attn_row_elems(&sh),
                  kvs = lct_attn_kv_row_elems(&sh);
    const int64_t ce = (int64_t)sh.n_slots * sh.max_len * kvs;
    float *k = lct_randn(&r, tq * kvs, 1.0f), *v = lct_randn(&r, tq * kvs, 1.0f);
    float *q = lct_randn(&r, tq * re, 1.0f);
    uint16_t *kb = lct_malloc((size_t)ce * 2), *vb = lct_malloc((size_t)ce * 2);
    uint16_t *kg = lct_malloc((size_t)ce * 2);
    memset(kb, 0, (size_t)ce * 2);
    memset(vb, 0, (size_t)ce * 2);
    float *want = lct_malloc_f(tq * re), *got = lct_malloc_f(tq * re);
    check(c, lc_kv_write(c, &sh, seqs, 3, k, v, kb, vb), "lc_kv_write (cpu)");
    check(c, lc_attention(c, &sh, seqs, 3, q, kb, vb, want), "lc_attention (cpu)");
    float *dk = lct_dev_alloc(g, (size_t)(tq * kvs) * 4),
          *dv = lct_dev_alloc(g, (size_t)(tq * kvs) * 4);
    float *dq = lct_dev_alloc(g, (size_t)(tq * re) * 4),
          *dout = lct_dev_alloc(g, (size_t)(tq * re) * 4);
    void *dkc = lct_dev_alloc(g, (size_t)ce * 2), *dvc = lct_dev_alloc(g, (size_t)ce * 2);
    /* the device caches start as the CPU's did, all zeros (kb and vb hold the
     * CPU's writes by now): the comparison below then sees what the GPU's own
     * lc_kv_write stored */
    uint16_t *zero = lct_malloc((size_t)ce * 2);
    memset(zero, 0, (size_t)ce * 2);
    lct_dev_write(g, dkc, zero, (size_t)ce * 2);
    lct_dev_write(g, dvc, zero, (size_t)ce * 2);
    free(zero);
    lct_dev_write(g, dk, k, (size_t)(tq * kvs) * 4);
    lct_dev_write(g, dv, v, (size_t)(tq * kvs) * 4);
    lct_dev_write(g, dq, q, (size_t)(tq * re) * 4);
    check(g, lc_kv_write(g, &sh, seqs, 3, dk, dv, dkc, dvc), "lc_kv_write (gpu)");
    lct_dev_read(g, kg, dkc, (size_t)ce * 2);
    assert_memory_equal(kg, kb, (size_t)ce * 2);
    lct_dev_read(g, kg, dvc, (size_t)ce * 2);
    assert_memory_equal(kg, vb, (size_t)ce * 2);
    check(g, lc_attention(g, &sh, seqs, 3, dq, dkc, dvc, dout), "lc_attention (gpu)");
    lct_dev_read(g, got, dout, (size_t)(tq * re) * 4);
    char what[80];
    snprintf(what, sizeof what, "bf16 cache, H=%d G=%d D=%d: GPU vs CPU strict", dims[di][0],
             dims[di][1], dims[di][2]);
    lct_assert_bitwise_f32(got, want, tq * re, what);
    lc_buffer_free(g, dk), lc_buffer_free(g, dv), lc_buffer_free(g, dq), lc_buffer_free(g, dout);
    lc_buffer_free(g, dkc), lc_buffer_free(g, dvc);
    free(k), free(v), free(q), free(kb), free(vb), free(kg), free(want), free(got);
  }
  printf("cuda attention, bf16 cache: stored bits and outputs equal to the CPU's\n");
  lc_context_free(g);
  lc_context_free(c);
}

int main(void) {
  lct_gpu_main_begin();
  have_gpu = lct_have_cuda();
  if (!have_gpu) printf("no usable CUDA device (or CUDA not in this build): GPU tests skip\n");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cuda_attention_shapes_match_cpu),
      cmocka_unit_test(test_cuda_attention_prefill_chunks_decode),
      cmocka_unit_test(test_cuda_attention_batch_invariance),
      cmocka_unit_test(test_cuda_attention_special_values),
      cmocka_unit_test(test_cuda_attention_many_launches),
      cmocka_unit_test(test_cuda_attention_run_to_run),
      cmocka_unit_test(test_cuda_attention_bf16_cache),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return (rc == 0 && !have_gpu) ? 77 : rc;
}

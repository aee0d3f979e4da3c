/*
 * tests/test_invariance.c — strict batch invariance on the CPU backend, bitwise.
 *
 * For matmul, rmsnorm, softmax, log_softmax and argmax: a row computed alone
 * (m = 1) gives exactly the same bits as the same row inside batches of every size
 * 1..64, 127, 128, 129, 255, 256, 257, at every position, whatever the other rows
 * hold: random data, or NaN, +-Inf, +-3e38 and subnormals (lct_fill_poison).
 *
 * Schemes, for each batch size M:
 *   1. a random batch; every row against itself computed alone (every position);
 *   2. probe rows at even positions and poison at odd ones, then the opposite, the
 *      poison kind cycling with M;
 *   3. (a subset of M) one probe at positions 0, 1, M/2, M-1, every other row poison.
 * A small row width (300: two matmul segments with a tail, 9 lanes-rounds plus a
 * tail of 12 in the 32-lane reductions) for the full sweep, and 1100 for a subset.
 *
 * Only the strict mode is tested here.  The reference mode (OpenBLAS) promises no
 * batch invariance and is deliberately not asserted to have it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* ---- the ops under test, behind one signature -----------------------------------*/

typedef enum op_kind { OP_MATMUL, OP_RMSNORM, OP_SOFTMAX, OP_LOG_SOFTMAX, OP_ARGMAX } op_kind;

typedef struct inv_op {
  op_kind kind;
  const char *name;
  int64_t in_w;     /* floats per input row (K, or n) */
  int64_t out_w;    /* elements per output row (N, n, or 1 index) */
  lc_context *ctx;  /* strict CPU context */
  lc_weights *w;    /* matmul W [N][K] or rmsnorm weight [1][n] */
  lc_weights *bias; /* matmul bias or NULL */
} inv_op;

/* y: [m][out_w] floats, or [m] int32 for argmax. */
static void op_run(const inv_op *op, const float *x, int64_t m, void *y) {
  lc_status st = LC_OK;
  switch (op->kind) {
    case OP_MATMUL:
      st = lc_matmul(op->ctx, x, m, op->w, op->bias, y);
      break;
    case OP_RMSNORM:
      st = lc_rmsnorm(op->ctx, x, m, op->w, 1e-5f, y);
      break;
    case OP_SOFTMAX:
      st = lc_softmax(op->ctx, x, m, op->in_w, y);
      break;
    case OP_LOG_SOFTMAX:
      st = lc_log_softmax(op->ctx, x, m, op->in_w, y);
      break;
    case OP_ARGMAX:
      st = lc_argmax(op->ctx, x, m, op->in_w, y);
      break;
  }
  if (st != LC_OK)
    fail_msg("%s(m=%lld): %s: %s", op->name, (long long)m, lc_status_name(st),
             lc_last_error(op->ctx));
}

static size_t out_row_bytes(const inv_op *op) {
  return op->kind == OP_ARGMAX ? sizeof(int32_t) : (size_t)op->out_w * sizeof(float);
}

static inv_op op_new(op_kind kind, int64_t width, int64_t n_out, int with_bias, uint64_t seed) {
  static const char *const names[] = {"matmul", "rmsnorm", "softmax", "log_softmax", "argmax"};
  lct_rng r = lct_rng_new(seed);
  inv_op op = {kind, names[kind], width, width, lct_cpu(LC_MODE_STRICT), NULL, NULL};
  if (kind == OP_ARGMAX) op.out_w = 1;
  if (kind == OP_MATMUL) {
    op.out_w = n_out;
    uint16_t *w = lct_rand_bf16(&r, n_out * width, 0.1f);
    assert_int_equal(lc_weights_create(op.ctx, n_out, width, LC_DTYPE_BF16, w, &op.w), LC_OK);
    free(w);
    if (with_bias) {
      uint16_t *b = lct_rand_bf16(&r, n_out, 1.0f);
      assert_int_equal(lc_weights_create(op.ctx, 1, n_out, LC_DTYPE_BF16, b, &op.bias), LC_OK);
      free(b);
    }
  } else if (kind == OP_RMSNORM) {
    uint16_t *w = lct_rand_bf16(&r, width, 1.0f);
    assert_int_equal(lc_weights_create(op.ctx, 1, width, LC_DTYPE_BF16, w, &op.w), LC_OK);
    free(w);
  }
  return op;
}

static void op_free(inv_op *op) {
  lc_weights_free(op->bias);
  lc_weights_free(op->w);
  lc_context_free(op->ctx);
}

/* Fails with the op, the scheme, M, the position and the first differing element. */
static void expect_row(const inv_op *op, const void *batch_out, int64_t pos, const void *alone,
                       const char *scheme, int64_t m, int poison) {
  const size_t rb = out_row_bytes(op);
  const char *row = (const char *)batch_out + (size_t)pos * rb;
  if (memcmp(row, alone, rb) == 0) return;
  char what[160];
  snprintf(what, sizeof what, "%s width %lld, %s, M=%lld, position %lld%s%s", op->name,
           (long long)op->in_w, scheme, (long long)m, (long long)pos,
           poison >= 0 ? ", poison " : "", poison >= 0 ? lct_poison_name(poison) : "");
  if (op->kind == OP_ARGMAX)
    fail_msg("%s: index %d in the batch, %d alone", what, (int)*(const int32_t *)row,
             (int)*(const int32_t *)alone);
  lct_assert_bitwise_f32((const float *)row, (const float *)alone, op->out_w, what);
}

/* ---- the three schemes --------------------------------------------------------------*/

#define N_PROBES 8

typedef struct probes {
  float *x;  /* [N_PROBES][in_w] */
  char *out; /* [N_PROBES] output rows computed alone */
} probes;

static probes probes_new(const inv_op *op, lct_rng *r) {
  probes p;
  p.x = lct_randn(r, N_PROBES * op->in_w, 2.0f);
  p.out = malloc(N_PROBES * out_row_bytes(op));
  assert_non_null(p.out);
  for (int i = 0; i < N_PROBES; i++)
    op_run(op, p.x + i * op->in_w, 1, p.out + (size_t)i * out_row_bytes(op));
  return p;
}

static void probes_free(probes *p) {
  free(p->x);
  free(p->out);
}

/* Scheme 1: random batch, every row against itself alone. */
static void scheme_random(const inv_op *op, int64_t m, lct_rng *r, void *y, void *alone) {
  float *x = lct_randn(r, m * op->in_w, 2.0f);
  op_run(op, x, m, y);
  for (int64_t i = 0; i < m; i++) {
    op_run(op, x + i * op->in_w, 1, alone);
    expect_row(op, y, i, alone, "random batch", m, -1);
  }
  free(x);
}

/* Scheme 2: probes at positions of one parity, poison at the other. */
static void scheme_interleaved(const inv_op *op, int64_t m, const probes *p, lct_rng *r, void *y) {
  float *x = malloc((size_t)(m * op->in_w) * sizeof *x);
  assert_non_null(x);
  for (int parity = 0; parity < 2; parity++) {
    const int kind = (int)((m + parity) % LCT_POISON_KINDS);
    for (int64_t i = 0; i < m; i++) {
      float *row = x + i * op->in_w;
      if (i % 2 == parity)
        memcpy(row, p->x + ((i / 2) % N_PROBES) * op->in_w, (size_t)op->in_w * sizeof *row);
      else
        lct_fill_poison(row, op->in_w, kind, r);
    }
    op_run(op, x, m, y);
    for (int64_t i = parity; i < m; i += 2)
      expect_row(op, y, i, p->out + (size_t)((i / 2) % N_PROBES) * out_row_bytes(op),
                 "probes between poison rows", m, kind);
  }
  free(x);
}

/* Scheme 3: one probe at positions 0, 1, M/2, M-1; every other row poison. */
static void scheme_lone_probe(const inv_op *op, int64_t m, const probes *p, lct_rng *r, void *y) {
  float *x = malloc((size_t)(m * op->in_w) * sizeof *x);
  assert_non_null(x);
  const int64_t positions[4] = {0, 1, m / 2, m - 1};
  for (int t = 0; t < 4; t++) {
    const int64_t pos = positions[t];
    if (pos >= m) continue;
    const int kind = (int)((m + t) % LCT_POISON_KINDS);
    for (int64_t i = 0; i < m; i++) {
      if (i == pos)
        memcpy(x + i * op->in_w, p->x + t * op->in_w, (size_t)op->in_w * sizeof *x);
      else
        lct_fill_poison(x + i * op->in_w, op->in_w, kind, r);
    }
    op_run(op, x, m, y);
    expect_row(op, y, pos, p->out + (size_t)t * out_row_bytes(op), "lone probe in poison", m, kind);
  }
  free(x);
}

static const int64_t kBig[] = {127, 128, 129, 255, 256, 257};
static const int64_t kSubset[] = {1, 2, 3, 4, 5, 8, 13, 31, 32, 33, 64, 127, 128, 129, 257};

/* All M in 1..64 and kBig with schemes 1 and 2, scheme 3 for every M of kSubset
 * (full = 1); or only the M of kSubset with all three schemes (full = 0). */
static void sweep(const inv_op *op, int full, uint64_t seed) {
  lct_rng r = lct_rng_new(seed);
  probes p = probes_new(op, &r);
  void *y = malloc(257 * out_row_bytes(op));
  void *alone = malloc(out_row_bytes(op));
  assert_non_null(y);
  assert_non_null(alone);
  int64_t ms[64 + 6];
  int count = 0;
  if (full) {
    for (int64_t m = 1; m <= 64; m++) ms[count++] = m;
    for (int i = 0; i < 6; i++) ms[count++] = kBig[i];
  } else {
    for (int i = 0; i < (int)(sizeof kSubset / sizeof kSubset[0]); i++) ms[count++] = kSubset[i];
  }
  for (int i = 0; i < count; i++) {
    const int64_t m = ms[i];
    scheme_random(op, m, &r, y, alone);
    scheme_interleaved(op, m, &p, &r, y);
    int in_subset = !full;
    for (int j = 0; j < (int)(sizeof kSubset / sizeof kSubset[0]); j++)
      in_subset |= kSubset[j] == m;
    if (in_subset) scheme_lone_probe(op, m, &p, &r, y);
  }
  free(y);
  free(alone);
  probes_free(&p);
}

/* ---- tests ------------------------------------------------------------------------*/

/* Strict matmul (K = 300: two segments, the second short; N = 9 with bias: one tail
 * column block): a row's bits do not depend on the batch, its position or its
 * neighbours, for every M in 1..64, 127..129, 255..257. */
static void test_invariance_matmul_k300(void **state) {
  (void)state;
  inv_op op = op_new(OP_MATMUL, 300, 9, 1, 51);
  sweep(&op, 1, 52);
  op_free(&op);
}

/* Strict matmul with K = 1100 (five segments) and N = 21 (a full 16-column block and
 * a tail), no bias: invariant for a subset of M up to 257. */
static void test_invariance_matmul_k1100(void **state) {
  (void)state;
  inv_op op = op_new(OP_MATMUL, 1100, 21, 0, 53);
  sweep(&op, 0, 54);
  op_free(&op);
}

/* Strict rmsnorm (n = 300, then 1100 for a subset of M) is batch invariant. */
static void test_invariance_rmsnorm(void **state) {
  (void)state;
  inv_op op = op_new(OP_RMSNORM, 300, 0, 0, 55);
  sweep(&op, 1, 56);
  op_free(&op);
  op = op_new(OP_RMSNORM, 1100, 0, 0, 57);
  sweep(&op, 0, 58);
  op_free(&op);
}

/* Strict softmax (n = 300, then 1100 for a subset of M) is batch invariant. */
static void test_invariance_softmax(void **state) {
  (void)state;
  inv_op op = op_new(OP_SOFTMAX, 300, 0, 0, 59);
  sweep(&op, 1, 60);
  op_free(&op);
  op = op_new(OP_SOFTMAX, 1100, 0, 0, 61);
  sweep(&op, 0, 62);
  op_free(&op);
}

/* Strict log_softmax (n = 300, then 1100 for a subset of M) is batch invariant. */
static void test_invariance_log_softmax(void **state) {
  (void)state;
  inv_op op = op_new(OP_LOG_SOFTMAX, 300, 0, 0, 63);
  sweep(&op, 1, 64);
  op_free(&op);
  op = op_new(OP_LOG_SOFTMAX, 1100, 0, 0, 65);
  sweep(&op, 0, 66);
  op_free(&op);
}

/* Argmax (n = 300, then 1100 for a subset of M) is batch invariant. */
static void test_invariance_argmax(void **state) {
  (void)state;
  inv_op op = op_new(OP_ARGMAX, 300, 0, 0, 67);
  sweep(&op, 1, 68);
  op_free(&op);
  op = op_new(OP_ARGMAX, 1100, 0, 0, 69);
  sweep(&op, 0, 70);
  op_free(&op);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_invariance_matmul_k300), cmocka_unit_test(test_invariance_matmul_k1100),
      cmocka_unit_test(test_invariance_rmsnorm),     cmocka_unit_test(test_invariance_softmax),
      cmocka_unit_test(test_invariance_log_softmax), cmocka_unit_test(test_invariance_argmax),
  };
  return LCT_RUN(tests);
}

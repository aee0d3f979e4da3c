/*
 * tests/test_sample.c — lc_sample and lc_rng_uniform (lib/sample.c).
 *
 * The RNG against the Random123 known answers; greedy's tie and NaN rules;
 * top_k = 1 against greedy; sampled frequencies against the target
 * distribution (a chi-square statistic; the draws are a fixed function of
 * the seed, so the test is deterministic); the top_p boundary on exactly
 * representable probabilities; the partial selection against the full sort;
 * reproducibility; the record's fields; invalid parameters.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "cast/lc_cast.h"
#include "layercast_model.h"
#include "lib/sample_internal.h"
#include "test_util.h"

static lc_sampler_params params(float t, int32_t k, float p, uint64_t seed) {
  lc_sampler_params sp;
  lc_sampler_params_default(&sp);
  sp.temperature = t;
  sp.top_k = k;
  sp.top_p = p;
  sp.seed = seed;
  return sp;
}

static lc_token_record sample_ok(const float *l, int32_t vocab, const lc_sampler_params *sp,
                                 uint64_t seq, int32_t pos) {
  lc_token_record r;
  lc_status st = lc_sample(l, vocab, sp, seq, pos, &r);
  if (st != LC_OK) fail_msg("lc_sample: %s: %s", lc_status_name(st), lc_last_error(NULL));
  return r;
}

static float f_bits(uint32_t u) {
  return lc_f32_from_bits(u);
}

/* Philox4x32-10 gives the Random123 distribution's known answers
 * (kat_vectors: philox4x32 10). */
static void test_sample_philox_known_answers(void **state) {
  (void)state;
  static const uint32_t v[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
      {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du,
       0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
      {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u,
       0x94fdccebu, 0x5001e420u, 0x24126ea1u},
  };
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    lc_philox4x32_10(v[t], v[t] + 4, out);
    for (int j = 0; j < 4; j++) {
      if (out[j] != v[t][6 + j])
        fail_msg("KAT %d word %d: got %08x, want %08x", t, j, out[j], v[t][6 + j]);
    }
  }
}

/* lc_rng_uniform is the documented function of the Philox block: key =
 * seed (low word first), counter = (pos, draw, seq_id low, seq_id high),
 * u = (out[1]:out[0] >> 11) * 2^-53; in [0, 1); every key part matters. */
static void test_sample_uniform_mapping(void **state) {
  (void)state;
  lct_rng g = lct_rng_new(11);
  for (int t = 0; t < 1000; t++) {
    uint64_t seed = lct_next(&g), seq = lct_next(&g);
    int32_t pos = (int32_t)lct_next(&g);
    uint32_t draw = (uint32_t)lct_next(&g);
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t ctr[4] = {(uint32_t)pos, draw, (uint32_t)seq, (uint32_t)(seq >> 32)}, o[4];
    lc_philox4x32_10(ctr, key, o);
    double want = (double)((((uint64_t)o[1] << 32) | o[0]) >> 11) * 0x1p-53;
    double got = lc_rng_uniform(seed, seq, pos, draw);
    if (got != want || !(got >= 0.0 && got < 1.0))
      fail_msg("case %d: got %.17g want %.17g", t, got, want);
  }
  /* ctr = 0, key = 0: the first KAT's words 0 and 1 */
  assert_true(lc_rng_uniform(0, 0, 0, 0) ==
              (double)((((uint64_t)0xe169c58du << 32) | 0x6627e8d5u) >> 11) * 0x1p-53);
  const double base = lc_rng_uniform(1, 2, 3, 4);
  assert_true(lc_rng_uniform(1ull << 40, 2, 3, 4) != base);
  assert_true(lc_rng_uniform(1, 2ull | (1ull << 40), 3, 4) != base);
  assert_true(lc_rng_uniform(1, 2, 4, 4) != base);
  assert_true(lc_rng_uniform(1, 2, 3, 5) != base);
  /* the mean of many draws: |mean - 1/2| <= 5 sigma, sigma = sqrt(1/12/n) */
  const int n = 100000;
  double s = 0.0;
  for (int i = 0; i < n; i++) s += lc_rng_uniform(7, 0, i, 0);
  assert_true(fabs(s / n - 0.5) <= 5.0 * sqrt(1.0 / 12.0 / n));
}

/* Greedy: the first index of the largest logit; -0 and +0 tie; Inf counts. */
static void test_sample_greedy_ties(void **state) {
  (void)state;
  lc_sampler_params g = params(0.0f, 0, 1.0f, 0);
  const float a[] = {1.0f, 3.0f, 2.0f, 3.0f, 3.0f};
  assert_int_equal(sample_ok(a, 5, &g, 0, 0).token, 1);
  const float z[] = {-1.0f, -0.0f, 0.0f, -0.0f};
  assert_int_equal(sample_ok(z, 4, &g, 0, 0).token, 1);
  const float z2[] = {-1.0f, 0.0f, -0.0f};
  assert_int_equal(sample_ok(z2, 3, &g, 0, 0).token, 1);
  const float inf[] = {5.0f, INFINITY, 7.0f, INFINITY};
  assert_int_equal(sample_ok(inf, 4, &g, 0, 0).token, 1);
  const float ninf[] = {-INFINITY, -INFINITY, -INFINITY};
  assert_int_equal(sample_ok(ninf, 3, &g, 0, 0).token, 0);
  const float one[] = {42.0f};
  lc_token_record r = sample_ok(one, 1, &g, 0, 9);
  assert_int_equal(r.token, 0);
  assert_int_equal(r.pos, 9);
  /* random rows with few distinct values: the plain scan's answer */
  lct_rng rg = lct_rng_new(5);
  for (int t = 0; t < 500; t++) {
    int32_t n = (int32_t)lct_range(&rg, 1, 300);
    float *x = lct_alloc_f(n);
    for (int32_t i = 0; i < n; i++) x[i] = (float)lct_range(&rg, -3, 3);
    int32_t want = 0;
    for (int32_t i = 1; i < n; i++)
      if (x[i] > x[want]) want = i;
    assert_int_equal(sample_ok(x, n, &g, 0, 0).token, want);
    free(x);
  }
}

/* NaN is never chosen, greedy or sampled, unless every logit is NaN (then
 * token 0 with NaN statistics and empty top lists). */
static void test_sample_nan_rules(void **state) {
  (void)state;
  const float qn = f_bits(0x7FC00000u), sn = f_bits(0xFF800001u);
  lc_sampler_params g = params(0.0f, 0, 1.0f, 0);
  const float a[] = {qn, 1.0f, sn, 2.0f, qn};
  assert_int_equal(sample_ok(a, 5, &g, 0, 0).token, 3);
  lc_sampler_params s = params(5.0f, 0, 1.0f, 3);
  lc_sampler_params sk = params(5.0f, 3, 0.9f, 3);
  for (int32_t pos = 0; pos < 2000; pos++) {
    int32_t t = sample_ok(a, 5, &s, 1, pos).token;
    assert_true(t == 1 || t == 3);
    t = sample_ok(a, 5, &sk, 1, pos).token;
    assert_true(t == 1 || t == 3);
  }
  const float all[] = {qn, sn, qn};
  lc_sampler_params ps[3] = {g, s, sk};
  for (int i = 0; i < 3; i++) {
    lc_token_record r = sample_ok(all, 3, &ps[i], 0, 4);
    assert_int_equal(r.token, 0);
    assert_true(isnan(r.logit) && isnan(r.top1_prob) && isnan(r.margin));
    for (int j = 0; j < LC_CAPTURE_TOP_K; j++) assert_int_equal(r.top_ids[j], -1);
  }
  /* a large row with NaN everywhere but a few entries takes the sort path */
  float *x = lct_alloc_f(5000);
  for (int i = 0; i < 5000; i++) x[i] = qn;
  x[17] = 1.0f;
  x[4000] = 1.5f;
  for (int32_t pos = 0; pos < 300; pos++) {
    int32_t t = sample_ok(x, 5000, &s, 2, pos).token;
    assert_true(t == 17 || t == 4000);
  }
  free(x);
}

/* lc_sample_greedy (lib/, for lc_loglik's greedy flags) picks lc_sample's
 * temperature-0 token on rows with ties, signed zeros, +-Inf and NaNs (a
 * few values drawn from a small set so that ties are common). */
static void test_sample_greedy_helper_agrees(void **state) {
  (void)state;
  const float vals[] = {0.0f,
                        -0.0f,
                        1.0f,
                        -1.0f,
                        2.5f,
                        f_bits(0x7F800000u),
                        f_bits(0xFF800000u),
                        f_bits(0x7FC00000u),
                        f_bits(0xFFC00001u)};
  const int nv = (int)(sizeof vals / sizeof vals[0]);
  lct_rng r = lct_rng_new(77);
  lc_sampler_params sp = params(0.0f, 0, 1.0f, 0);
  float l[40];
  for (int t = 0; t < 2000; t++) {
    const int32_t v = (int32_t)lct_range(&r, 1, 40);
    const int lo = (int)lct_range(&r, 0, nv - 1); /* some rows have only NaNs */
    for (int32_t i = 0; i < v; i++) l[i] = vals[lct_range(&r, lo, nv - 1)];
    const lc_token_record rec = sample_ok(l, v, &sp, 0, 0);
    if (lc_sample_greedy(l, v) != rec.token)
      fail_msg("row %d (vocab %d): lc_sample_greedy %d, lc_sample %d", t, v, lc_sample_greedy(l, v),
               rec.token);
  }
}

/* top_k = 1 at any temperature and seed is greedy, record included. */
static void test_sample_top_k1_is_greedy(void **state) {
  (void)state;
  lct_rng rg = lct_rng_new(21);
  lc_sampler_params g = params(0.0f, 0, 1.0f, 0);
  for (int t = 0; t < 200; t++) {
    int32_t n = (int32_t)lct_range(&rg, 1, 2000);
    float *x = lct_randn(&rg, n, 2.0f);
    lc_sampler_params k1 =
        params(lct_uniformf(&rg, 0.1f, 3.0f), 1, lct_uniformf(&rg, 0.1f, 1.0f), lct_next(&rg));
    lc_token_record a = sample_ok(x, n, &g, 3, t), b = sample_ok(x, n, &k1, 3, t);
    assert_memory_equal(&a, &b, sizeof a);
    free(x);
  }
}

/* Target probabilities in double with libm's exp (an oracle independent of
 * lc_expf), restricted by top_k and top_p the same way as the sampler;
 * returns how many are kept. */
static int oracle(const float *l, int n, double t, int k, double top_p, double *p) {
  /* l is sorted descending here */
  int keep = (k > 0 && k < n) ? k : n;
  double tot = 0.0;
  for (int i = 0; i < keep; i++) tot += p[i] = exp(((double)l[i] - l[0]) / t);
  if (top_p < 1.0) {
    double c = 0.0;
    for (int i = 0; i < keep; i++) {
      c += p[i];
      if (c >= top_p * tot) {
        /* the boundary must not be a near tie, or float rounding decides */
        assert_true(fabs(c - top_p * tot) > 1e-4 * tot);
        keep = i + 1;
        break;
      }
    }
  }
  double kept = 0.0;
  for (int i = 0; i < keep; i++) kept += p[i];
  for (int i = 0; i < keep; i++) p[i] /= kept;
  return keep;
}

/* Sampled frequencies match the target distribution: Pearson's chi-square
 * over N = 40000 draws (positions 0..N-1, and separately sequence ids
 * 0..N-1) stays below the 0.999 quantile of chi-square with (kept - 1)
 * degrees of freedom (values from the tables: 9 dof 27.88, 3 dof 16.27,
 * 2 dof 13.82; the top_p case keeps 3 of 10); every kept token has an expected count >= 5, and
 * tokens outside the kept set never appear.  The draws are fixed by the seed, so the outcome is
 * deterministic: these seeds pass, a broken sampler (wrong order, wrong temperature, a skewed
 * uniform) fails by far. */
static void test_sample_frequencies_match_target(void **state) {
  (void)state;
  const float l[10] = {2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f};
  /* the same logits shuffled, so that the order is the sampler's work */
  const int perm[10] = {7, 2, 9, 0, 5, 3, 8, 1, 6, 4};
  float x[10];
  for (int i = 0; i < 10; i++) x[perm[i]] = l[i];
  struct {
    float t;
    int k;
    float p;
    double q999;
  } cases[] = {{0.8f, 0, 1.0f, 27.88}, {1.0f, 4, 1.0f, 16.27}, {1.3f, 0, 0.7f, 13.82}};
  const int N = 40000;
  for (int c = 0; c < 3; c++) {
    double p[10];
    const int keep = oracle(l, 10, cases[c].t, cases[c].k, cases[c].p, p);
    for (int by_seq = 0; by_seq < 2; by_seq++) {
      long count[10] = {0};
      lc_sampler_params sp = params(cases[c].t, cases[c].k, cases[c].p, 1234 + (uint64_t)c);
      for (int i = 0; i < N; i++) {
        int32_t tok = sample_ok(x, 10, &sp, by_seq ? (uint64_t)i : 77, by_seq ? 5 : i).token;
        count[tok]++;
      }
      double chi2 = 0.0;
      for (int i = 0; i < 10; i++) {
        const long got = count[perm[i]];
        if (i >= keep) {
          if (got != 0) fail_msg("case %d: token of rank %d outside the kept %d drawn", c, i, keep);
          continue;
        }
        const double e = p[i] * N;
        assert_true(e >= 5.0);
        chi2 += (got - e) * (got - e) / e;
      }
      printf("  T %.1f top_k %d top_p %.1f keyed by %s: chi2 %.2f over %d dof (limit %.2f)\n",
             (double)cases[c].t, cases[c].k, (double)cases[c].p, by_seq ? "seq_id" : "pos", chi2,
             keep - 1, cases[c].q999);
      if (!(chi2 < cases[c].q999)) fail_msg("case %d: chi2 %.3f >= %.2f", c, chi2, cases[c].q999);
    }
  }
}

/* top_p on exactly representable masses (equal logits weigh exactly 1, -Inf
 * weighs 0): the shortest prefix whose mass reaches top_p * total, so
 * top_p = 0.5 over four equal logits keeps exactly two, the next float up
 * keeps three; a tiny top_p keeps the first only. */
static void test_sample_top_p_boundary(void **state) {
  (void)state;
  const float x[6] = {0.0f, -INFINITY, 0.0f, 0.0f, -INFINITY, 0.0f}; /* order: 0, 2, 3, 5 */
  const struct {
    float top_p;
    int n_keep;
  } cases[] = {{0.5f, 2},   {0x1.000002p-1f, 3}, {0.25f, 1}, {0x1.000002p-2f, 2},
               {1e-30f, 1}, {0.75f, 3},          {1.0f, 4}};
  const int order[4] = {0, 2, 3, 5};
  for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
    int seen[6] = {0};
    lc_sampler_params sp = params(1.0f, 0, cases[c].top_p, 99);
    for (int32_t pos = 0; pos < 400; pos++) seen[sample_ok(x, 6, &sp, 0, pos).token]++;
    for (int j = 0; j < 4; j++) {
      if ((seen[order[j]] > 0) != (j < cases[c].n_keep))
        fail_msg("top_p %a: candidate %d (token %d) drawn %d times, %d kept",
                 (double)cases[c].top_p, j, order[j], seen[order[j]], cases[c].n_keep);
    }
    assert_int_equal(seen[1] + seen[4], 0);
  }
}

/* The partial selection (top_k <= 128) and the radix sort (larger or no
 * top_k) give the same order: on rows whose finite logits are fewer than
 * k (the rest -Inf, weight 0), top_k = n_finite, 128, 129 and 0 draw the
 * same tokens; and records agree field by field between the two paths. */
static void test_sample_selection_matches_sort(void **state) {
  (void)state;
  lct_rng rg = lct_rng_new(31);
  for (int t = 0; t < 40; t++) {
    const int32_t n = (int32_t)lct_range(&rg, 200, 3000);
    const int32_t n_fin = (int32_t)lct_range(&rg, 1, 100);
    float *x = lct_alloc_f(n);
    for (int32_t i = 0; i < n; i++) x[i] = -INFINITY;
    for (int32_t i = 0; i < n_fin; i++) {
      /* few distinct values: many ties, the order's second key matters */
      x[lct_range(&rg, 0, n - 1)] = (float)lct_range(&rg, -4, 4) * 0.5f;
    }
    int32_t fin = 0;
    for (int32_t i = 0; i < n; i++) fin += x[i] != -INFINITY;
    const int32_t ks[4] = {fin, 128, 129, 0};
    for (int32_t pos = 0; pos < 50; pos++) {
      lc_token_record r[4];
      for (int k = 0; k < 4; k++) {
        lc_sampler_params sp = params(1.5f, ks[k], 0.9f, 5);
        r[k] = sample_ok(x, n, &sp, 8, pos);
      }
      for (int k = 1; k < 4; k++) assert_memory_equal(&r[0], &r[k], sizeof r[0]);
    }
    /* greedy (selection) and sampled top_k = 0 (sort): the same statistics */
    float *y = lct_randn(&rg, n, 1.0f);
    for (int32_t i = 0; i < n; i++) y[i] = (float)(int)(y[i] * 4.0f);
    lc_sampler_params g = params(0.0f, 0, 1.0f, 0), s = params(0.7f, 0, 1.0f, 1);
    lc_token_record a = sample_ok(y, n, &g, 0, 3), b = sample_ok(y, n, &s, 0, 3);
    assert_true(a.top1_prob == b.top1_prob && a.margin == b.margin);
    assert_memory_equal(a.top_ids, b.top_ids, sizeof a.top_ids);
    assert_memory_equal(a.top_logits, b.top_logits, sizeof a.top_logits);
    free(x);
    free(y);
  }
}

/* The record: top ids descending with ties by index, their logits, the
 * chosen token's logit and position, margin = first - second, top1_prob
 * within 1e-5 relative of a double softmax with libm exp (lc_expf is within
 * 2 ulp of exp per term, the float result adds one rounding); fewer than
 * LC_CAPTURE_TOP_K candidates fill with -1 and NaN. */
static void test_sample_record_fields(void **state) {
  (void)state;
  const float x[12] = {0.5f, 3.0f, -1.0f, 3.0f, 2.5f, 0.0f, -0.0f, 7.0f, 1.0f, 2.5f, -9.0f, 0.25f};
  const int32_t want_ids[8] = {7, 1, 3, 4, 9, 8, 0, 11};
  lc_sampler_params sp = params(0.9f, 5, 0.95f, 17);
  lc_token_record r = sample_ok(x, 12, &sp, 4, 33);
  assert_memory_equal(r.top_ids, want_ids, sizeof want_ids);
  for (int j = 0; j < 8; j++) assert_true(r.top_logits[j] == x[want_ids[j]]);
  assert_int_equal(r.pos, 33);
  assert_true(lc_f32_bits(r.logit) == lc_f32_bits(x[r.token]));
  assert_true(r.margin == 4.0f);
  double s = 0.0;
  for (int i = 0; i < 12; i++) s += exp((double)x[i] - 7.0);
  assert_true(fabs(r.top1_prob - 1.0 / s) <= 1e-5 / s);
  /* vocab below LC_CAPTURE_TOP_K */
  const float y[3] = {1.0f, 2.0f, 1.0f};
  r = sample_ok(y, 3, &sp, 4, 0);
  assert_int_equal(r.top_ids[0], 1);
  assert_int_equal(r.top_ids[1], 0);
  assert_int_equal(r.top_ids[2], 2);
  for (int j = 3; j < 8; j++) assert_true(r.top_ids[j] == -1 && isnan(r.top_logits[j]));
  assert_true(r.margin == 1.0f);
  const float one[1] = {-2.0f};
  r = sample_ok(one, 1, &sp, 4, 0);
  assert_true(r.top1_prob == 1.0f && isinf(r.margin) && r.margin > 0);
  /* +Inf logits: among them only, each weighs 1; margin 0 between two Infs */
  const float inf[4] = {1.0f, INFINITY, 0.0f, INFINITY};
  lc_sampler_params hot = params(2.0f, 0, 1.0f, 3);
  int seen[4] = {0};
  for (int32_t pos = 0; pos < 200; pos++) {
    r = sample_ok(inf, 4, &hot, 0, pos);
    seen[r.token]++;
    assert_true(r.top1_prob == 0.5f && r.margin == 0.0f);
  }
  assert_true(seen[0] == 0 && seen[2] == 0 && seen[1] > 50 && seen[3] > 50);
}

/* The same logits, parameters and keys give the same record every time
 * (memcmp); the token depends on seed, sequence id and position. */
static void test_sample_reproducible(void **state) {
  (void)state;
  lct_rng rg = lct_rng_new(41);
  const int32_t n = 32000;
  float *x = lct_randn(&rg, n, 1.0f);
  for (int k = 0; k < 3; k++) {
    lc_sampler_params sp = params(1.0f, k == 0 ? 0 : (k == 1 ? 40 : 1000), k == 2 ? 0.9f : 1.0f, 5);
    int differs_seed = 0, differs_seq = 0, differs_pos = 0;
    for (int32_t pos = 0; pos < 40; pos++) {
      lc_token_record a = sample_ok(x, n, &sp, 9, pos), b = sample_ok(x, n, &sp, 9, pos);
      assert_memory_equal(&a, &b, sizeof a);
      lc_sampler_params sp2 = sp;
      sp2.seed = 6;
      differs_seed += sample_ok(x, n, &sp2, 9, pos).token != a.token;
      differs_seq += sample_ok(x, n, &sp, 10, pos).token != a.token;
      differs_pos += sample_ok(x, n, &sp, 9, pos + 40).token != a.token;
    }
    assert_true(differs_seed > 20 && differs_seq > 20 && differs_pos > 20);
  }
  free(x);
}

/* Bad parameters: LC_ERR_INVALID_ARGUMENT with a message, *out untouched. */
static void test_sample_invalid_params(void **state) {
  (void)state;
  const float x[4] = {1, 2, 3, 4};
  lc_token_record r, keep;
  memset(&r, 0xAB, sizeof r);
  keep = r;
  lc_sampler_params ok = params(1.0f, 0, 1.0f, 0);
  const lc_sampler_params bad[] = {params(-0.5f, 0, 1.0f, 0),    params(NAN, 0, 1.0f, 0),
                                   params(INFINITY, 0, 1.0f, 0), params(1.0f, -1, 1.0f, 0),
                                   params(1.0f, 0, 0.0f, 0),     params(1.0f, 0, 1.0000001f, 0),
                                   params(1.0f, 0, NAN, 0),      params(0.0f, 0, -1.0f, 0)};
  for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
    assert_int_equal(lc_sample(x, 4, &bad[i], 0, 0, &r), LC_ERR_INVALID_ARGUMENT);
    assert_true(strlen(lc_last_error(NULL)) > 0);
  }
  assert_int_equal(lc_sample(NULL, 4, &ok, 0, 0, &r), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_sample(x, 4, NULL, 0, 0, &r), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_sample(x, 4, &ok, 0, 0, NULL), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_sample(x, 0, &ok, 0, 0, &r), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_sample(x, -3, &ok, 0, 0, &r), LC_ERR_INVALID_ARGUMENT);
  assert_memory_equal(&r, &keep, sizeof r);
  lc_sampler_params d;
  memset(&d, 0x5A, sizeof d);
  lc_sampler_params_default(&d);
  assert_true(d.temperature == 0.0f && d.top_k == 0 && d.top_p == 1.0f && d.seed == 0);
}

/* top1_prob is bitwise 1 / (the sum over the non-NaN logits, in index
 * order, in double, of lc_expf(l - lmax), or 1 where l == lmax): the
 * library computes the weights 8 at a time where the CPU has AVX2 and FMA,
 * and must give this scalar definition's bits.  The first candidates of
 * the selection (also 8 at a time there) equal those of the full sort.  Rows of many kinds and
 * lengths (not multiples of 8, past the 1024-weight blocks). */
static double ref_weight_sum(const float *l, int32_t n, float lmax) {
  double s = 0.0;
  for (int32_t i = 0; i < n; i++) {
    if (isnan(l[i])) continue;
    s += (double)(l[i] == lmax ? 1.0f : lc_expf(l[i] - lmax));
  }
  return s;
}

static void test_sample_top1_prob_bits(void **state) {
  (void)state;
  lct_rng rg = lct_rng_new(77);
  const lc_sampler_params greedy = params(0.0f, 0, 1.0f, 0), sorted = params(1.0f, 0, 1.0f, 9);
  const int32_t lens[] = {1, 7, 8, 9, 31, 1023, 1024, 1025, 3000, 151936};
  int rows = 0;
  for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
    const int32_t n = lens[li];
    float *x = lct_malloc((size_t)n * sizeof *x);
    for (int kind = 0; kind < 6; kind++) {
      for (int32_t i = 0; i < n; i++) {
        switch (kind) {
          case 0:
            x[i] = lct_normalf(&rg) * 3.0f;
            break; /* logits */
          case 1:
            x[i] = lct_uniformf(&rg, -200.0f, 0.0f);
            break; /* past the cut */
          case 2:
            x[i] = lct_any_finite(&rg);
            break; /* any finite */
          case 3:
            x[i] = lct_any_bits(&rg);
            break; /* NaN and Inf too */
          case 4:
            x[i] = (float)lct_range(&rg, -3, 3);
            break; /* ties with the max */
          default:
            x[i] = lct_uniformf(&rg, -104.5f, -103.5f);
            break; /* around -104 */
        }
      }
      if (kind == 5 && n > 1) x[n / 2] = 0.0f;
      lc_token_record r = sample_ok(x, n, &greedy, 0, 0);
      /* the selection (greedy: 8 at a time where AVX2 is) and the full sort
       * (sampling with top_k 0) rank the same first candidates */
      lc_token_record q = sample_ok(x, n, &sorted, 0, 0);
      if (memcmp(r.top_ids, q.top_ids, sizeof r.top_ids) != 0 ||
          memcmp(r.top_logits, q.top_logits, sizeof r.top_logits) != 0)
        fail_msg("vocab %d kind %d: the selection's first candidates differ from the sort's",
                 (int)n, kind);
      float lmax = -INFINITY;
      int any = 0;
      for (int32_t i = 0; i < n; i++)
        if (!isnan(x[i])) any = 1, lmax = x[i] > lmax ? x[i] : lmax;
      if (!any) continue;
      const float want = (float)(1.0 / ref_weight_sum(x, n, lmax));
      if (lc_f32_bits(r.top1_prob) != lc_f32_bits(want))
        fail_msg("vocab %d kind %d: top1_prob %a, the scalar definition %a", (int)n, kind,
                 (double)r.top1_prob, (double)want);
      rows++;
    }
    free(x);
  }
  printf(
      "top1_prob: %d rows bitwise equal to the scalar definition; first candidates equal to the "
      "sort's\n",
      rows);
}

/* A 128K vocabulary: time per call of greedy, top_k 40 and full-sort
 * sampling (printed; the sampler runs once per token per sequence). */
static void test_sample_large_vocab_timing(void **state) {
  (void)state;
  lct_rng rg = lct_rng_new(51);
  const int32_t n = 128256;
  float *x = lct_randn(&rg, n, 3.0f);
  const lc_sampler_params ps[3] = {params(0.0f, 0, 1.0f, 0), params(0.8f, 40, 0.95f, 1),
                                   params(0.8f, 0, 0.95f, 1)};
  const char *names[3] = {"greedy", "top_k 40 top_p 0.95", "top_k 0 top_p 0.95"};
  for (int k = 0; k < 3; k++) {
    const int reps = 20;
    double t0 = lct_now_s();
    for (int i = 0; i < reps; i++) {
      lc_token_record r = sample_ok(x, n, &ps[k], 0, i);
      assert_true(r.token >= 0 && r.token < n);
    }
    printf("  vocab %d, %s: %.3f ms per call\n", n, names[k], (lct_now_s() - t0) / reps * 1e3);
  }
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sample_philox_known_answers),
      cmocka_unit_test(test_sample_uniform_mapping),
      cmocka_unit_test(test_sample_greedy_ties),
      cmocka_unit_test(test_sample_nan_rules),
      cmocka_unit_test(test_sample_greedy_helper_agrees),
      cmocka_unit_test(test_sample_top_k1_is_greedy),
      cmocka_unit_test(test_sample_frequencies_match_target),
      cmocka_unit_test(test_sample_top_p_boundary),
      cmocka_unit_test(test_sample_selection_matches_sort),
      cmocka_unit_test(test_sample_record_fields),
      cmocka_unit_test(test_sample_reproducible),
      cmocka_unit_test(test_sample_invalid_params),
      cmocka_unit_test(test_sample_top1_prob_bits),
      cmocka_unit_test(test_sample_large_vocab_timing),
  };
  return LCT_RUN(tests);
}

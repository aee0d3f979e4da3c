/*
 * lib/verify_model.c — lc_verify_model: a batch of sequences through the
 * whole model (chunked prefill mixed with decode steps, teacher forced with
 * random tokens), in CPU <mode>, CPU reference and (with a GPU) CUDA <mode>,
 * where the mode under test is strict, fast or bf16.
 *
 *   GPU half  CUDA <mode> against CPU <mode>, bit for bit, per position: the
 *             logits and every layer's output (the layer hook);
 *   CPU half  CPU reference against CPU <mode>: ||ref - <mode>||_2 /
 *             ||<mode>||_2 of each position's logits within rtol (a stated,
 *             empirical bound: LC_VERIFY_MODEL_RTOL in the header says why,
 *             and LC_VERIFY_MODEL_RTOL_BF16 what bf16 needs instead).
 *
 * Below, "strict" (runs[CS]) is the mode under test.
 * Shapes: seqs [LC_VERIFY_MODEL_SEQS], each prompt_len + tokens tokens;
 * logits [n_seq][max_total][vocab] and hidden [n_layers+1][n_seq][max_total][dim]
 * per computation, host fp32.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layercast_model.h"
#include "lib/lc_internal.h"
#include "lib/rng.h"
#include "lib/verify_internal.h"

#define FN "lc_verify_model"
#define NSEQ LC_VERIFY_MODEL_SEQS
#define VM_MAX_TOKENS 4096 /* tokens and chunk limits */

enum { CS = LC_VERIFY_CS, CR = LC_VERIFY_CR, GS = LC_VERIFY_GS, N_CTX = LC_VERIFY_N_CTX };

static const int32_t prompt_lens[NSEQ] = {5, 23, 40};

typedef struct vm_seq {
  int32_t plen, total; /* prompt length, prompt + decode tokens */
  int32_t *tokens;     /* [total]: prompt then teacher-forced decode tokens */
} vm_seq;

typedef struct vm_run {
  float *logits; /* [n_seq][max_total][vocab] */
  float *hidden; /* [n_layers+1][n_seq][max_total][dim] */
} vm_run;

typedef struct vm_hook {
  const lc_batch_entry *e;
  int64_t ne;
  int32_t n_seq, max_total, dim;
  float *hidden;
} vm_hook;

static lc_status oom(const char *what) {
  return lc_verify_oom(FN, what);
}

static lc_status vcheck(const lc_context *c, lc_status st, const char *what) {
  return lc_verify_check(FN, c, st, what);
}

/* Copies each entry's rows of a layer's output to [layer][slot][pos]. */
static void vm_hook_fn(void *user, int32_t layer, const float *hidden, int64_t rows, int32_t dim) {
  vm_hook *h = user;
  int64_t row = 0;
  if (dim != h->dim) return;
  for (int64_t i = 0; i < h->ne; i++) {
    const lc_batch_entry *e = &h->e[i];
    if (row + e->n_tokens > rows) return;
    memcpy(h->hidden +
               (((size_t)layer * h->n_seq + (size_t)e->slot) * h->max_total + (size_t)e->pos) * dim,
           hidden + (size_t)row * dim, (size_t)e->n_tokens * dim * sizeof(float));
    row += e->n_tokens;
  }
}

/* Tokens a sequence feeds at `done` positions done: up to chunk of its
 * prompt, then one; 0 when finished.  Both the run and the report use it. */
static int32_t vm_step_len(const vm_seq *q, int32_t done, int32_t chunk) {
  if (done >= q->total) return 0;
  int32_t n = done < q->plen ? q->plen - done : 1;
  return n > chunk ? chunk : n;
}

/* The schedule: step by step, each unfinished sequence (slot = its index)
 * feeds up to `chunk` prompt tokens, then one token per step. */
static lc_status vm_run_ctx(lc_context *c, int32_t tp, const char *path, vm_seq *seqs,
                            int32_t n_seq, int32_t chunk, int32_t max_total, vm_run *out,
                            int32_t *vocab_out, int32_t *layers_out, int32_t *dim_out) {
  lc_model *m = NULL;
  lc_session *s = NULL;
  lc_batch_entry *e = lc_calloc((size_t)n_seq, sizeof *e);
  int32_t *done = lc_calloc((size_t)n_seq, sizeof *done);
  float *buf = NULL;
  lc_status st = LC_OK;
  if (!e || !done) {
    st = oom("the schedule");
    goto fail;
  }
  if ((st = vcheck(c, lc_model_load(c, path, NULL, &m), "loading the model"))) goto fail;
  lc_model_info mi;
  if ((st = vcheck(c, lc_model_get_info(m, &mi), "lc_model_get_info"))) goto fail;
  const int32_t vocab = mi.config.vocab_size, dim = mi.config.dim, L = mi.config.n_layers;
  *vocab_out = vocab, *layers_out = L, *dim_out = dim;
  for (int32_t i = 0; i < n_seq; i++)
    for (int32_t t = 0; t < seqs[i].total; t++)
      if (seqs[i].tokens[t] >= vocab) seqs[i].tokens[t] %= vocab;
  const size_t nl = (size_t)n_seq * max_total * vocab,
               nh = (size_t)(L + 1) * n_seq * max_total * dim;
  out->logits = lc_calloc(nl, sizeof(float));
  out->hidden = lc_calloc(nh, sizeof(float));
  buf = lc_malloc((size_t)n_seq * chunk * vocab * sizeof(float));
  if (!out->logits || !out->hidden || !buf) {
    st = oom("logits and layer outputs");
    goto fail;
  }
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = n_seq;
  sp.max_len = max_total;
  sp.max_tokens = n_seq * chunk;
  sp.tp = tp;
  if ((st = vcheck(c, lc_session_create(m, &sp, &s), "creating the session"))) goto fail;
  vm_hook h = {e, 0, n_seq, max_total, dim, out->hidden};
  if ((st = vcheck(c, lc_session_set_layer_hook(s, vm_hook_fn, &h), "lc_session_set_layer_hook")))
    goto fail;
  for (;;) {
    int64_t ne = 0;
    for (int32_t i = 0; i < n_seq; i++) {
      const int32_t n = vm_step_len(&seqs[i], done[i], chunk);
      if (n == 0) continue;
      e[ne].slot = i;
      e[ne].pos = done[i];
      e[ne].n_tokens = n;
      e[ne].tokens = seqs[i].tokens + done[i];
      ne++;
    }
    if (ne == 0) break;
    h.ne = ne;
    if ((st = vcheck(c, lc_session_forward(s, e, ne, 1, buf), "lc_session_forward"))) goto fail;
    int64_t row = 0;
    for (int64_t i = 0; i < ne; i++) {
      memcpy(out->logits + ((size_t)e[i].slot * max_total + (size_t)e[i].pos) * vocab,
             buf + (size_t)row * vocab, (size_t)e[i].n_tokens * vocab * sizeof(float));
      row += e[i].n_tokens;
      done[e[i].slot] += e[i].n_tokens;
    }
  }
fail:
  lc_session_free(s);
  lc_model_free(m);
  free(e), free(done), free(buf);
  return st;
}

/* Per sequence and step: CUDA vs CPU bits (logits, first layer), reference
 * vs strict normwise.  Fills rep's rows and summary from the three runs. */
static lc_status vm_compare(lc_verify_model_report *rep, const vm_seq *seqs, const vm_run *runs,
                            int gpu, int32_t max_total, int32_t vocab, int32_t L, int32_t dim) {
  int32_t n_rows = 0;
  for (int32_t i = 0; i < NSEQ; i++)
    for (int32_t p0 = 0; p0 < seqs[i].total; p0 += vm_step_len(&seqs[i], p0, rep->chunk)) n_rows++;
  rep->rows = lc_calloc((size_t)(n_rows > 0 ? n_rows : 1), sizeof *rep->rows);
  if (!rep->rows) return oom("the report's rows");
  rep->first_layer = rep->first_seq = rep->first_pos = -1;
  for (int32_t i = 0; i < NSEQ; i++) {
    for (int32_t p0 = 0; p0 < seqs[i].total;) {
      const int32_t n = vm_step_len(&seqs[i], p0, rep->chunk);
      lc_verify_model_row *row = &rep->rows[rep->n_rows++];
      row->seq = i;
      row->pos = p0;
      row->n_pos = n;
      row->prefill = p0 < seqs[i].plen;
      row->gpu_ran = gpu;
      row->first_layer = -1;
      double rel = 0.0;
      for (int32_t t = p0; t < p0 + n; t++) {
        const size_t off = ((size_t)i * max_total + (size_t)t) * vocab;
        if (gpu) {
          lc_compare_result cmp;
          LC_TRY(lc_compare_f32(runs[GS].logits + off, runs[CS].logits + off, vocab, &cmp));
          row->gpu_ndiff += vocab - cmp.n_bitwise_equal;
          for (int32_t l = 0; l <= L; l++) {
            const size_t ho = (((size_t)l * NSEQ + (size_t)i) * max_total + (size_t)t) * dim;
            if (memcmp(runs[GS].hidden + ho, runs[CS].hidden + ho, (size_t)dim * 4)) {
              if (row->first_layer < 0 || l < row->first_layer) row->first_layer = l;
              if (rep->first_layer < 0 || l < rep->first_layer)
                rep->first_layer = l, rep->first_seq = i, rep->first_pos = t;
              break;
            }
          }
        }
        double num = 0.0, den = 0.0;
        for (int32_t k = 0; k < vocab; k++) {
          const double d = (double)runs[CR].logits[off + k] - (double)runs[CS].logits[off + k];
          num += d * d;
          den += (double)runs[CS].logits[off + k] * (double)runs[CS].logits[off + k];
        }
        const double r = den > 0 ? sqrt(num / den) : sqrt(num);
        if (!(r <= rel)) rel = r;
      }
      if (gpu) row->gpu_n = (int64_t)n * vocab;
      row->rel = rel;
      if (!(rel <= rep->worst_rel)) rep->worst_rel = rel;
      row->fail = row->gpu_ndiff > 0 || row->first_layer >= 0 || !(rel <= rep->rtol);
      rep->n_fail += row->fail;
      rep->gpu_differs |= row->gpu_ndiff > 0 || row->first_layer >= 0;
      p0 += n;
    }
  }
  return LC_OK;
}

void lc_verify_model_params_default(lc_verify_model_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->model = NULL;
  p->tokens = 8;
  p->chunk = 16;
  p->seed = 1;
  p->rtol = LC_VERIFY_MODEL_RTOL;
  p->device = 0;
  p->require_gpu = 0;
  p->mode = LC_MODE_STRICT;
}

void lc_verify_model_report_free(lc_verify_model_report *r) {
  if (!r) return;
  free(r->rows);
  free(r);
}

lc_status lc_verify_model(const lc_verify_model_params *p, lc_verify_model_report **out) {
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, FN ": out is NULL");
  *out = NULL;
  if (!p || !p->model)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, FN ": %s is NULL", p ? "model" : "params");
  if (p->tokens < 0 || p->tokens > VM_MAX_TOKENS || p->chunk < 1 || p->chunk > VM_MAX_TOKENS)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   FN ": tokens = %d, chunk = %d; need 0 <= tokens <= %d, 1 <= chunk <= %d",
                   (int)p->tokens, (int)p->chunk, VM_MAX_TOKENS, VM_MAX_TOKENS);
  if (!(p->rtol > 0))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, FN ": rtol = %g is not positive", p->rtol);
  if (p->device < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, FN ": device = %d is negative", p->device);
  lc_verify_model_report *rep = lc_calloc(1, sizeof *rep);
  if (!rep) return oom("the report");
  rep->mode = p->mode;
  rep->tokens = p->tokens;
  rep->chunk = p->chunk;
  rep->rtol = p->rtol;
  vm_seq seqs[NSEQ];
  memset(seqs, 0, sizeof seqs);
  vm_run runs[N_CTX];
  memset(runs, 0, sizeof runs);
  lc_verify_ctx v;
  lc_status st = lc_verify_ctx_open(&v, p->mode, p->device, p->require_gpu, FN);
  if (st != LC_OK) {
    lc_verify_model_report_free(rep);
    return st;
  }
  rep->gpu = v.gpu;
  int32_t max_total = 0, vocab = 0, L = 0, dim = 0;
  uint64_t s = p->seed;
  for (int i = 0; i < NSEQ; i++) {
    seqs[i].plen = rep->prompt_len[i] = prompt_lens[i];
    seqs[i].total = prompt_lens[i] + p->tokens;
    if (seqs[i].total > max_total) max_total = seqs[i].total;
    seqs[i].tokens = lc_malloc((size_t)seqs[i].total * sizeof(int32_t));
    if (!seqs[i].tokens) {
      st = oom("the tokens");
      goto done;
    }
    for (int32_t t = 0; t < seqs[i].total; t++) /* reduced mod vocab on load */
      seqs[i].tokens[t] = (int32_t)(lc_splitmix64(&s) % 0x7fffffffu);
  }
  for (int ci = 0; ci < N_CTX && st == LC_OK; ci++) {
    if (!v.c[ci]) continue;
    st = vm_run_ctx(v.c[ci], ci == LC_VERIFY_CR ? 1 : p->tp, p->model, seqs, NSEQ, p->chunk,
                    max_total, &runs[ci], &vocab, &L, &dim);
  }
  rep->n_layers = L;
  rep->vocab = vocab;
  if (st == LC_OK) st = vm_compare(rep, seqs, runs, v.c[GS] != NULL, max_total, vocab, L, dim);
done:
  for (int i = 0; i < NSEQ; i++) free(seqs[i].tokens);
  for (int ci = 0; ci < N_CTX; ci++) free(runs[ci].logits), free(runs[ci].hidden);
  lc_verify_ctx_close(&v);
  if (st != LC_OK) {
    lc_verify_model_report_free(rep);
    return st;
  }
  *out = rep;
  return LC_OK;
}

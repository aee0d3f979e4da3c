/*
 * lib/records.c — run records (layercast_experiment.h; docs/metrics.md,
 * "Run records"): one JSON line per run, its cell, its setup, the
 * environment fingerprint and one entry per generated sequence.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/exp_internal.h"

struct lc_run_record {
  json_t *root;      /* the record */
  json_t *sequences; /* root["sequences"], borrowed */
};

void lc_run_record_free(lc_run_record *r) {
  if (!r) return;
  json_decref(r->root);
  free(r);
}

lc_status lc_run_record_create(const char *kind, const lc_context *ctx, const lc_run_setup *setup,
                               const lc_run_cell *cell, lc_run_record **out) {
  static const char fn[] = "lc_run_record_create";
  if (!out) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
  *out = NULL;
  if (!kind || !ctx || !setup || !cell)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
  char *fps = NULL;
  LC_TRY(lc_env_fingerprint_json(ctx, &fps));
  json_error_t je;
  json_t *fp = json_loads(fps, 0, &je);
  lc_string_free(fps);
  lc_run_record *r = lc_calloc(1, sizeof *r);
  json_t *o = json_object(), *c = json_object(), *seqs = json_array();
  int bad = !fp || !r || !o || !c || !seqs;
  if (!bad) {
    bad |= lc_json_put(c, "backend", json_string(lc_backend_name(lc_context_backend(ctx))));
    bad |= lc_json_put(c, "mode", json_string(lc_mode_name(lc_context_mode(ctx))));
    bad |= lc_json_put(c, "batch_size", json_integer(cell->batch_size));
    bad |= lc_json_put(c, "position", json_integer(cell->position));
    bad |= lc_json_put(c, "position_label",
                       json_string(cell->position_label ? cell->position_label : ""));
    bad |= lc_json_put(c, "repeat", json_integer(cell->repeat));
    bad |= lc_json_put(c, "tp", json_integer(cell->tp > 1 ? cell->tp : 1));
    bad |= lc_json_put(o, "record_version", json_integer(LC_RUN_RECORD_VERSION));
    bad |= lc_json_put(o, "kind", json_string(kind));
    bad |= lc_json_put(o, "cell", c);
    c = NULL;
    bad |= lc_json_put(o, "setup", lc_run_setup_json(setup));
    bad |= lc_json_put(o, "fingerprint", fp);
    fp = NULL;
    bad |= json_object_set(o, "sequences", seqs) != 0;
  }
  json_decref(fp);
  json_decref(c);
  json_decref(seqs); /* o holds its own reference */
  if (bad) {
    json_decref(o);
    free(r);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: building the record: out of memory", fn);
  }
  r->root = o;
  r->sequences = json_object_get(o, "sequences");
  *out = r;
  return LC_OK;
}

lc_status lc_hash_token_records(const lc_token_record *recs, int32_t n, char hex[LC_HASH_HEX_LEN]) {
  if ((!recs && n > 0) || n < 0 || !hex)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_hash_token_records: NULL or n < 0");
  enum { W = LC_CAPTURE_TOP_K + 2 }; /* per token: top-k logits, then the 64-bit hash */
  float *v = lc_malloc((size_t)(n > 0 ? n : 1) * W * sizeof *v);
  if (!v) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_hash_token_records: out of memory");
  for (int32_t i = 0; i < n; i++) {
    memcpy(v + (size_t)i * W, recs[i].top_logits, LC_CAPTURE_TOP_K * sizeof(float));
    uint32_t h[2] = {(uint32_t)recs[i].logits_hash, (uint32_t)(recs[i].logits_hash >> 32)};
    memcpy(v + (size_t)i * W + LC_CAPTURE_TOP_K, h, sizeof h);
  }
  lc_status st = lc_hash_f32_bits(v, (int64_t)n * W, hex);
  free(v);
  return st;
}

/* The per-token fields of records[0..n) as arrays, plus the logits hash. */
static int put_records(json_t *o, const lc_token_record *records, int32_t n, int full) {
  size_t cnt = (size_t)(n > 0 ? n : 1);
  float *lg = lc_malloc(cnt * sizeof *lg), *p1 = lc_malloc(cnt * sizeof *p1),
        *mg = lc_malloc(cnt * sizeof *mg);
  int bad = !lg || !p1 || !mg;
  for (int32_t i = 0; !bad && i < n; i++) {
    lg[i] = records[i].logit;
    p1[i] = records[i].top1_prob;
    mg[i] = records[i].margin;
  }
  char lh[LC_HASH_HEX_LEN];
  if (!bad) {
    bad |= lc_json_put(o, "logit", lc_json_f32_array(lg, n));
    bad |= lc_json_put(o, "top1_prob", lc_json_f32_array(p1, n));
    bad |= lc_json_put(o, "margin", lc_json_f32_array(mg, n));
    /* the bits of the top-k logits and of every whole logit vector */
    bad |= lc_hash_token_records(records, n, lh) != LC_OK ||
           lc_json_put(o, "logits_hash", json_string(lh));
  }
  if (!bad && full) {
    json_t *ids = json_array(), *lgs = json_array();
    bad |= lc_json_put(o, "top_ids", ids);
    bad |= lc_json_put(o, "top_logits", lgs);
    for (int32_t i = 0; !bad && i < n; i++) {
      bad |= json_array_append_new(ids, lc_json_i32_array(records[i].top_ids, LC_CAPTURE_TOP_K));
      bad |= json_array_append_new(lgs, lc_json_f32_array(records[i].top_logits, LC_CAPTURE_TOP_K));
    }
  }
  free(lg);
  free(p1);
  free(mg);
  return bad;
}

lc_status lc_run_record_add(lc_run_record *r, int32_t prompt_index, const lc_prompt *prompt,
                            const int32_t *tokens, int32_t n, const lc_token_record *records,
                            int full) {
  static const char fn[] = "lc_run_record_add";
  if (!r || !prompt || !prompt->tokens || n < 0 || (n > 0 && !tokens))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument or n < 0", fn);
  char ph[LC_HASH_HEX_LEN], th[LC_HASH_HEX_LEN];
  LC_TRY(lc_hash_tokens(prompt->tokens, prompt->n_tokens, ph));
  LC_TRY(lc_hash_tokens(tokens, n, th));
  json_t *o = json_object();
  int bad = !o;
  if (!bad) {
    bad |= lc_json_put(o, "prompt", json_integer(prompt_index));
    bad |= lc_json_put(o, "prompt_hash", json_string(ph));
    bad |= lc_json_put(o, "n_tokens", json_integer(n));
    bad |= lc_json_put(o, "tokens", lc_json_i32_array(tokens, n));
    bad |= lc_json_put(o, "tokens_hash", json_string(th));
  }
  if (!bad && records) bad = put_records(o, records, n, full);
  if (bad || json_array_append_new(r->sequences, o)) {
    if (bad) json_decref(o);
    return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  }
  return LC_OK;
}

lc_status lc_run_record_add_text(lc_run_record *r, const char *text, const lc_answer_score *score) {
  static const char fn[] = "lc_run_record_add_text";
  const size_t n = r ? json_array_size(r->sequences) : 0;
  if (!r || !text || n == 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument or no sequence yet", fn);
  json_t *o = json_array_get(r->sequences, n - 1);
  /* decoded text is valid UTF-8 (invalid bytes became U+FFFD) */
  int bad = lc_json_put(o, "text", json_string(text));
  if (!bad && score) {
    bad |=
        lc_json_put(o, "extracted", score->extracted ? json_string(score->extracted) : json_null());
    bad |= lc_json_put(o, "correct", json_boolean(score->correct));
  }
  return bad ? LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", fn) : LC_OK;
}

lc_status lc_run_record_json(const lc_run_record *r, char **json) {
  if (!r || !json) return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_run_record_json: NULL");
  *json = lc_json_line(r->root);
  return *json ? LC_OK : LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_run_record_json: out of memory");
}

lc_status lc_run_record_read_tokens(const char *path, int32_t index, int32_t prompt_index,
                                    int32_t **tokens, int32_t *n) {
  static const char fn[] = "lc_run_record_read_tokens";
  if (!path || !tokens || !n || index < 0)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "%s: NULL argument or a negative run", fn);
  *tokens = NULL;
  *n = 0;
  lc_rec_file rf;
  LC_TRY(lc_rec_file_read(path, 0, &rf));
  lc_status st = LC_OK;
  if (index >= rf.n) {
    st = LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE, "%s holds %lld runs; run %d asked for", path,
                 (long long)rf.n, (int)index);
  } else {
    const json_t *seqs = json_object_get(rf.v[index].json, "sequences");
    int found = 0;
    for (size_t i = 0; i < json_array_size(seqs) && !found; i++) {
      const json_t *q = json_array_get(seqs, i), *pr = json_object_get(q, "prompt");
      if (!json_is_integer(pr) || json_integer_value(pr) != prompt_index) continue;
      found = 1;
      int32_t k = lc_json_ids(json_object_get(q, "tokens"), tokens);
      if (k == -2)
        st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
      else if (k < 0)
        st = LC_FAIL(NULL, LC_ERR_FORMAT, "%s:%ld: prompt %d has no token list", path,
                     rf.v[index].lineno, (int)prompt_index);
      else
        *n = k;
    }
    if (!found)
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_RANGE, "%s: run %d has no sequence for prompt %d", path,
                   (int)index, (int)prompt_index);
  }
  lc_rec_file_free(&rf);
  return st;
}

/*
 * lib/sweep_summary.c — a sweep's summaries (lc_sweep_write_summary;
 * docs/metrics.md, "Sweep summaries"): summary.json (the grid, per group its
 * cells with their accuracy, its metrics and per-prompt metrics, and whether
 * groups of one mode on different backends agreed bitwise), summary.csv (one
 * row per group) and summary_prompts.csv (one row per group and prompt);
 * and the bitwise agreement of two groups (lc_sweep_groups_agree).
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/exp_internal.h"

static const char FN[] = "lc_sweep_write_summary";

int lc_sweep_groups_agree(const lc_sweep_result *res, int32_t a, int32_t b) {
  if (!res || a < 0 || b < 0 || a >= res->n_groups || b >= res->n_groups) return 0;
  const lc_sweep_group *A = &res->groups[a], *B = &res->groups[b];
  if (!A->available || !B->available || A->n_runs < 1 || B->n_runs < 1) return 0;
  const int32_t np = res->n_prompts;
  for (int32_t q = 0; q < np; q++) {
    const lc_sweep_output *ref = &A->out[q];
    for (int k = 0; k < 2; k++) {
      const lc_sweep_group *G = k ? B : A;
      for (int32_t r = 0; r < G->n_runs; r++) {
        const lc_sweep_output *o = &G->out[(size_t)r * np + q];
        if (strcmp(o->tokens_hash, ref->tokens_hash) || strcmp(o->logits_hash, ref->logits_hash))
          return 0;
      }
    }
  }
  return 1;
}

static json_t *group_json(const lc_sweep_group *G, const lc_sweep_result *res) {
  json_t *o = json_object(), *cells = json_array(), *prompts = json_array(), *m = json_object();
  int bad = !o || !cells || !prompts || !m;
  if (bad) {
    json_decref(cells);
    json_decref(prompts);
    json_decref(m);
    json_decref(o);
    return NULL;
  }
  bad |= lc_json_put(o, "backend", json_string(lc_backend_name(G->backend)));
  bad |= lc_json_put(o, "mode", json_string(lc_mode_name(G->mode)));
  bad |= lc_json_put(o, "available", json_boolean(G->available));
  if (!G->available) bad |= lc_json_put(o, "skip_reason", json_string(G->skip_reason));
  bad |= lc_json_put(o, "cells", cells);
  bad |= lc_json_put(o, "metrics", m);
  bad |= lc_json_put(o, "prompts", prompts);
  if (bad || !G->have_metrics) return bad ? (json_decref(o), NULL) : o;
  const int32_t np = res->n_prompts;
  for (int32_t r = 0; r < G->n_runs && !bad; r++) {
    json_t *c = json_object();
    int32_t answered = 0, right = 0;
    for (int32_t q = 0; q < np; q++) {
      const int8_t ok = G->correct[(size_t)r * np + q];
      answered += ok >= 0;
      right += ok > 0;
    }
    bad |= !c || lc_json_put(c, "batch_size", json_integer(G->cells[r].batch));
    bad |= !c || lc_json_put(c, "position", json_integer(G->cells[r].position));
    bad |= !c || lc_json_put(c, "position_label", json_string(G->cells[r].label));
    bad |= !c || lc_json_put(c, "repeat", json_integer(G->cells[r].repeat));
    bad |= !c || lc_json_put(c, "tp", json_integer(G->cells[r].tp));
    bad |= !c ||
           lc_json_put(c, "accuracy", answered ? json_real((double)right / answered) : json_null());
    bad |= json_array_append_new(cells, c) != 0;
  }
  const lc_group_metrics *g = &G->gm;
  bad |= lc_json_put(m, "runs", json_integer(g->n_runs));
  bad |= lc_json_put(m, "prompts", json_integer(g->n_prompts));
  bad |= lc_json_put(m, "unique_outputs_mean", json_real(g->unique_mean));
  bad |= lc_json_put(m, "unique_outputs_max", json_integer(g->unique_max));
  bad |= lc_json_put(m, "div_percent", json_real(g->div_percent));
  bad |= lc_json_put(m, "div_index_min", json_integer(g->div_index_min));
  bad |= lc_json_put(m, "div_index_mean", lc_json_real_or_null(g->div_index_mean));
  bad |= lc_json_put(m, "avg_std_top1_prob", lc_json_real_or_null(g->avg_std_top1));
  bad |= lc_json_put(m, "avg_std_output_length", lc_json_real_or_null(g->len_std_mean));
  bad |= lc_json_put(m, "acc_mean", lc_json_real_or_null(g->acc_mean));
  bad |= lc_json_put(m, "std_at_acc", lc_json_real_or_null(g->std_at_acc));
  for (int32_t q = 0; q < np && !bad; q++) {
    const lc_prompt_metrics *pm = &G->pm[q];
    json_t *j = json_object();
    bad |= !j || lc_json_put(j, "prompt", json_integer(q));
    bad |= !j || lc_json_put(j, "unique_outputs", json_integer(pm->n_unique));
    bad |= !j || lc_json_put(j, "div_index", json_integer(pm->div_index));
    bad |= !j || lc_json_put(j, "output_length_mean", json_real(pm->len_mean));
    bad |= !j || lc_json_put(j, "output_length_std", json_real(pm->len_std));
    bad |= !j || lc_json_put(j, "avg_std_top1_prob", lc_json_real_or_null(pm->avg_std_top1));
    bad |= !j || lc_json_put(j, "correct_runs",
                             pm->n_correct >= 0 ? json_integer(pm->n_correct) : json_null());
    bad |= json_array_append_new(prompts, j) != 0;
  }
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *summary_json(const lc_sweep_result *res, const lc_sweep_params *p) {
  json_t *root = json_object(), *groups = json_array(), *agree = json_array(),
         *grid = json_object(), *pl = json_array();
  int bad = !root || !groups || !agree || !grid || !pl;
  for (int32_t i = 0; i < p->n_positions && !bad; i++)
    bad |= json_array_append_new(pl, json_string(p->positions[i])) != 0;
  if (bad) {
    json_decref(root), json_decref(groups), json_decref(agree), json_decref(grid), json_decref(pl);
    return NULL;
  }
  bad |= lc_json_put(root, "record_version", json_integer(LC_RUN_RECORD_VERSION));
  bad |= lc_json_put(grid, "model", json_string(p->model));
  bad |= lc_json_put(grid, "prompts", json_integer(res->n_prompts));
  bad |= lc_json_put(grid, "max_new", json_integer(p->max_new));
  bad |= lc_json_put(grid, "batch_sizes", lc_json_i32_array(p->batch_sizes, p->n_batch_sizes));
  bad |= lc_json_put(grid, "positions", pl);
  bad |= lc_json_put(grid, "repeats", json_integer(p->repeats));
  bad |= lc_json_put(grid, "neighbours", json_string(p->random_neighbours ? "random" : "file"));
  bad |= lc_json_put(grid, "seconds", json_real(res->seconds));
  bad |= lc_json_put(root, "grid", grid);
  bad |= lc_json_put(root, "groups", groups);
  bad |= lc_json_put(root, "agreement", agree);
  for (int32_t g = 0; g < res->n_groups && !bad; g++)
    bad |= json_array_append_new(groups, group_json(&res->groups[g], res)) != 0;
  /* groups of one mode on different backends: did they agree bitwise? */
  for (int32_t a = 0; a < res->n_groups && !bad; a++)
    for (int32_t b = a + 1; b < res->n_groups && !bad; b++) {
      const lc_sweep_group *A = &res->groups[a], *B = &res->groups[b];
      if (A->mode != B->mode || !A->available || !B->available) continue;
      char n1[64], n2[64];
      snprintf(n1, sizeof n1, "%s/%s", lc_backend_name(A->backend), lc_mode_name(A->mode));
      snprintf(n2, sizeof n2, "%s/%s", lc_backend_name(B->backend), lc_mode_name(B->mode));
      bad |= json_array_append_new(agree,
                                   json_pack("{s:s, s:s, s:b}", "a", n1, "b", n2, "bitwise_equal",
                                             lc_sweep_groups_agree(res, a, b))) != 0;
    }
  if (bad) {
    json_decref(root);
    return NULL;
  }
  return root;
}

/* summary.csv (which 0) or summary_prompts.csv (which 1) into a memory file. */
static void write_csv(FILE *f, const lc_sweep_result *res, int which) {
  if (which == 0)
    fprintf(f,
            "backend,mode,runs,prompts,unique_outputs_mean,unique_outputs_max,div_percent,"
            "div_index_min,div_index_mean,avg_std_top1_prob,avg_std_output_length,acc_mean,"
            "std_at_acc\n");
  else
    fprintf(f,
            "backend,mode,prompt,unique_outputs,div_index,output_length_mean,"
            "output_length_std,avg_std_top1_prob,correct_runs\n");
  for (int32_t g = 0; g < res->n_groups; g++) {
    const lc_sweep_group *G = &res->groups[g];
    if (!G->have_metrics) continue;
    const lc_group_metrics *m = &G->gm;
    const char *be = lc_backend_name(G->backend), *mo = lc_mode_name(G->mode);
    if (which == 0) {
      fprintf(f, "%s,%s,%d,%d,%.6g,%d,%.6g,%d,", be, mo, (int)m->n_runs, (int)m->n_prompts,
              m->unique_mean, (int)m->unique_max, m->div_percent, (int)m->div_index_min);
      const double v[] = {m->div_index_mean, m->avg_std_top1, m->len_std_mean, m->acc_mean,
                          m->std_at_acc};
      for (int i = 0; i < 5; i++) {
        if (!isnan(v[i])) fprintf(f, "%.9g", v[i]);
        fputc(i < 4 ? ',' : '\n', f);
      }
      continue;
    }
    for (int32_t q = 0; q < res->n_prompts; q++) {
      const lc_prompt_metrics *pm = &G->pm[q];
      fprintf(f, "%s,%s,%d,%d,%d,%.9g,%.9g,", be, mo, (int)q, (int)pm->n_unique, (int)pm->div_index,
              pm->len_mean, pm->len_std);
      if (!isnan(pm->avg_std_top1)) fprintf(f, "%.9g", pm->avg_std_top1);
      fputc(',', f);
      if (pm->n_correct >= 0) fprintf(f, "%d", (int)pm->n_correct);
      fputc('\n', f);
    }
  }
}

/* The files lc_sweep_write_summary writes, all or none. */
static const char *const summary_names[3] = {"summary.json", "summary.csv", "summary_prompts.csv"};

void lc_sweep_summary_remove(const char *dir) {
  for (int i = 0; i < 3; i++) {
    char *path = lc_path_join(dir, summary_names[i]);
    if (path) remove(path);
    free(path);
  }
}

lc_status lc_sweep_write_summary(const lc_sweep_result *res, const lc_sweep_params *p,
                                 const char *dir) {
  if (!res || !p || !dir || !p->prompts || p->prompts->n != res->n_prompts)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "%s: need the result, the parameters it was run with and a directory", FN);
  LC_TRY(lc_dir_make(dir, FN));
  /* All three texts are built before any file is written; a failed write
   * removes the files this call wrote, so that the three always match. */
  char *text[3] = {NULL, NULL, NULL};
  size_t len[3] = {0, 0, 0};
  char *path[3] = {lc_path_join(dir, summary_names[0]), lc_path_join(dir, summary_names[1]),
                   lc_path_join(dir, summary_names[2])};
  lc_status st = LC_OK;
  if (!path[0] || !path[1] || !path[2])
    st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  json_t *root = st == LC_OK ? summary_json(res, p) : NULL;
  char *js =
      root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) : NULL;
  json_decref(root);
  if (js && st == LC_OK) {
    len[0] = strlen(js) + 1;
    text[0] = lc_realloc(js, len[0] + 1);
    if (text[0]) {
      text[0][len[0] - 1] = '\n';
      text[0][len[0]] = '\0';
    } else {
      free(js);
    }
  }
  if (!text[0] && st == LC_OK)
    st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: building summary.json", FN);
  for (int which = 0; which < 2 && st == LC_OK; which++) {
    FILE *f = open_memstream(&text[1 + which], &len[1 + which]);
    if (!f) {
      st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
      break;
    }
    write_csv(f, res, which);
    if (fclose(f) != 0) st = LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
  }
  int written = 0;
  while (st == LC_OK && written < 3) {
    st = lc_file_write_atomic(path[written], text[written], len[written], FN);
    written += st == LC_OK;
  }
  for (int i = 0; st != LC_OK && i < written; i++) remove(path[i]);
  for (int i = 0; i < 3; i++) {
    free(text[i]);
    free(path[i]);
  }
  return st;
}

/*
 * tools/cli_sweep.c — `layercast sweep`: the accuracy-variance study.
 *
 * Grid: backends x modes (a "group" each) x batch sizes x positions x
 * repeats (a "run" each).  In a run every prompt of the file is, in turn, the
 * target row at the cell's position of a batch of the cell's size (one target
 * per batch, so positions stay honest); the neighbours are the file's other
 * prompts, cycled from the target's successor, or random prompts from a seed.
 * Per group, each prompt's runs are compared with the metrics of
 * layercast_metrics.h (docs/metrics.md).
 *
 * Output directory: runs.jsonl (one run record per line), summary.json,
 * summary.csv (one row per group), summary_prompts.csv (one row per group and
 * prompt), div_index_<backend>-<mode>.svg and margins.svg.
 */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

/* ======================================================================== *
 *  The engine
 * ======================================================================== */

void sweep_result_free(sweep_result *res) {
  if (!res || !res->groups) return;
  for (int g = 0; g < res->n_groups; g++) {
    sweep_group *G = &res->groups[g];
    if (G->out)
      for (int64_t i = 0; i < (int64_t)G->n_runs * res->n_prompts; i++) {
        free(G->out[i].tokens);
        free(G->out[i].top1_prob);
        free(G->out[i].margin);
      }
    free(G->out);
    free(G->cells);
    free(G->pm);
  }
  free(res->groups);
  res->groups = NULL;
  res->n_groups = 0;
}

static int oom(const char *cmd) {
  fprintf(stderr, "layercast %s: out of memory\n", cmd);
  return 1;
}

/* The cells of one group: batch sizes x distinct resolved positions x repeats. */
static int make_cells(const char *cmd, const sweep_config *cfg, sweep_group *G) {
  int64_t cap = (int64_t)cfg->n_batch_sizes * cfg->n_positions * cfg->repeats;
  G->cells = calloc((size_t)(cap > 0 ? cap : 1), sizeof *G->cells);
  if (!G->cells) return oom(cmd);
  int32_t n = 0;
  for (int b = 0; b < cfg->n_batch_sizes; b++) {
    int32_t B = cfg->batch_sizes[b];
    for (int p = 0; p < cfg->n_positions; p++) {
      int32_t pos = cli_resolve_position(cfg->positions[p], B);
      if (pos < 0) {
        if (!cfg->quiet)
          fprintf(stderr,
                  "layercast %s: note: position '%s' does not exist in a batch of %d: "
                  "skipped\n",
                  cmd, cfg->positions[p], (int)B);
        continue;
      }
      int dup = 0; /* e.g. first and last of a batch of 1 */
      for (int32_t i = 0; i < n && !dup; i++)
        dup = G->cells[i].batch == B && G->cells[i].position == pos;
      if (dup) continue;
      for (int32_t r = 0; r < cfg->repeats; r++) {
        G->cells[n].batch = B;
        G->cells[n].position = pos;
        G->cells[n].repeat = r;
        G->cells[n].label = cfg->positions[p];
        n++;
      }
    }
  }
  G->n_runs = n;
  return 0;
}

/* Keeps one target's output in *o (copies). */
static int keep_output(const char *cmd, sweep_output *o, const int32_t *toks,
                       const lc_token_record *recs, int32_t n) {
  size_t k = (size_t)(n > 0 ? n : 1);
  o->tokens = malloc(k * sizeof *o->tokens);
  o->top1_prob = malloc(k * sizeof *o->top1_prob);
  o->margin = malloc(k * sizeof *o->margin);
  if (!o->tokens || !o->top1_prob || !o->margin) return oom(cmd);
  o->n = n;
  for (int32_t i = 0; i < n; i++) {
    o->tokens[i] = toks[i];
    o->top1_prob[i] = recs[i].top1_prob;
    o->margin[i] = recs[i].margin;
  }
  lc_status st = lc_hash_tokens(toks, n, o->tokens_hash);
  if (st == LC_OK) st = cli_hash_records(recs, n, o->logits_hash);
  return st == LC_OK ? 0 : cli_fail(cmd, "hashing the outputs", st, NULL);
}

static int group_metrics(const char *cmd, const sweep_config *cfg, sweep_group *G, int32_t np) {
  if (G->n_runs < 1) return 0;
  G->pm = calloc((size_t)np, sizeof *G->pm);
  lc_run_output *ro = malloc((size_t)G->n_runs * sizeof *ro);
  uint8_t *correct = malloc((size_t)np * (size_t)G->n_runs);
  uint8_t *has = malloc((size_t)np);
  int any_answer = 0, rc = 0;
  if (!G->pm || !ro || !correct || !has) rc = oom(cmd);
  for (int32_t p = 0; p < np && !rc; p++) {
    const cli_prompt *pr = &cfg->prompts->v[p];
    has[p] = pr->answer != NULL;
    any_answer |= has[p];
    for (int32_t r = 0; r < G->n_runs; r++) {
      const sweep_output *o = &G->out[(size_t)r * np + p];
      ro[r].tokens = o->tokens;
      ro[r].n_tokens = o->n;
      ro[r].top1_prob = o->top1_prob;
      correct[(size_t)p * G->n_runs + r] =
          (uint8_t)(has[p] ? lc_answer_found(o->tokens, o->n, pr->answer, pr->n_answer) : 0);
    }
    lc_status st = lc_prompt_metrics_compute(ro, G->n_runs, pr->answer, pr->n_answer, &G->pm[p]);
    if (st != LC_OK) rc = cli_fail(cmd, "metrics", st, NULL);
  }
  if (!rc) {
    lc_status st =
        lc_group_metrics_compute(G->pm, np, G->n_runs, any_answer ? correct : NULL, has, &G->gm);
    if (st != LC_OK)
      rc = cli_fail(cmd, "metrics", st, NULL);
    else
      G->have_metrics = 1;
  }
  free(ro);
  free(correct);
  free(has);
  return rc;
}

/* Runs one group (backend, mode); writes its records to runs (may be NULL). */
static int run_group(const char *cmd, const sweep_config *cfg, sweep_group *G, FILE *runs,
                     cli_progress *prog, int64_t units_per_group) {
  const int32_t np = cfg->prompts->n;
  cli_model_opts mo;
  cli_model_opts_default(&mo);
  mo.model = cfg->model;
  mo.backend = G->backend;
  mo.mode = G->mode;
  mo.device = cfg->device;
  mo.threads = cfg->threads;
  lc_context *ctx = NULL;
  lc_model *model = NULL;
  int rc = cli_open(cmd, &mo, !cfg->strict_grid, &ctx, &model);
  if (rc == 3) {
    if (!cfg->quiet)
      fprintf(stderr, "layercast %s: note: %s/%s is not available here: skipped (%s)\n", cmd,
              lc_backend_name(G->backend), lc_mode_name(G->mode), lc_last_error(NULL));
    cli_progress_add(prog, units_per_group);
    return 0;
  }
  if (rc) return rc;
  G->available = 1;
  lc_session *sess = NULL;
  int32_t *toks = NULL;
  lc_token_record *recs = NULL;
  json_t *fp = NULL;
  lc_model_info info;
  lc_status st = lc_model_get_info(model, &info);
  if (st != LC_OK) {
    rc = cli_fail(cmd, "lc_model_get_info", st, ctx);
    goto done;
  }
  if ((rc = cli_check_vocab(cmd, cfg->prompts, info.config.vocab_size))) goto done;
  if ((rc = make_cells(cmd, cfg, G))) goto done;
  G->out = calloc((size_t)(G->n_runs > 0 ? G->n_runs : 1) * (size_t)np, sizeof *G->out);
  size_t kn = (size_t)(cfg->max_new > 0 ? cfg->max_new : 1);
  toks = malloc(kn * sizeof *toks);
  recs = malloc(kn * sizeof *recs);
  if (!G->out || !toks || !recs) {
    rc = oom(cmd);
    goto done;
  }
  if (runs && !(fp = cli_fingerprint(cmd, ctx))) {
    rc = 1;
    goto done;
  }
  int32_t max_prompt = 0;
  for (int32_t p = 0; p < np; p++) {
    int32_t need =
        cfg->random_neighbours ? cli_neighbour_max_len(cfg->prompts->v[p].n) : cfg->prompts->v[p].n;
    if (need > max_prompt) max_prompt = need;
  }
  int64_t done_units = 0;
  int32_t cur_b = -1;
  for (int32_t r = 0; r < G->n_runs && !rc; r++) {
    const sweep_cell *c = &G->cells[r];
    if (c->batch != cur_b) { /* one session per batch size */
      lc_session_free(sess);
      sess = NULL;
      if ((rc = cli_session_for(cmd, model, c->batch, max_prompt, cfg->max_new,
                                cfg->gen.prefill_chunk, cfg->kv_dtype, &sess)))
        break;
      cur_b = c->batch;
    }
    json_t *rec = NULL;
    if (runs && !(rec = cli_record_new(cmd, "sweep", ctx, cfg->model, c->batch, c->position,
                                       c->label, c->repeat, &cfg->gen, cfg->max_new, cfg->kv_dtype,
                                       cfg->random_neighbours ? "random" : "file",
                                       cfg->neighbour_seed, fp))) {
      rc = 1;
      break;
    }
    for (int32_t p = 0; p < np && !rc; p++) {
      cli_target_run tr;
      memset(&tr, 0, sizeof tr);
      tr.session = sess;
      tr.target = &cfg->prompts->v[p];
      tr.target_index = p;
      tr.pool = cfg->random_neighbours ? NULL : cfg->prompts;
      tr.neighbour_seed = cfg->neighbour_seed;
      tr.vocab = info.config.vocab_size;
      tr.batch = c->batch;
      tr.position = c->position;
      tr.max_new = cfg->max_new;
      tr.stop_token = cfg->stop_token;
      /* a repeat is the same computation again (same sampler seed too):
       * any difference between repeats is run-to-run nondeterminism */
      tr.gen = cfg->gen;
      int32_t n = 0;
      if ((rc = cli_run_target(cmd, &tr, toks, recs, &n))) break;
      if ((rc = keep_output(cmd, &G->out[(size_t)r * np + p], toks, recs, n))) break;
      if (rec) {
        json_t *s = cli_record_sequence(p, tr.target->tokens, tr.target->n, toks, n, recs, 0);
        if (!s || json_array_append_new(json_object_get(rec, "sequences"), s)) rc = oom(cmd);
      }
      cli_progress_add(prog, 1);
      done_units++;
    }
    if (!rc && rec) rc = cli_json_write_line(cmd, runs, rec);
    json_decref(rec);
  }
  if (!rc) cli_progress_add(prog, units_per_group - done_units);
  if (!rc) rc = group_metrics(cmd, cfg, G, np);
done:
  json_decref(fp);
  free(toks);
  free(recs);
  lc_session_free(sess);
  cli_close(ctx, model);
  return rc;
}

int sweep_groups_agree(const sweep_result *res, int a, int b) {
  const sweep_group *A = &res->groups[a], *B = &res->groups[b];
  if (!A->available || !B->available || A->n_runs < 1 || B->n_runs < 1) return 0;
  const int32_t np = res->n_prompts;
  for (int32_t p = 0; p < np; p++) {
    const sweep_output *ref = &A->out[p];
    for (int g = 0; g < 2; g++) {
      const sweep_group *G = g ? B : A;
      for (int32_t r = 0; r < G->n_runs; r++) {
        const sweep_output *o = &G->out[(size_t)r * np + p];
        if (strcmp(o->tokens_hash, ref->tokens_hash) || strcmp(o->logits_hash, ref->logits_hash))
          return 0;
      }
    }
  }
  return 1;
}

int sweep_run(const char *cmd, const sweep_config *cfg, sweep_result *res) {
  memset(res, 0, sizeof *res);
  res->n_prompts = cfg->prompts->n;
  res->n_groups = cfg->n_backends * cfg->n_modes;
  res->groups = calloc((size_t)res->n_groups, sizeof *res->groups);
  if (!res->groups) return oom(cmd);
  for (int b = 0; b < cfg->n_backends; b++)
    for (int m = 0; m < cfg->n_modes; m++) {
      sweep_group *G = &res->groups[b * cfg->n_modes + m];
      if (lc_backend_from_name(cfg->backends[b], &G->backend) != LC_OK)
        return cli_usage_error(cmd, "unknown backend '%s' (cpu, cuda)", cfg->backends[b]);
      if (lc_mode_from_name(cfg->modes[m], &G->mode) != LC_OK)
        return cli_usage_error(
            cmd, "unknown mode '%s' (strict, reference, vendor-bf16, vendor-fp32)", cfg->modes[m]);
    }
  FILE *runs = NULL;
  char *runs_path = NULL, *runs_tmp = NULL;
  if (cfg->out_dir) {
    if (cli_mkdir(cmd, cfg->out_dir)) return 1;
    runs_path = cli_path_join(cfg->out_dir, "runs.jsonl");
    runs_tmp = cli_path_join(cfg->out_dir, "runs.jsonl.tmp");
    if (!runs_path || !runs_tmp || !(runs = fopen(runs_tmp, "w"))) {
      fprintf(stderr, "layercast %s: cannot write '%s'\n", cmd, runs_tmp ? runs_tmp : "runs");
      free(runs_path);
      free(runs_tmp);
      return 1;
    }
  }
  int64_t per_group =
      (int64_t)cfg->n_batch_sizes * cfg->n_positions * cfg->repeats * cfg->prompts->n;
  cli_progress prog;
  cli_progress_start(&prog, "sweep", per_group * res->n_groups, cfg->progress);
  double t0 = cli_now_s();
  int rc = 0;
  for (int g = 0; g < res->n_groups && !rc; g++)
    rc = run_group(cmd, cfg, &res->groups[g], runs, &prog, per_group);
  cli_progress_end(&prog);
  res->seconds = cli_now_s() - t0;
  if (runs) {
    if (fclose(runs) != 0 && !rc) {
      fprintf(stderr, "layercast %s: writing '%s' failed\n", cmd, runs_tmp);
      rc = 1;
    }
    if (!rc && rename(runs_tmp, runs_path) != 0) {
      fprintf(stderr, "layercast %s: cannot rename '%s'\n", cmd, runs_tmp);
      rc = 1;
    }
    if (rc) remove(runs_tmp);
  }
  free(runs_path);
  free(runs_tmp);
  return rc;
}

static void fmt_num(char *buf, size_t n, double x, const char *f) {
  if (isnan(x))
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, f, x);
}

void sweep_print_table(FILE *f, const sweep_result *res) {
  fprintf(f, "%-5s %-12s %5s %7s %9s %6s %8s %9s %13s %9s %8s\n", "back", "mode", "runs", "prompts",
          "uniq mean", "max", "Div_%", "Div_Index", "Avg_Std@top1", "Std@len", "Std@Acc");
  for (int g = 0; g < res->n_groups; g++) {
    const sweep_group *G = &res->groups[g];
    if (!G->available || !G->have_metrics) {
      fprintf(f, "%-5s %-12s %s\n", lc_backend_name(G->backend), lc_mode_name(G->mode),
              G->available ? "(no runs)" : "(not available: skipped)");
      continue;
    }
    const lc_group_metrics *m = &G->gm;
    char di[32], a1[32], sa[32];
    if (m->div_index_min < 0)
      snprintf(di, sizeof di, "none");
    else
      snprintf(di, sizeof di, "%d", (int)m->div_index_min);
    fmt_num(a1, sizeof a1, m->avg_std_top1, "%.3g");
    fmt_num(sa, sizeof sa, m->std_at_acc, "%.4f");
    fprintf(f, "%-5s %-12s %5d %7d %9.2f %6d %7.1f%% %9s %13s %9.3g %8s\n",
            lc_backend_name(G->backend), lc_mode_name(G->mode), (int)m->n_runs, (int)m->n_prompts,
            m->unique_mean, (int)m->unique_max, m->div_percent, di, a1, m->len_std_mean, sa);
  }
}

/* ======================================================================== *
 *  Output files
 * ======================================================================== */

static json_t *group_json(const sweep_group *G, const sweep_result *res, const cli_prompts *ps) {
  json_t *o = json_object(), *cells = json_array(), *prompts = json_array(), *m = json_object();
  if (!o || !cells || !prompts || !m) {
    json_decref(o);
    json_decref(cells);
    json_decref(prompts);
    json_decref(m);
    return NULL;
  }
  json_object_set_new(o, "backend", json_string(lc_backend_name(G->backend)));
  json_object_set_new(o, "mode", json_string(lc_mode_name(G->mode)));
  json_object_set_new(o, "available", json_boolean(G->available));
  json_object_set_new(o, "cells", cells);
  json_object_set_new(o, "metrics", m);
  json_object_set_new(o, "prompts", prompts);
  if (!G->have_metrics) return o;
  const int32_t np = res->n_prompts;
  for (int32_t r = 0; r < G->n_runs; r++) {
    json_t *c = json_object();
    json_object_set_new(c, "batch_size", json_integer(G->cells[r].batch));
    json_object_set_new(c, "position", json_integer(G->cells[r].position));
    json_object_set_new(c, "position_label", json_string(G->cells[r].label));
    json_object_set_new(c, "repeat", json_integer(G->cells[r].repeat));
    int32_t answered = 0, right = 0;
    for (int32_t p = 0; p < np; p++)
      if (ps->v[p].answer) {
        const sweep_output *out = &G->out[(size_t)r * np + p];
        answered++;
        right += lc_answer_found(out->tokens, out->n, ps->v[p].answer, ps->v[p].n_answer);
      }
    json_object_set_new(c, "accuracy",
                        answered ? json_real((double)right / answered) : json_null());
    json_array_append_new(cells, c);
  }
  const lc_group_metrics *g = &G->gm;
  json_object_set_new(m, "runs", json_integer(g->n_runs));
  json_object_set_new(m, "prompts", json_integer(g->n_prompts));
  json_object_set_new(m, "unique_outputs_mean", json_real(g->unique_mean));
  json_object_set_new(m, "unique_outputs_max", json_integer(g->unique_max));
  json_object_set_new(m, "div_percent", json_real(g->div_percent));
  json_object_set_new(m, "div_index_min", json_integer(g->div_index_min));
  json_object_set_new(m, "div_index_mean", cli_json_real(g->div_index_mean));
  json_object_set_new(m, "avg_std_top1_prob", cli_json_real(g->avg_std_top1));
  json_object_set_new(m, "avg_std_output_length", cli_json_real(g->len_std_mean));
  json_object_set_new(m, "acc_mean", cli_json_real(g->acc_mean));
  json_object_set_new(m, "std_at_acc", cli_json_real(g->std_at_acc));
  for (int32_t p = 0; p < np; p++) {
    const lc_prompt_metrics *pm = &G->pm[p];
    json_t *j = json_object();
    json_object_set_new(j, "prompt", json_integer(p));
    json_object_set_new(j, "unique_outputs", json_integer(pm->n_unique));
    json_object_set_new(j, "div_index", json_integer(pm->div_index));
    json_object_set_new(j, "output_length_mean", json_real(pm->len_mean));
    json_object_set_new(j, "output_length_std", json_real(pm->len_std));
    json_object_set_new(j, "avg_std_top1_prob", cli_json_real(pm->avg_std_top1));
    json_object_set_new(j, "correct_runs",
                        pm->n_correct >= 0 ? json_integer(pm->n_correct) : json_null());
    json_array_append_new(prompts, j);
  }
  return o;
}

/* A histogram panel at (x, y) of size w x h. */
static void svg_panel(FILE *f, double x, double y, double w, double h, const char *title,
                      const int64_t *counts, int nbins, double lo, double hi, const char *xlabel) {
  int64_t mx = 1;
  for (int i = 0; i < nbins; i++)
    if (counts[i] > mx) mx = counts[i];
  const double L = 55, R = 15, T = 28, Bm = 38;
  double pw = w - L - R, ph = h - T - Bm;
  fprintf(f, "<g transform=\"translate(%.1f,%.1f)\">\n", x, y);
  fprintf(f, "<text x=\"%.1f\" y=\"18\" font-size=\"14\" text-anchor=\"middle\">%s</text>\n", w / 2,
          title);
  fprintf(f,
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n"
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
          L, T + ph, L + pw, T + ph, L, T, L, T + ph);
  double bw = pw / nbins;
  for (int i = 0; i < nbins; i++) {
    double bh = ph * (double)counts[i] / (double)mx;
    if (counts[i] > 0)
      fprintf(f,
              "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#4878a8\" "
              "stroke=\"white\" stroke-width=\"0.5\"><title>[%.4g, %.4g): %lld</title></rect>\n",
              L + i * bw, T + ph - bh, bw, bh, lo + (hi - lo) * i / nbins,
              lo + (hi - lo) * (i + 1) / nbins, (long long)counts[i]);
  }
  for (int t = 0; t <= 4; t++) { /* x ticks */
    double v = lo + (hi - lo) * t / 4.0;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%.3g</text>\n",
            L + pw * t / 4.0, T + ph + 14, v);
  }
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%lld</text>\n",
          L - 4, T + 8, (long long)mx);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">0</text>\n", L - 4,
          T + ph);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
          L + pw / 2, h - 6, xlabel);
  fprintf(f, "</g>\n");
}

static int svg_write(const char *cmd, const char *path, double w, double h,
                     void (*body)(FILE *, const void *), const void *arg) {
  char *tmp = malloc(strlen(path) + 5);
  if (!tmp) return oom(cmd);
  sprintf(tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  int ok = f != NULL;
  if (ok) {
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            w, h, w, h);
    body(f, arg);
    fprintf(f, "</svg>\n");
    if (ferror(f)) ok = 0;
    if (fclose(f) != 0) ok = 0;
  }
  if (ok && rename(tmp, path) != 0) ok = 0;
  if (!ok) {
    fprintf(stderr, "layercast %s: cannot write '%s'\n", cmd, path);
    remove(tmp);
  }
  free(tmp);
  return ok ? 0 : 1;
}

typedef struct div_arg {
  const sweep_group *G;
  int32_t np, max_new;
} div_arg;

static void div_body(FILE *f, const void *va) {
  const div_arg *a = va;
  int nb = a->max_new <= 64 ? (a->max_new > 0 ? a->max_new : 1) : 32;
  int64_t counts[64] = {0};
  int32_t none = 0;
  for (int32_t p = 0; p < a->np; p++) {
    int32_t d = a->G->pm[p].div_index;
    if (d < 0) {
      none++;
      continue;
    }
    int b = (int)((int64_t)d * nb / (a->max_new > 0 ? a->max_new : 1));
    counts[b < nb ? b : nb - 1]++;
  }
  char title[200];
  snprintf(title, sizeof title, "Div_Index per prompt, %s %s (%d of %d prompts never diverge)",
           lc_backend_name(a->G->backend), lc_mode_name(a->G->mode), (int)none, (int)a->np);
  svg_panel(f, 0, 0, 640, 320, title, counts, nb, 0, a->max_new, "first divergent token index");
}

typedef struct margin_arg {
  const sweep_result *res;
} margin_arg;

static void margin_body(FILE *f, const void *va) {
  const sweep_result *res = ((const margin_arg *)va)->res;
  double hi = 0.0;
  for (int g = 0; g < res->n_groups; g++) {
    const sweep_group *G = &res->groups[g];
    if (!G->available) continue;
    for (int64_t i = 0; i < (int64_t)G->n_runs * res->n_prompts; i++)
      for (int32_t t = 0; t < G->out[i].n; t++)
        if (isfinite(G->out[i].margin[t]) && G->out[i].margin[t] > hi) hi = G->out[i].margin[t];
  }
  if (hi <= 0.0) hi = 1.0;
  enum { NB = 40 };
  int row = 0;
  for (int g = 0; g < res->n_groups; g++) {
    const sweep_group *G = &res->groups[g];
    if (!G->available) continue;
    int64_t counts[NB] = {0};
    for (int64_t i = 0; i < (int64_t)G->n_runs * res->n_prompts; i++)
      for (int32_t t = 0; t < G->out[i].n; t++) {
        double v = G->out[i].margin[t];
        if (!isfinite(v) || v < 0) continue;
        int b = (int)(v / hi * NB);
        counts[b < NB ? b : NB - 1]++;
      }
    char title[160];
    snprintf(title, sizeof title, "top-1 minus top-2 logit, every generated token: %s %s",
             lc_backend_name(G->backend), lc_mode_name(G->mode));
    svg_panel(f, 0, row * 300.0, 640, 300, title, counts, NB, 0, hi, "margin (logits)");
    row++;
  }
}

static int write_outputs(const char *cmd, const sweep_config *cfg, const sweep_result *res) {
  int rc = 0;
  json_t *root = json_object(), *groups = json_array(), *agree = json_array(),
         *grid = json_object();
  if (!root || !groups || !agree || !grid) {
    json_decref(root);
    json_decref(groups);
    json_decref(agree);
    json_decref(grid);
    return oom(cmd);
  }
  json_object_set_new(root, "record_version", json_integer(LC_RUN_RECORD_VERSION));
  json_object_set_new(grid, "model", json_string(cfg->model));
  json_object_set_new(grid, "prompts", json_integer(res->n_prompts));
  json_object_set_new(grid, "max_new", json_integer(cfg->max_new));
  json_object_set_new(grid, "batch_sizes",
                      cli_json_i32_array(cfg->batch_sizes, cfg->n_batch_sizes));
  json_t *pl = json_array();
  for (int i = 0; i < cfg->n_positions; i++)
    json_array_append_new(pl, json_string(cfg->positions[i]));
  json_object_set_new(grid, "positions", pl);
  json_object_set_new(grid, "repeats", json_integer(cfg->repeats));
  json_object_set_new(grid, "neighbours", json_string(cfg->random_neighbours ? "random" : "file"));
  json_object_set_new(grid, "seconds", json_real(res->seconds));
  json_object_set_new(root, "grid", grid);
  json_object_set_new(root, "groups", groups);
  json_object_set_new(root, "agreement", agree);
  for (int g = 0; g < res->n_groups; g++) {
    json_t *j = group_json(&res->groups[g], res, cfg->prompts);
    if (!j || json_array_append_new(groups, j)) rc = oom(cmd);
  }
  /* groups of one mode on different backends: did they agree bitwise? */
  for (int a = 0; a < res->n_groups; a++)
    for (int b = a + 1; b < res->n_groups; b++) {
      const sweep_group *A = &res->groups[a], *B = &res->groups[b];
      if (A->mode != B->mode || !A->available || !B->available) continue;
      json_t *j = json_object();
      char n1[64], n2[64];
      snprintf(n1, sizeof n1, "%s/%s", lc_backend_name(A->backend), lc_mode_name(A->mode));
      snprintf(n2, sizeof n2, "%s/%s", lc_backend_name(B->backend), lc_mode_name(B->mode));
      json_object_set_new(j, "a", json_string(n1));
      json_object_set_new(j, "b", json_string(n2));
      json_object_set_new(j, "bitwise_equal", json_boolean(sweep_groups_agree(res, a, b)));
      json_array_append_new(agree, j);
    }
  char *path = cli_path_join(cfg->out_dir, "summary.json");
  if (!rc) rc = path ? cli_json_write_file(cmd, path, root) : oom(cmd);
  free(path);
  json_decref(root);

  /* summary.csv and summary_prompts.csv, built in memory then written atomically */
  for (int which = 0; which < 2 && !rc; which++) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return oom(cmd);
    if (which == 0)
      fprintf(f,
              "backend,mode,runs,prompts,unique_outputs_mean,unique_outputs_max,div_percent,"
              "div_index_min,div_index_mean,avg_std_top1_prob,avg_std_output_length,acc_mean,"
              "std_at_acc\n");
    else
      fprintf(f,
              "backend,mode,prompt,unique_outputs,div_index,output_length_mean,"
              "output_length_std,avg_std_top1_prob,correct_runs\n");
    for (int g = 0; g < res->n_groups; g++) {
      const sweep_group *G = &res->groups[g];
      if (!G->have_metrics) continue;
      const lc_group_metrics *m = &G->gm;
      if (which == 0) {
        fprintf(f, "%s,%s,%d,%d,%.6g,%d,%.6g,%d,", lc_backend_name(G->backend),
                lc_mode_name(G->mode), (int)m->n_runs, (int)m->n_prompts, m->unique_mean,
                (int)m->unique_max, m->div_percent, (int)m->div_index_min);
        const double v[] = {m->div_index_mean, m->avg_std_top1, m->len_std_mean, m->acc_mean,
                            m->std_at_acc};
        for (int i = 0; i < 5; i++) {
          if (!isnan(v[i])) fprintf(f, "%.9g", v[i]);
          fputc(i < 4 ? ',' : '\n', f);
        }
      } else {
        for (int32_t p = 0; p < res->n_prompts; p++) {
          const lc_prompt_metrics *pm = &G->pm[p];
          fprintf(f, "%s,%s,%d,%d,%d,%.9g,%.9g,", lc_backend_name(G->backend),
                  lc_mode_name(G->mode), (int)p, (int)pm->n_unique, (int)pm->div_index,
                  pm->len_mean, pm->len_std);
          if (!isnan(pm->avg_std_top1)) fprintf(f, "%.9g", pm->avg_std_top1);
          fputc(',', f);
          if (pm->n_correct >= 0) fprintf(f, "%d", (int)pm->n_correct);
          fputc('\n', f);
        }
      }
    }
    fclose(f);
    char *p = cli_path_join(cfg->out_dir, which == 0 ? "summary.csv" : "summary_prompts.csv");
    rc = p ? cli_write_file(cmd, p, buf, len) : oom(cmd);
    free(p);
    free(buf);
  }
  /* SVG plots */
  for (int g = 0; g < res->n_groups && !rc; g++) {
    const sweep_group *G = &res->groups[g];
    if (!G->have_metrics) continue;
    char name[96];
    snprintf(name, sizeof name, "div_index_%s-%s.svg", lc_backend_name(G->backend),
             lc_mode_name(G->mode));
    char *p = cli_path_join(cfg->out_dir, name);
    div_arg a = {G, res->n_prompts, cfg->max_new};
    rc = p ? svg_write(cmd, p, 640, 320, div_body, &a) : oom(cmd);
    free(p);
  }
  if (!rc) {
    int rows = 0;
    for (int g = 0; g < res->n_groups; g++) rows += res->groups[g].available;
    char *p = cli_path_join(cfg->out_dir, "margins.svg");
    margin_arg a = {res};
    rc = p ? svg_write(cmd, p, 640, 300.0 * (rows > 0 ? rows : 1), margin_body, &a) : oom(cmd);
    free(p);
  }
  return rc;
}

/* ======================================================================== *
 *  The subcommand
 * ======================================================================== */

static const char *const CMD = "sweep";

static void sweep_usage(FILE *f) {
  fprintf(f,
          "usage: layercast sweep --model PATH --prompts FILE.jsonl --out DIR [options]\n"
          "\n"
          "The accuracy-variance study: every prompt is run as the target row of batches of\n"
          "each size, at each position, in each mode and on each backend, repeats times;\n"
          "per backend and mode the runs of each prompt are compared (docs/metrics.md).\n"
          "\n"
          "  --model PATH          checkpoint (llama2.c .bin or Hugging Face directory)\n"
          "  --prompts FILE        JSONL: {\"tokens\": [ids...], \"answer\": [ids...]?} per line\n"
          "  --out DIR             runs.jsonl, summary.json, summary.csv, summary_prompts.csv,\n"
          "                        div_index_<backend>-<mode>.svg, margins.svg\n"
          "  --batch-sizes LIST    e.g. 1,8,32 (default 1,8,32)\n"
          "  --positions LIST      first,middle,last or numbers (default first,last); a number\n"
          "                        not below a batch size is skipped for that size\n"
          "  --modes LIST          strict,reference,vendor-bf16,vendor-fp32 (default\n"
          "                        strict,reference)\n"
          "  --backends LIST       cpu,cuda (default cpu)\n"
          "  --repeats R           runs per cell (default 1)\n"
          "  --max-new N           tokens per row (default 32)\n"
          "  --stop T              stop a row after token T (default: none)\n"
          "  --neighbours SRC      file (default): the other prompts of the file, cycled from\n"
          "                        the target's successor; random: random prompts\n"
          "  --neighbour-seed S    seed of the random neighbours (default 1)\n"
          "  --temperature X, --top-k K, --top-p P, --seed S   sampling (default greedy)\n"
          "  --prefill-chunk N     prompt tokens per step (default 0: whole prompts)\n"
          "  --kv-dtype T          f32 (default) | bf16\n"
          "  --device N, --threads N   CUDA device; OpenBLAS threads (reference)\n"
          "  --strict-grid         fail on an unavailable backend/mode instead of skipping it\n"
          "  --no-progress         no progress bar (it shows only on a terminal)\n"
          "  -h, --help            this text\n");
}

enum {
  S_MODEL = 256,
  S_PROMPTS,
  S_OUT,
  S_BATCH,
  S_POS,
  S_MODES,
  S_BACKENDS,
  S_REPEATS,
  S_MAXNEW,
  S_STOP,
  S_NEIGH,
  S_NSEED,
  S_TEMP,
  S_TOPK,
  S_TOPP,
  S_SEED,
  S_CHUNK,
  S_KV,
  S_DEVICE,
  S_THREADS,
  S_STRICT,
  S_NOPROG
};

int cmd_sweep(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, S_MODEL},
                                       {"prompts", required_argument, 0, S_PROMPTS},
                                       {"out", required_argument, 0, S_OUT},
                                       {"batch-sizes", required_argument, 0, S_BATCH},
                                       {"positions", required_argument, 0, S_POS},
                                       {"modes", required_argument, 0, S_MODES},
                                       {"backends", required_argument, 0, S_BACKENDS},
                                       {"repeats", required_argument, 0, S_REPEATS},
                                       {"max-new", required_argument, 0, S_MAXNEW},
                                       {"stop", required_argument, 0, S_STOP},
                                       {"neighbours", required_argument, 0, S_NEIGH},
                                       {"neighbors", required_argument, 0, S_NEIGH},
                                       {"neighbour-seed", required_argument, 0, S_NSEED},
                                       {"temperature", required_argument, 0, S_TEMP},
                                       {"top-k", required_argument, 0, S_TOPK},
                                       {"top-p", required_argument, 0, S_TOPP},
                                       {"seed", required_argument, 0, S_SEED},
                                       {"prefill-chunk", required_argument, 0, S_CHUNK},
                                       {"kv-dtype", required_argument, 0, S_KV},
                                       {"device", required_argument, 0, S_DEVICE},
                                       {"threads", required_argument, 0, S_THREADS},
                                       {"strict-grid", no_argument, 0, S_STRICT},
                                       {"no-progress", no_argument, 0, S_NOPROG},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  sweep_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.repeats = 1;
  cfg.max_new = 32;
  cfg.stop_token = -1;
  cfg.neighbour_seed = 1;
  cfg.threads = 1;
  cfg.progress = -1;
  cfg.kv_dtype = LC_DTYPE_F32;
  lc_sampler_params_default(&cfg.gen.sampler);
  const char *prompts_path = NULL, *bs = "1,8,32", *pos = "first,last", *modes = "strict,reference",
             *backends = "cpu";
  int rc = 0, c;
  optind = 1;
  while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'h':
        sweep_usage(stdout);
        return 0;
      case S_MODEL:
        cfg.model = optarg;
        break;
      case S_PROMPTS:
        prompts_path = optarg;
        break;
      case S_OUT:
        cfg.out_dir = optarg;
        break;
      case S_BATCH:
        bs = optarg;
        break;
      case S_POS:
        pos = optarg;
        break;
      case S_MODES:
        modes = optarg;
        break;
      case S_BACKENDS:
        backends = optarg;
        break;
      case S_REPEATS:
        rc = cli_parse_i32(CMD, "--repeats", optarg, 1, 1 << 20, &cfg.repeats);
        break;
      case S_MAXNEW:
        rc = cli_parse_i32(CMD, "--max-new", optarg, 0, 1 << 24, &cfg.max_new);
        break;
      case S_STOP:
        rc = cli_parse_i32(CMD, "--stop", optarg, -1, INT32_MAX, &cfg.stop_token);
        break;
      case S_NEIGH:
        if (!strcmp(optarg, "random"))
          cfg.random_neighbours = 1;
        else if (!strcmp(optarg, "file"))
          cfg.random_neighbours = 0;
        else
          rc = cli_usage_error(CMD, "--neighbours: expected file or random, got '%s'", optarg);
        break;
      case S_NSEED:
        rc = cli_parse_u64(CMD, "--neighbour-seed", optarg, &cfg.neighbour_seed);
        break;
      case S_TEMP:
        rc = cli_parse_f32(CMD, "--temperature", optarg, 0.0f, 1e6f, &cfg.gen.sampler.temperature);
        break;
      case S_TOPK:
        rc = cli_parse_i32(CMD, "--top-k", optarg, 0, INT32_MAX, &cfg.gen.sampler.top_k);
        break;
      case S_TOPP:
        rc = cli_parse_f32(CMD, "--top-p", optarg, 1e-9f, 1.0f, &cfg.gen.sampler.top_p);
        break;
      case S_SEED:
        rc = cli_parse_u64(CMD, "--seed", optarg, &cfg.gen.sampler.seed);
        break;
      case S_CHUNK:
        rc = cli_parse_i32(CMD, "--prefill-chunk", optarg, 0, INT32_MAX, &cfg.gen.prefill_chunk);
        break;
      case S_KV:
        if (!strcmp(optarg, "f32"))
          cfg.kv_dtype = LC_DTYPE_F32;
        else if (!strcmp(optarg, "bf16"))
          cfg.kv_dtype = LC_DTYPE_BF16;
        else
          rc = cli_usage_error(CMD, "--kv-dtype: expected f32 or bf16, got '%s'", optarg);
        break;
      case S_DEVICE: {
        int32_t d;
        rc = cli_parse_i32(CMD, "--device", optarg, 0, 1024, &d);
        cfg.device = d;
        break;
      }
      case S_THREADS: {
        int32_t t;
        rc = cli_parse_i32(CMD, "--threads", optarg, 1, 1024, &t);
        cfg.threads = t;
        break;
      }
      case S_STRICT:
        cfg.strict_grid = 1;
        break;
      case S_NOPROG:
        cfg.progress = 0;
        break;
      default:
        sweep_usage(stderr);
        return 2;
    }
  }
  if (rc) return rc;
  if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
  if (!cfg.model || !prompts_path || !cfg.out_dir)
    return cli_usage_error(CMD, "--model, --prompts and --out are required");

  char **bsl = NULL;
  int nbs = 0;
  cli_prompts ps = {NULL, 0};
  sweep_result res;
  memset(&res, 0, sizeof res);
  if ((rc = cli_split_list(CMD, "--batch-sizes", bs, &bsl, &nbs)) ||
      (rc = cli_split_list(CMD, "--positions", pos, &cfg.positions, &cfg.n_positions)) ||
      (rc = cli_split_list(CMD, "--modes", modes, &cfg.modes, &cfg.n_modes)) ||
      (rc = cli_split_list(CMD, "--backends", backends, &cfg.backends, &cfg.n_backends)))
    goto done;
  cfg.batch_sizes = malloc((size_t)nbs * sizeof *cfg.batch_sizes);
  if (!cfg.batch_sizes) {
    rc = oom(CMD);
    goto done;
  }
  cfg.n_batch_sizes = nbs;
  for (int i = 0; i < nbs && !rc; i++)
    rc = cli_parse_i32(CMD, "--batch-sizes", bsl[i], 1, 1 << 16, &cfg.batch_sizes[i]);
  for (int i = 0; i < cfg.n_positions && !rc; i++)
    if (cli_resolve_position(cfg.positions[i], INT32_MAX) < 0)
      rc = cli_usage_error(CMD, "--positions: expected first, middle, last or numbers, got '%s'",
                           cfg.positions[i]);
  if (rc) goto done;
  if ((rc = cli_read_prompts(CMD, prompts_path, &ps))) goto done;
  cfg.prompts = &ps;
  if ((rc = sweep_run(CMD, &cfg, &res))) goto done;
  if ((rc = write_outputs(CMD, &cfg, &res))) goto done;
  printf("sweep: %d prompts, %d tokens each, %.1f s; files in %s\n", (int)ps.n, (int)cfg.max_new,
         res.seconds, cfg.out_dir);
  sweep_print_table(stdout, &res);
done:
  sweep_result_free(&res);
  cli_prompts_free(&ps);
  cli_free_list(bsl, nbs);
  cli_free_list(cfg.positions, cfg.n_positions);
  cli_free_list(cfg.modes, cfg.n_modes);
  cli_free_list(cfg.backends, cfg.n_backends);
  free(cfg.batch_sizes);
  return rc;
}

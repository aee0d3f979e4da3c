/*
 * tools/cli_plot.c — a sweep's SVG plots: per group a histogram of the
 * prompts' Div_Index (div_index_<backend>-<mode>.svg), and margins.svg, the
 * top-1 minus top-2 logit of every generated token per group.
 *
 * Margins span decades and the small ones are those that flip, so their
 * axis is logarithmic (a margin of exactly 0, a tie, goes into the first
 * bin); counts that span decades get a logarithmic axis too.  Every axis is
 * labelled with its unit.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

typedef struct axis {
  double lo, hi; /* data range (log: powers of ten) */
  int log;
  const char *label;
} axis;

/* Position of v in [0, 1] along the axis. */
static double frac(const axis *a, double v) {
  if (!a->log) return (v - a->lo) / (a->hi - a->lo);
  return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
}

/* A histogram panel at (x0, y0) of size w x h: bin i covers [edge(i), edge(i+1)). */
static void panel(FILE *f, double x0, double y0, double w, double h, const char *title,
                  const int64_t *counts, int nb, const axis *xa, const char *ylabel) {
  int64_t mx = 1;
  for (int i = 0; i < nb; i++) mx = counts[i] > mx ? counts[i] : mx;
  axis ya = {0, (double)mx, mx >= 100, ylabel};
  if (ya.log) ya.lo = 1, ya.hi = pow(10, ceil(log10((double)mx)));
  const double L = 70, R = 15, T = 28, B = 44, pw = w - L - R, ph = h - T - B;
  fprintf(f, "<g transform=\"translate(%.1f,%.1f)\" font-size=\"10\">\n", x0, y0);
  fprintf(f, "<text x=\"%.1f\" y=\"18\" font-size=\"13\" text-anchor=\"middle\">%s</text>\n", w / 2,
          title);
  fprintf(f, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"black\"/>\n", L, T, T + ph,
          L + pw);
  for (int i = 0; i < nb; i++) {
    if (counts[i] <= 0) continue;
    /* on a log count axis, 1 gets a visible sliver: log10(c) + 0.3 of a decade */
    double fy = ya.log ? (log10((double)counts[i]) + 0.3) / (log10(ya.hi) + 0.3)
                       : (double)counts[i] / ya.hi;
    fprintf(f,
            "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#4878a8\" "
            "stroke=\"white\" stroke-width=\"0.5\"><title>%lld</title></rect>\n",
            L + pw * i / nb, T + ph * (1 - fy), pw / nb, ph * fy, (long long)counts[i]);
  }
  /* x ticks: decades on a log axis, quarters otherwise */
  int nt = xa->log ? (int)lround(log10(xa->hi / xa->lo)) : 4;
  for (int t = 0; t <= nt; t++) {
    double v = xa->log ? xa->lo * pow(10, t) : xa->lo + (xa->hi - xa->lo) * t / nt;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n",
            L + pw * frac(xa, v), T + ph + 14, v);
  }
  int nyt = ya.log ? (int)lround(log10(ya.hi)) : 1;
  for (int t = 0; t <= nyt; t++) {
    double v = ya.log ? pow(10, t) : ya.hi * t, fy = ya.log ? (t + 0.3) / (nyt + 0.3) : t;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", L - 4,
            T + ph * (1 - fy) + 4, v);
  }
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
          L + pw / 2, h - 8, xa->label);
  fprintf(f,
          "<text transform=\"translate(16,%.1f) rotate(-90)\" font-size=\"11\" "
          "text-anchor=\"middle\">%s%s</text>\n</g>\n",
          T + ph / 2, ylabel, ya.log ? " (log scale)" : "");
}

static int write_svg(const char *cmd, const char *dir, const char *name, double w, double h,
                     const char *body) {
  char *path = malloc(strlen(dir) + strlen(name) + 2), *doc = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&doc, &len);
  if (!path || !f) {
    free(path);
    if (f) fclose(f);
    free(doc);
    return cli_usage_error(cmd, "out of memory");
  }
  sprintf(path, "%s/%s", dir, name);
  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
          "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n%s</svg>\n",
          w, h, w, h, body);
  fclose(f);
  int rc = cli_write_file(cmd, path, doc, len);
  free(path);
  free(doc);
  return rc;
}

/* Div_Index of each prompt, in bins of tokens. */
static void div_panel(FILE *f, const lc_sweep_group *G, int32_t np, int32_t max_new) {
  const int nb = max_new <= 64 ? (max_new > 0 ? max_new : 1) : 32;
  int64_t counts[64] = {0};
  int32_t none = 0;
  for (int32_t p = 0; p < np; p++) {
    const int32_t d = G->pm[p].div_index;
    if (d < 0) {
      none++;
      continue;
    }
    const int b = (int)((int64_t)d * nb / (max_new > 0 ? max_new : 1));
    counts[b < nb ? b : nb - 1]++;
  }
  char title[200];
  snprintf(title, sizeof title, "Div_Index per prompt, %s %s (%d of %d prompts never diverge)",
           lc_backend_name(G->backend), lc_mode_name(G->mode), (int)none, (int)np);
  axis xa = {0, max_new > 0 ? max_new : 1, 0, "first divergent token index (tokens)"};
  panel(f, 0, 0, 640, 320, title, counts, nb, &xa, "prompts");
}

/* The margins' decades: from the smallest positive margin to the largest. */
static axis margin_axis(const lc_sweep_result *res) {
  double lo = INFINITY, hi = 0;
  for (int32_t g = 0; g < res->n_groups; g++) {
    const lc_sweep_group *G = &res->groups[g];
    for (int64_t i = 0; G->available && i < (int64_t)G->n_runs * res->n_prompts; i++)
      for (int32_t t = 0; t < G->out[i].n; t++) {
        const double v = G->out[i].margin[t];
        if (isfinite(v) && v > 0) lo = v < lo ? v : lo, hi = v > hi ? v : hi;
      }
  }
  axis a = {1e-3, 10, 1, "top-1 minus top-2 logit (logits; log scale, ties in the first bin)"};
  if (hi > 0) {
    a.lo = pow(10, floor(log10(lo > 1e-12 ? lo : 1e-12)));
    a.hi = pow(10, ceil(log10(hi)));
    if (a.hi <= a.lo) a.hi = a.lo * 10;
  }
  return a;
}

int cli_plot_sweep(const char *cmd, const lc_sweep_result *res, const char *dir) {
  int rc = 0, rows = 0;
  for (int32_t g = 0; g < res->n_groups && !rc; g++) {
    const lc_sweep_group *G = &res->groups[g];
    if (!G->have_metrics) continue;
    char *body = NULL, name[96];
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) return cli_usage_error(cmd, "out of memory");
    div_panel(f, G, res->n_prompts, res->max_new);
    fclose(f);
    snprintf(name, sizeof name, "div_index_%s-%s.svg", lc_backend_name(G->backend),
             lc_mode_name(G->mode));
    rc = write_svg(cmd, dir, name, 640, 320, body);
    free(body);
    rows++;
  }
  if (rc) return rc;
  enum { NB = 40 };
  const axis xa = margin_axis(res);
  char *body = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&body, &len);
  if (!f) return cli_usage_error(cmd, "out of memory");
  int row = 0;
  for (int32_t g = 0; g < res->n_groups; g++) {
    const lc_sweep_group *G = &res->groups[g];
    if (!G->have_metrics) continue;
    int64_t counts[NB] = {0};
    for (int64_t i = 0; i < (int64_t)G->n_runs * res->n_prompts; i++)
      for (int32_t t = 0; t < G->out[i].n; t++) {
        const double v = G->out[i].margin[t];
        if (!(v >= 0) || !isfinite(v)) continue;
        int b = v < xa.lo ? 0 : (int)(frac(&xa, v) * NB);
        counts[b < NB ? b : NB - 1]++;
      }
    char title[160];
    snprintf(title, sizeof title, "margin of every generated token: %s %s",
             lc_backend_name(G->backend), lc_mode_name(G->mode));
    panel(f, 0, row++ * 300.0, 640, 300, title, counts, NB, &xa, "tokens");
  }
  fclose(f);
  rc = write_svg(cmd, dir, "margins.svg", 640, 300.0 * (rows > 0 ? rows : 1), body);
  free(body);
  return rc;
}

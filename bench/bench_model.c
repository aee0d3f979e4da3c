/*
 * bench/bench_model.c — decode tokens per second of a whole model on the GPU,
 * strict, fast and bf16 against the cuBLASLt baselines (vendor-bf16,
 * vendor-fp32).
 *
 * The model is synthetic with Llama-3-8B layer shapes (dim 4096, d_ff 14336,
 * 32 query heads, 8 kv heads, head_dim 128, vocab 128256, RoPE theta 500000,
 * bf16 tensors) and --layers blocks (default 2), written by lc_synth_write
 * into --dir (kept and reused when its config.json already has these
 * shapes).  For each mode and batch size B: B sequences each prefill a
 * random prompt of --context tokens (default 128; in passes of at most 2048
 * tokens), then decode steps run over all B rows at once
 * (one lc_session_forward per step, logits of the last token to the host);
 * a repetition times --steps steps with a host wall clock around the calls,
 * after lc_context_synchronize (the call returns host logits, so it is
 * synchronous anyway); positions context .. context+steps-1 are rewritten
 * by every repetition.  The model is loaded with max_seq_len = context +
 * steps when its own is shorter, and the sessions reserve their KV caches up
 * front (kv_initial_len = max_len: no growth inside a timed step).  The median over --reps
 * repetitions (after one warm-up repetition) gives ms/step; tokens/s = B / (ms/step).  A cell whose
 * session does not fit the device (LC_ERR_OUT_OF_MEMORY: the KV cache of B
 * sequences at a long context) is reported as such, and the others run.
 *
 * The floor beside each row: the bytes a step must read at least (every
 * weight once, less the embedding table but for its B rows when the output
 * projection is a tensor of its own; and each sequence's K and V rows up to
 * its position) over the copy bandwidth measured at the start
 * (lcb_copy_bandwidth: a device-to-device cudaMemcpyAsync of 1 GiB, read +
 * write bytes per second); "x floor" = ms/step over that.
 *
 * Napkin math per decode step (bf16 weights, B rows): the weights are read
 * once, 2 bytes per parameter (layers x 218 M + 2 x 525 M for the embedding
 * table and the output projection; the embedding gathers only B rows), so
 * at small B the step is bound by weight bandwidth: ~1.5 GB at 2 layers is
 * ~0.5 ms at 3 TB/s.  The output projection (4096 x 128256) dominates at 2
 * layers; with 32 layers it would be ~15% of the weights.
 *
 *   bench_model [--dir DIR] [--layers N] [--batches 1,8,32] [--steps N]
 *               [--reps N] [--context N] [--graphs on|off|both]
 *               [--modes strict,fast,bf16,vendor-bf16,vendor-fp32] [--md FILE]
 * Exit status: 0; 1 on an error; 77 without a usable GPU.
 */
#define _POSIX_C_SOURCE 200809L

#include <cuda_runtime_api.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "layercast.h"
#include "layercast_model.h"

#define PREFILL_PASS 2048 /* most prompt tokens per forward call */
#define MAX_BATCHES 16
#define MAX_MODES 8

static const char usage[] =
    "usage: bench_model [--dir DIR] [--layers N] [--batches 1,8,32] [--steps N] [--reps N]\n"
    "                   [--context N] [--modes L] [--graphs on|off|both] [--device D]\n"
    "                   [--md FILE]\n"
    "  --dir DIR      where the synthetic model lives (default bench-model-llama3-8b-shape);\n"
    "                 written once, reused when its config matches\n"
    "  --layers N     transformer blocks (default 2)\n"
    "  --batches L    batch sizes (default 1,8,32)\n"
    "  --steps N      decode steps per timed repetition (default 32)\n"
    "  --reps N       timed repetitions, median reported (default 5)\n"
    "  --context N    prompt tokens prefilled per sequence before the timed steps\n"
    "                 (default 128)\n"
    "  --modes L      CUDA modes, from strict, fast, bf16, vendor-bf16, vendor-fp32\n"
    "                 (default all five)\n"
    "  --graphs G     decode passes replayed from CUDA graphs (on, the library's\n"
    "                 default), launched op by op (off), or both, each mode twice\n"
    "  --md FILE      also write the Markdown table to FILE\n";

static void die(const char *what, lc_status st, const lc_context *ctx) {
  fprintf(stderr, "bench_model: %s: %s\n  %s\n", what, lc_status_string(st), lc_last_error(ctx));
  exit(1);
}

static int parse_list(const char *s, int *v, int max) {
  int n = 0;
  const char *p = s;
  while (*p && n < max) {
    char *end = NULL;
    long x = strtol(p, &end, 10);
    if (end == p || x < 1 || x > 4096) return -1;
    v[n++] = (int)x;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return -1;
  }
  return n;
}

static void synth_config(lc_synth_params *sp, int layers) {
  if (lc_synth_params_preset(sp, "llama3-8b-shape") != LC_OK) {
    fprintf(stderr, "bench_model: %s\n", lc_last_error(NULL));
    exit(1);
  }
  sp->config.n_layers = layers;
}

/* 1 when dir/config.json exists and names the same shapes. */
static int model_matches(const char *dir, const lc_synth_params *sp) {
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", dir);
  json_error_t je;
  json_t *j = json_load_file(path, 0, &je);
  if (!j) return 0;
  const lc_model_config *c = &sp->config;
  struct {
    const char *k;
    long long v;
  } want[] = {{"hidden_size", c->dim},
              {"intermediate_size", c->hidden_dim},
              {"num_hidden_layers", c->n_layers},
              {"num_attention_heads", c->n_heads},
              {"num_key_value_heads", c->n_kv_heads},
              {"vocab_size", c->vocab_size}};
  int ok = 1;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    json_t *v = json_object_get(j, want[i].k);
    if (!json_is_integer(v) || json_integer_value(v) != want[i].v) ok = 0;
  }
  json_decref(j);
  return ok;
}

typedef struct cell {
  const char *mode;
  int no_graphs; /* lc_session_params.no_graphs of the cell */
  int batch;
  int skipped; /* the session did not fit the device */
  double ms_step, tok_s;
  double weights_mib, kv_mib, temp_mib;
  double floor_ms; /* the step's bytes to read over the copy bandwidth */
  int64_t replays; /* passes the session ran from a graph (warm-up included) */
} cell;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Bytes one decode step reads at least: every weight once (the embedding
 * table only for its `batch` rows when the output projection is its own
 * tensor) and the K and V rows of each sequence up to its position (the
 * middle of the timed steps). */
static double step_bytes(const lc_model_info *mi, int batch, int context, int steps,
                         size_t kv_elem) {
  const lc_model_config *c = &mi->config;
  double w = (double)mi->weights_bytes;
  if (!c->tied_embeddings) w -= (double)c->vocab_size * c->dim * 2.0 - (double)batch * c->dim * 2.0;
  const double kv_row = 2.0 * c->n_layers * c->n_kv_heads * (double)c->head_dim * (double)kv_elem;
  return w + (double)batch * (context + 0.5 * steps) * kv_row;
}

/* Runs one (mode, batch) cell on a loaded model; copy_gbps: the copy
 * bandwidth for the floor. */
static void run_cell(lc_context *ctx, lc_model *m, int batch, int context, int steps, int reps,
                     double copy_gbps, int no_graphs, cell *out) {
  lc_model_info mi;
  lc_model_get_info(m, &mi);
  const int32_t vocab = mi.config.vocab_size;
  const int pass = context < PREFILL_PASS ? context : PREFILL_PASS;
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = batch;
  sp.max_len = context + steps;
  sp.max_tokens = pass > batch ? pass : batch;
  sp.kv_initial_len = sp.max_len;
  sp.no_graphs = no_graphs;
  out->batch = batch;
  out->no_graphs = no_graphs;
  out->floor_ms = 1e3 * step_bytes(&mi, batch, context, steps, sizeof(float)) / (copy_gbps * 1e9);
  lc_session *s = NULL;
  lc_status st = lc_session_create(m, &sp, &s);
  if (st == LC_ERR_OUT_OF_MEMORY) {
    printf("  batch %d at context %d: the session does not fit (%s)\n", batch, context,
           lc_last_error(ctx));
    out->skipped = 1;
    return;
  }
  if (st != LC_OK) die("lc_session_create", st, ctx);
  float *logits = lcb_malloc((size_t)batch * (size_t)vocab * sizeof(float));
  int32_t *prompt = lcb_malloc((size_t)pass * sizeof(int32_t));
  int32_t *tok = lcb_malloc((size_t)batch * sizeof(int32_t));
  lc_batch_entry *e = lcb_malloc((size_t)batch * sizeof *e);
  lcb_rng r = lcb_rng_new(7);
  /* prefill: one sequence at a time, in passes of up to PREFILL_PASS tokens,
   * last-token logits only */
  for (int b = 0; b < batch; b++) {
    for (int p0 = 0; p0 < context; p0 += pass) {
      const int n = context - p0 < pass ? context - p0 : pass;
      for (int i = 0; i < n; i++) prompt[i] = (int32_t)(lcb_next(&r) % (uint64_t)vocab);
      lc_batch_entry pe = {b, p0, n, prompt};
      st = lc_session_forward(s, &pe, 1, 0, logits);
      if (st != LC_OK) die("prefill", st, ctx);
    }
  }
  double *t = lcb_malloc((size_t)(reps + 1) * sizeof *t);
  for (int rep = 0; rep <= reps; rep++) { /* rep 0: warm-up */
    for (int b = 0; b < batch; b++) tok[b] = (int32_t)(lcb_next(&r) % (uint64_t)vocab);
    lcb_check(ctx, lc_context_synchronize(ctx), "synchronize");
    const double t0 = lcb_now();
    for (int step = 0; step < steps; step++) {
      for (int b = 0; b < batch; b++) {
        e[b].slot = b;
        e[b].pos = context + step;
        e[b].n_tokens = 1;
        e[b].tokens = &tok[b];
      }
      st = lc_session_forward(s, e, batch, 0, logits);
      if (st != LC_OK) die("decode step", st, ctx);
      /* the next tokens: any ids will do for timing */
      for (int b = 0; b < batch; b++) tok[b] = (int32_t)(((int64_t)tok[b] * 31 + 7) % vocab);
    }
    lcb_check(ctx, lc_context_synchronize(ctx), "synchronize");
    t[rep] = (lcb_now() - t0) / steps;
  }
  qsort(t + 1, (size_t)reps, sizeof *t, cmp_double);
  const double med = reps % 2 ? t[1 + reps / 2] : 0.5 * (t[reps / 2] + t[1 + reps / 2]);
  lc_session_memory mm;
  st = lc_session_get_memory(s, &mm);
  if (st != LC_OK) die("lc_session_get_memory", st, ctx);
  out->ms_step = 1e3 * med;
  out->tok_s = batch / med;
  out->weights_mib = mm.weights_bytes / 1048576.0;
  out->kv_mib = mm.kv_cache_bytes / 1048576.0;
  out->temp_mib = (mm.temp_bytes + mm.workspace_peak_bytes) / 1048576.0;
  out->replays = lc_session_graph_replays(s);
  free(t), free(logits), free(prompt), free(tok), free(e);
  lc_session_free(s);
}

int main(int argc, char **argv) {
  const char *dir = "bench-model-llama3-8b-shape", *md = NULL;
  int layers = 2, steps = 32, reps = 5, device = 0, context = 128;
  int batches[MAX_BATCHES] = {1, 8, 32}, n_batches = 3;
  const char *modes_s = "strict,fast,bf16,vendor-bf16,vendor-fp32", *graphs_s = "on";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!v) {
      fprintf(stderr, "bench_model: unknown or incomplete option '%s'\n%s", a, usage);
      return 2;
    }
    i++;
    if (!strcmp(a, "--dir"))
      dir = v;
    else if (!strcmp(a, "--md"))
      md = v;
    else if (!strcmp(a, "--modes"))
      modes_s = v;
    else if (!strcmp(a, "--layers"))
      layers = atoi(v);
    else if (!strcmp(a, "--steps"))
      steps = atoi(v);
    else if (!strcmp(a, "--reps"))
      reps = atoi(v);
    else if (!strcmp(a, "--graphs"))
      graphs_s = v;
    else if (!strcmp(a, "--context"))
      context = atoi(v);
    else if (!strcmp(a, "--device"))
      device = atoi(v);
    else if (!strcmp(a, "--batches")) {
      n_batches = parse_list(v, batches, MAX_BATCHES);
      if (n_batches < 1) {
        fprintf(stderr, "bench_model: bad --batches '%s'\n", v);
        return 2;
      }
    } else {
      fprintf(stderr, "bench_model: unknown option '%s'\n%s", a, usage);
      return 2;
    }
  }
  if (layers < 1 || layers > 64 || steps < 1 || steps > 1024 || reps < 1 || reps > 1000 ||
      context < 1 || context > (1 << 20)) {
    fprintf(stderr,
            "bench_model: need 1 <= layers <= 64, 1 <= steps <= 1024, 1 <= reps <= "
            "1000, 1 <= context <= 1048576\n");
    return 2;
  }
  char modes_buf[256];
  snprintf(modes_buf, sizeof modes_buf, "%s", modes_s);
  lc_mode modes[MAX_MODES];
  int n_modes = 0;
  for (char *tok = strtok(modes_buf, ","); tok && n_modes < MAX_MODES; tok = strtok(NULL, ",")) {
    if (lc_mode_from_name(tok, &modes[n_modes]) != LC_OK || modes[n_modes] == LC_MODE_REFERENCE) {
      fprintf(stderr,
              "bench_model: unknown or CPU-only mode '%s' (strict, fast, bf16, vendor-bf16, "
              "vendor-fp32)\n",
              tok);
      return 2;
    }
    n_modes++;
  }
  /* the graph settings each mode runs with: no_graphs values */
  int gset[2], n_g = 0;
  if (!strcmp(graphs_s, "on") || !strcmp(graphs_s, "both")) gset[n_g++] = 0;
  if (!strcmp(graphs_s, "off") || !strcmp(graphs_s, "both")) gset[n_g++] = 1;
  if (n_g == 0) {
    fprintf(stderr, "bench_model: --graphs takes on, off or both, not '%s'\n", graphs_s);
    return 2;
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count <= device) {
    fprintf(stderr, "bench_model: no usable CUDA device %d (device count %d): skipped\n", device,
            count);
    return 77;
  }

  lc_synth_params sp;
  synth_config(&sp, layers);
  if (model_matches(dir, &sp)) {
    printf("bench_model: reusing the synthetic model in %s\n", dir);
  } else {
    printf("bench_model: writing a synthetic model (%d layers, Llama-3-8B shapes, bf16) to %s\n",
           layers, dir);
    fflush(stdout);
    const double t0 = lcb_now();
    lc_status st = lc_synth_write(dir, &sp);
    if (st != LC_OK) die("lc_synth_write", st, NULL);
    printf("  written in %.1f s\n", lcb_now() - t0);
  }

  const double copy_gbps = lcb_copy_bandwidth(device);
  printf("copy bandwidth: %.0f GB/s (device-to-device cudaMemcpyAsync, read + write bytes)\n",
         copy_gbps);
  /* one row of cells per (mode, graph setting) */
  const int n_rows = n_modes * n_g;
  cell *cells = lcb_malloc((size_t)n_rows * n_batches * sizeof *cells);
  memset(cells, 0, (size_t)n_rows * n_batches * sizeof *cells);
  char dev_name[256] = "?";
  for (int mi = 0; mi < n_modes; mi++) {
    lc_context_params cp;
    lc_context_params_default(&cp);
    cp.backend = LC_BACKEND_CUDA;
    cp.mode = modes[mi];
    cp.device = device;
    lc_context *ctx = NULL;
    lc_status st = lc_context_create(&cp, &ctx);
    if (st != LC_OK) die("lc_context_create", st, NULL);
    lc_device_info di;
    if (lc_context_get_device_info(ctx, &di) == LC_OK)
      snprintf(dev_name, sizeof dev_name, "%s", di.name);
    lc_model *m = NULL;
    lc_model_load_params lp;
    lc_model_load_params_default(&lp);
    if (context + steps > sp.config.max_seq_len) lp.max_seq_len = context + steps;
    st = lc_model_load(ctx, dir, &lp, &m);
    if (st != LC_OK) die("lc_model_load", st, ctx);
    for (int gi = 0; gi < n_g; gi++)
      for (int bi = 0; bi < n_batches; bi++) {
        cell *c = &cells[(mi * n_g + gi) * n_batches + bi];
        c->mode = lc_mode_name(modes[mi]);
        run_cell(ctx, m, batches[bi], context, steps, reps, copy_gbps, gset[gi], c);
        if (!c->skipped)
          printf(
              "  %-12s %-9s batch %3d: %8.3f ms/step  %9.1f tokens/s  %.2fx the floor %.3f "
              "ms (%lld passes from graphs)\n",
              c->mode, c->no_graphs ? "no graphs" : "graphs", c->batch, c->ms_step, c->tok_s,
              c->ms_step / c->floor_ms, c->floor_ms, (long long)c->replays);
        fflush(stdout);
      }
    lc_model_free(m);
    lc_context_free(ctx);
  }

  /* the Markdown table; ratio = this mode's tokens/s over vendor-bf16's */
  char *table = NULL;
  size_t tlen = 0;
  FILE *tf = open_memstream(&table, &tlen);
  if (!tf) {
    fprintf(stderr, "bench_model: out of memory\n");
    return 1;
  }
  fprintf(tf,
          "## Decode throughput (bench_model)\n\n"
          "- device: %s\n"
          "- model: synthetic, Llama-3-8B layer shapes (dim 4096, d_ff 14336, 32/8 heads of 128, "
          "vocab 128256, bf16 weights), %d layers; %d-token prompts prefilled, then %d decode "
          "steps per repetition, median of %d (after a warm-up)\n"
          "- ms/step: wall clock of one lc_session_forward over all rows (one token each, "
          "logits to the host), its decode pass replayed from a CUDA graph (graphs on) or "
          "launched op by op (off); tokens/s = batch / (s/step); ratio = tokens/s over "
          "vendor-bf16's at the same batch; temp = session temporaries + the context's peak "
          "op workspace\n"
          "- floor: the bytes a step reads at least (the weights once, the embedding table "
          "only for its rows, and the FP32 K and V rows of every sequence) over the copy "
          "bandwidth, %.0f GB/s; x floor = ms/step over the floor\n\n",
          dev_name, layers, context, steps, reps, copy_gbps);
  fprintf(tf,
          "| mode | graphs | batch | ms/step | tokens/s | vs vendor-bf16 | floor ms | x floor | "
          "weights MiB | KV MiB | temp MiB |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int ri = 0; ri < n_rows; ri++)
    for (int bi = 0; bi < n_batches; bi++) {
      const cell *c = &cells[ri * n_batches + bi];
      const char *g = c->no_graphs ? "off" : "on";
      if (c->skipped) {
        fprintf(tf, "| %s | %s | %d | does not fit | - | - | %.3f | - | - | - | - |\n", c->mode, g,
                c->batch, c->floor_ms);
        continue;
      }
      /* the base: vendor-bf16 with the same graph setting */
      double base = NAN;
      for (int rj = 0; rj < n_rows; rj++) {
        const cell *b = &cells[rj * n_batches + bi];
        if (modes[rj / n_g] == LC_MODE_VENDOR_BF16 && b->no_graphs == c->no_graphs && !b->skipped)
          base = b->tok_s;
      }
      char ratio[32];
      if (isnan(base))
        snprintf(ratio, sizeof ratio, "-");
      else
        snprintf(ratio, sizeof ratio, "%.2fx", c->tok_s / base);
      fprintf(tf, "| %s | %s | %d | %.3f | %.1f | %s | %.3f | %.2fx | %.0f | %.1f | %.1f |\n",
              c->mode, g, c->batch, c->ms_step, c->tok_s, ratio, c->floor_ms,
              c->ms_step / c->floor_ms, c->weights_mib, c->kv_mib, c->temp_mib);
    }
  fclose(tf);
  printf("\n%s\n", table);
  int rc = 0;
  if (md) {
    FILE *f = fopen(md, "w");
    if (!f || fputs(table, f) == EOF || fclose(f) != 0) {
      fprintf(stderr, "bench_model: cannot write '%s'\n", md);
      rc = 1;
    }
  }
  free(table);
  free(cells);
  lcb_device_close();
  return rc;
}

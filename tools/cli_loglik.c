/*
 * tools/cli_loglik.c — `layercast loglik` (the log-probability of a
 * continuation after a context, teacher-forced) and `layercast perplexity`
 * (sliding-window perplexity of a token sequence): lc_loglik and
 * lc_perplexity (docs/generation.md, "Log-likelihoods").
 *
 * Token ids, or text through the model's tokenizer.  The work after parsing is
 * in run_loglik and run_perplexity, which take id arrays; the text options
 * encode and call them unchanged.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

/* What both subcommands share: the model, where it runs, the output. */
typedef struct ll_setup {
  const char *cmd;
  const char *model;
  lc_context_params cp;
  lc_model_load_params lp;
  int32_t device, threads;
  int kv;             /* 0 f32, 1 bf16 */
  int32_t max_tokens; /* tokens per forward pass; 0: the session's default */
  int json;
} ll_setup;

/* The options of ll_setup u, at the head of both tables. */
#define LL_COMMON_OPTS(u)                                                                         \
  {                                                                                               \
      "model", CLI_STR, &(u).model, 0,                                                            \
      0,       NULL,    "PATH",     "llama2.c .bin, or a Hugging Face directory"},                \
      {"backend", CLI_BACKEND, &(u).cp.backend, 0, 0, NULL, "B", "cpu (default) | cuda"},         \
      {"mode",                                                                                    \
       CLI_MODE,                                                                                  \
       &(u).cp.mode,                                                                              \
       0,                                                                                         \
       0,                                                                                         \
       NULL,                                                                                      \
       "M",                                                                                       \
       "strict (default) | fast | bf16 | reference (cpu) | vendor-bf16 |\nvendor-fp32 (cuda)"},   \
      {"device", CLI_I32, &(u).device, 0, 1024, NULL, "N", "CUDA device (default 0)"},            \
      {"threads",                                                                                 \
       CLI_I32,                                                                                   \
       &(u).threads,                                                                              \
       1,                                                                                         \
       1024,                                                                                      \
       NULL,                                                                                      \
       "N",                                                                                       \
       "CPU threads (big matmuls, small models' decode rows; reference: OpenBLAS; default 1)"},   \
      {"max-seq",                                                                                 \
       CLI_I32,                                                                                   \
       &(u).lp.max_seq_len,                                                                       \
       1,                                                                                         \
       1 << 24,                                                                                   \
       NULL,                                                                                      \
       "N",                                                                                       \
       "positions the model covers (default: the checkpoint's)"},                                 \
      {"kv-dtype", CLI_CHOICE, &(u).kv, 0, 0, "f32|bf16", "T", "KV cache: f32 (default) | bf16"}, \
      {"max-tokens",                                                                              \
       CLI_I32,                                                                                   \
       &(u).max_tokens,                                                                           \
       1,                                                                                         \
       1 << 20,                                                                                   \
       NULL,                                                                                      \
       "N",                                                                                       \
       "tokens per forward pass (default 512); the logits of a pass take\nN x vocab floats. "     \
       "strict, fast and bf16 give the same bits for any N"},                                     \
  {                                                                                               \
    "json", CLI_FLAG, &(u).json, 0, 0, NULL, NULL, "one JSON object instead of text"              \
  }

static void setup_default(ll_setup *u, const char *cmd) {
  memset(u, 0, sizeof *u);
  u->cmd = cmd;
  lc_context_params_default(&u->cp);
  lc_model_load_params_default(&u->lp);
  u->threads = 1;
}

/* A context, the model and a one-slot session of max_len positions (0: the
 * model's). */
typedef struct ll_env {
  lc_context *ctx;
  lc_model *m;
  lc_session *s;
  lc_model_info info;
} ll_env;

static void env_close(ll_env *e) {
  lc_session_free(e->s);
  lc_model_free(e->m);
  lc_context_free(e->ctx);
  memset(e, 0, sizeof *e);
}

/* Opens the context and the model; 0 or an exit status (printed). */
static int env_open(const ll_setup *u, ll_env *e) {
  memset(e, 0, sizeof *e);
  lc_context_params cp = u->cp;
  cp.device = u->device;
  cp.cpu_threads = u->threads;
  lc_status st;
  if ((st = lc_context_create(&cp, &e->ctx)) != LC_OK)
    return cli_fail(u->cmd, "creating the context", st, cli_status_rc(st));
  if ((st = lc_model_load(e->ctx, u->model, &u->lp, &e->m)) != LC_OK)
    return cli_fail(u->cmd, "loading the model", st, cli_status_rc(st));
  if ((st = lc_model_get_info(e->m, &e->info)) != LC_OK)
    return cli_fail(u->cmd, "the model", st, CLI_FAIL);
  return 0;
}

/* The session for sequences of max_len positions; 0 or an exit status. */
static int env_session(const ll_setup *u, ll_env *e, int64_t max_len) {
  const int32_t max_seq = e->info.config.max_seq_len;
  if (max_len > max_seq) {
    fprintf(
        stderr,
        "layercast %s: %lld positions needed, the model covers %d (--max-seq N gives it more)\n",
        u->cmd, (long long)max_len, (int)max_seq);
    return CLI_USAGE;
  }
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.max_len = (int32_t)max_len;
  sp.max_tokens = u->max_tokens;
  sp.kv_dtype = u->kv ? LC_DTYPE_BF16 : LC_DTYPE_F32;
  lc_status st = lc_session_create(e->m, &sp, &e->s);
  return st == LC_OK ? 0 : cli_fail(u->cmd, "creating the session", st, cli_status_rc(st));
}

/* A double for JSON: non-finite values (a NaN logit's -Inf) become null. */
static void json_num(double v) {
  if (isfinite(v))
    printf("%.17g", v);
  else
    printf("null");
}

static void json_ids(const char *key, const int32_t *t, int64_t n) {
  printf("\"%s\":[", key);
  for (int64_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", (int)t[i]);
  printf("]");
}

static void json_head(const ll_setup *u, const ll_env *e) {
  printf("{\"command\":\"%s\",\"backend\":\"%s\",\"mode\":\"%s\",\"weights_hash\":\"%s\",", u->cmd,
         lc_backend_name(u->cp.backend), lc_mode_name(u->cp.mode), e->info.weights_hash);
}

static int finish_output(const char *cmd) {
  if (fflush(stdout) != 0) {
    fprintf(stderr, "layercast %s: writing the output failed\n", cmd);
    return CLI_FAIL;
  }
  return CLI_OK;
}

/* ---- loglik ------------------------------------------------------------------*/

/* Scores cont after context and prints the result; an exit status. */
static int run_loglik(const ll_setup *u, const int32_t *context, int32_t nc, const int32_t *cont,
                      int32_t nt) {
  ll_env e;
  int rc = env_open(u, &e);
  if (!rc) rc = env_session(u, &e, (int64_t)nc + nt);
  double *lp = malloc((size_t)nt * sizeof *lp);
  int32_t *gr = malloc((size_t)nt * sizeof *gr);
  double sum = 0.0;
  int32_t all = 0;
  if (!rc && (!lp || !gr)) {
    fprintf(stderr, "layercast %s: out of memory\n", u->cmd);
    rc = CLI_FAIL;
  }
  lc_status st;
  if (!rc && (st = lc_loglik(e.s, context, nc, cont, nt, lp, gr, &sum, &all)) != LC_OK)
    rc = cli_fail(u->cmd, "scoring", st, cli_status_rc(st));
  if (!rc && u->json) {
    json_head(u, &e);
    json_ids("context", context, nc);
    printf(",");
    json_ids("cont", cont, nt);
    printf(",\"token_logprob\":[");
    for (int32_t i = 0; i < nt; i++) {
      if (i) printf(",");
      json_num(lp[i]);
    }
    printf("],");
    json_ids("token_greedy", gr, nt);
    printf(",\"sum_logprob\":");
    json_num(sum);
    printf(",\"all_greedy\":%d}\n", (int)all);
  } else if (!rc) {
    printf("# %s %s, context %d tokens, continuation %d tokens\n# index token logprob greedy\n",
           lc_backend_name(u->cp.backend), lc_mode_name(u->cp.mode), (int)nc, (int)nt);
    for (int32_t i = 0; i < nt; i++)
      printf("%d %d %.17g %d\n", (int)i, (int)cont[i], lp[i], (int)gr[i]);
    printf("sum_logprob %.17g\nall_greedy %d\n", sum, (int)all);
  }
  if (!rc) rc = finish_output(u->cmd);
  free(lp);
  free(gr);
  env_close(&e);
  return rc;
}

/* The encoding of context + continuation split where the context's own
 * encoding ends (as lm-eval does: merges across the boundary go to the
 * continuation); the context with the tokenizer's BOS.  0, 1 or 2. */
static int encode_pair(const char *cmd, const lc_tokenizer *tok, const char *context,
                       const char *cont, int32_t **c, int32_t *nc, int32_t **t, int32_t *nt) {
  *c = *t = NULL;
  const size_t lc = strlen(context), lt = strlen(cont);
  char *both = malloc(lc + lt + 1);
  if (!both) return cli_usage_error(cmd, "out of memory");
  memcpy(both, context, lc);
  memcpy(both + lc, cont, lt + 1);
  int32_t *all = NULL, na = 0;
  lc_status st = lc_tokenizer_encode(tok, context, lc, LC_ENCODE_ADD_SPECIAL, c, nc);
  if (st == LC_OK) st = lc_tokenizer_encode(tok, both, lc + lt, LC_ENCODE_ADD_SPECIAL, &all, &na);
  free(both);
  int rc = st == LC_OK ? 0 : cli_fail(cmd, "encoding the text", st, cli_status_rc(st));
  /* the pair's ids must start with the context's; a merge across the
   * boundary shortens the context instead */
  int32_t k = 0;
  while (!rc && k < *nc && k < na && (*c)[k] == all[k]) k++;
  if (!rc && (k < 1 || na - k < 1))
    rc = cli_usage_error(cmd, "the context or the continuation encodes to no tokens");
  if (!rc) {
    *nc = k;
    *nt = na - k;
    *t = malloc((size_t)*nt * sizeof **t);
    if (!*t)
      rc = cli_usage_error(cmd, "out of memory");
    else
      memcpy(*t, all + k, (size_t)*nt * sizeof **t);
  }
  free(all);
  if (rc) {
    free(*c);
    *c = NULL;
  }
  return rc;
}

static int open_tokenizer(const char *cmd, const char *path, const char *model, lc_tokenizer **t) {
  cli_text tx = {path, NULL, 0, NULL, NULL};
  int rc = cli_text_open(cmd, &tx, model);
  if (!rc && !tx.tok)
    rc = cli_usage_error(cmd,
                         "text needs a tokenizer: the model folder has none; name one with "
                         "--tokenizer");
  *t = tx.tok;
  return rc;
}

int cmd_loglik(int argc, char **argv) {
  ll_setup u;
  setup_default(&u, "loglik");
  const char *ctx_ids = NULL, *cont_ids = NULL, *ctx_text = NULL, *cont_text = NULL,
             *tok_path = NULL;
  const cli_opt opts[] = {
      LL_COMMON_OPTS(u),
      {"context", CLI_STR, &ctx_ids, 0, 0, NULL, "IDS", "the context as token ids (\"1 2 3\")"},
      {"cont", CLI_STR, &cont_ids, 0, 0, NULL, "IDS", "the continuation to score (\"4 5\")"},
      {"context-text", CLI_STR, &ctx_text, 0, 0, NULL, "S",
       "the context as text (encoded with the tokenizer's BOS)"},
      {"cont-text", CLI_STR, &cont_text, 0, 0, NULL, "S",
       "the continuation as text: the ids of context + continuation\nafter the context's own"},
      {"tokenizer", CLI_STR, &tok_path, 0, 0, NULL, "PATH",
       "for text: tokenizer.json, tokenizer.bin or a folder (default:\nthe model folder's)"},
      CLI_END};
  const cli_cmd cmd = {
      "loglik",
      "--model PATH (--context IDS --cont IDS | --context-text S --cont-text S) [options]",
      "Prints log p(cont[i] | context, cont[0..i)) for each token of the continuation\n"
      "(natural log, softmax at T = 1, float64), whether it is the token greedy\n"
      "generation picks, their sum and whether all are greedy (lc_loglik;\n"
      "docs/generation.md, \"Log-likelihoods\").  Exit status 0, 1 failure, 2 bad input.",
      opts, NULL};
  int rc = cli_parse(&cmd, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  if (!u.model) return cli_usage_error(u.cmd, "--model PATH is required");
  const int text = ctx_text || cont_text;
  if (text ? (!ctx_text || !cont_text || ctx_ids || cont_ids) : (!ctx_ids || !cont_ids))
    return cli_usage_error(u.cmd,
                           "give --context IDS and --cont IDS, or --context-text S and "
                           "--cont-text S");
  int32_t *c = NULL, *t = NULL, nc = 0, nt = 0;
  lc_tokenizer *tok = NULL;
  if (text) {
    if (!(rc = open_tokenizer(u.cmd, tok_path, u.model, &tok)))
      rc = encode_pair(u.cmd, tok, ctx_text, cont_text, &c, &nc, &t, &nt);
  } else if (!(rc = cli_parse_tokens(u.cmd, "--context", ctx_ids, &c, &nc))) {
    rc = cli_parse_tokens(u.cmd, "--cont", cont_ids, &t, &nt);
  }
  if (!rc) rc = run_loglik(&u, c, nc, t, nt);
  lc_tokenizer_free(tok);
  free(c);
  free(t);
  return rc;
}

/* ---- perplexity ------------------------------------------------------------------*/

/* Token ids from a file: separated by whitespace or commas.  0 or 2
 * (printed, with the line of a bad id). */
static int read_ids_file(const char *cmd, const char *path, int32_t **out, int64_t *n_out) {
  *out = NULL;
  *n_out = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "layercast %s: --ids-file: cannot open '%s': %s\n", cmd, path, strerror(errno));
    return CLI_USAGE;
  }
  int64_t n = 0, cap = 0, line = 1;
  int32_t *v = NULL;
  int rc = 0, ch;
  char tok[32];
  size_t len = 0;
  do {
    ch = fgetc(f);
    if (ch != EOF && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != ',') {
      if (len + 1 < sizeof tok) tok[len] = (char)ch;
      len++;
      continue;
    }
    if (len > 0) {
      char *end = NULL;
      tok[len < sizeof tok ? len : sizeof tok - 1] = '\0';
      errno = 0;
      long long x = strtoll(tok, &end, 10);
      if (len >= sizeof tok || *end || errno || x < 0 || x > INT32_MAX) {
        fprintf(stderr, "layercast %s: --ids-file %s:%lld: expected a token id, got '%s%s'\n", cmd,
                path, (long long)line, tok, len >= sizeof tok ? "..." : "");
        rc = CLI_USAGE;
        break;
      }
      if (n == cap) {
        cap = cap ? 2 * cap : 1024;
        int32_t *w = realloc(v, (size_t)cap * sizeof *v);
        if (!w) {
          fprintf(stderr, "layercast %s: --ids-file: out of memory\n", cmd);
          rc = CLI_FAIL;
          break;
        }
        v = w;
      }
      v[n++] = (int32_t)x;
      len = 0;
    }
    if (ch == '\n') line++;
  } while (ch != EOF);
  if (!rc && ferror(f)) {
    fprintf(stderr, "layercast %s: --ids-file: reading '%s' failed\n", cmd, path);
    rc = CLI_FAIL;
  }
  fclose(f);
  if (rc) {
    free(v);
    return rc;
  }
  *out = v;
  *n_out = n;
  return 0;
}

/* Perplexity of ids[0..n) and its report; window 0: min(n, the model's
 * positions); stride 0: window / 2.  An exit status. */
static int run_perplexity(const ll_setup *u, const int32_t *ids, int64_t n, int32_t window,
                          int32_t stride) {
  if (n < 2) return cli_usage_error(u->cmd, "%lld token ids: at least 2 are needed", (long long)n);
  ll_env e;
  int rc = env_open(u, &e);
  if (!rc && window == 0) {
    const int32_t max_seq = e.info.config.max_seq_len;
    window = n < max_seq ? (int32_t)n : max_seq;
  }
  if (!rc && stride == 0) stride = window / 2;
  if (!rc && stride >= window) {
    rc = cli_usage_error(u->cmd, "--stride %d: must be below the window (%d)", (int)stride,
                         (int)window);
  }
  if (!rc) rc = env_session(u, &e, window);
  lc_perplexity_result res;
  lc_status st;
  if (!rc && (st = lc_perplexity(e.s, ids, n, window, stride, &res)) != LC_OK)
    rc = cli_fail(u->cmd, "scoring", st, cli_status_rc(st));
  if (!rc && u->json) {
    json_head(u, &e);
    printf(
        "\"n_tokens\":%lld,\"window\":%d,\"stride\":%d,\"n_scored\":%lld,\"n_windows\":%lld,"
        "\"nll_sum\":",
        (long long)n, (int)window, (int)stride, (long long)res.n_scored, (long long)res.n_windows);
    json_num(res.nll_sum);
    printf(",\"ppl\":");
    json_num(res.ppl);
    printf("}\n");
  } else if (!rc) {
    printf("# %s %s, %lld tokens, window %d, stride %d\n", lc_backend_name(u->cp.backend),
           lc_mode_name(u->cp.mode), (long long)n, (int)window, (int)stride);
    printf("n_scored %lld\nn_windows %lld\nnll_sum %.17g\nppl %.17g\n", (long long)res.n_scored,
           (long long)res.n_windows, res.nll_sum, res.ppl);
  }
  if (!rc) rc = finish_output(u->cmd);
  env_close(&e);
  return rc;
}

int cmd_perplexity(int argc, char **argv) {
  ll_setup u;
  setup_default(&u, "perplexity");
  const char *ids = NULL, *file = NULL, *text_file = NULL, *tok_path = NULL;
  int32_t window = 0, stride = 0;
  const cli_opt opts[] = {
      LL_COMMON_OPTS(u),
      {"ids", CLI_STR, &ids, 0, 0, NULL, "IDS", "the token ids (\"1 2 3 ...\")"},
      {"ids-file", CLI_STR, &file, 0, 0, NULL, "FILE",
       "a file of token ids, separated by spaces, commas or newlines"},
      {"text-file", CLI_STR, &text_file, 0, 0, NULL, "FILE",
       "a UTF-8 text file, encoded with the tokenizer's BOS"},
      {"tokenizer", CLI_STR, &tok_path, 0, 0, NULL, "PATH",
       "for text: tokenizer.json, tokenizer.bin or a folder (default:\nthe model folder's)"},
      {"window", CLI_I32, &window, 2, INT32_MAX, NULL, "N",
       "tokens per window (default: all of them, up to the model's\npositions)"},
      {"stride", CLI_I32, &stride, 1, INT32_MAX, NULL, "N",
       "a window starts every N tokens, N < window (default window / 2)"},
      CLI_END};
  const cli_cmd cmd = {
      "perplexity", "--model PATH (--ids IDS | --ids-file FILE | --text-file FILE) [options]",
      "Prints the perplexity of a token sequence, exp(nll_sum / n_scored), scoring every\n"
      "token but the first once with a sliding window (lc_perplexity: the Hugging Face\n"
      "\"perplexity of fixed-length models\" scheme; docs/generation.md,\n"
      "\"Log-likelihoods\").  Exit status 0, 1 failure, 2 bad input.",
      opts, NULL};
  int rc = cli_parse(&cmd, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  if (!u.model) return cli_usage_error(u.cmd, "--model PATH is required");
  if ((ids != NULL) + (file != NULL) + (text_file != NULL) != 1)
    return cli_usage_error(u.cmd,
                           "give exactly one of --ids IDS, --ids-file FILE and --text-file FILE");
  int32_t *t = NULL;
  int64_t n = 0;
  if (ids) {
    int32_t n32 = 0;
    rc = cli_parse_tokens(u.cmd, "--ids", ids, &t, &n32);
    n = n32;
  } else if (file) {
    rc = read_ids_file(u.cmd, file, &t, &n);
  } else {
    lc_tokenizer *tok = NULL;
    char *buf = NULL;
    size_t len = 0;
    if (!(rc = open_tokenizer(u.cmd, tok_path, u.model, &tok)) &&
        !(rc = cli_read_file(u.cmd, text_file, (size_t)1 << 30, &buf, &len))) {
      int32_t n32 = 0;
      lc_status st = lc_tokenizer_encode(tok, buf, len, LC_ENCODE_ADD_SPECIAL, &t, &n32);
      if (st != LC_OK) rc = cli_fail(u.cmd, "encoding --text-file", st, cli_status_rc(st));
      n = n32;
    }
    free(buf);
    lc_tokenizer_free(tok);
  }
  if (!rc) rc = run_perplexity(&u, t, n, window, stride);
  free(t);
  return rc;
}

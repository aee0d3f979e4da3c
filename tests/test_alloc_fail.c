/*
 * tests/test_alloc_fail.c — every allocation of whole workflows fails once
 * (lc_set_alloc_hook; jansson's allocator through json_set_alloc_funcs too, on request),
 * and every file write hits a full disk (RLIMIT_FSIZE):
 *
 *   - a run in which the N-th allocation fails returns LC_ERR_OUT_OF_MEMORY,
 *     for every N from 1 to the workflow's count;
 *   - no run leaks (LeakSanitizer's recoverable check after every run, in
 *     the sanitizer build that CI runs);
 *   - a failed run leaves no half-written file: no temporary, no final file
 *     that was not complete before (sweep: only runs.jsonl.partial, which is
 *     documented as kept for a resume);
 *   - a file write that fails (EFBIG at the size limit, for limits across
 *     the file's length) returns LC_ERR_IO, with the same file rules.
 *
 * jansson's own allocations are walked only with LCT_ALLOC_JSON=1 set:
 * jansson 2.14 is not safe when its allocator fails (docs/reliability.md:
 * its lexer drops a character it cannot store, so a parse can succeed with
 * wrong text, and one error path of json_loads frees a pointer it never
 * allocated), so that walk crashes inside jansson, not in layercast.
 *
 * Workflows: context; load (llama2.c stories260K when LC_MODELS_DIR has it;
 * a sharded Hugging Face folder always); session + generate; loglik;
 * tokenizer (load, encode, decode, stream, chat); text prompt files; sweep
 * with text and scoring into an output folder; compare (lc_verify_records);
 * synth.  The same generate walk on CUDA, device allocations included, when
 * a GPU is present.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "layercast_experiment.h"
#include "layercast_model.h"
#include "layercast_text.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define LCT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LCT_ASAN 1
#endif
#endif
#ifdef LCT_ASAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#else
#include <execinfo.h>
#endif

static char g_root[256], g_model[320], g_tokdir[320], g_l2c[512];

/* ---- the injector ----------------------------------------------------------*/

typedef struct injector {
  int json;     /* 0: walk the library's allocations (its hook); 1: jansson's */
  long count;   /* allocations seen of the walked kind */
  long fail_at; /* 1-based; 0: none fails */
  long fired;   /* which allocation was refused (0: none) */
  lc_alloc_kind fired_kind;
  size_t fired_bytes;
  int trace; /* print the refused allocation's stack (a failure's rerun) */
} injector;

static injector g_inj;

static int refuse(injector *in, lc_alloc_kind kind, size_t bytes) {
  if (++in->count != in->fail_at) return 0;
  in->fired = in->count;
  in->fired_kind = kind;
  in->fired_bytes = bytes;
  if (in->trace) {
    fprintf(stderr, "allocation %ld refused at:\n", in->count);
#ifdef LCT_ASAN
    __sanitizer_print_stack_trace();
#else
    void *frames[32];
    backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
#endif
  }
  return 1;
}

static int lib_hook(void *opaque, lc_alloc_kind kind, size_t bytes) {
  return refuse(opaque, kind, bytes);
}

static void *json_alloc(size_t n) {
  return refuse(&g_inj, LC_ALLOC_HOST, n) ? NULL : malloc(n);
}

static void arm(int json, long fail_at, int trace) {
  memset(&g_inj, 0, sizeof g_inj);
  g_inj.json = json;
  g_inj.fail_at = fail_at;
  g_inj.trace = trace;
  if (json)
    json_set_alloc_funcs(json_alloc, free);
  else
    lc_set_alloc_hook(lib_hook, &g_inj);
}

static void disarm(void) {
  lc_set_alloc_hook(NULL, NULL);
  json_set_alloc_funcs(malloc, free);
}

/* ---- leaks -----------------------------------------------------------------
 * Under ASan, LeakSanitizer's recoverable check after every run (it reports
 * a leaked block with the stack that allocated it).  Without ASan nothing is
 * checked here: the C library's count of bytes in use moves with its own
 * caches (stdio, OpenBLAS's buffers), which would make the check guess. */

#ifdef LCT_ASAN
#define LEAKS "no leak"
#else
#define LEAKS "leaks unchecked (no ASan)"
#endif

static void check_no_leak(const char *what, long n) {
#ifdef LCT_ASAN
  if (__lsan_do_recoverable_leak_check() != 0)
    fail_msg("%s: a leak after the run whose allocation %ld failed (report above)", what, n);
#else
  (void)what;
  (void)n;
#endif
}

/* ---- folders ---------------------------------------------------------------*/

/* The workflow's output folder removed with all it holds (absent: nothing
 * to do; what could not be removed, check_leftovers reports). */
static void clear_out(const char *dir) {
  (void)lct_tmpdir_remove(dir);
}

/* ---- workflows -------------------------------------------------------------*/

typedef struct wf {
  const char *name;
  lc_status (*run)(const struct wf *w); /* frees all it made */
  lc_backend backend;
  const char *out;       /* the folder it writes, emptied before each run; NULL: none */
  const char *may_leave; /* the one name a failed run may leave in out, or NULL */
  lc_mode mode;          /* of the contexts it creates (0: strict) */
} wf;

static lc_status wf_context(const wf *w) {
  lc_context_params cp;
  lc_context_params_default(&cp);
  cp.backend = w->backend;
  lc_context *ctx = NULL;
  lc_status st = lc_context_create(&cp, &ctx);
  lc_context_free(ctx);
  return st;
}

static lc_status load(const wf *w, const char *path, lc_context **ctx, lc_model **m) {
  lc_context_params cp;
  lc_context_params_default(&cp);
  cp.backend = w->backend;
  cp.mode = w->mode;
  *ctx = NULL;
  *m = NULL;
  lc_status st = lc_context_create(&cp, ctx);
  if (st == LC_OK) st = lc_model_load(*ctx, path, NULL, m);
  return st;
}

/* A context and the model at path, then both freed. */
static lc_status load_and_free(const wf *w, const char *path) {
  lc_context *ctx;
  lc_model *m;
  lc_status st = load(w, path, &ctx, &m);
  lc_model_free(m);
  lc_context_free(ctx);
  return st;
}

static lc_status wf_load_hf(const wf *w) {
  return load_and_free(w, g_model);
}

static lc_status wf_load_llama2c(const wf *w) {
  return load_and_free(w, g_l2c);
}

/* Context, load, session, then generate two sequences (one joining late)
 * and a log-likelihood; outputs are compared with the unfailed run's. */
static int32_t g_ref_tokens[2][4];
static double g_ref_ll;
static int g_have_ref;
static int32_t g_tp; /* the session's tensor-parallel degree (emulated) */

static lc_status wf_generate(const wf *w) {
  lc_context *ctx;
  lc_model *m;
  lc_session *s = NULL;
  lc_status st = load(w, g_model, &ctx, &m);
  lc_session_params sp;
  lc_session_params_default(&sp);
  sp.n_slots = 2;
  sp.max_len = 32;
  sp.tp = g_tp;
  if (st == LC_OK) st = lc_session_create(m, &sp, &s);
  static const int32_t prompt[2][5] = {{1, 5, 9, 12, 3}, {2, 4, 6, 8, 10}};
  int32_t tokens[2][4] = {{-1, -1, -1, -1}, {-1, -1, -1, -1}};
  lc_token_record rec[2][4];
  lc_gen_sequence q[2];
  memset(q, 0, sizeof q);
  for (int i = 0; i < 2; i++) {
    q[i].seq_id = (uint64_t)i;
    q[i].prompt = prompt[i];
    q[i].prompt_len = 5;
    q[i].max_new_tokens = 4;
    q[i].join_step = i;
    q[i].tokens = tokens[i];
    q[i].records = rec[i];
  }
  lc_gen_params gp;
  memset(&gp, 0, sizeof gp);
  lc_sampler_params_default(&gp.sampler);
  if (st == LC_OK) st = lc_generate(s, q, 2, &gp);
  const int generated = st == LC_OK;
  double ll = 0;
  if (st == LC_OK) st = lc_loglik(s, prompt[0], 5, prompt[1], 3, NULL, NULL, &ll, NULL);
  if (st == LC_OK) {
    if (!g_have_ref) {
      memcpy(g_ref_tokens, tokens, sizeof tokens);
      g_ref_ll = ll;
      g_have_ref = 1;
    } else if (memcmp(g_ref_tokens, tokens, sizeof tokens) != 0 || ll != g_ref_ll) {
      st = LC_ERR_INTERNAL; /* a run that succeeded must give the same output */
    }
  } else if (!generated && (tokens[0][0] != -1 || tokens[1][0] != -1)) {
    st = LC_ERR_INTERNAL; /* a failed lc_generate writes no output */
  }
  lc_session_free(s);
  lc_model_free(m);
  lc_context_free(ctx);
  return st;
}

static lc_status wf_tokenizer(const wf *w) {
  (void)w;
  lc_tokenizer *t = NULL;
  lc_chat_template *chat = NULL;
  lc_detokenizer *d = NULL;
  int32_t *ids = NULL, n = 0;
  char *text = NULL, *rendered = NULL;
  static const char hello[] = "héllo <|im_end|> wörld";
  lc_status st = lc_tokenizer_load(g_tokdir, &t);
  if (st == LC_OK) st = lc_tokenizer_encode(t, hello, sizeof hello - 1, 0, &ids, &n);
  if (st == LC_OK) st = lc_tokenizer_decode(t, ids, n, 0, &text, NULL);
  if (st == LC_OK && strcmp(text, hello) != 0) st = LC_ERR_INTERNAL;
  if (st == LC_OK) st = lc_detokenizer_create(t, 0, &d);
  for (int32_t i = 0; st == LC_OK && i < n; i++) {
    const char *piece;
    size_t len;
    st = lc_detokenizer_push(d, ids[i], &piece, &len);
  }
  if (st == LC_OK) st = lc_chat_template_builtin("chatml", &chat);
  const lc_chat_message msgs[2] = {{"system", "be brief"}, {"user", "2+2?"}};
  if (st == LC_OK) st = lc_chat_apply(chat, msgs, 2, 1, &rendered);
  free(rendered);
  free(text);
  free(ids);
  lc_detokenizer_free(d);
  lc_chat_template_free(chat);
  lc_tokenizer_free(t);
  return st;
}

static char g_prompts_text[400];

static lc_status wf_prompts_text(const wf *w) {
  (void)w;
  lc_tokenizer *t = NULL;
  lc_chat_template *chat = NULL;
  lc_prompt_list ps = {NULL, 0};
  lc_status st = lc_tokenizer_load(g_tokdir, &t);
  if (st == LC_OK) st = lc_chat_template_builtin("chatml", &chat);
  lc_prompt_text_params tp = {t, chat, 1};
  if (st == LC_OK) st = lc_prompt_list_read_text(g_prompts_text, &tp, &ps);
  if (st != LC_OK && ps.n != 0) st = LC_ERR_INTERNAL; /* documented: left empty */
  lc_prompt_list_free(&ps);
  lc_chat_template_free(chat);
  lc_tokenizer_free(t);
  return st;
}

static char g_sweep_out[320];

static lc_status sweep_into(const char *out, lc_backend backend) {
  lc_tokenizer *t = NULL;
  lc_chat_template *chat = NULL;
  lc_prompt_list ps = {NULL, 0};
  lc_sweep_result *res = NULL;
  lc_status st = lc_tokenizer_load(g_tokdir, &t);
  if (st == LC_OK) st = lc_chat_template_builtin("plain", &chat);
  lc_prompt_text_params tp = {t, chat, 0};
  if (st == LC_OK) st = lc_prompt_list_read_text(g_prompts_text, &tp, &ps);
  const lc_mode modes[] = {LC_MODE_STRICT};
  const int32_t batches[] = {1, 2};
  const char *positions[] = {"first"};
  lc_sweep_params p;
  lc_sweep_params_default(&p);
  p.model = g_model;
  p.backends = &backend;
  p.n_backends = 1;
  p.modes = modes;
  p.n_modes = 1;
  p.batch_sizes = batches;
  p.n_batch_sizes = 2;
  p.positions = positions;
  p.n_positions = 1;
  p.prompts = &ps;
  p.max_new = 3;
  p.require_all = 1;
  p.out_dir = out;
  p.tokenizer = t;
  if (st == LC_OK) st = lc_sweep_run(&p, &res);
  lc_sweep_result_free(res);
  lc_prompt_list_free(&ps);
  lc_chat_template_free(chat);
  lc_tokenizer_free(t);
  return st;
}

static lc_status wf_sweep(const wf *w) {
  return sweep_into(w->out, w->backend);
}

static char g_runs_a[400], g_runs_b[400];

static lc_status wf_compare(const wf *w) {
  (void)w;
  lc_records_report *r = NULL;
  lc_status st = lc_verify_records(g_runs_a, g_runs_b, &r);
  if (st == LC_OK && r->n_fail != 0) st = LC_ERR_INTERNAL;
  lc_records_report_free(r);
  return st;
}

static lc_status wf_synth(const wf *w) {
  lc_synth_params p;
  lc_synth_params_default(&p);
  p.config.dim = 16;
  p.config.hidden_dim = 24;
  p.config.n_layers = 1;
  p.config.n_heads = 2;
  p.config.n_kv_heads = 1;
  p.config.head_dim = 8;
  p.config.vocab_size = 40;
  p.config.max_seq_len = 16;
  p.n_shards = 2;
  return lc_synth_write(w->out, &p);
}

/* ---- the walk --------------------------------------------------------------*/

/* Every entry of the output folder (absent: none) must be w->may_leave. */
static void check_leftovers(const wf *w, const char *why) {
  if (!w->out) return;
  DIR *d = opendir(w->out);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..") || (w->may_leave && !strcmp(name, w->may_leave)))
      continue;
    char bad[256];
    snprintf(bad, sizeof bad, "%s", name);
    closedir(d);
    fail_msg("%s: %s left '%s' behind", w->name, why, bad);
  }
  closedir(d);
}

/* One unfailed run counts the allocations; then the N-th fails, every N.
 * The library's own allocations (json 0): the run must return
 * LC_ERR_OUT_OF_MEMORY.  jansson's (json 1): jansson does not report all of
 * its allocation failures (its lexer drops a character it cannot store, and
 * reports others as syntax errors), so the run may end in any status, or
 * even succeed on a wrong parse; it must still not crash, leak or leave a
 * half file.  *n_status counts the statuses of the json walk. */
static long walk(const wf *w, int json, long n_status[LC_ERR_NOT_FOUND + 2]) {
  if (w->out) clear_out(w->out);
  arm(json, 0, 0);
  lc_status st = w->run(w);
  disarm();
  if (st != LC_OK) fail_msg("%s: %s: %s", w->name, lc_status_name(st), lc_last_error(NULL));
  const long total = g_inj.count;
  for (long n = 1; n <= total; n++) {
    if (w->out) clear_out(w->out);
    arm(json, n, 0);
    st = w->run(w);
    disarm();
    if (!json && g_inj.fired && st != LC_ERR_OUT_OF_MEMORY) { /* again, to show where */
      const lc_status st1 = st;
      if (w->out) clear_out(w->out);
      arm(json, n, 1);
      w->run(w);
      disarm();
      st = st1;
    }
    if (!g_inj.fired) {
      if (st != LC_OK) fail_msg("%s: run %ld failed with nothing refused", w->name, n);
      continue; /* fewer allocations this time: fine when it succeeded */
    }
    if (n_status) n_status[(unsigned)st <= LC_ERR_NOT_FOUND ? (int)st : LC_ERR_NOT_FOUND + 1]++;
    if (!json && st != LC_ERR_OUT_OF_MEMORY)
      fail_msg(
          "%s: allocation %ld of %ld (%s, %zu bytes) refused: %s, not LC_ERR_OUT_OF_MEMORY: "
          "%s",
          w->name, n, total, g_inj.fired_kind == LC_ALLOC_DEVICE ? "device" : "host",
          g_inj.fired_bytes, lc_status_name(st), lc_last_error(NULL));
    check_no_leak(w->name, n);
    if (st != LC_OK) check_leftovers(w, "a refused allocation");
  }
  return total;
}

/* Full disk: each file write stops at `limit` bytes (EFBIG) for limits
 * spread over the output's size; the run must report LC_ERR_IO and leave no
 * half file.  Returns the number of limits that made the run fail. */
static int walk_disk(const wf *w) {
  clear_out(w->out);
  lc_status st = w->run(w);
  if (st != LC_OK) fail_msg("%s: %s: %s", w->name, lc_status_name(st), lc_last_error(NULL));
  struct rlimit old;
  getrlimit(RLIMIT_FSIZE, &old);
  int failed = 0;
  static const rlim_t limits[] = {0, 1, 7, 64, 200, 500, 1000, 2000, 4000, 9000, 20000, 60000};
  for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
    clear_out(w->out);
    struct rlimit lim = old;
    lim.rlim_cur = limits[i];
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) fail_msg("setrlimit: cannot lower RLIMIT_FSIZE");
    st = w->run(w);
    setrlimit(RLIMIT_FSIZE, &old);
    if (st == LC_OK) continue; /* every file fit */
    failed++;
    if (st != LC_ERR_IO)
      fail_msg("%s: files limited to %lu bytes: %s, not LC_ERR_IO: %s", w->name,
               (unsigned long)limits[i], lc_status_name(st), lc_last_error(NULL));
    check_no_leak(w->name, (long)limits[i]);
    check_leftovers(w, "a full disk");
  }
  return failed;
}

/* ---- setup -----------------------------------------------------------------*/

static int group_setup(void **state) {
  (void)state;
  signal(SIGXFSZ, SIG_IGN); /* writes past RLIMIT_FSIZE fail with EFBIG instead */
  lct_tmpdir_make(g_root, sizeof g_root, "allocfail");
  snprintf(g_model, sizeof g_model, "%s/m", g_root);
  lct_synth_tiny_vocab(g_model, 5, LC_DTYPE_BF16, 2, 64, 300);
  snprintf(g_tokdir, sizeof g_tokdir, "%s/tok", g_root);
  mkdir(g_tokdir, 0755);
  assert_int_equal(lc_tokenizer_write_bytes(g_tokdir), LC_OK);
  /* the byte tokenizer beside the model too (for the sweep's text) */
  assert_int_equal(lc_tokenizer_write_bytes(g_model), LC_OK);
  snprintf(g_prompts_text, sizeof g_prompts_text, "%s/prompts.jsonl", g_root);
  FILE *f = fopen(g_prompts_text, "w");
  assert_non_null(f);
  fputs(
      "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": \"3+4?\"}], \"answer\": \"7\"}\n"
      "{\"tokens\": [1, 2, 3]}\n",
      f);
  fclose(f);
  snprintf(g_sweep_out, sizeof g_sweep_out, "%s/sweep", g_root);
  char a[300], b[300];
  snprintf(a, sizeof a, "%s/ra", g_root);
  snprintf(b, sizeof b, "%s/rb", g_root);
  if (sweep_into(a, LC_BACKEND_CPU) != LC_OK || sweep_into(b, LC_BACKEND_CPU) != LC_OK)
    fail_msg("sweep for the compare workflow: %s", lc_last_error(NULL));
  snprintf(g_runs_a, sizeof g_runs_a, "%s/runs.jsonl", a);
  snprintf(g_runs_b, sizeof g_runs_b, "%s/runs.jsonl", b);
  snprintf(g_l2c, sizeof g_l2c, "%s/stories260K.bin", lct_models_dir());
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  disarm();
  return lct_tmpdir_remove(g_root);
}

static void run_walk(const wf *w) {
  double t0 = lct_now_s();
  long total = walk(w, 0, NULL);
  printf("%-16s %5ld allocations, each refused once: LC_ERR_OUT_OF_MEMORY every time, " LEAKS
         ", no half file (%.1f s)\n",
         w->name, total, lct_now_s() - t0);
  if (!getenv("LCT_ALLOC_JSON")) return;
  t0 = lct_now_s();
  long n_status[LC_ERR_NOT_FOUND + 2] = {0};
  total = walk(w, 1, n_status);
  if (total == 0) return;
  char spread[400] = "";
  for (int i = 0; i <= LC_ERR_NOT_FOUND; i++)
    if (n_status[i]) {
      size_t used = strlen(spread);
      snprintf(spread + used, sizeof spread - used, "%s%s %ld", used ? ", " : "",
               lc_status_name((lc_status)i), n_status[i]);
    }
  printf("%-16s %5ld jansson allocations, each refused once: no crash, " LEAKS
         ", no half file "
         "(%s) (%.1f s)\n",
         w->name, total, spread, lct_now_s() - t0);
}

static void test_alloc_fail_load(void **state) {
  (void)state;
  const wf ctx = {"context", wf_context, LC_BACKEND_CPU, NULL, NULL, LC_MODE_STRICT};
  const wf hf = {"load hf", wf_load_hf, LC_BACKEND_CPU, NULL, NULL, LC_MODE_STRICT};
  run_walk(&ctx);
  run_walk(&hf);
  FILE *f = fopen(g_l2c, "rb");
  if (!f) {
    printf("load llama2.c: skipped, no %s (set LC_MODELS_DIR)\n", g_l2c);
    return;
  }
  fclose(f);
  const wf l2c = {"load llama2.c", wf_load_llama2c, LC_BACKEND_CPU, NULL, NULL, LC_MODE_STRICT};
  run_walk(&l2c);
}

static void test_alloc_fail_generate(void **state) {
  (void)state;
  g_have_ref = 0;
  g_tp = 0;
  const wf gen = {"generate+loglik", wf_generate, LC_BACKEND_CPU, NULL, NULL, LC_MODE_STRICT};
  run_walk(&gen);
  /* tp 2 (emulated: the ranks' views, caches and scratch): every run that
   * succeeds gives tp 1's tokens and log-likelihood, bitwise */
  g_tp = 2;
  const wf gen_tp = {"generate+loglik, tp 2", wf_generate, LC_BACKEND_CPU, NULL, NULL,
                     LC_MODE_STRICT};
  run_walk(&gen_tp);
  g_have_ref = 0; /* reference at tp 2: the row-parallel layout's copies, its own outputs */
  const wf ref_tp = {"reference generate, tp 2", wf_generate, LC_BACKEND_CPU, NULL, NULL,
                     LC_MODE_REFERENCE};
  run_walk(&ref_tp);
  g_tp = 0;
  g_have_ref = 0; /* fast mode's own tokens */
  const wf fast = {"fast generate", wf_generate, LC_BACKEND_CPU, NULL, NULL, LC_MODE_FAST};
  run_walk(&fast);
}

static void test_alloc_fail_text(void **state) {
  (void)state;
  const wf tok = {"tokenizer+chat", wf_tokenizer, LC_BACKEND_CPU, NULL, NULL, LC_MODE_STRICT};
  const wf pt = {"prompt file", wf_prompts_text, LC_BACKEND_CPU, NULL, NULL, LC_MODE_STRICT};
  run_walk(&tok);
  run_walk(&pt);
}

static void test_alloc_fail_sweep_compare(void **state) {
  (void)state;
  const wf sw = {"sweep",       wf_sweep, LC_BACKEND_CPU, g_sweep_out, "runs.jsonl.partial",
                 LC_MODE_STRICT};
  const wf cmp = {"compare", wf_compare, LC_BACKEND_CPU, NULL, NULL, LC_MODE_STRICT};
  run_walk(&sw);
  run_walk(&cmp);
}

static void test_alloc_fail_synth(void **state) {
  (void)state;
  char out[320];
  snprintf(out, sizeof out, "%s/synth", g_root);
  const wf sy = {"synth", wf_synth, LC_BACKEND_CPU, out, NULL, LC_MODE_STRICT};
  run_walk(&sy);
}

static void test_full_disk(void **state) {
  (void)state;
  char out[320];
  snprintf(out, sizeof out, "%s/synth", g_root);
  const wf sy = {"synth", wf_synth, LC_BACKEND_CPU, out, NULL, LC_MODE_STRICT};
  const wf sw = {"sweep",       wf_sweep, LC_BACKEND_CPU, g_sweep_out, "runs.jsonl.partial",
                 LC_MODE_STRICT};
  int a = walk_disk(&sy), b = walk_disk(&sw);
  printf(
      "full disk: synth failed at %d of 12 size limits, sweep at %d: LC_ERR_IO each time, "
      "no half file, " LEAKS "\n",
      a, b);
  assert_true(a > 0 && b > 0); /* the limits reach into the outputs */
}

static void test_alloc_fail_cuda(void **state) {
  (void)state;
  if (!lct_have_cuda()) skip();
  g_have_ref = 0;
  const wf gen = {"cuda generate", wf_generate, LC_BACKEND_CUDA, NULL, NULL, LC_MODE_STRICT};
  run_walk(&gen);
  g_have_ref = 0;
  const wf fast = {"cuda fast gen", wf_generate, LC_BACKEND_CUDA, NULL, NULL, LC_MODE_FAST};
  run_walk(&fast);
  const wf sw = {"cuda sweep",         wf_sweep,      LC_BACKEND_CUDA, g_sweep_out,
                 "runs.jsonl.partial", LC_MODE_STRICT};
  run_walk(&sw);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alloc_fail_load),  cmocka_unit_test(test_alloc_fail_generate),
      cmocka_unit_test(test_alloc_fail_text),  cmocka_unit_test(test_alloc_fail_sweep_compare),
      cmocka_unit_test(test_alloc_fail_synth), cmocka_unit_test(test_full_disk),
      cmocka_unit_test(test_alloc_fail_cuda),
  };
  /* LCT_FILTER=test_full_disk (a cmocka pattern) runs one test */
  if (getenv("LCT_FILTER")) cmocka_set_test_filter(getenv("LCT_FILTER"));
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

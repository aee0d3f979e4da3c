/*
 * tests/test_experiment.c — the experiment engine through the public API
 * alone (layercast_experiment.h; no internal header is included): prompt
 * lists, a sweep with its records and summaries, an interrupted sweep
 * resumed, two sweeps verified against each other and refused when their
 * setups differ, the teacher-forced replay, and the errors a user meets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layercast_experiment.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------------*/

static void ok(lc_status st, const char *what) {
  if (st != LC_OK) fail_msg("%s: %s: %s", what, lc_status_name(st), lc_last_error(NULL));
}

static void prompts3(lc_prompt_list *ps) {
  const int32_t a[] = {1, 2, 3}, b[] = {4, 5, 6, 7}, c[] = {9}, ans[] = {7};
  ok(lc_prompt_list_add(ps, a, 3, ans, 1), "add");
  ok(lc_prompt_list_add(ps, b, 4, NULL, 0), "add");
  ok(lc_prompt_list_add(ps, c, 1, NULL, 0), "add");
}

/* The CPU strict + reference grid: batch 1 and 3, first and last. */
static const lc_mode MODES[] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
static const int32_t BATCHES[] = {1, 3};
static const char *const POSITIONS[] = {"first", "last"};

static void grid(lc_sweep_params *sp, const char *model, const lc_prompt_list *ps,
                 const char *out) {
  lc_sweep_params_default(sp);
  sp->model = model;
  sp->modes = MODES;
  sp->n_modes = 2;
  sp->batch_sizes = BATCHES;
  sp->n_batch_sizes = 2;
  sp->positions = POSITIONS;
  sp->n_positions = 2;
  sp->prompts = ps;
  sp->max_new = 6;
  sp->out_dir = out;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n + 4096 > cap) buf = realloc(buf, cap = 2 * cap + 4096);
    size_t k = fread(buf + n, 1, 4096, f);
    n += k;
    if (k == 0) break;
  }
  fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static void progress_count(void *user, int64_t done, int64_t total) {
  int64_t *seen = user;
  assert_true(done <= total);
  seen[0]++;
  seen[1] = done;
  seen[2] = total;
}

/* ---- tests ----------------------------------------------------------------------*/

/* A sweep through the public API: every group runs, strict gives one output
 * per prompt, the progress callback counts every generation, and the files
 * are there with one record per run. */
static void test_experiment_sweep(void **state) {
  (void)state;
  char root[256], model[300], out[300], path[400];
  lct_tmpdir_make(root, sizeof root, "exp");
  snprintf(model, sizeof model, "%s/m", root);
  snprintf(out, sizeof out, "%s/s", root);
  lct_synth_tiny(model, 3, LC_DTYPE_BF16, 1, 64);
  lc_prompt_list ps = {NULL, 0};
  prompts3(&ps);
  lc_sweep_params sp;
  grid(&sp, model, &ps, out);
  int64_t seen[3] = {0, 0, 0};
  sp.progress = progress_count;
  sp.progress_user = seen;
  lc_sweep_result *r = NULL;
  ok(lc_sweep_run(&sp, &r), "lc_sweep_run");
  assert_int_equal(r->n_groups, 2);
  assert_int_equal(r->n_prompts, 3);
  /* batch 1: first == last (one cell); batch 3: two cells */
  assert_int_equal(r->groups[0].n_runs, 3);
  assert_true(r->groups[0].available && r->groups[0].have_metrics);
  assert_int_equal(r->groups[0].gm.unique_max, 1); /* strict */
  assert_int_equal(r->n_generated, 2 * 3 * 3);
  assert_int_equal(seen[1], 18);
  assert_int_equal(seen[2], 18);
  const char *files[] = {"runs.jsonl", "summary.json", "summary.csv", "summary_prompts.csv"};
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/%s", out, files[i]);
    assert_true(exists(path));
  }
  snprintf(path, sizeof path, "%s/runs.jsonl.partial", out);
  assert_false(exists(path));
  size_t len = 0;
  snprintf(path, sizeof path, "%s/runs.jsonl", out);
  char *runs = slurp(path, &len);
  assert_non_null(runs);
  int lines = 0;
  for (size_t i = 0; i < len; i++) lines += runs[i] == '\n';
  assert_int_equal(lines, 6);
  assert_non_null(strstr(runs, "\"weights_hash\""));
  assert_non_null(strstr(runs, "\"prompts_hash\""));
  free(runs);
  lc_sweep_result_free(r);
  lc_prompt_list_free(&ps);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

/* An interrupted sweep (its records cut after two runs, the third half
 * written) is refused without resume and resumed with it: the records and
 * summaries equal an uninterrupted sweep's, and only the missing runs ran. */
static void test_experiment_sweep_resume(void **state) {
  (void)state;
  char root[256], model[300], full[300], cut[300], path[400], path2[400];
  lct_tmpdir_make(root, sizeof root, "resume");
  snprintf(model, sizeof model, "%s/m", root);
  snprintf(full, sizeof full, "%s/full", root);
  snprintf(cut, sizeof cut, "%s/cut", root);
  lct_synth_tiny(model, 4, LC_DTYPE_BF16, 1, 64);
  lc_prompt_list ps = {NULL, 0};
  prompts3(&ps);
  lc_sweep_params sp;
  grid(&sp, model, &ps, full);
  lc_sweep_result *r = NULL;
  ok(lc_sweep_run(&sp, &r), "the whole sweep");
  lc_sweep_result_free(r);
  size_t len = 0;
  snprintf(path, sizeof path, "%s/runs.jsonl", full);
  char *runs = slurp(path, &len);
  assert_non_null(runs);
  /* two whole lines and half of the third, as a killed process leaves them */
  const char *p = strchr(runs, '\n');
  p = strchr(p + 1, '\n');
  size_t keep = (size_t)(p - runs) + 1 + 40;
  mkdir(cut, 0777);
  snprintf(path2, sizeof path2, "%s/runs.jsonl.partial", cut);
  FILE *f = fopen(path2, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(runs, 1, keep, f), keep);
  fclose(f);
  grid(&sp, model, &ps, cut);
  assert_int_equal(lc_sweep_run(&sp, &r), LC_ERR_INVALID_ARGUMENT);
  assert_null(r);
  assert_non_null(strstr(lc_last_error(NULL), "interrupted"));
  sp.resume = 1;
  ok(lc_sweep_run(&sp, &r), "the resumed sweep");
  assert_int_equal(r->n_resumed, 2 * 3);
  assert_int_equal(r->n_generated, 4 * 3);
  lc_sweep_result_free(r);
  size_t len2 = 0;
  snprintf(path2, sizeof path2, "%s/runs.jsonl", cut);
  char *runs2 = slurp(path2, &len2);
  assert_non_null(runs2);
  /* the same runs in the same order; only the fingerprints' hosts could
   * differ, and here they do not */
  assert_int_equal(len, len2);
  assert_memory_equal(runs, runs2, len);
  free(runs2);
  free(runs);
  const char *sums[] = {"summary.csv", "summary_prompts.csv"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", full, sums[i]);
    snprintf(path2, sizeof path2, "%s/%s", cut, sums[i]);
    char *a = slurp(path, &len), *b = slurp(path2, &len2);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    free(a);
    free(b);
  }
  /* resuming with another setup is refused, naming the field */
  sp.max_new = 7;
  snprintf(path, sizeof path, "%s/runs.jsonl", cut);
  assert_int_equal(lc_sweep_run(&sp, &r), LC_ERR_MISMATCH);
  assert_non_null(strstr(lc_last_error(NULL), "max_new"));
  assert_true(exists(path)); /* the finished records are left as they were */
  lc_prompt_list_free(&ps);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

/* Nothing is written before the inputs are checked: a prompt past the
 * vocabulary, a stop token past it, prompts too long for the model, and a
 * grid without runs all fail with the folder never created. */
static void test_experiment_sweep_validates_first(void **state) {
  (void)state;
  char root[256], model[300], out[300];
  lct_tmpdir_make(root, sizeof root, "valid");
  snprintf(model, sizeof model, "%s/m", root);
  snprintf(out, sizeof out, "%s/s", root);
  lct_synth_tiny(model, 5, LC_DTYPE_BF16, 1, 64);
  lc_prompt_list ps = {NULL, 0};
  prompts3(&ps);
  const int32_t bad[] = {1, 64};
  ok(lc_prompt_list_add(&ps, bad, 2, NULL, 0), "add");
  lc_sweep_params sp;
  grid(&sp, model, &ps, out);
  lc_sweep_result *r = NULL;
  assert_int_equal(lc_sweep_run(&sp, &r), LC_ERR_OUT_OF_RANGE);
  assert_non_null(strstr(lc_last_error(NULL), "prompt 3"));
  assert_false(exists(out));
  lc_prompt_list_free(&ps);
  prompts3(&ps);
  sp.stop = lc_stop_set_one(64);
  assert_int_equal(lc_sweep_run(&sp, &r), LC_ERR_OUT_OF_RANGE);
  assert_non_null(strstr(lc_last_error(NULL), "stop token 64"));
  sp.stop.n = 0;
  sp.max_new = 62; /* prompt 1 has 4 tokens: 66 > 64 positions */
  assert_int_equal(lc_sweep_run(&sp, &r), LC_ERR_OUT_OF_RANGE);
  assert_non_null(strstr(lc_last_error(NULL), "past the model's 64"));
  sp.max_new = 6;
  const char *const far[] = {"5"};
  sp.positions = far;
  sp.n_positions = 1;
  assert_int_equal(lc_sweep_run(&sp, &r), LC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(lc_last_error(NULL), "no runs"));
  assert_false(exists(out));
  assert_null(r);
  lc_prompt_list_free(&ps);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

/* A grid of CUDA groups on a machine without a GPU runs nothing and says
 * so (LC_ERR_NO_DEVICE or, in a CPU-only build, LC_ERR_UNSUPPORTED); with
 * a CPU group beside it, the CUDA groups are skipped and named. */
static void test_experiment_sweep_without_gpu(void **state) {
  (void)state;
  if (lct_have_cuda()) skip();
  char root[256], model[300], out[300];
  lct_tmpdir_make(root, sizeof root, "nogpu");
  snprintf(model, sizeof model, "%s/m", root);
  snprintf(out, sizeof out, "%s/s", root);
  lct_synth_tiny(model, 6, LC_DTYPE_BF16, 1, 64);
  lc_prompt_list ps = {NULL, 0};
  prompts3(&ps);
  lc_sweep_params sp;
  grid(&sp, model, &ps, out);
  static const lc_backend cuda[] = {LC_BACKEND_CUDA}, both[] = {LC_BACKEND_CPU, LC_BACKEND_CUDA};
  sp.backends = cuda;
  lc_sweep_result *r = NULL;
  lc_status st = lc_sweep_run(&sp, &r);
  assert_true(st == LC_ERR_NO_DEVICE || st == LC_ERR_UNSUPPORTED);
  assert_false(exists(out));
  sp.backends = both;
  sp.n_backends = 2;
  ok(lc_sweep_run(&sp, &r), "cpu + cuda");
  assert_true(r->groups[0].available);
  assert_false(r->groups[2].available);
  assert_true(r->groups[2].skip_reason[0] != '\0');
  assert_non_null(strstr(r->notes, "cuda/strict is not available here"));
  lc_sweep_result_free(r);
  sp.require_all = 1;
  st = lc_sweep_run(&sp, &r);
  assert_true(st == LC_ERR_NO_DEVICE || st == LC_ERR_UNSUPPORTED);
  lc_prompt_list_free(&ps);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

/* Two sweeps of one setup verify (strict equal); records of another setup
 * (other max_new, other weights) are not comparable, with the fields named,
 * never a reproducibility failure. */
static void test_experiment_verify_records(void **state) {
  (void)state;
  char root[256], m1[300], m2[300], s[4][300], a[400], b[400];
  lct_tmpdir_make(root, sizeof root, "records");
  snprintf(m1, sizeof m1, "%s/m1", root);
  snprintf(m2, sizeof m2, "%s/m2", root);
  lct_synth_tiny(m1, 7, LC_DTYPE_BF16, 1, 64);
  lct_synth_tiny(m2, 8, LC_DTYPE_BF16, 1, 64);
  lc_prompt_list ps = {NULL, 0};
  prompts3(&ps);
  for (int i = 0; i < 4; i++) {
    snprintf(s[i], sizeof s[i], "%s/s%d", root, i);
    lc_sweep_params sp;
    grid(&sp, i == 3 ? m2 : m1, &ps, s[i]);
    if (i == 2) sp.max_new = 5;
    lc_sweep_result *r = NULL;
    ok(lc_sweep_run(&sp, &r), "lc_sweep_run");
    lc_sweep_result_free(r);
  }
  snprintf(a, sizeof a, "%s/runs.jsonl", s[0]);
  lc_records_report *rep = NULL;
  snprintf(b, sizeof b, "%s/runs.jsonl", s[1]);
  ok(lc_verify_records(a, b, &rep), "lc_verify_records");
  assert_int_equal(rep->n_fail, 0);
  assert_int_equal(rep->n_matched, 2 * 3 * 3);
  assert_int_equal(rep->n_same, rep->n_matched);
  assert_string_equal(rep->fingerprint_diff, "");
  lc_records_report_free(rep);
  snprintf(b, sizeof b, "%s/runs.jsonl", s[2]);
  assert_int_equal(lc_verify_records(a, b, &rep), LC_ERR_MISMATCH);
  assert_null(rep);
  assert_non_null(strstr(lc_last_error(NULL), "not comparable"));
  assert_non_null(strstr(lc_last_error(NULL), "max_new: 6 | 5"));
  snprintf(b, sizeof b, "%s/runs.jsonl", s[3]);
  assert_int_equal(lc_verify_records(a, b, &rep), LC_ERR_MISMATCH);
  assert_non_null(strstr(lc_last_error(NULL), "weights_hash"));
  /* a CPU-only sweep against a CUDA-only one: no cell in common */
  lc_sweep_params sp;
  static const lc_mode strict_only[] = {LC_MODE_STRICT};
  grid(&sp, m1, &ps, s[3]);
  sp.modes = strict_only;
  sp.n_modes = 1;
  lc_sweep_result *r = NULL;
  ok(lc_sweep_run(&sp, &r), "strict only");
  lc_sweep_result_free(r);
  snprintf(b, sizeof b, "%s/runs.jsonl", s[3]);
  lc_records_report *rep2 = NULL;
  ok(lc_verify_records(a, b, &rep2), "a subset of the cells");
  assert_int_equal(rep2->n_unmatched, 3 * 3);
  lc_records_report_free(rep2);
  snprintf(b, sizeof b, "%s/nothing.jsonl", root);
  assert_int_equal(lc_verify_records(a, b, &rep), LC_ERR_NOT_FOUND);
  lc_prompt_list_free(&ps);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

/* A sequence with neither "tokens" nor "tokens_hash" is a format error,
 * not a bitwise failure of a file against itself (found by
 * tests/fuzz/fuzz_records.c). */
static void test_experiment_verify_records_no_tokens(void **state) {
  (void)state;
  char root[256], a[300];
  lct_tmpdir_make(root, sizeof root, "records_nt");
  snprintf(a, sizeof a, "%s/a.jsonl", root);
  FILE *f = fopen(a, "w");
  assert_non_null(f);
  fputs(
      "{\"record_version\": 2, \"kind\": \"sweep\", \"cell\": {\"backend\": \"cpu\", "
      "\"mode\": \"strict\", \"batch_size\": 1, \"position\": 0, \"repeat\": 0}, "
      "\"setup\": {}, \"fingerprint\": {}, \"sequences\": [{\"prompt\": 0}]}\n",
      f);
  assert_int_equal(fclose(f), 0);
  lc_records_report *rep = (lc_records_report *)0x1;
  assert_int_equal(lc_verify_records(a, a, &rep), LC_ERR_FORMAT);
  assert_null(rep);
  assert_non_null(strstr(lc_last_error(NULL), "neither \"tokens\""));
  /* one cell and prompt twice (tests/fuzz/fuzz_records.c): refused, not a
   * bitwise failure against itself */
  f = fopen(a, "w");
  assert_non_null(f);
  for (int i = 0; i < 2; i++)
    fprintf(f,
            "{\"record_version\": 2, \"kind\": \"sweep\", \"cell\": {\"backend\": \"cpu\", "
            "\"mode\": \"strict\", \"batch_size\": 1, \"position\": 0, \"repeat\": 0}, "
            "\"setup\": {}, \"fingerprint\": {}, \"sequences\": [{\"prompt\": 0, "
            "\"tokens\": [%d], \"tokens_hash\": \"x%d\"}]}\n",
            i, i);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(lc_verify_records(a, a, &rep), LC_ERR_FORMAT);
  assert_null(rep);
  assert_non_null(strstr(lc_last_error(NULL), "appears a second time"));
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

/* Prompt files: the errors name the file and the line; a directory or a
 * missing file says so; a good file round-trips through write and read,
 * and its hash follows its content. */
static void test_experiment_prompt_files(void **state) {
  (void)state;
  char root[256], path[300];
  lct_tmpdir_make(root, sizeof root, "prompts");
  lc_prompt_list ps = {NULL, 0};
  assert_int_equal(lc_prompt_list_read(root, &ps), LC_ERR_IO);
  assert_non_null(strstr(lc_last_error(NULL), "is a directory"));
  snprintf(path, sizeof path, "%s/none.jsonl", root);
  assert_int_equal(lc_prompt_list_read(path, &ps), LC_ERR_NOT_FOUND);
  snprintf(path, sizeof path, "%s/p.jsonl", root);
  static const char *const bad[] = {"{\"tokens\": [1, 2]}\n{\"tokens\": [1, -2]}\n",
                                    "\n{\"tokens\": []}\n",
                                    "{\"tokens\": [1]\n",
                                    "\n\n",
                                    "{\"prompt\": \"two and two\"}\n",
                                    "{\"tokens\": [1], \"prompt\": \"x\"}\n",
                                    "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n",
                                    "{\"tokens\": [1], \"answer\": 42}\n",
                                    "{\"prompt\": 7}\n"};
  static const char *const why[] = {":2: \"tokens\" holds",
                                    ":2: \"tokens\" is empty",
                                    ":1: not JSON",
                                    "holds no prompts",
                                    ":1: \"prompt\" is text: give the model's tokenizer",
                                    ":1: give one of",
                                    ":1: \"messages\" is text",
                                    ":1: \"answer\" is not an array",
                                    ":1: \"prompt\" is not a string"};
  for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
    FILE *f = fopen(path, "w");
    fputs(bad[i], f);
    fclose(f);
    assert_int_equal(lc_prompt_list_read(path, &ps), LC_ERR_FORMAT);
    assert_non_null(strstr(lc_last_error(NULL), why[i]));
    assert_int_equal(ps.n, 0);
  }
  /* a text answer (and a prompt's text) is kept, written back and hashed */
  {
    FILE *f = fopen(path, "w");
    fputs("{\"tokens\": [5, 6], \"text\": \"x y\", \"answer\": \"1,234\"}\n", f);
    fclose(f);
    ok(lc_prompt_list_read(path, &ps), "a text answer");
    assert_int_equal(ps.n, 1);
    assert_string_equal(ps.v[0].answer_text, "1,234");
    assert_string_equal(ps.v[0].text, "x y");
    assert_null(ps.v[0].answer);
    char t1[LC_HASH_HEX_LEN], t2[LC_HASH_HEX_LEN];
    ok(lc_prompt_list_hash(&ps, t1), "hash");
    ok(lc_prompt_list_write(&ps, path), "write");
    lc_prompt_list_free(&ps);
    ok(lc_prompt_list_read(path, &ps), "read back");
    assert_string_equal(ps.v[0].answer_text, "1,234");
    ok(lc_prompt_list_hash(&ps, t2), "hash");
    assert_string_equal(t1, t2);
    ps.v[0].answer_text[0] = '2'; /* the answer is in the hash */
    ok(lc_prompt_list_hash(&ps, t2), "hash");
    assert_string_not_equal(t1, t2);
    lc_prompt_list_free(&ps);
  }
  prompts3(&ps);
  char h1[LC_HASH_HEX_LEN], h2[LC_HASH_HEX_LEN];
  ok(lc_prompt_list_hash(&ps, h1), "hash");
  ok(lc_prompt_list_write(&ps, path), "write");
  lc_prompt_list back = {NULL, 0};
  ok(lc_prompt_list_read(path, &back), "read");
  ok(lc_prompt_list_hash(&back, h2), "hash");
  assert_string_equal(h1, h2);
  assert_int_equal(back.n, 3);
  assert_int_equal(back.v[0].n_answer, 1);
  assert_null(back.v[1].answer);
  back.v[2].tokens[0]++;
  ok(lc_prompt_list_hash(&back, h2), "hash");
  assert_string_not_equal(h1, h2);
  lc_prompt_list_free(&back);
  lc_prompt_list_free(&ps);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

/* The replay through the public API: strict against strict at another batch
 * and row is identical in every bit; strict against reference differs from
 * layer 0; tokens past the vocabulary are refused. */
static void test_experiment_replay(void **state) {
  (void)state;
  char root[256], model[300];
  lct_tmpdir_make(root, sizeof root, "replay");
  snprintf(model, sizeof model, "%s/m", root);
  lct_synth_tiny(model, 9, LC_DTYPE_BF16, 1, 64);
  lc_replay_params rp;
  lc_replay_params_default(&rp);
  rp.model = model;
  rp.max_new = 8;
  rp.b.mode = LC_MODE_STRICT;
  rp.b.batch = 4;
  rp.b.position = 2;
  rp.prefill_chunk = 2;
  lc_replay *r = NULL;
  ok(lc_replay_create(&rp, &r), "lc_replay_create");
  assert_int_equal(lc_replay_model_config(r)->vocab_size, 64);
  const int32_t toks[] = {3, 1, 4, 1, 5};
  lc_prompt p = {(int32_t *)toks, 5, NULL, 0, NULL, NULL};
  lc_replay_result *res = NULL;
  ok(lc_replay_run(r, &p, 0, NULL, 0, &res), "lc_replay_run");
  assert_int_equal(res->n_generated, 8);
  assert_int_equal(res->first_layer, -1);
  assert_int_equal(res->logits_ndiff, 0);
  assert_int_equal(res->n_flips, 0);
  char *json = NULL;
  ok(lc_replay_result_json(res, &json), "json");
  assert_non_null(strstr(json, "\"identical\": true"));
  lc_string_free(json);
  lc_replay_result_free(res);
  const int32_t given[] = {2, 64};
  assert_int_equal(lc_replay_run(r, &p, 0, given, 2, &res), LC_ERR_OUT_OF_RANGE);
  assert_null(res);
  lc_replay_free(r);
  rp.b.mode = LC_MODE_REFERENCE;
  ok(lc_replay_create(&rp, &r), "lc_replay_create");
  ok(lc_replay_run(r, &p, 0, NULL, 0, &res), "lc_replay_run");
  assert_int_equal(res->first_layer, 0);
  lc_replay_result_free(res);
  lc_replay_free(r);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

/* The matmul probe: strict gives one result at every batch size. */
static void test_experiment_matmul_probe(void **state) {
  (void)state;
  static const lc_mode modes[] = {LC_MODE_STRICT, LC_MODE_REFERENCE};
  lc_probe_params p = {96, 40, 1, LC_BACKEND_CPU, 0, 1, modes, 2};
  lc_probe_result r;
  ok(lc_matmul_probe(&p, &r), "lc_matmul_probe");
  assert_int_equal(r.n_modes, 2);
  assert_int_equal(r.modes[0].distinct, 1);
  assert_true(r.modes[1].max_normwise < 1e-5);
  p.k = 0;
  assert_int_equal(lc_matmul_probe(&p, &r), LC_ERR_INVALID_ARGUMENT);
}

/* Text end to end: a prompt file of text and messages through the
 * byte-level tokenizer of lc_tokenizer_write_bytes and the chat format
 * detected from its template, a sweep that decodes every output into
 * the records and scores text answers (EXACT: one prompt's answer is its
 * own strict output, one is wrong, one has none): accuracy 1/2 in every
 * configuration, Std@Acc 0. */
static void test_experiment_text_sweep(void **state) {
  (void)state;
  char root[256], model[300], path[400], out[300];
  lct_tmpdir_make(root, sizeof root, "text");
  snprintf(model, sizeof model, "%s/m", root);
  lct_synth_tiny_vocab(model, 9, LC_DTYPE_BF16, 1, 128, 320); /* room for 259 ids */
  ok(lc_tokenizer_write_bytes(model), "lc_tokenizer_write_bytes");
  lc_tokenizer *tok = NULL;
  ok(lc_tokenizer_load(model, &tok), "lc_tokenizer_load");
  lc_chat_template *chat = NULL;
  ok(lc_chat_template_select(NULL, tok, &chat), "lc_chat_template_select");
  assert_string_equal(lc_chat_template_name(chat), "chatml");
  snprintf(path, sizeof path, "%s/p.jsonl", root);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(
      "{\"prompt\": \"What is 2+2?\"}\n"
      "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, "
      "{\"role\": \"user\", \"content\": \"Name a colour.\"}]}\n"
      "{\"tokens\": [5, 6, 7]}\n",
      f);
  fclose(f);
  lc_prompt_list ps = {NULL, 0};
  lc_prompt_text_params tp = {tok, chat, 1};
  ok(lc_prompt_list_read_text(path, &tp, &ps), "lc_prompt_list_read_text");
  assert_int_equal(ps.n, 3);
  assert_string_equal(ps.v[0].text,
                      "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  assert_int_equal(ps.v[0].tokens[0], 256); /* the special matched, then bytes */
  assert_int_equal(ps.v[0].tokens[1], 'u');
  assert_int_equal(ps.v[0].n_tokens, 1 + 5 + 12 + 1 + 1 + 1 + 10); /* no BOS: chatml */
  assert_non_null(strstr(ps.v[1].text, "<|im_start|>system\nBe brief.<|im_end|>"));
  assert_null(ps.v[2].text);
  /* text without a tokenizer, messages without a chat format */
  lc_prompt_list bad = {NULL, 0};
  assert_int_equal(lc_prompt_list_read(path, &bad), LC_ERR_FORMAT);
  lc_prompt_text_params no_chat = {tok, NULL, 0};
  assert_int_equal(lc_prompt_list_read_text(path, &no_chat, &bad), LC_ERR_FORMAT);
  assert_non_null(strstr(lc_last_error(NULL), ":2: \"messages\" needs a chat format"));
  /* the strict output of prompt 0, as text */
  lc_sweep_params sp;
  snprintf(out, sizeof out, "%s/s0", root);
  grid(&sp, model, &ps, out);
  lc_sweep_result *r = NULL;
  ok(lc_sweep_run(&sp, &r), "lc_sweep_run");
  const lc_sweep_output *o = &r->groups[0].out[0];
  int32_t keep[64], nk = 0;
  for (int32_t i = 0; i < o->n; i++)
    if (o->tokens[i] < 259) keep[nk++] = o->tokens[i];
  char *want = NULL;
  ok(lc_tokenizer_decode(tok, keep, nk, LC_DECODE_SKIP_SPECIAL, &want, NULL), "decode");
  lc_sweep_result_free(r);
  ps.v[0].answer_text = want; /* the list frees it */
  ps.v[1].answer_text = lct_malloc(16);
  memcpy(ps.v[1].answer_text, "no such answer", 15);
  snprintf(out, sizeof out, "%s/s1", root);
  grid(&sp, model, &ps, out);
  sp.answer_kind = LC_ANSWER_EXACT;
  assert_int_equal(lc_sweep_run(&sp, &r), LC_ERR_INVALID_ARGUMENT); /* no tokenizer */
  assert_non_null(strstr(lc_last_error(NULL), "needs the model's tokenizer"));
  sp.tokenizer = tok;
  ok(lc_sweep_run(&sp, &r), "lc_sweep_run with text answers");
  for (int32_t g = 0; g < r->n_groups; g++) {
    const lc_sweep_group *G = &r->groups[g];
    if (G->mode == LC_MODE_STRICT) { /* strict: the same output in every cell */
      assert_true(G->gm.acc_mean == 0.5);
      assert_true(G->gm.std_at_acc == 0.0);
    }
    for (int32_t run = 0; run < G->n_runs; run++) {
      if (G->mode == LC_MODE_STRICT) assert_int_equal(G->correct[(size_t)run * 3 + 0], 1);
      assert_int_equal(G->correct[(size_t)run * 3 + 1], 0);
      assert_int_equal(G->correct[(size_t)run * 3 + 2], -1);
    }
  }
  lc_sweep_result_free(r);
  snprintf(path, sizeof path, "%s/runs.jsonl", out);
  size_t len = 0;
  char *runs = slurp(path, &len);
  assert_non_null(runs);
  assert_non_null(strstr(runs, "\"text\":"));
  assert_non_null(strstr(runs, "\"correct\":true"));
  assert_non_null(strstr(runs, "\"extracted\":"));
  free(runs);
  lc_prompt_list_free(&ps);
  lc_chat_template_free(chat);
  lc_tokenizer_free(tok);
  assert_int_equal(lct_tmpdir_remove(root), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_experiment_sweep),
      cmocka_unit_test(test_experiment_sweep_resume),
      cmocka_unit_test(test_experiment_sweep_validates_first),
      cmocka_unit_test(test_experiment_sweep_without_gpu),
      cmocka_unit_test(test_experiment_verify_records),
      cmocka_unit_test(test_experiment_verify_records_no_tokens),
      cmocka_unit_test(test_experiment_prompt_files),
      cmocka_unit_test(test_experiment_text_sweep),
      cmocka_unit_test(test_experiment_replay),
      cmocka_unit_test(test_experiment_matmul_probe),
  };
  return LCT_RUN(tests);
}

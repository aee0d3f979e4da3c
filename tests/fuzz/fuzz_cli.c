/*
 * tests/fuzz/fuzz_cli.c — the CLI's argument parsing (tools/cli_common.c):
 * cli_parse against a table with an option of every type, then the list
 * readers on what it took (cli_split, cli_list_i32, cli_list_backends,
 * cli_list_modes, cli_parse_tokens).  The input's lines are argv[1..].
 * Asserts: cli_parse returns CLI_OK, CLI_USAGE or -1 (--help); on CLI_OK
 * every number lies in its option's range and a stop set holds at most
 * LC_MAX_STOP_TOKENS ids >= 0; a list reader returns 0 with every item in
 * range (and at least one item), or CLI_USAGE with its outputs NULL and
 * empty.  Everything allocated is freed, so a leak is reported.
 * Messages go to stderr (run with -close_fd_mask=2 to quiet them).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_common.h"
#include "tools/cli_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_ARGS = 24 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_strndup(data, size);
  char *argv[MAX_ARGS + 1];
  int argc = 0;
  argv[argc++] = "fuzz";
  for (char *p = text; argc < MAX_ARGS;) {
    argv[argc++] = p;
    char *nl = strchr(p, '\n');
    if (!nl) break;
    *nl = '\0';
    p = nl + 1;
  }
  argv[argc] = NULL;

  int flag = 0, choice = -1;
  const char *str = NULL, *list = NULL, *tokens = NULL, *backends = NULL, *modes = NULL;
  int32_t i32 = 7;
  uint64_t u64 = 0;
  float f32 = 0.5f;
  lc_backend backend = LC_BACKEND_CPU;
  lc_mode mode = LC_MODE_STRICT;
  lc_stop_set stop;
  memset(&stop, 0, sizeof stop);
  const cli_opt opts[] = {
      {"flag", CLI_FLAG, &flag, 0, 0, NULL, NULL, "a flag"},
      {"str", CLI_STR, &str, 0, 0, NULL, "S", "a string"},
      {"i32", CLI_I32, &i32, -5, 1 << 20, NULL, "N", "an integer"},
      {"u64", CLI_U64, &u64, 0, 0, NULL, "S", "a seed"},
      {"f32", CLI_F32, &f32, 1e-9, 1, NULL, "P", "a probability"},
      {"choice", CLI_CHOICE, &choice, 0, 0, "first|middle|last", "P", "a choice"},
      {"backend", CLI_BACKEND, &backend, 0, 0, NULL, "B", "a backend"},
      {"mode", CLI_MODE, &mode, 0, 0, NULL, "M", "a mode"},
      {"stop", CLI_STOP, &stop, 0, 0, NULL, "IDS", "stop ids"},
      {"list", CLI_STR, &list, 0, 0, NULL, "L", "integers"},
      {"tokens", CLI_STR, &tokens, 0, 0, NULL, "IDS", "token ids"},
      {"backends", CLI_STR, &backends, 0, 0, NULL, "L", "backends"},
      {"modes", CLI_STR, &modes, 0, 0, NULL, "L", "modes"},
      CLI_END};
  const cli_cmd cmd = {"fuzz", "[options]", "The fuzz target's table.", opts, NULL};

  int rc = cli_parse(&cmd, argc, argv);
  FUZZ_CHECK(rc == CLI_OK || rc == CLI_USAGE || rc == -1, "cli_parse returned %d", rc);
  if (rc == CLI_OK) {
    FUZZ_CHECK(flag == 0 || flag == 1, "flag %d", flag);
    FUZZ_CHECK(i32 >= -5 && i32 <= (1 << 20), "i32 %d outside [-5, 2^20]", (int)i32);
    FUZZ_CHECK(f32 >= 1e-9f && f32 <= 1.0f, "f32 %g outside [1e-9, 1]", (double)f32);
    FUZZ_CHECK(choice >= -1 && choice <= 2, "choice %d", choice);
    FUZZ_CHECK(backend == LC_BACKEND_CPU || backend == LC_BACKEND_CUDA, "backend %d", (int)backend);
    FUZZ_CHECK(lc_mode_name(mode) != NULL, "mode %d", (int)mode);
    FUZZ_CHECK(stop.n >= 0 && stop.n <= LC_MAX_STOP_TOKENS, "stop.n %d", (int)stop.n);
    for (int32_t i = 0; i < stop.n; i++) FUZZ_CHECK(stop.ids[i] >= 0, "stop id %d", stop.ids[i]);
  }
  if (rc == CLI_OK && list) {
    cli_list l;
    int r = cli_split("fuzz", "--list", list, &l);
    FUZZ_CHECK(r == 0 || r == CLI_USAGE, "cli_split returned %d", r);
    if (r == 0) {
      FUZZ_CHECK(l.n >= 1, "an empty list");
      int32_t *v = (int32_t *)1;
      r = cli_list_i32("fuzz", "--list", &l, 1, 4096, &v);
      FUZZ_CHECK(r == 0 || (r == CLI_USAGE && v == NULL), "cli_list_i32 returned %d", r);
      for (int32_t i = 0; r == 0 && i < l.n; i++)
        FUZZ_CHECK(v[i] >= 1 && v[i] <= 4096, "item %d outside [1, 4096]", (int)v[i]);
      free(v);
    } else {
      FUZZ_CHECK(l.v == NULL && l.n == 0, "a failed split left items");
    }
    cli_list_free(&l);
  }
  if (rc == CLI_OK && backends) {
    cli_list l;
    if (cli_split("fuzz", "--backends", backends, &l) == 0) {
      lc_backend *b = NULL;
      int r = cli_list_backends("fuzz", &l, &b);
      FUZZ_CHECK(r == 0 || (r == CLI_USAGE && b == NULL), "cli_list_backends returned %d", r);
      free(b);
    }
    cli_list_free(&l);
  }
  if (rc == CLI_OK && modes) {
    cli_list l;
    if (cli_split("fuzz", "--modes", modes, &l) == 0) {
      lc_mode *m = NULL;
      int r = cli_list_modes("fuzz", &l, &m);
      FUZZ_CHECK(r == 0 || (r == CLI_USAGE && m == NULL), "cli_list_modes returned %d", r);
      free(m);
    }
    cli_list_free(&l);
  }
  if (rc == CLI_OK && tokens) {
    int32_t *t = NULL, n = -1;
    int r = cli_parse_tokens("fuzz", "--tokens", tokens, &t, &n);
    FUZZ_CHECK(r == 0 || (r == CLI_USAGE && t == NULL), "cli_parse_tokens returned %d", r);
    for (int32_t i = 0; r == 0 && i < n; i++) FUZZ_CHECK(t[i] >= 0, "token %d < 0", (int)t[i]);
    FUZZ_CHECK(r != 0 || n >= 1, "no tokens on success (n %d)", (int)n);
    free(t);
  }
  free(text);
  return 0;
}

/*
 * tools/cli_records.c — `layercast verify records A.jsonl B.jsonl`: two run
 * record files (maybe from two machines) compared by lc_verify_records,
 * printed.
 */
#include <string.h>

#include "tools/cli.h"
#include "tools/cli_common.h"

static const char *const CMD = "verify records";

static void usage(FILE *f) {
  fprintf(f,
          "usage: layercast verify records A.jsonl B.jsonl\n"
          "\n"
          "Matches the runs of two run-record files (runs.jsonl of `layercast sweep`, maybe\n"
          "from two machines) by grid cell (backend, mode, batch, position, repeat) and\n"
          "prompt.  The files must come from one setup (the same weights, prompts and\n"
          "generation settings: each record's \"setup\"); otherwise they are NOT COMPARABLE\n"
          "and the differing fields are named.  Strict runs promise bitwise reproducibility:\n"
          "their tokens must be equal.  Other modes' agreement is reported (Div_Index: the\n"
          "first 0-based index where the tokens differ) without failing.  The two\n"
          "environment fingerprints' differences are listed.\n"
          "\n"
          "Exit status: 0 pass, 1 strict, fast or bf16 runs differ, an error or an unreadable "
          "file, 2 bad\n"
          "usage, 4 not comparable (nothing was checked).\n");
}

int cli_verify_records(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    usage(stdout);
    return 0;
  }
  if (argc != 3) {
    usage(stderr);
    return CLI_USAGE;
  }
  lc_records_report *r = NULL;
  lc_status st = lc_verify_records(argv[1], argv[2], &r);
  if (st == LC_ERR_MISMATCH) {
    cli_fail(CMD, "NOT COMPARABLE", st, CLI_NOTHING);
    fprintf(stderr, "layercast %s: nothing was checked\n", CMD);
    return CLI_NOTHING;
  }
  if (st != LC_OK) return cli_fail(CMD, NULL, st, cli_status_rc(st));
  printf("layercast verify records\n  A: %s (%lld sequences)\n  B: %s (%lld sequences)\n", argv[1],
         (long long)r->n_a, argv[2], (long long)r->n_b);
  printf("  one setup (weights, prompts, generation settings): yes\n");
  printf("\n  environment fingerprints (each file's first run), A | B:\n");
  if (!r->fingerprint_diff[0]) printf("    identical\n");
  for (const char *p = r->fingerprint_diff; *p;) {
    size_t l = strcspn(p, "\n");
    printf("    %.*s\n", (int)l, p);
    p += l + (p[l] == '\n');
  }
  if (r->n_diffs) {
    printf("\n  %-56s %-8s %s\n", "sequence (backend mode batch position prompt repeat)", "tokens",
           "Div_Index");
    for (int64_t i = 0; i < r->n_diffs; i++)
      printf("  %-56s %-8s %d%s\n", r->diffs[i].key, "DIFFER", (int)r->diffs[i].div_index,
             r->diffs[i].fail ? "  FAIL (strict promises equal bits)" : "");
  }
  printf("  (sequences with the same tokens are not listed)\n\n");
  for (int32_t m = 0; m < r->n_modes; m++)
    printf("  %-12s %4d of %4d matched sequences with the same tokens%s\n", r->modes[m].mode,
           r->modes[m].same, r->modes[m].matched,
           r->modes[m].bitwise_promised ? " (bitwise promised: must be all)" : " (reported only)");
  printf(
      "  %lld sequences matched, %lld with the same tokens, %lld differ; %lld without a "
      "partner\n",
      (long long)r->n_matched, (long long)r->n_same, (long long)(r->n_matched - r->n_same),
      (long long)r->n_unmatched);
  printf("%s\n", r->n_fail ? "FAIL: strict, fast or bf16 runs differ" : "PASS");
  const int rc = r->n_fail ? CLI_FAIL : CLI_OK;
  lc_records_report_free(r);
  return rc;
}

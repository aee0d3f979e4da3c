/*
 * tests/fuzz/fuzz_records.c — lc_verify_records on two run-record files
 * (lib/verify_records.c, lib/records.c).  The input is split at FUZZ_SEP:
 * part 0 is file A, part 1 (or part 0 again when there is no separator)
 * file B.
 * Asserts: failure leaves a status, a message and no report; success gives
 * a report whose counts are consistent (0 <= n_same <= n_matched,
 * n_diffs >= 0 with diffs present when n_diffs > 0, a fingerprint_diff
 * string, n_fail >= 0).  A file compared with itself must not fail a
 * bitwise promise (a file holding one cell and prompt twice is refused as
 * LC_ERR_FORMAT: found by this target).
 */
#include <stdio.h>

#include "include/layercast_experiment.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char a[256], b[256];
  fuzz_path(a, sizeof a, "a.jsonl");
  fuzz_path(b, sizeof b, "b.jsonl");
  fuzz_parts parts;
  fuzz_split(data, size, &parts);
  int same = parts.count < 2;
  fuzz_write(a, parts.p[0], parts.n[0]);
  fuzz_write(b, parts.p[same ? 0 : 1], parts.n[same ? 0 : 1]);
  lc_records_report *r = (lc_records_report *)a;
  lc_status st = lc_verify_records(a, b, &r);
  if (st != LC_OK) {
    fuzz_check_failed("lc_verify_records", st, r, NULL);
    return 0;
  }
  FUZZ_CHECK(r != NULL, "LC_OK without a report");
  FUZZ_CHECK(r->n_a >= 0 && r->n_b >= 0 && r->n_matched >= 0 && r->n_same >= 0 &&
                 r->n_same <= r->n_matched && r->n_unmatched >= 0,
             "counts a %lld b %lld matched %lld same %lld unmatched %lld", (long long)r->n_a,
             (long long)r->n_b, (long long)r->n_matched, (long long)r->n_same,
             (long long)r->n_unmatched);
  FUZZ_CHECK(r->n_diffs >= 0 && (r->n_diffs == 0 || r->diffs != NULL), "diffs");
  FUZZ_CHECK(r->n_modes >= 0 && (r->n_modes == 0 || r->modes != NULL), "modes");
  FUZZ_CHECK(r->fingerprint_diff != NULL, "fingerprint_diff is NULL");
  FUZZ_CHECK(r->n_fail >= 0, "n_fail %d", r->n_fail);
  if (same) FUZZ_CHECK(r->n_fail == 0, "a file compared with itself: %d failures", r->n_fail);
  lc_records_report_free(r);
  return 0;
}

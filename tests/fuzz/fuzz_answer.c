/*
 * tests/fuzz/fuzz_answer.c — answer extraction and scoring (lib/answer.c)
 * for every kind.  The input up to its first newline is the expected
 * answer, the rest the model's output.
 * Asserts for each kind: lc_answer_extract on the whole input returns LC_OK
 * with a string or NULL; lc_answer_score_text either succeeds, with found
 * == (extract(output) != NULL), extracted equal to that extraction, and
 * correct only when found, or fails with a status and a message and a
 * zeroed score.  No state is shared, so nothing may leak.
 */
#include <stdlib.h>
#include <string.h>

#include "include/layercast_text.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const uint8_t *nl = memchr(data, '\n', size);
  size_t n_exp = nl ? (size_t)(nl - data) : size;
  char *expected = fuzz_strndup(data, n_exp);
  const char *output = nl ? text + n_exp + 1 : text + size;
  size_t n_out = nl ? size - n_exp - 1 : 0;
  static const lc_answer_kind kinds[] = {LC_ANSWER_NUMBER, LC_ANSWER_BOXED, LC_ANSWER_EXACT,
                                         LC_ANSWER_CHOICE};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    char *whole = (char *)text;
    lc_status st = lc_answer_extract(kinds[k], size ? text : "", size, &whole);
    FUZZ_CHECK(st == LC_OK, "lc_answer_extract(%s): %s", lc_answer_kind_name(kinds[k]),
               lc_last_error(NULL));
    free(whole);
    char *ext = (char *)text;
    st = lc_answer_extract(kinds[k], output, n_out, &ext);
    FUZZ_CHECK(st == LC_OK, "lc_answer_extract(%s): %s", lc_answer_kind_name(kinds[k]),
               lc_last_error(NULL));
    lc_answer_score sc;
    memset(&sc, 0xa5, sizeof sc);
    st = lc_answer_score_text(kinds[k], output, n_out, expected, &sc);
    if (st == LC_OK) {
      FUZZ_CHECK(sc.found == (ext != NULL), "%s: found %d, extract gave %s",
                 lc_answer_kind_name(kinds[k]), sc.found, ext ? ext : "NULL");
      FUZZ_CHECK(!ext || (sc.extracted && strcmp(ext, sc.extracted) == 0),
                 "%s: extracted '%s', extract gave '%s'", lc_answer_kind_name(kinds[k]),
                 sc.extracted ? sc.extracted : "NULL", ext);
      FUZZ_CHECK(sc.expected != NULL, "expected is NULL");
      FUZZ_CHECK(sc.found || !sc.correct, "correct without an answer found");
      lc_answer_score_clear(&sc);
    } else {
      FUZZ_CHECK(lc_last_error(NULL)[0] != '\0', "score failed without a message");
      FUZZ_CHECK(sc.extracted == NULL && sc.expected == NULL && sc.found == 0,
                 "a failed score is not zeroed");
    }
    free(ext);
  }
  free(expected);
  return 0;
}

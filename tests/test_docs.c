/*
 * tests/test_docs.c — docs/numerics.md states the numbers this build uses.
 *
 * The document's tables are read as rows `| NAME | value | ... |` where NAME
 * is an identifier (LC_... for a compiled constant, LCT_... for a bound that
 * tests/test_exp.c asserts).  Each constant must equal the compiled macro and
 * what lc_canon_get_info() reports; each bound must equal the #define of the
 * same name in tests/test_exp.c, and the measured worst quoted beside it must
 * lie within it.  Every LC_/LCT_ row must be one of the names known here, so
 * a stale row cannot linger.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast/lc_canon.h"
#include "test_util.h"

#define DOC_PATH LC_SOURCE_DIR "/docs/numerics.md"
#define TEST_EXP_PATH LC_SOURCE_DIR "/tests/test_exp.c"

#define MAX_ROWS 256
#define MAX_CELLS 6
#define CELL_LEN 128

typedef struct row {
  char cell[MAX_CELLS][CELL_LEN]; /* trimmed cells; cell[0] is the name */
  int n_cells;
  int line;
} row;

typedef struct doc {
  row rows[MAX_ROWS];
  int n_rows;
  char *text; /* the whole file, NUL-terminated */
} doc;

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s: %s", path, strerror(errno));
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  assert_true(len >= 0);
  assert_int_equal(fseek(f, 0, SEEK_SET), 0);
  char *buf = malloc((size_t)len + 1);
  assert_non_null(buf);
  size_t got = fread(buf, 1, (size_t)len, f);
  fclose(f);
  assert_int_equal(got, (size_t)len);
  buf[len] = '\0';
  return buf;
}

static int is_identifier(const char *s) {
  if (!(isupper((unsigned char)s[0]) || s[0] == '_')) return 0;
  for (const char *p = s; *p; p++)
    if (!(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')) return 0;
  return 1;
}

/* Table rows of the document whose first cell is an identifier. */
static doc *doc_load(void) {
  doc *d = calloc(1, sizeof *d);
  assert_non_null(d);
  d->text = read_file(DOC_PATH);
  int line = 0;
  for (char *p = d->text; *p;) {
    char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    line++;
    if (len > 0 && p[0] == '|') {
      row r;
      memset(&r, 0, sizeof r);
      r.line = line;
      const char *c = p + 1;
      while (c < p + len && r.n_cells < MAX_CELLS) {
        const char *bar = memchr(c, '|', (size_t)(p + len - c));
        if (!bar) break;
        const char *b = c, *e = bar;
        while (b < e && isspace((unsigned char)*b)) b++;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        size_t n = (size_t)(e - b) < CELL_LEN - 1 ? (size_t)(e - b) : CELL_LEN - 1;
        memcpy(r.cell[r.n_cells], b, n);
        /* `code` spans: drop the backquotes */
        char *cell = r.cell[r.n_cells];
        size_t cl = strlen(cell);
        if (cl >= 2 && cell[0] == '`' && cell[cl - 1] == '`') {
          memmove(cell, cell + 1, cl - 2);
          cell[cl - 2] = '\0';
        }
        r.n_cells++;
        c = bar + 1;
      }
      if (r.n_cells >= 2 && is_identifier(r.cell[0])) {
        assert_true(d->n_rows < MAX_ROWS);
        d->rows[d->n_rows++] = r;
      }
    }
    p = end ? end + 1 : p + len;
  }
  return d;
}

static void doc_free(doc *d) {
  free(d->text);
  free(d);
}

/* The one row named `name` (a name given twice is an error). */
static const row *doc_row(const doc *d, const char *name) {
  const row *found = NULL;
  for (int i = 0; i < d->n_rows; i++) {
    if (strcmp(d->rows[i].cell[0], name) != 0) continue;
    if (found)
      fail_msg("%s: %s appears twice (lines %d and %d)", DOC_PATH, name, found->line,
               d->rows[i].line);
    found = &d->rows[i];
  }
  if (!found) fail_msg("%s: no table row `| %s | ... |`", DOC_PATH, name);
  return found;
}

/* A number cell: decimal, hex integer, or hex float; the whole cell. */
static double parse_number(const char *s, const char *what) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno) fail_msg("%s: cannot read \"%s\" as a number", what, s);
  return v;
}

static long parse_int(const char *s, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 0);
  if (end == s || *end != '\0' || errno) fail_msg("%s: cannot read \"%s\" as an integer", what, s);
  return v;
}

/* The value of `#define name value` in tests/test_exp.c. */
static double test_exp_define(const char *text, const char *name) {
  char key[96];
  snprintf(key, sizeof key, "#define %s ", name);
  const char *p = strstr(text, key);
  if (!p) {
    fail_msg("%s: no line \"%s<value>\"", TEST_EXP_PATH, key);
    return NAN; /* not reached: fail_msg leaves the test */
  }
  if (strstr(p + 1, key)) fail_msg("%s: \"%s\" defined twice", TEST_EXP_PATH, key);
  char *end;
  double v = strtod(p + strlen(key), &end);
  if (end == p + strlen(key)) fail_msg("%s: %s has no numeric value", TEST_EXP_PATH, name);
  return v;
}

/* ---- the names this test knows -----------------------------------------------------*/

typedef struct iconst {
  const char *name;
  long value;
} iconst;

static const iconst CANON[] = {
    {"LC_CANON_VERSION", LC_CANON_VERSION},   {"LC_MATMUL_SEG_LEN", LC_MATMUL_SEG_LEN},
    {"LC_ATTN_PARTITION", LC_ATTN_PARTITION}, {"LC_REDUCE_LANES", LC_REDUCE_LANES},
    {"LC_MAX_HEAD_DIM", LC_MAX_HEAD_DIM},
};
#define N_CANON (sizeof CANON / sizeof CANON[0])

/* the fast order's constants (docs/numerics.md 10) */
static const iconst FAST[] = {
    {"LC_FAST_VERSION", LC_FAST_VERSION},
    {"LC_FAST_CHUNK", LC_FAST_CHUNK},
    {"LC_MMA_K", LC_MMA_K},
};
#define N_FAST (sizeof FAST / sizeof FAST[0])

typedef struct fconst {
  const char *name;
  double value;
} fconst;

/* exp/log constants of cast/lc_canon.h, written in the document as hex floats */
static const fconst MATH[] = {
    {"LC_EXP_MAX_ARG", LC_EXP_MAX_ARG}, {"LC_EXP_MIN_ARG", LC_EXP_MIN_ARG},
    {"LC_EXP_LOG2E", LC_EXP_LOG2E},     {"LC_EXP_LN2_HI", LC_EXP_LN2_HI},
    {"LC_EXP_LN2_LO", LC_EXP_LN2_LO},   {"LC_LOG_LN2_HI", LC_LOG_LN2_HI},
    {"LC_LOG_LN2_LO", LC_LOG_LN2_LO},
};
#define N_MATH (sizeof MATH / sizeof MATH[0])

static const char *const BOUNDS[] = {"LCT_EXP_MAX_ULP", "LCT_EXP_SUBNORMAL_MAX_ULP",
                                     "LCT_LOG_MAX_ULP"};
#define N_BOUNDS (sizeof BOUNDS / sizeof BOUNDS[0])

static const char *const OTHER[] = {"LC_F32_CANONICAL_NAN_BITS"};
#define N_OTHER (sizeof OTHER / sizeof OTHER[0])

/* ---- tests --------------------------------------------------------------------------*/

/* The constants table has exactly the rows `| LC_CANON_VERSION | 1 |` ...,
 * each equal to the macro compiled into this build. */
static void test_docs_canon_constants_match_macros(void **state) {
  (void)state;
  doc *d = doc_load();
  for (size_t i = 0; i < N_CANON; i++) {
    const row *r = doc_row(d, CANON[i].name);
    long v = parse_int(r->cell[1], CANON[i].name);
    if (v != CANON[i].value)
      fail_msg("%s line %d: %s = %ld, but the build has %ld", DOC_PATH, r->line, CANON[i].name, v,
               CANON[i].value);
    char exact[96];
    snprintf(exact, sizeof exact, "\n| %s | %ld |", CANON[i].name, CANON[i].value);
    if (!strstr(d->text, exact)) fail_msg("%s: no row written exactly \"%s\"", DOC_PATH, exact + 1);
  }
  doc_free(d);
}

/* The fast order's table rows are the macros of cast/lc_canon.h. */
static void test_docs_fast_constants_match_macros(void **state) {
  (void)state;
  doc *d = doc_load();
  for (size_t i = 0; i < N_FAST; i++) {
    char exact[96];
    snprintf(exact, sizeof exact, "\n| %s | %ld |", FAST[i].name, FAST[i].value);
    if (!strstr(d->text, exact)) fail_msg("%s: no row written exactly \"%s\"", DOC_PATH, exact + 1);
  }
  doc_free(d);
}

/* The library's lc_canon_get_info() reports the same five numbers as the
 * document (and so as the macros). */
static void test_docs_canon_constants_match_library(void **state) {
  (void)state;
  doc *d = doc_load();
  lc_canon_info info;
  memset(&info, 0xFF, sizeof info);
  lc_canon_get_info(&info);
  const long lib[] = {info.version, info.matmul_seg_len, info.attn_partition, info.reduce_lanes,
                      info.max_head_dim};
  for (size_t i = 0; i < N_CANON; i++) {
    long v = parse_int(doc_row(d, CANON[i].name)->cell[1], CANON[i].name);
    if (v != lib[i])
      fail_msg("%s = %ld in %s, but lc_canon_get_info() says %ld", CANON[i].name, v, DOC_PATH,
               lib[i]);
  }
  doc_free(d);
}

/* The exp/log constants and the canonical NaN printed in the document are
 * those of cast/lc_canon.h (hex floats compared exactly), and the public
 * LC_F32_CANONICAL_NAN_BITS is the same NaN. */
static void test_docs_math_constants_match_macros(void **state) {
  (void)state;
  doc *d = doc_load();
  for (size_t i = 0; i < N_MATH; i++) {
    const row *r = doc_row(d, MATH[i].name);
    double v = parse_number(r->cell[1], MATH[i].name);
    if (v != MATH[i].value || (float)v != (float)MATH[i].value)
      fail_msg("%s line %d: %s = %a, but the build has %a", DOC_PATH, r->line, MATH[i].name, v,
               MATH[i].value);
  }
  const row *r = doc_row(d, "LC_F32_CANONICAL_NAN_BITS");
  assert_int_equal(parse_int(r->cell[1], "LC_F32_CANONICAL_NAN_BITS"), LC_F32_CANONICAL_NAN_BITS);
  assert_int_equal(LC_F32_CANONICAL_NAN_BITS, LC_F32_CANONICAL_NAN_BITS);
  doc_free(d);
}

/* The accuracy bounds in the document are the ones tests/test_exp.c
 * asserts, and each measured worst quoted beside a bound lies within it. */
static void test_docs_exp_log_bounds_match_test(void **state) {
  (void)state;
  doc *d = doc_load();
  char *src = read_file(TEST_EXP_PATH);
  for (size_t i = 0; i < N_BOUNDS; i++) {
    const row *r = doc_row(d, BOUNDS[i]);
    double in_doc = parse_number(r->cell[1], BOUNDS[i]);
    double in_test = test_exp_define(src, BOUNDS[i]);
    if (in_doc != in_test)
      fail_msg("%s: %s = %g in the document, %g in %s", DOC_PATH, BOUNDS[i], in_doc, in_test,
               TEST_EXP_PATH);
    assert_true(r->n_cells >= 3);
    double measured = parse_number(r->cell[2], BOUNDS[i]);
    if (!(measured >= 0.0 && measured <= in_doc))
      fail_msg("%s: %s: measured worst %g is not within the bound %g", DOC_PATH, BOUNDS[i],
               measured, in_doc);
  }
  free(src);
  doc_free(d);
}

/* Every LC_/LCT_ row of the document is a name this test checks: no row
 * describes a constant the build does not have. */
static void test_docs_no_unknown_rows(void **state) {
  (void)state;
  doc *d = doc_load();
  for (int i = 0; i < d->n_rows; i++) {
    const char *name = d->rows[i].cell[0];
    if (strncmp(name, "LC_", 3) != 0 && strncmp(name, "LCT_", 4) != 0) continue;
    int known = 0;
    for (size_t k = 0; k < N_CANON; k++) known |= strcmp(name, CANON[k].name) == 0;
    for (size_t k = 0; k < N_FAST; k++) known |= strcmp(name, FAST[k].name) == 0;
    for (size_t k = 0; k < N_MATH; k++) known |= strcmp(name, MATH[k].name) == 0;
    for (size_t k = 0; k < N_BOUNDS; k++) known |= strcmp(name, BOUNDS[k]) == 0;
    for (size_t k = 0; k < N_OTHER; k++) known |= strcmp(name, OTHER[k]) == 0;
    if (!known)
      fail_msg("%s line %d: row %s names nothing this test checks", DOC_PATH, d->rows[i].line,
               name);
  }
  doc_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_docs_canon_constants_match_macros),
      cmocka_unit_test(test_docs_canon_constants_match_library),
      cmocka_unit_test(test_docs_math_constants_match_macros),
      cmocka_unit_test(test_docs_exp_log_bounds_match_test),
      cmocka_unit_test(test_docs_no_unknown_rows),
      cmocka_unit_test(test_docs_fast_constants_match_macros),
  };
  return LCT_RUN(tests);
}

/*
 * tests/test_answer.c — answer extraction and scoring (layercast_text.h,
 * "Answers"; the rules are docs/metrics.md, "Scored datasets: answer
 * extraction"): known answers per kind, numeric equality, the errors, a
 * seeded fuzz of arbitrary bytes, inputs that would be quadratic for a
 * backtracking scanner, and the shipped datasets tests/data/arith50.jsonl and
 * tests/data/choice10.jsonl.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layercast_text.h"
#include "test_util.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------------*/

typedef struct known {
  const char *text; /* the model output */
  const char *want; /* its normalised answer; NULL: none */
} known;

/* Extracts kind k from the first len bytes of text, copied into a buffer of
 * exactly len bytes (no NUL after it: ASan sees any read past len). */
static char *extract_n(lc_answer_kind k, const char *text, size_t len) {
  char *buf = lct_malloc(len);
  memcpy(buf, text, len);
  char *out = (char *)1;
  lc_status st = lc_answer_extract(k, buf, len, &out);
  if (st != LC_OK)
    fail_msg("extract %s: %s: %s", lc_answer_kind_name(k), lc_status_name(st), lc_last_error(NULL));
  free(buf);
  return out;
}

static char *extract(lc_answer_kind k, const char *text) {
  return extract_n(k, text, strlen(text));
}

/* Every case of the table gives its answer; a failure names the kind, the
 * text, what was wanted and what came. */
static void check_table(lc_answer_kind k, const known *t, size_t n) {
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    char *got = extract(k, t[i].text);
    bool same = (!got && !t[i].want) || (got && t[i].want && strcmp(got, t[i].want) == 0);
    if (!same) {
      print_error("%s case %zu: text \"%s\": want %s%s%s, got %s%s%s\n", lc_answer_kind_name(k), i,
                  t[i].text, t[i].want ? "\"" : "", t[i].want ? t[i].want : "none",
                  t[i].want ? "\"" : "", got ? "\"" : "", got ? got : "none", got ? "\"" : "");
      bad++;
    }
    free(got);
  }
  if (bad) fail_msg("%d of %zu %s cases wrong", bad, n, lc_answer_kind_name(k));
}

/* Scores output against expected; fails the test on an error status. */
static lc_answer_score score(lc_answer_kind k, const char *output, const char *expected) {
  lc_answer_score s;
  lc_status st = lc_answer_score_text(k, output, strlen(output), expected, &s);
  if (st != LC_OK)
    fail_msg("score %s \"%s\" vs \"%s\": %s: %s", lc_answer_kind_name(k), output, expected,
             lc_status_name(st), lc_last_error(NULL));
  return s;
}

static void assert_score(lc_answer_kind k, const char *output, const char *expected, int correct) {
  lc_answer_score s = score(k, output, expected);
  if (s.correct != correct)
    fail_msg("%s: \"%s\" vs expected \"%s\": correct %d, want %d (extracted %s, expected %s)",
             lc_answer_kind_name(k), output, expected, s.correct, correct,
             s.extracted ? s.extracted : "none", s.expected);
  lc_answer_score_clear(&s);
}

/* ---- kinds ----------------------------------------------------------------------*/

/* Every kind's name parses back to it; unknown names and NULL are errors. */
static void test_answer_kind_names(void **state) {
  (void)state;
  const lc_answer_kind all[] = {LC_ANSWER_NUMBER, LC_ANSWER_BOXED, LC_ANSWER_EXACT,
                                LC_ANSWER_CHOICE};
  for (size_t i = 0; i < N_OF(all); i++) {
    lc_answer_kind k = (lc_answer_kind)0;
    assert_int_equal(lc_answer_kind_from_name(lc_answer_kind_name(all[i]), &k), LC_OK);
    assert_int_equal(k, all[i]);
  }
  assert_string_equal(lc_answer_kind_name(LC_ANSWER_NUMBER), "number");
  assert_string_equal(lc_answer_kind_name((lc_answer_kind)99), "unknown");
  lc_answer_kind k;
  assert_int_equal(lc_answer_kind_from_name("Number", &k), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_answer_kind_from_name("unknown", &k), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_answer_kind_from_name("", &k), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_answer_kind_from_name(NULL, &k), LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_answer_kind_from_name("exact", NULL), LC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(lc_last_error(NULL), "out"));
}

/* ---- NUMBER ---------------------------------------------------------------------*/

/* The last number, read and normalised as docs/metrics.md says. */
static void test_answer_number_known(void **state) {
  (void)state;
  static const known t[] = {
      {"The answer is 1,234.50.", "1234.5"},
      {"x = -3/6", "-0.5"},
      {"It is 3.", "3"},
      {"3.", "3"},
      {"42", "42"},
      {"first 7 then 9 and finally 11!", "11"},
      {"1,234,567 people", "1234567"},
      {"$1,000,000", "1000000"},
      {"1,23", "23"},          /* not a valid group: two numbers */
      {"1234,567", "567"},     /* first group longer than 3 */
      {"0,123", "123"},        /* a group never starts with 0 */
      {"1,2345", "2345"},      /* a group is exactly 3 digits */
      {"lists: 1,2,3", "3"},   /* commas between numbers */
      {"10,000.000", "10000"}, /* grouping with decimals */
      {"-0", "0"},             /* no negative zero */
      {"-0.000", "0"},         /* */
      {"007", "7"},            /* leading zeros */
      {"0.50", "0.5"},         /* trailing zeros */
      {"100", "100"},          /* integer zeros stay */
      {".5", "0.5"},           /* bare point */
      {"-.25", "-0.25"},       /* */
      {"5-3", "3"},            /* an operator, not a sign */
      {"x-3", "3"},            /* */
      {"f(2)-1", "1"},         /* */
      {"so x=-4", "-4"},       /* a sign after '=' */
      {"(-8)", "-8"},          /* */
      {"5 - 3", "3"},          /* a sign must touch its digits */
      {"+5", "5"},             /* */
      {"\xe2\x88\x92"
       "7",
       "-7"},                         /* U+2212 MINUS SIGN */
      {"25%", "25"},                  /* '%' ignored */
      {"2/4", "0.5"},                 /* fractions reduced */
      {"4/6", "2/3"},                 /* */
      {"-6/3", "-2"},                 /* */
      {"3/8", "0.375"},               /* a 2^a 5^b denominator: a decimal */
      {"7/1250", "0.0056"},           /* */
      {"1/1024", "0.0009765625"},     /* */
      {"0/5", "0"},                   /* */
      {"-0/5", "0"},                  /* */
      {"1,000/4", "250"},             /* grouped numerator */
      {"1/0", "0"},                   /* no fraction over zero: "1", "0" */
      {"1/2.5", "2.5"},               /* no fraction of decimals */
      {"3 / 4", "4"},                 /* no spaces inside a fraction */
      {"12/25/2024", "2024"},         /* a date */
      {"1.2.3", "3"},                 /* a version */
      {"1e5", "5"},                   /* no exponents */
      {"the 3rd one", "3"},           /* digits inside words count */
      {"no number here", NULL},       /* */
      {"", NULL},                     /* */
      {"-", NULL},                    /* */
      {". , / -", NULL},              /* */
      {"answer: 18.\n\nDone.", "18"}, /* */
  };
  check_table(LC_ANSWER_NUMBER, t, N_OF(t));
}

/* Equal rationals score equal whatever their written form; others do not. */
static void test_answer_number_equal_values(void **state) {
  (void)state;
  const char *half[] = {"0.5", "1/2", "0.50", "2/4", "50/100", ".5", "+0.5", "500/1000"};
  for (size_t i = 0; i < N_OF(half); i++)
    for (size_t j = 0; j < N_OF(half); j++) assert_score(LC_ANSWER_NUMBER, half[i], half[j], 1);
  assert_score(LC_ANSWER_NUMBER, "The answer is 18.", "18", 1);
  assert_score(LC_ANSWER_NUMBER, "It costs $1234.", "1,234", 1);
  assert_score(LC_ANSWER_NUMBER, "so 1,234 in all", "1234", 1);
  assert_score(LC_ANSWER_NUMBER, "-14/4", "-3.5", 1);
  assert_score(LC_ANSWER_NUMBER, "2/6", "1/3", 1);
  assert_score(LC_ANSWER_NUMBER, "7", "7.000", 1);
  assert_score(LC_ANSWER_NUMBER, "0.333", "1/3", 0);
  assert_score(LC_ANSWER_NUMBER, "-0.5", "1/2", 0);
  assert_score(LC_ANSWER_NUMBER, "18 then 19", "18", 0);
  assert_score(LC_ANSWER_NUMBER, "12", "120", 0);
  assert_score(LC_ANSWER_NUMBER, "1.05", "1.5", 0);
  /* past 2^64-1 a fraction is compared as written */
  assert_score(LC_ANSWER_NUMBER, "18446744073709551616/2", "9223372036854775808", 0);
  /* NUMBER reads no LaTeX: the last number of \frac{1}{2} is 2 */
  assert_score(LC_ANSWER_NUMBER, "x = \\frac{1}{2}", "2", 1);
}

/* Numbers of any length: decimals stay exact; fractions reduce while both
 * parts fit in 64 bits, and are compared as written (unreduced) past it. */
static void test_answer_number_large(void **state) {
  (void)state;
  static const known t[] = {
      {"123456789012345678901234567890.0100", "123456789012345678901234567890.01"},
      {"-000000000000000000000000000000.000", "0"},
      {"18446744073709551615/18446744073709551615", "1"}, /* 2^64-1 both */
      {"18446744073709551615/5", "3689348814741910323"},  /* */
      {"1/9223372036854775808",
       "0.000000000000000000108420217248550443400745280086994171142578125"},
      {"1/7450580596923828125", "0.000000000000000000134217728"}, /* 1/5^27 */
      {"18446744073709551616/2", "18446744073709551616/2"},       /* 2^64: as written */
      {"-0099999999999999999999/03", "-99999999999999999999/3"},  /* */
      {"1/18446744073709551616", "1/18446744073709551616"},       /* */
  };
  check_table(LC_ANSWER_NUMBER, t, N_OF(t));
  /* a 100,000-digit integer comes back whole */
  size_t n = 100000;
  char *big = lct_malloc(n + 1);
  memset(big, '9', n);
  big[n] = '\0';
  char *got = extract(LC_ANSWER_NUMBER, big);
  assert_non_null(got);
  assert_int_equal(strlen(got), n);
  assert_int_equal(memcmp(got, big, n), 0);
  free(got);
  free(big);
}

/* Extraction reads len bytes, not up to a NUL. */
static void test_answer_number_len_bound(void **state) {
  (void)state;
  char *got = extract_n(LC_ANSWER_NUMBER, "12345", 3);
  assert_string_equal(got, "123");
  free(got);
  got = extract_n(LC_ANSWER_NUMBER, "1,234", 4); /* "1,23": no group */
  assert_string_equal(got, "23");
  free(got);
  got = extract_n(LC_ANSWER_NUMBER, "3/4", 2); /* "3/" */
  assert_string_equal(got, "3");
  free(got);
  got = extract_n(LC_ANSWER_NUMBER, "7 apples", 0);
  assert_null(got);
  const char nul[] = {'4', '\0', '5'}; /* a NUL inside len separates numbers */
  got = extract_n(LC_ANSWER_NUMBER, nul, sizeof nul);
  assert_string_equal(got, "5");
  free(got);
}

/* ---- BOXED ----------------------------------------------------------------------*/

/* The last complete \boxed, its content normalised. */
static void test_answer_boxed_known(void **state) {
  (void)state;
  static const known t[] = {
      {"so \\boxed{\\frac{1}{2}}", "0.5"},
      {"\\boxed{\\dfrac{3}{6}} or \\tfrac", "0.5"},
      {"\\boxed{-\\frac{4}{6}}", "-2/3"},
      {"\\boxed{\\frac{1}{0}}", "\\frac{1}{0}"}, /* no number over zero */
      {"\\boxed{\\frac{a}{2}}", "\\frac{a}{2}"},
      {"\\boxed{ 0.50 }", "0.5"},
      {"$\\boxed{1,234}$", "1234"},
      {"\\boxed{1{,}000}", "1000"},
      {"\\boxed{$5$}", "5"},
      {"\\boxed{\\$18}", "18"},
      {"\\boxed{50\\%}", "50"},
      {"\\boxed{-3/6}", "-0.5"},
      {"\\boxed{x^{2}+1}", "x^{2}+1"},
      {"\\boxed{x + y}", "x+y"},
      {"\\boxed{\\{1,2\\}}", "\\{1,2\\}"}, /* escaped braces are literal */
      {"\\boxed{\\text{Monday}}", "\\text{Monday}"},
      {"\\boxed{3} then \\boxed{4}", "4"},
      {"\\boxed{3} then \\boxed{4", "3"}, /* the last complete one */
      {"\\boxed{\\boxed{1}+1}", "1"},     /* the one that starts last */
      {"\\boxed{{2}}", "{2}"},            /* */
      {"}}}\\boxed{2}}}", "2"},           /* stray closers */
      {"{{{\\boxed{2}", "2"},             /* stray openers */
      {"\\boxed {7}", "7"},               /* space before the brace */
      {"\\boxed 42.", "42"},              /* the token form: a number */
      {"\\boxed A", "A"},                 /* or a run of letters and digits */
      {"\\boxed5", "5"},                  /* */
      {"\\boxedA", NULL},                 /* a letter after it: another command */
      {"\\boxedx{3}", NULL},              /* another command */
      {"\\boxed{}", NULL},                /* empty */
      {"\\boxed{ $ $ }", NULL},           /* empty once normalised */
      {"\\boxed", NULL},                  /* */
      {"\\boxed{", NULL},                 /* */
      {"the answer is 5", NULL},          /* no box */
      {"\\boxed{-}", "-"},                /* a string */
  };
  check_table(LC_ANSWER_BOXED, t, N_OF(t));
}

/* Boxed numbers compare as numbers, the rest as strings without spaces; an
 * expected answer without \boxed is itself the content. */
static void test_answer_boxed_score(void **state) {
  (void)state;
  assert_score(LC_ANSWER_BOXED, "\\boxed{\\frac{1}{2}}", "0.5", 1);
  assert_score(LC_ANSWER_BOXED, "\\boxed{0.5}", "\\frac{1}{2}", 1);
  assert_score(LC_ANSWER_BOXED, "\\boxed{2/4}", "\\boxed{1/2}", 1);
  assert_score(LC_ANSWER_BOXED, "\\boxed{x + 1}", "x+1", 1);
  assert_score(LC_ANSWER_BOXED, "\\boxed{1 + x}", "x+1", 0); /* not an equivalence checker */
  assert_score(LC_ANSWER_BOXED, "\\boxed{Monday}", "monday", 0);
  assert_score(LC_ANSWER_BOXED, "no box: 0.5", "0.5", 0);
  lc_answer_score s = score(LC_ANSWER_BOXED, "nothing", "$ 12 $");
  assert_int_equal(s.found, 0);
  assert_null(s.extracted);
  assert_string_equal(s.expected, "12");
  lc_answer_score_clear(&s);
}

/* ---- EXACT ----------------------------------------------------------------------*/

/* The whole text, trimmed, whitespace runs made one space, case kept. */
static void test_answer_exact_known(void **state) {
  (void)state;
  static const known t[] = {
      {"  Hello   World  ", "Hello World"},
      {"\tA\n\nb \r\n", "A b"},
      {"Case", "Case"},
      {"a\vb\fc", "a b c"},
      {"   ", NULL},
      {"", NULL},
  };
  check_table(LC_ANSWER_EXACT, t, N_OF(t));
  assert_score(LC_ANSWER_EXACT, " Paris\n", "Paris", 1);
  assert_score(LC_ANSWER_EXACT, "New  York", "New York", 1);
  assert_score(LC_ANSWER_EXACT, "paris", "Paris", 0);
  assert_score(LC_ANSWER_EXACT, "Paris.", "Paris", 0);
  const char nul[] = {'a', '\0', 'b'}; /* a NUL counts as whitespace */
  char *got = extract_n(LC_ANSWER_EXACT, nul, sizeof nul);
  assert_string_equal(got, "a b");
  free(got);
}

/* ---- CHOICE ---------------------------------------------------------------------*/

/* The first tier that finds a letter: \boxed, an answer phrase, "(X)", a
 * letter standing alone. */
static void test_answer_choice_known(void **state) {
  (void)state;
  static const known t[] = {
      {"The answer is (B).", "B"},
      {"Answer: C", "C"},
      {"answer is: **D**", "D"},
      {"**Answer:** **B**", "B"},
      {"ANSWER = E", "E"},
      {"The correct answer is [F]", "F"},
      {"I think the answer is A because it is larger", "A"},
      {"answer is option J", "J"},
      {"The correct option is B because", "B"},
      {"My choice: G", "G"},
      {"Answer: Because it is H", "H"},          /* "Because" is no letter */
      {"(A) is wrong, so the answer is C", "C"}, /* a phrase beats "(X)" */
      {"answer is K, so (D)", "D"},              /* K is no choice */
      {"options (A) 1 (B) 2 ... \\boxed{C}", "C"},
      {"\\boxed{(B)} although answer is A", "B"}, /* the box comes first */
      {"\\boxed{12} and answer is A", "A"},       /* a box that is no letter */
      {"A train leaves at noon. So (C)", "C"},
      {"I think B", "B"},
      {"B", "B"},
      {"(B)", "B"},
      {" B. 42", "B"},
      {"**C**", "C"},
      {"I'm sure it's E", "E"},
      {"P(A) = 0.5, so D", "D"}, /* "P(A)" is no choice */
      {"A train leaves", NULL},  /* "A" as a word */
      {"I think so", NULL},      /* "I" as a word */
      {"B-tree", NULL},          /* */
      {"Bob and Carol", NULL},   /* */
      {"answer is K", NULL},     /* */
      {"(b) lower case", NULL},  /* */
      {"", NULL},                /* */
  };
  check_table(LC_ANSWER_CHOICE, t, N_OF(t));
  assert_score(LC_ANSWER_CHOICE, "The answer is (B).", "B", 1);
  assert_score(LC_ANSWER_CHOICE, "Answer: B", "(B)", 1);
  assert_score(LC_ANSWER_CHOICE, "Answer: C", "B", 0);
}

/* ---- scoring and errors ------------------------------------------------------------*/

/* found/correct/extracted/expected are filled; clear frees and zeroes. */
static void test_answer_score_fields(void **state) {
  (void)state;
  lc_answer_score s = score(LC_ANSWER_NUMBER, "so 1,234.50 dollars", "1234.5");
  assert_int_equal(s.found, 1);
  assert_int_equal(s.correct, 1);
  assert_string_equal(s.extracted, "1234.5");
  assert_string_equal(s.expected, "1234.5");
  lc_answer_score_clear(&s);
  assert_null(s.extracted);
  assert_null(s.expected);
  assert_int_equal(s.found, 0);
  s = score(LC_ANSWER_NUMBER, "no idea", "7");
  assert_int_equal(s.found, 0);
  assert_int_equal(s.correct, 0);
  assert_null(s.extracted);
  assert_string_equal(s.expected, "7");
  lc_answer_score_clear(&s);
  lc_answer_score_clear(NULL);
}

/* NULLs, unknown kinds and expected answers without an answer are
 * LC_ERR_INVALID_ARGUMENT, leave nothing allocated and name the problem. */
static void test_answer_errors(void **state) {
  (void)state;
  char *out = (char *)1;
  assert_int_equal(lc_answer_extract(LC_ANSWER_NUMBER, NULL, 0, &out), LC_ERR_INVALID_ARGUMENT);
  assert_null(out);
  assert_int_equal(lc_answer_extract(LC_ANSWER_NUMBER, "1", 1, NULL), LC_ERR_INVALID_ARGUMENT);
  out = (char *)1;
  assert_int_equal(lc_answer_extract((lc_answer_kind)0, "1", 1, &out), LC_ERR_INVALID_ARGUMENT);
  assert_null(out);
  assert_int_equal(lc_answer_extract((lc_answer_kind)5, "1", 1, &out), LC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(lc_last_error(NULL), "unknown kind"));
  assert_int_equal(lc_answer_extract(LC_ANSWER_EXACT, "1", (size_t)-1, &out),
                   LC_ERR_INVALID_ARGUMENT);

  lc_answer_score s;
  memset(&s, 0x5a, sizeof s);
  assert_int_equal(lc_answer_score_text(LC_ANSWER_NUMBER, "1", 1, "no number", &s),
                   LC_ERR_INVALID_ARGUMENT);
  assert_null(s.expected);
  assert_null(s.extracted);
  assert_non_null(strstr(lc_last_error(NULL), "no number answer"));
  const struct {
    lc_answer_kind k;
    const char *expected;
  } none[] = {{LC_ANSWER_NUMBER, ""},    {LC_ANSWER_BOXED, "  "}, {LC_ANSWER_BOXED, "\\boxed{}"},
              {LC_ANSWER_EXACT, " \n "}, {LC_ANSWER_CHOICE, "K"}, {LC_ANSWER_CHOICE, "b"},
              {LC_ANSWER_BOXED, "$$"}};
  for (size_t i = 0; i < N_OF(none); i++) {
    lc_status st = lc_answer_score_text(none[i].k, "x", 1, none[i].expected, &s);
    if (st != LC_ERR_INVALID_ARGUMENT)
      fail_msg("%s expected \"%s\": %s, want LC_ERR_INVALID_ARGUMENT",
               lc_answer_kind_name(none[i].k), none[i].expected, lc_status_name(st));
    assert_null(s.expected);
  }
  assert_int_equal(lc_answer_score_text(LC_ANSWER_NUMBER, NULL, 0, "1", &s),
                   LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_answer_score_text(LC_ANSWER_NUMBER, "1", 1, NULL, &s),
                   LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_answer_score_text(LC_ANSWER_NUMBER, "1", 1, "1", NULL),
                   LC_ERR_INVALID_ARGUMENT);
  assert_int_equal(lc_answer_score_text((lc_answer_kind)9, "1", 1, "1", &s),
                   LC_ERR_INVALID_ARGUMENT);
  assert_null(s.expected);
}

/* Bytes that are not UTF-8 are opaque: they neither crash nor change what
 * the ASCII around them means. */
static void test_answer_invalid_utf8(void **state) {
  (void)state;
  static const known num[] = {
      {"\xff"
       "42\xfe",
       "42"},
      {"\xe2\x88\x92"
       "3/6",
       "-0.5"},
      {"\xe2\x88"
       "5",
       "5"},          /* a truncated U+2212 is no minus */
      {"7\xe2", "7"}, /* a lone lead byte at the end */
      {"\xc3\xa9\xc3\xa9 12,500 \x80\x81", "12500"},
  };
  check_table(LC_ANSWER_NUMBER, num, N_OF(num));
  static const known box[] = {
      {"\\boxed{\xff\xfe}", "\xff\xfe"},
      {"\\boxed{\xf0\x9f\x98\x80 1}",
       "\xf0\x9f\x98\x80"
       "1"},
  };
  check_table(LC_ANSWER_BOXED, box, N_OF(box));
  static const known ch[] = {
      {"\xe4\xbd\xa0"
       "B",
       NULL},                  /* after a non-ASCII byte: part of a word */
      {"answer: \xff C", "C"}, /* */
      {"\xff (D) \xfe", "D"},  /* */
  };
  check_table(LC_ANSWER_CHOICE, ch, N_OF(ch));
  char *got = extract(LC_ANSWER_EXACT, "  \xff  \xfe ");
  assert_string_equal(got, "\xff \xfe");
  free(got);
}

/* ---- fuzz and time --------------------------------------------------------------------*/

/* Pieces the fuzzer strings together: the bytes each scanner reacts to. */
static const char *const FUZZ_PIECES[] = {
    "0",    "1",      "7",      "9",       ",",       ",000",   ".",
    "/",    "-",      "+",      "%",       "$",       "\\",     "\\boxed",
    "{",    "}",      "\\{",    "\\frac{", "}{",      "(",      ")",
    "A",    "B",      "I",      "J",       "K",       " ",      "\n",
    "is",   "answer", "Answer", ":",       "*",       "option", "\xe2\x88\x92",
    "\xe2", "\xff",   "a",      "'",       "\\boxed{"};

/* Seeded random byte strings never crash, never read past len (the buffer
 * has no NUL after it), and give the same answer twice; NUMBER's and EXACT's
 * normalised forms are fixed points of their own extraction. */
static void test_answer_fuzz(void **state) {
  (void)state;
  lct_rng r = lct_rng_new(20261207);
  const lc_answer_kind kinds[] = {LC_ANSWER_NUMBER, LC_ANSWER_BOXED, LC_ANSWER_EXACT,
                                  LC_ANSWER_CHOICE};
  char text[512] = {0};
  int found[5] = {0};
  for (int iter = 0; iter < 4000; iter++) {
    size_t n = 0, want = (size_t)lct_range(&r, 0, 400);
    bool raw = iter % 4 == 0; /* every fourth string: uniform random bytes */
    while (n < want) {
      if (raw) {
        text[n++] = (char)lct_range(&r, 0, 255);
        continue;
      }
      const char *p = FUZZ_PIECES[lct_range(&r, 0, (int64_t)N_OF(FUZZ_PIECES) - 1)];
      size_t k = strlen(p);
      if (n + k > sizeof text) break;
      memcpy(text + n, p, k);
      n += k;
    }
    for (size_t i = 0; i < N_OF(kinds); i++) {
      char *a = extract_n(kinds[i], text, n), *b = extract_n(kinds[i], text, n);
      if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
        fail_msg("iteration %d, %s: two extractions differ", iter, lc_answer_kind_name(kinds[i]));
      if (a && (kinds[i] == LC_ANSWER_NUMBER || kinds[i] == LC_ANSWER_EXACT)) {
        char *c = extract(kinds[i], a);
        if (!c || strcmp(a, c) != 0)
          fail_msg("iteration %d, %s: \"%s\" normalises to \"%s\"", iter,
                   lc_answer_kind_name(kinds[i]), a, c ? c : "none");
        free(c);
      }
      found[kinds[i]] += a != NULL;
      free(a);
      free(b);
    }
  }
  /* the pieces reach every kind's answers, not only "none" */
  for (int k = LC_ANSWER_NUMBER; k <= LC_ANSWER_CHOICE; k++) assert_true(found[k] > 100);
}

/* Inputs that make a backtracking scanner quadratic take linear time: 4 MiB
 * of each pattern, every kind, well under a second each on this machine (a
 * quadratic scan would take hours); the bound is loose for sanitizer builds. */
static void test_answer_linear_time(void **state) {
  (void)state;
  const char *const patterns[] = {"\\boxed{", "\\boxed ", "{",  "answer is ", "answer ",
                                  "1,000",    "1/0",      "(A", "-",          "\\boxed{1}"};
  const size_t n = (size_t)4 << 20;
  char *buf = lct_malloc(n);
  const lc_answer_kind kinds[] = {LC_ANSWER_NUMBER, LC_ANSWER_BOXED, LC_ANSWER_EXACT,
                                  LC_ANSWER_CHOICE};
  double t0 = lct_now_s();
  for (size_t p = 0; p < N_OF(patterns); p++) {
    size_t k = strlen(patterns[p]);
    for (size_t i = 0; i < n; i++) buf[i] = patterns[p][i % k];
    for (size_t i = 0; i < N_OF(kinds); i++) {
      char *out = NULL;
      assert_int_equal(lc_answer_extract(kinds[i], buf, n, &out), LC_OK);
      free(out);
    }
  }
  double dt = lct_now_s() - t0;
  print_message("linear time: %zu patterns x 4 kinds x 4 MiB in %.2f s\n", N_OF(patterns), dt);
  assert_true(dt < 60.0);
  free(buf);
}

/* ---- datasets ---------------------------------------------------------------------------*/

/* Reads a JSONL file of {"prompt": string, "answer": string}; fails the test
 * on anything else.  Returns the array of objects (json_decref it). */
static json_t *read_jsonl(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("%s: cannot open", path);
  json_t *all = json_array();
  char line[4096];
  int no = 0;
  while (fgets(line, sizeof line, f)) {
    no++;
    size_t len = strlen(line);
    if (len == 0 || line[len - 1] != '\n')
      fail_msg("%s:%d: line too long or unterminated", path, no);
    json_error_t err;
    json_t *o = json_loadb(line, len, 0, &err);
    if (!o) fail_msg("%s:%d: %s", path, no, err.text);
    const json_t *p = json_object_get(o, "prompt"), *a = json_object_get(o, "answer");
    if (!json_is_object(o) || json_object_size(o) != 2 || !json_is_string(p) ||
        !json_is_string(a) || json_string_length(p) == 0 || json_string_length(a) == 0)
      fail_msg("%s:%d: want exactly {\"prompt\": non-empty string, \"answer\": non-empty string}",
               path, no);
    json_array_append_new(all, o);
  }
  fclose(f);
  return all;
}

/* arith50.jsonl: 50 problems; every answer is one number that normalises,
 * scores correct in a typical output, and the set covers commas, decimals,
 * fractions and negatives. */
static void test_answer_dataset_arith50(void **state) {
  (void)state;
  json_t *all = read_jsonl(LC_SOURCE_DIR "/tests/data/arith50.jsonl");
  assert_int_equal(json_array_size(all), 50);
  int comma = 0, dot = 0, frac = 0, neg = 0;
  size_t i;
  json_t *o;
  json_array_foreach(all, i, o) {
    const char *a = json_string_value(json_object_get(o, "answer"));
    char *v = extract(LC_ANSWER_NUMBER, a);
    if (!v) fail_msg("line %zu: answer \"%s\" holds no number", i + 1, a);
    /* the number is the whole answer: nothing before or after it */
    char *again = extract(LC_ANSWER_NUMBER, v);
    assert_string_equal(again, v);
    free(again);
    size_t na = strlen(a);
    if (strspn(a, "-0123456789,./") != na)
      fail_msg("line %zu: answer \"%s\" is not only a number", i + 1, a);
    char out[256];
    snprintf(out, sizeof out, "Step by step... so the answer is %s.", a);
    assert_score(LC_ANSWER_NUMBER, out, a, 1);
    snprintf(out, sizeof out, "The answer is %s1.", a); /* a different number */
    assert_score(LC_ANSWER_NUMBER, out, a, 0);
    comma += strchr(a, ',') != NULL;
    dot += strchr(a, '.') != NULL;
    frac += strchr(a, '/') != NULL;
    neg += a[0] == '-';
    free(v);
  }
  print_message("arith50: %d with commas, %d decimals, %d fractions, %d negative\n", comma, dot,
                frac, neg);
  assert_true(comma >= 3 && dot >= 3 && frac >= 1 && neg >= 3);
  json_decref(all);
}

/* choice10.jsonl: 10 questions; every answer is one letter A-J that the
 * prompt offers as "(X)", and scores correct in a typical output. */
static void test_answer_dataset_choice10(void **state) {
  (void)state;
  json_t *all = read_jsonl(LC_SOURCE_DIR "/tests/data/choice10.jsonl");
  assert_int_equal(json_array_size(all), 10);
  size_t i;
  json_t *o;
  json_array_foreach(all, i, o) {
    const char *p = json_string_value(json_object_get(o, "prompt"));
    const char *a = json_string_value(json_object_get(o, "answer"));
    if (strlen(a) != 1 || a[0] < 'A' || a[0] > 'J')
      fail_msg("line %zu: answer \"%s\" is not a letter A-J", i + 1, a);
    char opt[4] = {'(', a[0], ')', '\0'};
    if (!strstr(p, opt)) fail_msg("line %zu: the prompt offers no %s", i + 1, opt);
    char out[64];
    snprintf(out, sizeof out, "Let me think. The answer is (%c).", a[0]);
    assert_score(LC_ANSWER_CHOICE, out, a, 1);
    snprintf(out, sizeof out, "%c", a[0]);
    assert_score(LC_ANSWER_CHOICE, out, opt, 1);
    snprintf(out, sizeof out, "Answer: %c", a[0] == 'A' ? 'B' : 'A');
    assert_score(LC_ANSWER_CHOICE, out, a, 0);
  }
  json_decref(all);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_answer_kind_names),
      cmocka_unit_test(test_answer_number_known),
      cmocka_unit_test(test_answer_number_equal_values),
      cmocka_unit_test(test_answer_number_large),
      cmocka_unit_test(test_answer_number_len_bound),
      cmocka_unit_test(test_answer_boxed_known),
      cmocka_unit_test(test_answer_boxed_score),
      cmocka_unit_test(test_answer_exact_known),
      cmocka_unit_test(test_answer_choice_known),
      cmocka_unit_test(test_answer_score_fields),
      cmocka_unit_test(test_answer_errors),
      cmocka_unit_test(test_answer_invalid_utf8),
      cmocka_unit_test(test_answer_fuzz),
      cmocka_unit_test(test_answer_linear_time),
      cmocka_unit_test(test_answer_dataset_arith50),
      cmocka_unit_test(test_answer_dataset_choice10),
  };
  return LCT_RUN(tests);
}

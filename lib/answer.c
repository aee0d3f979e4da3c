/*
 * lib/answer.c — answer extraction and scoring for scored datasets
 * (layercast_text.h, "Answers").  docs/metrics.md, "Scored datasets: answer
 * extraction", states every rule implemented here; the tests are
 * tests/test_answer.c.
 *
 * The scanners are hand-written and read the text as bytes: only ASCII bytes
 * (and the UTF-8 minus sign U+2212) carry meaning, every other byte (valid
 * UTF-8 or not) is an opaque "other" byte.  Each byte is looked at a bounded
 * number of times, so every call is linear in the text's length.
 *
 * A number's normalised form is canonical: two numbers within range are
 * equal as rationals exactly when their normalised strings are equal (see
 * canon_number), so scoring compares strings for every kind.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layercast_text.h"
#include "lib/lc_internal.h"

/* ---- bytes ------------------------------------------------------------------*/

static bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
static bool is_upper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}
static bool is_lower(unsigned char c) {
  return c >= 'a' && c <= 'z';
}
static bool is_alpha(unsigned char c) {
  return is_upper(c) || is_lower(c);
}
static bool is_alnum(unsigned char c) {
  return is_alpha(c) || is_digit(c);
}
/* ASCII whitespace, and NUL (a NUL inside len counts as a space). */
static bool is_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0;
}
/* Bytes that make a letter part of a word: ASCII letters and digits, '_',
 * and every byte >= 0x80 (UTF-8 letters and anything else non-ASCII). */
static bool is_word(unsigned char c) {
  return is_alnum(c) || c == '_' || c >= 0x80;
}
static unsigned char to_lower(unsigned char c) {
  return is_upper(c) ? (unsigned char)(c + 32) : c;
}

static bool starts_with(const unsigned char *s, size_t n, size_t i, const char *lit) {
  size_t k = strlen(lit);
  return k <= n - i && memcmp(s + i, lit, k) == 0;
}

/* ASCII case-insensitive starts_with; lit is lower case. */
static bool starts_with_ci(const unsigned char *s, size_t n, size_t i, const char *lit) {
  size_t k = strlen(lit);
  if (k > n - i) return false;
  for (size_t j = 0; j < k; j++)
    if (to_lower(s[i + j]) != (unsigned char)lit[j]) return false;
  return true;
}

static size_t digits_end(const unsigned char *s, size_t n, size_t i) {
  while (i < n && is_digit(s[i])) i++;
  return i;
}

static char *dup_bytes(const void *p, size_t n) {
  char *d = lc_malloc(n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, p, n);
  d[n] = '\0';
  return d;
}

/* ---- numbers ------------------------------------------------------------------
 * A number is [sign] (digits | grouped digits) [. digits] | [sign] . digits |
 * [sign] integer / digits; docs/metrics.md gives the conditions.  The spans
 * below index the text the number was read from. */

typedef struct num_span {
  size_t start, end; /* [start, end): the whole number, sign included */
  bool neg;          /* a minus sign was read */
  size_t ip, ie;     /* integer part, may hold grouping commas; empty for ".5" */
  size_t fp, fe;     /* digits after the decimal point; empty when none */
  size_t dp, de;     /* denominator digits after '/'; empty when not a fraction */
} num_span;

/* Length of the sign at i (ASCII '-' or '+', or U+2212 as E2 88 92), 0 when
 * there is none; *neg tells a minus. */
static size_t sign_len(const unsigned char *s, size_t n, size_t i, bool *neg) {
  if (s[i] == '-' || s[i] == '+') {
    *neg = s[i] == '-';
    return 1;
  }
  if (n - i >= 3 && s[i] == 0xE2 && s[i + 1] == 0x88 && s[i + 2] == 0x92) {
    *neg = true;
    return 3;
  }
  return 0;
}

/* A sign directly after these bytes is an operator ("5-3", "x-1", "(a)-2"). */
static bool sign_may_follow(unsigned char c) {
  return !(is_alnum(c) || c == '_' || c == ')' || c == ']' || c == '}');
}

/* ",ddd" at i, not followed by a further digit: one thousands group. */
static bool group_at(const unsigned char *s, size_t n, size_t i) {
  return n - i >= 4 && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
         is_digit(s[i + 3]) && (n - i == 4 || !is_digit(s[i + 4]));
}

static bool dot_digit_at(const unsigned char *s, size_t n, size_t i) {
  return n - i >= 2 && s[i] == '.' && is_digit(s[i + 1]);
}

/* Reads a number whose first byte (its sign, first digit or point) is at i;
 * false when none starts there.  It reads only what it consumes, plus a
 * rejected denominator, which the caller reads again once. */
static bool scan_number(const unsigned char *s, size_t n, size_t i, num_span *m) {
  memset(m, 0, sizeof *m);
  size_t p = i;
  size_t sl = sign_len(s, n, p, &m->neg);
  if (sl && i > 0 && !sign_may_follow(s[i - 1])) return false;
  p += sl;
  bool dot = dot_digit_at(s, n, p);
  if (!dot && !(p < n && is_digit(s[p]))) return false;
  if (dot && p > 0 && is_digit(s[p - 1])) return false; /* the ".3" of "1.2.3" */
  m->ip = p;
  if (!dot) {
    size_t q = digits_end(s, n, p);
    /* grouping: a first group of 1-3 digits without a leading zero, then
     * groups of exactly three */
    if (q - p <= 3 && s[p] != '0')
      while (group_at(s, n, q)) q += 4;
    p = q;
  }
  m->ie = p;
  if (dot_digit_at(s, n, p)) {
    m->fp = p + 1;
    m->fe = digits_end(s, n, p + 1);
    p = m->fe;
  } else if (m->ie > m->ip && n - p >= 2 && s[p] == '/' && is_digit(s[p + 1])) {
    size_t d = p + 1, e = digits_end(s, n, d);
    bool zero = true;
    for (size_t j = d; j < e; j++) zero = zero && s[j] == '0';
    /* a/0 is no fraction; neither is "1/2.5" (a ratio of decimals) */
    if (!zero && !dot_digit_at(s, n, e)) {
      m->dp = d;
      m->de = e;
      p = e;
    }
  }
  m->start = i;
  m->end = p;
  return true;
}

/* The last number in [0, n): false when there is none. */
static bool last_number(const unsigned char *s, size_t n, num_span *out) {
  bool found = false;
  size_t i = 0;
  while (i < n) {
    num_span m;
    unsigned char c = s[i];
    bool may = is_digit(c) || c == '.' || c == '-' || c == '+' || c == 0xE2;
    if (may && scan_number(s, n, i, &m)) {
      *out = m;
      found = true;
      i = m.end; /* > i: a number holds a digit */
    } else {
      i++;
    }
  }
  return found;
}

/* Appends the digits of [a, b), commas skipped, leading zeros dropped, to
 * dst; returns the count appended (0 for zero). */
static size_t put_digits(char *dst, const unsigned char *s, size_t a, size_t b) {
  size_t k = 0;
  for (size_t j = a; j < b; j++) {
    if (!is_digit(s[j])) continue;
    if (k == 0 && s[j] == '0') continue;
    dst[k++] = (char)s[j];
  }
  return k;
}

/* The value of a digit string with no leading zeros; false when it does
 * not fit in uint64_t. */
static bool to_u64(const char *d, size_t k, uint64_t *v) {
  uint64_t x = 0;
  for (size_t j = 0; j < k; j++) {
    unsigned dig = (unsigned)(d[j] - '0');
    if (x > (UINT64_MAX - dig) / 10) return false;
    x = x * 10 + dig;
  }
  *v = x;
  return true;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Writes p/q (p > 0, q > 1, gcd 1, q = 2^a 5^b) as a terminating decimal
 * into out (at least 70 bytes), without trailing zeros; returns its length.
 * p/q = p * 2^(k-a) 5^(k-b) / 10^k with k = max(a, b): the product has at
 * most 20 + 45 digits (5^63 < 10^45), computed exactly on decimal digits. */
static size_t terminating_decimal(uint64_t p, int a, int b, char *out) {
  unsigned char dig[96]; /* little-endian decimal digits of the product */
  size_t nd = 0;
  for (uint64_t x = p; x; x /= 10) dig[nd++] = (unsigned char)(x % 10);
  int k = a > b ? a : b;
  for (int r = 0; r < 2 * k - a - b; r++) {
    unsigned f = r < k - a ? 2u : 5u, carry = 0;
    for (size_t j = 0; j < nd; j++) {
      unsigned v = dig[j] * f + carry;
      dig[j] = (unsigned char)(v % 10);
      carry = v / 10;
    }
    if (carry) dig[nd++] = (unsigned char)carry;
  }
  size_t len = 0;
  if (nd <= (size_t)k) {
    out[len++] = '0';
  } else {
    for (size_t j = nd; j > (size_t)k; j--) out[len++] = (char)('0' + dig[j - 1]);
  }
  size_t lo = 0; /* the lowest nonzero fractional digit */
  while (lo < (size_t)k && (lo >= nd || dig[lo] == 0)) lo++;
  if (lo < (size_t)k) {
    out[len++] = '.';
    for (size_t j = (size_t)k; j > lo; j--)
      out[len++] = (char)('0' + (j - 1 < nd ? dig[j - 1] : 0));
  }
  return len;
}

/* The normalised form of a number (malloc'ed; NULL when out of memory):
 *   decimal   [-]I[.F]  I without leading zeros ("0" when empty), F without
 *             trailing zeros (no point when F is empty), no sign on zero;
 *   fraction  reduced; written as an integer when the denominator becomes 1,
 *             as a terminating decimal (the form above) when it is 2^a 5^b,
 *             else [-]P/Q.  Numerator or denominator past 2^64-1: [-]P/Q of
 *             the digits as written (leading zeros dropped), not reduced.
 * Within range each rational has one form: a decimal form's value has a
 * denominator 2^a 5^b, a P/Q form's reduced denominator has another prime,
 * and both forms are unique for their values. */
static char *canon_number(const unsigned char *s, const num_span *m) {
  size_t ni = m->ie - m->ip, nf = m->fe - m->fp, nq = m->de - m->dp;
  char *out = lc_malloc(ni + nf + nq + 100);
  if (!out) return NULL;
  char *w = out + 1; /* the form is built here; out[0] is kept for a sign */
  size_t len = 0;
  bool zero = false;
  if (nq == 0) { /* decimal */
    len = put_digits(w, s, m->ip, m->ie);
    size_t f = nf;
    while (f > 0 && s[m->fp + f - 1] == '0') f--;
    if (len == 0) w[len++] = '0';
    zero = len == 1 && w[0] == '0' && f == 0;
    if (f > 0) {
      w[len++] = '.';
      memcpy(w + len, s + m->fp, f);
      len += f;
    }
  } else { /* fraction: the numerator's digits at w, the denominator's after them */
    char *num = w, *den = w + ni + 1;
    size_t kn = put_digits(num, s, m->ip, m->ie), kd = put_digits(den, s, m->dp, m->de);
    uint64_t p, q;
    if (kn == 0) {
      w[len++] = '0';
      zero = true;
    } else if (to_u64(num, kn, &p) && to_u64(den, kd, &q)) {
      uint64_t g = gcd_u64(p, q);
      p /= g;
      q /= g;
      int a = 0, b = 0;
      uint64_t r = q;
      for (; r % 2 == 0; r /= 2) a++;
      for (; r % 5 == 0; r /= 5) b++;
      if (r == 1) {
        len = terminating_decimal(p, a, b, w); /* < 70 bytes, w has >= 99 */
      } else {
        char rev[24];
        size_t nr = 0;
        for (uint64_t x = p; x; x /= 10) rev[nr++] = (char)('0' + x % 10);
        while (nr) w[len++] = rev[--nr];
        w[len++] = '/';
        for (uint64_t x = q; x; x /= 10) rev[nr++] = (char)('0' + x % 10);
        while (nr) w[len++] = rev[--nr];
      }
    } else { /* too large to reduce: the digits as written */
      num[kn] = '/';
      memmove(num + kn + 1, den, kd);
      len = kn + 1 + kd;
    }
  }
  if (m->neg && !zero) {
    out[0] = '-';
    len++;
  } else {
    memmove(out, w, len);
  }
  out[len] = '\0';
  return out;
}

/* ---- \boxed -------------------------------------------------------------------*/

typedef struct box_open {
  size_t depth; /* brace depth outside the group */
  size_t start; /* offset of its backslash */
  size_t cs;    /* first content byte */
} box_open;

/* The content [*a, *b) of the \boxed that starts last among the complete
 * ones ("\boxed{...}" with its braces closed, or "\boxed" + whitespace + a
 * number or a run of ASCII letters and digits); *found = false when none.
 * "\{" and "\}" are literal braces.  LC_ERR_OUT_OF_MEMORY for the stack of
 * open groups. */
static lc_status last_boxed(const unsigned char *s, size_t n, bool *found, size_t *a, size_t *b) {
  box_open *st = NULL;
  size_t nst = 0, cap = 0, depth = 0, best = 0;
  *found = false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    if (c == '\\') {
      if (n - i > 1 && (s[i + 1] == '{' || s[i + 1] == '}')) {
        i++; /* a literal brace */
        continue;
      }
      if (!starts_with(s, n, i, "\\boxed") || (n - i > 6 && is_alpha(s[i + 6]))) continue;
      size_t j = i + 6;
      while (j < n && is_space(s[j])) j++;
      if (j < n && s[j] == '{') {
        if (nst == cap) {
          size_t nc = cap ? 2 * cap : 16;
          box_open *ns = lc_realloc(st, nc * sizeof *ns);
          if (!ns) {
            free(st);
            return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_answer: \\boxed group stack");
          }
          st = ns;
          cap = nc;
        }
        st[nst++] = (box_open){depth, i, j + 1};
        depth++;
        i = j; /* the '{' */
        continue;
      }
      num_span m;
      size_t e = j;
      if (j < n && scan_number(s, n, j, &m)) {
        e = m.end;
      } else if (j > i + 6) {
        while (e < n && is_alnum(s[e])) e++;
      }
      if (e > j) { /* i is larger than every earlier start */
        *found = true;
        best = i;
        *a = j;
        *b = e;
      }
      i = j - 1; /* go on with the token's bytes (none is a brace) */
    } else if (c == '{') {
      depth++;
    } else if (c == '}' && depth > 0) {
      depth--;
      if (nst > 0 && st[nst - 1].depth == depth) {
        box_open o = st[--nst];
        if (!*found || o.start >= best) {
          *found = true;
          best = o.start;
          *a = o.cs;
          *b = i;
        }
      }
    }
  }
  free(st);
  return LC_OK;
}

/* "\frac{P}{Q}" (also \dfrac, \tfrac) with digit runs P, Q at w[i]: fills
 * the spans of m (neg left as is) and returns the end, or 0 when absent. */
static size_t scan_frac(const unsigned char *w, size_t n, size_t i, num_span *m) {
  static const char *const names[] = {"\\frac{", "\\dfrac{", "\\tfrac{"};
  for (size_t t = 0; t < 3; t++) {
    if (!starts_with(w, n, i, names[t])) continue;
    size_t p = i + strlen(names[t]), e = digits_end(w, n, p);
    if (e == p || !starts_with(w, n, e, "}{")) return 0;
    size_t d = e + 2, de = digits_end(w, n, d);
    if (de == d || de >= n || w[de] != '}') return 0;
    bool zero = true;
    for (size_t j = d; j < de; j++) zero = zero && w[j] == '0';
    if (zero) return 0;
    m->ip = p;
    m->ie = e;
    m->fp = m->fe = 0;
    m->dp = d;
    m->de = de;
    return de + 1;
  }
  return 0;
}

/* Normalises a \boxed content [a, b) (or a whole expected answer) into a
 * malloc'ed string in *out; *out = NULL when it is empty.  Whitespace goes,
 * "{,}" becomes ",", leading '$'s and trailing unescaped '$'s go; then a
 * content that is one number ([sign] [\$] number-or-\frac [% or \%]) takes
 * the number's normalised form, anything else stays as it is. */
static lc_status norm_boxed(const unsigned char *s, size_t a, size_t b, char **out) {
  *out = NULL;
  unsigned char *w = lc_malloc(b - a + 1);
  if (!w) return LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_answer: %zu bytes", b - a + 1);
  size_t n = 0;
  for (size_t i = a; i < b; i++) {
    if (is_space(s[i])) continue;
    if (s[i] == '{' && b - i >= 3 && s[i + 1] == ',' && s[i + 2] == '}') {
      w[n++] = ',';
      i += 2;
      continue;
    }
    w[n++] = s[i];
  }
  size_t lo = 0, hi = n;
  while (lo < hi && w[lo] == '$') lo++;
  while (hi > lo && w[hi - 1] == '$' && !(hi - 1 > lo && w[hi - 2] == '\\')) hi--;
  if (lo == hi) {
    free(w);
    return LC_OK;
  }
  /* one number, the whole content? */
  size_t p = lo;
  num_span m;
  memset(&m, 0, sizeof m);
  bool neg = false;
  p += sign_len(w, hi, p, &neg);
  if (starts_with(w, hi, p, "\\$")) p += 2;
  size_t e = scan_frac(w, hi, p, &m);
  if (e == 0 && p < hi && (is_digit(w[p]) || w[p] == '.') && scan_number(w, hi, p, &m)) e = m.end;
  if (e > 0) {
    if (starts_with(w, hi, e, "\\%"))
      e += 2;
    else if (starts_with(w, hi, e, "%"))
      e += 1;
  }
  if (e == hi) {
    m.neg = neg;
    *out = canon_number(w, &m);
  } else {
    *out = dup_bytes(w + lo, hi - lo);
  }
  free(w);
  return *out ? LC_OK : LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_answer: normalised answer");
}

/* ---- exact ----------------------------------------------------------------------*/

/* The text trimmed, each run of whitespace made one space; NULL when empty
 * (*oom set when out of memory). */
static char *norm_exact(const unsigned char *s, size_t n, bool *oom) {
  char *o = lc_malloc(n + 1);
  if (!o) {
    *oom = true;
    return NULL;
  }
  size_t k = 0;
  bool gap = false;
  for (size_t i = 0; i < n; i++) {
    if (is_space(s[i])) {
      gap = k > 0;
      continue;
    }
    if (gap) o[k++] = ' ';
    gap = false;
    o[k++] = (char)s[i];
  }
  if (k == 0) {
    free(o);
    return NULL;
  }
  o[k] = '\0';
  return o;
}

/* ---- choice letters ---------------------------------------------------------------*/

static bool is_choice(unsigned char c) {
  return c >= 'A' && c <= 'J';
}

/* Tier 1: "answer" / "option" / "choice" (any case, a whole word), then any
 * of whitespace, ':', '*', '=', '(', '[' and the word "is", then a letter A-J
 * not followed by an ASCII letter or digit.  The last match, or 0.  The
 * skipped runs of different keywords never overlap (no keyword byte is
 * skippable), so the scan is linear. */
static unsigned char choice_phrase(const unsigned char *s, size_t n) {
  static const char *const keys[] = {"answer", "option", "choice"};
  unsigned char got = 0;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && is_word(s[i - 1])) continue;
    size_t p = 0;
    for (size_t t = 0; t < 3 && !p; t++)
      if (starts_with_ci(s, n, i, keys[t])) p = i + 6;
    if (!p || (p < n && is_alpha(s[p]))) continue;
    for (;;) {
      if (p < n && (is_space(s[p]) || s[p] == ':' || s[p] == '*' || s[p] == '=' || s[p] == '(' ||
                    s[p] == '[')) {
        p++;
      } else if (starts_with_ci(s, n, p, "is") && (n - p == 2 || !is_alpha(s[p + 2]))) {
        p += 2;
      } else {
        break;
      }
    }
    if (p < n && is_choice(s[p]) && (n - p == 1 || !is_alnum(s[p + 1]))) got = s[p];
    i = p > i ? p - 1 : i;
  }
  return got;
}

/* Tier 2: the last "(X)", X in A-J, not after a word byte ("P(A)" is no
 * choice); 0 when none. */
static unsigned char choice_paren(const unsigned char *s, size_t n) {
  unsigned char got = 0;
  for (size_t i = 0; i + 2 < n; i++)
    if (s[i] == '(' && is_choice(s[i + 1]) && s[i + 2] == ')' && !(i > 0 && is_word(s[i - 1])))
      got = s[i + 1];
  return got;
}

/* Tier 3: the last letter A-J standing alone: no word byte before it, none
 * after it, nor an apostrophe or hyphen that joins a word byte after it;
 * "A" and "I" followed by one space and a lower-case letter are words ("A
 * train", "I think") and do not count.  0 when none. */
static unsigned char choice_bare(const unsigned char *s, size_t n) {
  unsigned char got = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    if (!is_choice(c) || (i > 0 && is_word(s[i - 1]))) continue;
    size_t r = n - i - 1; /* bytes after c */
    if (r >= 1 && is_word(s[i + 1])) continue;
    if (r >= 2 && (s[i + 1] == '\'' || s[i + 1] == '-') && is_word(s[i + 2])) continue;
    if ((c == 'A' || c == 'I') && r >= 2 && s[i + 1] == ' ' && is_lower(s[i + 2])) continue;
    got = c;
  }
  return got;
}

/* A normalised \boxed content that names a choice: "B" or "(B)". */
static unsigned char choice_of_box(const char *v) {
  if (!v) return 0;
  if (is_choice((unsigned char)v[0]) && v[1] == '\0') return (unsigned char)v[0];
  if (v[0] == '(' && is_choice((unsigned char)v[1]) && v[2] == ')' && v[3] == '\0')
    return (unsigned char)v[1];
  return 0;
}

/* ---- entry points -----------------------------------------------------------------*/

const char *lc_answer_kind_name(lc_answer_kind k) {
  switch (k) {
    case LC_ANSWER_NUMBER:
      return "number";
    case LC_ANSWER_BOXED:
      return "boxed";
    case LC_ANSWER_EXACT:
      return "exact";
    case LC_ANSWER_CHOICE:
      return "choice";
  }
  return "unknown";
}

lc_status lc_answer_kind_from_name(const char *name, lc_answer_kind *out) {
  if (!name || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_answer_kind_from_name: %s is NULL",
                   !name ? "name" : "out");
  for (int k = LC_ANSWER_NUMBER; k <= LC_ANSWER_CHOICE; k++) {
    if (strcmp(name, lc_answer_kind_name((lc_answer_kind)k)) == 0) {
      *out = (lc_answer_kind)k;
      return LC_OK;
    }
  }
  return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                 "lc_answer_kind_from_name: unknown kind \"%.64s\" (expected number, boxed, exact "
                 "or choice)",
                 name);
}

static bool kind_ok(lc_answer_kind k) {
  return k >= LC_ANSWER_NUMBER && k <= LC_ANSWER_CHOICE;
}

/* The normalised answer of kind k in s[0, n), *out = NULL when none.  For an
 * expected answer (expected = true) BOXED takes the whole text when it holds
 * no complete \boxed. */
static lc_status extract(lc_answer_kind k, const unsigned char *s, size_t n, bool expected,
                         char **out) {
  *out = NULL;
  switch (k) {
    case LC_ANSWER_NUMBER: {
      num_span m;
      if (!last_number(s, n, &m)) return LC_OK;
      *out = canon_number(s, &m);
      break;
    }
    case LC_ANSWER_BOXED: {
      bool found;
      size_t a = 0, b = 0;
      LC_TRY(last_boxed(s, n, &found, &a, &b));
      if (!found && !expected) return LC_OK;
      if (!found) b = n;
      return norm_boxed(s, a, b, out);
    }
    case LC_ANSWER_EXACT: {
      bool oom = false;
      *out = norm_exact(s, n, &oom);
      if (!oom) return LC_OK;
      break;
    }
    case LC_ANSWER_CHOICE: {
      bool found;
      size_t a = 0, b = 0;
      LC_TRY(last_boxed(s, n, &found, &a, &b));
      unsigned char c = 0;
      if (found) {
        char *v;
        LC_TRY(norm_boxed(s, a, b, &v));
        c = choice_of_box(v);
        free(v);
      }
      if (!c) c = choice_phrase(s, n);
      if (!c) c = choice_paren(s, n);
      if (!c) c = choice_bare(s, n);
      if (!c) return LC_OK;
      *out = dup_bytes(&c, 1);
      break;
    }
  }
  return *out ? LC_OK : LC_FAIL(NULL, LC_ERR_OUT_OF_MEMORY, "lc_answer: normalised answer");
}

/* Text lengths beyond this are a caller's bug (and would overflow sizes). */
#define LC_ANSWER_MAX_LEN ((size_t)1 << 40)

lc_status lc_answer_extract(lc_answer_kind k, const char *text, size_t len, char **out) {
  if (out) *out = NULL;
  if (!text || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_answer_extract: %s is NULL",
                   !text ? "text" : "out");
  if (!kind_ok(k))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_answer_extract: unknown kind %d", (int)k);
  if (len > LC_ANSWER_MAX_LEN)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_answer_extract: len %zu is over 2^40", len);
  return extract(k, (const unsigned char *)text, len, false, out);
}

void lc_answer_score_clear(lc_answer_score *s) {
  if (!s) return;
  free(s->extracted);
  free(s->expected);
  memset(s, 0, sizeof *s);
}

lc_status lc_answer_score_text(lc_answer_kind k, const char *output, size_t len,
                               const char *expected, lc_answer_score *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!output || !expected || !out)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_answer_score_text: %s is NULL",
                   !output     ? "output"
                   : !expected ? "expected"
                               : "out");
  if (!kind_ok(k))
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_answer_score_text: unknown kind %d", (int)k);
  if (len > LC_ANSWER_MAX_LEN)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT, "lc_answer_score_text: len %zu is over 2^40",
                   len);
  char *want = NULL, *got = NULL;
  LC_TRY(extract(k, (const unsigned char *)expected, strlen(expected), true, &want));
  if (!want)
    return LC_FAIL(NULL, LC_ERR_INVALID_ARGUMENT,
                   "lc_answer_score_text: the expected answer \"%.64s\" holds no %s answer "
                   "(docs/metrics.md, \"Scored datasets\")",
                   expected, lc_answer_kind_name(k));
  lc_status st = extract(k, (const unsigned char *)output, len, false, &got);
  if (st != LC_OK) {
    free(want);
    return st;
  }
  out->expected = want;
  out->extracted = got;
  out->found = got != NULL;
  out->correct = got != NULL && strcmp(got, want) == 0;
  return LC_OK;
}

/* Number conversion: correctly rounded decimal -> double (the parser's slow
 * path) and shortest round-tripping double -> decimal (the writer). */
#define _GNU_SOURCE
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "json/internal.h"

/* strtod() depends on the process locale (a handler library may call
 * setlocale()); use a private "C" locale. glibc's strtod_l is correctly
 * rounded for any input length. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static double parse_c(const char *z) {
  pthread_once(&c_locale_once, c_locale_init);
  if (c_locale)
    return strtod_l(z, NULL, c_locale);
  return strtod(z, NULL);
}

int pf__json_strtod(const char *text, size_t len, double *out) {
  char small[128];
  char *z = small;
  if (len >= sizeof small) {
    z = pf__malloc(len + 1); /* only for absurdly long literals; not the hot path */
    if (!z)
      return -PF_ENOMEM;
  }
  memcpy(z, text, len);
  z[len] = '\0';
  *out = parse_c(z);
  if (z != small)
    pf__free(z);
  return isinf(*out) ? -PF_EJSON_NUMBER : 0;
}

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Number of decimal digits of v (1..20). */
static inline size_t count_digits(uint64_t v) {
  size_t n = 1;
  for (;;) {
    if (v < 10)
      return n;
    if (v < 100)
      return n + 1;
    if (v < 1000)
      return n + 2;
    if (v < 10000)
      return n + 3;
    v /= 10000;
    n += 4;
  }
}

/* Written in place from the last digit back, two at a time: no copy. */
size_t pf__json_fmt_u64(uint64_t v, char *out) {
  size_t n = count_digits(v);
  char *p = out + n;
  while (v >= 100) {
    unsigned r = (unsigned)(v % 100);
    v /= 100;
    p -= 2;
    memcpy(p, digits2 + 2 * r, 2);
  }
  if (v >= 10)
    memcpy(p - 2, digits2 + 2 * v, 2);
  else
    p[-1] = (char)('0' + v);
  return n;
}

static size_t fmt_g(double v, int prec, char *out) {
  pthread_once(&c_locale_once, c_locale_init);
  int n;
  if (c_locale) {
    locale_t old = uselocale(c_locale);
    n = snprintf(out, 32, "%.*g", prec, v);
    uselocale(old);
  } else {
    n = snprintf(out, 32, "%.*g", prec, v);
  }
  return n > 0 ? (size_t)n : 0;
}

static int roundtrips(const char *z, double v) { return parse_c(z) == v; }

/* Writes digits d[0..nd) (no trailing zeros) times 10^(e - nd + 1), i.e.
 * d[0].d[1..] x 10^e, the way %.17g would lay it out. */
static size_t layout(const char *d, int nd, int e, bool neg, char *out) {
  size_t k = 0;
  if (neg)
    out[k++] = '-';
  if (e < -4 || e >= 17) {
    out[k++] = d[0];
    if (nd > 1) {
      out[k++] = '.';
      memcpy(out + k, d + 1, (size_t)nd - 1);
      k += (size_t)nd - 1;
    }
    k += (size_t)snprintf(out + k, 8, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
  } else if (e < 0) {
    out[k++] = '0';
    out[k++] = '.';
    for (int i = 0; i < -e - 1; i++)
      out[k++] = '0';
    memcpy(out + k, d, (size_t)nd);
    k += (size_t)nd;
  } else {
    for (int i = 0; i <= e; i++)
      out[k++] = i < nd ? d[i] : '0';
    if (nd > e + 1) {
      out[k++] = '.';
      memcpy(out + k, d + e + 1, (size_t)(nd - e - 1));
      k += (size_t)(nd - e - 1);
    }
  }
  out[k] = '\0';
  return k;
}

/* The 16-significant-digit decimal adjacent to v on the side away from the
 * nearest one; written to out if it round-trips (returns its length), else
 * returns 0. */
static size_t other_neighbour16(double v, char *out) {
  char sci[40];
  pthread_once(&c_locale_once, c_locale_init);
  locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
  snprintf(sci, sizeof sci, "%.15e", fabs(v)); /* d.ddddddddddddddde+XX */
  if (c_locale)
    uselocale(old);
  char digits[20];
  digits[0] = sci[0];
  memcpy(digits + 1, sci + 2, 15);
  digits[16] = '\0';
  int e = atoi(sci + 18);
  uint64_t m = strtoull(digits, NULL, 10);
  double nearest = parse_c(sci);
  m = nearest < fabs(v) ? m + 1 : m - 1;
  if (m < 1000000000000000ull) { /* 1.000..0 - 1: one digit fewer */
    m = m * 10 + 9;
    e--;
  } else if (m >= 10000000000000000ull) { /* 9.999..9 + 1 */
    m /= 10;
    e++;
  }
  int nd = (int)pf__json_fmt_u64(m, digits);
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  char cand[40];
  size_t n = layout(digits, nd, e, signbit(v), cand);
  if (!roundtrips(cand, v))
    return 0;
  memcpy(out, cand, n + 1);
  return n;
}

static const double p10[18] = {1e0, 1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                               1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17};

/* Short decimals (3.5, 0.25, 19.99), the usual values in tool arguments
 * and results, without snprintf/strtod: the fewest fractional digits k for
 * which an integer m < 2^53 has m / 10^k == v. Both operands of that
 * division are exact, so it is rounded once (Clinger): equality proves that
 * the decimal m.10^-k parses back to v, and the smallest k gives the
 * shortest form. Both integer neighbours of v.10^k are tried, since the
 * product itself was rounded. Returns 0 when there is no such k (the
 * general path handles v). */
static size_t short_decimal(double v, char *out) {
  double av = fabs(v);
  if (!(av >= 1e-5 && av < 1e15))
    return 0;
  for (int k = 1; k <= 17; k++) {
    double scaled = av * p10[k];
    if (scaled >= 9007199254740992.0)
      return 0;
    double lo = (double)(uint64_t)scaled, hi = lo + 1, m; /* floor: 0 <= scaled < 2^53 */
    if (scaled - lo <= hi - scaled)
      m = lo / p10[k] == av ? lo : hi / p10[k] == av ? hi : -1;
    else
      m = hi / p10[k] == av ? hi : lo / p10[k] == av ? lo : -1;
    if (m < 0)
      continue;
    /* m.10^-k: the integer part, the point, then exactly k fraction
     * digits (the last one is not 0: k is the fewest). The fraction is
     * written from its end, a digit at a time (a division by the constant
     * 10 is a multiply), which leaves the integer part in um. */
    uint64_t um = (uint64_t)m;
    size_t nd = count_digits(um), uk = (size_t)k, o = v < 0;
    out[0] = '-';
    size_t end = o + (nd > uk ? nd - uk : 1) + 1 + uk, pos = end;
    for (size_t j = 0; j < uk; j++, um /= 10)
      out[--pos] = (char)('0' + um % 10);
    out[--pos] = '.';
    pf__json_fmt_u64(um, out + o);
    out[end] = '\0';
    return end;
  }
  return 0;
}

size_t pf_json_fmt_double(double v, char *out) {
  if (!isfinite(v)) {
    memcpy(out, "null", 5);
    return 4;
  }
  if (v == 0) {
    if (signbit(v)) {
      memcpy(out, "-0.0", 5);
      return 4;
    }
    memcpy(out, "0", 2);
    return 1;
  }
  /* Integral values below 2^53 print as integers. */
  if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v) {
    int64_t i = (int64_t)v;
    size_t k = 0;
    if (i < 0)
      out[k++] = '-';
    k += pf__json_fmt_u64(i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i, out + k);
    out[k] = '\0';
    return k;
  }
  size_t n = short_decimal(v, out);
  if (n)
    return n;
  if (fabs(v) >= 2.2250738585072014e-308) {
    /* A normal double has 15.95 significant digits: if some decimal of at
     * most 15 digits round-trips, it is the 15-digit rounding of v (the
     * half-unit at 15 digits exceeds half an ulp), so %.15g is then the
     * shortest. Otherwise try 16 digits: the nearest one (%.16g), and,
     * because the rounding interval of a power of two is twice as wide
     * above as below, the 16-digit neighbour on the other side of v too.
     * Failing both, %.17g (which always round-trips) is the shortest. */
    n = fmt_g(v, 15, out);
    if (roundtrips(out, v))
      return n;
    n = fmt_g(v, 16, out);
    if (roundtrips(out, v))
      return n;
    n = other_neighbour16(v, out);
    if (n)
      return n;
    return fmt_g(v, 17, out);
  }
  /* Subnormals carry fewer digits: binary search the shortest precision
   * (round-tripping is monotonic in the number of digits). */
  int lo = 1, hi = 17;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    fmt_g(v, mid, out);
    if (roundtrips(out, v))
      hi = mid;
    else
      lo = mid + 1;
  }
  return fmt_g(v, lo, out);
}

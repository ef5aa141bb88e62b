/* Rounding without libm: pforge's only uses of libm were llround(),
 * nearbyint(), fmax() and floor(), and linking libm costs every server
 * ~300 KB of RSS (its pages touched by the dynamic linker). */
#ifndef PF_BASE_ROUND_H
#define PF_BASE_ROUND_H

/* x rounded to the nearest integer, halves away from zero (llround's
 * rule), as a double; x itself when it is not finite or |x| >= 2^52 (every
 * such double is an integer). Exact: x - trunc(x) is computed without
 * rounding error below 2^52. */
static inline double pf__round(double x) {
  if (!(x > -4503599627370496.0 && x < 4503599627370496.0))
    return x;
  double t = (double)(long long)x; /* truncated toward zero */
  double f = x - t;
  if (f >= 0.5)
    t += 1.0;
  else if (f <= -0.5)
    t -= 1.0;
  return t;
}

/* Whether x is an integer, as x == floor(x) says (NaN: no; infinities and
 * every |x| >= 2^52: yes), without libm. */
static inline int pf__is_integral(double x) {
  if (!(x > -4503599627370496.0 && x < 4503599627370496.0))
    return x == x;
  return x == (double)(long long)x;
}

#endif

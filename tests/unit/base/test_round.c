/* pf__round (base/round.h) against libm's llround, which it replaces. */
#include "support.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/round.h"

static void test_round_cases(void **state) {
  (void)state;
  static const double xs[] = {0.0,  -0.0, 0.49999999999999994, 0.5,  -0.5, 1.5,     2.5, -2.5,
                              1.4999999999999998,  3.0, -7.25, 123456.5, 1e15 + 0.5,
                              4503599627370495.5, -4503599627370495.5, 4503599627370496.0,
                              9007199254740993.0, 1e300, -1e300};
  for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
    double want = fabs(xs[i]) < 9.2e18 ? (double)llround(xs[i]) : xs[i];
    double got = pf__round(xs[i]);
    if (got != want)
      fail_msg("pf__round(%.17g) = %.17g, llround gives %.17g", xs[i], got, want);
  }
  assert_true(isnan(pf__round(NAN)));
  assert_true(isinf(pf__round(INFINITY)) && pf__round(-INFINITY) < 0);
}

/* Every double of the form k/8 and a pseudo-random spread agree too. */
static void test_round_sweep(void **state) {
  (void)state;
  for (int k = -100000; k <= 100000; k++) {
    double x = k / 8.0;
    assert_true(pf__round(x) == (double)llround(x));
  }
  uint64_t s = 88172645463325252u;
  for (int i = 0; i < 200000; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    double x = (double)(int64_t)(s >> 11) / (double)(1u << (s & 31));
    if (fabs(x) < 9.2e18)
      assert_true(pf__round(x) == (double)llround(x));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_cases),
      cmocka_unit_test(test_round_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

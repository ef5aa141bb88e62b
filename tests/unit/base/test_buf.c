#include "support.h"

#include <string.h>

#include <pforge/buf.h>

static void test_append(void **state) {
  (void)state;
  pf_buf b = PF_BUF_INIT;
  assert_string_equal(pf_buf_cstr(&b), "");
  pf_buf_append(&b, "abc", 3);
  pf_buf_putc(&b, '-');
  pf_buf_puts(&b, "xyz");
  pf_buf_printf(&b, "%d/%s", 42, "q");
  assert_int_equal(b.len, 11);
  assert_string_equal(pf_buf_cstr(&b), "abc-xyz42/q");
  assert_int_equal(b.len, 11); /* cstr does not count the NUL */
  pf_buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_non_null(b.data); /* memory kept */
  pf_buf_free(&b);
  assert_null(b.data);
}

static void test_large_printf(void **state) {
  (void)state;
  pf_buf b = PF_BUF_INIT;
  char big[1000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  pf_buf_printf(&b, "<%s>", big);
  assert_int_equal(b.len, 1001);
  assert_int_equal(b.data[0], '<');
  assert_int_equal(b.data[1000], '>');
  pf_buf_free(&b);
}

static void test_growth_and_oom(void **state) {
  (void)state;
  pf_test_alloc_install();
  pf_buf b = PF_BUF_INIT;
  for (int i = 0; i < 10000; i++)
    pf_buf_putc(&b, 'a');
  assert_int_equal(b.len, 10000);
  /* geometric growth: few reallocations */
  assert_true(pf_test_alloc_count() < 10);
  pf_test_alloc.fail_after = 0;
  char big[20000] = {0};
  pf_buf_append(&b, big, sizeof big);
  assert_true(b.failed);
  assert_int_equal(b.len, 10000); /* nothing lost, nothing half-written */
  pf_test_alloc.fail_after = -1;
  pf_buf_putc(&b, 'b'); /* sticky: still failed */
  assert_int_equal(b.len, 10000);
  assert_string_equal(pf_buf_cstr(&b), "");
  pf_buf_reset(&b);
  assert_false(b.failed);
  pf_buf_putc(&b, 'c');
  assert_int_equal(b.len, 1);
  pf_buf_free(&b);
  pf_test_alloc_remove();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append),
      cmocka_unit_test(test_large_printf),
      cmocka_unit_test(test_growth_and_oom),
  };
  return cmocka_run_group_tests_name("base/buf", tests, NULL, NULL);
}

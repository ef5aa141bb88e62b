#include "support.h"

#include <string.h>

#include <pforge/error.h>
#include <pforge/version.h>

static void test_table(void **state) {
  (void)state;
  assert_string_equal(pf_strerror(0), "success");
  assert_string_equal(pf_strerror(-PF_ENOMEM), "out of memory");
  assert_string_equal(pf_strerror(PF_ENOMEM), "out of memory");
  assert_string_equal(pf_err_name(-PF_EJSON_SYNTAX), "JSON_SYNTAX");
  assert_int_equal(pf_err_rpc_code(-PF_EJSON_SYNTAX), -32700);
  assert_int_equal(pf_err_rpc_code(-PF_ERPC_METHOD_NOT_FOUND), -32601);
  assert_int_equal(pf_err_rpc_code(-PF_ERESOURCE_NOT_FOUND), -32002);
  assert_string_equal(pf_strerror(-9999), "unknown error");
  assert_string_equal(pf_err_name(PF_E__COUNT), "UNKNOWN");
  assert_int_equal(pf_err_rpc_code(12345), -32603);
  /* every entry has a name and a message */
  for (int i = 0; i < PF_E__COUNT; i++) {
    assert_true(strlen(pf_strerror(-i)) > 0);
    assert_true(strlen(pf_err_name(-i)) > 0);
  }
}

static void test_version(void **state) {
  (void)state;
  assert_string_equal(pf_version(), PF_VERSION);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_version),
  };
  return cmocka_run_group_tests_name("base/error", tests, NULL, NULL);
}

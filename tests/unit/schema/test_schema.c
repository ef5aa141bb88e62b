#include "support.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pforge/error.h>
#include <pforge/json.h>

#include "base/alloc.h"
#include "schema/schema.h"
#include "schema/validator.h"

/* A param as the config loader leaves it when nothing optional is set. */
static pf_cfg_param P(const char *name, pf_param_type type, bool required) {
  pf_cfg_param p;
  memset(&p, 0, sizeof p);
  p.name = name;
  p.type = type;
  p.required = required;
  p.min_length = p.max_length = -1;
  return p;
}

static void expect_schema(const pf_cfg_param *params, size_t n, const char *want) {
  pf_buf out = PF_BUF_INIT;
  assert_int_equal(pf_schema_from_params(params, n, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), want);
  /* Whatever we generate must compile. */
  pf_buf err = PF_BUF_INIT;
  pf_validator *v = pf_validator_compile(out.data, out.len, &err);
  if (!v)
    fail_msg("generated schema does not compile: %s", pf_buf_cstr(&err));
  pf_validator_free(v);
  pf_buf_free(&err);
  pf_buf_free(&out);
}

static void test_empty(void **state) {
  (void)state;
  expect_schema(NULL, 0, "{\"type\":\"object\",\"additionalProperties\":false}");
  pf_buf out = PF_BUF_INIT;
  assert_int_equal(pf_schema_from_params(NULL, 1, &out), -PF_EINVAL);
  pf_buf_free(&out);
}

static void test_simple_types(void **state) {
  (void)state;
  pf_cfg_param ps[] = {
      P("s", PF_PARAM_STRING, true), P("i", PF_PARAM_INTEGER, false),
      P("n", PF_PARAM_NUMBER, true), P("b", PF_PARAM_BOOLEAN, false),
      P("a", PF_PARAM_ARRAY, false), P("o", PF_PARAM_OBJECT, false),
  };
  expect_schema(ps, 6,
                "{\"type\":\"object\",\"properties\":{"
                "\"s\":{\"type\":\"string\"},\"i\":{\"type\":\"integer\"},"
                "\"n\":{\"type\":\"number\"},\"b\":{\"type\":\"boolean\"},"
                "\"a\":{\"type\":\"array\"},\"o\":{\"type\":\"object\"}},"
                "\"required\":[\"s\",\"n\"],\"additionalProperties\":false}");
}

static void test_no_required(void **state) {
  (void)state;
  pf_cfg_param ps[] = {P("x", PF_PARAM_STRING, false)};
  expect_schema(ps, 1,
                "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\"}},"
                "\"additionalProperties\":false}");
}

static void test_calculator(void **state) {
  (void)state;
  pf_cfg_param ps[] = {P("operation", PF_PARAM_STRING, true), P("a", PF_PARAM_NUMBER, true),
                       P("b", PF_PARAM_NUMBER, true)};
  ps[0].description = "add, subtract, multiply or divide";
  ps[0].enum_json = "[\"add\",\"subtract\",\"multiply\",\"divide\"]";
  ps[1].description = "First operand";
  ps[2].description = "Second operand";
  expect_schema(ps, 3,
                "{\"type\":\"object\",\"properties\":{"
                "\"operation\":{\"type\":\"string\",\"description\":\"add, subtract, multiply or "
                "divide\",\"enum\":[\"add\",\"subtract\",\"multiply\",\"divide\"]},"
                "\"a\":{\"type\":\"number\",\"description\":\"First operand\"},"
                "\"b\":{\"type\":\"number\",\"description\":\"Second operand\"}},"
                "\"required\":[\"operation\",\"a\",\"b\"],\"additionalProperties\":false}");
}

static void test_hello(void **state) {
  (void)state;
  pf_cfg_param ps[] = {P("name", PF_PARAM_STRING, true), P("greeting", PF_PARAM_STRING, false)};
  ps[1].default_json = "\"Hello\"";
  expect_schema(ps, 2,
                "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
                "\"greeting\":{\"type\":\"string\",\"default\":\"Hello\"}},"
                "\"required\":[\"name\"],\"additionalProperties\":false}");
}

static void test_key_order_all(void **state) {
  (void)state;
  pf_cfg_param ps[] = {P("count", PF_PARAM_INTEGER, false), P("ratio", PF_PARAM_NUMBER, true),
                       P("slug", PF_PARAM_STRING, false)};
  ps[0].description = "how many";
  ps[0].enum_json = "[1,2,3]";
  ps[0].default_json = "2";
  ps[0].has_min = ps[0].has_max = true;
  ps[0].min = 1;
  ps[0].max = 100;
  ps[1].has_min = true;
  ps[1].min = -0.5;
  ps[1].has_max = true;
  ps[1].max = 1e18; /* integral: printed as an integer, not 1e+18 */
  ps[2].description = "url \"slug\"\n";
  ps[2].default_json = "\"a-b\"";
  ps[2].min_length = 2;
  ps[2].max_length = 64;
  ps[2].pattern = "^[a-z-]+$";
  expect_schema(ps, 3,
                "{\"type\":\"object\",\"properties\":{"
                "\"count\":{\"type\":\"integer\",\"description\":\"how many\",\"enum\":[1,2,3],"
                "\"default\":2,\"minimum\":1,\"maximum\":100},"
                "\"ratio\":{\"type\":\"number\",\"minimum\":-0.5,\"maximum\":1000000000000000000},"
                "\"slug\":{\"type\":\"string\",\"description\":\"url \\\"slug\\\"\\n\","
                "\"default\":\"a-b\",\"minLength\":2,\"maxLength\":64,\"pattern\":\"^[a-z-]+$\"}},"
                "\"required\":[\"ratio\"],\"additionalProperties\":false}");
}

static void test_only_min_or_max(void **state) {
  (void)state;
  pf_cfg_param ps[] = {P("lo", PF_PARAM_NUMBER, false), P("hi", PF_PARAM_INTEGER, false),
                       P("s", PF_PARAM_STRING, false)};
  ps[0].has_min = true;
  ps[0].min = 0;
  ps[1].has_max = true;
  ps[1].max = -3;
  ps[2].max_length = 0;
  expect_schema(ps, 3,
                "{\"type\":\"object\",\"properties\":{\"lo\":{\"type\":\"number\",\"minimum\":0},"
                "\"hi\":{\"type\":\"integer\",\"maximum\":-3},"
                "\"s\":{\"type\":\"string\",\"maxLength\":0}},\"additionalProperties\":false}");
}

/* Keys that do not apply to a type are left out. */
static void test_inapplicable_keys_dropped(void **state) {
  (void)state;
  pf_cfg_param ps[] = {P("s", PF_PARAM_STRING, false), P("b", PF_PARAM_BOOLEAN, false),
                       P("n", PF_PARAM_NUMBER, false)};
  ps[0].has_min = true;
  ps[0].min = 3;
  ps[1].min_length = 1;
  ps[1].pattern = "x";
  ps[2].min_length = 1;
  ps[2].pattern = "x";
  expect_schema(ps, 3,
                "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"},"
                "\"b\":{\"type\":\"boolean\"},\"n\":{\"type\":\"number\"}},"
                "\"additionalProperties\":false}");
}

static void test_array_items(void **state) {
  (void)state;
  pf_cfg_param item = P(NULL, PF_PARAM_STRING, false);
  item.pattern = "^#";
  item.max_length = 20;
  pf_cfg_param ps[] = {P("tags", PF_PARAM_ARRAY, true)};
  ps[0].description = "labels";
  ps[0].default_json = "[]";
  ps[0].min_length = 1; /* min_length/max_length on an array: minItems/maxItems */
  ps[0].max_length = 10;
  ps[0].items = &item;
  expect_schema(ps, 1,
                "{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\","
                "\"description\":\"labels\",\"default\":[],\"minItems\":1,\"maxItems\":10,"
                "\"items\":{\"type\":\"string\",\"maxLength\":20,\"pattern\":\"^#\"}}},"
                "\"required\":[\"tags\"],\"additionalProperties\":false}");
}

static void test_nested_object(void **state) {
  (void)state;
  pf_cfg_param inner[] = {P("depth", PF_PARAM_INTEGER, true), P("follow", PF_PARAM_BOOLEAN, false)};
  inner[0].has_min = true;
  inner[0].min = 0;
  inner[1].default_json = "false";
  pf_cfg_param pt[] = {P("x", PF_PARAM_NUMBER, true), P("y", PF_PARAM_NUMBER, true)};
  pf_cfg_param point = P(NULL, PF_PARAM_OBJECT, false);
  point.properties = pt;
  point.nproperties = 2;
  pf_cfg_param ps[] = {P("opts", PF_PARAM_OBJECT, false), P("points", PF_PARAM_ARRAY, false),
                       P("meta", PF_PARAM_OBJECT, false)};
  ps[0].properties = inner;
  ps[0].nproperties = 2;
  ps[1].items = &point;
  ps[2].min_length = 1; /* object: minProperties */
  expect_schema(ps, 3,
                "{\"type\":\"object\",\"properties\":{"
                "\"opts\":{\"type\":\"object\",\"properties\":{"
                "\"depth\":{\"type\":\"integer\",\"minimum\":0},"
                "\"follow\":{\"type\":\"boolean\",\"default\":false}},"
                "\"required\":[\"depth\"],\"additionalProperties\":false},"
                "\"points\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
                "\"x\":{\"type\":\"number\"},\"y\":{\"type\":\"number\"}},"
                "\"required\":[\"x\",\"y\"],\"additionalProperties\":false}},"
                "\"meta\":{\"type\":\"object\",\"minProperties\":1}},"
                "\"additionalProperties\":false}");
}

static void test_escaping(void **state) {
  (void)state;
  pf_cfg_param ps[] = {P("we\"ird\\key", PF_PARAM_STRING, true)};
  ps[0].description = "tab\there \x01 caf\xc3\xa9 bad\xff";
  ps[0].pattern = "^\\d+$";
  expect_schema(ps, 1,
                "{\"type\":\"object\",\"properties\":{\"we\\\"ird\\\\key\":{\"type\":\"string\","
                "\"description\":\"tab\\there \\u0001 caf\xc3\xa9 bad\xef\xbf\xbd\","
                "\"pattern\":\"^\\\\d+$\"}},\"required\":[\"we\\\"ird\\\\key\"],"
                "\"additionalProperties\":false}");
}

static void test_too_deep(void **state) {
  (void)state;
  pf_cfg_param chain[PF_SCHEMA_MAX_DEPTH + 2];
  for (size_t i = 0; i < PF_SCHEMA_MAX_DEPTH + 2; i++) {
    chain[i] = P(NULL, PF_PARAM_ARRAY, false);
    chain[i].items = i + 1 < PF_SCHEMA_MAX_DEPTH + 2 ? &chain[i + 1] : NULL;
  }
  chain[0].name = "deep";
  pf_buf out = PF_BUF_INIT;
  assert_int_equal(pf_schema_from_params(chain, 1, &out), -PF_EINVAL);
  pf_buf_free(&out);
}

static void test_oom(void **state) {
  (void)state;
  pf_cfg_param ps[] = {P("a", PF_PARAM_STRING, true)};
  pf_test_alloc_install();
  pf_test_alloc.fail_after = 0;
  pf_buf out = PF_BUF_INIT;
  assert_int_equal(pf_schema_from_params(ps, 1, &out), -PF_ENOMEM);
  pf_test_alloc_remove();
  pf_buf_free(&out);
}

/* 1,000 tools of 8 params each, into one buffer as a server would: linear. */
static void test_thousand_tools(void **state) {
  (void)state;
  enum { TOOLS = 1000, PARAMS = 8 };
  static pf_cfg_param ps[PARAMS];
  static char names[PARAMS][16];
  for (int i = 0; i < PARAMS; i++) {
    snprintf(names[i], sizeof names[i], "p%d", i);
    ps[i] = P(names[i], (pf_param_type)(i % 4), i % 2 == 0);
    ps[i].description = "a parameter with a description of moderate length";
  }
  pf_buf out = PF_BUF_INIT;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  size_t first = 0;
  for (int t = 0; t < TOOLS; t++) {
    size_t before = out.len;
    assert_int_equal(pf_schema_from_params(ps, PARAMS, &out), 0);
    if (t == 0)
      first = out.len;
    else
      assert_int_equal(out.len - before, first);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  printf("# schema generation: %d tools x %d params in %.2f ms (%zu bytes)\n", TOOLS, PARAMS, ms,
         out.len);

  /* And compiling them, with a pattern each, as a server does at load. */
  pf_buf one = PF_BUF_INIT;
  ps[0].pattern = "^[a-z][a-z0-9_-]*$";
  assert_int_equal(pf_schema_from_params(ps, PARAMS, &one), 0);
  static pf_validator *vs[TOOLS];
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int t = 0; t < TOOLS; t++)
    assert_non_null(vs[t] = pf_validator_compile(one.data, one.len, NULL));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  printf("# validator compile: %d tools in %.2f ms\n", TOOLS, ms);
  for (int t = 0; t < TOOLS; t++)
    pf_validator_free(vs[t]);
  pf_buf_free(&one);
  pf_buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_simple_types),
      cmocka_unit_test(test_no_required),
      cmocka_unit_test(test_calculator),
      cmocka_unit_test(test_hello),
      cmocka_unit_test(test_key_order_all),
      cmocka_unit_test(test_only_min_or_max),
      cmocka_unit_test(test_inapplicable_keys_dropped),
      cmocka_unit_test(test_array_items),
      cmocka_unit_test(test_nested_object),
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_too_deep),
      cmocka_unit_test(test_oom),
      cmocka_unit_test(test_thousand_tools),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

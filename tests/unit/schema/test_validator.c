#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pforge/arena.h>
#include <pforge/error.h>
#include <pforge/json.h>

#include "schema/schema.h"
#include "schema/validator.h"

static pf_validator *compile_ok(const char *schema) {
  pf_buf err = PF_BUF_INIT;
  pf_validator *v = pf_validator_compile(schema, strlen(schema), &err);
  if (!v)
    fail_msg("schema %s does not compile: %s", schema, pf_buf_cstr(&err));
  assert_int_equal(err.len, 0);
  pf_buf_free(&err);
  return v;
}

/* want == NULL: the value must pass. Otherwise the exact message. */
static void expect_v(const pf_validator *v, const char *value, const char *want) {
  pf_arena *a = pf_arena_create(0);
  pf_json_error jerr;
  const pf_json *j = pf_json_parse_copy(value, strlen(value), a, NULL, &jerr);
  if (!j)
    fail_msg("bad test value %s: %s", value, jerr.msg);
  pf_buf msg = PF_BUF_INIT;
  int rc = pf_validator_check(v, j, &msg);
  if (!want) {
    if (rc != 0)
      fail_msg("%s should pass, got: %s", value, pf_buf_cstr(&msg));
    assert_int_equal(msg.len, 0);
  } else {
    if (rc != -PF_EINVAL)
      fail_msg("%s should fail with: %s", value, want);
    assert_string_equal(pf_buf_cstr(&msg), want);
    /* Without a buffer the verdict is the same. */
    assert_int_equal(pf_validator_check(v, j, NULL), -PF_EINVAL);
  }
  pf_buf_free(&msg);
  pf_arena_destroy(a);
}

static void expect(const char *schema, const char *value, const char *want) {
  pf_validator *v = compile_ok(schema);
  expect_v(v, value, want);
  pf_validator_free(v);
}

static void expect_compile_error(const char *schema, const char *want) {
  pf_buf err = PF_BUF_INIT;
  pf_validator *v = pf_validator_compile(schema, strlen(schema), &err);
  if (v)
    fail_msg("schema %s should not compile", schema);
  assert_string_equal(pf_buf_cstr(&err), want);
  pf_buf_free(&err);
  assert_null(pf_validator_compile(schema, strlen(schema), NULL));
}

/* ------------------------------------------------------------------ */

static const char calculator[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"operation\":{\"type\":\"string\",\"enum\":[\"add\",\"subtract\",\"multiply\",\"divide\"]},"
    "\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}},"
    "\"required\":[\"operation\",\"a\",\"b\"],\"additionalProperties\":false}";

static void test_calculator(void **state) {
  (void)state;
  pf_validator *v = compile_ok(calculator);
  expect_v(v, "{\"operation\":\"add\",\"a\":1,\"b\":2}", NULL);
  expect_v(v, "{\"b\":2.5,\"a\":-1e3,\"operation\":\"divide\"}", NULL);
  expect_v(v, "{\"operation\":\"add\",\"a\":1}", "missing required argument 'b'");
  expect_v(v, "{}", "missing required argument 'operation'");
  expect_v(v, "{\"operation\":\"add\",\"a\":\"1\",\"b\":2}",
           "argument 'a': expected number, got string");
  expect_v(v, "{\"operation\":\"pow\",\"a\":1,\"b\":2}",
           "argument 'operation': \"pow\" is not one of \"add\", \"subtract\", \"multiply\", "
           "\"divide\"");
  expect_v(v, "{\"operation\":\"add\",\"a\":1,\"b\":2,\"c\":3}", "unknown argument 'c'");
  /* Members are checked in order: the unknown one before the missing one. */
  expect_v(v, "{\"operation\":\"add\",\"a\":1,\"bee\":2}", "unknown argument 'bee'");
  expect_v(v, "[1,2]", "arguments: expected object, got array");
  /* No arguments at all is an empty object. */
  pf_buf msg = PF_BUF_INIT;
  assert_int_equal(pf_validator_check(v, NULL, &msg), -PF_EINVAL);
  assert_string_equal(pf_buf_cstr(&msg), "missing required argument 'operation'");
  pf_buf_free(&msg);
  pf_validator_free(v);
}

static void test_hello_defaults(void **state) {
  (void)state;
  pf_cfg_param ps[2];
  memset(ps, 0, sizeof ps);
  ps[0].name = "name";
  ps[0].type = PF_PARAM_STRING;
  ps[0].required = true;
  ps[1].name = "greeting";
  ps[1].type = PF_PARAM_STRING;
  ps[1].default_json = "\"Hello\"";
  ps[0].min_length = ps[0].max_length = ps[1].min_length = ps[1].max_length = -1;
  pf_buf schema = PF_BUF_INIT;
  assert_int_equal(pf_schema_from_params(ps, 2, &schema), 0);
  pf_validator *v = compile_ok(pf_buf_cstr(&schema));
  expect_v(v, "{\"name\":\"Ada\"}", NULL);
  expect_v(v, "{\"name\":\"Ada\",\"greeting\":\"Hi\"}", NULL);
  expect_v(v, "{\"greeting\":\"Hi\"}", "missing required argument 'name'");
  expect_v(v, "{\"name\":null}", "argument 'name': expected string, got null");
  const pf_json *d = pf_validator_default(v, "greeting", 8);
  assert_non_null(d);
  assert_string_equal(pf_json_str(d, NULL), "Hello");
  assert_null(pf_validator_default(v, "name", 4));
  assert_null(pf_validator_default(v, "nope", 4));
  assert_null(pf_validator_default(v, "greet", 5));
  assert_null(pf_validator_default(NULL, "greeting", 8));
  pf_validator_free(v);
  pf_buf_free(&schema);
}

static void test_defaults_various(void **state) {
  (void)state;
  pf_validator *v = compile_ok(
      "{\"$defs\":{\"lvl\":{\"type\":\"integer\",\"default\":3}},\"type\":\"object\","
      "\"properties\":{\"n\":{\"type\":\"number\",\"default\":1.5},\"o\":{\"default\":{\"k\":[1]}},"
      "\"l\":{\"$ref\":\"#/$defs/lvl\"},\"z\":{\"type\":\"string\",\"default\":null}}}");
  assert_true(pf_json_num_or(pf_validator_default(v, "n", 1), 0) == 1.5);
  assert_int_equal(pf_json_int_or(pf_validator_default(v, "l", 1), 0), 3);
  const pf_json *o = pf_validator_default(v, "o", 1);
  assert_int_equal(pf_json_typeof(o), PF_JSON_OBJECT);
  assert_int_equal(pf_json_int_or(pf_json_at(pf_json_get(o, "k"), 0), 0), 1);
  assert_int_equal(pf_json_typeof(pf_validator_default(v, "z", 1)), PF_JSON_NULL);
  pf_validator_free(v);
  v = compile_ok("true");
  assert_null(pf_validator_default(v, "x", 1));
  pf_validator_free(v);
}

static void test_type(void **state) {
  (void)state;
  expect("{\"type\":\"integer\"}", "2", NULL);
  expect("{\"type\":\"integer\"}", "2.0", NULL);
  expect("{\"type\":\"integer\"}", "-1e2", NULL);
  expect("{\"type\":\"integer\"}", "18446744073709551615", NULL);
  expect("{\"type\":\"integer\"}", "2.5", "arguments: expected integer, got number");
  expect("{\"type\":\"number\"}", "2", NULL);
  expect("{\"type\":\"number\"}", "true", "arguments: expected number, got boolean");
  expect("{\"type\":\"string\"}", "\"\"", NULL);
  expect("{\"type\":\"boolean\"}", "false", NULL);
  expect("{\"type\":\"boolean\"}", "0", "arguments: expected boolean, got integer");
  expect("{\"type\":\"null\"}", "null", NULL);
  expect("{\"type\":\"null\"}", "{}", "arguments: expected null, got object");
  expect("{\"type\":\"array\"}", "[]", NULL);
  expect("{\"type\":\"object\"}", "{}", NULL);
  expect("{\"type\":[\"string\",\"null\"]}", "null", NULL);
  expect("{\"type\":[\"string\",\"null\"]}", "1",
         "arguments: expected string or null, got integer");
  expect("{\"type\":[\"string\",\"integer\",\"null\"]}", "1.5",
         "arguments: expected string, integer or null, got number");
  expect("{\"properties\":{\"a\":{\"type\":\"number\"}}}", "{\"a\":\"x\"}",
         "argument 'a': expected number, got string");
  /* reals: integral when whole, and always from 2^53 up */
  expect("{\"type\":\"integer\"}", "1e300", NULL);
  expect("{\"type\":\"integer\"}", "-1e20", NULL);
  expect("{\"type\":\"integer\"}", "9007199254740993.0", NULL);
  expect("{\"type\":\"integer\"}", "-0.5", "arguments: expected integer, got number");
  expect("{\"type\":\"integer\"}", "4503599627370495.5", "arguments: expected integer, got number");
  /* a bare `type` property (checked in line) next to ones with more keywords */
  expect("{\"properties\":{\"a\":{\"type\":\"integer\",\"description\":\"d\"},"
         "\"b\":{\"type\":\"integer\",\"minimum\":3},\"c\":true,\"d\":false},"
         "\"required\":[\"a\"]}",
         "{\"a\":1.5,\"b\":4,\"c\":[1]}", "argument 'a': expected integer, got number");
  expect("{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"integer\",\"minimum\":3},"
         "\"c\":true,\"d\":false}}",
         "{\"a\":1,\"b\":2}", "argument 'b': 2 is less than the minimum 3");
  expect("{\"properties\":{\"c\":true,\"d\":false}}", "{\"c\":{},\"d\":0}",
         "argument 'd': no value is allowed here");
  /* a flat object (a few bare-typed properties): checked in one pass, and on
   * any failure by the general walk for its message */
  static const char flat[] = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
                             "\"t\":{\"type\":[\"string\",\"null\"]}},\"required\":[\"a\",\"b\"],"
                             "\"additionalProperties\":false}";
  expect(flat, "{\"a\":1,\"b\":2}", "unknown argument 'b'");
  expect(flat, "{\"a\":1}", "missing required argument 'b'");
  expect(flat, "{\"a\":1,\"t\":null,\"z\":0}", "unknown argument 'z'");
  expect(flat, "{\"a\":2.5}", "argument 'a': expected integer, got number");
  expect(flat, "{\"t\":1}", "argument 't': expected string or null, got integer");
  expect(flat, "[]", "arguments: expected object, got array");
  static const char open_[] = "{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":true},"
                              "\"required\":[\"a\",\"c\"]}";
  expect(open_, "{\"a\":1,\"c\":[],\"z\":{}}", NULL);
  expect(open_, "{\"a\":1,\"b\":\"x\"}", "missing required argument 'c'");
  expect(open_, "{\"c\":1,\"a\":\"1\"}", "argument 'a': expected integer, got string");
  /* more than 8 properties: looked up through the hash table */
  static const char many[] =
      "{\"properties\":{\"p0\":{\"type\":\"string\"},\"p1\":{\"type\":\"string\"},"
      "\"p2\":{\"type\":\"string\"},\"p3\":{\"type\":\"string\"},\"p4\":{\"type\":\"string\"},"
      "\"p5\":{\"type\":\"string\"},\"p6\":{\"type\":\"string\"},\"p7\":{\"type\":\"string\"},"
      "\"p8\":{\"type\":\"string\"},\"p9\":{\"type\":\"integer\"}},\"required\":[\"p9\"]}";
  expect(many, "{\"p0\":\"x\",\"p9\":3,\"zz\":1}", NULL);
  expect(many, "{\"p8\":\"x\",\"p9\":\"3\"}", "argument 'p9': expected integer, got string");
  expect(many, "{\"p8\":\"x\"}", "missing required argument 'p9'");
}

static void test_enum_const(void **state) {
  (void)state;
  const char *s = "{\"properties\":{\"format\":{\"enum\":[\"json\",\"yaml\",\"toml\"]}}}";
  expect(s, "{\"format\":\"yaml\"}", NULL);
  expect(s, "{\"format\":\"xml\"}",
         "argument 'format': \"xml\" is not one of \"json\", \"yaml\", \"toml\"");
  expect(s, "{\"format\":1}", "argument 'format': 1 is not one of \"json\", \"yaml\", \"toml\"");
  expect("{\"enum\":[1,null,[1,2],{\"a\":true}]}", "1.0", NULL);
  expect("{\"enum\":[1,null,[1,2],{\"a\":true}]}", "{\"a\":true}", NULL);
  expect("{\"enum\":[1,null,[1,2],{\"a\":true}]}", "[2,1]",
         "arguments: [2,1] is not one of 1, null, [1,2], {\"a\":true}");
  expect("{\"enum\":[]}", "1", "arguments: 1 is not allowed (the enum is empty)");
  expect("{\"const\":\"v1\"}", "\"v1\"", NULL);
  expect("{\"const\":\"v1\"}", "\"v2\"", "arguments: \"v2\" is not the allowed value \"v1\"");
  expect("{\"const\":null}", "false", "arguments: false is not the allowed value null");
  expect("{\"const\":{\"a\":[1]}}", "{\"a\":[1.0]}", NULL);
}

static void test_numbers(void **state) {
  (void)state;
  const char *s =
      "{\"properties\":{\"count\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100}}}";
  expect(s, "{\"count\":1}", NULL);
  expect(s, "{\"count\":100}", NULL);
  expect(s, "{\"count\":150}", "argument 'count': 150 is greater than the maximum 100");
  expect(s, "{\"count\":0}", "argument 'count': 0 is less than the minimum 1");
  expect(s, "{\"count\":-2.0}", "argument 'count': -2 is less than the minimum 1");
  expect("{\"minimum\":0.5}", "0.25", "arguments: 0.25 is less than the minimum 0.5");
  expect("{\"exclusiveMinimum\":0}", "0.001", NULL);
  expect("{\"exclusiveMinimum\":0}", "0",
         "arguments: 0 is not greater than the exclusive minimum 0");
  expect("{\"exclusiveMaximum\":10}", "9.99", NULL);
  expect("{\"exclusiveMaximum\":10}", "10",
         "arguments: 10 is not less than the exclusive maximum 10");
  expect("{\"multipleOf\":5}", "25", NULL);
  expect("{\"multipleOf\":5}", "-25", NULL);
  expect("{\"multipleOf\":5}", "12", "arguments: 12 is not a multiple of 5");
  expect("{\"multipleOf\":0.1}", "0.3", NULL);
  expect("{\"multipleOf\":0.01}", "19.99", NULL);
  expect("{\"multipleOf\":0.1}", "0.35", "arguments: 0.35 is not a multiple of 0.1");
  expect("{\"multipleOf\":2}", "4.0", NULL);
  expect("{\"multipleOf\":2}", "5.0", "arguments: 5 is not a multiple of 2");
  /* Numeric keywords ignore non-numbers. */
  expect("{\"minimum\":5,\"maxLength\":1,\"minItems\":3}", "\"x\"", NULL);
}

static void test_strings(void **state) {
  (void)state;
  const char *s = "{\"properties\":{\"slug\":{\"type\":\"string\",\"minLength\":3,"
                  "\"maxLength\":5,\"pattern\":\"^[a-z-]+$\"}}}";
  expect(s, "{\"slug\":\"a-b\"}", NULL);
  expect(s, "{\"slug\":\"Abc\"}", "argument 'slug': \"Abc\" does not match the pattern ^[a-z-]+$");
  expect(s, "{\"slug\":\"ab\"}",
         "argument 'slug': \"ab\" has 2 characters, fewer than the minimum length 3");
  expect(s, "{\"slug\":\"abcdef\"}",
         "argument 'slug': \"abcdef\" has 6 characters, more than the maximum length 5");
  /* Lengths count code points: 3 characters, 9 bytes. */
  expect("{\"maxLength\":3,\"minLength\":3}", "\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"", NULL);
  expect("{\"maxLength\":2}", "\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"",
         "arguments: \"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\" has 3 characters, more than the "
         "maximum length 2");
  expect("{\"minLength\":2}", "\"\xf0\x9f\x98\x80\"",
         "arguments: \"\xf0\x9f\x98\x80\" has 1 character, fewer than the minimum length 2");
  expect("{\"minLength\":2}", "\"\\ud83d\\ude00\\u00e9\"", NULL);
  /* Patterns are unanchored searches, in UTF mode; $ is the end only. */
  expect("{\"pattern\":\"b+\"}", "\"abbbc\"", NULL);
  expect("{\"pattern\":\"^.$\"}", "\"\xc3\xa9\"", NULL);
  expect("{\"pattern\":\"^a$\"}", "\"a\\n\"", "arguments: \"a\\n\" does not match the pattern ^a$");
  expect("{\"pattern\":\"^\\\\d{3}-\\\\d{4}$\"}", "\"555-1234\"", NULL);
  expect("{\"pattern\":\"^\\\\p{Lu}\"}", "\"\xc3\x89t\xc3\xa9\"", NULL);
  /* Long values are cut short in messages. */
  char big[300] = "\"";
  memset(big + 1, 'x', 200);
  strcpy(big + 201, "\"");
  pf_validator *v = compile_ok("{\"maxLength\":10}");
  pf_arena *a = pf_arena_create(0);
  const pf_json *j = pf_json_parse_copy(big, strlen(big), a, NULL, NULL);
  pf_buf msg = PF_BUF_INIT;
  assert_int_equal(pf_validator_check(v, j, &msg), -PF_EINVAL);
  assert_true(msg.len < 200);
  assert_non_null(strstr(pf_buf_cstr(&msg), "xxx... has 200 characters, more than the maximum"));
  pf_buf_free(&msg);
  pf_arena_destroy(a);
  pf_validator_free(v);
}

static void test_arrays(void **state) {
  (void)state;
  const char *s = "{\"properties\":{\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
                  "\"minItems\":1,\"maxItems\":3,\"uniqueItems\":true}}}";
  expect(s, "{\"tags\":[\"a\",\"b\"]}", NULL);
  expect(s, "{\"tags\":[\"a\",\"b\",2]}", "argument 'tags[2]': expected string, got integer");
  expect(s, "{\"tags\":[]}", "argument 'tags': expected at least 1 item, got 0");
  expect(s, "{\"tags\":[\"a\",\"b\",\"c\",\"d\"]}",
         "argument 'tags': expected at most 3 items, got 4");
  expect(s, "{\"tags\":[\"a\",\"b\",\"a\"]}",
         "argument 'tags': items [0] and [2] are equal, but items must be unique");
  expect("{\"uniqueItems\":true}", "[1,\"1\",[1],{\"a\":1},{\"a\":2}]", NULL);
  expect("{\"uniqueItems\":true}", "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]",
         "arguments: items [0] and [1] are equal, but items must be unique");
  expect("{\"uniqueItems\":true}", "[1,1.0]",
         "arguments: items [0] and [1] are equal, but items must be unique");
  expect("{\"uniqueItems\":false}", "[1,1]", NULL);
  const char *tuple = "{\"prefixItems\":[{\"type\":\"number\"},{\"type\":\"string\"}],"
                      "\"items\":false}";
  expect(tuple, "[1,\"x\"]", NULL);
  expect(tuple, "[1]", NULL);
  expect(tuple, "[\"x\"]", "argument '[0]': expected number, got string");
  expect(tuple, "[1,\"x\",3]", "arguments: expected at most 2 items, got 3");
  expect("{\"prefixItems\":[{\"type\":\"number\"}],\"items\":{\"type\":\"boolean\"}}",
         "[1,true,false,3]", "argument '[3]': expected boolean, got integer");
  expect("{\"contains\":{\"type\":\"string\"}}", "[1,\"a\"]", NULL);
  expect("{\"contains\":{\"type\":\"string\"}}", "[1,2]",
         "arguments: expected at least 1 item matching the \"contains\" schema, got 0");
  expect("{\"contains\":{\"type\":\"string\"},\"minContains\":2,\"maxContains\":2}",
         "[\"a\",\"b\",\"c\"]",
         "arguments: expected at most 2 items matching the \"contains\" schema, got 3");
  expect("{\"contains\":{\"type\":\"string\"},\"minContains\":0}", "[]", NULL);
}

static void test_objects_nested(void **state) {
  (void)state;
  const char *s =
      "{\"type\":\"object\",\"properties\":{\"opts\":{\"type\":\"object\",\"properties\":{"
      "\"depth\":{\"type\":\"integer\",\"minimum\":0},\"colors\":{\"type\":\"array\",\"items\":"
      "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},"
      "\"required\":[\"name\"],\"additionalProperties\":false}}},\"required\":[\"depth\"],"
      "\"additionalProperties\":false}},\"additionalProperties\":false}";
  expect(s, "{\"opts\":{\"depth\":2,\"colors\":[{\"name\":\"red\"}]}}", NULL);
  expect(s, "{\"opts\":{\"depth\":-1}}", "argument 'opts.depth': -1 is less than the minimum 0");
  expect(s, "{\"opts\":{}}", "missing required argument 'opts.depth'");
  expect(s, "{\"opts\":{\"depth\":1,\"colour\":1}}", "unknown argument 'opts.colour'");
  expect(s, "{\"opts\":{\"depth\":1,\"colors\":[{\"name\":\"a\"},{\"name\":5}]}}",
         "argument 'opts.colors[1].name': expected string, got integer");
  expect(s, "{\"opts\":{\"depth\":1,\"colors\":[{}]}}",
         "missing required argument 'opts.colors[0].name'");
  expect(s, "{\"opts\":{\"depth\":1,\"colors\":[{\"name\":\"a\",\"hex\":1}]}}",
         "unknown argument 'opts.colors[0].hex'");
  expect(s, "{\"colour\":\"red\"}", "unknown argument 'colour'");

  /* additionalProperties as a schema */
  const char *m = "{\"properties\":{\"id\":{\"type\":\"integer\"}},"
                  "\"additionalProperties\":{\"type\":\"string\"}}";
  expect(m, "{\"id\":1,\"x\":\"a\",\"y\":\"b\"}", NULL);
  expect(m, "{\"id\":1,\"x\":2}", "argument 'x': expected string, got integer");
  /* patternProperties count as declared for additionalProperties */
  const char *pp = "{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},"
                   "\"additionalProperties\":false}";
  expect(pp, "{\"x-a\":\"1\"}", NULL);
  expect(pp, "{\"x-a\":1}", "argument 'x-a': expected string, got integer");
  expect(pp, "{\"y\":1}", "unknown argument 'y'");
  expect("{\"propertyNames\":{\"maxLength\":3}}", "{\"abcd\":1}",
         "argument 'abcd': \"abcd\" has 4 characters, more than the maximum length 3");
  expect("{\"minProperties\":1}", "{}", "arguments: expected at least 1 property, got 0");
  expect("{\"maxProperties\":1}", "{\"a\":1,\"b\":2}",
         "arguments: expected at most 1 property, got 2");
  /* required without properties, and object keywords ignore non-objects */
  expect("{\"required\":[\"a\",\"b\"]}", "{\"a\":1}", "missing required argument 'b'");
  expect("{\"required\":[\"a\"],\"additionalProperties\":false}", "{\"a\":1}",
         "unknown argument 'a'");
  expect("{\"required\":[\"a\"]}", "[1]", NULL);
  /* Required beyond the 64-bit fast path */
  pf_buf big = PF_BUF_INIT;
  pf_buf val = PF_BUF_INIT;
  pf_buf_puts(&big, "{\"required\":[");
  pf_buf_puts(&val, "{");
  for (int i = 0; i < 70; i++) {
    pf_buf_printf(&big, "%s\"k%d\"", i ? "," : "", i);
    if (i != 66)
      pf_buf_printf(&val, "%s\"k%d\":%d", i ? "," : "", i, i);
  }
  pf_buf_puts(&big, "]}");
  pf_buf_puts(&val, "}");
  expect(pf_buf_cstr(&big), pf_buf_cstr(&val), "missing required argument 'k66'");
  pf_buf_free(&big);
  pf_buf_free(&val);
}

static void test_combinators(void **state) {
  (void)state;
  const char *any = "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\",\"minimum\":0}]}";
  expect(any, "\"x\"", NULL);
  expect(any, "3", NULL);
  expect(any, "-3",
         "arguments: does not match any of the 2 alternatives of anyOf (the first: expected "
         "string, got integer)");
  expect("{\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}}}",
         "{\"v\":1}",
         "argument 'v': does not match any of the 2 alternatives of anyOf (the first: expected "
         "string, got integer)");
  const char *one = "{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}";
  expect(one, "1", NULL);
  expect(one, "2.5", NULL);
  expect(one, "3", "arguments: matches alternatives 1 and 2 of oneOf, but must match exactly one");
  expect(one, "1.5",
         "arguments: does not match any of the 2 alternatives of oneOf (the first: expected "
         "integer, got number)");
  const char *all = "{\"allOf\":[{\"type\":\"string\"},{\"maxLength\":2}]}";
  expect(all, "\"ab\"", NULL);
  expect(all, "\"abc\"", "arguments: \"abc\" has 3 characters, more than the maximum length 2");
  expect("{\"not\":{\"type\":\"null\"}}", "1", NULL);
  expect("{\"not\":{\"type\":\"null\"}}", "null",
         "arguments: must not match the schema in \"not\"");
  const char *ite = "{\"if\":{\"properties\":{\"kind\":{\"const\":\"n\"}}},"
                    "\"then\":{\"properties\":{\"v\":{\"type\":\"number\"}}},"
                    "\"else\":{\"properties\":{\"v\":{\"type\":\"string\"}}}}";
  expect(ite, "{\"kind\":\"n\",\"v\":1}", NULL);
  expect(ite, "{\"kind\":\"s\",\"v\":\"x\"}", NULL);
  expect(ite, "{\"kind\":\"n\",\"v\":\"x\"}", "argument 'v': expected number, got string");
  expect(ite, "{\"kind\":\"s\",\"v\":1}", "argument 'v': expected string, got integer");
  expect("{\"if\":{\"type\":\"string\"},\"then\":{\"minLength\":1}}", "5", NULL);
}

static void test_bool_schemas(void **state) {
  (void)state;
  expect("true", "{\"anything\":[1]}", NULL);
  expect("false", "{}", "arguments: no value is allowed here");
  expect("{}", "null", NULL);
  expect("{\"properties\":{\"a\":false}}", "{\"a\":1}", "argument 'a': no value is allowed here");
  expect("{\"properties\":{\"a\":true}}", "{\"a\":1}", NULL);
  expect("{\"items\":false}", "[]", NULL);
  expect("{\"items\":false}", "[1]", "arguments: expected at most 0 items, got 1");
}

static const char raw_schema[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
    "\"$id\":\"https://example.com/order\",\"title\":\"Order\",\"$comment\":\"raw\","
    "\"$defs\":{\"money\":{\"type\":\"number\",\"minimum\":0,\"multipleOf\":0.01},"
    "\"sku\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}-[0-9]{4}$\",\"format\":\"sku\"},"
    "\"line\":{\"type\":\"object\",\"properties\":{\"sku\":{\"$ref\":\"#/$defs/sku\"},"
    "\"qty\":{\"type\":\"integer\",\"minimum\":1},\"price\":{\"$ref\":\"#/$defs/money\"}},"
    "\"required\":[\"sku\",\"qty\"],\"additionalProperties\":false}},"
    "\"definitions\":{\"email\":{\"type\":\"string\",\"format\":\"email\",\"pattern\":\"@\"}},"
    "\"type\":\"object\","
    "\"properties\":{\"lines\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/line\"},"
    "\"minItems\":1},\"contact\":{\"$ref\":\"#/definitions/email\"},"
    "\"shipping\":{\"enum\":[\"standard\",\"express\"],\"default\":\"standard\"},"
    "\"notes\":{\"type\":[\"string\",\"null\"],\"examples\":[\"x\"]}},"
    "\"required\":[\"lines\"],"
    "\"allOf\":[{\"if\":{\"properties\":{\"shipping\":{\"const\":\"express\"}},"
    "\"required\":[\"shipping\"]},\"then\":{\"required\":[\"contact\"]}}],"
    "\"additionalProperties\":false,\"x-vendor\":{\"anything\":true}}";

static void test_raw_schema(void **state) {
  (void)state;
  pf_validator *v = compile_ok(raw_schema);
  expect_v(v, "{\"lines\":[{\"sku\":\"ABC-1234\",\"qty\":2,\"price\":19.99}]}", NULL);
  expect_v(v,
           "{\"lines\":[{\"sku\":\"ABC-1234\",\"qty\":2}],\"shipping\":\"express\","
           "\"contact\":\"a@b.c\",\"notes\":null}",
           NULL);
  expect_v(v, "{\"lines\":[{\"sku\":\"ABC-1234\",\"qty\":2}],\"shipping\":\"express\"}",
           "missing required argument 'contact'");
  expect_v(v, "{\"lines\":[{\"sku\":\"abc\",\"qty\":2}]}",
           "argument 'lines[0].sku': \"abc\" does not match the pattern ^[A-Z]{3}-[0-9]{4}$");
  expect_v(v, "{\"lines\":[{\"sku\":\"ABC-1234\",\"qty\":0}]}",
           "argument 'lines[0].qty': 0 is less than the minimum 1");
  expect_v(v, "{\"lines\":[{\"sku\":\"ABC-1234\",\"qty\":1,\"price\":1.001}]}",
           "argument 'lines[0].price': 1.001 is not a multiple of 0.01");
  expect_v(v, "{\"lines\":[{\"sku\":\"ABC-1234\",\"qty\":1}],\"contact\":\"nobody\"}",
           "argument 'contact': \"nobody\" does not match the pattern @");
  expect_v(v, "{\"lines\":[]}", "argument 'lines': expected at least 1 item, got 0");
  expect_v(v, "{\"lines\":[{\"sku\":\"ABC-1234\",\"qty\":1}],\"extra\":1}",
           "unknown argument 'extra'");
  assert_string_equal(pf_json_str(pf_validator_default(v, "shipping", 8), NULL), "standard");
  pf_validator_free(v);
}

static void test_refs(void **state) {
  (void)state;
  /* A recursive tree through "#". */
  const char *tree = "{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
                     "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}},"
                     "\"additionalProperties\":false}";
  expect(tree, "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":3}]}]}", NULL);
  expect(tree, "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":\"3\"}]}]}",
         "argument 'kids[0].kids[0].v': expected integer, got string");
  /* $ref next to other keywords: both apply (2020-12). */
  const char *both =
      "{\"$defs\":{\"n\":{\"type\":\"number\"}},\"$ref\":\"#/$defs/n\",\"maximum\":5}";
  expect(both, "3", NULL);
  expect(both, "\"3\"", "arguments: expected number, got string");
  expect(both, "6", "arguments: 6 is greater than the maximum 5");
  /* Pointer escapes: ~1 is '/', ~0 is '~', %25 is '%'. */
  expect("{\"$defs\":{\"a/b~c%d\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/a~1b~0c%25d\"}", "1",
         "arguments: expected string, got integer");
  expect("{\"prefixItems\":[{\"type\":\"string\"}],\"items\":{\"$ref\":\"#/prefixItems/0\"}}",
         "[\"a\",2]", "argument '[1]': expected string, got integer");
  /* A reference loop that never reaches a value is stopped, not followed forever. */
  expect("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},"
         "\"$ref\":\"#/$defs/a\"}",
         "1", "arguments: the schema nests too deeply (a recursive $ref?)");
}

static void test_bad_schemas(void **state) {
  (void)state;
  expect_compile_error(
      "{\"type\":\"object\",",
      "schema is not valid JSON: 1:18: unexpected end of input: expected an object key");
  expect_compile_error("", "schema is not valid JSON: 1:1: empty input: expected a JSON value");
  expect_compile_error("{\"properties\":{\"a\":{\"minimum\":\"x\"}}}",
                       "schema /properties/a/minimum: expected a number, got string");
  expect_compile_error("{\"properties\":{\"slug\":{\"pattern\":\"^[a-z\"}}}",
                       "schema /properties/slug/pattern: invalid regular expression \"^[a-z\" at "
                       "offset 5: missing terminating ] for character class");
  expect_compile_error("{\"pattern\":\"(?<n\"}",
                       "schema /pattern: invalid regular expression \"(?<n\" at offset 4: syntax "
                       "error in subpattern name (missing terminator?)");
  expect_compile_error("{\"type\":\"text\"}",
                       "schema /type: unknown type \"text\" (expected null, boolean, integer, "
                       "number, string, array or object)");
  expect_compile_error("{\"type\":5}",
                       "schema /type: expected a type name or an array of type names");
  expect_compile_error("{\"type\":[]}",
                       "schema /type: expected a type name or a non-empty array of type names");
  expect_compile_error("{\"minLength\":-1}", "schema /minLength: expected a non-negative integer");
  expect_compile_error("{\"maxItems\":1.5}", "schema /maxItems: expected a non-negative integer");
  expect_compile_error("{\"multipleOf\":0}",
                       "schema /multipleOf: expected a number greater than 0");
  expect_compile_error("{\"required\":\"a\"}",
                       "schema /required: expected an array of property names");
  expect_compile_error("{\"required\":[1]}",
                       "schema /required: expected an array of property names (strings)");
  expect_compile_error("{\"properties\":[]}", "schema /properties: expected an object of schemas");
  expect_compile_error(
      "{\"properties\":{\"a\":1}}",
      "schema /properties/a: expected a schema (an object or a boolean), got integer");
  expect_compile_error("{\"items\":[{}]}",
                       "schema /items: expected a schema (an object or a boolean), got array");
  expect_compile_error("{\"anyOf\":[]}", "schema /anyOf: expected a non-empty array of schemas");
  expect_compile_error("{\"allOf\":{}}", "schema /allOf: expected a non-empty array of schemas");
  expect_compile_error("{\"oneOf\":[{},3]}",
                       "schema /oneOf/1: expected a schema (an object or a boolean), got integer");
  expect_compile_error("{\"enum\":\"a\"}", "schema /enum: expected an array of values");
  expect_compile_error("{\"uniqueItems\":1}", "schema /uniqueItems: expected a boolean");
  expect_compile_error("{\"$ref\":\"#/$defs/missing\"}",
                       "schema: $ref \"#/$defs/missing\" does not point to anything in the schema");
  expect_compile_error("{\"$ref\":\"other.json#/x\"}",
                       "schema /$ref: unsupported $ref \"other.json#/x\": only references inside "
                       "this schema (\"#\" or \"#/$defs/name\") are supported");
  expect_compile_error("{\"$defs\":{\"a\":{\"maximum\":null}}}",
                       "schema /$defs/a/maximum: expected a number, got null");
  expect_compile_error(
      "{\"$defs\":{\"a\":{\"type\":\"object\"}},\"$ref\":\"#/$defs/a/type\"}",
      "schema /$defs/a/type: expected a schema (an object or a boolean), got string");
  expect_compile_error("{\"patternProperties\":{\"(\":{}}}",
                       "schema /patternProperties/(: invalid regular expression \"(\" at offset 1: "
                       "missing closing parenthesis");
  expect_compile_error("42", "schema /: expected a schema (an object or a boolean), got integer");
  pf_validator_free(NULL);
}

/* Which validators decide by layout alone: flat objects of bare types,
 * where a property taking numbers takes all of them. */
static void test_by_layout(void **state) {
  (void)state;
  static const struct {
    const char *schema;
    bool want;
  } cases[] = {
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},"
       "\"b\":{\"type\":\"string\"}},\"required\":[\"a\"]}",
       true},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\"},\"n\":{}},"
       "\"additionalProperties\":false}",
       true},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":[\"number\",\"null\"]}}}", true},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}", false},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":[\"integer\",\"string\"]}}}",
       false},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\",\"minimum\":0}}}",
       false},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":3}}}",
       false},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"enum\":[1,2]}}}", false},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\","
       "\"properties\":{\"b\":{\"type\":\"string\"}}}}}",
       false},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
       "\"anyOf\":[{\"required\":[\"a\"]}]}",
       false},
      {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/n\"}},"
       "\"$defs\":{\"n\":{\"type\":\"integer\"}}}",
       false},
      {"{\"type\":\"string\"}", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pf_validator *v = compile_ok(cases[i].schema);
    if (pf_validator_by_layout(v) != cases[i].want)
      fail_msg("%s: by layout should be %d", cases[i].schema, cases[i].want);
    pf_validator_free(v);
  }
}

/* Checking a valid value allocates nothing, from the first call on. */
static void test_no_alloc(void **state) {
  (void)state;
  pf_test_alloc_install();
  pf_validator *v = compile_ok(raw_schema);
  pf_validator *c = compile_ok(calculator);
  assert_true(pf_test_alloc_count() > 0); /* pcre2 goes through the seam */
  pf_arena *a = pf_arena_create(0);
  const char *val = "{\"lines\":[{\"sku\":\"ABC-1234\",\"qty\":2,\"price\":19.99}],"
                    "\"shipping\":\"express\",\"contact\":\"a@b.c\"}";
  const pf_json *j = pf_json_parse_copy(val, strlen(val), a, NULL, NULL);
  const char *cv = "{\"operation\":\"add\",\"a\":1,\"b\":2}";
  const pf_json *cj = pf_json_parse_copy(cv, strlen(cv), a, NULL, NULL);
  pf_buf msg = PF_BUF_INIT;
  size_t before = pf_test_alloc_count();
  for (int i = 0; i < 100; i++) {
    assert_int_equal(pf_validator_check(v, j, &msg), 0);
    assert_int_equal(pf_validator_check(c, cj, &msg), 0);
  }
  assert_int_equal(pf_test_alloc_count(), before);
  pf_arena_destroy(a);
  pf_validator_free(v);
  pf_validator_free(c);
  assert_int_equal(pf_test_alloc.mallocs + pf_test_alloc.reallocs, pf_test_alloc.frees);
  pf_test_alloc_remove();
}

/* Every allocation failure during compile is reported, not crashed on. */
static void test_compile_oom(void **state) {
  (void)state;
  pf_test_alloc_install();
  bool compiled = false;
  for (long n = 0; n < 5000 && !compiled; n++) {
    pf_test_alloc.fail_after = n;
    pf_buf err = PF_BUF_INIT;
    pf_validator *v = pf_validator_compile(raw_schema, strlen(raw_schema), &err);
    pf_test_alloc.fail_after = -1;
    if (v) {
      compiled = true;
      pf_validator_free(v);
      pf_buf_free(&err);
      break;
    }
    assert_true(err.len > 0 || err.failed);
    pf_buf_free(&err);
  }
  assert_true(compiled);
  pf_test_alloc_remove();
}

/* The MCP schemas themselves (draft-07 "definitions" and 2020-12 "$defs")
 * compile, and re-rooted at one definition they check real messages. */
static pf_validator *compile_rooted(const char *file, const char *ref) {
  char path[512];
  snprintf(path, sizeof path, "%s/mcp-schema/%s", pf_test_shared_dir(), file);
  size_t len;
  char *text = pf_test_read_file(path, &len);
  if (!text)
    fail_msg("cannot read %s", path);
  pf_buf b = PF_BUF_INIT, err = PF_BUF_INIT;
  pf_buf_printf(&b, "{\"$ref\":\"%s\",", ref);
  const char *open = memchr(text, '{', len);
  assert_non_null(open);
  pf_buf_append(&b, open + 1, len - (size_t)(open + 1 - text));
  pf_validator *v = pf_validator_compile(b.data, b.len, &err);
  if (!v)
    fail_msg("%s: %s", file, pf_buf_cstr(&err));
  pf_buf_free(&b);
  pf_buf_free(&err);
  free(text);
  return v;
}

static void test_mcp_schemas(void **state) {
  (void)state;
  static const char *const files[] = {"2024-11-05.json", "2025-03-26.json", "2025-06-18.json",
                                      "2025-11-25.json", "2026-07-28.json"};
  for (size_t i = 0; i < 5; i++)
    pf_validator_free(compile_rooted(files[i], "#"));
  pf_validator *tool = compile_rooted("2025-11-25.json", "#/$defs/Tool");
  expect_v(tool,
           "{\"name\":\"add\",\"description\":\"Adds\",\"inputSchema\":{\"type\":\"object\","
           "\"additionalProperties\":false},\"annotations\":{\"readOnlyHint\":true}}",
           NULL);
  expect_v(tool, "{\"name\":\"add\"}", "missing required argument 'inputSchema'");
  expect_v(tool, "{\"name\":\"add\",\"inputSchema\":{\"type\":\"string\"}}",
           "argument 'inputSchema.type': \"string\" is not the allowed value \"object\"");
  pf_validator_free(tool);
  pf_validator *res = compile_rooted("2025-11-25.json", "#/$defs/CallToolResult");
  expect_v(res, "{\"content\":[{\"type\":\"text\",\"text\":\"3\"}],\"isError\":false}", NULL);
  expect_v(res, "{\"content\":[{\"type\":\"text\"}]}",
           "argument 'content[0]': does not match any of the 5 alternatives of anyOf (the first: "
           "missing required argument 'content[0].text')");
  pf_validator_free(res);
}

/* Several threads share one validator; contended pattern matches fall back
 * to a temporary match data block. */
typedef struct thread_arg {
  const pf_validator *v;
  const pf_json *good, *bad;
  int failures;
} thread_arg;

static void *hammer(void *p) {
  thread_arg *t = p;
  for (int i = 0; i < 20000; i++) {
    t->failures += pf_validator_check(t->v, t->good, NULL) != 0;
    t->failures += pf_validator_check(t->v, t->bad, NULL) != -PF_EINVAL;
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  pf_validator *v = compile_ok("{\"properties\":{\"s\":{\"pattern\":\"^[a-z]+$\"}},"
                               "\"patternProperties\":{\"^x\":{\"pattern\":\"^[0-9]+$\"}}}");
  pf_arena *a = pf_arena_create(0);
  const char *gs = "{\"s\":\"abc\",\"x1\":\"42\"}", *bs = "{\"s\":\"abc\",\"x1\":\"4a\"}";
  const pf_json *good = pf_json_parse_copy(gs, strlen(gs), a, NULL, NULL);
  const pf_json *bad = pf_json_parse_copy(bs, strlen(bs), a, NULL, NULL);
  assert_non_null(good);
  assert_non_null(bad);
  enum { NT = 4 };
  pthread_t th[NT];
  thread_arg args[NT];
  for (int i = 0; i < NT; i++) {
    args[i] = (thread_arg){v, good, bad, 0};
    assert_int_equal(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
  }
  for (int i = 0; i < NT; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failures, 0);
  }
  pf_arena_destroy(a);
  pf_validator_free(v);
}

static void test_speed(void **state) {
  (void)state;
  pf_validator *v = compile_ok(calculator);
  pf_arena *a = pf_arena_create(0);
  const char *cv = "{\"operation\":\"add\",\"a\":1,\"b\":2}";
  const pf_json *j = pf_json_parse_copy(cv, strlen(cv), a, NULL, NULL);
  enum { N = 1000000 };
  int bad = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < N; i++)
    bad |= pf_validator_check(v, j, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(bad, 0);
  double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / N;
  printf("# validate calculator arguments: %.1f ns per check\n", ns);

  pf_validator *s = compile_ok("{\"type\":\"object\",\"properties\":{\"slug\":{\"type\":\"string\","
                               "\"pattern\":\"^[a-z-]+$\",\"maxLength\":64}}}");
  const char *sv = "{\"slug\":\"hello-world-and-more\"}";
  const pf_json *sj = pf_json_parse_copy(sv, strlen(sv), a, NULL, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < N; i++)
    bad |= pf_validator_check(s, sj, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(bad, 0);
  ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / N;
  printf("# validate a pattern argument (PCRE2): %.1f ns per check\n", ns);
  pf_validator_free(s);
  pf_arena_destroy(a);
  pf_validator_free(v);
}

/* Validators in a caller's arena, shared through references: each
 * reference is released once, the validator works until the last. */
static void test_shared_in_arena(void **state) {
  (void)state;
  pf_arena *a = pf_arena_create(0);
  const char *schema = "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\","
                       "\"pattern\":\"^[a-z]+$\"}},\"required\":[\"s\"]}";
  pf_buf err = PF_BUF_INIT;
  pf_validator *v = pf_validator_compile_in(schema, strlen(schema), a, &err);
  assert_non_null(v);
  assert_int_equal(err.len, 0);
  pf_validator *w = pf_validator_ref(v);
  assert_ptr_equal(v, w);
  expect_v(w, "{\"s\":\"abc\"}", NULL);
  pf_validator_free(v);
  expect_v(w, "{\"s\":\"ABC\"}", "argument 's': \"ABC\" does not match the pattern ^[a-z]+$");
  expect_v(w, "{}", "missing required argument 's'");
  pf_validator_free(w);
  /* a schema error leaves nothing to free but the arena */
  assert_null(pf_validator_compile_in("{\"type\":3}", 10, a, &err));
  assert_true(err.len > 0);
  pf_buf_free(&err);
  pf_arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calculator),
      cmocka_unit_test(test_shared_in_arena),
      cmocka_unit_test(test_hello_defaults),
      cmocka_unit_test(test_defaults_various),
      cmocka_unit_test(test_type),
      cmocka_unit_test(test_enum_const),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_arrays),
      cmocka_unit_test(test_objects_nested),
      cmocka_unit_test(test_combinators),
      cmocka_unit_test(test_bool_schemas),
      cmocka_unit_test(test_raw_schema),
      cmocka_unit_test(test_refs),
      cmocka_unit_test(test_bad_schemas),
      cmocka_unit_test(test_by_layout),
      cmocka_unit_test(test_no_alloc),
      cmocka_unit_test(test_compile_oom),
      cmocka_unit_test(test_mcp_schemas),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_speed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

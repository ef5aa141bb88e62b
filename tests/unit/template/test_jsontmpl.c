/* JSON-aware templates: typed substitution, nested paths, escaping,
 * templated keys, arrays, compaction, compile errors with positions,
 * missing values, strict mode, variable listing, allocation failures. */
#include "support.h"

#include <stdio.h>
#include <string.h>

#include <pforge/error.h>
#include <pforge/json.h>

#include "template/jsontmpl.h"

static pf_arena *arena;
static pf_buf out, err;

static int setup(void **state) {
  (void)state;
  arena = pf_arena_create(0);
  pf_buf_reset(&out);
  pf_buf_reset(&err);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pf_arena_destroy(arena);
  pf_buf_free(&out);
  pf_buf_free(&err);
  return 0;
}

static const pf_json *J(const char *text) {
  pf_json_error e;
  const pf_json *v = pf_json_parse_copy(text, strlen(text), arena, NULL, &e);
  if (!v)
    fail_msg("bad JSON in test: %s (%s)", text, e.msg);
  return v;
}

static pf_jtmpl *C(const char *text) {
  pf_buf_reset(&err);
  pf_jtmpl *t = pf_jtmpl_compile(text, strlen(text), &err);
  if (!t)
    fail_msg("compile failed: %s: %s", text, pf_buf_cstr(&err));
  return t;
}

/* Renders text against values; the output must parse as JSON. */
static const char *R(const char *text, const char *values) {
  pf_jtmpl *t = C(text);
  pf_tmpl_ctx ctx = {.values = values ? J(values) : NULL};
  pf_buf_reset(&out);
  assert_int_equal(pf_jtmpl_render(t, &ctx, &out), 0);
  pf_jtmpl_free(t);
  const char *s = pf_buf_cstr(&out);
  pf_json_error e;
  if (!pf_json_parse_copy(s, out.len, arena, NULL, &e))
    fail_msg("rendered invalid JSON: %s (%s)", s, e.msg);
  return s;
}

/* The compile error of text. */
static const char *E(const char *text) {
  pf_buf_reset(&err);
  pf_jtmpl *t = pf_jtmpl_compile(text, strlen(text), &err);
  assert_null(t);
  return pf_buf_cstr(&err);
}

static void test_plain_json_is_compacted(void **state) {
  (void)state;
  assert_string_equal(R(" { \"a\" : [ 1 , 2.5e3 , -0.5 , true , false , null ] ,\n\t\"b\" : { } "
                        ", \"c\":[ ] } ",
                        NULL),
                      "{\"a\":[1,2.5e3,-0.5,true,false,null],\"b\":{},\"c\":[]}");
  assert_string_equal(R("\"s\\n\\\"q\\u00e9\\/\"", NULL), "\"s\\n\\\"q\\u00e9\\/\"");
  assert_string_equal(R("42", NULL), "42");
  assert_string_equal(R("null", NULL), "null");
}

static void test_typed_substitution(void **state) {
  (void)state;
  const char *v = "{\"s\":\"str\",\"i\":42,\"r\":2.5,\"t\":true,\"f\":false,\"z\":null,"
                  "\"a\":[1,\"x\"],\"o\":{\"k\":[true]},\"big\":18446744073709551615}";
  assert_string_equal(R("{\"s\":\"{{s}}\",\"i\":\"{{i}}\",\"r\":\"{{ r }}\",\"t\":\"{{t}}\"}", v),
                      "{\"s\":\"str\",\"i\":42,\"r\":2.5,\"t\":true}");
  assert_string_equal(R("[\"{{f}}\",\"{{z}}\",\"{{a}}\",\"{{o}}\",\"{{big}}\"]", v),
                      "[false,null,[1,\"x\"],{\"k\":[true]},18446744073709551615]");
  /* whitespace inside the braces is allowed; outside it the string is text */
  assert_string_equal(R("[\"{{  i }}\",\" {{i}}\",\"{{i}} \",\"{{i}}{{i}}\"]", v),
                      "[42,\" 42\",\"42 \",\"4242\"]");
  /* the whole document can be one value */
  assert_string_equal(R("\"{{o}}\"", v), "{\"k\":[true]}");
}

static void test_nested_paths(void **state) {
  (void)state;
  const char *v = "{\"user\":{\"name\":\"ann\",\"age\":30,\"tags\":[\"a\",\"b\"]},"
                  "\"items\":[{\"id\":7},{\"id\":8}]}";
  assert_string_equal(
      R("{\"who\":{\"n\":\"{{user.name}}\",\"age\":\"{{user.age}}\"},\"t\":\"{{user.tags.1}}\","
        "\"ids\":[\"{{items.0.id}}\",\"{{items.1.id}}\"],\"all\":\"{{user.tags}}\"}",
        v),
      "{\"who\":{\"n\":\"ann\",\"age\":30},\"t\":\"b\",\"ids\":[7,8],\"all\":[\"a\",\"b\"]}");
}

static void test_escaping(void **state) {
  (void)state;
  const char *v = "{\"q\":\"say \\\"hi\\\"\",\"nl\":\"a\\nb\\tc\",\"bs\":\"C:\\\\x\","
                  "\"ctl\":\"\\u0001\",\"i\":5,\"o\":{\"k\":\"v\\\"\"}}";
  /* typed strings are serialized, embedded values escaped */
  assert_string_equal(R("[\"{{q}}\",\"<{{q}}>\"]", v), "[\"say \\\"hi\\\"\",\"<say \\\"hi\\\">\"]");
  assert_string_equal(R("[\"{{nl}}\",\"-{{nl}}-\"]", v), "[\"a\\nb\\tc\",\"-a\\nb\\tc-\"]");
  assert_string_equal(R("\"{{bs}}/{{ctl}}\"", v), "\"C:\\\\x/\\u0001\"");
  /* a container inside text is its JSON, escaped */
  assert_string_equal(R("\"o={{o}}\"", v), "\"o={\\\"k\\\":\\\"v\\\\\\\"\\\"}\"");
  /* literal JSON escapes around a value are kept as written */
  assert_string_equal(R("\"C:\\\\{{i}}\\n\"", v), "\"C:\\\\5\\n\"");
  /* the template escape: a literal {{ */
  assert_string_equal(R("\"\\{{i}} {{i}}\"", v), "\"{{i}} 5\"");
  /* a literal backslash then a typed value is text, not a typed value */
  assert_string_equal(R("\"\\\\{{i}}\"", v), "\"\\\\5\"");
}

static void test_invalid_utf8(void **state) {
  (void)state;
  pf_jtmpl *t = C("{\"a\":\"<{{s}}>\",\"b\":\"{{s}}\"}");
  /* the parser rejects invalid UTF-8: parse in situ, then corrupt the
   * string where it lies in the buffer */
  char *text = pf_arena_strndup(arena, "{\"s\":\"xAAy\"}", 12);
  const pf_json *vals = pf_json_parse(text, 12, arena, NULL, NULL);
  assert_non_null(vals);
  size_t n;
  char *s = (char *)pf_json_str(pf_json_get(vals, "s"), &n);
  assert_int_equal(n, 4);
  s[1] = (char)0xff;
  s[2] = (char)0xfe;
  pf_tmpl_ctx ctx = {.values = vals};
  pf_buf_reset(&out);
  assert_int_equal(pf_jtmpl_render(t, &ctx, &out), 0);
  assert_string_equal(
      pf_buf_cstr(&out),
      "{\"a\":\"<x\xef\xbf\xbd\xef\xbf\xbdy>\",\"b\":\"x\xef\xbf\xbd\xef\xbf\xbdy\"}");
  pf_jtmpl_free(t);
}

static void test_templated_keys(void **state) {
  (void)state;
  const char *v = "{\"k\":\"name\",\"n\":3,\"q\":\"a\\\"b\",\"v\":\"x\"}";
  /* a key that is one variable is still a string */
  assert_string_equal(R("{\"{{k}}\":\"{{v}}\",\"{{n}}\":\"{{n}}\",\"p_{{q}}\":1}", v),
                      "{\"name\":\"x\",\"3\":3,\"p_a\\\"b\":1}");
  assert_string_equal(R("{\"{{missing}}\":\"{{missing}}\"}", v), "{\"\":null}");
}

static void test_arrays_and_blocks(void **state) {
  (void)state;
  const char *v = "{\"xs\":[1,2,3],\"names\":[\"a\",\"b\"],\"on\":true}";
  assert_string_equal(R("[\"{{xs}}\",[\"{{xs.0}}\",{\"n\":\"{{xs.2}}\"}]]", v),
                      "[[1,2,3],[1,{\"n\":3}]]");
  /* blocks render as text inside a string */
  assert_string_equal(
      R("{\"csv\":\"{{#each names}}{{this}}{{#unless @last}},{{/unless}}{{/each}}\","
        "\"flag\":\"{{#if on}}yes{{else}}no{{/if}}\"}",
        v),
      "{\"csv\":\"a,b\",\"flag\":\"yes\"}");
}

static void test_missing_values(void **state) {
  (void)state;
  assert_string_equal(R("{\"a\":\"{{nope}}\",\"b\":\"x{{nope}}y\",\"c\":\"{{a.b.c}}\"}", "{}"),
                      "{\"a\":null,\"b\":\"xy\",\"c\":null}");
  assert_string_equal(R("[\"{{x}}\"]", NULL), "[null]");
  /* a lookup fallback (schema defaults) is consulted */
  pf_jtmpl *t = C("[\"{{d}}\"]");
  pf_tmpl_ctx ctx = {.values = J("{}")};
  pf_buf_reset(&out);
  assert_int_equal(pf_jtmpl_render(t, &ctx, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "[null]");
  pf_jtmpl_free(t);
}

static const pf_json *dflt(void *ud, const char *name, size_t len) {
  (void)ud;
  return len == 1 && name[0] == 'd' ? J("{\"deep\":[7]}") : NULL;
}

static void test_lookup_and_strict(void **state) {
  (void)state;
  pf_jtmpl *t = C("{\"d\":\"{{d}}\",\"s\":\"<{{d.deep.0}}>\"}");
  pf_tmpl_ctx ctx = {.values = J("{}"), .lookup = dflt};
  pf_buf_reset(&out);
  assert_int_equal(pf_jtmpl_render(t, &ctx, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "{\"d\":{\"deep\":[7]},\"s\":\"<7>\"}");
  pf_jtmpl_free(t);

  t = C("{\"a\":1,\"b\":\"{{gone}}\"}");
  pf_buf msg = PF_BUF_INIT;
  ctx = (pf_tmpl_ctx){.values = J("{}"), .strict = true, .err = &msg};
  pf_buf_reset(&out);
  pf_buf_puts(&out, "keep");
  assert_int_equal(pf_jtmpl_render(t, &ctx, &out), -PF_EINVAL);
  assert_int_equal(out.len, 4); /* restored */
  assert_non_null(strstr(pf_buf_cstr(&msg), "gone"));
  pf_buf_free(&msg);
  pf_jtmpl_free(t);
}

static void test_compile_errors(void **state) {
  (void)state;
  assert_string_equal(E(""), "1:1: expected a value, found the end of the text");
  assert_string_equal(E("{\"a\":1,}"), "1:8: expected a string key");
  assert_string_equal(E("{\"a\" 1}"), "1:6: expected ':' after the key");
  assert_string_equal(E("[1 2]"), "1:4: expected ',' or ']'");
  assert_string_equal(E("{\n  \"a\": tru\n}"), "2:8: unexpected character 't'");
  assert_string_equal(E("{\"a\":1} x"), "1:9: unexpected text after the JSON value");
  assert_string_equal(E("[01]"), "1:3: expected ',' or ']'");
  assert_string_equal(E("[1.]"), "1:4: invalid number: digits expected after '.'");
  assert_string_equal(E("[-]"), "1:2: invalid number");
  assert_string_equal(E("[1, -1e+9999]"), "1:5: number out of range (overflows a double)");
  assert_string_equal(E("\"abc"), "1:1: unterminated string");
  assert_string_equal(E("\"a\\qb\""), "1:3: invalid escape in string");
  assert_string_equal(E("\"\\u12g4\""), "1:2: invalid \\u escape (needs 4 hex digits)");
  assert_string_equal(E("\"a\nb\""),
                      "1:3: control character in string (write it as an escape such as \\n)");
  assert_string_equal(E("[\"ok\", \"\xe9\"]"), "1:9: invalid UTF-8 in string");
  assert_string_equal(E("{\"\xed\xa0\x80\": 1}"), "1:3: invalid UTF-8 in string");
  assert_string_equal(R("\"\xc3\xa9 \xf0\x9f\x98\x80\"", NULL), "\"\xc3\xa9 \xf0\x9f\x98\x80\"");
  assert_string_equal(E("\"a\\udada\""),
                      "1:3: high surrogate in \\u escape without its low surrogate");
  assert_string_equal(E("\"\\uDC00\""), "1:2: lone low surrogate in \\u escape");
  assert_string_equal(R("\"\\ud83d\\ude00\"", NULL), "\"\\ud83d\\ude00\"");
  assert_string_equal(E("\"\\\\\\{{e}}\""),
                      "1:4: '\\{{' right after an escaped backslash is ambiguous");
  /* template errors point into the document */
  const char *m = E("{\n  \"a\": \"x{{#if y}}\"\n}");
  assert_non_null(strstr(m, "2:10: "));
  assert_non_null(strstr(m, "not closed"));
  m = E("[\"ok\", \"{{a b}}\"]");
  assert_string_equal(m, "1:12: bad character ' ' in path 'a b'");
  /* nesting limit */
  char deep[PF_JTMPL_MAX_DEPTH + 2];
  memset(deep, '[', sizeof deep - 1);
  deep[sizeof deep - 1] = 0;
  assert_non_null(strstr(E(deep), "nesting deeper than"));
  /* NULL err is fine */
  assert_null(pf_jtmpl_compile("{", 1, NULL));
}

static void test_vars(void **state) {
  (void)state;
  pf_jtmpl *t = C("{\"{{k}}\":\"{{user.name}}\",\"x\":[\"{{n}} {{user.age}}\",\"{{k}}\"],"
                  "\"e\":\"{{#each items}}{{id}}{{/each}}\"}");
  assert_int_equal(pf_jtmpl_nvars(t), 4);
  assert_string_equal(pf_jtmpl_var(t, 0), "k");
  assert_string_equal(pf_jtmpl_var(t, 1), "user");
  assert_string_equal(pf_jtmpl_var(t, 2), "n");
  assert_string_equal(pf_jtmpl_var(t, 3), "items");
  assert_null(pf_jtmpl_var(t, 4));
  pf_jtmpl_free(t);
  t = C("{\"a\":1}");
  assert_int_equal(pf_jtmpl_nvars(t), 0);
  pf_jtmpl_free(t);
  assert_int_equal(pf_jtmpl_nvars(NULL), 0);
  assert_null(pf_jtmpl_var(NULL, 0));
}

static void test_oom_and_null(void **state) {
  (void)state;
  pf_jtmpl_free(NULL);
  assert_int_equal(pf_jtmpl_render(NULL, NULL, &out), -PF_EINVAL);
  const char *text = "{\"a\":\"{{x}}\",\"b\":\"<{{y}}>\",\"c\":[1,2,3]}";
  /* every allocation failure during compilation fails cleanly */
  for (long n = 0; n < 64; n++) {
    pf_test_alloc_install();
    pf_test_alloc.fail_after = n;
    pf_jtmpl *t = pf_jtmpl_compile(text, strlen(text), NULL);
    pf_test_alloc_remove();
    if (t) {
      pf_jtmpl_free(t);
      break;
    }
  }
  pf_jtmpl *t = C(text);
  pf_tmpl_ctx ctx = {.values = J("{\"x\":1,\"y\":2}")};
  pf_buf b = PF_BUF_INIT;
  pf_test_alloc_install();
  pf_test_alloc.fail_after = 0;
  assert_int_equal(pf_jtmpl_render(t, &ctx, &b), -PF_ENOMEM);
  pf_test_alloc_remove();
  pf_buf_free(&b);
  pf_jtmpl_free(t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_plain_json_is_compacted),
      T(test_typed_substitution),
      T(test_nested_paths),
      T(test_escaping),
      T(test_invalid_utf8),
      T(test_templated_keys),
      T(test_arrays_and_blocks),
      T(test_missing_values),
      T(test_lookup_and_strict),
      T(test_compile_errors),
      T(test_vars),
      T(test_oom_and_null),
  };
  return cmocka_run_group_tests_name("template/jsontmpl", tests, NULL, NULL);
}

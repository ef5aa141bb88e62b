/* Parser unit tests: values, reader API, strictness, limits, errors. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/json.h>

#include "json/internal.h"

static pf_arena *arena;

static int setup(void **state) {
  (void)state;
  arena = pf_arena_create(0);
  return arena ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  pf_arena_destroy(arena);
  return 0;
}

/* Parses a NUL-terminated literal (copied, so literals can be used). */
static const pf_json *P(const char *text) {
  pf_json_error err;
  const pf_json *v = pf_json_parse_copy(text, strlen(text), arena, NULL, &err);
  if (!v)
    print_message("parse failed at %zu: %s: %s\n", err.offset, err.msg, text);
  return v;
}

/* Expects a parse error with the given code and offset; returns msg. */
static const char *E(const char *text, int code, size_t offset) {
  pf_json_error err = {0, 0, NULL};
  const pf_json *v = pf_json_parse_copy(text, strlen(text), arena, NULL, &err);
  if (v || err.code != code || err.offset != offset)
    print_message("for %s: got %s code %d (%s) at %zu, expected code %d at %zu\n", text,
                  v ? "success" : "error", err.code, err.msg ? err.msg : "", err.offset, code,
                  offset);
  assert_null(v);
  assert_int_equal(err.code, code);
  assert_int_equal(err.offset, offset);
  assert_non_null(err.msg);
  return err.msg;
}

static void test_request(void **state) {
  (void)state;
  const pf_json *r = P("{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\","
                       "\"params\":{\"name\":\"add\",\"arguments\":{\"a\":1.5,\"b\":2}}}");
  assert_non_null(r);
  assert_int_equal(pf_json_typeof(r), PF_JSON_OBJECT);
  assert_int_equal(pf_json_len(r), 4);
  assert_string_equal(pf_json_get_str(r, "jsonrpc", NULL), "2.0");
  assert_int_equal(pf_json_get_int(r, "id", -1), 42);
  assert_string_equal(pf_json_get_str(r, "method", NULL), "tools/call");
  const pf_json *params = pf_json_get(r, "params");
  assert_string_equal(pf_json_get_str(params, "name", NULL), "add");
  const pf_json *args = pf_json_get(params, "arguments");
  assert_true(pf_json_get_num(args, "a", 0) == 1.5);
  assert_true(pf_json_get_num(args, "b", 0) == 2.0);
  assert_int_equal(pf_json_typeof(pf_json_get(args, "b")), PF_JSON_INT);
  assert_int_equal(pf_json_typeof(pf_json_get(args, "a")), PF_JSON_REAL);
  /* missing keys and wrong types give defaults */
  assert_null(pf_json_get(r, "nope"));
  assert_int_equal(pf_json_get_int(r, "method", -7), -7);
  assert_string_equal(pf_json_get_str(r, "id", "dflt"), "dflt");
  assert_true(pf_json_get_bool(r, "x", true));
  assert_true(pf_json_get_num(NULL, "a", 3.25) == 3.25);
  assert_null(pf_json_get(pf_json_get(r, "id"), "x"));
  assert_int_equal(pf_json_typeof(NULL), PF_JSON_NONE);
  assert_string_equal(pf_json_type_name(PF_JSON_NONE), "missing");
}

static void test_scalars(void **state) {
  (void)state;
  assert_int_equal(pf_json_typeof(P("null")), PF_JSON_NULL);
  assert_true(pf_json_bool_or(P("true"), false));
  assert_false(pf_json_bool_or(P(" false "), true));
  assert_int_equal(pf_json_int_or(P("0"), 1), 0);
  assert_int_equal(pf_json_int_or(P("-0"), 1), 0);
  assert_int_equal(pf_json_int_or(P("-9223372036854775808"), 0), INT64_MIN);
  assert_int_equal(pf_json_int_or(P("9223372036854775807"), 0), INT64_MAX);
  const pf_json *u = P("9223372036854775808");
  assert_int_equal(pf_json_typeof(u), PF_JSON_UINT);
  assert_true(pf_json_uint_or(u, 0) == 9223372036854775808ull);
  assert_int_equal(pf_json_int_or(u, 5), 5);
  assert_true(pf_json_uint_or(P("18446744073709551615"), 0) == UINT64_MAX);
  const pf_json *big = P("18446744073709551616");
  assert_int_equal(pf_json_typeof(big), PF_JSON_REAL);
  assert_true(pf_json_num_or(big, 0) == 18446744073709551616.0);
  assert_int_equal(pf_json_typeof(P("-9223372036854775809")), PF_JSON_REAL);
  assert_int_equal(pf_json_typeof(P("123456789012345678901234567890")), PF_JSON_REAL);
  assert_true(pf_json_num_or(P("123456789012345678901234567890"), 0) == 1.2345678901234568e29);
  /* integral reals are integers for pf_json_int_or, others are not */
  assert_int_equal(pf_json_int_or(P("2.0"), 0), 2);
  assert_int_equal(pf_json_int_or(P("1e3"), 0), 1000);
  assert_int_equal(pf_json_int_or(P("2.5"), 9), 9);
  assert_int_equal(pf_json_int_or(P("1e30"), 9), 9);
  assert_int_equal(pf_json_uint_or(P("-1"), 9), 9);
  size_t len;
  const char *s = pf_json_str(P("\"h\\u00e9llo\""), &len);
  assert_string_equal(s, "h\xc3\xa9llo");
  assert_int_equal(len, 6);
  assert_null(pf_json_str(P("1"), &len));
  assert_string_equal(pf_json_str_or(P("[]"), "d"), "d");
}

static void test_doubles(void **state) {
  (void)state;
  static const struct {
    const char *text;
    double v;
  } cases[] = {
      {"1.5", 1.5},
      {"-0.0", -0.0},
      {"0.1", 0.1},
      {"1e-7", 1e-7},
      {"1E+2", 100.0},
      {"0.30000000000000004", 0.30000000000000004},
      {"1.7976931348623157e308", 1.7976931348623157e308},
      {"2.2250738585072014e-308", 2.2250738585072014e-308},
      {"4.9406564584124654e-324", 4.9406564584124654e-324},
      {"5e-324", 5e-324},
      {"1e-400", 0.0},
      {"9007199254740993", 9007199254740992.0}, /* INT, exact */
      {"9007199254740993.0", 9007199254740992.0}, /* ties to even */
      {"0.000000000000000000000000000001", 1e-30},
      {"123456789.125", 123456789.125},
      {"2.47032822920623272e-324", 0.0}, /* just below half of the smallest subnormal */
      {"7.2057594037927933e16", 72057594037927936.0},
      {"1.00000000000000011102230246251565404236316680908203125", 1.0},
      {"1.00000000000000011102230246251565404236316680908203126", 1.0000000000000002},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const pf_json *v = P(cases[i].text);
    assert_non_null(v);
    double d = pf_json_num_or(v, NAN);
    if (d != cases[i].v || signbit(d) != signbit(cases[i].v))
      print_message("%s: got %.17g expected %.17g\n", cases[i].text, d, cases[i].v);
    assert_true(d == cases[i].v);
    assert_int_equal(signbit(d), signbit(cases[i].v));
  }
  E("1e400", -PF_EJSON_NUMBER, 0);
  E("[-1.8e308]", -PF_EJSON_NUMBER, 1);
}

static void test_containers(void **state) {
  (void)state;
  const pf_json *a = P(" [ 1 , [2, [3, {}]], {\"k\": [ ]}, \"s\", null ] ");
  assert_non_null(a);
  assert_int_equal(pf_json_len(a), 5);
  assert_int_equal(pf_json_int_or(pf_json_at(a, 0), 0), 1);
  const pf_json *inner = pf_json_at(a, 1);
  assert_int_equal(pf_json_len(inner), 2);
  assert_int_equal(pf_json_typeof(pf_json_at(pf_json_at(inner, 1), 1)), PF_JSON_OBJECT);
  assert_int_equal(pf_json_len(pf_json_get(pf_json_at(a, 2), "k")), 0);
  assert_string_equal(pf_json_str_or(pf_json_at(a, 3), NULL), "s");
  assert_int_equal(pf_json_typeof(pf_json_at(a, 4)), PF_JSON_NULL);
  assert_null(pf_json_at(a, 5));

  pf_json_iter it = pf_json_iter_init(a);
  const pf_json *k, *v;
  int n = 0;
  while (pf_json_iter_next(&it, &k, &v)) {
    assert_null(k);
    assert_ptr_equal(v, pf_json_at(a, (size_t)n));
    n++;
  }
  assert_int_equal(n, 5);

  const pf_json *o = P("{\"a\":{\"x\":[1,2,3]},\"b\":2,\"c\":{\"d\":{\"e\":true}}}");
  it = pf_json_iter_init(o);
  const char *keys[] = {"a", "b", "c"};
  n = 0;
  while (pf_json_iter_next(&it, &k, &v)) {
    assert_string_equal(pf_json_str_or(k, NULL), keys[n]);
    assert_ptr_equal(v, pf_json_get(o, keys[n]));
    n++;
  }
  assert_int_equal(n, 3);
  assert_true(pf_json_get_bool(pf_json_get(pf_json_get(o, "c"), "d"), "e", false));
  /* iterating a scalar yields nothing */
  it = pf_json_iter_init(pf_json_get(o, "b"));
  assert_false(pf_json_iter_next(&it, &k, &v));
  it = pf_json_iter_init(NULL);
  assert_false(pf_json_iter_next(&it, NULL, NULL));
}

static void test_strings(void **state) {
  (void)state;
  size_t len;
  const char *s = pf_json_str(P("\"a\\u0000b\""), &len);
  assert_int_equal(len, 3);
  assert_memory_equal(s, "a\0b", 4);
  s = pf_json_str(P("\"\\ud83d\\ude00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\""), &len);
  assert_string_equal(s, "\xF0\x9F\x98\x80 \" \\ / \b\f\n\r\t");
  s = pf_json_str(P("\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80\""), &len);
  assert_string_equal(s, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80");
  /* long strings cross the 16-byte scanner */
  char text[300];
  text[0] = '"';
  for (int i = 1; i < 298; i++)
    text[i] = (char)('a' + i % 26);
  text[150] = '\\';
  text[151] = 'n';
  text[298] = '"';
  text[299] = 0;
  s = pf_json_str(P(text), &len);
  assert_int_equal(len, 296);
  assert_int_equal(s[149], '\n');
  assert_int_equal(s[150], text[152]);
  /* keys are unescaped too and lookups compare decoded bytes */
  const pf_json *o = P("{\"k\\u0065y\":1}");
  assert_int_equal(pf_json_get_int(o, "key", 0), 1);
}

static void test_in_situ(void **state) {
  (void)state;
  char buf[] = "{\"msg\":\"plain\",\"esc\":\"a\\nb\"}";
  pf_json_error err;
  const pf_json *v = pf_json_parse(buf, sizeof buf - 1, arena, NULL, &err);
  assert_non_null(v);
  size_t len;
  const char *plain = pf_json_str(pf_json_get(v, "msg"), &len);
  /* no escapes: the string is the buffer itself, not a copy */
  assert_true(plain >= buf && plain < buf + sizeof buf);
  assert_string_equal(plain, "plain");
  assert_string_equal(pf_json_get_str(v, "esc", NULL), "a\nb");
}

static void test_syntax_errors(void **state) {
  (void)state;
  E("", -PF_EJSON_SYNTAX, 0);
  E("   ", -PF_EJSON_SYNTAX, 3);
  E("[1,]", -PF_EJSON_SYNTAX, 3);
  E("{\"a\":1,}", -PF_EJSON_SYNTAX, 7);
  E("{\"a\" 1}", -PF_EJSON_SYNTAX, 5);
  E("{a:1}", -PF_EJSON_SYNTAX, 1);
  E("[1 2]", -PF_EJSON_SYNTAX, 3);
  E("[1", -PF_EJSON_SYNTAX, 2);
  E("{\"a\":1", -PF_EJSON_SYNTAX, 6);
  E("\"abc", -PF_EJSON_SYNTAX, 0);
  E("[\"a\\", -PF_EJSON_SYNTAX, 1);
  E("01", -PF_EJSON_SYNTAX, 0);
  E("-", -PF_EJSON_SYNTAX, 1);
  E("1.", -PF_EJSON_SYNTAX, 2);
  E(".5", -PF_EJSON_SYNTAX, 0);
  E("+1", -PF_EJSON_SYNTAX, 0);
  E("1e", -PF_EJSON_SYNTAX, 2);
  E("1e+", -PF_EJSON_SYNTAX, 3);
  E("0x10", -PF_EJSON_SYNTAX, 1);
  E("NaN", -PF_EJSON_SYNTAX, 0);
  E("-Infinity", -PF_EJSON_SYNTAX, 1);
  E("tru", -PF_EJSON_SYNTAX, 0);
  E("nul", -PF_EJSON_SYNTAX, 0);
  E("True", -PF_EJSON_SYNTAX, 0);
  E("1 2", -PF_EJSON_SYNTAX, 2);
  E("{} x", -PF_EJSON_SYNTAX, 3);
  E("\"a\"\"b\"", -PF_EJSON_SYNTAX, 3);
  E("[\"\\x\"]", -PF_EJSON_SYNTAX, 2);
  E("[\"\\u12\"]", -PF_EJSON_SYNTAX, 2);
  E("[\"\\u12G4\"]", -PF_EJSON_SYNTAX, 2);
  E("[\"a\tb\"]", -PF_EJSON_SYNTAX, 3);
  E("[\"a\nb\"]", -PF_EJSON_SYNTAX, 3);
  E("\xef\xbb\xbf{}", -PF_EJSON_SYNTAX, 0); /* BOM */
  E("[1]\x0c", -PF_EJSON_SYNTAX, 3);        /* form feed is not JSON whitespace */
  E("]", -PF_EJSON_SYNTAX, 0);
  E("{\"a\":}", -PF_EJSON_SYNTAX, 5);
  E("[,1]", -PF_EJSON_SYNTAX, 1);
  E("{,}", -PF_EJSON_SYNTAX, 1);
  E("{\"a\":1 \"b\":2}", -PF_EJSON_SYNTAX, 7);
  /* an unterminated string reports where it starts */
  E("{\"key\":\"value", -PF_EJSON_SYNTAX, 7);
}

static void test_utf8_errors(void **state) {
  (void)state;
  E("\"\x80\"", -PF_EJSON_UTF8, 1);                  /* lone continuation */
  E("\"ab\xc0\xaf\"", -PF_EJSON_UTF8, 3);            /* overlong '/' */
  E("\"\xe0\x80\xaf\"", -PF_EJSON_UTF8, 1);          /* overlong 3-byte */
  E("\"\xed\xa0\x80\"", -PF_EJSON_UTF8, 1);          /* UTF-8 encoded surrogate */
  E("\"\xf4\x90\x80\x80\"", -PF_EJSON_UTF8, 1);      /* > U+10FFFF */
  E("\"\xf5\x80\x80\x80\"", -PF_EJSON_UTF8, 1);
  E("\"\xe6\x97\"", -PF_EJSON_UTF8, 1);              /* truncated */
  E("\"\xff\"", -PF_EJSON_UTF8, 1);
  E("[\"\\ud800\"]", -PF_EJSON_UTF8, 2);            /* lone high surrogate */
  E("[\"\\udc00\\ud800\"]", -PF_EJSON_UTF8, 2);     /* reversed pair */
  E("[\"\\ud800\\u0041\"]", -PF_EJSON_UTF8, 2);     /* high + non-low */
  E("[\"x\\ud83d\"]", -PF_EJSON_UTF8, 3);
  /* a long valid prefix then an invalid byte, past the 16-byte scanner */
  E("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xfe\"", -PF_EJSON_UTF8, 37);
  E("\xe9", -PF_EJSON_UTF8, 0); /* invalid byte where a value starts */
}

static void test_duplicates(void **state) {
  (void)state;
  const char *m = E("{\"a\":1,\"b\":2,\"a\":3}", -PF_EJSON_DUPKEY, 13);
  assert_string_equal(m, "duplicate key in object");
  /* same key after unescaping */
  E("{\"a\":1,\"\\u0061\":2}", -PF_EJSON_DUPKEY, 7);
  /* nested objects are checked independently */
  assert_non_null(P("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"));
  E("[{\"x\":1},{\"y\":1,\"y\":2}]", -PF_EJSON_DUPKEY, 16);
  /* large objects take the sorted path */
  char big[4096];
  size_t n = 0;
  big[n++] = '{';
  for (int i = 0; i < 100; i++)
    n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":%d", i ? "," : "", i, i);
  big[n++] = '}';
  big[n] = 0;
  const pf_json *o = P(big);
  assert_non_null(o);
  assert_int_equal(pf_json_len(o), 100);
  assert_int_equal(pf_json_get_int(o, "k77", -1), 77);
  /* now duplicate k42 at the end */
  n--;
  n += (size_t)snprintf(big + n, sizeof big - n, ",\"k42\":0}");
  pf_json_error err;
  assert_null(pf_json_parse_copy(big, n, arena, NULL, &err));
  assert_int_equal(err.code, -PF_EJSON_DUPKEY);
  assert_memory_equal(big + err.offset, "\"k42\":0}", 8);
  /* allowed by option: the first one wins, iteration sees both */
  pf_json_opts opts = {0, 0, PF_JSON_DUP_ALLOW};
  const pf_json *d = pf_json_parse_copy("{\"a\":1,\"a\":2}", 13, arena, &opts, &err);
  assert_non_null(d);
  assert_int_equal(pf_json_len(d), 2);
  assert_int_equal(pf_json_get_int(d, "a", 0), 1);
}

static char *nested(size_t depth, size_t *len) {
  char *s = malloc(2 * depth + 1);
  for (size_t i = 0; i < depth; i++) {
    s[i] = '[';
    s[2 * depth - 1 - i] = ']';
  }
  s[2 * depth] = 0;
  *len = 2 * depth;
  return s;
}

static void test_depth(void **state) {
  (void)state;
  size_t len;
  char *s = nested(128, &len);
  pf_json_error err;
  assert_non_null(pf_json_parse_copy(s, len, arena, NULL, &err));
  free(s);
  s = nested(129, &len);
  assert_null(pf_json_parse_copy(s, len, arena, NULL, &err));
  assert_int_equal(err.code, -PF_EJSON_DEPTH);
  assert_int_equal(err.offset, 128);
  free(s);
  /* depth 100,000: rejected quickly, no stack overflow */
  s = nested(100000, &len);
  assert_null(pf_json_parse_copy(s, len, arena, NULL, &err));
  assert_int_equal(err.code, -PF_EJSON_DEPTH);
  /* with a raised limit the parser still does not recurse */
  pf_json_opts opts = {200000, 0, PF_JSON_DUP_REJECT};
  const pf_json *v = pf_json_parse_copy(s, len, arena, &opts, &err);
  assert_non_null(v);
  /* ...and the writer writes it back without recursing either */
  pf_buf out = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &out);
  pf_jw_value(&w, v);
  assert_false(out.failed);
  assert_int_equal(out.len, len);
  assert_memory_equal(out.data, s, len);
  pf_buf_free(&out);
  free(s);
  /* objects count toward depth too */
  opts.max_depth = 2;
  assert_non_null(pf_json_parse_copy("{\"a\":[1]}", 9, arena, &opts, &err));
  assert_null(pf_json_parse_copy("{\"a\":[{}]}", 10, arena, &opts, &err));
  assert_int_equal(err.code, -PF_EJSON_DEPTH);
  assert_int_equal(err.offset, 6);
}

static void test_size_limit(void **state) {
  (void)state;
  pf_json_opts opts = {0, 10, PF_JSON_DUP_REJECT};
  pf_json_error err;
  assert_non_null(pf_json_parse_copy("[1,2,3,45]", 10, arena, &opts, &err));
  assert_null(pf_json_parse_copy("[1,2,3,456]", 11, arena, &opts, &err));
  assert_int_equal(err.code, -PF_EJSON_SIZE);
  assert_int_equal(err.offset, 10);
  char buf[] = "[1,2,3,456]";
  assert_null(pf_json_parse(buf, 11, arena, &opts, &err));
  assert_int_equal(err.code, -PF_EJSON_SIZE);
}

static void test_error_pos(void **state) {
  (void)state;
  const char *text = "{\n  \"a\": 1,\n  \"b\" 2\n}";
  pf_json_error err;
  assert_null(pf_json_parse_copy(text, strlen(text), arena, NULL, &err));
  char pos[32];
  assert_string_equal(pf_json_error_pos(text, strlen(text), &err, pos, sizeof pos), "3:7");
  assert_string_equal(err.msg, "expected ':' after object key");
}

static void test_many_nodes(void **state) {
  (void)state;
  /* more values than the initial node estimate: the node array grows */
  size_t n = 200000;
  char *s = malloc(2 * n + 2);
  size_t k = 0;
  s[k++] = '[';
  for (size_t i = 0; i < n; i++) {
    s[k++] = (char)('0' + i % 10);
    s[k++] = ',';
  }
  s[k - 1] = ']';
  pf_json_error err;
  const pf_json *v = pf_json_parse(s, k, arena, NULL, &err);
  assert_non_null(v);
  assert_int_equal(pf_json_len(v), n);
  assert_int_equal(pf_json_int_or(pf_json_at(v, 123457), -1), 7);
  free(s);
  pf_arena_reset(arena);
}

static void test_oom(void **state) {
  (void)state;
  const char *doc = "{\"a\":[1,2,3,{\"b\":\"c\"}],\"d\":\"e\"}";
  /* fail each allocation in turn: always a clean NOMEM, never a crash */
  for (long fail = 0; fail < 6; fail++) {
    pf_test_alloc_install();
    pf_arena *a = pf_arena_create(64);
    pf_test_alloc.fail_after = fail;
    pf_json_error err = {0, 0, NULL};
    const pf_json *v = pf_json_parse_copy(doc, strlen(doc), a, NULL, &err);
    if (!v)
      assert_int_equal(err.code, -PF_ENOMEM);
    else
      assert_int_equal(pf_json_len(v), 2);
    pf_test_alloc.fail_after = -1;
    pf_arena_destroy(a);
    pf_test_alloc_remove();
  }
}

static void test_no_alloc_steady_state(void **state) {
  (void)state;
  const char *doc = "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\","
                    "\"params\":{\"name\":\"add\",\"arguments\":{\"a\":1.5,\"b\":2}}}";
  size_t len = strlen(doc);
  char buf[256];
  pf_test_alloc_install();
  pf_arena *a = pf_arena_create(0);
  for (int i = 0; i < 100; i++) {
    if (i == 10)
      pf_test_alloc.mallocs = pf_test_alloc.reallocs = 0;
    memcpy(buf, doc, len);
    const pf_json *v = pf_json_parse(buf, len, a, NULL, NULL);
    assert_non_null(v);
    pf_arena_reset(a);
  }
  assert_int_equal(pf_test_alloc_count(), 0);
  pf_arena_destroy(a);
  pf_test_alloc_remove();
}

static void test_equal(void **state) {
  (void)state;
  assert_true(pf_json_equal(P("{\"a\":1,\"b\":[1,2]}"), P("{\"b\":[1,2],\"a\":1.0}")));
  assert_false(pf_json_equal(P("{\"a\":1}"), P("{\"a\":1,\"b\":2}")));
  assert_false(pf_json_equal(P("[1,2]"), P("[2,1]")));
  assert_false(pf_json_equal(P("1"), P("\"1\"")));
  assert_true(pf_json_equal(P("9223372036854775807"), P("9223372036854775807")));
  assert_false(pf_json_equal(P("9007199254740993"), P("9007199254740992.0")));
  assert_true(pf_json_equal(NULL, NULL));
  assert_false(pf_json_equal(P("null"), NULL));
}

/* pf__json_parse_msg (the fast path for JSON-RPC messages) against
 * pf_json_parse: the same verdict, error, tree (strings at the same offsets)
 * and buffer afterwards, for messages it reads itself and for every kind it
 * hands to the full parser. Through a shape, the member names and the
 * "jsonrpc"/"method" values are the shape's NUL-terminated copies (the same
 * bytes), so the buffer keeps exactly their closing quotes. */
static bool same_as_parse_with(const char *text, const pf_json_opts *opts,
                               pf__json_shapes *shapes) {
  uint64_t hits = pf__json_shapes_hits(shapes);
  size_t len = strlen(text);
  char *a = malloc(len + 1), *b = malloc(len + 1);
  assert_non_null(a);
  assert_non_null(b);
  memcpy(a, text, len + 1);
  memcpy(b, text, len + 1);
  pf_arena *arena2 = pf_arena_create(0);
  pf_json_error ea = {0, 0, NULL}, eb = {0, 0, NULL};
  const pf_json *ra = pf__json_parse_msg(a, len, arena, opts, &ea, shapes);
  const pf_json *rb = pf_json_parse(b, len, arena2, opts, &eb);
  if (!ra != !rb)
    fail_msg("verdicts differ on %s", text);
  bool *shape_end = calloc(len + 1, 1);
  assert_non_null(shape_end);
  if (!ra) {
    assert_int_equal(ea.code, eb.code);
    assert_int_equal(ea.offset, eb.offset);
    assert_string_equal(ea.msg, eb.msg);
  } else {
    size_t n = pf__json_span(ra);
    assert_int_equal(n, pf__json_span(rb));
    for (size_t i = 0; i < n; i++) {
      assert_int_equal(ra[i].type, rb[i].type);
      if (ra[i].type >= PF_JSON_STRING) /* scalars leave len unset */
        assert_int_equal(ra[i].len, rb[i].len);
      if (ra[i].type == PF_JSON_STRING && (ra[i].v.s < a || ra[i].v.s >= a + len)) {
        assert_true(pf__json_shapes_hits(shapes) > hits); /* read through a shape */
        assert_memory_equal(ra[i].v.s, rb[i].v.s, ra[i].len);
        assert_int_equal(ra[i].v.s[ra[i].len], '\0');
        assert_int_equal(rb[i].v.s[rb[i].len], '\0');
        shape_end[rb[i].v.s + rb[i].len - b] = true;
      } else if (ra[i].type == PF_JSON_STRING)
        assert_int_equal(ra[i].v.s - a, rb[i].v.s - b);
      else
        assert_memory_equal(&ra[i].v, &rb[i].v, sizeof ra[i].v);
    }
  }
  for (size_t i = 0; i < len; i++)
    if (a[i] != b[i] && !(shape_end[i] && a[i] == '"' && b[i] == '\0'))
      fail_msg("buffers differ at byte %zu of %s", i, text);
  free(shape_end);
  pf_arena_destroy(arena2);
  free(a);
  free(b);
  return pf__json_shapes_hits(shapes) > hits;
}

static void same_as_parse(const char *text, const pf_json_opts *opts) {
  same_as_parse_with(text, opts, NULL);
}

static void test_parse_msg(void **state) {
  (void)state;
  static const char *const msgs[] = {
      /* read by the fast path */
      "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1.5,\"b\":2}}}",
      "{\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"hi\"},"
      "\"_meta\":{\"progressToken\":7}},\"jsonrpc\":\"2.0\",\"id\":3}",
      "{\"jsonrpc\":\"2.0\",\"id\":\"req-1\",\"method\":\"resources/read\",\"params\":{\"uri\":"
      "\"file:///a\"}}",
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
      "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"roots\":[{\"uri\":\"file:///x\"}]}}",
      "{\"jsonrpc\":\"2.0\",\"id\":-6,\"error\":{\"code\":-32601,\"message\":\"no\"}}",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"a\":[1,[2,{\"b\":null}]],"
      "\"t\":true,\"f\":false,\"x\":0,\"y\":-0,\"z\":-0.0,\"w\":0.125,\"v\":123456789012345678}}",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"name\":\"caf\xc3\xa9\"}}",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}  \n",
      "{}", "{\"\":\"\"}", "{\"a\":{}}", "{\"params\":{\"arguments\":{\"deep\":{\"er\":[{}]}}}}",
      "{\"id\":1.5e3,\"n\":1234567890123456789,\"m\":99999999999999999999,\"d\":0.1234567890123456789}",
      /* handed to the full parser: escapes, whitespace, duplicates, errors */
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\\u0069ng\"}",
      "{\"jsonrpc\":\"2.0\",\"params\":{\"arguments\":{\"t\":\"a\\nb\"}},\"id\":1}",
      "{\"jsonrpc\" : \"2.0\", \"id\": 1}",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2}",
      "{\"x\":1,\"y\":2,\"x\":3}",
      "{\"params\":{\"arguments\":{\"a\":1,\"a\":2}}}",
      "{\"params\":{\"name\":\"a\",\"name\":\"b\"}}",
      "{\"jsonrpc\":\"2.0\"}x", "{\"id\":01}", "{\"id\":1.}", "{\"id\":-}", "{\"id\":1e}",
      "{\"id\":tru}", "{\"id\":[1,}", "{\"id\":\"abc", "{\"id\"", "{\"id\":", "{\"", "{",
      "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{\"\xc3\xa9\":1}", "{\"a\":1}}", "{\"a\":1,}",
      "{\"p0\":0,\"p1\":1,\"p2\":2,\"p3\":3,\"p4\":4,\"p5\":5,\"p6\":6,\"p7\":7,\"p8\":8,"
      "\"p9\":9,\"pa\":10,\"pb\":11,\"pc\":12,\"pd\":13,\"pe\":14,\"pf\":15,\"pg\":16}",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"arguments\":{\"a\":[[[[1]]]]}}}",
  };
  pf_json_opts shallow = {2, 0, PF_JSON_DUP_REJECT}, allow = {0, 0, PF_JSON_DUP_ALLOW};
  /* through one shape cache, twice: each is read as the parser reads it,
   * whichever shapes the others left */
  pf__json_shapes *sh = pf__json_shapes_new();
  assert_non_null(sh);
  for (int round = 0; round < 2; round++)
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
      same_as_parse_with(msgs[i], NULL, sh);
      same_as_parse_with(msgs[i], &shallow, sh);
    }
  assert_true(pf__json_shapes_hits(sh) > 0);
  pf__json_shapes_free(sh);
  for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
    same_as_parse(msgs[i], NULL);
    same_as_parse(msgs[i], &shallow);
    same_as_parse(msgs[i], &allow);
    for (uint32_t d = 1; d <= 4; d++) {
      pf_json_opts o = {d, 0, PF_JSON_DUP_REJECT};
      same_as_parse(msgs[i], &o);
    }
  }
  /* more strings than the fast path notes one by one (48) and more values
   * read by the state machine than it notes as ranges (8): it then writes
   * the NULs by walking every node */
  char big[4096];
  size_t o = (size_t)snprintf(big, sizeof big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"");
  for (int i = 0; i < 13; i++)
    o += (size_t)snprintf(big + o, sizeof big - o, ",\"k%d\":\"v%d\"", i, i);
  o += (size_t)snprintf(big + o, sizeof big - o, ",\"params\":{\"arguments\":{");
  for (int i = 0; i < 16; i++)
    o += (size_t)snprintf(big + o, sizeof big - o, "%s\"a%d\":%s", i ? "," : "", i,
                          i < 9 ? "[1,\"x\"]" : "\"s\"");
  o += (size_t)snprintf(big + o, sizeof big - o, "}");
  for (int i = 0; i < 15; i++)
    o += (size_t)snprintf(big + o, sizeof big - o, ",\"p%d\":\"w%d\"", i, i);
  snprintf(big + o, sizeof big - o, "}}");
  same_as_parse(big, NULL);
  /* every prefix of a message: the errors at each cut */
  const char *m = msgs[1];
  for (size_t cut = 0; cut < strlen(m); cut++) {
    char tmp[512];
    memcpy(tmp, m, cut);
    tmp[cut] = '\0';
    same_as_parse(tmp, NULL);
  }
}

/* Message shapes: a message laid out like one read before is read through
 * that layout, with the same result as pf_json_parse; anything else is
 * not, and is still read right. */
static void test_parse_shapes(void **state) {
  (void)state;
  pf__json_shapes *sh = pf__json_shapes_new();
  assert_non_null(sh);
  const char *add = "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"add\",\"arguments\":{\"a\":1.5,\"b\":2}}}";
  assert_false(same_as_parse_with(add, NULL, sh)); /* learned */
  assert_true(same_as_parse_with(add, NULL, sh));  /* then read through its shape */
  static const char *const hit[] = {
      /* other values, of any length, with any number forms */
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":-3,\"b\":2.25}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":123456789012,\"method\":\"tools/call\",\"params\":{\"name\":\"\","
      "\"arguments\":{\"a\":1e300,\"b\":-0}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":-0.5,\"method\":\"tools/call\",\"params\":{\"name\":\"caf\xc3\xa9"
      "\xe2\x82\xac\xf0\x9f\x98\x80\",\"arguments\":{\"a\":18446744073709551615,\"b\":"
      "99999999999999999999999}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"tools/call\",\"params\":{\"name\":\"a longer "
      "name than the one learned, past sixteen bytes\",\"arguments\":{\"a\":0.1234567890123456789,"
      "\"b\":1E-5}}} \n",
  };
  for (size_t i = 0; i < sizeof hit / sizeof hit[0]; i++)
    if (!same_as_parse_with(hit[i], NULL, sh))
      fail_msg("not read through the shape: %s", hit[i]);
  static const char *const miss[] = {
      /* the envelope's "jsonrpc" and "method" values are part of a shape */
      "{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/cal\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}",
      /* escapes, bad UTF-8, controls: the parser's (and its errors) */
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/c\\u0061ll\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"t\xff\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"t\xc3\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"t\x01\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}",
      /* another type where a value was, malformed numbers */
      "{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":null,\"b\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":07,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1.,\"b\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":-,\"b\":2}}}",
      /* other names, order, whitespace, members; cut short; more after it */
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"b\":1,\"a\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1, \"b\":2}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2,\"c\":3}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}}",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"b\":2}}}x",
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
      "\"arguments\":{\"a\":1,\"a\":2}}}",
  };
  for (size_t i = 0; i < sizeof miss / sizeof miss[0]; i++) {
    pf__json_shapes *one = pf__json_shapes_new();
    assert_non_null(one);
    assert_false(same_as_parse_with(add, NULL, one));
    if (same_as_parse_with(miss[i], NULL, one))
      fail_msg("read through the shape: %s", miss[i]);
    pf__json_shapes_free(one);
  }
  /* every prefix of a learned message misses (and fails as the parser does) */
  for (size_t cut = 0; cut < strlen(add); cut++) {
    char tmp[512];
    memcpy(tmp, add, cut);
    tmp[cut] = '\0';
    assert_false(same_as_parse_with(tmp, NULL, sh));
  }
  /* a shape is not used under a lower nesting limit than its depth */
  pf__json_shapes_free(sh); /* after all those misses it pauses: a new one */
  sh = pf__json_shapes_new();
  assert_non_null(sh);
  assert_false(same_as_parse_with(add, NULL, sh));
  pf_json_opts shallow = {2, 0, PF_JSON_DUP_REJECT};
  assert_false(same_as_parse_with(add, &shallow, sh));
  assert_true(same_as_parse_with(add, NULL, sh));
  /* arrays, true/false/null and nested objects are part of a shape */
  const char *res = "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"roots\":[{\"uri\":\"file:///x\","
                    "\"ok\":true},{\"uri\":\"b\",\"ok\":false,\"n\":null}],\"e\":[]}}";
  same_as_parse_with(res, NULL, sh);
  assert_true(same_as_parse_with("{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"roots\":[{\"uri\":"
                                 "\"y\",\"ok\":true},{\"uri\":\"\",\"ok\":false,\"n\":null}],"
                                 "\"e\":[]}}",
                                 NULL, sh));
  assert_false(same_as_parse_with("{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"roots\":[{\"uri\":"
                                  "\"y\",\"ok\":false},{\"uri\":\"\",\"ok\":false,\"n\":null}],"
                                  "\"e\":[]}}",
                                  NULL, sh));
  assert_false(same_as_parse_with("{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"roots\":[{\"uri\":"
                                  "\"y\",\"ok\":true}],\"e\":[]}}",
                                  NULL, sh));
  /* four layouts are kept, the least recently used one goes */
  const char *lay[5] = {"{\"a\":1}", "{\"b\":\"x\"}", "{\"c\":[1]}", "{\"d\":{\"e\":2}}",
                        "{\"f\":null}"};
  pf__json_shapes *lru = pf__json_shapes_new();
  assert_non_null(lru);
  for (int i = 0; i < 4; i++)
    assert_false(same_as_parse_with(lay[i], NULL, lru));
  for (int i = 0; i < 4; i++)
    assert_true(same_as_parse_with(lay[i], NULL, lru));
  assert_true(same_as_parse_with(lay[0], NULL, lru)); /* a is now the most recent, b the least */
  assert_false(same_as_parse_with(lay[4], NULL, lru));
  assert_true(same_as_parse_with(lay[4], NULL, lru));
  assert_true(same_as_parse_with(lay[0], NULL, lru));
  assert_false(same_as_parse_with(lay[1], NULL, lru));
  /* a message over a limit (33 holes) is not learned and evicts nothing */
  char many[256];
  size_t mo = (size_t)snprintf(many, sizeof many, "{\"x\":[");
  for (int i = 0; i < 33; i++)
    mo += (size_t)snprintf(many + mo, sizeof many - mo, "%s%d", i ? "," : "", i);
  snprintf(many + mo, sizeof many - mo, "]}");
  assert_false(same_as_parse_with(many, NULL, lru));
  assert_false(same_as_parse_with(many, NULL, lru));
  for (int i = 0; i < 5; i++)
    if (i != 2)
      assert_true(same_as_parse_with(lay[i], NULL, lru)); /* 4, 0, 1 and 3 were kept */
  pf__json_shapes_free(lru);
  /* eight misses in a row pause the cache for 16 messages (no reading, no
   * learning), then it is used again; the pause doubles while misses go on,
   * and a match ends it */
  pf__json_shapes *ps = pf__json_shapes_new();
  assert_non_null(ps);
  char m8[8][32];
  for (int i = 0; i < 8; i++) {
    snprintf(m8[i], sizeof m8[i], "{\"k%d\":%d}", i, i);
    assert_false(same_as_parse_with(m8[i], NULL, ps));
  }
  for (int i = 0; i < 16; i++) /* k7 was learned, but the cache pauses */
    assert_false(same_as_parse_with(m8[7], NULL, ps));
  assert_true(same_as_parse_with(m8[7], NULL, ps));
  for (int i = 0; i < 8; i++)
    assert_false(same_as_parse_with(m8[i], NULL, ps));
  for (int i = 0; i < 16; i++)
    assert_false(same_as_parse_with(m8[7], NULL, ps));
  assert_true(same_as_parse_with(m8[7], NULL, ps)); /* the hit reset the pause to 16 */
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 8; i++)
      assert_false(same_as_parse_with(m8[i], NULL, ps));
    for (int i = 0; i < 16 << round; i++)
      assert_false(same_as_parse_with(m8[7], NULL, ps));
  }
  assert_true(same_as_parse_with(m8[7], NULL, ps));
  pf__json_shapes_free(ps);
  pf__json_shapes_free(sh);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request),       cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_doubles),       cmocka_unit_test(test_containers),
      cmocka_unit_test(test_strings),       cmocka_unit_test(test_in_situ),
      cmocka_unit_test(test_syntax_errors), cmocka_unit_test(test_utf8_errors),
      cmocka_unit_test(test_duplicates),    cmocka_unit_test(test_depth),
      cmocka_unit_test(test_size_limit),    cmocka_unit_test(test_error_pos),
      cmocka_unit_test(test_many_nodes),    cmocka_unit_test(test_oom),
      cmocka_unit_test(test_no_alloc_steady_state), cmocka_unit_test(test_equal),
      cmocka_unit_test(test_parse_msg),     cmocka_unit_test(test_parse_shapes),
  };
  return cmocka_run_group_tests_name("json/parse", tests, setup, teardown);
}

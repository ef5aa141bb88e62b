/* Condition expressions: literals, truthiness, precedence, short-circuit,
 * every operator over every pair of types, exact numeric comparison,
 * strings and escapes, deep equality, paths, the {{path}} form, word
 * aliases, compile errors with positions, limits, var listing, allocation
 * behaviour and concurrent evaluation. */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <pforge/json.h>

#include "template/expr.h"

static pf_arena *arena;

static int setup(void **state) {
  (void)state;
  arena = pf_arena_create(0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pf_arena_destroy(arena);
  return 0;
}

static const pf_json *J(const char *text) {
  pf_json_error e;
  const pf_json *v = pf_json_parse_copy(text, strlen(text), arena, NULL, &e);
  if (!v)
    fail_msg("bad JSON in test: %s (%s)", text, e.msg);
  return v;
}

static pf_expr *C(const char *text) {
  pf_tmpl_diag d;
  pf_expr *e = pf_expr_compile(text, strlen(text), &d);
  if (!e)
    fail_msg("compile failed: %s: %u:%u %s", text, d.line, d.col, d.msg);
  return e;
}

/* Evaluates text against the JSON object `values` (NULL: no values). */
static bool E(const char *text, const char *values) {
  pf_expr *e = C(text);
  pf_tmpl_ctx ctx = {.values = values ? J(values) : NULL};
  bool r = pf_expr_eval(e, &ctx);
  pf_expr_free(e);
  return r;
}

#define YES(text, values)                                                                          \
  do {                                                                                             \
    if (!E(text, values))                                                                          \
      fail_msg("expected true: %s", text);                                                         \
  } while (0)
#define NO(text, values)                                                                           \
  do {                                                                                             \
    if (E(text, values))                                                                           \
      fail_msg("expected false: %s", text);                                                        \
  } while (0)

static void test_literals_truthiness(void **state) {
  (void)state;
  YES("true", NULL);
  NO("false", NULL);
  NO("null", NULL);
  NO("0", NULL);
  YES("1", NULL);
  YES("-1", NULL);
  NO("-0", NULL);
  NO("0.0", NULL);
  NO("-0.0", NULL);
  YES("0.5", NULL);
  YES("1e-300", NULL);
  YES("18446744073709551615", NULL);
  NO("''", NULL);
  NO("\"\"", NULL);
  YES("'0'", NULL);
  YES("' '", NULL);
  YES("'\\u0000'", NULL);
  const char *v = "{\"e\":[],\"o\":{},\"a\":[0],\"b\":{\"k\":null},\"s\":\"\",\"t\":\"x\","
                  "\"z\":0,\"r\":-0.0,\"n\":null,\"f\":false,\"u\":18446744073709551615}";
  NO("e", v);
  NO("o", v);
  YES("a", v);
  YES("b", v);
  NO("s", v);
  YES("t", v);
  NO("z", v);
  NO("r", v);
  NO("n", v);
  NO("f", v);
  YES("u", v);
  NO("missing", v);
  NO("b.k", v);
  /* whitespace of every kind around tokens */
  YES(" \t\r\n true \n", NULL);
}

static void test_precedence(void **state) {
  (void)state;
  /* && binds tighter than || */
  YES("true || false && false", NULL);
  NO("(true || false) && false", NULL);
  YES("false && false || true", NULL);
  NO("false && (false || true)", NULL);
  /* ! binds tighter than everything */
  NO("!true || false", NULL);
  NO("!false && false", NULL);
  YES("!(false && false)", NULL);
  YES("!0 == true", NULL);   /* (!0) == true */
  YES("!(0 == true)", NULL); /* 0 == true is false */
  YES("!!1", NULL);
  NO("!!0", NULL);
  YES("!!!0", NULL);
  /* ordering binds tighter than equality */
  YES("1 < 2 == true", NULL);
  NO("1 == 1 < 2", NULL); /* 1 == (1 < 2): a number is not a boolean */
  YES("2 > 1 == 3 > 2", NULL);
  YES("1 == 1 && 2 != 3 || false", NULL);
  /* equality binds tighter than && */
  YES("1 == 1 && 2 == 2", NULL);
  NO("1 == 1 && 2 == 3", NULL);
  /* && and || yield booleans */
  YES("(1 && 'x') == true", NULL);
  YES("(0 || '') == false", NULL);
  YES("('a' || 0) == true", NULL);
  /* left-associative chains */
  YES("false || false || false || true", NULL);
  NO("true && true && true && false", NULL);
  YES("true && (false || (true && !false))", NULL);
  /* a long chain of negations does not recurse */
  pf_buf b = PF_BUF_INIT;
  for (int i = 0; i < 20001; i++)
    pf_buf_putc(&b, '!');
  pf_buf_puts(&b, "false");
  YES(pf_buf_cstr(&b), NULL);
  pf_buf_free(&b);
}

static size_t lookups;

static const pf_json *count_lookup(void *ud, const char *name, size_t len) {
  (void)ud;
  lookups++;
  if (len == 3 && memcmp(name, "one", 3) == 0)
    return J("1");
  return NULL;
}

static bool EL(const char *text) {
  pf_expr *e = C(text);
  pf_tmpl_ctx ctx = {.values = J("{\"t\":true,\"f\":false}"), .lookup = count_lookup};
  lookups = 0;
  bool r = pf_expr_eval(e, &ctx);
  pf_expr_free(e);
  return r;
}

static void test_short_circuit(void **state) {
  (void)state;
  /* x is not in values: each evaluation of it costs a lookup */
  assert_false(EL("f && x"));
  assert_int_equal(lookups, 0);
  assert_true(EL("t || x"));
  assert_int_equal(lookups, 0);
  assert_false(EL("t && x"));
  assert_int_equal(lookups, 1);
  assert_false(EL("f || x"));
  assert_int_equal(lookups, 1);
  assert_true(EL("f && x || t"));
  assert_int_equal(lookups, 0);
  assert_true(EL("(t || x) && (f || one == 1)"));
  assert_int_equal(lookups, 1);
  assert_false(EL("f && (x || y || z)"));
  assert_int_equal(lookups, 0);
  assert_true(EL("t || x && y"));
  assert_int_equal(lookups, 0);
  assert_false(EL("x && y"));
  assert_int_equal(lookups, 1);
  /* lookup is a fallback for names the values lack */
  assert_true(EL("one == 1 && !two"));
  assert_int_equal(lookups, 2);
}

/* One value of each type, named by its type. The numbers are ordered
 * i < r < u; x is missing. */
static const char *const typed =
    "{\"n\":null,\"t\":true,\"f\":false,\"i\":1,\"r\":1.5,\"u\":18446744073709551615,"
    "\"s\":\"a\",\"a\":[1],\"o\":{\"k\":1}}";
static const char names[] = "ntfirusaox";

static int num_rank(char c) { return c == 'i' ? 1 : c == 'r' ? 2 : c == 'u' ? 3 : 0; }

static void test_operators_over_type_pairs(void **state) {
  (void)state;
  static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
  const pf_json *vals = J(typed);
  char text[32];
  for (const char *x = names; *x; x++) {
    for (const char *y = names; *y; y++) {
      bool null_x = *x == 'n' || *x == 'x', null_y = *y == 'n' || *y == 'x';
      bool eq = *x == *y || (null_x && null_y);
      for (size_t k = 0; k < 6; k++) {
        bool want;
        int rx = num_rank(*x), ry = num_rank(*y);
        if (k < 2) {
          want = k == 0 ? eq : !eq;
        } else if (rx && ry) {
          int c = rx < ry ? -1 : rx > ry;
          want = k == 2 ? c < 0 : k == 3 ? c <= 0 : k == 4 ? c > 0 : c >= 0;
        } else if (*x == 's' && *y == 's') {
          want = k == 3 || k == 5;
        } else {
          want = false; /* no order across types, nor for null/bool/containers */
        }
        snprintf(text, sizeof text, "%c %s %c", *x, ops[k], *y);
        pf_expr *e = C(text);
        pf_tmpl_ctx ctx = {.values = vals};
        if (pf_expr_eval(e, &ctx) != want)
          fail_msg("%s: expected %s", text, want ? "true" : "false");
        pf_expr_free(e);
      }
    }
  }
  /* literals against values of each type */
  YES("n == null && x == null && t == true && f == false && i == 1 && s == 'a'", typed);
  YES("r == 1.5 && u == 18446744073709551615 && i != '1' && s != 1 && t != 1", typed);
  NO("f == 0 || f == null || f == '' || n == false || n == 0", typed);
  NO("a == 1 || a == null || o == true", typed);
  NO("true < false || false < true || true >= true || null <= null", typed);
  NO("'1' < 2 || 1 < '2' || null < 1 || 1 >= null || x < 1 || x >= x", typed);
}

static void test_numbers(void **state) {
  (void)state;
  /* int and real mixed */
  YES("1 == 1.0", NULL);
  YES("1.0 == 1", NULL);
  YES("1e2 == 100", NULL);
  YES("2.5e-1 == 0.25", NULL);
  YES("1E+2 == 100", NULL);
  YES("1 < 1.5 && 1.5 < 2 && 2 > 1.5 && 1.5 >= 1.5 && 1 <= 1.0", NULL);
  YES("-1 < 0 && -1.5 < -1 && -1 > -1.5 && -2 < -1.5", NULL);
  NO("1 != 1.0", NULL);
  /* -0 */
  YES("-0 == 0", NULL);
  YES("-0.0 == 0 && 0 == -0.0 && -0.0 == 0.0", NULL);
  NO("-0.0 < 0 || 0 < -0.0", NULL);
  YES("!-0.0", NULL);
  /* int64 edges: exact, never through a double */
  YES("9223372036854775807 != 9223372036854775808.0", NULL);
  YES("9223372036854775807 < 9223372036854775808.0", NULL);
  YES("9223372036854775806 < 9223372036854775807", NULL);
  YES("9223372036854775807.0 == 9223372036854775808", NULL); /* the real is 2^63 */
  YES("9223372036854775808 > 9223372036854775807", NULL);    /* uint vs int */
  YES("-9223372036854775808 == -9223372036854775808.0", NULL);
  YES("-9223372036854775808 >= -9223372036854775809.0", NULL); /* rounds to -2^63 */
  YES("-9223372036854775808 > -9223372036854777856.0", NULL);  /* next double down */
  YES("-9223372036854775809 == -9223372036854775808", NULL);   /* beyond int64: a real */
  YES("9007199254740993 != 9007199254740992.0", NULL);         /* 2^53 + 1 */
  YES("9007199254740993 > 9007199254740992.0", NULL);
  YES("9007199254740992 == 9007199254740992.0", NULL);
  /* uint64 edges */
  YES("18446744073709551615 > 18446744073709551614", NULL);
  YES("18446744073709551615 < 18446744073709551616.0", NULL);
  YES("18446744073709551616 > 18446744073709551615", NULL); /* overflows: 2^64, a real */
  YES("18446744073709551615 > -1 && -1 < 18446744073709551615", NULL);
  YES("18446744073709551615 > 1e19 && 18446744073709551615 < 1.9e19", NULL);
  /* large reals */
  YES("1e308 > 1e307 && 1e308 == 1e308 && 1.7976931348623157e308 > 1e308", NULL);
  YES("1e308 > 9223372036854775807 && -1e308 < -9223372036854775808", NULL);
  YES("1e308 > 18446744073709551615", NULL);
  YES("4.9e-324 > 0 && -4.9e-324 < 0 && -4.9e-324 < -0", NULL);
  /* the same comparisons with the values coming from JSON */
  const char *v = "{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                  "\"p63\":9223372036854775808.0,\"umax\":18446744073709551615,"
                  "\"big\":1e308,\"half\":0.5,\"nz\":-0.0}";
  YES("max < p63 && max != p63 && min < max && umax > max && umax < big", v);
  YES("max == 9223372036854775807 && p63 == 9223372036854775808", v);
  YES("half > 0 && half < 1 && nz == 0 && !nz", v);
  YES("big == 1e308 && big > umax", v);
}

static void test_strings(void **state) {
  (void)state;
  YES("'abc' == \"abc\"", NULL);
  YES("'a\\'b' == \"a'b\"", NULL);
  YES("\"a\\\"b\" == 'a\"b'", NULL);
  YES("'' == \"\" && 'x' != 'X' && 'a b' == \"a b\"", NULL);
  /* only empty strings: no string bytes at all (found by fuzz/expr) */
  NO("''", NULL);
  YES("'' == ''", NULL);
  YES("!''", NULL);
}

static void test_string_escapes(void **state) {
  (void)state;
  const char *v = "{\"nl\":\"a\\nb\",\"tab\":\"\\t\",\"bs\":\"\\\\\",\"e\":\"\\u00e9\","
                  "\"smile\":\"\\ud83d\\ude00\",\"nul\":\"a\\u0000b\",\"ctl\":\"\\r\\b\\f/\","
                  "\"q\":\"'\\\"\"}";
  YES("nl == 'a\\nb' && nl == \"a\\nb\"", v);
  YES("tab == '\\t' && bs == '\\\\'", v);
  YES("e == '\\u00e9' && e == '\\u00E9' && e == '\xc3\xa9'", v);
  YES("smile == '\\uD83D\\uDE00' && smile == '\xf0\x9f\x98\x80'", v);
  YES("'\\u20ac' == '\xe2\x82\xac' && '\\u0041' == 'A'", v);
  YES("nul == 'a\\u0000b' && nul == 'a\\0b' && nul != 'a' && nul > 'a'", v);
  YES("ctl == '\\r\\b\\f\\/'", v);
  YES("q == '\\'\"' && q == \"'\\\"\"", v);
  /* a raw newline may be part of a string */
  YES("nl == 'a\nb'", v);
  /* byte-wise lexicographic order */
  YES("'a' < 'b' && 'a' < 'aa' && '' < 'a' && 'B' < 'a' && 'abc' < 'abd'", NULL);
  YES("'\xc3\xa9' > 'z' && '\\u00e9' < '\\u00ea' && '\\uffff' < '\\ud800\\udc00'", NULL);
  YES("'a' <= 'a' && 'a' >= 'a' && !('a' < 'a') && !('b' <= 'a')", NULL);
  YES("'10' < '9'", NULL); /* strings, not numbers */
}

static void test_deep_equality(void **state) {
  (void)state;
  const char *v = "{\"a\":[1,{\"x\":2}],\"b\":[1,{\"x\":2.0}],\"c\":[1,{\"x\":3}],"
                  "\"d\":[1,{\"x\":2},3],\"o1\":{\"p\":1,\"q\":[2,\"s\"]},"
                  "\"o2\":{\"q\":[2,\"s\"],\"p\":1},\"o3\":{\"p\":1},\"e1\":[],\"e2\":[],"
                  "\"eo\":{},\"l\":[[[[]]]],\"m\":[[[[]]]]}";
  YES("a == b && b == a && a == a", v);
  YES("a != c && a != d && d != a", v);
  YES("o1 == o2 && o1 != o3 && o3 != o1", v);
  YES("e1 == e2 && e1 != eo && l == m", v);
  YES("a.1 == b.1 && a.1.x == 2 && o1.q == o2.q", v);
  NO("a < b || a <= b || o1 >= o2 || e1 > e2", v);
  NO("a == o1 || e1 == null || eo == false", v);
}

static void test_paths(void **state) {
  (void)state;
  const char *v = "{\"user\":{\"name\":\"ann\",\"age\":42,\"tags\":[\"a\",\"b\"]},"
                  "\"items\":[{\"name\":\"x\"},{\"name\":\"y\",\"n\":[10,20]}],"
                  "\"obj\":{\"0\":\"zero\",\"-1\":\"neg\"},\"my-name_2\":true,\"_u\":1}";
  YES("user.name == 'ann' && user.age > 18 && user.age < 100", v);
  YES("user.tags.1 == 'b' && user.tags.0 < user.tags.1", v);
  YES("items.0.name == 'x' && items.1.name == 'y' && items.1.n.1 == 20", v);
  YES("items.5 == null && items.1.n.2 == null && !items.2", v);
  YES("obj.0 == 'zero' && obj.-1 == 'neg'", v); /* numeric segments are keys of objects */
  YES("items.-1 == null && items.x == null && user.name.x == null", v);
  YES("my-name_2 && _u == 1", v);
  /* missing anywhere along the path is null */
  YES("nope == null && nope.a.b.c == null && !nope.a && nope != 0", v);
  NO("nope < 1 || nope > 1 || nope == false || nope == ''", v);
  /* a path that starts with a keyword but continues is a path */
  YES("true.x == null && null.y == null", v);
  /* a NULL context: everything is missing */
  pf_expr *e = C("a == null && !b.c");
  assert_true(pf_expr_eval(e, NULL));
  pf_tmpl_ctx empty = {0};
  assert_true(pf_expr_eval(e, &empty));
  pf_expr_free(e);
  assert_false(pf_expr_eval(NULL, NULL));
  /* values that are not an object */
  e = C("a == null");
  pf_tmpl_ctx arr = {.values = J("[1,2]")};
  assert_true(pf_expr_eval(e, &arr));
  pf_expr_free(e);
}

static void test_brace_paths(void **state) {
  (void)state;
  const char *v = "{\"a\":{\"b\":1},\"and\":true,\"0x\":\"zero\",\"true\":5,\"xs\":[\"p\",\"q\"]}";
  YES("{{a.b}} == 1", v);
  YES("{{ a.b }} == 1 && {{\ta.b\n}} == a.b", v);
  YES("{{and}} && {{0x}} == 'zero' && {{true}} == 5", v);
  YES("{{xs.1}} == 'q' && !{{xs.2}}", v);
  YES("({{a.b}})", v);
  YES("{{missing}} == null", v);
}

static void test_word_aliases(void **state) {
  (void)state;
  const char *v = "{\"t\":true,\"f\":false}";
  YES("t and t", v);
  NO("t and f", v);
  YES("f or t", v);
  YES("not f", v);
  YES("not not t", v);
  YES("t and not f or f", v);
  YES("not f and not (f or f)", v);
  YES("f or t and t", v); /* and binds tighter */
  /* the words need not be separated from punctuation */
  YES("(t)and(t)", v);
  /* longer names are paths */
  NO("android || order || nothing || notes", v);
}

typedef struct err_case {
  const char *text;
  size_t offset;
  unsigned line, col;
  const char *msg;
} err_case;

static void test_compile_errors(void **state) {
  (void)state;
  static const err_case cases[] = {
      {"", 0, 1, 1, "empty expression"},
      {"  \n ", 4, 2, 2, "empty expression"},
      {"a &&", 4, 1, 5, "expected an operand after '&&'"},
      {"a && )", 5, 1, 6, "expected an operand after '&&'"},
      {"a ||\n  || b", 7, 2, 3, "expected an operand after '||'"},
      {"a == ", 5, 1, 6, "expected an operand after '=='"},
      {"a < && b", 4, 1, 5, "expected an operand after '<'"},
      {"!", 1, 1, 2, "expected an operand after '!'"},
      {"a and not", 9, 1, 10, "expected an operand after 'not'"},
      {"(&& a)", 1, 1, 2, "expected an operand after '('"},
      {"&& a", 0, 1, 1, "expected an operand before '&&'"},
      {"== 1", 0, 1, 1, "expected an operand before '=='"},
      {"a )", 2, 1, 3, "unexpected ')'"},
      {")", 0, 1, 1, "unexpected ')'"},
      {"(a))", 3, 1, 4, "unexpected ')'"},
      {"()", 0, 1, 1, "empty parentheses '()'"},
      {"(a", 2, 1, 3, "missing ')' to close the '(' at 1:1"},
      {"a &&\n (b || (c)", 15, 2, 11, "missing ')' to close the '(' at 2:2"},
      {"(a b)", 3, 1, 4, "unexpected 'b': expected an operator or ')'"},
      {"a b", 2, 1, 3, "unexpected 'b': expected an operator or the end"},
      {"a == 1 'x'", 7, 1, 8, "unexpected ''x'': expected an operator or the end"},
      {"a (b)", 2, 1, 3, "unexpected '(': expected an operator or the end"},
      {"a = 1", 2, 1, 3, "unknown operator '=' (did you mean '==')"},
      {"a & b", 2, 1, 3, "unknown operator '&' (did you mean '&&')"},
      {"a | b", 2, 1, 3, "unknown operator '|' (did you mean '||')"},
      {"a === b", 4, 1, 5, "unknown operator '=' (did you mean '==')"},
      {"a < b < c", 6, 1, 7,
       "comparisons do not chain: '<' after a comparison (use '&&' between two comparisons, or "
       "parentheses)"},
      {"a == b != c", 7, 1, 8,
       "comparisons do not chain: '!=' after a comparison (use '&&' between two comparisons, or "
       "parentheses)"},
      {"'abc", 0, 1, 1, "unterminated string"},
      {"x ==\n  \"ab\\", 7, 2, 3, "unterminated string"},
      {"x\n\n  'oops", 5, 3, 3, "unterminated string"},
      {"'a\\qb'", 2, 1, 3, "unknown escape '\\q' in string"},
      {"'\\u12'", 1, 1, 2, "bad escape '\\u': expected 4 hex digits"},
      {"'\\u12G4'", 1, 1, 2, "bad escape '\\u': expected 4 hex digits"},
      {"'\\ud800'", 1, 1, 2, "unpaired surrogate '\\uD800' in string"},
      {"'\\ud800\\u0041'", 1, 1, 2, "unpaired surrogate '\\uD800' in string"},
      {"'x\\udc00'", 2, 1, 3, "unpaired surrogate '\\uDC00' in string"},
      {"a..b", 2, 1, 3, "empty segment in path 'a..b'"},
      {"a.", 2, 1, 3, "empty segment in path 'a.'"},
      {"01", 0, 1, 1, "number with a leading zero"},
      {"-01", 1, 1, 2, "number with a leading zero"},
      {"1.", 2, 1, 3, "expected a digit after '.' in number"},
      {"1.e5", 2, 1, 3, "expected a digit after '.' in number"},
      {"1e", 2, 1, 3, "expected a digit in the exponent of number"},
      {"1e+", 3, 1, 4, "expected a digit in the exponent of number"},
      {"12abc", 2, 1, 3, "bad character 'a' in number"},
      {"items.0 == 1.2.3", 14, 1, 15, "bad character '.' in number"},
      {"1e999", 0, 1, 1, "number out of range: '1e999'"},
      {"a > -1e400", 4, 1, 5, "number out of range: '-1e400'"},
      {"{{a", 0, 1, 1, "unclosed '{{': no matching '}}'"},
      {"{{ }}", 0, 1, 1, "empty path in '{{}}'"},
      {"{{a == 1}}", 3, 1, 4, "bad character ' ' in '{{...}}': only a path may be written there"},
      {"{{a}}{{b}}", 5, 1, 6, "unexpected '{{b}}': expected an operator or the end"},
      {"{{a..b}}", 4, 1, 5, "empty segment in path 'a..b'"},
      {"{a}", 0, 1, 1, "unexpected character '{' (a path in braces is written '{{a.b}}')"},
      {"a @ b", 2, 1, 3, "unexpected character '@'"},
      {"a == -x", 5, 1, 6, "unexpected character '-'"},
      {"a == +1", 5, 1, 6, "unexpected character '+'"},
      {"a == \xc3\xa9", 5, 1, 6, "unexpected byte 0xC3"},
      {"a == b\n  && c\n  || ]", 19, 3, 6, "unexpected character ']'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pf_tmpl_diag d;
    memset(&d, 0, sizeof d);
    pf_expr *e = pf_expr_compile(cases[i].text, strlen(cases[i].text), &d);
    if (e || d.offset != cases[i].offset || d.line != cases[i].line || d.col != cases[i].col ||
        strcmp(d.msg, cases[i].msg) != 0)
      fail_msg("case %zu (%s): got %s %zu %u:%u '%s'", i, cases[i].text, e ? "success" : "error",
               d.offset, d.line, d.col, d.msg);
    /* diag may be NULL */
    assert_null(pf_expr_compile(cases[i].text, strlen(cases[i].text), NULL));
  }
  /* text[len] and beyond are never read: a prefix compiles on its own */
  pf_tmpl_diag d;
  pf_expr *e = pf_expr_compile("a == 1 garbage", 6, &d);
  assert_non_null(e);
  pf_expr_free(e);
  assert_null(pf_expr_compile("'abc'", 4, &d));
  assert_string_equal(d.msg, "unterminated string");
  /* NULL text is the empty expression */
  assert_null(pf_expr_compile(NULL, 5, &d));
  assert_string_equal(d.msg, "empty expression");
}

static void test_limits(void **state) {
  (void)state;
  /* PF_EXPR_MAX_DEPTH levels of parentheses, each holding two pending
   * operands: the deepest evaluation stack there is */
  pf_buf t = PF_BUF_INIT;
  for (int i = 0; i < PF_EXPR_MAX_DEPTH; i++)
    pf_buf_puts(&t, "1 == 1 < (");
  pf_buf_puts(&t, "2");
  for (int i = 0; i < PF_EXPR_MAX_DEPTH; i++)
    pf_buf_putc(&t, ')');
  pf_expr *e = C(pf_buf_cstr(&t));
  assert_false(pf_expr_eval(e, NULL)); /* 1 == (1 < x) compares a number to a boolean */
  pf_expr_free(e);
  pf_buf_reset(&t);
  for (int i = 0; i < PF_EXPR_MAX_DEPTH; i++)
    pf_buf_puts(&t, "true == (");
  pf_buf_puts(&t, "true");
  for (int i = 0; i < PF_EXPR_MAX_DEPTH; i++)
    pf_buf_putc(&t, ')');
  e = C(pf_buf_cstr(&t));
  assert_true(pf_expr_eval(e, NULL));
  pf_expr_free(e);

  /* one level more */
  pf_buf_reset(&t);
  for (int i = 0; i <= PF_EXPR_MAX_DEPTH; i++)
    pf_buf_putc(&t, '(');
  pf_buf_puts(&t, "a");
  for (int i = 0; i <= PF_EXPR_MAX_DEPTH; i++)
    pf_buf_putc(&t, ')');
  pf_tmpl_diag d;
  assert_null(pf_expr_compile(t.data, t.len, &d));
  assert_string_equal(d.msg, "parentheses nested deeper than 64");
  assert_int_equal(d.offset, PF_EXPR_MAX_DEPTH);
  assert_int_equal(d.col, PF_EXPR_MAX_DEPTH + 1);

  /* length: exactly the limit compiles, one byte more does not */
  pf_buf_reset(&t);
  pf_buf_putc(&t, 'a');
  while (t.len < PF_EXPR_MAX_LEN)
    pf_buf_putc(&t, ' ');
  e = pf_expr_compile(t.data, t.len, &d);
  assert_non_null(e);
  pf_expr_free(e);
  pf_buf_putc(&t, ' ');
  assert_null(pf_expr_compile(t.data, t.len, &d));
  assert_string_equal(d.msg, "expression longer than 65536 bytes");
  assert_int_equal(d.offset, PF_EXPR_MAX_LEN);
  assert_int_equal(d.line, 1);
  assert_int_equal(d.col, PF_EXPR_MAX_LEN + 1);

  /* a long flat chain is fine */
  pf_buf_reset(&t);
  pf_buf_puts(&t, "x0");
  for (int i = 1; i < 3000; i++)
    pf_buf_printf(&t, i % 2 ? " && x%d" : " || x%d", i);
  e = C(pf_buf_cstr(&t));
  assert_false(pf_expr_eval(e, NULL));
  assert_int_equal(pf_expr_nvars(e), 3000);
  pf_expr_free(e);
  pf_buf_free(&t);
}

static void test_vars(void **state) {
  (void)state;
  pf_expr *e = C("user.age > 18 && {{flags.0}} || user.name == 'x' || !(items.0 && true) || "
                 "{{ flags }} || 'str' == null || {{0x}}");
  assert_int_equal(pf_expr_nvars(e), 4);
  assert_string_equal(pf_expr_var(e, 0), "user");
  assert_string_equal(pf_expr_var(e, 1), "flags");
  assert_string_equal(pf_expr_var(e, 2), "items");
  assert_string_equal(pf_expr_var(e, 3), "0x");
  assert_null(pf_expr_var(e, 4));
  pf_expr_free(e);
  e = C("true && 1 == 1.0 && 'a' && null == null");
  assert_int_equal(pf_expr_nvars(e), 0);
  assert_null(pf_expr_var(e, 0));
  pf_expr_free(e);
  e = C("a_b-c.d && a_b && a_b-c && not x.y");
  assert_int_equal(pf_expr_nvars(e), 3);
  assert_string_equal(pf_expr_var(e, 0), "a_b-c");
  assert_string_equal(pf_expr_var(e, 1), "a_b");
  assert_string_equal(pf_expr_var(e, 2), "x");
  pf_expr_free(e);
  assert_int_equal(pf_expr_nvars(NULL), 0);
  assert_null(pf_expr_var(NULL, 0));
}

static void test_no_alloc_in_eval(void **state) {
  (void)state;
  pf_expr *e = C("user.age >= 18 && (user.name == 'ann' || tags.1 != 'x') && !missing.z && "
                 "{{n}} < 1e3");
  pf_tmpl_ctx ctx = {
      .values = J("{\"user\":{\"age\":42,\"name\":\"ann\"},\"tags\":[\"a\",\"b\"],\"n\":5}")};
  pf_test_alloc_install();
  for (int i = 0; i < 100; i++)
    assert_true(pf_expr_eval(e, &ctx));
  assert_int_equal(pf_test_alloc_count(), 0);
  pf_test_alloc_remove();
  pf_expr_free(e);
}

static void test_oom(void **state) {
  (void)state;
  const char *text = "user.name == 'a\\u00e9' && {{items.0}} || x.y.z < 3.5 || !(q && r.s)";
  for (long k = 0;; k++) {
    pf_test_alloc_install();
    pf_test_alloc.fail_after = k;
    pf_tmpl_diag d;
    pf_expr *e = pf_expr_compile(text, strlen(text), &d);
    pf_test_alloc.fail_after = -1;
    if (e) {
      pf_expr_free(e);
      pf_test_alloc_remove();
      assert_true(k > 3);
      break;
    }
    assert_string_equal(d.msg, "out of memory");
    pf_test_alloc_remove(); /* leaks: the ASan build checks */
  }
}

typedef struct worker {
  const pf_expr *e;
  const pf_tmpl_ctx *ctx;
  int bad;
} worker;

static void *run_worker(void *arg) {
  worker *w = arg;
  for (int i = 0; i < 20000; i++)
    if (!pf_expr_eval(w->e, w->ctx))
      w->bad++;
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  pf_expr *e = C("(a.c > 2 && a.d == 'x' && a.e != null) || a.b");
  pf_tmpl_ctx ctx = {.values = J("{\"a\":{\"c\":3,\"d\":\"x\",\"e\":[1]}}")};
  worker w[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (worker){e, &ctx, 0};
    assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].bad, 0);
  }
  pf_expr_free(e);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_literals_truthiness),
      T(test_precedence),
      T(test_short_circuit),
      T(test_operators_over_type_pairs),
      T(test_numbers),
      T(test_strings),
      T(test_string_escapes),
      T(test_deep_equality),
      T(test_paths),
      T(test_brace_paths),
      T(test_word_aliases),
      T(test_compile_errors),
      T(test_limits),
      T(test_vars),
      T(test_no_alloc_in_eval),
      T(test_oom),
      T(test_threads),
  };
  return cmocka_run_group_tests_name("template/expr", tests, NULL, NULL);
}

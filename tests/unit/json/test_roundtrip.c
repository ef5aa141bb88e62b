/* Round trips: parse -> pf_jw_value -> parse, double formatting, string
 * escaping, and the zero-allocation steady state of parse + write. */
#include "support.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/json.h>

typedef unsigned char u8;

/* Fixed-seed xorshift64: the same inputs on every run. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static uint32_t below(uint32_t n) { return (uint32_t)(next_u64() % n); }

/* A malloc'd copy of exactly n bytes, so ASan sees reads past the end. */
static char *exact_copy(const char *p, size_t n) {
  char *c = malloc(n);
  if (n) {
    assert_non_null(c);
    memcpy(c, p, n);
  }
  return c;
}

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Ordered structural equality, stricter than pf_json_equal (member order,
 * double bits); an integral REAL may come back as INT/UINT, which is how
 * the writer prints integral doubles below 2^53. */
static bool same_tree(const pf_json *a, const pf_json *b) {
  pf_json_type ta = pf_json_typeof(a), tb = pf_json_typeof(b);
  if (ta != tb)
    return ta == PF_JSON_REAL && (tb == PF_JSON_INT || tb == PF_JSON_UINT) && pf_json_equal(a, b);
  switch (ta) {
  case PF_JSON_NULL: return true;
  case PF_JSON_BOOL: return pf_json_bool_or(a, false) == pf_json_bool_or(b, false);
  case PF_JSON_INT: return pf_json_int_or(a, 0) == pf_json_int_or(b, 1);
  case PF_JSON_UINT: return pf_json_uint_or(a, 0) == pf_json_uint_or(b, 1);
  case PF_JSON_REAL: return same_bits(pf_json_num_or(a, 0), pf_json_num_or(b, 1));
  case PF_JSON_STRING: {
    size_t la, lb;
    const char *sa = pf_json_str(a, &la), *sb = pf_json_str(b, &lb);
    return la == lb && memcmp(sa, sb, la) == 0;
  }
  case PF_JSON_ARRAY:
  case PF_JSON_OBJECT: {
    if (pf_json_len(a) != pf_json_len(b))
      return false;
    pf_json_iter ia = pf_json_iter_init(a), ib = pf_json_iter_init(b);
    const pf_json *ka, *va, *kb, *vb;
    while (pf_json_iter_next(&ia, &ka, &va)) {
      if (!pf_json_iter_next(&ib, &kb, &vb) || (ka && !same_tree(ka, kb)) || !same_tree(va, vb))
        return false;
    }
    return true;
  }
  default: return false;
  }
}

/* Serializes v into out (reset first). */
static void write_value(pf_buf *out, const pf_json *v) {
  pf_buf_reset(out);
  pf_json_writer w;
  pf_jw_init(&w, out);
  pf_jw_value(&w, v);
  assert_false(out->failed);
  assert_null(memchr(out->data, '\n', out->len));
}

/* ------------------------------------------------------------------ */
/* Documents                                                           */

static const char *const documents[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
    "\"arguments\":{\"text\":\"h\\u00e9llo \\u4e16\\u754c \\ud83d\\ude00\"}}}",
    /* escapes */
    "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0000\", \"a\\u0000b\\u0000\", \"\\u001f\\u007f\\u0080\","
    " \"\\ud800\\udc00\", \"\\udbff\\udfff\", \"\\uD834\\uDD1E\", \"\\uFFFF\\uFFFE\\uFEFF\","
    " \"caf\\u00E9\", \"\\u2028\\u2029\", \"\\u0041\\u00410\"]",
    /* raw UTF-8: 2, 3 and 4 bytes, the extremes of each length */
    "[\"h\xC3\xA9llo\", \"\xE2\x82\xAC\", \"\xF0\x9D\x84\x9E\", \"\xF4\x8F\xBF\xBF\", \"\xC2\x80\","
    " \"\xDF\xBF\", \"\xE0\xA0\x80\", \"\xED\x9F\xBF\", \"\xEE\x80\x80\", \"\xEF\xBF\xBD\","
    " \"\xF0\x90\x80\x80\", \"\x7F\"]",
    /* keys with escapes and NULs */
    "{\"\":0,\"\\u0000\":1,\"a\\u0000\":2,\"\\n\":3,\"\\\"\":4,\"\xE2\x82\xAC\":5}",
    /* integers */
    "[-9223372036854775808, 9223372036854775807, 9223372036854775808, 18446744073709551615,"
    " 18446744073709551616, -9223372036854775809, 9007199254740991, 9007199254740992,"
    " 9007199254740993, -9007199254740993, 0, -0, 1, -1]",
    /* doubles */
    "[1e308, 5e-324, 0.1, -0.0, 0.0, 1.7976931348623157e308, 2.2250738585072014e-308,"
    " 2.2250738585072011e-308, 4.9406564584124654e-324, 9007199254740993.0, 0.30000000000000004,"
    " 123.456, -1.5e-7, 1E+2, 1e-400, -1e-400, 0e999999999, 1.0, -2.5, 3.0e10]",
    /* numbers with 30+ digits */
    "[123456789012345678901234567890, -123456789012345678901234567890.5e-10,"
    " 0.000000000000000000000000000000000000000000001234567890123456789,"
    " 1.00000000000000011102230246251565404236316680908203125,"
    " 1.00000000000000011102230246251565404236316680908203126,"
    " 3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803"
    "4825342117067982148086513282306647093844609550582231725359408128481117450284102701938521105"
    "559644622948954930381964428810975665933446128475648233786783165271201909145648566923460348610"
    "454326648213393607260249141273]",
    /* structure and whitespace */
    " \t\r\n{ \"a\" : [ ] , \"b\" : { } , \"c\" : [ [ [ ] ] , { \"d\" : null } ] , \"e\" : true ,"
    " \"f\" : false } \n",
    "\"lonely string\"",
    "-0.0",
};

static void test_documents(void **state) {
  (void)state;
  pf_arena *arena = pf_arena_create(0);
  pf_buf out = PF_BUF_INIT, out2 = PF_BUF_INIT;
  for (size_t i = 0; i < sizeof documents / sizeof *documents; i++) {
    size_t len = strlen(documents[i]);
    char *buf = exact_copy(documents[i], len);
    pf_json_error err = {0, 0, NULL};
    const pf_json *root = pf_json_parse(buf, len, arena, NULL, &err);
    if (!root)
      fail_msg("document %zu rejected at %zu: %s", i, err.offset, err.msg);
    write_value(&out, root);
    char *buf2 = exact_copy(out.data, out.len);
    const pf_json *back = pf_json_parse(buf2, out.len, arena, NULL, &err);
    if (!back)
      fail_msg("document %zu: output rejected at %zu: %s: %s", i, err.offset, err.msg,
               pf_buf_cstr(&out));
    if (!same_tree(root, back) || !pf_json_equal(root, back) || !pf_json_equal(back, root))
      fail_msg("document %zu changed in the round trip: %s", i, pf_buf_cstr(&out));
    /* The writer's output is canonical: writing it again is a fixed point. */
    write_value(&out2, back);
    if (out.len != out2.len || memcmp(out.data, out2.data, out.len) != 0)
      fail_msg("document %zu: second write differs:\n%s\n%s", i, pf_buf_cstr(&out),
               pf_buf_cstr(&out2));
    free(buf2);
    free(buf);
    pf_arena_reset(arena);
  }
  pf_buf_free(&out);
  pf_buf_free(&out2);
  pf_arena_destroy(arena);
}

/* Nesting deeper than the writer's built-in stack of 64 levels. */
static void test_deep(void **state) {
  (void)state;
  enum { DEPTH = PF_JSON_MAX_DEPTH_DEFAULT }; /* exactly the default limit */
  char text[2 * DEPTH + 64];
  size_t n = 0;
  for (int i = 0; i < DEPTH - 1; i++)
    text[n++] = i % 3 == 2 ? '{' : '[';
  memcpy(text + n, "[1]", 3);
  n += 3;
  for (int i = DEPTH - 2; i >= 0; i--)
    text[n++] = i % 3 == 2 ? '}' : ']';
  /* objects need keys: rewrite "{[" as "{\"\":[" */
  char doc[4 * DEPTH + 64];
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    doc[m++] = text[i];
    if (text[i] == '{') {
      memcpy(doc + m, "\"k\":", 4);
      m += 4;
    }
  }
  pf_arena *arena = pf_arena_create(0);
  pf_buf out = PF_BUF_INIT;
  char *buf = exact_copy(doc, m);
  pf_json_error err = {0, 0, NULL};
  const pf_json *root = pf_json_parse(buf, m, arena, NULL, &err);
  if (!root)
    fail_msg("deep document rejected at %zu: %s", err.offset, err.msg);
  write_value(&out, root);
  /* the input is compact and canonical */
  assert_int_equal(out.len, m);
  assert_memory_equal(out.data, doc, m);
  /* one level more than the default limit is an error */
  char *deeper = malloc(m + 2);
  assert_non_null(deeper);
  deeper[0] = '[';
  memcpy(deeper + 1, doc, m);
  deeper[m + 1] = ']';
  assert_null(pf_json_parse(deeper, m + 2, arena, NULL, &err));
  assert_int_equal(err.code, -PF_EJSON_DEPTH);
  free(deeper);
  free(buf);
  pf_buf_free(&out);
  pf_arena_destroy(arena);
}

/* Canonical compact text comes back byte for byte. */
static const char *const canonical[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],"
    "\"isError\":false}}",
    "[null,true,false,0,-1,9223372036854775807,-9223372036854775808,18446744073709551615]",
    "[0.1,-0.0,5e-324,1e+300,0.30000000000000004,123.456,1.7976931348623157e+308,"
    "2.2250738585072014e-308,1e+21,1.5e-07,-2.5,1e+16,9007199254740991,1.2345678901234568e+29]",
    "[\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\x7f\",\"h\xC3\xA9llo \xF0\x9F\x98\x80\"]",
    "{\"\":{},\"a\":[],\"b\":[[],{}],\"c\":{\"d\":{\"e\":[1,[2,[3]]]}}}",
    "\"\"",
    "[]",
    "{}",
    "-0.0",
    "1e-07",
};

static void test_canonical(void **state) {
  (void)state;
  pf_arena *arena = pf_arena_create(0);
  pf_buf out = PF_BUF_INIT;
  for (size_t i = 0; i < sizeof canonical / sizeof *canonical; i++) {
    size_t len = strlen(canonical[i]);
    char *buf = exact_copy(canonical[i], len);
    pf_json_error err = {0, 0, NULL};
    const pf_json *root = pf_json_parse(buf, len, arena, NULL, &err);
    if (!root)
      fail_msg("canonical %zu rejected at %zu: %s", i, err.offset, err.msg);
    write_value(&out, root);
    if (out.len != len || memcmp(out.data, canonical[i], len) != 0)
      fail_msg("canonical %zu not reproduced:\n  in:  %s\n  out: %s", i, canonical[i],
               pf_buf_cstr(&out));
    free(buf);
    pf_arena_reset(arena);
  }
  pf_buf_free(&out);
  pf_arena_destroy(arena);
}

/* Parsed number types and values. */
typedef struct num_case {
  const char *text;
  pf_json_type type;
  int64_t i;
  uint64_t u;
  double d;
} num_case;

static void test_number_values(void **state) {
  (void)state;
  const num_case cases[] = {
      {"-9223372036854775808", PF_JSON_INT, INT64_MIN, 0, 0},
      {"9223372036854775807", PF_JSON_INT, INT64_MAX, 0, 0},
      {"9223372036854775808", PF_JSON_UINT, 0, 9223372036854775808ull, 0},
      {"18446744073709551615", PF_JSON_UINT, 0, UINT64_MAX, 0},
      {"18446744073709551616", PF_JSON_REAL, 0, 0, 18446744073709551616.0},
      {"-9223372036854775809", PF_JSON_REAL, 0, 0, -9223372036854775808.0},
      {"9007199254740993", PF_JSON_INT, 9007199254740993ll, 0, 0},
      {"-9007199254740993", PF_JSON_INT, -9007199254740993ll, 0, 0},
      {"9007199254740993.0", PF_JSON_REAL, 0, 0, 9007199254740992.0},
      {"9007199254740995e0", PF_JSON_REAL, 0, 0, 9007199254740996.0},
      {"-0", PF_JSON_INT, 0, 0, 0},
      {"-0.0", PF_JSON_REAL, 0, 0, -0.0},
      {"-0e10", PF_JSON_REAL, 0, 0, -0.0},
      {"1e308", PF_JSON_REAL, 0, 0, 1e308},
      {"5e-324", PF_JSON_REAL, 0, 0, 0x1p-1074},
      {"4.9406564584124654e-324", PF_JSON_REAL, 0, 0, 0x1p-1074},
      {"2.4703282292062328e-324", PF_JSON_REAL, 0, 0, 0x1p-1074},
      {"2.4703282292062327e-324", PF_JSON_REAL, 0, 0, 0.0},
      {"0.1", PF_JSON_REAL, 0, 0, 0.1},
      {"1.7976931348623157e308", PF_JSON_REAL, 0, 0, DBL_MAX},
      {"1.7976931348623158e308", PF_JSON_REAL, 0, 0, DBL_MAX},
      {"2.2250738585072014e-308", PF_JSON_REAL, 0, 0, DBL_MIN},
      {"2.2250738585072011e-308", PF_JSON_REAL, 0, 0, 0x0.fffffffffffffp-1022},
      {"1e-400", PF_JSON_REAL, 0, 0, 0.0},
      {"-1e-400", PF_JSON_REAL, 0, 0, -0.0},
      {"123456789012345678901234567890", PF_JSON_REAL, 0, 0, 1.2345678901234568e29},
      {"100000000000000000000000000000000000000000", PF_JSON_REAL, 0, 0, 1e41},
      {"1.00000000000000011102230246251565404236316680908203125", PF_JSON_REAL, 0, 0, 1.0},
      {"1.00000000000000011102230246251565404236316680908203126", PF_JSON_REAL, 0, 0,
       1.0000000000000002},
      {"0.000000000000000000000000000000000000000000001", PF_JSON_REAL, 0, 0, 1e-45},
      {"123456789.125", PF_JSON_REAL, 0, 0, 123456789.125},
      {"1.5e-7", PF_JSON_REAL, 0, 0, 1.5e-7},
      {"0.000123", PF_JSON_REAL, 0, 0, 0.000123},
  };
  pf_arena *arena = pf_arena_create(0);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const num_case *c = &cases[i];
    size_t len = strlen(c->text);
    char *buf = exact_copy(c->text, len);
    pf_json_error err = {0, 0, NULL};
    const pf_json *v = pf_json_parse(buf, len, arena, NULL, &err);
    if (!v || pf_json_typeof(v) != c->type)
      fail_msg("%s: got %s type %d, expected type %d", c->text, v ? "value" : err.msg,
               (int)pf_json_typeof(v), (int)c->type);
    bool ok = c->type == PF_JSON_INT ? pf_json_int_or(v, 1) == c->i && pf_json_int_or(v, 2) == c->i
              : c->type == PF_JSON_UINT ? pf_json_uint_or(v, 1) == c->u
                                        : same_bits(pf_json_num_or(v, 1), c->d);
    if (!ok)
      fail_msg("%s: wrong value (%.17g)", c->text, pf_json_num_or(v, 0));
    free(buf);
  }
  /* A literal that rounds to infinity is an error. */
  static const char *const too_big[] = {"1e309", "-1.7976931348623159e308", "1e999999999999"};
  for (size_t i = 0; i < sizeof too_big / sizeof *too_big; i++) {
    size_t len = strlen(too_big[i]);
    char *buf = exact_copy(too_big[i], len);
    pf_json_error err = {0, 0, NULL};
    assert_null(pf_json_parse(buf, len, arena, NULL, &err));
    assert_int_equal(err.code, -PF_EJSON_NUMBER);
    free(buf);
  }
  /* A 400-digit literal (the parser's long-number path) is correctly
   * rounded: compare with strtod. */
  char big[420];
  big[0] = '3';
  big[1] = '.';
  for (int i = 2; i < 402; i++)
    big[i] = (char)('0' + (i * 7 + 3) % 10);
  char *buf = exact_copy(big, 402);
  big[402] = '\0';
  const pf_json *v = pf_json_parse(buf, 402, arena, NULL, NULL);
  assert_non_null(v);
  assert_true(same_bits(pf_json_num_or(v, 0), strtod(big, NULL)));
  free(buf);
  pf_arena_destroy(arena);
}

/* ------------------------------------------------------------------ */
/* Doubles                                                             */

/* Significant digits of a decimal number text ("0.00120" -> 2). */
static int sig_digits(const char *s) {
  const char *p = s, *first = NULL, *last = NULL;
  if (*p == '-')
    p++;
  for (; *p && *p != 'e' && *p != 'E'; p++) {
    if (*p >= '1' && *p <= '9') {
      if (!first)
        first = p;
      last = p;
    }
  }
  if (!first)
    return 1;
  int n = 0;
  for (p = first; p <= last; p++)
    n += *p != '.';
  return n;
}

/* The fewest significant digits of any decimal that strtod maps back to v:
 * at each precision, the candidates are the nearest decimal and its two
 * neighbours (the rounding interval is at most one ulp wide). */
static int shortest_digits(double v) {
  for (int p = 1; p <= 17; p++) {
    char s[64];
    snprintf(s, sizeof s, "%.*e", p - 1, fabs(v));
    char *e = strchr(s, 'e');
    int ex = atoi(e + 1);
    uint64_t m = 0;
    for (char *q = s; q < e; q++)
      if (*q != '.')
        m = m * 10 + (uint64_t)(*q - '0');
    for (int d = -1; d <= 1; d++) {
      char c[64];
      snprintf(c, sizeof c, "%" PRIu64 "e%d", m + (uint64_t)(int64_t)d, ex - (p - 1));
      if (strtod(c, NULL) == fabs(v))
        return p;
    }
  }
  return 17;
}

/* Checks the output for v: valid JSON number text, parses back to exactly
 * v (with strtod and with our parser), integers below 2^53 as integers. */
static void check_double(double v, pf_arena *arena) {
  char out[40];
  memset(out, 'x', sizeof out);
  size_t n = pf_json_fmt_double(v, out);
  if (n == 0 || n >= 32 || out[n] != '\0' || strlen(out) != n)
    fail_msg("%a: bad length %zu", v, n);
  if (!same_bits(strtod(out, NULL), v))
    fail_msg("%a (%.17g): \"%s\" does not round-trip through strtod", v, v, out);
  char *buf = exact_copy(out, n);
  pf_json_error err = {0, 0, NULL};
  const pf_json *j = pf_json_parse(buf, n, arena, NULL, &err);
  if (!j)
    fail_msg("%a: \"%s\" is not JSON: %s", v, out, err.msg);
  double back = pf_json_num_or(j, NAN);
  if (!same_bits(back, v) && !(pf_json_typeof(j) != PF_JSON_REAL && back == v))
    fail_msg("%a: \"%s\" parses back to %a", v, out, back);
  if (fabs(v) < 9007199254740992.0 && v == floor(v) && v != 0) {
    if (strspn(out + (out[0] == '-'), "0123456789") != n - (out[0] == '-'))
      fail_msg("%.17g: integral value printed as \"%s\"", v, out);
    if (pf_json_typeof(j) != PF_JSON_INT)
      fail_msg("%.17g: \"%s\" does not parse as an integer", v, out);
  }
  free(buf);
  pf_arena_reset(arena);
}

static void test_double_random_bits(void **state) {
  (void)state;
  pf_arena *arena = pf_arena_create(0);
  size_t finite = 0;
  for (int i = 0; i < 1000000; i++) {
    uint64_t bits = next_u64();
    double v;
    memcpy(&v, &bits, sizeof v);
    if (!isfinite(v))
      continue;
    finite++;
    check_double(v, arena);
    if (i % 64 == 0) { /* shortest, checked by brute force on a sample */
      char out[40];
      pf_json_fmt_double(v, out);
      if (sig_digits(out) > shortest_digits(v))
        fail_msg("%a: \"%s\" is not the shortest (%d digits suffice)", v, out, shortest_digits(v));
    }
  }
  print_message("%zu finite random doubles round-tripped\n", finite);
  assert_true(finite > 990000);
  pf_arena_destroy(arena);
}

/* Doubles with structure: integers, short decimals, subnormals, values
 * next to powers of ten. A decimal of k digits maps to a double whose
 * shortest form has at most k digits. */
static void test_double_structured(void **state) {
  (void)state;
  pf_arena *arena = pf_arena_create(0);
  for (int i = 0; i < 100000; i++) {
    /* integers below 2^53 */
    int64_t k = (int64_t)(next_u64() >> (11 + below(53)));
    if (below(2))
      k = -k;
    check_double((double)k, arena);
    char out[40];
    pf_json_fmt_double((double)k, out);
    char want[32];
    snprintf(want, sizeof want, "%" PRId64, k);
    if (strcmp(out, want) != 0)
      fail_msg("%s printed as %s", want, out);

    /* random decimals of 1..15 digits */
    int digits = 1 + (int)below(15);
    uint64_t m = 0;
    for (int d = 0; d < digits; d++)
      m = m * 10 + below(10);
    char dec[64];
    snprintf(dec, sizeof dec, "%s%" PRIu64 "e%d", below(2) ? "-" : "", m, (int)below(590) - 300);
    double v = strtod(dec, NULL);
    check_double(v, arena);
    pf_json_fmt_double(v, out);
    if (v != 0 && sig_digits(out) > digits)
      fail_msg("%s: \"%s\" is not the shortest (at most %d digits)", dec, out, digits);

    /* subnormals */
    uint64_t sb = next_u64() >> (12 + below(52));
    double sub;
    memcpy(&sub, &sb, sizeof sub);
    check_double(sub, arena);

    /* neighbours of powers of ten */
    double p10 = pow(10, (int)below(600) - 300);
    check_double(nextafter(p10, 0), arena);
    check_double(nextafter(p10, INFINITY), arena);
  }
  pf_arena_destroy(arena);
}

static void test_double_shortest_known(void **state) {
  (void)state;
  const struct {
    double v;
    const char *a, *b; /* accepted spellings */
  } cases[] = {
      {0.1, "0.1", NULL},
      {0x1p-1074, "5e-324", NULL},
      {1e300, "1e+300", "1e300"},
      {0.1 + 0.2, "0.30000000000000004", NULL},
      {123.456, "123.456", NULL},
      {-0.0, "-0.0", "-0"},
      {0.0, "0", "0.0"},
      {5.0, "5", NULL},
      {-42.0, "-42", NULL},
      {9007199254740991.0, "9007199254740991", NULL},
      {DBL_MAX, "1.7976931348623157e+308", "1.7976931348623157e308"},
      {DBL_MIN, "2.2250738585072014e-308", NULL},
      {1e21, "1e+21", "1e21"},
      {1.5e-7, "1.5e-07", "1.5e-7"},
      {123456789.125, "123456789.125", NULL},
      {0.000123, "0.000123", "1.23e-04"},
      {1e23, "1e+23", "1e23"},
      {2.5, "2.5", NULL},
      {-0.5, "-0.5", NULL},
      {0.05, "0.05", NULL},
      {1e-5, "0.00001", "1e-05"},
      {-0.00012, "-0.00012", NULL},
      {10.25, "10.25", NULL},
      {3.5, "3.5", NULL},
      {999999.999, "999999.999", NULL},
      {0x1p-24, "5.960464477539063e-08", "5.960464477539063e-8"}, /* power of two */
      {0x1p89, "6.189700196426902e+26", "6.189700196426902e26"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char out[40];
    pf_json_fmt_double(cases[i].v, out);
    if (strcmp(out, cases[i].a) != 0 && (!cases[i].b || strcmp(out, cases[i].b) != 0))
      fail_msg("%.17g printed as \"%s\", expected \"%s\"", cases[i].v, out, cases[i].a);
  }
  char out[40];
  assert_int_equal(pf_json_fmt_double(NAN, out), 4);
  assert_string_equal(out, "null");
  pf_json_fmt_double(-INFINITY, out);
  assert_string_equal(out, "null");
}

/* json.h promises "the shortest decimal that parses back to exactly v".
 * Powers of two have an asymmetric rounding interval (the gap below is
 * half the gap above), where the nearest 16-digit decimal can fall outside
 * the interval while the other neighbour is inside: e.g. 2^-24 =
 * 5.9604644775390625e-08 has the 16-digit form 5.960464477539063e-08. */
static void test_double_shortest_powers_of_two(void **state) {
  (void)state;
  int bad = 0;
  for (int e = -1074; e <= 1023; e++) {
    double v = ldexp(1.0, e);
    char out[40];
    pf_json_fmt_double(v, out);
    int got = sig_digits(out), want = shortest_digits(v);
    if (got > want) {
      if (bad < 5)
        print_message("BUG: 2^%d printed as \"%s\" (%d digits); shortest has %d\n", e, out, got,
                      want);
      bad++;
    }
  }
  if (bad)
    print_message("%d of 2098 powers of two are not printed in shortest form\n", bad);
  assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ */
/* String escaping                                                     */

/* Reference for the "substitution of maximal subparts": which byte
 * sequences are prefixes of a well-formed UTF-8 character, derived by
 * encoding every Unicode scalar value (not from a table of byte ranges, so
 * it is independent of the implementation under test). */
static u8 lead_ok[256]; /* first byte of a multi-byte character */
static u8 *pre2, *pre3; /* 2- and 3-byte prefixes: 1 prefix, 2 complete */

static int encode_cp(uint32_t cp, u8 *o) {
  if (cp < 0x80) {
    o[0] = (u8)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (u8)(0xC0 | cp >> 6);
    o[1] = (u8)(0x80 | (cp & 63));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (u8)(0xE0 | cp >> 12);
    o[1] = (u8)(0x80 | (cp >> 6 & 63));
    o[2] = (u8)(0x80 | (cp & 63));
    return 3;
  }
  o[0] = (u8)(0xF0 | cp >> 18);
  o[1] = (u8)(0x80 | (cp >> 12 & 63));
  o[2] = (u8)(0x80 | (cp >> 6 & 63));
  o[3] = (u8)(0x80 | (cp & 63));
  return 4;
}

static int ref_setup(void **state) {
  (void)state;
  pre2 = calloc(1, 1 << 16);
  pre3 = calloc(1, 1 << 24);
  if (!pre2 || !pre3)
    return -1;
  for (uint32_t cp = 0x80; cp <= 0x10FFFF; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF)
      continue;
    u8 b[4];
    int n = encode_cp(cp, b);
    lead_ok[b[0]] = 1;
    uint32_t k2 = (uint32_t)b[0] << 8 | b[1];
    pre2[k2] = n == 2 ? 2 : (pre2[k2] ? pre2[k2] : 1);
    if (n >= 3) {
      uint32_t k3 = k2 << 8 | b[2];
      pre3[k3] = n == 3 ? 2 : (pre3[k3] ? pre3[k3] : 1);
    }
  }
  return 0;
}

static int ref_teardown(void **state) {
  (void)state;
  free(pre2);
  free(pre3);
  return 0;
}

/* Length of the well-formed character at s (> 0), or minus the length of
 * the maximal prefix of one (< 0), for s[0] >= 0x80. */
static int ref_char(const u8 *s, size_t n) {
  if (!lead_ok[s[0]])
    return -1;
  if (n < 2 || !pre2[(uint32_t)s[0] << 8 | s[1]])
    return -1;
  if (pre2[(uint32_t)s[0] << 8 | s[1]] == 2)
    return 2;
  uint32_t k3 = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8;
  if (n < 3 || !pre3[k3 | s[2]])
    return -2;
  if (pre3[k3 | s[2]] == 2)
    return 3;
  /* every 3-byte prefix of a 4-byte character extends with any 80..BF */
  if (n < 4 || (s[3] & 0xC0) != 0x80)
    return -3;
  return 4;
}

/* s with every maximal invalid subpart replaced by U+FFFD; returns the
 * length written to out (at most 3 * n). */
static size_t ref_sanitize(const u8 *s, size_t n, u8 *out, bool *valid) {
  size_t o = 0;
  *valid = true;
  for (size_t i = 0; i < n;) {
    if (s[i] < 0x80) {
      out[o++] = s[i++];
      continue;
    }
    int k = ref_char(s + i, n - i);
    if (k > 0) {
      memcpy(out + o, s + i, (size_t)k);
      o += (size_t)k;
      i += (size_t)k;
    } else {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i += (size_t)-k;
      *valid = false;
    }
  }
  return o;
}

/* Random bytes with a bias towards the interesting ones. */
static size_t random_bytes(u8 *b, size_t len) {
  static const u8 specials[] = {'"',  '\\', '/',  0,    '\n', '\r', '\t', '\b', '\f', 0x1F,
                                0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF,
                                0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x9F, 0x8F, 0x90};
  size_t n = 0;
  int mode = (int)below(4);
  while (n < len) {
    uint32_t r = below(100);
    if (mode == 0 || r < 15) {
      b[n++] = (u8)next_u64();
    } else if (r < 35) {
      b[n++] = specials[below(sizeof specials)];
    } else if (r < 60) {
      b[n++] = (u8)(0x20 + below(0x5F));
    } else if (n + 4 <= len) {
      /* a well-formed character, sometimes truncated */
      static const uint32_t edges[] = {0x80,   0x7FF,  0x800,   0xD7FF,   0xE000,
                                       0xFFFD, 0xFFFF, 0x10000, 0x10FFFF, 0x1F600};
      uint32_t cp = below(4) ? 0x80 + below(0x10FFFF - 0x80) : edges[below(10)];
      if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xE9;
      u8 e[4];
      int k = encode_cp(cp, e);
      if (below(8) == 0 && k > 1)
        k = 1 + (int)below((uint32_t)k - 1);
      memcpy(b + n, e, (size_t)k);
      n += (size_t)k;
    } else {
      b[n++] = (u8)(0x20 + below(0x5F));
    }
  }
  return n;
}

/* Escapes s, wraps it in quotes, parses it and compares the string with
 * the reference replacement (and with s itself when s is valid UTF-8). */
static void check_escape(const u8 *s, size_t n, pf_arena *arena, pf_buf *out, u8 *ref) {
  pf_buf_reset(out);
  pf_buf_putc(out, '"');
  pf_json_escape(out, (const char *)s, n);
  pf_buf_putc(out, '"');
  assert_false(out->failed);
  for (size_t i = 0; i < out->len; i++)
    if ((u8)out->data[i] < 0x20)
      fail_msg("raw control byte 0x%02x in escaped output at %zu", (u8)out->data[i], i);
  char *buf = exact_copy(out->data, out->len);
  pf_json_error err = {0, 0, NULL};
  const pf_json *v = pf_json_parse(buf, out->len, arena, NULL, &err);
  if (!v || pf_json_typeof(v) != PF_JSON_STRING) {
    fprintf(stderr, "input:");
    for (size_t i = 0; i < n && i < 200; i++)
      fprintf(stderr, " %02x", s[i]);
    fail_msg("\nescaped output rejected at %zu: %s", err.offset,
             err.msg ? err.msg : "not a string");
  }
  bool valid;
  size_t rn = ref_sanitize(s, n, ref, &valid);
  size_t got_len;
  const char *got = pf_json_str(v, &got_len);
  if (got_len != rn || memcmp(got, ref, rn) != 0) {
    fprintf(stderr, "input:");
    for (size_t i = 0; i < n && i < 200; i++)
      fprintf(stderr, " %02x", s[i]);
    fail_msg("\nescape + parse gives %zu bytes, reference replacement %zu", got_len, rn);
  }
  if (valid && (got_len != n || memcmp(got, s, n) != 0))
    fail_msg("valid UTF-8 of %zu bytes not preserved", n);
  free(buf);
  pf_arena_reset(arena);
}

static void test_escape_random(void **state) {
  (void)state;
  pf_arena *arena = pf_arena_create(0);
  pf_buf out = PF_BUF_INIT;
  enum { MAXLEN = 20000 };
  u8 *s = malloc(MAXLEN + 8), *ref = malloc(3 * (MAXLEN + 8));
  assert_non_null(s);
  assert_non_null(ref);
  size_t valid_count = 0;
  for (int i = 0; i < 30000; i++) {
    /* mostly short strings; some long ones cross the escaper's 4 KiB
     * chunks with multi-byte characters straddling the boundary */
    size_t len = i % 500 == 0 ? 4000 + below(MAXLEN - 4000) : below(64);
    size_t n = random_bytes(s, len);
    /* exact-size input so ASan sees reads past the end */
    u8 *in = (u8 *)exact_copy((const char *)s, n);
    bool valid;
    ref_sanitize(in, n, ref, &valid);
    valid_count += valid;
    check_escape(in, n, arena, &out, ref);
    free(in);
  }
  print_message("escaped 30000 random strings, %zu of them valid UTF-8\n", valid_count);
  assert_true(valid_count > 1000);
  /* every 1- and 2-byte string */
  for (unsigned a = 0; a < 256; a++) {
    for (unsigned b = 0; b < 257; b++) {
      u8 in2[2] = {(u8)a, (u8)b};
      check_escape(in2, b == 256 ? 1 : 2, arena, &out, ref);
    }
  }
  free(s);
  free(ref);
  pf_buf_free(&out);
  pf_arena_destroy(arena);
}

static void test_escape_cases(void **state) {
  (void)state;
  const struct {
    const char *in;
    size_t len;
    const char *want;
  } cases[] = {
#define C(in, want) {in, sizeof(in) - 1, want}
      C("\xE0\xA0x", "\xEF\xBF\xBDx"),
      C("\xE0\xA0", "\xEF\xBF\xBD"),
      C("\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"),
      C("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"),
      C("\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"),
      C("\xF0\x9F\x98", "\xEF\xBF\xBD"),
      C("\xF0\x9F\x98x", "\xEF\xBF\xBDx"),
      C("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"),
      C("\x80", "\xEF\xBF\xBD"),
      C("\xFF\xFE", "\xEF\xBF\xBD\xEF\xBF\xBD"),
      C("\xF5\x80", "\xEF\xBF\xBD\xEF\xBF\xBD"),
      C("a\xC3", "a\xEF\xBF\xBD"),
      C("\xC3\xA9", "\xC3\xA9"),
      C("\xE2\x82", "\xEF\xBF\xBD"),
      C("\xE2\x82\xAC", "\xE2\x82\xAC"),
      C("\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"),
      /* The Unicode Standard's example (section 3.9, table 3-8):
       * 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 */
      C("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
        "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
        "b\xEF\xBF\xBD"
        "c\xEF\xBF\xBD\xEF\xBF\xBD"
        "d"),
      C("\"", "\\\""),
      C("\\", "\\\\"),
      C("/", "/"),
      C("\n\r\t\b\f", "\\n\\r\\t\\b\\f"),
      C("\x01\x1f", "\\u0001\\u001f"),
      C("\0", "\\u0000"),
      C("\x7f", "\x7f"),
      C("", ""),
#undef C
  };
  pf_buf out = PF_BUF_INIT;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    pf_buf_reset(&out);
    char *in = exact_copy(cases[i].in, cases[i].len);
    pf_json_escape(&out, in, cases[i].len);
    free(in);
    size_t wl = strlen(cases[i].want);
    if (out.len != wl || memcmp(out.data, cases[i].want, wl) != 0)
      fail_msg("case %zu: escape gave \"%s\", expected \"%s\"", i, pf_buf_cstr(&out),
               cases[i].want);
  }
  pf_buf_free(&out);
}

/* ------------------------------------------------------------------ */
/* Zero allocations in the steady state                                */

static const char alloc_doc[] =
    "{\"jsonrpc\":\"2.0\",\"id\":123456789,\"method\":\"tools/call\","
    "\"params\":{\"name\":\"search\",\"arguments\":{"
    "\"query\":\"caf\\u00e9 \\\"quoted\\\" \\n newline \\ud83d\\ude00\",\"limit\":50,"
    "\"threshold\":0.75,\"tiny\":2.2250738585072014e-308,\"huge\":1.7976931348623157e308,"
    "\"big\":18446744073709551615,\"neg\":-9223372036854775808,\"flags\":[true,false,null],"
    "\"nested\":[[1,2,[3,4,[5,6]]],{\"a\":{\"b\":{\"c\":\"d\"}}}],"
    "\"many\":{\"k01\":1,\"k02\":2,\"k03\":3,\"k04\":4,\"k05\":5,\"k06\":6,\"k07\":7,\"k08\":8,"
    "\"k09\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,"
    "\"k17\":17,\"k18\":18,\"k19\":19,\"k20\":20},"
    "\"text\":\"The quick brown fox jumps over the lazy dog. \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 "
    "The quick brown fox jumps over the lazy dog.\","
    "\"list\":[0.1,0.2,0.30000000000000004,1e-7,1.5e300,-0.0,123.456,1e21,3.141592653589793],"
    "\"escapes\":\"\\t\\r\\b\\f\\/\\\\\\u0001\\u001f\"},"
    "\"_meta\":{\"progressToken\":\"tok-1\",\"padding\":"
    "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}}";

static void test_zero_allocations(void **state) {
  (void)state;
  size_t len = sizeof alloc_doc - 1;
  assert_in_range(len, 1000, 1200);
  char *work = malloc(len); /* the test's own buffer: not through the seam */
  assert_non_null(work);
  pf_test_alloc_install();
  pf_arena *arena = pf_arena_create(0);
  pf_buf out = PF_BUF_INIT;
  size_t first_len = 0;
  size_t before = 0;
  for (int round = 0; round < 1003; round++) {
    if (round == 3)
      before = pf_test_alloc_count(); /* after warm-up */
    memcpy(work, alloc_doc, len);
    pf_arena_reset(arena);
    pf_json_error err = {0, 0, NULL};
    const pf_json *root = pf_json_parse(work, len, arena, NULL, &err);
    if (!root)
      fail_msg("rejected at %zu: %s", err.offset, err.msg);
    pf_buf_reset(&out);
    pf_json_writer w;
    pf_jw_init(&w, &out);
    pf_jw_value(&w, root);
    assert_false(out.failed);
    if (round == 0)
      first_len = out.len;
    assert_int_equal(out.len, first_len);
  }
  size_t after = pf_test_alloc_count();
  pf_buf_free(&out);
  pf_arena_destroy(arena);
  pf_test_alloc_remove();
  free(work);
  assert_true(before > 0); /* the warm-up did allocate: the seam is counting */
  if (after != before)
    fail_msg("%zu allocations in 1000 steady-state parse + write rounds", after - before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_documents),
      cmocka_unit_test(test_deep),
      cmocka_unit_test(test_canonical),
      cmocka_unit_test(test_number_values),
      cmocka_unit_test(test_double_random_bits),
      cmocka_unit_test(test_double_structured),
      cmocka_unit_test(test_double_shortest_known),
      cmocka_unit_test(test_double_shortest_powers_of_two),
      cmocka_unit_test(test_escape_random),
      cmocka_unit_test(test_escape_cases),
      cmocka_unit_test(test_zero_allocations),
  };
  return cmocka_run_group_tests_name("json_roundtrip", tests, ref_setup, ref_teardown);
}

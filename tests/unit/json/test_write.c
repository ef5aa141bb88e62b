/* Writer unit tests: structure, commas, escaping, numbers, raw splicing. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <pforge/json.h>

#include "json/internal.h"

static pf_buf out;
static pf_json_writer w;

static int setup(void **state) {
  (void)state;
  pf_buf_reset(&out);
  pf_jw_init(&w, &out);
  return 0;
}
static int teardown_all(void **state) {
  (void)state;
  pf_buf_free(&out);
  return 0;
}

#define EXPECT(lit)                                                                                \
  do {                                                                                             \
    assert_false(out.failed);                                                                      \
    assert_string_equal(pf_buf_cstr(&out), lit);                                                   \
  } while (0)

static void test_structure(void **state) {
  (void)state;
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "jsonrpc");
  pf_jw_strz(&w, "2.0");
  PF_JW_KEY(&w, "id");
  pf_jw_int(&w, 42);
  PF_JW_KEY(&w, "result");
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "content");
  pf_jw_arr_begin(&w);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "type");
  pf_jw_strz(&w, "text");
  PF_JW_KEY(&w, "text");
  pf_jw_strz(&w, "5");
  pf_jw_obj_end(&w);
  pf_jw_arr_end(&w);
  PF_JW_KEY(&w, "isError");
  pf_jw_bool(&w, false);
  pf_jw_obj_end(&w);
  pf_jw_obj_end(&w);
  EXPECT("{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"5\"}],"
         "\"isError\":false}}");
}

static void test_arrays_and_empties(void **state) {
  (void)state;
  pf_jw_arr_begin(&w);
  pf_jw_arr_begin(&w);
  pf_jw_arr_end(&w);
  pf_jw_obj_begin(&w);
  pf_jw_obj_end(&w);
  pf_jw_null(&w);
  pf_jw_bool(&w, true);
  pf_jw_strz(&w, NULL);
  pf_jw_str(&w, "", 0);
  pf_jw_raw(&w, "{\"pre\":[1,2]}", 13);
  pf_jw_int(&w, INT64_MIN);
  pf_jw_int(&w, INT64_MAX);
  pf_jw_uint(&w, UINT64_MAX);
  pf_jw_int(&w, 0);
  pf_jw_int(&w, -7);
  pf_jw_arr_end(&w);
  EXPECT("[[],{},null,true,null,\"\",{\"pre\":[1,2]},-9223372036854775808,9223372036854775807,"
         "18446744073709551615,0,-7]");
}

static void test_escaping(void **state) {
  (void)state;
  pf_jw_arr_begin(&w);
  pf_jw_strz(&w, "q\" b\\ / nl\n cr\r tab\t bs\b ff\f");
  pf_jw_str(&w, "\x00\x01\x1f\x7f", 4);
  pf_jw_strz(&w, "h\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
  pf_jw_arr_end(&w);
  EXPECT("[\"q\\\" b\\\\ / nl\\n cr\\r tab\\t bs\\b ff\\f\",\"\\u0000\\u0001\\u001f\x7f\","
         "\"h\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\"]");
}

static void test_invalid_utf8_replaced(void **state) {
  (void)state;
  static const struct {
    const char *in;
    const char *out;
  } cases[] = {
      {"a\x80z", "a\xEF\xBF\xBDz"},
      {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"\xE0\xA0x", "\xEF\xBF\xBDx"},                       /* truncated: one U+FFFD */
      {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* encoded surrogate */
      {"\xF0\x9F\x98", "\xEF\xBF\xBD"},                     /* truncated 4-byte at end */
      {"\xFF\xFE", "\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"ok\xe6\x97\xa5\xe6\x97", "ok\xe6\x97\xa5\xEF\xBF\xBD"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pf_buf_reset(&out);
    pf_json_escape(&out, cases[i].in, strlen(cases[i].in));
    EXPECT(cases[i].out);
  }
}

static void test_long_string_chunks(void **state) {
  (void)state;
  /* longer than one escape chunk, with multi-byte characters straddling
   * the chunk limits and control characters that expand 6x */
  static char in[20000];
  size_t n = 0;
  while (n + 4 < sizeof in) {
    in[n++] = 'x';
    memcpy(in + n, "\xe2\x82\xac", 3); /* euro sign */
    n += 3;
    if (n % 7 == 0)
      in[n++] = '\x01';
  }
  pf_jw_str(&w, in, n);
  assert_false(out.failed);
  pf_arena *a = pf_arena_create(0);
  pf_json_error err;
  const pf_json *v = pf_json_parse_copy(out.data, out.len, a, NULL, &err);
  assert_non_null(v);
  size_t len;
  const char *s = pf_json_str(v, &len);
  assert_int_equal(len, n);
  assert_memory_equal(s, in, n);
  pf_arena_destroy(a);
}

static void test_keys_escaped(void **state) {
  (void)state;
  pf_jw_obj_begin(&w);
  pf_jw_key(&w, "a\"b", 3);
  pf_jw_int(&w, 1);
  pf_jw_key(&w, "\n", 1);
  pf_jw_arr_begin(&w);
  pf_jw_arr_end(&w);
  pf_jw_obj_end(&w);
  EXPECT("{\"a\\\"b\":1,\"\\n\":[]}");
}

static void test_doubles(void **state) {
  (void)state;
  static const struct {
    double v;
    const char *s;
  } cases[] = {
      {1.5, "1.5"},
      {2.0, "2"},
      {-3.0, "-3"},
      {0.0, "0"},
      {-0.0, "-0.0"},
      {0.1, "0.1"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1e21, "1e+21"},
      {9007199254740991.0, "9007199254740991"},
      {9007199254740992.0, "9007199254740992"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {123.456, "123.456"},
      {1e-7, "1e-07"},
  };
  char buf[40];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = pf_json_fmt_double(cases[i].v, buf);
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, cases[i].s);
  }
  pf_jw_arr_begin(&w);
  pf_jw_double(&w, NAN);
  pf_jw_double(&w, INFINITY);
  pf_jw_double(&w, -INFINITY);
  pf_jw_double(&w, 0.25);
  pf_jw_arr_end(&w);
  EXPECT("[null,null,null,0.25]");
}

static void test_value_roundtrip(void **state) {
  (void)state;
  const char *doc = "{\"a\":[1,-2,3.5,\"x\\ny\",true,false,null,{},[]],\"b\":{\"c\":{\"d\":[[[]]]}},"
                    "\"u\":18446744073709551615,\"e\":\"\\u0000\"}";
  pf_arena *a = pf_arena_create(0);
  const pf_json *v = pf_json_parse_copy(doc, strlen(doc), a, NULL, NULL);
  assert_non_null(v);
  pf_jw_value(&w, v);
  EXPECT(doc);
  /* a subtree, spliced inside other output */
  pf_buf_reset(&out);
  pf_jw_init(&w, &out);
  pf_jw_arr_begin(&w);
  pf_jw_value(&w, pf_json_get(v, "b"));
  pf_jw_value(&w, NULL);
  pf_jw_value(&w, pf_json_get(v, "u"));
  pf_jw_arr_end(&w);
  EXPECT("[{\"c\":{\"d\":[[[]]]}},null,18446744073709551615]");
  pf_arena_destroy(a);
}

static void test_oom_sticky(void **state) {
  (void)state;
  pf_buf b = PF_BUF_INIT;
  pf_json_writer w2;
  pf_jw_init(&w2, &b);
  pf_test_alloc_install();
  pf_test_alloc.fail_after = 0;
  pf_jw_obj_begin(&w2);
  PF_JW_KEY(&w2, "k");
  pf_jw_strz(&w2, "value");
  pf_jw_obj_end(&w2);
  assert_true(b.failed);
  assert_int_equal(b.len, 0);
  pf_test_alloc_remove();
  pf_buf_free(&b);
}

static void test_no_alloc_steady_state(void **state) {
  (void)state;
  pf_test_alloc_install();
  for (int i = 0; i < 100; i++) {
    if (i == 1)
      pf_test_alloc.mallocs = pf_test_alloc.reallocs = 0;
    pf_buf_reset(&out);
    pf_jw_init(&w, &out);
    pf_jw_obj_begin(&w);
    PF_JW_KEY(&w, "text");
    pf_jw_strz(&w, "some \"text\" that needs escaping\n");
    PF_JW_KEY(&w, "n");
    pf_jw_double(&w, 3.25);
    pf_jw_obj_end(&w);
  }
  assert_int_equal(pf_test_alloc_count(), 0);
  pf_test_alloc_remove();
}

/* pf__json_fmt_u64 writes in place after counting digits: every digit
 * count, at and around each power of ten, against printf. */
static void test_fmt_u64_digit_counts(void **state) {
  (void)state;
  uint64_t p = 1;
  for (int e = 0; e <= 19; e++, p *= 10) {
    uint64_t vals[] = {p - 1, p, p + 1, p * 5 + 3};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
      if (e == 19 && i == 3)
        continue; /* 5e19 + 3 overflows */
      char got[24], want[24];
      memset(got, 'x', sizeof got);
      size_t n = pf__json_fmt_u64(vals[i], got);
      int wn = snprintf(want, sizeof want, "%llu", (unsigned long long)vals[i]);
      assert_int_equal(n, (size_t)wn);
      assert_memory_equal(got, want, n);
      assert_int_equal(got[n], 'x'); /* nothing written past the digits */
    }
  }
  char got[24];
  assert_int_equal(pf__json_fmt_u64(UINT64_MAX, got), 20);
  assert_memory_equal(got, "18446744073709551615", 20);
}

/* Short strings take an 8-bytes-at-a-time test before the general escape:
 * every byte value at every position of strings of 1..20 bytes comes out
 * of pf_jw_str exactly as pf_json_escape writes it. */
static void test_short_strings_every_byte(void **state) {
  (void)state;
  pf_buf a = PF_BUF_INIT, b = PF_BUF_INIT;
  char s[24];
  for (size_t len = 1; len <= 20; len++)
    for (size_t pos = 0; pos < len; pos++)
      for (int c = 0; c < 256; c++) {
        for (size_t i = 0; i < len; i++)
          s[i] = (char)('a' + i);
        s[pos] = (char)c;
        pf_buf_reset(&a);
        pf_buf_reset(&b);
        pf_json_writer wa;
        pf_jw_init(&wa, &a);
        pf_jw_str(&wa, s, len);
        pf_buf_putc(&b, '"');
        pf_json_escape(&b, s, len);
        pf_buf_putc(&b, '"');
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        /* as a key too */
        pf_buf_reset(&a);
        pf_jw_init(&wa, &a);
        pf_jw_key(&wa, s, len);
        assert_int_equal(a.len, b.len + 1);
        assert_memory_equal(a.data, b.data, b.len);
      }
  pf_buf_free(&a);
  pf_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_structure, setup),
      cmocka_unit_test_setup(test_arrays_and_empties, setup),
      cmocka_unit_test_setup(test_escaping, setup),
      cmocka_unit_test_setup(test_invalid_utf8_replaced, setup),
      cmocka_unit_test_setup(test_long_string_chunks, setup),
      cmocka_unit_test_setup(test_keys_escaped, setup),
      cmocka_unit_test_setup(test_doubles, setup),
      cmocka_unit_test_setup(test_value_roundtrip, setup),
      cmocka_unit_test_setup(test_oom_sticky, setup),
      cmocka_unit_test_setup(test_no_alloc_steady_state, setup),
      cmocka_unit_test(test_fmt_u64_digit_counts),
      cmocka_unit_test(test_short_strings_every_byte),
  };
  return cmocka_run_group_tests_name("json/write", tests, NULL, teardown_all);
}

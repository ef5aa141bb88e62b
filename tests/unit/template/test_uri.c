/* RFC 6570 level-1 URI templates: compile errors, expansion, matching. */
#include "support.h"

#include <stdio.h>
#include <string.h>

#include <pforge/arena.h>
#include <pforge/error.h>

#include "template/uri.h"

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

static pf_uritmpl *C(const char *text) {
  pf_buf_reset(&err);
  pf_uritmpl *t = pf_uritmpl_compile(text, strlen(text), &err);
  if (!t)
    fail_msg("compile failed: %s: %s", text, pf_buf_cstr(&err));
  return t;
}

static void test_compile(void **state) {
  (void)state;
  pf_uritmpl *t = C("notes://{folder}/{id}");
  assert_int_equal(pf_uritmpl_nvars(t), 2);
  assert_string_equal(pf_uritmpl_var(t, 0), "folder");
  assert_string_equal(pf_uritmpl_var(t, 1), "id");
  assert_null(pf_uritmpl_var(t, 2));
  pf_uritmpl_free(t);

  t = C("{a.b}-{x%20y}-{_9}");
  assert_int_equal(pf_uritmpl_nvars(t), 3);
  assert_string_equal(pf_uritmpl_var(t, 0), "a.b");
  assert_string_equal(pf_uritmpl_var(t, 1), "x%20y");
  assert_string_equal(pf_uritmpl_var(t, 2), "_9");
  pf_uritmpl_free(t);

  t = C("plain://no/vars");
  assert_int_equal(pf_uritmpl_nvars(t), 0);
  pf_uritmpl_free(t);
  pf_uritmpl_free(NULL);
  assert_int_equal(pf_uritmpl_nvars(NULL), 0);
  assert_null(pf_uritmpl_var(NULL, 0));
}

static void test_compile_errors(void **state) {
  (void)state;
  static const struct {
    const char *text, *msg;
  } cases[] = {
      {"x://{id", "byte 4: unclosed '{'"},
      {"x://{", "byte 4: unclosed '{'"},
      {"x://}", "byte 4: '}' without a matching '{'"},
      {"x://{a}}", "byte 7: '}' without a matching '{'"},
      {"x://{}", "byte 4: empty variable name"},
      {"x://{+path}", "byte 5: operator '+' is not supported: only level 1 templates ({var}) are "
                      "supported"},
      {"x://{#frag}", "byte 5: operator '#' is not supported: only level 1 templates ({var}) are "
                      "supported"},
      {"x://{?q}", "byte 5: operator '?' is not supported: only level 1 templates ({var}) are "
                   "supported"},
      {"x://{/seg}", "byte 5: operator '/' is not supported: only level 1 templates ({var}) are "
                     "supported"},
      {"x://{.ext}", "byte 5: operator '.' is not supported: only level 1 templates ({var}) are "
                     "supported"},
      {"x://{;p}", "byte 5: operator ';' is not supported: only level 1 templates ({var}) are "
                   "supported"},
      {"x://{&q}", "byte 5: operator '&' is not supported: only level 1 templates ({var}) are "
                   "supported"},
      {"x://{=q}", "byte 5: operator '=' is not supported: only level 1 templates ({var}) are "
                   "supported"},
      {"x://{a,b}", "byte 6: a variable list is not supported: only level 1 templates ({var}) "
                    "are supported"},
      {"x://{a:3}", "byte 6: modifier ':' is not supported: only level 1 templates ({var}) are "
                    "supported"},
      {"x://{a*}", "byte 6: modifier '*' is not supported: only level 1 templates ({var}) are "
                   "supported"},
      {"x://{a-b}", "byte 6: invalid character '-' in variable name"},
      {"x://{a b}", "byte 6: invalid character ' ' in variable name"},
      {"x://{a{b}", "byte 6: invalid character '{' in variable name"},
      {"x://{a.}", "byte 6: '.' in a variable name must sit between two name characters"},
      {"x://{a..b}", "byte 6: '.' in a variable name must sit between two name characters"},
      {"x://{a%2}", "byte 6: '%' in a variable name must be followed by two hex digits"},
      {"x://{a%zz}", "byte 6: '%' in a variable name must be followed by two hex digits"},
      {"x://{id}/{id}", "byte 10: duplicate variable 'id'"},
      {"x://{a}{b}", "byte 7: variables 'a' and 'b' have no literal between them, so a match "
                     "would be ambiguous"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pf_buf_reset(&err);
    pf_uritmpl *t = pf_uritmpl_compile(cases[i].text, strlen(cases[i].text), &err);
    if (t || strcmp(pf_buf_cstr(&err), cases[i].msg) != 0)
      fail_msg("case %zu (%s): got '%s'", i, cases[i].text, t ? "success" : pf_buf_cstr(&err));
  }
  char many[512] = "x:";
  for (int i = 0; i <= PF_URITMPL_MAX_VARS; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "{v%d}/", i);
  pf_buf_reset(&err);
  assert_null(pf_uritmpl_compile(many, strlen(many), &err));
  assert_non_null(strstr(pf_buf_cstr(&err), "more than 32 variables"));
  assert_null(pf_uritmpl_compile("{", 1, NULL));
}

static void test_is_template(void **state) {
  (void)state;
  assert_true(pf_uritmpl_is_template("a://{x}", 7));
  assert_false(pf_uritmpl_is_template("a://x", 5));
  assert_false(pf_uritmpl_is_template("a://{x}", 4)); /* only within len */
  assert_false(pf_uritmpl_is_template(NULL, 0));
}

static void test_expand(void **state) {
  (void)state;
  pf_uritmpl *t = C("notes://{folder}/{id}?x");
  const char *v[] = {"my notes/2024", "a~b-c_d.e"};
  assert_int_equal(pf_uritmpl_expand(t, v, NULL, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "notes://my%20notes%2F2024/a~b-c_d.e?x");

  pf_buf_reset(&out);
  const char *w[] = {"\xc3\xa9:?#[]@!$&'()*+,;=%", "x\0y"};
  size_t lens[] = {strlen(w[0]), 3};
  assert_int_equal(pf_uritmpl_expand(t, w, lens, &out), 0);
  assert_string_equal(pf_buf_cstr(&out),
                      "notes://%C3%A9%3A%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25/"
                      "x%00y?x");

  pf_buf_reset(&out); /* an undefined variable expands to nothing */
  const char *u[] = {NULL, "7"};
  assert_int_equal(pf_uritmpl_expand(t, u, NULL, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "notes:///7?x");
  pf_uritmpl_free(t);

  t = C("plain://x");
  pf_buf_reset(&out);
  assert_int_equal(pf_uritmpl_expand(t, NULL, NULL, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "plain://x");
  assert_int_equal(pf_uritmpl_expand(NULL, NULL, NULL, &out), -PF_EINVAL);
  pf_uritmpl_free(t);
}

/* Matches uri against tmpl; want is "a|b" (the values joined by '|') or
 * NULL for no match. */
static void check_match(const char *tmpl, const char *uri, const char *want) {
  pf_uritmpl *t = C(tmpl);
  const char *v[PF_URITMPL_MAX_VARS];
  size_t n[PF_URITMPL_MAX_VARS];
  bool ok = pf_uritmpl_match(t, uri, strlen(uri), arena, v, n);
  if (!want) {
    if (ok)
      fail_msg("%s matched %s", tmpl, uri);
  } else {
    if (!ok)
      fail_msg("%s did not match %s", tmpl, uri);
    pf_buf_reset(&out);
    for (size_t i = 0; i < pf_uritmpl_nvars(t); i++) {
      if (i)
        pf_buf_putc(&out, '|');
      assert_int_equal(strlen(v[i]), n[i]);
      pf_buf_append(&out, v[i], n[i]);
    }
    if (strcmp(pf_buf_cstr(&out), want) != 0)
      fail_msg("%s on %s: got '%s', want '%s'", tmpl, uri, pf_buf_cstr(&out), want);
  }
  pf_uritmpl_free(t);
}

static void test_match_conformance(void **state) {
  (void)state;
  const char *t = "test://template/{id}/data";
  check_match(t, "test://template/123/data", "123");
  check_match(t, "test://template/a%2Fb/data", "a/b");
  check_match(t, "test://template/hello%20world/data", "hello world");
  check_match(t, "test://template/a/b/data", "a/b");       /* only way to match: spans '/' */
  check_match(t, "test://template/x/data/data", "x/data"); /* longest that completes */
  check_match(t, "test://template//data", NULL);           /* empty value */
  check_match(t, "test://template/123/dat", NULL);
  check_match(t, "test://template/123/data/", NULL);
  check_match(t, "test://template/123", NULL);
  check_match(t, "test://templates/123/data", NULL);
  check_match(t, "TEST://template/123/data", NULL); /* literals are exact */
  check_match(t, "", NULL);
}

static void test_match_examples(void **state) {
  (void)state;
  check_match("file:///{path}", "file:///README.md", "README.md");
  check_match("file:///{path}", "file:///etc/hosts", "etc/hosts");
  check_match("file:///{path}", "file:///a%20b/c%2Fd", "a b/c/d");
  check_match("file:///{path}", "file:///", NULL);
  check_match("file:///{path}", "file://x", NULL);

  check_match("notes://{folder}/{id}", "notes://work/7", "work|7");
  check_match("notes://{folder}/{id}", "notes://my%20work/%E2%9C%93", "my work|\xe2\x9c\x93");
  check_match("notes://{folder}/{id}", "notes://a/b/c", "a/b|c");
  check_match("notes://{folder}/{id}", "notes://work/", NULL);
  check_match("notes://{folder}/{id}", "notes:///7", NULL);
  check_match("notes://{folder}/{id}", "notes://work", NULL);

  /* without '/', the leftmost variable takes the longest value */
  check_match("x://{a}-{b}", "x://p-q-r", "p-q|r");
  /* a '/'-free split is preferred over a longer one spanning '/' */
  check_match("x://{a}-{b}", "x://p/q-r-s", "p/q-r|s");
  check_match("x://{a}-{b}/z", "x://p-q/z", "p|q");
  check_match("x://{a}.{b}/{c}", "x://1.2.3/4/5", "1.2|3/4|5");
  check_match("x://{a}.{b}/{c}", "x://1.2/3", "1|2|3");
  check_match("{scheme}://{host}", "https://example.com", "https|example.com");
  check_match("x://{a}", "x://%41%62", "Ab");
  check_match("plain://x", "plain://x", "");
  check_match("plain://x", "plain://xy", NULL);
}

static void test_match_decoding(void **state) {
  (void)state;
  const char *t = "x://{a}/{b}";
  check_match(t, "x://%2/b", NULL);
  check_match(t, "x://%/b", NULL);
  check_match(t, "x://a/%G0", NULL);
  check_match(t, "x://a/b%4", NULL);
  check_match(t, "x://%41/%7e%7E", "A|~~");
  check_match(t, "x://+/%2B", "+|+"); /* '+' is not a space here */
  /* %00 decodes to a NUL byte inside the value: the length tells */
  pf_uritmpl *u = C(t);
  const char *v[2];
  size_t n[2];
  assert_true(pf_uritmpl_match(u, "x://a%00b/c", 11, arena, v, n));
  assert_int_equal(n[0], 3);
  assert_memory_equal(v[0], "a\0b", 4);
  assert_false(pf_uritmpl_match(NULL, "x", 1, arena, v, n));
  assert_false(pf_uritmpl_match(u, NULL, 3, arena, v, n));
  pf_uritmpl_free(u);
}

static void test_match_hostile(void **state) {
  (void)state;
  /* many variables and a long URI full of near-misses: the dynamic
   * program keeps this quick */
  pf_uritmpl *t = C("x://{a}-{b}-{c}-{d}-{e}-{f}-{g}-{h}-end");
  pf_buf u = PF_BUF_INIT;
  pf_buf_puts(&u, "x://");
  for (int i = 0; i < 20000; i++)
    pf_buf_puts(&u, "-");
  pf_buf_puts(&u, "en");
  const char *v[8];
  size_t n[8];
  assert_false(pf_uritmpl_match(t, u.data, u.len, arena, v, n));
  u.len -= 2;
  pf_buf_puts(&u, "-end");
  assert_true(pf_uritmpl_match(t, u.data, u.len, arena, v, n));
  assert_int_equal(n[0], 20000 - 7 * 1 - 7); /* the rest are one '-' each */
  for (int i = 1; i < 8; i++)
    assert_int_equal(n[i], 1);
  pf_buf_free(&u);
  pf_uritmpl_free(t);
}

static void test_expand_match_roundtrip(void **state) {
  (void)state;
  pf_uritmpl *t = C("notes://{folder}/{id}");
  const char *vals[][2] = {{"a/b", "c"}, {"x y", "1/2/3"}, {"%", "?&="}, {"\xe2\x82\xac", "."}};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    pf_buf_reset(&out);
    assert_int_equal(pf_uritmpl_expand(t, vals[i], NULL, &out), 0);
    const char *v[2];
    size_t n[2];
    assert_true(pf_uritmpl_match(t, out.data, out.len, arena, v, n));
    assert_string_equal(v[0], vals[i][0]);
    assert_string_equal(v[1], vals[i][1]);
  }
  pf_uritmpl_free(t);
}

static void test_oom(void **state) {
  (void)state;
  pf_test_alloc_install();
  pf_test_alloc.fail_after = 0;
  assert_null(pf_uritmpl_compile("x://{a}", 7, NULL));
  pf_test_alloc.fail_after = -1;
  pf_test_alloc_remove();
  pf_buf_puts(&err, "room for the message to come, allocated before the failures start");
  pf_buf_reset(&err);
  pf_test_alloc_install();
  pf_test_alloc.fail_after = 0;
  assert_null(pf_uritmpl_compile("x://{a}", 7, &err));
  pf_test_alloc_remove();
  assert_string_equal(pf_buf_cstr(&err), "byte 0: out of memory");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_compile),
      T(test_compile_errors),
      T(test_is_template),
      T(test_expand),
      T(test_match_conformance),
      T(test_match_examples),
      T(test_match_decoding),
      T(test_match_hostile),
      T(test_expand_match_roundtrip),
      T(test_oom),
  };
  return cmocka_run_group_tests_name("template/uri", tests, NULL, NULL);
}

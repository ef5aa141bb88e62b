/* Text templates: every construct, values, escaping, scoping, strict mode,
 * compile errors with positions, variable listing, allocation behaviour. */
#include "support.h"

#include <stdio.h>
#include <string.h>

#include <pforge/json.h>

#include "template/template.h"

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

static pf_tmpl *C(const char *text) {
  pf_buf_reset(&err);
  pf_tmpl *t = pf_tmpl_compile(text, strlen(text), &err);
  if (!t)
    fail_msg("compile failed: %s: %s", text, pf_buf_cstr(&err));
  return t;
}

/* Renders text against the JSON values with the given mode. */
static const char *R3(const char *text, const char *values, pf_tmpl_escape esc) {
  pf_tmpl *t = C(text);
  pf_tmpl_ctx ctx = {.values = values ? J(values) : NULL};
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(t, &ctx, esc, &out), 0);
  pf_tmpl_free(t);
  return pf_buf_cstr(&out);
}

static const char *R(const char *text, const char *values) { return R3(text, values, PF_TMPL_RAW); }

static void test_literals_and_vars(void **state) {
  (void)state;
  assert_string_equal(R("", NULL), "");
  assert_string_equal(R("plain text } { }}", NULL), "plain text } { }}");
  assert_string_equal(R("Hello, {{name}}!", "{\"name\":\"World\"}"), "Hello, World!");
  assert_string_equal(R("{{ name }}|{{\tname\n}}", "{\"name\":\"x\"}"), "x|x");
  assert_string_equal(R("{{a}}{{b}}{{a}}", "{\"a\":\"1\",\"b\":\"2\"}"), "121");
  assert_string_equal(R("[{{missing}}]", "{}"), "[]");
  assert_string_equal(R("[{{missing}}]", NULL), "[]");
  assert_string_equal(R("{{my_name-2}}", "{\"my_name-2\":\"ok\"}"), "ok");
  /* a string containing a NUL byte is inserted whole */
  pf_tmpl *t = C("<{{s}}>");
  pf_tmpl_ctx ctx = {.values = J("{\"s\":\"a\\u0000b\"}")};
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out), 0);
  assert_int_equal(out.len, 5);
  assert_memory_equal(out.data, "<a\0b>", 5);
  pf_tmpl_free(t);
}

static void test_value_types(void **state) {
  (void)state;
  const char *v = "{\"s\":\"str\",\"i\":42,\"n\":-7,\"big\":-9223372036854775808,"
                  "\"u\":18446744073709551615,\"r\":0.1,\"e\":1e300,\"r2\":2.5,"
                  "\"t\":true,\"f\":false,\"z\":null,\"a\":[1,\"x\",null],\"o\":{\"k\":[true]}}";
  assert_string_equal(R("{{s}}|{{i}}|{{n}}|{{big}}|{{u}}", v),
                      "str|42|-7|-9223372036854775808|18446744073709551615");
  assert_string_equal(R("{{r}}|{{e}}|{{r2}}", v), "0.1|1e+300|2.5");
  assert_string_equal(R("{{t}}|{{f}}|[{{z}}]", v), "true|false|[]");
  assert_string_equal(R("{{a}}|{{o}}", v), "[1,\"x\",null]|{\"k\":[true]}");
  assert_string_equal(R("{{ this }}", "{\"x\":1}"), "{\"x\":1}");
}

static void test_paths(void **state) {
  (void)state;
  const char *v = "{\"user\":{\"name\":\"ann\",\"tags\":[\"a\",\"b\"],\"0\":\"zero\"},"
                  "\"items\":[{\"id\":7},{\"id\":8}],\"grid\":[[1,2],[3,4]]}";
  assert_string_equal(R("{{user.name}}", v), "ann");
  assert_string_equal(R("{{user.tags.1}}", v), "b");
  assert_string_equal(R("{{items.0.id}},{{items.1.id}}", v), "7,8");
  assert_string_equal(R("{{grid.1.0}}", v), "3");
  assert_string_equal(R("{{user.0}}", v), "zero"); /* numeric key of an object */
  assert_string_equal(R("{{this.user.name}}", v), "ann");
  assert_string_equal(R("[{{items.2.id}}][{{user.name.x}}][{{user.tags.x}}][{{nope.a}}]", v),
                      "[][][][]");
  assert_string_equal(R("[{{user.tags.99999999999999999999999}}]", v), "[]");
}

static void test_if_unless(void **state) {
  (void)state;
  const char *v = "{\"yes\":true,\"no\":false,\"name\":\"x\"}";
  assert_string_equal(R("{{#if yes}}Y{{/if}}", v), "Y");
  assert_string_equal(R("{{#if no}}Y{{/if}}", v), "");
  /* text after a block is not part of it (jump targets split text) */
  assert_string_equal(R("a{{#if no}}b{{/if}}c{{! x }}d", v), "acd");
  assert_string_equal(R("a{{#if no}}b{{else}}c{{/if}}d", v), "acd");
  assert_string_equal(R("a{{#each no}}b{{/each}}c", v), "ac");
  assert_string_equal(R("{{#if yes}}Y{{else}}N{{/if}}", v), "Y");
  assert_string_equal(R("{{#if no}}Y{{else}}N{{/if}}", v), "N");
  assert_string_equal(R("{{#unless no}}U{{/unless}}", v), "U");
  assert_string_equal(R("{{#unless yes}}U{{else}}E{{/unless}}", v), "E");
  assert_string_equal(R("{{# if  name }}[{{name}}]{{/ if }}", v), "[x]");
  assert_string_equal(
      R("{{#if yes}}a{{#if no}}b{{else}}c{{#unless no}}d{{/unless}}{{/if}}e{{else}}f{{/if}}g", v),
      "acdeg");
}

static void test_truthiness(void **state) {
  (void)state;
  static const struct {
    const char *value;
    bool truthy;
  } cases[] = {
      {"null", false},
      {"false", false},
      {"0", false},
      {"0.0", false},
      {"-0.0", false},
      {"\"\"", false},
      {"[]", false},
      {"{}", false},
      {"true", true},
      {"1", true},
      {"-1", true},
      {"0.5", true},
      {"\"0\"", true},
      {"\" \"", true},
      {"[0]", true},
      {"{\"a\":null}", true},
      {"18446744073709551615", true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char v[128];
    snprintf(v, sizeof v, "{\"v\":%s}", cases[i].value);
    assert_string_equal(R("{{#if v}}T{{else}}F{{/if}}", v), cases[i].truthy ? "T" : "F");
    assert_string_equal(R("{{#unless v}}F{{else}}T{{/unless}}", v), cases[i].truthy ? "T" : "F");
  }
  assert_string_equal(R("{{#if missing}}T{{else}}F{{/if}}", "{}"), "F");
  assert_string_equal(R("{{#if a.b.c}}T{{else}}F{{/if}}", "{\"a\":{}}"), "F");
}

static void test_each_array(void **state) {
  (void)state;
  const char *v = "{\"xs\":[\"a\",\"b\",\"c\"],\"people\":[{\"n\":\"ann\"},{\"n\":\"bob\"}],"
                  "\"empty\":[],\"str\":\"abc\",\"sep\":\";\"}";
  assert_string_equal(R("{{#each xs}}{{this}}{{/each}}", v), "abc");
  assert_string_equal(R("{{#each xs}}{{@index}}={{this}}{{#unless @last}},{{/unless}}{{/each}}", v),
                      "0=a,1=b,2=c");
  assert_string_equal(
      R("{{#each xs}}{{#if @first}}^{{/if}}{{this}}{{#if @last}}${{/if}}{{/each}}", v), "^abc$");
  assert_string_equal(R("{{#each xs}}{{@key}}{{/each}}", v), "012"); /* @key is the index */
  assert_string_equal(R("{{#each people}}{{n}}/{{this.n}} {{/each}}", v), "ann/ann bob/bob ");
  assert_string_equal(R("{{#each empty}}x{{else}}none{{/each}}", v), "none");
  assert_string_equal(R("{{#each missing}}x{{else}}none{{/each}}", v), "none");
  assert_string_equal(R("{{#each str}}x{{else}}not a list{{/each}}", v), "not a list");
  assert_string_equal(R("{{#each xs}}{{this}}{{else}}none{{/each}}", v), "abc");
  assert_string_equal(R("[{{#each empty}}x{{/each}}]", v), "[]");
  /* names not in the element fall back to the outer scopes */
  assert_string_equal(R("{{#each xs}}{{this}}{{sep}}{{/each}}", v), "a;b;c;");
  assert_string_equal(R("{{#each people}}{{#if @index}}{{sep}}{{/if}}{{n}}{{/each}}", v),
                      "ann;bob");
}

static void test_each_object(void **state) {
  (void)state;
  const char *v = "{\"env\":{\"HOME\":\"/root\",\"PATH\":\"/bin\",\"N\":3},\"none\":{}}";
  assert_string_equal(R("{{#each env}}{{@key}}={{this}}{{#unless @last}}&{{/unless}}{{/each}}", v),
                      "HOME=/root&PATH=/bin&N=3");
  assert_string_equal(
      R("{{#each env}}{{@index}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}}{{/each}}", v), "0F12L");
  assert_string_equal(R("{{#each none}}x{{else}}empty{{/each}}", v), "empty");
}

static void test_each_nested(void **state) {
  (void)state;
  const char *v = "{\"title\":\"T\",\"groups\":[{\"name\":\"g1\",\"members\":[\"a\",\"b\"]},"
                  "{\"name\":\"g2\",\"members\":[]},{\"name\":\"g3\",\"members\":[\"c\"]}]}";
  assert_string_equal(
      R("{{#each groups}}{{name}}:{{#each members}}{{@index}}{{this}}@{{name}}/{{title}} "
        "{{else}}-{{@index}} {{/each}}{{/each}}",
        v),
      "g1:0a@g1/T 1b@g1/T g2:-1 g3:0c@g3/T ");
  /* else of an inner #each sees the outer element's data variables */
  assert_string_equal(
      R("{{#each groups}}{{#each members}}{{else}}[{{@index}}{{name}}]{{/each}}{{/each}}", v),
      "[1g2]");
  /* the same template rendered again gives the same text */
  pf_tmpl *t = C("{{#each groups}}{{#each members}}{{this}}{{/each}}{{/each}}");
  pf_tmpl_ctx ctx = {.values = J(v)};
  for (int i = 0; i < 3; i++) {
    pf_buf_reset(&out);
    assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out), 0);
    assert_string_equal(pf_buf_cstr(&out), "abc");
  }
  pf_tmpl_free(t);
}

static void test_comments_and_escapes(void **state) {
  (void)state;
  const char *v = "{\"x\":\"X\",\"dir\":\"tmp\"}";
  assert_string_equal(R("a{{! a comment }}b", v), "ab");
  assert_string_equal(R("a{{!}}b", v), "ab");
  assert_string_equal(R("a{{!-- has }} inside --}}b", v), "ab");
  assert_string_equal(R("\\{{x}}", v), "{{x}}");
  assert_string_equal(R("a\\{{x}} {{x}}", v), "a{{x}} X");
  assert_string_equal(R("C:\\\\{{dir}}", v), "C:\\\\tmp"); /* JSON-style escaped backslash */
  assert_string_equal(R("\\x {{x}} \\", v), "\\x X \\");
  assert_string_equal(R("{ {x} }{{x}}", v), "{ {x} }X");
}

static void test_escape_json(void **state) {
  (void)state;
  const char *v = "{\"q\":\"say \\\"hi\\\"\\n\\tback\\\\slash\",\"c\":\"\\u0001\\u001f\","
                  "\"u\":\"\\u00e9\",\"o\":{\"k\":\"a\\\"b\"},\"i\":-3}";
  assert_string_equal(R3("\"{{q}}\"", v, PF_TMPL_JSON), "\"say \\\"hi\\\"\\n\\tback\\\\slash\"");
  assert_string_equal(R3("{{c}}", v, PF_TMPL_JSON), "\\u0001\\u001f");
  assert_string_equal(R3("{{u}}", v, PF_TMPL_JSON), "\xc3\xa9");
  assert_string_equal(R3("{{o}}", v, PF_TMPL_JSON), "{\\\"k\\\":\\\"a\\\\\\\"b\\\"}");
  assert_string_equal(R3("{{i}}", v, PF_TMPL_JSON), "-3");
  /* the template's own text is never escaped */
  assert_string_equal(R3("{\"text\": \"{{q}}\"}", "{\"q\":\"\\\"\"}", PF_TMPL_JSON),
                      "{\"text\": \"\\\"\"}");

  /* invalid UTF-8 only reaches a template through a lookup (the parser
   * rejects it): it becomes U+FFFD */
  pf_json_error e;
  char doc[] = "{\"s\":\"aXb\"}";
  const pf_json *obj = pf_json_parse(doc, strlen(doc), arena, NULL, &e);
  assert_non_null(obj);
  char *s = (char *)pf_json_get_str(obj, "s", NULL);
  s[1] = (char)0xff; /* patched after parsing, in the in-situ buffer */
  pf_tmpl *t = C("{{s}}");
  pf_tmpl_ctx ctx = {.values = obj};
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_JSON, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "a\xef\xbf\xbd"
                                         "b");
  pf_tmpl_free(t);
}

static void test_escape_url(void **state) {
  (void)state;
  const char *v = "{\"q\":\"a b&c=d/e?f#g%h+i\",\"u\":\"unreserved-._~AZaz09\","
                  "\"n\":\"\\u00e9\\u4e2d\",\"arr\":[1,\"x y\"],\"r\":-1.5,\"t\":true}";
  assert_string_equal(R3("{{q}}", v, PF_TMPL_URL), "a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi");
  assert_string_equal(R3("{{u}}", v, PF_TMPL_URL), "unreserved-._~AZaz09");
  assert_string_equal(R3("{{n}}", v, PF_TMPL_URL), "%C3%A9%E4%B8%AD");
  assert_string_equal(R3("{{arr}}", v, PF_TMPL_URL), "%5B1%2C%22x%20y%22%5D");
  assert_string_equal(R3("{{r}}|{{t}}", v, PF_TMPL_URL), "-1.5|true");
  assert_string_equal(R3("https://x/?q={{q}}&n={{n}}", v, PF_TMPL_URL),
                      "https://x/?q=a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi&n=%C3%A9%E4%B8%AD");
}

static void test_big_container_escaped(void **state) {
  (void)state;
  /* larger than the escaping window, with multi-byte characters that may
   * straddle it */
  pf_buf doc = PF_BUF_INIT;
  pf_buf_puts(&doc, "{\"a\":[");
  for (int i = 0; i < 400; i++)
    pf_buf_printf(&doc, "%s\"\\u00e9\\\"%d\"", i ? "," : "", i);
  pf_buf_puts(&doc, "]}");
  const pf_json *v = J(pf_buf_cstr(&doc));
  pf_buf raw = PF_BUF_INIT, want = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &raw);
  pf_jw_value(&w, pf_json_get(v, "a"));
  pf_buf_puts(&want, "<");
  pf_json_escape(&want, raw.data, raw.len);
  pf_buf_puts(&want, ">");
  pf_tmpl *t = C("<{{a}}>");
  pf_tmpl_ctx ctx = {.values = v};
  pf_buf_reset(&out);
  pf_buf_puts(&out, "prefix");
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_JSON, &out), 0);
  assert_int_equal(out.len, 6 + want.len);
  assert_memory_equal(out.data + 6, want.data, want.len);
  pf_tmpl_free(t);
  pf_buf_free(&doc);
  pf_buf_free(&raw);
  pf_buf_free(&want);
}

static const pf_json *defaults_obj;
static int lookups;

static const pf_json *lookup_default(void *ud, const char *name, size_t len) {
  assert_ptr_equal(ud, &lookups);
  lookups++;
  return pf_json_getn(defaults_obj, name, len);
}

static void test_lookup_fallback(void **state) {
  (void)state;
  defaults_obj = J("{\"lang\":\"en\",\"opts\":{\"n\":5},\"name\":\"default\"}");
  pf_tmpl *t = C("{{name}}/{{lang}}/{{opts.n}}/[{{none}}]{{#if lang}}!{{/if}}");
  pf_tmpl_ctx ctx = {.values = J("{\"name\":\"given\"}"), .lookup = lookup_default, .ud = &lookups};
  lookups = 0;
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "given/en/5/[]!");
  assert_int_equal(lookups, 4); /* lang, opts, none, lang: never for a given name */
  /* no values at all: everything through the lookup */
  ctx.values = NULL;
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "default/en/5/[]!");
  /* a NULL context renders everything as missing */
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(t, NULL, PF_TMPL_RAW, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "///[]");
  pf_tmpl_free(t);
}

static void test_strict(void **state) {
  (void)state;
  pf_tmpl *t =
      C("Hi {{name}},\n {{#if opt}}{{opt}}{{/if}}{{#each xs}}{{x}}{{/each}} {{user.email}}");
  pf_buf e = PF_BUF_INIT;
  pf_tmpl_ctx ctx = {
      .values = J("{\"name\":\"a\",\"xs\":[{\"x\":1}],\"user\":{}}"), .strict = true, .err = &e};
  pf_buf_reset(&out);
  pf_buf_puts(&out, "keep");
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out), -PF_EINVAL);
  assert_string_equal(pf_buf_cstr(&out), "keep"); /* restored */
  assert_string_equal(pf_buf_cstr(&e), "missing variable 'user.email' at 2:56");
  /* present null is not missing */
  pf_buf_reset(&e);
  ctx.values = J("{\"name\":null,\"user\":{\"email\":\"e\"}}");
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "Hi ,\n  e");
  assert_int_equal(e.len, 0);
  /* missing inside #each, and without an err buffer */
  ctx.values = J("{\"name\":1,\"xs\":[{\"y\":1}],\"user\":{\"email\":2}}");
  pf_buf_reset(&e);
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out), -PF_EINVAL);
  assert_string_equal(pf_buf_cstr(&e), "missing variable 'x' at 2:41");
  ctx.err = NULL;
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out), -PF_EINVAL);
  pf_buf_free(&e);
  pf_tmpl_free(t);
}

/* Every compile error: message, byte offset, line:col. */
static void test_compile_errors(void **state) {
  (void)state;
  static const struct {
    const char *text;
    size_t offset;
    unsigned line, col;
    const char *msg;
  } cases[] = {
      {"abc {{name", 4, 1, 5, "unclosed '{{': no matching '}}'"},
      {"x\n{{name}", 2, 2, 1, "unclosed '{{': no matching '}}'"},
      {"{{", 0, 1, 1, "unclosed '{{': no matching '}}'"},
      {"a{{!-- x }}", 1, 1, 2, "unclosed comment '{{!--': no matching '--}}'"},
      {"ok {{/if}}", 3, 1, 4, "'{{/if}}' without a matching '{{#if}}'"},
      {"{{#if a}}\n  {{/each}}", 12, 2, 3, "'{{/each}}' does not close '{{#if}}' (opened at 1:1)"},
      {"{{#each a}}{{#unless b}}{{/if}}{{/each}}", 24, 1, 25,
       "'{{/if}}' does not close '{{#unless}}' (opened at 1:12)"},
      {"{{#with a}}{{/with}}", 0, 1, 1,
       "unknown block helper '#with' (expected #if, #unless or #each)"},
      {"{{/with}}", 0, 1, 1, "unknown block helper '/with' (expected /if, /unless or /each)"},
      {"{{#if a}}{{/if a}}", 9, 1, 10, "'{{/if}}' takes nothing after the block name"},
      {"{{#if}}", 0, 1, 1, "'{{#if}}' needs a path"},
      {"{{#each   }}", 0, 1, 1, "'{{#each}}' needs a path"},
      {"x{{}}", 1, 1, 2, "empty path in '{{}}'"},
      {"x{{   }}", 1, 1, 2, "empty path in '{{}}'"},
      {"{{a..b}}", 4, 1, 5, "empty segment in path 'a..b'"},
      {"{{.a}}", 2, 1, 3, "empty segment in path '.a'"},
      {"{{a.}}", 4, 1, 5, "empty segment in path 'a.'"},
      {"{{a b}}", 3, 1, 4, "bad character ' ' in path 'a b'"},
      {"{{ user/name }}", 7, 1, 8, "bad character '/' in path 'user/name'"},
      {"{{{x}}}", 2, 1, 3, "bad character '{' in path '{x'"},
      {"{{a\x01}}", 3, 1, 4, "bad character 0x01 in path 'a\x01'"},
      {"{{#if a b}}{{/if}}", 7, 1, 8, "bad character ' ' in path 'a b'"},
      {"{{@index}}", 2, 1, 3, "'@index' used outside {{#each}}"},
      {"{{#each a}}{{else}}{{@key}}{{/each}}", 21, 1, 22, "'@key' used outside {{#each}}"},
      {"{{#each a}}{{@foo}}{{/each}}", 13, 1, 14,
       "unknown data variable '@foo' (expected @index, @key, @first or @last)"},
      {"{{#each a}}{{@index.x}}{{/each}}", 19, 1, 20, "'@index' cannot be followed by a path"},
      {"{{else}}", 0, 1, 1, "'{{else}}' outside a block"},
      {"{{#if a}}{{else}}{{else}}{{/if}}", 17, 1, 18,
       "second '{{else}}' in the same '{{#if}}' block"},
      {"{{#if a}}{{else if b}}{{/if}}", 9, 1, 10,
       "'{{else}}' takes nothing after it (nest an {{#if}} instead)"},
      {"line1\n{{#each xs}}\n{{#if x}}{{/if}}", 6, 2, 1,
       "'{{#each}}' is not closed (no '{{/each}}' before the end of the template)"},
      {"{{#if a}}{{#unless b}}{{/unless}}", 0, 1, 1,
       "'{{#if}}' is not closed (no '{{/if}}' before the end of the template)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pf_tmpl_diag d;
    memset(&d, 0, sizeof d);
    pf_tmpl *t = pf_tmpl_compile_diag(cases[i].text, strlen(cases[i].text), &d);
    if (t || d.offset != cases[i].offset || d.line != cases[i].line || d.col != cases[i].col ||
        strcmp(d.msg, cases[i].msg) != 0)
      fail_msg("case %zu (%s): got %s %zu %u:%u '%s'", i, cases[i].text, t ? "success" : "error",
               d.offset, d.line, d.col, d.msg);
    char want[400];
    snprintf(want, sizeof want, "%u:%u (byte %zu): %s", cases[i].line, cases[i].col,
             cases[i].offset, cases[i].msg);
    pf_buf_reset(&err);
    assert_null(pf_tmpl_compile(cases[i].text, strlen(cases[i].text), &err));
    assert_string_equal(pf_buf_cstr(&err), want);
  }
  /* err and diag may be NULL */
  assert_null(pf_tmpl_compile("{{", 2, NULL));
  assert_null(pf_tmpl_compile_diag("{{", 2, NULL));
}

static void test_nesting_limit(void **state) {
  (void)state;
  pf_buf t = PF_BUF_INIT;
  for (int i = 0; i < PF_TMPL_MAX_DEPTH; i++)
    pf_buf_puts(&t, i % 2 ? "{{#if x}}" : "{{#each xs}}");
  pf_buf_puts(&t, "{{@index}}");
  for (int i = PF_TMPL_MAX_DEPTH; i-- > 0;)
    pf_buf_puts(&t, i % 2 ? "{{/if}}" : "{{/each}}");
  pf_tmpl *ok = C(pf_buf_cstr(&t));
  pf_tmpl_ctx ctx = {.values = J("{\"xs\":[[0,1]],\"x\":true}")};
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(ok, &ctx, PF_TMPL_RAW, &out), 0);
  assert_string_equal(pf_buf_cstr(&out), "0");
  pf_tmpl_free(ok);

  pf_buf_reset(&t);
  for (int i = 0; i <= PF_TMPL_MAX_DEPTH; i++)
    pf_buf_puts(&t, "{{#if x}}");
  pf_tmpl_diag d;
  assert_null(pf_tmpl_compile_diag(t.data, t.len, &d));
  assert_string_equal(d.msg, "blocks nested deeper than 64");
  assert_int_equal(d.offset, 9 * PF_TMPL_MAX_DEPTH);
  pf_buf_free(&t);
}

static void test_vars(void **state) {
  (void)state;
  pf_tmpl *t =
      C("Hello {{user.name}} {{#if verbose}}{{user.id}}{{/if}}"
        "{{#each items}}{{x}}{{this.y}}{{@index}}{{/each}}{{#each items}}{{else}}{{z}}{{/each}}"
        "{{this}}{{this.w}}{{verbose}}{{#unless q}}{{/unless}}");
  assert_int_equal(pf_tmpl_nvars(t), 5);
  assert_string_equal(pf_tmpl_var(t, 0), "user");
  assert_string_equal(pf_tmpl_var(t, 1), "verbose");
  assert_string_equal(pf_tmpl_var(t, 2), "items");
  assert_string_equal(pf_tmpl_var(t, 3), "z");
  assert_string_equal(pf_tmpl_var(t, 4), "q");
  assert_null(pf_tmpl_var(t, 5));
  pf_tmpl_free(t);

  t = C("{{#each a}}{{#each b}}{{c}}{{/each}}{{/each}}");
  assert_int_equal(pf_tmpl_nvars(t), 1);
  assert_string_equal(pf_tmpl_var(t, 0), "a");
  pf_tmpl_free(t);

  t = C("no variables");
  assert_int_equal(pf_tmpl_nvars(t), 0);
  assert_null(pf_tmpl_var(t, 0));
  pf_tmpl_free(t);
  assert_int_equal(pf_tmpl_nvars(NULL), 0);
  assert_null(pf_tmpl_var(NULL, 0));
}

static void test_single_var(void **state) {
  (void)state;
  static const struct {
    const char *text;
    const char *path; /* NULL: not a single variable */
  } cases[] = {
      {"{{x}}", "x"},
      {"{{ a.b.0 }}", "a.b.0"},
      {"{{! note }}{{n}}", "n"},
      {"{{this}}", "this"},
      {" {{x}}", NULL},
      {"{{x}} ", NULL},
      {"{{x}}{{y}}", NULL},
      {"{{#if x}}{{x}}{{/if}}", NULL},
      {"", NULL},
      {"x", NULL},
      {"\\{{x}}", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pf_tmpl *t = C(cases[i].text);
    const char *p = NULL;
    assert_int_equal(pf_tmpl_is_single_var(t, &p), cases[i].path != NULL);
    if (cases[i].path)
      assert_string_equal(p, cases[i].path);
    assert_int_equal(pf_tmpl_is_single_var(t, NULL), cases[i].path != NULL);
    pf_tmpl_free(t);
  }
  assert_false(pf_tmpl_is_single_var(NULL, NULL));

  pf_tmpl *t = C("{{ cfg.limits }}");
  pf_tmpl_ctx ctx = {.values = J("{\"cfg\":{\"limits\":[1,2]}}")};
  const pf_json *v = pf_tmpl_single_value(t, &ctx);
  assert_int_equal(pf_json_typeof(v), PF_JSON_ARRAY);
  assert_int_equal(pf_json_len(v), 2);
  ctx.values = J("{}");
  assert_null(pf_tmpl_single_value(t, &ctx));
  pf_tmpl_free(t);
  t = C("x{{a}}");
  ctx.values = J("{\"a\":1}");
  assert_null(pf_tmpl_single_value(t, &ctx));
  pf_tmpl_free(t);
}

static void test_no_alloc_when_warm(void **state) {
  (void)state;
  const char *v = "{\"name\":\"n\\\"x\",\"n\":12,\"r\":0.25,\"o\":{\"a\":[1,2,{\"b\":\"c d\"}]},"
                  "\"xs\":[{\"k\":\"v1\"},{\"k\":\"v2\"}],\"env\":{\"A\":\"1\",\"B\":\"2\"}}";
  pf_tmpl *t = C("{{name}} {{n}} {{r}} {{o}} {{#each xs}}{{@index}}{{k}}{{#if @last}}.{{/if}}"
                 "{{/each}}{{#each env}}{{@key}}={{this}}{{/each}}{{#unless missing}}u{{/unless}}"
                 "{{#each none}}{{else}}e{{/each}}");
  pf_tmpl_ctx ctx = {.values = J(v)};
  for (int mode = PF_TMPL_RAW; mode <= PF_TMPL_URL; mode++) {
    pf_buf b = PF_BUF_INIT;
    assert_int_equal(pf_tmpl_render(t, &ctx, (pf_tmpl_escape)mode, &b), 0); /* warm up */
    size_t want = b.len;
    pf_test_alloc_install();
    for (int i = 0; i < 10; i++) {
      pf_buf_reset(&b);
      assert_int_equal(pf_tmpl_render(t, &ctx, (pf_tmpl_escape)mode, &b), 0);
      assert_int_equal(b.len, want);
    }
    assert_int_equal(pf_test_alloc_count(), 0);
    pf_test_alloc_remove();
    pf_buf_free(&b);
  }
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out), 0);
  assert_string_equal(pf_buf_cstr(&out),
                      "n\"x 12 0.25 {\"a\":[1,2,{\"b\":\"c d\"}]} 0v11v2.A=1B=2ue");
  pf_tmpl_free(t);
}

static void test_oom(void **state) {
  (void)state;
  const char *text = "Hello {{user.name}}!{{#each xs}}{{@index}}{{this}}{{else}}-{{/each}}"
                     "{{#if a}}x{{else}}y{{/if}}{{! c }}\\{{ {{z}}";
  /* every allocation of compile failing in turn: NULL, no leak */
  for (long k = 0;; k++) {
    pf_test_alloc_install();
    pf_test_alloc.fail_after = k;
    pf_tmpl_diag d;
    pf_tmpl *t = pf_tmpl_compile_diag(text, strlen(text), &d);
    pf_test_alloc.fail_after = -1;
    if (t) {
      pf_tmpl_free(t);
      pf_test_alloc_remove();
      assert_true(k > 3);
      break;
    }
    assert_string_equal(d.msg, "out of memory");
    pf_test_alloc_remove(); /* leaks: the ASan build checks */
  }
  /* a failing output buffer: -PF_ENOMEM */
  pf_tmpl *t = C(text);
  pf_tmpl_ctx ctx = {.values = J("{\"user\":{\"name\":\"u\"},\"xs\":[1]}")};
  pf_buf b = PF_BUF_INIT;
  pf_test_alloc_install();
  pf_test_alloc.fail_after = 0;
  assert_int_equal(pf_tmpl_render(t, &ctx, PF_TMPL_JSON, &b), -PF_ENOMEM);
  assert_true(b.failed);
  pf_test_alloc_remove();
  pf_buf_free(&b);
  pf_tmpl_free(t);
}

static void test_null_args(void **state) {
  (void)state;
  pf_tmpl_free(NULL);
  assert_int_equal(pf_tmpl_render(NULL, NULL, PF_TMPL_RAW, &out), -PF_EINVAL);
  pf_tmpl *t = pf_tmpl_compile(NULL, 0, &err);
  assert_non_null(t);
  pf_buf_reset(&out);
  assert_int_equal(pf_tmpl_render(t, NULL, PF_TMPL_RAW, &out), 0);
  assert_int_equal(out.len, 0);
  assert_int_equal(pf_tmpl_render(t, NULL, PF_TMPL_RAW, NULL), -PF_EINVAL);
  pf_tmpl_free(t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_literals_and_vars),  T(test_value_types), T(test_paths),
      T(test_if_unless),          T(test_truthiness),  T(test_each_array),
      T(test_each_object),        T(test_each_nested), T(test_comments_and_escapes),
      T(test_escape_json),        T(test_escape_url),  T(test_big_container_escaped),
      T(test_lookup_fallback),    T(test_strict),      T(test_compile_errors),
      T(test_nesting_limit),      T(test_vars),        T(test_single_var),
      T(test_no_alloc_when_warm), T(test_oom),         T(test_null_args),
  };
  return cmocka_run_group_tests_name("template/template", tests, NULL, NULL);
}

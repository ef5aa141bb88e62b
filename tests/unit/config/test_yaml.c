/* The fast YAML reader (src/config/yaml.c) against libfyaml: wherever the
 * fast reader accepts a text, both must give the same tree (texts, styles,
 * positions); where it declines, the loader uses libfyaml, so declining is
 * always safe. The examples and generated configs must take the fast path. */
#include "support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/arena.h>
#include <pforge/buf.h>

#include "config/yaml.h"

/* 1 when the fast reader accepted text (and agreed with libfyaml), 0 when
 * it declined. Fails the test on a disagreement. */
static int check(const char *text, size_t len, const char *what) {
  pf_arena *a = pf_arena_create(0);
  assert_non_null(a);
  bool oom = false;
  pf__ynode *fast = pf__yaml_fast(a, text, len, &oom);
  assert_false(oom);
  if (!fast) {
    pf_arena_destroy(a);
    return 0;
  }
  pf__yaml_doc d;
  bool ok = pf__yaml_full(a, text, len, &d, NULL, NULL, &oom);
  if (!ok || !d.root || d.has_extra) {
    fprintf(stderr, "%s: the fast reader accepted what libfyaml rejects:\n%.*s\n", what,
            (int)len, text);
    fail();
  }
  char why[128];
  if (!pf__yaml_equal(fast, d.root, why, sizeof why)) {
    fprintf(stderr, "%s: trees differ (%s):\n%.*s\n", what, why, (int)len, text);
    fail();
  }
  pf_arena_destroy(a);
  return 1;
}

static int checkz(const char *text) {
  return check(text, strlen(text), "snippet");
}

static void test_accepted(void **state) {
  (void)state;
  static const char *const yes[] = {
      "a: b\n",
      "a: b",
      "---\na: b\n",
      "--- # doc\na: b\n",
      "# c\n\n  # c2\na: 1\nb: -2\nc: 1.5e3\nd: true\ne: ~\nf: null\ng:\n",
      "a:\n  b:\n    c: d\n  e: f\ng: h\n",
      "a:\n- x\n- y\nb: 1\n",
      "a:\n  - x\n  - y\n",
      "tools:\n  - name: t\n    params:\n      a: number\n  - name: u # c\n    x: [1, 2]\n",
      "a: 'it''s'\nb: \"q\\\"\\n\\u00e9\\x41\\t\"\n\"c d\": e\n'': x\n",
      "a: {b: c, d: [e, \"f\", 'g'], h: {}}\ni: []\n",
      "a: http://x:80/p?q#f\nb: [http://x:80/]\nc: a#b\nd: x # c\n",
      "a: b   \nc:    d   # c\n",
      "a: -x\nb: --flag\nc: x-y\n",
      "\xc3\xa9: \xc3\xa9\xc3\xa9\nx: [\xc3\xa9, b, {\xc3\xa9\xc3\xa9: 1}]\n",
      "a: 0x1F\nb: 0o17\nc: .inf\nd: -.Inf\ne: .nan\nf: 1.\ng: .5\nh: +1\n",
      "a:\n  # c\n  b: 1\n\n  c: 2\n",
      "a: |\n  text\nb: >-\n  folded\n  text\n\n  para\n    more\n  end\n",
      "a: |\n  x\n   y\n\n  z\n\n\nb: >\n\n  e\n # comment\nc: |-\n    deep\n",
      "- x\n",
  };
  static const bool expect[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    int got = checkz(yes[i]);
    if (got != expect[i])
      fprintf(stderr, "snippet %zu: expected %s:\n%s\n", i, expect[i] ? "accepted" : "declined",
              yes[i]);
    assert_int_equal(got, expect[i]);
  }
}

/* Outside the subset (or not YAML at all): declined, libfyaml decides. */
static void test_declined(void **state) {
  (void)state;
  static const char *const no[] = {
      "",
      "# only a comment\n",
      "a: &x b\nc: *x\n",
      "a: !!str 1\n",
      "a: |+\n  text\n",
      "a: |2\n  text\n",
      "a: |\n  x\n     \n  y\n",
      "a: |\nb: 1\n",
      "a: b\n  continued\n",
      "a:\n  plain on the next line\n",
      "a: \"two\n  lines\"\n",
      "a: [1,\n  2]\n",
      "a:\tb\n",
      "a: b\n\013c: d\n",       /* VT right after a newline, in one 8-byte word */
      "abcdefg: x\177yz\n",      /* DEL */
      "a: bcdefgh\001ijklmno\n", /* a control byte mid-word */
      "a: b\r\n",
      "a: b\n---\nc: d\n",
      "a: b\n...\n",
      "%YAML 1.2\n---\na: b\n",
      "a: b\na: c\n",
      "a: {b: 1, b: 2}\n",
      "<<: {a: 1}\nb: 2\n",
      "<<: t\n",
      "a: {<<: x}\n",
      "? a\n: b\n",
      "a: b: c\n",
      "key : v\n",
      "a: [1, 2, ]\n",
      "a: {b}\n",
      "a: [b: c]\n",
      "a:\n-\n- x\n",
      "a:\n- - x\n",
      "a:\n  b: 1\n c: 2\n",
      "a: \"x\" y\n",
      "a: \"x\"#c\n",
      "a: @x\n",
      "a: `x`\n",
      "a: \"\\q\"\n",
      "a: 'x''''y'\n", /* libfyaml 0.8 reads this as x''' */
      "a: \"\\ud800\"\n",
      "\357\273\277a: b\n", /* a BOM first */
      "a: \xc2\x85\n",
      "a: \xff\n",
      "{a: b}\n",
      "- a\n- b\n",
      "a: b\n- c\n",
      "a:\n  - x\n  y: 1\n",
  };
  for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
    int got = checkz(no[i]);
    if (got)
      fprintf(stderr, "snippet %zu accepted:\n%s\n", i, no[i]);
    assert_int_equal(got, 0);
  }
  static const char nul[] = "abcdefgh: ijklmnop\0\n"; /* a NUL byte */
  assert_int_equal(check(nul, sizeof nul - 1, "nul"), 0);
}

/* Every pforge.yaml in the repository (valid or not) agrees where the fast
 * reader takes it; the examples must be taken. Mutations of each (a byte
 * deleted, duplicated or replaced) must agree too. */
static size_t scan_dir(const char *dir, size_t *accepted, unsigned *seed) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t nl = strlen(e->d_name);
    if (nl < 6 || strcmp(e->d_name + nl - 5, ".yaml") != 0)
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t len;
    char *text = pf_test_read_file(path, &len);
    assert_non_null(text);
    n++;
    *accepted += (size_t)check(text, len, path);
    char *m = malloc(len + 2);
    assert_non_null(m);
    static const char bytes[] = " -:#\n'\"[]{},&*!|>\\x1.";
    for (int k = 0; k < 300 && len > 0; k++) {
      *seed = *seed * 1103515245u + 12345u;
      size_t at = (*seed >> 8) % len;
      int op = (int)((*seed >> 4) % 3);
      size_t ml;
      if (op == 0) { /* delete */
        memcpy(m, text, at);
        memcpy(m + at, text + at + 1, len - at - 1);
        ml = len - 1;
      } else if (op == 1) { /* duplicate */
        memcpy(m, text, at + 1);
        memcpy(m + at + 1, text + at, len - at);
        ml = len + 1;
      } else { /* replace */
        memcpy(m, text, len);
        m[at] = bytes[(*seed >> 16) % (sizeof bytes - 1)];
        ml = len;
      }
      check(m, ml, path);
    }
    free(m);
    free(text);
  }
  closedir(d);
  return n;
}

static void test_repository_files(void **state) {
  (void)state;
  const char *src = getenv("PF_SOURCE_DIR");
  if (!src || !*src)
    src = ".";
  static const char *const dirs[] = {
      "tests/data/config/valid",   "tests/data/config/invalid", "tests/e2e/cli",
      "tests/e2e/full",            "tests/e2e/http",            "tests/e2e/httptools",
      "tests/e2e/pipeline",        "tests/e2e/pipeline/invalid", "tests/e2e/resilience",
  };
  unsigned seed = 12345;
  size_t files = 0, accepted = 0;
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", src, dirs[i]);
    files += scan_dir(dir, &accepted, &seed);
  }
  static const char *const examples[] = {"hello",  "calculator", "bench",    "cli-tools",
                                         "conformance", "counter", "pipeline", "rest-proxy"};
  for (size_t i = 0; i < sizeof examples / sizeof *examples; i++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/examples/%s", src, examples[i]);
    size_t before = accepted;
    files += scan_dir(dir, &accepted, &seed);
    if (accepted != before + 1)
      fprintf(stderr, "examples/%s/pforge.yaml did not take the fast path\n", examples[i]);
    assert_int_equal(accepted, before + 1);
  }
  printf("%zu files, %zu on the fast path\n", files, accepted);
  assert_true(files > 80);
}

static void test_generated(void **state) {
  (void)state;
  pf_buf b = PF_BUF_INIT;
  pf_buf_puts(&b, "forge: { name: generated, version: 1.0.0 }\ntools:\n");
  for (int i = 0; i < 1000; i++)
    pf_buf_printf(&b,
                  "  - type: native\n    name: tool_%d\n    description: Generated tool %d\n"
                  "    handler: { path: bench_add }\n    params:\n      a: number\n"
                  "      b: { type: integer, required: false, default: 1, validation: { min: 0, "
                  "max: 100 } }\n",
                  i, i);
  assert_int_equal(check(b.data, b.len, "generated"), 1);
  pf_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepted),
      cmocka_unit_test(test_declined),
      cmocka_unit_test(test_repository_files),
      cmocka_unit_test(test_generated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

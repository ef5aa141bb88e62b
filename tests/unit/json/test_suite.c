/* JSONTestSuite (github.com/nst/JSONTestSuite, test_parsing/): every y_ file
 * must be accepted, every n_ file rejected, and i_ files must not crash.
 * Every accepted document must survive pf_jw_value -> parse unchanged.
 *
 * Each file is parsed from a malloc'd buffer of exactly its size, so ASan
 * reports any read past the end of the input, and once more from a copy
 * that ends right before an inaccessible page, so such a read also crashes
 * where ASan does not see it (GCC turns memcmp(p, "true", 4) into one
 * unaligned 4-byte load that its ASan instrumentation does not check). */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "support.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pforge/json.h>

#define MIN_FILES 300

typedef struct file_list {
  char **names;
  size_t count, cap;
} file_list;

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void suite_dir(char *out, size_t size) {
  snprintf(out, size, "%s/testdata/jsontestsuite/test_parsing", pf_test_shared_dir());
}

/* The .json files of the suite, sorted; fails the test when the directory
 * is missing or incomplete. */
static file_list list_files(void) {
  char dir[4096];
  suite_dir(dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d)
    fail_msg("JSONTestSuite directory %s is missing (set PF_SHARED_DIR)", dir);
  file_list fl = {NULL, 0, 0};
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n < 7 || strcmp(e->d_name + n - 5, ".json") != 0)
      continue;
    if (fl.count == fl.cap) {
      fl.cap = fl.cap ? fl.cap * 2 : 512;
      fl.names = realloc(fl.names, fl.cap * sizeof *fl.names);
      assert_non_null(fl.names);
    }
    fl.names[fl.count] = strdup(e->d_name);
    assert_non_null(fl.names[fl.count]);
    fl.count++;
  }
  closedir(d);
  if (fl.count < MIN_FILES)
    fail_msg("JSONTestSuite directory %s holds %zu files, expected at least %d", dir, fl.count,
             MIN_FILES);
  qsort(fl.names, fl.count, sizeof *fl.names, cmp_names);
  return fl;
}

static void free_files(file_list *fl) {
  for (size_t i = 0; i < fl->count; i++)
    free(fl->names[i]);
  free(fl->names);
}

/* A malloc'd copy of exactly n bytes (malloc(0) for an empty file, so any
 * access at all is out of bounds for ASan). */
static char *exact_copy(const char *p, size_t n) {
  char *c = malloc(n);
  if (n) {
    assert_non_null(c);
    memcpy(c, p, n);
  }
  return c;
}

/* A copy of p[0..n) that ends where an unreadable page begins. */
typedef struct guarded {
  char *base;
  size_t cap; /* readable bytes before the guard page */
} guarded;

static char *guarded_copy(guarded *g, const char *p, size_t n) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (!g->base || n > g->cap) {
    if (g->base)
      munmap(g->base, g->cap + page);
    g->cap = (n + page - 1) / page * page + page;
    g->base = mmap(NULL, g->cap + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->base != MAP_FAILED);
    assert_int_equal(mprotect(g->base + g->cap, page, PROT_NONE), 0);
  }
  char *dst = g->base + g->cap - n;
  if (n)
    memcpy(dst, p, n);
  return dst;
}

static void guarded_free(guarded *g) {
  if (g->base)
    munmap(g->base, g->cap + (size_t)sysconf(_SC_PAGESIZE));
  g->base = NULL;
}

/* Names the file being parsed when a guarded parse faults, then lets the
 * fault kill the process. */
static const char *parsing_now;

static void on_fault(int sig) {
  static const char msg[] = "\nread past the end of the input (guard page) while parsing ";
  ssize_t w = write(2, msg, sizeof msg - 1);
  if (parsing_now)
    w = write(2, parsing_now, strlen(parsing_now));
  w = write(2, "\n", 1);
  (void)w;
  signal(sig, SIG_DFL);
}

static char *read_exact(const char *name, size_t *len) {
  char path[4096];
  suite_dir(path, sizeof path);
  size_t dl = strlen(path);
  snprintf(path + dl, sizeof path - dl, "/%s", name);
  size_t n = 0;
  char *raw = pf_test_read_file(path, &n);
  if (!raw)
    fail_msg("cannot read %s", path);
  char *buf = exact_copy(raw, n);
  free(raw);
  *len = n;
  return buf;
}

static bool is_json_error(int code) {
  return code == -PF_EJSON_SYNTAX || code == -PF_EJSON_UTF8 || code == -PF_EJSON_DEPTH ||
         code == -PF_EJSON_SIZE || code == -PF_EJSON_NUMBER || code == -PF_EJSON_DUPKEY;
}

/* Ordered structural equality for a value and its written-and-reparsed
 * copy. Stricter than pf_json_equal (member order, double bits including
 * the sign of zero) except for the one change the writer makes on purpose:
 * an integral REAL below 2^53 is written without a fraction and comes back
 * as an INT. Does not depend on object keys being unique. */
static bool same_tree(const pf_json *a, const pf_json *b) {
  pf_json_type ta = pf_json_typeof(a), tb = pf_json_typeof(b);
  if (ta != tb) {
    return ta == PF_JSON_REAL && (tb == PF_JSON_INT || tb == PF_JSON_UINT) && pf_json_equal(a, b);
  }
  switch (ta) {
  case PF_JSON_NULL: return true;
  case PF_JSON_BOOL: return pf_json_bool_or(a, false) == pf_json_bool_or(b, false);
  case PF_JSON_INT: return pf_json_int_or(a, 0) == pf_json_int_or(b, 1);
  case PF_JSON_UINT: return pf_json_uint_or(a, 0) == pf_json_uint_or(b, 1);
  case PF_JSON_REAL: {
    double x = pf_json_num_or(a, 0), y = pf_json_num_or(b, 1);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  case PF_JSON_STRING: {
    size_t la, lb;
    const char *sa = pf_json_str(a, &la), *sb = pf_json_str(b, &lb);
    return la == lb && memcmp(sa, sb, la) == 0 && sa[la] == '\0' && sb[lb] == '\0';
  }
  case PF_JSON_ARRAY:
  case PF_JSON_OBJECT: {
    if (pf_json_len(a) != pf_json_len(b))
      return false;
    pf_json_iter ia = pf_json_iter_init(a), ib = pf_json_iter_init(b);
    const pf_json *ka, *va, *kb, *vb;
    while (pf_json_iter_next(&ia, &ka, &va)) {
      if (!pf_json_iter_next(&ib, &kb, &vb))
        return false;
      if (ta == PF_JSON_OBJECT && !same_tree(ka, kb))
        return false;
      if (!same_tree(va, vb))
        return false;
    }
    return !pf_json_iter_next(&ib, &kb, &vb);
  }
  default: return false;
  }
}

/* Writes root, checks the output, parses it again (exact-size buffer) and
 * compares. */
static void check_roundtrip(const char *name, const pf_json *root, const pf_json_opts *opts) {
  pf_buf out = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &out);
  pf_jw_value(&w, root);
  assert_false(out.failed);
  if (memchr(out.data, '\n', out.len))
    fail_msg("%s: writer output contains a newline", name);
  char *copy = exact_copy(out.data, out.len);
  pf_arena *a2 = pf_arena_create(0);
  pf_json_error err = {0, 0, NULL};
  const pf_json *back = pf_json_parse(copy, out.len, a2, opts, &err);
  if (!back)
    fail_msg("%s: writer output rejected at %zu (%s): %.*s", name, err.offset, err.msg,
             (int)out.len, pf_buf_cstr(&out));
  if (!same_tree(root, back))
    fail_msg("%s: reparsed writer output differs: %s", name, pf_buf_cstr(&out));
  if (!pf_json_equal(root, back) || !pf_json_equal(back, root))
    fail_msg("%s: pf_json_equal() is false after round trip: %s", name, pf_buf_cstr(&out));
  pf_arena_destroy(a2);
  free(copy);
  pf_buf_free(&out);
}

static void test_files(void **state) {
  (void)state;
  file_list fl = list_files();
  /* JSONTestSuite's y_ files include duplicate keys, which RFC 8259 allows. */
  const pf_json_opts allow = {0, 0, PF_JSON_DUP_ALLOW};
  size_t n_y = 0, n_n = 0, n_i = 0, i_accepted = 0, roundtrips = 0, dup_rejected = 0;
  pf_arena *arena = pf_arena_create(0);
  guarded guard = {NULL, 0};
  for (size_t f = 0; f < fl.count; f++) {
    const char *name = fl.names[f];
    size_t len;
    char *buf = read_exact(name, &len);
    pf_json_error err = {0, 0, NULL};
    pf_arena_reset(arena);
    const pf_json *root = pf_json_parse(buf, len, arena, &allow, &err);
    switch (name[0]) {
    case 'y':
      n_y++;
      if (!root)
        fail_msg("%s: valid JSON rejected at %zu: %s", name, err.offset, err.msg);
      break;
    case 'n':
      n_n++;
      if (root)
        fail_msg("%s: invalid JSON accepted", name);
      if (!err.msg || err.offset > len || !is_json_error(err.code))
        fail_msg("%s: bad error report (code %d, offset %zu of %zu, msg %s)", name, err.code,
                 err.offset, len, err.msg ? err.msg : "NULL");
      break;
    case 'i':
      n_i++;
      if (root) {
        i_accepted++;
        print_message("  %-55s accepted\n", name);
      } else {
        assert_non_null(err.msg);
        assert_true(err.offset <= len);
        assert_true(is_json_error(err.code));
        print_message("  %-55s rejected at %zu: %s\n", name, err.offset, err.msg);
      }
      break;
    default: fail_msg("unexpected file %s", name);
    }
    if (root) {
      check_roundtrip(name, root, &allow);
      roundtrips++;
    }
    free(buf);

    /* The default options reject duplicate keys; everything else must be
     * decided the same way. */
    buf = read_exact(name, &len);
    pf_arena_reset(arena);
    pf_json_error err2 = {0, 0, NULL};
    const pf_json *strict = pf_json_parse(buf, len, arena, NULL, &err2);
    if (!strict && root) {
      if (err2.code != -PF_EJSON_DUPKEY)
        fail_msg("%s: accepted with PF_JSON_DUP_ALLOW, rejected by default: %s", name, err2.msg);
      dup_rejected++;
    } else if (strict && !root) {
      fail_msg("%s: rejected with PF_JSON_DUP_ALLOW, accepted by default", name);
    }

    /* the same verdict from a copy that ends at an unreadable page */
    char *raw = read_exact(name, &len);
    char *g = guarded_copy(&guard, raw, len);
    free(raw);
    pf_arena_reset(arena);
    struct sigaction sa, old_segv, old_bus;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    parsing_now = name;
    bool guarded_ok = pf_json_parse(g, len, arena, &allow, NULL) != NULL;
    parsing_now = NULL;
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    if (guarded_ok != (root != NULL))
      fail_msg("%s: different result from the guarded copy", name);
    free(buf);
  }
  guarded_free(&guard);
  pf_arena_destroy(arena);
  print_message("JSONTestSuite: %zu files: %zu y accepted, %zu n rejected, %zu i (%zu accepted, "
                "%zu rejected); %zu round trips; %zu rejected only for duplicate keys\n",
                fl.count, n_y, n_n, n_i, i_accepted, n_i - i_accepted, roundtrips, dup_rejected);
  assert_true(n_y > 0 && n_n > 0 && n_i > 0);
  free_files(&fl);
}

/* The two y_ files with duplicate keys are the only ones the default
 * options reject. */
static void test_default_rejects_duplicates(void **state) {
  (void)state;
  static const char *const names[] = {"y_object_duplicated_key.json",
                                      "y_object_duplicated_key_and_value.json"};
  pf_arena *arena = pf_arena_create(0);
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    size_t len;
    char *buf = read_exact(names[i], &len);
    pf_json_error err = {0, 0, NULL};
    assert_null(pf_json_parse(buf, len, arena, NULL, &err));
    assert_int_equal(err.code, -PF_EJSON_DUPKEY);
    free(buf);
  }
  pf_arena_destroy(arena);
}

/* With PF_JSON_DUP_ALLOW a document may hold a key twice; pf_json_equal()
 * must still find it equal to itself and to its written copy, and tell it
 * apart from the same keys with other values. */
static void test_equal_duplicate_keys(void **state) {
  (void)state;
  const pf_json_opts allow = {0, 0, PF_JSON_DUP_ALLOW};
  pf_arena *arena = pf_arena_create(0);
  size_t len;
  char *buf = read_exact("y_object_duplicated_key.json", &len); /* {"a":"b","a":"c"} */
  const pf_json *root = pf_json_parse(buf, len, arena, &allow, NULL);
  char other[] = "{\"a\":\"b\",\"a\":\"b\"}", copy[] = "{\"a\":\"b\",\"a\":\"c\"}";
  const pf_json *o = pf_json_parse(other, sizeof other - 1, arena, &allow, NULL);
  const pf_json *c = pf_json_parse(copy, sizeof copy - 1, arena, &allow, NULL);
  bool parsed = root && o && c;
  bool self_equal = parsed && pf_json_equal(root, root);
  bool copy_equal = parsed && pf_json_equal(root, c) && pf_json_equal(c, root);
  bool other_equal = parsed && (pf_json_equal(root, o) || pf_json_equal(o, root));
  pf_arena_destroy(arena);
  free(buf);
  assert_true(parsed);
  if (!self_equal)
    print_message("pf_json_equal(x, x) is false for {\"a\":\"b\",\"a\":\"c\"}\n");
  assert_true(self_equal);
  assert_true(copy_equal);
  assert_false(other_equal);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_files),
      cmocka_unit_test(test_default_rejects_duplicates),
      cmocka_unit_test(test_equal_duplicate_keys),
  };
  return cmocka_run_group_tests_name("json_suite", tests, NULL, NULL);
}

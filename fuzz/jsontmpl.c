/* libFuzzer target for the JSON-aware templates (template/jsontmpl.h).
 *
 * The input is a template document. When it compiles, it is rendered
 * against a fixed set of awkward values (quotes, backslashes, control
 * characters, nested containers, big numbers) and against no values at
 * all, and every output must parse as exactly one JSON value: whatever
 * the template and the arguments, the body sent upstream is valid JSON.
 * Every variable listed must be a non-empty name.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
 *       -Db_lto=false -Dbuildtype=debug -Dbench=false
 *   ninja -C build-fuzz
 *   cp -r fuzz/corpus/jsontmpl /tmp/corpus && build-fuzz/fuzz/fuzz_jsontmpl /tmp/corpus
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/json.h>

#include "template/jsontmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz_jsontmpl: check failed at line %d: %s\n", __LINE__, #cond);            \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static const char values_text[] =
    "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\u00e9\",\"n\":-12.5e3,\"i\":18446744073709551615,"
    "\"t\":true,\"z\":null,\"a\":[1,\"x\\\"\",[],{}],\"o\":{\"k\":{\"deep\":[\"}}{{\"]}},"
    "\"e\":\"\",\"x\":\"{{s}}\"}";

/* Reused across runs; reachable from these globals, so never reported as leaks. */
static pf_arena *arena, *values_arena;
static const pf_json *values;
static pf_buf out, err;

static void render_check(const pf_jtmpl *t, const pf_json *vals) {
  pf_tmpl_ctx ctx = {.values = vals};
  pf_buf_reset(&out);
  CHECK(pf_jtmpl_render(t, &ctx, &out) == 0);
  pf_json_opts o = {.dup_keys = PF_JSON_DUP_ALLOW, .max_depth = 4096};
  pf_json_error e;
  const pf_json *v = pf_json_parse_copy(out.data ? out.data : "", out.len, arena, &o, &e);
  if (!v)
    fprintf(stderr, "invalid output: %.*s (%s)\n", (int)out.len, out.data, e.msg);
  CHECK(v != NULL);
  CHECK(!memchr(out.data ? out.data : "", '\n', out.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!arena) {
    arena = pf_arena_create(0);
    values_arena = pf_arena_create(0);
    values = pf_json_parse_copy(values_text, sizeof values_text - 1, values_arena, NULL, NULL);
    CHECK(values != NULL);
  }
  char *text = malloc(size ? size : 1);
  CHECK(text != NULL);
  memcpy(text, data, size);
  pf_buf_reset(&err);
  pf_jtmpl *t = pf_jtmpl_compile(text, size, &err);
  free(text);
  if (!t) {
    CHECK(err.len > 0);
    return 0;
  }
  for (size_t i = 0; i < pf_jtmpl_nvars(t); i++)
    CHECK(pf_jtmpl_var(t, i) && *pf_jtmpl_var(t, i));
  CHECK(pf_jtmpl_var(t, pf_jtmpl_nvars(t)) == NULL);
  render_check(t, values);
  render_check(t, NULL);
  pf_jtmpl_free(t);
  pf_arena_reset(arena);
  return 0;
}

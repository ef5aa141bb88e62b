/* libFuzzer target for condition expressions (template/expr.h).
 *
 * For every input: compile it from an exact-size heap copy (ASan catches
 * any read past the end); on failure the diagnostic must point inside the
 * input with a message; on success every listed variable is a non-empty
 * name, and evaluation against a fixed context (every JSON type, nested
 * containers, a lookup fallback) and against no context at all must not
 * crash and must give the same answer twice.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
 *       -Db_lto=false -Dbuildtype=debug -Dbench=false
 *   ninja -C build-fuzz
 *   cp -r fuzz/corpus/expr /tmp/corpus && build-fuzz/fuzz/fuzz_expr /tmp/corpus
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/json.h>

#include "template/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz_expr: check failed at line %d: %s\n", __LINE__, #cond);                \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static const char values_text[] =
    "{\"a\":{\"b\":[1,2.5,\"x\",null,true,[],{}],\"c\":\"str\"},\"n\":null,\"t\":true,"
    "\"f\":false,\"i\":-9223372036854775808,\"u\":18446744073709551615,\"r\":-0.0,"
    "\"s\":\"\\u00e9\\u0000\",\"e\":[],\"o\":{\"k\":{\"k\":[[1]]}},\"0\":0}";

static pf_arena *arena;
static const pf_json *values, *fallback;

static const pf_json *lookup(void *ud, const char *name, size_t len) {
  (void)ud;
  return len == 8 && memcmp(name, "fallback", 8) == 0 ? fallback : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!arena) {
    arena = pf_arena_create(0);
    CHECK(arena != NULL);
    values = pf_json_parse_copy(values_text, sizeof values_text - 1, arena, NULL, NULL);
    fallback = pf_json_parse_copy("[1,{\"x\":2}]", 11, arena, NULL, NULL);
    CHECK(values && fallback);
  }
  char *buf = malloc(size ? size : 1);
  CHECK(buf != NULL);
  if (size)
    memcpy(buf, data, size);
  pf_tmpl_diag d;
  memset(&d, 0, sizeof d);
  pf_expr *e = pf_expr_compile(size ? buf : NULL, size, &d);
  if (!e) {
    CHECK(d.offset <= size || (size > PF_EXPR_MAX_LEN && d.offset == PF_EXPR_MAX_LEN));
    CHECK(d.line >= 1 && d.col >= 1);
    CHECK(d.msg[0] != '\0' && memchr(d.msg, '\0', sizeof d.msg) != NULL);
    free(buf);
    return 0;
  }
  CHECK(size <= PF_EXPR_MAX_LEN);
  for (size_t i = 0; i < pf_expr_nvars(e); i++)
    CHECK(pf_expr_var(e, i) != NULL && pf_expr_var(e, i)[0] != '\0');
  CHECK(pf_expr_var(e, pf_expr_nvars(e)) == NULL);
  free(buf); /* the expression copied what it needs */
  pf_tmpl_ctx ctx = {.values = values, .lookup = lookup};
  bool r = pf_expr_eval(e, &ctx);
  CHECK(pf_expr_eval(e, &ctx) == r);
  r = pf_expr_eval(e, NULL);
  CHECK(pf_expr_eval(e, NULL) == r);
  pf_expr_free(e);
  return 0;
}

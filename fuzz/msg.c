/* libFuzzer target: pf__json_parse_msg (the message fast path, and its
 * message shapes) against pf_json_parse, on the same bytes.
 *
 * Both must agree on everything a caller can see: accept or refuse; on
 * refusal the same error code, offset and message; on success node for
 * node the same tree (type, length, value; strings at the same offset in
 * their buffer) and the same buffer afterwards (the in-place NULs and
 * unescaping). One difference is allowed, for a message read through a
 * shape: its member names and "jsonrpc"/"method" values are the shape's
 * own NUL-terminated text (the same bytes), so the buffer keeps the closing
 * quotes of exactly those strings where pf_json_parse wrote NULs. The first byte picks options: small nesting limits and
 * duplicate-key handling. The rest is one message, or two separated by a
 * newline: the first is read with a fresh shape cache (and learned), then
 * the second and the first again with the same cache, so the second is
 * read through the first one's shape whenever it matches it.
 *
 *   build-fuzz/fuzz/fuzz_msg CORPUS   (seeds: fuzz/corpus/json, fuzz/corpus/rpc)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/json.h>

#include "json/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz_msg: check failed at line %d: %s\n", __LINE__, #cond);                 \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static pf_arena *arena_a, *arena_b;

/* Exactly n bytes, so ASan sees any read past the end. */
static char *exact_copy(const void *p, size_t n) {
  char *c = malloc(n ? n : 1);
  CHECK(c != NULL);
  if (n)
    memcpy(c, p, n);
  return c;
}

/* One message through pf__json_parse_msg (with shapes, or NULL) and
 * pf_json_parse: the same outcome. */
static void same(const uint8_t *data, size_t size, const pf_json_opts *opts,
                 pf__json_shapes *shapes) {
  char *a = exact_copy(data, size), *b = exact_copy(data, size);
  pf_arena_reset(arena_a);
  pf_arena_reset(arena_b);
  pf_json_error ea = {1, 7, "untouched"}, eb = {1, 7, "untouched"};
  const pf_json *ra = pf__json_parse_msg(a, size, arena_a, opts, &ea, shapes);
  const pf_json *rb = pf_json_parse(b, size, arena_b, opts, &eb);
  CHECK(!ra == !rb);
  /* where the buffers may differ: the ends of strings read from a shape */
  bool *shape_end = calloc(size + 1, 1);
  CHECK(shape_end != NULL);
  if (!ra) {
    CHECK(ea.code == eb.code);
    CHECK(ea.offset == eb.offset);
    CHECK(strcmp(ea.msg, eb.msg) == 0);
  } else {
    size_t n = pf__json_span(ra);
    CHECK(n == pf__json_span(rb));
    for (size_t i = 0; i < n; i++) {
      const pf_json *x = &ra[i], *y = &rb[i];
      CHECK(x->type == y->type);
      if (x->type >= PF_JSON_STRING) /* scalars leave len unset */
        CHECK(x->len == y->len);
      if (x->type == PF_JSON_STRING && (x->v.s < a || x->v.s >= a + size)) {
        CHECK(shapes && pf__json_shapes_last(shapes) != 0);
        CHECK(memcmp(x->v.s, y->v.s, x->len) == 0 && x->v.s[x->len] == '\0');
        CHECK(y->v.s >= b && y->v.s + y->len < b + size && y->v.s[y->len] == '\0');
        shape_end[y->v.s + y->len - b] = true;
      } else if (x->type == PF_JSON_STRING)
        CHECK(x->v.s - a == y->v.s - b);
      else
        CHECK(memcmp(&x->v, &y->v, sizeof x->v) == 0);
    }
  }
  /* the same bytes afterwards, whatever the outcome, but for the ends of
   * strings read from a shape: a closing quote, which b has as a NUL */
  for (size_t i = 0; i < size; i++)
    CHECK(a[i] == b[i] || (shape_end[i] && a[i] == '"' && b[i] == '\0'));
  free(shape_end);
  free(a);
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!arena_a) {
    arena_a = pf_arena_create(0);
    arena_b = pf_arena_create(0);
    CHECK(arena_a && arena_b);
  }
  if (size == 0)
    return 0;
  pf_json_opts opts = {0, 0, PF_JSON_DUP_REJECT};
  uint8_t sel = data[0];
  if ((sel & 3) == 1)
    opts.max_depth = 1 + (sel >> 2) % 4; /* 1..4: the fast path's levels and one more */
  if ((sel & 0x30) == 0x30)
    opts.dup_keys = PF_JSON_DUP_ALLOW;
  data++, size--;

  same(data, size, &opts, NULL);
  const uint8_t *nl = memchr(data, '\n', size);
  size_t n1 = nl ? (size_t)(nl - data) : size;
  pf__json_shapes *shapes = pf__json_shapes_new();
  CHECK(shapes != NULL);
  same(data, n1, &opts, shapes);
  if (nl) {
    same(nl + 1, size - n1 - 1, &opts, shapes);
    /* the second one under the default limits too (the first shape was
     * learned under opts) */
    same(nl + 1, size - n1 - 1, NULL, shapes);
  } else if (n1) {
    /* the same layout with other values: every digit turned into another
     * (ids, numbers, digits in strings), so the message is mostly read
     * through the first one's shape */
    uint8_t *v = malloc(n1);
    CHECK(v != NULL);
    for (size_t i = 0; i < n1; i++)
      v[i] = data[i] >= '0' && data[i] <= '9' ? (uint8_t)('0' + (data[i] - '0' + sel) % 10)
                                              : data[i];
    same(v, n1, &opts, shapes);
    free(v);
  }
  same(data, n1, &opts, shapes);
  pf__json_shapes_free(shapes);
  return 0;
}

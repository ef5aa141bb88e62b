/* libFuzzer target for the JSON parser and writer.
 *
 * For every input: parse it from an exact-size heap copy (ASan catches any
 * read past the end); when it is accepted, write it back with
 * pf_jw_value(), parse the output again and require the same tree, with no
 * newline in the output. Independently, escape the raw input as a string
 * body and require that the quoted result parses as one string.
 *
 * The first byte picks options, so the fuzzer also explores small nesting
 * limits and duplicate-key handling.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
 *       -Db_lto=false -Dbuildtype=debug -Dbench=false
 *   ninja -C build-fuzz
 *   cp -r fuzz/corpus/json /tmp/corpus && build-fuzz/fuzz/fuzz_json /tmp/corpus
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/json.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz_json: check failed at line %d: %s\n", __LINE__, #cond);                \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* Reused across runs (reset each time), so steady-state code paths are
 * exercised too. Reachable from these globals, so never reported as leaks. */
static pf_arena *arena;
static pf_buf out, esc;

/* Exactly n bytes: malloc(0) for empty input, so that any access at all is
 * out of bounds for ASan. */
static char *exact_copy(const void *p, size_t n) {
  char *c = malloc(n);
  CHECK(c != NULL || n == 0);
  if (n)
    memcpy(c, p, n);
  return c;
}

/* Ordered equality of a value and its written-and-reparsed copy: same
 * types, bit-identical doubles, byte-identical strings and keys in the same
 * order. The writer prints an integral double below 2^53 (and 2^53) without
 * a fraction, so a REAL may come back as an INT/UINT of the same value. */
static bool same_tree(const pf_json *a, const pf_json *b) {
  pf_json_type ta = pf_json_typeof(a), tb = pf_json_typeof(b);
  if (ta != tb)
    return ta == PF_JSON_REAL && (tb == PF_JSON_INT || tb == PF_JSON_UINT) && pf_json_equal(a, b);
  switch (ta) {
  case PF_JSON_REAL: {
    double x = pf_json_num_or(a, 0), y = pf_json_num_or(b, 1);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  case PF_JSON_ARRAY:
  case PF_JSON_OBJECT: {
    if (pf_json_len(a) != pf_json_len(b))
      return false;
    pf_json_iter ia = pf_json_iter_init(a), ib = pf_json_iter_init(b);
    const pf_json *ka, *va, *kb, *vb;
    while (pf_json_iter_next(&ia, &ka, &va))
      if (!pf_json_iter_next(&ib, &kb, &vb) || (ka && !pf_json_equal(ka, kb)) || !same_tree(va, vb))
        return false;
    return true;
  }
  default: return pf_json_equal(a, b);
  }
}

static void check_document(const uint8_t *data, size_t size) {
  pf_json_opts opts = {0, 0, PF_JSON_DUP_REJECT};
  uint8_t sel = size ? data[0] : 0;
  if ((sel & 3) == 1)
    opts.max_depth = 1 + (sel >> 2) % 8; /* a small nesting limit */
  if ((sel & 0x30) == 0x30)
    opts.dup_keys = PF_JSON_DUP_ALLOW;

  char *buf = exact_copy(data, size);
  pf_arena_reset(arena);
  pf_json_error err = {0, 0, NULL};
  const pf_json *root = pf_json_parse(buf, size, arena, &opts, &err);
  if (!root) {
    CHECK(err.msg != NULL);
    CHECK(err.code < 0);
    CHECK(err.offset <= size);
    char pos[64];
    pf_json_error_pos((const char *)data, size, &err, pos, sizeof pos);
    free(buf);
    return;
  }

  pf_buf_reset(&out);
  pf_json_writer w;
  pf_jw_init(&w, &out);
  pf_jw_value(&w, root);
  CHECK(!out.failed);
  CHECK(memchr(out.data, '\n', out.len) == NULL);

  /* The output nests exactly as deep and has the same keys, so the same
   * options accept it; it may be longer than the input, so no size limit
   * applies. */
  char *buf2 = exact_copy(out.data, out.len);
  pf_json_error err2 = {0, 0, NULL};
  const pf_json *back = pf_json_parse(buf2, out.len, arena, &opts, &err2);
  if (!back)
    fprintf(stderr, "fuzz_json: output rejected at %zu: %s\n", err2.offset, err2.msg);
  CHECK(back != NULL);
  CHECK(same_tree(root, back));
  CHECK(pf_json_equal(root, back) && pf_json_equal(back, root));
  free(buf2);
  free(buf);
}

/* Well-formed UTF-8 (decode, then reject overlong forms, surrogates and
 * values above U+10FFFF). */
static bool valid_utf8(const uint8_t *s, size_t n) {
  static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < n;) {
    uint32_t c = s[i];
    size_t k;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      k = 1;
      c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      k = 2;
      c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      k = 3;
      c &= 0x07;
    } else {
      return false;
    }
    if (n - i <= k)
      return false;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80)
        return false;
      c = c << 6 | (s[i + j] & 0x3F);
    }
    if (c < min_cp[k] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
      return false;
    i += k + 1;
  }
  return true;
}

static void check_escape(const uint8_t *data, size_t size) {
  pf_buf_reset(&esc);
  pf_buf_putc(&esc, '"');
  pf_json_escape(&esc, (const char *)data, size);
  pf_buf_putc(&esc, '"');
  CHECK(!esc.failed);
  for (size_t i = 0; i < esc.len; i++)
    CHECK((uint8_t)esc.data[i] >= 0x20);
  char *buf = exact_copy(esc.data, esc.len);
  pf_arena_reset(arena);
  pf_json_error err = {0, 0, NULL};
  const pf_json *s = pf_json_parse(buf, esc.len, arena, NULL, &err);
  if (!s)
    fprintf(stderr, "fuzz_json: escaped input rejected at %zu: %s\n", err.offset, err.msg);
  CHECK(s != NULL);
  CHECK(pf_json_typeof(s) == PF_JSON_STRING);
  /* Replacement never shortens: each invalid subpart (1-3 bytes) becomes
   * U+FFFD (3 bytes), everything else is kept. */
  size_t len;
  const char *str = pf_json_str(s, &len);
  CHECK(len >= size);
  /* valid UTF-8 comes back byte for byte */
  if (valid_utf8(data, size))
    CHECK(len == size && (size == 0 || memcmp(str, data, size) == 0));
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!arena) {
    arena = pf_arena_create(0);
    CHECK(arena != NULL);
  }
  check_document(data, size);
  check_escape(data, size);
  /* an unusually large input must not keep its memory forever */
  pf_arena_reset(arena);
  pf_arena_trim(arena, 1 << 20);
  if (out.cap > (1u << 20))
    pf_buf_free(&out);
  if (esc.cap > (1u << 20))
    pf_buf_free(&esc);
  return 0;
}

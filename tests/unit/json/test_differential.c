/* Differential test against jansson: random valid documents must give the
 * same tree in both parsers, random mutations of them must be accepted or
 * rejected by both (up to the documented differences listed below), and
 * our writer's output must read back the same in jansson.
 *
 * jansson is correctly rounding (glibc strtod) and validates UTF-8 and
 * \u escapes as strictly as RFC 8259 requires, so numbers are compared bit
 * for bit and strings byte for byte. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "support.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>
#include <pforge/json.h>

#define N_DOCS 20000
#define N_MUTATIONS 20000
#define MAX_GEN_DEPTH 20

/* jansson flags: any value at the top level, the same duplicate-key policy
 * as our default, and \u0000 allowed in string values as RFC 8259 does. */
#define JANSSON_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

typedef unsigned char u8;

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next_u64(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static uint32_t below(uint32_t n) { return (uint32_t)(next_u64() % n); }
static bool chance(uint32_t percent) { return below(100) < percent; }

static char *exact_copy(const char *p, size_t n) {
  char *c = malloc(n);
  if (n) {
    assert_non_null(c);
    memcpy(c, p, n);
  }
  return c;
}

/* A copy of p[0..n) that ends where an unreadable page begins: a read past
 * the end faults even where ASan's instrumentation does not look (GCC
 * turns a short memcmp into one unaligned load it does not check). */
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

/* The input being parsed from a guarded copy, printed in hex (with
 * async-signal-safe writes) if the parse faults. */
static const char *fault_input;
static size_t fault_len;

static void on_fault(int sig) {
  static const char msg[] = "\nread past the end of the input (guard page); input in hex:\n";
  static const char hex[] = "0123456789abcdef";
  ssize_t w = write(2, msg, sizeof msg - 1);
  for (size_t i = 0; fault_input && i < fault_len; i++) {
    char h[3] = {hex[(unsigned char)fault_input[i] >> 4], hex[fault_input[i] & 15], ' '};
    w = write(2, h, 3);
  }
  w = write(2, "\n", 1);
  (void)w;
  signal(sig, SIG_DFL);
}

static void dump_hex(const char *what, const char *p, size_t n) {
  fprintf(stderr, "%s (%zu bytes):", what, n);
  for (size_t i = 0; i < n && i < 4096; i++)
    fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", (u8)p[i]);
  fprintf(stderr, "%s\n", n > 4096 ? "\n  ..." : "");
}

/* ------------------------------------------------------------------ */
/* Generator                                                           */

static void ws(pf_buf *b) {
  static const char spaces[] = " \t\n\r";
  if (chance(60))
    return;
  for (uint32_t n = 1 + below(3); n; n--)
    pf_buf_putc(b, spaces[below(4)]);
}

static size_t utf8_encode(uint32_t cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 63));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 63));
    o[2] = (char)(0x80 | (cp & 63));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | (cp >> 12 & 63));
  o[2] = (char)(0x80 | (cp >> 6 & 63));
  o[3] = (char)(0x80 | (cp & 63));
  return 4;
}

/* A random scalar value of the given UTF-8 length (1..4), no surrogates. */
static uint32_t random_cp(int len) {
  for (;;) {
    uint32_t cp;
    switch (len) {
    case 1: cp = below(0x80); break;
    case 2: cp = 0x80 + below(0x800 - 0x80); break;
    case 3: cp = 0x800 + below(0x10000 - 0x800); break;
    default: cp = 0x10000 + below(0x110000 - 0x10000); break;
    }
    if (cp < 0xD800 || cp > 0xDFFF)
      return cp;
  }
}

static void put_hex4(pf_buf *b, uint32_t v) {
  for (int s = 12; s >= 0; s -= 4) {
    unsigned d = (v >> s) & 15;
    char c = (char)(d < 10 ? '0' + d : (chance(50) ? 'a' : 'A') + d - 10);
    pf_buf_putc(b, c);
  }
}

/* A string literal: its JSON text goes to b, its decoded bytes to dec. */
static void gen_string(pf_buf *b, pf_buf *dec, bool key) {
  pf_buf_putc(b, '"');
  uint32_t pieces = chance(10) ? 0 : 1 + below(key ? 4 : 10);
  for (uint32_t i = 0; i < pieces; i++) {
    char u[4];
    uint32_t r = below(100);
    if (r < 40) { /* plain ASCII */
      for (uint32_t n = 1 + below(8); n; n--) {
        char c = (char)(0x20 + below(0x5F));
        if (c == '"' || c == '\\')
          c = 'q';
        pf_buf_putc(b, c);
        pf_buf_putc(dec, c);
      }
    } else if (r < 55) { /* two-character escapes */
      static const char esc[] = "\"\\/bfnrt", val[] = "\"\\/\b\f\n\r\t";
      uint32_t k = below(8);
      pf_buf_putc(b, '\\');
      pf_buf_putc(b, esc[k]);
      pf_buf_putc(dec, val[k]);
    } else if (r < 70) { /* \uXXXX in the BMP, \u0000 only in values */
      uint32_t cp = random_cp(1 + (int)below(3));
      if (key && cp == 0)
        cp = 0x41;
      pf_buf_append(b, "\\u", 2);
      put_hex4(b, cp);
      pf_buf_append(dec, u, utf8_encode(cp, u));
    } else if (r < 78) { /* surrogate pair */
      uint32_t cp = random_cp(4), v = cp - 0x10000;
      pf_buf_append(b, "\\u", 2);
      put_hex4(b, 0xD800 | v >> 10);
      pf_buf_append(b, "\\u", 2);
      put_hex4(b, 0xDC00 | (v & 0x3FF));
      pf_buf_append(dec, u, utf8_encode(cp, u));
    } else if (r < 97) { /* raw multi-byte UTF-8 */
      size_t n = utf8_encode(random_cp(2 + (int)below(3)), u);
      pf_buf_append(b, u, n);
      pf_buf_append(dec, u, n);
    } else { /* DEL needs no escape */
      pf_buf_putc(b, 0x7F);
      pf_buf_putc(dec, 0x7F);
    }
  }
  pf_buf_putc(b, '"');
}

static void gen_number(pf_buf *b) {
  uint32_t r = below(100);
  if (r < 30) { /* integers across the int64 range */
    static const char *const edges[] = {"0", "-0", "9223372036854775807", "-9223372036854775808",
                                        "1", "-1", "9007199254740993",    "-9007199254740993"};
    if (chance(10)) {
      pf_buf_puts(b, edges[below(8)]);
      return;
    }
    uint64_t u = next_u64() >> below(64);
    if (chance(50))
      pf_buf_printf(b, "%" PRId64, (int64_t)u);
    else
      pf_buf_printf(b, "%" PRId64, (int64_t)(u >> 1));
  } else if (r < 45) { /* shortest and 17-digit forms of random doubles */
    char tmp[64];
    for (;;) {
      double d;
      uint64_t bits = next_u64();
      memcpy(&d, &bits, sizeof d);
      snprintf(tmp, sizeof tmp, "%.*g", 1 + (int)below(17), d);
      if (isfinite(d) && isfinite(strtod(tmp, NULL))) /* "1.8e+308" would overflow */
        break;
    }
    pf_buf_puts(b, tmp);
  } else if (r < 60) { /* fixed formats */
    static const char *const fixed[] = {"1.5e-7",
                                        "0.000123",
                                        "123456789.125",
                                        "-0.0",
                                        "0.0",
                                        "0e0",
                                        "1E+2",
                                        "-0e-0",
                                        "5e-324",
                                        "1.7976931348623157e308",
                                        "2.2250738585072014e-308",
                                        "2.2250738585072011e-308",
                                        "1e-400",
                                        "-1e-400",
                                        "0.1",
                                        "0.30000000000000004",
                                        "9007199254740993.0",
                                        "1e22",
                                        "1e23",
                                        "3.0",
                                        "4.9406564584124654e-324",
                                        "1.00000000000000011102230246251565404236316680908203125",
                                        "123456789012345678901234567890.5",
                                        "-123456789012345678901234567890.0e-5",
                                        "100e-2",
                                        "1.5E+07"};
    pf_buf_puts(b, fixed[below(sizeof fixed / sizeof *fixed)]);
  } else { /* random mantissa, '.' position and exponent */
    if (chance(40))
      pf_buf_putc(b, '-');
    uint32_t idigits = 1 + below(chance(20) ? 25 : 8);
    if (chance(30)) {
      pf_buf_putc(b, '0');
      idigits = 1;
    } else {
      pf_buf_putc(b, (char)('1' + below(9)));
      for (uint32_t i = 1; i < idigits; i++)
        pf_buf_putc(b, (char)('0' + below(10)));
    }
    bool frac = chance(70);
    if (frac) {
      pf_buf_putc(b, '.');
      for (uint32_t n = 1 + below(chance(20) ? 30 : 8); n; n--)
        pf_buf_putc(b, (char)('0' + below(10)));
    }
    if (!frac || chance(60)) {
      pf_buf_putc(b, chance(50) ? 'e' : 'E');
      int ex = (int)below(640) - 340;
      if (ex + (int)idigits > 300)
        ex = 300 - (int)idigits;
      if (ex < 0)
        pf_buf_putc(b, '-');
      else if (chance(30))
        pf_buf_putc(b, '+');
      pf_buf_printf(b, chance(10) ? "00%d" : "%d", abs(ex));
    }
  }
}

typedef struct gen_state {
  int budget;    /* values left */
  int max_depth; /* containers nest at most this deep */
  int reached;   /* deepest level generated */
  pf_buf keys;   /* decoded keys of the objects being generated */
} gen_state;

static void gen_value(gen_state *g, pf_buf *b, int depth);

static void gen_array(gen_state *g, pf_buf *b, int depth) {
  pf_buf_putc(b, '[');
  ws(b);
  uint32_t n = g->max_depth >= 12 && chance(70) ? 1 : below(6);
  for (uint32_t i = 0; i < n && g->budget > 0; i++) {
    if (i) {
      pf_buf_putc(b, ',');
      ws(b);
    }
    gen_value(g, b, depth + 1);
    ws(b);
  }
  pf_buf_putc(b, ']');
}

static void gen_object(gen_state *g, pf_buf *b, int depth) {
  pf_buf_putc(b, '{');
  ws(b);
  uint32_t n = g->max_depth >= 12 && chance(70) ? 1 : below(6);
  /* decoded keys of this object, each stored as <size_t len><bytes> */
  size_t mark = g->keys.len;
  pf_buf text = PF_BUF_INIT, dec = PF_BUF_INIT;
  uint32_t written = 0;
  for (uint32_t i = 0; i < n && g->budget > 0; i++) {
    bool unique;
    int tries = 0;
    do {
      pf_buf_reset(&text);
      pf_buf_reset(&dec);
      gen_string(&text, &dec, true);
      unique = true;
      for (size_t at = mark; at < g->keys.len;) {
        size_t kl;
        memcpy(&kl, g->keys.data + at, sizeof kl);
        if (kl == dec.len && (kl == 0 || memcmp(g->keys.data + at + sizeof kl, dec.data, kl) == 0))
          unique = false;
        at += sizeof kl + kl;
      }
    } while (!unique && ++tries < 20);
    if (!unique)
      break;
    pf_buf_append(&g->keys, &dec.len, sizeof dec.len);
    pf_buf_append(&g->keys, dec.data, dec.len);
    if (written++) {
      pf_buf_putc(b, ',');
      ws(b);
    }
    pf_buf_append(b, text.data, text.len);
    ws(b);
    pf_buf_putc(b, ':');
    ws(b);
    gen_value(g, b, depth + 1);
    ws(b);
  }
  pf_buf_free(&text);
  pf_buf_free(&dec);
  g->keys.len = mark;
  pf_buf_putc(b, '}');
}

static void gen_value(gen_state *g, pf_buf *b, int depth) {
  g->budget--;
  if (depth > g->reached)
    g->reached = depth;
  uint32_t r = below(100);
  bool nest = depth < g->max_depth && g->budget > 0;
  /* deep documents nest nearly always, so some reach max_depth */
  uint32_t pnest = g->max_depth >= 12 ? 90 : 40;
  if (nest && r < pnest / 2) {
    gen_array(g, b, depth);
  } else if (nest && r < pnest) {
    gen_object(g, b, depth);
  } else if (r < 60) {
    pf_buf dec = PF_BUF_INIT;
    gen_string(b, &dec, false);
    pf_buf_free(&dec);
  } else if (r < 85) {
    gen_number(b);
  } else {
    static const char *const lits[] = {"true", "false", "null"};
    pf_buf_puts(b, lits[below(3)]);
  }
}

/* A random document: any value at the top, nesting up to MAX_GEN_DEPTH. */
static int gen_document(pf_buf *b, int max_budget) {
  gen_state g = {1 + (int)below((uint32_t)max_budget), 0, 0, PF_BUF_INIT};
  uint32_t r = below(100);
  g.max_depth = r < 60 ? 1 + (int)below(4) : r < 85 ? 1 + (int)below(10) : 12 + (int)below(9);
  if (g.max_depth >= 12 && g.budget < 2 * g.max_depth)
    g.budget = 2 * g.max_depth;
  pf_buf_reset(b);
  ws(b);
  /* containers at the root most of the time, as in real messages */
  if (chance(80) && g.budget > 1) {
    g.budget--;
    if (chance(50))
      gen_object(&g, b, 1);
    else
      gen_array(&g, b, 1);
    g.reached = g.reached > 1 ? g.reached : 1;
  } else {
    gen_value(&g, b, 0);
  }
  ws(b);
  pf_buf_free(&g.keys);
  assert_false(b->failed);
  return g.reached;
}

/* ------------------------------------------------------------------ */
/* Comparison                                                          */

/* Compares our tree with jansson's. Strict: same types (our INT is a
 * jansson integer, REAL a jansson real), bit-identical doubles,
 * byte-identical strings. Loose (jansson read our writer's output): a REAL
 * with an integral value may be a jansson integer of that value, because
 * the writer prints integral doubles below 2^53 without a fraction (and
 * 2^53 itself, whose shortest form "9007199254740992" has no exponent). */
static bool same_as_jansson(const pf_json *p, const json_t *j, bool loose) {
  switch (pf_json_typeof(p)) {
  case PF_JSON_NULL: return json_is_null(j);
  case PF_JSON_BOOL: return json_is_boolean(j) && json_is_true(j) == pf_json_bool_or(p, false);
  case PF_JSON_INT: return json_is_integer(j) && json_integer_value(j) == pf_json_int_or(p, 0);
  case PF_JSON_UINT: return false; /* beyond json_int_t: jansson cannot hold it */
  case PF_JSON_REAL: {
    double d = pf_json_num_or(p, 0);
    if (json_is_real(j)) {
      double e = json_real_value(j);
      return memcmp(&d, &e, sizeof d) == 0;
    }
    return loose && json_is_integer(j) && fabs(d) < 9223372036854775808.0 && d == floor(d) &&
           (json_int_t)d == json_integer_value(j);
  }
  case PF_JSON_STRING: {
    size_t len;
    const char *s = pf_json_str(p, &len);
    return json_is_string(j) && json_string_length(j) == len &&
           memcmp(json_string_value(j), s, len) == 0;
  }
  case PF_JSON_ARRAY: {
    if (!json_is_array(j) || json_array_size(j) != pf_json_len(p))
      return false;
    pf_json_iter it = pf_json_iter_init(p);
    const pf_json *v;
    for (size_t i = 0; pf_json_iter_next(&it, NULL, &v); i++)
      if (!same_as_jansson(v, json_array_get(j, i), loose))
        return false;
    return true;
  }
  case PF_JSON_OBJECT: {
    if (!json_is_object(j) || json_object_size(j) != pf_json_len(p))
      return false;
    pf_json_iter it = pf_json_iter_init(p);
    const pf_json *k, *v;
    while (pf_json_iter_next(&it, &k, &v)) {
      size_t kl;
      const char *ks = pf_json_str(k, &kl);
      const json_t *jv = json_object_getn(j, ks, kl);
      if (!jv || !same_as_jansson(v, jv, loose))
        return false;
    }
    return true;
  }
  default: return false;
  }
}

/* Ordered equality of two of our trees; an integral REAL may come back as
 * an INT/UINT (see the writer). */
static bool same_tree(const pf_json *a, const pf_json *b) {
  pf_json_type ta = pf_json_typeof(a), tb = pf_json_typeof(b);
  if (ta != tb)
    return ta == PF_JSON_REAL && (tb == PF_JSON_INT || tb == PF_JSON_UINT) && pf_json_equal(a, b);
  if (ta == PF_JSON_REAL) {
    double x = pf_json_num_or(a, 0), y = pf_json_num_or(b, 1);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  if (ta != PF_JSON_ARRAY && ta != PF_JSON_OBJECT)
    return pf_json_equal(a, b);
  if (pf_json_len(a) != pf_json_len(b))
    return false;
  pf_json_iter ia = pf_json_iter_init(a), ib = pf_json_iter_init(b);
  const pf_json *ka, *va, *kb, *vb;
  while (pf_json_iter_next(&ia, &ka, &va))
    if (!pf_json_iter_next(&ib, &kb, &vb) || (ka && !pf_json_equal(ka, kb)) || !same_tree(va, vb))
      return false;
  return true;
}

/* ------------------------------------------------------------------ */
/* Documented divergences                                              */

/* The only accepted divergences. "We accept, jansson rejects":
 *
 *  BIGINT:  an integer literal (no fraction, no exponent) outside
 *           [LLONG_MIN, LLONG_MAX]. jansson stores integers as json_int_t
 *           (long long) and reports json_error_numeric_overflow ("too big
 *           integer"; jansson doc/conformance.rst, "Overflow, Underflow &
 *           Precision"); RFC 8259 sets no range, and we give PF_JSON_UINT
 *           up to UINT64_MAX and PF_JSON_REAL beyond.
 *  NULKEY:  an object key containing U+0000 (written \u0000). jansson
 *           reports json_error_null_byte_in_key ("Object keys cannot have
 *           embedded null bytes even if this flag is used", doc/apiref.rst,
 *           JSON_ALLOW_NUL); RFC 8259 allows any code point in a key.
 *
 * "Jansson accepts, we reject" (jansson accepting what RFC 8259 forbids):
 *
 *  NULTOKEN: a raw NUL byte right after a number or a true/false/null
 *           literal, as in "[1\0]" or "true\0". Not documented jansson
 *           behaviour but a jansson 2.14 bug: the lexer pushes back the
 *           byte that ends such a token, and its one-character stream
 *           buffer takes a NUL there for "empty", so the NUL is skipped.
 *           A raw U+0000 outside a string is not JSON (RFC 8259 section 2:
 *           only space, tab, LF and CR are whitespace). Checked by deleting
 *           exactly those NULs: we must then accept jansson's tree.
 */
enum { WE_ONLY_BIGINT, WE_ONLY_NULKEY, THEY_ONLY_NULTOKEN, N_REASONS };
static const char *const reason_names[N_REASONS] = {"BIGINT", "NULKEY", "NULTOKEN"};

/* Does valid JSON text contain an integer literal outside long long? */
static bool has_bigint_literal(const char *p, size_t n) {
  for (size_t i = 0; i < n;) {
    char c = p[i];
    if (c == '"') {
      for (i++; i < n && p[i] != '"'; i++)
        if (p[i] == '\\')
          i++;
      i++;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t s = i;
      bool integer = true;
      while (i < n && strchr("+-0123456789.eE", p[i]) && p[i] != '\0') {
        if (p[i] == '.' || p[i] == 'e' || p[i] == 'E')
          integer = false;
        i++;
      }
      if (integer) {
        char tmp[512];
        if (i - s >= sizeof tmp)
          return true; /* hundreds of digits: out of range */
        memcpy(tmp, p + s, i - s);
        tmp[i - s] = '\0';
        errno = 0;
        (void)strtoll(tmp, NULL, 10);
        if (errno == ERANGE)
          return true;
      }
    } else {
      i++;
    }
  }
  return false;
}

static bool has_nul_key(const pf_json *v) {
  pf_json_iter it = pf_json_iter_init(v);
  const pf_json *k, *x;
  while (pf_json_iter_next(&it, &k, &x)) {
    size_t kl;
    const char *ks = pf_json_str(k, &kl);
    if ((ks && memchr(ks, '\0', kl)) || has_nul_key(x))
      return true;
  }
  return false;
}

/* Why we accepted text that jansson rejected with jerr; -1 if not allowed. */
static int classify(const char *text, size_t len, const pf_json *ours, const json_error_t *jerr) {
  enum json_error_code code = json_error_code(jerr);
  if (code == json_error_numeric_overflow && has_bigint_literal(text, len))
    return WE_ONLY_BIGINT;
  if (code == json_error_null_byte_in_key && has_nul_key(ours))
    return WE_ONLY_NULKEY;
  return -1;
}

/* Why jansson accepted text (tree theirs) that we rejected; -1 if not
 * allowed. */
static int classify_theirs(const char *text, size_t len, const json_t *theirs) {
  /* delete each NUL that directly follows a digit or a letter outside a
   * string: what jansson's lexer skips */
  char *fixed = malloc(len ? len : 1);
  assert_non_null(fixed);
  size_t n = 0, dropped = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\' && i + 1 < len)
        fixed[n++] = text[i++];
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '\0' && i > 0 &&
               ((text[i - 1] >= '0' && text[i - 1] <= '9') ||
                (text[i - 1] >= 'a' && text[i - 1] <= 'z'))) {
      dropped++;
      continue;
    }
    fixed[n++] = text[i];
  }
  int why = -1;
  if (dropped) {
    char *buf = exact_copy(fixed, n);
    pf_arena *a = pf_arena_create(0);
    const pf_json *ours = pf_json_parse(buf, n, a, NULL, NULL);
    if (ours && same_as_jansson(ours, theirs, false))
      why = THEY_ONLY_NULTOKEN;
    pf_arena_destroy(a);
    free(buf);
  }
  free(fixed);
  return why;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static pf_arena *arena;

static int setup(void **state) {
  (void)state;
  arena = pf_arena_create(0);
  return arena ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  pf_arena_destroy(arena);
  return 0;
}

static void test_generated(void **state) {
  (void)state;
  pf_buf text = PF_BUF_INIT, out = PF_BUF_INIT;
  size_t bytes = 0;
  int deepest = 0, deep_docs = 0;
  for (int i = 0; i < N_DOCS; i++) {
    int depth = gen_document(&text, i % 50 == 0 ? 1000 : 150);
    if (depth > deepest)
      deepest = depth;
    deep_docs += depth >= 15;
    bytes += text.len;

    pf_arena_reset(arena);
    char *buf = exact_copy(text.data, text.len);
    pf_json_error err = {0, 0, NULL};
    const pf_json *ours = pf_json_parse(buf, text.len, arena, NULL, &err);
    json_error_t jerr;
    json_t *theirs = json_loadb(text.data, text.len, JANSSON_FLAGS, &jerr);
    if (!ours || !theirs) {
      dump_hex("document", text.data, text.len);
      fail_msg("document %d: ours %s at %zu, jansson %s at %d: %s", i, ours ? "accepted" : err.msg,
               err.offset, theirs ? "accepted" : "rejected", jerr.position, jerr.text);
    }
    if (!same_as_jansson(ours, theirs, false)) {
      dump_hex("document", text.data, text.len);
      fail_msg("document %d: trees differ", i);
    }

    /* our writer's output: jansson reads the same tree, so do we */
    pf_buf_reset(&out);
    pf_json_writer w;
    pf_jw_init(&w, &out);
    pf_jw_value(&w, ours);
    assert_false(out.failed);
    json_t *back = json_loadb(out.data, out.len, JANSSON_FLAGS, &jerr);
    if (!back || !same_as_jansson(ours, back, true)) {
      dump_hex("writer output", out.data, out.len);
      fail_msg("document %d: jansson %s our output (%s)", i, back ? "misreads" : "rejects",
               back ? "" : jerr.text);
    }
    char *buf2 = exact_copy(out.data, out.len);
    const pf_json *ours2 = pf_json_parse(buf2, out.len, arena, NULL, &err);
    if (!ours2 || !same_tree(ours, ours2) || !pf_json_equal(ours, ours2)) {
      dump_hex("writer output", out.data, out.len);
      fail_msg("document %d: our output does not read back", i);
    }

    /* and jansson's own output reads the same in our parser */
    char *dumped = json_dumps(theirs, JSON_ENCODE_ANY | JSON_COMPACT);
    assert_non_null(dumped);
    size_t dl = strlen(dumped);
    char *buf3 = exact_copy(dumped, dl);
    const pf_json *ours3 = pf_json_parse(buf3, dl, arena, NULL, &err);
    if (!ours3 || !same_as_jansson(ours3, theirs, false)) {
      dump_hex("jansson output", dumped, dl);
      fail_msg("document %d: jansson's output reads differently (%s)", i,
               ours3 ? "tree differs" : err.msg);
    }

    free(buf3);
    free(dumped);
    free(buf2);
    json_decref(back);
    json_decref(theirs);
    free(buf);
  }
  print_message("%d generated documents, %zu bytes, deepest nesting %d (%d docs >= 15)\n", N_DOCS,
                bytes, deepest, deep_docs);
  assert_true(deepest >= MAX_GEN_DEPTH - 2);
  assert_true(deep_docs > 100);
  pf_buf_free(&text);
  pf_buf_free(&out);
}

/* One random edit of the document in b. */
static void mutate(pf_buf *b) {
  static const char interesting[] = "{}[],:\"\\0123456789-+.eEtfnlu /x \t\n\r";
  static const u8 high[] = {0x00, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC3, 0xDF,
                            0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0};
  size_t n = b->len;
  size_t at = n ? below((uint32_t)n) : 0;
  char c = chance(70)   ? interesting[below(sizeof interesting - 1)]
           : chance(50) ? (char)high[below(sizeof high)]
                        : (char)next_u64();
  switch (below(7)) {
  case 0: /* flip a bit */
    if (n)
      b->data[at] ^= (char)(1u << below(8));
    break;
  case 1: /* replace a byte */
    if (n)
      b->data[at] = c;
    break;
  case 2: /* insert a byte */
  case 3: {
    if (chance(30)) { /* a digit next to a digit: lengthens numbers */
      for (size_t k = 0; k < n; k++) {
        size_t j = (at + k) % n;
        if (b->data[j] >= '0' && b->data[j] <= '9') {
          at = j;
          c = (char)('0' + below(10));
          break;
        }
      }
    }
    pf_buf_putc(b, 0);
    memmove(b->data + at + 1, b->data + at, n - at);
    b->data[at] = c;
    break;
  }
  case 4: /* delete a byte or a few */
  case 5: {
    if (!n)
      break;
    size_t k = chance(70) ? 1 : 1 + below(8);
    if (at + k > n)
      k = n - at;
    memmove(b->data + at, b->data + at + k, n - at - k);
    b->len -= k;
    break;
  }
  default: { /* copy a slice elsewhere (duplicate members, unbalanced brackets) */
    if (!n)
      break;
    size_t k = 1 + below(12);
    if (at + k > n)
      k = n - at;
    char tmp[16];
    memcpy(tmp, b->data + at, k);
    size_t to = below((uint32_t)n + 1);
    for (size_t i = 0; i < k; i++)
      pf_buf_putc(b, 0);
    memmove(b->data + to + k, b->data + to, n - to);
    memcpy(b->data + to, tmp, k);
    break;
  }
  }
}

static void test_mutations(void **state) {
  (void)state;
  pf_buf text = PF_BUF_INIT;
  guarded guard = {NULL, 0};
  struct sigaction sa, old_segv, old_bus;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fault;
  size_t both_ok = 0, both_bad = 0, allowed[N_REASONS] = {0};
  for (int i = 0; i < N_MUTATIONS; i++) {
    gen_document(&text, 25);
    for (uint32_t m = 1 + below(3); m; m--)
      mutate(&text);
    assert_false(text.failed);

    pf_arena_reset(arena);
    char *buf = exact_copy(text.data, text.len);
    pf_json_error err = {0, 0, NULL};
    const pf_json *ours = pf_json_parse(buf, text.len, arena, NULL, &err);
    json_error_t jerr;
    json_t *theirs = json_loadb(text.data, text.len, JANSSON_FLAGS, &jerr);
    if (ours && theirs) {
      both_ok++;
      if (!same_as_jansson(ours, theirs, false)) {
        dump_hex("input", text.data, text.len);
        fail_msg("mutation %d: both accept, trees differ", i);
      }
    } else if (!ours && !theirs) {
      both_bad++;
      if (!err.msg || err.offset > text.len)
        fail_msg("mutation %d: bad error report (offset %zu of %zu)", i, err.offset, text.len);
    } else if (ours) {
      int why = classify(text.data, text.len, ours, &jerr);
      if (why < 0) {
        dump_hex("input", text.data, text.len);
        fail_msg("mutation %d: we accept, jansson rejects at %d: %s (error code %d)", i,
                 jerr.position, jerr.text, (int)json_error_code(&jerr));
      }
      allowed[why]++;
    } else {
      int why = classify_theirs(text.data, text.len, theirs);
      if (why < 0) {
        dump_hex("input", text.data, text.len);
        fail_msg("mutation %d: we reject at %zu (%s), jansson accepts", i, err.offset, err.msg);
      }
      allowed[why]++;
    }
    json_decref(theirs);
    free(buf);

    /* the same verdict from a copy that ends at an unreadable page */
    char *g = guarded_copy(&guard, text.data, text.len);
    fault_input = text.data;
    fault_len = text.len;
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    pf_arena_reset(arena);
    bool guarded_ok = pf_json_parse(g, text.len, arena, NULL, NULL) != NULL;
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    fault_input = NULL;
    if (guarded_ok != (ours != NULL))
      fail_msg("mutation %d: different result from the guarded copy", i);
  }
  guarded_free(&guard);
  print_message("%d mutated documents: %zu accepted by both, %zu rejected by both; allowed "
                "divergences:",
                N_MUTATIONS, both_ok, both_bad);
  for (int r = 0; r < N_REASONS; r++)
    print_message(" %s %zu", reason_names[r], allowed[r]);
  print_message("\n");
  /* the mutations must exercise both sides */
  assert_true(both_ok > N_MUTATIONS / 20);
  assert_true(both_bad > N_MUTATIONS / 4);
  pf_buf_free(&text);
}

/* Objects of 1..80 members whose keys come from a small pool, so
 * duplicates, near-duplicates and equal keys spelled differently ("a" and
 * "\u0061") are common, around the parser's switch from a per-key Bloom
 * filter to sorting on close (32 members), with nested objects in between.
 * jansson (JSON_REJECT_DUPLICATES) must agree on every verdict. */
static void gen_dup_object(pf_buf *b, int depth, bool likely) {
  static const char *const spellings[][3] = {
      {"\"\"", "\"\"", "\"\""},
      {"\"a\"", "\"\\u0061\"", "\"\\u0061\""},
      {"\"b\"", "\"\\u0062\"", "\"\\u0062\""},
      {"\"ab\"", "\"a\\u0062\"", "\"\\u0061b\""},
      {"\"ba\"", "\"b\\u0061\"", "\"\\u0062\\u0061\""},
      {"\"aa\"", "\"a\\u0061\"", "\"\\u0061a\""},
      {"\"\xC3\xA9\"", "\"\\u00e9\"", "\"\\u00E9\""},
      {"\"a\xC3\xA9\"", "\"a\\u00e9\"", "\"\\u0061\xC3\xA9\""},
      {"\"\\n\"", "\"\\u000a\"", "\"\\u000A\""},
  };
  enum { FIXED = sizeof spellings / sizeof *spellings };
  uint32_t members = 1 + below(depth ? 8 : 80);
  /* a pool of about `members` keys makes a repeat likely, one of 20
   * members^2 keys rare */
  uint32_t pool = likely ? 2 * members + 1 : 20 * members * members + 1;
  pf_buf_putc(b, '{');
  for (uint32_t i = 0; i < members; i++) {
    if (i)
      pf_buf_putc(b, ',');
    if (likely && chance(4)) /* a key that is often spelled in another way */
      pf_buf_puts(b, spellings[below(FIXED)][below(3)]);
    else /* "k<n>": same first byte and often the same length as others */
      pf_buf_printf(b, "\"k%u\"", below(pool));
    pf_buf_putc(b, ':');
    if (depth < 3 && chance(15))
      gen_dup_object(b, depth + 1, likely);
    else if (depth < 3 && chance(5)) {
      pf_buf_putc(b, '[');
      gen_dup_object(b, depth + 1, likely);
      pf_buf_putc(b, ']');
    } else
      pf_buf_printf(b, "%u", i);
  }
  pf_buf_putc(b, '}');
}

static void test_duplicate_keys(void **state) {
  (void)state;
  pf_buf text = PF_BUF_INIT;
  size_t accepted = 0, rejected = 0;
  const pf_json_opts allow = {0, 0, PF_JSON_DUP_ALLOW};
  for (int i = 0; i < 5000; i++) {
    pf_buf_reset(&text);
    gen_dup_object(&text, 0, chance(50));
    assert_false(text.failed);
    pf_arena_reset(arena);
    char *buf = exact_copy(text.data, text.len);
    pf_json_error err = {0, 0, NULL};
    const pf_json *ours = pf_json_parse(buf, text.len, arena, NULL, &err);
    json_error_t jerr;
    json_t *theirs = json_loadb(text.data, text.len, JANSSON_FLAGS, &jerr);
    if (!ours != !theirs) {
      dump_hex("input", text.data, text.len);
      fail_msg("object %d: we %s, jansson %s (%s)", i, ours ? "accept" : err.msg,
               theirs ? "accepts" : "rejects", theirs ? "" : jerr.text);
    }
    if (ours) {
      accepted++;
      if (!same_as_jansson(ours, theirs, false)) {
        dump_hex("input", text.data, text.len);
        fail_msg("object %d: trees differ", i);
      }
    } else {
      rejected++;
      assert_int_equal(json_error_code(&jerr), json_error_duplicate_key);
      /* reported at the opening quote of a repeated key */
      if (err.code != -PF_EJSON_DUPKEY || err.offset >= text.len || text.data[err.offset] != '"')
        fail_msg("object %d: error %d (%s) at %zu", i, err.code, err.msg, err.offset);
    }
    /* with PF_JSON_DUP_ALLOW everything is accepted and kept */
    char *buf2 = exact_copy(text.data, text.len);
    const pf_json *all = pf_json_parse(buf2, text.len, arena, &allow, &err);
    if (!all)
      fail_msg("object %d: rejected with PF_JSON_DUP_ALLOW: %s", i, err.msg);
    assert_true(pf_json_equal(all, all));
    if (ours)
      assert_true(pf_json_equal(all, ours));
    free(buf2);
    free(buf);
    json_decref(theirs);
  }
  print_message("5000 objects with likely duplicate keys: %zu accepted, %zu rejected by both\n",
                accepted, rejected);
  assert_true(accepted > 1000 && rejected > 1000);
  pf_buf_free(&text);
}

/* The allowlist entries are real differences, and their near neighbours
 * are not. */
static void test_allowlist(void **state) {
  (void)state;
  const struct {
    const char *text;
    size_t len; /* 0: strlen */
    int reason; /* -1: both accept, -2: both reject */
  } cases[] = {
#define WITH_NUL(lit) lit, sizeof(lit) - 1
      {WITH_NUL("[1\0]"), THEY_ONLY_NULTOKEN},
      {WITH_NUL("[true\0,null\0]"), THEY_ONLY_NULTOKEN},
      {WITH_NUL("{\"a\":-1.5e3\0}"), THEY_ONLY_NULTOKEN},
      {WITH_NUL("1\0"), THEY_ONLY_NULTOKEN},
      {WITH_NUL("[1]\0"), -2},
      {WITH_NUL("[1\0\0]"), -2},
      {WITH_NUL("[\"a\0\"]"), -2},
      {WITH_NUL("[1,\0 2]"), -2},
#undef WITH_NUL
      {"9223372036854775808", 0, WE_ONLY_BIGINT},
      {"-9223372036854775809", 0, WE_ONLY_BIGINT},
      {"[18446744073709551615]", 0, WE_ONLY_BIGINT},
      {"{\"a\":123456789012345678901234567890}", 0, WE_ONLY_BIGINT},
      {"{\"\\u0000\":1}", 0, WE_ONLY_NULKEY},
      {"{\"a\":{\"b\\u0000c\":true}}", 0, WE_ONLY_NULKEY},
      {"9223372036854775807", 0, -1},
      {"-9223372036854775808", 0, -1},
      {"9223372036854775808.0", 0, -1},
      {"1e400000000", 0, -2}, /* both reject: overflows a double */
      {"\"\\u0000\"", 0, -1},
      {"{\"a\":\"\\u0000\"}", 0, -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
    char *buf = exact_copy(cases[i].text, len);
    pf_arena_reset(arena);
    const pf_json *ours = pf_json_parse(buf, len, arena, NULL, NULL);
    json_error_t jerr;
    json_t *theirs = json_loadb(cases[i].text, len, JANSSON_FLAGS, &jerr);
    if (cases[i].reason == -1) {
      if (!ours || !theirs || !same_as_jansson(ours, theirs, false))
        fail_msg("%s: expected both to accept the same tree", cases[i].text);
    } else if (cases[i].reason == -2) {
      if (ours || theirs)
        fail_msg("%s: expected both to reject", cases[i].text);
    } else if (cases[i].reason == THEY_ONLY_NULTOKEN) {
      if (ours || !theirs)
        fail_msg("case %zu: expected only jansson to accept", i);
      assert_int_equal(classify_theirs(cases[i].text, len, theirs), cases[i].reason);
    } else {
      if (!ours || theirs)
        fail_msg("%s: expected only us to accept", cases[i].text);
      assert_int_equal(classify(cases[i].text, len, ours, &jerr), cases[i].reason);
    }
    json_decref(theirs);
    free(buf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allowlist),
      cmocka_unit_test(test_generated),
      cmocka_unit_test(test_mutations),
      cmocka_unit_test(test_duplicate_keys),
  };
  return cmocka_run_group_tests_name("json_differential", tests, setup, teardown);
}

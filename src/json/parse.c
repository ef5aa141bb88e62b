/* Strict RFC 8259 parser: in situ, values in an arena, no recursion.
 *
 * The parser is one loop driven by gotos between three states: `value`
 * (a value is expected), `member` (an object key is expected) and `after`
 * (a value just ended; look at the enclosing container). Open containers
 * are kept on an explicit stack of node indexes, bounded by max_depth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "base/alloc.h"
#include "base/arena.h"
#include "json/internal.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

typedef unsigned char u8;

/* Bytes that end a run of plain string content: '"', '\\', controls and
 * every non-ASCII byte (checked as UTF-8). */
static const u8 string_stop[256] = {
    ['"'] = 1, ['\\'] = 1,
#define R16(x) [x] = 1, [x + 1] = 1, [x + 2] = 1, [x + 3] = 1, [x + 4] = 1, [x + 5] = 1, \
    [x + 6] = 1, [x + 7] = 1, [x + 8] = 1, [x + 9] = 1, [x + 10] = 1, [x + 11] = 1,      \
    [x + 12] = 1, [x + 13] = 1, [x + 14] = 1, [x + 15] = 1
    R16(0x00), R16(0x10), R16(0x80), R16(0x90), R16(0xA0), R16(0xB0),
    R16(0xC0), R16(0xD0), R16(0xE0), R16(0xF0),
#undef R16
};

static inline const u8 *find_stop(const u8 *p, const u8 *end) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* signed v < 0x20 catches 0x00..0x1F and 0x80..0xFF at once */
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                             _mm_cmplt_epi8(v, space));
    unsigned mask = (unsigned)_mm_movemask_epi8(m);
    if (mask)
      return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p < end && !string_stop[*p])
    p++;
  return p;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline int hexval(u8 c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static inline long hex4(const u8 *p) {
  int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
  if ((a | b | c | d) < 0)
    return -1;
  return (a << 12) | (b << 8) | (c << 4) | d;
}

typedef struct parser {
  u8 *buf;
  const u8 *end;
  pf_arena *arena;
  pf_json *nodes;
  uint32_t cap;
  pf_json_error *err;
  uint32_t n; /* nodes in use (between machine() calls) */
  int sub;    /* inside pf__json_parse_msg: see machine() */
} parser;

static int fail(parser *ps, const u8 *at, int code, const char *msg) {
  if (ps->err) {
    ps->err->code = code;
    ps->err->offset = (size_t)(at - ps->buf);
    ps->err->msg = msg;
  }
  return code;
}

static int grow(parser *ps, uint32_t n) {
  size_t ncap = (size_t)ps->cap * 2;
  if (ncap < (size_t)n + 2)
    ncap = (size_t)n + 2;
  if (ncap > UINT32_MAX)
    return -1;
  pf_json *nn = pf__arena_extend(ps->arena, ps->nodes, (size_t)ps->cap * sizeof(pf_json),
                                 ncap * sizeof(pf_json));
  if (!nn)
    return -1;
  ps->nodes = nn;
  ps->cap = (uint32_t)ncap;
  return 0;
}

/* Decodes the escape at p (p[0] == '\\') into *dst. Returns the position
 * after it and advances *dst, or NULL after fail(). */
static const u8 *unescape(parser *ps, const u8 *p, u8 **dstp, const u8 *qstart) {
  const u8 *end = ps->end;
  u8 *dst = *dstp;
  if (UNLIKELY(end - p < 2)) {
    fail(ps, qstart, -PF_EJSON_SYNTAX, "unterminated string");
    return NULL;
  }
  u8 e = p[1];
  switch (e) {
  case '"': case '\\': case '/': *dst++ = e; break;
  case 'b': *dst++ = '\b'; break;
  case 'f': *dst++ = '\f'; break;
  case 'n': *dst++ = '\n'; break;
  case 'r': *dst++ = '\r'; break;
  case 't': *dst++ = '\t'; break;
  case 'u': {
    long cp;
    if (UNLIKELY(end - p < 6 || (cp = hex4(p + 2)) < 0)) {
      fail(ps, p, -PF_EJSON_SYNTAX, "invalid \\u escape: expected 4 hex digits");
      return NULL;
    }
    const u8 *esc = p;
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      long lo;
      if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || (lo = hex4(p + 2)) < 0xDC00 ||
          lo > 0xDFFF) {
        fail(ps, esc, -PF_EJSON_UTF8, "unpaired UTF-16 high surrogate in \\u escape");
        return NULL;
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      p += 6;
    } else if (UNLIKELY(cp >= 0xDC00 && cp <= 0xDFFF)) {
      fail(ps, esc, -PF_EJSON_UTF8, "unpaired UTF-16 low surrogate in \\u escape");
      return NULL;
    }
    if (cp < 0x80) {
      *dst++ = (u8)cp;
    } else if (cp < 0x800) {
      *dst++ = (u8)(0xC0 | (cp >> 6));
      *dst++ = (u8)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *dst++ = (u8)(0xE0 | (cp >> 12));
      *dst++ = (u8)(0x80 | ((cp >> 6) & 0x3F));
      *dst++ = (u8)(0x80 | (cp & 0x3F));
    } else {
      *dst++ = (u8)(0xF0 | (cp >> 18));
      *dst++ = (u8)(0x80 | ((cp >> 12) & 0x3F));
      *dst++ = (u8)(0x80 | ((cp >> 6) & 0x3F));
      *dst++ = (u8)(0x80 | (cp & 0x3F));
    }
    *dstp = dst;
    return p;
  }
  default:
    fail(ps, p, -PF_EJSON_SYNTAX, "invalid escape sequence in string");
    return NULL;
  }
  *dstp = dst;
  return p + 2;
}

/* The string that starts at `start` (after its opening quote), from p, the
 * first byte the scanner stopped at, which is not a closing quote (or the
 * end). Unescapes in place, NUL-terminates, fills node. Returns the position
 * after the closing quote, or NULL after fail().
 *
 * Phase 1 only scans: most strings have no escape and are used where they
 * lie. After the first escape, phase 2 moves the rest of the string down
 * over the space the escapes freed (dst <= p always). */
static __attribute__((noinline)) const u8 *parse_string_slow(parser *ps, u8 *start, u8 *p,
                                                              pf_json *node) {
  const u8 *end = ps->end;
  u8 c;
  for (;;) {
    if (UNLIKELY(p == end))
      goto unterminated;
    c = *p;
    if (LIKELY(c == '"')) {
      if (!ps->sub)
        *p = '\0';
      node->type = PF_JSON_STRING;
      node->len = (uint32_t)(p - start);
      node->v.s = (const char *)start;
      return p + 1;
    }
    if (c == '\\') {
      if (ps->sub)
        return NULL; /* unescaping would change the text: the full parser does it */
      break;
    }
    if (c < 0x80)
      goto control;
    do { /* a run of multi-byte characters */
      int n = pf__utf8_check(p, end);
      if (UNLIKELY(n < 0))
        goto bad_utf8;
      p += n;
    } while (p < end && *p >= 0x80);
    p = (u8 *)find_stop(p, end);
  }

  u8 *dst = p;
  for (;;) {
    /* here *p is '\\' */
    p = (u8 *)unescape(ps, p, &dst, start - 1);
    if (UNLIKELY(!p))
      return NULL;
  plain:
#ifdef __SSE2__
    {
      const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
      const __m128i space = _mm_set1_epi8(0x20);
      while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
            _mm_cmplt_epi8(v, space));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (!mask) {
          /* dst + 16 <= p + 16: nothing not yet read is overwritten */
          _mm_storeu_si128((__m128i *)(void *)dst, v);
          p += 16;
          dst += 16;
          continue;
        }
        unsigned k = (unsigned)__builtin_ctz(mask);
        for (unsigned i = 0; i < k; i++) /* may overlap: byte by byte, forward */
          dst[i] = p[i];
        p += k;
        dst += k;
        goto stop;
      }
    }
#endif
    while (p < end && !string_stop[*p])
      *dst++ = *p++;
  stop:
    if (UNLIKELY(p == end))
      goto unterminated;
    c = *p;
    if (LIKELY(c == '"')) {
      *dst = '\0';
      node->type = PF_JSON_STRING;
      node->len = (uint32_t)(dst - start);
      node->v.s = (const char *)start;
      return p + 1;
    }
    if (c == '\\')
      continue;
    if (c < 0x80)
      goto control;
    do {
      int n = pf__utf8_check(p, end);
      if (UNLIKELY(n < 0))
        goto bad_utf8;
      for (int i = 0; i < n; i++)
        dst[i] = p[i];
      dst += n;
      p += n;
    } while (p < end && *p >= 0x80);
    goto plain;
  }

unterminated:
  fail(ps, start - 1, -PF_EJSON_SYNTAX, "unterminated string");
  return NULL;
control:
  fail(ps, p, -PF_EJSON_SYNTAX, "control character in string (must be escaped)");
  return NULL;
bad_utf8:
  fail(ps, p, -PF_EJSON_UTF8, "invalid UTF-8 in string");
  return NULL;
}

static inline const u8 *parse_string(parser *ps, u8 *p, pf_json *node, const int sub) {
  u8 *q = (u8 *)find_stop(p, ps->end);
  if (LIKELY(q < ps->end && *q == '"')) {
    if (!sub)
      *q = '\0';
    node->type = PF_JSON_STRING;
    node->len = (uint32_t)(q - p);
    node->v.s = (const char *)p;
    return q + 1;
  }
  return parse_string_slow(ps, p, q, node);
}

static inline int is_digit(u8 c) { return (unsigned)(c - '0') < 10; }

/* Parses a number starting at p (a '-' or a digit). */
static const u8 *parse_number(parser *ps, const u8 *p, pf_json *node) {
  const u8 *end = ps->end, *start = p;
  int neg = 0;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (UNLIKELY(p == end || !is_digit(*p))) {
    fail(ps, p, -PF_EJSON_SYNTAX, "expected a digit in number");
    return NULL;
  }
  uint64_t m = 0;
  int nd = 0;        /* significant digits accumulated in m */
  int dropped = 0;   /* non-zero digits that did not fit in m */
  int64_t e10 = 0;   /* decimal exponent adjustment */
  int int_digits = 0;
  if (*p == '0') {
    p++;
    int_digits = 1;
    if (UNLIKELY(p < end && is_digit(*p))) {
      fail(ps, p - 1, -PF_EJSON_SYNTAX, "leading zero in number");
      return NULL;
    }
  } else {
    const u8 *d0 = p;
    while (p < end && is_digit(*p)) {
      if (nd < 19) {
        m = m * 10 + (uint64_t)(*p - '0');
        nd++;
      } else {
        e10++;
        dropped |= *p != '0';
      }
      p++;
    }
    int_digits = (int)(p - d0);
  }
  int is_int = 1;
  if (p < end && *p == '.') {
    is_int = 0;
    p++;
    if (UNLIKELY(p == end || !is_digit(*p))) {
      fail(ps, p, -PF_EJSON_SYNTAX, "expected a digit after '.' in number");
      return NULL;
    }
    while (p < end && is_digit(*p)) {
      if (nd < 19) {
        m = m * 10 + (uint64_t)(*p - '0');
        if (m)
          nd++;
        e10--;
      } else {
        dropped |= *p != '0';
      }
      p++;
    }
  }
  if (p < end && (*p | 0x20) == 'e') {
    is_int = 0;
    p++;
    int eneg = 0;
    if (p < end && (*p == '+' || *p == '-')) {
      eneg = *p == '-';
      p++;
    }
    if (UNLIKELY(p == end || !is_digit(*p))) {
      fail(ps, p, -PF_EJSON_SYNTAX, "expected a digit in exponent");
      return NULL;
    }
    int64_t ex = 0;
    while (p < end && is_digit(*p)) {
      if (ex < 100000000)
        ex = ex * 10 + (*p - '0');
      p++;
    }
    e10 += eneg ? -ex : ex;
  }
  if (is_int) {
    if (LIKELY(int_digits <= 19) || (int_digits == 20 && !neg)) {
      uint64_t u = m;
      if (int_digits == 20) {
        /* the 20th digit was dropped from m: redo with overflow checks */
        u = 0;
        const u8 *q = start;
        for (; q < p; q++)
          if (__builtin_mul_overflow(u, 10, &u) || __builtin_add_overflow(u, (uint64_t)(*q - '0'), &u))
            goto as_real;
      }
      if (neg) {
        if (u <= (uint64_t)INT64_MAX + 1) {
          node->type = PF_JSON_INT;
          node->v.i = (int64_t)((uint64_t)0 - u);
          return p;
        }
      } else {
        node->type = u <= (uint64_t)INT64_MAX ? PF_JSON_INT : PF_JSON_UINT;
        node->v.u = u;
        return p;
      }
    }
  }
as_real:
  node->type = PF_JSON_REAL;
  if (m == 0 && !dropped) {
    node->v.d = neg ? -0.0 : 0.0;
    return p;
  }
  if (!dropped && m <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
    /* Clinger's fast path: both operands exact, one IEEE rounding. */
    double d = (double)m;
    d = e10 < 0 ? d / pow10_exact[-e10] : d * pow10_exact[e10];
    node->v.d = neg ? -d : d;
    return p;
  }
  int rc = pf__json_strtod((const char *)start, (size_t)(p - start), &node->v.d);
  if (UNLIKELY(rc)) {
    fail(ps, start, rc, rc == -PF_ENOMEM ? "out of memory" : "number out of range (overflows a double)");
    return NULL;
  }
  return p;
}

/* Objects with more members than this skip the per-key Bloom check (it
 * would saturate) and are checked once on close by sorting their keys:
 * O(n log n), so a hostile 100,000-key object costs milliseconds. */
#define DUP_BLOOM_MAX 32u

/* Is there a key equal to `key` among the members of the open object obj
 * that come before it? */
static int key_before(const pf_json *obj, const pf_json *key) {
  const pf_json *k = obj + 1;
  while (k < key) {
    if (k->len == key->len && memcmp(k->v.s, key->v.s, key->len) == 0)
      return 1;
    const pf_json *v = k + 1;
    k = v + pf__json_span(v);
  }
  return 0;
}

static int key_cmp(const void *a, const void *b) {
  const pf_json *x = *(const pf_json *const *)a, *y = *(const pf_json *const *)b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return memcmp(x->v.s, y->v.s, x->len);
}

/* Checks a closed object for duplicate keys by sorting pointers to its
 * keys. Returns the later occurrence of the first duplicated key in
 * document order, or NULL. */
static const pf_json *find_dup(parser *ps, const pf_json *obj, int *oom) {
  uint32_t count = obj->len;
  const pf_json **keys = pf_arena_alloc(ps->arena, count * sizeof *keys);
  if (!keys) {
    *oom = 1;
    return NULL;
  }
  const pf_json *k = obj + 1;
  for (uint32_t i = 0; i < count; i++) {
    keys[i] = k;
    const pf_json *v = k + 1;
    k = v + pf__json_span(v);
  }
  qsort(keys, count, sizeof *keys, key_cmp);
  const pf_json *dup = NULL;
  for (uint32_t i = 1; i < count; i++)
    if (key_cmp(&keys[i - 1], &keys[i]) == 0) {
      const pf_json *d = keys[i] > keys[i - 1] ? keys[i] : keys[i - 1];
      if (!dup || d < dup)
        dup = d;
    }
  return dup;
}

#define WS(c) ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')
#define SKIP_WS()                                                                                  \
  while (p < end && UNLIKELY(*p <= ' ') && WS(*p))                                                 \
  p++

/* The parser proper: one JSON value at p (after optional whitespace) into
 * ps->nodes from ps->n on; returns the position after it, or NULL after
 * fail(). stack has room for max_depth entries.
 *
 * sub = 0: the whole text (pf_json_parse): only whitespace may follow.
 * sub = 1: a value inside a message that pf__json_parse_msg() reads: it
 * stops after the value, writes no NUL (the caller does, once its reading
 * has succeeded) and gives up at the first escape instead of unescaping in
 * place, so the text stays untouched until the caller keeps its reading. */
static inline __attribute__((always_inline)) const u8 *machine(parser *ps, const u8 *p,
                                                                uint32_t max_depth, int dup_reject,
                                                                uint32_t *stack, const int sub) {
  const u8 *end = ps->end;
  pf_json *nodes = ps->nodes;
  uint32_t n = ps->n, depth = 0;
  pf_json *node;
  pf_json *top = NULL; /* the innermost open container: &nodes[stack[depth - 1]] */

#define NEED_NODES(k)                                                                              \
  do {                                                                                             \
    if (UNLIKELY(n + (k) > ps->cap)) {                                                             \
      if (grow(ps, n + (k)))                                                                       \
        goto oom;                                                                                  \
      nodes = ps->nodes;                                                                           \
      top = depth ? &nodes[stack[depth - 1]] : NULL;                                               \
    }                                                                                              \
  } while (0)

value:
  SKIP_WS();
  if (UNLIKELY(p == end)) {
    fail(ps, p, -PF_EJSON_SYNTAX, n ? "unexpected end of input: expected a value"
                                        : "empty input: expected a JSON value");
    return NULL;
  }
  NEED_NODES(1);
  node = &nodes[n];
  switch (*p) {
  case '"':
    p = parse_string(ps, (u8 *)p + 1, node, sub);
    if (!p)
      return NULL;
    n++;
    goto after;
  case '{':
    if (UNLIKELY(depth >= max_depth))
      goto too_deep;
    node->type = PF_JSON_OBJECT;
    node->len = 0;
    node->v.u = 0; /* Bloom filter of keys until closed */
    p++;
    SKIP_WS();
    if (p < end && *p == '}') {
      p++;
      node->v.u = 1;
      n++;
      goto after;
    }
    stack[depth++] = n++;
    top = node;
    goto member;
  case '[':
    if (UNLIKELY(depth >= max_depth))
      goto too_deep;
    node->type = PF_JSON_ARRAY;
    node->len = 0;
    p++;
    SKIP_WS();
    if (p < end && *p == ']') {
      p++;
      node->v.u = 1;
      n++;
      goto after;
    }
    stack[depth++] = n++;
    top = node;
    goto value;
  case 't':
    if (UNLIKELY(end - p < 4 || memcmp(p, "true", 4) != 0))
      goto bad_literal;
    node->type = PF_JSON_BOOL;
    node->v.u = 1;
    p += 4;
    n++;
    goto after;
  case 'f':
    if (UNLIKELY(end - p < 5 || memcmp(p, "false", 5) != 0))
      goto bad_literal;
    node->type = PF_JSON_BOOL;
    node->v.u = 0;
    p += 5;
    n++;
    goto after;
  case 'n':
    if (UNLIKELY(end - p < 4 || memcmp(p, "null", 4) != 0))
      goto bad_literal;
    node->type = PF_JSON_NULL;
    node->v.u = 0;
    p += 4;
    n++;
    goto after;
  case '-': case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9':
    p = parse_number(ps, p, node);
    if (!p)
      return NULL;
    n++;
    goto after;
  default:
    if (*p == ']' || *p == '}')
      fail(ps, p, -PF_EJSON_SYNTAX, "expected a value, found a closing bracket");
    else if (*p >= 0x80)
      fail(ps, p, pf__utf8_check(p, end) > 0 ? -PF_EJSON_SYNTAX : -PF_EJSON_UTF8,
           "unexpected character: expected a value");
    else
      fail(ps, p, -PF_EJSON_SYNTAX, "unexpected character: expected a value");
    return NULL;
  }

member: /* p is at the first non-space byte where a key must start */
  if (UNLIKELY(p == end || *p != '"')) {
    fail(ps, p, -PF_EJSON_SYNTAX,
         p == end ? "unexpected end of input: expected an object key" : "expected a string key");
    return NULL;
  }
member_quoted: /* *p == '"' */
  NEED_NODES(2);
  p = parse_string(ps, (u8 *)p + 1, &nodes[n], sub);
  if (!p)
    return NULL;
  if (dup_reject) {
    pf_json *obj = top;
    if (obj->len < DUP_BLOOM_MAX) {
      /* While an object is open its v.u is a 64-bit Bloom filter of its
       * keys; only a hit costs a scan of the keys before this one. */
      const pf_json *key = &nodes[n];
      const u8 *ks = (const u8 *)key->v.s;
      uint64_t bit = 1ull << ((ks[0] ^ (ks[(ptrdiff_t)key->len - 1] << 1) ^ (key->len << 3)) & 63u);
      if (UNLIKELY(obj->v.u & bit) && key_before(obj, key)) {
        fail(ps, (const u8 *)key->v.s - 1, -PF_EJSON_DUPKEY, "duplicate key in object");
        return NULL;
      }
      obj->v.u |= bit;
    }
  }
  n++;
  SKIP_WS();
  if (UNLIKELY(p == end || *p != ':')) {
    fail(ps, p, -PF_EJSON_SYNTAX, "expected ':' after object key");
    return NULL;
  }
  p++;
  goto value;

after:
  if (UNLIKELY(depth == 0))
    goto done;
  {
    top->len++;
    if (UNLIKELY(p == end || *p <= ' ')) {
      SKIP_WS();
      if (UNLIKELY(p == end)) {
        fail(ps, p, -PF_EJSON_SYNTAX,
             top->type == PF_JSON_OBJECT ? "unexpected end of input: unclosed object"
                                         : "unexpected end of input: unclosed array");
        return NULL;
      }
    }
    u8 c = *p++;
    if (top->type == PF_JSON_OBJECT) {
      if (c == ',') {
        if (LIKELY(p < end && *p == '"'))
          goto member_quoted;
        SKIP_WS();
        goto member;
      }
      if (LIKELY(c == '}')) {
        pf_json *closed = top;
        closed->v.u = (uint64_t)(n - stack[--depth]);
        top = depth ? &nodes[stack[depth - 1]] : NULL;
        if (dup_reject && closed->len > DUP_BLOOM_MAX) {
          int oom = 0;
          const pf_json *d = find_dup(ps, closed, &oom);
          if (oom)
            goto oom;
          if (d) {
            /* in situ strings point into the buffer: report the key's quote */
            fail(ps, (const u8 *)d->v.s - 1, -PF_EJSON_DUPKEY, "duplicate key in object");
            return NULL;
          }
        }
        goto after;
      }
      fail(ps, p - 1, -PF_EJSON_SYNTAX, "expected ',' or '}' after object member");
      return NULL;
    }
    if (c == ',')
      goto value;
    if (LIKELY(c == ']')) {
      top->v.u = (uint64_t)(n - stack[--depth]);
      top = depth ? &nodes[stack[depth - 1]] : NULL;
      goto after;
    }
    fail(ps, p - 1, -PF_EJSON_SYNTAX, "expected ',' or ']' after array element");
    return NULL;
  }

done:
  if (!sub) {
    SKIP_WS();
    if (UNLIKELY(p != end)) {
      fail(ps, p, -PF_EJSON_SYNTAX, "unexpected data after the JSON value");
      return NULL;
    }
  }
  ps->n = n;
  return p;

bad_literal:
  fail(ps, p, -PF_EJSON_SYNTAX, "invalid literal: expected true, false or null");
  return NULL;
too_deep:
  fail(ps, p, -PF_EJSON_DEPTH, "nesting exceeds the maximum depth");
  return NULL;
oom:
  fail(ps, p, -PF_ENOMEM, "out of memory");
  return NULL;
}

/* opts with its defaults applied */
typedef struct limits {
  uint32_t max_depth;
  size_t max_size;
  int dup_reject;
} limits;

static limits limits_of(const pf_json_opts *opts) {
  limits l = {opts && opts->max_depth ? opts->max_depth : PF_JSON_MAX_DEPTH_DEFAULT,
              opts && opts->max_size ? opts->max_size : PF_JSON_MAX_SIZE_DEFAULT,
              !opts || opts->dup_keys == PF_JSON_DUP_REJECT};
  if (l.max_size > PF_JSON_MAX_SIZE_LIMIT)
    l.max_size = PF_JSON_MAX_SIZE_LIMIT;
  return l;
}

/* Node estimate: dense MCP messages (short keys, small numbers) need up to
 * one node per 4-6 bytes; growing means copying the array, so start
 * generously (unused capacity is never touched). Very large inputs start
 * lower and grow. */
static uint32_t node_estimate(size_t len) {
  return (uint32_t)(len <= ((size_t)1 << 20) ? len / 4 + 8 : len / 16 + ((size_t)1 << 16));
}

const pf_json *pf_json_parse(char *text, size_t len, pf_arena *arena, const pf_json_opts *opts,
                             pf_json_error *err) {
  limits l = limits_of(opts);
  parser ps = {(u8 *)text, (const u8 *)text + len, arena, NULL, 0, err, 0, 0};
  if (UNLIKELY(len > l.max_size)) {
    fail(&ps, ps.buf + l.max_size, -PF_EJSON_SIZE, "JSON text exceeds the maximum size");
    return NULL;
  }
  uint32_t stack_small[128];
  uint32_t *stack = stack_small;
  if (l.max_depth > 128) {
    /* Allocated after the nodes would block in-place node growth, so the
     * deep stack comes first. */
    stack = pf_arena_alloc(arena, (size_t)l.max_depth * sizeof *stack);
    if (!stack) {
      fail(&ps, ps.buf, -PF_ENOMEM, "out of memory");
      return NULL;
    }
  }
  ps.cap = node_estimate(len);
  ps.nodes = pf_arena_alloc(arena, (size_t)ps.cap * sizeof(pf_json));
  if (!ps.nodes) {
    fail(&ps, ps.buf, -PF_ENOMEM, "out of memory");
    return NULL;
  }
  return machine(&ps, ps.buf, l.max_depth, l.dup_reject, stack, 0) ? ps.nodes : NULL;
}

/* A number at p (a '-' or a digit) into *val: an integer of up to 18
 * digits, or a short decimal, ending at ',', '}' or ']' is read in line;
 * other numbers (and anything malformed) are parse_number()'s. Returns the
 * position after the number, or NULL (parse_number() failed). */
static inline __attribute__((always_inline)) const u8 *fast_number(parser *ps, const u8 *p,
                                                                   pf_json *val) {
  const u8 *end = ps->end;
  u8 c = *p;
  const u8 *d = p + (c == '-'), *q = d;
  const u8 *lim = end - d > 18 ? d + 18 : end;
  uint64_t u = 0;
  while (q < lim && is_digit(*q))
    u = u * 10 + (uint64_t)(*q++ - '0');
  if (LIKELY(q > d && q < end && (*d != '0' || q - d == 1))) {
    if (*q == ',' || *q == '}' || *q == ']') {
      val->type = PF_JSON_INT;
      val->v.i = c == '-' ? -(int64_t)u : (int64_t)u;
      return q;
    }
    /* a short decimal: the digits exact in a double, then one division by
     * an exact power of ten, as parse_number() computes it */
    if (*q == '.') {
      const u8 *f = ++q; /* lim still bounds all the digits to 17 */
      while (q < lim && is_digit(*q))
        u = u * 10 + (uint64_t)(*q++ - '0');
      if (q > f && q < end && (*q == ',' || *q == '}' || *q == ']') && u <= (1ull << 53)) {
        double x = (double)u / pow10_exact[q - f];
        val->type = PF_JSON_REAL;
        val->v.d = c == '-' ? -x : x;
        return q;
      }
    }
  }
  return parse_number(ps, p, val);
}

/* ------------------------------------------------------------------ */
/* The fast path for MCP messages                                      */

#define FAST_LEVELS 3      /* the message, its params, their arguments */
#define FAST_GENERIC_MAX 16 /* member names per object that are not known ones */

/* `"name":` at p, compared as a constant (so the compiler inlines it). */
#define LIT(s) ((size_t)(end - p) >= sizeof s - 1 && memcmp(p, s, sizeof s - 1) == 0)

/* The known member name at p (a '"') of a message (level 0) or of its
 * params (level 1): its bit, with its length in *klen; 0 if none. Each
 * known name has a bit, which also catches its repetition. */
static inline uint32_t known_key(const u8 *p, const u8 *end, int level, uint32_t *klen) {
  if (level == 0) {
    switch (p[1]) {
    case 'j': if (LIT("\"jsonrpc\":")) return *klen = 7, 1u << 0; break;
    case 'i': if (LIT("\"id\":")) return *klen = 2, 1u << 1; break;
    case 'm': if (LIT("\"method\":")) return *klen = 6, 1u << 2; break;
    case 'p': if (LIT("\"params\":")) return *klen = 6, 1u << 3; break;
    case 'r': if (LIT("\"result\":")) return *klen = 6, 1u << 4; break;
    case 'e': if (LIT("\"error\":")) return *klen = 5, 1u << 5; break;
    default: break;
    }
  } else if (level == 1) {
    switch (p[1]) {
    case 'n': if (LIT("\"name\":")) return *klen = 4, 1u << 0; break;
    case 'a': if (LIT("\"arguments\":")) return *klen = 9, 1u << 1; break;
    case '_': if (LIT("\"_meta\":")) return *klen = 5, 1u << 2; break;
    case 'u': if (LIT("\"uri\":")) return *klen = 3, 1u << 3; break;
    case 'c': if (LIT("\"cursor\":")) return *klen = 6, 1u << 4; break;
    case 'l': if (LIT("\"level\":")) return *klen = 5, 1u << 5; break;
    default: break;
    }
  }
  return 0;
}

/* Where the NULs go once the fast path has succeeded: the closing quotes of
 * the strings it read itself, and the node ranges machine() produced. */
typedef struct fastnul {
  u8 *quote[48];
  uint32_t nquote;
  uint32_t range[8][2];
  uint32_t nrange;
  bool all; /* too many to note: walk every node */
} fastnul;

static inline void note_quote(fastnul *z, const u8 *q) {
  if (LIKELY(z->nquote < sizeof z->quote / sizeof z->quote[0]))
    z->quote[z->nquote++] = (u8 *)q;
  else
    z->all = true;
}

/* An object at p ('{') of a compact message, at nesting level 0 (the
 * message), 1 (its params) or 2 (their arguments): members read directly,
 * without the state machine. Values other than plain strings, integers and
 * objects up to level 2 go through machine() in sub mode. Returns the
 * position after the object, or NULL to give up (the caller then parses the
 * text with the full parser, which reports any error). Writes nothing into
 * the text. */
static const u8 *fast_object(parser *ps, const u8 *p, int level, uint32_t max_depth,
                             uint32_t *stack, fastnul *z) {
  const u8 *end = ps->end;
  pf_json *nodes = ps->nodes;
  uint32_t n = ps->n;
#define FAST_NEED(k)                                                                               \
  do {                                                                                             \
    if (UNLIKELY(n + (k) > ps->cap)) {                                                             \
      if (grow(ps, n + (k)))                                                                       \
        return NULL;                                                                               \
      nodes = ps->nodes;                                                                           \
    }                                                                                              \
  } while (0)
  FAST_NEED(1);
  uint32_t oi = n++, count = 0, seen = 0, ngen = 0;
  uint32_t gen[FAST_GENERIC_MAX]; /* node indices of the other names, for duplicates */
  p++;
  if (p < end && *p == '}') {
    p++;
    goto close;
  }
  for (;;) {
    if (UNLIKELY(end - p < 2 || *p != '"'))
      return NULL;
    FAST_NEED(2);
    pf_json *key = &nodes[n];
    uint32_t klen, bit = known_key(p, end, level, &klen);
    key->type = PF_JSON_STRING;
    key->v.s = (const char *)p + 1;
    if (LIKELY(bit)) {
      if (UNLIKELY(seen & bit))
        return NULL; /* a duplicate */
      seen |= bit;
      key->len = klen;
      note_quote(z, p + klen + 1);
      p += klen + 3;
    } else {
      const u8 *q = find_stop(p + 1, end);
      if (UNLIKELY(q == end || *q != '"' || q + 1 == end || q[1] != ':' ||
                   ngen == FAST_GENERIC_MAX))
        return NULL;
      key->len = (uint32_t)(q - (p + 1));
      for (uint32_t i = 0; i < ngen; i++) {
        const pf_json *o = &nodes[gen[i]];
        if (o->len == key->len && pf__bytes_eq(o->v.s, key->v.s, key->len))
          return NULL;
      }
      gen[ngen++] = n;
      note_quote(z, q);
      p = q + 2;
    }
    n++;
    if (UNLIKELY(p == end))
      return NULL;
    pf_json *val = &nodes[n];
    u8 c = *p;
    if (c == '"') {
      const u8 *q = find_stop(p + 1, end);
      if (LIKELY(q < end && *q == '"')) {
        val->type = PF_JSON_STRING;
        val->len = (uint32_t)(q - (p + 1));
        val->v.s = (const char *)p + 1;
        note_quote(z, q);
        n++;
        p = q + 1;
        goto next;
      }
    } else if (c == '-' || is_digit(c)) {
      if (!(p = fast_number(ps, p, val)))
        return NULL;
      n++;
      goto next;
    } else if (c == '{' && level + 1 < FAST_LEVELS && (uint32_t)level + 2 <= max_depth) {
      ps->n = n;
      if (!(p = fast_object(ps, p, level + 1, max_depth, stack, z)))
        return NULL;
      nodes = ps->nodes;
      n = ps->n;
      goto next;
    }
    /* anything else, and strings with non-ASCII (an escape gives up) */
    ps->n = n;
    if (!(p = machine(ps, p, max_depth - (uint32_t)level - 1, 1, stack, 1)))
      return NULL;
    nodes = ps->nodes;
    if (LIKELY(z->nrange < 8)) {
      z->range[z->nrange][0] = n;
      z->range[z->nrange++][1] = ps->n;
    } else {
      z->all = true;
    }
    n = ps->n;
  next:
    count++;
    if (UNLIKELY(p == end))
      return NULL;
    if (*p == ',') {
      p++;
      continue;
    }
    if (LIKELY(*p == '}')) {
      p++;
      break;
    }
    return NULL;
  }
close:;
  pf_json *obj = &nodes[oi];
  obj->type = PF_JSON_OBJECT;
  obj->len = count;
  obj->v.u = n - oi;
  ps->n = n;
  return p;
#undef FAST_NEED
}
#undef LIT

/* ------------------------------------------------------------------ */
/* Message shapes                                                      */

/* A client sends the same kind of message over and over: the same member
 * names in the same order, with other values. A shape is such a message
 * with its scalar values cut out: the literal bytes between the values
 * (braces, member names, separators, true/false/null, and the message's
 * "jsonrpc" and "method" strings), the holes (a string's content or a
 * number) and the node array the parser built for it. A message that
 * matches a shape byte for byte around its holes gets that node array, with
 * the holes' values and the names' positions filled in: a few comparisons
 * and one copy instead of a parse. */

#define SHAPE_SLOTS 4
#define SHAPE_NODES 64
#define SHAPE_HOLES 32
#define SHAPE_KEYS 48
#define SHAPE_LIT 768
#define SHAPE_TEXT_MAX 2048 /* longer messages are not learned */

typedef struct shape {
  uint32_t nnodes, nholes, depth;
  uint64_t token; /* this layout's number in its cache (never 0, never reused) */
  uint16_t seg[SHAPE_HOLES + 2]; /* literal k is lit[seg[k] .. seg[k + 1]) */
  uint8_t hole_node[SHAPE_HOLES];
  uint8_t hole_str[SHAPE_HOLES]; /* 1: a string's content, 0: a number */
  pf_json node[SHAPE_NODES];     /* the strings in the literals point into keytext */
  u8 lit[SHAPE_LIT];
  /* The strings in the literals (member names, and the "jsonrpc" and
   * "method" values), each NUL-terminated: a message read through the shape
   * points at these instead of NUL-terminating its own copies. They change
   * only when the slot learns another shape, which happens in a later
   * pf__json_parse_msg, after the caller has reset the arena that held the
   * nodes pointing here. */
  u8 keytext[SHAPE_LIT];
} shape;

/* When messages keep missing (more layouts in turn than there are slots),
 * shapes cost a learning walk and failed matches per message for nothing:
 * after SHAPE_MISS_RUN misses in a row the cache is left alone for `pause`
 * messages, a pause that doubles each time (up to SHAPE_PAUSE_MAX) until a
 * message matches again. */
#define SHAPE_MISS_RUN 8
#define SHAPE_PAUSE_MIN 16
#define SHAPE_PAUSE_MAX 1024

struct pf__json_shapes {
  uint32_t n;                     /* shapes in use: slots order[0 .. n) */
  uint8_t order[SHAPE_SLOTS + 1]; /* slots, most recently matched first, then free ones */
  uint32_t misses;            /* messages in a row that matched no shape */
  uint32_t skip;              /* messages still to read without shapes */
  uint32_t pause;             /* the next skip */
  uint64_t tokens;            /* shape tokens handed out */
  uint64_t last;              /* token of the shape that read the last message, or 0 */
  uint64_t hits;              /* messages read through a shape */
  shape slot[SHAPE_SLOTS + 1]; /* one spare: a shape is learned there, then replaces one */
};

pf__json_shapes *pf__json_shapes_new(void) {
  pf__json_shapes *c = pf__malloc(sizeof *c);
  if (c) {
    c->n = c->misses = c->skip = c->tokens = c->last = 0;
    c->pause = SHAPE_PAUSE_MIN;
    c->hits = 0;
    for (uint32_t i = 0; i <= SHAPE_SLOTS; i++)
      c->order[i] = (uint8_t)i;
  }
  return c;
}

void pf__json_shapes_free(pf__json_shapes *c) { pf__free(c); }

uint64_t pf__json_shapes_hits(const pf__json_shapes *c) { return c ? c->hits : 0; }

uint64_t pf__json_shapes_last(const pf__json_shapes *c) { return c ? c->last : 0; }

/* Moves order[pos] to the front (most recently used). */
static void to_front(pf__json_shapes *c, uint32_t pos) {
  uint8_t si = c->order[pos];
  for (; pos > 0; pos--)
    c->order[pos] = c->order[pos - 1];
  c->order[0] = si;
}

/* The message text (untouched) through shape sh: its nodes, or NULL when it
 * does not match (nothing written then). Strings NUL-terminated as
 * pf_json_parse does it; those of the literals are the shape's own (valid
 * until the next pf__json_parse_msg with this cache). */
static const pf_json *shape_read(const shape *sh, u8 *text, size_t len, pf_arena *arena) {
  const u8 *p = text, *end = text + len;
  pf_json hv[SHAPE_HOLES];
  parser ps = {text, end, arena, NULL, 0, NULL, 0, 1}; /* for parse_number */
  uint32_t k = 0;
  for (;; k++) {
    size_t sl = sh->seg[k + 1] - sh->seg[k];
    const char *lit = (const char *)sh->lit + sh->seg[k];
    if ((size_t)(end - p) < sl || !pf__bytes_eq((const char *)p, lit, sl))
      return NULL;
    p += sl;
    if (k == sh->nholes)
      break;
    pf_json *v = &hv[k];
    if (sh->hole_str[k]) {
      const u8 *q = p;
      for (;;) {
        q = find_stop(q, end);
        if (LIKELY(q < end && *q == '"'))
          break;
        if (q == end || *q < 0x80)
          return NULL; /* an escape or a control character: the parser's */
        int r = pf__utf8_check(q, end);
        if (r < 0)
          return NULL;
        q += r;
      }
      v->type = PF_JSON_STRING;
      v->len = (uint32_t)(q - p);
      v->v.s = (const char *)p;
      p = q;
    } else {
      v->len = 0;
      if (p == end || (*p != '-' && !is_digit(*p)) || !(p = fast_number(&ps, p, v)))
        return NULL;
    }
  }
  while (p < end && WS(*p))
    p++;
  if (p != end)
    return NULL;
  pf_json *nodes = pf_arena_alloc(arena, (size_t)sh->nnodes * sizeof(pf_json));
  if (!nodes)
    return NULL;
  memcpy(nodes, sh->node, (size_t)sh->nnodes * sizeof(pf_json));
  for (uint32_t i = 0; i < sh->nholes; i++) {
    pf_json *v = &nodes[sh->hole_node[i]];
    *v = hv[i];
    if (v->type == PF_JSON_STRING)
      ((char *)v->v.s)[v->len] = '\0';
  }
  return nodes;
}

/* Learns the shape of text (untouched, compact enough for the fast path
 * to have read it) from its n nodes. Gives up quietly on anything that does
 * not fit a slot. */
static void shape_learn(pf__json_shapes *c, const u8 *text, size_t len, const pf_json *nodes,
                        uint32_t n) {
  if (len > SHAPE_TEXT_MAX || n > SHAPE_NODES)
    return;
  uint32_t si = c->order[c->n]; /* a free slot (with all in use, the spare) */
  shape *sh = &c->slot[si];
  /* which nodes are member names, and the deepest nesting */
  uint8_t is_key[SHAPE_NODES] = {0}, depth_of[SHAPE_NODES];
  uint32_t close_at[SHAPE_NODES], depth = 0, maxdepth = 0;
  for (uint32_t i = 0; i < n; i++) {
    while (depth && close_at[depth - 1] == i)
      depth--;
    depth_of[i] = (uint8_t)depth;
    const pf_json *x = &nodes[i];
    if (!pf__json_is_container(x))
      continue;
    close_at[depth++] = i + (uint32_t)x->v.u;
    if (depth > maxdepth)
      maxdepth = depth;
    if (x->type == PF_JSON_OBJECT) {
      uint32_t j = i + 1;
      for (uint32_t m = 0; m < x->len; m++) {
        is_key[j] = 1;
        j += 1 + (uint32_t)pf__json_span(&nodes[j + 1]);
      }
    }
  }
  const u8 *p = text, *end = text + len, *segstart = text;
  uint32_t nlit = 0, nholes = 0, nkeys = 0, nkeytext = 0;
  struct {
    uint8_t node;
    uint16_t at; /* where its content starts in keytext */
  } keys[SHAPE_KEYS];
  sh->seg[0] = 0;
#define SHAPE_CUT(at)                                                                              \
  do {                                                                                             \
    size_t l_ = (size_t)((at) - segstart);                                                         \
    if (nlit + l_ > SHAPE_LIT)                                                                     \
      return;                                                                                      \
    memcpy(sh->lit + nlit, segstart, l_);                                                          \
    nlit += (uint32_t)l_;                                                                          \
    sh->seg[nholes + 1] = (uint16_t)nlit;                                                          \
  } while (0)
  for (uint32_t i = 0; i < n; i++) {
    while (p < end && (*p == ',' || *p == ':' || *p == '}' || *p == ']' || WS(*p)))
      p++;
    if (p == end)
      return;
    const pf_json *x = &nodes[i];
    switch (x->type) {
    case PF_JSON_OBJECT:
    case PF_JSON_ARRAY:
      if (*p != (x->type == PF_JSON_OBJECT ? '{' : '['))
        return;
      p++;
      break;
    case PF_JSON_STRING:
      if (*p != '"' || x->v.s != (const char *)p + 1 || p[1 + x->len] != '"')
        return;
      if (is_key[i] || (i >= 2 && depth_of[i] == 1 && is_key[i - 1] &&
                        ((nodes[i - 1].len == 7 && memcmp(nodes[i - 1].v.s, "jsonrpc", 7) == 0) ||
                         (nodes[i - 1].len == 6 && memcmp(nodes[i - 1].v.s, "method", 6) == 0)))) {
        /* member names, and the message's "jsonrpc" and "method" values
         * (the same in every message of a kind), are literal text (the
         * session relies on it: a shape's memo keeps the method) */
        if (nkeys == SHAPE_KEYS || nkeytext + x->len + 1 > SHAPE_LIT)
          return;
        keys[nkeys].node = (uint8_t)i;
        keys[nkeys++].at = (uint16_t)nkeytext;
        memcpy(sh->keytext + nkeytext, p + 1, x->len);
        sh->keytext[nkeytext + x->len] = '\0';
        nkeytext += x->len + 1;
        p += x->len + 2;
      } else {
        if (nholes == SHAPE_HOLES)
          return;
        SHAPE_CUT(p + 1);
        sh->hole_node[nholes] = (uint8_t)i;
        sh->hole_str[nholes++] = 1;
        p += 1 + x->len;
        segstart = p++; /* the closing quote begins the next literal */
      }
      break;
    case PF_JSON_INT:
    case PF_JSON_UINT:
    case PF_JSON_REAL: {
      if (nholes == SHAPE_HOLES)
        return;
      SHAPE_CUT(p);
      sh->hole_node[nholes] = (uint8_t)i;
      sh->hole_str[nholes++] = 0;
      while (p < end && (is_digit(*p) || *p == '-' || *p == '+' || *p == '.' || *p == 'e' ||
                         *p == 'E'))
        p++;
      segstart = p;
      break;
    }
    case PF_JSON_BOOL:
    case PF_JSON_NULL: {
      size_t l = x->type == PF_JSON_NULL || x->v.u ? 4 : 5;
      if ((size_t)(end - p) < l || *p != (x->type == PF_JSON_NULL ? 'n' : x->v.u ? 't' : 'f'))
        return;
      p += l;
      break;
    }
    default:
      return;
    }
  }
  while (p < end && (*p == '}' || *p == ']' || WS(*p)))
    p++;
  if (p != end)
    return;
  while (p > segstart && WS(p[-1]))
    p--;
  SHAPE_CUT(p);
#undef SHAPE_CUT
  sh->nnodes = n;
  sh->nholes = nholes;
  sh->depth = maxdepth;
  sh->token = ++c->tokens;
  memcpy(sh->node, nodes, (size_t)n * sizeof(pf_json));
  for (uint32_t i = 0; i < nkeys; i++)
    sh->node[keys[i].node].v.s = (const char *)sh->keytext + keys[i].at;
  /* in use, and tried first; with all slots in use, the least recently
   * matched shape becomes the spare */
  to_front(c, c->n);
  if (c->n < SHAPE_SLOTS)
    c->n++;
}

const pf_json *pf__json_parse_msg(char *text, size_t len, pf_arena *arena,
                                  const pf_json_opts *opts, pf_json_error *err,
                                  pf__json_shapes *shapes) {
  limits l = limits_of(opts);
  if (shapes)
    shapes->last = 0;
  /* The fast path: a compact object of at most 64 KB, duplicate keys
   * rejected, the default nesting limit or less (one stack on this frame). */
  if (len >= 2 && len <= 65536 && len <= l.max_size && text[0] == '{' && l.dup_reject &&
      l.max_depth <= 128) {
    if (shapes) {
      if (UNLIKELY(shapes->skip)) {
        shapes->skip--;
        shapes = NULL; /* neither read through nor learned */
      } else {
        for (uint32_t i = 0; i < shapes->n; i++) {
          const shape *sh = &shapes->slot[shapes->order[i]];
          if (sh->depth > l.max_depth)
            continue;
          const pf_json *r = shape_read(sh, (u8 *)text, len, arena);
          if (r) {
            to_front(shapes, i);
            shapes->hits++;
            shapes->last = sh->token;
            shapes->misses = 0;
            shapes->pause = SHAPE_PAUSE_MIN;
            return r;
          }
        }
        if (++shapes->misses >= SHAPE_MISS_RUN) {
          shapes->misses = 0;
          shapes->skip = shapes->pause;
          if (shapes->pause < SHAPE_PAUSE_MAX)
            shapes->pause *= 2;
        }
      }
    }
    parser ps = {(u8 *)text, (const u8 *)text + len, arena, NULL, 0, NULL, 0, 1};
    ps.cap = node_estimate(len);
    ps.nodes = pf_arena_alloc(arena, (size_t)ps.cap * sizeof(pf_json));
    if (ps.nodes) {
      uint32_t stack[128];
      fastnul z;
      z.nquote = z.nrange = 0;
      z.all = false;
      const u8 *p = fast_object(&ps, ps.buf, 0, l.max_depth, stack, &z), *end = ps.end;
      while (p && p < end && WS(*p))
        p++;
      if (p == end) {
        if (shapes)
          shape_learn(shapes, ps.buf, len, ps.nodes, ps.n);
        /* kept: NUL-terminate the strings, as the full parser does */
        if (z.all) { /* too many to have noted: every node */
          z.nquote = 0;
          z.range[0][0] = 0;
          z.range[0][1] = ps.n;
          z.nrange = 1;
        }
        for (uint32_t i = 0; i < z.nquote; i++)
          *z.quote[i] = '\0';
        for (uint32_t r = 0; r < z.nrange; r++)
          for (uint32_t i = z.range[r][0]; i < z.range[r][1]; i++)
            if (ps.nodes[i].type == PF_JSON_STRING)
              ((char *)ps.nodes[i].v.s)[ps.nodes[i].len] = '\0';
        return ps.nodes;
      }
      /* given up (the text is as it was): the full parser, same nodes */
      ps.n = 0;
      ps.sub = 0;
      ps.err = err;
      return machine(&ps, ps.buf, l.max_depth, 1, stack, 0) ? ps.nodes : NULL;
    }
  }
  return pf_json_parse(text, len, arena, opts, err);
}

const pf_json *pf_json_parse_copy(const char *text, size_t len, pf_arena *arena,
                                  const pf_json_opts *opts, pf_json_error *err) {
  size_t max_size = opts && opts->max_size ? opts->max_size : PF_JSON_MAX_SIZE_DEFAULT;
  if (len > max_size || len > PF_JSON_MAX_SIZE_LIMIT) {
    if (err) {
      err->code = -PF_EJSON_SIZE;
      err->offset = max_size < len ? max_size : len;
      err->msg = "JSON text exceeds the maximum size";
    }
    return NULL;
  }
  char *copy = pf_arena_strndup(arena, text, len);
  if (!copy) {
    if (err) {
      err->code = -PF_ENOMEM;
      err->offset = 0;
      err->msg = "out of memory";
    }
    return NULL;
  }
  return pf_json_parse(copy, len, arena, opts, err);
}

char *pf_json_error_pos(const char *text, size_t len, const pf_json_error *err, char *out,
                        size_t outsize) {
  size_t line = 1, col = 1, off = err->offset < len ? err->offset : len;
  for (size_t i = 0; i < off; i++) {
    if (text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  if (outsize)
    snprintf(out, outsize, "%zu:%zu", line, col);
  return out;
}

/* JSON internals shared by the parser, the reader and the writer.
 *
 * A parsed document is a flat array of 16-byte nodes in document order
 * (pre-order). A container node is followed by its children; for an object
 * the children alternate key (a string node) and value. A container stores
 * in v.u the number of nodes in its subtree including itself, so the next
 * sibling of any node is `node + pf__json_span(node)` and skipping a subtree
 * is O(1).
 */
#ifndef PF_JSON_INTERNAL_H
#define PF_JSON_INTERNAL_H

#include <pforge/json.h>

#include <stdint.h>
#include <string.h>

struct pf_json {
  uint32_t type; /* pf_json_type */
  uint32_t len;  /* string bytes, array elements, object members */
  union {
    const char *s; /* string: NUL-terminated, in the parse buffer */
    int64_t i;
    uint64_t u;    /* UINT; BOOL (0/1); containers: subtree node count */
    double d;
  } v;
};

_Static_assert(sizeof(struct pf_json) == 16, "pf_json node must stay 16 bytes");

static inline int pf__json_is_container(const pf_json *n) {
  return n->type == PF_JSON_ARRAY || n->type == PF_JSON_OBJECT;
}

static inline size_t pf__json_span(const pf_json *n) {
  return pf__json_is_container(n) ? (size_t)n->v.u : 1;
}

/* UTF-8: length of the valid sequence starting at p (2..4), or, when it is
 * invalid, minus the length of its maximal invalid subpart (-1..-3).
 * p < end, and *p >= 0x80. Well-formed sequences per Unicode 15, table 3-7:
 * no overlong forms, no encoded surrogates, nothing above U+10FFFF. */
static inline int pf__utf8_check(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t avail = (size_t)(end - p);
  unsigned lo = 0x80, hi = 0xBF;
  int need;
  if (c >= 0xC2 && c <= 0xDF) {
    if (avail >= 2 && (p[1] & 0xC0) == 0x80)
      return 2; /* the common 2-byte case, checked in one step */
    return -1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F; /* no UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F; /* nothing above U+10FFFF */
  } else {
    return -1; /* continuation byte, C0/C1 (overlong), F5..FF */
  }
  /* The second byte has the special range; the rest are 80..BF. */
  if (avail < 2 || p[1] < lo || p[1] > hi)
    return -1;
  if (avail < 3 || (p[2] & 0xC0) != 0x80)
    return -2;
  if (need == 3)
    return 3;
  if (avail < 4 || (p[3] & 0xC0) != 0x80)
    return -3;
  return 4;
}

/* Writes code point cp (<= 0x10FFFF) as UTF-8 at o; returns its length
 * (1..4). */
static inline size_t pf__utf8_put(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Message shapes (parse.c): the last few message layouts a thread has
 * read (member names, their order and separators, with the scalar values
 * cut out), so a message laid out like one of them is read by comparing
 * the bytes around its values. One per thread; not thread-safe. */
typedef struct pf__json_shapes pf__json_shapes;
pf__json_shapes *pf__json_shapes_new(void); /* NULL when out of memory */
void pf__json_shapes_free(pf__json_shapes *c);
uint64_t pf__json_shapes_hits(const pf__json_shapes *c); /* messages read through a shape */
/* The shape that read the last message given to pf__json_parse_msg with
 * this cache: a number that stands for its layout (the same node array
 * structure, member names and "jsonrpc"/"method" values) as long as the
 * cache lives, or 0 when that message was parsed. */
uint64_t pf__json_shapes_last(const pf__json_shapes *c);

/* pf_json_parse() for a JSON-RPC message: the same result, errors and
 * in-place changes, faster for the usual compact message (its envelope and
 * params members are read without the general state machine). With
 * shapes (or NULL), a message laid out like a recent one is read through
 * its shape, and the layout of one that is not is learned. Then the member
 * names (and the "jsonrpc" and "method" values) are the cache's text, not
 * the message's: the result is valid until the next call with the same
 * cache (as the session uses it: one arena reset per message), not longer. */
const pf_json *pf__json_parse_msg(char *text, size_t len, pf_arena *arena,
                                  const pf_json_opts *opts, pf_json_error *err,
                                  pf__json_shapes *shapes);

/* Correctly rounded decimal -> double for a validated JSON number text. */
int pf__json_strtod(const char *text, size_t len, double *out);

/* Room an escape needs beyond 6 bytes per input byte (see below). */
#define PF__ESCAPE_SLACK 32
/* pf__json_escape_to's general loop (write.c). */
char *pf__json_escape_run(char *o, const char *s, size_t len);

/* a[0..n) == b[0..n) for the short runs of keys, names and message
 * literals: 8- or 4-byte words (the last one overlapping), no call; reads
 * nothing outside either range. */
static inline bool pf__bytes_eq(const char *a, const char *b, size_t n) {
  if (n >= 8) {
    uint64_t x, y;
    for (size_t i = 0; i + 8 < n; i += 8) {
      memcpy(&x, a + i, 8);
      memcpy(&y, b + i, 8);
      if (x != y)
        return false;
    }
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    uint32_t x1, y1, x2, y2;
    memcpy(&x1, a, 4);
    memcpy(&y1, b, 4);
    memcpy(&x2, a + n - 4, 4);
    memcpy(&y2, b + n - 4, 4);
    return ((x1 ^ y1) | (x2 ^ y2)) == 0;
  }
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return false;
  return true;
}

/* Bytes that need attention when escaping: '"', '\\', controls, non-ASCII. */
extern const unsigned char pf__json_needs_escape[256];

/* Whether none of 8 bytes needs escaping (SWAR: a byte below n sets its
 * high bit in (x - n * ones) & ~x; a borrow only follows a byte that is
 * itself a hit, so the verdict is exact). */
static inline bool pf__json_plain8(uint64_t x) {
  const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
  uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x;
  return (hit & high) == 0;
}

/* The JSON string escape of s (without quotes) written at o, which must
 * have room for 6 * len + PF__ESCAPE_SLACK bytes; returns the end. The same
 * output as pf_json_escape(), for a caller that reserved once. Short plain
 * strings (keys, names, numbers as text) are copied here after a word test
 * or two; anything else goes to the general loop. */
static inline __attribute__((always_inline)) char *pf__json_escape_to(char *o, const char *s,
                                                                     size_t len) {
  if (len >= 8 && len < 16) {
    uint64_t a, b;
    memcpy(&a, s, 8);
    memcpy(&b, s + len - 8, 8);
    if (pf__json_plain8(a) && pf__json_plain8(b)) {
      memcpy(o, &a, 8);
      memcpy(o + len - 8, &b, 8);
      return o + len;
    }
  } else if (len >= 4 && len < 8) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + len - 4, 4);
    if (pf__json_plain8((uint64_t)a << 32 | b)) {
      memcpy(o, &a, 4);
      memcpy(o + len - 4, &b, 4);
      return o + len;
    }
  } else if (len < 4) {
    size_t i = 0;
    while (i < len && !pf__json_needs_escape[(unsigned char)s[i]]) {
      o[i] = s[i];
      i++;
    }
    if (i == len)
      return o + len;
  }
  return pf__json_escape_run(o, s, len);
}

/* Decimal digits of v into out (at most 20 bytes, no NUL); returns count. */
size_t pf__json_fmt_u64(uint64_t v, char *out);

#endif

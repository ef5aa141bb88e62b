/* Streaming JSON writer: compact output appended to a pf_buf. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "base/alloc.h"
#include "json/internal.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

typedef unsigned char u8;

/* Escape action per byte: 0 copy, 1 needs attention ('"', '\\', control,
 * or non-ASCII to be validated). */
const unsigned char pf__json_needs_escape[256] = {
#define R16(x) [x] = 1, [x + 1] = 1, [x + 2] = 1, [x + 3] = 1, [x + 4] = 1, [x + 5] = 1, \
    [x + 6] = 1, [x + 7] = 1, [x + 8] = 1, [x + 9] = 1, [x + 10] = 1, [x + 11] = 1,      \
    [x + 12] = 1, [x + 13] = 1, [x + 14] = 1, [x + 15] = 1
    R16(0x00), R16(0x10), R16(0x80), R16(0x90), R16(0xA0), R16(0xB0),
    R16(0xC0), R16(0xD0), R16(0xE0), R16(0xF0), ['"'] = 1, ['\\'] = 1,
#undef R16
};

static const char hexd[16] = "0123456789abcdef";

/* Input processed per capacity reservation; output is at most 6 bytes per
 * input byte (a control character becomes \u00XX). The slack lets the
 * copy loop store 16 bytes at a time and a multi-byte character straddle
 * the chunk limit. */
#define CHUNK 4096
#define SLACK PF__ESCAPE_SLACK

/* Escapes [p, lim) into o, which has room for 6 bytes per input byte plus
 * SLACK; a multi-byte character may run past lim, up to end. Returns the
 * output's end and sets *pp to where the input stopped (>= lim). */
static inline char *escape_run(char *o, const u8 **pp, const u8 *lim, const u8 *end) {
  const u8 *p = *pp;
  while (p < lim) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (lim - p >= 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
      /* store first, decide after: the reservation has room for it */
      _mm_storeu_si128((__m128i *)(void *)o, v);
      __m128i m = _mm_or_si128(
          _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
          _mm_cmplt_epi8(v, space));
      unsigned mask = (unsigned)_mm_movemask_epi8(m);
      if (!mask) {
        p += 16;
        o += 16;
        continue;
      }
      unsigned k = (unsigned)__builtin_ctz(mask);
      p += k;
      o += k;
      goto special;
    }
#endif
    while (p < lim && !pf__json_needs_escape[*p])
      *o++ = (char)*p++;
    if (p >= lim)
      break;
#ifdef __SSE2__
  special:;
#endif
    u8 c = *p;
    if (c == '"' || c == '\\') {
      o[0] = '\\';
      o[1] = (char)c;
      o += 2;
      p++;
    } else if (c < 0x20) {
      o[0] = '\\';
      switch (c) {
      case '\n': o[1] = 'n'; o += 2; break;
      case '\r': o[1] = 'r'; o += 2; break;
      case '\t': o[1] = 't'; o += 2; break;
      case '\b': o[1] = 'b'; o += 2; break;
      case '\f': o[1] = 'f'; o += 2; break;
      default:
        memcpy(o + 1, "u00", 3);
        o[4] = hexd[c >> 4];
        o[5] = hexd[c & 15];
        o += 6;
      }
      p++;
    } else {
      /* a run of non-ASCII: copy valid characters, replace each maximal
       * invalid subpart with U+FFFD */
      do {
        int n = pf__utf8_check(p, end);
        if (LIKELY(n > 0)) {
          o[0] = (char)p[0];
          o[1] = (char)p[1];
          if (n > 2) {
            o[2] = (char)p[2];
            if (n > 3)
              o[3] = (char)p[3];
          }
          o += n;
          p += n;
        } else {
          memcpy(o, "\xEF\xBF\xBD", 3);
          o += 3;
          p += -n;
        }
      } while (p < lim && *p >= 0x80);
    }
  }
  *pp = p;
  return o;
}

char *pf__json_escape_run(char *o, const char *s, size_t len) {
  const u8 *p = (const u8 *)s;
  return escape_run(o, &p, p + len, p + len);
}

void pf_json_escape(pf_buf *out, const char *s, size_t len) {
  const u8 *p = (const u8 *)s, *end = p + len;
  while (p < end) {
    size_t take = (size_t)(end - p) < CHUNK ? (size_t)(end - p) : CHUNK;
    if (pf_buf_reserve(out, take * 6 + SLACK) != 0)
      return;
    char *o = escape_run(out->data + out->len, &p, p + take, end);
    out->len = (size_t)(o - out->data);
  }
}

void pf_jw_init(pf_json_writer *w, pf_buf *out) {
  w->out = out;
  w->comma = false;
}

static inline void sep(pf_json_writer *w) {
  if (w->comma)
    pf_buf_putc(w->out, ',');
}

void pf_jw_obj_begin(pf_json_writer *w) {
  sep(w);
  pf_buf_putc(w->out, '{');
  w->comma = false;
}
void pf_jw_obj_end(pf_json_writer *w) {
  pf_buf_putc(w->out, '}');
  w->comma = true;
}
void pf_jw_arr_begin(pf_json_writer *w) {
  sep(w);
  pf_buf_putc(w->out, '[');
  w->comma = false;
}
void pf_jw_arr_end(pf_json_writer *w) {
  pf_buf_putc(w->out, ']');
  w->comma = true;
}

static inline void quoted(pf_buf *out, const char *s, size_t len) {
  pf_buf_putc(out, '"');
  pf_json_escape(out, s, len);
  pf_buf_putc(out, '"');
}

/* A string (or a key and its ':') with its separator: for a short one, all
 * in one reservation. */
static inline void put_quoted(pf_json_writer *w, const char *s, size_t len, bool key) {
  pf_buf *out = w->out;
  if (LIKELY(len <= CHUNK)) {
    if (pf_buf_reserve(out, len * 6 + SLACK + 4) == 0) {
      char *o = out->data + out->len;
      if (w->comma)
        *o++ = ',';
      *o++ = '"';
      o = pf__json_escape_to(o, s, len);
      *o++ = '"';
      if (key)
        *o++ = ':';
      out->len = (size_t)(o - out->data);
    }
  } else {
    sep(w);
    quoted(out, s, len);
    if (key)
      pf_buf_putc(out, ':');
  }
  w->comma = !key;
}

void pf_jw_key(pf_json_writer *w, const char *key, size_t len) { put_quoted(w, key, len, true); }

void pf_jw_str(pf_json_writer *w, const char *s, size_t len) { put_quoted(w, s, len, false); }

void pf_jw_strz(pf_json_writer *w, const char *s) {
  if (!s)
    pf_jw_null(w);
  else
    pf_jw_str(w, s, strlen(s));
}

void pf_jw_int(pf_json_writer *w, int64_t v) {
  sep(w);
  if (pf_buf_reserve(w->out, 21) == 0) {
    char *o = w->out->data + w->out->len;
    size_t k = 0;
    uint64_t u = (uint64_t)v;
    if (v < 0) {
      o[k++] = '-';
      u = (uint64_t)0 - u;
    }
    k += pf__json_fmt_u64(u, o + k);
    w->out->len += k;
  }
  w->comma = true;
}

void pf_jw_uint(pf_json_writer *w, uint64_t v) {
  sep(w);
  if (pf_buf_reserve(w->out, 20) == 0)
    w->out->len += pf__json_fmt_u64(v, w->out->data + w->out->len);
  w->comma = true;
}

void pf_jw_double(pf_json_writer *w, double v) {
  char tmp[40];
  size_t n = pf_json_fmt_double(v, tmp);
  sep(w);
  pf_buf_append(w->out, tmp, n);
  w->comma = true;
}

void pf_jw_bool(pf_json_writer *w, bool v) {
  sep(w);
  if (v)
    pf_buf_append(w->out, "true", 4);
  else
    pf_buf_append(w->out, "false", 5);
  w->comma = true;
}

void pf_jw_null(pf_json_writer *w) {
  sep(w);
  pf_buf_append(w->out, "null", 4);
  w->comma = true;
}

void pf_jw_raw(pf_json_writer *w, const char *json, size_t len) {
  sep(w);
  pf_buf_append(w->out, json, len);
  w->comma = true;
}

/* Serializes a subtree by walking its nodes in order (they are stored in
 * pre-order), with an explicit stack of open containers: no recursion, so
 * any depth the parser accepted can be written back. */
typedef struct level {
  const pf_json *end; /* one past the container's last node */
  bool object;
  bool key_next;
} level;

void pf_jw_value(pf_json_writer *w, const pf_json *v) {
  if (!v) {
    pf_jw_null(w);
    return;
  }
  level small[64];
  level *lv = small;
  size_t cap = 64, depth = 0;
  const pf_json *n = v, *stop = v + pf__json_span(v);
  while (n < stop) {
    while (depth && n == lv[depth - 1].end) {
      if (lv[--depth].object)
        pf_jw_obj_end(w);
      else
        pf_jw_arr_end(w);
    }
    if (depth && lv[depth - 1].object) {
      if (lv[depth - 1].key_next) {
        pf_jw_key(w, n->v.s, n->len);
        lv[depth - 1].key_next = false;
        n++;
        continue;
      }
      lv[depth - 1].key_next = true;
    }
    switch (n->type) {
    case PF_JSON_NULL: pf_jw_null(w); break;
    case PF_JSON_BOOL: pf_jw_bool(w, n->v.u != 0); break;
    case PF_JSON_INT: pf_jw_int(w, n->v.i); break;
    case PF_JSON_UINT: pf_jw_uint(w, n->v.u); break;
    case PF_JSON_REAL: pf_jw_double(w, n->v.d); break;
    case PF_JSON_STRING: pf_jw_str(w, n->v.s, n->len); break;
    case PF_JSON_ARRAY:
    case PF_JSON_OBJECT:
      if (depth == cap) {
        level *nl = pf__malloc(2 * cap * sizeof *nl);
        if (!nl) {
          w->out->failed = true;
          goto out;
        }
        memcpy(nl, lv, depth * sizeof *nl);
        if (lv != small)
          pf__free(lv);
        lv = nl;
        cap *= 2;
      }
      lv[depth].end = n + n->v.u;
      lv[depth].object = n->type == PF_JSON_OBJECT;
      lv[depth].key_next = true;
      depth++;
      if (n->type == PF_JSON_OBJECT)
        pf_jw_obj_begin(w);
      else
        pf_jw_arr_begin(w);
      break;
    }
    n++;
  }
  while (depth) {
    if (lv[--depth].object)
      pf_jw_obj_end(w);
    else
      pf_jw_arr_end(w);
  }
out:
  if (lv != small)
    pf__free(lv);
}

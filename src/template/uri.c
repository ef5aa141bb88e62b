/* RFC 6570 level-1 URI templates: compile, expand, match. */
#include "template/uri.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pforge/error.h>

#include "base/alloc.h"

typedef struct span {
  uint32_t off, len; /* in strs */
} span;

struct pf_uritmpl {
  size_t nvars;
  span lit[PF_URITMPL_MAX_VARS + 1]; /* lit[i] precedes var i; lit[nvars] ends */
  span name[PF_URITMPL_MAX_VARS];
  char strs[]; /* literals, then names NUL-terminated */
};

static const char hexu[16] = "0123456789ABCDEF";

static bool unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void pf__uri_pct_encode(pf_buf *out, const char *s, size_t n) {
  /* worst case three bytes out per byte in, reserved once */
  if (n > (SIZE_MAX - 1) / 3 || pf_buf_reserve(out, n * 3) != 0) {
    out->failed = true;
    return;
  }
  char *o = out->data + out->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (unreserved(c)) {
      *o++ = (char)c;
    } else {
      o[0] = '%';
      o[1] = hexu[c >> 4];
      o[2] = hexu[c & 15];
      o += 3;
    }
  }
  out->len = (size_t)(o - out->data);
}

/* ------------------------------------------------------------------ */
/* Compilation                                                         */

__attribute__((format(printf, 3, 4))) static void fail(pf_buf *err, size_t offset, const char *fmt,
                                                       ...) {
  if (!err)
    return;
  pf_buf_printf(err, "byte %zu: ", offset);
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  pf_buf_puts(err, msg);
}

static bool varchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Checks the varname text[b..e) (non-empty); returns false after
 * reporting. */
static bool check_name(const char *s, size_t b, size_t e, pf_buf *err) {
  for (size_t i = b; i < e;) {
    unsigned char c = (unsigned char)s[i];
    if (varchar(c)) {
      i++;
    } else if (c == '%') {
      if (e - i < 3 || hexval((unsigned char)s[i + 1]) < 0 || hexval((unsigned char)s[i + 2]) < 0)
        return fail(err, i, "'%%' in a variable name must be followed by two hex digits"), false;
      i += 3;
    } else if (c == '.') {
      if (i == b || i + 1 == e || s[i + 1] == '.')
        return fail(err, i, "'.' in a variable name must sit between two name characters"), false;
      i++;
    } else if (c == ':' || c == '*') {
      return fail(err, i,
                  "modifier '%c' is not supported: only level 1 templates ({var}) are supported",
                  c),
             false;
    } else if (c == ',') {
      return fail(err, i,
                  "a variable list is not supported: only level 1 templates ({var}) are "
                  "supported"),
             false;
    } else {
      if (c >= 0x20 && c < 0x7f)
        fail(err, i, "invalid character '%c' in variable name", c);
      else
        fail(err, i, "invalid character 0x%02X in variable name", c);
      return false;
    }
  }
  return true;
}

pf_uritmpl *pf_uritmpl_compile(const char *tmpl, size_t len, pf_buf *err) {
  const char *s = tmpl ? tmpl : "";
  if (!tmpl)
    len = 0;
  if (len >= UINT32_MAX / 2) {
    fail(err, 0, "template too long");
    return NULL;
  }
  span lit[PF_URITMPL_MAX_VARS + 1], name[PF_URITMPL_MAX_VARS];
  size_t n = 0, start = 0, i = 0;
  while (i < len) {
    char c = s[i];
    if (c == '}') {
      fail(err, i, "'}' without a matching '{'");
      return NULL;
    }
    if (c != '{') {
      i++;
      continue;
    }
    const char *close = memchr(s + i + 1, '}', len - i - 1);
    if (!close) {
      fail(err, i, "unclosed '{'");
      return NULL;
    }
    size_t b = i + 1, e = (size_t)(close - s);
    if (b == e) {
      fail(err, i, "empty variable name");
      return NULL;
    }
    if (s[b] != '\0' && strchr("+#./;?&=,!@|", s[b])) {
      fail(err, b, "operator '%c' is not supported: only level 1 templates ({var}) are supported",
           s[b]);
      return NULL;
    }
    if (!check_name(s, b, e, err))
      return NULL;
    if (n > 0 && i == start) {
      fail(err, i,
           "variables '%.*s' and '%.*s' have no literal between them, so a match would be "
           "ambiguous",
           (int)name[n - 1].len, s + name[n - 1].off, (int)(e - b), s + b);
      return NULL;
    }
    for (size_t k = 0; k < n; k++) {
      if (name[k].len == e - b && memcmp(s + name[k].off, s + b, e - b) == 0) {
        fail(err, b, "duplicate variable '%.*s'", (int)(e - b), s + b);
        return NULL;
      }
    }
    if (n == PF_URITMPL_MAX_VARS) {
      fail(err, i, "more than %d variables", PF_URITMPL_MAX_VARS);
      return NULL;
    }
    lit[n] = (span){(uint32_t)start, (uint32_t)(i - start)};
    name[n++] = (span){(uint32_t)b, (uint32_t)(e - b)};
    i = start = e + 1;
  }
  lit[n] = (span){(uint32_t)start, (uint32_t)(len - start)};

  /* The literals are copied as-is: offsets into the source stay valid in
   * the copy. Names are NUL-terminated after it. */
  size_t names = 0;
  for (size_t k = 0; k < n; k++)
    names += name[k].len + 1;
  pf_uritmpl *t = pf__malloc(sizeof *t + len + names + 1);
  if (!t) {
    fail(err, 0, "out of memory");
    return NULL;
  }
  t->nvars = n;
  memcpy(t->lit, lit, (n + 1) * sizeof lit[0]);
  if (len)
    memcpy(t->strs, s, len);
  size_t o = len;
  for (size_t k = 0; k < n; k++) {
    memcpy(t->strs + o, s + name[k].off, name[k].len);
    t->strs[o + name[k].len] = '\0';
    t->name[k] = (span){(uint32_t)o, name[k].len};
    o += name[k].len + 1;
  }
  t->strs[o] = '\0';
  return t;
}

void pf_uritmpl_free(pf_uritmpl *t) { pf__free(t); }

size_t pf_uritmpl_nvars(const pf_uritmpl *t) { return t ? t->nvars : 0; }

const char *pf_uritmpl_var(const pf_uritmpl *t, size_t i) {
  return t && i < t->nvars ? t->strs + t->name[i].off : NULL;
}

bool pf_uritmpl_is_template(const char *s, size_t len) { return s && memchr(s, '{', len); }

int pf_uritmpl_expand(const pf_uritmpl *t, const char *const *values, const size_t *lens,
                      pf_buf *out) {
  if (!t || !out)
    return -PF_EINVAL;
  for (size_t i = 0;; i++) {
    pf_buf_append(out, t->strs + t->lit[i].off, t->lit[i].len);
    if (i == t->nvars)
      break;
    const char *v = values ? values[i] : NULL;
    if (v)
      pf__uri_pct_encode(out, v, lens ? lens[i] : strlen(v));
  }
  return out->failed ? -PF_ENOMEM : 0;
}

/* ------------------------------------------------------------------ */
/* Matching                                                            */

typedef struct matcher {
  const pf_uritmpl *t;
  const unsigned char *u;
  size_t len;
  size_t end;  /* where the last variable ends: len - |final literal| */
  bool slash;  /* may variables contain '/' */
  uint8_t *ok; /* bit (i, pos): variable i starting at pos completes */
} matcher;

static bool bit(const matcher *m, size_t i, size_t pos) {
  size_t k = i * (m->len + 1) + pos;
  return (m->ok[k >> 3] >> (k & 7)) & 1;
}

static void set_bit(matcher *m, size_t i, size_t pos) {
  size_t k = i * (m->len + 1) + pos;
  m->ok[k >> 3] |= (uint8_t)(1u << (k & 7));
}

static bool lit_at(const matcher *m, size_t i, size_t pos) {
  const span *l = &m->t->lit[i];
  return m->len - pos >= l->len && memcmp(m->u + pos, m->t->strs + l->off, l->len) == 0;
}

/* Variable i (not the last) ending at e: the literal after it is there and
 * the variables after it can complete. */
static bool good_end(const matcher *m, size_t i, size_t e) {
  return lit_at(m, i + 1, e) && bit(m, i + 1, e + m->t->lit[i + 1].len);
}

/* Fills the ok bits backwards, variable by variable, in one sweep of the
 * URI each: ok(i, pos) holds when some end e in (pos, limit(pos)] is a
 * good end, where limit is the next '/' unless variables may span it. */
static void fill(matcher *m) {
  size_t n = m->t->nvars, last = n - 1;
  bool seen_slash = false;
  for (size_t pos = m->end; pos-- > 0;) {
    seen_slash = seen_slash || m->u[pos] == '/';
    if (m->slash || !seen_slash)
      set_bit(m, last, pos);
  }
  for (size_t i = last; i-- > 0;) {
    size_t best = SIZE_MAX, next_slash = m->len;
    for (size_t pos = m->len; pos-- > 0;) {
      if (good_end(m, i, pos + 1))
        best = pos + 1;
      if (m->u[pos] == '/')
        next_slash = pos;
      size_t limit = m->slash ? m->len : next_slash;
      if (best <= limit)
        set_bit(m, i, pos);
    }
  }
}

/* Decodes u[b..e) into the arena; NULL for an invalid escape or OOM. */
static char *decode(pf_arena *a, const unsigned char *u, size_t b, size_t e, size_t *outlen) {
  char *d = pf_arena_alloc(a, e - b + 1);
  if (!d)
    return NULL;
  size_t k = 0;
  for (size_t i = b; i < e; i++) {
    if (u[i] != '%') {
      d[k++] = (char)u[i];
      continue;
    }
    int hi = i + 2 < e ? hexval(u[i + 1]) : -1, lo = hi >= 0 ? hexval(u[i + 2]) : -1;
    if (lo < 0)
      return NULL;
    d[k++] = (char)(hi << 4 | lo);
    i += 2;
  }
  d[k] = '\0';
  *outlen = k;
  return d;
}

bool pf_uritmpl_match(const pf_uritmpl *t, const char *uri, size_t len, pf_arena *a,
                      const char **values, size_t *lens) {
  if (!t || (!uri && len))
    return false;
  matcher m = {t, (const unsigned char *)(uri ? uri : ""), len, 0, false, NULL};
  if (!lit_at(&m, 0, 0))
    return false;
  size_t n = t->nvars, first = t->lit[0].len, fin = t->lit[n].len;
  if (n == 0)
    return len == first;
  if (len < first + fin + n)
    return false;
  m.end = len - fin;
  if (!lit_at(&m, n, m.end))
    return false;
  if (len > (SIZE_MAX - 8) / 8 / n - 1)
    return false;
  size_t bytes = (n * (len + 1) + 7) / 8;
  m.ok = pf_arena_alloc(a, bytes);
  if (!m.ok)
    return false;
  for (int pass = 0; pass < 2; pass++) {
    m.slash = pass == 1;
    memset(m.ok, 0, bytes);
    fill(&m);
    if (!bit(&m, 0, first))
      continue;
    /* Walk forward taking, for each variable, the longest end that still
     * completes: the bits say which ends do. */
    size_t pos = first;
    for (size_t i = 0; i < n; i++) {
      size_t e;
      if (i == n - 1) {
        e = m.end;
      } else {
        size_t limit = len;
        if (!m.slash) {
          const void *sl = memchr(m.u + pos, '/', len - pos);
          if (sl)
            limit = (size_t)((const unsigned char *)sl - m.u);
        }
        for (e = limit; !good_end(&m, i, e); e--)
          ;
      }
      values[i] = decode(a, m.u, pos, e, &lens[i]);
      if (!values[i])
        return false;
      pos = i == n - 1 ? len : e + t->lit[i + 1].len;
    }
    return true;
  }
  return false;
}

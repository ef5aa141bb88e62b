/* JSON-aware templates: the document is validated once at compile time and
 * flattened into a list of pieces: compact literal JSON text, templated
 * strings (rendered between quotes with JSON escaping) and typed
 * substitutions (one {{path}} replacing a whole string value). Rendering
 * is a loop over the pieces, so its output is valid JSON by construction.
 */
#include "template/jsontmpl.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pforge/error.h>
#include <pforge/json.h>

#include "base/alloc.h"
#include "json/internal.h"

enum piece_kind {
  P_TEXT,  /* literal compact JSON: text[off .. off+len) */
  P_STR,   /* a templated string's inside; quotes are in the text around it */
  P_VALUE, /* a typed substitution */
};

typedef struct piece {
  int kind;
  size_t off, len;
  pf_tmpl *t;
} piece;

struct pf_jtmpl {
  piece *pieces;
  size_t npieces;
  pf_buf text;
  const char **vars; /* owned by the templates */
  size_t nvars;
};

typedef struct jc {
  pf_jtmpl *t;
  const char *s;
  size_t len, pos;
  size_t cap_pieces, cap_vars;
  bool failed;
  pf_buf *err;
} jc;

/* ------------------------------------------------------------------ */
/* Compilation                                                         */

__attribute__((format(printf, 3, 4))) static bool fail(jc *c, size_t offset, const char *fmt, ...) {
  if (c->failed)
    return false;
  c->failed = true;
  if (c->err) {
    unsigned line = 1;
    size_t bol = 0;
    for (size_t i = 0; i < offset && i < c->len; i++)
      if (c->s[i] == '\n') {
        line++;
        bol = i + 1;
      }
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pf_buf_printf(c->err, "%u:%zu: %s", line, offset - bol + 1, msg);
  }
  return false;
}

static bool add_piece(jc *c, int kind, size_t off, size_t len, pf_tmpl *t) {
  pf_jtmpl *j = c->t;
  /* consecutive literal text is one piece */
  if (kind == P_TEXT && j->npieces && j->pieces[j->npieces - 1].kind == P_TEXT) {
    j->pieces[j->npieces - 1].len += len;
    return true;
  }
  if (j->npieces == c->cap_pieces) {
    size_t ncap = c->cap_pieces ? c->cap_pieces * 2 : 8;
    piece *np = pf__realloc(j->pieces, ncap * sizeof *np);
    if (!np) {
      pf_tmpl_free(t);
      return fail(c, c->pos, "out of memory");
    }
    j->pieces = np;
    c->cap_pieces = ncap;
  }
  j->pieces[j->npieces++] = (piece){kind, off, len, t};
  return true;
}

static bool lit(jc *c, const char *s, size_t n) {
  size_t off = c->t->text.len;
  pf_buf_append(&c->t->text, s, n);
  if (c->t->text.failed)
    return fail(c, c->pos, "out of memory");
  return add_piece(c, P_TEXT, off, n, NULL);
}

static bool add_vars(jc *c, const pf_tmpl *t) {
  pf_jtmpl *j = c->t;
  for (size_t i = 0; i < pf_tmpl_nvars(t); i++) {
    const char *v = pf_tmpl_var(t, i);
    bool seen = false;
    for (size_t k = 0; k < j->nvars && !seen; k++)
      seen = strcmp(j->vars[k], v) == 0;
    if (seen)
      continue;
    if (j->nvars == c->cap_vars) {
      size_t ncap = c->cap_vars ? c->cap_vars * 2 : 8;
      const char **nv = pf__realloc(j->vars, ncap * sizeof *nv);
      if (!nv)
        return fail(c, c->pos, "out of memory");
      j->vars = nv;
      c->cap_vars = ncap;
    }
    j->vars[j->nvars++] = v;
  }
  return true;
}

static void skip_ws(jc *c) {
  while (c->pos < c->len && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' || c->s[c->pos] == '\n' ||
                             c->s[c->pos] == '\r'))
    c->pos++;
}

static bool is_hex(char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* The value of the 4 hex digits of a \\u escape at `at`, or -1. */
static long hex4(const jc *c, size_t at) {
  long v = 0;
  for (size_t i = 2; i < 6; i++) {
    if (at + i >= c->len || !is_hex(c->s[at + i]))
      return -1;
    char h = c->s[at + i];
    v = v * 16 + (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
  }
  return v;
}

/* A string at c->pos (the opening quote). Checks JSON's escapes and
 * control characters; a string holding "{{" is compiled as a template on
 * its raw (still escaped) text, whose literal parts are therefore valid
 * JSON string text. */
static bool string(jc *c, bool is_key) {
  size_t open = c->pos++;
  size_t start = c->pos;
  bool tmpl = false;
  for (;;) {
    if (c->pos >= c->len)
      return fail(c, open, "unterminated string");
    unsigned char ch = (unsigned char)c->s[c->pos];
    if (ch == '"')
      break;
    if (ch < 0x20)
      return fail(c, c->pos, "control character in string (write it as an escape such as \\n)");
    if (ch == '{' && c->pos + 1 < c->len && c->s[c->pos + 1] == '{')
      tmpl = true;
    if (ch >= 0x80) {
      int n = pf__utf8_check((const unsigned char *)c->s + c->pos,
                             (const unsigned char *)c->s + c->len);
      if (n < 0)
        return fail(c, c->pos, "invalid UTF-8 in string");
      c->pos += (size_t)n;
      continue;
    }
    if (ch != '\\') {
      c->pos++;
      continue;
    }
    char e = c->pos + 1 < c->len ? c->s[c->pos + 1] : 0;
    if (e == 'u') {
      long u = hex4(c, c->pos);
      if (u < 0)
        return fail(c, c->pos, "invalid \\u escape (needs 4 hex digits)");
      if (u >= 0xDC00 && u <= 0xDFFF)
        return fail(c, c->pos, "lone low surrogate in \\u escape");
      if (u >= 0xD800 && u <= 0xDBFF) {
        long lo = c->pos + 7 < c->len && c->s[c->pos + 6] == '\\' && c->s[c->pos + 7] == 'u'
                      ? hex4(c, c->pos + 6)
                      : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
          return fail(c, c->pos, "high surrogate in \\u escape without its low surrogate");
        c->pos += 6;
      }
      c->pos += 6;
    } else if (e && strchr("\"\\/bfnrt", e)) {
      c->pos += 2;
    } else if (e == '{' && c->pos + 2 < c->len && c->s[c->pos + 2] == '{') {
      /* the template's escaped "{{"; after an escaped backslash the
       * template would read "\\\\{{" as a backslash, then a variable */
      if (c->pos > start && c->s[c->pos - 1] == '\\')
        return fail(c, c->pos, "'\\{{' right after an escaped backslash is ambiguous");
      c->pos += 3;
      tmpl = true;
    } else {
      return fail(c, c->pos, "invalid escape in string");
    }
  }
  size_t end = c->pos++;
  if (!tmpl)
    return lit(c, c->s + open, end + 1 - open);
  pf_tmpl_diag d;
  pf_tmpl *t = pf_tmpl_compile_diag(c->s + start, end - start, &d);
  if (!t)
    return fail(c, start + d.offset, "%s", d.msg);
  if (!add_vars(c, t)) {
    pf_tmpl_free(t);
    return false;
  }
  if (!is_key && pf_tmpl_is_single_var(t, NULL))
    return add_piece(c, P_VALUE, 0, 0, t);
  return lit(c, "\"", 1) && add_piece(c, P_STR, 0, 0, t) && lit(c, "\"", 1);
}

static bool digits(jc *c) {
  size_t b = c->pos;
  while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9')
    c->pos++;
  return c->pos > b;
}

static bool number(jc *c) {
  size_t b = c->pos;
  if (c->s[c->pos] == '-')
    c->pos++;
  if (c->pos < c->len && c->s[c->pos] == '0')
    c->pos++;
  else if (!digits(c))
    return fail(c, b, "invalid number");
  if (c->pos < c->len && c->s[c->pos] == '.') {
    c->pos++;
    if (!digits(c))
      return fail(c, c->pos, "invalid number: digits expected after '.'");
  }
  if (c->pos < c->len && (c->s[c->pos] == 'e' || c->s[c->pos] == 'E')) {
    c->pos++;
    if (c->pos < c->len && (c->s[c->pos] == '+' || c->s[c->pos] == '-'))
      c->pos++;
    if (!digits(c))
      return fail(c, c->pos, "invalid number: digits expected in the exponent");
  }
  /* what the JSON parser would refuse (and the upstream likely too) */
  double d;
  if (pf__json_strtod(c->s + b, c->pos - b, &d) != 0)
    return fail(c, b, "number out of range (overflows a double)");
  return lit(c, c->s + b, c->pos - b);
}

static bool word(jc *c, const char *w) {
  size_t n = strlen(w);
  if (c->len - c->pos < n || memcmp(c->s + c->pos, w, n) != 0)
    return false;
  c->pos += n;
  return lit(c, w, n);
}

static bool value(jc *c, unsigned depth);

static bool container(jc *c, unsigned depth, bool obj) {
  if (depth >= PF_JTMPL_MAX_DEPTH)
    return fail(c, c->pos, "nesting deeper than %d levels", PF_JTMPL_MAX_DEPTH);
  char close = obj ? '}' : ']';
  if (!lit(c, &c->s[c->pos++], 1))
    return false;
  skip_ws(c);
  if (c->pos < c->len && c->s[c->pos] == close) {
    c->pos++;
    return lit(c, &close, 1);
  }
  for (;;) {
    if (obj) {
      skip_ws(c);
      if (c->pos >= c->len || c->s[c->pos] != '"')
        return fail(c, c->pos, "expected a string key");
      if (!string(c, true))
        return false;
      skip_ws(c);
      if (c->pos >= c->len || c->s[c->pos] != ':')
        return fail(c, c->pos, "expected ':' after the key");
      c->pos++;
      if (!lit(c, ":", 1))
        return false;
    }
    if (!value(c, depth + 1))
      return false;
    skip_ws(c);
    if (c->pos < c->len && c->s[c->pos] == ',') {
      c->pos++;
      if (!lit(c, ",", 1))
        return false;
      continue;
    }
    if (c->pos < c->len && c->s[c->pos] == close) {
      c->pos++;
      return lit(c, &close, 1);
    }
    return fail(c, c->pos, obj ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static bool value(jc *c, unsigned depth) {
  skip_ws(c);
  if (c->pos >= c->len)
    return fail(c, c->pos, "expected a value, found the end of the text");
  char ch = c->s[c->pos];
  switch (ch) {
  case '{': return container(c, depth, true);
  case '[': return container(c, depth, false);
  case '"': return string(c, false);
  case 't':
  case 'f':
  case 'n':
    if (word(c, "true") || word(c, "false") || word(c, "null"))
      return !c->failed;
    break;
  default:
    if (ch == '-' || (ch >= '0' && ch <= '9'))
      return number(c);
  }
  return fail(c, c->pos, "unexpected character '%c'", ch);
}

pf_jtmpl *pf_jtmpl_compile(const char *json, size_t len, pf_buf *err) {
  jc c;
  memset(&c, 0, sizeof c);
  c.s = json ? json : "";
  c.len = json ? len : 0;
  c.err = err;
  c.t = pf__malloc(sizeof *c.t);
  if (!c.t) {
    fail(&c, 0, "out of memory");
    return NULL;
  }
  memset(c.t, 0, sizeof *c.t);
  if (value(&c, 0)) {
    skip_ws(&c);
    if (c.pos < c.len)
      fail(&c, c.pos, "unexpected text after the JSON value");
  }
  if (c.failed) {
    pf_jtmpl_free(c.t);
    return NULL;
  }
  return c.t;
}

void pf_jtmpl_free(pf_jtmpl *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->npieces; i++)
    pf_tmpl_free(t->pieces[i].t);
  pf__free(t->pieces);
  pf__free(t->vars);
  pf_buf_free(&t->text);
  pf__free(t);
}

size_t pf_jtmpl_nvars(const pf_jtmpl *t) { return t ? t->nvars : 0; }

const char *pf_jtmpl_var(const pf_jtmpl *t, size_t i) {
  return t && i < t->nvars ? t->vars[i] : NULL;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */

int pf_jtmpl_render(const pf_jtmpl *t, const pf_tmpl_ctx *ctx, pf_buf *out) {
  if (!t || !out)
    return -PF_EINVAL;
  size_t start = out->len;
  int rc = 0;
  for (size_t i = 0; i < t->npieces && rc == 0; i++) {
    const piece *p = &t->pieces[i];
    switch (p->kind) {
    case P_TEXT: pf_buf_append(out, t->text.data + p->off, p->len); break;
    case P_STR: rc = pf_tmpl_render(p->t, ctx, PF_TMPL_JSON, out); break;
    default: {
      const pf_json *v = pf_tmpl_single_value(p->t, ctx);
      if (!v && ctx && ctx->strict) {
        const char *path = NULL;
        pf_tmpl_is_single_var(p->t, &path);
        if (ctx->err)
          pf_buf_printf(ctx->err, "missing variable '%s'", path);
        rc = -PF_EINVAL;
        break;
      }
      pf_json_writer w;
      pf_jw_init(&w, out);
      pf_jw_value(&w, v); /* NULL writes null */
    }
    }
  }
  if (rc == 0 && out->failed)
    rc = -PF_ENOMEM;
  if (rc != 0 && !out->failed)
    out->len = start;
  return rc;
}

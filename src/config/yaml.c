/* The loader's YAML tree: libfyaml's document copied into it, tree
 * comparison, and the fast reader (below). See config/yaml.h. */
#include "config/yaml.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>
#include <libfyaml.h>
#include <pthread.h>

#include "config/internal.h"
#include "json/internal.h"

static pf__ynode *node_new(pf_arena *a, int type, bool *oom) {
  pf__ynode *n = pf_arena_alloc(a, sizeof *n);
  if (!n) {
    *oom = true;
    return NULL;
  }
  memset(n, 0, sizeof *n);
  n->text = ""; /* a collection used as a key reads as an empty name */
  n->type = (uint8_t)type;
  n->kind = type == PF__YN_MAP ? PF__Y_MAP : type == PF__YN_LIST ? PF__Y_LIST : PF__Y_STR;
  return n;
}

/* ---- libfyaml, loaded at run time ----
 *
 * The fast reader below handles the configs people write; libfyaml is only
 * needed for the rest, so it is loaded (dlopen) the first time a file needs
 * it: a server that never uses it does not map it (~150 KB of RSS) nor pay
 * its relocations at start-up. */

#define FY_FUNCS(X)                                                                                \
  X(fy_diag_cfg_default)                                                                           \
  X(fy_diag_create)                                                                                \
  X(fy_diag_destroy)                                                                               \
  X(fy_diag_set_collect_errors)                                                                    \
  X(fy_diag_errors_iterate)                                                                        \
  X(fy_parser_create)                                                                              \
  X(fy_parser_set_string)                                                                          \
  X(fy_parser_destroy)                                                                             \
  X(fy_parse_load_document)                                                                        \
  X(fy_parse_document_destroy)                                                                     \
  X(fy_document_root)                                                                              \
  X(fy_document_resolve)                                                                           \
  X(fy_node_get_type)                                                                              \
  X(fy_node_get_style)                                                                             \
  X(fy_node_get_scalar)                                                                            \
  X(fy_node_get_tag)                                                                               \
  X(fy_node_get_scalar_token)                                                                      \
  X(fy_token_start_mark)                                                                           \
  X(fy_node_mapping_iterate)                                                                       \
  X(fy_node_pair_key)                                                                              \
  X(fy_node_pair_value)                                                                            \
  X(fy_node_sequence_iterate)                                                                      \
  X(fy_node_resolve_alias)

static struct {
#define FY_FIELD(f) __typeof__(f) *f;
  FY_FUNCS(FY_FIELD)
#undef FY_FIELD
} fy;
static pthread_once_t fy_once = PTHREAD_ONCE_INIT;
static char fy_error[256]; /* why loading failed; "" when it worked */

static void fy_load(void) {
  void *h = dlopen("libfyaml.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    snprintf(fy_error, sizeof fy_error, "%s", why ? why : "libfyaml.so.0 not found");
    return;
  }
#define FY_SYM(f)                                                                                  \
  if (!fy_error[0] && !(*(void **)&fy.f = dlsym(h, #f)))                                           \
    snprintf(fy_error, sizeof fy_error, "libfyaml.so.0 has no %s", #f);
  FY_FUNCS(FY_SYM)
#undef FY_SYM
  if (fy_error[0])
    dlclose(h);
}

/* ---- libfyaml document -> tree ---- */

static bool is_str_tag(struct fy_node *n) {
  size_t len;
  const char *tag = fy.fy_node_get_tag(n, &len);
  return tag && len == 21 && memcmp(tag, "tag:yaml.org,2002:str", 21) == 0;
}

pf__ynode *pf__yaml_from_fy(pf_arena *a, struct fy_node *fn, bool *oom) {
  if (!fn)
    return NULL;
  if (fy.fy_node_get_type(fn) == FYNT_SCALAR) {
    pf__ynode *n = node_new(a, PF__YN_SCALAR, oom);
    if (!n)
      return NULL;
    size_t len = 0;
    const char *s = fy.fy_node_get_scalar(fn, &len);
    n->text = pf_arena_strndup(a, s ? s : "", s ? len : 0);
    if (!n->text) {
      *oom = true;
      return NULL;
    }
    n->len = (uint32_t)len;
    enum fy_node_style st = fy.fy_node_get_style(fn);
    n->plain = st == FYNS_PLAIN && !is_str_tag(fn);
    n->kind = (uint8_t)(n->plain ? pf__cfg_kind_text(n->text, n->len) : PF__Y_STR);
    struct fy_token *t = fy.fy_node_get_scalar_token(fn);
    const struct fy_mark *m = t ? fy.fy_token_start_mark(t) : NULL;
    if (m) {
      /* libfyaml marks a quoted scalar after its opening quote; point at
       * the quote, where the value starts for a reader. */
      int quote = (st == FYNS_SINGLE_QUOTED || st == FYNS_DOUBLE_QUOTED) && m->column > 0;
      n->line = (uint32_t)m->line + 1;
      n->col = (uint32_t)(m->column + 1 - quote);
    }
    return n;
  }
  bool map = fy.fy_node_get_type(fn) == FYNT_MAPPING;
  pf__ynode *n = node_new(a, map ? PF__YN_MAP : PF__YN_LIST, oom);
  if (!n)
    return NULL;
  pf__ynode **tail = &n->child;
  void *it = NULL;
  if (map) {
    struct fy_node_pair *p;
    while ((p = fy.fy_node_mapping_iterate(fn, &it))) {
      pf__ynode *k = pf__yaml_from_fy(a, fy.fy_node_pair_key(p), oom);
      if (*oom)
        return NULL;
      if (!k) { /* an empty key (`: v`): null, with no position of its own */
        if (!(k = node_new(a, PF__YN_SCALAR, oom)))
          return NULL;
        k->kind = PF__Y_NULL;
      }
      k->value = pf__yaml_from_fy(a, fy.fy_node_pair_value(p), oom);
      if (*oom)
        return NULL;
      *tail = k;
      tail = &k->next;
      n->count++;
    }
  } else {
    struct fy_node *item;
    while ((item = fy.fy_node_sequence_iterate(fn, &it))) {
      pf__ynode *i = pf__yaml_from_fy(a, item, oom);
      if (*oom)
        return NULL;
      if (!i)
        continue;
      *tail = i;
      tail = &i->next;
      n->count++;
    }
  }
  return n;
}

static void swallow(struct fy_diag *d, void *user, const char *buf, size_t len) {
  (void)d, (void)user, (void)buf, (void)len; /* never print libfyaml's text */
}

/* Aliases let a few lines expand to billions of nodes ("billion laughs"),
 * which libfyaml's resolver would build. Before resolving a text that has
 * aliases, its unresolved document is walked with aliases followed, up to
 * this many nodes. */
#define PF_YAML_MAX_EXPANDED 1000000u

static size_t expanded(struct fy_node *n, size_t count, int depth) {
  if (!n || count > PF_YAML_MAX_EXPANDED)
    return count;
  if (depth > 256) /* an alias loop: libfyaml's resolver reports it */
    return count;
  count++;
  if (fy.fy_node_get_type(n) == FYNT_SCALAR) {
    if (fy.fy_node_get_style(n) == FYNS_ALIAS)
      count = expanded(fy.fy_node_resolve_alias(n), count, depth + 1);
    return count;
  }
  void *it = NULL;
  if (fy.fy_node_get_type(n) == FYNT_MAPPING) {
    struct fy_node_pair *p;
    while (count <= PF_YAML_MAX_EXPANDED && (p = fy.fy_node_mapping_iterate(n, &it))) {
      count = expanded(fy.fy_node_pair_key(p), count, depth + 1);
      count = expanded(fy.fy_node_pair_value(p), count, depth + 1);
    }
  } else {
    struct fy_node *item;
    while (count <= PF_YAML_MAX_EXPANDED && (item = fy.fy_node_sequence_iterate(n, &it)))
      count = expanded(item, count, depth + 1);
  }
  return count;
}

static bool utf8_error(const char *text, size_t len, uint32_t *line, uint32_t *col);

static struct fy_diag *quiet_diag(void) {
  struct fy_diag_cfg dc;
  fy.fy_diag_cfg_default(&dc);
  dc.fp = NULL;
  dc.output_fn = swallow;
  dc.colorize = false;
  struct fy_diag *diag = fy.fy_diag_create(&dc);
  if (diag)
    fy.fy_diag_set_collect_errors(diag, true);
  return diag;
}

bool pf__yaml_full(pf_arena *a, const char *text, size_t len, pf__yaml_doc *out,
                   pf__yaml_err_fn err, void *ud, bool *oom) {
  memset(out, 0, sizeof *out);
  /* libfyaml is only given UTF-8: it can loop forever on some malformed
   * input (a directive line with invalid bytes) */
  uint32_t line, col;
  if (utf8_error(text, len, &line, &col)) {
    if (err)
      err(ud, line, col, "invalid UTF-8 (a YAML file must be UTF-8 text)");
    return false;
  }
  pthread_once(&fy_once, fy_load);
  if (fy_error[0]) {
    char msg[400];
    snprintf(msg, sizeof msg,
             "this file needs the full YAML reader (libfyaml), which cannot be loaded: %s",
             fy_error);
    if (err)
      err(ud, 1, 1, msg);
    return false;
  }
  struct fy_diag *diag = quiet_diag();
  /* read unresolved: aliases are counted before they are expanded */
  struct fy_parse_cfg pc = {.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE,
                            .diag = diag};
  struct fy_parser *p = diag ? fy.fy_parser_create(&pc) : NULL;
  if (!p || fy.fy_parser_set_string(p, text, len) != 0) {
    if (p)
      fy.fy_parser_destroy(p);
    if (diag)
      fy.fy_diag_destroy(diag);
    *oom = true;
    return false;
  }
  struct fy_document *doc = fy.fy_parse_load_document(p);
  struct fy_document *extra = doc ? fy.fy_parse_load_document(p) : NULL;
  bool bomb = doc && memchr(text, '*', len) &&
              expanded(fy.fy_document_root(doc), 0, 0) > PF_YAML_MAX_EXPANDED;
  if (bomb) {
    if (err)
      err(ud, 1, 1, "aliases expand this document to more than 1000000 nodes");
  } else {
    if (doc)
      fy.fy_document_resolve(doc);
    if (extra)
      fy.fy_document_resolve(extra);
  }
  bool syntax = bomb;
  void *it = NULL;
  struct fy_diag_error *e;
  while (!bomb && (e = fy.fy_diag_errors_iterate(diag, &it))) {
    if (e->type < FYET_ERROR)
      continue;
    syntax = true;
    if (err)
      err(ud, e->line > 0 ? (uint32_t)e->line : 1, e->column > 0 ? (uint32_t)e->column : 1,
          e->msg ? e->msg : "syntax error");
  }
  if (!syntax) {
    out->root = pf__yaml_from_fy(a, doc ? fy.fy_document_root(doc) : NULL, oom);
    out->has_extra = extra != NULL;
    if (extra)
      out->extra = pf__yaml_from_fy(a, fy.fy_document_root(extra), oom);
  }
  if (extra)
    fy.fy_parse_document_destroy(p, extra);
  if (doc)
    fy.fy_parse_document_destroy(p, doc);
  fy.fy_parser_destroy(p);
  fy.fy_diag_destroy(diag);
  return !syntax && !*oom;
}

/* ---- comparison ---- */

static bool differ(char *why, size_t whylen, const pf__ynode *x, const char *what) {
  if (why)
    snprintf(why, whylen, "%s differs at %u:%u", what, x ? x->line : 0, x ? x->col : 0);
  return false;
}

bool pf__yaml_equal(const pf__ynode *x, const pf__ynode *y, char *why, size_t whylen) {
  if (!x || !y)
    return x == y ? true : differ(why, whylen, x ? x : y, "presence");
  if (x->type != y->type)
    return differ(why, whylen, x, "type");
  if (x->type == PF__YN_SCALAR) {
    if (x->len != y->len || memcmp(x->text, y->text, x->len) != 0)
      return differ(why, whylen, x, "text");
    if (x->plain != y->plain || x->kind != y->kind)
      return differ(why, whylen, x, "style");
    if (x->line != y->line || x->col != y->col)
      return differ(why, whylen, x, "position");
    return true;
  }
  if (x->count != y->count)
    return differ(why, whylen, x, "count");
  const pf__ynode *a = x->child, *b = y->child;
  for (; a && b; a = a->next, b = b->next) {
    if (!pf__yaml_equal(a, b, why, whylen))
      return false;
    if (x->type == PF__YN_MAP && !pf__yaml_equal(a->value, b->value, why, whylen))
      return false;
  }
  return a || b ? differ(why, whylen, x, "items") : true;
}

/* ---- the fast reader ----
 *
 * Lines are read top-down with one cursor. Each block collection knows its
 * indentation; after every value the reader moves to the next line with
 * content (skipping blank and comment-only lines) and compares its
 * indentation. Anything this reader does not handle itself makes it fail,
 * and the loader reads the file with libfyaml instead: that is always
 * correct, only slower. */

#define YR_MAX_DEPTH 64
#define YR_MAX_KEY 1024

typedef struct yr {
  pf_arena *a;
  bool *oom;
  const char *end;
  const char *p;   /* cursor */
  const char *bol; /* start of the cursor's line */
  uint32_t line;   /* the cursor's line, 1-based */
  bool ascii;      /* no byte >= 0x80: columns are byte offsets */
  bool fail;
  int depth;
} yr;

static pf__ynode *yr_fail(yr *r) {
  r->fail = true;
  return NULL;
}

/* Only LF line breaks, printable ASCII and well-formed UTF-8 outside the
 * C1 controls, U+2028/2029 (line breaks in YAML 1.1) and U+FEFF/FFFE/FFFF:
 * no tabs, CR, NUL or other controls, where YAML's rules get subtle. */
static bool text_ok(const unsigned char *s, size_t n, bool *ascii) {
  *ascii = true;
  for (size_t i = 0; i < n;) {
    /* 8 bytes at a time while all are printable ASCII or '\n' (exact
     * per-byte tests: no carry crosses a byte) */
    if (i + 8 <= n) {
      const uint64_t low7 = 0x7f7f7f7f7f7f7f7fu, highs = 0x8080808080808080u;
      const uint64_t ones = 0x0101010101010101u;
      uint64_t w;
      memcpy(&w, s + i, 8);
      uint64_t ge20 = ((w & low7) + ones * 0x60) & highs; /* byte >= 0x20 */
      uint64_t enl = w ^ (ones * '\n'), edel = w ^ (ones * 0x7f);
      uint64_t not_nl = (((enl & low7) + low7) | enl) & highs;
      uint64_t not_del = (((edel & low7) + low7) | edel) & highs;
      if (!(w & highs) && not_del == highs && (ge20 | (~not_nl & highs)) == highs) {
        i += 8;
        continue;
      }
    }
    unsigned c = s[i];
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n') || c == 0x7f)
        return false;
      i++;
      continue;
    }
    *ascii = false;
    int k = pf__utf8_check(s + i, s + n);
    if (k < 0)
      return false;
    uint32_t cp = k == 2 ? (c & 0x1fu) : k == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (int j = 1; j < k; j++)
      cp = cp << 6 | (s[i + (size_t)j] & 0x3fu);
    if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp == 0xfffe ||
        cp == 0xffff)
      return false;
    i += (size_t)k;
  }
  return true;
}

static bool utf8_error(const char *text, size_t len, uint32_t *line, uint32_t *col) {
  const unsigned char *s = (const unsigned char *)text, *end = s + len;
  uint32_t ln = 1, chars = 0;
  for (const unsigned char *p = s; p < end;) {
    if (*p < 0x80) {
      if (*p == '\n')
        ln++, chars = 0;
      else
        chars++;
      p++;
      continue;
    }
    int k = pf__utf8_check(p, end);
    if (k < 0) {
      *line = ln;
      *col = chars + 1;
      return true;
    }
    p += k;
    chars++;
  }
  return false;
}

static uint32_t yr_col(const yr *r, const char *at) {
  if (r->ascii)
    return (uint32_t)(at - r->bol) + 1;
  uint32_t col = 1;
  for (const char *q = r->bol; q < at; q++)
    col += ((unsigned char)*q & 0xc0) != 0x80;
  return col;
}

static bool at_eol(const yr *r, const char *q) {
  return q >= r->end || *q == '\n';
}
/* A blank: a space or the end of the line. */
static bool blank_at(const yr *r, const char *q) {
  return at_eol(r, q) || *q == ' ';
}

/* A scalar whose text is at[0..len) as written. */
static pf__ynode *new_scalar(yr *r, const char *at, size_t len, bool plain) {
  /* the node and its text in one allocation */
  pf__ynode *n = pf_arena_alloc(r->a, sizeof *n + len + 1);
  if (!n) {
    *r->oom = true;
    return yr_fail(r);
  }
  memset(n, 0, sizeof *n);
  n->type = PF__YN_SCALAR;
  char *t = (char *)(n + 1);
  memcpy(t, at, len);
  t[len] = '\0';
  n->text = t;
  n->len = (uint32_t)len;
  n->plain = plain;
  n->kind = (uint8_t)(plain ? pf__cfg_kind_text(t, len) : PF__Y_STR);
  n->line = r->line;
  n->col = yr_col(r, at);
  return n;
}

/* The value of `key:` with nothing after it: an empty plain scalar with no
 * position of its own, as libfyaml makes it. */
static pf__ynode *empty_scalar(yr *r) {
  pf__ynode *n = node_new(r->a, PF__YN_SCALAR, r->oom);
  if (!n)
    return yr_fail(r);
  n->plain = true;
  n->kind = PF__Y_NULL;
  return n;
}

/* Moves *q past the end of the line holding `from` (counting the line);
 * false, with the cursor at the end, when there is no next line. */
static bool past_line(yr *r, const char *from, const char **q) {
  const char *nl = memchr(from, '\n', (size_t)(r->end - from));
  if (!nl) {
    r->p = r->end;
    return false;
  }
  *q = nl + 1;
  r->line++;
  r->bol = *q;
  return true;
}

/* Moves over the cursor's line when skip_current (else the cursor is at a
 * line's start), then over blank and comment-only lines. Returns false at
 * the end of the text; otherwise the cursor is on the first character with
 * content and *indent is its column - 1. */
static bool next_line(yr *r, bool skip_current, uint32_t *indent) {
  const char *q = r->p;
  if (skip_current && !past_line(r, q, &q))
    return false;
  for (;;) {
    const char *c = q;
    while (c < r->end && *c == ' ')
      c++;
    if (c < r->end && *c != '\n' && *c != '#') {
      /* document markers and directives are left to libfyaml */
      if (c == q && ((r->end - c >= 3 && (memcmp(c, "---", 3) == 0 || memcmp(c, "...", 3) == 0) &&
                      blank_at(r, c + 3)) ||
                     *c == '%')) {
        r->fail = true;
        return false;
      }
      r->p = c;
      *indent = (uint32_t)(c - q);
      return true;
    }
    if (!past_line(r, c, &q))
      return false;
  }
}

/* After a value: spaces, then an optional comment (after a space), then
 * the end of the line. */
static bool line_done(yr *r) {
  const char *q = r->p;
  while (q < r->end && *q == ' ')
    q++;
  if (q < r->end && *q == '#' && q > r->p)
    return true;
  return at_eol(r, q);
}

/* A quoted scalar on one line; the cursor is on its opening quote and ends
 * after the closing one. */
static pf__ynode *quoted(yr *r) {
  const char *at = r->p, *q = at + 1;
  char quote = *at;
  /* find the closing quote */
  for (;;) {
    if (at_eol(r, q))
      return yr_fail(r);
    if (*q == quote) {
      if (quote == '\'' && q + 1 < r->end && q[1] == '\'') {
        /* two escaped quotes in a row: libfyaml (0.8) reads them wrongly,
         * leave them to it so both readers agree */
        if (q + 3 < r->end && q[2] == '\'' && q[3] == '\'')
          return yr_fail(r);
        q += 2;
        continue;
      }
      break;
    }
    if (*q == '\\' && quote == '"') {
      if (at_eol(r, q + 1))
        return yr_fail(r);
      q += 2;
      continue;
    }
    q++;
  }
  size_t span = (size_t)(q - at - 1);
  char *buf = pf_arena_alloc(r->a, span + 1);
  if (!buf) {
    *r->oom = true;
    return yr_fail(r);
  }
  size_t o = 0;
  for (const char *s = at + 1; s < q;) {
    if (quote == '\'') {
      buf[o++] = *s;
      s += *s == '\'' ? 2 : 1;
      continue;
    }
    if (*s != '\\') {
      buf[o++] = *s++;
      continue;
    }
    char e = s[1];
    s += 2;
    uint32_t cp;
    int hex = 0;
    switch (e) {
    case '0': cp = 0; break;
    case 'a': cp = 7; break;
    case 'b': cp = 8; break;
    case 't': cp = 9; break;
    case 'n': cp = 10; break;
    case 'v': cp = 11; break;
    case 'f': cp = 12; break;
    case 'r': cp = 13; break;
    case 'e': cp = 27; break;
    case ' ': cp = ' '; break;
    case '"': cp = '"'; break;
    case '/': cp = '/'; break;
    case '\\': cp = '\\'; break;
    case 'N': cp = 0x85; break;
    case '_': cp = 0xa0; break;
    case 'L': cp = 0x2028; break;
    case 'P': cp = 0x2029; break;
    case 'x': hex = 2; break;
    case 'u': hex = 4; break;
    case 'U': hex = 8; break;
    default: return yr_fail(r);
    }
    if (hex) {
      if (q - s < hex)
        return yr_fail(r);
      cp = 0;
      for (int i = 0; i < hex; i++) {
        if (!isxdigit((unsigned char)s[i]))
          return yr_fail(r);
        int d = (unsigned char)s[i];
        cp = cp << 4 | (uint32_t)(d <= '9' ? d - '0' : (d | 0x20) - 'a' + 10);
      }
      s += hex;
      if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return yr_fail(r);
    }
    o += pf__utf8_put(buf + o, cp);
  }
  pf__ynode *n = node_new(r->a, PF__YN_SCALAR, r->oom);
  if (!n)
    return yr_fail(r);
  buf[o] = '\0';
  n->text = buf;
  n->len = (uint32_t)o;
  n->kind = PF__Y_STR;
  n->line = r->line;
  n->col = yr_col(r, at);
  r->p = q + 1;
  return n;
}

/* Can a plain scalar start at q? Indicators are left to libfyaml, except
 * '-' before a non-blank (-5, --flag). */
static bool plain_start(const yr *r, const char *q) {
  switch (*q) {
  case '-': return !blank_at(r, q + 1) && !strchr(",[]{}#", q[1]);
  case '?': case ':': case ',': case '[': case ']': case '{': case '}': case '#': case '&':
  case '*': case '!': case '|': case '>': case '\'': case '"': case '%': case '@': case '`':
  case ' ': case '\n':
    return false;
  default: return true;
  }
}

/* A plain scalar on one line in block context; stops before `: `, ` #` or
 * the end of the line. *is_key tells whether `:` follows. */
static pf__ynode *plain_block(yr *r, bool *is_key) {
  const char *at = r->p, *q = at;
  *is_key = false;
  if (!plain_start(r, q))
    return yr_fail(r);
  while (!at_eol(r, q)) {
    if (*q == ':' && blank_at(r, q + 1)) {
      *is_key = true;
      break;
    }
    if (*q == ' ' && q + 1 < r->end && q[1] == '#')
      break;
    q++;
  }
  const char *e = q;
  while (e > at && e[-1] == ' ')
    e--;
  if (*is_key && e != q) /* `key :` */
    return yr_fail(r);
  r->p = q;
  return new_scalar(r, at, (size_t)(e - at), true);
}

/* A literal (|) or folded (>) block scalar whose header is at the cursor;
 * its lines must be indented more than `indent`. Keep chomping (+) and
 * indentation indicators are left to libfyaml, as are lines of spaces
 * longer than the content's indentation. On return the cursor is on the
 * next line with content. */
static pf__ynode *block_scalar(yr *r, uint32_t indent, uint32_t *next_indent, bool *more) {
  bool folded = *r->p == '>';
  r->p++;
  bool strip = false;
  if (r->p < r->end && *r->p == '-')
    strip = true, r->p++;
  if (r->p < r->end && *r->p != ' ' && *r->p != '\n')
    return yr_fail(r); /* + or an indentation indicator */
  if (!line_done(r))
    return yr_fail(r);
  const char *q = memchr(r->p, '\n', (size_t)(r->end - r->p));
  if (!q)
    return yr_fail(r);
  const char *start = q + 1; /* the first line of content */
  uint32_t first_line = r->line + 1;
  /* the content's indentation: that of its first non-empty line */
  uint32_t ci = 0;
  for (const char *l = start; l < r->end;) {
    const char *c = l;
    while (c < r->end && *c == ' ')
      c++;
    if (c < r->end && *c != '\n') {
      ci = (uint32_t)(c - l);
      break;
    }
    if (c >= r->end)
      break;
    l = c + 1;
  }
  if (ci <= indent)
    return yr_fail(r); /* no content (or not indented): libfyaml's */
  char *buf = pf_arena_alloc(r->a, (size_t)(r->end - start) + 2);
  if (!buf) {
    *r->oom = true;
    return yr_fail(r);
  }
  size_t o = 0;
  uint32_t empties = 0, line = first_line;
  int prev = 0; /* 0: no line yet, 1: a normal line, 2: a more-indented one */
  const char *l = start;
  while (l < r->end) {
    const char *c = l;
    while (c < r->end && *c == ' ' && (uint32_t)(c - l) < ci)
      c++;
    const char *eol = c;
    while (eol < r->end && *eol != '\n')
      eol++;
    bool blank = true;
    for (const char *x = l; x < eol; x++)
      blank = blank && *x == ' ';
    if (blank) {
      if ((uint32_t)(eol - l) > ci)
        return yr_fail(r); /* spaces beyond the indentation */
      empties++;
    } else if ((uint32_t)(c - l) < ci) {
      break; /* less indented: the scalar has ended */
    } else {
      int type = *c == ' ' ? 2 : 1;
      if (prev == 0) {
        for (uint32_t i = 0; i < empties; i++)
          buf[o++] = '\n';
      } else if (folded && prev == 1 && type == 1) {
        if (empties == 0)
          buf[o++] = ' ';
        for (uint32_t i = 0; i < empties; i++)
          buf[o++] = '\n';
      } else {
        /* around a more-indented line, libfyaml keeps fewer empty lines
         * than the spec's reading: leave those to it */
        if (folded && empties)
          return yr_fail(r);
        for (uint32_t i = 0; i <= empties; i++)
          buf[o++] = '\n';
      }
      memcpy(buf + o, c, (size_t)(eol - c));
      o += (size_t)(eol - c);
      prev = type;
      empties = 0;
    }
    if (eol >= r->end) {
      l = r->end;
      break;
    }
    l = eol + 1;
    line++;
  }
  if (!strip)
    buf[o++] = '\n';
  buf[o] = '\0';
  pf__ynode *n = node_new(r->a, PF__YN_SCALAR, r->oom);
  if (!n)
    return yr_fail(r);
  n->text = buf;
  n->len = (uint32_t)o;
  n->kind = PF__Y_STR;
  n->line = first_line;
  n->col = 1;
  /* continue from the line that ended the scalar */
  r->p = l;
  r->bol = l;
  r->line = line;
  *more = next_line(r, false, next_indent);
  if (r->fail || (*more && *next_indent > indent))
    return yr_fail(r);
  return n;
}

static pf__ynode *flow_node(yr *r);

static void skip_spaces(yr *r) {
  while (r->p < r->end && *r->p == ' ')
    r->p++;
}

static bool flow_end_char(char c) {
  return c == ',' || c == ']' || c == '}' || c == '[' || c == '{';
}

static pf__ynode *plain_flow(yr *r) {
  const char *at = r->p, *q = at;
  if (!plain_start(r, q))
    return yr_fail(r);
  while (!at_eol(r, q)) {
    char c = *q;
    if (c == ',' || c == ']' || c == '}')
      break;
    if (c == '[' || c == '{')
      return yr_fail(r);
    if (c == ':' && (blank_at(r, q + 1) || flow_end_char(q[1])))
      break;
    if (c == ' ' && q + 1 < r->end && q[1] == '#')
      return yr_fail(r); /* a comment inside a flow collection */
    q++;
  }
  const char *e = q;
  while (e > at && e[-1] == ' ')
    e--;
  r->p = q;
  return new_scalar(r, at, (size_t)(e - at), true);
}

static bool dup_keys(yr *r, const pf__ynode *map);

/* [a, b] or {k: v, ...} on one line; the cursor is on the bracket. */
static pf__ynode *flow_coll(yr *r) {
  bool map = *r->p == '{';
  char close = map ? '}' : ']';
  if (++r->depth > YR_MAX_DEPTH)
    return yr_fail(r);
  pf__ynode *n = node_new(r->a, map ? PF__YN_MAP : PF__YN_LIST, r->oom);
  if (!n)
    return yr_fail(r);
  pf__ynode **tail = &n->child;
  r->p++;
  skip_spaces(r);
  if (r->p < r->end && *r->p == close) {
    r->p++;
    r->depth--;
    return n;
  }
  for (;;) {
    pf__ynode *item;
    if (map) {
      if (at_eol(r, r->p) || *r->p == '[' || *r->p == '{')
        return yr_fail(r);
      item = (*r->p == '"' || *r->p == '\'') ? quoted(r) : plain_flow(r);
      if (!item)
        return NULL;
      if (r->p + 1 >= r->end || r->p[0] != ':' || r->p[1] != ' ')
        return yr_fail(r);
      r->p += 2;
      skip_spaces(r);
      if (at_eol(r, r->p) || *r->p == ',' || *r->p == '}')
        return yr_fail(r);
      if (!(item->value = flow_node(r)))
        return NULL;
    } else if (!(item = flow_node(r))) {
      return NULL;
    }
    *tail = item;
    tail = &item->next;
    n->count++;
    skip_spaces(r);
    if (at_eol(r, r->p))
      return yr_fail(r);
    if (*r->p == ',') {
      r->p++;
      skip_spaces(r);
      if (at_eol(r, r->p) || *r->p == close || *r->p == ',')
        return yr_fail(r);
      continue;
    }
    if (*r->p != close)
      return yr_fail(r);
    r->p++;
    break;
  }
  if (map && dup_keys(r, n))
    return yr_fail(r);
  r->depth--;
  return n;
}

static pf__ynode *flow_node(yr *r) {
  if (at_eol(r, r->p))
    return yr_fail(r);
  switch (*r->p) {
  case '[':
  case '{': return flow_coll(r);
  case '"':
  case '\'': return quoted(r);
  default: return plain_flow(r);
  }
}

/* Same text twice among a map's keys: libfyaml reports it (or decides). */
static int key_cmp(const void *x, const void *y) {
  const pf__ynode *a = *(const pf__ynode *const *)x, *b = *(const pf__ynode *const *)y;
  if (a->len != b->len)
    return a->len < b->len ? -1 : 1;
  return memcmp(a->text, b->text, a->len);
}

static bool dup_keys(yr *r, const pf__ynode *map) {
  for (const pf__ynode *k = map->child; k; k = k->next)
    if (k->plain && k->len == 2 && memcmp(k->text, "<<", 2) == 0)
      return true; /* merge keys are libfyaml's */
  if (map->count < 2)
    return false;
  if (map->count <= 8) {
    for (const pf__ynode *a = map->child; a; a = a->next)
      for (const pf__ynode *b = a->next; b; b = b->next)
        if (a->len == b->len && memcmp(a->text, b->text, a->len) == 0)
          return true;
    return false;
  }
  const pf__ynode **v = pf_arena_alloc(r->a, map->count * sizeof *v);
  if (!v) {
    *r->oom = true;
    return true;
  }
  size_t i = 0;
  for (const pf__ynode *k = map->child; k; k = k->next)
    v[i++] = k;
  qsort(v, i, sizeof *v, key_cmp);
  for (size_t j = 1; j < i; j++)
    if (key_cmp(&v[j - 1], &v[j]) == 0)
      return true;
  return false;
}

static pf__ynode *block_map(yr *r, uint32_t indent, pf__ynode *first, uint32_t *next_indent,
                            bool *more);
static pf__ynode *block_seq(yr *r, uint32_t indent, uint32_t *next_indent, bool *more);

static bool seq_entry_at(const yr *r) {
  return *r->p == '-' && blank_at(r, r->p + 1);
}

/* A map key at the cursor, which ends after its `:`. */
static pf__ynode *block_key(yr *r) {
  pf__ynode *k;
  bool is_key;
  if (*r->p == '"' || *r->p == '\'') {
    if (!(k = quoted(r)))
      return NULL;
    is_key = r->p < r->end && *r->p == ':' && blank_at(r, r->p + 1);
  } else if (!(k = plain_block(r, &is_key))) {
    return NULL;
  }
  if (!is_key || k->len > YR_MAX_KEY)
    return yr_fail(r);
  r->p++; /* the ':' */
  return k;
}

/* The value after `key:`; on return the cursor is on the next line with
 * content (*more false at the end of the text), *next_indent its
 * indentation. */
static pf__ynode *map_value(yr *r, uint32_t indent, uint32_t *next_indent, bool *more) {
  skip_spaces(r);
  pf__ynode *v;
  if (at_eol(r, r->p) || *r->p == '#') {
    *more = next_line(r, true, next_indent);
    if (r->fail)
      return NULL;
    if (*more && *next_indent > indent) {
      if (seq_entry_at(r))
        return block_seq(r, *next_indent, next_indent, more);
      pf__ynode *k = block_key(r);
      return k ? block_map(r, *next_indent, k, next_indent, more) : NULL;
    }
    if (*more && *next_indent == indent && seq_entry_at(r))
      return block_seq(r, indent, next_indent, more); /* `key:` then `- x` below it */
    return empty_scalar(r);
  }
  if (*r->p == '|' || *r->p == '>')
    return block_scalar(r, indent, next_indent, more);
  if (*r->p == '[' || *r->p == '{' || *r->p == '"' || *r->p == '\'') {
    v = flow_node(r);
  } else {
    bool is_key;
    v = plain_block(r, &is_key);
    if (v && is_key) /* a: b: c */
      return yr_fail(r);
  }
  if (!v || !line_done(r))
    return yr_fail(r);
  *more = next_line(r, true, next_indent);
  if (r->fail || (*more && *next_indent > indent)) /* a continuation line */
    return yr_fail(r);
  return v;
}

/* A block map whose keys are at `indent`; its first key is `first` (the
 * cursor after its ':'). */
static pf__ynode *block_map(yr *r, uint32_t indent, pf__ynode *first, uint32_t *next_indent,
                            bool *more) {
  if (++r->depth > YR_MAX_DEPTH)
    return yr_fail(r);
  pf__ynode *n = node_new(r->a, PF__YN_MAP, r->oom);
  if (!n)
    return yr_fail(r);
  pf__ynode **tail = &n->child;
  pf__ynode *k = first;
  for (;;) {
    if (!(k->value = map_value(r, indent, next_indent, more)))
      return NULL;
    *tail = k;
    tail = &k->next;
    n->count++;
    if (!*more || *next_indent < indent)
      break;
    if (*next_indent > indent || seq_entry_at(r))
      return yr_fail(r);
    if (!(k = block_key(r)))
      return NULL;
  }
  if (dup_keys(r, n))
    return yr_fail(r);
  r->depth--;
  return n;
}

/* A block list whose `-` are at `indent`; the cursor is on the first. */
static pf__ynode *block_seq(yr *r, uint32_t indent, uint32_t *next_indent, bool *more) {
  if (++r->depth > YR_MAX_DEPTH)
    return yr_fail(r);
  pf__ynode *n = node_new(r->a, PF__YN_LIST, r->oom);
  if (!n)
    return yr_fail(r);
  pf__ynode **tail = &n->child;
  for (;;) {
    r->p++; /* the '-' */
    if (at_eol(r, r->p)) /* an item on the following lines, or empty */
      return yr_fail(r);
    skip_spaces(r);
    if (at_eol(r, r->p) || *r->p == '#' || seq_entry_at(r))
      return yr_fail(r);
    uint32_t col = (uint32_t)(r->p - r->bol); /* only spaces and '-' before it */
    pf__ynode *item;
    if (*r->p == '|' || *r->p == '>') {
      if (!(item = block_scalar(r, indent, next_indent, more)))
        return NULL;
    } else if (*r->p == '[' || *r->p == '{') {
      if (!(item = flow_node(r)) || !line_done(r))
        return yr_fail(r);
      *more = next_line(r, true, next_indent);
      if (r->fail || (*more && *next_indent > indent))
        return yr_fail(r);
    } else {
      bool is_key;
      if (*r->p == '"' || *r->p == '\'') {
        item = quoted(r);
        is_key = item && r->p < r->end && *r->p == ':' && blank_at(r, r->p + 1);
      } else {
        item = plain_block(r, &is_key);
      }
      if (!item)
        return NULL;
      if (is_key) { /* - key: value, a map indented to the key */
        if (item->len > YR_MAX_KEY)
          return yr_fail(r);
        r->p++;
        if (!(item = block_map(r, col, item, next_indent, more)))
          return NULL;
      } else {
        if (!line_done(r))
          return yr_fail(r);
        *more = next_line(r, true, next_indent);
        if (r->fail || (*more && *next_indent > indent))
          return yr_fail(r);
      }
    }
    *tail = item;
    tail = &item->next;
    n->count++;
    if (!*more || *next_indent < indent || !seq_entry_at(r))
      break;
    if (*next_indent > indent)
      return yr_fail(r);
  }
  if (*more && *next_indent > indent)
    return yr_fail(r);
  r->depth--;
  return n;
}

pf__ynode *pf__yaml_fast(pf_arena *a, const char *text, size_t len, bool *oom) {
  yr r = {.a = a, .oom = oom, .end = text + len, .p = text, .bol = text, .line = 1};
  if (len >= UINT32_MAX || !text_ok((const unsigned char *)text, len, &r.ascii))
    return NULL;
  /* The first line with content may be a `---` (with nothing after it). */
  for (const char *c = text;;) {
    while (c < r.end && *c == ' ')
      c++;
    if (c < r.end && *c != '\n' && *c != '#')
      break;
    if (!past_line(&r, c, &c))
      return NULL; /* nothing but comments: libfyaml's message */
  }
  uint32_t indent;
  bool more;
  if (r.end - r.bol >= 3 && memcmp(r.bol, "---", 3) == 0 && blank_at(&r, r.bol + 3)) {
    r.p = r.bol + 3;
    if (!line_done(&r))
      return NULL;
    more = next_line(&r, true, &indent);
  } else {
    r.p = r.bol;
    more = next_line(&r, false, &indent);
  }
  if (r.fail || !more || indent != 0 || seq_entry_at(&r))
    return NULL;
  pf__ynode *k = block_key(&r);
  pf__ynode *root = k ? block_map(&r, 0, k, &indent, &more) : NULL;
  if (!root || r.fail || more)
    return NULL;
  return root;
}

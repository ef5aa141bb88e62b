/* Template compiler and renderer.
 *
 * A template compiles to a flat program of ops with jump targets, so
 * rendering is one loop over an op index with a fixed-size stack of #each
 * frames: no recursion, no allocation. Literal text and names live in one
 * string table owned by the template; everything refers to it by offset
 * because the table moves while it grows during compilation.
 */
#include "template/template.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "template/uri.h"

enum op_kind {
  OP_TEXT, /* a: string offset, b: length */
  OP_VAR,  /* a: path */
  OP_IF,   /* a: path, b: target when the test fails, c: 1 for #unless */
  OP_JUMP, /* a: target (the {{else}} of #if/#unless: skip the else part) */
  OP_EACH, /* a: path, b: target when there is nothing to iterate, c: exit */
  OP_NEXT  /* a: pc of the OP_EACH whose body ends here */
};

typedef struct op {
  uint32_t kind, a, b, c;
} op;

enum seg_kind { SEG_NAME, SEG_THIS, SEG_INDEX, SEG_KEY, SEG_FIRST, SEG_LAST };

typedef struct seg {
  uint32_t kind;
  uint32_t off, len; /* name in the string table */
  bool numeric;      /* all digits and small enough: may index an array */
  size_t index;
} seg;

typedef struct path {
  uint32_t seg0, nsegs;
  uint32_t text;       /* offset of the path as written, NUL-terminated */
  uint32_t src_offset; /* where it is in the template, for messages */
} path;

struct pf_tmpl {
  op *ops;
  seg *segs;
  path *paths;
  uint32_t *vars; /* string offsets of the top-level names */
  uint32_t nops, nsegs, npaths, nvars;
  pf_buf strs;
  char *src; /* a copy of the source text, for line:col in render errors */
  size_t srclen;
};

/* ------------------------------------------------------------------ */
/* Compilation                                                         */

enum block_kind { BLK_IF, BLK_UNLESS, BLK_EACH };
static const char *const block_names[] = {"if", "unless", "each"};

typedef struct block {
  uint32_t kind;
  uint32_t pc;   /* the opening op */
  uint32_t els;  /* pc of the op emitted at {{else}}, or UINT32_MAX */
  size_t offset; /* of the opening "{{" */
} block;

typedef struct compiler {
  pf_tmpl *t;
  const char *text;
  size_t len;
  pf_tmpl_diag *diag;
  bool failed;
  uint32_t cap_ops, cap_segs, cap_paths, cap_vars;
  block blocks[PF_TMPL_MAX_DEPTH];
  uint32_t depth;
  uint32_t scope;  /* #each bodies we are inside (not their else parts) */
  bool can_extend; /* the last op is text, and no jump lands after it */
} compiler;

__attribute__((format(printf, 3, 4))) static bool fail(compiler *c, size_t offset, const char *fmt,
                                                       ...) {
  if (c->failed)
    return false;
  c->failed = true;
  va_list ap;
  va_start(ap, fmt);
  pf_tmpl_diag_vset(c->diag, c->text, offset, fmt, ap);
  va_end(ap);
  return false;
}

static bool oom(compiler *c) { return fail(c, 0, "out of memory"); }

static bool grow(compiler *c, void **p, uint32_t *cap, uint32_t n, size_t elsize) {
  return pf_tmpl_grow(p, cap, n, elsize) || oom(c);
}

void pf_tmpl_line_col(const char *text, size_t offset, unsigned *line, unsigned *col) {
  unsigned l = 1;
  size_t bol = 0;
  for (size_t i = 0; i < offset; i++) {
    if (text[i] == '\n') {
      l++;
      bol = i + 1;
    }
  }
  *line = l;
  *col = (unsigned)(offset - bol + 1);
}

void pf_tmpl_diag_vset(pf_tmpl_diag *d, const char *text, size_t offset, const char *fmt,
                       va_list ap) {
  if (!d)
    return;
  d->offset = offset;
  pf_tmpl_line_col(text, offset, &d->line, &d->col);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
}

bool pf_tmpl_grow(void **p, uint32_t *cap, uint32_t n, size_t elsize) {
  if (n < *cap)
    return true;
  uint32_t ncap = *cap ? *cap * 2 : 16;
  void *np = pf__realloc(*p, (size_t)ncap * elsize);
  if (!np)
    return false;
  *p = np;
  *cap = ncap;
  return true;
}

/* Appends s to the string table; returns its offset (or UINT32_MAX). */
static uint32_t str_add(compiler *c, const char *s, size_t n, bool nul) {
  pf_buf *b = &c->t->strs;
  uint32_t off = (uint32_t)b->len;
  pf_buf_append(b, s, n);
  if (nul)
    pf_buf_putc(b, '\0');
  if (b->failed) {
    oom(c);
    return UINT32_MAX;
  }
  return off;
}

static uint32_t emit(compiler *c, uint32_t kind, uint32_t a, uint32_t b, uint32_t cc) {
  pf_tmpl *t = c->t;
  c->can_extend = false;
  if (!grow(c, (void **)&t->ops, &c->cap_ops, t->nops, sizeof *t->ops))
    return UINT32_MAX;
  t->ops[t->nops] = (op){kind, a, b, cc};
  return t->nops++;
}

static bool emit_text(compiler *c, const char *s, size_t n) {
  if (n == 0)
    return true;
  pf_tmpl *t = c->t;
  uint32_t off = str_add(c, s, n, false);
  if (off == UINT32_MAX)
    return false;
  /* Text split only by a comment or an escaped "{{" is contiguous in the
   * table: extend the previous op instead of adding one. Never across a
   * block tag, whose jumps must land between the two pieces. */
  if (c->can_extend && t->ops[t->nops - 1].a + t->ops[t->nops - 1].b == off) {
    t->ops[t->nops - 1].b += (uint32_t)n;
    return true;
  }
  c->can_extend = emit(c, OP_TEXT, off, (uint32_t)n, 0) != UINT32_MAX;
  return c->can_extend;
}

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

static bool is_name_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_' || ch == '-';
}

static void add_var(compiler *c, const char *name, size_t n) {
  pf_tmpl *t = c->t;
  for (uint32_t i = 0; i < t->nvars; i++) {
    const char *v = t->strs.data + t->vars[i];
    if (strlen(v) == n && memcmp(v, name, n) == 0)
      return;
  }
  if (!grow(c, (void **)&t->vars, &c->cap_vars, t->nvars, sizeof *t->vars))
    return;
  uint32_t off = str_add(c, name, n, true);
  if (off != UINT32_MAX)
    t->vars[t->nvars++] = off;
}

static const struct {
  const char *name;
  uint32_t kind;
} data_vars[] = {
    {"@index", SEG_INDEX}, {"@key", SEG_KEY}, {"@first", SEG_FIRST}, {"@last", SEG_LAST}};

/* Parses the path text[start..end) (already trimmed, not empty). Returns
 * the path index, or UINT32_MAX after reporting the problem. */
static uint32_t parse_path(compiler *c, size_t start, size_t end) {
  pf_tmpl *t = c->t;
  const char *s = c->text;
  int plen = (int)(end - start > 200 ? 200 : end - start);
  uint32_t seg0 = t->nsegs, nsegs = 0;
  size_t i = start;
  while (1) {
    size_t b = i;
    seg sg = {SEG_NAME, 0, 0, false, 0};
    if (nsegs == 0 && s[i] == '@') {
      i++;
      while (i < end && is_name_char((unsigned char)s[i]))
        i++;
      size_t k = 0, nd = sizeof data_vars / sizeof data_vars[0];
      while (k < nd &&
             !(strlen(data_vars[k].name) == i - b && memcmp(data_vars[k].name, s + b, i - b) == 0))
        k++;
      if (k == nd) {
        fail(c, b, "unknown data variable '%.*s' (expected @index, @key, @first or @last)",
             (int)(i - b > 64 ? 64 : i - b), s + b);
        return UINT32_MAX;
      }
      if (c->scope == 0) {
        fail(c, b, "'%s' used outside {{#each}}", data_vars[k].name);
        return UINT32_MAX;
      }
      if (i < end && s[i] == '.') {
        fail(c, i, "'%s' cannot be followed by a path", data_vars[k].name);
        return UINT32_MAX;
      }
      sg.kind = data_vars[k].kind;
    } else {
      while (i < end && is_name_char((unsigned char)s[i]))
        i++;
      if (i == b && (i == end || s[i] == '.')) {
        fail(c, i, "empty segment in path '%.*s'", plen, s + start);
        return UINT32_MAX;
      }
      if (nsegs == 0 && i - b == 4 && memcmp(s + b, "this", 4) == 0) {
        sg.kind = SEG_THIS;
      } else {
        sg.numeric = true;
        for (size_t k = b; k < i && sg.numeric; k++) {
          if (s[k] < '0' || s[k] > '9' || sg.index > (SIZE_MAX - 9) / 10)
            sg.numeric = false;
          else
            sg.index = sg.index * 10 + (size_t)(s[k] - '0');
        }
        if (!sg.numeric)
          sg.index = 0;
      }
    }
    if (i < end && s[i] != '.') {
      unsigned char ch = (unsigned char)s[i];
      if (ch >= 0x20 && ch < 0x7f)
        fail(c, i, "bad character '%c' in path '%.*s'", ch, plen, s + start);
      else
        fail(c, i, "bad character 0x%02X in path '%.*s'", ch, plen, s + start);
      return UINT32_MAX;
    }
    if (sg.kind == SEG_NAME) {
      sg.off = str_add(c, s + b, i - b, true);
      sg.len = (uint32_t)(i - b);
      if (sg.off == UINT32_MAX)
        return UINT32_MAX;
    }
    if (!grow(c, (void **)&t->segs, &c->cap_segs, t->nsegs, sizeof *t->segs))
      return UINT32_MAX;
    t->segs[t->nsegs++] = sg;
    nsegs++;
    if (i == end)
      break;
    i++; /* the '.' */
    if (i == end) {
      fail(c, i, "empty segment in path '%.*s'", plen, s + start);
      return UINT32_MAX;
    }
  }
  uint32_t text = str_add(c, s + start, end - start, true);
  if (text == UINT32_MAX)
    return UINT32_MAX;
  if (!grow(c, (void **)&t->paths, &c->cap_paths, t->npaths, sizeof *t->paths))
    return UINT32_MAX;
  t->paths[t->npaths] = (path){seg0, nsegs, text, (uint32_t)start};
  if (c->scope == 0 && t->segs[seg0].kind == SEG_NAME)
    add_var(c, s + start, t->segs[seg0].len);
  return c->failed ? UINT32_MAX : t->npaths++;
}

static int block_kind(const char *s, size_t n) {
  for (int k = 0; k < 3; k++)
    if (strlen(block_names[k]) == n && memcmp(block_names[k], s, n) == 0)
      return k;
  return -1;
}

static bool open_block(compiler *c, size_t tag, size_t b, size_t e) {
  const char *s = c->text;
  size_t i = b + 1;
  while (i < e && is_space(s[i]))
    i++;
  size_t nb = i;
  while (i < e && !is_space(s[i]))
    i++;
  int kind = block_kind(s + nb, i - nb);
  if (kind < 0)
    return fail(c, tag, "unknown block helper '#%.*s' (expected #if, #unless or #each)",
                (int)(i - nb > 64 ? 64 : i - nb), s + nb);
  while (i < e && is_space(s[i]))
    i++;
  if (i == e)
    return fail(c, tag, "'{{#%s}}' needs a path", block_names[kind]);
  if (c->depth == PF_TMPL_MAX_DEPTH)
    return fail(c, tag, "blocks nested deeper than %d", PF_TMPL_MAX_DEPTH);
  /* The collection of an #each is named in the enclosing scope. */
  uint32_t p = parse_path(c, i, e);
  if (p == UINT32_MAX)
    return false;
  uint32_t pc =
      kind == BLK_EACH ? emit(c, OP_EACH, p, 0, 0) : emit(c, OP_IF, p, 0, kind == BLK_UNLESS);
  if (pc == UINT32_MAX)
    return false;
  c->blocks[c->depth++] = (block){(uint32_t)kind, pc, UINT32_MAX, tag};
  if (kind == BLK_EACH)
    c->scope++;
  return true;
}

static bool else_tag(compiler *c, size_t tag) {
  if (c->depth == 0)
    return fail(c, tag, "'{{else}}' outside a block");
  block *bk = &c->blocks[c->depth - 1];
  if (bk->els != UINT32_MAX)
    return fail(c, tag, "second '{{else}}' in the same '{{#%s}}' block", block_names[bk->kind]);
  pf_tmpl *t = c->t;
  if (bk->kind == BLK_EACH) {
    bk->els = emit(c, OP_NEXT, bk->pc, 0, 0);
    if (bk->els == UINT32_MAX)
      return false;
    t->ops[bk->pc].b = t->nops;
    c->scope--; /* the else part runs without an element */
  } else {
    bk->els = emit(c, OP_JUMP, 0, 0, 0);
    if (bk->els == UINT32_MAX)
      return false;
    t->ops[bk->pc].b = t->nops;
  }
  return true;
}

static bool close_block(compiler *c, size_t tag, size_t b, size_t e) {
  const char *s = c->text;
  size_t i = b + 1;
  while (i < e && is_space(s[i]))
    i++;
  size_t nb = i;
  while (i < e && !is_space(s[i]))
    i++;
  int kind = block_kind(s + nb, i - nb);
  if (kind < 0)
    return fail(c, tag, "unknown block helper '/%.*s' (expected /if, /unless or /each)",
                (int)(i - nb > 64 ? 64 : i - nb), s + nb);
  while (i < e && is_space(s[i]))
    i++;
  if (i != e)
    return fail(c, tag, "'{{/%s}}' takes nothing after the block name", block_names[kind]);
  if (c->depth == 0)
    return fail(c, tag, "'{{/%s}}' without a matching '{{#%s}}'", block_names[kind],
                block_names[kind]);
  block *bk = &c->blocks[c->depth - 1];
  if ((int)bk->kind != kind) {
    unsigned l, col;
    pf_tmpl_line_col(s, bk->offset, &l, &col);
    return fail(c, tag, "'{{/%s}}' does not close '{{#%s}}' (opened at %u:%u)", block_names[kind],
                block_names[bk->kind], l, col);
  }
  pf_tmpl *t = c->t;
  if (kind == BLK_EACH) {
    if (bk->els == UINT32_MAX) {
      if (emit(c, OP_NEXT, bk->pc, 0, 0) == UINT32_MAX)
        return false;
      t->ops[bk->pc].b = t->nops;
      c->scope--;
    }
    t->ops[bk->pc].c = t->nops;
  } else if (bk->els == UINT32_MAX) {
    t->ops[bk->pc].b = t->nops;
  } else {
    t->ops[bk->els].a = t->nops;
  }
  c->depth--;
  c->can_extend = false; /* the jumps above land on the next op */
  return true;
}

/* Compiles the tag whose "{{" is at `tag`; returns the offset just past its
 * "}}", or 0 on error. */
static size_t compile_tag(compiler *c, size_t tag) {
  const char *s = c->text;
  size_t len = c->len, b = tag + 2, e, next;
  if (len - b >= 3 && memcmp(s + b, "!--", 3) == 0) {
    const char *p = NULL;
    for (size_t k = b + 3; k + 4 <= len && !p; k++)
      if (memcmp(s + k, "--}}", 4) == 0)
        p = s + k;
    if (!p)
      return fail(c, tag, "unclosed comment '{{!--': no matching '--}}'"), 0;
    return (size_t)(p - s) + 4;
  }
  for (e = b; e + 1 < len && !(s[e] == '}' && s[e + 1] == '}'); e++)
    ;
  if (e + 1 >= len)
    return fail(c, tag, "unclosed '{{': no matching '}}'"), 0;
  next = e + 2;
  if (e > b && s[b] == '!')
    return next;
  while (b < e && is_space(s[b]))
    b++;
  while (e > b && is_space(s[e - 1]))
    e--;
  bool ok;
  if (b == e) {
    ok = fail(c, tag, "empty path in '{{}}'");
  } else if (s[b] == '#') {
    ok = open_block(c, tag, b, e);
  } else if (s[b] == '/') {
    ok = close_block(c, tag, b, e);
  } else if (e - b == 4 && memcmp(s + b, "else", 4) == 0) {
    ok = else_tag(c, tag);
  } else if (e - b > 4 && memcmp(s + b, "else", 4) == 0 && is_space(s[b + 4])) {
    ok = fail(c, tag, "'{{else}}' takes nothing after it (nest an {{#if}} instead)");
  } else {
    uint32_t p = parse_path(c, b, e);
    ok = p != UINT32_MAX && emit(c, OP_VAR, p, 0, 0) != UINT32_MAX;
  }
  return ok ? next : 0;
}

static void compile_all(compiler *c) {
  const char *s = c->text;
  size_t len = c->len, i = 0, lit = 0;
  while (i + 1 < len && !c->failed) {
    const char *p = memchr(s + i, '{', len - i - 1);
    if (!p)
      break;
    size_t k = (size_t)(p - s);
    if (s[k + 1] != '{') {
      i = k + 1;
      continue;
    }
    if (k > lit && s[k - 1] == '\\' && !(k >= lit + 2 && s[k - 2] == '\\')) {
      emit_text(c, s + lit, k - 1 - lit);
      emit_text(c, "{{", 2);
      i = lit = k + 2;
      continue;
    }
    emit_text(c, s + lit, k - lit);
    size_t next = compile_tag(c, k);
    if (!next)
      return;
    i = lit = next;
  }
  if (c->failed)
    return;
  emit_text(c, s + lit, len - lit);
  if (c->depth && !c->failed) {
    const block *bk = &c->blocks[c->depth - 1];
    fail(c, bk->offset, "'{{#%s}}' is not closed (no '{{/%s}}' before the end of the template)",
         block_names[bk->kind], block_names[bk->kind]);
  }
}

pf_tmpl *pf_tmpl_compile_diag(const char *text, size_t len, pf_tmpl_diag *diag) {
  compiler c;
  memset(&c, 0, sizeof c);
  c.text = text ? text : "";
  c.len = text ? len : 0;
  c.diag = diag;
  if (c.len >= UINT32_MAX) {
    fail(&c, 0, "template longer than %u bytes", UINT32_MAX - 1);
    return NULL;
  }
  c.t = pf__malloc(sizeof *c.t);
  if (!c.t) {
    oom(&c);
    return NULL;
  }
  memset(c.t, 0, sizeof *c.t);
  compile_all(&c);
  if (!c.failed) {
    c.t->src = pf__malloc(c.len + 1);
    if (!c.t->src) {
      oom(&c);
    } else {
      memcpy(c.t->src, c.text, c.len);
      c.t->src[c.len] = '\0';
      c.t->srclen = c.len;
    }
  }
  if (c.failed) {
    pf_tmpl_free(c.t);
    return NULL;
  }
  return c.t;
}

pf_tmpl *pf_tmpl_compile(const char *text, size_t len, pf_buf *err) {
  pf_tmpl_diag d;
  pf_tmpl *t = pf_tmpl_compile_diag(text, len, &d);
  if (!t && err)
    pf_buf_printf(err, "%u:%u (byte %zu): %s", d.line, d.col, d.offset, d.msg);
  return t;
}

void pf_tmpl_free(pf_tmpl *t) {
  if (!t)
    return;
  pf__free(t->ops);
  pf__free(t->segs);
  pf__free(t->paths);
  pf__free(t->vars);
  pf__free(t->src);
  pf_buf_free(&t->strs);
  pf__free(t);
}

size_t pf_tmpl_nvars(const pf_tmpl *t) { return t ? t->nvars : 0; }

const char *pf_tmpl_var(const pf_tmpl *t, size_t i) {
  return t && i < t->nvars ? t->strs.data + t->vars[i] : NULL;
}

bool pf_tmpl_is_single_var(const pf_tmpl *t, const char **pathp) {
  if (!t || t->nops != 1 || t->ops[0].kind != OP_VAR)
    return false;
  if (pathp)
    *pathp = t->strs.data + t->paths[t->ops[0].a].text;
  return true;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */

typedef struct frame {
  pf_json_iter it;
  const pf_json *key, *val; /* key is NULL for arrays */
  size_t index, count;
  uint32_t pc;
} frame;

enum val_kind { V_MISSING, V_JSON, V_INT, V_BOOL };

typedef struct val {
  int kind;
  const pf_json *j;
  int64_t i; /* V_INT value, V_BOOL 0/1 */
} val;

static const pf_json *descend(const pf_tmpl *t, const pf_json *cur, const seg *sg) {
  switch (pf_json_typeof(cur)) {
  case PF_JSON_OBJECT: return pf_json_getn(cur, t->strs.data + sg->off, sg->len);
  case PF_JSON_ARRAY: return sg->numeric ? pf_json_at(cur, sg->index) : NULL;
  default: return NULL;
  }
}

static val resolve(const pf_tmpl *t, const path *p, const pf_tmpl_ctx *ctx, const frame *st,
                   size_t depth) {
  const seg *sg = &t->segs[p->seg0];
  const frame *top = depth ? &st[depth - 1] : NULL;
  const pf_json *j = NULL;
  switch (sg->kind) {
  case SEG_INDEX: return (val){V_INT, NULL, (int64_t)top->index};
  case SEG_KEY:
    return top->key ? (val){V_JSON, top->key, 0} : (val){V_INT, NULL, (int64_t)top->index};
  case SEG_FIRST: return (val){V_BOOL, NULL, top->index == 0};
  case SEG_LAST: return (val){V_BOOL, NULL, top->index + 1 == top->count};
  case SEG_THIS: j = top ? top->val : ctx ? ctx->values : NULL; break;
  default: {
    const char *name = t->strs.data + sg->off;
    for (size_t d = depth; d-- > 0 && !j;)
      if (pf_json_typeof(st[d].val) == PF_JSON_OBJECT)
        j = pf_json_getn(st[d].val, name, sg->len);
    if (!j && ctx && ctx->values)
      j = pf_json_getn(ctx->values, name, sg->len);
    if (!j && ctx && ctx->lookup)
      j = ctx->lookup(ctx->ud, name, sg->len);
  }
  }
  for (uint32_t k = 1; k < p->nsegs && j; k++)
    j = descend(t, j, &t->segs[p->seg0 + k]);
  return j ? (val){V_JSON, j, 0} : (val){V_MISSING, NULL, 0};
}

static bool truthy(val v) {
  switch (v.kind) {
  case V_INT:
  case V_BOOL: return v.i != 0;
  case V_JSON: break;
  default: return false;
  }
  switch (pf_json_typeof(v.j)) {
  case PF_JSON_BOOL: return pf_json_bool_or(v.j, false);
  case PF_JSON_INT: return pf_json_int_or(v.j, 0) != 0;
  case PF_JSON_UINT: return true; /* above INT64_MAX */
  case PF_JSON_REAL: return pf_json_num_or(v.j, 0.0) != 0.0;
  case PF_JSON_STRING:
  case PF_JSON_ARRAY:
  case PF_JSON_OBJECT: return pf_json_len(v.j) != 0;
  default: return false;
  }
}

static void put(pf_buf *out, pf_tmpl_escape esc, const char *s, size_t n) {
  switch (esc) {
  case PF_TMPL_JSON: pf_json_escape(out, s, n); break;
  case PF_TMPL_URL: pf__uri_pct_encode(out, s, n); break;
  default: pf_buf_append(out, s, n);
  }
}

static size_t fmt_u64(uint64_t u, bool neg, char *buf) {
  char tmp[24];
  size_t n = 0, k = 0;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (neg)
    buf[k++] = '-';
  while (n)
    buf[k++] = tmp[--n];
  return k;
}

static size_t fmt_i64(int64_t v, char *buf) {
  return v < 0 ? fmt_u64(0 - (uint64_t)v, true, buf) : fmt_u64((uint64_t)v, false, buf);
}

/* A container in JSON or URL mode: serialize it at the end of `out`, then
 * escape that text, re-read through a stack window because escaping
 * appends to the same buffer (which may move), and finally slide the
 * escaped text down over the raw one. */
static void put_container(pf_buf *out, pf_tmpl_escape esc, const pf_json *j) {
  size_t start = out->len;
  pf_json_writer w;
  pf_jw_init(&w, out);
  pf_jw_value(&w, j);
  if (out->failed)
    return;
  size_t end = out->len;
  char win[512];
  for (size_t i = start; i < end;) {
    size_t n = end - i < sizeof win ? end - i : sizeof win;
    /* never split a UTF-8 sequence: the escaper would see it as invalid */
    if (i + n < end)
      while (n > 1 && ((unsigned char)out->data[i + n] & 0xC0) == 0x80)
        n--;
    memcpy(win, out->data + i, n);
    put(out, esc, win, n);
    if (out->failed)
      return;
    i += n;
  }
  memmove(out->data + start, out->data + end, out->len - end);
  out->len -= end - start;
}

static void put_val(pf_buf *out, pf_tmpl_escape esc, val v) {
  char num[40];
  size_t n;
  switch (v.kind) {
  case V_INT: put(out, esc, num, fmt_i64(v.i, num)); return;
  case V_BOOL: put(out, esc, v.i ? "true" : "false", v.i ? 4 : 5); return;
  case V_JSON: break;
  default: return;
  }
  const pf_json *j = v.j;
  switch (pf_json_typeof(j)) {
  case PF_JSON_STRING: {
    const char *s = pf_json_str(j, &n);
    put(out, esc, s, n);
    break;
  }
  case PF_JSON_INT: put(out, esc, num, fmt_i64(pf_json_int_or(j, 0), num)); break;
  case PF_JSON_UINT: put(out, esc, num, fmt_u64(pf_json_uint_or(j, 0), false, num)); break;
  case PF_JSON_REAL: put(out, esc, num, pf_json_fmt_double(pf_json_num_or(j, 0.0), num)); break;
  case PF_JSON_BOOL: put_val(out, esc, (val){V_BOOL, NULL, pf_json_bool_or(j, false)}); break;
  case PF_JSON_ARRAY:
  case PF_JSON_OBJECT:
    if (esc == PF_TMPL_RAW) {
      pf_json_writer w;
      pf_jw_init(&w, out);
      pf_jw_value(&w, j);
    } else {
      put_container(out, esc, j);
    }
    break;
  default: break; /* null */
  }
}

int pf_tmpl_render(const pf_tmpl *t, const pf_tmpl_ctx *ctx, pf_tmpl_escape esc, pf_buf *out) {
  if (!t || !out)
    return -PF_EINVAL;
  size_t start = out->len;
  frame st[PF_TMPL_MAX_DEPTH];
  size_t depth = 0;
  uint32_t pc = 0;
  while (pc < t->nops) {
    const op *o = &t->ops[pc];
    switch (o->kind) {
    case OP_TEXT:
      pf_buf_append(out, t->strs.data + o->a, o->b);
      pc++;
      break;
    case OP_VAR: {
      const path *p = &t->paths[o->a];
      val v = resolve(t, p, ctx, st, depth);
      if (v.kind == V_MISSING && ctx && ctx->strict) {
        out->len = start;
        if (ctx->err) {
          unsigned l, col;
          pf_tmpl_line_col(t->src, p->src_offset, &l, &col);
          pf_buf_printf(ctx->err, "missing variable '%s' at %u:%u", t->strs.data + p->text, l, col);
        }
        return -PF_EINVAL;
      }
      put_val(out, esc, v);
      pc++;
      break;
    }
    case OP_IF: {
      bool yes = truthy(resolve(t, &t->paths[o->a], ctx, st, depth));
      pc = yes != (o->c != 0) ? pc + 1 : o->b;
      break;
    }
    case OP_JUMP: pc = o->a; break;
    case OP_EACH: {
      val v = resolve(t, &t->paths[o->a], ctx, st, depth);
      frame *f = &st[depth];
      f->it = pf_json_iter_init(v.kind == V_JSON ? v.j : NULL);
      if (!pf_json_iter_next(&f->it, &f->key, &f->val)) {
        pc = o->b;
        break;
      }
      f->index = 0;
      f->count = pf_json_len(v.j);
      f->pc = pc;
      depth++;
      pc++;
      break;
    }
    case OP_NEXT: {
      frame *f = &st[depth - 1];
      if (pf_json_iter_next(&f->it, &f->key, &f->val)) {
        f->index++;
        pc = f->pc + 1;
      } else {
        depth--;
        pc = t->ops[o->a].c;
      }
      break;
    }
    }
  }
  return out->failed ? -PF_ENOMEM : 0;
}

const pf_json *pf_tmpl_single_value(const pf_tmpl *t, const pf_tmpl_ctx *ctx) {
  if (!pf_tmpl_is_single_var(t, NULL))
    return NULL;
  val v = resolve(t, &t->paths[t->ops[0].a], ctx, NULL, 0);
  return v.kind == V_JSON ? v.j : NULL;
}

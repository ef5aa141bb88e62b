/* Condition expression compiler and evaluator.
 *
 * A recursive-descent parser (its recursion bounded by the parenthesis
 * limit) emits a flat postfix program: operands push a value, comparisons
 * pop two and push a boolean, && and || are conditional jumps that keep the
 * left operand's verdict on the stack when they short-circuit. The largest
 * stack the program needs is computed while emitting, and the nesting limit
 * bounds it, so evaluation is one loop over a fixed-size array. Names and
 * string literals live in one string table owned by the expression,
 * referred to by offset because the table moves while it grows.
 */
#include "template/expr.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "json/internal.h"

enum op_kind {
  OP_NULL,
  OP_TRUE,
  OP_FALSE,
  OP_INT,  /* n.i */
  OP_UINT, /* n.u, above INT64_MAX */
  OP_REAL, /* n.d */
  OP_STR,  /* a: string offset, b: length */
  OP_PATH, /* a: first segment, b: number of segments */
  OP_NOT,  /* top = !truthy(top) */
  OP_BOOL, /* top = truthy(top) */
  OP_EQ,
  OP_NE,
  OP_LT,
  OP_LE,
  OP_GT,
  OP_GE,
  OP_JF, /* &&: a falsy top becomes false and jumps to a; otherwise popped */
  OP_JT  /* ||: a truthy top becomes true and jumps to a; otherwise popped */
};

/* Stack effect of each op (on the path that falls through). */
static const int8_t op_effect[] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1};

typedef struct op {
  uint32_t kind, a, b;
  union {
    int64_t i;
    uint64_t u;
    double d;
  } n;
} op;

typedef struct seg {
  uint32_t off, len; /* name in the string table */
  bool numeric;      /* all digits and small enough: may index an array */
  size_t index;
} seg;

/* Each level of parentheses holds at most two pending operands (the left
 * sides of an equality and of an ordering) while its inner level runs. */
#define EVAL_STACK (2 * PF_EXPR_MAX_DEPTH + 4)

struct pf_expr {
  op *ops;
  seg *segs;
  uint32_t *vars; /* string offsets of the distinct first segments */
  uint32_t nops, nsegs, nvars;
  pf_buf strs;
};

/* ------------------------------------------------------------------ */
/* Compilation                                                         */

enum tok_kind {
  T_EOF,
  T_OR,
  T_AND,
  T_EQ,
  T_NE,
  T_LT,
  T_LE,
  T_GT,
  T_GE,
  T_NOT,
  T_LP,
  T_RP,
  T_PATH, /* path text in [pstart, pend) */
  T_INT,
  T_UINT,
  T_REAL,
  T_STR, /* decoded into the string table at [off, off + len) */
  T_TRUE,
  T_FALSE,
  T_NULL
};

typedef struct token {
  int kind;
  size_t start, end; /* the source span */
  size_t pstart, pend;
  uint32_t off, len;
  int64_t i;
  uint64_t u;
  double d;
} token;

typedef struct compiler {
  pf_expr *e;
  const char *text;
  size_t len;
  pf_tmpl_diag *diag;
  bool failed;
  uint32_t cap_ops, cap_segs, cap_vars;
  size_t pos; /* the lexer's */
  token tok;  /* the lookahead */
  uint32_t depth;
  int sp, max_sp; /* simulated evaluation stack */
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

static uint32_t emit(compiler *c, uint32_t kind, uint32_t a, uint32_t b) {
  pf_expr *e = c->e;
  if (!grow(c, (void **)&e->ops, &c->cap_ops, e->nops, sizeof *e->ops))
    return UINT32_MAX;
  e->ops[e->nops] = (op){kind, a, b, {0}};
  c->sp += op_effect[kind];
  if (c->sp > c->max_sp)
    c->max_sp = c->sp;
  return e->nops++;
}

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static bool is_name_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit((char)ch) || ch == '_' ||
         ch == '-';
}

static int hex_val(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* The 4 hex digits at s[i..i+4), or -1. */
static long hex4(const compiler *c, size_t i) {
  if (c->len - i < 4)
    return -1;
  long v = 0;
  for (size_t k = 0; k < 4; k++) {
    int h = hex_val(c->text[i + k]);
    if (h < 0)
      return -1;
    v = v << 4 | h;
  }
  return v;
}

static void put_utf8(pf_buf *b, uint32_t cp) {
  char u[4];
  pf_buf_append(b, u, pf__utf8_put(u, cp));
}

/* A string literal whose quote is at c->pos, decoded into the table. */
static bool lex_string(compiler *c, token *t) {
  const char *s = c->text;
  char q = s[c->pos];
  pf_buf *b = &c->e->strs;
  size_t i = c->pos + 1;
  t->off = (uint32_t)b->len;
  for (;;) {
    if (i >= c->len)
      return fail(c, c->pos, "unterminated string");
    char ch = s[i];
    if (ch == q)
      break;
    if (ch != '\\') {
      pf_buf_putc(b, ch);
      i++;
      continue;
    }
    if (i + 1 >= c->len)
      return fail(c, c->pos, "unterminated string");
    char x = s[i + 1], out;
    switch (x) {
    case '"':
    case '\'':
    case '\\':
    case '/': out = x; break;
    case 'n': out = '\n'; break;
    case 't': out = '\t'; break;
    case 'r': out = '\r'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case '0': out = '\0'; break;
    case 'u': {
      long cp = hex4(c, i + 2);
      if (cp < 0)
        return fail(c, i, "bad escape '\\u': expected 4 hex digits");
      size_t n = 6;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo = c->len - i >= 8 && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(c, i + 8) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
          return fail(c, i, "unpaired surrogate '\\u%04lX' in string", cp);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        n = 12;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail(c, i, "unpaired surrogate '\\u%04lX' in string", cp);
      }
      put_utf8(b, (uint32_t)cp);
      i += n;
      continue;
    }
    default:
      if ((unsigned char)x >= 0x20 && (unsigned char)x < 0x7f)
        return fail(c, i, "unknown escape '\\%c' in string", x);
      return fail(c, i, "unknown escape: '\\' followed by byte 0x%02X", (unsigned char)x);
    }
    pf_buf_putc(b, out);
    i += 2;
  }
  if (b->failed)
    return oom(c);
  if (b->len - t->off > UINT32_MAX)
    return fail(c, c->pos, "string too long");
  t->len = (uint32_t)(b->len - t->off);
  t->kind = T_STR;
  c->pos = i + 1;
  return true;
}

/* A number (JSON's grammar) starting at c->pos, with a digit or '-' and a
 * digit there. */
static bool lex_number(compiler *c, token *t) {
  const char *s = c->text;
  size_t n = c->len, start = c->pos, i = start;
  bool neg = s[i] == '-', integral = true;
  if (neg)
    i++;
  size_t d0 = i;
  if (s[i] == '0') {
    i++;
    if (i < n && is_digit(s[i]))
      return fail(c, d0, "number with a leading zero");
  } else {
    while (i < n && is_digit(s[i]))
      i++;
  }
  size_t dend = i;
  if (i < n && s[i] == '.') {
    integral = false;
    i++;
    if (i >= n || !is_digit(s[i]))
      return fail(c, i, "expected a digit after '.' in number");
    while (i < n && is_digit(s[i]))
      i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    integral = false;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    if (i >= n || !is_digit(s[i]))
      return fail(c, i, "expected a digit in the exponent of number");
    while (i < n && is_digit(s[i]))
      i++;
  }
  if (i < n && (is_name_char((unsigned char)s[i]) || s[i] == '.'))
    return fail(c, i, "bad character '%c' in number", s[i]);
  c->pos = i;
  if (integral) {
    uint64_t m = 0;
    bool over = false;
    for (size_t k = d0; k < dend && !over; k++) {
      unsigned dg = (unsigned)(s[k] - '0');
      if (m > (UINT64_MAX - dg) / 10)
        over = true;
      else
        m = m * 10 + dg;
    }
    if (!over && !neg) {
      t->kind = m <= INT64_MAX ? T_INT : T_UINT;
      t->i = (int64_t)(m <= INT64_MAX ? m : 0);
      t->u = m;
      return true;
    }
    if (!over && m <= (uint64_t)INT64_MAX + 1) {
      t->kind = T_INT;
      t->i = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
      return true;
    }
  }
  int rc = pf__json_strtod(s + start, i - start, &t->d);
  if (rc == -PF_ENOMEM)
    return oom(c);
  if (rc < 0)
    return fail(c, start, "number out of range: '%.*s'", (int)(i - start > 64 ? 64 : i - start),
                s + start);
  t->kind = T_REAL;
  return true;
}

static const struct {
  const char *word;
  int kind;
} keywords[] = {{"true", T_TRUE}, {"false", T_FALSE}, {"null", T_NULL},
                {"and", T_AND},   {"or", T_OR},       {"not", T_NOT}};

/* Reads the next token into c->tok. */
static bool lex(compiler *c) {
  const char *s = c->text;
  size_t n = c->len;
  while (c->pos < n && is_space(s[c->pos]))
    c->pos++;
  token *t = &c->tok;
  memset(t, 0, sizeof *t);
  t->start = c->pos;
  if (c->pos == n) {
    t->kind = T_EOF;
    t->end = n;
    return true;
  }
  char ch = s[c->pos], nx = c->pos + 1 < n ? s[c->pos + 1] : '\0';
  size_t w = 1; /* operator width */
  switch (ch) {
  case '|':
    if (nx != '|')
      return fail(c, c->pos, "unknown operator '|' (did you mean '||')");
    t->kind = T_OR;
    w = 2;
    break;
  case '&':
    if (nx != '&')
      return fail(c, c->pos, "unknown operator '&' (did you mean '&&')");
    t->kind = T_AND;
    w = 2;
    break;
  case '=':
    if (nx != '=')
      return fail(c, c->pos, "unknown operator '=' (did you mean '==')");
    t->kind = T_EQ;
    w = 2;
    break;
  case '!':
    t->kind = nx == '=' ? T_NE : T_NOT;
    w = nx == '=' ? 2 : 1;
    break;
  case '<':
    t->kind = nx == '=' ? T_LE : T_LT;
    w = nx == '=' ? 2 : 1;
    break;
  case '>':
    t->kind = nx == '=' ? T_GE : T_GT;
    w = nx == '=' ? 2 : 1;
    break;
  case '(': t->kind = T_LP; break;
  case ')': t->kind = T_RP; break;
  case '"':
  case '\'':
    if (!lex_string(c, t))
      return false;
    t->end = c->pos;
    return true;
  case '{': {
    if (nx != '{')
      return fail(c, c->pos, "unexpected character '{' (a path in braces is written '{{a.b}}')");
    size_t b = c->pos + 2, e = b;
    while (e + 1 < n && !(s[e] == '}' && s[e + 1] == '}'))
      e++;
    if (e + 1 >= n)
      return fail(c, c->pos, "unclosed '{{': no matching '}}'");
    c->pos = e + 2;
    while (b < e && is_space(s[b]))
      b++;
    while (e > b && is_space(s[e - 1]))
      e--;
    if (b == e)
      return fail(c, t->start, "empty path in '{{}}'");
    for (size_t k = b; k < e; k++) {
      unsigned char x = (unsigned char)s[k];
      if (is_name_char(x) || x == '.')
        continue;
      if (x >= 0x20 && x < 0x7f)
        return fail(c, k, "bad character '%c' in '{{...}}': only a path may be written there", x);
      return fail(c, k, "bad byte 0x%02X in '{{...}}': only a path may be written there", x);
    }
    t->kind = T_PATH;
    t->pstart = b;
    t->pend = e;
    t->end = c->pos;
    return true;
  }
  default:
    if (is_digit(ch) || (ch == '-' && is_digit(nx))) {
      if (!lex_number(c, t))
        return false;
      t->end = c->pos;
      return true;
    }
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_') {
      size_t i = c->pos;
      bool dotted = false;
      for (;;) {
        while (i < n && is_name_char((unsigned char)s[i]))
          i++;
        if (i < n && s[i] == '.') {
          dotted = true;
          i++;
          continue;
        }
        break;
      }
      t->kind = T_PATH;
      t->pstart = c->pos;
      t->pend = i;
      for (size_t k = 0; !dotted && k < sizeof keywords / sizeof keywords[0]; k++)
        if (strlen(keywords[k].word) == i - c->pos &&
            memcmp(keywords[k].word, s + c->pos, i - c->pos) == 0)
          t->kind = keywords[k].kind;
      c->pos = t->end = i;
      return true;
    }
    if ((unsigned char)ch >= 0x20 && (unsigned char)ch < 0x7f)
      return fail(c, c->pos, "unexpected character '%c'", ch);
    return fail(c, c->pos, "unexpected byte 0x%02X", (unsigned char)ch);
  }
  c->pos += w;
  t->end = c->pos;
  return true;
}

/* Up to 40 bytes of a token's text, for messages. */
static int tok_width(const token *t) {
  return (int)(t->end - t->start > 40 ? 40 : t->end - t->start);
}

static void add_var(compiler *c, const char *name, size_t n) {
  pf_expr *e = c->e;
  for (uint32_t i = 0; i < e->nvars; i++) {
    const char *v = e->strs.data + e->vars[i];
    if (strlen(v) == n && memcmp(v, name, n) == 0)
      return;
  }
  if (!grow(c, (void **)&e->vars, &c->cap_vars, e->nvars, sizeof *e->vars))
    return;
  uint32_t off = (uint32_t)e->strs.len;
  pf_buf_append(&e->strs, name, n);
  pf_buf_putc(&e->strs, '\0');
  if (e->strs.failed)
    oom(c);
  else
    e->vars[e->nvars++] = off;
}

/* Emits the path text[b..end): name characters and dots, not empty. */
static bool emit_path(compiler *c, size_t b, size_t end) {
  pf_expr *e = c->e;
  const char *s = c->text;
  int plen = (int)(end - b > 200 ? 200 : end - b);
  uint32_t seg0 = e->nsegs, nsegs = 0;
  for (size_t i = b;; i++) {
    size_t sb = i;
    while (i < end && s[i] != '.')
      i++;
    if (i == sb)
      return fail(c, i, "empty segment in path '%.*s'", plen, s + b);
    seg sg = {(uint32_t)e->strs.len, (uint32_t)(i - sb), true, 0};
    for (size_t k = sb; k < i && sg.numeric; k++) {
      if (!is_digit(s[k]) || sg.index > (SIZE_MAX - 9) / 10)
        sg.numeric = false;
      else
        sg.index = sg.index * 10 + (size_t)(s[k] - '0');
    }
    if (!sg.numeric)
      sg.index = 0;
    pf_buf_append(&e->strs, s + sb, i - sb);
    pf_buf_putc(&e->strs, '\0');
    if (e->strs.failed)
      return oom(c);
    if (!grow(c, (void **)&e->segs, &c->cap_segs, e->nsegs, sizeof *e->segs))
      return false;
    e->segs[e->nsegs++] = sg;
    if (nsegs++ == 0)
      add_var(c, s + sb, i - sb);
    if (i == end)
      break;
  }
  return emit(c, OP_PATH, seg0, nsegs) != UINT32_MAX;
}

static bool is_binary(int kind) { return kind >= T_OR && kind <= T_GE; }
static bool is_equality(int kind) { return kind == T_EQ || kind == T_NE; }
static bool is_ordering(int kind) { return kind >= T_LT && kind <= T_GE; }

static bool parse_or(compiler *c, const token *prev);

/* An operand: a literal, a path or a parenthesized expression. prev is the
 * operator before it (NULL at the start), for messages. */
static bool parse_primary(compiler *c, const token *prev) {
  token t = c->tok;
  uint32_t pc;
  switch (t.kind) {
  case T_LP: {
    if (c->depth == PF_EXPR_MAX_DEPTH)
      return fail(c, t.start, "parentheses nested deeper than %d", PF_EXPR_MAX_DEPTH);
    c->depth++;
    if (!lex(c))
      return false;
    if (c->tok.kind == T_RP)
      return fail(c, t.start, "empty parentheses '()'");
    if (!parse_or(c, &t))
      return false;
    if (c->tok.kind != T_RP) {
      unsigned l, col;
      pf_tmpl_line_col(c->text, t.start, &l, &col);
      if (c->tok.kind == T_EOF)
        return fail(c, c->tok.start, "missing ')' to close the '(' at %u:%u", l, col);
      return fail(c, c->tok.start, "unexpected '%.*s': expected an operator or ')'",
                  tok_width(&c->tok), c->text + c->tok.start);
    }
    c->depth--;
    return lex(c);
  }
  case T_PATH:
    if (!emit_path(c, t.pstart, t.pend))
      return false;
    return lex(c);
  case T_INT:
  case T_UINT:
  case T_REAL:
    pc = emit(c, t.kind == T_INT ? OP_INT : t.kind == T_UINT ? OP_UINT : OP_REAL, 0, 0);
    if (pc == UINT32_MAX)
      return false;
    if (t.kind == T_INT)
      c->e->ops[pc].n.i = t.i;
    else if (t.kind == T_UINT)
      c->e->ops[pc].n.u = t.u;
    else
      c->e->ops[pc].n.d = t.d;
    return lex(c);
  case T_STR: return emit(c, OP_STR, t.off, t.len) != UINT32_MAX && lex(c);
  case T_TRUE:
  case T_FALSE:
  case T_NULL:
    pc = emit(c, t.kind == T_TRUE ? OP_TRUE : t.kind == T_FALSE ? OP_FALSE : OP_NULL, 0, 0);
    return pc != UINT32_MAX && lex(c);
  default: break;
  }
  if (prev)
    return fail(c, t.start, "expected an operand after '%.*s'", tok_width(prev),
                c->text + prev->start);
  if (t.kind == T_EOF)
    return fail(c, t.start, "empty expression");
  if (is_binary(t.kind))
    return fail(c, t.start, "expected an operand before '%.*s'", tok_width(&t), c->text + t.start);
  return fail(c, t.start, "unexpected '%.*s'", tok_width(&t), c->text + t.start);
}

/* Any number of ! / not, then an operand. The negations are counted, not
 * recursed on. */
static bool parse_unary(compiler *c, const token *prev) {
  uint32_t nots = 0;
  token last = c->tok;
  while (c->tok.kind == T_NOT) {
    last = c->tok;
    prev = &last;
    nots++;
    if (!lex(c))
      return false;
  }
  if (!parse_primary(c, prev))
    return false;
  if (nots && emit(c, nots % 2 ? OP_NOT : OP_BOOL, 0, 0) == UINT32_MAX)
    return false;
  return true;
}

static const uint32_t cmp_ops[] = {
    [T_EQ] = OP_EQ, [T_NE] = OP_NE, [T_LT] = OP_LT, [T_LE] = OP_LE, [T_GT] = OP_GT, [T_GE] = OP_GE};

static bool no_chain(compiler *c, bool (*same_level)(int)) {
  if (!same_level(c->tok.kind))
    return true;
  return fail(c, c->tok.start,
              "comparisons do not chain: '%.*s' after a comparison (use '&&' between two "
              "comparisons, or parentheses)",
              tok_width(&c->tok), c->text + c->tok.start);
}

static bool parse_ordering(compiler *c, const token *prev) {
  if (!parse_unary(c, prev))
    return false;
  if (!is_ordering(c->tok.kind))
    return true;
  token t = c->tok;
  return lex(c) && parse_unary(c, &t) && emit(c, cmp_ops[t.kind], 0, 0) != UINT32_MAX &&
         no_chain(c, is_ordering);
}

static bool parse_equality(compiler *c, const token *prev) {
  if (!parse_ordering(c, prev))
    return false;
  if (!is_equality(c->tok.kind))
    return true;
  token t = c->tok;
  return lex(c) && parse_ordering(c, &t) && emit(c, cmp_ops[t.kind], 0, 0) != UINT32_MAX &&
         no_chain(c, is_equality);
}

/* One level of && or ||: left (JUMP right BOOL)*, each jump landing after
 * its BOOL with the short-circuit verdict on the stack. */
static bool parse_logic(compiler *c, const token *prev, int tok_kind, uint32_t jump,
                        bool (*operand)(compiler *, const token *)) {
  if (!operand(c, prev))
    return false;
  while (c->tok.kind == tok_kind) {
    token t = c->tok;
    uint32_t pc = emit(c, jump, 0, 0);
    if (pc == UINT32_MAX || !lex(c) || !operand(c, &t) || emit(c, OP_BOOL, 0, 0) == UINT32_MAX)
      return false;
    c->e->ops[pc].a = c->e->nops;
  }
  return true;
}

static bool parse_and(compiler *c, const token *prev) {
  return parse_logic(c, prev, T_AND, OP_JF, parse_equality);
}

static bool parse_or(compiler *c, const token *prev) {
  return parse_logic(c, prev, T_OR, OP_JT, parse_and);
}

static void compile_all(compiler *c) {
  if (!lex(c) || !parse_or(c, NULL))
    return;
  if (c->tok.kind == T_RP) {
    fail(c, c->tok.start, "unexpected ')'");
  } else if (c->tok.kind != T_EOF) {
    fail(c, c->tok.start, "unexpected '%.*s': expected an operator or the end", tok_width(&c->tok),
         c->text + c->tok.start);
  } else {
    assert(c->sp == 1 && c->max_sp <= EVAL_STACK);
    if (c->max_sp > EVAL_STACK)
      fail(c, 0, "expression too complex");
  }
}

pf_expr *pf_expr_compile(const char *text, size_t len, pf_tmpl_diag *diag) {
  compiler c;
  memset(&c, 0, sizeof c);
  c.text = text ? text : "";
  c.len = text ? len : 0;
  c.diag = diag;
  if (c.len > PF_EXPR_MAX_LEN) {
    fail(&c, PF_EXPR_MAX_LEN, "expression longer than %d bytes", PF_EXPR_MAX_LEN);
    return NULL;
  }
  c.e = pf__malloc(sizeof *c.e);
  if (!c.e) {
    oom(&c);
    return NULL;
  }
  memset(c.e, 0, sizeof *c.e);
  compile_all(&c);
  if (c.failed) {
    pf_expr_free(c.e);
    return NULL;
  }
  return c.e;
}

void pf_expr_free(pf_expr *e) {
  if (!e)
    return;
  pf__free(e->ops);
  pf__free(e->segs);
  pf__free(e->vars);
  pf_buf_free(&e->strs);
  pf__free(e);
}

size_t pf_expr_nvars(const pf_expr *e) { return e ? e->nvars : 0; }

const char *pf_expr_var(const pf_expr *e, size_t i) {
  return e && i < e->nvars ? e->strs.data + e->vars[i] : NULL;
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */

enum val_kind { V_NULL, V_BOOL, V_INT, V_UINT, V_REAL, V_STR, V_ARRAY, V_OBJECT };

typedef struct val {
  uint32_t kind;
  uint32_t len; /* V_STR */
  union {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
    const char *s;
    const pf_json *j;
  } x;
} val;

static val from_json(const pf_json *j) {
  val v = {V_NULL, 0, {0}};
  size_t n;
  switch (pf_json_typeof(j)) {
  case PF_JSON_BOOL:
    v.kind = V_BOOL;
    v.x.b = pf_json_bool_or(j, false);
    break;
  case PF_JSON_INT:
    v.kind = V_INT;
    v.x.i = pf_json_int_or(j, 0);
    break;
  case PF_JSON_UINT:
    v.kind = V_UINT;
    v.x.u = pf_json_uint_or(j, 0);
    break;
  case PF_JSON_REAL:
    v.kind = V_REAL;
    v.x.d = pf_json_num_or(j, 0.0);
    break;
  case PF_JSON_STRING:
    v.kind = V_STR;
    v.x.s = pf_json_str(j, &n);
    v.len = (uint32_t)n; /* JSON strings are below 4 GiB */
    break;
  case PF_JSON_ARRAY:
  case PF_JSON_OBJECT:
    v.kind = pf_json_typeof(j) == PF_JSON_ARRAY ? V_ARRAY : V_OBJECT;
    v.x.j = j;
    break;
  default: break; /* null, missing */
  }
  return v;
}

static const pf_json *resolve(const pf_expr *e, const op *o, const pf_tmpl_ctx *ctx) {
  if (!ctx)
    return NULL;
  const seg *sg = &e->segs[o->a];
  const char *name = e->strs.data + sg->off;
  const pf_json *j = ctx->values ? pf_json_getn(ctx->values, name, sg->len) : NULL;
  if (!j && ctx->lookup)
    j = ctx->lookup(ctx->ud, name, sg->len);
  for (uint32_t k = 1; k < o->b && j; k++) {
    sg++;
    switch (pf_json_typeof(j)) {
    case PF_JSON_OBJECT: j = pf_json_getn(j, e->strs.data + sg->off, sg->len); break;
    case PF_JSON_ARRAY: j = sg->numeric ? pf_json_at(j, sg->index) : NULL; break;
    default: j = NULL;
    }
  }
  return j;
}

static bool truthy(const val *v) {
  switch (v->kind) {
  case V_BOOL: return v->x.b;
  case V_INT: return v->x.i != 0;
  case V_UINT: return true; /* above INT64_MAX */
  case V_REAL: return v->x.d != 0.0;
  case V_STR: return v->len != 0;
  case V_ARRAY:
  case V_OBJECT: return pf_json_len(v->x.j) != 0;
  default: return false;
  }
}

static bool is_num(const val *v) {
  return v->kind == V_INT || v->kind == V_UINT || v->kind == V_REAL;
}

/* -1, 0 or 1 as i is below, equal to or above d; 2 when d is NaN. Exact:
 * neither side is rounded. */
static int cmp_i64_real(int64_t i, double d) {
  if (d != d)
    return 2;
  if (d >= 9223372036854775808.0)
    return -1;
  if (d < -9223372036854775808.0)
    return 1;
  int64_t t = (int64_t)d; /* d truncated: exact in this range */
  if (i != t)
    return i < t ? -1 : 1;
  double td = (double)t;
  return d > td ? -1 : d < td ? 1 : 0;
}

/* Same for u above INT64_MAX. */
static int cmp_u64_real(uint64_t u, double d) {
  if (d != d)
    return 2;
  if (d >= 18446744073709551616.0)
    return -1;
  if (d < 9223372036854775808.0)
    return 1;
  uint64_t t = (uint64_t)d; /* integral at this magnitude */
  return u < t ? -1 : u > t ? 1 : 0;
}

/* Both numbers: -1, 0, 1, or 2 when unordered. */
static int cmp_num(const val *a, const val *b) {
  int sign = 1;
  if (a->kind == V_REAL && b->kind != V_REAL) {
    const val *t = a;
    a = b;
    b = t;
    sign = -1;
  }
  int r;
  if (a->kind == V_REAL)
    r = a->x.d < b->x.d ? -1 : a->x.d > b->x.d ? 1 : a->x.d == b->x.d ? 0 : 2;
  else if (b->kind == V_REAL)
    r = a->kind == V_INT ? cmp_i64_real(a->x.i, b->x.d) : cmp_u64_real(a->x.u, b->x.d);
  else if (a->kind != b->kind)
    r = a->kind == V_INT ? -1 : 1; /* every INT is below every UINT */
  else if (a->kind == V_INT)
    r = a->x.i < b->x.i ? -1 : a->x.i > b->x.i ? 1 : 0;
  else
    r = a->x.u < b->x.u ? -1 : a->x.u > b->x.u ? 1 : 0;
  return r == 2 ? 2 : sign * r;
}

static int cmp_str(const val *a, const val *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int r = n ? memcmp(a->x.s, b->x.s, n) : 0;
  if (r)
    return r < 0 ? -1 : 1;
  return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

static bool equal(const val *a, const val *b) {
  if (is_num(a) && is_num(b))
    return cmp_num(a, b) == 0;
  if (a->kind != b->kind)
    return false;
  switch (a->kind) {
  case V_NULL: return true;
  case V_BOOL: return a->x.b == b->x.b;
  case V_STR: return cmp_str(a, b) == 0;
  default: return pf_json_equal(a->x.j, b->x.j);
  }
}

/* a <op> b for an ordering op; false for types that do not order. */
static bool order(const val *a, const val *b, uint32_t kind) {
  int r;
  if (is_num(a) && is_num(b))
    r = cmp_num(a, b);
  else if (a->kind == V_STR && b->kind == V_STR)
    r = cmp_str(a, b);
  else
    return false;
  switch (kind) {
  case OP_LT: return r == -1;
  case OP_LE: return r == -1 || r == 0;
  case OP_GT: return r == 1;
  default: return r == 1 || r == 0;
  }
}

static val vbool(bool b) {
  val v = {V_BOOL, 0, {0}};
  v.x.b = b;
  return v;
}

bool pf_expr_eval(const pf_expr *e, const pf_tmpl_ctx *ctx) {
  if (!e)
    return false;
  val st[EVAL_STACK];
  size_t sp = 0;
  uint32_t pc = 0;
  while (pc < e->nops) {
    const op *o = &e->ops[pc++];
    val *top = sp ? &st[sp - 1] : NULL;
    switch (o->kind) {
    case OP_NULL: st[sp++] = (val){V_NULL, 0, {0}}; break;
    case OP_TRUE: st[sp++] = vbool(true); break;
    case OP_FALSE: st[sp++] = vbool(false); break;
    case OP_INT:
      st[sp] = (val){V_INT, 0, {0}};
      st[sp++].x.i = o->n.i;
      break;
    case OP_UINT:
      st[sp] = (val){V_UINT, 0, {0}};
      st[sp++].x.u = o->n.u;
      break;
    case OP_REAL:
      st[sp] = (val){V_REAL, 0, {0}};
      st[sp++].x.d = o->n.d;
      break;
    case OP_STR:
      st[sp] = (val){V_STR, o->b, {0}};
      /* an expression whose only string is '' has no string bytes */
      st[sp++].x.s = e->strs.data ? e->strs.data + o->a : "";
      break;
    case OP_PATH: st[sp++] = from_json(resolve(e, o, ctx)); break;
    case OP_NOT: *top = vbool(!truthy(top)); break;
    case OP_BOOL: *top = vbool(truthy(top)); break;
    case OP_EQ:
    case OP_NE: {
      bool eq = equal(&st[sp - 2], top);
      st[sp - 2] = vbool(eq == (o->kind == OP_EQ));
      sp--;
      break;
    }
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
      st[sp - 2] = vbool(order(&st[sp - 2], top, o->kind));
      sp--;
      break;
    case OP_JF:
    case OP_JT: {
      bool t = truthy(top);
      if (t == (o->kind == OP_JT)) {
        *top = vbool(t);
        pc = o->a;
      } else {
        sp--;
      }
      break;
    }
    }
  }
  return sp ? truthy(&st[sp - 1]) : false;
}

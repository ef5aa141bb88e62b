#include "schema/validator.h"

#include "schema/pcre2_dl.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pforge/arena.h>
#include <pforge/error.h>

#include "base/alloc.h"
#include "base/round.h"
#include "json/internal.h"

/* Every PCRE2 call goes through the table pf__pcre2_load() fills (the
 * library is loaded by the first pattern; see schema/pcre2_dl.h). */
#define PF__PCRE2_VIA_TABLE(f) pf__pcre2.f
#define pcre2_code_free_8 PF__PCRE2_VIA_TABLE(pcre2_code_free_8)
#define pcre2_compile_8 PF__PCRE2_VIA_TABLE(pcre2_compile_8)
#define pcre2_compile_context_create_8 PF__PCRE2_VIA_TABLE(pcre2_compile_context_create_8)
#define pcre2_compile_context_free_8 PF__PCRE2_VIA_TABLE(pcre2_compile_context_free_8)
#define pcre2_general_context_create_8 PF__PCRE2_VIA_TABLE(pcre2_general_context_create_8)
#define pcre2_general_context_free_8 PF__PCRE2_VIA_TABLE(pcre2_general_context_free_8)
#define pcre2_get_error_message_8 PF__PCRE2_VIA_TABLE(pcre2_get_error_message_8)
#define pcre2_jit_compile_8 PF__PCRE2_VIA_TABLE(pcre2_jit_compile_8)
#define pcre2_match_8 PF__PCRE2_VIA_TABLE(pcre2_match_8)
#define pcre2_match_data_create_8 PF__PCRE2_VIA_TABLE(pcre2_match_data_create_8)
#define pcre2_match_data_free_8 PF__PCRE2_VIA_TABLE(pcre2_match_data_free_8)

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------------ */
/* The compiled form                                                   */

/* Value type bits. "number" sets both T_NUM and T_INT, so an integral
 * value (an INT, or a REAL like 2.0) is classified T_INT and accepted by
 * either name. */
enum {
  T_NULL = 1u << 0,
  T_BOOL = 1u << 1,
  T_INT = 1u << 2,
  T_NUM = 1u << 3,
  T_STR = 1u << 4,
  T_ARR = 1u << 5,
  T_OBJ = 1u << 6,
};

/* Which optional keywords a node has; tested before reading the field. */
enum {
  F_FALSE = 1u << 0, /* the `false` schema */
  F_MIN = 1u << 1,
  F_MAX = 1u << 2,
  F_XMIN = 1u << 3,
  F_XMAX = 1u << 4,
  F_MULT = 1u << 5,
  F_UNIQUE = 1u << 6,
  F_NUMERIC = F_MIN | F_MAX | F_XMIN | F_XMAX | F_MULT,
  F_PRE = 1u << 7,      /* $ref, const or enum */
  F_POST = 1u << 8,     /* allOf, anyOf, oneOf, not or if */
  F_TYPEONLY = 1u << 9, /* nothing to check but `type` (set once compiled) */
  F_FLATOBJ = 1u << 10, /* up to 8 properties, each a bare `type`, and `required` */
};

typedef struct vnode vnode;

/* A properties entry, or a name that is only `required`. */
typedef struct vprop {
  const char *name;
  uint32_t len, hash;
  int32_t req;   /* index in the node's required list, or -1 */
  vnode *schema; /* NULL: only required, not declared in properties */
} vprop;

typedef struct vpattern {
  pcre2_code *re;
  const char *src;
  size_t len;
} vpattern;

typedef struct vpatprop {
  vpattern pat;
  vnode *schema;
} vpatprop;

#define NO_LIMIT (-1)

struct vnode {
  uint32_t flags;
  uint32_t types;        /* T_* mask; 0 when there is no `type` */
  uint8_t type_order[8]; /* declared type names (T_* bit index), for messages */
  uint8_t ntypes;

  const pf_json *enum_v, *const_v, *def;

  double minimum, maximum, xminimum, xmaximum, multiple;

  int64_t min_len, max_len; /* strings, code points */
  vpattern *pattern;

  int64_t min_items, max_items;
  vnode *items;
  vnode **prefix;
  uint32_t nprefix;
  vnode *contains;
  int64_t min_contains, max_contains;

  vprop *props; /* declared properties first, then required-only names */
  uint32_t nprops, nrequired;
  uint32_t *table; /* open addressing: prop index + 1, 0 empty */
  uint32_t tmask;
  const pf_json *required; /* the array, for names beyond the 64-bit mask */
  vnode *additional;       /* NULL: anything allowed */
  vpatprop *patprops;
  uint32_t npatprops;
  vnode *prop_names;
  int64_t min_props, max_props;

  vnode **all_of, **any_of, **one_of;
  uint32_t nall, nany, none;
  vnode *not_, *if_, *then_, *else_;

  vnode *ref;
};

typedef struct code_cell {
  pcre2_code *re;
  struct code_cell *next;
} code_cell;

struct pf_validator {
  pf_arena *arena; /* the schema text, its parse, every node */
  bool own_arena;  /* false: the caller's (pf_validator_compile_in) */
  unsigned refs;   /* pf_validator_ref */
  vnode *root;
  pcre2_general_context *gctx;
  pcre2_compile_context *cctx;
  pcre2_match_data *md;
  atomic_flag md_busy;
  code_cell *codes;
  const pf_json *empty; /* {}: what a call without arguments is checked as */
  bool by_layout;       /* pf_validator_by_layout() */
};

static const char *const type_names[] = {"null",   "boolean", "integer", "number",
                                         "string", "array",   "object"};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static uint32_t hash_bytes(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static void *pcre_malloc(size_t n, void *ud) {
  (void)ud;
  return pf__malloc(n);
}
static void pcre_free(void *p, void *ud) {
  (void)ud;
  pf__free(p);
}

/* A path to the current place (in the schema while compiling, in the value
 * while checking), as a chain of stack frames: rendered only for a message,
 * so a passing check costs nothing for it. */
typedef struct vpath {
  const struct vpath *up;
  const char *key; /* NULL: an array index */
  size_t len;      /* key length, or the index */
} vpath;

static void put_pointer(pf_buf *b, const vpath *p) {
  if (!p)
    return;
  put_pointer(b, p->up);
  pf_buf_putc(b, '/');
  if (!p->key) {
    pf_buf_printf(b, "%zu", p->len);
    return;
  }
  for (size_t i = 0; i < p->len; i++) {
    if (p->key[i] == '~')
      pf_buf_append(b, "~0", 2);
    else if (p->key[i] == '/')
      pf_buf_append(b, "~1", 2);
    else
      pf_buf_putc(b, p->key[i]);
  }
}

/* "opts.depth", "tags[2]", "items[0].name" */
static void put_argpath(pf_buf *b, const vpath *p) {
  if (!p)
    return;
  put_argpath(b, p->up);
  if (!p->key) {
    pf_buf_printf(b, "[%zu]", p->len);
    return;
  }
  if (p->up)
    pf_buf_putc(b, '.');
  pf_buf_append(b, p->key, p->len);
}

/* ------------------------------------------------------------------ */
/* Compiling                                                           */

typedef struct pending_ref {
  vnode *node;
  const char *ref;
  size_t len;
  struct pending_ref *next;
} pending_ref;

typedef struct ref_memo {
  const pf_json *target;
  vnode *node;
  struct ref_memo *next;
} ref_memo;

typedef struct cctx {
  pf_validator *v;
  const pf_json *doc;
  pf_buf *err;
  pending_ref *pending;
  ref_memo *memo;
  /* While compiling a $ref target: its pointer ("/$defs/a"), which locates
   * errors in it. */
  const char *base;
  size_t baselen;
} cctx;

static int cfail(cctx *c, const vpath *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfail(cctx *c, const vpath *p, const char *fmt, ...) {
  if (c->err) {
    pf_buf_puts(c->err, "schema ");
    pf_buf_append(c->err, c->base, c->baselen);
    if (p)
      put_pointer(c->err, p);
    else if (!c->baselen)
      pf_buf_putc(c->err, '/');
    pf_buf_append(c->err, ": ", 2);
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    pf_buf_puts(c->err, tmp);
  }
  return -PF_EINVAL;
}

static int oom(cctx *c) {
  if (c->err)
    pf_buf_puts(c->err, "out of memory");
  return -PF_ENOMEM;
}

static int compile_node(cctx *c, const pf_json *s, const vpath *p, vnode **out);

static int get_number(cctx *c, const pf_json *j, const vpath *p, double *out) {
  if (!pf_json_is_number_type(pf_json_typeof(j)))
    return cfail(c, p, "expected a number, got %s", pf_json_type_name(pf_json_typeof(j)));
  *out = pf_json_num_or(j, 0);
  return 0;
}

static int get_count(cctx *c, const pf_json *j, const vpath *p, int64_t *out) {
  int64_t x = pf_json_int_or(j, -1);
  if (!pf_json_is_number_type(pf_json_typeof(j)) || x < 0 || pf_json_num_or(j, 0) != (double)x)
    return cfail(c, p, "expected a non-negative integer");
  *out = x;
  return 0;
}

static int compile_pattern(cctx *c, const pf_json *j, const vpath *p, vpattern **out) {
  size_t len;
  const char *src = pf_json_str(j, &len);
  if (!src)
    return cfail(c, p, "expected a string (a regular expression), got %s",
                 pf_json_type_name(pf_json_typeof(j)));
  pf_validator *v = c->v;
  if (!v->md) {
    if (!v->gctx) {
      pf_buf why = PF_BUF_INIT;
      int rc = pf__pcre2_load(&why);
      if (rc) {
        rc = cfail(c, p, "%s", pf_buf_cstr(&why));
        pf_buf_free(&why);
        return rc;
      }
    }
    if (!v->gctx)
      v->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, NULL);
    if (v->gctx && !v->cctx)
      v->cctx = pcre2_compile_context_create(v->gctx);
    if (v->cctx)
      v->md = pcre2_match_data_create(1, v->gctx);
    if (!v->md)
      return oom(c);
  }
  int ecode;
  PCRE2_SIZE eoff;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, len, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &ecode,
                                 &eoff, v->cctx);
  if (!re) {
    PCRE2_UCHAR emsg[256];
    if (pcre2_get_error_message(ecode, emsg, sizeof emsg) < 0)
      strcpy((char *)emsg, "unknown error");
    if (ecode == PCRE2_ERROR_NOMEMORY)
      return oom(c);
    return cfail(c, p, "invalid regular expression \"%.*s\" at offset %zu: %s",
                 (int)(len > 200 ? 200 : len), src, (size_t)eoff, (const char *)emsg);
  }
  code_cell *cell = pf_arena_alloc(c->v->arena, sizeof *cell);
  if (!cell) {
    pcre2_code_free(re);
    return oom(c);
  }
  cell->re = re;
  cell->next = c->v->codes;
  c->v->codes = cell;
  /* Without JIT support the interpreter still works: not an error. */
  (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  vpattern *vp = pf_arena_alloc(c->v->arena, sizeof *vp);
  if (!vp)
    return oom(c);
  vp->re = re;
  vp->src = src;
  vp->len = len;
  *out = vp;
  return 0;
}

/* An array of schemas (allOf, anyOf, oneOf, prefixItems). */
static int compile_list(cctx *c, const pf_json *j, const vpath *p, vnode ***out, uint32_t *n,
                        bool allow_empty) {
  size_t count = pf_json_len(j);
  if (pf_json_typeof(j) != PF_JSON_ARRAY || (count == 0 && !allow_empty))
    return cfail(c, p, "expected a non-empty array of schemas");
  vnode **list = pf_arena_calloc(c->v->arena, count ? count : 1, sizeof *list);
  if (!list)
    return oom(c);
  pf_json_iter it = pf_json_iter_init(j);
  const pf_json *e;
  size_t i = 0;
  while (pf_json_iter_next(&it, NULL, &e)) {
    vpath ep = {p, NULL, i};
    int rc = compile_node(c, e, &ep, &list[i++]);
    if (rc)
      return rc;
  }
  *out = list;
  *n = (uint32_t)count;
  return 0;
}

static int compile_type(cctx *c, vnode *n, const pf_json *j, const vpath *p) {
  const pf_json *one = j;
  pf_json_iter it = pf_json_iter_init(j);
  bool array = pf_json_typeof(j) == PF_JSON_ARRAY;
  if (array && pf_json_len(j) == 0)
    return cfail(c, p, "expected a type name or a non-empty array of type names");
  for (;;) {
    if (array && !pf_json_iter_next(&it, NULL, &one))
      break;
    size_t len;
    const char *name = pf_json_str(one, &len);
    if (!name)
      return cfail(c, p, "expected a type name or an array of type names");
    size_t t = 0;
    while (t < 7 && !(strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0))
      t++;
    if (t == 7)
      return cfail(c, p,
                   "unknown type \"%.*s\" (expected null, boolean, integer, number, string, "
                   "array or object)",
                   (int)(len > 64 ? 64 : len), name);
    uint32_t bits = 1u << t;
    if (bits == T_NUM)
      bits |= T_INT;
    n->types |= bits;
    if (n->ntypes < sizeof n->type_order)
      n->type_order[n->ntypes++] = (uint8_t)t;
    if (!array)
      break;
  }
  return 0;
}

/* Keyword table. Each handler checks the keyword's JSON type and stores the
 * compiled form; the names are compared here, once, never while checking. */
/* Raw keyword values gathered while scanning one schema object, finished
 * once all of its keywords are known (required needs properties). */
typedef struct kwctx {
  const pf_json *properties, *required, *pattern_props;
} kwctx;

typedef int (*kw_fn)(cctx *c, vnode *n, kwctx *k, const pf_json *j, const vpath *p);

#define KW(name) static int kw_##name(cctx *c, vnode *n, kwctx *k, const pf_json *j, const vpath *p)

KW(type) {
  (void)k;
  return compile_type(c, n, j, p);
}
KW(enum) {
  (void)k;
  if (pf_json_typeof(j) != PF_JSON_ARRAY)
    return cfail(c, p, "expected an array of values");
  n->enum_v = j;
  return 0;
}
KW(const) {
  (void)c, (void)k, (void)p;
  n->const_v = j;
  return 0;
}
KW(default) {
  (void)c, (void)k, (void)p;
  n->def = j;
  return 0;
}
KW(minimum) {
  (void)k;
  n->flags |= F_MIN;
  return get_number(c, j, p, &n->minimum);
}
KW(maximum) {
  (void)k;
  n->flags |= F_MAX;
  return get_number(c, j, p, &n->maximum);
}
KW(exclusiveMinimum) {
  (void)k;
  n->flags |= F_XMIN;
  return get_number(c, j, p, &n->xminimum);
}
KW(exclusiveMaximum) {
  (void)k;
  n->flags |= F_XMAX;
  return get_number(c, j, p, &n->xmaximum);
}
KW(multipleOf) {
  (void)k;
  n->flags |= F_MULT;
  int rc = get_number(c, j, p, &n->multiple);
  if (!rc && !(n->multiple > 0))
    return cfail(c, p, "expected a number greater than 0");
  return rc;
}
KW(minLength) {
  (void)k;
  return get_count(c, j, p, &n->min_len);
}
KW(maxLength) {
  (void)k;
  return get_count(c, j, p, &n->max_len);
}
KW(pattern) {
  (void)k;
  return compile_pattern(c, j, p, &n->pattern);
}
KW(minItems) {
  (void)k;
  return get_count(c, j, p, &n->min_items);
}
KW(maxItems) {
  (void)k;
  return get_count(c, j, p, &n->max_items);
}
KW(uniqueItems) {
  (void)k;
  if (pf_json_typeof(j) != PF_JSON_BOOL)
    return cfail(c, p, "expected a boolean");
  if (pf_json_bool_or(j, false))
    n->flags |= F_UNIQUE;
  return 0;
}
KW(items) {
  (void)k;
  return compile_node(c, j, p, &n->items);
}
KW(prefixItems) {
  (void)k;
  return compile_list(c, j, p, &n->prefix, &n->nprefix, true);
}
KW(contains) {
  (void)k;
  return compile_node(c, j, p, &n->contains);
}
KW(minContains) {
  (void)k;
  return get_count(c, j, p, &n->min_contains);
}
KW(maxContains) {
  (void)k;
  return get_count(c, j, p, &n->max_contains);
}
KW(properties) {
  (void)n;
  if (pf_json_typeof(j) != PF_JSON_OBJECT)
    return cfail(c, p, "expected an object of schemas");
  k->properties = j;
  return 0;
}
KW(required) {
  (void)n;
  if (pf_json_typeof(j) != PF_JSON_ARRAY)
    return cfail(c, p, "expected an array of property names");
  pf_json_iter it = pf_json_iter_init(j);
  const pf_json *e;
  while (pf_json_iter_next(&it, NULL, &e))
    if (pf_json_typeof(e) != PF_JSON_STRING)
      return cfail(c, p, "expected an array of property names (strings)");
  k->required = j;
  return 0;
}
KW(additionalProperties) {
  (void)k;
  return compile_node(c, j, p, &n->additional);
}
KW(patternProperties) {
  (void)n;
  if (pf_json_typeof(j) != PF_JSON_OBJECT)
    return cfail(c, p, "expected an object of schemas");
  k->pattern_props = j;
  return 0;
}
KW(propertyNames) {
  (void)k;
  return compile_node(c, j, p, &n->prop_names);
}
KW(minProperties) {
  (void)k;
  return get_count(c, j, p, &n->min_props);
}
KW(maxProperties) {
  (void)k;
  return get_count(c, j, p, &n->max_props);
}
KW(allOf) {
  (void)k;
  return compile_list(c, j, p, &n->all_of, &n->nall, false);
}
KW(anyOf) {
  (void)k;
  return compile_list(c, j, p, &n->any_of, &n->nany, false);
}
KW(oneOf) {
  (void)k;
  return compile_list(c, j, p, &n->one_of, &n->none, false);
}
KW(not ) {
  (void)k;
  return compile_node(c, j, p, &n->not_);
}
KW(if) {
  (void)k;
  return compile_node(c, j, p, &n->if_);
}
KW(then) {
  (void)k;
  return compile_node(c, j, p, &n->then_);
}
KW(else) {
  (void)k;
  return compile_node(c, j, p, &n->else_);
}
KW(ref) {
  (void)k;
  size_t len;
  const char *ref = pf_json_str(j, &len);
  if (!ref)
    return cfail(c, p, "expected a string");
  if (len == 0 || ref[0] != '#' || (len > 1 && ref[1] != '/'))
    return cfail(c, p,
                 "unsupported $ref \"%.*s\": only references inside this schema "
                 "(\"#\" or \"#/$defs/name\") are supported",
                 (int)(len > 200 ? 200 : len), ref);
  pending_ref *pr = pf_arena_alloc(c->v->arena, sizeof *pr);
  if (!pr)
    return oom(c);
  *pr = (pending_ref){n, ref, len, c->pending};
  c->pending = pr;
  n->flags |= F_PRE;
  return 0;
}
/* Sub-schemas that are only reachable through $ref are still checked for
 * well-formedness at load, so a typo in an unused definition is found. */
KW(defs) {
  (void)n, (void)k;
  if (pf_json_typeof(j) != PF_JSON_OBJECT)
    return cfail(c, p, "expected an object of schemas");
  pf_json_iter it = pf_json_iter_init(j);
  const pf_json *key, *val;
  while (pf_json_iter_next(&it, &key, &val)) {
    size_t klen;
    const char *kname = pf_json_str(key, &klen);
    vpath kp = {p, kname, klen};
    vnode *ignored;
    int rc = compile_node(c, val, &kp, &ignored);
    if (rc)
      return rc;
  }
  return 0;
}

typedef struct keyword {
  const char *name;
  uint8_t len;
  kw_fn fn;
} keyword;

#define K(s, f)                                                                                    \
  { s, sizeof(s) - 1, kw_##f }
static const keyword keywords[] = {
    K("type", type),
    K("properties", properties),
    K("required", required),
    K("additionalProperties", additionalProperties),
    K("enum", enum),
    K("const", const),
    K("default", default),
    K("minimum", minimum),
    K("maximum", maximum),
    K("exclusiveMinimum", exclusiveMinimum),
    K("exclusiveMaximum", exclusiveMaximum),
    K("multipleOf", multipleOf),
    K("minLength", minLength),
    K("maxLength", maxLength),
    K("pattern", pattern),
    K("items", items),
    K("prefixItems", prefixItems),
    K("minItems", minItems),
    K("maxItems", maxItems),
    K("uniqueItems", uniqueItems),
    K("contains", contains),
    K("minContains", minContains),
    K("maxContains", maxContains),
    K("patternProperties", patternProperties),
    K("propertyNames", propertyNames),
    K("minProperties", minProperties),
    K("maxProperties", maxProperties),
    K("allOf", allOf),
    K("anyOf", anyOf),
    K("oneOf", oneOf),
    K("not", not ),
    K("if", if),
    K("then", then),
    K("else", else),
    K("$ref", ref),
    K("$defs", defs),
    K("definitions", defs),
};
#undef K

static const keyword *find_keyword(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if (keywords[i].len == len && memcmp(keywords[i].name, name, len) == 0)
      return &keywords[i];
  return NULL;
}

static vprop *prop_lookup(const vnode *n, const char *name, size_t len, uint32_t h) {
  if (!n->table)
    return NULL;
  for (uint32_t i = h & n->tmask;; i = (i + 1) & n->tmask) {
    uint32_t slot = n->table[i];
    if (!slot)
      return NULL;
    vprop *pr = &n->props[slot - 1];
    if (pr->hash == h && pr->len == len && memcmp(pr->name, name, len) == 0)
      return pr;
  }
}

/* prop_lookup() for an argument name: a short scan when there are few
 * properties (no hash to compute), the table otherwise. */
static inline vprop *prop_find(const vnode *n, const char *name, size_t len) {
  if (n->nprops <= 8) {
    for (uint32_t i = 0; i < n->nprops; i++) {
      vprop *pr = &n->props[i];
      if (pr->len == len && pf__bytes_eq(pr->name, name, len))
        return pr;
    }
    return NULL;
  }
  return prop_lookup(n, name, len, hash_bytes(name, len));
}

static void prop_insert(vnode *n, uint32_t idx) {
  uint32_t i = n->props[idx].hash & n->tmask;
  while (n->table[i])
    i = (i + 1) & n->tmask;
  n->table[i] = idx + 1;
}

/* properties + required -> one hashed table. */
static int finish_object(cctx *c, vnode *n, const kwctx *k, const vpath *p) {
  size_t nprops = pf_json_len(k->properties), nreq = pf_json_len(k->required);
  if (nprops + nreq == 0)
    return 0;
  if (nprops + nreq > UINT32_MAX / 4)
    return cfail(c, p, "too many properties");
  n->props = pf_arena_calloc(c->v->arena, nprops + nreq, sizeof *n->props);
  uint32_t size = 4;
  while (size < 2 * (nprops + nreq))
    size *= 2;
  n->table = pf_arena_calloc(c->v->arena, size, sizeof *n->table);
  if (!n->props || !n->table)
    return oom(c);
  n->tmask = size - 1;

  vpath pp = {p, "properties", 10};
  pf_json_iter it = pf_json_iter_init(k->properties);
  const pf_json *key, *val;
  while (pf_json_iter_next(&it, &key, &val)) {
    size_t len;
    const char *name = pf_json_str(key, &len);
    vpath kp = {&pp, name, len};
    uint32_t h = hash_bytes(name, len);
    if (prop_lookup(n, name, len, h))
      continue; /* duplicate key (only with PF_JSON_DUP_ALLOW): first wins */
    vprop *pr = &n->props[n->nprops];
    *pr = (vprop){name, (uint32_t)len, h, -1, NULL};
    int rc = compile_node(c, val, &kp, &pr->schema);
    if (rc)
      return rc;
    prop_insert(n, n->nprops++);
  }
  it = pf_json_iter_init(k->required);
  while (pf_json_iter_next(&it, NULL, &val)) {
    size_t len;
    const char *name = pf_json_str(val, &len);
    uint32_t h = hash_bytes(name, len);
    vprop *pr = prop_lookup(n, name, len, h);
    if (pr && pr->req >= 0)
      continue; /* listed twice */
    if (!pr) {
      pr = &n->props[n->nprops];
      *pr = (vprop){name, (uint32_t)len, h, -1, NULL};
      prop_insert(n, n->nprops++);
    }
    pr->req = (int32_t)n->nrequired++;
  }
  n->required = k->required;
  return 0;
}

static int finish_pattern_props(cctx *c, vnode *n, const kwctx *k, const vpath *p) {
  size_t count = pf_json_len(k->pattern_props);
  if (!count)
    return 0;
  n->patprops = pf_arena_calloc(c->v->arena, count, sizeof *n->patprops);
  if (!n->patprops)
    return oom(c);
  vpath pp = {p, "patternProperties", 17};
  pf_json_iter it = pf_json_iter_init(k->pattern_props);
  const pf_json *key, *val;
  while (pf_json_iter_next(&it, &key, &val)) {
    size_t len;
    const char *name = pf_json_str(key, &len);
    vpath kp = {&pp, name, len};
    vpattern *vp;
    int rc = compile_pattern(c, key, &kp, &vp);
    if (!rc)
      rc = compile_node(c, val, &kp, &n->patprops[n->npatprops].schema);
    if (rc)
      return rc;
    n->patprops[n->npatprops++].pat = *vp;
  }
  return 0;
}

/* Flags that let check() skip what a node does not have: most argument
 * schemas are a bare `type`, and most nodes have no combinator. */
static void classify(vnode *n) {
  if (n->const_v || n->enum_v)
    n->flags |= F_PRE;
  if (n->nall || n->nany || n->none || n->not_ || n->if_)
    n->flags |= F_POST;
  /* no keyword beyond `type`, `properties`/`required` and additionalProperties */
  bool plain = !(n->flags & (F_FALSE | F_NUMERIC | F_UNIQUE | F_PRE | F_POST)) &&
               n->min_len < 0 && n->max_len < 0 && !n->pattern && n->min_items < 0 &&
               n->max_items < 0 && !n->items && !n->nprefix && !n->contains && !n->npatprops &&
               !n->prop_names && n->min_props < 0 && n->max_props < 0;
  if (plain && !n->table && !n->additional)
    n->flags |= F_TYPEONLY;
  /* the usual tool arguments: an object of a few typed properties */
  bool flat = plain && n->table && n->nprops <= 8 &&
              (!n->additional || (n->additional->flags & F_FALSE)) &&
              (!n->types || (n->types & T_OBJ));
  for (uint32_t i = 0; flat && i < n->nprops; i++)
    flat = !n->props[i].schema || (n->props[i].schema->flags & F_TYPEONLY);
  if (flat)
    n->flags |= F_FLATOBJ;
}

static int compile_node(cctx *c, const pf_json *s, const vpath *p, vnode **out) {
  vnode *n = pf_arena_calloc(c->v->arena, 1, sizeof *n);
  if (!n)
    return oom(c);
  n->min_len = n->max_len = NO_LIMIT;
  n->min_items = n->max_items = NO_LIMIT;
  n->min_contains = n->max_contains = NO_LIMIT;
  n->min_props = n->max_props = NO_LIMIT;
  *out = n;
  pf_json_type t = pf_json_typeof(s);
  if (t == PF_JSON_BOOL) {
    if (!pf_json_bool_or(s, true))
      n->flags |= F_FALSE;
    classify(n);
    return 0;
  }
  if (t != PF_JSON_OBJECT)
    return cfail(c, p, "expected a schema (an object or a boolean), got %s", pf_json_type_name(t));
  kwctx k = {NULL, NULL, NULL};
  pf_json_iter it = pf_json_iter_init(s);
  const pf_json *key, *val;
  while (pf_json_iter_next(&it, &key, &val)) {
    size_t len;
    const char *name = pf_json_str(key, &len);
    const keyword *kw = find_keyword(name, len);
    if (!kw)
      continue; /* an annotation or an unknown keyword */
    vpath kp = {p, name, len};
    int rc = kw->fn(c, n, &k, val, &kp);
    if (rc)
      return rc;
  }
  int rc = finish_object(c, n, &k, p);
  if (!rc)
    rc = finish_pattern_props(c, n, &k, p);
  if (!rc)
    classify(n);
  return rc;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
    return (ch | 0x20) - 'a' + 10;
  return -1;
}

/* Decodes one JSON pointer token (~0 ~1 and %XX, since it sits in a URI
 * fragment) into out. Returns its length, or -1 if malformed. */
static long pointer_token(const char *s, size_t len, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (ch == '%') {
      int hi = i + 2 < len ? hexval(s[i + 1]) : -1, lo = hi >= 0 ? hexval(s[i + 2]) : -1;
      if (lo < 0)
        return -1;
      ch = (char)(hi * 16 + lo);
      i += 2;
    }
    if (ch == '~') {
      if (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1'))
        return -1;
      ch = s[++i] == '0' ? '~' : '/';
    }
    out[o++] = ch;
  }
  return (long)o;
}

static const pf_json *resolve_pointer(cctx *c, const char *ref, size_t len) {
  const pf_json *cur = c->doc;
  size_t i = 1; /* past '#' */
  char *tok = pf_arena_alloc(c->v->arena, len + 1);
  if (!tok)
    return NULL;
  while (i < len && cur) {
    size_t start = ++i; /* past '/' */
    while (i < len && ref[i] != '/')
      i++;
    long tlen = pointer_token(ref + start, i - start, tok);
    if (tlen < 0)
      return NULL;
    if (pf_json_typeof(cur) == PF_JSON_OBJECT) {
      cur = pf_json_getn(cur, tok, (size_t)tlen);
    } else if (pf_json_typeof(cur) == PF_JSON_ARRAY) {
      size_t idx = 0;
      if (tlen == 0 || (tok[0] == '0' && tlen > 1))
        return NULL;
      for (long d = 0; d < tlen; d++) {
        if (tok[d] < '0' || tok[d] > '9' || idx > SIZE_MAX / 10 - 1)
          return NULL;
        idx = idx * 10 + (size_t)(tok[d] - '0');
      }
      cur = pf_json_at(cur, idx);
    } else {
      return NULL;
    }
  }
  return cur;
}

static int link_refs(cctx *c) {
  while (c->pending) {
    pending_ref *pr = c->pending;
    c->pending = pr->next;
    const pf_json *target = resolve_pointer(c, pr->ref, pr->len);
    if (!target) {
      if (c->err)
        pf_buf_printf(c->err, "schema: $ref \"%.*s\" does not point to anything in the schema",
                      (int)(pr->len > 200 ? 200 : pr->len), pr->ref);
      return -PF_EINVAL;
    }
    ref_memo *m = c->memo;
    while (m && m->target != target)
      m = m->next;
    if (!m) {
      m = pf_arena_alloc(c->v->arena, sizeof *m);
      if (!m)
        return oom(c);
      m->target = target;
      m->next = c->memo;
      c->memo = m;
      c->base = pr->ref + 1;
      c->baselen = pr->len - 1;
      int rc = compile_node(c, target, NULL, &m->node);
      if (rc)
        return rc;
    }
    pr->node->ref = m->node;
  }
  return 0;
}

pf_validator *pf_validator_compile(const char *schema_json, size_t len, pf_buf *err) {
  return pf_validator_compile_in(schema_json, len, NULL, err);
}

pf_validator *pf_validator_ref(pf_validator *v) {
  v->refs++;
  return v;
}

static bool by_layout(const vnode *n);

pf_validator *pf_validator_compile_in(const char *schema_json, size_t len, pf_arena *arena,
                                      pf_buf *err) {
  if (!schema_json) {
    schema_json = "";
    len = 0;
  }
  pf_validator *v = pf__malloc(sizeof *v);
  if (!v) {
    if (err)
      pf_buf_puts(err, "out of memory");
    return NULL;
  }
  memset(v, 0, sizeof *v);
  atomic_flag_clear(&v->md_busy);
  v->refs = 1;
  if (arena) {
    v->arena = arena;
  } else {
    size_t block = len * 8;
    block = block < 256 ? 256 : block > 65536 ? 65536 : block;
    v->arena = pf_arena_create(block);
    v->own_arena = true;
  }
  /* the PCRE2 contexts are created with the first pattern (most schemas
   * have none: ~200 bytes saved per tool) */
  if (!v->arena) {
    if (err)
      pf_buf_puts(err, "out of memory");
    pf_validator_free(v);
    return NULL;
  }

  pf_json_error jerr;
  const pf_json *doc = pf_json_parse_copy(schema_json, len, v->arena, NULL, &jerr);
  if (!doc) {
    if (err) {
      char pos[48];
      pf_json_error_pos(schema_json, len, &jerr, pos, sizeof pos);
      if (jerr.code == -PF_ENOMEM)
        pf_buf_puts(err, "out of memory");
      else
        pf_buf_printf(err, "schema is not valid JSON: %s: %s", pos, jerr.msg);
    }
    pf_validator_free(v);
    return NULL;
  }
  v->empty = pf_json_parse_copy("{}", 2, v->arena, NULL, NULL);
  if (!v->empty) {
    if (err)
      pf_buf_puts(err, "out of memory");
    pf_validator_free(v);
    return NULL;
  }
  cctx c = {v, doc, err, NULL, NULL, "", 0};
  int rc = compile_node(&c, doc, NULL, &v->root);
  if (!rc)
    rc = link_refs(&c);
  if (rc) {
    pf_validator_free(v);
    return NULL;
  }
  v->by_layout = by_layout(v->root);
  return v;
}

/* A flat object of bare types decides by layout, unless a property takes
 * integers but not all numbers: then 2 and 2.5, both a number hole of one
 * layout, get different verdicts. */
static bool by_layout(const vnode *n) {
  if (!(n->flags & F_FLATOBJ) || (n->flags & (F_PRE | F_POST)))
    return false;
  for (uint32_t i = 0; i < n->nprops; i++) {
    const vnode *ps = n->props[i].schema;
    if (!ps)
      continue;
    uint32_t num = ps->types & (T_INT | T_NUM);
    if ((ps->flags & ~(uint32_t)F_TYPEONLY) || (num && num != (T_INT | T_NUM)))
      return false;
  }
  return true;
}

bool pf_validator_by_layout(const pf_validator *v) { return v->by_layout; }

void pf_validator_free(pf_validator *v) {
  if (!v || --v->refs > 0)
    return;
  if (v->gctx) { /* PCRE2 was loaded for it */
    for (code_cell *cell = v->codes; cell; cell = cell->next)
      pcre2_code_free(cell->re);
    pcre2_match_data_free(v->md);
    pcre2_compile_context_free(v->cctx);
    pcre2_general_context_free(v->gctx);
  }
  if (v->own_arena)
    pf_arena_destroy(v->arena);
  pf__free(v);
}

const pf_json *pf_validator_default(const pf_validator *v, const char *name, size_t len) {
  if (!v || !name)
    return NULL;
  const vnode *root = v->root;
  for (int hop = 0; root && !root->table && root->ref && hop < 16; hop++)
    root = root->ref;
  const vprop *pr = root ? prop_lookup(root, name, len, hash_bytes(name, len)) : NULL;
  const vnode *s = pr ? pr->schema : NULL;
  for (int hop = 0; s && !s->def && s->ref && hop < 16; hop++)
    s = s->ref;
  return s ? s->def : NULL;
}

/* ------------------------------------------------------------------ */
/* Checking                                                            */

typedef struct vctx {
  const pf_validator *v;
  pf_buf *msg; /* NULL: only the verdict is wanted (anyOf branches, if) */
  int depth;
} vctx;

static int check(vctx *c, const vnode *n, const pf_json *val, const vpath *p);

/* Values shown in messages are cut short so a huge argument cannot flood
 * the model's context. */
#define SHOW_MAX 80

static void put_value(pf_buf *b, const pf_json *val) {
  pf_buf tmp = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &tmp);
  pf_jw_value(&w, val);
  if (tmp.failed) {
    b->failed = true;
  } else if (tmp.len <= SHOW_MAX) {
    pf_buf_append(b, tmp.data, tmp.len);
  } else {
    size_t cut = SHOW_MAX;
    while (cut > 0 && ((unsigned char)tmp.data[cut] & 0xC0) == 0x80)
      cut--; /* do not split a UTF-8 sequence */
    pf_buf_append(b, tmp.data, cut);
    pf_buf_append(b, "...", 3);
  }
  pf_buf_free(&tmp);
}

static void put_double(pf_buf *b, double d) {
  char num[40];
  size_t n = pf_json_fmt_double(d, num);
  pf_buf_append(b, num, n);
}

/* "argument 'a.b': " or "arguments: " */
static void put_prefix(pf_buf *b, const vpath *p) {
  if (!p) {
    pf_buf_puts(b, "arguments: ");
    return;
  }
  pf_buf_puts(b, "argument '");
  put_argpath(b, p);
  pf_buf_puts(b, "': ");
}

/* The error path: a cold function so the passing path stays small. */
static int __attribute__((cold, format(printf, 3, 4)))
fail(vctx *c, const vpath *p, const char *fmt, ...) {
  if (!c->msg)
    return -PF_EINVAL;
  put_prefix(c->msg, p);
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  pf_buf_puts(c->msg, tmp);
  return -PF_EINVAL;
}

/* "<value> <text> <bound>" messages */
static int __attribute__((cold))
fail_bound(vctx *c, const vpath *p, const pf_json *val, const char *text, double bound) {
  if (!c->msg)
    return -PF_EINVAL;
  put_prefix(c->msg, p);
  put_value(c->msg, val);
  pf_buf_puts(c->msg, text);
  put_double(c->msg, bound);
  return -PF_EINVAL;
}

static inline uint32_t value_type(const pf_json *val) {
  switch (pf_json_typeof(val)) {
  case PF_JSON_NULL: return T_NULL;
  case PF_JSON_BOOL: return T_BOOL;
  case PF_JSON_INT:
  case PF_JSON_UINT: return T_INT;
  case PF_JSON_REAL: return pf__is_integral(val->v.d) ? T_INT : T_NUM;
  case PF_JSON_STRING: return T_STR;
  case PF_JSON_ARRAY: return T_ARR;
  case PF_JSON_OBJECT: return T_OBJ;
  default: return 0;
  }
}

static int __attribute__((cold))
fail_type(vctx *c, const vnode *n, const pf_json *val, const vpath *p) {
  if (!c->msg)
    return -PF_EINVAL;
  put_prefix(c->msg, p);
  pf_buf_puts(c->msg, "expected ");
  for (uint8_t i = 0; i < n->ntypes; i++) {
    if (i)
      pf_buf_puts(c->msg, i + 1 == n->ntypes ? " or " : ", ");
    pf_buf_puts(c->msg, type_names[n->type_order[i]]);
  }
  pf_buf_puts(c->msg, ", got ");
  pf_buf_puts(c->msg, pf_json_type_name(pf_json_typeof(val)));
  return -PF_EINVAL;
}

static int __attribute__((cold))
fail_enum(vctx *c, const vnode *n, const pf_json *val, const vpath *p) {
  if (!c->msg)
    return -PF_EINVAL;
  put_prefix(c->msg, p);
  put_value(c->msg, val);
  if (pf_json_len(n->enum_v) == 0) {
    pf_buf_puts(c->msg, " is not allowed (the enum is empty)");
    return -PF_EINVAL;
  }
  pf_buf_puts(c->msg, " is not one of ");
  pf_json_iter it = pf_json_iter_init(n->enum_v);
  const pf_json *e;
  size_t i = 0;
  while (pf_json_iter_next(&it, NULL, &e)) {
    if (i == 20) {
      pf_buf_printf(c->msg, ", ... (%zu more)", pf_json_len(n->enum_v) - 20);
      break;
    }
    if (i++)
      pf_buf_append(c->msg, ", ", 2);
    put_value(c->msg, e);
  }
  return -PF_EINVAL;
}

static int __attribute__((cold))
fail_const(vctx *c, const vnode *n, const pf_json *val, const vpath *p) {
  if (!c->msg)
    return -PF_EINVAL;
  put_prefix(c->msg, p);
  put_value(c->msg, val);
  pf_buf_puts(c->msg, " is not the allowed value ");
  put_value(c->msg, n->const_v);
  return -PF_EINVAL;
}

static size_t utf8_count(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    n += ((unsigned char)s[i] & 0xC0) != 0x80;
  return n;
}

static int match_pattern(vctx *c, const vpattern *vp, const char *s, size_t len, bool *matched) {
  pf_validator *v = (pf_validator *)c->v; /* only the try-lock is written */
  pcre2_match_data *md = v->md;
  bool own = !atomic_flag_test_and_set_explicit(&v->md_busy, memory_order_acquire);
  if (!own) {
    md = pcre2_match_data_create(1, v->gctx);
    if (!md)
      return -PF_ENOMEM;
  }
  /* The parser guarantees valid UTF-8, so PCRE2 need not check it again. A
   * return of 0 means "matched, ovector too small": still a match. */
  int rc = pcre2_match(vp->re, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, md, NULL);
  if (own)
    atomic_flag_clear_explicit(&v->md_busy, memory_order_release);
  else
    pcre2_match_data_free(md);
  if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) {
    *matched = rc >= 0;
    return 0;
  }
  /* A match or JIT stack limit hit by a pathological pattern: reported as
   * "does not match", the safe side for a validator. */
  *matched = false;
  return 0;
}

static int check_string(vctx *c, const vnode *n, const pf_json *val, const vpath *p) {
  size_t len;
  const char *s = pf_json_str(val, &len);
  if (n->min_len >= 0 || n->max_len >= 0) {
    /* Code points never outnumber bytes: skip counting when bytes decide. */
    bool need = (n->min_len >= 0 && len >= (size_t)n->min_len && len < (size_t)n->min_len * 4) ||
                (n->max_len >= 0 && len > (size_t)n->max_len);
    size_t cps = need ? utf8_count(s, len) : len;
    if (n->min_len >= 0 && cps < (size_t)n->min_len) {
      if (!c->msg)
        return -PF_EINVAL;
      put_prefix(c->msg, p);
      put_value(c->msg, val);
      pf_buf_printf(c->msg, " has %zu character%s, fewer than the minimum length %lld", cps,
                    cps == 1 ? "" : "s", (long long)n->min_len);
      return -PF_EINVAL;
    }
    if (n->max_len >= 0 && cps > (size_t)n->max_len) {
      if (!c->msg)
        return -PF_EINVAL;
      put_prefix(c->msg, p);
      put_value(c->msg, val);
      pf_buf_printf(c->msg, " has %zu characters, more than the maximum length %lld", cps,
                    (long long)n->max_len);
      return -PF_EINVAL;
    }
  }
  if (n->pattern) {
    bool m;
    int rc = match_pattern(c, n->pattern, s, len, &m);
    if (rc)
      return rc;
    if (!m) {
      if (!c->msg)
        return -PF_EINVAL;
      put_prefix(c->msg, p);
      put_value(c->msg, val);
      pf_buf_puts(c->msg, " does not match the pattern ");
      pf_buf_append(c->msg, n->pattern->src, n->pattern->len);
      return -PF_EINVAL;
    }
  }
  return 0;
}

static int check_number(vctx *c, const vnode *n, const pf_json *val, const vpath *p) {
  double d = pf_json_num_or(val, 0);
  if ((n->flags & F_MIN) && d < n->minimum)
    return fail_bound(c, p, val, " is less than the minimum ", n->minimum);
  if ((n->flags & F_MAX) && d > n->maximum)
    return fail_bound(c, p, val, " is greater than the maximum ", n->maximum);
  if ((n->flags & F_XMIN) && d <= n->xminimum)
    return fail_bound(c, p, val, " is not greater than the exclusive minimum ", n->xminimum);
  if ((n->flags & F_XMAX) && d >= n->xmaximum)
    return fail_bound(c, p, val, " is not less than the exclusive maximum ", n->xmaximum);
  if (n->flags & F_MULT) {
    bool ok;
    /* Integers by an integral step: exact. (The bound keeps the cast
     * defined; multipleOf > 0 was checked at compile time.) */
    if (pf_json_typeof(val) == PF_JSON_INT && n->multiple <= 9007199254740992.0 &&
        pf__is_integral(n->multiple)) {
      ok = pf_json_int_or(val, 0) % (int64_t)n->multiple == 0;
    } else {
      /* Decimal multiples (0.1) are not exact in binary: allow a relative
       * error of a few ulps in the quotient. */
      double q = d / n->multiple;
      ok = isfinite(q) && fabs(q - pf__round(q)) <= 1e-9 * (fabs(q) > 1.0 ? fabs(q) : 1.0);
    }
    if (!ok)
      return fail_bound(c, p, val, " is not a multiple of ", n->multiple);
  }
  return 0;
}

static int check_array(vctx *c, const vnode *n, const pf_json *val, const vpath *p) {
  size_t len = pf_json_len(val);
  if (n->min_items >= 0 && len < (size_t)n->min_items)
    return fail(c, p, "expected at least %lld item%s, got %zu", (long long)n->min_items,
                n->min_items == 1 ? "" : "s", len);
  if (n->max_items >= 0 && len > (size_t)n->max_items)
    return fail(c, p, "expected at most %lld item%s, got %zu", (long long)n->max_items,
                n->max_items == 1 ? "" : "s", len);
  if (n->items && (n->items->flags & F_FALSE) && len > n->nprefix)
    return fail(c, p, "expected at most %u item%s, got %zu", n->nprefix, n->nprefix == 1 ? "" : "s",
                len);
  size_t ncontains = 0;
  if (n->nprefix || n->items || n->contains) {
    pf_json_iter it = pf_json_iter_init(val);
    const pf_json *e;
    size_t i = 0;
    while (pf_json_iter_next(&it, NULL, &e)) {
      vpath ep = {p, NULL, i};
      const vnode *s = i < n->nprefix ? n->prefix[i] : n->items;
      if (s) {
        int rc = check(c, s, e, &ep);
        if (rc)
          return rc;
      }
      if (n->contains) {
        vctx quiet = {c->v, NULL, c->depth};
        ncontains += check(&quiet, n->contains, e, &ep) == 0;
      }
      i++;
    }
  }
  if (n->contains) {
    size_t lo = n->min_contains >= 0 ? (size_t)n->min_contains : 1;
    if (ncontains < lo)
      return fail(c, p, "expected at least %zu item%s matching the \"contains\" schema, got %zu",
                  lo, lo == 1 ? "" : "s", ncontains);
    if (n->max_contains >= 0 && ncontains > (size_t)n->max_contains)
      return fail(c, p, "expected at most %lld items matching the \"contains\" schema, got %zu",
                  (long long)n->max_contains, ncontains);
  }
  if ((n->flags & F_UNIQUE) && len > 1) {
    /* Quadratic, but tool arguments are small and it allocates nothing. */
    pf_json_iter a = pf_json_iter_init(val);
    const pf_json *x;
    for (size_t i = 0; pf_json_iter_next(&a, NULL, &x); i++) {
      pf_json_iter b = a;
      const pf_json *y;
      for (size_t j = i + 1; pf_json_iter_next(&b, NULL, &y); j++)
        if (pf_json_equal(x, y))
          return fail(c, p, "items [%zu] and [%zu] are equal, but items must be unique", i, j);
    }
  }
  return 0;
}

/* check(), with a bare `type` node tested here instead of in a call. */
static inline int check_sub(vctx *c, const vnode *n, const pf_json *val, const vpath *p) {
  if (LIKELY(n->flags & F_TYPEONLY))
    return !n->types || (n->types & value_type(val)) ? 0 : fail_type(c, n, val, p);
  return check(c, n, val, p);
}

static int __attribute__((cold))
fail_missing(vctx *c, const vpath *p, const char *name, size_t len) {
  if (!c->msg)
    return -PF_EINVAL;
  pf_buf_puts(c->msg, "missing required argument '");
  if (p) {
    put_argpath(c->msg, p);
    pf_buf_putc(c->msg, '.');
  }
  pf_buf_append(c->msg, name, len);
  pf_buf_putc(c->msg, '\'');
  return -PF_EINVAL;
}

static int check_object(vctx *c, const vnode *n, const pf_json *val, const vpath *p) {
  size_t nmembers = pf_json_len(val);
  if (n->min_props >= 0 && nmembers < (size_t)n->min_props)
    return fail(c, p, "expected at least %lld propert%s, got %zu", (long long)n->min_props,
                n->min_props == 1 ? "y" : "ies", nmembers);
  if (n->max_props >= 0 && nmembers > (size_t)n->max_props)
    return fail(c, p, "expected at most %lld propert%s, got %zu", (long long)n->max_props,
                n->max_props == 1 ? "y" : "ies", nmembers);
  uint64_t seen = 0;
  if (n->table || n->additional || n->npatprops || n->prop_names) {
    /* the members straight from the node array: key, value, next key */
    const pf_json *key = val + 1, *mv;
    for (uint32_t im = 0; im < val->len; im++, key = mv + pf__json_span(mv)) {
      mv = key + 1;
      size_t klen = key->len;
      const char *k = key->v.s;
      vpath kp = {p, k, klen};
      if (n->prop_names) {
        int rc = check(c, n->prop_names, key, &kp);
        if (rc)
          return rc;
      }
      bool declared = false;
      if (n->table) {
        vprop *pr = prop_find(n, k, klen);
        if (pr) {
          if (pr->req >= 0 && pr->req < 64)
            seen |= (uint64_t)1 << pr->req;
          if (pr->schema) {
            declared = true;
            int rc = check_sub(c, pr->schema, mv, &kp);
            if (rc)
              return rc;
          }
        }
      }
      for (uint32_t i = 0; i < n->npatprops; i++) {
        bool m;
        int rc = match_pattern(c, &n->patprops[i].pat, k, klen, &m);
        if (!rc && m) {
          declared = true;
          rc = check(c, n->patprops[i].schema, mv, &kp);
        }
        if (rc)
          return rc;
      }
      if (!declared && n->additional) {
        if (n->additional->flags & F_FALSE) {
          if (!c->msg)
            return -PF_EINVAL;
          pf_buf_puts(c->msg, "unknown argument '");
          put_argpath(c->msg, &kp);
          pf_buf_putc(c->msg, '\'');
          return -PF_EINVAL;
        }
        int rc = check(c, n->additional, mv, &kp);
        if (rc)
          return rc;
      }
    }
  }
  if (n->nrequired) {
    uint64_t all = n->nrequired >= 64 ? UINT64_MAX : ((uint64_t)1 << n->nrequired) - 1;
    if (seen != all || n->nrequired > 64) {
      /* Report the first missing name in the order `required` lists them. */
      pf_json_iter it = pf_json_iter_init(n->required);
      const pf_json *e;
      for (uint32_t r = 0; pf_json_iter_next(&it, NULL, &e);) {
        size_t len;
        const char *name = pf_json_str(e, &len);
        const vprop *pr = prop_lookup(n, name, len, hash_bytes(name, len));
        if (pr->req != (int32_t)r)
          continue; /* a repeated name */
        r++;
        bool present = pr->req < 64 ? (seen >> pr->req) & 1 : pf_json_getn(val, name, len) != NULL;
        if (!present)
          return fail_missing(c, p, name, len);
      }
    }
  }
  return 0;
}

static int __attribute__((cold)) fail_combinator(vctx *c, const vnode *first, const pf_json *val,
                                                 const vpath *p, const char *kw, size_t nalt) {
  if (!c->msg)
    return -PF_EINVAL;
  /* Show why the first alternative failed: usually enough for a model to
   * see what shape was wanted. */
  pf_buf sub = PF_BUF_INIT, pre = PF_BUF_INIT;
  vctx loud = {c->v, &sub, c->depth};
  (void)check(&loud, first, val, p);
  put_prefix(&pre, p);
  const char *why = pf_buf_cstr(&sub);
  size_t plen = pre.len;
  if (sub.len >= plen && memcmp(sub.data, pre.data, plen) == 0)
    why += plen;
  put_prefix(c->msg, p);
  pf_buf_printf(c->msg, "does not match any of the %zu alternatives of %s (the first: %s)", nalt,
                kw, why);
  pf_buf_free(&sub);
  pf_buf_free(&pre);
  return -PF_EINVAL;
}

static int check(vctx *c, const vnode *n, const pf_json *val, const vpath *p) {
  if (LIKELY(n->flags & F_TYPEONLY))
    return !n->types || (n->types & value_type(val)) ? 0 : fail_type(c, n, val, p);
  if (n->flags & F_FALSE)
    return fail(c, p, "no value is allowed here");
  if (++c->depth > PF_VALIDATOR_MAX_DEPTH) {
    c->depth--;
    return fail(c, p, "the schema nests too deeply (a recursive $ref?)");
  }
  int rc = 0;
  if (UNLIKELY(n->flags & F_PRE) && n->ref && (rc = check(c, n->ref, val, p)) != 0)
    goto out;
  uint32_t vt = value_type(val);
  if (n->types && !(n->types & vt)) {
    rc = fail_type(c, n, val, p);
    goto out;
  }
  if (!(n->flags & F_PRE))
    goto body;
  if (n->const_v && !pf_json_equal(val, n->const_v)) {
    rc = fail_const(c, n, val, p);
    goto out;
  }
  if (n->enum_v) {
    pf_json_iter it = pf_json_iter_init(n->enum_v);
    const pf_json *e;
    bool found = false;
    while (!found && pf_json_iter_next(&it, NULL, &e))
      found = pf_json_equal(val, e);
    if (!found) {
      rc = fail_enum(c, n, val, p);
      goto out;
    }
  }
body:
  switch (vt) {
  case T_INT:
  case T_NUM:
    if (n->flags & F_NUMERIC)
      rc = check_number(c, n, val, p);
    break;
  case T_STR:
    if (n->min_len >= 0 || n->max_len >= 0 || n->pattern)
      rc = check_string(c, n, val, p);
    break;
  case T_ARR: rc = check_array(c, n, val, p); break;
  case T_OBJ: rc = check_object(c, n, val, p); break;
  default: break;
  }
  if (rc || !(n->flags & F_POST))
    goto out;

  for (uint32_t i = 0; i < n->nall; i++)
    if ((rc = check(c, n->all_of[i], val, p)) != 0)
      goto out;
  if (n->nany) {
    vctx quiet = {c->v, NULL, c->depth};
    bool any = false;
    for (uint32_t i = 0; i < n->nany && !any; i++)
      any = check(&quiet, n->any_of[i], val, p) == 0;
    if (!any) {
      rc = fail_combinator(c, n->any_of[0], val, p, "anyOf", n->nany);
      goto out;
    }
  }
  if (n->none) {
    vctx quiet = {c->v, NULL, c->depth};
    uint32_t first = 0, second = 0, count = 0;
    for (uint32_t i = 0; i < n->none && count < 2; i++)
      if (check(&quiet, n->one_of[i], val, p) == 0) {
        if (count++)
          second = i;
        else
          first = i;
      }
    if (count == 0) {
      rc = fail_combinator(c, n->one_of[0], val, p, "oneOf", n->none);
      goto out;
    }
    if (count > 1) {
      rc = fail(c, p, "matches alternatives %u and %u of oneOf, but must match exactly one",
                first + 1, second + 1);
      goto out;
    }
  }
  if (n->not_) {
    vctx quiet = {c->v, NULL, c->depth};
    if (check(&quiet, n->not_, val, p) == 0) {
      rc = fail(c, p, "must not match the schema in \"not\"");
      goto out;
    }
  }
  if (n->if_) {
    vctx quiet = {c->v, NULL, c->depth};
    const vnode *branch = check(&quiet, n->if_, val, p) == 0 ? n->then_ : n->else_;
    if (branch)
      rc = check(c, branch, val, p);
  }
out:
  c->depth--;
  return rc;
}

/* The verdict for an F_FLATOBJ node and an object, in one pass over its
 * members: true when it passes. (On false, check() runs for the message.) */
static bool flat_ok(const vnode *n, const pf_json *val) {
  uint64_t seen = 0;
  const pf_json *key = val + 1, *mv;
  for (uint32_t im = 0; im < val->len; im++, key = mv + pf__json_span(mv)) {
    mv = key + 1;
    const vprop *pr = prop_find(n, key->v.s, key->len); /* a scan: nprops <= 8 */
    if (!pr || !pr->schema) {
      if (n->additional) /* additionalProperties: false */
        return false;
      if (pr)
        seen |= (uint64_t)1 << pr->req; /* only in `required` */
      continue;
    }
    if (pr->req >= 0)
      seen |= (uint64_t)1 << pr->req;
    if (pr->schema->types && !(pr->schema->types & value_type(mv)))
      return false;
  }
  return seen == ((uint64_t)1 << n->nrequired) - 1;
}

int pf_validator_check(const pf_validator *v, const pf_json *value, pf_buf *msg) {
  if (!value)
    value = v->empty;
  if ((v->root->flags & F_FLATOBJ) && value->type == PF_JSON_OBJECT && flat_ok(v->root, value))
    return 0;
  vctx c = {v, msg, 0};
  return check(&c, v->root, value, NULL);
}

/* The key-table walker, typed getters, ${VAR} expansion and YAML -> JSON.
 * See config/internal.h. */
#include "config/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "json/internal.h"

struct pf__cfg_diag {
  pf__cfg_diag *next;
  pf_cfg_loc loc;
  char *text;
};

void pf__cfg_err(pf__cfg_ctx *c, pf_cfg_loc loc, const char *path, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (loc.line == 0)
    loc.line = loc.col = 1;
  const char *p = path && *path ? path : "(root)";
  int n = snprintf(NULL, 0, "%s:%u:%u: %s: %s", c->file, loc.line, loc.col, p, msg);
  pf__cfg_diag *d = pf_arena_alloc(c->scratch, sizeof *d);
  char *text = n >= 0 ? pf_arena_alloc(c->scratch, (size_t)n + 1) : NULL;
  if (!d || !text) {
    c->oom = true;
    return;
  }
  snprintf(text, (size_t)n + 1, "%s:%u:%u: %s: %s", c->file, loc.line, loc.col, p, msg);
  d->loc = loc;
  d->text = text;
  /* Kept in reverse; load.c sorts by position when it prints. */
  d->next = c->diags;
  c->diags = d;
  c->ndiags++;
}

size_t pf__cfg_diag_list(pf__cfg_ctx *c, const pf__cfg_diag **out, size_t max) {
  size_t n = 0;
  for (const pf__cfg_diag *d = c->diags; d && n < max; d = d->next)
    out[n++] = d;
  return n;
}
const char *pf__cfg_diag_text(const pf__cfg_diag *d, uint32_t *line, uint32_t *col) {
  *line = d->loc.line;
  *col = d->loc.col;
  return d->text;
}

pf_cfg_loc pf__cfg_loc(pf__cfg_ctx *c, const pf__ynode *n, pf_cfg_loc fallback) {
  while (n && n->type != PF__YN_SCALAR)
    n = n->child;
  if (!n || n->line == 0)
    return fallback;
  return (pf_cfg_loc){c->file, n->line, n->col};
}

static bool all_digits(const char *s, size_t n, int base) {
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++) {
    int ch = (unsigned char)s[i];
    bool ok = base == 16 ? isxdigit(ch) : base == 8 ? (ch >= '0' && ch <= '7') : isdigit(ch);
    if (!ok)
      return false;
  }
  return true;
}

static bool eq_any(const char *s, size_t n, const char *const *words) {
  for (; *words; words++)
    if ((*words)[0] == s[0] && strlen(*words) == n && memcmp(s, *words, n) == 0)
      return true;
  return false;
}

/* The YAML 1.2 core schema's resolution of plain scalars. */
pf__ykind pf__cfg_kind_text(const char *s, size_t n) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", NULL};
  static const char *const specials[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf",
                                         "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
                                         ".NaN",  ".NAN",  NULL};
  /* most scalars are names and descriptions: a null, a boolean or a
   * special float is 0, 1, 4 or 5 bytes long and starts with one of a few
   * bytes */
  bool special = n == 0;
  if (n == 1 || n == 4 || n == 5) {
    switch (s[0]) {
    case '~': case 'n': case 'N': case 't': case 'T': case 'f': case 'F': case '.': case '+':
    case '-': special = true; break;
    default: break;
    }
  }
  if (special) {
    if (n == 0 || eq_any(s, n, nulls))
      return PF__Y_NULL;
    if (eq_any(s, n, bools))
      return PF__Y_BOOL;
    if (eq_any(s, n, specials))
      return PF__Y_FLOAT;
  }
  if (n > 2 && s[0] == '0' && s[1] == 'x')
    return all_digits(s + 2, n - 2, 16) ? PF__Y_INT : PF__Y_STR;
  if (n > 2 && s[0] == '0' && s[1] == 'o')
    return all_digits(s + 2, n - 2, 8) ? PF__Y_INT : PF__Y_STR;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < n && isdigit((unsigned char)s[i]))
    i++, int_digits++;
  if (i == n)
    return int_digits ? PF__Y_INT : PF__Y_STR;
  bool dot = false;
  if (s[i] == '.') {
    dot = true;
    i++;
    while (i < n && isdigit((unsigned char)s[i]))
      i++, frac_digits++;
  }
  /* [0-9]+ ( . [0-9]* )? or . [0-9]+ */
  if (!(int_digits || (dot && frac_digits)))
    return PF__Y_STR;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+'))
      i++;
    if (!all_digits(s + i, n - i, 10))
      return PF__Y_STR;
    return PF__Y_FLOAT;
  }
  return i == n ? PF__Y_FLOAT : PF__Y_STR;
}

/* strtod() with the YAML spellings: .inf, -.Inf, .nan, 0x1F, 0o17. */
static double yaml_number(const char *s) {
  const char *p = s + (*s == '-' || *s == '+');
  if (p[0] == '.' && (p[1] == 'i' || p[1] == 'I'))
    return *s == '-' ? -HUGE_VAL : HUGE_VAL;
  if (p[0] == '.' && (p[1] == 'n' || p[1] == 'N'))
    return NAN;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
    return (double)strtoull(s + 2, NULL, s[1] == 'x' ? 16 : 8);
  return strtod(s, NULL);
}

pf__ykind pf__cfg_kind(const pf__ynode *n) {
  return n ? (pf__ykind)n->kind : PF__Y_NULL;
}

const char *pf__cfg_kind_name(pf__ykind k) {
  switch (k) {
  case PF__Y_NULL: return "null";
  case PF__Y_BOOL: return "a boolean";
  case PF__Y_INT: return "an integer";
  case PF__Y_FLOAT: return "a number";
  case PF__Y_STR: return "a string";
  case PF__Y_MAP: return "a map";
  case PF__Y_LIST: return "a list";
  }
  return "?";
}

/* parent + "." + key (no dot after an empty parent) and parent + "[i]", in
 * the scratch arena, *len their length. Every value found gets its path
 * (for messages): the walker passes the lengths it knows. */
static const char *path_join(pf__cfg_ctx *c, const char *parent, size_t pn, const char *key,
                             size_t kn, uint32_t *len) {
  char *p = pf_arena_alloc(c->scratch, pn + kn + 2);
  if (!p) {
    c->oom = true;
    *len = 1;
    return "?";
  }
  if (pn) {
    memcpy(p, parent, pn);
    p[pn++] = '.';
  }
  memcpy(p + pn, key, kn);
  p[pn + kn] = '\0';
  *len = (uint32_t)(pn + kn);
  return p;
}

static const char *path_index(pf__cfg_ctx *c, const char *parent, size_t pn, size_t i,
                              uint32_t *len) {
  char *p = pf_arena_alloc(c->scratch, pn + 23);
  if (!p) {
    c->oom = true;
    *len = 1;
    return "?";
  }
  memcpy(p, parent, pn);
  p[pn++] = '[';
  pn += pf__json_fmt_u64(i, p + pn);
  p[pn++] = ']';
  p[pn] = '\0';
  *len = (uint32_t)pn;
  return p;
}

const char *pf__cfg_path_key(pf__cfg_ctx *c, const char *parent, const char *key) {
  uint32_t len;
  return path_join(c, parent, parent ? strlen(parent) : 0, key, strlen(key), &len);
}

const char *pf__cfg_path_idx(pf__cfg_ctx *c, const char *parent, size_t i) {
  uint32_t len;
  return path_index(c, parent, parent ? strlen(parent) : 0, i, &len);
}

char *pf__cfg_strdup(pf__cfg_ctx *c, const char *s, size_t n) {
  char *p = pf_arena_strndup(c->a, s, n);
  if (!p)
    c->oom = true;
  return p;
}

/* ---- name sets ---- */

bool pf__cfg_names_init(pf__cfg_ctx *c, pf__cfg_names *s, size_t n) {
  size_t cap = 8;
  while (cap < 2 * n)
    cap *= 2;
  s->mask = cap - 1;
  s->names = pf_arena_calloc(c->scratch, cap, sizeof *s->names);
  s->idx = pf_arena_calloc(c->scratch, cap, sizeof *s->idx);
  if (!s->names || !s->idx) {
    c->oom = true;
    s->names = NULL;
    return false;
  }
  return true;
}

static size_t name_slot(const pf__cfg_names *s, const char *name) {
  size_t i = (size_t)pf__hash(name, strlen(name), 0) & s->mask;
  while (s->names[i] && strcmp(s->names[i], name) != 0)
    i = (i + 1) & s->mask;
  return i;
}

size_t pf__cfg_names_put(pf__cfg_names *s, const char *name, size_t i) {
  if (!s->names || !name)
    return SIZE_MAX;
  size_t at = name_slot(s, name);
  if (s->names[at])
    return s->idx[at];
  s->names[at] = name;
  s->idx[at] = i;
  return SIZE_MAX;
}

size_t pf__cfg_names_get(const pf__cfg_names *s, const char *name) {
  if (!s->names || !name)
    return SIZE_MAX;
  size_t at = name_slot(s, name);
  return s->names[at] ? s->idx[at] : SIZE_MAX;
}

/* Optimal string alignment distance (transpositions count 1), capped:
 * anything above 3 is reported as 3. */
static size_t edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 63 || m > 63 || (n > m ? n - m : m - n) > 2)
    return 3;
  size_t d[64][64];
  for (size_t i = 0; i <= n; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= m; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v)
        v = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < v)
        v = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[n][m] > 3 ? 3 : d[n][m];
}

const char *pf__cfg_suggest(const char *word, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t best_score = 100, wn = strlen(word);
  for (size_t i = 0; i < n; i++) {
    const char *k = cands[i];
    if (!k)
      continue;
    size_t kn = strlen(k), score;
    if (strcasecmp(word, k) == 0) {
      score = 0;
    } else {
      size_t d = edit_distance(word, k);
      /* Short keys are close to everything; demand half the letters. */
      if (d <= 2 && 2 * d <= kn)
        score = d;
      else if (wn >= 3 && kn >= 3 && (strncasecmp(word, k, wn < kn ? wn : kn) == 0))
        score = 3; /* a prefix: `desc` for `description` */
      else
        continue;
    }
    if (score < best_score) {
      best_score = score;
      best = k;
    }
  }
  return best;
}

static const char *type_expect(pf__cfg_type t) {
  switch (t) {
  case PF__T_STR: return "a string";
  case PF__T_BOOL: return "a boolean";
  case PF__T_INT: return "an integer";
  case PF__T_NUM: return "a number";
  case PF__T_MAP: return "a map";
  case PF__T_LIST: return "a list";
  case PF__T_STR_OR_MAP: return "a string or a map";
  case PF__T_STR_OR_LIST: return "a string or a list";
  case PF__T_MAP_OR_LIST: return "a map or a list";
  case PF__T_ANY: return "a value";
  }
  return "?";
}

/* Structural check only: scalars are told apart by the getters. An empty
 * value counts as an empty map or list, which lets `params:` stand for
 * `params: {}`. */
static bool type_ok(pf__cfg_type t, pf__ykind k) {
  bool scalar = k != PF__Y_MAP && k != PF__Y_LIST;
  switch (t) {
  case PF__T_ANY: return true;
  case PF__T_STR: return scalar && k != PF__Y_NULL;
  case PF__T_BOOL:
  case PF__T_INT:
  case PF__T_NUM: return scalar && k != PF__Y_NULL;
  case PF__T_MAP: return k == PF__Y_MAP || k == PF__Y_NULL;
  case PF__T_LIST: return k == PF__Y_LIST || k == PF__Y_NULL;
  case PF__T_STR_OR_MAP: return k != PF__Y_LIST && k != PF__Y_NULL;
  case PF__T_STR_OR_LIST: return k != PF__Y_MAP && k != PF__Y_NULL;
  case PF__T_MAP_OR_LIST: return k == PF__Y_MAP || k == PF__Y_LIST || k == PF__Y_NULL;
  }
  return false;
}

void pf__cfg_type_error(pf__cfg_ctx *c, const pf__cfg_val *v, const char *expected) {
  pf__cfg_err(c, v->loc, v->path, "expected %s, got %s", expected,
              pf__cfg_kind_name(pf__cfg_kind(v->node)));
}

bool pf__cfg_map(pf__cfg_ctx *c, const pf__cfg_val *in, const pf__cfg_key *keys, size_t nkeys,
                 pf__cfg_val *out, size_t nslots, pf__cfg_explain_fn explain, void *ud) {
  memset(out, 0, nslots * sizeof *out);
  if (!in->present)
    return false;
  pf__ykind k = pf__cfg_kind(in->node);
  if (k != PF__Y_MAP && k != PF__Y_NULL) {
    pf__cfg_type_error(c, in, "a map");
    return false;
  }
  for (const pf__ynode *kn = pf__y_keys(in->node); kn; kn = kn->next) {
    pf__ynode *vn = kn->value;
    pf_cfg_loc kloc = pf__cfg_loc(c, kn, in->loc);
    if (pf__cfg_kind(kn) == PF__Y_MAP || pf__cfg_kind(kn) == PF__Y_LIST) {
      pf__cfg_err(c, kloc, in->path, "keys must be strings, got %s",
                  pf__cfg_kind_name(pf__cfg_kind(kn)));
      continue;
    }
    const char *key = kn->text;
    const pf__cfg_key *row = NULL;
    for (size_t i = 0; i < nkeys && !row; i++)
      if ((keys[i].name[0] == key[0] && strcmp(keys[i].name, key) == 0) ||
          (keys[i].alias && keys[i].alias[0] == key[0] && strcmp(keys[i].alias, key) == 0))
        row = &keys[i];
    if (!row) {
      const char *why = explain ? explain(c, key, ud) : NULL;
      if (why) {
        pf__cfg_err(c, kloc, in->path, "%s", why);
        continue;
      }
      const char *cands[128];
      size_t nc = 0;
      for (size_t i = 0; i < nkeys && nc + 2 <= PF__NELEM(cands); i++) {
        cands[nc++] = keys[i].name;
        cands[nc++] = keys[i].alias;
      }
      const char *s = pf__cfg_suggest(key, cands, nc);
      if (s)
        pf__cfg_err(c, kloc, in->path, "unknown key '%s' (did you mean '%s'?)", key, s);
      else
        pf__cfg_err(c, kloc, in->path, "unknown key '%s'", key);
      continue;
    }
    pf__cfg_val *v = &out[row->slot];
    if (v->key) {
      if (strcmp(v->key, key) == 0) /* libfyaml rejects real duplicates */
        continue;
      pf__cfg_err(c, kloc, in->path, "both '%s' and '%s' given (they are the same key)", v->key,
                  key);
      continue;
    }
    v->node = vn;
    v->key_loc = kloc;
    v->loc = pf__cfg_loc(c, vn, kloc);
    v->path = path_join(c, in->path, in->path_len, key, kn->len, &v->path_len);
    v->key = key;
    if (!type_ok(row->type, pf__cfg_kind(vn))) {
      pf__cfg_type_error(c, v, type_expect(row->type));
      continue;
    }
    v->present = true;
  }
  for (size_t i = 0; i < nkeys; i++)
    if (keys[i].required && !out[keys[i].slot].key)
      pf__cfg_err(c, in->loc, in->path, "missing required key '%s'", keys[i].name);
  return true;
}

pf__cfg_val pf__cfg_item(pf__cfg_ctx *c, const pf__cfg_val *in, pf__ynode *item, size_t i) {
  pf__cfg_val v = {0};
  v.node = item;
  v.key_loc = in->loc;
  v.loc = pf__cfg_loc(c, item, in->loc);
  v.path = path_index(c, in->path, in->path_len, i, &v.path_len);
  v.key = NULL;
  v.present = true;
  return v;
}

pf__cfg_val pf__cfg_entry(pf__cfg_ctx *c, const pf__cfg_val *in, const pf__ynode *key) {
  pf__cfg_val v = {0};
  v.key = key->text;
  v.node = key->value;
  pf__ynode *value = key->value;
  v.key_loc = pf__cfg_loc(c, key, in->loc);
  v.loc = pf__cfg_loc(c, value, v.key_loc);
  v.path = path_join(c, in->path, in->path_len, v.key, key->len, &v.path_len);
  v.present = true;
  return v;
}

size_t pf__cfg_count(const pf__cfg_val *v) {
  if (!v->present || !v->node || v->node->type == PF__YN_SCALAR)
    return 0;
  return v->node->count;
}

void *pf__cfg_alloc_items(pf__cfg_ctx *c, const pf__cfg_val *v, size_t size, size_t *count) {
  *count = pf__cfg_count(v);
  void *p = pf_arena_calloc(c->a, *count ? *count : 1, size);
  if (!p)
    c->oom = true;
  return p;
}

/* ---- ${VAR} expansion ---- */

char *pf__cfg_expand(pf__cfg_ctx *c, const char *s, size_t n, pf_cfg_loc loc, const char *path) {
  if (!memchr(s, '$', n))
    return pf__cfg_strdup(c, s, n);
  pf_buf b = PF_BUF_INIT;
  bool ok = true;
  for (size_t i = 0; i < n;) {
    if (s[i] == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
      pf_buf_append(&b, "${", 2);
      i += 3;
      continue;
    }
    if (!(s[i] == '$' && i + 1 < n && s[i + 1] == '{')) {
      pf_buf_putc(&b, s[i++]);
      continue;
    }
    const char *close = memchr(s + i, '}', n - i);
    size_t name_start = i + 2, name_end = name_start;
    while (name_end < n && (isalnum((unsigned char)s[name_end]) || s[name_end] == '_'))
      name_end++;
    bool has_def = name_end + 1 < n && s[name_end] == ':' && s[name_end + 1] == '-';
    if (!close || name_end == name_start || isdigit((unsigned char)s[name_start]) ||
        (!has_def && s + name_end != close)) {
      pf__cfg_err(c, loc, path,
                  "malformed variable reference (expected ${NAME} or ${NAME:-default}; "
                  "write $${ for a literal ${)");
      ok = false;
      break;
    }
    size_t end = (size_t)(close - s);
    char name[128];
    size_t nl = name_end - name_start;
    if (nl >= sizeof name)
      nl = sizeof name - 1;
    memcpy(name, s + name_start, nl);
    name[nl] = '\0';
    const char *val = getenv(name);
    if (has_def && (!val || !*val)) {
      pf_buf_append(&b, s + name_end + 2, end - (name_end + 2));
    } else if (val) {
      pf_buf_puts(&b, val);
    } else {
      pf__cfg_err(c, loc, path, "environment variable '%s' is not set", name);
      ok = false;
    }
    i = end + 1;
  }
  char *r = NULL;
  if (b.failed)
    c->oom = true;
  else if (ok)
    r = pf__cfg_strdup(c, b.data ? b.data : "", b.len);
  pf_buf_free(&b);
  return r;
}

/* ---- getters ---- */

const char *pf__cfg_scalar(pf__cfg_ctx *c, const pf__cfg_val *v, pf__ykind *kind) {
  if (!v->present)
    return NULL;
  pf__ykind k = pf__cfg_kind(v->node);
  if (k == PF__Y_MAP || k == PF__Y_LIST) {
    pf__cfg_type_error(c, v, "a scalar");
    return NULL;
  }
  const char *s = v->node ? v->node->text : "";
  size_t n = v->node ? v->node->len : 0;
  char *r = pf__cfg_expand(c, s, n, v->loc, v->path);
  /* An expanded plain scalar is typed by what it expanded to. */
  bool plain = v->node && v->node->plain;
  if (r && plain && memchr(s, '$', n))
    k = pf__cfg_kind_text(r, strlen(r));
  if (kind)
    *kind = k;
  return r;
}

const char *pf__cfg_str(pf__cfg_ctx *c, const pf__cfg_val *v) {
  if (!v->present)
    return NULL;
  pf__ykind k = pf__cfg_kind(v->node);
  if (k == PF__Y_MAP || k == PF__Y_LIST || k == PF__Y_NULL) {
    pf__cfg_type_error(c, v, "a string");
    return NULL;
  }
  /* `version: 1.0` or `args: [-n, 10]` mean the text as written. */
  return pf__cfg_scalar(c, v, NULL);
}

bool pf__cfg_bool(pf__cfg_ctx *c, const pf__cfg_val *v, bool def) {
  pf__ykind k;
  const char *s = pf__cfg_scalar(c, v, &k);
  if (!s)
    return def;
  if (k != PF__Y_BOOL) {
    pf__cfg_err(c, v->loc, v->path, "expected a boolean (true or false), got %s",
                pf__cfg_kind_name(k));
    return def;
  }
  return s[0] == 't' || s[0] == 'T';
}

bool pf__cfg_int(pf__cfg_ctx *c, const pf__cfg_val *v, int64_t lo, int64_t hi, int64_t *out) {
  pf__ykind k;
  const char *s = pf__cfg_scalar(c, v, &k);
  if (!s)
    return false;
  if (k != PF__Y_INT) {
    pf__cfg_err(c, v->loc, v->path, "expected an integer, got %s", pf__cfg_kind_name(k));
    return false;
  }
  errno = 0;
  long long x;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
    x = strtoll(s + 2, NULL, s[1] == 'x' ? 16 : 8);
  else
    x = strtoll(s, NULL, 10);
  if (errno == ERANGE || x < lo || x > hi) {
    pf__cfg_err(c, v->loc, v->path, "%s is out of range (%lld..%lld)", s, (long long)lo,
                (long long)hi);
    return false;
  }
  *out = x;
  return true;
}

bool pf__cfg_num(pf__cfg_ctx *c, const pf__cfg_val *v, double *out) {
  pf__ykind k;
  const char *s = pf__cfg_scalar(c, v, &k);
  if (!s)
    return false;
  if (k != PF__Y_INT && k != PF__Y_FLOAT) {
    pf__cfg_err(c, v->loc, v->path, "expected a number, got %s", pf__cfg_kind_name(k));
    return false;
  }
  double d = yaml_number(s);
  if (!isfinite(d)) {
    pf__cfg_err(c, v->loc, v->path, "expected a finite number, got %s", s);
    return false;
  }
  *out = d;
  return true;
}

int pf__cfg_enum(pf__cfg_ctx *c, const pf__cfg_val *v, const char *const *names, size_t n,
                 bool icase) {
  const char *s = pf__cfg_str(c, v);
  if (!s)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (icase ? strcasecmp(s, names[i]) == 0 : strcmp(s, names[i]) == 0)
      return (int)i;
  char list[512];
  size_t off = 0;
  for (size_t i = 0; i < n && off < sizeof list; i++)
    off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", names[i]);
  const char *sug = pf__cfg_suggest(s, names, n);
  if (sug)
    pf__cfg_err(c, v->loc, v->path, "invalid value '%s' (did you mean '%s'?); expected one of: %s",
                s, sug, list);
  else
    pf__cfg_err(c, v->loc, v->path, "invalid value '%s'; expected one of: %s", s, list);
  return -1;
}

bool pf__cfg_strlist(pf__cfg_ctx *c, const pf__cfg_val *v, const char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!v->present)
    return false;
  if (pf__cfg_kind(v->node) == PF__Y_NULL)
    return true;
  if (pf__cfg_kind(v->node) != PF__Y_LIST) {
    pf__cfg_type_error(c, v, "a list of strings");
    return false;
  }
  size_t cnt = pf__cfg_count(v);
  const char **arr = pf_arena_calloc(c->a, cnt ? cnt : 1, sizeof *arr);
  if (!arr) {
    c->oom = true;
    return false;
  }
  size_t i = 0;
  bool ok = true;
  for (pf__ynode *item = pf__y_items(v->node); item; item = item->next) {
    pf__cfg_val iv = pf__cfg_item(c, v, item, i);
    const char *s = pf__cfg_str(c, &iv);
    if (!s)
      ok = false;
    arr[i++] = s ? s : "";
  }
  *out = arr;
  *n = i;
  return ok;
}

bool pf__cfg_strmap(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_kv **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!v->present)
    return false;
  pf__ykind k = pf__cfg_kind(v->node);
  if (k == PF__Y_NULL)
    return true;
  if (k != PF__Y_MAP) {
    pf__cfg_type_error(c, v, "a map of strings");
    return false;
  }
  size_t cnt = pf__cfg_count(v);
  pf_cfg_kv *kv = pf_arena_calloc(c->a, cnt ? cnt : 1, sizeof *kv);
  if (!kv) {
    c->oom = true;
    return false;
  }
  size_t i = 0;
  bool ok = true;
  for (const pf__ynode *kn = pf__y_keys(v->node); kn; kn = kn->next) {
    pf__cfg_val e = pf__cfg_entry(c, v, kn);
    const char *s = pf__cfg_str(c, &e);
    if (!s) {
      ok = false;
      continue;
    }
    kv[i].key = pf__cfg_strdup(c, e.key, strlen(e.key));
    kv[i].value = s;
    kv[i].loc = e.key_loc;
    i++;
  }
  *out = kv;
  *n = i;
  return ok;
}

/* ---- YAML -> JSON ---- */

bool pf__cfg_write_json(pf__cfg_ctx *c, pf_json_writer *w, pf__ynode *n, const char *path,
                        pf_cfg_loc loc) {
  pf__ykind k = pf__cfg_kind(n);
  bool ok = true;
  if (k == PF__Y_MAP) {
    pf_jw_obj_begin(w);
    for (const pf__ynode *kn = pf__y_keys(n); kn; kn = kn->next) {
      pf_cfg_loc kloc = pf__cfg_loc(c, kn, loc);
      pf__ykind kk = pf__cfg_kind(kn);
      if (kk == PF__Y_MAP || kk == PF__Y_LIST) {
        pf__cfg_err(c, kloc, path, "keys must be strings, got %s", pf__cfg_kind_name(kk));
        ok = false;
        continue;
      }
      pf_jw_key(w, kn->text, kn->len);
      const char *sub = pf__cfg_path_key(c, path, kn->text);
      if (!pf__cfg_write_json(c, w, kn->value, sub, kloc))
        ok = false;
    }
    pf_jw_obj_end(w);
    return ok;
  }
  if (k == PF__Y_LIST) {
    pf_jw_arr_begin(w);
    size_t i = 0;
    for (pf__ynode *item = pf__y_items(n); item; item = item->next) {
      const char *sub = pf__cfg_path_idx(c, path, i++);
      if (!pf__cfg_write_json(c, w, item, sub, pf__cfg_loc(c, item, loc)))
        ok = false;
    }
    pf_jw_arr_end(w);
    return ok;
  }
  pf__cfg_val v = {.node = n,
                   .loc = pf__cfg_loc(c, n, loc),
                   .path = path,
                   .path_len = (uint32_t)strlen(path),
                   .present = true};
  v.key_loc = v.loc;
  const char *s = pf__cfg_scalar(c, &v, &k);
  if (!s) {
    pf_jw_null(w);
    return false;
  }
  switch (k) {
  case PF__Y_NULL: pf_jw_null(w); break;
  case PF__Y_BOOL: pf_jw_bool(w, s[0] == 't' || s[0] == 'T'); break;
  case PF__Y_INT: {
    errno = 0;
    bool radix = s[0] == '0' && (s[1] == 'x' || s[1] == 'o');
    long long x = radix ? strtoll(s + 2, NULL, s[1] == 'x' ? 16 : 8) : strtoll(s, NULL, 10);
    if (errno == ERANGE)
      pf_jw_double(w, yaml_number(s));
    else
      pf_jw_int(w, x);
    break;
  }
  case PF__Y_FLOAT: {
    double d = yaml_number(s);
    if (!isfinite(d)) {
      pf__cfg_err(c, v.loc, path, "%s cannot be represented in JSON", s);
      pf_jw_null(w);
      return false;
    }
    pf_jw_double(w, d);
    break;
  }
  default: pf_jw_strz(w, s); break;
  }
  return true;
}

const char *pf__cfg_json(pf__cfg_ctx *c, const pf__cfg_val *v) {
  if (!v->present)
    return NULL;
  pf_buf b = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &b);
  bool ok = pf__cfg_write_json(c, &w, v->node, v->path, v->loc);
  const char *r = NULL;
  if (b.failed)
    c->oom = true;
  else if (ok)
    r = pf__cfg_strdup(c, b.data ? b.data : "", b.len);
  pf_buf_free(&b);
  return r;
}

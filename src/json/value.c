/* The read-only value view over a parsed document. */
#include <math.h>
#include <string.h>

#include "base/round.h"
#include "json/internal.h"

pf_json_type pf_json_typeof(const pf_json *v) { return v ? (pf_json_type)v->type : PF_JSON_NONE; }

const char *pf_json_type_name(pf_json_type t) {
  switch (t) {
  case PF_JSON_NULL: return "null";
  case PF_JSON_BOOL: return "boolean";
  case PF_JSON_INT:
  case PF_JSON_UINT: return "integer";
  case PF_JSON_REAL: return "number";
  case PF_JSON_STRING: return "string";
  case PF_JSON_ARRAY: return "array";
  case PF_JSON_OBJECT: return "object";
  default: return "missing";
  }
}

const char *pf_json_str(const pf_json *v, size_t *len) {
  if (!v || v->type != PF_JSON_STRING)
    return NULL;
  if (len)
    *len = v->len;
  return v->v.s;
}

const char *pf_json_str_or(const pf_json *v, const char *def) {
  return v && v->type == PF_JSON_STRING ? v->v.s : def;
}

int64_t pf_json_int_or(const pf_json *v, int64_t def) {
  if (!v)
    return def;
  switch (v->type) {
  case PF_JSON_INT: return v->v.i;
  case PF_JSON_UINT: return def; /* > INT64_MAX by construction */
  case PF_JSON_REAL:
    /* -2^63 <= d < 2^63 and integral */
    if (v->v.d >= -9223372036854775808.0 && v->v.d < 9223372036854775808.0 &&
        pf__is_integral(v->v.d))
      return (int64_t)v->v.d;
    return def;
  default: return def;
  }
}

uint64_t pf_json_uint_or(const pf_json *v, uint64_t def) {
  if (!v)
    return def;
  switch (v->type) {
  case PF_JSON_INT: return v->v.i >= 0 ? (uint64_t)v->v.i : def;
  case PF_JSON_UINT: return v->v.u;
  case PF_JSON_REAL:
    if (v->v.d >= 0 && v->v.d < 18446744073709551616.0 && pf__is_integral(v->v.d))
      return (uint64_t)v->v.d;
    return def;
  default: return def;
  }
}

double pf_json_num_or(const pf_json *v, double def) {
  if (!v)
    return def;
  switch (v->type) {
  case PF_JSON_INT: return (double)v->v.i;
  case PF_JSON_UINT: return (double)v->v.u;
  case PF_JSON_REAL: return v->v.d;
  default: return def;
  }
}

bool pf_json_bool_or(const pf_json *v, bool def) {
  return v && v->type == PF_JSON_BOOL ? v->v.u != 0 : def;
}

size_t pf_json_len(const pf_json *v) {
  if (!v)
    return 0;
  switch (v->type) {
  case PF_JSON_STRING:
  case PF_JSON_ARRAY:
  case PF_JSON_OBJECT: return v->len;
  default: return 0;
  }
}

const pf_json *pf_json_getn(const pf_json *obj, const char *key, size_t keylen) {
  if (!obj || obj->type != PF_JSON_OBJECT)
    return NULL;
  const pf_json *k = obj + 1;
  for (uint32_t i = 0; i < obj->len; i++) {
    const pf_json *v = k + 1;
    if (k->len == keylen && pf__bytes_eq(k->v.s, key, keylen))
      return v;
    k = v + pf__json_span(v);
  }
  return NULL;
}

const pf_json *pf_json_get(const pf_json *obj, const char *key) {
  return key ? pf_json_getn(obj, key, strlen(key)) : NULL;
}

const pf_json *pf_json_at(const pf_json *arr, size_t i) {
  if (!arr || arr->type != PF_JSON_ARRAY || i >= arr->len)
    return NULL;
  const pf_json *e = arr + 1;
  while (i--)
    e += pf__json_span(e);
  return e;
}

const char *pf_json_get_str(const pf_json *obj, const char *key, const char *def) {
  return pf_json_str_or(pf_json_get(obj, key), def);
}
int64_t pf_json_get_int(const pf_json *obj, const char *key, int64_t def) {
  return pf_json_int_or(pf_json_get(obj, key), def);
}
double pf_json_get_num(const pf_json *obj, const char *key, double def) {
  return pf_json_num_or(pf_json_get(obj, key), def);
}
bool pf_json_get_bool(const pf_json *obj, const char *key, bool def) {
  return pf_json_bool_or(pf_json_get(obj, key), def);
}

pf_json_iter pf_json_iter_init(const pf_json *c) {
  pf_json_iter it = {NULL, 0, false};
  if (c && pf__json_is_container(c)) {
    it.cur = c + 1;
    it.left = c->len;
    it.object = c->type == PF_JSON_OBJECT;
  }
  return it;
}

bool pf_json_iter_next(pf_json_iter *it, const pf_json **key, const pf_json **val) {
  if (!it->left)
    return false;
  it->left--;
  const pf_json *k = NULL, *v = it->cur;
  if (it->object) {
    k = v;
    v = k + 1;
  }
  it->cur = v + pf__json_span(v);
  if (key)
    *key = k;
  if (val)
    *val = v;
  return true;
}

static bool key_eq(const pf_json *x, const pf_json *y) {
  return x->len == y->len && memcmp(x->v.s, y->v.s, x->len) == 0;
}

bool pf_json_equal(const pf_json *a, const pf_json *b) {
  if (!a || !b)
    return a == b;
  int an = pf_json_is_number_type((pf_json_type)a->type);
  int bn = pf_json_is_number_type((pf_json_type)b->type);
  if (an && bn) {
    if (a->type == b->type)
      return a->type == PF_JSON_REAL ? a->v.d == b->v.d : a->v.u == b->v.u;
    if (a->type != PF_JSON_REAL && b->type != PF_JSON_REAL)
      return false; /* INT vs UINT ranges do not overlap */
    const pf_json *r = a->type == PF_JSON_REAL ? a : b, *i = r == a ? b : a;
    if (i->type == PF_JSON_INT)
      return pf_json_int_or(r, 0) == i->v.i && pf_json_int_or(r, 1) == i->v.i;
    return pf_json_uint_or(r, 0) == i->v.u && pf_json_uint_or(r, 1) == i->v.u;
  }
  if (a->type != b->type)
    return false;
  switch (a->type) {
  case PF_JSON_NULL: return true;
  case PF_JSON_BOOL: return a->v.u == b->v.u;
  case PF_JSON_STRING: return a->len == b->len && memcmp(a->v.s, b->v.s, a->len) == 0;
  case PF_JSON_ARRAY: {
    if (a->len != b->len)
      return false;
    const pf_json *x = a + 1, *y = b + 1;
    for (uint32_t i = 0; i < a->len; i++) {
      if (!pf_json_equal(x, y))
        return false;
      x += pf__json_span(x);
      y += pf__json_span(y);
    }
    return true;
  }
  case PF_JSON_OBJECT: {
    if (a->len != b->len)
      return false;
    /* Members match by key; with duplicate keys (PF_JSON_DUP_ALLOW) the
     * n-th occurrence of a key in a matches the n-th in b. */
    pf_json_iter it = pf_json_iter_init(a);
    const pf_json *k, *v;
    while (pf_json_iter_next(&it, &k, &v)) {
      size_t nth = 0;
      pf_json_iter ia = pf_json_iter_init(a);
      const pf_json *k2;
      while (pf_json_iter_next(&ia, &k2, NULL) && k2 != k)
        nth += key_eq(k2, k);
      const pf_json *match = NULL;
      pf_json_iter ib = pf_json_iter_init(b);
      const pf_json *vb;
      while (pf_json_iter_next(&ib, &k2, &vb))
        if (key_eq(k2, k) && nth-- == 0) {
          match = vb;
          break;
        }
      if (!pf_json_equal(v, match))
        return false;
    }
    return true;
  }
  default: return false;
  }
}

/* The params DSL: `name: type` (required) or `name: {type, required,
 * default, description, enum, items, properties, validation}`, with the
 * JSON Schema spellings (minimum, maximum, minLength, maxLength, pattern)
 * accepted at the param level and inside `validation`. */
#include "config/internal.h"

#include <math.h>
#include <string.h>

#include "base/round.h"

enum {
  P_TYPE,
  P_REQUIRED,
  P_DEFAULT,
  P_DESCRIPTION,
  P_ENUM,
  P_ITEMS,
  P_PROPERTIES,
  P_VALIDATION,
  P_MIN,
  P_MAX,
  P_MINLEN,
  P_MAXLEN,
  P_PATTERN,
  P__N
};

static const pf__cfg_key param_keys[] = {
    {P_TYPE, "type", NULL, PF__T_STR, true},
    {P_REQUIRED, "required", NULL, PF__T_BOOL, false},
    {P_DEFAULT, "default", NULL, PF__T_ANY, false},
    {P_DESCRIPTION, "description", NULL, PF__T_STR, false},
    {P_ENUM, "enum", NULL, PF__T_LIST, false},
    {P_ITEMS, "items", NULL, PF__T_STR_OR_MAP, false},
    {P_PROPERTIES, "properties", NULL, PF__T_MAP, false},
    {P_VALIDATION, "validation", NULL, PF__T_MAP, false},
    {P_MIN, "minimum", "min", PF__T_NUM, false},
    {P_MAX, "maximum", "max", PF__T_NUM, false},
    {P_MINLEN, "minLength", "min_length", PF__T_INT, false},
    {P_MAXLEN, "maxLength", "max_length", PF__T_INT, false},
    {P_PATTERN, "pattern", NULL, PF__T_STR, false},
};

/* Same slots as the param level, so the two merge slot by slot. */
static const pf__cfg_key validation_keys[] = {
    {P_MIN, "min", "minimum", PF__T_NUM, false},
    {P_MAX, "max", "maximum", PF__T_NUM, false},
    {P_MINLEN, "min_length", "minLength", PF__T_INT, false},
    {P_MAXLEN, "max_length", "maxLength", PF__T_INT, false},
    {P_PATTERN, "pattern", NULL, PF__T_STR, false},
};

static const char *const type_names[] = {"string",  "integer", "number", "float",
                                         "boolean", "array",   "object"};
static const pf_param_type type_values[] = {PF_PARAM_STRING, PF_PARAM_INTEGER, PF_PARAM_NUMBER,
                                            PF_PARAM_NUMBER, PF_PARAM_BOOLEAN, PF_PARAM_ARRAY,
                                            PF_PARAM_OBJECT};

static const char *param_type_name(pf_param_type t) {
  switch (t) {
  case PF_PARAM_STRING: return "string";
  case PF_PARAM_INTEGER: return "integer";
  case PF_PARAM_NUMBER: return "number";
  case PF_PARAM_BOOLEAN: return "boolean";
  case PF_PARAM_ARRAY: return "array";
  case PF_PARAM_OBJECT: return "object";
  }
  return "?";
}

static bool parse_type(pf__cfg_ctx *c, const pf__cfg_val *v, pf_param_type *out) {
  int i = pf__cfg_enum(c, v, type_names, PF__NELEM(type_names), false);
  if (i < 0)
    return false;
  *out = type_values[i];
  return true;
}

static bool json_matches(const pf_json *j, pf_param_type t) {
  pf_json_type jt = pf_json_typeof(j);
  switch (t) {
  case PF_PARAM_STRING: return jt == PF_JSON_STRING;
  case PF_PARAM_INTEGER:
    if (jt == PF_JSON_REAL) {
      double d = pf_json_num_or(j, 0.5);
      return pf__is_integral(d);
    }
    return jt == PF_JSON_INT || jt == PF_JSON_UINT;
  case PF_PARAM_NUMBER: return pf_json_is_number_type(jt);
  case PF_PARAM_BOOLEAN: return jt == PF_JSON_BOOL;
  case PF_PARAM_ARRAY: return jt == PF_JSON_ARRAY;
  case PF_PARAM_OBJECT: return jt == PF_JSON_OBJECT;
  }
  return false;
}

/* A value (default or enum member) as JSON text, type-checked; NULL after
 * reporting. *parsed gets the value for further checks. */
static const char *typed_json(pf__cfg_ctx *c, const pf__cfg_val *v, pf_param_type t,
                              const char *what, const pf_json **parsed) {
  const char *text = pf__cfg_json(c, v);
  if (!text)
    return NULL;
  const pf_json *j = pf_json_parse_copy(text, strlen(text), c->scratch, NULL, NULL);
  if (!j) {
    c->oom = true;
    return NULL;
  }
  if (!json_matches(j, t)) {
    const char *got = pf_json_type_name(pf_json_typeof(j));
    const char *article = strcmp(got, "null") == 0 ? "" : strchr("aeiou", got[0]) ? "an " : "a ";
    pf__cfg_err(c, v->loc, v->path, "%s is %s%s, but the param's type is %s", what, article, got,
                param_type_name(t));
    return NULL;
  }
  *parsed = j;
  return text;
}

static void parse_param(pf__cfg_ctx *c, const pf__cfg_val *v, const char *name, bool is_items,
                        pf_cfg_param *p);

static void parse_complex(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_param *p) {
  pf__cfg_val k[P__N], val[P__N];
  pf__cfg_map(c, v, param_keys, PF__NELEM(param_keys), k, P__N, NULL, NULL);
  bool typed = k[P_TYPE].present && parse_type(c, &k[P_TYPE], &p->type);
  p->required = k[P_REQUIRED].present ? pf__cfg_bool(c, &k[P_REQUIRED], false) : false;
  p->description = pf__cfg_str(c, &k[P_DESCRIPTION]);

  /* Constraints: either spelling, at the param level or in validation. */
  if (k[P_VALIDATION].present) {
    pf__cfg_map(c, &k[P_VALIDATION], validation_keys, PF__NELEM(validation_keys), val, P__N, NULL,
                NULL);
    for (int s = P_MIN; s <= P_PATTERN; s++) {
      if (!val[s].key)
        continue;
      if (k[s].key) {
        pf__cfg_err(c, val[s].key_loc, k[P_VALIDATION].path,
                    "'%s' is also given at the param level as '%s'", val[s].key, k[s].key);
        continue;
      }
      k[s] = val[s];
    }
  }
  if (!typed)
    return; /* the checks below all depend on the type */
  bool numeric = p->type == PF_PARAM_INTEGER || p->type == PF_PARAM_NUMBER;
  bool string = p->type == PF_PARAM_STRING;
  static const char *const applies_num = "integer and number";
  struct {
    int slot;
    bool ok;
    const char *kinds;
  } fit[] = {{P_MIN, numeric, applies_num},
             {P_MAX, numeric, applies_num},
             {P_MINLEN, string, "string"},
             {P_MAXLEN, string, "string"},
             {P_PATTERN, string, "string"},
             {P_ITEMS, p->type == PF_PARAM_ARRAY, "array"},
             {P_PROPERTIES, p->type == PF_PARAM_OBJECT, "object"}};
  for (size_t i = 0; i < PF__NELEM(fit); i++) {
    pf__cfg_val *f = &k[fit[i].slot];
    if (f->present && !fit[i].ok) {
      pf__cfg_err(c, f->key_loc, f->path, "'%s' applies to %s params, not %s", f->key, fit[i].kinds,
                  param_type_name(p->type));
      f->present = false;
    }
  }
  if (k[P_MIN].present)
    p->has_min = pf__cfg_num(c, &k[P_MIN], &p->min);
  if (k[P_MAX].present)
    p->has_max = pf__cfg_num(c, &k[P_MAX], &p->max);
  if (p->has_min && p->has_max && p->min > p->max)
    pf__cfg_err(c, k[P_MAX].loc, k[P_MAX].path, "%s (%g) is less than %s (%g)", k[P_MAX].key,
                p->max, k[P_MIN].key, p->min);
  int64_t n;
  if (k[P_MINLEN].present && pf__cfg_int(c, &k[P_MINLEN], 0, INT32_MAX, &n))
    p->min_length = n;
  if (k[P_MAXLEN].present && pf__cfg_int(c, &k[P_MAXLEN], 0, INT32_MAX, &n))
    p->max_length = n;
  if (p->min_length >= 0 && p->max_length >= 0 && p->min_length > p->max_length)
    pf__cfg_err(c, k[P_MAXLEN].loc, k[P_MAXLEN].path, "%s (%lld) is less than %s (%lld)",
                k[P_MAXLEN].key, (long long)p->max_length, k[P_MINLEN].key,
                (long long)p->min_length);
  if (k[P_PATTERN].present) {
    p->pattern = pf__cfg_str(c, &k[P_PATTERN]);
    if (p->pattern && !*p->pattern) {
      pf__cfg_err(c, k[P_PATTERN].loc, k[P_PATTERN].path, "pattern must not be empty");
      p->pattern = NULL;
    }
  }

  if (k[P_ITEMS].present) {
    p->items = pf_arena_calloc(c->a, 1, sizeof *p->items);
    if (!p->items) {
      c->oom = true;
      return;
    }
    parse_param(c, &k[P_ITEMS], NULL, true, p->items);
  }
  if (k[P_PROPERTIES].present)
    pf__cfg_params(c, &k[P_PROPERTIES], &p->properties, &p->nproperties);

  /* enum, then default (which must be one of the enum values). */
  const pf_json **members = NULL;
  size_t nmembers = 0;
  if (k[P_ENUM].present) {
    pf__cfg_val *e = &k[P_ENUM];
    size_t cnt = pf__cfg_count(e);
    if (cnt == 0) {
      pf__cfg_err(c, e->loc, e->path, "enum must not be empty");
    } else {
      members = pf_arena_calloc(c->scratch, cnt, sizeof *members);
      bool ok = members != NULL;
      size_t i = 0;
      for (pf__ynode *item = pf__y_items(e->node); members && item; item = item->next) {
        pf__cfg_val iv = pf__cfg_item(c, e, item, i++);
        const pf_json *j = NULL;
        if (typed_json(c, &iv, p->type, "enum value", &j))
          members[nmembers++] = j;
        else
          ok = false;
      }
      if (ok)
        p->enum_json = pf__cfg_json(c, e);
      else
        nmembers = 0;
    }
  }
  if (k[P_DEFAULT].present) {
    const pf_json *d = NULL;
    pf__cfg_val *dv = &k[P_DEFAULT];
    p->default_json = typed_json(c, dv, p->type, "default", &d);
    if (d && nmembers) {
      bool found = false;
      for (size_t i = 0; i < nmembers && !found; i++)
        found = pf_json_equal(d, members[i]);
      if (!found)
        pf__cfg_err(c, dv->loc, dv->path, "default %s is not one of the enum values",
                    p->default_json);
    }
    if (d && numeric) {
      double x = pf_json_num_or(d, 0);
      if ((p->has_min && x < p->min) || (p->has_max && x > p->max))
        pf__cfg_err(c, dv->loc, dv->path, "default %s is outside %s..%s", p->default_json,
                    p->has_min ? k[P_MIN].key : "", p->has_max ? k[P_MAX].key : "");
    }
  }
}

static void parse_param(pf__cfg_ctx *c, const pf__cfg_val *v, const char *name, bool is_items,
                        pf_cfg_param *p) {
  p->name = name ? pf__cfg_strdup(c, name, strlen(name)) : NULL;
  p->min_length = p->max_length = -1;
  p->loc = is_items ? v->loc : v->key_loc;
  pf__ykind k = pf__cfg_kind(v->node);
  if (k == PF__Y_MAP) {
    parse_complex(c, v, p);
  } else if (k == PF__Y_STR) {
    parse_type(c, v, &p->type);
    p->required = !is_items;
  } else {
    pf__cfg_type_error(c, v, "a type name or a map");
  }
}

void pf__cfg_params(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_param **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!v->present)
    return;
  if (pf__cfg_kind(v->node) == PF__Y_NULL)
    return;
  if (pf__cfg_kind(v->node) != PF__Y_MAP) {
    pf__cfg_type_error(c, v, "a map of parameters");
    return;
  }
  size_t cnt;
  pf_cfg_param *ps = pf__cfg_alloc_items(c, v, sizeof *ps, &cnt);
  if (!ps)
    return;
  size_t i = 0;
  for (const pf__ynode *kn = pf__y_keys(v->node); kn; kn = kn->next) {
    pf__cfg_val e = pf__cfg_entry(c, v, kn);
    if (!*e.key) {
      pf__cfg_err(c, e.key_loc, v->path, "a parameter name must not be empty");
      continue;
    }
    parse_param(c, &e, e.key, false, &ps[i++]);
  }
  *out = ps;
  *n = i;
}

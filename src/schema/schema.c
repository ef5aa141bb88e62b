#include "schema/schema.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <pforge/error.h>
#include <pforge/json.h>

#include "base/round.h"

static const char *const type_names[] = {
    [PF_PARAM_STRING] = "string",   [PF_PARAM_INTEGER] = "integer", [PF_PARAM_NUMBER] = "number",
    [PF_PARAM_BOOLEAN] = "boolean", [PF_PARAM_ARRAY] = "array",     [PF_PARAM_OBJECT] = "object",
};

/* "print integral bounds as integers" also beyond 2^53, where
 * pf_jw_double() would switch to exponent notation. */
static void write_bound(pf_json_writer *w, double v) {
  if (pf__is_integral(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0)
    pf_jw_int(w, (int64_t)v);
  else
    pf_jw_double(w, v);
}

static void write_lengths(pf_json_writer *w, const pf_cfg_param *p, const char *kmin, size_t lmin,
                          const char *kmax, size_t lmax) {
  if (p->min_length >= 0) {
    pf_jw_key(w, kmin, lmin);
    pf_jw_int(w, p->min_length);
  }
  if (p->max_length >= 0) {
    pf_jw_key(w, kmax, lmax);
    pf_jw_int(w, p->max_length);
  }
}

static int write_object_body(pf_json_writer *w, const pf_cfg_param *params, size_t n, int depth);

static int write_param(pf_json_writer *w, const pf_cfg_param *p, int depth) {
  if (depth > PF_SCHEMA_MAX_DEPTH || (unsigned)p->type > PF_PARAM_OBJECT)
    return -PF_EINVAL;
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "type");
  pf_jw_strz(w, type_names[p->type]);
  if (p->description) {
    PF_JW_KEY(w, "description");
    pf_jw_strz(w, p->description);
  }
  if (p->enum_json) {
    PF_JW_KEY(w, "enum");
    pf_jw_raw(w, p->enum_json, strlen(p->enum_json));
  }
  if (p->default_json) {
    PF_JW_KEY(w, "default");
    pf_jw_raw(w, p->default_json, strlen(p->default_json));
  }
  int rc = 0;
  switch (p->type) {
  case PF_PARAM_INTEGER:
  case PF_PARAM_NUMBER:
    if (p->has_min) {
      PF_JW_KEY(w, "minimum");
      write_bound(w, p->min);
    }
    if (p->has_max) {
      PF_JW_KEY(w, "maximum");
      write_bound(w, p->max);
    }
    break;
  case PF_PARAM_STRING:
    write_lengths(w, p, "minLength", 9, "maxLength", 9);
    if (p->pattern) {
      PF_JW_KEY(w, "pattern");
      pf_jw_strz(w, p->pattern);
    }
    break;
  case PF_PARAM_ARRAY:
    write_lengths(w, p, "minItems", 8, "maxItems", 8);
    if (p->items) {
      PF_JW_KEY(w, "items");
      rc = write_param(w, p->items, depth + 1);
    }
    break;
  case PF_PARAM_OBJECT:
    write_lengths(w, p, "minProperties", 13, "maxProperties", 13);
    if (p->nproperties) {
      if (!p->properties)
        return -PF_EINVAL;
      rc = write_object_body(w, p->properties, p->nproperties, depth + 1);
    }
    break;
  case PF_PARAM_BOOLEAN: break;
  }
  pf_jw_obj_end(w);
  return rc;
}

/* properties / required / additionalProperties, inside an open object. */
static int write_object_body(pf_json_writer *w, const pf_cfg_param *params, size_t n, int depth) {
  size_t nreq = 0;
  if (n) {
    PF_JW_KEY(w, "properties");
    pf_jw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
      const char *name = params[i].name ? params[i].name : "";
      pf_jw_key(w, name, strlen(name));
      int rc = write_param(w, &params[i], depth);
      if (rc)
        return rc;
      nreq += params[i].required;
    }
    pf_jw_obj_end(w);
  }
  if (nreq) {
    PF_JW_KEY(w, "required");
    pf_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++)
      if (params[i].required)
        pf_jw_strz(w, params[i].name ? params[i].name : "");
    pf_jw_arr_end(w);
  }
  PF_JW_KEY(w, "additionalProperties");
  pf_jw_bool(w, false);
  return 0;
}

int pf_schema_from_params(const pf_cfg_param *params, size_t n, pf_buf *out) {
  if (n && !params)
    return -PF_EINVAL;
  pf_json_writer w;
  pf_jw_init(&w, out);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "type");
  pf_jw_str(&w, "object", 6);
  int rc = write_object_body(&w, params, n, 1);
  pf_jw_obj_end(&w);
  if (rc)
    return rc;
  return out->failed ? -PF_ENOMEM : 0;
}

/* Params DSL -> JSON Schema text.
 *
 * A tool written with the `params` DSL gets its `inputSchema` from
 * pf_schema_from_params(); the text is produced once per tool at load and
 * kept pre-serialized (for tools/list) and compiled (pf_validator_compile).
 *
 * Output (compact, deterministic, declaration order preserved):
 *   {"type":"object","properties":{...},"required":[...],"additionalProperties":false}
 * "required" is omitted when no parameter is required; with no parameters
 * the schema is {"type":"object","additionalProperties":false}, the form
 * MCP recommends for tools without arguments.
 *
 * Each parameter becomes, in this key order (keys that do not apply are
 * left out):
 *   type         string|integer|number|boolean|array|object
 *   description
 *   enum         enum_json, spliced verbatim
 *   default      default_json, spliced verbatim
 *   minimum, maximum           integer and number params (has_min/has_max);
 *                              integral bounds print as integers ("100")
 *   minLength, maxLength       string params  (min_length/max_length >= 0)
 *   minItems, maxItems         array params   (min_length/max_length >= 0)
 *   minProperties, maxProperties  object params (min_length/max_length >= 0)
 *   pattern      string params only
 *   items        array params: the `items` param, converted the same way
 *   properties, required, additionalProperties:false
 *                object params with at least one property; an object param
 *                without properties is a free-form object ({"type":"object"})
 * Bounds, lengths and patterns given on a type they do not apply to are
 * ignored (JSON Schema would ignore them too).
 */
#ifndef PF_SCHEMA_SCHEMA_H
#define PF_SCHEMA_SCHEMA_H

#include <stddef.h>

#include <pforge/buf.h>

#include "config/config.h"

/* Nesting deeper than this (items/properties) is rejected with -PF_EINVAL. */
#define PF_SCHEMA_MAX_DEPTH 64

/* Appends the inputSchema for params[0..n) to `out` (params may be NULL
 * when n is 0). enum_json and default_json must be compact JSON values
 * (the config loader produces them). Returns 0, -PF_EINVAL (too deep, or
 * params NULL with n > 0) or -PF_ENOMEM (out->failed is set). On error
 * `out` may hold a partial schema. Thread-safe (touches only `out`). */
int pf_schema_from_params(const pf_cfg_param *params, size_t n, pf_buf *out);

#endif

/* Private to src/config: the loader's context, the key-table walker and the
 * typed getters shared by load.c, params.c, tools.c, resources.c and
 * prompts.c.
 *
 * Every mapping level of pforge.yaml has one table of pf__cfg_key rows.
 * pf__cfg_map() checks a YAML map against its table (unknown keys, both
 * spellings of one key, structural types, required keys) and files each
 * value under its row's slot; the getters then check scalar types, expand
 * ${VAR} and copy into the config's arena. Every check reports through
 * pf__cfg_err() and carries on, so one run finds every problem.
 */
#ifndef PF_CONFIG_INTERNAL_H
#define PF_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pforge/buf.h>
#include <pforge/json.h>

#include "config/config.h"
#include "config/yaml.h"

typedef struct pf__cfg_diag pf__cfg_diag;

typedef struct pf__cfg_ctx {
  pf_config *cfg;
  pf_arena *a;       /* the config's arena: the model */
  pf_arena *scratch; /* key paths, messages; freed when loading ends */
  const char *file;  /* in the arena; what diagnostics print */
  pf__cfg_diag *diags;
  size_t ndiags;
  bool oom;
} pf__cfg_ctx;

/* What a value must look like, checked by pf__cfg_map(). Scalars are only
 * checked to be scalars there; the getters check booleans and numbers
 * (after ${VAR} expansion, so `timeout_ms: ${T:-500}` works). */
typedef enum pf__cfg_type {
  PF__T_ANY,
  PF__T_STR,
  PF__T_BOOL,
  PF__T_INT,
  PF__T_NUM,
  PF__T_MAP,
  PF__T_LIST,
  PF__T_STR_OR_MAP,
  PF__T_STR_OR_LIST,
  PF__T_MAP_OR_LIST
} pf__cfg_type;

/* One known key. `alias` is a second spelling of the same key (the
 * original pforge's or JSON Schema's); giving both is an error. */
typedef struct pf__cfg_key {
  int slot;
  const char *name, *alias;
  pf__cfg_type type;
  bool required;
} pf__cfg_key;

/* A value found in a map (or a list item). `node` is NULL for an empty
 * YAML value (`key:` with nothing after it). */
typedef struct pf__cfg_val {
  pf__ynode *node;
  pf_cfg_loc loc;     /* the value's position (the key's when it has none) */
  pf_cfg_loc key_loc; /* the key's position */
  const char *path;   /* full key path: tools[1].params.a */
  uint32_t path_len;  /* strlen(path) */
  const char *key;    /* the spelling used */
  bool present;       /* found, and of an acceptable structural type */
} pf__cfg_val;

/* Optional hook for unknown keys: returns a better message than
 * "unknown key" (e.g. a key of another tool kind), or NULL. */
typedef const char *(*pf__cfg_explain_fn)(pf__cfg_ctx *c, const char *key, void *ud);

/* Kinds of YAML values, scalars classified by the YAML 1.2 core schema
 * (only plain scalars can be null, booleans or numbers). */
typedef enum pf__ykind {
  PF__Y_NULL,
  PF__Y_BOOL,
  PF__Y_INT,
  PF__Y_FLOAT,
  PF__Y_STR,
  PF__Y_MAP,
  PF__Y_LIST
} pf__ykind;

void pf__cfg_err(pf__cfg_ctx *c, pf_cfg_loc loc, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The collected problems, most recent first (load.c sorts them). */
size_t pf__cfg_diag_list(pf__cfg_ctx *c, const pf__cfg_diag **out, size_t max);
const char *pf__cfg_diag_text(const pf__cfg_diag *d, uint32_t *line, uint32_t *col);
/* "expected <expected>, got <kind of v>" at v. */
void pf__cfg_type_error(pf__cfg_ctx *c, const pf__cfg_val *v, const char *expected);

/* Position of a node: its own for scalars, its first key or item for
 * collections, `fallback` when it has none (empty value, `{}`, `[]`). */
pf_cfg_loc pf__cfg_loc(pf__cfg_ctx *c, const pf__ynode *n, pf_cfg_loc fallback);
pf__ykind pf__cfg_kind(const pf__ynode *n);
pf__ykind pf__cfg_kind_text(const char *s, size_t n);
/* "a map", "a list", "a string", "an integer", "a number", "a boolean", "null". */
const char *pf__cfg_kind_name(pf__ykind k);

/* Key paths and strings in the scratch arena. */
const char *pf__cfg_path_key(pf__cfg_ctx *c, const char *parent, const char *key);
const char *pf__cfg_path_idx(pf__cfg_ctx *c, const char *parent, size_t i);
char *pf__cfg_strdup(pf__cfg_ctx *c, const char *s, size_t n); /* model arena */

/* The closest of cands[] to word (edit distance <= 2, case or prefix
 * match), or NULL. */
const char *pf__cfg_suggest(const char *word, const char *const *cands, size_t n);

/* Checks map `in` against keys[]; out[] (nslots, zeroed here) receives each
 * value at its row's slot. Returns false (after reporting) when `in` is
 * present but not a map. `what` names the map in messages ("a native
 * tool"), may be NULL. */
bool pf__cfg_map(pf__cfg_ctx *c, const pf__cfg_val *in, const pf__cfg_key *keys, size_t nkeys,
                 pf__cfg_val *out, size_t nslots, pf__cfg_explain_fn explain, void *ud);

/* The i-th item of list `in` as a value. */
pf__cfg_val pf__cfg_item(pf__cfg_ctx *c, const pf__cfg_val *in, pf__ynode *item, size_t i);
/* The entry of map `in` whose key node is `key` (a scalar), for name -> spec
 * maps. */
pf__cfg_val pf__cfg_entry(pf__cfg_ctx *c, const pf__cfg_val *in, const pf__ynode *key);
size_t pf__cfg_count(const pf__cfg_val *v); /* items of a list or pairs of a map */
/* A zeroed array for v's items (at least one element), its count in *count;
 * NULL (and the context marked out of memory) on failure. */
void *pf__cfg_alloc_items(pf__cfg_ctx *c, const pf__cfg_val *v, size_t size, size_t *count);

/* Getters: NULL / false / def when the value is absent or invalid (after
 * reporting). Strings get ${VAR} expansion and live in the model arena. */
const char *pf__cfg_str(pf__cfg_ctx *c, const pf__cfg_val *v);
/* Expanded text of a scalar (model arena) and its kind after expansion. */
const char *pf__cfg_scalar(pf__cfg_ctx *c, const pf__cfg_val *v, pf__ykind *kind);
bool pf__cfg_bool(pf__cfg_ctx *c, const pf__cfg_val *v, bool def);
bool pf__cfg_int(pf__cfg_ctx *c, const pf__cfg_val *v, int64_t lo, int64_t hi, int64_t *out);
bool pf__cfg_num(pf__cfg_ctx *c, const pf__cfg_val *v, double *out);
/* Index of the value in names[] (case-insensitive when icase), or -1. */
int pf__cfg_enum(pf__cfg_ctx *c, const pf__cfg_val *v, const char *const *names, size_t n,
                 bool icase);
bool pf__cfg_strlist(pf__cfg_ctx *c, const pf__cfg_val *v, const char ***out, size_t *n);
bool pf__cfg_strmap(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_kv **out, size_t *n);
/* The node as compact JSON text (model arena), or NULL after reporting. */
const char *pf__cfg_json(pf__cfg_ctx *c, const pf__cfg_val *v);
/* Writes the node as JSON into w; false after reporting a problem. */
bool pf__cfg_write_json(pf__cfg_ctx *c, pf_json_writer *w, pf__ynode *n, const char *path,
                        pf_cfg_loc loc);

/* ${VAR} / ${VAR:-default} / $${ expansion into the model arena. */
char *pf__cfg_expand(pf__cfg_ctx *c, const char *s, size_t n, pf_cfg_loc loc, const char *path);

/* A set of names (in the scratch arena) for duplicate checks and lookups
 * by name over many entries: open addressing, names are not copied. */
typedef struct pf__cfg_names {
  const char **names;
  size_t *idx;
  size_t mask;
} pf__cfg_names;
/* Room for n names; false (context marked out of memory) on failure. */
bool pf__cfg_names_init(pf__cfg_ctx *c, pf__cfg_names *s, size_t n);
/* Adds name with index i, or returns the index already filed under it
 * (SIZE_MAX when it was new). */
size_t pf__cfg_names_put(pf__cfg_names *s, const char *name, size_t i);
/* The index filed under name, or SIZE_MAX. */
size_t pf__cfg_names_get(const pf__cfg_names *s, const char *name);

/* Blocks shared by several levels. */
const char *pf__cfg_icons(pf__cfg_ctx *c, const pf__cfg_val *v);
/* handler: {path} -> path and symbol (last `::` segment). */
bool pf__cfg_handler(pf__cfg_ctx *c, const pf__cfg_val *v, const char **path, const char **sym);

/* Resilience policy keys found at one level (each may be NULL or absent). */
typedef struct pf__cfg_policy_vals {
  const pf__cfg_val *timeout, *retry, *breaker, *bulkhead, *max_concurrent;
} pf__cfg_policy_vals;
/* Reads the policy keys present into p (policy.c). */
void pf__cfg_policy(pf__cfg_ctx *c, const pf__cfg_policy_vals *pv, pf_cfg_policy *p);
/* p's own groups over the defaults d. */
void pf__cfg_policy_inherit(pf_cfg_policy *p, const pf_cfg_policy *d);
/* Milliseconds, or a number with a unit: 250, "250ms", "1.5s", "2m". */
bool pf__cfg_duration(pf__cfg_ctx *c, const pf__cfg_val *v, uint32_t lo, uint32_t *out);

/* The sections. */
void pf__cfg_params(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_param **out, size_t *n);
void pf__cfg_tools(pf__cfg_ctx *c, const pf__cfg_val *v);
void pf__cfg_resources(pf__cfg_ctx *c, const pf__cfg_val *v);
void pf__cfg_prompts(pf__cfg_ctx *c, const pf__cfg_val *v);

#define PF__NELEM(a) (sizeof(a) / sizeof((a)[0]))

#endif

/* Private to src/config: the YAML tree the loader walks.
 *
 * pforge.yaml is read into a small tree of pf__ynode in the loader's
 * scratch arena. Two readers build it:
 *
 *   - pf__yaml_fast(): pforge's own reader for the YAML most configs are
 *     written in (block maps and lists indented with spaces, one-line plain
 *     and quoted scalars, one-line flow collections, comments, `---` at the
 *     top). It is ~20x faster than building a libfyaml document and never
 *     guesses: on anything outside that subset (anchors, tags, block or
 *     multi-line scalars, tabs, CR, duplicate keys, errors...) it declines
 *     and the loader falls back to
 *   - libfyaml (full YAML 1.2, its diagnostics for syntax errors), whose
 *     document pf__yaml_from_fy() copies into the same tree.
 *
 * Both give the same tree for every input the fast reader accepts (checked
 * by tests/unit/config_yaml.c over the examples and by fuzz/yaml.c over
 * arbitrary bytes).
 */
#ifndef PF_CONFIG_YAML_H
#define PF_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pforge/arena.h>

struct fy_node;

enum { PF__YN_SCALAR, PF__YN_MAP, PF__YN_LIST };

typedef struct pf__ynode pf__ynode;
struct pf__ynode {
  pf__ynode *next;  /* the next item of a list, or the next key of a map */
  pf__ynode *value; /* a map key's value; `key:` alone gives an empty plain
                       scalar with no position (or NULL) */
  pf__ynode *child; /* a collection's first item or first key */
  const char *text; /* a scalar's text, NUL-terminated (may hold NULs); "" else */
  uint32_t len;     /* a scalar's length in bytes */
  uint32_t count;   /* a collection's items or pairs */
  uint32_t line;    /* a scalar's position, 1-based: its first character, */
  uint32_t col;     /* or the opening quote of a quoted one; 0 otherwise */
  uint8_t type;     /* PF__YN_* */
  uint8_t kind;     /* pf__ykind (config/internal.h), resolved once */
  uint8_t plain;    /* plain style without a !!str tag: ${VAR} expansion
                       re-types it */
};

/* Iteration: `for (pf__ynode *i = pf__y_items(x); i; i = i->next)`, and for
 * maps `for (pf__ynode *k = pf__y_keys(x); k; k = k->next)` with k->value. */
static inline pf__ynode *pf__y_items(const pf__ynode *n) {
  return n && n->type == PF__YN_LIST ? n->child : NULL;
}
static inline pf__ynode *pf__y_keys(const pf__ynode *n) {
  return n && n->type == PF__YN_MAP ? n->child : NULL;
}

/* Fast reader: the tree of text[0..len) in arena a, or NULL when the text
 * is outside the subset above (or memory ran out; *oom tells). */
pf__ynode *pf__yaml_fast(pf_arena *a, const char *text, size_t len, bool *oom);

/* libfyaml's reading of text[0..len): false after errors (each passed to
 * err with its 1-based position: text that is not UTF-8, aliases expanding
 * beyond 1,000,000 nodes, YAML syntax) or when memory ran out (*oom).
 * Otherwise *out has the first document's tree (NULL: no content) and
 * whether a second document follows. */
typedef void (*pf__yaml_err_fn)(void *ud, uint32_t line, uint32_t col, const char *msg);
typedef struct pf__yaml_doc {
  pf__ynode *root;  /* NULL when the document is empty */
  pf__ynode *extra; /* the second document's root, when has_extra */
  bool has_extra;
} pf__yaml_doc;
bool pf__yaml_full(pf_arena *a, const char *text, size_t len, pf__yaml_doc *out,
                   pf__yaml_err_fn err, void *ud, bool *oom);

/* Copies a libfyaml node (resolved document) into arena a. NULL for a
 * NULL node; sets *oom on allocation failure. */
pf__ynode *pf__yaml_from_fy(pf_arena *a, struct fy_node *n, bool *oom);

/* Structural equality including positions and styles; for tests. On a
 * difference, writes a description into why (may be NULL). */
bool pf__yaml_equal(const pf__ynode *x, const pf__ynode *y, char *why, size_t whylen);

#endif

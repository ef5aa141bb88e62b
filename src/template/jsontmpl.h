/* JSON-aware templates: a JSON document whose string values and object
 * keys may hold {{...}} templates (template.h syntax), rendered to compact
 * JSON that is valid whatever the values are (http tools' body_template;
 * pipeline step inputs later).
 *
 * A string value that is exactly one {{path}} (whitespace inside the braces
 * allowed, nothing else in the string) is replaced by the value of path
 * with its JSON type kept: {"n": "{{count}}"} with count = 3 renders
 * {"n":3}; a missing value renders null. Any other string, and every key,
 * renders as a JSON string: its literal text as written (JSON escapes kept)
 * and its values escaped with PF_TMPL_JSON (quotes, control characters;
 * invalid UTF-8 becomes U+FFFD). Numbers, true, false and null are copied.
 * Whitespace between tokens is dropped.
 *
 * Inside a string, "\{{" is a literal "{{" (the template's escape); JSON's
 * own escapes ("\\", "\n", "\u00e9"...) are kept as written, so
 * "C:\\{{dir}}" is a backslash followed by dir.
 *
 * A compiled template is immutable: any number of threads may render it at
 * once.
 *
 *   pf_buf err = PF_BUF_INIT, out = PF_BUF_INIT;
 *   pf_jtmpl *t = pf_jtmpl_compile(text, len, &err);
 *   if (!t) fprintf(stderr, "body_template:%s\n", pf_buf_cstr(&err));
 *   pf_tmpl_ctx ctx = {.values = arguments};
 *   if (pf_jtmpl_render(t, &ctx, &out) == 0) ... out.data, out.len ...
 */
#ifndef PF_TEMPLATE_JSONTMPL_H
#define PF_TEMPLATE_JSONTMPL_H

#include <stddef.h>

#include <pforge/buf.h>

#include "template/template.h"

/* Nesting limit of the document (arrays and objects). */
#define PF_JTMPL_MAX_DEPTH 128

typedef struct pf_jtmpl pf_jtmpl;

/* Compiles json[0..len) (copied: the text need not outlive the result).
 * Returns the template, or NULL with "line:col: message" appended to err
 * (err may be NULL) when the text is not one valid JSON value (as
 * pf_json_parse sees it: strings valid UTF-8 without lone surrogate
 * escapes, numbers within a double's range) or a string holds an invalid
 * template; positions are in json, 1-based, columns in bytes. Free with
 * pf_jtmpl_free(). */
pf_jtmpl *pf_jtmpl_compile(const char *json, size_t len, pf_buf *err);

/* NULL is a no-op. */
void pf_jtmpl_free(pf_jtmpl *t);

/* Appends the compact JSON rendering of t to out. ctx is borrowed for the
 * call (see pf_tmpl_ctx; with ctx->strict a missing value is an error, also
 * for a typed "{{path}}"). Returns 0; -PF_EINVAL when strict and a value is
 * missing; -PF_ENOMEM when out failed to grow. On error out is restored to
 * its length on entry. Thread-safe on an immutable template. */
int pf_jtmpl_render(const pf_jtmpl *t, const pf_tmpl_ctx *ctx, pf_buf *out);

/* The distinct first path segments of every variable used (keys and
 * values), in order of first use, for param inference. The strings are
 * owned by t; i >= nvars gives NULL. */
size_t pf_jtmpl_nvars(const pf_jtmpl *t);
const char *pf_jtmpl_var(const pf_jtmpl *t, size_t i);

#endif

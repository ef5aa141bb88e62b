/* Text templates: a Handlebars/Mustache subset, compiled once at config
 * load and rendered many times (prompt messages now; cli argv, http urls
 * and bodies, pipeline inputs later).
 *
 * Syntax
 * ------
 *   literal text            copied as-is (never escaped)
 *   {{path}}                a value; whitespace inside the braces is allowed
 *   {{#if path}}..{{else}}..{{/if}}
 *   {{#unless path}}..{{else}}..{{/unless}}
 *   {{#each path}}..{{else}}..{{/each}}    arrays and objects; else when
 *                                          empty, missing or not a container
 *   {{! comment }}  {{!-- comment that may contain }} --}}
 *   \{{                     a literal "{{" (the backslash is dropped). A
 *                           backslash that is itself preceded by a backslash
 *                           does not escape: "\\{{x}}" is two backslashes and
 *                           then x, so JSON text like "C:\\{{dir}}" works.
 *
 * A path is dot-separated segments of [A-Za-z0-9_-]: `name`, `a.b.c`,
 * `items.0` (a numeric segment indexes an array, or is a key of an object).
 * The first segment may instead be `this` (the current #each element, or
 * the values object outside any #each), or one of the data variables of the
 * innermost #each: @index (0-based), @key (the member name; the index for
 * arrays), @first, @last. Data variables take no further segments and are
 * a compile error outside #each.
 *
 * Name resolution: the first segment of a path is looked up in the #each
 * elements that are objects, innermost first (Mustache's context stack),
 * then in ctx->values, then through ctx->lookup. Later segments descend.
 *
 * Values render as: strings their bytes; integers in decimal; reals the
 * shortest round-tripping decimal; true/false; null and missing as nothing;
 * arrays and objects as compact JSON. The escape mode applies to values
 * only, never to the template's own text.
 *
 * Truthiness (#if, #unless): missing, null, false, 0, "", [] and {} are
 * false; everything else is true.
 *
 * Limits: blocks nest at most PF_TMPL_MAX_DEPTH deep; templates are at most
 * UINT32_MAX - 1 bytes.
 *
 * A compiled template is immutable: any number of threads may render it at
 * once. Rendering does not recurse and allocates nothing but the growth of
 * `out` (serializing a container value nested deeper than 64 levels is the
 * one exception: the JSON writer then allocates its own stack).
 *
 *   pf_buf err = PF_BUF_INIT, out = PF_BUF_INIT;
 *   pf_tmpl *t = pf_tmpl_compile(text, len, &err);
 *   if (!t) fprintf(stderr, "template:%s\n", pf_buf_cstr(&err));
 *   pf_tmpl_ctx ctx = {.values = arguments};
 *   if (pf_tmpl_render(t, &ctx, PF_TMPL_RAW, &out) == 0) ... out.data ...
 */
#ifndef PF_TEMPLATE_TEMPLATE_H
#define PF_TEMPLATE_TEMPLATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pforge/buf.h>
#include <pforge/json.h>

#define PF_TMPL_MAX_DEPTH 64

typedef struct pf_tmpl pf_tmpl;

typedef enum pf_tmpl_escape {
  PF_TMPL_RAW = 0, /* values inserted as they are */
  PF_TMPL_JSON,    /* escaped for the inside of a JSON string literal
                      (pf_json_escape: invalid UTF-8 becomes U+FFFD) */
  PF_TMPL_URL      /* percent-encoded: everything but RFC 3986 unreserved
                      (ALPHA DIGIT - . _ ~), uppercase hex */
} pf_tmpl_escape;

/* Where and why compilation failed. */
typedef struct pf_tmpl_diag {
  size_t offset;      /* byte offset in the template text */
  unsigned line, col; /* 1-based; col counts bytes */
  char msg[256];      /* English, NUL-terminated, no position prefix */
} pf_tmpl_diag;

/* For the compilers of src/template (template, expr): fills d (when not
 * NULL) for a failure at byte `offset` of text: offset, 1-based line and
 * column, and the formatted message. */
void pf_tmpl_diag_vset(pf_tmpl_diag *d, const char *text, size_t offset, const char *fmt,
                       va_list ap) __attribute__((format(printf, 4, 0)));
/* 1-based line and column (in bytes) of byte `offset` of text. */
void pf_tmpl_line_col(const char *text, size_t offset, unsigned *line, unsigned *col);
/* Grows the array *p (elements of elsize bytes, capacity *cap) so that
 * index n fits: doubling, from 16. false when out of memory (*p kept). */
bool pf_tmpl_grow(void **p, uint32_t *cap, uint32_t n, size_t elsize);

/* Compiles text[0..len) (copied: the text need not outlive the result).
 * Returns the template, or NULL with "line:col (byte N): message" appended
 * to err (err may be NULL). Free with pf_tmpl_free(). */
pf_tmpl *pf_tmpl_compile(const char *text, size_t len, pf_buf *err);

/* Same, reporting the failure as a structure (diag may be NULL); for
 * callers that map the offset into a larger file. */
pf_tmpl *pf_tmpl_compile_diag(const char *text, size_t len, pf_tmpl_diag *diag);

/* NULL is a no-op. */
void pf_tmpl_free(pf_tmpl *t);

/* What names resolve against. Every member may be NULL / zero; a NULL
 * context renders every variable as missing. Borrowed for the call. */
typedef struct pf_tmpl_ctx {
  const pf_json *values; /* an object (e.g. the call's arguments), or NULL */
  /* Consulted for a first segment that `values` lacks (e.g. schema
   * defaults); returns a borrowed value or NULL. name is not
   * NUL-terminated. */
  const pf_json *(*lookup)(void *ud, const char *name, size_t len);
  void *ud;
  /* A {{path}} that resolves to nothing is an error instead of empty text.
   * (#if/#unless/#each test presence, so they never fail.) */
  bool strict;
  /* When not NULL, receives the message of a failed render, e.g.
   * "missing variable 'user.name' at 1:7". */
  pf_buf *err;
} pf_tmpl_ctx;

/* Appends the rendering of t to out. Returns 0; -PF_EINVAL when strict
 * and a variable is missing (out is restored to its length on entry);
 * -PF_ENOMEM when out failed to grow (out->failed is set). */
int pf_tmpl_render(const pf_tmpl *t, const pf_tmpl_ctx *ctx, pf_tmpl_escape esc, pf_buf *out);

/* The distinct first segments of the paths used outside any #each element
 * scope (paths starting with `this` or @ excluded), in order of first use:
 * "Hello {{user.name}}{{#each items}}{{x}}{{/each}}" gives user, items.
 * The strings are owned by t. i >= nvars gives NULL. */
size_t pf_tmpl_nvars(const pf_tmpl *t);
const char *pf_tmpl_var(const pf_tmpl *t, size_t i);

/* True when the template is exactly one {{path}} (comments aside) and no
 * other text; *path (when path is not NULL) then receives the path as
 * written, trimmed ("a.b"), owned by t. */
bool pf_tmpl_is_single_var(const pf_tmpl *t, const char **path);

/* For a single-variable template: the value its path resolves to (borrowed
 * from ctx's values), or NULL when missing or when t is not a single
 * variable. Lets a caller substitute the typed value instead of its text. */
const pf_json *pf_tmpl_single_value(const pf_tmpl *t, const pf_tmpl_ctx *ctx);

#endif

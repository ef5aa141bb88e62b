/* RFC 6570 level-1 URI templates, for resource templates: "{var}" is
 * simple string expansion, and nothing else (no operators, no prefix or
 * explode modifiers, one variable per expression).
 *
 *   pf_buf err = PF_BUF_INIT;
 *   pf_uritmpl *t = pf_uritmpl_compile("notes://{folder}/{id}", 21, &err);
 *   const char *v[2]; size_t n[2];
 *   if (pf_uritmpl_match(t, uri, urilen, request_arena, v, n)) ... v[0] ...
 *
 * Matching rule
 * -------------
 * Literals match exactly (bytes); each variable matches one or more bytes.
 * Variables prefer not to span '/': when the URI matches with no variable
 * containing a raw '/', that is the match (a '/' inside a value then
 * arrives as %2F, which is how expansion writes it). Only when no such
 * match exists may a variable span '/', because the literal after it (or
 * the end of the template) requires it. Where several splits remain, each
 * variable, leftmost first, takes the longest value that lets the rest
 * match (like the regex ^lit(.+)lit(.+)lit$):
 *
 *   test://template/{id}/data  test://template/42/data   id = "42"
 *   test://template/{id}/data  test://template/a%2Fb/data id = "a/b"
 *   test://template/{id}/data  test://template/a/b/data  id = "a/b"
 *   file:///{path}             file:///etc/hosts         path = "etc/hosts"
 *   notes://{folder}/{id}      notes://work/7            folder = "work", id = "7"
 *   notes://{folder}/{id}      notes://a/b/c             folder = "a/b", id = "c"
 *   notes://{folder}/{id}      notes://work/             no match (empty id)
 *
 * Values are percent-decoded; a '%' not followed by two hex digits makes
 * the match fail. Matching is a dynamic program over (variable, position),
 * O(len * literal length) per variable: a hostile URI cannot make it
 * backtrack exponentially.
 *
 * A compiled template is immutable and may be shared between threads.
 */
#ifndef PF_TEMPLATE_URI_H
#define PF_TEMPLATE_URI_H

#include <stdbool.h>
#include <stddef.h>

#include <pforge/arena.h>
#include <pforge/buf.h>

/* Templates with more variables are rejected at compile time. */
#define PF_URITMPL_MAX_VARS 32

typedef struct pf_uritmpl pf_uritmpl;

/* Compiles tmpl[0..len) (copied). Returns NULL with
 * "byte N: message" appended to err (err may be NULL) when the text is not
 * a level-1 template: unclosed '{', stray '}', empty or invalid variable
 * name, an operator or modifier (level 2-4), a duplicate variable, or two
 * variables with no literal between them. Free with pf_uritmpl_free(). */
pf_uritmpl *pf_uritmpl_compile(const char *tmpl, size_t len, pf_buf *err);

/* NULL is a no-op. */
void pf_uritmpl_free(pf_uritmpl *t);

/* Variables in template order; names as written (NUL-terminated, owned by
 * t). i >= nvars gives NULL. */
size_t pf_uritmpl_nvars(const pf_uritmpl *t);
const char *pf_uritmpl_var(const pf_uritmpl *t, size_t i);

/* Appends the expansion to out: values[i] (lens[i] bytes; lens NULL means
 * NUL-terminated) for variable i, percent-encoded except RFC 3986
 * unreserved characters; a NULL value is undefined and expands to nothing.
 * values may be NULL when there are no variables.
 * Returns 0, or -PF_ENOMEM (out->failed is set). */
int pf_uritmpl_expand(const pf_uritmpl *t, const char *const *values, const size_t *lens,
                      pf_buf *out);

/* Matches uri[0..len) against t (see "Matching rule"). On success fills
 * values[i] / lens[i] for every variable with its percent-decoded value,
 * NUL-terminated, allocated in `a` (valid until its reset), and returns
 * true. Returns false when the URI does not match, has an invalid percent
 * escape in a value, or the arena is out of memory. values and lens must
 * have room for pf_uritmpl_nvars(t) entries. */
bool pf_uritmpl_match(const pf_uritmpl *t, const char *uri, size_t len, pf_arena *a,
                      const char **values, size_t *lens);

/* True when s[0..len) contains '{': a template rather than a plain URI. */
bool pf_uritmpl_is_template(const char *s, size_t len);

/* Percent-encodes s[0..n) into out: everything but ALPHA DIGIT - . _ ~
 * becomes %XX (uppercase hex). Shared with the text templates' URL mode. */
void pf__uri_pct_encode(pf_buf *out, const char *s, size_t n);

#endif

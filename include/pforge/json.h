/* pforge JSON: a strict RFC 8259 parser with a read-only value view, and a
 * streaming writer.
 *
 * Parsing
 * -------
 * pf_json_parse() parses in situ: it unescapes strings inside the caller's
 * buffer and NUL-terminates them there, and puts the values in an arena. No
 * heap memory is allocated per value; the buffer and the arena must outlive
 * every pf_json pointer taken from the result.
 *
 *   pf_arena *a = pf_arena_create(0);
 *   pf_json_error err;
 *   const pf_json *root = pf_json_parse(buf, len, a, NULL, &err);
 *   if (!root) fprintf(stderr, "at byte %zu: %s\n", err.offset, err.msg);
 *   const char *m = pf_json_get_str(root, "method", NULL);
 *   int64_t id = pf_json_get_int(root, "id", -1);
 *
 * What is accepted is exactly RFC 8259 JSON text (any value at the top
 * level, surrounded by optional whitespace), in UTF-8:
 *   - invalid UTF-8 (overlong forms, surrogates encoded in UTF-8, code points
 *     above U+10FFFF, truncated sequences) is rejected everywhere;
 *   - \u escapes must form valid code points: a lone or reversed surrogate
 *     is rejected; \u0000 is accepted (the string then contains a NUL byte,
 *     so use the length pf_json_str() reports);
 *   - raw control characters (U+0000..U+001F) in strings are rejected;
 *   - numbers follow the JSON grammar (no leading zeros, '+', '.5', '1.',
 *     hex, NaN or Infinity); a number that would round to infinity is
 *     rejected with PF_EJSON_NUMBER;
 *   - anything after the value but whitespace is rejected;
 *   - a byte order mark is rejected (RFC 8259 section 8.1 allows this).
 * Duplicate object keys: rejected by default (PF_JSON_DUP_REJECT), which
 * stops two parties from reading different values out of the same message.
 * With PF_JSON_DUP_ALLOW they are kept: pf_json_get() returns the first,
 * iteration sees all of them in document order.
 *
 * Numbers: an integer literal (no fraction, no exponent) that fits int64 is
 * PF_JSON_INT; one in (INT64_MAX, UINT64_MAX] is PF_JSON_UINT; any other
 * number is PF_JSON_REAL, the double nearest to the decimal text (correctly
 * rounded, ties to even).
 *
 * The parser never recurses on the C stack; nesting deeper than max_depth is
 * an error (PF_EJSON_DEPTH), as is text longer than max_size.
 *
 * Reading
 * -------
 * Every accessor accepts NULL and a value of the wrong type, returning the
 * default it was given, so lookups chain without checks:
 *   pf_json_get_num(pf_json_get(params, "arguments"), "a", 0.0)
 *
 * Writing
 * -------
 * pf_json_writer appends compact JSON (never a newline) to a pf_buf. Commas
 * are inserted automatically. Strings are escaped so the output is always
 * valid JSON: '"', '\\' and control characters are escaped, and any byte
 * sequence that is not valid UTF-8 is replaced by U+FFFD, one per maximal
 * invalid subpart (the Unicode "substitution of maximal subparts" practice).
 *
 *   pf_buf out = PF_BUF_INIT;
 *   pf_json_writer w;
 *   pf_jw_init(&w, &out);
 *   pf_jw_obj_begin(&w);
 *   pf_jw_key(&w, "sum", 3);
 *   pf_jw_double(&w, 0.1 + 0.2);     // 0.30000000000000004
 *   pf_jw_obj_end(&w);               // {"sum":0.30000000000000004}
 *
 * Out of memory makes out->failed true; check it once at the end.
 */
#ifndef PFORGE_JSON_H
#define PFORGE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pforge/arena.h>
#include <pforge/buf.h>
#include <pforge/error.h>

#ifdef __cplusplus
extern "C" {
#endif
/* The API: exported by the pforge executable, which hides the rest. */
#pragma GCC visibility push(default)

/* ------------------------------------------------------------------ */
/* Values                                                              */

/* A value inside a parsed document. Opaque; borrowed from the document
 * (valid as long as the parse buffer and the arena). */
typedef struct pf_json pf_json;

typedef enum pf_json_type {
  PF_JSON_NONE = 0, /* no value: what accessors report for NULL */
  PF_JSON_NULL,
  PF_JSON_BOOL,
  PF_JSON_INT,  /* integer literal that fits int64_t */
  PF_JSON_UINT, /* integer literal in (INT64_MAX, UINT64_MAX] */
  PF_JSON_REAL, /* any other number, as a double */
  PF_JSON_STRING,
  PF_JSON_ARRAY,
  PF_JSON_OBJECT
} pf_json_type;

pf_json_type pf_json_typeof(const pf_json *v);
/* "null", "boolean", "integer", "integer", "number", "string", "array",
 * "object", or "missing" for PF_JSON_NONE: JSON Schema's names. Static. */
const char *pf_json_type_name(pf_json_type t);

static inline bool pf_json_is_number_type(pf_json_type t) {
  return t == PF_JSON_INT || t == PF_JSON_UINT || t == PF_JSON_REAL;
}

/* Strings. Returns the NUL-terminated contents and, when len is not NULL,
 * the length in bytes (which can differ from strlen() if the string has
 * \u0000); NULL when v is not a string. Borrowed from the document. */
const char *pf_json_str(const pf_json *v, size_t *len);
const char *pf_json_str_or(const pf_json *v, const char *def);

/* Numbers. pf_json_int_or() takes an INT, a UINT up to INT64_MAX or a REAL
 * with an integral value in int64 range (2.0 is an integer in JSON Schema);
 * anything else gives def. pf_json_num_or() takes any number (an int64
 * beyond 2^53 is rounded to the nearest double). */
int64_t pf_json_int_or(const pf_json *v, int64_t def);
uint64_t pf_json_uint_or(const pf_json *v, uint64_t def);
double pf_json_num_or(const pf_json *v, double def);
bool pf_json_bool_or(const pf_json *v, bool def);

/* Number of elements of an array, members of an object, or bytes of a
 * string; 0 for anything else. */
size_t pf_json_len(const pf_json *v);

/* Object member lookup: the value of the first member whose key equals
 * `key` (byte comparison), or NULL when v is not an object or has no such
 * key. Linear in the number of members. */
const pf_json *pf_json_get(const pf_json *obj, const char *key);
const pf_json *pf_json_getn(const pf_json *obj, const char *key, size_t keylen);

/* Array element i (linear in i), or NULL. */
const pf_json *pf_json_at(const pf_json *arr, size_t i);

/* Lookup + conversion in one call. */
const char *pf_json_get_str(const pf_json *obj, const char *key,
                            const char *def);
int64_t pf_json_get_int(const pf_json *obj, const char *key, int64_t def);
double pf_json_get_num(const pf_json *obj, const char *key, double def);
bool pf_json_get_bool(const pf_json *obj, const char *key, bool def);

/* Iteration over an array or object, in document order:
 *
 *   pf_json_iter it = pf_json_iter_init(obj);
 *   const pf_json *k, *v;
 *   while (pf_json_iter_next(&it, &k, &v)) ...   // k is NULL for arrays
 *
 * Iterating anything else yields nothing. */
typedef struct pf_json_iter {
  const pf_json *cur;
  size_t left;
  bool object;
} pf_json_iter;

pf_json_iter pf_json_iter_init(const pf_json *container);
bool pf_json_iter_next(pf_json_iter *it, const pf_json **key,
                       const pf_json **val);

/* Deep equality: same types, equal numbers (an INT and a REAL compare by
 * value), byte-equal strings, arrays element-wise, objects member by member
 * in any order (with duplicate keys, kept by PF_JSON_DUP_ALLOW, the n-th
 * occurrence of a key matches the n-th occurrence in the other object).
 * NULL equals only NULL. Quadratic in the members of an object: meant for
 * tests and small values, not for the hot path. */
bool pf_json_equal(const pf_json *a, const pf_json *b);

/* ------------------------------------------------------------------ */
/* Parsing                                                             */

#define PF_JSON_MAX_DEPTH_DEFAULT 128u
#define PF_JSON_MAX_SIZE_DEFAULT ((size_t)64 * 1024 * 1024)
/* Hard ceiling of max_size: lengths are stored in 32 bits. */
#define PF_JSON_MAX_SIZE_LIMIT ((size_t)UINT32_MAX - 1)

typedef enum pf_json_dup {
  PF_JSON_DUP_REJECT = 0, /* duplicate keys are a parse error (default) */
  PF_JSON_DUP_ALLOW = 1   /* kept; lookups find the first */
} pf_json_dup;

typedef struct pf_json_opts {
  uint32_t max_depth; /* 0 = PF_JSON_MAX_DEPTH_DEFAULT */
  size_t max_size;    /* bytes; 0 = PF_JSON_MAX_SIZE_DEFAULT */
  pf_json_dup dup_keys;
} pf_json_opts;

typedef struct pf_json_error {
  int code;      /* -PF_EJSON_*, or -PF_ENOMEM */
  size_t offset; /* byte offset in the input where the problem was found */
  const char *msg; /* static English description, e.g. "expected ':'" */
} pf_json_error;

/* Parses buf[0..len) in situ. The buffer is modified (strings are unescaped
 * and NUL-terminated in place) and must stay alive, with the arena, while
 * the result is used. No byte past buf[len - 1] is read or written.
 * opts may be NULL for defaults; err may be NULL.
 * Returns the root value, or NULL with *err filled in. */
const pf_json *pf_json_parse(char *buf, size_t len, pf_arena *arena,
                             const pf_json_opts *opts, pf_json_error *err);

/* Same, leaving `text` untouched: copies it into the arena first. */
const pf_json *pf_json_parse_copy(const char *text, size_t len,
                                  pf_arena *arena, const pf_json_opts *opts,
                                  pf_json_error *err);

/* Writes "line:col" (1-based, columns in bytes) of err->offset in text into
 * out. Returns out. For messages like "request:1:17: expected ':'". */
char *pf_json_error_pos(const char *text, size_t len, const pf_json_error *err,
                        char *out, size_t outsize);

/* ------------------------------------------------------------------ */
/* Writing                                                             */

typedef struct pf_json_writer {
  pf_buf *out; /* borrowed */
  bool comma;  /* a value was just completed: the next one needs ',' */
} pf_json_writer;

void pf_jw_init(pf_json_writer *w, pf_buf *out);

void pf_jw_obj_begin(pf_json_writer *w);
void pf_jw_obj_end(pf_json_writer *w);
void pf_jw_arr_begin(pf_json_writer *w);
void pf_jw_arr_end(pf_json_writer *w);

/* An object key (escaped like any string), followed by ':'. */
void pf_jw_key(pf_json_writer *w, const char *key, size_t len);
/* A key from a string literal; the length is computed at compile time. */
#define PF_JW_KEY(w, lit) pf_jw_key((w), "" lit, sizeof(lit) - 1)

void pf_jw_str(pf_json_writer *w, const char *s, size_t len);
void pf_jw_strz(pf_json_writer *w, const char *s); /* NUL-terminated; NULL writes null */
void pf_jw_int(pf_json_writer *w, int64_t v);
void pf_jw_uint(pf_json_writer *w, uint64_t v);
/* The shortest decimal that parses back to exactly v; integral values
 * below 2^53 print without a fraction ("5", not "5.0"). JSON has no NaN or
 * infinity: those write null. */
void pf_jw_double(pf_json_writer *w, double v);
void pf_jw_bool(pf_json_writer *w, bool v);
void pf_jw_null(pf_json_writer *w);

/* Splices pre-serialized JSON verbatim as one value. The caller guarantees
 * it is one valid, compact JSON value (no newline). */
void pf_jw_raw(pf_json_writer *w, const char *json, size_t len);

/* Serializes a parsed value (and its subtree). NULL writes null. */
void pf_jw_value(pf_json_writer *w, const pf_json *v);

/* Appends the escaped body of a string, without the surrounding quotes:
 * the building block for templates that splice text into JSON strings. */
void pf_json_escape(pf_buf *out, const char *s, size_t len);

/* Formats v as the shortest round-tripping decimal into out (at least 32
 * bytes), NUL-terminated; returns the length. NaN/inf give "null". */
size_t pf_json_fmt_double(double v, char *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif

/* PCRE2, loaded at run time (dlopen) by the first schema with a pattern.
 *
 * Most configs have no `pattern` or `patternProperties`, yet a linked
 * libpcre2-8 costs every server its pages and its relocations at start-up.
 * So pforge is built against PCRE2's headers only, and the validator calls
 * the few functions it needs through the table below, filled from
 * libpcre2-8.so.0 when a validator first compiles a pattern.
 */
#ifndef PF_SCHEMA_PCRE2_DL_H
#define PF_SCHEMA_PCRE2_DL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <pforge/buf.h>

/* The real (8-bit) names: pcre2.h's macros map pcre2_x to pcre2_x_8. */
#define PF__PCRE2_FUNCS(X)                                                                         \
  X(pcre2_code_free_8)                                                                             \
  X(pcre2_compile_8)                                                                               \
  X(pcre2_compile_context_create_8)                                                                \
  X(pcre2_compile_context_free_8)                                                                  \
  X(pcre2_general_context_create_8)                                                                \
  X(pcre2_general_context_free_8)                                                                  \
  X(pcre2_get_error_message_8)                                                                     \
  X(pcre2_jit_compile_8)                                                                           \
  X(pcre2_match_8)                                                                                 \
  X(pcre2_match_data_create_8)                                                                     \
  X(pcre2_match_data_free_8)

typedef struct pf__pcre2_api {
#define PF__PCRE2_FIELD(f) __typeof__(f) *f;
  PF__PCRE2_FUNCS(PF__PCRE2_FIELD)
#undef PF__PCRE2_FIELD
} pf__pcre2_api;

/* Filled by pf__pcre2_load(); read-only afterwards. */
extern pf__pcre2_api pf__pcre2;

/* Loads libpcre2-8.so.0 and every function above, once per process (any
 * thread; later calls return the first outcome at once). 0, or
 * -PF_ECONFIG with the reason appended to err (may be NULL). */
int pf__pcre2_load(pf_buf *err);

#endif

/* Condition expressions: the `condition:` of pipeline steps, compiled once
 * at config load and evaluated many times.
 *
 * Syntax
 * ------
 *   a.b.c  items.0.name     a path: dot-separated segments of [A-Za-z0-9_-]
 *                           (a numeric segment indexes an array, or is a key
 *                           of an object); the first must start with a
 *                           letter or '_'
 *   {{a.b}}                 the same path, written as in templates (any
 *                           segment may start with a digit; whitespace
 *                           inside the braces is allowed)
 *   42  -7  2.5  1e-3       numbers (JSON's grammar: no leading zeros, no
 *                           '+', no '.5'); integers that fit int64 (or
 *                           uint64) stay exact, others are doubles
 *   "x"  'x'                strings, with the escapes \" \' \\ \/ \n \t \r
 *                           \b \f \0 and \uXXXX (UTF-16 pairs for astral
 *                           code points)
 *   true  false  null
 *   ( )                     grouping
 *   !  not                  negation (of the truthiness)
 *   <  <=  >  >=            ordering
 *   ==  !=                  equality
 *   &&  and                 conjunction, short-circuit
 *   ||  or                  disjunction, short-circuit
 * listed from the tightest binding to the loosest. A path that is exactly
 * one of the words true, false, null, and, or, not is that word (write
 * {{and}} for a variable of that name). Comparisons do not chain:
 * `a < b < c` is an error (write `a < b && b < c`).
 *
 * Semantics
 * ---------
 * Names resolve as in templates: the first segment in ctx->values, then
 * through ctx->lookup; later segments descend. A missing value is null.
 *
 * Truthiness (the result, the operands of ! && ||): missing, null, false,
 * 0, -0, "", [] and {} are false; everything else is true. && and || yield
 * a boolean.
 *
 * == is false between different types, except numbers, which compare by
 * value whatever their representation (1 == 1.0; 9223372036854775807 is
 * not 9223372036854775808.0); strings compare byte-wise, arrays and
 * objects structurally (pf_json_equal). null == null (and so a missing
 * path == null). != is the negation of ==.
 *
 * < <= > >= order two numbers (exactly, across int64, uint64 and double)
 * or two strings (byte-wise, lexicographic); with any other pair of types,
 * null or a missing path included, they are false.
 *
 * Limits: parentheses nest at most PF_EXPR_MAX_DEPTH deep; the text is at
 * most PF_EXPR_MAX_LEN bytes.
 *
 * A compiled expression is immutable: any number of threads may evaluate
 * it at once. Evaluation does not recurse (it runs a flat postfix program
 * on a fixed-size stack) and does not allocate, except that == on two
 * arrays or objects walks them with pf_json_equal.
 *
 *   pf_tmpl_diag d;
 *   pf_expr *e = pf_expr_compile(text, len, &d);
 *   if (!e) fprintf(stderr, "condition:%u:%u: %s\n", d.line, d.col, d.msg);
 *   pf_tmpl_ctx ctx = {.values = arguments};
 *   if (pf_expr_eval(e, &ctx)) ...
 *   pf_expr_free(e);
 */
#ifndef PF_TEMPLATE_EXPR_H
#define PF_TEMPLATE_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "template/template.h"

#define PF_EXPR_MAX_DEPTH 64
#define PF_EXPR_MAX_LEN 65536

typedef struct pf_expr pf_expr;

/* Parses text[0..len) (copied what is needed: the text need not outlive
 * the result). Returns the expression, or NULL with diag (when not NULL)
 * filled with the offset, 1-based line/col and message of the first syntax
 * error, e.g. "expected an operand after '&&'". Free with pf_expr_free(). */
pf_expr *pf_expr_compile(const char *text, size_t len, pf_tmpl_diag *diag);

/* NULL is a no-op. */
void pf_expr_free(pf_expr *e);

/* The truth value of e against ctx (borrowed for the call; NULL resolves
 * every path as missing). Never fails; a NULL e is false. Thread-safe. */
bool pf_expr_eval(const pf_expr *e, const pf_tmpl_ctx *ctx);

/* The distinct first segments of the paths in e, in order of first use:
 * "user.age > 18 && {{flags.0}}" gives user, flags. For load-time checks
 * that each names a parameter or an earlier step's output. The strings are
 * NUL-terminated and owned by e; i >= nvars gives NULL. */
size_t pf_expr_nvars(const pf_expr *e);
const char *pf_expr_var(const pf_expr *e, size_t i);

#endif

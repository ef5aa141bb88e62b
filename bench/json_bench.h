/* Shared between bench/json.c (C) and bench/json_simdjson.cpp (C++, the
 * simdjson comparator): what one parse extracts, and the comparator's
 * C-callable entry points. Benchmark-only; not part of the library. */
#ifndef PFORGE_BENCH_JSON_BENCH_H
#define PFORGE_BENCH_JSON_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The fields a server reads from a tools/call request. Strings are
 * borrowed from the library's document (valid until its next parse or
 * free). Rows 2 and 3 extract only method and name (full == false). */
typedef struct pfb_rpc {
  const char *method;
  size_t method_len;
  const char *name;
  size_t name_len;
  int64_t id;
  double a, b;
} pfb_rpc;

/* What every library's loop adds to its sink per iteration, so that none
 * of the extracted values can be optimized away. */
static inline double pfb_rpc_sum(const pfb_rpc *r) {
  return (double)(unsigned char)r->method[0] + (double)r->method_len +
         (double)(unsigned char)r->name[0] + (double)r->name_len + (double)r->id + r->a + r->b;
}

/* simdjson comparator (bench/json_simdjson.cpp); only linked when
 * PFB_HAVE_SIMDJSON is defined. The input passed to these must have
 * pfb_sj_padding() readable bytes after buf[len - 1]. */
typedef struct pfb_sj pfb_sj;

size_t pfb_sj_padding(void);
const char *pfb_sj_implementation(void); /* e.g. "haswell"; static */
pfb_sj *pfb_sj_create(void);             /* a reusable dom::parser */
void pfb_sj_destroy(pfb_sj *sj);
/* One parse + extraction. Returns false on any error. */
bool pfb_sj_parse(pfb_sj *sj, const char *buf, size_t len, bool full, pfb_rpc *out);
/* `iters` parses + extractions; returns the sum of pfb_rpc_sum(), or NaN
 * on an error. */
double pfb_sj_loop(pfb_sj *sj, const char *buf, size_t len, bool full, size_t iters);
/* Minified re-serialization of the parsed document, malloc'd (free()),
 * for the differential check; NULL on error. */
char *pfb_sj_minify(pfb_sj *sj, const char *buf, size_t len, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif

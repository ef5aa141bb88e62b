/* JSON benchmark: pforge's parser and writer against simdjson (DOM),
 * jansson and cJSON, with a memcpy floor, in one run.
 *
 *   build/bench/json            full run (21 reps of ~30 ms per cell)
 *   build/bench/json --quick    smoke run (5 reps of ~2 ms)
 *   build/bench/json --json     JSON Lines instead of the Markdown table
 *   options: --reps N, --ms N (target milliseconds per rep)
 *
 * Every cell is the median ns/op over the reps; reps of the libraries in a
 * row are interleaved so that machine drift hits them alike, and ratios are
 * taken within the run. Heap allocations per op are counted in steady state
 * (after the timed reps) by interposing malloc and friends below, so every
 * library, C++ operator new included, is counted the same way.
 *
 * Before anything is timed, every library's result is checked: extracted
 * fields against the expected values, parsed documents re-serialized and
 * compared as trees with pforge's parse, written documents parsed back and
 * compared. The exit status is 1 only if one of those checks fails; the
 * performance targets print PASS/MISS but never fail the run. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pforge/arena.h>
#include <pforge/buf.h>
#include <pforge/json.h>

#include "json_bench.h"

#ifdef PFB_HAVE_JANSSON
#include <jansson.h>
#endif
#ifdef PFB_HAVE_CJSON
#include <cJSON.h>
#endif

/* ------------------------------------------------------------------ */
/* Allocation counting                                                 */

/* Sanitizers (ASan, TSan) bring their own malloc; there the interposition
 * is left out and allocations show as n/a. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PFB_NO_ALLOC_COUNT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define PFB_NO_ALLOC_COUNT 1
#endif
#endif

/* volatile: the compiler treats malloc as a builtin that touches no
 * program state, so without it the stores around a counted loop could be
 * merged or dropped. */
static volatile int g_counting;
static volatile uint64_t g_allocs;
static volatile uint64_t g_alloc_bytes;

#ifndef PFB_NO_ALLOC_COUNT
/* glibc's own entry points; ours forward to them. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);

static inline void count_alloc(size_t n) {
  if (g_counting) {
    g_allocs = g_allocs + 1;
    g_alloc_bytes = g_alloc_bytes + n;
  }
}

void *malloc(size_t n) {
  count_alloc(n);
  return __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
  count_alloc(n * size);
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
  if (n)
    count_alloc(n);
  return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

void *memalign(size_t align, size_t n) {
  count_alloc(n);
  return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n) {
  count_alloc(n);
  return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n) {
  if (align == 0 || (align & (align - 1)) || align % sizeof(void *))
    return EINVAL;
  count_alloc(n);
  void *p = __libc_memalign(align, n);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}

void *valloc(size_t n) {
  count_alloc(n);
  return __libc_valloc(n);
}

void *pvalloc(size_t n) {
  count_alloc(n);
  return __libc_pvalloc(n);
}
#endif /* PFB_NO_ALLOC_COUNT */

#define BARRIER() __asm__ volatile("" ::: "memory")

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static volatile double g_sink;
static int g_failures;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "json bench: out of memory\n");
    exit(2);
  }
  return p;
}

static bool g_json_out; /* --json: checks go out as JSON Lines too */

/* fatal: a library produced wrong output (exit status 1); otherwise a
 * problem of the measurement itself, reported as a warning. */
static void report_check_ex(const char *what, bool ok, const char *detail, bool fatal) {
  if (!ok && fatal)
    g_failures++;
  if (g_json_out) {
    pf_buf b = PF_BUF_INIT;
    pf_json_writer w;
    pf_jw_init(&w, &b);
    pf_jw_obj_begin(&w);
    PF_JW_KEY(&w, "check");
    pf_jw_strz(&w, what);
    PF_JW_KEY(&w, "ok");
    pf_jw_bool(&w, ok);
    PF_JW_KEY(&w, "fatal");
    pf_jw_bool(&w, fatal);
    if (detail) {
      PF_JW_KEY(&w, "detail");
      pf_jw_strz(&w, detail);
    }
    pf_jw_obj_end(&w);
    printf("%.*s\n", (int)b.len, b.data);
    pf_buf_free(&b);
  } else {
    printf("check %-52s %s%s%s\n", what,
           ok      ? "ok"
           : fatal ? "FAILED"
                   : "WARNING",
           detail ? ": " : "", detail ? detail : "");
  }
}

static void report_check(const char *what, bool ok, const char *detail) {
  report_check_ex(what, ok, detail, true);
}

/* ------------------------------------------------------------------ */
/* Payloads                                                            */

static const char SMALL_REQUEST[] =
    "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":"
    "\"add\",\"arguments\":{\"a\":1.5,\"b\":2}}}";

/* One element of the "results" array of the generated requests: escapes
 * (\n \t \" \\ \u00e9, a surrogate pair), raw UTF-8 (é, 日本語, an emoji),
 * arrays of objects four levels deep, and integers, fractions, exponents,
 * negatives and a 13-digit integer. */
static void gen_item(pf_buf *b, int i) {
  pf_buf_printf(
      b,
      "{\"id\":%d,\"title\":\"Result %d: caf\\u00e9 \\\"quoted\\\" back\\\\slash\\nline "
      "two\\ttab\","
      "\"snippet\":\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 and "
      "\\ud83d\\ude00 \\u65e5\\u672c\",\"score\":0.%04d,\"rank\":%d,\"delta\":-%d.%02de-%d,"
      "\"big\":%d%06d,\"tags\":[\"t%d\",\"caf\\u00e9\",true,false,null],"
      "\"source\":{\"uri\":\"file:///docs/%d.md\",\"spans\":[{\"start\":%d,\"end\":%d,"
      "\"lines\":[{\"n\":%d,\"w\":[1,2.5,-3E+2,{\"k\":[0,-0.0,1e-7]}]}]}]}}",
      i, i, (i * 7919) % 10000, i + 1, i % 9 + 1, (i * 37) % 100, i % 7 + 1, 1234567 + i,
      (i * 104729) % 1000000, i, i, i * 100, i * 100 + 42, i % 50);
}

/* A tools/call request of at most `target` bytes (as many items as fit). */
static char *gen_request(size_t target, size_t *len) {
  static const char prefix[] =
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":"
      "\"search_documents\",\"arguments\":{\"query\":\"caf\\u00e9 \\\"open\\\" AND "
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \\\\ \\ud83d\\ude00\",\"limit\":25,"
      "\"threshold\":0.75,\"results\":[";
  static const char suffix[] = "]},\"_meta\":{\"progressToken\":\"tok-\\u00e9\\ud83d\\ude00-7\"}}}";
  pf_buf b = PF_BUF_INIT, item = PF_BUF_INIT;
  pf_buf_append(&b, prefix, sizeof prefix - 1);
  for (int i = 0;; i++) {
    pf_buf_reset(&item);
    if (i)
      pf_buf_putc(&item, ',');
    gen_item(&item, i);
    if (b.len + item.len + sizeof suffix - 1 > target)
      break;
    pf_buf_append(&b, item.data, item.len);
  }
  pf_buf_append(&b, suffix, sizeof suffix - 1);
  pf_buf_free(&item);
  if (b.failed) {
    fprintf(stderr, "json bench: out of memory\n");
    exit(2);
  }
  *len = b.len;
  return b.data; /* malloc'd by pf_buf */
}

/* A text of exactly `len` bytes that needs escaping, shaped like a tool's
 * text output: lines of prose with quotes, backslashes, newlines, tabs, \r,
 * one U+0001 per cycle, and multi-byte UTF-8 (é, 日本語, emoji). The first
 * line has every kind, so the 100-byte text has them all; a character is
 * never cut. NUL-terminated (cJSON needs it). */
static char *gen_text(size_t len) {
  static const char *const lines[] = {
      "He said \"hi\"\tC:\\dir\x01 caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
      "\xf0\x9f\x98\x80\r\n",
      "The quick brown fox jumps over the lazy dog; the results follow below.\n",
      "  name: search_documents, score: 0.75, limit: 25, offset: 0, total: 1234\n",
      "Unicode line: na\xc3\xafve r\xc3\xa9sum\xc3\xa9 and \xe6\x9d\xb1\xe4\xba\xac in one "
      "sentence.\n",
      "A \"quoted phrase\" appears here, and a path /usr/local/bin/pforge too.\n",
      "\tindented with a tab, then plain ASCII text up to the end of the line.\n",
      "Windows path C:\\Program Files\\pforge\\bin, then an emoji \xf0\x9f\x9a\x80.\n",
  };
  char *t = xmalloc(len + 1);
  size_t n = 0;
  for (size_t i = 0; n < len; i++) {
    const unsigned char *p = (const unsigned char *)lines[i % (sizeof lines / sizeof lines[0])];
    while (*p && n < len) {
      size_t cl = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
      if (n + cl > len)
        break;
      memcpy(t + n, p, cl);
      n += cl;
      p += cl;
    }
    if (*p) /* a character did not fit: pad with ASCII */
      for (; n < len; n++)
        t[n] = '.';
  }
  t[len] = '\0';
  return t;
}

/* ------------------------------------------------------------------ */
/* Parse rows                                                          */

typedef struct parse_ctx {
  const char *text; /* the request; never modified */
  size_t len;
  bool full;             /* extract id, a, b too (the 99-byte request) */
  const char *want_name; /* expected params.name */
  char *scratch;         /* pforge: the in-situ copy */
  pf_arena *arena;
  char *padded; /* simdjson: text + SIMDJSON_PADDING, made once */
#ifdef PFB_HAVE_SIMDJSON
  pfb_sj *sj;
#endif
  char *dst; /* memcpy floor */
} parse_ctx;

static bool rpc_ok(const parse_ctx *p, const pfb_rpc *r) {
  if (!r->method || !r->name || r->method_len != strlen("tools/call") ||
      memcmp(r->method, "tools/call", r->method_len) != 0 || r->name_len != strlen(p->want_name) ||
      memcmp(r->name, p->want_name, r->name_len) != 0)
    return false;
  return !p->full || (r->id == 42 && r->a == 1.5 && r->b == 2.0);
}

/* pforge: copy (the parser works in situ), reset the arena, parse, look up. */
static inline double pf_parse_once(parse_ctx *p, bool check) {
  memcpy(p->scratch, p->text, p->len);
  pf_arena_reset(p->arena);
  const pf_json *root = pf_json_parse(p->scratch, p->len, p->arena, NULL, NULL);
  const pf_json *params = pf_json_get(root, "params");
  pfb_rpc r;
  r.method = pf_json_str(pf_json_get(root, "method"), &r.method_len);
  r.name = pf_json_str(pf_json_get(params, "name"), &r.name_len);
  if (!r.method || !r.name)
    return NAN;
  if (p->full) {
    const pf_json *args = pf_json_get(params, "arguments");
    r.id = pf_json_get_int(root, "id", -1);
    r.a = pf_json_get_num(args, "a", NAN);
    r.b = pf_json_get_num(args, "b", NAN);
  } else {
    r.id = 0;
    r.a = r.b = 0;
  }
  if (check && !rpc_ok(p, &r))
    return NAN;
  return pfb_rpc_sum(&r);
}

static double pf_parse_loop(void *ctx, size_t iters) {
  parse_ctx *p = ctx;
  double sum = 0;
  for (size_t i = 0; i < iters; i++)
    sum += pf_parse_once(p, false);
  return sum;
}

#ifdef PFB_HAVE_SIMDJSON
static double sj_parse_loop(void *ctx, size_t iters) {
  parse_ctx *p = ctx;
  return pfb_sj_loop(p->sj, p->padded, p->len, p->full, iters);
}
#endif

#ifdef PFB_HAVE_JANSSON
static inline double js_parse_once(parse_ctx *p, bool check) {
  json_t *root = json_loadb(p->text, p->len, 0, NULL);
  json_t *params = json_object_get(root, "params");
  json_t *m = json_object_get(root, "method");
  json_t *n = json_object_get(params, "name");
  pfb_rpc r;
  r.method = json_string_value(m);
  r.method_len = json_string_length(m);
  r.name = json_string_value(n);
  r.name_len = json_string_length(n);
  if (!r.method || !r.name) {
    json_decref(root);
    return NAN;
  }
  if (p->full) {
    json_t *args = json_object_get(params, "arguments");
    json_t *id = json_object_get(root, "id");
    r.id = json_is_integer(id) ? json_integer_value(id) : -1;
    json_t *a = json_object_get(args, "a"), *b = json_object_get(args, "b");
    r.a = json_is_number(a) ? json_number_value(a) : NAN;
    r.b = json_is_number(b) ? json_number_value(b) : NAN;
  } else {
    r.id = 0;
    r.a = r.b = 0;
  }
  double s = check && !rpc_ok(p, &r) ? NAN : pfb_rpc_sum(&r);
  json_decref(root);
  return s;
}

static double js_parse_loop(void *ctx, size_t iters) {
  parse_ctx *p = ctx;
  double sum = 0;
  for (size_t i = 0; i < iters; i++)
    sum += js_parse_once(p, false);
  return sum;
}
#endif

#ifdef PFB_HAVE_CJSON
static inline double cj_parse_once(parse_ctx *p, bool check) {
  cJSON *root = cJSON_ParseWithLength(p->text, p->len);
  cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
  pfb_rpc r;
  r.method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "method"));
  r.name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "name"));
  if (!r.method || !r.name) {
    cJSON_Delete(root);
    return NAN;
  }
  r.method_len = strlen(r.method); /* cJSON keeps no lengths */
  r.name_len = strlen(r.name);
  if (p->full) {
    cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
    cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    cJSON *a = cJSON_GetObjectItemCaseSensitive(args, "a");
    cJSON *b = cJSON_GetObjectItemCaseSensitive(args, "b");
    r.id = cJSON_IsNumber(id) ? (int64_t)id->valuedouble : -1;
    r.a = cJSON_IsNumber(a) ? a->valuedouble : NAN;
    r.b = cJSON_IsNumber(b) ? b->valuedouble : NAN;
  } else {
    r.id = 0;
    r.a = r.b = 0;
  }
  double s = check && !rpc_ok(p, &r) ? NAN : pfb_rpc_sum(&r);
  cJSON_Delete(root);
  return s;
}

static double cj_parse_loop(void *ctx, size_t iters) {
  parse_ctx *p = ctx;
  double sum = 0;
  for (size_t i = 0; i < iters; i++)
    sum += cj_parse_once(p, false);
  return sum;
}
#endif

static double parse_floor_loop(void *ctx, size_t iters) {
  parse_ctx *p = ctx;
  for (size_t i = 0; i < iters; i++) {
    memcpy(p->dst, p->text, p->len);
    __asm__ volatile("" : : "r"(p->dst) : "memory");
  }
  return (double)(unsigned char)p->dst[0];
}

/* Parses text with pforge (copying it) into arena; NULL + a check failure
 * on error. */
static const pf_json *pf_tree(const char *what, const char *text, size_t len, pf_arena *arena) {
  pf_json_error err;
  const pf_json *v = pf_json_parse_copy(text, len, arena, NULL, &err);
  if (!v) {
    char msg[160];
    snprintf(msg, sizeof msg, "pforge cannot parse it: byte %zu: %s", err.offset, err.msg);
    report_check(what, false, msg);
  }
  return v;
}

/* Every library extracts the right fields, and every library's document,
 * re-serialized, equals pforge's tree of the same input. */
static void check_parse(const char *label, parse_ctx *p) {
  char what[128];
  pf_arena *a = pf_arena_create(0);

  snprintf(what, sizeof what, "%s: pforge fields", label);
  report_check(what, !isnan(pf_parse_once(p, true)), NULL);
  const pf_json *ref = pf_tree(label, p->text, p->len, a);
  if (ref) {
    pf_buf out = PF_BUF_INIT;
    pf_json_writer w;
    pf_jw_init(&w, &out);
    pf_jw_value(&w, ref);
    snprintf(what, sizeof what, "%s: pforge write(parse) round trip", label);
    const pf_json *back = out.failed ? NULL : pf_tree(what, out.data, out.len, a);
    report_check(what, back && pf_json_equal(ref, back), NULL);
    pf_buf_free(&out);
  }

#ifdef PFB_HAVE_SIMDJSON
  {
    pfb_rpc r;
    snprintf(what, sizeof what, "%s: simdjson fields", label);
    report_check(what, pfb_sj_parse(p->sj, p->padded, p->len, p->full, &r) && rpc_ok(p, &r), NULL);
    size_t n = 0;
    char *s = pfb_sj_minify(p->sj, p->padded, p->len, &n);
    snprintf(what, sizeof what, "%s: simdjson tree == pforge tree", label);
    const pf_json *v = s ? pf_tree(what, s, n, a) : NULL;
    report_check(what, ref && v && pf_json_equal(ref, v), s ? NULL : "simdjson failed");
    free(s);
  }
#endif
#ifdef PFB_HAVE_JANSSON
  {
    snprintf(what, sizeof what, "%s: jansson fields", label);
    report_check(what, !isnan(js_parse_once(p, true)), NULL);
    json_t *root = json_loadb(p->text, p->len, 0, NULL);
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    snprintf(what, sizeof what, "%s: jansson tree == pforge tree", label);
    const pf_json *v = s ? pf_tree(what, s, strlen(s), a) : NULL;
    report_check(what, ref && v && pf_json_equal(ref, v), s ? NULL : "jansson failed");
    free(s);
  }
#endif
#ifdef PFB_HAVE_CJSON
  {
    snprintf(what, sizeof what, "%s: cJSON fields", label);
    report_check(what, !isnan(cj_parse_once(p, true)), NULL);
    cJSON *root = cJSON_ParseWithLength(p->text, p->len);
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    snprintf(what, sizeof what, "%s: cJSON tree == pforge tree", label);
    const pf_json *v = s ? pf_tree(what, s, strlen(s), a) : NULL;
    report_check(what, ref && v && pf_json_equal(ref, v), s ? NULL : "cJSON failed");
    free(s);
  }
#endif
  pf_arena_destroy(a);
}

/* ------------------------------------------------------------------ */
/* Write rows                                                          */

typedef struct write_ctx {
  const char *text; /* NUL-terminated, text_len bytes */
  size_t text_len;
  pf_buf out;            /* pforge: reset every op, never freed in between */
  const char *floor_src; /* pforge's output, for the memcpy floor */
  size_t floor_len;
  char *dst;
} write_ctx;

/* {"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text",
 *  "text":<TEXT>}],"isError":false}} */
static inline void pf_write_once(write_ctx *c) {
  pf_buf_reset(&c->out);
  pf_json_writer w;
  pf_jw_init(&w, &c->out);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "jsonrpc");
  pf_jw_str(&w, "2.0", 3);
  PF_JW_KEY(&w, "id");
  pf_jw_int(&w, 42);
  PF_JW_KEY(&w, "result");
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "content");
  pf_jw_arr_begin(&w);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "type");
  pf_jw_str(&w, "text", 4);
  PF_JW_KEY(&w, "text");
  pf_jw_str(&w, c->text, c->text_len);
  pf_jw_obj_end(&w);
  pf_jw_arr_end(&w);
  PF_JW_KEY(&w, "isError");
  pf_jw_bool(&w, false);
  pf_jw_obj_end(&w);
  pf_jw_obj_end(&w);
}

static double pf_write_loop(void *ctx, size_t iters) {
  write_ctx *c = ctx;
  double sum = 0;
  for (size_t i = 0; i < iters; i++) {
    pf_write_once(c);
    if (c->out.failed)
      return NAN;
    sum += (double)c->out.len + (double)(unsigned char)c->out.data[c->out.len - 1];
  }
  return sum;
}

#ifdef PFB_HAVE_JANSSON
/* Builds the tree, dumps it, frees the tree; the caller frees the text. */
static inline char *js_write_once(const write_ctx *c) {
  json_t *root = json_object();
  json_object_set_new(root, "jsonrpc", json_string("2.0"));
  json_object_set_new(root, "id", json_integer(42));
  json_t *result = json_object();
  json_object_set_new(root, "result", result);
  json_t *content = json_array();
  json_object_set_new(result, "content", content);
  json_t *item = json_object();
  json_array_append_new(content, item);
  json_object_set_new(item, "type", json_string("text"));
  json_object_set_new(item, "text", json_stringn(c->text, c->text_len));
  json_object_set_new(result, "isError", json_false());
  char *s = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  return s;
}

static double js_write_loop(void *ctx, size_t iters) {
  write_ctx *c = ctx;
  double sum = 0;
  for (size_t i = 0; i < iters; i++) {
    char *s = js_write_once(c);
    if (!s)
      return NAN;
    sum += (double)(unsigned char)s[0];
    free(s);
  }
  return sum;
}
#endif

#ifdef PFB_HAVE_CJSON
static inline char *cj_write_once(const write_ctx *c) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "jsonrpc", "2.0");
  cJSON_AddNumberToObject(root, "id", 42);
  cJSON *result = cJSON_AddObjectToObject(root, "result");
  cJSON *content = cJSON_AddArrayToObject(result, "content");
  cJSON *item = cJSON_CreateObject();
  cJSON_AddItemToArray(content, item);
  cJSON_AddStringToObject(item, "type", "text");
  cJSON_AddStringToObject(item, "text", c->text);
  cJSON_AddFalseToObject(result, "isError");
  char *s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return s;
}

static double cj_write_loop(void *ctx, size_t iters) {
  write_ctx *c = ctx;
  double sum = 0;
  for (size_t i = 0; i < iters; i++) {
    char *s = cj_write_once(c);
    if (!s)
      return NAN;
    sum += (double)(unsigned char)s[0];
    cJSON_free(s);
  }
  return sum;
}
#endif

static double write_floor_loop(void *ctx, size_t iters) {
  write_ctx *c = ctx;
  for (size_t i = 0; i < iters; i++) {
    memcpy(c->dst, c->floor_src, c->floor_len);
    __asm__ volatile("" : : "r"(c->dst) : "memory");
  }
  return (double)(unsigned char)c->dst[0];
}

#ifdef PFB_HAVE_JANSSON
/* Describes where two outputs first differ, for the byte-identity note. */
static void first_diff(const char *x, size_t xl, const char *y, size_t yl, char *msg,
                       size_t msgsize) {
  size_t i = 0;
  while (i < xl && i < yl && x[i] == y[i])
    i++;
  size_t from = i > 12 ? i - 12 : 0;
  int nx = (int)((xl - from) < 24 ? xl - from : 24);
  int ny = (int)((yl - from) < 24 ? yl - from : 24);
  snprintf(msg, msgsize, "differ at byte %zu (sizes %zu/%zu): pforge \"%.*s\" vs jansson \"%.*s\"",
           i, xl, yl, nx, x + from, ny, y + from);
  for (char *q = msg; *q; q++)
    if ((unsigned char)*q < 0x20)
      *q = '.';
}

/* Equal ASCII-case-insensitively where both have a \u escape's hex digits:
 * "\u0001" and "\u0001" are the same JSON. */
static bool same_but_hex_case(const char *x, size_t xl, const char *y, size_t yl) {
  if (xl != yl)
    return false;
  for (size_t i = 0; i < xl; i++) {
    if (x[i] == y[i])
      continue;
    /* inside "\uXXXX" (i is at one of the 4 digits) */
    size_t k = 0;
    while (k < 4 && i >= k + 2 && !(x[i - k - 2] == '\\' && x[i - k - 1] == 'u'))
      k++;
    if (k == 4 || i < k + 2)
      return false;
    char cx = x[i] >= 'A' && x[i] <= 'F' ? (char)(x[i] + 32) : x[i];
    char cy = y[i] >= 'A' && y[i] <= 'F' ? (char)(y[i] + 32) : y[i];
    if (cx != cy)
      return false;
  }
  return true;
}

#endif

/* Every writer's output parses back to the same tree; pforge's carries the
 * text exactly; pforge's bytes vs jansson's compact bytes. */
static void check_write(const char *label, write_ctx *c) {
  char what[128];
  pf_arena *a = pf_arena_create(0);

  pf_write_once(c);
  snprintf(what, sizeof what, "%s: pforge output parses", label);
  const pf_json *ref = c->out.failed ? NULL : pf_tree(what, c->out.data, c->out.len, a);
  size_t tl = 0;
  const char *t = pf_json_str(
      pf_json_get(pf_json_at(pf_json_get(pf_json_get(ref, "result"), "content"), 0), "text"), &tl);
  snprintf(what, sizeof what, "%s: pforge output carries the text", label);
  report_check(what, t && tl == c->text_len && memcmp(t, c->text, tl) == 0, NULL);

#ifdef PFB_HAVE_JANSSON
  {
    char *s = js_write_once(c);
    snprintf(what, sizeof what, "%s: jansson tree == pforge tree", label);
    const pf_json *v = s ? pf_tree(what, s, strlen(s), a) : NULL;
    report_check(what, ref && v && pf_json_equal(ref, v), s ? NULL : "jansson failed");
    if (s) {
      char msg[200];
      size_t sl = strlen(s);
      bool same = sl == c->out.len && memcmp(s, c->out.data, sl) == 0;
      snprintf(what, sizeof what, "%s: pforge bytes == jansson bytes", label);
      if (same) {
        report_check(what, true, NULL);
      } else if (same_but_hex_case(c->out.data, c->out.len, s, sl)) {
        report_check(what, true, "identical but for the case of \\u hex digits");
      } else {
        /* Same tree (checked above) but other bytes: reported, not a
         * failure, since either is valid JSON. */
        first_diff(c->out.data, c->out.len, s, sl, msg, sizeof msg);
        report_check(what, true, msg);
      }
    }
    free(s);
  }
#endif
#ifdef PFB_HAVE_CJSON
  {
    char *s = cj_write_once(c);
    snprintf(what, sizeof what, "%s: cJSON tree == pforge tree", label);
    const pf_json *v = s ? pf_tree(what, s, strlen(s), a) : NULL;
    report_check(what, ref && v && pf_json_equal(ref, v), s ? NULL : "cJSON failed");
    cJSON_free(s);
  }
#endif
  pf_arena_destroy(a);
}

/* ------------------------------------------------------------------ */
/* Measurement                                                         */

enum { L_PFORGE, L_SIMDJSON, L_JANSSON, L_CJSON, L_MEMCPY, L_COUNT };
static const char *const lib_key[L_COUNT] = {"pforge", "simdjson", "jansson", "cjson", "memcpy"};

#define MAX_REPS 201

typedef double (*loop_fn)(void *ctx, size_t iters);

typedef struct row {
  const char *label; /* for the table */
  const char *key;   /* for machine lines */
  bool is_write;
  size_t bytes; /* input bytes (parse) or output bytes (write) */
  void *ctx;
  loop_fn fn[L_COUNT]; /* NULL: not available */
  size_t iters[L_COUNT];
  double ns[L_COUNT]; /* median ns/op, NAN when n/a */
  double ns_min[L_COUNT];
  double allocs[L_COUNT]; /* heap allocations per op in steady state */
  double alloc_bytes[L_COUNT];
} row;

typedef struct config {
  int reps;
  double rep_ns; /* target duration of one rep */
} config;

static double run(loop_fn fn, void *ctx, size_t iters, const char *what) {
  uint64_t t0 = now_ns();
  double s = fn(ctx, iters);
  uint64_t t1 = now_ns();
  if (isnan(s)) {
    report_check(what, false, "an operation failed inside a timed loop");
    return NAN;
  }
  g_sink = g_sink + s;
  return (double)(t1 - t0);
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

static void measure(row *r, const config *cfg) {
  static double samples[L_COUNT][MAX_REPS];
  char what[128];
  snprintf(what, sizeof what, "%s: timed loop", r->label);

  for (int l = 0; l < L_COUNT; l++) {
    r->ns[l] = r->ns_min[l] = r->allocs[l] = r->alloc_bytes[l] = NAN;
    if (!r->fn[l])
      continue;
    /* Calibrate (this is also the warm-up): double the count until a run
     * takes an eighth of a rep, then scale. */
    size_t n = 1;
    double t;
    for (;;) {
      t = run(r->fn[l], r->ctx, n, what);
      if (isnan(t)) {
        r->fn[l] = NULL;
        break;
      }
      if (t >= cfg->rep_ns / 8 || n >= ((size_t)1 << 32))
        break;
      n *= 2;
    }
    if (!r->fn[l])
      continue;
    double want = (double)n * cfg->rep_ns / (t > 1 ? t : 1);
    r->iters[l] = want < 1 ? 1 : (size_t)want;
  }

  /* Interleaved reps: drift on a shared machine hits every library alike. */
  for (int rep = 0; rep < cfg->reps; rep++)
    for (int l = 0; l < L_COUNT; l++) {
      if (!r->fn[l])
        continue;
      double t = run(r->fn[l], r->ctx, r->iters[l], what);
      if (isnan(t)) {
        r->fn[l] = NULL;
        continue;
      }
      samples[l][rep] = t / (double)r->iters[l];
    }

  for (int l = 0; l < L_COUNT; l++) {
    if (!r->fn[l])
      continue;
    qsort(samples[l], (size_t)cfg->reps, sizeof(double), cmp_double);
    r->ns[l] = samples[l][cfg->reps / 2];
    r->ns_min[l] = samples[l][0];

    /* Steady-state allocations: a separate counted loop, after warm-up. */
    size_t n = r->iters[l] < 1000 ? r->iters[l] : 1000;
    g_allocs = 0;
    g_alloc_bytes = 0;
    BARRIER();
    g_counting = 1;
    BARRIER();
    double s = r->fn[l](r->ctx, n);
    BARRIER();
    g_counting = 0;
    BARRIER();
    g_sink = g_sink + s;
#ifndef PFB_NO_ALLOC_COUNT
    r->allocs[l] = (double)g_allocs / (double)n;
    r->alloc_bytes[l] = (double)g_alloc_bytes / (double)n;
#endif
  }
}

/* The counting machinery works (a call the compiler cannot see through). */
static void check_alloc_counting(void) {
#ifdef PFB_NO_ALLOC_COUNT
  report_check_ex("malloc interposition counts allocations", false,
                  "left out under a sanitizer: allocs/op are n/a", false);
  return;
#endif
  void *(*volatile m)(size_t) = malloc;
  g_allocs = 0;
  BARRIER();
  g_counting = 1;
  BARRIER();
  void *p = m(24);
  BARRIER();
  g_counting = 0;
  BARRIER();
  free(p);
  report_check_ex("malloc interposition counts allocations", g_allocs == 1, NULL, false);
}

/* ... and sees pforge's own allocations: a first parse into a fresh arena
 * must allocate (its first block), so 0 in steady state means 0. */
static void check_alloc_counting_pforge(void) {
#ifdef PFB_NO_ALLOC_COUNT
  return;
#endif
  static const char doc[] = "{\"a\":[1,2,3]}";
  pf_arena *a = pf_arena_create(0);
  g_allocs = 0;
  BARRIER();
  g_counting = 1;
  BARRIER();
  const pf_json *v = pf_json_parse_copy(doc, sizeof doc - 1, a, NULL, NULL);
  BARRIER();
  g_counting = 0;
  BARRIER();
  report_check_ex("allocation counting sees pforge's arena blocks", v && g_allocs > 0, NULL, false);
  pf_arena_destroy(a);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

static void fmt_ns(char *out, size_t size, double ns) {
  if (isnan(ns))
    snprintf(out, size, "n/a");
  else if (ns < 100)
    snprintf(out, size, "%.1f", ns);
  else
    snprintf(out, size, "%.0f", ns);
}

static void fmt_allocs(char *out, size_t size, double a) {
  if (isnan(a))
    snprintf(out, size, "n/a");
  else if (a == floor(a))
    snprintf(out, size, "%.0f", a);
  else
    snprintf(out, size, "%.2f", a);
}

static void print_table(const row *rows, size_t nrows) {
  printf("\n| payload | bytes | pforge ns/op | simdjson DOM | jansson | cJSON | memcpy floor "
         "| pforge/simdjson | pforge MB/s | allocs/op pforge | allocs/op simdjson "
         "| allocs/op jansson | allocs/op cJSON |\n");
  printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (size_t i = 0; i < nrows; i++) {
    const row *r = &rows[i];
    char ns[L_COUNT][32], al[L_COUNT][32], ratio[32], mbps[32];
    for (int l = 0; l < L_COUNT; l++) {
      fmt_ns(ns[l], sizeof ns[l], r->ns[l]);
      fmt_allocs(al[l], sizeof al[l], r->allocs[l]);
    }
    double q = r->ns[L_PFORGE] / r->ns[L_SIMDJSON];
    if (isnan(q))
      snprintf(ratio, sizeof ratio, "n/a");
    else
      snprintf(ratio, sizeof ratio, "%.2fx", q);
    if (isnan(r->ns[L_PFORGE]))
      snprintf(mbps, sizeof mbps, "n/a");
    else
      snprintf(mbps, sizeof mbps, "%.0f", (double)r->bytes * 1e3 / r->ns[L_PFORGE]);
    printf("| %s | %zu | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r->label,
           r->bytes, ns[L_PFORGE], ns[L_SIMDJSON], ns[L_JANSSON], ns[L_CJSON], ns[L_MEMCPY], ratio,
           mbps, al[L_PFORGE], al[L_SIMDJSON], al[L_JANSSON], al[L_CJSON]);
  }
  printf("\n");
}

static void print_json_rows(const row *rows, size_t nrows, const config *cfg) {
  pf_buf b = PF_BUF_INIT;
  for (size_t i = 0; i < nrows; i++) {
    const row *r = &rows[i];
    pf_json_writer w;
    pf_buf_reset(&b);
    pf_jw_init(&w, &b);
    pf_jw_obj_begin(&w);
    PF_JW_KEY(&w, "bench");
    pf_jw_strz(&w, "json");
    PF_JW_KEY(&w, "payload");
    pf_jw_strz(&w, r->key);
    PF_JW_KEY(&w, "op");
    pf_jw_strz(&w, r->is_write ? "write" : "parse");
    PF_JW_KEY(&w, "bytes");
    pf_jw_uint(&w, r->bytes);
    PF_JW_KEY(&w, "reps");
    pf_jw_int(&w, cfg->reps);
    for (int l = 0; l < L_COUNT; l++) {
      char k[64];
      int n = snprintf(k, sizeof k, "%s_ns", lib_key[l]);
      pf_jw_key(&w, k, (size_t)n);
      pf_jw_double(&w, round(r->ns[l] * 10) / 10); /* NaN (n/a) writes null */
      n = snprintf(k, sizeof k, "%s_ns_min", lib_key[l]);
      pf_jw_key(&w, k, (size_t)n);
      pf_jw_double(&w, round(r->ns_min[l] * 10) / 10);
      if (l != L_MEMCPY) {
        n = snprintf(k, sizeof k, "%s_allocs", lib_key[l]);
        pf_jw_key(&w, k, (size_t)n);
        pf_jw_double(&w, r->allocs[l]);
        n = snprintf(k, sizeof k, "%s_alloc_bytes", lib_key[l]);
        pf_jw_key(&w, k, (size_t)n);
        pf_jw_double(&w, r->alloc_bytes[l]);
      }
    }
    PF_JW_KEY(&w, "pforge_mb_s");
    pf_jw_double(&w, round((double)r->bytes * 1e3 / r->ns[L_PFORGE]));
    PF_JW_KEY(&w, "pforge_over_simdjson");
    pf_jw_double(&w, round(r->ns[L_PFORGE] / r->ns[L_SIMDJSON] * 1000) / 1000);
    pf_jw_obj_end(&w);
    printf("%.*s\n", (int)b.len, b.data);
  }
  pf_buf_free(&b);
}

static void report_target(const char *target, const char *payload, const char *value,
                          int verdict /* 1 pass, 0 miss, -1 n/a */) {
  const char *v = verdict > 0 ? "PASS" : verdict == 0 ? "MISS" : "SKIP";
  if (g_json_out) {
    pf_buf b = PF_BUF_INIT;
    pf_json_writer w;
    pf_jw_init(&w, &b);
    pf_jw_obj_begin(&w);
    PF_JW_KEY(&w, "target");
    pf_jw_strz(&w, target);
    PF_JW_KEY(&w, "payload");
    pf_jw_strz(&w, payload);
    PF_JW_KEY(&w, "value");
    pf_jw_strz(&w, value);
    PF_JW_KEY(&w, "result");
    pf_jw_strz(&w, v);
    pf_jw_obj_end(&w);
    printf("%.*s\n", (int)b.len, b.data);
    pf_buf_free(&b);
  } else {
    printf("%s  %-34s %-22s %s\n", v, target, payload, value);
  }
}

static void print_targets(const row *rows, size_t nrows) {
  char v[96];
  if (!g_json_out)
    printf("Targets (docs/PERFORMANCE.md; reported, never fatal):\n");
  for (size_t i = 0; i < nrows; i++) {
    const row *r = &rows[i];
    if (r->is_write)
      continue;
    double q = r->ns[L_PFORGE] / r->ns[L_SIMDJSON];
    if (isnan(q)) {
      report_target("parse <= 1.2x simdjson DOM", r->label, "simdjson n/a", -1);
      continue;
    }
    snprintf(v, sizeof v, "pforge/simdjson = %.2fx", q);
    report_target("parse <= 1.2x simdjson DOM", r->label, v, q <= 1.2);
  }
  for (size_t i = 0; i < nrows; i++) {
    const row *r = &rows[i];
    if (!r->is_write)
      continue;
    static const int others[] = {L_JANSSON, L_CJSON};
    for (size_t k = 0; k < 2; k++) {
      int l = others[k];
      char t[64];
      snprintf(t, sizeof t, "write >= 5x faster than %s", l == L_JANSSON ? "jansson" : "cJSON");
      double s = r->ns[l] / r->ns[L_PFORGE];
      if (isnan(s)) {
        report_target(t, r->label, "n/a", -1);
        continue;
      }
      snprintf(v, sizeof v, "%s/pforge = %.1fx", l == L_JANSSON ? "jansson" : "cJSON", s);
      report_target(t, r->label, v, s >= 5.0);
    }
  }
  for (size_t i = 0; i < nrows; i++) {
    const row *r = &rows[i];
    char al[32];
    fmt_allocs(al, sizeof al, r->allocs[L_PFORGE]);
    snprintf(v, sizeof v, "%s allocs/op", al);
    report_target("pforge 0 allocs/op steady state", r->label, v,
                  isnan(r->allocs[L_PFORGE]) ? -1 : r->allocs[L_PFORGE] == 0);
  }
}

static void cpu_model(char *out, size_t size) {
  snprintf(out, size, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f)
    return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *p = strchr(line, ':');
      if (p) {
        p += 1 + (p[1] == ' ');
        p[strcspn(p, "\n")] = '\0';
        snprintf(out, size, "%s", p);
      }
      break;
    }
  }
  fclose(f);
}

/* ------------------------------------------------------------------ */

static void usage(FILE *f) {
  fprintf(f, "usage: json [--quick] [--json] [--reps N] [--ms MILLISECONDS]\n"
             "  --quick   5 reps of ~2 ms per cell (smoke run)\n"
             "  --json    JSON Lines (rows, checks, targets) instead of the table\n"
             "  --reps N  repetitions per cell (default 21, at most 201)\n"
             "  --ms N    target duration of one rep (default 30)\n");
}

static parse_ctx *make_parse_ctx(const char *text, size_t len, bool full, const char *name,
                                 size_t padding) {
  parse_ctx *p = xmalloc(sizeof *p);
  memset(p, 0, sizeof *p);
  p->text = text;
  p->len = len;
  p->full = full;
  p->want_name = name;
  p->scratch = xmalloc(len);
  p->arena = pf_arena_create(0);
  p->dst = xmalloc(len);
  /* simdjson reads up to SIMDJSON_PADDING bytes past the end: one padded
   * copy, made once, outside any timing. */
  p->padded = xmalloc(len + padding);
  memcpy(p->padded, text, len);
  memset(p->padded + len, 0, padding);
#ifdef PFB_HAVE_SIMDJSON
  p->sj = pfb_sj_create();
#endif
  if (!p->arena)
    exit(2);
  return p;
}

static void free_parse_ctx(parse_ctx *p) {
  free(p->scratch);
  free(p->dst);
  free(p->padded);
  pf_arena_destroy(p->arena);
#ifdef PFB_HAVE_SIMDJSON
  pfb_sj_destroy(p->sj);
#endif
  free(p);
}

static write_ctx *make_write_ctx(const char *text, size_t len) {
  write_ctx *c = xmalloc(sizeof *c);
  memset(c, 0, sizeof *c);
  c->text = text;
  c->text_len = len;
  c->out = (pf_buf)PF_BUF_INIT;
  pf_write_once(c);
  c->floor_src = c->out.data;
  c->floor_len = c->out.len;
  char *copy = xmalloc(c->floor_len);
  memcpy(copy, c->out.data, c->floor_len);
  c->floor_src = copy;
  c->dst = xmalloc(c->floor_len);
  return c;
}

static void free_write_ctx(write_ctx *c) {
  pf_buf_free(&c->out);
  free((void *)c->floor_src);
  free(c->dst);
  free(c);
}

int main(int argc, char **argv) {
  config cfg = {21, 30e6};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      cfg.reps = 5;
      cfg.rep_ns = 2e6;
    } else if (strcmp(argv[i], "--json") == 0) {
      g_json_out = true;
    } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      cfg.reps = atoi(argv[++i]);
      if (cfg.reps < 1 || cfg.reps > MAX_REPS) {
        usage(stderr);
        return 2;
      }
    } else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
      double ms = atof(argv[++i]);
      if (!(ms > 0)) {
        usage(stderr);
        return 2;
      }
      cfg.rep_ns = ms * 1e6;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }

  size_t padding = 64;
  const char *sj_impl = "n/a";
#ifdef PFB_HAVE_SIMDJSON
  padding = pfb_sj_padding();
  sj_impl = pfb_sj_implementation();
#endif
  char cpu[128];
  cpu_model(cpu, sizeof cpu);
  if (!g_json_out)
    printf("# pforge JSON bench: %d reps x ~%.0f ms per cell, median ns/op; %s; "
           "simdjson kernel: %s; jansson: %s; cJSON: %s\n\n",
           cfg.reps, cfg.rep_ns / 1e6, cpu, sj_impl,
#ifdef PFB_HAVE_JANSSON
           JANSSON_VERSION,
#else
           "n/a",
#endif
#ifdef PFB_HAVE_CJSON
           cJSON_Version()
#else
           "n/a"
#endif
    );

  check_alloc_counting();
  check_alloc_counting_pforge();

  size_t len_1k, len_64k;
  char *req_1k = gen_request(1024, &len_1k);
  char *req_64k = gen_request(64 * 1024, &len_64k);
  char *text_100 = gen_text(100);
  char *text_10k = gen_text(10 * 1024);

  parse_ctx *pc[3] = {
      make_parse_ctx(SMALL_REQUEST, sizeof SMALL_REQUEST - 1, true, "add", padding),
      make_parse_ctx(req_1k, len_1k, false, "search_documents", padding),
      make_parse_ctx(req_64k, len_64k, false, "search_documents", padding),
  };
  write_ctx *wc[2] = {make_write_ctx(text_100, 100), make_write_ctx(text_10k, 10 * 1024)};

  row rows[5];
  memset(rows, 0, sizeof rows);
  static const char *const parse_labels[3] = {"parse request 99 B (5 fields)",
                                              "parse tools/call ~1 KB", "parse tools/call ~64 KB"};
  static const char *const parse_keys[3] = {"parse_small", "parse_1k", "parse_64k"};
  for (int i = 0; i < 3; i++) {
    row *r = &rows[i];
    r->label = parse_labels[i];
    r->key = parse_keys[i];
    r->bytes = pc[i]->len;
    r->ctx = pc[i];
    r->fn[L_PFORGE] = pf_parse_loop;
#ifdef PFB_HAVE_SIMDJSON
    if (pc[i]->sj)
      r->fn[L_SIMDJSON] = sj_parse_loop;
#endif
#ifdef PFB_HAVE_JANSSON
    r->fn[L_JANSSON] = js_parse_loop;
#endif
#ifdef PFB_HAVE_CJSON
    r->fn[L_CJSON] = cj_parse_loop;
#endif
    r->fn[L_MEMCPY] = parse_floor_loop;
  }
  static const char *const write_labels[2] = {"write result, 100 B text",
                                              "write result, 10 KB text"};
  static const char *const write_keys[2] = {"write_100", "write_10k"};
  for (int i = 0; i < 2; i++) {
    row *r = &rows[3 + i];
    r->label = write_labels[i];
    r->key = write_keys[i];
    r->is_write = true;
    r->bytes = wc[i]->floor_len;
    r->ctx = wc[i];
    r->fn[L_PFORGE] = pf_write_loop;
#ifdef PFB_HAVE_JANSSON
    r->fn[L_JANSSON] = js_write_loop;
#endif
#ifdef PFB_HAVE_CJSON
    r->fn[L_CJSON] = cj_write_loop;
#endif
    r->fn[L_MEMCPY] = write_floor_loop;
  }

  if (!g_json_out)
    printf("payload sizes: request %zu B, ~1 KB request %zu B, ~64 KB request %zu B; "
           "write outputs %zu B (100 B text), %zu B (10 KB text)\n",
           pc[0]->len, len_1k, len_64k, wc[0]->floor_len, wc[1]->floor_len);

  for (int i = 0; i < 3; i++)
    check_parse(rows[i].label, pc[i]);
  for (int i = 0; i < 2; i++)
    check_write(rows[3 + i].label, wc[i]);

  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    measure(&rows[i], &cfg);

  if (g_json_out) {
    print_json_rows(rows, sizeof rows / sizeof rows[0], &cfg);
  } else {
    print_table(rows, sizeof rows / sizeof rows[0]);
  }
  print_targets(rows, sizeof rows / sizeof rows[0]);

  if (g_failures) {
    fprintf(stderr, "json bench: %d correctness check(s) failed\n", g_failures);
  } else if (!g_json_out) {
    printf("\nall correctness checks passed\n");
  }

  for (int i = 0; i < 3; i++)
    free_parse_ctx(pc[i]);
  for (int i = 0; i < 2; i++)
    free_write_ctx(wc[i]);
  free(req_1k);
  free(req_64k);
  free(text_100);
  free(text_10k);
  return g_failures ? 1 : 0;
}

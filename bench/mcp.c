/* In-process MCP benchmarks: the real code paths the server runs, timed.
 *
 *   build/bench/mcp [--quick] [--only SUBSTR] [SRCDIR]
 *
 * Prints median ns/op over repetitions and heap allocations per op:
 *   - registry lookup (tool name -> tool) for 10, 100, 1,000, 10,000 tools,
 *     with a linear scan over the same names as the baseline;
 *   - tools/call for `add`, request bytes -> response bytes (parse, method
 *     dispatch, tool lookup, argument validation, handler, response);
 *   - tools/list and ping, request bytes -> response bytes;
 *   - config load of the examples and of a generated 1,000-tool file;
 *   - server build (schemas, validators, pre-serialized pages) for 100 tools.
 * Heap allocations are counted by interposing malloc & co. in this binary.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pforge/pforge.h>

#include "config/config.h"
#include "mcp/mcp.h"
#include "runtime/registry.h"
#include "schema/schema.h"

/* ---- allocation counting ---- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static atomic_size_t nalloc;
void *malloc(size_t n) {
  atomic_fetch_add_explicit(&nalloc, 1, memory_order_relaxed);
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  atomic_fetch_add_explicit(&nalloc, 1, memory_order_relaxed);
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  atomic_fetch_add_explicit(&nalloc, 1, memory_order_relaxed);
  return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }

static int quick;
static const char *only; /* --only SUBSTR: run only the benchmarks whose name contains it */

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef void (*op_fn)(void *ctx, size_t i);

/* Median ns/op over reps of `iters` ops, and allocations per op. */
static void measure(const char *name, op_fn fn, void *ctx, size_t iters, size_t per_op,
                    const char *note) {
  int reps = quick ? 3 : 15;
  double t[32];
  if (only && !strstr(name, only))
    return;
  for (size_t i = 0; i < iters / 10 + 1; i++) /* warm-up */
    fn(ctx, i);
  for (int r = 0; r < reps; r++) {
    double t0 = now_ns();
    for (size_t i = 0; i < iters; i++)
      fn(ctx, i);
    t[r] = (now_ns() - t0) / (double)iters / (double)per_op;
  }
  qsort(t, (size_t)reps, sizeof t[0], cmp_d);
  size_t a0 = atomic_load(&nalloc);
  size_t n = iters < 1000 ? iters : 1000;
  for (size_t i = 0; i < n; i++)
    fn(ctx, i);
  double allocs = (double)(atomic_load(&nalloc) - a0) / (double)n / (double)per_op;
  printf("| %-44s | %10.1f | %8.2f | %s |\n", name, t[reps / 2], allocs, note ? note : "");
}

/* ---- handlers found in this executable (no library in the config) ---- */
PF_TOOL(bench_add) {
  char num[40];
  size_t n = pf_json_fmt_double(pf_arg_number(call, "a", 0) + pf_arg_number(call, "b", 0), num);
  return pf_result_text(call, num, n);
}
PF_TOOL(bench_echo) {
  size_t len = 0;
  const char *m = pf_json_str(pf_arg(call, "message"), &len);
  return pf_result_text(call, m ? m : "", len);
}

/* ---- registry ---- */
/* A lookup is a few nanoseconds, the size of an indirect call and a loop
 * iteration, so one timed op is a batch of REG_BATCH lookups of names picked
 * pseudo-randomly, and its time is divided by REG_BATCH. The names are packed
 * in one buffer, as a config's names are in its arena. */
#define REG_BATCH 16

typedef struct reg_ctx {
  pf__registry r;
  char *text; /* the names, NUL-separated */
  const char **keys;
  size_t *lens, n;
  uint32_t *order; /* lookup order: pseudo-random, 1024 entries */
  volatile long sink;
} reg_ctx;

static void reg_op(void *c, size_t i) {
  reg_ctx *x = c;
  const uint32_t *o = x->order + (i * REG_BATCH) % 1024;
  long sum = 0;
  for (int j = 0; j < REG_BATCH; j++)
    sum += pf__registry_find(&x->r, x->keys[o[j]], x->lens[o[j]]);
  x->sink = sum;
}

static void scan_op(void *c, size_t i) {
  reg_ctx *x = c;
  const uint32_t *o = x->order + (i * REG_BATCH) % 1024;
  long sum = 0;
  for (int b = 0; b < REG_BATCH; b++) {
    size_t k = o[b];
    for (size_t j = 0; j < x->n; j++)
      if (x->lens[j] == x->lens[k] && memcmp(x->keys[j], x->keys[k], x->lens[k]) == 0) {
        sum += (long)j;
        break;
      }
  }
  x->sink = sum;
}

/* The harness alone: the same loads of key, length and the key's first
 * bytes, no lookup. */
static void reg_null_op(void *c, size_t i) {
  reg_ctx *x = c;
  const uint32_t *o = x->order + (i * REG_BATCH) % 1024;
  long sum = 0;
  for (int j = 0; j < REG_BATCH; j++) {
    const char *volatile k = x->keys[o[j]];
    uint64_t w;
    memcpy(&w, k, sizeof w); /* every name is at least 8 bytes long */
    sum += (long)x->lens[o[j]] + (long)w;
  }
  x->sink = sum;
}

static void bench_registry(void) {
  size_t sizes[] = {10, 100, 1000, 10000};
  for (size_t s = 0; s < 4; s++) {
    reg_ctx x = {0};
    x.n = sizes[s];
    x.text = malloc(x.n * 24);
    x.keys = malloc(x.n * sizeof *x.keys);
    x.lens = malloc(x.n * sizeof *x.lens);
    x.order = malloc(1024 * sizeof *x.order);
    char *p = x.text;
    for (size_t i = 0; i < x.n; i++) {
      x.keys[i] = p;
      x.lens[i] = (size_t)snprintf(p, 24, "tool_name_%zu", i);
      p += x.lens[i] + 1;
    }
    uint64_t z = 88172645463325252ull;
    for (size_t i = 0; i < 1024; i++) {
      z ^= z << 13, z ^= z >> 7, z ^= z << 17;
      x.order[i] = (uint32_t)(z % x.n);
    }
    if (pf__registry_build(&x.r, x.keys, x.lens, x.n) != 0) {
      fprintf(stderr, "registry build failed\n");
      exit(1);
    }
    char name[64];
    snprintf(name, sizeof name, "registry lookup, %zu tools", x.n);
    measure(name, reg_op, &x, quick ? 10000 : 200000, REG_BATCH, "perfect hash");
    snprintf(name, sizeof name, "  baseline: linear scan, %zu tools", x.n);
    measure(name, scan_op, &x, x.n >= 1000 ? 2000 : 20000, REG_BATCH, "strcmp loop");
    /* The harness's own loads (the key's pointer, length and first bytes)
     * miss the L1 cache too at 10,000 names: measured at every size. */
    snprintf(name, sizeof name, "  harness only, %zu tools", x.n);
    measure(name, reg_null_op, &x, quick ? 10000 : 200000, REG_BATCH,
            "key loads, no lookup: included above");
    pf__registry_free(&x.r);
    free(x.text);
    free(x.keys);
    free(x.lens);
    free(x.order);
  }
}

/* ---- request -> response ---- */
static const char bench_yaml[] =
    "forge: { name: bench, version: 1.0.0 }\n"
    "tools:\n"
    "  - type: native\n    name: echo\n    description: Echo\n    handler: { path: bench_echo }\n"
    "    params: { message: string }\n"
    "  - type: native\n    name: add\n    description: Add\n    handler: { path: bench_add }\n"
    "    params: { a: number, b: number }\n";

typedef struct rpc_ctx {
  pf__session *s;
  const char *msg;
  size_t len;
  char scratch[1024];
  pf_buf out;
  const char *expect;
} rpc_ctx;

static void rpc_op(void *c, size_t i) {
  (void)i;
  rpc_ctx *x = c;
  memcpy(x->scratch, x->msg, x->len); /* the parser works in situ */
  pf_buf_reset(&x->out);
  pf__session_handle(x->s, x->scratch, x->len, &x->out);
}

/* tools/call add in eight layouts taken in turn (the id a number or a
 * string, the arguments in either order, with or without _meta): more than
 * the session remembers, so no message is laid out like a recent one. */
static const char *const rotating[8] = {
    "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
    "\"arguments\":{\"a\":1.5,\"b\":2}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"r42\",\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
    "\"arguments\":{\"a\":1.5,\"b\":2}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
    "\"arguments\":{\"b\":2,\"a\":1.5}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"r42\",\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
    "\"arguments\":{\"b\":2,\"a\":1.5}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
    "\"arguments\":{\"a\":1.5,\"b\":2},\"_meta\":{\"k\":1}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"r42\",\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
    "\"arguments\":{\"a\":1.5,\"b\":2},\"_meta\":{\"k\":1}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
    "\"arguments\":{\"b\":2,\"a\":1.5},\"_meta\":{\"k\":1}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"r42\",\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
    "\"arguments\":{\"b\":2,\"a\":1.5},\"_meta\":{\"k\":1}}}",
};

static void rpc_rotating_op(void *c, size_t i) {
  rpc_ctx *x = c;
  x->msg = rotating[i % 8];
  x->len = strlen(x->msg);
  rpc_op(c, i);
}

static pf_server *make_server(const char *yaml, size_t len) {
  pf_config *cfg;
  pf_buf diag = PF_BUF_INIT;
  if (pf_config_load_text("bench.yaml", yaml, len, &cfg, &diag) != 0) {
    fprintf(stderr, "config: %s", pf_buf_cstr(&diag));
    exit(1);
  }
  pf_server *srv;
  if (pf__server_create(cfg, &srv, &diag) != 0) {
    fprintf(stderr, "server: %s", pf_buf_cstr(&diag));
    exit(1);
  }
  pf_buf_free(&diag);
  return srv;
}

static void bench_rpc(void) {
  pf_server *srv = make_server(bench_yaml, sizeof bench_yaml - 1);
  pf__session *s = pf__session_create(srv, NULL, NULL);
  rpc_ctx x = {.s = s};
  const char *init = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                     "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{"
                     "\"name\":\"b\",\"version\":\"1\"}}}";
  x.msg = init;
  x.len = strlen(init);
  rpc_op(&x, 0);
  static const struct {
    const char *name, *msg, *expect;
  } cases[] = {
      {"tools/call add (99-byte request)",
       "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"add\","
       "\"arguments\":{\"a\":1.5,\"b\":2}}}",
       "{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"3."
       "5\"}]}}\n"},
      {"tools/call echo",
       "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
       "\"arguments\":{\"message\":\"hello world\"}}}",
       "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hello "
       "world\"}]}}\n"},
      {"ping", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
       "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n"},
      {"tools/list (2 tools, pre-serialized)",
       "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    x.msg = cases[i].msg;
    x.len = strlen(cases[i].msg);
    rpc_op(&x, 0);
    if (cases[i].expect && strcmp(pf_buf_cstr(&x.out), cases[i].expect) != 0) {
      fprintf(stderr, "unexpected response to %s:\n%s\n", cases[i].name, pf_buf_cstr(&x.out));
      exit(1);
    }
    measure(cases[i].name, rpc_op, &x, quick ? 20000 : 500000, 1, "bytes in -> bytes out");
  }
  for (size_t i = 0; i < 8; i++) {
    rpc_rotating_op(&x, i);
    if (!strstr(pf_buf_cstr(&x.out), "\"text\":\"3.5\"")) {
      fprintf(stderr, "unexpected response to %s:\n%s\n", rotating[i], pf_buf_cstr(&x.out));
      exit(1);
    }
  }
  measure("tools/call add, 8 layouts in turn", rpc_rotating_op, &x, quick ? 20000 : 500000, 1,
          "bytes in -> bytes out");
  pf_buf_free(&x.out);
  pf__session_destroy(s);
  pf__server_destroy(srv);
}

/* ---- config and server build ---- */
typedef struct cfg_ctx {
  const char *text, *name;
  size_t len;
  int build;
} cfg_ctx;

static void cfg_op(void *c, size_t i) {
  (void)i;
  cfg_ctx *x = c;
  pf_config *cfg;
  if (pf_config_load_text(x->name, x->text, x->len, &cfg, NULL) != 0) {
    fprintf(stderr, "config %s failed\n", x->name);
    exit(1);
  }
  if (x->build) {
    pf_server *srv;
    if (pf__server_create(cfg, &srv, NULL) != 0)
      exit(1);
    pf__server_destroy(srv);
  } else {
    pf_config_free(cfg);
  }
}

typedef struct schema_ctx {
  pf_config *cfg;
  pf_buf out;
  pf_server *srv;
} schema_ctx;

static void schema_op(void *c, size_t i) {
  (void)i;
  schema_ctx *x = c;
  for (size_t t = 0; t < x->cfg->ntools; t++) {
    pf_buf_reset(&x->out);
    if (pf_schema_from_params(x->cfg->tools[t].build->params, x->cfg->tools[t].build->nparams, &x->out) != 0)
      exit(1);
  }
}

/* Hiding and showing one tool rebuilds every page. */
static void pages_op(void *c, size_t i) {
  schema_ctx *x = c;
  if (pf__server_set_enabled(x->srv, "tool", "tool_7", i & 1) != 0)
    exit(1);
}

static char *gen_tools(size_t n, size_t *len) {
  pf_buf b = PF_BUF_INIT;
  pf_buf_puts(&b, "forge: { name: generated, version: 1.0.0 }\ntools:\n");
  for (size_t i = 0; i < n; i++)
    pf_buf_printf(
        &b,
        "  - type: native\n    name: tool_%zu\n    description: Generated tool %zu\n"
        "    handler: { path: bench_add }\n    params:\n      a: number\n"
        "      b: { type: integer, required: false, default: 1, validation: { min: 0, max: 100 } "
        "}\n"
        "      s: { type: string, required: false, validation: { pattern: \"^[a-z]+$\" } }\n",
        i, i);
  *len = b.len;
  return b.data;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  pf_buf b = PF_BUF_INIT;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    pf_buf_append(&b, chunk, n);
  fclose(f);
  *len = b.len;
  return b.data;
}

static void bench_config(const char *srcdir) {
  const char *examples[] = {"hello", "calculator", "bench"};
  for (int i = 0; i < 3; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/%s/pforge.yaml", srcdir, examples[i]);
    cfg_ctx x = {0};
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
      fprintf(stderr, "cannot read %s\n", path);
      exit(1);
    }
    x.text = text;
    x.len = len;
    x.name = path;
    char name[80];
    snprintf(name, sizeof name, "config load: examples/%s", examples[i]);
    measure(name, cfg_op, &x, quick ? 100 : 2000, 1, "YAML -> validated model");
    free(text);
  }
  size_t len;
  char *big = gen_tools(1000, &len);
  cfg_ctx x = {big, "gen1000.yaml", len, 0};
  measure("config load: generated 1,000 tools", cfg_op, &x, quick ? 3 : 20, 1,
          "target <= 10 ms");
  free(big);
  big = gen_tools(100, &len);
  x = (cfg_ctx){big, "gen100.yaml", len, 1};
  measure("config load + server build: 100 tools", cfg_op, &x, quick ? 10 : 200, 1,
          "schemas, validators, tools/list pages");
  x.build = 0;
  measure("  of which config load: 100 tools", cfg_op, &x, quick ? 10 : 200, 1, "");

  /* Schema generation: every tool's params -> JSON Schema text, then the
   * tools/list pages (every protocol revision) rebuilt from them, as a
   * tool being enabled or disabled does. */
  pf_config *cfg;
  if (pf_config_load_text("gen100.yaml", big, len, &cfg, NULL) != 0)
    exit(1);
  schema_ctx sx = {cfg, PF_BUF_INIT, NULL};
  measure("schema generation: 100 tools", schema_op, &sx, quick ? 100 : 2000, 1,
          "params -> JSON Schema text");
  pf_buf_free(&sx.out);
  if (pf__server_create(cfg, &sx.srv, NULL) != 0)
    exit(1);
  measure("tools/list pages rebuilt: 100 tools", pages_op, &sx, quick ? 100 : 1000, 1,
          "all revisions, from the schema texts");
  pf__server_destroy(sx.srv);
  free(big);
}

int main(int argc, char **argv) {
  const char *srcdir = ".";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1;
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      only = argv[++i];
    else
      srcdir = argv[i];
  }
  printf("| benchmark | ns/op (median) | allocs/op | note |\n|---|--:|--:|---|\n");
  bench_registry();
  bench_rpc();
  bench_config(srcdir);
  return 0;
}

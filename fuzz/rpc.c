/* libFuzzer target: arbitrary bytes as one JSON-RPC message into a live
 * session (pf__session_handle), the way stdio and HTTP hand over a line or
 * a body. A second session that has been initialized with each protocol
 * revision gets the same input, so methods past the lifecycle gate are
 * reached too. Blocking tools are not configured: no threads. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "json/internal.h"
#include "mcp/mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char yaml[] =
    "forge: {name: fuzz, version: '1', page_size: 2}\n"
    "tools:\n"
    "  - type: native\n"
    "    name: add\n"
    "    description: Add\n"
    "    handler: {path: pf_fuzz_add}\n"
    "    params:\n"
    "      a: {type: number, required: true, minimum: -1000}\n"
    "      b: {type: integer, required: false, default: 1, enum: [1, 2, 3]}\n"
    "      s: {type: string, required: false, pattern: '^[a-z]+$', max_length: 8}\n"
    "      l: {type: array, required: false, items: {type: string}}\n"
    "  - type: native\n"
    "    name: sum\n"
    "    description: Sum (a validator that decides by layout)\n"
    "    handler: {path: pf_fuzz_sum}\n"
    "    params: {a: number, b: {type: number, required: false}, s: {type: string, "
    "required: false}, f: {type: boolean, required: false}}\n"
    "  - type: native\n"
    "    name: isum\n"
    "    description: Sum of integers (a validator that reads values)\n"
    "    handler: {path: pf_fuzz_sum}\n"
    "    params: {a: integer, b: {type: integer, required: false}}\n"
    "resources:\n"
    "  - {uri: 'mem://a', text: A, mime_type: text/plain, supports: [subscribe]}\n"
    "  - {uri_template: 'mem://t/{id}/{x}', handler: {path: pf_fuzz_res}, mime_type: text/plain}\n"
    "prompts:\n"
    "  - name: p\n"
    "    template: 'Hi {{who}}{{#if x}} x{{else}} y{{/if}}{{#each l}}[{{this}}]{{/each}}'\n"
    "    arguments: {who: {type: string, required: true, completions: [ann, bob]}, x: string}\n";

__attribute__((visibility("default"))) int pf_fuzz_add(pf_call *call);
int pf_fuzz_add(pf_call *call) {
  return pf_result_textf(call, "%g", pf_arg_number(call, "a", 0) + pf_arg_number(call, "b", 0));
}

__attribute__((visibility("default"))) int pf_fuzz_sum(pf_call *call);
int pf_fuzz_sum(pf_call *call) {
  return pf_result_textf(call, "%g %s %d", pf_arg_number(call, "a", 0) + pf_arg_number(call, "b", 0),
                         pf_arg_str(call, "s", "-"), (int)pf_arg_bool(call, "f", false));
}

__attribute__((visibility("default"))) int pf_fuzz_res(pf_call *call);
int pf_fuzz_res(pf_call *call) {
  return pf_result_textf(call, "%s/%s", pf_arg_str(call, "id", "?"), pf_arg_str(call, "x", "?"));
}

static void discard(void *ud, const char *d, size_t n, bool final) {
  (void)ud;
  (void)d;
  (void)n;
  (void) final;
}

static pf_server *srv;
static pf__session *fresh, *ready[PF_PROTO__COUNT];
static pf_buf out;

static void setup(void) {
  pf_config *cfg;
  pf_buf diag = PF_BUF_INIT;
  if (pf_config_load_text("fuzz.yaml", yaml, sizeof yaml - 1, &cfg, &diag) != 0 ||
      pf__server_create(cfg, &srv, &diag) != 0) {
    fputs(pf_buf_cstr(&diag), stderr);
    abort();
  }
  pf_buf_free(&diag);
  pf__route r = {discard, NULL, NULL, NULL, NULL};
  fresh = pf__session_create(srv, NULL, &r);
  for (int v = 0; v < PF_PROTO__COUNT; v++) {
    ready[v] = pf__session_create(srv, NULL, &r);
    char init[256];
    int n = snprintf(init, sizeof init,
                     "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                     "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":"
                     "\"f\",\"version\":\"1\"}}}",
                     pf__proto_names[v]);
    pf__session_handle(ready[v], init, (size_t)n, &out);
    char done[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    pf__session_handle(ready[v], done, sizeof done - 1, &out);
  }
}

/* The answer to text[0..size) (copied: parsed in situ) from session s, with
 * this thread's message shapes, or without them (no shape read, no memo). */
static char *answer(pf__session *s, const char *text, size_t size, bool shapes) {
  pf__scratch *sc = pf__scratch_get();
  struct pf__json_shapes *keep = sc->shapes;
  if (!shapes)
    sc->shapes = NULL;
  char *msg = malloc(size + 1);
  if (!msg)
    abort();
  memcpy(msg, text, size);
  msg[size] = 0;
  pf_buf_reset(&out);
  pf__session_handle(s, msg, size, &out);
  sc->shapes = keep;
  free(msg);
  char *r = malloc(out.len + 1);
  if (!r)
    abort();
  if (out.len)
    memcpy(r, out.data, out.len);
  r[out.len] = 0;
  return r;
}

/* How often the comparison below ran on a message read through a shape, and
 * with its validation skipped by the memo: printed at exit. */
static unsigned long n_compared, n_shape, n_memo;

static void report(void) {
  fprintf(stderr, "fuzz_rpc differential: %lu compared, %lu read through a shape, %lu with "
                  "validation remembered\n",
          n_compared, n_shape, n_memo);
}

/* Compares the answer to b[0..len) read through the shape (and memo)
 * differential() primed with the answer read without shapes. */
static void compare(pf__session *s, uint64_t primed, bool memo, const char *b, size_t len) {
  pf__scratch *sc = pf__scratch_get();
  char *with = answer(s, b, len, true);
  bool through = primed && pf__json_shapes_last(sc->shapes) == primed;
  char *without = answer(s, b, len, false);
  n_compared++;
  n_shape += through;
  n_memo += through && memo;
  if (strcmp(with, without) != 0) {
    fprintf(stderr, "through a shape:\n%s\nwithout:\n%s\n", with, without);
    abort();
  }
  free(with);
  free(without);
}

static bool is_num_char(uint8_t c) {
  return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E';
}

/* Whether d[i..size) starts with the "jsonrpc" value "2.0" (literal in a
 * shape: the variants below leave it as it is). */
static bool version_at(const uint8_t *d, size_t size, size_t i) {
  return size - i >= 5 && memcmp(d + i, "\"2.0\"", 5) == 0;
}

/* A tools/call read through the shape of one before it, with its
 * arguments' validation remembered (pf__msg_memo), answers as one read
 * without shapes. The input primes a fresh cache twice (the first read
 * learns its shape, the second reads through it and records the memo), then
 * two messages of its layout with other values are compared: every digit
 * changed but those of "2.0", and every one-digit integer made a fraction
 * (7 -> 7.5: a number hole takes any form). */
static void differential(const uint8_t *data, size_t size) {
  if (!memmem(data, size, "tools/call", 10))
    return;
  pf__session *s = ready[PF_PROTO__COUNT - 1];
  pf__scratch *sc = pf__scratch_get();
  /* a fresh cache (and memos: their tokens are the old cache's): most fuzz
   * inputs match nothing, and a cache that kept missing pauses */
  pf__json_shapes_free(sc->shapes);
  sc->shapes = pf__json_shapes_new();
  memset(sc->memo, 0, sizeof sc->memo);
  free(answer(s, (const char *)data, size, true));
  free(answer(s, (const char *)data, size, true));
  uint64_t primed = pf__json_shapes_last(sc->shapes);
  bool memo = primed && sc->memo[primed % 4].token == primed && sc->memo[primed % 4].vtool1;
  char *b = malloc(2 * size + 1);
  if (!b)
    abort();
  memcpy(b, data, size);
  for (size_t i = 0; i < size; i++) {
    if (version_at(data, size, i))
      i += 4;
    else if (b[i] >= '0' && b[i] <= '9')
      b[i] = (char)('0' + (b[i] - '0' + 7) % 10);
  }
  compare(s, primed, memo, b, size);
  size_t n = 0;
  for (size_t i = 0; i < size; i++) {
    if (version_at(data, size, i)) {
      memcpy(b + n, data + i, 5);
      n += 5;
      i += 4;
      continue;
    }
    b[n++] = (char)data[i];
    if (data[i] >= '0' && data[i] <= '9' && !(i > 0 && is_num_char(data[i - 1])) &&
        !(i + 1 < size && is_num_char(data[i + 1]))) {
      b[n++] = '.';
      b[n++] = '5';
    }
  }
  compare(s, primed, memo, b, n);
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv) {
    setup();
    atexit(report);
  }
  differential(data, size);
  char *msg = malloc(size + 1);
  if (!msg)
    return 0;
  pf__session *targets[1 + PF_PROTO__COUNT] = {fresh};
  memcpy(targets + 1, ready, sizeof ready);
  for (size_t i = 0; i < 1 + PF_PROTO__COUNT; i++) {
    memcpy(msg, data, size); /* parsed in situ: a fresh copy each time */
    msg[size] = 0;
    pf_buf_reset(&out);
    pf__session_handle(targets[i], msg, size, &out);
    /* every output line must be complete JSON-RPC text ending in '\n' */
    if (out.len && out.data[out.len - 1] != '\n')
      abort();
  }
  free(msg);
  return 0;
}

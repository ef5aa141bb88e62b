/* libFuzzer target: arbitrary bytes as one JSON-RPC message into a live
 * session (pf__session_handle), the way stdio and HTTP hand over a line or
 * a body. A second session that has been initialized with each protocol
 * revision gets the same input, so methods past the lifecycle gate are
 * reached too. Blocking tools are not configured: no threads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv)
    setup();
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

/* The MCP protocol state machine through pf__session_handle, in memory: a
 * server built from inline YAML whose native handlers live in this
 * executable (linked with export_dynamic, found through dlopen(NULL)), and
 * exact output bytes for every message. */
#include "support.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pforge/pforge.h>

#include "base/alloc.h"
#include "config/config.h"
#include "json/internal.h"
#include "mcp/internal.h"
#include "mcp/mcp.h"

/* ------------------------------------------------------------------ */
/* Handlers (exported: the server finds them by name)                  */

PF_TOOL(ut_echo) { return pf_result_textz(call, pf_arg_str(call, "text", "")); }

PF_TOOL(ut_chatty) {
  pf_log(call, PF_LEVEL_DEBUG, NULL, "d");
  pf_log(call, PF_LEVEL_WARNING, "lg", "w%d", 1);
  pf_progress(call, 0.5, 0, "half");
  return pf_result_textz(call, "ok");
}

PF_TOOL(ut_fail) {
  (void)call;
  return -PF_EIO;
}

PF_TOOL(ut_work) {
  pf_progress(call, 1, 2, "a");
  pf_log(call, PF_LEVEL_INFO, NULL, "w");
  pf_progress(call, 2, 2, NULL);
  return pf_result_textz(call, "done");
}

/* Runs until cancelled (at most 5 s), logging and reporting progress all
 * along: after a cancellation or a destroyed session these must be
 * harmless. */
PF_TOOL(ut_wait) {
  for (int i = 0; i < 5000; i++) {
    pf_log(call, PF_LEVEL_ERROR, NULL, "tick %d", i);
    pf_progress(call, i + 1, 0, NULL);
    if (pf_cancelled(call))
      return pf_result_textz(call, "cancelled");
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return pf_result_textz(call, "timeout");
}

/* Asks the client for its roots (timeout from the argument). */
PF_TOOL(ut_ask) {
  const pf_json *r;
  int rc = pf_client_request(call, "roots/list", NULL, (unsigned)pf_arg_int(call, "ms", 0), &r);
  if (rc == -PF_EREMOTE)
    return pf_result_textf(call, "error %lld",
                           (long long)pf_json_int_or(pf_json_get(r, "code"), 0));
  if (rc != 0)
    return pf_result_error(call, "rc %s", pf_strerror(rc));
  size_t n;
  const char *uri = pf_json_str(pf_json_get(pf_json_at(pf_json_get(r, "roots"), 0), "uri"), &n);
  return pf_result_textf(call, "root %.*s", (int)n, uri ? uri : "");
}

/* A notification before the result; bad params are refused. */
PF_TOOL(ut_notify) {
  int bad = pf_client_notify(call, "notifications/x", "[1]");
  int rc =
      pf_client_notify(call, "notifications/elicitation/complete", "{\"elicitationId\":\"e1\"}");
  return pf_result_textf(call, "rc %d %d", rc, bad);
}

/* pf_client_request from a handler on the event loop: refused. */
PF_TOOL(ut_ask_inline) {
  const pf_json *r;
  return pf_result_textf(call, "rc %d", pf_client_request(call, "roots/list", NULL, 0, &r));
}

/* Shows or hides what its arguments name. */
PF_TOOL(ut_toggle) {
  int rc = pf_set_enabled(call, pf_arg_str(call, "kind", ""), pf_arg_str(call, "name", ""),
                          pf_arg_bool(call, "on", true));
  return pf_result_textf(call, "rc %d", rc);
}

/* async: true: roots/list without holding a thread; async_done reports. */
static int async_cancels; /* done callbacks that saw -PF_ECANCELED */
static int async_done(pf_call *call, int rc, const pf_json *r, void *ud) {
  (void)ud;
  if (rc == -PF_ECANCELED)
    async_cancels++;
  if (rc != 0)
    return pf_result_error(call, "rc %s", pf_strerror(rc));
  size_t n;
  const char *uri = pf_json_str(pf_json_get(pf_json_at(pf_json_get(r, "roots"), 0), "uri"), &n);
  return pf_result_textf(call, "root %.*s", (int)n, uri ? uri : "");
}
PF_TOOL(ut_ask_async) {
  int rc = pf_client_request_async(call, "roots/list", NULL, (unsigned)pf_arg_int(call, "ms", 0),
                                   async_done, NULL);
  if (rc != 0)
    return pf_result_error(call, "sync rc %s", pf_strerror(rc));
  /* one request at a time */
  int again = pf_client_request_async(call, "roots/list", NULL, 0, async_done, NULL);
  return again == -PF_ELIMIT ? PF_PENDING : pf_result_error(call, "second: %d", again);
}

PF_TOOL(ut_ok) { return pf_result_textz(call, "ok"); }
PF_TOOL(ut_res) { return pf_result_textf(call, "res %s", pf_arg_str(call, "id", "?")); }

/* ------------------------------------------------------------------ */
/* Harness                                                             */

static const char yaml[] =
    "forge: {name: unit, version: '0.1', page_size: 2}\n"
    "tools:\n"
    "  - {type: native, name: echo, description: Echo, handler: {path: ut_echo},\n"
    "     params: {text: string}}\n"
    "  - {type: native, name: chatty, description: Logs, handler: {path: ut_chatty}}\n"
    "  - {type: native, name: fail, description: Fails, handler: {path: ut_fail}}\n"
    "  - {type: native, name: work, description: Works, handler: {path: ut_work}, blocking: true}\n"
    "  - {type: native, name: wait, description: Waits, handler: {path: ut_wait}, blocking: true}\n"
    "  - {type: native, name: ask, description: Asks, handler: {path: ut_ask}, blocking: true,\n"
    "     params: {ms: {type: integer, required: false}}}\n"
    "  - {type: native, name: ask_inline, description: Asks, handler: {path: ut_ask_inline}}\n"
    "resources:\n"
    "  - {uri: 'mem://a', text: A, mime_type: text/plain}\n"
    "  - {uri_template: 'mem://t/{id}', handler: {path: ut_res}}\n"
    "prompts:\n"
    "  - {name: p, template: 'Hi {{who}}', arguments: {who: string}}\n"
    "  - name: broken\n"
    "    messages: [{role: user, resource: {uri: 'mem://missing'}}]\n";

typedef struct fixture {
  uv_loop_t loop;
  pf_server *srv;
  pf__session *s;
  pf_buf emitted; /* what the session sent outside pf__session_handle */
  pf_buf out;
} fixture;

static void on_emit(void *ud, const char *data, size_t len, bool final) {
  (void) final;
  fixture *f = ud;
  pf_buf_append(&f->emitted, data, len);
}

static const char yaml_toggle[] =
    "forge: {name: unit, version: '0.1'}\n"
    "tools:\n"
    "  - {type: native, name: toggle, description: T, handler: {path: ut_toggle},\n"
    "     params: {kind: string, name: string, on: {type: boolean, required: false}}}\n"
    "  - {type: native, name: notify, description: N, handler: {path: ut_notify}}\n"
    "  - {type: native, name: secret, description: S, handler: {path: ut_echo}, enabled: false,\n"
    "     params: {text: string}}\n"
    "resources:\n"
    "  - {uri: 'mem://a', text: A, mime_type: text/plain}\n"
    "prompts:\n"
    "  - {name: p, template: 'Hi', enabled: false}\n";

static const char *setup_yaml = yaml;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  pf_buf diag = PF_BUF_INIT;
  pf_config *cfg = NULL;
  int rc = pf_config_load_text("inline.yaml", setup_yaml, strlen(setup_yaml), &cfg, &diag);
  if (rc)
    fprintf(stderr, "%s", pf_buf_cstr(&diag));
  assert_int_equal(rc, 0);
  rc = pf__server_create(cfg, &f->srv, &diag);
  if (rc)
    fprintf(stderr, "%s", pf_buf_cstr(&diag));
  assert_int_equal(rc, 0);
  pf_buf_free(&diag);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->s = pf__session_create(f->srv, &f->loop, &(pf__route){on_emit, NULL, NULL, NULL, f});
  assert_non_null(f->s);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  pf__session_destroy(f->s);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* completions of orphaned calls */
  assert_int_equal(uv_loop_close(&f->loop), 0);
  pf__server_destroy(f->srv);
  pf_buf_free(&f->emitted);
  pf_buf_free(&f->out);
  free(f);
  return 0;
}

/* Handles one message (copied: the session parses in situ); returns all
 * the output it produced, NUL-terminated. */
static const char *handle(fixture *f, const char *msg) {
  size_t len = strlen(msg);
  char *copy = malloc(len + 1);
  assert_non_null(copy);
  memcpy(copy, msg, len + 1);
  pf_buf_reset(&f->out);
  pf__session_handle(f->s, copy, len, &f->out);
  free(copy);
  return pf_buf_cstr(&f->out);
}

static void init(fixture *f, const char *version) {
  char msg[256];
  snprintf(
      msg, sizeof msg,
      "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
      "\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
      version);
  const char *out = handle(f, msg);
  char want[128];
  snprintf(want, sizeof want,
           "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"%s\",", version);
  assert_memory_equal(out, want, strlen(want));
  assert_string_equal(handle(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"),
                      "");
}

#define RPC "{\"jsonrpc\":\"2.0\","
#define EXPECT(f, msg, want) assert_string_equal(handle((f), (msg)), (want))

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */

static void test_lifecycle_order(void **state) {
  fixture *f = *state;
  EXPECT(f, RPC "\"id\":1,\"method\":\"ping\"}", RPC "\"id\":1,\"result\":{}}\n");
#define NOT_INIT                                                                                   \
  "\"error\":{\"code\":-32600,\"message\":\"Invalid Request: the session is not initialized "      \
  "(send initialize first)\"}}\n"
  EXPECT(f, RPC "\"id\":2,\"method\":\"tools/list\"}", RPC "\"id\":2," NOT_INIT);
  EXPECT(f, RPC "\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}",
         RPC "\"id\":3," NOT_INIT);
  EXPECT(f, RPC "\"id\":\"s\",\"method\":\"logging/setLevel\",\"params\":{\"level\":\"debug\"}}",
         RPC "\"id\":\"s\"," NOT_INIT);
  /* an unknown method is still -32601 */
  EXPECT(f, RPC "\"id\":8,\"method\":\"x\"}",
         RPC "\"id\":8,\"error\":{\"code\":-32601,\"message\":\"Method not found: x\"}}\n");
  /* notifications before initialize: silence */
  EXPECT(f, RPC "\"method\":\"notifications/initialized\"}", "");
  EXPECT(f, RPC "\"id\":4,\"method\":\"initialize\",\"params\":{}}",
         RPC "\"id\":4,\"error\":{\"code\":-32602,\"message\":\"Invalid params: initialize needs a "
             "protocolVersion string\"}}\n");
  EXPECT(f,
         RPC
         "\"id\":5,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
         "\"capabilities\":{\"sampling\":{}},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
         RPC "\"id\":5,\"result\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{"
             "\"listChanged\":true},\"resources\":{\"subscribe\":false,\"listChanged\":true},"
             "\"prompts\":{\"listChanged\":true},\"logging\":{},\"completions\":{}},\"serverInfo\":"
             "{\"name\":\"unit\",\"version\":\"0.1\"}}}\n");
  assert_true(f->s->cap_sampling);
  assert_false(f->s->cap_roots);
  /* after the initialize response, before initialized: requests are served */
  EXPECT(f,
         RPC "\"id\":6,\"method\":\"tools/"
             "call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"x\"}}}",
         RPC "\"id\":6,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}}\n");
  EXPECT(f, RPC "\"method\":\"notifications/initialized\"}", "");
  assert_int_equal(f->s->state, 2);
  EXPECT(f,
         RPC "\"id\":7,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}",
         RPC "\"id\":7,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: the session is "
             "already initialized\"}}\n");
  /* the negotiated revision did not change */
  assert_int_equal(f->s->proto, PF_PROTO_2025_06_18);
}

static void test_version_negotiation(void **state) {
  fixture *f = *state;
  EXPECT(f,
         RPC "\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2024-11-05\"}}",
         RPC "\"id\":1,\"result\":{\"protocolVersion\":\"2024-11-05\",\"capabilities\":{\"tools\":{"
             "\"listChanged\":true},\"resources\":{\"subscribe\":false,\"listChanged\":true},"
             "\"prompts\":{\"listChanged\":true},\"logging\":{}},\"serverInfo\":"
             "{\"name\":\"unit\",\"version\":\"0.1\"}}}\n");
  pf__session_destroy(f->s);
  f->s = pf__session_create(f->srv, &f->loop, &(pf__route){on_emit, NULL, NULL, NULL, f});
  const char *out = handle(
      f, RPC "\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2030-01-01\"}}");
  assert_non_null(strstr(out, "\"protocolVersion\":\"2025-11-25\""));
  assert_int_equal(f->s->proto, PF_PROTO_2025_11_25);
}

/* ------------------------------------------------------------------ */
/* Ids and framing errors                                              */

static void test_error_ids(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  EXPECT(f, RPC "\"id\":\"abc\",\"method\":\"ping\"}", RPC "\"id\":\"abc\",\"result\":{}}\n");
  EXPECT(f, RPC "\"id\":-5,\"method\":\"ping\"}", RPC "\"id\":-5,\"result\":{}}\n");
  EXPECT(f, RPC "\"id\":18446744073709551615,\"method\":\"ping\"}",
         RPC "\"id\":18446744073709551615,\"result\":{}}\n");
  EXPECT(f, RPC "\"id\":\"\\u00e9\\n\",\"method\":\"ping\"}",
         RPC "\"id\":\"\xc3\xa9\\n\",\"result\":{}}\n");
  static const char bad_id[] = RPC
      "\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: id must be a string "
      "or an integer\"}}\n";
  EXPECT(f, RPC "\"id\":null,\"method\":\"ping\"}", bad_id);
  EXPECT(f, RPC "\"id\":1.5,\"method\":\"ping\"}", bad_id);
  EXPECT(f, RPC "\"id\":true,\"method\":\"ping\"}", bad_id);
  EXPECT(f, RPC "\"id\":[1],\"method\":\"ping\"}", bad_id);
  EXPECT(f, RPC "\"id\":{},\"method\":\"ping\"}", bad_id);
  /* the id is echoed on errors found after it was read */
  EXPECT(f, "{\"id\":9,\"method\":\"ping\"}",
         RPC "\"id\":9,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: jsonrpc must be "
             "\\\"2.0\\\"\"}}\n");
  EXPECT(f, "{\"jsonrpc\":2.0,\"id\":9,\"method\":\"ping\"}",
         RPC "\"id\":9,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: jsonrpc must be "
             "\\\"2.0\\\"\"}}\n");
  EXPECT(f, RPC "\"id\":10,\"method\":7}",
         RPC "\"id\":10,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: method must be a "
             "string\"}}\n");
  EXPECT(f, RPC "\"id\":10}",
         RPC "\"id\":10,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: method must be a "
             "string\"}}\n");
  EXPECT(f, "42",
         RPC "\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: a message must "
             "be a JSON object\"}}\n");
  EXPECT(f, "\"ping\"",
         RPC "\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: a message must "
             "be a JSON object\"}}\n");
  EXPECT(f, RPC "\"id\":11,\"method\":\"nope/nope\"}",
         RPC
         "\"id\":11,\"error\":{\"code\":-32601,\"message\":\"Method not found: nope/nope\"}}\n");
  EXPECT(f, RPC "\"id\":12,\"method\":\"ping\",\"params\":[]}",
         RPC "\"id\":12,\"error\":{\"code\":-32602,\"message\":\"Invalid params: params must be an "
             "object\"}}\n");
  EXPECT(f, RPC "\"id\":13,\"method\":\"ping\",\"params\":null}",
         RPC "\"id\":13,\"error\":{\"code\":-32602,\"message\":\"Invalid params: params must be an "
             "object\"}}\n");
}

static void test_parse_errors(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  const char *out = handle(f, "{\"jsonrpc\":\"2.0\",\"id\":1,");
  assert_true(strncmp(out, RPC "\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error: ",
                      60) == 0);
  assert_non_null(strstr(out, " at byte "));
  assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* exactly one line */
  out = handle(f, RPC "\"id\":1,\"method\":\"ping\",\"id\":2}");
  assert_non_null(strstr(out, "\"code\":-32700"));
  assert_non_null(strstr(out, "\"id\":null"));
  out = handle(f, RPC "\"id\":1,\"method\":\"p\xffing\"}");
  assert_non_null(strstr(out, "\"code\":-32700"));
  out = handle(f, "");
  assert_non_null(strstr(out, "\"code\":-32700"));
  /* still serving */
  EXPECT(f, RPC "\"id\":2,\"method\":\"ping\"}", RPC "\"id\":2,\"result\":{}}\n");
}

static void test_too_large(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  pf_buf_reset(&f->out);
  pf__session_too_large(f->s, 1000, &f->out);
  assert_string_equal(pf_buf_cstr(&f->out),
                      RPC "\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: "
                          "message exceeds the 1000-byte limit\"}}\n");
  /* a message over srv->max_message that reaches the session anyway */
  f->srv->max_message = 64;
  const char *out = handle(f, RPC "\"id\":1,\"method\":\"ping\",\"params\":{\"pad\":"
                                  "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}");
  assert_non_null(strstr(out, "\"id\":null,\"error\":{\"code\":-32700"));
  f->srv->max_message = PF_MAX_MESSAGE_DEFAULT;
  EXPECT(f, RPC "\"id\":1,\"method\":\"ping\"}", RPC "\"id\":1,\"result\":{}}\n");
}

/* ------------------------------------------------------------------ */
/* Notifications                                                       */

static void test_notifications_silent(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  static const char *const notes[] = {
      RPC "\"method\":\"notifications/initialized\"}",
      RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}",
      RPC "\"method\":\"notifications/cancelled\"}",
      RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":{}}}",
      RPC "\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}",
      RPC "\"method\":\"notifications/roots/list_changed\"}",
      RPC "\"method\":\"no/such/notification\"}",
      RPC "\"method\":\"ping\"}", /* a request without id is a notification */
      RPC "\"method\":\"tools/list\"}",
      RPC "\"method\":\"ping\",\"params\":[1]}", /* bad params: still no answer */
      RPC "\"id\":5,\"result\":{}}",             /* a response from the client */
      RPC "\"id\":6,\"error\":{\"code\":1,\"message\":\"x\"}}",
  };
  for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++)
    EXPECT(f, notes[i], "");
}

/* ------------------------------------------------------------------ */
/* Batches                                                             */

static const char batch_refused[] =
    RPC "\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: batches are only "
        "allowed with protocol version 2025-03-26\"}}\n";

static void test_batch_before_init(void **state) {
  fixture *f = *state;
  EXPECT(f, "[" RPC "\"id\":1,\"method\":\"ping\"}]", batch_refused);
  EXPECT(f,
         "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
         "\"2025-03-26\"}}]",
         batch_refused);
  assert_int_equal(f->s->state, 0);
}

static void batch_refused_for(void **state, const char *version) {
  fixture *f = *state;
  init(f, version);
  EXPECT(f, "[" RPC "\"id\":1,\"method\":\"ping\"}]", batch_refused);
  EXPECT(f, "[]", batch_refused);
  EXPECT(f, "[" RPC "\"method\":\"notifications/x\"}]", batch_refused);
}

static void test_batch_2024(void **state) { batch_refused_for(state, "2024-11-05"); }
static void test_batch_2025_06(void **state) { batch_refused_for(state, "2025-06-18"); }
static void test_batch_2025_11(void **state) { batch_refused_for(state, "2025-11-25"); }

static void test_batch_2025_03(void **state) {
  fixture *f = *state;
  init(f, "2025-03-26");
  EXPECT(f,
         "[" RPC "\"id\":1,\"method\":\"ping\"}," RPC "\"method\":\"notifications/x\"},7," RPC
         "\"id\":\"b\",\"method\":\"nope\"}," RPC
         "\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"chatty\"}}]",
         RPC
         "\"method\":\"notifications/message\",\"params\":{\"level\":\"warning\",\"logger\":\"lg\","
         "\"data\":\"w1\"}}\n"
         "[" RPC "\"id\":1,\"result\":{}}," RPC
         "\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: a message must be "
         "a JSON object\"}}," RPC
         "\"id\":\"b\",\"error\":{\"code\":-32601,\"message\":\"Method not found: nope\"}}," RPC
         "\"id\":3,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}]\n");
  /* only notifications: no output at all */
  EXPECT(f, "[" RPC "\"method\":\"notifications/x\"}," RPC "\"method\":\"notifications/y\"}]", "");
  EXPECT(f, "[]",
         RPC
         "\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: empty batch\"}}\n");
  /* nested arrays are invalid members */
  EXPECT(f, "[[]]",
         "[" RPC "\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: a message "
         "must be a JSON object\"}}]\n");
  /* an initialize inside a batch is refused like any second initialize */
  EXPECT(f,
         "[" RPC
         "\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-03-26\"}}]",
         "[" RPC
         "\"id\":1,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: the session is "
         "already initialized\"}}]\n");
  /* the size limit */
  pf_buf big = PF_BUF_INIT;
  pf_buf_putc(&big, '[');
  for (int i = 0; i <= PF_MAX_BATCH; i++)
    pf_buf_printf(&big, "%s" RPC "\"id\":%d,\"method\":\"ping\"}", i ? "," : "", i);
  pf_buf_putc(&big, ']');
  EXPECT(f, pf_buf_cstr(&big),
         RPC "\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: batch too "
             "large\"}}\n");
  pf_buf_free(&big);
}

/* ------------------------------------------------------------------ */
/* Error codes of the methods                                          */

static void test_method_errors(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  EXPECT(f, RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{}}",
         RPC "\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Invalid params: tools/call needs a "
             "tool name\"}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"zz\"}}",
         RPC "\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Unknown tool: zz\"}}\n");
  EXPECT(f,
         RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":1}}",
         RPC "\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Invalid params: arguments must be "
             "an object\"}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"tools/list\",\"params\":{\"cursor\":\"x\"}}",
         RPC
         "\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Invalid params: invalid cursor\"}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"x\"}}",
         RPC
         "\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Invalid params: level must be one of "
         "debug, info, notice, warning, error, critical, alert, emergency\"}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"prompts/get\",\"params\":{\"name\":\"p\"}}",
         RPC "\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Invalid params: missing required "
             "argument 'who' for prompt 'p'\"}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"prompts/get\",\"params\":{\"name\":\"q\"}}",
         RPC "\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Unknown prompt: q\"}}\n");
  EXPECT(f,
         RPC "\"id\":1,\"method\":\"prompts/"
             "get\",\"params\":{\"name\":\"p\",\"arguments\":{\"who\":\"Al\"}}}",
         RPC "\"id\":1,\"result\":{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\","
             "\"text\":\"Hi Al\"}}]}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"prompts/get\",\"params\":{\"name\":\"broken\"}}",
         RPC "\"id\":1,\"error\":{\"code\":-32603,\"message\":\"Internal error: a prompt message "
             "embeds a resource that cannot be read\"}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"mem://b\"}}",
         RPC "\"id\":1,\"error\":{\"code\":-32002,\"message\":\"Resource not found\",\"data\":{"
             "\"uri\":\"mem://b\"}}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"mem://a\"}}",
         RPC "\"id\":1,\"result\":{\"contents\":[{\"uri\":\"mem://a\",\"mimeType\":\"text/plain\","
             "\"text\":\"A\"}]}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"mem://t/x%41\"}}",
         RPC
         "\"id\":1,\"result\":{\"contents\":[{\"uri\":\"mem://t/x%41\",\"text\":\"res xA\"}]}}\n");
  EXPECT(f, RPC "\"id\":1,\"method\":\"completion/complete\",\"params\":{}}",
         RPC
         "\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Invalid params: completion/complete "
         "needs ref.type, argument.name and argument.value\"}}\n");
  /* a handler's error code is a tool result, not a protocol error */
  EXPECT(f, RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"fail\"}}",
         RPC "\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"Tool 'fail' failed: "
             "input/output error\"}],\"isError\":true}}\n");
  EXPECT(
      f, RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{}}}",
      RPC "\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"Invalid arguments for "
          "tool 'echo': missing required argument 'text'\"}],\"isError\":true}}\n");
}

static void test_pages(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  const char *out = handle(f, RPC "\"id\":1,\"method\":\"tools/list\"}");
  assert_non_null(strstr(out, "\"nextCursor\":\"cGZvcmdlOjE=\"}}\n")); /* base64("pforge:1") */
  out =
      handle(f, RPC "\"id\":1,\"method\":\"tools/list\",\"params\":{\"cursor\":\"cGZvcmdlOjI=\"}}");
  assert_non_null(strstr(out, "{\"tools\":[{\"name\":\"wait\""));
  assert_non_null(strstr(out, "\"nextCursor\":\"cGZvcmdlOjM=\"}}\n"));
  out =
      handle(f, RPC "\"id\":1,\"method\":\"tools/list\",\"params\":{\"cursor\":\"cGZvcmdlOjM=\"}}");
  assert_non_null(strstr(out, "{\"tools\":[{\"name\":\"ask_inline\""));
  assert_null(strstr(out, "nextCursor"));
  /* pforge:4 is past the end */
  EXPECT(f, RPC "\"id\":1,\"method\":\"tools/list\",\"params\":{\"cursor\":\"cGZvcmdlOjQ=\"}}",
         RPC
         "\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Invalid params: invalid cursor\"}}\n");
}

/* ------------------------------------------------------------------ */
/* Logging and progress (inline handlers)                              */

static void test_logging_progress(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  EXPECT(f, RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"chatty\"}}",
         RPC
         "\"method\":\"notifications/message\",\"params\":{\"level\":\"warning\",\"logger\":\"lg\","
         "\"data\":\"w1\"}}\n" RPC
         "\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}\n");
  EXPECT(f, RPC "\"id\":2,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"debug\"}}",
         RPC "\"id\":2,\"result\":{}}\n");
  EXPECT(
      f,
      RPC "\"id\":3,\"method\":\"tools/"
          "call\",\"params\":{\"name\":\"chatty\",\"_meta\":{\"progressToken\":\"t\"}}}",
      RPC
      "\"method\":\"notifications/message\",\"params\":{\"level\":\"debug\",\"logger\":\"chatty\","
      "\"data\":\"d\"}}\n" RPC
      "\"method\":\"notifications/message\",\"params\":{\"level\":\"warning\",\"logger\":\"lg\","
      "\"data\":\"w1\"}}\n" RPC
      "\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"t\",\"progress\":0.5,"
      "\"message\":\"half\"}}\n" RPC
      "\"id\":3,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}\n");
  EXPECT(f, RPC "\"id\":4,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"emergency\"}}",
         RPC "\"id\":4,\"result\":{}}\n");
  /* a float token is not a valid progressToken: no progress */
  EXPECT(f,
         RPC "\"id\":5,\"method\":\"tools/"
             "call\",\"params\":{\"name\":\"chatty\",\"_meta\":{\"progressToken\":1.5}}}",
         RPC "\"id\":5,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}\n");
}

/* ------------------------------------------------------------------ */
/* Blocking calls on the thread pool                                   */

static void test_blocking_call(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  EXPECT(f,
         RPC "\"id\":\"w\",\"method\":\"tools/"
             "call\",\"params\":{\"name\":\"work\",\"_meta\":{\"progressToken\":7}}}",
         "");
  assert_int_equal(pf__session_pending(f->s), 1);
  /* the session keeps answering while the call runs */
  EXPECT(f, RPC "\"id\":1,\"method\":\"ping\"}", RPC "\"id\":1,\"result\":{}}\n");
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(pf__session_pending(f->s), 0);
  assert_string_equal(
      pf_buf_cstr(&f->emitted),
      RPC "\"method\":\"notifications/progress\",\"params\":{\"progressToken\":7,"
          "\"progress\":1,\"total\":2,\"message\":\"a\"}}\n" RPC
          "\"method\":\"notifications/message\",\"params\":{\"level\":\"info\","
          "\"logger\":\"work\",\"data\":\"w\"}}\n" RPC
          "\"method\":\"notifications/progress\",\"params\":{\"progressToken\":7,"
          "\"progress\":2,\"total\":2}}\n" RPC
          "\"id\":\"w\",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"done\"}]}}\n");
}

static void test_blocking_cancel(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  EXPECT(f, RPC "\"id\":1,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"emergency\"}}",
         RPC "\"id\":1,\"result\":{}}\n");
  EXPECT(f, RPC "\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"wait\"}}", "");
  /* a string "42" is another id */
  EXPECT(f, RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"42\"}}", "");
  EXPECT(f,
         RPC
         "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":42,\"reason\":\"r\"}}",
         "");
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(pf__session_pending(f->s), 0);
  assert_string_equal(pf_buf_cstr(&f->emitted), ""); /* no response, no notification */
}

/* Destroying the session while a blocking handler still logs and reports
 * progress: the handler must not touch the freed session (ASan). */
static void test_destroy_while_running(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  EXPECT(f,
         RPC "\"id\":1,\"method\":\"tools/"
             "call\",\"params\":{\"name\":\"wait\",\"_meta\":{\"progressToken\":1}}}",
         "");
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL); /* let it run a little */
  pf__session_destroy(f->s);
  f->s = NULL;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_string_equal(pf_buf_cstr(&f->emitted), "");
  f->s = pf__session_create(f->srv, &f->loop,
                            &(pf__route){on_emit, NULL, NULL, NULL, f}); /* for teardown */
}

/* What a transport does on SIGTERM: running calls are cancelled, they
 * finish (the handler sees pf_cancelled), and no response is ever sent for
 * them. */
static void test_cancel_all(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  EXPECT(f, RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"wait\"}}", "");
  EXPECT(f, RPC "\"id\":2,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"emergency\"}}",
         RPC "\"id\":2,\"result\":{}}\n");
  pf__session_cancel_all(f->s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(pf__session_pending(f->s), 0);
  /* lines sent before the cancellation was seen may be there; never a response */
  assert_null(strstr(pf_buf_cstr(&f->emitted), "\"id\":1"));
}

/* Runs the loop until the emitted output contains `want`. */
static void run_until(fixture *f, const char *want) {
  for (int i = 0; i < 5000 && !strstr(pf_buf_cstr(&f->emitted), want); i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_non_null(strstr(pf_buf_cstr(&f->emitted), want));
}

static void init_caps(fixture *f, const char *caps) {
  char msg[512];
  snprintf(
      msg, sizeof msg,
      "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
      "\"2025-11-25\",\"capabilities\":%s,\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
      caps);
  assert_non_null(strstr(handle(f, msg), "\"result\""));
  assert_string_equal(handle(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"),
                      "");
}

/* A blocking handler asks the client; the answer arrives as a message. */
static void test_client_request(void **state) {
  fixture *f = *state;
  init_caps(f, "{\"roots\":{}}");
  EXPECT(f, RPC "\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\"}}", "");
  run_until(f, RPC "\"id\":1,\"method\":\"roots/list\"}\n");
  /* an answer to an unknown request is ignored */
  EXPECT(f, RPC "\"id\":99,\"result\":{}}", "");
  EXPECT(f, RPC "\"id\":1,\"result\":{\"roots\":[{\"uri\":\"file:///r\"}]}}", "");
  run_until(
      f,
      RPC "\"id\":7,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"root file:///r\"}]}}\n");
  /* a JSON-RPC error from the client */
  pf_buf_reset(&f->emitted);
  EXPECT(f, RPC "\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\"}}", "");
  run_until(f, RPC "\"id\":2,\"method\":\"roots/list\"}\n");
  EXPECT(f, RPC "\"id\":2,\"error\":{\"code\":-1,\"message\":\"no\"}}", "");
  run_until(f, "\"text\":\"error -1\"");
  assert_int_equal(pf__session_pending(f->s), 0);
}

/* No capability: nothing is sent, the tool gets -PF_ENOTSUP. A handler on
 * the loop gets -PF_EINVAL. An unanswered request times out and the client
 * is told it was cancelled. */
static void test_client_request_errors(void **state) {
  fixture *f = *state;
  init_caps(f, "{}");
  EXPECT(f, RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\"}}", "");
  run_until(f, "\"id\":1,\"result\"");
  assert_non_null(strstr(pf_buf_cstr(&f->emitted), "rc not supported by the client"));
  assert_null(strstr(pf_buf_cstr(&f->emitted), "roots/list"));
  char want[128];
  snprintf(want, sizeof want, "\"text\":\"rc %d\"", -PF_EINVAL);
  assert_non_null(strstr(handle(f, RPC "\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                                       "\"ask_inline\"}}"),
                         want));
}

static void test_client_request_timeout(void **state) {
  fixture *f = *state;
  init_caps(f, "{\"roots\":{\"listChanged\":true}}");
  EXPECT(
      f,
      RPC
      "\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\",\"arguments\":{\"ms\":50}}}",
      "");
  run_until(f, "\"id\":3,\"result\"");
  const char *e = pf_buf_cstr(&f->emitted);
  assert_non_null(strstr(e, RPC "\"id\":1,\"method\":\"roots/list\"}"));
  assert_non_null(strstr(e,
                         RPC "\"method\":\"notifications/"
                             "cancelled\",\"params\":{\"requestId\":1,\"reason\":\"timed out\"}}"));
  assert_non_null(strstr(e, "rc timed out"));
  /* a late answer is ignored */
  EXPECT(f, RPC "\"id\":1,\"result\":{\"roots\":[]}}", "");
  /* cancelling the call while it waits ends the wait at once */
  pf_buf_reset(&f->emitted);
  EXPECT(f, RPC "\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\"}}", "");
  run_until(f, "\"id\":2,\"method\":\"roots/list\"");
  EXPECT(f, RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":4}}", "");
  for (int i = 0; i < 3000 && pf__session_pending(f->s); i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(pf__session_pending(f->s), 0);
  assert_null(strstr(pf_buf_cstr(&f->emitted), "\"id\":4,\"result\""));
}

static int setup_toggle(void **state) {
  setup_yaml = yaml_toggle;
  int rc = setup(state);
  setup_yaml = yaml;
  return rc;
}

/* tools/list for every revision: pages whose tools show nothing new in a
 * revision are shared with the previous one, the others are written again.
 * Exact bytes, with one tool per page and with all on one page. */
#define YAML_REVS(ps)                                                                              \
  "forge: {name: unit, version: '0.1', page_size: " ps "}\n"                                       \
  "tools:\n"                                                                                       \
  "  - {type: native, name: a, description: A, handler: {path: ut_echo},"                         \
  " input_schema: '{\"type\":\"object\"}'}\n"                                                      \
  "  - {type: native, name: b, title: Bt, description: B, handler: {path: ut_echo},"               \
  " input_schema: '{\"type\":\"object\"}'}\n"                                                      \
  "  - {type: native, name: c, description: C, handler: {path: ut_echo},"                          \
  " input_schema: '{\"type\":\"object\"}', annotations: {read_only: true}}\n"                      \
  "  - {type: native, name: d, description: D, handler: {path: ut_echo},"                          \
  " input_schema: '{\"type\":\"object\"}', icons: [{src: 'https://x/i.png'}]}\n"                   \
  "  - {type: native, name: e, description: E, handler: {path: ut_echo},"                         \
  " input_schema: '{\"type\":\"object\"}', output_schema: '{\"type\":\"object\"}'}\n"
static const char yaml_revs_1[] = YAML_REVS("1");
static const char yaml_revs_100[] = YAML_REVS("100");

static int setup_revs_1(void **state) {
  setup_yaml = yaml_revs_1;
  int rc = setup(state);
  setup_yaml = yaml;
  return rc;
}
static int setup_revs_100(void **state) {
  setup_yaml = yaml_revs_100;
  int rc = setup(state);
  setup_yaml = yaml;
  return rc;
}

/* The entry of tool t for revision v (0..3), written out by hand. */
static void tool_entry(char *out, size_t size, char t, int v) {
  const char *schema = ",\"inputSchema\":{\"type\":\"object\"}";
  char extra_mid[96] = "", extra_end[96] = "";
  if (t == 'b' && v >= 2)
    snprintf(extra_mid, sizeof extra_mid, ",\"title\":\"Bt\"");
  if (t == 'c' && v >= 1)
    snprintf(extra_end, sizeof extra_end, ",\"annotations\":{\"readOnlyHint\":true}");
  if (t == 'd' && v >= 3)
    snprintf(extra_end, sizeof extra_end, ",\"icons\":[{\"src\":\"https://x/i.png\"}]");
  if (t == 'e' && v >= 2)
    snprintf(extra_end, sizeof extra_end, ",\"outputSchema\":{\"type\":\"object\"}");
  snprintf(out, size, "{\"name\":\"%c\"%s,\"description\":\"%c\"%s%s}", t, extra_mid, t - 32,
           schema, extra_end);
}

static void check_revs(void **state, bool paged) {
  static const char *const revs[] = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};
  for (int v = 0; v < 4; v++) {
    fixture *f = *state;
    init(f, revs[v]);
    char want[2048], entry[256];
    if (!paged) {
      size_t o = (size_t)snprintf(want, sizeof want, RPC "\"id\":1,\"result\":{\"tools\":[");
      for (char t = 'a'; t <= 'e'; t++) {
        tool_entry(entry, sizeof entry, t, v);
        o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", t > 'a' ? "," : "", entry);
      }
      snprintf(want + o, sizeof want - o, "]}}\n");
      EXPECT(f, RPC "\"id\":1,\"method\":\"tools/list\"}", want);
    } else {
      static const char *const cursors[] = {"cGZvcmdlOjE=", "cGZvcmdlOjI=", "cGZvcmdlOjM=",
                                            "cGZvcmdlOjQ="};
      for (int pg = 0; pg < 5; pg++) {
        char msg[160];
        if (pg == 0)
          snprintf(msg, sizeof msg, RPC "\"id\":1,\"method\":\"tools/list\"}");
        else
          snprintf(msg, sizeof msg,
                   RPC "\"id\":1,\"method\":\"tools/list\",\"params\":{\"cursor\":\"%s\"}}",
                   cursors[pg - 1]);
        tool_entry(entry, sizeof entry, (char)('a' + pg), v);
        if (pg < 4)
          snprintf(want, sizeof want,
                   RPC "\"id\":1,\"result\":{\"tools\":[%s],\"nextCursor\":\"%s\"}}\n", entry,
                   cursors[pg]);
        else
          snprintf(want, sizeof want, RPC "\"id\":1,\"result\":{\"tools\":[%s]}}\n", entry);
        EXPECT(f, msg, want);
      }
    }
    /* a fresh session for the next revision */
    teardown(state);
    assert_int_equal(paged ? setup_revs_1(state) : setup_revs_100(state), 0);
  }
}

static void test_tools_list_revisions_paged(void **state) { check_revs(state, true); }
static void test_tools_list_revisions(void **state) { check_revs(state, false); }

/* enabled: false hides; pf_set_enabled shows and hides, rebuilds the list
 * and tells every initialized session. */
static void test_set_enabled(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  const char *out = handle(f, RPC "\"id\":1,\"method\":\"tools/list\"}");
  assert_non_null(strstr(out, "\"name\":\"toggle\""));
  assert_null(strstr(out, "secret"));
  EXPECT(f,
         RPC "\"id\":2,\"method\":\"tools/"
             "call\",\"params\":{\"name\":\"secret\",\"arguments\":{\"text\":\"x\"}}}",
         RPC "\"id\":2,\"error\":{\"code\":-32602,\"message\":\"Unknown tool: secret\"}}\n");
  assert_null(strstr(handle(f, RPC "\"id\":3,\"method\":\"prompts/list\"}"), "\"p\""));
  /* show the tool */
  pf_buf_reset(&f->emitted);
  assert_non_null(
      strstr(handle(f, RPC "\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
                           "\"toggle\",\"arguments\":{\"kind\":\"tool\",\"name\":\"secret\"}}}"),
             "rc 0"));
  assert_string_equal(pf_buf_cstr(&f->emitted),
                      RPC "\"method\":\"notifications/tools/list_changed\"}\n");
  assert_non_null(
      strstr(handle(f, RPC "\"id\":5,\"method\":\"tools/list\"}"), "\"name\":\"secret\""));
  EXPECT(f,
         RPC "\"id\":6,\"method\":\"tools/"
             "call\",\"params\":{\"name\":\"secret\",\"arguments\":{\"text\":\"x\"}}}",
         RPC "\"id\":6,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}}\n");
  /* no change: no notification */
  pf_buf_reset(&f->emitted);
  handle(f, RPC "\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"toggle\",\"arguments\":"
                "{\"kind\":\"tool\",\"name\":\"secret\"}}}");
  assert_string_equal(pf_buf_cstr(&f->emitted), "");
  /* prompts and resources */
  handle(f, RPC "\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"toggle\",\"arguments\":"
                "{\"kind\":\"prompt\",\"name\":\"p\"}}}");
  assert_non_null(strstr(handle(f, RPC "\"id\":9,\"method\":\"prompts/list\"}"), "\"name\":\"p\""));
  handle(f, RPC "\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":\"toggle\",\"arguments\":"
                "{\"kind\":\"resource\",\"name\":\"mem://a\",\"on\":false}}}");
  assert_null(strstr(handle(f, RPC "\"id\":11,\"method\":\"resources/list\"}"), "mem://a"));
  assert_non_null(strstr(
      handle(f, RPC "\"id\":12,\"method\":\"resources/read\",\"params\":{\"uri\":\"mem://a\"}}"),
      "-32002"));
  assert_string_equal(pf_buf_cstr(&f->emitted),
                      RPC "\"method\":\"notifications/prompts/list_changed\"}\n" RPC
                          "\"method\":\"notifications/resources/list_changed\"}\n");
  /* pf_client_notify: the line comes before the result */
  char w2[256];
  snprintf(w2, sizeof w2,
           RPC "\"method\":\"notifications/elicitation/"
               "complete\",\"params\":{\"elicitationId\":\"e1\"}}\n" RPC
               "\"id\":20,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"rc 0 %d\"}]}}\n",
           -PF_EINVAL);
  EXPECT(f, RPC "\"id\":20,\"method\":\"tools/call\",\"params\":{\"name\":\"notify\"}}", w2);
  /* unknown names */
  char want[32];
  snprintf(want, sizeof want, "rc %d", -PF_EINVAL);
  assert_non_null(
      strstr(handle(f, RPC "\"id\":13,\"method\":\"tools/call\",\"params\":{\"name\":"
                           "\"toggle\",\"arguments\":{\"kind\":\"tool\",\"name\":\"nope\"}}}"),
             want));
  assert_non_null(
      strstr(handle(f, RPC "\"id\":14,\"method\":\"tools/call\",\"params\":{\"name\":"
                           "\"toggle\",\"arguments\":{\"kind\":\"widget\",\"name\":\"p\"}}}"),
             want));
}

/* Showing and hiding a tool rebuilds its pages; the old ones are freed when
 * no list request reads them (else kept until a rebuild finds none), so
 * toggling does not grow memory. */
/* An allocator (through the seam) that keeps the bytes pforge has in use:
 * exact, unlike malloc statistics (thread caches; sanitizers' allocators). */
static _Atomic long tracked_bytes;
static void *tracked_malloc(void *ctx, size_t n) {
  (void)ctx;
  size_t *p = malloc(n + 16);
  if (!p)
    return NULL;
  p[0] = n;
  atomic_fetch_add(&tracked_bytes, (long)n);
  return (char *)p + 16;
}
static void *tracked_realloc(void *ctx, void *q, size_t n) {
  if (!q)
    return tracked_malloc(ctx, n);
  size_t *p = (size_t *)(void *)((char *)q - 16), old = p[0];
  p = realloc(p, n + 16);
  if (!p)
    return NULL;
  p[0] = n;
  atomic_fetch_add(&tracked_bytes, (long)n - (long)old);
  return (char *)p + 16;
}
static void tracked_free(void *ctx, void *q) {
  (void)ctx;
  size_t *p = (size_t *)(void *)((char *)q - 16);
  atomic_fetch_sub(&tracked_bytes, (long)p[0]);
  free(p);
}
static int setup_tracked(void **state) {
  static const pf__allocator a = {tracked_malloc, tracked_realloc, tracked_free, NULL};
  pf__set_allocator(&a);
  return setup_toggle(state);
}
static int teardown_tracked(void **state) {
  int rc = teardown(state);
  pf__set_allocator(NULL);
  return rc;
}

static long toggle_growth(fixture *f, int n, long from) {
  for (int i = 0; i < n; i++) {
    assert_int_equal(pf__server_set_enabled(f->srv, "tool", "secret", i % 2 == 0), 0);
    pf_buf_reset(&f->emitted);
  }
  return atomic_load(&tracked_bytes) - from;
}

static void test_pages_reclaimed(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  toggle_growth(f, 2, 0); /* the first notification sizes f->emitted */
  long live = atomic_load(&tracked_bytes);
  assert_int_equal(toggle_growth(f, 200, live), 0);
  /* a reader in the middle: every old version is kept... */
  atomic_fetch_add(&f->srv->page_readers, 1);
  assert_true(toggle_growth(f, 200, live) > 200 * 200);
  assert_non_null(atomic_load(&f->srv->tools_pages)->retired);
  /* ...and all freed by the next rebuild without one */
  atomic_fetch_sub(&f->srv->page_readers, 1);
  assert_int_equal(toggle_growth(f, 2, live), 0);
  assert_null(atomic_load(&f->srv->tools_pages)->retired);
  assert_non_null(
      strstr(handle(f, RPC "\"id\":5,\"method\":\"tools/list\"}"), "\"name\":\"toggle\""));
}

/* Messages laid out alike are read through one shape and dispatched from
 * its memo (the members' node indices, the method): each still gets its own
 * answer, with its own id, tool and arguments, and the session's state
 * still decides (a second session, not initialized, is refused). */
static void test_shape_memo(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  pf__scratch *sc = pf__scratch_get();
  uint64_t hits = pf__json_shapes_hits(sc->shapes);
#define CALL(id, name, text)                                                                       \
  RPC "\"id\":" id ",\"method\":\"tools/call\",\"params\":{\"name\":\"" name                        \
      "\",\"arguments\":{\"text\":\"" text "\"}}}"
#define TEXT(id, text) RPC "\"id\":" id ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"" text "\"}]}}\n"
  for (int round = 0; round < 2; round++) {
    EXPECT(f, CALL("1", "echo", "a"), TEXT("1", "a"));
    EXPECT(f, CALL("22", "echo", "bb"), TEXT("22", "bb"));
    EXPECT(f, CALL("333", "echo", "caf\xc3\xa9"), TEXT("333", "caf\xc3\xa9"));
    EXPECT(f, CALL("4", "nope", "x"),
           RPC "\"id\":4,\"error\":{\"code\":-32602,\"message\":\"Unknown tool: nope\"}}\n");
    assert_non_null(strstr(handle(f, CALL("5", "fail", "x")), "\"isError\":true"));
    EXPECT(f, CALL("\"s6\"", "echo", "d"), TEXT("\"s6\"", "d"));
    EXPECT(f, CALL("7", "echo", "e"), TEXT("7", "e"));
  }
  assert_true(pf__json_shapes_hits(sc->shapes) >= hits + 10);
  /* a notification laid out like nothing before; then ping and tools/list
   * alike (their own shapes and memos) */
  EXPECT(f, RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":9}}", "");
  for (int i = 0; i < 3; i++) {
    EXPECT(f, RPC "\"id\":8,\"method\":\"ping\"}", RPC "\"id\":8,\"result\":{}}\n");
    assert_non_null(strstr(handle(f, RPC "\"id\":9,\"method\":\"tools/list\"}"), "\"tools\":["));
  }
  /* another session on this thread, not initialized: the memo of the same
   * layout does not skip the session's checks */
  pf__session *s2 = pf__session_create(f->srv, &f->loop, NULL);
  assert_non_null(s2);
  char msg[256];
  snprintf(msg, sizeof msg, "%s", CALL("10", "echo", "z"));
  pf_buf out = PF_BUF_INIT;
  pf__session_handle(s2, msg, strlen(msg), &out);
  assert_string_equal(pf_buf_cstr(&out),
                      RPC "\"id\":10,\"error\":{\"code\":-32600,\"message\":\"Invalid Request: the "
                          "session is not initialized (send initialize first)\"}}\n");
  pf_buf_free(&out);
  pf__session_destroy(s2);
  EXPECT(f, CALL("11", "echo", "y"), TEXT("11", "y"));
#undef CALL
#undef TEXT
}

/* The tools' params are freed once the server is built: the schemas are
 * text and validators by then, and both still work. */
static void test_params_dropped(void **state) {
  fixture *f = *state;
  assert_null(f->srv->cfg->params_arena);
  for (size_t i = 0; i < f->srv->cfg->ntools; i++) {
    assert_null(f->srv->cfg->tools[i].build->params);
    assert_int_equal(f->srv->cfg->tools[i].build->nparams, 0);
  }
  init(f, "2025-11-25");
  assert_non_null(strstr(handle(f, RPC "\"id\":1,\"method\":\"tools/list\"}"),
                         "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"text\":"
                         "{\"type\":\"string\"}},\"required\":[\"text\"]"));
  assert_non_null(strstr(handle(f, RPC "\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                                       "\"echo\",\"arguments\":{\"text\":5}}}"),
                         "argument 'text': expected string, got integer"));
}

/* A passing validation is remembered per message shape, for a tool whose
 * validator decides by layout. Messages of one layout that name another
 * tool, or the same tool index of another server, are still checked. */
static const char yaml_vmemo[] =
    "forge: {name: unit, version: '0.1'}\n"
    "tools:\n"
    "  - {type: native, name: num, description: N, handler: {path: ut_ok}, params: {x: number}}\n"
    "  - {type: native, name: int, description: I, handler: {path: ut_ok}, params: {x: integer}}\n"
    "  - {type: native, name: str, description: S, handler: {path: ut_ok}, params: {s: string}}\n"
    "  - {type: native, name: short, description: S, handler: {path: ut_ok},\n"
    "     params: {s: {type: string, validation: {max_length: 2}}}}\n";
static const char yaml_vmemo_other[] =
    "forge: {name: unit, version: '0.1'}\n"
    "tools:\n"
    "  - {type: native, name: num, description: N, handler: {path: ut_ok}, params: {x: integer}}\n";

static int setup_vmemo(void **state) {
  setup_yaml = yaml_vmemo;
  int rc = setup(state);
  setup_yaml = yaml;
  return rc;
}

/* A server of its own from config text; the test fails with the
 * diagnostics when it cannot be built. */
static pf_server *server_from(const char *name, const char *yaml_text) {
  pf_buf diag = PF_BUF_INIT;
  pf_config *cfg = NULL;
  pf_server *srv = NULL;
  if (pf_config_load_text(name, yaml_text, strlen(yaml_text), &cfg, &diag) != 0 ||
      pf__server_create(cfg, &srv, &diag) != 0)
    fail_msg("%s", pf_buf_cstr(&diag));
  pf_buf_free(&diag);
  return srv;
}

static void test_validation_memo(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
#define XCALL(name, x) RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"" name \
      "\",\"arguments\":{\"x\":" x "}}}"
#define SCALL(name, v) RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"" name \
      "\",\"arguments\":{\"s\":\"" v "\"}}}"
#define OK RPC "\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}\n"
  for (int round = 0; round < 3; round++) {
    EXPECT(f, XCALL("num", "2.5"), OK);
    EXPECT(f, XCALL("num", "7"), OK);
    /* the same layout: int's validator does not decide by layout */
    assert_non_null(strstr(handle(f, XCALL("int", "2.5")), "expected integer, got number"));
    EXPECT(f, XCALL("int", "3"), OK);
    assert_non_null(strstr(handle(f, XCALL("int", "3.5")), "expected integer, got number"));
    EXPECT(f, XCALL("num", "-1e3"), OK);
    /* another layout (a string where a number was) */
    assert_non_null(strstr(handle(f, XCALL("num", "\"2\"")), "expected number, got string"));
    EXPECT(f, SCALL("str", "abc"), OK);
    assert_non_null(strstr(handle(f, SCALL("short", "abc")), "more than the maximum length 2"));
    EXPECT(f, SCALL("short", "ab"), OK);
    assert_non_null(strstr(handle(f, SCALL("short", "abcd")), "more than the maximum length 2"));
    EXPECT(f, SCALL("str", "abcd"), OK);
  }
  /* another server on this thread whose tool 0, also named num, takes
   * integers: the message num passed above is checked again there */
  EXPECT(f, XCALL("num", "2.5"), OK);
  pf_server *srv2 = server_from("other.yaml", yaml_vmemo_other);
  pf__session *s2 = pf__session_create(srv2, &f->loop, NULL);
  assert_non_null(s2);
  pf__session *s1 = f->s;
  f->s = s2;
  init(f, "2025-11-25");
  assert_non_null(strstr(handle(f, XCALL("num", "2.5")), "expected integer, got number"));
  EXPECT(f, XCALL("num", "2"), OK);
  f->s = s1;
  EXPECT(f, XCALL("num", "2.5"), OK);
  pf__session_destroy(s2);
  pf__server_destroy(srv2);
#undef XCALL
#undef SCALL
#undef OK
}

/* Names that differ only in a number and in length by one (their first or
 * last 8 bytes equal) build and are found: an earlier registry hash gave
 * device_1_status and device_10_status one hash under every seed, and the
 * server refused to start. */
static const char yaml_numbered[] =
    "forge: {name: unit, version: '0.1'}\n"
    "tools:\n"
    "  - {type: native, name: device_1_status, description: A, handler: {path: ut_echo}, params: {text: string}}\n"
    "  - {type: native, name: device_10_status, description: B, handler: {path: ut_echo}, params: {text: string}}\n"
    "resources:\n"
    "  - {uri: 'data://1/status', text: one}\n"
    "  - {uri: 'data://10/status', text: ten}\n"
    "prompts:\n"
    "  - {name: sensor_10_reset, template: 'p10'}\n"
    "  - {name: sensor_100_reset, template: 'p100'}\n";

static void test_numbered_names(void **state) {
  fixture *f = *state;
  pf_server *srv = server_from("numbered.yaml", yaml_numbered);
  pf__session *s = pf__session_create(srv, &f->loop, NULL);
  assert_non_null(s);
  pf__session *s1 = f->s;
  f->s = s;
  init(f, "2025-11-25");
  static const char *const calls[][2] = {
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
       "\"device_1_status\",\"arguments\":{\"text\":\"one\"}}}",
       "\"text\":\"one\""},
      {"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
       "\"device_10_status\",\"arguments\":{\"text\":\"ten\"}}}",
       "\"text\":\"ten\""},
      {"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\",\"params\":{\"uri\":"
       "\"data://10/status\"}}",
       "\"text\":\"ten\""},
      {"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/read\",\"params\":{\"uri\":"
       "\"data://1/status\"}}",
       "\"text\":\"one\""},
      {"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"prompts/get\",\"params\":{\"name\":"
       "\"sensor_100_reset\"}}",
       "p100"},
  };
  for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
    const char *out = handle(f, calls[i][0]);
    if (!strstr(out, calls[i][1]))
      fail_msg("%s -> %s", calls[i][0], out);
  }
  f->s = s1;
  pf__session_destroy(s);
  pf__server_destroy(srv);
}

/* Lists read on other threads (as HTTP workers do) while a tool is shown
 * and hidden: every answer is one of the two lists, and nothing is read
 * after it was freed (under ASan). */
typedef struct lister {
  pf_server *srv;
  uv_loop_t *loop;
  _Atomic bool *stop;
  _Atomic long answers;
  long bad;
} lister;

static void lister_run(void *arg) {
  lister *l = arg;
  pf__session *s = pf__session_create(l->srv, l->loop, NULL);
  pf_buf out = PF_BUF_INIT;
  char msg[160];
  const char *init_msg = RPC "\"id\":0,\"method\":\"initialize\",\"params\":{"
                             "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                             "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
  snprintf(msg, sizeof msg, "%s", init_msg);
  pf__session_handle(s, msg, strlen(msg), &out);
  while (!atomic_load(l->stop)) {
    pf_buf_reset(&out);
    snprintf(msg, sizeof msg, RPC "\"id\":1,\"method\":\"tools/list\"}");
    pf__session_handle(s, msg, strlen(msg), &out);
    const char *r = pf_buf_cstr(&out);
    if (!strstr(r, "\"name\":\"toggle\"") || !strstr(r, "]}}\n"))
      l->bad++;
    l->answers++;
  }
  pf_buf_free(&out);
  pf__session_destroy(s);
  pf__scratch_release();
}

static void test_pages_concurrent(void **state) {
  fixture *f = *state;
  init(f, "2025-11-25");
  _Atomic bool stop = false;
  lister l[2] = {{f->srv, &f->loop, &stop, 0, 0}, {f->srv, &f->loop, &stop, 0, 0}};
  uv_thread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(uv_thread_create(&th[i], lister_run, &l[i]), 0);
  while (atomic_load(&l[0].answers) == 0 || atomic_load(&l[1].answers) == 0)
    sched_yield();
  for (int i = 0; i < 2000; i++) {
    assert_int_equal(pf__server_set_enabled(f->srv, "tool", "secret", i % 2 == 0), 0);
    pf_buf_reset(&f->emitted);
  }
  atomic_store(&stop, true);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(uv_thread_join(&th[i]), 0);
    assert_true(atomic_load(&l[i].answers) > 0);
    assert_int_equal(l[i].bad, 0);
  }
}

/* ------------------------------------------------------------------ */
/* Requests to the client: elicitation modes, cancellation while waiting */

/* Blocking: elicitation/create in the mode of its argument ("url" or "form"). */
PF_TOOL(ut_elicit) {
  const char *mode = pf_arg_str(call, "mode", "form");
  const char *params =
      strcmp(mode, "url") == 0
          ? "{\"mode\":\"url\",\"message\":\"Sign in\",\"url\":\"https://example.com/x\","
            "\"elicitationId\":\"e7\"}"
          : "{\"message\":\"Name?\",\"requestedSchema\":{\"type\":\"object\",\"properties\":{"
            "\"n\":{\"type\":\"string\"}}}}";
  const pf_json *r;
  int rc = pf_client_request(call, "elicitation/create", params, 0, &r);
  if (rc != 0)
    return pf_result_error(call, "rc %d", rc);
  return pf_result_textf(call, "action %s", pf_json_get_str(r, "action", "?"));
}

static const char yaml_creq[] =
    "forge: {name: unit, version: '0.1'}\n"
    "tools:\n"
    "  - {type: native, name: ask, description: Asks, handler: {path: ut_ask}, blocking: true,\n"
    "     params: {ms: {type: integer, required: false}}}\n"
    "  - {type: native, name: elicit, description: E, handler: {path: ut_elicit}, blocking: true,\n"
    "     params: {mode: string}}\n"
    "  - {type: native, name: ask_async, description: A, handler: {path: ut_ask_async},\n"
    "     async: true, params: {ms: {type: integer, required: false}}}\n"
    "  - {type: native, name: ask_async_t, description: A, handler: {path: ut_ask_async},\n"
    "     async: true, timeout_ms: 100, params: {ms: {type: integer, required: false}}}\n";

static int setup_creq(void **state) {
  setup_yaml = yaml_creq;
  int rc = setup(state);
  setup_yaml = yaml;
  return rc;
}

/* Occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* Waits (running the loop) until no call is pending. */
static void run_idle(fixture *f) {
  for (int i = 0; i < 5000 && pf__session_pending(f->s); i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(pf__session_pending(f->s), 0);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* The client cancels the tool call while its handler waits for the
 * client: the client is told, exactly once, that the server's request is
 * cancelled, and the call gets no response. Many rounds, so that the
 * handler sometimes sees the cancellation before the session announces it
 * (the record it leaves behind is then announced and freed). */
static void test_client_request_cancel_notifies(void **state) {
  fixture *f = *state;
  init_caps(f, "{\"roots\":{}}");
  for (int i = 1; i <= 20; i++) {
    pf_buf_reset(&f->emitted);
    char msg[160], want[200];
    snprintf(msg, sizeof msg,
             RPC "\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\"}}", 100 + i);
    EXPECT(f, msg, "");
    snprintf(want, sizeof want, RPC "\"id\":%d,\"method\":\"roots/list\"}\n", i);
    run_until(f, want);
    if (i % 2) { /* let the handler run into its next wait slice */
      struct timespec ts = {0, (long)(i % 7) * 30 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    snprintf(msg, sizeof msg,
             RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":%d}}", 100 + i);
    EXPECT(f, msg, ""); /* on the session's route, not in the reply to this message */
    snprintf(want, sizeof want,
             RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":%d,\"reason\":"
                 "\"the tool call was cancelled\"}}\n",
             i);
    run_until(f, want);
    run_idle(f);
    const char *e = pf_buf_cstr(&f->emitted);
    assert_int_equal(count_of(e, "notifications/cancelled"), 1);
    snprintf(want, sizeof want, "\"id\":%d,\"result\"", 100 + i);
    assert_null(strstr(e, want));
    /* the client's late answer is ignored */
    snprintf(msg, sizeof msg, RPC "\"id\":%d,\"result\":{\"roots\":[]}}", i);
    EXPECT(f, msg, "");
  }
}

/* async: true: three calls wait at once on the loop (no thread); answered
 * in reverse order, each gets its own answer. */
static void test_async_request(void **state) {
  fixture *f = *state;
  init_caps(f, "{\"roots\":{}}");
  for (int i = 1; i <= 3; i++) {
    char msg[160], want[80];
    snprintf(msg, sizeof msg,
             RPC "\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"ask_async\"}}",
             10 + i);
    EXPECT(f, msg, "");
    snprintf(want, sizeof want, RPC "\"id\":%d,\"method\":\"roots/list\"}\n", i);
    run_until(f, want);
  }
  assert_int_equal(pf__session_pending(f->s), 3);
  EXPECT(f, RPC "\"id\":99,\"result\":{}}", ""); /* unknown: ignored */
  for (int i = 3; i >= 1; i--) {
    char msg[160], want[160];
    snprintf(msg, sizeof msg, RPC "\"id\":%d,\"result\":{\"roots\":[{\"uri\":\"file:///%d\"}]}}", i,
             i);
    EXPECT(f, msg, "");
    snprintf(want, sizeof want,
             RPC "\"id\":%d,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"root "
                 "file:///%d\"}]}}\n",
             10 + i, i);
    run_until(f, want);
  }
  assert_int_equal(pf__session_pending(f->s), 0);
}

/* No capability: refused synchronously (the handler's own result, in the
 * reply to the message), nothing sent, done never runs. */
static void test_async_refused(void **state) {
  fixture *f = *state;
  init_caps(f, "{}");
  async_cancels = 0;
  const char *out =
      handle(f, RPC "\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"ask_async\"}}");
  assert_non_null(strstr(out, "\"id\":4,\"result\""));
  assert_non_null(strstr(out, "sync rc not supported by the client"));
  run_idle(f);
  assert_null(strstr(pf_buf_cstr(&f->emitted), "roots/list"));
  assert_int_equal(pf__session_pending(f->s), 0);
}

/* Cancelling the tool call: done gets -PF_ECANCELED, the client is told
 * once that the request is cancelled, the call gets no response. */
static void test_async_cancel(void **state) {
  fixture *f = *state;
  init_caps(f, "{\"roots\":{}}");
  async_cancels = 0;
  EXPECT(f, RPC "\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"ask_async\"}}", "");
  run_until(f, RPC "\"id\":1,\"method\":\"roots/list\"}\n");
  EXPECT(f, RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":5}}", "");
  run_until(f, RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1,\"reason\":"
                   "\"the tool call was cancelled\"}}\n");
  for (int i = 0; i < 3000 && pf__session_pending(f->s); i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(pf__session_pending(f->s), 0);
  assert_int_equal(async_cancels, 1);
  const char *e = pf_buf_cstr(&f->emitted);
  assert_int_equal(count_of(e, "notifications/cancelled"), 1);
  assert_null(strstr(e, "\"id\":5,\"result\""));
  EXPECT(f, RPC "\"id\":1,\"result\":{\"roots\":[]}}", ""); /* late: ignored */
}

/* The tool's own timeout_ms covers the wait: its result is the timeout,
 * the client is told its request was cancelled, done gets -PF_ECANCELED;
 * the request's own timeout gives -PF_ETIMEDOUT and "timed out". */
static void test_async_timeouts(void **state) {
  fixture *f = *state;
  init_caps(f, "{\"roots\":{}}");
  async_cancels = 0;
  EXPECT(f, RPC "\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"ask_async_t\"}}", "");
  run_until(f, "\"id\":6,\"result\"");
  const char *e = pf_buf_cstr(&f->emitted);
  assert_non_null(strstr(e, "timed out after 100 ms"));
  assert_non_null(strstr(e,
                         RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1,"
                             "\"reason\":\"the request was cancelled\"}}\n"));
  for (int i = 0; i < 3000 && (pf__session_pending(f->s) || !async_cancels); i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(async_cancels, 1);
  pf_buf_reset(&f->emitted);
  EXPECT(f,
         RPC "\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"ask_async\","
             "\"arguments\":{\"ms\":50}}}",
         "");
  run_until(f, "\"id\":7,\"result\"");
  e = pf_buf_cstr(&f->emitted);
  assert_non_null(strstr(e,
                         RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":2,"
                             "\"reason\":\"timed out\"}}\n"));
  assert_non_null(strstr(e, "rc timed out"));
  assert_true(strstr(e, "notifications/cancelled") < strstr(e, "\"id\":7,\"result\""));
}

/* The session ends while an async call waits: done gets -PF_ECANCELED
 * (teardown runs the loop), nothing leaks. */
static void test_async_destroy(void **state) {
  fixture *f = *state;
  init_caps(f, "{\"roots\":{}}");
  async_cancels = 0;
  EXPECT(f, RPC "\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"ask_async\"}}", "");
  run_until(f, RPC "\"id\":1,\"method\":\"roots/list\"}\n");
  pf__session_destroy(f->s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(async_cancels, 1);
  f->s = pf__session_create(f->srv, &f->loop, &(pf__route){on_emit, NULL, NULL, NULL, f});
  assert_non_null(f->s);
}

/* The handler sees its call cancelled before the session announces it (a
 * cancellation sets the request's flag, then announces): it returns at once
 * and leaves its record, which the announcement sends, once, and frees. */
static void test_client_request_cancel_detached(void **state) {
  fixture *f = *state;
  init_caps(f, "{\"roots\":{}}");
  EXPECT(f, RPC "\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\"}}", "");
  run_until(f, RPC "\"id\":1,\"method\":\"roots/list\"}\n");
  pf__async_cancel_all(f->s); /* the flag (the loop has not run) */
  struct timespec ts = {0, 350 * 1000 * 1000};
  nanosleep(&ts, NULL);      /* the handler's wait slices see it: it gives up */
  pf__outreq_wake_all(f->s); /* the announcement */
  run_idle(f);
  const char *e = pf_buf_cstr(&f->emitted);
  assert_non_null(strstr(e,
                         RPC "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1,"
                             "\"reason\":\"the tool call was cancelled\"}}\n"));
  assert_int_equal(count_of(e, "notifications/cancelled"), 1);
  assert_null(strstr(e, "\"id\":9,\"result\""));
}

/* A timeout still tells the client on the call's own route, before the
 * call's isError result. */
static void test_client_request_timeout_order(void **state) {
  fixture *f = *state;
  init_caps(f, "{\"roots\":{}}");
  EXPECT(
      f,
      RPC
      "\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\",\"arguments\":{\"ms\":30}}}",
      "");
  run_until(f, "\"id\":5,\"result\"");
  assert_string_equal(
      pf_buf_cstr(&f->emitted),
      RPC "\"id\":1,\"method\":\"roots/list\"}\n" RPC
          "\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1,\"reason\":"
          "\"timed out\"}}\n" RPC "\"id\":5,\"result\":{\"content\":[{\"type\":\"text\","
          "\"text\":\"rc timed out\"}],\"isError\":true}}\n");
}

/* URL-mode elicitation needs `elicitation.url`; `elicitation: {}` is form
 * mode only. */
static void elicit_with(fixture *f, const char *caps, bool url_ok, bool form_ok) {
  init_caps(f, caps);
  char want[160];
  /* url mode */
  EXPECT(f,
         RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"elicit\",\"arguments\":{"
             "\"mode\":\"url\"}}}",
         "");
  if (url_ok) {
    run_until(f, RPC "\"id\":1,\"method\":\"elicitation/create\",\"params\":{\"mode\":\"url\","
                     "\"message\":\"Sign in\",\"url\":\"https://example.com/x\","
                     "\"elicitationId\":\"e7\"}}\n");
    EXPECT(f, RPC "\"id\":1,\"result\":{\"action\":\"accept\"}}", "");
    run_until(
        f, "\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"action accept\"}]}}");
  } else {
    snprintf(want, sizeof want,
             "\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"rc %d\"}],"
             "\"isError\":true}}",
             -PF_ENOTSUP);
    run_until(f, want);
    assert_null(strstr(pf_buf_cstr(&f->emitted), "elicitation/create"));
  }
  pf_buf_reset(&f->emitted);
  /* form mode */
  EXPECT(f,
         RPC "\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"elicit\",\"arguments\":{"
             "\"mode\":\"form\"}}}",
         "");
  if (form_ok) {
    run_until(f, "\"method\":\"elicitation/create\",\"params\":{\"message\":\"Name?\"");
    const char *e = pf_buf_cstr(&f->emitted);
    const char *id = strstr(e, "\"id\":");
    assert_non_null(id);
    long rid = strtol(id + 5, NULL, 10);
    char msg[128];
    snprintf(msg, sizeof msg, RPC "\"id\":%ld,\"result\":{\"action\":\"decline\"}}", rid);
    EXPECT(f, msg, "");
    run_until(f, "\"text\":\"action decline\"");
  } else {
    snprintf(want, sizeof want, "\"text\":\"rc %d\"}],\"isError\":true}}", -PF_ENOTSUP);
    run_until(f, want);
    assert_null(strstr(pf_buf_cstr(&f->emitted), "elicitation/create"));
  }
  run_idle(f);
}

static void test_elicit_form_only_empty(void **state) {
  elicit_with(*state, "{\"elicitation\":{}}", false, true);
}
static void test_elicit_form_only(void **state) {
  elicit_with(*state, "{\"elicitation\":{\"form\":{}}}", false, true);
}
static void test_elicit_url_only(void **state) {
  elicit_with(*state, "{\"elicitation\":{\"url\":{}}}", true, false);
}
static void test_elicit_both(void **state) {
  elicit_with(*state, "{\"elicitation\":{\"form\":{},\"url\":{}}}", true, true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_lifecycle_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tools_list_revisions_paged, setup_revs_1, teardown),
      cmocka_unit_test_setup_teardown(test_tools_list_revisions, setup_revs_100, teardown),
      cmocka_unit_test_setup_teardown(test_version_negotiation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_error_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
      cmocka_unit_test_setup_teardown(test_notifications_silent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_before_init, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_2024, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_2025_03, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_2025_06, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_2025_11, setup, teardown),
      cmocka_unit_test_setup_teardown(test_method_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_logging_progress, setup, teardown),
      cmocka_unit_test_setup_teardown(test_blocking_call, setup, teardown),
      cmocka_unit_test_setup_teardown(test_blocking_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_destroy_while_running, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_all, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_request_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_request_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_enabled, setup_toggle, teardown),
      cmocka_unit_test_setup_teardown(test_pages_reclaimed, setup_tracked, teardown_tracked),
      cmocka_unit_test_setup_teardown(test_pages_concurrent, setup_toggle, teardown),
      cmocka_unit_test_setup_teardown(test_shape_memo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_validation_memo, setup_vmemo, teardown),
      cmocka_unit_test_setup_teardown(test_numbered_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_params_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_request_cancel_notifies, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_client_request_cancel_detached, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_async_request, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_async_cancel, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_async_refused, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_async_timeouts, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_async_destroy, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_client_request_timeout_order, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_elicit_form_only_empty, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_elicit_form_only, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_elicit_url_only, setup_creq, teardown),
      cmocka_unit_test_setup_teardown(test_elicit_both, setup_creq, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

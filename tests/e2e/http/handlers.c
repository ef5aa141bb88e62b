/* Extra native handlers of the HTTP e2e fixture (tests/e2e/http/pforge.yaml),
 * linked into libhttp_fixture.so together with tests/e2e/full/handlers.c
 * (which declares the ABI version): requests to the client and SSE polling. */
#include <time.h>

#include <pforge/pforge.h>

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* Blocking: asks the client for roots/list and reports the first root. */
PF_TOOL(hx_roots) {
  const pf_json *r = NULL;
  int rc = pf_client_request(call, "roots/list", NULL, (unsigned)pf_arg_int(call, "timeout_ms", 5000),
                             &r);
  if (rc != 0)
    return pf_result_error(call, "roots/list failed: %d", rc);
  const pf_json *roots = pf_json_get(r, "roots");
  const pf_json *first = roots ? pf_json_at(roots, 0) : NULL;
  return pf_result_textf(call, "roots: %zu first: %s", roots ? pf_json_len(roots) : 0,
                         first ? pf_json_get_str(first, "uri", "?") : "none");
}

/* Blocking: asks the client for a sampling/createMessage and reports its text. */
PF_TOOL(hx_sample) {
  const pf_json *r = NULL;
  int rc = pf_client_request(call, "sampling/createMessage",
                             "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\","
                             "\"text\":\"hi\"}}],\"maxTokens\":10}",
                             5000, &r);
  if (rc != 0)
    return pf_result_error(call, "sampling failed: %d", rc);
  const pf_json *c = pf_json_get(r, "content");
  return pf_result_textf(call, "sampled: %s", c ? pf_json_get_str(c, "text", "?") : "?");
}

/* Blocking, SSE polling: one progress, closes its stream (retry 100 ms), more
 * progress while the client is away, then the result. */
PF_TOOL(hx_poll) {
  pf_progress(call, 1, 3, "before close");
  int rc = pf_stream_close(call, 100);
  sleep_ms(300);
  pf_progress(call, 2, 3, "while away");
  sleep_ms(50);
  pf_progress(call, 3, 3, "almost");
  return pf_result_textf(call, "polled rc=%d", rc);
}

/* Tells subscribers of docs://inline that it changed. */
PF_TOOL(hx_touch) {
  pf_resource_updated(call, "docs://inline");
  return pf_result_textz(call, "touched");
}

/* Shows (on: true) or hides the `hidden` tool: clients get list_changed. */
PF_TOOL(hx_toggle) {
  int rc = pf_set_enabled(call, "tool", "hidden", pf_arg_bool(call, "on", true));
  return pf_result_textf(call, "rc %d", rc);
}

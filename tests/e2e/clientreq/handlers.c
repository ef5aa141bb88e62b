/* Native handlers of the requests-to-the-client e2e fixture
 * (tests/e2e/clientreq/pforge.yaml, served by tests/e2e/mcp_client_requests.py). */
#include <stdio.h>
#include <string.h>

#include <pforge/pforge.h>

PF_ABI_DECLARE();

/* Writes what pf_client_request gave back: the result object as text, or
 * an isError result naming the error (and the client's error message). */
static int report(pf_call *call, int rc, const pf_json *r) {
  if (rc == 0) {
    pf_json_writer *w = pf_result_structured(call);
    if (!w)
      return -PF_ENOMEM;
    pf_jw_value(w, r);
    return 0;
  }
  if (rc == -PF_EREMOTE)
    return pf_result_error(call, "the client answered with an error: %s",
                           pf_json_get_str(r, "message", "?"));
  return pf_result_error(call, "request failed: %s (%d)", pf_strerror(rc), rc);
}

/* Blocking: sends `method` with `params` (JSON text of an object, "" for
 * none) and waits at most timeout_ms (0: the server's default). */
PF_TOOL(cr_ask) {
  const char *params = pf_arg_str(call, "params", "");
  const pf_json *r = NULL;
  int rc = pf_client_request(call, pf_arg_str(call, "method", ""), *params ? params : NULL,
                             (unsigned)pf_arg_int(call, "timeout_ms", 0), &r);
  return report(call, rc, r);
}

/* Blocking: elicitation/create in form or url mode (argument `mode`). */
PF_TOOL(cr_elicit) {
  const char *mode = pf_arg_str(call, "mode", "form");
  const char *params =
      strcmp(mode, "url") == 0
          ? "{\"mode\":\"url\",\"message\":\"Please sign in\","
            "\"url\":\"https://example.com/login?x=1\",\"elicitationId\":\"el-1\"}"
          : "{\"message\":\"Your name?\",\"requestedSchema\":{\"type\":\"object\","
            "\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}}";
  const pf_json *r = NULL;
  int rc = pf_client_request(call, "elicitation/create", params, 5000, &r);
  if (rc == -PF_ENOTSUP)
    return pf_result_error(call, "the client does not support %s-mode elicitation", mode);
  return report(call, rc, r);
}

/* Blocking: answers at once (the thread pool is free). */
PF_TOOL(cr_quick) { return pf_result_textz(call, "quick"); }

/* ---- async: true tools (pf_client_request_async) ---- */

/* Calls whose done callback saw -PF_ECANCELED (cr_async_seen reports it:
 * a cancelled call has no result to show it in). */
static _Atomic int cancelled_seen;

/* done of cr_ask_async: reports the outcome as report() does. */
static int ask_done(pf_call *call, int rc, const pf_json *r, void *ud) {
  (void)ud;
  if (rc == -PF_ECANCELED)
    cancelled_seen++;
  return report(call, rc, r);
}

/* Async: sends `method` with `params` and returns PF_PENDING; the answer
 * goes to ask_done. A synchronous refusal is reported as "refused: ...". */
PF_TOOL(cr_ask_async) {
  const char *params = pf_arg_str(call, "params", "");
  int rc = pf_client_request_async(call, pf_arg_str(call, "method", ""), *params ? params : NULL,
                                   (unsigned)pf_arg_int(call, "timeout_ms", 0), ask_done, NULL);
  if (rc != 0)
    return pf_result_error(call, "refused: %s (%d)", pf_strerror(rc), rc);
  return PF_PENDING;
}

/* Copies a JSON value as text into the call's memory. */
static const char *json_text(pf_call *call, const pf_json *v) {
  pf_buf b = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &b);
  pf_jw_value(&w, v);
  char *t = b.failed ? NULL : pf_call_alloc(call, b.len + 1);
  if (t) {
    memcpy(t, b.data, b.len);
    t[b.len] = '\0';
  }
  pf_buf_free(&b);
  return t;
}

/* Second step of cr_chain: the sampling answer, with the elicitation's. */
static int chain_sampled(pf_call *call, int rc, const pf_json *r, void *ud) {
  const char *elicited = ud;
  if (rc != 0)
    return report(call, rc, r);
  pf_json_writer *w = pf_result_structured(call);
  if (!w)
    return -PF_ENOMEM;
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "elicited");
  pf_jw_raw(w, elicited, strlen(elicited));
  PF_JW_KEY(w, "sampled");
  pf_jw_value(w, r);
  pf_jw_obj_end(w);
  return 0;
}

/* First step of cr_chain: keeps the elicitation's answer, then samples. */
static int chain_elicited(pf_call *call, int rc, const pf_json *r, void *ud) {
  (void)ud;
  if (rc != 0)
    return report(call, rc, r);
  const char *kept = json_text(call, r);
  if (!kept)
    return -PF_ENOMEM;
  pf_log(call, PF_LEVEL_INFO, NULL, "elicited; now sampling");
  rc = pf_client_request_async(call, "sampling/createMessage",
                               "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\","
                               "\"text\":\"chain\"}}],\"maxTokens\":5}",
                               5000, chain_sampled, (void *)kept);
  return rc == 0 ? PF_PENDING : report(call, rc, NULL);
}

/* Async: elicitation/create, then sampling/createMessage; both answers in
 * the result. */
PF_TOOL(cr_chain) {
  int rc = pf_client_request_async(call, "elicitation/create",
                                   "{\"message\":\"Your name?\",\"requestedSchema\":{\"type\":"
                                   "\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}}",
                                   5000, chain_elicited, NULL);
  return rc == 0 ? PF_PENDING : report(call, rc, NULL);
}

/* Async: how many done callbacks saw -PF_ECANCELED so far. */
PF_TOOL(cr_async_seen) { return pf_result_textf(call, "%d", cancelled_seen); }

/* Not async (blocking, or inline): what
 * pf_client_request_async answers there. */
PF_TOOL(cr_async_misuse) {
  int rc = pf_client_request_async(call, "roots/list", NULL, 0, ask_done, NULL);
  return pf_result_textf(call, "%d", rc);
}

/* Async: what the blocking form answers in an async tool. */
PF_TOOL(cr_blocking_in_async) {
  const pf_json *r = NULL;
  int rc = pf_client_request(call, "roots/list", NULL, 100, &r);
  return pf_result_textf(call, "%d", rc);
}

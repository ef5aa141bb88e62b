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

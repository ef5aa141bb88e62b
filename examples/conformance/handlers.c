/* Native handlers of examples/conformance: the fixtures that the official MCP
 * conformance suite (@modelcontextprotocol/conformance, `server` mode)
 * expects from the server under test. See README.md. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pforge/pforge.h>

PF_ABI_DECLARE();

/* The suite's payloads, decoded: a 1x1 PNG
 * (iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==)
 * and a minimal WAV (UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=). */
static const unsigned char png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0xfc, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x05, 0x02, 0x00, 0x5f, 0xc8,
    0xf1, 0xd2, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
static const unsigned char wav[] = {
    0x52, 0x49, 0x46, 0x46, 0x26, 0x00, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45, 0x66, 0x6d, 0x74,
    0x20, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x40, 0x1f, 0x00, 0x00, 0x00, 0x7d,
    0x00, 0x00, 0x02, 0x00, 0x10, 0x00, 0x64, 0x61, 0x74, 0x61, 0x02, 0x00, 0x00, 0x00};

/* Sleeps ms milliseconds in 10 ms slices; false when the call was cancelled. */
static bool sleep_ms(pf_call *call, int ms) {
  for (int t = 0; t < ms; t += 10) {
    if (pf_cancelled(call))
      return false;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return !pf_cancelled(call);
}

/* ------------------------------------------------------------------ */
/* Content tools                                                       */

PF_TOOL(conf_simple_text) {
  return pf_result_textz(call, "This is a simple text response for testing.");
}

PF_TOOL(conf_image_content) { return pf_result_image(call, png, sizeof png, "image/png"); }

PF_TOOL(conf_audio_content) { return pf_result_audio(call, wav, sizeof wav, "audio/wav"); }

PF_TOOL(conf_embedded_resource) {
  static const char text[] = "This is an embedded resource content.";
  return pf_result_resource_text(call, "test://embedded-resource", "text/plain", text,
                                 sizeof text - 1);
}

PF_TOOL(conf_multiple_content_types) {
  static const char json[] = "{\"test\":\"data\",\"value\":123}";
  int rc = pf_result_textz(call, "Multiple content types test:");
  if (!rc)
    rc = pf_result_image(call, png, sizeof png, "image/png");
  if (!rc)
    rc = pf_result_resource_text(call, "test://mixed-content-resource", "application/json", json,
                                 sizeof json - 1);
  return rc;
}

PF_TOOL(conf_error_handling) {
  return pf_result_error(call, "This tool intentionally returns an error for testing");
}

PF_TOOL(conf_json_schema_2020_12) {
  pf_buf b = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &b);
  pf_jw_value(&w, pf_args(call));
  int rc = b.failed ? -PF_ENOMEM
                    : pf_result_textf(call, "JSON Schema 2020-12 tool called with: %.*s",
                                      (int)b.len, b.data);
  pf_buf_free(&b);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Blocking tools: logging, progress, reconnection                     */

PF_TOOL(conf_tool_with_logging) {
  static const char *const msgs[] = {"Tool execution started", "Tool processing data",
                                     "Tool execution completed"};
  for (int i = 0; i < 3; i++) {
    if (i > 0 && !sleep_ms(call, 50))
      return 0;
    pf_log(call, PF_LEVEL_INFO, "conformance-test-server", "%s", msgs[i]);
  }
  return pf_result_textz(call, "Tool with logging executed successfully");
}

PF_TOOL(conf_tool_with_progress) {
  for (int p = 0; p <= 100; p += 50) {
    if (p > 0 && !sleep_ms(call, 50))
      return 0;
    char msg[64];
    snprintf(msg, sizeof msg, "Completed step %d of 100", p);
    pf_progress(call, p, 100, msg);
  }
  /* like the reference fixture: the answer names the token it reported on */
  pf_buf tok = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &tok);
  pf_jw_value(&w, pf_progress_token(call));
  int rc = pf_result_textf(call, "Tool with progress executed successfully (progressToken %s)",
                           pf_progress_token(call) && !tok.failed ? pf_buf_cstr(&tok) : "none");
  pf_buf_free(&tok);
  return rc;
}

PF_TOOL(conf_reconnection) {
  /* Over Streamable HTTP (2025-11-25) this closes the POST's SSE stream; the
   * client reconnects with GET + Last-Event-ID and gets the result there.
   * Elsewhere (stdio, JSON replies) there is nothing to close. */
  int rc = pf_stream_close(call, 500);
  if (rc != 0 && rc != -PF_ENOTSUP)
    return rc;
  if (!sleep_ms(call, 300))
    return 0;
  return pf_result_textz(call, "Reconnection test completed");
}

/* ------------------------------------------------------------------ */
/* Requests to the client: sampling and elicitation                    */

/* A tool result for a failed pf_client_request. */
static int request_failed(pf_call *call, int rc, const char *what, const char *capability,
                          const pf_json *error) {
  if (rc == -PF_ENOTSUP)
    return pf_result_error(call, "The client does not support %s (no '%s' capability)", what,
                           capability);
  if (rc == -PF_EREMOTE)
    return pf_result_error(call, "The client rejected the %s request: %s", what,
                           pf_json_get_str(error, "message", "(no message)"));
  if (rc == -PF_ECANCELED)
    return 0; /* cancelled: no response is sent */
  return pf_result_error(call, "The %s request failed: %s", what, pf_strerror(rc));
}

PF_TOOL(conf_sampling) {
  const char *prompt = pf_arg_str(call, "prompt", "");
  pf_buf params = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &params);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "messages");
  pf_jw_arr_begin(&w);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "role");
  pf_jw_strz(&w, "user");
  PF_JW_KEY(&w, "content");
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "type");
  pf_jw_strz(&w, "text");
  PF_JW_KEY(&w, "text");
  pf_jw_strz(&w, prompt);
  pf_jw_obj_end(&w);
  pf_jw_obj_end(&w);
  pf_jw_arr_end(&w);
  PF_JW_KEY(&w, "maxTokens");
  pf_jw_int(&w, 100);
  pf_jw_obj_end(&w);
  if (params.failed) {
    pf_buf_free(&params);
    return -PF_ENOMEM;
  }
  const pf_json *r = NULL;
  int rc = pf_client_request(call, "sampling/createMessage", pf_buf_cstr(&params), 0, &r);
  pf_buf_free(&params);
  if (rc != 0)
    return request_failed(call, rc, "sampling", "sampling", r);
  /* content is one block, or (2025-11-25) an array of blocks */
  const pf_json *content = pf_json_get(r, "content");
  if (pf_json_typeof(content) == PF_JSON_ARRAY)
    content = pf_json_at(content, 0);
  size_t len = 0;
  const char *text = pf_json_str(pf_json_get(content, "text"), &len);
  if (!text)
    return pf_result_textz(call, "LLM response: No response");
  return pf_result_textf(call, "LLM response: %.*s", (int)len, text);
}

/* Sends elicitation/create with params and reports the answer as
 * "<prefix>: action=<action>, content=<content JSON>". */
static int elicit(pf_call *call, const char *params, const char *prefix) {
  const pf_json *r = NULL;
  int rc = pf_client_request(call, "elicitation/create", params, 0, &r);
  if (rc != 0)
    return request_failed(call, rc, "elicitation", "elicitation", r);
  pf_buf content = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &content);
  const pf_json *c = pf_json_get(r, "content");
  if (c)
    pf_jw_value(&w, c);
  else
    pf_jw_raw(&w, "{}", 2);
  rc = content.failed ? -PF_ENOMEM
                      : pf_result_textf(call, "%s: action=%s, content=%.*s", prefix,
                                        pf_json_get_str(r, "action", "unknown"), (int)content.len,
                                        content.data);
  pf_buf_free(&content);
  return rc;
}

PF_TOOL(conf_elicitation) {
  static const char schema[] =
      "{\"type\":\"object\",\"properties\":{"
      "\"username\":{\"type\":\"string\",\"description\":\"User's response\"},"
      "\"email\":{\"type\":\"string\",\"description\":\"User's email address\"}},"
      "\"required\":[\"username\",\"email\"]}";
  pf_buf params = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &params);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "message");
  pf_jw_strz(&w, pf_arg_str(call, "message", ""));
  PF_JW_KEY(&w, "requestedSchema");
  pf_jw_raw(&w, schema, sizeof schema - 1);
  pf_jw_obj_end(&w);
  int rc = params.failed ? -PF_ENOMEM : elicit(call, pf_buf_cstr(&params), "User response");
  pf_buf_free(&params);
  return rc;
}

/* SEP-1034: a default for every primitive type. */
PF_TOOL(conf_elicitation_sep1034_defaults) {
  static const char params[] =
      "{\"message\":\"Please review and update the form fields with defaults\","
      "\"requestedSchema\":{\"type\":\"object\",\"properties\":{"
      "\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John Doe\"},"
      "\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
      "\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
      "\"status\":{\"type\":\"string\",\"description\":\"User status\","
      "\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
      "\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\","
      "\"default\":true}},"
      "\"required\":[]}}";
  return elicit(call, params, "Elicitation completed");
}

/* SEP-1330: the five enum variants. */
PF_TOOL(conf_elicitation_sep1330_enums) {
  static const char params[] =
      "{\"message\":\"Please select options from the enum fields\","
      "\"requestedSchema\":{\"type\":\"object\",\"properties\":{"
      "\"untitledSingle\":{\"type\":\"string\",\"description\":\"Select one option\","
      "\"enum\":[\"option1\",\"option2\",\"option3\"]},"
      "\"titledSingle\":{\"type\":\"string\",\"description\":\"Select one option with titles\","
      "\"oneOf\":[{\"const\":\"value1\",\"title\":\"First Option\"},"
      "{\"const\":\"value2\",\"title\":\"Second Option\"},"
      "{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
      "\"legacyEnum\":{\"type\":\"string\",\"description\":\"Select one option (legacy)\","
      "\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
      "\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
      "\"untitledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options\","
      "\"minItems\":1,\"maxItems\":3,"
      "\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
      "\"titledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options with titles\","
      "\"minItems\":1,\"maxItems\":3,"
      "\"items\":{\"anyOf\":[{\"const\":\"value1\",\"title\":\"First Choice\"},"
      "{\"const\":\"value2\",\"title\":\"Second Choice\"},"
      "{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},"
      "\"required\":[]}}";
  return elicit(call, params, "Elicitation completed");
}

/* ------------------------------------------------------------------ */
/* Resources                                                           */

/* test://static-binary: the PNG, sent as a blob. */
PF_TOOL(conf_res_static_binary) {
  return pf_result_resource_blob(call, pf_call_name(call), "image/png", png, sizeof png);
}

/* test://template/{id}/data: {"id":"<id>","templateTest":true,"data":"Data for ID: <id>"} */
PF_TOOL(conf_res_template) {
  const char *id = pf_arg_str(call, "id", "");
  pf_buf data = PF_BUF_INIT, json = PF_BUF_INIT;
  pf_buf_printf(&data, "Data for ID: %s", id);
  pf_json_writer w;
  pf_jw_init(&w, &json);
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "id");
  pf_jw_strz(&w, id);
  PF_JW_KEY(&w, "templateTest");
  pf_jw_bool(&w, true);
  PF_JW_KEY(&w, "data");
  pf_jw_str(&w, data.data ? data.data : "", data.len);
  pf_jw_obj_end(&w);
  int rc = data.failed || json.failed ? -PF_ENOMEM : pf_result_text(call, json.data, json.len);
  pf_buf_free(&data);
  pf_buf_free(&json);
  return rc;
}

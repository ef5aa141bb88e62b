/* http tools: one HTTP request per call, made with libcurl's multi
 * interface driven by the event loop of the thread that handled the call
 * (one CURLM per loop thread, created on the first request and torn down
 * when its last transfer ends, so an idle loop holds no handle of ours).
 * The endpoint, the query values and the header values are templates (URL
 * variables percent-encoded); the body is a JSON-aware template
 * (template/jsontmpl.h) or, without one, the call's arguments. */
#ifndef PF_TOOLS_HTTP_H
#define PF_TOOLS_HTTP_H

#include "mcp/mcp.h"

#define PF_HTTP_DEFAULT_TIMEOUT_MS 30000
/* How much of an error response's body an isError result quotes. */
#define PF_HTTP_ERROR_EXCERPT 1024
/* apikey auth without `header` or `query`: the header it goes in. */
#define PF_HTTP_APIKEY_HEADER "X-API-Key"

/* At load, before the tool's input schema is built: compiles the templates
 * of cfg into t->rare->kind_data and sets its start function (initializing libcurl on the
 * first http tool). When the tool declares no params and no input_schema,
 * infers required string params from the template variables of endpoint,
 * query, headers and body_template, stored in cfg (arena). Returns 0, or
 * -PF_ECONFIG with a message appended to err, or -PF_ENOMEM. */
int pf__http_prepare(pf_cfg_tool *cfg, pf__tool *t, pf_arena *arena, pf_buf *err);

/* Frees t->kind_data (libcurl is cleaned up with the last http tool). Call
 * once no request of the tool is running. */
void pf__http_free(pf__tool *t);

#endif

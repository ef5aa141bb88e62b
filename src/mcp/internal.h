/* Shared between the files of src/mcp. */
#ifndef PF_MCP_INTERNAL_H
#define PF_MCP_INTERNAL_H

#include "mcp/mcp.h"

/* JSON-RPC output (each appends one line ending in '\n'). id NULL = null. */
/* `{"jsonrpc":"2.0","id":<id>`, or with id_text (the id as JSON) when given */
void pf__rpc_open(pf_buf *out, const pf_json *id, const char *id_text);
void pf__rpc_head(pf_buf *out, const pf_json *id); /* the same and a ',' */
void pf__rpc_error(pf_buf *out, const pf_json *id, int code, const char *msg,
                   const char *data_json);
void pf__rpc_errorf(pf_buf *out, const pf_json *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pf__rpc_result_raw(pf_buf *out, const pf_json *id, const char *json, size_t len);

/* Decodes a list cursor into a page index; -1 when invalid. */
int pf__cursor_page(const pf_json *params, size_t npages, size_t *page);

/* Methods implemented outside session.c. */
void pf__m_tools_call(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out);
void pf__m_resources_read(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out);
void pf__m_resources_subscribe(pf__session *s, const pf_json *id, const pf_json *params,
                               pf_buf *out);
void pf__m_resources_unsubscribe(pf__session *s, const pf_json *id, const pf_json *params,
                                 pf_buf *out);
void pf__m_prompts_get(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out);
void pf__m_complete(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out);

/* A response from the client to a server-to-client request. */
void pf__client_response(pf__session *s, const pf_json *msg);

/* A finished call's result (tools.c): settle turns a handler's negative
 * rc into an isError result (and a failed buffer into an out-of-memory
 * one); write_result appends the tools/call response line (id, or its JSON
 * text id_text), checking structured output against the outputSchema. */
void pf__tool_settle_fail(pf_call *c, int rc); /* when pf__tool_settle has work */
static inline void pf__tool_settle(pf_call *c, int rc) {
  if ((rc < 0 && !c->is_error) || c->content->failed)
    pf__tool_settle_fail(c, rc);
}
void pf__tool_write_result(pf_call *c, const pf_json *id, const char *id_text, pf_buf *out);

/* Calls answered asynchronously (invoke.c): blocking handlers, loop kinds,
 * and every tool with a resilience policy. Starts the call for request id
 * (arguments already validated); appends the response to out when it
 * finishes at once (or fails to start). */
void pf__invoke_request(pf__session *s, const pf__tool *t, const pf_json *id, const pf_json *args,
                        const pf_json *token, pf_buf *out, pf__msgctx *ctx);
void pf__async_cancel(pf__session *s, const pf_json *request_id);
void pf__async_cancel_all(pf__session *s);
/* Requests to the client (client.c). */
void pf__outreq_cancel_all(pf__session *s);
/* Wakes the handlers waiting for the client so they see a cancellation. */
void pf__outreq_wake_all(pf__session *s);

/* Resolves a file resource path against forge.resources_root: returns the
 * malloc'd real path, or NULL when it does not exist or escapes the root. */
char *pf__resource_resolve(pf_server *srv, const char *path, size_t len);

/* Whether a file's bytes go out as `text` (else as a base64 `blob`): by its
 * mime type when it has one (text types, JSON, XML, YAML, JavaScript, TOML),
 * else by whether the bytes are valid UTF-8. */
bool pf__resource_as_text(const char *mime, const char *data, size_t len);

/* An empty JSON object, for calls without arguments. */
extern const pf_json *pf__empty_object;

/* Requests to the client, continued (client.c). pf__outreq_wake_all runs
 * on a loop thread after a cancellation: besides waking the waiting
 * handlers it sends notifications/cancelled, on the session's default
 * route, for each request whose tool call was cancelled. */
/* Frees the records left in a session that is being freed (last unref). */
void pf__outreq_release_all(pf__session *s);

/* The start of an `async: true` native tool (a loop kind, pf__start_fn):
 * runs its handler on the loop thread; a handler that returns PF_PENDING
 * after pf_client_request_async leaves the call open until a done
 * callback completes it (client.c). */
int pf__native_async_start(pf_call *call, uv_loop_t *loop);

#endif

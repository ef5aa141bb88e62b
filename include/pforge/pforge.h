/* pforge: the native tool ABI.
 *
 * A native tool is a C function, found by symbol in the shared library that
 * pforge.yaml names (`forge.library`) or in the pforge executable itself:
 *
 *   #include <pforge/pforge.h>
 *
 *   PF_TOOL(add)                 // int add(pf_call *call), exported
 *   {
 *     double a = pf_arg_number(call, "a", 0), b = pf_arg_number(call, "b", 0);
 *     return pf_result_textf(call, "%g", a + b);
 *   }
 *
 * and in pforge.yaml:
 *
 *   forge: { name: calc, version: 1.0.0, library: ./libcalc.so }
 *   tools:
 *     - type: native
 *       name: add
 *       description: Add two numbers
 *       handler: { path: add }     # or handlers::math::add: the last segment
 *       params: { a: number, b: number }
 *
 * When a handler runs, its arguments have already been validated against the
 * tool's schema; pf_arg_* see the defaults the schema declares for missing
 * arguments. A handler returns 0 when it produced its result, or a negative
 * pf_err value (the client then gets a tool result with isError: true saying
 * the tool failed, unless the handler already wrote an error).
 *
 * Threads: a handler runs on the server's event-loop thread and must not
 * block; a tool marked `blocking: true` in pforge.yaml runs on a worker
 * thread instead, and may block. A tool marked `async: true` runs on the
 * event loop and may leave its call open (PF_PENDING, see
 * pf_client_request_async). Either way a pf_call is used by one thread
 * at a time and is valid only until the handler returns.
 *
 * ABI versioning: a library may define `int pf_abi_version = PF_ABI_VERSION;`
 * (PF_ABI_DECLARE() does it); pforge refuses to load a library built for a
 * newer ABI than it implements, and loads those built for an older one.
 * Functions are only ever added.
 */
#ifndef PFORGE_PFORGE_H
#define PFORGE_PFORGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pforge/json.h>
#include <pforge/version.h>

#ifdef __cplusplus
extern "C" {
#endif
/* The API: exported by the pforge executable, which hides the rest. */
#pragma GCC visibility push(default)

/* 1: arguments, results, progress, logging, resources, cancellation.
 * 2: adds pf_client_supports/request/notify, pf_stream_close,
 *    pf_progress_token, pf_set_enabled and pf_state_*.
 * 3: adds pf_client_request_async, pf_client_done and PF_PENDING (tools
 *    marked `async: true`). */
#define PF_ABI_VERSION 3

#define PF_ABI_DECLARE()                                                                           \
  extern __attribute__((visibility("default"))) int pf_abi_version;                                \
  int pf_abi_version = PF_ABI_VERSION

typedef struct pf_call pf_call;

/* A native tool (or resource) handler. */
typedef int (*pf_handler_fn)(pf_call *call);

/* Defines an exported handler named `name`. */
#define PF_TOOL(name)                                                                              \
  __attribute__((visibility("default"))) int name(pf_call *call);                                  \
  __attribute__((visibility("default"))) int name(pf_call *call)

/* ------------------------------------------------------------------ */
/* Arguments                                                           */

/* The arguments object of a tools/call (an empty object when the client sent
 * none), or, for a resource handler, an object of the URI template's
 * variables. Borrowed until the handler returns. */
const pf_json *pf_args(pf_call *call);

/* One argument: the client's value, else the default from the tool's
 * schema, else NULL. */
const pf_json *pf_arg(pf_call *call, const char *name);

/* Typed shortcuts over pf_arg() with the conversions of pf_json_*_or().
 * pf_arg_str's text is NUL-terminated; a JSON string may itself hold
 * U+0000 ("\u0000"), where C string functions would stop: for the whole
 * value, take its length from pf_json_str(pf_arg(call, name), &len). */
const char *pf_arg_str(pf_call *call, const char *name, const char *def);
int64_t pf_arg_int(pf_call *call, const char *name, int64_t def);
double pf_arg_number(pf_call *call, const char *name, double def);
bool pf_arg_bool(pf_call *call, const char *name, bool def);

/* The tool's name (for a resource handler: the resource's URI). */
const char *pf_call_name(pf_call *call);

/* Request-scoped memory, freed after the response is written. NULL on OOM. */
void *pf_call_alloc(pf_call *call, size_t size);

/* ------------------------------------------------------------------ */
/* Results                                                             */

/* Each pf_result_* appends one content block to the tool's result, in call
 * order. They return 0, or -PF_ENOMEM. Text must be UTF-8 (invalid bytes are
 * replaced by U+FFFD). */
int pf_result_text(pf_call *call, const char *text, size_t len);
int pf_result_textz(pf_call *call, const char *text);
int pf_result_textf(pf_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks the result as an error (isError: true) and appends the message as a
 * text block: the way to report failures the model should see. */
int pf_result_error(pf_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Binary content, base64-encoded by pforge: an image or audio block. */
int pf_result_image(pf_call *call, const void *data, size_t len, const char *mime_type);
int pf_result_audio(pf_call *call, const void *data, size_t len, const char *mime_type);

/* A resource_link block (uri required; name, mime_type may be NULL). */
int pf_result_resource_link(pf_call *call, const char *uri, const char *name,
                            const char *mime_type);

/* An embedded resource block with text (or, with pf_result_resource_blob,
 * binary) contents. */
int pf_result_resource_text(pf_call *call, const char *uri, const char *mime_type, const char *text,
                            size_t len);
int pf_result_resource_blob(pf_call *call, const char *uri, const char *mime_type, const void *data,
                            size_t len);

/* Structured output: returns a writer positioned where ONE JSON value goes
 * (normally an object); write it completely before returning. It becomes
 * `structuredContent`, is validated against the tool's output_schema when
 * there is one, and, if the handler added no content block, is also sent as
 * a text block (as the protocol recommends). Calling it twice discards the
 * first value. NULL on OOM. */
pf_json_writer *pf_result_structured(pf_call *call);

/* ------------------------------------------------------------------ */
/* Progress, logging, cancellation                                     */

/* Sends notifications/progress when the client asked for progress (gave a
 * progressToken); otherwise does nothing. progress must increase from call
 * to call (a value that does not is dropped); total <= 0 means unknown;
 * message may be NULL. Returns 0. */
int pf_progress(pf_call *call, double progress, double total, const char *message);

/* The request's progress token (`_meta.progressToken`), or NULL when the
 * client asked for no progress. Valid until the handler returns. */
const pf_json *pf_progress_token(pf_call *call);

/* Client-visible log levels (syslog's, as MCP uses them). */
typedef enum pf_level {
  PF_LEVEL_DEBUG = 0,
  PF_LEVEL_INFO,
  PF_LEVEL_NOTICE,
  PF_LEVEL_WARNING,
  PF_LEVEL_ERROR,
  PF_LEVEL_CRITICAL,
  PF_LEVEL_ALERT,
  PF_LEVEL_EMERGENCY
} pf_level;

/* Sends notifications/message {level, logger, data: <text>} when level is
 * at or above the level the client set (logging/setLevel; default info).
 * logger may be NULL (the tool's name is used). */
int pf_log(pf_call *call, pf_level level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Tells the clients subscribed to `uri` (resources/subscribe) that the
 * resource changed: they get notifications/resources/updated and may read
 * it again. Any handler, blocking or not. File resources are watched by
 * pforge itself. Returns 0 (-PF_EINVAL for a NULL uri). */
int pf_resource_updated(pf_call *call, const char *uri);

/* ------------------------------------------------------------------ */
/* Requests to the client (sampling, elicitation, roots)              */

/* Whether the client declared a capability in initialize: "sampling",
 * "sampling.tools", "elicitation", "elicitation.form", "elicitation.url",
 * "roots". (A client that declares `elicitation: {}` supports form mode.) */
bool pf_client_supports(pf_call *call, const char *capability);

/* Sends a request to the client and waits for its answer: method is e.g.
 * "sampling/createMessage", "elicitation/create" or "roots/list"; params is
 * the JSON text of its params object (NULL for none). On stdio the request
 * goes out on stdout; on Streamable HTTP on the SSE stream of the call's
 * POST (which is then an SSE stream), and the client POSTs the answer.
 *
 * Only for `blocking: true` handlers (the wait blocks the handler's worker
 * thread, never the event loop); others get -PF_EINVAL. A call waiting here
 * holds a thread of the pool (UV_THREADPOOL_SIZE) for as long as the client
 * takes: for answers that may take long (elicitation), or many at once, use
 * pf_client_request_async in an `async: true` tool. Returns 0 and sets
 * *result to the client's `result` object, valid until the handler
 * returns; -PF_EREMOTE when the client answered with a JSON-RPC error
 * (*result is then the `error` object); -PF_ENOTSUP, without sending
 * anything, when the client did not declare the capability the method
 * needs (sampling/createMessage: sampling; elicitation/create: elicitation,
 * or elicitation.url for params with "mode":"url"; roots/list: roots);
 * -PF_EINVAL when params is not a JSON object; -PF_ETIMEDOUT after
 * timeout_ms (0: forge.http.call_timeout_ms, default 60 s), and -PF_ECANCELED when the call is
 * cancelled or the session ends while waiting. *result is NULL on every error but -PF_EREMOTE.
 *
 * The client is told when pforge gives up on its request: it gets
 * notifications/cancelled {requestId, reason}. After a timeout ("timed
 * out") it comes the way the request went, before the call's result. When
 * the client cancels the tool call ("the tool call was cancelled") it comes
 * at once, on stdio on stdout; on Streamable HTTP, whose POST stream ends
 * with the cancelled call, on the session's standalone GET stream, and, when
 * the client has none open, it is not delivered (the client that cancelled
 * the call should drop the call's requests itself). When the session ends
 * (HTTP DELETE, expiry, shutdown) nothing more is sent: its streams end
 * with it.
 *
 *   const pf_json *r;
 *   int rc = pf_client_request(call, "roots/list", NULL, 0, &r);
 *   if (rc == -PF_ENOTSUP) return pf_result_error(call, "the client has no roots");
 */
int pf_client_request(pf_call *call, const char *method, const char *params, unsigned timeout_ms,
                      const pf_json **result);

/* Returned by the handler of an `async: true` tool, or by a done callback,
 * after a successful pf_client_request_async: the call stays open. */
#define PF_PENDING 1

/* Receives the outcome of pf_client_request_async, on the call's
 * event-loop thread: rc 0 with the client's `result` object; -PF_EREMOTE
 * with its `error` object; -PF_ETIMEDOUT, -PF_ECANCELED or -PF_ENOMEM with
 * result NULL. result is valid only while done runs (copy what you keep).
 * done may write results (pf_result_*), log, report progress, or issue the
 * next pf_client_request_async and return PF_PENDING; any other return
 * value completes the call exactly as a handler's return value does. */
typedef int (*pf_client_done)(pf_call *call, int rc, const pf_json *result, void *ud);

/* Sends a request to the client like pf_client_request, without waiting:
 * the answer goes to `done`. For tools marked `async: true` in pforge.yaml
 * (others get -PF_EINVAL): such a tool runs on the event loop, and a call
 * waiting for the client holds no thread, however long the client (a
 * human answering an elicitation) takes and however many calls wait.
 *
 * Returns 0 when the request went out: the handler (or done callback) then
 * returns PF_PENDING, and done runs exactly once, later, on the call's
 * event-loop thread, with rc 0 and the client's result, -PF_EREMOTE and
 * its error, -PF_ETIMEDOUT after timeout_ms (0: forge.http.call_timeout_ms,
 * default 60 s; the client gets notifications/cancelled "timed out"), or
 * -PF_ECANCELED when the tool call is cancelled (its tool's timeout_ms
 * applies to the whole call, chained requests included) or the session
 * ends; the client is told of a cancelled request as for pf_client_request.
 * Returns, synchronously and without sending anything (done is then never
 * called): -PF_ENOTSUP when the client did not declare the capability the
 * method needs; -PF_EINVAL for params that are not a JSON object, a NULL
 * done, or a tool that is not `async: true`; -PF_ELIMIT while the call
 * already has a request in flight (one at a time); -PF_ECANCELED when the
 * call is already cancelled. A handler that returns anything but
 * PF_PENDING after issuing a request completes the call at once; the
 * request is abandoned (the client gets notifications/cancelled) and done
 * is not called. ud is passed to done as is (pf_call_alloc memory lives
 * until the call completes).
 *
 *   static int got_name(pf_call *call, int rc, const pf_json *r, void *ud) {
 *     if (rc != 0) return pf_result_error(call, "no name: %s", pf_strerror(rc));
 *     return pf_result_textf(call, "hello %s",
 *                            pf_json_get_str(pf_json_get(r, "content"), "name", "?"));
 *   }
 *   PF_TOOL(greet) {   // async: true
 *     int rc = pf_client_request_async(call, "elicitation/create",
 *         "{\"message\":\"Your name?\",\"requestedSchema\":{\"type\":\"object\","
 *         "\"properties\":{\"name\":{\"type\":\"string\"}}}}", 0, got_name, NULL);
 *     return rc == 0 ? PF_PENDING : pf_result_error(call, "cannot ask: %s", pf_strerror(rc));
 *   }
 */
int pf_client_request_async(pf_call *call, const char *method, const char *params,
                            unsigned timeout_ms, pf_client_done done, void *ud);

/* Sends a notification to the client, on the same way as the call's
 * progress and logs (the POST's SSE stream on HTTP), before the call's
 * result: e.g. "notifications/elicitation/complete" with
 * {"elicitationId": ...} once a URL-mode elicitation has been completed out
 * of band. params: the JSON text of an object, or NULL. Any handler.
 * Returns 0, or -PF_EINVAL for an empty method or params that are not a
 * JSON object. */
int pf_client_notify(pf_call *call, const char *method, const char *params);

/* Streamable HTTP with protocol 2025-11-25 (SSE polling, SEP-1699): sends
 * `retry: retry_ms` on the SSE stream of this call's POST and closes its
 * connection; the client reconnects with GET + Last-Event-ID and receives
 * the rest of the stream (later progress, logs, the result) from the
 * server's buffer. For long calls that should not hold a connection.
 * Returns 0, or -PF_ENOTSUP when the call has no resumable stream (stdio,
 * a JSON reply, an older protocol revision, stateless mode). */
int pf_stream_close(pf_call *call, unsigned retry_ms);

/* ------------------------------------------------------------------ */
/* Changing what the server offers                                     */

/* Shows (enabled true) or hides a tool, prompt or resource declared in
 * pforge.yaml: kind is "tool", "prompt" or "resource" (name: the resource's
 * uri or uri_template). A hidden item is not listed and is unknown to
 * tools/call, prompts/get and resources/read; `enabled: false` in the
 * config starts an item hidden. When the visibility changes, the list is
 * rebuilt and every connected client gets
 * notifications/tools|prompts|resources/list_changed (the capabilities
 * declare listChanged). For every client: visibility is per server, not per
 * session. Any handler, any thread. Returns 0 (also when nothing changed),
 * or -PF_EINVAL for an unknown kind or name.
 *
 *   PF_TOOL(login) {   // unlock the admin tools
 *     pf_set_enabled(call, "tool", "drop_table", true);
 *     return pf_result_textz(call, "welcome");
 *   }
 */
int pf_set_enabled(pf_call *call, const char *kind, const char *name, bool enabled);

/* ------------------------------------------------------------------ */
/* Persistent state                                                    */

/* A key-value store shared by every call, session and thread of the server
 * (and, with lmdb or redis, by every pforge process using the same store).
 * pforge.yaml chooses the backend:
 *
 *   state: { backend: memory }                 # the default without `state:`
 *   state: { backend: lmdb, path: ./data }     # a directory; survives restarts
 *   state: { backend: redis, url: "redis://:secret@127.0.0.1:6379/0" }
 *
 * with `ttl_seconds` (the default TTL of writes that give none; 0 = none)
 * and, for memory, `max_size` (most entries; a write that would add one
 * more gets -PF_ELIMIT: nothing is evicted). See docs/state.md.
 *
 * Keys are 1 to 511 bytes of anything (-PF_EINVAL when empty, -PF_ELIMIT
 * when longer); values are bytes of any length, including NUL. Every
 * function is thread-safe and may be called from any handler, blocking or
 * not. With the redis backend each call waits for one round trip to Redis
 * (at most 5 s, then -PF_ETIMEDOUT): a tool that uses it should be
 * `blocking: true`, so that the event loop never waits (a non-blocking
 * handler still works; pforge warns once on stderr). While the backend is
 * unreachable (Redis down or restarting) calls fail with -PF_EUNAVAIL, and
 * pforge reconnects in the background.
 *
 * TTLs: ttl_ms 0 means the configured default (none when ttl_seconds is 0);
 * PF_STATE_NO_TTL means none even when a default is configured. An expired
 * key reads as missing (-PF_ENOENT) at once, whatever the backend. */
#define PF_STATE_NO_TTL UINT64_MAX

/* Reads key. Returns 0 with *val and *val_len set: a copy in the call's
 * memory (pf_call_alloc; valid until the handler returns), followed by a
 * NUL not counted in *val_len. -PF_ENOENT when the key is missing or
 * expired; on every error *val is NULL and *val_len 0. */
int pf_state_get(pf_call *call, const char *key, size_t key_len, const char **val, size_t *val_len);

/* Stores val under key (copied), replacing any value and its TTL.
 * Returns 0. */
int pf_state_set(pf_call *call, const char *key, size_t key_len, const char *val, size_t val_len,
                 uint64_t ttl_ms);

/* Removes key. Returns 0, or -PF_ENOENT when it did not exist (or had
 * expired). */
int pf_state_delete(pf_call *call, const char *key, size_t key_len);

/* Atomically adds delta to the integer stored under key and sets *result
 * (may be NULL) to the new value. Values are decimal text ("42"), so
 * pf_state_get reads them and pf_state_set("7") can seed them. A missing
 * key counts as 0 and is created with the default TTL; an existing key
 * keeps its TTL. -PF_EINVAL when the value is not a decimal int64 or the
 * sum overflows (nothing is written).
 *
 *   int64_t n;
 *   if (pf_state_incr(call, "hits", 4, 1, &n) == 0) pf_result_textf(call, "%lld", (long long)n);
 */
int pf_state_incr(pf_call *call, const char *key, size_t key_len, int64_t delta, int64_t *result);

/* Compare-and-swap: atomically stores val (with ttl_ms, as pf_state_set)
 * when the current value equals expected (byte for byte), or, with
 * expected NULL, when the key does not exist (or has expired). Returns 0
 * when it stored; -PF_ECONFLICT, storing nothing, when the current value
 * is different (or missing, or present when expected is NULL). A
 * read-modify-write loop (pf_state_get leaves old NULL for a missing key,
 * which is what pf_state_cas expects then):
 *
 *   for (;;) {
 *     const char *old;
 *     size_t n;
 *     int rc = pf_state_get(call, "doc", 3, &old, &n);
 *     if (rc && rc != -PF_ENOENT) return rc;
 *     const char *next = edit(call, old, n);
 *     rc = pf_state_cas(call, "doc", 3, old, n, next, strlen(next), 0);
 *     if (rc != -PF_ECONFLICT) return rc ? rc : pf_result_textz(call, next);
 *   }
 */
int pf_state_cas(pf_call *call, const char *key, size_t key_len, const char *expected,
                 size_t expected_len, const char *val, size_t val_len, uint64_t ttl_ms);

/* True once the client cancelled this request (notifications/cancelled).
 * A blocking handler should poll it and return early; its result is then
 * discarded (a cancelled request gets no response). */
bool pf_cancelled(pf_call *call);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif

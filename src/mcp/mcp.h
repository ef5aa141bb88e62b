/* The MCP protocol engine: JSON-RPC 2.0 + MCP methods, independent of any
 * transport. A transport owns one pf__session per client connection, hands
 * it each complete message, and writes what the session appends to `out`.
 * Protocol code never touches a socket or a file descriptor.
 */
#ifndef PF_MCP_MCP_H
#define PF_MCP_MCP_H

#include <pforge/json.h>
#include <pforge/pforge.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "config/config.h"
#include "runtime/middleware.h"
#include "runtime/registry.h"

/* Protocol revisions, oldest first. */
typedef enum pf__proto {
  PF_PROTO_2024_11_05 = 0,
  PF_PROTO_2025_03_26,
  PF_PROTO_2025_06_18,
  PF_PROTO_2025_11_25,
  PF_PROTO__COUNT
} pf__proto;

extern const char *const pf__proto_names[PF_PROTO__COUNT];

/* Limits (named constants; the transports take them from the config). */
#define PF_MAX_MESSAGE_DEFAULT ((size_t)16 * 1024 * 1024)
#define PF_MAX_BATCH 1024
#define PF_MAX_INFLIGHT 256 /* blocking calls running at once per session */

struct pf_validator;
struct pf__async;

/* A tool kind that runs on the event loop (cli, http, pipeline). start is
 * called on the loop thread that handled the request, with call->async
 * set; returning 0 promises exactly one pf__async_complete(call->async, rc)
 * on that loop thread (possibly from within start); a non-zero return (the
 * call's result possibly written with pf_result_error) means no completion
 * follows. rc -PF_ETIMEDOUT tells retry policies the kind gave up on time. */
typedef int (*pf__start_fn)(pf_call *call, uv_loop_t *loop);

/* Completes a loop-kind call: settles its result (or, when it was
 * cancelled or the session closed, nothing is sent) and frees the call and
 * everything in its arena. Loop thread. */
void pf__async_complete(struct pf__async *a, int rc);
/* Registers the hook run once, on the call's loop thread, when the call is
 * cancelled (notifications/cancelled, its timeout, or its session
 * closing). The kind must still complete the call afterwards. */
void pf__async_on_cancel(struct pf__async *a, void (*fn)(void *ud), void *ud);

struct pf__tool;
/* Runs tool t with args (an object; validated against t's input schema
 * here) as part of `parent`, a loop-kind call (a pipeline step): through
 * t's policies, with parent's request, session, notifications and
 * cancellation. done is called exactly once on the loop thread, possibly
 * before pf__invoke returns, with the finished call (c->content,
 * c->structured, c->is_error; valid until done returns). args must stay
 * valid until then. */
typedef void (*pf__invoke_done)(void *ud, pf_call *result);
void pf__invoke(pf_call *parent, const struct pf__tool *t, const pf_json *args,
                pf__invoke_done done, void *ud);

/* What only some tools have: loop kinds, policies, a fallback. */
typedef struct pf__tool_rare {
  pf__start_fn start;            /* loop kinds (cli, http, pipeline), else NULL */
  struct pf_validator *output;   /* compiled outputSchema, or NULL */
  void *kind_data;               /* the kind's compiled form (cli: struct pf__cli) */
  struct pf__breaker *breaker;   /* or NULL */
  struct pf__bulkhead *bulkhead; /* or NULL */
  const struct pf__tool *fallback;
} pf__tool_rare;

/* The rare block of a tool with none of it (all NULL). */
extern const pf__tool_rare pf__tool_no_rare;

typedef struct pf__tool {
  const pf_cfg_tool *cfg; /* the name is cfg->name */
  _Atomic bool hidden;    /* `enabled: false` / pf_set_enabled */
  /* resilience (src/runtime/middleware.h) */
  bool policied;    /* calls go through the policy path (retry, breaker, ...) */
  bool own_timeout; /* the kind enforces timeout_ms itself (cli, http) */
  bool blocking;    /* native: runs on the thread pool (`blocking: true`, or by
                       default when the state store is redis) */
  bool loop;        /* a loop kind: rare->start runs it */
  pf_handler_fn fn;
  struct pf_validator *input;      /* compiled inputSchema (never NULL); its text is
                                      cfg->input_schema_json */
  const pf__tool_rare *rare;       /* never NULL: &pf__tool_no_rare, or the tool's own
                                      (pf__tool_rare_mut) */
  _Atomic(pf__tool_stats *) stats; /* from the first call, else NULL: pf__tool_counters */
} pf__tool;

/* t's own rare block, allocated (zeroed) by the first call; NULL when out
 * of memory. For the build only. */
pf__tool_rare *pf__tool_rare_mut(pf__tool *t);

/* t's counters, allocated by the first use (they are shared mutable state,
 * like the atomics in them, hence the cast). */
static inline pf__tool_stats *pf__tool_counters(const pf__tool *t) {
  return pf__stats_of((_Atomic(pf__tool_stats *) *)&t->stats);
}

typedef struct pf__page {
  char *json; /* a complete result object: {"tools":[...],"nextCursor":"..."} */
  size_t len;
} pf__page;

/* Pre-serialized pages of one list, per protocol revision (fields that a
 * revision does not know are left out for it). */
typedef struct pf__pages {
  pf__page *pages[PF_PROTO__COUNT];
  size_t npages;
  struct pf__pages *retired; /* older versions that may still have readers */
} pf__pages;

typedef struct pf__resource {
  const pf_cfg_resource *cfg;
  struct pf_uritmpl *tmpl; /* for uri_template resources */
  pf_handler_fn fn;
  char *file_path;           /* resolved path for file resources (static) */
  struct pf_tmpl *file_tmpl; /* template resources: the file path, {var} -> {{var}} */
  _Atomic bool hidden;
} pf__resource;

typedef struct pf__prompt {
  const pf_cfg_prompt *cfg;
  struct pf_tmpl **tmpls; /* one per message (or one for `template`) */
  size_t ntmpls;
  _Atomic bool hidden;
} pf__prompt;

typedef struct pf_server {
  uint64_t uid; /* unique in the process (never reused): what memos name a server by */
  pf_config *cfg;
  void *dl; /* dlopen handle of forge.library, or NULL */
  pf__tool *tools;
  size_t ntools;
  pf__registry tool_reg;
  pf__resource *resources; /* static ones first, then templates */
  size_t nresources, nstatic;
  pf__registry res_reg; /* uri -> static resource */
  pf__prompt *prompts;
  size_t nprompts;
  pf__registry prompt_reg;
  /* current list pages (replaced when an item is shown or hidden; the old
   * ones are freed by a rebuild that finds no reader, else kept readable
   * until a later one does, or until the server is destroyed) */
  _Atomic(pf__pages *) tools_pages, resources_pages, templates_pages, prompts_pages;
  _Atomic unsigned page_readers;     /* list requests reading pages right now */
  uv_mutex_t pages_lock;             /* serializes rebuilds */
  pf_buf init_rest[PF_PROTO__COUNT]; /* initialize result after protocolVersion */
  size_t max_message;
  unsigned client_timeout_ms;   /* default wait for pf_client_request (60 s) */
  char *root_real;              /* realpath of the file resources' root, or NULL */
  struct pf__session *sessions; /* live sessions [sessions_lock] */
  uv_mutex_t sessions_lock;
  struct pf__watch *watches; /* one per static file resource, while serving (resources.c) */
  size_t nwatches;
  struct pf_state *state; /* the state store (pf_state_*): cfg->state, else memory */
} pf_server;

/* Builds the server from a loaded config (takes ownership of cfg): resolves
 * native handlers (dlopen forge.library, else the executable), compiles
 * schemas and templates, pre-serializes lists, opens the state store (its
 * failure, e.g. an lmdb path that cannot be created, fails the creation;
 * an unreachable redis does not). On failure returns a
 * negative pf_err and appends "file:line:col: message" lines to diag. */
int pf__server_create(pf_config *cfg, pf_server **out, pf_buf *diag);
void pf__server_destroy(pf_server *s);

typedef struct pf__session pf__session;

/* Where output produced outside the handling of a message goes
 * (asynchronous completions, progress and logs from worker threads,
 * requests to the client, resource updates). A transport gives each session
 * a default route, and may give each message its own (on Streamable HTTP:
 * the SSE stream of the POST that carried the request).
 *
 * emit: data is one or more complete lines, each ending in '\n'; `final`
 * is true when the data ends with the response that completes a request
 * (the stream of that request may end after it); `final` with len 0 means
 * the request ended without a response (it was cancelled). Called on the loop thread
 * that handled the message, or, for the session default route, on any loop
 * thread: the transport makes it thread-safe where it needs to be.
 * retain/release (may be NULL) keep ud alive while an asynchronous call
 * holds the route. close_stream (may be NULL: not supported) closes the
 * connection carrying the route's stream after sending `retry: retry_ms`,
 * keeping the stream resumable (SSE polling); loop thread. */
typedef struct pf__route {
  void (*emit)(void *ud, const char *data, size_t len, bool final);
  void (*retain)(void *ud);
  void (*release)(void *ud);
  void (*close_stream)(void *ud, unsigned retry_ms);
  void *ud;
} pf__route;

/* The context of one message. */
typedef struct pf__msgctx {
  uv_loop_t *loop;        /* loop for blocking calls and their wake-ups (NULL: the session's) */
  const pf__route *route; /* where this message's later output goes (NULL: make_route, else
                             the default route) */
  /* Called at most once, when the first request of the message goes
   * asynchronous and route is NULL: returns the route for its later output
   * (or NULL on failure: the request then gets an internal error). Lets a
   * transport create a stream only for messages that need one. */
  const pf__route *(*make_route)(struct pf__msgctx *ctx);
  void *ud;  /* for make_route */
  int async; /* out: requests of the message that will be answered later, through the route */
} pf__msgctx;

/* Creates a session with a default route (copied; route->ud must outlive
 * the session). The session is reference-counted: the creator holds one
 * reference, which pf__session_destroy drops. */
pf__session *pf__session_create(pf_server *srv, uv_loop_t *loop, const pf__route *route);
/* A session for stateless serving (Streamable HTTP without session ids):
 * ready without initialize, which it answers every time without changing
 * its state; logging/setLevel is accepted and ignored; no client
 * capabilities (no requests to the client). */
pf__session *pf__session_create_stateless(pf_server *srv, uv_loop_t *loop, const pf__route *route);
/* Closes the session (cancels in-flight work and pending requests to the
 * client; no output is emitted after this) and drops the creator's
 * reference. Any thread. */
void pf__session_destroy(pf__session *s);
void pf__session_ref(pf__session *s);
void pf__session_unref(pf__session *s);

/* Handles one message (one line on stdio, one body on HTTP) in situ (msg is
 * modified). Appends every resulting line (responses, notifications), each
 * ending in '\n', to out. ctx may be NULL (the session's loop and default
 * route). A session may be used by several threads at once (HTTP workers):
 * the per-message scratch memory is per thread. */
void pf__session_handle(pf__session *s, char *msg, size_t len, pf_buf *out);
void pf__session_handle_ctx(pf__session *s, char *msg, size_t len, pf_buf *out, pf__msgctx *ctx);

/* Frees the calling thread's per-message scratch memory (a transport's
 * thread calls it before it exits). */
void pf__scratch_release(void);

/* Appends the JSON-RPC error for a message that exceeded the size limit. */
void pf__session_too_large(pf__session *s, size_t limit, pf_buf *out);

/* Shows or hides a tool ("tool"), prompt ("prompt") or resource
 * ("resource": by uri or uri_template); rebuilds that list and sends its
 * notifications/.../list_changed to every initialized session. Any thread.
 * Returns 0, or -PF_EINVAL for an unknown kind or name. */
int pf__server_set_enabled(pf_server *srv, const char *kind, const char *name, bool enabled);

/* Sends notifications/resources/updated {uri} to every session subscribed
 * to uri, through each session's default route. Any thread. */
void pf__server_resource_updated(pf_server *srv, const char *uri, size_t len);

/* Appends every tool's counters, latency histogram, breaker and bulkhead
 * state and the number of sessions, in the Prometheus text format
 * (metrics.c). Any thread. */
void pf__server_metrics(pf_server *srv, pf_buf *out);

/* Watches the server's static file resources on loop (resource updates
 * for subscribers): each file's directory, so that a file replaced by
 * rename or deleted and created again is still followed; the events of
 * one file are coalesced into at most one notification per 50 ms, sent
 * after the last of them. Returns 0, or a negative pf_err when a file
 * cannot be watched (the others still are). pf__server_unwatch closes the
 * watchers (on the loop's thread); the memory is freed by
 * pf__server_destroy, after the loop has run the closes. */
int pf__server_watch(pf_server *srv, uv_loop_t *loop);
void pf__server_unwatch(pf_server *srv);

/* Number of asynchronous calls still running (the transport waits for them
 * before exiting). */
size_t pf__session_pending(pf__session *s);

/* Cancels every asynchronous call still running (their handlers see
 * pf_cancelled() and no response is sent for them) and every request to
 * the client still waiting; for a transport that is shutting down. */
void pf__session_cancel_all(pf__session *s);

/* Session state. Fields marked [lock] are guarded by `lock`; state, proto
 * and log_level are atomics (set under lock, read anywhere). */
struct pf__session {
  pf_server *srv;
  uv_loop_t *loop;
  pf__route route;   /* the default route */
  _Atomic int state; /* 0 new, 1 initialize answered, 2 initialized */
  _Atomic pf__proto proto;
  _Atomic pf_level log_level;
  _Atomic int refs;
  bool stateless; /* shared by independent requests: initialize never changes state */
  bool closed;    /* [lock] */
  bool cap_sampling, cap_sampling_tools, cap_elicitation_form, cap_elicitation_url, cap_roots;
  uv_mutex_t lock;
  char **subs; /* [lock] subscribed URIs */
  size_t nsubs, capsubs;
  struct pf__req *inflight;   /* [lock] tools/call requests answered asynchronously */
  size_t npending;            /* [lock] */
  struct pf__outreq *outreqs; /* [lock] requests to the client awaiting an answer */
  uint64_t next_outreq_id;    /* [lock] */
  pf__session *next;          /* [srv->sessions_lock] in the server's list of sessions */
};

/* Where the members the dispatcher looks for sit in a message read through
 * a shape (docs/json.md): messages of one shape have the same node array
 * structure, so these node indices (0: absent) hold for all of them. */
typedef struct pf__msg_memo {
  uint64_t token;                  /* the shape (pf__json_shapes_last), 0: unused */
  uint8_t id, ver, method, params; /* from the message */
  bool reply;                      /* it has "result" or "error" */
  int16_t mi;                      /* the method's index, -1 until known */
  bool call;                       /* tools/call's members below are known */
  uint8_t name, args, meta;        /* from params */
  /* The arguments passed tool vtool1 - 1 of server vuid, whose input
   * validator decides by layout (pf_validator_by_layout): every message of
   * the shape passes it. 0: none. */
  uint32_t vtool1;
  uint64_t vuid;
} pf__msg_memo;

/* Per-thread scratch memory for one message. */
typedef struct pf__scratch {
  pf_arena *arena;
  struct pf__json_shapes *shapes; /* message layouts this thread has read, or NULL */
  pf__msg_memo memo[4];           /* by shape token (token % 4) */
  pf__msg_memo *cur;              /* the memo of the message being dispatched, or NULL */
  pf_buf content, structured;
  pf__msgctx *ctx; /* of the message being handled */
} pf__scratch;
pf__scratch *pf__scratch_get(void);

/* ---- call.c: the pf_call behind the native ABI ---- */

struct pf_call {
  pf__session *s;
  const pf__tool *tool; /* NULL for resource handlers */
  const char *name;     /* tool name or resource URI */
  const pf_json *args;
  pf_buf *content;    /* content blocks, comma-separated */
  pf_buf *structured; /* structuredContent text */
  pf_json_writer sw;
  pf_buf *notify; /* where progress/log lines go */
  pf_arena *arena;
  const pf_json *progress_token;
  /* Snapshots of the session's state at the start of the call: a blocking
   * handler runs on a worker thread and must not read the session, which
   * the loop thread changes (logging/setLevel) or frees (destroy). */
  pf_level log_level;
  pf__proto proto;
  /* Blocking calls: progress and log lines are appended to `notify` under
   * `notify_lock`, and `wake` tells the loop thread to send them now. */
  uv_mutex_t *notify_lock;
  uv_async_t *wake;
  struct pf__async *async;            /* the asynchronous call this is, or NULL */
  const atomic_bool *outer_cancelled; /* its request's flag, or NULL */
  _Atomic unsigned close_retry;       /* pf_stream_close asked: retry_ms + 1 */
  bool route_can_close;               /* the route supports close_stream */
  double last_progress;
  int nblocks;
  bool is_error;
  bool has_structured;
  /* Loop kinds that talk to an upstream (http): the HTTP status it
   * answered, 0 when none; retry policies (`on: [5xx]`) and metrics read
   * it. A kind that gives up on time completes with -PF_ETIMEDOUT. */
  int upstream_status;
  atomic_bool cancelled;
  /* `async: true` tools (loop thread only; set by pf__native_async_start):
   * the request to the client whose answer the call awaits, or NULL */
  struct pf__outreq *outreq;
  /* resource handlers: pf_result_* write `contents` entries for the URI in
   * `name` with this default mimeType */
  bool resource;
  const char *mime_type;
};

void pf__call_init(pf_call *c, pf__session *s, const pf__tool *tool, const pf_json *args,
                   pf_buf *content, pf_buf *structured, pf_buf *notify, pf_arena *arena,
                   const pf_json *progress_token);

/* Writes a notifications/message line for a session (level filter applied). */
void pf__notify_log(pf__session *s, pf_buf *out, pf_level level, const char *logger,
                    const char *text, size_t len);

/* Maps a level name to pf_level; -1 when unknown. */
int pf__level_parse(const char *name, size_t len);
extern const char *const pf__level_names[8];

/* Cancels the requests to the client still waiting for an answer (their
 * pf_client_request returns -PF_ECANCELED; the calls themselves run on):
 * for a transport that is shutting down and can no longer receive the
 * answers. Any thread. */
void pf__session_cancel_client_requests(pf__session *s);

#endif

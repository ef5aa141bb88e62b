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

struct pf_validator;

typedef struct pf__tool {
  const pf_cfg_tool *cfg;
  const char *name;
  size_t name_len;
  pf_handler_fn fn;
  struct pf_validator *input;  /* compiled inputSchema (never NULL) */
  struct pf_validator *output; /* compiled outputSchema, or NULL */
  char *input_schema;          /* JSON text: generated from params, or verbatim */
} pf__tool;

typedef struct pf__page {
  char *json; /* a complete result object: {"tools":[...],"nextCursor":"..."} */
  size_t len;
} pf__page;

/* Pre-serialized pages of one list, per protocol revision (fields that a
 * revision does not know are left out for it). */
typedef struct pf__pages {
  pf__page *pages[PF_PROTO__COUNT];
  size_t npages;
} pf__pages;

typedef struct pf__resource {
  const pf_cfg_resource *cfg;
  struct pf_uritmpl *tmpl; /* for uri_template resources */
  pf_handler_fn fn;
  char *file_path; /* resolved path for file resources (static) */
  struct pf_tmpl *file_tmpl; /* template resources: the file path, {var} -> {{var}} */
} pf__resource;

typedef struct pf__prompt {
  const pf_cfg_prompt *cfg;
  struct pf_tmpl **tmpls; /* one per message (or one for `template`) */
  size_t ntmpls;
} pf__prompt;

typedef struct pf_server {
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
  pf__pages tools_pages, resources_pages, templates_pages, prompts_pages;
  pf_buf init_rest[PF_PROTO__COUNT]; /* initialize result after protocolVersion */
  size_t max_message;
  char *root_real; /* realpath of the file resources' root, or NULL */
  struct pf__session *sessions; /* live sessions (loop thread only) */
  uv_fs_event_t *watches;       /* one per static file resource, while serving */
  size_t nwatches;
} pf_server;

/* Builds the server from a loaded config (takes ownership of cfg): resolves
 * native handlers (dlopen forge.library, else the executable), compiles
 * schemas and templates, pre-serializes lists. On failure returns a
 * negative pf_err and appends "file:line:col: message" lines to diag. */
int pf__server_create(pf_config *cfg, pf_server **out, pf_buf *diag);
void pf__server_destroy(pf_server *s);

typedef struct pf__session pf__session;

/* A transport gives each session an emit callback for output produced
 * outside the handling of a message (asynchronous completions, progress
 * from worker threads, resource updates). Called on the loop thread. */
typedef void (*pf__emit_fn)(void *ud, const char *data, size_t len);

pf__session *pf__session_create(pf_server *srv, uv_loop_t *loop, pf__emit_fn emit, void *ud);
/* Cancels in-flight work; completions still pending are dropped. */
void pf__session_destroy(pf__session *s);

/* Handles one message (one line on stdio, one body on HTTP) in situ (msg is
 * modified). Appends every resulting line (responses, notifications), each
 * ending in '\n', to out. */
void pf__session_handle(pf__session *s, char *msg, size_t len, pf_buf *out);

/* Appends the JSON-RPC error for a message that exceeded the size limit. */
void pf__session_too_large(pf__session *s, size_t limit, pf_buf *out);

/* Sends notifications/resources/updated {uri} to every session subscribed
 * to uri. Loop thread only. */
void pf__server_resource_updated(pf_server *srv, const char *uri, size_t len);

/* Watches the server's static file resources on loop (resource updates
 * for subscribers); pf__server_unwatch closes the watchers. */
int pf__server_watch(pf_server *srv, uv_loop_t *loop);
void pf__server_unwatch(pf_server *srv);

/* Number of asynchronous calls still running (the transport waits for them
 * before exiting). */
size_t pf__session_pending(const pf__session *s);

/* Cancels every asynchronous call still running (their handlers see
 * pf_cancelled() and no response is sent for them); for a transport that
 * is shutting down. */
void pf__session_cancel_all(pf__session *s);

/* Session state visible to call.c. */
struct pf__session {
  pf_server *srv;
  uv_loop_t *loop;
  pf__emit_fn emit;
  void *emit_ud;
  int state; /* 0 new, 1 initialize answered, 2 initialized */
  pf__proto proto;
  pf_level log_level;
  bool cap_sampling, cap_elicitation, cap_roots;
  pf_arena *arena;     /* per-message */
  pf_buf content;      /* per-call content blocks (reused) */
  pf_buf structured;   /* per-call structuredContent (reused) */
  char **subs;         /* subscribed URIs */
  size_t nsubs, capsubs;
  struct pf__async *inflight; /* running blocking calls */
  size_t npending;
  pf__session *next; /* in the server's list of sessions */
};

/* ---- call.c: the pf_call behind the native ABI ---- */

struct pf_call {
  pf__session *s;
  const pf__tool *tool;         /* NULL for resource handlers */
  const char *name;             /* tool name or resource URI */
  const pf_json *args;
  pf_buf *content;              /* content blocks, comma-separated */
  pf_buf *structured;           /* structuredContent text */
  pf_json_writer sw;
  pf_buf *notify;               /* where progress/log lines go */
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
  double last_progress;
  int nblocks;
  bool is_error;
  bool has_structured;
  atomic_bool cancelled;
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

#endif

/* The configuration model: what a pforge.yaml says, typed and validated.
 *
 * pf_config_load() reads a YAML file (libfyaml), checks every key against
 * the tables in config/load.c (unknown keys are errors at every level, with
 * a did-you-mean), expands ${VAR} and ${VAR:-default} from the environment
 * in string values, and builds this model. Every problem is collected, with
 * file:line:col, the key path and a message; loading fails if there is any.
 *
 * Everything in the model lives in the config's arena and is freed by
 * pf_config_free(). The model is read-only after loading and may be shared
 * by threads.
 */
#ifndef PF_CONFIG_CONFIG_H
#define PF_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pforge/arena.h>
#include <pforge/buf.h>
#include <pforge/json.h>

typedef struct pf_cfg_loc {
  const char *file;   /* as given to pf_config_load */
  uint32_t line, col; /* 1-based; 0 when not from a file */
} pf_cfg_loc;

/* A string -> string map in declaration order (env, headers, query...). */
typedef struct pf_cfg_kv {
  const char *key, *value;
  pf_cfg_loc loc;
} pf_cfg_kv;

/* ---- parameters (the params DSL) ---- */

typedef enum pf_param_type {
  PF_PARAM_STRING,
  PF_PARAM_INTEGER,
  PF_PARAM_NUMBER, /* also spelled `float` (the original pforge) */
  PF_PARAM_BOOLEAN,
  PF_PARAM_ARRAY,
  PF_PARAM_OBJECT
} pf_param_type;

typedef struct pf_cfg_param pf_cfg_param;
struct pf_cfg_param {
  const char *name; /* NULL for an array's `items` */
  pf_param_type type;
  bool required;            /* simple form (`name: string`) is required */
  const char *description;  /* or NULL */
  const char *default_json; /* default as compact JSON text, or NULL */
  const char *enum_json;    /* JSON array text, or NULL */
  bool has_min, has_max;    /* validation.min/max or minimum/maximum */
  double min, max;
  int64_t min_length, max_length; /* -1 when unset */
  const char *pattern;            /* ECMA-262-ish regex (PCRE2), or NULL */
  pf_cfg_param *items;            /* array element schema, or NULL */
  pf_cfg_param *properties;       /* object members, nproperties of them */
  size_t nproperties;
  pf_cfg_loc loc;
};

/* ---- resilience policies (per tool, and forge.defaults) ---- */

/* Which failures a retry policy retries. */
enum { PF_RETRY_ON_TIMEOUT = 1, PF_RETRY_ON_ERROR = 2, PF_RETRY_ON_5XX = 4 };

typedef struct pf_cfg_policy {
  uint32_t timeout_ms; /* 0: the kind's default */
  /* retry: max_attempts counts every try (1 = no retry) */
  uint32_t retry_max_attempts, retry_initial_delay_ms, retry_max_delay_ms;
  double retry_multiplier, retry_jitter; /* jitter: fraction of the delay added at random */
  unsigned retry_on;                     /* PF_RETRY_ON_* bits */
  /* circuit breaker: 0 failure_threshold = none */
  uint32_t cb_failure_threshold, cb_open_ms, cb_half_open_max, cb_success_threshold;
  /* bulkhead: 0 max_concurrent = unlimited */
  uint32_t max_concurrent, max_queued, queue_timeout_ms;
  bool has_timeout, has_retry, has_cb, has_bulkhead; /* given here (else inherited) */
} pf_cfg_policy;

/* ---- tools ---- */

typedef enum pf_tool_kind {
  PF_TOOL_NATIVE,
  PF_TOOL_CLI,
  PF_TOOL_HTTP,
  PF_TOOL_PIPELINE
} pf_tool_kind;

typedef struct pf_cfg_pipeline_step {
  const char *tool;
  const char *input_json; /* `input` (or the original's `params`) as JSON text, or NULL */
  const char *output_var; /* or NULL */
  const char *condition;  /* expression text, or NULL */
  bool continue_on_error; /* error_policy: continue (default fail_fast) */
  pf_cfg_loc loc;
} pf_cfg_pipeline_step;

/* A cli tool's keys (pf_cfg_tool.cli). */
typedef struct pf_cfg_cli_tool {
  const char *command;
  const char **args; /* templated argv elements */
  size_t nargs;
  const char *cwd;
  pf_cfg_kv *env;
  size_t nenv;
  bool stream;
  const char *stdin_template; /* `stdin`, or NULL */
  bool env_clear;             /* inherit only env_allow (default: PATH) */
  bool has_env_allow;
  const char **env_allow;
  size_t nenv_allow;
  bool output_json;          /* output: json */
  uint32_t max_output_bytes; /* default 1 MiB (stdout and stderr each) */
  bool allow_extra_args;     /* the caller's `args` array is appended to argv */
} pf_cfg_cli_tool;

/* An http tool's keys (pf_cfg_tool.http). */
typedef struct pf_cfg_http_tool {
  const char *endpoint;
  const char *method; /* GET POST PUT DELETE PATCH */
  pf_cfg_kv *headers;
  size_t nheaders;
  const char *auth_type; /* bearer | basic | apikey, or NULL */
  const char *auth_token, *auth_token_env, *auth_username, *auth_password, *auth_password_env,
      *auth_key, *auth_key_env, *auth_header, *auth_query;
  const char *body_template; /* or NULL */
  pf_cfg_kv *query;          /* templated query parameters, appended to the URL */
  size_t nquery;
  uint32_t max_response_bytes; /* default 10 MiB; beyond it the call fails */
  bool follow_redirects;       /* default true */
  uint32_t max_redirects;      /* default 5 */
} pf_cfg_http_tool;

/* The keys few tools write, apart: a tool with none of them shares one
 * zeroed block (pf_cfg_tool.more is never NULL). */
typedef struct pf_cfg_tool_more {
  const char *title;              /* or annotations.title, or NULL */
  const char *output_schema_json; /* raw `output_schema`, or NULL */
  const char *icons_json;         /* JSON array text, or NULL */

  /* the kind's own keys: kind cli / http, else NULL */
  pf_cfg_cli_tool *cli;
  pf_cfg_http_tool *http;

  /* pipeline */
  pf_cfg_pipeline_step *steps;
  size_t nsteps;
  const char *pipeline_output; /* `output`: a template of the result, or NULL (last step's) */

  const char *fallback; /* a tool run with the same arguments when this one fails, or NULL */
  pf_cfg_loc fallback_loc;
} pf_cfg_tool_more;

/* The block of a tool with none of those keys. */
extern const pf_cfg_tool_more pf__cfg_tool_no_more;

/* What only the load and the server's build read: it lives in the params
 * arena and goes with it (pf__config_drop_params), when every tool's
 * `build` becomes &pf__cfg_tool_build_dropped (all empty). */
typedef struct pf_cfg_tool_build {
  pf_cfg_param *params; /* the DSL form, nparams of them, declaration order */
  size_t nparams;
  /* native */
  const char *handler_path;   /* as written, e.g. handlers::greet::say_hello */
  const char *handler_symbol; /* last `::` segment: say_hello (handler_path itself when
                                 it has no `::`) */
  pf_cfg_loc loc;
} pf_cfg_tool_build;

extern pf_cfg_tool_build pf__cfg_tool_build_dropped;

typedef struct pf_cfg_tool {
  /* the small fields first, together (no padding between pointers) */
  pf_tool_kind kind;
  uint32_t timeout_ms; /* 0 = default */
  /* annotations: -1 unset, 0 false, 1 true */
  int8_t read_only_hint, destructive_hint, idempotent_hint, open_world_hint;
  bool blocking;     /* native: run on the thread pool */
  bool blocking_set; /* `blocking` was written (else: default) */
  bool async;        /* native: `async: true` (pf_client_request_async; never blocking) */
  bool disabled;     /* `enabled: false`: hidden until pf_set_enabled shows it */

  const char *name;
  const char *description;       /* required */
  const char *input_schema_json; /* raw `input_schema` (verbatim JSON text), or NULL; after
                                    the server's build, the schema text it serves (from
                                    params, or verbatim) */
  pf_cfg_tool_build *build;      /* never NULL */

  /* resilience: the tool's own keys merged over forge.defaults (for a tool
   * with none of its own, the config's inherited_policy, shared) */
  const pf_cfg_policy *policy;

  const pf_cfg_tool_more *more; /* never NULL */
} pf_cfg_tool;

/* ---- resources ---- */

typedef struct pf_cfg_resource {
  const char *uri;          /* a static resource, or NULL */
  const char *uri_template; /* RFC 6570 level 1 template, or NULL (exactly one is set) */
  const char *name;         /* defaults to the uri */
  const char *title, *description, *mime_type; /* or NULL */
  const char *text;                            /* inline content, or NULL */
  const char *file;                            /* path under forge.resources_root, or NULL; for a
                                                  static `file://x` uri with no content key, x.
                                                  For a template it may use {variables} */
  const char *handler_path, *handler_symbol;   /* native handler, or NULL */
  bool subscribe;                              /* `supports` contains subscribe */
  /* completion values for template variables: completions[i] is a JSON
   * array text for variable completion_vars[i] */
  const char **completion_vars, **completions;
  size_t ncompletions;
  const char *icons_json;
  bool disabled; /* `enabled: false` */
  pf_cfg_loc loc;
} pf_cfg_resource;

/* ---- prompts ---- */

/* A prompt argument's declared `type`. MCP sends prompt arguments as
 * strings; one of another type is JSON text of that type, which the
 * template then sees as a value of that type ({{#each}} over an array,
 * {{a.b}} into an object, {{#if}} false for a boolean false). */
typedef enum pf_cfg_arg_type {
  PF_ARG_STRING = 0,
  PF_ARG_INTEGER,
  PF_ARG_NUMBER, /* `number` or `float` */
  PF_ARG_BOOLEAN,
  PF_ARG_ARRAY,
  PF_ARG_OBJECT
} pf_cfg_arg_type;

/* Whether a JSON value is of the argument type t (an integer is a number). */
static inline bool pf_cfg_arg_accepts(pf_cfg_arg_type t, pf_json_type j) {
  switch (t) {
  case PF_ARG_STRING: return j == PF_JSON_STRING;
  case PF_ARG_INTEGER: return j == PF_JSON_INT || j == PF_JSON_UINT;
  case PF_ARG_NUMBER: return j == PF_JSON_INT || j == PF_JSON_UINT || j == PF_JSON_REAL;
  case PF_ARG_BOOLEAN: return j == PF_JSON_BOOL;
  case PF_ARG_ARRAY: return j == PF_JSON_ARRAY;
  case PF_ARG_OBJECT: return j == PF_JSON_OBJECT;
  }
  return false;
}

/* "an integer", "a JSON array", ...: for messages. */
const char *pf_cfg_arg_type_phrase(pf_cfg_arg_type t);

typedef struct pf_cfg_prompt_arg {
  const char *name, *description; /* description may be NULL */
  bool required;
  pf_cfg_arg_type type;
  const char *default_json;     /* the default as JSON text of the type, or NULL */
  const char *completions_json; /* JSON array of strings, or NULL */
  pf_cfg_loc loc;
} pf_cfg_prompt_arg;

typedef struct pf_cfg_prompt_msg {
  const char *role;             /* user | assistant */
  const char *type;             /* text | image | resource */
  const char *text;             /* template text (type text) */
  const char *data, *mime_type; /* image: base64 data (templated) and type */
  const char *uri;              /* resource: uri of an embedded resource */
  pf_cfg_loc loc;
} pf_cfg_prompt_msg;

typedef struct pf_cfg_prompt {
  const char *name, *title, *description;
  const char *template_text;   /* `template`: one user text message, or NULL;
                                  the description when neither `template` nor
                                  `messages` is given */
  pf_cfg_prompt_msg *messages; /* `messages`, or NULL */
  size_t nmessages;
  pf_cfg_prompt_arg *args; /* `arguments` as a map or as a list */
  size_t nargs;
  const char *icons_json;
  bool disabled; /* `enabled: false` */
  pf_cfg_loc loc;
} pf_cfg_prompt;

/* ---- state ---- */

/* Defaults filled by the loader (lmdb path relative to the config file). */
#define PF_STATE_DEFAULT_PATH "pforge-state"
#define PF_STATE_DEFAULT_URL "redis://127.0.0.1:6379/0"
#define PF_STATE_DEFAULT_MAP_SIZE ((uint64_t)64 * 1024 * 1024)

/* Without a `state:` block, present is false and backend NULL: the server
 * then uses the memory backend. */
typedef struct pf_cfg_state {
  bool present;
  const char *backend;      /* memory | lmdb | redis; `sled` is read as lmdb */
  const char *path;         /* lmdb: default PF_STATE_DEFAULT_PATH next to the file */
  const char *url;          /* redis: default PF_STATE_DEFAULT_URL */
  uint64_t map_size;        /* lmdb: default PF_STATE_DEFAULT_MAP_SIZE */
  uint64_t ttl_seconds;     /* default TTL of writes without one; 0 = none */
  uint64_t max_size;        /* memory: most entries; 0 = unlimited */
  const char *options_json; /* free-form `options` map, or NULL */
  pf_cfg_loc loc;
} pf_cfg_state;

/* ---- forge ---- */

/* forge.http: the Streamable HTTP transport (all optional). */
typedef struct pf_cfg_http {
  bool present;                 /* the block was written */
  const char *host;             /* listen address, default "127.0.0.1" */
  uint32_t port;                /* default 3000 */
  const char *path;             /* the MCP endpoint, default "/mcp"; starts with '/' */
  uint32_t workers;             /* worker threads; 0 (default) = one per CPU */
  bool stateless;               /* no sessions: every POST stands alone */
  const char *response;         /* auto (default) | json | sse: how requests are answered */
  uint32_t session_ttl_s;       /* idle session expiry, default 3600 */
  uint32_t max_sessions;        /* default 10000 */
  uint64_t max_body;            /* request body limit, default 4 MiB */
  uint32_t max_header;          /* request line + headers limit, default 16384 */
  uint32_t header_timeout_ms;   /* default 10000 */
  uint32_t idle_timeout_ms;     /* keep-alive idle timeout, default 60000 */
  uint32_t body_timeout_ms;     /* from the end of the headers to the end of the body
                                   (absolute; 408 and close after), default 30000 */
  uint32_t shutdown_timeout_ms; /* SIGINT/SIGTERM: how long in-flight requests may run
                                   before they are cancelled, default 10000 */
  uint32_t sse_retry_ms;        /* `retry:` sent on SSE streams, default 1000 */
  uint32_t sse_buffer;          /* events kept per stream for Last-Event-ID replay, default 256 */
  uint32_t call_timeout_ms;     /* server-to-client request timeout, default 60000 */
  bool legacy_sse;              /* also serve the 2024-11-05 HTTP+SSE transport
                                   (GET /sse, POST /messages); default true */
  const char *metrics_path;     /* GET here: per-tool counters in the Prometheus
                                   text format; default "/metrics", "" = off */
  const char **allowed_origins; /* Origin values accepted besides localhost ones */
  size_t nallowed_origins;
  const char **allowed_hosts; /* Host values accepted besides localhost ones */
  size_t nallowed_hosts;
  pf_cfg_loc loc;
} pf_cfg_http;

typedef struct pf_cfg_forge {
  const char *name, *version;                                   /* required */
  const char *title, *description, *instructions, *website_url; /* or NULL */
  const char *icons_json;                                       /* JSON array text, or NULL */
  const char *transport;      /* stdio (default) | http | sse | websocket */
  const char *optimization;   /* debug | release */
  const char *log_level;      /* debug info notice warning error ... or NULL */
  const char *library;        /* shared library with native handlers, resolved
                                 relative to the config file; or NULL */
  const char *resources_root; /* root for file resources (default: the
                                 config file's directory) */
  uint32_t page_size;         /* list page size (default 100) */
  pf_cfg_http http;           /* defaults filled even when absent */
  pf_cfg_policy defaults;     /* forge.defaults: every tool's policy unless it sets its own */
  pf_cfg_loc loc;
} pf_cfg_forge;

typedef struct pf_config {
  const char *path; /* the file loaded */
  const char *dir;  /* its directory */
  pf_cfg_forge forge;
  pf_cfg_tool *tools;
  size_t ntools;
  pf_cfg_resource *resources;
  size_t nresources;
  pf_cfg_prompt *prompts;
  size_t nprompts;
  pf_cfg_state state;
  pf_cfg_policy inherited_policy; /* forge.defaults as a tool without keys of its own has it */
  /* `pforge validate`: build everything but what depends on the machine
   * (no_handlers: forge.library, handler symbols, the files of file
   * resources; no_store: the state store) */
  bool no_handlers, no_store;
  pf_arena *arena; /* owns everything above */
  /* The tools' build blocks (pf_cfg_tool_build: params, handler names,
   * locations): only the load and the server's build read them (input
   * schemas, cli/http/pipeline checks, handler lookup, messages), so they
   * live apart and pf__config_drop_params() frees them after it. */
  pf_arena *params_arena;
} pf_config;

/* Loads and validates `path`. On success returns 0 and *out (free with
 * pf_config_free). On failure returns -PF_ECONFIG (or -PF_EIO / -PF_ENOMEM),
 * *out is NULL, and `diag` (if not NULL) holds every problem, one per line:
 *   "pforge.yaml:12:7: tools[1].params.a: unknown key 'requried' (did you mean 'required'?)"
 */
int pf_config_load(const char *path, pf_config **out, pf_buf *diag);

/* Same, from text in memory; `name` is used in diagnostics. */
int pf_config_load_text(const char *name, const char *text, size_t len, pf_config **out,
                        pf_buf *diag);

void pf_config_free(pf_config *cfg);

/* Frees the tools' params (every tool's params becomes NULL, nparams 0):
 * for a config whose server is built, which reads them no more. */
void pf__config_drop_params(pf_config *cfg);

#endif

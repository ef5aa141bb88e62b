/* `tools:`: one table of keys per tool kind, plus annotations, auth and
 * pipeline steps. */
#include "config/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
  T_TYPE,
  T_NAME,
  T_TITLE,
  T_DESCRIPTION,
  T_PARAMS,
  T_INPUT_SCHEMA,
  T_OUTPUT_SCHEMA,
  T_ANNOTATIONS,
  T_ICONS,
  T_TIMEOUT,
  T_HANDLER,
  T_BLOCKING,
  T_ASYNC,
  T_COMMAND,
  T_ARGS,
  T_CWD,
  T_ENV,
  T_STREAM,
  T_STDIN,
  T_ENV_CLEAR,
  T_ENV_ALLOW,
  T_OUTPUT,
  T_MAX_OUTPUT,
  T_EXTRA_ARGS,
  T_ENDPOINT,
  T_METHOD,
  T_HEADERS,
  T_AUTH,
  T_BODY_TEMPLATE,
  T_QUERY,
  T_MAX_RESPONSE,
  T_FOLLOW_REDIRECTS,
  T_MAX_REDIRECTS,
  T_STEPS,
  T_ENABLED,
  T_RETRY,
  T_BREAKER,
  T_BULKHEAD,
  T_MAX_CONCURRENT,
  T_FALLBACK,
  T__N
};

#define COMMON_KEYS                                                                                \
  {T_TYPE, "type", NULL, PF__T_STR, true}, {T_NAME, "name", NULL, PF__T_STR, true},                \
      {T_TITLE, "title", NULL, PF__T_STR, false},                                                  \
      {T_DESCRIPTION, "description", NULL, PF__T_STR, true},                                       \
      {T_PARAMS, "params", NULL, PF__T_MAP, false},                                                \
      {T_INPUT_SCHEMA, "input_schema", "inputSchema", PF__T_STR_OR_MAP, false},                    \
      {T_OUTPUT_SCHEMA, "output_schema", "outputSchema", PF__T_STR_OR_MAP, false},                 \
      {T_ANNOTATIONS, "annotations", NULL, PF__T_MAP, false},                                      \
      {T_ICONS, "icons", NULL, PF__T_LIST, false},                                                 \
      {T_ENABLED, "enabled", NULL, PF__T_BOOL, false},                                             \
      {T_TIMEOUT, "timeout_ms", "timeout", PF__T_ANY, false},                                      \
      {T_RETRY, "retry", NULL, PF__T_MAP, false},                                                  \
      {T_BREAKER, "circuit_breaker", NULL, PF__T_MAP, false},                                      \
      {T_BULKHEAD, "bulkhead", NULL, PF__T_MAP, false},                                            \
      {T_MAX_CONCURRENT, "max_concurrent", NULL, PF__T_INT, false}, {                              \
    T_FALLBACK, "fallback", NULL, PF__T_ANY, false                                                 \
  }

/* req: whether the kind's own required keys are required; not when the
 * type is missing or wrong, which is reported once instead. */
#define NATIVE_KEYS(req)                                                                           \
  {T_HANDLER, "handler", NULL, PF__T_MAP, req}, {T_BLOCKING, "blocking", NULL, PF__T_BOOL, false}, \
  {                                                                                                \
    T_ASYNC, "async", NULL, PF__T_BOOL, false                                                      \
  }
#define CLI_KEYS(req)                                                                              \
  {T_COMMAND, "command", NULL, PF__T_STR, req}, {T_ARGS, "args", NULL, PF__T_LIST, false},         \
      {T_CWD, "cwd", NULL, PF__T_STR, false}, {T_ENV, "env", NULL, PF__T_MAP, false},              \
      {T_STREAM, "stream", NULL, PF__T_BOOL, false}, {T_STDIN, "stdin", NULL, PF__T_STR, false},   \
      {T_ENV_CLEAR, "env_clear", NULL, PF__T_BOOL, false},                                         \
      {T_ENV_ALLOW, "env_allow", NULL, PF__T_LIST, false},                                         \
      {T_OUTPUT, "output", NULL, PF__T_STR, false},                                                \
      {T_MAX_OUTPUT, "max_output_bytes", NULL, PF__T_INT, false}, {                                \
    T_EXTRA_ARGS, "allow_extra_args", NULL, PF__T_BOOL, false                                      \
  }
#define HTTP_KEYS(req)                                                                             \
  {T_ENDPOINT, "endpoint", NULL, PF__T_STR, req}, {T_METHOD, "method", NULL, PF__T_STR, false},    \
      {T_HEADERS, "headers", NULL, PF__T_MAP, false}, {T_AUTH, "auth", NULL, PF__T_MAP, false},    \
      {T_BODY_TEMPLATE, "body_template", NULL, PF__T_STR, false},                                  \
      {T_QUERY, "query", NULL, PF__T_MAP, false},                                                  \
      {T_MAX_RESPONSE, "max_response_bytes", NULL, PF__T_INT, false},                              \
      {T_FOLLOW_REDIRECTS, "follow_redirects", NULL, PF__T_BOOL, false}, {                         \
    T_MAX_REDIRECTS, "max_redirects", NULL, PF__T_INT, false                                       \
  }
#define PIPELINE_KEYS(req)                                                                         \
  { T_STEPS, "steps", NULL, PF__T_LIST, req }
/* `output` of a pipeline: what it returns (a cli tool's `output` is its format) */
#define PIPELINE_OUTPUT_KEY                                                                        \
  { T_OUTPUT, "output", NULL, PF__T_STR, false }

static const pf__cfg_key native_keys[] = {COMMON_KEYS, NATIVE_KEYS(true)};
static const pf__cfg_key cli_keys[] = {COMMON_KEYS, CLI_KEYS(true)};
static const pf__cfg_key http_keys[] = {COMMON_KEYS, HTTP_KEYS(true)};
static const pf__cfg_key pipeline_keys[] = {COMMON_KEYS, PIPELINE_KEYS(true), PIPELINE_OUTPUT_KEY};
/* When the type is missing or wrong: accept every kind's keys. */
static const pf__cfg_key any_keys[] = {COMMON_KEYS, NATIVE_KEYS(false), CLI_KEYS(false),
                                       HTTP_KEYS(false), PIPELINE_KEYS(false)};

static const char *const kind_names[] = {"native", "cli", "http", "pipeline"};
static const struct {
  const pf__cfg_key *keys;
  size_t n;
} kind_tables[] = {{native_keys, PF__NELEM(native_keys)},
                   {cli_keys, PF__NELEM(cli_keys)},
                   {http_keys, PF__NELEM(http_keys)},
                   {pipeline_keys, PF__NELEM(pipeline_keys)}};

/* A key of another kind gets a pointed message instead of "unknown". */
static const char *explain_kind(pf__cfg_ctx *c, const char *key, void *ud) {
  int kind = *(const int *)ud;
  for (int k = 0; k < 4; k++) {
    if (k == kind)
      continue;
    for (size_t i = 0; i < kind_tables[k].n; i++)
      if (strcmp(kind_tables[k].keys[i].name, key) == 0) {
        size_t n = strlen(key) + 96;
        char *m = pf_arena_alloc(c->scratch, n);
        if (!m)
          return NULL;
        snprintf(m, n, "key '%s' does not apply to a %s tool (it belongs to %s tools)", key,
                 kind_names[kind], kind_names[k]);
        return m;
      }
  }
  return NULL;
}

/* ---- annotations ---- */

enum { A_TITLE, A_READ_ONLY, A_DESTRUCTIVE, A_IDEMPOTENT, A_OPEN_WORLD, A__N };
static const pf__cfg_key annotation_keys[] = {
    {A_TITLE, "title", NULL, PF__T_STR, false},
    {A_READ_ONLY, "read_only_hint", "read_only", PF__T_BOOL, false},
    {A_DESTRUCTIVE, "destructive_hint", "destructive", PF__T_BOOL, false},
    {A_IDEMPOTENT, "idempotent_hint", "idempotent", PF__T_BOOL, false},
    {A_OPEN_WORLD, "open_world_hint", "open_world", PF__T_BOOL, false},
};

static int8_t hint(pf__cfg_ctx *c, const pf__cfg_val *v) {
  if (!v->present)
    return -1;
  return pf__cfg_bool(c, v, false) ? 1 : 0;
}

static void parse_annotations(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_tool *t,
                              pf_cfg_tool_more *m) {
  pf__cfg_val a[A__N];
  pf__cfg_map(c, v, annotation_keys, PF__NELEM(annotation_keys), a, A__N, NULL, NULL);
  /* MCP has both Tool.title and ToolAnnotations.title; one suffices. */
  const char *title = pf__cfg_str(c, &a[A_TITLE]);
  if (title && !m->title)
    m->title = title;
  t->read_only_hint = hint(c, &a[A_READ_ONLY]);
  t->destructive_hint = hint(c, &a[A_DESTRUCTIVE]);
  t->idempotent_hint = hint(c, &a[A_IDEMPOTENT]);
  t->open_world_hint = hint(c, &a[A_OPEN_WORLD]);
}

/* ---- http auth ---- */

enum {
  U_TYPE,
  U_TOKEN,
  U_TOKEN_ENV,
  U_USERNAME,
  U_PASSWORD,
  U_PASSWORD_ENV,
  U_KEY,
  U_KEY_ENV,
  U_HEADER,
  U_QUERY,
  U__N
};
static const pf__cfg_key auth_keys[] = {
    {U_TYPE, "type", NULL, PF__T_STR, true},
    {U_TOKEN, "token", NULL, PF__T_STR, false},
    {U_TOKEN_ENV, "token_env", NULL, PF__T_STR, false},
    {U_USERNAME, "username", NULL, PF__T_STR, false},
    {U_PASSWORD, "password", NULL, PF__T_STR, false},
    {U_PASSWORD_ENV, "password_env", NULL, PF__T_STR, false},
    {U_KEY, "key", NULL, PF__T_STR, false},
    {U_KEY_ENV, "key_env", NULL, PF__T_STR, false},
    {U_HEADER, "header", NULL, PF__T_STR, false},
    {U_QUERY, "query", NULL, PF__T_STR, false},
};

static void parse_auth(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_tool_more *m) {
  static const char *const types[] = {"bearer", "basic", "apikey"};
  /* Which keys each auth type takes, by slot. */
  static const bool allowed[3][U__N] = {
      [0] = {[U_TYPE] = 1, [U_TOKEN] = 1, [U_TOKEN_ENV] = 1},
      [1] = {[U_TYPE] = 1, [U_USERNAME] = 1, [U_PASSWORD] = 1, [U_PASSWORD_ENV] = 1},
      [2] = {[U_TYPE] = 1, [U_KEY] = 1, [U_KEY_ENV] = 1, [U_HEADER] = 1, [U_QUERY] = 1},
  };
  pf__cfg_val a[U__N];
  if (!pf__cfg_map(c, v, auth_keys, PF__NELEM(auth_keys), a, U__N, NULL, NULL))
    return;
  int ty = pf__cfg_enum(c, &a[U_TYPE], types, 3, false);
  if (ty < 0)
    return;
  m->http->auth_type = types[ty];
  for (int s = 1; s < U__N; s++)
    if (a[s].key && !allowed[ty][s]) {
      pf__cfg_err(c, a[s].key_loc, v->path, "key '%s' does not apply to auth type '%s'", a[s].key,
                  types[ty]);
      a[s].present = false;
    }
  struct {
    int x, y;
  } pairs[3] = {{U_TOKEN, U_TOKEN_ENV}, {U_PASSWORD, U_PASSWORD_ENV}, {U_KEY, U_KEY_ENV}};
  int pi = ty; /* bearer: token, basic: password, apikey: key */
  pf__cfg_val *x = &a[pairs[pi].x], *y = &a[pairs[pi].y];
  if (x->present && y->present)
    pf__cfg_err(c, y->key_loc, v->path, "give only one of '%s' and '%s'", x->key, y->key);
  else if (!x->key && !y->key)
    pf__cfg_err(c, v->loc, v->path, "missing required key '%s' (or '%s')",
                auth_keys[pairs[pi].x].name, auth_keys[pairs[pi].y].name);
  if (ty == 1 && !a[U_USERNAME].key)
    pf__cfg_err(c, v->loc, v->path, "missing required key 'username'");
  if (ty == 2 && a[U_HEADER].present && a[U_QUERY].present)
    pf__cfg_err(c, a[U_QUERY].key_loc, v->path, "give only one of 'header' and 'query'");
  m->http->auth_token = pf__cfg_str(c, &a[U_TOKEN]);
  m->http->auth_token_env = pf__cfg_str(c, &a[U_TOKEN_ENV]);
  m->http->auth_username = pf__cfg_str(c, &a[U_USERNAME]);
  m->http->auth_password = pf__cfg_str(c, &a[U_PASSWORD]);
  m->http->auth_password_env = pf__cfg_str(c, &a[U_PASSWORD_ENV]);
  m->http->auth_key = pf__cfg_str(c, &a[U_KEY]);
  m->http->auth_key_env = pf__cfg_str(c, &a[U_KEY_ENV]);
  m->http->auth_header = pf__cfg_str(c, &a[U_HEADER]);
  m->http->auth_query = pf__cfg_str(c, &a[U_QUERY]);
}

/* ---- pipeline steps ---- */

enum { S_TOOL, S_INPUT, S_OUTPUT_VAR, S_CONDITION, S_ERROR_POLICY, S__N };
static const pf__cfg_key step_keys[] = {
    {S_TOOL, "tool", NULL, PF__T_STR, true},
    /* The original pforge's examples spell it `params`. */
    {S_INPUT, "input", "params", PF__T_ANY, false},
    {S_OUTPUT_VAR, "output_var", NULL, PF__T_STR, false},
    {S_CONDITION, "condition", NULL, PF__T_STR, false},
    {S_ERROR_POLICY, "error_policy", NULL, PF__T_STR, false},
};

static void parse_steps(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_tool_more *m) {
  static const char *const policies[] = {"fail_fast", "continue"};
  size_t cnt = pf__cfg_count(v);
  if (cnt == 0) {
    pf__cfg_err(c, v->loc, v->path, "a pipeline needs at least one step");
    return;
  }
  m->steps = pf_arena_calloc(c->a, cnt, sizeof *m->steps);
  if (!m->steps) {
    c->oom = true;
    return;
  }
  size_t i = 0;
  for (pf__ynode *item = pf__y_items(v->node); item; item = item->next) {
    pf__cfg_val sv = pf__cfg_item(c, v, item, i);
    pf_cfg_pipeline_step *s = &m->steps[i++];
    s->loc = sv.loc;
    pf__cfg_val k[S__N];
    if (!pf__cfg_map(c, &sv, step_keys, PF__NELEM(step_keys), k, S__N, NULL, NULL))
      continue;
    s->tool = pf__cfg_str(c, &k[S_TOOL]);
    if (k[S_TOOL].present)
      s->loc = k[S_TOOL].loc;
    if (k[S_INPUT].present && pf__cfg_kind(k[S_INPUT].node) != PF__Y_NULL)
      s->input_json = pf__cfg_json(c, &k[S_INPUT]);
    s->output_var = pf__cfg_str(c, &k[S_OUTPUT_VAR]);
    s->condition = pf__cfg_str(c, &k[S_CONDITION]);
    if (k[S_ERROR_POLICY].present)
      s->continue_on_error = pf__cfg_enum(c, &k[S_ERROR_POLICY], policies, 2, false) == 1;
  }
  m->nsteps = i;
}

/* ---- raw JSON schemas ---- */

/* Drops insignificant whitespace; everything else (key order, number
 * spelling, escapes) stays as written, because the text is sent verbatim. */
static char *minify(pf__cfg_ctx *c, const char *s) {
  size_t n = strlen(s);
  char *out = pf_arena_alloc(c->a, n + 1), *o = out;
  if (!out) {
    c->oom = true;
    return NULL;
  }
  bool in_str = false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (in_str) {
      *o++ = ch;
      if (ch == '\\' && i + 1 < n)
        *o++ = s[++i];
      else if (ch == '"')
        in_str = false;
    } else if (ch == '"') {
      in_str = true;
      *o++ = ch;
    } else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
      *o++ = ch;
    }
  }
  *o = '\0';
  return out;
}

static const char *raw_schema(pf__cfg_ctx *c, const pf__cfg_val *v) {
  if (!v->present)
    return NULL;
  const char *text;
  if (pf__cfg_kind(v->node) == PF__Y_MAP) {
    text = pf__cfg_json(c, v);
  } else {
    const char *s = pf__cfg_str(c, v);
    if (!s)
      return NULL;
    pf_json_error err;
    pf_json_opts opts = {0, 0, PF_JSON_DUP_REJECT};
    if (!pf_json_parse_copy(s, strlen(s), c->scratch, &opts, &err)) {
      char pos[48];
      pf__cfg_err(c, v->loc, v->path, "invalid JSON at %s of the text: %s",
                  pf_json_error_pos(s, strlen(s), &err, pos, sizeof pos), err.msg);
      return NULL;
    }
    text = minify(c, s);
  }
  if (!text)
    return NULL;
  const pf_json *j = pf_json_parse_copy(text, strlen(text), c->scratch, NULL, NULL);
  if (pf_json_typeof(j) != PF_JSON_OBJECT) {
    pf__cfg_err(c, v->loc, v->path, "a schema must be a JSON object");
    return NULL;
  }
  const char *type = pf_json_get_str(j, "type", NULL);
  if (!type || strcmp(type, "object") != 0) {
    pf__cfg_err(c, v->loc, v->path, "a tool schema must have \"type\": \"object\"");
    return NULL;
  }
  return text;
}

/* ---- one tool ---- */

static bool valid_tool_name(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
      return false;
  return true;
}

static int prescan_kind(const pf__ynode *n) {
  const pf__ynode *tn = NULL;
  for (const pf__ynode *k = pf__y_keys(n); k && !tn; k = k->next)
    if (k->type == PF__YN_SCALAR && k->len == 4 && memcmp(k->text, "type", 4) == 0)
      tn = k->value;
  size_t len = tn ? tn->len : 0;
  const char *s = tn && tn->type == PF__YN_SCALAR ? tn->text : NULL;
  for (int k = 0; s && k < 4; k++)
    if (strlen(kind_names[k]) == len && memcmp(kind_names[k], s, len) == 0)
      return k;
  return -1;
}

const pf_cfg_tool_more pf__cfg_tool_no_more;

static void parse_tool_keys(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_tool *t,
                            pf_cfg_tool_more *m) {
  static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
  t->build->loc = v->loc;
  t->read_only_hint = t->destructive_hint = t->idempotent_hint = t->open_world_hint = -1;
  t->policy = &c->cfg->inherited_policy; /* never NULL, whatever returns early */
  int kind = pf__cfg_kind(v->node) == PF__Y_MAP ? prescan_kind(v->node) : -1;
  pf__cfg_val k[T__N];
  bool ok = kind >= 0 ? pf__cfg_map(c, v, kind_tables[kind].keys, kind_tables[kind].n, k, T__N,
                                    explain_kind, &kind)
                      : pf__cfg_map(c, v, any_keys, PF__NELEM(any_keys), k, T__N, NULL, NULL);
  if (!ok)
    return;
  if (kind < 0 && k[T_TYPE].present &&
      pf__cfg_enum(c, &k[T_TYPE], kind_names, 4, false) >= 0) /* else it reported the bad type */
    /* the keys allowed depend on the type, so it is read before ${VAR}
     * expansion and must be literal */
    pf__cfg_err(c, k[T_TYPE].loc, k[T_TYPE].path,
                "the tool type must be written literally (native, cli, http or pipeline); "
                "${...} is not expanded in 'type'");
  t->kind = kind < 0 ? PF_TOOL_NATIVE : (pf_tool_kind)kind;

  t->name = pf__cfg_str(c, &k[T_NAME]);
  if (t->name && !valid_tool_name(t->name)) {
    pf__cfg_err(c, k[T_NAME].loc, k[T_NAME].path,
                "invalid tool name '%s' (use 1 to 64 of A-Z a-z 0-9 _ . -)", t->name);
  }
  if (k[T_NAME].present)
    t->build->loc = k[T_NAME].loc;
  m->title = pf__cfg_str(c, &k[T_TITLE]);
  t->description = pf__cfg_str(c, &k[T_DESCRIPTION]);
  pf_arena *model = c->a; /* params live apart: the build frees them */
  c->a = c->cfg->params_arena;
  pf__cfg_params(c, &k[T_PARAMS], &t->build->params, &t->build->nparams);
  c->a = model;
  t->input_schema_json = raw_schema(c, &k[T_INPUT_SCHEMA]);
  m->output_schema_json = raw_schema(c, &k[T_OUTPUT_SCHEMA]);
  if (k[T_INPUT_SCHEMA].key && k[T_PARAMS].key && pf__cfg_count(&k[T_PARAMS]) > 0)
    pf__cfg_err(c, k[T_INPUT_SCHEMA].key_loc, v->path,
                "give either 'params' or 'input_schema', not both");
  if (k[T_ANNOTATIONS].present)
    parse_annotations(c, &k[T_ANNOTATIONS], t, m);
  m->icons_json = pf__cfg_icons(c, &k[T_ICONS]);
  t->disabled = !pf__cfg_bool(c, &k[T_ENABLED], true);
  int64_t n;
  pf__cfg_policy_vals pv = {&k[T_TIMEOUT], &k[T_RETRY], &k[T_BREAKER], &k[T_BULKHEAD],
                            &k[T_MAX_CONCURRENT]};
  pf_cfg_policy own = {0};
  pf__cfg_policy(c, &pv, &own);
  if (own.has_timeout || own.has_retry || own.has_cb || own.has_bulkhead) {
    pf_cfg_policy *p = pf_arena_alloc(c->a, sizeof *p); /* else the inherited one, set above */
    if (p) {
      *p = own;
      pf__cfg_policy_inherit(p, &c->cfg->forge.defaults);
      t->policy = p;
    } else {
      c->oom = true;
    }
  }
  t->timeout_ms = t->policy->timeout_ms;
  if (k[T_FALLBACK].present) {
    pf__ykind fk = pf__cfg_kind(k[T_FALLBACK].node);
    if (fk == PF__Y_MAP)
      pf__cfg_err(c, k[T_FALLBACK].loc, k[T_FALLBACK].path,
                  "fallback names another tool (define the fallback as a tool of its own and "
                  "write its name here)");
    else
      m->fallback = pf__cfg_str(c, &k[T_FALLBACK]);
    m->fallback_loc = k[T_FALLBACK].loc;
  }

  switch (kind) {
  case PF_TOOL_NATIVE:
    if (k[T_HANDLER].present) {
      c->a = c->cfg->params_arena; /* build-only too */
      pf__cfg_handler(c, &k[T_HANDLER], &t->build->handler_path, &t->build->handler_symbol);
      c->a = model;
    }
    t->blocking = pf__cfg_bool(c, &k[T_BLOCKING], false);
    t->blocking_set = k[T_BLOCKING].present;
    t->async = pf__cfg_bool(c, &k[T_ASYNC], false);
    if (t->async && t->blocking)
      pf__cfg_err(c, k[T_ASYNC].loc, k[T_ASYNC].path,
                  "async: true and blocking: true exclude each other (an async tool runs on the "
                  "event loop and waits for the client without holding a thread)");
    break;
  case PF_TOOL_CLI:
    if (!(m->cli = pf_arena_calloc(c->a, 1, sizeof *m->cli))) {
      c->oom = true;
      break;
    }
    m->cli->command = pf__cfg_str(c, &k[T_COMMAND]);
    if (m->cli->command && !*m->cli->command)
      pf__cfg_err(c, k[T_COMMAND].loc, k[T_COMMAND].path, "command must not be empty");
    pf__cfg_strlist(c, &k[T_ARGS], &m->cli->args, &m->cli->nargs);
    m->cli->cwd = pf__cfg_str(c, &k[T_CWD]);
    pf__cfg_strmap(c, &k[T_ENV], &m->cli->env, &m->cli->nenv);
    m->cli->stream = pf__cfg_bool(c, &k[T_STREAM], false);
    m->cli->stdin_template = pf__cfg_str(c, &k[T_STDIN]);
    m->cli->env_clear = pf__cfg_bool(c, &k[T_ENV_CLEAR], false);
    if (k[T_ENV_ALLOW].present) {
      pf__cfg_strlist(c, &k[T_ENV_ALLOW], &m->cli->env_allow, &m->cli->nenv_allow);
      m->cli->has_env_allow = true;
      if (!m->cli->env_clear)
        pf__cfg_err(c, k[T_ENV_ALLOW].loc, k[T_ENV_ALLOW].path,
                    "env_allow applies only with env_clear: true");
    }
    if (k[T_OUTPUT].present) {
      static const char *const outputs[] = {"text", "json"};
      m->cli->output_json = pf__cfg_enum(c, &k[T_OUTPUT], outputs, 2, false) == 1;
    }
    m->cli->max_output_bytes = 1024 * 1024;
    if (k[T_MAX_OUTPUT].present && pf__cfg_int(c, &k[T_MAX_OUTPUT], 1, (int64_t)1 << 30, &n))
      m->cli->max_output_bytes = (uint32_t)n;
    m->cli->allow_extra_args = pf__cfg_bool(c, &k[T_EXTRA_ARGS], false);
    break;
  case PF_TOOL_HTTP: {
    if (!(m->http = pf_arena_calloc(c->a, 1, sizeof *m->http))) {
      c->oom = true;
      break;
    }
    m->http->endpoint = pf__cfg_str(c, &k[T_ENDPOINT]);
    const char *ep = m->http->endpoint;
    if (ep && strncmp(ep, "{{", 2) != 0 && strncasecmp(ep, "http://", 7) != 0 &&
        strncasecmp(ep, "https://", 8) != 0)
      pf__cfg_err(c, k[T_ENDPOINT].loc, k[T_ENDPOINT].path,
                  "endpoint must be an http:// or https:// URL, got '%s'", m->http->endpoint);
    m->http->method = "GET";
    if (k[T_METHOD].present) {
      int mi = pf__cfg_enum(c, &k[T_METHOD], methods, PF__NELEM(methods), true);
      if (mi >= 0)
        m->http->method = methods[mi];
    }
    pf__cfg_strmap(c, &k[T_HEADERS], &m->http->headers, &m->http->nheaders);
    if (k[T_AUTH].present)
      parse_auth(c, &k[T_AUTH], m);
    m->http->body_template = pf__cfg_str(c, &k[T_BODY_TEMPLATE]);
    pf__cfg_strmap(c, &k[T_QUERY], &m->http->query, &m->http->nquery);
    m->http->max_response_bytes = 10 * 1024 * 1024;
    if (k[T_MAX_RESPONSE].present && pf__cfg_int(c, &k[T_MAX_RESPONSE], 1, (int64_t)1 << 30, &n))
      m->http->max_response_bytes = (uint32_t)n;
    m->http->follow_redirects = pf__cfg_bool(c, &k[T_FOLLOW_REDIRECTS], true);
    m->http->max_redirects = 5;
    if (k[T_MAX_REDIRECTS].present && pf__cfg_int(c, &k[T_MAX_REDIRECTS], 0, 100, &n))
      m->http->max_redirects = (uint32_t)n;
    break;
  }
  case PF_TOOL_PIPELINE:
    if (k[T_STEPS].present)
      parse_steps(c, &k[T_STEPS], m);
    m->pipeline_output = pf__cfg_str(c, &k[T_OUTPUT]);
    break;
  default: break;
  }
}

/* The rare keys go to a block of their own, or to the shared empty one. */
pf_cfg_tool_build pf__cfg_tool_build_dropped;

static void parse_tool(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_tool *t) {
  pf_cfg_tool_more m;
  memset(&m, 0, sizeof m); /* padding too: compared whole below */
  t->more = &pf__cfg_tool_no_more;
  t->build = pf_arena_calloc(c->cfg->params_arena, 1, sizeof *t->build);
  if (!t->build) {
    t->build = &pf__cfg_tool_build_dropped; /* read as empty; the load fails */
    t->policy = &c->cfg->inherited_policy;
    c->oom = true;
    return;
  }
  parse_tool_keys(c, v, t, &m);
  if (memcmp(&m, &pf__cfg_tool_no_more, sizeof m) != 0) {
    pf_cfg_tool_more *p = pf_arena_alloc(c->a, sizeof *p);
    if (p) {
      *p = m;
      t->more = p;
    } else {
      c->oom = true;
    }
  }
}

static void unknown_tool(pf__cfg_ctx *c, const char *name, pf_cfg_loc loc, const char *path) {
  const pf_config *cfg = c->cfg;
  const char **names = pf_arena_calloc(c->scratch, cfg->ntools + 1, sizeof *names);
  for (size_t i = 0; names && i < cfg->ntools; i++)
    names[i] = cfg->tools[i].name;
  const char *sug = names ? pf__cfg_suggest(name, names, cfg->ntools) : NULL;
  if (sug)
    pf__cfg_err(c, loc, path, "unknown tool '%s' (did you mean '%s'?)", name, sug);
  else
    pf__cfg_err(c, loc, path, "unknown tool '%s'", name);
}

/* ---- cycles through pipeline steps and fallbacks ---- */

/* Edge e of tool t: its steps, then its fallback. */
static const char *edge(const pf_cfg_tool *t, size_t e, pf_cfg_loc *loc) {
  if (e < t->more->nsteps) {
    *loc = t->more->steps[e].loc;
    return t->more->steps[e].tool;
  }
  *loc = t->more->fallback_loc;
  return e == t->more->nsteps ? t->more->fallback : NULL;
}

/* An iterative depth-first search; a back edge closes a cycle, reported
 * once at the edge's location with the whole chain. Direct self-references
 * are reported above. */
static void check_cycles(pf__cfg_ctx *c, const pf__cfg_names *names) {
  const pf_config *cfg = c->cfg;
  size_t n = cfg->ntools;
  if (n == 0)
    return;
  uint8_t *color = pf_arena_calloc(c->scratch, n, 1); /* 0 new, 1 on stack, 2 done */
  size_t *stack = pf_arena_calloc(c->scratch, n, sizeof *stack);
  size_t *next = pf_arena_calloc(c->scratch, n, sizeof *next);
  if (!color || !stack || !next) {
    c->oom = true;
    return;
  }
  for (size_t root = 0; root < n; root++) {
    if (color[root])
      continue;
    size_t sp = 0;
    stack[sp++] = root;
    color[root] = 1;
    next[root] = 0;
    while (sp) {
      size_t u = stack[sp - 1];
      const pf_cfg_tool *t = &cfg->tools[u];
      pf_cfg_loc loc;
      if (next[u] > t->more->nsteps) {
        color[u] = 2;
        sp--;
        continue;
      }
      size_t e = next[u]++;
      const char *to = edge(t, e, &loc);
      size_t v = pf__cfg_names_get(names, to);
      if (v == SIZE_MAX || v == u)
        continue;
      if (color[v] == 0) {
        color[v] = 1;
        next[v] = 0;
        stack[sp++] = v;
      } else if (color[v] == 1) {
        pf_buf chain = PF_BUF_INIT;
        size_t from = 0;
        while (stack[from] != v)
          from++;
        for (size_t i = from; i < sp; i++) {
          pf_buf_puts(&chain, cfg->tools[stack[i]].name);
          pf_buf_puts(&chain, " -> ");
        }
        pf_buf_puts(&chain, cfg->tools[v].name);
        const char *path =
            e < t->more->nsteps
                ? pf__cfg_path_key(
                      c,
                      pf__cfg_path_idx(
                          c, pf__cfg_path_key(c, pf__cfg_path_idx(c, "tools", u), "steps"), e),
                      "tool")
                : pf__cfg_path_key(c, pf__cfg_path_idx(c, "tools", u), "fallback");
        pf__cfg_err(c, loc, path, "tools call each other in a cycle: %s", pf_buf_cstr(&chain));
        pf_buf_free(&chain);
      }
    }
  }
}

void pf__cfg_tools(pf__cfg_ctx *c, const pf__cfg_val *v) {
  pf_config *cfg = c->cfg;
  if (!v->present || pf__cfg_kind(v->node) == PF__Y_NULL)
    return;
  size_t cnt;
  cfg->tools = pf__cfg_alloc_items(c, v, sizeof *cfg->tools, &cnt);
  if (!cfg->tools)
    return;
  pf__cfg_names names;
  if (!pf__cfg_names_init(c, &names, cnt))
    return;
  size_t i = 0;
  for (pf__ynode *item = pf__y_items(v->node); item; item = item->next) {
    pf__cfg_val tv = pf__cfg_item(c, v, item, i);
    pf_cfg_tool *t = &cfg->tools[i++];
    parse_tool(c, &tv, t);
    size_t first = pf__cfg_names_put(&names, t->name, i - 1);
    if (first != SIZE_MAX)
      pf__cfg_err(c, t->build->loc, pf__cfg_path_key(c, tv.path, "name"),
                  "duplicate tool name '%s' (first defined at line %u)", t->name,
                  cfg->tools[first].build->loc.line);
  }
  cfg->ntools = i;

  /* Steps may name tools defined after the pipeline. */
  for (size_t ti = 0; ti < cfg->ntools; ti++) {
    const pf_cfg_tool *t = &cfg->tools[ti];
    for (size_t si = 0; si < t->more->nsteps; si++) {
      const pf_cfg_pipeline_step *s = &t->more->steps[si];
      if (!s->tool)
        continue;
      const char *path = pf__cfg_path_key(
          c,
          pf__cfg_path_idx(c, pf__cfg_path_key(c, pf__cfg_path_idx(c, "tools", ti), "steps"), si),
          "tool");
      if (t->name && strcmp(s->tool, t->name) == 0)
        pf__cfg_err(c, s->loc, path, "a pipeline cannot call itself");
      else if (pf__cfg_names_get(&names, s->tool) == SIZE_MAX)
        unknown_tool(c, s->tool, s->loc, path);
    }
    if (t->more->fallback) {
      const char *path = pf__cfg_path_key(c, pf__cfg_path_idx(c, "tools", ti), "fallback");
      if (t->name && strcmp(t->more->fallback, t->name) == 0)
        pf__cfg_err(c, t->more->fallback_loc, path, "a tool cannot be its own fallback");
      else if (pf__cfg_names_get(&names, t->more->fallback) == SIZE_MAX)
        unknown_tool(c, t->more->fallback, t->more->fallback_loc, path);
    }
  }
  check_cycles(c, &names);
}

/* pf_config_load(): YAML (libfyaml) -> the model of config/config.h.
 *
 * libfyaml builds the document (aliases and merge keys resolved, duplicate
 * keys rejected); its own messages are collected through a diag object and
 * never printed. The walk then checks the tree against one key table per
 * mapping level (here: root, forge, forge.http, state, icons, handler; the rest in
 * tools.c, params.c, resources.c, prompts.c) and fills the model. Problems
 * are collected, sorted by position and returned all at once. */
#include "config/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/error.h>

#include "base/alloc.h"

/* ---- shared blocks ---- */

enum { IC_SRC, IC_MIME_TYPE, IC_SIZES, IC_THEME, IC__N };
static const pf__cfg_key icon_keys[] = {
    {IC_SRC, "src", NULL, PF__T_STR, true},
    {IC_MIME_TYPE, "mimeType", "mime_type", PF__T_STR, false},
    {IC_SIZES, "sizes", NULL, PF__T_STR_OR_LIST, false},
    {IC_THEME, "theme", NULL, PF__T_STR, false},
};

const char *pf__cfg_icons(pf__cfg_ctx *c, const pf__cfg_val *v) {
  static const char *const themes[] = {"light", "dark"};
  if (!v->present || pf__cfg_count(v) == 0)
    return NULL;
  pf_buf b = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &b);
  pf_jw_arr_begin(&w);
  size_t i = 0;
  bool ok = true;
  for (pf__ynode *item = pf__y_items(v->node); item; item = item->next) {
    pf__cfg_val iv = pf__cfg_item(c, v, item, i++);
    pf__cfg_val k[IC__N];
    if (!pf__cfg_map(c, &iv, icon_keys, PF__NELEM(icon_keys), k, IC__N, NULL, NULL)) {
      ok = false;
      continue;
    }
    const char *src = pf__cfg_str(c, &k[IC_SRC]);
    const char *mime = pf__cfg_str(c, &k[IC_MIME_TYPE]);
    int theme = k[IC_THEME].present ? pf__cfg_enum(c, &k[IC_THEME], themes, 2, false) : -1;
    if (!src) {
      ok = false;
      continue;
    }
    pf_jw_obj_begin(&w);
    PF_JW_KEY(&w, "src");
    pf_jw_strz(&w, src);
    if (mime) {
      PF_JW_KEY(&w, "mimeType");
      pf_jw_strz(&w, mime);
    }
    if (k[IC_SIZES].present) {
      PF_JW_KEY(&w, "sizes");
      if (pf__cfg_kind(k[IC_SIZES].node) == PF__Y_LIST) {
        const char **sizes;
        size_t n;
        pf__cfg_strlist(c, &k[IC_SIZES], &sizes, &n);
        pf_jw_arr_begin(&w);
        for (size_t j = 0; j < n; j++)
          pf_jw_strz(&w, sizes[j]);
        pf_jw_arr_end(&w);
      } else { /* `sizes: 48x48` means one size */
        pf_jw_arr_begin(&w);
        pf_jw_strz(&w, pf__cfg_str(c, &k[IC_SIZES]));
        pf_jw_arr_end(&w);
      }
    }
    if (theme >= 0) {
      PF_JW_KEY(&w, "theme");
      pf_jw_strz(&w, themes[theme]);
    }
    pf_jw_obj_end(&w);
  }
  pf_jw_arr_end(&w);
  const char *r = NULL;
  if (b.failed)
    c->oom = true;
  else if (ok)
    r = pf__cfg_strdup(c, b.data, b.len);
  pf_buf_free(&b);
  return r;
}

enum { H_PATH, H_INLINE, H__N };
static const pf__cfg_key handler_keys[] = {
    {H_PATH, "path", NULL, PF__T_STR, true},
    /* The original's "inline implementation": parsed there, used nowhere. */
    {H_INLINE, "inline", NULL, PF__T_STR, false},
};

static bool is_ident(const char *s) {
  if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
      return false;
  return true;
}

bool pf__cfg_handler(pf__cfg_ctx *c, const pf__cfg_val *v, const char **path, const char **sym) {
  pf__cfg_val k[H__N];
  if (!pf__cfg_map(c, v, handler_keys, PF__NELEM(handler_keys), k, H__N, NULL, NULL))
    return false;
  const char *p = pf__cfg_str(c, &k[H_PATH]);
  if (!p)
    return false;
  /* handlers::greet::say_hello names the C symbol say_hello. */
  const char *s = p;
  for (const char *q = strstr(p, "::"); q; q = strstr(q + 2, "::"))
    s = q + 2;
  if (!is_ident(s)) {
    pf__cfg_err(c, k[H_PATH].loc, k[H_PATH].path,
                "handler symbol '%s' is not a C identifier (path '%s')", s, p);
    return false;
  }
  *path = p;
  *sym = s;
  return true;
}

/* ---- forge ---- */

enum {
  F_NAME,
  F_VERSION,
  F_TITLE,
  F_DESCRIPTION,
  F_INSTRUCTIONS,
  F_ICONS,
  F_WEBSITE_URL,
  F_TRANSPORT,
  F_OPTIMIZATION,
  F_LOG_LEVEL,
  F_LIBRARY,
  F_RESOURCES_ROOT,
  F_PAGE_SIZE,
  F_HTTP,
  F_DEFAULTS,
  F__N
};
static const pf__cfg_key forge_keys[] = {
    {F_NAME, "name", NULL, PF__T_STR, true},
    {F_VERSION, "version", NULL, PF__T_STR, true},
    {F_TITLE, "title", NULL, PF__T_STR, false},
    {F_DESCRIPTION, "description", NULL, PF__T_STR, false},
    {F_INSTRUCTIONS, "instructions", NULL, PF__T_STR, false},
    {F_ICONS, "icons", NULL, PF__T_LIST, false},
    {F_WEBSITE_URL, "website_url", "websiteUrl", PF__T_STR, false},
    {F_TRANSPORT, "transport", NULL, PF__T_STR, false},
    {F_OPTIMIZATION, "optimization", NULL, PF__T_STR, false},
    {F_LOG_LEVEL, "log_level", NULL, PF__T_STR, false},
    {F_LIBRARY, "library", NULL, PF__T_STR, false},
    {F_RESOURCES_ROOT, "resources_root", NULL, PF__T_STR, false},
    {F_PAGE_SIZE, "page_size", NULL, PF__T_INT, false},
    {F_HTTP, "http", NULL, PF__T_MAP, false},
    {F_DEFAULTS, "defaults", NULL, PF__T_MAP, false},
};

/* ---- forge.defaults: every tool's resilience policy ---- */

enum { D_TIMEOUT, D_RETRY, D_BREAKER, D_BULKHEAD, D_MAX_CONCURRENT, D__N };
static const pf__cfg_key defaults_keys[] = {
    {D_TIMEOUT, "timeout_ms", "timeout", PF__T_ANY, false},
    {D_RETRY, "retry", NULL, PF__T_MAP, false},
    {D_BREAKER, "circuit_breaker", NULL, PF__T_MAP, false},
    {D_BULKHEAD, "bulkhead", NULL, PF__T_MAP, false},
    {D_MAX_CONCURRENT, "max_concurrent", NULL, PF__T_INT, false},
};

static void parse_defaults(pf__cfg_ctx *c, const pf__cfg_val *v) {
  pf__cfg_val k[D__N];
  if (!pf__cfg_map(c, v, defaults_keys, PF__NELEM(defaults_keys), k, D__N, NULL, NULL))
    return;
  pf__cfg_policy_vals pv = {&k[D_TIMEOUT], &k[D_RETRY], &k[D_BREAKER], &k[D_BULKHEAD],
                            &k[D_MAX_CONCURRENT]};
  pf__cfg_policy(c, &pv, &c->cfg->forge.defaults);
}

/* A relative path is relative to the config file, not to the cwd. */
static const char *resolve(pf__cfg_ctx *c, const char *p) {
  if (!p || p[0] == '/' || strcmp(c->cfg->dir, ".") == 0)
    return p;
  size_t dn = strlen(c->cfg->dir), pn = strlen(p);
  char *r = pf_arena_alloc(c->a, dn + pn + 2);
  if (!r) {
    c->oom = true;
    return p;
  }
  memcpy(r, c->cfg->dir, dn);
  r[dn] = '/';
  memcpy(r + dn + 1, p, pn + 1);
  return r;
}

static const char *pick(pf__cfg_ctx *c, const pf__cfg_val *v, const char *const *names, size_t n,
                        const char *def) {
  if (!v->present)
    return def;
  int i = pf__cfg_enum(c, v, names, n, false);
  return i >= 0 ? names[i] : def;
}

/* ---- forge.http ---- */

enum {
  HT_HOST,
  HT_PORT,
  HT_PATH,
  HT_WORKERS,
  HT_STATELESS,
  HT_RESPONSE,
  HT_SESSION_TTL,
  HT_MAX_SESSIONS,
  HT_MAX_BODY,
  HT_MAX_HEADER,
  HT_HEADER_TIMEOUT,
  HT_IDLE_TIMEOUT,
  HT_BODY_TIMEOUT,
  HT_SHUTDOWN_TIMEOUT,
  HT_SSE_RETRY,
  HT_SSE_BUFFER,
  HT_CALL_TIMEOUT,
  HT_LEGACY_SSE,
  HT_METRICS_PATH,
  HT_ALLOWED_ORIGINS,
  HT_ALLOWED_HOSTS,
  HT__N
};
static const pf__cfg_key http_keys[] = {
    {HT_HOST, "host", NULL, PF__T_STR, false},
    {HT_PORT, "port", NULL, PF__T_INT, false},
    {HT_PATH, "path", NULL, PF__T_STR, false},
    {HT_WORKERS, "workers", NULL, PF__T_INT, false},
    {HT_STATELESS, "stateless", NULL, PF__T_BOOL, false},
    {HT_RESPONSE, "response", NULL, PF__T_STR, false},
    {HT_SESSION_TTL, "session_ttl_s", NULL, PF__T_INT, false},
    {HT_MAX_SESSIONS, "max_sessions", NULL, PF__T_INT, false},
    {HT_MAX_BODY, "max_body", NULL, PF__T_INT, false},
    {HT_MAX_HEADER, "max_header", NULL, PF__T_INT, false},
    {HT_HEADER_TIMEOUT, "header_timeout_ms", NULL, PF__T_INT, false},
    {HT_IDLE_TIMEOUT, "idle_timeout_ms", NULL, PF__T_INT, false},
    {HT_BODY_TIMEOUT, "body_timeout_ms", NULL, PF__T_INT, false},
    {HT_SHUTDOWN_TIMEOUT, "shutdown_timeout_ms", NULL, PF__T_INT, false},
    {HT_SSE_RETRY, "sse_retry_ms", NULL, PF__T_INT, false},
    {HT_SSE_BUFFER, "sse_buffer", NULL, PF__T_INT, false},
    {HT_CALL_TIMEOUT, "call_timeout_ms", NULL, PF__T_INT, false},
    {HT_LEGACY_SSE, "legacy_sse", NULL, PF__T_BOOL, false},
    {HT_METRICS_PATH, "metrics_path", NULL, PF__T_STR, false},
    {HT_ALLOWED_ORIGINS, "allowed_origins", NULL, PF__T_LIST, false},
    {HT_ALLOWED_HOSTS, "allowed_hosts", NULL, PF__T_LIST, false},
};

/* The values of config.h, also when the block is absent. */
static void http_defaults(pf_cfg_http *h) {
  *h = (pf_cfg_http){
      .host = "127.0.0.1",
      .port = 3000,
      .path = "/mcp",
      .response = "auto",
      .session_ttl_s = 3600,
      .max_sessions = 10000,
      .max_body = (uint64_t)4 << 20,
      .max_header = 16384,
      .header_timeout_ms = 10000,
      .idle_timeout_ms = 60000,
      .body_timeout_ms = 30000,
      .shutdown_timeout_ms = 10000,
      .sse_retry_ms = 1000,
      .sse_buffer = 256,
      .call_timeout_ms = 60000,
      .legacy_sse = true,
      .metrics_path = "/metrics",
  };
}

static void http_u32(pf__cfg_ctx *c, const pf__cfg_val *v, int64_t lo, int64_t hi, uint32_t *out) {
  int64_t n;
  if (v->present && pf__cfg_int(c, v, lo, hi, &n))
    *out = (uint32_t)n;
}

static bool is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* host[:port] as in a Host header: a name or IPv4 address, or an IPv6
 * address in brackets; the port 1..65535. Returns the end, or NULL. */
static const char *skip_authority(const char *p) {
  const char *start;
  if (*p == '[') {
    start = ++p;
    while (is_digit(*p) || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') || *p == ':' ||
           *p == '.')
      p++;
    if (p == start || *p != ']')
      return NULL;
    p++;
  } else {
    start = p;
    while (is_alpha(*p) || is_digit(*p) || *p == '-' || *p == '.' || *p == '_')
      p++;
    if (p == start)
      return NULL;
  }
  if (*p == ':') {
    long port = 0;
    start = ++p;
    while (is_digit(*p) && p - start < 6)
      port = port * 10 + (*p++ - '0');
    if (p == start || port < 1 || port > 65535)
      return NULL;
  }
  return p;
}

static bool valid_host(const char *s) {
  if (strcmp(s, "*") == 0)
    return true;
  const char *e = skip_authority(s);
  return e && !*e;
}

/* scheme://host[:port], what a browser sends as Origin (no path, no
 * trailing slash), or "*". */
static bool valid_origin(const char *s) {
  if (strcmp(s, "*") == 0)
    return true;
  const char *p = s;
  if (!is_alpha(*p))
    return false;
  while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-' || *p == '.')
    p++;
  if (strncmp(p, "://", 3) != 0)
    return false;
  const char *e = skip_authority(p + 3);
  return e && !*e;
}

/* A list of strings, each checked by `valid`; the bad ones are reported
 * and left out. */
static void http_list(pf__cfg_ctx *c, const pf__cfg_val *v, bool (*valid)(const char *),
                      const char *what, const char *example, const char ***out, size_t *n) {
  if (!v->present || pf__cfg_count(v) == 0)
    return;
  size_t cnt;
  const char **arr = pf__cfg_alloc_items(c, v, sizeof *arr, &cnt);
  if (!arr)
    return;
  size_t i = 0, m = 0;
  for (pf__ynode *item = pf__y_items(v->node); item; item = item->next) {
    pf__cfg_val iv = pf__cfg_item(c, v, item, i++);
    const char *s = pf__cfg_str(c, &iv);
    if (!s)
      continue;
    if (!valid(s)) {
      pf__cfg_err(c, iv.loc, iv.path, "invalid %s '%s' (expected %s, or *)", what, s, example);
      continue;
    }
    arr[m++] = s;
  }
  *out = m ? arr : NULL;
  *n = m;
}

static void parse_http(pf__cfg_ctx *c, const pf__cfg_val *v) {
  static const char *const responses[] = {"auto", "json", "sse"};
  pf_cfg_http *h = &c->cfg->forge.http;
  h->present = true;
  h->loc = v->loc;
  pf__cfg_val k[HT__N];
  if (!pf__cfg_map(c, v, http_keys, PF__NELEM(http_keys), k, HT__N, NULL, NULL))
    return;
  const char *host = pf__cfg_str(c, &k[HT_HOST]);
  if (host && !*host)
    pf__cfg_err(c, k[HT_HOST].loc, k[HT_HOST].path, "host must not be empty");
  else if (host)
    h->host = host;
  /* 0 asks the system for a free port. */
  http_u32(c, &k[HT_PORT], 0, 65535, &h->port);
  const char *path = pf__cfg_str(c, &k[HT_PATH]);
  if (path) {
    const char *bad = path;
    while (*bad && *bad != '?' && *bad != '#' && (unsigned char)*bad > ' ' && *bad != 0x7f)
      bad++;
    if (path[0] != '/')
      pf__cfg_err(c, k[HT_PATH].loc, k[HT_PATH].path, "path '%s' must start with '/' (e.g. /mcp)",
                  path);
    else if (*bad)
      pf__cfg_err(c, k[HT_PATH].loc, k[HT_PATH].path,
                  "path '%s' must not contain '?', '#', spaces or control characters", path);
    else
      h->path = path;
  }
  http_u32(c, &k[HT_WORKERS], 0, 256, &h->workers);
  if (k[HT_STATELESS].present)
    h->stateless = pf__cfg_bool(c, &k[HT_STATELESS], h->stateless);
  h->response = pick(c, &k[HT_RESPONSE], responses, PF__NELEM(responses), h->response);
  http_u32(c, &k[HT_SESSION_TTL], 1, 31536000, &h->session_ttl_s);
  http_u32(c, &k[HT_MAX_SESSIONS], 1, 10000000, &h->max_sessions);
  int64_t n;
  if (k[HT_MAX_BODY].present && pf__cfg_int(c, &k[HT_MAX_BODY], 1024, 1073741824, &n))
    h->max_body = (uint64_t)n;
  http_u32(c, &k[HT_MAX_HEADER], 1024, 1048576, &h->max_header);
  http_u32(c, &k[HT_HEADER_TIMEOUT], 1, 86400000, &h->header_timeout_ms);
  http_u32(c, &k[HT_IDLE_TIMEOUT], 1, 86400000, &h->idle_timeout_ms);
  http_u32(c, &k[HT_BODY_TIMEOUT], 1, 86400000, &h->body_timeout_ms);
  http_u32(c, &k[HT_SHUTDOWN_TIMEOUT], 1, 86400000, &h->shutdown_timeout_ms);
  http_u32(c, &k[HT_SSE_RETRY], 1, 86400000, &h->sse_retry_ms);
  http_u32(c, &k[HT_SSE_BUFFER], 0, 1000000, &h->sse_buffer);
  http_u32(c, &k[HT_CALL_TIMEOUT], 1, 86400000, &h->call_timeout_ms);
  if (k[HT_LEGACY_SSE].present)
    h->legacy_sse = pf__cfg_bool(c, &k[HT_LEGACY_SSE], h->legacy_sse);
  if (k[HT_METRICS_PATH].present) {
    const char *mp = pf__cfg_str(c, &k[HT_METRICS_PATH]);
    if (mp && *mp && mp[0] != '/')
      pf__cfg_err(c, k[HT_METRICS_PATH].loc, k[HT_METRICS_PATH].path,
                  "metrics_path must start with '/' (or be \"\" to turn metrics off)");
    else if (mp)
      h->metrics_path = mp;
  }
  http_list(c, &k[HT_ALLOWED_ORIGINS], valid_origin, "origin",
            "scheme://host[:port], e.g. https://app.example.com", &h->allowed_origins,
            &h->nallowed_origins);
  http_list(c, &k[HT_ALLOWED_HOSTS], valid_host, "host", "host[:port], e.g. mcp.example.com:8443",
            &h->allowed_hosts, &h->nallowed_hosts);
}

static void parse_forge(pf__cfg_ctx *c, const pf__cfg_val *v) {
  static const char *const transports[] = {"stdio", "http", "sse", "websocket"};
  static const char *const optimizations[] = {"debug", "release"};
  static const char *const levels[] = {"debug", "info",     "notice", "warning",
                                       "error", "critical", "alert",  "emergency"};
  pf_cfg_forge *f = &c->cfg->forge;
  f->loc = v->loc;
  f->transport = "stdio";
  f->optimization = "debug";
  f->page_size = 100;
  f->resources_root = c->cfg->dir;
  http_defaults(&f->http);
  pf__cfg_val k[F__N];
  if (!pf__cfg_map(c, v, forge_keys, PF__NELEM(forge_keys), k, F__N, NULL, NULL))
    return;
  f->name = pf__cfg_str(c, &k[F_NAME]);
  f->version = pf__cfg_str(c, &k[F_VERSION]);
  if (f->name && !*f->name)
    pf__cfg_err(c, k[F_NAME].loc, k[F_NAME].path, "name must not be empty");
  f->title = pf__cfg_str(c, &k[F_TITLE]);
  f->description = pf__cfg_str(c, &k[F_DESCRIPTION]);
  f->instructions = pf__cfg_str(c, &k[F_INSTRUCTIONS]);
  f->icons_json = pf__cfg_icons(c, &k[F_ICONS]);
  f->website_url = pf__cfg_str(c, &k[F_WEBSITE_URL]);
  f->transport = pick(c, &k[F_TRANSPORT], transports, PF__NELEM(transports), f->transport);
  f->optimization =
      pick(c, &k[F_OPTIMIZATION], optimizations, PF__NELEM(optimizations), f->optimization);
  f->log_level = pick(c, &k[F_LOG_LEVEL], levels, PF__NELEM(levels), NULL);
  f->library = resolve(c, pf__cfg_str(c, &k[F_LIBRARY]));
  const char *root = pf__cfg_str(c, &k[F_RESOURCES_ROOT]);
  if (root)
    f->resources_root = resolve(c, root);
  int64_t n;
  if (k[F_PAGE_SIZE].present && pf__cfg_int(c, &k[F_PAGE_SIZE], 1, 10000, &n))
    f->page_size = (uint32_t)n;
  if (k[F_HTTP].present)
    parse_http(c, &k[F_HTTP]);
  if (k[F_DEFAULTS].present)
    parse_defaults(c, &k[F_DEFAULTS]);
}

/* ---- state ---- */

enum { ST_BACKEND, ST_PATH, ST_URL, ST_MAP_SIZE, ST_TTL, ST_MAX_SIZE, ST_OPTIONS, ST__N };
static const pf__cfg_key state_keys[] = {
    {ST_BACKEND, "backend", NULL, PF__T_STR, true},
    {ST_PATH, "path", NULL, PF__T_STR, false},
    {ST_URL, "url", NULL, PF__T_STR, false},
    {ST_MAP_SIZE, "map_size", NULL, PF__T_INT, false},
    {ST_TTL, "ttl_seconds", NULL, PF__T_INT, false},
    {ST_MAX_SIZE, "max_size", NULL, PF__T_INT, false},
    {ST_OPTIONS, "options", NULL, PF__T_MAP, false},
};

static void parse_state(pf__cfg_ctx *c, const pf__cfg_val *v) {
  static const char *const backends[] = {"memory", "lmdb", "redis", "sled"};
  pf_cfg_state *s = &c->cfg->state;
  s->present = true;
  s->loc = v->loc;
  pf__cfg_val k[ST__N];
  if (!pf__cfg_map(c, v, state_keys, PF__NELEM(state_keys), k, ST__N, NULL, NULL))
    return;
  int b = k[ST_BACKEND].present ? pf__cfg_enum(c, &k[ST_BACKEND], backends, 4, false) : -1;
  if (b == 3)
    b = 1; /* the original's embedded store; LMDB is ours */
  s->backend = b >= 0 ? backends[b] : NULL;
  /* `path` stays accepted for memory: the original required it always. */
  s->path = resolve(c, pf__cfg_str(c, &k[ST_PATH]));
  s->url = pf__cfg_str(c, &k[ST_URL]);
  /* Defaults, so that `state: {backend: lmdb}` or `{backend: redis}` is enough. */
  if (b == 1 && !k[ST_PATH].key)
    s->path = resolve(c, PF_STATE_DEFAULT_PATH);
  if (b == 2 && !k[ST_URL].key)
    s->url = PF_STATE_DEFAULT_URL;
  if (b == 1)
    s->map_size = PF_STATE_DEFAULT_MAP_SIZE;
  if (b >= 0 && b != 2 && k[ST_URL].key)
    pf__cfg_err(c, k[ST_URL].key_loc, v->path, "'url' applies to the redis backend only");
  if (b >= 0 && b != 1 && k[ST_MAP_SIZE].key)
    pf__cfg_err(c, k[ST_MAP_SIZE].key_loc, v->path, "'map_size' applies to the lmdb backend only");
  int64_t n;
  if (k[ST_MAP_SIZE].present && pf__cfg_int(c, &k[ST_MAP_SIZE], 1, INT64_MAX, &n))
    s->map_size = (uint64_t)n;
  if (k[ST_TTL].present && pf__cfg_int(c, &k[ST_TTL], 0, INT64_MAX, &n))
    s->ttl_seconds = (uint64_t)n;
  if (k[ST_MAX_SIZE].present && pf__cfg_int(c, &k[ST_MAX_SIZE], 0, INT64_MAX, &n))
    s->max_size = (uint64_t)n;
  if (k[ST_OPTIONS].present && pf__cfg_kind(k[ST_OPTIONS].node) == PF__Y_MAP)
    s->options_json = pf__cfg_json(c, &k[ST_OPTIONS]);
}

/* ---- root ---- */

enum { ROOT_FORGE, ROOT_TOOLS, ROOT_RESOURCES, ROOT_PROMPTS, ROOT_STATE, ROOT__N };
static const pf__cfg_key root_keys[] = {
    {ROOT_FORGE, "forge", NULL, PF__T_MAP, true},
    {ROOT_TOOLS, "tools", NULL, PF__T_LIST, false},
    {ROOT_RESOURCES, "resources", NULL, PF__T_LIST, false},
    {ROOT_PROMPTS, "prompts", NULL, PF__T_LIST, false},
    {ROOT_STATE, "state", NULL, PF__T_MAP, false},
};

static void parse_root(pf__cfg_ctx *c, pf__ynode *root) {
  pf_cfg_loc start = {c->file, 1, 1};
  pf__cfg_val rv = {.node = root, .loc = pf__cfg_loc(c, root, start), .path = "", .present = true};
  rv.key_loc = rv.loc;
  pf__ykind kind = pf__cfg_kind(root);
  if (kind != PF__Y_MAP) {
    pf__cfg_err(c, rv.loc, "", "expected a map with a 'forge' key at the top, got %s",
                pf__cfg_kind_name(kind));
    return;
  }
  pf__cfg_val k[ROOT__N];
  pf__cfg_map(c, &rv, root_keys, PF__NELEM(root_keys), k, ROOT__N, NULL, NULL);
  if (k[ROOT_FORGE].present)
    parse_forge(c, &k[ROOT_FORGE]);
  if (k[ROOT_STATE].present)
    parse_state(c, &k[ROOT_STATE]);
  /* what a tool without resilience keys of its own has (shared) */
  c->cfg->inherited_policy = (pf_cfg_policy){0};
  pf__cfg_policy_inherit(&c->cfg->inherited_policy, &c->cfg->forge.defaults);
  pf__cfg_tools(c, &k[ROOT_TOOLS]);
  pf__cfg_resources(c, &k[ROOT_RESOURCES]);
  pf__cfg_prompts(c, &k[ROOT_PROMPTS]);
}

/* ---- YAML ---- */

static void yaml_error(void *ud, uint32_t line, uint32_t col, const char *msg) {
  pf__cfg_ctx *c = ud;
  pf__cfg_err(c, (pf_cfg_loc){c->file, line, col}, "(yaml)", "%s", msg);
}

/* libfyaml: every YAML file, with its diagnostics for syntax errors. */
static void parse_yaml_full(pf__cfg_ctx *c, const char *text, size_t len) {
  pf__yaml_doc d;
  if (!pf__yaml_full(c->scratch, text, len, &d, yaml_error, c, &c->oom) || c->oom)
    return;
  if (!d.root) {
    pf__cfg_err(c, (pf_cfg_loc){c->file, 1, 1}, "",
                "the file is empty (expected a map with a 'forge' key)");
  } else if (d.has_extra) {
    pf_cfg_loc at = pf__cfg_loc(c, d.extra, (pf_cfg_loc){c->file, 1, 1});
    pf__cfg_err(c, at, "(yaml)", "only one YAML document is allowed ('---' starts another)");
  } else {
    parse_root(c, d.root);
  }
}

static void parse_yaml(pf__cfg_ctx *c, const char *text, size_t len) {
  pf__ynode *root = pf__yaml_fast(c->scratch, text, len, &c->oom);
  if (root)
    parse_root(c, root);
  else if (!c->oom)
    parse_yaml_full(c, text, len);
}

/* ---- entry points ---- */

static int by_position(const void *a, const void *b) {
  const pf__cfg_diag *const *x = a, *const *y = b;
  uint32_t xl, xc, yl, yc;
  pf__cfg_diag_text(*x, &xl, &xc);
  pf__cfg_diag_text(*y, &yl, &yc);
  if (xl != yl)
    return xl < yl ? -1 : 1;
  if (xc != yc)
    return xc < yc ? -1 : 1;
  /* Same position: keep the order of discovery (pointers grow with it). */
  return (uintptr_t)*x < (uintptr_t)*y ? -1 : (uintptr_t)*x > (uintptr_t)*y;
}

static void emit_diags(pf__cfg_ctx *c, pf_buf *out) {
  if (!out || !c->ndiags)
    return;
  const pf__cfg_diag **list = pf_arena_alloc(c->scratch, c->ndiags * sizeof *list);
  if (!list) {
    c->oom = true;
    return;
  }
  size_t n = pf__cfg_diag_list(c, list, c->ndiags);
  qsort(list, n, sizeof *list, by_position);
  for (size_t i = 0; i < n; i++) {
    uint32_t l, col;
    pf_buf_puts(out, pf__cfg_diag_text(list[i], &l, &col));
    pf_buf_putc(out, '\n');
  }
}

int pf_config_load_text(const char *name, const char *text, size_t len, pf_config **out,
                        pf_buf *diag) {
  *out = NULL;
  if (!name)
    name = "<text>";
  pf_arena *a = pf_arena_create(0);
  pf_arena *scratch = pf_arena_create(0);
  pf_arena *pa = pf_arena_create(0);
  pf_config *cfg = a ? pf_arena_calloc(a, 1, sizeof *cfg) : NULL;
  if (!cfg || !scratch || !pa) {
    pf_arena_destroy(a);
    pf_arena_destroy(scratch);
    pf_arena_destroy(pa);
    return -PF_ENOMEM;
  }
  cfg->arena = a;
  cfg->params_arena = pa;
  pf__cfg_ctx c = {.cfg = cfg, .a = a, .scratch = scratch};
  c.file = pf__cfg_strdup(&c, name, strlen(name));
  cfg->path = c.file;
  const char *slash = c.file ? strrchr(c.file, '/') : NULL;
  cfg->dir =
      slash ? (slash == c.file ? "/" : pf__cfg_strdup(&c, c.file, (size_t)(slash - c.file))) : ".";
  if (c.oom) {
    pf_config_free(cfg);
    pf_arena_destroy(scratch);
    return -PF_ENOMEM;
  }
  cfg->forge.resources_root = cfg->dir;
  /* libfyaml stops at a NUL as if the file ended there. */
  const char *nul = memchr(text, '\0', len);
  if (nul) {
    uint32_t line = 1, col = 1;
    for (const char *q = text; q < nul; q++)
      col = *q == '\n' ? (line++, 1) : col + 1;
    pf__cfg_err(&c, (pf_cfg_loc){c.file, line, col}, "(yaml)",
                "a NUL byte in the file (is it a binary file?)");
  } else {
    parse_yaml(&c, text, len);
  }
  emit_diags(&c, diag);
  int rc = c.oom ? -PF_ENOMEM : c.ndiags ? -PF_ECONFIG : 0;
  pf_arena_destroy(scratch);
  if (rc) {
    pf_config_free(cfg);
    return rc;
  }
  *out = cfg;
  return 0;
}

int pf_config_load(const char *path, pf_config **out, pf_buf *diag) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (diag)
      pf_buf_printf(diag, "%s: cannot open: %s\n", path, strerror(errno));
    return -PF_EIO;
  }
  size_t cap = 8192, len = 0;
  char *buf = pf__malloc(cap);
  int rc = 0;
  while (buf) {
    size_t r = fread(buf + len, 1, cap - len, f);
    len += r;
    if (r == 0)
      break;
    if (len == cap) {
      char *nb = pf__realloc(buf, cap * 2);
      if (!nb) {
        pf__free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  if (!buf) {
    rc = -PF_ENOMEM;
  } else if (ferror(f)) {
    if (diag)
      pf_buf_printf(diag, "%s: cannot read: %s\n", path, strerror(errno));
    rc = -PF_EIO;
  }
  fclose(f);
  if (rc == 0)
    rc = pf_config_load_text(path, buf, len, out, diag);
  pf__free(buf);
  return rc;
}

void pf_config_free(pf_config *cfg) {
  if (cfg) {
    pf_arena_destroy(cfg->params_arena);
    pf_arena_destroy(cfg->arena);
  }
}

void pf__config_drop_params(pf_config *cfg) {
  for (size_t i = 0; i < cfg->ntools; i++)
    cfg->tools[i].build = &pf__cfg_tool_build_dropped;
  pf_arena_destroy(cfg->params_arena);
  cfg->params_arena = NULL;
}

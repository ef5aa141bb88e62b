/* JSON-RPC 2.0 framing, lifecycle and method dispatch for one client. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/log.h"
#include "json/internal.h"
#include "mcp/internal.h"
#include "schema/validator.h"

const char *const pf__proto_names[PF_PROTO__COUNT] = {"2024-11-05", "2025-03-26", "2025-06-18",
                                                      "2025-11-25"};

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */

/* `{"jsonrpc":"2.0","id":<id>`: an integer id, the usual kind, is written
 * straight into the one reservation; id_text, when given, is the id
 * already written as JSON. */
void pf__rpc_open(pf_buf *out, const pf_json *id, const char *id_text) {
  static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
  if (id_text) {
    pf_buf_append(out, head, sizeof head - 1);
    pf_buf_puts(out, id_text);
    return;
  }
  if (pf_buf_reserve(out, sizeof head - 1 + 21) != 0)
    return;
  char *o = out->data + out->len;
  memcpy(o, head, sizeof head - 1);
  o += sizeof head - 1;
  if (id && id->type == PF_JSON_INT) {
    uint64_t u = (uint64_t)id->v.i;
    if (id->v.i < 0) {
      *o++ = '-';
      u = (uint64_t)0 - u;
    }
    out->len = (size_t)(o - out->data) + pf__json_fmt_u64(u, o);
  } else if (!id) {
    memcpy(o, "null", 4);
    out->len = (size_t)(o - out->data) + 4;
  } else {
    out->len = (size_t)(o - out->data);
    pf_json_writer w;
    pf_jw_init(&w, out);
    pf_jw_value(&w, id);
  }
}

/* `{"jsonrpc":"2.0","id":<id>,` */
void pf__rpc_head(pf_buf *out, const pf_json *id) {
  pf__rpc_open(out, id, NULL);
  pf_buf_putc(out, ',');
}

void pf__rpc_error(pf_buf *out, const pf_json *id, int code, const char *msg,
                   const char *data_json) {
  pf__rpc_head(out, id);
  pf_json_writer w;
  pf_jw_init(&w, out);
  PF_JW_KEY(&w, "error");
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "code");
  pf_jw_int(&w, code);
  PF_JW_KEY(&w, "message");
  pf_jw_strz(&w, msg);
  if (data_json) {
    PF_JW_KEY(&w, "data");
    pf_jw_raw(&w, data_json, strlen(data_json));
  }
  pf_jw_obj_end(&w);
  pf_buf_append(out, "}\n", 2);
}

void pf__rpc_errorf(pf_buf *out, const pf_json *id, int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  pf__rpc_error(out, id, code, msg, NULL);
}

/* `{"jsonrpc":"2.0","id":<id>,"result":` + raw + `}\n` */
void pf__rpc_result_raw(pf_buf *out, const pf_json *id, const char *json, size_t len) {
  pf__rpc_head(out, id);
  pf_buf_append(out, "\"result\":", 9);
  pf_buf_append(out, json, len);
  pf_buf_append(out, "}\n", 2);
}

/* ------------------------------------------------------------------ */
/* Session lifecycle                                                   */

/* Per-thread scratch: a session may be handled by several HTTP workers at
 * once, so the per-message arena and buffers belong to the thread. */
static _Thread_local pf__scratch *tls_scratch;

/* The first use on a thread (apart, so the common path saves no registers). */
static __attribute__((noinline, cold)) pf__scratch *scratch_make(void) {
  pf__scratch *sc = pf__malloc(sizeof *sc);
  if (!sc)
    return NULL;
  memset(sc, 0, sizeof *sc);
  sc->arena = pf_arena_create(64 * 1024);
  if (!sc->arena) {
    pf__free(sc);
    return NULL;
  }
  sc->shapes = pf__json_shapes_new(); /* an optimization: none if out of memory */
  tls_scratch = sc;
  return sc;
}

pf__scratch *pf__scratch_get(void) {
  pf__scratch *sc = tls_scratch;
  return __builtin_expect(sc != NULL, 1) ? sc : scratch_make();
}

void pf__scratch_release(void) {
  pf__scratch *sc = tls_scratch;
  if (!sc)
    return;
  pf_buf_free(&sc->content);
  pf_buf_free(&sc->structured);
  pf_arena_destroy(sc->arena);
  pf__json_shapes_free(sc->shapes);
  pf__free(sc);
  tls_scratch = NULL;
}

pf__session *pf__session_create(pf_server *srv, uv_loop_t *loop, const pf__route *route) {
  pf__session *s = pf__malloc(sizeof *s);
  if (!s)
    return NULL;
  memset(s, 0, sizeof *s);
  if (uv_mutex_init(&s->lock) != 0) {
    pf__free(s);
    return NULL;
  }
  s->srv = srv;
  s->loop = loop;
  if (route)
    s->route = *route;
  atomic_init(&s->state, 0);
  atomic_init(&s->proto, PF_PROTO_2025_11_25);
  atomic_init(&s->log_level, PF_LEVEL_INFO);
  atomic_init(&s->refs, 1);
  uv_mutex_lock(&srv->sessions_lock);
  s->next = srv->sessions;
  srv->sessions = s;
  uv_mutex_unlock(&srv->sessions_lock);
  return s;
}

pf__session *pf__session_create_stateless(pf_server *srv, uv_loop_t *loop, const pf__route *route) {
  pf__session *s = pf__session_create(srv, loop, route);
  if (s) {
    s->stateless = true;
    atomic_store(&s->state, 2);
  }
  return s;
}

void pf__session_ref(pf__session *s) { atomic_fetch_add(&s->refs, 1); }

void pf__session_unref(pf__session *s) {
  if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
    return;
  pf__outreq_release_all(s); /* requests whose handlers gave up on a cancelled call */
  for (size_t i = 0; i < s->nsubs; i++)
    pf__free(s->subs[i]);
  pf__free(s->subs);
  uv_mutex_destroy(&s->lock);
  pf__free(s);
}

void pf__session_destroy(pf__session *s) {
  if (!s)
    return;
  pf_server *srv = s->srv;
  uv_mutex_lock(&srv->sessions_lock);
  for (pf__session **pp = &srv->sessions; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  uv_mutex_unlock(&srv->sessions_lock);
  uv_mutex_lock(&s->lock);
  s->closed = true;
  uv_mutex_unlock(&s->lock);
  pf__session_cancel_all(s);
  pf__session_unref(s);
}

size_t pf__session_pending(pf__session *s) {
  uv_mutex_lock(&s->lock);
  size_t n = s->npending;
  uv_mutex_unlock(&s->lock);
  return n;
}

void pf__session_cancel_all(pf__session *s) {
  pf__async_cancel_all(s);
  pf__outreq_cancel_all(s);
}

void pf__session_too_large(pf__session *s, size_t limit, pf_buf *out) {
  (void)s;
  pf__rpc_errorf(out, NULL, -32600, "Invalid Request: message exceeds the %zu-byte limit", limit);
}

/* ------------------------------------------------------------------ */
/* Methods                                                             */

static void init_result(pf__session *s, const pf_json *id, pf__proto proto, pf_buf *out) {
  pf__rpc_head(out, id);
  static const char pv[] = "\"result\":{\"protocolVersion\":\"";
  pf_buf_append(out, pv, sizeof pv - 1);
  pf_buf_puts(out, pf__proto_names[proto]);
  pf_buf_putc(out, '"');
  const pf_buf *rest = &s->srv->init_rest[proto];
  pf_buf_append(out, rest->data, rest->len);
  pf_buf_append(out, "}}\n", 3);
}

static pf__proto proto_of(const char *ver, size_t vlen) {
  /* A supported version is echoed; any other gets our latest, and the
   * client decides whether it can speak it. */
  for (int i = 0; i < PF_PROTO__COUNT; i++)
    if (strlen(pf__proto_names[i]) == vlen && memcmp(pf__proto_names[i], ver, vlen) == 0)
      return (pf__proto)i;
  return PF_PROTO__COUNT - 1;
}

static void initialize_stateless(pf__session *s, const pf_json *id, const pf_json *params,
                                 pf_buf *out) {
  size_t vlen;
  const char *ver = pf_json_str(pf_json_get(params, "protocolVersion"), &vlen);
  if (!ver) {
    pf__rpc_error(out, id, -32602, "Invalid params: initialize needs a protocolVersion string",
                  NULL);
    return;
  }
  init_result(s, id, proto_of(ver, vlen), out);
}

static void m_initialize(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out) {
  if (s->stateless) {
    initialize_stateless(s, id, params, out);
    return;
  }
  if (s->state != 0) {
    pf__rpc_error(out, id, -32600, "Invalid Request: the session is already initialized", NULL);
    return;
  }
  size_t vlen;
  const char *ver = pf_json_str(pf_json_get(params, "protocolVersion"), &vlen);
  if (!ver) {
    pf__rpc_error(out, id, -32602, "Invalid params: initialize needs a protocolVersion string",
                  NULL);
    return;
  }
  pf__proto proto = proto_of(ver, vlen);
  const pf_json *caps = pf_json_get(params, "capabilities");
  const pf_json *sampling = pf_json_get(caps, "sampling");
  const pf_json *elicit = pf_json_get(caps, "elicitation");
  uv_mutex_lock(&s->lock);
  if (atomic_load(&s->state) != 0) { /* a concurrent initialize won */
    uv_mutex_unlock(&s->lock);
    pf__rpc_error(out, id, -32600, "Invalid Request: the session is already initialized", NULL);
    return;
  }
  s->proto = proto;
  s->cap_sampling = sampling != NULL;
  s->cap_sampling_tools = pf_json_get(sampling, "tools") != NULL;
  /* `elicitation: {}` means form mode (2025-06-18); 2025-11-25 may list
   * the modes */
  bool form = pf_json_get(elicit, "form") != NULL, url = pf_json_get(elicit, "url") != NULL;
  s->cap_elicitation_form = elicit && (form || !url);
  s->cap_elicitation_url = url;
  s->cap_roots = pf_json_get(caps, "roots") != NULL;
  s->state = 1;
  uv_mutex_unlock(&s->lock);
  init_result(s, id, proto, out);
}

static void m_ping(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out) {
  (void)s;
  (void)params;
  pf__rpc_result_raw(out, id, "{}", 2);
}

static void m_set_level(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out) {
  size_t len;
  const char *lv = pf_json_str(pf_json_get(params, "level"), &len);
  int l = lv ? pf__level_parse(lv, len) : -1;
  if (l < 0) {
    pf__rpc_error(out, id, -32602,
                  "Invalid params: level must be one of debug, info, notice, warning, error, "
                  "critical, alert, emergency",
                  NULL);
    return;
  }
  if (!s->stateless) /* independent requests share a stateless session */
    s->log_level = (pf_level)l;
  pf__rpc_result_raw(out, id, "{}", 2);
}

/* Cursors are opaque to clients: base64 of "pforge:<page>". */
int pf__cursor_page(const pf_json *params, size_t npages, size_t *page) {
  const pf_json *c = pf_json_get(params, "cursor");
  *page = 0;
  if (!c || pf_json_typeof(c) == PF_JSON_NULL)
    return 0;
  size_t len;
  const char *t = pf_json_str(c, &len);
  if (!t)
    return -1;
  pf_buf dec = PF_BUF_INIT;
  int rc = -1;
  if (pf__base64_decode(&dec, t, len) == 0 && dec.len > 7 && dec.len < 20 &&
      memcmp(dec.data, "pforge:", 7) == 0) {
    char num[16];
    memcpy(num, dec.data + 7, dec.len - 7);
    num[dec.len - 7] = 0;
    char *end;
    unsigned long p = strtoul(num, &end, 10);
    if (*end == 0 && p > 0 && p < npages) {
      *page = p;
      rc = 0;
    }
  }
  pf_buf_free(&dec);
  return rc;
}

static void list(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out,
                 const pf__pages *pages) {
  size_t page;
  if (pf__cursor_page(params, pages->npages, &page) != 0) {
    pf__rpc_error(out, id, -32602, "Invalid params: invalid cursor", NULL);
    return;
  }
  const pf__page *pg = &pages->pages[s->proto][page];
  pf__rpc_result_raw(out, id, pg->json, pg->len);
}

/* Reads the current pages of a list as a counted reader (see build_pages
 * in server.c: a rebuild frees the old pages only when no one reads). */
static void list_current(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out,
                         _Atomic(pf__pages *) *cur) {
  atomic_fetch_add(&s->srv->page_readers, 1);
  list(s, id, params, out, atomic_load(cur));
  atomic_fetch_sub(&s->srv->page_readers, 1);
}

static void m_tools_list(pf__session *s, const pf_json *id, const pf_json *p, pf_buf *out) {
  list_current(s, id, p, out, &s->srv->tools_pages);
}
static void m_resources_list(pf__session *s, const pf_json *id, const pf_json *p, pf_buf *out) {
  list_current(s, id, p, out, &s->srv->resources_pages);
}
static void m_templates_list(pf__session *s, const pf_json *id, const pf_json *p, pf_buf *out) {
  list_current(s, id, p, out, &s->srv->templates_pages);
}
static void m_prompts_list(pf__session *s, const pf_json *id, const pf_json *p, pf_buf *out) {
  list_current(s, id, p, out, &s->srv->prompts_pages);
}

typedef void (*method_fn)(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out);

static const struct method {
  const char *name;
  method_fn fn;
} methods[] = {
    {"initialize", m_initialize},
    {"ping", m_ping},
    {"tools/list", m_tools_list},
    {"tools/call", pf__m_tools_call},
    {"resources/list", m_resources_list},
    {"resources/templates/list", m_templates_list},
    {"resources/read", pf__m_resources_read},
    {"resources/subscribe", pf__m_resources_subscribe},
    {"resources/unsubscribe", pf__m_resources_unsubscribe},
    {"prompts/list", m_prompts_list},
    {"prompts/get", pf__m_prompts_get},
    {"logging/setLevel", m_set_level},
    {"completion/complete", pf__m_complete},
};
#define NMETHODS (sizeof methods / sizeof methods[0])

static pf__registry method_reg;
static const char *method_names[NMETHODS];
static size_t method_lens[NMETHODS];
static uv_once_t method_once = UV_ONCE_INIT;

static void build_methods(void) {
  for (size_t i = 0; i < NMETHODS; i++) {
    method_names[i] = methods[i].name;
    method_lens[i] = strlen(methods[i].name);
  }
  if (pf__registry_build(&method_reg, method_names, method_lens, NMETHODS) != 0)
    abort(); /* a fixed table of distinct names cannot fail but for OOM at start */
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

static int valid_id(const pf_json *id) {
  pf_json_type t = pf_json_typeof(id);
  return t == PF_JSON_STRING || t == PF_JSON_INT || t == PF_JSON_UINT;
}

static void notification(pf__session *s, const char *m, size_t len, const pf_json *params) {
  if (len == 25 && memcmp(m, "notifications/initialized", 25) == 0) {
    int one_ = 1;
    atomic_compare_exchange_strong(&s->state, &one_, 2);
  } else if (len == 23 && memcmp(m, "notifications/cancelled", 23) == 0) {
    pf__async_cancel(s, pf_json_get(params, "requestId"));
  }
  /* Other notifications (roots/list_changed, progress, unknown ones) need
   * no action, and a notification never gets a response. */
}

/* m: a message; sc: this thread's scratch; token: the shape m was read
 * through (pf__json_shapes_last), 0 if none. */
static void one(pf__session *s, const pf_json *m, pf_buf *out, pf__scratch *sc, uint64_t token) {
  sc->cur = NULL;
  if (pf_json_typeof(m) != PF_JSON_OBJECT) {
    pf__rpc_error(out, NULL, -32600, "Invalid Request: a message must be a JSON object", NULL);
    return;
  }
  const pf_json *idv = NULL, *verv = NULL, *methv = NULL, *params = NULL;
  bool has_reply = false;
  pf__msg_memo *mm = NULL;
  if (token) {
    mm = &sc->memo[token % 4];
    if (mm->token == token) { /* laid out like a message seen before */
      idv = mm->id ? m + mm->id : NULL;
      verv = mm->ver ? m + mm->ver : NULL;
      methv = mm->method ? m + mm->method : NULL;
      params = mm->params ? m + mm->params : NULL;
      has_reply = mm->reply;
      goto members;
    }
  }
  /* one pass over the members instead of a lookup per field (the parser
   * has already rejected duplicate keys) */
  /* straight from the node array: key, value, next key */
  const pf_json *k = m + 1, *v;
  for (uint32_t im = 0; im < m->len; im++, k = v + pf__json_span(v)) {
    v = k + 1;
    size_t kl = k->len;
    const char *ks = k->v.s;
    switch (kl) {
    case 2:
      if (memcmp(ks, "id", 2) == 0)
        idv = v;
      break;
    case 5:
      if (memcmp(ks, "error", 5) == 0)
        has_reply = true;
      break;
    case 6:
      if (memcmp(ks, "method", 6) == 0)
        methv = v;
      else if (memcmp(ks, "params", 6) == 0)
        params = v;
      else if (memcmp(ks, "result", 6) == 0)
        has_reply = true;
      break;
    case 7:
      if (memcmp(ks, "jsonrpc", 7) == 0)
        verv = v;
      break;
    default: break;
    }
  }
  if (mm) {
    *mm = (pf__msg_memo){.token = token,
                         .id = (uint8_t)(idv ? idv - m : 0),
                         .ver = (uint8_t)(verv ? verv - m : 0),
                         .method = (uint8_t)(methv ? methv - m : 0),
                         .params = (uint8_t)(params ? params - m : 0),
                         .reply = has_reply,
                         .mi = -1};
  }
members:;
  const pf_json *id = valid_id(idv) ? idv : NULL;
  size_t vlen;
  const char *ver = pf_json_str(verv, &vlen);
  if (!ver || vlen != 3 || memcmp(ver, "2.0", 3) != 0) {
    pf__rpc_error(out, id, -32600, "Invalid Request: jsonrpc must be \"2.0\"", NULL);
    return;
  }
  size_t mlen;
  const char *method = pf_json_str(methv, &mlen);
  if (!method) {
    if (has_reply) {
      pf__client_response(s, m);
      return;
    }
    pf__rpc_error(out, id, -32600, "Invalid Request: method must be a string", NULL);
    return;
  }
  if (idv && !id) {
    pf__rpc_error(out, NULL, -32600, "Invalid Request: id must be a string or an integer", NULL);
    return;
  }
  if (params && pf_json_typeof(params) != PF_JSON_OBJECT) {
    if (id)
      pf__rpc_error(out, id, -32602, "Invalid params: params must be an object", NULL);
    return;
  }
  if (!id) {
    notification(s, method, mlen, params);
    return;
  }
  /* a shape's "method" string is part of its literal text (the parser's
   * shape_learn), so every message of the shape names the same method */
  long mi = mm && mm->mi >= 0 ? mm->mi : pf__registry_find(&method_reg, method, mlen);
  if (mi < 0) {
    pf__rpc_errorf(out, id, -32601, "Method not found: %.*s", (int)(mlen > 200 ? 200 : mlen),
                   method);
    return;
  }
  if (mm)
    mm->mi = (int16_t)mi;
  if (s->state == 0 && methods[mi].fn != m_initialize && methods[mi].fn != m_ping) {
    pf__rpc_error(out, id, -32600,
                  "Invalid Request: the session is not initialized (send initialize first)", NULL);
    return;
  }
  sc->cur = mm;
  methods[mi].fn(s, id, params, out);
  sc->cur = NULL;
}

static bool is_notification_line(const char *line, size_t len) {
  static const char prefix[] = "{\"jsonrpc\":\"2.0\",\"method\"";
  return len >= sizeof prefix - 1 && memcmp(line, prefix, sizeof prefix - 1) == 0;
}

void pf__session_handle(pf__session *s, char *msg, size_t len, pf_buf *out) {
  pf__session_handle_ctx(s, msg, len, out, NULL);
}

void pf__session_handle_ctx(pf__session *s, char *msg, size_t len, pf_buf *out, pf__msgctx *ctx) {
  uv_once(&method_once, build_methods);
  pf__scratch *sc = pf__scratch_get();
  if (!sc) {
    pf__rpc_error(out, NULL, -32603, "Internal error: out of memory", NULL);
    return;
  }
  pf__msgctx local = {.loop = NULL};
  if (!ctx)
    ctx = &local;
  if (!ctx->loop)
    ctx->loop = s->loop;
  if (!ctx->route && !ctx->make_route)
    ctx->route = &s->route;
  sc->ctx = ctx;
  pf_arena_reset(sc->arena);
  pf_json_opts opts = {PF_JSON_MAX_DEPTH_DEFAULT, s->srv->max_message, PF_JSON_DUP_REJECT};
  pf_json_error err;
  const pf_json *root = pf__json_parse_msg(msg, len, sc->arena, &opts, &err, sc->shapes);
  if (!root) {
    if (err.code == -PF_ENOMEM) {
      pf__rpc_error(out, NULL, -32603, "Internal error: out of memory", NULL);
      return;
    }
    char text[256];
    snprintf(text, sizeof text, "Parse error: %s at byte %zu", err.msg, err.offset);
    pf__rpc_error(out, NULL, -32700, text, NULL);
    return;
  }
  if (pf_json_typeof(root) == PF_JSON_ARRAY) {
    /* JSON-RPC batches exist only in protocol revision 2025-03-26. */
    if (s->state == 0 || s->proto != PF_PROTO_2025_03_26) {
      pf__rpc_error(out, NULL, -32600,
                    "Invalid Request: batches are only allowed with protocol version 2025-03-26",
                    NULL);
      return;
    }
    size_t n = pf_json_len(root);
    if (n == 0 || n > PF_MAX_BATCH) {
      pf__rpc_error(out, NULL, -32600,
                    n ? "Invalid Request: batch too large" : "Invalid Request: empty batch", NULL);
      return;
    }
    /* Collect the lines of the members, then join them into one array. */
    size_t start = out->len;
    pf_json_iter it = pf_json_iter_init(root);
    const pf_json *m;
    while (pf_json_iter_next(&it, NULL, &m))
      one(s, m, out, sc, 0);
    if (out->failed || out->len == start)
      return;
    /* Responses become array elements; notifications inside a batch (a
     * progress line) must not be mixed in: keep them as lines before. */
    size_t n_out = out->len - start;
    char *copy = pf__malloc(n_out);
    if (!copy) {
      out->len = start;
      pf__rpc_error(out, NULL, -32603, "Internal error: out of memory", NULL);
      return;
    }
    memcpy(copy, out->data + start, n_out);
    out->len = start;
    /* notifications first */
    for (size_t i = 0; i < n_out;) {
      char *nl = memchr(copy + i, '\n', n_out - i);
      size_t l = (size_t)(nl - (copy + i));
      if (is_notification_line(copy + i, l))
        pf_buf_append(out, copy + i, l + 1);
      i += l + 1;
    }
    pf_buf_putc(out, '[');
    bool first = true;
    for (size_t i = 0; i < n_out;) {
      char *nl = memchr(copy + i, '\n', n_out - i);
      size_t l = (size_t)(nl - (copy + i));
      if (!is_notification_line(copy + i, l)) {
        if (!first)
          pf_buf_putc(out, ',');
        pf_buf_append(out, copy + i, l);
        first = false;
      }
      i += l + 1;
    }
    pf_buf_append(out, "]\n", 2);
    if (first) /* only notifications were produced: no array */
      out->len -= 3;
    pf__free(copy);
    return;
  }
  one(s, root, out, sc, pf__json_shapes_last(sc->shapes));
}

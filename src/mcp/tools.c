/* tools/call: argument validation, native handlers (inline or on the thread
 * pool), result assembly, output-schema checks, cancellation. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "json/internal.h"
#include "mcp/internal.h"
#include "schema/validator.h"

/* `{}` as the parser builds it (a container's v.u counts its nodes). A
 * static node: an arena allocated once per process was reported as a leak. */
static const struct pf_json empty_object = {PF_JSON_OBJECT, 0, {.u = 1}};
const pf_json *pf__empty_object = &empty_object;

/* Appends the tools/call result for a finished call to out. */
static void write_result(pf_call *c, const pf_json *id, const char *id_text, pf_buf *out) {
  const pf__tool *t = c->tool;
  bool structured = c->has_structured && !c->is_error;
  if (structured && c->structured->failed) {
    pf_buf_reset(c->content);
    c->nblocks = 0;
    pf_result_error(c, "Tool '%s' failed: out of memory", t->name);
    structured = false;
  }
  if (structured) {
    /* The handler wrote structuredContent itself: make sure it is one
     * complete JSON value before it goes into the response, and the client
     * validates it against outputSchema: catch a handler's mistake here,
     * with a message that names it. */
    pf_json_error jerr;
    const pf_json *v =
        pf_json_parse_copy(c->structured->data, c->structured->len, c->arena, NULL, &jerr);
    pf_buf msg = PF_BUF_INIT;
    if (!v) {
      pf_buf_reset(c->content);
      c->nblocks = 0;
      pf_result_error(c, "Tool '%s' produced invalid structured output: %s at byte %zu", t->name,
                      jerr.msg, jerr.offset);
      structured = false;
    } else if (t->output && pf_validator_check(t->output, v, &msg) != 0) {
      pf_buf_reset(c->content);
      c->nblocks = 0;
      pf_result_error(c, "Tool '%s' output does not match its outputSchema: %s", t->name,
                      pf_buf_cstr(&msg));
      structured = false;
    }
    pf_buf_free(&msg);
  } else if (!structured && t->output && !c->is_error) {
    pf_buf_reset(c->content);
    c->nblocks = 0;
    pf_result_error(c, "Tool '%s' declares an outputSchema but returned no structured content",
                    t->name);
  }
  if (structured && c->nblocks == 0)
    pf_result_text(c, c->structured->data, c->structured->len);

  static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
  pf_buf_append(out, head, sizeof head - 1);
  if (id_text) {
    pf_buf_puts(out, id_text);
  } else {
    pf_json_writer w;
    pf_jw_init(&w, out);
    pf_jw_value(&w, id);
  }
  static const char mid[] = ",\"result\":{\"content\":[";
  pf_buf_append(out, mid, sizeof mid - 1);
  pf_buf_append(out, c->content->data, c->content->len);
  pf_buf_putc(out, ']');
  if (structured) {
    pf_buf_append(out, ",\"structuredContent\":", 21);
    pf_buf_append(out, c->structured->data, c->structured->len);
  }
  if (c->is_error)
    pf_buf_append(out, ",\"isError\":true", 15);
  pf_buf_append(out, "}}\n", 3);
}

/* After a handler returned rc. */
static void settle(pf_call *c, int rc) {
  if (rc < 0 && !c->is_error) {
    pf_buf_reset(c->content);
    c->nblocks = 0;
    c->has_structured = false;
    pf_result_error(c, "Tool '%s' failed: %s", c->tool->name, pf_strerror(rc));
  }
  if (c->content->failed) {
    pf_buf_reset(c->content);
    c->nblocks = 0;
    c->has_structured = false;
    pf_result_error(c, "Tool '%s' failed: out of memory", c->tool->name);
  }
}

/* ------------------------------------------------------------------ */
/* Blocking tools: run on the libuv thread pool                        */

typedef struct pf__async {
  uv_work_t work;
  pf__session *s;         /* a reference, dropped when the call is freed */
  struct pf__async *next; /* in s->inflight [s->lock] */
  pf__route route;        /* where progress, requests and the response go */
  pf_arena *arena;
  pf_buf content, structured, notify;
  uv_mutex_t lock; /* guards notify while the handler runs */
  uv_async_t wake; /* the handler wrote to notify */
  bool has_lock, has_wake, linked;
  pf_call call;
  char *id_text;
  int rc;
  /* Loop kinds (pf__tool.start): no work request; the kind completes the
   * call with pf__async_complete on the loop thread. */
  bool loop_kind, cancel_called;
  void (*cancel_fn)(void *ud);
  void *cancel_ud;
} pf__async;

static void async_work(uv_work_t *w) {
  pf__async *a = w->data;
  a->rc = a->call.tool->fn(&a->call);
}

static void async_release(pf__async *a) {
  pf_buf_free(&a->content);
  pf_buf_free(&a->structured);
  pf_buf_free(&a->notify);
  if (a->has_lock)
    uv_mutex_destroy(&a->lock);
  if (a->route.release)
    a->route.release(a->route.ud);
  pf__session_unref(a->s);
  pf_arena_destroy(a->arena);
  pf__free(a);
}

static void async_closed(uv_handle_t *h) { async_release(h->data); }

static void async_free(pf__async *a) {
  if (a->has_wake)
    uv_close((uv_handle_t *)&a->wake, async_closed);
  else
    async_release(a);
}

static bool session_open(pf__session *s) {
  uv_mutex_lock(&s->lock);
  bool open = !s->closed;
  uv_mutex_unlock(&s->lock);
  return open;
}

/* Loop thread: sends the progress, log and request lines the running
 * handler has written so far (none once the call is cancelled or the
 * session closed), and carries out pf_stream_close. */
static void async_wake(uv_async_t *h) {
  pf__async *a = h->data;
  uv_mutex_lock(&a->lock);
  pf_buf lines = a->notify;
  a->notify = (pf_buf)PF_BUF_INIT;
  uv_mutex_unlock(&a->lock);
  bool live = !atomic_load(&a->call.cancelled) && session_open(a->s);
  if (a->loop_kind && !live && !a->cancel_called && a->cancel_fn) {
    a->cancel_called = true;
    a->cancel_fn(a->cancel_ud);
  }
  if (live && !lines.failed && lines.len)
    a->route.emit(a->route.ud, lines.data, lines.len, false);
  pf_buf_free(&lines);
  unsigned retry = atomic_exchange(&a->call.close_retry, 0);
  if (live && retry && a->route.close_stream)
    a->route.close_stream(a->route.ud, retry - 1);
}

static void async_unlink(pf__async *a) {
  pf__session *s = a->s;
  uv_mutex_lock(&s->lock);
  for (pf__async **pp = &s->inflight; *pp; pp = &(*pp)->next)
    if (*pp == a) {
      *pp = a->next;
      break;
    }
  s->npending--;
  a->linked = false;
  uv_mutex_unlock(&s->lock);
}

static void async_done(uv_work_t *w, int status) {
  pf__async *a = w->data;
  if (a->linked)
    async_unlink(a);
  bool open = session_open(a->s);
  if (open && status == 0 && !atomic_load(&a->call.cancelled)) {
    pf_call *c = &a->call;
    settle(c, a->rc);
    /* progress and log lines first, then the response */
    pf_buf out = PF_BUF_INIT;
    pf_buf_append(&out, a->notify.data, a->notify.len);
    write_result(c, NULL, a->id_text, &out);
    if (!out.failed)
      a->route.emit(a->route.ud, out.data, out.len, true);
    pf_buf_free(&out);
  } else if (open) {
    /* cancelled: no response, but the request is over (an HTTP stream
     * waiting for it can end) */
    a->route.emit(a->route.ud, "", 0, true);
  }
  async_free(a);
}

/* Creates and links the asynchronous call (its own copies of id, arguments
 * and token, a reference to the session and to the route). Returns NULL
 * after appending the error response to out. */
static pf__async *async_create(pf__session *s, const pf__tool *t, const pf_json *id,
                               const pf_json *args, const pf_json *token, pf_buf *out,
                               pf__msgctx *ctx) {
  pf__async *a = pf__malloc(sizeof *a);
  pf_arena *arena = pf_arena_create(0);
  if (!a || !arena) {
    pf__free(a);
    pf_arena_destroy(arena);
    pf__rpc_error(out, id, -32603, "Internal error: out of memory", NULL);
    return NULL;
  }
  memset(a, 0, sizeof *a);
  a->arena = arena;
  a->s = s;
  pf__session_ref(s);
  if (!ctx->route)
    ctx->route = ctx->make_route(ctx);
  if (!ctx->route) {
    pf__session_unref(s);
    pf_arena_destroy(arena);
    pf__free(a);
    pf__rpc_error(out, id, -32603, "Internal error: cannot open a stream for the tool", NULL);
    return NULL;
  }
  a->route = *ctx->route;
  if (a->route.retain)
    a->route.retain(a->route.ud);
  /* The message buffer and the scratch arena are reused for the next
   * message: give the call its own copies of id, arguments and token. */
  pf_buf tmp = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &tmp);
  pf_jw_arr_begin(&w);
  pf_jw_value(&w, id);
  pf_jw_value(&w, args);
  pf_jw_value(&w, token);
  pf_jw_arr_end(&w);
  const pf_json *copy =
      tmp.failed ? NULL : pf_json_parse_copy(tmp.data, tmp.len, arena, NULL, NULL);
  pf_buf idt = PF_BUF_INIT;
  pf_jw_init(&w, &idt);
  pf_jw_value(&w, id);
  a->id_text = copy ? pf_arena_strndup(arena, idt.data, idt.len) : NULL;
  pf_buf_free(&idt);
  pf_buf_free(&tmp);
  if (!a->id_text) {
    async_free(a);
    pf__rpc_error(out, id, -32603, "Internal error: out of memory", NULL);
    return NULL;
  }
  const pf_json *tok = pf_json_at(copy, 2);
  pf__call_init(&a->call, s, t, pf_json_at(copy, 1), &a->content, &a->structured, &a->notify, arena,
                pf_json_typeof(tok) == PF_JSON_NULL ? NULL : tok);
  a->call.async = a;
  a->call.route_can_close = a->route.close_stream != NULL;
  a->work.data = a;
  a->has_lock = uv_mutex_init(&a->lock) == 0;
  a->has_wake = a->has_lock && uv_async_init(ctx->loop, &a->wake, async_wake) == 0;
  if (a->has_wake) {
    a->wake.data = a;
    uv_unref((uv_handle_t *)&a->wake); /* the work request keeps the loop alive */
    a->call.notify_lock = &a->lock;
    a->call.wake = &a->wake;
  }
  uv_mutex_lock(&s->lock);
  if (s->npending >= PF_MAX_INFLIGHT) {
    uv_mutex_unlock(&s->lock);
    async_free(a);
    pf__rpc_errorf(out, id, -32000,
                   "Too many requests in flight: this session already runs %d blocking calls",
                   PF_MAX_INFLIGHT);
    return NULL;
  }
  a->next = s->inflight;
  s->inflight = a;
  s->npending++;
  a->linked = true;
  uv_mutex_unlock(&s->lock);
  if (!a->has_wake) {
    async_unlink(a);
    async_free(a);
    pf__rpc_error(out, id, -32603, "Internal error: cannot queue the tool", NULL);
    return NULL;
  }
  return a;
}

static void start_async(pf__session *s, const pf__tool *t, const pf_json *id, const pf_json *args,
                        const pf_json *token, pf_buf *out, pf__msgctx *ctx) {
  pf__async *a = async_create(s, t, id, args, token, out, ctx);
  if (!a)
    return;
  if (uv_queue_work(ctx->loop, &a->work, async_work, async_done) != 0) {
    async_unlink(a);
    async_free(a);
    pf__rpc_error(out, id, -32603, "Internal error: cannot queue the tool", NULL);
    return;
  }
  ctx->async++;
}

/* A tool kind that runs on the loop (t->start). */
static void start_loop(pf__session *s, const pf__tool *t, const pf_json *id, const pf_json *args,
                       const pf_json *token, pf_buf *out, pf__msgctx *ctx) {
  pf__async *a = async_create(s, t, id, args, token, out, ctx);
  if (!a)
    return;
  a->loop_kind = true;
  int rc = t->start(&a->call, ctx->loop);
  if (rc != 0) {
    /* no completion follows: answer now */
    async_unlink(a);
    pf_call *c = &a->call;
    settle(c, rc);
    write_result(c, NULL, a->id_text, out);
    async_free(a);
    return;
  }
  ctx->async++;
}

void pf__async_on_cancel(pf__async *a, void (*fn)(void *ud), void *ud) {
  a->cancel_fn = fn;
  a->cancel_ud = ud;
}

void pf__async_complete(pf__async *a, int rc) {
  a->rc = rc;
  async_done(&a->work, 0);
}

void pf__async_cancel(pf__session *s, const pf_json *request_id) {
  if (!request_id)
    return;
  pf_buf idt = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &idt);
  pf_jw_value(&w, request_id);
  const char *want = pf_buf_cstr(&idt);
  uv_mutex_lock(&s->lock);
  for (pf__async *a = s->inflight; a; a = a->next)
    if (strcmp(a->id_text, want) == 0) {
      atomic_store(&a->call.cancelled, true);
      if (a->loop_kind)
        uv_async_send(&a->wake); /* runs its cancel hook on its loop */
    }
  uv_mutex_unlock(&s->lock);
  pf_buf_free(&idt);
  pf__outreq_wake_all(s);
}

void pf__async_cancel_all(pf__session *s) {
  uv_mutex_lock(&s->lock);
  for (pf__async *a = s->inflight; a; a = a->next) {
    atomic_store(&a->call.cancelled, true);
    if (a->loop_kind)
      uv_async_send(&a->wake);
  }
  uv_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------ */

void pf__m_tools_call(pf__session *s, const pf_json *id, const pf_json *params, pf_buf *out) {
  const pf_json *namev = NULL, *args = NULL, *meta = NULL;
  pf_json_iter it = pf_json_iter_init(params);
  const pf_json *k, *v;
  while (pf_json_iter_next(&it, &k, &v)) {
    size_t kl;
    const char *ks = pf_json_str(k, &kl);
    if (kl == 4 && memcmp(ks, "name", 4) == 0)
      namev = v;
    else if (kl == 9 && memcmp(ks, "arguments", 9) == 0)
      args = v;
    else if (kl == 5 && memcmp(ks, "_meta", 5) == 0)
      meta = v;
  }
  size_t nlen;
  const char *name = pf_json_str(namev, &nlen);
  if (!name) {
    pf__rpc_error(out, id, -32602, "Invalid params: tools/call needs a tool name", NULL);
    return;
  }
  long ti = pf__registry_find(&s->srv->tool_reg, name, nlen);
  if (ti < 0 || atomic_load(&s->srv->tools[ti].hidden)) {
    pf__rpc_errorf(out, id, -32602, "Unknown tool: %.*s", (int)(nlen > 200 ? 200 : nlen), name);
    return;
  }
  const pf__tool *t = &s->srv->tools[ti];
  if (!args || pf_json_typeof(args) == PF_JSON_NULL) {
    args = pf__empty_object;
  } else if (pf_json_typeof(args) != PF_JSON_OBJECT) {
    pf__rpc_error(out, id, -32602, "Invalid params: arguments must be an object", NULL);
    return;
  }
  const pf_json *token = meta ? pf_json_get(meta, "progressToken") : NULL;
  if (token && !(pf_json_typeof(token) == PF_JSON_STRING || pf_json_typeof(token) == PF_JSON_INT ||
                 pf_json_typeof(token) == PF_JSON_UINT))
    token = NULL;

  pf__scratch *sc = pf__scratch_get();
  pf_call c;
  pf__call_init(&c, s, t, args, &sc->content, &sc->structured, out, sc->arena, token);
  /* Invalid arguments are a tool result the model can read and correct
   * (protocol 2025-11-25, SEP-1303), not a protocol error. */
  pf_buf msg = PF_BUF_INIT;
  if (pf_validator_check(t->input, args, &msg) != 0) {
    pf_result_error(&c, "Invalid arguments for tool '%s': %s", t->name, pf_buf_cstr(&msg));
    pf_buf_free(&msg);
    write_result(&c, id, NULL, out);
    return;
  }
  pf_buf_free(&msg);
  if (t->start) {
    start_loop(s, t, id, args, token, out, sc->ctx);
    return;
  }
  if (t->cfg->blocking) {
    start_async(s, t, id, args, token, out, sc->ctx);
    return;
  }
  int rc = t->fn(&c);
  settle(&c, rc);
  write_result(&c, id, NULL, out);
}

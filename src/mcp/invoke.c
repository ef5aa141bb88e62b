/* Calls answered asynchronously, and the resilience policies around them.
 *
 * A request (pf__req) is one tools/call that did not finish inline: it owns
 * the JSON-RPC id, copies of the arguments and progress token, the route
 * its progress and response go to, and the wake handle through which other
 * threads (thread-pool handlers, bulkhead grants, cancellation) reach its
 * loop thread.
 *
 * An operation (pf__op) is one call of one tool through that tool's
 * policies (src/runtime/middleware.h): breaker admission, a bulkhead slot,
 * attempts with a timeout and retries, the fallback tool. A request runs
 * one operation for its tool; a pipeline runs one per step (pf__invoke).
 *
 * An attempt (struct pf__async, the name the kinds know it by) is one run
 * of one tool's handler: a native handler inline or on the thread pool, or
 * a loop kind (cli, http, pipeline). It has its own pf_call, buffers and
 * arena. An attempt abandoned by its timeout is detached: it is cancelled,
 * and freed whenever it ends, while the operation goes on.
 *
 * Everything but pf__async_cancel* and bulkhead grants runs on the
 * request's loop thread; a request lives until its last operation and
 * attempt are gone (refs), and counts as pending in its session until then.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "mcp/internal.h"
#include "schema/validator.h"

typedef struct pf__req pf__req;
typedef struct pf__op pf__op;
typedef struct pf__async pf__async;

struct pf__req {
  pf__session *s;  /* a reference */
  pf__req *next;   /* in s->inflight [s->lock] */
  pf__route route; /* where progress, requests and the response go */
  pf_arena *arena; /* copies of id, arguments, token */
  pf_buf notify;   /* lines written by handlers, sent on wake [lock] */
  uv_mutex_t lock;
  uv_async_t wake;
  bool has_lock, has_wake, linked;
  atomic_bool cancelled;  /* notifications/cancelled, or the session closing */
  bool cancel_propagated; /* to the running attempts */
  unsigned refs;          /* the starter, operations, attempts */
  char *id_text;          /* the JSON-RPC id as JSON text */
  const pf_json *token;   /* progress token, or NULL */
  pf__async *live;        /* running attempts */
  pf_buf *sync_out;       /* while starting: the answer goes here */
  bool answered;
  pf__op *granted; /* operations handed a bulkhead slot [lock] */
  pf__op *ops;     /* operations not finished */
};

/* OP_GRANTING: it gave up waiting for a bulkhead slot, but the slot was
 * already on its way (it arrives through the request's wake). */
enum { OP_ADMIT, OP_QUEUED, OP_GRANTING, OP_RUNNING, OP_DELAY, OP_FALLBACK, OP_DONE };

struct pf__op {
  pf__req *req;
  const pf__tool *tool;
  const pf_json *args;
  const pf_json *token;
  void (*done)(pf__op *op, pf_call *result, void *ud);
  void *ud;
  int phase;
  uint32_t attempt;
  bool trial, admitted, holds_slot;
  pf__bh_waiter waiter;
  pf__op *next_granted; /* in req->granted [req->lock] */
  pf__op *next_op;      /* in req->ops */
  pf__async *parent;    /* the pipeline attempt whose step this is, or NULL */
  uv_timer_t *timer;    /* queue wait, timeout, retry delay; or NULL */
  pf__async *cur;       /* the attempt running */
  double last_progress;
  pf__stamp t0; /* for the latency histogram */
};

struct pf__async {
  pf__req *req;
  pf__op *op;      /* NULL once detached */
  pf__async *next; /* in req->live */
  pf_arena *arena;
  pf_buf content, structured;
  pf_call call;
  uv_work_t work;
  int rc;
  bool starting, completed, cancel_done;
  void (*cancel_fn)(void *ud);
  void *cancel_ud;
};

static void op_admit(pf__op *op);
static void op_attempt(pf__op *op);
static void attempt_done(pf__op *op, pf__async *a, int rc);
static void on_retry_timer(uv_timer_t *h);
static pf__op *op_new(pf__req *r, const pf__tool *t, const pf_json *args, const pf_json *token,
                      void (*done)(pf__op *, pf_call *, void *), void *ud);

/* ---- requests ---- */

static bool session_open(pf__session *s) {
  uv_mutex_lock(&s->lock);
  bool open = !s->closed;
  uv_mutex_unlock(&s->lock);
  return open;
}

static void req_release(pf__req *r) {
  pf_buf_free(&r->notify);
  if (r->has_lock)
    uv_mutex_destroy(&r->lock);
  if (r->route.release)
    r->route.release(r->route.ud);
  pf__session_unref(r->s);
  pf_arena_destroy(r->arena);
  pf__free(r);
}

static void req_closed(uv_handle_t *h) { req_release(h->data); }

static void req_unlink(pf__req *r) {
  pf__session *s = r->s;
  uv_mutex_lock(&s->lock);
  for (pf__req **pp = &s->inflight; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  s->npending--;
  r->linked = false;
  uv_mutex_unlock(&s->lock);
}

static void req_free(pf__req *r) {
  if (r->linked)
    req_unlink(r);
  if (r->has_wake)
    uv_close((uv_handle_t *)&r->wake, req_closed);
  else
    req_release(r);
}

static void req_unref(pf__req *r) {
  if (--r->refs == 0)
    req_free(r);
}

/* Sends what handlers have written so far (nothing once the request is
 * cancelled or the session closed). */
static void req_flush(pf__req *r, bool live) {
  uv_mutex_lock(&r->lock);
  pf_buf lines = r->notify;
  r->notify = (pf_buf)PF_BUF_INIT;
  uv_mutex_unlock(&r->lock);
  if (live && !lines.failed && lines.len && !r->answered)
    r->route.emit(r->route.ud, lines.data, lines.len, false);
  pf_buf_free(&lines);
}

/* Whether op's call is cancelled: its request, or the pipeline attempt it
 * is a step of. */
static bool op_cancelled(const pf__op *op) {
  return atomic_load(&op->req->cancelled) ||
         (op->parent && atomic_load(&op->parent->call.cancelled));
}

static void op_wake_cancelled(pf__op *op);

static void cancel_under(pf__req *r, pf__async *parent);

/* Cancels an attempt, and the steps it runs (a pipeline's). Its kind's
 * cancel hook may complete it at once: callers never hold a pointer into
 * the request's lists across this. */
static void attempt_cancel(pf__async *a) {
  atomic_store(&a->call.cancelled, true);
  if (a->cancel_done || a->starting)
    return; /* a starting attempt is cancelled once its start returns */
  a->cancel_done = true;
  pf__req *r = a->req;
  r->refs++;
  if (a->cancel_fn) /* only loop kinds register one */
    a->cancel_fn(a->cancel_ud);
  cancel_under(r, a);
  req_unref(r);
}

/* Cancels every running attempt and waiting operation of r under parent
 * (NULL: all of them). Rescans after each: what a cancellation runs may
 * change the lists. */
static void cancel_under(pf__req *r, pf__async *parent) {
  for (;;) {
    pf__async *x = r->live;
    while (x && (x->cancel_done || x->starting || (parent && !(x->op && x->op->parent == parent))))
      x = x->next;
    if (x) {
      attempt_cancel(x);
      continue;
    }
    pf__op *op = r->ops;
    while (op && !((op->phase == OP_DELAY || op->phase == OP_QUEUED) &&
                   (!parent || op->parent == parent)))
      op = op->next_op;
    if (!op)
      return;
    op_wake_cancelled(op);
  }
}

static void op_granted(pf__op *op);

/* Loop thread: notifications, cancellation, pf_stream_close, bulkhead
 * grants. */
static void req_wake(uv_async_t *h) {
  pf__req *r = h->data;
  r->refs++; /* what runs below may finish the request */
  bool live = !atomic_load(&r->cancelled) && session_open(r->s);
  req_flush(r, live);
  if (!live && !r->cancel_propagated) {
    r->cancel_propagated = true;
    cancel_under(r, NULL);
    pf__outreq_wake_all(r->s);
  }
  for (pf__async *a = r->live; a; a = a->next) {
    unsigned retry = atomic_exchange(&a->call.close_retry, 0);
    if (live && retry && r->route.close_stream && !r->answered)
      r->route.close_stream(r->route.ud, retry - 1);
  }
  uv_mutex_lock(&r->lock);
  pf__op *g = r->granted;
  r->granted = NULL;
  uv_mutex_unlock(&r->lock);
  while (g) {
    pf__op *next = g->next_granted;
    op_granted(g);
    g = next;
  }
  req_unref(r);
}

/* Creates the request (its own copies of id, arguments and token, a
 * reference to the session and to the route) and links it. Returns NULL
 * after appending the error response to out. */
static pf__req *req_create(pf__session *s, const pf_json *id, const pf_json *args,
                           const pf_json *token, const pf_json **args_copy, pf_buf *out,
                           pf__msgctx *ctx) {
  pf__req *r = pf__malloc(sizeof *r);
  pf_arena *arena = pf_arena_create(0);
  if (!r || !arena) {
    pf__free(r);
    pf_arena_destroy(arena);
    pf__rpc_error(out, id, -32603, "Internal error: out of memory", NULL);
    return NULL;
  }
  memset(r, 0, sizeof *r);
  r->arena = arena;
  r->s = s;
  r->refs = 1;
  atomic_init(&r->cancelled, false);
  pf__session_ref(s);
  if (!ctx->route)
    ctx->route = ctx->make_route(ctx);
  if (!ctx->route) {
    pf__session_unref(s);
    pf_arena_destroy(arena);
    pf__free(r);
    pf__rpc_error(out, id, -32603, "Internal error: cannot open a stream for the tool", NULL);
    return NULL;
  }
  r->route = *ctx->route;
  if (r->route.retain)
    r->route.retain(r->route.ud);
  /* The message buffer and the scratch arena are reused for the next
   * message: the request keeps its own copies of id, arguments and token. */
  pf_buf tmp = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &tmp);
  pf_jw_arr_begin(&w);
  pf_jw_value(&w, args);
  pf_jw_value(&w, token);
  pf_jw_arr_end(&w);
  const pf_json *copy =
      tmp.failed ? NULL : pf_json_parse_copy(tmp.data, tmp.len, arena, NULL, NULL);
  pf_buf idt = PF_BUF_INIT;
  pf_jw_init(&w, &idt);
  pf_jw_value(&w, id);
  r->id_text = copy && !idt.failed ? pf_arena_strndup(arena, idt.data, idt.len) : NULL;
  pf_buf_free(&idt);
  pf_buf_free(&tmp);
  r->has_lock = uv_mutex_init(&r->lock) == 0;
  r->has_wake = r->has_lock && uv_async_init(ctx->loop, &r->wake, req_wake) == 0;
  if (r->has_wake) {
    r->wake.data = r;
    uv_unref((uv_handle_t *)&r->wake); /* what the attempts run keeps the loop alive */
  }
  if (!r->id_text || !r->has_wake) {
    req_free(r);
    pf__rpc_error(out, id, -32603, "Internal error: out of memory", NULL);
    return NULL;
  }
  *args_copy = pf_json_at(copy, 0);
  const pf_json *tok = pf_json_at(copy, 1);
  r->token = pf_json_typeof(tok) == PF_JSON_NULL ? NULL : tok;
  uv_mutex_lock(&s->lock);
  if (s->npending >= PF_MAX_INFLIGHT) {
    uv_mutex_unlock(&s->lock);
    req_free(r);
    pf__rpc_errorf(out, id, -32000,
                   "Too many requests in flight: this session already runs %d asynchronous calls",
                   PF_MAX_INFLIGHT);
    return NULL;
  }
  r->next = s->inflight;
  s->inflight = r;
  s->npending++;
  r->linked = true;
  uv_mutex_unlock(&s->lock);
  return r;
}

/* The request's operation finished: answer (unless cancelled). */
static void req_answer(pf__op *op, pf_call *c, void *ud) {
  (void)ud;
  pf__req *r = op->req;
  bool open = session_open(r->s);
  bool cancelled = atomic_load(&r->cancelled);
  pf_buf lines = PF_BUF_INIT;
  uv_mutex_lock(&r->lock);
  lines = r->notify;
  r->notify = (pf_buf)PF_BUF_INIT;
  uv_mutex_unlock(&r->lock);
  if (r->sync_out) {
    /* finished before the request went asynchronous */
    if (!cancelled) {
      pf_buf_append(r->sync_out, lines.data, lines.len);
      pf__tool_write_result(c, NULL, r->id_text, r->sync_out);
    }
  } else if (open && !cancelled) {
    /* progress and log lines first, then the response */
    pf__tool_write_result(c, NULL, r->id_text, &lines);
    if (!lines.failed)
      r->route.emit(r->route.ud, lines.data, lines.len, true);
  } else if (open) {
    /* cancelled: no response, but the request is over (an HTTP stream
     * waiting for it can end) */
    r->route.emit(r->route.ud, "", 0, true);
  }
  pf_buf_free(&lines);
  r->answered = true;
}

/* ---- attempts ---- */

static pf__async *attempt_new(pf__op *op, const pf__tool *t) {
  pf__req *r = op->req;
  pf__async *a = pf__malloc(sizeof *a);
  pf_arena *arena = pf_arena_create(0);
  if (!a || !arena) {
    pf__free(a);
    pf_arena_destroy(arena);
    return NULL;
  }
  memset(a, 0, sizeof *a);
  a->req = r;
  a->op = op;
  a->arena = arena;
  pf__call_init(&a->call, r->s, t, op->args, &a->content, &a->structured, &r->notify, arena,
                op->token);
  a->call.async = a;
  a->call.outer_cancelled = &r->cancelled;
  a->call.route_can_close = r->route.close_stream != NULL;
  a->call.notify_lock = &r->lock;
  a->call.wake = &r->wake;
  a->call.last_progress = op->last_progress;
  a->work.data = a;
  r->refs++;
  return a;
}

static void attempt_free(pf__async *a) {
  pf__req *r = a->req;
  pf_buf_free(&a->content);
  pf_buf_free(&a->structured);
  pf_arena_destroy(a->arena);
  pf__free(a);
  req_unref(r);
}

static void live_remove(pf__async *a) {
  for (pf__async **pp = &a->req->live; *pp; pp = &(*pp)->next)
    if (*pp == a) {
      *pp = a->next;
      return;
    }
}

/* An attempt's handler returned (or its kind completed it). */
static void attempt_end(pf__async *a, int rc) {
  live_remove(a);
  pf__op *op = a->op;
  if (!op) { /* detached by its timeout: nobody waits for it */
    attempt_free(a);
    return;
  }
  op->cur = NULL;
  op->last_progress = a->call.last_progress;
  attempt_done(op, a, rc);
}

static void pool_work(uv_work_t *w) {
  pf__async *a = w->data;
  a->rc = a->call.tool->fn(&a->call);
}

static void pool_done(uv_work_t *w, int status) {
  pf__async *a = w->data;
  attempt_end(a, status == 0 ? a->rc : -PF_ECANCELED);
}

void pf__async_on_cancel(pf__async *a, void (*fn)(void *ud), void *ud) {
  a->cancel_fn = fn;
  a->cancel_ud = ud;
}

void pf__async_complete(pf__async *a, int rc) {
  if (a->starting) { /* from within start: finish once start returns */
    a->completed = true;
    a->rc = rc;
    return;
  }
  attempt_end(a, rc);
}

/* A result made here, not by the tool (refusals, timeouts). */
static pf__async *synthetic(pf__op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static pf__async *synthetic(pf__op *op, const char *fmt, ...) {
  pf__async *a = attempt_new(op, op->tool);
  if (!a)
    return NULL;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  pf_result_error(&a->call, "%s", msg);
  return a;
}

/* ---- operations ---- */

static void timer_closed(uv_handle_t *h) { pf__free(h); }

static void op_timer_stop(pf__op *op) {
  if (op->timer)
    uv_timer_stop(op->timer);
}

static int op_timer_start(pf__op *op, uv_timer_cb cb, uint64_t ms) {
  if (!op->timer) {
    op->timer = pf__malloc(sizeof *op->timer);
    if (!op->timer || uv_timer_init(op->req->wake.loop, op->timer) != 0) {
      pf__free(op->timer);
      op->timer = NULL;
      return -PF_ENOMEM;
    }
    op->timer->data = op;
  }
  return uv_timer_start(op->timer, cb, ms, 0) == 0 ? 0 : -PF_ENOMEM;
}

static void op_free(pf__op *op) {
  pf__req *r = op->req;
  for (pf__op **pp = &r->ops; *pp; pp = &(*pp)->next_op)
    if (*pp == op) {
      *pp = op->next_op;
      break;
    }
  if (op->timer)
    uv_close((uv_handle_t *)op->timer, timer_closed);
  pf__free(op);
  req_unref(r);
}

static void release_slot(pf__op *op) {
  if (op->holds_slot) {
    op->holds_slot = false;
    pf__bulkhead_release(op->tool->rare->bulkhead);
  }
}

/* The operation is over: hand its result to whoever started it. */
static void op_finish(pf__op *op, pf__async *a) {
  op->phase = OP_DONE;
  op_timer_stop(op);
  release_slot(op);
  pf__stats_record(pf__tool_counters(op->tool), pf__stamp_ns(op->t0, pf__stamp_now()),
                   a ? a->call.is_error : true);
  if (a) {
    op->done(op, &a->call, op->ud);
    attempt_free(a);
  } else {
    /* out of memory making even an error result */
    pf_buf content = PF_BUF_INIT, structured = PF_BUF_INIT;
    pf_call c;
    pf_arena *arena = pf_arena_create(0);
    pf__call_init(&c, op->req->s, op->tool, op->args, &content, &structured, NULL, arena, NULL);
    pf_result_error(&c, "Tool '%s' failed: out of memory", op->tool->cfg->name);
    op->done(op, &c, op->ud);
    pf_buf_free(&content);
    pf_buf_free(&structured);
    pf_arena_destroy(arena);
  }
  op_free(op);
}

/* The fallback answered for op: its result is op's. */
static void fallback_done(pf__op *fb, pf_call *c, void *ud) {
  pf__op *op = ud;
  (void)fb;
  pf__stats_record(pf__tool_counters(op->tool), pf__stamp_ns(op->t0, pf__stamp_now()), c->is_error);
  op->done(op, c, op->ud);
  op->phase = OP_DONE;
  op_free(op);
}

/* The tool failed (or was refused) for good: its fallback, or this result. */
static void op_fail(pf__op *op, pf__async *a) {
  const pf__tool *fb = op->tool->rare->fallback;
  if (!fb || op_cancelled(op) || !a) {
    op_finish(op, a);
    return;
  }
  atomic_fetch_add_explicit(&pf__tool_counters(op->tool)->fallbacks, 1, memory_order_relaxed);
  pf_log(&a->call, PF_LEVEL_WARNING, "pforge", "tool '%s' failed; answering with its fallback '%s'",
         op->tool->cfg->name, fb->cfg->name);
  attempt_free(a);
  op_timer_stop(op);
  release_slot(op);
  op->phase = OP_FALLBACK;
  /* the fallback's own operation: its own policies, its result is ours */
  pf__op *f = op_new(op->req, fb, op->args, op->token, fallback_done, op);
  if (!f) {
    op_finish(op, NULL);
    return;
  }
  f->parent = op->parent;
  f->last_progress = op->last_progress;
  /* op stays until the fallback answered */
  pf_buf msg = PF_BUF_INIT;
  if (pf_validator_check(fb->input, op->args, &msg) != 0) {
    pf__async *e = synthetic(f, "Invalid arguments for fallback tool '%s': %s", fb->cfg->name,
                             pf_buf_cstr(&msg));
    pf_buf_free(&msg);
    op_finish(f, e);
  } else {
    pf_buf_free(&msg);
    op_admit(f);
  }
}

/* An attempt ended with rc (the result in a). */
static void attempt_done(pf__op *op, pf__async *a, int rc) {
  op_timer_stop(op);
  pf__tool_settle(&a->call, rc);
  if (op_cancelled(op) || atomic_load(&a->call.cancelled)) {
    /* no outcome: a cancelled trial only frees its place */
    if (op->admitted && op->tool->rare->breaker)
      pf__breaker_abandon(op->tool->rare->breaker, op->trial);
    op->admitted = false;
    op_finish(op, a);
    return;
  }
  pf__outcome o = pf__outcome_of(rc, a->call.is_error, a->call.upstream_status);
  const pf_cfg_policy *p = op->tool->cfg->policy;
  if (o == PF__FAIL_TIMEOUT)
    atomic_fetch_add_explicit(&pf__tool_counters(op->tool)->timeouts, 1, memory_order_relaxed);
  if (o != PF__OK && pf__retry_wants(p, o) && op->attempt < p->retry_max_attempts) {
    uint32_t delay = pf__retry_delay(p, op->attempt, (double)rand() / ((double)RAND_MAX + 1));
    pf_log(&a->call, PF_LEVEL_INFO, "pforge",
           "tool '%s' attempt %u of %u failed; retrying in %u ms", op->tool->cfg->name, op->attempt,
           p->retry_max_attempts, delay);
    attempt_free(a);
    op->phase = OP_DELAY;
    if (op_timer_start(op, on_retry_timer, delay) != 0) {
      pf__async *e = synthetic(op, "Tool '%s' failed and cannot be retried: out of memory",
                               op->tool->cfg->name);
      op_finish(op, e);
    }
    return;
  }
  if (op->admitted && op->tool->rare->breaker)
    pf__breaker_record(op->tool->rare->breaker, pf__now_ns() / 1000000, op->trial,
                       pf__outcome_failed(o));
  op->admitted = false;
  if (o == PF__OK)
    op_finish(op, a);
  else
    op_fail(op, a);
}

/* The delay before the next try is over (the breaker admitted the call
 * once, the bulkhead slot is still held). */
static void on_retry_timer(uv_timer_t *h) {
  pf__op *op = h->data;
  if (op_cancelled(op)) {
    pf__async *a = synthetic(op, "Tool '%s' was cancelled", op->tool->cfg->name);
    attempt_done(op, a, 0);
    return;
  }
  op_attempt(op);
}

/* The attempt ran out of time: abandon it (it is cancelled and freed when
 * it ends) and go on as if it had failed by timing out. */
static void on_timeout(uv_timer_t *h) {
  pf__op *op = h->data;
  pf__async *a = op->cur;
  if (!a)
    return;
  op->cur = NULL;
  a->op = NULL;
  attempt_cancel(a);
  pf__async *t = synthetic(op, "Tool '%s' timed out after %u ms", op->tool->cfg->name,
                           op->tool->cfg->policy->timeout_ms);
  if (!t) {
    op_finish(op, NULL);
    return;
  }
  attempt_done(op, t, -PF_ETIMEDOUT);
}

/* Runs one attempt. */
static void op_attempt(pf__op *op) {
  const pf__tool *t = op->tool;
  op->phase = OP_RUNNING;
  if (++op->attempt > 1)
    atomic_fetch_add_explicit(&pf__tool_counters(t)->retries, 1, memory_order_relaxed);
  pf__async *a = attempt_new(op, t);
  if (!a) {
    op_finish(op, NULL);
    return;
  }
  pf__req *r = op->req;
  a->next = r->live;
  r->live = a;
  op->cur = a;
  if (r->cancel_propagated || op_cancelled(op))
    atomic_store(&a->call.cancelled, true);
  uint32_t timeout = t->cfg->policy->timeout_ms;
  bool timed = timeout && !t->own_timeout && (t->loop || t->blocking);
  if (t->loop) {
    a->starting = true;
    int rc = t->rare->start(&a->call, r->wake.loop);
    a->starting = false;
    if (rc != 0) {
      attempt_end(a, rc);
      return;
    }
    if (a->completed) {
      attempt_end(a, a->rc);
      return;
    }
    if (atomic_load(&a->call.cancelled))
      attempt_cancel(a); /* cancelled before it started: its hook runs now */
  } else if (t->blocking) {
    if (uv_queue_work(r->wake.loop, &a->work, pool_work, pool_done) != 0) {
      pf_result_error(&a->call, "Tool '%s' failed: cannot queue the handler", t->cfg->name);
      attempt_end(a, 0);
      return;
    }
  } else {
    attempt_end(a, t->fn(&a->call));
    return;
  }
  if (timed && op->cur == a && op_timer_start(op, on_timeout, timeout) != 0)
    pf_log(&a->call, PF_LEVEL_WARNING, "pforge", "tool '%s': cannot arm its timeout", t->cfg->name);
}

static void on_queue_timeout(uv_timer_t *h) {
  pf__op *op = h->data;
  if (!pf__bulkhead_leave(op->tool->rare->bulkhead, &op->waiter)) {
    op->phase = OP_GRANTING; /* the grant is on its way */
    return;
  }
  if (op->admitted)
    pf__breaker_abandon(op->tool->rare->breaker, op->trial);
  op->admitted = false;
  atomic_fetch_add_explicit(&pf__tool_counters(op->tool)->rejected, 1, memory_order_relaxed);
  pf__async *a = synthetic(op,
                           "Tool '%s' is busy: %u calls are running and none finished within "
                           "%u ms; try again later",
                           op->tool->cfg->name, op->tool->cfg->policy->max_concurrent,
                           op->tool->cfg->policy->queue_timeout_ms);
  op_fail(op, a);
}

/* Any thread: the bulkhead handed this waiting operation a slot. */
static void on_grant(pf__bh_waiter *w) {
  pf__op *op = (pf__op *)((char *)w - offsetof(pf__op, waiter));
  pf__req *r = op->req;
  uv_mutex_lock(&r->lock);
  op->next_granted = r->granted;
  r->granted = op;
  uv_mutex_unlock(&r->lock);
  uv_async_send(&r->wake);
}

static void op_granted(pf__op *op) {
  op->holds_slot = true;
  op_timer_stop(op);
  if (op_cancelled(op)) {
    pf__async *a = synthetic(op, "Tool '%s' was cancelled", op->tool->cfg->name);
    op_finish(op, a);
    return;
  }
  op_attempt(op);
}

/* A cancelled operation that waits (for a retry or a bulkhead slot) ends
 * now instead of when its timer fires. */
static void op_wake_cancelled(pf__op *op) {
  if (op->phase == OP_DELAY) {
    op_timer_stop(op);
    on_retry_timer(op->timer);
  } else if (op->phase == OP_QUEUED && !pf__bulkhead_leave(op->tool->rare->bulkhead, &op->waiter)) {
    op->phase = OP_GRANTING;
  } else if (op->phase == OP_QUEUED) {
    op_timer_stop(op);
    if (op->admitted)
      pf__breaker_abandon(op->tool->rare->breaker, op->trial);
    op->admitted = false;
    pf__async *a = synthetic(op, "Tool '%s' was cancelled", op->tool->cfg->name);
    op_finish(op, a);
  }
}

/* Breaker, then bulkhead, then an attempt. */
static void op_admit(pf__op *op) {
  const pf__tool *t = op->tool;
  pf__tool *mt = (pf__tool *)t;
  if (t->rare->breaker) {
    uint64_t retry_ms;
    if (pf__breaker_admit(t->rare->breaker, pf__now_ns() / 1000000, &op->trial, &retry_ms) != 0) {
      atomic_fetch_add_explicit(&pf__tool_counters(mt)->rejected, 1, memory_order_relaxed);
      pf__async *a = retry_ms
                         ? synthetic(op,
                                     "Tool '%s' is unavailable: its circuit breaker is open after "
                                     "repeated failures (next try in %llu ms)",
                                     t->cfg->name, (unsigned long long)retry_ms)
                         : synthetic(op,
                                     "Tool '%s' is unavailable: its circuit breaker is testing "
                                     "recovery with other calls; try again shortly",
                                     t->cfg->name);
      op_fail(op, a);
      return;
    }
    op->admitted = true;
  }
  if (t->rare->bulkhead && !op->holds_slot) {
    op->waiter.grant = on_grant;
    int rc = pf__bulkhead_enter(t->rare->bulkhead, &op->waiter);
    if (rc == 0) {
      op->holds_slot = true;
    } else if (rc == 1 &&
               op_timer_start(op, on_queue_timeout, t->cfg->policy->queue_timeout_ms) == 0) {
      op->phase = OP_QUEUED;
      return;
    } else {
      if (rc == 1 && !pf__bulkhead_leave(t->rare->bulkhead, &op->waiter)) {
        op->phase = OP_QUEUED; /* granted meanwhile: it arrives through wake */
        return;
      }
      if (op->admitted)
        pf__breaker_abandon(t->rare->breaker, op->trial);
      op->admitted = false;
      atomic_fetch_add_explicit(&pf__tool_counters(mt)->rejected, 1, memory_order_relaxed);
      pf__async *a =
          synthetic(op,
                    "Tool '%s' is busy: %u calls are running and %u are waiting; "
                    "try again later",
                    t->cfg->name, t->cfg->policy->max_concurrent, t->cfg->policy->max_queued);
      op_fail(op, a);
      return;
    }
  }
  op_attempt(op);
}

static pf__op *op_new(pf__req *r, const pf__tool *t, const pf_json *args, const pf_json *token,
                      void (*done)(pf__op *, pf_call *, void *), void *ud) {
  pf__op *op = pf__malloc(sizeof *op);
  if (!op)
    return NULL;
  memset(op, 0, sizeof *op);
  op->req = r;
  r->refs++;
  op->tool = t;
  op->args = args;
  op->token = token;
  op->done = done;
  op->ud = ud;
  op->last_progress = -1e300;
  op->t0 = pf__stamp_now();
  op->next_op = r->ops;
  r->ops = op;
  return op;
}

/* ---- entry points ---- */

void pf__invoke_request(pf__session *s, const pf__tool *t, const pf_json *id, const pf_json *args,
                        const pf_json *token, pf_buf *out, pf__msgctx *ctx) {
  const pf_json *args_copy;
  pf__req *r = req_create(s, id, args, token, &args_copy, out, ctx);
  if (!r)
    return;
  pf__op *op = op_new(r, t, args_copy, r->token, req_answer, NULL);
  if (!op) {
    pf__rpc_error(out, id, -32603, "Internal error: out of memory", NULL);
    req_unref(r);
    return;
  }
  r->sync_out = out;
  op_admit(op);
  r->sync_out = NULL;
  if (!r->answered)
    ctx->async++;
  req_unref(r);
}

typedef struct invoke_ctx {
  pf__invoke_done done;
  void *ud;
} invoke_ctx;

static void invoke_answer(pf__op *op, pf_call *c, void *ud) {
  (void)op;
  invoke_ctx ic = *(invoke_ctx *)ud;
  pf__free(ud);
  ic.done(ic.ud, c);
}

void pf__invoke(pf_call *parent, const pf__tool *t, const pf_json *args, pf__invoke_done done,
                void *ud) {
  pf__req *r = parent->async->req;
  invoke_ctx *ic = pf__malloc(sizeof *ic);
  pf__op *op = ic ? op_new(r, t, args, NULL, invoke_answer, ic) : NULL;
  if (op)
    op->parent = parent->async;
  if (!op) {
    pf__free(ic);
    pf_buf content = PF_BUF_INIT, structured = PF_BUF_INIT;
    pf_call c;
    pf__call_init(&c, r->s, t, args, &content, &structured, NULL, parent->arena, NULL);
    pf_result_error(&c, "Tool '%s' failed: out of memory", t->cfg->name);
    done(ud, &c);
    pf_buf_free(&content);
    pf_buf_free(&structured);
    return;
  }
  ic->done = done;
  ic->ud = ud;
  pf_buf msg = PF_BUF_INIT;
  if (pf_validator_check(t->input, args, &msg) != 0) {
    pf__async *e =
        synthetic(op, "Invalid arguments for tool '%s': %s", t->cfg->name, pf_buf_cstr(&msg));
    pf_buf_free(&msg);
    op_finish(op, e);
    return;
  }
  pf_buf_free(&msg);
  op_admit(op);
}

/* ---- cancellation ---- */

void pf__async_cancel(pf__session *s, const pf_json *request_id) {
  if (!request_id)
    return;
  pf_buf idt = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &idt);
  pf_jw_value(&w, request_id);
  const char *want = pf_buf_cstr(&idt);
  uv_mutex_lock(&s->lock);
  for (pf__req *r = s->inflight; r; r = r->next)
    if (strcmp(r->id_text, want) == 0 && !atomic_exchange(&r->cancelled, true))
      uv_async_send(&r->wake); /* its attempts are told on its loop */
  uv_mutex_unlock(&s->lock);
  pf_buf_free(&idt);
  pf__outreq_wake_all(s);
}

void pf__async_cancel_all(pf__session *s) {
  uv_mutex_lock(&s->lock);
  for (pf__req *r = s->inflight; r; r = r->next)
    if (!atomic_exchange(&r->cancelled, true))
      uv_async_send(&r->wake);
  uv_mutex_unlock(&s->lock);
}

void pf__session_cancel_client_requests(pf__session *s) { pf__outreq_cancel_all(s); }

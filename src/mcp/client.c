/* Requests from the server to the client (sampling/createMessage,
 * elicitation/create, roots/list) and the client's answers.
 *
 * A blocking handler (on a thread-pool thread) writes the request line into
 * its call's notify buffer, which the loop thread sends through the call's
 * route (stdout, or the SSE stream of the POST), then waits on a condition
 * variable. The client's response arrives as an ordinary message on any
 * loop thread; pf__client_response matches its id and wakes the handler.
 *
 * When the client cancels the tool call (notifications/cancelled) the
 * call's own output is dropped from then on (and on HTTP its POST stream
 * ends), so the notifications/cancelled that tells the client to drop the
 * server's request goes out on the session's default route (stdout; the
 * standalone GET stream on HTTP), from the loop thread that saw the
 * cancellation: pf__outreq_wake_all, which the cancellation runs. A
 * handler that sees its request cancelled before that scan leaves its
 * record behind (detached) for the scan to announce and free.
 *
 * An `async: true` tool's request (pf_client_request_async) waits on no
 * thread: its record wakes the call's loop thread instead, which runs the
 * tool's done callback (see "pf_client_request_async" below).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "mcp/internal.h"

#define WAIT_SLICE_NS ((uint64_t)100 * 1000 * 1000) /* re-check cancellation */

typedef struct pf__outreq {
  uint64_t id;
  uv_cond_t cond;
  bool done;
  bool cancel_sent;         /* the client was told (notifications/cancelled) */
  bool detached;            /* its handler gave up (its request was cancelled): the list owns it */
  const atomic_bool *owner; /* the call's request's cancelled flag, while the handler waits */
  int rc;                   /* 0: result, -PF_EREMOTE: error, -PF_ECANCELED: session closed */
  char *reply; /* malloc'd JSON text of the result or error object */
  size_t reply_len;
  struct pf__outreq *next;
  /* pf_client_request_async: the call that awaits the answer and what runs
   * then, on the call's loop thread (call NULL: a blocking request) */
  pf_call *call;
  pf_client_done cb;
  void *ud;
  uv_async_t wake;  /* the answer (or a cancellation) arrived: deliver it */
  uv_timer_t timer; /* timeout_ms */
  bool delivered;   /* taken off the list to run cb (or abandoned) [s->lock] */
  int closing;      /* handles still closing before the record is freed */
} pf__outreq;

bool pf_client_supports(pf_call *call, const char *capability) {
  pf__session *s = call->s;
  if (!capability)
    return false;
  uv_mutex_lock(&s->lock);
  bool r = false;
  if (strcmp(capability, "sampling") == 0)
    r = s->cap_sampling;
  else if (strcmp(capability, "sampling.tools") == 0)
    r = s->cap_sampling_tools;
  else if (strcmp(capability, "elicitation") == 0 || strcmp(capability, "elicitation.form") == 0)
    r = s->cap_elicitation_form;
  else if (strcmp(capability, "elicitation.url") == 0)
    r = s->cap_elicitation_url;
  else if (strcmp(capability, "roots") == 0)
    r = s->cap_roots;
  uv_mutex_unlock(&s->lock);
  return r;
}

/* The capability a method needs, or NULL when none is known. */
static const char *needed_capability(const char *method, const pf_json *params) {
  if (strcmp(method, "sampling/createMessage") == 0)
    return pf_json_get(params, "tools") ? "sampling.tools" : "sampling";
  if (strcmp(method, "elicitation/create") == 0) {
    size_t n;
    const char *mode = pf_json_str(pf_json_get(params, "mode"), &n);
    return mode && n == 3 && memcmp(mode, "url", 3) == 0 ? "elicitation.url" : "elicitation";
  }
  if (strcmp(method, "roots/list") == 0)
    return "roots";
  return NULL;
}

/* Starts a JSON-RPC message in line: {"jsonrpc":"2.0",["id":id,]"method":m
 * (id 0: a notification); the caller adds params and closes it. */
static void begin_message(pf_json_writer *w, pf_buf *line, uint64_t id, const char *method) {
  pf_jw_init(w, line);
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "jsonrpc");
  pf_jw_str(w, "2.0", 3);
  if (id) {
    PF_JW_KEY(w, "id");
    pf_jw_uint(w, id);
  }
  PF_JW_KEY(w, "method");
  pf_jw_strz(w, method);
}

/* Closes the message begun with begin_message, with params when given. */
static void end_message(pf_json_writer *w, pf_buf *line, const pf_json *params) {
  if (params) {
    PF_JW_KEY(w, "params");
    pf_jw_value(w, params);
  }
  pf_jw_obj_end(w);
  pf_buf_putc(line, '\n');
}

/* Appends a line to the call's notify buffer and wakes the loop thread. */
static void send_line(pf_call *call, const pf_buf *line) {
  uv_mutex_lock(call->notify_lock);
  pf_buf_append(call->notify, line->data, line->len);
  uv_mutex_unlock(call->notify_lock);
  uv_async_send(call->wake);
}

/* Appends notifications/cancelled {requestId: id, reason} to line. */
static void cancelled_line(pf_buf *line, uint64_t id, const char *reason) {
  pf_json_writer w;
  begin_message(&w, line, 0, "notifications/cancelled");
  PF_JW_KEY(&w, "params");
  pf_jw_obj_begin(&w);
  PF_JW_KEY(&w, "requestId");
  pf_jw_uint(&w, id);
  PF_JW_KEY(&w, "reason");
  pf_jw_strz(&w, reason);
  pf_jw_obj_end(&w);
  end_message(&w, line, NULL);
}

static void send_cancelled(pf_call *call, uint64_t id, const char *reason) {
  pf_buf line = PF_BUF_INIT;
  cancelled_line(&line, id, reason);
  if (!line.failed)
    send_line(call, &line);
  pf_buf_free(&line);
}

/* A zeroed record, or NULL when out of memory. */
static pf__outreq *outreq_new(void) {
  pf__outreq *o = pf__malloc(sizeof *o);
  if (!o)
    return NULL;
  memset(o, 0, sizeof *o);
  if (uv_cond_init(&o->cond) != 0) {
    pf__free(o);
    return NULL;
  }
  return o;
}

static void outreq_free(pf__outreq *o) {
  pf__free(o->reply);
  uv_cond_destroy(&o->cond);
  pf__free(o);
}

/* Frees a list of records linked by next. */
static void outreq_free_list(pf__outreq *o) {
  while (o) {
    pf__outreq *n = o->next;
    outreq_free(o);
    o = n;
  }
}

/* Numbers o and puts it on s's list; -PF_ECANCELED when s is closed. */
static int outreq_enlist(pf__session *s, pf__outreq *o) {
  uv_mutex_lock(&s->lock);
  bool closed = s->closed;
  if (!closed) {
    o->id = ++s->next_outreq_id;
    o->next = s->outreqs;
    s->outreqs = o;
  }
  uv_mutex_unlock(&s->lock);
  return closed ? -PF_ECANCELED : 0;
}

/* [s->lock] Wakes whoever waits for o's outcome: the call's loop thread for
 * an asynchronous request (its done callback runs there), else the
 * blocked handler. */
static void outreq_wake_locked(pf__outreq *o) {
  if (o->call)
    uv_async_send(&o->wake);
  else
    uv_cond_signal(&o->cond);
}

static void unlink_locked(pf__session *s, pf__outreq *o) {
  for (pf__outreq **pp = &s->outreqs; *pp; pp = &(*pp)->next)
    if (*pp == o) {
      *pp = o->next;
      return;
    }
}

/* params: NULL, or the text of a JSON object, parsed into *pv. */
static int parse_params(pf_call *call, const char *params, const pf_json **pv) {
  *pv = NULL;
  if (params) {
    *pv = pf_json_parse_copy(params, strlen(params), call->arena, NULL, NULL);
    if (!*pv || pf_json_typeof(*pv) != PF_JSON_OBJECT)
      return -PF_EINVAL;
  }
  return 0;
}

/* The checks both forms of a request make before sending: its params and
 * the capability the method needs. */
static int request_params(pf_call *call, const char *method, const char *params,
                          const pf_json **pv) {
  if (parse_params(call, params, pv) != 0)
    return -PF_EINVAL;
  const char *cap = needed_capability(method, *pv);
  if (cap && !pf_client_supports(call, cap))
    return -PF_ENOTSUP;
  return 0;
}

int pf_client_request(pf_call *call, const char *method, const char *params, unsigned timeout_ms,
                      const pf_json **result) {
  if (result)
    *result = NULL;
  if (!call || !method || !*method || !result)
    return -PF_EINVAL;
  if (!call->async || !call->wake || !call->tool || !call->tool->blocking)
    return -PF_EINVAL; /* waiting would block the event loop */
  pf__session *s = call->s;
  const pf_json *pv;
  int prc = request_params(call, method, params, &pv);
  if (prc)
    return prc;
  if (pf_cancelled(call))
    return -PF_ECANCELED;

  pf__outreq *o = outreq_new();
  if (!o)
    return -PF_ENOMEM;
  o->owner = call->outer_cancelled;
  if (outreq_enlist(s, o) != 0) {
    outreq_free(o);
    return -PF_ECANCELED;
  }

  pf_buf line = PF_BUF_INIT;
  pf_json_writer w;
  begin_message(&w, &line, o->id, method);
  end_message(&w, &line, pv);
  int rc = 0;
  if (line.failed)
    rc = -PF_ENOMEM;
  else
    send_line(call, &line);
  pf_buf_free(&line);

  uint64_t deadline =
      uv_hrtime() + (uint64_t)(timeout_ms ? timeout_ms : s->srv->client_timeout_ms) * 1000000u;
  bool timed_out = false, cancelled = false;
  uv_mutex_lock(&s->lock);
  while (rc == 0 && !o->done) {
    if (pf_cancelled(call)) {
      cancelled = true;
      break;
    }
    uint64_t now = uv_hrtime();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    uint64_t wait = deadline - now;
    (void)uv_cond_timedwait(&o->cond, &s->lock, wait < WAIT_SLICE_NS ? wait : WAIT_SLICE_NS);
  }
  bool closed = s->closed;
  /* The client cancelled the tool call before pf__outreq_wake_all (which
   * its cancellation runs next, on a loop thread) told it about this
   * request: leave the record to it. */
  bool detach = rc == 0 && !o->done && cancelled && !closed && !o->cancel_sent && o->owner &&
                atomic_load(o->owner);
  if (detach) {
    o->detached = true;
    o->owner = NULL; /* the request may be gone by the time the scan runs */
  } else {
    unlink_locked(s, o);
  }
  uv_mutex_unlock(&s->lock);
  if (detach)
    return -PF_ECANCELED;

  if (rc == 0 && o->done) {
    rc = o->rc;
    if (o->reply) {
      const pf_json *v = pf_json_parse_copy(o->reply, o->reply_len, call->arena, NULL, NULL);
      if (!v)
        rc = -PF_ENOMEM;
      else
        *result = v;
    }
  } else if (rc == 0) {
    rc = timed_out ? -PF_ETIMEDOUT : -PF_ECANCELED;
    /* a timeout, or the attempt alone was cancelled (a policy timeout): the
     * call's route is still live */
    if (!closed && !o->cancel_sent)
      send_cancelled(call, o->id, timed_out ? "timed out" : "the request was cancelled");
  }
  outreq_free(o);
  if (rc == -PF_EREMOTE && !*result)
    rc = -PF_ENOMEM;
  return rc;
}

void pf__client_response(pf__session *s, const pf_json *msg) {
  const pf_json *idv = pf_json_get(msg, "id");
  const pf_json *res = pf_json_get(msg, "result");
  const pf_json *err = pf_json_get(msg, "error");
  uint64_t id = 0;
  pf_json_type t = pf_json_typeof(idv);
  if (t == PF_JSON_INT || t == PF_JSON_UINT) {
    int64_t v = pf_json_int_or(idv, -1);
    id = v > 0 ? (uint64_t)v : 0;
  }
  if (!id || (!res && !err)) {
    pf_debug("ignoring a response from the client to an unknown request");
    return;
  }
  pf_buf text = PF_BUF_INIT;
  pf_json_writer w;
  pf_jw_init(&w, &text);
  pf_jw_value(&w, res ? res : err);
  uv_mutex_lock(&s->lock);
  pf__outreq *o = s->outreqs;
  while (o && o->id != id)
    o = o->next;
  if (o && !o->done) {
    o->done = true;
    if (text.failed) {
      o->rc = -PF_ENOMEM;
    } else {
      o->rc = res ? 0 : -PF_EREMOTE;
      o->reply = text.data; /* hand the buffer over */
      o->reply_len = text.len;
      text = (pf_buf)PF_BUF_INIT;
    }
    outreq_wake_locked(o);
  }
  uv_mutex_unlock(&s->lock);
  if (!o)
    pf_debug("ignoring a response from the client to unknown request %llu", (unsigned long long)id);
  pf_buf_free(&text);
}

void pf__outreq_cancel_all(pf__session *s) {
  pf__outreq *gone = NULL;
  uv_mutex_lock(&s->lock);
  for (pf__outreq **pp = &s->outreqs; *pp;) {
    pf__outreq *o = *pp;
    if (o->detached) { /* nobody waits for it: the session is ending, nothing is sent */
      *pp = o->next;
      o->next = gone;
      gone = o;
      continue;
    }
    if (!o->done) {
      o->done = true;
      o->rc = -PF_ECANCELED;
    }
    outreq_wake_locked(o);
    pp = &o->next;
  }
  uv_mutex_unlock(&s->lock);
  outreq_free_list(gone);
}

/* Loop thread (the one that handled notifications/cancelled, or the
 * request's own): wakes the waiting handlers so they see a cancellation,
 * and sends notifications/cancelled for each request whose tool call was
 * cancelled, on the session's default route: the call's own route is
 * dropped once it is cancelled. */
void pf__outreq_wake_all(pf__session *s) {
  pf_buf lines = PF_BUF_INIT;
  pf__outreq *gone = NULL;
  uv_mutex_lock(&s->lock);
  bool closed = s->closed;
  for (pf__outreq **pp = &s->outreqs; *pp;) {
    pf__outreq *o = *pp;
    if (!o->done && !o->cancel_sent && (o->detached || (o->owner && atomic_load(o->owner)))) {
      o->cancel_sent = true;
      if (!closed)
        cancelled_line(&lines, o->id, "the tool call was cancelled");
    }
    if (o->detached) {
      *pp = o->next;
      o->next = gone;
      gone = o;
      continue;
    }
    uv_cond_signal(&o->cond);
    pp = &o->next;
  }
  uv_mutex_unlock(&s->lock);
  if (lines.len && !lines.failed && s->route.emit)
    s->route.emit(s->route.ud, lines.data, lines.len, false);
  pf_buf_free(&lines);
  outreq_free_list(gone);
}

void pf__outreq_release_all(pf__session *s) {
  outreq_free_list(s->outreqs);
  s->outreqs = NULL;
}

int pf_client_notify(pf_call *call, const char *method, const char *params) {
  if (!call || !method || !*method)
    return -PF_EINVAL;
  const pf_json *pv;
  if (parse_params(call, params, &pv) != 0)
    return -PF_EINVAL;
  if (pf_cancelled(call))
    return 0;
  pf_buf line = PF_BUF_INIT;
  pf_json_writer w;
  begin_message(&w, &line, 0, method);
  end_message(&w, &line, pv);
  int rc = 0;
  if (line.failed)
    rc = -PF_ENOMEM;
  else if (call->notify_lock)
    send_line(call, &line); /* a blocking call: the loop sends it now */
  else
    pf_buf_append(call->notify, line.data, line.len); /* before the response */
  pf_buf_free(&line);
  return rc;
}

/* ---- pf_client_request_async ----
 *
 * The record of an asynchronous request lives on the session's list like
 * a blocking one (the answer, pf__outreq_cancel_all and pf__outreq_wake_all
 * find it there), and has two handles on the call's loop: `wake`, which
 * the thread that saw the answer (or the session ending) sends, and the
 * timeout's timer. Whoever sets `done` first decides the outcome; the
 * loop thread then takes the record off the list (`delivered`), runs the
 * done callback and frees the record once both handles are closed. The
 * call's cancellation hook (its request cancelled, its tool's timeout, the
 * session closing) sets the outcome and sends `wake`: the callback never
 * runs inside the cancellation. */

static void async_closed(uv_handle_t *h) {
  pf__outreq *o = h->data;
  if (--o->closing == 0)
    outreq_free(o);
}

/* Loop thread; o is off the list. */
static void async_close(pf__outreq *o) {
  o->closing = 2;
  uv_close((uv_handle_t *)&o->wake, async_closed);
  uv_close((uv_handle_t *)&o->timer, async_closed);
}

/* The handler (or a done callback) returned rc: PF_PENDING with a request
 * in flight leaves the call open, anything else completes it. */
static void async_returned(pf_call *call, int rc) {
  pf__outreq *o = call->outreq;
  if (rc == PF_PENDING && o)
    return;
  if (o) {
    /* it returned without waiting for its request: the client is told */
    pf__session *s = call->s;
    uv_mutex_lock(&s->lock);
    bool tell = !o->done && !o->cancel_sent && !s->closed;
    o->done = o->delivered = o->cancel_sent = true;
    unlink_locked(s, o);
    uv_mutex_unlock(&s->lock);
    call->outreq = NULL;
    if (tell)
      send_cancelled(call, o->id, "the request was cancelled");
    async_close(o);
  }
  if (rc == PF_PENDING) /* pending, but nothing to wait for */
    rc = -PF_EINVAL;
  pf__async_complete(call->async, rc);
}

/* Loop thread: hands the outcome to the done callback (once). */
static void async_deliver(pf__outreq *o) {
  pf_call *call = o->call;
  pf__session *s = call->s;
  uv_mutex_lock(&s->lock);
  if (!o->done || o->delivered) {
    uv_mutex_unlock(&s->lock);
    return;
  }
  o->delivered = true;
  unlink_locked(s, o);
  uv_mutex_unlock(&s->lock);
  call->outreq = NULL;
  int rc = o->rc;
  const pf_json *result = NULL;
  if (o->reply && (rc == 0 || rc == -PF_EREMOTE)) {
    result = pf_json_parse_copy(o->reply, o->reply_len, call->arena, NULL, NULL);
    if (!result)
      rc = -PF_ENOMEM;
  } else if (rc == 0 || rc == -PF_EREMOTE) {
    rc = -PF_ENOMEM;
  }
  pf_client_done cb = o->cb;
  void *ud = o->ud;
  async_close(o);
  async_returned(call, cb(call, rc, result, ud));
}

static void async_on_wake(uv_async_t *h) { async_deliver(h->data); }

static void async_on_timer(uv_timer_t *h) {
  pf__outreq *o = h->data;
  pf__session *s = o->call->s;
  uv_mutex_lock(&s->lock);
  bool tell = false;
  if (!o->done) {
    o->done = true;
    o->rc = -PF_ETIMEDOUT;
    tell = !s->closed && !o->cancel_sent;
    o->cancel_sent = true;
  }
  uv_mutex_unlock(&s->lock);
  if (tell) /* the way the request went, before the call's result */
    send_cancelled(o->call, o->id, "timed out");
  async_deliver(o);
}

/* The call's cancellation hook (loop thread): its request to the client
 * ends with -PF_ECANCELED, and the client is told as for a blocking one.
 * When the tool call itself was cancelled, its route is dropped: the
 * notification goes on the session's default route (unless
 * pf__outreq_wake_all, on the thread that saw the cancellation, sent it
 * already); when only the attempt was (its tool's timeout), on the call's. */
static void async_on_cancel(void *ud) {
  pf_call *call = ud;
  pf__outreq *o = call->outreq;
  if (!o)
    return;
  pf__session *s = call->s;
  pf_buf line = PF_BUF_INIT;
  bool outer = false;
  uv_mutex_lock(&s->lock);
  if (!o->done) {
    o->done = true;
    o->rc = -PF_ECANCELED;
    if (!s->closed && !o->cancel_sent) {
      o->cancel_sent = true;
      outer = o->owner && atomic_load(o->owner);
      cancelled_line(&line, o->id,
                     outer ? "the tool call was cancelled" : "the request was cancelled");
    }
  }
  uv_mutex_unlock(&s->lock);
  if (line.len && !line.failed) {
    if (!outer)
      send_line(call, &line);
    else if (s->route.emit)
      s->route.emit(s->route.ud, line.data, line.len, false);
  }
  pf_buf_free(&line);
  uv_async_send(&o->wake); /* the callback runs on the next turn of the loop */
}

int pf__native_async_start(pf_call *call, uv_loop_t *loop) {
  (void)loop;
  call->outreq = NULL;
  pf__async_on_cancel(call->async, async_on_cancel, call);
  async_returned(call, call->tool->fn(call));
  return 0;
}

int pf_client_request_async(pf_call *call, const char *method, const char *params,
                            unsigned timeout_ms, pf_client_done done, void *ud) {
  if (!call || !method || !*method || !done)
    return -PF_EINVAL;
  if (!call->tool || !call->tool->cfg->async || !call->async || !call->wake)
    return -PF_EINVAL; /* only `async: true` tools run on the asynchronous path */
  pf__session *s = call->s;
  const pf_json *pv;
  int prc = request_params(call, method, params, &pv);
  if (prc)
    return prc;
  if (call->outreq)
    return -PF_ELIMIT; /* one request at a time per call */
  if (pf_cancelled(call))
    return -PF_ECANCELED;

  uv_loop_t *loop = call->wake->loop;
  pf__outreq *o = outreq_new();
  if (!o)
    return -PF_ENOMEM;
  if (uv_async_init(loop, &o->wake, async_on_wake) != 0) {
    outreq_free(o);
    return -PF_ENOMEM;
  }
  uv_timer_init(loop, &o->timer); /* cannot fail */
  o->wake.data = o->timer.data = o;
  o->call = call;
  o->cb = done;
  o->ud = ud;
  o->owner = call->outer_cancelled;

  pf_buf line = PF_BUF_INIT;
  int rc = outreq_enlist(s, o);
  if (rc == 0) {
    pf_json_writer w;
    begin_message(&w, &line, o->id, method);
    end_message(&w, &line, pv);
    if (line.failed) {
      rc = -PF_ENOMEM;
      uv_mutex_lock(&s->lock);
      unlink_locked(s, o);
      uv_mutex_unlock(&s->lock);
    }
  }
  if (rc != 0) {
    pf_buf_free(&line);
    async_close(o);
    return rc;
  }
  send_line(call, &line);
  pf_buf_free(&line);
  uv_timer_start(&o->timer, async_on_timer,
                 (uint64_t)(timeout_ms ? timeout_ms : s->srv->client_timeout_ms), 0);
  call->outreq = o;
  return 0;
}

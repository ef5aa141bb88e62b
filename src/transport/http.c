/* Streamable HTTP (MCP 2025-03-26 .. 2025-11-25) and the legacy HTTP+SSE
 * transport (2024-11-05), on the HTTP/1.1 server in httpd.c.
 *
 * Sessions live in one table shared by the worker threads (a read-mostly
 * lock; looking a session up is the only lock on the hot path). A POST is
 * handled on the worker that received it: the engine session is
 * thread-safe and its scratch memory is per thread. Its answer is
 *   - 202 for notifications and responses,
 *   - one JSON body when the whole answer is ready at once (or always, with
 *     `response: json`), or
 *   - an SSE stream (`response: sse`, or any request that completes later:
 *     blocking tools, which may send progress, logs and requests to the
 *     client before their result).
 * A stream keeps its events in a bounded buffer, so that a client whose
 * connection dropped (or that the server closed, SSE polling) can resume
 * it with GET + Last-Event-ID on any worker. Output for a stream whose
 * connection lives on another worker is handed over with
 * pf__http_worker_post.
 */
#define _GNU_SOURCE /* memmem, memrchr */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/log.h"
#include "mcp/mcp.h"
#include "transport/httpd.h"
#include "transport/transport.h"

#define MAX_EVENTS_HARD 65536    /* undelivered events kept per stream, at most */
#define KEEP_FINISHED_STREAMS 16 /* finished streams kept per session for resumption */
#define SHUTDOWN_SETTLE_MS                                                                         \
  1000 /* after the calls left at the end of shutdown_timeout_ms are cancelled: time for           \
          them to end their streams before the connections are closed */
#define DRAIN_TICK_MS 20 /* how often a stopping server looks at its in-flight requests */
#define MAX_BACKLOG                                                                                \
  ((size_t)8 << 20) /* unsent bytes on a stream before its connection is dropped */
#define KEEPALIVE_MS                                                                               \
  15000 /* an SSE comment on open streams: proxies keep them, dead peers show                      \
         */
#define LEGACY_SSE_PATH "/sse"
#define LEGACY_POST_PATH "/messages"

typedef struct hsrv hsrv;
typedef struct hsess hsess;
typedef struct hstream hstream;

enum { MODE_SSE, MODE_JSON };
enum { RESP_AUTO, RESP_JSON, RESP_SSE };

typedef struct hev {
  uint64_t seq;
  char *data; /* one JSON-RPC message, no newline */
  size_t len;
} hev;

/* An SSE stream (the reply to a POST, the standalone GET stream, or a
 * legacy /sse stream), or, in MODE_JSON, the pending JSON reply to a POST
 * whose request completes later. */
struct hstream {
  pf__route route; /* ud = this */
  _Atomic int refs;
  hsrv *h;
  hsess *hs; /* a reference, or NULL (stateless mode) */
  uint32_t id;
  int mode;
  bool resumable;  /* ids and priming event (2025-11-25) */
  bool standalone; /* the GET stream of its session */
  bool legacy;
  uv_mutex_t lock;
  hev *ring; /* [lock] events, oldest first, in a circular buffer */
  size_t cap, start, count;
  uint64_t seq;       /* [lock] last event's sequence number */
  uint64_t sent;      /* [lock] last sequence number written to the attached connection */
  int finals_left;    /* [lock] responses still to come */
  bool finished;      /* [lock] every response is in the buffer */
  bool closed;        /* [lock] the session ended: end the stream */
  bool flush_posted;  /* [lock] */
  char *extra;        /* MODE_JSON: response headers (session id, CORS), or NULL */
  pf__http_req *req;  /* [lock] attached connection: used only on w's thread */
  pf__http_worker *w; /* [lock] */
  hstream *next;      /* in hs->streams [hs->lock] */
};

struct hsess {
  char id[33];
  hsrv *h;
  pf__session *s;
  _Atomic int refs;
  _Atomic uint64_t last_ms; /* last request (for expiry) */
  uv_mutex_t lock;
  hstream *get;         /* [lock] the standalone GET (or legacy /sse) stream */
  hstream *streams;     /* [lock] POST streams, newest first, for resumption */
  uint32_t next_stream; /* [lock] */
  bool legacy;
  bool closed; /* [lock] */
  hsess *next; /* hash chain [h->table_lock] */
};

struct hsrv {
  pf_server *srv;
  const pf_cfg_http *cfg;
  char *path;
  size_t path_len;
  int response;
  bool stateless, legacy_sse;
  const char *metrics_path; /* or NULL */
  size_t metrics_len;
  pf__httpd *httpd;
  pf__session *shared; /* stateless mode */
  uv_rwlock_t table_lock;
  hsess **buckets;
  size_t nbuckets, nsessions;
  uv_loop_t *loop; /* main thread: signals, session expiry, file watches */
  uv_signal_t sigint, sigterm;
  uv_timer_t expiry, keepalive;
  uv_timer_t drain; /* while stopping: watches the in-flight requests */
  uint64_t stop_ms; /* when the first signal came */
  size_t waiting;   /* in-flight requests then */
  bool stopping;    /* a first signal came: draining */
  bool drained;     /* every in-flight request finished */
  bool cancelled;   /* the rest was cancelled (grace over, or a second signal) */
};

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

static _Thread_local pf_buf tls_out, tls_sse;

/* ------------------------------------------------------------------ */
/* Sessions                                                            */

static size_t bucket_of(const hsrv *h, const char *id, size_t len) {
  uint64_t x = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++)
    x = (x ^ (unsigned char)id[i]) * 1099511628211ull;
  return (size_t)(x & (h->nbuckets - 1));
}

static void hs_ref(hsess *hs) { atomic_fetch_add(&hs->refs, 1); }
static void stream_unref(hstream *st);

static void hs_unref(hsess *hs) {
  if (!hs || atomic_fetch_sub(&hs->refs, 1) != 1)
    return;
  pf__session_unref(hs->s);
  uv_mutex_destroy(&hs->lock);
  pf__free(hs);
}

/* Ends a session: its engine session stops (in-flight calls are cancelled),
 * its streams are ended and released. Idempotent. Any thread. */
static void stream_end_async(hstream *st);

static void hs_close(hsess *hs) {
  uv_mutex_lock(&hs->lock);
  if (hs->closed) {
    uv_mutex_unlock(&hs->lock);
    return;
  }
  hs->closed = true;
  hstream *get = hs->get, *list = hs->streams;
  hs->get = NULL;
  hs->streams = NULL;
  uv_mutex_unlock(&hs->lock);
  pf__session_destroy(hs->s);
  if (get) {
    stream_end_async(get);
    stream_unref(get);
  }
  while (list) {
    hstream *n = list->next;
    stream_end_async(list);
    stream_unref(list);
    list = n;
  }
}

static int random_id(char out[33]) {
  unsigned char b[16];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = getrandom(b + got, sizeof b - got, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    got += (size_t)n;
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof b; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[32] = 0;
  return 0;
}

/* The session default route: output that belongs to no request (resource
 * updates; for legacy sessions, everything) goes to the GET stream. */
static void stream_push(hstream *st, const char *data, size_t len, bool final);

static void hs_emit(void *ud, const char *data, size_t len, bool final) {
  (void) final;
  hsess *hs = ud;
  uv_mutex_lock(&hs->lock);
  hstream *st = hs->get;
  if (st)
    atomic_fetch_add(&st->refs, 1);
  uv_mutex_unlock(&hs->lock);
  if (!st) {
    pf_debug("session %s: no GET stream open; dropping a server message", hs->id);
    return;
  }
  stream_push(st, data, len, false);
  stream_unref(st);
}

static hsess *hs_create(hsrv *h, uv_loop_t *loop, bool legacy) {
  hsess *hs = pf__malloc(sizeof *hs);
  if (!hs)
    return NULL;
  memset(hs, 0, sizeof *hs);
  if (random_id(hs->id) != 0 || uv_mutex_init(&hs->lock) != 0) {
    pf__free(hs);
    return NULL;
  }
  hs->h = h;
  hs->legacy = legacy;
  atomic_init(&hs->refs, 1);
  atomic_init(&hs->last_ms, now_ms());
  pf__route r = {hs_emit, NULL, NULL, NULL, hs};
  hs->s = pf__session_create(h->srv, loop, &r);
  if (!hs->s) {
    uv_mutex_destroy(&hs->lock);
    pf__free(hs);
    return NULL;
  }
  /* hs_close ends the engine session; this reference keeps its memory
   * for requests that raced with the end, until hs itself goes */
  pf__session_ref(hs->s);
  return hs;
}

/* Adds hs to the table (which takes the caller's reference). */
static int table_add(hsrv *h, hsess *hs) {
  uv_rwlock_wrlock(&h->table_lock);
  if (h->nsessions >= h->cfg->max_sessions) {
    uv_rwlock_wrunlock(&h->table_lock);
    return -1;
  }
  size_t b = bucket_of(h, hs->id, 32);
  hs->next = h->buckets[b];
  h->buckets[b] = hs;
  h->nsessions++;
  uv_rwlock_wrunlock(&h->table_lock);
  return 0;
}

/* A reference to the session with this id, or NULL. */
static hsess *table_get(hsrv *h, const char *id, size_t len) {
  if (len != 32)
    return NULL;
  uv_rwlock_rdlock(&h->table_lock);
  hsess *hs = h->buckets[bucket_of(h, id, len)];
  while (hs && memcmp(hs->id, id, 32) != 0)
    hs = hs->next;
  if (hs)
    hs_ref(hs);
  uv_rwlock_rdunlock(&h->table_lock);
  return hs;
}

/* Removes hs from the table; returns whether it was there (the caller then
 * owns the table's reference). */
static bool table_remove(hsrv *h, hsess *hs) {
  bool found = false;
  uv_rwlock_wrlock(&h->table_lock);
  for (hsess **pp = &h->buckets[bucket_of(h, hs->id, 32)]; *pp; pp = &(*pp)->next)
    if (*pp == hs) {
      *pp = hs->next;
      h->nsessions--;
      found = true;
      break;
    }
  uv_rwlock_wrunlock(&h->table_lock);
  return found;
}

static void session_end(hsrv *h, hsess *hs) {
  if (table_remove(h, hs)) {
    hs_close(hs);
    hs_unref(hs);
  }
}

/* ------------------------------------------------------------------ */
/* Streams                                                             */

static void st_emit(void *ud, const char *data, size_t len, bool final) {
  stream_push(ud, data, len, final);
}
static void st_retain(void *ud) { atomic_fetch_add(&((hstream *)ud)->refs, 1); }
static void st_release(void *ud) { stream_unref(ud); }
static void st_close_stream(void *ud, unsigned retry_ms);

static hstream *stream_create(hsrv *h, hsess *hs, int mode, bool resumable) {
  hstream *st = pf__malloc(sizeof *st);
  if (!st)
    return NULL;
  memset(st, 0, sizeof *st);
  if (uv_mutex_init(&st->lock) != 0) {
    pf__free(st);
    return NULL;
  }
  atomic_init(&st->refs, 1);
  st->h = h;
  st->hs = hs;
  st->mode = mode;
  st->resumable = resumable && hs;
  st->route =
      (pf__route){st_emit, st_retain, st_release, st->resumable ? st_close_stream : NULL, st};
  if (hs) {
    hs_ref(hs);
    uv_mutex_lock(&hs->lock);
    st->id = ++hs->next_stream;
    uv_mutex_unlock(&hs->lock);
  }
  return st;
}

static void stream_unref(hstream *st) {
  if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
    return;
  for (size_t i = 0; i < st->count; i++)
    pf__free(st->ring[(st->start + i) % st->cap].data);
  pf__free(st->ring);
  pf__free(st->extra);
  uv_mutex_destroy(&st->lock);
  hs_unref(st->hs);
  pf__free(st);
}

/* Keeps a POST stream for resumption; drops finished, detached streams
 * beyond the newest few. */
static void stream_register(hsess *hs, hstream *st) {
  hstream *drop = NULL;
  uv_mutex_lock(&hs->lock);
  if (hs->closed) {
    uv_mutex_unlock(&hs->lock);
    return;
  }
  atomic_fetch_add(&st->refs, 1);
  st->next = hs->streams;
  hs->streams = st;
  size_t kept = 0;
  for (hstream **pp = &hs->streams; *pp;) {
    hstream *x = *pp;
    uv_mutex_lock(&x->lock);
    bool done = x->finished && !x->req;
    uv_mutex_unlock(&x->lock);
    if (done && ++kept > KEEP_FINISHED_STREAMS) {
      *pp = x->next;
      x->next = drop;
      drop = x;
    } else {
      pp = &x->next;
    }
  }
  uv_mutex_unlock(&hs->lock);
  while (drop) {
    hstream *n = drop->next;
    stream_unref(drop);
    drop = n;
  }
}

/* [st->lock] Appends one event, evicting the oldest delivered one when the
 * buffer is full (and the oldest undelivered one past the hard limit). */
static void ring_add(hstream *st, const char *data, size_t len, size_t keep) {
  if (st->count && st->count == st->cap) {
    bool delivered = st->ring[st->start].seq <= st->sent;
    if (delivered ? st->count >= keep : st->count >= MAX_EVENTS_HARD) {
      if (!delivered)
        pf_warn("stream %u: client not reading; dropping an event", st->id);
      pf__free(st->ring[st->start].data);
      st->start = (st->start + 1) % st->cap;
      st->count--;
    }
  }
  if (st->count == st->cap) {
    size_t ncap = st->cap ? st->cap * 2 : 8;
    hev *n = pf__malloc(ncap * sizeof *n);
    if (!n)
      return;
    for (size_t i = 0; i < st->count; i++)
      n[i] = st->ring[(st->start + i) % st->cap];
    pf__free(st->ring);
    st->ring = n;
    st->cap = ncap;
    st->start = 0;
  }
  char *copy = pf__malloc(len + 1);
  if (!copy)
    return;
  memcpy(copy, data, len);
  copy[len] = 0;
  hev *e = &st->ring[(st->start + st->count) % st->cap];
  e->seq = ++st->seq;
  e->data = copy;
  e->len = len;
  st->count++;
}

static void stream_flush(hstream *st);

static void flush_cb(void *arg) {
  hstream *st = arg;
  stream_flush(st);
  stream_unref(st);
}

/* Schedules a flush on the thread of the attached connection (or does it
 * now when that is this thread). */
static void stream_kick(hstream *st) {
  uv_mutex_lock(&st->lock);
  pf__http_worker *w = st->req ? st->w : NULL;
  bool here = w && w == pf__http_worker_current();
  bool post = w && !here && !st->flush_posted;
  if (post)
    st->flush_posted = true;
  uv_mutex_unlock(&st->lock);
  if (here) {
    stream_flush(st);
  } else if (post) {
    atomic_fetch_add(&st->refs, 1);
    if (pf__http_worker_post(w, flush_cb, st) != 0)
      stream_unref(st);
  }
}

static void forward_to_get(hsess *hs, const char *data, size_t len) {
  if (len && hs)
    hs_emit(hs, data, len, false);
}

static void stream_push(hstream *st, const char *data, size_t len, bool final) {
  if (st->mode == MODE_JSON) {
    /* notifications go to the GET stream; the response is kept */
    const char *last = data;
    size_t last_len = len;
    if (final) {
      size_t end = len && data[len - 1] == '\n' ? len - 1 : len;
      const char *nl = end ? memrchr(data, '\n', end) : NULL;
      last = nl ? nl + 1 : data;
      last_len = end - (size_t)(last - data);
      forward_to_get(st->hs, data, (size_t)(last - data));
    } else {
      forward_to_get(st->hs, data, len);
      return;
    }
    uv_mutex_lock(&st->lock);
    if (last_len) /* nothing for a cancelled request */
      ring_add(st, last, last_len, (size_t)-1);
    if (--st->finals_left <= 0)
      st->finished = true;
    uv_mutex_unlock(&st->lock);
    stream_kick(st);
    return;
  }
  size_t keep = st->h->cfg->sse_buffer;
  uv_mutex_lock(&st->lock);
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(data + i, '\n', len - i);
    size_t l = nl ? (size_t)(nl - (data + i)) : len - i;
    if (l)
      ring_add(st, data + i, l, keep);
    i += l + 1;
  }
  if (final && --st->finals_left <= 0)
    st->finished = true;
  uv_mutex_unlock(&st->lock);
  stream_kick(st);
}

static void sse_event(pf_buf *b, const hstream *st, const hev *e) {
  if (st->resumable)
    pf_buf_printf(b, "id: %u_%llu\n", st->id, (unsigned long long)e->seq);
  pf_buf_append(b, "event: message\ndata: ", 21);
  pf_buf_append(b, e->data, e->len);
  pf_buf_append(b, "\n\n", 2);
}

/* [st->lock] Appends the events the connection has not seen as SSE and
 * marks them sent. */
static void take_unsent(hstream *st, pf_buf *b) {
  for (size_t i = 0; i < st->count; i++) {
    const hev *e = &st->ring[(st->start + i) % st->cap];
    if (e->seq > st->sent)
      sse_event(b, st, e);
  }
  st->sent = st->seq;
}

static void detach_locked(hstream *st, pf__http_req *req) {
  st->req = NULL;
  st->w = NULL;
  req->ud = NULL;
}

/* On the attached connection's thread: writes what it has not seen; ends
 * the response once every response has gone out. */
static void stream_flush(hstream *st) {
  uv_mutex_lock(&st->lock);
  st->flush_posted = false;
  pf__http_req *req = st->req;
  if (!req || st->w != pf__http_worker_current()) {
    uv_mutex_unlock(&st->lock);
    return;
  }
  if (st->mode == MODE_JSON) {
    if (!st->finished && !st->closed) {
      uv_mutex_unlock(&st->lock);
      return;
    }
    char *body = NULL;
    size_t len = 0;
    if (st->count) {
      hev *e = &st->ring[(st->start + st->count - 1) % st->cap];
      body = e->data;
      len = e->len;
      e->data = NULL;
      st->count--;
    }
    detach_locked(st, req);
    uv_mutex_unlock(&st->lock);
    if (body)
      pf__http_respond(req, 200, "application/json", st->extra, body, len);
    else if (!st->closed) /* the request was cancelled: no response */
      pf__http_respond(req, 202, NULL, st->extra, NULL, 0);
    else
      pf__http_respond(req, 503, "application/json", NULL,
                       "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
                       "\"message\":\"the session ended before the request completed\"}}",
                       113);
    pf__free(body);
    stream_unref(st); /* the connection's reference */
    return;
  }
  if (pf__http_stream_backlog(req) > MAX_BACKLOG) {
    /* the client does not read: drop the connection, keep the events; it
     * can resume with Last-Event-ID (what it missed stays buffered) */
    detach_locked(st, req);
    uv_mutex_unlock(&st->lock);
    pf_warn("an SSE client is not reading (over %zu bytes queued); closing its connection",
            MAX_BACKLOG);
    pf__http_stream_close(req);
    if (st->legacy) /* a legacy session lives as long as its /sse connection */
      session_end(st->h, st->hs);
    stream_unref(st);
    return;
  }
  pf_buf b = PF_BUF_INIT;
  take_unsent(st, &b);
  bool end = (st->finished && !st->standalone) || st->closed;
  if (end)
    detach_locked(st, req);
  uv_mutex_unlock(&st->lock);
  if (b.len && !b.failed)
    pf__http_stream_write(req, b.data, b.len);
  pf_buf_free(&b);
  if (end) {
    pf__http_stream_end(req);
    stream_unref(st);
  }
}

/* Attaches a connection (this thread) and starts its SSE response. With
 * resume, only events after `after` are sent. Returns -1 (nothing done)
 * when another connection is attached. */
static int stream_attach(hstream *st, pf__http_req *req, const char *extra_headers, bool resume,
                         uint64_t after) {
  uv_mutex_lock(&st->lock);
  if (st->req) {
    uv_mutex_unlock(&st->lock);
    return -1;
  }
  st->req = req;
  st->w = pf__http_worker_current();
  if (resume)
    st->sent = after;
  uv_mutex_unlock(&st->lock);
  atomic_fetch_add(&st->refs, 1); /* the connection's reference */
  req->ud = st;
  if (st->mode == MODE_JSON && extra_headers && *extra_headers && !st->extra) {
    size_t n = strlen(extra_headers);
    st->extra = pf__malloc(n + 1);
    if (st->extra)
      memcpy(st->extra, extra_headers, n + 1);
  }
  if (st->mode == MODE_SSE) {
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n%s",
             extra_headers ? extra_headers : "");
    pf__http_stream_begin(req, 200, "text/event-stream", hdr);
    if (st->resumable && !resume) {
      /* the priming event: an id to resume from even before any message */
      char prime[96];
      int n = snprintf(prime, sizeof prime, "id: %u_0\nretry: %u\ndata: \n\n", st->id,
                       st->h->cfg->sse_retry_ms);
      pf__http_stream_write(req, prime, (size_t)n);
    }
  }
  stream_flush(st);
  return 0;
}

/* The connection of an attached stream went away. */
static void stream_detach(hstream *st, pf__http_req *req) {
  uv_mutex_lock(&st->lock);
  bool was = st->req == req;
  if (was)
    detach_locked(st, req);
  uv_mutex_unlock(&st->lock);
  if (was)
    stream_unref(st);
}

typedef struct close_job {
  hstream *st;
  unsigned retry_ms;
  bool end_only; /* the session ended: end the stream without retry */
} close_job;

static void close_now(hstream *st, unsigned retry_ms, bool end_only) {
  uv_mutex_lock(&st->lock);
  pf__http_req *req = st->req;
  if (!req || st->w != pf__http_worker_current()) {
    uv_mutex_unlock(&st->lock);
    return;
  }
  pf_buf b = PF_BUF_INIT;
  if (st->mode == MODE_SSE)
    take_unsent(st, &b);
  if (!end_only)
    pf_buf_printf(&b, "retry: %u\n\n", retry_ms);
  if (st->mode == MODE_JSON && !end_only) {
    /* a JSON reply cannot be resumed: keep it open */
    uv_mutex_unlock(&st->lock);
    pf_buf_free(&b);
    return;
  }
  detach_locked(st, req);
  uv_mutex_unlock(&st->lock);
  if (st->mode == MODE_JSON) {
    pf__http_respond(req, 404, "application/json", NULL,
                     "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,"
                     "\"message\":\"Session not found\"}}",
                     83);
  } else {
    if (b.len && !b.failed)
      pf__http_stream_write(req, b.data, b.len);
    if (end_only)
      pf__http_stream_end(req);
    else
      pf__http_stream_close(req);
  }
  pf_buf_free(&b);
  stream_unref(st);
}

static void close_cb(void *arg) {
  close_job *j = arg;
  close_now(j->st, j->retry_ms, j->end_only);
  stream_unref(j->st);
  pf__free(j);
}

static void stream_close_on_owner(hstream *st, unsigned retry_ms, bool end_only) {
  uv_mutex_lock(&st->lock);
  if (end_only)
    st->closed = true;
  pf__http_worker *w = st->req ? st->w : NULL;
  uv_mutex_unlock(&st->lock);
  if (!w)
    return;
  if (w == pf__http_worker_current()) {
    close_now(st, retry_ms, end_only);
    return;
  }
  close_job *j = pf__malloc(sizeof *j);
  if (!j)
    return;
  *j = (close_job){st, retry_ms, end_only};
  atomic_fetch_add(&st->refs, 1);
  if (pf__http_worker_post(w, close_cb, j) != 0) {
    stream_unref(st);
    pf__free(j);
  }
}

/* pf_stream_close: SSE polling. */
static void st_close_stream(void *ud, unsigned retry_ms) {
  stream_close_on_owner(ud, retry_ms, false);
}

static void stream_end_async(hstream *st) { stream_close_on_owner(st, 0, true); }

/* ------------------------------------------------------------------ */
/* Request checks                                                      */

static bool has_token(const char *v, size_t len, const char *tok) {
  size_t tl = strlen(tok);
  for (size_t i = 0; i + tl <= len; i++)
    if (strncasecmp(v + i, tok, tl) == 0)
      return true;
  return false;
}

static bool is_local_host(const char *h, size_t len) {
  /* strip a port */
  if (len && h[0] == '[') {
    const char *e = memchr(h, ']', len);
    if (!e)
      return false;
    return (size_t)(e - h) == 4 && memcmp(h, "[::1", 4) == 0;
  }
  const char *colon = memchr(h, ':', len);
  size_t n = colon ? (size_t)(colon - h) : len;
  return (n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
         (n == 9 && memcmp(h, "127.0.0.1", 9) == 0);
}

static bool in_list(const char *const *list, size_t n, const char *v, size_t len) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(list[i], "*") == 0)
      return true;
    if (strlen(list[i]) == len && strncasecmp(list[i], v, len) == 0)
      return true;
  }
  return false;
}

/* DNS-rebinding protection: 0 when Host and Origin are acceptable. */
static int check_origin(hsrv *h, pf__http_req *req, const char **why) {
  size_t hl, ol;
  const char *host = pf__http_header_get(req, "host", &hl);
  if (host && !is_local_host(host, hl) &&
      !in_list(h->cfg->allowed_hosts, h->cfg->nallowed_hosts, host, hl)) {
    *why = "Forbidden: Host not allowed";
    return -1;
  }
  const char *origin = pf__http_header_get(req, "origin", &ol);
  if (origin) {
    /* header values are not NUL-terminated */
    const char *p = memmem(origin, ol, "://", 3);
    bool ok = false;
    if (p) {
      const char *oh = p + 3;
      size_t ohl = ol - (size_t)(oh - origin);
      ok = is_local_host(oh, ohl);
    }
    if (!ok && !in_list(h->cfg->allowed_origins, h->cfg->nallowed_origins, origin, ol)) {
      *why = "Forbidden: Origin not allowed";
      return -1;
    }
  }
  return 0;
}

static void rpc_http_error(pf__http_req *req, int status, int code, const char *msg,
                           const char *extra) {
  char body[512];
  int n = snprintf(body, sizeof body,
                   "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,\"message\":\"%s\"}}",
                   code, msg);
  pf__http_respond(req, status, "application/json", extra, body, (size_t)n);
}

/* CORS for an allowed browser Origin. */
static void cors_headers(pf__http_req *req, char *buf, size_t cap) {
  size_t ol;
  const char *origin = pf__http_header_get(req, "origin", &ol);
  buf[0] = 0;
  if (origin && ol < 200)
    snprintf(buf, cap,
             "Access-Control-Allow-Origin: %.*s\r\nAccess-Control-Expose-Headers: "
             "Mcp-Session-Id, Mcp-Protocol-Version\r\nVary: Origin\r\n",
             (int)ol, origin);
}

static int check_version_header(pf__http_req *req) {
  size_t vl;
  const char *v = pf__http_header_get(req, "mcp-protocol-version", &vl);
  if (!v)
    return 0;
  for (int i = 0; i < PF_PROTO__COUNT; i++)
    if (strlen(pf__proto_names[i]) == vl && memcmp(pf__proto_names[i], v, vl) == 0)
      return 0;
  return -1;
}

static hsess *session_of(hsrv *h, pf__http_req *req, const char *cors, bool *answered) {
  size_t sl;
  const char *sid = pf__http_header_get(req, "mcp-session-id", &sl);
  *answered = true;
  if (!sid) {
    rpc_http_error(req, 400, -32000, "Bad Request: Mcp-Session-Id header is required", cors);
    return NULL;
  }
  hsess *hs = table_get(h, sid, sl);
  if (!hs || hs->legacy) {
    hs_unref(hs);
    rpc_http_error(req, 404, -32001, "Session not found", cors);
    return NULL;
  }
  if (check_version_header(req) != 0) {
    hs_unref(hs);
    rpc_http_error(req, 400, -32000, "Bad Request: Unsupported protocol version", cors);
    return NULL;
  }
  /* a store only when it changes the second: workers share this line */
  uint64_t now = now_ms();
  if (now - atomic_load_explicit(&hs->last_ms, memory_order_relaxed) >= 1000)
    atomic_store_explicit(&hs->last_ms, now, memory_order_relaxed);
  *answered = false;
  return hs;
}

/* ------------------------------------------------------------------ */
/* POST                                                                */

typedef struct post_ctx {
  hsrv *h;
  hsess *hs;
  hstream *st;
  int mode;
  bool resumable;
} post_ctx;

static const pf__route *make_post_route(pf__msgctx *ctx) {
  post_ctx *pc = ctx->ud;
  pc->st = stream_create(pc->h, pc->hs, pc->mode, pc->resumable);
  return pc->st ? &pc->st->route : NULL;
}

/* A sync answer as SSE events in one body. */
static void sse_body(pf_buf *b, const char *out, size_t len) {
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(out + i, '\n', len - i);
    size_t l = nl ? (size_t)(nl - (out + i)) : len - i;
    if (l) {
      pf_buf_append(b, "event: message\ndata: ", 21);
      pf_buf_append(b, out + i, l);
      pf_buf_append(b, "\n\n", 2);
    }
    i += l + 1;
  }
}

static size_t count_lines(const char *p, size_t len) {
  size_t n = 0;
  for (const char *e = p + len; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
    n++;
  return n;
}

static void answer_sync(hsrv *h, hsess *hs, pf__http_req *req, pf_buf *out, const char *extra) {
  if (!out->len) {
    pf__http_respond(req, 202, NULL, extra, NULL, 0);
    return;
  }
  size_t nlines = count_lines(out->data, out->len);
  /* A body the server cannot accept (not JSON, not a JSON-RPC message) is
   * an HTTP error, with the JSON-RPC error (id null) as its body. */
  static const char unreadable[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32";
  if (nlines == 1 && out->len > sizeof unreadable - 1 + 3 &&
      memcmp(out->data, unreadable, sizeof unreadable - 1) == 0 &&
      (memcmp(out->data + sizeof unreadable - 1, "700", 3) == 0 ||
       memcmp(out->data + sizeof unreadable - 1, "600", 3) == 0)) {
    pf__http_respond(req, 400, "application/json", extra, out->data, out->len - 1);
    return;
  }
  bool json = h->response == RESP_JSON || (h->response == RESP_AUTO && nlines == 1);
  if (json) {
    size_t end = out->len - 1; /* the final '\n' */
    const char *nl = memrchr(out->data, '\n', end);
    size_t start = nl ? (size_t)(nl - out->data) + 1 : 0;
    if (start && hs)
      forward_to_get(hs, out->data, start);
    pf__http_respond(req, 200, "application/json", extra, out->data + start, end - start);
    return;
  }
  pf_buf *b = &tls_sse;
  pf_buf_reset(b);
  sse_body(b, out->data, out->len);
  char hdr[1024];
  snprintf(hdr, sizeof hdr, "Cache-Control: no-cache\r\n%s", extra ? extra : "");
  if (b->failed)
    rpc_http_error(req, 500, -32603, "Internal error: out of memory", extra);
  else
    pf__http_respond(req, 200, "text/event-stream", hdr, b->data, b->len);
  if (b->failed || b->cap > 1024 * 1024)
    pf_buf_free(b);
}

static bool looks_like_initialize(const char *body, size_t len) {
  static const char m[] = "\"initialize\"";
  return len >= sizeof m - 1 && memmem(body, len, m, sizeof m - 1) != NULL;
}

static void on_post(hsrv *h, pf__http_req *req, const char *cors) {
  size_t cl, al;
  const char *ct = pf__http_header_get(req, "content-type", &cl);
  if (!ct || !has_token(ct, cl, "application/json")) {
    rpc_http_error(req, 415, -32000,
                   "Unsupported Media Type: Content-Type must be application/json", cors);
    return;
  }
  const char *acc = pf__http_header_get(req, "accept", &al);
  if (!acc ||
      !((has_token(acc, al, "application/json") && has_token(acc, al, "text/event-stream")) ||
        has_token(acc, al, "*/*"))) {
    rpc_http_error(req, 406, -32000,
                   "Not Acceptable: Accept must list application/json and text/event-stream", cors);
    return;
  }
  hsess *hs = NULL;
  pf__session *s;
  bool tentative = false;
  uv_loop_t *loop = pf__http_worker_loop(req->worker);
  if (h->stateless) {
    s = h->shared;
  } else if (pf__http_header_get(req, "mcp-session-id", &cl)) {
    bool answered;
    hs = session_of(h, req, cors, &answered);
    if (!hs)
      return;
    s = hs->s;
  } else {
    if (!looks_like_initialize(req->body, req->body_len)) {
      rpc_http_error(req, 400, -32000, "Bad Request: Mcp-Session-Id header is required", cors);
      return;
    }
    hs = hs_create(h, loop, false);
    if (!hs) {
      rpc_http_error(req, 500, -32603, "Internal error: cannot create a session", cors);
      return;
    }
    tentative = true;
    s = hs->s;
  }
  post_ctx pc = {h, hs, NULL, h->response == RESP_JSON ? MODE_JSON : MODE_SSE,
                 s->proto >= PF_PROTO_2025_11_25 && !h->stateless};
  pf__msgctx ctx = {.loop = loop, .make_route = make_post_route, .ud = &pc};
  pf_buf *out = &tls_out;
  pf_buf_reset(out);
  pf__session_handle_ctx(s, req->body, req->body_len, out, &ctx);

  char extra[768];
  snprintf(extra, sizeof extra, "%s", cors);
  if (tentative) {
    if (atomic_load(&s->state) != 1) {
      /* not a successful initialize: no session */
      hs_close(hs);
      hs_unref(hs);
      if (out->len)
        pf__http_respond(req, 400, "application/json", cors, out->data, out->len - 1);
      else
        rpc_http_error(req, 400, -32000, "Bad Request: Mcp-Session-Id header is required", cors);
      return;
    }
    if (table_add(h, hs) != 0) {
      hs_close(hs);
      hs_unref(hs);
      rpc_http_error(req, 503, -32000, "Service Unavailable: too many sessions", cors);
      return;
    }
    hs_ref(hs); /* the table keeps the creator's reference; this one is ours */
    snprintf(extra, sizeof extra, "Mcp-Session-Id: %s\r\n%s", hs->id, cors);
  }
  if (out->failed || !ctx.async) {
    /* a stream opened for a call that then finished at once (or failed to
     * start) is not used: drop make_post_route's reference */
    stream_unref(pc.st);
    if (out->failed) {
      pf_buf_free(out);
      rpc_http_error(req, 500, -32603, "Internal error: out of memory", extra);
    } else {
      answer_sync(h, hs, req, out, extra);
    }
  } else if (!pc.st) {
    rpc_http_error(req, 500, -32603, "Internal error: no stream", extra);
  } else {
    hstream *st = pc.st;
    uv_mutex_lock(&st->lock);
    st->finals_left += ctx.async;
    uv_mutex_unlock(&st->lock);
    if (out->len)
      stream_push(st, out->data, out->len, false);
    if (st->resumable && hs)
      stream_register(hs, st);
    stream_attach(st, req, extra, false, 0);
    stream_unref(st); /* make_post_route's reference */
  }
  if (out->cap > 1024 * 1024)
    pf_buf_free(out);
  hs_unref(hs);
}

/* ------------------------------------------------------------------ */
/* GET and DELETE                                                      */

static hstream *find_stream(hsess *hs, uint32_t id) {
  uv_mutex_lock(&hs->lock);
  hstream *st = hs->get && hs->get->id == id ? hs->get : NULL;
  for (hstream *x = hs->streams; x && !st; x = x->next)
    if (x->id == id)
      st = x;
  if (st)
    atomic_fetch_add(&st->refs, 1);
  uv_mutex_unlock(&hs->lock);
  return st;
}

static void on_get(hsrv *h, pf__http_req *req, const char *cors) {
  size_t al;
  if (h->stateless) {
    pf__http_respond(req, 405, "text/plain", "Allow: POST\r\n", "Method Not Allowed\n", 19);
    return;
  }
  const char *acc = pf__http_header_get(req, "accept", &al);
  if (!acc || !(has_token(acc, al, "text/event-stream") || has_token(acc, al, "*/*"))) {
    rpc_http_error(req, 406, -32000, "Not Acceptable: Accept must list text/event-stream", cors);
    return;
  }
  bool answered;
  hsess *hs = session_of(h, req, cors, &answered);
  if (!hs)
    return;
  size_t ll;
  const char *lei = pf__http_header_get(req, "last-event-id", &ll);
  if (lei) {
    char tmp[48];
    unsigned sid = 0;
    unsigned long long seq = 0;
    if (ll < sizeof tmp) {
      memcpy(tmp, lei, ll);
      tmp[ll] = 0;
      if (sscanf(tmp, "%u_%llu", &sid, &seq) == 2) {
        hstream *st = find_stream(hs, sid);
        if (st) {
          int rc = stream_attach(st, req, cors, true, seq);
          stream_unref(st);
          if (rc != 0)
            rpc_http_error(req, 409, -32000, "Conflict: the stream is already connected", cors);
          hs_unref(hs);
          return;
        }
      }
    }
    /* an unknown event id: nothing to replay; a fresh standalone stream */
  }
  uv_mutex_lock(&hs->lock);
  hstream *st = hs->get;
  if (st)
    atomic_fetch_add(&st->refs, 1);
  uv_mutex_unlock(&hs->lock);
  if (!st) {
    st = stream_create(h, hs, MODE_SSE, hs->s->proto >= PF_PROTO_2025_11_25);
    if (!st) {
      hs_unref(hs);
      rpc_http_error(req, 500, -32603, "Internal error: out of memory", cors);
      return;
    }
    st->standalone = true;
    uv_mutex_lock(&hs->lock);
    if (hs->get || hs->closed) {
      uv_mutex_unlock(&hs->lock);
      stream_unref(st);
      hs_unref(hs);
      rpc_http_error(req, 409, -32000, "Conflict: only one GET stream per session", cors);
      return;
    }
    hs->get = st;
    atomic_fetch_add(&st->refs, 1); /* the session's */
    uv_mutex_unlock(&hs->lock);
  }
  if (stream_attach(st, req, cors, false, 0) != 0)
    rpc_http_error(req, 409, -32000, "Conflict: only one GET stream per session", cors);
  stream_unref(st);
  hs_unref(hs);
}

static void on_delete(hsrv *h, pf__http_req *req, const char *cors) {
  if (h->stateless) {
    pf__http_respond(req, 405, "text/plain", "Allow: POST\r\n", "Method Not Allowed\n", 19);
    return;
  }
  bool answered;
  hsess *hs = session_of(h, req, cors, &answered);
  if (!hs)
    return;
  session_end(h, hs);
  hs_unref(hs);
  pf__http_respond(req, 200, NULL, cors, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Legacy HTTP+SSE (2024-11-05)                                        */

static void on_legacy_sse(hsrv *h, pf__http_req *req, const char *cors) {
  hsess *hs = hs_create(h, pf__http_worker_loop(req->worker), true);
  hstream *st = hs ? stream_create(h, hs, MODE_SSE, false) : NULL;
  if (!st || table_add(h, hs) != 0) {
    if (hs) {
      hs_close(hs);
      hs_unref(hs);
    }
    stream_unref(st);
    rpc_http_error(req, 503, -32000, "Service Unavailable: cannot open a session", cors);
    return;
  }
  st->standalone = true;
  st->legacy = true;
  uv_mutex_lock(&hs->lock);
  hs->get = st;
  atomic_fetch_add(&st->refs, 1);
  uv_mutex_unlock(&hs->lock);
  stream_attach(st, req, cors, false, 0);
  char ev[128];
  int n = snprintf(ev, sizeof ev, "event: endpoint\ndata: %s?sessionId=%s\n\n", LEGACY_POST_PATH,
                   hs->id);
  pf__http_stream_write(req, ev, (size_t)n);
  stream_unref(st);
}

static void on_legacy_post(hsrv *h, pf__http_req *req, const char *cors) {
  const char *q = req->query;
  size_t ql = req->query_len;
  const char *p = q ? memmem(q, ql, "sessionId=", 10) : NULL;
  hsess *hs = NULL;
  if (p) {
    const char *v = p + 10;
    size_t vl = ql - (size_t)(v - q);
    const char *amp = memchr(v, '&', vl);
    hs = table_get(h, v, amp ? (size_t)(amp - v) : vl);
  }
  if (!hs || !hs->legacy) {
    hs_unref(hs);
    rpc_http_error(req, 404, -32001, "Session not found", cors);
    return;
  }
  atomic_store(&hs->last_ms, now_ms());
  pf__msgctx ctx = {.loop = pf__http_worker_loop(req->worker)}; /* the default route: /sse */
  pf_buf *out = &tls_out;
  pf_buf_reset(out);
  pf__session_handle_ctx(hs->s, req->body, req->body_len, out, &ctx);
  if (out->len && !out->failed)
    hs_emit(hs, out->data, out->len, false);
  pf__http_respond(req, 202, "text/plain", cors, "Accepted\n", 9);
  hs_unref(hs);
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

static void on_request(pf__http_req *req, void *ud) {
  hsrv *h = ud;
  const char *why;
  char cors[512];
  if (check_origin(h, req, &why) != 0) {
    rpc_http_error(req, 403, -32000, why, NULL);
    return;
  }
  cors_headers(req, cors, sizeof cors);
  bool mcp = req->path_len == h->path_len && memcmp(req->path, h->path, h->path_len) == 0;
  if (mcp) {
    switch (req->method) {
    case PF_HTTP_POST: on_post(h, req, cors); return;
    case PF_HTTP_GET: on_get(h, req, cors); return;
    case PF_HTTP_DELETE: on_delete(h, req, cors); return;
    case PF_HTTP_OPTIONS: {
      char hdr[1024];
      snprintf(hdr, sizeof hdr,
               "%sAccess-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n"
               "Access-Control-Allow-Headers: Content-Type, Accept, Authorization, "
               "Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID\r\n"
               "Access-Control-Max-Age: 86400\r\n",
               cors);
      pf__http_respond(req, 204, NULL, hdr, NULL, 0);
      return;
    }
    default:
      pf__http_respond(req, 405, "text/plain", "Allow: GET, POST, DELETE, OPTIONS\r\n",
                       "Method Not Allowed\n", 19);
      return;
    }
  }
  if (h->metrics_len && req->path_len == h->metrics_len &&
      memcmp(req->path, h->metrics_path, h->metrics_len) == 0 && req->method == PF_HTTP_GET) {
    pf_buf m = PF_BUF_INIT;
    pf__server_metrics(h->srv, &m);
    if (m.failed)
      pf__http_respond(req, 500, "text/plain", NULL, "Out of memory\n", 14);
    else
      pf__http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, m.data, m.len);
    pf_buf_free(&m);
    return;
  }
  if (h->legacy_sse && !h->stateless) {
    if (req->path_len == strlen(LEGACY_SSE_PATH) &&
        memcmp(req->path, LEGACY_SSE_PATH, req->path_len) == 0 && req->method == PF_HTTP_GET) {
      on_legacy_sse(h, req, cors);
      return;
    }
    if (req->path_len == strlen(LEGACY_POST_PATH) &&
        memcmp(req->path, LEGACY_POST_PATH, req->path_len) == 0 && req->method == PF_HTTP_POST) {
      on_legacy_post(h, req, cors);
      return;
    }
  }
  pf__http_respond(req, 404, "text/plain", NULL, "Not Found\n", 10);
}

static void on_abort(pf__http_req *req, void *ud) {
  hsrv *h = ud;
  hstream *st = req->ud;
  if (!st)
    return;
  atomic_fetch_add(&st->refs, 1);
  stream_detach(st, req);
  if (st->legacy) /* a legacy session lives as long as its /sse connection */
    session_end(h, st->hs);
  stream_unref(st);
}

static void on_worker_stop(pf__http_worker *w, void *ud) {
  (void)w;
  (void)ud;
  pf_buf_free(&tls_out);
  pf_buf_free(&tls_sse);
  pf__scratch_release();
}

/* ------------------------------------------------------------------ */
/* Main thread: expiry, signals                                        */

static void on_expiry(uv_timer_t *t) {
  hsrv *h = t->data;
  uint64_t now = now_ms(), ttl = (uint64_t)h->cfg->session_ttl_s * 1000u;
  hsess *dead = NULL;
  uv_rwlock_wrlock(&h->table_lock);
  for (size_t b = 0; b < h->nbuckets; b++)
    for (hsess **pp = &h->buckets[b]; *pp;) {
      hsess *hs = *pp;
      bool busy = false;
      uv_mutex_lock(&hs->lock);
      if (hs->get) {
        uv_mutex_lock(&hs->get->lock);
        busy = hs->get->req != NULL;
        uv_mutex_unlock(&hs->get->lock);
      }
      uv_mutex_unlock(&hs->lock);
      if (!hs->legacy && !busy && now - atomic_load(&hs->last_ms) > ttl &&
          pf__session_pending(hs->s) == 0) {
        *pp = hs->next;
        h->nsessions--;
        hs->next = dead;
        dead = hs;
      } else {
        pp = &hs->next;
      }
    }
  uv_rwlock_wrunlock(&h->table_lock);
  while (dead) {
    hsess *n = dead->next;
    pf_debug("session %s expired", dead->id);
    hs_close(dead);
    hs_unref(dead);
    dead = n;
  }
}

static void keepalive_cb(void *arg) {
  hstream *st = arg;
  uv_mutex_lock(&st->lock);
  pf__http_req *req = st->req && st->w == pf__http_worker_current() ? st->req : NULL;
  uv_mutex_unlock(&st->lock);
  if (req && st->mode == MODE_SSE)
    pf__http_stream_write(req, ": keepalive\n\n", 13);
  stream_unref(st);
}

static void keepalive_one(hstream *st) {
  uv_mutex_lock(&st->lock);
  pf__http_worker *w = st->req && st->mode == MODE_SSE ? st->w : NULL;
  uv_mutex_unlock(&st->lock);
  if (!w)
    return;
  atomic_fetch_add(&st->refs, 1);
  if (pf__http_worker_post(w, keepalive_cb, st) != 0)
    stream_unref(st);
}

/* Main thread: a comment on every open SSE stream. */
static void on_keepalive(uv_timer_t *t) {
  hsrv *h = t->data;
  uv_rwlock_rdlock(&h->table_lock);
  for (size_t b = 0; b < h->nbuckets; b++)
    for (hsess *hs = h->buckets[b]; hs; hs = hs->next) {
      uv_mutex_lock(&hs->lock);
      if (hs->get)
        keepalive_one(hs->get);
      for (hstream *st = hs->streams; st; st = st->next)
        keepalive_one(st);
      uv_mutex_unlock(&hs->lock);
    }
  uv_rwlock_rdunlock(&h->table_lock);
}

/* ---- graceful shutdown ----
 *
 * The first SIGINT/SIGTERM stops the server from taking work: httpd closes
 * the listeners and the idle connections and answers 503 to requests not
 * completely received (httpd.h). Calls in flight run on and deliver their
 * responses (on their POST's SSE stream or as its JSON body); requests to
 * the client they wait on are cancelled, since its answer could no longer
 * arrive. Standalone GET streams are ended at once (a clean end of the
 * chunked body); a legacy /sse stream, which carries its session's
 * responses, once that session has no call left. After
 * shutdown_timeout_ms the calls still running are cancelled (their streams
 * end without a response) and, SHUTDOWN_SETTLE_MS later, whatever
 * connection is left is closed. A second signal does that at once. */

static const char *signal_name(int signum) {
  return signum == SIGINT ? "SIGINT" : signum == SIGTERM ? "SIGTERM" : "a signal";
}

/* Ends st cleanly when a connection is attached to it; returns whether one was. */
static bool end_attached(hstream *st) {
  uv_mutex_lock(&st->lock);
  bool open = st->req != NULL && !st->closed;
  uv_mutex_unlock(&st->lock);
  if (open)
    stream_end_async(st);
  return open;
}

/* Ends hs's GET (or legacy /sse) stream; returns whether it was open. */
static bool end_get_stream(hsess *hs) {
  uv_mutex_lock(&hs->lock);
  hstream *st = hs->get;
  if (st)
    atomic_fetch_add(&st->refs, 1);
  uv_mutex_unlock(&hs->lock);
  if (!st)
    return false;
  bool open = end_attached(st);
  stream_unref(st);
  return open;
}

/* Main thread, while stopping: one pass over the sessions; returns the
 * number of calls still running. Ends every standalone GET stream (also
 * one that a request racing with the signal opened), the legacy /sse
 * stream of a session with no call left, and, with `cancel`, every call
 * and stream left; else cancels the requests to the client. *streams
 * (may be NULL) gets the number of streams ended. */
/* One session's part of a pass: its calls still running, after cancelling
 * them (cancel) or only their requests to the client. */
static size_t drain_session(pf__session *s, bool cancel) {
  size_t n = pf__session_pending(s);
  if (cancel)
    pf__session_cancel_all(s);
  else if (n)
    pf__session_cancel_client_requests(s);
  return n;
}

static size_t drain_pass(hsrv *h, bool cancel, size_t *streams) {
  size_t pending = 0, ended = 0;
  uv_rwlock_rdlock(&h->table_lock);
  for (size_t b = 0; b < h->nbuckets; b++)
    for (hsess *hs = h->buckets[b]; hs; hs = hs->next) {
      size_t n = drain_session(hs->s, cancel);
      if (cancel || !hs->legacy || n == 0)
        ended += end_get_stream(hs);
      pending += n;
    }
  uv_rwlock_rdunlock(&h->table_lock);
  if (h->shared)
    pending += drain_session(h->shared, cancel);
  if (streams)
    *streams = ended;
  return pending;
}

static void cancel_rest(hsrv *h, const char *why) {
  h->cancelled = true;
  size_t n = drain_pass(h, true, NULL);
  if (n)
    pf_warn("shutdown: %s: cancelling %zu request(s) still running (their streams end without "
            "a response)",
            why, n);
  else
    pf_info("shutdown: %s", why);
}

static void on_drain(uv_timer_t *t) {
  hsrv *h = t->data;
  uint64_t elapsed = now_ms() - h->stop_ms;
  if (!h->cancelled) {
    size_t n = drain_pass(h, false, NULL);
    if (n == 0 && !h->drained) {
      h->drained = true;
      if (h->waiting)
        pf_info("shutdown: the %zu in-flight request(s) finished and were answered (%llu ms)",
                h->waiting, (unsigned long long)elapsed);
    } else if (n && elapsed >= h->cfg->shutdown_timeout_ms) {
      char why[96];
      snprintf(why, sizeof why, "shutdown_timeout_ms (%u ms) is over", h->cfg->shutdown_timeout_ms);
      cancel_rest(h, why);
    }
  }
  if (pf__httpd_done(h->httpd) && (h->drained || h->cancelled)) {
    /* every connection is closed: the main loop ends, the workers are joined */
    uv_close((uv_handle_t *)&h->drain, NULL);
    uv_close((uv_handle_t *)&h->sigint, NULL);
    uv_close((uv_handle_t *)&h->sigterm, NULL);
  }
}

static void on_signal(uv_signal_t *sig, int signum) {
  hsrv *h = sig->data;
  if (h->stopping) {
    if (h->cancelled && h->drained)
      return;
    pf_warn("received %s again: stopping now", signal_name(signum));
    if (!h->cancelled)
      cancel_rest(h, "stopping now");
    h->drained = true;
    pf__httpd_abort(h->httpd);
    return;
  }
  h->stopping = true;
  h->stop_ms = now_ms();
  uv_close((uv_handle_t *)&h->expiry, NULL);
  uv_close((uv_handle_t *)&h->keepalive, NULL);
  pf__server_unwatch(h->srv);
  pf__httpd_stop(h->httpd, h->cfg->shutdown_timeout_ms + SHUTDOWN_SETTLE_MS);
  size_t streams = 0;
  h->waiting = drain_pass(h, false, &streams);
  pf_info("received %s: shutting down: new connections and requests are refused; waiting up to "
          "%u ms for %zu in-flight request(s); %zu GET stream(s) ended (a second signal stops at "
          "once)",
          signal_name(signum), h->cfg->shutdown_timeout_ms, h->waiting, streams);
  uv_timer_start(&h->drain, on_drain, 0, DRAIN_TICK_MS);
}

int pf__serve_http(pf_server *srv, const pf_cfg_http *cfg_in) {
  signal(SIGPIPE, SIG_IGN);
  /* zero means "the default" for a block built by hand */
  pf_cfg_http cfgc = *cfg_in;
  const pf_cfg_http *cfg = &cfgc;
  if (!cfgc.max_sessions)
    cfgc.max_sessions = 10000;
  if (!cfgc.session_ttl_s)
    cfgc.session_ttl_s = 3600;
  if (!cfgc.sse_retry_ms)
    cfgc.sse_retry_ms = 1000;
  if (!cfgc.shutdown_timeout_ms)
    cfgc.shutdown_timeout_ms = 10000;
  hsrv h;
  memset(&h, 0, sizeof h);
  h.srv = srv;
  h.cfg = cfg;
  h.path = (char *)(cfg->path ? cfg->path : "/mcp");
  h.path_len = strlen(h.path);
  h.stateless = cfg->stateless;
  h.legacy_sse = cfg->legacy_sse;
  h.metrics_path = cfg->metrics_path;
  h.metrics_len = cfg->metrics_path ? strlen(cfg->metrics_path) : 0;
  const char *resp = cfg->response ? cfg->response : "auto";
  h.response = strcmp(resp, "json") == 0  ? RESP_JSON
               : strcmp(resp, "sse") == 0 ? RESP_SSE
                                          : RESP_AUTO;
  h.nbuckets = 1024;
  while (h.nbuckets < cfg->max_sessions / 2 && h.nbuckets < 65536)
    h.nbuckets *= 2;
  h.buckets = pf__malloc(h.nbuckets * sizeof *h.buckets);
  if (!h.buckets || uv_rwlock_init(&h.table_lock) != 0) {
    pf_error("out of memory");
    pf__free(h.buckets);
    return 1;
  }
  memset(h.buckets, 0, h.nbuckets * sizeof *h.buckets);
  h.loop = uv_default_loop();
  if (h.stateless) {
    h.shared = pf__session_create_stateless(srv, h.loop, &(pf__route){0});
    if (!h.shared) {
      pf_error("out of memory");
      return 1;
    }
  }
  /* Blocking tools that wait for the client hold a thread-pool thread:
   * give the pool room unless the user chose a size. */
  if (!getenv("UV_THREADPOOL_SIZE"))
    setenv("UV_THREADPOOL_SIZE", "32", 0);

  pf__httpd_opts o = {
      .host = cfg->host ? cfg->host : "127.0.0.1",
      .port = (int)cfg->port,
      .workers = (int)cfg->workers,
      .max_header_bytes = cfg->max_header ? cfg->max_header : 16384,
      .max_body_bytes = cfg->max_body ? (size_t)cfg->max_body : (size_t)4 << 20,
      .header_timeout_ms = cfg->header_timeout_ms ? cfg->header_timeout_ms : 10000,
      .idle_timeout_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : 60000,
      .body_timeout_ms = cfg->body_timeout_ms,
      .on_request = on_request,
      .on_abort = on_abort,
      .on_worker_stop = on_worker_stop,
      .ud = &h,
  };
  const char *err = NULL;
  int rc = pf__httpd_start(&o, &h.httpd, &err);
  if (rc != 0) {
    pf_error("cannot serve HTTP on %s:%u: %s (%s)", o.host, cfg->port, err ? err : "error",
             uv_strerror(rc));
    if (h.shared)
      pf__session_destroy(h.shared);
    uv_rwlock_destroy(&h.table_lock);
    pf__free(h.buckets);
    return 1;
  }
  pf_info("serving MCP on http://%s%s%s:%d%s (%d workers%s)", strchr(o.host, ':') ? "[" : "",
          o.host, strchr(o.host, ':') ? "]" : "", pf__httpd_port(h.httpd), h.path,
          pf__httpd_nworkers(h.httpd), h.stateless ? ", stateless" : "");
  /* scripts and tests read the port from here when they asked for port 0 */
  fprintf(stderr, "pforge: listening on %s:%d\n", o.host, pf__httpd_port(h.httpd));

  if (pf__server_watch(srv, h.loop) != 0)
    pf_warn("cannot watch file resources; subscribers will not be told of changes");
  uv_signal_init(h.loop, &h.sigint);
  uv_signal_init(h.loop, &h.sigterm);
  h.sigint.data = h.sigterm.data = &h;
  uv_signal_start(&h.sigint, on_signal, SIGINT);
  uv_signal_start(&h.sigterm, on_signal, SIGTERM);
  uv_timer_init(h.loop, &h.expiry);
  h.expiry.data = &h;
  uint64_t every = (uint64_t)cfg->session_ttl_s * 1000u / 4;
  if (every < 250)
    every = 250;
  if (every > 30000)
    every = 30000;
  if (!h.stateless)
    uv_timer_start(&h.expiry, on_expiry, every, every);
  uv_timer_init(h.loop, &h.keepalive);
  h.keepalive.data = &h;
  if (!h.stateless)
    uv_timer_start(&h.keepalive, on_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);
  uv_timer_init(h.loop, &h.drain); /* started by the first signal */
  h.drain.data = &h;

  uv_run(h.loop, UV_RUN_DEFAULT);
  pf__httpd_join(h.httpd);

  /* every worker is gone: end the sessions left */
  for (size_t b = 0; b < h.nbuckets; b++)
    while (h.buckets[b]) {
      hsess *hs = h.buckets[b];
      h.buckets[b] = hs->next;
      hs_close(hs);
      hs_unref(hs);
    }
  if (h.shared)
    pf__session_destroy(h.shared);
  uv_run(h.loop, UV_RUN_DEFAULT); /* close callbacks */
  uv_loop_close(h.loop);
  uv_rwlock_destroy(&h.table_lock);
  pf__free(h.buckets);
  pf_buf_free(&tls_out);
  return 0;
}

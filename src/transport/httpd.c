/* The HTTP/1.1 server of httpd.h: libuv loops (one per worker thread, each
 * with its own SO_REUSEPORT listener) and llhttp.
 *
 * A connection serves one request at a time: llhttp is paused at the end
 * of each request (on_message_complete returns HPE_PAUSED), the request is
 * handed to the application, and the bytes after it (pipelined requests)
 * wait in the connection's `pending` buffer until it is answered. Reading
 * goes on meanwhile (up to a cap) so that a peer that goes away is noticed
 * and reported with on_abort.
 *
 * Output is appended to the connection's `out` buffer and written once per
 * read callback (or, for answers given later, once per loop iteration from
 * the worker's idle handle), so pipelined responses produced together go
 * out in one write. `out` and `wbuf` (the buffer being written) swap roles,
 * so a kept-alive connection allocates nothing per request once its
 * buffers have grown.
 *
 * on_abort is only ever called from a libuv callback (the connection's
 * close callback), never from inside a pf__http_* call made by the
 * application, so the application is never re-entered.
 */
#define _GNU_SOURCE /* SO_REUSEPORT, SOCK_NONBLOCK, SOCK_CLOEXEC */
#include "transport/httpd.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <llhttp.h>

#include <pforge/buf.h>

#include "base/alloc.h"
#include "base/log.h"

#define READ_BUF_SIZE 65536
#define LISTEN_BACKLOG 1024
#define LINGER_MS 1000           /* drain time after a response that closes */
#define KEEP_BODY_CAP (1u << 20) /* larger request buffers are freed once answered */
#define KEEP_HDR_CAP (64u << 10)

typedef enum conn_phase {
  PH_IDLE,    /* between requests */
  PH_HEADERS, /* a request has begun: header timeout runs */
  PH_BODY,    /* headers done, body arriving */
  PH_ACTIVE,  /* handed to the application, not answered yet (or streaming) */
} conn_phase;

typedef enum timer_kind { T_NONE, T_IDLE, T_HEADER, T_BODY, T_LINGER } timer_kind;

typedef struct hdr_off {
  size_t name_off, name_len, value_off, value_len;
} hdr_off;

struct pf__http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  llhttp_t parser;
  pf__http_worker *w;
  pf__http_conn *prev, *next; /* the worker's connections */
  pf__http_conn *knext;       /* the worker's kick list */
  pf__http_req req;

  pf_buf hdr;     /* the current request's URL and header bytes */
  pf_buf body;    /* its body (NUL-terminated when complete) */
  pf_buf pending; /* received bytes not parsed yet (behind an unanswered request) */
  pf_buf out;     /* output not written yet */
  pf_buf wbuf;    /* output being written by uv_write */
  hdr_off *hoff;  /* header offsets into hdr while parsing */
  pf__http_header *headers;
  size_t nhdr, hcap, url_len;

  conn_phase phase;
  timer_kind tkind;
  int err_status; /* 413/431/... decided by a parser callback */
  int closes;     /* handles whose close callback has not run */
  bool field_open, value_open, hdr_done;
  bool active;      /* a request handed to the application is not answered */
  bool streaming;   /* pf__http_stream_begin called, end not yet */
  bool stream_raw;  /* HTTP/1.0 client: stream without chunking, then close */
  bool in_parse;    /* inside read processing: output is flushed at its end */
  bool kicked;      /* on the worker's kick list */
  bool reading;     /* uv_read_start in effect */
  bool writing;     /* uv_write in flight (wbuf) */
  bool close_after; /* close once the output is written */
  bool lingering;   /* shut down for writing, draining input before close */
  bool peer_eof;
  bool closing; /* uv_close called */
  bool http10;
};

typedef struct post_job {
  struct post_job *next;
  void (*fn)(void *arg);
  void *arg;
} post_job;

struct pf__http_worker {
  pf__httpd *h;
  int index;
  uv_loop_t loop;
  uv_thread_t thread;
  uv_tcp_t listener;
  uv_async_t async;
  uv_idle_t idle; /* active while the kick list is not empty */
  uv_timer_t grace;
  uv_os_sock_t fd; /* bound socket until uv_tcp_open takes it */
  bool loop_ok, thread_ok, listener_ok, async_ok;
  uv_mutex_t qlock;
  post_job *qhead, *qtail; /* [qlock] */
  bool stop_req;           /* [qlock] */
  bool abort_req;          /* [qlock] pf__httpd_abort: close every connection now */
  bool gone;               /* [qlock] no more posts accepted */
  bool stopping, finished;
  pf__http_conn *conns;
  size_t nconns;
  pf__http_conn *kick_head;
  uint64_t refuse_warned;   /* uv_now of the last "refusing" warning */
  char rbuf[READ_BUF_SIZE]; /* read buffer: consumed or copied in each read callback */
};

struct pf__httpd {
  pf__httpd_opts o;
  char *host;
  int port;
  int nworkers;
  unsigned grace_ms;
  atomic_bool stopping;
  atomic_int nfinished; /* workers that have finished serving */
  pf__http_worker **workers;
};

static _Thread_local pf__http_worker *tls_worker;

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

const char *pf__http_reason(int status) {
  static const struct {
    int code;
    const char *text;
  } tab[] = {
      {100, "Continue"},
      {101, "Switching Protocols"},
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {204, "No Content"},
      {206, "Partial Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {303, "See Other"},
      {304, "Not Modified"},
      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {406, "Not Acceptable"},
      {408, "Request Timeout"},
      {409, "Conflict"},
      {410, "Gone"},
      {411, "Length Required"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {422, "Unprocessable Content"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (tab[i].code == status)
      return tab[i].text;
  if (status >= 500)
    return "Server Error";
  if (status >= 400)
    return "Client Error";
  if (status >= 300)
    return "Redirection";
  if (status >= 200)
    return "Success";
  return "Informational";
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

const char *pf__http_header_get(const pf__http_req *r, const char *name, size_t *len) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < r->nheaders; i++) {
    const pf__http_header *h = &r->headers[i];
    if (h->name_len != nl || strncasecmp(h->name, name, nl) != 0)
      continue;
    const char *v = h->value;
    size_t vl = h->value_len;
    while (vl && is_blank(*v))
      v++, vl--;
    while (vl && is_blank(v[vl - 1]))
      vl--;
    if (len)
      *len = vl;
    return v;
  }
  if (len)
    *len = 0;
  return NULL;
}

static void put_str(pf_buf *b, const char *s) { pf_buf_append(b, s, strlen(s)); }

static void put_uint(pf_buf *b, uint64_t v) {
  char tmp[24];
  size_t n = sizeof tmp;
  do {
    tmp[--n] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  pf_buf_append(b, tmp + n, sizeof tmp - n);
}

static void put_hex(pf_buf *b, uint64_t v) {
  char tmp[20];
  size_t n = sizeof tmp;
  do {
    tmp[--n] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  pf_buf_append(b, tmp + n, sizeof tmp - n);
}

/* ------------------------------------------------------------------ */
/* Connections: closing, writing                                       */

static void conn_kick(pf__http_conn *c);
static void conn_after_input(pf__http_conn *c);
static void check_exit(pf__http_worker *w);

static void on_conn_timer(uv_timer_t *t);

static void timer_set(pf__http_conn *c, timer_kind k, uint64_t ms) {
  c->tkind = k;
  uv_timer_start(&c->timer, on_conn_timer, ms, 0);
}

static void conn_free(pf__http_conn *c) {
  pf__http_worker *w = c->w;
  pf__httpd *h = w->h;
  if (c->active && h->o.on_abort) {
    c->active = false;
    h->o.on_abort(&c->req, h->o.ud);
  }
  if (c->kicked) {
    for (pf__http_conn **pp = &w->kick_head; *pp; pp = &(*pp)->knext)
      if (*pp == c) {
        *pp = c->knext;
        break;
      }
    if (!w->kick_head)
      uv_idle_stop(&w->idle);
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  w->nconns--;
  pf_buf_free(&c->hdr);
  pf_buf_free(&c->body);
  pf_buf_free(&c->pending);
  pf_buf_free(&c->out);
  pf_buf_free(&c->wbuf);
  pf__free(c->hoff);
  pf__free(c->headers);
  pf__free(c);
  check_exit(w);
}

static void on_conn_closed(uv_handle_t *hd) {
  pf__http_conn *c = hd->data;
  if (--c->closes == 0)
    conn_free(c);
}

/* Closes at once (output not written yet is dropped); on_abort follows
 * from the close callback when a request is unanswered. */
static void conn_close(pf__http_conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  c->closes = 2;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void read_start(pf__http_conn *c);

static void on_shutdown(uv_shutdown_t *sr, int status) {
  pf__http_conn *c = sr->data;
  if (c->closing)
    return;
  if (status < 0 || c->peer_eof) {
    conn_close(c);
    return;
  }
  /* drain what the peer still sends so that closing does not reset the
   * connection before it read the response */
  read_start(c);
}

/* Everything written and the connection should close: shut the write side
 * down and linger a little. */
static void conn_finish(pf__http_conn *c) {
  if (c->closing || c->lingering)
    return;
  c->lingering = true;
  timer_set(c, T_LINGER, LINGER_MS);
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
    conn_close(c);
}

static void conn_flush(pf__http_conn *c);

static void on_write(uv_write_t *wr, int status) {
  pf__http_conn *c = wr->data;
  c->writing = false;
  c->wbuf.len = 0;
  if (status < 0) {
    if (status != UV_ECANCELED)
      pf_debug("http: write failed: %s", uv_strerror(status));
    conn_close(c);
    return;
  }
  if (c->closing)
    return;
  conn_flush(c);
  if (!c->writing && c->out.len == 0 && c->close_after && !c->active)
    conn_finish(c);
}

/* Writes `out`: uv_try_write first, the rest with uv_write from wbuf. */
static void conn_flush(pf__http_conn *c) {
  if (c->closing || c->writing || c->lingering)
    return;
  if (c->out.failed) {
    pf_error("http: out of memory for a response");
    conn_close(c);
    return;
  }
  if (c->out.len) {
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN)
      n = 0;
    if (n < 0) {
      pf_debug("http: write failed: %s", uv_strerror(n));
      conn_close(c);
      return;
    }
    if ((size_t)n == c->out.len) {
      c->out.len = 0;
    } else {
      pf_buf t = c->wbuf;
      c->wbuf = c->out;
      c->out = t;
      c->out.len = 0;
      b = uv_buf_init(c->wbuf.data + n, (unsigned)(c->wbuf.len - (size_t)n));
      c->wreq.data = c;
      int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
      if (rc != 0) {
        pf_debug("http: write failed: %s", uv_strerror(rc));
        conn_close(c);
        return;
      }
      c->writing = true;
      return;
    }
  }
  if (c->close_after && !c->active)
    conn_finish(c);
}

static void on_idle(uv_idle_t *idle);

/* Answers given outside the connection's own read processing are flushed
 * (and the pipelined requests behind them parsed) from the worker's idle
 * handle, once per loop iteration: the writes of one callback are
 * coalesced, and the application is never re-entered from its own call. */
static void conn_kick(pf__http_conn *c) {
  if (c->kicked || c->closing)
    return;
  pf__http_worker *w = c->w;
  c->kicked = true;
  c->knext = w->kick_head;
  if (!w->kick_head)
    uv_idle_start(&w->idle, on_idle);
  w->kick_head = c;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */

static void put_head(pf__http_conn *c, int status, const char *ctype, const char *extra,
                     bool chunked, bool has_len, size_t len, bool close) {
  pf_buf *b = &c->out;
  size_t el = extra ? strlen(extra) : 0;
  pf_buf_reserve(b, 128 + (ctype ? strlen(ctype) : 0) + el);
  put_str(b, "HTTP/1.1 ");
  put_uint(b, (uint64_t)(status < 0 ? 0 : status));
  pf_buf_putc(b, ' ');
  put_str(b, pf__http_reason(status));
  pf_buf_append(b, "\r\n", 2);
  if (ctype) {
    put_str(b, "Content-Type: ");
    put_str(b, ctype);
    pf_buf_append(b, "\r\n", 2);
  }
  if (has_len) {
    put_str(b, "Content-Length: ");
    put_uint(b, len);
    pf_buf_append(b, "\r\n", 2);
  }
  if (chunked)
    put_str(b, "Transfer-Encoding: chunked\r\n");
  if (el)
    pf_buf_append(b, extra, el);
  if (close)
    put_str(b, "Connection: close\r\n");
  else if (c->http10)
    put_str(b, "Connection: keep-alive\r\n");
  pf_buf_append(b, "\r\n", 2);
}

/* An error the server answers by itself (no request is active), then closes. */
static void conn_error(pf__http_conn *c, int status) {
  if (c->close_after || c->closing)
    return;
  const char *reason = pf__http_reason(status);
  size_t rl = strlen(reason);
  put_head(c, status, "text/plain", NULL, false, true, rl + 1, true);
  pf_buf_append(&c->out, reason, rl);
  pf_buf_putc(&c->out, '\n');
  c->close_after = true;
  c->phase = PH_IDLE;
  uv_timer_stop(&c->timer);
}

static bool conn_closing_after(const pf__http_conn *c) {
  return !c->req.keep_alive || c->w->stopping;
}

/* The active request is answered. */
static void req_done(pf__http_conn *c) {
  c->active = false;
  c->streaming = false;
  c->phase = PH_IDLE;
  if (conn_closing_after(c))
    c->close_after = true;
  if (c->body.cap > KEEP_BODY_CAP)
    pf_buf_free(&c->body);
  if (c->hdr.cap > KEEP_HDR_CAP)
    pf_buf_free(&c->hdr);
  if (!c->in_parse)
    conn_kick(c);
}

static pf__http_conn *answerable(pf__http_req *req) {
  pf__http_conn *c = req ? req->conn : NULL;
  if (!c || !c->active)
    return NULL;
  assert(tls_worker == c->w);
  return c;
}

void pf__http_respond(pf__http_req *req, int status, const char *ctype, const char *extra_headers,
                      const char *body, size_t len) {
  pf__http_conn *c = answerable(req);
  if (!c || c->streaming)
    return;
  if (!c->closing) {
    bool nobody = status < 200 || status == 204 || status == 304;
    bool close = conn_closing_after(c);
    put_head(c, status, ctype, extra_headers, false, !nobody, len, close);
    if (!nobody && req->method != PF_HTTP_HEAD && len)
      pf_buf_append(&c->out, body, len);
  }
  req_done(c);
}

void pf__http_stream_begin(pf__http_req *req, int status, const char *ctype,
                           const char *extra_headers) {
  pf__http_conn *c = answerable(req);
  if (!c || c->streaming)
    return;
  c->streaming = true;
  if (c->closing)
    return;
  c->stream_raw = c->http10; /* no chunked encoding in HTTP/1.0: the close ends the body */
  if (c->stream_raw)
    c->req.keep_alive = false;
  put_head(c, status, ctype, extra_headers, !c->stream_raw, false, 0, conn_closing_after(c));
  if (!c->in_parse)
    conn_kick(c);
}

int pf__http_stream_write(pf__http_req *req, const char *data, size_t len) {
  pf__http_conn *c = answerable(req);
  if (!c || !c->streaming || c->closing)
    return -1;
  if (!len)
    return 0;
  if (c->stream_raw) {
    pf_buf_append(&c->out, data, len);
  } else {
    pf_buf_reserve(&c->out, len + 24);
    put_hex(&c->out, len);
    pf_buf_append(&c->out, "\r\n", 2);
    pf_buf_append(&c->out, data, len);
    pf_buf_append(&c->out, "\r\n", 2);
  }
  if (!c->in_parse)
    conn_kick(c);
  return 0;
}

size_t pf__http_stream_backlog(const pf__http_req *req) {
  const pf__http_conn *c = req ? req->conn : NULL;
  if (!c || c->closing)
    return 0;
  return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) + c->out.len;
}

static void stream_finish(pf__http_req *req, bool close) {
  pf__http_conn *c = answerable(req);
  if (!c || !c->streaming)
    return;
  if (!c->closing && !c->stream_raw)
    pf_buf_append(&c->out, "0\r\n\r\n", 5);
  if (close)
    c->req.keep_alive = false;
  req_done(c);
}

void pf__http_stream_end(pf__http_req *req) { stream_finish(req, false); }

void pf__http_stream_close(pf__http_req *req) { stream_finish(req, true); }

/* ------------------------------------------------------------------ */
/* Parsing                                                             */

static pf__http_conn *conn_of(llhttp_t *p) { return p->data; }

static int over_header_limit(pf__http_conn *c) {
  if (c->hdr.failed) {
    c->err_status = 503;
    return 1;
  }
  if (c->hdr.len + 4 * c->nhdr > c->w->h->o.max_header_bytes) {
    c->err_status = 431;
    return 1;
  }
  return 0;
}

static int cb_message_begin(llhttp_t *p) {
  pf__http_conn *c = conn_of(p);
  c->phase = PH_HEADERS;
  c->hdr.len = 0;
  c->body.len = 0;
  c->nhdr = 0;
  c->url_len = 0;
  c->field_open = c->value_open = c->hdr_done = false;
  c->err_status = 0;
  timer_set(c, T_HEADER, c->w->h->o.header_timeout_ms);
  return 0;
}

static int cb_url(llhttp_t *p, const char *at, size_t len) {
  pf__http_conn *c = conn_of(p);
  pf_buf_append(&c->hdr, at, len);
  c->url_len += len;
  return over_header_limit(c) ? HPE_USER : 0;
}

static int cb_header_field(llhttp_t *p, const char *at, size_t len) {
  pf__http_conn *c = conn_of(p);
  if (c->hdr_done) /* trailers: ignored */
    return 0;
  if (!c->field_open) {
    if (c->nhdr == c->hcap) {
      size_t n = c->hcap ? c->hcap * 2 : 16;
      hdr_off *o = pf__realloc(c->hoff, n * sizeof *o);
      if (o)
        c->hoff = o;
      pf__http_header *hh = o ? pf__realloc(c->headers, n * sizeof *hh) : NULL;
      if (!hh) {
        c->err_status = 503;
        return HPE_USER;
      }
      c->headers = hh;
      c->hcap = n;
    }
    c->hoff[c->nhdr] = (hdr_off){c->hdr.len, 0, 0, 0};
    c->nhdr++;
    c->field_open = true;
  }
  pf_buf_append(&c->hdr, at, len);
  c->hoff[c->nhdr - 1].name_len += len;
  return over_header_limit(c) ? HPE_USER : 0;
}

static int cb_header_field_complete(llhttp_t *p) {
  conn_of(p)->field_open = false;
  return 0;
}

static int cb_header_value(llhttp_t *p, const char *at, size_t len) {
  pf__http_conn *c = conn_of(p);
  if (c->hdr_done || !c->nhdr)
    return 0;
  hdr_off *o = &c->hoff[c->nhdr - 1];
  if (!c->value_open) {
    o->value_off = c->hdr.len;
    o->value_len = 0;
    c->value_open = true;
  }
  pf_buf_append(&c->hdr, at, len);
  o->value_len += len;
  return over_header_limit(c) ? HPE_USER : 0;
}

static int cb_header_value_complete(llhttp_t *p) {
  conn_of(p)->value_open = false;
  return 0;
}

static pf__http_method method_of(uint8_t m) {
  switch (m) {
  case HTTP_GET: return PF_HTTP_GET;
  case HTTP_HEAD: return PF_HTTP_HEAD;
  case HTTP_POST: return PF_HTTP_POST;
  case HTTP_PUT: return PF_HTTP_PUT;
  case HTTP_DELETE: return PF_HTTP_DELETE;
  case HTTP_OPTIONS: return PF_HTTP_OPTIONS;
  default: return PF_HTTP_OTHER;
  }
}

static int cb_headers_complete(llhttp_t *p) {
  pf__http_conn *c = conn_of(p);
  const pf__httpd_opts *o = &c->w->h->o;
  c->hdr_done = true;
  if (over_header_limit(c))
    return -1;
  if (c->w->stopping) {
    /* a request that was not complete when the server began to stop: it
     * is not served, and says so (the client may retry elsewhere) */
    c->err_status = 503;
    return -1;
  }
  /* the header bytes are final now: point into them */
  const char *base = c->hdr.data ? c->hdr.data : "";
  for (size_t i = 0; i < c->nhdr; i++) {
    const hdr_off *ho = &c->hoff[i];
    c->headers[i] =
        (pf__http_header){base + ho->name_off, base + ho->value_off, ho->name_len, ho->value_len};
  }
  pf__http_req *r = &c->req;
  r->conn = c;
  r->worker = c->w;
  r->method = method_of(p->method);
  r->method_name = llhttp_method_name((llhttp_method_t)p->method);
  r->headers = c->headers;
  r->nheaders = c->nhdr;
  const char *q = c->url_len ? memchr(base, '?', c->url_len) : NULL;
  r->path = base;
  r->path_len = q ? (size_t)(q - base) : c->url_len;
  r->query = q ? q + 1 : NULL;
  r->query_len = q ? c->url_len - r->path_len - 1 : 0;
  c->http10 = p->http_major == 1 && p->http_minor == 0;

  bool has_body = (p->flags & F_CHUNKED) || p->content_length > 0;
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > o->max_body_bytes) {
    c->err_status = 413;
    return -1;
  }
  if (has_body) {
    if (!(p->flags & F_CHUNKED) && pf_buf_reserve(&c->body, (size_t)p->content_length + 1) != 0) {
      c->err_status = 503;
      return -1;
    }
    size_t el;
    const char *e = pf__http_header_get(r, "expect", &el);
    if (e && el == 12 && strncasecmp(e, "100-continue", 12) == 0 && !c->http10)
      put_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    c->phase = PH_BODY;
    /* an absolute deadline: a client trickling its body cannot hold the
     * connection longer than this */
    timer_set(c, T_BODY, o->body_timeout_ms);
  }
  return 0;
}

static int cb_body(llhttp_t *p, const char *at, size_t len) {
  pf__http_conn *c = conn_of(p);
  if (c->body.len + len > c->w->h->o.max_body_bytes) {
    c->err_status = 413;
    return HPE_USER;
  }
  pf_buf_append(&c->body, at, len);
  if (c->body.failed) {
    c->err_status = 503;
    return HPE_USER;
  }
  return 0;
}

static int cb_message_complete(llhttp_t *p) {
  pf__http_conn *c = conn_of(p);
  if (pf_buf_reserve(&c->body, 1) != 0) {
    c->err_status = 503;
    return -1;
  }
  c->body.data[c->body.len] = '\0';
  c->req.body = c->body.data;
  c->req.body_len = c->body.len;
  c->req.keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
  return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = cb_message_begin,
    .on_url = cb_url,
    .on_header_field = cb_header_field,
    .on_header_value = cb_header_value,
    .on_header_field_complete = cb_header_field_complete,
    .on_header_value_complete = cb_header_value_complete,
    .on_headers_complete = cb_headers_complete,
    .on_body = cb_body,
    .on_message_complete = cb_message_complete,
};

static void dispatch(pf__http_conn *c) {
  pf__httpd *h = c->w->h;
  c->phase = PH_ACTIVE;
  c->active = true;
  c->streaming = false;
  c->stream_raw = false;
  c->req.ud = NULL;
  uv_timer_stop(&c->timer);
  c->tkind = T_NONE;
  h->o.on_request(&c->req, h->o.ud);
}

/* Parses data until it ends or a request is left unanswered. Returns the
 * bytes consumed (all of them after an error, which is answered here). */
static size_t conn_parse(pf__http_conn *c, const char *data, size_t len) {
  size_t off = 0;
  while (off < len && !c->active && !c->closing && !c->close_after) {
    llhttp_errno_t e = llhttp_execute(&c->parser, data + off, len - off);
    if (e == HPE_OK)
      return len;
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
      off = (size_t)(llhttp_get_error_pos(&c->parser) - data);
      if (e == HPE_PAUSED)
        llhttp_resume(&c->parser);
      else
        c->req.keep_alive = false;
      dispatch(c);
      continue;
    }
    int status = c->err_status ? c->err_status : 400;
    if (status == 400)
      pf_debug("http: bad request: %s (%s)", llhttp_errno_name(e),
               llhttp_get_error_reason(&c->parser));
    conn_error(c, status);
    return len;
  }
  return off;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

static size_t pending_cap(const pf__http_conn *c) {
  return c->w->h->o.max_header_bytes + READ_BUF_SIZE;
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  pf__http_conn *c = hd->data;
  buf->base = c->w->rbuf;
  buf->len = sizeof c->w->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void read_start(pf__http_conn *c) {
  if (c->reading || c->closing || c->peer_eof)
    return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
    c->reading = true;
}

static void read_stop(pf__http_conn *c) {
  if (!c->reading)
    return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
}

static void parse_pending(pf__http_conn *c) {
  size_t used = conn_parse(c, c->pending.data, c->pending.len);
  if (c->close_after || c->closing)
    used = c->pending.len;
  if (used) {
    memmove(c->pending.data, c->pending.data + used, c->pending.len - used);
    c->pending.len -= used;
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pf__http_conn *c = s->data;
  if (c->closing)
    return;
  if (nread < 0) {
    read_stop(c);
    if (c->lingering || nread != UV_EOF || c->active) {
      if (nread != UV_EOF)
        pf_debug("http: read: %s", uv_strerror((int)nread));
      conn_close(c);
      return;
    }
    /* the peer is done sending: finish writing, then close */
    c->peer_eof = true;
    c->close_after = true;
    conn_flush(c);
    if (!c->writing && !c->closing)
      conn_close(c);
    return;
  }
  if (nread == 0 || c->lingering || c->close_after)
    return; /* nothing, or input after the last request: dropped */
  size_t n = (size_t)nread;
  c->in_parse = true;
  if (c->active || c->pending.len) {
    pf_buf_append(&c->pending, buf->base, n);
    if (c->pending.failed) {
      c->in_parse = false;
      conn_close(c);
      return;
    }
    if (!c->active)
      parse_pending(c);
  } else {
    size_t used = conn_parse(c, buf->base, n);
    if (used < n && !c->close_after && !c->closing)
      pf_buf_append(&c->pending, buf->base + used, n - used);
  }
  c->in_parse = false;
  conn_after_input(c);
}

/* After input was processed or an answer given: write, then set the
 * timer and the reading state for what the connection waits for now. */
static void conn_after_input(pf__http_conn *c) {
  if (c->closing)
    return;
  conn_flush(c);
  if (c->closing)
    return;
  if (c->close_after) {
    if (!c->lingering) {
      read_stop(c);
      /* a peer that does not read its last response is not waited for forever */
      timer_set(c, T_IDLE, c->w->h->o.idle_timeout_ms);
    }
    return;
  }
  if (c->active) {
    /* keep reading (to notice a peer that leaves) while pipelined input fits */
    if (c->pending.len >= pending_cap(c))
      read_stop(c);
    else
      read_start(c);
    return;
  }
  if (c->phase == PH_IDLE) {
    if (c->w->stopping) {
      c->close_after = true;
      read_stop(c);
      conn_flush(c);
      return;
    }
    timer_set(c, T_IDLE, c->w->h->o.idle_timeout_ms);
  }
  read_start(c);
}

/* An answer given later: write it and serve what was pipelined behind. */
static void conn_service(pf__http_conn *c) {
  if (c->closing)
    return;
  if (!c->active && !c->close_after && c->pending.len) {
    c->in_parse = true;
    parse_pending(c);
    c->in_parse = false;
  }
  conn_after_input(c);
}

static void on_idle(uv_idle_t *idle) {
  pf__http_worker *w = idle->data;
  while (w->kick_head) {
    pf__http_conn *c = w->kick_head;
    w->kick_head = c->knext;
    c->kicked = false;
    conn_service(c);
  }
  uv_idle_stop(&w->idle);
}

static void on_conn_timer(uv_timer_t *t) {
  pf__http_conn *c = t->data;
  if (c->closing)
    return;
  switch (c->tkind) {
  case T_HEADER:
  case T_BODY:
    if (c->active)
      return;
    pf_debug("http: request timeout");
    conn_error(c, 408);
    conn_flush(c);
    if (!c->closing)
      read_stop(c);
    return;
  case T_IDLE:
    if (!c->active)
      conn_close(c);
    return;
  case T_LINGER: conn_close(c); return;
  case T_NONE: return;
  }
}

/* ------------------------------------------------------------------ */
/* Accepting                                                           */

static void free_handle(uv_handle_t *hd) { pf__free(hd); }

static void reject(pf__http_worker *w, uv_stream_t *server) {
  uv_tcp_t *t = pf__malloc(sizeof *t);
  if (!t)
    return;
  uv_tcp_init(&w->loop, t);
  uv_accept(server, (uv_stream_t *)t);
  uv_close((uv_handle_t *)t, free_handle);
}

static void on_connection(uv_stream_t *server, int status) {
  pf__http_worker *w = server->data;
  pf__httpd *h = w->h;
  if (status < 0) {
    pf_warn("http: accept: %s", uv_strerror(status));
    return;
  }
  if (w->stopping || w->nconns >= h->o.max_connections) {
    uint64_t now = uv_now(&w->loop);
    if (!w->stopping && (!w->refuse_warned || now - w->refuse_warned >= 1000)) {
      w->refuse_warned = now;
      pf_warn("http: worker %d: %zu connections (max_connections), refusing new ones", w->index,
              w->nconns);
    }
    reject(w, server);
    return;
  }
  pf__http_conn *c = pf__malloc(sizeof *c);
  if (!c) {
    reject(w, server);
    return;
  }
  memset(c, 0, sizeof *c);
  c->w = w;
  uv_tcp_init(&w->loop, &c->tcp);
  uv_timer_init(&w->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->next = w->conns;
  if (w->conns)
    w->conns->prev = c;
  w->conns = c;
  w->nconns++;
  int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
  if (rc != 0) {
    pf_warn("http: accept: %s", uv_strerror(rc));
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  llhttp_init(&c->parser, HTTP_REQUEST, &settings);
  c->parser.data = c;
  c->req.keep_alive = true;
  /* a connection that never sends anything gets the header timeout */
  timer_set(c, T_IDLE, h->o.header_timeout_ms);
  read_start(c);
  if (!c->reading)
    conn_close(c);
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */

static void worker_finish(pf__http_worker *w);

static void check_exit(pf__http_worker *w) {
  if (w->stopping && !w->finished && w->nconns == 0)
    worker_finish(w);
}

/* Closes every connection now (on_abort for the unanswered requests). */
static void abort_all(pf__http_worker *w) {
  size_t n = 0;
  for (pf__http_conn *c = w->conns; c; c = c->next)
    if (!c->closing) {
      n += c->active;
      conn_close(c);
    }
  if (n)
    pf_info("http: worker %d: %zu unfinished request(s) aborted at shutdown", w->index, n);
}

static void on_grace(uv_timer_t *t) { abort_all(t->data); }

/* Stop accepting; close the idle connections (FIN, then a short linger
 * that drops what they still send: a request racing with the close gets
 * no answer, which a client may take as "not served" and retry); refuse
 * with 503 the requests not completely received yet; leave the requests
 * the application holds (and their streams) to finish: their connections
 * close once they are answered. */
static void begin_stop(pf__http_worker *w) {
  if (w->stopping)
    return;
  w->stopping = true;
  if (w->listener_ok) {
    uv_close((uv_handle_t *)&w->listener, NULL);
    w->listener_ok = false;
  }
  for (pf__http_conn *c = w->conns; c; c = c->next) {
    if (c->closing || c->active || c->close_after)
      continue;
    if (c->phase == PH_BODY) {
      conn_error(c, 503);
    } else if (c->phase == PH_HEADERS) {
      continue; /* answered 503 when its headers are complete (or 408) */
    } else {
      c->close_after = true; /* its idle timer still bounds a write in progress */
    }
    read_stop(c);
    conn_flush(c);
  }
  uv_timer_start(&w->grace, on_grace, w->h->grace_ms, 0);
  check_exit(w);
}

static void run_jobs(post_job *j) {
  while (j) {
    post_job *n = j->next;
    j->fn(j->arg);
    pf__free(j);
    j = n;
  }
}

static void on_async(uv_async_t *a) {
  pf__http_worker *w = a->data;
  uv_mutex_lock(&w->qlock);
  post_job *j = w->qhead;
  w->qhead = w->qtail = NULL;
  bool stop = w->stop_req, abort_now = w->abort_req;
  w->abort_req = false;
  uv_mutex_unlock(&w->qlock);
  run_jobs(j);
  if (stop)
    begin_stop(w);
  if (abort_now)
    abort_all(w);
}

static void worker_finish(pf__http_worker *w) {
  pf__httpd *h = w->h;
  w->finished = true;
  atomic_fetch_add(&h->nfinished, 1);
  /* posts that were accepted still run; later ones are refused */
  for (;;) {
    uv_mutex_lock(&w->qlock);
    post_job *j = w->qhead;
    w->qhead = w->qtail = NULL;
    w->gone = true;
    uv_mutex_unlock(&w->qlock);
    if (!j)
      break;
    run_jobs(j);
  }
  if (h->o.on_worker_stop)
    h->o.on_worker_stop(w, h->o.ud);
  uv_close((uv_handle_t *)&w->async, NULL);
  uv_close((uv_handle_t *)&w->idle, NULL);
  uv_close((uv_handle_t *)&w->grace, NULL);
}

static void close_any(uv_handle_t *hd, void *arg) {
  (void)arg;
  if (!uv_is_closing(hd))
    uv_close(hd, NULL);
}

static void worker_main(void *arg) {
  pf__http_worker *w = arg;
  pf__httpd *h = w->h;
  tls_worker = w;
  if (h->o.on_worker_start)
    h->o.on_worker_start(w, h->o.ud);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&w->loop) == UV_EBUSY) {
    pf_warn("http: worker %d: handles left open at exit", w->index);
    uv_walk(&w->loop, close_any, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
  }
  tls_worker = NULL;
}

uv_loop_t *pf__http_worker_loop(pf__http_worker *w) { return &w->loop; }
int pf__http_worker_index(const pf__http_worker *w) { return w->index; }
pf__http_worker *pf__http_worker_current(void) { return tls_worker; }

bool pf__http_worker_stopping(const pf__http_worker *w) {
  return w->stopping || atomic_load(&w->h->stopping);
}

int pf__http_worker_post(pf__http_worker *w, void (*fn)(void *arg), void *arg) {
  post_job *j = pf__malloc(sizeof *j);
  if (!j)
    return -1;
  *j = (post_job){NULL, fn, arg};
  uv_mutex_lock(&w->qlock);
  if (w->gone) {
    uv_mutex_unlock(&w->qlock);
    pf__free(j);
    return -1;
  }
  if (w->qtail)
    w->qtail->next = j;
  else
    w->qhead = j;
  w->qtail = j;
  /* under the lock: the worker closes the handle only after setting gone */
  uv_async_send(&w->async);
  uv_mutex_unlock(&w->qlock);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Start, stop                                                         */

int pf__httpd_port(const pf__httpd *h) { return h->port; }
int pf__httpd_nworkers(const pf__httpd *h) { return h->nworkers; }
pf__http_worker *pf__httpd_worker(pf__httpd *h, int i) {
  return i >= 0 && i < h->nworkers ? h->workers[i] : NULL;
}

/* A socket bound to addr with SO_REUSEPORT (and listening). */
static int bind_socket(const struct sockaddr *sa, socklen_t len, bool reuseport, uv_os_sock_t *out,
                       const char **what) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *what = "socket";
    return uv_translate_sys_error(errno);
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)) {
    int e = errno;
    close(fd);
    *what = "setsockopt(SO_REUSEPORT)";
    return uv_translate_sys_error(e);
  }
  if (bind(fd, sa, len) != 0) {
    int e = errno;
    close(fd);
    *what = "bind";
    return uv_translate_sys_error(e);
  }
  if (reuseport && listen(fd, LISTEN_BACKLOG) != 0) {
    int e = errno;
    close(fd);
    *what = "listen";
    return uv_translate_sys_error(e);
  }
  *out = fd;
  return 0;
}

static void set_port(struct sockaddr_storage *ss, int port) {
  if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static int get_port(uv_os_sock_t fd) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
    return -1;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int resolve(const char *host, struct sockaddr_storage *ss, socklen_t *len) {
  char tmp[256];
  size_t hl = strlen(host);
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof tmp) {
    memcpy(tmp, host + 1, hl - 2);
    tmp[hl - 2] = '\0';
    host = tmp;
  }
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int rc = getaddrinfo(host, NULL, &hints, &ai);
  if (rc != 0 || !ai)
    return UV_EINVAL;
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  *len = (socklen_t)ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}

static void free_server(pf__httpd *h) {
  for (int i = 0; i < h->nworkers; i++) {
    pf__http_worker *w = h->workers[i];
    if (!w)
      continue;
    if (w->fd >= 0)
      close(w->fd);
    uv_mutex_destroy(&w->qlock);
    pf__free(w);
  }
  pf__free(h->workers);
  pf__free(h->host);
  pf__free(h);
}

/* A worker whose thread never started: close what was set up on its loop. */
static void unwind_loop(pf__http_worker *w) {
  if (!w || !w->loop_ok)
    return;
  uv_mutex_lock(&w->qlock);
  w->gone = true;
  uv_mutex_unlock(&w->qlock);
  uv_walk(&w->loop, close_any, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  w->loop_ok = false;
}

static int setup_worker(pf__http_worker *w, const char **what) {
  int rc = uv_loop_init(&w->loop);
  if (rc != 0) {
    *what = "uv_loop_init";
    return rc;
  }
  w->loop_ok = true;
  uv_idle_init(&w->loop, &w->idle);
  w->idle.data = w;
  uv_timer_init(&w->loop, &w->grace);
  w->grace.data = w;
  uv_unref((uv_handle_t *)&w->grace);
  if ((rc = uv_async_init(&w->loop, &w->async, on_async)) != 0) {
    *what = "uv_async_init";
    return rc;
  }
  w->async.data = w;
  w->async_ok = true;
  uv_tcp_init(&w->loop, &w->listener);
  w->listener.data = w;
  w->listener_ok = true;
  if ((rc = uv_tcp_open(&w->listener, w->fd)) != 0) {
    *what = "uv_tcp_open";
    return rc;
  }
  w->fd = -1; /* the handle owns it */
  if ((rc = uv_listen((uv_stream_t *)&w->listener, LISTEN_BACKLOG, on_connection)) != 0) {
    *what = "listen";
    return rc;
  }
  return 0;
}

int pf__httpd_start(const pf__httpd_opts *opts, pf__httpd **out, const char **err_msg) {
  static const char *no_msg;
  if (!err_msg)
    err_msg = &no_msg;
  *out = NULL;
  *err_msg = NULL;
  if (!opts || !opts->on_request) {
    *err_msg = "no on_request callback";
    return UV_EINVAL;
  }
  /* a peer that leaves must not kill the process */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);

  pf__httpd *h = pf__malloc(sizeof *h);
  if (!h) {
    *err_msg = "out of memory";
    return UV_ENOMEM;
  }
  memset(h, 0, sizeof *h);
  atomic_init(&h->stopping, false);
  atomic_init(&h->nfinished, 0);
  h->o = *opts;
  const char *host = opts->host && *opts->host ? opts->host : "127.0.0.1";
  h->host = pf__malloc(strlen(host) + 1);
  if (h->host)
    memcpy(h->host, host, strlen(host) + 1);
  h->o.host = h->host;
  if (!h->o.max_header_bytes)
    h->o.max_header_bytes = 16 << 10;
  if (!h->o.max_body_bytes)
    h->o.max_body_bytes = 16 << 20;
  if (!h->o.header_timeout_ms)
    h->o.header_timeout_ms = 10000;
  if (!h->o.idle_timeout_ms)
    h->o.idle_timeout_ms = 60000;
  if (!h->o.body_timeout_ms)
    h->o.body_timeout_ms = 30000;
  if (!h->o.max_connections)
    h->o.max_connections = 10000;
  h->nworkers = opts->workers > 0 ? opts->workers : (int)uv_available_parallelism();
  if (h->nworkers < 1)
    h->nworkers = 1;
  h->workers = pf__malloc((size_t)h->nworkers * sizeof *h->workers);
  if (!h->host || !h->workers) {
    pf__free(h->workers);
    h->workers = NULL;
    h->nworkers = 0;
    free_server(h);
    *err_msg = "out of memory";
    return UV_ENOMEM;
  }
  for (int i = 0; i < h->nworkers; i++)
    h->workers[i] = NULL;

  int rc = 0;
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  if (opts->port < 0 || opts->port > 65535) {
    *err_msg = "port out of range";
    rc = UV_EINVAL;
    goto fail;
  }
  if ((rc = resolve(h->host, &ss, &sl)) != 0) {
    *err_msg = "cannot resolve the listen address";
    goto fail;
  }
  set_port(&ss, opts->port);
  if (opts->port != 0) {
    /* SO_REUSEPORT would let us share a port another server of this user
     * listens on: a plain bind first reports EADDRINUSE instead */
    uv_os_sock_t probe;
    if ((rc = bind_socket((struct sockaddr *)&ss, sl, false, &probe, err_msg)) != 0)
      goto fail;
    close(probe);
  }
  for (int i = 0; i < h->nworkers; i++) {
    pf__http_worker *w = pf__malloc(sizeof *w);
    if (!w) {
      *err_msg = "out of memory";
      rc = UV_ENOMEM;
      goto fail;
    }
    memset(w, 0, sizeof *w);
    w->h = h;
    w->index = i;
    w->fd = -1;
    if (uv_mutex_init(&w->qlock) != 0) {
      pf__free(w);
      *err_msg = "uv_mutex_init";
      rc = UV_ENOMEM;
      goto fail;
    }
    h->workers[i] = w;
    if ((rc = bind_socket((struct sockaddr *)&ss, sl, true, &w->fd, err_msg)) != 0)
      goto fail;
    if (i == 0) {
      h->port = get_port(w->fd);
      set_port(&ss, h->port);
    }
  }
  for (int i = 0; i < h->nworkers; i++)
    if ((rc = setup_worker(h->workers[i], err_msg)) != 0)
      goto fail;
  for (int i = 0; i < h->nworkers; i++) {
    pf__http_worker *w = h->workers[i];
    if ((rc = uv_thread_create(&w->thread, worker_main, w)) != 0) {
      *err_msg = "uv_thread_create";
      /* the workers already running are stopped and joined */
      for (int k = i; k < h->nworkers; k++)
        unwind_loop(h->workers[k]);
      pf__httpd_stop(h, 0);
      pf__httpd_join(h);
      return rc;
    }
    w->thread_ok = true;
  }
  *out = h;
  return 0;

fail:
  for (int i = 0; i < h->nworkers; i++)
    unwind_loop(h->workers[i]);
  free_server(h);
  return rc;
}

void pf__httpd_stop(pf__httpd *h, unsigned grace_ms) {
  if (!h || atomic_exchange(&h->stopping, true))
    return;
  h->grace_ms = grace_ms;
  for (int i = 0; i < h->nworkers; i++) {
    pf__http_worker *w = h->workers[i];
    uv_mutex_lock(&w->qlock);
    w->stop_req = true;
    if (!w->gone && w->thread_ok)
      uv_async_send(&w->async);
    uv_mutex_unlock(&w->qlock);
  }
}

void pf__httpd_abort(pf__httpd *h) {
  if (!h)
    return;
  atomic_store(&h->stopping, true); /* a later pf__httpd_stop changes nothing */
  for (int i = 0; i < h->nworkers; i++) {
    pf__http_worker *w = h->workers[i];
    uv_mutex_lock(&w->qlock);
    w->stop_req = true;
    w->abort_req = true;
    if (!w->gone && w->thread_ok)
      uv_async_send(&w->async);
    uv_mutex_unlock(&w->qlock);
  }
}

bool pf__httpd_done(const pf__httpd *h) { return atomic_load(&h->nfinished) == h->nworkers; }

void pf__httpd_join(pf__httpd *h) {
  if (!h)
    return;
  for (int i = 0; i < h->nworkers; i++)
    if (h->workers[i]->thread_ok)
      uv_thread_join(&h->workers[i]->thread);
  free_server(h);
}

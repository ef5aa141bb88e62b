/* The HTTP/1.1 server (src/transport/httpd.c) on 127.0.0.1, driven by
 * blocking client sockets with receive timeouts (nothing can hang): the
 * happy paths, pipelining order with slow answers, streamed responses, the
 * limits and timeouts (the body deadline too), aborts, cross-thread posts,
 * a graceful stop that drains what is in flight and refuses the rest, and
 * an immediate one. */
#define _GNU_SOURCE /* strcasestr */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport/httpd.h"

/* ------------------------------------------------------------------ */
/* The application (runs on the worker threads: no cmocka asserts)     */

typedef struct app_req {
  uv_timer_t t;
  pf__http_req *req;
  int n;
} app_req;

static atomic_int g_aborts, g_requests, g_starts, g_stops;
static _Atomic(pf__http_req *) g_held;
static _Atomic(pf__http_worker *) g_held_w;

static bool path_is(const pf__http_req *r, const char *p) {
  return r->path_len == strlen(p) && memcmp(r->path, p, r->path_len) == 0;
}

static void free_app(uv_handle_t *h) { free(h->data); }

static void app_done(app_req *a) {
  a->req->ud = NULL;
  uv_timer_stop(&a->t);
  uv_close((uv_handle_t *)&a->t, free_app);
}

static app_req *app_new(pf__http_req *req) {
  app_req *a = calloc(1, sizeof *a);
  a->req = req;
  a->t.data = a;
  req->ud = a;
  uv_timer_init(pf__http_worker_loop(req->worker), &a->t);
  return a;
}

static void on_async_timer(uv_timer_t *t) {
  app_req *a = t->data;
  char body[256];
  int n = snprintf(body, sizeof body, "async %.*s", (int)a->req->query_len,
                   a->req->query ? a->req->query : "");
  pf__http_respond(a->req, 200, "text/plain", NULL, body, (size_t)n);
  app_done(a);
}

static void on_stream_timer(uv_timer_t *t) {
  app_req *a = t->data;
  char chunk[32];
  int n = snprintf(chunk, sizeof chunk, "chunk-%d\n", a->n++);
  pf__http_stream_write(a->req, chunk, (size_t)n);
  if (a->n == 3) {
    pf__http_stream_end(a->req);
    app_done(a);
  }
}

static void on_slow_timer(uv_timer_t *t) {
  app_req *a = t->data;
  pf__http_stream_write(a->req, "tick\n", 5);
}

static void on_request(pf__http_req *req, void *ud) {
  (void)ud;
  atomic_fetch_add(&g_requests, 1);
  if (path_is(req, "/echo")) {
    size_t hl;
    const char *host = pf__http_header_get(req, "HOST", &hl);
    char extra[256];
    snprintf(extra, sizeof extra, "X-Host: %.*s\r\nX-Worker: %d\r\n", (int)hl, host ? host : "",
             pf__http_worker_index(req->worker));
    if (req->method == PF_HTTP_POST || req->method == PF_HTTP_PUT) {
      pf__http_respond(req, 200, "text/plain", extra, req->body, req->body_len);
    } else {
      char body[512];
      int n =
          snprintf(body, sizeof body, "%s %.*s %.*s", req->method_name, (int)req->path_len,
                   req->path, req->query ? (int)req->query_len : 1, req->query ? req->query : "-");
      pf__http_respond(req, 200, "text/plain", extra, body, (size_t)n);
    }
  } else if (path_is(req, "/async")) {
    app_req *a = app_new(req);
    uv_timer_start(&a->t, on_async_timer, 2 + (uint64_t)(rand() % 5), 0);
  } else if (path_is(req, "/stream")) {
    app_req *a = app_new(req);
    pf__http_stream_begin(req, 200, "text/plain", "Cache-Control: no-cache\r\n");
    uv_timer_start(&a->t, on_stream_timer, 20, 20);
  } else if (path_is(req, "/slowstream")) {
    app_req *a = app_new(req);
    pf__http_stream_begin(req, 200, "text/event-stream", NULL);
    pf__http_stream_write(req, "first\n", 6);
    uv_timer_start(&a->t, on_slow_timer, 10, 10);
  } else if (path_is(req, "/bye")) {
    pf__http_stream_begin(req, 200, "text/plain", NULL);
    pf__http_stream_write(req, "bye", 3);
    pf__http_stream_close(req);
  } else if (path_is(req, "/big")) {
    /* larger than the socket buffers: written with uv_write over many callbacks */
    size_t n = (size_t)4 << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
      big[i] = (char)('a' + i % 26);
    pf__http_respond(req, 200, "application/octet-stream", NULL, big, n);
    free(big);
  } else if (path_is(req, "/hold")) {
    atomic_store(&g_held_w, req->worker);
    atomic_store(&g_held, req);
  } else {
    pf__http_respond(req, 404, "text/plain", NULL, "Not Found\n", 10);
  }
}

static void on_abort(pf__http_req *req, void *ud) {
  (void)ud;
  atomic_fetch_add(&g_aborts, 1);
  if (req->ud)
    app_done(req->ud);
  pf__http_req *expected = req;
  atomic_compare_exchange_strong(&g_held, &expected, NULL);
}

static void on_worker_start(pf__http_worker *w, void *ud) {
  (void)ud;
  if (pf__http_worker_current() == w)
    atomic_fetch_add(&g_starts, 1);
}

static void on_worker_stop(pf__http_worker *w, void *ud) {
  (void)ud;
  if (pf__http_worker_current() == w)
    atomic_fetch_add(&g_stops, 1);
}

/* ------------------------------------------------------------------ */
/* Server fixture                                                      */

static pf__httpd *srv;
static int port;

static pf__httpd_opts base_opts(void) {
  return (pf__httpd_opts){
      .host = "127.0.0.1",
      .port = 0,
      .workers = 2,
      .max_header_bytes = 2048,
      .max_body_bytes = 4096,
      .header_timeout_ms = 200,
      .idle_timeout_ms = 400,
      .on_request = on_request,
      .on_abort = on_abort,
      .on_worker_start = on_worker_start,
      .on_worker_stop = on_worker_stop,
  };
}

static int start(const pf__httpd_opts *o) {
  atomic_store(&g_aborts, 0);
  atomic_store(&g_requests, 0);
  atomic_store(&g_starts, 0);
  atomic_store(&g_stops, 0);
  atomic_store(&g_held, NULL);
  const char *err = NULL;
  int rc = pf__httpd_start(o, &srv, &err);
  if (rc != 0) {
    fprintf(stderr, "start: %s: %s\n", err ? err : "?", uv_strerror(rc));
    return -1;
  }
  port = pf__httpd_port(srv);
  return port > 0 ? 0 : -1;
}

static int setup(void **state) {
  (void)state;
  pf__httpd_opts o = base_opts();
  return start(&o);
}

static int teardown(void **state) {
  (void)state;
  if (!srv)
    return 0;
  int workers = pf__httpd_nworkers(srv);
  pf__httpd_stop(srv, 1000);
  pf__httpd_join(srv);
  srv = NULL;
  if (atomic_load(&g_starts) != workers || atomic_load(&g_stops) != workers) {
    fprintf(stderr, "worker start/stop callbacks: %d/%d of %d\n", atomic_load(&g_starts),
            atomic_load(&g_stops), workers);
    return -1;
  }
  return 0;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Waits up to `ms` for *v to reach `want`. */
static bool wait_int(atomic_int *v, int want, int ms) {
  for (int i = 0; i < ms / 5; i++) {
    if (atomic_load(v) == want)
      return true;
    sleep_ms(5);
  }
  return atomic_load(v) == want;
}

/* ------------------------------------------------------------------ */
/* Blocking client                                                     */

typedef struct cli {
  int fd;
  size_t len;
  char buf[1 << 17];
} cli;

static cli *cli_open_port(int p) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct timeval tv = {3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return NULL;
  }
  cli *c = malloc(sizeof *c);
  c->fd = fd;
  c->len = 0;
  return c;
}

static cli *cli_open(void) {
  cli *c = cli_open_port(port);
  assert_non_null(c);
  return c;
}

static void cli_close(cli *c) {
  close(c->fd);
  free(c);
}

static void cli_send(cli *c, const char *s, size_t n) {
  while (n) {
    ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);
    assert_true(k > 0);
    s += k;
    n -= (size_t)k;
  }
}

static void cli_sends(cli *c, const char *s) { cli_send(c, s, strlen(s)); }

/* Reads more into the buffer: bytes read, 0 at EOF, -1 on error/timeout. */
static ssize_t cli_fill(cli *c) {
  if (c->len == sizeof c->buf)
    return -1;
  ssize_t k = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
  if (k > 0)
    c->len += (size_t)k;
  return k < 0 ? -1 : k;
}

static void cli_consume(cli *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

/* True when the server closes the connection (EOF or reset) in time;
 * any bytes still arriving are dropped. */
static bool cli_eof(cli *c) {
  for (;;) {
    c->len = 0;
    ssize_t k = cli_fill(c);
    if (k == 0)
      return true;
    if (k < 0)
      return errno == ECONNRESET;
  }
}

typedef struct resp {
  int status;
  char head[4096]; /* status line and headers, NUL-terminated */
  char body[1 << 16];
  size_t body_len;
  char raw[1 << 16]; /* the body bytes as sent (chunked framing included) */
  size_t raw_len;
} resp;

static resp R; /* big: static */

/* Reads exactly `n` more bytes of buffered/received data. */
static bool cli_need(cli *c, size_t n) {
  while (c->len < n)
    if (cli_fill(c) <= 0)
      return false;
  return true;
}

static const char *resp_header(const resp *r, const char *name) {
  char pat[128];
  snprintf(pat, sizeof pat, "\r\n%s:", name);
  const char *p = strcasestr(r->head, pat);
  if (!p)
    return NULL;
  p += strlen(pat);
  while (*p == ' ')
    p++;
  return p;
}

/* Reads one response (Content-Length or chunked). 0, or -1. */
static int cli_response(cli *c, resp *r) {
  memset(r, 0, offsetof(resp, body));
  r->body_len = r->raw_len = 0;
  char *end;
  for (;;) {
    end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
    if (end)
      break;
    if (cli_fill(c) <= 0)
      return -1;
  }
  size_t hl = (size_t)(end - c->buf) + 4;
  if (hl >= sizeof r->head)
    return -1;
  memcpy(r->head, c->buf, hl);
  r->head[hl] = '\0';
  cli_consume(c, hl);
  if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1)
    return -1;
  const char *te = resp_header(r, "Transfer-Encoding");
  const char *cl = resp_header(r, "Content-Length");
  if (te && strncmp(te, "chunked", 7) == 0) {
    for (;;) {
      char *eol;
      while (!(eol = c->len ? memmem(c->buf, c->len, "\r\n", 2) : NULL))
        if (cli_fill(c) <= 0)
          return -1;
      size_t ll = (size_t)(eol - c->buf) + 2;
      size_t n = strtoul(c->buf, NULL, 16);
      if (!cli_need(c, ll + n + 2) || r->raw_len + ll + n + 2 > sizeof r->raw ||
          r->body_len + n > sizeof r->body)
        return -1;
      memcpy(r->raw + r->raw_len, c->buf, ll + n + 2);
      r->raw_len += ll + n + 2;
      memcpy(r->body + r->body_len, c->buf + ll, n);
      r->body_len += n;
      bool crlf = memcmp(c->buf + ll + n, "\r\n", 2) == 0;
      cli_consume(c, ll + n + 2);
      if (!crlf)
        return -1;
      if (n == 0)
        return 0;
    }
  }
  size_t n = cl ? strtoul(cl, NULL, 10) : 0;
  if (n > sizeof r->body || !cli_need(c, n))
    return -1;
  memcpy(r->body, c->buf, n);
  r->body_len = n;
  memcpy(r->raw, c->buf, n);
  r->raw_len = n;
  cli_consume(c, n);
  return 0;
}

static void expect_body(const resp *r, int status, const char *body) {
  if (r->status != status || r->body_len != strlen(body) || memcmp(r->body, body, r->body_len))
    fail_msg("want %d \"%s\", got %d \"%.*s\"", status, body, r->status, (int)r->body_len, r->body);
}

/* One request, one response on a fresh connection, then close. */
static void roundtrip(const char *req, int status, const char *body) {
  cli *c = cli_open();
  cli_sends(c, req);
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, status, body);
  cli_close(c);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_get_post(void **state) {
  (void)state;
  cli *c = cli_open();
  cli_sends(c, "GET /echo?a=1&b=2 HTTP/1.1\r\nHost:  example.test \r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "GET /echo a=1&b=2");
  assert_non_null(strstr(R.head, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(R.head, "\r\nX-Host: example.test\r\n"));
  assert_non_null(strstr(R.head, "\r\nContent-Type: text/plain\r\n"));
  assert_non_null(strstr(R.head, "\r\nContent-Length: 17\r\n"));
  assert_null(strstr(R.head, "Connection:"));

  cli_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "hello world");

  cli_sends(c, "DELETE /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 404, "Not Found\n");
  assert_non_null(strstr(R.head, "HTTP/1.1 404 Not Found\r\n"));

  /* HEAD: the length of the body that GET would send, but no body */
  cli_sends(c, "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  char *end;
  while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
    assert_true(cli_fill(c) > 0);
  *end = '\0';
  assert_non_null(strstr(c->buf, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(c->buf, "\r\nContent-Length: 12"));
  cli_consume(c, (size_t)(end - c->buf) + 4);
  assert_int_equal(cli_response(c, &R), 0); /* the GET's, right after the HEAD's head */
  expect_body(&R, 200, "GET /echo -");
  cli_close(c);

  /* an unknown method reaches the application with its name */
  roundtrip("PATCH /echo HTTP/1.1\r\nHost: x\r\n\r\n", 200, "PATCH /echo -");
  assert_int_equal(atomic_load(&g_aborts), 0);
}

static void test_keepalive_100(void **state) {
  (void)state;
  cli *c = cli_open();
  char req[256], want[64];
  for (int i = 0; i < 100; i++) {
    snprintf(want, sizeof want, "message %d", i);
    snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(want), want);
    cli_sends(c, req);
    assert_int_equal(cli_response(c, &R), 0);
    expect_body(&R, 200, want);
  }
  cli_close(c);
  assert_int_equal(atomic_load(&g_requests), 100);
}

static void test_pipelining_50(void **state) {
  (void)state;
  cli *c = cli_open();
  static char all[1 << 15];
  size_t n = 0;
  for (int i = 0; i < 50; i++) {
    if (i % 3 == 0) /* answered later, from a timer: order must hold */
      n +=
          (size_t)snprintf(all + n, sizeof all - n, "GET /async?%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    else if (i % 3 == 1)
      n += (size_t)snprintf(all + n, sizeof all - n, "GET /echo?%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    else
      n += (size_t)snprintf(all + n, sizeof all - n,
                            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\np%03d", i);
  }
  cli_send(c, all, n);
  char want[64];
  for (int i = 0; i < 50; i++) {
    assert_int_equal(cli_response(c, &R), 0);
    if (i % 3 == 0)
      snprintf(want, sizeof want, "async %d", i);
    else if (i % 3 == 1)
      snprintf(want, sizeof want, "GET /echo %d", i);
    else
      snprintf(want, sizeof want, "p%03d", i);
    expect_body(&R, 200, want);
  }
  /* the connection still serves */
  cli_sends(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "GET /echo -");
  cli_close(c);
}

static void test_big_response(void **state) {
  (void)state;
  cli *c = cli_open();
  cli_sends(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?next HTTP/1.1\r\nHost: x\r\n\r\n");
  char *end;
  while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
    assert_true(cli_fill(c) > 0);
  *end = '\0';
  assert_non_null(strstr(c->buf, "\r\nContent-Length: 4194304"));
  cli_consume(c, (size_t)(end - c->buf) + 4);
  size_t got = 0;
  bool ok = true;
  while (got < ((size_t)4 << 20)) {
    if (!c->len) {
      sleep_ms(got % (1 << 20) < 65536 ? 5 : 0); /* a slowish reader */
      assert_true(cli_fill(c) > 0);
    }
    size_t n = c->len;
    if (n > ((size_t)4 << 20) - got)
      n = ((size_t)4 << 20) - got;
    for (size_t i = 0; i < n; i++)
      ok &= c->buf[i] == (char)('a' + (got + i) % 26);
    cli_consume(c, n);
    got += n;
  }
  assert_true(ok);
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "GET /echo next");
  cli_close(c);
}

static void test_chunked_body(void **state) {
  (void)state;
  cli *c = cli_open();
  const char *parts[] = {
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-",
      "Encoding: chunked\r\n\r\n5\r\nhel",
      "lo\r\n1\r\n \r\n",
      "5;ext=1\r\nworld\r\n0\r\n",
      "\r\n",
  };
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    cli_sends(c, parts[i]);
    sleep_ms(20); /* separate reads on the server */
  }
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "hello world");
  /* trailers are accepted (and ignored) */
  cli_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "abc");
  cli_close(c);
}

static void test_expect_continue(void **state) {
  (void)state;
  cli *c = cli_open();
  cli_sends(c,
            "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
  assert_true(cli_need(c, strlen(cont)));
  assert_memory_equal(c->buf, cont, strlen(cont));
  cli_consume(c, strlen(cont));
  cli_sends(c, "data");
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "data");
  cli_close(c);
}

static void test_body_limit(void **state) {
  (void)state;
  /* announced too large: refused before the body is sent */
  cli *c = cli_open();
  cli_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 413);
  assert_non_null(strstr(R.head, "\r\nConnection: close\r\n"));
  assert_true(cli_eof(c));
  cli_close(c);

  /* chunked, growing past the limit */
  c = cli_open();
  static char big[8192];
  size_t n = (size_t)snprintf(
      big, sizeof big, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 5; i++) {
    n += (size_t)snprintf(big + n, sizeof big - n, "3e8\r\n");
    memset(big + n, 'a', 1000);
    n += 1000;
    n += (size_t)snprintf(big + n, sizeof big - n, "\r\n");
  }
  cli_send(c, big, n);
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 413);
  assert_true(cli_eof(c));
  cli_close(c);

  /* exactly at the limit is fine */
  c = cli_open();
  n = (size_t)snprintf(big, sizeof big,
                       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n");
  memset(big + n, 'b', 4096);
  cli_send(c, big, n + 4096);
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 200);
  assert_int_equal(R.body_len, 4096);
  cli_close(c);
}

static void test_header_limit(void **state) {
  (void)state;
  cli *c = cli_open();
  static char req[8192];
  size_t n = (size_t)snprintf(req, sizeof req, "GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(req + n, 'h', 4000);
  n += 4000;
  n += (size_t)snprintf(req + n, sizeof req - n, "\r\n\r\n");
  cli_send(c, req, n);
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 431);
  assert_non_null(strstr(R.head, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  assert_true(cli_eof(c));
  cli_close(c);

  /* many small headers add up too */
  c = cli_open();
  n = (size_t)snprintf(req, sizeof req, "GET /echo HTTP/1.1\r\n");
  for (int i = 0; i < 300; i++)
    n += (size_t)snprintf(req + n, sizeof req - n, "X-%d: v\r\n", i);
  n += (size_t)snprintf(req + n, sizeof req - n, "\r\n");
  cli_send(c, req, n);
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 431);
  assert_true(cli_eof(c));
  cli_close(c);
}

static void test_garbage(void **state) {
  (void)state;
  const char *bad[] = {
      "GARBAGE\x01\x02\r\n\r\n",
      "GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "GET /echo HTTP/9.9\r\n\r\n",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cli *c = cli_open();
    cli_sends(c, bad[i]);
    assert_int_equal(cli_response(c, &R), 0);
    assert_int_equal(R.status, 400);
    assert_non_null(strstr(R.head, "\r\nConnection: close\r\n"));
    assert_true(cli_eof(c));
    cli_close(c);
  }
  /* after a good request on the same connection too */
  cli *c = cli_open();
  cli_sends(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n\x7f\x7f\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 200);
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 400);
  assert_true(cli_eof(c));
  cli_close(c);
  roundtrip("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /echo -");
}

static void test_slow_headers(void **state) {
  (void)state;
  cli *c = cli_open();
  double t0 = now_ms();
  cli_sends(c, "GET /echo HTTP/1.1\r\nHo");
  sleep_ms(50);
  cli_sends(c, "st: x\r\n"); /* still trickling: the timeout counts from the first byte */
  assert_int_equal(cli_response(c, &R), 0);
  double dt = now_ms() - t0;
  assert_int_equal(R.status, 408);
  assert_true(dt >= 150 && dt < 2000);
  assert_true(cli_eof(c));
  cli_close(c);

  /* a slow pipelined request behind a fast one */
  c = cli_open();
  cli_sends(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 200);
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 408);
  assert_true(cli_eof(c));
  cli_close(c);
}

static void test_idle_timeout(void **state) {
  (void)state;
  cli *c = cli_open();
  cli_sends(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  double t0 = now_ms();
  sleep_ms(200);
  cli_sends(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"); /* still open at 200 ms */
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 200);
  t0 = now_ms();
  assert_true(cli_eof(c));
  double dt = now_ms() - t0;
  assert_true(dt >= 300 && dt < 2500);
  cli_close(c);

  /* a held (unanswered) request is not idle; after its answer the idle timeout runs */
  c = cli_open();
  cli_sends(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  sleep_ms(700);
  c->len = 0;
  struct timeval tv = {0, 100000};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  assert_int_equal(cli_fill(c), -1); /* timed out: still open */
  assert_int_equal(errno, EAGAIN);
  assert_int_equal(atomic_load(&g_aborts), 0);
  cli_close(c);
  assert_true(wait_int(&g_aborts, 1, 2000));
  atomic_store(&g_aborts, 0);
}

static void test_http10(void **state) {
  (void)state;
  cli *c = cli_open();
  cli_sends(c, "GET /echo HTTP/1.0\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "GET /echo -");
  assert_non_null(strstr(R.head, "\r\nConnection: close\r\n"));
  assert_true(cli_eof(c));
  cli_close(c);

  c = cli_open();
  cli_sends(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  assert_non_null(strstr(R.head, "\r\nConnection: keep-alive\r\n"));
  cli_sends(c, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "GET /echo -");
  assert_non_null(strstr(R.head, "\r\nConnection: close\r\n"));
  assert_true(cli_eof(c));
  cli_close(c);
}

static void test_stream(void **state) {
  (void)state;
  cli *c = cli_open();
  cli_sends(c,
            "GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?after HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 200);
  assert_non_null(strstr(R.head, "\r\nTransfer-Encoding: chunked\r\n"));
  assert_non_null(strstr(R.head, "\r\nCache-Control: no-cache\r\n"));
  assert_null(strstr(R.head, "Content-Length"));
  const char *want = "8\r\nchunk-0\n\r\n8\r\nchunk-1\n\r\n8\r\nchunk-2\n\r\n0\r\n\r\n";
  assert_int_equal(R.raw_len, strlen(want));
  assert_memory_equal(R.raw, want, strlen(want));
  /* the pipelined request waited for the end of the stream */
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "GET /echo after");

  /* stream_close: the terminating chunk, then the server closes */
  cli_sends(c, "GET /bye HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.raw_len, strlen("3\r\nbye\r\n0\r\n\r\n"));
  assert_memory_equal(R.raw, "3\r\nbye\r\n0\r\n\r\n", R.raw_len);
  assert_true(cli_eof(c));
  cli_close(c);
  assert_int_equal(atomic_load(&g_aborts), 0);
}

static void test_stream_abort(void **state) {
  (void)state;
  for (int round = 0; round < 3; round++) {
    cli *c = cli_open();
    cli_sends(c, "GET /slowstream HTTP/1.1\r\nHost: x\r\n\r\n");
    /* the head and a few ticks */
    assert_true(cli_need(c, 200));
    assert_non_null(memmem(c->buf, c->len, "6\r\nfirst\n\r\n", 11));
    cli_close(c);
    assert_true(wait_int(&g_aborts, round + 1, 3000));
    roundtrip("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /echo -");
  }
  /* a reset (SO_LINGER 0) rather than a FIN */
  cli *c = cli_open();
  cli_sends(c, "GET /slowstream HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cli_need(c, 100));
  struct linger lg = {1, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  cli_close(c);
  assert_true(wait_int(&g_aborts, 4, 3000));
  roundtrip("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /echo -");
  atomic_store(&g_aborts, 0);
}

static atomic_int g_posted, g_posted_ok;

static void posted(void *arg) {
  pf__http_worker *w = arg;
  atomic_fetch_add(&g_posted, 1);
  if (pf__http_worker_current() == w && !pf__http_worker_stopping(w))
    atomic_fetch_add(&g_posted_ok, 1);
}

typedef struct poster {
  pf__httpd *h;
  int rc;
} poster;

static void poster_thread(void *arg) {
  poster *p = arg;
  for (int k = 0; k < 100; k++)
    for (int i = 0; i < pf__httpd_nworkers(p->h); i++)
      p->rc |= pf__http_worker_post(pf__httpd_worker(p->h, i), posted, pf__httpd_worker(p->h, i));
}

static void test_worker_post(void **state) {
  (void)state;
  atomic_store(&g_posted, 0);
  atomic_store(&g_posted_ok, 0);
  assert_int_equal(pf__httpd_nworkers(srv), 2);
  assert_null(pf__httpd_worker(srv, 2));
  assert_null(pf__http_worker_current());
  for (int i = 0; i < 2; i++)
    assert_int_equal(pf__http_worker_index(pf__httpd_worker(srv, i)), i);
  poster p[2] = {{srv, 0}, {srv, 0}};
  uv_thread_t t[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(uv_thread_create(&t[i], poster_thread, &p[i]), 0);
  for (int i = 0; i < 2; i++) {
    uv_thread_join(&t[i]);
    assert_int_equal(p[i].rc, 0);
  }
  assert_true(wait_int(&g_posted, 400, 3000));
  assert_int_equal(atomic_load(&g_posted_ok), 400);
}

static void answer_held(void *arg) {
  pf__http_req *r = arg;
  pf__http_respond(r, 200, "text/plain", NULL, "held", 4);
}

static void test_stop_pending(void **state) {
  (void)state;
  cli *idle = cli_open();
  cli_sends(idle, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cli_response(idle, &R), 0);
  cli *stream = cli_open();
  cli_sends(stream, "GET /slowstream HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cli_need(stream, 50));
  cli *held = cli_open();
  cli_sends(held, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 600 && !atomic_load(&g_held); i++)
    sleep_ms(5);
  pf__http_req *req = atomic_load(&g_held);
  assert_non_null(req);

  double t0 = now_ms();
  pf__httpd_stop(srv, 400);
  pf__httpd_stop(srv, 0); /* a second call changes nothing */
  /* the idle connection is closed, new ones are refused */
  assert_true(cli_eof(idle));
  cli_close(idle);
  sleep_ms(50);
  cli *late = cli_open_port(port);
  if (late) {
    assert_true(cli_eof(late));
    cli_close(late);
  }
  /* the pending request is answered, with Connection: close */
  assert_int_equal(pf__http_worker_post(atomic_load(&g_held_w), answer_held, req), 0);
  assert_int_equal(cli_response(held, &R), 0);
  expect_body(&R, 200, "held");
  assert_non_null(strstr(R.head, "\r\nConnection: close\r\n"));
  assert_true(cli_eof(held));
  cli_close(held);
  assert_int_equal(atomic_load(&g_aborts), 0);
  /* the open stream is aborted after the grace period */
  assert_true(cli_eof(stream));
  double dt = now_ms() - t0;
  assert_true(dt >= 300);
  cli_close(stream);
  assert_true(wait_int(&g_aborts, 1, 2000));
  assert_true(wait_int(&g_stops, 2, 2000));
  /* a stopped worker takes no posts */
  atomic_store(&g_posted, 0);
  assert_int_equal(pf__http_worker_post(pf__httpd_worker(srv, 0), posted, NULL), -1);
  pf__httpd_join(srv);
  srv = NULL;
  assert_int_equal(atomic_load(&g_posted), 0);
}

/* A stop lets a stream and a held request finish, closes idle connections,
 * refuses what is not completely received with 503, serves nothing
 * pipelined behind, and the workers end as soon as all that is done (long
 * before the grace period). */
static void test_stop_drain(void **state) {
  (void)state;
  pf__httpd_opts o = base_opts();
  o.workers = 1; /* one worker: once it has closed the idle connection it has begun to stop */
  o.header_timeout_ms = 5000;
  o.idle_timeout_ms = 5000;
  assert_int_equal(start(&o), 0);
  cli *idle = cli_open();
  cli_sends(idle, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cli_response(idle, &R), 0);
  cli *held = cli_open();
  cli_sends(held,
            "GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?behind HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 600 && !atomic_load(&g_held); i++)
    sleep_ms(5);
  pf__http_req *req = atomic_load(&g_held);
  assert_non_null(req);
  cli *hdrs = cli_open();
  cli_sends(hdrs, "GET /echo HTTP/1.1\r\nHo");
  cli *body = cli_open();
  cli_sends(body, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  cli *stream = cli_open();
  cli_sends(stream, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cli_need(stream, 20)); /* the stream has begun */
  sleep_ms(20);                      /* the partial requests have been read */
  assert_int_equal(atomic_load(&g_requests), 3);
  assert_false(pf__httpd_done(srv));

  double t0 = now_ms();
  pf__httpd_stop(srv, 5000);
  assert_true(cli_eof(idle)); /* closed at once */
  cli_close(idle);
  /* the request whose body was arriving: 503 at once, and closed */
  assert_int_equal(cli_response(body, &R), 0);
  assert_int_equal(R.status, 503);
  assert_non_null(strstr(R.head, "\r\nConnection: close\r\n"));
  assert_true(cli_eof(body));
  cli_close(body);
  /* the one whose headers were arriving: 503 once they are complete */
  cli_sends(hdrs, "st: x\r\n\r\n");
  assert_int_equal(cli_response(hdrs, &R), 0);
  assert_int_equal(R.status, 503);
  assert_non_null(strstr(R.head, "\r\nConnection: close\r\n"));
  assert_true(cli_eof(hdrs));
  cli_close(hdrs);
  /* the stream runs to its end: every chunk and the terminator, then the close */
  assert_int_equal(cli_response(stream, &R), 0);
  const char *want = "8\r\nchunk-0\n\r\n8\r\nchunk-1\n\r\n8\r\nchunk-2\n\r\n0\r\n\r\n";
  assert_int_equal(R.raw_len, strlen(want));
  assert_memory_equal(R.raw, want, strlen(want));
  assert_true(cli_eof(stream));
  cli_close(stream);
  /* the held request is answered with Connection: close; what was pipelined behind it is not
   * served */
  assert_false(pf__httpd_done(srv));
  assert_int_equal(pf__http_worker_post(atomic_load(&g_held_w), answer_held, req), 0);
  assert_int_equal(cli_response(held, &R), 0);
  expect_body(&R, 200, "held");
  assert_non_null(strstr(R.head, "\r\nConnection: close\r\n"));
  assert_true(cli_eof(held));
  cli_close(held);
  /* nothing left: the worker ends well before the grace period */
  bool done = false;
  for (int i = 0; i < 400 && !(done = pf__httpd_done(srv)); i++)
    sleep_ms(5);
  assert_true(done);
  assert_true(now_ms() - t0 < 2500);
  assert_int_equal(atomic_load(&g_requests), 3);
  assert_int_equal(atomic_load(&g_aborts), 0);
  pf__httpd_join(srv);
  srv = NULL;
}

/* pf__httpd_abort during the grace period closes what is left at once. */
static void test_stop_abort(void **state) {
  (void)state;
  cli *stream = cli_open();
  cli_sends(stream, "GET /slowstream HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cli_need(stream, 50));
  double t0 = now_ms();
  pf__httpd_stop(srv, 10000);
  sleep_ms(100);
  assert_false(pf__httpd_done(srv)); /* the stream holds the stop */
  pf__httpd_abort(srv);
  assert_true(cli_eof(stream));
  cli_close(stream);
  assert_true(wait_int(&g_aborts, 1, 2000));
  bool done = false;
  for (int i = 0; i < 400 && !(done = pf__httpd_done(srv)); i++)
    sleep_ms(5);
  assert_true(done);
  assert_true(now_ms() - t0 < 2000);
  pf__httpd_abort(srv); /* again: nothing left to do */
  pf__httpd_join(srv);
  srv = NULL;
}

/* A request body has an absolute deadline: trickling bytes does not extend it. */
static void test_body_timeout(void **state) {
  (void)state;
  pf__httpd_opts o = base_opts();
  o.workers = 1;
  o.header_timeout_ms = 5000;
  o.idle_timeout_ms = 5000;
  o.body_timeout_ms = 300;
  assert_int_equal(start(&o), 0);
  /* a body in pieces, complete within the deadline */
  cli *c = cli_open();
  cli_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab");
  sleep_ms(60);
  cli_sends(c, "cd");
  sleep_ms(60);
  cli_sends(c, "ef");
  assert_int_equal(cli_response(c, &R), 0);
  expect_body(&R, 200, "abcdef");
  /* one byte every ~40 ms, far below the idle timeout each time */
  double t0 = now_ms();
  cli_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
  struct timeval tv = {0, 40000};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int sent = 0;
  while (c->len == 0 && sent < 100 && send(c->fd, "x", 1, MSG_NOSIGNAL) == 1) {
    sent++;
    if (cli_fill(c) == 0)
      break;
  }
  double dt = now_ms() - t0;
  tv = (struct timeval){3, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  assert_int_equal(cli_response(c, &R), 0);
  assert_int_equal(R.status, 408);
  assert_non_null(strstr(R.head, "\r\nConnection: close\r\n"));
  assert_true(cli_eof(c));
  cli_close(c);
  assert_true(sent >= 4);
  assert_true(dt >= 250 && dt < 2000);
  assert_int_equal(atomic_load(&g_requests), 1);
}

static void test_max_connections(void **state) {
  (void)state;
  pf__httpd_opts o = base_opts();
  o.workers = 1;
  o.max_connections = 2;
  o.idle_timeout_ms = 5000;
  o.header_timeout_ms = 5000;
  assert_int_equal(start(&o), 0);
  cli *a = cli_open(), *b = cli_open();
  cli_sends(a, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  cli_sends(b, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cli_response(a, &R), 0);
  assert_int_equal(cli_response(b, &R), 0);
  cli *c = cli_open();
  assert_true(cli_eof(c));
  cli_close(c);
  cli_close(a);
  sleep_ms(50);
  roundtrip("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /echo -");
  cli_close(b);
}

static void test_addr_in_use(void **state) {
  (void)state;
  pf__httpd_opts o = base_opts();
  o.port = port;
  pf__httpd *h2 = NULL;
  const char *err = NULL;
  assert_int_equal(pf__httpd_start(&o, &h2, &err), UV_EADDRINUSE);
  assert_null(h2);
  assert_non_null(err);
  o.port = 70000;
  assert_int_equal(pf__httpd_start(&o, &h2, &err), UV_EINVAL);
  assert_null(h2);
  /* the first server is unaffected */
  roundtrip("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /echo -");
}

/* A kept-alive connection allocates nothing per request once warm. */
static void test_no_malloc_steady(void **state) {
  (void)state;
  pf_test_alloc_install();
  pf__httpd_opts o = base_opts();
  o.workers = 1;
  assert_int_equal(start(&o), 0);
  cli *c = cli_open();
  const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                    "GET /echo?q HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 10; i++) {
    cli_sends(c, req);
    assert_int_equal(cli_response(c, &R), 0);
    assert_int_equal(cli_response(c, &R), 0);
  }
  size_t before = pf_test_alloc_count();
  for (int i = 0; i < 200; i++) {
    cli_sends(c, req);
    assert_int_equal(cli_response(c, &R), 0);
    expect_body(&R, 200, "hello");
    assert_int_equal(cli_response(c, &R), 0);
    expect_body(&R, 200, "GET /echo q");
  }
  size_t after = pf_test_alloc_count();
  cli_close(c);
  pf__httpd_stop(srv, 1000);
  pf__httpd_join(srv);
  srv = NULL;
  pf_test_alloc_remove();
  assert_int_equal(after - before, 0);
}

static void test_reason(void **state) {
  (void)state;
  assert_string_equal(pf__http_reason(200), "OK");
  assert_string_equal(pf__http_reason(404), "Not Found");
  assert_string_equal(pf__http_reason(431), "Request Header Fields Too Large");
  assert_string_equal(pf__http_reason(599), "Server Error");
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reason),
      cmocka_unit_test_setup_teardown(test_get_post, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive_100, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipelining_50, setup, teardown),
      cmocka_unit_test_setup_teardown(test_big_response, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunked_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
      cmocka_unit_test_setup_teardown(test_body_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_header_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_headers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http10, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_abort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_worker_post, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_pending, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_drain, NULL, teardown),
      cmocka_unit_test_setup_teardown(test_stop_abort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_body_timeout, NULL, teardown),
      cmocka_unit_test_setup_teardown(test_max_connections, NULL, teardown),
      cmocka_unit_test_setup_teardown(test_addr_in_use, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_malloc_steady, NULL, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

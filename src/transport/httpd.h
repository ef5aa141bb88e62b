/* A small HTTP/1.1 server on libuv + llhttp, independent of MCP.
 *
 * N worker threads, each with its own uv loop and its own listening socket
 * bound with SO_REUSEPORT; a connection lives on the worker that accepted it
 * for its whole life. Keep-alive and pipelining (responses go out in request
 * order), chunked request bodies, header/body size limits, header and idle
 * timeouts and an absolute body deadline, streamed (chunked) responses for
 * Server-Sent Events, and a graceful stop (stop accepting, refuse requests
 * not completely received with 503, let in-flight requests and streams
 * finish or be ended by the application, then close).
 *
 * Threading: every callback runs on the worker thread that owns the
 * connection. A pf__http_req and its connection may only be used on that
 * thread; pf__httpd_post() runs a function on another worker's thread.
 */
#ifndef PF_TRANSPORT_HTTPD_H
#define PF_TRANSPORT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct pf__httpd pf__httpd;
typedef struct pf__http_worker pf__http_worker;
typedef struct pf__http_conn pf__http_conn;

typedef enum pf__http_method {
  PF_HTTP_OTHER = 0,
  PF_HTTP_GET,
  PF_HTTP_HEAD,
  PF_HTTP_POST,
  PF_HTTP_PUT,
  PF_HTTP_DELETE,
  PF_HTTP_OPTIONS,
} pf__http_method;

typedef struct pf__http_header {
  const char *name, *value; /* not NUL-terminated; valid until the response */
  size_t name_len, value_len;
} pf__http_header;

/* One parsed request. Borrowed by the on_request callback: valid until the
 * request is answered (pf__http_respond, or pf__http_stream_end after
 * pf__http_stream_begin), or until the connection closes. */
typedef struct pf__http_req {
  pf__http_conn *conn;
  pf__http_worker *worker;
  pf__http_method method;
  const char *method_name; /* e.g. "PATCH" for PF_HTTP_OTHER */
  const char *path;        /* the raw path without the query, e.g. "/mcp" */
  size_t path_len;
  const char *query; /* after '?', or NULL */
  size_t query_len;
  pf__http_header *headers;
  size_t nheaders;
  char *body; /* the whole body (de-chunked), modifiable in place; NUL after
                 body_len; "" when there is none */
  size_t body_len;
  bool keep_alive; /* the client allows the connection to stay open */
  void *ud;        /* free for the application (NULL on arrival) */
} pf__http_req;

/* The value of the first header named `name` (ASCII case-insensitive), or
 * NULL. *len gets its length (leading/trailing blanks trimmed). */
const char *pf__http_header_get(const pf__http_req *r, const char *name, size_t *len);

typedef struct pf__httpd_opts {
  const char *host;           /* listen address (default "127.0.0.1"); IPv6 literals allowed */
  int port;                   /* 0 = pick a free port (see pf__httpd_port) */
  int workers;                /* worker threads; <= 0: one per CPU */
  size_t max_header_bytes;    /* request line + headers (default 16 KiB) -> 431 */
  size_t max_body_bytes;      /* default 16 MiB -> 413 */
  unsigned header_timeout_ms; /* from the first byte of a request to the end of
                                 its headers (default 10 s) -> 408 and close */
  unsigned idle_timeout_ms;   /* keep-alive idle time without a request in progress,
                                 not counting open streams (default 60 s) */
  unsigned body_timeout_ms;   /* from the end of the headers to the end of the
                                 body, however steadily it arrives (default 30 s)
                                 -> 408 and close */
  size_t max_connections;     /* per worker (default 10000); beyond: accept and close */
  /* Called on the worker thread for each complete request. The application
   * must answer every request exactly once: pf__http_respond() now or later,
   * or pf__http_stream_begin() ... pf__http_stream_end(). Requests that
   * follow on the same connection (pipelining) wait until it is answered. */
  void (*on_request)(pf__http_req *req, void *ud);
  /* Called on the worker thread when a connection closes (peer gone, error,
   * timeout, stop) while a request of it is unanswered or a stream is open:
   * the application must drop its references to req (and must not answer
   * it; answering it after this is a no-op). May be NULL. */
  void (*on_abort)(pf__http_req *req, void *ud);
  /* Called on each worker thread once after its loop starts / before it
   * ends (thread-local setup). May be NULL. */
  void (*on_worker_start)(pf__http_worker *w, void *ud);
  void (*on_worker_stop)(pf__http_worker *w, void *ud);
  void *ud;
} pf__httpd_opts;

/* Creates the server, binds and listens on every worker socket (so a bind
 * error is reported here), and starts the worker threads. Returns 0 or a
 * negative libuv error code (e.g. UV_EADDRINUSE); *err_msg then names what
 * failed (static or malloc'd-free text: do not free). */
int pf__httpd_start(const pf__httpd_opts *opts, pf__httpd **out, const char **err_msg);

/* The bound port (useful with port 0). */
int pf__httpd_port(const pf__httpd *h);
int pf__httpd_nworkers(const pf__httpd *h);
pf__http_worker *pf__httpd_worker(pf__httpd *h, int i);

/* Graceful stop, callable from any thread (e.g. a signal handler's loop):
 *  - the listeners close: new connections are refused;
 *  - idle keep-alive connections are closed (FIN; what they still send is
 *    dropped during a short linger);
 *  - a request not completely received yet (headers or body still
 *    arriving) is not handed to the application: it gets `503 Service
 *    Unavailable` with `Connection: close`;
 *  - requests the application holds run on: their answers (and streams)
 *    go out with `Connection: close` (for a stream: its chunked body ends
 *    normally) and the connection closes after them, so requests
 *    pipelined behind them are not served;
 *  - after `grace_ms`, every connection left is closed (on_abort for its
 *    unanswered request).
 * Each worker finishes once it has no connection left. Only the first
 * call counts. Returns at once; pf__httpd_join waits for the workers. */
void pf__httpd_stop(pf__httpd *h, unsigned grace_ms);
/* Stops (as pf__httpd_stop, if not done yet) and closes every connection
 * now, without waiting for the grace period: on_abort for each unanswered
 * request. Any thread; returns at once. */
void pf__httpd_abort(pf__httpd *h);
/* Whether every worker has finished serving (after a stop: no connection
 * is left). Any thread. */
bool pf__httpd_done(const pf__httpd *h);
/* Waits for every worker thread to exit, then frees the server. */
void pf__httpd_join(pf__httpd *h);

/* Worker helpers. */
uv_loop_t *pf__http_worker_loop(pf__http_worker *w);
int pf__http_worker_index(const pf__http_worker *w);
/* The worker whose thread is calling, or NULL on a non-worker thread. */
pf__http_worker *pf__http_worker_current(void);
/* Runs fn(arg) on w's thread as soon as possible (uv_async + a locked
 * queue). Thread-safe. Returns 0, or -1 when the worker is gone (stopped),
 * in which case fn is not called. */
int pf__http_worker_post(pf__http_worker *w, void (*fn)(void *arg), void *arg);
/* Whether pf__httpd_stop has been called (worker thread). */
bool pf__http_worker_stopping(const pf__http_worker *w);

/* ---- answering (worker thread of req only) ---- */

/* A complete response: status line, `Content-Length`, `Content-Type` when
 * ctype is not NULL, `extra_headers` verbatim (each line ending in "\r\n",
 * or NULL), then the body (copied). Adds `Connection: close` and closes
 * after writing when the client asked for it or the server is stopping. */
void pf__http_respond(pf__http_req *req, int status, const char *ctype, const char *extra_headers,
                      const char *body, size_t len);

/* Starts a streamed response (Transfer-Encoding: chunked, no idle timeout
 * while it is open). Then any number of pf__http_stream_write, then exactly
 * one pf__http_stream_end (which finishes the chunked body; the next
 * pipelined request is served after it). */
void pf__http_stream_begin(pf__http_req *req, int status, const char *ctype,
                           const char *extra_headers);
/* Writes one chunk (copied). Returns 0, or -1 when the connection is gone. */
int pf__http_stream_write(pf__http_req *req, const char *data, size_t len);
/* Bytes written to the socket for this stream but not yet flushed by the
 * kernel (uv_stream_get_write_queue_size): for back-pressure decisions. */
size_t pf__http_stream_backlog(const pf__http_req *req);
void pf__http_stream_end(pf__http_req *req);
/* Ends the stream and closes the connection (e.g. SSE polling: the server
 * closes the stream so the client reconnects later). */
void pf__http_stream_close(pf__http_req *req);

/* A reason phrase for a status code ("Not Found"). */
const char *pf__http_reason(int status);

#endif

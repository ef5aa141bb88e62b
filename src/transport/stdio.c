/* stdio transport: newline-delimited JSON-RPC on stdin/stdout (libuv).
 *
 * Each read is scanned for complete lines (memchr); every line is handled
 * before anything is written, and all the output of one read goes out in
 * one write(2). stdout carries MCP messages only; logs go to stderr. The
 * server exits when stdin closes, after the work still running finishes.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/log.h"
#include "mcp/mcp.h"
#include "transport/transport.h"

#define READ_CHUNK ((size_t)64 * 1024)

typedef struct stdio_srv {
  uv_loop_t *loop;
  union {
    uv_pipe_t pipe;
    uv_tty_t tty;
    uv_stream_t stream;
  } in;
  uv_fs_t fsreq; /* stdin is a regular file */
  bool in_is_file;
  uv_signal_t sigint, sigterm;
  pf__session *session;
  pf_buf inbuf;    /* unprocessed input: at most one incomplete line */
  size_t scanned;  /* bytes of inbuf known to hold no '\n' */
  bool discarding; /* dropping the rest of an oversized line */
  pf_buf out;
  bool in_process; /* handling the lines of one read: output goes into out */
  size_t max_message;
  int exit_code;
  bool closing;
} stdio_srv;

/* Writes everything, waiting when stdout is non-blocking and full. */
static int write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(STDOUT_FILENO, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {STDOUT_FILENO, POLLOUT, 0};
      poll(&pfd, 1, -1);
    } else {
      return -1;
    }
  }
  return 0;
}

static void stop(stdio_srv *s, int code);

static void flush(stdio_srv *s) {
  if (s->out.failed) {
    pf_error("out of memory building a response; dropping it");
    pf_buf_reset(&s->out);
    return;
  }
  if (s->out.len && write_all(s->out.data, s->out.len) != 0) {
    pf_info("stdout closed (%s); exiting", strerror(errno));
    pf_buf_reset(&s->out);
    stop(s, 0);
    return;
  }
  pf_buf_reset(&s->out);
  if (s->out.cap > 4 * 1024 * 1024) /* do not keep a huge buffer forever */
    pf_buf_free(&s->out);
}

/* Loop thread, or an HTTP-less process's only loop: output of asynchronous
 * calls, requests to the client and resource updates. (The file watcher and
 * every call run on this loop, so no lock is needed.) While the lines of a
 * read are being handled (an inline handler signalling a resource update,
 * say), the output joins theirs, in order: a notification cannot overtake
 * the responses to the requests before it. */
static void emit(void *ud, const char *data, size_t len, bool final) {
  (void)final;
  stdio_srv *s = ud;
  if (s->in_process)
    pf_buf_append(&s->out, data, len);
  else if (write_all(data, len) != 0)
    stop(s, 0);
}

/* Handles every complete line in inbuf. */
static void process(stdio_srv *s) {
  char *base = s->inbuf.data;
  size_t start = 0, len = s->inbuf.len;
  size_t from = s->scanned;
  s->in_process = true;
  for (;;) {
    char *nl = memchr(base + from, '\n', len - from);
    if (!nl)
      break;
    size_t end = (size_t)(nl - base);
    if (s->discarding) {
      s->discarding = false;
    } else {
      size_t l = end - start;
      if (l && base[start + l - 1] == '\r')
        l--;
      /* blank lines between messages are tolerated */
      size_t k = 0;
      while (k < l && (base[start + k] == ' ' || base[start + k] == '\t'))
        k++;
      if (k < l) {
        if (l > s->max_message)
          pf__session_too_large(s->session, s->max_message, &s->out);
        else
          pf__session_handle(s->session, base + start, l, &s->out);
      }
    }
    start = end + 1;
    from = start;
  }
  /* keep the incomplete tail */
  size_t rest = len - start;
  if (start && rest)
    memmove(base, base + start, rest);
  s->inbuf.len = rest;
  s->scanned = rest;
  if (rest > s->max_message) {
    /* a line longer than the limit: answer now, drop it as it streams in */
    if (!s->discarding)
      pf__session_too_large(s->session, s->max_message, &s->out);
    s->discarding = true;
    s->inbuf.len = 0;
    s->scanned = 0;
  }
  s->in_process = false;
  flush(s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  stdio_srv *s = h->data;
  if (pf_buf_reserve(&s->inbuf, READ_CHUNK) != 0) {
    buf->base = NULL;
    buf->len = 0;
    return;
  }
  buf->base = s->inbuf.data + s->inbuf.len;
  buf->len = s->inbuf.cap - s->inbuf.len;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  stdio_srv *s = st->data;
  if (n > 0) {
    s->inbuf.len += (size_t)n;
    process(s);
  } else if (n < 0) {
    if (n == UV_ENOBUFS) {
      pf_error("out of memory reading stdin");
      stop(s, 1);
      return;
    }
    if (n != UV_EOF)
      pf_warn("reading stdin: %s", uv_strerror((int)n));
    /* A last message without its newline still counts. */
    if (s->inbuf.len && !s->discarding) {
      pf_buf_putc(&s->inbuf, '\n');
      process(s);
    }
    stop(s, 0);
  }
}

static void on_file_read(uv_fs_t *req) {
  stdio_srv *s = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  if (n > 0) {
    s->inbuf.len += (size_t)n;
    process(s);
    if (s->closing)
      return;
    if (pf_buf_reserve(&s->inbuf, READ_CHUNK) != 0) {
      stop(s, 1);
      return;
    }
    uv_buf_t b = uv_buf_init(s->inbuf.data + s->inbuf.len, (unsigned)(s->inbuf.cap - s->inbuf.len));
    uv_fs_read(s->loop, &s->fsreq, STDIN_FILENO, &b, 1, -1, on_file_read);
    return;
  }
  if (s->inbuf.len && !s->discarding) {
    pf_buf_putc(&s->inbuf, '\n');
    process(s);
  }
  stop(s, n < 0 ? 1 : 0);
}

static void on_signal(uv_signal_t *h, int signum) {
  stdio_srv *s = h->data;
  pf_info("received signal %d; exiting", signum);
  /* do not wait for blocking calls: tell their handlers to stop */
  pf__session_cancel_all(s->session);
  stop(s, 0);
}

static void stop(stdio_srv *s, int code) {
  if (s->closing)
    return;
  pf__server_unwatch(s->session->srv);
  s->closing = true;
  s->exit_code = code;
  if (!s->in_is_file) {
    uv_read_stop(&s->in.stream);
    uv_close((uv_handle_t *)&s->in, NULL);
  }
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
}

int pf__serve_stdio(pf_server *srv) {
  signal(SIGPIPE, SIG_IGN);
  stdio_srv s;
  memset(&s, 0, sizeof s);
  s.loop = uv_default_loop();
  s.max_message = srv->max_message;
  s.session = pf__session_create(srv, s.loop, &(pf__route){emit, NULL, NULL, NULL, &s});
  if (!s.session)
    return 1;
  if (pf__server_watch(srv, s.loop) != 0)
    pf_warn("cannot watch file resources; subscribers will not be told of changes");
  uv_handle_type t = uv_guess_handle(STDIN_FILENO);
  int rc;
  if (t == UV_FILE) {
    s.in_is_file = true;
    s.fsreq.data = &s;
    if (pf_buf_reserve(&s.inbuf, READ_CHUNK) != 0)
      return 1;
    uv_buf_t b = uv_buf_init(s.inbuf.data, (unsigned)s.inbuf.cap);
    rc = uv_fs_read(s.loop, &s.fsreq, STDIN_FILENO, &b, 1, -1, on_file_read);
  } else if (t == UV_TTY) {
    rc = uv_tty_init(s.loop, &s.in.tty, STDIN_FILENO, 1);
  } else if (t == UV_NAMED_PIPE || t == UV_TCP) {
    rc = uv_pipe_init(s.loop, &s.in.pipe, 0);
    if (rc == 0)
      rc = uv_pipe_open(&s.in.pipe, STDIN_FILENO);
  } else {
    pf_error("stdin is not a pipe, terminal or file");
    pf__session_destroy(s.session);
    return 1;
  }
  if (rc == 0 && !s.in_is_file) {
    s.in.stream.data = &s;
    rc = uv_read_start(&s.in.stream, on_alloc, on_read);
  }
  if (rc != 0) {
    pf_error("cannot read stdin: %s", uv_strerror(rc));
    pf__session_destroy(s.session);
    return 1;
  }
  uv_signal_init(s.loop, &s.sigint);
  uv_signal_init(s.loop, &s.sigterm);
  s.sigint.data = s.sigterm.data = &s;
  uv_signal_start(&s.sigint, on_signal, SIGINT);
  uv_signal_start(&s.sigterm, on_signal, SIGTERM);
  uv_unref((uv_handle_t *)&s.sigint);
  uv_unref((uv_handle_t *)&s.sigterm);

  uv_run(s.loop, UV_RUN_DEFAULT);

  pf__session_destroy(s.session);
  pf__scratch_release();
  pf_buf_free(&s.inbuf);
  pf_buf_free(&s.out);
  uv_loop_close(s.loop);
  return s.exit_code;
}

/* libFuzzer target: arbitrary bytes on a TCP connection to a live
 * Streamable HTTP server (httpd.c's HTTP/1.1 parsing, limits and pipelining,
 * http.c's routing, sessions, SSE streams, and the MCP engine behind them).
 *
 * The server runs in a thread of this process (pf__serve_http on a small
 * config) on a loopback port. An input that starts with "S:" is sent after
 * an initialize, with every "SESSIONID" in it replaced by that session's id,
 * so that seeds reach past the session check. Each connection is written,
 * half-closed and read until the server closes it or 300 ms pass. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "mcp/mcp.h"
#include "transport/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char yaml[] =
    "forge:\n"
    "  name: fuzz\n"
    "  version: '1'\n"
    "  http: {workers: 1, max_body: 65536, max_header: 8192, header_timeout_ms: 200,\n"
    "         session_ttl_s: 60, sse_buffer: 8}\n"
    "tools:\n"
    "  - {type: native, name: add, description: Add, handler: {path: pf_fuzz_add},\n"
    "     params: {a: number, b: {type: number, required: false}}}\n"
    "  - {type: native, name: slow, description: Slow, handler: {path: pf_fuzz_slow},\n"
    "     blocking: true}\n"
    "resources:\n"
    "  - {uri: 'mem://a', text: A, mime_type: text/plain, supports: [subscribe]}\n";

__attribute__((visibility("default"))) int pf_fuzz_add(pf_call *call);
int pf_fuzz_add(pf_call *call) {
  return pf_result_textf(call, "%g", pf_arg_number(call, "a", 0) + pf_arg_number(call, "b", 0));
}

__attribute__((visibility("default"))) int pf_fuzz_slow(pf_call *call);
int pf_fuzz_slow(pf_call *call) {
  for (int i = 1; i <= 3 && !pf_cancelled(call); i++) {
    pf_progress(call, i, 3, NULL);
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return pf_result_textz(call, "done");
}

static int port;
static pf_cfg_http http_cfg;
static pf_server *srv;
static atomic_int serve_exited;

static void *serve(void *arg) {
  (void)arg;
  pf__serve_http(srv, &http_cfg);
  atomic_store(&serve_exited, 1); /* could not bind, or stopped */
  return NULL;
}

/* A port the kernel says is free now. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int p = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    p = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return p;
}

static int connect_to(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* Writes data, half-closes, reads into out (up to cap) until EOF or timeout. */
static size_t exchange(const char *data, size_t len, char *out, size_t cap, int timeout_ms) {
  int fd = connect_to();
  if (fd < 0)
    return 0;
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  shutdown(fd, SHUT_WR);
  size_t got = 0;
  char sink[4096];
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
      break;
    char *dst = got < cap ? out + got : sink;
    size_t room = got < cap ? cap - got : sizeof sink;
    ssize_t n = recv(fd, dst, room, 0);
    if (n <= 0)
      break;
    if (got < cap)
      got += (size_t)n;
  }
  close(fd);
  return got;
}

static void setup(void) {
  pf_config *cfg;
  pf_buf diag = PF_BUF_INIT;
  if (pf_config_load_text("fuzz.yaml", yaml, sizeof yaml - 1, &cfg, &diag) != 0 ||
      pf__server_create(cfg, &srv, &diag) != 0) {
    fputs(pf_buf_cstr(&diag), stderr);
    abort();
  }
  pf_buf_free(&diag);
  http_cfg = srv->cfg->forge.http;
  /* the port is free when chosen but may be taken before the server binds
   * it: try a few */
  for (int attempt = 0; attempt < 5; attempt++) {
    port = free_port();
    if (port <= 0)
      continue;
    http_cfg.port = (uint32_t)port;
    atomic_store(&serve_exited, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, serve, NULL) != 0)
      abort();
    pthread_detach(t);
    for (int i = 0; i < 1000 && !atomic_load(&serve_exited); i++) { /* 10 s */
      int fd = connect_to();
      if (fd >= 0) {
        close(fd);
        return;
      }
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (!atomic_load(&serve_exited))
      break; /* running but not answering: give up */
  }
  fprintf(stderr, "fuzz_http: the server did not start\n");
  abort();
}

static const char init_req[] =
    "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    "Accept: application/json, text/event-stream\r\nContent-Length: 122\r\n\r\n"
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv)
    setup();
  static char resp[65536];
  if (size >= 2 && data[0] == 'S' && data[1] == ':') {
    size_t n = exchange(init_req, sizeof init_req - 1, resp, sizeof resp - 1, 300);
    resp[n] = 0;
    const char *h = strstr(resp, "Mcp-Session-Id: ");
    char sid[33] = "00000000000000000000000000000000";
    if (h && strlen(h) >= 16 + 32)
      memcpy(sid, h + 16, 32);
    /* replace every SESSIONID (9 bytes) with the 32-byte id */
    char *msg = malloc(size * 4 + 1);
    if (!msg)
      return 0;
    size_t o = 0;
    for (size_t i = 2; i < size;) {
      if (i + 9 <= size && memcmp(data + i, "SESSIONID", 9) == 0) {
        memcpy(msg + o, sid, 32);
        o += 32;
        i += 9;
      } else {
        msg[o++] = (char)data[i++];
      }
    }
    exchange(msg, o, resp, sizeof resp, 300);
    free(msg);
    return 0;
  }
  exchange((const char *)data, size, resp, sizeof resp, 300);
  return 0;
}

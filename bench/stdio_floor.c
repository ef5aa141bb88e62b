/* stdio-floor: the physical limit of an MCP server on stdio, for
 * bench/stdio-bench.sh ("a raw pipe echo of the same bytes, no JSON":
 * ../shared/docs/PERFORMANCE.md).
 *
 *   stdio-floor [TEXT]
 *
 * It does what any stdio server must do and nothing else: read(2) stdin in
 * 64 KB chunks, split complete lines with memchr, and answer each line that
 * has an "id" with a canned response carrying that id, all the answers to one
 * read in one write(2). Nothing is parsed: the id is the bytes after the
 * first `"id":`. The answer to a tools/call is byte for byte what
 * examples/bench (pforge) answers to `add` 2 + 3:
 *   {"jsonrpc":"2.0","id":N,"result":{"content":[{"type":"text","text":"5"}]}}
 * (TEXT replaces 5), so the pipe carries the same bytes in both directions as
 * for pforge, and mcpload checks the responses the same way. A line containing
 * `"method":"initialize"` gets a minimal initialize result instead; lines
 * without an id (notifications) get nothing. It exits 0 when stdin closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK ((size_t)64 * 1024)

static char *out;
static size_t out_len, out_cap;

static void put(const char *p, size_t n) {
  if (out_len + n > out_cap) {
    while (out_len + n > out_cap)
      out_cap = out_cap ? out_cap * 2 : CHUNK;
    out = realloc(out, out_cap);
    if (!out) {
      perror("stdio-floor: realloc");
      exit(1);
    }
  }
  memcpy(out + out_len, p, n);
  out_len += n;
}

static int flush_out(void) {
  size_t off = 0;
  while (off < out_len) {
    ssize_t w = write(STDOUT_FILENO, out + off, out_len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    off += (size_t)w;
  }
  out_len = 0;
  return 0;
}

int main(int argc, char **argv) {
  const char *text = argc > 1 ? argv[1] : "5";
  char tail[256];
  int tn = snprintf(tail, sizeof tail, ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"%s\"}]}}\n",
                    text);
  if (tn < 0 || (size_t)tn >= sizeof tail) {
    fputs("stdio-floor: TEXT too long\n", stderr);
    return 2;
  }
  static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
  static const char init_tail[] =
      ",\"result\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{}},"
      "\"serverInfo\":{\"name\":\"stdio-floor\",\"version\":\"1.0\"}}}\n";

  size_t cap = 2 * CHUNK, len = 0;
  char *in = malloc(cap);
  if (!in)
    return 1;
  for (;;) {
    if (cap - len < CHUNK) {
      cap *= 2;
      in = realloc(in, cap);
      if (!in)
        return 1;
    }
    ssize_t n = read(STDIN_FILENO, in + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    size_t scan = len;
    len += (size_t)n;
    size_t start = 0;
    char *nl;
    while ((nl = memchr(in + scan, '\n', len - scan)) != NULL) {
      size_t end = (size_t)(nl - in);
      char *line = in + start;
      size_t l = end - start;
      char *id = memmem(line, l, "\"id\":", 5);
      if (id) {
        char *v = id + 5, *e = v;
        while (e < nl && *e != ',' && *e != '}')
          e++;
        put(head, sizeof head - 1);
        put(v, (size_t)(e - v));
        if (memmem(line, l, "\"method\":\"initialize\"", 21))
          put(init_tail, sizeof init_tail - 1);
        else
          put(tail, (size_t)tn);
      }
      start = scan = end + 1;
    }
    memmove(in, in + start, len - start);
    len -= start;
    if (out_len && flush_out() != 0)
      return 0; /* stdout closed */
  }
  free(in);
  free(out);
  return 0;
}

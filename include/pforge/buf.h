/* Growable byte buffer.
 *
 * The caller owns the struct (usually on the stack or inside another
 * struct); the buffer owns `data`. A failed allocation sets `failed` and
 * makes every later append a no-op, so a sequence of writes can be checked
 * once at the end:
 *
 *   pf_buf b = PF_BUF_INIT;
 *   pf_buf_append(&b, "hello", 5);
 *   pf_buf_putc(&b, '\n');
 *   if (b.failed) ... out of memory ...
 *   write(1, b.data, b.len);
 *   pf_buf_free(&b);
 *
 * `data` is not NUL-terminated unless pf_buf_cstr() is called.
 */
#ifndef PFORGE_BUF_H
#define PFORGE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif
/* The API: exported by the pforge executable, which hides the rest. */
#pragma GCC visibility push(default)

typedef struct pf_buf {
  char *data;  /* owned; NULL until the first append */
  size_t len;  /* bytes in use */
  size_t cap;  /* bytes allocated */
  bool failed; /* sticky out-of-memory flag */
} pf_buf;

#define PF_BUF_INIT {NULL, 0, 0, false}

/* Slow path of pf_buf_reserve(): grows capacity to at least len + extra.
 * Returns 0, or -PF_ENOMEM (and sets failed). */
int pf_buf_grow(pf_buf *b, size_t extra);

/* Makes room for `extra` more bytes. Returns 0 or -PF_ENOMEM. */
static inline int pf_buf_reserve(pf_buf *b, size_t extra) {
  if (b->cap - b->len >= extra && !b->failed)
    return 0;
  return pf_buf_grow(b, extra);
}

static inline void pf_buf_append(pf_buf *b, const void *p, size_t n) {
  if (pf_buf_reserve(b, n) == 0) {
    if (n)
      memcpy(b->data + b->len, p, n);
    b->len += n;
  }
}

static inline void pf_buf_putc(pf_buf *b, char c) {
  if (pf_buf_reserve(b, 1) == 0)
    b->data[b->len++] = c;
}

/* Appends a NUL-terminated string (without the NUL). */
static inline void pf_buf_puts(pf_buf *b, const char *s) {
  pf_buf_append(b, s, strlen(s));
}

/* Appends printf-style formatted text. */
void pf_buf_printf(pf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns data NUL-terminated (the NUL is not counted in len); "" when the
 * buffer is empty or failed. Borrowed: valid until the next append/free. */
const char *pf_buf_cstr(pf_buf *b);

/* Empties the buffer, keeping its memory, and clears `failed`. */
static inline void pf_buf_reset(pf_buf *b) {
  b->len = 0;
  b->failed = false;
}

/* Frees the memory and leaves an empty buffer (PF_BUF_INIT). */
void pf_buf_free(pf_buf *b);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif

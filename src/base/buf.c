#include <pforge/buf.h>
#include <pforge/error.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "base/alloc.h"

int pf_buf_grow(pf_buf *b, size_t extra) {
  if (b->failed)
    return -PF_ENOMEM;
  if (extra > SIZE_MAX / 2 - b->len) {
    b->failed = true;
    return -PF_ENOMEM;
  }
  size_t need = b->len + extra;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  char *p = pf__realloc(b->data, cap);
  if (!p) {
    b->failed = true;
    return -PF_ENOMEM;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

void pf_buf_printf(pf_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) {
    va_end(ap2);
    return;
  }
  if ((size_t)n < sizeof tmp) {
    pf_buf_append(b, tmp, (size_t)n);
  } else if (pf_buf_reserve(b, (size_t)n + 1) == 0) {
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
  }
  va_end(ap2);
}

const char *pf_buf_cstr(pf_buf *b) {
  if (b->failed || pf_buf_reserve(b, 1) != 0)
    return "";
  b->data[b->len] = '\0';
  return b->data;
}

void pf_buf_free(pf_buf *b) {
  pf__free(b->data);
  *b = (pf_buf)PF_BUF_INIT;
}

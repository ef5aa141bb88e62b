#include "base/base64.h"

#include <pforge/error.h>
#include <stdint.h>

static const char enc[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void pf__base64_encode(pf_buf *out, const void *data, size_t len) {
  const unsigned char *p = data;
  if (pf_buf_reserve(out, (len + 2) / 3 * 4) != 0)
    return;
  char *o = out->data + out->len;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    o[0] = enc[v >> 18];
    o[1] = enc[(v >> 12) & 63];
    o[2] = enc[(v >> 6) & 63];
    o[3] = enc[v & 63];
    o += 4;
  }
  if (i < len) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
    o[0] = enc[v >> 18];
    o[1] = enc[(v >> 12) & 63];
    o[2] = i + 1 < len ? enc[(v >> 6) & 63] : '=';
    o[3] = '=';
    o += 4;
  }
  out->len = (size_t)(o - out->data);
}

static int dec(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

int pf__base64_decode(pf_buf *out, const char *text, size_t len) {
  if (len % 4)
    return -PF_EINVAL;
  for (size_t i = 0; i < len; i += 4) {
    int a = dec((unsigned char)text[i]), b = dec((unsigned char)text[i + 1]);
    int last = i + 4 == len;
    int c = last && text[i + 2] == '=' ? -2 : dec((unsigned char)text[i + 2]);
    int d = last && text[i + 3] == '=' ? -2 : dec((unsigned char)text[i + 3]);
    if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2))
      return -PF_EINVAL;
    pf_buf_putc(out, (char)(a << 2 | b >> 4));
    if (c >= 0)
      pf_buf_putc(out, (char)((b & 15) << 4 | c >> 2));
    if (d >= 0)
      pf_buf_putc(out, (char)((c & 3) << 6 | d));
  }
  return out->failed ? -PF_ENOMEM : 0;
}

#include "json/internal.h"

/* Well-formed UTF-8 byte sequences (Unicode 15, table 3-7). Returns the
 * sequence length, or -(maximal invalid subpart length). */
int pf__utf8_check(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t avail = (size_t)(end - p);
  unsigned lo = 0x80, hi = 0xBF;
  int need;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F; /* no UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F; /* nothing above U+10FFFF */
  } else {
    return -1; /* continuation byte, C0/C1 (overlong), F5..FF */
  }
  /* The second byte has the special range; the rest are 80..BF. */
  if (avail < 2 || p[1] < lo || p[1] > hi)
    return -1;
  for (int i = 2; i < need; i++)
    if ((size_t)i >= avail || (p[i] & 0xC0) != 0x80)
      return -i;
  return need;
}

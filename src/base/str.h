/* String view: a borrowed (pointer, length) pair, not NUL-terminated. */
#ifndef PF_BASE_STR_H
#define PF_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct pf_str {
  const char *p;
  size_t n;
} pf_str;

#define PF_STR(lit) ((pf_str){"" lit, sizeof(lit) - 1})

static inline pf_str pf_str_make(const char *p, size_t n) { return (pf_str){p, n}; }
static inline pf_str pf_str_z(const char *s) { return (pf_str){s, s ? strlen(s) : 0}; }

static inline bool pf_str_eq(pf_str a, pf_str b) {
  return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}
static inline bool pf_str_eqz(pf_str a, const char *z) { return pf_str_eq(a, pf_str_z(z)); }
static inline bool pf_str_starts(pf_str s, pf_str prefix) {
  return s.n >= prefix.n && memcmp(s.p, prefix.p, prefix.n) == 0;
}
static inline pf_str pf_str_sub(pf_str s, size_t off, size_t n) {
  if (off > s.n)
    off = s.n;
  if (n > s.n - off)
    n = s.n - off;
  return (pf_str){s.p + off, n};
}

#endif

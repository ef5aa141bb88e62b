/* Seeded 64-bit string hash for in-memory tables (registry, sessions).
 * Not cryptographic; wyhash-style multiply-mix over 8-byte words. */
#ifndef PF_BASE_HASH_H
#define PF_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t pf__mix(uint64_t a, uint64_t b) {
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t pf__hash(const void *data, size_t len, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t h = seed ^ pf__mix(len ^ 0x2d358dccaa6c78a5ull, 0x8bb84b93962eacc9ull);
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = pf__mix(h ^ w, 0x4b33a62ed433d4a3ull);
    p += 8;
    len -= 8;
  }
  uint64_t t = 0;
  if (len) {
    /* the last 1..7 bytes, without reading past the end */
    t = (uint64_t)p[0] << 56 | (uint64_t)p[len >> 1] << 32 | (uint64_t)p[len - 1];
    if (len >= 4) {
      uint32_t a, b;
      memcpy(&a, p, 4);
      memcpy(&b, p + len - 4, 4);
      t = (uint64_t)a << 32 | b;
    }
  }
  return pf__mix(h ^ t, 0x9e3779b97f4a7c15ull ^ len);
}

#endif

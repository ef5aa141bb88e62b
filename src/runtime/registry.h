/* Name -> index lookup with a perfect hash, built once at load.
 *
 * Construction is "hash, displace": keys are spread over buckets by one hash;
 * for each bucket, largest first, a multiplier is searched so that all of
 * its keys land in free slots of the table. A lookup is then one hash, two
 * multiplies and one key comparison, whatever the number of names: O(1)
 * worst case, with no probing. */
#ifndef PF_RUNTIME_REGISTRY_H
#define PF_RUNTIME_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/hash.h"

/* One slot of the table: the key's length and first/last 8 bytes inline, so
 * a lookup of a key up to 16 bytes (most tool and method names) reads one
 * slot and compares two words, with no call to memcmp. 24 bytes. */
typedef struct pf__reg_slot {
  uint64_t w0, w1; /* pf__reg_words() of the key */
  uint32_t len;    /* UINT32_MAX: empty (no key is that long) */
  uint32_t idx;    /* the key's index */
} pf__reg_slot;

typedef struct pf__registry {
  pf__reg_slot *slots;       /* nslots (load factor 0.9) */
  uint64_t *disp;            /* per bucket: an odd multiplier for its keys' hashes */
  uint64_t seed;             /* of the hash: PF__REG_SEED0, or another when two keys collided */
  uint32_t nslots, nbuckets; /* nbuckets: a power of two, >= 2 */
  uint32_t bshift;           /* 64 - log2(nbuckets) */
  const char **keys;         /* the keys, when one is longer than 16 bytes, else NULL */
} pf__registry;

/* The hash seed a build tries first (tests build keys that collide under it). */
#define PF__REG_SEED0 0x243f6a8885a308d3ull

/* Makes r the empty registry (every lookup: -1). A registry needs this or
 * pf__registry_build() before its first lookup: a zeroed one has no table. */
void pf__registry_init(pf__registry *r);

/* Builds the table for keys[0..n) (distinct; borrowed: must outlive the
 * registry). Returns 0 or -PF_ENOMEM / -PF_EINVAL (duplicate key) /
 * -PF_ELIMIT (no seed of the hash separated the keys); r is the empty
 * registry then. */
int pf__registry_build(pf__registry *r, const char *const *keys, const size_t *lens, size_t n);
void pf__registry_free(pf__registry *r);

/* Maps a 32-bit hash onto [0, n) with a multiply instead of a division. */
static inline uint32_t pf__reduce(uint32_t h, uint32_t n) {
  return (uint32_t)(((uint64_t)h * n) >> 32);
}

/* A key's first and last 8 bytes (overlapping below 16; below 8: its bytes
 * packed, never read past the end). With the length they identify any key
 * of up to 16 bytes. */
static inline void pf__reg_words(const char *key, size_t len, uint64_t *w0, uint64_t *w1) {
  const unsigned char *p = (const unsigned char *)key;
  if (len >= 8) {
    memcpy(w0, p, 8);
    memcpy(w1, p + len - 8, 8);
  } else if (len >= 4) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + len - 4, 4);
    *w0 = (uint64_t)a | (uint64_t)b << 32;
    *w1 = 0;
  } else {
    *w0 = len ? (uint64_t)p[0] | (uint64_t)p[len >> 1] << 8 | (uint64_t)p[len - 1] << 16 : 0;
    *w1 = 0;
  }
}

/* The key's hash: three multiplies for keys up to 16 bytes. Weaker than a
 * general-purpose hash, and need not be more: a build that finds two keys
 * with the same 64-bit hash tries another seed. So every pair of distinct
 * keys must collide under few seeds, never under all, and keys that differ
 * in a few bytes (names numbered in place) should not collide more often
 * than chance:
 * - the seed and the length, multiplied by the seed, enter before the
 *   first multiply (w1 + len let device_1_status and device_10_status
 *   share a hash under every seed; a constant length term would do the
 *   same for first words differing by a fixed pattern);
 * - w1 is rotated by an odd amount before it meets the product: the two
 *   words hold the same bytes at offsets a whole number of bytes apart, and
 *   the product's change starts at the first changed bit of w0, so an
 *   unrotated (or byte-rotated) w1 could cancel it for some length, while an
 *   odd rotation puts w1's change at the wrong parity. */
#define PF__REG_K1 0x9e3779b97f4a7c15ull
#define PF__REG_K2 0xd6e8feb86659fd93ull
static inline uint64_t pf__reg_hash(const char *key, size_t len, uint64_t w0, uint64_t w1,
                                    uint64_t seed) {
  if (len > 16)
    return pf__hash(key, len, seed);
  uint64_t r1 = w1 << 29 | w1 >> 35; /* see above */
  return (((w0 ^ seed ^ (uint64_t)len * (seed | 1)) * PF__REG_K1) ^ r1) * PF__REG_K2;
}

/* The top bits of the hash pick the bucket; the bucket's multiplier
 * spreads its keys over the slots (one multiply, one reduction). */
static inline uint32_t pf__registry_bucket(uint64_t h, uint32_t bshift) {
  return (uint32_t)(h >> bshift);
}
static inline uint32_t pf__registry_slot(uint64_t h, uint64_t disp, uint32_t nslots) {
  return pf__reduce((uint32_t)((h * disp) >> 32), nslots);
}

/* The one slot where key[0..len) can be, with its words in *w0, *w1. */
static inline __attribute__((always_inline)) const pf__reg_slot *
pf__registry_probe(const pf__registry *r, const char *key, size_t len, uint64_t *w0, uint64_t *w1) {
  pf__reg_words(key, len, w0, w1);
  uint64_t h = pf__reg_hash(key, len, *w0, *w1, r->seed);
  return &r->slots[pf__registry_slot(h, r->disp[pf__registry_bucket(h, r->bshift)], r->nslots)];
}

/* Keys longer than 16 bytes: out of line, to keep the common path short. */
long pf__registry_find_long(const pf__registry *r, const char *key, size_t len);

/* Index of `key`, or -1. An empty slot's length is UINT32_MAX, which no key
 * of up to 16 bytes has, and an empty registry has one empty slot, so the
 * common path has no test but the comparison. */
static inline __attribute__((always_inline)) long pf__registry_find(const pf__registry *r,
                                                                    const char *key, size_t len) {
  if (__builtin_expect(len > 16, 0))
    return pf__registry_find_long(r, key, len);
  uint64_t w0, w1;
  const pf__reg_slot *s = pf__registry_probe(r, key, len, &w0, &w1);
  if ((s->w0 ^ w0) | (s->w1 ^ w1) | (s->len ^ len))
    return -1;
  return (long)s->idx;
}
#endif

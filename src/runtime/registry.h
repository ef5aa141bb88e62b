/* Name -> index lookup with a perfect hash, built once at load.
 *
 * Construction is "hash, displace": keys are spread over buckets by one hash;
 * for each bucket, largest first, a displacement seed is searched so that
 * all of its keys land in free slots of the table. A lookup is then two
 * hashes and one key comparison, whatever the number of names: O(1) worst
 * case, with no probing. */
#ifndef PF_RUNTIME_REGISTRY_H
#define PF_RUNTIME_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/hash.h"

typedef struct pf__registry {
  uint32_t nkeys, nslots, nbuckets;
  uint32_t *disp;     /* per bucket: displacement seed */
  uint32_t *slot_idx; /* per slot: index + 1 of the key there (0 = empty) */
  const char *const *keys;
  const size_t *lens;
} pf__registry;

/* Builds the table for keys[0..n) (distinct; borrowed: must outlive the
 * registry). Returns 0 or -PF_ENOMEM / -PF_EINVAL (duplicate key). */
int pf__registry_build(pf__registry *r, const char *const *keys, const size_t *lens, size_t n);
void pf__registry_free(pf__registry *r);

/* Maps a 32-bit hash onto [0, n) with a multiply instead of a division. */
static inline uint32_t pf__reduce(uint32_t h, uint32_t n) { return (uint32_t)(((uint64_t)h * n) >> 32); }

/* The bucket and the slot of a key come from one hash of its bytes: the
 * high half picks the bucket, and the bucket's displacement re-mixes the
 * whole hash for the slot (no second pass over the key). */
static inline uint32_t pf__registry_bucket(uint64_t h, uint32_t nbuckets) {
  return pf__reduce((uint32_t)(h >> 32), nbuckets);
}
static inline uint32_t pf__registry_slot(uint64_t h, uint32_t disp, uint32_t nslots) {
  return pf__reduce((uint32_t)pf__mix(h ^ ((uint64_t)disp * 0x9e3779b97f4a7c15ull), 0xd6e8feb86659fd93ull),
                    nslots);
}

/* Index of `key`, or -1. */
static inline long pf__registry_find(const pf__registry *r, const char *key, size_t len) {
  if (!r->nkeys)
    return -1;
  uint64_t h = pf__hash(key, len, 0);
  uint32_t b = pf__registry_bucket(h, r->nbuckets);
  uint32_t i = r->slot_idx[pf__registry_slot(h, r->disp[b], r->nslots)];
  if (!i)
    return -1;
  i--;
  if (r->lens[i] != len || memcmp(r->keys[i], key, len) != 0)
    return -1;
  return (long)i;
}

#endif

#include "runtime/registry.h"

#include <pforge/error.h>
#include <stdbool.h>
#include <stdlib.h>

#include "base/alloc.h"

typedef struct bucket {
  uint32_t id, count, first; /* keys of the bucket: order[first .. first+count) */
} bucket;

static int by_count_desc(const void *a, const void *b) {
  const bucket *x = a, *y = b;
  return x->count != y->count ? (x->count < y->count ? 1 : -1) : (x->id < y->id ? -1 : 1);
}

/* The table of an empty registry: two buckets, one empty slot. */
static uint64_t empty_disp[2];
static pf__reg_slot empty_slot[1] = {{0, 0, UINT32_MAX, UINT32_MAX}};

void pf__registry_init(pf__registry *r) {
  *r = (pf__registry){.slots = empty_slot,
                      .disp = empty_disp,
                      .seed = PF__REG_SEED0,
                      .nslots = 1,
                      .nbuckets = 2,
                      .bshift = 63};
}

/* Working arrays of a build. */
typedef struct build {
  const char *const *keys;
  const size_t *lens;
  uint32_t n;
  bucket *bk;
  uint32_t *order, *kb, *tmp;
  uint64_t *hs;
} build;

/* One attempt at placing every key with r->seed: 0, 1 when two distinct
 * keys have the same hash or a bucket finds no multiplier (another seed
 * will do), -PF_EINVAL for a duplicate key. */
static int place(pf__registry *r, build *b) {
  uint32_t n = b->n;
  for (uint32_t i = 0; i < r->nslots; i++)
    r->slots[i] = (pf__reg_slot){0, 0, UINT32_MAX, UINT32_MAX};
  for (uint32_t i = 0; i < r->nbuckets; i++)
    b->bk[i] = (bucket){i, 0, 0};
  for (uint32_t i = 0; i < n; i++) {
    uint64_t w0, w1;
    pf__reg_words(b->keys[i], b->lens[i], &w0, &w1);
    b->hs[i] = pf__reg_hash(b->keys[i], b->lens[i], w0, w1, r->seed);
    b->kb[i] = pf__registry_bucket(b->hs[i], r->bshift);
    b->bk[b->kb[i]].count++;
  }
  /* counting sort of keys by bucket */
  uint32_t pos = 0;
  for (uint32_t i = 0; i < r->nbuckets; i++) {
    b->bk[i].first = pos;
    pos += b->bk[i].count;
  }
  memset(b->tmp, 0, r->nbuckets * sizeof *b->tmp);
  for (uint32_t i = 0; i < n; i++)
    b->order[b->bk[b->kb[i]].first + b->tmp[b->kb[i]]++] = i;
  qsort(b->bk, r->nbuckets, sizeof *b->bk, by_count_desc);
  uint32_t slots[64];
  for (uint32_t bi = 0; bi < r->nbuckets; bi++) {
    const bucket *k = &b->bk[bi];
    const uint32_t *ks = b->order + k->first;
    if (!k->count) {
      r->disp[k->id] = 0; /* no key: any slot, its key compares unequal */
      continue;
    }
    if (k->count > 64)
      return 1;
    /* keys with one hash never separate: equal keys are an error, distinct
     * ones (astronomically rare) need another seed */
    for (uint32_t x = 1; x < k->count; x++)
      for (uint32_t y = 0; y < x; y++)
        if (b->hs[ks[x]] == b->hs[ks[y]])
          return b->lens[ks[x]] == b->lens[ks[y]] &&
                         memcmp(b->keys[ks[x]], b->keys[ks[y]], b->lens[ks[x]]) == 0
                     ? -PF_EINVAL
                     : 1;
    for (uint64_t d = 1;; d++) {
      if (d > 10000000u)
        return 1;
      uint64_t m = (d * PF__REG_K1) | 1;
      uint32_t j;
      for (j = 0; j < k->count; j++) {
        uint32_t s = pf__registry_slot(b->hs[ks[j]], m, r->nslots), i;
        if (r->slots[s].len != UINT32_MAX)
          break;
        for (i = 0; i < j && slots[i] != s; i++)
          ;
        if (i < j)
          break;
        slots[j] = s;
      }
      if (j == k->count) {
        for (j = 0; j < k->count; j++) {
          uint32_t key = ks[j];
          pf__reg_slot *sl = &r->slots[slots[j]];
          pf__reg_words(b->keys[key], b->lens[key], &sl->w0, &sl->w1);
          sl->len = (uint32_t)b->lens[key];
          sl->idx = key;
        }
        r->disp[k->id] = m;
        break;
      }
    }
  }
  return 0;
}

int pf__registry_build(pf__registry *r, const char *const *keys, const size_t *lens, size_t n) {
  pf__registry_init(r);
  if (n == 0)
    return 0;
  if (n > UINT32_MAX / 4)
    return -PF_EINVAL;
  bool any_long = false;
  for (size_t i = 0; i < n; i++) {
    if (lens[i] >= UINT32_MAX)
      return -PF_EINVAL;
    any_long |= lens[i] > 16;
  }
  r->nslots = (uint32_t)(n + n / 9 + 1); /* load factor 0.9 */
  /* 2.5 to 5 keys per bucket (a power of two: the top bits pick it) */
  r->nbuckets = 2;
  r->bshift = 63;
  while (r->nbuckets < n / 5 + 1) {
    r->nbuckets *= 2;
    r->bshift--;
  }
  r->disp = pf__malloc(r->nbuckets * sizeof *r->disp);
  r->slots = pf__malloc(r->nslots * sizeof *r->slots);
  /* the long path compares the middle bytes too */
  r->keys = any_long ? pf__malloc(n * sizeof *r->keys) : NULL;
  build b = {keys,
             lens,
             (uint32_t)n,
             pf__malloc(r->nbuckets * sizeof *b.bk),
             pf__malloc(n * sizeof *b.order),
             pf__malloc(n * sizeof *b.kb),
             pf__malloc(r->nbuckets * sizeof *b.tmp),
             pf__malloc(n * sizeof *b.hs)};
  int rc = -PF_ENOMEM;
  if (r->disp && r->slots && (r->keys || !any_long) && b.bk && b.order && b.kb && b.tmp && b.hs) {
    if (r->keys)
      memcpy(r->keys, keys, n * sizeof *r->keys);
    rc = 1;
    for (uint64_t attempt = 0; rc == 1 && attempt < 16; attempt++) {
      r->seed = PF__REG_SEED0 ^ attempt * PF__REG_K2;
      rc = place(r, &b);
    }
    if (rc == 1) /* 16 seeds, each with two keys of one hash: never seen */
      rc = -PF_ELIMIT;
  }
  pf__free(b.hs);
  pf__free(b.bk);
  pf__free(b.order);
  pf__free(b.kb);
  pf__free(b.tmp);
  if (rc)
    pf__registry_free(r);
  return rc;
}

long pf__registry_find_long(const pf__registry *r, const char *key, size_t len) {
  if (len >= UINT32_MAX) /* no key is, and an empty slot's length is UINT32_MAX */
    return -1;
  uint64_t w0, w1;
  const pf__reg_slot *s = pf__registry_probe(r, key, len, &w0, &w1);
  if (s->w0 != w0 || s->w1 != w1 || s->len != len ||
      memcmp(r->keys[s->idx] + 8, key + 8, len - 16) != 0)
    return -1;
  return (long)s->idx;
}

void pf__registry_free(pf__registry *r) {
  if (r->slots != empty_slot) {
    pf__free(r->disp);
    pf__free(r->slots);
    pf__free(r->keys);
  }
  pf__registry_init(r);
}

#include "runtime/registry.h"

#include <pforge/error.h>
#include <stdlib.h>

#include "base/alloc.h"

typedef struct bucket {
  uint32_t id, count, first; /* keys of the bucket: order[first .. first+count) */
} bucket;

static int by_count_desc(const void *a, const void *b) {
  const bucket *x = a, *y = b;
  return x->count != y->count ? (x->count < y->count ? 1 : -1) : (x->id < y->id ? -1 : 1);
}

/* The table of an empty registry: one bucket, one empty slot. */
static uint64_t empty_disp[1];
static pf__reg_slot empty_slot[1] = {{0, 0, NULL, UINT32_MAX, 0}};

void pf__registry_init(pf__registry *r) { *r = (pf__registry){0, 1, 1, empty_disp, empty_slot}; }

int pf__registry_build(pf__registry *r, const char *const *keys, const size_t *lens, size_t n) {
  pf__registry_init(r);
  if (n == 0)
    return 0;
  if (n > UINT32_MAX / 4)
    return -PF_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (lens[i] >= UINT32_MAX)
      return -PF_EINVAL;
  r->nkeys = (uint32_t)n;
  r->nslots = (uint32_t)(n + n / 4 + 1);   /* load factor 0.8 */
  r->nbuckets = (uint32_t)(n / 4 + 1);     /* ~4 keys per bucket */
  r->disp = pf__malloc(r->nbuckets * sizeof *r->disp);
  r->slots = pf__malloc(r->nslots * sizeof *r->slots);
  bucket *bk = pf__malloc(r->nbuckets * sizeof *bk);
  uint32_t *order = pf__malloc(n * sizeof *order);
  uint32_t *kb = pf__malloc(n * sizeof *kb);
  uint32_t *tmp = pf__malloc(n * sizeof *tmp);
  uint64_t *hs = NULL;
  int rc = -PF_ENOMEM;
  if (!r->disp || !r->slots || !bk || !order || !kb || !tmp)
    goto out;
  for (uint32_t i = 0; i < r->nslots; i++)
    r->slots[i] = (pf__reg_slot){0, 0, NULL, UINT32_MAX, 0};
  for (uint32_t b = 0; b < r->nbuckets; b++)
    bk[b] = (bucket){b, 0, 0};
  /* one hash per key, kept for the displacement search */
  hs = pf__malloc(n * sizeof *hs);
  if (!hs)
    goto out;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t w0, w1;
    pf__reg_words(keys[i], lens[i], &w0, &w1);
    hs[i] = pf__reg_hash(keys[i], lens[i], w0, w1);
    kb[i] = pf__registry_bucket(hs[i], r->nbuckets);
    bk[kb[i]].count++;
  }
  /* counting sort of keys by bucket */
  uint32_t pos = 0;
  for (uint32_t b = 0; b < r->nbuckets; b++) {
    bk[b].first = pos;
    pos += bk[b].count;
  }
  memset(tmp, 0, r->nbuckets * sizeof *tmp); /* nbuckets <= n */
  for (uint32_t i = 0; i < n; i++)
    order[bk[kb[i]].first + tmp[kb[i]]++] = i;
  qsort(bk, r->nbuckets, sizeof *bk, by_count_desc);
  uint32_t slots[64];
  for (uint32_t bi = 0; bi < r->nbuckets; bi++) {
    bucket *b = &bk[bi];
    if (!b->count) {
      r->disp[b->id] = 0;
      continue;
    }
    if (b->count > 64) { /* astronomically unlikely with a good hash */
      rc = -PF_EINVAL;
      goto out;
    }
    /* equal keys would never separate: reject them up front */
    for (uint32_t x = 1; x < b->count; x++)
      for (uint32_t y = 0; y < x; y++) {
        uint32_t kx = order[b->first + x], ky = order[b->first + y];
        if (lens[kx] == lens[ky] && memcmp(keys[kx], keys[ky], lens[kx]) == 0) {
          rc = -PF_EINVAL;
          goto out;
        }
      }
    for (uint32_t d = 0;; d++) {
      if (d > 10000000u) {
        rc = -PF_EINVAL; /* duplicate keys never separate */
        goto out;
      }
      uint32_t k;
      for (k = 0; k < b->count; k++) {
        uint32_t key = order[b->first + k];
        uint32_t s = pf__registry_slot(hs[key], d * 0x9e3779b97f4a7c15ull, r->nslots);
        if (r->slots[s].idx1)
          break;
        uint32_t j;
        for (j = 0; j < k && slots[j] != s; j++)
          ;
        if (j < k)
          break;
        slots[k] = s;
      }
      if (k == b->count) {
        for (k = 0; k < b->count; k++) {
          uint32_t key = order[b->first + k];
          pf__reg_slot *sl = &r->slots[slots[k]];
          pf__reg_words(keys[key], lens[key], &sl->w0, &sl->w1);
          sl->key = keys[key];
          sl->len = (uint32_t)lens[key];
          sl->idx1 = key + 1;
        }
        r->disp[b->id] = d * 0x9e3779b97f4a7c15ull;
        break;
      }
    }
  }
  rc = 0;
out:
  pf__free(hs);
  pf__free(bk);
  pf__free(order);
  pf__free(kb);
  pf__free(tmp);
  if (rc)
    pf__registry_free(r);
  return rc;
}

long pf__registry_find_long(const pf__registry *r, const char *key, size_t len) {
  uint64_t w0, w1;
  const pf__reg_slot *s = pf__registry_probe(r, key, len, &w0, &w1);
  if (s->w0 != w0 || s->w1 != w1 || s->len != len || !s->idx1 ||
      memcmp(s->key + 8, key + 8, len - 16) != 0)
    return -1;
  return (long)s->idx1 - 1;
}

void pf__registry_free(pf__registry *r) {
  if (r->slots != empty_slot) {
    pf__free(r->disp);
    pf__free(r->slots);
  }
  pf__registry_init(r);
}

/* The memory backend: a chained hash table under one mutex. Expired
 * entries are dropped when read, by a bounded sweep on every write (a few
 * buckets from a rolling cursor), and by a full sweep before a write is
 * refused for `max_size`. When the table is full the write fails
 * (-PF_ELIMIT): nothing is evicted behind a tool's back. */
#include <string.h>
#include <time.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "runtime/state.h"

#define SWEEP_BUCKETS 8
#define MIN_BUCKETS 64

typedef struct ent {
  struct ent *next;
  uint64_t hash;
  uint64_t expires; /* monotonic ms; 0: never */
  size_t klen, vlen;
  char *val; /* after the key, NUL-terminated */
  char key[];
} ent;

typedef struct mem {
  uv_mutex_t lock;
  ent **buckets;
  size_t nbuckets; /* a power of two */
  size_t count, max, cursor;
} mem;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool expired(const ent *e, uint64_t now) { return e->expires && e->expires <= now; }

static uint64_t deadline(uint64_t ttl_ms, uint64_t now) {
  return !ttl_ms ? 0 : ttl_ms > UINT64_MAX - now ? UINT64_MAX : now + ttl_ms;
}

int pf__state_memory_open(const pf_cfg_state *cfg, void **be, pf_buf *err) {
  mem *m = pf__malloc(sizeof *m);
  ent **b = pf__malloc(MIN_BUCKETS * sizeof *b);
  if (!m || !b || uv_mutex_init(&m->lock) != 0) {
    pf__free(m);
    pf__free(b);
    pf_buf_puts(err, "out of memory");
    return -PF_ENOMEM;
  }
  memset(b, 0, MIN_BUCKETS * sizeof *b);
  m->buckets = b;
  m->nbuckets = MIN_BUCKETS;
  m->count = 0;
  m->cursor = 0;
  m->max = cfg->max_size;
  *be = m;
  return 0;
}

static void mem_close(void *be) {
  mem *m = be;
  for (size_t i = 0; i < m->nbuckets; i++) {
    for (ent *e = m->buckets[i], *n; e; e = n) {
      n = e->next;
      pf__free(e);
    }
  }
  pf__free(m->buckets);
  uv_mutex_destroy(&m->lock);
  pf__free(m);
}

/* The link that points at key's entry (or at the NULL ending its chain). */
static ent **find(mem *m, const char *key, size_t klen, uint64_t h) {
  ent **pp = &m->buckets[h & (m->nbuckets - 1)];
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
      break;
  return pp;
}

static void unlink_at(mem *m, ent **pp) {
  ent *e = *pp;
  *pp = e->next;
  pf__free(e);
  m->count--;
}

static void sweep_bucket(mem *m, size_t i, uint64_t now) {
  for (ent **pp = &m->buckets[i]; *pp;) {
    if (expired(*pp, now))
      unlink_at(m, pp);
    else
      pp = &(*pp)->next;
  }
}

static void sweep_some(mem *m, uint64_t now) {
  for (int i = 0; i < SWEEP_BUCKETS; i++) {
    sweep_bucket(m, m->cursor & (m->nbuckets - 1), now);
    m->cursor++;
  }
}

/* The live entry for key: an expired one is dropped and reads as missing. */
static ent **lookup(mem *m, const char *key, size_t klen, uint64_t h, uint64_t now) {
  ent **pp = find(m, key, klen, h);
  if (*pp && expired(*pp, now)) {
    unlink_at(m, pp);
    while (*pp) /* the key is gone: the end of its chain is where it goes */
      pp = &(*pp)->next;
  }
  return pp;
}

static void grow(mem *m) {
  size_t n = m->nbuckets * 2;
  ent **b = pf__malloc(n * sizeof *b);
  if (!b)
    return; /* longer chains, still correct */
  memset(b, 0, n * sizeof *b);
  for (size_t i = 0; i < m->nbuckets; i++) {
    for (ent *e = m->buckets[i], *next; e; e = next) {
      next = e->next;
      e->next = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
    }
  }
  pf__free(m->buckets);
  m->buckets = b;
  m->nbuckets = n;
}

/* Stores key = val at *pp (the slot lookup found), replacing what is there.
 * Caller holds the lock. */
static int store(mem *m, ent **pp, const char *key, size_t klen, uint64_t h, const char *val,
                 size_t vlen, uint64_t expires, uint64_t now) {
  if (!*pp && m->max && m->count >= m->max) {
    for (size_t i = 0; i < m->nbuckets; i++)
      sweep_bucket(m, i, now);
    if (m->count >= m->max)
      return -PF_ELIMIT;
    pp = find(m, key, klen, h);
  }
  if (klen + vlen > SIZE_MAX - sizeof(ent) - 2)
    return -PF_ELIMIT;
  ent *e = pf__malloc(sizeof *e + klen + vlen + 1);
  if (!e)
    return -PF_ENOMEM;
  e->hash = h;
  e->expires = expires;
  e->klen = klen;
  e->vlen = vlen;
  memcpy(e->key, key, klen);
  e->val = e->key + klen;
  if (vlen)
    memcpy(e->val, val, vlen);
  e->val[vlen] = '\0';
  if (*pp) {
    e->next = (*pp)->next;
    pf__free(*pp);
    *pp = e;
  } else {
    e->next = NULL;
    *pp = e;
    if (++m->count > m->nbuckets)
      grow(m);
  }
  return 0;
}

static uint64_t hash_key(const char *key, size_t klen) {
  return pf__hash(key, klen, 0x5f3759df2f6b1d3bull);
}

static int mem_get(void *be, const char *key, size_t klen, pf_arena *arena, const char **val,
                   size_t *vlen) {
  mem *m = be;
  uint64_t h = hash_key(key, klen);
  int rc = 0;
  uv_mutex_lock(&m->lock);
  ent *e = *lookup(m, key, klen, h, now_ms());
  if (!e) {
    rc = -PF_ENOENT;
  } else {
    char *copy = pf_arena_alloc(arena, e->vlen + 1);
    if (!copy) {
      rc = -PF_ENOMEM;
    } else {
      memcpy(copy, e->val, e->vlen + 1);
      *val = copy;
      *vlen = e->vlen;
    }
  }
  uv_mutex_unlock(&m->lock);
  return rc;
}

static int mem_set(void *be, const char *key, size_t klen, const char *val, size_t vlen,
                   uint64_t ttl_ms) {
  mem *m = be;
  uint64_t h = hash_key(key, klen), now = now_ms();
  uv_mutex_lock(&m->lock);
  sweep_some(m, now);
  ent **pp = lookup(m, key, klen, h, now);
  int rc = store(m, pp, key, klen, h, val, vlen, deadline(ttl_ms, now), now);
  uv_mutex_unlock(&m->lock);
  return rc;
}

static int mem_del(void *be, const char *key, size_t klen) {
  mem *m = be;
  uint64_t h = hash_key(key, klen), now = now_ms();
  uv_mutex_lock(&m->lock);
  sweep_some(m, now);
  ent **pp = lookup(m, key, klen, h, now);
  int rc = *pp ? 0 : -PF_ENOENT;
  if (*pp)
    unlink_at(m, pp);
  uv_mutex_unlock(&m->lock);
  return rc;
}

static int mem_incr(void *be, const char *key, size_t klen, int64_t delta, uint64_t new_ttl_ms,
                    int64_t *result) {
  mem *m = be;
  uint64_t h = hash_key(key, klen), now = now_ms();
  uv_mutex_lock(&m->lock);
  sweep_some(m, now);
  ent **pp = lookup(m, key, klen, h, now);
  int64_t cur = 0;
  uint64_t expires = deadline(new_ttl_ms, now);
  int rc = 0;
  if (*pp) {
    expires = (*pp)->expires;
    if (!pf__state_parse_int((*pp)->val, (*pp)->vlen, &cur))
      rc = -PF_EINVAL;
  }
  if (!rc && __builtin_add_overflow(cur, delta, &cur))
    rc = -PF_EINVAL;
  if (!rc) {
    char buf[21];
    size_t n = pf__state_format_int(cur, buf);
    rc = store(m, pp, key, klen, h, buf, n, expires, now);
  }
  uv_mutex_unlock(&m->lock);
  if (!rc)
    *result = cur;
  return rc;
}

static int mem_cas(void *be, const char *key, size_t klen, const char *expected, size_t elen,
                   const char *val, size_t vlen, uint64_t ttl_ms) {
  mem *m = be;
  uint64_t h = hash_key(key, klen), now = now_ms();
  uv_mutex_lock(&m->lock);
  sweep_some(m, now);
  ent **pp = lookup(m, key, klen, h, now);
  int rc;
  if (expected ? !*pp || (*pp)->vlen != elen || memcmp((*pp)->val, expected, elen) != 0 : !!*pp)
    rc = -PF_ECONFLICT;
  else
    rc = store(m, pp, key, klen, h, val, vlen, deadline(ttl_ms, now), now);
  uv_mutex_unlock(&m->lock);
  return rc;
}

const pf__state_ops pf__state_memory_ops = {
    .name = "memory",
    .get = mem_get,
    .set = mem_set,
    .del = mem_del,
    .incr = mem_incr,
    .cas = mem_cas,
    .close = mem_close,
};

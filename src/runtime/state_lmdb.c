/* The lmdb backend: one LMDB environment in `path` (a directory, created
 * when missing), its unnamed database. Each value starts with an 8-byte
 * header, the expiry as wall-clock milliseconds since the epoch (little
 * endian; 0: never), because it must survive a restart. An expired entry
 * reads as missing and is deleted by the next write to it, by a read that
 * finds it, and by the sweep when the store is opened.
 *
 * Write transactions serialize (LMDB's writer lock, shared by processes),
 * which makes incr and cas atomic. MDB_NOTLS: read transactions are not
 * tied to threads, since handlers run on pool threads. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "runtime/state.h"

#define HDR 8
#define MAX_READERS 1024

typedef struct lm {
  MDB_env *env;
  MDB_dbi dbi;
} lm;

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t get_u64(const void *p) {
  const unsigned char *b = p;
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | b[i];
  return v;
}

static void put_u64(void *p, uint64_t v) {
  unsigned char *b = p;
  for (int i = 0; i < 8; i++, v >>= 8)
    b[i] = (unsigned char)v;
}

static bool dead(const MDB_val *v, uint64_t now) {
  if (v->mv_size < HDR)
    return true; /* not ours: treat as missing */
  uint64_t exp = get_u64(v->mv_data);
  return exp && exp <= now;
}

static int map_err(int rc, const char *what) {
  switch (rc) {
  case 0: return 0;
  case MDB_NOTFOUND: return -PF_ENOENT;
  case MDB_MAP_FULL:
  case MDB_READERS_FULL:
  case MDB_TXN_FULL:
  case MDB_BAD_VALSIZE: pf_warn("state (lmdb): %s: %s", what, mdb_strerror(rc)); return -PF_ELIMIT;
  case ENOMEM: return -PF_ENOMEM;
  default: pf_error("state (lmdb): %s: %s", what, mdb_strerror(rc)); return -PF_EIO;
  }
}

/* mkdir -p */
static int make_dirs(const char *path, pf_buf *err) {
  char buf[4096];
  size_t n = strlen(path);
  if (n >= sizeof buf) {
    pf_buf_printf(err, "lmdb path is too long: %s", path);
    return -PF_EINVAL;
  }
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0')
      continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0775) != 0 && errno != EEXIST) {
      pf_buf_printf(err, "cannot create the lmdb directory %s: %s", buf, strerror(errno));
      return -PF_EIO;
    }
    buf[i] = c;
  }
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    pf_buf_printf(err, "lmdb path %s is not a directory", path);
    return -PF_EIO;
  }
  return 0;
}

/* Deletes every expired entry (once, at open). */
static void sweep(lm *l) {
  MDB_txn *txn;
  MDB_cursor *cur;
  if (mdb_txn_begin(l->env, NULL, 0, &txn) != 0)
    return;
  if (mdb_cursor_open(txn, l->dbi, &cur) != 0) {
    mdb_txn_abort(txn);
    return;
  }
  uint64_t now = wall_ms();
  size_t n = 0;
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (dead(&v, now) && mdb_cursor_del(cur, 0) == 0)
      n++;
  }
  mdb_cursor_close(cur);
  if (mdb_txn_commit(txn) == 0 && n)
    pf_debug("state (lmdb): removed %zu expired entries", n);
}

int pf__state_lmdb_open(const pf_cfg_state *cfg, void **be, pf_buf *err) {
  const char *path = cfg->path ? cfg->path : PF_STATE_DEFAULT_PATH;
  int rc = make_dirs(path, err);
  if (rc)
    return rc;
  lm *l = pf__malloc(sizeof *l);
  if (!l) {
    pf_buf_puts(err, "out of memory");
    return -PF_ENOMEM;
  }
  int mrc = mdb_env_create(&l->env);
  if (mrc) {
    pf__free(l);
    pf_buf_printf(err, "lmdb: %s", mdb_strerror(mrc));
    return -PF_EIO;
  }
  uint64_t map = cfg->map_size ? cfg->map_size : PF_STATE_DEFAULT_MAP_SIZE;
  const char *step = "map_size";
  mrc = mdb_env_set_mapsize(l->env, (size_t)map);
  if (!mrc) {
    /* a reader slot per concurrent get: HTTP workers plus the thread pool
     * can exceed LMDB's default of 126 */
    step = "maxreaders";
    mrc = mdb_env_set_maxreaders(l->env, MAX_READERS);
  }
  if (!mrc) {
    step = "open";
    mrc = mdb_env_open(l->env, path, MDB_NOTLS, 0664);
  }
  MDB_txn *txn = NULL;
  if (!mrc) {
    int dead_readers;
    mdb_reader_check(l->env, &dead_readers);
    step = "open the database";
    mrc = mdb_txn_begin(l->env, NULL, 0, &txn);
  }
  if (!mrc) {
    mrc = mdb_dbi_open(txn, NULL, 0, &l->dbi);
    if (!mrc)
      mrc = mdb_txn_commit(txn);
    else
      mdb_txn_abort(txn);
  }
  if (mrc) {
    pf_buf_printf(err, "cannot open the lmdb store in %s (%s): %s", path, step, mdb_strerror(mrc));
    mdb_env_close(l->env);
    pf__free(l);
    return -PF_EIO;
  }
  sweep(l);
  *be = l;
  return 0;
}

static void lm_close(void *be) {
  lm *l = be;
  mdb_env_close(l->env);
  pf__free(l);
}

static int begin(lm *l, unsigned flags, MDB_txn **txn) {
  return map_err(mdb_txn_begin(l->env, NULL, flags, txn), "begin");
}

static int commit(MDB_txn *txn) { return map_err(mdb_txn_commit(txn), "commit"); }

/* Writes key = header(expires) + val in txn. */
static int put(lm *l, MDB_txn *txn, const char *key, size_t klen, const char *val, size_t vlen,
               uint64_t expires) {
  MDB_val k = {klen, (void *)key}, v = {HDR + vlen, NULL};
  int rc = mdb_put(txn, l->dbi, &k, &v, MDB_RESERVE);
  if (rc)
    return map_err(rc, "put");
  put_u64(v.mv_data, expires);
  if (vlen)
    memcpy((char *)v.mv_data + HDR, val, vlen);
  return 0;
}

/* The live value of key in a write txn: 0 and *v, or -PF_ENOENT (an expired
 * entry is deleted). */
static int live(lm *l, MDB_txn *txn, const char *key, size_t klen, MDB_val *v, uint64_t now) {
  MDB_val k = {klen, (void *)key};
  int rc = mdb_get(txn, l->dbi, &k, v);
  if (rc)
    return map_err(rc, "get");
  if (dead(v, now)) {
    mdb_del(txn, l->dbi, &k, NULL);
    return -PF_ENOENT;
  }
  return 0;
}

static uint64_t deadline(uint64_t ttl_ms, uint64_t now) {
  return !ttl_ms ? 0 : ttl_ms > UINT64_MAX - now ? UINT64_MAX : now + ttl_ms;
}

static int lm_get(void *be, const char *key, size_t klen, pf_arena *arena, const char **val,
                  size_t *vlen) {
  lm *l = be;
  MDB_txn *txn;
  int rc = begin(l, MDB_RDONLY, &txn);
  if (rc)
    return rc;
  MDB_val k = {klen, (void *)key}, v;
  rc = map_err(mdb_get(txn, l->dbi, &k, &v), "get");
  bool expired = !rc && dead(&v, wall_ms());
  if (!rc && !expired) {
    size_t n = v.mv_size - HDR;
    char *copy = pf_arena_alloc(arena, n + 1);
    if (!copy) {
      rc = -PF_ENOMEM;
    } else {
      memcpy(copy, (char *)v.mv_data + HDR, n);
      copy[n] = '\0';
      *val = copy;
      *vlen = n;
    }
  }
  mdb_txn_abort(txn);
  if (expired) {
    /* delete it if it is still expired (a writer may have replaced it) */
    MDB_txn *w;
    if (begin(l, 0, &w) == 0) {
      MDB_val cur;
      if (live(l, w, key, klen, &cur, wall_ms()) == -PF_ENOENT)
        commit(w);
      else
        mdb_txn_abort(w);
    }
    rc = -PF_ENOENT;
  }
  return rc;
}

static int lm_set(void *be, const char *key, size_t klen, const char *val, size_t vlen,
                  uint64_t ttl_ms) {
  lm *l = be;
  MDB_txn *txn;
  int rc = begin(l, 0, &txn);
  if (rc)
    return rc;
  rc = put(l, txn, key, klen, val, vlen, deadline(ttl_ms, wall_ms()));
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return commit(txn);
}

static int lm_del(void *be, const char *key, size_t klen) {
  lm *l = be;
  MDB_txn *txn;
  int rc = begin(l, 0, &txn);
  if (rc)
    return rc;
  MDB_val v;
  rc = live(l, txn, key, klen, &v, wall_ms());
  if (!rc) {
    MDB_val k = {klen, (void *)key};
    rc = map_err(mdb_del(txn, l->dbi, &k, NULL), "del");
  }
  if (rc == -PF_ENOENT) {
    commit(txn); /* keeps the deletion of an expired entry */
    return rc;
  }
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return commit(txn);
}

static int lm_incr(void *be, const char *key, size_t klen, int64_t delta, uint64_t new_ttl_ms,
                   int64_t *result) {
  lm *l = be;
  MDB_txn *txn;
  int rc = begin(l, 0, &txn);
  if (rc)
    return rc;
  uint64_t now = wall_ms(), expires = deadline(new_ttl_ms, now);
  int64_t cur = 0;
  MDB_val v;
  rc = live(l, txn, key, klen, &v, now);
  if (!rc) {
    expires = get_u64(v.mv_data);
    if (!pf__state_parse_int((char *)v.mv_data + HDR, v.mv_size - HDR, &cur))
      rc = -PF_EINVAL;
  } else if (rc == -PF_ENOENT) {
    rc = 0;
  }
  if (!rc && __builtin_add_overflow(cur, delta, &cur))
    rc = -PF_EINVAL;
  if (!rc) {
    char buf[21];
    size_t n = pf__state_format_int(cur, buf);
    rc = put(l, txn, key, klen, buf, n, expires);
  }
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  rc = commit(txn);
  if (!rc)
    *result = cur;
  return rc;
}

static int lm_cas(void *be, const char *key, size_t klen, const char *expected, size_t elen,
                  const char *val, size_t vlen, uint64_t ttl_ms) {
  lm *l = be;
  MDB_txn *txn;
  int rc = begin(l, 0, &txn);
  if (rc)
    return rc;
  uint64_t now = wall_ms();
  MDB_val v;
  rc = live(l, txn, key, klen, &v, now);
  if (rc == 0 || rc == -PF_ENOENT) {
    bool exists = rc == 0;
    if (expected ? !exists || v.mv_size - HDR != elen ||
                       memcmp((char *)v.mv_data + HDR, expected, elen) != 0
                 : exists)
      rc = -PF_ECONFLICT;
    else
      rc = put(l, txn, key, klen, val, vlen, deadline(ttl_ms, now));
  }
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return commit(txn);
}

const pf__state_ops pf__state_lmdb_ops = {
    .name = "lmdb",
    .get = lm_get,
    .set = lm_set,
    .del = lm_del,
    .incr = lm_incr,
    .cas = lm_cas,
    .close = lm_close,
};

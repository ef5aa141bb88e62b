/* The state store behind pf_state_* (include/pforge/pforge.h): one backend
 * per server, chosen by the config's `state:` block (memory when there is
 * none), behind a vtable.
 *
 * Every operation may be called by any number of threads at once; incr and
 * cas are atomic (for lmdb and redis also across processes sharing the
 * store). Keys are 1..PF_STATE_MAX_KEY bytes of anything; values are bytes.
 * Times: ttl_ms 0 means the store's default TTL (ttl_seconds; none when 0),
 * PF_STATE_NO_TTL means none.
 */
#ifndef PF_RUNTIME_STATE_H
#define PF_RUNTIME_STATE_H

#include <pforge/arena.h>
#include <pforge/buf.h>
#include <pforge/pforge.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* LMDB's default largest key; the same limit for every backend, so that a
 * tool can move between them. */
#define PF_STATE_MAX_KEY 511
/* How long a redis call waits for its reply. */
#define PF_STATE_REDIS_TIMEOUT_MS 5000

typedef struct pf__state_ops {
  const char *name;
  /* *val is copied into `arena` (NUL-terminated, not counted in *vlen). */
  int (*get)(void *be, const char *key, size_t klen, pf_arena *arena, const char **val,
             size_t *vlen);
  /* ttl_ms: resolved (0 = none). */
  int (*set)(void *be, const char *key, size_t klen, const char *val, size_t vlen, uint64_t ttl_ms);
  int (*del)(void *be, const char *key, size_t klen);
  /* A missing key starts at 0 and gets new_ttl_ms (0 = none); an existing
   * one keeps its TTL. */
  int (*incr)(void *be, const char *key, size_t klen, int64_t delta, uint64_t new_ttl_ms,
              int64_t *result);
  /* expected NULL: the key must not exist. */
  int (*cas)(void *be, const char *key, size_t klen, const char *expected, size_t elen,
             const char *val, size_t vlen, uint64_t ttl_ms);
  void (*close)(void *be);
} pf__state_ops;

typedef struct pf_state {
  const pf__state_ops *ops;
  void *be;
  uint64_t default_ttl_ms; /* ttl_seconds * 1000 */
  atomic_bool warned_loop; /* redis: the one-time "not blocking" warning */
} pf_state;

/* Opens the store `cfg` describes (cfg NULL or !cfg->present: memory with no
 * limits). On failure returns a negative pf_err and appends one line
 * "file:line:col: state: ..." to diag (may be NULL). A redis server that
 * cannot be reached is not a failure: calls fail with -PF_EUNAVAIL until a
 * background reconnection succeeds. */
int pf__state_open(const pf_cfg_state *cfg, pf_state **out, pf_buf *diag);
/* Closes the store; NULL is a no-op. No call may be running. */
void pf__state_close(pf_state *st);

/* The operations, with the checks and TTL resolution every backend shares.
 * Any thread. */
int pf__state_get(pf_state *st, const char *key, size_t klen, pf_arena *arena, const char **val,
                  size_t *vlen);
int pf__state_set(pf_state *st, const char *key, size_t klen, const char *val, size_t vlen,
                  uint64_t ttl_ms);
int pf__state_del(pf_state *st, const char *key, size_t klen);
int pf__state_incr(pf_state *st, const char *key, size_t klen, int64_t delta, int64_t *result);
int pf__state_cas(pf_state *st, const char *key, size_t klen, const char *expected, size_t elen,
                  const char *val, size_t vlen, uint64_t ttl_ms);

/* The backends' constructors (state_memory.c, state_lmdb.c, state_redis.c):
 * 0 and *be, or a negative pf_err with a message in err (no location). */
int pf__state_memory_open(const pf_cfg_state *cfg, void **be, pf_buf *err);
int pf__state_lmdb_open(const pf_cfg_state *cfg, void **be, pf_buf *err);
int pf__state_redis_open(const pf_cfg_state *cfg, void **be, pf_buf *err);
extern const pf__state_ops pf__state_memory_ops, pf__state_lmdb_ops, pf__state_redis_ops;

/* Parses a decimal int64 as INCR accepts it: an optional '-', then digits,
 * nothing else. */
bool pf__state_parse_int(const char *s, size_t len, int64_t *out);
/* Writes v in decimal to buf[21]; returns the length. */
size_t pf__state_format_int(int64_t v, char *buf);

/* The parts of redis://[[user]:password@]host[:port][/db]. */
typedef struct pf__redis_url {
  char host[256];
  int port;           /* default 6379 */
  char password[256]; /* empty when none */
  int db;             /* default 0 */
} pf__redis_url;
/* 0, or -PF_EINVAL with the reason in err. */
int pf__redis_url_parse(const char *url, pf__redis_url *out, pf_buf *err);

#endif

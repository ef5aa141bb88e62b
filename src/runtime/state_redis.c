/* The redis backend: one connection, owned by a dedicated I/O thread that
 * runs its own uv loop with hiredis's async API (libuv adapter). Callers on
 * any thread queue a command, wake the I/O thread (uv_async_send) and wait
 * on their request's condition variable, at most PF_STATE_REDIS_TIMEOUT_MS;
 * the I/O thread writes every queued command at once (pipelining) and
 * signals each caller when its reply arrives.
 *
 * The connection comes back by itself: when it drops or cannot be made,
 * the I/O thread retries with a backoff (100 ms doubling to 2 s); while it
 * is down, calls fail at once with -PF_EUNAVAIL. AUTH and SELECT are sent
 * first on every connection, so that the commands after them run
 * authenticated in the right database.
 *
 * The glue between hiredis and the uv loop is hiredis's libuv adapter
 * (hiredis/adapters/libuv.h) with one fix: the adapter of hiredis 0.14
 * (Debian 12) ignores a poll callback with an error status, and libuv
 * reports a refused connect that way (POLLERR: UV_EBADF, poll stopped), so
 * hiredis would wait for that connection forever. Here an error status is
 * handed to hiredis as readiness, and it finds the socket's error itself.
 *
 * incr is INCRBY (an EVAL when a default TTL must be set on creation); cas
 * is an EVAL: Redis runs a script atomically, across every client. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/log.h"
#include "runtime/state.h"

#define MAX_ARGS 8
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

typedef struct req {
  struct req *next;
  uv_cond_t cond;
  int refs;             /* [lock] the caller's and the I/O thread's */
  bool done, abandoned; /* [lock] */
  int argc;
  const char *argv[MAX_ARGS];
  size_t argvlen[MAX_ARGS];
  /* the reply [lock until done] */
  int rc;   /* 0, or -PF_EUNAVAIL when there was no reply */
  int type; /* REDIS_REPLY_* */
  long long integer;
  char *str; /* malloc'd copy of a string, status or error reply */
  size_t len;
  char data[]; /* the arguments' bytes */
} req;

typedef struct rd {
  pf__redis_url url;
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t retry;
  uv_mutex_t lock;
  req *head, **tail; /* [lock] queued, not yet written */
  bool stopping;     /* [lock] */
  /* I/O thread only */
  redisAsyncContext *ac;
  bool up; /* connected or connecting */
  bool down_logged;
  unsigned backoff_ms;
} rd;

/* ---- hiredis on a uv loop (see the top of the file) ---- */

typedef struct uvev {
  redisAsyncContext *ac; /* NULL once hiredis let go of it */
  uv_poll_t poll;
  int events;
} uvev;

static void ev_poll(uv_poll_t *h, int status, int events) {
  uvev *p = h->data;
  if (status < 0)
    events = p->events ? p->events : UV_READABLE;
  if (p->ac && (events & UV_WRITABLE))
    redisAsyncHandleWrite(p->ac); /* first: it completes a connect */
  if (p->ac && (events & UV_READABLE))
    redisAsyncHandleRead(p->ac);
}

static void ev_update(uvev *p, int add, int del) {
  p->events = (p->events | add) & ~del;
  if (p->events)
    uv_poll_start(&p->poll, p->events, ev_poll);
  else
    uv_poll_stop(&p->poll);
}

static void ev_add_read(void *d) { ev_update(d, UV_READABLE, 0); }
static void ev_del_read(void *d) { ev_update(d, 0, UV_READABLE); }
static void ev_add_write(void *d) { ev_update(d, UV_WRITABLE, 0); }
static void ev_del_write(void *d) { ev_update(d, 0, UV_WRITABLE); }

static void ev_closed(uv_handle_t *h) { pf__free(h->data); }

static void ev_cleanup(void *d) {
  uvev *p = d;
  p->ac = NULL;
  uv_close((uv_handle_t *)&p->poll, ev_closed);
}

static int ev_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  uvev *p = pf__malloc(sizeof *p);
  if (!p)
    return REDIS_ERR;
  memset(p, 0, sizeof *p);
  if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
    pf__free(p);
    return REDIS_ERR;
  }
  p->ac = ac;
  p->poll.data = p;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  ac->ev.data = p;
  return REDIS_OK;
}

/* ---- the I/O thread ---- */

static void req_unref_locked(req *r) {
  if (--r->refs == 0) {
    uv_cond_destroy(&r->cond);
    free(r->str);
    pf__free(r);
  }
}

static void complete(rd *d, req *r, const redisReply *reply) {
  uv_mutex_lock(&d->lock);
  if (!reply) {
    r->rc = -PF_EUNAVAIL;
  } else {
    r->rc = 0;
    r->type = reply->type;
    r->integer = reply->integer;
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
        reply->type == REDIS_REPLY_ERROR) {
      r->str = malloc(reply->len + 1);
      if (r->str) {
        memcpy(r->str, reply->str, reply->len);
        r->str[reply->len] = '\0';
        r->len = reply->len;
      } else {
        r->rc = -PF_ENOMEM;
      }
    }
  }
  r->done = true;
  uv_cond_signal(&r->cond);
  req_unref_locked(r);
  uv_mutex_unlock(&d->lock);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
  complete(ac->data, privdata, reply);
}

static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata) {
  const redisReply *r = reply;
  rd *d = ac->data;
  if (r && r->type == REDIS_REPLY_ERROR)
    pf_error("state (redis): %s at %s:%d failed: %s", (const char *)privdata, d->url.host,
             d->url.port, r->str);
}

static void on_retry(uv_timer_t *t);

static void schedule_retry(rd *d, const char *why) {
  d->ac = NULL;
  d->up = false;
  if (!d->down_logged) {
    pf_warn("state (redis): %s:%d is unavailable (%s); retrying in the background", d->url.host,
            d->url.port, why);
    d->down_logged = true;
  }
  uv_timer_start(&d->retry, on_retry, d->backoff_ms, 0);
  d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
}

static void on_connect(const redisAsyncContext *ac, int status) {
  rd *d = ac->data;
  if (status != REDIS_OK) {
    schedule_retry(d, ac->errstr); /* hiredis frees ac after this */
    return;
  }
  if (d->down_logged)
    pf_info("state (redis): connected to %s:%d", d->url.host, d->url.port);
  d->down_logged = false;
  d->backoff_ms = BACKOFF_MIN_MS;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  rd *d = ac->data;
  uv_mutex_lock(&d->lock);
  bool stopping = d->stopping;
  uv_mutex_unlock(&d->lock);
  if (stopping || status == REDIS_OK) {
    d->ac = NULL;
    d->up = false;
    return;
  }
  schedule_retry(d, ac->errstr[0] ? ac->errstr : "connection lost");
}

static void connect_now(rd *d) {
  redisAsyncContext *ac = redisAsyncConnect(d->url.host, d->url.port);
  if (!ac) {
    schedule_retry(d, "out of memory");
    return;
  }
  if (ac->err) {
    char why[128];
    snprintf(why, sizeof why, "%s", ac->errstr);
    redisAsyncFree(ac);
    schedule_retry(d, why);
    return;
  }
  ac->data = d;
  if (ev_attach(ac, &d->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    schedule_retry(d, "cannot watch the socket");
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  d->ac = ac;
  d->up = true;
  /* Written before any queued command: they run authenticated, in db. */
  if (d->url.password[0]) {
    const char *argv[] = {"AUTH", d->url.password};
    size_t lens[] = {4, strlen(d->url.password)};
    redisAsyncCommandArgv(ac, on_setup_reply, (void *)"AUTH", 2, argv, lens);
  }
  if (d->url.db) {
    char db[16];
    snprintf(db, sizeof db, "%d", d->url.db);
    const char *argv[] = {"SELECT", db};
    size_t lens[] = {6, strlen(db)};
    redisAsyncCommandArgv(ac, on_setup_reply, (void *)"SELECT", 2, argv, lens);
  }
}

static void on_retry(uv_timer_t *t) { connect_now(t->data); }

static void closed(uv_handle_t *h) { (void)h; }

static void on_wake(uv_async_t *a) {
  rd *d = a->data;
  uv_mutex_lock(&d->lock);
  req *list = d->head;
  d->head = NULL;
  d->tail = &d->head;
  bool stopping = d->stopping;
  uv_mutex_unlock(&d->lock);
  while (list) {
    req *r = list;
    list = r->next;
    uv_mutex_lock(&d->lock);
    bool gone = r->abandoned;
    uv_mutex_unlock(&d->lock);
    if (gone || stopping || !d->up ||
        redisAsyncCommandArgv(d->ac, on_reply, r, r->argc, r->argv, r->argvlen) != REDIS_OK)
      complete(d, r, NULL);
  }
  if (stopping) {
    uv_timer_stop(&d->retry);
    if (d->ac) {
      redisAsyncContext *ac = d->ac;
      d->ac = NULL;
      d->up = false;
      redisAsyncFree(ac); /* pending callbacks get NULL replies */
    }
    uv_close((uv_handle_t *)&d->retry, closed);
    uv_close((uv_handle_t *)&d->wake, closed);
  }
}

static void io_main(void *arg) {
  rd *d = arg;
  connect_now(d);
  uv_run(&d->loop, UV_RUN_DEFAULT);
}

/* ---- callers ---- */

/* Sends one command and waits for its reply: 0 with *out (release it with
 * req_release), or -PF_EUNAVAIL / -PF_ETIMEDOUT / -PF_ENOMEM. */
static int roundtrip(rd *d, int argc, const char *const *argv, const size_t *lens, req **out) {
  *out = NULL;
  if (argc > MAX_ARGS)
    return -PF_EINVAL;
  size_t total = 0;
  for (int i = 0; i < argc; i++)
    total += lens[i];
  req *r = pf__malloc(sizeof *r + total);
  if (!r)
    return -PF_ENOMEM;
  memset(r, 0, sizeof *r);
  if (uv_cond_init(&r->cond) != 0) {
    pf__free(r);
    return -PF_ENOMEM;
  }
  r->refs = 2;
  r->argc = argc;
  char *p = r->data;
  for (int i = 0; i < argc; i++) {
    memcpy(p, argv[i], lens[i]);
    r->argv[i] = p;
    r->argvlen[i] = lens[i];
    p += lens[i];
  }
  uv_mutex_lock(&d->lock);
  if (d->stopping) {
    r->refs = 1;
    req_unref_locked(r);
    uv_mutex_unlock(&d->lock);
    return -PF_EUNAVAIL;
  }
  *d->tail = r;
  d->tail = &r->next;
  uv_mutex_unlock(&d->lock);
  uv_async_send(&d->wake);
  uint64_t end = uv_hrtime() + (uint64_t)PF_STATE_REDIS_TIMEOUT_MS * 1000000;
  uv_mutex_lock(&d->lock);
  while (!r->done) {
    uint64_t now = uv_hrtime();
    if (now >= end || uv_cond_timedwait(&r->cond, &d->lock, end - now) == UV_ETIMEDOUT) {
      if (r->done)
        break;
      r->abandoned = true; /* not written if still queued; its reply is dropped */
      req_unref_locked(r);
      uv_mutex_unlock(&d->lock);
      pf_warn("state (redis): no reply from %s:%d within %d ms", d->url.host, d->url.port,
              PF_STATE_REDIS_TIMEOUT_MS);
      return -PF_ETIMEDOUT;
    }
  }
  uv_mutex_unlock(&d->lock);
  if (r->rc) {
    int rc = r->rc;
    uv_mutex_lock(&d->lock);
    req_unref_locked(r);
    uv_mutex_unlock(&d->lock);
    return rc;
  }
  *out = r;
  return 0;
}

static void req_release(rd *d, req *r) {
  uv_mutex_lock(&d->lock);
  req_unref_locked(r);
  uv_mutex_unlock(&d->lock);
}

/* The pf_err for an error reply. */
static int reply_error(rd *d, const req *r, bool value_error) {
  const char *m = r->str ? r->str : "";
  if (!strncmp(m, "NOAUTH", 6) || !strncmp(m, "WRONGPASS", 9) || !strncmp(m, "LOADING", 7) ||
      !strncmp(m, "MASTERDOWN", 10) || strstr(m, "DB index")) {
    pf_warn("state (redis): %s:%d: %s", d->url.host, d->url.port, m);
    return -PF_EUNAVAIL;
  }
  if (value_error &&
      (strstr(m, "not an integer") || strstr(m, "overflow") || strstr(m, "WRONGTYPE")))
    return -PF_EINVAL;
  pf_warn("state (redis): %s:%d: %s", d->url.host, d->url.port, m);
  return -PF_EIO;
}

#define CMD(...)                                                                                   \
  const char *argv[] = {__VA_ARGS__};                                                              \
  const int argc = (int)(sizeof argv / sizeof argv[0])

static int rd_get(void *be, const char *key, size_t klen, pf_arena *arena, const char **val,
                  size_t *vlen) {
  rd *d = be;
  CMD("GET", key);
  size_t lens[] = {3, klen};
  req *r;
  int rc = roundtrip(d, argc, argv, lens, &r);
  if (rc)
    return rc;
  if (r->type == REDIS_REPLY_NIL) {
    rc = -PF_ENOENT;
  } else if (r->type == REDIS_REPLY_STRING) {
    char *copy = pf_arena_alloc(arena, r->len + 1);
    if (!copy) {
      rc = -PF_ENOMEM;
    } else {
      memcpy(copy, r->str, r->len + 1);
      *val = copy;
      *vlen = r->len;
    }
  } else {
    rc = reply_error(d, r, false);
  }
  req_release(d, r);
  return rc;
}

static int rd_set(void *be, const char *key, size_t klen, const char *val, size_t vlen,
                  uint64_t ttl_ms) {
  rd *d = be;
  char ttl[24];
  int tn = snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)ttl_ms);
  CMD("SET", key, val, "PX", ttl);
  size_t lens[] = {3, klen, vlen, 2, (size_t)tn};
  req *r;
  int rc = roundtrip(d, ttl_ms ? argc : 3, argv, lens, &r);
  if (rc)
    return rc;
  rc = r->type == REDIS_REPLY_STATUS ? 0 : reply_error(d, r, false);
  req_release(d, r);
  return rc;
}

static int rd_del(void *be, const char *key, size_t klen) {
  rd *d = be;
  CMD("DEL", key);
  size_t lens[] = {3, klen};
  req *r;
  int rc = roundtrip(d, argc, argv, lens, &r);
  if (rc)
    return rc;
  rc = r->type == REDIS_REPLY_INTEGER ? (r->integer ? 0 : -PF_ENOENT) : reply_error(d, r, false);
  req_release(d, r);
  return rc;
}

/* INCRBY that gives a key it creates the default TTL. GET at the end: Lua
 * numbers are doubles and would round values beyond 2^53. */
static const char incr_lua[] = "local new = redis.call('EXISTS', KEYS[1]) == 0\n"
                               "redis.call('INCRBY', KEYS[1], ARGV[1])\n"
                               "if new then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
                               "return redis.call('GET', KEYS[1])\n";

static int rd_incr(void *be, const char *key, size_t klen, int64_t delta, uint64_t new_ttl_ms,
                   int64_t *result) {
  rd *d = be;
  char num[24], ttl[24];
  size_t nn = pf__state_format_int(delta, num);
  int tn = snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)new_ttl_ms);
  req *r;
  int rc;
  if (!new_ttl_ms) {
    CMD("INCRBY", key, num);
    size_t lens[] = {6, klen, nn};
    rc = roundtrip(d, argc, argv, lens, &r);
  } else {
    CMD("EVAL", incr_lua, "1", key, num, ttl);
    size_t lens[] = {4, sizeof incr_lua - 1, 1, klen, nn, (size_t)tn};
    rc = roundtrip(d, argc, argv, lens, &r);
  }
  if (rc)
    return rc;
  if (r->type == REDIS_REPLY_INTEGER)
    *result = r->integer;
  else if (r->type != REDIS_REPLY_STRING || !pf__state_parse_int(r->str, r->len, result))
    rc = reply_error(d, r, true);
  req_release(d, r);
  return rc;
}

static const char cas_lua[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if ARGV[1] == '1' then\n"
    "  if cur ~= ARGV[2] then return 0 end\n"
    "elseif cur then return 0 end\n"
    "if ARGV[4] ~= '0' then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])\n"
    "else redis.call('SET', KEYS[1], ARGV[3]) end\n"
    "return 1\n";

static int rd_cas(void *be, const char *key, size_t klen, const char *expected, size_t elen,
                  const char *val, size_t vlen, uint64_t ttl_ms) {
  rd *d = be;
  char ttl[24];
  int tn = snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)ttl_ms);
  CMD("EVAL", cas_lua, "1", key, expected ? "1" : "0", expected ? expected : "", val, ttl);
  (void)argc;
  size_t lens[] = {4, sizeof cas_lua - 1, 1, klen, 1, elen, vlen, (size_t)tn};
  req *r;
  int rc = roundtrip(d, 8, argv, lens, &r);
  if (rc)
    return rc;
  rc = r->type == REDIS_REPLY_INTEGER ? (r->integer ? 0 : -PF_ECONFLICT) : reply_error(d, r, false);
  req_release(d, r);
  return rc;
}

/* ---- open, close ---- */

int pf__state_redis_open(const pf_cfg_state *cfg, void **be, pf_buf *err) {
  rd *d = pf__malloc(sizeof *d);
  if (!d) {
    pf_buf_puts(err, "out of memory");
    return -PF_ENOMEM;
  }
  memset(d, 0, sizeof *d);
  int rc = pf__redis_url_parse(cfg->url ? cfg->url : PF_STATE_DEFAULT_URL, &d->url, err);
  if (rc) {
    pf__free(d);
    return rc;
  }
  d->tail = &d->head;
  d->backoff_ms = BACKOFF_MIN_MS;
  int stage = 0;
  if (uv_mutex_init(&d->lock) == 0 && ++stage && uv_loop_init(&d->loop) == 0 && ++stage &&
      uv_async_init(&d->loop, &d->wake, on_wake) == 0 && ++stage &&
      uv_timer_init(&d->loop, &d->retry) == 0 && ++stage) {
    d->wake.data = d;
    d->retry.data = d;
    if (uv_thread_create(&d->thread, io_main, d) == 0) {
      *be = d;
      return 0;
    }
  }
  if (stage >= 3) {
    if (stage >= 4)
      uv_close((uv_handle_t *)&d->retry, NULL);
    uv_close((uv_handle_t *)&d->wake, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
  }
  if (stage >= 2)
    uv_loop_close(&d->loop);
  if (stage >= 1)
    uv_mutex_destroy(&d->lock);
  pf__free(d);
  pf_buf_puts(err, "cannot start the redis I/O thread");
  return -PF_ENOMEM;
}

static void rd_close(void *be) {
  rd *d = be;
  uv_mutex_lock(&d->lock);
  d->stopping = true;
  uv_mutex_unlock(&d->lock);
  uv_async_send(&d->wake);
  uv_thread_join(&d->thread);
  uv_loop_close(&d->loop);
  uv_mutex_destroy(&d->lock);
  pf__free(d);
}

const pf__state_ops pf__state_redis_ops = {
    .name = "redis",
    .get = rd_get,
    .set = rd_set,
    .del = rd_del,
    .incr = rd_incr,
    .cas = rd_cas,
    .close = rd_close,
};

/* The state store: backend choice, the checks every backend shares, and the
 * pf_state_* functions of the native ABI. */
#include "runtime/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "mcp/mcp.h"

static const struct {
  const char *name;
  int (*open)(const pf_cfg_state *cfg, void **be, pf_buf *err);
  const pf__state_ops *ops;
} backends[] = {
    {"memory", pf__state_memory_open, &pf__state_memory_ops},
    {"lmdb", pf__state_lmdb_open, &pf__state_lmdb_ops},
    {"redis", pf__state_redis_open, &pf__state_redis_ops},
};

int pf__state_open(const pf_cfg_state *cfg, pf_state **out, pf_buf *diag) {
  *out = NULL;
  static const pf_cfg_state none = {0};
  if (!cfg || !cfg->present || !cfg->backend)
    cfg = &none;
  const char *name = cfg->backend ? cfg->backend : "memory";
  size_t i = 0;
  while (i < sizeof backends / sizeof backends[0] && strcmp(backends[i].name, name) != 0)
    i++;
  pf_buf err = PF_BUF_INIT;
  int rc = -PF_ECONFIG;
  void *be = NULL;
  if (i == sizeof backends / sizeof backends[0])
    pf_buf_printf(&err, "unknown backend '%s'", name);
  else
    rc = backends[i].open(cfg, &be, &err);
  pf_state *st = NULL;
  if (!rc) {
    st = pf__malloc(sizeof *st);
    if (!st) {
      backends[i].ops->close(be);
      rc = -PF_ENOMEM;
      pf_buf_puts(&err, "out of memory");
    }
  }
  if (rc) {
    if (diag) {
      if (cfg->loc.file)
        pf_buf_printf(diag, "%s:%u:%u: ", cfg->loc.file, cfg->loc.line, cfg->loc.col);
      pf_buf_printf(diag, "state: %s\n", pf_buf_cstr(&err));
    }
    pf_buf_free(&err);
    return rc;
  }
  pf_buf_free(&err);
  st->ops = backends[i].ops;
  st->be = be;
  st->default_ttl_ms = cfg->ttl_seconds > UINT64_MAX / 1000 ? UINT64_MAX : cfg->ttl_seconds * 1000;
  atomic_init(&st->warned_loop, false);
  *out = st;
  return 0;
}

void pf__state_close(pf_state *st) {
  if (!st)
    return;
  st->ops->close(st->be);
  pf__free(st);
}

static int check_key(const char *key, size_t klen) {
  if (!key || klen == 0)
    return -PF_EINVAL;
  return klen > PF_STATE_MAX_KEY ? -PF_ELIMIT : 0;
}

static uint64_t resolve_ttl(pf_state *st, uint64_t ttl_ms) {
  if (ttl_ms == PF_STATE_NO_TTL)
    return 0;
  return ttl_ms ? ttl_ms : st->default_ttl_ms;
}

int pf__state_get(pf_state *st, const char *key, size_t klen, pf_arena *arena, const char **val,
                  size_t *vlen) {
  *val = NULL;
  *vlen = 0;
  int rc = check_key(key, klen);
  if (!rc)
    rc = st->ops->get(st->be, key, klen, arena, val, vlen);
  if (rc) {
    *val = NULL;
    *vlen = 0;
  }
  return rc;
}

int pf__state_set(pf_state *st, const char *key, size_t klen, const char *val, size_t vlen,
                  uint64_t ttl_ms) {
  int rc = check_key(key, klen);
  if (rc)
    return rc;
  if (!val && vlen)
    return -PF_EINVAL;
  return st->ops->set(st->be, key, klen, val ? val : "", vlen, resolve_ttl(st, ttl_ms));
}

int pf__state_del(pf_state *st, const char *key, size_t klen) {
  int rc = check_key(key, klen);
  return rc ? rc : st->ops->del(st->be, key, klen);
}

int pf__state_incr(pf_state *st, const char *key, size_t klen, int64_t delta, int64_t *result) {
  int64_t r;
  int rc = check_key(key, klen);
  if (!rc)
    rc = st->ops->incr(st->be, key, klen, delta, st->default_ttl_ms, &r);
  if (!rc && result)
    *result = r;
  return rc;
}

int pf__state_cas(pf_state *st, const char *key, size_t klen, const char *expected, size_t elen,
                  const char *val, size_t vlen, uint64_t ttl_ms) {
  int rc = check_key(key, klen);
  if (rc)
    return rc;
  if (!val && vlen)
    return -PF_EINVAL;
  if (expected && elen == 0)
    expected = "";
  return st->ops->cas(st->be, key, klen, expected, expected ? elen : 0, val ? val : "", vlen,
                      resolve_ttl(st, ttl_ms));
}

bool pf__state_parse_int(const char *s, size_t len, int64_t *out) {
  size_t i = 0;
  bool neg = len > 0 && s[0] == '-';
  if (neg)
    i++;
  if (i == len || len - i > 19)
    return false;
  uint64_t v = 0;
  for (; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1)
      return false;
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  } else {
    if (v > (uint64_t)INT64_MAX)
      return false;
    *out = (int64_t)v;
  }
  return true;
}

size_t pf__state_format_int(int64_t v, char *buf) {
  return (size_t)snprintf(buf, 21, "%lld", (long long)v);
}

/* redis://[[user]:password@]host[:port][/db] */
int pf__redis_url_parse(const char *url, pf__redis_url *out, pf_buf *err) {
  memset(out, 0, sizeof *out);
  out->port = 6379;
  static const char scheme[] = "redis://";
  if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0) {
    pf_buf_printf(err, "url '%s' must start with redis:// (redis://[:password@]host[:port][/db])",
                  url ? url : "");
    return -PF_EINVAL;
  }
  const char *p = url + sizeof scheme - 1;
  const char *end = p + strcspn(p, "/?#");
  const char *at = memchr(p, '@', (size_t)(end - p));
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
      size_t n = (size_t)(at - colon - 1);
      if (n >= sizeof out->password) {
        pf_buf_puts(err, "the password in the redis url is too long");
        return -PF_EINVAL;
      }
      memcpy(out->password, colon + 1, n);
    } else {
      /* redis://password@host, as some clients accept */
      size_t n = (size_t)(at - p);
      if (n >= sizeof out->password) {
        pf_buf_puts(err, "the password in the redis url is too long");
        return -PF_EINVAL;
      }
      memcpy(out->password, p, n);
    }
    p = at + 1;
  }
  const char *hend = end;
  if (*p == '[') { /* [::1]:6379 */
    const char *rb = memchr(p, ']', (size_t)(end - p));
    if (!rb) {
      pf_buf_printf(err, "url '%s': unterminated [ in the host", url);
      return -PF_EINVAL;
    }
    p++;
    hend = rb;
  } else {
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (colon)
      hend = colon;
  }
  size_t hl = (size_t)(hend - p);
  if (hl == 0 || hl >= sizeof out->host) {
    pf_buf_printf(err, "url '%s' has no host (redis://[:password@]host[:port][/db])", url);
    return -PF_EINVAL;
  }
  memcpy(out->host, p, hl);
  const char *q = hend < end && *hend == ']' ? hend + 1 : hend;
  if (q < end) {
    if (*q != ':' || q + 1 == end) {
      pf_buf_printf(err, "url '%s': expected :port after the host", url);
      return -PF_EINVAL;
    }
    long port = 0;
    for (q++; q < end; q++) {
      if (*q < '0' || *q > '9' || (port = port * 10 + (*q - '0')) > 65535) {
        pf_buf_printf(err, "url '%s': the port must be a number from 1 to 65535", url);
        return -PF_EINVAL;
      }
    }
    if (port == 0) {
      pf_buf_printf(err, "url '%s': the port must be a number from 1 to 65535", url);
      return -PF_EINVAL;
    }
    out->port = (int)port;
  }
  if (*end == '/' && end[1]) {
    long db = 0;
    for (q = end + 1; *q; q++) {
      if (*q < '0' || *q > '9' || (db = db * 10 + (*q - '0')) > 1000000) {
        pf_buf_printf(err, "url '%s': the database after / must be a number", url);
        return -PF_EINVAL;
      }
    }
    out->db = (int)db;
  } else if (*end && !(*end == '/' && !end[1])) {
    pf_buf_printf(err, "url '%s': unexpected '%c' (redis://[:password@]host[:port][/db])", url,
                  *end);
    return -PF_EINVAL;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* The native ABI                                                      */

static pf_state *state_of(pf_call *call) {
  pf_state *st = call->s->srv->state;
  /* A redis call waits a round trip: on the event loop that stalls every
   * other client. Non-blocking native calls have no async record. */
  if (st->ops == &pf__state_redis_ops && !call->async && !atomic_exchange(&st->warned_loop, true))
    pf_warn("tool '%s' uses redis state on the event loop (it says `blocking: false`); remove "
            "that, or make it `blocking: true`, so that the loop never waits for Redis",
            call->name ? call->name : "?");
  return st;
}

int pf_state_get(pf_call *call, const char *key, size_t key_len, const char **val,
                 size_t *val_len) {
  return pf__state_get(state_of(call), key, key_len, call->arena, val, val_len);
}

int pf_state_set(pf_call *call, const char *key, size_t key_len, const char *val, size_t val_len,
                 uint64_t ttl_ms) {
  return pf__state_set(state_of(call), key, key_len, val, val_len, ttl_ms);
}

int pf_state_delete(pf_call *call, const char *key, size_t key_len) {
  return pf__state_del(state_of(call), key, key_len);
}

int pf_state_incr(pf_call *call, const char *key, size_t key_len, int64_t delta, int64_t *result) {
  return pf__state_incr(state_of(call), key, key_len, delta, result);
}

int pf_state_cas(pf_call *call, const char *key, size_t key_len, const char *expected,
                 size_t expected_len, const char *val, size_t val_len, uint64_t ttl_ms) {
  return pf__state_cas(state_of(call), key, key_len, expected, expected_len, val, val_len, ttl_ms);
}

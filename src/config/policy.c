/* Resilience policies: `retry`, `circuit_breaker`, `bulkhead` /
 * `max_concurrent` and `timeout_ms`, per tool and in forge.defaults. */
#include "config/internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/round.h"

/* Defaults of a policy block that is given (src/runtime/middleware.h
 * documents the behaviour). */
#define RETRY_ATTEMPTS 3
#define RETRY_INITIAL_MS 100
#define RETRY_MAX_MS 10000
#define RETRY_MULTIPLIER 2.0
#define RETRY_JITTER 0.1
#define CB_THRESHOLD 5
#define CB_OPEN_MS 30000
#define CB_HALF_OPEN 1
#define CB_SUCCESSES 1
#define BH_QUEUED 64
#define BH_QUEUE_MS 1000

/* A duration: an integer count of milliseconds, or a number with a unit
 * (ms, s, m): 250, "250ms", "1.5s", "2m". */
bool pf__cfg_duration(pf__cfg_ctx *c, const pf__cfg_val *v, uint32_t lo, uint32_t *out) {
  pf__ykind kind;
  const char *s = pf__cfg_scalar(c, v, &kind);
  if (!s)
    return false;
  if (kind == PF__Y_INT) {
    int64_t n;
    if (!pf__cfg_int(c, v, lo, INT32_MAX, &n))
      return false;
    *out = (uint32_t)n;
    return true;
  }
  char *end;
  double x = strtod(s, &end);
  double scale = 0;
  if (end != s) {
    while (*end == ' ')
      end++;
    if (strcmp(end, "ms") == 0)
      scale = 1;
    else if (strcmp(end, "s") == 0)
      scale = 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
      scale = 60000;
  }
  if (scale == 0 || !isfinite(x) || x < 0) {
    pf__cfg_err(c, v->loc, v->path,
                "expected a duration (milliseconds, or a number with ms, s or m: 250ms, 1.5s), "
                "got '%s'",
                s);
    return false;
  }
  double ms = x * scale;
  if (ms < lo || ms > INT32_MAX) {
    pf__cfg_err(c, v->loc, v->path, "duration '%s' is out of range (%u ms to %d ms)", s, lo,
                INT32_MAX);
    return false;
  }
  *out = (uint32_t)pf__round(ms);
  return true;
}

/* ---- retry ---- */

enum { R_MAX_ATTEMPTS, R_INITIAL, R_MAX, R_MULTIPLIER, R_JITTER, R_ON, R_ENABLED, R__N };
static const pf__cfg_key retry_keys[] = {
    {R_MAX_ATTEMPTS, "max_attempts", NULL, PF__T_INT, false},
    /* the original pforge's book spells durations `initial_delay: 100ms` */
    {R_INITIAL, "initial_delay_ms", "initial_delay", PF__T_ANY, false},
    {R_MAX, "max_delay_ms", "max_delay", PF__T_ANY, false},
    {R_MULTIPLIER, "multiplier", NULL, PF__T_NUM, false},
    {R_JITTER, "jitter", NULL, PF__T_ANY, false},
    {R_ON, "on", NULL, PF__T_LIST, false},
    {R_ENABLED, "enabled", NULL, PF__T_BOOL, false},
};

static void parse_retry(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_policy *p) {
  pf__cfg_val k[R__N];
  p->has_retry = true;
  p->retry_max_attempts = RETRY_ATTEMPTS;
  p->retry_initial_delay_ms = RETRY_INITIAL_MS;
  p->retry_max_delay_ms = RETRY_MAX_MS;
  p->retry_multiplier = RETRY_MULTIPLIER;
  p->retry_jitter = RETRY_JITTER;
  p->retry_on = PF_RETRY_ON_TIMEOUT | PF_RETRY_ON_ERROR | PF_RETRY_ON_5XX;
  if (!pf__cfg_map(c, v, retry_keys, PF__NELEM(retry_keys), k, R__N, NULL, NULL))
    return;
  int64_t n;
  if (k[R_MAX_ATTEMPTS].present && pf__cfg_int(c, &k[R_MAX_ATTEMPTS], 1, 100, &n))
    p->retry_max_attempts = (uint32_t)n;
  if (k[R_INITIAL].present)
    pf__cfg_duration(c, &k[R_INITIAL], 0, &p->retry_initial_delay_ms);
  if (k[R_MAX].present)
    pf__cfg_duration(c, &k[R_MAX], 0, &p->retry_max_delay_ms);
  if (p->retry_max_delay_ms < p->retry_initial_delay_ms)
    pf__cfg_err(c, k[R_MAX].present ? k[R_MAX].loc : v->loc, v->path,
                "max_delay (%u ms) is below initial_delay (%u ms)", p->retry_max_delay_ms,
                p->retry_initial_delay_ms);
  double x;
  if (k[R_MULTIPLIER].present && pf__cfg_num(c, &k[R_MULTIPLIER], &x)) {
    if (x < 1 || x > 100)
      pf__cfg_err(c, k[R_MULTIPLIER].loc, k[R_MULTIPLIER].path,
                  "multiplier must be between 1 and 100, got %g", x);
    else
      p->retry_multiplier = x;
  }
  if (k[R_JITTER].present) {
    pf__ykind kind;
    const char *s = pf__cfg_scalar(c, &k[R_JITTER], &kind);
    if (s && kind == PF__Y_BOOL) {
      p->retry_jitter = pf__cfg_bool(c, &k[R_JITTER], true) ? RETRY_JITTER : 0;
    } else if (s && (kind == PF__Y_INT || kind == PF__Y_FLOAT) &&
               pf__cfg_num(c, &k[R_JITTER], &x)) {
      if (x < 0 || x > 1)
        pf__cfg_err(c, k[R_JITTER].loc, k[R_JITTER].path,
                    "jitter must be true, false or a fraction between 0 and 1, got %g", x);
      else
        p->retry_jitter = x;
    } else if (s) {
      pf__cfg_err(c, k[R_JITTER].loc, k[R_JITTER].path,
                  "jitter must be true, false or a fraction between 0 and 1, got '%s'", s);
    }
  }
  if (k[R_ON].present) {
    static const char *const kinds[] = {"timeout", "error", "5xx"};
    const char **on;
    size_t non;
    p->retry_on = 0;
    if (pf__cfg_strlist(c, &k[R_ON], &on, &non)) {
      for (size_t i = 0; i < non; i++) {
        int j = -1;
        for (int m = 0; m < 3; m++)
          if (strcmp(on[i], kinds[m]) == 0)
            j = m;
        if (j < 0) {
          const char *sug = pf__cfg_suggest(on[i], kinds, 3);
          pf__cfg_err(c, k[R_ON].loc, pf__cfg_path_idx(c, k[R_ON].path, i),
                      "unknown failure kind '%s'%s%s%s (expected timeout, error or 5xx)", on[i],
                      sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
        } else {
          p->retry_on |= 1u << j;
        }
      }
      if (non == 0)
        pf__cfg_err(c, k[R_ON].loc, k[R_ON].path,
                    "'on' lists no failure kinds (use timeout, error, 5xx)");
    }
  }
  if (!pf__cfg_bool(c, &k[R_ENABLED], true))
    p->retry_max_attempts = 1;
}

/* ---- circuit breaker ---- */

enum { B_THRESHOLD, B_OPEN, B_HALF_OPEN, B_SUCCESSES, B_ENABLED, B__N };
static const pf__cfg_key breaker_keys[] = {
    {B_THRESHOLD, "failure_threshold", NULL, PF__T_INT, false},
    {B_OPEN, "open_ms", "timeout", PF__T_ANY, false},
    {B_HALF_OPEN, "half_open_max", NULL, PF__T_INT, false},
    {B_SUCCESSES, "success_threshold", NULL, PF__T_INT, false},
    {B_ENABLED, "enabled", NULL, PF__T_BOOL, false},
};

static void parse_breaker(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_policy *p) {
  pf__cfg_val k[B__N];
  p->has_cb = true;
  p->cb_failure_threshold = CB_THRESHOLD;
  p->cb_open_ms = CB_OPEN_MS;
  p->cb_half_open_max = CB_HALF_OPEN;
  p->cb_success_threshold = CB_SUCCESSES;
  if (!pf__cfg_map(c, v, breaker_keys, PF__NELEM(breaker_keys), k, B__N, NULL, NULL))
    return;
  int64_t n;
  if (k[B_THRESHOLD].present && pf__cfg_int(c, &k[B_THRESHOLD], 1, 1000000, &n))
    p->cb_failure_threshold = (uint32_t)n;
  if (k[B_OPEN].present)
    pf__cfg_duration(c, &k[B_OPEN], 1, &p->cb_open_ms);
  if (k[B_HALF_OPEN].present && pf__cfg_int(c, &k[B_HALF_OPEN], 1, 1000000, &n))
    p->cb_half_open_max = (uint32_t)n;
  if (k[B_SUCCESSES].present && pf__cfg_int(c, &k[B_SUCCESSES], 1, 1000000, &n))
    p->cb_success_threshold = (uint32_t)n;
  if (!pf__cfg_bool(c, &k[B_ENABLED], true))
    p->cb_failure_threshold = 0;
}

/* ---- bulkhead ---- */

enum { K_MAX_CONCURRENT, K_MAX_QUEUED, K_TIMEOUT, K__N };
static const pf__cfg_key bulkhead_keys[] = {
    {K_MAX_CONCURRENT, "max_concurrent", NULL, PF__T_INT, true},
    {K_MAX_QUEUED, "max_queued", NULL, PF__T_INT, false},
    {K_TIMEOUT, "queue_timeout_ms", "timeout", PF__T_ANY, false},
};

static void bulkhead_defaults(pf_cfg_policy *p) {
  p->has_bulkhead = true;
  p->max_queued = BH_QUEUED;
  p->queue_timeout_ms = BH_QUEUE_MS;
}

static void parse_bulkhead(pf__cfg_ctx *c, const pf__cfg_val *v, pf_cfg_policy *p) {
  pf__cfg_val k[K__N];
  bulkhead_defaults(p);
  if (!pf__cfg_map(c, v, bulkhead_keys, PF__NELEM(bulkhead_keys), k, K__N, NULL, NULL))
    return;
  int64_t n;
  if (k[K_MAX_CONCURRENT].present && pf__cfg_int(c, &k[K_MAX_CONCURRENT], 1, 1000000, &n))
    p->max_concurrent = (uint32_t)n;
  if (k[K_MAX_QUEUED].present && pf__cfg_int(c, &k[K_MAX_QUEUED], 0, 1000000, &n))
    p->max_queued = (uint32_t)n;
  if (k[K_TIMEOUT].present)
    pf__cfg_duration(c, &k[K_TIMEOUT], 0, &p->queue_timeout_ms);
}

void pf__cfg_policy(pf__cfg_ctx *c, const pf__cfg_policy_vals *pv, pf_cfg_policy *p) {
  if (pv->timeout && pv->timeout->present) {
    uint32_t ms;
    if (pf__cfg_duration(c, pv->timeout, 1, &ms)) {
      p->timeout_ms = ms;
      p->has_timeout = true;
    }
  }
  if (pv->retry && pv->retry->present)
    parse_retry(c, pv->retry, p);
  if (pv->breaker && pv->breaker->present)
    parse_breaker(c, pv->breaker, p);
  if (pv->bulkhead && pv->bulkhead->present && pv->max_concurrent && pv->max_concurrent->present)
    pf__cfg_err(c, pv->max_concurrent->key_loc, pv->max_concurrent->path,
                "give either 'max_concurrent' or 'bulkhead', not both");
  else if (pv->bulkhead && pv->bulkhead->present)
    parse_bulkhead(c, pv->bulkhead, p);
  else if (pv->max_concurrent && pv->max_concurrent->present) {
    int64_t n;
    if (pf__cfg_int(c, pv->max_concurrent, 1, 1000000, &n)) {
      bulkhead_defaults(p);
      p->max_concurrent = (uint32_t)n;
    }
  }
}

/* The tool's policy: forge.defaults, with each group the tool gives
 * replacing the default's whole group. */
void pf__cfg_policy_inherit(pf_cfg_policy *p, const pf_cfg_policy *d) {
  pf_cfg_policy own = *p;
  *p = *d;
  p->has_timeout = p->has_retry = p->has_cb = p->has_bulkhead = false;
  if (own.has_timeout) {
    p->timeout_ms = own.timeout_ms;
    p->has_timeout = true;
  }
  if (own.has_retry) {
    p->retry_max_attempts = own.retry_max_attempts;
    p->retry_initial_delay_ms = own.retry_initial_delay_ms;
    p->retry_max_delay_ms = own.retry_max_delay_ms;
    p->retry_multiplier = own.retry_multiplier;
    p->retry_jitter = own.retry_jitter;
    p->retry_on = own.retry_on;
    p->has_retry = true;
  }
  if (own.has_cb) {
    p->cb_failure_threshold = own.cb_failure_threshold;
    p->cb_open_ms = own.cb_open_ms;
    p->cb_half_open_max = own.cb_half_open_max;
    p->cb_success_threshold = own.cb_success_threshold;
    p->has_cb = true;
  }
  if (own.has_bulkhead) {
    p->max_concurrent = own.max_concurrent;
    p->max_queued = own.max_queued;
    p->queue_timeout_ms = own.queue_timeout_ms;
    p->has_bulkhead = true;
  }
}

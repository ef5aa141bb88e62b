/* Resilience state machines and per-tool counters (see middleware.h). */
#include "runtime/middleware.h"

#include <math.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "base/alloc.h"
#include "base/round.h"

pf__outcome pf__outcome_of(int rc, bool is_error, int upstream_status) {
  if (rc == -PF_ETIMEDOUT)
    return PF__FAIL_TIMEOUT;
  if (upstream_status >= 500)
    return PF__FAIL_5XX;
  if (upstream_status >= 400)
    return PF__FAIL_4XX;
  if (rc < 0 || is_error)
    return PF__FAIL_ERROR;
  return PF__OK;
}

bool pf__retry_wants(const pf_cfg_policy *p, pf__outcome o) {
  switch (o) {
  case PF__FAIL_TIMEOUT: return p->retry_on & PF_RETRY_ON_TIMEOUT;
  case PF__FAIL_ERROR: return p->retry_on & PF_RETRY_ON_ERROR;
  case PF__FAIL_5XX: return p->retry_on & PF_RETRY_ON_5XX;
  default: return false;
  }
}

uint32_t pf__retry_delay(const pf_cfg_policy *p, uint32_t attempt, double r) {
  double d = p->retry_initial_delay_ms;
  for (uint32_t i = 1; i < attempt && d < p->retry_max_delay_ms; i++)
    d *= p->retry_multiplier;
  if (d > p->retry_max_delay_ms)
    d = p->retry_max_delay_ms;
  d += d * p->retry_jitter * r;
  return d >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)pf__round(d);
}

/* ---- circuit breaker ---- */

int pf__breaker_init(pf__breaker *b, const pf_cfg_policy *p) {
  b->p = p;
  b->state = PF__CB_CLOSED;
  b->failures = b->successes = b->trials = 0;
  b->open_until_ms = 0;
  atomic_init(&b->opened, 0);
  return uv_mutex_init(&b->lock) == 0 ? 0 : -PF_ENOMEM;
}

void pf__breaker_destroy(pf__breaker *b) { uv_mutex_destroy(&b->lock); }

/* [lock] Open -> half-open once its time is up. */
static void tick(pf__breaker *b, uint64_t now_ms) {
  if (b->state == PF__CB_OPEN && now_ms >= b->open_until_ms) {
    b->state = PF__CB_HALF_OPEN;
    b->successes = b->trials = 0;
  }
}

static void trip(pf__breaker *b, uint64_t now_ms) {
  b->state = PF__CB_OPEN;
  b->open_until_ms = now_ms + b->p->cb_open_ms;
  b->failures = b->successes = b->trials = 0;
  atomic_fetch_add_explicit(&b->opened, 1, memory_order_relaxed);
}

int pf__breaker_admit(pf__breaker *b, uint64_t now_ms, bool *trial, uint64_t *retry_ms) {
  int rc = 0;
  *trial = false;
  *retry_ms = 0;
  uv_mutex_lock(&b->lock);
  tick(b, now_ms);
  switch (b->state) {
  case PF__CB_CLOSED: break;
  case PF__CB_OPEN:
    *retry_ms = b->open_until_ms - now_ms;
    rc = -1;
    break;
  case PF__CB_HALF_OPEN:
    if (b->trials < b->p->cb_half_open_max) {
      b->trials++;
      *trial = true;
    } else {
      *retry_ms = 0;
      rc = -1;
    }
    break;
  }
  uv_mutex_unlock(&b->lock);
  return rc;
}

void pf__breaker_record(pf__breaker *b, uint64_t now_ms, bool trial, bool failed) {
  uv_mutex_lock(&b->lock);
  if (trial) {
    /* a trial admitted while half-open; the state may have moved on */
    if (b->state == PF__CB_HALF_OPEN) {
      b->trials--;
      if (failed) {
        trip(b, now_ms);
      } else if (++b->successes >= b->p->cb_success_threshold) {
        b->state = PF__CB_CLOSED;
        b->failures = 0;
      }
    }
  } else if (b->state == PF__CB_CLOSED) {
    if (!failed)
      b->failures = 0;
    else if (++b->failures >= b->p->cb_failure_threshold)
      trip(b, now_ms);
  }
  /* a call admitted while closed that ends after the breaker opened
   * changes nothing */
  uv_mutex_unlock(&b->lock);
}

void pf__breaker_abandon(pf__breaker *b, bool trial) {
  uv_mutex_lock(&b->lock);
  if (trial && b->state == PF__CB_HALF_OPEN && b->trials)
    b->trials--;
  uv_mutex_unlock(&b->lock);
}

pf__cb_state pf__breaker_state(pf__breaker *b, uint64_t now_ms) {
  uv_mutex_lock(&b->lock);
  tick(b, now_ms);
  pf__cb_state s = b->state;
  uv_mutex_unlock(&b->lock);
  return s;
}

/* ---- bulkhead ---- */

int pf__bulkhead_init(pf__bulkhead *b, uint32_t max_concurrent, uint32_t max_queued) {
  b->max = max_concurrent;
  b->max_queued = max_queued;
  b->active = b->nqueued = 0;
  b->head = b->tail = NULL;
  return uv_mutex_init(&b->lock) == 0 ? 0 : -PF_ENOMEM;
}

void pf__bulkhead_destroy(pf__bulkhead *b) { uv_mutex_destroy(&b->lock); }

int pf__bulkhead_enter(pf__bulkhead *b, pf__bh_waiter *w) {
  int rc;
  uv_mutex_lock(&b->lock);
  if (b->active < b->max) {
    b->active++;
    rc = 0;
  } else if (b->nqueued < b->max_queued) {
    w->next = NULL;
    w->queued = true;
    if (b->tail)
      b->tail->next = w;
    else
      b->head = w;
    b->tail = w;
    b->nqueued++;
    rc = 1;
  } else {
    rc = -1;
  }
  uv_mutex_unlock(&b->lock);
  return rc;
}

bool pf__bulkhead_leave(pf__bulkhead *b, pf__bh_waiter *w) {
  bool found = false;
  uv_mutex_lock(&b->lock);
  if (w->queued) {
    pf__bh_waiter *prev = NULL;
    for (pf__bh_waiter *x = b->head; x; prev = x, x = x->next)
      if (x == w) {
        if (prev)
          prev->next = x->next;
        else
          b->head = x->next;
        if (b->tail == x)
          b->tail = prev;
        b->nqueued--;
        break;
      }
    w->queued = false;
    found = true;
  }
  uv_mutex_unlock(&b->lock);
  return found;
}

void pf__bulkhead_release(pf__bulkhead *b) {
  uv_mutex_lock(&b->lock);
  pf__bh_waiter *w = b->head;
  if (w) {
    /* the slot passes to w: active stays the same */
    b->head = w->next;
    if (!b->head)
      b->tail = NULL;
    b->nqueued--;
    w->queued = false;
  } else {
    b->active--;
  }
  uv_mutex_unlock(&b->lock);
  if (w)
    w->grant(w);
}

/* ---- counters ---- */

const uint32_t pf__lat_bounds_us[PF__LAT_BUCKETS - 1] = {
    10,     25,     50,      100,     250,     500,     1000,    2500,    5000,   10000,
    25000,  50000,  100000,  250000,  500000,  1000000, 2500000, 5000000, 10000000};

static pf__tool_stats stats_sink;       /* counts nobody reads (out of memory) */
static const pf__tool_stats stats_zero; /* a tool never called */

__attribute__((noinline, cold)) pf__tool_stats *pf__stats_make(_Atomic(pf__tool_stats *) *slot) {
  pf__tool_stats *st = pf__malloc(sizeof *st), *expect = NULL;
  if (!st)
    return &stats_sink;
  for (size_t i = 0; i < sizeof *st / sizeof(uint64_t); i++)
    atomic_init((_Atomic uint64_t *)st + i, 0);
  if (atomic_compare_exchange_strong_explicit(slot, &expect, st, memory_order_acq_rel,
                                              memory_order_acquire))
    return st;
  pf__free(st); /* another thread was first */
  return expect;
}

const pf__tool_stats *pf__stats_peek(_Atomic(pf__tool_stats *) const *slot) {
  const pf__tool_stats *st = atomic_load_explicit(slot, memory_order_acquire);
  return st ? st : &stats_zero;
}

void pf__stats_free(_Atomic(pf__tool_stats *) *slot) {
  pf__free(atomic_load_explicit(slot, memory_order_relaxed));
  atomic_store_explicit(slot, NULL, memory_order_relaxed);
}

void pf__stats_record(pf__tool_stats *st, uint64_t latency_ns, bool error) {
  uint64_t us = latency_ns / 1000;
  size_t i = 0;
  while (i < PF__LAT_BUCKETS - 1 && us > pf__lat_bounds_us[i])
    i++;
  atomic_fetch_add_explicit(&st->calls, 1, memory_order_relaxed);
  if (error)
    atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&st->lat_sum_us, us, memory_order_relaxed);
  atomic_fetch_add_explicit(&st->lat[i], 1, memory_order_relaxed);
}

/* ---- latency stamps ---- */

uint64_t pf__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
bool pf__stamp_tsc;
static uint64_t tsc0, mono0;         /* the calibration's start */
static _Atomic uint64_t ns_per_tick; /* a double's bits; 0 until calibrated */

/* The TSC is used only when the CPU says it is invariant (CPUID
 * 0x80000007, EDX bit 8): same rate in every power state and on every
 * core. */
__attribute__((constructor)) static void stamp_init(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
    return;
  if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8)))
    return;
  mono0 = pf__now_ns();
  tsc0 = pf__rdtsc();
  pf__stamp_tsc = true;
}

uint64_t pf__stamp_ns(pf__stamp from, pf__stamp to) {
  if (to <= from)
    return 0;
  uint64_t ticks = to - from;
  if (!pf__stamp_tsc)
    return ticks;
  /* The tick rate is measured against CLOCK_MONOTONIC since start-up: on
   * each conversion for the first 50 ms, then fixed. */
  double f;
  uint64_t bits = atomic_load_explicit(&ns_per_tick, memory_order_relaxed);
  if (bits) {
    memcpy(&f, &bits, sizeof f);
  } else {
    uint64_t m = pf__now_ns(), t = pf__rdtsc();
    if (t <= tsc0 || m <= mono0)
      return 0;
    f = (double)(m - mono0) / (double)(t - tsc0);
    if (m - mono0 >= 50000000u) {
      memcpy(&bits, &f, sizeof bits);
      atomic_store_explicit(&ns_per_tick, bits, memory_order_relaxed);
    }
  }
  return (uint64_t)((double)ticks * f);
}
#else
uint64_t pf__stamp_ns(pf__stamp from, pf__stamp to) { return to > from ? to - from : 0; }
#endif

/* Resilience for every tool kind: the state machines behind a tool's
 * policy (src/config: pf_cfg_policy), and its counters for metrics. The
 * engine (src/mcp/tools.c) drives them around each call; nothing here
 * touches an event loop, so each piece is tested on its own.
 *
 * Timeout    a call still running after timeout_ms is cancelled (its kind
 *            stops it: cli kills the process group, http drops the
 *            transfer, a blocking handler sees pf_cancelled()) and fails
 *            as a timeout.
 * Retry      a failed attempt whose kind is in `on` (timeout; error: any
 *            failure without an HTTP status, e.g. a refused connection, a
 *            non-zero exit, a handler error; 5xx: an upstream status >= 500)
 *            is tried again after min(initial * multiplier^(n-1), max)
 *            milliseconds plus up to `jitter` of that at random, up to
 *            max_attempts tries in all. 4xx statuses are never retried:
 *            the same request gets the same answer.
 * Breaker    closed: failure_threshold consecutive failures open it. open:
 *            calls fail at once (or go to the fallback) until open_ms has
 *            passed, then it is half-open: up to half_open_max trial calls
 *            at a time; success_threshold successful trials close it, a
 *            failed one opens it again for another open_ms. Failures are
 *            what retry calls failures, after the retries (one call, one
 *            outcome).
 * Bulkhead   at most max_concurrent calls of the tool run at once, server
 *            wide; up to max_queued more wait, each at most
 *            queue_timeout_ms, in arrival order; beyond that a call fails
 *            at once with a clear error.
 * Fallback   (the engine) when the call still fails, or the breaker or the
 *            bulkhead refused it, the fallback tool runs with the same
 *            arguments and its result is the answer.
 */
#ifndef PF_RUNTIME_MIDDLEWARE_H
#define PF_RUNTIME_MIDDLEWARE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pforge/error.h>
#include <uv.h>

#include "config/config.h"

/* ---- outcomes ---- */

typedef enum pf__outcome {
  PF__OK = 0,
  PF__FAIL_ERROR,   /* isError or a handler error, no HTTP status */
  PF__FAIL_TIMEOUT, /* the timeout fired, or the kind gave up on time */
  PF__FAIL_5XX,     /* upstream status >= 500 */
  PF__FAIL_4XX,     /* upstream status 400..499: an error, never retried */
  PF__REJECTED,     /* breaker open or bulkhead full: the tool did not run */
  PF__OUTCOME_N
} pf__outcome;

/* Classifies a finished attempt. */
pf__outcome pf__outcome_of(int rc, bool is_error, int upstream_status);

/* Whether the policy retries this outcome. */
bool pf__retry_wants(const pf_cfg_policy *p, pf__outcome o);

/* Milliseconds to wait before try number `attempt` + 1 (attempt >= 1 tries
 * done), given a uniform random r in [0, 1). */
uint32_t pf__retry_delay(const pf_cfg_policy *p, uint32_t attempt, double r);

/* Whether an outcome counts as a failure for the breaker (4xx does not: the
 * upstream is healthy, the request was wrong). */
static inline bool pf__outcome_failed(pf__outcome o) {
  return o == PF__FAIL_ERROR || o == PF__FAIL_TIMEOUT || o == PF__FAIL_5XX;
}

/* ---- circuit breaker ---- */

typedef enum { PF__CB_CLOSED, PF__CB_OPEN, PF__CB_HALF_OPEN } pf__cb_state;

typedef struct pf__breaker {
  uv_mutex_t lock;
  const pf_cfg_policy *p;
  pf__cb_state state;
  uint32_t failures;  /* consecutive, while closed */
  uint32_t successes; /* trial successes, while half-open */
  uint32_t trials;    /* trial calls running, while half-open */
  uint64_t open_until_ms;
  _Atomic uint64_t opened; /* times it opened (metrics) */
} pf__breaker;

int pf__breaker_init(pf__breaker *b, const pf_cfg_policy *p);
void pf__breaker_destroy(pf__breaker *b);

/* Before a call at now_ms: 0 when it may run (*trial says whether it is a
 * half-open trial, to pass back to pf__breaker_record), or -1 when the
 * breaker refuses it (*retry_ms: until it half-opens). Any thread. */
int pf__breaker_admit(pf__breaker *b, uint64_t now_ms, bool *trial, uint64_t *retry_ms);
/* After an admitted call: its outcome. */
void pf__breaker_record(pf__breaker *b, uint64_t now_ms, bool trial, bool failed);
/* An admitted call that ended without an outcome (cancelled, or refused by
 * the bulkhead): a half-open trial gives its place back, nothing is
 * counted. */
void pf__breaker_abandon(pf__breaker *b, bool trial);
pf__cb_state pf__breaker_state(pf__breaker *b, uint64_t now_ms);

/* ---- bulkhead ---- */

typedef struct pf__bh_waiter {
  struct pf__bh_waiter *next;
  /* Called (with the bulkhead's lock released, on the releasing thread)
   * when a slot is handed to this waiter; it now holds the slot. */
  void (*grant)(struct pf__bh_waiter *w);
  bool queued;
} pf__bh_waiter;

typedef struct pf__bulkhead {
  uv_mutex_t lock;
  uint32_t max, max_queued;
  uint32_t active, nqueued;
  pf__bh_waiter *head, *tail;
} pf__bulkhead;

int pf__bulkhead_init(pf__bulkhead *b, uint32_t max_concurrent, uint32_t max_queued);
void pf__bulkhead_destroy(pf__bulkhead *b);
/* 0: a slot is taken; 1: w is queued (its grant follows, unless
 * pf__bulkhead_leave takes it out first); -1: full. */
int pf__bulkhead_enter(pf__bulkhead *b, pf__bh_waiter *w);
/* Takes a queued waiter out (its wait timed out or its call was
 * cancelled): true when it was still queued; false when its grant has
 * already been called or is running (it holds a slot to release). */
bool pf__bulkhead_leave(pf__bulkhead *b, pf__bh_waiter *w);
/* Gives the slot back: to the first waiter, or frees it. */
void pf__bulkhead_release(pf__bulkhead *b);

/* ---- counters (per tool, lock-free) ---- */

/* Latency histogram upper bounds in microseconds (the last bucket is
 * +Inf). */
#define PF__LAT_BUCKETS 20
extern const uint32_t pf__lat_bounds_us[PF__LAT_BUCKETS - 1];

typedef struct pf__tool_stats {
  _Atomic uint64_t calls;     /* calls answered (each counted once, after retries) */
  _Atomic uint64_t errors;    /* of which isError results */
  _Atomic uint64_t timeouts;  /* attempts that timed out */
  _Atomic uint64_t retries;   /* attempts after the first */
  _Atomic uint64_t rejected;  /* refused by the breaker or the bulkhead */
  _Atomic uint64_t fallbacks; /* answered by the fallback tool */
  _Atomic uint64_t lat_sum_us;
  _Atomic uint64_t lat[PF__LAT_BUCKETS];
} pf__tool_stats;

/* Counts one answered call: its latency and whether it was an error. */
void pf__stats_record(pf__tool_stats *st, uint64_t latency_ns, bool error);

/* A tool's counters are allocated by its first call (a server with many
 * tools, most never called, would otherwise carry 216 bytes per tool).
 * *slot is the tool's pointer; never NULL afterwards (when memory runs out,
 * a shared sink whose counts nobody reads). Thread-safe. */
pf__tool_stats *pf__stats_make(_Atomic(pf__tool_stats *) *slot);
static inline pf__tool_stats *pf__stats_of(_Atomic(pf__tool_stats *) *slot) {
  pf__tool_stats *st = atomic_load_explicit(slot, memory_order_acquire);
  return __builtin_expect(st != NULL, 1) ? st : pf__stats_make(slot);
}
/* For readers: the counters, or all zeros when the tool was never called. */
const pf__tool_stats *pf__stats_peek(_Atomic(pf__tool_stats *) const *slot);
/* Frees what pf__stats_make allocated in *slot. */
void pf__stats_free(_Atomic(pf__tool_stats *) *slot);

/* ---- latency stamps ----
 *
 * Every call is timed for its histogram, so the clock is on the hot path:
 * clock_gettime(CLOCK_MONOTONIC) costs 15-65 ns (63 ns on the 2-core VM of
 * docs/performance.md), the x86-64 time-stamp counter 7-25 ns. Stamps are
 * TSC ticks where the TSC is invariant (constant rate, never stops), else
 * CLOCK_MONOTONIC nanoseconds; pf__stamp_ns() converts a difference. */
typedef uint64_t pf__stamp;

/* CLOCK_MONOTONIC in nanoseconds (also the clock of breakers and metrics). */
uint64_t pf__now_ns(void);

#if defined(__x86_64__)
extern bool pf__stamp_tsc; /* set once at start-up */
static inline uint64_t pf__rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t)hi << 32 | lo;
}
static inline pf__stamp pf__stamp_now(void) { return pf__stamp_tsc ? pf__rdtsc() : pf__now_ns(); }
#else
static inline pf__stamp pf__stamp_now(void) { return pf__now_ns(); }
#endif
/* Nanoseconds between two stamps (0 if `to` is earlier). */
uint64_t pf__stamp_ns(pf__stamp from, pf__stamp to);

#endif

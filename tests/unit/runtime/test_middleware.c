/* src/runtime/middleware.c: outcomes, retry delays, the circuit breaker's
 * transitions (time passed in, so no sleeping), the bulkhead's slots and
 * queue, and the latency histogram. */
#include "support.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "runtime/middleware.h"

static void test_outcome(void **state) {
  (void)state;
  assert_int_equal(pf__outcome_of(0, false, 0), PF__OK);
  assert_int_equal(pf__outcome_of(0, false, 200), PF__OK);
  assert_int_equal(pf__outcome_of(0, true, 0), PF__FAIL_ERROR);
  assert_int_equal(pf__outcome_of(-PF_EIO, false, 0), PF__FAIL_ERROR);
  assert_int_equal(pf__outcome_of(-PF_ETIMEDOUT, true, 0), PF__FAIL_TIMEOUT);
  assert_int_equal(pf__outcome_of(0, true, 503), PF__FAIL_5XX);
  assert_int_equal(pf__outcome_of(0, true, 404), PF__FAIL_4XX);
  assert_true(pf__outcome_failed(PF__FAIL_5XX));
  assert_false(pf__outcome_failed(PF__FAIL_4XX));
  assert_false(pf__outcome_failed(PF__OK));
}

static pf_cfg_policy retry_policy(unsigned on) {
  pf_cfg_policy p;
  memset(&p, 0, sizeof p);
  p.retry_max_attempts = 5;
  p.retry_initial_delay_ms = 100;
  p.retry_max_delay_ms = 1000;
  p.retry_multiplier = 3;
  p.retry_jitter = 0;
  p.retry_on = on;
  return p;
}

static void test_retry(void **state) {
  (void)state;
  pf_cfg_policy p = retry_policy(PF_RETRY_ON_TIMEOUT | PF_RETRY_ON_5XX);
  assert_true(pf__retry_wants(&p, PF__FAIL_TIMEOUT));
  assert_true(pf__retry_wants(&p, PF__FAIL_5XX));
  assert_false(pf__retry_wants(&p, PF__FAIL_ERROR));
  assert_false(pf__retry_wants(&p, PF__FAIL_4XX));
  assert_false(pf__retry_wants(&p, PF__OK));
  assert_false(pf__retry_wants(&p, PF__REJECTED));
  /* min(initial * multiplier^(n-1), max) */
  assert_int_equal(pf__retry_delay(&p, 1, 0.0), 100);
  assert_int_equal(pf__retry_delay(&p, 2, 0.0), 300);
  assert_int_equal(pf__retry_delay(&p, 3, 0.0), 900);
  assert_int_equal(pf__retry_delay(&p, 4, 0.0), 1000);
  assert_int_equal(pf__retry_delay(&p, 60, 0.0), 1000);
  /* jitter adds up to its fraction of the delay */
  p.retry_jitter = 0.5;
  assert_int_equal(pf__retry_delay(&p, 1, 0.0), 100);
  assert_int_equal(pf__retry_delay(&p, 1, 0.5), 125);
  assert_true(pf__retry_delay(&p, 4, 0.999) <= 1500);
}

static pf_cfg_policy breaker_policy(void) {
  pf_cfg_policy p;
  memset(&p, 0, sizeof p);
  p.cb_failure_threshold = 3;
  p.cb_open_ms = 1000;
  p.cb_half_open_max = 1;
  p.cb_success_threshold = 2;
  return p;
}

static void test_breaker(void **state) {
  (void)state;
  pf_cfg_policy p = breaker_policy();
  pf__breaker b;
  assert_int_equal(pf__breaker_init(&b, &p), 0);
  bool trial;
  uint64_t retry;
  uint64_t now = 5000;
  /* closed: failures below the threshold, and a success resets the count */
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 2; i++) {
      assert_int_equal(pf__breaker_admit(&b, now, &trial, &retry), 0);
      assert_false(trial);
      pf__breaker_record(&b, now, trial, true);
    }
    assert_int_equal(pf__breaker_state(&b, now), PF__CB_CLOSED);
    assert_int_equal(pf__breaker_admit(&b, now, &trial, &retry), 0);
    pf__breaker_record(&b, now, trial, false);
  }
  /* the third consecutive failure opens it */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(pf__breaker_admit(&b, now, &trial, &retry), 0);
    pf__breaker_record(&b, now, trial, true);
  }
  assert_int_equal(pf__breaker_state(&b, now), PF__CB_OPEN);
  assert_int_equal(atomic_load(&b.opened), 1);
  assert_int_equal(pf__breaker_admit(&b, now + 400, &trial, &retry), -1);
  assert_int_equal(retry, 600);
  /* open_ms later: half-open, one trial at a time */
  now += 1000;
  assert_int_equal(pf__breaker_state(&b, now), PF__CB_HALF_OPEN);
  assert_int_equal(pf__breaker_admit(&b, now, &trial, &retry), 0);
  assert_true(trial);
  assert_int_equal(pf__breaker_admit(&b, now, &trial, &retry), -1);
  assert_int_equal(retry, 0);
  /* one success of two needed: still half-open, the next trial may run */
  pf__breaker_record(&b, now, true, false);
  assert_int_equal(pf__breaker_state(&b, now), PF__CB_HALF_OPEN);
  assert_int_equal(pf__breaker_admit(&b, now, &trial, &retry), 0);
  assert_true(trial);
  /* a failed trial opens it again for open_ms */
  pf__breaker_record(&b, now, true, true);
  assert_int_equal(pf__breaker_state(&b, now), PF__CB_OPEN);
  assert_int_equal(atomic_load(&b.opened), 2);
  assert_int_equal(pf__breaker_admit(&b, now + 999, &trial, &retry), -1);
  now += 1000;
  /* two successful trials close it */
  for (int i = 0; i < 2; i++) {
    assert_int_equal(pf__breaker_admit(&b, now, &trial, &retry), 0);
    assert_true(trial);
    pf__breaker_record(&b, now, true, false);
  }
  assert_int_equal(pf__breaker_state(&b, now), PF__CB_CLOSED);
  /* three failures open it again; a result that arrives while it is open
   * (a call admitted before it opened) changes nothing */
  for (int i = 0; i < 3; i++)
    pf__breaker_record(&b, now, false, true);
  assert_int_equal(pf__breaker_state(&b, now), PF__CB_OPEN);
  pf__breaker_record(&b, now, false, true);
  assert_int_equal(atomic_load(&b.opened), 3);
  pf__breaker_destroy(&b);
}

typedef struct waiter {
  pf__bh_waiter w;
  int granted;
} waiter;

static void grant(pf__bh_waiter *w) { ((waiter *)w)->granted++; }

static void test_bulkhead(void **state) {
  (void)state;
  pf__bulkhead b;
  assert_int_equal(pf__bulkhead_init(&b, 2, 2), 0);
  waiter w[5];
  memset(w, 0, sizeof w);
  for (int i = 0; i < 5; i++)
    w[i].w.grant = grant;
  assert_int_equal(pf__bulkhead_enter(&b, &w[0].w), 0);
  assert_int_equal(pf__bulkhead_enter(&b, &w[1].w), 0);
  assert_int_equal(pf__bulkhead_enter(&b, &w[2].w), 1);
  assert_int_equal(pf__bulkhead_enter(&b, &w[3].w), 1);
  assert_int_equal(pf__bulkhead_enter(&b, &w[4].w), -1);
  /* a waiter that gives up leaves the queue; the next in line moves up */
  assert_true(pf__bulkhead_leave(&b, &w[2].w));
  assert_false(pf__bulkhead_leave(&b, &w[2].w));
  assert_int_equal(pf__bulkhead_enter(&b, &w[4].w), 1);
  /* releases hand slots over in arrival order */
  pf__bulkhead_release(&b);
  assert_int_equal(w[3].granted, 1);
  assert_int_equal(w[4].granted, 0);
  assert_false(pf__bulkhead_leave(&b, &w[3].w)); /* granted: holds a slot */
  pf__bulkhead_release(&b);
  assert_int_equal(w[4].granted, 1);
  assert_int_equal(b.active, 2);
  pf__bulkhead_release(&b);
  pf__bulkhead_release(&b);
  assert_int_equal(b.active, 0);
  assert_int_equal(b.nqueued, 0);
  pf__bulkhead_destroy(&b);
}

/* Threads entering and releasing never exceed the limit. */
typedef struct shared {
  pf__bulkhead b;
  pthread_mutex_t mu;
  int running, max_running;
} shared;

typedef struct tw {
  pf__bh_waiter w;
  shared *s;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool granted;
} tw;

static void tgrant(pf__bh_waiter *w) {
  tw *t = (tw *)w;
  pthread_mutex_lock(&t->mu);
  t->granted = true;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

static void *worker(void *arg) {
  shared *s = arg;
  for (int i = 0; i < 2000; i++) {
    tw t = {.s = s};
    t.w.grant = tgrant;
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    int rc = pf__bulkhead_enter(&s->b, &t.w);
    if (rc == 1) {
      pthread_mutex_lock(&t.mu);
      while (!t.granted)
        pthread_cond_wait(&t.cv, &t.mu);
      pthread_mutex_unlock(&t.mu);
    }
    if (rc >= 0) {
      pthread_mutex_lock(&s->mu);
      if (++s->running > s->max_running)
        s->max_running = s->running;
      pthread_mutex_unlock(&s->mu);
      pthread_mutex_lock(&s->mu);
      s->running--;
      pthread_mutex_unlock(&s->mu);
      pf__bulkhead_release(&s->b);
    }
    pthread_mutex_destroy(&t.mu);
    pthread_cond_destroy(&t.cv);
  }
  return NULL;
}

static void test_bulkhead_threads(void **state) {
  (void)state;
  shared s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  assert_int_equal(pf__bulkhead_init(&s.b, 3, 8), 0);
  pthread_t th[8];
  for (int i = 0; i < 8; i++)
    pthread_create(&th[i], NULL, worker, &s);
  for (int i = 0; i < 8; i++)
    pthread_join(th[i], NULL);
  assert_true(s.max_running <= 3);
  assert_int_equal(s.b.active, 0);
  assert_int_equal(s.b.nqueued, 0);
  pf__bulkhead_destroy(&s.b);
  pthread_mutex_destroy(&s.mu);
}

static void test_stats(void **state) {
  (void)state;
  pf__tool_stats st;
  memset(&st, 0, sizeof st);
  pf__stats_record(&st, 5 * 1000, false);        /* 5 us: first bucket */
  pf__stats_record(&st, 10 * 1000, false);       /* 10 us: on the bound */
  pf__stats_record(&st, 11 * 1000, true);        /* next bucket */
  pf__stats_record(&st, 60ull * 1000000000, true); /* a minute: +Inf */
  assert_int_equal(atomic_load(&st.calls), 4);
  assert_int_equal(atomic_load(&st.errors), 2);
  assert_int_equal(atomic_load(&st.lat[0]), 2);
  assert_int_equal(atomic_load(&st.lat[1]), 1);
  assert_int_equal(atomic_load(&st.lat[PF__LAT_BUCKETS - 1]), 1);
  assert_int_equal(atomic_load(&st.lat_sum_us), 5 + 10 + 11 + 60000000);
}

/* Latency stamps agree with CLOCK_MONOTONIC (within 20%, over sleeps of
 * 5 and 60 ms: before and after the tick rate is fixed). A pair of reads
 * can be split by preemption on a loaded machine: 5 tries each. */
static void test_stamps(void **state) {
  (void)state;
  for (int round = 0; round < 2; round++) {
    long ms = round ? 60 : 5;
    double got = 0, want = 0;
    bool ok = false;
    for (int attempt = 0; attempt < 5 && !ok; attempt++) {
      pf__stamp a = pf__stamp_now();
      uint64_t c0 = pf__now_ns();
      struct timespec ts = {0, ms * 1000000L};
      nanosleep(&ts, NULL);
      pf__stamp b = pf__stamp_now();
      uint64_t c1 = pf__now_ns();
      got = (double)pf__stamp_ns(a, b), want = (double)(c1 - c0);
      ok = got >= want * 0.8 && got <= want * 1.2;
      assert_int_equal(pf__stamp_ns(b, a), 0);
    }
    if (!ok)
      fail_msg("stamps say %.0f ns, the clock %.0f ns", got, want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stamps),
      cmocka_unit_test(test_outcome),      cmocka_unit_test(test_retry),
      cmocka_unit_test(test_breaker),      cmocka_unit_test(test_bulkhead),
      cmocka_unit_test(test_bulkhead_threads), cmocka_unit_test(test_stats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

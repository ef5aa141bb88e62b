/* Native handlers of the resilience e2e fixture (tests/e2e/resilience):
 * tools that fail a given number of times, sleep, ignore cancellation,
 * count how many of them run at once, and switch between healthy and
 * failing, so that retry, timeout, circuit breaker, bulkhead and fallback
 * can be observed from outside. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <pforge/pforge.h>

PF_ABI_DECLARE();

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* Calls per key, so that each test uses its own counter. */
#define NKEYS 64
static struct {
  char key[64];
  long calls;
} counters[NKEYS];

/* Adds add to key's counter and returns it. */
static long count_by(const char *key, long add) {
  pthread_mutex_lock(&mu);
  long n = -1;
  for (int i = 0; i < NKEYS; i++) {
    if (counters[i].key[0] == 0)
      strncpy(counters[i].key, key, sizeof counters[i].key - 1);
    if (strcmp(counters[i].key, key) == 0) {
      n = counters[i].calls += add;
      break;
    }
  }
  pthread_mutex_unlock(&mu);
  return n;
}

static long count(const char *key) { return count_by(key, 1); }

/* Fails its first `fail` calls (per key), then answers with the number of
 * calls it took. */
PF_TOOL(rs_flaky) {
  long n = count(pf_arg_str(call, "key", "default"));
  long fail = (long)pf_arg_int(call, "fail", 0);
  if (n <= fail)
    return pf_result_error(call, "flaky: call %ld fails", n);
  return pf_result_textf(call, "ok after %ld calls", n);
}

/* Blocking: sleeps `ms` in 5 ms steps, stopping early when cancelled. */
PF_TOOL(rs_sleepy) {
  long ms = (long)pf_arg_int(call, "ms", 1000);
  for (long t = 0; t < ms; t += 5) {
    if (pf_cancelled(call))
      return pf_result_error(call, "sleepy: cancelled after %ld ms", t);
    sleep_ms(5);
  }
  count(pf_arg_str(call, "key", "sleepy"));
  return pf_result_textf(call, "slept %ld ms", ms);
}

/* Blocking: sleeps `ms` and never looks at cancellation. */
PF_TOOL(rs_stubborn) {
  sleep_ms((long)pf_arg_int(call, "ms", 1000));
  return pf_result_textz(call, "stubborn done");
}

static int active, max_active;

/* Blocking: runs `ms`, reporting how many gate calls ran at once at most. */
PF_TOOL(rs_gate) {
  pthread_mutex_lock(&mu);
  if (++active > max_active)
    max_active = active;
  pthread_mutex_unlock(&mu);
  sleep_ms((long)pf_arg_int(call, "ms", 200));
  pthread_mutex_lock(&mu);
  active--;
  int m = max_active;
  pthread_mutex_unlock(&mu);
  return pf_result_textf(call, "max concurrent %d", m);
}

static int healthy = 1;

PF_TOOL(rs_set_health) {
  pthread_mutex_lock(&mu);
  healthy = pf_arg_bool(call, "healthy", true);
  pthread_mutex_unlock(&mu);
  return pf_result_textf(call, "healthy=%d", healthy);
}

/* Fails while unhealthy; counts the calls that reached it. */
PF_TOOL(rs_service) {
  long n = count("service");
  pthread_mutex_lock(&mu);
  int h = healthy;
  pthread_mutex_unlock(&mu);
  if (!h)
    return pf_result_error(call, "service down (call %ld)", n);
  return pf_result_textf(call, "service up (call %ld)", n);
}

PF_TOOL(rs_calls) {
  return pf_result_textf(call, "%ld", count_by(pf_arg_str(call, "key", "default"), 0));
}

PF_TOOL(rs_backup) {
  return pf_result_textf(call, "fallback answer for %s", pf_arg_str(call, "key", "?"));
}

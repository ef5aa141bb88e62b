/* The state store's backends, through pf__state_* (what pf_state_* call):
 * every operation, TTLs, atomicity under threads, limits, lmdb persistence,
 * and redis against a real redis-server on a free 127.0.0.1 port (skipped
 * when redis-server is not installed). */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <pforge/error.h>

#include "runtime/state.h"

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- fixtures ---- */

typedef struct fixture {
  pf_state *st;
  pf_arena *arena;
  char dir[64]; /* lmdb: the temporary directory */
  pid_t redis;  /* redis: the server we started */
  int port;
  pf_cfg_state cfg;
  char url[128];
} fixture;

static pf_state *open_cfg(const pf_cfg_state *cfg) {
  pf_state *st = NULL;
  pf_buf diag = PF_BUF_INIT;
  int rc = pf__state_open(cfg, &st, &diag);
  if (rc)
    fprintf(stderr, "%s", pf_buf_cstr(&diag));
  pf_buf_free(&diag);
  assert_int_equal(rc, 0);
  return st;
}

static void rm_rf(const char *dir) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static int setup_memory(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->cfg = (pf_cfg_state){.present = true, .backend = "memory"};
  f->st = open_cfg(&f->cfg);
  f->arena = pf_arena_create(0);
  *state = f;
  return 0;
}

static int setup_lmdb(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/pf-state-test-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  f->cfg = (pf_cfg_state){.present = true, .backend = "lmdb", .path = f->dir, .map_size = 0};
  f->st = open_cfg(&f->cfg);
  f->arena = pf_arena_create(0);
  *state = f;
  return 0;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    return -1;
  close(fd);
  return ntohs(a.sin_port);
}

static bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static bool have_redis(void) { return system("command -v redis-server >/dev/null 2>&1") == 0; }

/* Starts redis-server on port (with a password when pass is not NULL). */
static pid_t start_redis(int port, const char *pass) {
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", 1);
    dup2(null, 1);
    if (pass)
      execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--requirepass", pass, (char *)NULL);
    else
      execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500 && !port_open(port); i++)
    sleep_ms(10);
  assert_true(port_open(port));
  return pid;
}

static void stop_redis(pid_t pid) {
  if (pid <= 0)
    return;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

static int setup_redis(void **state) {
  fixture *f = calloc(1, sizeof *f);
  *state = f;
  if (!have_redis())
    return 0;
  f->port = free_port();
  f->redis = start_redis(f->port, NULL);
  snprintf(f->url, sizeof f->url, "redis://127.0.0.1:%d/0", f->port);
  f->cfg = (pf_cfg_state){.present = true, .backend = "redis", .url = f->url};
  f->st = open_cfg(&f->cfg);
  f->arena = pf_arena_create(0);
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  pf__state_close(f->st);
  pf_arena_destroy(f->arena);
  if (f->dir[0])
    rm_rf(f->dir);
  stop_redis(f->redis);
  free(f);
  return 0;
}

static fixture *fx(void **state) {
  fixture *f = *state;
  if (!f->st)
    skip(); /* redis-server is not installed */
  pf_arena_reset(f->arena);
  return f;
}

/* ---- helpers ---- */

#define S(s) s, sizeof(s) - 1

static void check_value(fixture *f, const char *key, const char *want, size_t wlen) {
  const char *v = (const char *)1;
  size_t n = 99;
  int rc = pf__state_get(f->st, key, strlen(key), f->arena, &v, &n);
  if (!want) {
    assert_int_equal(rc, -PF_ENOENT);
    assert_null(v);
    assert_int_equal(n, 0);
    return;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(n, wlen);
  assert_memory_equal(v, want, wlen);
  assert_int_equal(v[n], '\0');
}

/* ---- every backend ---- */

static void test_basic(void **state) {
  fixture *f = fx(state);
  pf_state *st = f->st;
  pf__state_del(st, S("k"));
  check_value(f, "k", NULL, 0);
  assert_int_equal(pf__state_set(st, S("k"), S("v1"), 0), 0);
  check_value(f, "k", S("v1"));
  assert_int_equal(pf__state_set(st, S("k"), S("second value"), 0), 0);
  check_value(f, "k", S("second value"));
  /* binary and empty values */
  assert_int_equal(pf__state_set(st, S("bin"), "a\0b\xff", 4, 0), 0);
  check_value(f, "bin", "a\0b\xff", 4);
  assert_int_equal(pf__state_set(st, S("empty"), NULL, 0, 0), 0);
  check_value(f, "empty", "", 0);
  /* binary key */
  assert_int_equal(pf__state_set(st, "x\0y", 3, S("nul key"), 0), 0);
  const char *v;
  size_t n;
  assert_int_equal(pf__state_get(st, "x\0y", 3, f->arena, &v, &n), 0);
  assert_int_equal(pf__state_get(st, "x", 1, f->arena, &v, &n), -PF_ENOENT);
  /* delete */
  assert_int_equal(pf__state_del(st, S("k")), 0);
  assert_int_equal(pf__state_del(st, S("k")), -PF_ENOENT);
  check_value(f, "k", NULL, 0);
  /* keys: 1..511 bytes */
  char big[512];
  memset(big, 'k', sizeof big);
  assert_int_equal(pf__state_set(st, "", 0, S("v"), 0), -PF_EINVAL);
  assert_int_equal(pf__state_get(st, NULL, 0, f->arena, &v, &n), -PF_EINVAL);
  assert_int_equal(pf__state_set(st, big, 512, S("v"), 0), -PF_ELIMIT);
  assert_int_equal(pf__state_set(st, big, 511, S("v"), 0), 0);
  assert_int_equal(pf__state_get(st, big, 511, f->arena, &v, &n), 0);
  assert_int_equal(pf__state_del(st, big, 511), 0);
  /* a large value */
  size_t large = 1 << 20;
  char *lv = malloc(large);
  for (size_t i = 0; i < large; i++)
    lv[i] = (char)(i * 7);
  assert_int_equal(pf__state_set(st, S("large"), lv, large, 0), 0);
  check_value(f, "large", lv, large);
  free(lv);
}

static void test_incr(void **state) {
  fixture *f = fx(state);
  pf_state *st = f->st;
  pf__state_del(st, S("n"));
  int64_t r = 0;
  assert_int_equal(pf__state_incr(st, S("n"), 5, &r), 0);
  assert_int_equal(r, 5);
  assert_int_equal(pf__state_incr(st, S("n"), -7, &r), 0);
  assert_int_equal(r, -2);
  assert_int_equal(pf__state_incr(st, S("n"), 0, NULL), 0);
  check_value(f, "n", S("-2"));
  assert_int_equal(pf__state_set(st, S("n"), S("40"), 0), 0);
  assert_int_equal(pf__state_incr(st, S("n"), 2, &r), 0);
  assert_int_equal(r, 42);
  /* not an integer: EINVAL, nothing written */
  assert_int_equal(pf__state_set(st, S("s"), S("abc"), 0), 0);
  assert_int_equal(pf__state_incr(st, S("s"), 1, &r), -PF_EINVAL);
  check_value(f, "s", S("abc"));
  assert_int_equal(pf__state_set(st, S("s"), S("1.5"), 0), 0);
  assert_int_equal(pf__state_incr(st, S("s"), 1, &r), -PF_EINVAL);
  assert_int_equal(pf__state_set(st, S("s"), S(""), 0), 0);
  assert_int_equal(pf__state_incr(st, S("s"), 1, &r), -PF_EINVAL);
  /* overflow */
  assert_int_equal(pf__state_set(st, S("big"), S("9223372036854775807"), 0), 0);
  assert_int_equal(pf__state_incr(st, S("big"), 1, &r), -PF_EINVAL);
  check_value(f, "big", S("9223372036854775807"));
  assert_int_equal(pf__state_incr(st, S("big"), -1, &r), 0);
  assert_int_equal(r, INT64_MAX - 1);
  assert_int_equal(pf__state_set(st, S("big"), S("-9223372036854775808"), 0), 0);
  assert_int_equal(pf__state_incr(st, S("big"), -1, &r), -PF_EINVAL);
  assert_int_equal(pf__state_incr(st, S("big"), 0, &r), 0);
  assert_true(r == INT64_MIN);
}

static void test_cas(void **state) {
  fixture *f = fx(state);
  pf_state *st = f->st;
  pf__state_del(st, S("c"));
  /* expected NULL: must not exist */
  assert_int_equal(pf__state_cas(st, S("c"), NULL, 0, S("one"), 0), 0);
  assert_int_equal(pf__state_cas(st, S("c"), NULL, 0, S("two"), 0), -PF_ECONFLICT);
  check_value(f, "c", S("one"));
  /* a different expected value */
  assert_int_equal(pf__state_cas(st, S("c"), S("on"), S("two"), 0), -PF_ECONFLICT);
  assert_int_equal(pf__state_cas(st, S("c"), S("one!"), S("two"), 0), -PF_ECONFLICT);
  check_value(f, "c", S("one"));
  assert_int_equal(pf__state_cas(st, S("c"), S("one"), S("two"), 0), 0);
  check_value(f, "c", S("two"));
  /* expected on a missing key */
  assert_int_equal(pf__state_cas(st, S("nothere"), S("x"), S("y"), 0), -PF_ECONFLICT);
  check_value(f, "nothere", NULL, 0);
  /* the empty value is a value, not absence */
  assert_int_equal(pf__state_set(st, S("e"), S(""), 0), 0);
  assert_int_equal(pf__state_cas(st, S("e"), NULL, 0, S("z"), 0), -PF_ECONFLICT);
  assert_int_equal(pf__state_cas(st, S("e"), "", 0, S("z"), 0), 0);
  check_value(f, "e", S("z"));
}

static void test_ttl(void **state) {
  fixture *f = fx(state);
  pf_state *st = f->st;
  assert_int_equal(pf__state_set(st, S("t"), S("soon gone"), 50), 0);
  assert_int_equal(pf__state_set(st, S("keep"), S("stays"), 0), 0);
  check_value(f, "t", S("soon gone"));
  sleep_ms(150);
  check_value(f, "t", NULL, 0);
  check_value(f, "keep", S("stays"));
  assert_int_equal(pf__state_del(st, S("t")), -PF_ENOENT);
  /* an expired key is missing for cas and incr */
  assert_int_equal(pf__state_set(st, S("t2"), S("x"), 50), 0);
  assert_int_equal(pf__state_set(st, S("t3"), S("10"), 50), 0);
  sleep_ms(150);
  assert_int_equal(pf__state_cas(st, S("t2"), NULL, 0, S("y"), 0), 0);
  check_value(f, "t2", S("y"));
  int64_t r;
  assert_int_equal(pf__state_incr(st, S("t3"), 1, &r), 0);
  assert_int_equal(r, 1);
  /* incr keeps the TTL of an existing key */
  assert_int_equal(pf__state_set(st, S("t4"), S("1"), 80), 0);
  assert_int_equal(pf__state_incr(st, S("t4"), 1, &r), 0);
  assert_int_equal(r, 2);
  sleep_ms(200);
  check_value(f, "t4", NULL, 0);
  /* cas with a TTL; set replaces a TTL */
  assert_int_equal(pf__state_cas(st, S("t5"), NULL, 0, S("v"), 50), 0);
  assert_int_equal(pf__state_set(st, S("t6"), S("v"), 50), 0);
  assert_int_equal(pf__state_set(st, S("t6"), S("w"), PF_STATE_NO_TTL), 0);
  sleep_ms(150);
  check_value(f, "t5", NULL, 0);
  check_value(f, "t6", S("w"));
}

typedef struct worker {
  pf_state *st;
  int n;
  bool cas;
  int errors;
} worker;

static void incr_worker(void *arg) {
  worker *w = arg;
  pf_arena *a = pf_arena_create(0);
  for (int i = 0; i < w->n; i++) {
    if (!w->cas) {
      if (pf__state_incr(w->st, S("shared"), 1, NULL) != 0)
        w->errors++;
      continue;
    }
    /* increment "casd" with a read-modify-write loop */
    for (;;) {
      pf_arena_reset(a);
      const char *old;
      size_t n;
      int rc = pf__state_get(w->st, S("casd"), a, &old, &n);
      if (rc && rc != -PF_ENOENT) {
        w->errors++;
        break;
      }
      int64_t v = 0;
      if (old)
        pf__state_parse_int(old, n, &v);
      char buf[21];
      size_t bn = pf__state_format_int(v + 1, buf);
      rc = pf__state_cas(w->st, S("casd"), old, n, buf, bn, 0);
      if (rc == 0)
        break;
      if (rc != -PF_ECONFLICT) {
        w->errors++;
        break;
      }
    }
  }
  pf_arena_destroy(a);
}

static void run_threads(fixture *f, bool cas, int nthreads, int per) {
  uv_thread_t th[8];
  worker w[8];
  for (int i = 0; i < nthreads; i++) {
    w[i] = (worker){f->st, per, cas, 0};
    assert_int_equal(uv_thread_create(&th[i], incr_worker, &w[i]), 0);
  }
  for (int i = 0; i < nthreads; i++) {
    uv_thread_join(&th[i]);
    assert_int_equal(w[i].errors, 0);
  }
}

static void test_concurrent(void **state) {
  fixture *f = fx(state);
  /* lmdb syncs every commit to disk: fewer rounds */
  bool redis = f->redis > 0, lmdb = f->dir[0] != '\0';
  int per = redis ? 500 : lmdb ? 250 : 2000;
  pf__state_del(f->st, S("shared"));
  pf__state_del(f->st, S("casd"));
  run_threads(f, false, 8, per);
  char want[32];
  int n = snprintf(want, sizeof want, "%d", 8 * per);
  check_value(f, "shared", want, (size_t)n);
  int cper = redis || lmdb ? 100 : 300;
  run_threads(f, true, 4, cper);
  n = snprintf(want, sizeof want, "%d", 4 * cper);
  check_value(f, "casd", want, (size_t)n);
}

/* ---- memory ---- */

static void test_memory_max_size(void **state) {
  (void)state;
  pf_cfg_state cfg = {.present = true, .backend = "memory", .max_size = 3};
  pf_state *st = open_cfg(&cfg);
  assert_int_equal(pf__state_set(st, S("a"), S("1"), 0), 0);
  assert_int_equal(pf__state_set(st, S("b"), S("1"), 0), 0);
  assert_int_equal(pf__state_set(st, S("c"), S("1"), 50), 0);
  assert_int_equal(pf__state_set(st, S("d"), S("1"), 0), -PF_ELIMIT);
  assert_int_equal(pf__state_incr(st, S("d"), 1, NULL), -PF_ELIMIT);
  assert_int_equal(pf__state_cas(st, S("d"), NULL, 0, S("1"), 0), -PF_ELIMIT);
  assert_int_equal(pf__state_set(st, S("a"), S("replacing is fine"), 0), 0);
  assert_int_equal(pf__state_del(st, S("b")), 0);
  assert_int_equal(pf__state_set(st, S("d"), S("1"), 0), 0);
  /* an expired entry makes room */
  sleep_ms(100);
  assert_int_equal(pf__state_set(st, S("e"), S("1"), 0), 0);
  pf__state_close(st);
}

static void test_memory_default_ttl(void **state) {
  (void)state;
  /* no state block at all: memory, no limits */
  pf_state *st = open_cfg(NULL);
  assert_string_equal(st->ops->name, "memory");
  pf__state_close(st);
  pf_cfg_state cfg = {.present = true, .backend = "memory", .ttl_seconds = 1};
  st = open_cfg(&cfg);
  pf_arena *a = pf_arena_create(0);
  assert_int_equal(pf__state_set(st, S("d"), S("v"), 0), 0);
  assert_int_equal(pf__state_set(st, S("forever"), S("v"), PF_STATE_NO_TTL), 0);
  assert_int_equal(pf__state_incr(st, S("i"), 1, NULL), 0);
  sleep_ms(1100);
  const char *v;
  size_t n;
  assert_int_equal(pf__state_get(st, S("d"), a, &v, &n), -PF_ENOENT);
  assert_int_equal(pf__state_get(st, S("i"), a, &v, &n), -PF_ENOENT);
  assert_int_equal(pf__state_get(st, S("forever"), a, &v, &n), 0);
  pf_arena_destroy(a);
  pf__state_close(st);
}

static void test_memory_many(void **state) {
  (void)state;
  /* grows past its first table; every key stays readable */
  pf_state *st = open_cfg(NULL);
  pf_arena *a = pf_arena_create(0);
  char k[32];
  for (int i = 0; i < 20000; i++) {
    int n = snprintf(k, sizeof k, "key%d", i);
    assert_int_equal(pf__state_set(st, k, (size_t)n, k, (size_t)n, i % 2 ? 30 : 0), 0);
  }
  sleep_ms(60);
  for (int i = 0; i < 20000; i++) {
    int n = snprintf(k, sizeof k, "key%d", i);
    const char *v;
    size_t vn;
    int rc = pf__state_get(st, k, (size_t)n, a, &v, &vn);
    assert_int_equal(rc, i % 2 ? -PF_ENOENT : 0);
  }
  pf_arena_destroy(a);
  pf__state_close(st);
}

/* ---- lmdb ---- */

static void test_lmdb_persistence(void **state) {
  fixture *f = fx(state);
  assert_int_equal(pf__state_set(f->st, S("p"), S("kept"), 0), 0);
  assert_int_equal(pf__state_incr(f->st, S("pn"), 41, NULL), 0);
  assert_int_equal(pf__state_set(f->st, S("gone"), S("x"), 50), 0);
  pf__state_close(f->st);
  sleep_ms(100);
  f->st = open_cfg(&f->cfg);
  check_value(f, "p", S("kept"));
  int64_t r;
  assert_int_equal(pf__state_incr(f->st, S("pn"), 1, &r), 0);
  assert_int_equal(r, 42);
  check_value(f, "gone", NULL, 0);
}

static void test_lmdb_open_errors(void **state) {
  (void)state;
  pf_state *st = NULL;
  pf_buf diag = PF_BUF_INIT;
  /* a path that is a file */
  pf_cfg_state cfg = {
      .present = true, .backend = "lmdb", .path = "/dev/null", .loc = {"pforge.yaml", 3, 1}};
  assert_int_not_equal(pf__state_open(&cfg, &st, &diag), 0);
  assert_null(st);
  assert_non_null(strstr(pf_buf_cstr(&diag), "pforge.yaml:3:1: state: "));
  assert_non_null(strstr(pf_buf_cstr(&diag), "/dev/null"));
  pf_buf_reset(&diag);
  cfg.path = "/proc/pforge-cannot-create/x";
  assert_int_not_equal(pf__state_open(&cfg, &st, &diag), 0);
  assert_non_null(strstr(pf_buf_cstr(&diag), "cannot create"));
  pf_buf_free(&diag);
  /* a nested directory is created */
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/pf-state-test-XXXXXX");
  assert_non_null(mkdtemp(dir));
  char sub[128];
  snprintf(sub, sizeof sub, "%s/a/b", dir);
  cfg.path = sub;
  st = open_cfg(&cfg);
  pf__state_close(st);
  struct stat sb;
  char file[160];
  snprintf(file, sizeof file, "%s/data.mdb", sub);
  assert_int_equal(stat(file, &sb), 0);
  rm_rf(dir);
}

/* ---- redis ---- */

static void test_redis_url(void **state) {
  (void)state;
  pf__redis_url u;
  pf_buf err = PF_BUF_INIT;
  assert_int_equal(pf__redis_url_parse("redis://127.0.0.1:6379/0", &u, &err), 0);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 6379);
  assert_int_equal(u.db, 0);
  assert_string_equal(u.password, "");
  assert_int_equal(pf__redis_url_parse("redis://:s3cr:t@cache.local/7", &u, &err), 0);
  assert_string_equal(u.host, "cache.local");
  assert_int_equal(u.port, 6379);
  assert_int_equal(u.db, 7);
  assert_string_equal(u.password, "s3cr:t");
  assert_int_equal(pf__redis_url_parse("redis://user:pw@[::1]:7000", &u, &err), 0);
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 7000);
  assert_string_equal(u.password, "pw");
  assert_int_equal(pf__redis_url_parse("redis://h/", &u, &err), 0);
  const char *bad[] = {"http://h",        "redis://",      "redis://h:",
                       "redis://h:99999", "redis://h:x",   "redis://h/x",
                       "redis://:pw@",    "redis://h?x=1", NULL};
  for (int i = 0; bad[i]; i++) {
    pf_buf_reset(&err);
    assert_int_equal(pf__redis_url_parse(bad[i], &u, &err), -PF_EINVAL);
    assert_true(err.len > 0);
  }
  /* a bad url fails the open, with its location */
  pf_cfg_state cfg = {
      .present = true, .backend = "redis", .url = "redis//nope", .loc = {"p.yaml", 2, 3}};
  pf_state *st;
  pf_buf diag = PF_BUF_INIT;
  assert_int_equal(pf__state_open(&cfg, &st, &diag), -PF_EINVAL);
  assert_non_null(strstr(pf_buf_cstr(&diag), "p.yaml:2:3: state: url 'redis//nope'"));
  pf_buf_free(&diag);
  pf_buf_free(&err);
}

/* Polls until op succeeds (a reconnection), at most 10 s. */
static int until_ok(pf_state *st) {
  int rc = -1;
  for (int i = 0; i < 200 && rc; i++) {
    rc = pf__state_set(st, S("probe"), S("1"), 0);
    if (rc)
      sleep_ms(50);
  }
  return rc;
}

static void test_redis_outage(void **state) {
  fixture *f = fx(state);
  assert_int_equal(pf__state_set(f->st, S("before"), S("1"), 0), 0);
  stop_redis(f->redis);
  f->redis = 0;
  /* calls fail at once with UNAVAIL (or on the dropped connection), never hang */
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < 5; i++) {
    int rc = pf__state_incr(f->st, S("n"), 1, NULL);
    assert_true(rc == -PF_EUNAVAIL);
    sleep_ms(20);
  }
  assert_true(uv_hrtime() - t0 < 3000000000ull);
  f->redis = start_redis(f->port, NULL);
  assert_int_equal(until_ok(f->st), 0);
  int64_t r;
  assert_int_equal(pf__state_incr(f->st, S("n"), 1, &r), 0);
  assert_int_equal(r, 1); /* a fresh server: nothing saved */
}

static void test_redis_unreachable_at_start(void **state) {
  (void)state;
  int port = free_port();
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  pf_cfg_state cfg = {.present = true, .backend = "redis", .url = url};
  pf_state *st = open_cfg(&cfg); /* not a startup error */
  sleep_ms(50);
  assert_int_equal(pf__state_set(st, S("k"), S("v"), 0), -PF_EUNAVAIL);
  if (have_redis()) {
    pid_t pid = start_redis(port, NULL);
    assert_int_equal(until_ok(st), 0);
    stop_redis(pid);
  }
  pf__state_close(st);
}

static void test_redis_auth_db(void **state) {
  fixture *f = fx(state);
  (void)f;
  int port = free_port();
  pid_t pid = start_redis(port, "pässword");
  char url[128];
  snprintf(url, sizeof url, "redis://:pässword@127.0.0.1:%d/3", port);
  pf_cfg_state cfg = {.present = true, .backend = "redis", .url = url};
  pf_state *st = open_cfg(&cfg);
  assert_int_equal(pf__state_set(st, S("in3"), S("yes"), 0), 0);
  pf__state_close(st);
  /* the same key is not in db 0 */
  snprintf(url, sizeof url, "redis://:pässword@127.0.0.1:%d", port);
  st = open_cfg(&cfg);
  pf_arena *a = pf_arena_create(0);
  const char *v;
  size_t n;
  assert_int_equal(pf__state_get(st, S("in3"), a, &v, &n), -PF_ENOENT);
  pf__state_close(st);
  /* a wrong password: clear failures, not a crash */
  snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", port);
  st = open_cfg(&cfg);
  assert_int_equal(pf__state_get(st, S("in3"), a, &v, &n), -PF_EUNAVAIL);
  pf__state_close(st);
  pf_arena_destroy(a);
  stop_redis(pid);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest memory[] = {
      cmocka_unit_test(test_basic), cmocka_unit_test(test_incr),       cmocka_unit_test(test_cas),
      cmocka_unit_test(test_ttl),   cmocka_unit_test(test_concurrent),
  };
  const struct CMUnitTest memory_only[] = {
      cmocka_unit_test(test_memory_max_size), cmocka_unit_test(test_memory_default_ttl),
      cmocka_unit_test(test_memory_many),     cmocka_unit_test(test_lmdb_open_errors),
      cmocka_unit_test(test_redis_url),       cmocka_unit_test(test_redis_unreachable_at_start),
  };
  const struct CMUnitTest lmdb[] = {
      cmocka_unit_test(test_basic),      cmocka_unit_test(test_incr),
      cmocka_unit_test(test_cas),        cmocka_unit_test(test_ttl),
      cmocka_unit_test(test_concurrent), cmocka_unit_test(test_lmdb_persistence),
  };
  const struct CMUnitTest redis[] = {
      cmocka_unit_test(test_basic),        cmocka_unit_test(test_incr),
      cmocka_unit_test(test_cas),          cmocka_unit_test(test_ttl),
      cmocka_unit_test(test_concurrent),   cmocka_unit_test(test_redis_auth_db),
      cmocka_unit_test(test_redis_outage),
  };
  int rc = cmocka_run_group_tests_name("runtime/state memory", memory, setup_memory, teardown);
  rc |= cmocka_run_group_tests_name("runtime/state", memory_only, NULL, NULL);
  rc |= cmocka_run_group_tests_name("runtime/state lmdb", lmdb, setup_lmdb, teardown);
  rc |= cmocka_run_group_tests_name("runtime/state redis", redis, setup_redis, teardown);
  return rc;
}

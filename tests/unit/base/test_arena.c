#include "support.h"

#include <string.h>

#include <pforge/arena.h>

#include "base/arena.h"

static void test_alloc_align(void **state) {
  (void)state;
  pf_arena *a = pf_arena_create(256);
  assert_non_null(a);
  assert_int_equal(pf_arena_used(a), 0);
  for (int i = 1; i < 200; i++) {
    char *p = pf_arena_alloc(a, (size_t)i);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    memset(p, 0xAB, (size_t)i); /* ASan checks the bounds */
  }
  assert_non_null(pf_arena_alloc(a, 0));
  char *s = pf_arena_strndup(a, "hello world", 5);
  assert_string_equal(s, "hello");
  int *z = pf_arena_calloc(a, 100, sizeof(int));
  for (int i = 0; i < 100; i++)
    assert_int_equal(z[i], 0);
  assert_null(pf_arena_calloc(a, SIZE_MAX / 2, 4)); /* overflow */
  assert_null(pf_arena_alloc(a, SIZE_MAX));
  pf_arena_destroy(a);
  pf_arena_destroy(NULL);
}

/* Strings pack byte by byte; aligned allocations between them still start
 * at multiples of 16; nothing overlaps, across block boundaries too. */
static void test_strings_pack(void **state) {
  (void)state;
  pf_arena *a = pf_arena_create(256);
  char *s1 = pf_arena_strndup(a, "abcde", 5), *s2 = pf_arena_strndup(a, "xyz", 3);
  assert_ptr_equal(s2, s1 + 6);
  assert_string_equal(s1, "abcde");
  assert_string_equal(s2, "xyz");
  enum { N = 600 };
  unsigned char *ptr[N];
  size_t len[N];
  char text[64];
  memset(text, 'q', sizeof text);
  for (int i = 0; i < N; i++) {
    len[i] = (size_t)(i * 7 % 41);
    if (i % 3 == 0) {
      ptr[i] = (unsigned char *)pf_arena_strndup(a, text, len[i]);
      assert_int_equal(ptr[i][len[i]], 0);
      len[i]++; /* the NUL is its own */
    } else {
      ptr[i] = pf_arena_alloc(a, len[i]);
      assert_int_equal((uintptr_t)ptr[i] % 16, 0);
    }
    assert_non_null(ptr[i]);
    memset(ptr[i], i & 0xff, len[i]);
  }
  for (int i = 0; i < N; i++)
    for (size_t j = 0; j < len[i]; j++)
      assert_int_equal(ptr[i][j], i & 0xff);
  pf_arena_destroy(a);
}

static void test_big_allocation(void **state) {
  (void)state;
  pf_arena *a = pf_arena_create(1024);
  char *small = pf_arena_alloc(a, 10);
  char *big = pf_arena_alloc(a, 100000);
  assert_non_null(big);
  memset(big, 1, 100000);
  strcpy(small, "ok");
  assert_string_equal(small, "ok");
  assert_true(pf_arena_capacity(a) >= 100000 + 1024);
  pf_arena_destroy(a);
}

static void test_reset_reuses_blocks(void **state) {
  (void)state;
  pf_test_alloc_install();
  pf_arena *a = pf_arena_create(4096);
  for (int round = 0; round < 5; round++) {
    size_t before = pf_test_alloc_count();
    for (int i = 0; i < 100; i++)
      assert_non_null(pf_arena_alloc(a, 1000));
    assert_non_null(pf_arena_alloc(a, 50000));
    size_t after = pf_test_alloc_count();
    if (round > 0)
      assert_int_equal(after, before); /* steady state: no malloc */
    assert_true(pf_arena_used(a) >= 150000);
    pf_arena_reset(a);
    assert_int_equal(pf_arena_used(a), 0);
  }
  size_t cap = pf_arena_capacity(a);
  pf_arena_trim(a, 8192);
  assert_true(pf_arena_capacity(a) < cap);
  assert_true(pf_arena_capacity(a) <= 8192);
  assert_non_null(pf_arena_alloc(a, 100));
  pf_arena_destroy(a);
  assert_int_equal(pf_test_alloc.mallocs, pf_test_alloc.frees);
  pf_test_alloc_remove();
}

static void test_extend(void **state) {
  (void)state;
  pf_arena *a = pf_arena_create(1024);
  char *p = pf_arena_alloc(a, 16);
  memcpy(p, "0123456789abcde", 16);
  char *q = pf__arena_extend(a, p, 16, 64);
  assert_ptr_equal(p, q); /* in place: last allocation, room left */
  char *r = pf__arena_extend(a, q, 64, 4096);
  assert_non_null(r);
  assert_memory_equal(r, "0123456789abcde", 16);
  (void)pf_arena_alloc(a, 8);
  char *s = pf__arena_extend(a, r, 4096, 8192); /* no longer last: copies */
  assert_ptr_not_equal(s, r);
  assert_memory_equal(s, "0123456789abcde", 16);
  pf_arena_destroy(a);
}

static void test_oom(void **state) {
  (void)state;
  pf_test_alloc_install();
  pf_test_alloc.fail_after = 0;
  assert_null(pf_arena_create(0));
  pf_test_alloc.fail_after = 1; /* the arena itself succeeds, its block fails */
  pf_arena *a = pf_arena_create(0);
  assert_non_null(a);
  assert_null(pf_arena_alloc(a, 10));
  pf_test_alloc.fail_after = -1;
  assert_non_null(pf_arena_alloc(a, 10));
  pf_arena_destroy(a);
  pf_test_alloc_remove();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alloc_align),
      cmocka_unit_test(test_strings_pack),
      cmocka_unit_test(test_big_allocation),
      cmocka_unit_test(test_reset_reuses_blocks),
      cmocka_unit_test(test_extend),
      cmocka_unit_test(test_oom),
  };
  return cmocka_run_group_tests_name("base/arena", tests, NULL, NULL);
}

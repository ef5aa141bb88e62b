#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pforge/error.h>

#include "runtime/registry.h"

static void build_and_check(size_t n) {
  char **keys = malloc((n + 1) * sizeof *keys);
  size_t *lens = malloc((n + 1) * sizeof *lens);
  for (size_t i = 0; i < n; i++) {
    keys[i] = malloc(32);
    lens[i] = (size_t)snprintf(keys[i], 32, i % 3 ? "tool_%zu" : "t%zu.x-y", i);
  }
  pf__registry r;
  assert_int_equal(pf__registry_build(&r, (const char *const *)keys, lens, n), 0);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(pf__registry_find(&r, keys[i], lens[i]), (long)i);
  char miss[40];
  for (size_t i = 0; i < 1000; i++) {
    int l = snprintf(miss, sizeof miss, "missing_%zu", i);
    assert_int_equal(pf__registry_find(&r, miss, (size_t)l), -1);
  }
  assert_int_equal(pf__registry_find(&r, "", 0), -1);
  if (n) /* a prefix of a key is not the key */
    assert_int_equal(pf__registry_find(&r, keys[0], lens[0] - 1), -1);
  pf__registry_free(&r);
  for (size_t i = 0; i < n; i++)
    free(keys[i]);
  free(keys);
  free(lens);
}

static void test_sizes(void **state) {
  (void)state;
  size_t sizes[] = {0, 1, 2, 3, 10, 100, 1000, 10000, 50000};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    build_and_check(sizes[i]);
}

static void test_duplicates(void **state) {
  (void)state;
  const char *keys[] = {"a", "b", "a"};
  size_t lens[] = {1, 1, 1};
  pf__registry r;
  assert_int_equal(pf__registry_build(&r, keys, lens, 3), -PF_EINVAL);
}

static void test_binary_keys(void **state) {
  (void)state;
  const char *keys[] = {"a\0b", "a\0c", "a", "abcdefghijklmnopqrstuvwxyz0123456789"};
  size_t lens[] = {3, 3, 1, 36};
  pf__registry r;
  assert_int_equal(pf__registry_build(&r, keys, lens, 4), 0);
  for (int i = 0; i < 4; i++)
    assert_int_equal(pf__registry_find(&r, keys[i], lens[i]), i);
  pf__registry_free(&r);
}

/* Keys of every length from 0 to 40 (the inline words cover up to 16
 * bytes, longer ones compare the middle too), and for each a miss that
 * differs in exactly one byte at every position, or is one byte shorter. */
static void test_lengths_and_near_misses(void **state) {
  (void)state;
  enum { N = 41 };
  char buf[N][48];
  const char *keys[N];
  size_t lens[N];
  for (size_t l = 0; l < N; l++) {
    for (size_t j = 0; j < l; j++)
      buf[l][j] = (char)('a' + (j * 7 + l) % 26);
    buf[l][l] = '\0';
    keys[l] = buf[l];
    lens[l] = l;
  }
  pf__registry r;
  assert_int_equal(pf__registry_build(&r, keys, lens, N), 0);
  for (size_t l = 0; l < N; l++) {
    assert_int_equal(pf__registry_find(&r, keys[l], l), (long)l);
    char miss[48];
    for (size_t j = 0; j < l; j++) {
      memcpy(miss, keys[l], l);
      miss[j] ^= 0x20;
      assert_int_equal(pf__registry_find(&r, miss, l), -1);
    }
  }
  pf__registry_free(&r);
}

/* An empty registry (no keys, or a failed build) answers -1 to every key,
 * short or long, and can be freed any number of times. */
static void test_empty(void **state) {
  (void)state;
  static const char long_key[] = "a_tool_name_longer_than_sixteen_bytes";
  pf__registry r;
  assert_int_equal(pf__registry_build(&r, NULL, NULL, 0), 0);
  assert_int_equal(pf__registry_find(&r, "", 0), -1);
  assert_int_equal(pf__registry_find(&r, "add", 3), -1);
  assert_int_equal(pf__registry_find(&r, long_key, sizeof long_key - 1), -1);
  pf__registry_free(&r);
  pf__registry_free(&r);
  assert_int_equal(pf__registry_find(&r, "add", 3), -1);
  pf__registry_init(&r);
  assert_int_equal(pf__registry_find(&r, "add", 3), -1);
  assert_int_equal(pf__registry_find(&r, long_key, sizeof long_key - 1), -1);
  pf__registry_free(&r);
  const char *dup[] = {"x", "x"};
  size_t lens[] = {1, 1};
  assert_int_equal(pf__registry_build(&r, dup, lens, 2), -PF_EINVAL);
  assert_int_equal(pf__registry_find(&r, "x", 1), -1);
  assert_int_equal(pf__registry_find(&r, long_key, sizeof long_key - 1), -1);
  pf__registry_free(&r);
}

/* The empty key is a key like any other. */
static void test_empty_key(void **state) {
  (void)state;
  const char *keys[] = {"", "a", "abcdefghijklmnopqrstuvwxyz"};
  size_t lens[] = {0, 1, 26};
  pf__registry r;
  assert_int_equal(pf__registry_build(&r, keys, lens, 3), 0);
  for (long i = 0; i < 3; i++)
    assert_int_equal(pf__registry_find(&r, keys[i], lens[i]), i);
  assert_int_equal(pf__registry_find(&r, "b", 1), -1);
  assert_int_equal(pf__registry_find(&r, "abcdefghijklmnopqrstuvwxyZ", 26), -1);
  pf__registry_free(&r);
}

/* Two distinct keys with one hash under the first seed (built from the
 * hash's formula: 16-byte keys are their two words): the build tries
 * another seed and then finds both. */
static void test_hash_collision_reseeds(void **state) {
  (void)state;
  uint64_t a0 = 0x6c6f6f745f796d5full, a1 = 0x3130305f656d616eull, b0 = a0 ^ 0x100;
  uint64_t l = 16 * (PF__REG_SEED0 | 1), ra1 = a1 << 29 | a1 >> 35;
  /* b1 rotated must cancel the difference of the two products */
  uint64_t rb1 =
      (((a0 ^ PF__REG_SEED0 ^ l) * PF__REG_K1) ^ ra1) ^ ((b0 ^ PF__REG_SEED0 ^ l) * PF__REG_K1);
  uint64_t b1 = rb1 >> 29 | rb1 << 35;
  char ka[16], kb[16];
  memcpy(ka, &a0, 8);
  memcpy(ka + 8, &a1, 8);
  memcpy(kb, &b0, 8);
  memcpy(kb + 8, &b1, 8);
  uint64_t w0, w1, v0, v1;
  pf__reg_words(ka, 16, &w0, &w1);
  pf__reg_words(kb, 16, &v0, &v1);
  assert_true(w0 != v0);
  assert_true(pf__reg_hash(ka, 16, w0, w1, PF__REG_SEED0) ==
              pf__reg_hash(kb, 16, v0, v1, PF__REG_SEED0));
  const char *keys[] = {"add", ka, "echo", kb};
  size_t lens[] = {3, 16, 4, 16};
  pf__registry r;
  assert_int_equal(pf__registry_build(&r, keys, lens, 4), 0);
  assert_true(r.seed != PF__REG_SEED0);
  for (long i = 0; i < 4; i++)
    assert_int_equal(pf__registry_find(&r, keys[i], lens[i]), i);
  kb[15] ^= 1;
  assert_int_equal(pf__registry_find(&r, kb, 16), -1);
  pf__registry_free(&r);
}

/* Families of names that differ only in a number, so that keys share their
 * first or last 8 bytes and differ in length by one or two: a hash where
 * the length and a word cancel out collides for such pairs under every
 * seed (device_1_status and device_10_status did, under an earlier
 * formula). Every family must build at every size and find every key. */
static void test_numbered_families(void **state) {
  (void)state;
  static const struct {
    const char *pre, *post;
  } fams[] = {
      {"device_", "_status"},
      {"sensor_", "_reset"},
      {"data://", "/status"},
      {"tool_", ""},
      {"t", ""},
      {"", ""},
      {"get_", ""},
      {"item", "x"},
      {"aaaaaaa", ""},
      {"", "aaaaaaaaaaaa"},
      {"abcd", "efgh"},
      {"ab", "cdefghijkl"},
  };
  enum { N = 3000 };
  char *buf = malloc((size_t)N * 32);
  const char **keys = malloc(N * sizeof *keys);
  size_t *lens = malloc(N * sizeof *lens);
  assert_non_null(buf);
  for (size_t f = 0; f < sizeof fams / sizeof *fams; f++) {
    for (size_t i = 0; i < N; i++) {
      keys[i] = buf + i * 32;
      lens[i] = (size_t)snprintf(buf + i * 32, 32, "%s%zu%s", fams[f].pre, i, fams[f].post);
    }
    size_t sizes[] = {2, 11, 101, 1001, N};
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
      pf__registry r;
      if (pf__registry_build(&r, keys, lens, sizes[z]) != 0)
        fail_msg("family '%s<n>%s', %zu keys: the build failed", fams[f].pre, fams[f].post,
                 sizes[z]);
      /* and with the first seed: such keys collide no more than by chance
       * (~2^-52 for 3,000 keys), which a weaker mix of the words did not */
      if (r.seed != PF__REG_SEED0)
        fail_msg("family '%s<n>%s', %zu keys: two keys had one hash", fams[f].pre, fams[f].post,
                 sizes[z]);
      for (size_t i = 0; i < sizes[z]; i++)
        assert_int_equal(pf__registry_find(&r, keys[i], lens[i]), (long)i);
      if (sizes[z] < N)
        assert_int_equal(pf__registry_find(&r, keys[sizes[z]], lens[sizes[z]]), -1);
      pf__registry_free(&r);
    }
  }
  /* two pairs alone: first words differing by what two lengths' terms
   * differ by, last words equal (with the length term a constant, the same
   * for every seed, such a pair would collide under all of them); and the
   * pair reported */
  static const char *const pairs[][2] = {{"pbcdefghijklmno", "obcdefghhijklmno"},
                                         {"device_1_status", "device_10_status"}};
  for (size_t p = 0; p < 2; p++) {
    size_t plens[] = {15, 16};
    pf__registry r;
    assert_int_equal(pf__registry_build(&r, pairs[p], plens, 2), 0);
    assert_int_equal(pf__registry_find(&r, pairs[p][0], 15), 0);
    assert_int_equal(pf__registry_find(&r, pairs[p][1], 16), 1);
    pf__registry_free(&r);
  }
  free(buf);
  free(keys);
  free(lens);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_binary_keys),
      cmocka_unit_test(test_lengths_and_near_misses),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_empty_key),
      cmocka_unit_test(test_hash_collision_reseeds),
      cmocka_unit_test(test_numbered_families),
  };
  return cmocka_run_group_tests_name("runtime/registry", tests, NULL, NULL);
}

#include "support.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"

pf_test_allocs pf_test_alloc = {0, 0, 0, -1};

static bool should_fail(void) {
  if (pf_test_alloc.fail_after < 0)
    return false;
  if (pf_test_alloc.fail_after == 0)
    return true;
  pf_test_alloc.fail_after--;
  return false;
}

static void *count_malloc(void *ctx, size_t n) {
  (void)ctx;
  if (should_fail())
    return NULL;
  pf_test_alloc.mallocs++;
  return malloc(n ? n : 1);
}
static void *count_realloc(void *ctx, void *p, size_t n) {
  (void)ctx;
  if (should_fail())
    return NULL;
  pf_test_alloc.reallocs++;
  return realloc(p, n ? n : 1);
}
static void count_free(void *ctx, void *p) {
  (void)ctx;
  pf_test_alloc.frees++;
  free(p);
}

void pf_test_alloc_install(void) {
  static const pf__allocator a = {count_malloc, count_realloc, count_free, NULL};
  pf_test_alloc = (pf_test_allocs){0, 0, 0, -1};
  pf__set_allocator(&a);
}

void pf_test_alloc_remove(void) { pf__set_allocator(NULL); }

size_t pf_test_alloc_count(void) { return pf_test_alloc.mallocs + pf_test_alloc.reallocs; }

char *pf_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t r;
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) {
        free(buf);
        buf = NULL;
      }
      buf = nb;
    }
  }
  fclose(f);
  if (buf && len)
    *len = n;
  return buf;
}

const char *pf_test_shared_dir(void) {
  const char *d = getenv("PF_SHARED_DIR");
  return d && *d ? d : "../shared";
}

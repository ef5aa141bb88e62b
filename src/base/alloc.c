#include "base/alloc.h"

#include <stdlib.h>

static void *libc_malloc(void *ctx, size_t n) {
  (void)ctx;
  return malloc(n ? n : 1);
}
static void *libc_realloc(void *ctx, void *p, size_t n) {
  (void)ctx;
  return realloc(p, n ? n : 1);
}
static void libc_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

pf__allocator pf__alloc = {libc_malloc, libc_realloc, libc_free, NULL};

void pf__set_allocator(const pf__allocator *a) {
  static const pf__allocator libc = {libc_malloc, libc_realloc, libc_free, NULL};
  pf__alloc = a ? *a : libc;
}

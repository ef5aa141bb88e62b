/* The allocator seam: every heap allocation pforge makes goes through these,
 * so tests and benchmarks can count (or fail) allocations. */
#ifndef PF_BASE_ALLOC_H
#define PF_BASE_ALLOC_H

#include <stddef.h>

typedef struct pf__allocator {
  void *(*malloc)(void *ctx, size_t size);
  void *(*realloc)(void *ctx, void *p, size_t size);
  void (*free)(void *ctx, void *p);
  void *ctx;
} pf__allocator;

/* Installs a (copied) allocator; NULL restores the libc one. Not
 * thread-safe: call before any other pforge function, or in tests. */
void pf__set_allocator(const pf__allocator *a);

extern pf__allocator pf__alloc;

static inline void *pf__malloc(size_t n) { return pf__alloc.malloc(pf__alloc.ctx, n); }
static inline void *pf__realloc(void *p, size_t n) {
  return pf__alloc.realloc(pf__alloc.ctx, p, n);
}
static inline void pf__free(void *p) {
  if (p)
    pf__alloc.free(pf__alloc.ctx, p);
}

#endif

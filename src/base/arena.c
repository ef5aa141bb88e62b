#include "base/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"

#define ALIGN 16u

typedef struct block {
  struct block *next;
  size_t size; /* bytes in data[] */
  alignas(ALIGN) unsigned char data[];
} block;

struct pf_arena {
  block *head; /* blocks in use order; all kept until trim/destroy */
  block *cur;  /* block being filled; NULL before the first alloc */
  unsigned char *ptr, *end;
  unsigned char *last; /* start of the most recent allocation */
  size_t spent;        /* bytes used in blocks before cur */
  size_t block_size;
};

static size_t round_up(size_t n) { return (n + (ALIGN - 1)) & ~(size_t)(ALIGN - 1); }

pf_arena *pf_arena_create(size_t block_size) {
  pf_arena *a = pf__malloc(sizeof *a);
  if (!a)
    return NULL;
  memset(a, 0, sizeof *a);
  a->block_size = block_size ? round_up(block_size) : PF_ARENA_BLOCK_DEFAULT;
  return a;
}

void pf_arena_destroy(pf_arena *a) {
  if (!a)
    return;
  for (block *b = a->head, *n; b; b = n) {
    n = b->next;
    pf__free(b);
  }
  pf__free(a);
}

static block *new_block(size_t size) {
  if (size > SIZE_MAX - sizeof(block))
    return NULL;
  block *b = pf__malloc(sizeof(block) + size);
  if (!b)
    return NULL;
  b->next = NULL;
  b->size = size;
  return b;
}

static void enter(pf_arena *a, block *b) {
  if (a->cur)
    a->spent += (size_t)(a->ptr - a->cur->data);
  a->cur = b;
  a->ptr = b->data;
  a->end = b->data + b->size;
}

/* Moves to a block with at least `size` free bytes: the next retained one
 * when it is big enough, otherwise a new one put in its place. */
static int next_block(pf_arena *a, size_t size) {
  block **link = a->cur ? &a->cur->next : &a->head;
  block *b = *link;
  if (b && b->size >= size) {
    enter(a, b);
    return 0;
  }
  size_t bs = size > a->block_size ? size : a->block_size;
  block *nb = new_block(bs);
  if (!nb)
    return -1;
  if (b) { /* too small to reuse: replace it */
    nb->next = b->next;
    pf__free(b);
  }
  *link = nb;
  enter(a, nb);
  return 0;
}

/* Allocations take exactly their size; an aligned one starts at the next
 * multiple of ALIGN, a string (pf_arena_strndup) at the next byte. */
void *pf_arena_alloc(pf_arena *a, size_t size) {
  if (size > SIZE_MAX - ALIGN)
    return NULL;
  if (!size)
    size = 1;
  size_t pad = (size_t)(-(uintptr_t)a->ptr & (ALIGN - 1));
  if ((size_t)(a->end - a->ptr) < size + pad) {
    if (next_block(a, size) != 0) /* a block's data is aligned */
      return NULL;
    pad = 0;
  }
  unsigned char *p = a->ptr + pad;
  a->ptr = p + size;
  a->last = p;
  return p;
}

void *pf_arena_calloc(pf_arena *a, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size)
    return NULL;
  void *p = pf_arena_alloc(a, n * size);
  if (p)
    memset(p, 0, n * size);
  return p;
}

char *pf_arena_strndup(pf_arena *a, const char *s, size_t len) {
  if (len >= SIZE_MAX - ALIGN)
    return NULL;
  if ((size_t)(a->end - a->ptr) < len + 1 && next_block(a, len + 1) != 0)
    return NULL;
  char *p = (char *)a->ptr; /* text needs no alignment */
  a->ptr += len + 1;
  a->last = (unsigned char *)p;
  if (len)
    memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

void *pf__arena_extend(pf_arena *a, void *p, size_t old_size, size_t new_size) {
  if (new_size > SIZE_MAX - ALIGN)
    return NULL;
  if (p && p == a->last && (size_t)(a->end - (unsigned char *)p) >= new_size) {
    a->ptr = (unsigned char *)p + (new_size ? new_size : 1);
    return p;
  }
  void *q = pf_arena_alloc(a, new_size);
  if (q && p && old_size)
    memcpy(q, p, old_size < new_size ? old_size : new_size);
  return q;
}

void pf_arena_reset(pf_arena *a) {
  a->spent = 0;
  a->last = NULL;
  if (!a->head) {
    a->cur = NULL;
    a->ptr = a->end = NULL;
    return;
  }
  a->cur = a->head;
  a->ptr = a->head->data;
  a->end = a->head->data + a->head->size;
}

void pf_arena_trim(pf_arena *a, size_t keep_bytes) {
  /* Only blocks after the current one are free to go. */
  size_t kept = 0;
  block *b = a->head;
  for (; b && b != a->cur; b = b->next)
    kept += b->size;
  if (!b)
    return;
  kept += b->size;
  block **link = &b->next;
  while (*link) {
    block *n = *link;
    if (kept + n->size <= keep_bytes) {
      kept += n->size;
      link = &n->next;
    } else {
      *link = n->next;
      pf__free(n);
    }
  }
}

size_t pf_arena_used(const pf_arena *a) {
  return a->cur ? a->spent + (size_t)(a->ptr - a->cur->data) : 0;
}

size_t pf_arena_capacity(const pf_arena *a) {
  size_t n = 0;
  for (const block *b = a->head; b; b = b->next)
    n += b->size;
  return n;
}

/* Region allocator: many small allocations, released all at once.
 *
 * pforge gives every request an arena; everything the request parses or
 * builds lives there and disappears with one pf_arena_reset() after the
 * response is written. Blocks are kept across resets, so a server in steady
 * state allocates no heap memory per request.
 *
 * An arena is not thread-safe: one thread uses it at a time.
 *
 *   pf_arena *a = pf_arena_create(0);
 *   char *p = pf_arena_alloc(a, 100);
 *   ...
 *   pf_arena_reset(a);      // p is invalid from here on; blocks are reused
 *   pf_arena_destroy(a);
 */
#ifndef PFORGE_ARENA_H
#define PFORGE_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif
/* The API: exported by the pforge executable, which hides the rest. */
#pragma GCC visibility push(default)

typedef struct pf_arena pf_arena;

/* Default size of one block when 0 is passed to pf_arena_create(). */
#define PF_ARENA_BLOCK_DEFAULT ((size_t)16 * 1024)

/* Creates an empty arena. No block is allocated until the first allocation.
 * block_size: size of each ordinary block (0 = PF_ARENA_BLOCK_DEFAULT);
 * larger requests get a block of their own. Returns NULL when out of memory.
 * Free with pf_arena_destroy(). */
pf_arena *pf_arena_create(size_t block_size);

/* Frees the arena and all its blocks. NULL is a no-op. */
void pf_arena_destroy(pf_arena *a);

/* Returns `size` bytes aligned to 16, valid until the next reset/destroy, or
 * NULL when out of memory (or size overflows). size 0 returns a valid unique
 * pointer. The memory is not zeroed. */
void *pf_arena_alloc(pf_arena *a, size_t size);

/* Like pf_arena_alloc(), zero-filled. */
void *pf_arena_calloc(pf_arena *a, size_t n, size_t size);

/* Copies len bytes of s into the arena and adds a NUL. NULL on OOM. The
 * copy is not aligned: strings take len + 1 bytes each, packed. */
char *pf_arena_strndup(pf_arena *a, const char *s, size_t len);

/* Invalidates every allocation; keeps the blocks for reuse. */
void pf_arena_reset(pf_arena *a);

/* Frees retained blocks beyond the first `keep_bytes` of capacity; call
 * after an unusually large request so its memory is not held forever. */
void pf_arena_trim(pf_arena *a, size_t keep_bytes);

/* Bytes handed out since the last reset (including alignment padding). */
size_t pf_arena_used(const pf_arena *a);

/* Bytes of block memory the arena holds. */
size_t pf_arena_capacity(const pf_arena *a);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif

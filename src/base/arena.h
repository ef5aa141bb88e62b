/* Private arena helpers on top of include/pforge/arena.h. */
#ifndef PF_BASE_ARENA_H
#define PF_BASE_ARENA_H

#include <pforge/arena.h>

/* Resizes the most recent allocation `p` (of old_size bytes) to new_size,
 * in place when it is still the last allocation and its block has room,
 * otherwise by copying into a new allocation. Returns NULL on OOM (p stays
 * valid). The building block for arrays that grow while being filled. */
void *pf__arena_extend(pf_arena *a, void *p, size_t old_size, size_t new_size);

#endif

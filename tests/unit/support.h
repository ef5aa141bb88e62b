/* Helpers shared by the unit tests. Include after <cmocka.h>'s prerequisites. */
#ifndef PF_TEST_SUPPORT_H
#define PF_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <cmocka.h>

/* Counting allocator installed through the allocator seam. */
typedef struct pf_test_allocs {
  size_t mallocs, reallocs, frees;
  long fail_after; /* -1: never fail; n: the (n+1)th allocation fails */
} pf_test_allocs;

extern pf_test_allocs pf_test_alloc;

/* Installs the counting allocator (counts reset, no failures). */
void pf_test_alloc_install(void);
/* Restores libc's allocator. */
void pf_test_alloc_remove(void);
/* Allocations (malloc + realloc) so far. */
size_t pf_test_alloc_count(void);

/* Reads a whole file into a malloc'd buffer; NULL on error. */
char *pf_test_read_file(const char *path, size_t *len);

/* $PF_SHARED_DIR (the shared/ folder with the JSON test suite). */
const char *pf_test_shared_dir(void);

#endif

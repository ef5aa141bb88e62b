/* PCRE2 loaded at run time; see schema/pcre2_dl.h. */
#include "schema/pcre2_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include <pforge/error.h>

pf__pcre2_api pf__pcre2;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_why[256];

static void load(void) {
  void *h = dlopen("libpcre2-8.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    snprintf(load_why, sizeof load_why,
             "patterns need PCRE2, which cannot be loaded (%s); on Debian: apt-get install "
             "libpcre2-8-0",
             why ? why : "not found");
    load_rc = -PF_ECONFIG;
    return;
  }
  pf__pcre2_api api;
  bool ok = true;
#define PF__PCRE2_SYM(f)                                                                           \
  if (ok && !(*(void **)&api.f = dlsym(h, #f))) {                                                  \
    snprintf(load_why, sizeof load_why, "the PCRE2 library found has no %s", #f);                  \
    ok = false;                                                                                    \
  }
  PF__PCRE2_FUNCS(PF__PCRE2_SYM)
#undef PF__PCRE2_SYM
  if (!ok) {
    dlclose(h);
    load_rc = -PF_ECONFIG;
    return;
  }
  pf__pcre2 = api; /* h is kept for the life of the process */
}

int pf__pcre2_load(pf_buf *err) {
  pthread_once(&once, load);
  if (load_rc && err)
    pf_buf_puts(err, load_why);
  return load_rc;
}

/* libcurl loaded at run time; see tools/curl_dl.h. */
#include "tools/curl_dl.h"

#include <dlfcn.h>
#include <stdbool.h>

#include <pforge/error.h>

pf__curl_api pf__curl;

static void *lib;

int pf__curl_load(pf_buf *err) {
  if (lib)
    return 0;
  void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    pf_buf_printf(err, "http tools need libcurl, which cannot be loaded (%s); on Debian: "
                       "apt-get install libcurl4",
                  why ? why : "not found");
    return -PF_ECONFIG;
  }
  pf__curl_api api;
  bool ok = true;
#define PF__CURL_SYM(f)                                                                            \
  if (ok && !(*(void **)&api.f = dlsym(h, #f))) {                                                   \
    pf_buf_printf(err, "the libcurl found has no %s", #f);                                          \
    ok = false;                                                                                    \
  }
  PF__CURL_FUNCS(PF__CURL_SYM)
#undef PF__CURL_SYM
  if (!ok) {
    dlclose(h);
    return -PF_ECONFIG;
  }
  pf__curl = api;
  lib = h; /* kept for the life of the process */
  return 0;
}

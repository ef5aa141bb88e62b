/* libcurl, loaded at run time (dlopen) by the first http tool.
 *
 * libcurl brings ~30 shared libraries with it (OpenSSL, GnuTLS, Kerberos,
 * LDAP, SSH...): linked into pforge, they cost every server ~5.5 MB of RSS
 * and their relocations at start-up, though most configs have no http
 * tool. So pforge is built against libcurl's headers only, and
 * src/tools/http.c calls libcurl through the table below, filled from
 * libcurl.so.4 when an http tool is first prepared.
 */
#ifndef PF_TOOLS_CURL_DL_H
#define PF_TOOLS_CURL_DL_H

/* plain prototypes (curl.h's type-checking macros would hide them) */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <pforge/buf.h>

#define PF__CURL_FUNCS(X)                                                                          \
  X(curl_global_init)                                                                              \
  X(curl_global_cleanup)                                                                           \
  X(curl_easy_init)                                                                                \
  X(curl_easy_cleanup)                                                                             \
  X(curl_easy_setopt)                                                                              \
  X(curl_easy_getinfo)                                                                             \
  X(curl_easy_strerror)                                                                            \
  X(curl_multi_init)                                                                               \
  X(curl_multi_cleanup)                                                                            \
  X(curl_multi_add_handle)                                                                         \
  X(curl_multi_remove_handle)                                                                      \
  X(curl_multi_setopt)                                                                             \
  X(curl_multi_assign)                                                                             \
  X(curl_multi_socket_action)                                                                      \
  X(curl_multi_info_read)                                                                          \
  X(curl_share_init)                                                                               \
  X(curl_share_setopt)                                                                             \
  X(curl_share_cleanup)                                                                            \
  X(curl_slist_append)                                                                             \
  X(curl_slist_free_all)

typedef struct pf__curl_api {
#define PF__CURL_FIELD(f) __typeof__(f) *f;
  PF__CURL_FUNCS(PF__CURL_FIELD)
#undef PF__CURL_FIELD
} pf__curl_api;

/* Filled by pf__curl_load(); read-only afterwards. */
extern pf__curl_api pf__curl;

/* Loads libcurl.so.4 and every function above, once (later calls return
 * at once). 0, or -PF_ECONFIG with the reason in err. Called while the
 * server is built (single-threaded). */
int pf__curl_load(pf_buf *err);

#endif

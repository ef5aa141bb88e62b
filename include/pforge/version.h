/* pforge version. PF_VERSION_NUM is (major * 10000 + minor * 100 + patch). */
#ifndef PFORGE_VERSION_H
#define PFORGE_VERSION_H

#define PF_VERSION_MAJOR 0
#define PF_VERSION_MINOR 1
#define PF_VERSION_PATCH 0
#define PF_VERSION "0.1.0"
#define PF_VERSION_NUM                                                         \
  (PF_VERSION_MAJOR * 10000 + PF_VERSION_MINOR * 100 + PF_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif
/* The API: exported by the pforge executable, which hides the rest. */
#pragma GCC visibility push(default)
/* The version of the library actually linked, e.g. "0.1.0". Static. */
const char *pf_version(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif

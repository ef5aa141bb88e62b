/* Base64 (RFC 4648, standard alphabet, padded). */
#ifndef PF_BASE_BASE64_H
#define PF_BASE_BASE64_H

#include <pforge/buf.h>
#include <stddef.h>

/* Appends the encoding of data[0..len) to out. */
void pf__base64_encode(pf_buf *out, const void *data, size_t len);

/* Decodes text[0..len) (padding required, no whitespace) into out. Returns 0
 * or -PF_EINVAL. */
int pf__base64_decode(pf_buf *out, const char *text, size_t len);

#endif

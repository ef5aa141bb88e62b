/* pforge error table.
 *
 * One X-macro list generates the error enum, pf_err_name(), pf_strerror() and
 * the JSON-RPC error code each error maps to when it reaches a client.
 * Functions returning `int` in the pforge API return 0 on success or a
 * negative pf_err value.
 */
#ifndef PFORGE_ERROR_H
#define PFORGE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif
/* The API: exported by the pforge executable, which hides the rest. */
#pragma GCC visibility push(default)

/* X(NAME, message, json_rpc_code) */
#define PF_ERRNO_MAP(X)                                                        \
  X(OK, "success", 0)                                                          \
  X(NOMEM, "out of memory", -32603)                                            \
  X(INVAL, "invalid argument", -32602)                                         \
  X(LIMIT, "limit exceeded", -32600)                                           \
  X(IO, "input/output error", -32603)                                          \
  X(JSON_SYNTAX, "JSON syntax error", -32700)                                  \
  X(JSON_UTF8, "invalid UTF-8 in JSON text", -32700)                           \
  X(JSON_DEPTH, "JSON nesting too deep", -32700)                               \
  X(JSON_SIZE, "JSON text too large", -32700)                                  \
  X(JSON_NUMBER, "JSON number out of range", -32700)                           \
  X(JSON_DUPKEY, "duplicate key in JSON object", -32700)                       \
  X(RPC_PARSE, "parse error", -32700)                                          \
  X(RPC_INVALID_REQUEST, "invalid request", -32600)                            \
  X(RPC_METHOD_NOT_FOUND, "method not found", -32601)                          \
  X(RPC_INVALID_PARAMS, "invalid params", -32602)                              \
  X(RPC_INTERNAL, "internal error", -32603)                                    \
  X(RESOURCE_NOT_FOUND, "resource not found", -32002)                          \
  X(CONFIG, "invalid configuration", 0)                                        \
  X(NOTSUP, "not supported by the client", -32603)                             \
  X(TIMEDOUT, "timed out", -32603)                                             \
  X(CANCELED, "cancelled", -32603)                                             \
  X(REMOTE, "the client answered with an error", -32603)                       \
  X(NOENT, "no such key", -32603)                                              \
  X(CONFLICT, "the value changed (compare-and-swap lost)", -32603)             \
  X(UNAVAIL, "the state backend is unavailable", -32603)

typedef enum pf_err {
#define PF__ERR_ENUM(name, msg, code) PF_E##name,
  PF_ERRNO_MAP(PF__ERR_ENUM)
#undef PF__ERR_ENUM
  PF_E__COUNT
} pf_err;

/* Functions return -PF_E<NAME>; these take either sign. Unknown values give
 * "unknown error" / "UNKNOWN" / -32603. The returned strings are static. */
const char *pf_strerror(int err);
const char *pf_err_name(int err);
int pf_err_rpc_code(int err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif

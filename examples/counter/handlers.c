/* Native handlers of examples/counter: named counters in the state store.
 * Each counter is the key "counter:<name>", its value decimal text. */
#include <pforge/error.h>
#include <pforge/pforge.h>
#include <stdio.h>
#include <string.h>

PF_ABI_DECLARE();

#define PREFIX "counter:"

/* "counter:<name>" in the call's memory; NULL on OOM. */
static const char *key_of(pf_call *call, size_t *len) {
  const char *name = pf_arg_str(call, "name", "");
  size_t n = strlen(name);
  char *k = pf_call_alloc(call, sizeof PREFIX + n);
  if (!k)
    return NULL;
  memcpy(k, PREFIX, sizeof PREFIX - 1);
  memcpy(k + sizeof PREFIX - 1, name, n + 1);
  *len = sizeof PREFIX - 1 + n;
  return k;
}

/* The error the model sees, e.g. "state error: the state backend is
 * unavailable (UNAVAIL)". */
static int fail(pf_call *call, int rc) {
  return pf_result_error(call, "state error: %s (%s)", pf_strerror(rc), pf_err_name(rc));
}

PF_TOOL(counter_increment) {
  size_t klen;
  const char *key = key_of(call, &klen);
  if (!key)
    return -PF_ENOMEM;
  int64_t value;
  int rc = pf_state_incr(call, key, klen, pf_arg_int(call, "by", 1), &value);
  if (rc == -PF_EINVAL)
    return pf_result_error(call, "counter '%s' does not hold an integer, or would overflow",
                           pf_arg_str(call, "name", ""));
  if (rc)
    return fail(call, rc);
  return pf_result_textf(call, "%lld", (long long)value);
}

PF_TOOL(counter_get) {
  size_t klen, vlen;
  const char *key = key_of(call, &klen), *val;
  if (!key)
    return -PF_ENOMEM;
  int rc = pf_state_get(call, key, klen, &val, &vlen);
  if (rc == -PF_ENOENT)
    return pf_result_textz(call, "0");
  if (rc)
    return fail(call, rc);
  return pf_result_text(call, val, vlen);
}

PF_TOOL(counter_reset) {
  size_t klen;
  const char *key = key_of(call, &klen);
  if (!key)
    return -PF_ENOMEM;
  int rc = pf_state_delete(call, key, klen);
  if (rc && rc != -PF_ENOENT)
    return fail(call, rc);
  return pf_result_textf(call, "%s", rc ? "no such counter" : "reset");
}

PF_TOOL(counter_set_with_ttl) {
  size_t klen;
  const char *key = key_of(call, &klen);
  if (!key)
    return -PF_ENOMEM;
  char buf[24];
  int n = snprintf(buf, sizeof buf, "%lld", (long long)pf_arg_int(call, "value", 0));
  int64_t ttl = pf_arg_int(call, "ttl_ms", 1);
  int rc = pf_state_set(call, key, klen, buf, (size_t)n, ttl > 0 ? (uint64_t)ttl : 1);
  if (rc)
    return fail(call, rc);
  return pf_result_textf(call, "%s for %lld ms", buf, (long long)ttl);
}

/* Native handlers of examples/bench (the benchmark server contract). */
#include <pforge/pforge.h>

PF_ABI_DECLARE();

PF_TOOL(echo) {
  size_t len = 0;
  const char *msg = pf_json_str(pf_arg(call, "message"), &len);
  return pf_result_text(call, msg ? msg : "", len);
}

PF_TOOL(add) {
  char num[40];
  size_t n = pf_json_fmt_double(pf_arg_number(call, "a", 0) + pf_arg_number(call, "b", 0), num);
  return pf_result_text(call, num, n);
}

/* dummy_<i> padding tools (MCP_EXTRA_TOOLS) */
PF_TOOL(dummy) { return pf_result_textz(call, pf_arg_str(call, "value", "")); }

/* Native handlers of examples/hello. */
#include <pforge/pforge.h>

PF_ABI_DECLARE();

/* handlers::greet::say_hello -> say_hello */
PF_TOOL(say_hello) {
  const char *name = pf_arg_str(call, "name", "world");
  const char *greeting = pf_arg_str(call, "greeting", "Hello"); /* schema default */
  return pf_result_textf(call, "%s, %s!", greeting, name);
}

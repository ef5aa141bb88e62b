/* Native handler of examples/calculator. */
#include <string.h>

#include <pforge/pforge.h>

PF_ABI_DECLARE();

PF_TOOL(calculate_handler) {
  const char *op = pf_arg_str(call, "operation", "");
  double a = pf_arg_number(call, "a", 0), b = pf_arg_number(call, "b", 0), r;
  if (strcmp(op, "add") == 0) {
    r = a + b;
  } else if (strcmp(op, "subtract") == 0) {
    r = a - b;
  } else if (strcmp(op, "multiply") == 0) {
    r = a * b;
  } else if (strcmp(op, "divide") == 0) {
    if (b == 0)
      return pf_result_error(call, "Division by zero");
    r = a / b;
  } else {
    return pf_result_error(call, "Unknown operation '%s': use add, subtract, multiply or divide",
                           op);
  }
  char num[40];
  pf_json_fmt_double(r, num);
  pf_json_writer *w = pf_result_structured(call);
  pf_jw_obj_begin(w);
  PF_JW_KEY(w, "result");
  pf_jw_double(w, r);
  pf_jw_obj_end(w);
  return pf_result_textz(call, num);
}

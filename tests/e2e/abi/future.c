/* A handler library built for an ABI newer than pforge's: pforge must refuse
 * it at start-up with a clear message (tests/e2e/test_cli.sh). */
#include <pforge/pforge.h>

__attribute__((visibility("default"))) int pf_abi_version = PF_ABI_VERSION + 1;

PF_TOOL(future_tool) { return pf_result_textz(call, "from the future"); }

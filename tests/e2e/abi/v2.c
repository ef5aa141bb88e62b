/* A handler library built for ABI 2 (before pf_client_request_async): a
 * later pforge must still load it and call its handlers
 * (tests/e2e/test_cli.sh). */
#include <pforge/pforge.h>

__attribute__((visibility("default"))) int pf_abi_version = 2;

PF_TOOL(v2_tool) { return pf_result_textz(call, "from ABI 2"); }

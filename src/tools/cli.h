/* cli tools: a program run with uv_spawn on the event loop, never through a
 * shell. Each configured argv element is one template rendered from the
 * call's arguments and passed as exactly one argument. */
#ifndef PF_TOOLS_CLI_H
#define PF_TOOLS_CLI_H

#include "mcp/mcp.h"

/* Most child processes running at once, server-wide; calls beyond it fail
 * at once with an isError result. */
#define PF_CLI_MAX_CHILDREN 64
/* Between SIGTERM and SIGKILL (timeout, cancellation), and how long pipes
 * still held open by escaped descendants are drained after the command
 * exited. */
#define PF_CLI_GRACE_MS 2000
#define PF_CLI_DEFAULT_TIMEOUT_MS 30000

/* At load, before the tool's input schema is built: compiles the templates
 * of cfg into t->rare->kind_data and sets its start function. When the tool declares no
 * params and no input_schema, infers required string params from the
 * template variables (and an optional `args` string array when
 * allow_extra_args), stored in cfg (arena). Returns 0, or -PF_ECONFIG with
 * a message appended to err, or -PF_ENOMEM. */
int pf__cli_prepare(pf_cfg_tool *cfg, pf__tool *t, pf_arena *arena, pf_buf *err);

/* Frees t->kind_data. */
void pf__cli_free(pf__tool *t);

#endif

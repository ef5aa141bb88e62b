/* pipeline tools: steps that call other tools in order, each with a
 * templated input, an optional condition and an error policy, run
 * asynchronously on the loop (a pipeline never blocks it).
 *
 * The values templates and conditions see: the pipeline's arguments, and
 * for each step already run that has an `output_var`, that variable: the
 * step's structuredContent, else its text parsed as JSON when it parses,
 * else its text; null when the step failed, with `<output_var>_error`
 * holding the error text. A step without `input` gets the pipeline's
 * arguments. Each step's input is validated against its tool's schema and
 * goes through that tool's policies (retry, breaker, ...).
 *
 * The result: `output` naming a step's output_var (bare, or as "{{var}}")
 * returns that step's result; any other `output` is a text template whose
 * rendering is the text result (and its structuredContent when it is a
 * JSON object); without `output`, the last step run's result. A failing
 * step stops the pipeline with an isError result naming it, unless its
 * error_policy is `continue`. */
#ifndef PF_TOOLS_PIPELINE_H
#define PF_TOOLS_PIPELINE_H

#include "mcp/mcp.h"

/* At load, before the tool's input schema is built: compiles the steps'
 * templates and conditions into t->rare->kind_data and sets its start function; checks that
 * every variable names a param (when params are declared) or an earlier
 * step's output_var; with no params and no input_schema, makes every other
 * variable a required param of any type (cfg->input_schema_json). Returns
 * 0, or -PF_ECONFIG with messages (one per line, "steps[i]: ...") appended
 * to err, or -PF_ENOMEM. */
int pf__pipeline_prepare(pf_cfg_tool *cfg, pf__tool *t, pf_arena *arena, pf_buf *err);

/* After every tool is built: resolves the steps' tools. */
void pf__pipeline_link(pf__tool *t, pf__tool *tools, const pf__registry *reg);

void pf__pipeline_free(pf__tool *t);

#endif

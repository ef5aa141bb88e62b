#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pforge/error.h>

#include "config/config.h"

/* Runs with the data folder as cwd so diagnostics name files briefly. */
static void enter(const char *sub) {
  const char *src = getenv("PF_SOURCE_DIR");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/tests/data/config/%s", src && *src ? src : ".", sub);
  assert_int_equal(chdir(dir), 0);
}

/* Loads text that must load without a problem (diagnostics printed if not). */
static pf_config *load_text_ok(const char *name, const char *text, size_t len) {
  pf_config *cfg = NULL;
  pf_buf diag = PF_BUF_INIT;
  int rc = pf_config_load_text(name, text, len, &cfg, &diag);
  if (rc)
    fprintf(stderr, "%s", pf_buf_cstr(&diag));
  assert_int_equal(rc, 0);
  pf_buf_free(&diag);
  return cfg;
}

static pf_config *load_ok(const char *file) {
  pf_buf diag = PF_BUF_INIT;
  pf_config *cfg = NULL;
  int rc = pf_config_load(file, &cfg, &diag);
  if (rc != 0)
    fprintf(stderr, "%s: rc %d\n%s", file, rc, pf_buf_cstr(&diag));
  assert_int_equal(rc, 0);
  assert_int_equal(diag.len, 0);
  assert_non_null(cfg);
  pf_buf_free(&diag);
  return cfg;
}

#define STR(a, b) assert_string_equal((a), (b))

static void test_calculator(void **state) {
  (void)state;
  enter("valid");
  pf_config *cfg = load_ok("calculator.yaml");
  STR(cfg->path, "calculator.yaml");
  STR(cfg->dir, ".");
  STR(cfg->forge.name, "calculator-server");
  STR(cfg->forge.version, "0.1.0");
  STR(cfg->forge.transport, "stdio");
  STR(cfg->forge.optimization, "release");
  assert_null(cfg->forge.log_level);
  assert_null(cfg->forge.library);
  STR(cfg->forge.resources_root, ".");
  assert_int_equal(cfg->forge.page_size, 100);
  assert_int_equal(cfg->forge.loc.line, 3);
  assert_false(cfg->state.present);
  assert_int_equal(cfg->ntools, 1);
  const pf_cfg_tool *t = &cfg->tools[0];
  assert_int_equal(t->kind, PF_TOOL_NATIVE);
  STR(t->name, "calculate");
  STR(t->description, "Perform an arithmetic operation on two numbers");
  STR(t->build->handler_path, "handlers::calculate_handler");
  STR(t->build->handler_symbol, "calculate_handler");
  assert_false(t->blocking);
  assert_int_equal(t->timeout_ms, 0);
  assert_int_equal(t->read_only_hint, -1);
  assert_int_equal(t->build->loc.line, 10);
  assert_int_equal(t->build->loc.col, 11);
  assert_int_equal(t->build->nparams, 3);
  STR(t->build->params[0].name, "operation");
  assert_int_equal(t->build->params[0].type, PF_PARAM_STRING);
  assert_true(t->build->params[0].required);
  STR(t->build->params[0].description, "One of add, subtract, multiply, divide");
  STR(t->build->params[1].name, "a");
  assert_int_equal(t->build->params[1].type, PF_PARAM_NUMBER);
  assert_true(t->build->params[1].required);
  STR(t->build->params[2].name, "b");
  assert_int_equal(t->build->params[2].type, PF_PARAM_NUMBER);
  assert_int_equal(t->build->params[2].min_length, -1);
  assert_false(t->build->params[2].has_min);
  assert_null(t->build->params[2].default_json);
  assert_int_equal(cfg->nresources, 0);
  assert_int_equal(cfg->nprompts, 0);
  pf_config_free(cfg);
  pf_config_free(NULL);
}

static void test_hello_world(void **state) {
  (void)state;
  enter("valid");
  pf_config *cfg = load_ok("hello-world.yaml");
  STR(cfg->forge.name, "hello-world");
  STR(cfg->forge.optimization, "debug");
  assert_int_equal(cfg->ntools, 2);
  const pf_cfg_tool *g = &cfg->tools[0];
  STR(g->build->handler_path, "handlers::greet::say_hello");
  STR(g->build->handler_symbol, "say_hello");
  assert_int_equal(g->build->nparams, 2);
  assert_true(g->build->params[0].required);
  STR(g->build->params[1].name, "greeting");
  assert_false(g->build->params[1].required);
  STR(g->build->params[1].default_json, "\"Hello\"");
  const pf_cfg_tool *w = &cfg->tools[1];
  assert_int_equal(w->kind, PF_TOOL_CLI);
  STR(w->more->cli->command, "whoami");
  assert_int_equal(w->more->cli->nargs, 0);
  assert_false(w->more->cli->stream);
  pf_config_free(cfg);
}

static void test_production(void **state) {
  (void)state;
  enter("valid");
  pf_config *cfg = load_ok("production-server.yaml");
  STR(cfg->forge.description, "A server showing every tool kind");
  assert_true(cfg->state.present);
  STR(cfg->state.backend, "memory");
  assert_null(cfg->state.path);
  assert_int_equal(cfg->state.ttl_seconds, 3600);
  assert_int_equal(cfg->state.max_size, 10485760);
  assert_null(cfg->state.options_json);
  assert_int_equal(cfg->ntools, 5);
  const pf_cfg_tool *t = cfg->tools;
  STR(t[0].build->params[1].default_json, "1");
  assert_int_equal(t[0].build->params[1].type, PF_PARAM_INTEGER);
  assert_int_equal(t[0].timeout_ms, 1000);
  STR(t[1].build->params[1].enum_json, "[\"json\",\"yaml\",\"toml\"]");
  STR(t[1].build->params[1].default_json, "\"json\"");
  assert_int_equal(t[1].build->params[0].type, PF_PARAM_OBJECT);
  assert_int_equal(t[2].kind, PF_TOOL_CLI);
  assert_true(t[2].more->cli->stream);
  assert_int_equal(t[2].timeout_ms, 30000);
  assert_int_equal(t[2].more->cli->nargs, 3);
  STR(t[2].more->cli->args[0], "-f");
  STR(t[2].more->cli->args[2], "10");
  assert_int_equal(t[3].kind, PF_TOOL_HTTP);
  STR(t[3].more->http->method, "GET");
  STR(t[3].more->http->endpoint, "https://api.example.com/repos/acme/widgets");
  assert_int_equal(t[3].more->http->nheaders, 2);
  STR(t[3].more->http->headers[0].key, "Accept");
  STR(t[3].more->http->headers[0].value, "application/json");
  STR(t[3].more->http->headers[1].key, "User-Agent");
  assert_int_equal(t[3].timeout_ms, 10000);
  assert_null(t[3].more->http->auth_type);
  assert_int_equal(t[4].kind, PF_TOOL_PIPELINE);
  assert_int_equal(t[4].build->nparams, 0);
  assert_int_equal(t[4].more->nsteps, 3);
  STR(t[4].more->steps[0].tool, "counter_increment");
  STR(t[4].more->steps[0].input_json, "{\"name\":\"workflow_runs\",\"increment\":1}");
  STR(t[4].more->steps[1].input_json, "{\"data\":{\"status\":\"processing\"},\"format\":\"json\"}");
  assert_null(t[4].more->steps[2].input_json);
  assert_false(t[4].more->steps[0].continue_on_error);
  assert_int_equal(cfg->nresources, 2);
  const pf_cfg_resource *r = cfg->resources;
  STR(r[0].uri, "file://./README.md");
  assert_null(r[0].uri_template);
  STR(r[0].name, "server_documentation");
  STR(r[0].mime_type, "text/markdown");
  STR(r[0].file, "./README.md");
  assert_null(r[0].text);
  STR(r[1].file, "./config.json");
  assert_int_equal(cfg->nprompts, 2);
  const pf_cfg_prompt *p = cfg->prompts;
  STR(p[0].name, "generate_report");
  STR(p[0].template_text, "Write a status report"); /* the description */
  assert_int_equal(p[0].nargs, 1);
  STR(p[0].args[0].name, "include_metrics");
  assert_false(p[0].args[0].required);
  assert_int_equal(p[1].nargs, 2);
  assert_true(p[1].args[0].required);
  STR(p[1].args[1].description, "More context");
  pf_config_free(cfg);
}

static void test_everything(void **state) {
  (void)state;
  enter("valid");
  setenv("PF_CFG_TEST_USER", "alice", 1);
  unsetenv("PF_CFG_TEST_UNSET");
  pf_config *cfg = load_ok("everything.yaml");
  const pf_cfg_forge *f = &cfg->forge;
  STR(f->version, "2.1");
  STR(f->title, "Everything Server");
  STR(f->instructions, "Call the tools in order.\n");
  STR(f->icons_json, "[{\"src\":\"https://example.com/icon.png\",\"mimeType\":\"image/png\","
                     "\"sizes\":[\"48x48\",\"96x96\"],\"theme\":\"dark\"},"
                     "{\"src\":\"https://example.com/icon.svg\",\"sizes\":[\"any\"]}]");
  STR(f->website_url, "https://example.com");
  STR(f->transport, "http");
  STR(f->log_level, "notice");
  STR(f->library, "lib/handlers.so");
  STR(f->resources_root, "content");
  assert_int_equal(f->page_size, 25);

  const pf_cfg_state *s = &cfg->state;
  STR(s->backend, "lmdb");
  STR(s->path, "data/state");
  assert_int_equal(s->map_size, 1048576);
  assert_int_equal(s->ttl_seconds, 60);
  assert_int_equal(s->max_size, 4096);
  STR(s->options_json, "{\"cache_capacity\":1048576,\"compression\":true,\"name\":\"x\"}");

  assert_int_equal(cfg->ntools, 8);
  const pf_cfg_tool *t = &cfg->tools[0];
  STR(t->more->title, "Word Count");
  STR(t->build->handler_symbol, "word_count");
  assert_true(t->blocking);
  assert_int_equal(t->timeout_ms, 2000);
  assert_int_equal(t->read_only_hint, 1);
  assert_int_equal(t->destructive_hint, 0);
  assert_int_equal(t->idempotent_hint, 1);
  assert_int_equal(t->open_world_hint, 0);
  STR(t->more->icons_json, "[{\"src\":\"data:image/png;base64,AAAA\",\"mimeType\":\"image/png\"}]");
  STR(t->more->output_schema_json,
      "{\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\"}}}");
  assert_null(t->input_schema_json);
  assert_int_equal(t->build->nparams, 10);
  const pf_cfg_param *p = t->build->params;
  STR(p[0].name, "text");
  assert_true(p[0].required);
  STR(p[1].name, "min_len");
  assert_false(p[1].required);
  STR(p[1].default_json, "1");
  assert_true(p[1].has_min && p[1].has_max);
  assert_true(p[1].min == 0 && p[1].max == 64);
  STR(p[2].pattern, "^[a-z-]+$");
  assert_int_equal(p[2].min_length, 3);
  assert_int_equal(p[2].max_length, 40);
  assert_true(p[3].min == 0.5 && p[3].max == 2.5);
  STR(p[3].default_json, "1.5");
  STR(p[4].enum_json, "[\"fast\",\"slow\"]");
  STR(p[4].default_json, "\"fast\"");
  STR(p[4].description, "How");
  assert_int_equal(p[5].type, PF_PARAM_ARRAY);
  assert_non_null(p[5].items);
  assert_null(p[5].items->name);
  assert_int_equal(p[5].items->type, PF_PARAM_STRING);
  STR(p[5].default_json, "[\"a\",\"b\"]");
  const pf_cfg_param *pt = p[6].items;
  assert_int_equal(pt->type, PF_PARAM_OBJECT);
  assert_int_equal(pt->nproperties, 2);
  STR(pt->properties[0].name, "x");
  assert_int_equal(pt->properties[0].type, PF_PARAM_NUMBER);
  assert_true(pt->properties[0].required);
  assert_false(pt->properties[1].required);
  assert_int_equal(p[7].nproperties, 2);
  STR(p[7].properties[0].default_json, "false");
  STR(p[7].properties[1].enum_json, "[1,2,3]");
  assert_true(p[7].properties[1].has_max && !p[7].properties[1].has_min);
  STR(p[8].default_json, "\"123\"");
  assert_int_equal(p[9].type, PF_PARAM_BOOLEAN);
  assert_true(p[9].required);

  STR(cfg->tools[1].name, "raw.schema-tool");
  STR(cfg->tools[1].input_schema_json,
      "{\"type\":\"object\",\"properties\":{\"z\":{\"type\":\"string\"},\"a\":{\"type\":"
      "\"number\"}},\"required\":[\"z\"]}");
  assert_int_equal(cfg->tools[1].build->nparams, 0);
  STR(cfg->tools[2].input_schema_json,
      "{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"integer\",\"minimum\":1},\"a\":{"
      "\"type\":\"string\"}},\"required\":[\"b\"]}");

  t = &cfg->tools[3];
  assert_int_equal(t->kind, PF_TOOL_CLI);
  STR(t->description, "List files for alice");
  assert_int_equal(t->more->cli->nargs, 4);
  STR(t->more->cli->args[1], "{{path}}");
  STR(t->more->cli->args[2], "10");
  STR(t->more->cli->args[3], "${HOME}");
  STR(t->more->cli->cwd, "/tmp");
  assert_int_equal(t->more->cli->nenv, 2);
  STR(t->more->cli->env[0].key, "LC_ALL");
  STR(t->more->cli->env[0].value, "C");
  STR(t->more->cli->env[1].value, "none");
  STR(t->build->params[0].default_json, "\".\"");

  t = &cfg->tools[4];
  STR(t->more->http->method, "POST");
  STR(t->more->http->auth_type, "apikey");
  STR(t->more->http->auth_key_env, "STATUS_KEY");
  STR(t->more->http->auth_header, "X-Api-Key");
  assert_null(t->more->http->auth_key);
  STR(t->more->http->body_template, "{\"q\": \"{{id}}\"}");
  STR(cfg->tools[5].more->http->auth_type, "bearer");
  STR(cfg->tools[5].more->http->auth_token, "alice");
  STR(cfg->tools[6].more->http->method, "DELETE");
  STR(cfg->tools[6].more->http->auth_username, "u");
  STR(cfg->tools[6].more->http->auth_password_env, "PASS");

  t = &cfg->tools[7];
  assert_int_equal(t->kind, PF_TOOL_PIPELINE);
  assert_int_equal(t->build->nparams, 1);
  assert_int_equal(t->more->nsteps, 3);
  STR(t->more->steps[0].input_json, "{\"id\":\"{{topic}}\"}");
  STR(t->more->steps[0].output_var, "page");
  STR(t->more->steps[1].condition, "page");
  assert_true(t->more->steps[1].continue_on_error);
  assert_null(t->more->steps[2].input_json);
  assert_false(t->more->steps[2].continue_on_error);

  assert_int_equal(cfg->nresources, 4);
  const pf_cfg_resource *r = cfg->resources;
  STR(r[0].name, "readme");
  STR(r[0].title, "Read me");
  STR(r[0].mime_type, "text/markdown");
  STR(r[0].text, "# Hello alice");
  assert_true(r[0].subscribe);
  STR(r[0].icons_json, "[{\"src\":\"https://example.com/r.png\"}]");
  STR(r[1].name, "docs://guide");
  STR(r[1].file, "guide.md");
  STR(r[2].uri_template, "notes://{folder}/{id}");
  STR(r[2].handler_symbol, "read_note");
  assert_false(r[2].subscribe);
  assert_int_equal(r[2].ncompletions, 2);
  STR(r[2].completion_vars[0], "folder");
  STR(r[2].completions[0], "[\"inbox\",\"archive\"]");
  STR(r[2].completions[1], "[\"1\",\"2\"]");
  STR(r[3].uri_template, "files://{name}");
  STR(r[3].file, "files/{name}.txt");
  STR(r[3].mime_type, "text/plain");

  assert_int_equal(cfg->nprompts, 2);
  const pf_cfg_prompt *pr = &cfg->prompts[0];
  STR(pr->template_text, "Summarize {{title}} in {{words}} words");
  STR(pr->title, "Summarize");
  assert_int_equal(pr->nargs, 3);
  assert_true(pr->args[0].required);
  STR(pr->args[0].description, "The title");
  STR(pr->args[1].default_json, "\"50\"");
  assert_int_equal(pr->args[1].type, PF_ARG_STRING);
  STR(pr->args[1].completions_json, "[\"50\",\"100\"]");
  assert_false(pr->args[1].required);
  STR(pr->args[2].name, "style");
  assert_true(pr->args[2].required);
  pr = &cfg->prompts[1];
  assert_null(pr->template_text);
  assert_int_equal(pr->nmessages, 3);
  STR(pr->messages[0].role, "user");
  STR(pr->messages[0].type, "text");
  STR(pr->messages[0].text, "Hello {{name}}");
  STR(pr->messages[1].role, "assistant");
  STR(pr->messages[1].type, "image");
  STR(pr->messages[1].mime_type, "image/png");
  STR(pr->messages[2].type, "resource");
  STR(pr->messages[2].uri, "docs://readme");
  assert_int_equal(pr->nargs, 1);
  STR(pr->args[0].completions_json, "[\"ann\",\"bob\"]");
  pf_config_free(cfg);
}

/* ---- forge.http ---- */

static void test_http(void **state) {
  (void)state;
  enter("valid");
  unsetenv("PF_CFG_TEST_PORT");
  pf_config *cfg = load_ok("http.yaml");
  STR(cfg->forge.transport, "http");
  const pf_cfg_http *h = &cfg->forge.http;
  assert_true(h->present);
  assert_int_equal(h->loc.line, 7);
  assert_int_equal(h->loc.col, 5);
  STR(h->host, "0.0.0.0");
  assert_int_equal(h->port, 8081);
  STR(h->path, "/api/mcp");
  assert_int_equal(h->workers, 4);
  assert_true(h->stateless);
  STR(h->response, "sse");
  assert_int_equal(h->session_ttl_s, 600);
  assert_int_equal(h->max_sessions, 500);
  assert_int_equal(h->max_body, 1048576);
  assert_int_equal(h->max_header, 8192);
  assert_int_equal(h->header_timeout_ms, 5000);
  assert_int_equal(h->idle_timeout_ms, 30000);
  assert_int_equal(h->sse_retry_ms, 2500);
  assert_int_equal(h->sse_buffer, 0);
  assert_int_equal(h->call_timeout_ms, 120000);
  assert_false(h->legacy_sse);
  assert_int_equal(h->nallowed_origins, 3);
  STR(h->allowed_origins[0], "https://app.example.com");
  STR(h->allowed_origins[1], "http://[::1]:8080");
  STR(h->allowed_origins[2], "*");
  assert_int_equal(h->nallowed_hosts, 4);
  STR(h->allowed_hosts[0], "mcp.example.com");
  STR(h->allowed_hosts[1], "mcp.example.com:8443");
  STR(h->allowed_hosts[2], "10.0.0.5:3000");
  STR(h->allowed_hosts[3], "[fd00::1]:3000");
  pf_config_free(cfg);
}

static void check_http_defaults(const pf_cfg_http *h) {
  STR(h->host, "127.0.0.1");
  assert_int_equal(h->port, 3000);
  STR(h->path, "/mcp");
  assert_int_equal(h->workers, 0);
  assert_false(h->stateless);
  STR(h->response, "auto");
  assert_int_equal(h->session_ttl_s, 3600);
  assert_int_equal(h->max_sessions, 10000);
  assert_int_equal(h->max_body, 4 * 1024 * 1024);
  assert_int_equal(h->max_header, 16384);
  assert_int_equal(h->header_timeout_ms, 10000);
  assert_int_equal(h->idle_timeout_ms, 60000);
  assert_int_equal(h->sse_retry_ms, 1000);
  assert_int_equal(h->sse_buffer, 256);
  assert_int_equal(h->call_timeout_ms, 60000);
  assert_true(h->legacy_sse);
  assert_null(h->allowed_origins);
  assert_int_equal(h->nallowed_origins, 0);
  assert_null(h->allowed_hosts);
  assert_int_equal(h->nallowed_hosts, 0);
}

static void test_http_defaults(void **state) {
  (void)state;
  enter("valid");
  pf_config *cfg = load_ok("calculator.yaml"); /* no forge.http */
  assert_false(cfg->forge.http.present);
  check_http_defaults(&cfg->forge.http);
  pf_config_free(cfg);

  /* Written but empty: present, every default; allowed for transport stdio. */
  static const char empty[] = "forge:\n  name: t\n  version: '1'\n  transport: stdio\n  http:\n"
                              "    allowed_origins:\n    allowed_hosts: []\n";
  assert_int_equal(pf_config_load_text("e.yaml", empty, sizeof empty - 1, &cfg, NULL), 0);
  assert_true(cfg->forge.http.present);
  STR(cfg->forge.transport, "stdio");
  check_http_defaults(&cfg->forge.http);
  pf_config_free(cfg);

  /* Port 0 (any free port) and the bounds of every range. */
  static const char edges[] = "forge:\n  name: t\n  version: '1'\n  http:\n    port: 0\n"
                              "    workers: 256\n    max_body: 1024\n    max_header: 1048576\n"
                              "    session_ttl_s: 31536000\n    max_sessions: 10000000\n"
                              "    call_timeout_ms: 86400000\n    sse_buffer: 1000000\n";
  assert_int_equal(pf_config_load_text("x.yaml", edges, sizeof edges - 1, &cfg, NULL), 0);
  const pf_cfg_http *h = &cfg->forge.http;
  assert_int_equal(h->port, 0);
  assert_int_equal(h->workers, 256);
  assert_int_equal(h->max_body, 1024);
  assert_int_equal(h->max_header, 1048576);
  assert_int_equal(h->session_ttl_s, 31536000);
  assert_int_equal(h->max_sessions, 10000000);
  assert_int_equal(h->call_timeout_ms, 86400000);
  assert_int_equal(h->sse_buffer, 1000000);
  STR(h->host, "127.0.0.1"); /* unwritten keys keep their defaults */
  assert_int_equal(h->sse_retry_ms, 1000);
  pf_config_free(cfg);
}

/* `port: ${PORT:-3000}` is a string before expansion, an integer after. */
static void test_http_env(void **state) {
  (void)state;
  static const char text[] = "forge:\n  name: t\n  version: '1'\n  http:\n"
                             "    host: ${PF_CFG_HOST:-::}\n"
                             "    port: ${PF_CFG_PORT:-3000}\n"
                             "    max_body: ${PF_CFG_BODY}\n"
                             "    stateless: ${PF_CFG_STATELESS:-false}\n"
                             "    allowed_origins: [\"${PF_CFG_ORIGIN:-https://a.example}\"]\n";
  unsetenv("PF_CFG_HOST");
  unsetenv("PF_CFG_PORT");
  unsetenv("PF_CFG_ORIGIN");
  setenv("PF_CFG_BODY", "0x100000", 1);
  setenv("PF_CFG_STATELESS", "true", 1);
  pf_config *cfg = NULL;
  pf_buf diag = PF_BUF_INIT;
  int rc = pf_config_load_text("env.yaml", text, sizeof text - 1, &cfg, &diag);
  if (rc)
    fprintf(stderr, "%s", pf_buf_cstr(&diag));
  assert_int_equal(rc, 0);
  STR(cfg->forge.http.host, "::");
  assert_int_equal(cfg->forge.http.port, 3000);
  assert_int_equal(cfg->forge.http.max_body, 1048576);
  assert_true(cfg->forge.http.stateless);
  STR(cfg->forge.http.allowed_origins[0], "https://a.example");
  pf_config_free(cfg);

  setenv("PF_CFG_PORT", "8080", 1);
  setenv("PF_CFG_ORIGIN", "http://localhost:5173", 1);
  rc = pf_config_load_text("env.yaml", text, sizeof text - 1, &cfg, &diag);
  assert_int_equal(rc, 0);
  assert_int_equal(cfg->forge.http.port, 8080);
  STR(cfg->forge.http.allowed_origins[0], "http://localhost:5173");
  pf_config_free(cfg);

  setenv("PF_CFG_PORT", "http", 1);
  setenv("PF_CFG_ORIGIN", "localhost", 1);
  unsetenv("PF_CFG_BODY");
  rc = pf_config_load_text("env.yaml", text, sizeof text - 1, &cfg, &diag);
  assert_int_equal(rc, -PF_ECONFIG);
  STR(pf_buf_cstr(&diag),
      "env.yaml:6:11: forge.http.port: expected an integer, got a string\n"
      "env.yaml:7:15: forge.http.max_body: environment variable 'PF_CFG_BODY' is not set\n"
      "env.yaml:9:23: forge.http.allowed_origins[0]: invalid origin 'localhost' (expected "
      "scheme://host[:port], e.g. https://app.example.com, or *)\n");
  pf_buf_free(&diag);
  unsetenv("PF_CFG_PORT");
  unsetenv("PF_CFG_ORIGIN");
  unsetenv("PF_CFG_STATELESS");
}

/* ---- load_text, paths, env ---- */

static void test_load_text(void **state) {
  (void)state;
  static const char text[] = "forge: {name: t, version: '1', library: libh.so,\n"
                             "        resources_root: /srv/r}\n"
                             "state: {backend: lmdb, path: db}\n";
  pf_config *cfg = NULL;
  assert_int_equal(pf_config_load_text("conf/dir/p.yaml", text, sizeof text - 1, &cfg, NULL), 0);
  STR(cfg->dir, "conf/dir");
  STR(cfg->forge.library, "conf/dir/libh.so");
  STR(cfg->forge.resources_root, "/srv/r");
  STR(cfg->state.path, "conf/dir/db");
  pf_config_free(cfg);

  static const char t2[] = "forge: {name: t, version: '1'}\n";
  assert_int_equal(pf_config_load_text("/p.yaml", t2, sizeof t2 - 1, &cfg, NULL), 0);
  STR(cfg->forge.resources_root, "/");
  pf_config_free(cfg);

  pf_buf diag = PF_BUF_INIT;
  static const char bad[] = "forge: {name: t}\n";
  assert_int_equal(pf_config_load_text(NULL, bad, sizeof bad - 1, &cfg, &diag), -PF_ECONFIG);
  assert_null(cfg);
  STR(pf_buf_cstr(&diag), "<text>:1:9: forge: missing required key 'version'\n");
  pf_buf_free(&diag);
}

static void test_env(void **state) {
  (void)state;
  setenv("PF_CFG_A", "alpha", 1);
  setenv("PF_CFG_EMPTY", "", 1);
  unsetenv("PF_CFG_NOPE");
  setenv("PF_CFG_SIZE", "42", 1);
  static const char text[] = "forge:\n"
                             "  name: \"${PF_CFG_A}-${PF_CFG_NOPE:-beta}\"\n"
                             "  version: \"${PF_CFG_EMPTY:-v1} $${PF_CFG_A} $5 ${PF_CFG_EMPTY}|\"\n"
                             "  page_size: ${PF_CFG_SIZE}\n"
                             "  description: ${PF_CFG_NOPE:-}\n";
  pf_config *cfg = load_text_ok("env.yaml", text, sizeof text - 1);
  STR(cfg->forge.name, "alpha-beta");
  STR(cfg->forge.version, "v1 ${PF_CFG_A} $5 |");
  assert_int_equal(cfg->forge.page_size, 42);
  STR(cfg->forge.description, "");
  pf_config_free(cfg);

  static const char bad[] = "forge:\n"
                            "  name: ${PF_CFG_NOPE}\n"
                            "  version: \"${1X}\"\n"
                            "  title: \"${PF_CFG_A\"\n";
  pf_buf diag = PF_BUF_INIT;
  int rc = pf_config_load_text("env.yaml", bad, sizeof bad - 1, &cfg, &diag);
  assert_int_equal(rc, -PF_ECONFIG);
  STR(pf_buf_cstr(&diag),
      "env.yaml:2:9: forge.name: environment variable 'PF_CFG_NOPE' is not set\n"
      "env.yaml:3:12: forge.version: malformed variable reference (expected ${NAME} or "
      "${NAME:-default}; write $${ for a literal ${)\n"
      "env.yaml:4:10: forge.title: malformed variable reference (expected ${NAME} or "
      "${NAME:-default}; write $${ for a literal ${)\n");
  pf_buf_free(&diag);
}

static void test_unreadable(void **state) {
  (void)state;
  pf_buf diag = PF_BUF_INIT;
  pf_config *cfg = (pf_config *)&diag;
  assert_int_equal(pf_config_load("/nonexistent/pforge.yaml", &cfg, &diag), -PF_EIO);
  assert_null(cfg);
  STR(pf_buf_cstr(&diag), "/nonexistent/pforge.yaml: cannot open: No such file or directory\n");
  pf_buf_free(&diag);
}

/* Every allocation failure is survived and reported as such. */
static void test_out_of_memory(void **state) {
  (void)state;
  enter("valid");
  setenv("PF_CFG_TEST_USER", "alice", 1);
  unsetenv("PF_CFG_TEST_PORT");
  static const char *const files[] = {"everything.yaml", "http.yaml"};
  for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
    const char *file = files[f];
    pf_test_alloc_install();
    int rc = -1;
    long n;
    for (n = 0; n < 100000 && rc != 0; n++) {
      pf_test_alloc.fail_after = n;
      pf_config *cfg = NULL;
      rc = pf_config_load(file, &cfg, NULL);
      assert_true(rc == 0 || rc == -PF_ENOMEM);
      if (rc == 0)
        pf_config_free(cfg);
      else
        assert_null(cfg);
    }
    pf_test_alloc_remove();
    assert_int_equal(rc, 0);
    assert_true(n > 5);
  }
}

/* ---- invalid files: every expected line, exactly ---- */

static const struct {
  const char *file, *expect;
} invalid[] = {
    {"unknown-root.yaml", "unknown-root.yaml:2:1: (root): unknown key 'middleware'\n"},
    {"misspelled-root.yaml",
     "misspelled-root.yaml:2:1: (root): unknown key 'tool' (did you mean 'tools'?)\n"},
    {"unknown-forge-key.yaml", "unknown-forge-key.yaml:4:3: forge: unknown key 'port'\n"},
    {"misspelled-forge-key.yaml",
     "misspelled-forge-key.yaml:4:3: forge: unknown key 'transprot' (did you mean 'transport'?)\n"},
    {"unknown-tool-key.yaml", "unknown-tool-key.yaml:7:5: tools[0]: unknown key 'retries'\n"},
    {"misspelled-param-key.yaml", "misspelled-param-key.yaml:10:9: tools[0].params.a: unknown key "
                                  "'requried' (did you mean 'required'?)\n"},
    {"unknown-validation-key.yaml",
     "unknown-validation-key.yaml:10:22: tools[0].params.a.validation: unknown key 'min_lenght' "
     "(did you mean 'min_length'?)\n"
     "unknown-validation-key.yaml:10:37: tools[0].params.a.validation: unknown key 'format'\n"},
    {"unknown-step-key.yaml", "unknown-step-key.yaml:9:9: tools[1].steps[0]: unknown key "
                              "'ouput_var' (did you mean 'output_var'?)\n"},
    {"unknown-resource-key.yaml", "unknown-resource-key.yaml:5:5: resources[0]: unknown key "
                                  "'mimetype' (did you mean 'mimeType'?)\n"},
    {"unknown-prompt-key.yaml",
     "unknown-prompt-key.yaml:3:5: prompts[0]: a prompt needs 'template' or 'messages'\n"
     "unknown-prompt-key.yaml:4:5: prompts[0]: unknown key 'templte' (did you mean 'template'?)\n"},
    {"unknown-state-key.yaml",
     "unknown-state-key.yaml:2:26: state: unknown key 'ttl' (did you mean 'ttl_seconds'?)\n"},
    {"wrong-kind-key.yaml", "wrong-kind-key.yaml:7:5: tools[0]: key 'command' does not apply to a "
                            "native tool (it belongs to cli tools)\n"},
    {"wrong-type-name.yaml",
     "wrong-type-name.yaml:2:10: forge.name: expected a string, got a list\n"},
    {"wrong-type-bool.yaml", "wrong-type-bool.yaml:3:63: tools[0].stream: expected a boolean (true "
                             "or false), got a string\n"},
    {"prompt-arg-default-type.yaml",
     "prompt-arg-default-type.yaml:6:37: prompts[0].arguments.steps.default: the default of an "
     "array argument must be a JSON array\n"
     "prompt-arg-default-type.yaml:7:39: prompts[0].arguments.count.default: the default of an "
     "integer argument must be an integer\n"
     "prompt-arg-default-type.yaml:9:38: prompts[0].arguments.flag.default: the default of a "
     "boolean argument must be a boolean (true or false)\n"},
    {"wrong-type-int.yaml",
     "wrong-type-int.yaml:1:43: forge.page_size: expected an integer, got a string\n"},
    {"wrong-type-tools.yaml", "wrong-type-tools.yaml:3:3: tools: expected a list, got a map\n"},
    {"wrong-type-args.yaml",
     "wrong-type-args.yaml:3:61: tools[0].args: expected a list, got a string\n"},
    {"missing-forge.yaml", "missing-forge.yaml:1:1: (root): missing required key 'forge'\n"},
    {"missing-name-version.yaml",
     "missing-name-version.yaml:2:3: forge: missing required key 'name'\n"
     "missing-name-version.yaml:2:3: forge: missing required key 'version'\n"},
    {"missing-description.yaml",
     "missing-description.yaml:3:5: tools[0]: missing required key 'description'\n"},
    {"missing-handler.yaml",
     "missing-handler.yaml:3:5: tools[0]: missing required key 'handler'\n"},
    {"missing-type.yaml", "missing-type.yaml:3:5: tools[0]: missing required key 'type'\n"},
    {"async-and-blocking.yaml",
     "async-and-blocking.yaml:8:12: tools[0].async: async: true and blocking: true exclude each "
     "other (an async tool runs on the event loop and waits for the client without holding a "
     "thread)\n"},
    {"bad-transport.yaml",
     "bad-transport.yaml:1:43: forge.transport: invalid value 'stdoi' (did you mean 'stdio'?); "
     "expected one of: stdio, http, sse, websocket\n"},
    {"bad-tool-type.yaml", "bad-tool-type.yaml:3:12: tools[0].type: invalid value 'bridge'; "
                           "expected one of: native, cli, http, pipeline\n"},
    {"env-tool-type.yaml",
     "env-tool-type.yaml:3:12: tools[0].type: the tool type must be written literally (native, "
     "cli, http or pipeline); ${...} is not expanded in 'type'\n"},
    {"bad-method.yaml",
     "bad-method.yaml:3:78: tools[0].method: invalid value 'FETCH' (did you mean 'PATCH'?); "
     "expected one of: GET, POST, PUT, DELETE, PATCH\n"},
    {"bad-param-type.yaml",
     "bad-param-type.yaml:8:10: tools[0].params.a: invalid value 'strng' (did you mean "
     "'string'?); expected one of: string, integer, number, float, boolean, array, object\n"
     "bad-param-type.yaml:9:17: tools[0].params.b.type: invalid value 'double'; expected one of: "
     "string, integer, number, float, boolean, array, object\n"},
    {"bad-backend.yaml", "bad-backend.yaml:2:18: state.backend: invalid value 'postgres'; "
                         "expected one of: memory, lmdb, redis, sled\n"},
    {"bad-log-level.yaml",
     "bad-log-level.yaml:1:43: forge.log_level: invalid value 'verbose'; expected one of: debug, "
     "info, notice, warning, error, critical, alert, emergency\n"},
    {"bad-supports.yaml", "bad-supports.yaml:3:50: resources[0].supports[1]: invalid value "
                          "'delete'; expected one of: read, write, subscribe\n"},
    {"duplicate-tool.yaml", "duplicate-tool.yaml:5:23: tools[2].name: duplicate tool name 'ls' "
                            "(first defined at line 3)\n"},
    {"duplicate-prompt.yaml", "duplicate-prompt.yaml:4:12: prompts[1].name: duplicate prompt name "
                              "'p' (first defined at line 3)\n"},
    {"duplicate-resource.yaml", "duplicate-resource.yaml:4:11: resources[1]: duplicate resource "
                                "name 'docs://a' (first defined at line 3)\n"},
    {"bad-tool-name.yaml", "bad-tool-name.yaml:3:23: tools[0].name: invalid tool name 'list "
                           "files' (use 1 to 64 of A-Z a-z 0-9 _ . -)\n"},
    {"default-wrong-type.yaml",
     "default-wrong-type.yaml:8:35: tools[0].params.n.default: default is a string, but the "
     "param's type is integer\n"
     "default-wrong-type.yaml:9:35: tools[0].params.e.enum[1]: enum value is an integer, but the "
     "param's type is string\n"},
    {"min-greater-than-max.yaml",
     "min-greater-than-max.yaml:8:53: tools[0].params.n.validation.max: max (5) is less than min "
     "(10)\n"
     "min-greater-than-max.yaml:9:51: tools[0].params.s.maxLength: maxLength (2) is less than "
     "min_length (4)\n"
     "min-greater-than-max.yaml:9:63: tools[0].params.s.pattern: pattern must not be empty\n"},
    {"input-schema-bad-json.yaml",
     "input-schema-bad-json.yaml:7:19: tools[0].input_schema: invalid JSON at 1:33 of the text: "
     "expected ':' after object key\n"},
    {"params-and-input-schema.yaml", "params-and-input-schema.yaml:8:5: tools[0]: give either "
                                     "'params' or 'input_schema', not both\n"},
    {"unset-env.yaml", "unset-env.yaml:4:16: forge.description: environment variable "
                       "'PF_CFG_TEST_UNSET' is not set\n"},
    {"yaml-syntax.yaml", "yaml-syntax.yaml:2:9: (yaml): wrongly indented double-quoted scalar\n"},
    {"tabs.yaml", "tabs.yaml:2:1: (yaml): tab character may not be used as indentation\n"},
    {"indentation.yaml", "indentation.yaml:3:2: (yaml): invalid indentation in mapping\n"},
    {"duplicate-key.yaml", "duplicate-key.yaml:2:1: (yaml): duplicate key\n"},
    /* libfyaml loops forever on this one (a directive with bad bytes) */
    {"not-utf8.yaml", "not-utf8.yaml:2:13: (yaml): invalid UTF-8 (a YAML file must be UTF-8 "
                      "text)\n"},
    /* resolved, it would be 10^9 nodes: refused before libfyaml resolves it */
    {"alias-bomb.yaml",
     "alias-bomb.yaml:1:1: (yaml): aliases expand this document to more than 1000000 nodes\n"},
    {"multiple-documents.yaml", "multiple-documents.yaml:3:1: (yaml): only one YAML document is "
                                "allowed ('---' starts another)\n"},
    {"empty.yaml",
     "empty.yaml:1:1: (root): the file is empty (expected a map with a 'forge' key)\n"},
    {"comment-only.yaml",
     "comment-only.yaml:1:1: (root): the file is empty (expected a map with a 'forge' key)\n"},
    {"top-level-list.yaml", "top-level-list.yaml:1:3: (root): expected a map with a 'forge' key "
                            "at the top, got a list\n"},
    {"multiple-problems.yaml",
     "multiple-problems.yaml:2:3: forge: missing required key 'version'\n"
     "multiple-problems.yaml:3:3: forge: unknown key 'verison' (did you mean 'version'?)\n"
     "multiple-problems.yaml:8:21: tools[0].handler.path: handler symbol 'bad-name' is not a C "
     "identifier (path 'handlers::bad-name')\n"
     "multiple-problems.yaml:13:17: tools[1].timeout_ms: -5 is out of range (1..2147483647)\n"
     "multiple-problems.yaml:18:16: tools[2].steps[0].tool: unknown tool 'nowhere'\n"
     "multiple-problems.yaml:18:39: tools[2].steps[0].error_policy: invalid value 'ignore'; "
     "expected one of: fail_fast, continue\n"
     "multiple-problems.yaml:22:5: prompts[0]: give either 'template' or 'messages', not both\n"},
    {"resource-both-uris.yaml",
     "resource-both-uris.yaml:3:23: resources[0]: give either 'uri' or 'uri_template', not both\n"
     "resource-both-uris.yaml:3:51: resources[0]: 'text' needs a fixed 'uri'; a template takes "
     "'file' or 'handler'\n"
     "resource-both-uris.yaml:4:6: resources[1]: missing required key 'uri' (or 'uri_template')\n"
     "resource-both-uris.yaml:5:34: resources[2]: 'text' needs a fixed 'uri'; a template takes "
     "'file' or 'handler'\n"},
    {"bad-auth.yaml",
     "bad-auth.yaml:7:12: tools[0].auth: missing required key 'password' (or 'password_env')\n"
     "bad-auth.yaml:7:12: tools[0].auth: missing required key 'username'\n"
     "bad-auth.yaml:7:25: tools[0].auth: key 'token' does not apply to auth type 'basic'\n"},
    {"prompt-bad-message.yaml",
     "prompt-bad-message.yaml:5:16: prompts[0].messages[0].role: invalid value 'system'; expected "
     "one of: user, assistant\n"
     "prompt-bad-message.yaml:6:10: prompts[0].messages[1]: a message needs exactly one of "
     "'text', 'image' and 'resource'\n"},
    {"http-unknown-key.yaml",
     "http-unknown-key.yaml:6:5: forge.http: unknown key 'prot' (did you mean 'port'?)\n"},
    {"http-not-map.yaml", "http-not-map.yaml:4:9: forge.http: expected a map, got an integer\n"},
    {"http-port-range.yaml",
     "http-port-range.yaml:4:33: forge.http.port: 70000 is out of range (0..65535)\n"},
    {"http-path-slash.yaml",
     "http-path-slash.yaml:5:11: forge.http.path: path 'mcp' must start with '/' (e.g. /mcp)\n"},
    {"http-path-query.yaml", "http-path-query.yaml:5:11: forge.http.path: path '/mcp?x=1' must "
                             "not contain '?', '#', spaces or control characters\n"},
    {"http-bad-response.yaml",
     "http-bad-response.yaml:5:15: forge.http.response: invalid value 'jsno' (did you mean "
     "'json'?); expected one of: auto, json, sse\n"},
    {"http-origins-not-list.yaml", "http-origins-not-list.yaml:5:22: forge.http.allowed_origins: "
                                   "expected a list, got a string\n"},
    {"http-bad-origin.yaml",
     "http-bad-origin.yaml:7:9: forge.http.allowed_origins[1]: invalid origin 'app.example.com' "
     "(expected scheme://host[:port], e.g. https://app.example.com, or *)\n"
     "http-bad-origin.yaml:8:9: forge.http.allowed_origins[2]: invalid origin "
     "'https://app.example.com/' (expected scheme://host[:port], e.g. https://app.example.com, "
     "or *)\n"
     "http-bad-origin.yaml:9:10: forge.http.allowed_origins[3]: expected a string, got a map\n"
     "http-bad-origin.yaml:10:9: forge.http.allowed_origins[4]: invalid origin "
     "'https://app.example.com:99999' (expected scheme://host[:port], e.g. "
     "https://app.example.com, or *)\n"},
    {"http-bad-host.yaml",
     "http-bad-host.yaml:5:34: forge.http.allowed_hosts[1]: invalid host 'http://example.com' "
     "(expected host[:port], e.g. mcp.example.com:8443, or *)\n"
     "http-bad-host.yaml:5:56: forge.http.allowed_hosts[2]: invalid host 'bad host' (expected "
     "host[:port], e.g. mcp.example.com:8443, or *)\n"
     "http-bad-host.yaml:5:68: forge.http.allowed_hosts[3]: invalid host 'example.com:0' "
     "(expected host[:port], e.g. mcp.example.com:8443, or *)\n"
     "http-bad-host.yaml:5:85: forge.http.allowed_hosts[4]: invalid host '[::1' (expected "
     "host[:port], e.g. mcp.example.com:8443, or *)\n"},
    {"http-max-body.yaml",
     "http-max-body.yaml:5:15: forge.http.max_body: 512 is out of range (1024..1073741824)\n"},
    {"http-workers-string.yaml",
     "http-workers-string.yaml:5:14: forge.http.workers: expected an integer, got a string\n"},
    {"http-multiple-problems.yaml",
     "http-multiple-problems.yaml:5:11: forge.http.host: host must not be empty\n"
     "http-multiple-problems.yaml:6:14: forge.http.workers: 300 is out of range (0..256)\n"
     "http-multiple-problems.yaml:7:16: forge.http.stateless: expected a boolean (true or false), "
     "got a string\n"
     "http-multiple-problems.yaml:8:20: forge.http.session_ttl_s: 0 is out of range "
     "(1..31536000)\n"
     "http-multiple-problems.yaml:9:19: forge.http.max_sessions: 0 is out of range "
     "(1..10000000)\n"
     "http-multiple-problems.yaml:10:17: forge.http.max_header: 2097152 is out of range "
     "(1024..1048576)\n"
     "http-multiple-problems.yaml:11:24: forge.http.header_timeout_ms: 86400001 is out of range "
     "(1..86400000)\n"
     "http-multiple-problems.yaml:12:22: forge.http.idle_timeout_ms: 0 is out of range "
     "(1..86400000)\n"
     "http-multiple-problems.yaml:13:19: forge.http.sse_retry_ms: -1 is out of range "
     "(1..86400000)\n"
     "http-multiple-problems.yaml:14:17: forge.http.sse_buffer: 1000001 is out of range "
     "(0..1000000)\n"
     "http-multiple-problems.yaml:15:22: forge.http.call_timeout_ms: expected an integer, got a "
     "number\n"
     "http-multiple-problems.yaml:16:17: forge.http.legacy_sse: expected a boolean (true or "
     "false), got an integer\n"
     "http-multiple-problems.yaml:17:11: forge.http.port: expected an integer, got a string\n"},
};

static void test_invalid(void **state) {
  (void)state;
  enter("invalid");
  unsetenv("PF_CFG_TEST_UNSET");
  size_t failed = 0;
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    pf_buf diag = PF_BUF_INIT;
    pf_config *cfg = NULL;
    int rc = pf_config_load(invalid[i].file, &cfg, &diag);
    const char *got = pf_buf_cstr(&diag);
    /* Report every mismatch before failing. */
    if (rc != -PF_ECONFIG || cfg || strcmp(got, invalid[i].expect) != 0) {
      fprintf(stderr, "%s: rc %d\nexpected:\n%sgot:\n%s", invalid[i].file, rc, invalid[i].expect,
              got);
      failed++;
    }
    pf_buf_free(&diag);
  }
  assert_int_equal(failed, 0);
}

/* http tool keys: query, max_response_bytes, follow_redirects, max_redirects. */
static void test_http_tool_keys(void **state) {
  (void)state;
  static const char text[] =
      "forge: {name: t, version: '1'}\ntools:\n"
      "  - {type: http, name: a, description: d, endpoint: 'http://h/'}\n"
      "  - type: http\n    name: b\n    description: d\n    endpoint: http://h/{{x}}\n"
      "    query: {q: '{{x}}', n: 5}\n    max_response_bytes: 1\n"
      "    follow_redirects: false\n    max_redirects: 0\n";
  pf_config *cfg;
  pf_buf diag = PF_BUF_INIT;
  assert_int_equal(pf_config_load_text("h.yaml", text, sizeof text - 1, &cfg, &diag), 0);
  const pf_cfg_tool *t = &cfg->tools[0];
  assert_int_equal(t->more->http->nquery, 0);
  assert_int_equal(t->more->http->max_response_bytes, 10 * 1024 * 1024);
  assert_true(t->more->http->follow_redirects);
  assert_int_equal(t->more->http->max_redirects, 5);
  t = &cfg->tools[1];
  assert_int_equal(t->more->http->nquery, 2);
  STR(t->more->http->query[0].key, "q");
  STR(t->more->http->query[0].value, "{{x}}");
  STR(t->more->http->query[1].value, "5");
  assert_int_equal(t->more->http->max_response_bytes, 1);
  assert_false(t->more->http->follow_redirects);
  assert_int_equal(t->more->http->max_redirects, 0);
  pf_config_free(cfg);

  static const char bad[] = "forge: {name: t, version: '1'}\ntools:\n"
                            "  - type: http\n    name: b\n    description: d\n"
                            "    endpoint: http://h/\n    query: [a]\n    max_response_bytes: 0\n"
                            "    max_redirects: 101\n";
  assert_int_equal(pf_config_load_text("h.yaml", bad, sizeof bad - 1, &cfg, &diag), -PF_ECONFIG);
  const char *d = pf_buf_cstr(&diag);
  assert_non_null(strstr(d, "h.yaml:7:13: tools[0].query: expected a map"));
  assert_non_null(strstr(d, "h.yaml:8:25: tools[0].max_response_bytes: 0 is out of range"));
  assert_non_null(strstr(d, "h.yaml:9:20: tools[0].max_redirects: 101 is out of range (0..100)"));
  pf_buf_free(&diag);
}

/* Every file in invalid/ has an entry in the table. */
static void test_invalid_table_complete(void **state) {
  (void)state;
  enter("invalid");
  FILE *ls = popen("ls", "r");
  assert_non_null(ls);
  char line[256];
  size_t files = 0;
  while (fgets(line, sizeof line, ls)) {
    line[strcspn(line, "\n")] = '\0';
    bool found = false;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0] && !found; i++)
      found = strcmp(invalid[i].file, line) == 0;
    if (!found)
      fprintf(stderr, "no expectation for %s\n", line);
    assert_true(found);
    files++;
  }
  pclose(ls);
  assert_int_equal(files, sizeof invalid / sizeof invalid[0]);
  assert_true(files >= 35);
}

/* Resilience policies: a tool without keys of its own shares the config's
 * inherited policy (forge.defaults); one with keys gets its own, those
 * groups over the defaults. */
static void test_policy_shared(void **state) {
  (void)state;
  static const char text[] =
      "forge:\n  name: t\n  version: '1'\n  defaults:\n    timeout_ms: 20s\n"
      "    retry: {max_attempts: 4}\n"
      "tools:\n"
      "  - {type: native, name: a, description: A, handler: {path: x}}\n"
      "  - {type: native, name: b, description: B, handler: {path: x}}\n"
      "  - {type: native, name: c, description: C, handler: {path: x}, timeout_ms: 5s}\n"
      "  - {type: native, name: d, description: D, handler: {path: x}, max_concurrent: 3}\n";
  pf_config *cfg = load_text_ok("p.yaml", text, sizeof text - 1);
  const pf_cfg_policy *shared = &cfg->inherited_policy;
  assert_ptr_equal(cfg->tools[0].policy, shared);
  assert_ptr_equal(cfg->tools[1].policy, shared);
  assert_int_equal(shared->timeout_ms, 20000);
  assert_int_equal(shared->retry_max_attempts, 4);
  assert_false(shared->has_timeout || shared->has_retry || shared->has_cb || shared->has_bulkhead);
  assert_int_equal(cfg->tools[0].timeout_ms, 20000);
  const pf_cfg_policy *c = cfg->tools[2].policy, *d = cfg->tools[3].policy;
  assert_true(c != shared && d != shared && c != d);
  assert_int_equal(c->timeout_ms, 5000);
  assert_true(c->has_timeout);
  assert_int_equal(c->retry_max_attempts, 4); /* inherited */
  assert_int_equal(cfg->tools[2].timeout_ms, 5000);
  assert_int_equal(d->max_concurrent, 3);
  assert_true(d->has_bulkhead);
  assert_int_equal(d->timeout_ms, 20000);
  assert_int_equal(shared->max_concurrent, 0); /* d's keys stay d's */
  pf_config_free(cfg);
}

/* state: the defaults the loader fills per backend. */
static void test_state_defaults(void **state) {
  (void)state;
  pf_config *cfg;
  static const char lmdb[] = "forge: {name: t, version: '1'}\nstate: {backend: sled}\n";
  assert_int_equal(pf_config_load_text("d/s.yaml", lmdb, sizeof lmdb - 1, &cfg, NULL), 0);
  STR(cfg->state.backend, "lmdb");
  STR(cfg->state.path, "d/pforge-state");
  assert_true(cfg->state.map_size == PF_STATE_DEFAULT_MAP_SIZE);
  assert_null(cfg->state.url);
  pf_config_free(cfg);
  static const char redis[] = "forge: {name: t, version: '1'}\nstate: {backend: redis}\n";
  assert_int_equal(pf_config_load_text("s.yaml", redis, sizeof redis - 1, &cfg, NULL), 0);
  STR(cfg->state.url, "redis://127.0.0.1:6379/0");
  assert_null(cfg->state.path);
  assert_int_equal(cfg->state.map_size, 0);
  pf_config_free(cfg);
  static const char none[] = "forge: {name: t, version: '1'}\n";
  assert_int_equal(pf_config_load_text("s.yaml", none, sizeof none - 1, &cfg, NULL), 0);
  assert_false(cfg->state.present);
  assert_null(cfg->state.backend); /* the server then uses memory */
  pf_config_free(cfg);
}

/* forge.http.body_timeout_ms and shutdown_timeout_ms: defaults, values, range. */
static void test_http_timeouts(void **state) {
  (void)state;
  static const char none[] = "forge: {name: t, version: '1'}\n";
  pf_config *cfg = load_text_ok("t.yaml", none, sizeof none - 1);
  assert_int_equal(cfg->forge.http.body_timeout_ms, 30000);
  assert_int_equal(cfg->forge.http.shutdown_timeout_ms, 10000);
  pf_config_free(cfg);
  static const char set[] = "forge:\n  name: t\n  version: '1'\n  http:\n"
                            "    body_timeout_ms: 400\n    shutdown_timeout_ms: 86400000\n";
  cfg = load_text_ok("t.yaml", set, sizeof set - 1);
  assert_int_equal(cfg->forge.http.body_timeout_ms, 400);
  assert_int_equal(cfg->forge.http.shutdown_timeout_ms, 86400000);
  pf_config_free(cfg);
  static const char bad[] = "forge:\n  name: t\n  version: '1'\n  http:\n"
                            "    body_timeout_ms: 0\n    shutdown_timeout_ms: 86400001\n";
  pf_buf diag = PF_BUF_INIT;
  cfg = NULL;
  assert_int_not_equal(pf_config_load_text("t.yaml", bad, sizeof bad - 1, &cfg, &diag), 0);
  const char *d = pf_buf_cstr(&diag);
  assert_non_null(strstr(d, "t.yaml:5:22: forge.http.body_timeout_ms: 0 is out of range"));
  assert_non_null(
      strstr(d, "t.yaml:6:26: forge.http.shutdown_timeout_ms: 86400001 is out of range"));
  pf_buf_free(&diag);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calculator), cmocka_unit_test(test_hello_world),
      cmocka_unit_test(test_production), cmocka_unit_test(test_everything),
      cmocka_unit_test(test_load_text),  cmocka_unit_test(test_env),
      cmocka_unit_test(test_unreadable), cmocka_unit_test(test_out_of_memory),
      cmocka_unit_test(test_invalid),    cmocka_unit_test(test_invalid_table_complete),
      cmocka_unit_test(test_http),       cmocka_unit_test(test_http_defaults),
      cmocka_unit_test(test_http_env),   cmocka_unit_test(test_state_defaults),
      cmocka_unit_test(test_policy_shared),
      cmocka_unit_test(test_http_tool_keys),
      cmocka_unit_test(test_http_timeouts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

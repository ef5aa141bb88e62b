/* pforge serve: load, build and serve a pforge.yaml. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/serve.h"
#include "config/config.h"
#include "mcp/mcp.h"
#include "transport/transport.h"

static const char usage[] =
    "usage: pforge serve [FILE] [options]\n"
    "\n"
    "Serves the MCP server described by FILE (default: pforge.yaml) on stdio.\n"
    "\n"
    "options:\n"
    "  --stdio                 serve on stdin/stdout (the default)\n"
    "  --log-level LEVEL       stderr log level: debug, info, warn, error, off\n"
    "  --max-message BYTES     largest accepted message (default 16777216)\n"
    "  -h, --help              show this help\n";

int pf__cli_serve(int argc, char **argv) {
  const char *file = NULL, *level = NULL;
  size_t max_message = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(a, "--stdio") == 0) {
      /* the default */
    } else if (strcmp(a, "--log-level") == 0 && i + 1 < argc) {
      level = argv[++i];
    } else if (strcmp(a, "--max-message") == 0 && i + 1 < argc) {
      char *end;
      unsigned long long v = strtoull(argv[++i], &end, 10);
      if (*end || v < 64) {
        fprintf(stderr, "pforge serve: --max-message needs a number of bytes >= 64\n");
        return 2;
      }
      max_message = (size_t)v;
    } else if (a[0] == '-') {
      fprintf(stderr, "pforge serve: unknown option '%s'\n\n%s", a, usage);
      return 2;
    } else if (!file) {
      file = a;
    } else {
      fprintf(stderr, "pforge serve: more than one file given\n\n%s", usage);
      return 2;
    }
  }
  if (!file)
    file = "pforge.yaml";
  pf_buf diag = PF_BUF_INIT;
  pf_config *cfg = NULL;
  int rc = pf_config_load(file, &cfg, &diag);
  if (rc != 0) {
    fputs(pf_buf_cstr(&diag), stderr);
    if (!diag.len)
      fprintf(stderr, "pforge: %s: %s\n", file, pf_strerror(rc));
    pf_buf_free(&diag);
    return 1;
  }
  if (level || cfg->forge.log_level) {
    const char *l = level ? level : cfg->forge.log_level;
    int lv = pf__log_parse_level(l);
    if (lv < 0 && !level) {
      /* MCP level names: map to the nearest stderr level */
      lv = strcmp(l, "notice") == 0 ? PF_LOG_INFO : PF_LOG_ERROR;
    }
    if (lv < 0) {
      fprintf(stderr, "pforge serve: unknown log level '%s'\n", l);
      pf_config_free(cfg);
      return 2;
    }
    pf__log_set_level((pf_log_level)lv);
  }
  if (cfg->forge.transport && strcmp(cfg->forge.transport, "stdio") != 0) {
    fprintf(stderr,
            "pforge: %s: forge.transport '%s' is not available in this build; only stdio is "
            "(Streamable HTTP is the next milestone)\n",
            file, cfg->forge.transport);
    pf_config_free(cfg);
    return 1;
  }
  pf_server *srv;
  rc = pf__server_create(cfg, &srv, &diag);
  if (rc != 0) {
    fputs(pf_buf_cstr(&diag), stderr);
    if (!diag.len)
      fprintf(stderr, "pforge: %s: %s\n", file, pf_strerror(rc));
    pf_buf_free(&diag);
    return 1;
  }
  pf_buf_free(&diag);
  /* Loading peaks far above what serving needs (the YAML document is
   * freed by now): give those pages back to the system. */
  malloc_trim(0);
  if (max_message)
    srv->max_message = max_message;
  pf_info("serving %s (%zu tools, %zu resources, %zu prompts) on stdio", file, srv->ntools,
          srv->nresources, srv->nprompts);
  rc = pf__serve_stdio(srv);
  pf__server_destroy(srv);
  return rc;
}

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
    "Serves the MCP server described by FILE (default: pforge.yaml) on stdio, or on\n"
    "Streamable HTTP with --http or `forge.transport: http`.\n"
    "\n"
    "options:\n"
    "  --stdio                 serve on stdin/stdout (the default)\n"
    "  --http [HOST:]PORT      serve Streamable HTTP at http://HOST:PORT/mcp\n"
    "                          (HOST defaults to forge.http.host, 127.0.0.1; PORT 0 picks one)\n"
    "  --workers N             HTTP worker threads (default: forge.http.workers, one per CPU)\n"
    "  --stateless             HTTP without sessions\n"
    "  --response MODE         HTTP replies: auto, json or sse (default forge.http.response)\n"
    "  --json-response         the same as --response json\n"
    "  --log-level LEVEL       stderr log level: debug, info, warn, error, off\n"
    "  --max-message BYTES     largest accepted message (default 16777216)\n"
    "  -h, --help              show this help\n";

int pf__cli_serve(int argc, char **argv) {
  const char *file = NULL, *level = NULL, *http = NULL, *response = NULL;
  size_t max_message = 0;
  long workers = -1;
  bool stdio_flag = false, stateless = false;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(a, "--stdio") == 0) {
      stdio_flag = true;
    } else if (strcmp(a, "--http") == 0 && i + 1 < argc) {
      http = argv[++i];
    } else if (strcmp(a, "--workers") == 0 && i + 1 < argc) {
      char *end;
      workers = strtol(argv[++i], &end, 10);
      if (*end || workers < 0 || workers > 256) {
        fprintf(stderr, "pforge serve: --workers needs a number from 0 to 256\n");
        return 2;
      }
    } else if (strcmp(a, "--stateless") == 0) {
      stateless = true;
    } else if (strcmp(a, "--json-response") == 0) {
      response = "json";
    } else if (strcmp(a, "--response") == 0 && i + 1 < argc) {
      response = argv[++i];
      if (strcmp(response, "auto") && strcmp(response, "json") && strcmp(response, "sse")) {
        fprintf(stderr, "pforge serve: --response must be auto, json or sse\n");
        return 2;
      }
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
  if (http && stdio_flag) {
    fprintf(stderr, "pforge serve: --http and --stdio exclude each other\n");
    pf_config_free(cfg);
    return 2;
  }
  bool use_http =
      http || (!stdio_flag && cfg->forge.transport && strcmp(cfg->forge.transport, "http") == 0);
  if (!use_http && !stdio_flag && cfg->forge.transport &&
      strcmp(cfg->forge.transport, "stdio") != 0) {
    fprintf(stderr,
            "pforge: %s: forge.transport '%s' is not available in this build (stdio and http "
            "are; the legacy HTTP+SSE transport is served beside http at GET /sse)\n",
            file, cfg->forge.transport);
    pf_config_free(cfg);
    return 1;
  }
  pf_cfg_http hc = cfg->forge.http;
  if (http) {
    const char *colon = strrchr(http, ':');
    const char *port = colon ? colon + 1 : http;
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || p > 65535) {
      fprintf(stderr, "pforge serve: --http needs [HOST:]PORT, e.g. 127.0.0.1:3000\n");
      pf_config_free(cfg);
      return 2;
    }
    hc.port = (uint32_t)p;
    if (colon && colon > http) {
      size_t hl = (size_t)(colon - http);
      if (http[0] == '[' && http[hl - 1] == ']') { /* [::1]:3000 */
        http++;
        hl -= 2;
      }
      char *host = pf_arena_strndup(cfg->arena, http, hl);
      if (host)
        hc.host = host;
    }
  }
  if (workers >= 0)
    hc.workers = (uint32_t)workers;
  if (stateless)
    hc.stateless = true;
  if (response)
    hc.response = response;
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
  pf_info("serving %s (%zu tools, %zu resources, %zu prompts) on %s", file, srv->ntools,
          srv->nresources, srv->nprompts, use_http ? "HTTP" : "stdio");
  rc = use_http ? pf__serve_http(srv, &hc) : pf__serve_stdio(srv);
  pf__server_destroy(srv);
  return rc;
}

/* pforge validate: the dry run of loading a config. */
#include "cli/cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <pforge/buf.h>
#include <pforge/error.h>

#include "config/config.h"
#include "mcp/mcp.h"

static const char validate_usage[] =
    "usage: pforge validate [--load] [FILE]\n"
    "\n"
    "Checks FILE (default pforge.yaml) and prints every problem to stderr as\n"
    "FILE:LINE:COL: KEY.PATH: message, including what serving it would find\n"
    "(templates, schemas, pipelines). Exits 0 when the file is valid, 1 when\n"
    "it has problems, 2 for a usage error or an unreadable file.\n"
    "\n"
    "  --load  also what depends on this machine, as serve checks it: load\n"
    "          forge.library (and its ABI), resolve every native handler,\n"
    "          find the files of file resources (the state store is not\n"
    "          opened)\n";

int pf__cli_validate(int argc, char **argv) {
  const char *file = NULL;
  bool load = false;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(validate_usage, stdout);
      return 0;
    }
    if (strcmp(a, "--load") == 0) {
      load = true;
      continue;
    }
    if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "pforge validate: unknown option '%s'\n\n%s", a, validate_usage);
      return 2;
    }
    if (file) {
      fprintf(stderr, "pforge validate: one file at a time\n\n%s", validate_usage);
      return 2;
    }
    file = a;
  }
  if (!file)
    file = "pforge.yaml";

  pf_buf diag = PF_BUF_INIT;
  pf_config *cfg = NULL;
  int rc = pf_config_load(file, &cfg, &diag);
  if (diag.len)
    fwrite(diag.data, 1, diag.len, stderr);
  pf_buf_free(&diag);
  if (rc == -PF_EIO)
    return 2;
  if (rc != 0) {
    if (rc != -PF_ECONFIG)
      fprintf(stderr, "%s: %s\n", file, pf_strerror(rc));
    return 1;
  }
  /* What serve would find next: handlers, templates, schemas, pipelines. */
  size_t nt = cfg->ntools, nr = cfg->nresources, np = cfg->nprompts;
  pf_server *srv = NULL;
  cfg->no_handlers = !load;
  cfg->no_store = true;
  rc = pf__server_create(cfg, &srv, &diag); /* takes cfg */
  if (diag.len)
    fwrite(diag.data, 1, diag.len, stderr);
  pf_buf_free(&diag);
  if (rc != 0) {
    if (rc != -PF_ECONFIG)
      fprintf(stderr, "%s: %s\n", file, pf_strerror(rc));
    return 1;
  }
  pf__server_destroy(srv);
  printf("%s: ok (%zu tools, %zu resources, %zu prompts)\n", file, nt, nr, np);
  return 0;
}

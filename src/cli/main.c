/* The `pforge` command. */
#include <stdio.h>
#include <string.h>

#include <pforge/version.h>

#include "cli/cli.h"
#include "cli/serve.h"

static const char usage[] =
    "usage: pforge <command> [options]\n"
    "\n"
    "Build Model Context Protocol servers from a pforge.yaml.\n"
    "\n"
    "commands:\n"
    "  serve [FILE]      serve FILE (default pforge.yaml) over stdio; serve --help\n"
    "  validate [FILE]   check FILE (default pforge.yaml) and print every problem\n"
    "\n"
    "options:\n"
    "  -h, --help        show this help and exit\n"
    "  -V, --version     print the version and exit\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("pforge %s\n", pf_version());
    return 0;
  }
  if (strcmp(cmd, "validate") == 0)
    return pf__cli_validate(argc, argv);
  if (strcmp(cmd, "serve") == 0)
    return pf__cli_serve(argc, argv);
  fprintf(stderr, "pforge: unknown command '%s'\n\n%s", cmd, usage);
  return 2;
}

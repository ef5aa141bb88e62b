/* The `pforge` subcommands. Each takes main()'s argc/argv (argv[1] is the
 * subcommand's name) and returns the process exit status. */
#ifndef PF_CLI_CLI_H
#define PF_CLI_CLI_H

/* pforge validate [FILE]: loads FILE (default pforge.yaml) and prints every
 * problem to stderr, one per line; 0 when valid (with a summary on stdout),
 * 1 when not, 2 for a usage error or an unreadable file. */
int pf__cli_validate(int argc, char **argv);

#endif

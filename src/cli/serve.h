#ifndef PF_CLI_SERVE_H
#define PF_CLI_SERVE_H
/* `pforge serve [FILE] [options]`: returns the exit code. */
int pf__cli_serve(int argc, char **argv);
#endif

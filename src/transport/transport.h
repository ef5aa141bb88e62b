/* Transports: each serves a pf_server to clients until it is told to stop. */
#ifndef PF_TRANSPORT_TRANSPORT_H
#define PF_TRANSPORT_TRANSPORT_H

#include "mcp/mcp.h"

/* Serves one client on stdin/stdout until stdin closes or SIGINT/SIGTERM.
 * Returns the process exit code. */
int pf__serve_stdio(pf_server *srv);

/* Serves Streamable HTTP (and the legacy HTTP+SSE transport) as cfg says,
 * until SIGINT/SIGTERM, then finishes in-flight requests. Returns the
 * process exit code. */
int pf__serve_http(pf_server *srv, const pf_cfg_http *cfg);

#endif

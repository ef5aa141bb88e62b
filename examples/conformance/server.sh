#!/usr/bin/env bash
# Serves examples/conformance over Streamable HTTP for the MCP conformance suite:
#   examples/conformance/server.sh PORT      # http://127.0.0.1:PORT/mcp
# PFORGE_BUILD is the meson build directory (default: build/ of this tree);
# PFORGE the pforge executable (default: $PFORGE_BUILD/pforge). The server
# replaces this script (exec), so its pid is the server's.
set -euo pipefail
port=${1:?usage: server.sh PORT}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PFORGE_BUILD=${PFORGE_BUILD:-$root/build}
pforge=${PFORGE:-$PFORGE_BUILD/pforge}
exec "$pforge" serve "$here/pforge.yaml" --http "127.0.0.1:$port"

#!/usr/bin/env bash
# Starts examples/bench as the benchmark harness expects (../shared/bench/README.md):
#   MCP_TRANSPORT=stdio|http  MCP_PORT  MCP_HTTP_MODE=session|stateless
#   MCP_JSON_RESPONSE=1  MCP_EXTRA_TOOLS=N
# The server process replaces this script (exec), so the harness measures pforge itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PFORGE_BUILD=${PFORGE_BUILD:-$root/build}
pforge=${PFORGE:-$PFORGE_BUILD/pforge}

if [ "${MCP_TRANSPORT:-stdio}" != stdio ]; then
  echo "server.sh: MCP_TRANSPORT=${MCP_TRANSPORT} is not available yet: this pforge serves stdio only" >&2
  exit 2
fi

config=$here/pforge.yaml
extra=${MCP_EXTRA_TOOLS:-0}
if [ "$extra" -gt 0 ] 2>/dev/null; then
  config=${TMPDIR:-/tmp}/pforge-bench-$extra-$$.yaml
  {
    sed "s#\${PFORGE_BUILD:-../../build}#$PFORGE_BUILD#" "$here/pforge.yaml"
    for ((i = 0; i < extra; i++)); do
      printf '  - type: native\n    name: dummy_%d\n    description: Dummy tool %d (benchmark padding)\n    handler: { path: dummy }\n    params:\n      value: string\n' "$i" "$i"
    done
  } >"$config"
fi
exec "$pforge" serve "$config"

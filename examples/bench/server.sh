#!/usr/bin/env bash
# Starts examples/bench as the benchmark harness expects (../shared/bench/README.md):
#   MCP_TRANSPORT=stdio|http  MCP_PORT  MCP_HTTP_MODE=session|stateless
#   MCP_JSON_RESPONSE=1  MCP_EXTRA_TOOLS=N  MCP_WORKERS=N (HTTP worker threads)
# The server process replaces this script (exec), so the harness measures pforge itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PFORGE_BUILD=${PFORGE_BUILD:-$root/build}
pforge=${PFORGE:-$PFORGE_BUILD/pforge}

args=()
case ${MCP_TRANSPORT:-stdio} in
  stdio) ;;
  http)
    args+=(--http "127.0.0.1:${MCP_PORT:?MCP_PORT is required with MCP_TRANSPORT=http}")
    [ "${MCP_HTTP_MODE:-session}" = stateless ] && args+=(--stateless)
    # the harness's two reply modes; pforge's default (auto) would pick JSON
    if [ "${MCP_JSON_RESPONSE:-0}" = 1 ]; then args+=(--response json); else args+=(--response sse); fi
    [ -n "${MCP_WORKERS:-}" ] && args+=(--workers "$MCP_WORKERS")
    ;;
  *) echo "server.sh: MCP_TRANSPORT must be stdio or http, not ${MCP_TRANSPORT}" >&2; exit 2 ;;
esac

config=$here/pforge.yaml
extra=${MCP_EXTRA_TOOLS:-0}
if [ "$extra" -gt 0 ] 2>/dev/null; then
  # The generated file must outlive this script (exec), so it cannot be
  # removed here: one file per tool count and build, rewritten atomically by
  # each run, so that runs do not pile files up.
  dir=${TMPDIR:-/tmp}/pforge-bench-$(id -u)
  mkdir -p "$dir"
  config=$dir/extra-$extra-$(printf '%s' "$PFORGE_BUILD" | cksum | cut -d' ' -f1).yaml
  {
    sed "s#\${PFORGE_BUILD:-../../build}#$PFORGE_BUILD#" "$here/pforge.yaml"
    for ((i = 0; i < extra; i++)); do
      printf '  - type: native\n    name: dummy_%d\n    description: Dummy tool %d (benchmark padding)\n    handler: { path: dummy }\n    params:\n      value: string\n' "$i" "$i"
    done
  } >"$config.$$"
  mv -f "$config.$$" "$config"
fi
exec "$pforge" serve "$config" "${args[@]}"

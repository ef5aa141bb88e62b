#!/usr/bin/env bash
# E2E: the official MCP TypeScript SDK client (tests/e2e/ts-client) against
# pforge over stdio.
#   test_ts_client.sh PFORGE_BINARY BUILD_DIR SOURCE_DIR
# Installs the pinned SDK (package-lock.json) with `npm ci` into
# BUILD_DIR/ts-client, never into the source tree, and reinstalls only when
# package*.json change; then runs client.mjs from there (ESM resolves packages
# next to the script), with PFORGE_BUILD=BUILD_DIR for the handler libraries.
# Needs node >= 18 and npm (scripts/setup installs Debian's nodejs and npm when
# node is missing), and the npm registry the first time.
set -uo pipefail
PF=${1:?usage: test_ts_client.sh PFORGE_BINARY BUILD_DIR SOURCE_DIR}
BUILD=$(cd "${2:?}" && pwd)
SRC=$(cd "${3:?}" && pwd)
HERE=$SRC/tests/e2e/ts-client
DIR=$BUILD/ts-client

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "not ok - $tool not found (run scripts/setup)"; exit 1; }
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "not ok - node $(node --version) is too old: the SDK needs >= 18"
  exit 1
fi

mkdir -p "$DIR"
# One installer at a time per build dir; the lock file ends with this script.
exec 9>"$DIR/.lock"
flock -w 600 9 || { echo "not ok - could not lock $DIR"; exit 1; }
if ! cmp -s "$HERE/package.json" "$DIR/package.json" ||
   ! cmp -s "$HERE/package-lock.json" "$DIR/package-lock.json" ||
   [ ! -f "$DIR/node_modules/.installed" ]; then
  rm -rf "$DIR/node_modules"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$DIR/"
  echo "# npm ci in $DIR (node $(node --version), npm $(npm --version))"
  if ! (cd "$DIR" && timeout 540 npm ci --no-audit --no-fund --loglevel=error); then
    echo "not ok - npm ci failed"
    exit 1
  fi
  touch "$DIR/node_modules/.installed"
fi
cp "$HERE/client.mjs" "$DIR/client.mjs"
flock -u 9

export PFORGE_BUILD=$BUILD
# client.mjs ends by itself after 60 s; timeout is a backstop. It starts the
# servers itself and kills any still running when it gives up.
exec timeout -k 5 90 node "$DIR/client.mjs" "$PF" "$SRC"

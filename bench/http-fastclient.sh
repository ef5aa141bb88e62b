#!/usr/bin/env bash
# Streamable HTTP with a light client: the same tools/call `echo` POST as
# ../shared/bench/mcp-call.lua, but wrk's Lua does no per-response work (wrk
# itself counts non-2xx answers; each server's answer is checked once with curl
# before the load). The shared harness's per-response Lua checks cost wrk more
# CPU than pforge spends per request, so there the client is the bottleneck;
# here it is less so. Session mode, JSON replies; pforge with 1 and 2 workers,
# the TS SDK reference server, and nginx's static 200 (1 worker process) as the
# floor, interleaved over R rounds. Prints medians of req/s and of server CPU
# per request (all threads, from /proc/PID/stat), and the ratios.
#
#   bench/http-fastclient.sh [-r ROUNDS] [-d SECONDS] [-B BUILD_DIR]
#
# Needs wrk, curl, node (TS server deps installed by bench/http-bench.sh or here
# with npm ci into BUILD/ts-server), nginx (nginx-light). Binds 127.0.0.1 only;
# stops only the processes it started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED_DIR:-$root/../shared}
build=$root/build rounds=3 dur=5
while getopts "r:d:B:" o; do
  case $o in r) rounds=$OPTARG ;; d) dur=$OPTARG ;; B) build=$OPTARG ;; *) exit 2 ;; esac
done
build=$(cd "$build" && pwd)
work=$(mktemp -d /tmp/pforge-fastclient.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
if [ ! -d "$build/ts-server/node_modules" ]; then
  mkdir -p "$build/ts-server"
  cp "$shared/bench/ts-server/"{package.json,package-lock.json,server.mjs} "$build/ts-server/"
  (cd "$build/ts-server" && npm ci --silent >/dev/null)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
H=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello world"}}}'

# run NAME KIND CMD...: prints "NAME rps cpu_us" (KIND mcp or nginx)
run() {
  local name=$1 kind=$2 port sid=""
  shift 2
  port=$(free_port)
  if [ "$kind" = nginx ]; then
    mkdir -p "$work/nginx/logs"
    cat >"$work/nginx.conf" <<CONF
worker_processes 1; pid $work/nginx/nginx.pid; error_log $work/nginx/error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000000;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$port; location /mcp { default_type application/json;
    return 200 '{"jsonrpc":"2.0","id":1,"result":{}}'; } } }
CONF
    nginx -c "$work/nginx.conf" -p "$work/nginx" -g 'daemon off;' 2>/dev/null &
  else
    MCP_TRANSPORT=http MCP_PORT=$port MCP_HTTP_MODE=session MCP_JSON_RESPONSE=1 "$@" \
      >"$work/$name.log" 2>&1 &
  fi
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/mcp" && break; sleep 0.1; done
  local cpid=$pid # whose CPU is measured: for nginx its worker process
  if [ "$kind" = nginx ]; then
    pid=$(cat "$work/nginx/nginx.pid" 2>/dev/null || echo "$pid")
    cpid=$(pgrep -P "$pid" | head -1)
  fi
  if [ "$kind" = mcp ]; then
    sid=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/mcp" "${H[@]}" -d \
      '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}' |
      awk 'tolower($1) == "mcp-session-id:" { print $2 }' | tr -d '\r')
    curl -s -o /dev/null "http://127.0.0.1:$port/mcp" "${H[@]}" -H "Mcp-Session-Id: $sid" \
      -H 'MCP-Protocol-Version: 2025-06-18' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    curl -s "http://127.0.0.1:$port/mcp" "${H[@]}" -H "Mcp-Session-Id: $sid" \
      -H 'MCP-Protocol-Version: 2025-06-18' -d "$BODY" | grep -q '"text":"hello world"' ||
      { echo "$name: the check call failed" >&2; return 1; }
  fi
  cat >"$work/fb.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = "$sid"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
wrk.body = '$BODY'
LUA
  wrk -t1 -c4 -d1s -s "$work/fb.lua" "http://127.0.0.1:$port/mcp" >/dev/null
  local t0 t1 out req
  t0=$(cpu_ticks "$cpid")
  out=$(wrk -t1 -c4 -d"${dur}s" -s "$work/fb.lua" "http://127.0.0.1:$port/mcp")
  t1=$(cpu_ticks "$cpid")
  if echo "$out" | grep -q "Non-2xx"; then echo "$name: non-2xx answers" >&2; return 1; fi
  req=$(echo "$out" | awk '/requests in/ { print $1 }')
  echo "$name $(echo "$out" | awk '/Requests\/sec/ { print $2 }') $(awk -v a="$t0" -v b="$t1" \
    -v n="$req" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')"
  if [ "$kind" = nginx ]; then kill "$(cat "$work/nginx/nginx.pid")"; else kill "$pid"; fi
  wait "$pid" 2>/dev/null || true
}

results=$work/results
for ((r = 0; r < rounds; r++)); do
  PFORGE_BUILD=$build MCP_WORKERS=1 run pforge-1w mcp bash "$root/examples/bench/server.sh" >>"$results"
  PFORGE_BUILD=$build MCP_WORKERS=2 run pforge-2w mcp bash "$root/examples/bench/server.sh" >>"$results"
  run ts mcp node "$build/ts-server/server.mjs" >>"$results"
  run nginx nginx >>"$results"
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "| server (wrk -t1 -c4, ${dur} s, $rounds rounds) | req/s | server CPU/request (us) |"
echo "|---|--:|--:|"
declare -A rps cpu
for n in pforge-1w pforge-2w ts nginx; do
  rps[$n]=$(awk -v n=$n '$1 == n { print $2 }' "$results" | median)
  cpu[$n]=$(awk -v n=$n '$1 == n { print $3 }' "$results" | median)
  echo "| $n | ${rps[$n]} | ${cpu[$n]} |"
done
awk -v a="${rps[pforge-1w]}" -v b="${rps[ts]}" -v c="${cpu[ts]}" -v d="${cpu[pforge-1w]}" \
  -v e="${rps[nginx]}" -v f="${cpu[pforge-2w]}" 'BEGIN {
  printf "pforge 1 worker / TS: %.1fx req/s, %.1fx less CPU per request; pforge / nginx: %.2fx req/s; CPU per request 2 workers / 1 worker: %.2fx\n", a / b, c / d, a / e, f / d }'

#!/usr/bin/env bash
# Streamable HTTP benchmark: pforge (examples/bench) against the TypeScript SDK
# reference server (../shared/bench/ts-server) and a static nginx floor, measured
# in the same run, interleaved, with the shared wrk harness
# (../shared/bench/http-bench.sh + mcp-call.lua). Prints medians and ratios as Markdown.
#
#   bench/http-bench.sh [--quick] [-r RUNS] [-B BUILD_DIR] [-o OUT_DIR] [--no-build]
#                       [-d SECONDS] [-w SECONDS] [--only pforge,ts,nginx] [--no-long]
#
#   --quick       1 round, 3 s runs after a 1 s warm-up, no long RSS run (~3 minutes)
#   -r RUNS       rounds (default 3; each round runs every configuration once, order rotated)
#   -B BUILD_DIR  release build of this tree (default build/; created with `meson setup`
#                 if missing); the TS server's node_modules go there too (BUILD/ts-server)
#   -o OUT_DIR    raw outputs and summary.md (default /tmp/pforge-http-bench-DATE)
#   --no-build    do not run `meson compile` first
#   -d / -w       wrk duration / unmeasured warm-up per run (default 10 / 2; quick 3 / 1)
#   --only LIST   only these servers (comma-separated: pforge, ts, nginx)
#   --no-long     skip the long RSS-flatness run (>= 1 M requests on pforge session+JSON)
#
# Environment: SHARED_DIR (default ../shared next to this tree).
#
# Configurations (each round, wrk -t1 -c4, the harness default):
#   pforge  examples/bench/server.sh, session|stateless x JSON|SSE, MCP_WORKERS=2;
#           plus session+JSON with MCP_WORKERS=1 (CPU per request, 1 vs 2 workers)
#   ts      node ts-server/server.mjs, the same four mode combinations
#   nginx   the floor: `return 200 '{"jsonrpc":"2.0","id":1,"result":{}}'` on POST /mcp,
#           worker_processes 2 and 1, loaded by wrk with the same mcp-call.lua (same
#           request bytes and client work; each response checked for 200 + "result")
# then once: the JSON configurations again with wrk -t2 -c16, and one long pforge
# session+JSON run (>= 1 M requests after a 10 s warm-up): RSS before vs after.
# MCP servers are started and stopped by the shared http-bench.sh (by pid); nginx
# by this script (its own config, prefix and pid in OUT/tmp; only that pid is
# signalled). Every run is bounded by `timeout`. Exit status 1 if any run failed
# (non-200 or bad responses, socket errors, a server that died or did not start).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED_DIR:-$root/../shared}
build=$root/build
out=
runs=3
runs_set=0
quick=0
do_build=1
only=pforge,ts,nginx
long=1
D= W=

usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    -r) runs=${2:?-r needs a value}; runs_set=1; shift ;;
    -B) build=${2:?-B needs a value}; shift ;;
    -o) out=${2:?-o needs a value}; shift ;;
    -d) D=${2:?-d needs a value}; shift ;;
    -w) W=${2:?-w needs a value}; shift ;;
    --no-build) do_build=0 ;;
    --only) only=${2:?--only needs a value}; shift ;;
    --no-long) long=0 ;;
    -h|--help) usage 0 ;;
    *) echo "http-bench: unknown argument $1" >&2; usage 2 >&2 ;;
  esac
  shift
done

if [ "$quick" = 1 ]; then
  [ "$runs_set" = 1 ] || runs=1
  D=${D:-3} W=${W:-1} long=0
else
  D=${D:-10} W=${W:-2}
fi
for n in "$runs" "$D" "$W"; do
  case $n in ''|*[!0-9]*) echo "http-bench: -r/-d/-w need numbers" >&2; exit 2 ;; esac
done
[ "$runs" -ge 1 ] && [ "$D" -ge 1 ] || { echo "http-bench: -r and -d must be >= 1" >&2; exit 2; }
want() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

out=${out:-/tmp/pforge-http-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out" "$out/tmp"
out=$(cd "$out" && pwd)
build=$(mkdir -p "$build" && cd "$build" && pwd)
raw=$out/raw.txt
: >"$raw"
log() { printf 'http-bench: %s\n' "$*" >&2; }
harness=$shared/bench/http-bench.sh
[ -f "$harness" ] && [ -f "$shared/bench/mcp-call.lua" ] ||
  { echo "http-bench: $harness or mcp-call.lua not found (set SHARED_DIR)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "http-bench: wrk missing (apt-get install -y wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "http-bench: curl missing" >&2; exit 1; }

# ---- nginx (the floor): install if missing, as root ----
if want nginx && ! command -v nginx >/dev/null && ! [ -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ]; then
    log "apt-get install nginx-light"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; } >"$out/apt.log" 2>&1 || true
  fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if want nginx && ! [ -x "$NGINX" ]; then
  log "nginx not available (not root, or apt-get failed: $out/apt.log); the floor is skipped"
  only=${only//nginx/}
fi

# ---- build: pforge (release) ----
buildinfo="not built: pforge not measured"
if want pforge; then
  if [ ! -f "$build/build.ninja" ]; then
    log "meson setup $build"
    meson setup "$build" "$root" >"$out/meson-setup.log" 2>&1 || { tail -30 "$out/meson-setup.log" >&2; exit 1; }
  fi
  if [ "$do_build" = 1 ]; then
    log "meson compile -C $build"
    meson compile -C "$build" >"$out/meson-compile.log" 2>&1 || { tail -30 "$out/meson-compile.log" >&2; exit 1; }
  fi
  buildinfo=$(meson introspect --buildoptions "$build" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print("buildtype=%s optimization=%s b_lto=%s" % (o["buildtype"], o["optimization"], o["b_lto"]))')
  case $buildinfo in
    *"buildtype=release optimization=3 b_lto=True"*) ;;
    *) log "WARNING: $build is not the release build (-O3, LTO): $buildinfo" ;;
  esac
  for f in "$build/pforge" "$build/examples/libbench.so"; do
    [ -f "$f" ] || { echo "http-bench: $f missing (build first)" >&2; exit 1; }
  done
fi

# ---- the TS SDK server, copied next to the build (../shared is read-only) ----
ts=$build/ts-server
sdk_version=-
if want ts; then
  mkdir -p "$ts"
  if ! cmp -s "$shared/bench/ts-server/package-lock.json" "$ts/package-lock.json" || [ ! -d "$ts/node_modules" ]; then
    log "npm ci in $ts"
    cp "$shared/bench/ts-server/package.json" "$shared/bench/ts-server/package-lock.json" "$ts/"
    chmod u+w "$ts/package.json" "$ts/package-lock.json"
    (cd "$ts" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) >"$out/npm-ci.log" 2>&1 ||
      { cat "$out/npm-ci.log" >&2; exit 1; }
  fi
  cp "$shared/bench/ts-server/server.mjs" "$ts/server.mjs.new" && mv -f "$ts/server.mjs.new" "$ts/server.mjs"
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$node_major" -ge 18 ] || { echo "http-bench: node >= 18 needed (have $(node --version))" >&2; exit 1; }
  sdk_version=$(node -p "require('$ts/node_modules/@modelcontextprotocol/sdk/package.json').version")
fi

export PFORGE_BUILD=$build
export TMPDIR=$out/tmp

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

busy_pct() { # CPU busy % of the whole machine over 1 s
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}

# ---- configurations: NAME -> server kind, mode, json, workers ----
declare -A C_KIND C_MODE C_JSON C_WORKERS
conf() { C_KIND[$1]=$2 C_MODE[$1]=$3 C_JSON[$1]=$4 C_WORKERS[$1]=$5; }
confs=()
if want pforge; then
  for m in session stateless; do for j in 1 0; do
    n=pf-$m-$([ $j = 1 ] && echo json || echo sse)-w2; conf "$n" pforge $m $j 2; confs+=("$n")
  done; done
  conf pf-session-json-w1 pforge session 1 1; confs+=(pf-session-json-w1)
fi
if want ts; then
  for m in session stateless; do for j in 1 0; do
    n=ts-$m-$([ $j = 1 ] && echo json || echo sse); conf "$n" ts $m $j -; confs+=("$n")
  done; done
fi
if want nginx; then
  conf nginx-w2 nginx - - 2; confs+=(nginx-w2)
  conf nginx-w1 nginx - - 1; confs+=(nginx-w1)
fi
[ ${#confs[@]} -gt 0 ] || { echo "http-bench: nothing to run (--only $only)" >&2; exit 2; }

failed=0
fail_notes=()

# ---- nginx: own config, prefix, pid, logs and temp dirs under OUT/tmp ----
NGINX_PID=""
stop_nginx() {
  [ -n "$NGINX_PID" ] || return 0
  kill -TERM "$NGINX_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
  NGINX_PID=""
}
trap stop_nginx EXIT
trap 'exit 1' INT TERM

start_nginx() { # WORKERS PORT -> NGINX_PID; 0 when it answers
  local w=$1 port=$2 prefix=$out/tmp/nginx-w$1-$2
  mkdir -p "$prefix/logs" "$prefix/tmp"
  chmod 0777 "$prefix/tmp" # workers may run as nobody when started as root
  local temps="" t nv
  nv=$("$NGINX" -V 2>&1 || true)
  for t in client_body proxy fastcgi uwsgi scgi; do
    case $nv in *"--without-http_${t}_module"*) ;; *) temps+="  ${t}_temp_path $prefix/tmp/$t;"$'\n' ;; esac
  done
  cat >"$prefix/nginx.conf" <<EOF
worker_processes $w;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
$temps  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$port;
    location = /mcp {
      default_type application/json;
      return 200 '{"jsonrpc":"2.0","id":1,"result":{}}';
    }
  }
}
EOF
  "$NGINX" -c "$prefix/nginx.conf" -p "$prefix" -e "$prefix/logs/error.log" -g 'daemon off;' \
    >"$prefix/logs/stdout.log" 2>&1 &
  NGINX_PID=$!
  local code
  for _ in $(seq 100); do
    kill -0 "$NGINX_PID" 2>/dev/null || break
    code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/mcp" -d '{}' 2>/dev/null || true)
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  log "nginx did not come up on 127.0.0.1:$port: $(tail -5 "$prefix/logs/error.log" "$prefix/logs/stdout.log" 2>/dev/null)"
  stop_nginx
  return 1
}

nginx_pids() { # the master and its workers
  echo "$NGINX_PID"
  ps -o pid= --ppid "$NGINX_PID" 2>/dev/null || true
}
nginx_cpu_ms() {
  local hz p total=0 v
  hz=$(getconf CLK_TCK)
  for p in $(nginx_pids); do
    v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }') || v=0
    total=$(( total + ${v:-0} ))
  done
  echo $(( total * 1000 / hz ))
}
nginx_rss_kb() { # VmRSS summed over master + workers
  local p total=0 v
  for p in $(nginx_pids); do
    v=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null) || v=0
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}

# run_nginx NAME THREADS CONNS FILE: prints an http-bench:-style line into FILE
run_nginx() {
  local name=$1 t=$2 c=$3 f=$4 port w=${C_WORKERS[$1]} errs=0
  port=$(free_port)
  if ! start_nginx "$w" "$port" >>"$f" 2>&1; then echo "nginx failed to start (see $out/tmp)" >>"$f"; return 1; fi
  local url=http://127.0.0.1:$port/mcp
  # Same request bytes and headers as the MCP runs (session-mode shaped); no text check.
  export MCP_TOOL=echo MCP_ARGS='{"message":"hello world"}' MCP_EXPECT= \
    MCP_SESSION_ID=0123456789abcdef0123456789abcdef MCP_PROTOCOL_VERSION=2025-06-18
  if [ "$W" -gt 0 ]; then
    timeout -k 5 $((W + 30)) wrk -t "$t" -c "$c" -d "${W}s" --timeout 5s --latency \
      -s "$shared/bench/mcp-call.lua" "$url" >"$f.warmup" 2>&1 || errs=$((errs + 1))
  fi
  local cpu0 cpu1 rss rc=0
  cpu0=$(nginx_cpu_ms)
  timeout -k 5 $((D + 30)) wrk -t "$t" -c "$c" -d "${D}s" --timeout 5s --latency \
    -s "$shared/bench/mcp-call.lua" "$url" >>"$f" 2>&1 || rc=$?
  cpu1=$(nginx_cpu_ms)
  rss=$(nginx_rss_kb)
  unset MCP_TOOL MCP_ARGS MCP_EXPECT MCP_SESSION_ID MCP_PROTOCOL_VERSION
  kill -0 "$NGINX_PID" 2>/dev/null || errs=$((errs + 1))
  stop_nginx
  [ "$rc" = 0 ] || errs=$((errs + 1))
  local line k v
  line=$(grep '^wrk-mcp: ' "$f" | tail -1 || true)
  [ -n "$line" ] || errs=$((errs + 1))
  for k in non200 bad connect_errors read_errors write_errors timeouts; do
    v=$(echo "$line" | tr ' ' '\n' | awk -F= -v k=$k '$1 == k { print $2 }')
    [ "${v:-x}" = 0 ] || { errs=$((errs + 1)); echo "nginx: $k=${v:-missing}" >>"$f"; }
  done
  local req
  req=$(echo "$line" | tr ' ' '\n' | awk -F= '$1 == "requests" { print $2 }')
  echo "$line" | sed 's/^wrk-mcp: //' | awk -v n="$name" -v t="$t" -v c="$c" -v a="$cpu0" -v b="$cpu1" \
    -v r="${req:-0}" -v rss="$rss" -v e="$errs" '{
      printf "http-bench: server=%s threads=%s conns=%s %s cpu_us=%.1f rss_kb=%s hwm_kb=%s errors=%d\n",
        n, t, c, $0, (r > 0) ? (b - a) * 1000 / r : -1, rss, rss, e }' >>"$f"
  [ "$errs" = 0 ]
}

# record ROUND LOAD NAME THREADS CONNS [DURATION WARMUP]: one run, one line in raw.txt
record() {
  local round=$1 load=$2 name=$3 t=$4 c=$5 d=${6:-$D} w=${7:-$W}
  local f="$out/r$round-$load-$name.txt" rc=0 port line
  : >"$f"
  case ${C_KIND[$name]} in
    nginx) run_nginx "$name" "$t" "$c" "$f" || rc=$? ;;
    *)
      port=$(free_port)
      local opts=(-m "${C_MODE[$name]}" -p "$port" -d "$d" -w "$w" -c "$c" -t "$t" -n "$name")
      [ "${C_JSON[$name]}" = 1 ] && opts+=(-j)
      local cmd
      if [ "${C_KIND[$name]}" = pforge ]; then
        cmd=(env MCP_WORKERS="${C_WORKERS[$name]}" "$root/examples/bench/server.sh")
      else
        cmd=(node "$ts/server.mjs")
      fi
      echo "+ http-bench.sh ${opts[*]} -- ${cmd[*]}" >"$f"
      timeout -k 10 $((d + w + 120)) bash "$harness" "${opts[@]}" -- "${cmd[@]}" >>"$f" 2>&1 || rc=$?
      ;;
  esac
  line=$(grep '^http-bench: server=' "$f" | tail -1 || true)
  if [ "$rc" != 0 ]; then
    failed=1
    local why
    why=$(grep -E '^(http-bench|pforge|server\.mjs|wrk-mcp: first|nginx)' "$f" | grep -v '^http-bench: server=' |
      tail -3 | tr '\n' ' ' | cut -c1-400 || true)
    fail_notes+=("round $round, $load, $name: exit $rc ($f): $why")
    log "FAILED ($name, $load, round $round, exit $rc): see $f"
    grep -v '^ *[0-9.]*%\|Latency\|Thread\|Req/Sec\|^  [0-9]' "$f" | tail -8 >&2 || true
  fi
  echo "round=$round load=$load conf=$name ok=$([ "$rc" = 0 ] && echo 1 || echo 0) rc=$rc ${line#http-bench: }" >>"$raw"
  [ "$rc" = 0 ]
}

start=$(date +%s)
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "host: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, shared by wrk and the server"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- src include examples 2>/dev/null || echo ' (+ uncommitted changes in src/include/examples)')"
  echo "build: $build ($buildinfo); node $(node --version 2>/dev/null || echo -); TS SDK $sdk_version; $("$NGINX" -v 2>&1 || echo 'nginx -'); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "mode: runs=$runs wrk -d ${D}s after -w ${W}s warm-up; -t1 -c4 every round, -t2 -c16 once; long RSS run: $([ $long = 1 ] && echo yes || echo no)"
} >"$out/env.txt"
cat "$out/env.txt" >&2

for ((r = 1; r <= runs; r++)); do
  b=$(busy_pct)
  echo "round=$r load=busy conf=machine busy_pct=$b" >>"$raw"
  log "round $r/$runs (machine busy before: $b%)"
  k=$(( (r - 1) % ${#confs[@]} ))
  order=("${confs[@]:$k}" "${confs[@]:0:$k}")
  for name in "${order[@]}"; do
    record "$r" t1c4 "$name" 1 4 || true
  done
done

log "once: wrk -t2 -c16"
for name in "${confs[@]}"; do
  case $name in *-sse*) continue ;; esac
  record 1 t2c16 "$name" 2 16 || true
done

if [ "$long" = 1 ] && want pforge; then
  # >= 1 M requests in the measured part: duration from this run's median req/s.
  rps=$(awk '/load=t1c4 conf=pf-session-json-w2 ok=1/ { for (i = 1; i <= NF; i++) if ($i ~ /^rps=/) print substr($i, 5) }' "$raw" |
    sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }')
  if [ "${rps:-0}" -gt 0 ] 2>/dev/null; then
    ld=$(( 1300000 / rps + 5 ))
    [ "$ld" -lt 20 ] && ld=20
    [ "$ld" -gt 600 ] && ld=600
    log "long run: pf-session-json-w2 for ${ld}s (median ${rps} req/s) after a 10 s warm-up"
    record 1 long pf-session-json-w2 1 4 "$ld" 10 || true
  else
    log "long run skipped: no successful pf-session-json-w2 run to size it"
    echo "round=1 load=long conf=pf-session-json-w2 ok=0 rc=skipped" >>"$raw"
    failed=1; fail_notes+=("long RSS run skipped: no successful pf-session-json-w2 run")
  fi
fi

python3 - "$raw" "$out/env.txt" >"$out/summary.md" <<'PY'
import statistics, sys
raw, envfile = sys.argv[1], sys.argv[2]
recs = []
for line in open(raw):
    d = {}
    for tok in line.split():
        if '=' in tok:
            k, v = tok.split('=', 1)
            if k in d:        # keep this script's own keys (first)
                continue
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    recs.append(d)

def runs(load, conf, ok_only=True):
    return [d for d in recs if d.get('load') == load and d.get('conf') == conf and (d.get('ok') == 1.0 or not ok_only)]

def vals(load, conf, key):
    return [d[key] for d in runs(load, conf) if isinstance(d.get(key), float) and d[key] >= 0]

def med(load, conf, key):
    v = vals(load, conf, key)
    return statistics.median(v) if v else None

def per_round(load, a, b, key):
    """Median over rounds of the ratio a/b measured in the same round."""
    ra = {d['round']: d.get(key) for d in runs(load, a)}
    rb = {d['round']: d.get(key) for d in runs(load, b)}
    rs = [ra[r] / rb[r] for r in ra if r in rb and isinstance(ra[r], float) and isinstance(rb[r], float) and rb[r] > 0]
    return statistics.median(rs) if rs else None

def f(x, nd=1):
    if x is None:
        return 'n/a'
    if abs(x) >= 1000 and nd <= 1:
        return f'{x:,.0f}'
    return f'{x:.{nd}f}'

def ratio(x, nd=2):
    return 'n/a' if x is None else f'{x:.{nd}f}x'

def verdict(ok):
    return 'n/a' if ok is None else ('**met**' if ok else '**not met**')

confs = []
for d in recs:
    c = d.get('conf')
    if c and c != 'machine' and c not in confs:
        confs.append(c)
label = {
    'pf': 'pforge', 'ts': 'TS SDK', 'nginx': 'nginx',
}
def describe(c):
    if c.startswith('nginx'):
        return f'nginx static 200, {c[-1]} worker process{"es" if c[-1] != "1" else ""}'
    parts = c.split('-')
    s = f'{label[parts[0]]} {parts[1]} {parts[2].upper()}'
    if parts[0] == 'pf':
        s += f', {parts[3][1]} worker{"s" if parts[3][1] != "1" else ""}'
    return s

print(open(envfile).read().rstrip().replace('\n', '  \n'))
busy = [d['busy_pct'] for d in recs if d.get('load') == 'busy']
print(f"machine busy before each round: {', '.join('%d%%' % b for b in busy)}")
print()
for load, title in (('t1c4', 'wrk -t1 -c4 (medians over rounds)'), ('t2c16', 'wrk -t2 -c16 (one run)')):
    present = [c for c in confs if runs(load, c, ok_only=False)]
    if not present:
        continue
    print(f'### Streamable HTTP, tools/call `echo`, {title}')
    print()
    print('| configuration | req/s | req/s min-max | p50 (us) | p99 (us) | server CPU/request (us) | RSS (KB) | runs ok |')
    print('|---|--:|--:|--:|--:|--:|--:|--:|')
    for c in present:
        v = vals(load, c, 'rps')
        spread = f'{f(min(v), 0)}-{f(max(v), 0)}' if v else 'n/a'
        print(f'| {describe(c)} | {f(med(load, c, "rps"), 0)} | {spread} | {f(med(load, c, "p50_us"), 0)} '
              f'| {f(med(load, c, "p99_us"), 0)} | {f(med(load, c, "cpu_us"), 1)} | {f(med(load, c, "rss_kb"), 0)} '
              f'| {len(runs(load, c))}/{len(runs(load, c, ok_only=False))} |')
    print()
    print('| comparison | req/s ratio | CPU/request ratio | target | verdict |')
    print('|---|--:|--:|---|---|')
    for m in ('session-json', 'session-sse', 'stateless-json', 'stateless-sse'):
        a, b = f'pf-{m}-w2', f'ts-{m}'
        if runs(load, a, False) and runs(load, b, False):
            r = per_round(load, a, b, 'rps')
            cr = per_round(load, b, a, 'cpu_us')
            print(f'| pforge / TS SDK, {m.replace("-", " ").replace("json", "JSON").replace("sse", "SSE")} '
                  f'(pforge 2 workers) | {ratio(r, 1)} | TS/pforge {ratio(cr, 1)} | >= 50x req/s | '
                  f'{verdict(None if r is None else r >= 50)} |')
    for a, b in (('pf-session-json-w2', 'nginx-w2'), ('pf-stateless-json-w2', 'nginx-w2'),
                 ('pf-session-sse-w2', 'nginx-w2'), ('pf-session-json-w1', 'nginx-w1')):
        if runs(load, a, False) and runs(load, b, False):
            r = per_round(load, a, b, 'rps')
            cr = per_round(load, a, b, 'cpu_us')
            tgt = '>= 0.70x req/s' if 'json' in a else '(SSE: no target)'
            ok = None if r is None or 'json' not in a else r >= 0.70
            print(f'| {describe(a)} / {describe(b)} | {ratio(r)} | pforge/nginx {ratio(cr)} | {tgt} | {verdict(ok)} |')
    if runs(load, 'pf-session-json-w2', False) and runs(load, 'pf-session-json-w1', False):
        cr = per_round(load, 'pf-session-json-w2', 'pf-session-json-w1', 'cpu_us')
        print(f'| pforge session JSON, CPU/request 2 workers / 1 worker | | {ratio(cr)} | within 10% (0.90-1.10x) | '
              f'{verdict(None if cr is None else abs(cr - 1) <= 0.10)} |')
        r = per_round(load, 'pf-session-json-w2', 'pf-session-json-w1', 'rps')
        print(f'| pforge session JSON, req/s 2 workers / 1 worker | {ratio(r)} | | >= 1.8x (needs cores not shared with wrk) | '
              f'{verdict(None if r is None else r >= 1.8)} |')
    if runs(load, 'nginx-w2', False) and runs(load, 'nginx-w1', False):
        r = per_round(load, 'nginx-w2', 'nginx-w1', 'rps')
        print(f'| nginx req/s 2 workers / 1 worker (what this machine allows) | {ratio(r)} | | | |')
    print()
    print('Ratios are medians of the per-round ratios (both measured in the same round).')
    print()

long_runs = runs('long', 'pf-session-json-w2', ok_only=False)
if long_runs:
    d = long_runs[-1]
    print('### RSS flatness: one long pforge session+JSON run (2 workers, wrk -t1 -c4)')
    print()
    if d.get('ok') == 1.0 and isinstance(d.get('rss_before_kb'), float) and d.get('rss_before_kb', 0) > 0:
        before, after, hwm, n = d['rss_before_kb'], d['rss_kb'], d.get('hwm_kb'), d.get('requests', 0)
        growth = (after - before) / before * 100
        print('| requests (measured, after a 10 s warm-up) | req/s | RSS before (KB) | RSS after (KB) | peak RSS (KB) | growth | target | verdict |')
        print('|--:|--:|--:|--:|--:|--:|---|---|')
        print(f'| {f(n, 0)} | {f(d.get("rps"), 0)} | {f(before, 0)} | {f(after, 0)} | {f(hwm, 0)} | {growth:+.2f}% '
              f'| < 1% over >= 1 M requests | {verdict(growth < 1 and n >= 1e6)}{"" if n >= 1e6 else " (fewer than 1 M requests)"} |')
    else:
        print(f'The long run failed or was skipped (rc={d.get("rc")}).')
    print()
PY
cat "$out/summary.md"
if [ "$failed" != 0 ]; then
  echo
  echo "FAILED runs:"
  printf '  %s\n' "${fail_notes[@]}"
fi | tee -a "$out/summary.md"
log "done in $(( $(date +%s) - start )) s; raw results in $out"
exit "$failed"

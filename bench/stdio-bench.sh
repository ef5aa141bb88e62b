#!/usr/bin/env bash
# stdio benchmark: pforge (examples/bench) against the TypeScript SDK reference
# server (../shared/bench/ts-server) and a raw pipe floor (bench/stdio_floor.c),
# measured in the same run, interleaved, with the shared load generator
# (../shared/bench/mcpload.c). Prints medians and ratios as Markdown.
#
#   bench/stdio-bench.sh [--quick] [-r RUNS] [-B BUILD_DIR] [-o OUT_DIR] [--no-build] [--pin]
#
#   --quick       1 round, smaller counts (under a minute)
#   -r RUNS       rounds (default 5; each round runs every server once per phase)
#   -B BUILD_DIR  release build of this tree (default build/; created with
#                 `meson setup` if missing). mcpload, the floor and the TS
#                 server's node_modules go there too.
#   -o OUT_DIR    raw outputs and summary.md (default /tmp/pforge-stdio-bench-DATE)
#   --no-build    do not run `meson compile` first
#   --pin         pin mcpload to CPU 0 and the server to CPU 1 (load phase only)
#
# Environment: SHARED_DIR (default ../shared next to this tree).
#
# Phases of each round, each server in turn (the order rotates every round):
#   load    mcpload -t add -a '{"a":2,"b":3}' -e '"text":"5"' -n N -p P -w 64 -u U
#           (ping-pong latency and req/s, pipelined req/s, server CPU per request)
#   cold    mcpload -c K: K fresh launches, median exec -> initialize response;
#           pforge both through examples/bench/server.sh (bash wrapper, as the
#           load phase starts it) and as the binary itself (`pforge serve`)
#   memory  MCP_EXTRA_TOOLS = 0, 1000, 10000 (pforge, TS SDK): RSS after
#           initialize and peak RSS after tools/list and some load
#   stream  server-bound throughput: a file of initialize + M tools/call
#           requests is piped into the server (`cat FILE | SERVER | grep -c`),
#           no window and no client-side JSON work, so the server (not mcpload)
#           is the bottleneck; every response is counted. Wall time and the
#           server's CPU time (getrusage, via /usr/bin/time).
# Nothing binds a port; every server is ended by closing its stdin; every
# mcpload phase is bounded by -T and every stream run by `timeout`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED_DIR:-$root/../shared}
build=$root/build
out=
runs=5
quick=0
do_build=1
pin=0

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    -r) runs=${2:?-r needs a value}; shift ;;
    -B) build=${2:?-B needs a value}; shift ;;
    -o) out=${2:?-o needs a value}; shift ;;
    --no-build) do_build=0 ;;
    --pin) pin=1 ;;
    -h|--help) usage 0 ;;
    *) echo "stdio-bench: unknown argument $1" >&2; usage 2 >&2 ;;
  esac
  shift
done

if [ "$quick" = 1 ]; then
  [ "$runs" = 5 ] && runs=1
  N=5000 P=20000 U=500 COLD=3 MEM_N=500 STREAM_C=100000 STREAM_TS=20000
  MEM_TOOLS="0 1000 10000"
else
  N=50000 P=200000 U=2000 COLD=10 MEM_N=2000 STREAM_C=1000000 STREAM_TS=100000
  MEM_TOOLS="0 1000 10000"
fi
case $runs in ''|*[!0-9]*|0) echo "stdio-bench: -r must be a positive number" >&2; exit 2 ;; esac
out=${out:-/tmp/pforge-stdio-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out" "$out/tmp"
build=$(mkdir -p "$build" && cd "$build" && pwd)
raw=$out/raw.txt
: >"$raw"
log() { printf 'stdio-bench: %s\n' "$*" >&2; }

# ---- build: pforge (release), the floor, mcpload, the TS SDK server ----
[ -f "$shared/bench/mcpload.c" ] || { echo "stdio-bench: $shared/bench/mcpload.c not found (set SHARED_DIR)" >&2; exit 2; }
if [ ! -f "$build/build.ninja" ]; then
  log "meson setup $build"
  meson setup "$build" "$root" >"$out/meson-setup.log"
fi
if [ "$do_build" = 1 ]; then
  log "meson compile -C $build"
  meson compile -C "$build" >"$out/meson-compile.log" || { tail -30 "$out/meson-compile.log" >&2; exit 1; }
fi
buildinfo=$(meson introspect --buildoptions "$build" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print("buildtype=%s optimization=%s b_lto=%s native=%s" % (o["buildtype"], o["optimization"], o["b_lto"], o.get("native")))')
case $buildinfo in
  *"buildtype=release optimization=3 b_lto=True"*) ;;
  *) log "WARNING: $build is not the release build (-O3, LTO): $buildinfo" ;;
esac
for f in "$build/pforge" "$build/examples/libbench.so" "$build/bench/stdio-floor"; do
  [ -x "$f" ] || [ -f "$f" ] || { echo "stdio-bench: $f missing (build first)" >&2; exit 1; }
done

mcpload=$build/bench/mcpload
if [ ! -x "$mcpload" ] || [ "$shared/bench/mcpload.c" -nt "$mcpload" ]; then
  log "cc -O2 -o $mcpload mcpload.c"
  cc -O2 -o "$mcpload" "$shared/bench/mcpload.c"
fi

ts=$build/ts-server
mkdir -p "$ts"
if ! cmp -s "$shared/bench/ts-server/package-lock.json" "$ts/package-lock.json" || [ ! -d "$ts/node_modules" ]; then
  log "npm ci in $ts"
  cp "$shared/bench/ts-server/package.json" "$shared/bench/ts-server/package-lock.json" "$ts/"
  chmod u+w "$ts/package.json" "$ts/package-lock.json"
  (cd "$ts" && npm ci --no-audit --no-fund --loglevel=error) >"$out/npm-ci.log" 2>&1 || { cat "$out/npm-ci.log" >&2; exit 1; }
fi
cp "$shared/bench/ts-server/server.mjs" "$ts/server.mjs.new" && mv -f "$ts/server.mjs.new" "$ts/server.mjs"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || { echo "stdio-bench: node >= 18 needed (have $(node --version))" >&2; exit 1; }

export PFORGE_BUILD=$build
export TMPDIR=$out/tmp # server.sh writes its MCP_EXTRA_TOOLS configs there
floor_cmd=("$build/bench/stdio-floor")
pforge_cmd=("$root/examples/bench/server.sh")
pforge_bin_cmd=("$build/pforge" serve "$root/examples/bench/pforge.yaml")
ts_cmd=(node "$ts/server.mjs")
call=(-t add -a '{"a":2,"b":3}' -e '"text":"5"')

cmd_of() { # name -> the server command, in the array `cmd`
  case $1 in
    floor) cmd=("${floor_cmd[@]}") ;;
    pforge) cmd=("${pforge_cmd[@]}") ;;
    pforge-bin) cmd=("${pforge_bin_cmd[@]}") ;;
    ts) cmd=("${ts_cmd[@]}") ;;
  esac
}

failed=0
# record ROUND KIND SERVER EXTRA -- mcpload args: runs mcpload, keeps its last line
record() {
  local round=$1 kind=$2 name=$3 extra=$4; shift 5
  local f="$out/r$round-$kind-$name-$extra.txt" line
  if ! env MCP_EXTRA_TOOLS="$extra" "$@" >"$f" 2>&1; then
    log "FAILED ($kind $name extra=$extra round $round): see $f"
    tail -5 "$f" >&2
    failed=1
  fi
  line=$(grep '^mcpload:' "$f" | tail -1 || true)
  echo "round=$round kind=$kind name=$name extra=$extra ${line#mcpload: }" >>"$raw"
}

busy_pct() { # CPU busy % of the whole machine over 1 s
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}

# The stream input: initialize, initialized, then M tools/call add.
make_stream() { # M FILE
  awk -v m="$1" 'BEGIN {
    print "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"stdio-bench\",\"version\":\"1\"}}}"
    print "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"
    for (i = 1; i <= m; i++)
      printf "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":3}}}\n", i
  }' >"$2"
}
make_stream "$STREAM_C" "$out/tmp/stream-c.jsonl"
make_stream "$STREAM_TS" "$out/tmp/stream-ts.jsonl"

stream() { # ROUND NAME
  local round=$1 name=$2 m file
  if [ "$name" = ts ]; then m=$STREAM_TS file=$out/tmp/stream-ts.jsonl; else m=$STREAM_C file=$out/tmp/stream-c.jsonl; fi
  cmd_of "$name"
  local tf="$out/r$round-stream-$name.time" t0 t1 got
  t0=$(date +%s%N)
  got=$(cat "$file" | timeout 300 /usr/bin/time -f '%U %S %M' -o "$tf" "${cmd[@]}" 2>/dev/null | grep -c '"text":"5"' || true)
  t1=$(date +%s%N)
  local u s maxkb
  read -r u s maxkb <"$tf" || true
  if [ "$got" != "$m" ]; then
    log "FAILED (stream $name round $round): $got of $m responses carried \"text\":\"5\""
    failed=1
  fi
  awk -v r="$round" -v n="$name" -v m="$m" -v got="$got" -v w="$((t1 - t0))" -v u="$u" -v s="$s" -v k="$maxkb" 'BEGIN {
    printf "round=%s kind=stream name=%s extra=0 m=%d ok=%d wall_ms=%.1f stream_rps=%.0f stream_cpu_us=%.3f stream_hwm_kb=%d\n",
      r, n, m, got, w / 1e6, m / (w / 1e9), (u + s) * 1e6 / m, k }' >>"$raw"
}

pinc=() pins=()
if [ "$pin" = 1 ]; then pinc=(taskset -c 0) pins=(taskset -c 1); fi

start=$(date +%s)
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "host: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- src include examples 2>/dev/null || echo ' (+ uncommitted changes in src/include/examples)')"
  echo "build: $build ($buildinfo); cc: $(cc --version | head -1); node $(node --version); TS SDK $(node -p "require('$ts/node_modules/@modelcontextprotocol/sdk/package.json').version")"
  echo "mode: runs=$runs N=$N P=$P U=$U cold=$COLD mem_tools='$MEM_TOOLS' stream=$STREAM_C (C) / $STREAM_TS (TS) pin=$pin"
} >"$out/env.txt"
cat "$out/env.txt" >&2

servers=(floor pforge ts)
for ((r = 1; r <= runs; r++)); do
  b=$(busy_pct)
  echo "round=$r kind=busy name=machine extra=0 busy_pct=$b" >>"$raw"
  log "round $r/$runs (machine busy before: $b%)"
  # rotate the order every round
  order=("${servers[@]:$(( (r - 1) % 3 ))}" "${servers[@]:0:$(( (r - 1) % 3 ))}")
  for name in "${order[@]}"; do
    cmd_of "$name"
    record "$r" load "$name" 0 -- "${pinc[@]}" "$mcpload" -q -T 120 "${call[@]}" -n "$N" -p "$P" -w 64 -u "$U" -- "${pins[@]}" "${cmd[@]}"
  done
  for name in "${order[@]}" pforge-bin; do
    cmd_of "$name"
    record "$r" cold "$name" 0 -- "$mcpload" -q -T 60 -c "$COLD" -- "${cmd[@]}"
  done
  for extra in $MEM_TOOLS; do
    for name in pforge ts; do
      cmd_of "$name"
      record "$r" mem "$name" "$extra" -- "$mcpload" -q -T 120 -l "${call[@]}" -n "$MEM_N" -p "$MEM_N" -u 200 -- "${cmd[@]}"
    done
  done
  for name in "${order[@]}"; do
    stream "$r" "$name"
  done
  rm -f "$out"/tmp/pforge-bench-*.yaml
done

# Bytes of one dummy tool's own text: its tools/list entry as pforge writes it
# (name, description, input schema), minus its two index digits.
printf '%s\n' \
  '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"stdio-bench","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' |
  MCP_EXTRA_TOOLS=1 "${pforge_cmd[@]}" 2>/dev/null >"$out/tools-list-1.json" || true
rm -f "$out"/tmp/pforge-bench-*.yaml

python3 - "$raw" "$out/tools-list-1.json" "$out/env.txt" "$MEM_TOOLS" >"$out/summary.md" <<'PY'
import json, statistics, sys
raw, listfile, envfile, mem_tools = sys.argv[1], sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4].split()]
recs = []
for line in open(raw):
    d = {}
    for tok in line.split():
        if '=' in tok:
            k, v = tok.split('=', 1)
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    recs.append(d)

def vals(kind, name, key, extra=0):
    return [d[key] for d in recs if d.get('kind') == kind and d.get('name') == name
            and d.get('extra') == extra and isinstance(d.get(key), float)]

def med(kind, name, key, extra=0):
    v = vals(kind, name, key, extra)
    return statistics.median(v) if v else None

def per_round(kind, a, b, key, extra=0):
    """Median over rounds of the ratio a/b measured in the same round."""
    ra = {d['round']: d.get(key) for d in recs if d.get('kind') == kind and d.get('name') == a and d.get('extra') == extra}
    rb = {d['round']: d.get(key) for d in recs if d.get('kind') == kind and d.get('name') == b and d.get('extra') == extra}
    rs = [ra[r] / rb[r] for r in ra if r in rb and isinstance(ra[r], float) and isinstance(rb[r], float) and rb[r]]
    return statistics.median(rs) if rs else None

def spread(kind, name, key, extra=0):
    v = vals(kind, name, key, extra)
    return (min(v), max(v)) if v else (None, None)

def f(x, nd=1):
    if x is None:
        return 'n/a'
    if abs(x) >= 1000 and nd <= 1:
        return f'{x:,.0f}'
    return f'{x:.{nd}f}'

def ratio(x):
    return 'n/a' if x is None else f'{x:.2f}x'

print(open(envfile).read().rstrip().replace('\n', '  \n'))
busy = vals('busy', 'machine', 'busy_pct')
print(f"machine busy before each round: {', '.join('%d%%' % b for b in busy)}")
print()
print('### stdio, tools/call `add`: medians over rounds')
print()
print('| metric | stdio floor | pforge | TS SDK | pforge / TS SDK | pforge / floor | pforge spread (min-max) |')
print('|---|--:|--:|--:|--:|--:|--:|')
rows = [
    ('cold start, exec -> initialize response (ms), via server.sh', 'cold', 'cold_ms', 'pforge', 1, 'lower'),
    ('cold start (ms), pforge binary itself (`pforge serve`)', 'cold', 'cold_ms', 'pforge-bin', 1, 'lower'),
    ('RSS after initialize (KB)', 'load', 'rss_init_kb', 'pforge', 1, 'lower'),
    ('ping-pong p50 (us)', 'load', 'p50_us', 'pforge', 1, 'lower'),
    ('ping-pong p90 (us)', 'load', 'p90_us', 'pforge', 1, 'lower'),
    ('ping-pong p99 (us)', 'load', 'p99_us', 'pforge', 1, 'lower'),
    ('ping-pong req/s', 'load', 'seq_rps', 'pforge', 0, 'higher'),
    ('ping-pong server CPU per request (us)', 'load', 'seq_cpu_us', 'pforge', 2, 'lower'),
    ('pipelined req/s, window 64 (mcpload)', 'load', 'pipe_rps', 'pforge', 0, 'higher'),
    ('pipelined server CPU per request (us)', 'load', 'pipe_cpu_us', 'pforge', 2, 'lower'),
    ('stream req/s, server-bound (no window)', 'stream', 'stream_rps', 'pforge', 0, 'higher'),
    ('stream server CPU per request (us)', 'stream', 'stream_cpu_us', 'pforge', 3, 'lower'),
    ('stream peak RSS (KB)', 'stream', 'stream_hwm_kb', 'pforge', 0, 'lower'),
    ('RSS at end of load phase (KB)', 'load', 'rss_kb', 'pforge', 0, 'lower'),
]
for label, kind, key, pf, nd, _ in rows:
    fl = med(kind, 'floor', key)
    p = med(kind, pf, key)
    t = med(kind, 'ts', key)
    lo, hi = spread(kind, pf, key)
    print(f'| {label} | {f(fl, nd)} | {f(p, nd)} | {f(t, nd)} | {ratio(per_round(kind, pf, "ts", key))} '
          f'| {ratio(per_round(kind, pf, "floor", key))} | {f(lo, nd)}-{f(hi, nd)} |')
print()
print('Ratios are medians of the per-round ratios (both servers measured in the same round).')
print()

# memory per tool
text_bytes = None
try:
    for line in open(listfile):
        msg = json.loads(line)
        for tool in msg.get('result', {}).get('tools', []):
            if tool.get('name') == 'dummy_0':
                text_bytes = len(json.dumps(tool, separators=(',', ':'))) - 2
except (OSError, ValueError):
    pass
if len(mem_tools) > 1 and mem_tools[0] == 0:
    print('### memory per registered tool (`MCP_EXTRA_TOOLS`)')
    print()
    hdr = ' | '.join(f'RSS init, {n} tools (KB)' for n in mem_tools)
    hdr2 = ' | '.join(f'peak RSS, {n} tools (KB)' for n in mem_tools)
    print(f'| server | {hdr} | {hdr2} | B/tool, RSS init, 0->{mem_tools[-1]} | B/tool, peak, 0->{mem_tools[-1]} | B/tool, RSS init, 0->{mem_tools[1]} |')
    print('|---|' + '--:|' * (2 * len(mem_tools) + 3))
    for name, label in (('pforge', 'pforge'), ('ts', 'TS SDK')):
        ri = [med('mem', name, 'rss_init_kb', float(n)) for n in mem_tools]
        hw = [med('mem', name, 'hwm_kb', float(n)) for n in mem_tools]
        def slope(a, b, n):
            return None if a is None or b is None else (b - a) * 1024 / n
        print(f'| {label} | ' + ' | '.join(f(x, 0) for x in ri) + ' | ' + ' | '.join(f(x, 0) for x in hw) +
              f' | {f(slope(ri[0], ri[-1], mem_tools[-1]), 0)} | {f(slope(hw[0], hw[-1], mem_tools[-1]), 0)}'
              f' | {f(slope(ri[0], ri[1], mem_tools[1]), 0)} |')
    print()
    if text_bytes:
        print(f'Own text of one dummy tool (its tools/list entry: name, description, input schema, '
              f'as pforge serializes it, 2-digit index excluded): {text_bytes} B + index digits '
              f'(~3.9 per index on average, twice, for 0..9999).')
    print()
PY
cat "$out/summary.md"
log "done in $(( $(date +%s) - start )) s; raw results in $out"
exit "$failed"

#!/usr/bin/env python3
"""Writes src/cli/hot.ld: the linker script that places the functions a
server runs (start-up, stdio and HTTP serving of examples/bench) next to
each other at the start of the text, so that the pages the kernel maps
around them (fault-around maps 64 KB at a time) hold code that runs, and
the rest of the binary is never read from disk. See docs/performance.md,
"Hot code first".

The functions are the ones callgrind sees in three runs of BUILD/pforge
serve examples/bench/pforge.yaml: stdin a file, stdin a pipe, and HTTP
(initialize, tools/call, tools/list each). libuv comes from its static
archive, compiled without function sections: its objects that hold a
function that ran are listed whole, and so are the C run-time's start-up
files and libc_nonshared.a (pthread_atfork, which libuv calls at start).

A name in the script that a build does not have matches nothing; a
function missing from it is laid out as before. Neither changes behaviour,
only which pages are resident. Regenerate after large changes:

usage: scripts/hot-layout.py [--check] [BUILD_DIR]   (default: build; needs valgrind)

--check writes nothing: it lists the functions BUILD/pforge runs outside its
hot section (the list is stale when there are any) and exits 1 if so.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[1:]
check = "--check" in args
args = [a for a in args if a != "--check"]
build = os.path.abspath(args[0] if args else os.path.join(root, "build"))
pforge = os.path.join(build, "pforge")
config = os.path.join(root, "examples", "bench", "pforge.yaml")
env = dict(os.environ, PFORGE_BUILD=build)
tmp = tempfile.mkdtemp(prefix="pforge-hot-")

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "hot", "version": "1"}}}
MSGS = [INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "add", "arguments": {"a": 1, "b": 2.5}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "echo", "arguments": {"message": "hi"}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 5, "method": "ping"}]
LINES = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in MSGS).encode()


def callgrind(name):
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/{name}.out"]


def run_stdio():
    path = os.path.join(tmp, "in.jsonl")
    with open(path, "wb") as f:
        f.write(LINES)
    with open(path, "rb") as f:
        subprocess.run(callgrind("file") + [pforge, "serve", config], stdin=f,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    p = subprocess.Popen(callgrind("pipe") + [pforge, "serve", config], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    p.stdin.write(LINES)
    p.stdin.flush()
    for _ in range(5):  # the answers: all requests but the notification
        p.stdout.readline()
    p.stdin.close()
    p.wait(60)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_http():
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    p = subprocess.Popen(callgrind("http") + [pforge, "serve", config, "--http",
                                              f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    sid = None
    for _ in range(200):
        try:
            req = urllib.request.Request(url, data=json.dumps(INIT).encode(), headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream"})
            with urllib.request.urlopen(req, timeout=10) as r:
                sid = r.headers["Mcp-Session-Id"]
                r.read()
            break
        except OSError:
            time.sleep(0.1)
    for m in MSGS[1:]:
        req = urllib.request.Request(url, data=json.dumps(m).encode(), headers={
            "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
            "Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"})
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
    p.terminate()
    p.wait(60)


def functions(out):
    text = subprocess.run(["callgrind_annotate", "--threshold=100", out], capture_output=True,
                          text=True, check=True).stdout
    names = set()
    for line in text.splitlines():
        m = re.search(r":([^ :]+) \[(.*)\]$", line)
        # valgrind names some functions' object ??? (sections it does not
        # expect in a text segment): a name from another object matches nothing
        if m and m.group(2) in (pforge, "???"):
            names.add(re.sub(r"'\d+$", "", m.group(1)))
    return {n for n in names if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", n)}


def libuv_map():
    """libuv's archive: function name -> the object file that defines it."""
    ar = subprocess.run(["pkg-config", "--variable=libdir", "libuv-static"], capture_output=True,
                        text=True).stdout.strip() or "/usr/lib/x86_64-linux-gnu"
    nm = subprocess.run(["nm", "-A", "--defined-only", os.path.join(ar, "libuv_a.a")],
                        capture_output=True, text=True, check=True).stdout
    objs = {}
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tT":
            objs[parts[2]] = parts[0].split(":")[1]
    return objs


run_stdio()
run_http()
ran = {run: functions(os.path.join(tmp, f"{run}.out")) for run in ("file", "pipe", "http")}
for run, names in ran.items():
    if len(names) < 100:
        sys.exit(f"{run}: too few functions in the profile (no symbols, or the run failed)")
# stdio through a pipe first (the common case: a desktop client), then what
# only a file on stdin or HTTP runs, so the first case's code is densest
first = ran["pipe"]
rest = (ran["file"] | ran["http"]) - first
if check:
    sec = subprocess.run(["readelf", "-SW", pforge], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"\.text\.pforge_hot\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", sec)
    lo, hi = (int(m.group(1), 16), int(m.group(1), 16) + int(m.group(2), 16)) if m else (0, 0)
    nm = subprocess.run(["nm", "--defined-only", pforge], capture_output=True, text=True,
                        check=True).stdout
    addr = {p[2]: int(p[0], 16) for p in (l.split() for l in nm.splitlines()) if len(p) == 3}
    outside = sorted(n for n in first | rest
                     if n in addr and not lo <= addr[n] < hi and not n.startswith("_"))
    print(f"{pforge}: {len(outside)} functions that ran are outside .text.pforge_hot"
          + (": " + " ".join(outside) if outside else ""))
    sys.exit(1 if outside else 0)
uv = libuv_map()
first_objs = sorted({uv[n] for n in first if n in uv})
rest_objs = sorted({uv[n] for n in rest if n in uv} - set(first_objs))
out = ["/* Generated by scripts/hot-layout.py: the functions examples/bench runs",
       " * (start-up, stdio, HTTP) first in the text. Linked into release builds",
       " * (meson option hot_layout); see docs/performance.md, \"Hot code first\". */",
       "SECTIONS", "{", "  .text.pforge_hot :", "  {"]
for names, objs in ((first, first_objs), (rest, rest_objs)):
    for n in sorted(names):
        out.append(f"    *(.text.{n} .text.hot.{n} .text.startup.{n})")
    # a local copy LTO made (pf_buf_putc.lto_priv.1) has its function's section name
    for n in sorted({re.sub(r"\.lto_priv\.\d+$", "", n) for n in names} - names):
        out.append(f"    *(.text.{n} .text.{n}.lto_priv.*)")
    for o in objs:
        out.append(f"    *libuv_a.a:{o}(.text .text.*)")
    if names is first:
        # the C run-time's start-up files (_start, frame_dummy, ...), and
        # libc_nonshared.a's pthread_atfork, which libuv calls at start:
        # else they are in the middle and at the end of the text
        out.append("    *crt1.o(.text .text.*) *crti.o(.text .text.*) *crtbeginS.o(.text .text.*)")
        out.append("    *crtendS.o(.text .text.*) *crtn.o(.text .text.*)")
        out.append("    *libc_nonshared.a:*(.text .text.*)")
    # GCC puts a function it predicts is never called (a first-use set-up
    # behind an unlikely branch) whole in .text.unlikely, and the cold
    # parts of others there too: after the rest, as some of it runs
    for n in sorted({re.sub(r"\.cold$", "", n) for n in names}):
        out.append(f"    *(.text.unlikely.{n})")
out += ["  }", "}", "INSERT BEFORE .text;"]
dest = os.path.join(root, "src", "cli", "hot.ld")
with open(dest, "w") as f:
    f.write("\n".join(out) + "\n")
print(f"{dest}: {len(first)} + {len(rest)} functions, {len(first_objs)} + {len(rest_objs)} "
      "libuv objects")

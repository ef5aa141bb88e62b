#!/usr/bin/env python3
"""RSS after initialize of examples/bench with 0, 1,000 and 10,000 extra tools
(MCP_EXTRA_TOOLS, through examples/bench/server.sh), and the slope in bytes per tool.
Then the same with tools whose schemas all differ (each takes its own parameter
name), since tools with identical schemas share one compiled validator.

usage: bench/rss_per_tool.py [BUILD_DIR]   (default: build)
"""
import os
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build"))
INIT = (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
        b'"capabilities":{},"clientInfo":{"name":"rss","version":"1"}}}\n')


def rss_kb(extra):
    env = dict(os.environ, PFORGE_BUILD=build, PFORGE=os.path.join(build, "pforge"),
               MCP_EXTRA_TOOLS=str(extra))
    p = subprocess.Popen([os.path.join(root, "examples", "bench", "server.sh")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    p.stdin.write(INIT)
    p.stdin.flush()
    p.stdout.readline()  # the initialize response: the server is up
    with open(f"/proc/{p.pid}/status") as f:
        kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
    p.stdin.close()
    p.wait(30)
    return kb


def rss_kb_distinct(extra):
    base = open(os.path.join(root, "examples", "bench", "pforge.yaml")).read()
    base = base.replace("${PFORGE_BUILD:-../../build}", build)
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"pforge-distinct-{extra}-{os.getpid()}.yaml")
    with open(path, "w") as f:
        f.write(base)
        for i in range(extra):
            f.write(f"  - type: native\n    name: dummy_{i}\n    description: Dummy tool {i} "
                    f"(benchmark padding)\n    handler: {{ path: dummy }}\n    params:\n"
                    f"      value_{i}: string\n")
    try:
        p = subprocess.Popen([os.path.join(build, "pforge"), "serve", path],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        p.stdin.write(INIT)
        p.stdin.flush()
        p.stdout.readline()
        with open(f"/proc/{p.pid}/status") as f:
            kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
        p.stdin.close()
        p.wait(30)
    finally:
        os.unlink(path)
    return kb


for label, fn in (("identical schemas", rss_kb), ("distinct schemas", rss_kb_distinct)):
    r = {n: fn(n) for n in (0, 1000, 10000)}
    print(f"{label}: RSS after initialize (KB): " +
          " / ".join(f"{n} tools: {kb}" for n, kb in r.items()))
    print(f"{label}: bytes per tool (0 -> 10,000): {(r[10000] - r[0]) * 1024 / 10000:.0f}")

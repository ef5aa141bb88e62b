#!/usr/bin/env python3
"""E2E: examples/bench/server.sh maps the benchmark harness's variables
(../shared/bench/README.md) to pforge options: MCP_TRANSPORT=http with
MCP_PORT, MCP_HTTP_MODE session|stateless, MCP_JSON_RESPONSE, MCP_WORKERS,
and MCP_EXTRA_TOOLS (whose generated config must not pile up).

usage: bench_server.py BUILD_DIR   (PF_SOURCE_DIR: the source tree)
Binds 127.0.0.1 only; stops only the servers it started.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1])
SRC = os.environ["PF_SOURCE_DIR"]
SERVER = os.path.join(SRC, "examples", "bench", "server.sh")
passed = failed = 0


def check(name, ok, detail=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok -", name)
    else:
        failed += 1
        print("not ok -", name, "" if detail is None else repr(detail)[:400])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """server.sh on HTTP with the given variables, stopped on exit."""

    def __init__(self, **env):
        self.port = free_port()
        e = dict(os.environ, PFORGE_BUILD=BUILD, MCP_TRANSPORT="http", MCP_PORT=str(self.port))
        e.update({k: str(v) for k, v in env.items()})
        self.p = subprocess.Popen([SERVER], env=e, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.p.poll() is not None:
                    break
                time.sleep(0.02)
        raise RuntimeError("server.sh did not start: " + self.p.stderr.read().decode())

    def post(self, msg, sid=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
             "MCP-Protocol-Version": "2025-06-18"}
        if sid:
            h["Mcp-Session-Id"] = sid
        c.request("POST", "/mcp", json.dumps(msg), h)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        ctype = r.getheader("Content-Type", "")
        if ctype.startswith("text/event-stream"):
            data = [l[5:].strip() for l in body.splitlines() if l.startswith("data:") and l[5:].strip()]
            body = data[-1] if data else ""
        return r.status, ctype, r.getheader("Mcp-Session-Id"), json.loads(body) if body else None

    def threads(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            return int(next(l.split()[1] for l in f if l.startswith("Threads:")))

    def stop(self):
        self.p.terminate()
        try:
            return self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "bench_server.py", "version": "1"}}}
ADD = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
       "params": {"name": "add", "arguments": {"a": 2, "b": 3}}}


def text(r):
    try:
        return r["result"]["content"][0]["text"]
    except (KeyError, IndexError, TypeError):
        return None


# session mode, JSON replies
s = Http(MCP_HTTP_MODE="session", MCP_JSON_RESPONSE=1, MCP_WORKERS=1)
st, ctype, sid, r = s.post(INIT)
check("session: initialize gives a session id", st == 200 and sid and len(sid) >= 16, (st, sid))
st, ctype, _, r = s.post(ADD)
check("session: a call without the session id is 400", st == 400, (st, r))
st, ctype, _, r = s.post(ADD, sid)
check("session + MCP_JSON_RESPONSE=1: add answers 5 as application/json",
      st == 200 and ctype.startswith("application/json") and text(r) == "5", (st, ctype, r))
t1 = s.threads()
check("session: exits 0 on SIGTERM", s.stop() == 0)

# stateless mode, SSE replies (the harness's default), two workers
s = Http(MCP_HTTP_MODE="stateless", MCP_WORKERS=2)
st, ctype, sid, r = s.post(ADD)
check("stateless: tools/call without initialize, answered as an SSE stream",
      st == 200 and ctype.startswith("text/event-stream") and text(r) == "5" and sid is None,
      (st, ctype, sid, r))
echo = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hello world"}}}
st, ctype, _, r = s.post(echo)
check("stateless: echo", st == 200 and text(r) == "hello world", r)
t2 = s.threads()
check("MCP_WORKERS=2 runs one more thread than MCP_WORKERS=1", t2 == t1 + 1, (t1, t2))
check("stateless: exits 0 on SIGTERM", s.stop() == 0)

# MCP_TRANSPORT must be stdio or http
p = subprocess.run([SERVER], env=dict(os.environ, PFORGE_BUILD=BUILD, MCP_TRANSPORT="carrier-pigeon"),
                   capture_output=True, text=True)
check("an unknown MCP_TRANSPORT is refused", p.returncode == 2 and "MCP_TRANSPORT" in p.stderr, p.stderr)

# MCP_EXTRA_TOOLS: the generated config is rewritten, not added to, on every run
with tempfile.TemporaryDirectory() as tmp:
    for n in (7, 7, 7):
        s = Http(MCP_EXTRA_TOOLS=n, TMPDIR=tmp, MCP_JSON_RESPONSE=1)
        st, _, sid, _ = s.post(INIT)
        lst = {"jsonrpc": "2.0", "id": 4, "method": "tools/list"}
        st, _, _, r = s.post(lst, sid)
        names = [t["name"] for t in (r or {}).get("result", {}).get("tools", [])]
        s.stop()
    check("MCP_EXTRA_TOOLS=7: the bench tools and 7 dummies",
          names[:2] == ["echo", "add"] and names[2:] == [f"dummy_{i}" for i in range(7)], names)
    files = [os.path.join(d, f) for d, _, fs in os.walk(tmp) for f in fs]
    check("three runs leave one generated config", len(files) == 1, files)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

"""A small stdio MCP client for the e2e tests (mcp_resilience.py,
mcp_pipeline.py): starts build/pforge serve CONFIG, sends JSON-RPC lines,
collects notifications, and counts checks."""
import json
import os
import select
import subprocess
import time

passed = failed = 0
started = []


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name} {str(detail)[:2000]}")


def finish():
    """Kills what is still running, prints the summary, returns the exit code."""
    for p in started:
        if p.poll() is None:
            p.kill()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


class Server:
    def __init__(self, pf, config, build):
        e = dict(os.environ, PFORGE_BUILD=build)
        self.notes = []
        self.p = subprocess.Popen([pf, "serve", config], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        started.append(self.p)
        self.buf = b""
        self.next_id = 1
        self.pending = {}

    def send(self, obj):
        self.p.stdin.write(json.dumps(obj).encode() + b"\n")
        self.p.stdin.flush()

    def recv(self, timeout):
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def start(self, method, params=None):
        id = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return id

    def wait(self, id, timeout=15.0):
        """The response to id; notifications are collected in self.notes."""
        if id in self.pending:
            return self.pending.pop(id)
        end = time.time() + timeout
        while True:
            m = self.recv(max(0.0, end - time.time()))
            if m is None:
                return None
            if "id" not in m:
                self.notes.append(m)
            elif m["id"] == id:
                return m
            else:
                self.pending[m["id"]] = m

    def call(self, name, args=None, timeout=15.0):
        id = self.start("tools/call", {"name": name, "arguments": args or {}})
        return self.wait(id, timeout)

    def initialize(self):
        id = self.start("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                       "clientInfo": {"name": "t", "version": "1"}})
        r = self.wait(id)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.send({"jsonrpc": "2.0", "id": 0, "method": "logging/setLevel",
                   "params": {"level": "debug"}})
        self.wait(0)
        return r

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(10)
        except Exception:
            self.p.kill()


def text(r):
    try:
        return "".join(c.get("text", "") for c in r["result"]["content"])
    except Exception:
        return ""


def is_error(r):
    return bool(r and r.get("result", {}).get("isError"))

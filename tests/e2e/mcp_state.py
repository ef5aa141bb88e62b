#!/usr/bin/env python3
"""E2E tests of the state store over stdio with examples/counter.

usage: mcp_state.py PFORGE_BINARY BUILD_DIR SOURCE_DIR
lmdb: counters survive a restart; memory: they do not; redis (a real
redis-server on a free 127.0.0.1 port, skipped when it is not installed):
two pforge processes share counters, a Redis restart gives clear errors and
then recovers; TTLs expire through the tools.
Prints one line per check and ends with "N passed, N failed".
"""
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PF, BUILD, SRC = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
EXAMPLE = os.path.join(SRC, "examples", "counter", "pforge.yaml")
LIB = os.path.join(BUILD, "examples", "libcounter.so")
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


class Server:
    def __init__(self, config, env=None):
        e = dict(os.environ, PFORGE_BUILD=BUILD, **(env or {}))
        self.p = subprocess.Popen([PF, "serve", config], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        started.append(self.p)
        self.buf = b""
        self.next_id = 1
        self.initialize()

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
        l, self.buf = self.buf.split(b"\n", 1)
        return json.loads(l)

    def request(self, method, params, timeout=15.0):
        id = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        end = time.time() + timeout
        while True:
            m = self.recv(max(0.0, end - time.time()))
            if m is None or m.get("id") == id:
                return m

    def initialize(self):
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "e2e-state", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def call(self, name, args, timeout=15.0):
        r = self.request("tools/call", {"name": name, "arguments": args}, timeout)
        return (r or {}).get("result")

    def text(self, name, args):
        r = self.call(name, args)
        return "".join(c.get("text", "") for c in (r or {}).get("content", [])), bool(
            (r or {}).get("isError"))

    def close(self):
        self.p.stdin.close()
        try:
            rc = self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = "timeout"
        self.stderr = self.p.stderr.read().decode(errors="replace")
        return rc


tmp = tempfile.mkdtemp(prefix="pf-state-e2e-")


def config(name, state):
    """The example's tools with another state block, in tmp."""
    with open(EXAMPLE) as f:
        text = f.read()
    head, rest = text.split("\nstate:\n", 1)
    tools = rest[rest.index("\ntools:"):]
    head = head.replace("${PFORGE_BUILD:-../../build}/examples/libcounter.so", LIB)
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(head + "\nstate:\n" + state + "\n" + tools)
    return path


# ---- the example validates ----------------------------------------------------------------------
p = subprocess.run([PF, "validate", EXAMPLE], capture_output=True, text=True)
check("examples/counter/pforge.yaml validates", p.returncode == 0, p.stdout + p.stderr)

# ---- lmdb: persisted across a restart -----------------------------------------------------------
store = os.path.join(tmp, "counter-state")
s = Server(EXAMPLE, {"COUNTER_STATE": store})
check("lmdb: increment a new counter", s.text("increment", {"name": "visits"}) == ("1", False))
check("lmdb: increment by 41", s.text("increment", {"name": "visits", "by": 41}) == ("42", False))
check("lmdb: get", s.text("get", {"name": "visits"}) == ("42", False))
check("lmdb: get a missing counter is 0", s.text("get", {"name": "nope"}) == ("0", False))
check("lmdb: the store directory was created", os.path.exists(os.path.join(store, "data.mdb")))
check("lmdb: clean exit", s.close() == 0, s.stderr)
s = Server(EXAMPLE, {"COUNTER_STATE": store})
check("lmdb: the value survived the restart", s.text("get", {"name": "visits"}) == ("42", False))
check("lmdb: and counts on", s.text("increment", {"name": "visits", "by": -2}) == ("40", False))
check("lmdb: reset", s.text("reset", {"name": "visits"}) == ("reset", False))
check("lmdb: reset again", s.text("reset", {"name": "visits"}) == ("no such counter", False))
check("lmdb: after reset", s.text("get", {"name": "visits"}) == ("0", False))
# TTL through the tools
check("lmdb: set_with_ttl", s.text("set_with_ttl", {"name": "t", "value": 7, "ttl_ms": 300})
      == ("7 for 300 ms", False))
check("lmdb: before expiry", s.text("get", {"name": "t"}) == ("7", False))
time.sleep(0.5)
check("lmdb: after expiry", s.text("get", {"name": "t"}) == ("0", False))
check("lmdb: an expired counter starts again", s.text("increment", {"name": "t"}) == ("1", False))
s.close()
# a store that cannot be opened is a start-up error
bad = os.path.join(tmp, "a-file")
open(bad, "w").close()
p = subprocess.run([PF, "serve", EXAMPLE], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                   env=dict(os.environ, PFORGE_BUILD=BUILD, COUNTER_STATE=bad))
check("lmdb: an unusable path is a start-up error with its location",
      p.returncode == 1 and "pforge.yaml:13:" in p.stderr and "state: " in p.stderr
      and "a-file" in p.stderr, p.stderr)

# ---- memory: shared by sessions of one process, gone after it ----------------------------------
mem = config("memory", "  backend: memory\n  max_size: 2")
s = Server(mem)
check("memory: increment", s.text("increment", {"name": "a", "by": 3}) == ("3", False))
check("memory: get", s.text("get", {"name": "a"}) == ("3", False))
s.text("increment", {"name": "b"})
out, err = s.text("increment", {"name": "c"})
check("memory: max_size refuses a third key with a clear error",
      err and "limit exceeded" in out, out)
check("memory: TTL", s.text("set_with_ttl", {"name": "a", "value": 5, "ttl_ms": 200})[1] is False)
time.sleep(0.4)
check("memory: TTL expired", s.text("get", {"name": "a"}) == ("0", False))
s.close()
s = Server(mem)
check("memory: nothing survives a restart", s.text("get", {"name": "b"}) == ("0", False))
s.close()
# no state block at all: memory
nostate = os.path.join(tmp, "nostate.yaml")
with open(mem) as f:
    text = f.read()
with open(nostate, "w") as f:
    f.write(text.replace("\nstate:\n  backend: memory\n  max_size: 2\n", "\n"))
s = Server(nostate)
check("no state block: memory", s.text("increment", {"name": "x", "by": 2}) == ("2", False))
s.close()


# ---- redis --------------------------------------------------------------------------------------
def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def start_redis(port):
    r = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--daemonize", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(r)
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return r
        except OSError:
            time.sleep(0.01)
    return r


def stop_redis(r):
    r.kill()
    r.wait()


if shutil.which("redis-server"):
    port = free_port()
    red = start_redis(port)
    cfg = config("redis", f"  backend: redis\n  url: redis://127.0.0.1:{port}/2")
    a, b = Server(cfg), Server(cfg)
    check("redis: increment in process A", a.text("increment", {"name": "shared"}) == ("1", False))
    check("redis: process B sees it", b.text("increment", {"name": "shared", "by": 10})
          == ("11", False))
    check("redis: process A sees B's", a.text("get", {"name": "shared"}) == ("11", False))
    # both at once
    for i in range(50):
        a.send({"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call",
                "params": {"name": "increment", "arguments": {"name": "race"}}})
        b.send({"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call",
                "params": {"name": "increment", "arguments": {"name": "race"}}})
    for srv in (a, b):
        got = 0
        end = time.time() + 20
        while got < 50 and time.time() < end:
            m = srv.recv(max(0.0, end - time.time()))
            if m is None:
                break
            if m.get("id", 0) >= 1000:
                got += 1
    check("redis: 100 concurrent increments from two processes",
          a.text("get", {"name": "race"}) == ("100", False))
    check("redis: TTL", a.text("set_with_ttl", {"name": "t", "value": 9, "ttl_ms": 300})[1] is False)
    check("redis: TTL seen by B", b.text("get", {"name": "t"}) == ("9", False))
    time.sleep(0.5)
    check("redis: TTL expired", b.text("get", {"name": "t"}) == ("0", False))
    # Redis goes away: clear errors, no hang, no crash
    stop_redis(red)
    t0 = time.time()
    out, err = a.text("increment", {"name": "shared"})
    check("redis down: isError with a clear message", err and "unavailable" in out, out)
    out, err = b.text("get", {"name": "shared"})
    check("redis down: B too", err and "unavailable" in out, out)
    check("redis down: answered quickly", time.time() - t0 < 6, time.time() - t0)
    red = start_redis(port)
    ok = False
    end = time.time() + 15
    while time.time() < end and not ok:
        ok = a.text("increment", {"name": "fresh"}) == ("1", False)
        if not ok:
            time.sleep(0.2)
    check("redis back: A recovers", ok)
    ok = False
    end = time.time() + 15
    while time.time() < end and not ok:
        ok = b.text("get", {"name": "fresh"}) == ("1", False)
        if not ok:
            time.sleep(0.2)
    check("redis back: B recovers and sees A's write", ok)
    check("redis: A exits cleanly", a.close() == 0, a.stderr)
    check("redis: B exits cleanly", b.close() == 0, b.stderr)
    check("redis: the outage was logged", "unavailable" in a.stderr, a.stderr)
    # with redis, a native tool that does not say `blocking:` runs on the thread pool; one that
    # says `blocking: false` runs inline on the loop and gets the one-time warning
    with open(cfg) as f:
        text = f.read()
    inc = text.index("name: increment")
    text = text[:inc] + text[inc:].replace("    blocking: true\n", "", 1)
    g = text.index("name: get")
    text = text[:g] + text[g:].replace("    blocking: true\n", "    blocking: false\n", 1)
    cfg2 = os.path.join(tmp, "redis-default-blocking.yaml")
    with open(cfg2, "w") as f:
        f.write(text)
    c = Server(cfg2)
    c.initialize()
    check("redis: a tool without `blocking` works", c.text("increment", {"name": "pool"})
          == ("1", False))
    check("redis: a `blocking: false` tool works", c.text("get", {"name": "pool"}) == ("1", False))
    c.close()
    check("redis: only the `blocking: false` tool waited on the event loop (warning names it)",
          "tool 'get' uses redis state on the event loop" in c.stderr and
          "tool 'increment'" not in c.stderr, c.stderr)
    stop_redis(red)
    # unreachable at start: serves, fails calls clearly
    cfg = config("redis-down", f"  backend: redis\n  url: redis://127.0.0.1:{free_port()}")
    s = Server(cfg)
    out, err = s.text("increment", {"name": "x"})
    check("redis unreachable at start: serves, calls fail clearly", err and "unavailable" in out,
          out)
    check("redis unreachable at start: clean exit", s.close() == 0, s.stderr)
    # a bad url is a start-up error
    cfg = config("redis-bad", "  backend: redis\n  url: http://127.0.0.1")
    p = subprocess.run([PF, "serve", cfg], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    check("redis: a bad url is a start-up error", p.returncode == 1 and "redis://" in p.stderr,
          p.stderr)
else:
    print("ok - # SKIP redis: redis-server is not installed")

for p in started:
    if p.poll() is None:
        p.kill()
        p.wait()
shutil.rmtree(tmp, ignore_errors=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

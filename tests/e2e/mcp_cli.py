#!/usr/bin/env python3
"""E2E tests of cli tools over stdio against tests/e2e/cli/pforge.yaml.

usage: mcp_cli.py PFORGE_BINARY BUILD_DIR SOURCE_DIR
Prints one line per check and ends with "N passed, N failed".
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import time

PF, BUILD, SRC = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
FIXTURE = os.path.join(SRC, "tests", "e2e", "cli")
CONFIG = os.path.join(FIXTURE, "pforge.yaml")
MARK = f"9{os.getpid():07d}{int(time.time() * 1000) % 100000:05d}"
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
    def __init__(self, config=CONFIG):
        e = dict(os.environ, PF_CLI_DIR=FIXTURE, PF_CLI_KEEP="kept", PF_CLI_DROP="dropped")
        self.p = subprocess.Popen([PF, "serve", config], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        started.append(self.p)
        self.buf = b""
        self.next_id = 1

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

    def start(self, method, params=None, meta=None):
        id = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return id

    def collect(self, id, timeout=15.0):
        notes, end = [], time.time() + timeout
        while True:
            m = self.recv(max(0.0, end - time.time()))
            if m is None:
                return notes, None
            if "method" in m and "id" not in m:
                notes.append(m)
            elif m.get("id") == id:
                return notes, m

    def call(self, name, args=None, token=None, timeout=15.0):
        params = {"name": name, "arguments": args or {}}
        if token is not None:
            params["_meta"] = {"progressToken": token}
        id = self.start("tools/call", params)
        self.notes, r = self.collect(id, timeout)
        return r.get("result") if r else None

    def initialize(self):
        id = self.start("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                       "clientInfo": {"name": "e2e-cli", "version": "1"}})
        self.collect(id)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def close(self):
        self.p.stdin.close()
        try:
            return self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return "timeout"


def texts(r):
    return [c.get("text", "") for c in (r or {}).get("content", [])]


def leftovers():
    out = subprocess.run(["pgrep", "-f", MARK], capture_output=True, text=True).stdout
    return out.split()


def wait_no_leftovers(timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if not leftovers():
            return True
        time.sleep(0.1)
    return not leftovers()


s = Server()
s.initialize()

# ---- argv: no shell, no splitting -------------------------------------------------------------
victim = os.path.join(tempfile.gettempdir(), f"pf-cli-victim-{os.getpid()}")
attacks = [f"; rm -rf {victim}", f"$(touch {victim})", f"`touch {victim}`", "a\nb; touch " + victim,
           "-rf", "two words", "*", "", "'\"\\"]
for a in attacks:
    r = s.call("argv", {"a": a, "b": "--" + a})
    got = json.loads(texts(r)[0]) if r and not r.get("isError") else None
    check(f"argv element arrives literally: {a!r}", got == [a, "fixed", "--" + a], r)
check("no injected command ran", not os.path.exists(victim))

r = s.call("echo_default", {})
check("declared param default is rendered", texts(r) == ["hello\n"], r)
r = s.call("echo_default", {"word": "bye"})
check("declared param value is rendered", texts(r) == ["bye\n"], r)

# ---- inferred params ---------------------------------------------------------------------------
id = s.start("tools/list", {})
_, lst = s.collect(id)
tools = {t["name"]: t for t in lst["result"]["tools"]}
check("params inferred from args templates",
      tools["argv"]["inputSchema"].get("required") == ["a", "b"] and
      tools["argv"]["inputSchema"]["properties"]["a"] == {"type": "string"}, tools["argv"])
check("params inferred from env, cwd and stdin templates",
      tools["envtool"]["inputSchema"].get("required") == ["who"] and
      tools["cwdtool"]["inputSchema"].get("required") == ["dir"] and
      tools["stdintool"]["inputSchema"].get("required") == ["name"])
r = s.call("argv", {"a": "x"})
check("a missing inferred param is an invalid-arguments error",
      r and r.get("isError") and "Invalid arguments" in texts(r)[0], r)

# ---- exit status, stderr, output kinds ------------------------------------------------------------
r = s.call("fail")
t = "\n".join(texts(r))
check("non-zero exit: isError with exit code, stderr and stdout",
      r and r.get("isError") and "exited with code 3" in t and "bad thing" in t and "out" in t, r)
r = s.call("json_out")
check("output: json gives structuredContent", r and r.get("structuredContent") == {"n": 1, "s": "x"}
      and not r.get("isError"), r)
r = s.call("binary")
check("non-UTF-8 output becomes U+FFFD in valid JSON", texts(r) == ["ok\ufffd\ufffdend"], r)
r = s.call("huge")
t = texts(r)[0] if r else ""
check("huge output truncated at max_output_bytes with a note",
      t.startswith("x" * 1000) and "x" * 1001 not in t and "truncated at 1000 bytes" in t, t[:200])
r = s.call("missing_cmd")
check("a missing command is a clear isError", r and r.get("isError") and
      "no such file" in texts(r)[0], r)

# ---- streaming ----------------------------------------------------------------------------------
r = s.call("lines", token="tok1")
prog = [n["params"] for n in s.notes if n["method"] == "notifications/progress"]
check("stream: one progress notification per line", [p.get("message") for p in prog] ==
      ["line1", "line2", "line3"] and all(p["progressToken"] == "tok1" for p in prog), s.notes)
logs = [n["params"]["data"] for n in s.notes if n["method"] == "notifications/message"]
check("stream: lines also as log messages", logs == ["line1", "line2", "line3"], s.notes)
check("stream: the result holds all the output", texts(r) == ["line1\nline2\nline3\n"], r)

# ---- env, cwd, stdin -------------------------------------------------------------------------------
r = s.call("envtool", {"who": "bob"})
env = dict(l.split("=", 1) for l in texts(r)[0].splitlines() if "=" in l) if r else {}
check("env_clear keeps only the allowlist plus env",
      env.get("GREETING") == "hi bob" and env.get("PF_CLI_KEEP") == "kept" and "PATH" in env and
      "PF_CLI_DROP" not in env and "HOME" not in env, env)
r = s.call("envinherit")
env = dict(l.split("=", 1) for l in texts(r)[0].splitlines() if "=" in l) if r else {}
check("without env_clear the environment is inherited",
      env.get("GREETING") == "hello" and env.get("PF_CLI_DROP") == "dropped", env)
d = tempfile.mkdtemp()
r = s.call("cwdtool", {"dir": d})
check("cwd is templated", texts(r) == [os.path.realpath(d) + "\n"] or texts(r) == [d + "\n"], r)
os.rmdir(d)
r = s.call("stdintool", {"name": "ann $(x)"})
check("stdin template is written to the command", texts(r) == ["NAME=ANN $(X)\n"], r)

# ---- extra args ------------------------------------------------------------------------------------
r = s.call("extra_no", {"args": ["x"]})
check("allow_extra_args false: caller args rejected", r and r.get("isError") and
      "Invalid arguments" in texts(r)[0], r)
r = s.call("extra_no")
check("allow_extra_args false: fixed argv", r and json.loads(texts(r)[0]) == ["base"], r)
r = s.call("extra_yes", {"args": ["-x", "; ls", "a b"]})
check("allow_extra_args true: caller args appended literally",
      r and json.loads(texts(r)[0]) == ["base", "-x", "; ls", "a b"], r)

# ---- timeout: SIGTERM ignored -> SIGKILL ------------------------------------------------------------
t0 = time.time()
r = s.call("ignore_term", {"mark": MARK}, timeout=20)
dt = time.time() - t0
check("a command ignoring SIGTERM is killed after the grace and reported as a timeout",
      r and r.get("isError") and "timed out after 500 ms" in texts(r)[0] and "SIGKILL" in texts(r)[0]
      and 2.0 <= dt < 6, (dt, r))
check("no leftover process after the timeout", wait_no_leftovers(), leftovers())

# ---- grandchild ---------------------------------------------------------------------------------
t0 = time.time()
r = s.call("grandchild", {"mark": MARK})
check("a command that forks a grandchild and exits completes",
      r and texts(r) == ["started\n"] and time.time() - t0 < 5, r)
check("the grandchild is killed", wait_no_leftovers(), leftovers())

# ---- cancellation --------------------------------------------------------------------------------
id = s.start("tools/call", {"name": "sleeper", "arguments": {"mark": MARK},
                            "_meta": {"progressToken": "c1"}})
m = s.recv(5)
check("the long command started (progress)", m and m.get("method") == "notifications/progress", m)
time.sleep(0.2)
check("it is running", len(leftovers()) >= 1, leftovers())
s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id}})
check("cancellation kills the process group", wait_no_leftovers(), leftovers())
stray = []
end = time.time() + 1.0
while time.time() < end:
    m = s.recv(0.2)
    if m is not None and m.get("id") == id:
        stray.append(m)
check("no response for a cancelled call", not stray, stray)
r = s.call("echo_default", {})
check("the server still answers after a cancellation", texts(r) == ["hello\n"], r)

# ---- many at once ---------------------------------------------------------------------------------
ids = [s.start("tools/call", {"name": "argv", "arguments": {"a": str(i), "b": "b"}}) for i in range(20)]
got = {}
end = time.time() + 20
while len(got) < len(ids) and time.time() < end:
    m = s.recv(max(0.0, end - time.time()))
    if m is None:
        break
    if m.get("id") in ids:
        got[m["id"]] = m
check("20 concurrent calls all complete correctly",
      len(got) == 20 and all(json.loads(got[i]["result"]["content"][0]["text"])[0] == str(n)
                             for n, i in enumerate(ids)), len(got))

# ---- SIGTERM to the server while a command runs ------------------------------------------------------
s.start("tools/call", {"name": "sleeper", "arguments": {"mark": MARK}})
time.sleep(0.3)
t0 = time.time()
s.p.send_signal(15)
try:
    rc = s.p.wait(10)
except subprocess.TimeoutExpired:
    rc = "timeout"
check("SIGTERM while a command runs: the server exits 0 promptly", rc == 0 and time.time() - t0 < 5,
      (rc, time.time() - t0))
check("and the command is killed", wait_no_leftovers(), leftovers())
err = s.p.stderr.read().decode(errors="replace")
check("no sanitizer report", "Sanitizer" not in err and "runtime error" not in err, err)

# ---- EOF: a running command finishes first (here: by its timeout) -------------------------------------
s = Server()
s.initialize()
id = s.start("tools/call", {"name": "ignore_term", "arguments": {"mark": MARK}})
s.p.stdin.close()
_, r = s.collect(id, 10)
check("EOF: the running command still completes (timeout) and is answered",
      r and r["result"].get("isError") and "timed out" in r["result"]["content"][0]["text"], r)
try:
    rc = s.p.wait(10)
except subprocess.TimeoutExpired:
    rc = "timeout"
check("then the server exits 0", rc == 0, rc)
check("and nothing is left running", wait_no_leftovers(), leftovers())

# ---- examples/cli-tools validates -----------------------------------------------------------------
ex = os.path.join(SRC, "examples", "cli-tools", "pforge.yaml")
p = subprocess.run([PF, "validate", ex], capture_output=True, text=True)
check("examples/cli-tools/pforge.yaml validates", p.returncode == 0, p.stdout + p.stderr)

# ---- load errors with file:line:col -------------------------------------------------------------------
bad = os.path.join(tempfile.mkdtemp(), "bad.yaml")
with open(bad, "w") as f:
    f.write("forge: {name: x, version: '1'}\ntools:\n  - type: cli\n    name: c\n    description: d\n"
            "    command: ls\n    output: xml\n    max_output_bytes: 0\n    env_allow: [PATH]\n")
p = subprocess.run([PF, "validate", bad], capture_output=True, text=True)
check("bad cli keys are load errors with locations",
      p.returncode != 0 and f"{bad}:7:13: tools[0].output: invalid value 'xml'" in p.stderr + p.stdout
      and f"{bad}:8:23: tools[0].max_output_bytes" in p.stderr + p.stdout
      and "env_allow applies only with env_clear: true" in p.stderr + p.stdout, p.stderr + p.stdout)
with open(bad, "w") as f:
    f.write("forge: {name: x, version: '1'}\ntools:\n  - type: cli\n    name: c\n    description: d\n"
            "    command: ls\n    stdin: '{{#if x}}'\n")
p = subprocess.run([PF, "serve", bad], capture_output=True, text=True, stdin=subprocess.DEVNULL)
check("a bad cli template is a start-up error naming the key",
      p.returncode == 1 and "tools[0] 'c': stdin: 1:1" in p.stderr, p.stderr)

for p in started:
    if p.poll() is None:
        p.kill()
        p.wait()
for pid in leftovers():
    try:
        os.kill(int(pid), 9)
    except OSError:
        pass

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

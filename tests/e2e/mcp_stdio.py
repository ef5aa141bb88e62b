#!/usr/bin/env python3
"""E2E tests: start the real build/pforge over stdio and speak raw JSON-RPC.

usage: mcp_stdio.py PFORGE_BINARY BUILD_DIR SOURCE_DIR
Prints one line per check and ends with "N passed, N failed".
"""
import json
import os
import select
import subprocess
import sys
import time

PF, BUILD, SRC = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name} {detail}")


class Server:
    """pforge serve of examples/<example>, or of the config file `config`."""
    def __init__(self, example, extra_args=(), env=None, config=None):
        e = dict(os.environ, PFORGE_BUILD=BUILD)
        if env:
            e.update(env)
        self.p = subprocess.Popen(
            [PF, "serve", config or os.path.join(SRC, "examples", example, "pforge.yaml"), *extra_args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        self.buf = b""
        self.next_id = 1

    def send_raw(self, data: bytes):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def send(self, obj):
        self.send_raw(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def line(self, timeout=10.0):
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
        return l

    def recv(self, timeout=10.0):
        l = self.line(timeout)
        return None if l is None else json.loads(l)

    def request(self, method, params=None, id=None):
        if id is None:
            id = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.recv()

    def initialize(self, version="2025-11-25", caps=None):
        r = self.request("initialize", {"protocolVersion": version, "capabilities": caps or {},
                                        "clientInfo": {"name": "e2e", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return r

    def close(self):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = -9
        self.stderr = self.p.stderr.read().decode(errors="replace")
        return rc


def text_of(r):
    return r["result"]["content"][0]["text"]


# ---- lifecycle -------------------------------------------------------------
s = Server("hello")
r = s.request("ping")
check("ping before initialize answers {}", r == {"jsonrpc": "2.0", "id": 1, "result": {}}, r)
r = s.request("tools/list")
check("tools/list before initialize is -32600", r and r.get("error", {}).get("code") == -32600, r)
r = s.initialize()
res = r["result"]
check("initialize echoes 2025-11-25", res["protocolVersion"] == "2025-11-25", r)
check("serverInfo from forge", res["serverInfo"] == {"name": "hello-world", "version": "0.1.0"}, res)
check("capabilities declare tools and logging",
      "tools" in res["capabilities"] and "logging" in res["capabilities"], res)
r = s.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                             "clientInfo": {"name": "x", "version": "1"}})
check("duplicate initialize is -32600", r["error"]["code"] == -32600, r)
r = s.request("tools/list")
tools = r["result"]["tools"]
check("tools/list lists greet", [t["name"] for t in tools] == ["greet"], r)
schema = tools[0]["inputSchema"]
check("greet schema from params", schema.get("type") == "object" and schema.get("required") == ["name"]
      and schema["properties"]["greeting"].get("default") == "Hello", schema)
r = s.request("tools/call", {"name": "greet", "arguments": {"name": "Ada"}})
check("greet with default greeting", text_of(r) == "Hello, Ada!", r)
r = s.request("tools/call", {"name": "greet", "arguments": {"name": "Ada", "greeting": "Hi"}})
check("greet with greeting", text_of(r) == "Hi, Ada!", r)
r = s.request("tools/call", {"name": "greet", "arguments": {}})
check("missing required argument is an isError result naming it",
      r["result"].get("isError") is True and "name" in text_of(r), r)
r = s.request("tools/call", {"name": "greet", "arguments": {"name": 42}})
check("wrong argument type is an isError result",
      r["result"].get("isError") is True and "string" in text_of(r), r)
r = s.request("tools/call", {"name": "nope", "arguments": {}})
check("unknown tool is -32602", r["error"]["code"] == -32602, r)
r = s.request("no/such/method")
check("unknown method is -32601", r["error"]["code"] == -32601, r)
r = s.request("logging/setLevel", {"level": "debug"})
check("logging/setLevel", r.get("result") == {}, r)
r = s.request("logging/setLevel", {"level": "loud"})
check("bad log level is -32602", r["error"]["code"] == -32602, r)

# ---- bad input: the server answers and keeps serving -------------------------
s.send_raw(b'{"jsonrpc":"2.0","id":1,\n')
r = s.recv()
check("malformed JSON is -32700 with id null", r["error"]["code"] == -32700 and r["id"] is None, r)
s.send_raw(b'{"jsonrpc":"2.0","id":7,"method":"ping","x":"\xff\xfe"}\n')
r = s.recv()
check("invalid UTF-8 is -32700", r["error"]["code"] == -32700, r)
s.send_raw(b"[" * 10000 + b"]" * 10000 + b"\n")
r = s.recv()
check("depth 10,000 nesting is an error", r and "error" in r, r)
for bad_id in ["{}", "[1]", "true", "null", "1.5"]:
    s.send_raw(('{"jsonrpc":"2.0","id":%s,"method":"ping"}\n' % bad_id).encode())
    r = s.recv()
    check(f"id {bad_id} is -32600 with id null", r["error"]["code"] == -32600 and r["id"] is None, r)
s.send_raw(b'{"jsonrpc":"1.0","id":3,"method":"ping"}\n')
r = s.recv()
check("jsonrpc 1.0 is -32600", r["error"]["code"] == -32600 and r["id"] == 3, r)
s.send_raw(b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]\n')
r = s.recv()
check("batch without 2025-03-26 is -32600", r["error"]["code"] == -32600, r)
s.send_raw(b'{"jsonrpc":"2.0","method":"notifications/whatever"}\n')
r = s.request("ping", id="after-notification")
check("unknown notification gets no response", r["id"] == "after-notification", r)
s.send_raw(b'{"jsonrpc":"2.0","id":"s","method":"ping","id":"t"}\n')
r = s.recv()
check("duplicate keys are rejected", r["error"]["code"] == -32700, r)
r = s.request("ping", id="still-alive")
check("still serving after bad input", r == {"jsonrpc": "2.0", "id": "still-alive", "result": {}}, r)
rc = s.close()
check("exits 0 when stdin closes", rc == 0, (rc, s.stderr))

# a 100 MB line: a limit error, no crash, and the next request is answered
s = Server("hello")
s.initialize()
chunk = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + b"a" * (1 << 20)
s.send_raw(chunk)
for _ in range(99):
    s.send_raw(b"a" * (1 << 20))
s.send_raw(b'"}}\n')
r = s.recv(30)
check("100 MB line is a limit error", r and r.get("error", {}).get("code") == -32600 and "limit" in r["error"]["message"], r)
r = s.request("ping", id="after-big")
check("serving after the 100 MB line", r and r.get("id") == "after-big", r)
s.close()

# pipelined requests: many lines in one write, answered in order
s = Server("hello")
s.initialize()
n = 2000
# written from a thread: the pipes in both directions fill up otherwise
import threading
writer = threading.Thread(target=s.send_raw, args=(b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"greet","arguments":{"name":"n%d"}}}\n' % (i, i) for i in range(n)),))
writer.start()
ok = True
for i in range(n):
    r = s.recv()
    if not r or r["id"] != i or text_of(r) != f"Hello, n{i}!":
        ok = False
        break
writer.join()
check("2,000 pipelined calls answered in order", ok)
rc = s.close()
check("stdout carried only JSON-RPC (stderr has the logs)", rc == 0)

# ---- calculator ---------------------------------------------------------------
s = Server("calculator")
s.initialize("2025-06-18")
r = s.request("tools/call", {"name": "calculate", "arguments": {"operation": "divide", "a": 1, "b": 0}})
check("division by zero is an error result", r["result"].get("isError") is True and text_of(r) == "Division by zero", r)
r = s.request("tools/call", {"name": "calculate", "arguments": {"operation": "multiply", "a": 1.5, "b": 4}})
check("multiply", text_of(r) == "6" and r["result"].get("structuredContent") == {"result": 6}, r)
r = s.request("tools/call", {"name": "calculate", "arguments": {"operation": "add", "a": "1", "b": 2}})
check("string for a float param is an error result", r["result"].get("isError") is True, r)
s.close()

# ---- bench contract ------------------------------------------------------------
s = Server("bench")
r = s.initialize("2025-03-26")
check("2025-03-26 negotiated", r["result"]["protocolVersion"] == "2025-03-26", r)
r = s.request("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
check("add 2 3 gives \"5\"", text_of(r) == "5", r)
r = s.request("tools/call", {"name": "echo", "arguments": {"message": "héllo \"wörld\"\n"}})
check("echo round-trips text", text_of(r) == "héllo \"wörld\"\n", r)
s.send_raw(b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":1}}}]\n')
r = s.recv()
check("batch with 2025-03-26 answered as an array",
      isinstance(r, list) and [m["id"] for m in r] == [1, 2] and r[1]["result"]["content"][0]["text"] == "2", r)
r = s.request("initialize", {"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}})
check("second initialize refused", "error" in r, r)
s.close()
s = Server("bench")
r = s.initialize("1999-01-01")
check("unknown version gets the latest", r["result"]["protocolVersion"] == "2025-11-25", r)
s.close()

# ---- MCP_EXTRA_TOOLS via server.sh ---------------------------------------------
env = dict(os.environ, PFORGE_BUILD=BUILD, PFORGE=PF, MCP_EXTRA_TOOLS="250")
p = subprocess.Popen([os.path.join(SRC, "examples", "bench", "server.sh")], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
msgs = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]
out, err = p.communicate(b"".join(json.dumps(m).encode() + b"\n" for m in msgs), timeout=20)
lines = [json.loads(l) for l in out.splitlines()]
page = lines[1]["result"]
names = [t["name"] for t in page["tools"]]
check("server.sh with MCP_EXTRA_TOOLS=250: first page has 100 tools and a cursor",
      len(names) == 100 and names[:3] == ["echo", "add", "dummy_0"] and "nextCursor" in page, names[:5])

# ---- subscriptions: a watched file resource ---------------------------------
def messages_for(srv, seconds):
    """Every message that arrives within `seconds`."""
    out, end = [], time.time() + seconds
    while True:
        l = srv.line(max(0.0, end - time.time()))
        if l is None:
            return out
        out.append(json.loads(l))


def updated(uri):
    return {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}}


import tempfile
with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "notes.txt"), "w") as f:
        f.write("v1")
    with open(os.path.join(tmp, "pforge.yaml"), "w") as f:
        f.write("forge: {name: watch, version: 1.0.0}\n"
                "resources:\n"
                "  - uri: notes://today\n    name: today\n    file: notes.txt\n"
                "    mime_type: text/plain\n    supports: [read, subscribe]\n")
    p = subprocess.Popen([PF, "serve", os.path.join(tmp, "pforge.yaml")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    w = Server.__new__(Server)
    w.p, w.buf, w.next_id = p, b"", 1
    r = w.initialize()
    check("resources capability with subscribe", r["result"]["capabilities"].get("resources", {}).get("subscribe") is True, r)
    r = w.request("resources/read", {"uri": "notes://today"})
    check("file resource read", r["result"]["contents"][0]["text"] == "v1", r)
    r = w.request("resources/subscribe", {"uri": "notes://today"})
    check("subscribe", r.get("result") == {}, r)
    time.sleep(0.2)
    with open(os.path.join(tmp, "notes.txt"), "w") as f:
        f.write("v2")
    m = messages_for(w, 1.0)
    check("a change to the file notifies the subscriber once", m == [updated("notes://today")], m)
    r = w.request("resources/read", {"uri": "notes://today"})
    check("the new content is read", r["result"]["contents"][0]["text"] == "v2", r)
    r = w.request("resources/unsubscribe", {"uri": "notes://today"})
    check("unsubscribe", r.get("result") == {}, r)
    with open(os.path.join(tmp, "notes.txt"), "w") as f:
        f.write("v3")
    check("no notification after unsubscribe", w.line(1.0) is None)
    rc = w.close()
    check("watch server exits cleanly", rc == 0, w.stderr)

# ---- a watched file replaced the ways editors and tools replace files --------
# The watch follows the file's name, not its first inode; the events of one
# change (a truncate and a write, a create and a write) give one notification
# within the 50 ms the server coalesces them over, so 1 s catches any extra.
with tempfile.TemporaryDirectory() as tmp:
    notes = os.path.join(tmp, "notes.txt")
    with open(notes, "w") as f:
        f.write("v1")
    with open(os.path.join(tmp, "other.txt"), "w") as f:
        f.write("other")
    cfg = os.path.join(tmp, "pforge.yaml")
    with open(cfg, "w") as f:
        f.write("forge: {name: watch, version: 1.0.0}\n"
                "resources:\n"
                "  - uri: notes://today\n    name: today\n    file: notes.txt\n"
                "    mime_type: text/plain\n    supports: [read, subscribe]\n"
                "  - uri: notes://other\n    name: other\n    file: other.txt\n"
                "    mime_type: text/plain\n    supports: [read, subscribe]\n")
    w = Server(None, config=cfg)
    w.initialize()
    r = w.request("resources/subscribe", {"uri": "notes://today"})
    check("watch: subscribe", r.get("result") == {}, r)
    time.sleep(0.2)

    def read_notes():
        r = w.request("resources/read", {"uri": "notes://today"})
        return r.get("result", {}).get("contents") or r.get("error")

    def contents(text):
        return [{"uri": "notes://today", "mimeType": "text/plain", "text": text}]

    def save_by_rename(text):  # how editors save: a temporary file renamed over
        with open(notes + ".swp", "w") as f:
            f.write(text)
        os.rename(notes + ".swp", notes)

    def write_in_place(text):
        with open(notes, "w") as f:
            f.write(text)

    for i, text in enumerate(["saved once", "saved twice"]):
        save_by_rename(text)
        m = messages_for(w, 1.0)
        check(f"watch: rename-over save {i + 1} notifies exactly once", m == [updated("notes://today")], m)
        r = read_notes()
        check(f"watch: rename-over save {i + 1} is read", r == contents(text), r)
    write_in_place("written in place")
    m = messages_for(w, 1.0)
    check("watch: an in-place write after the saves notifies exactly once", m == [updated("notes://today")], m)
    r = read_notes()
    check("watch: the in-place write is read", r == contents("written in place"), r)

    os.unlink(notes)
    m = messages_for(w, 1.0)
    check("watch: deleting the file notifies exactly once", m == [updated("notes://today")], m)
    r = read_notes()
    check("watch: the deleted file reads as -32002",
          r == {"code": -32002, "message": "Resource not found", "data": {"uri": "notes://today"}}, r)
    write_in_place("recreated")
    m = messages_for(w, 1.0)
    check("watch: recreating the file notifies exactly once", m == [updated("notes://today")], m)
    r = read_notes()
    check("watch: the recreated file is read", r == contents("recreated"), r)
    write_in_place("after recreate")
    m = messages_for(w, 1.0)
    check("watch: the recreated file is still watched", m == [updated("notes://today")], m)
    r = read_notes()
    check("watch: and read", r == contents("after recreate"), r)

    # a burst of saves is coalesced (fewer notifications than saves; each
    # 50 ms window sends at most one), and the last save is never dropped:
    # a notification follows it and the read sees it
    for i in range(5):
        save_by_rename(f"burst {i}")
    m = messages_for(w, 1.0)
    check("watch: a burst of 5 saves notifies 1 to 4 times, only for notes://today",
          1 <= len(m) <= 4 and all(x == updated("notes://today") for x in m), m)
    r = read_notes()
    check("watch: the last save of the burst is read", r == contents("burst 4"), r)

    # another file in the same directory, and the temporary files, are not notes://today
    with open(os.path.join(tmp, "other.txt"), "w") as f:
        f.write("changed")
    with open(notes + ".swp", "w") as f:
        f.write("not yet renamed")
    m = messages_for(w, 1.0)
    check("watch: changes to other files of the directory notify nothing", m == [], m)

    r = w.request("resources/unsubscribe", {"uri": "notes://today"})
    check("watch: unsubscribe", r.get("result") == {}, r)
    save_by_rename("unsubscribed")
    m = messages_for(w, 1.0)
    check("watch: no notification after unsubscribe", m == [], m)
    rc = w.close()
    check("watch: server exits cleanly", rc == 0, w.stderr)

# ---- pf_resource_updated from native handlers, inline and blocking ------------
FIXTURE = os.path.join(SRC, "tests", "e2e", "full", "stdio.yaml")
LIB = os.path.join(BUILD, "tests", "libfull_fixture.so")
check("the full fixture library is built (ninja builds tests/libfull_fixture.so)",
      os.path.exists(LIB), LIB)
s = Server(None, config=FIXTURE)
s.initialize()


def call_collect(srv, tool, args):
    """Calls tool; returns (its response, the other messages until 0.5 s after it)."""
    id = srv.next_id
    srv.next_id += 1
    srv.send({"jsonrpc": "2.0", "id": id, "method": "tools/call",
              "params": {"name": tool, "arguments": args}})
    resp, others, end = None, [], time.time() + 10
    while time.time() < end:
        l = srv.line(max(0.0, end - time.time()))
        if l is None:
            break
        m = json.loads(l)
        if m.get("id") == id and "method" not in m:
            resp = m
            end = min(end, time.time() + 0.5)
        else:
            others.append(m)
    return resp, others


r = s.request("resources/subscribe", {"uri": "docs://inline"})
check("handlers: subscribe to docs://inline", r.get("result") == {}, r)
r = s.request("resources/subscribe", {"uri": "status://disk"})
check("handlers: subscribe to a template resource status://disk", r.get("result") == {}, r)
for tool in ["touch", "touch_blocking"]:
    for uri in ["docs://inline", "status://disk"]:
        resp, m = call_collect(s, tool, {"uri": uri})
        check(f"handlers: {tool} {uri} answers",
              resp and resp.get("result") == {"content": [{"type": "text", "text": f"touched {uri}"}]}, resp)
        check(f"handlers: {tool} {uri} reaches the subscriber once", m == [updated(uri)], m)
    resp, m = call_collect(s, tool, {"uri": "docs://unsubscribed"})
    check(f"handlers: {tool} of a URI nobody subscribed to sends nothing",
          resp and "result" in resp and m == [], (resp, m))
# pipelined in one write: the update an inline handler signals comes out in order, after
# the responses to the requests before it and before the call's own response
batch = [{"jsonrpc": "2.0", "id": "o1", "method": "ping"},
         {"jsonrpc": "2.0", "id": "o2", "method": "tools/call",
          "params": {"name": "touch", "arguments": {"uri": "docs://inline"}}},
         {"jsonrpc": "2.0", "id": "o3", "method": "ping"}]
s.send_raw(b"".join(json.dumps(m).encode() + b"\n" for m in batch))
seen = []
for _ in range(4):
    m = s.recv(5)
    seen.append(m.get("id", m.get("method")) if isinstance(m, dict) else m)
check("handlers: pipelined ping, touch, ping: ping, the update, touch's answer, ping",
      seen == ["o1", "notifications/resources/updated", "o2", "o3"], seen)
for uri in ["docs://inline", "status://disk"]:
    r = s.request("resources/unsubscribe", {"uri": uri})
    check(f"handlers: unsubscribe {uri}", r.get("result") == {}, r)
for tool in ["touch", "touch_blocking"]:
    for uri in ["docs://inline", "status://disk"]:
        resp, m = call_collect(s, tool, {"uri": uri})
        check(f"handlers: after unsubscribe, {tool} {uri} answers and sends nothing",
              resp and resp.get("result", {}).get("content", [{}])[0].get("text") == f"touched {uri}"
              and m == [], (resp, m))

# ---- resources/templates/list: page_size 1, three templates, three pages ------
pages, cursor = [], None
for _ in range(4):  # one more than needed: a cursor on the last page fails the check
    r = s.request("resources/templates/list", {"cursor": cursor} if cursor else {})
    pages.append(r.get("result"))
    cursor = (r.get("result") or {}).get("nextCursor")
    if not cursor:
        break
check("templates/list walks 3 pages of one template each via nextCursor",
      [[t for t in p["resourceTemplates"]] for p in pages] == [
          [{"uriTemplate": "notes://{folder}/{id}", "name": "notes", "mimeType": "text/plain"}],
          [{"uriTemplate": "files://{name}", "name": "files", "mimeType": "text/plain"}],
          [{"uriTemplate": "status://{what}", "name": "status"}]]
      and all("nextCursor" in p for p in pages[:2]) and "nextCursor" not in pages[-1], pages)
r = s.request("resources/read", {"uri": "files://a"})
check("templates: a template on page 2 is read",
      r.get("result") == {"contents": [{"uri": "files://a", "mimeType": "text/plain", "text": "file a\n"}]}, r)
rc = s.close()
check("handlers fixture server exits cleanly", rc == 0, s.stderr)

# ---- file resources stay inside their root --------------------------------
with tempfile.TemporaryDirectory() as tmp:
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "files"))
    with open(os.path.join(tmp, "secret.txt"), "w") as f:
        f.write("outside the root")
    with open(os.path.join(root, "files", "a.txt"), "w") as f:
        f.write("inside")
    # a symlink inside the root that leads out of it
    os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(root, "files", "out.txt"))
    cfg = os.path.join(root, "pforge.yaml")
    with open(cfg, "w") as f:
        f.write("forge: {name: roots, version: 1.0.0}\n"
                "resources:\n"
                "  - uri: static://a\n    name: a\n    file: files/a.txt\n"
                "  - uri_template: files://{name}\n    name: files\n    file: files/{name}.txt\n"
                "prompts:\n  - name: embed\n    messages:\n"
                "      - {role: user, resource: {uri: static://a}}\n")
    t = Server(None, config=cfg)
    t.initialize()
    r = t.request("resources/read", {"uri": "files://a"})
    check("root: a file inside the root is read",
          r.get("result") == {"contents": [{"uri": "files://a", "text": "inside"}]}, r)
    r = t.request("resources/read", {"uri": "files://out"})
    check("root: a symlink out of the root is -32002 at read time",
          r.get("error") == {"code": -32002, "message": "Resource not found", "data": {"uri": "files://out"}}, r)
    # a static file replaced after the load by a symlink out of the root
    r = t.request("resources/read", {"uri": "static://a"})
    check("root: the static file is read", r.get("result") == {"contents": [{"uri": "static://a", "text": "inside"}]}, r)
    r = t.request("prompts/get", {"name": "embed"})
    check("root: a prompt embeds the static file",
          (r.get("result") or {}).get("messages", [{}])[0].get("content", {}).get("resource", {}).get("text") == "inside", r)
    os.unlink(os.path.join(root, "files", "a.txt"))
    os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(root, "files", "a.txt"))
    r = t.request("resources/read", {"uri": "static://a"})
    check("root: a static file replaced by a symlink out of the root is -32002",
          r.get("error") == {"code": -32002, "message": "Resource not found", "data": {"uri": "static://a"}}, r)
    r = t.request("prompts/get", {"name": "embed"})
    check("root: nor can a prompt embed it", "error" in r and "outside the root" not in json.dumps(r), r)
    rc = t.close()
    check("root: server exits cleanly", rc == 0, t.stderr)

    for bad in ["../secret.txt", "/etc/passwd"]:
        with open(cfg, "w") as f:
            f.write("forge: {name: roots, version: 1.0.0}\n"
                    "resources:\n"
                    f"  - uri: static://bad\n    name: bad\n    file: {bad}\n")
        want = (f"{cfg}:5:11: resources[0].file: '{bad}' must be a relative path inside "
                "resources_root (no '/' start, no '..')\n")
        for cmd in ["validate", "serve"]:
            p = subprocess.run([PF, cmd, cfg], stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
            check(f"root: `pforge {cmd}` with file: {bad} fails with the message",
                  p.returncode == 1 and p.stdout == b"" and p.stderr.decode() == want,
                  (p.returncode, p.stdout, p.stderr))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

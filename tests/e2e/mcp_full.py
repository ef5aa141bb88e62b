#!/usr/bin/env python3
"""E2E tests of every stdio MCP feature against the fixture server in
tests/e2e/full (pforge.yaml + handlers.c built as tests/libfull_fixture.so).

usage: mcp_full.py PFORGE_BINARY BUILD_DIR SOURCE_DIR
Prints one line per check and ends with "N passed, N failed".
"""
import base64
import json
import os
import select
import signal
import subprocess
import sys
import time

PF, BUILD, SRC = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
FIXTURE = os.path.join(SRC, "tests", "e2e", "full")
CONFIG = os.path.join(FIXTURE, "pforge.yaml")
REVISIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
passed = failed = 0
started = []  # every process this script starts, killed at the end if still running


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name} {str(detail)[:2000]}")


class Server:
    def __init__(self, extra_args=(), config=CONFIG):
        e = dict(os.environ, PFORGE_BUILD=BUILD)
        self.p = subprocess.Popen([PF, "serve", config, *extra_args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        started.append(self.p)
        self.buf = b""
        self.next_id = 1
        self.eof = False

    def send_raw(self, data: bytes):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def send(self, obj):
        self.send_raw(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def line(self, timeout=10.0):
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0 or self.eof:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            if not chunk:
                self.eof = True
                return None
            self.buf += chunk
        l, self.buf = self.buf.split(b"\n", 1)
        return l

    def recv(self, timeout=10.0):
        l = self.line(timeout)
        return None if l is None else json.loads(l)

    def start(self, method, params=None, id=None):
        """Sends a request; returns its id."""
        if id is None:
            id = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return id

    def collect(self, id, timeout=10.0):
        """Reads until the response with this id: (notifications, response,
        [(arrival time, message)] for everything read). Other responses go
        to self.other."""
        notes, log, end = [], [], time.time() + timeout
        self.other = []
        while True:
            m = self.recv(max(0.0, end - time.time()))
            if m is None:
                return notes, None, log
            log.append((time.time(), m))
            if isinstance(m, dict) and "method" in m and "id" not in m:
                notes.append(m)
            elif isinstance(m, dict) and m.get("id") == id:
                return notes, m, log
            else:
                self.other.append(m)

    def request(self, method, params=None, id=None, timeout=10.0):
        id = self.start(method, params, id)
        notes, r, _ = self.collect(id, timeout)
        self.notes = notes
        return r

    def initialize(self, version="2025-11-25"):
        r = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                        "clientInfo": {"name": "e2e-full", "version": "1"}})
        self.notify("notifications/initialized")
        return r

    def quiet(self, timeout=0.3):
        """True when nothing arrives within timeout."""
        return self.line(timeout) is None

    def close(self, timeout=10):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = "timeout"
        self.stderr = self.p.stderr.read().decode(errors="replace")
        return rc


def err_code(r):
    return r.get("error", {}).get("code") if isinstance(r, dict) else None


def result(r):
    return r.get("result") if isinstance(r, dict) else None


def text_of(r, i=0):
    try:
        return r["result"]["content"][i]["text"]
    except (KeyError, IndexError, TypeError):
        return None


def call(s, name, args=None, meta=None, id=None):
    p = {"name": name, "arguments": args or {}}
    if meta:
        p["_meta"] = meta
    return s.request("tools/call", p, id=id)


def list_all(s, method, key):
    """Follows nextCursor; returns (items, pages)."""
    items, pages, cursor = [], 0, None
    while True:
        r = s.request(method, {"cursor": cursor} if cursor else {})
        res = result(r)
        if res is None:
            return None, pages
        pages += 1
        items += res[key]
        cursor = res.get("nextCursor")
        if not cursor or pages > 50:
            return items, pages


def b64(data):
    return base64.b64encode(data).decode()


PNG = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0xFF])
WAV = b"RIFF\x00\x01\x02\x03"
with open(os.path.join(FIXTURE, "content", "logo.bin"), "rb") as f:
    LOGO = f.read()
ALL_TOOLS = ["everything", "sum", "bad_sum", "broken_structured", "slow", "chatty", "fail_code",
             "fail_result", "annotated"]

# ---- initialize per revision ---------------------------------------------------
for ver in REVISIONS:
    s = Server()
    r = s.initialize(ver)
    res = result(r) or {}
    vi = REVISIONS.index(ver)
    check(f"[{ver}] initialize echoes the revision", res.get("protocolVersion") == ver, r)
    caps = res.get("capabilities", {})
    check(f"[{ver}] capabilities", caps.get("tools") == {"listChanged": True}
          and caps.get("resources") == {"subscribe": True, "listChanged": True}
          and caps.get("prompts") == {"listChanged": True} and caps.get("logging") == {}
          and (("completions" in caps) == (vi >= 1)), caps)
    info = res.get("serverInfo", {})
    want = {"name": "full-fixture", "version": "1.2.3"}
    if vi >= 2:
        want["title"] = "Full Fixture"
    if vi >= 3:
        want.update(description="Exercises every MCP feature of pforge",
                    icons=[{"src": "https://example.com/forge.png", "mimeType": "image/png",
                            "sizes": ["48x48"]}],
                    websiteUrl="https://example.com/forge")
    check(f"[{ver}] serverInfo has exactly the revision's fields", info == want, info)
    check(f"[{ver}] instructions", res.get("instructions") == "Use the tools wisely.", res)
    tools, pages = list_all(s, "tools/list", "tools")
    check(f"[{ver}] tools/list paginates by 2 over {len(ALL_TOOLS)} tools",
          tools is not None and [t["name"] for t in tools] == ALL_TOOLS and pages == 5,
          (pages, tools and [t["name"] for t in tools]))
    tools = {t["name"]: t for t in tools or []}
    ann = tools.get("annotated", {})
    check(f"[{ver}] tool title only from 2025-06-18", ("title" in ann) == (vi >= 2)
          and ann.get("title", "Annotated Tool") == "Annotated Tool", ann)
    want_ann = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
                "openWorldHint": False}
    check(f"[{ver}] tool annotations only from 2025-03-26",
          ann.get("annotations") == (want_ann if vi >= 1 else None), ann)
    check(f"[{ver}] tool icons only in 2025-11-25",
          ann.get("icons") == ([{"src": "https://example.com/tool.png", "mimeType": "image/png"}]
                               if vi >= 3 else None), ann)
    check(f"[{ver}] outputSchema only from 2025-06-18",
          ("outputSchema" in tools.get("sum", {})) == (vi >= 2)
          and all("outputSchema" not in t for n, t in tools.items() if n not in ("sum", "bad_sum")),
          tools.get("sum"))
    check(f"[{ver}] every tool has an object inputSchema",
          all(t["inputSchema"].get("type") == "object" for t in tools.values()), tools)
    r = s.request("tools/call", {"name": "sum", "arguments": {"a": 1, "b": 2}})
    check(f"[{ver}] structuredContent only from 2025-06-18, its text block always",
          ("structuredContent" in (result(r) or {})) == (vi >= 2)
          and result(r).get("structuredContent", {"sum": 3}) == {"sum": 3}
          and json.loads(text_of(r) or "null") == {"sum": 3}, r)
    prompts, _ = list_all(s, "prompts/list", "prompts")
    g = (prompts or [{}])[0]
    check(f"[{ver}] prompt title only from 2025-06-18", ("title" in g) == (vi >= 2), g)
    res_list, _ = list_all(s, "resources/list", "resources")
    inline = (res_list or [{}])[0]
    check(f"[{ver}] resource title only from 2025-06-18",
          inline.get("uri") == "docs://inline" and ("title" in inline) == (vi >= 2), inline)
    rc = s.close()
    check(f"[{ver}] exits 0", rc == 0, (rc, s.stderr))

# unsupported revision: the latest is offered
s = Server()
r = s.initialize("2099-01-01")
check("unknown revision answered with 2025-11-25",
      (result(r) or {}).get("protocolVersion") == "2025-11-25", r)
r = s.request("initialize", {"protocolVersion": "2025-11-25"})
check("second initialize is -32600", err_code(r) == -32600, r)
s.close()

# ---- the main session (2025-11-25) ---------------------------------------------------
s = Server()
r = s.request("ping")
check("ping before initialize", r == {"jsonrpc": "2.0", "id": 1, "result": {}}, r)
for m in ["tools/list", "tools/call", "resources/read", "prompts/get", "completion/complete",
          "logging/setLevel"]:
    r = s.request(m, {})
    check(f"{m} before initialize is -32600", err_code(r) == -32600, r)
r = s.request("initialize", {"capabilities": {}})
check("initialize without protocolVersion is -32602", err_code(r) == -32602, r)
s.initialize()
r = s.request("ping", id="p")
check("ping answers an empty result", r == {"jsonrpc": "2.0", "id": "p", "result": {}}, r)
r = s.request("ping", {"_meta": {"x": 1}})
check("ping with params", result(r) == {}, r)

# tools/list cursors
r = s.request("tools/list")
cur = result(r)["nextCursor"]
r2 = s.request("tools/list", {"cursor": cur})
check("second page differs", [t["name"] for t in result(r2)["tools"]] == ["bad_sum", "broken_structured"], r2)
r3 = s.request("tools/list", {"cursor": cur})
check("a cursor can be reused", r3["result"] == r2["result"], r3)
for bad in ["garbage!", "", b64(b"pforge:99"), b64(b"pforge:0"), b64(b"pforge:-1"),
            b64(b"other:1"), 5, True, {"x": 1}]:
    r = s.request("tools/list", {"cursor": bad})
    check(f"invalid cursor {bad!r} is -32602", err_code(r) == -32602, r)
r = s.request("tools/list", {"cursor": None})
check("null cursor is the first page", [t["name"] for t in result(r)["tools"]] == ["everything", "sum"], r)
r = s.request("tools/list", [1])
check("array params are -32602", err_code(r) == -32602, r)

# tools/call: every content type
r = call(s, "everything", {"who": "Ada"})
c = (result(r) or {}).get("content", [])
check("everything: 6 blocks, in order",
      [b.get("type") for b in c] == ["text", "image", "audio", "resource_link", "resource", "resource"], c)
if len(c) == 6:
    check("text block", c[0] == {"type": "text", "text": "text for Ada"}, c[0])
    check("image block", c[1] == {"type": "image", "data": b64(PNG), "mimeType": "image/png"}, c[1])
    check("audio block", c[2] == {"type": "audio", "data": b64(WAV), "mimeType": "audio/wav"}, c[2])
    check("resource_link block", c[3] == {"type": "resource_link", "uri": "docs://inline",
                                          "name": "inline", "mimeType": "text/plain"}, c[3])
    check("embedded text resource", c[4] == {"type": "resource", "resource": {
        "uri": "mem://note", "mimeType": "text/plain", "text": "embedded text"}}, c[4])
    check("embedded blob resource", c[5] == {"type": "resource", "resource": {
        "uri": "mem://blob", "mimeType": "application/octet-stream", "blob": b64(PNG)}}, c[5])
check("everything is not an error", "isError" not in result(r), r)
r = call(s, "everything")
check("schema default reaches pf_arg", text_of(r) == "text for world", r)
r = s.request("tools/call", {"name": "everything"})
check("arguments may be omitted", text_of(r) == "text for world", r)
r = call(s, "everything", {"who": 5})
check("invalid argument is an isError result",
      result(r).get("isError") is True and "who" in text_of(r), r)
r = call(s, "everything", {"extra": 1})
check("unknown argument is an isError result", result(r).get("isError") is True, r)
r = s.request("tools/call", {"name": "everything", "arguments": [1]})
check("non-object arguments are -32602", err_code(r) == -32602, r)
r = s.request("tools/call", {"arguments": {}})
check("tools/call without name is -32602", err_code(r) == -32602, r)
r = call(s, "no_such_tool")
check("unknown tool is -32602", err_code(r) == -32602 and "no_such_tool" in r["error"]["message"], r)

# structured output
r = call(s, "sum", {"a": 1, "b": 2.5})
check("structuredContent", result(r).get("structuredContent") == {"sum": 3.5}, r)
check("structuredContent also as a text block",
      result(r)["content"] == [{"type": "text", "text": json.dumps({"sum": 3.5}, separators=(",", ":"))}], r)
r = call(s, "bad_sum")
check("output violating outputSchema is an isError result without structuredContent",
      result(r).get("isError") is True and "structuredContent" not in result(r)
      and "outputSchema" in text_of(r), r)
s.send({"jsonrpc": "2.0", "id": "broken", "method": "tools/call",
        "params": {"name": "broken_structured", "arguments": {}}})
l = s.line()
try:
    r = json.loads(l)
except (ValueError, TypeError):
    r = None
check("incomplete structured output still gives valid JSON", r is not None, l)
check("incomplete structured output is an isError result",
      r is not None and r.get("id") == "broken" and result(r).get("isError") is True
      and "structuredContent" not in result(r), r)

# errors from handlers
r = call(s, "fail_code")
check("negative return code: isError, partial output discarded",
      result(r) == {"content": [{"type": "text", "text": "Tool 'fail_code' failed: invalid argument"}],
                    "isError": True}, r)
r = call(s, "fail_result", {"code": 42})
check("pf_result_error", result(r) == {"content": [{"type": "text", "text": "it went wrong: 42"}],
                                       "isError": True}, r)
r = call(s, "annotated")
check("annotated tool runs", text_of(r) == "annotated", r)

# ---- logging ------------------------------------------------------------------------
LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
r = call(s, "chatty")
got = [n["params"]["level"] for n in s.notes if n["method"] == "notifications/message"]
check("default level info: info and above", got == LEVELS[1:], got)
n0 = next((n for n in s.notes if n["method"] == "notifications/message"), {})
check("log message shape", n0.get("params") == {"level": "info", "logger": "chatty", "data": "level 1"}, n0)
check("no progress without a progressToken",
      not any(n["method"] == "notifications/progress" for n in s.notes), s.notes)
check("chatty answered", text_of(r) == "chatted", r)
for lv in LEVELS:
    r = s.request("logging/setLevel", {"level": lv})
    ok = result(r) == {}
    r = call(s, "chatty")
    got = [n["params"]["level"] for n in s.notes if n["method"] == "notifications/message"]
    check(f"setLevel {lv}: only {lv} and above", ok and got == LEVELS[LEVELS.index(lv):], got)
for bad in ["loud", "", "INFO", None, 3]:
    r = s.request("logging/setLevel", {"level": bad} if bad is not None else {})
    check(f"setLevel {bad!r} is -32602", err_code(r) == -32602, r)
s.request("logging/setLevel", {"level": "debug"})

# ---- progress -------------------------------------------------------------------------
r = call(s, "chatty", meta={"progressToken": "tok-1"})
prog = [n["params"] for n in s.notes if n["method"] == "notifications/progress"]
check("progress with a token; the non-increasing one is dropped",
      prog == [{"progressToken": "tok-1", "progress": 1, "total": 2, "message": "half"},
               {"progressToken": "tok-1", "progress": 2, "total": 2}], prog)
r = call(s, "chatty", meta={"progressToken": 17})
prog = [n["params"]["progressToken"] for n in s.notes if n["method"] == "notifications/progress"]
check("integer progressToken echoed", prog == [17, 17], prog)

# blocking tool: progress and logs arrive while it runs, before its response
id = s.start("tools/call", {"name": "slow", "arguments": {"steps": 4, "step_ms": 250},
                            "_meta": {"progressToken": "slow-1"}})
t0 = time.time()
notes, r, log = s.collect(id)
prog = [n["params"] for n in notes if n["method"] == "notifications/progress"]
check("blocking: progress 1..4 increasing, with total and message",
      [p["progress"] for p in prog] == [1, 2, 3, 4] and all(p["total"] == 4 and p["message"] == "working"
                                                            and p["progressToken"] == "slow-1" for p in prog), prog)
logs = [n["params"] for n in notes if n["method"] == "notifications/message"]
check("blocking: pf_log at debug arrives (level is debug)",
      [l["data"] for l in logs] == [f"slow {k} {i}" for i in range(4) for k in ("debug", "info")]
      and logs[1]["logger"] == "fx" and logs[0]["logger"] == "slow", logs)
check("blocking: response after the notifications", text_of(r) == "slept 4 steps", r)
t_first = next((t for t, m in log if m.get("method") == "notifications/progress"), None)
t_resp = log[-1][0] if log else None
check("blocking: progress is sent while the call runs, not with the response",
      t_first is not None and t_resp is not None and t_resp - t_first > 0.4, (t_first, t_resp))
r = call(s, "slow", {"steps": 2, "step_ms": 10})
check("blocking without token: no progress",
      not any(n["method"] == "notifications/progress" for n in s.notes) and text_of(r) == "slept 2 steps", s.notes)
s.request("logging/setLevel", {"level": "warning"})
r = call(s, "slow", {"steps": 2, "step_ms": 10})
check("blocking: logs below the level are filtered", s.notes == [] and text_of(r) == "slept 2 steps", s.notes)

# ---- cancellation -----------------------------------------------------------------------
t0 = time.time()
s.start("tools/call", {"name": "slow", "arguments": {"steps": 100, "step_ms": 100},
                       "_meta": {"progressToken": "c"}}, id="long")
time.sleep(0.3)
r = s.request("ping", id="during")
check("ping answered while a blocking call runs", r == {"jsonrpc": "2.0", "id": "during", "result": {}}
      and not any(isinstance(o, dict) and o.get("id") == "long" for o in s.other), r)
r = call(s, "sum", {"a": 1, "b": 1})
check("other tools answered meanwhile", result(r).get("structuredContent") == {"sum": 2}, r)
s.notify("notifications/cancelled", {"requestId": "long", "reason": "test"})
r = s.request("ping", id="after-cancel")
check("ping after cancel", result(r) == {}, r)
end = time.time() + 1.5
seen = []
while time.time() < end:
    m = s.recv(end - time.time())
    if m is None:
        break
    seen.append(m)
check("a cancelled call gets no response",
      not any(isinstance(m, dict) and m.get("id") == "long" for m in seen) and
      not any(isinstance(o, dict) and o.get("id") == "long" for o in s.other), seen)
check("no progress for it after the cancellation has been seen",
      not any(m.get("method") == "notifications/progress" for m in seen[-1:]), seen)
s.notify("notifications/cancelled", {"requestId": "unknown-id"})
s.notify("notifications/cancelled", {"requestId": 12345})
s.notify("notifications/cancelled", {})
r = s.request("ping", id="still")
check("cancelling unknown ids is ignored", result(r) == {}, r)
# same id as a number vs a string
s.start("tools/call", {"name": "slow", "arguments": {"steps": 3, "step_ms": 100}}, id=77)
s.notify("notifications/cancelled", {"requestId": "77"})
notes, r, _ = s.collect(77)
check("cancel of \"77\" does not cancel id 77", text_of(r) == "slept 3 steps", r)
s.start("tools/call", {"name": "slow", "arguments": {"steps": 3, "step_ms": 100}}, id=78)
s.notify("notifications/cancelled", {"requestId": 78})
r = s.request("ping", id="x78")
check("cancel with an integer id", result(r) == {} and s.quiet(0.6), r)

# ---- resources ------------------------------------------------------------------------------
res_list, pages = list_all(s, "resources/list", "resources")
check("resources/list paginates: 7 static resources in 4 pages",
      pages == 4 and [x["uri"] for x in res_list] ==
      ["docs://inline", "docs://hello", "docs://logo", "docs://raw", "app://status", "app://blob",
       "app://empty"], (pages, res_list))
check("resource entry", res_list[0] == {"uri": "docs://inline", "name": "inline", "title": "Inline Doc",
                                         "description": "Inline text", "mimeType": "text/plain"}, res_list[0])
r = s.request("resources/templates/list")
check("resources/templates/list",
      result(r) == {"resourceTemplates": [
          {"uriTemplate": "notes://{folder}/{id}", "name": "notes", "title": "Notes", "mimeType": "text/plain"},
          {"uriTemplate": "files://{name}", "name": "files", "mimeType": "text/plain"}]}, r)
r = s.request("resources/templates/list", {"cursor": "bad"})
check("templates/list invalid cursor is -32602", err_code(r) == -32602, r)


def read(uri):
    return s.request("resources/read", {"uri": uri})


def contents(r):
    return (result(r) or {}).get("contents")


r = read("docs://inline")
check("read inline text", contents(r) == [{"uri": "docs://inline", "mimeType": "text/plain",
                                           "text": "Inline text resource"}], r)
r = read("docs://hello")
check("read a text file", contents(r) == [{"uri": "docs://hello", "mimeType": "text/plain",
                                           "text": "Hello from a file.\n"}], r)
r = read("docs://logo")
check("read a binary file as blob", contents(r) == [{"uri": "docs://logo", "mimeType": "image/png",
                                                     "blob": b64(LOGO)}], r)
r = read("docs://raw")
check("a file without mime type that is not UTF-8 is a blob",
      contents(r) == [{"uri": "docs://raw", "blob": b64(LOGO)}], r)
r = read("app://status")
check("read a native handler resource", contents(r) == [{"uri": "app://status", "mimeType": "text/plain",
                                                         "text": "status of app://status: ok"}], r)
r = read("app://blob")
check("native handler blob", contents(r) == [{"uri": "app://blob", "mimeType": "image/png", "blob": b64(PNG)}], r)
r = read("app://empty")
check("handler with no contents is -32002", err_code(r) == -32002 and r["error"].get("data") == {"uri": "app://empty"}, r)
r = read("notes://inbox/42")
check("template with a handler", contents(r) == [{"uri": "notes://inbox/42", "mimeType": "text/plain",
                                                  "text": "note 42 in inbox"}], r)
r = read("notes://in%20box/4%2F2")
check("template variables are percent-decoded", contents(r) and contents(r)[0]["text"] == "note 4/2 in in box", r)
r = read("notes://a/b/c")
check("a variable may span '/' when it must", contents(r) and contents(r)[0]["text"] == "note c in a/b", r)
r = read("notes://bad%zz/1")
check("invalid percent escape is -32002", err_code(r) == -32002, r)
r = read("files://a")
check("file template", contents(r) == [{"uri": "files://a", "mimeType": "text/plain", "text": "file a\n"}], r)
r = read("files://b%20c")
check("file template with a percent-decoded space", contents(r) and contents(r)[0]["text"] == "file with a space\n", r)
for bad in ["files://..", "files://%2E%2E", "files://..%2F..%2Fsecret", "files://%2F..%2F..%2Fsecret",
            "files://..%2Fhello", "files://%2Fetc%2Fpasswd", "files://.", "files://a%00",
            "files://../../secret", "files://nope"]:
    r = read(bad)
    leaked = "secret" in json.dumps(r) and "outside" in json.dumps(r)
    check(f"traversal/missing {bad} is -32002 with data.uri",
          err_code(r) == -32002 and r["error"].get("data") == {"uri": bad} and not leaked, r)
r = read("docs://nope")
check("unknown URI is -32002 with data.uri", err_code(r) == -32002 and r["error"]["data"] == {"uri": "docs://nope"}, r)
r = s.request("resources/read", {})
check("resources/read without uri is -32602", err_code(r) == -32602, r)

r = s.request("resources/subscribe", {"uri": "docs://inline"})
check("subscribe", result(r) == {}, r)
r = s.request("resources/subscribe", {"uri": "docs://inline"})
check("subscribe twice", result(r) == {}, r)
r = s.request("resources/subscribe", {"uri": "notes://inbox/1"})
check("subscribe to a resource without `supports: [subscribe]` is -32602", err_code(r) == -32602, r)
r = s.request("resources/subscribe", {"uri": "docs://nope"})
check("subscribe to an unknown URI is -32002", err_code(r) == -32002, r)
r = s.request("resources/subscribe", {})
check("subscribe without uri is -32602", err_code(r) == -32602, r)
r = s.request("resources/unsubscribe", {"uri": "docs://inline"})
check("unsubscribe", result(r) == {}, r)
r = s.request("resources/unsubscribe", {"uri": "docs://never"})
check("unsubscribe of an unknown URI", result(r) == {}, r)

# ---- prompts -------------------------------------------------------------------------------
prompts, pages = list_all(s, "prompts/list", "prompts")
check("prompts/list paginates: 3 prompts in 2 pages",
      pages == 2 and [p["name"] for p in prompts] == ["greeting", "conversation", "plain"], prompts)
check("prompt arguments (map form)", prompts[0].get("arguments") == [
    {"name": "name", "description": "Who", "required": True},
    {"name": "mood", "description": "How they feel", "required": False},
    {"name": "style", "required": False}], prompts[0])
check("prompt arguments (list form)", prompts[1].get("arguments") == [
    {"name": "topic", "required": True},
    {"name": "detail", "description": "Any value asks for detail", "required": False}], prompts[1])
check("prompt without arguments", "arguments" not in prompts[2], prompts[2])


def get(name, args=None):
    p = {"name": name}
    if args is not None:
        p["arguments"] = args
    return s.request("prompts/get", p)


def msg_text(r, i=0):
    try:
        return r["result"]["messages"][i]["content"]["text"]
    except (KeyError, IndexError, TypeError):
        return None


r = get("greeting", {"name": "Ada"})
check("template prompt, default applied, #if false",
      result(r) == {"description": "Greets someone", "messages": [
          {"role": "user", "content": {"type": "text", "text": "Hello Ada! Style: formal"}}]}, r)
r = get("greeting", {"name": "Ada", "mood": "happy", "style": "casual"})
check("#if true and an overridden default", msg_text(r) == "Hello Ada, you seem happy! Style: casual", r)
r = get("greeting", {"name": "{{mood}}", "mood": "x"})
check("argument values are not re-rendered", msg_text(r).startswith("Hello {{mood}}, you seem x"), r)
r = get("greeting", {})
check("missing required argument is -32602", err_code(r) == -32602 and "name" in r["error"]["message"], r)
r = get("greeting")
check("no arguments at all is -32602", err_code(r) == -32602, r)
r = get("greeting", {"name": 5})
check("non-string argument is -32602", err_code(r) == -32602, r)
r = get("nope")
check("unknown prompt is -32602", err_code(r) == -32602, r)
r = s.request("prompts/get", {})
check("prompts/get without name is -32602", err_code(r) == -32602, r)
r = get("conversation", {"topic": "cats"})
msgs = (result(r) or {}).get("messages", [])
check("messages prompt: 5 messages", len(msgs) == 5, r)
if len(msgs) == 5:
    check("text message with {{var}}", msgs[0] == {"role": "user", "content": {"type": "text", "text": "Tell me about cats"}}, msgs[0])
    check("image message", msgs[1] == {"role": "assistant", "content": {"type": "image", "data": "iVBORw0KGgo=",
                                                                        "mimeType": "image/png"}}, msgs[1])
    check("embedded resource message", msgs[2] == {"role": "user", "content": {"type": "resource", "resource": {
        "uri": "docs://inline", "mimeType": "text/plain", "text": "Inline text resource"}}}, msgs[2])
    check("#unless when absent", msgs[3]["content"]["text"] == "Brief", msgs[3])
    check("embedded binary file resource is a blob", msgs[4] == {"role": "user", "content": {"type": "resource", "resource": {
        "uri": "docs://logo", "mimeType": "image/png", "blob": b64(LOGO)}}}, msgs[4])
r = get("conversation", {"topic": "cats", "detail": "yes"})
check("#if when present", msg_text(r, 3) == "Detailed", r)
r = get("plain")
check("prompt without arguments", msg_text(r) == "No arguments here" and "description" not in result(r), r)

# ---- completion ---------------------------------------------------------------------------


def complete(ref, name, value):
    return s.request("completion/complete", {"ref": ref, "argument": {"name": name, "value": value}})


P = {"type": "ref/prompt", "name": "greeting"}
T = {"type": "ref/resource", "uri": "notes://{folder}/{id}"}
r = complete(P, "name", "al")
check("prompt argument completion by prefix",
      result(r) == {"completion": {"values": ["alice", "albert"], "total": 2, "hasMore": False}}, r)
r = complete(P, "name", "")
check("empty prefix: everything", result(r)["completion"]["values"] == ["alice", "albert", "bob"], r)
r = complete(P, "name", "zz")
check("no match", result(r) == {"completion": {"values": [], "total": 0, "hasMore": False}}, r)
r = complete(P, "mood", "")
check("argument without completions", result(r)["completion"]["values"] == [], r)
r = complete(T, "folder", "i")
check("template variable completion",
      result(r) == {"completion": {"values": ["inbox", "important"], "total": 2, "hasMore": False}}, r)
r = complete(T, "id", "v")
c = (result(r) or {}).get("completion", {})
check("more than 100: 100 values, total, hasMore",
      len(c.get("values", [])) == 100 and c.get("values", [""])[0] == "v000" and c.get("total") == 105
      and c.get("hasMore") is True, c)
r = complete(T, "id", "v10")
check("narrowed", result(r)["completion"] == {"values": ["v100", "v101", "v102", "v103", "v104"],
                                              "total": 5, "hasMore": False}, r)
r = s.request("completion/complete", {"ref": P, "argument": {"name": "name", "value": "b"},
                                      "context": {"arguments": {"mood": "x"}}})
check("context is accepted", result(r)["completion"]["values"] == ["bob"], r)
r = complete({"type": "ref/prompt", "name": "nope"}, "name", "")
check("completion for an unknown prompt is -32602", err_code(r) == -32602, r)
r = complete({"type": "ref/resource", "uri": "nope://{x}"}, "x", "")
check("completion for an unknown template is -32602", err_code(r) == -32602, r)
r = complete({"type": "ref/tool", "name": "sum"}, "a", "")
check("unknown ref type is -32602", err_code(r) == -32602, r)
r = s.request("completion/complete", {"ref": P})
check("completion without argument is -32602", err_code(r) == -32602, r)

# ---- misc ---------------------------------------------------------------------------------
r = s.request("tools/frobnicate")
check("unknown method is -32601", err_code(r) == -32601, r)
s.send_raw(b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]\n')
r = s.recv()
check("batch under 2025-11-25 is -32600", err_code(r) == -32600 and r["id"] is None, r)
rc = s.close()
check("main session exits 0", rc == 0, (rc, s.stderr))

# ---- prompt arguments of other types than string: JSON text of the type ------------------------
s = Server(config=os.path.join(SRC, "tests", "e2e", "prompts", "typed.yaml"))
s.initialize()
r = get("plan", {"steps": '["design", "build"]'})
check("typed prompt: #each over an array argument, {{a.b}} into an object default, typed defaults",
      msg_text(r) == "Plan for nobody (none):\n0. design\n1. build\nin 7 days, budget 1.5", r)
r = get("plan", {"steps": "[]", "owner": '{"name": "Ada", "team": "core"}', "urgent": "true",
                 "days": "3", "budget": "2"})
check("typed prompt: given values, #each else, a boolean true",
      msg_text(r) == "Plan for Ada (core):\nnothing to do\nURGENT in 3 days, budget 2", r)
r = get("plan", {"steps": "[]", "urgent": "false"})
check("typed prompt: a boolean false is false for #if", "URGENT" not in (msg_text(r) or "URGENT"), r)
for args, rule in [({"steps": "design"}, "must be a JSON array"),
                   ({"steps": "[]", "owner": "[1]"}, "must be a JSON object"),
                   ({"steps": "[]", "days": "3.5"}, "must be an integer"),
                   ({"steps": "[]", "urgent": "yes"}, "must be a boolean (true or false)"),
                   ({"steps": "[]", "budget": "cheap"}, "must be a number")]:
    r = get("plan", args)
    name = next(k for k in args if k != "steps") if len(args) > 1 else "steps"
    check(f"typed prompt: a bad {name} is -32602 naming it and its type",
          err_code(r) == -32602 and f"argument '{name}' of prompt 'plan' {rule}" in r["error"]["message"], r)
r = s.request("prompts/list")
check("typed prompt: listed with its arguments (names, required, description)",
      [a["name"] for a in result(r)["prompts"][0]["arguments"]] == ["steps", "owner", "urgent", "days", "budget"]
      and result(r)["prompts"][0]["arguments"][0] == {"name": "steps", "description": "JSON array of step names",
                                                      "required": True}, r)
check("typed prompt server exits 0", s.close() == 0, s.stderr)

# ---- 2024-11-05: progress has no message ------------------------------------------------------
s = Server()
s.initialize("2024-11-05")
r = call(s, "chatty", meta={"progressToken": "old"})
prog = [n["params"] for n in s.notes if n["method"] == "notifications/progress"]
check("2024-11-05 progress has no message field",
      prog == [{"progressToken": "old", "progress": 1, "total": 2},
               {"progressToken": "old", "progress": 2, "total": 2}], prog)
r = complete({"type": "ref/prompt", "name": "greeting"}, "name", "b")
check("2024-11-05 completion/complete", result(r)["completion"]["values"] == ["bob"], r)
s.close()

# ---- batches (2025-03-26) ------------------------------------------------------------------------
s = Server()
s.initialize("2025-03-26")
s.send([{"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/whatever"},
        {"jsonrpc": "2.0", "id": "two", "method": "tools/call", "params": {"name": "sum", "arguments": {"a": 2, "b": 2}}},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}},
        {"jsonrpc": "2.0", "id": 3, "method": "no/such"},
        5,
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "chatty", "arguments": {}}}])
notes = []
r = s.recv()
while isinstance(r, dict) and "method" in r:
    notes.append(r)
    r = s.recv()
check("batch: one array with a response per request, in order",
      isinstance(r, list) and [m.get("id") for m in r] == [1, "two", 3, None, 4], r)
if isinstance(r, list) and len(r) == 5:
    check("batch: results and errors", r[0]["result"] == {}
          and "structuredContent" not in r[1]["result"] and json.loads(text_of(r[1])) == {"sum": 4}
          and r[2]["error"]["code"] == -32601
          and r[3]["error"]["code"] == -32600 and text_of(r[4]) == "chatted", r)
check("batch: log notifications as lines before the array",
      [n["params"]["level"] for n in notes] == LEVELS[1:], notes)
s.send([{"jsonrpc": "2.0", "method": "notifications/a"}, {"jsonrpc": "2.0", "method": "notifications/b"}])
r = s.request("ping", id="after-notes")
check("batch of notifications only: no output", r == {"jsonrpc": "2.0", "id": "after-notes", "result": {}}, r)
s.send_raw(b"[]\n")
r = s.recv()
check("empty batch is -32600", err_code(r) == -32600, r)
s.send_raw(b"[" + b",".join(b'{"jsonrpc":"2.0","id":%d,"method":"ping"}' % i for i in range(1025)) + b"]\n")
r = s.recv()
check("batch of 1025 is -32600", err_code(r) == -32600, r)
s.send_raw(b"[" + b",".join(b'{"jsonrpc":"2.0","id":%d,"method":"ping"}' % i for i in range(1024)) + b"]\n")
r = s.recv()
check("batch of 1024 answered", isinstance(r, list) and len(r) == 1024 and r[-1]["id"] == 1023, type(r))
id = s.start("tools/call", {"name": "slow", "arguments": {"steps": 2, "step_ms": 50}})
s.send([{"jsonrpc": "2.0", "id": "b1", "method": "ping"}])
notes, r, _ = s.collect(id)
check("blocking call next to a batch: the batch answered first",
      any(isinstance(o, list) and o[0]["id"] == "b1" for o in s.other) and text_of(r) == "slept 2 steps", (s.other, r))
s.send_raw(b'{"jsonrpc":"2.0","id":"z","method":"ping"}')  # no newline: answered at EOF
rc = s.close()
check("2025-03-26 session exits 0", rc == 0, (rc, s.stderr))

# ---- stdin closes while a blocking call runs ----------------------------------------------------
s = Server()
s.initialize()
s.start("tools/call", {"name": "slow", "arguments": {"steps": 5, "step_ms": 100}}, id="last")
time.sleep(0.1)
t0 = time.time()
s.p.stdin.close()
notes, r, _ = s.collect("last")
check("stdin closed during a blocking call: its response is still written", text_of(r) == "slept 5 steps", r)
try:
    rc = s.p.wait(10)
except subprocess.TimeoutExpired:
    rc = "timeout"
check("then the server exits 0", rc == 0 and s.line(1) is None, rc)
s.stderr = s.p.stderr.read().decode(errors="replace")
check("nothing alarming on stderr", "error" not in s.stderr.lower(), s.stderr)

# ---- SIGTERM while a long blocking call runs ---------------------------------------------------------
s = Server()
s.initialize()
s.start("tools/call", {"name": "slow", "arguments": {"steps": 1000, "step_ms": 100}}, id="forever")
time.sleep(0.3)
t0 = time.time()
s.p.send_signal(signal.SIGTERM)
try:
    rc = s.p.wait(5)
except subprocess.TimeoutExpired:
    rc = "timeout"
check("SIGTERM cancels a running blocking call and exits 0 promptly", rc == 0 and time.time() - t0 < 3,
      (rc, time.time() - t0))
s.close()

for p in started:
    if p.poll() is None:
        p.kill()
        p.wait()

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

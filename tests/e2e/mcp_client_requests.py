#!/usr/bin/env python3
"""E2E tests of requests from the server to the client (roots/list,
sampling/createMessage, elicitation/create in form and url mode): their
answers, their timeouts, and cancelling the tool call while its handler
waits for the client, over stdio and Streamable HTTP, against the fixture
in tests/e2e/clientreq (built as tests/libclientreq_fixture.so).
Raw sockets on 127.0.0.1, python3 stdlib only.

usage: mcp_client_requests.py PFORGE_BINARY BUILD_DIR SOURCE_DIR
Prints one line per check and ends with "N passed, N failed". Every server
is stopped (stdin closed, or SIGTERM) and must exit 0 with no sanitizer
report on stderr.
"""
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

PF, BUILD, SRC = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
CONFIG = os.path.join(SRC, "tests", "e2e", "clientreq", "pforge.yaml")
LATEST = "2025-11-25"
MCP = "/mcp"
ENV = dict(os.environ, PFORGE_BUILD=BUILD)
SANITIZER = re.compile(r"ERROR: AddressSanitizer|runtime error:|LeakSanitizer|"
                       r"Segmentation fault|Assertion .* failed|double free")
passed = failed = 0
started = []  # processes this script started: killed at the end if still running


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {name}", flush=True)
    else:
        failed += 1
        print(f"not ok - {name} {str(detail)[:2000]}", flush=True)
    return cond


def cleanup():
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(5)


def watchdog(signum, frame):
    print("not ok - watchdog: the test did not finish within its time budget", flush=True)
    cleanup()
    os._exit(1)


signal.signal(signal.SIGALRM, watchdog)
signal.alarm(240)


def section(title, fn):
    try:
        fn()
    except Exception:
        check(f"section '{title}' ran to its end", False, traceback.format_exc()[-1500:])


def stderr_reader(p, lines, ready=None, port=None):
    for raw in p.stderr:
        line = raw.decode(errors="replace").rstrip("\n")
        lines.append(line)
        m = re.search(r"pforge: listening on \S+:(\d+)", line)
        if m and port is not None and not port:
            port.append(int(m.group(1)))
            ready.set()
    if ready:
        ready.set()


def is_error(m):
    return isinstance(m, dict) and (m.get("result") or {}).get("isError") is True


def text_of(m):
    try:
        return m["result"]["content"][0]["text"]
    except (KeyError, IndexError, TypeError):
        return None


def structured(m):
    return (m or {}).get("result", {}).get("structuredContent") if isinstance(m, dict) else None


def call(id, name, args=None):
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": args or {}}}


def cancelled(rid, reason=None):
    p = {"requestId": rid}
    if reason:
        p["reason"] = reason
    return {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": p}


ROOTS = {"roots": [{"uri": "file:///tmp/cr", "name": "cr"}]}
SAMPLE = {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
          "maxTokens": 5}

# =========================================================================================
# stdio
# =========================================================================================


class Stdio:
    def __init__(self, caps, env=None):
        self.p = subprocess.Popen([PF, "serve", CONFIG, "--stdio", "--log-level", "warn"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env or ENV)
        started.append(self.p)
        self.q = queue.Queue()
        self.err = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=stderr_reader, args=(self.p, self.err), daemon=True).start()
        self.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": LATEST, "capabilities": caps,
            "clientInfo": {"name": "e2e-clientreq", "version": "1"}}})
        self.init = self.next(lambda m: m.get("id") == 0)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _read(self):
        for line in self.p.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                self.q.put({"unparsable": line})
        self.q.put(None)

    def send(self, msg):
        self.p.stdin.write((json.dumps(msg) + "\n").encode())
        self.p.stdin.flush()

    def next(self, pred, timeout=5.0, seen=None):
        """The next message matching pred (others go to `seen`), or None on timeout."""
        end = time.time() + timeout
        while True:
            try:
                m = self.q.get(timeout=max(0.01, end - time.time()))
            except queue.Empty:
                return None
            if m is None:
                return None
            if pred(m):
                return m
            if seen is not None:
                seen.append(m)

    def close(self, label):
        self.p.stdin.close()
        try:
            rc = self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "killed"
        time.sleep(0.05)
        check(f"[stdio {label}] exits 0 when stdin closes", rc == 0, (rc, self.err[-20:]))
        bad = [l for l in self.err if SANITIZER.search(l)]
        check(f"[stdio {label}] no sanitizer report or crash", not bad, "\n".join(self.err[-60:]))


def is_req(method):
    return lambda m: m.get("method") == method and "id" in m


def is_resp(id):
    return lambda m: m.get("id") == id and ("result" in m or "error" in m) and "method" not in m


def stdio_roots():
    s = Stdio({"roots": {"listChanged": True}})
    s.send(call(1, "ask", {"method": "roots/list"}))
    req = s.next(is_req("roots/list"))
    check("[stdio] roots/list: the request arrives on stdout with an id and no params",
          req is not None and isinstance(req.get("id"), int) and "params" not in req, req)
    if req:
        s.send({"jsonrpc": "2.0", "id": req["id"], "result": ROOTS})
        r = s.next(is_resp(1))
        check("[stdio] roots/list: the tool gets the client's roots", structured(r) == ROOTS, r)
    # an error answer reaches the tool as -PF_EREMOTE
    s.send(call(2, "ask", {"method": "roots/list"}))
    req = s.next(is_req("roots/list"))
    if req:
        s.send({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32603, "message": "no roots"}})
        r = s.next(is_resp(2))
        check("[stdio] roots/list answered with an error: an isError result with its message",
              is_error(r) and "no roots" in (text_of(r) or ""), r)
    # sampling without the capability: nothing is sent, a clear error
    seen = []
    s.send(call(3, "ask", {"method": "sampling/createMessage", "params": json.dumps(SAMPLE)}))
    r = s.next(is_resp(3), seen=seen)
    check("[stdio] sampling without the client capability: isError 'not supported', nothing sent",
          is_error(r) and "not supported" in (text_of(r) or "")
          and not any(m.get("method") == "sampling/createMessage" for m in seen), (r, seen))
    s.close("roots")


def stdio_elicit_url():
    for caps, label in (({"elicitation": {}}, "elicitation: {}"),
                        ({"elicitation": {"form": {}}}, "elicitation: {form: {}}")):
        s = Stdio(caps)
        seen = []
        s.send(call(1, "elicit", {"mode": "url"}))
        r = s.next(is_resp(1), seen=seen)
        check(f"[stdio] url-mode elicitation, client with {label}: a clear isError result",
              is_error(r) and "does not support url-mode elicitation" in (text_of(r) or ""), r)
        check(f"[stdio] url-mode elicitation, client with {label}: nothing is sent",
              not any(m.get("method") == "elicitation/create" for m in seen), seen)
        s.send(call(2, "elicit", {"mode": "form"}))
        req = s.next(is_req("elicitation/create"))
        check(f"[stdio] form-mode elicitation, client with {label}: the request arrives",
              req is not None and "requestedSchema" in req.get("params", {})
              and req["params"].get("mode", "form") == "form", req)
        if req:
            s.send({"jsonrpc": "2.0", "id": req["id"],
                    "result": {"action": "accept", "content": {"name": "Ada"}}})
            r = s.next(is_resp(2))
            check(f"[stdio] form-mode elicitation, client with {label}: the answer reaches the tool",
                  structured(r) == {"action": "accept", "content": {"name": "Ada"}}, r)
        s.close(label)
    s = Stdio({"elicitation": {"url": {}}})
    s.send(call(1, "elicit", {"mode": "url"}))
    req = s.next(is_req("elicitation/create"))
    check("[stdio] url-mode elicitation, client with elicitation: {url: {}}: "
          "elicitation/create with mode url, url and elicitationId",
          req is not None and req.get("params") == {
              "mode": "url", "message": "Please sign in",
              "url": "https://example.com/login?x=1", "elicitationId": "el-1"}, req)
    if req:
        s.send({"jsonrpc": "2.0", "id": req["id"], "result": {"action": "accept"}})
        r = s.next(is_resp(1))
        check("[stdio] url-mode elicitation: the client's answer reaches the tool",
              structured(r) == {"action": "accept"}, r)
    seen = []
    s.send(call(2, "elicit", {"mode": "form"}))
    r = s.next(is_resp(2), seen=seen)
    check("[stdio] form-mode elicitation, client with only url: isError, nothing sent",
          is_error(r) and not any(m.get("method") == "elicitation/create" for m in seen), (r, seen))
    s.close("elicitation: {url: {}}")


def stdio_timeout():
    s = Stdio({"roots": {}, "sampling": {}})
    t0 = time.time()
    s.send(call(1, "ask", {"method": "sampling/createMessage", "params": json.dumps(SAMPLE),
                           "timeout_ms": 300}))
    req = s.next(is_req("sampling/createMessage"))
    check("[stdio] timeout: the sampling request arrives", req is not None, req)
    seen = []
    r = s.next(is_resp(1), seen=seen)
    dt = time.time() - t0
    note = next((m for m in seen if m.get("method") == "notifications/cancelled"), None)
    check("[stdio] timeout: notifications/cancelled {requestId, reason} reaches the client first",
          req is not None and note is not None
          and note["params"] == {"requestId": req["id"], "reason": "timed out"}, (note, seen))
    check("[stdio] timeout: the tool gets an isError 'timed out' result after ~300 ms",
          is_error(r) and "timed out" in (text_of(r) or "") and 0.25 <= dt < 3, (r, dt))
    if req:  # a late answer is ignored
        s.send({"jsonrpc": "2.0", "id": req["id"], "result": {"role": "assistant", "model": "m",
                                                            "content": {"type": "text", "text": "x"}}})
    s.send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
    check("[stdio] timeout: the session goes on", s.next(is_resp(2)) == {
        "jsonrpc": "2.0", "id": 2, "result": {}})
    s.close("timeout")


def stdio_cancel():
    s = Stdio({"roots": {}, "sampling": {}})
    for i, (method, params) in enumerate((("roots/list", ""),
                                          ("sampling/createMessage", json.dumps(SAMPLE)))):
        cid = f"call-{i}"
        s.send(call(cid, "ask", {"method": method, "params": params, "timeout_ms": 20000}))
        req = s.next(is_req(method))
        check(f"[stdio] cancel while waiting ({method}): the request arrives", req is not None, req)
        if not req:
            continue
        t0 = time.time()
        s.send(cancelled(cid, "user pressed stop"))
        seen = []
        note = s.next(lambda m: m.get("method") == "notifications/cancelled", seen=seen)
        check(f"[stdio] cancel while waiting ({method}): notifications/cancelled for the server's "
              "request reaches the client at once",
              note is not None and note["params"].get("requestId") == req["id"]
              and isinstance(note["params"].get("reason"), str) and time.time() - t0 < 2, (note, seen))
        s.send({"jsonrpc": "2.0", "id": f"ping-{i}", "method": "ping"})
        r = s.next(is_resp(f"ping-{i}"), timeout=3, seen=seen)
        check(f"[stdio] cancel while waiting ({method}): no response to the cancelled call, "
              "no second notification",
              r is not None and not any(m.get("id") == cid for m in seen)
              and not any(m.get("method") == "notifications/cancelled" for m in seen), seen)
        # the client's late answer is ignored
        s.send({"jsonrpc": "2.0", "id": req["id"], "result": ROOTS})
    s.close("cancel")


# ---- async: true tools (pf_client_request_async) ----

EINVAL = -2  # -PF_EINVAL


def stdio_async_basics():
    s = Stdio({"roots": {}})
    s.send(call(1, "ask_async", {"method": "roots/list"}))
    req = s.next(is_req("roots/list"))
    check("[stdio async] roots/list: the request arrives on stdout with an id",
          req is not None and isinstance(req.get("id"), int), req)
    if req:
        s.send({"jsonrpc": "2.0", "id": req["id"], "result": ROOTS})
        r = s.next(is_resp(1))
        check("[stdio async] roots/list: the done callback gets the client's roots",
              structured(r) == ROOTS, r)
    s.send(call(2, "ask_async", {"method": "roots/list"}))
    req = s.next(is_req("roots/list"))
    if req:
        s.send({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32603, "message": "no roots"}})
        r = s.next(is_resp(2))
        check("[stdio async] an error answer reaches done as -PF_EREMOTE with the error object",
              is_error(r) and "no roots" in (text_of(r) or ""), r)
    seen = []
    s.send(call(3, "ask_async", {"method": "sampling/createMessage",
                                 "params": json.dumps(SAMPLE)}))
    r = s.next(is_resp(3), seen=seen)
    check("[stdio async] sampling without the capability: -PF_ENOTSUP synchronously, nothing sent",
          is_error(r) and (text_of(r) or "").startswith("refused: not supported")
          and not any(m.get("method") == "sampling/createMessage" for m in seen), (r, seen))
    s.send(call(4, "ask_async", {"method": "roots/list", "params": "[1]"}))
    r = s.next(is_resp(4))
    check("[stdio async] params not an object: -PF_EINVAL synchronously",
          is_error(r) and (text_of(r) or "").startswith("refused: invalid argument"), r)
    for i, tool in enumerate(("misuse_blocking", "misuse_inline")):
        seen = []
        s.send(call(10 + i, tool))
        r = s.next(is_resp(10 + i), seen=seen)
        check(f"[stdio async] pf_client_request_async from a non-async tool ({tool}): -PF_EINVAL, "
              "nothing sent", text_of(r) == str(EINVAL)
              and not any(m.get("method") == "roots/list" for m in seen), (r, seen))
    s.send(call(12, "blocking_in_async"))
    r = s.next(is_resp(12))
    check("[stdio async] the blocking pf_client_request from an async tool: -PF_EINVAL",
          text_of(r) == str(EINVAL), r)
    s.close("async basics")


def stdio_async_many():
    # 4 pool threads: 100 waits holding threads would starve the blocking tool
    s = Stdio({"sampling": {}}, env=dict(ENV, UV_THREADPOOL_SIZE="4"))
    n = 100
    for i in range(n):
        p = dict(SAMPLE, messages=[{"role": "user", "content": {"type": "text", "text": f"q{i}"}}])
        s.send(call(f"c{i}", "ask_async", {"method": "sampling/createMessage",
                                           "params": json.dumps(p), "timeout_ms": 30000}))
    reqs = {}
    while len(reqs) < n:
        m = s.next(is_req("sampling/createMessage"), timeout=10)
        if m is None:
            break
        reqs[m["params"]["messages"][0]["content"]["text"]] = m["id"]
    check(f"[stdio async] {n} concurrent calls: {n} sampling requests with distinct ids are out",
          len(reqs) == n and len(set(reqs.values())) == n, len(reqs))
    t0 = time.time()
    seen = []
    s.send(call("quick", "quick"))
    r = s.next(is_resp("quick"), timeout=3, seen=seen)
    dt = time.time() - t0
    check(f"[stdio async] while {n} async calls wait (UV_THREADPOOL_SIZE=4), a blocking tool "
          "answers within 1 s", text_of(r) == "quick" and dt < 1.0, (r, dt))
    check(f"[stdio async] no call was answered before the client answered",
          not any(is_resp(f"c{i}")(m) for m in seen for i in range(n)), seen[:5])
    for i in reversed(range(n)):
        if f"q{i}" in reqs:
            s.send({"jsonrpc": "2.0", "id": reqs[f"q{i}"], "result": {
                "role": "assistant", "model": "m", "content": {"type": "text", "text": f"a{i}"}}})
    got = {}
    while len(got) < n:
        m = s.next(lambda m: str(m.get("id", "")).startswith("c") and "result" in m, timeout=10)
        if m is None:
            break
        got[m["id"]] = m
    wrong = [k for k, m in got.items()
             if (structured(m) or {}).get("content", {}).get("text") != "a" + k[1:]]
    check(f"[stdio async] answered in reverse order: each of the {n} calls gets its own answer",
          len(got) == n and not wrong, (len(got), wrong[:5]))
    s.close("async many")


def stdio_async_chain():
    s = Stdio({"elicitation": {}, "sampling": {}})
    s.send(call(1, "chain"))
    req = s.next(is_req("elicitation/create"))
    check("[stdio async] chain: elicitation/create arrives", req is not None, req)
    if not req:
        return s.close("async chain")
    s.send({"jsonrpc": "2.0", "id": req["id"],
            "result": {"action": "accept", "content": {"name": "Ada"}}})
    seen = []
    req2 = s.next(is_req("sampling/createMessage"), seen=seen)
    check("[stdio async] chain: then sampling/createMessage, from the done callback, with a new id",
          req2 is not None and req2["id"] != req["id"]
          and not any(is_resp(1)(m) for m in seen), (req2, seen))
    if req2:
        out = {"role": "assistant", "model": "m", "content": {"type": "text", "text": "Hi Ada"}}
        s.send({"jsonrpc": "2.0", "id": req2["id"], "result": out})
        r = s.next(is_resp(1))
        check("[stdio async] chain: both answers in the final result", structured(r) == {
            "elicited": {"action": "accept", "content": {"name": "Ada"}}, "sampled": out}, r)
    s.close("async chain")


def stdio_async_timeout():
    s = Stdio({"roots": {}})
    t0 = time.time()
    s.send(call(1, "ask_async", {"method": "roots/list", "timeout_ms": 300}))
    req = s.next(is_req("roots/list"))
    seen = []
    r = s.next(is_resp(1), seen=seen)
    dt = time.time() - t0
    note = next((m for m in seen if m.get("method") == "notifications/cancelled"), None)
    check("[stdio async] timeout: notifications/cancelled {requestId, reason: timed out} first",
          req is not None and note is not None
          and note["params"] == {"requestId": req["id"], "reason": "timed out"}, (note, seen))
    check("[stdio async] timeout: done gets -PF_ETIMEDOUT: an isError result after ~300 ms",
          is_error(r) and "timed out" in (text_of(r) or "") and 0.25 <= dt < 3, (r, dt))
    if req:  # a late answer is ignored
        s.send({"jsonrpc": "2.0", "id": req["id"], "result": ROOTS})
    s.send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
    check("[stdio async] timeout: the session goes on", s.next(is_resp(2)) is not None)
    s.close("async timeout")


def stdio_async_cancel():
    s = Stdio({"roots": {}})
    s.send(call("cc", "ask_async", {"method": "roots/list", "timeout_ms": 20000}))
    req = s.next(is_req("roots/list"))
    check("[stdio async] cancel: the request arrives", req is not None, req)
    if req:
        t0 = time.time()
        s.send(cancelled("cc", "user pressed stop"))
        seen = []
        note = s.next(lambda m: m.get("method") == "notifications/cancelled", seen=seen)
        check("[stdio async] cancel: notifications/cancelled for the server's request at once",
              note is not None and note["params"].get("requestId") == req["id"]
              and note["params"].get("reason") == "the tool call was cancelled"
              and time.time() - t0 < 2, (note, seen))
        r = None
        for k in range(40):  # done runs on a later turn of the loop than the notification
            s.send(call(f"seen{k}", "async_seen"))
            r = s.next(is_resp(f"seen{k}"), timeout=3, seen=seen)
            if text_of(r) != "0":
                break
            time.sleep(0.05)
        check("[stdio async] cancel: done got -PF_ECANCELED", text_of(r) == "1", r)
        s.send({"jsonrpc": "2.0", "id": req["id"], "result": ROOTS})  # late: ignored
        s.send({"jsonrpc": "2.0", "id": "p", "method": "ping"})
        r = s.next(is_resp("p"), timeout=3, seen=seen)
        check("[stdio async] cancel: no response to the cancelled call, no second notification",
              r is not None and not any(m.get("id") == "cc" for m in seen)
              and not any(m.get("method") == "notifications/cancelled" for m in seen), seen)
    s.close("async cancel")


section("stdio: roots/list, errors, capabilities", stdio_roots)
section("stdio: url-mode elicitation", stdio_elicit_url)
section("stdio: timeout", stdio_timeout)
section("stdio: cancel while waiting", stdio_cancel)
section("stdio async: answers, errors, refusals", stdio_async_basics)
section("stdio async: 100 concurrent requests", stdio_async_many)
section("stdio async: chaining", stdio_async_chain)
section("stdio async: timeout", stdio_async_timeout)
section("stdio async: cancel while waiting", stdio_async_cancel)

# =========================================================================================
# Streamable HTTP
# =========================================================================================


class Http:
    def __init__(self):
        self.p = subprocess.Popen([PF, "serve", CONFIG, "--http", "127.0.0.1:0"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, env=ENV)
        started.append(self.p)
        self.err, port, ready = [], [], threading.Event()
        threading.Thread(target=stderr_reader, args=(self.p, self.err, ready, port),
                         daemon=True).start()
        ready.wait(15)
        self.port = port[0] if port else None

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "killed"
        time.sleep(0.05)
        check("[http] SIGTERM: exits 0", rc == 0, (rc, self.err[-20:]))
        bad = [l for l in self.err if SANITIZER.search(l)]
        check("[http] no sanitizer report or crash", not bad, "\n".join(self.err[-60:]))


class Conn:
    """One HTTP/1.1 connection; reads a response head, then a body or SSE events."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.chunked = False
        self.ended = False
        self.sse = ""

    def _more(self, end):
        self.s.settimeout(max(0.001, end - time.time()))
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def send(self, method, headers, body=b""):
        h = dict(headers, Host="127.0.0.1")
        if body or method == "POST":
            h["Content-Length"] = str(len(body))
        head = f"{method} {MCP} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
        self.s.sendall(head.encode() + b"\r\n" + body)

    def head(self, timeout=10):
        end = time.time() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._more(end)
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        h = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            h[k.strip().lower()] = v.strip()
        self.chunked = h.get("transfer-encoding", "").lower() == "chunked"
        self.ended = False
        self.sse = ""
        return int(lines[0].split(" ")[1]), h

    def chunk(self, end):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                size = int(self.buf[:i].split(b";")[0], 16)
                if size == 0:
                    j = self.buf.find(b"\r\n\r\n", i)
                    if j >= i:
                        self.buf = self.buf[j + 4:]
                        return b""
                elif len(self.buf) >= i + 4 + size:
                    d = self.buf[i + 2:i + 2 + size]
                    self.buf = self.buf[i + 4 + size:]
                    return d
            self._more(end)

    def body(self, h, timeout=10):
        end = time.time() + timeout
        if self.chunked:
            out = b""
            while True:
                c = self.chunk(end)
                if not c:
                    return out
                out += c
        n = int(h.get("content-length", "0"))
        while len(self.buf) < n:
            self._more(end)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def message(self, timeout=5.0):
        """The next JSON-RPC message of the SSE stream; None when it ended or on timeout."""
        end = time.time() + timeout
        while True:
            t = self.sse.replace("\r\n", "\n")
            i = t.find("\n\n")
            if i >= 0:
                block, self.sse = t[:i], t[i + 2:]
                data = "\n".join(l[5:].lstrip(" ") for l in block.split("\n") if l.startswith("data:"))
                if data:
                    return json.loads(data)
                continue
            if self.ended:
                return None
            try:
                c = self.chunk(end)
            except (socket.timeout, TimeoutError):
                return None
            except (EOFError, OSError):
                self.ended = True
                return None
            if not c:
                self.ended = True
            else:
                self.sse += c.decode(errors="replace")

    def next(self, pred, timeout=5.0, seen=None):
        end = time.time() + timeout
        while time.time() < end:
            m = self.message(end - time.time())
            if m is None:
                return None
            if pred(m):
                return m
            if seen is not None:
                seen.append(m)
        return None

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def headers(sid=None):
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
         "MCP-Protocol-Version": LATEST}
    if sid:
        h["Mcp-Session-Id"] = sid
    return h


def post(port, msg, sid=None):
    """A POST whose whole answer is read; returns (status, headers, body bytes)."""
    c = Conn(port)
    try:
        c.send("POST", headers(sid), json.dumps(msg).encode())
        st, h = c.head()
        return st, h, c.body(h)
    finally:
        c.close()


def open_post(port, msg, sid):
    """A POST whose answer is an SSE stream, left open; returns (conn, status, content type)."""
    c = Conn(port)
    c.send("POST", headers(sid), json.dumps(msg).encode())
    st, h = c.head()
    return c, st, h.get("content-type", "").split(";")[0]


def open_get(port, sid):
    c = Conn(port)
    c.send("GET", {"Accept": "text/event-stream", "Mcp-Session-Id": sid,
                   "MCP-Protocol-Version": LATEST})
    st, h = c.head()
    return c, st


def session(port, caps):
    st, h, _ = post(port, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": LATEST, "capabilities": caps,
        "clientInfo": {"name": "e2e-clientreq", "version": "1"}}})
    sid = h.get("mcp-session-id")
    post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    return sid


def answer(port, sid, req, result):
    st, _, _ = post(port, {"jsonrpc": "2.0", "id": req["id"], "result": result}, sid)
    return st


def http_elicit_url(P):
    sid = session(P, {"elicitation": {}})
    st, _, body = post(P, call(1, "elicit", {"mode": "url"}), sid)
    text = body.decode(errors="replace")
    check("[http] url-mode elicitation, client with elicitation: {}: isError, nothing sent",
          st == 200 and '"isError":true' in text and "does not support url-mode" in text
          and "elicitation/create" not in text, (st, text))
    sid = session(P, {"elicitation": {"url": {}}})
    c, st, ct = open_post(P, call(2, "elicit", {"mode": "url"}), sid)
    req = c.next(is_req("elicitation/create"))
    check("[http] url-mode elicitation: elicitation/create with mode url on the POST's stream",
          st == 200 and ct == "text/event-stream" and req is not None
          and req["params"].get("mode") == "url" and req["params"].get("elicitationId") == "el-1",
          (st, ct, req))
    if req:
        check("[http] url-mode elicitation: POSTing the answer: 202",
              answer(P, sid, req, {"action": "decline"}) == 202)
        r = c.next(is_resp(2))
        check("[http] url-mode elicitation: the answer reaches the tool",
              structured(r) == {"action": "decline"}, r)
    c.close()


def http_timeout(P):
    sid = session(P, {"roots": {}})
    c, st, ct = open_post(P, call(1, "ask", {"method": "roots/list", "timeout_ms": 300}), sid)
    req = c.next(is_req("roots/list"))
    check("[http] timeout: roots/list arrives on the POST's SSE stream",
          st == 200 and ct == "text/event-stream" and req is not None, (st, ct, req))
    seen = []
    r = c.next(is_resp(1), seen=seen)
    note = next((m for m in seen if m.get("method") == "notifications/cancelled"), None)
    check("[http] timeout: notifications/cancelled {requestId, reason} on the stream, before the result",
          req is not None and note is not None
          and note["params"] == {"requestId": req["id"], "reason": "timed out"}, (note, seen))
    check("[http] timeout: the tool gets an isError 'timed out' result",
          is_error(r) and "timed out" in (text_of(r) or ""), r)
    c.close()


def http_cancel(P):
    # with the session's GET stream open: the notification goes there
    sid = session(P, {"roots": {}, "sampling": {}})
    g, gst = open_get(P, sid)
    check("[http] cancel: GET stream open", gst == 200, gst)
    c, st, ct = open_post(P, call(7, "ask", {"method": "sampling/createMessage",
                                             "params": json.dumps(SAMPLE), "timeout_ms": 20000}), sid)
    req = c.next(is_req("sampling/createMessage"))
    check("[http] cancel: the sampling request arrives on the POST's stream", req is not None, req)
    if req:
        st, _, _ = post(P, cancelled(7, "stop"), sid)
        check("[http] cancel: POSTing notifications/cancelled: 202", st == 202, st)
        note = g.next(lambda m: m.get("method") == "notifications/cancelled", timeout=3)
        check("[http] cancel: notifications/cancelled {requestId, reason} for the server's request "
              "arrives on the GET stream",
              note is not None and note["params"].get("requestId") == req["id"]
              and isinstance(note["params"].get("reason"), str), note)
        seen = []
        r = c.next(is_resp(7), timeout=3, seen=seen)
        check("[http] cancel: the POST's stream ends without a response", r is None and c.ended,
              (r, seen, c.ended))
    c.close()
    g.close()
    # no GET stream: the call ends all the same (the notification has nowhere to go)
    c, st, ct = open_post(P, call(8, "ask", {"method": "roots/list", "timeout_ms": 20000}), sid)
    req = c.next(is_req("roots/list"))
    if req:
        post(P, cancelled(8), sid)
        r = c.next(is_resp(8), timeout=3)
        check("[http] cancel without a GET stream: the POST's stream ends, no response",
              r is None and c.ended, r)
    c.close()
    st, _, body = post(P, call(9, "quick"), sid)
    check("[http] cancel: the session goes on", st == 200 and b'"text":"quick"' in body, body)
    # DELETE while a handler waits: the call ends with the session
    sid = session(P, {"roots": {}})
    c, st, ct = open_post(P, call(10, "ask", {"method": "roots/list", "timeout_ms": 20000}), sid)
    req = c.next(is_req("roots/list"))
    d = Conn(P)
    d.send("DELETE", {"Mcp-Session-Id": sid, "MCP-Protocol-Version": LATEST})
    dst, dh = d.head()
    d.close()
    r = c.next(is_resp(10), timeout=3)
    check("[http] DELETE while a handler waits: 200/204, the POST's stream ends without a response",
          req is not None and dst in (200, 204) and r is None and c.ended, (req, dst, r))
    c.close()


def http_async(P):
    sid = session(P, {"roots": {}, "elicitation": {}, "sampling": {}})
    c, st, ct = open_post(P, call(1, "ask_async", {"method": "roots/list"}), sid)
    req = c.next(is_req("roots/list"))
    check("[http async] roots/list arrives on the POST's SSE stream",
          st == 200 and ct == "text/event-stream" and req is not None, (st, ct, req))
    if req:
        check("[http async] POSTing the answer: 202", answer(P, sid, req, ROOTS) == 202)
        r = c.next(is_resp(1))
        check("[http async] roots/list: the done callback gets the client's roots",
              structured(r) == ROOTS, r)
    c.close()
    # chaining: each answer POSTed on its own connection (any worker thread)
    c, st, ct = open_post(P, call(2, "chain"), sid)
    req = c.next(is_req("elicitation/create"))
    if req:
        answer(P, sid, req, {"action": "accept", "content": {"name": "Bo"}})
        req2 = c.next(is_req("sampling/createMessage"))
        out = {"role": "assistant", "model": "m", "content": {"type": "text", "text": "Hi Bo"}}
        if req2:
            answer(P, sid, req2, out)
        r = c.next(is_resp(2))
        check("[http async] chain: both answers in the final result", structured(r) == {
            "elicited": {"action": "accept", "content": {"name": "Bo"}}, "sampled": out}, r)
    else:
        check("[http async] chain: elicitation/create arrives", False)
    c.close()
    # cancel while waiting: the notification on the GET stream, the POST ends without a response
    g, gst = open_get(P, sid)
    c, st, ct = open_post(P, call(3, "ask_async", {"method": "roots/list", "timeout_ms": 20000}),
                          sid)
    req = c.next(is_req("roots/list"))
    if req:
        post(P, cancelled(3, "stop"), sid)
        note = g.next(lambda m: m.get("method") == "notifications/cancelled", timeout=3)
        check("[http async] cancel: notifications/cancelled for the server's request on the GET "
              "stream", note is not None and note["params"].get("requestId") == req["id"], note)
        r = c.next(is_resp(3), timeout=3)
        check("[http async] cancel: the POST's stream ends without a response",
              r is None and c.ended, r)
    else:
        check("[http async] cancel: the request arrives", False)
    c.close()
    g.close()


srv = Http()
if check("[http] server starts and prints its port", srv.port is not None, srv.err[-20:]):
    section("http: url-mode elicitation", lambda: http_elicit_url(srv.port))
    section("http: timeout", lambda: http_timeout(srv.port))
    section("http: cancel while waiting", lambda: http_cancel(srv.port))
    section("http async: answers, chaining, cancel", lambda: http_async(srv.port))
    srv.stop()

cleanup()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

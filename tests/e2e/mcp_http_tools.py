#!/usr/bin/env python3
"""E2E tests of http tools over stdio against tests/e2e/httptools/pforge.yaml.

Starts its own upstream (http.server on an ephemeral 127.0.0.1 port, in a
thread) and the pforge binary over stdio.

usage: mcp_http_tools.py PFORGE_BINARY BUILD_DIR SOURCE_DIR
Prints one line per check and ends with "N passed, N failed".
"""
import base64
import http.server
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PF, BUILD, SRC = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
FIXTURE = os.path.join(SRC, "tests", "e2e", "httptools")
CONFIG = os.path.join(FIXTURE, "pforge.yaml")
TOKEN, PASSWORD, KEY = "tok-SECRET-4f1a9", "pw-SECRET-77b2c", "key-SECRET-0d3e8"
SECRETS = [TOKEN, PASSWORD, KEY, base64.b64encode(f"alice:{PASSWORD}".encode()).decode()]
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


# ---- the upstream ------------------------------------------------------------------------------

hang_release = threading.Event()
hits = {}  # route key -> requests seen (resilience checks)
hits_lock = threading.Lock()
health = {"up": True}


def hit(key):
    with hits_lock:
        hits[key] = hits.get(key, 0) + 1
        return hits[key]


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype="application/json", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.split("/")
        what = parts[1] if len(parts) > 1 else ""
        if what == "echo":
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = {"unparsed": raw.decode(errors="replace")}
            self.reply(200, json.dumps({
                "method": self.command, "path": u.path, "query": u.query,
                "peer": self.client_address[1],
                "args": urllib.parse.parse_qs(u.query),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body}))
        elif what == "status":
            code = int(parts[2])
            if code == 204:
                return self.reply(204, "")  # no body: the connection is kept
            self.reply(code, "upstream says no: " + (self.headers.get("Authorization") or "")
                       + " " + u.query + " " + "x" * 3000, "text/plain")
        elif what == "body":
            kind = parts[2]
            bodies = {"text": (b"plain text", "text/plain"),
                      "notjson": (b'{"a": 1,', "application/json"),
                      "binary": (b"\xff\xfe bin \x80 end", "application/octet-stream"),
                      "array": (b'[1, 2, {"a": 3}]', "application/json"),
                      "empty": (b"", "application/json")}
            b, t = bodies[kind]
            self.reply(200, b, t)
        elif what == "huge":
            if parts[2] == "chunked":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"y" * 65536
                try:
                    for _ in range(40):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass
            else:
                try:
                    self.reply(200, b"z" * 2_000_000, "text/plain")
                except OSError:
                    pass
        elif what == "hang":
            hang_release.wait(30)
            self.close_connection = True
        elif what == "flaky":  # /flaky/KEY/N: 500 for the first N requests, then 200
            n = hit("flaky/" + parts[2])
            if n <= int(parts[3]):
                self.reply(500, "flaky upstream: request %d fails" % n, "text/plain")
            else:
                self.reply(200, json.dumps({"ok": True, "request": n}))
        elif what == "missing":  # always 404
            hit("missing/" + parts[2])
            self.reply(404, "no such thing", "text/plain")
        elif what == "health":
            n = hit("health")
            if health["up"]:
                self.reply(200, json.dumps({"up": True, "request": n}))
            else:
                self.reply(503, "down for maintenance", "text/plain")
        elif what == "redirect":
            n = int(parts[2])
            if n > 0:
                self.reply(302, "", "text/plain", [("Location", f"/redirect/{n - 1}")])
            else:
                self.reply(200, '{"landed": true}')
        else:
            self.reply(404, "no such route")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


class ThreadingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that give up (timeouts, cancellation, size limits) reset the connection


up = ThreadingServer(("127.0.0.1", 0), Upstream)
threading.Thread(target=up.serve_forever, daemon=True).start()
UPSTREAM = f"http://127.0.0.1:{up.server_address[1]}"
s0 = socket.socket()
s0.bind(("127.0.0.1", 0))
CLOSED = s0.getsockname()[1]
s0.close()  # nothing listens there now


# ---- the server --------------------------------------------------------------------------------

class Server:
    def __init__(self, config=CONFIG):
        e = dict(os.environ, UPSTREAM=UPSTREAM, CLOSED=str(CLOSED), PF_HT_TOKEN=TOKEN,
                 PF_HT_PASS=PASSWORD, PF_HT_KEY=KEY)
        e.pop("PF_HT_UNSET", None)
        self.p = subprocess.Popen([PF, "serve", "--log-level", "debug", config],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=e)
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

    def start(self, method, params=None):
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

    def call(self, name, args=None, timeout=15.0):
        id = self.start("tools/call", {"name": name, "arguments": args or {}})
        self.notes, r = self.collect(id, timeout)
        return r.get("result") if r else None

    def initialize(self):
        id = self.start("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                       "clientInfo": {"name": "e2e-http-tools", "version": "1"}})
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


def echo(r):
    """The upstream's echo, from structuredContent (checked equal to the text)."""
    if not r or r.get("isError"):
        return None
    sc = r.get("structuredContent")
    return sc if sc is not None and json.loads(texts(r)[0]) == sc else None


all_results = []


def call(s, name, args=None, timeout=15.0):
    r = s.call(name, args, timeout)
    all_results.append(r)
    return r


def no_secret(r):
    t = json.dumps(r)
    return not any(x in t for x in SECRETS)


s = Server()
s.initialize()

# ---- tools/list: inferred params ---------------------------------------------------------------
id = s.start("tools/list")
_, r = s.collect(id)
tools = {t["name"]: t for t in r["result"]["tools"]}
check("params inferred from endpoint and query templates",
      tools["get_item"]["inputSchema"].get("required") == ["id", "q"], tools["get_item"])
check("params inferred from headers", tools["headers"]["inputSchema"].get("required") == ["trace"],
      tools["headers"])
check("params inferred from a templated base URL",
      tools["base_url"]["inputSchema"].get("required") == ["base", "id"], tools["base_url"])

# ---- methods, URL encoding, query -------------------------------------------------------------
for v in ["plain", "a/b", "what?x=1", "a&b=c", "two words", "héllo ✓", "100%", "#frag"]:
    r = call(s, "get_item", {"id": v, "q": v})
    e = echo(r)
    enc = urllib.parse.quote(v, safe="")
    check(f"path variable encoded: {v!r}", e and e["method"] == "GET"
          and e["path"] == "/echo/" + enc and e["args"].get("q") == [v]
          and e["args"].get("fixed") == ["a b"], r)
r = call(s, "search", {"q": "x y"})
e = echo(r)
check("query: a missing optional value is left out, a default is used",
      e and e["args"] == {"q": ["x y"], "limit": ["10"]}, r)
r = call(s, "search", {"tags": ["a", "b&c"], "limit": 3})
e = echo(r)
check("query: an array value repeats the parameter",
      e and e["args"] == {"tag": ["a", "b&c"], "limit": ["3"]}, r)

r = call(s, "create", {"name": 'Ann "Q"\n', "count": 3, "ok": True, "tags": ["x", "y"],
                       "meta": {"k": [1, None]}})
e = echo(r)
check("POST: typed body_template substitution",
      e and e["method"] == "POST" and e["body"] == {
          "item": {"name": 'Ann "Q"\n', "count": 3, "ok": True, "tags": ["x", "y"],
                   "meta": {"k": [1, None]}, "label": 'Ann "Q"\n x3'},
          'Ann "Q"\n_key': 1}, r)
check("POST: Content-Type application/json",
      e and e["headers"].get("content-type") == "application/json", e)
r = call(s, "create", {"name": "n", "count": 1, "ok": False, "tags": []})
e = echo(r)
check("a missing typed value renders null", e and e["body"]["item"]["meta"] is None, r)

r = call(s, "replace", {"id": "7", "value": 2.5})
e = echo(r)
check("PUT: the arguments are the body", e and e["method"] == "PUT" and e["path"] ==
      "/echo/items/7" and e["body"] == {"id": "7", "value": 2.5}, r)
r = call(s, "patch", {"value": 1})
e = echo(r)
check("PATCH: the arguments are the body", e and e["method"] == "PATCH"
      and e["body"] == {"value": 1}, r)
r = call(s, "remove", {"id": "x/y"})
e = echo(r)
check("DELETE without a body", e and e["method"] == "DELETE" and e["path"] == "/echo/items/x%2Fy"
      and e["body"] is None and "content-type" not in e["headers"], r)

# ---- headers and auth --------------------------------------------------------------------------
r = call(s, "headers", {"trace": "t-1 ü"})
e = echo(r)
check("templated and static headers", e and e["headers"].get("x-trace") == "t-1 ü".encode().decode("latin-1")
      and e["headers"].get("x-static") == "static value"
      and e["headers"].get("user-agent", "").startswith("pforge/"), r)
r = call(s, "headers", {"trace": "a\r\nX-Injected: 1"})
check("a header value with a line break is refused", r and r.get("isError")
      and "line break" in texts(r)[0], r)
r = call(s, "bearer")
e = echo(r)
check("bearer auth", e and e["headers"].get("authorization") == "Bearer " + TOKEN, r)
r = call(s, "basic")
e = echo(r)
check("basic auth", e and e["headers"].get("authorization") == "Basic " + SECRETS[3], r)
r = call(s, "apikey_header")
e = echo(r)
check("apikey auth in a named header", e and e["headers"].get("x-key") == KEY, r)
r = call(s, "apikey_default")
e = echo(r)
check("apikey auth in the default header", e and e["headers"].get("x-api-key") == KEY, r)
r = call(s, "apikey_query")
e = echo(r)
check("apikey auth in the query", e and e["args"] == {"x": ["1"], "api_key": [KEY]}, r)
r = call(s, "missing_env")
check("a missing secret variable: isError naming it",
      r and r.get("isError") and "PF_HT_UNSET" in texts(r)[0] and "not set" in texts(r)[0], r)

# ---- status codes and bodies -------------------------------------------------------------------
for code in (404, 500):
    r = call(s, "status", {"code": str(code)})
    t = "\n".join(texts(r))
    check(f"HTTP {code}: isError with the status, method, URL and an excerpt",
          r and r.get("isError") and t.startswith(f"HTTP {code} from GET {UPSTREAM}/status/{code}")
          and "upstream says no" in t and "more bytes]" in t and len(t) < 1500, r)
    check(f"HTTP {code}: a token echoed by the upstream is redacted",
          no_secret(r) and "Bearer [redacted]" in t, t[:300])
r = call(s, "status_key", {"code": "401"})
t = "\n".join(texts(r))
check("HTTP 401: the key parameter is not in the URL shown, nor in the excerpt",
      r and r.get("isError") and no_secret(r) and f"GET {UPSTREAM}/status/401\n" in t, t[:300])
r = call(s, "status", {"code": "204"})
check("HTTP 204: an empty text result", r and not r.get("isError") and texts(r) == [""], r)

r = call(s, "body", {"kind": "text"})
check("a text body", texts(r) == ["plain text"] and "structuredContent" not in r, r)
r = call(s, "body", {"kind": "notjson"})
check("an invalid JSON body is text only", r and not r.get("isError")
      and texts(r) == ['{"a": 1,'] and "structuredContent" not in r, r)
r = call(s, "body", {"kind": "array"})
check("a JSON array body is text only", r and texts(r) == ['[1, 2, {"a": 3}]']
      and "structuredContent" not in r, r)
r = call(s, "body", {"kind": "binary"})
check("a non-UTF-8 body is text with U+FFFD", r and not r.get("isError")
      and texts(r) == ["\ufffd\ufffd bin \ufffd end"], r)

for mode in ("length", "chunked"):
    r = call(s, "huge", {"mode": mode})
    check(f"a body over max_response_bytes ({mode}): isError", r and r.get("isError")
          and "max_response_bytes (100000)" in texts(r)[0], r)

# ---- failures: timeout, refused, DNS, redirects -----------------------------------------------
t0 = time.time()
r = call(s, "hang")
dt = time.time() - t0
check("a hanging upstream times out quickly", r and r.get("isError")
      and "timed out after 500 ms" in texts(r)[0] and dt < 5, (dt, r))
r = call(s, "refused")
check("connection refused: isError with curl's reason", r and r.get("isError")
      and f"127.0.0.1:{CLOSED}" in texts(r)[0] and "failed:" in texts(r)[0], r)
r = call(s, "unresolvable")
check("an unresolvable host: isError", r and r.get("isError") and "failed:" in texts(r)[0]
      and "pforge-no-such-host.invalid" in texts(r)[0], r)
r = call(s, "redirect", {"n": "2"})
check("redirects are followed", r and r.get("structuredContent") == {"landed": True}, r)
r = call(s, "redirect", {"n": "5"})
check("too many redirects: isError", r and r.get("isError")
      and "too many redirects (max_redirects: 3)" in texts(r)[0], r)
r = call(s, "no_follow", {"n": "1"})
check("follow_redirects: false gives the 302 itself", r and not r.get("isError")
      and texts(r) == [""], r)
r = call(s, "base_url", {"base": UPSTREAM, "id": "a b"})
e = echo(r)
check("a templated base URL is not encoded, the rest is", e and e["path"] == "/echo/a%20b", r)
r = call(s, "base_url", {"base": "file:///etc", "id": "passwd"})
check("a templated base URL must be http(s)", r and r.get("isError")
      and "http:// or https://" in texts(r)[0], r)

ports = [(echo(call(s, "get_item", {"id": "k", "q": "k"})) or {}).get("peer") for _ in range(3)]
check("calls one after the other reuse the connection", ports[0] and len(set(ports)) == 1, ports)

# ---- concurrency and cancellation --------------------------------------------------------------
ids = [s.start("tools/call", {"name": "get_item", "arguments": {"id": str(i), "q": "c"}})
       for i in range(20)]
got = {}
end = time.time() + 15
while len(got) < len(ids) and time.time() < end:
    m = s.recv(end - time.time())
    if m and "id" in m:
        got[m["id"]] = m
ok = all(echo(got.get(i, {}).get("result")) and
         echo(got[i]["result"])["path"] == f"/echo/{n}" for n, i in enumerate(ids))
check("20 concurrent calls all answered correctly", ok, list(got.values())[:2])

t0 = time.time()
cid = s.start("tools/call", {"name": "hang_long", "arguments": {}})
time.sleep(0.3)
s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": cid}})
pid = s.start("ping")
_, pong = s.collect(pid, 5)
stray = s.recv(1.0)
check("cancellation: the server answers ping at once", pong and pong.get("result") == {}
      and time.time() - t0 < 3, pong)
check("cancellation: no response for the cancelled call", stray is None, stray)
r = call(s, "bearer")
check("the server keeps serving after everything", echo(r) is not None, r)

check("no secret in any result but the echoes of the auth tools",
      all(no_secret(x) for x in all_results
          if not (x and not x.get("isError") and (x.get("structuredContent") or {}).get("path")
                  in ("/echo/auth",))), "")

# ---- resilience against a real upstream (docs/resilience.md) ----------------------------------
def text(r):
    return "".join(texts(r))


def is_error(r):
    return bool(r and r.get("isError"))


r = call(s, "flaky_upstream", {"key": "a", "fails": "2"})
check("retry on 5xx: 500, 500, then 200 is a success",
      not is_error(r) and r.get("structuredContent") == {"ok": True, "request": 3}, r)
check("retry on 5xx: three requests reached the upstream", hits.get("flaky/a") == 3, hits)
r = call(s, "flaky_upstream", {"key": "b", "fails": "9"})
check("retry on 5xx: exhausted, the last 500 is the result",
      is_error(r) and "HTTP 500" in text(r) and hits.get("flaky/b") == 3, (r, hits))
r = call(s, "missing_retry", {"key": "c"})
check("a 404 is an error but never retried", is_error(r) and "HTTP 404" in text(r) and
      hits.get("missing/c") == 1, (r, hits))
t0 = time.time()
r = call(s, "hang_retry")
dt = time.time() - t0
check("a hanging upstream: each try times out, retried once",
      is_error(r) and "timed out" in text(r).lower() and 0.35 <= dt < 3, (r, dt))
r = call(s, "refused_retry")
check("a refused connection is retried (error) and stays an error",
      is_error(r) and no_secret(r), r)
health["up"] = False
before = hits.get("health", 0)
for i in range(2):
    r = call(s, "guarded")
    check(f"breaker: 503 number {i + 1} reaches the upstream", is_error(r) and "HTTP 503" in text(r), r)
r = call(s, "guarded")
check("breaker: open after 2 failures, the upstream is spared",
      is_error(r) and "circuit breaker is open" in text(r) and hits["health"] == before + 2,
      (r, hits))
health["up"] = True
time.sleep(0.35)
r = call(s, "guarded")
check("breaker: half-open after open_ms; the healthy upstream's answer closes it",
      not is_error(r) and r.get("structuredContent", {}).get("up") is True, r)
r = call(s, "guarded")
check("breaker: closed again", not is_error(r), r)
r = call(s, "with_fallback")
check("fallback: a 503 upstream is answered by the fallback tool",
      not is_error(r) and r.get("structuredContent", {}).get("up") is True, r)

# ---- exit: clean, no secrets logged, no sanitizer report --------------------------------------
hang_release.set()
rc = s.close()
check("EOF on stdin: the server exits 0", rc == 0, rc)
err = s.p.stderr.read().decode(errors="replace")
check("stderr (debug log) holds no secret", not any(x in err for x in SECRETS),
      [l for l in err.splitlines() if any(x in l for x in SECRETS)][:3])
check("no sanitizer report", "Sanitizer" not in err and "runtime error" not in err, err[-3000:])

# ---- EOF while a request runs: the server waits for it, then exits ------------------------------
hang_release.clear()
s = Server()
s.initialize()
id = s.start("tools/call", {"name": "hang", "arguments": {}})
time.sleep(0.2)
t0 = time.time()
rc = s.close()
check("EOF during a request: exits 0 after its timeout", rc == 0 and time.time() - t0 < 5, rc)
out = s.buf + s.p.stdout.read()
check("... and answers it first", b'"id":%d' % id in out and b"timed out" in out, out[:500])
err = s.p.stderr.read().decode(errors="replace")
check("no sanitizer report (EOF during a request)", "Sanitizer" not in err, err[-3000:])

# ---- SIGTERM while a request runs --------------------------------------------------------------
s = Server()
s.initialize()
s.start("tools/call", {"name": "hang_long", "arguments": {}})
time.sleep(0.3)
t0 = time.time()
s.p.terminate()
try:
    rc = s.p.wait(10)
except subprocess.TimeoutExpired:
    rc = "timeout"
check("SIGTERM during a request: exits 0 promptly", rc == 0 and time.time() - t0 < 5, rc)
err = s.p.stderr.read().decode(errors="replace")
check("no sanitizer report (SIGTERM)", "Sanitizer" not in err, err[-3000:])
hang_release.set()

# ---- over Streamable HTTP: several worker loops, each with its own multi ------------------------
def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


port = free_port()
e = dict(os.environ, UPSTREAM=UPSTREAM, CLOSED=str(CLOSED), PF_HT_TOKEN=TOKEN,
         PF_HT_PASS=PASSWORD, PF_HT_KEY=KEY)
hp = subprocess.Popen([PF, "serve", "--http", f"127.0.0.1:{port}", "--workers", "3", "--stateless",
                       "--response", "json", CONFIG], stdin=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=e)
started.append(hp)


def http_call(i, results):
    body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                       "params": {"name": "get_item", "arguments": {"id": f"h{i}", "q": "x"}}})
    req = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", data=body.encode(), headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18"})
    for _ in range(50):
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                results[i] = json.loads(resp.read())
                return
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.1)


results = {}
threads = [threading.Thread(target=http_call, args=(i, results)) for i in range(12)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ok = len(results) == 12 and all(
    (echo(results[i].get("result")) or {}).get("path") == f"/echo/h{i}" for i in range(12))
check("Streamable HTTP, 3 workers: 12 concurrent http tool calls answered", ok,
      list(results.values())[:2])
hp.terminate()
try:
    rc = hp.wait(10)
except subprocess.TimeoutExpired:
    rc = "timeout"
err = hp.stderr.read().decode(errors="replace")
check("Streamable HTTP: SIGTERM exits 0 with no sanitizer report",
      rc == 0 and "Sanitizer" not in err, (rc, err[-3000:]))

# ---- examples/rest-proxy validates; bad http configs are load errors ---------------------------
ex = os.path.join(SRC, "examples", "rest-proxy", "pforge.yaml")
p = subprocess.run([PF, "validate", ex], capture_output=True, text=True)
check("examples/rest-proxy/pforge.yaml validates", p.returncode == 0, p.stdout + p.stderr)
# ---- examples/rest-proxy against its upstream.py, started here ---------------------------------
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stdio_client  # noqa: E402

s1 = socket.socket()
s1.bind(("127.0.0.1", 0))
rp_port = s1.getsockname()[1]
s1.close()
rp_up = subprocess.Popen([sys.executable, os.path.join(SRC, "examples", "rest-proxy", "upstream.py"),
                          str(rp_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, API_TOKEN="rp-secret"))
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", rp_port), 0.2).close()
        break
    except OSError:
        time.sleep(0.05)
os.environ["UPSTREAM_URL"] = f"http://127.0.0.1:{rp_port}"
os.environ.pop("API_TOKEN", None)
rp = stdio_client.Server(PF, ex, BUILD)
rp.initialize()
r = rp.call("get_user", {"id": "1", "fields": "name,age"})
check("rest-proxy: get_user with a query", r and r["result"].get("structuredContent") ==
      {"name": "Ada", "age": 36}, r)
r = rp.call("create_user", {"name": "Bob", "age": 41, "tags": ["x"]})
check("rest-proxy: create_user sends typed JSON (age a number, admin its default)",
      r and r["result"].get("structuredContent", {}).get("age") == 41 and
      r["result"]["structuredContent"].get("admin") is False, r)
r = rp.call("search_users", {"q": "bo"})
check("rest-proxy: search_users (inferred param)",
      r and [u["name"] for u in r["result"]["structuredContent"]["users"]] == ["Bob"], r)
r = rp.call("delete_user", {"id": "2"})
check("rest-proxy: delete_user without API_TOKEN is an isError naming it",
      r and r["result"].get("isError") and "API_TOKEN" in json.dumps(r), r)
rp.close()
os.environ["API_TOKEN"] = "rp-secret"
rp = stdio_client.Server(PF, ex, BUILD)
rp.initialize()
r = rp.call("delete_user", {"id": "2"})
check("rest-proxy: delete_user with the token", r and r["result"].get("structuredContent") ==
      {"deleted": True}, r)
r = rp.call("get_user", {"id": "2"})
check("rest-proxy: a 404 is an isError with the status",
      r and r["result"].get("isError") and "HTTP 404" in json.dumps(r), r)
rp.close()
check("rest-proxy: the server exits cleanly", rp.p.returncode == 0, rp.p.returncode)
rp_up.kill()
rp_up.wait()

bad = os.path.join(BUILD, "http-tools-bad.yaml")
with open(bad, "w") as f:
    f.write("forge: {name: x, version: '1'}\ntools:\n  - type: http\n    name: h\n"
            "    description: d\n    endpoint: http://x/\n    body_template: '{\"a\": {{b}}}'\n")
p = subprocess.run([PF, "serve", bad], capture_output=True, text=True, stdin=subprocess.DEVNULL)
check("an invalid body_template is a start-up error with its position",
      p.returncode == 1 and "tools[0] 'h': body_template: 1:8: expected a string key" in p.stderr,
      p.stderr)
with open(bad, "w") as f:
    f.write("forge: {name: x, version: '1'}\ntools:\n  - type: http\n    name: h\n"
            "    description: d\n    endpoint: http://x/\n    headers: {'X Bad': v}\n")
p = subprocess.run([PF, "serve", bad], capture_output=True, text=True, stdin=subprocess.DEVNULL)
check("an invalid header name is a start-up error",
      p.returncode == 1 and "tools[0] 'h': headers: invalid header name 'X Bad'" in p.stderr,
      p.stderr)
with open(bad, "w") as f:
    f.write("forge: {name: x, version: '1'}\ntools:\n  - type: http\n    name: h\n"
            "    description: d\n    endpoint: http://x/\n    max_redirects: 101\n"
            "    follow_redirects: maybe\n    query: [1]\n")
p = subprocess.run([PF, "validate", bad], capture_output=True, text=True)
out = p.stdout + p.stderr
check("bad http keys are load errors with locations", p.returncode == 1
      and "tools[0].max_redirects" in out and "tools[0].follow_redirects" in out
      and "tools[0].query" in out, out)

for p in started:
    if p.poll() is None:
        p.kill()
        p.wait()
up.shutdown()

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

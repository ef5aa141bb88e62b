#!/usr/bin/env python3
"""E2E tests of the Streamable HTTP transport (and the legacy HTTP+SSE one)
against the fixture server in tests/e2e/http (pforge.yaml; its handlers are
built as tests/libhttp_fixture.so from tests/e2e/full/handlers.c and
tests/e2e/http/handlers.c). Raw sockets on 127.0.0.1, python3 stdlib only.

usage: mcp_http.py PFORGE_BINARY BUILD_DIR SOURCE_DIR
Prints one line per check and ends with "N passed, N failed". Every server
is started with `serve --http 127.0.0.1:0`, stopped with SIGTERM (or SIGINT),
and must exit 0 in time with no sanitizer report on stderr. The graceful
shutdown sections signal a server with calls in flight and check that they
are answered, streams end cleanly, new requests are refused, and that the
grace period (forge.http.shutdown_timeout_ms) and a second signal bound it.
"""
import json
import os
import re
import resource
import select
import signal
import socket
import struct
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

PF, BUILD, SRC = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
FIXTURE = os.path.join(SRC, "tests", "e2e", "http")
CONFIG = os.path.join(FIXTURE, "pforge.yaml")
LATEST = "2025-11-25"
MCP = "/mcp"
passed = failed = 0
started = []  # every process this script starts, killed at the end if still running
crashed = []  # (section, exit status, last stderr lines) of servers that died
notes = []    # observations worth reporting (which status was chosen, etc.)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {name}", flush=True)
    else:
        failed += 1
        print(f"not ok - {name} {str(detail)[:2000]}", flush=True)
    return cond


def note(text):
    notes.append(text)
    print(f"# {text}", flush=True)


def cleanup():
    for p in started:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
    shutil.rmtree(TMP, ignore_errors=True)


def watchdog(signum, frame):
    print("not ok - watchdog: the test did not finish within its time budget", flush=True)
    cleanup()
    os._exit(1)


signal.signal(signal.SIGALRM, watchdog)
signal.alarm(280)

# 1,000 streams need more than the usual 1,024 descriptors; the server inherits the limit.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
if soft != resource.RLIM_INFINITY and soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
NSTREAMS = min(1000, (want - 200) // 2)

SANITIZER = re.compile(r"ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ThreadSanitizer|"
                       r"Segmentation fault|SIGSEGV|Assertion .* failed|double free|stack-buffer")


# ---- the server ------------------------------------------------------------------------


TMP = tempfile.mkdtemp(prefix="pforge-e2e-http-")


def fixture_config(name, **http):
    """A copy of the fixture config with forge.http keys added or replaced; returns its path."""
    lines = open(CONFIG).read().split("\n")
    i = lines.index("  http:") + 1
    body = []
    while lines[i].startswith("    "):
        body.append(lines[i])
        i += 1
    body = [l for l in body if l.strip().split(":")[0] not in http]
    body += [f"    {k}: {v}" for k, v in http.items()]
    j = lines.index("  http:") + 1
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write("\n".join(lines[:j] + body + lines[i:]))
    return path


class Server:
    def __init__(self, *extra, label="server", config=CONFIG):
        self.label, self.args, self.config = label, extra, config
        e = dict(os.environ, PFORGE_BUILD=BUILD)
        self.p = subprocess.Popen([PF, "serve", config, "--http", "127.0.0.1:0", *extra],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=e)
        started.append(self.p)
        self.lines = []
        self.port = None
        self.ready = threading.Event()
        self.t = threading.Thread(target=self._read_stderr, daemon=True)
        self.t.start()
        threading.Thread(target=self.p.stdout.read, daemon=True).start()
        self.ready.wait(15)
        self.rc = None

    def _read_stderr(self):
        for raw in self.p.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            m = re.search(r"pforge: listening on \S+:(\d+)", line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self.ready.set()
        self.ready.set()

    def stderr(self):
        return "\n".join(self.lines)

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig=signal.SIGTERM):
        """Sends sig; the time is kept for exited()."""
        self.t_sig = time.time()
        self.p.send_signal(sig)

    def exited(self, limit):
        """Waits up to `limit` s after signal() for the exit: (rc or None, seconds since the signal)."""
        try:
            rc = self.p.wait(max(0.01, self.t_sig + limit - time.time()))
        except subprocess.TimeoutExpired:
            rc = None
        dt = time.time() - self.t_sig
        if rc is not None:
            self.rc = rc
            self.t.join(5)
        return rc, dt

    def no_crash(self):
        bad = [l for l in self.lines if SANITIZER.search(l)]
        check(f"[{self.label}] no sanitizer report or crash on stderr", not bad,
              "\n".join(self.lines[-80:]))

    def stop(self, limit=3.0):
        """SIGTERM; returns (rc, seconds) — rc 'timeout' when it did not exit in time."""
        t0 = time.time()
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.rc = self.p.wait(limit)
        except subprocess.TimeoutExpired:
            try:  # how late is it? (for the report)
                late = self.p.wait(15)
                self.rc = f"exited {late} only after {time.time() - t0:.1f}s"
            except subprocess.TimeoutExpired:
                self.rc = f"still running after {time.time() - t0:.1f}s (killed)"
                self.p.kill()
                self.p.wait(5)
        dt = time.time() - t0
        self.t.join(5)
        return self.rc, dt

    def finish(self, limit=3.0):
        rc, dt = self.stop(limit)
        check(f"[{self.label}] SIGTERM: exits 0 within {limit:g} s", rc == 0,
              (rc, f"{dt:.2f}s", self.stderr()[-3000:]))
        self.no_crash()


# ---- HTTP over raw sockets --------------------------------------------------------------


class Resp:
    def __init__(self, status, reason, headers, raw_head):
        self.status, self.reason, self.h, self.raw_head = status, reason, headers, raw_head
        self.body = b""
        self.chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        self.ended = False  # body complete (chunked terminator / length read)
        self.error = None

    @property
    def ctype(self):
        return self.h.get("content-type", "").split(";")[0].strip().lower()

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def events(self):
        return parse_sse(self.body.decode(errors="replace"))

    @property
    def msgs(self):
        """The JSON-RPC messages of the answer (a JSON body or SSE data)."""
        if self.ctype == "application/json":
            j = self.json
            return j if isinstance(j, list) else ([] if j is None else [j])
        if self.ctype == "text/event-stream":
            out = []
            for e in self.events:
                if e.get("data"):
                    try:
                        out.append(json.loads(e["data"]))
                    except ValueError:
                        out.append({"unparsable": e["data"]})
            return out
        return []

    def __repr__(self):
        err = f" error={self.error} (status line {getattr(self, 'status_seen', '-')})" if self.error else ""
        return f"<{self.status} {self.h} {self.body[:600]!r}{err}>"


def parse_sse(text):
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip("\n"):
            continue
        events.append(parse_event(block))
    return events


def parse_event(block):
    ev, data = {"raw": block}, []
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        k, _, v = line.partition(":")
        if v.startswith(" "):
            v = v[1:]
        if k == "data":
            data.append(v)
        else:
            ev[k] = v
    if data:
        ev["data"] = "\n".join(data)
    elif "data" not in ev:
        ev["data"] = None
    return ev


class Conn:
    def __init__(self, port, timeout=10.0):
        self.port = port
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.sse_text = ""
        self.resp = None

    def close(self, abrupt=False):
        try:
            if abrupt:  # RST instead of FIN
                self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.s.close()
        except OSError:
            pass

    def _more(self, timeout=None):
        self.s.settimeout(self.timeout if timeout is None else max(0.001, timeout))
        d = self.s.recv(1 << 16)
        if not d:
            self.eof = True
            raise EOFError("connection closed")
        self.buf += d

    def send_raw(self, data):
        self.s.settimeout(self.timeout)
        self.s.sendall(data)

    def send(self, method, path, headers=None, body=b""):
        if isinstance(body, str):
            body = body.encode()
        h = {"Host": f"127.0.0.1:{self.port}"}
        for k, v in (headers or {}).items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        if body or method in ("POST", "PUT"):
            h.setdefault("Content-Length", str(len(body)))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
        self.send_raw(head.encode() + b"\r\n" + body)

    def head(self, timeout=None):
        end = time.time() + (self.timeout if timeout is None else timeout)
        while b"\r\n\r\n" not in self.buf:
            self._more(end - time.time())
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            k = k.strip().lower()
            headers[k] = (headers[k] + ", " if k in headers else "") + v.strip()
        r = Resp(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, raw)
        self.resp = r
        self.sse_text = ""
        if "content-length" in headers and int(headers["content-length"]) == 0:
            r.ended = True
        return r

    def chunk(self, timeout=None):
        """One chunk of a chunked body: bytes, or b"" at the terminator."""
        end = time.time() + (self.timeout if timeout is None else timeout)
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                size = int(self.buf[:i].split(b";")[0], 16)
                if size == 0:
                    j = self.buf.find(b"\r\n\r\n", i)  # no trailers expected
                    if j == i:
                        self.buf = self.buf[i + 4:]
                        return b""
                    if j > i:
                        self.buf = self.buf[j + 4:]
                        return b""
                elif len(self.buf) >= i + 2 + size + 2:
                    d = self.buf[i + 2:i + 2 + size]
                    self.buf = self.buf[i + 2 + size + 2:]
                    return d
            self._more(end - time.time())

    def body(self, r, timeout=None):
        end = time.time() + (self.timeout if timeout is None else timeout)
        if r.chunked:
            parts = []
            try:
                while True:
                    c = self.chunk(end - time.time())
                    if not c:
                        break
                    parts.append(c)
            finally:
                r.body = b"".join(parts)
        elif "content-length" in r.h:
            n = int(r.h["content-length"])
            while len(self.buf) < n:
                self._more(end - time.time())
            r.body, self.buf = self.buf[:n], self.buf[n:]
        elif r.status in (204, 304) or 100 <= r.status < 200:
            r.body = b""
        else:  # until close
            try:
                while True:
                    self._more(end - time.time())
            except EOFError:
                pass
            r.body, self.buf = self.buf, b""
        r.ended = True
        return r

    def request(self, method, path, headers=None, body=b"", timeout=None):
        self.send(method, path, headers, body)
        r = self.head(timeout)
        return self.body(r, timeout)

    def event(self, timeout=None):
        """The next SSE event of the current streamed response, or None when
        the stream ended (self.resp.ended) or the connection closed (self.eof).
        Raises socket.timeout when nothing complete arrives in time."""
        end = time.time() + (self.timeout if timeout is None else timeout)
        while True:
            t = self.sse_text.replace("\r\n", "\n")
            i = t.find("\n\n")
            if i >= 0:
                block, self.sse_text = t[:i], t[i + 2:]
                if block.strip("\n") == "":
                    continue
                return parse_event(block)
            if self.resp.ended or self.eof:
                return None
            try:
                c = self.chunk(end - time.time())
            except (socket.timeout, TimeoutError):
                raise
            except (EOFError, OSError):
                self.eof = True
                return None
            if not c:
                self.resp.ended = True
            else:
                self.sse_text += c.decode(errors="replace")


def failed_resp(c, ex):
    """A Resp with status 0 for a request that got no complete answer (the
    head, when it arrived, and the partial body are kept)."""
    r = c.resp if c is not None and c.resp is not None and not c.resp.ended else None
    if r is None:
        r = Resp(0, "", {}, b"")
    r.error = f"{type(ex).__name__}: {ex}"
    if r.status:
        r.status_seen, r.status = r.status, 0
    return r


def mcp_headers(session=None, version=None, accept="application/json, text/event-stream",
                ctype="application/json", extra=None):
    h = {"Content-Type": ctype, "Accept": accept}
    if session:
        h["Mcp-Session-Id"] = session
    if version:
        h["MCP-Protocol-Version"] = version
    h.update(extra or {})
    return h


def enc(msg):
    return msg if isinstance(msg, (bytes, str)) else json.dumps(msg, separators=(",", ":"))


def post(port, msg, session=None, conn=None, path=MCP, timeout=10.0, **kw):
    """One POST on a fresh connection (closed after) or on `conn`."""
    c = None
    try:
        c = conn or Conn(port, timeout)
        return c.request("POST", path, mcp_headers(session, **kw), enc(msg), timeout)
    except (OSError, EOFError) as ex:
        return failed_resp(c, ex)
    finally:
        if conn is None and c is not None:
            c.close()


def http(port, method, path, headers=None, body=b"", timeout=10.0):
    c = None
    try:
        c = Conn(port, timeout)
        return c.request(method, path, headers, body, timeout)
    except (OSError, EOFError) as ex:
        return failed_resp(c, ex)
    finally:
        if c is not None:
            c.close()


def rpc(id, method, params=None):
    m = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        m["params"] = params
    return m


def notif(method, params=None):
    m = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        m["params"] = params
    return m


def init_msg(version=LATEST, caps=None, id=0):
    return rpc(id, "initialize", {"protocolVersion": version, "capabilities": caps or {},
                                  "clientInfo": {"name": "e2e-http", "version": "1"}})


def initialize(port, version=LATEST, caps=None, conn=None):
    """initialize + notifications/initialized; returns (session id, initialize response)."""
    r = post(port, init_msg(version, caps), conn=conn)
    sid = r.h.get("mcp-session-id")
    post(port, notif("notifications/initialized"), session=sid, conn=conn,
         version=version if version >= "2025-06-18" else None)
    return sid, r


def call_msg(id, name, args=None, token=None):
    p = {"name": name, "arguments": args or {}}
    if token is not None:
        p["_meta"] = {"progressToken": token}
    return rpc(id, "tools/call", p)


def response_of(msgs, id):
    return next((m for m in msgs if isinstance(m, dict) and m.get("id") == id
                 and ("result" in m or "error" in m)), None)


def err_code(m):
    return m.get("error", {}).get("code") if isinstance(m, dict) else None


def text_of(m):
    try:
        return m["result"]["content"][0]["text"]
    except (KeyError, IndexError, TypeError):
        return None


def event_id(e):
    """'7_3' -> (7, 3); None when absent or malformed."""
    m = re.fullmatch(r"(\d+)_(\d+)", (e or {}).get("id", "") or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


class DeadConn:
    """Stands in for a connection that could not be made."""
    eof, resp = True, None

    def event(self, timeout=None):
        return None

    def close(self, abrupt=False):
        pass


def connect(port, timeout):
    try:
        return Conn(port, timeout)
    except OSError:
        return None


def open_stream(port, msg, session, version=None, timeout=10.0):
    """Sends a POST whose answer is an SSE stream; returns (conn, response head)."""
    c = connect(port, timeout)
    if c is None:
        return DeadConn(), Resp(0, "", {}, b"")
    try:
        c.send("POST", MCP, mcp_headers(session, version), enc(msg))
        return c, c.head()
    except (OSError, EOFError) as ex:
        c.eof = True
        c.resp = failed_resp(None, ex)
        c.resp.ended = True
        return c, c.resp


def open_get(port, session, last_event_id=None, timeout=10.0, extra=None):
    c = connect(port, timeout)
    if c is None:
        return DeadConn(), Resp(0, "connection refused", {}, b"")
    h = {"Accept": "text/event-stream", "Mcp-Session-Id": session}
    if last_event_id:
        h["Last-Event-ID"] = last_event_id
    h.update(extra or {})
    try:
        c.send("GET", MCP, h)
        r = c.head()
        if r.status != 200 or r.ctype != "text/event-stream":
            c.body(r, 2)
        return c, r
    except (OSError, EOFError) as ex:
        c.eof = True
        c.resp = failed_resp(None, ex)
        c.resp.ended = True
        return c, c.resp


def read_events(c, until_id=None, timeout=10.0, limit=1000):
    """Events until the stream ends, or until the response with until_id."""
    out, end = [], time.time() + timeout
    while len(out) < limit:
        try:
            e = c.event(max(0.01, end - time.time()))
        except (socket.timeout, TimeoutError):
            break
        except (EOFError, OSError):
            break
        if e is None:
            break
        out.append(e)
        if until_id is not None and e.get("data"):
            try:
                m = json.loads(e["data"])
            except ValueError:
                continue
            if isinstance(m, dict) and m.get("id") == until_id and ("result" in m or "error" in m):
                break
    return out


def wait_request(c, method, timeout=5.0):
    """Reads SSE events until a server-to-client request `method`; returns it or None."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            e = c.event(max(0.01, end - time.time()))
        except (socket.timeout, TimeoutError, OSError):
            return None
        if e is None:
            return None
        if e.get("data"):
            try:
                m = json.loads(e["data"])
            except ValueError:
                continue
            if isinstance(m, dict) and m.get("method") == method:
                return m
    return None


def data_msgs(events):
    out = []
    for e in events:
        if e.get("data"):
            try:
                out.append(json.loads(e["data"]))
            except ValueError:
                out.append({"unparsable": e["data"]})
    return out


def run_section(title, fn, restart=True):
    """Runs one group of checks; an exception is one failed check, not the end of the run.
    When the server died in it, that fails too, and a new server serves the next sections."""
    global srv, P, SID
    try:
        fn()
    except Exception:
        check(f"section '{title}' ran to its end", False, traceback.format_exc()[-1500:])
    if restart and srv is not None and not srv.alive():
        check(f"the server is still running after section '{title}'", False,
              (srv.p.returncode, "\n".join(srv.lines[-60:])))
        srv.t.join(2)
        crashed.append((title, srv.p.returncode, srv.lines[-60:]))
        srv = Server(*srv.args, label=srv.label)
        P = srv.port
        if P:
            try:
                SID = initialize(P)[0]
            except Exception:
                pass


SID, keep = "", None

# =========================================================================================
# Main server: response auto, 2 workers.
# =========================================================================================
srv = Server("--workers", "2", label="auto")
check("server starts and prints its port", srv.port is not None, srv.stderr())
if srv.port is None:
    cleanup()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1)
P = srv.port

# ---- initialize ------------------------------------------------------------------------------
def _section_1():
    global SID, keep
    keep = Conn(P)
    r = post(P, init_msg(), conn=keep)
    check("initialize: 200", r.status == 200, r)
    check("initialize: Content-Type application/json", r.ctype == "application/json", r.h)
    j = r.json or {}
    check("initialize: body is a JSON-RPC result echoing 2025-11-25",
          j.get("id") == 0 and (j.get("result") or {}).get("protocolVersion") == LATEST, r.body)
    SID = r.h.get("mcp-session-id", "")
    check("initialize: Mcp-Session-Id is 32 lowercase hex characters",
          re.fullmatch(r"[0-9a-f]{32}", SID) is not None, r.h)
    check("initialize: Mcp-Session-Id is visible ASCII", SID and all(0x21 <= ord(ch) <= 0x7e for ch in SID),
          SID)
    r = post(P, notif("notifications/initialized"), session=SID, conn=keep, version=LATEST)
    check("notifications/initialized: 202", r.status == 202, r)
    check("notifications/initialized: empty body", r.body == b"", r.body)
    sid2, _ = initialize(P)
    check("a second initialize gives another session id", sid2 and sid2 != SID, (SID, sid2))



run_section('initialize', _section_1)

# ---- a sync tool, response auto --------------------------------------------------------------
def _section_2():
    global SID, keep
    r = post(P, call_msg(1, "sum", {"a": 1, "b": 2}), session=SID, conn=keep, version=LATEST)
    check("tools/call sum (auto): 200 application/json", r.status == 200 and r.ctype == "application/json", r)
    check("tools/call sum: the result", (r.json or {}).get("result", {}).get("structuredContent") == {"sum": 3},
          r.body)
    r = post(P, rpc(2, "ping"), session=SID, conn=keep, version=LATEST)
    check("ping on the same keep-alive connection", r.json == {"jsonrpc": "2.0", "id": 2, "result": {}}, r)
    r = post(P, rpc(3, "tools/list"), session=SID, conn=keep)
    check("a request without MCP-Protocol-Version is served",
          r.status == 200 and len((r.json or {}).get("result", {}).get("tools", [])) == 8, r)
    r = post(P, rpc(4, "ping"), session=SID, conn=keep, version="2025-06-18")
    check("MCP-Protocol-Version of another supported revision is accepted (200)", r.status == 200, r)



run_section('a sync tool, response auto', _section_2)

# ---- a blocking tool with progress: an SSE stream --------------------------------------------
def _section_3():
    global SID, keep
    r = post(P, call_msg(5, "slow", {"steps": 3, "step_ms": 50}, token="p5"), session=SID, conn=keep,
             version=LATEST)
    check("slow with progressToken: 200 text/event-stream", r.status == 200 and r.ctype == "text/event-stream", r)
    ev = r.events
    first = ev[0] if ev else {}
    fid = event_id(first)
    check("SSE: the first event is a priming event id <n>_0, retry, empty data",
          fid is not None and fid[1] == 0 and first.get("retry") == "250" and first.get("data") == "",
          first)
    ids = [event_id(e) for e in ev]
    check("SSE: every event has an id <n>_<seq> of the same stream",
          fid is not None and all(i is not None and i[0] == fid[0] for i in ids), [e.get("id") for e in ev])
    check("SSE: sequence numbers increase",
          all(a is not None and b is not None and b[1] > a[1] for a, b in zip(ids, ids[1:])),
          [e.get("id") for e in ev])
    check("SSE: message events say `event: message`",
          all(e.get("event") == "message" for e in ev[1:]), [e.get("event") for e in ev])
    ms = r.msgs
    prog = [m["params"]["progress"] for m in ms if m.get("method") == "notifications/progress"]
    check("SSE: progress 1, 2, 3 with the token",
          prog == [1, 2, 3] and all(m["params"]["progressToken"] == "p5" for m in ms
                                    if m.get("method") == "notifications/progress"), ms)
    check("SSE: the result is the last message", ms and ms[-1].get("id") == 5
          and text_of(ms[-1]) == "slept 3 steps", ms[-1:] if ms else ms)
    check("SSE: the stream ends (chunked terminator) after the result", r.chunked and r.ended, r.h)
    check("SSE: Cache-Control: no-cache", "no-cache" in r.h.get("cache-control", ""), r.h)
    try:
        r = post(P, rpc(6, "ping"), session=SID, conn=keep, version=LATEST)
        ok = r.json == {"jsonrpc": "2.0", "id": 6, "result": {}}
    except (OSError, EOFError) as e:
        ok, r = False, e
    check("the connection stays usable after the stream (keep-alive)", ok, r)
    keep.close()

    r = post(P, call_msg(7, "chatty"), session=SID)
    check("auto: a request that notifies before its result is answered with SSE",
          r.status == 200 and r.ctype == "text/event-stream"
          and text_of(response_of(r.msgs, 7)) == "chatted", r)



run_section('a blocking tool with progress: an SSE stream', _section_3)

# ---- errors ----------------------------------------------------------------------------------
def _section_4():
    global SID, keep
    r = post(P, rpc(10, "ping"), session=SID, ctype="text/plain")
    check("Content-Type text/plain: 415", r.status == 415, r)
    r = post(P, rpc(11, "ping"), session=SID, accept="application/json")
    check("Accept: application/json only: 406", r.status == 406, r)
    r = post(P, rpc(12, "ping"), session=SID, accept="text/event-stream")
    check("Accept: text/event-stream only: 406", r.status == 406, r)
    r = post(P, rpc(13, "tools/list"))
    check("no Mcp-Session-Id on tools/list: 400", r.status == 400, r)
    r = post(P, rpc(14, "tools/list"), session="0" * 32)
    check("unknown session id: 404", r.status == 404, r)
    check("unknown session id: JSON-RPC error -32001", err_code(r.json) == -32001, r.body)
    r = post(P, rpc(15, "ping"), session=SID, version="1999-01-01")
    check("MCP-Protocol-Version 1999-01-01: 400", r.status == 400, r)
    r = post(P, rpc(16, "ping"), session=SID, extra={"Host": "evil.example.com"})
    check("Host: evil.example.com: 403", r.status == 403, r)
    r = post(P, rpc(17, "ping"), session=SID, extra={"Origin": "http://evil.example.com"})
    check("Origin: http://evil.example.com: 403", r.status == 403, r)
    r = post(P, rpc(18, "ping"), session=SID, extra={"Host": "evil.example.com",
                                                      "Origin": "http://evil.example.com"})
    check("Host + Origin evil.example.com: 403", r.status == 403, r)
    r = post(P, rpc(19, "ping"), session=SID, extra={"Host": f"localhost:{P}",
                                                      "Origin": f"http://localhost:{P}"})
    check("Host localhost:PORT + Origin http://localhost:PORT: 200",
          r.status == 200 and (r.json or {}).get("result") == {}, r)
    r = http(P, "PUT", MCP, mcp_headers(SID), enc(rpc(20, "ping")))
    check("PUT /mcp: 405", r.status == 405, r)
    r = http(P, "GET", "/nope", {"Accept": "text/event-stream"})
    check("GET /nope: 404", r.status == 404, r)
    r = post(P, b'{"jsonrpc":"2.0","id":21,"method":"ping"', session=SID)
    check("malformed JSON: 200 or 400", r.status in (200, 400), r)
    check("malformed JSON: JSON-RPC -32700 with id null",
          err_code(r.json) == -32700 and (r.json or {}).get("id", 0) is None, r.body)
    note(f"malformed JSON is answered with HTTP {r.status}")
    r = post(P, b'{"jsonrpc":"2.0","id":22,"method":"ping","params":{"x":"\xff\xfe"}}', session=SID)
    check("invalid UTF-8 body: -32700", err_code(r.json) == -32700, r)
    note(f"invalid UTF-8 is answered with HTTP {r.status}")
    r = post(P, rpc(23, "no/such/method"), session=SID)
    check("unknown method: 200 with -32601", r.status == 200 and err_code(r.json) == -32601, r)
    r = post(P, init_msg(id=24), session=SID)
    check("second initialize on the session: JSON-RPC -32600", err_code(r.json) == -32600, r)
    note(f"second initialize on a session is answered with HTTP {r.status}")
    r = post(P, b"", session=SID)
    check("empty body: an error (4xx or -32700/-32600)",
          r.status >= 400 or err_code(r.json) in (-32700, -32600), r)
    r = post(P, {"jsonrpc": "2.0", "id": None, "method": "ping"}, session=SID)
    check("id null: -32600", err_code(r.json) == -32600, r)
    r = http(P, "OPTIONS", MCP, {"Origin": f"http://localhost:{P}",
                                  "Access-Control-Request-Method": "POST"})
    check("OPTIONS preflight from a local origin: 2xx", 200 <= r.status < 300, r)



run_section('errors', _section_4)

# ---- DELETE ----------------------------------------------------------------------------------
def _section_5():
    global SID, keep
    sid_del, _ = initialize(P)
    r = http(P, "DELETE", MCP, {"Mcp-Session-Id": sid_del})
    check("DELETE /mcp with the session: 200", r.status == 200, r)
    r = post(P, rpc(30, "ping"), session=sid_del)
    check("POST after DELETE: 404", r.status == 404 and err_code(r.json) == -32001, r)
    r = http(P, "DELETE", MCP, {"Mcp-Session-Id": sid_del})
    check("DELETE of a deleted session: 404", r.status == 404, r)



run_section('DELETE', _section_5)

# ---- GET stream ------------------------------------------------------------------------------
def _section_6():
    global SID, keep
    sid_get, _ = initialize(P)
    g1, r = open_get(P, sid_get)
    check("GET /mcp: 200 text/event-stream", r.status == 200 and r.ctype == "text/event-stream", r)
    try:
        e = g1.event(3)
    except (socket.timeout, TimeoutError):
        e = None
    check("GET /mcp: priming event (id <n>_0, empty data)",
          e is not None and (event_id(e) or (0, 1))[1] == 0 and e.get("data") == "", e)
    g2, r = open_get(P, sid_get)
    check("a second concurrent GET: 409", r.status == 409, r)
    g2.close()
    r = post(P, rpc(40, "resources/subscribe", {"uri": "docs://inline"}), session=sid_get)
    check("resources/subscribe", (r.json or {}).get("result") == {}, r)
    r = post(P, call_msg(41, "touch"), session=sid_get)
    check("touch answered", text_of(response_of(r.msgs, 41)) == "touched", r)
    try:
        e = g1.event(3)
    except (socket.timeout, TimeoutError):
        e = None
    m = json.loads(e["data"]) if e and e.get("data") else None
    check("GET stream: notifications/resources/updated arrives on it",
          m is not None and m.get("method") == "notifications/resources/updated"
          and m.get("params", {}).get("uri") == "docs://inline", e)
    g1.close()
    ok, r, tries = False, None, 0
    t_end = time.time() + 3
    while time.time() < t_end:
        tries += 1
        g3, r = open_get(P, sid_get)
        if r.status == 200:
            ok = True
            break
        g3.close()
        time.sleep(0.05)
    check("after closing the first GET a new GET succeeds", ok, r)
    if tries > 1:
        note(f"a new GET after closing the first one needed {tries} tries (409 until the close was seen)")
    if ok:
        g3.close()



run_section('GET stream', _section_6)


def _section_list_changed():
    sid_a, _ = initialize(P)
    post(P, notif("notifications/initialized"), session=sid_a)
    g, r = open_get(P, sid_a)
    check("list_changed: GET stream open", r.status == 200, r)
    try:
        g.event(3)  # priming
    except (socket.timeout, TimeoutError):
        pass
    r = post(P, rpc(60, "tools/list"), session=sid_a)
    names = [t["name"] for t in ((r.json or {}).get("result") or {}).get("tools", [])]
    check("enabled: false: the tool is not listed", "hidden" not in names and "toggle" in names,
          names)
    r = post(P, call_msg(61, "hidden"), session=sid_a)
    check("enabled: false: calling it is an unknown tool (-32602)", err_code(r.json) == -32602, r)
    r = post(P, call_msg(62, "toggle", {"on": True}), session=sid_a)
    check("pf_set_enabled answered", text_of(response_of(r.msgs, 62)) == "rc 0", r)
    try:
        e = g.event(3)
    except (socket.timeout, TimeoutError):
        e = None
    m = json.loads(e["data"]) if e and e.get("data") else None
    check("GET stream: notifications/tools/list_changed arrives on it",
          m is not None and m.get("method") == "notifications/tools/list_changed", e)
    r = post(P, rpc(63, "tools/list"), session=sid_a)
    names = [t["name"] for t in ((r.json or {}).get("result") or {}).get("tools", [])]
    check("after pf_set_enabled the tool is listed", "hidden" in names, names)
    r = post(P, call_msg(64, "hidden"), session=sid_a)
    check("and callable", text_of(response_of(r.msgs, 64)) == "touched", r)
    post(P, call_msg(65, "toggle", {"on": False}), session=sid_a)
    g.close()


run_section('list_changed (enabled: false, pf_set_enabled)', _section_list_changed)

# ---- Last-Event-ID replay --------------------------------------------------------------------
def _section_7():
    global SID, keep
    sid_r, _ = initialize(P)
    c, r = open_stream(P, call_msg(50, "slow", {"steps": 6, "step_ms": 150}, token="r50"), sid_r, LATEST)
    check("replay: the POST is an SSE stream", r.status == 200 and r.ctype == "text/event-stream", r)
    seen = []
    try:
        for _ in range(3):  # priming + 2
            e = c.event(5)
            if e is None:
                break
            seen.append(e)
    except (socket.timeout, TimeoutError):
        pass
    c.close(abrupt=True)
    check("replay: read the priming event and two more", len(seen) == 3 and seen[0].get("data") == "", seen)
    last = seen[-1].get("id") if seen else None
    last_seq = (event_id(seen[-1]) or (0, 0))[1] if seen else 0
    seen_data = [e.get("data") for e in seen if e.get("data")]
    time.sleep(0.1)
    ok, tries = False, 0
    t_end = time.time() + 3
    while time.time() < t_end:
        tries += 1
        g, r = open_get(P, sid_r, last_event_id=last)
        if r.status == 200:
            ok = True
            break
        g.close()
        time.sleep(0.05)
    check("replay: GET with Last-Event-ID: 200 text/event-stream", ok and r.ctype == "text/event-stream", r)
    if tries > 1:
        note(f"GET + Last-Event-ID after an abrupt close needed {tries} tries ({r.status} before)")
    if ok:
        rest = read_events(g, until_id=50, timeout=10)
        rest_data = [e for e in rest if e.get("data")]
        rids = [event_id(e) for e in rest_data]
        check("replay: events only after the Last-Event-ID (ids of the same stream, higher seq)",
              rids and all(i is not None and i[0] == event_id(seen[-1])[0] and i[1] > last_seq for i in rids),
              ([e.get("id") for e in rest], last))
        check("replay: no duplicates", len(set(i for i in rids)) == len(rids)
              and not any(e["data"] in seen_data for e in rest_data), [e.get("id") for e in rest])
        allm = data_msgs(seen) + data_msgs(rest)
        prog = [m["params"]["progress"] for m in allm if m.get("method") == "notifications/progress"]
        check("replay: the progress seen before and after adds up to 1..6 exactly once",
              prog == [1, 2, 3, 4, 5, 6], prog)
        check("replay: ends with the tool's result",
              rest_data and text_of(json.loads(rest_data[-1]["data"])) == "slept 6 steps",
              rest[-1:] if rest else rest)
        try:
            tail = g.event(2)
        except (socket.timeout, TimeoutError, OSError):
            tail = "timeout"
        check("replay: the resumed stream ends after the result", tail is None and g.resp.ended,
              (tail, g.resp.ended, g.eof))
        g.close()
        g, r = open_get(P, sid_r, last_event_id=f"{event_id(seen[-1])[0] if seen else 0}_999999")
        check("GET with a Last-Event-ID beyond the stream: no stale replay (not 5xx)",
              r.status < 500, r)
        g.close()
    g, r = open_get(P, sid_r, last_event_id="99999_1")
    check("GET with an unknown Last-Event-ID stream: 4xx or a fresh stream, not 5xx", r.status < 500, r)
    note(f"GET with an unknown Last-Event-ID stream: HTTP {r.status}")
    g.close()



run_section('Last-Event-ID replay', _section_7)

# ---- pf_stream_close: SSE polling ------------------------------------------------------------
def _section_8():
    global SID, keep
    sid_p, _ = initialize(P)
    c, r = open_stream(P, call_msg(60, "poll", token="q60"), sid_p, LATEST)
    check("poll: SSE stream", r.status == 200 and r.ctype == "text/event-stream", r)
    before = read_events(c, until_id=60, timeout=5)
    c.close()
    check("poll: the server closes the stream after `retry: 100`",
          any(e.get("retry") == "100" for e in before) and (c.eof or c.resp.ended), before)
    bdata = [e for e in before if e.get("data")]
    lastp = next((e.get("id") for e in reversed(before) if e.get("id")), None)
    time.sleep(0.15)
    g, r = open_get(P, sid_p, last_event_id=lastp)
    check("poll: reconnecting with GET + Last-Event-ID: 200", r.status == 200, r)
    after = read_events(g, until_id=60, timeout=5) if r.status == 200 else []
    g.close()
    allm = data_msgs(before) + data_msgs(after)
    prog = [m["params"]["progress"] for m in allm if m.get("method") == "notifications/progress"]
    check("poll: progress 1 before, 2 and 3 after, once each", prog == [1, 2, 3], (before, after))
    check("poll: the result after reconnecting", text_of(response_of(data_msgs(after), 60)) == "polled rc=0",
          after)



run_section('pf_stream_close: SSE polling', _section_8)

# ---- requests to the client (roots, sampling) ------------------------------------------------
def _section_9():
    global SID, keep
    sid_c, _ = initialize(P, caps={"roots": {"listChanged": False}, "sampling": {}})
    c, r = open_stream(P, call_msg(70, "roots"), sid_c, LATEST)
    check("roots: the tools/call answer is an SSE stream", r.status == 200 and r.ctype == "text/event-stream", r)
    req = wait_request(c, "roots/list")
    check("roots: a roots/list request arrives on the POST's stream with an id",
          req is not None and "id" in req, req)
    if req:
        r = post(P, {"jsonrpc": "2.0", "id": req["id"],
                     "result": {"roots": [{"uri": "file:///tmp/e2e", "name": "e2e"}]}},
                 session=sid_c, version=LATEST)
        check("roots: POSTing the client's response: 202", r.status == 202 and r.body == b"", r)
        rest = read_events(c, until_id=70, timeout=5)
        check("roots: the tool gets the answer",
              text_of(response_of(data_msgs(rest), 70)) == "roots: 1 first: file:///tmp/e2e", rest)
    c.close()
    c, r = open_stream(P, call_msg(71, "sample"), sid_c, LATEST)
    req = wait_request(c, "sampling/createMessage")
    check("sample: a sampling/createMessage request arrives", req is not None, req)
    if req:
        r = post(P, {"jsonrpc": "2.0", "id": req["id"], "result": {
            "role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "m"}},
            session=sid_c, version=LATEST)
        check("sample: POSTing the response: 202", r.status == 202, r)
        rest = read_events(c, until_id=71, timeout=5)
        check("sample: the tool gets the answer", text_of(response_of(data_msgs(rest), 71)) == "sampled: hello",
              rest)
    c.close()
    r = post(P, call_msg(72, "roots"), session=initialize(P)[0], version=LATEST)
    m = response_of(r.msgs, 72)
    check("roots without the client capability: an isError result, nothing sent",
          r.status == 200 and (m or {}).get("result", {}).get("isError") is True
          and not any(x.get("method") == "roots/list" for x in r.msgs), r)
    r = post(P, {"jsonrpc": "2.0", "id": 987654, "result": {}}, session=sid_c, version=LATEST)
    check("a response to no pending request: 202 (ignored)", r.status == 202, r)



run_section('requests to the client (roots, sampling)', _section_9)

# ---- legacy HTTP+SSE -------------------------------------------------------------------------
def _section_10():
    global SID, keep
    lg = Conn(P)
    lg.send("GET", "/sse", {"Accept": "text/event-stream"})
    r = lg.head()
    check("legacy GET /sse: 200 text/event-stream", r.status == 200 and r.ctype == "text/event-stream", r)
    try:
        e = lg.event(3) if r.status == 200 else None
    except (socket.timeout, TimeoutError):
        e = None
    m = re.fullmatch(r"/messages\?sessionId=([0-9a-f]{32})", (e or {}).get("data") or "")
    check("legacy: first event is `event: endpoint` with /messages?sessionId=<id>",
          e is not None and e.get("event") == "endpoint" and m is not None, e)
    if m:
        url = e["data"]
        lsid = m.group(1)
        r = post(P, init_msg("2024-11-05", id=80), path=url)
        check("legacy: POST initialize: 202", r.status == 202, r)
        ev = read_events(lg, until_id=80, timeout=5)
        msg = response_of(data_msgs(ev), 80)
        check("legacy: the initialize result arrives on the SSE stream as `event: message`",
              msg is not None and msg["result"].get("protocolVersion") == "2024-11-05"
              and ev and ev[-1].get("event") == "message", ev)
        r = post(P, notif("notifications/initialized"), path=url)
        check("legacy: POST notifications/initialized: 202", r.status == 202, r)
        r = post(P, call_msg(81, "sum", {"a": 2, "b": 3}), path=url)
        check("legacy: POST tools/call: 202", r.status == 202, r)
        ev = read_events(lg, until_id=81, timeout=5)
        msg = response_of(data_msgs(ev), 81)
        # 2024-11-05 has no structuredContent: the structured result comes as text content
        check("legacy: the tools/call result arrives on the SSE stream",
              json.loads(text_of(msg) or "null") == {"sum": 5}
              and "structuredContent" not in (msg or {}).get("result", {}), ev)
        r = post(P, call_msg(82, "sum", {"a": 1, "b": 1}), path="/messages?sessionId=" + "f" * 32)
        check("legacy: POST with an unknown sessionId: 404", r.status == 404, r)
        lg.close()
        time.sleep(0.3)
        r = post(P, rpc(83, "ping"), path=url)
        check("legacy: the session ends with its /sse stream (POST then 404)", r.status == 404, r)
    else:
        lg.close()



run_section('legacy HTTP+SSE', _section_10)

# ---- client disconnecting mid-stream ---------------------------------------------------------
def _section_11():
    global SID, keep
    sid_d, _ = initialize(P)
    c, r = open_stream(P, call_msg(90, "slow", {"steps": 5, "step_ms": 100}, token="d90"), sid_d, LATEST)
    try:
        e = c.event(5)
    except (socket.timeout, TimeoutError):
        e = None
    check("disconnect: the first event arrives", e is not None, e)
    c.close(abrupt=True)
    r = post(P, rpc(91, "ping"), session=sid_d)
    check("disconnect: a new request on the session succeeds", (r.json or {}).get("result") == {}, r)
    time.sleep(0.7)  # let the abandoned call finish writing into its buffer
    r = post(P, call_msg(92, "sum", {"a": 1, "b": 1}), session=sid_d)
    check("disconnect: the server keeps serving after the call ended",
          (r.json or {}).get("result", {}).get("structuredContent") == {"sum": 2}, r)
    check("disconnect: the server is alive", srv.alive(), srv.stderr()[-2000:])

    # (session_ttl_s is 2: the sections below use fresh sessions)
    SID, _ = initialize(P)



run_section('client disconnecting mid-stream', _section_11)


# ---- cancellation, concurrent streams on one session, Accept */* -----------------------------
def _section_more():
    sid, _ = initialize(P)
    c, r = open_stream(P, call_msg(95, "slow", {"steps": 50, "step_ms": 100}, token="c95"), sid, LATEST)
    try:
        c.event(5)
    except (socket.timeout, TimeoutError):
        pass
    r = post(P, notif("notifications/cancelled", {"requestId": 95, "reason": "test"}), session=sid,
             version=LATEST)
    check("cancel: POST notifications/cancelled: 202", r.status == 202, r)
    t0 = time.time()
    # within 1.5 s: the session (session_ttl_s 2) cannot have expired yet
    rest = read_events(c, until_id=95, timeout=1.5)
    dt = time.time() - t0
    check("cancel: the POST's SSE stream ends within 1.5 s, without a response",
          response_of(data_msgs(rest), 95) is None and (c.resp.ended or c.eof) and dt < 1.5,
          (f"{dt:.2f}s", "ended" if c.resp.ended else "still open", rest[-2:]))
    c.close()
    sid, _ = initialize(P)
    conns = [open_stream(P, call_msg(96 + k, "slow", {"steps": 3, "step_ms": 100}, token=f"m{k}"), sid, LATEST)
             for k in range(3)]
    results, stream_ids = [], set()
    for k, (c, r) in enumerate(conns):
        ev = read_events(c, until_id=96 + k, timeout=5) if r.status == 200 else []
        results.append((r.status, text_of(response_of(data_msgs(ev), 96 + k))))
        stream_ids |= {event_id(e)[0] for e in ev if event_id(e)}
        c.close()
    check("3 concurrent POST streams on one session: all 200 with their own results",
          results == [(200, "slept 3 steps")] * 3, results)
    check("3 concurrent POST streams: distinct stream ids in their event ids", len(stream_ids) == 3,
          stream_ids)
    r = post(P, rpc(99, "ping"), session=sid, accept="*/*")
    check("Accept: */* is accepted", r.status == 200 and (response_of(r.msgs, 99) or {}).get("result") == {}, r)


run_section('cancellation, concurrent streams, Accept */*', _section_more)

# ---- body over the limit ---------------------------------------------------------------------
def _section_12():
    global SID, keep
    big = Conn(P)
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + b"a" * (10 * 1024 * 1024) + b'"}}'
    head = (f"POST {MCP} HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, text/event-stream\r\nMcp-Session-Id: {SID}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    status = None
    try:
        big.send_raw(head + body[:65536])
        try:
            rr = big.head(1.0)
            status = rr.status
        except (socket.timeout, TimeoutError):
            big.s.settimeout(10)
            try:
                big.s.sendall(body[65536:])
            except OSError:
                pass
            rr = big.head(5)
            status = rr.status
    except (OSError, EOFError) as ex:
        status = f"{type(ex).__name__}: {ex}"
    big.close()
    check("10 MB body (max_body 1 MiB): 413", status == 413, status)
    r = post(P, rpc(100, "ping"), session=SID)
    check("after the 413 the next request on a new connection is served",
          (r.json or {}).get("result") == {}, r)
    # chunked body over the limit
    big = Conn(P)
    status = None
    try:
        big.send_raw((f"POST {MCP} HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\nContent-Type: application/json\r\n"
                      f"Accept: application/json, text/event-stream\r\nMcp-Session-Id: {SID}\r\n"
                      f"Transfer-Encoding: chunked\r\n\r\n").encode())
        piece = b"a" * 65536
        for _ in range(32):
            try:
                big.send_raw(b"%x\r\n" % len(piece) + piece + b"\r\n")
            except OSError:
                break
        status = big.head(5).status
    except (OSError, EOFError) as ex:
        status = f"{type(ex).__name__}: {ex}"
    big.close()
    check("2 MB chunked body: 413", status == 413, status)
    r = http(P, "POST", MCP, mcp_headers(SID, extra={"X-Big": "x" * 20000}), enc(rpc(101, "ping")))
    check("headers over max_header (8 KiB): 431", r.status == 431, r)



run_section('body over the limit', _section_12)

# ---- slow headers ----------------------------------------------------------------------------
def _section_13():
    global SID, keep
    sl = Conn(P)
    sl.send_raw(f"POST {MCP} HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\nContent-Ty".encode())
    t0 = time.time()
    r = post(P, rpc(110, "ping"), session=SID)
    t_other = time.time() - t0
    check("slow headers: another client is served meanwhile", (r.json or {}).get("result") == {}
          and t_other < 0.25, (r, t_other))
    outcome = None
    try:
        rr = sl.head(3)
        outcome = rr.status
    except EOFError:
        outcome = "closed"
    except (socket.timeout, TimeoutError):
        outcome = "timeout"
    except OSError as ex:
        outcome = f"closed ({ex})"
    dt = time.time() - t0
    check("slow headers (header_timeout_ms 300): 408 or closed within 1 s",
          (outcome == 408 or str(outcome).startswith("closed")) and dt < 1.0, (outcome, f"{dt:.2f}s"))
    note(f"slow headers: {outcome} after {dt:.2f}s")
    sl.close()



run_section('slow headers', _section_13)

# ---- pipelining ------------------------------------------------------------------------------
def _section_14():
    global SID, keep
    pc = Conn(P)
    batch = b""
    for i in range(20):
        b = enc(rpc(200 + i, "ping")).encode()
        batch += (f"POST {MCP} HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\nContent-Type: application/json\r\n"
                  f"Accept: application/json, text/event-stream\r\nMcp-Session-Id: {SID}\r\n"
                  f"Content-Length: {len(b)}\r\n\r\n").encode() + b
    pc.send_raw(batch)
    got = []
    try:
        for i in range(20):
            rr = pc.body(pc.head(5), 5)
            got.append((rr.status, (rr.json or {}).get("id")))
    except (OSError, EOFError) as ex:
        got.append(repr(ex))
    pc.close()
    check("pipelining: 20 POSTs in one send get 20 responses in order",
          got == [(200, 200 + i) for i in range(20)], got)



run_section('pipelining', _section_14)

# ---- batches ---------------------------------------------------------------------------------
def _section_15():
    global SID, keep
    SID, _ = initialize(P)
    sid_b, _ = initialize(P, version="2025-03-26")
    r = post(P, [rpc(300, "ping"), rpc(301, "tools/list")], session=sid_b, version="2025-03-26")
    j = r.json
    check("batch (2025-03-26): a JSON array of two responses",
          r.status == 200 and isinstance(j, list) and sorted(x.get("id") for x in j) == [300, 301]
          and all("result" in x for x in j), r)
    r = post(P, [notif("notifications/cancelled", {"requestId": 999})], session=sid_b, version="2025-03-26")
    check("batch of notifications only (2025-03-26): 202", r.status == 202, r)
    r = post(P, [rpc(302, "ping"), rpc(303, "ping")], session=SID, version=LATEST)
    j = r.json
    codes = [err_code(x) for x in j] if isinstance(j, list) else [err_code(j)]
    check("batch (2025-11-25): JSON-RPC -32600", r.status in (200, 400) and codes and all(c == -32600 for c in codes),
          r)
    note(f"a batch on a 2025-11-25 session is answered with HTTP {r.status}: {r.body[:200]!r}")



run_section('batches', _section_15)

# ---- session expiry (session_ttl_s 2) --------------------------------------------------------
def _section_16():
    global SID, keep
    sid_x, _ = initialize(P)
    r = post(P, rpc(400, "ping"), session=sid_x)
    check("expiry: the session works at first", (r.json or {}).get("result") == {}, r)
    # keep SID alive meanwhile? SID is allowed to expire; the checks below use fresh sessions.
    time.sleep(4.2)
    r = post(P, rpc(401, "ping"), session=sid_x)
    check("expiry: after ~4 s idle (session_ttl_s 2): 404", r.status == 404 and err_code(r.json) == -32001, r)
    # a session with an open GET stream is not idle
    sid_k, _ = initialize(P)
    gk, r = open_get(P, sid_k)
    time.sleep(3.2)
    r = post(P, rpc(402, "ping"), session=sid_k)
    check("expiry: a session with an open GET stream does not expire", (r.json or {}).get("result") == {}, r)
    gk.close()



run_section('session expiry (session_ttl_s 2)', _section_16)

# ---- 1,000 concurrent SSE streams ------------------------------------------------------------
def _section_17():
    global SID, keep
    t0 = time.time()
    ic = Conn(P)
    streams, errors = [], []
    for i in range(NSTREAMS):
        try:
            rr = post(P, init_msg(), conn=ic)
            s = rr.h.get("mcp-session-id")
            post(P, notif("notifications/initialized"), session=s, conn=ic)
            c = Conn(P)
            c.send("GET", MCP, {"Accept": "text/event-stream", "Mcp-Session-Id": s})
            streams.append(c)
        except (OSError, EOFError) as ex:
            errors.append(repr(ex))
            if len(errors) > 5:
                break
            ic.close()
            ic = Conn(P)
    ic.close()
    t_open = time.time() - t0
    primed, bad = 0, []
    deadline = time.time() + 20
    for c in streams:
        try:
            rr = c.head(max(0.01, deadline - time.time()))
            e = c.event(max(0.01, deadline - time.time())) if rr.status == 200 else None
            if e is not None and e.get("data") == "" and event_id(e) and event_id(e)[1] == 0:
                primed += 1
            elif len(bad) < 3:
                bad.append((rr.status, e))
        except (OSError, EOFError) as ex:
            if len(bad) < 3:
                bad.append(repr(ex))
    check(f"{NSTREAMS} sessions with an open GET stream each get their priming event",
          primed == NSTREAMS and not errors, (primed, f"{t_open:.1f}s", errors[:3], bad))
    t0 = time.time()
    r = post(P, init_msg(), timeout=5)
    t_init = time.time() - t0
    check(f"with {NSTREAMS} open streams a fresh initialize is answered within 1 s",
          r.status == 200 and t_init < 1.0, (r, f"{t_init:.3f}s"))
    note(f"{NSTREAMS} sessions + streams opened in {t_open:.1f}s; initialize then took {t_init * 1000:.0f} ms")
    for c in streams:
        c.close()
    del streams
    time.sleep(0.3)
    r = post(P, init_msg(), timeout=5)
    check("after the 1,000 streams closed the server serves", r.status == 200, r)



run_section('1,000 concurrent SSE streams', _section_17)

# ---- graceful shutdown (SIGTERM here, SIGINT on a server of its own below) ------------------
def server_closes(c, timeout=2.0):
    """True when the server closes c (EOF or reset) within timeout, sending nothing more."""
    if getattr(c, "s", None) is None:
        return False
    try:
        c.s.settimeout(timeout)
        d = c.s.recv(1 << 16)
        return d == b"" and not c.buf
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return not c.buf
    except OSError:
        return False


def open_legacy(port):
    """GET /sse; returns (conn, the /messages URL or None)."""
    lg = Conn(port)
    lg.send("GET", "/sse", {"Accept": "text/event-stream"})
    r = lg.head()
    try:
        e = lg.event(3) if r.status == 200 else None
    except (socket.timeout, TimeoutError):
        e = None
    url = (e or {}).get("data") if (e or {}).get("event") == "endpoint" else None
    return lg, url


def progress_of(msgs, token):
    return [m["params"].get("progress") for m in msgs if isinstance(m, dict)
            and m.get("method") == "notifications/progress"
            and m.get("params", {}).get("progressToken") == token]


def graceful_shutdown(s, sig, name):
    """s runs the fixture config (shutdown_timeout_ms: the 10 s default). With calls in flight
    (a ~600 ms blocking call with progress on an SSE stream, the same on a legacy session, one
    waiting for the client's roots/list), an open GET stream, an idle keep-alive connection and
    a request half sent, `sig` arrives ~200 ms into the slow calls."""
    port = s.port
    sid = initialize(port)[0]
    sid_g = initialize(port)[0]
    g, gr = open_get(port, sid_g)
    try:
        ge = g.event(5) if gr.status == 200 else None
    except (socket.timeout, TimeoutError):
        ge = None
    check(f"[{name}] a GET stream is open (priming event read)", ge is not None, (gr, ge))
    lg, lurl = open_legacy(port)
    check(f"[{name}] a legacy /sse stream is open", lurl is not None, lurl)
    if lurl:
        post(port, init_msg("2024-11-05", id=1), path=lurl)
        read_events(lg, until_id=1, timeout=5)
        post(port, notif("notifications/initialized"), path=lurl)
    sid_r = initialize(port, caps={"roots": {"listChanged": False}})[0]
    rcon, _ = open_stream(port, call_msg(3, "roots", {"timeout_ms": 5000}), sid_r, LATEST)
    asked = wait_request(rcon, "roots/list", 5)
    check(f"[{name}] a call waits for the client's roots/list", asked is not None, asked)
    k = Conn(port)
    r = post(port, rpc(4, "ping"), session=sid, conn=k)
    check(f"[{name}] a keep-alive connection is idle after a ping", (r.json or {}).get("result") == {}, r)

    t0 = time.time()
    c, cr = open_stream(port, call_msg(500, "slow", {"steps": 6, "step_ms": 100}, token="s500"),
                        sid, LATEST)
    if lurl:
        r = post(port, call_msg(501, "slow", {"steps": 6, "step_ms": 100}, token="l501"), path=lurl)
        check(f"[{name}] legacy: the slow call is accepted (202)", r.status == 202, r)
    check(f"[{name}] the slow call answers with an SSE stream",
          cr.status == 200 and cr.ctype == "text/event-stream", cr)
    # a request half sent (its body still arriving; the body deadline is 30 s)
    body = enc(rpc(5, "ping")).encode()
    q = Conn(port)
    q.send_raw((f"POST {MCP} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json, text/event-stream\r\nMcp-Session-Id: {sid}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:10])
    time.sleep(max(0.0, t0 + 0.2 - time.time()))
    s.signal(sig)
    time.sleep(0.1)

    # no new connection
    try:
        nc = socket.create_connection(("127.0.0.1", port), timeout=2)
        nc.close()
        refused = "connected"
    except ConnectionRefusedError:
        refused = True
    except OSError as ex:
        refused = repr(ex)
    check(f"[{name}] after the signal a new connection is refused", refused is True, refused)
    # the request whose body was arriving: 503 and Connection: close, without waiting for the rest
    try:
        qr = q.body(q.head(3), 3)
    except (OSError, EOFError) as ex:
        qr = failed_resp(q, ex)
    check(f"[{name}] a request not complete at the signal: 503 with Connection: close",
          qr.status == 503 and qr.h.get("connection", "").lower() == "close", qr)
    try:
        q.send_raw(body[10:])  # the rest comes too late: dropped
    except OSError:
        pass
    check(f"[{name}] ... and its connection is closed", server_closes(q), q.buf)
    # the idle keep-alive connection
    check(f"[{name}] the idle keep-alive connection is closed", server_closes(k, 1.0), k.buf)
    # the GET stream: ended cleanly (the chunked terminator), then closed
    ev = read_events(g, timeout=3)
    check(f"[{name}] the GET stream is ended cleanly (chunked terminator)",
          g.resp.ended and not g.eof, (g.resp.ended, g.eof, ev))
    check(f"[{name}] ... then its connection is closed", server_closes(g), g.buf)
    # the slow call: every progress and its result, then the end of the stream
    ev = read_events(c, timeout=5)
    msgs = data_msgs(ev)
    check(f"[{name}] the in-flight call's progress keeps coming (1..6)",
          progress_of(msgs, "s500") == [1, 2, 3, 4, 5, 6], msgs)
    check(f"[{name}] the in-flight call's result arrives on its SSE stream",
          text_of(response_of(msgs, 500)) == "slept 6 steps", msgs)
    check(f"[{name}] ... and the stream ends cleanly after it", c.resp.ended and not c.eof,
          (c.resp.ended, c.eof))
    t_result = time.time() - t0
    check(f"[{name}] ... the call was not cut short (result after ~600 ms)", t_result >= 0.5,
          f"{t_result:.2f}s")
    if lurl:
        ev = read_events(lg, timeout=5)
        msgs = data_msgs(ev)
        check(f"[{name}] legacy: the in-flight call's progress and result arrive on /sse",
              progress_of(msgs, "l501") == [1, 2, 3, 4, 5, 6]
              and text_of(response_of(msgs, 501)) == "slept 6 steps", msgs)
        check(f"[{name}] legacy: then the /sse stream is ended cleanly", lg.resp.ended and not lg.eof,
              (lg.resp.ended, lg.eof))
    # the call waiting for the client: its request is cancelled, the call answers
    ev = read_events(rcon, until_id=3, timeout=3)
    m = response_of(data_msgs(ev), 3)
    check(f"[{name}] a call waiting for the client gets its request cancelled and answers",
          (m or {}).get("result", {}).get("isError") is True
          and "roots/list failed" in (text_of(m) or ""), ev)
    for x in (c, g, lg, k, q, rcon):
        x.close()
    rc, dt = s.exited(4.0)
    check(f"[{name}] exits 0 once everything is answered, within the grace period",
          rc == 0 and dt < 4.0, (rc, f"{dt:.2f}s", s.stderr()[-3000:]))
    log = s.stderr()
    signame = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
    check(f"[{name}] stderr: {signame} received, 3 in-flight requests waited for, 1 GET stream ended",
          re.search(rf"received {signame}: shutting down: .*waiting up to 10000 ms for 3 in-flight "
                    rf"request\(s\); 1 GET stream\(s\) ended", log) is not None, log[-2000:])
    check(f"[{name}] stderr: all of them finished and were answered",
          "the 3 in-flight request(s) finished and were answered" in log, log[-2000:])
    check(f"[{name}] stderr: nothing was cancelled or aborted",
          "cancelling" not in log and "aborted at shutdown" not in log, log[-2000:])
    s.no_crash()


def _section_18():
    graceful_shutdown(srv, signal.SIGTERM, "shutdown")


run_section('graceful shutdown on SIGTERM with calls in flight', _section_18, restart=False)

# =========================================================================================
# SIGINT: the same
# =========================================================================================
srv = Server("--workers", "2", label="sigint")
if check("[sigint] server starts", srv.port is not None, srv.stderr()):
    run_section('graceful shutdown on SIGINT', lambda: graceful_shutdown(srv, signal.SIGINT, "sigint"),
                restart=False)

# =========================================================================================
# A short grace period (shutdown_timeout_ms 300) and a body deadline (body_timeout_ms 400)
# =========================================================================================
srv = Server("--workers", "1", label="grace",
             config=fixture_config("grace.yaml", shutdown_timeout_ms=300, body_timeout_ms=400))
P = srv.port


def _grace_body():
    sid = initialize(P)[0]
    body = enc(rpc(1, "ping")).encode()
    head = (f"POST {MCP} HTTP/1.1\r\nHost: 127.0.0.1:{P}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, text/event-stream\r\nMcp-Session-Id: {sid}\r\n"
            f"MCP-Protocol-Version: {LATEST}\r\n")
    c = Conn(P)
    c.send_raw((head + f"Content-Length: {len(body)}\r\n\r\n").encode())
    for i in range(0, len(body), 10):  # 4 pieces over ~120 ms: within the deadline
        c.send_raw(body[i:i + 10])
        time.sleep(0.04)
    try:
        r = c.body(c.head(3), 3)
    except (OSError, EOFError) as ex:
        r = failed_resp(c, ex)
    check("[grace] a body sent in pieces within body_timeout_ms is served",
          (r.json or {}).get("result") == {}, r)
    # one byte every 50 ms: each arrives long before idle_timeout_ms (5 s), but the body never ends
    c.send_raw((head + "Content-Length: 1000\r\n\r\n").encode())
    t0, outcome, sent = time.time(), None, 0
    while time.time() - t0 < 3 and outcome is None:
        try:
            c.send_raw(b" ")
            sent += 1
        except OSError:
            pass
        try:
            outcome = c.head(0.05)
        except (socket.timeout, TimeoutError):
            continue
        except (OSError, EOFError) as ex:
            outcome = repr(ex)
    dt = time.time() - t0
    check("[grace] a trickled body: 408 with Connection: close after body_timeout_ms (400 ms)",
          isinstance(outcome, Resp) and outcome.status == 408
          and outcome.h.get("connection", "").lower() == "close" and 0.3 <= dt < 1.5,
          (outcome, f"{dt:.2f}s", f"{sent} bytes sent"))
    if isinstance(outcome, Resp):
        try:
            c.body(outcome, 2)
        except (OSError, EOFError):
            pass
    check("[grace] ... and the connection is closed", server_closes(c), c.buf)
    c.close()


def _grace_cancel():
    sid = initialize(P)[0]
    c, r = open_stream(P, call_msg(7, "slow", {"steps": 50, "step_ms": 100}, token="g7"), sid, LATEST)
    try:
        e = c.event(5)
    except (socket.timeout, TimeoutError):
        e = None
    check("[grace] a 5 s call is running (priming event read)", e is not None, e)
    time.sleep(0.2)
    srv.signal(signal.SIGTERM)
    ev = read_events(c, timeout=5)
    t_end = time.time() - srv.t_sig
    msgs = data_msgs(ev)
    check("[grace] the call still runs during the grace period (progress after the signal)",
          len(progress_of(msgs, "g7")) >= 3, msgs)
    check("[grace] after shutdown_timeout_ms the call is cancelled: its stream ends cleanly, "
          "without a result", c.resp.ended and not c.eof and response_of(msgs, 7) is None
          and 0.25 <= t_end < 2.0, (c.resp.ended, c.eof, f"{t_end:.2f}s", msgs[-3:]))
    c.close()
    rc, dt = srv.exited(3.0)
    check("[grace] exits 0 after the grace period", rc == 0 and 0.25 <= dt < 3.0,
          (rc, f"{dt:.2f}s", srv.stderr()[-3000:]))
    log = srv.stderr()
    check("[grace] stderr: waited for 1 request, then cancelled it",
          "waiting up to 300 ms for 1 in-flight request(s)" in log
          and "shutdown_timeout_ms (300 ms) is over: cancelling 1 request(s) still running" in log,
          log[-2000:])
    srv.no_crash()


if check("[grace] server starts", P is not None, srv.stderr()):
    run_section('body deadline', _grace_body, restart=False)
    run_section('shutdown after a short grace period', _grace_cancel, restart=False)

# =========================================================================================
# A second signal during the grace period stops at once
# =========================================================================================
srv = Server("--workers", "1", label="force")
P = srv.port


def _force():
    sid = initialize(P)[0]
    c, r = open_stream(P, call_msg(8, "slow", {"steps": 50, "step_ms": 100}, token="f8"), sid, LATEST)
    try:
        e = c.event(5)
    except (socket.timeout, TimeoutError):
        e = None
    check("[force] a 5 s call is running (priming event read)", e is not None, e)
    time.sleep(0.2)
    srv.signal(signal.SIGTERM)
    time.sleep(0.3)
    check("[force] still running 300 ms after SIGTERM (waiting for the call)", srv.alive())
    srv.signal(signal.SIGINT)
    ev = read_events(c, timeout=3)
    check("[force] the call got no result", response_of(data_msgs(ev), 8) is None, ev)
    c.close()
    rc, dt = srv.exited(1.5)
    check("[force] a second signal: exits 0 at once (not after the call or the 10 s grace)",
          rc == 0 and dt < 1.5, (rc, f"{dt:.2f}s", srv.stderr()[-3000:]))
    log = srv.stderr()
    check("[force] stderr: stopping now, 1 request cancelled",
          "received SIGINT again: stopping now" in log
          and "stopping now: cancelling 1 request(s) still running" in log, log[-2000:])
    srv.no_crash()


if check("[force] server starts", P is not None, srv.stderr()):
    run_section('a second signal', _force, restart=False)

# =========================================================================================
# --response sse
# =========================================================================================
srv = Server("--response", "sse", "--workers", "1", label="sse")
P = srv.port
def _mode_sse():
    s6, _ = initialize(P, version="2025-06-18")
    r = post(P, call_msg(1, "sum", {"a": 1, "b": 2}), session=s6, version="2025-06-18")
    check("[sse] tools/call sum (2025-06-18): 200 text/event-stream",
          r.status == 200 and r.ctype == "text/event-stream", r)
    body = r.body.decode(errors="replace")
    mm = re.fullmatch(r"event: message\ndata: (\{.*\})\n\n", body)
    check("[sse] body is exactly `event: message\\ndata: {...}\\n\\n`",
          mm is not None and (json.loads(mm.group(1)).get("result") or {}).get("structuredContent") == {"sum": 3},
          body)
    s11, _ = initialize(P)
    r = post(P, call_msg(2, "sum", {"a": 2, "b": 2}), session=s11, version=LATEST)
    ev = r.events
    msg = response_of(r.msgs, 2)
    check("[sse] tools/call sum (2025-11-25): text/event-stream, `event: message` with the result",
          r.status == 200 and r.ctype == "text/event-stream" and any(e.get("event") == "message" for e in ev)
          and (msg or {}).get("result", {}).get("structuredContent") == {"sum": 4}, r)
    note("[sse] a sync result on a 2025-11-25 session: " + ("with" if ev and ev[0].get("data") == ""
                                                           else "without") + " a priming event")
    r = post(P, init_msg(id=3))
    check("[sse] initialize is answered too (SSE or JSON)",
          r.status == 200 and (response_of(r.msgs, 3) or {}).get("result") is not None, r)


if check("[sse] server starts", P is not None, srv.stderr()):
    run_section('sse', _mode_sse, restart=False)
    srv.finish(3.0)

# =========================================================================================
# --response json
# =========================================================================================
srv = Server("--response", "json", label="json")
P = srv.port
def _mode_json():
    sj, _ = initialize(P)
    r = post(P, call_msg(1, "slow", {"steps": 2, "step_ms": 20}, token="j1"), session=sj, version=LATEST)
    check("[json] a blocking call with progress is answered with one JSON body",
          r.status == 200 and r.ctype == "application/json" and text_of(r.json) == "slept 2 steps", r)


def _mode_json_shutdown():
    sj, _ = initialize(P)
    c = Conn(P)
    c.send("POST", MCP, mcp_headers(sj, LATEST), enc(call_msg(2, "slow", {"steps": 6, "step_ms": 100},
                                                             token="j2")))
    time.sleep(0.2)
    srv.signal(signal.SIGTERM)
    try:
        r = c.body(c.head(5), 5)
    except (OSError, EOFError) as ex:
        r = failed_resp(c, ex)
    check("[json] SIGTERM 200 ms into a 600 ms call: its JSON answer still comes, with the result",
          r.status == 200 and r.ctype == "application/json" and text_of(r.json) == "slept 6 steps", r)
    check("[json] ... with Connection: close, then the connection closes",
          r.h.get("connection", "").lower() == "close" and server_closes(c), r.h)
    c.close()
    rc, dt = srv.exited(3.0)
    check("[json] exits 0 once the call is answered", rc == 0 and dt < 3.0,
          (rc, f"{dt:.2f}s", srv.stderr()[-3000:]))
    srv.no_crash()


if check("[json] server starts", P is not None, srv.stderr()):
    run_section('json', _mode_json, restart=False)
    run_section('json: graceful shutdown', _mode_json_shutdown, restart=False)

# =========================================================================================
# --stateless
# =========================================================================================
srv = Server("--stateless", label="stateless")
P = srv.port
def _mode_stateless():
    r = post(P, call_msg(1, "sum", {"a": 4, "b": 5}))
    check("[stateless] tools/call without initialize: 200 with the result",
          r.status == 200 and (response_of(r.msgs, 1) or {}).get("result", {}).get("structuredContent")
          == {"sum": 9}, r)
    r = post(P, init_msg(id=2))
    check("[stateless] initialize answered", r.status == 200 and response_of(r.msgs, 2) is not None, r)
    check("[stateless] no Mcp-Session-Id header on initialize", "mcp-session-id" not in r.h, r.h)
    r = http(P, "GET", MCP, {"Accept": "text/event-stream"})
    check("[stateless] GET /mcp: 405", r.status == 405, r)
    r = http(P, "DELETE", MCP, {"Mcp-Session-Id": "x"})
    check("[stateless] DELETE /mcp: 405", r.status == 405, r)
    r = post(P, call_msg(3, "sum", {"a": 1, "b": 1}), session="0" * 32)
    check("[stateless] a stray Mcp-Session-Id is not a 404", r.status == 200, r)
    r = post(P, call_msg(4, "slow", {"steps": 2, "step_ms": 20}, token="t4"))
    check("[stateless] a blocking tool answers",
          r.status == 200 and text_of(response_of(r.msgs, 4)) == "slept 2 steps", r)


if check("[stateless] server starts", P is not None, srv.stderr()):
    run_section('stateless', _mode_stateless, restart=False)
    srv.finish(3.0)

cleanup()
for title, rc, tail in crashed:
    note(f"the server died (exit status {rc}) in section '{title}'; stderr tail: " + " | ".join(tail[-8:]))
if notes:
    print("# notes:")
    for n in notes:
        print(f"#   {n}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

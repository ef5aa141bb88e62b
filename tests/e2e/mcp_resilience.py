#!/usr/bin/env python3
"""E2E tests of resilience policies (retry, timeout, circuit breaker,
bulkhead, fallback) over stdio against tests/e2e/resilience/pforge.yaml.

usage: mcp_resilience.py PFORGE_BINARY BUILD_DIR SOURCE_DIR
Prints one line per check and ends with "N passed, N failed".
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stdio_client as lib  # noqa: E402

PF, BUILD, SRC = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
FIXTURE = os.path.join(SRC, "tests", "e2e", "resilience")
CONFIG = os.path.join(FIXTURE, "pforge.yaml")
check, text, is_error = lib.check, lib.text, lib.is_error


def alive(s, name):
    id = s.start("ping")
    r = s.wait(id, 5)
    check(f"{name}: the server still answers", r is not None and r.get("result") == {}, r)


s = lib.Server(PF, CONFIG, BUILD)
check("initialize", s.initialize() is not None)

# ---- retry ----
t0 = time.time()
r = s.call("flaky_retry", {"key": "r1", "fail": 2})
dt = time.time() - t0
check("retry: two failures then success is a success", not is_error(r) and
      text(r) == "ok after 3 calls", r)
check("retry: backoff waited (20 + 40 ms)", dt >= 0.055, dt)
logs = [n for n in s.notes if n.get("method") == "notifications/message"]
check("retry: each retry is logged to the client",
      sum("retrying" in json.dumps(n) for n in logs) == 2, logs)
r = s.call("flaky_retry", {"key": "r2", "fail": 5})
check("retry: exhausted after max_attempts, the last error is the result",
      is_error(r) and "call 3 fails" in text(r), r)
check("retry: exactly 3 tries made", text(s.call("calls", {"key": "r2"})) == "3")
r = s.call("flaky_timeouts_only", {"key": "r3", "fail": 1})
check("retry on [timeout] does not retry an error", is_error(r) and "call 1 fails" in text(r), r)
check("retry on [timeout]: one try", text(s.call("calls", {"key": "r3"})) == "1")

# ---- timeout ----
t0 = time.time()
r = s.call("sleepy", {"ms": 3000})
dt = time.time() - t0
check("timeout: a blocking handler past timeout_ms is an isError result",
      is_error(r) and "timed out after 150 ms" in text(r), r)
check("timeout: answered at the timeout, not when the handler ends", dt < 1.5, dt)
r = s.call("sleepy", {"ms": 20})
check("timeout: a fast call is unaffected", not is_error(r) and text(r) == "slept 20 ms", r)
t0 = time.time()
r = s.call("sleepy_retry", {"ms": 3000, "key": "sr"})
dt = time.time() - t0
check("timeout + retry: both tries time out", is_error(r) and "timed out after 100 ms" in text(r), r)
check("timeout + retry: took two timeouts, not the sleep", 0.18 <= dt < 1.5, dt)
t0 = time.time()
r = s.call("stubborn", {"ms": 800})
check("timeout: a handler that ignores cancellation is abandoned at the timeout",
      is_error(r) and "timed out" in text(r) and time.time() - t0 < 0.7, r)
alive(s, "timeout")
t0 = time.time()
r = s.call("slow_cmd", {"secs": "5"})
dt = time.time() - t0
check("cli timeout + retry: the command is killed twice and the result says so",
      is_error(r) and "timed out" in text(r), r)
check("cli timeout + retry: two 150 ms timeouts", 0.28 <= dt < 3.0, dt)
retry_logs = [n for n in s.notes if "slow_cmd" in json.dumps(n) and "retrying" in json.dumps(n)]
check("cli timeout + retry: the retry is logged", len(retry_logs) == 1, s.notes[-5:])

# ---- circuit breaker ----
s.call("set_health", {"healthy": False})
for i in range(3):
    r = s.call("service")
    check(f"breaker: failure {i + 1} reaches the tool", is_error(r) and "service down" in text(r), r)
r = s.call("service")
check("breaker: open after 3 failures, calls fail fast",
      is_error(r) and "circuit breaker is open" in text(r), r)
s.call("set_health", {"healthy": True})
r = s.call("service")
check("breaker: still open before open_ms even though the tool is healthy",
      is_error(r) and "circuit breaker is open" in text(r), r)
time.sleep(0.35)
r = s.call("service")
check("breaker: half-open after open_ms, a successful trial closes it",
      not is_error(r) and "service up" in text(r), r)
r = s.call("service")
check("breaker: closed again", not is_error(r) and "service up" in text(r), r)
# half-open failure reopens
s.call("set_health", {"healthy": False})
for i in range(3):
    s.call("service")
time.sleep(0.35)
r = s.call("service")
check("breaker: a failed half-open trial reaches the tool", "service down" in text(r), r)
r = s.call("service")
check("breaker: ... and opens it again", "circuit breaker is open" in text(r), r)
s.call("set_health", {"healthy": True})
time.sleep(0.35)
r = s.call("service")
check("breaker: recovers after the second open period", "service up" in text(r), r)

# ---- fallback ----
r = s.call("with_fallback", {"key": "fb", "fail": 100})
check("fallback: a failing tool is answered by its fallback",
      not is_error(r) and text(r) == "fallback answer for fb", r)
check("fallback: the tool itself ran once", text(s.call("calls", {"key": "fb"})) == "1")
r = s.call("with_fallback", {"key": "fb2", "fail": 0})
check("fallback: not used when the tool succeeds", text(r) == "ok after 1 calls", r)

# ---- bulkhead ----
ids = [s.start("tools/call", {"name": "gate", "arguments": {"ms": 200}}) for _ in range(4)]
t0 = time.time()
rs = [s.wait(i) for i in ids]
dt = time.time() - t0
check("bulkhead: 4 calls, 2 at a time, all answered", all(r and not is_error(r) for r in rs), rs)
check("bulkhead: never more than 2 ran at once",
      all(text(r) in ("max concurrent 1", "max concurrent 2") for r in rs), [text(r) for r in rs])
check("bulkhead: the queued ones waited for a slot", dt >= 0.38, dt)
ids = [s.start("tools/call", {"name": "gate", "arguments": {"ms": 300}}) for _ in range(6)]
rs = [s.wait(i) for i in ids]
busy = [r for r in rs if is_error(r) and "busy" in text(r)]
check("bulkhead: beyond max_concurrent + max_queued, calls fail at once with a clear error",
      len(busy) == 2 and "2 calls are running and 2 are waiting" in text(busy[0]),
      [text(r) for r in rs])
ids = [s.start("tools/call", {"name": "gate_short_queue", "arguments": {"ms": 300}})
       for _ in range(2)]
rs = [s.wait(i) for i in ids]
check("bulkhead: a queued call that waits past queue_timeout_ms fails",
      sum(is_error(r) and "none finished within 50 ms" in text(r) for r in rs) == 1,
      [text(r) for r in rs])

# ---- cancellation of a retrying call ----
id = s.start("tools/call", {"name": "sleepy_retry", "arguments": {"ms": 3000, "key": "c"}})
time.sleep(0.05)
s.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": id, "reason": "test"}})
r = s.wait(id, 1.0)
check("cancel: a cancelled call gets no response", r is None, r)
alive(s, "cancel")

s.close()
check("exits cleanly when stdin closes", s.p.returncode == 0, s.p.returncode)
err = s.p.stderr.read().decode(errors="replace")
check("no sanitizer report", "Sanitizer" not in err and "runtime error" not in err, err[-3000:])

# ---- metrics over HTTP (stateless: each POST stands alone) ----
import re  # noqa: E402
import subprocess  # noqa: E402
import urllib.request  # noqa: E402

e = dict(os.environ, PFORGE_BUILD=BUILD)
hp = subprocess.Popen([PF, "serve", CONFIG, "--http", "127.0.0.1:0", "--stateless",
                       "--workers", "2"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE, env=e)
lib.started.append(hp)
port = None
end = time.time() + 10
while time.time() < end and port is None:
    line = hp.stderr.readline().decode(errors="replace")
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if m:
        port = int(m.group(1))
check("http: listening", port is not None)


def post(body):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/mcp", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Accept": "application/json, text/event-stream",
                 "MCP-Protocol-Version": "2025-11-25"})
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read().decode()
    if raw.startswith("{"):
        return json.loads(raw)
    datas = [ln[5:].strip() for ln in raw.splitlines() if ln.startswith("data:")]
    msgs = [json.loads(d) for d in datas if d.startswith("{")]
    return next((m for m in msgs if "id" in m), None)


def metrics():
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


if port:
    r = post({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
              "params": {"name": "flaky_retry", "arguments": {"key": "h1", "fail": 1}}})
    check("http: a retried call answers", text(r) == "ok after 2 calls", r)
    post({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
          "params": {"name": "set_health", "arguments": {"healthy": False}}})
    for i in range(4):
        post({"jsonrpc": "2.0", "id": 3 + i, "method": "tools/call",
              "params": {"name": "service", "arguments": {}}})
    status, ctype, body = metrics()
    check("metrics: 200 in the Prometheus text format",
          status == 200 and ctype.startswith("text/plain; version=0.0.4"), (status, ctype))
    check("metrics: calls and retries counted",
          'pforge_tool_calls_total{tool="flaky_retry"} 1' in body and
          'pforge_tool_retries_total{tool="flaky_retry"} 1' in body, body[:3000])
    check("metrics: errors, rejections and the open breaker",
          'pforge_tool_errors_total{tool="service"} 4' in body and
          'pforge_tool_rejected_total{tool="service"} 1' in body and
          'pforge_tool_circuit_state{tool="service"} 1' in body and
          'pforge_tool_circuit_opened_total{tool="service"} 1' in body, body[-3000:])
    check("metrics: latency histogram count matches calls",
          'pforge_tool_duration_seconds_count{tool="flaky_retry"} 1' in body and
          'pforge_tool_duration_seconds_bucket{tool="flaky_retry",le="+Inf"} 1' in body)
    # a tool never called has no counters allocated yet: all its samples are 0
    check("metrics: a tool never called reads as zeros",
          'pforge_tool_calls_total{tool="stubborn"} 0' in body and
          'pforge_tool_retries_total{tool="stubborn"} 0' in body and
          'pforge_tool_duration_seconds_bucket{tool="stubborn",le="+Inf"} 0' in body and
          'pforge_tool_duration_seconds_sum{tool="stubborn"} 0.000000' in body and
          'pforge_tool_duration_seconds_count{tool="stubborn"} 0' in body, body[:3000])
    fams = [ln.split()[2] for ln in body.splitlines() if ln.startswith("# TYPE")]
    seen, ok = set(), True
    for ln in body.splitlines():
        if ln.startswith("#") or not ln:
            continue
        name = re.match(r"[a-z_]+", ln).group(0)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        fam = base if base in fams else name
        if fam in seen and fam != last:
            ok = False
        seen.add(fam)
        last = fam
    check("metrics: every family's samples are contiguous", ok)
    hp.terminate()
    hp.wait(10)
    check("http: stops on SIGTERM", hp.returncode == 0, hp.returncode)

sys.exit(lib.finish())

#!/usr/bin/env python3
"""E2E tests of pipeline tools over stdio: examples/pipeline and
tests/e2e/pipeline (steps with retries, fallbacks, blocking and cli steps),
plus load errors of tests/e2e/pipeline/invalid through `pforge validate`.

usage: mcp_pipeline.py PFORGE_BINARY BUILD_DIR SOURCE_DIR
Prints one line per check and ends with "N passed, N failed".
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stdio_client as lib  # noqa: E402

PF, BUILD, SRC = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
check, text, is_error = lib.check, lib.text, lib.is_error

# ---- examples/pipeline ----
s = lib.Server(PF, os.path.join(SRC, "examples", "pipeline", "pforge.yaml"), BUILD)
check("example: initialize", s.initialize() is not None)
r = s.call("analyze", {"text": "hello big world"})
check("typed substitution, condition true (default param), text output template",
      text(r) == "the text has 3 words (first word: hello); shouted: HELLO BIG WORLD", r)
r = s.call("analyze", {"text": "a b c d e f g"})
check("condition false skips the step (its var stays unset)",
      text(r) == "the text has 7 words (first word: a)", r)
r = s.call("analyze", {"text": "one two", "shout_below": 1})
check("a param given overrides the default in conditions",
      text(r) == "the text has 2 words (first word: one)", r)
r = s.call("best_effort", {"text": "hello"})
check("error_policy continue: goes on, <var>_error is set",
      text(r) == "chars=5 first_failed=yes" and not is_error(r), r)
r = s.call("strict", {"text": "hello"})
check("fail_fast: isError naming the step and its error",
      is_error(r) and "failed at step 1 ('unreliable')" in text(r), r)
r = s.call("analyze", {})
check("missing pipeline argument: isError naming it", is_error(r) and "text" in text(r), r)
id = s.start("tools/call", {"name": "analyze", "arguments": {"text": "x y"},
                            "_meta": {"progressToken": "p1"}})
r = s.wait(id)
prog = [n for n in s.notes if n.get("method") == "notifications/progress"]
check("progress per step with the caller's token",
      len(prog) == 4 and all(n["params"]["progressToken"] == "p1" for n in prog) and
      prog[-1]["params"]["progress"] == 3, prog)
lst = s.wait(s.start("tools/list"))
schema = {t["name"]: t["inputSchema"] for t in lst["result"]["tools"]}["analyze"]
check("a pipeline's params are its input schema", "text" in schema.get("properties", {}), schema)
s.close()
check("example: exits cleanly", s.p.returncode == 0, s.p.returncode)

# ---- tests/e2e/pipeline ----
s = lib.Server(PF, os.path.join(SRC, "tests", "e2e", "pipeline", "pforge.yaml"), BUILD)
s.initialize()
r = s.call("retrying", {"key": "pr1"})
check("a step goes through its tool's retry policy", text(r) == "ok after 3 calls / 3", r)
r = s.call("retrying", {})
check("params inferred from templates when none are declared: required",
      is_error(r) and "key" in text(r), r)
r = s.call("with_fallback", {"key": "pf"})
check("a step goes through its tool's fallback", text(r) == "fallback answer for pf", r)
r = s.call("structured", {"n": 12})
check("output naming a var returns that step's structured result",
      r and r["result"].get("structuredContent") == {"n": 12, "tag": "x y"}, r)
r = s.call("bad_input", {"key": "b"})
check("a step input that breaks its tool's schema fails the pipeline clearly",
      is_error(r) and "Invalid arguments for tool 'flaky'" in text(r), r)
t0 = time.time()
id = s.start("tools/call", {"name": "slow", "arguments": {"ms": 3000}})
time.sleep(0.1)
s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id}})
r = s.wait(id, 1.0)
check("cancelling a pipeline cancels its running step; no response", r is None, r)
r = s.call("calls", {"key": "slow2"})
check("... and the steps after it never run", text(r) == "0", r)
check("... quickly", time.time() - t0 < 2.0, time.time() - t0)
t0 = time.time()
r = s.call("slow_limited", {"ms": 600})
check("a pipeline's timeout answers at the timeout",
      is_error(r) and "timed out after 150 ms" in text(r) and time.time() - t0 < 0.5, r)
time.sleep(max(0.0, t0 + 0.9 - time.time()))  # past the step's own 600 ms
r1, r2 = s.call("calls", {"key": "limited1"}), s.call("calls", {"key": "limited2"})
check("... cancels the running step (it stops early) and runs no further step",
      text(r1) == "0" and text(r2) == "0", (r1, r2))
r = s.call("slow", {"ms": 10})
check("the same pipeline runs to the end when not cancelled", not is_error(r), r)
s.close()
check("fixture: exits cleanly", s.p.returncode == 0, s.p.returncode)
err = s.p.stderr.read().decode(errors="replace")
check("no sanitizer report", "Sanitizer" not in err and "runtime error" not in err, err[-3000:])

# ---- load errors ----
INV = os.path.join(SRC, "tests", "e2e", "pipeline", "invalid")
expect = {
    "unknown-step.yaml": ["unknown-step.yaml:8:15: tools[1].steps[0].tool: unknown tool 'shoot' "
                          "(did you mean 'shout'?)"],
    "cycle.yaml": ["cycle.yaml:12:15: tools[1].steps[0].tool: tools call each other in a cycle: "
                   "a -> b -> a"],
    "fallback-cycle.yaml": ["fallback-cycle.yaml:4:69: tools[1].fallback: tools call each other "
                            "in a cycle: x -> y -> x"],
    "bad-condition.yaml": ["bad-condition.yaml:5:11: tools[1] 'p': steps[0].condition: 1:3: "
                           "unknown operator '='"],
    "later-var.yaml": ["steps[0].condition: 'second' is the output of step 1, which runs later",
                       "steps[2].input: unknown variable 'nope'"],
}
for f, wants in sorted(expect.items()):
    p = subprocess.run([PF, "validate", os.path.join(INV, f)], capture_output=True, text=True)
    check(f"validate {f}: exit 1 with every problem located",
          p.returncode == 1 and all(w in p.stderr for w in wants), p.stderr)
    e = dict(os.environ, PFORGE_BUILD=BUILD)
    p = subprocess.run([PF, "serve", os.path.join(INV, f)], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, env=e, timeout=10)
    check(f"serve {f}: refuses to start with the same messages",
          p.returncode != 0 and all(w in p.stderr for w in wants), p.stderr)

sys.exit(lib.finish())

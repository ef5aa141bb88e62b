#!/usr/bin/env python3
"""Evaluates one run of the MCP conformance suite (tests/conformance/run.sh).

    evaluate.py NAME OUT_DIR EXIT_CODE SCENARIOS_FILE [--pending NAME ...]

OUT_DIR is the suite's -o directory: one OUT_DIR/server-<scenario>-<timestamp>/
checks.json per scenario, an array of {id, status, errorMessage?, details?}
with status SUCCESS|FAILURE|WARNING|INFO|SKIPPED. SCENARIOS_FILE lists, one a
line, the scenarios the suite says it runs (from `conformance list`).

Prints a summary, every FAILURE and WARNING, and exits 0 only when:
  - the suite exited 0 and no check is a FAILURE or a WARNING (a scenario
    that degrades to warnings has regressed);
  - every listed scenario has a result directory, and each has at least one
    SUCCESS check (or a FAILURE, reported as such) (the alpha's synthetic wire-schema-valid does not count: it
    passes even when nothing was exchanged), except the --pending ones;
  - the checks known to pass by accident (the suite only looks for "some
    text", which an "unknown tool" error also has) carry the fixture's exact
    text in their details.
"""
import glob
import json
import os
import re
import sys

# The suite passes tools-call-simple-text and tools-call-error on any text
# result, e.g. an "unknown tool" error with isError:true (seen against
# server-everything). Its checks record the whole CallToolResult in
# details.result, so the fixture's own text and isError can be asserted.
EXACT = {
    "tools-call-simple-text": ("This is a simple text response for testing.", False),
    "tools-call-error": ("This tool intentionally returns an error for testing", True),
}
NOT_EVIDENCE = {"wire-schema-valid"}  # synthetic, SUCCESS even with no traffic
DIR_RE = re.compile(r"^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


def scenario_of(path):
    base = os.path.basename(os.path.dirname(path))
    m = DIR_RE.match(base)
    return m.group(1) if m else base


def check_exact(scenario, checks):
    """Problems with the result the scenario's main check recorded."""
    text, is_error = EXACT[scenario]
    main = [c for c in checks if c.get("id") == scenario]
    if not main:
        return ["no '%s' check in checks.json" % scenario]
    main = [c for c in main if c.get("status") == "SUCCESS"]  # failures: listed already
    problems = []
    for c in main:
        result = (c.get("details") or {}).get("result")
        if not isinstance(result, dict):
            problems.append("details.result missing: cannot tell the fixture's answer from "
                            "an unknown-tool error")
            continue
        texts = [b.get("text") for b in result.get("content") or []
                 if isinstance(b, dict) and b.get("type") == "text"]
        if text not in texts:
            problems.append("expected text %r, got %r" % (text, texts))
        if bool(result.get("isError")) != is_error:
            problems.append("expected isError %s, got %r" % (is_error, result.get("isError")))
    return problems


def main():
    args = sys.argv[1:]
    pending = set()
    if "--pending" in args:
        i = args.index("--pending")
        pending = set(args[i + 1:])
        args = args[:i]
    name, out, rc, listfile = args[0], args[1], int(args[2]), args[3]
    with open(listfile) as f:
        listed = [l.strip() for l in f if l.strip()]

    errors = []
    by_scenario = {}
    for path in sorted(glob.glob(os.path.join(out, "**", "checks.json"), recursive=True)):
        try:
            with open(path) as f:
                checks = json.load(f)
            if not isinstance(checks, list):
                raise ValueError("not an array")
        except (OSError, ValueError) as e:
            errors.append("%s: unreadable checks.json: %s" % (path, e))
            continue
        by_scenario.setdefault(scenario_of(path), []).extend(
            c for c in checks if isinstance(c, dict))

    counts = {}
    failures, warnings = [], []
    for scen, checks in sorted(by_scenario.items()):
        for c in checks:
            st = c.get("status", "?")
            counts[st] = counts.get(st, 0) + 1
            msg = " ".join(str(c.get("errorMessage") or c.get("description") or "").split())
            if len(msg) > 400:
                msg = msg[:400] + "..."
            line = "%s [%s] %s" % (scen, c.get("id"), msg)
            if st == "FAILURE":
                failures.append(line)
            elif st == "WARNING":
                warnings.append(line)

    print("# %s: %d scenarios run (%d listed), checks: %d passed, %d failed, %d warnings"
          " (%d info, %d skipped); suite exit code %d"
          % (name, len(by_scenario), len(listed), counts.get("SUCCESS", 0),
             counts.get("FAILURE", 0), counts.get("WARNING", 0), counts.get("INFO", 0),
             counts.get("SKIPPED", 0), rc))
    for l in failures:
        print("#   FAILURE %s" % l)
    for l in warnings:
        print("#   warning %s" % l)

    if rc != 0:
        errors.append("the suite exited %d" % rc)
    if failures:
        errors.append("%d FAILURE check(s)" % len(failures))
    if warnings:
        errors.append("%d WARNING check(s)" % len(warnings))
    if not listed:
        errors.append("the suite listed no scenarios")
    for scen in listed:
        if scen not in by_scenario:
            errors.append("scenario %s: no result (not run)" % scen)
            continue
        if scen in pending:
            continue
        statuses = [c.get("status") for c in by_scenario[scen] if c.get("id") not in NOT_EVIDENCE]
        if "SUCCESS" not in statuses and "FAILURE" not in statuses:  # failures: listed above
            errors.append("scenario %s: no SUCCESS check (not actually exercised)" % scen)
    for scen in sorted(set(by_scenario) - set(listed)):
        print("#   note: %s ran but is not in the list (not required)" % scen)
    for scen in EXACT:
        if scen in by_scenario:
            for p in check_exact(scen, by_scenario[scen]):
                errors.append("scenario %s: possible false positive: %s" % (scen, p))

    for e in errors:
        print("not ok - %s: %s" % (name, e))
    if not errors:
        print("ok - %s" % name)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

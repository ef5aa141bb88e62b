#!/usr/bin/env bash
# E2E: the pforge command's --version and --help.
set -u
PF=${1:?usage: test_cli.sh path/to/pforge [path/to/libabi_future.so [path/to/libabi_v2.so]]}
FUTURE=${2:-}
V2=${3:-}
pass=0 fail=0
check() { # name, condition result
  if [ "$2" -eq 0 ]; then pass=$((pass + 1)); echo "ok - $1"; else fail=$((fail + 1)); echo "not ok - $1"; fi
}
out=$("$PF" --version); rc=$?
[ $rc -eq 0 ] && [[ "$out" =~ ^pforge\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; check "--version prints the version" $?
out=$("$PF" -V); [[ "$out" == pforge\ * ]]; check "-V" $?
out=$("$PF" --help); rc=$?
[ $rc -eq 0 ] && [[ "$out" == *"usage: pforge"* ]]; check "--help prints usage on stdout" $?
"$PF" >/dev/null 2>&1; [ $? -eq 2 ]; check "no arguments exits 2" $?
err=$("$PF" frobnicate 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && [[ "$err" == *"unknown command 'frobnicate'"* ]]; check "unknown command is an error on stderr" $?
out=$("$PF" bogus 2>/dev/null); [ -z "$out" ]; check "errors print nothing on stdout" $?
if [ -n "$FUTURE" ]; then
  tmp=$(mktemp -d)
  printf 'forge: {name: f, version: "1", library: %s}\ntools:\n  - {type: native, name: t, description: d, handler: {path: future_tool}}\n' \
    "$FUTURE" >"$tmp/f.yaml"
  err=$("$PF" serve "$tmp/f.yaml" </dev/null 2>&1 >/dev/null); rc=$?
  [ $rc -eq 1 ] && [[ "$err" == *"forge.library"* ]] && [[ "$err" == *"ABI"* ]]
  check "a library built for a newer ABI is refused at start-up" $?
  rm -rf "$tmp"
fi
if [ -n "$V2" ]; then
  tmp=$(mktemp -d)
  printf 'forge: {name: f, version: "1", library: %s}\ntools:\n  - {type: native, name: t, description: d, handler: {path: v2_tool}}\n' \
    "$V2" >"$tmp/f.yaml"
  out=$(printf '%s\n' \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"t"}}' |
    "$PF" serve "$tmp/f.yaml" --stdio 2>/dev/null); rc=$?
  [ $rc -eq 0 ] && [[ "$out" == *'"id":2,"result":{"content":[{"type":"text","text":"from ABI 2"}]}'* ]]
  check "a library built for an older ABI (2) loads and its handlers answer" $?
  rm -rf "$tmp"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

#!/usr/bin/env bash
# E2E: `pforge validate` on the config test files: exit codes, stdout, stderr.
set -u
PF=${1:?usage: test_validate.sh path/to/pforge}
PF=$(cd "$(dirname "$PF")" && pwd)/$(basename "$PF") # the test changes directory
DATA=${PF_SOURCE_DIR:?PF_SOURCE_DIR must be set}/tests/data/config
export PF_CFG_TEST_USER=alice
unset PF_CFG_TEST_UNSET
pass=0 fail=0
check() { # name, condition result
  if [ "$2" -eq 0 ]; then pass=$((pass + 1)); echo "ok - $1"; else fail=$((fail + 1)); echo "not ok - $1"; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in "$DATA"/valid/*.yaml; do
  out=$("$PF" validate "$f" 2>"$tmp/err"); rc=$?
  [ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && [[ "$out" =~ ^"$f: ok ("[0-9]+" tools, "[0-9]+" resources, "[0-9]+" prompts)"$ ]]
  check "valid $(basename "$f")" $?
done
out=$("$PF" validate "$DATA/valid/production-server.yaml")
[ "$out" = "$DATA/valid/production-server.yaml: ok (5 tools, 2 resources, 2 prompts)" ]; check "summary counts" $?

n=0
for f in "$DATA"/invalid/*.yaml; do
  out=$("$PF" validate "$f" 2>"$tmp/err"); rc=$?
  base=$(basename "$f")
  # Every line is FILE:LINE:COL: PATH: message, naming the file as given.
  bad=$(grep -cv "^$f:[0-9]*:[0-9]*: [^ ]*: ." "$tmp/err")
  [ $rc -eq 1 ] && [ -z "$out" ] && [ -s "$tmp/err" ] && [ "$bad" -eq 0 ]
  check "invalid $base exits 1 with located problems" $?
  n=$((n + 1))
done
[ $n -ge 35 ]; check "at least 35 invalid files ($n)" $?

cd "$DATA/invalid" || exit 1
err=$("$PF" validate multiple-problems.yaml 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 7 ]; check "every problem is reported" $?
[[ "$err" == *"multiple-problems.yaml:3:3: forge: unknown key 'verison' (did you mean 'version'?)"* ]]
check "did-you-mean on stderr" $?
err=$("$PF" validate tabs.yaml 2>&1 >/dev/null)
[ "$err" = "tabs.yaml:2:1: (yaml): tab character may not be used as indentation" ]
check "YAML errors are ours, not libfyaml's" $?

cd "$DATA/valid" || exit 1
cp calculator.yaml "$tmp/pforge.yaml"
out=$(cd "$tmp" && "$PF" validate); rc=$?
[ $rc -eq 0 ] && [ "$out" = "pforge.yaml: ok (1 tools, 0 resources, 0 prompts)" ]
check "default file is pforge.yaml" $?

err=$("$PF" validate "$tmp/missing.yaml" 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && [[ "$err" == *"missing.yaml: cannot open"* ]]; check "unreadable file exits 2" $?
(cd "$tmp" && rm pforge.yaml && "$PF" validate >/dev/null 2>&1); [ $? -eq 2 ]
check "missing default file exits 2" $?
"$PF" validate a.yaml b.yaml >/dev/null 2>&1; [ $? -eq 2 ]; check "two files is a usage error" $?
"$PF" validate --frob >/dev/null 2>&1; [ $? -eq 2 ]; check "unknown option is a usage error" $?
out=$("$PF" validate --help); rc=$?
[ $rc -eq 0 ] && [[ "$out" == *"usage: pforge validate"* ]]; check "validate --help" $?
out=$("$PF" --help); [[ "$out" == *"validate [FILE]"* ]]; check "listed in pforge --help" $?

# --load: what serve checks on this machine (the library, its symbols), with
# the same messages serve prints before refusing to start.
LIB=$(dirname "$PF")/examples/libhello.so
cat >"$tmp/sym.yaml" <<EOF
forge:
  name: sym
  version: 0.1.0
  library: $LIB
tools:
  - type: native
    name: greet
    description: Greets
    handler: { path: handlers::greet::say_hello }
  - type: native
    name: nosuch
    description: Missing
    handler: { path: handlers::nosuch }
EOF
want="$tmp/sym.yaml:11:11: tools[1] 'nosuch': handler 'handlers::nosuch' not found (symbol 'nosuch' in $LIB)"
out=$("$PF" validate "$tmp/sym.yaml" 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/err" ]; check "without --load, handlers are not resolved" $?
out=$("$PF" validate --load "$tmp/sym.yaml" 2>"$tmp/err"); rc=$?
[ $rc -eq 1 ] && [ -z "$out" ] && [ "$(cat "$tmp/err")" = "$want" ]
check "--load: a missing handler symbol, located" $?
"$PF" serve "$tmp/sym.yaml" </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -ne 0 ] && [ ! -s "$tmp/out" ] && grep -qxF "$want" "$tmp/err"
check "serve refuses it with the same message" $?
head -n 9 "$tmp/sym.yaml" >"$tmp/one.yaml" && mv "$tmp/one.yaml" "$tmp/sym.yaml"
out=$("$PF" validate --load "$tmp/sym.yaml" 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] && [ "$out" = "$tmp/sym.yaml: ok (1 tools, 0 resources, 0 prompts)" ] && [ ! -s "$tmp/err" ]
check "--load: a file whose handlers all resolve" $?
sed -i "s|library: .*|library: /nonexistent/libx.so|" "$tmp/sym.yaml"
out=$("$PF" validate --load "$tmp/sym.yaml" 2>"$tmp/err"); rc=$?
[ $rc -eq 1 ] && grep -q "^$tmp/sym.yaml:[0-9]*:[0-9]*: forge.library: cannot load /nonexistent/libx.so: " "$tmp/err"
check "--load: a library that cannot be loaded, located" $?
out=$("$PF" validate "$tmp/sym.yaml" 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ]; check "without --load the library is not opened" $?
printf 'forge: {name: f, version: "1"}\nresources:\n  - uri: docs://a\n    name: a\n    file: missing.txt\n' >"$tmp/res.yaml"
out=$("$PF" validate "$tmp/res.yaml" 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/err" ]; check "without --load, the files of file resources are not looked for" $?
out=$("$PF" validate --load "$tmp/res.yaml" 2>"$tmp/err"); rc=$?
[ $rc -eq 1 ] && [ "$(cat "$tmp/err")" = "$tmp/res.yaml:3:10: resources[0]: file 'missing.txt' is missing or outside the resource root $tmp" ]
check "--load: a missing resource file, located" $?
out=$(cd "$DATA/valid" && "$PF" validate --load calculator.yaml 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"handler 'handlers::calculate_handler' not found (symbol 'calculate_handler' in the pforge executable)"* ]]
check "--load: the original pforge's Rust handlers are not in this process" $?

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

#!/usr/bin/env bash
# The libraries pforge loads only when a config needs them (libcurl for http
# tools, libfyaml for YAML beyond its own reader, PCRE2 for patterns) and
# libm (not used) must not be linked: each would cost every server its pages
# and relocations at start-up. With static_deps (the second argument, true
# by default), neither may libuv, LMDB or hiredis: they are linked in.
# Checks the executable's DT_NEEDED entries.
# Then its dynamic symbols (-fvisibility=hidden, the public headers pushing
# default visibility, --exclude-libs for libuv, LMDB, hiredis): every function the public
# headers (the third argument: include/pforge) declare is exported, for
# handler libraries; the engine's pf__ functions, libuv, LMDB and hiredis
# are not.
set -euo pipefail
pforge=${1:?usage: test_needed.sh PFORGE [STATIC_DEPS] [INCLUDE_DIR]}
static=${2:-true}
include=${3:-}
needed=$(readelf -d "$pforge" | awk '/\(NEEDED\)/ {gsub(/[\[\]]/, "", $5); print $5}')
echo "NEEDED: $(echo $needed)"
bad=0
for lib in libcurl libfyaml libpcre2 libm.so; do
  if grep -q "^$lib" <<<"$needed"; then
    echo "FAIL: $pforge links $lib, which must be loaded on demand (or not at all)"
    bad=1
  fi
done
if [ "$static" = true ]; then
  for lib in libuv liblmdb libhiredis; do
    if grep -q "^$lib" <<<"$needed"; then
      echo "FAIL: $pforge links $lib dynamically, but static_deps is on"
      bad=1
    fi
  done
fi
exported=$(nm -D --defined-only "$pforge" | awk '{print $3}')
echo "exported: $(wc -l <<<"$exported") dynamic symbols"
leaked=$(grep -E '^(pf__|uv_|mdb_|redis|llhttp_)' <<<"$exported" || true)
if [ -n "$leaked" ]; then
  echo "FAIL: private symbols exported: $(echo $leaked | head -c 300)"
  bad=1
fi
if [ -n "$include" ]; then
  missing=$(python3 - "$include" "$exported" <<'PY'
import glob, re, sys
declared, inline = set(), set()
for h in glob.glob(sys.argv[1] + "/*.h"):
    for line in open(h):
        if line.lstrip().startswith("#"):
            continue
        declared.update(re.findall(r"\b(pf_[a-z]\w*)\s*\(", line))
        inline.update(re.findall(r"static\s+inline\b.*?\b(pf_[a-z]\w*)\s*\(", line))
print(" ".join(sorted(declared - inline - set(sys.argv[2].split()))))
PY
)
  if [ -n "$missing" ]; then
    echo "FAIL: public API functions not exported: $missing"
    bad=1
  fi
fi
exit "$bad"

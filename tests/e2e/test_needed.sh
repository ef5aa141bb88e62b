#!/usr/bin/env bash
# The libraries pforge loads only when a config needs them (libcurl for http
# tools, libfyaml for YAML beyond its own reader, PCRE2 for patterns) and
# libm (not used) must not be linked: each would cost every server its pages
# and relocations at start-up. With static_deps (the second argument, true
# by default), neither may libuv, LMDB or hiredis: they are linked in.
# Checks the executable's DT_NEEDED entries.
set -euo pipefail
pforge=${1:?usage: test_needed.sh PFORGE [STATIC_DEPS]}
static=${2:-true}
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
exit "$bad"

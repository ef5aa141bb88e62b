#!/usr/bin/env bash
# The libraries pforge loads only when a config needs them (libcurl for http
# tools, libfyaml for YAML beyond its own reader, PCRE2 for patterns) and
# libm (not used) must not be linked: each would cost every server its pages
# and relocations at start-up. Checks the executable's DT_NEEDED entries.
set -euo pipefail
pforge=${1:?usage: test_needed.sh PFORGE}
needed=$(readelf -d "$pforge" | awk '/\(NEEDED\)/ {gsub(/[\[\]]/, "", $5); print $5}')
echo "NEEDED: $(echo $needed)"
bad=0
for lib in libcurl libfyaml libpcre2 libm.so; do
  if grep -q "^$lib" <<<"$needed"; then
    echo "FAIL: $pforge links $lib, which must be loaded on demand (or not at all)"
    bad=1
  fi
done
exit "$bad"

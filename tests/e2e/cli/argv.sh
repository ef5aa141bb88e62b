#!/bin/sh
# Prints its arguments as a JSON array (one element per argv entry).
exec python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"

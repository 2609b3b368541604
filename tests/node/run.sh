#!/usr/bin/env bash
# run.sh KV_SERVER: runs the Node.js test of kv.v1.KV against the kv-server
# binary KV_SERVER. Installs the pinned npm packages of package.json first
# when node_modules is missing or older than package.json.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: tests/node/run.sh KV_SERVER" >&2; exit 2; }
KV_SERVER=$(realpath "$1")
export KV_SERVER
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules
fi
exec node --test kv.test.js

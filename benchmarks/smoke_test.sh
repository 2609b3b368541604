#!/usr/bin/env bash
# smoke_test.sh: proves that kv-bench drives kv-ceiling and kv-server and
# writes a complete JSON report. Numbers are not checked beyond ops_per_s > 0:
# they come from scripts/bench, never from a test.
#
#   smoke_test.sh KV_BENCH KV_CEILING [KV_SERVER]
#
# Servers listen on 127.0.0.1 port 0; everything lives in a temporary
# directory that is removed at exit, and no result reaches results.jsonl.
set -euo pipefail

bench=$1
ceiling=$2
server=${3:-}

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "smoke_test: $*" >&2
  exit 1
}

# start NAME COMMAND...: starts a server whose stderr goes to $tmp/NAME.err,
# waits for its `listening on HOST:PORT ` line and sets $pid and $port.
# The line is read through a fifo held open until exit, so that the wait
# ends exactly when the line is written.
start() {
  local name=$1
  shift
  mkfifo "$tmp/$name.fifo"
  "$@" 2> >(tee "$tmp/$name.err" >"$tmp/$name.fifo") &
  pid=$!
  pids+=("$pid")
  local fd line=""
  exec {fd}<"$tmp/$name.fifo"
  read -r -t 30 -u "$fd" line || true
  port=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' <<<"$line" |
    cut -d: -f2 || true)
  [ -n "$port" ] || fail "$name did not report its port: '$line'"
}

# check FILE LABEL: the last JSON line of FILE has every required field and
# ops_per_s > 0; extra field names may follow.
check() {
  local json field ops
  json=$(tail -n 1 "$1")
  for field in scenario label date ops_per_s ceiling_ops_per_s ratio \
    p50_us p90_us p99_us p999_us server_cpu_us_per_op in_flight \
    value_bytes errors "${@:3}"; do
    grep -q "\"$field\":" <<<"$json" || fail "$2: no field $field in $json"
  done
  ops=$(grep -o '"ops_per_s":[0-9.]*' <<<"$json" | cut -d: -f2)
  awk -v v="$ops" 'BEGIN { exit !(v > 0) }' ||
    fail "$2: ops_per_s is not > 0 in $json"
  grep -q '"server_cpu_us_per_op":[0-9]' <<<"$json" ||
    fail "$2: server_cpu_us_per_op not measured in $json"
  echo "smoke_test: $2 ok: $json"
}

run() {
  "$bench" --warmup=0.5s --duration=1.5s --keys=1000 --in_flight=16 \
    --channels=2 --json_out="$tmp/runs.jsonl" "$@"
}

start ceiling "$ceiling" --listen=127.0.0.1:0 --value_bytes=100
run --target="127.0.0.1:$port" --server_pid="$pid" --mix=get=1 \
  --scenario=smoke_get --label=ceiling
check "$tmp/runs.jsonl" ceiling

if [ -n "$server" ]; then
  start server "$server" --listen=127.0.0.1:0 --data_dir="$tmp/data" \
    --sync=true
  "$bench" --target="127.0.0.1:$port" --load --keys=1000 --in_flight=16 \
    --server_pid="$pid" --json_out="$tmp/load.jsonl"
  check "$tmp/load.jsonl" kv-server-load
  run --target="127.0.0.1:$port" --server_pid="$pid" \
    --server_log="$tmp/server.err" --mix=get=1,set=1 \
    --scenario=smoke_mixed --label=kv-server
  check "$tmp/runs.jsonl" kv-server
  # Writes were measured through the server's stats lines.
  tail -n 1 "$tmp/runs.jsonl" | grep -q '"fsyncs_per_op":[0-9]' ||
    fail "kv-server: fsyncs_per_op not measured"
  tail -n 1 "$tmp/runs.jsonl" | grep -q '"get_misses":0[,}]' ||
    fail "kv-server: gets missed keys that --load had set"
fi

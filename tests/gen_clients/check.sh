#!/usr/bin/env bash
# check.sh LANG WORK_DIR: runs scripts/gen-clients LANG into WORK_DIR/out
# and checks that what it wrote is usable:
#   cpp      compiles and links with Debian's gRPC and runs cpp_check.cc
#   python   python_check.py: a call through the generated stub and
#            servicer over loopback
#   ruby     ruby_check.rb: the same with ruby-grpc
#   php      every expected class file is there and passes `php -l`
#   go       go vet, and go_check.go builds and runs, offline in GOPATH
#            mode against Debian's Go packages in /usr/share/gocode
#   unknown  an unsupported LANG exits non-zero naming the supported ones
set -euo pipefail
lang=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
gen=$here/../../scripts/gen-clients
out=$work/out
rm -rf "$work"
mkdir -p "$work"

if [ "$lang" = unknown ]; then
  rc=0
  "$gen" cobol "$out" 2>"$work/stderr" || rc=$?
  cat "$work/stderr"
  [ "$rc" -ne 0 ] ||
    { echo "FAIL: exit 0 for an unsupported language"; exit 1; }
  for l in cpp python ruby php go; do
    grep -q "$l" "$work/stderr" || { echo "FAIL: message omits $l"; exit 1; }
  done
  [ ! -e "$out" ] || { echo "FAIL: wrote $out anyway"; exit 1; }
  rc=0
  "$gen" python 2>/dev/null || rc=$?
  [ "$rc" -ne 0 ] || { echo "FAIL: exit 0 without OUT"; exit 1; }
  echo "PASS: unsupported language refused"
  exit 0
fi

"$gen" "$lang" "$out"

# expect FILE...: each generated file exists below OUT.
expect() {
  for f in "$@"; do
    [ -s "$out/$f" ] || { echo "FAIL: $f not generated"; exit 1; }
  done
}

case "$lang" in
  cpp)
    expect kv/v1/kv.pb.h kv/v1/kv.pb.cc kv/v1/kv.grpc.pb.h kv/v1/kv.grpc.pb.cc
    # shellcheck disable=SC2046
    g++ -std=c++17 -O0 -I"$out" "$here/cpp_check.cc" \
      "$out/kv/v1/kv.pb.cc" "$out/kv/v1/kv.grpc.pb.cc" \
      $(pkg-config --cflags --libs grpc++ protobuf) -o "$work/cpp_check"
    "$work/cpp_check"
    ;;
  python)
    expect kv/v1/kv_pb2.py kv/v1/kv_pb2.pyi kv/v1/kv_pb2_grpc.py
    PYTHONPATH=$out PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 \
      "$here/python_check.py"
    ;;
  ruby)
    expect kv/v1/kv_pb.rb kv/v1/kv_services_pb.rb
    ruby -I "$out" "$here/ruby_check.rb"
    ;;
  php)
    expect GPBMetadata/Kv/V1/Kv.php Kv/V1/KVClient.php Kv/V1/KVStub.php
    for m in Get Set Delete List; do
      expect "Kv/V1/${m}Request.php" "Kv/V1/${m}Response.php"
      grep -q "function $m(" "$out/Kv/V1/KVClient.php" ||
        { echo "FAIL: KVClient has no $m"; exit 1; }
    done
    n=0
    while IFS= read -r -d '' f; do
      php -l "$f" >/dev/null || { echo "FAIL: php -l $f"; exit 1; }
      n=$((n + 1))
    done < <(find "$out" -name '*.php' -print0)
    echo "php -l: $n files without syntax errors"
    ;;
  go)
    expect kv/v1/kv.pb.go kv/v1/kv_grpc.pb.go
    # golang-google-grpc-dev accepts the 1.3 protobuf API as well, but
    # code from protoc-gen-go 1.28 needs the 1.5 one at run time.
    for p in golang-google-grpc-dev golang-github-golang-protobuf-1-5-dev; do
      [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = \
        "install ok installed" ] || { echo "FAIL: install $p"; exit 1; }
    done
    gopath=$work/gopath
    mkdir -p "$gopath/src/kvstore/gen/go" "$gopath/src/kvcheck"
    cp -r "$out/kv" "$gopath/src/kvstore/gen/go/"
    cp "$here/go_check.go" "$gopath/src/kvcheck/main.go"
    # GOPATH mode, no network: every import comes from Debian's packages.
    export GO111MODULE=off GOPROXY=off GOFLAGS='' \
      GOPATH=$gopath:/usr/share/gocode \
      GOCACHE=${KV_GO_CACHE:-$work/../go-cache}
    go vet kvstore/gen/go/kv/v1 kvcheck
    go build -o "$work/go_check" kvcheck
    "$work/go_check"
    ;;
esac
echo "PASS: $lang client generated and checked"

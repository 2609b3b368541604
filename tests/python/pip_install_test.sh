#!/usr/bin/env bash
# pip_install_test.sh PYTHON PACKAGE_DIR VENV_DIR
#
# Installs the kvstore package the way its README says, into a fresh venv
# that sees Debian's python3-grpcio and python3-protobuf, with no package
# index; then runs test_arguments with the venv's interpreter, outside the
# source tree, so that every import comes from the installed package.
set -euo pipefail
python=$1 package_dir=$2 venv=$3
tests_dir=$(cd "$(dirname "$0")" && pwd)

rm -rf "$venv"
"$python" -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --no-cache-dir --no-build-isolation \
  --no-index "$package_dir"

run_dir=$(mktemp -d)
trap 'rm -rf "$run_dir"' EXIT
cp "$tests_dir/test_arguments.py" "$run_dir/"
cd "$run_dir"
unset PYTHONPATH
installed=$(PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -c \
  'import kvstore.kv.v1.kv_pb2_grpc, kvstore; print(kvstore.__file__)')
case "$installed" in
  "$venv"/*) echo "kvstore imported from $installed" ;;
  *) echo "kvstore imported from $installed, not from $venv" >&2; exit 1 ;;
esac
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m unittest test_arguments

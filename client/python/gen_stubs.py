#!/usr/bin/python3
"""Generates the kv.v1 Python stubs inside the kvstore package.

    gen_stubs.py [--protoc PATH] [--plugin PATH] [--proto_root DIR]
                 [--package_dir DIR]

protoc and grpc_python_plugin write kv/v1/kv_pb2.py and kv_pb2_grpc.py
for a top-level package `kv`; the stubs here live at kvstore/kv/v1/
instead, so that installing kvstore claims no top-level name but its own.
The one import that names the top-level package, in kv_pb2_grpc.py, is
rewritten to the package's real path, and every generated file is moved
into place only once it is complete, so a reader never imports half a
file. The build (client/python/CMakeLists.txt) and the package build
(setup.py, when the stubs are missing) both run this script.

Exits 0 when the stubs are written; on error prints the reason to stderr
and exits non-zero.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = "kv/v1/kv.proto"
# The generated import of the messages module, and what it becomes.
IMPORT_RE = re.compile(r"^from kv\.v1 import kv_pb2 ", re.MULTILINE)
IMPORT_NEW = "from kvstore.kv.v1 import kv_pb2 "
INIT_TEXT = '"""Generated from protos/kv/v1/kv.proto by gen_stubs.py."""\n'


def generate(protoc, plugin, proto_root, package_dir):
    """Writes the stubs below package_dir/kv/v1; raises on failure."""
    out_dir = os.path.join(package_dir, "kv", "v1")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=package_dir) as tmp:
        subprocess.run(
            [protoc, "--proto_path=" + proto_root,
             "--python_out=" + tmp, "--grpc_python_out=" + tmp,
             "--plugin=protoc-gen-grpc_python=" + plugin,
             os.path.join(proto_root, PROTO)],
            check=True)
        gen_dir = os.path.join(tmp, "kv", "v1")

        grpc_path = os.path.join(gen_dir, "kv_pb2_grpc.py")
        with open(grpc_path, encoding="utf-8") as f:
            text = f.read()
        text, count = IMPORT_RE.subn(IMPORT_NEW, text)
        if count != 1:
            raise RuntimeError(
                "kv_pb2_grpc.py: expected one 'from kv.v1 import kv_pb2' "
                "line, found %d; the plugin's output changed" % count)
        with open(grpc_path, "w", encoding="utf-8") as f:
            f.write(text)

        for init_dir in (os.path.join(tmp, "kv"), gen_dir):
            with open(os.path.join(init_dir, "__init__.py"), "w",
                      encoding="utf-8") as f:
                f.write(INIT_TEXT)

        for name in ("kv_pb2.py", "kv_pb2_grpc.py", "__init__.py"):
            os.replace(os.path.join(gen_dir, name),
                       os.path.join(out_dir, name))
        os.replace(os.path.join(tmp, "kv", "__init__.py"),
                   os.path.join(package_dir, "kv", "__init__.py"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protoc", default="/usr/bin/protoc")
    parser.add_argument("--plugin", default="/usr/bin/grpc_python_plugin")
    parser.add_argument("--proto_root",
                        default=os.path.join(HERE, "..", "..", "protos"))
    parser.add_argument("--package_dir",
                        default=os.path.join(HERE, "kvstore"))
    args = parser.parse_args()
    try:
        generate(args.protoc, args.plugin, os.path.abspath(args.proto_root),
                 os.path.abspath(args.package_dir))
    except (OSError, subprocess.CalledProcessError, RuntimeError) as e:
        print("gen_stubs: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

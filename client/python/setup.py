"""Builds the kvstore package, generating its kv.v1 stubs if missing.

The metadata lives in pyproject.toml. The CMake build normally generates
the stubs; an install straight from a fresh checkout runs gen_stubs.py
first (it needs /usr/bin/protoc and /usr/bin/grpc_python_plugin). This
happens before setup() because every setuptools step, metadata included,
needs the generated package directories to exist.
"""

import os
import subprocess
import sys

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
STUBS = [
    os.path.join(HERE, "kvstore", "kv", "__init__.py"),
] + [
    os.path.join(HERE, "kvstore", "kv", "v1", name)
    for name in ("__init__.py", "kv_pb2.py", "kv_pb2_grpc.py")
]

if not all(os.path.exists(p) for p in STUBS):
    subprocess.run([sys.executable, os.path.join(HERE, "gen_stubs.py")],
                   check=True)

setup(packages=["kvstore", "kvstore.kv", "kvstore.kv.v1"])

"""kvstore: the Python client of kvstore, the runners' key-value service.

A KVStore is a handle on one namespace of a kv-server. Values are str;
a key that was never written, was deleted or has expired reads as None.

    from kvstore import KVStore

    store = KVStore("myapp")          # server from KV_ADDRESS, token KV_TOKEN
    config = store.get("config")      # str, or None when absent
    version = store.set("progress", "42", ttl=3600)
    store.delete("progress")          # True when it removed a value
    for key in store.list("jobs/"):   # pages through the server for you
        print(key)

Every failed call raises KVError with the gRPC status code (.code) and
the server's message (.message). See KVStore for the details.
"""

from kvstore._client import DEFAULT_ADDRESS
from kvstore._client import DEFAULT_TIMEOUT
from kvstore._client import KVError
from kvstore._client import KVStore
from kvstore._client import Versioned

__all__ = [
    "DEFAULT_ADDRESS", "DEFAULT_TIMEOUT", "KVError", "KVStore", "Versioned"
]
__version__ = "0.1.0"

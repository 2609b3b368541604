"""Tests of the kvstore package against an in-process fake KV server.

The fake records every request with its metadata, so these tests can show
what the package sends, that bad arguments never reach the wire, and that
gRPC retries UNAVAILABLE. The real server is exercised by test_kvstore.
"""

import concurrent.futures
import datetime
import os
import pickle
import socket
import threading
import unittest
from unittest import mock

import grpc

import kvstore
from kvstore import _client
from kvstore.kv.v1 import kv_pb2
from kvstore.kv.v1 import kv_pb2_grpc


class FakeKV(kv_pb2_grpc.KVServicer):
    """A KV servicer that records calls and answers from a script."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []  # (method, request, metadata dict)
        self.failures = {}  # method -> list of codes to answer first
        self.pages = {}  # page_token -> (keys, next_page_token)

    def _record(self, method, request, context):
        with self.lock:
            self.calls.append(
                (method, request, dict(context.invocation_metadata())))
            pending = self.failures.get(method)
            code = pending.pop(0) if pending else None
        if code is not None:
            context.abort(code, "scripted failure")

    def Get(self, request, context):
        self._record("Get", request, context)
        if request.key == "present":
            return kv_pb2.GetResponse(found=True, value="v", version=7)
        if request.key == "empty":
            return kv_pb2.GetResponse(found=True, value="", version=8)
        return kv_pb2.GetResponse(found=False)

    def Set(self, request, context):
        self._record("Set", request, context)
        return kv_pb2.SetResponse(version=9)

    def Delete(self, request, context):
        self._record("Delete", request, context)
        return kv_pb2.DeleteResponse(deleted=request.key == "present")

    def List(self, request, context):
        self._record("List", request, context)
        keys, token = self.pages.get(request.page_token, ([], ""))
        return kv_pb2.ListResponse(keys=keys, next_page_token=token)


class FakeServerTest(unittest.TestCase):
    """Starts a FakeKV on 127.0.0.1 port 0 for each test."""

    def setUp(self):
        self.fake = FakeKV()
        self.server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=4))
        kv_pb2_grpc.add_KVServicer_to_server(self.fake, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = "127.0.0.1:%d" % port
        self.addCleanup(self.server.stop, None)

    def store(self, namespace="ns", **kwargs):
        kwargs.setdefault("address", self.address)
        kwargs.setdefault("token", "")
        return kvstore.KVStore(namespace, **kwargs)

    def methods(self):
        return [c[0] for c in self.fake.calls]


class CallsTest(FakeServerTest):

    def test_get_answers_value_or_none(self):
        store = self.store()
        self.assertEqual(store.get("present"), "v")
        self.assertEqual(store.get("empty"), "")
        self.assertIsNone(store.get("absent"))
        self.assertEqual(self.fake.calls[0][1].namespace, "ns")
        self.assertEqual(self.fake.calls[0][1].key, "present")

    def test_get_with_version_answers_tuple(self):
        store = self.store()
        found = store.get_with_version("present")
        self.assertEqual(found, ("v", 7))
        self.assertEqual(found.value, "v")
        self.assertEqual(found.version, 7)
        self.assertIsNone(store.get_with_version("absent"))

    def test_set_sends_ttl_seconds(self):
        store = self.store()
        self.assertEqual(store.set("k", "v"), 9)
        store.set("k", "v", ttl=60)
        store.set("k", "v", ttl=datetime.timedelta(minutes=2))
        ttls = [c[1].ttl_seconds for c in self.fake.calls]
        self.assertEqual(ttls, [0, 60, 120])
        self.assertEqual(self.fake.calls[0][1].value, "v")

    def test_delete_answers_whether_removed(self):
        store = self.store()
        self.assertTrue(store.delete("present"))
        self.assertFalse(store.delete("absent"))

    def test_list_follows_page_tokens(self):
        self.fake.pages = {
            "": (["a", "b"], "t1"),
            "t1": (["c"], "t2"),
            "t2": (["d"], ""),
        }
        keys = list(self.store().list("p", page_size=2))
        self.assertEqual(keys, ["a", "b", "c", "d"])
        requests = [c[1] for c in self.fake.calls]
        self.assertEqual([r.page_token for r in requests], ["", "t1", "t2"])
        self.assertTrue(all(r.prefix == "p" for r in requests))
        self.assertTrue(all(r.page_size == 2 for r in requests))

    def test_list_is_lazy(self):
        keys = self.store().list()
        self.assertEqual(self.fake.calls, [])
        self.assertEqual(list(keys), [])
        self.assertEqual(self.methods(), ["List"])

    def test_list_clamps_huge_page_size(self):
        list(self.store().list(page_size=2**40))
        self.assertEqual(self.fake.calls[0][1].page_size, 1000)

    def test_unicode_round_trips_to_the_wire(self):
        self.store().set("ключ/✓", "värde 🎉")
        request = self.fake.calls[0][1]
        self.assertEqual(request.key, "ключ/✓")
        self.assertEqual(request.value, "värde 🎉")


class MetadataTest(FakeServerTest):

    def test_token_is_sent_as_bearer(self):
        self.store(token="s3cret").get("k")
        metadata = self.fake.calls[0][2]
        self.assertEqual(metadata.get("authorization"), "Bearer s3cret")

    def test_no_token_sends_no_authorization(self):
        self.store(token="").get("k")
        self.assertNotIn("authorization", self.fake.calls[0][2])

    def test_environment_gives_address_and_token(self):
        env = {"KV_ADDRESS": self.address, "KV_TOKEN": "from-env"}
        with mock.patch.dict(os.environ, env):
            store = kvstore.KVStore("ns")
        self.assertEqual(store.address, self.address)
        store.get("k")
        self.assertEqual(self.fake.calls[0][2].get("authorization"),
                         "Bearer from-env")

    def test_keywords_override_environment(self):
        env = {"KV_ADDRESS": "127.0.0.1:1", "KV_TOKEN": "from-env"}
        with mock.patch.dict(os.environ, env):
            store = kvstore.KVStore("ns", address=self.address, token="kw")
        store.get("k")
        self.assertEqual(self.fake.calls[0][2].get("authorization"),
                         "Bearer kw")

    def test_default_address_without_environment(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            store = kvstore.KVStore("ns")
        self.assertEqual(store.address, "localhost:50051")


class ChannelTest(FakeServerTest):

    def test_one_channel_per_address_is_shared(self):
        a = self.store("one", token="x")
        b = self.store("two", token="y")
        self.assertIs(a._channel, b._channel)
        self.assertIs(_client._channel(self.address),
                      _client._channel(self.address))
        self.assertIsNot(_client._channel(self.address),
                         _client._channel("127.0.0.1:1"))
        a.get("k")
        b.get("k")
        self.assertEqual([c[1].namespace for c in self.fake.calls],
                         ["one", "two"])

    def test_unavailable_is_retried(self):
        self.fake.failures["Get"] = [grpc.StatusCode.UNAVAILABLE] * 2
        self.fake.failures["Set"] = [grpc.StatusCode.UNAVAILABLE]
        store = self.store()
        self.assertEqual(store.get("present"), "v")
        self.assertEqual(store.set("k", "v"), 9)
        self.assertEqual(self.methods(), ["Get"] * 3 + ["Set"] * 2)

    def test_other_codes_are_not_retried(self):
        self.fake.failures["Delete"] = [grpc.StatusCode.INTERNAL]
        with self.assertRaises(kvstore.KVError) as cm:
            self.store().delete("k")
        self.assertEqual(cm.exception.code, grpc.StatusCode.INTERNAL)
        self.assertEqual(cm.exception.message, "scripted failure")
        self.assertEqual(cm.exception.method, "Delete")
        self.assertEqual(self.methods(), ["Delete"])

    def test_kv_error_survives_pickling(self):
        self.fake.failures["Get"] = [grpc.StatusCode.PERMISSION_DENIED]
        with self.assertRaises(kvstore.KVError) as cm:
            self.store().get("k")
        copy = pickle.loads(pickle.dumps(cm.exception))
        self.assertEqual((copy.code, copy.message, copy.method),
                         (grpc.StatusCode.PERMISSION_DENIED,
                          "scripted failure", "Get"))
        self.assertEqual(str(copy), str(cm.exception))

    def test_unavailable_after_all_attempts_raises(self):
        self.fake.failures["Get"] = [grpc.StatusCode.UNAVAILABLE] * 10
        with self.assertRaises(kvstore.KVError) as cm:
            self.store().get("k")
        self.assertEqual(cm.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(self.methods(), ["Get"] * 5)

    def test_error_in_list_raises_from_iteration(self):
        self.fake.pages = {"": (["a"], "t1")}
        self.fake.failures["List"] = [None, grpc.StatusCode.DATA_LOSS]
        keys = self.store().list()
        self.assertEqual(next(keys), "a")
        with self.assertRaises(kvstore.KVError) as cm:
            next(keys)
        self.assertEqual(cm.exception.code, grpc.StatusCode.DATA_LOSS)


class UnreachableTest(unittest.TestCase):

    def test_unreachable_server_raises_kv_error(self):
        # A port that was just free: nothing listens on it.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        store = kvstore.KVStore("ns", address="127.0.0.1:%d" % port,
                                token="", timeout=2)
        with self.assertRaises(kvstore.KVError) as cm:
            store.get("k")
        self.assertIn(cm.exception.code, (grpc.StatusCode.UNAVAILABLE,
                                          grpc.StatusCode.DEADLINE_EXCEEDED))


class ArgumentTest(FakeServerTest):
    """Bad arguments raise before any call reaches the server."""

    def tearDown(self):
        self.assertEqual(self.fake.calls, [], "a bad argument was sent")

    def test_non_str_key_is_type_error(self):
        store = self.store()
        for key in (b"k", 1, None, ["k"]):
            with self.subTest(key=key):
                self.assertRaises(TypeError, store.get, key)
                self.assertRaises(TypeError, store.get_with_version, key)
                self.assertRaises(TypeError, store.set, key, "v")
                self.assertRaises(TypeError, store.delete, key)

    def test_non_str_value_is_type_error(self):
        store = self.store()
        for value in (b"v", 1, 1.5, None, {"a": 1}):
            with self.subTest(value=value):
                self.assertRaises(TypeError, store.set, "k", value)

    def test_lone_surrogate_is_value_error(self):
        store = self.store()
        for bad in ("\ud800", "a\udfffb"):
            with self.subTest(bad=ascii(bad)):
                self.assertRaises(ValueError, store.get, bad)
                self.assertRaises(ValueError, store.set, bad, "v")
                self.assertRaises(ValueError, store.set, "k", bad)
                self.assertRaises(ValueError, store.delete, bad)
                self.assertRaises(ValueError, store.list, bad)
                self.assertRaises(ValueError, kvstore.KVStore, bad,
                                  address=self.address)

    def test_value_error_does_not_quote_the_string(self):
        with self.assertRaises(ValueError) as cm:
            self.store().set("k", "secret\ud800")
        self.assertNotIn("secret", str(cm.exception))
        self.assertIn("value", str(cm.exception))

    def test_bad_ttl_is_refused(self):
        store = self.store()
        self.assertRaises(TypeError, store.set, "k", "v", ttl="60")
        self.assertRaises(TypeError, store.set, "k", "v", ttl=1.5)
        self.assertRaises(TypeError, store.set, "k", "v", ttl=True)
        self.assertRaises(ValueError, store.set, "k", "v", ttl=0)
        self.assertRaises(ValueError, store.set, "k", "v", ttl=-1)
        self.assertRaises(ValueError, store.set, "k", "v", ttl=2**31)
        self.assertRaises(ValueError, store.set, "k", "v",
                          ttl=datetime.timedelta(seconds=1.5))

    def test_bad_list_arguments_raise_at_once(self):
        store = self.store()
        self.assertRaises(TypeError, store.list, 1)
        self.assertRaises(TypeError, store.list, "", page_size="10")
        self.assertRaises(ValueError, store.list, "", page_size=-1)

    def test_bad_constructor_arguments(self):
        self.assertRaises(TypeError, kvstore.KVStore, b"ns")
        self.assertRaises(TypeError, kvstore.KVStore, "ns", address=1)
        self.assertRaises(TypeError, kvstore.KVStore, "ns", token=b"t")
        self.assertRaises(TypeError, kvstore.KVStore, "ns", timeout="5")
        self.assertRaises(ValueError, kvstore.KVStore, "ns", timeout=0)
        with self.assertRaises(ValueError) as cm:
            kvstore.KVStore("ns", token="line\nbreak")
        self.assertNotIn("line", str(cm.exception))


if __name__ == "__main__":
    unittest.main()

"""End-to-end tests of the kvstore package against a real kv-server.

KV_SERVER names the kv-server binary; each test class starts its own
server on 127.0.0.1 port 0 with a fresh data directory, and each test
uses its own namespace.
"""

import concurrent.futures
import shutil
import tempfile
import time
import unittest

import grpc

import kvstore
from kvserver import KVServer

# The server's default value limit (kv.proto).
DEFAULT_MAX_VALUE_BYTES = 25 * 1024 * 1024


class ServerTest(unittest.TestCase):
    """One kv-server for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.data_dir = tempfile.mkdtemp(prefix="kv-python-")
        cls.server = KVServer(cls.data_dir + "/data")

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.server.stop()
        finally:
            shutil.rmtree(cls.data_dir, ignore_errors=True)
        if code != 0:
            raise AssertionError("kv-server exited %d: %s" %
                                 (code, cls.server.log))

    def store(self, **kwargs):
        """A KVStore on a namespace of this test's own."""
        namespace = self.id().rsplit(".", 1)[-1][:128]
        kwargs.setdefault("token", "")
        return kvstore.KVStore(namespace, address=self.server.address,
                               **kwargs)


class GetSetDeleteTest(ServerTest):

    def test_get_of_absent_key_is_none(self):
        store = self.store()
        self.assertIsNone(store.get("never-written"))
        self.assertIsNone(store.get_with_version("never-written"))

    def test_set_then_get_round_trips(self):
        store = self.store()
        version = store.set("k", "v")
        self.assertGreaterEqual(version, 1)
        self.assertEqual(store.get("k"), "v")
        self.assertEqual(store.get_with_version("k"), ("v", version))

    def test_overwrite_takes_a_newer_version(self):
        store = self.store()
        first = store.set("k", "one")
        second = store.set("k", "two")
        self.assertGreater(second, first)
        self.assertEqual(store.get_with_version("k"), ("two", second))

    def test_empty_value_is_a_value(self):
        store = self.store()
        store.set("empty", "")
        self.assertEqual(store.get("empty"), "")

    def test_unicode_keys_and_values_round_trip(self):
        store = self.store()
        key, value = "ключ/✓ 🎉", "värde\n\x00ünïcødé"
        store.set(key, value)
        self.assertEqual(store.get(key), value)

    def test_value_larger_than_grpc_default_limit_round_trips(self):
        # gRPC's default receive limit is 4 MiB; the client raises it.
        store = self.store()
        value = "x" * (5 * 1024 * 1024)
        store.set("big", value)
        self.assertEqual(store.get("big"), value)

    def test_delete_answers_whether_it_removed_a_value(self):
        store = self.store()
        store.set("k", "v")
        self.assertTrue(store.delete("k"))
        self.assertIsNone(store.get("k"))
        self.assertFalse(store.delete("k"))
        self.assertFalse(store.delete("never-written"))

    def test_versions_grow_across_keys_and_deletes(self):
        store = self.store()
        a = store.set("a", "1")
        store.delete("a")
        b = store.set("b", "2")
        self.assertGreater(b, a)

    def test_one_store_serves_many_threads(self):
        store = self.store()

        def write(thread):
            return [store.set("t%d/%d" % (thread, i), str(i))
                    for i in range(25)]

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            versions = [v for vs in pool.map(write, range(8)) for v in vs]
        self.assertEqual(len(set(versions)), 200, "a version repeated")
        self.assertEqual(len(list(store.list())), 200)
        self.assertEqual(store.get("t7/24"), "24")

    def test_namespaces_do_not_see_each_other(self):
        one = kvstore.KVStore("iso-one", address=self.server.address,
                              token="")
        two = kvstore.KVStore("iso-two", address=self.server.address,
                              token="")
        one.set("shared-key", "one's")
        self.assertIsNone(two.get("shared-key"))
        self.assertEqual(list(two.list()), [])

    def test_token_goes_with_the_calls(self):
        # Without token checks configured the server accepts any token;
        # what the metadata holds is checked by test_arguments.
        store = self.store(token="runner-token")
        store.set("k", "v")
        self.assertEqual(store.get("k"), "v")


class ListTest(ServerTest):

    def test_list_pages_over_more_than_one_page(self):
        store = self.store()
        keys = ["item/%03d" % i for i in range(250)]
        for key in reversed(keys):
            store.set(key, "v")
        store.set("other", "v")
        # The server answers at most 100 keys a page by default.
        self.assertEqual(list(store.list("item/")), keys)
        self.assertEqual(list(store.list("item/", page_size=7)), keys)
        self.assertEqual(len(list(store.list())), 251)

    def test_list_of_empty_namespace_is_empty(self):
        self.assertEqual(list(self.store().list()), [])

    def test_list_skips_deleted_keys(self):
        store = self.store()
        for key in ("a", "b", "c"):
            store.set(key, "v")
        store.delete("b")
        self.assertEqual(list(store.list()), ["a", "c"])


class TtlTest(ServerTest):

    def test_value_with_ttl_reads_back_before_expiry(self):
        store = self.store()
        version = store.set("k", "v", ttl=3600)
        self.assertEqual(store.get_with_version("k"), ("v", version))

    def test_expired_value_reads_as_absent(self):
        store = self.store()
        store.set("short", "v", ttl=1)
        store.set("long", "v", ttl=3600)
        # Expiry is the passage of wall-clock time on the server; poll,
        # bounded, until the one-second value is gone.
        deadline = time.monotonic() + 10
        while store.get("short") is not None:
            self.assertLess(time.monotonic(), deadline,
                            "a ttl=1 value still reads after 10 s")
            time.sleep(0.1)
        self.assertEqual(list(store.list()), ["long"])
        self.assertFalse(store.delete("short"))

    def test_ttl_over_thirty_days_is_invalid_argument(self):
        store = self.store()
        with self.assertRaises(kvstore.KVError) as cm:
            store.set("k", "v", ttl=30 * 24 * 3600 + 1)
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("ttl", cm.exception.message)
        self.assertIsNone(store.get("k"))
        store.set("k", "v", ttl=30 * 24 * 3600)
        self.assertEqual(store.get("k"), "v")


class ServerErrorTest(ServerTest):

    def assertInvalid(self, call, *args, field):
        with self.assertRaises(kvstore.KVError) as cm:
            call(*args)
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn(field, cm.exception.message)
        return cm.exception

    def test_key_over_1024_bytes_is_invalid_argument(self):
        store = self.store()
        long_key = "k" * 1025
        for call, args in ((store.get, (long_key,)),
                           (store.set, (long_key, "v")),
                           (store.delete, (long_key,))):
            with self.subTest(call=call.__name__):
                error = self.assertInvalid(call, *args, field="key")
                self.assertNotIn(long_key, error.message)
                self.assertIn("INVALID_ARGUMENT", str(error))

    def test_key_of_1024_bytes_is_accepted(self):
        store = self.store()
        # 512 two-byte characters: the limit counts UTF-8 bytes.
        key = "é" * 512
        store.set(key, "v")
        self.assertEqual(store.get(key), "v")
        self.assertInvalid(store.get, key + "x", field="key")

    def test_empty_key_is_invalid_argument(self):
        self.assertInvalid(self.store().get, "", field="key")

    def test_bad_namespace_is_invalid_argument(self):
        for namespace in ("", "has/slash", "n" * 129):
            with self.subTest(namespace=namespace[:10]):
                store = kvstore.KVStore(namespace, address=self.server.address,
                                        token="")
                self.assertInvalid(store.get, "k", field="namespace")
                self.assertInvalid(lambda: list(store.list()),
                                   field="namespace")

    def test_value_over_the_limit_is_invalid_argument(self):
        store = self.store()
        error = self.assertInvalid(store.set, "k",
                                   "v" * (DEFAULT_MAX_VALUE_BYTES + 1),
                                   field="value")
        self.assertEqual(error.method, "Set")
        self.assertIsNone(store.get("k"))

    def test_prefix_over_1024_bytes_is_invalid_argument(self):
        store = self.store()
        self.assertInvalid(lambda: list(store.list("p" * 1025)),
                           field="prefix")


class RestartTest(unittest.TestCase):
    """A KVStore keeps working across a restart of its server."""

    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="kv-python-restart-")
        self.addCleanup(shutil.rmtree, self.data_dir, True)
        self.server = KVServer(self.data_dir + "/data")
        self.addCleanup(self.server.kill)

    def restart(self):
        """Stops the server with SIGTERM and starts one on the same port."""
        port = self.server.port
        self.assertEqual(self.server.stop(), 0, self.server.log)
        self.server = KVServer(self.data_dir + "/data", port=port)
        self.addCleanup(self.server.kill)
        self.assertEqual(self.server.port, port)

    def test_same_store_works_after_restart(self):
        store = kvstore.KVStore("restart", address=self.server.address,
                                token="")
        version = store.set("k", "before")
        self.restart()
        self.assertEqual(store.get_with_version("k"), ("before", version))
        self.assertGreater(store.set("k", "after"), version)
        self.assertEqual(store.get("k"), "after")

    def test_calls_fail_unavailable_while_down_then_recover(self):
        store = kvstore.KVStore("restart", address=self.server.address,
                                token="")
        store.set("k", "v")
        port = self.server.port
        self.assertEqual(self.server.stop(), 0, self.server.log)

        with self.assertRaises(kvstore.KVError) as cm:
            store.get("k")
        self.assertEqual(cm.exception.code, grpc.StatusCode.UNAVAILABLE)

        self.server = KVServer(self.data_dir + "/data", port=port)
        self.addCleanup(self.server.kill)
        # The channel saw failed connection attempts, so it reconnects
        # after its backoff (at most about a second): each call retries
        # within its deadline, and a few calls must be enough.
        failures = []
        for _ in range(10):
            try:
                value = store.get("k")
                break
            except kvstore.KVError as e:
                failures.append(e.code)
        else:
            self.fail("no call succeeded after the restart: %s" % failures)
        self.assertEqual(value, "v")
        self.assertTrue(
            all(code == grpc.StatusCode.UNAVAILABLE for code in failures),
            failures)


if __name__ == "__main__":
    unittest.main()

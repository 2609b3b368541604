"""The KVStore handle, its errors and the process-wide channels."""

import datetime
import json
import os
import threading
from typing import Iterator, NamedTuple, Optional

import grpc

from kvstore.kv.v1 import kv_pb2
from kvstore.kv.v1 import kv_pb2_grpc

DEFAULT_ADDRESS = "localhost:50051"
DEFAULT_TIMEOUT = 5.0

# The largest value a server can be configured to accept is 64 MiB; the
# headroom covers the other fields and the framing of a message.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024 + 1024 * 1024

# ttl_seconds is an int32 on the wire.
_MAX_TTL_WIRE = 2**31 - 1

# The same policy as the C++ client: every call of kv.v1.KV is safe to
# repeat when the server could not be reached (Set stores the same value
# again under a newer version), and gRPC retries within the deadline.
_SERVICE_CONFIG = json.dumps({
    "methodConfig": [{
        "name": [{"service": "kv.v1.KV", "method": m}
                 for m in ("Get", "List", "Delete", "Set")],
        "retryPolicy": {
            "maxAttempts": 5,
            "initialBackoff": "0.05s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }]
})

_CHANNEL_OPTIONS = (
    ("grpc.enable_retries", 1),
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # gRPC stops retrying a call whose request outgrows this buffer; a set
    # of the largest value must stay retryable like a small one.
    ("grpc.per_rpc_retry_buffer_size", MAX_MESSAGE_BYTES),
    # gRPC's default reconnect backoff grows to 120 s, so a client that
    # saw the server down for a while would keep failing long after the
    # server is back. Runners are short-lived: retry a connection at least
    # once a second.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)

_channels_lock = threading.Lock()
# (process id, address) -> grpc.Channel. The process id keeps a forked
# child from using its parent's channel, which gRPC does not support.
_channels = {}


class KVError(Exception):
    """KVError is raised when a call to the server fails.

    Attributes:
        code: the grpc.StatusCode of the failure, for example
            grpc.StatusCode.INVALID_ARGUMENT when a field breaks a limit,
            UNAVAILABLE when the server cannot be reached (after retries),
            DEADLINE_EXCEEDED when the call's timeout passed (a set or
            delete that timed out may still have been applied).
        message: the server's message, which names the field and the
            limit but never a value; or gRPC's own description when the
            call never reached a handler.
        method: the rpc that failed, for example "Get".
    """

    def __init__(self, code: grpc.StatusCode, message: str, method: str):
        super().__init__("%s: %s: %s" % (method, code.name, message))
        self.code = code
        self.message = message
        self.method = method

    def __reduce__(self):
        # Exception pickles its args, which here are the formatted text;
        # rebuild from the fields so that KVError crosses processes.
        return (KVError, (self.code, self.message, self.method))


class Versioned(NamedTuple):
    """Versioned is a stored value with its version.

    Attributes:
        value: the stored value (may be "", a stored empty string).
        version: the store-wide revision of the write that stored the
            value: at least 1, and larger for every later write.
    """

    value: str
    version: int


def _channel(address: str) -> grpc.Channel:
    """Returns this process's channel to address, creating it once."""
    key = (os.getpid(), address)
    with _channels_lock:
        channel = _channels.get(key)
        if channel is None:
            channel = grpc.insecure_channel(address, options=_CHANNEL_OPTIONS)
            _channels[key] = channel
        return channel


def _check_str(field: str, text) -> None:
    """Raises TypeError unless text is a str, ValueError unless UTF-8."""
    if not isinstance(text, str):
        raise TypeError("%s must be str, not %s" % (field,
                                                    type(text).__name__))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # The exception's own message would quote the offending character.
        raise ValueError(
            "%s is not valid UTF-8: it holds a lone surrogate" %
            field) from None


def _ttl_seconds(ttl) -> int:
    """Converts the ttl argument of set to the wire's ttl_seconds."""
    if ttl is None:
        return 0
    if isinstance(ttl, datetime.timedelta):
        seconds = ttl.total_seconds()
        if seconds != int(seconds):
            raise ValueError("ttl must be a whole number of seconds")
        ttl = int(seconds)
    elif isinstance(ttl, bool) or not isinstance(ttl, int):
        raise TypeError("ttl must be int, datetime.timedelta or None, not %s" %
                        type(ttl).__name__)
    # 0 on the wire means "never expires": refuse it here rather than let
    # ttl=0 silently keep a value forever.
    if ttl < 1:
        raise ValueError("ttl must be at least 1 second; pass None for a "
                         "value that never expires")
    if ttl > _MAX_TTL_WIRE:
        raise ValueError("ttl must be at most 2,592,000 seconds (30 days)")
    return ttl


class KVStore:
    """KVStore is a handle on one namespace of a kv-server.

    Creating one makes no call: a namespace needs no setup, and the
    connection is made by the first call. Every KVStore of a process that
    names the same address shares one gRPC channel, whatever its namespace
    or token, so making many is cheap.

    Every method raises TypeError when an argument has the wrong type and
    ValueError when a string is not valid UTF-8, before any call; and
    KVError, with the gRPC code and the server's message, when the call
    fails. Calls that end UNAVAILABLE (the server is restarting or not
    reachable) are retried by gRPC with backoff within the timeout.

    A KVStore may be used from several threads at once.

    Example, the caching pattern of a runner:

        store = KVStore("myapp")
        report = store.get("report/2024")
        if report is None:
            report = compute_report()
            store.set("report/2024", report, ttl=3600)
    """

    def __init__(self,
                 namespace: str,
                 *,
                 address: Optional[str] = None,
                 token: Optional[str] = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT):
        """Makes a handle on namespace.

        Args:
            namespace: 1 to 128 bytes of [A-Za-z0-9._-]; a bad name is
                reported by the first call (KVError INVALID_ARGUMENT).
            address: the server, in gRPC target syntax ("host:port").
                None reads KV_ADDRESS, or "localhost:50051" when that is
                unset or empty.
            token: sent on every call as `authorization: Bearer <token>`.
                None reads KV_TOKEN; no authorization is sent when that is
                unset or empty, or when token is "".
            timeout: the deadline of each call in seconds, retries
                included; None means no deadline. Default 5 seconds.

        Raises:
            TypeError: an argument has the wrong type.
            ValueError: namespace is not valid UTF-8, the token holds a
                character that cannot go in gRPC metadata, or timeout is
                not positive.
        """
        _check_str("namespace", namespace)
        if address is None:
            address = os.environ.get("KV_ADDRESS") or DEFAULT_ADDRESS
        elif not isinstance(address, str):
            raise TypeError("address must be str, not %s" %
                            type(address).__name__)
        if token is None:
            token = os.environ.get("KV_TOKEN", "")
        elif not isinstance(token, str):
            raise TypeError("token must be str, not %s" % type(token).__name__)
        if any(not " " <= c <= "~" for c in token):
            # Never quote the token: it is a secret.
            raise ValueError("token must hold printable ASCII characters only")
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(
                    timeout, (int, float)):
                raise TypeError("timeout must be a number or None, not %s" %
                                type(timeout).__name__)
            if not timeout > 0:
                raise ValueError("timeout must be positive")

        self._namespace = namespace
        self._address = address
        self._timeout = timeout
        self._metadata = (("authorization", "Bearer " + token),) if token \
            else ()
        self._channel = _channel(address)
        self._stub = kv_pb2_grpc.KVStub(self._channel)

    @property
    def namespace(self) -> str:
        """The namespace this handle reads and writes."""
        return self._namespace

    @property
    def address(self) -> str:
        """The server address this handle calls."""
        return self._address

    def __repr__(self) -> str:
        return "KVStore(%r, address=%r)" % (self._namespace, self._address)

    def _call(self, method: str, request):
        """Calls method with request; converts a failure into KVError."""
        try:
            return getattr(self._stub, method)(request,
                                               timeout=self._timeout,
                                               metadata=self._metadata)
        except grpc.RpcError as e:
            raise KVError(e.code(), e.details() or "", method) from None

    def get(self, key: str) -> Optional[str]:
        """Returns the value stored under key, or None when it is absent.

        A key that was never written, was deleted or has expired is
        absent; a stored empty string is "".

        Raises:
            TypeError: key is not a str.
            ValueError: key is not valid UTF-8.
            KVError: the call failed, e.g. INVALID_ARGUMENT for a key
                longer than 1024 bytes.
        """
        found = self.get_with_version(key)
        return None if found is None else found.value

    def get_with_version(self, key: str) -> Optional[Versioned]:
        """Returns (value, version) stored under key, or None when absent.

        The version is the store-wide revision of the write that stored
        the value. Raises as get does.
        """
        _check_str("key", key)
        response = self._call(
            "Get", kv_pb2.GetRequest(namespace=self._namespace, key=key))
        if not response.found:
            return None
        return Versioned(response.value, response.version)

    def set(self, key: str, value: str, ttl=None) -> int:
        """Stores value under key, replacing any value there.

        Args:
            key: 1 to 1024 bytes of UTF-8.
            value: a str up to the server's value limit (25 MiB by
                default); "" is a value, distinct from an absent key.
            ttl: how long the value lives, in whole seconds (int or
                datetime.timedelta), 1 to 2,592,000 (30 days); None, the
                default, keeps it until it is overwritten or deleted.

        Returns:
            The version of the stored value, larger than every version
            the server answered before.

        Raises:
            TypeError: key or value is not a str, or ttl is not an int,
                datetime.timedelta or None.
            ValueError: key or value is not valid UTF-8, or ttl is below
                1 second or not whole.
            KVError: the call failed, e.g. INVALID_ARGUMENT for a key,
                value or ttl over its limit. A set that ends
                DEADLINE_EXCEEDED may still have been applied.
        """
        _check_str("key", key)
        _check_str("value", value)
        ttl_seconds = _ttl_seconds(ttl)
        response = self._call(
            "Set",
            kv_pb2.SetRequest(namespace=self._namespace,
                              key=key,
                              value=value,
                              ttl_seconds=ttl_seconds))
        return response.version

    def delete(self, key: str) -> bool:
        """Removes key.

        Returns:
            True when key held a value that this call removed; False when
            it was already absent or expired (deleting is idempotent).

        Raises:
            TypeError: key is not a str.
            ValueError: key is not valid UTF-8.
            KVError: the call failed. A delete that ends DEADLINE_EXCEEDED
                may still have been applied.
        """
        _check_str("key", key)
        response = self._call(
            "Delete", kv_pb2.DeleteRequest(namespace=self._namespace,
                                           key=key))
        return response.deleted

    def list(self, prefix: str = "", *, page_size: int = 0) -> Iterator[str]:
        """Iterates over the keys that start with prefix, in byte order.

        The iterator fetches one page at a time as it is consumed, so a
        namespace of any size can be walked. Pages are not a snapshot: a
        key written meanwhile may or may not appear; none appears twice.

        Args:
            prefix: 0 to 1024 bytes; "" lists every key of the namespace.
            page_size: the most keys fetched per call; 0, the default,
                lets the server choose (100); above 1000 means 1000.

        Raises:
            TypeError: prefix is not a str or page_size not an int, at
                once.
            ValueError: prefix is not valid UTF-8 or page_size is
                negative, at once.
            KVError: a call failed, raised by the iteration that needed
                the page.
        """
        _check_str("prefix", prefix)
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise TypeError("page_size must be int, not %s" %
                            type(page_size).__name__)
        if page_size < 0:
            raise ValueError("page_size must not be negative")
        # The server reads anything above 1000 as 1000; clamping keeps
        # larger Python ints from overflowing the int32 field.
        return self._pages(prefix, min(page_size, 1000))

    def _pages(self, prefix: str, page_size: int) -> Iterator[str]:
        token = ""
        while True:
            response = self._call(
                "List",
                kv_pb2.ListRequest(namespace=self._namespace,
                                   prefix=prefix,
                                   page_size=page_size,
                                   page_token=token))
            yield from response.keys
            token = response.next_page_token
            if not token:
                return

"""Proves that `scripts/gen-clients python` output works with python3-grpcio.

A call through the generated stub reaches a server built on the generated
servicer, over loopback; exits non-zero on any mismatch.
"""

import concurrent.futures
import sys

import grpc

from kv.v1 import kv_pb2
from kv.v1 import kv_pb2_grpc


class EchoKV(kv_pb2_grpc.KVServicer):
    """Answers every Get with namespace/key as the value."""

    def Get(self, request, context):
        return kv_pb2.GetResponse(found=True,
                                  value=request.namespace + "/" + request.key,
                                  version=7)


def main():
    request = kv_pb2.SetRequest(namespace="ns", key="k", ttl_seconds=60)
    if kv_pb2.SetRequest.FromString(request.SerializeToString()) != request:
        print("FAIL: SetRequest does not round trip")
        return 1

    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    kv_pb2_grpc.add_KVServicer_to_server(EchoKV(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel("127.0.0.1:%d" % port) as channel:
            stub = kv_pb2_grpc.KVStub(channel)
            response = stub.Get(kv_pb2.GetRequest(namespace="ns", key="k"),
                                timeout=10)
            # An unimplemented method answers UNIMPLEMENTED, as generated.
            try:
                stub.Delete(kv_pb2.DeleteRequest(namespace="ns", key="k"),
                            timeout=10)
                print("FAIL: Delete should be UNIMPLEMENTED")
                return 1
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                    print("FAIL: Delete answered %s" % e.code())
                    return 1
    finally:
        server.stop(None)
    if (response.found, response.value, response.version) != (True, "ns/k",
                                                              7):
        print("FAIL: Get answered %r" % response)
        return 1
    print("python: Get through the generated stub answered %s" %
          str(response).replace("\n", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())

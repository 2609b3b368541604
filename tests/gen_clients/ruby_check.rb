# Proves that `scripts/gen-clients ruby` output loads and works with
# ruby-grpc: a call through the generated stub reaches a server built on the
# generated service class, over loopback. Exits non-zero on any mismatch.

require 'grpc'
require 'kv/v1/kv_services_pb'

# EchoKV answers every Get with namespace/key as the value.
class EchoKV < Kv::V1::KV::Service
  def get(request, _call)
    Kv::V1::GetResponse.new(found: true,
                            value: "#{request.namespace}/#{request.key}",
                            version: 7)
  end
end

def fail!(message)
  warn "FAIL: #{message}"
  exit 1
end

request = Kv::V1::SetRequest.new(namespace: 'ns', key: 'k', ttl_seconds: 60)
decoded = Kv::V1::SetRequest.decode(Kv::V1::SetRequest.encode(request))
fail!('SetRequest does not round trip') unless decoded == request
methods = Kv::V1::KV::Service.rpc_descs.keys.sort
fail!("rpcs are #{methods}") unless methods == %i[Delete Get List Set]

server = GRPC::RpcServer.new
port = server.add_http2_port('127.0.0.1:0', :this_port_is_insecure)
server.handle(EchoKV)
runner = Thread.new { server.run_till_terminated }
server.wait_till_running(10) || fail!('server did not start')
begin
  stub = Kv::V1::KV::Stub.new("127.0.0.1:#{port}", :this_channel_is_insecure,
                              timeout: 10)
  response = stub.get(Kv::V1::GetRequest.new(namespace: 'ns', key: 'k'))
ensure
  server.stop
  runner.join
end
unless response.found && response.value == 'ns/k' && response.version == 7
  fail!("Get answered #{response.inspect}")
end
puts "ruby: Get through the generated stub answered #{response.inspect}"

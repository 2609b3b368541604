// go_check proves that `scripts/gen-clients go` output builds against
// Debian's Go gRPC and works: a Get through the generated client reaches
// a server built on the generated server interface, over loopback.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	kvv1 "kvstore/gen/go/kv/v1"
)

// echoKV answers every Get with namespace/key as the value.
type echoKV struct {
	kvv1.UnimplementedKVServer
}

func (echoKV) Get(_ context.Context, r *kvv1.GetRequest) (*kvv1.GetResponse, error) {
	return &kvv1.GetResponse{Found: true, Value: r.Namespace + "/" + r.Key, Version: 7}, nil
}

func check() error {
	set := &kvv1.SetRequest{Namespace: "ns", Key: "k", TtlSeconds: 60}
	wire, err := proto.Marshal(set)
	if err != nil {
		return err
	}
	var parsed kvv1.SetRequest
	if err := proto.Unmarshal(wire, &parsed); err != nil || !proto.Equal(set, &parsed) {
		return fmt.Errorf("SetRequest does not round trip: %v", err)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	server := grpc.NewServer()
	kvv1.RegisterKVServer(server, echoKV{})
	go server.Serve(lis)
	defer server.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, lis.Addr().String(), grpc.WithInsecure())
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := kvv1.NewKVClient(conn).Get(ctx, &kvv1.GetRequest{Namespace: "ns", Key: "k"})
	if err != nil {
		return err
	}
	if !resp.Found || resp.Value != "ns/k" || resp.Version != 7 {
		return fmt.Errorf("Get answered %v", resp)
	}
	fmt.Printf("go: Get through the generated client answered %v\n", resp)
	return nil
}

func main() {
	if err := check(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

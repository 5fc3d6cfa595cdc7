// Command go_client calls /protos.Endorser/ProcessProposal on a Weft server with
// grpc-go, configured as Fabric's comm client configures it (TLS 1.2+, keepalive pings
// every minute even without streams, optional client certificate, server name override).
// It sends a SignedProposal whose proposal_bytes is the -payload argument and prints
// the raw ProposalResponse in hex. Used by weft-comm's integration tests.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec passes already-encoded protobuf bytes through.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *(v.(*[]byte)) = append([]byte(nil), data...); return nil }
func (rawCodec) Name() string                       { return "proto" }

func main() {
	addr := flag.String("addr", "", "host:port")
	rootCA := flag.String("rootca", "", "server root CA PEM file")
	cert := flag.String("cert", "", "client certificate PEM file")
	key := flag.String("key", "", "client key PEM file")
	override := flag.String("override", "", "server name override")
	payload := flag.String("payload", "", "proposal bytes")
	flag.Parse()

	pem, err := os.ReadFile(*rootCA)
	if err != nil {
		fail(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fail(fmt.Errorf("no certificate in %s", *rootCA))
	}
	config := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12, ServerName: *override}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fail(err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, *addr,
		grpc.WithTransportCredentials(credentials.NewTLS(config)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: time.Minute, Timeout: 20 * time.Second, PermitWithoutStream: true,
		}),
		grpc.WithBlock(),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
	)
	if err != nil {
		fail(err)
	}
	defer conn.Close()

	request := protowire.AppendTag(nil, 1, protowire.BytesType)
	request = protowire.AppendBytes(request, []byte(*payload))
	var response []byte
	if err := conn.Invoke(ctx, "/protos.Endorser/ProcessProposal", &request, &response); err != nil {
		fail(err)
	}
	fmt.Println(hex.EncodeToString(response))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

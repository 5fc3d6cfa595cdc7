// Command upstream-descriptors writes the protobuf descriptors that Fabric's published Go
// bindings (fabric-protos-go-apiv2) register, as one binary FileDescriptorSet on stdout.
//
// The Rust conformance test in fabric-protos runs it at test time and compares these
// descriptors, field by field, with the ones compiled from our own .proto files. Nothing it
// prints is committed.
package main

import (
	"os"
	"sort"
	"strings"

	_ "github.com/hyperledger/fabric-protos-go-apiv2/common"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/discovery"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/gossip"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/orderer/etcdraft"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/orderer/smartbft"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/peer"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/peer/lifecycle"
	_ "github.com/hyperledger/fabric-protos-go-apiv2/transientstore"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// fabricGoPackage is the Go import path prefix of every file Fabric's bindings define.
const fabricGoPackage = "github.com/hyperledger/fabric-protos-go-apiv2/"

func main() {
	var files []*descriptorpb.FileDescriptorProto
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		// Keep Fabric's own files. The registry also holds the well-known types and files of
		// libraries the bindings import (gRPC's binary log, for one); their Go package tells
		// them apart.
		if strings.HasPrefix(fd.Options().(*descriptorpb.FileOptions).GetGoPackage(), fabricGoPackage) {
			files = append(files, protodesc.ToFileDescriptorProto(fd))
		}
		return true
	})
	sort.Slice(files, func(i, j int) bool { return files[i].GetName() < files[j].GetName() })
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&descriptorpb.FileDescriptorSet{File: files})
	if err != nil {
		os.Stderr.WriteString("marshal descriptor set: " + err.Error() + "\n")
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		os.Exit(1)
	}
}

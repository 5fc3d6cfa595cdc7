// Command go_commit_hash is a test helper for Weft's ledger crate: it reads a JSON list of
// flattened update batches on stdin and prints, for each, the Updates message bytes as Go's
// protobuf runtime encodes them, the chained commit hash and the common.Metadata wrapper.
//
// The Updates schema is declared here at run time (same field numbers and types as Fabric's
// txmgr/updates.proto) so this helper needs no Fabric module, only protobuf and fabric-protos.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

type write struct {
	Namespace  string `json:"namespace"`
	Collection string `json:"collection"`
	Key        string `json:"key"`
	IsDelete   bool   `json:"is_delete"`
	Value      string `json:"value"`
	Version    string `json:"version"`
}

type testCase struct {
	KVWrites []write `json:"kvwrites"`
	Filter   string  `json:"filter"`
	Previous string  `json:"previous"`
}

type result struct {
	Updates  string `json:"updates"`
	Hash     string `json:"hash"`
	Metadata string `json:"metadata"`
}

func field(name string, number int32, typ descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{
		Name:   proto.String(name),
		Number: proto.Int32(number),
		Label:  descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		Type:   typ.Enum(),
	}
}

func schema() (protoreflect.MessageDescriptor, error) {
	repeated := field("kvwrites", 1, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE)
	repeated.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	repeated.TypeName = proto.String(".txmgr.KVWrite")
	file := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("weft_txmgr_updates.proto"),
		Package: proto.String("txmgr"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("KVWrite"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("namespace", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING),
					field("collection", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING),
					field("key", 3, descriptorpb.FieldDescriptorProto_TYPE_BYTES),
					field("isDelete", 4, descriptorpb.FieldDescriptorProto_TYPE_BOOL),
					field("value", 5, descriptorpb.FieldDescriptorProto_TYPE_BYTES),
					field("version_bytes", 6, descriptorpb.FieldDescriptorProto_TYPE_BYTES),
				},
			},
			{
				Name:  proto.String("Updates"),
				Field: []*descriptorpb.FieldDescriptorProto{repeated},
			},
		},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		return nil, err
	}
	return fd.Messages().ByName("Updates"), nil
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fail(err)
	}
	return b
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "go_commit_hash:", err)
	os.Exit(1)
}

func main() {
	updatesDesc, err := schema()
	if err != nil {
		fail(err)
	}
	writeDesc := updatesDesc.Fields().ByNumber(1).Message()

	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fail(err)
	}
	results := []result{}
	for _, c := range cases {
		updates := dynamicpb.NewMessage(updatesDesc)
		list := updates.Mutable(updatesDesc.Fields().ByNumber(1)).List()
		for _, w := range c.KVWrites {
			m := dynamicpb.NewMessage(writeDesc)
			set := func(number protowire.Number, v protoreflect.Value, zero bool) {
				// proto3 scalars without presence: zero values are simply not set.
				if !zero {
					m.Set(writeDesc.Fields().ByNumber(number), v)
				}
			}
			key, value, version := mustHex(w.Key), mustHex(w.Value), mustHex(w.Version)
			set(1, protoreflect.ValueOfString(w.Namespace), w.Namespace == "")
			set(2, protoreflect.ValueOfString(w.Collection), w.Collection == "")
			set(3, protoreflect.ValueOfBytes(key), len(key) == 0)
			set(4, protoreflect.ValueOfBool(w.IsDelete), !w.IsDelete)
			set(5, protoreflect.ValueOfBytes(value), len(value) == 0)
			set(6, protoreflect.ValueOfBytes(version), len(version) == 0)
			list.Append(protoreflect.ValueOfMessage(m))
		}
		// Generated Go messages (Fabric's updates.pb.go) always marshal in field-number order;
		// a dynamic message does so only when asked for deterministic output.
		updateBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(updates)
		if err != nil {
			fail(err)
		}
		filter := mustHex(c.Filter)
		var data []byte
		data = protowire.AppendVarint(data, uint64(len(filter)))
		data = append(data, filter...)
		data = append(data, updateBytes...)
		data = append(data, mustHex(c.Previous)...)
		sum := sha256.Sum256(data)
		metadata, err := proto.Marshal(&common.Metadata{Value: sum[:]})
		if err != nil {
			fail(err)
		}
		results = append(results, result{
			Updates:  hex.EncodeToString(updateBytes),
			Hash:     hex.EncodeToString(sum[:]),
			Metadata: hex.EncodeToString(metadata),
		})
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fail(err)
	}
}

package main

// The "crud" contract: generic CRUD over JSON records, as Weft ships it in
// chaincode/contracts/crud/src/lib.rs (function list, arity rules, answer
// shapes and error texts are that file's).

import (
	"fmt"
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// crudMaxPageSize is the largest page a listing returns (the Rust MAX_PAGE_SIZE).
const crudMaxPageSize = 1000

// maxUnicodeRune ends a prefix range, as Fabric's shim does for composite keys.
const maxUnicodeRune = "\U0010FFFF"

const crudFunctions = "Create, Read, Update, Delete, Exists, List, ListByPrefix, History"

var crudArity = map[string]int{
	"Read": 1, "Exists": 1, "Delete": 1, "History": 1,
	"Create": 2, "Update": 2,
	"ListByPrefix": 3,
	"List":         4,
}

func crudInvoke(stub shim.ChaincodeStubInterface) *peer.Response {
	function, p := functionAndParameters(stub)
	arity, known := crudArity[function]
	switch {
	case function == "":
		return shim.Error("no function name given; expected one of " + crudFunctions)
	case !known:
		return shim.Error(fmt.Sprintf("unknown function %s; expected one of %s", function, crudFunctions))
	case len(p) != arity:
		return shim.Error(fmt.Sprintf("%s takes %d arguments, got %d", function, arity, len(p)))
	}
	payload, err := crudCall(stub, function, p)
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(payload)
}

func crudCall(stub shim.ChaincodeStubInterface, function string, p []string) ([]byte, error) {
	switch function {
	case "Create":
		return nil, writeRecord(stub, p[0], p[1], false)
	case "Update":
		return nil, writeRecord(stub, p[0], p[1], true)
	case "Read":
		return readRecord(stub, p[0])
	case "Exists":
		found, err := recordExists(stub, p[0])
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprint(found)), nil
	case "Delete":
		return nil, deleteRecord(stub, p[0])
	case "List":
		n, err := pageSize(p[2])
		if err != nil {
			return nil, err
		}
		return listRecords(stub, p[0], p[1], n, p[3])
	case "ListByPrefix":
		n, err := pageSize(p[1])
		if err != nil {
			return nil, err
		}
		end := ""
		if p[0] != "" {
			end = p[0] + maxUnicodeRune
		}
		return listRecords(stub, p[0], end, n, p[2])
	default:
		return recordHistory(stub, p[0])
	}
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("the record key must not be empty")
	}
	if strings.HasPrefix(key, "\x00") {
		return fmt.Errorf("the record key %s must not start with U+0000", rustDebugString(key))
	}
	return nil
}

func recordExists(stub shim.ChaincodeStubInterface, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	value, err := stub.GetState(key)
	if err != nil {
		return false, fmt.Errorf("failed to read the record %s: %v", key, err)
	}
	return len(value) > 0, nil
}

func writeRecord(stub shim.ChaincodeStubInterface, key, value string, mustExist bool) error {
	if _, err := parseJSON([]byte(value)); err != nil {
		return fmt.Errorf("the value of record %s is not valid JSON: %v", key, err)
	}
	found, err := recordExists(stub, key)
	if err != nil {
		return err
	}
	if found && !mustExist {
		return fmt.Errorf("the record %s already exists", key)
	}
	if !found && mustExist {
		return fmt.Errorf("the record %s does not exist", key)
	}
	if err := stub.PutState(key, []byte(value)); err != nil {
		return fmt.Errorf("failed to write the record %s: %v", key, err)
	}
	name := "Created"
	if mustExist {
		name = "Updated"
	}
	return announce(stub, name, key)
}

// announce sets the chaincode event naming a write; its payload is the record key.
func announce(stub shim.ChaincodeStubInterface, name, key string) error {
	if err := stub.SetEvent(name, []byte(key)); err != nil {
		return fmt.Errorf("failed to set the %s event of record %s: %v", name, key, err)
	}
	return nil
}

func readRecord(stub shim.ChaincodeStubInterface, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	value, err := stub.GetState(key)
	if err != nil {
		return nil, fmt.Errorf("failed to read the record %s: %v", key, err)
	}
	if len(value) == 0 {
		return nil, fmt.Errorf("the record %s does not exist", key)
	}
	return value, nil
}

func deleteRecord(stub shim.ChaincodeStubInterface, key string) error {
	found, err := recordExists(stub, key)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("the record %s does not exist", key)
	}
	if err := stub.DelState(key); err != nil {
		return fmt.Errorf("failed to delete the record %s: %v", key, err)
	}
	return announce(stub, "Deleted", key)
}

func pageSize(text string) (int32, error) {
	n, ok := parseU32(text)
	if !ok || n < 1 || n > crudMaxPageSize {
		return 0, fmt.Errorf("pageSize must be a number from 1 to %d, got %s", crudMaxPageSize, rustDebugString(text))
	}
	return int32(n), nil
}

func listRecords(stub shim.ChaincodeStubInterface, start, end string, size int32, bookmark string) ([]byte, error) {
	iter, meta, err := stub.GetStateByRangeWithPagination(start, end, size, bookmark)
	if err != nil {
		return nil, fmt.Errorf("failed to list records: %v", err)
	}
	defer iter.Close()
	var out strings.Builder
	out.WriteString(`{"records":[`)
	for i := 0; iter.HasNext(); i++ {
		kv, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("failed to list records: %v", err)
		}
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString(`{"key":`)
		writeJSONString(kv.Key, &out)
		out.WriteString(`,"value":`)
		writeDocument(kv.Value, &out)
		out.WriteByte('}')
	}
	fmt.Fprintf(&out, `],"fetchedRecordsCount":%d,"bookmark":`, meta.GetFetchedRecordsCount())
	writeJSONString(meta.GetBookmark(), &out)
	out.WriteByte('}')
	return []byte(out.String()), nil
}

// writeDocument embeds a stored document; a value some other writer left
// that is not JSON is embedded as a JSON string so the answer stays JSON.
func writeDocument(value []byte, out *strings.Builder) {
	if _, err := parseJSON(value); err == nil {
		out.Write(value)
		return
	}
	writeJSONString(lossyUTF8(value), out)
}

func recordHistory(stub shim.ChaincodeStubInterface, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	iter, err := stub.GetHistoryForKey(key)
	if err != nil {
		return nil, fmt.Errorf("failed to read the history of record %s: %v", key, err)
	}
	defer iter.Close()
	var out strings.Builder
	out.WriteByte('[')
	for i := 0; iter.HasNext(); i++ {
		change, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("failed to read the history of record %s: %v", key, err)
		}
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString(`{"txId":`)
		writeJSONString(change.GetTxId(), &out)
		ts := change.GetTimestamp()
		fmt.Fprintf(&out, `,"timestamp":{"seconds":%d,"nanos":%d},"isDelete":%t,"value":`,
			ts.GetSeconds(), ts.GetNanos(), change.GetIsDelete())
		if change.GetIsDelete() || len(change.GetValue()) == 0 {
			out.WriteString("null")
		} else {
			writeDocument(change.GetValue(), &out)
		}
		out.WriteByte('}')
	}
	out.WriteByte(']')
	return []byte(out.String()), nil
}

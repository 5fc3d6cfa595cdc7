package main

// The "basic" contract: Fabric's asset-transfer-basic as Weft ships it in
// chaincode/contracts/basic/src/lib.rs. That contract mirrors the Go
// contract-API sample, including its dispatch rules (optional
// "SmartContract:" prefix, lower-case first letter accepted, surplus
// arguments ignored) and its parameter conversion errors; this file mirrors
// the Rust contract.

import (
	"fmt"
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

const basicContractName = "SmartContract"

// asset fields are written in the Go sample's declaration order.
type asset struct {
	appraisedValue int64
	color          string
	id             string
	owner          string
	size           int64
}

func (a asset) json() *jsonValue {
	return jsonObj(
		jsonMember{"AppraisedValue", jsonInt(a.appraisedValue)},
		jsonMember{"Color", jsonStr(a.color)},
		jsonMember{"ID", jsonStr(a.id)},
		jsonMember{"Owner", jsonStr(a.owner)},
		jsonMember{"Size", jsonInt(a.size)},
	)
}

func (a asset) bytes() []byte { return []byte(a.json().String()) }

// assetFromJSON reads an asset the way Go's json.Unmarshal would: an exact
// member name first, else a case-insensitive one; missing members are zero.
func assetFromJSON(raw []byte) (asset, error) {
	doc, err := parseJSON(raw)
	if err != nil {
		return asset{}, err
	}
	if doc.kind != jsonObject {
		return asset{}, fmt.Errorf("json: cannot unmarshal non-object into Go value of type chaincode.Asset")
	}
	field := func(name string) *jsonValue {
		for _, m := range doc.members {
			if m.name == name {
				return m.value
			}
		}
		for _, m := range doc.members {
			if strings.EqualFold(m.name, name) && isASCII(m.name) {
				return m.value
			}
		}
		return nil
	}
	text := func(name string) (string, error) {
		v := field(name)
		switch {
		case v == nil || v.kind == jsonNull:
			return "", nil
		case v.kind == jsonString:
			return v.text, nil
		default:
			return "", fmt.Errorf("json: cannot unmarshal into Go struct field Asset.%s of type string", name)
		}
	}
	integer := func(name string) (int64, error) {
		v := field(name)
		if v == nil || v.kind == jsonNull {
			return 0, nil
		}
		if n, ok := parseI64(v.text); ok && v.kind == jsonNumber {
			return n, nil
		}
		return 0, fmt.Errorf("json: cannot unmarshal into Go struct field Asset.%s of type int", name)
	}
	var a asset
	var errs [5]error
	a.appraisedValue, errs[0] = integer("AppraisedValue")
	a.color, errs[1] = text("Color")
	a.id, errs[2] = text("ID")
	a.owner, errs[3] = text("Owner")
	a.size, errs[4] = integer("Size")
	for _, err := range errs {
		if err != nil {
			return asset{}, err
		}
	}
	return a, nil
}

// isASCII: Rust's eq_ignore_ascii_case folds ASCII letters only.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

var basicArity = map[string]int{
	"InitLedger": 0, "GetAllAssets": 0,
	"ReadAsset": 1, "DeleteAsset": 1, "AssetExists": 1,
	"TransferAsset": 2,
	"CreateAsset":   5, "UpdateAsset": 5,
}

func basicInvoke(stub shim.ChaincodeStubInterface) *peer.Response {
	qualified, params := functionAndParameters(stub)
	namespace, function := basicContractName, qualified
	if i := strings.LastIndexByte(qualified, ':'); i >= 0 {
		namespace, function = qualified[:i], qualified[i+1:]
	}
	if namespace != basicContractName {
		return shim.Error(fmt.Sprintf("Contract not found with name %s", namespace))
	}
	if function == "" {
		return shim.Error("Blank function name passed")
	}
	name := function
	if c := name[0]; c < 0x80 {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	arity, known := basicArity[name]
	if !known {
		return shim.Error(fmt.Sprintf("Function %s not found in contract %s", function, basicContractName))
	}
	if len(params) < arity {
		return shim.Error(fmt.Sprintf("incorrect number of params. Expected %d, received %d", arity, len(params)))
	}
	payload, err := basicCall(stub, name, params)
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(payload)
}

func basicCall(stub shim.ChaincodeStubInterface, name string, params []string) ([]byte, error) {
	switch name {
	case "InitLedger":
		return nil, initLedger(stub)
	case "CreateAsset":
		a, err := assetFromParams(params)
		if err != nil {
			return nil, err
		}
		return nil, createAsset(stub, a)
	case "ReadAsset":
		a, err := readAsset(stub, params[0])
		if err != nil {
			return nil, err
		}
		return a.bytes(), nil
	case "UpdateAsset":
		a, err := assetFromParams(params)
		if err != nil {
			return nil, err
		}
		return nil, updateAsset(stub, a)
	case "DeleteAsset":
		return nil, deleteAsset(stub, params[0])
	case "AssetExists":
		exists, err := assetExists(stub, params[0])
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprint(exists)), nil
	case "TransferAsset":
		return transferAsset(stub, params[0], params[1])
	default:
		return getAllAssets(stub)
	}
}

// intParam converts an int parameter with the contract API's error text.
func intParam(params []string, index int) (int64, error) {
	n, ok := parseI64(params[index])
	if !ok {
		return 0, fmt.Errorf("error managing parameter param%d. conversion error. cannot convert passed value %s to int", index, params[index])
	}
	return n, nil
}

func assetFromParams(params []string) (asset, error) {
	size, err := intParam(params, 2)
	if err != nil {
		return asset{}, err
	}
	value, err := intParam(params, 4)
	if err != nil {
		return asset{}, err
	}
	return asset{id: params[0], color: params[1], size: size, owner: params[3], appraisedValue: value}, nil
}

func initLedger(stub shim.ChaincodeStubInterface) error {
	seed := []asset{
		{id: "asset1", color: "blue", size: 5, owner: "Tomoko", appraisedValue: 300},
		{id: "asset2", color: "red", size: 5, owner: "Brad", appraisedValue: 400},
		{id: "asset3", color: "green", size: 10, owner: "Jin Soo", appraisedValue: 500},
		{id: "asset4", color: "yellow", size: 10, owner: "Max", appraisedValue: 600},
		{id: "asset5", color: "black", size: 15, owner: "Adriana", appraisedValue: 700},
		{id: "asset6", color: "white", size: 15, owner: "Michel", appraisedValue: 800},
	}
	for _, a := range seed {
		if err := stub.PutState(a.id, a.bytes()); err != nil {
			return fmt.Errorf("failed to put to world state. %v", err)
		}
	}
	return nil
}

func assetExists(stub shim.ChaincodeStubInterface, id string) (bool, error) {
	value, err := stub.GetState(id)
	if err != nil {
		return false, fmt.Errorf("failed to read from world state: %v", err)
	}
	return len(value) > 0, nil
}

func createAsset(stub shim.ChaincodeStubInterface, a asset) error {
	exists, err := assetExists(stub, a.id)
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("the asset %s already exists", a.id)
	}
	return stub.PutState(a.id, a.bytes())
}

func readAsset(stub shim.ChaincodeStubInterface, id string) (asset, error) {
	value, err := stub.GetState(id)
	if err != nil {
		return asset{}, fmt.Errorf("failed to read from world state: %v", err)
	}
	if len(value) == 0 {
		return asset{}, fmt.Errorf("the asset %s does not exist", id)
	}
	return assetFromJSON(value)
}

func updateAsset(stub shim.ChaincodeStubInterface, a asset) error {
	exists, err := assetExists(stub, a.id)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("the asset %s does not exist", a.id)
	}
	return stub.PutState(a.id, a.bytes())
}

func deleteAsset(stub shim.ChaincodeStubInterface, id string) error {
	exists, err := assetExists(stub, id)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("the asset %s does not exist", id)
	}
	return stub.DelState(id)
}

// transferAsset returns the previous owner, as the Go sample does.
func transferAsset(stub shim.ChaincodeStubInterface, id, newOwner string) ([]byte, error) {
	a, err := readAsset(stub, id)
	if err != nil {
		return nil, err
	}
	oldOwner := a.owner
	a.owner = newOwner
	if err := stub.PutState(id, a.bytes()); err != nil {
		return nil, err
	}
	return []byte(oldOwner), nil
}

// getAllAssets lists every asset in key order; with none the payload is
// empty (the Go sample's nil slice), not "[]".
func getAllAssets(stub shim.ChaincodeStubInterface) ([]byte, error) {
	iter, err := stub.GetStateByRange("", "")
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	all := &jsonValue{kind: jsonArray}
	for iter.HasNext() {
		record, err := iter.Next()
		if err != nil {
			return nil, err
		}
		a, err := assetFromJSON(record.Value)
		if err != nil {
			return nil, err
		}
		all.items = append(all.items, a.json())
	}
	if len(all.items) == 0 {
		return nil, nil
	}
	return []byte(all.String()), nil
}

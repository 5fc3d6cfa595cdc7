// Command weft-ccaas serves one of Weft's sample contracts (the Rust WASM
// contracts in chaincode/contracts) as a chaincode-as-a-service process, so
// that upstream Go peers, which cannot run WASM, execute the same contract.
//
// The contract is chosen by -contract or $WEFT_CONTRACT (basic or crud). As
// Fabric's ccaas samples do, the package id comes from $CHAINCODE_ID and the
// listen address from $CHAINCODE_SERVER_ADDRESS; TLS is off (the harness
// packages connection.json with tls_required false).
//
// Each contract reproduces its Rust twin function by function: names,
// argument order and arity rules, JSON bytes and error texts. The Rust
// sources are the spec; a difference is a bug here.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// contracts maps a contract name to its handler.
var contracts = map[string]func(shim.ChaincodeStubInterface) *peer.Response{
	"basic": basicInvoke,
	"crud":  crudInvoke,
}

// contractChaincode adapts a handler to shim.Chaincode. Weft's WASM runtime
// has one entry point for Init and Invoke, so both go to the same handler.
type contractChaincode struct {
	invoke func(shim.ChaincodeStubInterface) *peer.Response
}

func (c contractChaincode) Init(stub shim.ChaincodeStubInterface) *peer.Response {
	return c.invoke(stub)
}

func (c contractChaincode) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	return c.invoke(stub)
}

func main() {
	name := flag.String("contract", os.Getenv("WEFT_CONTRACT"), "contract to serve: basic or crud (default $WEFT_CONTRACT)")
	replayCalls := flag.Bool("replay", false, "instead of serving, run the JSON array of calls on stdin against an in-memory state and print the answers")
	flag.Parse()
	var err error
	if *replayCalls {
		err = replayContract(*name)
	} else {
		err = serve(*name, os.Getenv("CHAINCODE_ID"), os.Getenv("CHAINCODE_SERVER_ADDRESS"))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "weft-ccaas: %v\n", err)
		os.Exit(1)
	}
}

func replayContract(name string) error {
	invoke, ok := contracts[name]
	if !ok {
		return fmt.Errorf("unknown contract %q: pass -contract basic or -contract crud", name)
	}
	return replay(invoke, os.Stdin, os.Stdout)
}

func serve(name, ccid, address string) error {
	invoke, ok := contracts[name]
	if !ok {
		return fmt.Errorf("unknown contract %q: pass -contract basic or -contract crud", name)
	}
	if ccid == "" {
		return fmt.Errorf("CHAINCODE_ID is not set: set it to the package id `peer lifecycle chaincode install` printed")
	}
	if address == "" {
		return fmt.Errorf("CHAINCODE_SERVER_ADDRESS is not set: set it to the host:port in the package's connection.json")
	}
	server := &shim.ChaincodeServer{
		CCID:     ccid,
		Address:  address,
		CC:       contractChaincode{invoke: invoke},
		TLSProps: shim.TLSProperties{Disabled: true},
	}
	fmt.Fprintf(os.Stderr, "weft-ccaas: serving contract %s as %s on %s\n", name, ccid, address)
	return server.Start()
}

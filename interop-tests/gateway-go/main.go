// Command weft-gateway-go is a client of the asset-transfer "basic" contract written with the
// unchanged Fabric Gateway Go SDK (github.com/hyperledger/fabric-gateway). It runs a happy path
// and then the failing requests users commonly hit, and prints one JSON document describing what
// the SDK reported for each, so a test can compare a Weft network with an upstream one.
//
// Flags name the peer endpoint and the org's crypto folder (test-network layout). With
// -case=peerDown it instead submits one CreateAsset and reports only that outcome, as "peerDown":
// the test runs it after stopping another org's peer, whose endorsement the policy needs.
package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// Outcome is what the SDK reported for one request.
type Outcome struct {
	OK         bool     `json:"ok"`
	ErrorType  string   `json:"errorType,omitempty"`
	GrpcCode   string   `json:"grpcCode,omitempty"`
	Message    string   `json:"message,omitempty"`
	Details    []string `json:"details,omitempty"`
	CommitCode string   `json:"commitCode,omitempty"`
	Result     string   `json:"result,omitempty"`
}

func main() {
	endpoint := flag.String("peer", "localhost:7051", "peer endpoint")
	hostAlias := flag.String("host-alias", "peer0.org1.example.com", "TLS server name")
	orgDir := flag.String("org", "", "the org's folder under organizations/peerOrganizations")
	mspID := flag.String("msp", "Org1MSP", "MSP ID of the user")
	channel := flag.String("channel", "mychannel", "channel")
	chaincode := flag.String("chaincode", "basic", "chaincode name")
	only := flag.String("case", "", "run just this case (peerDown) instead of the full run")
	flag.Parse()
	if *only != "" && *only != "peerDown" {
		fail(fmt.Errorf("unknown case %q; the only single case is peerDown", *only))
	}

	domain := filepath.Base(*orgDir)
	userMSP := filepath.Join(*orgDir, "users", "User1@"+domain, "msp")
	tlsCA := filepath.Join(*orgDir, "peers", *hostAlias, "tls", "ca.crt")
	conn := must(grpcConnection(*endpoint, *hostAlias, tlsCA))
	defer conn.Close()

	results := map[string]Outcome{}
	gw := must(connect(conn, *mspID, firstFile(filepath.Join(userMSP, "signcerts")), firstFile(filepath.Join(userMSP, "keystore"))))
	contract := gw.GetNetwork(*channel).GetContract(*chaincode)
	assetID := fmt.Sprintf("goasset%d", time.Now().UnixNano())

	if *only == "peerDown" {
		results["peerDown"] = outcome(contract.SubmitTransaction("CreateAsset", assetID, "red", "3", "Lin", "500"))
		gw.Close()
		printResults(results)
		return
	}

	results["create"] = outcome(contract.SubmitTransaction("CreateAsset", assetID, "red", "3", "Lin", "500"))
	results["read"] = outcome(contract.EvaluateTransaction("ReadAsset", assetID))
	results["unknownFunction"] = outcome(contract.SubmitTransaction("NoSuchFunction", assetID))
	results["endorsementFailure"] = outcome(contract.SubmitTransaction("UpdateAsset", "no-such-asset", "x", "1", "y", "1"))
	results["evaluateFailure"] = outcome(contract.EvaluateTransaction("ReadAsset", "no-such-asset"))
	results["unknownChaincode"] = outcome(gw.GetNetwork(*channel).GetContract("nosuchchaincode").EvaluateTransaction("ReadAsset", assetID))
	results["unknownChaincodeSubmit"] = outcome(gw.GetNetwork(*channel).GetContract("nosuchchaincode").SubmitTransaction("ReadAsset", assetID))
	results["unknownChannel"] = outcome(gw.GetNetwork("nosuchchannel").GetContract(*chaincode).EvaluateTransaction("ReadAsset", assetID))
	results["mvccConflict"] = mvccConflict(contract, assetID)
	gw.Close()

	// An identity the channel does not know: a self-signed certificate and its key.
	strangerCert, strangerKey := must2(selfSignedIdentity())
	stranger := must(connect(conn, *mspID, strangerCert, strangerKey))
	results["unauthorizedEvaluate"] = outcome(stranger.GetNetwork(*channel).GetContract(*chaincode).EvaluateTransaction("ReadAsset", assetID))
	results["unauthorizedSubmit"] = outcome(stranger.GetNetwork(*channel).GetContract(*chaincode).SubmitTransaction("CreateAsset", assetID+"x", "red", "3", "Lin", "500"))
	stranger.Close()
	printResults(results)
}

func printResults(results map[string]Outcome) {
	out, _ := json.MarshalIndent(results, "", "  ")
	fmt.Println(string(out))
}

// mvccConflict endorses two transfers of one asset before either commits; the second to commit
// must be invalidated with MVCC_READ_CONFLICT.
func mvccConflict(contract *client.Contract, assetID string) Outcome {
	first, err := contract.NewProposal("TransferAsset", client.WithArguments(assetID, "Mia"))
	if err != nil {
		return outcomeErr(err)
	}
	second, err := contract.NewProposal("TransferAsset", client.WithArguments(assetID, "Noor"))
	if err != nil {
		return outcomeErr(err)
	}
	t1, err := first.Endorse()
	if err != nil {
		return outcomeErr(err)
	}
	t2, err := second.Endorse()
	if err != nil {
		return outcomeErr(err)
	}
	c1, err := t1.Submit()
	if err != nil {
		return outcomeErr(err)
	}
	if _, err := c1.Status(); err != nil {
		return outcomeErr(err)
	}
	c2, err := t2.Submit()
	if err != nil {
		return outcomeErr(err)
	}
	st, err := c2.Status()
	if err != nil {
		return outcomeErr(err)
	}
	return Outcome{OK: st.Successful, CommitCode: st.Code.String()}
}

func outcome(result []byte, err error) Outcome {
	if err != nil {
		return outcomeErr(err)
	}
	return Outcome{OK: true, Result: string(result)}
}

func outcomeErr(err error) Outcome {
	o := Outcome{ErrorType: errorType(err)}
	st := status.Convert(err)
	o.GrpcCode = st.Code().String()
	o.Message = st.Message()
	for _, d := range st.Details() {
		if detail, ok := d.(*gateway.ErrorDetail); ok {
			o.Details = append(o.Details, detail.GetMspId()+": "+detail.GetMessage())
		}
	}
	sort.Strings(o.Details)
	return o
}

func errorType(err error) string {
	var endorse *client.EndorseError
	var submit *client.SubmitError
	var commitStatus *client.CommitStatusError
	var commit *client.CommitError
	switch {
	case errors.As(err, &endorse):
		return "EndorseError"
	case errors.As(err, &submit):
		return "SubmitError"
	case errors.As(err, &commitStatus):
		return "CommitStatusError"
	case errors.As(err, &commit):
		return "CommitError"
	default:
		return "error"
	}
}

func grpcConnection(endpoint, hostAlias, tlsCAPath string) (*grpc.ClientConn, error) {
	pem, err := os.ReadFile(tlsCAPath)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificates in %s", tlsCAPath)
	}
	return grpc.NewClient(endpoint, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, hostAlias)))
}

func connect(conn *grpc.ClientConn, mspID string, certPEM, keyPEM []byte) (*client.Gateway, error) {
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, err
	}
	id, err := identity.NewX509Identity(mspID, cert)
	if err != nil {
		return nil, err
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, err
	}
	return client.Connect(id, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(10*time.Second), client.WithEndorseTimeout(20*time.Second),
		client.WithSubmitTimeout(10*time.Second), client.WithCommitStatusTimeout(60*time.Second))
}

func firstFile(dir string) []byte {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		fail(fmt.Errorf("no file in %s: %v", dir, err))
	}
	return must(os.ReadFile(filepath.Join(dir, entries[0].Name())))
}

func must[T any](v T, err error) T {
	if err != nil {
		fail(err)
	}
	return v
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		fail(err)
	}
	return a, b
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "weft-gateway-go:", strings.TrimSpace(err.Error()))
	os.Exit(1)
}

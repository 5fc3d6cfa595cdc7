// Runs a simulation script against Fabric's own transaction simulator (the v2.5.9 txmgr over
// a goleveldb state database) and prints the simulation results as hex, so Weft's endorser can
// be compared with Go byte for byte. Built inside a copy of the Fabric module (it needs
// Fabric's internal packages); see upstream_go_rwset.rs.
//
// Input (stdin), one instruction per line, fields separated by single spaces, keys and values
// hex-encoded:
//   seed <ns> <key> <value> <block> <tx>            committed public entry
//   seedmeta <ns> <key> <value> <metadata> <block> <tx>
//   seedp <ns> <coll> <key> <value> <block> <tx>     committed private entry and its hash
//   coll <ns> <coll>                                 a collection the chaincode defines
//   op <ns> <call>                                   one stub call in the scripted chaincode's
//                                                    language (see tests/it/fakes.rs Script)
//   proposal <signed proposal>                       optional: also build the response payload
//   response <status> <message> <payload>            the chaincode's response for it
//   ccid <name> <version>                            the chaincode ID it carries
// Output: "public <hex>" and "private <hex>" (empty hex when there is no private set), and
// with a proposal "payload <hex>": the ProposalResponsePayload Fabric's endorser signs.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/golang/protobuf/proto"
	"github.com/hyperledger/fabric-protos-go/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go/peer"
	"github.com/hyperledger/fabric/common/metrics/disabled"
	"github.com/hyperledger/fabric/core/ledger"
	"github.com/hyperledger/fabric/core/ledger/internal/version"
	"github.com/hyperledger/fabric/core/ledger/kvledger/bookkeeping"
	"github.com/hyperledger/fabric/core/ledger/kvledger/txmgmt/privacyenabledstate"
	"github.com/hyperledger/fabric/core/ledger/kvledger/txmgmt/txmgr"
	"github.com/hyperledger/fabric/protoutil"
)

type collections map[string]map[string]bool

type infoProvider struct{ colls collections }

func (p *infoProvider) Namespaces() []string { return []string{"_lifecycle"} }
func (p *infoProvider) UpdatedChaincodes(map[string][]*kvrwset.KVWrite) ([]*ledger.ChaincodeLifecycleInfo, error) {
	return nil, nil
}
func (p *infoProvider) config(ns string) *peer.CollectionConfigPackage {
	pkg := &peer.CollectionConfigPackage{}
	for name := range p.colls[ns] {
		pkg.Config = append(pkg.Config, &peer.CollectionConfig{Payload: &peer.CollectionConfig_StaticCollectionConfig{
			StaticCollectionConfig: &peer.StaticCollectionConfig{Name: name},
		}})
	}
	return pkg
}
func (p *infoProvider) ChaincodeInfo(_, cc string, _ ledger.SimpleQueryExecutor) (*ledger.DeployedChaincodeInfo, error) {
	return &ledger.DeployedChaincodeInfo{Name: cc, Version: "1", ExplicitCollectionConfigPkg: p.config(cc)}, nil
}
func (p *infoProvider) AllChaincodesInfo(string, ledger.SimpleQueryExecutor) (map[string]*ledger.DeployedChaincodeInfo, error) {
	return nil, nil
}
func (p *infoProvider) CollectionInfo(_, cc, coll string, _ ledger.SimpleQueryExecutor) (*peer.StaticCollectionConfig, error) {
	if p.colls[cc][coll] {
		return &peer.StaticCollectionConfig{Name: coll}, nil
	}
	return nil, nil
}
func (p *infoProvider) ImplicitCollections(string, string, ledger.SimpleQueryExecutor) ([]*peer.StaticCollectionConfig, error) {
	return nil, nil
}
func (p *infoProvider) GenerateImplicitCollectionForOrg(string) *peer.StaticCollectionConfig { return nil }
func (p *infoProvider) AllCollectionsConfigPkg(_, cc string, _ ledger.SimpleQueryExecutor) (*peer.CollectionConfigPackage, error) {
	return p.config(cc), nil
}

type btl struct{}

func (btl) GetBTL(string, string) (uint64, error)                  { return 0, nil }
func (btl) GetExpiringBlock(string, string, uint64) (uint64, error) { return ^uint64(0), nil }

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func unhex(s string) string {
	b, err := hex.DecodeString(s)
	must(err)
	return string(b)
}

func num(s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	must(err)
	return n
}

func split2(s string, sep string) (string, string) {
	if i := strings.Index(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):]
	}
	return s, ""
}

const totalQueryLimit = 100000

// run performs one scripted stub call the way Fabric's shim and chaincode handler drive the
// simulator (fabric-chaincode-go shim, core/chaincode/handler.go, query_response_generator.go).
func run(sim ledger.TxSimulator, ns, call string, event **peer.ChaincodeEvent) {
	verb, rest := split2(call, ":")
	switch verb {
	case "event":
		name, payload := split2(rest, "=")
		*event = &peer.ChaincodeEvent{EventName: name, Payload: []byte(payload)}
	case "get":
		_, err := sim.GetState(ns, rest)
		must(err)
	case "put":
		k, v := split2(rest, "=")
		must(sim.SetState(ns, k, []byte(v)))
	case "del":
		must(sim.DeleteState(ns, rest))
	case "range":
		start, end := split2(rest, ":")
		if start == "" {
			start = "\x01"
		}
		itr, err := sim.GetStateRangeScanIterator(ns, start, end)
		must(err)
		for i := 0; i < totalQueryLimit; i++ {
			r, err := itr.Next()
			must(err)
			if r == nil {
				break
			}
		}
		itr.Close()
	case "page":
		parts := strings.Split(rest, ":")
		start, end, bookmark := parts[0], parts[1], parts[3]
		size := int32(num(parts[2]))
		if start == "" {
			start = "\x01"
		}
		if bookmark != "" {
			start = bookmark
		}
		limit := int32(totalQueryLimit)
		if size > 0 && size < limit {
			limit = size
		}
		itr, err := sim.GetStateRangeScanIteratorWithPagination(ns, start, end, size)
		must(err)
		for count := int32(0); count < limit; count++ {
			r, err := itr.Next()
			must(err)
			if r == nil {
				break
			}
		}
		itr.GetBookmarkAndClose()
	case "meta":
		k, entry := split2(rest, ":")
		name, value := split2(entry, "=")
		must(sim.SetStateMetadata(ns, k, map[string][]byte{name: []byte(value)}))
	case "getmeta":
		_, err := sim.GetStateMetadata(ns, rest)
		must(err)
	case "pget":
		coll, k := split2(rest, ":")
		_, err := sim.GetPrivateData(ns, coll, k)
		must(err)
	case "pput":
		coll, kv := split2(rest, ":")
		k, v := split2(kv, "=")
		must(sim.SetPrivateData(ns, coll, k, []byte(v)))
	case "pdel":
		coll, k := split2(rest, ":")
		must(sim.DeletePrivateData(ns, coll, k))
	case "phash":
		coll, k := split2(rest, ":")
		_, err := sim.GetPrivateDataHash(ns, coll, k)
		must(err)
	default:
		must(fmt.Errorf("unknown call %q", call))
	}
}

func main() {
	dir, err := os.MkdirTemp("", "weftdiff")
	must(err)
	defer os.RemoveAll(dir)

	bookkeeper, err := bookkeeping.NewProvider(dir + "/bookkeeping")
	must(err)
	provider, err := privacyenabledstate.NewDBProvider(bookkeeper, &disabled.Provider{}, nil,
		&privacyenabledstate.StateDBConfig{StateDBConfig: &ledger.StateDBConfig{}, LevelDBPath: dir + "/state"},
		[]string{"lscc", "_lifecycle"})
	must(err)
	db, err := provider.GetDBHandle("ch", nil)
	must(err)

	info := &infoProvider{colls: collections{}}
	batch := privacyenabledstate.NewUpdateBatch()
	var last *version.Height = version.NewHeight(0, 0)
	var ops [][2]string
	var signedProposal []byte
	var response *peer.Response
	var ccid *peer.ChaincodeID
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		f := strings.Split(scanner.Text(), " ")
		switch f[0] {
		case "seed":
			h := version.NewHeight(num(f[4]), num(f[5]))
			batch.PubUpdates.Put(f[1], unhex(f[2]), []byte(unhex(f[3])), h)
		case "seedmeta":
			h := version.NewHeight(num(f[5]), num(f[6]))
			batch.PubUpdates.PutValAndMetadata(f[1], unhex(f[2]), []byte(unhex(f[3])), []byte(unhex(f[4])), h)
		case "seedp":
			h := version.NewHeight(num(f[5]), num(f[6]))
			key, value := unhex(f[3]), []byte(unhex(f[4]))
			keyHash := sha256.Sum256([]byte(key))
			valueHash := sha256.Sum256(value)
			batch.PvtUpdates.Put(f[1], f[2], key, value, h)
			batch.HashUpdates.Put(f[1], f[2], keyHash[:], valueHash[:], h)
		case "coll":
			if info.colls[f[1]] == nil {
				info.colls[f[1]] = map[string]bool{}
			}
			info.colls[f[1]][f[2]] = true
		case "op":
			ops = append(ops, [2]string{f[1], strings.Join(f[2:], " ")})
		case "proposal":
			signedProposal = []byte(unhex(f[1]))
		case "response":
			response = &peer.Response{Status: int32(num(f[1])), Message: unhex(f[2]), Payload: []byte(unhex(f[3]))}
		case "ccid":
			ccid = &peer.ChaincodeID{Name: f[1], Version: f[2]}
		case "":
		default:
			must(fmt.Errorf("unknown instruction %q", f[0]))
		}
	}
	must(scanner.Err())
	last = version.NewHeight(1000, 0)
	must(db.ApplyPrivacyAwareUpdates(batch, last))

	mgr, err := txmgr.NewLockBasedTxMgr(&txmgr.Initializer{
		LedgerID:            "ch",
		DB:                  db,
		BtlPolicy:           btl{},
		BookkeepingProvider: bookkeeper,
		CCInfoProvider:      info,
		HashFunc: func(data []byte) ([]byte, error) {
			h := sha256.Sum256(data)
			return h[:], nil
		},
	})
	must(err)
	sim, err := mgr.NewTxSimulator("tx")
	must(err)
	var event *peer.ChaincodeEvent
	for _, op := range ops {
		run(sim, op[0], op[1], &event)
	}
	results, err := sim.GetTxSimulationResults()
	must(err)
	sim.Done()
	public, err := results.GetPubSimulationBytes()
	must(err)
	private := []byte{}
	if results.PvtSimulationResults != nil {
		private, err = proto.Marshal(results.PvtSimulationResults)
		must(err)
	}
	fmt.Printf("public %s\nprivate %s\n", hex.EncodeToString(public), hex.EncodeToString(private))
	if signedProposal != nil {
		fmt.Printf("payload %s\n", hex.EncodeToString(responsePayload(signedProposal, response, public, event, ccid)))
	}
}

// responsePayload builds what Fabric's endorser signs for this simulation (core/endorser
// endorser.go: the event carries chaincode name and txid, protoutil builds the payload).
func responsePayload(signed []byte, response *peer.Response, results []byte, event *peer.ChaincodeEvent, ccid *peer.ChaincodeID) []byte {
	sp := &peer.SignedProposal{}
	must(proto.Unmarshal(signed, sp))
	prop, err := protoutil.UnmarshalProposal(sp.ProposalBytes)
	must(err)
	hdr, err := protoutil.UnmarshalHeader(prop.Header)
	must(err)
	chdr, err := protoutil.UnmarshalChannelHeader(hdr.ChannelHeader)
	must(err)
	hash, err := protoutil.GetProposalHash1(hdr, prop.Payload)
	must(err)
	var eventBytes []byte
	if event != nil && response.Status < 400 {
		event.ChaincodeId = ccid.Name
		event.TxId = chdr.TxId
		eventBytes, err = proto.Marshal(event)
		must(err)
	}
	payload, err := protoutil.GetBytesProposalResponsePayload(hash, response, results, eventBytes, ccid)
	must(err)
	return payload
}

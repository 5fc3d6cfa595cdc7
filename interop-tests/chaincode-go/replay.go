package main

// Replay mode (-replay): runs a JSON array of invocations (each an array of
// arguments, the function name first; an argument is a JSON string, or an
// array of byte values for bytes that are not UTF-8) against an in-memory world
// state and prints one {"status","message","payload"} object per call. The
// interop tests feed the same calls to the WASM contract in Weft's runtime
// and compare the answers byte for byte, which checks this Go twin against
// its Rust original without any peer in between.
//
// The world state is deliberately plain: keys in byte order, a range is
// [start, end) with an empty end meaning unbounded, a page's bookmark is the
// next key, history is newest first, and a call's writes are kept only if it
// succeeds (as an endorsed and committed transaction's would be). A call's
// chaincode event is reported as "name:payload" when it succeeds (empty
// otherwise: a failed call's simulation, event included, is discarded).

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// replayCallsMax bounds one replay; replayInputBytesMax bounds its input.
const (
	replayCallsMax      = 100000
	replayInputBytesMax = 64 << 20
	// replayEpochSeconds is the timestamp of call 0; call n is n seconds later.
	replayEpochSeconds = 1700000000
)

// replayArg is one argument: a JSON string or an array of byte values.
type replayArg []byte

func (a *replayArg) UnmarshalJSON(raw []byte) error {
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		*a = []byte(text)
		return nil
	}
	var values []uint8
	if err := json.Unmarshal(raw, &values); err != nil {
		return fmt.Errorf("an argument is a string or an array of byte values: %w", err)
	}
	*a = values
	return nil
}

type replayAnswer struct {
	Status  int32  `json:"status"`
	Message string `json:"message"`
	Payload string `json:"payload"`
	Event   string `json:"event"`
}

func replay(invoke func(shim.ChaincodeStubInterface) *peer.Response, in io.Reader, out io.Writer) error {
	raw, err := io.ReadAll(io.LimitReader(in, replayInputBytesMax+1))
	if err != nil {
		return err
	}
	if len(raw) > replayInputBytesMax {
		return fmt.Errorf("replay input is over %d bytes", replayInputBytesMax)
	}
	var calls [][]replayArg
	if err := json.Unmarshal(raw, &calls); err != nil {
		return fmt.Errorf("replay input is not a JSON array of argument arrays: %w", err)
	}
	if len(calls) > replayCallsMax {
		return fmt.Errorf("replay input has %d calls, more than %d", len(calls), replayCallsMax)
	}
	world := newMemStub()
	answers := make([]replayAnswer, 0, len(calls))
	for i, call := range calls {
		r := world.invoke(invoke, i, call)
		answers = append(answers, replayAnswer{Status: r.Status, Message: r.Message, Payload: string(r.Payload), Event: world.event})
	}
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	return encoder.Encode(answers)
}

// memStub is an in-memory world state behind the stub calls the contracts
// make; any other call panics through the nil embedded interface.
type memStub struct {
	shim.ChaincodeStubInterface
	args    [][]byte
	txID    string
	seconds int64
	state   map[string][]byte
	history map[string][]*queryresult.KeyModification
	// pending holds this call's writes (nil value: delete) until it succeeds.
	pending map[string][]byte
	// calls counts the calls a unit test made, as transaction numbers.
	calls int
	// event is the last call's chaincode event as "name:payload", empty if
	// it set none or failed.
	event string
	// pendingEvent is the event the running call set (the last one wins).
	pendingEvent *peer.ChaincodeEvent
}

func newMemStub() *memStub {
	return &memStub{state: map[string][]byte{}, history: map[string][]*queryresult.KeyModification{}}
}

// invoke runs one call as transaction number n and commits its writes if it succeeded.
func (s *memStub) invoke(invoke func(shim.ChaincodeStubInterface) *peer.Response, n int, args []replayArg) *peer.Response {
	s.args = nil
	for _, a := range args {
		s.args = append(s.args, a)
	}
	s.txID = fmt.Sprintf("tx%d", n)
	s.seconds = replayEpochSeconds + int64(n)
	s.pending = map[string][]byte{}
	s.pendingEvent = nil
	s.event = ""
	r := invoke(s)
	if r.Status < shim.ERRORTHRESHOLD {
		s.commit()
		if s.pendingEvent != nil {
			s.event = s.pendingEvent.EventName + ":" + string(s.pendingEvent.Payload)
		}
	}
	s.pending = nil
	s.pendingEvent = nil
	return r
}

func (s *memStub) commit() {
	keys := make([]string, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := s.pending[k]
		change := &queryresult.KeyModification{
			TxId:      s.txID,
			Value:     v,
			Timestamp: &timestamppb.Timestamp{Seconds: s.seconds},
			IsDelete:  v == nil,
		}
		s.history[k] = append([]*queryresult.KeyModification{change}, s.history[k]...)
		if v == nil {
			delete(s.state, k)
		} else {
			s.state[k] = v
		}
	}
}

func (s *memStub) GetArgs() [][]byte { return s.args }

func (s *memStub) GetState(key string) ([]byte, error) { return s.state[key], nil }

func (s *memStub) PutState(key string, value []byte) error {
	s.pending[key] = append([]byte{}, value...)
	return nil
}

func (s *memStub) DelState(key string) error {
	s.pending[key] = nil
	return nil
}

// SetEvent keeps the call's event; like the shim, an empty name is refused.
func (s *memStub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return fmt.Errorf("event name can not be empty string")
	}
	s.pendingEvent = &peer.ChaincodeEvent{EventName: name, Payload: append([]byte{}, payload...)}
	return nil
}

func (s *memStub) keys(start, end string) []string {
	var keys []string
	for k := range s.state {
		if k >= start && (end == "" || k < end) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func (s *memStub) GetStateByRange(start, end string) (shim.StateQueryIteratorInterface, error) {
	return s.iterator(s.keys(start, end)), nil
}

func (s *memStub) GetStateByRangeWithPagination(start, end string, size int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	keys := s.keys(max(start, bookmark), end)
	next := ""
	if len(keys) > int(size) {
		keys, next = keys[:size], keys[size]
	}
	return s.iterator(keys), &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(keys)), Bookmark: next}, nil
}

func (s *memStub) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	return &historyIterator{changes: s.history[key]}, nil
}

func (s *memStub) iterator(keys []string) *kvIterator {
	it := &kvIterator{}
	for _, k := range keys {
		it.kvs = append(it.kvs, &queryresult.KV{Key: k, Value: s.state[k]})
	}
	return it
}

type kvIterator struct{ kvs []*queryresult.KV }

func (it *kvIterator) HasNext() bool { return len(it.kvs) > 0 }
func (it *kvIterator) Close() error  { return nil }
func (it *kvIterator) Next() (*queryresult.KV, error) {
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	return kv, nil
}

type historyIterator struct {
	changes []*queryresult.KeyModification
}

func (it *historyIterator) HasNext() bool { return len(it.changes) > 0 }
func (it *historyIterator) Close() error  { return nil }
func (it *historyIterator) Next() (*queryresult.KeyModification, error) {
	change := it.changes[0]
	it.changes = it.changes[1:]
	return change, nil
}

package main

import (
	"strings"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

func (s *memStub) call(t *testing.T, invoke func(shim.ChaincodeStubInterface) *peer.Response, args ...string) *peer.Response {
	t.Helper()
	s.calls++
	converted := make([]replayArg, 0, len(args))
	for _, a := range args {
		converted = append(converted, replayArg(a))
	}
	return s.invoke(invoke, s.calls, converted)
}

func expectOK(t *testing.T, r *peer.Response, payload string) {
	t.Helper()
	if r.Status != shim.OK || string(r.Payload) != payload {
		t.Fatalf("got status %d payload %q message %q, want OK %q", r.Status, r.Payload, r.Message, payload)
	}
}

func expectError(t *testing.T, r *peer.Response, message string) {
	t.Helper()
	if r.Status != shim.ERROR || r.Message != message {
		t.Fatalf("got status %d message %q, want error %q", r.Status, r.Message, message)
	}
}

// The asset JSON is the Go sample's json.Marshal output: fields in
// declaration order, HTML characters escaped.
func TestBasicAssetLifecycle(t *testing.T) {
	s := newMemStub()
	expectOK(t, s.call(t, basicInvoke, "GetAllAssets"), "")
	expectOK(t, s.call(t, basicInvoke, "InitLedger"), "")
	expectOK(t, s.call(t, basicInvoke, "ReadAsset", "asset1"),
		`{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}`)
	expectOK(t, s.call(t, basicInvoke, "SmartContract:createAsset", "a<7>", "red&", "3", "Ann", "99", "surplus"), "")
	expectOK(t, s.call(t, basicInvoke, "ReadAsset", "a<7>"),
		`{"AppraisedValue":99,"Color":"red\u0026","ID":"a\u003c7\u003e","Owner":"Ann","Size":3}`)
	expectOK(t, s.call(t, basicInvoke, "TransferAsset", "asset2", "Zoe"), "Brad")
	expectOK(t, s.call(t, basicInvoke, "AssetExists", "asset2"), "true")
	expectOK(t, s.call(t, basicInvoke, "DeleteAsset", "asset2"), "")
	expectOK(t, s.call(t, basicInvoke, "AssetExists", "asset2"), "false")
	all := string(s.call(t, basicInvoke, "GetAllAssets").Payload)
	if !strings.HasPrefix(all, `[{"AppraisedValue":99,"Color":"red\u0026","ID":"a\u003c7\u003e"`) ||
		strings.Count(all, `"ID"`) != 6 || strings.Contains(all, "asset2") {
		t.Fatalf("GetAllAssets = %s", all)
	}
}

func TestBasicErrorsMatchTheRustContract(t *testing.T) {
	s := newMemStub()
	expectOK(t, s.call(t, basicInvoke, "InitLedger"), "")
	expectError(t, s.call(t, basicInvoke, "UpdateAsset", "nope", "c", "1", "o", "2"), "the asset nope does not exist")
	expectError(t, s.call(t, basicInvoke, "CreateAsset", "asset1", "c", "1", "o", "2"), "the asset asset1 already exists")
	expectError(t, s.call(t, basicInvoke, "ReadAsset", "x"), "the asset x does not exist")
	expectError(t, s.call(t, basicInvoke, "DeleteAsset", "x"), "the asset x does not exist")
	expectError(t, s.call(t, basicInvoke, "TransferAsset", "x", "y"), "the asset x does not exist")
	expectError(t, s.call(t, basicInvoke, "CreateAsset", "a", "c", "big", "o", "2"),
		"error managing parameter param2. conversion error. cannot convert passed value big to int")
	expectError(t, s.call(t, basicInvoke, "CreateAsset", "a"), "incorrect number of params. Expected 5, received 1")
	expectError(t, s.call(t, basicInvoke, "Burn"), "Function Burn not found in contract SmartContract")
	expectError(t, s.call(t, basicInvoke, "Other:ReadAsset", "a"), "Contract not found with name Other")
	expectError(t, s.call(t, basicInvoke, "SmartContract:"), "Blank function name passed")
	expectError(t, s.call(t, basicInvoke), "Blank function name passed")
}

// Stored assets are read as json.Unmarshal would (case-insensitive names,
// zero values for missing members).
func TestBasicReadsAssetsLeniently(t *testing.T) {
	s := newMemStub()
	s.state["x"] = []byte(`{"id":"x","size":3}`)
	expectOK(t, s.call(t, basicInvoke, "ReadAsset", "x"),
		`{"AppraisedValue":0,"Color":"","ID":"x","Owner":"","Size":3}`)
	s.state["y"] = []byte(`{"Size":"3"}`)
	expectError(t, s.call(t, basicInvoke, "ReadAsset", "y"),
		"json: cannot unmarshal into Go struct field Asset.Size of type int")
}

func TestCrudRecordLifecycle(t *testing.T) {
	s := newMemStub()
	expectOK(t, s.call(t, crudInvoke, "Create", "k1", `{"a": [1, 2]}`), "")
	expectOK(t, s.call(t, crudInvoke, "Read", "k1"), `{"a": [1, 2]}`)
	expectOK(t, s.call(t, crudInvoke, "Exists", "k1"), "true")
	expectOK(t, s.call(t, crudInvoke, "Update", "k1", `"v2"`), "")
	expectOK(t, s.call(t, crudInvoke, "Create", "k2", `3`), "")
	expectOK(t, s.call(t, crudInvoke, "Create", "j", `null`), "")
	expectOK(t, s.call(t, crudInvoke, "ListByPrefix", "k", "1", ""),
		`{"records":[{"key":"k1","value":"v2"}],"fetchedRecordsCount":1,"bookmark":"k2"}`)
	expectOK(t, s.call(t, crudInvoke, "List", "", "", "+10", ""),
		`{"records":[{"key":"j","value":null},{"key":"k1","value":"v2"},{"key":"k2","value":3}],"fetchedRecordsCount":3,"bookmark":""}`)
	expectOK(t, s.call(t, crudInvoke, "Delete", "k1"), "")
	expectOK(t, s.call(t, crudInvoke, "Exists", "k1"), "false")
}

// Each successful write names itself in the chaincode event; reads and
// failed writes leave none.
func TestCrudWritesSetEvents(t *testing.T) {
	s := newMemStub()
	steps := []struct {
		args  []string
		event string
	}{
		{[]string{"Create", "k1", `{}`}, "Created:k1"},
		{[]string{"Read", "k1"}, ""},
		{[]string{"Update", "k1", `1`}, "Updated:k1"},
		{[]string{"Create", "k1", `1`}, ""},
		{[]string{"Delete", "k1"}, "Deleted:k1"},
		{[]string{"Delete", "k1"}, ""},
	}
	for _, step := range steps {
		s.call(t, crudInvoke, step.args...)
		if s.event != step.event {
			t.Errorf("%v: event %q, want %q", step.args, s.event, step.event)
		}
	}
}

func TestCrudErrorsMatchTheRustContract(t *testing.T) {
	s := newMemStub()
	expectOK(t, s.call(t, crudInvoke, "Create", "k", `{}`), "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"Read", "missing"}, "the record missing does not exist"},
		{[]string{"Delete", "missing"}, "the record missing does not exist"},
		{[]string{"Update", "missing", "1"}, "the record missing does not exist"},
		{[]string{"Create", "k", "1"}, "the record k already exists"},
		{[]string{"Create", "k2", "{"}, "the value of record k2 is not valid JSON: invalid JSON at offset 1: expected a member name"},
		{[]string{"Create", "k2", "[1,]"}, "the value of record k2 is not valid JSON: invalid JSON at offset 3: unexpected character"},
		{[]string{"Create", "k2", "1 2"}, "the value of record k2 is not valid JSON: unexpected data after JSON value at offset 2"},
		{[]string{"Create", "", "1"}, "the record key must not be empty"},
		{[]string{"Exists", "\x00a\tb"}, `the record key "\0a\tb" must not start with U+0000`},
		{[]string{"List", "", "", "0", ""}, `pageSize must be a number from 1 to 1000, got "0"`},
		{[]string{"ListByPrefix", "", "1001", ""}, `pageSize must be a number from 1 to 1000, got "1001"`},
		{[]string{"Read"}, "Read takes 1 arguments, got 0"},
		{[]string{"Create", "a", "b", "c"}, "Create takes 2 arguments, got 3"},
		{[]string{"Drop", "a"}, "unknown function Drop; expected one of Create, Read, Update, Delete, Exists, List, ListByPrefix, History"},
		{nil, "no function name given; expected one of Create, Read, Update, Delete, Exists, List, ListByPrefix, History"},
	}
	for _, c := range cases {
		expectError(t, s.call(t, crudInvoke, c.args...), c.want)
	}
}

// These mirror the SDK's own JSON tests (chaincode/sdk/src/json.rs).
func TestJSONMatchesTheSDK(t *testing.T) {
	v, err := parseJSON([]byte(` {"ID":"a1","Size":5,"tags":[true,null,-1.5e3],"n":{}} `))
	if err != nil || v.String() != `{"ID":"a1","Size":5,"tags":[true,null,-1.5e3],"n":{}}` {
		t.Fatalf("round trip: %v %v", v, err)
	}
	if got := jsonStr("<a&b>\n\u2028\"").String(); got != `"\u003ca\u0026b\u003e\n\u2028\""` {
		t.Fatalf("escaping: %s", got)
	}
	for _, bad := range []string{"{", "[1,]", "01", `"a`, `{"a" 1}`, "1 2", "", "nul", strings.Repeat("[", jsonMaxDepth+2)} {
		if _, err := parseJSON([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if v, err := parseJSON([]byte(`"\ud83d\ude00\u00e9\ud800"`)); err != nil || v.text != "😀é\uFFFD" {
		t.Fatalf("escapes: %q %v", v.text, err)
	}
}

// Rust's from_utf8_lossy replaces a truncated sequence with one U+FFFD.
func TestLossyUTF8MatchesRust(t *testing.T) {
	cases := map[string]string{
		"ok":                       "ok",
		"a\xe2\x82b":               "a\uFFFDb",
		"\xf0\x90\x80":             "\uFFFD",
		"\xff\xfe":                 "\uFFFD\uFFFD",
		"\xed\xa0\x80":             "\uFFFD\uFFFD\uFFFD",
		"x\xc3":                    "x\uFFFD",
		"\xe0\x80\xaf\xef\xbf\xbd": "\uFFFD\uFFFD\uFFFD\uFFFD",
	}
	for in, want := range cases {
		if got := lossyUTF8([]byte(in)); got != want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}

// Rust: format!("{:?}", "\u{0}a\tb\u{a0}\u{300}x\u{7f}\"é").
func TestRustDebugString(t *testing.T) {
	got := rustDebugString("\x00a\tb\u00a0\u0300x\x7f\"é")
	if want := `"\0a\tb\u{a0}\u{300}x\u{7f}\"é"`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

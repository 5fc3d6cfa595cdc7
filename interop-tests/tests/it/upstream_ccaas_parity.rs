//! The Go ccaas twins (`weft-ccaas`) answer exactly as the WASM contracts
//! they mirror: the same calls run through Weft's WASM runtime (packages from
//! scripts/build-chaincode) and through `weft-ccaas -replay` must give the same
//! status, message and payload, byte for byte. Both sides use the same plain
//! in-memory world state (see the Go replay mode), so any difference is in the
//! contract code, which is what upstream Go peers and Weft peers share.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use weft_chaincode_api::{
    Chaincode, ChaincodeStub, KeyModification, KeyValue, RangePage, Response, StateMetadata,
    StubError,
};
use weft_chaincode_runtime::{Engine, Limits};
use weft_interop_tests::{ContractKind, ccaas_server_binary, repo_root, upstream_dir};

/// Call 0's timestamp in the Go replay mode; call n is n seconds later.
const REPLAY_EPOCH_SECONDS: i64 = 1_700_000_000;

/// Builds the WASM packages once per test run into a private directory.
fn packages_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo_root()
            .join("target")
            .join("interop-ccaas-parity-chaincode");
        let output = Command::new(repo_root().join("scripts/build-chaincode"))
            .env("WEFT_CHAINCODE_OUT", &dir)
            .output()
            .expect("run scripts/build-chaincode");
        assert!(
            output.status.success(),
            "scripts/build-chaincode failed (Debian's rustc, cargo, libstd-rust-dev-wasm32 and \
             lld-14 are needed):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    })
}

/// One argument: text, or raw bytes (sent to the Go side as an array of byte values).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
enum Arg {
    Text(String),
    Bytes(Vec<u8>),
}

impl Arg {
    fn bytes(&self) -> &[u8] {
        match self {
            Arg::Text(text) => text.as_bytes(),
            Arg::Bytes(bytes) => bytes,
        }
    }
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(text.to_owned())
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
struct Answer {
    status: i32,
    message: String,
    payload: String,
    /// The chaincode event of a successful call as `name:payload`, else empty.
    event: String,
}

/// Runs `calls` through the WASM contract in Weft's runtime.
fn run_wasm(contract: ContractKind, calls: &[Vec<Arg>]) -> Vec<Answer> {
    let name = contract.contract_name();
    let dir = packages_dir();
    let id = std::fs::read_to_string(dir.join(format!("{name}.package-id"))).unwrap();
    let package = std::fs::read(dir.join(format!("{name}.tar.gz"))).unwrap();
    let engine = Engine::new(Limits::default()).unwrap();
    let chaincode = engine.load_package(id.trim(), &package).unwrap();
    let mut world = World::default();
    calls
        .iter()
        .enumerate()
        .map(|(n, call)| {
            let response = world.invoke(chaincode.as_ref(), n, call);
            Answer {
                status: response.status,
                message: response.message,
                payload: String::from_utf8_lossy(&response.payload).into_owned(),
                event: std::mem::take(&mut world.event),
            }
        })
        .collect()
}

/// Runs `calls` through `weft-ccaas -contract <name> -replay`.
fn run_go(contract: ContractKind, calls: &[Vec<Arg>]) -> Vec<Answer> {
    let binary = ccaas_server_binary(&upstream_dir());
    let mut child = Command::new(&binary)
        .args(["-contract", contract.contract_name(), "-replay"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run interop-tests/upstream/install.sh",
                binary.display()
            )
        });
    let input = serde_json::to_vec(calls).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "weft-ccaas -replay failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn assert_same_answers(contract: ContractKind, calls: &[Vec<Arg>]) {
    let wasm = run_wasm(contract, calls);
    let go = run_go(contract, calls);
    assert_eq!(wasm.len(), calls.len());
    assert_eq!(go.len(), calls.len());
    let mut differences = Vec::new();
    for ((call, wasm), go) in calls.iter().zip(&wasm).zip(&go) {
        if wasm != go {
            differences.push(format!("{call:?}\n  wasm: {wasm:?}\n  go:   {go:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} calls differ:\n{}",
        differences.len(),
        calls.len(),
        differences.join("\n")
    );
    // The corpus must exercise both outcomes, or the comparison proves little.
    assert!(wasm.iter().any(|a| a.status == 200));
    assert!(wasm.iter().any(|a| a.status == 500));
    if matches!(contract, ContractKind::Crud) {
        // The crud contract's writes set events, so they are compared too.
        assert!(wasm.iter().any(|a| !a.event.is_empty()));
    }
}

fn calls(list: &[&[&str]]) -> Vec<Vec<Arg>> {
    list.iter()
        .map(|call| call.iter().map(|a| Arg::from(*a)).collect())
        .collect()
}

/// asset-transfer-basic: contract-API dispatch rules, parameter conversion
/// errors, JSON escaping, the asset lifecycle and its errors.
#[test]
fn ccaas_parity_basic_contract_answers_as_the_wasm_contract() {
    let deep_color = "<b>&\"\\\u{2028}\u{1}é😀";
    assert_same_answers(
        ContractKind::Basic,
        &calls(&[
            &["GetAllAssets"],
            &["InitLedger"],
            &["GetAllAssets"],
            &["ReadAsset", "asset1"],
            &["readAsset", "asset2"],
            &["SmartContract:ReadAsset", "asset3"],
            &["SmartContract:readAsset", "asset3"],
            &["Other:ReadAsset", "asset3"],
            &["a:b:ReadAsset", "asset3"],
            &[":ReadAsset", "asset3"],
            &[""],
            &[],
            &["SmartContract:"],
            &["Nope"],
            &["nope"],
            &["éReadAsset"],
            &["READASSET", "asset1"],
            &["CreateAsset", "a<1>", deep_color, "7", "O\u{2028}", "-9"],
            &["ReadAsset", "a<1>"],
            &["CreateAsset", "p1", "c", "+5", "o", "1"],
            &["CreateAsset", "p2", "c", "5.0", "o", "1"],
            &["CreateAsset", "p3", "c", "99999999999999999999", "o", "1"],
            &["CreateAsset", "p4", "c", " 5", "o", "1"],
            &["CreateAsset", "p5", "c", "0x10", "o", "1"],
            &["CreateAsset", "p6", "c", "1_000", "o", "1"],
            &["CreateAsset", "p7", "c", "1", "o", "-"],
            &[
                "CreateAsset",
                "p8",
                "c",
                "-9223372036854775808",
                "o",
                "9223372036854775807",
            ],
            &["CreateAsset", "p9", "c", "1", "o"],
            &["CreateAsset", "p10", "c", "1", "o", "2", "surplus"],
            &["UpdateAsset", "missing", "c", "1", "o", "1"],
            &["UpdateAsset", "asset1", "green", "1", "Z", "2"],
            &["UpdateAsset", "asset1", "green", "x", "Z", "2"],
            &["TransferAsset", "asset1", "New"],
            &["TransferAsset", "asset1"],
            &["TransferAsset", "missing", "New"],
            &["DeleteAsset", "asset2"],
            &["DeleteAsset", "asset2"],
            &["AssetExists", "asset2"],
            &["AssetExists", "asset3"],
            &["AssetExists"],
            &["CreateAsset", "asset1", "c", "1", "o", "1"],
            &["CreateAsset", "üñí", "c", "1", "o", "1"],
            &["InitLedger", "extra"],
            &["GetAllAssets"],
        ])
        .into_iter()
        .chain([
            vec![Arg::Bytes(b"ReadAsset\xff".to_vec()), "asset1".into()],
            vec!["ReadAsset".into(), Arg::Bytes(b"asset\xe2\x82".to_vec())],
            vec![
                "CreateAsset".into(),
                Arg::Bytes(b"\xffid".to_vec()),
                Arg::Bytes(b"c\xf4\x90".to_vec()),
                "1".into(),
                "o".into(),
                "2".into(),
            ],
            vec!["GetAllAssets".into()],
        ])
        .collect::<Vec<_>>(),
    );
}

/// crud: JSON validation (the SDK parser's error texts and offsets), key
/// checks, arity, listings with pagination, history.
#[test]
fn ccaas_parity_crud_contract_answers_as_the_wasm_contract() {
    let too_deep = "[".repeat(66) + &"]".repeat(66);
    let deep_enough = "[".repeat(64) + &"]".repeat(64);
    let mut list: Vec<Vec<Arg>> = calls(&[
        &["Create", "k1", r#"{"a": [1, 2.5e-3, true, null, "x"]}"#],
        &["Read", "k1"],
        &["Exists", "k1"],
        &["Exists", "nope"],
        &["Create", "k1", "{}"],
        &["Update", "k1", r#" "v2" "#],
        &["Update", "missing", "1"],
        &["Read", "missing"],
        &["Delete", "missing"],
        &["Create", "", "1"],
        &["Read", ""],
        &["Exists", "\u{0}a\tb"],
        &["Create", "\u{0}x", "1"],
        &["Create", "k\u{0}", "1"],
        &["Read", "k\u{0}"],
        &["Create", "é😀<&>", r#""\ud83d\ude00\u00e9\ud800""#],
        &["Read", "é😀<&>"],
        &["Read"],
        &["Read", "a", "b"],
        &["Create", "a"],
        &["List", "", "", "1"],
        &["ListByPrefix"],
        &["History"],
        &["Drop", "a"],
        &["read", "k1"],
        &[],
        &[""],
        &["Create", "s1", "1"],
        &["Create", "s2", "[2]"],
        &["Create", "s3", r#"{"z":3}"#],
        &["Create", "t1", "null"],
        &["List", "", "", "10", ""],
        &["List", "s", "t", "2", ""],
        &["List", "s", "t", "2", "s3"],
        &["List", "s2", "", "+1", ""],
        &["ListByPrefix", "s", "1", ""],
        &["ListByPrefix", "s", "1000", "s2"],
        &["ListByPrefix", "", "3", ""],
        &["ListByPrefix", "zzz", "3", ""],
        &["Update", "s2", "[20]"],
        &["Delete", "s2"],
        &["History", "s2"],
        &["History", "never"],
        &["History", ""],
        &["Delete", "s2"],
        &["Exists", "s2"],
    ]);
    for bad_page_size in [
        "0",
        "1001",
        "-1",
        "abc",
        " 3",
        "3 ",
        "",
        "++1",
        "4294967296",
    ] {
        list.push(calls(&[&["List", "", "", bad_page_size, ""]]).remove(0));
        list.push(calls(&[&["ListByPrefix", "s", bad_page_size, ""]]).remove(0));
    }
    for (i, doc) in [
        "{",
        "}",
        "[1,]",
        "[1 2]",
        "01",
        "-",
        "-a",
        "1.",
        "1.e3",
        "1e",
        "1e+",
        "\"a",
        "\"\\",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "\"\t\"",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{1:2}",
        "1 2",
        "",
        "   ",
        "nul",
        "nulll",
        "tru",
        "falsey",
        "NaN",
        "'a'",
        "[\"a\"\u{1}]",
        too_deep.as_str(),
        deep_enough.as_str(),
        "\u{feff}{}",
        " \n\t\r{ \"a\" : [ ] } \r\n",
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("doc{i}");
        list.push(vec!["Create".into(), key.clone().into(), doc.into()]);
        list.push(vec!["Read".into(), key.into()]);
    }
    // Arguments that are not UTF-8 are decoded as Rust's from_utf8_lossy does.
    let invalid: [&[u8]; 5] = [
        b"k\xff",
        b"k\xe2\x82",
        b"k\xf0\x90\x80x",
        b"\xed\xa0\x80",
        b"\xc0\xaf",
    ];
    for bytes in invalid {
        list.push(vec![
            "Create".into(),
            Arg::Bytes(bytes.to_vec()),
            "{}".into(),
        ]);
        list.push(vec!["Read".into(), Arg::Bytes(bytes.to_vec())]);
        list.push(vec![Arg::Bytes([b"Rea", bytes].concat()), "x".into()]);
    }
    list.push(vec![
        "Create".into(),
        "utf".into(),
        Arg::Bytes(b"\"\xff\"".to_vec()),
    ]);
    list.push(vec!["Read".into(), "utf".into()]);
    list.push(vec![
        "ListByPrefix".into(),
        "".into(),
        "1000".into(),
        "".into(),
    ]);
    assert_same_answers(ContractKind::Crud, &list);
}

/// The world state both sides use: see the Go replay mode for the rules.
#[derive(Default)]
struct World {
    state: BTreeMap<String, Vec<u8>>,
    history: BTreeMap<String, Vec<KeyModification>>,
    args: Vec<Vec<u8>>,
    tx_id: String,
    seconds: i64,
    /// This call's writes (None: delete), kept only if it succeeds.
    pending: BTreeMap<String, Option<Vec<u8>>>,
    transient: BTreeMap<String, Vec<u8>>,
    /// The event this call set (the last one wins), as (name, payload).
    pending_event: Option<(String, Vec<u8>)>,
    /// The last call's event as `name:payload` if it succeeded, else empty.
    event: String,
}

impl World {
    fn invoke(&mut self, chaincode: &dyn Chaincode, n: usize, call: &[Arg]) -> Response {
        self.args = call.iter().map(|a| a.bytes().to_vec()).collect();
        self.tx_id = format!("tx{n}");
        self.seconds = REPLAY_EPOCH_SECONDS + i64::try_from(n).unwrap();
        self.pending.clear();
        self.pending_event = None;
        self.event.clear();
        let response = chaincode.invoke(self);
        if let (false, Some((name, payload))) = (response.is_error(), self.pending_event.take()) {
            self.event = format!("{name}:{}", String::from_utf8_lossy(&payload));
        }
        if !response.is_error() {
            for (key, value) in std::mem::take(&mut self.pending) {
                let change = KeyModification {
                    tx_id: self.tx_id.clone(),
                    value: value.clone().unwrap_or_default(),
                    timestamp_seconds: self.seconds,
                    timestamp_nanos: 0,
                    is_delete: value.is_none(),
                };
                self.history
                    .entry(key.clone())
                    .or_default()
                    .insert(0, change);
                match value {
                    Some(value) => self.state.insert(key, value),
                    None => self.state.remove(&key),
                };
            }
        }
        response
    }

    fn unsupported<T>(what: &str) -> Result<T, StubError> {
        Err(StubError::Unsupported(format!(
            "{what} is not part of the parity world"
        )))
    }
}

impl ChaincodeStub for World {
    fn channel_id(&self) -> &str {
        "parity"
    }
    fn tx_id(&self) -> &str {
        &self.tx_id
    }
    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }
    fn creator(&self) -> &[u8] {
        &[]
    }
    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.transient
    }
    fn signed_proposal(&self) -> &[u8] {
        &[]
    }
    fn tx_timestamp(&self) -> (i64, i32) {
        (self.seconds, 0)
    }
    fn binding(&self) -> &[u8] {
        &[]
    }
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        Ok(self.state.get(key).cloned())
    }
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), StubError> {
        self.pending.insert(key.to_owned(), Some(value.to_vec()));
        Ok(())
    }
    fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        self.pending.insert(key.to_owned(), None);
        Ok(())
    }
    fn get_state_metadata(&mut self, _key: &str) -> Result<StateMetadata, StubError> {
        Self::unsupported("state metadata")
    }
    fn set_state_metadata(&mut self, _: &str, _: &str, _: &[u8]) -> Result<(), StubError> {
        Self::unsupported("state metadata")
    }
    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage, StubError> {
        let from = start.max(bookmark);
        let mut items: Vec<KeyValue> = self
            .state
            .range(from.to_owned()..)
            .take_while(|(key, _)| end.is_empty() || key.as_str() < end)
            .map(|(key, value)| KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        let mut next = String::new();
        if page_size > 0 && items.len() > page_size as usize {
            next = items[page_size as usize].key.clone();
            items.truncate(page_size as usize);
        }
        Ok(RangePage {
            fetched_records_count: u32::try_from(items.len()).unwrap(),
            items,
            bookmark: next,
        })
    }
    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        Ok(self.history.get(key).cloned().unwrap_or_default())
    }
    fn get_private_data(&mut self, _: &str, _: &str) -> Result<Option<Vec<u8>>, StubError> {
        Self::unsupported("private data")
    }
    fn get_private_data_hash(&mut self, _: &str, _: &str) -> Result<Option<Vec<u8>>, StubError> {
        Self::unsupported("private data")
    }
    fn put_private_data(&mut self, _: &str, _: &str, _: &[u8]) -> Result<(), StubError> {
        Self::unsupported("private data")
    }
    fn del_private_data(&mut self, _: &str, _: &str) -> Result<(), StubError> {
        Self::unsupported("private data")
    }
    fn get_private_data_by_range(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Vec<KeyValue>, StubError> {
        Self::unsupported("private data")
    }
    fn get_private_data_metadata(&mut self, _: &str, _: &str) -> Result<StateMetadata, StubError> {
        Self::unsupported("private data")
    }
    fn set_private_data_metadata(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
        _: &[u8],
    ) -> Result<(), StubError> {
        Self::unsupported("private data")
    }
    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), StubError> {
        self.pending_event = Some((name.to_owned(), payload.to_vec()));
        Ok(())
    }
    fn invoke_chaincode(&mut self, _: &str, _: &[Vec<u8>], _: &str) -> Result<Response, StubError> {
        Self::unsupported("chaincode-to-chaincode calls")
    }
}

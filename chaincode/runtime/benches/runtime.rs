//! Prints the runtime's costs: a host state read from WASM, a CRUD `Create` invocation, and the
//! memory a loaded module and a running instance take. Run with
//! `cargo bench -p weft-chaincode-runtime` (builds the contracts with scripts/build-chaincode).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use weft_chaincode_api::{
    Chaincode, ChaincodeStub, KeyModification, KeyValue, RangePage, Response, StateMetadata,
    StubError,
};
use weft_chaincode_runtime::{Engine, Limits};

/// State reads per invocation in the read benchmark.
const READS: u32 = 100_000;
const CREATES: usize = 2_000;
const MODULE_COPIES: usize = 20;

#[derive(Default)]
struct MapStub {
    args: Vec<Vec<u8>>,
    state: BTreeMap<String, Vec<u8>>,
    transient: BTreeMap<String, Vec<u8>>,
}

impl ChaincodeStub for MapStub {
    fn channel_id(&self) -> &str {
        "bench"
    }
    fn tx_id(&self) -> &str {
        "tx"
    }
    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }
    fn creator(&self) -> &[u8] {
        b""
    }
    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.transient
    }
    fn signed_proposal(&self) -> &[u8] {
        b""
    }
    fn tx_timestamp(&self) -> (i64, i32) {
        (0, 0)
    }
    fn binding(&self) -> &[u8] {
        b""
    }
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        Ok(self.state.get(key).cloned())
    }
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), StubError> {
        self.state.insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        self.state.remove(key);
        Ok(())
    }
    fn get_state_metadata(&mut self, _: &str) -> Result<StateMetadata, StubError> {
        Ok(StateMetadata::new())
    }
    fn set_state_metadata(&mut self, _: &str, _: &str, _: &[u8]) -> Result<(), StubError> {
        Ok(())
    }
    fn get_state_by_range(
        &mut self,
        _: &str,
        _: &str,
        _: u32,
        _: &str,
    ) -> Result<RangePage, StubError> {
        Ok(RangePage::default())
    }
    fn get_history_for_key(&mut self, _: &str) -> Result<Vec<KeyModification>, StubError> {
        Ok(Vec::new())
    }
    fn get_private_data(&mut self, _: &str, _: &str) -> Result<Option<Vec<u8>>, StubError> {
        Ok(None)
    }
    fn get_private_data_hash(&mut self, _: &str, _: &str) -> Result<Option<Vec<u8>>, StubError> {
        Ok(None)
    }
    fn put_private_data(&mut self, _: &str, _: &str, _: &[u8]) -> Result<(), StubError> {
        Ok(())
    }
    fn del_private_data(&mut self, _: &str, _: &str) -> Result<(), StubError> {
        Ok(())
    }
    fn get_private_data_by_range(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Vec<KeyValue>, StubError> {
        Ok(Vec::new())
    }
    fn get_private_data_metadata(&mut self, _: &str, _: &str) -> Result<StateMetadata, StubError> {
        Ok(StateMetadata::new())
    }
    fn set_private_data_metadata(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
        _: &[u8],
    ) -> Result<(), StubError> {
        Ok(())
    }
    fn set_event(&mut self, _: &str, _: &[u8]) -> Result<(), StubError> {
        Ok(())
    }
    fn invoke_chaincode(&mut self, _: &str, _: &[Vec<u8>], _: &str) -> Result<Response, StubError> {
        Ok(Response::success(Vec::new()))
    }
}

/// Reads "key" (a 64-byte value) `reads` times, copying each value into guest memory.
fn reader_guest(reads: u32) -> String {
    format!(
        r#"(module
          (import "weft" "get_state" (func $get_state (param i32 i32) (result i64)))
          (import "weft" "take_result" (func $take_result (param i32 i32) (result i32)))
          (import "weft" "set_response" (func $set_response (param i32 i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "key")
          (func (export "weft_abi_version") (result i32) (i32.const 1))
          (func (export "weft_invoke") (result i32) (local $i i32)
            (block $done (loop $next
              (br_if $done (i32.ge_u (local.get $i) (i32.const {reads})))
              (drop (call $take_result (i32.const 64) (i32.wrap_i64 (call $get_state (i32.const 0) (i32.const 3)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $next)))
            (drop (call $set_response (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
            (i32.const 0)))"#
    )
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn build_contracts() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = root.join("target/chaincode");
    let status = Command::new(root.join("scripts/build-chaincode"))
        .env("WEFT_CHAINCODE_OUT", &out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/build-chaincode");
    assert!(status.success(), "scripts/build-chaincode failed");
    out
}

fn main() {
    let engine = Engine::new(Limits::default()).unwrap();
    let mut stub = MapStub {
        args: vec![b"f".to_vec()],
        ..Default::default()
    };
    stub.state.insert("key".into(), vec![7u8; 64]);

    // Host state read: an invocation doing READS reads, minus one doing none.
    let reader = engine
        .load("reader", reader_guest(READS).as_bytes())
        .unwrap();
    let empty = engine.load("empty", reader_guest(0).as_bytes()).unwrap();
    assert_eq!(reader.invoke(&mut stub).status, 200);
    let rounds = 5;
    let start = Instant::now();
    for _ in 0..rounds {
        assert_eq!(reader.invoke(&mut stub).status, 200);
    }
    let with_reads = start.elapsed();
    let start = Instant::now();
    for _ in 0..rounds {
        assert_eq!(empty.invoke(&mut stub).status, 200);
    }
    let without = start.elapsed();
    let per_read =
        (with_reads.saturating_sub(without)).as_nanos() as f64 / f64::from(READS * rounds);
    println!(
        "host state read from WASM (get_state + take_result, 64-byte value): {per_read:.0} ns/call"
    );
    // Machine-readable twins of the figures (`figure` lines), parsed by scripts/bench.
    println!("figure\thost state read from WASM (64-byte value)\t{per_read:.0}\tns/call");
    let empty_us = without.as_nanos() as f64 / 1000.0 / f64::from(rounds);
    println!("empty invocation (instantiate from pool, run, drop): {empty_us:.1} µs");
    println!("figure\tempty WASM invocation\t{empty_us:.1}\tµs");

    // CRUD create, end to end through the engine (state in a BTreeMap).
    let dir = build_contracts();
    let id = std::fs::read_to_string(dir.join("crud.package-id")).unwrap();
    let package = std::fs::read(dir.join("crud.tar.gz")).unwrap();
    let crud = engine.load_package(id.trim(), &package).unwrap();
    let mut crud_stub = MapStub::default();
    let start = Instant::now();
    for i in 0..CREATES {
        crud_stub.args = vec![
            b"Create".to_vec(),
            format!("record{i:06}").into_bytes(),
            format!(r#"{{"owner":"org1","amount":{i},"tags":["a","b"]}}"#).into_bytes(),
        ];
        let r = crud.invoke(&mut crud_stub);
        assert_eq!(r.status, 200, "{}", r.message);
    }
    let create_us = start.elapsed().as_nanos() as f64 / 1000.0 / CREATES as f64;
    println!("CRUD Create invoke: {create_us:.1} µs");
    println!("figure\tCRUD Create invoke (WASM)\t{create_us:.1}\tµs");
    let start = Instant::now();
    for i in 0..CREATES {
        crud_stub.args = vec![b"Read".to_vec(), format!("record{i:06}").into_bytes()];
        assert_eq!(crud.invoke(&mut crud_stub).status, 200);
    }
    let read_us = start.elapsed().as_nanos() as f64 / 1000.0 / CREATES as f64;
    println!("CRUD Read invoke: {read_us:.1} µs");
    println!("figure\tCRUD Read invoke (WASM)\t{read_us:.1}\tµs");

    // Memory: compiled code per module, linear memory per running instance, and the resident
    // growth of loading more copies of the module (what each extra package costs the peer).
    println!(
        "crud module: {} KiB compiled code; each running instance starts with {} KiB linear memory",
        crud.compiled_bytes() / 1024,
        crud.initial_memory_bytes() / 1024
    );
    let wasm = weft_chaincode_runtime::package::parse(&package, 16 << 20)
        .unwrap()
        .wasm;
    let before = rss_bytes();
    let start = Instant::now();
    for copy in 0..MODULE_COPIES {
        engine.load(&format!("crud-copy-{copy}"), &wasm).unwrap();
    }
    let compile = start.elapsed() / MODULE_COPIES as u32;
    let per_module = rss_bytes().saturating_sub(before) / MODULE_COPIES;
    println!(
        "loaded crud module: {} KiB resident each (over {MODULE_COPIES} copies), {:.1} ms to compile",
        per_module / 1024,
        compile.as_secs_f64() * 1000.0
    );
    println!(
        "figure\tloaded crud module, resident\t{}\tKiB",
        per_module / 1024
    );
    println!("a loaded module is shared by every channel; per-channel cost is only the Arc handle");
}

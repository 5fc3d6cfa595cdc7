//! Hand-written guests that misbehave. Each must fail its own invocation (or its load) with an
//! error saying what happened, and the engine must keep serving the next invocation.

use std::sync::{Arc, Mutex};

use weft_chaincode_api::{Chaincode, Response};
use weft_chaincode_runtime::{Engine, Limits, RuntimeError};

use crate::fake_stub::FakeStub;

const IMPORTS: &str = r#"
  (import "weft" "set_response" (func $set_response (param i32 i32 i32 i32 i32) (result i32)))
  (import "weft" "get_state" (func $get_state (param i32 i32) (result i64)))
  (import "weft" "put_state" (func $put_state (param i32 i32 i32 i32) (result i64)))
  (import "weft" "take_result" (func $take_result (param i32 i32) (result i32)))
  (import "weft" "abort" (func $abort (param i32 i32)))
  (import "weft" "invoke_chaincode" (func $invoke_chaincode (param i32 i32 i32 i32 i32 i32) (result i64)))
"#;

/// A guest whose memory holds "key" at 0, an empty encoded argument list at 16, "boom" at 24
/// and invalid UTF-8 at 32.
fn guest(abi_version: i32, invoke_body: &str) -> String {
    format!(
        r#"(module {IMPORTS}
          (memory (export "memory") 1)
          (data (i32.const 0) "key")
          (data (i32.const 16) "\00\00\00\00")
          (data (i32.const 24) "boom")
          (data (i32.const 32) "\ff\fe")
          (func $recurse (result i32) (call $recurse))
          (func (export "weft_abi_version") (result i32) (i32.const {abi_version}))
          (func (export "weft_invoke") (result i32) {invoke_body}))"#
    )
}

/// Answers status 200 with payload "key".
const GOOD: &str = "(drop (call $set_response (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 3))) (i32.const 0)";

fn small_engine() -> Engine {
    Engine::new(Limits {
        fuel_per_invocation: 5_000_000,
        max_memory_bytes: 4 << 20,
        max_input_bytes: 1 << 20,
        max_concurrent_instances: 16,
        ..Limits::default()
    })
    .unwrap()
}

fn run(engine: &Engine, id: &str, body: &str) -> Response {
    let cc = engine.load(id, guest(1, body).as_bytes()).unwrap();
    cc.invoke(&mut FakeStub::with_args(&["f"]))
}

fn assert_fails_with(engine: &Engine, id: &str, body: &str, expected: &str) {
    let r = run(engine, id, body);
    assert_eq!(r.status, 500, "{id}: {r:?}");
    assert!(
        r.message.starts_with(&format!("chaincode {id}: ")) && r.message.contains(expected),
        "{id}: message {:?} does not say {expected:?}",
        r.message
    );
    // The engine keeps working, for this module and others.
    let good = run(engine, "good", GOOD);
    assert_eq!((good.status, good.payload.as_slice()), (200, &b"key"[..]));
}

#[test]
fn a_well_behaved_guest_answers() {
    let engine = small_engine();
    let r = run(&engine, "good", GOOD);
    assert_eq!(r, Response::success(b"key".to_vec()));
}

#[test]
fn guest_that_loops_forever_runs_out_of_fuel() {
    assert_fails_with(
        &small_engine(),
        "loop",
        "(loop $l (br $l)) (i32.const 0)",
        "ran out of fuel",
    );
}

#[test]
fn guest_spinning_on_host_calls_runs_out_of_fuel() {
    assert_fails_with(
        &small_engine(),
        "spin",
        "(loop $l (drop (call $get_state (i32.const 0) (i32.const 3))) (br $l)) (i32.const 0)",
        "ran out of fuel",
    );
}

#[test]
fn guest_that_allocates_without_bound_hits_the_memory_limit() {
    assert_fails_with(
        &small_engine(),
        "grow",
        "(loop $l (drop (memory.grow (i32.const 16))) (br $l)) (i32.const 0)",
        "more than the limit of 4194304 bytes (max_memory_bytes)",
    );
}

#[test]
fn guest_that_traps_fails_its_invocation() {
    assert_fails_with(&small_engine(), "trap", "unreachable", "unreachable");
    assert_fails_with(
        &small_engine(),
        "oob",
        "(i32.load (i32.const 0x7ffffff0))",
        "out of bounds",
    );
    assert_fails_with(
        &small_engine(),
        "stack",
        "(call $recurse)",
        "overflowed its stack",
    );
    assert_fails_with(
        &small_engine(),
        "abort",
        "(call $abort (i32.const 24) (i32.const 4)) (i32.const 0)",
        "chaincode aborted: boom",
    );
}

#[test]
fn guest_passing_bad_pointers_is_stopped() {
    let engine = small_engine();
    assert_fails_with(
        &engine,
        "badptr",
        "(drop (call $get_state (i32.const 0xfffffff0) (i32.const 100))) (i32.const 0)",
        "out-of-bounds buffer (offset 4294967280, length 100) to weft.get_state",
    );
    assert_fails_with(
        &engine,
        "badlen",
        "(drop (call $put_state (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0x7fffffff))) (i32.const 0)",
        "more than the limit of 1048576 bytes",
    );
    assert_fails_with(
        &engine,
        "badtake",
        "(drop (call $get_state (i32.const 0) (i32.const 3))) (drop (call $take_result (i32.const 0) (i32.const 999))) (i32.const 0)",
        "asked weft.take_result for 999 bytes but 0 are pending",
    );
    assert_fails_with(
        &engine,
        "badresp",
        "(drop (call $set_response (i32.const 200) (i32.const 0xffff0000) (i32.const 8) (i32.const 0) (i32.const 0))) (i32.const 0)",
        "out-of-bounds buffer",
    );
}

#[test]
fn malformed_guest_output_is_an_error() {
    let engine = small_engine();
    assert_fails_with(
        &engine,
        "utf8",
        "(drop (call $set_response (i32.const 200) (i32.const 32) (i32.const 2) (i32.const 0) (i32.const 0))) (i32.const 0)",
        "response message is not valid UTF-8",
    );
    assert_fails_with(
        &engine,
        "status",
        "(drop (call $set_response (i32.const 42) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))) (i32.const 0)",
        "status 42, which is not a response status",
    );
    assert_fails_with(
        &engine,
        "silent",
        "(i32.const 0)",
        "without setting a response",
    );
    assert_fails_with(
        &engine,
        "twice",
        &format!("{GOOD} drop {GOOD}"),
        "set_response more than once",
    );
    assert_fails_with(
        &engine,
        "retcode",
        "(drop (call $set_response (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))) (i32.const 7)",
        "returned 7 instead of 0",
    );
}

#[test]
fn modules_that_break_the_abi_are_refused_at_load() {
    let engine = small_engine();
    let err = engine.load("v2", guest(2, GOOD).as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::AbiVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("host ABI version 2"), "{err}");

    let wasi = r#"(module (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "weft_abi_version") (result i32) (i32.const 1))
        (func (export "weft_invoke") (result i32) (i32.const 0)))"#;
    let err = engine.load("wasi", wasi.as_bytes()).unwrap_err();
    assert!(matches!(err, RuntimeError::UnknownImport { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("wasi_snapshot_preview1::clock_time_get"),
        "{err}"
    );

    let no_entry = r#"(module (memory (export "memory") 1)
        (func (export "weft_abi_version") (result i32) (i32.const 1)))"#;
    let err = engine.load("noentry", no_entry.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("must export weft_invoke"), "{err}");

    let host_call_at_load = r#"(module
        (import "weft" "get_state" (func $get_state (param i32 i32) (result i64)))
        (memory (export "memory") 1)
        (func (export "weft_abi_version") (result i32)
          (drop (call $get_state (i32.const 0) (i32.const 1))) (i32.const 1))
        (func (export "weft_invoke") (result i32) (i32.const 0)))"#;
    let err = engine
        .load("atload", host_call_at_load.as_bytes())
        .unwrap_err();
    assert!(err.to_string().contains("outside an invocation"), "{err}");

    let err = engine.load("junk", b"\0asm\x01\0\0\0garbage").unwrap_err();
    assert!(matches!(err, RuntimeError::Compile { .. }), "{err}");
    assert_eq!(engine.loaded_count(), 0);
    assert_eq!(run(&engine, "good", GOOD).status, 200);
}

#[test]
fn chaincode_to_chaincode_nesting_is_bounded() {
    let engine = small_engine();
    // Calls invoke_chaincode("key", [], "") and answers 200 whatever the callee said.
    let body = format!(
        "(drop (call $invoke_chaincode (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 4) (i32.const 0) (i32.const 0))) {GOOD}"
    );
    let cc: Arc<dyn Chaincode> = engine
        .load("recursive", guest(1, &body).as_bytes())
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut stub = FakeStub::with_args(&["f"]);
    stub.callee = Some(cc.clone());
    stub.callee_responses = log.clone();
    assert_eq!(cc.invoke(&mut stub).status, 200);
    let log = log.lock().unwrap();
    let max = engine.limits().max_nesting as usize;
    // Levels 2..=max ran and succeeded; the call that would be level max+1 was refused.
    assert_eq!(log.len(), max, "{log:?}");
    assert!(
        log[0]
            .message
            .contains(&format!("nest deeper than {max} levels")),
        "{:?}",
        log[0]
    );
    assert!(log[1..].iter().all(|r| r.status == 200));
    // The depth counter unwound: a fresh call nests again the same way.
    drop(log);
    assert_eq!(cc.invoke(&mut stub).status, 200);
}

#[test]
fn invocations_beyond_the_instance_pool_fail_instead_of_waiting() {
    let engine = Engine::new(Limits {
        max_concurrent_instances: 2,
        max_nesting: 8,
        ..Limits::default()
    })
    .unwrap();
    let body = format!(
        "(drop (call $invoke_chaincode (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 4) (i32.const 0) (i32.const 0))) {GOOD}"
    );
    let cc: Arc<dyn Chaincode> = engine
        .load("recursive", guest(1, &body).as_bytes())
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut stub = FakeStub::with_args(&["f"]);
    stub.callee = Some(cc.clone());
    stub.callee_responses = log.clone();
    assert_eq!(cc.invoke(&mut stub).status, 200);
    let log = log.lock().unwrap();
    // Two instances are live (outer and first nested); the third cannot get a slot.
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log[0].message.contains("cannot start an instance"),
        "{:?}",
        log[0]
    );
}

// Endorsement must not depend on which transactions an instance ran before: every invocation
// starts from the module's initial memory, even when its pool slot is reused.
#[test]
fn guest_memory_does_not_survive_between_invocations() {
    let engine = small_engine();
    let body = "(i32.store8 (i32.const 100) (i32.add (i32.load8_u (i32.const 100)) (i32.const 1))) \
                (drop (call $set_response (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 100) (i32.const 1))) \
                (i32.const 0)";
    let cc = engine.load("counter", guest(1, body).as_bytes()).unwrap();
    for _ in 0..3 {
        let r = cc.invoke(&mut FakeStub::with_args(&["f"]));
        assert_eq!((r.status, r.payload), (200, vec![1]));
    }
}

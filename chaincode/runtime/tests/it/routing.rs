//! Each host function reaches the matching ChaincodeStub method and its result comes back in
//! the documented encoding (docs/chaincode-abi.md). The guest echoes what one call returned:
//! status 200 with the result as payload, or 400 + |code| with the error message.

use weft_chaincode_api::{Chaincode, Response};
use weft_chaincode_runtime::{Engine, Limits};

use crate::fake_stub::FakeStub;

const IMPORTS: &str = r#"
  (import "weft" "set_response" (func $set_response (param i32 i32 i32 i32 i32) (result i32)))
  (import "weft" "take_result" (func $take_result (param i32 i32) (result i32)))
  (import "weft" "args" (func $args (result i64)))
  (import "weft" "tx_id" (func $tx_id (result i64)))
  (import "weft" "channel_id" (func $channel_id (result i64)))
  (import "weft" "creator" (func $creator (result i64)))
  (import "weft" "transient" (func $transient (result i64)))
  (import "weft" "tx_timestamp" (func $tx_timestamp (result i64)))
  (import "weft" "get_state" (func $get_state (param i32 i32) (result i64)))
  (import "weft" "put_state" (func $put_state (param i32 i32 i32 i32) (result i64)))
  (import "weft" "get_state_metadata" (func $get_state_metadata (param i32 i32) (result i64)))
  (import "weft" "set_state_metadata" (func $set_state_metadata (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "weft" "get_state_by_range" (func $get_state_by_range (param i32 i32 i32 i32 i32 i32 i32) (result i64)))
  (import "weft" "set_event" (func $set_event (param i32 i32 i32 i32) (result i64)))
  (import "weft" "put_private_data" (func $put_private_data (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "weft" "get_private_data_hash" (func $get_private_data_hash (param i32 i32 i32 i32) (result i64)))
  (import "weft" "get_private_data_metadata" (func $get_private_data_metadata (param i32 i32 i32 i32) (result i64)))
"#;

/// Memory: "key" at 0, "coll" at 8, "value" at 16, invalid UTF-8 at 24, "evt" at 32, "name" at 40.
fn echo_guest(setup: &str, call: &str) -> String {
    format!(
        r#"(module {IMPORTS}
          (memory (export "memory") 1)
          (data (i32.const 0) "key")
          (data (i32.const 8) "coll")
          (data (i32.const 16) "value")
          (data (i32.const 24) "\ff")
          (data (i32.const 32) "evt")
          (data (i32.const 40) "name")
          (func (export "weft_abi_version") (result i32) (i32.const 1))
          (func (export "weft_invoke") (result i32) (local $n i64) (local $m i32)
            {setup}
            (local.set $n {call})
            (if (i64.lt_s (local.get $n) (i64.const 0))
              (then
                (local.set $m (call $take_result (i32.const 0) (i32.const 0)))
                (if (i32.gt_s (local.get $m) (i32.const 0))
                  (then (drop (call $take_result (i32.const 256) (local.get $m)))))
                (drop (call $set_response
                  (i32.add (i32.const 400) (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $n))))
                  (i32.const 256) (local.get $m) (i32.const 0) (i32.const 0)))
                (return (i32.const 0))))
            (if (i64.gt_s (local.get $n) (i64.const 0))
              (then (drop (call $take_result (i32.const 256) (i32.wrap_i64 (local.get $n))))))
            (drop (call $set_response (i32.const 200) (i32.const 0) (i32.const 0)
              (i32.const 256) (i32.wrap_i64 (local.get $n))))
            (i32.const 0)))"#
    )
}

fn echo_with(engine: &Engine, stub: &mut FakeStub, setup: &str, call: &str) -> Response {
    let wat = echo_guest(setup, call);
    let id = format!("echo-{}", engine.loaded_count());
    engine.load(&id, wat.as_bytes()).unwrap().invoke(stub)
}

fn echo(stub: &mut FakeStub, setup: &str, call: &str) -> Response {
    echo_with(&Engine::new(Limits::default()).unwrap(), stub, setup, call)
}

fn ok(r: Response) -> Vec<u8> {
    assert_eq!(r.status, 200, "{r:?}");
    r.payload
}

fn le32(n: u32) -> [u8; 4] {
    n.to_le_bytes()
}

#[test]
fn context_calls_return_the_invocation_context() {
    let mut stub = FakeStub::with_args(&["f", "xy"]);
    stub.transient.insert("k".into(), b"v".to_vec());
    assert_eq!(
        ok(echo(&mut stub, "", "(call $tx_id)")),
        stub.tx_id.as_bytes()
    );
    assert_eq!(ok(echo(&mut stub, "", "(call $channel_id)")), b"mychannel");
    assert_eq!(ok(echo(&mut stub, "", "(call $creator)")), b"creator-bytes");
    let args = [&le32(2)[..], &le32(1), b"f", &le32(2), b"xy"].concat();
    assert_eq!(ok(echo(&mut stub, "", "(call $args)")), args);
    let transient = [&le32(1)[..], &le32(1), b"k", &le32(1), b"v"].concat();
    assert_eq!(ok(echo(&mut stub, "", "(call $transient)")), transient);
    let timestamp = [&1_700_000_000i64.to_le_bytes()[..], &5i32.to_le_bytes()].concat();
    assert_eq!(ok(echo(&mut stub, "", "(call $tx_timestamp)")), timestamp);
}

#[test]
fn state_calls_reach_the_stub_and_report_absence_and_errors() {
    let mut stub = FakeStub::with_args(&["f"]);
    // Absent is code -1.
    assert_eq!(
        echo(
            &mut stub,
            "",
            "(call $get_state (i32.const 0) (i32.const 3))"
        )
        .status,
        401
    );
    let put = "(drop (call $put_state (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5)))";
    assert_eq!(
        ok(echo(
            &mut stub,
            put,
            "(call $get_state (i32.const 0) (i32.const 3))"
        )),
        b"value"
    );
    assert_eq!(stub.state["key"], b"value");
    // A key that is not UTF-8 is an invalid argument (-2), not a trap.
    let r = echo(
        &mut stub,
        "",
        "(call $get_state (i32.const 24) (i32.const 1))",
    );
    assert_eq!(
        (r.status, r.message.as_str()),
        (402, "key is not valid UTF-8")
    );
    // The stub's own validation error comes back the same way.
    let r = echo(
        &mut stub,
        "",
        "(call $put_state (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 5))",
    );
    assert_eq!(
        (r.status, r.message.as_str()),
        (402, "key must not be empty")
    );

    let set_meta = "(drop (call $set_state_metadata (i32.const 0) (i32.const 3) (i32.const 40) (i32.const 4) (i32.const 16) (i32.const 5)))";
    let meta = ok(echo(
        &mut stub,
        set_meta,
        "(call $get_state_metadata (i32.const 0) (i32.const 3))",
    ));
    assert_eq!(
        meta,
        [&le32(1)[..], &le32(4), b"name", &le32(5), b"value"].concat()
    );

    // Range "" .. "" with page size 1: fetched 1, bookmark empty (only one key), one record.
    let page = ok(echo(
        &mut stub,
        "",
        "(call $get_state_by_range (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))",
    ));
    let expected = [
        &le32(1)[..],
        &le32(0),
        &le32(1),
        &le32(3),
        b"key",
        &le32(5),
        b"value",
    ]
    .concat();
    assert_eq!(page, expected);
}

#[test]
fn events_and_private_data_reach_the_stub() {
    let mut stub = FakeStub::with_args(&["f"]);
    assert_eq!(
        ok(echo(
            &mut stub,
            "",
            "(call $set_event (i32.const 32) (i32.const 3) (i32.const 16) (i32.const 5))"
        )),
        b""
    );
    assert_eq!(stub.event, Some(("evt".to_owned(), b"value".to_vec())));

    let put = "(drop (call $put_private_data (i32.const 8) (i32.const 4) (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5)))";
    let hash = ok(echo(
        &mut stub,
        put,
        "(call $get_private_data_hash (i32.const 8) (i32.const 4) (i32.const 0) (i32.const 3))",
    ));
    assert_eq!(
        stub.private[&("coll".to_owned(), "key".to_owned())],
        b"value"
    );
    assert_eq!(hash, b"eulav", "the fake's stand-in hash");

    // Unsupported is code -3 with the stub's message.
    let r = echo(
        &mut stub,
        "",
        "(call $get_private_data_metadata (i32.const 8) (i32.const 4) (i32.const 0) (i32.const 3))",
    );
    assert_eq!(
        (r.status, r.message.as_str()),
        (403, "private metadata in the fake")
    );
}

#[test]
fn results_larger_than_the_limit_are_refused_with_limit_exceeded() {
    let engine = Engine::new(Limits {
        max_result_bytes: 16,
        ..Limits::default()
    })
    .unwrap();
    let mut stub = FakeStub::with_args(&["f"]);
    stub.state.insert("key".into(), vec![b'x'; 100]);
    let r = echo_with(
        &engine,
        &mut stub,
        "",
        "(call $get_state (i32.const 0) (i32.const 3))",
    );
    assert_eq!(r.status, 405, "{r:?}");
    assert_eq!(
        r.message,
        "the result of weft.get_state is 100 bytes, more than the limit of 16 bytes"
    );
}

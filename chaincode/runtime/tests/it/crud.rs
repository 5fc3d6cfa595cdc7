//! The generic CRUD contract run through the engine against the in-memory stub.

use weft_chaincode_api::{Chaincode, Response};

use crate::contracts::{engine, load};
use crate::fake_stub::FakeStub;

fn call(cc: &dyn Chaincode, stub: &mut FakeStub, args: &[&str]) -> Response {
    stub.set_args(args);
    cc.invoke(stub)
}

fn ok(cc: &dyn Chaincode, stub: &mut FakeStub, args: &[&str]) -> String {
    let r = call(cc, stub, args);
    assert_eq!(r.status, 200, "{args:?} failed: {}", r.message);
    String::from_utf8(r.payload).unwrap()
}

fn err(cc: &dyn Chaincode, stub: &mut FakeStub, args: &[&str]) -> String {
    let r = call(cc, stub, args);
    assert_eq!(r.status, 500, "{args:?} should fail, got {r:?}");
    r.message
}

#[test]
fn crud_create_read_update_delete_exists() {
    let engine = engine();
    let cc = load(&engine, "crud");
    let mut stub = FakeStub::default();
    let cc = &*cc;

    assert_eq!(ok(cc, &mut stub, &["Exists", "car1"]), "false");
    assert_eq!(
        ok(
            cc,
            &mut stub,
            &["Create", "car1", r#"{"make":"VW","year":2020}"#]
        ),
        ""
    );
    assert_eq!(stub.state["car1"], br#"{"make":"VW","year":2020}"#);
    assert_eq!(ok(cc, &mut stub, &["Exists", "car1"]), "true");
    assert_eq!(
        ok(cc, &mut stub, &["Read", "car1"]),
        r#"{"make":"VW","year":2020}"#
    );
    assert_eq!(
        err(cc, &mut stub, &["Create", "car1", "{}"]),
        "the record car1 already exists"
    );
    ok(
        cc,
        &mut stub,
        &["Update", "car1", r#"{"make":"VW","year":2021}"#],
    );
    assert_eq!(
        ok(cc, &mut stub, &["Read", "car1"]),
        r#"{"make":"VW","year":2021}"#
    );
    ok(cc, &mut stub, &["Delete", "car1"]);
    assert!(!stub.state.contains_key("car1"));
    for f in ["Read", "Delete"] {
        assert_eq!(
            err(cc, &mut stub, &[f, "car1"]),
            "the record car1 does not exist"
        );
    }
    assert_eq!(
        err(cc, &mut stub, &["Update", "car1", "{}"]),
        "the record car1 does not exist"
    );
}

#[test]
fn crud_rejects_bad_input_with_clear_errors() {
    let engine = engine();
    let cc = load(&engine, "crud");
    let cc = &*cc;
    let mut stub = FakeStub::default();
    let m = err(cc, &mut stub, &["Create", "k", "{not json"]);
    assert!(
        m.starts_with("the value of record k is not valid JSON"),
        "{m}"
    );
    assert!(stub.state.is_empty());
    assert_eq!(
        err(cc, &mut stub, &["Read", ""]),
        "the record key must not be empty"
    );
    assert!(err(cc, &mut stub, &["Frobnicate"]).starts_with("unknown function Frobnicate"));
    assert_eq!(
        err(cc, &mut stub, &["Read"]),
        "Read takes 1 arguments, got 0"
    );
    assert!(err(cc, &mut stub, &["List", "", "", "0", ""]).starts_with("pageSize must be"));
}

#[test]
fn crud_lists_ranges_and_prefixes_page_by_page() {
    let engine = engine();
    let cc = load(&engine, "crud");
    let cc = &*cc;
    let mut stub = FakeStub::default();
    for key in ["a1", "a2", "a3", "b1", "b2"] {
        ok(
            cc,
            &mut stub,
            &["Create", key, &format!("{{\"k\":\"{key}\"}}")],
        );
    }
    let page1 = ok(cc, &mut stub, &["List", "", "", "2", ""]);
    assert_eq!(
        page1,
        r#"{"records":[{"key":"a1","value":{"k":"a1"}},{"key":"a2","value":{"k":"a2"}}],"fetchedRecordsCount":2,"bookmark":"a3"}"#
    );
    let page2 = ok(cc, &mut stub, &["List", "", "", "2", "a3"]);
    assert!(
        page2.contains(r#""key":"a3""#) && page2.contains(r#""key":"b1""#),
        "{page2}"
    );
    assert!(page2.ends_with(r#""bookmark":"b2"}"#), "{page2}");
    let page3 = ok(cc, &mut stub, &["List", "", "", "2", "b2"]);
    assert!(
        page3.ends_with(r#""fetchedRecordsCount":1,"bookmark":""}"#),
        "{page3}"
    );

    let bounded = ok(cc, &mut stub, &["List", "a2", "b1", "10", ""]);
    assert_eq!(bounded.matches("\"key\"").count(), 2, "{bounded}");

    let prefixed = ok(cc, &mut stub, &["ListByPrefix", "b", "10", ""]);
    assert_eq!(
        prefixed,
        r#"{"records":[{"key":"b1","value":{"k":"b1"}},{"key":"b2","value":{"k":"b2"}}],"fetchedRecordsCount":2,"bookmark":""}"#
    );
}

#[test]
fn crud_history_lists_every_change_of_a_key() {
    let engine = engine();
    let cc = load(&engine, "crud");
    let cc = &*cc;
    let mut stub = FakeStub::default();
    ok(cc, &mut stub, &["Create", "k", "1"]);
    ok(cc, &mut stub, &["Update", "k", "2"]);
    ok(cc, &mut stub, &["Delete", "k"]);
    let history = ok(cc, &mut stub, &["History", "k"]);
    let txs: Vec<&str> = stub.history["k"].iter().map(|m| m.tx_id.as_str()).collect();
    assert_eq!(
        history,
        format!(
            "[{{\"txId\":\"{}\",\"timestamp\":{{\"seconds\":1700000000,\"nanos\":7}},\"isDelete\":false,\"value\":1}},\
             {{\"txId\":\"{}\",\"timestamp\":{{\"seconds\":1700000001,\"nanos\":7}},\"isDelete\":false,\"value\":2}},\
             {{\"txId\":\"{}\",\"timestamp\":{{\"seconds\":1700000002,\"nanos\":7}},\"isDelete\":true,\"value\":null}}]",
            txs[0], txs[1], txs[2]
        )
    );
    assert_eq!(ok(cc, &mut stub, &["History", "never"]), "[]");
}

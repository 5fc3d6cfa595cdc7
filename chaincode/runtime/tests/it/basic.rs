//! Fabric's asset-transfer-basic contract (fabric-samples asset-transfer-basic/chaincode-go)
//! as WASM: results and error messages as the Go contract gives them.

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
    assert!(r.payload.is_empty());
    r.message
}

const ASSET1: &str =
    r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#;

// Go: InitLedger writes six assets marshalled with json.Marshal (fields in struct order);
// GetAllAssets returns them in key order as a JSON array.
#[test]
fn basic_init_ledger_and_get_all_assets() {
    let engine = engine();
    let cc = load(&engine, "basic");
    let cc = &*cc;
    let mut stub = FakeStub::default();
    // No assets: the Go contract API serializes the nil slice as an empty payload.
    assert_eq!(ok(cc, &mut stub, &["GetAllAssets"]), "");
    assert_eq!(ok(cc, &mut stub, &["InitLedger"]), "");
    assert_eq!(stub.state.len(), 6);
    assert_eq!(stub.state["asset1"], ASSET1.as_bytes());
    let all = ok(cc, &mut stub, &["GetAllAssets"]);
    assert!(all.starts_with(&format!("[{ASSET1},")), "{all}");
    assert!(
        all.ends_with(
            r#"{"AppraisedValue":800,"Color":"white","ID":"asset6","Owner":"Michel","Size":15}]"#
        ),
        "{all}"
    );
    assert_eq!(all.matches("\"ID\"").count(), 6);
}

#[test]
fn basic_asset_lifecycle_matches_go_contract() {
    let engine = engine();
    let cc = load(&engine, "basic");
    let cc = &*cc;
    let mut stub = FakeStub::default();
    ok(cc, &mut stub, &["InitLedger"]);

    assert_eq!(ok(cc, &mut stub, &["ReadAsset", "asset1"]), ASSET1);
    assert_eq!(ok(cc, &mut stub, &["AssetExists", "asset1"]), "true");
    assert_eq!(ok(cc, &mut stub, &["AssetExists", "asset9"]), "false");
    assert_eq!(
        err(cc, &mut stub, &["ReadAsset", "asset9"]),
        "the asset asset9 does not exist"
    );
    assert_eq!(
        err(
            cc,
            &mut stub,
            &["CreateAsset", "asset1", "red", "1", "Bob", "10"]
        ),
        "the asset asset1 already exists"
    );
    ok(
        cc,
        &mut stub,
        &["CreateAsset", "asset7", "purple", "20", "Ann", "900"],
    );
    assert_eq!(
        ok(cc, &mut stub, &["ReadAsset", "asset7"]),
        r#"{"AppraisedValue":900,"Color":"purple","ID":"asset7","Owner":"Ann","Size":20}"#
    );
    // TransferAsset returns the previous owner.
    assert_eq!(
        ok(cc, &mut stub, &["TransferAsset", "asset7", "Zoe"]),
        "Ann"
    );
    assert!(ok(cc, &mut stub, &["ReadAsset", "asset7"]).contains(r#""Owner":"Zoe""#));
    assert_eq!(
        err(cc, &mut stub, &["TransferAsset", "asset9", "Zoe"]),
        "the asset asset9 does not exist"
    );
    ok(
        cc,
        &mut stub,
        &["UpdateAsset", "asset7", "gold", "1", "Zoe", "5"],
    );
    assert!(ok(cc, &mut stub, &["ReadAsset", "asset7"]).contains(r#""Color":"gold""#));
    assert_eq!(
        err(
            cc,
            &mut stub,
            &["UpdateAsset", "asset9", "gold", "1", "Zoe", "5"]
        ),
        "the asset asset9 does not exist"
    );
    ok(cc, &mut stub, &["DeleteAsset", "asset7"]);
    assert!(!stub.state.contains_key("asset7"));
    assert_eq!(
        err(cc, &mut stub, &["DeleteAsset", "asset7"]),
        "the asset asset7 does not exist"
    );
}

// fabric-contract-api-go dispatch: "Function X not found in contract SmartContract",
// "incorrect number of params. Expected N, received M", conversion errors for int params,
// an optional "SmartContract:" prefix and a lower-case first letter.
#[test]
fn basic_dispatch_errors_match_contract_api() {
    let engine = engine();
    let cc = load(&engine, "basic");
    let cc = &*cc;
    let mut stub = FakeStub::default();
    assert_eq!(
        err(cc, &mut stub, &["Nope"]),
        "Function Nope not found in contract SmartContract"
    );
    assert_eq!(
        err(cc, &mut stub, &["ReadAsset"]),
        "incorrect number of params. Expected 1, received 0"
    );
    assert_eq!(
        err(
            cc,
            &mut stub,
            &["CreateAsset", "a", "red", "big", "Bob", "1"]
        ),
        "error managing parameter param2. conversion error. cannot convert passed value big to int"
    );
    assert_eq!(
        err(cc, &mut stub, &["Other:ReadAsset", "a"]),
        "Contract not found with name Other"
    );
    ok(
        cc,
        &mut stub,
        &["SmartContract:createAsset", "a", "red", "3", "Bob", "1"],
    );
    assert_eq!(ok(cc, &mut stub, &["assetExists", "a"]), "true");
}

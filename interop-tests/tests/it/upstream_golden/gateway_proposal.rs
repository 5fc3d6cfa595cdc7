//! A proposal built by the unchanged Node client `@hyperledger/fabric-gateway` (1.x): every
//! serialized message in it must decode in our types and re-encode to the client's bytes, and the
//! decoded values must be the ones the client was asked to put there, including the Fabric
//! transaction id rule txid = hex(sha256(nonce || creator)) and a signature over the proposal
//! bytes that verifies with the signer's certificate.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use fabric_protos::gateway::ProposedTransaction;
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::peer::{
    ChaincodeHeaderExtension, ChaincodeInvocationSpec, ChaincodeProposalPayload, Proposal,
    SignedProposal, chaincode_spec,
};
use openssl::ecdsa::EcdsaSig;
use openssl::sha::sha256;
use openssl::x509::X509;
use serde_json::json;

use super::{Checked, golden_dir, repo_root, run};

const MSP_ID: &str = "Org1MSP";
const CHANNEL: &str = "weft-golden";
const CHAINCODE: &str = "basic";
const TRANSACTION: &str = "TransferAsset";
const ARGS: [&str; 3] = ["asset-7", "Tomoko", "ünïcode ✓"];
const ENDORSERS: [&str; 2] = ["Org1MSP", "Org2MSP"];
/// fabric-gateway draws a 24-byte nonce for every proposal.
const NONCE_LEN: usize = 24;

fn node_modules() -> PathBuf {
    let dir = std::env::var_os("WEFT_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("interop-tests/node/node_modules"));
    assert!(
        dir.join("@hyperledger/fabric-gateway/package.json")
            .is_file()
            && dir.join("@grpc/grpc-js/package.json").is_file(),
        "@hyperledger/fabric-gateway or @grpc/grpc-js is not installed in {}: run \
         interop-tests/upstream/install.sh (npm ci in interop-tests/node), or set WEFT_NODE_MODULES",
        dir.display()
    );
    dir
}

fn transient() -> BTreeMap<String, String> {
    [("price", "1200"), ("buyer-secret", "s3cr3t")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs the Node script as User1 of Org1 and returns the bytes it wrote and the signer's PEM cert.
fn node_proposal(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let crypto = super::cryptogen(dir);
    let msp = crypto.join("peerOrganizations/org1.weft.test/users/User1@org1.weft.test/msp");
    let cert_path = msp.join("signcerts/User1@org1.weft.test-cert.pem");
    let out = dir.join("proposal.bin");
    let request = json!({
        "mspId": MSP_ID,
        "certPath": cert_path,
        "keyPath": msp.join("keystore/priv_sk"),
        "channel": CHANNEL,
        "chaincode": CHAINCODE,
        "transaction": TRANSACTION,
        "args": ARGS,
        "transient": transient(),
        "endorsingOrganizations": ENDORSERS,
        "out": out,
    });
    if let Err(e) = Command::new("node").arg("--version").output() {
        panic!("cannot run `node` ({e}): this test needs Node.js 18+ on PATH");
    }
    let mut node = Command::new("node");
    node.env("NODE_PATH", node_modules())
        .arg(golden_dir().join("fabric-gateway-proposal.js"))
        .arg(request.to_string());
    run(&mut node);
    (
        std::fs::read(out).unwrap(),
        std::fs::read(cert_path).unwrap(),
    )
}

#[test]
fn golden_fabric_gateway_proposal_roundtrips_and_carries_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, cert_pem) = node_proposal(dir.path());
    let checked = Checked::default();

    let proposed: ProposedTransaction = checked.roundtrip(
        "gateway.ProposedTransaction",
        "proposed transaction",
        &bytes,
    );
    assert_eq!(proposed.endorsing_organizations, ENDORSERS);
    // The SignedProposal is a nested field, so its bytes were compared as part of the above.
    let signed: SignedProposal = proposed.proposal.clone().expect("a signed proposal");
    let proposal: Proposal =
        checked.roundtrip("protos.Proposal", "proposal_bytes", &signed.proposal_bytes);
    assert!(proposal.extension.is_empty());

    let header: Header = checked.roundtrip("common.Header", "proposal.header", &proposal.header);
    let channel_header: ChannelHeader = checked.roundtrip(
        "common.ChannelHeader",
        "header.channel_header",
        &header.channel_header,
    );
    let signature_header: SignatureHeader = checked.roundtrip(
        "common.SignatureHeader",
        "header.signature_header",
        &header.signature_header,
    );
    let creator: SerializedIdentity = checked.roundtrip(
        "msp.SerializedIdentity",
        "signature_header.creator",
        &signature_header.creator,
    );
    let extension: ChaincodeHeaderExtension = checked.roundtrip(
        "protos.ChaincodeHeaderExtension",
        "channel_header.extension",
        &channel_header.extension,
    );
    let payload: ChaincodeProposalPayload = checked.roundtrip(
        "protos.ChaincodeProposalPayload",
        "proposal.payload",
        &proposal.payload,
    );
    let invocation: ChaincodeInvocationSpec = checked.roundtrip(
        "protos.ChaincodeInvocationSpec",
        "payload.input",
        &payload.input,
    );

    // Who signed, and the txid rule (Fabric protoutil ComputeTxID).
    assert_eq!(creator.mspid, MSP_ID);
    assert_eq!(creator.id_bytes, cert_pem);
    assert_eq!(signature_header.nonce.len(), NONCE_LEN);
    let txid = hex::encode(sha256(
        &[
            signature_header.nonce.clone(),
            signature_header.creator.clone(),
        ]
        .concat(),
    ));
    assert_eq!(channel_header.tx_id, txid);
    assert_eq!(proposed.transaction_id, txid);

    // Where it goes.
    assert_eq!(
        channel_header.r#type,
        HeaderType::EndorserTransaction as i32
    );
    assert_eq!(channel_header.channel_id, CHANNEL);
    assert_eq!(channel_header.epoch, 0);
    let stamp = channel_header.timestamp.expect("proposal timestamp");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - stamp.seconds).abs() < 300,
        "timestamp {stamp:?} is not about now ({now})"
    );
    assert_eq!(
        extension.chaincode_id.expect("chaincode id").name,
        CHAINCODE
    );

    // What it invokes.
    let spec = invocation.chaincode_spec.expect("chaincode spec");
    assert_eq!(spec.r#type, chaincode_spec::Type::Node as i32);
    assert_eq!(spec.chaincode_id.expect("chaincode id").name, CHAINCODE);
    let args: Vec<Vec<u8>> = spec.input.expect("chaincode input").args;
    let expected: Vec<Vec<u8>> = std::iter::once(TRANSACTION)
        .chain(ARGS)
        .map(|a| a.as_bytes().to_vec())
        .collect();
    assert_eq!(args, expected);
    let transient: BTreeMap<String, Vec<u8>> = transient()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    assert_eq!(payload.transient_map, transient);

    // The client signs sha256(proposal_bytes) with ECDSA; Fabric checks it with the creator's key.
    let public_key = X509::from_pem(&cert_pem)
        .unwrap()
        .public_key()
        .unwrap()
        .ec_key()
        .unwrap();
    let signature = EcdsaSig::from_der(&signed.signature).expect("DER ECDSA signature");
    assert!(
        signature
            .verify(&sha256(&signed.proposal_bytes), &public_key)
            .unwrap()
    );

    // Every serialized level was compared with the client's bytes.
    let types = checked.types();
    let expected = [
        "common.ChannelHeader",
        "common.Header",
        "common.SignatureHeader",
        "gateway.ProposedTransaction",
        "msp.SerializedIdentity",
        "protos.ChaincodeHeaderExtension",
        "protos.ChaincodeInvocationSpec",
        "protos.ChaincodeProposalPayload",
        "protos.Proposal",
    ];
    assert_eq!(
        types,
        expected.into_iter().map(String::from).collect(),
        "{types:?}"
    );
    let (identical, canonicalised) = checked.counts();
    eprintln!(
        "{identical} encodings identical as written, {canonicalised} after map normalisation"
    );
}

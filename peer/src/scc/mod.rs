//! The peer's own system chaincodes: `cscc` (channel configuration: join, list, config) and
//! `qscc` (ledger queries), and the peer side of `_lifecycle` ([`lifecycle`]). Both are [`weft_chaincode_api::Chaincode`] implementations over the
//! [`ChannelManager`](crate::channels::ChannelManager); they read the invocation context from
//! the stub and never touch state, as in Fabric.

pub mod cscc;
pub mod lifecycle;
pub mod qscc;

pub use cscc::Cscc;
pub use qscc::Qscc;

use fabric_protos::protos::SignedProposal;
use weft_chaincode_api::ChaincodeStub;

/// The signed proposal of the invocation, decoded from the stub.
fn signed_proposal(stub: &dyn ChaincodeStub) -> Result<SignedProposal, String> {
    weft_protoutil::decode::<SignedProposal>("SignedProposal", stub.signed_proposal())
        .map_err(|e| format!("failed getting signed proposal from stub: {e}"))
}

/// The function name argument as text.
fn function_name(args: &[Vec<u8>]) -> String {
    args.first()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .unwrap_or_default()
}

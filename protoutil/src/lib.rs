//! Helpers over Fabric's wire types that both the peer and the orderer need: block hashing,
//! transaction IDs, decoding of the nested envelope structure with bounded input, and Go's
//! duration syntax as Fabric's config files and channel config write it.

pub mod block;
pub mod duration;
pub mod envelope;
pub mod proposal;
pub mod txid;

pub use block::{block_data_hash, block_header_bytes, block_header_hash, new_block};
pub use duration::parse_go_duration;
pub use envelope::{DecodeError, decode, decode_bounded};
pub use proposal::{
    AssemblyError, Invocation, UnsignedProposal, chaincode_proposal, proposal_hash, sign_proposal,
    signed_transaction,
};
pub use txid::compute_txid;

/// Fabric's default hash for block hashing, transaction IDs and signatures.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

//! Checks on a block received from an orderer before it is stored (Fabric v2.5's
//! `mcs.VerifyBlock` plus v3's sequence check): the expected number, the header's data hash,
//! and the `/Channel/Orderer/BlockValidation` policy over the orderer signatures. The previous
//! hash is checked by the block store on append.
//!
//! The committer crate owns the complete verification (well-formed canonical envelopes, five
//! metadata slots); [`BlockVerifier`] is the seam it plugs into.

use fabric_protos::common::Block;
use weft_channelconfig::ChannelBundle;

/// The policy every block's orderer signatures must satisfy.
pub const BLOCK_VALIDATION_POLICY: &str = "/Channel/Orderer/BlockValidation";

/// Decides whether a received block may be committed.
pub trait BlockVerifier: Send + Sync {
    /// `expected` is the channel's height; `bundle` its current config.
    fn verify(&self, bundle: &ChannelBundle, expected: u64, block: &Block) -> Result<(), String>;
}

/// The checks listed in the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignatureVerifier;

impl BlockVerifier for SignatureVerifier {
    fn verify(&self, bundle: &ChannelBundle, expected: u64, block: &Block) -> Result<(), String> {
        let header = block.header.as_ref().ok_or("block has no header")?;
        if header.number != expected {
            return Err(format!(
                "expected block [{expected}] but got block [{}]",
                header.number
            ));
        }
        let data = block.data.as_ref().ok_or("block has no data")?;
        let data_hash = weft_protoutil::block_data_hash(data);
        if header.data_hash != data_hash {
            return Err(format!(
                "header.DataHash is different from Hash(block.Data) for block with id [{}] on channel [{}]",
                header.number,
                bundle.channel_id()
            ));
        }
        let signed = weft_orderer::block_signed_data(block).map_err(|e| e.to_string())?;
        let policy = bundle
            .policy_manager()
            .get_policy(BLOCK_VALIDATION_POLICY)
            .ok_or_else(|| format!("policy {BLOCK_VALIDATION_POLICY} not found"))?;
        policy
            .evaluate_signed_data(&signed)
            .map_err(|e| format!("block [{}] signature check failed: {e}", header.number))
    }
}

//! Checks a peer makes on a block received from an orderer before it validates and commits it:
//! Fabric v2.5's gossip `VerifyBlock` (internal/peer/gossip/mcs.go) joined with v3's
//! `BlockVerificationAssistant.VerifyBlock` (common/deliverclient/block_verification.go),
//! taking the stricter rule wherever they differ:
//!
//! - the header is present, carries the expected number and names the previous block's header
//!   hash;
//! - the metadata has all five slots (v3; v2.5 only needs the SIGNATURES slot);
//! - the block is for this channel (channel id of the first envelope, v2.5);
//! - every envelope of a non-config block decodes, has a payload and a signature, and
//!   re-encodes to exactly its bytes (`VerifyTransactionsAreWellFormed`: no trailing bytes, no
//!   crosslinked or padded encodings);
//! - the header's data hash matches the data;
//! - the SIGNATURES metadata satisfies `/Channel/Orderer/BlockValidation`: each signature
//!   covers `metadata.value | signature_header | header bytes`; on a BFT channel a signature
//!   with only an identifier header names its signer by consenter id (v3).

use fabric_protos::common::{
    Block, BlockHeader, BlockMetadataIndex, ChannelHeader, Envelope, HeaderType, IdentifierHeader,
    Metadata, Payload, SignatureHeader,
};
use fabric_protos::msp::SerializedIdentity;
use prost::Message;
use weft_channelconfig::{ChannelBundle, Consensus};
use weft_policy::SignedData;
use weft_protoutil::{block_data_hash, block_header_bytes, decode_bounded};

use crate::error::VerifyError;

/// Number of metadata slots of a Fabric block (SIGNATURES .. COMMIT_HASH).
pub const BLOCK_METADATA_SLOTS: usize = 5;

/// Path of the policy orderer signatures on blocks must satisfy.
pub const BLOCK_VALIDATION_POLICY: &str = "/Channel/Orderer/BlockValidation";

/// Decodes a block received from the network, refusing more than `size_max_bytes`.
pub fn decode_block(bytes: &[u8], size_max_bytes: usize) -> Result<Block, VerifyError> {
    decode_bounded::<Block>("block", bytes, size_max_bytes).map_err(|e| match e {
        weft_protoutil::DecodeError::TooLarge { size, limit, .. } => {
            VerifyError::TooLarge { size, limit }
        }
        other => VerifyError::Malformed(other.to_string()),
    })
}

/// Where the chain stands before the block: the number it must carry and, unless it is the
/// first block seen, the header hash it must name as previous.
#[derive(Clone, Copy, Debug)]
pub struct ChainTip<'a> {
    pub next_number: u64,
    pub previous_hash: Option<&'a [u8]>,
}

/// Verifies `block` as the next block of the channel of `bundle` (the config in force before
/// the block). Cheap checks come first; the signature policy last.
pub fn verify_block(
    bundle: &ChannelBundle,
    tip: ChainTip<'_>,
    block: &Block,
) -> Result<(), VerifyError> {
    let header = block
        .header
        .as_ref()
        .ok_or(VerifyError::Missing("header"))?;
    let number = header.number;
    if number != tip.next_number {
        return Err(VerifyError::UnexpectedNumber {
            channel: bundle.channel_id().to_owned(),
            expected: tip.next_number,
            got: number,
        });
    }
    if let Some(previous) = tip.previous_hash
        && header.previous_hash != previous
    {
        return Err(VerifyError::PreviousHashMismatch {
            number,
            previous: number.saturating_sub(1),
        });
    }
    let slots = block.metadata.as_ref().map_or(0, |m| m.metadata.len());
    if slots < BLOCK_METADATA_SLOTS {
        return Err(VerifyError::MetadataSlots {
            number,
            found: slots,
            expected: BLOCK_METADATA_SLOTS,
        });
    }
    let data = block.data.as_ref().ok_or(VerifyError::Missing("data"))?;
    if data.data.is_empty() {
        return Err(VerifyError::Empty { number });
    }
    let channel = block_channel_id(block).ok_or(VerifyError::NoChannelId { number })?;
    if channel != bundle.channel_id() {
        return Err(VerifyError::WrongChannel {
            number,
            expected: bundle.channel_id().to_owned(),
            found: channel,
        });
    }
    if !is_config_block(block) {
        check_well_formed(number, &data.data)?;
    }
    if block_data_hash(data).as_slice() != header.data_hash.as_slice() {
        return Err(VerifyError::DataHashMismatch { number });
    }
    verify_signatures(bundle, header, block)
}

fn first_channel_header(block: &Block) -> Option<ChannelHeader> {
    let first = block.data.as_ref()?.data.first()?;
    let envelope = Envelope::decode(first.as_slice()).ok()?;
    let payload = Payload::decode(envelope.payload.as_slice()).ok()?;
    ChannelHeader::decode(payload.header?.channel_header.as_slice()).ok()
}

/// Channel id named by the first envelope of the block, if it has one that decodes.
pub fn block_channel_id(block: &Block) -> Option<String> {
    first_channel_header(block).map(|h| h.channel_id)
}

/// A block holding exactly one CONFIG (or legacy ORDERER_TRANSACTION) envelope.
pub fn is_config_block(block: &Block) -> bool {
    let single = block.data.as_ref().is_some_and(|d| d.data.len() == 1);
    single
        && first_channel_header(block).is_some_and(|h| {
            h.r#type == HeaderType::Config as i32
                || h.r#type == HeaderType::OrdererTransaction as i32
        })
}

fn check_well_formed(number: u64, envelopes: &[Vec<u8>]) -> Result<(), VerifyError> {
    let bad = |index: usize, reason: String| VerifyError::MalformedTransaction {
        number,
        index,
        reason,
    };
    for (index, raw) in envelopes.iter().enumerate() {
        let envelope = Envelope::decode(raw.as_slice()).map_err(|e| bad(index, e.to_string()))?;
        if envelope.payload.is_empty() {
            return Err(bad(index, "no payload".into()));
        }
        if envelope.signature.is_empty() {
            return Err(bad(index, "no signature".into()));
        }
        let canonical = envelope.encode_to_vec();
        if canonical.len() < raw.len() {
            return Err(bad(
                index,
                format!("{} trailing bytes", raw.len() - canonical.len()),
            ));
        }
        if canonical != *raw {
            return Err(bad(index, "does not match its canonical encoding".into()));
        }
    }
    Ok(())
}

fn verify_signatures(
    bundle: &ChannelBundle,
    header: &BlockHeader,
    block: &Block,
) -> Result<(), VerifyError> {
    let number = header.number;
    let bad = |reason: String| VerifyError::BadSignatureMetadata { number, reason };
    let raw = block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(BlockMetadataIndex::Signatures as usize))
        .ok_or_else(|| bad("missing".into()))?;
    let metadata = Metadata::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
    let consenters = match bundle.orderer() {
        Some(orderer) if matches!(orderer.consensus, Consensus::Bft(_)) => {
            Some(&orderer.consenters)
        }
        _ => None,
    };
    let header_bytes = block_header_bytes(header);
    let mut signed = Vec::with_capacity(metadata.signatures.len());
    for signature in &metadata.signatures {
        let by_id =
            signature.signature_header.is_empty() && !signature.identifier_header.is_empty();
        let (identity, signer_header) = match consenters {
            Some(consenters) if by_id => {
                let id = IdentifierHeader::decode(signature.identifier_header.as_slice())
                    .map_err(|e| bad(format!("identifier header: {e}")))?;
                let Some(consenter) = consenters.iter().find(|c| c.id == id.identifier) else {
                    continue;
                };
                let identity = SerializedIdentity {
                    mspid: consenter.msp_id.clone(),
                    id_bytes: consenter.identity.clone(),
                }
                .encode_to_vec();
                (identity, &signature.identifier_header)
            }
            _ => {
                let shdr = SignatureHeader::decode(signature.signature_header.as_slice())
                    .map_err(|e| bad(format!("signature header: {e}")))?;
                (shdr.creator, &signature.signature_header)
            }
        };
        let mut data =
            Vec::with_capacity(metadata.value.len() + signer_header.len() + header_bytes.len());
        data.extend_from_slice(&metadata.value);
        data.extend_from_slice(signer_header);
        data.extend_from_slice(&header_bytes);
        signed.push(SignedData {
            data,
            identity,
            signature: signature.signature.clone(),
        });
    }
    let policy = bundle
        .policy_manager()
        .get_policy(BLOCK_VALIDATION_POLICY)
        .ok_or_else(|| VerifyError::PolicyNotSatisfied {
            number,
            reason: "the channel config has no such policy".into(),
        })?;
    policy
        .evaluate_signed_data(&signed)
        .map_err(|e| VerifyError::PolicyNotSatisfied {
            number,
            reason: e.to_string(),
        })
}

//! Assembling and signing blocks (Fabric's `orderer/common/multichannel/blockwriter.go`).
//!
//! [`BlockWriter::create_next_block`] chains a batch onto the last block: number + 1,
//! `previous_hash` = header hash of the last block, `data_hash` over the marshalled envelopes.
//! [`BlockWriter::commit`] fills in the metadata Fabric 2.5 orderers write:
//! - SIGNATURES: `Metadata{value = OrdererBlockMetadata{last_config, consenter_metadata =
//!   Metadata{value: <consensus metadata>}}, signatures = [one signature by this orderer]}`,
//!   the signature covering `value || signature_header || block header bytes`;
//! - LAST_CONFIG: `Metadata{value = LastConfig{index}}`, unsigned (deprecated, still written);
//! - TRANSACTIONS_FILTER, ORDERER, COMMIT_HASH: empty.
//!
//! [`block_signed_data`] turns the SIGNATURES slot back into the signed data a peer evaluates
//! against `/Channel/Orderer/BlockValidation`.

use std::sync::Arc;

use fabric_protos::common::{
    Block, BlockData, BlockHeader, BlockMetadataIndex, Envelope, LastConfig, Metadata,
    MetadataSignature, OrdererBlockMetadata, SignatureHeader,
};
use prost::Message;
use weft_msp::SigningIdentity;
use weft_policy::SignedData;
use weft_protoutil::block::METADATA_SLOTS;

use crate::error::OrdererError;

/// Length of the random nonce in signature headers, as Fabric's `crypto.GetRandomNonce`.
pub const NONCE_BYTES: usize = 24;

/// A fresh signature header for `signer`: its serialized identity and a random nonce.
pub fn new_signature_header(signer: &dyn SigningIdentity) -> Result<SignatureHeader, OrdererError> {
    let mut nonce = vec![0u8; NONCE_BYTES];
    openssl::rand::rand_bytes(&mut nonce).map_err(OrdererError::Random)?;
    Ok(SignatureHeader {
        creator: signer.serialize(),
        nonce,
    })
}

/// Whether the committed block changes the channel config (its index becomes the new
/// last-config index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Normal,
    Config,
}

/// The chain tip of one channel and the orderer identity that signs its blocks.
pub struct BlockWriter {
    signer: Arc<dyn SigningIdentity>,
    last_header: BlockHeader,
    last_config_index: u64,
}

impl std::fmt::Debug for BlockWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockWriter")
            .field("last_number", &self.last_header.number)
            .field("last_config_index", &self.last_config_index)
            .finish_non_exhaustive()
    }
}

impl BlockWriter {
    /// Continues the chain after `last_block` (the ledger's newest block). The last-config
    /// index is read from its metadata, except for the genesis block (index 0), as Fabric does.
    pub fn new(last_block: &Block, signer: Arc<dyn SigningIdentity>) -> Result<Self, OrdererError> {
        let header = last_block
            .header
            .clone()
            .ok_or(OrdererError::IncompleteBlock("header"))?;
        let last_config_index = if header.number == 0 {
            0
        } else {
            last_config_index(last_block)?
        };
        Ok(Self {
            signer,
            last_header: header,
            last_config_index,
        })
    }

    pub fn last_number(&self) -> u64 {
        self.last_header.number
    }

    pub fn last_config_index(&self) -> u64 {
        self.last_config_index
    }

    /// Builds the unsigned block that follows the chain tip with `batch` as its data, and
    /// makes it the new tip (so several blocks can be created before they are committed).
    pub fn create_next_block(&mut self, batch: &[Envelope]) -> Block {
        let data = BlockData {
            data: batch.iter().map(Message::encode_to_vec).collect(),
        };
        let previous_hash = weft_protoutil::block_header_hash(&self.last_header).to_vec();
        let mut block = weft_protoutil::new_block(self.last_header.number + 1, previous_hash);
        let data_hash = weft_protoutil::block_data_hash(&data).to_vec();
        if let Some(header) = block.header.as_mut() {
            header.data_hash = data_hash;
            self.last_header = header.clone();
        }
        block.data = Some(data);
        block
    }

    /// Writes the LAST_CONFIG and SIGNATURES metadata of `block`, in that order as Fabric
    /// does; a config block becomes the last config first. `consenter_metadata` is the
    /// consensus plugin's per-block state (for Raft a marshalled `etcdraft.BlockMetadata`).
    pub fn commit(
        &mut self,
        block: &mut Block,
        kind: BlockKind,
        consenter_metadata: &[u8],
    ) -> Result<(), OrdererError> {
        let header = block
            .header
            .clone()
            .ok_or(OrdererError::IncompleteBlock("header"))?;
        if kind == BlockKind::Config {
            self.last_config_index = header.number;
        }
        let last_config = LastConfig {
            index: self.last_config_index,
        };
        let value = OrdererBlockMetadata {
            last_config: Some(last_config),
            consenter_metadata: Metadata {
                value: consenter_metadata.to_vec(),
                signatures: Vec::new(),
            }
            .encode_to_vec(),
        }
        .encode_to_vec();
        let signature_header = new_signature_header(self.signer.as_ref())?.encode_to_vec();
        let signed = signed_bytes(&value, &signature_header, &header);
        let signature = self.signer.sign(&signed).map_err(OrdererError::Signing)?;
        let signatures = Metadata {
            value,
            signatures: vec![MetadataSignature {
                signature_header,
                signature,
                identifier_header: Vec::new(),
            }],
        };
        let last_config_slot = Metadata {
            value: last_config.encode_to_vec(),
            signatures: Vec::new(),
        };
        let metadata = block.metadata.get_or_insert_with(Default::default);
        if metadata.metadata.len() < METADATA_SLOTS {
            metadata.metadata.resize(METADATA_SLOTS, Vec::new());
        }
        metadata.metadata[BlockMetadataIndex::LastConfig as usize] =
            last_config_slot.encode_to_vec();
        metadata.metadata[BlockMetadataIndex::Signatures as usize] = signatures.encode_to_vec();
        Ok(())
    }

    /// Creates and commits the next block in one step.
    pub fn write(
        &mut self,
        batch: &[Envelope],
        kind: BlockKind,
        consenter_metadata: &[u8],
    ) -> Result<Block, OrdererError> {
        let mut block = self.create_next_block(batch);
        self.commit(&mut block, kind, consenter_metadata)?;
        Ok(block)
    }
}

fn signed_bytes(value: &[u8], signature_header: &[u8], header: &BlockHeader) -> Vec<u8> {
    let header_bytes = weft_protoutil::block_header_bytes(header);
    let mut out = Vec::with_capacity(value.len() + signature_header.len() + header_bytes.len());
    out.extend_from_slice(value);
    out.extend_from_slice(signature_header);
    out.extend_from_slice(&header_bytes);
    out
}

fn metadata_slot(block: &Block, slot: BlockMetadataIndex) -> Result<Metadata, OrdererError> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let bytes = block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(slot as usize))
        .ok_or_else(|| OrdererError::BadMetadata {
            number,
            what: slot.as_str_name(),
            reason: "slot missing".into(),
        })?;
    weft_protoutil::decode::<Metadata>("Metadata", bytes).map_err(|e| OrdererError::BadMetadata {
        number,
        what: slot.as_str_name(),
        reason: e.to_string(),
    })
}

/// The last-config index a block records: from the SIGNATURES slot's
/// `OrdererBlockMetadata`, or from LAST_CONFIG when that value is empty (blocks of orderers
/// before 1.4.1), like Fabric's `GetLastConfigIndexFromBlock`.
pub fn last_config_index(block: &Block) -> Result<u64, OrdererError> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let bad = |what: &'static str, reason: String| OrdererError::BadMetadata {
        number,
        what,
        reason,
    };
    let signatures = metadata_slot(block, BlockMetadataIndex::Signatures)?;
    if signatures.value.is_empty() {
        let slot = metadata_slot(block, BlockMetadataIndex::LastConfig)?;
        let last = weft_protoutil::decode::<LastConfig>("LastConfig", &slot.value)
            .map_err(|e| bad("LAST_CONFIG", e.to_string()))?;
        return Ok(last.index);
    }
    let obm =
        weft_protoutil::decode::<OrdererBlockMetadata>("OrdererBlockMetadata", &signatures.value)
            .map_err(|e| bad("SIGNATURES", e.to_string()))?;
    obm.last_config.map(|c| c.index).ok_or_else(|| {
        bad(
            "SIGNATURES",
            "no last config in orderer block metadata".into(),
        )
    })
}

/// The signed data of every orderer signature on `block`, as a Go peer builds it before
/// evaluating `/Channel/Orderer/BlockValidation` (`mcs.go VerifyBlock`): data =
/// `value || signature_header || header bytes`, identity = the signature header's creator.
pub fn block_signed_data(block: &Block) -> Result<Vec<SignedData>, OrdererError> {
    let header = block
        .header
        .as_ref()
        .ok_or(OrdererError::IncompleteBlock("header"))?;
    let metadata = metadata_slot(block, BlockMetadataIndex::Signatures)?;
    let header_bytes = weft_protoutil::block_header_bytes(header);
    metadata
        .signatures
        .iter()
        .map(|sig| {
            let signature_header =
                weft_protoutil::decode::<SignatureHeader>("SignatureHeader", &sig.signature_header)
                    .map_err(|e| OrdererError::BadMetadata {
                        number: header.number,
                        what: "SIGNATURES",
                        reason: e.to_string(),
                    })?;
            let mut data = metadata.value.clone();
            data.extend_from_slice(&sig.signature_header);
            data.extend_from_slice(&header_bytes);
            Ok(SignedData {
                data,
                identity: signature_header.creator,
                signature: sig.signature.clone(),
            })
        })
        .collect()
}

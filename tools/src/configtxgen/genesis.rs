//! The genesis (config) block of an application channel, shaped like upstream's
//! `common/genesis` factory: block 0 with no previous hash, one unsigned envelope whose
//! payload is a CONFIG transaction (fresh 24-byte nonce, empty creator, txid =
//! hex(sha256(nonce || creator)), timestamp in whole seconds), data hash = SHA-256 of the
//! envelope bytes, and five metadata slots of which SIGNATURES holds an unsigned
//! `OrdererBlockMetadata{last_config: 0}` and LAST_CONFIG holds `LastConfig{index: 0}`.

use std::time::{SystemTime, UNIX_EPOCH};

use fabric_protos::common::{
    Block, BlockData, BlockHeader, BlockMetadata, ChannelHeader, Config, ConfigEnvelope,
    ConfigGroup, Envelope, HeaderType, LastConfig, Metadata, OrdererBlockMetadata, Payload,
    SignatureHeader,
};
use openssl::hash::{MessageDigest, hash};
use prost::Message;

use crate::error::ToolError;

/// Number of block metadata slots Fabric v2.5 writes (SIGNATURES .. COMMIT_HASH).
pub const METADATA_SLOTS: usize = 5;
const SLOT_SIGNATURES: usize = 0;
const SLOT_LAST_CONFIG: usize = 1;
const NONCE_BYTES: usize = 24;
/// Upstream's genesis factory stamps its channel header with message version 1.
const GENESIS_MESSAGE_VERSION: i32 = 1;

fn sha256(data: &[u8]) -> Result<Vec<u8>, ToolError> {
    Ok(hash(MessageDigest::sha256(), data)?.to_vec())
}

/// Assembles the genesis block of `channel_id` around `channel_group`.
pub fn genesis_block(channel_id: &str, channel_group: ConfigGroup) -> Result<Block, ToolError> {
    let mut nonce = [0u8; NONCE_BYTES];
    openssl::rand::rand_bytes(&mut nonce)?;
    let creator: Vec<u8> = Vec::new();
    let mut preimage = nonce.to_vec();
    preimage.extend_from_slice(&creator);
    let tx_id = hex::encode(sha256(&preimage)?);
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let channel_header = ChannelHeader {
        r#type: HeaderType::Config as i32,
        version: GENESIS_MESSAGE_VERSION,
        timestamp: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        channel_id: channel_id.to_string(),
        tx_id,
        epoch: 0,
        ..ChannelHeader::default()
    };
    let signature_header = SignatureHeader {
        creator,
        nonce: nonce.to_vec(),
    };
    let config = ConfigEnvelope {
        config: Some(Config {
            sequence: 0,
            channel_group: Some(channel_group),
        }),
        last_update: None,
    };
    let payload = Payload {
        header: Some(fabric_protos::common::Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }),
        data: config.encode_to_vec(),
    };
    let envelope = Envelope {
        payload: payload.encode_to_vec(),
        signature: Vec::new(),
    }
    .encode_to_vec();
    let data_hash = sha256(&envelope)?;

    let mut metadata = vec![Vec::new(); METADATA_SLOTS];
    metadata[SLOT_LAST_CONFIG] = Metadata {
        value: LastConfig { index: 0 }.encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec();
    metadata[SLOT_SIGNATURES] = Metadata {
        value: OrdererBlockMetadata {
            last_config: Some(LastConfig { index: 0 }),
            consenter_metadata: Vec::new(),
        }
        .encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec();

    Ok(Block {
        header: Some(BlockHeader {
            number: 0,
            previous_hash: Vec::new(),
            data_hash,
        }),
        data: Some(BlockData {
            data: vec![envelope],
        }),
        metadata: Some(BlockMetadata { metadata }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_block_has_upstream_shape() {
        let group = ConfigGroup {
            mod_policy: "Admins".into(),
            ..ConfigGroup::default()
        };
        let block = genesis_block("mychannel", group.clone()).unwrap();
        let header = block.header.as_ref().unwrap();
        assert_eq!(header.number, 0);
        assert!(header.previous_hash.is_empty());
        let data = &block.data.as_ref().unwrap().data;
        assert_eq!(data.len(), 1);
        assert_eq!(header.data_hash, sha256(&data[0]).unwrap());

        let envelope = Envelope::decode(data[0].as_slice()).unwrap();
        assert!(envelope.signature.is_empty());
        let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
        let hdr = payload.header.unwrap();
        let ch = ChannelHeader::decode(hdr.channel_header.as_slice()).unwrap();
        let sh = SignatureHeader::decode(hdr.signature_header.as_slice()).unwrap();
        assert_eq!(ch.r#type, HeaderType::Config as i32);
        assert_eq!(ch.channel_id, "mychannel");
        assert_eq!(ch.version, 1);
        assert_eq!(sh.nonce.len(), NONCE_BYTES);
        assert_eq!(ch.tx_id, hex::encode(sha256(&sh.nonce).unwrap()));
        let config = ConfigEnvelope::decode(payload.data.as_slice()).unwrap();
        assert_eq!(config.config.unwrap().channel_group.unwrap(), group);

        let md = &block.metadata.as_ref().unwrap().metadata;
        assert_eq!(md.len(), METADATA_SLOTS);
        let sigs = Metadata::decode(md[SLOT_SIGNATURES].as_slice()).unwrap();
        let obm = OrdererBlockMetadata::decode(sigs.value.as_slice()).unwrap();
        assert_eq!(obm.last_config, Some(LastConfig { index: 0 }));
        assert!(md[2].is_empty() && md[3].is_empty() && md[4].is_empty());
    }
}

//! Builders for well-formed blocks, for tests and benchmarks here and in other crates.

use fabric_protos::common::{
    Block, BlockData, BlockMetadataIndex, ChannelHeader, Envelope, Header, HeaderType, Payload,
};
use prost::Message;
use weft_protoutil::{block_data_hash, block_header_hash, new_block};

/// An endorser-transaction envelope for `channel` with the given txid and `payload_bytes` bytes
/// of filler data.
pub fn envelope(channel: &str, txid: &str, payload_bytes: usize) -> Vec<u8> {
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        channel_id: channel.to_owned(),
        tx_id: txid.to_owned(),
        ..ChannelHeader::default()
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: Vec::new(),
        }),
        data: vec![0x5a; payload_bytes],
    };
    Envelope {
        payload: payload.encode_to_vec(),
        signature: vec![1; 8],
    }
    .encode_to_vec()
}

/// Block `number` of `channel` chained onto `previous_hash`, holding one envelope per txid
/// (an empty txid gives an envelope without one), with a correct data hash and five
/// metadata slots.
pub fn block(
    channel: &str,
    number: u64,
    previous_hash: &[u8],
    txids: &[&str],
    payload_bytes: usize,
) -> Block {
    let mut block = new_block(number, previous_hash.to_vec());
    let data = BlockData {
        data: txids
            .iter()
            .map(|txid| envelope(channel, txid, payload_bytes))
            .collect(),
    };
    if let Some(header) = block.header.as_mut() {
        header.data_hash = block_data_hash(&data).to_vec();
    }
    block.data = Some(data);
    block
}

/// Sets the TRANSACTIONS_FILTER metadata slot to one validation code per transaction.
pub fn set_transactions_filter(block: &mut Block, codes: &[u8]) {
    if let Some(metadata) = block.metadata.as_mut() {
        let slot = BlockMetadataIndex::TransactionsFilter as usize;
        if metadata.metadata.len() <= slot {
            metadata.metadata.resize(slot + 1, Vec::new());
        }
        metadata.metadata[slot] = codes.to_vec();
    }
}

/// Header hash of a block, or `None` without a header.
pub fn header_hash(block: &Block) -> Option<[u8; 32]> {
    block.header.as_ref().map(block_header_hash)
}

/// A chain of `count` blocks for `channel` starting at genesis, each with `txs_per_block`
/// transactions whose ids are `<channel>-<number>-<index>`.
pub fn chain(channel: &str, count: u64, txs_per_block: usize, payload_bytes: usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut previous = Vec::new();
    for number in 0..count {
        let txids: Vec<String> = (0..txs_per_block)
            .map(|i| format!("{channel}-{number}-{i}"))
            .collect();
        let txids: Vec<&str> = txids.iter().map(String::as_str).collect();
        let block = block(channel, number, &previous, &txids, payload_bytes);
        previous = header_hash(&block).map(|h| h.to_vec()).unwrap_or_default();
        blocks.push(block);
    }
    blocks
}

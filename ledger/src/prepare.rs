//! What the store needs to know about a block before writing it, computed on the caller's
//! thread so the writer thread only does I/O: number, hashes and transaction ids.

use fabric_protos::common::{Block, ChannelHeader, Envelope, Header};
use weft_protoutil::{block_data_hash, block_header_hash, decode};

use crate::error::{LedgerError, Result};
use crate::options::TXID_MAX_BYTES;

/// A block checked for internal consistency, ready to be chained and written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreparedBlock {
    pub number: u64,
    pub previous_hash: Vec<u8>,
    pub header_hash: [u8; 32],
    /// Transaction id of each envelope, `None` where it cannot be read or is not indexable.
    pub txids: Vec<Option<String>>,
}

/// Only the header of a `common.Payload`, so the (possibly large) data is skipped when
/// reading transaction ids.
#[derive(Clone, PartialEq, prost::Message)]
struct PayloadHeaderOnly {
    #[prost(message, optional, tag = "1")]
    header: Option<Header>,
}

/// Decodes `bytes` as a block, bounded by `block_size_max`.
pub(crate) fn decode_block(bytes: &[u8], block_size_max: usize) -> Result<Block> {
    if bytes.len() > block_size_max {
        return Err(LedgerError::BlockTooLarge {
            size: bytes.len(),
            limit: block_size_max,
        });
    }
    Ok(decode::<Block>("block", bytes)?)
}

/// Checks that the block has a header and data whose hash the header carries, and collects its
/// transaction ids.
pub(crate) fn prepare(channel: &str, block: &Block) -> Result<PreparedBlock> {
    let header = block
        .header
        .as_ref()
        .ok_or(LedgerError::IncompleteBlock("header"))?;
    let data = block
        .data
        .as_ref()
        .ok_or(LedgerError::IncompleteBlock("data"))?;
    if block_data_hash(data).as_slice() != header.data_hash.as_slice() {
        return Err(LedgerError::DataHashMismatch {
            channel: channel.to_owned(),
            number: header.number,
        });
    }
    Ok(PreparedBlock {
        number: header.number,
        previous_hash: header.previous_hash.clone(),
        header_hash: block_header_hash(header),
        txids: data.data.iter().map(|env| txid_of(env)).collect(),
    })
}

/// The transaction id in an envelope's channel header, if it has a readable, non-empty one
/// short enough to index (Fabric also leaves txid-less envelopes, such as some config
/// transactions, out of its txid index).
pub(crate) fn txid_of(envelope: &[u8]) -> Option<String> {
    let envelope = decode::<Envelope>("envelope", envelope).ok()?;
    let payload = decode::<PayloadHeaderOnly>("payload", &envelope.payload).ok()?;
    let channel_header =
        decode::<ChannelHeader>("channel header", &payload.header?.channel_header).ok()?;
    let txid = channel_header.tx_id;
    (!txid.is_empty() && txid.len() <= TXID_MAX_BYTES).then_some(txid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn prepare_reads_hashes_and_txids() {
        let block = testing::block("ch", 0, &[], &["tx-a", "", "tx-c"], 10);
        let prepared = prepare("ch", &block).unwrap();
        assert_eq!(prepared.number, 0);
        assert_eq!(
            prepared.header_hash,
            block_header_hash(block.header.as_ref().unwrap())
        );
        assert_eq!(
            prepared.txids,
            vec![Some("tx-a".to_owned()), None, Some("tx-c".to_owned())]
        );
    }

    #[test]
    fn garbage_envelopes_have_no_txid() {
        assert_eq!(txid_of(b"\xff\xff\xff"), None);
        assert_eq!(txid_of(&[]), None);
        let long = "x".repeat(TXID_MAX_BYTES + 1);
        let block = testing::block("ch", 0, &[], &[long.as_str()], 0);
        assert_eq!(prepare("ch", &block).unwrap().txids, vec![None]);
    }

    #[test]
    fn inconsistent_blocks_are_refused() {
        let mut block = testing::block("ch", 3, &[1; 32], &["t"], 0);
        block.header.as_mut().unwrap().data_hash[0] ^= 1;
        assert!(matches!(
            prepare("ch", &block),
            Err(LedgerError::DataHashMismatch { number: 3, .. })
        ));
        block.header = None;
        assert!(matches!(
            prepare("ch", &block),
            Err(LedgerError::IncompleteBlock("header"))
        ));
        assert!(matches!(
            decode_block(&[0; 10], 5),
            Err(LedgerError::BlockTooLarge { size: 10, limit: 5 })
        ));
    }
}

//! Layout of the index: every key of a channel starts with `channel_len: u8 | channel id`, so a
//! channel's entries sit together and removing a channel is one range. Keys starting with a zero
//! byte are store-wide. Numbers are big-endian so that keys sort in block order.
//!
//! ```text
//! 00 'k'                          -> checkpoint: segment u64 | offset u64 (end of indexed records)
//! 00 'c' channel                  -> (empty) the channel exists
//! ch 'i'                          -> ChannelInfo
//! ch 'n' number                   -> RecordLocation: segment u64 | offset u64 | length u32
//! ch 'h' header hash              -> number
//! ch 't' len txid number tx_index -> (empty) first key for a txid is its first occurrence
//! ```

use crate::segment::RecordLocation;

pub(crate) const CHECKPOINT_KEY: &[u8] = b"\x00k";
pub(crate) const REGISTRY_PREFIX: &[u8] = b"\x00c";

/// Position just after the last record the index reflects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub segment: u64,
    pub offset: u64,
}

/// What the index knows about a channel's chain, enough for `BlockchainInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChannelInfo {
    pub height: u64,
    pub current_hash: Vec<u8>,
    pub previous_hash: Vec<u8>,
}

pub(crate) fn channel_prefix(channel: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(channel.len() + 1 + 1 + 8 + 4 + 64);
    key.push(channel.len() as u8);
    key.extend_from_slice(channel.as_bytes());
    key
}

fn channel_key(channel: &str, kind: u8) -> Vec<u8> {
    let mut key = channel_prefix(channel);
    key.push(kind);
    key
}

pub(crate) fn registry_key(channel: &str) -> Vec<u8> {
    [REGISTRY_PREFIX, channel.as_bytes()].concat()
}

pub(crate) fn info_key(channel: &str) -> Vec<u8> {
    channel_key(channel, b'i')
}

pub(crate) fn block_key(channel: &str, number: u64) -> Vec<u8> {
    let mut key = channel_key(channel, b'n');
    key.extend_from_slice(&number.to_be_bytes());
    key
}

pub(crate) fn hash_key(channel: &str, hash: &[u8]) -> Vec<u8> {
    let mut key = channel_key(channel, b'h');
    key.extend_from_slice(hash);
    key
}

/// Prefix shared by every occurrence of `txid`; the txid must be at most 255 bytes.
pub(crate) fn txid_prefix(channel: &str, txid: &str) -> Vec<u8> {
    let mut key = channel_key(channel, b't');
    key.push(txid.len() as u8);
    key.extend_from_slice(txid.as_bytes());
    key
}

pub(crate) fn txid_key(channel: &str, txid: &str, number: u64, tx_index: u32) -> Vec<u8> {
    let mut key = txid_prefix(channel, txid);
    key.extend_from_slice(&number.to_be_bytes());
    key.extend_from_slice(&tx_index.to_be_bytes());
    key
}

/// Block number and transaction index from a txid key with the given prefix.
pub(crate) fn parse_txid_key(prefix_len: usize, key: &[u8]) -> Option<(u64, u32)> {
    let rest = key.get(prefix_len..)?;
    if rest.len() != 12 {
        return None;
    }
    Some((
        be_u64(&rest[..8])?,
        u32::from_be_bytes(rest[8..].try_into().ok()?),
    ))
}

fn be_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

pub(crate) fn encode_number(number: u64) -> Vec<u8> {
    number.to_be_bytes().to_vec()
}

pub(crate) fn decode_number(bytes: &[u8]) -> Option<u64> {
    be_u64(bytes)
}

impl Checkpoint {
    pub(crate) fn encode(&self) -> Vec<u8> {
        [self.segment.to_be_bytes(), self.offset.to_be_bytes()].concat()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 16 {
            return None;
        }
        Some(Checkpoint {
            segment: be_u64(&bytes[..8])?,
            offset: be_u64(&bytes[8..])?,
        })
    }
}

pub(crate) fn encode_location(location: &RecordLocation) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(&location.segment.to_be_bytes());
    out.extend_from_slice(&location.offset.to_be_bytes());
    out.extend_from_slice(&location.length.to_be_bytes());
    out
}

pub(crate) fn decode_location(bytes: &[u8]) -> Option<RecordLocation> {
    if bytes.len() != 20 {
        return None;
    }
    Some(RecordLocation {
        segment: be_u64(&bytes[..8])?,
        offset: be_u64(&bytes[8..16])?,
        length: u32::from_be_bytes(bytes[16..].try_into().ok()?),
    })
}

impl ChannelInfo {
    /// `height | len | current_hash | len | previous_hash`; hashes are at most 255 bytes (they are
    /// SHA-256 digests, or whatever a genesis block carried, cut to that bound).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(8 + 2 + self.current_hash.len() + self.previous_hash.len());
        out.extend_from_slice(&self.height.to_be_bytes());
        for hash in [&self.current_hash, &self.previous_hash] {
            let len = hash.len().min(usize::from(u8::MAX));
            out.push(len as u8);
            out.extend_from_slice(&hash[..len]);
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let height = be_u64(bytes.get(..8)?)?;
        let mut rest = &bytes[8..];
        let mut hashes = [Vec::new(), Vec::new()];
        for hash in &mut hashes {
            let len = usize::from(*rest.first()?);
            *hash = rest.get(1..1 + len)?.to_vec();
            rest = &rest[1 + len..];
        }
        if !rest.is_empty() {
            return None;
        }
        let [current_hash, previous_hash] = hashes;
        Some(ChannelInfo {
            height,
            current_hash,
            previous_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let info = ChannelInfo {
            height: 7,
            current_hash: vec![1; 32],
            previous_hash: vec![],
        };
        assert_eq!(ChannelInfo::decode(&info.encode()), Some(info));
        assert_eq!(ChannelInfo::decode(&[0; 9]), None);
        let loc = RecordLocation {
            segment: 3,
            offset: 99,
            length: 12,
        };
        assert_eq!(decode_location(&encode_location(&loc)), Some(loc));
        let cp = Checkpoint {
            segment: 2,
            offset: 8,
        };
        assert_eq!(Checkpoint::decode(&cp.encode()), Some(cp));
    }

    #[test]
    fn keys_of_different_channels_do_not_overlap() {
        // "ab" must not be a prefix of "abc"'s keys: the length byte separates them.
        assert!(!block_key("abc", 0).starts_with(&channel_prefix("ab")));
        assert!(block_key("ab", 0).starts_with(&channel_prefix("ab")));
        // Block keys sort by number.
        assert!(block_key("c", 255) < block_key("c", 256));
        let prefix = txid_prefix("c", "tx1");
        assert_eq!(
            parse_txid_key(prefix.len(), &txid_key("c", "tx1", 9, 4)),
            Some((9, 4))
        );
        // A longer txid sharing the prefix text is kept apart by the length byte.
        assert!(!txid_key("c", "tx12", 0, 0).starts_with(&prefix));
    }
}

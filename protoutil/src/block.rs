//! Block hashing as Fabric defines it.
//!
//! A block's header hash is SHA-256 over the DER encoding of
//! `SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }`, the
//! layout Go's `encoding/asn1` writes for Fabric's header struct (the number is a minimal
//! two's-complement big integer). The data hash is SHA-256 over the concatenated envelopes.

use fabric_protos::common::{Block, BlockData, BlockHeader, BlockMetadata, BlockMetadataIndex};

const DER_INTEGER: u8 = 0x02;
const DER_OCTET_STRING: u8 = 0x04;
const DER_SEQUENCE: u8 = 0x30;

/// Number of metadata slots a block carries (SIGNATURES through COMMIT_HASH).
pub const METADATA_SLOTS: usize = BlockMetadataIndex::CommitHash as usize + 1;

fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

fn der_tlv(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    der_length(value.len(), out);
    out.extend_from_slice(value);
}

/// Minimal two's-complement big-endian bytes of a non-negative integer, as DER wants them.
fn der_unsigned(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut value = Vec::with_capacity(9);
    if bytes[skip] & 0x80 != 0 {
        value.push(0);
    }
    value.extend_from_slice(&bytes[skip..]);
    value
}

/// The bytes Fabric hashes to identify a block header.
pub fn block_header_bytes(header: &BlockHeader) -> Vec<u8> {
    let mut body = Vec::with_capacity(header.previous_hash.len() + header.data_hash.len() + 16);
    der_tlv(DER_INTEGER, &der_unsigned(header.number), &mut body);
    der_tlv(DER_OCTET_STRING, &header.previous_hash, &mut body);
    der_tlv(DER_OCTET_STRING, &header.data_hash, &mut body);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_tlv(DER_SEQUENCE, &body, &mut out);
    out
}

/// The hash the next block carries as `previous_hash`.
pub fn block_header_hash(header: &BlockHeader) -> [u8; 32] {
    crate::sha256(&block_header_bytes(header))
}

/// SHA-256 over the concatenation of every envelope in the block.
pub fn block_data_hash(data: &BlockData) -> [u8; 32] {
    let mut hasher = openssl::sha::Sha256::new();
    for envelope in &data.data {
        hasher.update(envelope);
    }
    hasher.finish()
}

/// An empty block with the given number and previous hash and five empty metadata slots.
pub fn new_block(number: u64, previous_hash: Vec<u8>) -> Block {
    Block {
        header: Some(BlockHeader {
            number,
            previous_hash,
            data_hash: Vec::new(),
        }),
        data: Some(BlockData::default()),
        metadata: Some(BlockMetadata {
            metadata: vec![Vec::new(); METADATA_SLOTS],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(number: u64, previous: &[u8], data: &[u8]) -> BlockHeader {
        BlockHeader {
            number,
            previous_hash: previous.to_vec(),
            data_hash: data.to_vec(),
        }
    }

    #[test]
    fn header_bytes_match_go_asn1_layout() {
        // Expected bytes below were printed by Go's asn1.Marshal for the same header struct.
        assert_eq!(
            block_header_bytes(&header(0, &[], &[])),
            vec![0x30, 0x07, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]
        );
        // 128 needs a leading zero byte to stay positive.
        assert_eq!(
            block_header_bytes(&header(128, &[0xaa], &[0xbb, 0xcc])),
            vec![
                0x30, 0x0b, 0x02, 0x02, 0x00, 0x80, 0x04, 0x01, 0xaa, 0x04, 0x02, 0xbb, 0xcc
            ]
        );
        // u64::MAX: nine content bytes, the first one zero.
        assert_eq!(
            hex::encode(block_header_bytes(&header(u64::MAX, &[], &[]))),
            "300f020900ffffffffffffffff04000400"
        );
    }

    #[test]
    fn long_hashes_use_long_form_lengths() {
        let h = [7u8; 32];
        let bytes = block_header_bytes(&header(5, &h, &h));
        // 3 (INTEGER) + 34 + 34 = 71 bytes of content: still short form.
        assert_eq!(bytes[0..2], [0x30, 71]);
        let big = vec![1u8; 200];
        let bytes = block_header_bytes(&header(1, &big, &[]));
        assert_eq!(bytes[0..4], [0x30, 0x81, 208, 0x02]);
        assert_eq!(bytes[6..9], [0x04, 0x81, 200]);
    }

    #[test]
    fn data_hash_is_hash_of_concatenation() {
        let data = BlockData {
            data: vec![b"ab".to_vec(), b"c".to_vec()],
        };
        assert_eq!(block_data_hash(&data), crate::sha256(b"abc"));
    }

    #[test]
    fn new_block_has_five_metadata_slots() {
        let block = new_block(3, vec![1, 2]);
        assert_eq!(block.metadata.unwrap().metadata.len(), 5);
        assert_eq!(block.header.unwrap().number, 3);
    }
}

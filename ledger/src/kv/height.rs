//! Versions of state entries: the height (block number, transaction index) of the transaction
//! that last wrote them, encoded as Fabric encodes `version.Height` (F25
//! core/ledger/internal/version/version.go).
//!
//! Each number is an order-preserving varint: one byte giving how many significant big-endian
//! bytes follow (0 to 8), then those bytes (F25 common/ledger/util/util.go). Zero is the single
//! byte `0x00`. Comparing two encodings byte-wise therefore orders them like the numbers.

use std::fmt;

use super::KvError;

/// Height of a transaction in a channel's chain; ordered by block number, then transaction index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height {
    pub block_num: u64,
    pub tx_num: u64,
}

impl Height {
    pub const fn new(block_num: u64, tx_num: u64) -> Self {
        Self { block_num, tx_num }
    }

    /// Fabric's byte form: two order-preserving varints, block number first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(18);
        encode_ordered_u64(self.block_num, &mut out);
        encode_ordered_u64(self.tx_num, &mut out);
        out
    }

    /// Parses the byte form, returning the height and the number of bytes it took.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, usize), KvError> {
        let (block_num, n1) = decode_ordered_u64(bytes)?;
        let (tx_num, n2) = decode_ordered_u64(&bytes[n1..])?;
        Ok((Self::new(block_num, tx_num), n1 + n2))
    }

    /// The height carried by a read-set version.
    pub fn from_proto(version: &fabric_protos::kvrwset::Version) -> Self {
        Self::new(version.block_num, version.tx_num)
    }

    pub fn to_proto(self) -> fabric_protos::kvrwset::Version {
        fabric_protos::kvrwset::Version {
            block_num: self.block_num,
            tx_num: self.tx_num,
        }
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.block_num, self.tx_num)
    }
}

/// Appends `n` as an order-preserving varint.
pub fn encode_ordered_u64(n: u64, out: &mut Vec<u8>) {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    // At most 8 significant bytes, so the length always fits one byte.
    out.push((8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Reads an order-preserving varint from the front of `bytes`; returns it and its encoded length.
///
/// Like Fabric, a length byte above 8 or a number cut short is an error; leading zero bytes
/// in the number are accepted.
pub fn decode_ordered_u64(bytes: &[u8]) -> Result<(u64, usize), KvError> {
    let Some(&len) = bytes.first() else {
        return Err(KvError::BadVersionBytes("empty input".into()));
    };
    let len = usize::from(len);
    if len > 8 {
        return Err(KvError::BadVersionBytes(format!(
            "length byte {len} is above 8"
        )));
    }
    let Some(digits) = bytes.get(1..=len) else {
        return Err(KvError::BadVersionBytes(format!(
            "length byte {len} but only {} bytes follow",
            bytes.len() - 1
        )));
    };
    let mut buf = [0u8; 8];
    buf[8 - len..].copy_from_slice(digits);
    Ok((u64::from_be_bytes(buf), len + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Mirrors Fabric's encoding: size byte then the big-endian significant bytes.
    #[test]
    fn encodes_like_fabric() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01, 0x01]),
            (255, &[0x01, 0xff]),
            (256, &[0x02, 0x01, 0x00]),
            (
                u64::MAX,
                &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
        ];
        for (n, want) in cases {
            let mut out = Vec::new();
            encode_ordered_u64(*n, &mut out);
            assert_eq!(&out, want, "{n}");
            assert_eq!(decode_ordered_u64(&out).unwrap(), (*n, want.len()));
        }
        assert_eq!(Height::new(1, 0).to_bytes(), vec![0x01, 0x01, 0x00]);
    }

    #[test]
    fn byte_order_matches_numeric_order() {
        let heights = [
            Height::new(0, 0),
            Height::new(0, 1),
            Height::new(0, 300),
            Height::new(1, 0),
            Height::new(255, 7),
            Height::new(256, 0),
            Height::new(u64::MAX, u64::MAX),
        ];
        for pair in heights.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].to_bytes() < pair[1].to_bytes(), "{pair:?}");
        }
        for h in heights {
            let bytes = h.to_bytes();
            assert_eq!(Height::from_bytes(&bytes).unwrap(), (h, bytes.len()));
        }
    }

    #[test]
    fn rejects_malformed_bytes() {
        for bad in [&[][..], &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[2, 1], &[1, 1]] {
            assert!(Height::from_bytes(bad).is_err(), "{bad:?}");
        }
    }
}

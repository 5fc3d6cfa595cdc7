//! Bounded decoding of wire messages that arrive from the network or from files.

use prost::Message;

/// Messages larger than this are refused before decoding (Fabric's default gRPC limit is
/// 100 MiB, which is also the largest block a Weft node accepts).
pub const MESSAGE_SIZE_MAX_BYTES: usize = 100 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("{what} is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("{what} could not be decoded: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error("{what} is missing")]
    Missing { what: &'static str },
}

/// Decodes `bytes` as `M`, naming `what` in the error.
pub fn decode<M: Message + Default>(what: &'static str, bytes: &[u8]) -> Result<M, DecodeError> {
    decode_bounded(what, bytes, MESSAGE_SIZE_MAX_BYTES)
}

/// Decodes `bytes` as `M` after checking them against `limit`.
pub fn decode_bounded<M: Message + Default>(
    what: &'static str,
    bytes: &[u8],
    limit: usize,
) -> Result<M, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            what,
            size: bytes.len(),
            limit,
        });
    }
    M::decode(bytes).map_err(|e| DecodeError::Malformed {
        what,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::Envelope;

    #[test]
    fn decodes_and_bounds() {
        let env = Envelope {
            payload: vec![1, 2, 3],
            signature: vec![4],
        };
        let bytes = env.encode_to_vec();
        assert_eq!(decode::<Envelope>("envelope", &bytes).unwrap(), env);
        assert!(matches!(
            decode_bounded::<Envelope>("envelope", &bytes, 2),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            decode::<Envelope>("envelope", &[0x0a, 0x05, 1]),
            Err(DecodeError::Malformed { .. })
        ));
    }
}

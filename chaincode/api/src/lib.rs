//! The contract between the peer and a chaincode, shared by the endorser (which implements the
//! stub over its transaction simulator), the WASM runtime (which exposes the stub to guest code
//! through its host ABI) and the system chaincodes (`_lifecycle`, `cscc`, `qscc`), which are
//! plain Rust implementations of [`Chaincode`].
//!
//! This mirrors what Fabric's Go shim calls `ChaincodeStubInterface`, reduced to what a peer has to
//! serve. The stub is scoped to one invocation of one chaincode: every state call reads and writes
//! the namespace of the chaincode being invoked, and the simulator behind it records the reads and
//! writes that become the transaction's read-write set.
//!
//! The trait is synchronous on purpose: chaincode runs on a blocking worker (WASM guests call the
//! host synchronously) and the state database is a local leveldb.

use std::collections::BTreeMap;

/// Status codes a chaincode response carries, as in Fabric's shim: below 400 is success,
/// 400..500 is a client error, 500 and above is an error. The endorser treats anything at or above
/// [`ERROR_THRESHOLD`] as a failed simulation.
pub const OK: i32 = 200;
pub const ERROR_THRESHOLD: i32 = 400;
pub const ERROR: i32 = 500;

/// What a chaincode invocation returns: Fabric's `protos.Response` as plain Rust values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: i32,
    pub message: String,
    pub payload: Vec<u8>,
}

impl Response {
    pub fn success(payload: Vec<u8>) -> Self {
        Response {
            status: OK,
            message: String::new(),
            payload,
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Response {
            status: ERROR,
            message: message.into(),
            payload: Vec::new(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.status >= ERROR_THRESHOLD
    }
}

/// A failed stub call. The chaincode usually turns it into an error [`Response`]; the endorser
/// decides whether the whole simulation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StubError {
    /// The request itself is wrong (empty key, key not valid UTF-8, start key after end key,
    /// unknown collection...). The message says which argument and why.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The peer does not support this call (for example rich queries on leveldb).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The caller may not do this (for example write private data of a collection its org is not
    /// a member of, or read private data on a peer that is not eligible).
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// A bound was exceeded (too many results, value too large, too many nested invocations).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The state database or another peer component failed.
    #[error("peer error: {0}")]
    Internal(String),
}

/// One key-value pair of a range or history result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
}

/// One page of a range query. `bookmark` is empty when the range is exhausted; otherwise pass it
/// back as the start of the next page (Fabric's `QueryResponseMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangePage {
    pub items: Vec<KeyValue>,
    pub bookmark: String,
    pub fetched_records_count: u32,
}

/// One historic value of a key (Fabric's `queryresult.KeyModification`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyModification {
    pub tx_id: String,
    pub value: Vec<u8>,
    /// Seconds and nanoseconds of the transaction's channel-header timestamp.
    pub timestamp_seconds: i64,
    pub timestamp_nanos: i32,
    pub is_delete: bool,
}

/// Metadata of a key: named entries, such as `VALIDATION_PARAMETER` for key-level endorsement.
pub type StateMetadata = BTreeMap<String, Vec<u8>>;

/// The metadata entry name Fabric uses for a key-level endorsement policy.
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

/// Everything a chaincode can ask of the peer during one invocation.
///
/// Range bounds follow Fabric: `start` inclusive, `end` exclusive, an empty `end` means "to the
/// end of the namespace"; composite keys use Fabric's encoding (see [`composite_key`]).
/// `page_size == 0` means no pagination (the peer still bounds the result).
pub trait ChaincodeStub {
    // Invocation context.
    fn channel_id(&self) -> &str;
    fn tx_id(&self) -> &str;
    /// The invocation's arguments; the first is conventionally the function name.
    fn args(&self) -> &[Vec<u8>];
    /// The serialized identity (`msp.SerializedIdentity` bytes) of the proposal's creator.
    fn creator(&self) -> &[u8];
    fn transient(&self) -> &BTreeMap<String, Vec<u8>>;
    /// The `protos.SignedProposal` bytes, for chaincodes that verify it themselves.
    fn signed_proposal(&self) -> &[u8];
    /// The channel header's timestamp: (seconds, nanos). Deterministic across endorsers.
    fn tx_timestamp(&self) -> (i64, i32);
    /// Fabric's binding: SHA-256 over nonce, creator and epoch.
    fn binding(&self) -> &[u8];

    // Public state of this chaincode's namespace.
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError>;
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), StubError>;
    fn del_state(&mut self, key: &str) -> Result<(), StubError>;
    fn get_state_metadata(&mut self, key: &str) -> Result<StateMetadata, StubError>;
    fn set_state_metadata(&mut self, key: &str, name: &str, value: &[u8]) -> Result<(), StubError>;
    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage, StubError>;
    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError>;

    // Private data of a collection of this chaincode.
    fn get_private_data(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError>;
    fn get_private_data_hash(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError>;
    fn put_private_data(
        &mut self,
        collection: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(), StubError>;
    fn del_private_data(&mut self, collection: &str, key: &str) -> Result<(), StubError>;
    fn get_private_data_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<KeyValue>, StubError>;
    fn get_private_data_metadata(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<StateMetadata, StubError>;
    fn set_private_data_metadata(
        &mut self,
        collection: &str,
        key: &str,
        name: &str,
        value: &[u8],
    ) -> Result<(), StubError>;

    /// Reads a key of another namespace on this channel, recording the read in this
    /// transaction's read set. Only system chaincodes need it: Fabric's `_lifecycle` looks for
    /// a legacy (`lscc`) definition of a chaincode it validates, and that read is part of the
    /// read-write set every endorser must produce identically. The default refuses.
    fn get_state_of_namespace(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        let _ = key;
        Err(StubError::Unsupported(format!(
            "reading namespace {namespace} from this chaincode"
        )))
    }

    /// Sets the transaction's chaincode event; a later call replaces an earlier one (as Fabric).
    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), StubError>;

    /// Calls another chaincode. An empty `channel` (or this channel) runs it in this transaction's
    /// simulation; another channel is query-only, as in Fabric.
    fn invoke_chaincode(
        &mut self,
        chaincode: &str,
        args: &[Vec<u8>],
        channel: &str,
    ) -> Result<Response, StubError>;
}

/// A chaincode the peer can run: a WASM module behind the runtime, or a system chaincode.
pub trait Chaincode: Send + Sync {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Response;
}

/// Fabric's composite-key encoding: U+0000, object type, U+0000, then each attribute followed by
/// U+0000. Returns an error for empty object types or parts containing U+0000 or U+10FFFF.
pub fn composite_key(object_type: &str, attributes: &[&str]) -> Result<String, StubError> {
    check_composite_part(object_type)?;
    let mut key = String::with_capacity(
        2 + object_type.len() + attributes.iter().map(|a| a.len() + 1).sum::<usize>(),
    );
    key.push(COMPOSITE_KEY_NAMESPACE);
    key.push_str(object_type);
    key.push(COMPOSITE_KEY_NAMESPACE);
    for attribute in attributes {
        check_composite_part(attribute)?;
        key.push_str(attribute);
        key.push(COMPOSITE_KEY_NAMESPACE);
    }
    Ok(key)
}

/// Splits a key made by [`composite_key`] into object type and attributes.
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>), StubError> {
    let rest = key
        .strip_prefix(COMPOSITE_KEY_NAMESPACE)
        .ok_or_else(|| StubError::InvalidArgument(format!("{key:?} is not a composite key")))?;
    let mut parts: Vec<String> = rest
        .split(COMPOSITE_KEY_NAMESPACE)
        .map(str::to_owned)
        .collect();
    // A well-formed key ends with the separator, leaving one empty trailing part.
    if parts.pop().as_deref() != Some("") || parts.is_empty() {
        return Err(StubError::InvalidArgument(format!(
            "{key:?} is not a composite key"
        )));
    }
    let object_type = parts.remove(0);
    Ok((object_type, parts))
}

/// The first character of every composite key (Fabric's `compositeKeyNamespace`).
pub const COMPOSITE_KEY_NAMESPACE: char = '\u{0}';
/// The largest code point, used by Fabric as the exclusive end of a partial-key range.
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';

fn check_composite_part(part: &str) -> Result<(), StubError> {
    if part.contains(COMPOSITE_KEY_NAMESPACE) || part.contains(MAX_UNICODE_RUNE) {
        return Err(StubError::InvalidArgument(format!(
            "composite key part {part:?} contains U+0000 or U+10FFFF"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fabric's shim: CreateCompositeKey("asset", ["a","b"]) == "\x00asset\x00a\x00b\x00".
    #[test]
    fn composite_key_round_trips_in_fabric_encoding() {
        let key = composite_key("asset", &["a", "b"]).unwrap();
        assert_eq!(key, "\u{0}asset\u{0}a\u{0}b\u{0}");
        let (object_type, attributes) = split_composite_key(&key).unwrap();
        assert_eq!(object_type, "asset");
        assert_eq!(attributes, vec!["a".to_owned(), "b".to_owned()]);
    }

    #[test]
    fn composite_key_rejects_separator_inside_parts() {
        assert!(composite_key("as\u{0}set", &[]).is_err());
        assert!(composite_key("asset", &["\u{10FFFF}"]).is_err());
        assert!(split_composite_key("plain").is_err());
    }

    #[test]
    fn response_status_threshold_matches_shim() {
        assert!(!Response::success(vec![]).is_error());
        assert!(Response::error("boom").is_error());
        assert!(
            Response {
                status: 399,
                ..Default::default()
            }
            .status
                < ERROR_THRESHOLD
        );
    }
}

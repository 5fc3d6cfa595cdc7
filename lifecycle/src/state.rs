//! Fabric's `_lifecycle` state layout: how a record (a chaincode definition, an org's approved
//! parameters, the package an org chose) is spread over keys.
//!
//! A record named `<name>` under a prefix (`namespaces` or `chaincode-sources`) occupies
//! - `<prefix>/metadata/<name>`: a `lifecycle.StateMetadata` with the record's type name and the
//!   names of its fields, and
//! - `<prefix>/fields/<name>/<Field>`: one `lifecycle.StateData` per field (an int64, bytes, or a
//!   string; nested protobuf messages are stored as their marshalled bytes).
//!
//! Committed definitions live in the public `_lifecycle` namespace under their chaincode name; an
//! org's approvals live in its implicit collection under `<chaincode>#<sequence>`. Other orgs only
//! see the hashes of those private values, so the bytes must be exactly Fabric's: commit readiness
//! compares sha256 of the values this peer would write with the hashes another org's peer wrote
//! (Fabric's `core/chaincode/lifecycle/serializer.go`).
//!
//! Writing follows Fabric's rule that unchanged values are not written again, so a re-approval or
//! a redefinition produces the same write set as on a Go peer.

use std::collections::BTreeMap;

use fabric_protos::lifecycle::{StateData, StateMetadata, state_data};
use prost::Message;

use crate::error::{Context, LifecycleError};

/// The `_lifecycle` namespace, and the name of the system chaincode.
pub const LIFECYCLE_NAMESPACE: &str = "_lifecycle";
/// Prefix of chaincode definitions (public) and approved parameters (implicit collections).
pub const NAMESPACES_PREFIX: &str = "namespaces";
/// Prefix of the package an org approved, kept only in the org's implicit collection.
pub const CHAINCODE_SOURCES_PREFIX: &str = "chaincode-sources";
/// Prefix of an org's implicit collection name: `_implicit_org_<MSPID>`.
pub const IMPLICIT_COLLECTION_PREFIX: &str = "_implicit_org_";

/// The key holding a record's `StateMetadata`.
pub fn metadata_key(prefix: &str, name: &str) -> String {
    format!("{prefix}/metadata/{name}")
}

/// The key holding one field of a record.
pub fn field_key(prefix: &str, name: &str, field: &str) -> String {
    format!("{prefix}/fields/{name}/{field}")
}

/// The record name of an org's approval for one sequence: `<chaincode>#<sequence>`.
pub fn private_name(chaincode: &str, sequence: i64) -> String {
    format!("{chaincode}#{sequence}")
}

/// The implicit collection of an org.
pub fn implicit_collection_for_org(msp_id: &str) -> String {
    format!("{IMPLICIT_COLLECTION_PREFIX}{msp_id}")
}

/// The MSP ID of an implicit collection name, if it is one.
pub fn msp_id_of_implicit_collection(collection: &str) -> Option<&str> {
    collection.strip_prefix(IMPLICIT_COLLECTION_PREFIX)
}

/// The key range holding the metadata of every record under `namespaces` (Fabric ranges to the
/// prefix followed by `\x7f`, since names are printable ASCII).
pub fn definitions_range() -> (String, String) {
    let prefix = format!("{NAMESPACES_PREFIX}/metadata/");
    let end = format!("{prefix}\u{7f}");
    (prefix, end)
}

/// State that can be read key by key (public `_lifecycle` state or one collection).
pub trait ReadableState {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError>;
}

/// State that can also be written.
pub trait WritableState: ReadableState {
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LifecycleError>;
    fn del_state(&mut self, key: &str) -> Result<(), LifecycleError>;
}

/// Another org's implicit collection: only the sha256 of each value is visible.
pub trait OpaqueState {
    fn get_state_hash(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError>;
}

/// A field value as `lifecycle.StateData` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Int64(i64),
    Bytes(Vec<u8>),
    String(String),
}

impl FieldValue {
    /// The marshalled `StateData`. Oneof members are always encoded, so zero and empty values
    /// still produce a tag, exactly as Go's marshaller writes them.
    pub fn to_state_data_bytes(&self) -> Vec<u8> {
        let value = match self {
            FieldValue::Int64(v) => state_data::Type::Int64(*v),
            FieldValue::Bytes(v) => state_data::Type::Bytes(v.clone()),
            FieldValue::String(v) => state_data::Type::String(v.clone()),
        };
        StateData {
            r#type: Some(value),
        }
        .encode_to_vec()
    }
}

/// A struct Fabric stores with its serializer. `FIELDS` is the Go struct's field order, which is
/// part of the wire format (it is written into the metadata and fixes which keys exist).
pub trait Record: Sized {
    /// The Go type name written as `StateMetadata.datatype`.
    const DATATYPE: &'static str;
    /// The Go field names, in declaration order.
    const FIELDS: &'static [&'static str];

    /// The values of [`Self::FIELDS`], in the same order.
    fn to_fields(&self) -> Vec<FieldValue>;

    /// Builds the record from its stored fields, in [`Self::FIELDS`] order. A field that was never
    /// written arrives as a `StateData` with no value and decodes to its zero value (Go does the
    /// same).
    fn from_fields(fields: FieldReader<'_>) -> Result<Self, LifecycleError>;
}

/// Typed access to the stored fields of one record while decoding it.
pub struct FieldReader<'a> {
    prefix: &'a str,
    name: &'a str,
    values: BTreeMap<&'static str, StateData>,
}

impl FieldReader<'_> {
    fn take(&mut self, field: &'static str) -> Option<state_data::Type> {
        self.values.remove(field).and_then(|data| data.r#type)
    }

    fn wrong_type(&self, field: &str, expected: &str, found: &state_data::Type) -> LifecycleError {
        let found = match found {
            state_data::Type::Int64(_) => "Int64",
            state_data::Type::Bytes(_) => "Bytes",
            state_data::Type::String(_) => "String",
        };
        LifecycleError::Corrupt {
            what: "field",
            key: field_key(self.prefix, self.name, field),
            reason: format!("expected a value of type {expected}, but was {found}"),
        }
    }

    pub fn int64(&mut self, field: &'static str) -> Result<i64, LifecycleError> {
        match self.take(field) {
            None => Ok(0),
            Some(state_data::Type::Int64(v)) => Ok(v),
            Some(other) => Err(self.wrong_type(field, "Int64", &other)),
        }
    }

    pub fn string(&mut self, field: &'static str) -> Result<String, LifecycleError> {
        match self.take(field) {
            None => Ok(String::new()),
            Some(state_data::Type::String(v)) => Ok(v),
            Some(other) => Err(self.wrong_type(field, "String", &other)),
        }
    }

    pub fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>, LifecycleError> {
        match self.take(field) {
            None => Ok(Vec::new()),
            Some(state_data::Type::Bytes(v)) => Ok(v),
            Some(other) => Err(self.wrong_type(field, "[]byte", &other)),
        }
    }

    /// A nested protobuf message stored as bytes; a missing field decodes to the empty message.
    pub fn message<M: Message + Default>(
        &mut self,
        field: &'static str,
    ) -> Result<M, LifecycleError> {
        let bytes = self.bytes(field)?;
        M::decode(bytes.as_slice()).map_err(|e| LifecycleError::Corrupt {
            what: "message",
            key: field_key(self.prefix, self.name, field),
            reason: e.to_string(),
        })
    }
}

/// Reads and decodes the metadata of a record; `None` when the record does not exist.
pub fn read_metadata(
    prefix: &str,
    name: &str,
    state: &mut dyn ReadableState,
) -> Result<Option<StateMetadata>, LifecycleError> {
    let key = metadata_key(prefix, name);
    let Some(bytes) = state
        .get_state(&key)
        .context(|| format!("could not query metadata for namespace {prefix}/{name}"))?
    else {
        return Ok(None);
    };
    StateMetadata::decode(bytes.as_slice())
        .map(Some)
        .map_err(|e| LifecycleError::Corrupt {
            what: "metadata",
            key,
            reason: e.to_string(),
        })
}

/// Reads one field's `StateData`; a missing key reads as an empty `StateData`.
pub fn read_field(
    prefix: &str,
    name: &str,
    field: &str,
    state: &mut dyn ReadableState,
) -> Result<StateData, LifecycleError> {
    let key = field_key(prefix, name, field);
    let bytes = state
        .get_state(&key)
        .context(|| format!("could not get state for key {key}"))?
        .unwrap_or_default();
    StateData::decode(bytes.as_slice()).map_err(|e| LifecycleError::Corrupt {
        what: "state",
        key,
        reason: e.to_string(),
    })
}

/// Reads an int64 field (used for `Sequence`, which Fabric reads without the metadata).
pub fn read_int64_field(
    prefix: &str,
    name: &str,
    field: &'static str,
    state: &mut dyn ReadableState,
) -> Result<i64, LifecycleError> {
    let data = read_field(prefix, name, field, state)?;
    let mut reader = FieldReader {
        prefix,
        name,
        values: BTreeMap::from([(field, data)]),
    };
    reader.int64(field)
}

/// Decodes a record whose metadata was read with [`read_metadata`]. Fails when the stored type
/// is another one, as Fabric does.
pub fn deserialize<R: Record>(
    prefix: &str,
    name: &str,
    metadata: &StateMetadata,
    state: &mut dyn ReadableState,
) -> Result<R, LifecycleError> {
    if metadata.datatype != R::DATATYPE {
        return Err(LifecycleError::rejected(format!(
            "type name mismatch '{}' != '{}'",
            R::DATATYPE,
            metadata.datatype
        )));
    }
    let mut values = BTreeMap::new();
    for field in R::FIELDS {
        values.insert(*field, read_field(prefix, name, field, state)?);
    }
    R::from_fields(FieldReader {
        prefix,
        name,
        values,
    })
}

/// Reads a whole record: `None` when its metadata is absent.
pub fn read_record<R: Record>(
    prefix: &str,
    name: &str,
    state: &mut dyn ReadableState,
) -> Result<Option<R>, LifecycleError> {
    match read_metadata(prefix, name, state)? {
        None => Ok(None),
        Some(metadata) => deserialize(prefix, name, &metadata, state).map(Some),
    }
}

/// The marshalled `StateMetadata` of a record type.
pub fn metadata_bytes<R: Record>() -> Vec<u8> {
    StateMetadata {
        datatype: R::DATATYPE.to_owned(),
        fields: R::FIELDS.iter().map(|f| (*f).to_owned()).collect(),
    }
    .encode_to_vec()
}

/// Every key and value a record occupies when written from scratch, metadata first, then the
/// fields in declaration order.
pub fn record_entries<R: Record>(prefix: &str, name: &str, record: &R) -> Vec<(String, Vec<u8>)> {
    let mut entries = vec![(metadata_key(prefix, name), metadata_bytes::<R>())];
    for (field, value) in R::FIELDS.iter().zip(record.to_fields()) {
        entries.push((field_key(prefix, name, field), value.to_state_data_bytes()));
    }
    entries
}

/// Writes a record the way Fabric's serializer does: fields whose stored bytes already match are
/// left alone, the metadata is rewritten only when its type or field count changed or stale
/// fields exist, and fields the old metadata listed but the record no longer has are deleted.
pub fn serialize<R: Record>(
    prefix: &str,
    name: &str,
    record: &R,
    state: &mut dyn WritableState,
) -> Result<(), LifecycleError> {
    let metadata = read_metadata(prefix, name, state)
        .context(|| format!("could not deserialize metadata for namespace {prefix}/{name}"))?
        .unwrap_or_default();

    let mut existing: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for field in &metadata.fields {
        let key = field_key(prefix, name, field);
        let value = state
            .get_state(&key)
            .context(|| format!("could not get value for key {key}"))?;
        existing.insert(key, value);
    }

    for (field, value) in R::FIELDS.iter().zip(record.to_fields()) {
        let key = field_key(prefix, name, field);
        let bytes = value.to_state_data_bytes();
        let unchanged = matches!(existing.get(&key), Some(Some(old)) if *old == bytes);
        if !unchanged {
            state
                .put_state(&key, &bytes)
                .context(|| "could not write key into state".to_owned())?;
        }
        existing.remove(&key);
    }

    if !existing.is_empty()
        || metadata.datatype != R::DATATYPE
        || metadata.fields.len() != R::FIELDS.len()
    {
        state
            .put_state(&metadata_key(prefix, name), &metadata_bytes::<R>())
            .context(|| format!("could not store metadata for namespace {prefix}/{name}"))?;
    }

    for key in existing.keys() {
        state
            .del_state(key)
            .context(|| format!("could not delete unneeded key {key}"))?;
    }
    Ok(())
}

/// Whether another org's collection holds exactly this record (metadata and every field), judged
/// by hashes alone. This is how commit readiness sees other orgs' approvals.
pub fn is_serialized<R: Record>(
    prefix: &str,
    name: &str,
    record: &R,
    state: &mut dyn OpaqueState,
) -> Result<bool, LifecycleError> {
    // Fabric reads every hash before comparing any, so the read set is the same whatever matches.
    let mut hashes = Vec::with_capacity(R::FIELDS.len() + 1);
    for (key, value) in record_entries(prefix, name, record) {
        let hash = state
            .get_state_hash(&key)
            .context(|| format!("could not get value for key {key}"))?;
        hashes.push((hash, value));
    }
    Ok(hashes
        .iter()
        .all(|(hash, value)| hash.as_deref() == Some(sha256(value).as_slice())))
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_fabric_layout() {
        assert_eq!(
            metadata_key("namespaces", "mycc"),
            "namespaces/metadata/mycc"
        );
        assert_eq!(
            field_key("namespaces", "mycc#2", "Collections"),
            "namespaces/fields/mycc#2/Collections"
        );
        assert_eq!(
            implicit_collection_for_org("Org1MSP"),
            "_implicit_org_Org1MSP"
        );
        assert_eq!(
            msp_id_of_implicit_collection("_implicit_org_Org1MSP"),
            Some("Org1MSP")
        );
        assert_eq!(msp_id_of_implicit_collection("other"), None);
    }

    #[test]
    fn zero_values_still_carry_their_oneof_tag() {
        // Go writes a set oneof member even when it is zero.
        assert_eq!(FieldValue::Int64(0).to_state_data_bytes(), vec![0x08, 0x00]);
        assert_eq!(
            FieldValue::Bytes(vec![]).to_state_data_bytes(),
            vec![0x12, 0x00]
        );
        assert_eq!(
            FieldValue::String(String::new()).to_state_data_bytes(),
            vec![0x1a, 0x00]
        );
    }
}

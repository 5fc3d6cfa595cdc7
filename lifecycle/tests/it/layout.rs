//! The `_lifecycle` state layout against bytes built by hand from Fabric's serializer.go: the
//! keys a Go peer writes, and `StateMetadata`/`StateData` values encoded field by field.

use std::collections::BTreeMap;

use fabric_protos::lifecycle::{ChaincodeEndorsementInfo, ChaincodeValidationInfo};
use weft_lifecycle::state::{self, NAMESPACES_PREFIX, OpaqueState, ReadableState, WritableState};
use weft_lifecycle::{
    ChaincodeDefinition, ChaincodeLocalPackage, ChaincodeParameters, LifecycleError,
    committed_definition, default_endorsement_policy_bytes,
};

/// Protobuf length-delimited field, written by hand so the expectations do not depend on prost.
fn ld(field: u8, bytes: &[u8]) -> Vec<u8> {
    assert!(bytes.len() < 128);
    let mut out = vec![(field << 3) | 2, bytes.len() as u8];
    out.extend_from_slice(bytes);
    out
}

fn varint_field(field: u8, value: u8) -> Vec<u8> {
    assert!(value < 128);
    vec![field << 3, value]
}

/// StateMetadata{datatype, fields}.
fn metadata(datatype: &str, fields: &[&str]) -> Vec<u8> {
    let mut out = ld(1, datatype.as_bytes());
    for f in fields {
        out.extend(ld(2, f.as_bytes()));
    }
    out
}

fn endorsement_info_bytes(version: &str, plugin: &str, init: bool) -> Vec<u8> {
    let mut out = ld(1, version.as_bytes());
    if init {
        out.extend(varint_field(2, 1));
    }
    out.extend(ld(3, plugin.as_bytes()));
    out
}

fn validation_info_bytes(plugin: &str, parameter: &[u8]) -> Vec<u8> {
    let mut out = ld(1, plugin.as_bytes());
    out.extend(ld(2, parameter));
    out
}

fn sample_definition(sequence: i64) -> ChaincodeDefinition {
    ChaincodeDefinition {
        sequence,
        endorsement_info: ChaincodeEndorsementInfo {
            version: "1.0".into(),
            init_required: true,
            endorsement_plugin: "escc".into(),
        },
        validation_info: ChaincodeValidationInfo {
            validation_plugin: "vscc".into(),
            validation_parameter: default_endorsement_policy_bytes(),
        },
        collections: Default::default(),
    }
}

#[derive(Default)]
struct MapState {
    values: BTreeMap<String, Vec<u8>>,
    puts: Vec<String>,
    dels: Vec<String>,
}

impl ReadableState for MapState {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        Ok(self.values.get(key).cloned())
    }
}

impl WritableState for MapState {
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LifecycleError> {
        self.puts.push(key.to_owned());
        self.values.insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn del_state(&mut self, key: &str) -> Result<(), LifecycleError> {
        self.dels.push(key.to_owned());
        self.values.remove(key);
        Ok(())
    }
}

impl OpaqueState for MapState {
    fn get_state_hash(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        Ok(self
            .values
            .get(key)
            .map(|v| openssl::sha::sha256(v).to_vec()))
    }
}

// Fabric: lifecycle.go DefaultEndorsementPolicyBytes = ApplicationPolicy{ChannelConfigPolicyReference}.
#[test]
fn default_endorsement_policy_is_a_reference_to_the_channel_policy() {
    assert_eq!(
        default_endorsement_policy_bytes(),
        ld(2, b"/Channel/Application/Endorsement")
    );
}

// Fabric: Serializer.Serialize of a ChaincodeDefinition into the public _lifecycle namespace.
#[test]
fn committed_definition_has_fabric_keys_and_values() {
    let mut state = MapState::default();
    state::serialize(NAMESPACES_PREFIX, "mycc", &sample_definition(1), &mut state).unwrap();

    let policy = ld(2, b"/Channel/Application/Endorsement");
    let expected: BTreeMap<String, Vec<u8>> = [
        (
            "namespaces/metadata/mycc",
            metadata(
                "ChaincodeDefinition",
                &[
                    "Sequence",
                    "EndorsementInfo",
                    "ValidationInfo",
                    "Collections",
                ],
            ),
        ),
        ("namespaces/fields/mycc/Sequence", varint_field(1, 1)),
        (
            "namespaces/fields/mycc/EndorsementInfo",
            ld(2, &endorsement_info_bytes("1.0", "escc", true)),
        ),
        (
            "namespaces/fields/mycc/ValidationInfo",
            ld(2, &validation_info_bytes("vscc", &policy)),
        ),
        // An empty CollectionConfigPackage is still written, as zero-length bytes.
        ("namespaces/fields/mycc/Collections", vec![0x12, 0x00]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(state.values, expected);
}

// Fabric: approvals are ChaincodeParameters under <cc>#<seq> and ChaincodeLocalPackage under
// chaincode-sources.
#[test]
fn approval_records_have_fabric_keys_and_values() {
    let mut state = MapState::default();
    let name = state::private_name("mycc", 3);
    state::serialize(
        NAMESPACES_PREFIX,
        &name,
        &sample_definition(3).parameters(),
        &mut state,
    )
    .unwrap();
    state::serialize(
        state::CHAINCODE_SOURCES_PREFIX,
        &name,
        &ChaincodeLocalPackage {
            package_id: "basic_1.0:abcd".into(),
        },
        &mut state,
    )
    .unwrap();

    assert_eq!(
        state.values["namespaces/metadata/mycc#3"],
        metadata(
            "ChaincodeParameters",
            &["EndorsementInfo", "ValidationInfo", "Collections"]
        )
    );
    assert!(
        !state
            .values
            .contains_key("namespaces/fields/mycc#3/Sequence")
    );
    assert_eq!(
        state.values["chaincode-sources/metadata/mycc#3"],
        metadata("ChaincodeLocalPackage", &["PackageID"])
    );
    assert_eq!(
        state.values["chaincode-sources/fields/mycc#3/PackageID"],
        ld(3, b"basic_1.0:abcd")
    );
    assert_eq!(state.values.len(), 6);
}

// Fabric: Serialize does not rewrite unchanged values; only changed fields are put.
#[test]
fn reserializing_writes_only_what_changed() {
    let mut state = MapState::default();
    state::serialize(NAMESPACES_PREFIX, "mycc", &sample_definition(1), &mut state).unwrap();
    state.puts.clear();

    state::serialize(NAMESPACES_PREFIX, "mycc", &sample_definition(1), &mut state).unwrap();
    assert!(state.puts.is_empty());

    let mut next = sample_definition(2);
    next.endorsement_info.version = "2.0".into();
    state::serialize(NAMESPACES_PREFIX, "mycc", &next, &mut state).unwrap();
    assert_eq!(
        state.puts,
        vec![
            "namespaces/fields/mycc/Sequence".to_owned(),
            "namespaces/fields/mycc/EndorsementInfo".to_owned()
        ]
    );
    assert!(state.dels.is_empty());
}

// Fabric: fields listed by old metadata that the new type lacks are deleted and the metadata
// rewritten.
#[test]
fn changing_type_deletes_stale_fields() {
    let mut state = MapState::default();
    state::serialize(NAMESPACES_PREFIX, "x", &sample_definition(1), &mut state).unwrap();
    state::serialize(
        NAMESPACES_PREFIX,
        "x",
        &sample_definition(1).parameters(),
        &mut state,
    )
    .unwrap();
    assert_eq!(state.dels, vec!["namespaces/fields/x/Sequence".to_owned()]);
    assert_eq!(
        state.values["namespaces/metadata/x"],
        metadata(
            "ChaincodeParameters",
            &["EndorsementInfo", "ValidationInfo", "Collections"]
        )
    );
}

#[test]
fn committed_definition_reads_back_what_was_written() {
    let mut state = MapState::default();
    let definition = sample_definition(4);
    state::serialize(NAMESPACES_PREFIX, "mycc", &definition, &mut state).unwrap();

    let mut get =
        |key: &str| -> Result<Option<Vec<u8>>, String> { Ok(state.values.get(key).cloned()) };
    let read = committed_definition(&mut get, "mycc").unwrap().unwrap();
    assert_eq!(read, definition);
    assert_eq!(read.sequence(), 4);
    assert_eq!(read.version(), "1.0");
    assert_eq!(read.endorsement_plugin(), "escc");
    assert!(read.init_required());
    assert_eq!(read.validation_plugin(), "vscc");
    assert_eq!(
        read.validation_parameter(),
        default_endorsement_policy_bytes()
    );
    assert!(committed_definition(&mut get, "other").unwrap().is_none());
}

// Fabric: ChaincodeDefinitionIfDefined fails with "not a chaincode type" for other datatypes.
#[test]
fn committed_definition_rejects_other_types_and_garbage() {
    let mut values: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    values.insert(
        "namespaces/metadata/a".into(),
        metadata("ChaincodeParameters", &[]),
    );
    values.insert("namespaces/metadata/b".into(), vec![0xff, 0xff, 0xff]);
    values.insert(
        "namespaces/metadata/c".into(),
        metadata("ChaincodeDefinition", &["Sequence"]),
    );
    // Sequence stored as a string: a type error, not a silent zero.
    values.insert("namespaces/fields/c/Sequence".into(), ld(3, b"1"));
    let mut get = |key: &str| -> Result<Option<Vec<u8>>, String> { Ok(values.get(key).cloned()) };

    let err = committed_definition(&mut get, "a").unwrap_err();
    assert_eq!(err.to_string(), "not a chaincode type: ChaincodeParameters");
    assert!(committed_definition(&mut get, "b").is_err());
    let err = committed_definition(&mut get, "c").unwrap_err().to_string();
    assert!(err.contains("namespaces/fields/c/Sequence"), "{err}");

    let mut failing = |_: &str| -> Result<Option<Vec<u8>>, String> { Err("disk gone".into()) };
    let err = committed_definition(&mut failing, "a")
        .unwrap_err()
        .to_string();
    assert!(err.contains("disk gone"), "{err}");
}

// Fabric: IsSerialized compares sha256 of every key against the other org's hashes.
#[test]
fn hash_comparison_detects_any_difference() {
    let mut org = MapState::default();
    let name = state::private_name("mycc", 1);
    let params: ChaincodeParameters = sample_definition(1).parameters();
    state::serialize(NAMESPACES_PREFIX, &name, &params, &mut org).unwrap();
    assert!(state::is_serialized(NAMESPACES_PREFIX, &name, &params, &mut org).unwrap());

    let mut other = params.clone();
    other.endorsement_info.init_required = false;
    assert!(!state::is_serialized(NAMESPACES_PREFIX, &name, &other, &mut org).unwrap());
    assert!(
        !state::is_serialized(
            NAMESPACES_PREFIX,
            &state::private_name("mycc", 2),
            &params,
            &mut org
        )
        .unwrap()
    );
}

#[test]
fn lifecycle_policy_without_channel_policy_is_majority_of_members() {
    use fabric_protos::common::{MspRole, SignaturePolicyEnvelope, signature_policy};
    use fabric_protos::peer::{ApplicationPolicy, application_policy};
    use prost::Message;

    let bytes = weft_lifecycle::lifecycle_validation_parameter(
        false,
        &["Org3MSP".into(), "Org1MSP".into(), "Org2MSP".into()],
    );
    let policy = ApplicationPolicy::decode(bytes.as_slice()).unwrap();
    let Some(application_policy::Type::SignaturePolicy(SignaturePolicyEnvelope {
        rule,
        identities,
        ..
    })) = policy.r#type
    else {
        panic!("expected a signature policy");
    };
    let Some(signature_policy::Type::NOutOf(n_out_of)) = rule.unwrap().r#type else {
        panic!("expected n-out-of");
    };
    assert_eq!(n_out_of.n, 2);
    assert_eq!(n_out_of.rules.len(), 3);
    let ids: Vec<String> = identities
        .iter()
        .map(|p| {
            MspRole::decode(p.principal.as_slice())
                .unwrap()
                .msp_identifier
        })
        .collect();
    assert_eq!(ids, vec!["Org1MSP", "Org2MSP", "Org3MSP"]);

    assert_eq!(
        weft_lifecycle::lifecycle_validation_parameter(true, &[]),
        ld(2, b"/Channel/Application/LifecycleEndorsement")
    );
}

//! The endorser's and validator's lookups against `_lifecycle` state (Fabric's lifecycle cache,
//! ChaincodeEndorsementInfo, ValidatorCommitter.ValidationInfo and CollectionValidationInfo).

use fabric_protos::lifecycle as lb;
use fabric_protos::peer::{ApplicationPolicy, application_policy};
use prost::Message;
use weft_lifecycle::resolve::{self, ChannelPolicies};
use weft_lifecycle::{InstalledPackage, default_endorsement_policy_bytes};

use crate::fake::{Ledger, Peer, commit};

fn approve(peer: &Peer, ledger: &mut Ledger, sequence: i64, version: &str, package_id: &str) {
    let args = lb::ApproveChaincodeDefinitionForMyOrgArgs {
        sequence,
        name: "basic".into(),
        version: version.into(),
        source: Some(lb::ChaincodeSource {
            r#type: Some(lb::chaincode_source::Type::LocalPackage(
                lb::chaincode_source::Local {
                    package_id: package_id.into(),
                },
            )),
        }),
        ..Default::default()
    };
    let (response, rwset) = peer.call(ledger, "ApproveChaincodeDefinitionForMyOrg", &args);
    assert_eq!(response.status, 200, "{}", response.message);
    commit(ledger, rwset);
}

fn commit_definition(peer: &Peer, ledger: &mut Ledger, sequence: i64, version: &str) {
    let args = lb::CommitChaincodeDefinitionArgs {
        sequence,
        name: "basic".into(),
        version: version.into(),
        ..Default::default()
    };
    let (response, rwset) = peer.call(ledger, "CommitChaincodeDefinition", &args);
    assert_eq!(response.status, 200, "{}", response.message);
    commit(ledger, rwset);
}

fn installed(id: &str) -> InstalledPackage {
    let (label, _) = id.split_once(':').unwrap();
    InstalledPackage {
        package_id: id.to_owned(),
        label: label.to_owned(),
        hash: [0; 32],
    }
}

type Target =
    Result<Option<(weft_lifecycle::ChaincodeDefinition, String)>, weft_lifecycle::LifecycleError>;

fn target(ledger: &Ledger, msp_id: &str, packages: &[InstalledPackage]) -> Target {
    let collection = format!("_implicit_org_{msp_id}");
    let mut public =
        |k: &str| -> Result<Option<Vec<u8>>, String> { Ok(ledger.public.get(k).cloned()) };
    let mut hashes =
        |k: &str| -> Result<Option<Vec<u8>>, String> { Ok(ledger.private_hash(&collection, k)) };
    resolve::endorsement_target(&mut public, &mut hashes, "mychannel", "basic", packages)
}

// Fabric: the lifecycle cache finds this org's package by the hash of the approved PackageID,
// and ChaincodeEndorsementInfo refuses unapproved or uninstalled definitions.
#[test]
fn endorser_finds_the_package_this_org_approved() {
    let org1 = Peer::new("Org1MSP");
    let org2 = Peer::new("Org2MSP");
    let mut ledger = Ledger::default();
    let ours = format!("basic_1:{}", "1".repeat(64));
    let theirs = format!("basic_1:{}", "2".repeat(64));
    let packages = [installed(&theirs), installed(&ours)];

    assert!(target(&ledger, "Org1MSP", &packages).unwrap().is_none());

    approve(&org1, &mut ledger, 1, "1.0", &ours);
    approve(&org2, &mut ledger, 1, "1.0", &theirs);
    commit_definition(&org1, &mut ledger, 1, "1.0");

    let (definition, package_id) = target(&ledger, "Org1MSP", &packages).unwrap().unwrap();
    assert_eq!(package_id, ours);

    // The references QueryInstalledChaincode reports: Org1's package runs basic 1.0.
    let entries = ledger
        .public
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<Vec<_>>();
    let names = weft_lifecycle::definition::chaincode_names(entries).unwrap();
    assert_eq!(names, vec!["basic".to_owned()]);
    let mut public =
        |k: &str| -> Result<Option<Vec<u8>>, String> { Ok(ledger.public.get(k).cloned()) };
    let mut hashes = |k: &str| -> Result<Option<Vec<u8>>, String> {
        Ok(ledger.private_hash("_implicit_org_Org1MSP", k))
    };
    let references =
        resolve::package_references(&mut public, &mut hashes, &names, &packages).unwrap();
    assert_eq!(references.len(), 1);
    assert_eq!(
        references[&ours],
        vec![weft_lifecycle::ChaincodeReference {
            name: "basic".into(),
            version: "1.0".into()
        }]
    );
    assert_eq!(definition.sequence(), 1);
    let (_, package_id) = target(&ledger, "Org2MSP", &packages).unwrap().unwrap();
    assert_eq!(package_id, theirs);

    assert_eq!(
        target(&ledger, "Org1MSP", &[installed(&theirs)])
            .unwrap_err()
            .to_string(),
        "chaincode definition for 'basic' exists, but chaincode is not installed"
    );

    // Org2 approves a new sequence with another version; once committed, Org1 has not approved it.
    approve(&org2, &mut ledger, 2, "2.0", &theirs);
    approve(&org1, &mut ledger, 2, "2.1", &ours);
    let (response, rwset) = org2.call(
        &ledger,
        "CommitChaincodeDefinition",
        &lb::CommitChaincodeDefinitionArgs {
            sequence: 2,
            name: "basic".into(),
            version: "2.0".into(),
            ..Default::default()
        },
    );
    assert_eq!(response.status, 200, "{}", response.message);
    commit(&mut ledger, rwset);
    assert_eq!(
        target(&ledger, "Org1MSP", &packages)
            .unwrap_err()
            .to_string(),
        "chaincode definition for 'basic' at sequence 2 on channel 'mychannel' has not yet been approved by this org"
    );
}

fn policies() -> ChannelPolicies {
    ChannelPolicies {
        defines_lifecycle_endorsement: true,
        application_orgs: vec![
            ("Org1".into(), "Org1MSP".into(), true),
            ("Org2".into(), "Org2MSP".into(), false),
        ],
    }
}

// Fabric: ValidatorCommitter.ValidationInfo and CollectionValidationInfo.
#[test]
fn validator_gets_plugin_and_policies() {
    let org1 = Peer::new("Org1MSP");
    let mut ledger = Ledger::default();
    approve(&org1, &mut ledger, 1, "1.0", "");
    commit_definition(&org1, &mut ledger, 1, "1.0");
    let mut public =
        |k: &str| -> Result<Option<Vec<u8>>, String> { Ok(ledger.public.get(k).cloned()) };

    let info = resolve::namespace_validation_info(&mut public, "basic", &policies())
        .unwrap()
        .unwrap();
    assert_eq!(info.plugin, "vscc");
    assert_eq!(info.parameter, default_endorsement_policy_bytes());
    assert!(
        resolve::namespace_validation_info(&mut public, "other", &policies())
            .unwrap()
            .is_none()
    );
    let lifecycle = resolve::namespace_validation_info(&mut public, "_lifecycle", &policies())
        .unwrap()
        .unwrap();
    let policy = ApplicationPolicy::decode(lifecycle.parameter.as_slice()).unwrap();
    assert_eq!(
        policy.r#type,
        Some(application_policy::Type::ChannelConfigPolicyReference(
            "/Channel/Application/LifecycleEndorsement".into()
        ))
    );

    let org1_policy = resolve::collection_validation_parameter(
        &mut public,
        "basic",
        "_implicit_org_Org1MSP",
        &policies(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        ApplicationPolicy::decode(org1_policy.as_slice())
            .unwrap()
            .r#type,
        Some(application_policy::Type::ChannelConfigPolicyReference(
            "/Channel/Application/Org1/Endorsement".into()
        ))
    );
    let org2_policy = resolve::collection_validation_parameter(
        &mut public,
        "basic",
        "_implicit_org_Org2MSP",
        &policies(),
    )
    .unwrap()
    .unwrap();
    let Some(application_policy::Type::SignaturePolicy(envelope)) =
        ApplicationPolicy::decode(org2_policy.as_slice())
            .unwrap()
            .r#type
    else {
        panic!("expected a signature policy for an org without its own Endorsement policy");
    };
    assert_eq!(envelope.identities.len(), 1);
    assert_eq!(
        resolve::collection_validation_parameter(
            &mut public,
            "basic",
            "_implicit_org_Org9MSP",
            &policies()
        )
        .unwrap_err()
        .to_string(),
        "no org found in channel with MSPID 'Org9MSP'"
    );
    assert_eq!(
        resolve::collection_validation_parameter(&mut public, "basic", "nope", &policies())
            .unwrap_err()
            .to_string(),
        "no such collection 'nope'"
    );
    assert!(
        resolve::collection_validation_parameter(&mut public, "undefined", "x", &policies())
            .unwrap()
            .is_none()
    );
}

// Fabric: CachedChaincodeInfo reads only the Sequence through the simulator.
#[test]
fn endorsement_info_reads_only_the_sequence_through_the_simulation() {
    let org1 = Peer::new("Org1MSP");
    let mut ledger = Ledger::default();
    let ours = format!("basic_1:{}", "1".repeat(64));
    let packages = [installed(&ours)];
    let info = |ledger: &Ledger, recorded: &mut Vec<String>| {
        let mut simulation = |k: &str| -> Result<Option<Vec<u8>>, String> {
            recorded.push(k.to_owned());
            Ok(ledger.public.get(k).cloned())
        };
        let mut committed =
            |k: &str| -> Result<Option<Vec<u8>>, String> { Ok(ledger.public.get(k).cloned()) };
        let mut hashes = |k: &str| -> Result<Option<Vec<u8>>, String> {
            Ok(ledger.private_hash("_implicit_org_Org1MSP", k))
        };
        resolve::chaincode_endorsement_info(
            &mut simulation,
            &mut committed,
            &mut hashes,
            "mychannel",
            "basic",
            &packages,
        )
    };
    let mut recorded = Vec::new();
    assert!(info(&ledger, &mut recorded).unwrap().is_none());
    assert_eq!(
        recorded,
        vec!["namespaces/fields/basic/Sequence".to_owned()]
    );

    approve(&org1, &mut ledger, 1, "1.0", &ours);
    commit_definition(&org1, &mut ledger, 1, "1.0");
    let mut recorded = Vec::new();
    let (definition, package_id) = info(&ledger, &mut recorded).unwrap().unwrap();
    assert_eq!(
        (definition.version(), package_id.as_str()),
        ("1.0", ours.as_str())
    );
    assert_eq!(
        recorded,
        vec!["namespaces/fields/basic/Sequence".to_owned()]
    );
}

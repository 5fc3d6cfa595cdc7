//! `_lifecycle` driven through a fake endorser stub by the peers of two orgs: install, approve,
//! check commit readiness, commit and the queries, with Fabric's sequence rules and messages
//! (core/chaincode/lifecycle/lifecycle.go and scc.go).

use fabric_protos::common::{MspPrincipal, MspRole, SignaturePolicy, SignaturePolicyEnvelope};
use fabric_protos::lifecycle as lb;
use fabric_protos::peer::{
    CollectionConfig, CollectionConfigPackage, CollectionPolicyConfig, StaticCollectionConfig,
    collection_config, collection_policy_config,
};
use prost::Message;
use weft_lifecycle::{committed_definition, default_endorsement_policy_bytes};

use crate::fake::{Ledger, Peer, commit};
use crate::packages::wasm_package;

fn approve_args(
    sequence: i64,
    version: &str,
    package_id: &str,
) -> lb::ApproveChaincodeDefinitionForMyOrgArgs {
    lb::ApproveChaincodeDefinitionForMyOrgArgs {
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
    }
}

fn readiness_args(sequence: i64, version: &str) -> lb::CheckCommitReadinessArgs {
    lb::CheckCommitReadinessArgs {
        sequence,
        name: "basic".into(),
        version: version.into(),
        ..Default::default()
    }
}

fn commit_args(sequence: i64, version: &str) -> lb::CommitChaincodeDefinitionArgs {
    lb::CommitChaincodeDefinitionArgs {
        sequence,
        name: "basic".into(),
        version: version.into(),
        ..Default::default()
    }
}

fn approvals(peer: &Peer, ledger: &Ledger, sequence: i64, version: &str) -> Vec<(String, bool)> {
    let (response, _) = peer.call(
        ledger,
        "CheckCommitReadiness",
        &readiness_args(sequence, version),
    );
    assert_eq!(response.status, 200, "{}", response.message);
    lb::CheckCommitReadinessResult::decode(response.payload.as_slice())
        .unwrap()
        .approvals
        .into_iter()
        .collect()
}

fn expect_error(peer: &Peer, ledger: &Ledger, function: &str, arg: &impl Message, message: &str) {
    let (response, _) = peer.call(ledger, function, arg);
    assert_eq!(response.status, 500, "{function}: {}", response.message);
    assert_eq!(
        response.message,
        format!("failed to invoke backing implementation of '{function}': {message}")
    );
}

fn install(peer: &Peer, ledger: &Ledger, package: &[u8]) -> String {
    let (response, rwset) = peer.call(
        ledger,
        "InstallChaincode",
        &lb::InstallChaincodeArgs {
            chaincode_install_package: package.to_vec(),
        },
    );
    assert_eq!(response.status, 200, "{}", response.message);
    assert_eq!(rwset, Default::default(), "install touches no ledger state");
    lb::InstallChaincodeResult::decode(response.payload.as_slice())
        .unwrap()
        .package_id
}

// Fabric: the end-to-end deploy flow of `peer lifecycle chaincode approveformyorg /
// checkcommitreadiness / commit / querycommitted` with two orgs.
#[test]
fn two_orgs_approve_check_and_commit() {
    let org1 = Peer::new("Org1MSP");
    let org2 = Peer::new("Org2MSP");
    let mut ledger = Ledger::default();
    let package = wasm_package("basic_1.0", b"\0asm\x01\0\0\0");
    let package_id = install(&org1, &ledger, &package);
    assert_eq!(install(&org2, &ledger, &package), package_id);

    // Org1 approves: only its implicit collection is written, including the package ID.
    let (response, rwset) = org1.call(
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(1, "1.0", &package_id),
    );
    assert_eq!(response.status, 200, "{}", response.message);
    assert!(rwset.public_writes.is_empty());
    let written: Vec<&str> = rwset
        .private_writes
        .keys()
        .map(|(c, k)| {
            assert_eq!(c, "_implicit_org_Org1MSP");
            k.as_str()
        })
        .collect();
    assert_eq!(
        written,
        vec![
            "chaincode-sources/fields/basic#1/PackageID",
            "chaincode-sources/metadata/basic#1",
            "namespaces/fields/basic#1/Collections",
            "namespaces/fields/basic#1/EndorsementInfo",
            "namespaces/fields/basic#1/ValidationInfo",
            "namespaces/metadata/basic#1",
        ]
    );
    // Fabric's validateInput looks the name up in _lifecycle, then in legacy lscc.
    assert!(rwset.public_reads.contains("namespaces/metadata/basic"));
    assert!(
        rwset
            .public_reads
            .contains("namespaces/fields/basic/Sequence")
    );
    assert_eq!(rwset.lscc_reads.iter().collect::<Vec<_>>(), vec!["basic"]);
    commit(&mut ledger, rwset);

    // Both peers see Org1's approval through the hashes.
    let expected = vec![("Org1MSP".to_owned(), true), ("Org2MSP".to_owned(), false)];
    assert_eq!(approvals(&org1, &ledger, 1, "1.0"), expected);
    assert_eq!(approvals(&org2, &ledger, 1, "1.0"), expected);
    // A different definition is approved by nobody.
    assert_eq!(
        approvals(&org2, &ledger, 1, "1.1"),
        vec![("Org1MSP".to_owned(), false), ("Org2MSP".to_owned(), false)]
    );

    // Org2's peer refuses to endorse a commit its org has not approved.
    expect_error(
        &org2,
        &ledger,
        "CommitChaincodeDefinition",
        &commit_args(1, "1.0"),
        "chaincode definition not agreed to by this org (Org2MSP)",
    );

    let (response, rwset) = org2.call(
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(1, "1.0", &package_id),
    );
    assert_eq!(response.status, 200, "{}", response.message);
    commit(&mut ledger, rwset);
    assert_eq!(
        approvals(&org1, &ledger, 1, "1.0"),
        vec![("Org1MSP".to_owned(), true), ("Org2MSP".to_owned(), true)]
    );

    // Both orgs' peers endorse the same commit with identical writes.
    let (r1, rw1) = org1.call(&ledger, "CommitChaincodeDefinition", &commit_args(1, "1.0"));
    let (r2, rw2) = org2.call(&ledger, "CommitChaincodeDefinition", &commit_args(1, "1.0"));
    assert_eq!(
        (r1.status, r2.status),
        (200, 200),
        "{} {}",
        r1.message,
        r2.message
    );
    assert_eq!(rw1, rw2);
    assert!(rw1.private_writes.is_empty());
    assert_eq!(rw1.public_writes.len(), 5);
    commit(&mut ledger, rw1);

    // The committed definition carries Fabric's defaults.
    let mut get =
        |key: &str| -> Result<Option<Vec<u8>>, String> { Ok(ledger.public.get(key).cloned()) };
    let defined = committed_definition(&mut get, "basic").unwrap().unwrap();
    assert_eq!(defined.sequence(), 1);
    assert_eq!(defined.version(), "1.0");
    assert_eq!(defined.endorsement_plugin(), "escc");
    assert_eq!(defined.validation_plugin(), "vscc");
    assert_eq!(
        defined.validation_parameter(),
        default_endorsement_policy_bytes()
    );
    assert!(!defined.init_required());

    let (response, _) = org2.call(
        &ledger,
        "QueryChaincodeDefinition",
        &lb::QueryChaincodeDefinitionArgs {
            name: "basic".into(),
        },
    );
    assert_eq!(response.status, 200, "{}", response.message);
    let result = lb::QueryChaincodeDefinitionResult::decode(response.payload.as_slice()).unwrap();
    assert_eq!(result.sequence, 1);
    assert_eq!(result.version, "1.0");
    assert_eq!(
        result.validation_parameter,
        default_endorsement_policy_bytes()
    );
    assert_eq!(result.approvals.len(), 2);
    assert!(result.approvals.values().all(|a| *a));

    let (response, _) = org1.call(
        &ledger,
        "QueryChaincodeDefinitions",
        &lb::QueryChaincodeDefinitionsArgs {},
    );
    let result = lb::QueryChaincodeDefinitionsResult::decode(response.payload.as_slice()).unwrap();
    let names: Vec<_> = result
        .chaincode_definitions
        .iter()
        .map(|d| (d.name.as_str(), d.sequence))
        .collect();
    assert_eq!(names, vec![("basic", 1)]);

    // QueryApprovedChaincodeDefinition without a sequence returns the committed one's approval.
    let (response, _) = org1.call(
        &ledger,
        "QueryApprovedChaincodeDefinition",
        &lb::QueryApprovedChaincodeDefinitionArgs {
            name: "basic".into(),
            sequence: 0,
        },
    );
    assert_eq!(response.status, 200, "{}", response.message);
    let approved =
        lb::QueryApprovedChaincodeDefinitionResult::decode(response.payload.as_slice()).unwrap();
    assert_eq!(approved.sequence, 1);
    assert_eq!(approved.endorsement_plugin, "escc");
    assert_eq!(
        approved.source.unwrap().r#type,
        Some(lb::chaincode_source::Type::LocalPackage(
            lb::chaincode_source::Local {
                package_id: package_id.clone()
            }
        ))
    );

    // Sequence 2: re-approving the committed sequence with new parameters is refused, and the
    // next sequence must be exactly current + 1.
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(1, "2.0", &package_id),
        "attempted to redefine the current committed sequence (1) for namespace basic with different parameters: expected Version '1.0' does not match passed Version '2.0'",
    );
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(3, "2.0", &package_id),
        "requested sequence 3 is larger than the next available sequence number 2",
    );
    expect_error(
        &org1,
        &ledger,
        "CheckCommitReadiness",
        &readiness_args(1, "1.0"),
        "requested sequence is 1, but new definition must be sequence 2",
    );
    // Re-approving the committed definition (e.g. to change the package) is allowed.
    let (response, rwset) = org1.call(
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(1, "1.0", ""),
    );
    assert_eq!(response.status, 200, "{}", response.message);
    assert_eq!(
        rwset
            .private_writes
            .keys()
            .map(|(_, k)| k.as_str())
            .collect::<Vec<_>>(),
        vec!["chaincode-sources/fields/basic#1/PackageID"],
        "only the changed package ID is written"
    );
    commit(&mut ledger, rwset);
    let (response, _) = org1.call(
        &ledger,
        "QueryApprovedChaincodeDefinition",
        &lb::QueryApprovedChaincodeDefinitionArgs {
            name: "basic".into(),
            sequence: 1,
        },
    );
    let approved =
        lb::QueryApprovedChaincodeDefinitionResult::decode(response.payload.as_slice()).unwrap();
    assert!(matches!(
        approved.source.unwrap().r#type,
        Some(lb::chaincode_source::Type::Unavailable(_))
    ));

    let (response, rwset) = org1.call(
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(2, "2.0", &package_id),
    );
    assert_eq!(response.status, 200, "{}", response.message);
    commit(&mut ledger, rwset);
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(2, "2.0", &package_id),
        "attempted to redefine uncommitted sequence (2) for namespace basic with unchanged content",
    );
    assert_eq!(
        approvals(&org2, &ledger, 2, "2.0"),
        vec![("Org1MSP".to_owned(), true), ("Org2MSP".to_owned(), false)]
    );
    let (response, _) = org1.call(
        &ledger,
        "QueryApprovedChaincodeDefinition",
        &lb::QueryApprovedChaincodeDefinitionArgs {
            name: "basic".into(),
            sequence: 0,
        },
    );
    let approved =
        lb::QueryApprovedChaincodeDefinitionResult::decode(response.payload.as_slice()).unwrap();
    assert_eq!((approved.sequence, approved.version.as_str()), (2, "2.0"));
}

// Fabric: ApproveChaincodeDefinitionForOrg and CheckCommitReadiness sequence checks.
#[test]
fn first_sequence_rules() {
    let org1 = Peer::new("Org1MSP");
    let ledger = Ledger::default();
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(0, "1", ""),
        "requested sequence is 0, but first definable sequence number is 1",
    );
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(2, "1", ""),
        "requested sequence 2 is larger than the next available sequence number 1",
    );
    expect_error(
        &org1,
        &ledger,
        "CheckCommitReadiness",
        &readiness_args(2, "1"),
        "requested sequence is 2, but new definition must be sequence 1",
    );
    expect_error(
        &org1,
        &ledger,
        "CommitChaincodeDefinition",
        &commit_args(2, "1"),
        "requested sequence is 2, but new definition must be sequence 1",
    );
    expect_error(
        &org1,
        &ledger,
        "QueryApprovedChaincodeDefinition",
        &lb::QueryApprovedChaincodeDefinitionArgs {
            name: "basic".into(),
            sequence: 0,
        },
        "could not fetch approved chaincode definition (name: 'basic', sequence: '0') on channel 'mychannel'",
    );

    // Fabric answers an undefined namespace with status 404 and the bare message.
    let (response, _) = org1.call(
        &ledger,
        "QueryChaincodeDefinition",
        &lb::QueryChaincodeDefinitionArgs {
            name: "basic".into(),
        },
    );
    assert_eq!(
        (response.status, response.message.as_str()),
        (404, "namespace basic is not defined")
    );
}

// Fabric: validateInput's name, version and collection checks.
#[test]
fn invalid_definitions_are_refused() {
    let org1 = Peer::new("Org1MSP");
    let ledger = Ledger::default();
    let mut args = approve_args(1, "1.0", "");
    args.name = "_bad".into();
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &args,
        "error validating chaincode definition: invalid chaincode name '_bad'. Names can only consist of alphanumerics, '_', and '-' and can only begin with alphanumerics",
    );
    args.name = "qscc".into();
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &args,
        "error validating chaincode definition: chaincode name 'qscc' is the name of a system chaincode",
    );
    let mut args = approve_args(1, "1 0", "");
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &args,
        "error validating chaincode definition: invalid chaincode version '1 0'. Versions can only consist of alphanumerics, '_', '-', '+', and '.'",
    );

    args.version = "1.0".into();
    args.collections = Some(collections(&["Org1MSP", "Org3MSP"]));
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &args,
        "error validating chaincode definition: collection-name: private -- collection member 'Org3MSP' is not part of the channel",
    );
    let mut dup = collections(&["Org1MSP"]);
    dup.config.push(dup.config[0].clone());
    args.collections = Some(dup);
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &args,
        "error validating chaincode definition: collection-name: private -- found duplicate in collection configuration",
    );
}

fn collections(members: &[&str]) -> CollectionConfigPackage {
    let identities = members
        .iter()
        .map(|m| MspPrincipal {
            principal_classification: 0,
            principal: MspRole {
                msp_identifier: (*m).into(),
                role: 0,
            }
            .encode_to_vec(),
        })
        .collect();
    let rules = (0..members.len() as i32)
        .map(|i| SignaturePolicy {
            r#type: Some(fabric_protos::common::signature_policy::Type::SignedBy(i)),
        })
        .collect();
    CollectionConfigPackage {
        config: vec![CollectionConfig {
            payload: Some(collection_config::Payload::StaticCollectionConfig(
                StaticCollectionConfig {
                    name: "private".into(),
                    member_orgs_policy: Some(CollectionPolicyConfig {
                        payload: Some(collection_policy_config::Payload::SignaturePolicy(
                            SignaturePolicyEnvelope {
                                version: 0,
                                rule: Some(SignaturePolicy {
                                    r#type: Some(
                                        fabric_protos::common::signature_policy::Type::NOutOf(
                                            fabric_protos::common::signature_policy::NOutOf {
                                                n: 1,
                                                rules,
                                            },
                                        ),
                                    ),
                                }),
                                identities,
                            },
                        )),
                    }),
                    required_peer_count: 0,
                    maximum_peer_count: 1,
                    block_to_live: 10,
                    ..Default::default()
                },
            )),
        }],
    }
}

// Fabric: validateCollConfigsAgainstCommittedDef; collections travel with the definition.
#[test]
fn committed_collections_must_be_kept() {
    let org1 = Peer::new("Org1MSP");
    let org2 = Peer::new("Org2MSP");
    let mut ledger = Ledger::default();
    let coll = collections(&["Org1MSP", "Org2MSP"]);
    for peer in [&org1, &org2] {
        let mut args = approve_args(1, "1.0", "");
        args.collections = Some(coll.clone());
        let (response, rwset) = peer.call(&ledger, "ApproveChaincodeDefinitionForMyOrg", &args);
        assert_eq!(response.status, 200, "{}", response.message);
        commit(&mut ledger, rwset);
    }
    let mut args = commit_args(1, "1.0");
    args.collections = Some(coll.clone());
    let (response, rwset) = org1.call(&ledger, "CommitChaincodeDefinition", &args);
    assert_eq!(response.status, 200, "{}", response.message);
    commit(&mut ledger, rwset);
    let mut get =
        |key: &str| -> Result<Option<Vec<u8>>, String> { Ok(ledger.public.get(key).cloned()) };
    assert_eq!(
        committed_definition(&mut get, "basic")
            .unwrap()
            .unwrap()
            .collections,
        coll
    );

    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &approve_args(2, "2.0", ""),
        "error validating chaincode definition: the proposed collection config does not contain previously defined collections",
    );
    let mut changed = coll.clone();
    if let Some(collection_config::Payload::StaticCollectionConfig(c)) =
        &mut changed.config[0].payload
    {
        c.block_to_live = 11;
    }
    let mut args = approve_args(2, "2.0", "");
    args.collections = Some(changed);
    expect_error(
        &org1,
        &ledger,
        "ApproveChaincodeDefinitionForMyOrg",
        &args,
        "error validating chaincode definition: the BlockToLive in an existing collection [private] modified. Existing value [10]",
    );
}

// Fabric: SetChaincodeDefinitionDefaults needs /Channel/Application/Endorsement.
#[test]
fn defaults_need_the_channel_endorsement_policy() {
    let mut view = crate::fake::two_org_channel();
    view.defines_endorsement_policy = false;
    let org1 = Peer::with_channel("Org1MSP", Some(view));
    let ledger = Ledger::default();
    expect_error(
        &org1,
        &ledger,
        "CheckCommitReadiness",
        &readiness_args(1, "1"),
        "could not set defaults for chaincode definition in channel mychannel: policy '/Channel/Application/Endorsement' must be defined for channel 'mychannel' before chaincode operations can be attempted",
    );
    // An explicit policy needs no default.
    let mut args = readiness_args(1, "1");
    args.validation_parameter = b"explicit".to_vec();
    let (response, _) = org1.call(&ledger, "CheckCommitReadiness", &args);
    assert_eq!(response.status, 200, "{}", response.message);
}

// Fabric: SCC.Invoke argument, channel and ACL checks.
#[test]
fn malformed_invocations_are_refused() {
    let org1 = Peer::new("Org1MSP");
    let ledger = Ledger::default();
    let (r, _) = org1.call_raw(&ledger, vec![]);
    assert_eq!(r.message, "lifecycle scc must be invoked with arguments");
    let (r, _) = org1.call_raw(&ledger, vec![b"QueryInstalledChaincodes".to_vec()]);
    assert_eq!(
        r.message,
        "lifecycle scc operations require exactly two arguments but received 1"
    );
    let (r, _) = org1.call_raw(&ledger, vec![b"Nope".to_vec(), vec![]]);
    assert_eq!(
        r.message,
        "failed to invoke backing implementation of 'Nope': receiver *lifecycle.Invocation.Nope does not exist"
    );
    let (r, _) = org1.call_raw(
        &ledger,
        vec![b"CheckCommitReadiness".to_vec(), vec![0xff, 0xff]],
    );
    assert!(r.message.starts_with("failed to invoke backing implementation of 'CheckCommitReadiness': could not decode input arg for *lifecycle.Invocation.CheckCommitReadiness"), "{}", r.message);

    let off = Peer::with_channel(
        "Org1MSP",
        Some(weft_lifecycle::ChannelView {
            lifecycle_v20: false,
            ..crate::fake::two_org_channel()
        }),
    );
    let (r, _) = off.call(&ledger, "CheckCommitReadiness", &readiness_args(1, "1"));
    assert_eq!(
        r.message,
        "cannot use new lifecycle for channel 'mychannel' as it does not have the required capabilities enabled"
    );
    let none = Peer::with_channel("Org1MSP", None);
    let (r, _) = none.call(&ledger, "CheckCommitReadiness", &readiness_args(1, "1"));
    assert_eq!(
        r.message,
        "could not get channelconfig for channel 'mychannel'"
    );

    let denied = Peer::denying("Org1MSP", "_lifecycle/CheckCommitReadiness");
    let (r, rwset) = denied.call(&ledger, "CheckCommitReadiness", &readiness_args(1, "1"));
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message,
        "Failed to authorize invocation due to failed ACL check: access denied for [_lifecycle/CheckCommitReadiness]"
    );
    assert_eq!(rwset, Default::default());
}

// Fabric: InstallChaincode, QueryInstalledChaincode(s), GetInstalledChaincodePackage.
#[test]
fn installed_package_queries() {
    let org1 = Peer::new("Org1MSP");
    let ledger = Ledger::default();
    let package = wasm_package("basic_1.0", b"module");
    let package_id = install(&org1, &ledger, &package);
    assert_eq!(org1.context.store.load(&package_id).unwrap(), package);
    expect_error(
        &org1,
        &ledger,
        "InstallChaincode",
        &lb::InstallChaincodeArgs {
            chaincode_install_package: package.clone(),
        },
        &format!("chaincode already successfully installed (package ID '{package_id}')"),
    );
    expect_error(
        &org1,
        &ledger,
        "InstallChaincode",
        &lb::InstallChaincodeArgs {
            chaincode_install_package: b"junk".to_vec(),
        },
        "could not parse as a chaincode install package: error reading as gzip stream: not a gzip archive",
    );

    let (r, _) = org1.call(
        &ledger,
        "QueryInstalledChaincode",
        &lb::QueryInstalledChaincodeArgs {
            package_id: package_id.clone(),
        },
    );
    let result = lb::QueryInstalledChaincodeResult::decode(r.payload.as_slice()).unwrap();
    assert_eq!(
        (result.package_id.as_str(), result.label.as_str()),
        (package_id.as_str(), "basic_1.0")
    );
    expect_error(
        &org1,
        &ledger,
        "QueryInstalledChaincode",
        &lb::QueryInstalledChaincodeArgs {
            package_id: "nope:00".into(),
        },
        "could not find chaincode with package id 'nope:00'",
    );

    let (r, _) = org1.call(
        &ledger,
        "QueryInstalledChaincodes",
        &lb::QueryInstalledChaincodesArgs {},
    );
    let result = lb::QueryInstalledChaincodesResult::decode(r.payload.as_slice()).unwrap();
    assert_eq!(result.installed_chaincodes.len(), 1);
    assert_eq!(result.installed_chaincodes[0].package_id, package_id);

    let (r, _) = org1.call(
        &ledger,
        "GetInstalledChaincodePackage",
        &lb::GetInstalledChaincodePackageArgs {
            package_id: package_id.clone(),
        },
    );
    let result = lb::GetInstalledChaincodePackageResult::decode(r.payload.as_slice()).unwrap();
    assert_eq!(result.chaincode_install_package, package);
    let missing = format!("x:{}", "a".repeat(64));
    expect_error(
        &org1,
        &ledger,
        "GetInstalledChaincodePackage",
        &lb::GetInstalledChaincodePackageArgs {
            package_id: missing.clone(),
        },
        &format!(
            "could not load cc install package: chaincode install package '{missing}' not found"
        ),
    );
}

// Fabric: a failed build removes the package again ("could not build chaincode").
#[test]
fn failed_build_uninstalls() {
    let dir = tempfile::tempdir().unwrap();
    let context = std::sync::Arc::new(crate::fake::FakePeer {
        msp_id: "Org1MSP".into(),
        store: weft_lifecycle::PackageStore::open(dir.path()).unwrap(),
        channel: None,
        denied: None,
        build_error: Some("module does not validate".into()),
    });
    let scc = weft_lifecycle::LifecycleScc::new(context.clone());
    let ledger = Ledger::default();
    let mut stub = crate::fake::FakeStub::new(
        &ledger,
        "Org1MSP",
        vec![
            b"InstallChaincode".to_vec(),
            lb::InstallChaincodeArgs {
                chaincode_install_package: wasm_package("bad", b"x"),
            }
            .encode_to_vec(),
        ],
    );
    stub.channel_id = String::new();
    let r = weft_chaincode_api::Chaincode::invoke(&scc, &mut stub);
    assert_eq!(
        r.message,
        "failed to invoke backing implementation of 'InstallChaincode': could not build chaincode: module does not validate"
    );
    assert!(context.store.list().unwrap().is_empty());
}

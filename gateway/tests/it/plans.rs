//! Endorsement layouts as Fabric's discovery computes them
//! (discovery/endorsement: principal sets -> groups -> layouts).

use std::collections::BTreeMap;

use fabric_protos::protos::{ChaincodeCall, ChaincodeInterest};
use weft_gateway::descriptor::descriptor;

use crate::fixture::*;

fn interest() -> ChaincodeInterest {
    ChaincodeInterest {
        chaincodes: vec![ChaincodeCall {
            name: CC.into(),
            ..Default::default()
        }],
    }
}

/// Layouts as sorted lists of (MSP of the group's peers, quantity), so tests do not
/// depend on group naming.
fn layouts_by_org(net: &Net) -> Vec<Vec<(String, u32)>> {
    let d = descriptor(net.support.as_ref(), CHANNEL, &interest()).unwrap();
    let org_of: BTreeMap<&String, &str> = d
        .groups
        .iter()
        .map(|(g, peers)| (g, peers[0].msp_id.as_str()))
        .collect();
    let mut out: Vec<Vec<(String, u32)>> = d
        .layouts
        .iter()
        .map(|l| {
            let mut v: Vec<(String, u32)> =
                l.iter().map(|(g, q)| (org_of[g].to_owned(), *q)).collect();
            v.sort();
            v
        })
        .collect();
    out.sort();
    out
}

fn three_org_net(policy: Vec<u8>) -> Net {
    NetBuilder::new(policy)
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            5,
            Behaviour::Endorse("result"),
        )
        .peer(
            "Org3MSP",
            "peer0.org3:11051",
            5,
            Behaviour::Endorse("result"),
        )
        .build()
}

fn l(entries: &[(&str, u32)]) -> Vec<(String, u32)> {
    entries.iter().map(|(o, q)| ((*o).to_owned(), *q)).collect()
}

#[test]
fn and_policy_needs_one_layout_with_every_org() {
    let net = three_org_net(signature_app_policy(out_of_orgs(
        2,
        &["Org1MSP", "Org2MSP"],
    )));
    assert_eq!(
        layouts_by_org(&net),
        vec![l(&[("Org1MSP", 1), ("Org2MSP", 1)])]
    );
}

#[test]
fn or_policy_gives_one_layout_per_org() {
    let net = three_org_net(signature_app_policy(out_of_orgs(
        1,
        &["Org1MSP", "Org2MSP", "Org3MSP"],
    )));
    assert_eq!(
        layouts_by_org(&net),
        vec![
            l(&[("Org1MSP", 1)]),
            l(&[("Org2MSP", 1)]),
            l(&[("Org3MSP", 1)])
        ]
    );
}

#[test]
fn out_of_two_of_three_gives_every_pair() {
    let net = three_org_net(signature_app_policy(out_of_orgs(
        2,
        &["Org1MSP", "Org2MSP", "Org3MSP"],
    )));
    assert_eq!(
        layouts_by_org(&net),
        vec![
            l(&[("Org1MSP", 1), ("Org2MSP", 1)]),
            l(&[("Org1MSP", 1), ("Org3MSP", 1)]),
            l(&[("Org2MSP", 1), ("Org3MSP", 1)]),
        ]
    );
}

/// Fabric resolves a channel policy reference through `policies.Converter`: MAJORITY of
/// three orgs' Endorsement policies is any two of them.
#[test]
fn implicit_meta_majority_resolves_through_application_orgs() {
    let net = three_org_net(reference_app_policy("/Channel/Application/Endorsement"));
    assert_eq!(layouts_by_org(&net).len(), 3);
    assert!(layouts_by_org(&net).iter().all(|layout| layout.len() == 2));
}

#[test]
fn same_org_twice_needs_two_peers_of_it() {
    let two_of_org1 = signature_app_policy(fabric_protos::common::SignaturePolicyEnvelope {
        version: 0,
        rule: Some(out_of(2, vec![signed_by(0), signed_by(0)])),
        identities: vec![member("Org1MSP")],
    });
    let one_peer = NetBuilder::new(two_of_org1.clone()).build();
    let err = descriptor(one_peer.support.as_ref(), CHANNEL, &interest()).unwrap_err();
    assert_eq!(
        err,
        "no peer combination can satisfy the endorsement policy"
    );

    let two_peers = NetBuilder::new(two_of_org1)
        .peer(
            "Org1MSP",
            "peer1.org1:7151",
            5,
            Behaviour::Endorse("result"),
        )
        .build();
    assert_eq!(layouts_by_org(&two_peers), vec![l(&[("Org1MSP", 2)])]);
}

#[test]
fn peers_without_the_chaincode_are_not_endorsers() {
    let mut builder = NetBuilder::new(signature_app_policy(out_of_orgs(
        2,
        &["Org1MSP", "Org2MSP"],
    )))
    .peer(
        "Org2MSP",
        "peer0.org2:9051",
        5,
        Behaviour::Endorse("result"),
    );
    builder.peers[1].0.chaincodes[0].version = "0".into(); // Org2 runs an older sequence
    let net = builder.build();
    let err = descriptor(net.support.as_ref(), CHANNEL, &interest()).unwrap_err();
    assert_eq!(
        err,
        "required chaincodes are not installed on sufficient peers"
    );
}

#[test]
fn unknown_chaincode_has_no_metadata() {
    let net = three_org_net(signature_app_policy(out_of_orgs(1, &["Org1MSP"])));
    let mut i = interest();
    i.chaincodes[0].name = "nope".into();
    let err = descriptor(net.support.as_ref(), CHANNEL, &i).unwrap_err();
    assert_eq!(
        err,
        "No metadata was found for chaincode nope in channel mychannel"
    );
}

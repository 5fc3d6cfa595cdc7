//! Discovery (Fabric discovery/service.go): request authentication, config, membership and
//! endorsers queries in the shapes fabric-network 2.2 reads.

use fabric_protos::discovery::{
    AuthInfo, ChaincodeQuery, ConfigQuery, LocalPeerQuery, PeerMembershipQuery, Query, Request,
    SignedRequest, query, query_result,
};
use fabric_protos::gossip::{GossipMessage, gossip_message};
use fabric_protos::protos::{ChaincodeCall, ChaincodeInterest};
use prost::Message;
use tonic::Code;
use weft_gateway::DiscoveryService;

use crate::fixture::*;

fn signed(queries: Vec<Query>, signature: &[u8], tls_hash: &[u8]) -> SignedRequest {
    SignedRequest {
        payload: Request {
            authentication: Some(AuthInfo {
                client_identity: identity("Org1MSP", "client"),
                client_tls_cert_hash: tls_hash.to_vec(),
            }),
            queries,
        }
        .encode_to_vec(),
        signature: signature.to_vec(),
    }
}

fn channel_query(q: query::Query) -> Query {
    Query {
        channel: CHANNEL.into(),
        query: Some(q),
    }
}

fn network() -> (Net, DiscoveryService) {
    let net = NetBuilder::new(signature_app_policy(out_of_orgs(
        2,
        &["Org1MSP", "Org2MSP"],
    )))
    .peer("Org2MSP", "peer0.org2:9051", 7, Behaviour::Endorse("r"))
    .orderer("orderer.example.com:7050", Ok(200))
    .build();
    let service = DiscoveryService::new(net.support.clone(), false);
    (net, service)
}

#[test]
fn config_query_lists_msps_and_orderer_endpoints() {
    let (_net, service) = network();
    let response = service
        .discover(
            &signed(
                vec![channel_query(query::Query::ConfigQuery(ConfigQuery {}))],
                GOOD_SIGNATURE,
                b"",
            ),
            None,
        )
        .unwrap();
    let Some(query_result::Result::ConfigResult(config)) = &response.results[0].result else {
        panic!("expected a config result: {response:?}");
    };
    assert_eq!(
        config.msps.keys().cloned().collect::<Vec<_>>(),
        vec!["OrdererMSP", "Org1MSP", "Org2MSP", "Org3MSP"]
    );
    assert_eq!(
        config.msps["Org2MSP"].tls_root_certs,
        vec![b"Org2MSP-tls-ca".to_vec()]
    );
    let orderers = &config.orderers["OrdererMSP"].endpoint;
    assert_eq!(orderers.len(), 1);
    assert_eq!(
        (orderers[0].host.as_str(), orderers[0].port),
        ("orderer.example.com", 7050)
    );
}

#[test]
fn membership_query_returns_gossip_shaped_peers_by_org() {
    let (_net, service) = network();
    let response = service
        .discover(
            &signed(
                vec![channel_query(query::Query::PeerQuery(
                    PeerMembershipQuery { filter: None },
                ))],
                GOOD_SIGNATURE,
                b"",
            ),
            None,
        )
        .unwrap();
    let Some(query_result::Result::Members(members)) = &response.results[0].result else {
        panic!("expected members: {response:?}");
    };
    let org2 = &members.peers_by_org["Org2MSP"].peers[0];
    let alive =
        GossipMessage::decode(org2.membership_info.as_ref().unwrap().payload.as_slice()).unwrap();
    let Some(gossip_message::Content::AliveMsg(alive)) = alive.content else {
        panic!()
    };
    assert_eq!(alive.membership.unwrap().endpoint, "peer0.org2:9051");
    let state =
        GossipMessage::decode(org2.state_info.as_ref().unwrap().payload.as_slice()).unwrap();
    let Some(gossip_message::Content::StateInfo(state)) = state.content else {
        panic!()
    };
    let props = state.properties.unwrap();
    assert_eq!(props.ledger_height, 7);
    assert_eq!(
        (
            props.chaincodes[0].name.as_str(),
            props.chaincodes[0].version.as_str()
        ),
        (CC, "1")
    );
    assert_eq!(org2.identity, identity("Org2MSP", "peer0.org2:9051"));
}

#[test]
fn endorsers_query_returns_layouts_and_groups() {
    let (_net, service) = network();
    let interest = ChaincodeInterest {
        chaincodes: vec![ChaincodeCall {
            name: CC.into(),
            ..Default::default()
        }],
    };
    let response = service
        .discover(
            &signed(
                vec![channel_query(query::Query::CcQuery(ChaincodeQuery {
                    interests: vec![interest],
                }))],
                GOOD_SIGNATURE,
                b"",
            ),
            None,
        )
        .unwrap();
    let Some(query_result::Result::CcQueryRes(result)) = &response.results[0].result else {
        panic!("expected endorsers: {response:?}");
    };
    let descriptor = &result.content[0];
    assert_eq!(descriptor.chaincode, CC);
    assert_eq!(descriptor.layouts.len(), 1);
    let layout = &descriptor.layouts[0].quantities_by_group;
    assert_eq!(layout.len(), 2);
    for (group, quantity) in layout {
        assert_eq!(*quantity, 1);
        assert_eq!(descriptor.endorsers_by_groups[group].peers.len(), 1);
    }
}

#[test]
fn unknown_chaincode_is_a_query_error() {
    let (_net, service) = network();
    let interest = ChaincodeInterest {
        chaincodes: vec![ChaincodeCall {
            name: "missing".into(),
            ..Default::default()
        }],
    };
    let response = service
        .discover(
            &signed(
                vec![channel_query(query::Query::CcQuery(ChaincodeQuery {
                    interests: vec![interest],
                }))],
                GOOD_SIGNATURE,
                b"",
            ),
            None,
        )
        .unwrap();
    let Some(query_result::Result::Error(e)) = &response.results[0].result else {
        panic!()
    };
    assert!(
        e.content.starts_with("failed constructing descriptor for"),
        "{}",
        e.content
    );
}

/// Failed authorization is per query: "access denied", not a failed call.
#[test]
fn bad_signature_or_unknown_channel_is_access_denied() {
    let (_net, service) = network();
    let forged = service
        .discover(
            &signed(
                vec![channel_query(query::Query::ConfigQuery(ConfigQuery {}))],
                b"forged",
                b"",
            ),
            None,
        )
        .unwrap();
    let Some(query_result::Result::Error(e)) = &forged.results[0].result else {
        panic!()
    };
    assert_eq!(e.content, "access denied");

    let other = Query {
        channel: "otherchannel".into(),
        query: Some(query::Query::ConfigQuery(ConfigQuery {})),
    };
    let response = service
        .discover(&signed(vec![other], GOOD_SIGNATURE, b""), None)
        .unwrap();
    let Some(query_result::Result::Error(e)) = &response.results[0].result else {
        panic!()
    };
    assert_eq!(e.content, "access denied");
}

#[test]
fn local_peers_query_needs_no_channel() {
    let (_net, service) = network();
    let local = Query {
        channel: String::new(),
        query: Some(query::Query::LocalPeers(LocalPeerQuery {})),
    };
    let response = service
        .discover(&signed(vec![local], GOOD_SIGNATURE, b""), None)
        .unwrap();
    let Some(query_result::Result::Members(m)) = &response.results[0].result else {
        panic!()
    };
    assert_eq!(m.peers_by_org.len(), 2);
    assert!(m.peers_by_org["Org1MSP"].peers[0].state_info.is_none());
}

/// With TLS the claimed client certificate hash must match the TLS session's.
#[test]
fn tls_binding_is_enforced() {
    let (net, _) = network();
    let service = DiscoveryService::new(net.support.clone(), true);
    let q = || vec![channel_query(query::Query::ConfigQuery(ConfigQuery {}))];
    let hash = [7u8; 32];
    let no_cert = service
        .discover(&signed(q(), GOOD_SIGNATURE, &hash), None)
        .unwrap_err();
    assert_eq!(no_cert.code(), Code::Unknown);
    assert_eq!(no_cert.message(), "client didn't send a TLS certificate");
    let mismatch = service
        .discover(&signed(q(), GOOD_SIGNATURE, &hash), Some([8u8; 32]))
        .unwrap_err();
    assert_eq!(
        mismatch.message(),
        "client claimed TLS hash doesn't match computed TLS hash from gRPC stream"
    );
    assert!(
        service
            .discover(&signed(q(), GOOD_SIGNATURE, &hash), Some(hash))
            .is_ok()
    );

    let mut no_identity = signed(q(), GOOD_SIGNATURE, &hash);
    no_identity.payload = Request {
        authentication: Some(AuthInfo::default()),
        queries: q(),
    }
    .encode_to_vec();
    let err = service.discover(&no_identity, Some(hash)).unwrap_err();
    assert_eq!(
        err.message(),
        "access denied, client identity wasn't supplied"
    );
}

/// Garbage from the network is an error answer, never a crash.
#[test]
fn garbage_requests_are_rejected() {
    let (_net, service) = network();
    for payload in [vec![0xff; 3], vec![0x0a, 0xff, 0xff, 0xff, 0x0f], vec![]] {
        let request = SignedRequest {
            payload,
            signature: vec![],
        };
        let err = service.discover(&request, None).unwrap_err();
        assert_eq!(err.code(), Code::Unknown);
    }
}

/// A membership query filtered by a chaincode keeps only peers running its defined version.
#[test]
fn membership_filter_keeps_peers_with_the_chaincode() {
    let mut builder = NetBuilder::new(signature_app_policy(out_of_orgs(1, &["Org1MSP"]))).peer(
        "Org2MSP",
        "peer0.org2:9051",
        7,
        Behaviour::Endorse("r"),
    );
    builder.peers[1].0.chaincodes[0].version = "0".into();
    let net = builder.build();
    let service = DiscoveryService::new(net.support.clone(), false);
    let filter = ChaincodeInterest {
        chaincodes: vec![ChaincodeCall {
            name: CC.into(),
            ..Default::default()
        }],
    };
    let query = channel_query(query::Query::PeerQuery(PeerMembershipQuery {
        filter: Some(filter),
    }));
    let response = service
        .discover(&signed(vec![query], GOOD_SIGNATURE, b""), None)
        .unwrap();
    let Some(query_result::Result::Members(m)) = &response.results[0].result else {
        panic!()
    };
    assert_eq!(m.peers_by_org.keys().collect::<Vec<_>>(), vec!["Org1MSP"]);
}

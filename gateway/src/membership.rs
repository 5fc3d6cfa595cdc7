//! Peers in gossip's shape, as discovery answers describe them.
//!
//! Fabric's discovery returns each peer's signed gossip alive message (endpoint, PKI-ID) and
//! state info (ledger height, chaincodes). Weft does not speak gossip yet, so these
//! envelopes are built from what the node knows and carry no signature; the SDKs decode
//! them without verifying (fabric-network 2.2 reads only the endpoint, ledger height and
//! chaincodes).

use fabric_protos::discovery::Peer;
use fabric_protos::gossip::{
    AliveMessage, Chaincode, Envelope, GossipMessage, Member, PeerTime, Properties, StateInfo,
    gossip_message,
};
use fabric_protos::msp::SerializedIdentity;
use prost::Message;

use crate::api::PeerInfo;

/// Gossip's PKI-ID of an identity: SHA-256 over the MSP ID followed by the certificate.
pub fn pki_id(identity: &[u8]) -> Vec<u8> {
    let decoded = SerializedIdentity::decode(identity).unwrap_or_default();
    let mut bytes = decoded.mspid.into_bytes();
    bytes.extend_from_slice(&decoded.id_bytes);
    weft_protoutil::sha256(&bytes).to_vec()
}

fn envelope(
    channel: &[u8],
    tag: gossip_message::Tag,
    content: gossip_message::Content,
) -> Envelope {
    Envelope {
        payload: GossipMessage {
            nonce: 0,
            channel: channel.to_vec(),
            tag: tag as i32,
            content: Some(content),
        }
        .encode_to_vec(),
        signature: Vec::new(),
        secret_envelope: None,
    }
}

/// The discovery form of a peer; with `with_state` it also carries the state info
/// (channel queries do, the local membership query does not).
pub fn discovery_peer(peer: &PeerInfo, channel: &str, with_state: bool) -> Peer {
    let pki_id = pki_id(&peer.identity);
    let alive = AliveMessage {
        membership: Some(Member {
            endpoint: peer.endpoint.clone(),
            metadata: Vec::new(),
            pki_id: pki_id.clone(),
        }),
        timestamp: Some(PeerTime {
            inc_num: 0,
            seq_num: 0,
        }),
        identity: Vec::new(),
    };
    let state_info = with_state.then(|| {
        let state = StateInfo {
            timestamp: Some(PeerTime {
                inc_num: 0,
                seq_num: 0,
            }),
            pki_id,
            channel_mac: Vec::new(),
            properties: Some(Properties {
                ledger_height: peer.ledger_height,
                left_channel: false,
                chaincodes: peer
                    .chaincodes
                    .iter()
                    .map(|c| Chaincode {
                        name: c.name.clone(),
                        version: c.version.clone(),
                        metadata: Vec::new(),
                    })
                    .collect(),
            }),
        };
        envelope(
            channel.as_bytes(),
            gossip_message::Tag::ChanOrOrg,
            gossip_message::Content::StateInfo(state),
        )
    });
    Peer {
        state_info,
        membership_info: Some(envelope(
            &[],
            gossip_message::Tag::Empty,
            gossip_message::Content::AliveMsg(alive),
        )),
        identity: peer.identity.clone(),
    }
}

//! Deliver request evaluation on the upstream-generated channel: parsing, access control
//! against `/Channel/Readers`, TLS binding and the seek plan, with Fabric's statuses.

use std::time::{Duration, SystemTime};

use fabric_protos::common::{Envelope, HeaderType, Status};
use fabric_protos::orderer::seek_info::SeekErrorResponse;
use fabric_protos::orderer::seek_position::Type as Position;
use fabric_protos::orderer::{SeekInfo, SeekNewest, SeekOldest, SeekPosition};
use prost::Message;
use weft_channelconfig::ChannelBundle;
use weft_msp::{Identity, SigningIdentity};
use weft_orderer::deliver::{DeliverOptions, DeliverRefusal, check_readers};
use weft_orderer::{DeliverChain, DeliverSession, Step, open_session};

use crate::network::{CHANNEL, Network, envelope_with, expired_envelope, signed_envelope};

struct Chain<'a> {
    bundle: &'a ChannelBundle,
    height: u64,
    errored: bool,
}

impl DeliverChain for Chain<'_> {
    fn height(&self) -> u64 {
        self.height
    }
    fn errored(&self) -> bool {
        self.errored
    }
    fn config_sequence(&self) -> u64 {
        self.bundle.sequence()
    }
    fn check_readers(&self, envelope: &Envelope) -> Result<(), String> {
        check_readers(self.bundle, envelope)
    }
}

fn seek_all(error_response: SeekErrorResponse) -> Vec<u8> {
    SeekInfo {
        start: Some(SeekPosition {
            r#type: Some(Position::Oldest(SeekOldest {})),
        }),
        stop: Some(SeekPosition {
            r#type: Some(Position::Newest(SeekNewest {})),
        }),
        error_response: error_response as i32,
        ..Default::default()
    }
    .encode_to_vec()
}

fn request(signer: &dyn SigningIdentity) -> Envelope {
    signed_envelope(
        signer,
        HeaderType::DeliverSeekInfo,
        CHANNEL,
        seek_all(SeekErrorResponse::Strict),
    )
}

fn open(
    envelope: &Envelope,
    errored: bool,
    options: DeliverOptions,
    cert_hash: Option<&[u8]>,
) -> Result<DeliverSession, DeliverRefusal> {
    let network = Network::shared();
    let chain = Chain {
        bundle: &network.bundle,
        height: 3,
        errored,
    };
    open_session(envelope, SystemTime::now(), &options, cert_hash, |id| {
        (id == CHANNEL).then_some(&chain)
    })
    .map(|(session, _)| session)
}

fn status(result: Result<DeliverSession, DeliverRefusal>) -> Status {
    match result {
        Ok(_) => Status::Success,
        Err(refusal) => refusal.status,
    }
}

#[test]
fn member_reads_oldest_to_newest() {
    let network = Network::shared();
    let mut session = open(
        &request(network.org1_user().as_ref()),
        false,
        DeliverOptions::default(),
        None,
    )
    .unwrap();
    let mut sent = Vec::new();
    loop {
        match session.cursor.step(3) {
            Step::Send(n) => {
                sent.push(n);
                if session.cursor.sent().is_some() {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sent, vec![0, 1, 2]);
    // The orderer itself is a reader too.
    assert!(
        open(
            &request(network.orderer().as_ref()),
            false,
            DeliverOptions::default(),
            None
        )
        .is_ok()
    );
}

#[test]
fn refusals_carry_fabric_statuses() {
    let network = Network::shared();
    let user = network.org1_user();
    let defaults = DeliverOptions::default();
    // Not a reader of the channel.
    assert_eq!(
        status(open(
            &request(network.outsider().as_ref()),
            false,
            defaults,
            None
        )),
        Status::Forbidden
    );
    // Expired signer certificate: the session ends before the first block.
    let mut expired = expired_envelope(network, seek_all(SeekErrorResponse::Strict));
    assert_eq!(
        status(open(&expired, false, defaults, None)),
        Status::Forbidden
    );
    // ... and is a plain reader once expiry checks are off (same identity, same policy).
    let off = DeliverOptions {
        no_expiration_checks: true,
        ..defaults
    };
    assert_ne!(status(open(&expired, false, off, None)), Status::BadRequest);
    // Unknown channel.
    let other = signed_envelope(
        user.as_ref(),
        HeaderType::DeliverSeekInfo,
        "nochannel",
        seek_all(SeekErrorResponse::Strict),
    );
    assert_eq!(
        status(open(&other, false, defaults, None)),
        Status::NotFound
    );
    // Undecodable SeekInfo.
    let garbage = signed_envelope(
        user.as_ref(),
        HeaderType::DeliverSeekInfo,
        CHANNEL,
        vec![0xff; 4],
    );
    assert_eq!(
        status(open(&garbage, false, defaults, None)),
        Status::BadRequest
    );
    // Chain in error: refused unless the client asked for BEST_EFFORT.
    assert_eq!(
        status(open(&request(user.as_ref()), true, defaults, None)),
        Status::ServiceUnavailable
    );
    let best = signed_envelope(
        user.as_ref(),
        HeaderType::DeliverSeekInfo,
        CHANNEL,
        seek_all(SeekErrorResponse::BestEffort),
    );
    assert_eq!(status(open(&best, true, defaults, None)), Status::Success);
    // Timestamp outside the window.
    let narrow = DeliverOptions {
        time_window: Duration::from_nanos(1),
        ..defaults
    };
    std::thread::sleep(Duration::from_millis(2));
    assert_eq!(
        status(open(&request(user.as_ref()), false, narrow, None)),
        Status::BadRequest
    );
    // Payload without header.
    expired.payload = Vec::new();
    assert_eq!(
        status(open(&expired, false, defaults, None)),
        Status::BadRequest
    );
}

#[test]
fn mutual_tls_requires_the_bound_certificate_hash() {
    let network = Network::shared();
    let user = network.org1_user();
    let hash = [9u8; 32];
    let bound = envelope_with(
        HeaderType::DeliverSeekInfo,
        CHANNEL,
        seek_all(SeekErrorResponse::Strict),
        user.serialize(),
        |m| user.sign(m).unwrap(),
        hash.to_vec(),
    );
    let mtls = DeliverOptions {
        mutual_tls: true,
        ..DeliverOptions::default()
    };
    assert_eq!(
        status(open(&bound, false, mtls, Some(&hash))),
        Status::Success
    );
    assert_eq!(
        status(open(&bound, false, mtls, Some(&[1u8; 32]))),
        Status::BadRequest
    );
    assert_eq!(status(open(&bound, false, mtls, None)), Status::BadRequest);
    // Without the hash in the request.
    assert_eq!(
        status(open(&request(user.as_ref()), false, mtls, Some(&hash))),
        Status::BadRequest
    );
    // Without mutual TLS the claim is not checked.
    assert_eq!(
        status(open(&bound, false, DeliverOptions::default(), None)),
        Status::Success
    );
}

#[test]
fn truncated_requests_never_panic() {
    let network = Network::shared();
    let env = request(network.org1_user().as_ref());
    for len in 0..env.payload.len() {
        let cut = Envelope {
            payload: env.payload[..len].to_vec(),
            signature: env.signature.clone(),
        };
        let s = status(open(&cut, false, DeliverOptions::default(), None));
        assert!(
            matches!(s, Status::BadRequest | Status::Forbidden | Status::NotFound),
            "prefix {len}: {s:?}"
        );
    }
}

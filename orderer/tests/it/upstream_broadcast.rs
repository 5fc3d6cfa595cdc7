//! Broadcast processing on the upstream-generated channel, one case per rejection of Fabric's
//! `StandardChannel` filters and `Handler.ProcessMessage`, and the accepted paths.

use std::time::SystemTime;

use fabric_protos::common::ConfigGroup;
use fabric_protos::common::{ConfigEnvelope, Envelope, HeaderType, Payload, Status};
use fabric_protos::orderer::consensus_type::State as ConsensusState;
use fabric_protos::orderer::{BatchSize, ConsensusType};
use prost::Message;
use weft_channelconfig::compute_update;
use weft_msp::{Identity, SigningIdentity};
use weft_orderer::broadcast::{FilterOptions, Rejection};
use weft_orderer::{Accepted, StandardChannel, process_broadcast};

use crate::network::{CHANNEL, Network, expired_envelope, signed_envelope};

fn broadcast_with(envelope: &Envelope, options: FilterOptions) -> Result<Accepted, Rejection> {
    let network = Network::shared();
    let orderer = network.orderer();
    process_broadcast(
        envelope,
        |id| {
            (id == CHANNEL)
                .then(|| StandardChannel::new(&network.bundle, orderer.as_ref(), options))
        },
        SystemTime::now(),
    )
    .map(|(_, accepted)| accepted)
}

fn broadcast(envelope: &Envelope) -> Result<Accepted, Rejection> {
    broadcast_with(envelope, FilterOptions::default())
}

fn rejected(envelope: &Envelope) -> Rejection {
    broadcast(envelope).expect_err("envelope must be rejected")
}

fn user_tx(data: Vec<u8>) -> Envelope {
    let network = Network::shared();
    signed_envelope(
        network.org1_user().as_ref(),
        HeaderType::EndorserTransaction,
        CHANNEL,
        data,
    )
}

#[test]
fn member_transactions_and_messages_are_accepted() {
    assert_eq!(
        broadcast(&user_tx(b"tx".to_vec())),
        Ok(Accepted::Normal { config_sequence: 0 })
    );
    let network = Network::shared();
    // Header types other than config ones are all "normal" to Fabric.
    let message = signed_envelope(
        network.org1_user().as_ref(),
        HeaderType::Message,
        CHANNEL,
        vec![1],
    );
    assert_eq!(
        broadcast(&message),
        Ok(Accepted::Normal { config_sequence: 0 })
    );
}

#[test]
fn signer_outside_the_channel_is_forbidden() {
    let network = Network::shared();
    let env = signed_envelope(
        network.outsider().as_ref(),
        HeaderType::EndorserTransaction,
        CHANNEL,
        vec![1],
    );
    let r = rejected(&env);
    assert_eq!(r.status, Status::Forbidden, "{r}");
    assert!(r.info.ends_with("permission denied"), "{r}");
}

#[test]
fn bad_signature_is_forbidden() {
    let mut env = user_tx(b"tx".to_vec());
    let last = env.signature.len() - 1;
    env.signature[last] ^= 0x55;
    assert_eq!(rejected(&env).status, Status::Forbidden);
    let mut env = user_tx(b"tx".to_vec());
    env.payload.push(0); // signed bytes changed (trailing field 0 is still a valid payload? no: checked below)
    assert!(matches!(
        rejected(&env).status,
        Status::Forbidden | Status::BadRequest
    ));
}

#[test]
fn oversized_message_is_bad_request() {
    // AbsoluteMaxBytes is 64 KB in this channel; Fabric answers BAD_REQUEST, not 413.
    let r = rejected(&user_tx(vec![0; 64 * 1024]));
    assert_eq!(r.status, Status::BadRequest, "{r}");
    assert!(
        r.info.contains("exceeds maximum allowed 65536 bytes"),
        "{r}"
    );
    assert!(broadcast(&user_tx(vec![0; 63 * 1024])).is_ok());
}

#[test]
fn malformed_envelopes_are_bad_requests() {
    for (name, env) in [
        ("empty payload", Envelope::default()),
        (
            "garbage payload",
            Envelope {
                payload: vec![0xff, 0xff, 0xff],
                signature: vec![],
            },
        ),
        (
            "payload without header",
            Envelope {
                payload: Payload::default().encode_to_vec(),
                signature: vec![1],
            },
        ),
    ] {
        let r = rejected(&env);
        assert_eq!(r.status, Status::BadRequest, "{name}: {r}");
        assert!(
            r.info.starts_with("could not determine channel ID"),
            "{name}: {r}"
        );
    }
}

#[test]
fn unknown_channel_and_config_types_are_bad_requests() {
    let network = Network::shared();
    let env = signed_envelope(
        network.org1_user().as_ref(),
        HeaderType::EndorserTransaction,
        "nochannel",
        vec![1],
    );
    let r = rejected(&env);
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.info.contains("system channel is not defined"), "{r}");
    for header_type in [HeaderType::Config, HeaderType::OrdererTransaction] {
        let env = signed_envelope(
            network.orderer_admin().as_ref(),
            header_type,
            CHANNEL,
            vec![1],
        );
        let r = rejected(&env);
        assert_eq!(r.status, Status::BadRequest);
        assert_eq!(
            r.info,
            "message is of type that cannot be processed directly"
        );
    }
}

#[test]
fn expired_signer_is_rejected_unless_checks_are_off() {
    // Mirrors Fabric's expirationRejectRule (on with the V2_0 orderer capability).
    let network = Network::shared();
    let env = expired_envelope(network, b"tx".to_vec());
    let r = rejected(&env);
    assert_eq!(r.status, Status::BadRequest, "{r}");
    assert_eq!(r.info, "broadcast client identity expired");
    let off = broadcast_with(
        &env,
        FilterOptions {
            no_expiration_checks: true,
        },
    );
    assert_ne!(
        off.err().map(|r| r.info),
        Some("broadcast client identity expired".to_string())
    );
}

/// A CONFIG_UPDATE setting MaxMessageCount to `count`, signed by `signer` (as the single
/// config signature and as the envelope creator).
fn batch_size_update(signer: &dyn SigningIdentity, count: u32) -> Envelope {
    orderer_update(signer, |orderer| set_batch_count(orderer, count))
}

fn set_batch_count(orderer: &mut ConfigGroup, count: u32) {
    let value = orderer.values.get_mut("BatchSize").unwrap();
    let mut batch = BatchSize::decode(value.value.as_slice()).unwrap();
    batch.max_message_count = count;
    value.value = batch.encode_to_vec();
}

fn set_consensus(orderer: &mut ConfigGroup, edit: impl FnOnce(&mut ConsensusType)) {
    let value = orderer.values.get_mut("ConsensusType").unwrap();
    let mut consensus = ConsensusType::decode(value.value.as_slice()).unwrap();
    edit(&mut consensus);
    value.value = consensus.encode_to_vec();
}

/// A CONFIG_UPDATE applying `edit` to the Orderer group, signed by `signer`.
fn orderer_update(signer: &dyn SigningIdentity, edit: impl FnOnce(&mut ConfigGroup)) -> Envelope {
    use fabric_protos::common::{ConfigSignature, ConfigUpdateEnvelope, SignatureHeader};
    let network = Network::shared();
    let original = network.bundle.config().clone();
    let mut updated = original.clone();
    edit(
        updated
            .channel_group
            .as_mut()
            .unwrap()
            .groups
            .get_mut("Orderer")
            .unwrap(),
    );
    let update = compute_update(CHANNEL, &original, &updated).unwrap();
    let config_update = update.encode_to_vec();
    let header = SignatureHeader {
        creator: signer.serialize(),
        nonce: vec![3; 24],
    }
    .encode_to_vec();
    let mut signed = header.clone();
    signed.extend_from_slice(&config_update);
    let envelope = ConfigUpdateEnvelope {
        config_update,
        signatures: vec![ConfigSignature {
            signature_header: header,
            signature: signer.sign(&signed).unwrap(),
        }],
    };
    signed_envelope(
        signer,
        HeaderType::ConfigUpdate,
        CHANNEL,
        envelope.encode_to_vec(),
    )
}

#[test]
fn maintenance_rules_on_config_updates() {
    // Mirrors Fabric's maintenancefilter_test.go with the V2_0 orderer capability.
    let network = Network::shared();
    let admin = network.orderer_admin();
    let maintenance = |c: &mut ConsensusType| c.state = ConsensusState::Maintenance as i32;
    let enter = orderer_update(admin.as_ref(), |o| set_consensus(o, maintenance));
    assert!(matches!(
        broadcast(&enter),
        Ok(Accepted::ConfigUpdate { .. })
    ));

    let enter_and_more = orderer_update(admin.as_ref(), |o| {
        set_consensus(o, maintenance);
        set_batch_count(o, 3);
    });
    let r = rejected(&enter_and_more);
    assert_eq!(r.status, Status::BadRequest, "{r}");
    assert!(
        r.info
            .starts_with("config update for existing channel did not pass maintenance checks"),
        "{r}"
    );
    assert!(
        r.info
            .ends_with("contain more then just the ConsensusType value in the Orderer group"),
        "{r}"
    );

    let switch = orderer_update(admin.as_ref(), |o| {
        set_consensus(o, |c| c.r#type = "solo".into())
    });
    let r = rejected(&switch);
    assert_eq!(r.status, Status::BadRequest, "{r}");
    assert!(
        r.info.ends_with("from etcdraft to solo, but current config ConsensusType.State is not in maintenance mode"),
        "{r}"
    );
}

#[test]
fn admin_config_update_becomes_an_orderer_signed_config_envelope() {
    let network = Network::shared();
    let accepted = broadcast(&batch_size_update(network.orderer_admin().as_ref(), 77)).unwrap();
    let Accepted::ConfigUpdate {
        config,
        config_sequence,
    } = accepted
    else {
        panic!("expected a config update, got {accepted:?}");
    };
    assert_eq!(config_sequence, 0);
    // The CONFIG envelope is signed by the orderer and carries the next config.
    let signed = weft_orderer::broadcast::envelope_signed_data(&config).unwrap();
    assert_eq!(signed.identity, network.orderer().serialize());
    let header = weft_orderer::broadcast::channel_header(&config).unwrap();
    assert_eq!(header.r#type, HeaderType::Config as i32);
    assert_eq!(header.channel_id, CHANNEL);
    let payload = Payload::decode(config.payload.as_slice()).unwrap();
    let config_envelope = ConfigEnvelope::decode(payload.data.as_slice()).unwrap();
    assert_eq!(config_envelope.config.as_ref().unwrap().sequence, 1);
    network
        .bundle
        .validate_config_envelope(&config_envelope)
        .unwrap();
    let identity = network
        .bundle
        .msp_manager()
        .deserialize_identity(&signed.identity)
        .unwrap();
    identity.verify(&signed.data, &signed.signature).unwrap();
    assert!(weft_orderer::is_config_envelope(&config));
}

#[test]
fn non_admin_config_update_is_bad_request() {
    // configtx refuses it (Orderer/Admins not satisfied); Fabric reports BAD_REQUEST because
    // the failure is not the signature filter's permission error.
    let network = Network::shared();
    let r = rejected(&batch_size_update(network.org1_user().as_ref(), 77));
    assert_eq!(r.status, Status::BadRequest, "{r}");
    assert!(
        r.info.starts_with(&format!(
            "error applying config update to existing channel '{CHANNEL}'"
        )),
        "{r}"
    );
    // An outsider fails the initial signature filter instead: FORBIDDEN.
    let r = rejected(&batch_size_update(network.outsider().as_ref(), 77));
    assert_eq!(r.status, Status::Forbidden, "{r}");
    assert!(
        r.info
            .starts_with("config update for existing channel did not pass initial checks"),
        "{r}"
    );
}

#[test]
fn truncated_and_corrupted_envelopes_never_panic() {
    // Hostile input: every prefix and a byte flip at every position of a valid envelope end
    // in a Fabric status, never a panic or a success with a broken signature.
    let env = user_tx(b"hostile".to_vec());
    for len in 0..env.payload.len() {
        let cut = Envelope {
            payload: env.payload[..len].to_vec(),
            signature: env.signature.clone(),
        };
        let r = rejected(&cut);
        assert!(
            matches!(r.status, Status::BadRequest | Status::Forbidden),
            "prefix {len}: {r}"
        );
    }
    for i in (0..env.payload.len()).step_by(7) {
        let mut flipped = env.clone();
        flipped.payload[i] ^= 0x80;
        if let Err(r) = broadcast(&flipped) {
            assert!(
                matches!(r.status, Status::BadRequest | Status::Forbidden),
                "flip {i}: {r}"
            );
        } else {
            panic!("flip at {i} accepted");
        }
    }
}

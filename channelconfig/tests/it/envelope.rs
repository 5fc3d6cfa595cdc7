//! Config envelopes checked against the previous config, as a peer does for config blocks
//! (Fabric configtx Validate), and config blocks opened down to their config.

use fabric_protos::common::{
    Block, BlockData, ChannelHeader, ConfigEnvelope, Envelope, Header, HeaderType, Payload,
};
use prost::Message;
use weft_channelconfig::{ChannelBundle, ConfigError, UpdateError, config_envelope_from_block};

use crate::fixture::*;
use crate::table::{build, cases};

fn next_envelope(case: &str) -> ConfigEnvelope {
    let case = cases().into_iter().find(|c| c.name == case).unwrap();
    base_bundle()
        .propose_config_update(&build(&case, &crate::table::fake_world()).0)
        .unwrap()
}

fn config_block(envelope: &ConfigEnvelope, header_type: HeaderType) -> Block {
    let ch = ChannelHeader {
        r#type: header_type as i32,
        channel_id: CHANNEL.into(),
        ..Default::default()
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: ch.encode_to_vec(),
            signature_header: vec![],
        }),
        data: envelope.encode_to_vec(),
    };
    let env = Envelope {
        payload: payload.encode_to_vec(),
        signature: vec![],
    };
    Block {
        data: Some(BlockData {
            data: vec![env.encode_to_vec()],
        }),
        ..Default::default()
    }
}

#[test]
fn proposed_envelope_validates_and_applies() {
    let base = base_bundle();
    let env = next_envelope("add_org");
    assert_eq!(env.config.as_ref().unwrap().sequence, 1);
    base.validate_config_envelope(&env).unwrap();
    let next = base.apply_config_envelope(&env, sources()).unwrap();
    assert!(
        next.application()
            .unwrap()
            .organizations
            .contains_key("Org3")
    );
    // Through a config block as a peer receives it.
    let (channel, from_block) =
        config_envelope_from_block(&config_block(&env, HeaderType::Config)).unwrap();
    assert_eq!((channel.as_str(), &from_block), (CHANNEL, &env));
    let next = ChannelBundle::from_config_block(&config_block(&env, HeaderType::Config), sources())
        .unwrap();
    assert_eq!(next.sequence(), 1);
}

// Fabric configtx Validate: the sequence must be exactly the next one.
#[test]
fn replayed_or_skipped_sequence_refused() {
    let base = base_bundle();
    for seq in [0, 2, u64::MAX] {
        let mut env = next_envelope("change_batch_size");
        env.config.as_mut().unwrap().sequence = seq;
        assert_eq!(
            base.validate_config_envelope(&env),
            Err(UpdateError::SequenceMismatch {
                current: 0,
                proposed: seq
            })
        );
    }
    // Re-submitting an applied config block to the config it produced.
    let env = next_envelope("change_batch_size");
    let next = base.apply_config_envelope(&env, sources()).unwrap();
    assert!(matches!(
        next.validate_config_envelope(&env),
        Err(UpdateError::SequenceMismatch { .. })
    ));
}

// Fabric configtx Validate: LastUpdate must reproduce the channel group exactly.
#[test]
fn config_not_matching_last_update_refused() {
    let base = base_bundle();
    let mut env = next_envelope("change_batch_size");
    let group = env.config.as_mut().unwrap().channel_group.as_mut().unwrap();
    group
        .groups
        .get_mut("Orderer")
        .unwrap()
        .values
        .get_mut("BatchTimeout")
        .unwrap()
        .value = b"\n\x015s".to_vec();
    assert_eq!(
        base.validate_config_envelope(&env),
        Err(UpdateError::ResultMismatch)
    );

    let mut env = next_envelope("change_batch_size");
    env.config
        .as_mut()
        .unwrap()
        .channel_group
        .as_mut()
        .unwrap()
        .version = 1;
    assert_eq!(
        base.validate_config_envelope(&env),
        Err(UpdateError::ResultMismatch)
    );

    let mut env = next_envelope("change_batch_size");
    env.last_update = None;
    assert_eq!(
        base.validate_config_envelope(&env),
        Err(UpdateError::MissingHeader)
    );
    let mut env = next_envelope("change_batch_size");
    env.config = None;
    assert_eq!(
        base.validate_config_envelope(&env),
        Err(UpdateError::MissingConfig)
    );
    assert!(matches!(
        base.apply_config_envelope(&env, sources()),
        Err(ConfigError::Tree(UpdateError::MissingConfig))
    ));
}

#[test]
fn non_config_envelopes_refused() {
    let env = next_envelope("change_batch_size");
    let block = config_block(&env, HeaderType::EndorserTransaction);
    assert!(matches!(
        config_envelope_from_block(&block),
        Err(ConfigError::Envelope(_))
    ));
    assert!(matches!(
        config_envelope_from_block(&Block::default()),
        Err(ConfigError::Envelope(_))
    ));
    let garbage = Block {
        data: Some(BlockData {
            data: vec![vec![0xff, 0xff, 0xff]],
        }),
        ..Default::default()
    };
    assert!(matches!(
        config_envelope_from_block(&garbage),
        Err(ConfigError::Decode { .. })
    ));
    // A CONFIG envelope is not a CONFIG_UPDATE.
    let mut wrong = env.last_update.clone().unwrap();
    let mut payload = Payload::decode(wrong.payload.as_slice()).unwrap();
    let ch = ChannelHeader {
        r#type: HeaderType::Config as i32,
        channel_id: CHANNEL.into(),
        ..Default::default()
    };
    payload.header.as_mut().unwrap().channel_header = ch.encode_to_vec();
    wrong.payload = payload.encode_to_vec();
    assert!(matches!(
        base_bundle().propose_config_update(&wrong),
        Err(UpdateError::WrongHeaderType {
            expected: "CONFIG_UPDATE",
            ..
        })
    ));
}

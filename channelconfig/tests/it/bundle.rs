//! Building bundles: typed accessors and Fabric's value checks, with errors naming the path.

use std::time::Duration;

use fabric_protos::common::{
    Capabilities, Capability, Config, ConfigGroup, HashingAlgorithm, OrdererAddresses,
};
use fabric_protos::msp::{FabricMspConfig, MspConfig};
use fabric_protos::orderer::{BatchSize, BatchTimeout};
use prost::Message;
use weft_channelconfig::{
    ChannelBundle, ConfigError, Consensus, HashingAlgorithm as Hashing, MspVersion,
};

use crate::fixture::*;

fn with(edit: impl FnOnce(&mut ConfigGroup)) -> Result<ChannelBundle, ConfigError> {
    let mut config = base_config();
    edit(config.channel_group.as_mut().unwrap());
    ChannelBundle::new(CHANNEL, &config, sources())
}

fn set<M: Message>(g: &mut ConfigGroup, key: &str, m: &M) {
    g.values.insert(key.into(), value(m));
}

fn orderer(r: &mut ConfigGroup) -> &mut ConfigGroup {
    r.groups.get_mut("Orderer").unwrap()
}

fn expect_invalid(result: Result<ChannelBundle, ConfigError>, path: &str) -> String {
    match result {
        Err(e @ (ConfigError::InvalidValue { .. } | ConfigError::InvalidGroup { .. })) => {
            let msg = e.to_string();
            assert!(msg.contains(path), "error {msg:?} does not name {path}");
            msg
        }
        other => panic!("expected an invalid value at {path}, got {other:?}"),
    }
}

#[test]
fn typed_view_of_base_config() {
    let b = base_bundle();
    assert_eq!(b.channel_id(), CHANNEL);
    assert_eq!(b.sequence(), 0);
    let ch = b.channel();
    assert_eq!(ch.hashing_algorithm, Hashing::Sha256);
    assert_eq!(ch.block_data_hashing_width, u32::MAX);
    assert_eq!(ch.orderer_addresses, ["orderer.example.com:7050"]);
    assert!(ch.capabilities.0.has("V2_0"));
    assert_eq!(ch.capabilities.msp_version(), MspVersion::V1_4_3);

    let o = b.orderer().unwrap();
    assert_eq!(o.consensus_type, "etcdraft");
    let Consensus::EtcdRaft(raft) = &o.consensus else {
        panic!("not raft: {:?}", o.consensus)
    };
    assert_eq!(raft.consenters[0].host, "orderer.example.com");
    assert_eq!(raft.consenters[0].port, 7050);
    assert_eq!(raft.options.as_ref().unwrap().tick_interval, "500ms");
    assert_eq!(o.batch_size.max_message_count, 10);
    assert_eq!(o.batch_timeout, Duration::from_secs(2));
    assert_eq!(o.organizations["OrdererOrg"].org.msp_id, "OrdererMSP");
    assert_eq!(
        o.organizations["OrdererOrg"].endpoints,
        ["orderer.example.com:7050"]
    );
    assert!(o.capabilities.consensus_type_migration());

    let app = b.application().unwrap();
    assert_eq!(app.organizations.len(), 2);
    assert_eq!(app.organizations["Org2"].org.msp_id, "Org2MSP");
    assert_eq!(app.organizations["Org2"].anchor_peers[0].port, 9051);
    assert!(app.capabilities.lifecycle_v20());
    assert!(b.consortiums().is_none());

    // The MSP manager dispatches on MSP ID; the policy manager resolves config paths.
    assert!(
        b.msp_manager()
            .deserialize_identity(&admin_of("Org1"))
            .is_ok()
    );
    assert!(
        b.msp_manager()
            .deserialize_identity(&admin_of("Org9"))
            .is_err()
    );
    assert!(
        b.policy_manager()
            .get_policy("/Channel/Application/Admins")
            .is_some()
    );
}

// Fabric channel.go: only SHA256/SHA3_256, width must be MaxUint32.
#[test]
fn channel_values_checked() {
    let msg = expect_invalid(
        with(|r| {
            set(
                r,
                "HashingAlgorithm",
                &HashingAlgorithm { name: "MD5".into() },
            )
        }),
        "/Channel/HashingAlgorithm",
    );
    assert!(msg.contains("MD5"));
    assert!(
        with(|r| set(
            r,
            "HashingAlgorithm",
            &HashingAlgorithm {
                name: "SHA3_256".into()
            }
        ))
        .is_ok()
    );
    expect_invalid(
        with(|r| {
            r.values.remove("BlockDataHashingStructure");
        }),
        "/Channel/BlockDataHashingStructure",
    );
    expect_invalid(
        with(|r| set(r, "Unexpected", &HashingAlgorithm::default())),
        "/Channel/Unexpected",
    );
    // Before V1_4_2 global orderer addresses are mandatory; at V3_0 they are forbidden.
    let caps = |names: &[&str]| {
        let mut c = Capabilities::default();
        for n in names {
            c.capabilities.insert((*n).into(), Capability::default());
        }
        c
    };
    expect_invalid(
        with(|r| {
            set(r, "Capabilities", &caps(&["V1_3"]));
            set(r, "OrdererAddresses", &OrdererAddresses::default());
        }),
        "/Channel/OrdererAddresses",
    );
    expect_invalid(
        with(|r| set(r, "Capabilities", &caps(&["V3_0"]))),
        "/Channel/OrdererAddresses",
    );
}

#[test]
fn unknown_capabilities_stop_processing() {
    let mut c = Capabilities::default();
    c.capabilities.insert("V7_0".into(), Capability::default());
    let err =
        with(|r| set(r.groups.get_mut("Application").unwrap(), "Capabilities", &c)).unwrap_err();
    assert_eq!(
        err,
        ConfigError::UnsupportedCapability {
            kind: "Application",
            name: "V7_0".into()
        }
    );
    let err = with(|r| set(r.groups.get_mut("Orderer").unwrap(), "Capabilities", &c)).unwrap_err();
    assert_eq!(
        err,
        ConfigError::UnsupportedCapability {
            kind: "Orderer",
            name: "V7_0".into()
        }
    );
}

// Fabric orderer.go batch size and timeout checks.
#[test]
fn orderer_values_checked() {
    for bs in [
        BatchSize {
            max_message_count: 0,
            absolute_max_bytes: 10,
            preferred_max_bytes: 10,
        },
        BatchSize {
            max_message_count: 1,
            absolute_max_bytes: 10,
            preferred_max_bytes: 11,
        },
    ] {
        expect_invalid(
            with(|r| set(orderer(r), "BatchSize", &bs)),
            "/Channel/Orderer/BatchSize",
        );
    }
    for timeout in ["", "-1s", "0s", "1 s", "10"] {
        expect_invalid(
            with(|r| {
                set(
                    orderer(r),
                    "BatchTimeout",
                    &BatchTimeout {
                        timeout: timeout.into(),
                    },
                )
            }),
            "/Channel/Orderer/BatchTimeout",
        );
    }
    let ok = with(|r| {
        set(
            orderer(r),
            "BatchTimeout",
            &BatchTimeout {
                timeout: "1m30.5s".into(),
            },
        )
    })
    .unwrap();
    assert_eq!(
        ok.orderer().unwrap().batch_timeout,
        Duration::from_millis(90_500)
    );
    let msg = expect_invalid(
        with(|r| {
            let ct = fabric_protos::orderer::ConsensusType {
                r#type: "hotstuff".into(),
                ..Default::default()
            };
            set(orderer(r), "ConsensusType", &ct)
        }),
        "/Channel/Orderer/ConsensusType",
    );
    assert!(msg.contains("hotstuff"));
}

#[test]
fn group_structure_checked() {
    expect_invalid(
        with(|r| {
            r.groups.insert("Bogus".into(), ConfigGroup::default());
        }),
        "/Channel/Bogus",
    );
    expect_invalid(
        with(|r| {
            let org = r
                .groups
                .get_mut("Application")
                .unwrap()
                .groups
                .get_mut("Org1")
                .unwrap();
            org.groups.insert("Sub".into(), ConfigGroup::default());
        }),
        "/Channel/Application/Org1",
    );
    // Two orgs may share an MSP ID only with identical MSP configs.
    let twin = with(|r| {
        let org1 = r.groups["Application"].groups["Org1"].clone();
        r.groups
            .get_mut("Application")
            .unwrap()
            .groups
            .insert("Org1Again".into(), org1);
    });
    assert!(twin.is_ok());
    let clash = with(|r| {
        let mut org1 = r.groups["Application"].groups["Org1"].clone();
        let fabric = FabricMspConfig {
            name: "Org1MSP".into(),
            root_certs: vec![b"another root".to_vec()],
            ..Default::default()
        };
        let msp = value(&MspConfig {
            r#type: 0,
            config: fabric.encode_to_vec(),
        });
        org1.values.insert("MSP".into(), msp);
        r.groups
            .get_mut("Application")
            .unwrap()
            .groups
            .insert("Org1Again".into(), org1);
    });
    let msg = expect_invalid(clash, "/Channel/Application/Org1Again/MSP");
    assert!(
        msg.contains("two different versions of MSP Org1MSP"),
        "{msg}"
    );
}

// Fabric bundle.go preValidate.
#[test]
fn channel_capabilities_need_orderer_capabilities() {
    let err = with(|r| {
        r.groups
            .get_mut("Orderer")
            .unwrap()
            .values
            .remove("Capabilities");
    });
    expect_invalid(err, "/Channel");
}

#[test]
fn missing_channel_group_refused() {
    let err = ChannelBundle::new(
        CHANNEL,
        &Config {
            sequence: 0,
            channel_group: None,
        },
        sources(),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::Envelope(_)));
    let err = ChannelBundle::new("Bad_Channel", &base_config(), sources()).unwrap_err();
    assert!(matches!(err, ConfigError::Tree(_)), "{err:?}");
}

// Fabric bundle.go ValidateNew.
#[test]
fn successor_keeps_msp_ids_and_sections() {
    let base = base_bundle();
    let renamed = with(|r| {
        let org1 = r
            .groups
            .get_mut("Application")
            .unwrap()
            .groups
            .get_mut("Org1")
            .unwrap();
        org1.values.insert("MSP".into(), msp_value("OtherMSP"));
    })
    .unwrap();
    assert!(matches!(
        base.validate_successor(&renamed),
        Err(ConfigError::Successor(_))
    ));
    let no_app = with(|r| {
        r.groups.remove("Application");
    })
    .unwrap();
    assert!(matches!(
        base.validate_successor(&no_app),
        Err(ConfigError::Successor(_))
    ));
    assert!(base.validate_successor(&base_bundle()).is_ok());
}

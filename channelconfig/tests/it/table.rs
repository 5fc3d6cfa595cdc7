//! Replays testdata/config_updates.txt: each row's update is built, signed and submitted
//! the way an orderer receives it (Fabric's configtx ProposeConfigUpdate, then a new bundle
//! from the result and Bundle.ValidateNew), and the decision compared with the row.

use fabric_protos::common::ConfigUpdateEnvelope;
use fabric_protos::common::{
    Capabilities, Capability, Config, ConfigGroup, ConfigPolicy, ConfigUpdate, ConfigValue,
    Envelope, MspPrincipal, MspRole, Payload, Policy, SignaturePolicy, SignaturePolicyEnvelope,
    implicit_meta_policy::Rule, msp_principal::Classification, msp_role::MspRoleType,
    policy::PolicyType, signature_policy::NOutOf, signature_policy::Type as RuleType,
};
use fabric_protos::orderer::{BatchSize, BatchTimeout, ConsensusType};
use fabric_protos::protos::{AnchorPeer, AnchorPeers};
use prost::Message;
use weft_channelconfig::{BundleSources, ChannelBundle, GroupPolicyProvider, compute_update};

use crate::fakes::FakeMspFactory;

use crate::fixture::*;

const TABLE: &str = include_str!("../../testdata/config_updates.txt");

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub edit: Vec<String>,
    pub tamper: Vec<String>,
    pub signers: Vec<String>,
    pub expect: String,
}

pub fn cases() -> Vec<Case> {
    TABLE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols.len(), 5, "malformed row: {line}");
            let args = |s: &str| s.split(':').map(String::from).collect::<Vec<_>>();
            let signers = if cols[3] == "-" {
                vec![]
            } else {
                cols[3].split(',').map(String::from).collect()
            };
            Case {
                name: cols[0].into(),
                edit: args(cols[1]),
                tamper: args(cols[2]),
                signers,
                expect: cols[4].into(),
            }
        })
        .collect()
}

fn group_at<'a>(root: &'a mut ConfigGroup, path: &str) -> &'a mut ConfigGroup {
    path.split('/')
        .filter(|p| !p.is_empty())
        .fold(root, |g, p| g.groups.get_mut(p).unwrap())
}

fn set_value<M: Message>(g: &mut ConfigGroup, key: &str, m: &M) {
    let v = g.values.get_mut(key).unwrap();
    v.value = m.encode_to_vec();
}

fn edit_batch_size(root: &mut ConfigGroup, f: impl FnOnce(&mut BatchSize)) {
    let orderer = group_at(root, "Orderer");
    let mut bs = BatchSize::decode(orderer.values["BatchSize"].value.as_slice()).unwrap();
    f(&mut bs);
    set_value(orderer, "BatchSize", &bs);
}

/// A signature policy over `<msp_id>.member` in one of the table's hostile shapes:
/// `nested` is `OutOf(1, OutOf(1, ... 'msp.member'))` with `size` gates, `wide` is
/// `OutOf(1, 'msp.member', ...)` with `size` principals (one per rule).
fn shaped_policy(msp_id: &str, shape: &str, size: usize) -> ConfigPolicy {
    let leaf = |i: usize| SignaturePolicy {
        r#type: Some(RuleType::SignedBy(i32::try_from(i).unwrap())),
    };
    let gate = |rules| SignaturePolicy {
        r#type: Some(RuleType::NOutOf(NOutOf { n: 1, rules })),
    };
    let (rule, principals) = match shape {
        "nested" => ((0..size).fold(leaf(0), |inner, _| gate(vec![inner])), 1),
        "wide" => (gate((0..size).map(leaf).collect()), size),
        other => panic!("unknown policy shape {other}"),
    };
    let member = MspPrincipal {
        principal_classification: Classification::Role as i32,
        principal: MspRole {
            msp_identifier: msp_id.into(),
            role: MspRoleType::Member as i32,
        }
        .encode_to_vec(),
    };
    let envelope = SignaturePolicyEnvelope {
        version: 0,
        rule: Some(rule),
        identities: vec![member; principals],
    };
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: PolicyType::Signature as i32,
            value: envelope.encode_to_vec(),
        }),
        mod_policy: "Admins".into(),
    }
}

/// Applies an `edit` column to the channel group.
pub fn apply_edit(root: &mut ConfigGroup, edit: &[String], new_org: NewOrg<'_>) {
    let arg = |i: usize| edit[i].as_str();
    match arg(0) {
        "add_app_org" => {
            let org = new_org(arg(1));
            group_at(root, "Application")
                .groups
                .insert(arg(1).into(), org);
        }
        "remove_app_org" => {
            group_at(root, "Application").groups.remove(arg(1)).unwrap();
        }
        "remove_org_value" => {
            group_at(root, &format!("Application/{}", arg(1)))
                .values
                .remove(arg(2))
                .unwrap();
        }
        "batch_max_messages" => {
            edit_batch_size(root, |b| b.max_message_count = arg(1).parse().unwrap())
        }
        "batch_preferred_bytes" => {
            edit_batch_size(root, |b| b.preferred_max_bytes = arg(1).parse().unwrap())
        }
        "batch_timeout" => set_value(
            group_at(root, "Orderer"),
            "BatchTimeout",
            &BatchTimeout {
                timeout: arg(1).into(),
            },
        ),
        "consensus_type" => {
            let ct = ConsensusType {
                r#type: arg(1).into(),
                ..Default::default()
            };
            set_value(group_at(root, "Orderer"), "ConsensusType", &ct);
        }
        "channel_capability" => {
            let mut caps = Capabilities::default();
            for c in arg(1).split(',') {
                caps.capabilities.insert(c.into(), Capability::default());
            }
            set_value(root, "Capabilities", &caps);
        }
        "app_policy" => {
            let rule = Rule::from_str_name(arg(2)).unwrap();
            let policy = implicit_meta(rule, arg(3));
            group_at(root, "Application")
                .policies
                .insert(arg(1).into(), policy);
        }
        "anchor_peer" => {
            let anchors = AnchorPeers {
                anchor_peers: vec![AnchorPeer {
                    host: arg(2).into(),
                    port: arg(3).parse().unwrap(),
                }],
            };
            set_value(
                group_at(root, &format!("Application/{}", arg(1))),
                "AnchorPeers",
                &anchors,
            );
        }
        "many_values" => {
            let org = group_at(root, &format!("Application/{}", arg(1)));
            for i in 0..arg(2).parse::<usize>().unwrap() {
                org.values.insert(
                    format!("v{i}"),
                    ConfigValue {
                        mod_policy: "Admins".into(),
                        ..Default::default()
                    },
                );
            }
        }
        "org_policy" => {
            let policy = shaped_policy(&format!("{}MSP", arg(1)), arg(3), arg(4).parse().unwrap());
            group_at(root, &format!("Application/{}", arg(1)))
                .policies
                .insert(arg(2).into(), policy);
        }
        other => panic!("unknown edit {other}"),
    }
}

/// Applies a `tamper` column to the computed update (those that act on the update itself).
fn apply_tamper(update: &mut ConfigUpdate, tamper: &[String]) {
    let arg = |i: usize| tamper[i].as_str();
    let read = update.read_set.as_mut().unwrap();
    match arg(0) {
        "-" | "replay" | "forge_signatures" => {}
        "read_version" => group_at(read, arg(1)).version = arg(2).parse().unwrap(),
        "read_extra_group" => {
            let (parent, name) = arg(1).rsplit_once('/').unwrap();
            group_at(read, parent)
                .groups
                .insert(name.into(), ConfigGroup::default());
        }
        "write_value_version" | "write_value_mod_policy" => {
            let (parent, name) = arg(1).rsplit_once('/').unwrap();
            let value = group_at(update.write_set.as_mut().unwrap(), parent)
                .values
                .get_mut(name)
                .unwrap();
            if arg(0) == "write_value_version" {
                value.version = arg(2).parse().unwrap();
            } else {
                value.mod_policy = arg(2).into();
            }
        }
        "write_group_version" => {
            group_at(update.write_set.as_mut().unwrap(), arg(1)).version = arg(2).parse().unwrap()
        }
        "write_nest_groups" => {
            let mut nested = ConfigGroup {
                mod_policy: "Admins".into(),
                ..Default::default()
            };
            for _ in 1..arg(2).parse::<usize>().unwrap() {
                let mut parent = ConfigGroup {
                    mod_policy: "Admins".into(),
                    ..Default::default()
                };
                parent.groups.insert("g".into(), nested);
                nested = parent;
            }
            group_at(update.write_set.as_mut().unwrap(), arg(1))
                .groups
                .insert("g".into(), nested);
        }
        "channel_id" => update.channel_id = arg(1).into(),
        "empty_write_set" => update.write_set = update.read_set.clone(),
        other => panic!("unknown tamper {other}"),
    }
}

fn forge(envelope: &Envelope) -> Envelope {
    let mut payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let mut cue = ConfigUpdateEnvelope::decode(payload.data.as_slice()).unwrap();
    for s in &mut cue.signatures {
        s.signature = vec![0; 8];
    }
    payload.data = cue.encode_to_vec();
    Envelope {
        payload: payload.encode_to_vec(),
        signature: vec![],
    }
}

/// The config a table is replayed on and how orgs are made and sign there.
pub struct World<'a> {
    pub channel_id: &'a str,
    pub base: Config,
    pub sources: BundleSources<'a>,
    pub new_org: NewOrg<'a>,
    /// Signs `bytes` as the admin of an org: (creator, signature).
    pub sign_as: SignAs<'a>,
}

/// Signs bytes as the admin of the named org, returning (creator, signature).
pub type SignAs<'a> = &'a dyn Fn(&str, &[u8]) -> (Vec<u8>, Vec<u8>);

/// The config group of a new application org with this name.
pub type NewOrg<'a> = &'a dyn Fn(&str) -> ConfigGroup;

/// The world of tests/it/fixture.rs: test MSPs and signatures.
pub fn fake_world() -> World<'static> {
    World {
        channel_id: CHANNEL,
        base: base_config(),
        sources: sources(),
        new_org: &|name| org_group(&format!("{name}MSP")),
        sign_as: &|org, bytes| {
            let creator = admin_of(org);
            let signature = crate::fakes::fake_signature(&creator, bytes);
            (creator, signature)
        },
    }
}

/// The submitted envelope and the config the row asks for.
pub fn build(case: &Case, world: &World<'_>) -> (Envelope, Config) {
    let base = &world.base;
    let mut desired = base.clone();
    apply_edit(
        desired.channel_group.as_mut().unwrap(),
        &case.edit,
        world.new_org,
    );
    let mut update = compute_update(world.channel_id, base, &desired).unwrap();
    apply_tamper(&mut update, &case.tamper);
    let sign = |i: usize, bytes: &[u8]| (world.sign_as)(&case.signers[i], bytes);
    let mut envelope = update_envelope_signed(&update, &sign, case.signers.len());
    if case.tamper[0] == "forge_signatures" {
        envelope = forge(&envelope);
    }
    (envelope, desired)
}

/// What an orderer decides for the envelope: the update's refusal kind, `invalid_config`, or
/// the next bundle.
pub fn decide(
    bundle: &ChannelBundle,
    envelope: &Envelope,
    sources: BundleSources<'_>,
) -> Result<ChannelBundle, String> {
    let next_envelope = bundle
        .propose_config_update(envelope)
        .map_err(|e| format!("reject:{}", e.kind()))?;
    let config = next_envelope.config.as_ref().unwrap();
    let invalid = |_| "invalid_config".to_string();
    let next = ChannelBundle::new(bundle.channel_id(), config, sources).map_err(invalid)?;
    bundle.validate_successor(&next).map_err(invalid)?;
    // A peer receiving the resulting config block re-derives it from its last_update.
    bundle
        .validate_config_envelope(&next_envelope)
        .expect("orderer output must validate at the peer");
    Ok(next)
}

/// Replays every row in `world`; returns the rows decided differently from the table.
pub fn run_table(world: &World<'_>) -> Vec<String> {
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut failures = vec![];
    for case in &cases {
        let base = ChannelBundle::new(world.channel_id, &world.base, world.sources).unwrap();
        let (envelope, desired) = build(case, world);
        let mut outcome = decide(&base, &envelope, world.sources);
        if case.tamper[0] == "replay" {
            let next = outcome.expect("first submission of a replayed update must pass");
            outcome = decide(&next, &envelope, world.sources);
        }
        let got = match &outcome {
            Ok(_) => "accept".to_string(),
            Err(kind) => kind.clone(),
        };
        if got != case.expect {
            failures.push(format!(
                "{}: expected {}, got {got}",
                case.name, case.expect
            ));
            continue;
        }
        if let Ok(next) = outcome {
            assert_eq!(next.sequence(), world.base.sequence + 1, "{}", case.name);
            let got_tree = without_versions(next.config().channel_group.as_ref().unwrap());
            let want_tree = without_versions(desired.channel_group.as_ref().unwrap());
            assert_eq!(
                got_tree, want_tree,
                "{}: next config differs from the desired one",
                case.name
            );
        }
    }
    failures
}

// Fabric common/configtx validator and channelconfig bundle decisions, row by row, with the
// test policies.
#[test]
fn config_update_table() {
    let failures = run_table(&fake_world());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// The same rows with Weft's policy crate evaluating the mod_policies.
#[test]
fn config_update_table_with_weft_policies() {
    let world = World {
        sources: BundleSources {
            msps: &FakeMspFactory,
            policies: &GroupPolicyProvider,
        },
        ..fake_world()
    };
    let failures = run_table(&world);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn accepted_updates_take_effect() {
    let world = fake_world();
    let base = base_bundle();
    let row = |name: &str| cases().into_iter().find(|c| c.name == name).unwrap();
    let next = decide(
        &base,
        &build(&row("change_batch_size"), &world).0,
        sources(),
    )
    .unwrap();
    assert_eq!(next.orderer().unwrap().batch_size.max_message_count, 20);
    assert_eq!(
        base.orderer().unwrap().batch_size.max_message_count,
        10,
        "bundles are immutable"
    );
    let version = |b: &ChannelBundle| {
        b.config().channel_group.as_ref().unwrap().groups["Orderer"].values["BatchSize"].version
    };
    assert_eq!((version(&base), version(&next)), (0, 1));

    let next = decide(&base, &build(&row("add_org"), &world).0, sources()).unwrap();
    let app = next.application().unwrap();
    assert_eq!(app.organizations["Org3"].org.msp_id, "Org3MSP");
    let app_group = &next.config().channel_group.as_ref().unwrap().groups["Application"];
    assert_eq!(app_group.version, 1);
    assert_eq!(app_group.groups["Org3"].version, 0);
    assert_eq!(app_group.groups["Org1"].version, 0);
}

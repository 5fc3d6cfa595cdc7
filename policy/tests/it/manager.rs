//! The policy manager over config trees and implicit meta policies (Fabric's
//! policies.ManagerImpl and ImplicitMetaPolicy).

use std::sync::Arc;

use fabric_protos::common::{
    ConfigGroup, ConfigPolicy, ImplicitMetaPolicy as PbImplicitMeta, Policy as PbPolicy,
    implicit_meta_policy::Rule,
};
use prost::Message;
use weft_policy::{GroupPolicyManager, MAX_GROUP_DEPTH, PolicyManager, SignedData, from_string};

use crate::fake::{FakeDeserializer, signed};

fn signature_policy(expr: &str) -> ConfigPolicy {
    ConfigPolicy {
        version: 0,
        policy: Some(PbPolicy {
            r#type: 1,
            value: from_string(expr).unwrap().encode_to_vec(),
        }),
        mod_policy: String::new(),
    }
}

fn implicit_meta(rule: i32, sub: &str) -> ConfigPolicy {
    ConfigPolicy {
        version: 0,
        policy: Some(PbPolicy {
            r#type: 3,
            value: PbImplicitMeta {
                sub_policy: sub.into(),
                rule,
            }
            .encode_to_vec(),
        }),
        mod_policy: String::new(),
    }
}

fn org_names(count: usize) -> Vec<String> {
    (1..=count).map(|i| format!("Org{i}")).collect()
}

/// Identities o1..o9, member of Org1..Org9.
fn deserializer() -> Arc<FakeDeserializer> {
    let mut d = FakeDeserializer::default();
    for i in 1..=9 {
        d.add(
            &format!("o{i}"),
            &format!("Org{i}"),
            &[&format!("Org{i}.member")],
        );
    }
    Arc::new(d)
}

/// A group with `orgs` child groups, each with Readers = OR('OrgN.member'), and the given
/// implicit meta policy as "Meta".
fn group_with_orgs(orgs: usize, rule: i32) -> ConfigGroup {
    let mut group = ConfigGroup::default();
    for name in org_names(orgs) {
        let mut org = ConfigGroup::default();
        org.policies.insert(
            "Readers".into(),
            signature_policy(&format!("OR('{name}.member')")),
        );
        group.groups.insert(name, org);
    }
    group
        .policies
        .insert("Meta".into(), implicit_meta(rule, "Readers"));
    group
}

fn signers(count: usize) -> Vec<SignedData> {
    (1..=count)
        .map(|i| signed(&format!("o{i}"), b"payload"))
        .collect()
}

/// Fabric's thresholds: ANY 1, ALL all, MAJORITY n/2+1, and 0 when there are no children.
#[test]
fn implicit_meta_thresholds() {
    let table: &[(Rule, [usize; 4])] = &[
        (Rule::Any, [0, 1, 1, 1]),
        (Rule::All, [0, 1, 2, 3]),
        (Rule::Majority, [0, 1, 2, 2]),
    ];
    for (rule, thresholds) in table {
        for (children, threshold) in thresholds.iter().enumerate() {
            let manager = GroupPolicyManager::new(
                "Channel",
                &group_with_orgs(children, *rule as i32),
                deserializer(),
            )
            .unwrap();
            let meta = manager.get_policy("Meta").unwrap();
            for satisfied in 0..=children {
                let got = meta.evaluate_signed_data(&signers(satisfied)).is_ok();
                assert_eq!(
                    got,
                    satisfied >= *threshold,
                    "{rule:?} with {children} children, {satisfied} satisfied"
                );
            }
        }
    }
}

/// A child without the sub-policy still counts toward the threshold, with a policy that
/// always fails (Fabric's rejectPolicy).
#[test]
fn child_without_sub_policy_counts_as_failing() {
    let mut group = group_with_orgs(2, Rule::All as i32);
    group.groups.insert("Empty".into(), ConfigGroup::default());
    let manager = GroupPolicyManager::new("Channel", &group, deserializer()).unwrap();
    let meta = manager.get_policy("Meta").unwrap();
    assert!(meta.evaluate_signed_data(&signers(2)).is_err());

    let mut group = group_with_orgs(2, Rule::Majority as i32);
    group.groups.insert("Empty".into(), ConfigGroup::default());
    let manager = GroupPolicyManager::new("Channel", &group, deserializer()).unwrap();
    let meta = manager.get_policy("Meta").unwrap();
    assert!(meta.evaluate_signed_data(&signers(1)).is_err());
    assert!(meta.evaluate_signed_data(&signers(2)).is_ok());
}

/// A rule outside the enum leaves Fabric's threshold at 0; its countdown then passes only when
/// no sub-policy is satisfied.
#[test]
fn unknown_rule_quirk() {
    let manager =
        GroupPolicyManager::new("Channel", &group_with_orgs(2, 7), deserializer()).unwrap();
    let meta = manager.get_policy("Meta").unwrap();
    assert!(meta.evaluate_signed_data(&[]).is_ok());
    assert!(meta.evaluate_signed_data(&signers(1)).is_err());
    assert!(meta.evaluate_signed_data(&signers(2)).is_err());
}

/// Implicit meta policies over implicit meta policies, as in a real channel config.
fn channel() -> ConfigGroup {
    let mut application = group_with_orgs(3, Rule::Majority as i32);
    application
        .policies
        .insert("Readers".into(), implicit_meta(Rule::Any as i32, "Readers"));
    let mut channel = ConfigGroup::default();
    channel.groups.insert("Application".into(), application);
    channel
        .policies
        .insert("Readers".into(), implicit_meta(Rule::Any as i32, "Readers"));
    channel
}

#[test]
fn absolute_and_relative_paths() {
    let root = GroupPolicyManager::new("Channel", &channel(), deserializer()).unwrap();
    let o2 = [signed("o2", b"payload")];
    for path in [
        "Readers",
        "/Channel/Readers",
        "/Channel/Application/Readers",
        "Application/Readers",
        "Application/Org2/Readers",
        "/Channel/Application/Org2/Readers",
    ] {
        let policy = root
            .get_policy(path)
            .unwrap_or_else(|| panic!("{path} not found"));
        assert!(policy.evaluate_signed_data(&o2).is_ok(), "{path}");
    }
    let org1 = root.get_policy("Application/Org1/Readers").unwrap();
    assert!(org1.evaluate_signed_data(&o2).is_err());
    for missing in [
        "",
        "Writers",
        "/Channel",
        "/Channel/",
        "/Other/Readers",
        "Org1/Readers",
    ] {
        assert!(root.get_policy(missing).is_none(), "{missing:?}");
    }
    // Fabric drops "/Channel" and one more character, whatever it is.
    assert!(root.get_policy("/ChannelXReaders").is_some());
}

#[test]
fn sub_managers() {
    let root = GroupPolicyManager::new("Channel", &channel(), deserializer()).unwrap();
    let application = root.manager(&["Application"]).unwrap();
    assert!(application.get_policy("Readers").is_some());
    assert!(
        application
            .get_policy("/Channel/Application/Org3/Readers")
            .is_some()
    );
    assert!(application.get_policy("Org3/Readers").is_some());
    assert!(application.get_policy("/Channel/Readers").is_none());
    let org3 = root.manager(&["Application", "Org3"]).unwrap();
    assert!(org3.get_policy("Readers").is_some());
    assert!(root.manager(&["Application", "Org9"]).is_none());
    assert!(
        root.manager(&[])
            .unwrap()
            .get_policy("/Channel/Readers")
            .is_some()
    );
    assert_eq!(
        root.child("Application").unwrap().path(),
        "Channel/Application"
    );
    let reject = root.policy_or_reject("Nope");
    assert!(reject.evaluate_signed_data(&signers(3)).is_err());
}

#[test]
fn unknown_policy_types_are_errors() {
    for kind in [0, 2, 4, -1] {
        let mut group = ConfigGroup::default();
        group.policies.insert(
            "Odd".into(),
            ConfigPolicy {
                version: 0,
                policy: Some(PbPolicy {
                    r#type: kind,
                    value: vec![],
                }),
                mod_policy: String::new(),
            },
        );
        let err = GroupPolicyManager::new("Channel", &group, deserializer()).unwrap_err();
        assert!(
            err.to_string().contains("unknown policy type"),
            "{kind}: {err}"
        );
        assert!(err.to_string().contains("Odd"), "{err}");
    }
}

#[test]
fn broken_policies_name_their_path() {
    let mut org = ConfigGroup::default();
    org.policies.insert(
        "Admins".into(),
        ConfigPolicy {
            version: 0,
            policy: Some(PbPolicy {
                r#type: 1,
                value: vec![0xff, 0x01],
            }),
            mod_policy: String::new(),
        },
    );
    let mut root = ConfigGroup::default();
    root.groups.insert("Org1".into(), org);
    let err = GroupPolicyManager::new("Channel", &root, deserializer()).unwrap_err();
    assert!(err.to_string().contains("Channel/Org1"), "{err}");

    let mut root = ConfigGroup::default();
    root.policies.insert("Nil".into(), ConfigPolicy::default());
    assert!(GroupPolicyManager::new("Channel", &root, deserializer()).is_err());
}

#[test]
fn group_depth_bound() {
    let mut group = ConfigGroup::default();
    for _ in 0..MAX_GROUP_DEPTH + 1 {
        let mut parent = ConfigGroup::default();
        parent.groups.insert("G".into(), group);
        group = parent;
    }
    assert!(GroupPolicyManager::new("Channel", &group, deserializer()).is_err());
    // One level less is fine.
    let inner = group.groups.remove("G").unwrap();
    assert!(GroupPolicyManager::new("Channel", &inner, deserializer()).is_ok());
}

//! The flat view of a config tree that Fabric's configtx validator works on.
//!
//! Fabric (`common/configtx/configmap.go`) turns a `ConfigGroup` tree into a map from a
//! fully-qualified key (`[Group]  /Channel/Orderer`, `[Value]  /Channel/Orderer/BatchSize`,
//! `[Policy] /Channel/Admins`) to the element, applies updates on that map, and rebuilds the
//! tree from it. Weft keeps the same keys (they appear in error messages and decide ordering of
//! nothing, since the map is only looked up) so that diagnostics read like Fabric's.
//!
//! A group entry keeps only its own attributes and the names of its members; its members are
//! entries of their own. Rebuilding walks the names a group entry lists, which is how a
//! version-bumped group in a write set deletes members: it simply stops listing them.

use std::collections::{BTreeMap, BTreeSet};

use fabric_protos::common::{ConfigGroup, ConfigPolicy, ConfigValue};

use crate::error::UpdateError;

/// Deepest group nesting accepted (the root group is depth 1). Fabric sets no limit: an
/// update may write arbitrarily deep groups under a group it does not version-bump, and
/// Fabric accepts it and silently drops them when it rebuilds the config. Weft must decide the
/// same way, so this bound sits just above the deepest tree prost can decode at all (its
/// decoder stops at 100 nested messages, two per group level); it only keeps recursion over
/// a hand-built tree bounded.
pub const MAX_CONFIG_DEPTH: usize = 50;

/// Most elements (groups, values and policies together) one config tree, read set or write
/// set may hold. Real channels hold a few hundred.
pub const MAX_CONFIG_ELEMENTS: usize = 100_000;

/// Longest config key or channel ID Fabric accepts.
pub const MAX_NAME_LENGTH: usize = 249;

/// The name of the root group of every channel config.
pub const ROOT_GROUP_KEY: &str = "Channel";

const GROUP_PREFIX: &str = "[Group]  ";
const VALUE_PREFIX: &str = "[Value]  ";
const POLICY_PREFIX: &str = "[Policy] ";

/// When a config carries orderer capabilities, Fabric upgrades every empty mod_policy to
/// `Admins` while rebuilding a tree (configmap.go's "hacky fix" for v1.0 configs).
const ORDERER_CAPABILITIES_KEY: &str = "[Value]  /Channel/Orderer/Capabilities";
const EMPTY_MOD_POLICY_UPGRADE: &str = "Admins";

/// A group reduced to its own attributes and the names of its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupShell {
    pub version: u64,
    pub mod_policy: String,
    pub groups: BTreeSet<String>,
    pub values: BTreeSet<String>,
    pub policies: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Element {
    Group(GroupShell),
    Value(ConfigValue),
    Policy(ConfigPolicy),
}

/// One entry of the map: the element, its name, and the path of the group holding it
/// (empty for the root group).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub element: Element,
    pub key: String,
    pub parent_path: Vec<String>,
}

impl Entry {
    pub fn version(&self) -> u64 {
        match &self.element {
            Element::Group(g) => g.version,
            Element::Value(v) => v.version,
            Element::Policy(p) => p.version,
        }
    }

    pub fn mod_policy(&self) -> &str {
        match &self.element {
            Element::Group(g) => &g.mod_policy,
            Element::Value(v) => &v.mod_policy,
            Element::Policy(p) => &p.mod_policy,
        }
    }

    pub fn is_group(&self) -> bool {
        matches!(self.element, Element::Group(_))
    }
}

pub(crate) type ConfigMap = BTreeMap<String, Entry>;

/// Checks a config element name the way Fabric does: 1..=249 characters of `[a-zA-Z0-9.-]`,
/// and not `.` or `..`.
pub fn validate_config_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("config ID illegal, cannot be empty".into());
    }
    if id.len() > MAX_NAME_LENGTH {
        return Err(format!(
            "config ID illegal, cannot be longer than {MAX_NAME_LENGTH}"
        ));
    }
    if id == "." || id == ".." {
        return Err(format!("name '{id}' for config ID is not allowed"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(format!("config ID '{id}' contains illegal characters"));
    }
    Ok(())
}

/// Checks a channel name the way Fabric does: 1..=249 characters, a lowercase letter first,
/// then `[a-z0-9.-]`.
pub fn validate_channel_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("channel ID illegal, cannot be empty".into());
    }
    if id.len() > MAX_NAME_LENGTH {
        return Err(format!(
            "channel ID illegal, cannot be longer than {MAX_NAME_LENGTH}"
        ));
    }
    let mut bytes = id.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
    let rest_ok =
        bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !(first_ok && rest_ok) {
        return Err(format!("'{id}' contains illegal characters"));
    }
    Ok(())
}

/// Flattens a tree rooted at `root` (named [`ROOT_GROUP_KEY`] whatever it was called).
/// `None` gives an empty map, as Fabric does for an absent read or write set.
pub(crate) fn map_config(root: Option<&ConfigGroup>) -> Result<ConfigMap, UpdateError> {
    let mut map = ConfigMap::new();
    if let Some(group) = root {
        let mut path = vec![ROOT_GROUP_KEY.to_string()];
        add_group(&mut map, &mut path, group)?;
    }
    Ok(map)
}

fn insert(map: &mut ConfigMap, prefix: &str, entry: Entry) -> Result<(), UpdateError> {
    if let Err(reason) = validate_config_id(&entry.key) {
        return Err(UpdateError::IllegalKey {
            key: format!("{prefix}{}", join_path(&entry.parent_path, &entry.key)),
            reason,
        });
    }
    if map.len() >= MAX_CONFIG_ELEMENTS {
        return Err(UpdateError::TooManyElements {
            max: MAX_CONFIG_ELEMENTS,
        });
    }
    let fq_key = format!("{prefix}{}", join_path(&entry.parent_path, &entry.key));
    map.insert(fq_key, entry);
    Ok(())
}

fn join_path(parent: &[String], key: &str) -> String {
    let mut out = String::new();
    for part in parent {
        out.push('/');
        out.push_str(part);
    }
    out.push('/');
    out.push_str(key);
    out
}

/// `path` is the full path of `group` (its own name last).
fn add_group(
    map: &mut ConfigMap,
    path: &mut Vec<String>,
    group: &ConfigGroup,
) -> Result<(), UpdateError> {
    if path.len() > MAX_CONFIG_DEPTH {
        return Err(UpdateError::TooDeep {
            path: format!("/{}", path.join("/")),
            max: MAX_CONFIG_DEPTH,
        });
    }
    let (key, parent) = path
        .split_last()
        .map(|(k, p)| (k.clone(), p.to_vec()))
        .unwrap_or_default();
    let shell = GroupShell {
        version: group.version,
        mod_policy: group.mod_policy.clone(),
        groups: group.groups.keys().cloned().collect(),
        values: group.values.keys().cloned().collect(),
        policies: group.policies.keys().cloned().collect(),
    };
    insert(
        map,
        GROUP_PREFIX,
        Entry {
            element: Element::Group(shell),
            key,
            parent_path: parent,
        },
    )?;
    for (name, child) in &group.groups {
        path.push(name.clone());
        let result = add_group(map, path, child);
        path.pop();
        result?;
    }
    for (name, value) in &group.values {
        let entry = Entry {
            element: Element::Value(value.clone()),
            key: name.clone(),
            parent_path: path.clone(),
        };
        insert(map, VALUE_PREFIX, entry)?;
    }
    for (name, policy) in &group.policies {
        let entry = Entry {
            element: Element::Policy(policy.clone()),
            key: name.clone(),
            parent_path: path.clone(),
        };
        insert(map, POLICY_PREFIX, entry)?;
    }
    Ok(())
}

/// Rebuilds the tree from a map, starting at the root group.
pub(crate) fn map_to_config(map: &ConfigMap) -> Result<ConfigGroup, UpdateError> {
    let upgrade_empty_mod_policies = map.contains_key(ORDERER_CAPABILITIES_KEY);
    rebuild_group(
        map,
        &format!("/{ROOT_GROUP_KEY}"),
        1,
        upgrade_empty_mod_policies,
    )
}

fn rebuild_group(
    map: &ConfigMap,
    path: &str,
    depth: usize,
    upgrade: bool,
) -> Result<ConfigGroup, UpdateError> {
    let group_key = format!("{GROUP_PREFIX}{path}");
    // A map built by map_config cannot nest deeper than MAX_CONFIG_DEPTH; this guard keeps
    // the recursion bounded whatever the map holds.
    if depth > MAX_CONFIG_DEPTH {
        return Err(UpdateError::TooDeep {
            path: path.to_string(),
            max: MAX_CONFIG_DEPTH,
        });
    }
    let shell = match map.get(&group_key).map(|e| &e.element) {
        Some(Element::Group(shell)) => shell,
        Some(_) => {
            return Err(UpdateError::Rebuild(format!(
                "element at {group_key} is not a group"
            )));
        }
        None => {
            return Err(UpdateError::Rebuild(format!(
                "missing group at path: {group_key}"
            )));
        }
    };
    let mut group = ConfigGroup {
        version: shell.version,
        mod_policy: shell.mod_policy.clone(),
        ..ConfigGroup::default()
    };
    for name in &shell.groups {
        let child = rebuild_group(map, &format!("{path}/{name}"), depth + 1, upgrade)?;
        group.groups.insert(name.clone(), child);
    }
    for name in &shell.values {
        let key = format!("{VALUE_PREFIX}{path}/{name}");
        match map.get(&key).map(|e| &e.element) {
            Some(Element::Value(v)) => group.values.insert(name.clone(), v.clone()),
            _ => {
                return Err(UpdateError::Rebuild(format!(
                    "missing value at path: {key}"
                )));
            }
        };
    }
    for name in &shell.policies {
        let key = format!("{POLICY_PREFIX}{path}/{name}");
        match map.get(&key).map(|e| &e.element) {
            Some(Element::Policy(p)) => group.policies.insert(name.clone(), p.clone()),
            _ => {
                return Err(UpdateError::Rebuild(format!(
                    "missing policy at path: {key}"
                )));
            }
        };
    }
    if upgrade {
        upgrade_mod_policies(&mut group);
    }
    Ok(group)
}

/// Fills empty mod_policies of a group and its own values and policies (not its sub-groups,
/// which get their own pass while being rebuilt).
fn upgrade_mod_policies(group: &mut ConfigGroup) {
    let fill = |p: &mut String| {
        if p.is_empty() {
            *p = EMPTY_MOD_POLICY_UPGRADE.to_string();
        }
    };
    fill(&mut group.mod_policy);
    group
        .values
        .values_mut()
        .for_each(|v| fill(&mut v.mod_policy));
    group
        .policies
        .values_mut()
        .for_each(|p| fill(&mut p.mod_policy));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(version: u64) -> ConfigValue {
        ConfigValue {
            version,
            value: vec![1, 2],
            mod_policy: "Admins".into(),
        }
    }

    fn sample() -> ConfigGroup {
        let mut org = ConfigGroup {
            mod_policy: "Admins".into(),
            ..Default::default()
        };
        org.values.insert("MSP".into(), value(0));
        let mut app = ConfigGroup {
            version: 1,
            mod_policy: "Admins".into(),
            ..Default::default()
        };
        app.groups.insert("Org1".into(), org);
        let mut root = ConfigGroup {
            mod_policy: "Admins".into(),
            ..Default::default()
        };
        root.groups.insert("Application".into(), app);
        root.values.insert("HashingAlgorithm".into(), value(0));
        root.policies
            .insert("Admins".into(), ConfigPolicy::default());
        root
    }

    // Fabric configmap.go: keys are prefixed by kind and rooted at /Channel.
    #[test]
    fn keys_follow_fabric_layout() {
        let map = map_config(Some(&sample())).unwrap();
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "[Group]  /Channel",
                "[Group]  /Channel/Application",
                "[Group]  /Channel/Application/Org1",
                "[Policy] /Channel/Admins",
                "[Value]  /Channel/Application/Org1/MSP",
                "[Value]  /Channel/HashingAlgorithm",
            ]
        );
        let org = &map["[Group]  /Channel/Application/Org1"];
        assert_eq!(org.parent_path, ["Channel", "Application"]);
        assert_eq!(org.key, "Org1");
    }

    #[test]
    fn round_trip_reproduces_tree() {
        let tree = sample();
        let map = map_config(Some(&tree)).unwrap();
        assert_eq!(map_to_config(&map).unwrap(), tree);
    }

    #[test]
    fn empty_mod_policies_upgraded_when_orderer_capabilities_present() {
        let mut tree = sample();
        let mut orderer = ConfigGroup::default();
        orderer
            .values
            .insert("Capabilities".into(), ConfigValue::default());
        tree.groups.insert("Orderer".into(), orderer);
        let rebuilt = map_to_config(&map_config(Some(&tree)).unwrap()).unwrap();
        assert_eq!(rebuilt.groups["Orderer"].mod_policy, "Admins");
        assert_eq!(
            rebuilt.groups["Orderer"].values["Capabilities"].mod_policy,
            "Admins"
        );
        assert_eq!(rebuilt.policies["Admins"].mod_policy, "Admins");
        // Without the orderer capabilities value nothing is touched.
        let plain = map_to_config(&map_config(Some(&sample())).unwrap()).unwrap();
        assert_eq!(plain.policies["Admins"].mod_policy, "");
    }

    #[test]
    fn config_ids_checked_like_fabric() {
        for ok in ["Org1MSP", "a.b-c", "A"] {
            assert!(validate_config_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "Org 1", "Org/1", "Org_1", &"a".repeat(250)] {
            assert!(validate_config_id(bad).is_err(), "{bad}");
        }
        for ok in ["mychannel", "a", "ch.1-x"] {
            assert!(validate_channel_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Mychannel", "1ch", "my_channel", &"a".repeat(250)] {
            assert!(validate_channel_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn illegal_member_name_rejected() {
        let mut tree = sample();
        tree.values.insert("bad name".into(), value(0));
        assert!(matches!(
            map_config(Some(&tree)),
            Err(UpdateError::IllegalKey { .. })
        ));
    }

    #[test]
    fn nesting_beyond_bound_rejected() {
        let mut tree = ConfigGroup::default();
        for _ in 0..MAX_CONFIG_DEPTH {
            let mut parent = ConfigGroup::default();
            parent.groups.insert("g".into(), tree);
            tree = parent;
        }
        assert!(matches!(
            map_config(Some(&tree)),
            Err(UpdateError::TooDeep { .. })
        ));
    }
}

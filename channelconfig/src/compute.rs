//! Computing the config update that turns one config into another, as `configtxlator
//! compute_update` does (Fabric's `internal/configtxlator/update`).
//!
//! An unchanged element appears in both sets with its version only; a changed value or
//! policy is written at version + 1; a group whose membership or mod_policy changed is
//! written at version + 1 listing all its remaining members; a new element is written at
//! version 0 in full.

use std::collections::BTreeMap;

use fabric_protos::common::{Config, ConfigGroup, ConfigPolicy, ConfigUpdate, ConfigValue};

use crate::configmap::MAX_CONFIG_DEPTH;
use crate::error::UpdateError;

/// The read and write sets taking `original` to `updated` on channel `channel_id`.
pub fn compute_update(
    channel_id: &str,
    original: &Config,
    updated: &Config,
) -> Result<ConfigUpdate, UpdateError> {
    let original = original
        .channel_group
        .as_ref()
        .ok_or(UpdateError::MissingChannelGroup)?;
    let updated = updated
        .channel_group
        .as_ref()
        .ok_or(UpdateError::MissingChannelGroup)?;
    let diff = group_update(original, updated, 1)?;
    if !diff.changed {
        return Err(UpdateError::NoDifferences);
    }
    Ok(ConfigUpdate {
        channel_id: channel_id.to_string(),
        read_set: Some(diff.read),
        write_set: Some(diff.write),
        isolated_data: BTreeMap::new(),
    })
}

struct GroupDiff {
    read: ConfigGroup,
    write: ConfigGroup,
    changed: bool,
}

/// Per member map: what goes in the read set, the write set, the unchanged members, and
/// whether membership itself changed.
struct MapDiff<T> {
    read: BTreeMap<String, T>,
    write: BTreeMap<String, T>,
    same: BTreeMap<String, T>,
    members_changed: bool,
}

impl<T> Default for MapDiff<T> {
    fn default() -> Self {
        Self {
            read: BTreeMap::new(),
            write: BTreeMap::new(),
            same: BTreeMap::new(),
            members_changed: false,
        }
    }
}

/// A config value or policy: the leaves of a config tree, diffed the same way.
trait ConfigLeaf: Clone + Default {
    fn version(&self) -> u64;
    fn set_version(&mut self, version: u64);
    /// Same mod_policy and same content (value bytes or policy).
    fn same_content(&self, other: &Self) -> bool;
}

impl ConfigLeaf for ConfigValue {
    fn version(&self) -> u64 {
        self.version
    }
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
    fn same_content(&self, other: &Self) -> bool {
        self.mod_policy == other.mod_policy && self.value == other.value
    }
}

impl ConfigLeaf for ConfigPolicy {
    fn version(&self) -> u64 {
        self.version
    }
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
    fn same_content(&self, other: &Self) -> bool {
        self.mod_policy == other.mod_policy && self.policy == other.policy
    }
}

/// Fabric's per-map diff of leaves: unchanged leaves go to the read set as bare versions,
/// changed ones to the write set at version + 1, new ones at version 0; any removal or
/// addition changes the parent's member list.
fn leaves_update<T: ConfigLeaf>(
    original: &BTreeMap<String, T>,
    updated: &BTreeMap<String, T>,
) -> MapDiff<T> {
    let mut diff = MapDiff::default();
    for (name, orig) in original {
        match updated.get(name) {
            None => diff.members_changed = true,
            Some(new) if new.same_content(orig) => {
                let mut bare = T::default();
                bare.set_version(orig.version());
                diff.same.insert(name.clone(), bare);
            }
            Some(new) => {
                let mut written = new.clone();
                written.set_version(orig.version().wrapping_add(1));
                diff.write.insert(name.clone(), written);
            }
        }
    }
    for (name, new) in updated.iter().filter(|(n, _)| !original.contains_key(*n)) {
        diff.members_changed = true;
        let mut written = new.clone();
        written.set_version(0);
        diff.write.insert(name.clone(), written);
    }
    diff
}

fn groups_update(
    original: &BTreeMap<String, ConfigGroup>,
    updated: &BTreeMap<String, ConfigGroup>,
    depth: usize,
) -> Result<MapDiff<ConfigGroup>, UpdateError> {
    let mut diff = MapDiff::default();
    for (name, orig) in original {
        let Some(new) = updated.get(name) else {
            diff.members_changed = true;
            continue;
        };
        let child = group_update(orig, new, depth + 1)?;
        if child.changed {
            diff.read.insert(name.clone(), child.read);
            diff.write.insert(name.clone(), child.write);
        } else {
            diff.same.insert(name.clone(), child.read);
        }
    }
    for (name, new) in updated.iter().filter(|(n, _)| !original.contains_key(*n)) {
        diff.members_changed = true;
        let child = group_update(&ConfigGroup::default(), new, depth + 1)?;
        let written = ConfigGroup {
            version: 0,
            mod_policy: new.mod_policy.clone(),
            ..child.write
        };
        diff.write.insert(name.clone(), written);
    }
    Ok(diff)
}

fn group_update(
    original: &ConfigGroup,
    updated: &ConfigGroup,
    depth: usize,
) -> Result<GroupDiff, UpdateError> {
    if depth > MAX_CONFIG_DEPTH {
        return Err(UpdateError::TooDeep {
            path: "(computed update)".into(),
            max: MAX_CONFIG_DEPTH,
        });
    }
    let policies = leaves_update(&original.policies, &updated.policies);
    let values = leaves_update(&original.values, &updated.values);
    let groups = groups_update(&original.groups, &updated.groups, depth)?;
    let membership_changed = policies.members_changed
        || values.members_changed
        || groups.members_changed
        || original.mod_policy != updated.mod_policy;

    if !membership_changed {
        let nothing_written = policies.read.is_empty()
            && policies.write.is_empty()
            && values.read.is_empty()
            && values.write.is_empty()
            && groups.read.is_empty()
            && groups.write.is_empty();
        let only_version = || ConfigGroup {
            version: original.version,
            ..Default::default()
        };
        if nothing_written {
            return Ok(GroupDiff {
                read: only_version(),
                write: only_version(),
                changed: false,
            });
        }
        let read = ConfigGroup {
            version: original.version,
            policies: policies.read,
            values: values.read,
            groups: groups.read,
            ..Default::default()
        };
        let write = ConfigGroup {
            version: original.version,
            policies: policies.write,
            values: values.write,
            groups: groups.write,
            ..Default::default()
        };
        return Ok(GroupDiff {
            read,
            write,
            changed: true,
        });
    }

    let (mut read_p, mut write_p) = (policies.read, policies.write);
    for (k, same) in policies.same {
        read_p.insert(k.clone(), same.clone());
        write_p.insert(k, same);
    }
    let (mut read_v, mut write_v) = (values.read, values.write);
    for (k, same) in values.same {
        read_v.insert(k.clone(), same.clone());
        write_v.insert(k, same);
    }
    let (mut read_g, mut write_g) = (groups.read, groups.write);
    for (k, same) in groups.same {
        read_g.insert(k.clone(), same.clone());
        write_g.insert(k, same);
    }
    let read = ConfigGroup {
        version: original.version,
        policies: read_p,
        values: read_v,
        groups: read_g,
        ..Default::default()
    };
    let write = ConfigGroup {
        version: original.version.wrapping_add(1),
        policies: write_p,
        values: write_v,
        groups: write_g,
        mod_policy: updated.mod_policy.clone(),
    };
    Ok(GroupDiff {
        read,
        write,
        changed: true,
    })
}

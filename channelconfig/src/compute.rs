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

fn values_update(
    original: &BTreeMap<String, ConfigValue>,
    updated: &BTreeMap<String, ConfigValue>,
) -> MapDiff<ConfigValue> {
    let mut diff = MapDiff::default();
    for (name, orig) in original {
        match updated.get(name) {
            None => diff.members_changed = true,
            Some(new) if new.mod_policy == orig.mod_policy && new.value == orig.value => {
                diff.same.insert(
                    name.clone(),
                    ConfigValue {
                        version: orig.version,
                        ..Default::default()
                    },
                );
            }
            Some(new) => {
                let written = ConfigValue {
                    version: orig.version.wrapping_add(1),
                    value: new.value.clone(),
                    mod_policy: new.mod_policy.clone(),
                };
                diff.write.insert(name.clone(), written);
            }
        }
    }
    for (name, new) in updated.iter().filter(|(n, _)| !original.contains_key(*n)) {
        diff.members_changed = true;
        diff.write.insert(
            name.clone(),
            ConfigValue {
                version: 0,
                ..new.clone()
            },
        );
    }
    diff
}

fn policies_update(
    original: &BTreeMap<String, ConfigPolicy>,
    updated: &BTreeMap<String, ConfigPolicy>,
) -> MapDiff<ConfigPolicy> {
    let mut diff = MapDiff::default();
    for (name, orig) in original {
        match updated.get(name) {
            None => diff.members_changed = true,
            Some(new) if new.mod_policy == orig.mod_policy && new.policy == orig.policy => {
                diff.same.insert(
                    name.clone(),
                    ConfigPolicy {
                        version: orig.version,
                        ..Default::default()
                    },
                );
            }
            Some(new) => {
                let written = ConfigPolicy {
                    version: orig.version.wrapping_add(1),
                    policy: new.policy.clone(),
                    mod_policy: new.mod_policy.clone(),
                };
                diff.write.insert(name.clone(), written);
            }
        }
    }
    for (name, new) in updated.iter().filter(|(n, _)| !original.contains_key(*n)) {
        diff.members_changed = true;
        diff.write.insert(
            name.clone(),
            ConfigPolicy {
                version: 0,
                ..new.clone()
            },
        );
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
    let policies = policies_update(&original.policies, &updated.policies);
    let values = values_update(&original.values, &updated.values);
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

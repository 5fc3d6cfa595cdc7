//! The policy manager over a config group tree (Fabric's `policies.ManagerImpl`).
//!
//! Each group gets a manager whose path is its position in the tree (`Channel`,
//! `Channel/Application`, ...). A manager knows its own policies and, flattened under
//! `child/name`, every policy of its descendants; lookups are by that relative name or by an
//! absolute path that starts with `/` and the manager's own path. Implicit meta policies are
//! resolved against the child managers, which are built first.
//!
//! Fabric's lookup of an absolute path only checks that it starts with `/` + the manager's
//! path and then drops that prefix and one more character; Weft does the same (so, as in
//! Fabric, `/ChannelXReaders` at `Channel` finds `Readers`), but returns "not found" where Fabric
//! would index past the end of the string (`/Channel` itself).

use std::collections::BTreeMap;
use std::sync::Arc;

use fabric_protos::common::{ConfigGroup, policy::PolicyType};
use weft_msp::IdentityDeserializer;

use crate::api::{Policy, PolicyError, PolicyManager};
use crate::implicit_meta::{ImplicitMetaPolicy, RejectPolicy};
use crate::signature::SignaturePolicy;

/// Deepest group nesting accepted below the root (Fabric's configs use 3: Channel,
/// Application, an organization). Bounds the recursion while building.
pub const MAX_GROUP_DEPTH: usize = 32;

/// The policies of one config group and its descendants. Cheap to clone.
#[derive(Clone)]
pub struct GroupPolicyManager {
    node: Arc<Node>,
}

struct Node {
    path: String,
    /// Own policies by name plus every descendant's under `child/.../name`.
    policies: BTreeMap<String, Arc<dyn Policy>>,
    children: BTreeMap<String, GroupPolicyManager>,
}

impl std::fmt::Debug for GroupPolicyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupPolicyManager")
            .field("path", &self.node.path)
            .field("policies", &self.node.policies.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl GroupPolicyManager {
    /// Builds the managers for `group` and its descendants. `root_name` is the group's name
    /// in absolute paths (`Channel` for a channel config). Signature policies resolve
    /// identities through `deserializer` (the channel's MSP manager in Fabric).
    pub fn new(
        root_name: &str,
        group: &ConfigGroup,
        deserializer: Arc<dyn IdentityDeserializer>,
    ) -> Result<Self, PolicyError> {
        Self::build(root_name.to_owned(), group, &deserializer, 0)
    }

    fn build(
        path: String,
        group: &ConfigGroup,
        deserializer: &Arc<dyn IdentityDeserializer>,
        depth: usize,
    ) -> Result<Self, PolicyError> {
        if depth > MAX_GROUP_DEPTH {
            return Err(PolicyError::Invalid(format!(
                "config group {path} is nested deeper than {MAX_GROUP_DEPTH} levels"
            )));
        }
        let mut children = BTreeMap::new();
        for (name, child) in &group.groups {
            let child_path = format!("{path}/{name}");
            let manager = Self::build(child_path, child, deserializer, depth + 1)?;
            children.insert(name.clone(), manager);
        }

        let mut policies: BTreeMap<String, Arc<dyn Policy>> = BTreeMap::new();
        for (name, config_policy) in &group.policies {
            let policy = config_policy.policy.as_ref().ok_or_else(|| {
                PolicyError::Invalid(format!("policy {name} at path {path} is empty"))
            })?;
            let compiled = compile_policy(policy, &children, deserializer)
                .map_err(|e| PolicyError::Invalid(format!("policy {name} at path {path}: {e}")))?;
            policies.insert(name.clone(), compiled);
        }
        // Descendants' policies go in after the group's own, overwriting a clash as in Fabric.
        for (child_name, child) in &children {
            for (name, policy) in &child.node.policies {
                policies.insert(format!("{child_name}/{name}"), Arc::clone(policy));
            }
        }
        Ok(Self {
            node: Arc::new(Node {
                path,
                policies,
                children,
            }),
        })
    }

    /// The group's path without the leading slash (`Channel/Application`).
    pub fn path(&self) -> &str {
        &self.node.path
    }

    /// Names this manager resolves relatively, its own and its descendants' (`Org1/Admins`).
    pub fn policy_names(&self) -> impl Iterator<Item = &str> {
        self.node.policies.keys().map(String::as_str)
    }

    /// Looks a policy up like Fabric's `GetPolicy`, yielding a policy that always fails when
    /// the name is unknown.
    pub fn policy_or_reject(&self, id: &str) -> Arc<dyn Policy> {
        match self.lookup(id) {
            Some(policy) => policy,
            None => Arc::new(RejectPolicy::new(id)),
        }
    }

    /// The child manager with this name.
    pub fn child(&self, name: &str) -> Option<&GroupPolicyManager> {
        self.node.children.get(name)
    }

    fn lookup(&self, id: &str) -> Option<Arc<dyn Policy>> {
        if id.is_empty() {
            return None;
        }
        let relative = match id.strip_prefix('/') {
            Some(rest) => {
                if !rest.starts_with(self.node.path.as_str()) {
                    return None;
                }
                // Fabric skips the path and the character after it, whatever it is.
                rest.get(self.node.path.len() + 1..)?
            }
            None => id,
        };
        self.node.policies.get(relative).cloned()
    }
}

impl PolicyManager for GroupPolicyManager {
    fn get_policy(&self, path: &str) -> Option<Arc<dyn Policy>> {
        self.lookup(path)
    }

    fn manager(&self, path: &[&str]) -> Option<Arc<dyn PolicyManager>> {
        let mut current = self;
        for name in path {
            current = current.node.children.get(*name)?;
        }
        Some(Arc::new(current.clone()))
    }
}

fn compile_policy(
    policy: &fabric_protos::common::Policy,
    children: &BTreeMap<String, GroupPolicyManager>,
    deserializer: &Arc<dyn IdentityDeserializer>,
) -> Result<Arc<dyn Policy>, PolicyError> {
    match PolicyType::try_from(policy.r#type) {
        Ok(PolicyType::Signature) => Ok(Arc::new(SignaturePolicy::from_bytes(
            &policy.value,
            Arc::clone(deserializer),
        )?)),
        Ok(PolicyType::ImplicitMeta) => {
            let definition = ImplicitMetaPolicy::decode_definition(&policy.value)?;
            let sub_policies = children
                .values()
                .map(|child| child.policy_or_reject(&definition.sub_policy))
                .collect();
            Ok(Arc::new(ImplicitMetaPolicy::new(&definition, sub_policies)))
        }
        _ => Err(PolicyError::Invalid(format!(
            "unknown policy type {}; only SIGNATURE (1) and IMPLICIT_META (3) are supported",
            policy.r#type
        ))),
    }
}

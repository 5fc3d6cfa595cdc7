//! The `/Channel/Application` group (Fabric's `application.go`, `acls.go`) and the
//! `/Channel/Consortiums` group (`consortiums.go`, `consortium.go`).

use std::collections::BTreeMap;

use fabric_protos::common::{Capabilities, ConfigGroup, Policy};
use fabric_protos::protos::AcLs;

use crate::capabilities::{ApplicationCapabilities, CapabilitySet, KNOWN_APPLICATION_CAPABILITIES};
use crate::channel::CAPABILITIES_KEY;
use crate::error::ConfigError;
use crate::organization::{ApplicationOrg, MspCollector, Organization, application_org, plain_org};
use crate::values::{check_value_keys, decode_value, invalid_value};

pub const APPLICATION_GROUP_KEY: &str = "Application";
pub const ACLS_KEY: &str = "ACLs";
pub const CONSORTIUMS_GROUP_KEY: &str = "Consortiums";
pub const CHANNEL_CREATION_POLICY_KEY: &str = "ChannelCreationPolicy";

/// The application section of a channel config.
#[derive(Debug, Clone)]
pub struct ApplicationConfig {
    pub organizations: BTreeMap<String, ApplicationOrg>,
    pub capabilities: ApplicationCapabilities,
    /// API resource name to absolute policy path; relative references in the config are
    /// resolved against `/Channel/Application`, empty ones dropped (defaults then apply).
    pub acls: BTreeMap<String, String>,
}

impl ApplicationConfig {
    /// The policy guarding an API resource, if the channel overrides the default.
    pub fn policy_ref_for_api(&self, resource: &str) -> Option<&str> {
        self.acls.get(resource).map(String::as_str)
    }

    pub(crate) fn parse(
        group: &ConfigGroup,
        path: &str,
        msps: &mut MspCollector<'_>,
    ) -> Result<Self, ConfigError> {
        check_value_keys(group, path, &[ACLS_KEY, CAPABILITIES_KEY])?;
        let acls: AcLs = decode_value(group, path, ACLS_KEY)?;
        let caps: Capabilities = decode_value(group, path, CAPABILITIES_KEY)?;
        let capabilities = ApplicationCapabilities(CapabilitySet::from_proto(&caps));
        capabilities
            .0
            .require_known("Application", KNOWN_APPLICATION_CAPABILITIES)?;
        if !capabilities.acls() && group.values.contains_key(ACLS_KEY) {
            return Err(invalid_value(
                path,
                ACLS_KEY,
                "ACLs may not be specified without the V1_2 application capability or later",
            ));
        }
        let mut organizations = BTreeMap::new();
        for (name, org_group) in &group.groups {
            let org = application_org(name, org_group, &format!("{path}/{name}"), msps)?;
            organizations.insert(name.clone(), org);
        }
        Ok(Self {
            organizations,
            capabilities,
            acls: resolve_acls(acls),
        })
    }
}

fn resolve_acls(acls: AcLs) -> BTreeMap<String, String> {
    acls.acls
        .into_iter()
        .filter(|(_, r)| !r.policy_ref.is_empty())
        .map(|(name, r)| {
            let path = if r.policy_ref.starts_with('/') {
                r.policy_ref
            } else {
                format!("/Channel/{APPLICATION_GROUP_KEY}/{}", r.policy_ref)
            };
            (name, path)
        })
        .collect()
}

/// One consortium of a (legacy) system channel.
#[derive(Debug, Clone)]
pub struct Consortium {
    pub channel_creation_policy: Policy,
    pub organizations: BTreeMap<String, Organization>,
}

pub(crate) fn parse_consortiums(
    group: &ConfigGroup,
    path: &str,
    msps: &mut MspCollector<'_>,
) -> Result<BTreeMap<String, Consortium>, ConfigError> {
    let mut consortiums = BTreeMap::new();
    for (name, consortium) in &group.groups {
        let c_path = format!("{path}/{name}");
        check_value_keys(consortium, &c_path, &[CHANNEL_CREATION_POLICY_KEY])?;
        let channel_creation_policy: Policy =
            decode_value(consortium, &c_path, CHANNEL_CREATION_POLICY_KEY)?;
        let mut organizations = BTreeMap::new();
        for (org_name, org_group) in &consortium.groups {
            let org = plain_org(org_name, org_group, &format!("{c_path}/{org_name}"), msps)?;
            organizations.insert(org_name.clone(), org);
        }
        consortiums.insert(
            name.clone(),
            Consortium {
                channel_creation_policy,
                organizations,
            },
        );
    }
    Ok(consortiums)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::protos::ApiResource;

    // Fabric acls.go: relative refs resolve under /Channel/Application, empty refs are dropped.
    #[test]
    fn acl_refs_resolved() {
        let mut acls = AcLs::default();
        for (k, v) in [("a", "Writers"), ("b", "/Channel/Readers"), ("c", "")] {
            acls.acls.insert(
                k.into(),
                ApiResource {
                    policy_ref: v.into(),
                },
            );
        }
        let resolved = resolve_acls(acls);
        assert_eq!(resolved["a"], "/Channel/Application/Writers");
        assert_eq!(resolved["b"], "/Channel/Readers");
        assert!(!resolved.contains_key("c"));
    }
}

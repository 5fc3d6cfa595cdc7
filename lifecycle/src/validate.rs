//! Checks Fabric applies to a proposed definition before approving or committing it (Fabric's
//! `validateInput` in `core/chaincode/lifecycle/scc.go`): chaincode name and version syntax,
//! collection configuration, and compatibility with the collections already committed.

use std::collections::BTreeSet;

use fabric_protos::common::{
    MspPrincipal, MspRole, OrganizationUnit, SignaturePolicy, msp_principal, signature_policy,
};
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::peer::{
    CollectionConfigPackage, StaticCollectionConfig, collection_config, collection_policy_config,
};
use prost::Message;

use crate::error::LifecycleError;

/// Names a user chaincode may not take.
pub const SYSTEM_CHAINCODE_NAMES: [&str; 5] = ["cscc", "escc", "lscc", "qscc", "vscc"];
/// Deepest signature rule accepted in a collection's member policy.
pub const MAX_POLICY_DEPTH: usize = 32;

/// Fabric's `^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$`.
pub fn is_valid_chaincode_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split(['-', '_'])
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Fabric's `^[A-Za-z0-9_.+-]+$`.
pub fn is_valid_chaincode_version(version: &str) -> bool {
    !version.is_empty()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
}

/// Fabric's collection name rule `^[A-Za-z0-9-]+([A-Za-z0-9_-]+)*$`: no leading underscore.
fn is_valid_collection_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Name and version syntax, in Fabric's order and words.
pub fn check_name_and_version(name: &str, version: &str) -> Result<(), LifecycleError> {
    if !is_valid_chaincode_name(name) {
        return Err(LifecycleError::rejected(format!(
            "invalid chaincode name '{name}'. Names can only consist of alphanumerics, '_', and '-' and can only begin with alphanumerics"
        )));
    }
    if SYSTEM_CHAINCODE_NAMES.contains(&name) {
        return Err(LifecycleError::rejected(format!(
            "chaincode name '{name}' is the name of a system chaincode"
        )));
    }
    if !is_valid_chaincode_version(version) {
        return Err(LifecycleError::rejected(format!(
            "invalid chaincode version '{version}'. Versions can only consist of alphanumerics, '_', '-', '+', and '.'"
        )));
    }
    Ok(())
}

/// The static collection configs of a package; every entry must be one.
pub fn static_collections(
    package: Option<&CollectionConfigPackage>,
) -> Result<Vec<&StaticCollectionConfig>, LifecycleError> {
    let Some(package) = package else {
        return Ok(Vec::new());
    };
    package
        .config
        .iter()
        .map(|config| match &config.payload {
            Some(collection_config::Payload::StaticCollectionConfig(c)) => Ok(c),
            None => Err(LifecycleError::rejected(
                "collection config contains unexpected payload type: <nil>",
            )),
        })
        .collect()
}

/// Fabric's `validateCollectionConfigs` against the MSP IDs of the channel.
pub fn check_collections(
    collections: &[&StaticCollectionConfig],
    channel_msp_ids: &[String],
) -> Result<(), LifecycleError> {
    let mut names = BTreeSet::new();
    for c in collections {
        if !is_valid_collection_name(&c.name) {
            return Err(LifecycleError::rejected(format!(
                "invalid collection name '{}'. Names can only consist of alphanumerics, '_', and '-' and cannot begin with '_'",
                c.name
            )));
        }
        if !names.insert(c.name.as_str()) {
            return Err(LifecycleError::rejected(format!(
                "collection-name: {} -- found duplicate in collection configuration",
                c.name
            )));
        }
        if c.maximum_peer_count < c.required_peer_count {
            return Err(LifecycleError::rejected(format!(
                "collection-name: {} -- maximum peer count ({}) cannot be less than the required peer count ({})",
                c.name, c.maximum_peer_count, c.required_peer_count
            )));
        }
        if c.required_peer_count < 0 {
            return Err(LifecycleError::rejected(format!(
                "collection-name: {} -- requiredPeerCount ({}) cannot be less than zero",
                c.name, c.required_peer_count
            )));
        }
        check_member_orgs_policy(c, channel_msp_ids)?;
    }
    Ok(())
}

fn check_member_orgs_policy(
    c: &StaticCollectionConfig,
    channel_msp_ids: &[String],
) -> Result<(), LifecycleError> {
    let policy = c.member_orgs_policy.as_ref().ok_or_else(|| {
        LifecycleError::rejected(format!(
            "collection member policy is not set for collection '{}'",
            c.name
        ))
    })?;
    let Some(collection_policy_config::Payload::SignaturePolicy(envelope)) = &policy.payload else {
        return Err(LifecycleError::rejected(format!(
            "collection member org policy is empty for collection '{}'",
            c.name
        )));
    };
    compile_check(envelope.rule.as_ref(), envelope.identities.len(), 0).map_err(|e| {
        LifecycleError::rejected(format!(
            "invalid member org policy for collection '{}': {e}",
            c.name
        ))
    })?;
    if let Some(rule) = &envelope.rule {
        only_or(rule, 0).map_err(|e| {
            LifecycleError::rejected(format!(
                "collection-name: {} -- error in member org policy: {e}",
                c.name
            ))
        })?;
    }
    for principal in &envelope.identities {
        check_principal_in_channel(&c.name, principal, channel_msp_ids)?;
    }
    Ok(())
}

/// The structural checks of Fabric's policy compiler.
fn compile_check(
    rule: Option<&SignaturePolicy>,
    identities: usize,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_POLICY_DEPTH {
        return Err(format!("policy is nested deeper than {MAX_POLICY_DEPTH}"));
    }
    let rule = rule.ok_or("Empty policy element")?;
    match &rule.r#type {
        Some(signature_policy::Type::NOutOf(n_out_of)) => n_out_of
            .rules
            .iter()
            .try_for_each(|r| compile_check(Some(r), identities, depth + 1)),
        Some(signature_policy::Type::SignedBy(index)) => {
            if *index < 0 || usize::try_from(*index).map_or(true, |i| i >= identities) {
                return Err(format!(
                    "identity index out of range, requested {index}, but identities length is {identities}"
                ));
            }
            Ok(())
        }
        None => Err("Unknown type: <nil>:<nil>".to_owned()),
    }
}

/// A member policy must be an OR of principals (every n-out-of has n = 1).
fn only_or(rule: &SignaturePolicy, depth: usize) -> Result<(), String> {
    let Some(signature_policy::Type::NOutOf(n_out_of)) = &rule.r#type else {
        return Ok(());
    };
    if n_out_of.n != 1 {
        return Err(format!(
            "signature policy is not an OR concatenation, NOutOf {}",
            n_out_of.n
        ));
    }
    if depth > MAX_POLICY_DEPTH {
        return Err(format!("policy is nested deeper than {MAX_POLICY_DEPTH}"));
    }
    n_out_of
        .rules
        .iter()
        .try_for_each(|r| only_or(r, depth + 1))
}

fn check_principal_in_channel(
    collection: &str,
    principal: &MspPrincipal,
    channel_msp_ids: &[String],
) -> Result<(), LifecycleError> {
    let in_channel = |msp_id: &str| channel_msp_ids.iter().any(|id| id == msp_id);
    let not_member = |msp_id: &str| {
        LifecycleError::rejected(format!(
            "collection-name: {collection} -- collection member '{msp_id}' is not part of the channel"
        ))
    };
    let classification = principal.principal_classification;
    if classification == msp_principal::Classification::Role as i32 {
        let role = MspRole::decode(principal.principal.as_slice()).map_err(|e| {
            LifecycleError::rejected(format!(
                "collection-name: {collection} -- cannot unmarshal identity bytes into MSPRole: {e}"
            ))
        })?;
        if !in_channel(&role.msp_identifier) {
            return Err(not_member(&role.msp_identifier));
        }
    } else if classification == msp_principal::Classification::OrganizationUnit as i32 {
        let ou = OrganizationUnit::decode(principal.principal.as_slice()).map_err(|e| {
            LifecycleError::rejected(format!(
                "collection-name: {collection} -- cannot unmarshal identity bytes into OrganizationUnit: {e}"
            ))
        })?;
        if !in_channel(&ou.msp_identifier) {
            return Err(not_member(&ou.msp_identifier));
        }
    } else if classification == msp_principal::Classification::Identity as i32 {
        // Fabric deserializes the identity with the channel's MSPs; an identity of an MSP that
        // is not on the channel is what that rejects.
        let known = SerializedIdentity::decode(principal.principal.as_slice())
            .is_ok_and(|id| in_channel(&id.mspid));
        if !known {
            return Err(LifecycleError::rejected(format!(
                "collection-name: {collection} -- contains an identity that is not part of the channel"
            )));
        }
    } else {
        let name = msp_principal::Classification::try_from(classification)
            .map(|c| c.as_str_name().to_owned())
            .unwrap_or_else(|_| classification.to_string());
        return Err(LifecycleError::rejected(format!(
            "collection-name: {collection} -- principal type {name} is not supported"
        )));
    }
    Ok(())
}

/// Fabric's `validateCollConfigsAgainstCommittedDef`: every committed collection must still be
/// there, with the same block-to-live.
pub fn check_against_committed(
    proposed: &[&StaticCollectionConfig],
    committed: Option<&CollectionConfigPackage>,
) -> Result<(), LifecycleError> {
    let Some(committed) = committed.filter(|c| !c.config.is_empty()) else {
        return Ok(());
    };
    if proposed.is_empty() {
        return Err(LifecycleError::rejected(
            "the proposed collection config does not contain previously defined collections",
        ));
    }
    for config in &committed.config {
        let Some(collection_config::Payload::StaticCollectionConfig(old)) = &config.payload else {
            return Err(LifecycleError::rejected(
                "unknown collection configuration type",
            ));
        };
        let Some(new) = proposed.iter().rev().find(|c| c.name == old.name) else {
            return Err(LifecycleError::rejected(format!(
                "existing collection [{}] missing in the proposed collection configuration",
                old.name
            )));
        };
        if new.block_to_live != old.block_to_live {
            return Err(LifecycleError::rejected(format!(
                "the BlockToLive in an existing collection [{}] modified. Existing value [{}]",
                old.name, old.block_to_live
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_follow_fabric_patterns() {
        for ok in ["basic", "my-cc_2", "A1"] {
            assert!(is_valid_chaincode_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "a.b", "_lifecycle", "a b"] {
            assert!(!is_valid_chaincode_name(bad), "{bad}");
        }
        for ok in ["1.0", "v2+build_3-x"] {
            assert!(is_valid_chaincode_version(ok), "{ok}");
        }
        for bad in ["", "1 0", "1/0"] {
            assert!(!is_valid_chaincode_version(bad), "{bad}");
        }
        assert!(is_valid_collection_name("-private_1"));
        assert!(!is_valid_collection_name("_private"));
        assert!(!is_valid_collection_name(""));
        assert_eq!(
            check_name_and_version("lscc", "1").unwrap_err().to_string(),
            "chaincode name 'lscc' is the name of a system chaincode"
        );
    }
}

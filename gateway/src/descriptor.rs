//! Endorsement descriptors: which groups of peers can endorse for a chaincode interest, and
//! the layouts (how many endorsements per group) that satisfy the policies involved
//! (Fabric `discovery/endorsement`). Shared by discovery's endorsers query and the
//! gateway's endorsement plans.

use std::collections::BTreeMap;

use fabric_protos::common::{
    MspPrincipal, MspRole, SignaturePolicyEnvelope, msp_principal, msp_role,
};
use fabric_protos::protos::{
    ChaincodeCall, ChaincodeInterest, CollectionConfigPackage, collection_config,
};
use prost::Message;

use crate::api::{ChaincodeDefinition, ChannelConfigSource, PeerInfo, PeerSupport};
use crate::channel::endorsement_policy;
use crate::principals::{PrincipalSet, merged, satisfied_by};

/// Most chaincodes in one interest (a transaction calls a handful at most).
pub const INTEREST_CHAINCODES_MAX: usize = 64;
/// Most collections per chaincode call considered.
pub const CALL_ITEMS_MAX: usize = 256;
/// Most policies (chaincode, collection and key policies) combined for one interest.
pub const POLICIES_MAX: usize = 32;
const IMPLICIT_COLLECTION_PREFIX: &str = "_implicit_org_";

/// Groups of interchangeable endorsers and the layouts that satisfy the policies.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub chaincode: String,
    /// Group name (`G0`, `G1`...) to the peers in it.
    pub groups: BTreeMap<String, Vec<PeerInfo>>,
    /// Each layout maps groups to the number of endorsements needed from them.
    pub layouts: Vec<BTreeMap<String, u32>>,
}

/// Computes the descriptor for `interest` on `channel`. Errors are the messages Fabric's
/// discovery reports.
pub fn descriptor(
    support: &dyn PeerSupport,
    channel: &str,
    interest: &ChaincodeInterest,
) -> Result<Descriptor, String> {
    let first = interest
        .chaincodes
        .first()
        .ok_or("chaincode interest must contain at least one chaincode")?;
    if interest.chaincodes.len() > INTEREST_CHAINCODES_MAX {
        return Err("too many chaincodes in interest".into());
    }
    let config = support
        .channel_config(channel)
        .ok_or_else(|| format!("channel {channel} doesn't exist"))?;
    let mut definitions = Vec::new();
    for call in &interest.chaincodes {
        let def = support.chaincode(channel, &call.name).ok_or_else(|| {
            format!(
                "No metadata was found for chaincode {} in channel {channel}",
                call.name
            )
        })?;
        definitions.push(def);
    }

    let peers = support.channel_peers(channel);
    let members: Vec<&PeerInfo> = peers
        .iter()
        .filter(|p| authorized_for_collections(config.as_ref(), p, interest, &definitions))
        .collect();
    let principal_sets = principal_sets(config.as_ref(), interest, &definitions)?;

    // Each distinct principal becomes a group, in order of first appearance.
    let mut group_of: Vec<(MspPrincipal, String)> = Vec::new();
    for set in &principal_sets {
        for p in set {
            if !group_of.iter().any(|(q, _)| q == p) {
                let name = format!("G{}", group_of.len());
                group_of.push((p.clone(), name));
            }
        }
    }
    let satisfying: BTreeMap<&str, Vec<&PeerInfo>> = group_of
        .iter()
        .map(|(principal, group)| {
            let peers = members
                .iter()
                .copied()
                .filter(|p| config.satisfies_principal(&p.identity, principal).is_ok())
                .collect();
            (group.as_str(), peers)
        })
        .collect();
    let group_name = |p: &MspPrincipal| {
        group_of
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, g)| g.clone())
            .unwrap_or_default()
    };

    let mut layouts = Vec::new();
    for set in &principal_sets {
        let mut layout: BTreeMap<String, u32> = BTreeMap::new();
        for p in set {
            *layout.entry(group_name(p)).or_default() += 1;
        }
        let satisfied = layout
            .iter()
            .all(|(g, qty)| satisfying.get(g.as_str()).map_or(0, Vec::len) >= *qty as usize);
        if satisfied {
            layouts.push(layout);
        }
    }
    if layouts.is_empty() {
        return Err("no peer combination can satisfy the endorsement policy".into());
    }

    let mut groups = BTreeMap::new();
    for layout in &layouts {
        for g in layout.keys() {
            if groups.contains_key(g) {
                continue;
            }
            let with_chaincode: Vec<PeerInfo> = satisfying
                .get(g.as_str())
                .into_iter()
                .flatten()
                .filter(|p| has_chaincodes(p, &definitions))
                .map(|p| (*p).clone())
                .collect();
            if !with_chaincode.is_empty() {
                groups.insert(g.clone(), with_chaincode);
            }
        }
    }
    layouts.retain(|layout| {
        layout
            .iter()
            .all(|(g, qty)| groups.get(g).map_or(0, Vec::len) >= *qty as usize)
    });
    if layouts.is_empty() {
        return Err("required chaincodes are not installed on sufficient peers".into());
    }
    Ok(Descriptor {
        chaincode: first.name.clone(),
        groups,
        layouts,
    })
}

/// Whether the peer has every chaincode of the interest at its defined version.
pub(crate) fn has_chaincodes(peer: &PeerInfo, definitions: &[ChaincodeDefinition]) -> bool {
    definitions.iter().all(|def| {
        let version = def.sequence.to_string();
        peer.chaincodes
            .iter()
            .any(|cc| cc.name == def.name && cc.version == version)
    })
}

fn member_principal(msp_id: &str) -> MspPrincipal {
    MspPrincipal {
        principal_classification: msp_principal::Classification::Role as i32,
        principal: MspRole {
            msp_identifier: msp_id.to_owned(),
            role: msp_role::MspRoleType::Member as i32,
        }
        .encode_to_vec(),
    }
}

/// `OR` over one org's members, the policy of implicit collections.
fn signed_by_member(msp_id: &str) -> SignaturePolicyEnvelope {
    use fabric_protos::common::{SignaturePolicy, signature_policy};
    SignaturePolicyEnvelope {
        version: 0,
        rule: Some(SignaturePolicy {
            r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n: 1,
                rules: vec![SignaturePolicy {
                    r#type: Some(signature_policy::Type::SignedBy(0)),
                }],
            })),
        }),
        identities: vec![member_principal(msp_id)],
    }
}

struct CollectionPolicies {
    members: Option<SignaturePolicyEnvelope>,
    endorsement: Option<Vec<u8>>,
}

fn collection(
    collections: Option<&CollectionConfigPackage>,
    name: &str,
) -> Option<CollectionPolicies> {
    if let Some(msp_id) = name.strip_prefix(IMPLICIT_COLLECTION_PREFIX) {
        let policy = signed_by_member(msp_id);
        let endorsement = fabric_protos::protos::ApplicationPolicy {
            r#type: Some(
                fabric_protos::protos::application_policy::Type::SignaturePolicy(policy.clone()),
            ),
        };
        return Some(CollectionPolicies {
            members: Some(policy),
            endorsement: Some(endorsement.encode_to_vec()),
        });
    }
    collections?.config.iter().find_map(|c| match &c.payload {
        Some(collection_config::Payload::StaticCollectionConfig(s)) if s.name == name => {
            let members = s.member_orgs_policy.as_ref().and_then(|m| {
                m.payload.as_ref().map(|payload| match payload {
                    fabric_protos::protos::collection_policy_config::Payload::SignaturePolicy(
                        p,
                    ) => p.clone(),
                })
            });
            Some(CollectionPolicies {
                members,
                endorsement: s.endorsement_policy.as_ref().map(Message::encode_to_vec),
            })
        }
        _ => None,
    })
}

/// Peers that may read the collections the interest reads: each must satisfy some
/// principal of every such collection's member policy.
pub(crate) fn authorized_for_collections(
    config: &dyn ChannelConfigSource,
    peer: &PeerInfo,
    interest: &ChaincodeInterest,
    definitions: &[ChaincodeDefinition],
) -> bool {
    interest
        .chaincodes
        .iter()
        .zip(definitions)
        .filter(|(call, _)| !call.no_private_reads)
        .all(|(call, def)| {
            call.collection_names
                .iter()
                .take(CALL_ITEMS_MAX)
                .all(|name| {
                    let Some(members) =
                        collection(def.collections.as_ref(), name).and_then(|c| c.members)
                    else {
                        return false;
                    };
                    members
                        .identities
                        .iter()
                        .any(|p| config.satisfies_principal(&peer.identity, p).is_ok())
                })
        })
}

/// The principal sets that satisfy every policy the interest involves: each chaincode's
/// policy (unless disregarded), its collections' endorsement policies and key policies.
fn principal_sets(
    config: &dyn ChannelConfigSource,
    interest: &ChaincodeInterest,
    definitions: &[ChaincodeDefinition],
) -> Result<Vec<PrincipalSet>, String> {
    let mut policies: Vec<Vec<PrincipalSet>> = Vec::new();
    for (call, def) in interest.chaincodes.iter().zip(definitions) {
        let mut envelopes = call_policies(config, call, def)?;
        if call.disregard_namespace_policy {
            if envelopes.len() == 1 && call.key_policies.is_empty() {
                return Err(format!(
                    "requested to disregard chaincode {}'s policy but key and collection policies are missing, either disable DisregardNamespacePolicy or specify at least one key policy or at least one collection policy",
                    call.name
                ));
            }
            if envelopes.len() == 1 {
                envelopes.clear();
            } else {
                envelopes.remove(0);
            }
        }
        policies.extend(envelopes.iter().map(satisfied_by));
    }
    let mut key_sets: Vec<Vec<PrincipalSet>> = Vec::new();
    let key_policies: usize = interest
        .chaincodes
        .iter()
        .map(|c| c.key_policies.len())
        .sum();
    if policies.len() + key_policies > POLICIES_MAX {
        return Err(format!(
            "too many endorsement policies involved (more than {POLICIES_MAX})"
        ));
    }
    for call in &interest.chaincodes {
        for key_policy in &call.key_policies {
            let sets = satisfied_by(key_policy);
            if sets.is_empty() {
                return Err("state based endorsement policy cannot be satisfied".into());
            }
            key_sets.push(sets);
        }
    }
    if !key_sets.is_empty() {
        policies.push(merged(&key_sets)?);
    }
    merged(&policies)
}

/// The chaincode's policy, or when collections are named, their distinct endorsement
/// policies (a collection without one falls back to the chaincode policy).
fn call_policies(
    config: &dyn ChannelConfigSource,
    call: &ChaincodeCall,
    def: &ChaincodeDefinition,
) -> Result<Vec<SignaturePolicyEnvelope>, String> {
    let chaincode_policy = endorsement_policy(config.config(), &def.endorsement_policy)
        .map_err(|_| "policy not found".to_owned())?;
    if call.collection_names.is_empty() {
        return Ok(vec![chaincode_policy]);
    }
    let mut out: Vec<SignaturePolicyEnvelope> = Vec::new();
    for name in call.collection_names.iter().take(CALL_ITEMS_MAX) {
        let policy = match collection(def.collections.as_ref(), name).and_then(|c| c.endorsement) {
            Some(bytes) => endorsement_policy(config.config(), &bytes)?,
            None => chaincode_policy.clone(),
        };
        if !out.contains(&policy) {
            out.push(policy);
        }
    }
    Ok(out)
}

impl Descriptor {
    /// The discovery wire form: peers carry gossip-shaped membership and state envelopes.
    pub fn to_proto(&self, channel: &str) -> fabric_protos::discovery::EndorsementDescriptor {
        use fabric_protos::discovery::{Layout, Peers};
        fabric_protos::discovery::EndorsementDescriptor {
            chaincode: self.chaincode.clone(),
            endorsers_by_groups: self
                .groups
                .iter()
                .map(|(g, peers)| {
                    let peers = peers
                        .iter()
                        .map(|p| crate::membership::discovery_peer(p, channel, true))
                        .collect();
                    (g.clone(), Peers { peers })
                })
                .collect(),
            layouts: self
                .layouts
                .iter()
                .map(|l| Layout {
                    quantities_by_group: l.clone(),
                })
                .collect(),
        }
    }
}

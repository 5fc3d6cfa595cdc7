//! What the services read from a channel config: MSPs and orderer endpoints (discovery's
//! config query, Fabric `discovery/support/config`), TLS roots for dialing other orgs, and
//! chaincode endorsement policies turned into signature policies (Fabric
//! `lifecycle.MetadataProvider` with `policies.Converter`: a reference to an implicit-meta
//! policy becomes an N-out-of over the sub-policies of the referenced group's children).

use std::collections::BTreeMap;

use fabric_protos::common::{
    Config, ConfigGroup, ImplicitMetaPolicy, MspPrincipal, OrdererAddresses, SignaturePolicy,
    SignaturePolicyEnvelope, implicit_meta_policy, policy::PolicyType, signature_policy,
};
use fabric_protos::discovery::{ConfigResult, Endpoint, Endpoints};
use fabric_protos::msp::{FabricMspConfig, MspConfig};
use fabric_protos::protos::{ApplicationPolicy, application_policy};
use prost::Message;
use weft_channelconfig::ChannelBundle;
use weft_policy::SignedData;

use crate::api::ChannelConfigSource;

const MSP_KEY: &str = "MSP";
const ENDPOINTS_KEY: &str = "Endpoints";
const ORDERER_ADDRESSES_KEY: &str = "OrdererAddresses";
const ORDERER_GROUP: &str = "Orderer";
const APPLICATION_GROUP: &str = "Application";
/// `msp.ProviderType` FABRIC: only X.509 MSPs are reported by discovery.
const FABRIC_MSP_TYPE: i32 = 0;
/// Deepest config group nesting followed while resolving implicit-meta policies
/// (`/Channel/Application/Org` is depth 2; configs are checked far below this).
const POLICY_DEPTH_MAX: usize = 8;

impl ChannelConfigSource for ChannelBundle {
    fn config(&self) -> &Config {
        ChannelBundle::config(self)
    }

    fn evaluate_policy(&self, path: &str, signed: &[SignedData]) -> Result<(), String> {
        let policy = self
            .policy_manager()
            .get_policy(path)
            .ok_or_else(|| format!("policy {path} not found"))?;
        policy
            .evaluate_signed_data(signed)
            .map_err(|e| e.to_string())
    }

    fn satisfies_principal(&self, identity: &[u8], principal: &MspPrincipal) -> Result<(), String> {
        let identity = self
            .msp_manager()
            .deserialize_identity(identity)
            .map_err(|e| format!("failed deserializing identity: {e}"))?;
        identity
            .satisfies_principal(principal)
            .map_err(|e| e.to_string())
    }
}

/// An orderer to submit transactions to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdererEndpoint {
    pub address: String,
    pub msp_id: String,
    pub tls_root_certs: Vec<Vec<u8>>,
}

fn group<'a>(config: &'a Config, name: &str) -> Option<&'a ConfigGroup> {
    config.channel_group.as_ref()?.groups.get(name)
}

fn fabric_msp(org: &ConfigGroup) -> Result<Option<FabricMspConfig>, String> {
    let Some(value) = org.values.get(MSP_KEY) else {
        return Ok(None);
    };
    let msp = MspConfig::decode(value.value.as_slice())
        .map_err(|e| format!("failed parsing MSPConfig: {e}"))?;
    if msp.r#type != FABRIC_MSP_TYPE {
        return Ok(None);
    }
    FabricMspConfig::decode(msp.config.as_slice())
        .map(Some)
        .map_err(|e| format!("failed parsing FabricMSPConfig: {e}"))
}

fn split_endpoint(endpoint: &str) -> Option<Endpoint> {
    let (host, port) = endpoint.rsplit_once(':')?;
    let port = port.parse::<u16>().ok()?;
    Some(Endpoint {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port: u32::from(port),
    })
}

fn addresses(group: &ConfigGroup, key: &str) -> Result<Option<Vec<String>>, String> {
    let Some(value) = group.values.get(key) else {
        return Ok(None);
    };
    OrdererAddresses::decode(value.value.as_slice())
        .map(|a| Some(a.addresses))
        .map_err(|e| format!("failed unmarshalling orderer addresses: {e}"))
}

/// Discovery's config query result: every org's FabricMSPConfig and each orderer org's
/// endpoints (per-org `Endpoints` when any org has them, else the global
/// `OrdererAddresses` under every orderer org).
pub fn config_result(config: &Config) -> Result<ConfigResult, String> {
    let root = config
        .channel_group
        .as_ref()
        .ok_or("config has no channel group")?;
    let orderer_orgs = group(config, ORDERER_GROUP).map(|g| &g.groups);
    let application_orgs = group(config, APPLICATION_GROUP).map(|g| &g.groups);
    let (Some(orderer_orgs), Some(application_orgs)) = (orderer_orgs, application_orgs) else {
        return Err("config lacks the Orderer or Application group".into());
    };

    let mut per_org: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for org in orderer_orgs.values() {
        if let Some(msp) = fabric_msp(org)? {
            per_org.insert(msp.name, addresses(org, ENDPOINTS_KEY)?.unwrap_or_default());
        }
    }
    let any_per_org = per_org.values().any(|e| !e.is_empty());
    let global = addresses(root, ORDERER_ADDRESSES_KEY)?.unwrap_or_default();
    let mut orderers = BTreeMap::new();
    for (msp_id, endpoints) in per_org {
        let chosen = if any_per_org { &endpoints } else { &global };
        let mut parsed = Vec::new();
        for endpoint in chosen {
            match split_endpoint(endpoint) {
                Some(e) => parsed.push(e),
                None if any_per_org => continue,
                None => return Err(format!("failed parsing orderer endpoint {endpoint}")),
            }
        }
        orderers.insert(msp_id, Endpoints { endpoint: parsed });
    }

    let mut msps = BTreeMap::new();
    for org in orderer_orgs.values().chain(application_orgs.values()) {
        if let Some(msp) = fabric_msp(org)? {
            msps.entry(msp.name.clone()).or_insert(msp);
        }
    }
    Ok(ConfigResult { msps, orderers })
}

/// The TLS CA certificates (roots then intermediates, PEM) of an MSP of the channel.
pub fn tls_root_certs(config: &ConfigResult, msp_id: &str) -> Vec<Vec<u8>> {
    config
        .msps
        .get(msp_id)
        .map(|m| {
            m.tls_root_certs
                .iter()
                .chain(&m.tls_intermediate_certs)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The orderers of the channel with the TLS roots of their organizations.
pub fn orderer_endpoints(config: &Config) -> Result<Vec<OrdererEndpoint>, String> {
    let result = config_result(config)?;
    let mut out = Vec::new();
    for (msp_id, endpoints) in &result.orderers {
        let roots = tls_root_certs(&result, msp_id);
        for e in &endpoints.endpoint {
            out.push(OrdererEndpoint {
                address: format!("{}:{}", e.host, e.port),
                msp_id: msp_id.clone(),
                tls_root_certs: roots.clone(),
            });
        }
    }
    Ok(out)
}

/// Turns a marshalled `protos.ApplicationPolicy` into the signature policy it stands for.
pub fn endorsement_policy(
    config: &Config,
    application_policy: &[u8],
) -> Result<SignaturePolicyEnvelope, String> {
    let policy = ApplicationPolicy::decode(application_policy)
        .map_err(|e| format!("failed to unmarshal ApplicationPolicy bytes: {e}"))?;
    match policy.r#type {
        Some(application_policy::Type::SignaturePolicy(envelope)) => Ok(envelope),
        Some(application_policy::Type::ChannelConfigPolicyReference(reference)) => {
            policy_reference(config, &reference)
        }
        None => Err("unsupported policy type: empty ApplicationPolicy".into()),
    }
}

/// Converts the channel config policy at an absolute path to a signature policy.
pub fn policy_reference(config: &Config, path: &str) -> Result<SignaturePolicyEnvelope, String> {
    let not_found = || format!("could not retrieve policy for reference '{path}'");
    let mut parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let name = parts.pop().ok_or_else(not_found)?;
    if parts.first() != Some(&"Channel") {
        return Err(not_found());
    }
    let mut current = config.channel_group.as_ref().ok_or_else(not_found)?;
    for part in &parts[1..] {
        current = current.groups.get(*part).ok_or_else(not_found)?;
    }
    convert(current, name, 0).map_err(|e| format!("policy with reference '{path}': {e}"))
}

fn convert(
    group: &ConfigGroup,
    name: &str,
    depth: usize,
) -> Result<SignaturePolicyEnvelope, String> {
    if depth > POLICY_DEPTH_MAX {
        return Err("policy nesting too deep".into());
    }
    let policy = group
        .policies
        .get(name)
        .and_then(|p| p.policy.as_ref())
        .ok_or_else(|| format!("policy {name} not found"))?;
    match PolicyType::try_from(policy.r#type) {
        Ok(PolicyType::Signature) => SignaturePolicyEnvelope::decode(policy.value.as_slice())
            .map_err(|e| format!("bad signature policy {name}: {e}")),
        Ok(PolicyType::ImplicitMeta) => {
            let meta = ImplicitMetaPolicy::decode(policy.value.as_slice())
                .map_err(|e| format!("bad implicit meta policy {name}: {e}"))?;
            let subs = group
                .groups
                .values()
                .map(|child| convert(child, &meta.sub_policy, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(combine(&meta, subs))
        }
        _ => Err(format!(
            "policy {name} is not convertible to a signature policy"
        )),
    }
}

/// N-out-of over the sub-policies, with identical principals shared (Go's `merge`).
fn combine(
    meta: &ImplicitMetaPolicy,
    subs: Vec<SignaturePolicyEnvelope>,
) -> SignaturePolicyEnvelope {
    let count = subs.len();
    let threshold = match implicit_meta_policy::Rule::try_from(meta.rule) {
        _ if count == 0 => 0,
        Ok(implicit_meta_policy::Rule::All) => count,
        Ok(implicit_meta_policy::Rule::Majority) => count / 2 + 1,
        _ => 1,
    };
    let mut identities: Vec<MspPrincipal> = Vec::new();
    let mut rules = Vec::new();
    for sub in subs {
        let remap: Vec<usize> = sub
            .identities
            .iter()
            .map(|id| match identities.iter().position(|known| known == id) {
                Some(i) => i,
                None => {
                    identities.push(id.clone());
                    identities.len() - 1
                }
            })
            .collect();
        if let Some(rule) = sub.rule {
            rules.push(remap_rule(rule, &remap));
        }
    }
    SignaturePolicyEnvelope {
        version: 0,
        rule: Some(SignaturePolicy {
            r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n: i32::try_from(threshold).unwrap_or(i32::MAX),
                rules,
            })),
        }),
        identities,
    }
}

fn remap_rule(rule: SignaturePolicy, remap: &[usize]) -> SignaturePolicy {
    let r#type = match rule.r#type {
        Some(signature_policy::Type::SignedBy(i)) => {
            // An index out of range stays out of range so evaluation still rejects it.
            let mapped = usize::try_from(i)
                .ok()
                .and_then(|i| remap.get(i).copied())
                .and_then(|i| i32::try_from(i).ok())
                .unwrap_or(i32::MAX);
            Some(signature_policy::Type::SignedBy(mapped))
        }
        Some(signature_policy::Type::NOutOf(n)) => {
            Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n: n.n,
                rules: n.rules.into_iter().map(|r| remap_rule(r, remap)).collect(),
            }))
        }
        None => None,
    };
    SignaturePolicy { r#type }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::ConfigValue;

    fn value<M: Message>(m: &M) -> ConfigValue {
        ConfigValue {
            version: 0,
            value: m.encode_to_vec(),
            mod_policy: String::new(),
        }
    }

    fn org(msp: &str, endpoints: Option<&[&str]>) -> ConfigGroup {
        let mut g = ConfigGroup::default();
        let fabric = FabricMspConfig {
            name: msp.into(),
            ..Default::default()
        };
        g.values.insert(
            MSP_KEY.into(),
            value(&MspConfig {
                r#type: FABRIC_MSP_TYPE,
                config: fabric.encode_to_vec(),
            }),
        );
        if let Some(e) = endpoints {
            let addresses = OrdererAddresses {
                addresses: e.iter().map(|s| (*s).into()).collect(),
            };
            g.values.insert(ENDPOINTS_KEY.into(), value(&addresses));
        }
        g
    }

    fn config(orderer_orgs: Vec<(&str, ConfigGroup)>, global: &[&str]) -> Config {
        let mut root = ConfigGroup::default();
        let mut ord = ConfigGroup::default();
        for (name, g) in orderer_orgs {
            ord.groups.insert(name.into(), g);
        }
        root.groups.insert(ORDERER_GROUP.into(), ord);
        root.groups
            .insert(APPLICATION_GROUP.into(), ConfigGroup::default());
        let addresses = OrdererAddresses {
            addresses: global.iter().map(|s| (*s).into()).collect(),
        };
        root.values
            .insert(ORDERER_ADDRESSES_KEY.into(), value(&addresses));
        Config {
            sequence: 0,
            channel_group: Some(root),
        }
    }

    /// Fabric discovery/support/config: without per-org endpoints every orderer org gets
    /// the global OrdererAddresses.
    #[test]
    fn global_orderer_addresses_apply_without_org_endpoints() {
        let c = config(vec![("O1", org("O1MSP", None))], &["o.example.com:7050"]);
        let endpoints = orderer_endpoints(&c).unwrap();
        assert_eq!(endpoints.len(), 1);
        assert_eq!(endpoints[0].address, "o.example.com:7050");
        assert_eq!(endpoints[0].msp_id, "O1MSP");
    }

    #[test]
    fn org_endpoints_take_precedence_and_bad_ones_are_skipped() {
        let c = config(
            vec![
                ("O1", org("O1MSP", Some(&["o1:7050", "garbage"]))),
                ("O2", org("O2MSP", None)),
            ],
            &["global:7050"],
        );
        let result = config_result(&c).unwrap();
        assert_eq!(result.orderers["O1MSP"].endpoint.len(), 1);
        assert!(result.orderers["O2MSP"].endpoint.is_empty());
        let bad_global = config(vec![("O1", org("O1MSP", None))], &["nohostport"]);
        assert!(config_result(&bad_global).is_err());
    }

    #[test]
    fn unknown_policy_reference_is_an_error() {
        let c = config(vec![], &[]);
        assert!(policy_reference(&c, "/Channel/Application/Nope").is_err());
        assert!(policy_reference(&c, "Endorsement").is_err());
        assert!(endorsement_policy(&c, b"\xff").is_err());
    }
}

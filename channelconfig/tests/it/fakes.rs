//! Stand-ins for the MSP and policy crates: identities are `SerializedIdentity{mspid,
//! id_bytes}` whose id starting with "admin" holds the admin role, signatures are a keyed
//! checksum of identity and data, and policies evaluate Fabric's signature and implicit-meta
//! policy protos (greedy principal matching, enough for these configs).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use fabric_protos::common::msp_principal::Classification;
use fabric_protos::common::policy::PolicyType;
use fabric_protos::common::signature_policy::Type as RuleType;
use fabric_protos::common::{
    ConfigGroup, ImplicitMetaPolicy, MspPrincipal, MspRole, SignaturePolicy,
    SignaturePolicyEnvelope, implicit_meta_policy::Rule, msp_role::MspRoleType,
};
use fabric_protos::msp::{FabricMspConfig, MspConfig, SerializedIdentity};
use prost::Message;
use weft_channelconfig::{ChannelMsp, MspFactory, MspVersion, PolicyProvider};
use weft_msp::{Identity, IdentityDeserializer, IdentityIdentifier, MspError};
use weft_policy::{Policy, PolicyError, PolicyManager, SignedData};

pub fn fake_signature(identity: &[u8], data: &[u8]) -> Vec<u8> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in identity.iter().chain([0xffu8].iter()).chain(data) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.to_be_bytes().to_vec()
}

pub fn serialized(msp_id: &str, id: &str) -> Vec<u8> {
    SerializedIdentity {
        mspid: msp_id.into(),
        id_bytes: id.as_bytes().to_vec(),
    }
    .encode_to_vec()
}

#[derive(Debug)]
struct FakeIdentity {
    id: IdentityIdentifier,
    bytes: Vec<u8>,
}

impl Identity for FakeIdentity {
    fn identifier(&self) -> &IdentityIdentifier {
        &self.id
    }
    fn validate(&self) -> Result<(), MspError> {
        Ok(())
    }
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), MspError> {
        if fake_signature(&self.bytes, message) == signature {
            Ok(())
        } else {
            Err(MspError::BadSignature("fake signature mismatch".into()))
        }
    }
    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), MspError> {
        let mismatch = || Err(MspError::PrincipalMismatch(format!("{:?}", self.id)));
        if principal.principal_classification != Classification::Role as i32 {
            return mismatch();
        }
        let role = MspRole::decode(principal.principal.as_slice())
            .map_err(|e| MspError::Malformed(e.to_string()))?;
        let admin = self.id.id.starts_with("admin");
        let role_ok = role.role == MspRoleType::Member as i32
            || (role.role == MspRoleType::Admin as i32 && admin);
        if role.msp_identifier == self.id.msp_id && role_ok {
            Ok(())
        } else {
            mismatch()
        }
    }
    fn serialize(&self) -> Vec<u8> {
        self.bytes.clone()
    }
    fn expires_at(&self) -> Option<SystemTime> {
        None
    }
}

#[derive(Debug)]
pub struct FakeMsp {
    id: String,
}

impl IdentityDeserializer for FakeMsp {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspError> {
        let sid = SerializedIdentity::decode(serialized)
            .map_err(|e| MspError::Malformed(e.to_string()))?;
        if sid.mspid != self.id {
            return Err(MspError::UnknownMsp(sid.mspid));
        }
        let id = IdentityIdentifier {
            msp_id: sid.mspid,
            id: String::from_utf8_lossy(&sid.id_bytes).into_owned(),
        };
        Ok(Arc::new(FakeIdentity {
            id,
            bytes: serialized.to_vec(),
        }))
    }
}

impl ChannelMsp for FakeMsp {
    fn msp_id(&self) -> &str {
        &self.id
    }
}

/// MSP ID taken from `FabricMSPConfig.name`, nothing else checked.
pub struct FakeMspFactory;

impl MspFactory for FakeMspFactory {
    fn new_msp(
        &self,
        config: &MspConfig,
        _version: MspVersion,
    ) -> Result<Arc<dyn ChannelMsp>, MspError> {
        let fabric = FabricMspConfig::decode(config.config.as_slice())
            .map_err(|e| MspError::Config(e.to_string()))?;
        Ok(Arc::new(FakeMsp { id: fabric.name }))
    }
}

#[derive(Debug)]
enum FakePolicy {
    Signature(SignaturePolicyEnvelope, Msps),
    ImplicitMeta {
        sub: Vec<Arc<dyn Policy>>,
        rule: i32,
    },
    Reject,
}

struct Msps(Arc<dyn IdentityDeserializer>);

impl std::fmt::Debug for Msps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msps")
    }
}

fn matches_rule(
    rule: &SignaturePolicy,
    principals: &[MspPrincipal],
    ids: &[Arc<dyn Identity>],
    used: &mut Vec<bool>,
) -> bool {
    match &rule.r#type {
        Some(RuleType::SignedBy(i)) => {
            let Some(p) = usize::try_from(*i).ok().and_then(|i| principals.get(i)) else {
                return false;
            };
            for (k, id) in ids.iter().enumerate() {
                if !used[k] && id.satisfies_principal(p).is_ok() {
                    used[k] = true;
                    return true;
                }
            }
            false
        }
        Some(RuleType::NOutOf(n)) => {
            let mut count = 0;
            for r in &n.rules {
                let mut trial = used.clone();
                if matches_rule(r, principals, ids, &mut trial) {
                    *used = trial;
                    count += 1;
                }
            }
            count >= n.n
        }
        None => false,
    }
}

impl Policy for FakePolicy {
    fn evaluate_signed_data(&self, signed: &[SignedData]) -> Result<(), PolicyError> {
        match self {
            FakePolicy::Reject => Err(PolicyError::NotSatisfied("reject".into())),
            FakePolicy::Signature(env, msps) => {
                let ids: Vec<Arc<dyn Identity>> = signed
                    .iter()
                    .filter_map(|s| {
                        let id = msps.0.deserialize_identity(&s.identity).ok()?;
                        id.verify(&s.data, &s.signature).ok()?;
                        Some(id)
                    })
                    .collect();
                let mut used = vec![false; ids.len()];
                match &env.rule {
                    Some(rule) if matches_rule(rule, &env.identities, &ids, &mut used) => Ok(()),
                    _ => Err(PolicyError::NotSatisfied("signature policy".into())),
                }
            }
            FakePolicy::ImplicitMeta { sub, rule } => {
                let threshold = match Rule::try_from(*rule) {
                    Ok(Rule::Any) => 1,
                    Ok(Rule::All) => sub.len(),
                    Ok(Rule::Majority) => sub.len() / 2 + 1,
                    Err(_) => return Err(PolicyError::Invalid("rule".into())),
                };
                let ok = sub
                    .iter()
                    .filter(|p| p.evaluate_signed_data(signed).is_ok())
                    .count();
                if ok >= threshold {
                    Ok(())
                } else {
                    Err(PolicyError::NotSatisfied(format!("{ok} of {threshold}")))
                }
            }
        }
    }
}

#[derive(Debug)]
pub struct FakeManager {
    policies: BTreeMap<String, Arc<dyn Policy>>,
    children: BTreeMap<String, Arc<FakeManager>>,
}

impl FakeManager {
    fn build(
        group: &ConfigGroup,
        msps: &Arc<dyn IdentityDeserializer>,
    ) -> Result<Arc<Self>, PolicyError> {
        let children = group
            .groups
            .iter()
            .map(|(k, g)| Ok((k.clone(), Self::build(g, msps)?)))
            .collect::<Result<BTreeMap<_, _>, PolicyError>>()?;
        let mut policies: BTreeMap<String, Arc<dyn Policy>> = BTreeMap::new();
        for (name, cp) in &group.policies {
            let Some(p) = &cp.policy else { continue };
            let policy = if p.r#type == PolicyType::Signature as i32 {
                let env = SignaturePolicyEnvelope::decode(p.value.as_slice())
                    .map_err(|e| PolicyError::Invalid(e.to_string()))?;
                FakePolicy::Signature(env, Msps(msps.clone()))
            } else if p.r#type == PolicyType::ImplicitMeta as i32 {
                let im = ImplicitMetaPolicy::decode(p.value.as_slice())
                    .map_err(|e| PolicyError::Invalid(e.to_string()))?;
                let sub = children
                    .values()
                    .map(|c| {
                        c.policies
                            .get(&im.sub_policy)
                            .cloned()
                            .unwrap_or_else(|| Arc::new(FakePolicy::Reject))
                    })
                    .collect();
                FakePolicy::ImplicitMeta { sub, rule: im.rule }
            } else {
                return Err(PolicyError::Invalid(format!("policy type {}", p.r#type)));
            };
            policies.insert(name.clone(), Arc::new(policy));
        }
        Ok(Arc::new(Self { policies, children }))
    }
}

impl PolicyManager for FakeManager {
    fn get_policy(&self, path: &str) -> Option<Arc<dyn Policy>> {
        match path.strip_prefix("/Channel/") {
            Some(abs) => {
                let mut parts: Vec<&str> = abs.split('/').collect();
                let name = parts.pop()?;
                let mut m = self;
                for p in parts {
                    m = m.children.get(p)?;
                }
                m.policies.get(name).cloned()
            }
            None => self.policies.get(path).cloned(),
        }
    }
    fn manager(&self, path: &[&str]) -> Option<Arc<dyn PolicyManager>> {
        let (first, rest) = path.split_first()?;
        let child = self.children.get(*first)?;
        if rest.is_empty() {
            Some(child.clone())
        } else {
            child.manager(rest)
        }
    }
}

pub struct FakePolicyProvider;

impl PolicyProvider for FakePolicyProvider {
    fn new_policy_manager(
        &self,
        channel_group: &ConfigGroup,
        msps: Arc<dyn IdentityDeserializer>,
    ) -> Result<Arc<dyn PolicyManager>, PolicyError> {
        Ok(FakeManager::build(channel_group, &msps)?)
    }
}

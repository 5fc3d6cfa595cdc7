//! What a bundle needs from the MSP and policy crates, as injectable traits: an MSP built
//! from an `msp.MSPConfig`, a manager dispatching identities to a channel's MSPs, and a
//! policy manager built over the channel's config tree.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use fabric_protos::common::ConfigGroup;
use fabric_protos::msp::{MspConfig, SerializedIdentity};
use prost::Message;
use weft_msp::{Identity, IdentityDeserializer, MspError};
use weft_policy::{PolicyError, PolicyManager};

use crate::capabilities::MspVersion;

/// One MSP of a channel, set up from its config.
pub trait ChannelMsp: IdentityDeserializer + Debug {
    /// The MSP ID the config declares (empty if it declares none, which the bundle refuses).
    fn msp_id(&self) -> &str;
}

/// Builds channel MSPs (Fabric's `MSPConfigHandler.ProposeMSP` and `CreateMSPManager`).
pub trait MspFactory: Send + Sync {
    /// Sets up one MSP from its config at the behaviour level the channel selects.
    fn new_msp(
        &self,
        config: &MspConfig,
        version: MspVersion,
    ) -> Result<Arc<dyn ChannelMsp>, MspError>;

    /// The channel's identity deserializer over all its MSPs. The default dispatches on the
    /// MSP ID inside the serialized identity.
    fn new_manager(
        &self,
        msps: Vec<Arc<dyn ChannelMsp>>,
    ) -> Result<Arc<dyn IdentityDeserializer>, MspError> {
        Ok(Arc::new(MspDispatch::new(msps)))
    }
}

/// Builds the policy manager of a channel config tree rooted at `/Channel`.
pub trait PolicyProvider: Send + Sync {
    fn new_policy_manager(
        &self,
        channel_group: &ConfigGroup,
        msps: Arc<dyn IdentityDeserializer>,
    ) -> Result<Arc<dyn PolicyManager>, PolicyError>;
}

/// Deserializes identities with the MSP their `mspid` names (Fabric's `mspManagerImpl`).
#[derive(Debug)]
pub struct MspDispatch {
    msps: BTreeMap<String, Arc<dyn ChannelMsp>>,
}

impl MspDispatch {
    pub fn new(msps: Vec<Arc<dyn ChannelMsp>>) -> Self {
        Self {
            msps: msps
                .into_iter()
                .map(|m| (m.msp_id().to_string(), m))
                .collect(),
        }
    }
}

impl IdentityDeserializer for MspDispatch {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspError> {
        let sid = SerializedIdentity::decode(serialized).map_err(|e| {
            MspError::Malformed(format!("could not decode SerializedIdentity: {e}"))
        })?;
        let msp = self
            .msps
            .get(&sid.mspid)
            .ok_or_else(|| MspError::UnknownMsp(sid.mspid.clone()))?;
        msp.deserialize_identity(serialized)
    }
}

impl ChannelMsp for weft_msp::X509Msp {
    fn msp_id(&self) -> &str {
        weft_msp::X509Msp::msp_id(self)
    }
}

/// Sets up channel MSPs with Weft's X.509 MSP (v1.4.3 behaviour for every channel level
/// from V1_4_3 on, which is what Fabric 2.x and 3.x channels select).
///
/// An MSP is a function of its config, so channels whose configs carry the same org share one
/// MSP while any of them holds it: a peer on thousands of channels of the same orgs parses
/// and checks each org's certificates once, and keeps them in memory once.
#[derive(Debug, Clone, Copy, Default)]
pub struct X509MspFactory;

/// Distinct MSP configs remembered for sharing; past this many, entries no channel holds any
/// more are dropped, and if all are held the memory starts over.
pub const SHARED_MSPS_MAX: usize = 4096;

type SharedMsps = HashMap<Vec<u8>, Weak<dyn ChannelMsp>>;

/// MSPs in use, by their encoded config (compared whole: no digest an org admin could collide).
static SHARED_MSPS: Mutex<Option<SharedMsps>> = Mutex::new(None);

impl MspFactory for X509MspFactory {
    fn new_msp(
        &self,
        config: &MspConfig,
        _version: MspVersion,
    ) -> Result<Arc<dyn ChannelMsp>, MspError> {
        let key = config.encode_to_vec();
        let held = SHARED_MSPS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|shared| shared.get(&key))
            .and_then(Weak::upgrade);
        if let Some(msp) = held {
            return Ok(msp);
        }
        let msp: Arc<dyn ChannelMsp> = Arc::new(weft_msp::X509Msp::from_msp_config(config)?);
        let mut shared = SHARED_MSPS.lock().unwrap_or_else(PoisonError::into_inner);
        let shared = shared.get_or_insert_with(HashMap::new);
        if shared.len() >= SHARED_MSPS_MAX {
            shared.retain(|_, msp| msp.strong_count() > 0);
            if shared.len() >= SHARED_MSPS_MAX {
                shared.clear();
            }
        }
        shared.insert(key, Arc::downgrade(&msp));
        Ok(msp)
    }
}

/// Policies from Weft's policy crate (Fabric's `policies.ManagerImpl` over signature and
/// implicit-meta policies).
#[derive(Debug, Clone, Copy, Default)]
pub struct GroupPolicyProvider;

impl PolicyProvider for GroupPolicyProvider {
    fn new_policy_manager(
        &self,
        channel_group: &ConfigGroup,
        msps: Arc<dyn IdentityDeserializer>,
    ) -> Result<Arc<dyn PolicyManager>, PolicyError> {
        let manager = weft_policy::GroupPolicyManager::new(
            crate::configmap::ROOT_GROUP_KEY,
            channel_group,
            msps,
        )?;
        Ok(Arc::new(manager))
    }
}

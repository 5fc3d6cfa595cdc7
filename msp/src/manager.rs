//! [`MspManager`]: a channel's MSPs by MSP ID, dispatching deserialization on the ID in the
//! serialized identity (Fabric's `mspManagerImpl`).

use std::collections::BTreeMap;
use std::sync::Arc;

use fabric_protos::msp::MspConfig;

use crate::api::{Identity, IdentityDeserializer, MspError};
use crate::msp::{X509Msp, decode_serialized_identity};

#[derive(Debug, Default)]
pub struct MspManager {
    msps: BTreeMap<String, Arc<X509Msp>>,
}

impl MspManager {
    /// A manager over `msps`; a later MSP with the same ID replaces an earlier one, as in Fabric.
    pub fn new(msps: impl IntoIterator<Item = X509Msp>) -> Self {
        Self {
            msps: msps
                .into_iter()
                .map(|m| (m.msp_id().to_string(), Arc::new(m)))
                .collect(),
        }
    }

    /// Sets up every MSP of a channel configuration.
    pub fn from_msp_configs(configs: &[MspConfig]) -> Result<Self, MspError> {
        let msps = configs
            .iter()
            .map(X509Msp::from_msp_config)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(msps))
    }

    pub fn get(&self, msp_id: &str) -> Option<&Arc<X509Msp>> {
        self.msps.get(msp_id)
    }

    pub fn msp_ids(&self) -> impl Iterator<Item = &str> {
        self.msps.keys().map(String::as_str)
    }
}

impl IdentityDeserializer for MspManager {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspError> {
        let sid = decode_serialized_identity(serialized)?;
        let msp = self
            .msps
            .get(&sid.mspid)
            .ok_or_else(|| MspError::UnknownMsp(sid.mspid.clone()))?;
        msp.deserialize_identity(serialized)
    }
}

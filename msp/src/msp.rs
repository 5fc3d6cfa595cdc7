//! [`X509Msp`]: Fabric's X.509 ("bccsp") MSP, set up from a `FabricMSPConfig` (a channel's
//! MSP) or from an MSP folder (the local MSP, with its signing identity).

use std::path::Path;
use std::sync::Arc;

use fabric_protos::msp::{FabricMspConfig, MspConfig, SerializedIdentity};
use openssl::pkey::{PKey, Private};
use prost::Message;

use crate::api::{Identity, IdentityDeserializer, MspError};
use crate::cache::{IDENTITY_CACHE_ENTRIES_MAX, SecondChanceCache};
use crate::cert::Certificate;
use crate::config::{self, MSP_TYPE_FABRIC, MSP_TYPE_IDEMIX};
use crate::identity::{X509Identity, X509SigningIdentity};
use crate::pem;
use crate::setup;
use crate::state::MspState;

/// Largest marshalled `SerializedIdentity` accepted.
pub const SERIALIZED_IDENTITY_BYTES_MAX: usize = 64 * 1024;

/// One X.509 MSP.
pub struct X509Msp {
    state: Arc<MspState>,
    signer: Option<Arc<X509SigningIdentity>>,
    cache: SecondChanceCache<Arc<X509Identity>>,
}

impl std::fmt::Debug for X509Msp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X509Msp")
            .field("name", &self.state.name)
            .finish_non_exhaustive()
    }
}

/// Turns PEM identity bytes into an identity of `state` (Fabric's
/// `deserializeIdentityInternal`): the certificate must chain to the MSP to be sanitized.
pub(crate) fn deserialize_id_bytes(
    state: &Arc<MspState>,
    id_bytes: &[u8],
) -> Result<X509Identity, MspError> {
    let block = pem::decode_first(id_bytes)
        .ok_or_else(|| MspError::Malformed("could not decode the PEM structure".into()))?;
    let cert = Arc::new(Certificate::from_der(&block.contents)?);
    let cert = state.sanitize(&state.pool, cert)?;
    X509Identity::new(state.clone(), cert)
}

/// Decodes a `SerializedIdentity` naming `state`'s MSP and deserializes it.
pub(crate) fn deserialize_with_state(
    state: &Arc<MspState>,
    serialized: &[u8],
) -> Result<X509Identity, MspError> {
    let sid = decode_serialized_identity(serialized)?;
    if sid.mspid != state.name {
        return Err(MspError::UnknownMsp(format!(
            "{} (expected MSP ID {})",
            sid.mspid, state.name
        )));
    }
    deserialize_id_bytes(state, &sid.id_bytes)
}

pub(crate) fn decode_serialized_identity(
    serialized: &[u8],
) -> Result<SerializedIdentity, MspError> {
    if serialized.len() > SERIALIZED_IDENTITY_BYTES_MAX {
        return Err(MspError::Malformed(format!(
            "serialized identity is {} bytes, more than {SERIALIZED_IDENTITY_BYTES_MAX}",
            serialized.len()
        )));
    }
    SerializedIdentity::decode(serialized).map_err(|e| {
        MspError::Malformed(format!("could not deserialize a SerializedIdentity: {e}"))
    })
}

impl X509Msp {
    /// Sets up a channel MSP from `msp.MSPConfig`. Only type 0 (FABRIC, X.509) is supported.
    pub fn from_msp_config(config: &MspConfig) -> Result<Self, MspError> {
        match config.r#type {
            MSP_TYPE_FABRIC => {
                let fabric = FabricMspConfig::decode(config.config.as_slice()).map_err(|e| {
                    MspError::Config(format!("failed unmarshalling fabric msp config: {e}"))
                })?;
                Self::from_fabric_config(&fabric, &[])
            }
            MSP_TYPE_IDEMIX => Err(MspError::Unsupported(
                "Idemix MSPs (MSPConfig type 1) are not supported by Weft; use X.509 (type 0) MSPs"
                    .into(),
            )),
            other => Err(MspError::Unsupported(format!(
                "MSP type {other} is not supported; only X.509 (type 0, FABRIC) MSPs are"
            ))),
        }
    }

    /// Sets up an MSP from a `FabricMSPConfig`. When the config names a signing identity, its
    /// private key is looked up among `keys` (a keystore) and then in the config's
    /// `private_signer.key_material`.
    pub fn from_fabric_config(
        config: &FabricMspConfig,
        keys: &[PKey<Private>],
    ) -> Result<Self, MspError> {
        let state = Arc::new(setup::build_state(config)?);
        let signer = match config.signing_identity.as_ref() {
            Some(info) => Some(Arc::new(setup_signer(&state, info, keys)?)),
            None => None,
        };
        Ok(Self {
            state,
            signer,
            cache: SecondChanceCache::new(IDENTITY_CACHE_ENTRIES_MAX),
        })
    }

    /// Loads the local MSP of a node or client from a Fabric MSP folder (`signcerts/` and
    /// `keystore/` included); the key may have any file name in `keystore/`.
    pub fn load_local(dir: &Path, msp_id: &str) -> Result<Self, MspError> {
        let config = config::local_fabric_msp_config_from_dir(dir, msp_id)?;
        let keys = config::keystore_keys(&dir.join("keystore"))?;
        Self::from_fabric_config(&config, &keys)
    }

    /// Loads a verifying-only MSP from a folder.
    pub fn load_verifying(dir: &Path, msp_id: &str) -> Result<Self, MspError> {
        Self::from_fabric_config(&config::fabric_msp_config_from_dir(dir, msp_id)?, &[])
    }

    pub fn msp_id(&self) -> &str {
        &self.state.name
    }

    /// The default signing identity, for local MSPs.
    pub fn signing_identity(&self) -> Option<Arc<X509SigningIdentity>> {
        self.signer.clone()
    }

    /// PEM TLS root CA certificates of this MSP, as configured.
    pub fn tls_root_certs(&self) -> &[Vec<u8>] {
        &self.state.tls_root_certs
    }

    /// PEM TLS intermediate CA certificates of this MSP, as configured.
    pub fn tls_intermediate_certs(&self) -> &[Vec<u8>] {
        &self.state.tls_intermediate_certs
    }

    /// Deserializes without going through the trait object, keeping the concrete type.
    pub fn deserialize_x509(&self, serialized: &[u8]) -> Result<Arc<X509Identity>, MspError> {
        if let Some(hit) = self.cache.get(serialized) {
            return Ok(hit);
        }
        let identity = Arc::new(deserialize_with_state(&self.state, serialized)?);
        self.cache.insert(serialized.to_vec(), identity.clone());
        Ok(identity)
    }

    /// Number of identities currently cached.
    pub fn cached_identities(&self) -> usize {
        self.cache.len()
    }
}

fn setup_signer(
    state: &Arc<MspState>,
    info: &fabric_protos::msp::SigningIdentityInfo,
    keys: &[PKey<Private>],
) -> Result<X509SigningIdentity, MspError> {
    let identity = deserialize_id_bytes(state, &info.public_signer)
        .map_err(|e| MspError::Config(format!("bad signing certificate: {e}")))?;
    let mut candidates: Vec<PKey<Private>> = keys.to_vec();
    if let Some(material) = info.private_signer.as_ref().map(|k| &k.key_material)
        && let Ok(key) = PKey::private_key_from_pem(material)
    {
        candidates.push(key);
    }
    let public_key = identity.certificate().public_key.clone();
    let key = candidates
        .into_iter()
        .find(|k| crate::crypto::same_public_key(&public_key, k))
        .ok_or_else(|| {
            MspError::Config(
                "no private key in the keystore matches the signing certificate's public key"
                    .into(),
            )
        })?;
    // Fabric refuses to start with an expired signing identity.
    if let Some(expiry) = identity.expires_at()
        && expiry < std::time::SystemTime::now()
    {
        return Err(MspError::Config(
            "the signing identity's certificate has expired; renew signcerts".into(),
        ));
    }
    X509SigningIdentity::new(identity, key)
}

impl IdentityDeserializer for X509Msp {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspError> {
        Ok(self.deserialize_x509(serialized)?)
    }
}

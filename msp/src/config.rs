//! Reading a Fabric MSP folder into a `FabricMSPConfig`, as Fabric's `configbuilder.go` does
//! for the local MSP and for configtxgen's channel MSPs.
//!
//! Folder layout: `cacerts/`, `intermediatecerts/`, `admincerts/`, `signcerts/`, `keystore/`,
//! `tlscacerts/`, `tlsintermediatecerts/`, `crls/` and an optional `config.yaml` with
//! `NodeOUs` and `OrganizationalUnitIdentifiers`. Every regular file of a folder whose content
//! holds a PEM block is taken whole, in file-name order; other files are skipped.

use std::path::{Path, PathBuf};

use fabric_protos::msp::{
    FabricCryptoConfig, FabricMspConfig, FabricNodeOUs, FabricOuIdentifier, MspConfig,
    SigningIdentityInfo,
};
use prost::Message;
use serde::Deserialize;

use crate::api::MspError;
use crate::pem;

/// Largest file read from an MSP folder.
pub const MSP_FILE_BYTES_MAX: u64 = 1 << 20;
/// Most files read from one MSP sub-folder.
pub const MSP_DIR_FILES_MAX: usize = 1024;

/// `MSPConfig.type` of an X.509 MSP.
pub const MSP_TYPE_FABRIC: i32 = 0;
/// `MSPConfig.type` of an Idemix MSP.
pub const MSP_TYPE_IDEMIX: i32 = 1;

#[derive(Debug, Default, Deserialize)]
struct OuConfig {
    #[serde(rename = "Certificate", default)]
    certificate: String,
    #[serde(rename = "OrganizationalUnitIdentifier", default)]
    organizational_unit_identifier: String,
}

#[derive(Debug, Default, Deserialize)]
struct NodeOusConfig {
    #[serde(rename = "Enable", default)]
    enable: bool,
    #[serde(rename = "ClientOUIdentifier", default)]
    client: Option<OuConfig>,
    #[serde(rename = "PeerOUIdentifier", default)]
    peer: Option<OuConfig>,
    #[serde(rename = "AdminOUIdentifier", default)]
    admin: Option<OuConfig>,
    #[serde(rename = "OrdererOUIdentifier", default)]
    orderer: Option<OuConfig>,
}

#[derive(Debug, Default, Deserialize)]
struct MspFolderConfig {
    #[serde(rename = "OrganizationalUnitIdentifiers", default)]
    organizational_unit_identifiers: Option<Vec<OuConfig>>,
    #[serde(rename = "NodeOUs", default)]
    node_ous: Option<NodeOusConfig>,
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, MspError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| MspError::Config(format!("could not read file {}: {e}", path.display())))?;
    if meta.len() > MSP_FILE_BYTES_MAX {
        return Err(MspError::Config(format!(
            "file {} is {} bytes, more than the {MSP_FILE_BYTES_MAX} allowed in an MSP folder",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path)
        .map_err(|e| MspError::Config(format!("could not read file {}: {e}", path.display())))
}

/// PEM files of `dir` in name order; `Ok(None)` when the folder does not exist.
fn pem_files(dir: &Path) -> Result<Option<Vec<Vec<u8>>>, MspError> {
    if !dir.exists() {
        return Ok(None);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| {
        MspError::Config(format!("could not read directory {}: {e}", dir.display()))
    })?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            MspError::Config(format!("could not read directory {}: {e}", dir.display()))
        })?;
        paths.push(entry.path());
        if paths.len() > MSP_DIR_FILES_MAX {
            return Err(MspError::Config(format!(
                "directory {} has more than {MSP_DIR_FILES_MAX} files",
                dir.display()
            )));
        }
    }
    paths.sort();
    let mut contents = Vec::new();
    for path in paths {
        // Like Fabric: follow symlinks, skip sub-folders and files that are not PEM.
        if std::fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(true) {
            continue;
        }
        let Ok(bytes) = read_bounded(&path) else {
            continue;
        };
        if pem::decode_first(&bytes).is_some() {
            contents.push(bytes);
        }
    }
    Ok(Some(contents))
}

fn ou_identifier(dir: &Path, ou: &OuConfig) -> Option<FabricOuIdentifier> {
    if ou.organizational_unit_identifier.is_empty() {
        return None;
    }
    // Fabric only warns when a NodeOU certificate cannot be read, and leaves it unset.
    let certificate = if ou.certificate.is_empty() {
        Vec::new()
    } else {
        read_bounded(&dir.join(&ou.certificate)).unwrap_or_default()
    };
    Some(FabricOuIdentifier {
        certificate,
        organizational_unit_identifier: ou.organizational_unit_identifier.clone(),
    })
}

fn read_folder_config(
    dir: &Path,
) -> Result<(Vec<FabricOuIdentifier>, Option<FabricNodeOUs>), MspError> {
    let path = dir.join("config.yaml");
    if !path.exists() {
        return Ok((Vec::new(), None));
    }
    let raw = read_bounded(&path)?;
    let parsed: MspFolderConfig = if raw.iter().all(u8::is_ascii_whitespace) {
        MspFolderConfig::default()
    } else {
        serde_yaml_ng::from_slice(&raw).map_err(|e| {
            MspError::Config(format!("failed unmarshalling {}: {e}", path.display()))
        })?
    };
    let mut ous = Vec::new();
    for ou in parsed.organizational_unit_identifiers.unwrap_or_default() {
        let cert_path = dir.join(&ou.certificate);
        let certificate = read_bounded(&cert_path).map_err(|e| {
            MspError::Config(format!(
                "failed loading OrganizationalUnit certificate at {}: {e}",
                cert_path.display()
            ))
        })?;
        ous.push(FabricOuIdentifier {
            certificate,
            organizational_unit_identifier: ou.organizational_unit_identifier,
        });
    }
    let node_ous = parsed.node_ous.filter(|n| n.enable).map(|n| FabricNodeOUs {
        enable: true,
        client_ou_identifier: n.client.as_ref().and_then(|o| ou_identifier(dir, o)),
        peer_ou_identifier: n.peer.as_ref().and_then(|o| ou_identifier(dir, o)),
        admin_ou_identifier: n.admin.as_ref().and_then(|o| ou_identifier(dir, o)),
        orderer_ou_identifier: n.orderer.as_ref().and_then(|o| ou_identifier(dir, o)),
    });
    Ok((ous, node_ous))
}

/// The verifying MSP configuration of an MSP folder (no signing identity), as configtxgen
/// embeds it into channel configuration (Fabric's `GetVerifyingMspConfig`).
pub fn fabric_msp_config_from_dir(dir: &Path, msp_id: &str) -> Result<FabricMspConfig, MspError> {
    let sub = |name: &str| dir.join(name);
    let root_certs = pem_files(&sub("cacerts"))?.unwrap_or_default();
    if root_certs.is_empty() {
        return Err(MspError::Config(format!(
            "could not load a valid ca certificate from directory {}",
            sub("cacerts").display()
        )));
    }
    let tls_root_certs = pem_files(&sub("tlscacerts"))?.unwrap_or_default();
    let tls_intermediate_certs = if tls_root_certs.is_empty() {
        Vec::new()
    } else {
        pem_files(&sub("tlsintermediatecerts"))?.unwrap_or_default()
    };
    let (organizational_unit_identifiers, fabric_node_ous) = read_folder_config(dir)?;
    Ok(FabricMspConfig {
        name: msp_id.to_string(),
        root_certs,
        intermediate_certs: pem_files(&sub("intermediatecerts"))?.unwrap_or_default(),
        admins: pem_files(&sub("admincerts"))?.unwrap_or_default(),
        revocation_list: pem_files(&sub("crls"))?.unwrap_or_default(),
        signing_identity: None,
        organizational_unit_identifiers,
        crypto_config: Some(FabricCryptoConfig {
            signature_hash_family: "SHA2".into(),
            identity_identifier_hash_function: "SHA256".into(),
        }),
        tls_root_certs,
        tls_intermediate_certs,
        fabric_node_ous,
    })
}

/// [`fabric_msp_config_from_dir`] wrapped as `msp.MSPConfig{type: FABRIC, config}`.
pub fn msp_config_from_dir(dir: &Path, msp_id: &str) -> Result<MspConfig, MspError> {
    let fabric = fabric_msp_config_from_dir(dir, msp_id)?;
    Ok(MspConfig {
        r#type: MSP_TYPE_FABRIC,
        config: fabric.encode_to_vec(),
    })
}

/// The local MSP configuration of a folder: the verifying configuration plus the first
/// certificate of `signcerts/` as public signer (Fabric's `GetLocalMspConfig`). The private
/// key stays in `keystore/`.
pub fn local_fabric_msp_config_from_dir(
    dir: &Path,
    msp_id: &str,
) -> Result<FabricMspConfig, MspError> {
    let signcerts = dir.join("signcerts");
    let signcert = pem_files(&signcerts)?
        .and_then(|certs| certs.into_iter().next())
        .ok_or_else(|| {
            MspError::Config(format!(
                "could not load a valid signer certificate from directory {}",
                signcerts.display()
            ))
        })?;
    let mut config = fabric_msp_config_from_dir(dir, msp_id)?;
    config.signing_identity = Some(SigningIdentityInfo {
        public_signer: signcert,
        private_signer: None,
    });
    Ok(config)
}

/// Private keys (PEM, PKCS#8 or SEC1) found in a keystore folder, whatever their file names.
pub fn keystore_keys(
    dir: &Path,
) -> Result<Vec<openssl::pkey::PKey<openssl::pkey::Private>>, MspError> {
    let files = pem_files(dir)?.unwrap_or_default();
    Ok(files
        .iter()
        .filter_map(|pem_bytes| openssl::pkey::PKey::private_key_from_pem(pem_bytes).ok())
        .collect())
}

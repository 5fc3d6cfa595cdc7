//! X.509 membership service providers (MSPs), as Fabric's `msp` package defines them.
//!
//! The traits in [`api`] are the contract the policy and channel-config crates program
//! against. [`X509Msp`] implements Fabric's X.509 MSP (v1.4.3 behaviour: chains to the MSP's
//! CAs validated as of the certificate's NotBefore + 1s, CRLs, OU and NodeOU classification,
//! admins), [`MspManager`] dispatches a channel's identities to its MSPs, and
//! [`fabric_msp_config_from_dir`] reads an MSP folder the way Fabric's configbuilder does.

pub mod api;
mod cache;
mod cert;
mod chain;
mod config;
mod crl;
mod crypto;
mod der;
mod identity;
mod manager;
mod msp;
mod pem;
mod principal;
mod setup;
mod state;

pub use api::{Identity, IdentityDeserializer, IdentityIdentifier, MspError, SigningIdentity};
pub use cache::IDENTITY_CACHE_ENTRIES_MAX;
pub use chain::{CHAIN_LENGTH_MAX, CHAIN_SIGNATURE_CHECKS_MAX};
pub use config::{
    MSP_DIR_FILES_MAX, MSP_FILE_BYTES_MAX, MSP_TYPE_FABRIC, MSP_TYPE_IDEMIX,
    fabric_msp_config_from_dir, keystore_keys, local_fabric_msp_config_from_dir,
    msp_config_from_dir,
};
pub use identity::{VERIFIED_SIGNATURES_MAX, X509Identity, X509SigningIdentity};
pub use manager::MspManager;
pub use msp::{SERIALIZED_IDENTITY_BYTES_MAX, X509Msp};
pub use principal::{COMBINED_PRINCIPAL_DEPTH_MAX, COMBINED_PRINCIPALS_MAX};
pub use setup::MSP_CONFIG_ENTRIES_MAX;
pub use state::{NodeRole, OuIdentifier};

#[cfg(test)]
mod testpki;
#[cfg(test)]
mod tests;

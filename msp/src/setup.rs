//! Building an [`MspState`] from a `FabricMSPConfig`, step by step in Fabric's order (MSP
//! v1.4.3 `preSetupV142` / `postSetupV142`).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use fabric_protos::msp::{FabricMspConfig, FabricOuIdentifier};

use crate::api::MspError;
use crate::cert::Certificate;
use crate::chain::CertPool;
use crate::crl::Crl;
use crate::crypto::HashFamily;
use crate::state::{MspState, NodeOus, NodeRole, OuIdentifier, validation_time};

/// Most certificates of one kind (roots, intermediates, admins, CRLs...) in one MSP config.
pub const MSP_CONFIG_ENTRIES_MAX: usize = 1024;

fn config_err(msg: impl Into<String>) -> MspError {
    MspError::Config(msg.into())
}

fn bounded<'a>(what: &str, items: &'a [Vec<u8>]) -> Result<&'a [Vec<u8>], MspError> {
    if items.len() > MSP_CONFIG_ENTRIES_MAX {
        return Err(config_err(format!(
            "{} {what} exceed the limit of {MSP_CONFIG_ENTRIES_MAX}",
            items.len()
        )));
    }
    Ok(items)
}

fn parse_all(what: &str, items: &[Vec<u8>]) -> Result<Vec<Arc<Certificate>>, MspError> {
    bounded(what, items)?
        .iter()
        .map(|pem| {
            Certificate::from_pem(pem)
                .map(Arc::new)
                .map_err(|e| config_err(format!("bad {what} certificate: {e}")))
        })
        .collect()
}

/// Sets up the verifying part of an X.509 MSP (everything but the signing identity).
pub fn build_state(conf: &FabricMspConfig) -> Result<MspState, MspError> {
    let crypto = conf.crypto_config.clone().unwrap_or_default();
    let mut state = MspState {
        name: conf.name.clone(),
        hash_family: HashFamily::from_config(&crypto.signature_hash_family)?,
        identifier_hash: if crypto.identity_identifier_hash_function.is_empty() {
            "SHA256".into()
        } else {
            crypto.identity_identifier_hash_function
        },
        pool: CertPool::default(),
        internal_nodes: HashSet::new(),
        crls: Vec::new(),
        admins: Vec::new(),
        ou_identifiers: BTreeMap::new(),
        node_ous: NodeOus::default(),
        tls_root_certs: Vec::new(),
        tls_intermediate_certs: Vec::new(),
    };
    setup_cas(&mut state, conf)?;
    state.crls = bounded("CRLs", &conf.revocation_list)?
        .iter()
        .map(|c| Crl::parse(c))
        .collect::<Result<_, _>>()?;
    finalize_cas(&mut state)?;
    setup_tls_cas(&mut state, conf)?;
    setup_ous(&mut state, &conf.organizational_unit_identifiers)?;
    setup_node_ous(&mut state, conf)?;
    setup_admins(&mut state, conf)?;
    check_admins(&state)?;
    Ok(state)
}

fn setup_cas(state: &mut MspState, conf: &FabricMspConfig) -> Result<(), MspError> {
    if conf.root_certs.is_empty() {
        return Err(config_err("expected at least one CA certificate"));
    }
    let roots = parse_all("root CA", &conf.root_certs)?;
    let intermediates = parse_all("intermediate CA", &conf.intermediate_certs)?;
    // Sanitizing needs the chains, which are built from the unsanitized CAs first.
    let mut raw_pool = CertPool::default();
    roots.iter().for_each(|c| raw_pool.add_root(c.clone()));
    intermediates
        .iter()
        .for_each(|c| raw_pool.add_intermediate(c.clone()));
    let mut pool = CertPool::default();
    for root in roots {
        pool.add_root(state.sanitize(&raw_pool, root)?);
    }
    for intermediate in intermediates {
        pool.add_intermediate(state.sanitize(&raw_pool, intermediate)?);
    }
    state.pool = pool;
    Ok(())
}

fn finalize_cas(state: &mut MspState) -> Result<(), MspError> {
    let cas: Vec<_> = state
        .pool
        .roots
        .iter()
        .chain(state.pool.intermediates.iter())
        .cloned()
        .collect();
    for ca in &cas {
        let serial = hex::encode(&ca.serial);
        if !ca.is_ca {
            return Err(config_err(format!(
                "CA Certificate did not have the CA attribute (SN: {serial})"
            )));
        }
        if ca.subject_key_id.is_none() {
            return Err(config_err(format!(
                "CA Certificate problem with Subject Key Identifier extension (SN: {serial})"
            )));
        }
        let chain = state
            .unique_chain(&state.pool, ca)
            .map_err(|e| config_err(format!("CA Certificate is not valid (SN: {serial}): {e}")))?;
        if chain.len() > 1 {
            state.check_revocation(ca, &chain).map_err(|e| {
                config_err(format!("CA Certificate is not valid (SN: {serial}): {e}"))
            })?;
        }
    }
    let mut internal = HashSet::new();
    for intermediate in &state.pool.intermediates {
        let chain = state.unique_chain(&state.pool, intermediate)?;
        internal.extend(chain.iter().skip(1).map(|c| c.der.clone()));
    }
    state.internal_nodes = internal;
    Ok(())
}

fn setup_tls_cas(state: &mut MspState, conf: &FabricMspConfig) -> Result<(), MspError> {
    let roots = parse_all("TLS root CA", &conf.tls_root_certs)?;
    let intermediates = parse_all("TLS intermediate CA", &conf.tls_intermediate_certs)?;
    let mut pool = CertPool::default();
    roots.iter().for_each(|c| pool.add_root(c.clone()));
    intermediates
        .iter()
        .for_each(|c| pool.add_intermediate(c.clone()));
    for ca in roots.iter().chain(intermediates.iter()) {
        let serial = hex::encode(&ca.serial);
        if !ca.is_ca {
            return Err(config_err(format!(
                "TLS CA Certificate did not have the CA attribute (SN: {serial})"
            )));
        }
        if ca.subject_key_id.is_none() {
            return Err(config_err(format!(
                "TLS CA Certificate problem with Subject Key Identifier extension (SN: {serial})"
            )));
        }
        let chains = pool.verify(ca, validation_time(ca)).map_err(|e| {
            config_err(format!(
                "TLS CA Certificate is not valid (SN: {serial}): {e}"
            ))
        })?;
        if chains.len() != 1 {
            return Err(config_err(format!(
                "TLS CA Certificate (SN: {serial}) has {} validation chains, expected one",
                chains.len()
            )));
        }
        if chains[0].len() > 1 {
            state.check_revocation(ca, &chains[0]).map_err(|e| {
                config_err(format!(
                    "TLS CA Certificate is not valid (SN: {serial}): {e}"
                ))
            })?;
        }
    }
    state.tls_root_certs = conf.tls_root_certs.clone();
    state.tls_intermediate_certs = conf.tls_intermediate_certs.clone();
    Ok(())
}

/// Fabric's `getCertifiersIdentifier`: the certificate must be one of this MSP's CAs.
fn certifiers_identifier(state: &MspState, pem: &[u8]) -> Result<Vec<u8>, MspError> {
    let cert = Arc::new(
        Certificate::from_pem(pem)
            .map_err(|e| config_err(format!("failed getting certificate for OU: {e}")))?,
    );
    let cert = state.sanitize(&state.pool, cert)?;
    let chain = if state.pool.roots.iter().any(|r| r.der == cert.der) {
        vec![cert]
    } else if state.pool.intermediates.iter().any(|r| r.der == cert.der) {
        state.validation_chain(&cert, true)?
    } else {
        return Err(config_err(
            "failed adding OU: certificate is not among the MSP's root or intermediate certs",
        ));
    };
    state.chain_identifier(&chain)
}

fn setup_ous(state: &mut MspState, ous: &[FabricOuIdentifier]) -> Result<(), MspError> {
    if ous.len() > MSP_CONFIG_ENTRIES_MAX {
        return Err(config_err("too many OrganizationalUnitIdentifiers"));
    }
    for ou in ous {
        let cid = certifiers_identifier(state, &ou.certificate)?;
        let ids = state
            .ou_identifiers
            .entry(ou.organizational_unit_identifier.clone())
            .or_default();
        if !ids.contains(&cid) {
            ids.push(cid);
        }
    }
    Ok(())
}

fn node_ou(
    state: &MspState,
    ou: &Option<FabricOuIdentifier>,
) -> Result<Option<OuIdentifier>, MspError> {
    let Some(ou) = ou else {
        return Ok(None);
    };
    let certifiers_identifier = if ou.certificate.is_empty() {
        Vec::new()
    } else {
        certifiers_identifier(state, &ou.certificate)?
    };
    Ok(Some(OuIdentifier {
        organizational_unit_identifier: ou.organizational_unit_identifier.clone(),
        certifiers_identifier,
    }))
}

fn setup_node_ous(state: &mut MspState, conf: &FabricMspConfig) -> Result<(), MspError> {
    let Some(n) = conf.fabric_node_ous.as_ref() else {
        return Ok(());
    };
    let node_ous = NodeOus {
        enforced: n.enable,
        client: node_ou(state, &n.client_ou_identifier)?,
        peer: node_ou(state, &n.peer_ou_identifier)?,
        admin: node_ou(state, &n.admin_ou_identifier)?,
        orderer: node_ou(state, &n.orderer_ou_identifier)?,
    };
    let any_defined = node_ous.client.is_some()
        || node_ous.peer.is_some()
        || node_ous.admin.is_some()
        || node_ous.orderer.is_some();
    state.node_ous = NodeOus {
        enforced: node_ous.enforced && any_defined,
        ..node_ous
    };
    Ok(())
}

fn setup_admins(state: &mut MspState, conf: &FabricMspConfig) -> Result<(), MspError> {
    let admins = parse_all("admin", &conf.admins)?;
    state.admins = admins
        .into_iter()
        .map(|a| state.sanitize(&state.pool, a))
        .collect::<Result<_, _>>()?;
    if state.admins.is_empty() && (!state.node_ous.enforced || state.node_ous.admin.is_none()) {
        return Err(config_err(
            "administrators must be declared when no admin OU classification is set: add admincerts or enable NodeOUs with an AdminOUIdentifier",
        ));
    }
    Ok(())
}

fn check_admins(state: &MspState) -> Result<(), MspError> {
    for (i, admin) in state.admins.iter().enumerate() {
        if !state.node_ous.enforced {
            state
                .validate_cert(admin)
                .map_err(|e| config_err(format!("admin {i} is invalid: {e}")))?;
            continue;
        }
        let as_client = state.has_node_role(admin, NodeRole::Client);
        let as_admin = state.has_node_role(admin, NodeRole::Admin);
        if let (Err(e1), Err(e2)) = (as_client, as_admin) {
            return Err(config_err(format!("admin {i} is invalid [{e1}, {e2}]")));
        }
    }
    Ok(())
}

//! The set-up state of one X.509 MSP and the checks that run against it: sanitizing,
//! certification chains, revocation, OU and NodeOU classification (Fabric MSP v1.4.3
//! behaviour, the version every channel with V1_4_3 or V2_0 capabilities uses).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::api::MspError;
use crate::cert::Certificate;
use crate::chain::{self, CertPool};
use crate::crl::Crl;
use crate::crypto::{self, HashFamily};
use crate::der;

/// An OU name and the hash of the certification chain that must issue it (empty: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuIdentifier {
    pub organizational_unit_identifier: String,
    pub certifiers_identifier: Vec<u8>,
}

/// Node roles that NodeOUs can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    Client,
    Peer,
    Admin,
    Orderer,
}

#[derive(Debug, Default)]
pub struct NodeOus {
    pub enforced: bool,
    pub client: Option<OuIdentifier>,
    pub peer: Option<OuIdentifier>,
    pub admin: Option<OuIdentifier>,
    pub orderer: Option<OuIdentifier>,
}

impl NodeOus {
    pub fn for_role(&self, role: NodeRole) -> Option<&OuIdentifier> {
        match role {
            NodeRole::Client => self.client.as_ref(),
            NodeRole::Peer => self.peer.as_ref(),
            NodeRole::Admin => self.admin.as_ref(),
            NodeRole::Orderer => self.orderer.as_ref(),
        }
    }
}

#[derive(Debug)]
pub struct MspState {
    pub name: String,
    pub hash_family: HashFamily,
    pub identifier_hash: String,
    /// Sanitized roots and intermediates.
    pub pool: CertPool,
    /// DER of CAs that issued an intermediate: identities may not hang directly below them.
    pub internal_nodes: HashSet<Vec<u8>>,
    pub crls: Vec<Crl>,
    pub admins: Vec<Arc<Certificate>>,
    pub ou_identifiers: BTreeMap<String, Vec<Vec<u8>>>,
    pub node_ous: NodeOus,
    pub tls_root_certs: Vec<Vec<u8>>,
    pub tls_intermediate_certs: Vec<Vec<u8>>,
}

/// Fabric validates as of NotBefore + 1s so that expiry never changes a past decision.
pub fn validation_time(cert: &Certificate) -> i64 {
    cert.not_before.saturating_add(1)
}

impl MspState {
    pub fn invalid(&self, reason: impl Into<String>) -> MspError {
        MspError::InvalidIdentity {
            msp_id: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// The single certification path of `cert` within `pool` (Fabric supports only one).
    pub fn unique_chain(
        &self,
        pool: &CertPool,
        cert: &Arc<Certificate>,
    ) -> Result<Vec<Arc<Certificate>>, MspError> {
        let mut chains = pool
            .verify(cert, validation_time(cert))
            .map_err(|e| self.invalid(format!("the supplied identity is not valid: {e}")))?;
        if chains.len() != 1 {
            return Err(self.invalid(format!(
                "this MSP only supports a single validation chain, got {}",
                chains.len()
            )));
        }
        let chain = chains.remove(0);
        chain::check_legacy_name_constraints(&chain)
            .map_err(|e| self.invalid(format!("the supplied identity is not valid: {e}")))?;
        Ok(chain)
    }

    /// Rewrites an ECDSA-signed certificate so its signature has low S, as Fabric does
    /// before using any certificate (so identities compare and hash the same everywhere).
    /// The certificate must chain to this MSP (`pool`), which is why unknown CAs already
    /// fail at deserialization.
    pub fn sanitize(
        &self,
        pool: &CertPool,
        cert: Arc<Certificate>,
    ) -> Result<Arc<Certificate>, MspError> {
        if !cert.ecdsa_signed {
            return Ok(cert);
        }
        if cert.is_ca && cert.is_self_signed() {
            let clean = rewrite_low_s(&cert, &cert)?;
            let mut own = CertPool::default();
            own.add_root(clean.clone());
            self.unique_chain(&own, &clean)?;
            return Ok(clean);
        }
        let chain = self.unique_chain(pool, &cert)?;
        let parent = chain.get(1).ok_or_else(|| {
            self.invalid("failed to traverse certificate verification chain for leaf or intermediate certificate")
        })?;
        rewrite_low_s(&cert, parent)
    }

    /// Fabric's `getValidationChain`: a path of at least two certificates whose issuing CA
    /// (or, for an intermediate being checked, the certificate itself) is a leaf of the
    /// certification tree.
    pub fn validation_chain(
        &self,
        cert: &Arc<Certificate>,
        is_intermediate: bool,
    ) -> Result<Vec<Arc<Certificate>>, MspError> {
        let chain = self.unique_chain(&self.pool, cert)?;
        if chain.len() < 2 {
            return Err(self.invalid(format!(
                "expected a chain of length at least 2, got {}",
                chain.len()
            )));
        }
        let parent = if is_intermediate {
            &chain[0]
        } else {
            &chain[1]
        };
        if self.internal_nodes.contains(&parent.der) {
            return Err(self.invalid(
                "invalid validation chain: parent certificate should be a leaf of the certification tree",
            ));
        }
        Ok(chain)
    }

    /// Hash of the concatenated DER of `chain` (Fabric's certifiers identifier).
    pub fn chain_identifier(&self, chain: &[Arc<Certificate>]) -> Result<Vec<u8>, MspError> {
        let concatenated: Vec<u8> = chain.iter().flat_map(|c| c.der.iter().copied()).collect();
        crypto::identifier_digest(&self.identifier_hash, &concatenated)
    }

    /// Fails if a CRL issued by `chain[1]` revokes `cert`.
    pub fn check_revocation(
        &self,
        cert: &Certificate,
        chain: &[Arc<Certificate>],
    ) -> Result<(), MspError> {
        let issuer = chain
            .get(1)
            .ok_or_else(|| self.invalid("certification chain has no issuer"))?;
        if issuer.subject_key_id.is_none() {
            return Err(self.invalid("could not obtain Subject Key Identifier for signer cert"));
        }
        for crl in &self.crls {
            let revoked = crl.revokes(cert, issuer).map_err(|e| match e {
                MspError::InvalidIdentity { reason, .. } => self.invalid(reason),
                other => other,
            })?;
            if revoked {
                return Err(self.invalid("the certificate has been revoked"));
            }
        }
        Ok(())
    }

    /// The identity's OUs, each with the identifier of the chain that certified it; empty
    /// when the chain cannot be built (as Fabric's `GetOrganizationalUnits`).
    pub fn organizational_units(&self, cert: &Arc<Certificate>) -> Vec<OuIdentifier> {
        let Ok(chain) = self.certification_chain(cert) else {
            return Vec::new();
        };
        let Ok(cid) = self.chain_identifier(&chain[1..]) else {
            return Vec::new();
        };
        cert.organizational_units
            .iter()
            .map(|ou| OuIdentifier {
                organizational_unit_identifier: ou.clone(),
                certifiers_identifier: cid.clone(),
            })
            .collect()
    }

    pub fn certification_chain(
        &self,
        cert: &Arc<Certificate>,
    ) -> Result<Vec<Arc<Certificate>>, MspError> {
        if cert.is_ca {
            return Err(self.invalid(
                "an X509 certificate with Basic Constraint: Certificate Authority equals true cannot be used as an identity",
            ));
        }
        self.validation_chain(cert, false)
    }

    /// Full identity validation (Fabric's `validateIdentity`).
    pub fn validate_cert(&self, cert: &Arc<Certificate>) -> Result<(), MspError> {
        let chain = self.certification_chain(cert).map_err(|e| {
            self.invalid(format!(
                "could not obtain certification chain: {}",
                reason(&e)
            ))
        })?;
        self.check_revocation(cert, &chain).map_err(|e| {
            self.invalid(format!(
                "could not validate identity against certification chain: {}",
                reason(&e)
            ))
        })?;
        self.validate_ous(cert)
            .map_err(|e| self.invalid(format!("could not validate identity's OUs: {}", reason(&e))))
    }

    fn validate_ous(&self, cert: &Arc<Certificate>) -> Result<(), MspError> {
        let ous = self.organizational_units(cert);
        if !self.ou_identifiers.is_empty() {
            let found = ous.iter().any(|ou| {
                self.ou_identifiers
                    .get(&ou.organizational_unit_identifier)
                    .is_some_and(|ids| ids.contains(&ou.certifiers_identifier))
            });
            if !found {
                if ous.is_empty() {
                    return Err(self.invalid(
                        "the identity certificate does not contain an Organizational Unit (OU)",
                    ));
                }
                return Err(self.invalid(format!(
                    "none of the identity's organizational units {} are in MSP {}",
                    ou_names(&ous),
                    self.name
                )));
            }
        }
        if !self.node_ous.enforced {
            return Ok(());
        }
        // Later roles win when two roles share an OU name, as Fabric fills its map in this order.
        let mut by_name: BTreeMap<&str, &OuIdentifier> = BTreeMap::new();
        for role in [
            NodeRole::Client,
            NodeRole::Peer,
            NodeRole::Admin,
            NodeRole::Orderer,
        ] {
            if let Some(ou) = self.node_ous.for_role(role) {
                by_name.insert(&ou.organizational_unit_identifier, ou);
            }
        }
        let mut matches = 0;
        for ou in &ous {
            let Some(node_ou) = by_name.get(ou.organizational_unit_identifier.as_str()) else {
                continue;
            };
            if !node_ou.certifiers_identifier.is_empty()
                && node_ou.certifiers_identifier != ou.certifiers_identifier
            {
                return Err(self.invalid(format!(
                    "certifiersIdentifier does not match: {}, MSP: [{}]",
                    ou_names(&ous),
                    self.name
                )));
            }
            matches += 1;
            if matches > 1 {
                break;
            }
        }
        match matches {
            1 => Ok(()),
            0 => Err(self.invalid(format!(
                "the identity does not have an OU that resolves to client, peer, orderer, or admin role. OUs: {}, MSP: [{}]",
                ou_names(&ous),
                self.name
            ))),
            _ => Err(self.invalid(format!(
                "the identity must have a client, a peer, an orderer, or an admin OU role to be valid, not a combination of them. OUs: {}, MSP: [{}]",
                ou_names(&ous),
                self.name
            ))),
        }
    }

    /// Whether the identity carries the OU of `role` (Fabric's `hasOURole`; no certifiers
    /// check, validation must have run before).
    pub fn has_node_role(&self, cert: &Arc<Certificate>, role: NodeRole) -> Result<(), MspError> {
        self.has_node_role_among(&self.organizational_units(cert), role)
    }

    /// [`Self::has_node_role`] for an identity whose OUs ([`Self::organizational_units`]) are
    /// already known: building the certification chain again is what costs.
    pub fn has_node_role_among(
        &self,
        ous: &[OuIdentifier],
        role: NodeRole,
    ) -> Result<(), MspError> {
        if !self.node_ous.enforced {
            return Err(self.invalid("NodeOUs not activated; cannot tell apart identities"));
        }
        let node_ou = self.node_ous.for_role(role).ok_or_else(|| {
            self.invalid(format!(
                "cannot test for classification, node OU for type {role:?} not defined, msp: [{}]",
                self.name
            ))
        })?;
        if ous
            .iter()
            .any(|ou| ou.organizational_unit_identifier == node_ou.organizational_unit_identifier)
        {
            return Ok(());
        }
        Err(self.invalid(format!(
            "the identity does not contain OU [{role:?}], MSP: [{}]",
            self.name
        )))
    }

    pub fn is_admin_cert(&self, cert: &Certificate) -> bool {
        self.admins.iter().any(|a| a.der == cert.der)
    }

    /// The node roles this identity's OUs name (empty without NodeOUs).
    pub fn node_roles_among(&self, ous: &[OuIdentifier]) -> Vec<NodeRole> {
        [
            NodeRole::Client,
            NodeRole::Peer,
            NodeRole::Admin,
            NodeRole::Orderer,
        ]
        .into_iter()
        .filter(|r| self.has_node_role_among(ous, *r).is_ok())
        .collect()
    }
}

fn reason(e: &MspError) -> String {
    match e {
        MspError::InvalidIdentity { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

fn ou_names(ous: &[OuIdentifier]) -> String {
    let names: Vec<String> = ous
        .iter()
        .map(|ou| {
            let prefix: String = ou
                .certifiers_identifier
                .iter()
                .take(8)
                .map(|b| format!("{b:02X}"))
                .collect();
            format!("{}({prefix})", ou.organizational_unit_identifier)
        })
        .collect();
    format!("[{}]", names.join(" "))
}

fn rewrite_low_s(
    cert: &Arc<Certificate>,
    parent: &Certificate,
) -> Result<Arc<Certificate>, MspError> {
    let low = crypto::signature_to_low_s(&parent.public_key, &cert.signature)?;
    if low == cert.signature {
        return Ok(cert.clone());
    }
    let parts = der::split_certificate(&cert.der)
        .ok_or_else(|| MspError::Malformed("certificate: bad structure".into()))?;
    Ok(Arc::new(Certificate::from_der(
        &der::replace_certificate_signature(&parts, &low),
    )?))
}

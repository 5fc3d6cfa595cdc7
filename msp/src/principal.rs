//! Matching identities against MSP principals with Fabric MSP v1.4.3 semantics
//! (`satisfiesPrincipalInternalV142` falling back to the v1.3 and pre-v1.3 rules).

use fabric_protos::common::msp_identity_anonymity::MspIdentityAnonymityType;
use fabric_protos::common::msp_principal::Classification;
use fabric_protos::common::msp_role::MspRoleType;
use fabric_protos::common::{
    CombinedPrincipal, MspIdentityAnonymity, MspPrincipal, MspRole, OrganizationUnit,
};
use prost::Message;

use crate::api::{Identity, MspError};
use crate::identity::X509Identity;
use crate::state::NodeRole;

/// Deepest nesting of COMBINED principals evaluated.
pub const COMBINED_PRINCIPAL_DEPTH_MAX: usize = 16;
/// Most principals a COMBINED principal may expand to.
pub const COMBINED_PRINCIPALS_MAX: usize = 256;

fn mismatch(msg: impl Into<String>) -> MspError {
    MspError::PrincipalMismatch(msg.into())
}

fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M, MspError> {
    M::decode(bytes)
        .map_err(|e| MspError::Malformed(format!("could not unmarshal {what} from principal: {e}")))
}

/// All principals of `principal` must be satisfied (COMBINED is a conjunction).
pub fn satisfies(id: &X509Identity, principal: &MspPrincipal) -> Result<(), MspError> {
    let mut flat = Vec::new();
    collect(principal, 0, &mut flat)?;
    for p in &flat {
        satisfies_one(id, p)?;
    }
    Ok(())
}

fn collect(p: &MspPrincipal, depth: usize, out: &mut Vec<MspPrincipal>) -> Result<(), MspError> {
    if p.principal_classification != Classification::Combined as i32 {
        if out.len() >= COMBINED_PRINCIPALS_MAX {
            return Err(MspError::Malformed(format!(
                "combined principal expands to more than {COMBINED_PRINCIPALS_MAX} principals"
            )));
        }
        out.push(p.clone());
        return Ok(());
    }
    if depth >= COMBINED_PRINCIPAL_DEPTH_MAX {
        return Err(MspError::Malformed(format!(
            "combined principals nested deeper than {COMBINED_PRINCIPAL_DEPTH_MAX}"
        )));
    }
    let combined: CombinedPrincipal = decode(&p.principal, "CombinedPrincipal")?;
    if combined.principals.is_empty() {
        return Err(MspError::Malformed(
            "no principals in CombinedPrincipal".into(),
        ));
    }
    for inner in &combined.principals {
        collect(inner, depth + 1, out)?;
    }
    Ok(())
}

fn check_msp(id: &X509Identity, principal_msp: &str) -> Result<(), MspError> {
    if principal_msp != id.msp.name {
        return Err(mismatch(format!(
            "the identity is a member of a different MSP (expected {principal_msp}, got {})",
            id.msp.name
        )));
    }
    Ok(())
}

fn validated_role(id: &X509Identity, role: NodeRole) -> Result<(), MspError> {
    id.validate()?;
    id.has_node_role(role).map_err(|e| {
        mismatch(format!(
            "the identity is not a {role:?} under MSP {}: {e}",
            id.msp.name
        ))
    })
}

fn satisfies_one(id: &X509Identity, p: &MspPrincipal) -> Result<(), MspError> {
    match Classification::try_from(p.principal_classification) {
        Ok(Classification::Role) => satisfies_role(id, &decode(&p.principal, "MSPRole")?),
        Ok(Classification::Identity) => satisfies_identity(id, &p.principal),
        Ok(Classification::OrganizationUnit) => {
            satisfies_ou(id, &decode(&p.principal, "OrganizationUnit")?)
        }
        Ok(Classification::Anonymity) => {
            let anon: MspIdentityAnonymity = decode(&p.principal, "MSPIdentityAnonymity")?;
            match MspIdentityAnonymityType::try_from(anon.anonymity_type) {
                Ok(MspIdentityAnonymityType::Nominal) => Ok(()),
                Ok(MspIdentityAnonymityType::Anonymous) => Err(mismatch(
                    "principal is anonymous, but X.509 MSP does not support anonymous identities",
                )),
                Err(_) => Err(MspError::Unsupported(format!(
                    "unknown principal anonymity type {}",
                    anon.anonymity_type
                ))),
            }
        }
        Ok(Classification::Combined) => Err(MspError::Malformed(
            "combined principal was not expanded".into(),
        )),
        Err(_) => Err(MspError::Unsupported(format!(
            "invalid principal type {}: expected ROLE, IDENTITY, ORGANIZATION_UNIT, ANONYMITY or COMBINED",
            p.principal_classification
        ))),
    }
}

fn satisfies_role(id: &X509Identity, role: &MspRole) -> Result<(), MspError> {
    check_msp(id, &role.msp_identifier)?;
    let enforced = id.msp.node_ous.enforced;
    match MspRoleType::try_from(role.role) {
        Ok(MspRoleType::Member) => id.validate(),
        Ok(MspRoleType::Admin) => {
            if id.msp.is_admin_cert(id.certificate()) {
                return Ok(());
            }
            if !enforced {
                return Err(mismatch("this identity is not an admin"));
            }
            validated_role(id, NodeRole::Admin)
        }
        Ok(MspRoleType::Client) => validated_role(id, NodeRole::Client),
        Ok(MspRoleType::Peer) => validated_role(id, NodeRole::Peer),
        Ok(MspRoleType::Orderer) if enforced => validated_role(id, NodeRole::Orderer),
        Ok(MspRoleType::Orderer) | Err(_) => Err(MspError::Unsupported(format!(
            "invalid MSP role type {}",
            role.role
        ))),
    }
}

fn satisfies_identity(id: &X509Identity, serialized: &[u8]) -> Result<(), MspError> {
    let other = crate::msp::deserialize_with_state(&id.msp, serialized).map_err(|e| {
        mismatch(format!(
            "invalid identity principal, not a certificate: {e}"
        ))
    })?;
    if other.certificate_der() != id.certificate_der() {
        return Err(mismatch("the identities do not match"));
    }
    other.validate()
}

fn satisfies_ou(id: &X509Identity, ou: &OrganizationUnit) -> Result<(), MspError> {
    check_msp(id, &ou.msp_identifier)?;
    id.validate()?;
    if id.ous().iter().any(|mine| {
        mine.organizational_unit_identifier == ou.organizational_unit_identifier
            && mine.certifiers_identifier == ou.certifiers_identifier
    }) {
        return Ok(());
    }
    Err(mismatch("the identities do not match"))
}

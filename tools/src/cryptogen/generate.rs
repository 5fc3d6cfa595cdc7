//! Writes the crypto-config directory tree, file for file as Fabric's cryptogen lays it out:
//! `<org>/{ca,tlsca}` with the CA certificates and `priv_sk`, the org's verifying `msp/`,
//! one local MSP plus `tls/` per node and per user, NodeOU `config.yaml` when enabled, and
//! `admincerts/` filled only when NodeOUs are off.

use std::fs;
use std::path::{Path, PathBuf};

use super::cert::{
    CertTemplate, ExtKeyUsage, Issuer, KeyPair, Subject, issue_certificate, key_usage, pem_encode,
};
use super::spec::{CryptoConfig, NodeSpec, RenderedNode, RenderedOrg, render_org};
use crate::error::ToolError;

/// The role a local MSP's certificate carries as a NodeOU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    Client,
    Orderer,
    Peer,
    Admin,
}

impl NodeRole {
    fn org_unit(self) -> &'static str {
        match self {
            NodeRole::Client => "client",
            NodeRole::Orderer => "orderer",
            NodeRole::Peer => "peer",
            NodeRole::Admin => "admin",
        }
    }
}

/// A certificate authority created for one organization.
pub struct CertAuthority {
    pub name: String,
    subject: Subject,
    /// Subject fields inherited by every certificate this CA signs.
    leaf_base: Subject,
    key: KeyPair,
    ski: Vec<u8>,
    cert_der: Vec<u8>,
}

impl CertAuthority {
    /// Creates the CA's key and self-signed certificate in `dir`.
    pub fn create(dir: &Path, org: &str, name: &str, spec: &NodeSpec) -> Result<Self, ToolError> {
        mkdir(dir)?;
        let key = KeyPair::generate()?;
        write_key(&dir.join("priv_sk"), &key)?;
        let leaf_base = base_subject(spec);
        let subject = Subject {
            organization: vec![org.to_string()],
            common_name: name.to_string(),
            ..leaf_base.clone()
        };
        let ski = key.subject_key_id()?;
        let issuer = Issuer {
            subject: &subject,
            subject_key_id: &ski,
            key: &key,
        };
        let cert_der = issue_certificate(
            &CertTemplate {
                subject: &subject,
                is_ca: true,
                key_usage: key_usage::DIGITAL_SIGNATURE
                    | key_usage::KEY_ENCIPHERMENT
                    | key_usage::CERT_SIGN
                    | key_usage::CRL_SIGN,
                ext_key_usage: &[ExtKeyUsage::ClientAuth, ExtKeyUsage::ServerAuth],
                subject_key_id: Some(&ski),
                alternate_names: &[],
            },
            &key.public_point()?,
            &issuer,
        )?;
        write_cert(&dir.join(cert_file_name(name)), &cert_der)?;
        Ok(CertAuthority {
            name: name.to_string(),
            subject,
            leaf_base,
            key,
            ski,
            cert_der,
        })
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// Signs a certificate for `public_point` named `common_name`.
    fn sign(
        &self,
        common_name: &str,
        extra_org_units: &[&str],
        sans: &[String],
        public_point: &[u8],
        key_usage: u16,
        ext_key_usage: &[ExtKeyUsage],
    ) -> Result<Vec<u8>, ToolError> {
        let mut subject = self.leaf_base.clone();
        subject.common_name = common_name.to_string();
        subject
            .organizational_unit
            .extend(extra_org_units.iter().map(|s| s.to_string()));
        issue_certificate(
            &CertTemplate {
                subject: &subject,
                is_ca: false,
                key_usage,
                ext_key_usage,
                subject_key_id: None,
                alternate_names: sans,
            },
            public_point,
            &Issuer {
                subject: &self.subject,
                subject_key_id: &self.ski,
                key: &self.key,
            },
        )
    }
}

/// Subject defaults upstream uses, overridden by the CA spec's non-empty fields.
fn base_subject(spec: &NodeSpec) -> Subject {
    let pick = |value: &str, default: &str| -> Vec<String> {
        if !value.is_empty() {
            vec![value.to_string()]
        } else if !default.is_empty() {
            vec![default.to_string()]
        } else {
            Vec::new()
        }
    };
    Subject {
        country: pick(&spec.country, "US"),
        province: pick(&spec.province, "California"),
        locality: pick(&spec.locality, "San Francisco"),
        street_address: pick(&spec.street_address, ""),
        postal_code: pick(&spec.postal_code, ""),
        organization: Vec::new(),
        organizational_unit: pick(&spec.organizational_unit, ""),
        common_name: String::new(),
    }
}

pub fn cert_file_name(name: &str) -> String {
    format!("{name}-cert.pem")
}

fn mkdir(dir: &Path) -> Result<(), ToolError> {
    fs::create_dir_all(dir).map_err(|e| ToolError::write(dir, e))
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), ToolError> {
    fs::write(path, contents).map_err(|e| ToolError::write(path, e))
}

fn write_cert(path: &Path, der: &[u8]) -> Result<(), ToolError> {
    write_file(path, pem_encode("CERTIFICATE", der).as_bytes())
}

fn write_key(path: &Path, key: &KeyPair) -> Result<(), ToolError> {
    write_file(path, key.to_pkcs8_pem()?.as_bytes())?;
    restrict_to_owner(path)
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> Result<(), ToolError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(|e| ToolError::write(path, e))
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) -> Result<(), ToolError> {
    Ok(())
}

/// The NodeOUs section of an MSP `config.yaml`, all four OUs pointing at the sign CA cert.
pub fn node_ou_config_yaml(ca_cert_rel_path: &str) -> String {
    let mut out = String::from("NodeOUs:\n  Enable: true\n");
    for (key, ou) in [
        ("ClientOUIdentifier", "client"),
        ("PeerOUIdentifier", "peer"),
        ("AdminOUIdentifier", "admin"),
        ("OrdererOUIdentifier", "orderer"),
    ] {
        out.push_str(&format!(
            "  {key}:\n    Certificate: {ca_cert_rel_path}\n    OrganizationalUnitIdentifier: {ou}\n"
        ));
    }
    out
}

/// Common MSP folders; `local` MSPs also get keystore/ and signcerts/.
fn msp_folders(msp_dir: &Path, local: bool) -> Result<(), ToolError> {
    let mut names = vec!["admincerts", "cacerts", "tlscacerts"];
    if local {
        names.extend(["keystore", "signcerts"]);
    }
    for name in names {
        mkdir(&msp_dir.join(name))?;
    }
    Ok(())
}

/// The organization-level MSP used to verify members (no private keys).
pub fn write_verifying_msp(
    msp_dir: &Path,
    sign_ca: &CertAuthority,
    tls_ca: &CertAuthority,
    node_ous: bool,
) -> Result<(), ToolError> {
    msp_folders(msp_dir, false)?;
    let ca_file = cert_file_name(&sign_ca.name);
    write_cert(&msp_dir.join("cacerts").join(&ca_file), sign_ca.cert_der())?;
    write_cert(
        &msp_dir
            .join("tlscacerts")
            .join(cert_file_name(&tls_ca.name)),
        tls_ca.cert_der(),
    )?;
    if node_ous {
        write_file(
            &msp_dir.join("config.yaml"),
            node_ou_config_yaml(&format!("cacerts/{ca_file}")).as_bytes(),
        )?;
    }
    Ok(())
}

/// A node's or user's own MSP and TLS material under `base_dir/{msp,tls}`.
pub fn write_local_msp(
    base_dir: &Path,
    node: &RenderedNode,
    sign_ca: &CertAuthority,
    tls_ca: &CertAuthority,
    role: NodeRole,
    node_ous: bool,
) -> Result<(), ToolError> {
    let msp_dir = base_dir.join("msp");
    let tls_dir = base_dir.join("tls");
    msp_folders(&msp_dir, true)?;
    mkdir(&tls_dir)?;
    let name = &node.common_name;

    let key = KeyPair::generate()?;
    write_key(&msp_dir.join("keystore").join("priv_sk"), &key)?;
    let node_ou = [role.org_unit()];
    let ous: &[&str] = if node_ous { &node_ou } else { &[] };
    let sign_cert = sign_ca.sign(
        name,
        ous,
        &[],
        &key.public_point()?,
        key_usage::DIGITAL_SIGNATURE,
        &[],
    )?;
    write_cert(
        &msp_dir.join("signcerts").join(cert_file_name(name)),
        &sign_cert,
    )?;
    // The CA certificates and NodeOU config are those of the org's verifying MSP.
    write_verifying_msp(&msp_dir, sign_ca, tls_ca, node_ous)?;
    if !node_ous {
        write_cert(
            &msp_dir.join("admincerts").join(cert_file_name(name)),
            &sign_cert,
        )?;
    }

    let tls_key = KeyPair::generate()?;
    let tls_cert = tls_ca.sign(
        name,
        &[],
        &node.sans,
        &tls_key.public_point()?,
        key_usage::DIGITAL_SIGNATURE | key_usage::KEY_ENCIPHERMENT,
        &[ExtKeyUsage::ServerAuth, ExtKeyUsage::ClientAuth],
    )?;
    let prefix = match role {
        NodeRole::Client | NodeRole::Admin => "client",
        NodeRole::Orderer | NodeRole::Peer => "server",
    };
    write_cert(&tls_dir.join("ca.crt"), tls_ca.cert_der())?;
    write_cert(&tls_dir.join(format!("{prefix}.crt")), &tls_cert)?;
    write_key(&tls_dir.join(format!("{prefix}.key")), &tls_key)
}

/// Which kind of organization is being generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    Peer,
    Orderer,
}

/// Generates every organization of `config` under `output`. Peer organizations' domains are
/// reported through `progress`, as upstream prints them.
pub fn generate(
    config: &CryptoConfig,
    output: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), ToolError> {
    for org in &config.peer_orgs {
        let rendered = render_org(org, "peer")?;
        progress(&org.domain);
        generate_org(output, &rendered, OrgKind::Peer)?;
    }
    for org in &config.orderer_orgs {
        let rendered = render_org(org, "orderer")?;
        generate_org(output, &rendered, OrgKind::Orderer)?;
    }
    Ok(())
}

fn user_node(common_name: String) -> RenderedNode {
    RenderedNode {
        hostname: String::new(),
        common_name,
        sans: Vec::new(),
    }
}

/// One organization: CAs, verifying MSP, nodes, users (`User1..N` for peer orgs) and Admin.
pub fn generate_org(output: &Path, org: &RenderedOrg, kind: OrgKind) -> Result<(), ToolError> {
    let domain = &org.spec.domain;
    if domain.is_empty() || domain.contains('/') || domain.contains("..") {
        return Err(ToolError::Config(format!(
            "organization {:?} needs a Domain that is a plain DNS name, got {domain:?}",
            org.spec.name
        )));
    }
    let node_ous = org.spec.enable_node_ous;
    let (kind_dir, nodes_dir_name, node_role) = match kind {
        OrgKind::Peer => ("peerOrganizations", "peers", NodeRole::Peer),
        OrgKind::Orderer => ("ordererOrganizations", "orderers", NodeRole::Orderer),
    };
    let org_dir = output.join(kind_dir).join(domain);
    let ca_name = &org.ca.common_name;
    let sign_ca = CertAuthority::create(&org_dir.join("ca"), domain, ca_name, &org.spec.ca)?;
    let tls_ca = CertAuthority::create(
        &org_dir.join("tlsca"),
        domain,
        &format!("tls{ca_name}"),
        &org.spec.ca,
    )?;
    write_verifying_msp(&org_dir.join("msp"), &sign_ca, &tls_ca, node_ous)?;

    let nodes_dir = org_dir.join(nodes_dir_name);
    for node in &org.nodes {
        let dir = safe_child(&nodes_dir, &node.common_name)?;
        if !dir.exists() {
            write_local_msp(&dir, node, &sign_ca, &tls_ca, node_role, node_ous)?;
        }
    }

    let users_dir = org_dir.join("users");
    let mut users = Vec::new();
    if kind == OrgKind::Peer {
        for i in 1..=org.spec.users.count {
            users.push((user_node(format!("User{i}@{domain}")), NodeRole::Client));
        }
    }
    let admin_name = format!("Admin@{domain}");
    let admin_role = if node_ous {
        NodeRole::Admin
    } else {
        NodeRole::Client
    };
    users.push((user_node(admin_name.clone()), admin_role));
    for (user, role) in &users {
        let dir = safe_child(&users_dir, &user.common_name)?;
        if !dir.exists() {
            write_local_msp(&dir, user, &sign_ca, &tls_ca, *role, node_ous)?;
        }
    }

    if !node_ous {
        let admin_cert = users_dir
            .join(&admin_name)
            .join("msp/signcerts")
            .join(cert_file_name(&admin_name));
        let mut targets = vec![org_dir.join("msp/admincerts")];
        for node in &org.nodes {
            targets.push(nodes_dir.join(&node.common_name).join("msp/admincerts"));
        }
        for target in targets {
            replace_admin_certs(&admin_cert, &target, &admin_name)?;
        }
    }
    Ok(())
}

/// Empties `admincerts` and puts the org admin's certificate in it (unless already there).
fn replace_admin_certs(admin_cert: &Path, dir: &Path, admin_name: &str) -> Result<(), ToolError> {
    let dest = dir.join(cert_file_name(admin_name));
    if dest.exists() {
        return Ok(());
    }
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| ToolError::write(dir, e))?;
    }
    mkdir(dir)?;
    fs::copy(admin_cert, &dest).map_err(|e| ToolError::write(&dest, e))?;
    Ok(())
}

/// `parent/name`, refusing names that would escape `parent`.
fn safe_child(parent: &Path, name: &str) -> Result<PathBuf, ToolError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(ToolError::Config(format!(
            "node name {name:?} cannot be used as a directory name"
        )));
    }
    Ok(parent.join(name))
}

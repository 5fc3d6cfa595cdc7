//! Certificate path building as Go's `x509.Certificate.Verify` does it for Fabric's MSP:
//! parents are found by subject name among the MSP's roots and intermediates, every
//! certificate in the path must be within its validity period at the given time, intermediates
//! must be CAs, path-length limits hold, and (since Fabric passes no key usages, which Go reads
//! as server authentication) every certificate's EKU, if present, must allow server auth.

use std::sync::Arc;

use crate::cert::Certificate;

/// Signature checks spent on one path search before giving up (Go's limit).
pub const CHAIN_SIGNATURE_CHECKS_MAX: usize = 100;
/// Longest certification path considered, leaf and root included.
pub const CHAIN_LENGTH_MAX: usize = 16;

/// Trust anchors and intermediates of one MSP.
#[derive(Debug, Default, Clone)]
pub struct CertPool {
    pub roots: Vec<Arc<Certificate>>,
    pub intermediates: Vec<Arc<Certificate>>,
}

impl CertPool {
    pub fn add_root(&mut self, cert: Arc<Certificate>) {
        if !self.roots.iter().any(|c| c.der == cert.der) {
            self.roots.push(cert);
        }
    }

    pub fn add_intermediate(&mut self, cert: Arc<Certificate>) {
        if !self.intermediates.iter().any(|c| c.der == cert.der) {
            self.intermediates.push(cert);
        }
    }

    /// All certification paths from `leaf` to a root at `unix_time`; leaf first.
    pub fn verify(
        &self,
        leaf: &Arc<Certificate>,
        unix_time: i64,
    ) -> Result<Vec<Vec<Arc<Certificate>>>, String> {
        if !leaf.is_current_at(unix_time) {
            return Err("x509: certificate has expired or is not yet valid".into());
        }
        if leaf.unhandled_critical_extension {
            return Err("x509: unhandled critical extension".into());
        }
        let chains = if self.roots.iter().any(|r| r.der == leaf.der) {
            vec![vec![leaf.clone()]]
        } else {
            let mut search = Search {
                pool: self,
                time: unix_time,
                checks: 0,
                chains: Vec::new(),
                last_error: None,
            };
            search.extend(&mut vec![leaf.clone()]);
            if search.chains.is_empty() {
                return Err(search.last_error.unwrap_or_else(|| {
                    "x509: certificate signed by unknown authority".to_string()
                }));
            }
            search.chains
        };
        let usable: Vec<_> = chains
            .into_iter()
            .filter(|chain| chain.iter().all(|c| c.eku_allows_server_auth))
            .collect();
        if usable.is_empty() {
            return Err("x509: certificate specifies an incompatible key usage".into());
        }
        Ok(usable)
    }
}

struct Search<'a> {
    pool: &'a CertPool,
    time: i64,
    checks: usize,
    chains: Vec<Vec<Arc<Certificate>>>,
    last_error: Option<String>,
}

impl Search<'_> {
    fn extend(&mut self, chain: &mut Vec<Arc<Certificate>>) {
        let Some(current) = chain.last().cloned() else {
            return;
        };
        if chain.len() >= CHAIN_LENGTH_MAX {
            self.last_error = Some("x509: certification path too long".into());
            return;
        }
        let pool = self.pool;
        let candidates = pool
            .roots
            .iter()
            .map(|c| (c, true))
            .chain(pool.intermediates.iter().map(|c| (c, false)));
        for (candidate, is_root) in candidates {
            if candidate.subject != current.issuer {
                continue;
            }
            if chain
                .iter()
                .any(|c| c.subject == candidate.subject && c.spki == candidate.spki)
            {
                continue;
            }
            if self.checks >= CHAIN_SIGNATURE_CHECKS_MAX {
                self.last_error = Some("x509: signature check attempts limit reached".into());
                return;
            }
            self.checks += 1;
            if !current.is_signed_by(candidate) {
                self.last_error = Some("x509: certificate signed by unknown authority (possibly because of a signature mismatch)".into());
                continue;
            }
            if let Err(e) = self.check_parent(candidate, is_root, chain) {
                self.last_error = Some(e);
                continue;
            }
            chain.push(candidate.clone());
            if is_root {
                self.chains.push(chain.clone());
            } else {
                self.extend(chain);
            }
            chain.pop();
        }
    }

    fn check_parent(
        &self,
        parent: &Certificate,
        is_root: bool,
        chain: &[Arc<Certificate>],
    ) -> Result<(), String> {
        if !parent.is_current_at(self.time) {
            return Err("x509: certificate has expired or is not yet valid".into());
        }
        if !is_root && (!parent.basic_constraints_valid || !parent.is_ca) {
            return Err("x509: certificate is not authorized to sign other certificates".into());
        }
        if let Some(max) = parent.max_path_len
            && parent.basic_constraints_valid
            && chain.len() - 1 > max as usize
        {
            return Err("x509: too many intermediates for path length constraint".into());
        }
        Ok(())
    }
}

/// Fabric's extra check carried over from Go 1.14: a leaf without SANs whose common name
/// looks like a host name may not chain to a CA with name constraints.
pub fn check_legacy_name_constraints(chain: &[Arc<Certificate>]) -> Result<(), String> {
    let Some((leaf, parents)) = chain.split_first() else {
        return Ok(());
    };
    if parents.is_empty() || leaf.has_subject_alt_name || !is_hostname_like(&leaf.common_name) {
        return Ok(());
    }
    if parents.iter().any(|c| c.has_name_constraints) {
        return Err(
            "x509: certificate relies on legacy Common Name field, use SANs instead".into(),
        );
    }
    Ok(())
}

fn is_hostname_like(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return false;
    }
    host.split('.').enumerate().all(|(i, label)| {
        !label.is_empty()
            && (i == 0 && label == "*"
                || label.char_indices().all(|(j, c)| {
                    c.is_ascii_alphanumeric() || (c == '-' && j != 0) || c == '_' || c == ':'
                }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_heuristic_matches_go() {
        assert!(is_hostname_like("peer0.org1.example.com"));
        assert!(is_hostname_like("*.example.com"));
        assert!(!is_hostname_like("Admin@org1.example.com"));
        assert!(!is_hostname_like("a..b"));
        assert!(!is_hostname_like("-x"));
        assert!(!is_hostname_like(""));
    }
}

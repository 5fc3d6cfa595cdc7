//! OpenSSL contexts for the server and the client.
//!
//! Both sides speak TLS 1.2 or 1.3, offer ALPN `h2` (grpc-go checks it since 1.67), and
//! for TLS 1.2 restrict themselves to Fabric's `DefaultTLSCipherSuites` (ECDHE and RSA key
//! exchange with AES-GCM). CA bundles are loaded with `X509_V_FLAG_PARTIAL_CHAIN`, so an
//! intermediate CA listed as a root is a trust anchor on its own, as in Go's `CertPool`
//! (Fabric puts TLS intermediate CAs into the client and server root sets).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use openssl::pkey::{PKey, Private};
use openssl::sha::Sha256;
use openssl::ssl::{
    AlpnError, SslAcceptor, SslConnector, SslMethod, SslOptions, SslVerifyMode, SslVersion,
    select_next_proto,
};
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509, X509Name};

use crate::config::{ClientTlsConfig, ServerTlsConfig};
use crate::error::CommError;

/// Fabric's `DefaultTLSCipherSuites`, in OpenSSL's names (TLS 1.2 only; TLS 1.3 suites
/// are not configurable in Go and keep OpenSSL's defaults).
const TLS12_CIPHER_LIST: &str = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:AES128-GCM-SHA256:AES256-GCM-SHA384";

/// ALPN protocol list in wire form: HTTP/2 only.
const ALPN_H2: &[u8] = b"\x02h2";

/// The parsed server identity, kept to rebuild the acceptor when client roots change.
#[derive(Clone)]
pub(crate) struct ServerIdentity {
    cert: X509,
    chain: Vec<X509>,
    key: PKey<Private>,
}

impl ServerIdentity {
    pub(crate) fn from_config(config: &ServerTlsConfig) -> Result<Self, CommError> {
        let mut certs = parse_certs(&config.cert_pem, "server certificate")?.into_iter();
        let cert = certs.next().ok_or(CommError::NoCertificate {
            what: "server certificate",
        })?;
        let key = PKey::private_key_from_pem(&config.key_pem).map_err(|source| {
            CommError::InvalidPem {
                what: "server private key",
                source,
            }
        })?;
        Ok(Self {
            cert,
            chain: certs.collect(),
            key,
        })
    }
}

/// Parses every certificate of a PEM bundle.
pub(crate) fn parse_certs(pem: &[u8], what: &'static str) -> Result<Vec<X509>, CommError> {
    let certs =
        X509::stack_from_pem(pem).map_err(|source| CommError::InvalidPem { what, source })?;
    if certs.is_empty() {
        return Err(CommError::NoCertificate { what });
    }
    Ok(certs)
}

/// Parses PEM bundles into a list of trust anchors.
pub(crate) fn parse_roots(bundles: &[Vec<u8>], what: &'static str) -> Result<Vec<X509>, CommError> {
    let mut roots = Vec::new();
    for bundle in bundles {
        roots.extend(parse_certs(bundle, what)?);
    }
    Ok(roots)
}

fn trust_store(roots: &[X509]) -> Result<X509Store, CommError> {
    let mut store = X509StoreBuilder::new()?;
    store.set_flags(X509VerifyFlags::PARTIAL_CHAIN)?;
    for root in roots {
        // The same CA may appear in several organizations' bundles.
        if let Err(err) = store.add_cert(root.clone()) {
            tracing::debug!(%err, "client root CA not added (likely a duplicate)");
        }
    }
    Ok(store.build())
}

/// Builds the server context for the given client roots.
///
/// Without required client auth the server asks for a certificate and accepts whatever
/// comes (Go's `tls.RequestClientCert`); with it, a certificate chaining to `client_roots`
/// is mandatory (Go's `tls.RequireAndVerifyClientCert`).
pub(crate) fn build_acceptor(
    identity: &ServerIdentity,
    client_auth_required: bool,
    client_roots: &[X509],
) -> Result<SslAcceptor, CommError> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    builder.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    builder.set_cipher_list(TLS12_CIPHER_LIST)?;
    // Go's comm server disables session tickets.
    builder.set_options(SslOptions::NO_TICKET);
    builder.set_certificate(&identity.cert)?;
    for intermediate in &identity.chain {
        builder.add_extra_chain_cert(intermediate.clone())?;
    }
    builder.set_private_key(&identity.key)?;
    builder.check_private_key()?;
    builder.set_alpn_select_callback(|_, client_protos| {
        select_next_proto(ALPN_H2, client_protos).ok_or(AlpnError::NOACK)
    });
    if client_auth_required {
        builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        builder.set_cert_store(trust_store(client_roots)?);
        let mut names = Stack::<X509Name>::new()?;
        for root in client_roots {
            names.push(root.subject_name().to_owned()?)?;
        }
        builder.set_client_ca_list(names);
    } else {
        builder.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
    }
    Ok(builder.build())
}

/// Client contexts kept for reuse; past this many distinct TLS configurations the cache
/// starts over.
pub const CONNECTOR_CACHE_MAX: usize = 64;

/// Built client contexts by a digest of the configuration they were built from.
/// `SslConnector::builder` loads the system CA bundle (then replaced by the configured roots),
/// which costs milliseconds of CPU; a peer redialling orderers for thousands of channels would
/// spend most of its time there without this cache.
static CONNECTORS: Mutex<Option<HashMap<[u8; 32], SslConnector>>> = Mutex::new(None);

/// The client context for `config`, built once per distinct configuration.
pub(crate) fn build_connector(config: &ClientTlsConfig) -> Result<SslConnector, CommError> {
    let key = connector_key(config);
    let cached = CONNECTORS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|cache| cache.get(&key).cloned());
    if let Some(connector) = cached {
        return Ok(connector);
    }
    let connector = build_connector_uncached(config)?;
    let mut cache = CONNECTORS.lock().unwrap_or_else(PoisonError::into_inner);
    let cache = cache.get_or_insert_with(HashMap::new);
    if cache.len() >= CONNECTOR_CACHE_MAX {
        cache.clear();
    }
    cache.insert(key, connector.clone());
    Ok(connector)
}

/// Digest of everything a client context is built from (each field length-prefixed).
fn connector_key(config: &ClientTlsConfig) -> [u8; 32] {
    let mut digest = Sha256::new();
    let mut field = |bytes: Option<&[u8]>| match bytes {
        Some(bytes) => {
            digest.update(&[1]);
            digest.update(&(bytes.len() as u64).to_be_bytes());
            digest.update(bytes);
        }
        None => digest.update(&[0]),
    };
    field(Some(
        &(config.server_root_cas_pem.len() as u64).to_be_bytes(),
    ));
    for bundle in &config.server_root_cas_pem {
        field(Some(bundle));
    }
    field(config.client_cert_pem.as_deref());
    field(config.client_key_pem.as_deref());
    digest.finish()
}

fn build_connector_uncached(config: &ClientTlsConfig) -> Result<SslConnector, CommError> {
    let mut builder = SslConnector::builder(SslMethod::tls_client())?;
    builder.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    builder.set_cipher_list(TLS12_CIPHER_LIST)?;
    builder.set_alpn_protos(ALPN_H2)?;
    let roots = parse_roots(&config.server_root_cas_pem, "server root CA")?;
    builder.set_cert_store(trust_store(&roots)?);
    match (&config.client_cert_pem, &config.client_key_pem) {
        (Some(cert_pem), Some(key_pem)) => {
            let mut certs = parse_certs(cert_pem, "client certificate")?.into_iter();
            let cert = certs.next().ok_or(CommError::NoCertificate {
                what: "client certificate",
            })?;
            builder.set_certificate(&cert)?;
            for intermediate in certs {
                builder.add_extra_chain_cert(intermediate)?;
            }
            let key =
                PKey::private_key_from_pem(key_pem).map_err(|source| CommError::InvalidPem {
                    what: "client private key",
                    source,
                })?;
            builder.set_private_key(&key)?;
            builder.check_private_key()?;
        }
        (None, None) => {}
        _ => return Err(CommError::IncompleteClientIdentity),
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::x509::X509Builder;

    fn self_signed_pem(common_name: &str) -> Vec<u8> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", common_name).unwrap();
        let name = name.build();
        let mut cert = X509Builder::new().unwrap();
        cert.set_version(2).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        cert.build().to_pem().unwrap()
    }

    fn roots(pem: &[u8]) -> ClientTlsConfig {
        ClientTlsConfig {
            server_root_cas_pem: vec![pem.to_vec()],
            client_cert_pem: None,
            client_key_pem: None,
            server_name_override: None,
        }
    }

    #[test]
    fn client_contexts_are_reused_per_configuration_only() {
        let a = roots(&self_signed_pem("ca-a"));
        let b = roots(&self_signed_pem("ca-b"));
        let first = build_connector(&a).unwrap();
        let again = build_connector(&a).unwrap();
        let other = build_connector(&b).unwrap();
        assert!(std::ptr::eq(first.context(), again.context()));
        assert!(!std::ptr::eq(first.context(), other.context()));
        assert_ne!(connector_key(&a), connector_key(&b));
        // Moving a root into the client certificate slot is another configuration.
        let moved = ClientTlsConfig {
            server_root_cas_pem: Vec::new(),
            client_cert_pem: a.server_root_cas_pem.first().cloned(),
            ..b.clone()
        };
        assert_ne!(connector_key(&a), connector_key(&moved));
    }
}

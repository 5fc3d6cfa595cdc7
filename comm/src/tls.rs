//! OpenSSL contexts for the server and the client.
//!
//! Both sides speak TLS 1.2 or 1.3, offer ALPN `h2` (grpc-go checks it since 1.67), and
//! for TLS 1.2 restrict themselves to Fabric's `DefaultTLSCipherSuites` (ECDHE and RSA key
//! exchange with AES-GCM). CA bundles are loaded with `X509_V_FLAG_PARTIAL_CHAIN`, so an
//! intermediate CA listed as a root is a trust anchor on its own, as in Go's `CertPool`
//! (Fabric puts TLS intermediate CAs into the client and server root sets).

use openssl::pkey::{PKey, Private};
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

/// Builds the client context.
pub(crate) fn build_connector(config: &ClientTlsConfig) -> Result<SslConnector, CommError> {
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

//! gRPC and TLS plumbing shared by the peer and the orderer (Fabric v2.5
//! `internal/pkg/comm`).
//!
//! - [`GrpcServer`]: binds an address, does TLS, and serves a tonic router with Fabric's
//!   keepalive policy, bounded streams and connections, and graceful shutdown. Handlers
//!   read the caller's TLS certificate from [`PeerInfo`]; client root CAs are replaced at
//!   runtime through [`ClientRootsHandle`].
//! - [`connect`] / [`connect_lazy`]: a tonic `Channel` with Fabric's client settings.
//! - [`MessageLimits`]: 100 MiB message limits for every generated Fabric service and
//!   client (tonic keeps limits per service).
//! - Helpers: [`tls_cert_hash`], certificate expiry checks, status helpers.
//!
//! # Why OpenSSL rather than rustls
//!
//! Fabric needs four things from the TLS stack, and OpenSSL (through `tokio-openssl` and
//! tonic's `serve_with_incoming`) gives each with a line or two of configuration:
//!
//! 1. *Request but do not verify* a client certificate when mutual TLS is off (Go's
//!    `tls.RequestClientCert`): a verify callback that accepts everything. tonic's rustls
//!    configuration can only make client auth optional-but-verified; anything else takes a
//!    hand-written `ClientCertVerifier` from rustls' "dangerous" API.
//! 2. *Client roots replaced at runtime*: each connection is accepted with the current
//!    `SslAcceptor`, which is rebuilt when the roots change. With tonic's `ServerTlsConfig`
//!    the roots are fixed when the server starts.
//! 3. *Fabric's certificates*: cryptogen's ECDSA P-256/P-384 certificates, intermediate
//!    CAs used as trust anchors (`X509_V_FLAG_PARTIAL_CHAIN`, like Go's `CertPool`), and
//!    the SEC1/PKCS#8 keys Fabric writes all load as they are; webpki is stricter than Go
//!    about some certificate shapes.
//! 4. *The peer certificate in handlers*: our connection type implements tonic's
//!    `Connected` and carries the DER certificate into every request's extensions.
//!
//! OpenSSL is already a dependency of the MSP, so no second crypto stack is linked.

mod client;
mod config;
mod error;
mod limits;
mod server;
mod tls;
mod util;

pub use client::{connect, connect_lazy};
pub use config::{
    ClientConfig, ClientKeepalive, ClientTlsConfig, DEFAULT_CLIENT_KEEPALIVE_INTERVAL,
    DEFAULT_CLIENT_KEEPALIVE_TIMEOUT, DEFAULT_CONNECTION_TIMEOUT, DEFAULT_DIAL_TIMEOUT,
    DEFAULT_MAX_RECV_MSG_SIZE_BYTES, DEFAULT_MAX_SEND_MSG_SIZE_BYTES,
    DEFAULT_SERVER_KEEPALIVE_INTERVAL, DEFAULT_SERVER_KEEPALIVE_TIMEOUT,
    DEFAULT_SERVER_MIN_CLIENT_PING_INTERVAL, MAX_CONCURRENT_STREAMS_PER_CONNECTION,
    MAX_CONNECTIONS, MAX_PEM_FILE_BYTES, MAX_PENDING_HANDSHAKES, MessageSizeLimits, ServerConfig,
    ServerKeepalive, ServerTlsConfig,
};
pub use error::CommError;
pub use limits::MessageLimits;
pub use server::{ClientRootsHandle, GrpcServer, PeerInfo};
pub use util::{
    cert_expires_at_der, cert_expires_at_pem, check_cert_not_expired, check_identity_not_expired,
    identity_expires_at, is_message_too_large, status_from_error, tls_cert_hash,
};

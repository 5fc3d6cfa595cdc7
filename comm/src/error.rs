//! Errors of the comm crate.

use std::path::PathBuf;
use std::time::SystemTime;

/// What went wrong while setting up or using gRPC connections.
#[derive(Debug, thiserror::Error)]
pub enum CommError {
    /// A certificate, key or CA file could not be read.
    #[error("cannot read {path}: {source}; check the TLS file paths in the node's configuration")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file is implausibly large.
    #[error("{path} is {size_bytes} bytes, more than the {max_bytes} accepted for a PEM file")]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size_bytes: u64,
        /// The bound.
        max_bytes: u64,
    },
    /// A certificate or key in PEM form could not be parsed or used.
    #[error("invalid {what}: {source}; it must be PEM-encoded (ECDSA P-256/P-384, Ed25519 or RSA)")]
    InvalidPem {
        /// Which material ("server certificate", "client root CA", ...).
        what: &'static str,
        /// OpenSSL's reason.
        source: openssl::error::ErrorStack,
    },
    /// A PEM bundle contained no certificate.
    #[error("{what} contains no PEM certificate")]
    NoCertificate {
        /// Which material.
        what: &'static str,
    },
    /// A client certificate was given without a key, or the other way round.
    #[error("client TLS certificate and key must be given together")]
    IncompleteClientIdentity,
    /// OpenSSL refused to build a TLS context.
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] openssl::error::ErrorStack),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}; is another process using the port?")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The address to dial is not `host:port`.
    #[error("invalid address {address:?}: {reason}; use host:port")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// Why it was refused.
        reason: String,
    },
    /// The connection to a server could not be established.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// The address.
        address: String,
        /// tonic's reason (refused, timed out, TLS failure, ...).
        source: tonic::transport::Error,
    },
    /// The server stopped with an error.
    #[error("gRPC server failed: {0}")]
    Serve(#[source] tonic::transport::Error),
    /// A certificate's NotAfter has passed.
    #[error("certificate expired at {not_after:?}; renew it")]
    CertificateExpired {
        /// The certificate's NotAfter.
        not_after: SystemTime,
    },
}

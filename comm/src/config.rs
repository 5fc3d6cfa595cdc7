//! Settings for the gRPC server and client, with Fabric's defaults.
//!
//! The defaults mirror Fabric v2.5 `internal/pkg/comm/config.go` and the
//! `peer.keepalive` / `general.keepalive` sections of core.yaml and orderer.yaml.

use std::path::Path;
use std::time::Duration;

use crate::error::CommError;

/// Largest gRPC message a server or client accepts (Fabric: `DefaultMaxRecvMsgSize`, 100 MiB).
/// tonic's own default of 4 MiB is too small for Fabric blocks.
pub const DEFAULT_MAX_RECV_MSG_SIZE_BYTES: usize = 100 * 1024 * 1024;
/// Largest gRPC message a server or client sends (Fabric: `DefaultMaxSendMsgSize`, 100 MiB).
pub const DEFAULT_MAX_SEND_MSG_SIZE_BYTES: usize = 100 * 1024 * 1024;

/// How long a client waits for the TCP connection and TLS handshake
/// (Fabric: core.yaml `peer.client.connTimeout`, the comm client's `DialTimeout`).
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the server gives a new connection to finish its TLS handshake
/// (Fabric: `DefaultConnectionTimeout`, passed to grpc-go's `ConnectionTimeout`).
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle time after which the client pings the server (Fabric: `ClientInterval`, 1 min).
pub const DEFAULT_CLIENT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
/// How long the client waits for a ping answer (Fabric: `ClientTimeout`, 20 s).
pub const DEFAULT_CLIENT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Idle time after which the server pings the client (Fabric: `ServerInterval`, 2 h).
pub const DEFAULT_SERVER_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2 * 60 * 60);
/// How long the server waits for a ping answer (Fabric: `ServerTimeout`, 20 s).
pub const DEFAULT_SERVER_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Fastest client ping rate Fabric's server tolerates, with pings allowed on idle
/// connections (Fabric: `ServerMinInterval`, 1 min, `PermitWithoutStream: true`).
///
/// hyper's HTTP/2 server answers every ping and never sends `too_many_pings`, so Weft is
/// at least as permissive as Go: a client configured for Go's policy is never cut off.
pub const DEFAULT_SERVER_MIN_CLIENT_PING_INTERVAL: Duration = Duration::from_secs(60);

/// HTTP/2 streams one connection may have open at once. grpc-go leaves this unbounded;
/// Weft bounds it well above what a Fabric peer or orderer opens (a few Deliver, Broadcast
/// and cluster streams per connection).
pub const MAX_CONCURRENT_STREAMS_PER_CONNECTION: u32 = 1024;
/// Connections (TLS or plain) the server keeps open at once; further connections wait in
/// the kernel's accept backlog until one closes.
pub const MAX_CONNECTIONS: usize = 4096;
/// TLS handshakes that may be in progress at once; each is also bounded by the
/// connection timeout.
pub const MAX_PENDING_HANDSHAKES: usize = 256;

/// HTTP/2 keepalive settings of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerKeepalive {
    /// Ping the client after this much idle time.
    pub interval: Duration,
    /// Close the connection when a ping is not answered within this time.
    pub timeout: Duration,
    /// Fastest client ping rate accepted (see [`DEFAULT_SERVER_MIN_CLIENT_PING_INTERVAL`]).
    pub min_client_ping_interval: Duration,
}

impl Default for ServerKeepalive {
    fn default() -> Self {
        Self {
            interval: DEFAULT_SERVER_KEEPALIVE_INTERVAL,
            timeout: DEFAULT_SERVER_KEEPALIVE_TIMEOUT,
            min_client_ping_interval: DEFAULT_SERVER_MIN_CLIENT_PING_INTERVAL,
        }
    }
}

/// HTTP/2 keepalive settings of a client. Pings are sent even without open streams,
/// as Fabric's client does (`PermitWithoutStream: true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientKeepalive {
    /// Ping the server after this much idle time.
    pub interval: Duration,
    /// Drop the connection when a ping is not answered within this time.
    pub timeout: Duration,
}

impl Default for ClientKeepalive {
    fn default() -> Self {
        Self {
            interval: DEFAULT_CLIENT_KEEPALIVE_INTERVAL,
            timeout: DEFAULT_CLIENT_KEEPALIVE_TIMEOUT,
        }
    }
}

/// Size limits of gRPC messages, applied per service (see [`crate::MessageLimits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageSizeLimits {
    /// Largest message decoded; larger ones fail the call.
    pub max_recv_msg_size_bytes: usize,
    /// Largest message encoded; larger ones fail the call.
    pub max_send_msg_size_bytes: usize,
}

impl Default for MessageSizeLimits {
    fn default() -> Self {
        Self {
            max_recv_msg_size_bytes: DEFAULT_MAX_RECV_MSG_SIZE_BYTES,
            max_send_msg_size_bytes: DEFAULT_MAX_SEND_MSG_SIZE_BYTES,
        }
    }
}

/// The server side of Fabric's `tls` section (`enabled` is the presence of this value).
#[derive(Clone)]
pub struct ServerTlsConfig {
    /// PEM certificate of the server, optionally followed by intermediate certificates.
    pub cert_pem: Vec<u8>,
    /// PEM private key of the server (PKCS#8, SEC1 or PKCS#1).
    pub key_pem: Vec<u8>,
    /// Fabric `clientAuthRequired`: reject clients without a certificate that chains to
    /// [`ServerTlsConfig::client_root_cas_pem`]. When false, a client certificate is still
    /// requested and handed to handlers, but not verified.
    pub client_auth_required: bool,
    /// Fabric `clientRootCAs`: PEM bundles of the CAs client certificates must chain to.
    /// Every certificate in them is a trust anchor, intermediates included, as in a Go
    /// `x509.CertPool`.
    pub client_root_cas_pem: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ServerTlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key is deliberately left out.
        f.debug_struct("ServerTlsConfig")
            .field("client_auth_required", &self.client_auth_required)
            .field("client_root_cas", &self.client_root_cas_pem.len())
            .finish_non_exhaustive()
    }
}

impl ServerTlsConfig {
    /// Reads the server certificate and key from PEM files (Fabric `tls.cert.file`,
    /// `tls.key.file`), with client authentication off.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, CommError> {
        Ok(Self {
            cert_pem: read_pem_file(cert)?,
            key_pem: read_pem_file(key)?,
            client_auth_required: false,
            client_root_cas_pem: Vec::new(),
        })
    }

    /// Requires client certificates chaining to the given PEM files (Fabric
    /// `clientAuthRequired: true` with `clientRootCAs.files`).
    pub fn require_client_auth(
        mut self,
        client_root_ca_files: &[&Path],
    ) -> Result<Self, CommError> {
        self.client_auth_required = true;
        for file in client_root_ca_files {
            self.client_root_cas_pem.push(read_pem_file(file)?);
        }
        Ok(self)
    }
}

/// Settings of a [`crate::GrpcServer`].
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// TLS settings; `None` serves plain-text HTTP/2 (Fabric `tls.enabled: false`).
    pub tls: Option<ServerTlsConfig>,
    /// HTTP/2 keepalive.
    pub keepalive: ServerKeepalive,
    /// Message size limits, for services wrapped with [`crate::MessageLimits`].
    pub limits: MessageSizeLimits,
    /// TLS handshake deadline; `None` means [`DEFAULT_CONNECTION_TIMEOUT`].
    pub connection_timeout: Option<Duration>,
}

impl ServerConfig {
    /// The TLS handshake deadline in force.
    pub fn connection_timeout(&self) -> Duration {
        self.connection_timeout
            .unwrap_or(DEFAULT_CONNECTION_TIMEOUT)
    }
}

/// The client side of Fabric's TLS settings.
#[derive(Clone, Default)]
pub struct ClientTlsConfig {
    /// PEM bundles of the CAs the server certificate must chain to (Fabric `rootcert`,
    /// `ServerRootCAs`). Every certificate in them is a trust anchor.
    pub server_root_cas_pem: Vec<Vec<u8>>,
    /// PEM certificate and key presented for mutual TLS (Fabric `clientCert`, `clientKey`).
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM private key matching [`ClientTlsConfig::client_cert_pem`].
    pub client_key_pem: Option<Vec<u8>>,
    /// Name expected in the server certificate and sent as SNI, instead of the host of the
    /// address (Fabric `ssl-target-name-override`, `ServerNameOverride`).
    pub server_name_override: Option<String>,
}

impl std::fmt::Debug for ClientTlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTlsConfig")
            .field("server_root_cas", &self.server_root_cas_pem.len())
            .field("client_cert", &self.client_cert_pem.is_some())
            .field("server_name_override", &self.server_name_override)
            .finish_non_exhaustive()
    }
}

impl ClientTlsConfig {
    /// Trusts the CAs in the given PEM file for the server certificate.
    pub fn from_root_ca_file(root_ca: &Path) -> Result<Self, CommError> {
        Ok(Self {
            server_root_cas_pem: vec![read_pem_file(root_ca)?],
            ..Self::default()
        })
    }

    /// Adds a client certificate and key (PEM files) for mutual TLS.
    pub fn with_client_cert_files(mut self, cert: &Path, key: &Path) -> Result<Self, CommError> {
        self.client_cert_pem = Some(read_pem_file(cert)?);
        self.client_key_pem = Some(read_pem_file(key)?);
        Ok(self)
    }
}

/// Settings of a client channel made by [`crate::connect`].
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// TLS settings; `None` dials plain-text HTTP/2.
    pub tls: Option<ClientTlsConfig>,
    /// HTTP/2 keepalive.
    pub keepalive: ClientKeepalive,
    /// Message size limits, for clients wrapped with [`crate::MessageLimits`].
    pub limits: MessageSizeLimits,
    /// Deadline for TCP connect plus TLS handshake; `None` means [`DEFAULT_DIAL_TIMEOUT`].
    pub dial_timeout: Option<Duration>,
}

impl ClientConfig {
    /// The dial deadline in force.
    pub fn dial_timeout(&self) -> Duration {
        self.dial_timeout.unwrap_or(DEFAULT_DIAL_TIMEOUT)
    }
}

/// Largest PEM file read (certificates, keys and CA bundles are a few KiB; a channel's
/// bundle of CAs stays far below this).
pub const MAX_PEM_FILE_BYTES: u64 = 4 * 1024 * 1024;

fn read_pem_file(path: &Path) -> Result<Vec<u8>, CommError> {
    let io_err = |source| CommError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io_err)?.len();
    if len > MAX_PEM_FILE_BYTES {
        return Err(CommError::FileTooLarge {
            path: path.to_path_buf(),
            size_bytes: len,
            max_bytes: MAX_PEM_FILE_BYTES,
        });
    }
    std::fs::read(path).map_err(io_err)
}

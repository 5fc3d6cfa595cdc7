//! Dialing a gRPC server: a tonic [`Channel`] over TCP, optionally TLS via OpenSSL.
//!
//! Mirrors Fabric v2.5 `internal/pkg/comm/client.go` and `config.go` (`ClientConfig`):
//! blocking dial with a 3 s deadline, keepalive pings every minute even when idle, server
//! certificates verified against the configured roots under the address's host name or
//! the `ssl-target-name-override`, and an optional client certificate for mutual TLS.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use openssl::ssl::SslConnector;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::config::ClientConfig;
use crate::error::CommError;
use crate::tls::build_connector;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to `address` (`host:port`, Fabric's endpoint form) and returns a channel to
/// build generated clients on (Fabric `NewConnection`). Fails if no connection, TLS
/// handshake included, is established within the dial timeout.
pub async fn connect(address: &str, config: &ClientConfig) -> Result<Channel, CommError> {
    let (endpoint, connector) = prepare(address, config)?;
    let connected = match connector {
        Some(connector) => endpoint.connect_with_connector(connector).await,
        None => endpoint.connect().await,
    };
    connected.map_err(|source| CommError::Connect {
        address: address.to_owned(),
        source,
    })
}

/// Like [`connect`], but the connection is made on first use and re-made after it drops;
/// for long-lived clients that should survive a server restart.
pub fn connect_lazy(address: &str, config: &ClientConfig) -> Result<Channel, CommError> {
    let (endpoint, connector) = prepare(address, config)?;
    Ok(match connector {
        Some(connector) => endpoint.connect_with_connector_lazy(connector),
        None => endpoint.connect_lazy(),
    })
}

fn prepare(
    address: &str,
    config: &ClientConfig,
) -> Result<(Endpoint, Option<TlsConnector>), CommError> {
    let invalid = |reason: &str| CommError::InvalidAddress {
        address: address.to_owned(),
        reason: reason.to_owned(),
    };
    if address.is_empty() || address.contains('/') {
        return Err(invalid("expected host:port without a scheme or path"));
    }
    // The dial URI is always http: the TLS layer is our connector's business, and an
    // https URI would make tonic try its own TLS when another crate enables it.
    let dial_uri: Uri = format!("http://{address}")
        .parse()
        .map_err(|_| invalid("not a valid authority"))?;
    if dial_uri.port_u16().is_none() {
        return Err(invalid("missing port"));
    }
    let keepalive = config.keepalive;
    let mut endpoint = Endpoint::from(dial_uri.clone())
        .connect_timeout(config.dial_timeout())
        .http2_keep_alive_interval(keepalive.interval)
        .keep_alive_timeout(keepalive.timeout)
        .keep_alive_while_idle(true)
        .tcp_nodelay(true);
    let Some(tls) = &config.tls else {
        return Ok((endpoint, None));
    };
    // Requests carry :scheme https and the authority the certificate is checked for, as
    // grpc-go sends them.
    let authority = match (&tls.server_name_override, dial_uri.port_u16()) {
        (Some(name), Some(port)) => format!("{name}:{port}"),
        _ => address.to_owned(),
    };
    let origin: Uri = format!("https://{authority}")
        .parse()
        .map_err(|_| invalid("server name override is not a valid host name"))?;
    endpoint = endpoint.origin(origin);
    let connector = TlsConnector {
        ssl: Arc::new(build_connector(tls)?),
        server_name: tls.server_name_override.clone(),
    };
    Ok((endpoint, Some(connector)))
}

/// Opens TCP then TLS to the URI's host and port.
#[derive(Clone)]
struct TlsConnector {
    ssl: Arc<SslConnector>,
    server_name: Option<String>,
}

impl tower_service::Service<Uri> for TlsConnector {
    type Response = TokioIo<SslStream<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let ssl = Arc::clone(&self.ssl);
        let server_name = self.server_name.clone();
        Box::pin(async move {
            let host = uri.host().ok_or("address has no host")?;
            let port = uri.port_u16().ok_or("address has no port")?;
            // IPv6 literals come bracketed in URIs.
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let tcp = TcpStream::connect((host, port)).await?;
            tcp.set_nodelay(true)?;
            let expected_name = server_name.as_deref().unwrap_or(host);
            let ssl = ssl.configure()?.into_ssl(expected_name)?;
            let mut stream = SslStream::new(ssl, tcp)?;
            Pin::new(&mut stream).connect().await?;
            Ok(TokioIo::new(stream))
        })
    }
}

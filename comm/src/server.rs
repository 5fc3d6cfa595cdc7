//! The gRPC server: a TCP listener, TLS handshakes done off the accept loop, and tonic
//! serving the connections that completed them.
//!
//! Mirrors Fabric v2.5 `internal/pkg/comm/server.go` (`GRPCServer`): TLS with requested or
//! required client certificates, client root CAs replaceable while serving
//! (`SetClientRootCAs`), 100 MiB message limits, Fabric's keepalive policy, and graceful
//! stop. Handlers find the caller's certificate in the request's [`PeerInfo`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use openssl::ssl::{Ssl, SslAcceptor};
use openssl::x509::X509;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_openssl::SslStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, Router};

use crate::config::{
    MAX_CONCURRENT_STREAMS_PER_CONNECTION, MAX_CONNECTIONS, MAX_PENDING_HANDSHAKES, ServerConfig,
};
use crate::error::CommError;
use crate::tls::{ServerIdentity, build_acceptor, parse_roots};

/// Pause after a failed `accept` (for instance when file descriptors run out), so the
/// loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// What the server knows about the other end of a connection. tonic puts it into the
/// extensions of every request served on that connection; read it with
/// [`PeerInfo::of`].
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The client's address.
    pub remote_addr: Option<SocketAddr>,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The client's TLS certificate (leaf, DER) when it presented one. With client
    /// authentication required it has been verified against the client roots; without,
    /// it is whatever the client sent (Fabric binds it to messages by hash, see
    /// [`crate::tls_cert_hash`]).
    pub client_cert_der: Option<Arc<[u8]>>,
}

impl PeerInfo {
    /// The connection information of a request served by a [`GrpcServer`].
    pub fn of<T>(request: &tonic::Request<T>) -> Option<&PeerInfo> {
        request.extensions().get::<PeerInfo>()
    }

    /// The DER client certificate of a request, if the caller presented one over TLS
    /// (Fabric `ExtractRawCertificateFromContext`).
    pub fn client_cert_der<T>(request: &tonic::Request<T>) -> Option<&[u8]> {
        Self::of(request)?.client_cert_der.as_deref()
    }

    /// SHA-256 of the caller's DER client certificate, or `None` without one
    /// (Fabric `ExtractCertificateHashFromContext`).
    pub fn client_cert_hash<T>(request: &tonic::Request<T>) -> Option<[u8; 32]> {
        Self::client_cert_der(request).map(crate::tls_cert_hash)
    }
}

/// TLS state shared by the accept loop and [`ClientRootsHandle`].
struct TlsState {
    identity: ServerIdentity,
    client_auth_required: bool,
    acceptor: RwLock<Arc<SslAcceptor>>,
}

impl TlsState {
    fn current(&self) -> Arc<SslAcceptor> {
        Arc::clone(&self.acceptor.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Replaces the CAs that client certificates must chain to, while the server runs
/// (Fabric: the peer and orderer update them when channel configurations add or remove
/// organizations). New connections use the new set; established ones are kept.
#[derive(Clone)]
pub struct ClientRootsHandle {
    state: Arc<TlsState>,
}

impl ClientRootsHandle {
    /// Installs `client_root_cas_pem` (PEM bundles) as the complete set of client roots.
    /// On error the previous set stays in force.
    pub fn replace(&self, client_root_cas_pem: &[Vec<u8>]) -> Result<(), CommError> {
        let roots = parse_roots(client_root_cas_pem, "client root CA")?;
        let acceptor = build_acceptor(
            &self.state.identity,
            self.state.client_auth_required,
            &roots,
        )?;
        *self
            .state
            .acceptor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(acceptor);
        Ok(())
    }
}

/// A bound, not yet serving, gRPC server.
///
/// ```ignore
/// let server = GrpcServer::bind("0.0.0.0:7051", config).await?;
/// let router = server
///     .tonic_builder()
///     .add_service(DeliverServer::new(deliver).with_message_limits(server.limits()));
/// server.serve(router, shutdown_signal).await?;
/// ```
pub struct GrpcServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: ServerConfig,
    tls: Option<Arc<TlsState>>,
}

impl GrpcServer {
    /// Loads the TLS material and binds `address` (Fabric `NewGRPCServer`). Port 0 picks
    /// a free port; see [`GrpcServer::local_addr`].
    pub async fn bind(address: &str, config: ServerConfig) -> Result<Self, CommError> {
        let tls = match &config.tls {
            Some(tls) => {
                let identity = ServerIdentity::from_config(tls)?;
                let roots = parse_roots(&tls.client_root_cas_pem, "client root CA")?;
                let acceptor = build_acceptor(&identity, tls.client_auth_required, &roots)?;
                Some(Arc::new(TlsState {
                    identity,
                    client_auth_required: tls.client_auth_required,
                    acceptor: RwLock::new(Arc::new(acceptor)),
                }))
            }
            None => None,
        };
        let bind_err = |source| CommError::Bind {
            address: address.to_owned(),
            source,
        };
        let listener = TcpListener::bind(address).await.map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        Ok(Self {
            listener,
            local_addr,
            config,
            tls,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The message size limits to apply to services (see [`crate::MessageLimits`]).
    pub fn limits(&self) -> crate::config::MessageSizeLimits {
        self.config.limits
    }

    /// A handle to replace client root CAs at runtime; `None` without TLS.
    pub fn client_roots(&self) -> Option<ClientRootsHandle> {
        self.tls.as_ref().map(|state| ClientRootsHandle {
            state: Arc::clone(state),
        })
    }

    /// A tonic server builder with the keepalive and stream bounds of this server; add
    /// services to it and pass the router to [`GrpcServer::serve`].
    pub fn tonic_builder(&self) -> tonic::transport::Server {
        let keepalive = self.config.keepalive;
        tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(keepalive.interval))
            .http2_keepalive_timeout(Some(keepalive.timeout))
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS_PER_CONNECTION)
            .tcp_nodelay(true)
    }

    /// Serves `router` until `shutdown` completes, then stops accepting connections and
    /// waits for calls in progress to end (Fabric `GracefulStop`).
    pub async fn serve<F>(self, router: Router, shutdown: F) -> Result<(), CommError>
    where
        F: Future<Output = ()> + Send,
    {
        let (sender, receiver) = mpsc::channel(MAX_PENDING_HANDSHAKES);
        let acceptor = AcceptLoop {
            listener: self.listener,
            tls: self.tls,
            handshake_timeout: self.config.connection_timeout(),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            handshakes: Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES)),
            sender,
        };
        let accept_task = tokio::spawn(acceptor.run());
        let result = router
            .serve_with_incoming_shutdown(ReceiverStream::new(receiver), shutdown)
            .await;
        accept_task.abort();
        result.map_err(CommError::Serve)
    }
}

/// Accepts TCP connections and hands tonic those whose TLS handshake succeeded.
struct AcceptLoop {
    listener: TcpListener,
    tls: Option<Arc<TlsState>>,
    handshake_timeout: Duration,
    connections: Arc<Semaphore>,
    handshakes: Arc<Semaphore>,
    sender: mpsc::Sender<io::Result<ServerIo>>,
}

impl AcceptLoop {
    async fn run(self) {
        loop {
            let Ok(connection_permit) = Arc::clone(&self.connections).acquire_owned().await else {
                return;
            };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = self.sender.closed() => return,
            };
            let (tcp, remote_addr) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "accepting a gRPC connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            };
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(%err, "cannot set TCP_NODELAY");
            }
            let Some(tls) = &self.tls else {
                let io = ServerIo {
                    transport: Transport::Plain(tcp),
                    info: PeerInfo {
                        remote_addr: Some(remote_addr),
                        tls: false,
                        client_cert_der: None,
                    },
                    _permit: connection_permit,
                };
                if self.sender.send(Ok(io)).await.is_err() {
                    return;
                }
                continue;
            };
            let Ok(handshake_permit) = Arc::clone(&self.handshakes).acquire_owned().await else {
                return;
            };
            let acceptor = tls.current();
            let sender = self.sender.clone();
            let timeout = self.handshake_timeout;
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(timeout, tls_handshake(&acceptor, tcp));
                let stream = match handshake.await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        tracing::debug!(%remote_addr, %err, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote_addr, "TLS handshake timed out");
                        return;
                    }
                };
                drop(handshake_permit);
                let client_cert_der = stream
                    .ssl()
                    .peer_certificate()
                    .and_then(|cert: X509| cert.to_der().ok())
                    .map(Arc::from);
                let io = ServerIo {
                    transport: Transport::Tls(Box::new(stream)),
                    info: PeerInfo {
                        remote_addr: Some(remote_addr),
                        tls: true,
                        client_cert_der,
                    },
                    _permit: connection_permit,
                };
                // A closed receiver means the server is shutting down; the connection
                // is dropped with it.
                let _ = sender.send(Ok(io)).await;
            });
        }
    }
}

async fn tls_handshake(
    acceptor: &SslAcceptor,
    tcp: TcpStream,
) -> Result<SslStream<TcpStream>, Box<dyn std::error::Error + Send + Sync>> {
    let ssl = Ssl::new(acceptor.context())?;
    let mut stream = SslStream::new(ssl, tcp)?;
    Pin::new(&mut stream).accept().await?;
    Ok(stream)
}

enum Transport {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

/// A served connection; holds its share of [`MAX_CONNECTIONS`] until dropped.
struct ServerIo {
    transport: Transport,
    info: PeerInfo,
    _permit: OwnedSemaphorePermit,
}

impl Connected for ServerIo {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.transport {
            Transport::Plain(tcp) => tcp.is_write_vectored(),
            Transport::Tls(tls) => tls.is_write_vectored(),
        }
    }
}

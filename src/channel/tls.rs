//! TLS for a channel (rustls): the certificate chain and key from PEM files. Handshakes
//! run in tasks of their own, so one slow or silent client never holds up the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::error::ChannelError;
use super::spec::Tls;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub fn server_config(tls: &Tls) -> Result<rustls::ServerConfig, ChannelError> {
    let bad_certificate = |message: String| ChannelError::TlsFile {
        key: "tls.certificate",
        path: tls.certificate.clone(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.certificate)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad_certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad_certificate("holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| ChannelError::TlsFile {
        key: "tls.key",
        path: tls.key.clone(),
        message: e.to_string(),
    })?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ChannelError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ChannelError::Setup(format!(
                "tls: the certificate and key do not make a server identity: {e}"
            ))
        })
}

pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, tls: &Tls) -> Result<TlsListener, ChannelError> {
        let acceptor = TlsAcceptor::from(Arc::new(server_config(tls)?));
        let local = tcp
            .local_addr()
            .map_err(|e| ChannelError::Setup(e.to_string()))?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        // out of file descriptors and the like: wait, then go on
                        tracing::debug!("channel: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, ready) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => {
                            let _ = ready.send((s, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("channel: TLS handshake with {addr}: {e}"),
                        Err(_) => tracing::debug!("channel: TLS handshake with {addr} timed out"),
                    }
                });
                if tx.is_closed() {
                    break;
                }
            }
        });
        Ok(TlsListener { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(x) => x,
            // the accepting task ended: nothing more will come
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Serve `router` on `listener` (through TLS when given), each connection under `guard`'s
/// caps and deadlines, until `stop`; requests in flight then finish. Channels and the
/// results server both serve so.
pub async fn serve_guarded(
    listener: TcpListener,
    tls: Option<&Tls>,
    guard: Arc<super::guard::Guard>,
    router: axum::Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Result<(), std::io::Error>, ChannelError> {
    use super::guard::{Guarded, Peer};
    let service = router.into_make_service_with_connect_info::<Peer>();
    Ok(match tls {
        None => {
            axum::serve(Guarded::new(listener, guard), service)
                .with_graceful_shutdown(stop)
                .await
        }
        Some(tls) => {
            let listener = TlsListener::new(listener, tls)?;
            axum::serve(Guarded::new(listener, guard), service)
                .with_graceful_shutdown(stop)
                .await
        }
    })
}

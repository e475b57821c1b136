//! An HTTP(S) listener for TokenDesk's servers (the receiver, the team server's admin API):
//! loopback unless TLS and an explicit opt-in, a TLS acceptor from PEM files, slow clients cut
//! off (the header timeout needs hyper's timer: without one it does nothing), a cap on
//! connections served at once, and a stop that ends every connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// Slow clients (slowloris) get this long for their headers, and again for their body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;

/// TLS material for a non-loopback receiver.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_chain: PathBuf,
    pub private_key: PathBuf,
}

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    /// Required, with TLS, to listen on anything but loopback.
    pub allow_non_loopback: bool,
    /// What crosses the connection, for the refusal's message ("codes", "session tokens").
    pub what: &'static str,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    #[error(
        "refusing to listen on {0} without TLS: {1} would cross the network in clear text. \
         Pass --tls-cert and --tls-key, or listen on 127.0.0.1"
    )]
    PlainTextNonLoopback(SocketAddr, &'static str),
    #[error(
        "refusing to listen on {0}: a non-loopback listener needs the explicit \
         --allow-non-loopback flag"
    )]
    NonLoopbackNotAllowed(SocketAddr),
    #[error("cannot listen on {addr}: {source}; is another TokenDesk already running there?")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot use the TLS certificate or key ({path}): {reason}")]
    Tls { path: PathBuf, reason: String },
}

/// A bound socket, not yet serving.
pub struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Binds `config.listen` under its rules.
pub async fn bind(config: &ListenConfig) -> Result<Bound, ListenError> {
    let loopback = config.listen.ip().is_loopback();
    if !loopback && config.tls.is_none() {
        return Err(ListenError::PlainTextNonLoopback(
            config.listen,
            config.what,
        ));
    }
    if !loopback && !config.allow_non_loopback {
        return Err(ListenError::NonLoopbackNotAllowed(config.listen));
    }
    let tls = config.tls.as_ref().map(load_tls).transpose()?;
    let bind_err = |source| ListenError::Bind {
        addr: config.listen,
        source,
    };
    let listener = TcpListener::bind(config.listen).await.map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    Ok(Bound {
        listener,
        addr,
        tls,
    })
}

impl Bound {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves `router` on the current tokio runtime until stopped.
    pub fn serve(self, router: Router) -> Serving {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let Bound {
            listener,
            addr,
            tls,
        } = self;
        let is_tls = tls.is_some();
        tokio::spawn(serve(listener, router, tls, stopped));
        Serving {
            addr,
            tls: is_tls,
            stop,
        }
    }
}

/// A listener serving; dropping it stops it (and ends its connections).
#[derive(Debug)]
pub struct Serving {
    addr: SocketAddr,
    tls: bool,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Serving {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http(s)://ADDR`.
    pub fn origin(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop();
    }
}

fn load_tls(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ListenError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let tls_err = |path: &PathBuf, reason: String| ListenError::Tls {
        path: path.clone(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert_chain)
        .map_err(|e| tls_err(&files.cert_chain, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(&files.cert_chain, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls_err(
            &files.cert_chain,
            "no certificate in the file".to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.private_key)
        .map_err(|e| tls_err(&files.private_key, e.to_string()))?;
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_err(&files.cert_chain, e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(err) => {
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let router = router.clone();
        let tls = tls.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let work = async move {
                match tls {
                    Some(acceptor) => {
                        // The handshake is bounded too, or a silent client holds a slot.
                        match tokio::time::timeout(READ_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(tls_stream)) => serve_connection(tls_stream, router, peer).await,
                            _ => tracing::debug!(%peer, "TLS handshake failed or timed out"),
                        }
                    }
                    None => serve_connection(stream, router, peer).await,
                }
            };
            tokio::select! {
                _ = work => {}
                _ = stopped.changed() => {}
            }
        });
    }
}

pub(crate) async fn serve_connection<S>(stream: S, router: Router, peer: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            let router = router.clone();
            req.extensions_mut().insert(ConnectInfo(peer));
            async move {
                let response = router
                    .oneshot(req.map(Body::new))
                    .await
                    .unwrap_or_else(|never: Infallible| match never {});
                Ok::<_, Infallible>(response)
            }
        });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

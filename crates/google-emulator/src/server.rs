//! The HTTP layer: one axum router on one origin, served by hyper with our own accept loop so a
//! fault can drop a connection without answering, and slow clients are timed out.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::{Shared, admin, admin_guard, drive, faults, oauth, replies};

/// Marks a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// The local address a request's connection was accepted on (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub SocketAddr);

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(oauth::discovery))
        .route(
            "/o/oauth2/v2/auth",
            get(oauth::auth_page).post(oauth::auth_decide),
        )
        .route("/token", post(oauth::token))
        .route("/revoke", post(oauth::revoke_post).get(oauth::revoke_get))
        .route(
            "/tokeninfo",
            get(oauth::tokeninfo_get).post(oauth::tokeninfo_post),
        )
        .route("/v1/userinfo", get(oauth::userinfo).post(oauth::userinfo))
        .route(
            "/oauth2/v3/userinfo",
            get(oauth::userinfo).post(oauth::userinfo),
        )
        .route("/oauth2/v3/certs", get(oauth::certs_jwk))
        .route("/oauth2/v1/certs", get(oauth::certs_pem))
        .route(
            "/drive/v3/files",
            get(drive::list).post(drive::create_metadata),
        )
        .route(
            "/drive/v3/files/{id}",
            get(drive::get).delete(drive::delete),
        )
        .route("/upload/drive/v3/files", post(drive::upload))
        .nest("/emulator/v1", admin::router())
        .fallback(replies::not_found)
        .method_not_allowed_fallback(replies::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            faults::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            admin_guard::guard,
        ))
        .with_state(shared)
}

/// Slow clients (slowloris) get this long to send their request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(
    listener: TcpListener,
    router: Router,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok().map(LocalAddr);
        let router = router.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                let router = router.clone();
                if let Some(local) = local {
                    req.extensions_mut().insert(local);
                }
                async move {
                    let response = router
                        .oneshot(req.map(Body::new))
                        .await
                        .unwrap_or_else(|never: Infallible| match never {});
                    if response.extensions().get::<DropConnection>().is_some() {
                        Err(Dropped)
                    } else {
                        Ok(response)
                    }
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stopped.changed() => {}
            }
        });
    }
}

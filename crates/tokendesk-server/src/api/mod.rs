//! The admin API (`tokendesk_core::api` names its paths and bodies): the console's operations
//! over HTTP for staff and automation. Every call but `version`, `login`, the sign-in and
//! `healthz` needs a session or API token (else 401) and a role (else 403); every call,
//! allowed or refused, is written to the audit log under the caller's name.

mod console;
mod errors;
mod events;
mod health;
pub mod openapi;
mod people;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use tokendesk_core::api::{self, API_VERSION, API_VERSION_HEADER, CredentialKind, Role, paths};
use tokendesk_core::desk::{Desk, DeskError, StopFlag, acting_as, current_actor};
use tokendesk_core::store::{AuditAction, AuditOutcome};
use tokio_util::task::TaskTracker;

pub use errors::ApiError;

use crate::auth;
use crate::pg::{PgStorage, SessionLife};
use crate::spread::Spread;
use crate::staff::StaffProvider;

/// Request bodies are small JSON documents (a client_secret.json is the largest).
const BODY_LIMIT: usize = 256 * 1024;
/// An upload's body: 5,000,000 bytes of file in base64 (4/3) and the JSON around it.
const UPLOAD_LIMIT: usize = 7 * 1024 * 1024;
const DRIVE: &str = paths::DRIVE_FILES[0];
const FILES: &str = paths::DRIVE_FILES[1];

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub desk: Arc<Desk>,
    pub pg: PgStorage,
    /// `None`: no staff provider configured; only API tokens get in.
    pub staff: Option<Arc<StaffProvider>>,
    pub life: SessionLife,
    pub spread: Arc<Spread>,
    pub events: Arc<crate::events::Events>,
    /// Operations that outlive a caller who hangs up ([`to_the_end`]); a replica that stops
    /// waits for them.
    pub work: TaskTracker,
}

/// Runs `work` (given the desk) to its end in a task of its own, as the caller. A caller that
/// hangs up (Ctrl-C, a closed laptop, a proxy's timeout) drops its request, and with it
/// whatever the request was doing: an operation cut off half-way is a code Google has redeemed
/// whose answer is never kept, or a rotated refresh token never stored. Google goes on with a
/// request whose sender has gone; so does this server. A caller that waits gets the answer as
/// before.
pub(super) async fn to_the_end<T, E, F>(
    state: &ApiState,
    work: impl FnOnce(Arc<Desk>) -> F,
) -> Result<T, ApiError>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
    ApiError: From<E>,
{
    let actor = current_actor();
    let work = work(Arc::clone(&state.desk));
    let task = state.work.spawn(async move {
        match actor {
            Some(actor) => acting_as(actor, work).await,
            None => work.await,
        }
    });
    match task.await {
        Ok(done) => done.map_err(ApiError::from),
        Err(e) => Err(<ApiError as From<DeskError>>::from(DeskError::TaskLost {
            what: "the operation",
            detail: e.to_string(),
        })),
    }
}

/// Asks a sweep (or any work watching the flag) to start nothing more when its caller has
/// gone: the guard is dropped with the caller's request.
pub(super) struct StopWhenGone(pub StopFlag);

impl Drop for StopWhenGone {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Who is calling: a staff member's session or an API token, found by its digest.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub kind: CredentialKind,
    pub expires_at: Option<String>,
    pub digest: auth::Digest,
}

impl Caller {
    /// The name the audit log gives the caller: a staff member's email, `api-token:NAME`.
    pub fn actor(&self) -> String {
        match self.kind {
            CredentialKind::Session => self.name.clone(),
            CredentialKind::ApiToken => format!("api-token:{}", self.name),
        }
    }
}

/// A caller allowed at least `ROLE` (0 viewer, 1 operator, 2 admin). As an extractor it
/// refuses a caller below it with 403, audited.
#[derive(Debug, Clone)]
pub struct Allowed<const ROLE: u8>(pub Caller);

pub type Viewer = Allowed<0>;
pub type Operator = Allowed<1>;
pub type Admin = Allowed<2>;

const fn role_of(level: u8) -> Role {
    match level {
        0 => Role::Viewer,
        1 => Role::Operator,
        _ => Role::Admin,
    }
}

impl<const ROLE: u8> FromRequestParts<ApiState> for Allowed<ROLE> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let Some(caller) = parts.extensions.get::<Caller>().cloned() else {
            return Err(ApiError::unauthenticated());
        };
        let needed = role_of(ROLE);
        if caller.role.allows(needed) {
            return Ok(Allowed(caller));
        }
        let what = format!("{} {}", parts.method, parts.uri.path());
        state
            .desk
            .record(
                AuditAction::AccessDenied,
                AuditOutcome::Denied,
                Some(format!("{what}: needs {needed}, has {}", caller.role)),
            )
            .await?;
        parts.extensions.insert(Refused);
        Err(ApiError::forbidden(&caller, needed))
    }
}

/// Marks a request whose refusal is already in the audit log.
#[derive(Debug, Clone, Copy)]
struct Refused;

/// The admin API's router (served by the admin listener).
pub fn router(state: ApiState) -> Router {
    let (open, guarded) = (open_routes(), guarded_routes());
    let guarded = guarded
        .router
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    open.router
        .merge(guarded)
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(version_header))
        .with_state(state)
}

/// A path the router serves, as `/api/v1/users/{user}`, and whether it needs a credential.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServedPath {
    pub path: String,
    pub guarded: bool,
}

/// Every path [`router`] serves, from the same code that builds it: the OpenAPI document's
/// test compares them with the document's, so a route without documentation fails it.
pub fn served_paths() -> Vec<ServedPath> {
    let listed = |routes: Routes, guarded| {
        routes
            .paths
            .into_iter()
            .map(move |path| ServedPath { path, guarded })
    };
    listed(open_routes(), false)
        .chain(listed(guarded_routes(), true))
        .collect()
}

/// A router being built, with the paths it has so far.
struct Routes {
    router: Router<ApiState>,
    paths: Vec<String>,
}

impl Routes {
    fn new() -> Self {
        Routes {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    fn route(mut self, path: &str, methods: MethodRouter<ApiState>) -> Self {
        self.router = self.router.route(path, methods);
        self.paths.push(path.to_owned());
        self
    }
}

/// What anyone may call.
fn open_routes() -> Routes {
    Routes::new()
        .route("/healthz", get(console::healthz))
        .route(paths::VERSION, get(console::version))
        .route(paths::OPENAPI, get(openapi::serve))
        .route(paths::LOGIN, get(people::login_config))
        .route(paths::SESSIONS, post(people::sign_in))
}

/// What needs a session or API token ([`authenticate`]) and a role (the handler's [`Allowed`]).
fn guarded_routes() -> Routes {
    let user = |tail: &str| format!("{}/{{user}}{tail}", paths::USERS);
    Routes::new()
        .route(paths::WHOAMI, get(people::whoami))
        .route(paths::SESSION_CURRENT, delete(people::sign_out))
        .route(
            paths::CLIENTS,
            get(console::clients).post(console::add_client),
        )
        .route(
            &format!("{}/{{name}}", paths::CLIENTS),
            get(console::client).delete(console::remove_client),
        )
        .route(paths::USERS, get(console::users))
        .route(&user(""), get(console::user))
        .route(&user("/audit"), get(console::user_audit))
        .route(&user("/http"), get(console::user_http))
        .route(
            &user("/http/{entry}/curl"),
            get(console::http_curl).post(console::http_curl_revealed),
        )
        .route(&user("/refresh"), post(console::refresh))
        .route(&user("/revoke"), post(console::revoke))
        .route(&user("/drive"), get(console::drive))
        .route(
            &user(&format!("/{DRIVE}/{FILES}")),
            post(console::drive_upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route(
            &user(&format!("/{DRIVE}/{FILES}/{{file_id}}")),
            get(console::drive_download).delete(console::drive_delete),
        )
        .route(paths::EXPORT_USERS, get(console::export_users))
        .route(&user("/reveal"), post(console::reveal))
        .route(paths::EXCHANGE, post(console::exchange))
        .route(paths::INSPECT, post(console::inspect))
        .route(paths::REFRESH_ALL, post(console::refresh_all))
        .route(paths::HEALTH_SWEEP, post(health::sweep))
        .route(paths::NEEDS_ATTENTION, get(health::attention))
        .route(paths::AUDIT, get(console::audit))
        .route(paths::EVENTS, get(events::events))
        .route(
            paths::STAFF,
            get(people::staff_list).post(people::staff_add),
        )
        .route(
            &format!("{}/{{email}}", paths::STAFF),
            delete(people::staff_remove),
        )
        .route(
            paths::API_TOKENS,
            get(people::api_tokens).post(people::api_token_create),
        )
        .route(
            &format!("{}/{{name}}", paths::API_TOKENS),
            delete(people::api_token_revoke),
        )
}

async fn version_header(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(API_VERSION_HEADER, HeaderValue::from(API_VERSION));
    response
}

/// Finds the caller behind the bearer token (401, audited, without one that is live), then
/// runs the call as that caller: the facade's audit entries name them, and the call itself
/// is recorded with its outcome.
async fn authenticate(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let what = format!("{} {}", request.method(), request.uri().path());
    let presented = auth::bearer(request.headers().get(http::header::AUTHORIZATION));
    let found = match &presented {
        None => None,
        Some(token) => {
            let digest = auth::digest_of(token);
            match state
                .pg
                .credential(&digest, state.life, state.desk.now())
                .await
            {
                Ok(found) => found.map(|c| Caller {
                    name: c.name,
                    role: c.role,
                    kind: c.kind,
                    expires_at: c.expires_at.map(|t| t.to_rfc3339()),
                    digest,
                }),
                Err(err) => return ApiError::from(err).into_response(),
            }
        }
    };
    let Some(caller) = found else {
        let why = if presented.is_some() {
            "an unknown, expired or revoked token"
        } else {
            "no bearer token"
        };
        let entry = acting_as(
            format!("anonymous@{}", peer.ip()),
            state.desk.record(
                AuditAction::AccessDenied,
                AuditOutcome::Denied,
                Some(format!("{what}: {why}")),
            ),
        )
        .await;
        if let Err(err) = entry {
            return ApiError::from(err).into_response();
        }
        return ApiError::unauthenticated().into_response();
    };
    let actor = caller.actor();
    request.extensions_mut().insert(caller);
    let desk = Arc::clone(&state.desk);
    acting_as(actor, async move {
        let response = next.run(request).await;
        if response.extensions().get::<Refused>().is_some() {
            return response;
        }
        let status = response.status();
        let outcome = if status.is_success() {
            AuditOutcome::Ok
        } else {
            AuditOutcome::Failed
        };
        // The call's own record. Reads are recorded only here; changes also by the facade
        // (exchange, refresh, revoke, reveal...), with what they did.
        if let Err(err) = desk
            .record(
                AuditAction::ApiCall,
                outcome,
                Some(format!("{what} {}", status.as_u16())),
            )
            .await
        {
            tracing::error!(code = err.code(), "could not record an admin API call");
            if status.is_success() {
                return ApiError::from(err).into_response();
            }
        }
        response
    })
    .await
}

/// The API version every client checks (`tokendesk_core::api::API_VERSION`).
/// The version and commit are the build's (`tokendesk_core::VERSION`, `BUILD_COMMIT`): the
/// same that `tokendesk --version` and the window's About show.
pub(crate) fn version_info() -> api::VersionInfo {
    api::VersionInfo {
        version: tokendesk_core::VERSION.to_owned(),
        commit: tokendesk_core::BUILD_COMMIT.to_owned(),
        api: API_VERSION,
    }
}

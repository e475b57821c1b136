//! The admin API's OpenAPI 3.1 document, derived from the handlers' `#[utoipa::path]`
//! annotations and the core's types (`tokendesk-core`'s `openapi` feature): served at
//! `GET /api/v1/openapi.json` and kept as `docs/openapi.json` (`scripts/openapi`).
//!
//! The document is served without credentials, like `version`: what the API looks like is no
//! secret (the same document is in the repository), and a client needs it before it has a token.
//!
//! Each guarded operation carries the role it needs as `x-tokendesk-role`; [`Roles`] turns that
//! into the operation's security requirement, its 401/403/500/503 answers and a sentence of its
//! description, so no handler repeats them.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use tokendesk_core::api::{API_VERSION, ErrorBody};
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder, SecurityRequirement};

use super::{console, events, health, people};

/// The extension that names the role an operation needs.
pub const ROLE_EXTENSION: &str = "x-tokendesk-role";
/// The name of the bearer security scheme.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TokenDesk admin API",
        description = "The team server's admin API: the console's operations over HTTP for staff \
                       and automation. Every answer carries `X-TokenDesk-Api: <API version>`; every \
                       error is an `ErrorBody` with the HTTP status of its kind. Guarded calls take \
                       `Authorization: Bearer <token>`: a staff session (`tds_...`, from \
                       `POST /api/v1/sessions`) or an API token (`tdt_...`, from an admin). Each \
                       role includes the ones below it: viewer < operator < admin.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        console::healthz,
        console::version,
        serve,
        people::login_config,
        people::sign_in,
        people::whoami,
        people::sign_out,
        console::clients,
        console::add_client,
        console::client,
        console::remove_client,
        console::users,
        console::user,
        console::user_audit,
        console::user_http,
        console::http_curl,
        console::http_curl_revealed,
        console::refresh,
        console::revoke,
        console::drive,
        console::drive_upload,
        console::drive_download,
        console::drive_delete,
        console::export_users,
        console::reveal,
        console::exchange,
        console::inspect,
        console::refresh_all,
        health::sweep,
        health::attention,
        console::audit,
        events::events,
        people::staff_list,
        people::staff_add,
        people::staff_remove,
        people::api_tokens,
        people::api_token_create,
        people::api_token_revoke,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Roles),
    tags(
        (name = "meta", description = "The server itself: health, version, this document."),
        (name = "people", description = "Who may use the API: sign-in, staff, API tokens."),
        (name = "console", description = "The console's operations: clients, users, tokens, \
                                           Drive, the audit log."),
    )
)]
#[derive(Debug)]
pub struct AdminApi;

/// Completes every operation that names a role (see the module's comment).
struct Roles;

impl utoipa::Modify for Roles {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.info.version = API_VERSION.to_string();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tds_... (staff session) or tdt_... (API token)")
                    .description(Some(
                        "A staff session from `POST /api/v1/sessions` (`tokendesk --server URL \
                         login`), or an API token an admin created (`tokendesk server token \
                         create`).",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                guard(operation);
            }
        }
    }
}

fn guard(operation: &mut Operation) {
    let Some(role) = operation
        .extensions
        .as_ref()
        .and_then(|e| e.get(ROLE_EXTENSION))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
    else {
        return;
    };
    operation.security = Some(vec![SecurityRequirement::new::<_, _, &str>(BEARER, [])]);
    let sentence =
        format!("Needs a session or API token with the role {role} or above (else 401, or 403).");
    operation.description = Some(match operation.description.take() {
        Some(text) if !text.is_empty() => format!("{text}\n\n{sentence}"),
        _ => sentence,
    });
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorBody",
                    ))))
                    .build(),
            )
            .build()
    };
    let responses = &mut operation.responses.responses;
    for (status, description) in [
        (
            "401",
            "No bearer token, or an unknown, expired or revoked one.",
        ),
        ("403", "The caller's role is below the one this needs."),
        (
            "500",
            "The server failed; its log has the details (search for the error's code).",
        ),
        ("503", "The database does not answer; try again."),
    ] {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error(description)));
    }
}

/// The document as served and as `docs/openapi.json` holds it (pretty, with a final newline).
pub fn document_json() -> String {
    let text = AdminApi::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    plain_links(&text) + "\n"
}

/// The descriptions come from doc comments written for rustdoc: its links (``[`Desk::reveal`]``,
/// ``[`x`](super::x)``) become plain code spans, since their targets mean nothing to a client.
/// Only a JSON string can hold ``[` `` (a JSON array's `[` is never followed by a backtick).
fn plain_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after[1..].find("`]").map(|i| i + 1) else {
            out.push('[');
            rest = after;
            continue;
        };
        // The code span with its backticks, without the brackets.
        out.push_str(&after[..=end]);
        rest = &after[end + 2..];
        if let Some(target) = rest.strip_prefix('(')
            && let Some(close) = target.find(')')
        {
            rest = &target[close + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// This document.
#[utoipa::path(
    get,
    path = tokendesk_core::api::paths::OPENAPI,
    tag = "meta",
    responses((status = 200, description = "This document (OpenAPI 3.1).", content_type = "application/json"))
)]
pub(super) async fn serve() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.get_or_init(document_json).as_str(),
    )
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;

//! Keeps web pages from driving the admin API. The emulator hands out tokens to anyone who
//! asks, and a page the developer visits can send requests to `127.0.0.1`: a form POST or a
//! "simple" `fetch` (no CORS preflight) straight at the port, or any request through DNS
//! rebinding (the page's own host name resolving to `127.0.0.1`). So every `/emulator/`
//! request must name the emulator itself in `Host` (a rebinding page's requests name the
//! page's host), and every call that changes state must be `Content-Type: application/json`,
//! which no form and no simple request can send.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::Shared;
use crate::replies::json as json_reply;
use crate::server::LocalAddr;

/// Longest `Host` value quoted back in a refusal.
const QUOTED_HOST_MAX: usize = 100;

pub async fn guard(State(s): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/emulator/") {
        return next.run(request).await;
    }
    let arrived_on = request.extensions().get::<LocalAddr>().map(|a| a.0);
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let authority_ok = request
        .uri()
        .authority()
        .is_none_or(|a| host_allowed(&s, a.as_str(), arrived_on));
    if !authority_ok || !host.is_some_and(|h| host_allowed(&s, h, arrived_on)) {
        return forbidden_host(&s, host);
    }
    if changes_state(request.method()) && !is_json(request.headers()) {
        return json_reply(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &json!({
                "error": "unsupported_media_type",
                "error_description": "the admin API changes state only on JSON requests: send \
                    Content-Type: application/json (with a body of {} when the call takes \
                    none), so that no web page can drive it with a form or a simple fetch",
            }),
        );
    }
    next.run(request).await
}

fn forbidden_host(s: &Shared, host: Option<&str>) -> Response {
    let port = s.addr.port();
    let named = match host {
        Some(h) => format!(
            "this request named Host {:?}",
            h.chars().take(QUOTED_HOST_MAX).collect::<String>()
        ),
        None => "this request named no Host".to_owned(),
    };
    json_reply(
        StatusCode::FORBIDDEN,
        &json!({
            "error": "forbidden",
            "error_description": format!(
                "the admin API answers only requests addressed to the emulator itself (Host \
                 127.0.0.1:{port}, localhost:{port}, [::1]:{port} or {addr}); {named}, as a \
                 web page reaching it through DNS rebinding would",
                addr = s.addr,
            ),
        }),
    )
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// A loopback name with the emulator's port; or the address it is bound to (its base URL's);
/// or, bound to every interface (only allowed with `allow_non_loopback`), the address the
/// request came in on.
fn host_allowed(s: &Shared, value: &str, arrived_on: Option<SocketAddr>) -> bool {
    let Some((host, port)) = split_host_port(value) else {
        return false;
    };
    if port.unwrap_or(80) != s.addr.port() {
        return false;
    }
    let host = host.to_ascii_lowercase();
    if matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
        return true;
    }
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return false;
    };
    let bound = s.addr.ip();
    bound.to_canonical() == ip.to_canonical()
        || (bound.is_unspecified()
            && arrived_on.is_some_and(|a| a.ip().to_canonical() == ip.to_canonical()))
}

/// `host[:port]` or `[v6]:port`.
fn split_host_port(value: &str) -> Option<(&str, Option<u16>)> {
    let value = value.trim();
    let (host, port) = if value.starts_with('[') {
        let end = value.find(']')? + 1;
        value.split_at(end)
    } else {
        value.rfind(':').map_or((value, ""), |i| value.split_at(i))
    };
    let port = match port {
        "" => None,
        p => Some(p.strip_prefix(':')?.parse::<u16>().ok()?),
    };
    (!host.is_empty()).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn host_headers_split_into_host_and_port() {
        assert_eq!(
            split_host_port("127.0.0.1:8080"),
            Some(("127.0.0.1", Some(8080)))
        );
        assert_eq!(split_host_port("[::1]:8080"), Some(("[::1]", Some(8080))));
        assert_eq!(split_host_port("localhost"), Some(("localhost", None)));
        assert_eq!(split_host_port("[::1]"), Some(("[::1]", None)));
        assert_eq!(split_host_port("127.0.0.1:99999"), None);
        assert_eq!(split_host_port("127.0.0.1:"), None);
        assert_eq!(split_host_port("[::1]x"), None);
        assert_eq!(split_host_port(":80"), None);
    }
}

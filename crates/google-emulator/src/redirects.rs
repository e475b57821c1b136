//! Which `redirect_uri` a client may send to the authorization endpoint: a web client's
//! registered URIs exactly; a desktop ("installed") client's loopback URIs on any port.

use crate::state::{Client, ClientKind};

/// Whether the authorization endpoint may redirect to `uri` for `client`. Google never
/// redirects anywhere else: the error stays on its own page (`redirect_uri_mismatch`).
pub fn accepts(client: &Client, uri: &str) -> bool {
    match client.kind {
        ClientKind::Desktop => is_loopback(uri),
        ClientKind::Web | ClientKind::Ios => client.redirect_uris.iter().any(|r| r == uri),
    }
}

/// A loopback redirect of an installed app (RFC 8252 §7.3, Google's "Loopback IP address"
/// option): `http`, host `127.0.0.1`, `[::1]` or `localhost` (which Google also takes), any
/// port or none, any path and query. No fragment (RFC 6749 §3.1.2) and no user info, which
/// would let `http://127.0.0.1@evil.example/` or `http://evil@127.0.0.1/` pass for loopback.
pub fn is_loopback(uri: &str) -> bool {
    if uri.contains('#') || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Ok(parsed) = uri.parse::<http::Uri>() else {
        return false;
    };
    let (Some(scheme), Some(authority)) = (parsed.scheme_str(), parsed.authority()) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") || authority.as_str().contains('@') {
        return false;
    }
    let host = authority.host().to_ascii_lowercase();
    // `http` reads `:99999` as a port; a browser would not connect there.
    let port = &authority.as_str()[authority.host().len()..];
    if !port.is_empty()
        && port
            .strip_prefix(':')
            .and_then(|p| p.parse::<u16>().ok())
            .is_none()
    {
        return false;
    }
    matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost")
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_uris_on_any_port_and_path_are_accepted() {
        for uri in [
            "http://127.0.0.1:51004/oauth2redirect/example-provider",
            "http://127.0.0.1:1/",
            "http://[::1]:61023/cb",
            "http://localhost:8080/",
            "http://localhost",
            "http://127.0.0.1",
            "http://127.0.0.1:9000/cb?app=lab",
            "HTTP://LOCALHOST:9000/cb",
        ] {
            assert!(is_loopback(uri), "{uri} is a loopback redirect");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for uri in [
            "https://127.0.0.1:8080/cb",
            "http://evil.example:8080/cb",
            "http://localhost.evil.example/cb",
            "http://127.0.0.2:8080/cb",
            "http://127.0.0.1.nip.io:8080/cb",
            "http://evil@127.0.0.1:8080/cb",
            "http://127.0.0.1@evil.example/cb",
            "http://127.0.0.1:8080/cb#frag",
            "http://127.0.0.1:99999/cb",
            "http://127.0.0.1:80 80/cb",
            "com.example.app:/oauth2redirect",
            "urn:ietf:wg:oauth:2.0:oob",
            "/callback",
            "",
        ] {
            assert!(!is_loopback(uri), "{uri} must not pass for loopback");
        }
    }
}

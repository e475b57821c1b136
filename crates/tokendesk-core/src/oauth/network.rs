//! The way out to the network for every outbound call (token, JWKS, tokeninfo, Drive, revoke,
//! discovery): which proxy, if any, and which extra CAs are trusted.
//!
//! The proxy is the environment's by default, read as curl reads it: `HTTPS_PROXY` for https
//! URLs, `HTTP_PROXY` for http ones, `ALL_PROXY` for both, the lowercase forms too, and
//! `NO_PROXY` (hosts, domains with their subdomains, IPs or CIDR ranges, `*`) for the ones
//! reached directly. Loopback is NOT exempt by itself, as with curl: a local emulator behind
//! `HTTP_PROXY` needs `NO_PROXY=127.0.0.1,localhost` (the window's sandbox always goes direct).
//! A failed connection to the proxy names it, never its credentials.

use std::path::{Path, PathBuf};

use hyper_util::client::proxy::matcher::Matcher;
use serde::{Deserialize, Serialize};

use super::http::HttpError;

/// Which proxy outbound calls go through.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ProxySetting {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` from the environment.
    #[default]
    System,
    /// No proxy at all, whatever the environment says.
    Direct,
    /// This proxy for http and https URLs, except the hosts in `no_proxy` (`NO_PROXY`'s
    /// syntax).
    Manual {
        url: String,
        #[serde(default)]
        no_proxy: String,
    },
}

/// The environment's proxy variables, as the window's settings show them (credentials
/// removed).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyEnvironment {
    /// `NAME=value` for each variable set.
    pub variables: Vec<String>,
}

const PROXY_VARIABLES: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

impl ProxyEnvironment {
    pub fn read() -> Self {
        let variables = PROXY_VARIABLES
            .iter()
            .filter_map(|name| {
                let value = std::env::var(name).ok()?;
                let shown = if name.eq_ignore_ascii_case("no_proxy") {
                    value
                } else {
                    without_credentials(&value)
                };
                Some(format!("{name}={shown}"))
            })
            .collect();
        Self { variables }
    }
}

/// A proxy URL as it may be shown: without user and password.
pub fn without_credentials(proxy: &str) -> String {
    match url::Url::parse(proxy) {
        Ok(mut url) if url.has_host() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => match proxy.rsplit_once('@') {
            Some((_, host)) => host.to_owned(),
            None => proxy.to_owned(),
        },
    }
}

/// Which proxy a URL goes through: the same matcher reqwest builds from the same settings.
pub(crate) struct Route(Option<Matcher>);

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Route(proxy)"
        } else {
            "Route(direct)"
        })
    }
}

impl Route {
    /// The proxy `uri` goes through, shown without credentials.
    pub(crate) fn proxy_for(&self, uri: &http::Uri) -> Option<String> {
        let intercept = self.0.as_ref()?.intercept(uri)?;
        Some(intercept.uri().to_string().trim_end_matches('/').to_owned())
    }
}

/// Sets up `builder`'s proxy and trust as `proxy` and `ca_bundle` say; the route names the
/// proxy of each URL in errors.
pub(crate) fn configure(
    mut builder: reqwest::ClientBuilder,
    proxy: &ProxySetting,
    ca_bundle: Option<&Path>,
) -> Result<(reqwest::ClientBuilder, Route), HttpError> {
    let route = match proxy {
        // reqwest reads the environment itself, with this same matcher.
        ProxySetting::System => Route(Some(Matcher::from_system())),
        ProxySetting::Direct => {
            builder = builder.no_proxy();
            Route(None)
        }
        ProxySetting::Manual { url, no_proxy } => {
            let parsed = url::Url::parse(url.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                .ok_or_else(|| {
                    HttpError::Setup(format!(
                        "the proxy {:?} is not an http(s) URL such as http://proxy.example:3128",
                        without_credentials(url)
                    ))
                })?;
            let reqwest_proxy = reqwest::Proxy::all(parsed.as_str())
                .map_err(|e| HttpError::Setup(format!("the proxy URL is refused: {e}")))?
                .no_proxy(reqwest::NoProxy::from_string(no_proxy));
            builder = builder.proxy(reqwest_proxy);
            Route(Some(
                Matcher::builder()
                    .all(parsed.to_string())
                    .no(no_proxy.clone())
                    .build(),
            ))
        }
    };
    if let Some(path) = ca_bundle {
        for cert in read_ca_bundle(path)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok((builder, route))
}

/// The certificates of a PEM bundle (an organization's CA, a TLS-inspecting proxy's CA), added
/// to the system's roots: nothing is ever trusted instead of them.
fn read_ca_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>, HttpError> {
    let pem = std::fs::read(path).map_err(|e| {
        HttpError::Setup(format!(
            "cannot read the CA bundle {} ({e}): give a PEM file of the CA certificates to \
             trust (--ca-bundle FILE or TOKENDESK_CA_BUNDLE)",
            path.display()
        ))
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        HttpError::Setup(format!(
            "the CA bundle {} is not PEM certificates ({e})",
            path.display()
        ))
    })?;
    if certs.is_empty() {
        return Err(HttpError::Setup(format!(
            "the CA bundle {} holds no certificate (PEM blocks starting with -----BEGIN \
             CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// Where a CA bundle comes from when none is given: `TOKENDESK_CA_BUNDLE`.
pub fn ca_bundle_from_env() -> Option<PathBuf> {
    std::env::var_os("TOKENDESK_CA_BUNDLE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// What a failed connection says when it went to a proxy.
pub(crate) fn through_proxy(proxy: &str, host: &str, detail: &str) -> String {
    let direct = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let auth = if detail.to_ascii_lowercase().contains("auth") {
        " It asks for credentials: give them in the proxy URL (http://user:password@host:port)."
    } else {
        ""
    };
    format!(
        "the proxy {proxy} could not be reached or refused the connection to {host} \
         ({detail}).{auth} Check the proxy setting (HTTPS_PROXY/HTTP_PROXY, or the window's \
         Settings), or list {direct} in NO_PROXY to reach it directly"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_is_shown_without_its_credentials() {
        assert_eq!(
            without_credentials("http://ada:s3cret@proxy.example:3128"),
            "http://proxy.example:3128/"
        );
        assert_eq!(without_credentials("ada:s3cret@proxy:3128"), "proxy:3128");
    }

    #[test]
    fn a_manual_proxy_routes_all_but_no_proxy_hosts() {
        let setting = ProxySetting::Manual {
            url: "http://ada:pw@127.0.0.1:3128".into(),
            no_proxy: "internal.example, 10.0.0.0/8".into(),
        };
        let (_, route) = configure(reqwest::Client::builder(), &setting, None).unwrap();
        let via = |u: &str| route.proxy_for(&u.parse().unwrap());
        assert_eq!(
            via("https://oauth2.googleapis.com/token").as_deref(),
            Some("http://127.0.0.1:3128"),
            "named, without the credentials"
        );
        assert_eq!(via("http://api.internal.example/x"), None, "a subdomain");
        assert_eq!(via("http://10.1.2.3:80/"), None, "a CIDR range");
        let (_, direct) =
            configure(reqwest::Client::builder(), &ProxySetting::Direct, None).unwrap();
        assert_eq!(
            direct.proxy_for(&"https://x.example/".parse().unwrap()),
            None
        );
    }

    #[test]
    fn a_bad_proxy_or_bundle_is_refused_with_what_to_give() {
        let bad = ProxySetting::Manual {
            url: "proxy.example".into(),
            no_proxy: String::new(),
        };
        let err = configure(reqwest::Client::builder(), &bad, None).unwrap_err();
        assert!(
            err.to_string().contains("http://proxy.example:3128"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = configure(
            reqwest::Client::builder(),
            &ProxySetting::Direct,
            Some(&empty),
        )
        .unwrap_err();
        assert!(err.to_string().contains("holds no certificate"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = configure(
            reqwest::Client::builder(),
            &ProxySetting::Direct,
            Some(&missing),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--ca-bundle"), "{err}");
    }

    #[test]
    fn a_setting_reads_and_writes_as_the_window_keeps_it() {
        let manual: ProxySetting = serde_json::from_str(
            r#"{"mode": "manual", "url": "http://proxy:3128", "no_proxy": "localhost"}"#,
        )
        .unwrap();
        assert!(matches!(manual, ProxySetting::Manual { .. }));
        assert_eq!(
            serde_json::to_string(&ProxySetting::System).unwrap(),
            r#"{"mode":"system"}"#
        );
    }
}

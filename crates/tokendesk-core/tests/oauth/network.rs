//! Every outbound call through a proxy, for real: a counting proxy on loopback forwards the
//! token exchange and the Drive listing (http URLs: absolute-form requests) and tunnels https
//! (CONNECT) to a TLS server whose CA is trusted only through the CA bundle option.

use std::sync::Arc;

use tokendesk_core::drive::list_app_data;
use tokendesk_core::id_token::get_small;
use tokendesk_core::oauth::{
    HttpClient, HttpConfig, OAuthError, ProxySetting, RedirectChoice, exchange_code,
};
use tokendesk_core::receiver::{
    self, CodeSink, ReceiverConfig, RedeemError, RedeemFuture, TlsFiles,
};
use tokendesk_core::secret::AuthCode;

use crate::proxy::{Proxy, dead_address};
use crate::{Google, fast_config};

fn through(proxy: &str) -> HttpConfig {
    HttpConfig {
        proxy: ProxySetting::Manual {
            url: proxy.to_owned(),
            no_proxy: String::new(),
        },
        ..fast_config()
    }
}

#[tokio::test]
async fn a_token_exchange_and_a_drive_listing_go_through_the_proxy() {
    let proxy = Proxy::start().await;
    let google = Google::with_config(through(&proxy.url())).await;
    let base = google.emulator.base_url().to_owned();
    let code = google.mint("proxied@example.com");
    let tokens = exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Empty)
        .await
        .unwrap();
    let files = list_app_data(&google.http, &google.endpoints, &tokens.access_token, None)
        .await
        .unwrap();
    assert!(files.is_empty());
    let forwarded = proxy.forwarded();
    assert!(
        forwarded.contains(&format!("POST {base}/token HTTP/1.1")),
        "the exchange went through the proxy: {forwarded:?}"
    );
    assert!(
        forwarded
            .iter()
            .any(|l| l.starts_with(&format!("GET {base}/drive/v3/files?"))),
        "the Drive call too: {forwarded:?}"
    );
    assert_eq!(forwarded.len(), 2, "nothing else was sent: {forwarded:?}");
}

#[tokio::test]
async fn a_dead_proxy_is_named_in_the_error() {
    let dead = format!("http://{}", dead_address().await);
    let google = Google::with_config(through(&dead)).await;
    let code = google.mint("stranded@example.com");
    let err = exchange_code(&google.client, AuthCode::new(code), RedirectChoice::Empty)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, OAuthError::Transport { .. }), "{err:?}");
    assert!(
        text.contains(&format!("the proxy {dead}")),
        "the message names the proxy: {text}"
    );
    assert!(text.contains("NO_PROXY"), "and the way around it: {text}");
    assert_eq!(
        google
            .emulator
            .request_count(google_emulator::Endpoint::Token),
        0,
        "nothing reached Google"
    );
}

/// A receiver that is never sent a code: only its `/healthz` is read, over TLS.
struct NoCodes;

impl CodeSink for NoCodes {
    fn redeem(&self, _code: AuthCode) -> RedeemFuture<'_> {
        Box::pin(async {
            Err(RedeemError::Internal {
                code: "unused".into(),
                message: "no code is sent in this test".into(),
            })
        })
    }
}

/// A CA, and a certificate for 127.0.0.1 it signed: the CA's PEM file and the TLS files.
fn ca_and_leaf(dir: &std::path::Path) -> (std::path::PathBuf, TlsFiles) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_pem = dir.join("ca.pem");
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    let files = TlsFiles {
        cert_chain: dir.join("leaf.pem"),
        private_key: dir.join("leaf.key"),
    };
    std::fs::write(&files.cert_chain, leaf.pem()).unwrap();
    std::fs::write(&files.private_key, leaf_key.serialize_pem()).unwrap();
    (ca_pem, files)
}

#[tokio::test]
async fn https_tunnels_through_the_proxy_and_trusts_the_ca_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, tls) = ca_and_leaf(dir.path());
    let rx = receiver::start(
        ReceiverConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: Some(tls),
            allow_non_loopback: false,
            allowed_hosts: Vec::new(),
        },
        Arc::new(NoCodes),
    )
    .await
    .unwrap();
    let url = url::Url::parse(&format!("https://127.0.0.1:{}/healthz", rx.addr().port())).unwrap();
    let proxy = Proxy::start().await;

    let untrusted = HttpClient::new(through(&proxy.url())).unwrap();
    let err = get_small(&untrusted, &url).await.unwrap_err();
    assert!(
        err.contains("--ca-bundle"),
        "an unknown CA is explained, with the option that trusts it: {err}"
    );
    assert!(
        !err.contains("could not be reached"),
        "the proxy worked: it is not blamed: {err}"
    );

    let trusted = HttpClient::new(HttpConfig {
        ca_bundle: Some(ca_pem),
        ..through(&proxy.url())
    })
    .unwrap();
    let answer = get_small(&trusted, &url).await.unwrap();
    assert_eq!(answer.status(), 200, "the CA bundle is trusted");
    let port = rx.addr().port();
    assert_eq!(
        proxy.tunnels(),
        vec![format!("127.0.0.1:{port}"); 2],
        "both https calls were CONNECT tunnels through the proxy"
    );
    assert!(
        proxy.forwarded().is_empty(),
        "https is never forwarded in clear"
    );
    rx.stop();
}

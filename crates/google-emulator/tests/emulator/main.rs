//! The emulator over real HTTP on loopback: every endpoint, every error Google gives, faults,
//! and bad input. One integration binary; modules by endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_faults;
mod admin_guard;
mod auth_params;
mod certs;
mod desktop;
mod drive;
mod robustness;
mod token;
mod token_info;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use google_emulator::Emulator;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct Env {
    pub emu: Emulator,
    pub http: reqwest::Client,
}

impl Env {
    pub async fn start() -> Self {
        Self::with(Emulator::builder()).await
    }

    pub async fn with(builder: google_emulator::Builder) -> Self {
        let emu = builder.start().await.expect("emulator starts");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("client");
        Self { emu, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    pub async fn admin(&self, path: &str, body: Value) -> Value {
        let request = self.http.post(self.url(&format!("/emulator/v1{path}")));
        Self::admin_json(path, request.json(&body)).await
    }

    /// `GET {path}` of any endpoint, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.http.get(self.url(path)).send().await.expect("request");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }

    /// `DELETE /emulator/v1{path}`, as JSON (the admin API takes `{}` when a call has nothing
    /// to say: state-changing calls must be `application/json`).
    pub async fn admin_delete(&self, path: &str) -> Value {
        let request = self.http.delete(self.url(&format!("/emulator/v1{path}")));
        Self::admin_json(path, request.json(&json!({}))).await
    }

    /// `GET /emulator/v1{path}`, as JSON.
    pub async fn admin_get(&self, path: &str) -> Value {
        let request = self.http.get(self.url(&format!("/emulator/v1{path}")));
        Self::admin_json(path, request).await
    }

    async fn admin_json(path: &str, request: reqwest::RequestBuilder) -> Value {
        let r = request.send().await.expect("admin call");
        assert!(
            r.status().is_success(),
            "admin {path} failed: {}",
            r.status()
        );
        r.json().await.expect("admin json")
    }

    /// Mints a serverAuthCode for `email`; returns (code, sub).
    pub async fn mint(&self, body: Value) -> (String, String) {
        let v = self.admin("/codes", body).await;
        (
            v["code"].as_str().unwrap().to_owned(),
            v["sub"].as_str().unwrap().to_owned(),
        )
    }

    /// POSTs a form to `/token` with the web client's credentials in the body.
    pub async fn token(&self, extra: &[(&str, &str)]) -> (u16, Value) {
        let c = self.emu.web_client();
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
        ];
        form.extend_from_slice(extra);
        self.post_form("/token", &form).await
    }

    /// Exchanges a serverAuthCode as the seed's backend does (`redirect_uri=""`).
    pub async fn exchange(&self, code: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", ""),
        ])
        .await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The seed's flow: mint a code for `email` and exchange it with `redirect_uri=""`.
    pub async fn sign_in(&self, email: &str) -> Value {
        let (code, _) = self.mint(json!({"email": email})).await;
        let (status, body) = self.exchange(&code).await;
        assert_eq!(status, 200, "exchange failed: {body}");
        body
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// The claims of a JWT, without verifying it.
pub fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

pub fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

/// Verifies an RS256 JWT against a JWK set independently of the emulator's own code.
pub fn verify_with_jwks(jwt: &str, jwks: &Value) -> bool {
    let kid = header(jwt)["kid"].as_str().unwrap_or_default().to_owned();
    let Some(key) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
    else {
        return false;
    };
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    let (signed, sig) = jwt.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &sig,
        )
        .is_ok()
}

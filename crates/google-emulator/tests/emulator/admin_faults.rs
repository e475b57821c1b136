//! The admin API: users, codes, faults, request counts, the clock.

use std::time::{Duration, Instant};

use google_emulator::{Endpoint, Fault};
use serde_json::{Value, json};

use crate::Env;

#[tokio::test]
async fn the_same_email_is_the_same_user_and_sub() {
    let env = Env::start().await;
    let (_, a) = env.mint(json!({"email": "ada@example.com"})).await;
    let (_, b) = env
        .mint(json!({"email": "ADA@example.com", "name": "Countess"}))
        .await;
    assert_eq!(a, b);
    let users = env.admin_get("/users").await;
    let users = users["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        users[0]["name"], "Countess",
        "later calls update the profile"
    );
}

#[tokio::test]
async fn config_names_the_clients_and_only_the_desktop_secret() {
    let env = Env::start().await;
    let c: Value = env
        .http
        .get(env.url("/emulator/v1/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["web_client_id"], env.emu.web_client().client_id.as_str());
    assert_eq!(c["ios_client_id"], env.emu.ios_client_id());
    assert_eq!(c["issuer"], env.emu.issuer());
    let desktop = env.emu.desktop_client();
    assert_eq!(c["desktop_client_id"], desktop.client_id.as_str());
    assert_eq!(
        c["desktop_client_secret"],
        desktop.client_secret.as_str(),
        "an installed client's secret is not confidential: tests read it here"
    );
    assert!(
        c.get("client_secret").is_none()
            && !c
                .to_string()
                .contains(env.emu.web_client().client_secret.as_str()),
        "never the web client's secret: {c}"
    );
}

#[tokio::test]
async fn bad_admin_input_is_a_clear_400() {
    let env = Env::start().await;
    for body in ["{not json", "{\"email\": 5}", "{\"email\": \"no-at-sign\"}"] {
        let r = env
            .http
            .post(env.url("/emulator/v1/codes"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let b: Value = r.json().await.unwrap();
        assert!(b["error_description"].as_str().unwrap().len() > 5);
    }
}

#[tokio::test]
async fn injected_429_carries_retry_after_for_the_next_n_requests_only() {
    let env = Env::start().await;
    env.admin(
        "/faults",
        json!({"endpoint": "token", "status": 429, "retry_after": 7, "count": 2}),
    )
    .await;
    for _ in 0..2 {
        let r = env
            .http
            .post(env.url("/token"))
            .form(&[("grant_type", "refresh_token")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"], "rate_limit_exceeded");
    }
    let t = env.sign_in("ada@example.com").await;
    assert!(
        t["access_token"].is_string(),
        "after N faults the endpoint works again"
    );
}

#[tokio::test]
async fn injected_drive_errors_have_drives_shape() {
    let env = Env::start().await;
    let token = env.sign_in("ada@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    env.emu.inject(Fault::new(Endpoint::Drive).status(503));
    let (s, b) = env.get_bearer("/drive/v3/files/appfolder", &token).await;
    assert_eq!(s, 503);
    assert_eq!(b["error"]["errors"][0]["reason"], "backendError");
    env.emu.inject(Fault::new(Endpoint::Drive).status(429));
    let (s, b) = env.get_bearer("/drive/v3/files/appfolder", &token).await;
    assert_eq!(s, 429);
    assert_eq!(b["error"]["errors"][0]["reason"], "rateLimitExceeded");
}

#[tokio::test]
async fn injected_latency_delays_the_answer() {
    let env = Env::start().await;
    env.emu
        .inject(Fault::new(Endpoint::Certs).latency(Duration::from_millis(300)));
    let start = Instant::now();
    let r = env
        .http
        .get(env.url("/oauth2/v3/certs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "latency alone does not change the answer");
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "the answer waited for the latency"
    );
}

#[tokio::test]
async fn a_dropped_connection_gives_the_client_no_response() {
    let env = Env::start().await;
    env.admin("/faults", json!({"endpoint": "token", "drop": true}))
        .await;
    let err = env
        .http
        .post(env.url("/token"))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .expect_err("the connection is closed without a response");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    let (s, _) = env.token(&[("grant_type", "nope")]).await;
    assert_eq!(s, 400, "the next request is answered normally");
}

#[tokio::test]
async fn requests_are_counted_and_logged_with_secrets_redacted() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    env.post_form(
        "/revoke",
        &[("token", t["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(env.emu.request_count(Endpoint::Token), 1);
    let log: Value = env
        .http
        .get(env.url("/emulator/v1/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["counts"]["token"], 1);
    assert_eq!(log["counts"]["revoke"], 1);
    let text = log.to_string();
    let secret = &env.emu.web_client().client_secret;
    assert!(
        !text.contains(secret.as_str()),
        "the client secret must not be in the log"
    );
    assert!(
        !text.contains(t["refresh_token"].as_str().unwrap()),
        "nor the refresh token"
    );
    let token_req = &log["requests"][0];
    assert_eq!(
        token_req["params"]["redirect_uri"], "",
        "non-secret values are kept for assertions"
    );
    assert_eq!(token_req["params"]["code"], "[redacted]");
    env.admin_delete("/requests").await;
    assert_eq!(env.emu.request_count(Endpoint::Token), 0);
}

#[tokio::test]
async fn clearing_faults_restores_normal_answers() {
    let env = Env::start().await;
    env.admin(
        "/faults",
        json!({"endpoint": "*", "status": 500, "count": 100}),
    )
    .await;
    let r = env
        .http
        .get(env.url("/oauth2/v3/certs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    env.admin_delete("/faults").await;
    let r = env
        .http
        .get(env.url("/oauth2/v3/certs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_clock_can_travel() {
    let env = Env::start().await;
    let v = env.admin("/clock", json!({"offset_secs": 86400})).await;
    assert_eq!(v["offset_secs"], 86400);
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((v["now"].as_i64().unwrap() - real - 86400).abs() <= 2);
}

#[tokio::test]
async fn refresh_rotation_hands_out_new_tokens_and_a_reused_one_kills_the_grant() {
    let env = Env::start().await;
    let off = env.admin_get("/refresh-rotation").await;
    assert_eq!(
        off,
        json!({"enabled": false, "reuse_detected": 0}),
        "off by default"
    );
    let on = env
        .admin("/refresh-rotation", json!({"enabled": true}))
        .await;
    assert_eq!(on["enabled"], true);

    let signed_in = env.sign_in("rotating@example.com").await;
    let rt1 = signed_in["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String| {
        let env = &env;
        async move {
            env.token(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
                .await
        }
    };
    let (status, body) = refresh(rt1.clone()).await;
    assert_eq!(status, 200, "{body}");
    let rt2 = body["refresh_token"]
        .as_str()
        .expect("a rotating refresh answers a new refresh token")
        .to_owned();
    assert_ne!(rt1, rt2);
    assert!(rt2.starts_with("1//"), "shaped like Google's");

    let (status, body) = refresh(rt1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(rt2).await;
    assert_eq!(status, 400, "the reuse killed the grant: RT2 is dead too");
    assert_eq!(env.emu.refresh_reuse_detections(), 1);
    let state = env
        .admin("/refresh-rotation", json!({"enabled": false}))
        .await;
    assert_eq!(state, json!({"enabled": false, "reuse_detected": 1}));
}

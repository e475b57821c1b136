//! `/revoke`, `/tokeninfo` and userinfo.

use serde_json::json;

use crate::{Env, claims};

#[tokio::test]
async fn revoking_the_refresh_token_kills_the_whole_grant() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    let (s, _) = env
        .post_form(
            "/revoke",
            &[("token", t["refresh_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = env
        .get_bearer("/v1/userinfo", t["access_token"].as_str().unwrap())
        .await;
    assert_eq!(s, 401, "the access token of a revoked grant stops working");
    let (s, b) = env
        .post_form(
            "/revoke",
            &[("token", t["refresh_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!({"error": "invalid_token", "error_description": "Token expired or revoked"})
    );
}

#[tokio::test]
async fn revoking_the_access_token_with_get_kills_the_refresh_token_too() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    // oauth2client revokes with GET ?token=.
    let r = env
        .http
        .get(env.url("/revoke"))
        .query(&[("token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, b) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn revoke_without_a_token_is_invalid_request() {
    let env = Env::start().await;
    let (s, b) = env.post_form("/revoke", &[]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    let (s, b) = env.post_form("/revoke", &[("token", "never-issued")]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_token")));
}

#[tokio::test]
async fn tokeninfo_for_an_access_token_has_string_typed_fields() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    let r = env
        .http
        .get(env.url("/tokeninfo"))
        .query(&[("access_token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: serde_json::Value = r.json().await.unwrap();
    assert_eq!(info["aud"], env.emu.web_client().client_id.as_str());
    assert_eq!(info["azp"], env.emu.ios_client_id());
    assert_eq!(info["email"], "ada@example.com");
    assert_eq!(
        info["email_verified"], "true",
        "tokeninfo reports booleans as strings"
    );
    assert_eq!(info["access_type"], "offline");
    assert!(
        info["exp"].is_string() && info["expires_in"].is_string(),
        "{info}"
    );
    let expires_in: i64 = info["expires_in"].as_str().unwrap().parse().unwrap();
    assert!((3500..=3599).contains(&expires_in));
    assert!(info["scope"].as_str().unwrap().contains("drive.appdata"));
}

#[tokio::test]
async fn tokeninfo_for_an_id_token_reports_claims_as_strings_with_header_fields() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    let jwt = t["id_token"].as_str().unwrap();
    let (s, info) = env.post_form("/tokeninfo", &[("id_token", jwt)]).await;
    assert_eq!(s, 200, "{info}");
    assert_eq!(info["sub"], claims(jwt)["sub"]);
    assert_eq!(info["email_verified"], "true");
    assert_eq!(info["exp"], claims(jwt)["exp"].to_string());
    assert_eq!(info["alg"], "RS256");
    assert_eq!(info["typ"], "JWT");
    assert_eq!(info["kid"], crate::header(jwt)["kid"]);
}

#[tokio::test]
async fn tokeninfo_refuses_garbage_expired_and_refresh_tokens() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    let invalid = json!({"error": "invalid_token", "error_description": "Invalid Value"});
    for (k, v) in [
        ("access_token", "ya29.garbage"),
        ("id_token", "a.b.c"),
        ("access_token", t["refresh_token"].as_str().unwrap()),
    ] {
        let (s, b) = env.post_form("/tokeninfo", &[(k, v)]).await;
        assert_eq!((s, &b), (400, &invalid), "{k}");
    }
    env.emu.set_clock_offset(3601);
    let (s, _) = env
        .post_form(
            "/tokeninfo",
            &[("id_token", t["id_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(s, 400, "an expired ID token is invalid");
    let (s, _) = env
        .post_form(
            "/tokeninfo",
            &[("access_token", t["access_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(s, 400, "an expired access token is invalid");
}

#[tokio::test]
async fn userinfo_returns_the_profile_for_a_bearer_token() {
    let env = Env::start().await;
    let (code, sub) = env
        .mint(json!({"email": "ada@example.com", "name": "Ada Lovelace"}))
        .await;
    let (_, t) = env.exchange(&code).await;
    for path in ["/v1/userinfo", "/oauth2/v3/userinfo"] {
        let (s, u) = env
            .get_bearer(path, t["access_token"].as_str().unwrap())
            .await;
        assert_eq!(s, 200);
        assert_eq!(u["sub"], sub.as_str());
        assert_eq!(u["name"], "Ada Lovelace");
        assert_eq!(
            u["email_verified"], true,
            "userinfo's email_verified is a boolean"
        );
    }
    let (s, b) = env.get_bearer("/v1/userinfo", "ya29.nope").await;
    assert_eq!(s, 401);
    assert_eq!(
        b,
        json!({"error": "invalid_request", "error_description": "Invalid Credentials"})
    );
}

//! `/token`, the consent page and the ID token it signs.

use base64::Engine as _;
use serde_json::json;

use crate::{Env, claims, verify_with_jwks};

#[tokio::test]
async fn discovery_points_at_this_origin_with_google_fields() {
    let env = Env::start().await;
    let d: serde_json::Value = env
        .http
        .get(env.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = env.emu.base_url();
    assert_eq!(
        d["issuer"], "https://accounts.google.com",
        "Google's issuer by default"
    );
    assert_eq!(d["token_endpoint"], format!("{base}/token"));
    assert_eq!(d["jwks_uri"], format!("{base}/oauth2/v3/certs"));
    assert_eq!(d["revocation_endpoint"], format!("{base}/revoke"));
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        json!(["plain", "S256"])
    );
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "client_secret_basic"])
    );
}

#[tokio::test]
async fn issuer_modes_put_the_same_iss_in_discovery_and_id_tokens() {
    use google_emulator::{Emulator, IssuerMode};
    for mode in [
        IssuerMode::Google,
        IssuerMode::GoogleLegacy,
        IssuerMode::Origin,
    ] {
        let env = Env::with(Emulator::builder().issuer_mode(mode)).await;
        let expected = match mode {
            IssuerMode::Google => "https://accounts.google.com".to_owned(),
            IssuerMode::GoogleLegacy => "accounts.google.com".to_owned(),
            IssuerMode::Origin => env.emu.base_url().to_owned(),
        };
        let d: serde_json::Value = env
            .http
            .get(env.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d["issuer"], expected.as_str(), "{mode:?}");
        let t = env.sign_in("ada@example.com").await;
        assert_eq!(
            claims(t["id_token"].as_str().unwrap())["iss"],
            expected.as_str(),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn a_one_word_name_has_no_family_name_claim() {
    let env = Env::start().await;
    let (code, _) = env
        .mint(json!({"email": "cher@example.com", "name": "Cher"}))
        .await;
    let (_, t) = env.exchange(&code).await;
    let c = claims(t["id_token"].as_str().unwrap());
    assert_eq!(c["given_name"], "Cher");
    assert!(
        c.get("family_name").is_none(),
        "Google omits claims a user does not have: {c}"
    );
}

#[tokio::test]
async fn server_auth_code_exchange_has_googles_shape() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    assert!(t["access_token"].as_str().unwrap().starts_with("ya29."));
    assert!(
        t["refresh_token"].as_str().unwrap().starts_with("1//"),
        "offline + consent"
    );
    assert_eq!(t["expires_in"], 3599);
    assert_eq!(t["token_type"], "Bearer");
    let scope = t["scope"].as_str().unwrap();
    for s in [
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
        "https://www.googleapis.com/auth/drive.appdata",
    ] {
        assert!(
            scope.split(' ').any(|x| x == s),
            "scope {s} must come back expanded: {scope}"
        );
    }
}

#[tokio::test]
async fn server_auth_code_accepts_absent_redirect_uri() {
    let env = Env::start().await;
    let (code, _) = env.mint(json!({"email": "ada@example.com"})).await;
    let (status, body) = env
        .token(&[("grant_type", "authorization_code"), ("code", &code)])
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn id_token_carries_googles_claims_and_verifies_against_the_jwks() {
    let env = Env::start().await;
    let (code, sub) = env
        .mint(json!({"email": "grace.hopper@example.com", "name": "Grace Brewster Hopper", "locale": "en-GB"}))
        .await;
    let (_, t) = env.exchange(&code).await;
    let jwt = t["id_token"].as_str().unwrap();
    let c = claims(jwt);
    assert_eq!(c["iss"], env.emu.issuer());
    assert_eq!(
        c["aud"],
        env.emu.web_client().client_id.as_str(),
        "aud is the server client"
    );
    assert_eq!(c["azp"], env.emu.ios_client_id(), "azp is the iOS client");
    assert_eq!(c["sub"], sub.as_str());
    assert_eq!(sub.len(), 21);
    assert_eq!(c["email"], "grace.hopper@example.com");
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["name"], "Grace Brewster Hopper");
    assert_eq!(c["given_name"], "Grace");
    assert_eq!(c["family_name"], "Brewster Hopper");
    assert_eq!(c["locale"], "en-GB");
    assert_eq!(c["hd"], "example.com", "Workspace users carry hd");
    assert!(
        c["picture"]
            .as_str()
            .unwrap()
            .starts_with("https://lh3.googleusercontent.com/")
    );
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        t["access_token"].as_str().unwrap().as_bytes(),
    );
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]);
    assert_eq!(
        c["at_hash"],
        expected.as_str(),
        "at_hash binds the ID token to the access token"
    );
    let jwks = env
        .http
        .get(env.url("/oauth2/v3/certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        verify_with_jwks(jwt, &jwks),
        "the signature must verify with the published key"
    );
}

#[tokio::test]
async fn consumer_accounts_have_no_hd() {
    let env = Env::start().await;
    let t = env.sign_in("someone@gmail.com").await;
    assert!(claims(t["id_token"].as_str().unwrap()).get("hd").is_none());
}

#[tokio::test]
async fn client_secret_basic_is_accepted() {
    let env = Env::start().await;
    let (code, _) = env.mint(json!({"email": "ada@example.com"})).await;
    let c = env.emu.web_client();
    let r = env
        .http
        .post(env.url("/token"))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn used_code_is_refused_and_revokes_what_it_issued() {
    let env = Env::start().await;
    let (code, _) = env.mint(json!({"email": "ada@example.com"})).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", ""),
    ];
    let (_, first) = env.token(&form).await;
    let (status, err) = env.token(&form).await;
    assert_eq!(status, 400);
    assert_eq!(
        err,
        json!({"error": "invalid_grant", "error_description": "Bad Request"})
    );
    let rt = first["refresh_token"].as_str().unwrap();
    let (status, err) = env
        .token(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .await;
    assert_eq!(
        status, 400,
        "RFC 6749 §4.1.2: tokens from a replayed code are revoked"
    );
    assert_eq!(
        err["error_description"],
        "Token has been expired or revoked."
    );
}

#[tokio::test]
async fn expired_code_is_refused() {
    let env = Env::start().await;
    let (code, _) = env.mint(json!({"email": "ada@example.com"})).await;
    env.emu.set_clock_offset(601);
    let (status, err) = env.exchange(&code).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn double_encoded_code_is_malformed() {
    let env = Env::start().await;
    let (code, _) = env.mint(json!({"email": "ada@example.com"})).await;
    let encoded = code.replace('/', "%2F");
    let (status, err) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &encoded),
            ("redirect_uri", ""),
        ])
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error_description"], "Malformed auth code.");
}

#[tokio::test]
async fn client_authentication_errors_are_googles() {
    let env = Env::start().await;
    let (code, _) = env.mint(json!({"email": "ada@example.com"})).await;
    let id = env.emu.web_client().client_id.clone();
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![
                ("client_id", "nobody.apps.googleusercontent.com"),
                ("client_secret", "x"),
            ],
            401,
            "invalid_client",
            "The OAuth client was not found.",
        ),
        (
            vec![("client_id", &id), ("client_secret", "wrong")],
            401,
            "invalid_client",
            "Unauthorized",
        ),
        (
            vec![("client_id", &id)],
            400,
            "invalid_request",
            "client_secret is missing.",
        ),
        (
            vec![("client_secret", "x")],
            400,
            "invalid_request",
            "Could not determine client ID from request.",
        ),
    ];
    for (auth, status, error, description) in cases {
        let mut form = auth.clone();
        form.extend([
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", ""),
        ]);
        let (s, body) = env.post_form("/token", &form).await;
        assert_eq!(s, status, "{auth:?}: {body}");
        assert_eq!(
            body,
            json!({"error": error, "error_description": description})
        );
    }
    // None of the failures above consumed the code.
    let (s, _) = env.exchange(&code).await;
    assert_eq!(
        s, 200,
        "a failed client authentication must not burn the code"
    );
}

#[tokio::test]
async fn postmessage_for_an_ios_code_is_a_redirect_mismatch_unless_allowed() {
    let env = Env::start().await;
    let (code, _) = env.mint(json!({"email": "ada@example.com"})).await;
    let (s, body) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "postmessage"),
        ])
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("redirect_uri_mismatch"))
    );
    let (code, _) = env
        .mint(json!({"email": "ada@example.com", "allow_postmessage": true}))
        .await;
    let (s, _) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "postmessage"),
        ])
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn grant_type_and_parameter_errors() {
    let env = Env::start().await;
    let (s, b) = env.token(&[("grant_type", "password")]).await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: password"})
    );
    let (s, b) = env.token(&[]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    let (s, b) = env.token(&[("grant_type", "authorization_code")]).await;
    assert_eq!(s, 400);
    assert_eq!(b["error_description"], "Missing required parameter: code");
    let (s, b) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "a"),
            ("code", "b"),
        ])
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_request")),
        "repeated parameter: {b}"
    );
}

#[tokio::test]
async fn refresh_gives_an_id_token_without_profile_claims_and_no_new_refresh_token() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    let rt = t["refresh_token"].as_str().unwrap();
    let (s, r) = env
        .token(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .await;
    assert_eq!(s, 200, "{r}");
    assert!(
        r.get("refresh_token").is_none(),
        "Google does not rotate refresh tokens"
    );
    assert_ne!(r["access_token"], t["access_token"]);
    let c = claims(r["id_token"].as_str().unwrap());
    assert_eq!(c["sub"], claims(t["id_token"].as_str().unwrap())["sub"]);
    assert_eq!(c["email"], "ada@example.com");
    for missing in ["name", "picture", "given_name", "family_name"] {
        assert!(
            c.get(missing).is_none(),
            "refreshed ID tokens lack {missing} (dex#1718)"
        );
    }
}

#[tokio::test]
async fn refresh_with_a_revoked_token_is_expired_or_revoked() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    env.admin("/grants/revoke", json!({"email": "ada@example.com"}))
        .await;
    let rt = t["refresh_token"].as_str().unwrap();
    let (s, b) = env
        .token(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
}

#[tokio::test]
async fn returning_user_without_prompt_consent_gets_no_refresh_token() {
    let env = Env::start().await;
    env.sign_in("ada@example.com").await;
    let (code, _) = env
        .mint(json!({"email": "ada@example.com", "prompt": "none"}))
        .await;
    let (_, t) = env.exchange(&code).await;
    assert!(t.get("refresh_token").is_none(), "{t}");
    let (code, _) = env
        .mint(json!({"email": "bob@example.com", "access_type": "online"}))
        .await;
    let (_, t) = env.exchange(&code).await;
    assert!(
        t.get("refresh_token").is_none(),
        "online access never has a refresh token"
    );
}

/// Walks the consent page like a browser: GET the page, POST the choice, follow the redirect.
async fn consent(env: &Env, query: &[(&str, &str)], email: &str) -> reqwest::Url {
    let page = env
        .http
        .get(env.url("/o/oauth2/v2/auth"))
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form"), "consent page has a form");
    let mut form: Vec<(&str, &str)> = query.to_vec();
    form.extend([("new_email", email), ("decision", "allow")]);
    let r = env
        .http
        .post(env.url("/o/oauth2/v2/auth"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn consent_page_redirects_with_code_and_state_and_pkce_s256_is_enforced() {
    let env = Env::start().await;
    let client_id = env.emu.web_client().client_id.clone();
    let redirect = env.url("/callback");
    let verifier = "a-very-long-verifier-string-of-at-least-43-characters-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
    );
    let query = [
        ("client_id", client_id.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "xyz"),
        ("access_type", "offline"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let location = consent(&env, &query, "ada@example.com").await;
    assert!(location.as_str().starts_with(&redirect));
    assert_eq!(param(&location, "state").as_deref(), Some("xyz"));
    let code = param(&location, "code").unwrap();
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
    ];
    let (s, b) = env.token(&[base[0], base[1], ("redirect_uri", "")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("redirect_uri_mismatch")),
        "web codes need their redirect_uri"
    );
    let (s, b) = env
        .token(&[base[0], base[1], ("redirect_uri", &redirect)])
        .await;
    assert_eq!(
        (s, b["error_description"].as_str()),
        (400, Some("Missing code verifier."))
    );
    let (s, b) = env
        .token(&[
            base[0],
            base[1],
            ("redirect_uri", &redirect),
            ("code_verifier", "wrong-verifier"),
        ])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    let (s, t) = env
        .token(&[
            base[0],
            base[1],
            ("redirect_uri", &redirect),
            ("code_verifier", verifier),
        ])
        .await;
    assert_eq!(s, 200, "{t}");
    assert!(
        t["refresh_token"].is_string(),
        "first consent with access_type=offline"
    );
    assert_eq!(
        claims(t["id_token"].as_str().unwrap())["azp"],
        client_id.as_str()
    );
}

#[tokio::test]
async fn consent_page_refuses_an_unregistered_redirect_uri_without_redirecting() {
    let env = Env::start().await;
    let r = env
        .http
        .get(env.url("/o/oauth2/v2/auth"))
        .query(&[
            ("client_id", env.emu.web_client().client_id.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.headers().get("location").is_none(),
        "never redirect to an unregistered URI"
    );
    assert!(r.text().await.unwrap().contains("redirect_uri_mismatch"));
}

#[tokio::test]
async fn consent_page_escapes_user_names() {
    let env = Env::start().await;
    env.admin(
        "/users",
        json!({"email": "x@example.com", "name": "<img src=x onerror=alert(1)>"}),
    )
    .await;
    let html = env
        .http
        .get(env.url("/o/oauth2/v2/auth"))
        .query(&[
            ("client_id", env.emu.web_client().client_id.as_str()),
            ("redirect_uri", env.url("/callback").as_str()),
            ("response_type", "code"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("<img src=x"),
        "a test user's name must render as text"
    );
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[tokio::test]
async fn cancel_on_the_consent_page_redirects_access_denied() {
    let env = Env::start().await;
    let cb = env.url("/callback");
    let client_id = env.emu.web_client().client_id.clone();
    let form = [
        ("client_id", client_id.as_str()),
        ("redirect_uri", cb.as_str()),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s1"),
        ("decision", "deny"),
    ];
    let r = env
        .http
        .post(env.url("/o/oauth2/v2/auth"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&location, "state").as_deref(), Some("s1"));
}

#[tokio::test]
async fn a_code_redeemed_by_another_client_is_unauthorized_client() {
    let env = Env::start().await;
    let (code, _) = env.mint(json!({"email": "ada@example.com"})).await;
    // The iOS client is public (no secret): it authenticates, but the code belongs to the web
    // client the app named as serverClientID.
    let (s, b) = env
        .post_form(
            "/token",
            &[
                ("client_id", env.emu.ios_client_id()),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", ""),
            ],
        )
        .await;
    assert_eq!(s, 401);
    assert_eq!(
        b,
        json!({"error": "unauthorized_client", "error_description": "Unauthorized"})
    );
}

#[tokio::test]
async fn a_refresh_asking_for_more_scope_than_granted_is_invalid_scope() {
    let env = Env::start().await;
    let t = env.sign_in("ada@example.com").await;
    let rt = t["refresh_token"].as_str().unwrap();
    let (s, b) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "https://www.googleapis.com/auth/drive"),
        ])
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_scope")),
        "{b}"
    );
    let (s, narrowed) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "email"),
        ])
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        narrowed["scope"],
        "https://www.googleapis.com/auth/userinfo.email"
    );
    assert!(
        narrowed.get("id_token").is_none(),
        "no openid in the narrowed scope, no ID token"
    );
}

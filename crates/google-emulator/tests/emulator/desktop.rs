//! The "Desktop app" (installed) client: a test plays the person at the consent page, the
//! browser lands on the app's loopback port, and the app redeems the code with its verifier.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{Env, claims, verify_with_jwks};

const VERIFIER: &str = "desktop-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// An authorization request of the desktop client, as a sign-in lab would build it.
fn auth_query(env: &Env, redirect_uri: &str) -> Vec<(String, String)> {
    [
        ("client_id", env.emu.desktop_client().client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st-42"),
        ("access_type", "offline"),
        ("code_challenge", &s256(VERIFIER)),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn without(query: &[(String, String)], name: &str) -> Vec<(String, String)> {
    query.iter().filter(|(k, _)| k != name).cloned().collect()
}

fn with(query: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut q = without(query, name);
    q.push((name.to_owned(), value.to_owned()));
    q
}

async fn auth_page(env: &Env, query: &[(String, String)]) -> reqwest::Response {
    env.http
        .get(env.url("/o/oauth2/v2/auth"))
        .query(query)
        .send()
        .await
        .unwrap()
}

/// The person at the consent page: GET it, then submit its form as a browser would (its
/// hidden fields, plus the chosen account and Allow). Returns the `Location` it redirects to.
async fn play_the_person(env: &Env, query: &[(String, String)], choice: &[(&str, &str)]) -> String {
    let page = auth_page(env, query).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=post action=\"/o/oauth2/v2/auth\">"));
    let form = google_emulator::person::consent_form(&html, choice);
    let r = env
        .http
        .post(env.url("/o/oauth2/v2/auth"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap_or_default());
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The desktop app's side: a one-shot HTTP listener on a free loopback port. Returns the
/// redirect URI to send and a task answering with the request target the browser brought.
async fn loopback_receiver(path: &str) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the browser closed before sending its request");
            request.extend_from_slice(&buf[..n]);
        }
        let body = "Signed in. You may close this tab.";
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        let line = String::from_utf8_lossy(&request)
            .lines()
            .next()
            .unwrap()
            .to_owned();
        line.split(' ').nth(1).unwrap().to_owned()
    });
    (format!("http://127.0.0.1:{port}{path}"), task)
}

fn param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `/token` as the desktop client, with its secret unless `form` brings one.
async fn desktop_token(env: &Env, form: &[(&str, &str)]) -> (u16, Value) {
    let c = env.emu.desktop_client();
    let mut all: Vec<(&str, &str)> = vec![("client_id", &c.client_id)];
    if !form.iter().any(|(k, _)| *k == "client_secret") {
        all.push(("client_secret", &c.client_secret));
    }
    all.extend_from_slice(form);
    env.post_form("/token", &all).await
}

/// Signs in a new user through the consent page with a loopback redirect; returns the code.
async fn desktop_code(env: &Env, redirect_uri: &str, email: &str) -> String {
    let location =
        play_the_person(env, &auth_query(env, redirect_uri), &[("new_email", email)]).await;
    assert!(location.starts_with(redirect_uri), "{location}");
    param(&location, "code").expect("a code")
}

/// Allow, POSTed straight at the endpoint without the page: held to the same rules.
async fn allow_without_the_page(env: &Env, query: &[(String, String)]) -> reqwest::Response {
    let mut form = query.to_vec();
    form.extend([
        ("new_email".to_owned(), "ada@example.com".to_owned()),
        ("decision".to_owned(), "allow".to_owned()),
    ]);
    env.http
        .post(env.url("/o/oauth2/v2/auth"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_desktop_sign_in_runs_from_the_consent_page_to_a_verified_id_token() {
    let env = Env::start().await;
    // The app's credentials come from its client_secret.json, as a Desktop app's would.
    let file = env.emu.desktop_client_secret_json();
    let client_id = file["installed"]["client_id"].as_str().unwrap().to_owned();
    let secret = file["installed"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(client_id, env.emu.desktop_client().client_id);

    let (redirect_uri, receiver) = loopback_receiver("/callback").await;
    let location = play_the_person(
        &env,
        &auth_query(&env, &redirect_uri),
        &[
            ("new_email", "staff.member@example.com"),
            ("new_name", "Staff Member"),
        ],
    )
    .await;
    assert!(
        location.starts_with(&format!("{redirect_uri}?")),
        "{location}"
    );

    // The browser follows the redirect to the app's loopback port.
    let landed = env.http.get(&location).send().await.unwrap();
    assert_eq!(landed.status(), 200);
    let target = receiver.await.unwrap();
    let received = format!("http://127.0.0.1{target}");
    assert!(target.starts_with("/callback?"), "{target}");
    assert_eq!(param(&received, "state").as_deref(), Some("st-42"));
    let code = param(&received, "code").expect("the app receives the code");

    let (status, t) = env
        .post_form(
            "/token",
            &[
                ("client_id", &client_id),
                ("client_secret", &secret),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(status, 200, "{t}");
    let jwt = t["id_token"].as_str().unwrap();
    let c = claims(jwt);
    assert_eq!(c["aud"], client_id.as_str(), "aud is the desktop client");
    assert_eq!(c["azp"], client_id.as_str(), "azp too: no audience split");
    assert_eq!(c["iss"], env.emu.issuer());
    assert_eq!(c["email"], "staff.member@example.com");
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["name"], "Staff Member");
    assert_eq!(c["hd"], "example.com", "a workspace user carries hd");
    assert!(
        verify_with_jwks(jwt, &env.get_json("/oauth2/v3/certs").await),
        "signed with the published key"
    );

    let rt = t["refresh_token"].as_str().expect("first consent, offline");
    let (status, refreshed) = desktop_token(
        &env,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        claims(refreshed["id_token"].as_str().unwrap())["aud"],
        client_id.as_str()
    );
    let (status, b) = env
        .token(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .await;
    assert_eq!(
        (status, b["error"].as_str()),
        (401, Some("unauthorized_client")),
        "the web client cannot use the desktop client's refresh token"
    );
}

#[tokio::test]
async fn desktop_redirects_take_any_loopback_port_and_nothing_else() {
    let env = Env::start().await;
    for uri in [
        "http://127.0.0.1:1/",
        "http://127.0.0.1:65535/oauth2redirect/lab",
        "http://[::1]:61023/cb",
        "http://localhost:8080/callback",
        "http://localhost",
        "http://127.0.0.1",
    ] {
        let r = auth_page(&env, &auth_query(&env, uri)).await;
        assert_eq!(r.status(), 200, "{uri} is a loopback redirect");
    }
    for uri in [
        "https://127.0.0.1:8080/cb",
        "http://evil.example:8080/cb",
        "http://localhost.evil.example/cb",
        "http://127.0.0.2:8080/cb",
        "http://evil@127.0.0.1:8080/cb",
        "http://127.0.0.1:8080/cb#fragment",
        "com.example.lab:/oauth2redirect",
        "urn:ietf:wg:oauth:2.0:oob",
    ] {
        let r = auth_page(&env, &auth_query(&env, uri)).await;
        assert_eq!(r.status(), 400, "{uri}");
        assert!(
            r.headers().get("location").is_none(),
            "never redirected to {uri}"
        );
        assert!(
            r.text().await.unwrap().contains("redirect_uri_mismatch"),
            "{uri}"
        );
    }
    let r = allow_without_the_page(&env, &auth_query(&env, "http://evil.example:8080/cb")).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // Any-port loopback is the desktop client's rule, not the web client's.
    let web = with(
        &auth_query(&env, "http://127.0.0.1:5555/cb"),
        "client_id",
        &env.emu.web_client().client_id,
    );
    let r = auth_page(&env, &web).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("redirect_uri_mismatch"));
}

#[tokio::test]
async fn desktop_sign_in_requires_pkce() {
    let env = Env::start().await;
    let query = auth_query(&env, "http://127.0.0.1:4321/cb");
    let no_pkce = without(&without(&query, "code_challenge"), "code_challenge_method");
    let r = auth_page(&env, &no_pkce).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("invalid_request"), "{html}");
    assert!(
        html.contains("Missing required parameter: code_challenge"),
        "{html}"
    );

    let r = allow_without_the_page(&env, &no_pkce).await;
    assert_eq!(r.status(), 400, "the form cannot skip PKCE either");
    assert!(r.headers().get("location").is_none());

    let r = auth_page(&env, &with(&query, "code_challenge_method", "s256")).await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("&#39;s256&#39; is not a valid CodeChallengeMethod"),
        "Google's wording for an unknown method"
    );

    // `plain`, which Google also accepts: the verifier is the challenge.
    let redirect = "http://localhost:4321/cb";
    let plain = with(
        &with(&auth_query(&env, redirect), "code_challenge", VERIFIER),
        "code_challenge_method",
        "plain",
    );
    let location = play_the_person(&env, &plain, &[("new_email", "ada@example.com")]).await;
    let code = param(&location, "code").unwrap();
    let (status, t) = desktop_token(
        &env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{t}");
}

/// A refusal at `/token`: the good form with `drop` left out and `set` replacing values.
struct Refusal<'a> {
    drop: &'a str,
    set: Option<(&'a str, &'a str)>,
    status: u16,
    error: &'a str,
    description: &'a str,
}

#[tokio::test]
async fn the_token_endpoint_holds_a_desktop_code_to_its_verifier_secret_and_redirect() {
    let env = Env::start().await;
    let redirect = "http://127.0.0.1:49152/cb";
    let code = desktop_code(&env, redirect, "ada@example.com").await;
    let c = env.emu.desktop_client().clone();
    let good: Vec<(&str, &str)> = vec![
        ("client_id", &c.client_id),
        ("client_secret", &c.client_secret),
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", redirect),
        ("code_verifier", VERIFIER),
    ];
    let refusal = |drop, set, status, error, description| Refusal {
        drop,
        set,
        status,
        error,
        description,
    };
    let refusals = [
        refusal(
            "client_secret",
            None,
            400,
            "invalid_request",
            "client_secret is missing.",
        ),
        refusal(
            "",
            Some(("client_secret", "GOCSPX-wrong")),
            401,
            "invalid_client",
            "Unauthorized",
        ),
        refusal(
            "code_verifier",
            None,
            400,
            "invalid_grant",
            "Missing code verifier.",
        ),
        refusal(
            "",
            Some((
                "code_verifier",
                "another-verifier-0123456789-abcdefghijklmnopqrstuv",
            )),
            400,
            "invalid_grant",
            "Invalid code verifier.",
        ),
        refusal(
            "",
            Some(("redirect_uri", "http://127.0.0.1:49153/cb")),
            400,
            "redirect_uri_mismatch",
            "Bad Request",
        ),
        refusal(
            "redirect_uri",
            None,
            400,
            "invalid_request",
            "Missing required parameter: redirect_uri",
        ),
    ];
    for r in refusals {
        let form: Vec<(&str, &str)> = good
            .iter()
            .filter(|(k, _)| *k != r.drop)
            .map(|&(k, v)| match r.set {
                Some((name, value)) if name == k => (k, value),
                _ => (k, v),
            })
            .collect();
        let (s, b) = env.post_form("/token", &form).await;
        assert_eq!(
            (s, &b),
            (
                r.status,
                &json!({"error": r.error, "error_description": r.description})
            ),
            "without {:?}, with {:?}",
            r.drop,
            r.set
        );
    }
    let (s, t) = env.post_form("/token", &good).await;
    assert_eq!(s, 200, "the refusals left the code usable: {t}");
}

#[tokio::test]
async fn codes_never_cross_between_the_web_and_desktop_clients() {
    let env = Env::start().await;
    let unauthorized = json!({"error": "unauthorized_client", "error_description": "Unauthorized"});

    // A web consent code, redeemed by the desktop client.
    let web_callback = env.url("/callback");
    let web_query = with(
        &auth_query(&env, &web_callback),
        "client_id",
        &env.emu.web_client().client_id,
    );
    let location = play_the_person(&env, &web_query, &[("new_email", "ada@example.com")]).await;
    let web_code = param(&location, "code").unwrap();
    let (s, b) = desktop_token(
        &env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &web_code),
            ("redirect_uri", &web_callback),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (s, &b),
        (401, &unauthorized),
        "web code at the desktop client"
    );

    // A desktop code, redeemed by the web client.
    let redirect = "http://127.0.0.1:50000/cb";
    let desktop = desktop_code(&env, redirect, "ada@example.com").await;
    let (s, b) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &desktop),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(
        (s, &b),
        (401, &unauthorized),
        "desktop code at the web client"
    );

    // An iOS serverAuthCode (the web client's), redeemed by the desktop client.
    let (server_code, _) = env.mint(json!({"email": "ada@example.com"})).await;
    let (s, b) = desktop_token(
        &env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &server_code),
            ("redirect_uri", ""),
        ],
    )
    .await;
    assert_eq!(
        (s, &b),
        (401, &unauthorized),
        "serverAuthCode at the desktop client"
    );

    // None of the refusals spent the codes of their own clients.
    let (s, _) = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &web_code),
            ("redirect_uri", &web_callback),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(s, 200);
    let (s, _) = desktop_token(
        &env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &desktop),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn an_unverified_test_user_chosen_on_the_consent_page_has_email_verified_false() {
    let env = Env::start().await;
    let user = env
        .admin(
            "/users",
            json!({"email": "unverified@example.com", "email_verified": false}),
        )
        .await;
    assert_eq!(user["email_verified"], false);
    let verified = env
        .admin("/users", json!({"email": "verified@gmail.com"}))
        .await;
    assert_eq!(
        verified["email_verified"], true,
        "verified unless said otherwise"
    );

    let redirect = "http://127.0.0.1:40000/cb";
    let query = auth_query(&env, redirect);
    let html = auth_page(&env, &query).await.text().await.unwrap();
    let subs: Vec<String> = google_emulator::person::inputs(&html, "radio")
        .into_iter()
        .filter(|(name, _)| name == "sub")
        .map(|(_, sub)| sub)
        .collect();
    let sub = user["sub"].as_str().unwrap();
    assert!(
        subs.iter().any(|s| s == sub),
        "the page offers the user: {subs:?}"
    );

    let sign_in = |sub: String| {
        let env = &env;
        let query = query.clone();
        async move {
            let location = play_the_person(env, &query, &[("sub", &sub)]).await;
            let code = param(&location, "code").unwrap();
            let (s, t) = desktop_token(
                env,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", VERIFIER),
                ],
            )
            .await;
            assert_eq!(s, 200, "{t}");
            t
        }
    };
    let t = sign_in(sub.to_owned()).await;
    let c = claims(t["id_token"].as_str().unwrap());
    assert_eq!(c["sub"], sub);
    assert_eq!(c["email_verified"], false);
    assert_eq!(c["hd"], "example.com");
    let (_, info) = env
        .get_bearer("/v1/userinfo", t["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info["email_verified"], false);

    let t = sign_in(verified["sub"].as_str().unwrap().to_owned()).await;
    let c = claims(t["id_token"].as_str().unwrap());
    assert_eq!(c["email_verified"], true);
    assert!(
        c.get("hd").is_none(),
        "no hd outside the workspace domain: {c}"
    );

    // The same call verifies the user later; the sub stays.
    let again = env
        .admin(
            "/users",
            json!({"email": "unverified@example.com", "email_verified": true}),
        )
        .await;
    assert_eq!(
        (again["sub"].as_str(), &again["email_verified"]),
        (Some(sub), &json!(true))
    );
}

#[tokio::test]
async fn the_desktop_client_secret_json_has_googles_installed_shape() {
    let env = Env::start().await;
    let file = env.emu.desktop_client_secret_json();
    let installed = file["installed"]
        .as_object()
        .expect("{\"installed\": {...}}");
    assert!(file.get("web").is_none());
    let base = env.emu.base_url();
    let c = env.emu.desktop_client();
    assert_eq!(installed["client_id"], c.client_id.as_str());
    assert_eq!(installed["client_secret"], c.client_secret.as_str());
    assert_ne!(c.client_id, env.emu.web_client().client_id);
    assert_ne!(c.client_id, env.emu.ios_client_id());
    assert!(c.client_id.ends_with(".apps.googleusercontent.com"));
    let (number, _) = c.client_id.split_once('-').unwrap();
    assert!(
        number.chars().all(|ch| ch.is_ascii_digit()),
        "{}",
        c.client_id
    );
    assert_eq!(
        number,
        env.emu.web_client().client_id.split_once('-').unwrap().0,
        "one Cloud project: the same project number"
    );
    assert_eq!(installed["auth_uri"], format!("{base}/o/oauth2/v2/auth"));
    assert_eq!(installed["token_uri"], format!("{base}/token"));
    assert_eq!(installed["redirect_uris"], json!(["http://localhost"]));
    assert!(installed.contains_key("project_id"));
    assert!(installed.contains_key("auth_provider_x509_cert_url"));
    assert!(
        !format!("{c:?}").contains(&c.client_secret),
        "Debug never shows the secret"
    );
}

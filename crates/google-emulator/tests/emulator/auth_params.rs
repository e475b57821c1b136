//! What a developer tests in the sign-in lab, as Google does it: `prompt` (none, consent,
//! select_account), `include_granted_scopes`, `login_hint`, `hd`, `access_type`, and the
//! web client's authorized redirect URIs registered as in Cloud Console.

use crate::Env;

const REDIRECT: &str = "http://127.0.0.1:9/lab";

/// An authorization request of the web client to the loopback redirect registered for it.
fn query(env: &Env, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let web = &env.emu.web_client().client_id;
    let mut q: Vec<(String, String)> = [
        ("client_id", web.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "st-7"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    q.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    q
}

async fn get(env: &Env, q: &[(String, String)]) -> reqwest::Response {
    env.http
        .get(env.url("/o/oauth2/v2/auth"))
        .query(q)
        .send()
        .await
        .unwrap()
}

/// Allows as `email` on the page of `q`; the redirect's location.
async fn allow(env: &Env, q: &[(String, String)], email: &str) -> String {
    let html = get(env, q).await.text().await.unwrap();
    let form = google_emulator::person::consent_form(&html, &[("new_email", email)]);
    let r = env
        .http
        .post(env.url("/o/oauth2/v2/auth"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    r.headers()["location"].to_str().unwrap().to_owned()
}

fn param(location: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Redeems the code of `location` as the web client; the token response.
async fn redeem(env: &Env, location: &str) -> serde_json::Value {
    let web = env.emu.web_client();
    let code = param(location, "code").expect("a code");
    let (status, body) = env
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", &web.client_id),
                ("client_secret", &web.client_secret),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_web_client_redirects_only_to_registered_uris_and_they_can_be_registered() {
    let env = Env::start().await;
    let page = get(&env, &query(&env, &[])).await;
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("redirect_uri_mismatch"));

    // As in Cloud Console, through the admin API.
    let r = env
        .http
        .post(env.url("/emulator/v1/clients/redirect-uris"))
        .json(&serde_json::json!({ "uri": REDIRECT }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get(&env, &query(&env, &[])).await.status(), 200);
    assert!(
        env.emu
            .register_redirect_uri("http://evil.example/cb")
            .is_err(),
        "plain http is for loopback only"
    );
    assert!(
        env.emu
            .register_redirect_uri("http://127.0.0.1:9/#x")
            .is_err()
    );
}

#[tokio::test]
async fn prompt_none_issues_a_code_only_to_a_person_who_consented_already() {
    let env = Env::start().await;
    env.emu.register_redirect_uri(REDIRECT).unwrap();
    let none = |hint: &'static str| query(&env, &[("prompt", "none"), ("login_hint", hint)]);
    let first = get(&env, &none("ada@example.com")).await;
    assert_eq!(first.status(), 302, "no page is shown with prompt=none");
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(param(&location, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&location, "state").as_deref(), Some("st-7"));

    redeem(
        &env,
        &allow(&env, &query(&env, &[]), "ada@example.com").await,
    )
    .await;
    let again = get(&env, &none("ada@example.com")).await;
    let location = again.headers()["location"].to_str().unwrap().to_owned();
    assert!(param(&location, "code").is_some(), "{location}");
    assert_eq!(param(&location, "prompt").as_deref(), Some("none"));

    let more = query(
        &env,
        &[
            ("prompt", "none"),
            ("login_hint", "ada@example.com"),
            (
                "scope",
                "openid email https://www.googleapis.com/auth/drive.appdata",
            ),
        ],
    );
    let more: Vec<_> = more
        .into_iter()
        .filter(|(k, v)| k != "scope" || v.contains("drive"))
        .collect();
    let location = get(&env, &more).await.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("consent_required"),
        "a scope never granted needs the page"
    );

    for bad in ["none consent", "sometimes"] {
        let page = get(&env, &query(&env, &[("prompt", bad)])).await;
        assert_eq!(page.status(), 400, "prompt={bad}");
    }
    let page = get(&env, &query(&env, &[("access_type", "forever")])).await;
    assert_eq!(page.status(), 400);
}

#[tokio::test]
async fn include_granted_scopes_adds_what_the_person_granted_before() {
    let env = Env::start().await;
    env.emu.register_redirect_uri(REDIRECT).unwrap();
    let drive = "https://www.googleapis.com/auth/drive.appdata";
    let with_drive: Vec<_> = query(&env, &[])
        .into_iter()
        .map(|(k, v)| {
            if k == "scope" {
                (k, format!("{v} {drive}"))
            } else {
                (k, v)
            }
        })
        .collect();
    redeem(&env, &allow(&env, &with_drive, "ada@example.com").await).await;

    let plain = redeem(
        &env,
        &allow(&env, &query(&env, &[]), "ada@example.com").await,
    )
    .await;
    assert!(!plain["scope"].as_str().unwrap().contains(drive));
    let incremental = query(&env, &[("include_granted_scopes", "true")]);
    let location = allow(&env, &incremental, "ada@example.com").await;
    assert!(param(&location, "scope").unwrap().contains(drive));
    let body = redeem(&env, &location).await;
    assert!(
        body["scope"].as_str().unwrap().contains(drive),
        "the earlier grant's scope comes with it: {body}"
    );
}

#[tokio::test]
async fn hd_narrows_the_chooser_and_login_hint_chooses_the_account() {
    let env = Env::start().await;
    env.emu.register_redirect_uri(REDIRECT).unwrap();
    for email in ["ada@example.com", "grace@example.com", "linus@gmail.com"] {
        redeem(&env, &allow(&env, &query(&env, &[]), email).await).await;
    }
    let html = get(&env, &query(&env, &[("hd", "example.com")]))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("ada@example.com") && html.contains("grace@example.com"));
    assert!(
        !html.contains("linus@gmail.com"),
        "hd lists that domain's accounts"
    );

    let html = get(&env, &query(&env, &[("login_hint", "grace@example.com")]))
        .await
        .text()
        .await
        .unwrap();
    let chosen: Vec<_> = google_emulator::person::inputs(&html, "radio");
    assert!(!chosen.is_empty());
    let checked = html
        .split("<label>")
        .find(|l| l.contains(" checked"))
        .unwrap();
    assert!(
        checked.contains("grace@example.com"),
        "the hinted account is chosen: {checked}"
    );

    let html = get(&env, &query(&env, &[("login_hint", "new@example.com")]))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("name=new_email value=\"new@example.com\""),
        "an unknown hint prefills the new account"
    );
}

//! `inspect`'s exit status: what `tokendesk inspect "$T" && deploy` relies on.

use serde_json::{Value, json};

use crate::Env;

impl Env {
    /// Tokens straight from the emulator's token endpoint, as a backend would hold them.
    async fn tokens_for(&self, email: &str) -> Value {
        let code = self.mint(json!({ "email": email })).await;
        let c = self.emu.web_client();
        let r = self
            .http
            .post(format!("{}/token", self.emu.base_url()))
            .form(&[
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.client_secret.as_str()),
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

/// The token with one character of its signature changed: what a forger sends.
fn forged(token: &str) -> String {
    let signature_at = token.rfind('.').unwrap() + 1;
    let i = signature_at + (token.len() - signature_at) / 2;
    let mut bytes = token.as_bytes().to_vec();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_fails_a_token_it_judges_not_valid() {
    let env = Env::start().await;
    env.add_client().await;
    let tokens = env.tokens_for("ada@example.com").await;
    let id_token = tokens["id_token"].as_str().unwrap();

    let good = env.run(&["inspect", "--client", "emu", id_token]).await;
    assert_eq!(good.code, 0, "{}{}", good.stdout, good.stderr);
    assert!(good.stdout.contains("verdict: valid"), "{}", good.stdout);

    // `tokendesk inspect "$T" && deploy` must not go ahead on a forged token.
    let bad = forged(id_token);
    let text = env.run(&["inspect", "--client", "emu", &bad]).await;
    assert_eq!(text.code, 7, "{}{}", text.stdout, text.stderr);
    assert!(
        text.stdout.contains("verdict: NOT valid"),
        "{}",
        text.stdout
    );
    let json = env
        .run(&["--json", "inspect", "--client", "emu", &bad])
        .await;
    assert_eq!(json.code, 7, "{}", json.stdout);
    let report = json.json();
    assert_eq!(
        report["verification"]["valid"], false,
        "--json still prints the report: {report}"
    );
    assert!(
        report["verification"]["checks"].is_array(),
        "the report, not an error document: {report}"
    );
    assert_eq!(report["kind"], "jwt");

    // An access token: tokeninfo knows it (0), or Google refuses it (4, as any refusal).
    let access = tokens["access_token"].as_str().unwrap();
    let known = env.run(&["inspect", "--client", "emu", access]).await;
    assert_eq!(known.code, 0, "{}{}", known.stdout, known.stderr);
    // Shaped like an access token, made here: nobody issued it.
    let never_issued = format!("{}.never-issued-{}", "ya29", std::process::id());
    let unknown = env
        .run(&["--json", "inspect", "--client", "emu", &never_issued])
        .await;
    assert_eq!(unknown.code, 4, "{}", unknown.stdout);
    assert!(
        unknown.json()["error"]["code"].is_string(),
        "{}",
        unknown.stdout
    );
}

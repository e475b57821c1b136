//! The served OpenAPI document against the server it describes, over real HTTP: every
//! documented operation is routed (401 without a credential, not 404) and every other method
//! of its path is not (405); each guarded operation refuses the role below the one it names and
//! admits that role; real answers match the document's schemas.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokendesk_core::api::Role;
use tokendesk_server::api::openapi::ROLE_EXTENSION;
use tokendesk_server::run::Server;

use crate::team::Team;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
const USER: &str = "grace@example.com";

/// A documented path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{user}", USER)
        .replace("{email}", "nobody@example.com")
        .replace("{name}", "nothing")
        .replace("{file_id}", "no-such-file")
}

async fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request =
        reqwest::Client::new().request(method, format!("{}{path}", server.admin_url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    if response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        == Some("text/event-stream")
    {
        // A live stream (events) does not end: its status is the answer.
        return (status, Value::Null);
    }
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A new API token with `role`, as an admin creates one.
async fn api_token(team: &Team, server: &Server, name: &str, role: Role) -> String {
    tokendesk_server::people::create_api_token(&team.pg().await, server.desk(), name, role, "test")
        .await
        .unwrap()
        .token
}

/// Every documented operation, as (method, path template, operation).
fn operations(doc: &Value) -> Vec<(&'static str, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                found.push((method, path.clone(), op.clone()));
            }
        }
    }
    found
}

/// Checks `answer` against what the document says `method path` answers with `status`.
fn matches_schema(
    doc: &Value,
    method: &str,
    path: &str,
    status: u16,
    answer: &Value,
) -> Result<(), String> {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} documents no JSON for {status}"
    );
    // The document as the root, so `#/components/schemas/...` resolves.
    let root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root).map_err(|e| e.to_string())?;
    let errors: Vec<String> = validator
        .iter_errors(answer)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{method} {path} {status}: {errors:?} in {answer:#}"
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_describes_every_route_with_its_role() {
    let team = Team::new().await;
    let server = team.replica("a").await;

    // Open, and the same text as docs/openapi.json.
    let response = reqwest::get(format!("{}/api/v1/openapi.json", server.admin_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.json"
    ))
    .unwrap();
    assert!(
        served == committed,
        "the served document is not docs/openapi.json: run ./scripts/openapi and commit"
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    let operations = operations(&doc);
    assert!(operations.len() >= 30, "{} operations", operations.len());

    // Without a credential: each documented operation is routed, each other method is not.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let (status, body) = call(&server, method, &concrete(path), None).await;
            let what = format!("{} {path}", method.to_uppercase());
            match item.get(method) {
                None => assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{what} is served but not documented: {body}"
                ),
                Some(op) if op.get("security").is_some() => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
                    assert_eq!(body["error"]["code"], "unauthenticated", "{what}");
                }
                Some(_) => {
                    assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}: {body}");
                    assert_ne!(body["error"]["code"], "no_such_path", "{what}: {body}");
                    assert_ne!(
                        status,
                        StatusCode::UNAUTHORIZED,
                        "{what} is documented open"
                    );
                }
            }
        }
    }

    // With an API token of each role: the role below the documented one is refused (403), the
    // documented one gets past the check (whatever the call then answers without a body).
    let mut tokens = Vec::new();
    for role in [Role::Viewer, Role::Operator, Role::Admin] {
        tokens.push((
            role,
            api_token(&team, &server, &format!("bot-{role}"), role).await,
        ));
    }
    let token_of = |role: Role| tokens.iter().find(|(r, _)| *r == role).unwrap().1.as_str();
    for (method, path, op) in &operations {
        let Some(role) = op.get(ROLE_EXTENSION).and_then(Value::as_str) else {
            continue;
        };
        let role = Role::parse(role).unwrap();
        let what = format!("{} {path} ({role})", method.to_uppercase());
        let below = match role {
            Role::Viewer => None,
            Role::Operator => Some(Role::Viewer),
            Role::Admin => Some(Role::Operator),
        };
        if let Some(below) = below {
            let (status, body) =
                call(&server, method, &concrete(path), Some(token_of(below))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{what} as {below}: {body}");
            assert_eq!(body["error"]["code"], "forbidden", "{what} as {below}");
            matches_schema(&doc, method, path, 403, &body).unwrap();
        }
        let (status, body) = call(&server, method, &concrete(path), Some(token_of(role))).await;
        assert!(
            status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
            "{what} as {role}: {status} {body}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_match_the_documents_schemas() {
    let team = Team::new().await;
    let server = team.replica("a").await;
    team.add_client(&server).await;
    assert_eq!(team.post_code(&server, &team.code(USER)).await, 200);
    let admin = api_token(&team, &server, "schema-bot", Role::Admin).await;
    let (_, doc) = call(&server, "get", "/api/v1/openapi.json", None).await;

    // Not vacuous: an answer of the wrong shape fails.
    let wrong = serde_json::json!({ "version": 1, "api": "one" });
    assert!(matches_schema(&doc, "get", "/api/v1/version", 200, &wrong).is_err());

    let (status, body) = call(&server, "get", "/api/v1/version", None).await;
    assert_eq!(status, 200);
    matches_schema(&doc, "get", "/api/v1/version", 200, &body).unwrap();

    let (status, body) = call(&server, "get", "/api/v1/users", None).await;
    assert_eq!(status, 401);
    matches_schema(&doc, "get", "/api/v1/users", 401, &body).unwrap();

    let (status, body) = call(
        &server,
        "get",
        "/api/v1/users/nobody@example.com",
        Some(&admin),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    matches_schema(&doc, "get", "/api/v1/users/{user}", 404, &body).unwrap();

    let user = format!("/api/v1/users/{USER}");
    for (template, path) in [
        ("/api/v1/users", "/api/v1/users"),
        ("/api/v1/users/{user}", user.as_str()),
        ("/api/v1/whoami", "/api/v1/whoami"),
        ("/api/v1/clients", "/api/v1/clients"),
        ("/api/v1/audit", "/api/v1/audit"),
        ("/api/v1/export/users", "/api/v1/export/users"),
        ("/api/v1/api-tokens", "/api/v1/api-tokens"),
        ("/api/v1/login", "/api/v1/login"),
    ] {
        let (status, body) = call(&server, "get", path, Some(&admin)).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        assert!(
            body.is_object() || body.as_array().is_some_and(|a| !a.is_empty()),
            "GET {path}: {body}"
        );
        matches_schema(&doc, "get", template, 200, &body).unwrap();
    }
    let (status, body) = call(&server, "post", &format!("{user}/refresh"), Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    matches_schema(&doc, "post", "/api/v1/users/{user}/refresh", 200, &body).unwrap();
    server.stop().await;
}

/// Whether `path` (as requested) is an instance of the documented `template`.
fn instance_of(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

/// The remote mode of the CLI and the window (`RemoteConsole`) is a client of the documented
/// API: each of its calls reaches a documented operation (the server audits every guarded call
/// as `METHOD PATH STATUS`), and none hits a path or method the server lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_console_calls_only_documented_operations() {
    use tokendesk_core::console::{AuditQuery, Console};
    use tokendesk_core::desk::{AddClient, RevealWhich, StopFlag};
    use tokendesk_core::store::AuditAction;

    let team = Team::new().await;
    let server = team.replica("a").await;
    team.add_client(&server).await;
    assert_eq!(team.post_code(&server, &team.code(USER)).await, 200);
    let token = api_token(&team, &server, "remote-bot", Role::Admin).await;
    let remote = team.console(&server, &token).await.unwrap();
    let base = team.emu.base_url().to_owned();
    let upload = tokendesk_core::drive::DriveUpload {
        name: "notes.txt".into(),
        mime_type: Some("text/plain".into()),
        content: b"hello".to_vec(),
    };

    // Every Console call the remote mode has; an error is fine (a missing user, Google's
    // refusal) as long as the server has the operation.
    let mut outcomes: Vec<(&str, Result<(), tokendesk_core::desk::DeskError>)> = vec![
        ("clients", remote.clients().await.map(drop)),
        ("client", remote.client("emu").await.map(drop)),
        ("users_page", remote.users_page("", 0, 10).await.map(drop)),
        ("user", remote.user(USER).await.map(drop)),
        ("user_audit", remote.user_audit(USER, 10).await.map(drop)),
        ("refresh", remote.refresh(USER, None).await.map(drop)),
        ("drive", remote.drive(USER, None).await.map(drop)),
        ("export_users", remote.export_users().await.map(drop)),
        (
            "inspect",
            remote.inspect(None, "not-a-token").await.map(drop),
        ),
        (
            "audit",
            remote
                .audit(AuditQuery {
                    limit: 5,
                    ..AuditQuery::default()
                })
                .await
                .map(drop),
        ),
        (
            "reveal",
            remote
                .reveal(USER, RevealWhich::AccessToken)
                .await
                .map(drop),
        ),
        (
            "refresh_all",
            remote
                .refresh_all(1, &|_, _, _| {}, &StopFlag::default())
                .await
                .map(drop),
        ),
        (
            "exchange",
            remote
                .exchange(
                    None,
                    tokendesk_core::secret::AuthCode::new("used"),
                    Default::default(),
                )
                .await
                .map(drop),
        ),
        (
            "add_client",
            remote
                .add_client(AddClient {
                    name: "emu2".into(),
                    secrets_json: team.emu.client_secret_json().to_string().into_bytes(),
                    issuer: Some(base.clone()),
                    api_base: Some(base),
                    ios_client_ids: vec![],
                })
                .await
                .map(drop),
        ),
        (
            "remove_client",
            remote.remove_client("emu2").await.map(drop),
        ),
    ];
    let uploaded = remote.drive_upload(USER, None, upload).await;
    let file_id = uploaded
        .as_ref()
        .map(|r| r.file.id.clone())
        .unwrap_or_default();
    outcomes.push(("drive_upload", uploaded.map(drop)));
    outcomes.push((
        "drive_download",
        remote.drive_download(USER, None, &file_id).await.map(drop),
    ));
    outcomes.push((
        "drive_delete",
        remote.drive_delete(USER, None, &file_id).await.map(drop),
    ));
    outcomes.push(("revoke", remote.revoke(USER, None).await.map(drop)));
    for (call, outcome) in &outcomes {
        if let Err(err) = outcome {
            assert!(
                !["no_such_path", "method_not_allowed"].contains(&err.code()),
                "{call}: the server has no such operation: {err}"
            );
        }
    }

    let (_, doc) = call(&server, "get", "/api/v1/openapi.json", None).await;
    let documented: Vec<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method.to_uppercase(), path))
        .collect();
    let calls = remote
        .audit(AuditQuery {
            action: Some(AuditAction::ApiCall),
            text: Some("remote-bot".into()),
            limit: 10_000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let mut reached = std::collections::BTreeSet::new();
    for entry in &calls {
        let detail = entry.detail.as_deref().unwrap_or_default();
        let mut words = detail.split(' ');
        let (method, path) = (words.next().unwrap(), words.next().unwrap());
        let found = documented
            .iter()
            .find(|(m, t)| m == method && instance_of(t, path))
            .unwrap_or_else(|| panic!("the remote console called {method} {path}, undocumented"));
        reached.insert(found.clone());
    }
    // Each Console call above is at least one operation (the audit call itself is not listed).
    assert!(
        reached.len() >= outcomes.len(),
        "{} operations reached by {} calls: {reached:?}",
        reached.len(),
        outcomes.len()
    );
    server.stop().await;
}

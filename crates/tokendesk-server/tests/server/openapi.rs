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
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
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
    let pg = team.pg().await;
    let mut tokens = Vec::new();
    for role in [Role::Viewer, Role::Operator, Role::Admin] {
        let made = tokendesk_server::people::create_api_token(
            &pg,
            server.desk(),
            &format!("bot-{role}"),
            role,
            "test",
        )
        .await
        .unwrap();
        tokens.push((role, made.token));
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
    let admin = tokendesk_server::people::create_api_token(
        &team.pg().await,
        server.desk(),
        "schema-bot",
        Role::Admin,
        "test",
    )
    .await
    .unwrap()
    .token;
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

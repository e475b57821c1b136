//! The document against the router, without a database: the same paths, open or guarded alike,
//! a role on every guarded operation, and docs/openapi.json up to date.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use serde_json::Value;
use tokendesk_core::api::Role;

use super::{BEARER, ROLE_EXTENSION, document_json, plain_links};
use crate::api::served_paths;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn document() -> Value {
    serde_json::from_str(&document_json()).unwrap()
}

/// Each documented path with whether its operations need a credential (`None`: some do, some
/// don't, which the router cannot serve: a path is open or guarded).
fn documented_paths(doc: &Value) -> BTreeMap<String, Option<bool>> {
    let mut found = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let guarded: Vec<bool> = METHODS
            .iter()
            .filter_map(|m| item.get(*m))
            .map(|op| op.get("security").is_some())
            .collect();
        assert!(!guarded.is_empty(), "{path} has no operation");
        let all_same = guarded.iter().all(|g| *g == guarded[0]);
        found.insert(path.clone(), all_same.then_some(guarded[0]));
    }
    found
}

#[test]
fn every_path_the_router_serves_is_documented_and_nothing_else() {
    let doc = document();
    let documented = documented_paths(&doc);
    let served: BTreeMap<String, Option<bool>> = served_paths()
        .into_iter()
        .map(|p| (p.path, Some(p.guarded)))
        .collect();
    let undocumented: Vec<&String> = served
        .keys()
        .filter(|p| !documented.contains_key(*p))
        .collect();
    let not_served: Vec<&String> = documented
        .keys()
        .filter(|p| !served.contains_key(*p))
        .collect();
    assert!(
        undocumented.is_empty(),
        "the router serves paths the OpenAPI document lacks: {undocumented:?} (add a \
         #[utoipa::path] to the handler and list it in AdminApi's paths)"
    );
    assert!(
        not_served.is_empty(),
        "the OpenAPI document has paths the router does not serve: {not_served:?}"
    );
    assert_eq!(
        served, documented,
        "open (false) or guarded (true) per path: the router's, then the document's (a guarded \
         operation needs x-tokendesk-role)"
    );
    assert!(served.len() >= 25, "{} paths", served.len());
}

#[test]
fn every_guarded_operation_names_a_role_and_its_refusals() {
    let doc = document();
    assert_eq!(
        doc["components"]["securitySchemes"][BEARER]["scheme"], "bearer",
        "{:#}",
        doc["components"]
    );
    let mut guarded = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let role = op.get(ROLE_EXTENSION).and_then(Value::as_str);
            let what = format!("{} {path}", method.to_uppercase());
            assert_eq!(op.get("security").is_some(), role.is_some(), "{what}");
            if let Some(role) = role {
                guarded += 1;
                assert!(Role::parse(role).is_some(), "{what}: no role {role:?}");
                let description = op["description"].as_str().unwrap();
                assert!(description.contains(role), "{what}: {description}");
                for status in ["401", "403", "503"] {
                    assert_eq!(
                        op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{what} {status}"
                    );
                }
            }
            assert!(
                op["responses"]["200"].is_object(),
                "{what} documents no success"
            );
        }
    }
    assert!(guarded >= 25, "{guarded} guarded operations");
}

#[test]
fn docs_openapi_json_is_the_document_the_server_serves() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.json"
    ))
    .expect("docs/openapi.json is in the repository");
    assert!(
        committed == document_json(),
        "docs/openapi.json is stale: run ./scripts/openapi and commit (./scripts/openapi --check \
         shows the difference)"
    );
}

#[test]
fn rustdoc_links_become_code_spans() {
    assert_eq!(
        plain_links("Which token [`Desk::reveal`] shows ([`x`](super::x), [`y`]); [1, 2] and `[`"),
        "Which token `Desk::reveal` shows (`x`, `y`); [1, 2] and `[`"
    );
    let doc = document_json();
    assert!(
        !doc.contains("[`"),
        "a rustdoc link is left in the document"
    );
    assert!(doc.contains("`Desk::reveal`"), "the code span went too");
}

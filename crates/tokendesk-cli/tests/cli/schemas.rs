//! docs/json/*.schema.json are what the binary prints: every command's `--json` document is
//! validated against its schema (JSON Schema 2020-12), and the schemas are strict enough to
//! refuse a document that lost `schema_version` or grew an undocumented field.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::Env;

struct Schemas {
    registry: jsonschema::Registry<'static>,
    schemas: BTreeMap<String, Value>,
}

fn docs_json() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/json")
}

impl Schemas {
    fn load() -> Self {
        let mut schemas = BTreeMap::new();
        let mut registry = jsonschema::Registry::new();
        for entry in std::fs::read_dir(docs_json()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(name) = name.strip_suffix(".schema.json") else {
                continue;
            };
            let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let id = schema["$id"].as_str().unwrap().to_owned();
            registry = registry.add(id, schema.clone()).unwrap();
            schemas.insert(name.to_owned(), schema);
        }
        Self {
            registry: registry.prepare().unwrap(),
            schemas,
        }
    }

    fn errors(&self, name: &str, doc: &Value) -> Vec<String> {
        let schema = self
            .schemas
            .get(name)
            .unwrap_or_else(|| panic!("no docs/json/{name}.schema.json"));
        let validator = jsonschema::options()
            .with_registry(&self.registry)
            .build(schema)
            .unwrap_or_else(|e| panic!("{name}.schema.json is not a valid schema: {e}"));
        validator
            .iter_errors(doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    #[track_caller]
    fn check(&self, name: &str, doc: &Value) {
        let errors = self.errors(name, doc);
        assert!(
            errors.is_empty(),
            "the output does not match docs/json/{name}.schema.json:\n{}\n{doc:#}",
            errors.join("\n")
        );
    }
}

#[test]
fn the_schemas_refuse_what_they_do_not_document() {
    let schemas = Schemas::load();
    let done = json!({"schema_version": 2, "ok": true, "message": "client x removed"});
    schemas.check("done", &done);
    let mut old = done.clone();
    old.as_object_mut().unwrap().remove("schema_version");
    assert!(
        !schemas.errors("done", &old).is_empty(),
        "0.1's shape is refused"
    );
    let mut extra = done.clone();
    extra["surprise"] = json!(1);
    assert!(
        !schemas.errors("done", &extra).is_empty(),
        "an undocumented field is refused"
    );
    let user = json!({"schema_version": 2, "sub": "1"});
    assert!(
        !schemas.errors("user-view", &user).is_empty(),
        "a user lacking fields is refused"
    );
    for (name, schema) in &schemas.schemas {
        if name != "defs" {
            assert!(
                schema["required"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("schema_version")),
                "{name}: every document carries schema_version"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_commands_json_is_what_docs_json_says() {
    let schemas = Schemas::load();
    let env = Env::start().await;
    let json = async |args: &[&str]| env.run(args).await.json();
    let cs = env.dir.path().join("cs.json");
    let base = env.emu.base_url().to_owned();
    let added = json(&[
        "--json",
        "client",
        "add",
        "--name",
        "emu",
        "--secrets",
        cs.to_str().unwrap(),
        "--issuer",
        &base,
        "--ios-client-id",
        env.emu.ios_client_id(),
    ])
    .await;
    schemas.check("client", &added);
    schemas.check("client", &json(&["--json", "client", "show", "emu"]).await);
    schemas.check("clients", &json(&["--json", "client", "list"]).await);

    let code = env
        .mint(json!({"email": "ada@example.com", "name": "Ada"}))
        .await;
    schemas.check("exchange", &json(&["--json", "exchange", &code]).await);
    schemas.check("error", &json(&["--json", "exchange", &code]).await);
    schemas.check("users", &json(&["--json", "users"]).await);
    schemas.check("user", &json(&["--json", "user", "ada@example.com"]).await);
    let revealed = json(&["--json", "user", "ada@example.com", "--reveal"]).await;
    schemas.check("user", &revealed);
    schemas.check(
        "user-view",
        &json(&["--json", "refresh", "ada@example.com"]).await,
    );
    schemas.check("refresh-all", &json(&["--json", "refresh", "--all"]).await);

    let jwt = json(&["--json", "inspect", "eyJhbGciOiJub25lIn0.e30.x"]).await;
    schemas.check("inspect", &jwt);
    assert_eq!(
        jwt["verification"]["valid"], false,
        "DESIGN.md's nesting: {jwt}"
    );
    let access = revealed["access_token"].as_str().unwrap();
    schemas.check("inspect", &json(&["--json", "inspect", access]).await);

    let local = env.dir.path().join("save.json");
    std::fs::write(&local, "{}").unwrap();
    let uploaded = json(&[
        "--json",
        "drive",
        "upload",
        "ada@example.com",
        local.to_str().unwrap(),
        "--yes",
    ])
    .await;
    schemas.check("drive-file", &uploaded);
    let id = uploaded["file"]["id"].as_str().unwrap();
    schemas.check(
        "drive",
        &json(&["--json", "drive", "ada@example.com"]).await,
    );
    let back = env.dir.path().join("back.json");
    let downloaded = json(&[
        "--json",
        "drive",
        "download",
        "ada@example.com",
        id,
        "--out",
        back.to_str().unwrap(),
    ])
    .await;
    schemas.check("drive-download", &downloaded);
    let deleted = json(&["--json", "drive", "delete", "ada@example.com", id, "--yes"]).await;
    schemas.check("drive-file", &deleted);

    let exported = env.dir.path().join("users.json");
    let done = json(&[
        "--json",
        "users",
        "--export",
        "json",
        "--out",
        exported.to_str().unwrap(),
    ])
    .await;
    schemas.check("done", &done);
    let file: Value = serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    schemas.check("users", &file);
    let clients_file = env.dir.path().join("clients.json");
    let done = json(&[
        "--json",
        "client",
        "export",
        "--out",
        clients_file.to_str().unwrap(),
    ])
    .await;
    schemas.check("done", &done);
    let file: Value = serde_json::from_slice(&std::fs::read(&clients_file).unwrap()).unwrap();
    schemas.check("clients-file", &file);
    let other = env.dir.path().join("other");
    let imported = json(&[
        "--json",
        "--data-dir",
        other.to_str().unwrap(),
        "client",
        "import-file",
        clients_file.to_str().unwrap(),
    ])
    .await;
    schemas.check("client-import", &imported);

    schemas.check(
        "revoke",
        &json(&["--json", "revoke", "ada@example.com"]).await,
    );
    schemas.check("audit", &json(&["--json", "audit"]).await);
    schemas.check(
        "error",
        &json(&["--json", "user", "nobody@example.com"]).await,
    );
}

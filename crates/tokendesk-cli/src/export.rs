//! `tokendesk users --export` and `tokendesk client export|import-file`: what moves between
//! desks, and what does not (a client's secret never does: each client is added again only
//! with its client_secret.json).

use std::path::{Path, PathBuf};

use serde::Serialize;
use tokendesk_core::console::Console;
use tokendesk_core::desk::{AddClient, DeskError};
use tokendesk_core::export::{ClientsFile, ExportedClient, users_csv};

use crate::args::ExportFormat;
use crate::exit;
use crate::io_errors::{cannot_read, cannot_write};
use crate::output::{Out, json_document};
use crate::stdio;

/// Writes `bytes` to `path`, or to stdout.
fn deliver(
    what: &str,
    path: Option<&Path>,
    bytes: &[u8],
    out: &Out,
    done: &str,
) -> anyhow::Result<()> {
    match path {
        Some(path) => {
            std::fs::write(path, bytes).map_err(|err| cannot_write(what, path, &err))?;
            out.done(&format!("{done} in {}", path.display()));
        }
        None => stdio::write_stdout_bytes(bytes),
    }
    Ok(())
}

pub async fn users(
    console: &dyn Console,
    format: ExportFormat,
    path: Option<PathBuf>,
    out: &Out,
) -> anyhow::Result<u8> {
    let users = console.export_users().await?;
    let bytes = match format {
        ExportFormat::Csv => {
            users_csv(&users).map_err(|e| anyhow::anyhow!("cannot write the users as CSV: {e}"))?
        }
        ExportFormat::Json => {
            let doc = json_document(&serde_json::json!({ "users": users }));
            let mut text = serde_json::to_vec_pretty(&doc)?;
            text.push(b'\n');
            text
        }
    };
    let done = format!(
        "{} user(s) exported (profiles and token health, no token)",
        users.len()
    );
    deliver(
        "the users export (--out)",
        path.as_deref(),
        &bytes,
        out,
        &done,
    )?;
    Ok(exit::OK)
}

pub async fn clients(
    console: &dyn Console,
    path: Option<PathBuf>,
    out: &Out,
) -> anyhow::Result<u8> {
    let file = ClientsFile::of(&console.clients().await?);
    let mut bytes = serde_json::to_vec_pretty(&file)?;
    bytes.push(b'\n');
    let done = format!(
        "{} client(s) exported without their secrets; `tokendesk client import-file FILE \
         --secrets NAME=client_secret.json` adds them on another desk",
        file.clients.len()
    );
    deliver(
        "the clients export (--out)",
        path.as_deref(),
        &bytes,
        out,
        &done,
    )?;
    Ok(exit::OK)
}

/// What became of one client of the file.
#[derive(Debug, Serialize)]
pub struct ImportOutcome {
    pub name: String,
    /// `added`, `exists`, `needs_secret` or `failed`.
    pub outcome: &'static str,
    pub message: String,
    /// The command that adds it, when its secret is still needed.
    pub command: Option<String>,
}

/// The `client add` command that imports `client` once its client_secret.json is at hand.
fn add_command(file: &Path, client: &ExportedClient) -> String {
    let mut command = format!(
        "tokendesk client import-file {} --secrets {}=client_secret.json",
        shell_word(&file.display().to_string()),
        shell_word(&client.name)
    );
    if client.foreign() {
        command.push_str(&format!("   (provider {})", client.issuer));
    }
    command
}

fn shell_word(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./@:=".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

pub async fn import(
    console: &dyn Console,
    file: &Path,
    secrets: &[(String, PathBuf)],
    out: &Out,
) -> anyhow::Result<u8> {
    let bytes = std::fs::read(file).map_err(|err| {
        cannot_read(
            "the clients file",
            file,
            &err,
            "it is what `tokendesk client export` wrote",
        )
    })?;
    let parsed = ClientsFile::parse(&bytes)
        .map_err(|why| anyhow::anyhow!("cannot import {}: {why}", file.display()))?;
    for (name, _) in secrets {
        if !parsed.clients.iter().any(|c| &c.name == name) {
            anyhow::bail!(
                "--secrets {name}=...: the file has no client named {name:?} (it has: {})",
                parsed
                    .clients
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let existing = console.clients().await?;
    let mut outcomes = Vec::new();
    for client in &parsed.clients {
        outcomes.push(import_one(console, file, client, secrets, &existing).await);
    }
    out.import_outcomes(&outcomes);
    let failed = outcomes.iter().any(|o| o.outcome == "failed");
    let waiting = outcomes.iter().any(|o| o.outcome == "needs_secret");
    Ok(if failed || waiting {
        exit::FAILURE
    } else {
        exit::OK
    })
}

async fn import_one(
    console: &dyn Console,
    file: &Path,
    client: &ExportedClient,
    secrets: &[(String, PathBuf)],
    existing: &[tokendesk_core::desk::ClientView],
) -> ImportOutcome {
    let outcome = |outcome, message: String, command| ImportOutcome {
        name: client.name.clone(),
        outcome,
        message,
        command,
    };
    if let Some(same) = existing.iter().find(|c| c.name == client.name) {
        let message = if same.client_id == client.client_id {
            "already on this desk".to_owned()
        } else {
            format!(
                "a client named {:?} with another client ID ({}) is on this desk; remove it or \
                 rename one",
                client.name, same.client_id
            )
        };
        return outcome("exists", message, None);
    }
    let Some((_, path)) = secrets.iter().find(|(n, _)| n == &client.name) else {
        return outcome(
            "needs_secret",
            format!(
                "not added: its secret is not exported; give its client_secret.json ({})",
                client.client_id
            ),
            Some(add_command(file, client)),
        );
    };
    let secrets_json = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            let why = cannot_read("the client secrets file", path, &err, "");
            return outcome("failed", why.to_string(), None);
        }
    };
    match tokendesk_core::client_file::WebClient::from_json(&secrets_json) {
        Ok(web) if web.client_id != client.client_id => {
            return outcome(
                "failed",
                format!(
                    "{} is the secret of client {}, not of {} ({}): give the right file",
                    path.display(),
                    web.client_id,
                    client.name,
                    client.client_id
                ),
                None,
            );
        }
        Ok(_) => {}
        Err(err) => return outcome("failed", DeskError::from(err).to_string(), None),
    }
    let request = AddClient {
        name: client.name.clone(),
        secrets_json,
        issuer: client.foreign().then(|| client.issuer.clone()),
        api_base: client.api_base.clone(),
        ios_client_ids: client.ios_client_ids.clone(),
    };
    match console.add_client(request).await {
        Ok(view) => outcome("added", format!("added ({})", view.issuer), None),
        Err(err) => outcome("failed", err.to_string(), None),
    }
}

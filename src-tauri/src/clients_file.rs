//! Clients between desks, in the window: every client's public configuration (never a secret)
//! written to a file, and that file opened on another desk, where each client is added again
//! with its own client_secret.json (the Clients page's import, filled from the file and
//! checked against the file's client ID). The same file as `tokendesk client export`.

use serde::Serialize;
use tauri::{AppHandle, State};
use tokendesk_core::export::ClientsFile;
use ts_rs::TS;

use crate::commands::read_capped;
use crate::dialogs::{save_target, typed_or_open, write_chosen};
use crate::error::{CmdResult, CommandError};
use crate::files::SavedFile;
use crate::state::AppState;

/// A clients file lists a few clients; anything larger is not one.
const CLIENTS_FILE_LIMIT: usize = 1024 * 1024;

/// Every client of the store in view, without its secret, where the person chooses.
#[tauri::command]
pub async fn clients_export(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<Option<SavedFile>> {
    let clients = state.desk().await?.clients().await?;
    let mut bytes = serde_json::to_vec_pretty(&ClientsFile::of(&clients))
        .map_err(|e| CommandError::new("internal", format!("cannot write JSON: {e}")))?;
    bytes.push(b'\n');
    let title = "Export the clients (no secret)";
    let file_name = "tokendesk-clients.json".to_owned();
    let filter = ("TokenDesk clients", &["json"][..]);
    let Some(path) = save_target(&app, &state.data_dir, title, file_name, filter).await? else {
        return Ok(None);
    };
    let shown = write_chosen(path, &bytes).await?;
    Ok(Some(SavedFile {
        path: shown,
        bytes: bytes.len() as u64,
    }))
}

/// Whether this desk has a client of that name already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum OnDesk {
    No,
    /// The same client (same client ID): nothing to do.
    Same,
    /// Another client ID under that name: remove one or rename.
    Other,
}

/// One client of a clients file, as this desk sees it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ImportableClient {
    pub name: String,
    pub client_id: String,
    pub issuer: String,
    /// Set for a provider other than Google (its issuer and this go into the import form).
    pub api_base: Option<String>,
    pub ios_client_ids: Vec<String>,
    pub on_desk: OnDesk,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ClientsFileView {
    pub path: String,
    pub clients: Vec<ImportableClient>,
}

/// Opens a clients file (the path typed, else the one chosen in the open dialog; `None` when
/// cancelled) and says, client by client, what this desk (the person's own store) has.
#[tauri::command]
pub async fn clients_file_open(
    app: AppHandle,
    state: State<'_, AppState>,
    path: Option<String>,
) -> CmdResult<Option<ClientsFileView>> {
    let filter = Some(("TokenDesk clients", &["json"][..]));
    let Some(path) = typed_or_open(&app, path, "Import a clients file", filter).await? else {
        return Ok(None);
    };
    let refused = |why: String| {
        CommandError::new(
            "invalid_clients_file",
            format!(
                "cannot import {}: {why}; choose the file another desk's Export clients (or \
                 `tokendesk client export`) wrote",
                path.display()
            ),
        )
    };
    let bytes = read_capped(&path, CLIENTS_FILE_LIMIT + 1)
        .await
        .map_err(|e| refused(e.to_string()))?;
    if bytes.len() > CLIENTS_FILE_LIMIT {
        return Err(refused("it is over 1 MiB".into()));
    }
    let file = ClientsFile::parse(&bytes).map_err(refused)?;
    // Compared with where an import goes: the team server in view, else the person's own store.
    let existing = if state.mode().await == crate::state::Mode::Server {
        state.desk().await?.clients().await?
    } else {
        state.live().await?.clients().await?
    };
    let clients = file
        .clients
        .into_iter()
        .map(|c| {
            let on_desk = match existing.iter().find(|e| e.name == c.name) {
                None => OnDesk::No,
                Some(e) if e.client_id == c.client_id => OnDesk::Same,
                Some(_) => OnDesk::Other,
            };
            ImportableClient {
                name: c.name,
                client_id: c.client_id,
                issuer: c.issuer,
                api_base: c.api_base,
                ios_client_ids: c.ios_client_ids,
                on_desk,
            }
        })
        .collect();
    Ok(Some(ClientsFileView {
        path: path.display().to_string(),
        clients,
    }))
}

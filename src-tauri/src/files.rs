//! The window's file work: a file of a user's appDataFolder downloaded to where the person
//! chooses, uploaded from a file they pick (the webview never reads files: it gets the name
//! and size to confirm), or deleted; and the user list exported. The core audits each.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tokendesk_core::desk::DriveFileReport;
use tokendesk_core::drive::{DriveUpload, UPLOAD_LIMIT};
use tokendesk_core::export::users_csv;
use ts_rs::TS;

use crate::commands::read_capped;
use crate::dialogs::{save_target, typed_or_open, write_chosen};
use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, lock};

/// A file written where the person chose.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SavedFile {
    pub path: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Downloads a file of the user's appDataFolder (at most 25 MiB) into the file the person
/// chooses in the save dialog (`name` is the suggestion); `None` when they cancel, and then
/// nothing is downloaded.
#[tauri::command]
pub async fn drive_download(
    app: AppHandle,
    state: State<'_, AppState>,
    sub: String,
    file_id: String,
    name: String,
) -> CmdResult<Option<SavedFile>> {
    let suggested = if name.trim().is_empty() {
        file_id.clone()
    } else {
        name
    };
    let title = "Save the file";
    let Some(path) = save_target(&app, &state.data_dir, title, suggested, ("", &[])).await? else {
        return Ok(None);
    };
    let download = state
        .desk()
        .await?
        .drive_download(&sub, None, &file_id)
        .await?;
    let shown = write_chosen(path, &download.content).await?;
    Ok(Some(SavedFile {
        path: shown,
        bytes: download.content.len() as u64,
    }))
}

/// The file picked for an upload, for the person to confirm.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PickedUpload {
    pub path: String,
    /// The name it gets in Drive (the file's name).
    pub name: String,
    #[ts(type = "number")]
    pub bytes: u64,
    pub mime_type: String,
}

/// The file to upload: the path the person typed, else the one they choose in the open
/// dialog. The path stays here (`drive_upload` reads it); the webview gets what it shows in the
/// confirmation. A file over 5 MB is refused at once.
#[tauri::command]
pub async fn drive_pick_upload(
    app: AppHandle,
    state: State<'_, AppState>,
    path: Option<String>,
) -> CmdResult<Option<PickedUpload>> {
    let title = "Upload into the appDataFolder";
    let Some(path) = typed_or_open(&app, path, title, None).await? else {
        return Ok(None);
    };
    let unreadable = |why: String| {
        CommandError::new(
            "unreadable_file",
            format!("cannot read {}: {why}", path.display()),
        )
    };
    let meta = tokio::fs::metadata(&path)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("it is not a file".into()));
    }
    let bytes = meta.len();
    if bytes > UPLOAD_LIMIT {
        return Err(tokendesk_core::desk::DeskError::from(
            tokendesk_core::drive::DriveError::UploadTooLarge {
                size: bytes,
                limit: UPLOAD_LIMIT,
            },
        )
        .into());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let picked = PickedUpload {
        path: path.display().to_string(),
        mime_type: tokendesk_core::drive::mime_type_for(&name).to_owned(),
        name,
        bytes,
    };
    *lock(&state.picked_upload) = Some(path);
    Ok(Some(picked))
}

/// Uploads the file last picked (after the person confirmed) into the user's appDataFolder.
#[tauri::command]
pub async fn drive_upload(
    state: State<'_, AppState>,
    sub: String,
    name: String,
    mime_type: String,
) -> CmdResult<DriveFileReport> {
    let path = lock(&state.picked_upload).take().ok_or_else(|| {
        CommandError::new(
            "invalid_request",
            "no file chosen: press Upload… and pick one",
        )
    })?;
    let limit = usize::try_from(UPLOAD_LIMIT).unwrap_or(usize::MAX);
    let content = read_capped(&path, limit + 1).await.map_err(|e| {
        CommandError::new(
            "unreadable_file",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let upload = DriveUpload {
        name,
        mime_type: Some(mime_type),
        content,
    };
    Ok(state.desk().await?.drive_upload(&sub, None, upload).await?)
}

/// Deletes a file of the user's appDataFolder (after the person confirmed).
#[tauri::command]
pub async fn drive_delete(
    state: State<'_, AppState>,
    sub: String,
    file_id: String,
) -> CmdResult<DriveFileReport> {
    Ok(state
        .desk()
        .await?
        .drive_delete(&sub, None, &file_id)
        .await?)
}

#[derive(Debug, Clone, Copy, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum UsersExportFormat {
    Csv,
    Json,
}

/// Every user (profiles and token health, never a token) as CSV or JSON where the person
/// chooses; `None` when they cancel (nothing is exported then). Audited by the core.
#[tauri::command]
pub async fn users_export(
    app: AppHandle,
    state: State<'_, AppState>,
    format: UsersExportFormat,
) -> CmdResult<Option<SavedFile>> {
    let (file_name, filter) = match format {
        UsersExportFormat::Csv => ("tokendesk-users.csv", ("CSV", &["csv"][..])),
        UsersExportFormat::Json => ("tokendesk-users.json", ("JSON", &["json"][..])),
    };
    let title = "Export the users";
    let Some(path) =
        save_target(&app, &state.data_dir, title, file_name.to_owned(), filter).await?
    else {
        return Ok(None);
    };
    let users = state.desk().await?.export_users().await?;
    let bytes = match format {
        UsersExportFormat::Csv => users_csv(&users)
            .map_err(|e| CommandError::new("internal", format!("cannot write CSV: {e}")))?,
        UsersExportFormat::Json => serde_json::to_vec_pretty(&serde_json::json!({
            "schema_version": tokendesk_core::export::JSON_SCHEMA_VERSION,
            "users": users,
        }))
        .map_err(|e| CommandError::new("internal", format!("cannot write JSON: {e}")))?,
    };
    let shown = write_chosen(path, &bytes).await?;
    Ok(Some(SavedFile {
        path: shown,
        bytes: bytes.len() as u64,
    }))
}

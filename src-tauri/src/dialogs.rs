//! The system's file dialogs, shown by the app (the webview has no dialog or file system
//! permission), and writing a file where the person chose.

use std::path::PathBuf;

use tauri::AppHandle;

use crate::error::{CmdResult, CommandError};

/// The save dialog; `None` when the person cancelled.
pub async fn save_path(
    app: &AppHandle,
    title: &'static str,
    file_name: String,
    filter: (&'static str, &'static [&'static str]),
) -> CmdResult<Option<PathBuf>> {
    use tauri_plugin_dialog::DialogExt as _;
    let app = app.clone();
    let picked = tokio::task::spawn_blocking(move || {
        let mut dialog = app
            .dialog()
            .file()
            .set_title(title)
            .set_file_name(file_name);
        if !filter.1.is_empty() {
            dialog = dialog.add_filter(filter.0, filter.1);
        }
        dialog.blocking_save_file()
    })
    .await
    .map_err(|e| CommandError::new("internal", format!("the file dialog stopped: {e}")))?;
    Ok(picked.and_then(|p| p.into_path().ok()))
}

/// The open dialog; `None` when the person cancelled.
pub async fn open_path(
    app: &AppHandle,
    title: &'static str,
    filter: Option<(&'static str, &'static [&'static str])>,
) -> CmdResult<Option<PathBuf>> {
    use tauri_plugin_dialog::DialogExt as _;
    let app = app.clone();
    let picked = tokio::task::spawn_blocking(move || {
        let mut dialog = app.dialog().file().set_title(title);
        if let Some((name, extensions)) = filter {
            dialog = dialog.add_filter(name, extensions);
        }
        dialog.blocking_pick_file()
    })
    .await
    .map_err(|e| CommandError::new("internal", format!("the file dialog stopped: {e}")))?;
    Ok(picked.and_then(|p| p.into_path().ok()))
}

/// Writes `bytes` to the chosen `path`; answers the path to show.
pub async fn write_chosen(path: PathBuf, bytes: &[u8]) -> CmdResult<String> {
    tokio::fs::write(&path, bytes).await.map_err(|e| {
        CommandError::new(
            "storage",
            format!(
                "cannot write {}: {e}; choose another folder",
                path.display()
            ),
        )
    })?;
    Ok(path.display().to_string())
}

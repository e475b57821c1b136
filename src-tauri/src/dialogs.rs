//! The system's file dialogs, shown by the app (the webview has no dialog or file system
//! permission), and writing a file where the person chose: in the save dialog, or in the save
//! folder of the settings (no dialog then).

use std::path::{Path, PathBuf};

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

/// Where to save `file_name`: in the settings' save folder when one is set (under a name no
/// file has there yet), else where the person chooses in the save dialog; `None` when they
/// cancelled.
pub async fn save_target(
    app: &AppHandle,
    data_dir: &Path,
    title: &'static str,
    file_name: String,
    filter: (&'static str, &'static [&'static str]),
) -> CmdResult<Option<PathBuf>> {
    match crate::settings::WindowSettings::load(data_dir)?.save_folder() {
        Some(folder) => free_name(&folder, &file_name).map(Some),
        None => save_path(app, title, file_name, filter).await,
    }
}

/// `folder/file_name`, or `folder/stem (2).ext`... when that exists: a download never
/// replaces a file without the dialog's own question. Only the last component of
/// `file_name` counts (a Drive file's name may hold a slash).
fn free_name(folder: &Path, file_name: &str) -> CmdResult<PathBuf> {
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    let base = match base {
        "" | "." | ".." => "download",
        name => name,
    };
    let (stem, ext) = match base.rfind('.') {
        Some(dot) if dot > 0 => base.split_at(dot),
        _ => (base, ""),
    };
    for n in 1..1000 {
        let name = if n == 1 {
            base.to_owned()
        } else {
            format!("{stem} ({n}){ext}")
        };
        let path = folder.join(name);
        if !path.exists() {
            return Ok(path);
        }
    }
    Err(CommandError::new(
        "storage",
        format!(
            "{} already holds 999 files named like {base}; tidy it or choose another save \
             folder in Settings",
            folder.display()
        ),
    ))
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

/// The path the person typed (a blank one counts as none), else the one they choose in the
/// open dialog; `None` when they cancelled.
pub async fn typed_or_open(
    app: &AppHandle,
    typed: Option<String>,
    title: &'static str,
    filter: Option<(&'static str, &'static [&'static str])>,
) -> CmdResult<Option<PathBuf>> {
    match typed.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) {
        Some(typed) => Ok(Some(PathBuf::from(typed))),
        None => open_path(app, title, filter).await,
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_file_never_replaces_one_and_stays_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let first = free_name(dir.path(), "save.json").unwrap();
        assert_eq!(first, dir.path().join("save.json"));
        std::fs::write(&first, "kept").unwrap();
        assert_eq!(
            free_name(dir.path(), "save.json").unwrap(),
            dir.path().join("save (2).json")
        );
        assert_eq!(
            free_name(dir.path(), "../../etc/passwd").unwrap(),
            dir.path().join("passwd"),
            "a name from Drive cannot climb out of the folder"
        );
        assert_eq!(
            free_name(dir.path(), "..").unwrap(),
            dir.path().join("download")
        );
        std::fs::write(dir.path().join(".env"), "").unwrap();
        assert_eq!(
            free_name(dir.path(), ".env").unwrap(),
            dir.path().join(".env (2)")
        );
    }
}

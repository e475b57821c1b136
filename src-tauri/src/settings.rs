//! The window's settings, kept in `DATA/settings.json`: which proxy (the environment's, none,
//! or one given here) and which extra CAs to trust, applied to the live store when it opens
//! (saving reopens it; the sandbox's emulator is in-process on loopback, always reached
//! directly); and where downloads and exports go without asking.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tokendesk_core::oauth::{HttpClient, HttpConfig, ProxyEnvironment, ProxySetting};
use ts_rs::TS;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

const FILE: &str = "settings.json";

/// What the Settings page chooses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct WindowSettings {
    pub proxy: ProxySetting,
    /// A PEM file of CA certificates trusted beside the system's.
    pub ca_bundle: Option<String>,
    /// A folder downloads and exports are saved in without the save dialog; `None`: ask.
    pub save_folder: Option<String>,
    /// Minutes between health sweeps while the window runs; `None` (the default): no
    /// scheduled sweep.
    pub health_sweep_minutes: Option<u32>,
}

impl WindowSettings {
    /// The settings kept in `data_dir` (the defaults when there are none yet).
    pub fn load(data_dir: &Path) -> CmdResult<Self> {
        let path = data_dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                CommandError::new(
                    "invalid_settings",
                    format!(
                        "{} is not TokenDesk's settings ({e}); fix or delete it, then choose \
                         again on the Settings page",
                        path.display()
                    ),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(CommandError::new(
                "storage",
                format!("cannot read {}: {e}", path.display()),
            )),
        }
    }

    fn save(&self, data_dir: &Path) -> CmdResult<()> {
        let fail = |e: String| {
            CommandError::new(
                "storage",
                format!("cannot save the settings in {}: {e}", data_dir.display()),
            )
        };
        std::fs::create_dir_all(data_dir).map_err(|e| fail(e.to_string()))?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| fail(e.to_string()))?;
        std::fs::write(data_dir.join(FILE), text).map_err(|e| fail(e.to_string()))
    }

    /// The folder to save in without asking, when one is set.
    pub fn save_folder(&self) -> Option<PathBuf> {
        filled(self.save_folder.as_deref()).map(PathBuf::from)
    }

    /// These settings on top of `http`.
    pub fn apply(&self, mut http: HttpConfig) -> HttpConfig {
        http.proxy = self.proxy.clone();
        http.ca_bundle = filled(self.ca_bundle.as_deref()).map(PathBuf::from);
        http
    }
}

fn filled(path: Option<&str>) -> Option<&str> {
    path.map(str::trim).filter(|p| !p.is_empty())
}

/// The Settings page: the choice, what the environment says, and where it is kept.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SettingsView {
    pub settings: WindowSettings,
    pub environment: ProxyEnvironment,
    pub path: String,
}

fn view_of(state: &AppState, settings: WindowSettings) -> SettingsView {
    SettingsView {
        settings,
        environment: ProxyEnvironment::read(),
        path: state.data_dir.join(FILE).display().to_string(),
    }
}

#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> CmdResult<SettingsView> {
    let settings = WindowSettings::load(&state.data_dir)?;
    Ok(view_of(&state, settings))
}

/// Checks the settings (the proxy URL parses, the CA bundle reads, the save folder is a
/// folder), keeps them, and reopens the live store with them.
#[tauri::command]
pub async fn settings_save(
    state: State<'_, AppState>,
    settings: WindowSettings,
) -> CmdResult<SettingsView> {
    HttpClient::new(settings.apply(HttpConfig::default()))
        .map_err(|e| CommandError::new("invalid_settings", format!("{e}; nothing was saved")))?;
    if let Some(folder) = settings.save_folder()
        && !folder.is_dir()
    {
        return Err(CommandError::new(
            "invalid_settings",
            format!(
                "the save folder {} is not a folder; create it or choose another (nothing was \
                 saved)",
                folder.display()
            ),
        ));
    }
    settings.save(&state.data_dir)?;
    state.reopen_live().await;
    Ok(view_of(&state, settings))
}

/// The open dialog for a CA bundle; the path is not secret, the page shows and saves it.
#[tauri::command]
pub async fn settings_pick_ca_bundle(app: AppHandle) -> CmdResult<Option<String>> {
    let filter = ("PEM certificates", &["pem", "crt", "cer"][..]);
    let picked = crate::dialogs::open_path(&app, "CA certificates (PEM)", Some(filter)).await?;
    Ok(picked.map(|p| p.display().to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_kept_in_the_data_folder_and_applied() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            WindowSettings::load(dir.path()).unwrap(),
            WindowSettings::default(),
            "no file yet: the environment's proxy, no extra CA, no scheduled health sweep"
        );
        let chosen = WindowSettings {
            proxy: ProxySetting::Manual {
                url: "http://proxy.example:3128".into(),
                no_proxy: "localhost".into(),
            },
            ca_bundle: Some("/etc/corp-ca.pem".into()),
            save_folder: Some(" /home/me/Downloads ".into()),
            health_sweep_minutes: Some(60),
        };
        chosen.save(dir.path()).unwrap();
        let loaded = WindowSettings::load(dir.path()).unwrap();
        assert_eq!(loaded, chosen, "what was saved is what opens next time");
        let http = loaded.apply(HttpConfig::default());
        assert_eq!(http.proxy, chosen.proxy);
        assert_eq!(http.ca_bundle, Some(PathBuf::from("/etc/corp-ca.pem")));
        assert_eq!(
            loaded.save_folder(),
            Some(PathBuf::from("/home/me/Downloads"))
        );
        std::fs::write(dir.path().join(FILE), "{not json").unwrap();
        let err = WindowSettings::load(dir.path()).unwrap_err();
        assert_eq!(err.code, "invalid_settings");
    }
}

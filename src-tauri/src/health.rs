//! The window's health sweep: by hand ("Sweep now" on the Users page) or on the schedule set in
//! Settings (off by default), a background task sweeps the store in view while the window runs.
//! Everything goes through the `Console` trait, so the same code sweeps the embedded store and
//! a team server. Users who newly need attention raise a desktop notification and an event the
//! Users page shows as a notice in the window (the notice also stands in when the desktop has
//! no notification service, as on a headless CI machine).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use tauri::{AppHandle, Emitter as _, Manager as _, State};
use tokendesk_core::desk::{
    AttentionItem, DEFAULT_EXPIRING_WITHIN_SECS, HealthOptions, HealthReport, NeedsAttention,
    StopFlag,
};
use ts_rs::TS;

use crate::error::{CmdResult, CommandError};
use crate::settings::WindowSettings;
use crate::state::{AppState, lock};

/// The event a finished sweep sends the UI.
pub const EVENT_HEALTH_SWEPT: &str = "health-swept";
/// How often the background task looks at the schedule.
const TICK: Duration = Duration::from_secs(30);
/// Grants a window's sweep checks at once: the window shares the machine with its person.
const CONCURRENCY: usize = 4;

/// What the window remembers between sweeps.
#[derive(Debug, Default)]
pub struct HealthState {
    /// The sweep under way (one at a time, by hand or on schedule).
    running: Mutex<Option<StopFlag>>,
    /// Users (and why) already seen needing attention: only others are "new". `None` until
    /// the first list was read, so what needed attention before the window opened is listed,
    /// not announced.
    seen: Mutex<Option<HashSet<String>>>,
    last: Mutex<Option<(Instant, HealthReport)>>,
}

/// The Users page's view of the sweep.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct HealthStatus {
    /// Minutes between background sweeps; `None`: off.
    pub schedule_minutes: Option<u32>,
    pub running: bool,
    /// The window's last sweep, if any.
    pub last: Option<HealthReport>,
}

/// What the UI hears when a sweep ends.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct HealthSwept {
    pub report: HealthReport,
    /// Users needing attention that this window had not seen need it before.
    pub new: Vec<AttentionItem>,
    /// Whether the desktop showed a notification for them (else the window's notice alone).
    pub notified: bool,
}

/// A user's need of attention as one string: a new reason for a user listed already is new.
fn key(item: &AttentionItem) -> String {
    let reasons: Vec<&str> = item.reasons.iter().map(|r| r.as_str()).collect();
    format!(
        "{}|{}|{}|{}",
        item.user.issuer,
        item.user.sub,
        item.user.client.as_deref().unwrap_or_default(),
        reasons.join(",")
    )
}

/// The items of `list` not in `seen`, and `seen` grown by them.
fn newly_listed(seen: &mut HashSet<String>, list: &NeedsAttention) -> Vec<AttentionItem> {
    list.users
        .iter()
        .filter(|item| seen.insert(key(item)))
        .cloned()
        .collect()
}

/// A notification's text for `new`: a count and the first few.
fn notification_text(new: &[AttentionItem]) -> (String, String) {
    let title = if new.len() == 1 {
        "TokenDesk: a user needs attention".to_owned()
    } else {
        format!("TokenDesk: {} users need attention", new.len())
    };
    let mut lines: Vec<String> = new
        .iter()
        .take(3)
        .map(|item| {
            let reasons: Vec<&str> = item.reasons.iter().map(|r| r.as_str()).collect();
            let who = item.user.email.as_deref().unwrap_or(&item.user.sub);
            format!("{who}: {}", reasons.join(", "))
        })
        .collect();
    if new.len() > 3 {
        lines.push(format!("and {} more on the Users page", new.len() - 3));
    }
    (title, lines.join("\n"))
}

fn notify(app: &AppHandle, new: &[AttentionItem]) -> bool {
    use tauri_plugin_notification::NotificationExt as _;
    let (title, body) = notification_text(new);
    match app.notification().builder().title(title).body(body).show() {
        Ok(()) => true,
        Err(err) => {
            // No notification service (a headless session): the window's notice remains.
            tracing::warn!(error = %err, "could not show a desktop notification");
            false
        }
    }
}

/// One sweep of the store in view: the list before (what is there already is not new on the
/// first sweep), the sweep, then the event and, for new users, a notification.
async fn sweep(app: &AppHandle) -> CmdResult<HealthReport> {
    let health = app.state::<HealthState>();
    let stop = {
        let mut slot = lock(&health.running);
        if slot.is_some() {
            return Err(CommandError::new(
                "busy",
                "a health sweep is already running; wait for it to finish",
            ));
        }
        let stop = StopFlag::default();
        *slot = Some(stop.clone());
        stop
    };
    let result = sweep_with(app, &health, &stop).await;
    *lock(&health.running) = None;
    let (report, new) = result?;
    let notified = !new.is_empty() && notify(app, &new);
    *lock(&health.last) = Some((Instant::now(), report.clone()));
    let _ = app.emit(
        EVENT_HEALTH_SWEPT,
        HealthSwept {
            report: report.clone(),
            new,
            notified,
        },
    );
    Ok(report)
}

async fn sweep_with(
    app: &AppHandle,
    health: &HealthState,
    stop: &StopFlag,
) -> CmdResult<(HealthReport, Vec<AttentionItem>)> {
    let console = app.state::<AppState>().desk().await?;
    if lock(&health.seen).is_none() {
        let before = console
            .needs_attention(DEFAULT_EXPIRING_WITHIN_SECS)
            .await?;
        let mut seen = HashSet::new();
        newly_listed(&mut seen, &before);
        lock(&health.seen).get_or_insert(seen);
    }
    let options = HealthOptions {
        concurrency: CONCURRENCY,
        expiring_within_secs: DEFAULT_EXPIRING_WITHIN_SECS,
    };
    let report = console.health_sweep(options, &|_, _, _| {}, stop).await?;
    let new = newly_listed(
        lock(&health.seen).get_or_insert_with(HashSet::new),
        &report.attention,
    );
    Ok((report, new))
}

/// The background task: every [`TICK`], a sweep when the schedule says one is due. Settings
/// are read each time, so a change applies without a restart.
pub fn spawn_schedule(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(TICK).await;
            let data_dir = app.state::<AppState>().data_dir.clone();
            let Some(minutes) = WindowSettings::load(&data_dir)
                .ok()
                .and_then(|s| s.health_sweep_minutes)
                .filter(|m| *m > 0)
            else {
                continue;
            };
            let every = Duration::from_secs(u64::from(minutes) * 60);
            let due = lock(&app.state::<HealthState>().last)
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= every);
            if due && let Err(err) = sweep(&app).await {
                tracing::warn!(code = %err.code, "the scheduled health sweep failed");
                // Retried at the next period, not at the next tick.
                if let Some((at, _)) = lock(&app.state::<HealthState>().last).as_mut() {
                    *at = Instant::now();
                }
            }
        }
    });
}

/// The users who need attention in the store in view.
#[tauri::command]
pub async fn health_attention(state: State<'_, AppState>) -> CmdResult<NeedsAttention> {
    let console = state.desk().await?;
    Ok(console
        .needs_attention(DEFAULT_EXPIRING_WITHIN_SECS)
        .await?)
}

/// A sweep now ("Sweep now" on the Users page).
#[tauri::command]
pub async fn health_sweep_now(app: AppHandle) -> CmdResult<HealthReport> {
    sweep(&app).await
}

#[tauri::command]
pub async fn health_status(
    state: State<'_, AppState>,
    health: State<'_, HealthState>,
) -> CmdResult<HealthStatus> {
    let settings = WindowSettings::load(&state.data_dir)?;
    Ok(HealthStatus {
        schedule_minutes: settings.health_sweep_minutes.filter(|m| *m > 0),
        running: lock(&health.running).is_some(),
        last: lock(&health.last).as_ref().map(|(_, r)| r.clone()),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokendesk_core::desk::{AttentionReason, UserView};

    fn item(sub: &str, reasons: Vec<AttentionReason>) -> AttentionItem {
        let user: UserView = serde_json::from_value(serde_json::json!({
            "client": "emu", "sub": sub, "issuer": "https://accounts.google.com",
            "email": format!("{sub}@example.com"), "email_verified": true, "name": null,
            "given_name": null, "family_name": null, "picture": null, "locale": null,
            "hd": null, "scopes": [], "access_token_expires_at": null,
            "access_token_state": "none", "refresh_token": "invalid",
            "refresh_token_invalid_reason": "Token has been expired or revoked.",
            "has_drive_appdata": false, "updated_at": "2026-12-01T00:00:00Z"
        }))
        .unwrap();
        AttentionItem { user, reasons }
    }

    fn list(items: Vec<AttentionItem>) -> NeedsAttention {
        NeedsAttention {
            total: items.len(),
            users: items,
            expiring_within_secs: 600,
            as_of: "2026-12-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn only_users_not_seen_before_or_with_a_new_reason_are_new() {
        let mut seen = HashSet::new();
        let first = list(vec![item("1", vec![AttentionReason::MissingDriveAppdata])]);
        assert_eq!(newly_listed(&mut seen, &first).len(), 1);
        assert!(
            newly_listed(&mut seen, &first).is_empty(),
            "seen once, not announced again"
        );
        let later = list(vec![
            item(
                "1",
                vec![
                    AttentionReason::Invalid,
                    AttentionReason::MissingDriveAppdata,
                ],
            ),
            item("2", vec![AttentionReason::Revoked]),
        ]);
        let new: Vec<String> = newly_listed(&mut seen, &later)
            .iter()
            .map(|i| i.user.sub.clone())
            .collect();
        assert_eq!(new, ["1", "2"], "a new reason is news too");
    }

    #[test]
    fn a_notification_names_a_few_and_counts_the_rest() {
        let one = notification_text(&[item("1", vec![AttentionReason::Invalid])]);
        assert_eq!(one.0, "TokenDesk: a user needs attention");
        assert_eq!(one.1, "1@example.com: invalid");
        let many: Vec<_> = (0..5)
            .map(|n| item(&n.to_string(), vec![AttentionReason::Revoked]))
            .collect();
        let (title, body) = notification_text(&many);
        assert_eq!(title, "TokenDesk: 5 users need attention");
        assert_eq!(body.lines().count(), 4);
        assert!(body.ends_with("and 2 more on the Users page"));
    }
}

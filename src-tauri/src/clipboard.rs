//! Copying a token: from Rust straight to the system clipboard, excluded from clipboard
//! history and managers where the platform has a way to say so, and cleared after
//! [`CLEAR_AFTER`] unless the person copied something else meanwhile.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::{CmdResult, CommandError};
use crate::state::lock;

pub const CLEAR_AFTER: Duration = Duration::from_secs(30);

/// One clipboard for the app's lifetime: on X11 the owner serves the content, so it must live.
fn clipboard() -> CmdResult<&'static Mutex<arboard::Clipboard>> {
    static CLIPBOARD: OnceLock<Result<Mutex<arboard::Clipboard>, String>> = OnceLock::new();
    CLIPBOARD
        .get_or_init(|| {
            arboard::Clipboard::new()
                .map(Mutex::new)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            CommandError::new(
                "clipboard_unavailable",
                format!("the system clipboard is not available ({e}); use Reveal instead"),
            )
        })
}

pub async fn copy_and_clear(token: Zeroizing<String>) -> CmdResult<()> {
    copy_text(token, true).await
}

/// Copies `text`; when it is `secret`, kept out of clipboard history and cleared after
/// [`CLEAR_AFTER`] like a token (a command with nothing secret in it stays, as any copy).
pub async fn copy_text(text: Zeroizing<String>, secret: bool) -> CmdResult<()> {
    let board = clipboard()?;
    if !secret {
        return lock(board)
            .set_text(text.as_str())
            .map_err(|e| CommandError::new("clipboard_unavailable", format!("cannot copy: {e}")));
    }
    let token = text;
    {
        let mut board = lock(board);
        let set = board.set();
        // Linux: the x-kde-passwordManagerHint that clipboard managers honour. Windows:
        // ExcludeClipboardContentFromMonitorProcessing, CanIncludeInClipboardHistory and
        // CanUploadToCloudClipboard off. macOS: org.nspasteboard.ConcealedType. (Only Linux is
        // exercised by this project's tests; the other two compile where their targets do.)
        #[cfg(target_os = "linux")]
        let set = {
            use arboard::SetExtLinux as _;
            set.exclude_from_history()
        };
        #[cfg(target_os = "windows")]
        let set = {
            use arboard::SetExtWindows as _;
            set.exclude_from_monitoring()
                .exclude_from_history()
                .exclude_from_cloud()
        };
        #[cfg(target_os = "macos")]
        let set = {
            use arboard::SetExtApple as _;
            set.exclude_from_history()
        };
        set.text(token.as_str())
            .map_err(|e| CommandError::new("clipboard_unavailable", format!("cannot copy: {e}")))?;
    }
    *lock(&COPIED) = Some(token.clone());
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(CLEAR_AFTER).await;
        clear_if_ours(board, &token);
    });
    Ok(())
}

/// The token copied last, until cleared: what [`clear_on_exit`] removes when the app ends
/// before the timer does.
static COPIED: Mutex<Option<Zeroizing<String>>> = Mutex::new(None);

/// Clears the clipboard if it still holds `token`: the person may have copied something else
/// since, and that is theirs.
fn clear_if_ours(board: &Mutex<arboard::Clipboard>, token: &str) {
    let mut board = lock(board);
    if board.get_text().is_ok_and(|now| now == token) {
        let _ = board.clear();
    }
    let mut copied = lock(&COPIED);
    if copied.as_deref().is_some_and(|c| c.as_str() == token) {
        *copied = None;
    }
}

/// On exit: a token still in the clipboard goes with the app (the 30 s timer dies with it).
pub fn clear_on_exit() {
    let token = lock(&COPIED).take();
    if let (Some(token), Ok(board)) = (token, clipboard()) {
        clear_if_ours(board, &token);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The real system clipboard (X11 under Xvfb in ./scripts/test).
    #[tokio::test]
    async fn a_copied_token_is_cleared_when_the_app_exits() {
        assert!(
            std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some(),
            "the clipboard needs a display: run this through ./scripts/test (Xvfb)"
        );
        const TOKEN: &str = "ya29.exit-test-token";
        copy_and_clear(Zeroizing::new(TOKEN.to_owned()))
            .await
            .unwrap();
        let board = clipboard().unwrap();
        assert_eq!(lock(board).get_text().unwrap(), TOKEN, "copied");
        clear_on_exit();
        assert_ne!(
            lock(board).get_text().ok().as_deref(),
            Some(TOKEN),
            "the token left with the app instead of staying until a timer that dies with it"
        );
    }
}

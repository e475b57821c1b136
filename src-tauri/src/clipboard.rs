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
    let board = clipboard()?;
    {
        let mut board = lock(board);
        let set = board.set();
        // Linux: the x-kde-passwordManagerHint that clipboard managers honour. (Windows'
        // ExcludeClipboardContentFromMonitorProcessing and macOS' ConcealedType have their own
        // arboard extensions; they are untested here, so not claimed.)
        #[cfg(target_os = "linux")]
        let set = {
            use arboard::SetExtLinux as _;
            set.exclude_from_history()
        };
        set.text(token.as_str())
            .map_err(|e| CommandError::new("clipboard_unavailable", format!("cannot copy: {e}")))?;
    }
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(CLEAR_AFTER).await;
        let mut board = lock(board);
        // Only what we put there: the person may have copied something else since.
        if board.get_text().is_ok_and(|now| now == *token) {
            let _ = board.clear();
        }
    });
    Ok(())
}

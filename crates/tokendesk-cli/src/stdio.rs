//! Writing to stdout and stderr as Unix tools do. `println!` panics when a write fails, so
//! `tokendesk users | head -1` died with "failed printing to stdout: Broken pipe" and a
//! backtrace. Here a reader that went away (EPIPE) only stops the output: the command ends
//! with the status its own outcome gives, as ripgrep and fd do (0 when it succeeded). Any other
//! write failure (a full disk behind `> file`) is kept and reported once the command is done.
//!
//! The workspace forbids unsafe code, so SIGPIPE is not reset to its default action (that needs
//! `libc::signal`); Rust's runtime ignores it, and the write's `BrokenPipe` error is handled.

use std::io::{self, Write as _};
use std::sync::Mutex;

#[derive(Debug)]
enum Stdout {
    Open,
    /// The reader closed its end: nothing more is written, and that is no failure.
    ReaderGone,
    /// Writing failed otherwise: the first error, reported when the command ends.
    Failed(io::Error),
}

static STDOUT: Mutex<Stdout> = Mutex::new(Stdout::Open);

/// Writes `text` to stdout, unless an earlier write failed.
pub fn write_stdout(text: &str) {
    write_stdout_bytes(text.as_bytes());
}

/// Writes `bytes` (a downloaded file, an export) to stdout, unless an earlier write failed.
pub fn write_stdout_bytes(bytes: &[u8]) {
    let mut state = STDOUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !matches!(*state, Stdout::Open) {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(err) = out.write_all(bytes).and_then(|()| out.flush()) {
        *state = if err.kind() == io::ErrorKind::BrokenPipe {
            Stdout::ReaderGone
        } else {
            Stdout::Failed(err)
        };
    }
}

/// Writes `text` to stderr. A failure there has nowhere left to be reported, so it is dropped.
pub fn write_stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// Why stdout could not be written, if it failed for another reason than a closed reader.
pub fn stdout_failure() -> Option<String> {
    match &*STDOUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        Stdout::Failed(err) => Some(format!(
            "cannot write the output to stdout: {err}. Check where stdout goes (a full disk, \
             a file or device that refuses writes) and run the command again"
        )),
        Stdout::Open | Stdout::ReaderGone => None,
    }
}

/// Asks `question` on the terminal (y/N; anything but y or yes is no). `yes` (the `--yes`
/// option) answers for the person; without a terminal and without it, the action is refused.
pub fn confirm(question: &str, yes: bool, action: &str) -> anyhow::Result<bool> {
    use std::io::IsTerminal as _;
    if yes {
        return Ok(true);
    }
    if !io::stdin().is_terminal() {
        anyhow::bail!(
            "nothing done: {action} asks for a confirmation and there is no terminal to ask on; \
             add --yes to confirm it in a script"
        );
    }
    write_stderr(&format!("{question} [y/N] "));
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// `println!` that never panics: see [`write_stdout`].
macro_rules! outln {
    () => { $crate::stdio::write_stdout("\n") };
    ($($arg:tt)*) => { $crate::stdio::write_stdout(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that never panics: see [`write_stderr`].
macro_rules! errln {
    ($($arg:tt)*) => { $crate::stdio::write_stderr(&format!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {errln, outln};

/// A progress bar on stderr for a run over many users, when a person watches (a terminal, and
/// not `--json`).
pub fn progress_bar(json: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}

/// Moves `bar` to `done` of `total`, naming the user just done.
pub fn advance(bar: Option<&indicatif::ProgressBar>, done: usize, total: usize, who: Option<&str>) {
    if let Some(bar) = bar {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(who.unwrap_or_default().to_owned());
    }
}

/// A stop flag that Ctrl-C raises: runs over many users stop starting more, and those under
/// way finish.
pub fn stop_on_ctrl_c() -> tokendesk_core::desk::StopFlag {
    let stop = tokendesk_core::desk::StopFlag::default();
    let stopper = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.stop();
        }
    });
    stop
}

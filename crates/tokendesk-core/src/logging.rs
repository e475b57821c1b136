//! One logging setup for every TokenDesk binary (the command, the window, the server): the
//! filter from `TOKENDESK_LOG` (default `warn`), lines to stderr. Logs never hold a secret.

/// Installs the subscriber; a second call (tests, a host that set one) changes nothing.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOKENDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

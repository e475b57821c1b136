//! TokenDesk's domain: everything the CLI, the desktop app, the receiver and the team server
//! do goes through the facade here (`desk`), over a storage (`storage`) that keeps every
//! secret sealed (`seal`). No UI, no Tauri.

pub mod api;
pub mod client_file;
pub mod console;
pub mod desk;
pub mod drive;
pub mod export;
pub mod follow;
pub mod id_token;
pub mod listener;
pub mod logging;
pub mod loopback;
pub mod oauth;
pub mod provider;
pub mod receiver;
pub mod remote;
pub mod seal;
pub mod secret;
pub mod signin_lab;
pub mod staff_login;
pub mod storage;
pub mod store;
pub mod vault;

/// This build's version (the workspace's, in every crate and the packages).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this build comes from (short hash), or "unknown" when it was built without
/// git (build.rs; `TOKENDESK_COMMIT` at build time overrides it). The one source of the commit
/// for `tokendesk --version`, the window's About and the team server's `GET /api/v1/version`.
pub const BUILD_COMMIT: &str = env!("TOKENDESK_COMMIT");

/// `0.1.0 (commit 1a2b3c4)`: what `tokendesk --version` and the window's About page show.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TOKENDESK_COMMIT"),
    ")"
);

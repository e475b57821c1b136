//! TokenDesk's domain: everything the CLI, the desktop app, the receiver and the team server
//! do goes through the facade here (`desk`), over a storage (`storage`) that keeps every
//! secret sealed (`seal`). No UI, no Tauri.

pub mod client_secret;
pub mod desk;
pub mod drive;
pub mod id_token;
pub mod oauth;
pub mod provider;
pub mod receiver;
pub mod seal;
pub mod secret;
pub mod storage;
pub mod store;
pub mod vault;

/// This build's version (the workspace's, in every crate and the packages).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this build comes from (short hash), or "unknown" when it was built without
/// git (build.rs; `TOKENDESK_BUILD_COMMIT` overrides it).
pub const BUILD_COMMIT: &str = env!("TOKENDESK_BUILD_COMMIT");

/// `0.1.0 (commit 1a2b3c4)`: what `tokendesk --version` and the window's About page show.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TOKENDESK_BUILD_COMMIT"),
    ")"
);

//! TokenDesk's domain: everything the CLI, the desktop app and the receiver do goes through
//! the facade here. No UI, no Tauri.

pub mod client_secret;
pub mod desk;
pub mod drive;
pub mod id_token;
pub mod oauth;
pub mod provider;
pub mod receiver;
pub mod secret;
pub mod store;
pub mod vault;

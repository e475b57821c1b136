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
pub mod oauth;
pub mod provider;
pub mod receiver;
pub mod remote;
pub mod seal;
pub mod secret;
pub mod staff_login;
pub mod storage;
pub mod store;
pub mod vault;

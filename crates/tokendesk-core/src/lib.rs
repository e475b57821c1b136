//! TokenDesk's domain: everything the CLI, the desktop app and the receiver do goes through
//! the facade here. No UI, no Tauri.

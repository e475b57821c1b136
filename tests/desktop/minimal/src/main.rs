//! The smallest Tauri app: one window on a static page with a header and a nav, nothing in
//! Rust. `cargo bench -p tokendesk-desktop-e2e --bench startup` opens it beside TokenDesk: the
//! first paint and the idle memory any Tauri 2 window costs on this machine.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(err) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("the minimal window could not start: {err}");
        std::process::exit(1);
    }
}

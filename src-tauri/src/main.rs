//! TokenDesk's desktop console. Everything lives in the library (testable without a window).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tokendesk_desktop::run();
}

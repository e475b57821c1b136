//! The system browser, for the sign-ins that go through it (the staff login to a team server,
//! the sign-in lab).

use crate::stdio::errln;

/// Opens `url` in the browser ([`tokendesk_core::loopback::open_in_browser`]). The URL is
/// printed too, for a machine without a browser.
pub fn open(url: &str, what: &str) {
    errln!("Opening {what} in your browser. If it does not open, visit:\n  {url}");
    let spawned = tokendesk_core::loopback::open_in_browser(url);
    if let Err(err) = spawned {
        errln!("(could not start a browser: {err}; open the address above yourself)");
    }
}

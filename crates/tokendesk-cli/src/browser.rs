//! The system browser, for the sign-ins that go through it (the staff login to a team server,
//! the sign-in lab).

use crate::stdio::errln;

/// Opens `url` in the browser: `$BROWSER` if set (the URL replaces `%s`, or is appended),
/// else the platform's opener. The URL is printed too, for a machine without a browser.
pub fn open(url: &str, what: &str) {
    errln!("Opening {what} in your browser. If it does not open, visit:\n  {url}");
    let spawned = match std::env::var("BROWSER") {
        Ok(browser) if !browser.trim().is_empty() => {
            let mut words = browser.split_whitespace().map(str::to_owned);
            let program = words.next().unwrap_or_default();
            let mut args: Vec<String> = words.collect();
            if args.iter().any(|a| a.contains("%s")) {
                for a in &mut args {
                    *a = a.replace("%s", url);
                }
            } else {
                args.push(url.to_owned());
            }
            std::process::Command::new(program).args(args).spawn()
        }
        _ if cfg!(target_os = "macos") => std::process::Command::new("open").arg(url).spawn(),
        _ if cfg!(windows) => std::process::Command::new("explorer").arg(url).spawn(),
        _ => std::process::Command::new("xdg-open").arg(url).spawn(),
    };
    if let Err(err) = spawned {
        errln!("(could not start a browser: {err}; open the address above yourself)");
    }
}

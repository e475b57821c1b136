//! The system browser, for the sign-ins a native app runs there (RFC 8252: never an embedded
//! web view, whose page the app could read).

/// Opens `url` in the person's browser: `$BROWSER` when set (its `%s` replaced by the URL,
/// else the URL appended), else the platform's opener. Fails only when nothing could start.
pub fn open(url: &str) -> std::io::Result<()> {
    let mut command = match std::env::var("BROWSER") {
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
            let mut command = std::process::Command::new(program);
            command.args(args);
            command
        }
        _ => {
            let opener = if cfg!(target_os = "macos") {
                "open"
            } else if cfg!(windows) {
                "explorer"
            } else {
                "xdg-open"
            };
            let mut command = std::process::Command::new(opener);
            command.arg(url);
            command
        }
    };
    command.spawn().map(drop)
}

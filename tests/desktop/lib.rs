//! Drives the real TokenDesk window: `tauri-driver` (which runs WebKitWebDriver) starts the
//! built app with a chosen `TOKENDESK_HOME`, and fantoccini speaks WebDriver to it. Needs a
//! display (Xvfb), a D-Bus session with an unlocked Secret Service, `tauri-driver` on PATH and
//! the app built with its UI (`./scripts/test` provides all of them).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

pub mod team_server;

/// Where the end-to-end tests write the README's screenshots.
pub fn screenshot_dir() -> PathBuf {
    workspace().join("docs/screenshots")
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn app_binary() -> PathBuf {
    let bin = std::env::var_os("TOKENDESK_DESKTOP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/debug/tokendesk-desktop"));
    assert!(
        bin.exists(),
        "{} is missing: build the app first (npm --prefix ui run build && cargo build -p \
         tokendesk-desktop), or run ./scripts/test, which does",
        bin.display()
    );
    bin.canonicalize().expect("app path")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One app window under WebDriver. Dropping it ends the session's processes.
#[allow(missing_debug_implementations)]
pub struct Window {
    pub client: Client,
    driver: Child,
    /// When the app was asked to launch (the WebDriver session's start).
    pub started: Instant,
    /// How long from launching the app until the first page element was found.
    pub first_paint: Duration,
}

impl Window {
    /// Launches the app on `home` (its TOKENDESK_HOME) and waits for the UI's navigation.
    pub async fn launch(home: &Path) -> Window {
        Self::launch_with(home, &[]).await
    }

    /// [`launch`](Self::launch) with extra environment variables for the app.
    pub async fn launch_with(home: &Path, env: &[(&str, &str)]) -> Window {
        Self::launch_app(&app_binary(), home, env).await
    }

    /// Launches `app` (TokenDesk, or any Tauri app whose page has a `nav-users` element) and
    /// waits for that element.
    pub async fn launch_app(app: &Path, home: &Path, env: &[(&str, &str)]) -> Window {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "no DISPLAY: the window needs X (run under xvfb-run, as ./scripts/test does)"
        );
        let port = free_port();
        let native = free_port();
        let mut command = Command::new("tauri-driver");
        command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("TOKENDESK_HOME", home)
            .env("TOKENDESK_KEYRING", "test")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            command.process_group(0);
        }
        let driver = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start tauri-driver ({e}): cargo install tauri-driver --version '^2' \
                 --locked (./scripts/setup does)"
            )
        });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app }),
        );
        let started = Instant::now();
        let client = ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a WebDriver session with the app");
        let mut window = Window {
            client,
            driver,
            started,
            first_paint: Duration::ZERO,
        };
        window.wait("nav-users").await;
        window.first_paint = started.elapsed();
        window.wait_for_script().await;
        window
    }

    /// Until the page's script runs the nav: index.html paints the same nav before it (the
    /// window's first frame), whose buttons do nothing yet. React marks the nodes it owns
    /// with `__reactProps$…` keys; a page with no script (the benchmark's minimal window) has
    /// nothing to wait for.
    async fn wait_for_script(&self) {
        let check = "const nav = document.querySelector('[data-testid=\"nav-users\"]');
                     const scripted = document.querySelector('script[src]') !== null;
                     return !scripted || Object.keys(nav).some((k) => k.startsWith('__reactProps'));";
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.client.execute(check, vec![]).await.ok() == Some(serde_json::json!(true)) {
                return;
            }
            if Instant::now() > deadline {
                self.fail("the page's script never took over the first frame")
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn css(testid: &str) -> String {
        format!("[data-testid=\"{testid}\"]")
    }

    /// The element with this data-testid, waiting up to 20 s for it.
    pub async fn wait(&self, testid: &str) -> fantoccini::elements::Element {
        let css = Self::css(testid);
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(&css))
            .await
        {
            Ok(el) => el,
            Err(e) => {
                self.fail(&format!(
                    "no element [data-testid={testid}] within 20 s: {e}"
                ))
                .await
            }
        }
    }

    /// Fails the test with what the window shows: its error boxes, and a screenshot in
    /// target/e2e-failures/.
    async fn fail(&self, what: &str) -> ! {
        let errors = self.error_text().await;
        let dir = workspace().join("target/e2e-failures");
        let _ = std::fs::create_dir_all(&dir);
        let shot = dir.join(format!("{}.png", std::process::id()));
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(&shot, png);
        }
        panic!(
            "{what}; errors on screen: {errors:?}; screenshot: {}",
            shot.display()
        )
    }

    pub async fn wait_css(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} within 20 s: {e}"))
    }

    pub async fn all(&self, testid: &str) -> Vec<fantoccini::elements::Element> {
        self.client
            .find_all(Locator::Css(&Self::css(testid)))
            .await
            .expect("find_all")
    }

    pub async fn click(&self, testid: &str) {
        self.wait(testid)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {testid}: {e}"));
    }

    pub async fn fill(&self, testid: &str, text: &str) {
        let el = self.wait(testid).await;
        // WebDriver's clear() sets the value behind React's back (its state keeps the old
        // text): empty it through the native setter and an input event, as typing would.
        let arg = serde_json::to_value(&el).expect("element reference");
        self.client
            .execute(
                "const el = arguments[0];
                 const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value').set;
                 setter.call(el, '');
                 el.dispatchEvent(new Event('input', { bubbles: true }));",
                vec![arg],
            )
            .await
            .expect("clear the field");
        if !text.is_empty() {
            el.send_keys(text).await.expect("send_keys");
        }
    }

    pub async fn select(&self, testid: &str, value: &str) {
        // The options may arrive after the select itself (a page loading its clients).
        self.wait_css(&format!("{} option[value=\"{value}\"]", Self::css(testid)))
            .await;
        self.wait(testid)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("cannot select {value:?} in {testid}: {e}"));
    }

    pub async fn text(&self, testid: &str) -> String {
        self.wait(testid).await.text().await.expect("text")
    }

    /// Waits until the element's text contains `needle`; fails with what it last saw, or with
    /// the error box's text when one appears meanwhile.
    pub async fn wait_text(&self, testid: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let css = Self::css(testid);
            let seen = match self.client.find(Locator::Css(&css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if seen.contains(needle) {
                return seen;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "[data-testid={testid}] never contained {needle:?}; last: {seen:?}"
                ))
                .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every error box's text on screen now.
    pub async fn error_text(&self) -> Vec<String> {
        let mut out = Vec::new();
        for el in self.all("error").await {
            out.push(el.text().await.unwrap_or_default());
        }
        out
    }

    pub async fn screenshot(&self, name: &str) {
        // Two animation frames: taken right after the DOM changed, a screenshot can show the
        // frame painted before the change.
        let _ = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 requestAnimationFrame(() => requestAnimationFrame(() => done(null)));",
                vec![],
            )
            .await;
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Ends the WebDriver session (the app quits); dropping then stops the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // The driver, WebKitWebDriver and the app share the driver's process group.
        #[cfg(unix)]
        if let Ok(pgid) = i32::try_from(self.driver.id()) {
            use nix::sys::signal::{Signal, killpg};
            use nix::unistd::Pid;
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Resident and proportional memory (KiB) of a process and all its descendants (the app and
/// WebKit's web and network processes), and how many processes that is.
pub fn memory_of_tree(root: u32) -> (u64, u64, usize) {
    let mut pids = vec![root];
    let mut i = 0;
    while i < pids.len() {
        let parent = pids[i];
        for pid in all_pids() {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) && !pids.contains(&pid) {
                pids.push(pid);
            }
        }
        i += 1;
    }
    let field = |pid: u32, file: &str, name: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let rss = pids.iter().map(|&p| field(p, "status", "VmRSS:")).sum();
    let pss = pids.iter().map(|&p| field(p, "smaps_rollup", "Pss:")).sum();
    (rss, pss, pids.len())
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The running process of this executable (one window at a time here).
pub fn process_of(exe: &Path) -> Option<u32> {
    let exe = exe.canonicalize().ok()?;
    all_pids()
        .into_iter()
        .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe))
}

/// The TokenDesk window's process (started by WebKitWebDriver; one window at a time here).
pub fn app_pid() -> Option<u32> {
    process_of(&app_binary())
}

//! `tokendesk`: every TokenDesk operation as a scriptable command. This binary is an adapter:
//! it parses arguments, calls the core's facade (`Desk`), and prints tables or `--json`.

mod io_errors;
mod output;
mod stdio;

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand};
use tokendesk_core::desk::{
    AddClient, Desk, DeskError, DeskOptions, InspectReport, ReceiverSink, RevealWhich, RevokeResult,
};
use tokendesk_core::oauth::{OAuthError, RedirectChoice};
use tokendesk_core::receiver::{self, ReceiverConfig, TlsFiles};
use tokendesk_core::secret::AuthCode;
use tokendesk_core::store::AuditFilter;
use tokendesk_core::vault::{BuildKind, OsKeyring, SecretStore};

use crate::io_errors::{arg_or_stdin, cannot_listen, cannot_read, cannot_write};
use crate::output::Out;
use crate::stdio::{errln, outln};

#[derive(Debug, Parser)]
#[command(
    name = "tokendesk",
    version = tokendesk_core::VERSION_LINE,
    about = "The console for the server side of Google Sign-In"
)]
struct Cli {
    /// Print one JSON document on stdout (errors: {"error": {"code", "message"}}).
    #[arg(long, global = true)]
    json: bool,
    /// Where the SQLite store lives (default: $TOKENDESK_HOME, else ~/.local/share/tokendesk).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Configure the web (server) OAuth clients codes are exchanged with.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Exchange a serverAuthCode for tokens, verify the ID token, store the user.
    Exchange {
        #[arg(long)]
        client: Option<String>,
        /// "" (default: iOS/Android serverAuthCodes), "postmessage" (web popups), or a URL.
        #[arg(long, default_value = "")]
        redirect_uri: String,
        /// The code; "-" reads it from stdin.
        code: String,
    },
    /// List users, optionally searching email, name or sub.
    Users {
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One user: profile from the ID token, token state, scopes, claims.
    User {
        sub_or_email: String,
        /// Also print the access and refresh tokens (audited).
        #[arg(long)]
        reveal: bool,
    },
    /// Get a new access token with the stored refresh token.
    Refresh {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        sub_or_email: Option<String>,
        /// Every user with a live refresh token.
        #[arg(long)]
        all: bool,
        /// Users refreshed at once with --all.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long)]
        client: Option<String>,
    },
    /// Revoke the user's grant at Google: the whole grant dies (every token of it).
    Revoke {
        sub_or_email: String,
        #[arg(long)]
        client: Option<String>,
    },
    /// Decode and verify a JWT (every check), or ask tokeninfo about an access token.
    Inspect {
        #[arg(long)]
        client: Option<String>,
        /// The token; "-" reads it from stdin.
        token: String,
    },
    /// The user's Drive appDataFolder files.
    Drive {
        sub_or_email: String,
        #[arg(long)]
        client: Option<String>,
    },
    /// Receive serverAuthCodes over HTTP(S) POST /auth/code, as the seed's backend.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8400")]
        listen: SocketAddr,
        #[arg(long)]
        client: Option<String>,
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Allow a non-loopback address (needs TLS).
        #[arg(long)]
        allow_non_loopback: bool,
    },
    /// Run the offline Google emulator (OAuth 2.0, OpenID Connect, Drive appDataFolder).
    ///
    /// Prints its base URL alone on the first line of stdout, then serves until Ctrl-C.
    Emulator(EmulatorArgs),
    /// The audit log: every exchange, refresh, revoke, reveal and failure.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Write the manual pages (tokendesk.1, tokendesk-SUBCOMMAND.1...) into DIR: the packages
    /// generate them from this very definition, so they never drift from the options.
    #[command(hide = true)]
    Man { dir: PathBuf },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Import a client_secret.json downloaded from Google Cloud Console (Web application).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "FILE")]
        secrets: PathBuf,
        /// Another OpenID provider than Google, e.g. the emulator (OIDC discovery).
        #[arg(long, requires = "api_base")]
        issuer: Option<String>,
        /// Where that provider serves Drive (`{api_base}/drive/v3/`).
        #[arg(long)]
        api_base: Option<String>,
        /// The iOS (or Android) client ID whose sign-ins send codes here; repeatable.
        #[arg(long = "ios-client-id")]
        ios_client_ids: Vec<String>,
    },
    List,
    Show {
        name: String,
    },
    Remove {
        name: String,
    },
}

#[derive(Debug, clap::Args)]
struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Write a client_secret.json (Google Cloud Console's shape) for its web client here.
    #[arg(long, value_name = "FILE")]
    client_secret_out: Option<PathBuf>,
    /// Allow a non-loopback address. The emulator gives tokens to anyone who asks.
    #[arg(long)]
    allow_non_loopback: bool,
    /// The `iss` of its ID tokens: Google's (as Google signs), Google's legacy form, or the
    /// emulator's own origin (for clients that require issuer == discovery URL, such as
    /// `tokendesk client add --issuer`).
    #[arg(long, value_enum, default_value = "google")]
    issuer: IssuerArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum IssuerArg {
    Google,
    GoogleLegacy,
    Origin,
}

/// Exit codes, so scripts can tell failures apart.
mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const NOT_FOUND: u8 = 3;
    /// Google refused (invalid_grant, invalid_client, ...): retrying will not help.
    pub const REFUSED: u8 = 4;
    /// Google unreachable, rate limited or the outcome unknown: retrying may help.
    pub const UNAVAILABLE: u8 = 5;
    /// The keyring or the SQLite store failed.
    pub const STORAGE: u8 = 6;
    /// An ID token failed verification.
    pub const UNVERIFIED: u8 = 7;
}

fn exit_code(err: &DeskError) -> u8 {
    match err {
        DeskError::ClientNotFound { .. }
        | DeskError::UserNotFound { .. }
        | DeskError::NoGrant { .. } => exit::NOT_FOUND,
        DeskError::OAuth(e)
            if e.is_transient() || matches!(**e, OAuthError::OutcomeUnknown { .. }) =>
        {
            exit::UNAVAILABLE
        }
        DeskError::VerificationDeferred { .. } => exit::UNAVAILABLE,
        DeskError::OAuth(_) | DeskError::Replay { .. } | DeskError::RefreshTokenUnusable { .. } => {
            exit::REFUSED
        }
        DeskError::Drive(_) => exit::UNAVAILABLE,
        DeskError::Store(_)
        | DeskError::Vault(_)
        | DeskError::Seal(_)
        | DeskError::KeyMissing { .. }
        | DeskError::DataDir { .. } => exit::STORAGE,
        DeskError::IdToken(_)
        | DeskError::RefreshedIdentityChanged { .. }
        | DeskError::NoIdToken => exit::UNVERIFIED,
        _ => exit::FAILURE,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOKENDESK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let out = Out::new(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            out.error(
                "runtime",
                &format!(
                    "cannot start the async runtime: {err}. The system may be out of threads or \
                     memory: close some programs and run the command again"
                ),
                None,
            );
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, &out)) {
        // The output could not be written (other than to a reader that left): the command
        // did its work, but whoever ran it did not get the answer.
        Ok(status) => match stdio::stdout_failure() {
            Some(why) if status == 0 => {
                errln!("error: {why}");
                ExitCode::FAILURE
            }
            _ => ExitCode::from(status),
        },
        Err(err) => match err.downcast_ref::<DeskError>() {
            Some(desk) => {
                out.error(
                    desk.code(),
                    &desk.to_string(),
                    desk.explanation().as_deref(),
                );
                ExitCode::from(exit_code(desk))
            }
            None => {
                out.error("error", &format!("{err:#}"), None);
                ExitCode::FAILURE
            }
        },
    }
}

/// The OS keyring; `TOKENDESK_KEYRING=test` keeps tests out of the product's entries.
fn vault() -> Result<Arc<dyn SecretStore>, DeskError> {
    let kind = match std::env::var("TOKENDESK_KEYRING").as_deref() {
        Ok("test") => BuildKind::Test,
        _ => BuildKind::Product,
    };
    Ok(Arc::new(OsKeyring::open(kind)?))
}

async fn open_desk(data_dir: Option<PathBuf>, quick_check: bool) -> Result<Arc<Desk>, DeskError> {
    let dir = data_dir.unwrap_or_else(Desk::default_data_dir);
    let options = DeskOptions {
        quick_check,
        ..DeskOptions::new(dir)
    };
    Ok(Arc::new(Desk::open(&options, vault()?).await?))
}

/// Runs the command; `Ok` holds the exit status of a command that printed its own outcome.
async fn run(cli: Cli, out: &Out) -> anyhow::Result<u8> {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Emulator(args) => return emulator(args).await.map(|()| exit::OK),
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tokendesk", &mut script);
            stdio::write_stdout(&String::from_utf8_lossy(&script));
            return Ok(exit::OK);
        }
        Command::Man { dir } => {
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
            return Ok(exit::OK);
        }
        _ => {}
    }
    // Reads that people run often skip the full-file check; anything that writes tokens runs it.
    let read_only = matches!(
        cli.command,
        Command::Users { .. }
            | Command::User { reveal: false, .. }
            | Command::Audit { .. }
            | Command::Client(ClientCommand::List | ClientCommand::Show { .. })
    );
    let desk = open_desk(data_dir, !read_only).await?;
    match cli.command {
        Command::Client(ClientCommand::Add {
            name,
            secrets,
            issuer,
            api_base,
            ios_client_ids,
        }) => {
            let secrets_json = std::fs::read(&secrets).map_err(|err| {
                cannot_read(
                    "the client secrets file (--secrets)",
                    &secrets,
                    &err,
                    "it is the JSON Google Cloud Console downloads for a Web application \
                     OAuth client (APIs & Services > Credentials > Download JSON)",
                )
            })?;
            let client = desk
                .add_client(AddClient {
                    name,
                    secrets_json,
                    issuer,
                    api_base,
                    ios_client_ids,
                })
                .await?;
            out.client(&client);
        }
        Command::Client(ClientCommand::List) => out.clients(&desk.clients().await?),
        Command::Client(ClientCommand::Show { name }) => out.client(&desk.client(&name).await?),
        Command::Client(ClientCommand::Remove { name }) => {
            desk.remove_client(&name).await?;
            out.done(&format!("client {name} removed"));
        }
        Command::Exchange {
            client,
            redirect_uri,
            code,
        } => {
            let redirect = RedirectChoice::parse(&redirect_uri).with_context(|| {
                format!("--redirect-uri {redirect_uri:?} is not \"\", \"postmessage\" or a URL")
            })?;
            let code = AuthCode::new(arg_or_stdin(code, "code", "exchange")?);
            let report = desk.exchange(client.as_deref(), code, redirect).await?;
            out.exchange(&report);
        }
        Command::Users { search, limit } => {
            out.users(&desk.users(search.as_deref(), limit).await?);
        }
        Command::User {
            sub_or_email,
            reveal,
        } => {
            let detail = desk.user(&sub_or_email).await?;
            let tokens = if reveal {
                let access = desk
                    .reveal(&sub_or_email, RevealWhich::AccessToken)
                    .await
                    .ok();
                let refresh = desk
                    .reveal(&sub_or_email, RevealWhich::RefreshToken)
                    .await
                    .ok();
                Some((access, refresh))
            } else {
                None
            };
            out.user(&detail, tokens.as_ref());
        }
        Command::Refresh {
            sub_or_email: Some(who),
            client,
            ..
        } => {
            out.user_view(&desk.refresh(&who, client.as_deref()).await?);
        }
        Command::Refresh {
            all: true,
            concurrency,
            ..
        } => {
            let bar = (!out.json && std::io::stderr().is_terminal()).then(|| {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            });
            let stop = tokendesk_core::desk::StopFlag::default();
            let stopper = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    stopper.stop();
                }
            });
            let report = desk
                .refresh_all(
                    concurrency,
                    |done, total, outcome| {
                        if let Some(bar) = &bar {
                            bar.set_length(total as u64);
                            bar.set_position(done as u64);
                            bar.set_message(outcome.email.clone().unwrap_or_default());
                        }
                    },
                    &stop,
                )
                .await?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            out.refresh_all(&report);
            if report.failed > 0 && out.json {
                // The report is the one JSON document; it counts and lists the failures.
                return Ok(exit::FAILURE);
            }
            if report.failed > 0 {
                anyhow::bail!(
                    "{} of {} refreshes failed (listed above); `tokendesk user SUB` shows why each \
                     refresh token is unusable, and a new sign-in fixes an invalid one",
                    report.failed,
                    report.total
                );
            }
        }
        Command::Refresh { .. } => anyhow::bail!("name a user, or pass --all"),
        Command::Revoke {
            sub_or_email,
            client,
        } => {
            let report = desk.revoke(&sub_or_email, client.as_deref()).await?;
            let pending = report.outcome == RevokeResult::Pending;
            out.revoke(&report);
            if pending {
                return Ok(exit::UNAVAILABLE);
            }
        }
        Command::Inspect { client, token } => {
            let token = arg_or_stdin(token, "token", "inspect")?;
            let report = desk.inspect(client.as_deref(), &token).await?;
            out.inspect(&report);
            // `tokendesk inspect "$T" && deploy` must stop on a token that is not valid. An
            // access token Google does not know never gets here: tokeninfo's refusal is an
            // error (exit 4, Google refused), as for every other call Google answers with one.
            if let InspectReport::Jwt(inspection) = &report
                && !inspection.valid
            {
                return Ok(exit::UNVERIFIED);
            }
        }
        Command::Drive {
            sub_or_email,
            client,
        } => out.drive(&desk.drive(&sub_or_email, client.as_deref()).await?),
        Command::Serve {
            listen,
            client,
            tls_cert,
            tls_key,
            allow_non_loopback,
        } => {
            let tls = tls_cert
                .zip(tls_key)
                .map(|(cert_chain, private_key)| TlsFiles {
                    cert_chain,
                    private_key,
                });
            let sink = Arc::new(ReceiverSink {
                desk: Arc::clone(&desk),
                client,
            });
            let config = ReceiverConfig {
                listen,
                tls,
                allow_non_loopback,
                ..ReceiverConfig::default()
            };
            let rx = receiver::start(config, sink)
                .await
                .map_err(|err| match err {
                    receiver::ReceiverError::Bind { addr, source } => cannot_listen(addr, &source),
                    other => other.into(),
                })?;
            outln!("{}", rx.url());
            errln!(
                "Receiving serverAuthCodes at {} (X-Requested-With required). Ctrl-C stops.",
                rx.url()
            );
            let mut events = rx.subscribe();
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    event = events.recv() => if let Ok(e) = event {
                        errln!("{} {} {} {}", e.peer, e.status, e.outcome, e.email.unwrap_or_default());
                    },
                }
            }
        }
        Command::Audit { limit } => {
            out.audit(
                &desk
                    .audit_log(AuditFilter {
                        limit,
                        ..AuditFilter::default()
                    })
                    .await?,
            );
        }
        Command::Emulator(_) | Command::Completions { .. } | Command::Man { .. } => {}
    }
    Ok(exit::OK)
}

async fn emulator(args: EmulatorArgs) -> anyhow::Result<()> {
    let mode = match args.issuer {
        IssuerArg::Google => google_emulator::IssuerMode::Google,
        IssuerArg::GoogleLegacy => google_emulator::IssuerMode::GoogleLegacy,
        IssuerArg::Origin => google_emulator::IssuerMode::Origin,
    };
    let emulator = google_emulator::Emulator::builder()
        .listen(args.listen)
        .allow_non_loopback(args.allow_non_loopback)
        .issuer_mode(mode)
        .start()
        .await
        .map_err(|err| match err {
            google_emulator::StartError::Bind { addr, source } => cannot_listen(addr, &source),
            other => other.into(),
        })?;
    if let Some(path) = &args.client_secret_out {
        let json = serde_json::to_string_pretty(&emulator.client_secret_json())?;
        write_private(path, json.as_bytes()).map_err(|err| {
            cannot_write("the client secrets file (--client-secret-out)", path, &err)
        })?;
    }
    outln!("{}", emulator.base_url());
    errln!(
        "Google emulator at {} (iss {})",
        emulator.base_url(),
        emulator.issuer()
    );
    errln!("  web client id:  {}", emulator.web_client().client_id);
    errln!("  iOS client id:  {}", emulator.ios_client_id());
    match &args.client_secret_out {
        Some(path) => errln!("  client secret:  in {}", path.display()),
        None => errln!("  client secret:  not shown; pass --client-secret-out FILE"),
    }
    errln!(
        "  mint a serverAuthCode: curl -s -X POST {}/emulator/v1/codes -H 'Content-Type: application/json' -d '{{\"email\":\"ada@example.com\"}}'",
        emulator.base_url()
    );
    errln!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C (the signal handler could not be installed); stop the emulator with kill")?;
    Ok(())
}

/// Writes a file only its owner can read: it holds a client secret.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

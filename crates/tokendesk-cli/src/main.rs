//! `tokendesk`: every TokenDesk operation as a scriptable command. This binary is an adapter:
//! it parses arguments, calls the library, and prints.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tokendesk",
    version,
    about = "The console for the server side of Google Sign-In"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the offline Google emulator (OAuth 2.0, OpenID Connect, Drive appDataFolder).
    ///
    /// Prints its base URL alone on the first line of stdout, then serves until Ctrl-C.
    Emulator(EmulatorArgs),
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
    /// emulator's own origin (for clients that require issuer == discovery URL).
    #[arg(long, value_enum, default_value = "google")]
    issuer: IssuerArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum IssuerArg {
    Google,
    GoogleLegacy,
    Origin,
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Emulator(args) => emulator(args).await,
    }
}

async fn emulator(args: EmulatorArgs) -> anyhow::Result<()> {
    let mode = match args.issuer {
        IssuerArg::Origin => google_emulator::IssuerMode::Origin,
        IssuerArg::Google => google_emulator::IssuerMode::Google,
        IssuerArg::GoogleLegacy => google_emulator::IssuerMode::GoogleLegacy,
    };
    let emulator = google_emulator::Emulator::builder()
        .listen(args.listen)
        .allow_non_loopback(args.allow_non_loopback)
        .issuer_mode(mode)
        .start()
        .await?;
    if let Some(path) = &args.client_secret_out {
        let json = serde_json::to_string_pretty(&emulator.client_secret_json())?;
        write_private(path, json.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("{}", emulator.base_url());
    eprintln!("Google emulator at {}", emulator.base_url());
    eprintln!("  web client id:  {}", emulator.web_client().client_id);
    eprintln!("  iOS client id:  {}", emulator.ios_client_id());
    match &args.client_secret_out {
        Some(path) => eprintln!("  client secret:  in {}", path.display()),
        None => eprintln!("  client secret:  not shown; pass --client-secret-out FILE"),
    }
    eprintln!(
        "  mint a serverAuthCode: curl -s -X POST {}/emulator/v1/codes -d '{{\"email\":\"ada@example.com\"}}'",
        emulator.base_url()
    );
    eprintln!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
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

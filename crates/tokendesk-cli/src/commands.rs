//! The commands: open the console (the embedded store), call it, print the outcome. The
//! console's commands are written once for any [`Console`]; the receiver and the key work on
//! the embedded store only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::CommandFactory as _;
use tokendesk_core::console::{AuditQuery, Console};
use tokendesk_core::desk::StopFlag;
use tokendesk_core::desk::{
    AddClient, Desk, DeskError, DeskOptions, HealthOptions, InspectReport, ReceiverSink,
    RefreshOutcome, RevealWhich, RevokeResult,
};
use tokendesk_core::follow::Followed;
use tokendesk_core::oauth::{HttpConfig, RedirectChoice};
use tokendesk_core::receiver::{self, Receiver, ReceiverConfig, TlsFiles};
use tokendesk_core::secret::AuthCode;
use tokendesk_core::vault::{BuildKind, OsKeyring, SecretStore};

use crate::args::{Cli, ClientCommand, Command, DriveArgs};
use crate::io_errors::{arg_or_stdin, cannot_listen, cannot_read};
use crate::output::Out;
use crate::stdio::{errln, outln};
use crate::{drive, emulator, exit, export, keys, remote, server, signin, stdio};

/// How long stopping the receiver waits for exchanges in flight.
const DRAIN: Duration = Duration::from_secs(30);

/// The OS keyring of the product (or of the tests: `TOKENDESK_KEYRING=test`).
fn vault() -> Result<Arc<dyn SecretStore>, DeskError> {
    Ok(Arc::new(OsKeyring::open(BuildKind::from_env())?))
}

/// Where the store is and how the network is reached (`--data-dir`, `--ca-bundle`).
struct Place {
    data_dir: Option<PathBuf>,
    ca_bundle: Option<PathBuf>,
}

async fn open_desk(place: Place, quick_check: bool) -> Result<Arc<Desk>, DeskError> {
    let dir = place.data_dir.unwrap_or_else(Desk::default_data_dir);
    let mut options = DeskOptions {
        quick_check,
        ..DeskOptions::new(dir)
    };
    // The proxy is the environment's (HTTPS_PROXY, HTTP_PROXY, NO_PROXY): the default.
    options.http.ca_bundle = place.ca_bundle;
    Ok(Arc::new(Desk::open(&options, vault()?).await?))
}

/// Stops accepting, then waits (bounded) for the exchanges in flight, saying so.
async fn stop_receiver(rx: &Receiver, sink: &ReceiverSink) {
    rx.stop();
    let running = sink.in_flight();
    if running == 0 {
        return;
    }
    errln!(
        "waiting for {running} exchange(s) in flight (up to {} s)...",
        DRAIN.as_secs()
    );
    let left = sink.drain(DRAIN).await;
    if left > 0 {
        errln!(
            "{left} exchange(s) still running were left: what Google answered them is kept with \
             them, and the next start of TokenDesk finishes them"
        );
    }
}

/// Runs the command; `Ok` holds the exit status of a command that printed its own outcome.
pub async fn run(cli: Cli, out: &Out) -> anyhow::Result<u8> {
    // How this machine reaches Google, for what the console does here (the sign-in lab's
    // look at the authorization endpoint; on the embedded store, every call).
    let network = HttpConfig {
        ca_bundle: cli.ca_bundle.clone(),
        ..HttpConfig::default()
    };
    let place = Place {
        data_dir: cli.data_dir,
        ca_bundle: cli.ca_bundle,
    };
    match cli.command {
        Command::Emulator(args) => return emulator::run(args).await.map(|()| exit::OK),
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
    match cli.command {
        Command::Server(command) => return server::run(command, out).await,
        Command::Login | Command::Logout => {
            let Some(url) = cli.server.as_deref() else {
                anyhow::bail!(
                    "which team server? Give its admin API: `tokendesk --server \
                     https://tokendesk.example.com:8443 login` (or set TOKENDESK_SERVER)"
                );
            };
            let ca = cli.ca_cert.as_deref();
            if matches!(cli.command, Command::Login) {
                remote::login(url, ca, vault()?, out).await?;
            } else {
                remote::logout(url, ca, vault()?, out).await?;
            }
            return Ok(exit::OK);
        }
        _ => {}
    }
    if let Some(url) = cli.server.as_deref() {
        if matches!(cli.command, Command::Serve { .. } | Command::Key(_)) {
            anyhow::bail!(
                "`serve` and `key` work on the embedded store; a team server receives codes \
                 itself (`tokendesk server run`) and its key is its key file \
                 (`tokendesk server rotate-key`)"
            );
        }
        let console = remote::connect(url, cli.ca_cert.as_deref(), vault).await?;
        return console_command(&console, cli.command, &network, out).await;
    }
    if matches!(cli.command, Command::Serve { .. } | Command::Key(_)) {
        let desk = open_desk(place, true).await?;
        return embedded_command(&desk, cli.command, out).await;
    }
    // Reads that people run often skip the full-file check; anything that writes tokens runs it.
    let read_only = matches!(
        cli.command,
        Command::Users { .. }
            | Command::Health { list: true, .. }
            | Command::User { reveal: false, .. }
            | Command::Http { reveal: false, .. }
            | Command::Audit { .. }
            | Command::Client(
                ClientCommand::List | ClientCommand::Show { .. } | ClientCommand::Export { .. }
            )
    );
    let console: Arc<dyn Console> = open_desk(place, !read_only).await?;
    console_command(&*console, cli.command, &network, out).await
}

/// The commands of the console, the same over the embedded store and a team server.
async fn console_command(
    console: &dyn Console,
    command: Command,
    network: &HttpConfig,
    out: &Out,
) -> anyhow::Result<u8> {
    let desk = console;
    match command {
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
        Command::Client(ClientCommand::Export { out: path }) => {
            return export::clients(desk, path, out).await;
        }
        Command::Client(ClientCommand::ImportFile { file, secrets }) => {
            return export::import(desk, &file, &secrets, out).await;
        }
        Command::Exchange {
            client,
            redirect_uri,
            code,
        } => {
            let redirect = RedirectChoice::parse(&redirect_uri)?;
            let code = AuthCode::new(arg_or_stdin(code, "code", "exchange")?);
            let report = desk.exchange(client.as_deref(), code, redirect).await?;
            out.exchange(&report);
        }
        Command::Signin(args) => return signin::run(desk, &args, network, out).await,
        Command::Users {
            export: Some(format),
            out: path,
            ..
        } => return export::users(desk, format, path, out).await,
        Command::Users { search, limit, .. } => {
            let page = desk
                .users_page(search.as_deref().unwrap_or_default(), 0, limit)
                .await?;
            out.users(&page.users);
        }
        Command::User {
            sub_or_email,
            reveal,
        } => {
            let detail = desk.user(&sub_or_email).await?;
            let tokens = if reveal {
                // A grant without one of its tokens shows "-" for it; any other failure (a
                // locked keyring, an audit log that cannot be written) fails the command.
                let (desk, who) = (&desk, &sub_or_email);
                let reveal = |which| async move {
                    match desk.reveal(who, which).await {
                        Ok(token) => Ok(Some(token)),
                        Err(DeskError::TokenMissing { .. }) => Ok(None),
                        Err(err) => Err(err),
                    }
                };
                let access = reveal(RevealWhich::AccessToken).await?;
                let refresh = reveal(RevealWhich::RefreshToken).await?;
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
            let bar = stdio::progress_bar(out.json);
            let stop = stdio::stop_on_ctrl_c();
            let progress = |done: usize, total: usize, outcome: &RefreshOutcome| {
                stdio::advance(bar.as_ref(), done, total, outcome.email.as_deref());
            };
            let report = desk.refresh_all(concurrency, &progress, &stop).await?;
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
        Command::Health {
            concurrency,
            expiring_within,
            list,
        } => {
            let options = HealthOptions {
                concurrency,
                expiring_within_secs: expiring_within,
            };
            return crate::health::run(desk, options, list, out).await;
        }
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
        Command::Http {
            sub_or_email,
            limit,
            curl,
            reveal,
        } => return crate::http::run(desk, &sub_or_email, limit, curl, reveal, out).await,
        Command::Drive(DriveArgs {
            action: Some(action),
            ..
        }) => return drive::run(desk, action, out).await,
        Command::Drive(DriveArgs {
            sub_or_email,
            client,
            ..
        }) => {
            let who = sub_or_email.unwrap_or_default();
            out.drive(&desk.drive(&who, client.as_deref()).await?);
        }
        Command::Audit {
            limit,
            user,
            action,
            outcome,
            since,
            search,
            follow,
        } => {
            let query = AuditQuery {
                user,
                action,
                outcome,
                since,
                text: search,
                limit,
            };
            let entries = desk.audit(query).await?;
            if !follow {
                out.audit(&entries);
                return Ok(exit::OK);
            }
            // Oldest first, as the followed ones continue them.
            for entry in entries.iter().rev() {
                out.audit_line(entry);
            }
            let after = entries.first().map(|e| e.id);
            let stop = StopFlag::default();
            let stopper = stop.clone();
            let ctrl_c = tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                stopper.stop();
            });
            let sink = |heard: Followed| match heard {
                Followed::Entry(entry) => {
                    if action.is_none_or(|a| a == entry.action)
                        && outcome.is_none_or(|o| o == entry.outcome)
                    {
                        out.audit_line(&entry);
                    }
                }
                Followed::Offline { reason, retry_in } => errln!(
                    "(offline: {reason}; trying again in {} s)",
                    retry_in.as_secs_f64().ceil()
                ),
                Followed::Online => {}
            };
            let followed = desk.follow(after, &sink, &stop).await;
            ctrl_c.abort();
            followed?;
        }
        Command::Emulator(_)
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Serve { .. }
        | Command::Key(_)
        | Command::Login
        | Command::Logout
        | Command::Server(_) => {}
    }
    Ok(exit::OK)
}

/// The commands that work on the embedded store only: its receiver and its key.
async fn embedded_command(desk: &Arc<Desk>, command: Command, out: &Out) -> anyhow::Result<u8> {
    match command {
        Command::Serve {
            listen,
            client,
            tls_cert,
            tls_key,
            allow_non_loopback,
            allowed_hosts,
        } => {
            let tls = tls_cert
                .zip(tls_key)
                .map(|(cert_chain, private_key)| TlsFiles {
                    cert_chain,
                    private_key,
                });
            let sink = Arc::new(ReceiverSink::new(Arc::clone(desk), client));
            let config = ReceiverConfig {
                listen,
                tls,
                allow_non_loopback,
                allowed_hosts,
            };
            let rx = receiver::start(config, Arc::clone(&sink) as _)
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
            stop_receiver(&rx, &sink).await;
        }
        Command::Key(command) => return keys::run(desk, command, out).await,
        _ => {}
    }
    Ok(exit::OK)
}

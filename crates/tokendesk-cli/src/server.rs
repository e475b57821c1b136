//! `tokendesk server ...`: a team server's replicas and its administration, on the server's
//! machine (the database URL and the key file at hand).

use std::sync::Arc;

use tokendesk_core::desk::{Desk, DeskError, DeskOptions};
use tokendesk_core::listener::TlsFiles;
use tokendesk_core::seal::{KeyWrapper as _, LocalKey};
use tokendesk_core::store::{AuditAction, AuditOutcome, NewAuditEntry};
use tokendesk_server::PgStorage;
use tokendesk_server::pg::PgOptions;
use tokendesk_server::run::{Server, ServerConfig, StartError, open_desk};
use tokendesk_server::staff::StaffConfig;

use crate::args::{ServerCommand, ServerRunArgs, ServerStore, StaffCommand, TokenCommand};
use crate::exit;
use crate::output::Out;
use crate::stdio::{errln, outln};

fn start_error(err: StartError) -> anyhow::Error {
    match err {
        StartError::Desk(desk) => desk.into(),
        other => anyhow::anyhow!("{other}"),
    }
}

/// The database and the desk over it, for an administrative command. The audit log names
/// the OS user who ran it.
async fn open(store: &ServerStore) -> anyhow::Result<(PgStorage, Arc<Desk>)> {
    open_desk(
        &store.database,
        &store.key_file,
        &PgOptions::default(),
        &DeskOptions::new(std::env::temp_dir()),
        None,
    )
    .await
    .map_err(start_error)
}

fn os_user() -> String {
    NewAuditEntry::os_user_from_env()
}

pub async fn run(command: ServerCommand, out: &Out) -> anyhow::Result<u8> {
    match command {
        ServerCommand::Keygen { file } => {
            let key = LocalKey::generate().map_err(DeskError::from)?;
            key.write_new_file(&file).map_err(|err| {
                if err.kind() == std::io::ErrorKind::AlreadyExists {
                    anyhow::anyhow!(
                        "{} exists; a key file is never overwritten (it may be the only key to \
                         a database). Choose another file name",
                        file.display()
                    )
                } else {
                    anyhow::anyhow!("cannot write the key file {}: {err}", file.display())
                }
            })?;
            out.done(&format!(
                "key {} written to {} (mode 0600). Back it up: without it the database's \
                 tokens cannot be read",
                key.id(),
                file.display()
            ));
        }
        ServerCommand::Run(args) => return serve(*args).await,
        ServerCommand::RotateKey {
            store,
            new_key_file,
        } => {
            let new = LocalKey::read_file(&new_key_file).map_err(|source| {
                start_error(StartError::Key {
                    path: new_key_file.clone(),
                    source,
                })
            })?;
            let (_, desk) = open(&store).await?;
            let id = desk.rotate_given_key(&new).await?;
            out.done(&format!(
                "the database's data keys are now wrapped by key {id} ({}); the old key is \
                 retired. Running replicas keep working: restart each with --key-file {}, \
                 then destroy the old key file",
                new_key_file.display(),
                new_key_file.display()
            ));
        }
        ServerCommand::Token(command) => token(command, out).await?,
        ServerCommand::Staff(command) => staff(command, out).await?,
    }
    Ok(exit::OK)
}

async fn token(command: TokenCommand, out: &Out) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { store, name, role } => {
            let (pg, desk) = open(&store).await?;
            let made = tokendesk_server::people::create_api_token(
                &pg,
                &desk,
                &name,
                role.into(),
                &os_user(),
            )
            .await?;
            out.new_api_token(&made);
        }
        TokenCommand::List { store } => {
            let (pg, _) = open(&store).await?;
            out.api_tokens(&pg.api_tokens().await.map_err(DeskError::from)?);
        }
        TokenCommand::Revoke { store, name } => {
            let (pg, desk) = open(&store).await?;
            pg.api_token_revoke(&name, desk.now())
                .await
                .map_err(DeskError::from)?;
            desk.record(
                AuditAction::TokenRevoke,
                AuditOutcome::Ok,
                Some(name.clone()),
            )
            .await?;
            out.done(&format!("API token {name} revoked"));
        }
    }
    Ok(())
}

async fn staff(command: StaffCommand, out: &Out) -> anyhow::Result<()> {
    match command {
        StaffCommand::Add { email, role, store } => {
            let (pg, desk) = open(&store).await?;
            let member = pg
                .staff_add(&email, role.into(), &os_user(), desk.now())
                .await
                .map_err(DeskError::from)?;
            desk.record(
                AuditAction::StaffAdd,
                AuditOutcome::Ok,
                Some(format!("{} as {}", member.email, member.role)),
            )
            .await?;
            out.staff_member(&member);
        }
        StaffCommand::List { store } => {
            let (pg, _) = open(&store).await?;
            out.staff(&pg.staff_list().await.map_err(DeskError::from)?);
        }
        StaffCommand::Remove { email, store } => {
            let (pg, desk) = open(&store).await?;
            pg.staff_remove(&email).await.map_err(DeskError::from)?;
            desk.record(
                AuditAction::StaffRemove,
                AuditOutcome::Ok,
                Some(email.clone()),
            )
            .await?;
            out.done(&format!(
                "{email} removed from the staff; their sessions ended"
            ));
        }
    }
    Ok(())
}

/// `server run`: one replica until Ctrl-C or SIGTERM, then a clean stop.
async fn serve(args: ServerRunArgs) -> anyhow::Result<u8> {
    let tls = args
        .tls_cert
        .zip(args.tls_key)
        .map(|(cert_chain, private_key)| TlsFiles {
            cert_chain,
            private_key,
        });
    let staff = args
        .staff_issuer
        .zip(args.staff_client_id)
        .map(|(issuer, client_id)| StaffConfig {
            issuer,
            client_id,
            client_secret: args.staff_client_secret,
            domain: args.staff_domain,
        });
    if staff.is_none() {
        errln!(
            "note: no staff sign-in (--staff-issuer, --staff-client-id): only API tokens reach \
             the admin API"
        );
    }
    let config = ServerConfig {
        receiver_listen: args.receiver_listen,
        admin_listen: args.admin_listen,
        tls,
        allow_non_loopback: args.allow_non_loopback,
        allowed_hosts: args.allowed_hosts,
        client: args.client,
        staff,
        ..ServerConfig::new(args.store.database, args.store.key_file)
    };
    let server = Server::start(config).await.map_err(start_error)?;
    // The two URLs, alone on stdout's first lines, for scripts (and tests) to read.
    outln!("{}", server.receiver_url());
    outln!("{}", server.admin_url());
    errln!(
        "Team server replica: receiver {} , admin API {} . Ctrl-C stops.",
        server.receiver_url(),
        server.admin_url()
    );
    wait_for_stop().await;
    errln!("stopping...");
    server.stop().await;
    Ok(exit::OK)
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

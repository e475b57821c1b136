//! `tokendesk emulator`: the offline Google on a loopback port, until Ctrl-C.

use anyhow::Context as _;

use crate::args::{EmulatorArgs, IssuerArg};
use crate::io_errors::{cannot_listen, cannot_write};
use crate::stdio::{errln, outln};

pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
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
    match (mode, &args.client_secret_out) {
        (google_emulator::IssuerMode::Origin, Some(path)) => errln!(
            "  use it from TokenDesk: tokendesk client add --name emulator --secrets {} --issuer {} --ios-client-id {}",
            path.display(),
            emulator.base_url(),
            emulator.ios_client_id()
        ),
        (google_emulator::IssuerMode::Origin, None) => errln!(
            "  use it from TokenDesk: run it with --client-secret-out FILE, then tokendesk client add --name emulator --secrets FILE --issuer {}",
            emulator.base_url()
        ),
        _ => errln!(
            "  it signs as Google (for Google's own libraries); for `tokendesk client add`, run `tokendesk emulator --issuer origin --client-secret-out FILE`"
        ),
    }
    errln!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C (the signal handler could not be installed); stop the emulator with kill")?;
    Ok(())
}

/// Writes a file only its owner can read: it holds a client secret. An existing file is made
/// private too (the mode given at creation does not apply to a file that was already there).
pub fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(data)?;
    file.sync_all()
}

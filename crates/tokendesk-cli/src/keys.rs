//! `tokendesk key`: the store's key-encryption key moved to another machine (sealed under a
//! passphrase) or replaced.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::Context as _;
use tokendesk_core::desk::Desk;
use tokendesk_core::seal::ExportedKey;
use zeroize::Zeroizing;

use crate::args::KeyCommand;
use crate::emulator::write_private;
use crate::exit;
use crate::io_errors::{cannot_read, cannot_write};
use crate::output::Out;

/// The passphrase: from `--passphrase-file`, else `TOKENDESK_KEY_PASSPHRASE`, else asked on the
/// terminal (twice when `confirm`). Never from an argument: those show in `ps`.
fn passphrase(file: Option<&Path>, confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|err| {
            cannot_read(
                "the passphrase file (--passphrase-file)",
                path,
                &err,
                "it holds the passphrase alone, on one line",
            )
        })?;
        return Ok(Zeroizing::new(
            text.trim_end_matches(['\n', '\r']).to_owned(),
        ));
    }
    if let Ok(value) = std::env::var("TOKENDESK_KEY_PASSPHRASE") {
        return Ok(Zeroizing::new(value));
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "no passphrase: give it with --passphrase-file FILE or the TOKENDESK_KEY_PASSPHRASE \
             environment variable (there is no terminal to ask on)"
        );
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Passphrase: ").context("cannot read the passphrase")?,
    );
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Passphrase again: ")
                .context("cannot read the passphrase")?,
        );
        if *first != *again {
            anyhow::bail!("the two passphrases differ; nothing was written");
        }
    }
    Ok(first)
}

pub async fn run(desk: &Desk, command: KeyCommand, out: &Out) -> anyhow::Result<u8> {
    match command {
        KeyCommand::Export {
            file,
            passphrase_file,
        } => {
            if file.exists() {
                anyhow::bail!(
                    "{} exists already: choose another file (an exported key is never written \
                     over another)",
                    file.display()
                );
            }
            let pass = passphrase(passphrase_file.as_deref(), true)?;
            let exported = desk.export_key(&pass).await?;
            let json = serde_json::to_string_pretty(&exported)?;
            write_private(&file, json.as_bytes())
                .map_err(|err| cannot_write("the exported key", &file, &err))?;
            out.done(&format!(
                "the store's key ({}) is in {}, sealed under your passphrase: copy both the \
                 file and the data folder, then run `tokendesk key import {}` there",
                exported.key_id,
                file.display(),
                file.display()
            ));
        }
        KeyCommand::Import {
            file,
            passphrase_file,
        } => {
            let text = read_exported(&file)?;
            let exported: ExportedKey = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a key written by `tokendesk key export`",
                    file.display()
                )
            })?;
            let pass = passphrase(passphrase_file.as_deref(), false)?;
            let id = desk.import_key(&exported, &pass).await?;
            out.done(&format!(
                "the store's key {id} is in this machine's keyring"
            ));
        }
        KeyCommand::Rotate => {
            let id = desk.rotate_key().await?;
            out.done(&format!(
                "the store's key is now {id}; every token is still readable (the data keys \
                 were re-wrapped) and the old key was deleted"
            ));
        }
    }
    Ok(exit::OK)
}

fn read_exported(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).map_err(|err| {
        cannot_read(
            "the exported key",
            file,
            &err,
            "it is the file `tokendesk key export` wrote on the other machine",
        )
    })
}

//! `tokendesk drive download|upload|delete`: one file of a user's appDataFolder. Upload and
//! delete ask on a terminal first (`--yes` skips the question; without a terminal they refuse
//! unless given it). Every one is audited by the core.

use std::io::Read as _;
use std::path::Path;

use tokendesk_core::console::Console;
use tokendesk_core::drive::{DriveUpload, UPLOAD_LIMIT, mime_type_for};

use crate::args::DriveCommand;
use crate::exit;
use crate::io_errors::{cannot_read, cannot_write};
use crate::output::Out;
use crate::stdio::{self, confirm};

pub async fn run(console: &dyn Console, command: DriveCommand, out: &Out) -> anyhow::Result<u8> {
    match command {
        DriveCommand::Download {
            sub_or_email,
            file_id,
            out: path,
            client,
        } => {
            if out.json && path.is_none() {
                anyhow::bail!(
                    "with --json, give --out FILE: stdout holds the JSON document, not the file"
                );
            }
            let download = console
                .drive_download(&sub_or_email, client.as_deref(), &file_id)
                .await?;
            match &path {
                Some(path) => {
                    std::fs::write(path, &download.content)
                        .map_err(|err| cannot_write("the downloaded file (--out)", path, &err))?;
                    out.drive_download(&download, path);
                }
                None => stdio::write_stdout_bytes(&download.content),
            }
        }
        DriveCommand::Upload {
            sub_or_email,
            file,
            name,
            mime,
            yes,
            client,
        } => {
            let content = read_upload(&file)?;
            let name = match name {
                Some(name) => name,
                None => file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| {
                        anyhow::anyhow!("{} has no file name: give --name NAME", file.display())
                    })?,
            };
            let upload = DriveUpload {
                mime_type: Some(mime.unwrap_or_else(|| mime_type_for(&name).to_owned())),
                name,
                content,
            };
            upload
                .check()
                .map_err(tokendesk_core::desk::DeskError::from)?;
            let question = format!(
                "Upload {:?} ({} bytes, {}) into the appDataFolder of {sub_or_email}?",
                upload.name,
                upload.content.len(),
                upload.mime_type()
            );
            if !confirm(&question, yes, "upload")? {
                out.done("nothing was uploaded");
                return Ok(exit::FAILURE);
            }
            let report = console
                .drive_upload(&sub_or_email, client.as_deref(), upload)
                .await?;
            out.drive_file("uploaded", &report);
        }
        DriveCommand::Delete {
            sub_or_email,
            file_id,
            yes,
            client,
        } => {
            let question = format!(
                "Delete file {file_id} from the appDataFolder of {sub_or_email}? It cannot be \
                 undone (appDataFolder files skip the trash)."
            );
            if !confirm(&question, yes, "delete")? {
                out.done("nothing was deleted");
                return Ok(exit::FAILURE);
            }
            let report = console
                .drive_delete(&sub_or_email, client.as_deref(), &file_id)
                .await?;
            out.drive_file("deleted", &report);
        }
    }
    Ok(exit::OK)
}

/// The file to upload, refused from its size before it is read whole.
fn read_upload(path: &Path) -> anyhow::Result<Vec<u8>> {
    let hint = "it is the file to put in the user's appDataFolder";
    let file = std::fs::File::open(path)
        .map_err(|err| cannot_read("the file to upload", path, &err, hint))?;
    let mut content = Vec::new();
    file.take(UPLOAD_LIMIT + 1)
        .read_to_end(&mut content)
        .map_err(|err| cannot_read("the file to upload", path, &err, hint))?;
    Ok(content)
}

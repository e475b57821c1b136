//! The user's Drive appDataFolder, with the grant's access token (refreshed when it is about
//! to expire, and once more if Drive says it is no longer valid): the listing, and one file
//! downloaded, uploaded or deleted. Every call is audited with what it touched.

use super::{Desk, DeskError, DriveDownload, DriveFileReport, DriveReport, Result};
use crate::drive::{
    DriveError, DriveFile, DriveUpload, delete_file, download_file, get_app_folder, get_file,
    list_app_data, upload_file,
};
use crate::oauth::HttpClient;
use crate::provider::Endpoints;
use crate::secret::AccessToken;
use crate::store::{AuditAction, AuditOutcome, Client, Grant, User};

/// What is asked of Drive.
enum Ask<'a> {
    List,
    Download(&'a str),
    Upload(&'a DriveUpload),
    Delete(&'a str),
}

/// What Drive answered.
enum Answer {
    Listing(DriveFile, Vec<DriveFile>),
    File(DriveFile),
    Content(DriveFile, Vec<u8>),
}

impl Ask<'_> {
    async fn send(
        &self,
        http: &HttpClient,
        endpoints: &Endpoints,
        token: &AccessToken,
    ) -> Result<Answer, DriveError> {
        Ok(match self {
            Ask::List => {
                let folder = get_app_folder(http, endpoints, token).await?;
                let files = list_app_data(http, endpoints, token, None).await?;
                Answer::Listing(folder, files)
            }
            Ask::Download(id) => {
                let (file, content) = download_file(http, endpoints, token, id).await?;
                Answer::Content(file, content)
            }
            Ask::Upload(upload) => Answer::File(upload_file(http, endpoints, token, upload).await?),
            Ask::Delete(id) => {
                // Read first, so the audit log and the answer name what was deleted.
                let file = get_file(http, endpoints, token, id).await?;
                delete_file(http, endpoints, token, &file.id).await?;
                Answer::File(file)
            }
        })
    }

    /// What a failure is about, for the audit log.
    fn about(&self) -> String {
        match self {
            Ask::List => String::new(),
            Ask::Download(id) | Ask::Delete(id) => format!(" ({id})"),
            Ask::Upload(upload) => format!(" ({:?})", upload.name),
        }
    }
}

/// A file as the audit log names it: name and ID, never content.
fn named(file: &DriveFile) -> String {
    let size = file
        .size
        .map(|s| format!(", {s} bytes"))
        .unwrap_or_default();
    format!("{:?} ({}{size})", file.name, file.id)
}

fn unexpected() -> DeskError {
    DeskError::TaskLost {
        what: "the Drive call",
        detail: "it answered another kind of result".into(),
    }
}

impl Desk {
    /// Asks Drive with the user's access token; a 401 refreshes it once and asks again. A
    /// failure is audited as `action` with its code; the caller audits success.
    async fn ask_drive(
        &self,
        query: &str,
        client: Option<&str>,
        action: AuditAction,
        ask: Ask<'_>,
    ) -> Result<(Answer, User, Grant)> {
        let (user, grant, client_row) = self.user_and_grant(query, client).await?;
        let answer = self
            .with_http_log(
                &user,
                &client_row,
                action,
                self.ask_drive_as(&user, &grant, &client_row, action, &ask),
            )
            .await?;
        Ok((answer, user, grant))
    }

    async fn ask_drive_as(
        &self,
        user: &User,
        grant: &Grant,
        client_row: &Client,
        action: AuditAction,
        ask: &Ask<'_>,
    ) -> Result<Answer> {
        let endpoints = Self::endpoints_of(client_row)?;
        let mut token = self.access_token(user, grant, client_row, false).await?;
        let mut retried = false;
        loop {
            match ask.send(&self.http, &endpoints, &token).await {
                Ok(answer) => return Ok(answer),
                Err(DriveError::Unauthorized) if !retried => {
                    retried = true;
                    let grant = self
                        .storage
                        .grant(&grant.uid)
                        .await?
                        .unwrap_or_else(|| grant.clone());
                    token = self.access_token(user, &grant, client_row, true).await?;
                }
                Err(err) => {
                    let detail = format!("{}{}", err.code(), ask.about());
                    self.audit(action, Some(user), AuditOutcome::Failed, Some(detail))
                        .await;
                    return Err(err.into());
                }
            }
        }
    }

    /// The user's appDataFolder and its files. A 401 refreshes once and retries.
    pub async fn drive(&self, query: &str, client: Option<&str>) -> Result<DriveReport> {
        let (answer, user, grant) = self
            .ask_drive(query, client, AuditAction::Drive, Ask::List)
            .await?;
        let Answer::Listing(folder, files) = answer else {
            return Err(unexpected());
        };
        let detail = format!("{} file(s)", files.len());
        self.audit(
            AuditAction::Drive,
            Some(&user),
            AuditOutcome::Ok,
            Some(detail),
        )
        .await;
        Ok(DriveReport {
            user: self.view_of_grant(&grant.uid).await?,
            folder,
            files,
        })
    }

    /// One file of the user's appDataFolder, metadata and content (at most 25 MiB). The
    /// audit entry is written before the content is handed out: a download that cannot be
    /// recorded is not given.
    pub async fn drive_download(
        &self,
        query: &str,
        client: Option<&str>,
        file_id: &str,
    ) -> Result<DriveDownload> {
        let action = AuditAction::DriveDownload;
        let (answer, user, grant) = self
            .ask_drive(query, client, action, Ask::Download(file_id))
            .await?;
        let Answer::Content(file, content) = answer else {
            return Err(unexpected());
        };
        let entry = self.audit_entry(action, Some(&user), AuditOutcome::Ok, Some(named(&file)));
        self.audit_first(entry, "file").await?;
        Ok(DriveDownload {
            user: self.view_of_grant(&grant.uid).await?,
            file,
            content,
        })
    }

    /// Puts a file in the user's appDataFolder (at most 5 MB; refused before anything is
    /// sent when larger).
    pub async fn drive_upload(
        &self,
        query: &str,
        client: Option<&str>,
        upload: DriveUpload,
    ) -> Result<DriveFileReport> {
        upload.check()?;
        self.file_report(
            query,
            client,
            AuditAction::DriveUpload,
            Ask::Upload(&upload),
        )
        .await
    }

    /// Deletes a file of the user's appDataFolder for good (appDataFolder files skip the
    /// trash); the answer names what was deleted.
    pub async fn drive_delete(
        &self,
        query: &str,
        client: Option<&str>,
        file_id: &str,
    ) -> Result<DriveFileReport> {
        self.file_report(
            query,
            client,
            AuditAction::DriveDelete,
            Ask::Delete(file_id),
        )
        .await
    }

    async fn file_report(
        &self,
        query: &str,
        client: Option<&str>,
        action: AuditAction,
        ask: Ask<'_>,
    ) -> Result<DriveFileReport> {
        let (answer, user, grant) = self.ask_drive(query, client, action, ask).await?;
        let Answer::File(file) = answer else {
            return Err(unexpected());
        };
        self.audit(action, Some(&user), AuditOutcome::Ok, Some(named(&file)))
            .await;
        Ok(DriveFileReport {
            user: self.view_of_grant(&grant.uid).await?,
            file,
        })
    }
}

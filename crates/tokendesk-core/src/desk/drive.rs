//! The user's Drive appDataFolder, read with the grant's access token (refreshed when it is
//! about to expire, and once more if Drive says it is no longer valid).

use super::{Desk, DriveReport, Result};
use crate::drive::{DriveError, get_app_folder, list_app_data};
use crate::store::{AuditAction, AuditOutcome};

impl Desk {
    /// The user's appDataFolder and its files. A 401 refreshes once and retries.
    pub async fn drive(&self, query: &str, client: Option<&str>) -> Result<DriveReport> {
        let (user, grant, client_row) = self.user_and_grant(query, client).await?;
        let endpoints = Self::endpoints_of(&client_row)?;
        let mut token = self.access_token(&user, &grant, &client_row, false).await?;
        let mut retried = false;
        loop {
            let listing = async {
                let folder = get_app_folder(&self.http, &endpoints, &token).await?;
                let files = list_app_data(&self.http, &endpoints, &token, None).await?;
                Ok::<_, DriveError>((folder, files))
            }
            .await;
            match listing {
                Ok((folder, files)) => {
                    self.audit(
                        AuditAction::Drive,
                        Some(&user),
                        AuditOutcome::Ok,
                        Some(format!("{} file(s)", files.len())),
                    )
                    .await;
                    return Ok(DriveReport {
                        user: self.view_of_grant(&grant.uid).await?,
                        folder,
                        files,
                    });
                }
                Err(DriveError::Unauthorized) if !retried => {
                    retried = true;
                    let grant = self
                        .storage
                        .grant(&grant.uid)
                        .await?
                        .unwrap_or_else(|| grant.clone());
                    token = self.access_token(&user, &grant, &client_row, true).await?;
                }
                Err(err) => {
                    self.audit(
                        AuditAction::Drive,
                        Some(&user),
                        AuditOutcome::Failed,
                        Some(err.code().to_owned()),
                    )
                    .await;
                    return Err(err.into());
                }
            }
        }
    }
}

//! What a person can do with TokenDesk, wherever the store is: the embedded store on this
//! machine ([`Desk`]) or a team server (`remote::RemoteConsole`, a client of its admin API).
//! The command line and the window are written once against this trait: the same commands,
//! views and types in both deployments.

use std::fmt;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::desk::{
    AddClient, ClientView, CurlCommand, Desk, DeskError, DriveDownload, DriveFileReport,
    DriveReport, ExchangeReport, HealthOptions, HealthProgress, HealthReport, InspectReport,
    NeedsAttention, RefreshAllReport, RefreshOutcome, RevealWhich, RevokeReport, StopFlag,
    UserDetail, UserView, UsersPage,
};
use crate::drive::DriveUpload;
use crate::follow::Followed;
use crate::oauth::RedirectChoice;
use crate::secret::AuthCode;
use crate::store::{AuditAction, AuditEntry, AuditFilter, AuditOutcome, HttpLogEntry, Timestamp};

pub type Result<T, E = DeskError> = std::result::Result<T, E>;

/// Called after each user of a `refresh_all`: done, total, that user's outcome.
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &RefreshOutcome) + Send + Sync);

/// Which audit entries to read, as a person names them (the user by sub or email).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// A user's sub or email.
    pub user: Option<String>,
    pub action: Option<AuditAction>,
    pub outcome: Option<AuditOutcome>,
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub since: Option<Timestamp>,
    /// Found (without regard to case) in who acted, the detail or the user's email.
    pub text: Option<String>,
    pub limit: usize,
}

/// New entries read at most at once when following the embedded store's log.
const FOLLOW_BATCH: usize = 1000;

/// Every operation of the console.
#[async_trait]
pub trait Console: Send + Sync + fmt::Debug {
    /// Where this console works, for people: the store's file, or the server and who is
    /// signed in.
    fn location(&self) -> String;

    async fn clients(&self) -> Result<Vec<ClientView>>;
    async fn client(&self, name: &str) -> Result<ClientView>;
    async fn add_client(&self, request: AddClient) -> Result<ClientView>;
    async fn remove_client(&self, name: &str) -> Result<()>;

    /// A window of the Users list, or the best matches of `search`.
    async fn users_page(&self, search: &str, offset: usize, limit: usize) -> Result<UsersPage>;
    async fn user(&self, query: &str) -> Result<UserDetail>;
    async fn user_audit(&self, query: &str, limit: usize) -> Result<Vec<AuditEntry>>;
    /// The user's recent operations as HTTP (every request and response, secrets masked),
    /// newest first; each user keeps their newest [`crate::store::HTTP_LOG_KEEP`].
    async fn user_http(&self, query: &str, limit: usize) -> Result<Vec<HttpLogEntry>>;
    /// Request `index` of the user's kept operation `entry` as a curl command, its secrets as
    /// shell variables; `reveal` writes in the secrets stored now (audited first; an admin's
    /// on a team server).
    async fn http_curl(
        &self,
        query: &str,
        entry: i64,
        index: usize,
        reveal: bool,
    ) -> Result<CurlCommand>;

    async fn exchange(
        &self,
        client: Option<&str>,
        code: AuthCode,
        redirect: RedirectChoice,
    ) -> Result<ExchangeReport>;
    async fn refresh(&self, query: &str, client: Option<&str>) -> Result<UserView>;
    async fn refresh_all(
        &self,
        concurrency: usize,
        progress: Progress<'_>,
        stop: &StopFlag,
    ) -> Result<RefreshAllReport>;
    /// The health sweep: every grant with a live refresh token checked (tokeninfo, or a
    /// refresh when its access token is about to expire), grants Google refuses marked.
    /// Audited. On a team server it runs on the replica called; `stop` is not sent there.
    async fn health_sweep(
        &self,
        options: HealthOptions,
        progress: HealthProgress<'_>,
        stop: &StopFlag,
    ) -> Result<HealthReport>;
    /// The users who need attention (revoked, invalid, no `drive.appdata`, expiring), as
    /// stored now: no call to Google.
    async fn needs_attention(&self, expiring_within_secs: u64) -> Result<NeedsAttention>;
    async fn revoke(&self, query: &str, client: Option<&str>) -> Result<RevokeReport>;
    async fn drive(&self, query: &str, client: Option<&str>) -> Result<DriveReport>;
    /// One file of the user's appDataFolder, with its content (at most 25 MiB). Audited
    /// before the content is handed out.
    async fn drive_download(
        &self,
        query: &str,
        client: Option<&str>,
        file_id: &str,
    ) -> Result<DriveDownload>;
    /// Puts a file (at most 5 MB) in the user's appDataFolder. Audited.
    async fn drive_upload(
        &self,
        query: &str,
        client: Option<&str>,
        upload: DriveUpload,
    ) -> Result<DriveFileReport>;
    /// Deletes a file of the user's appDataFolder for good. Audited.
    async fn drive_delete(
        &self,
        query: &str,
        client: Option<&str>,
        file_id: &str,
    ) -> Result<DriveFileReport>;
    /// Every user (profiles and token health, never a token), for an export. Audited.
    async fn export_users(&self) -> Result<Vec<UserView>>;
    async fn inspect(&self, client: Option<&str>, token: &str) -> Result<InspectReport>;
    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>>;
    /// A user's token for a person who asked for it explicitly. Audited (first).
    async fn reveal(&self, query: &str, which: RevealWhich) -> Result<Zeroizing<String>>;
    /// Follows the audit log until `stop`: `sink` hears each new entry (after the entry
    /// `after`, else from now on, oldest first) and each loss or return of the connection.
    /// Ends with an error only when retrying cannot help (signed out, not allowed).
    async fn follow(
        &self,
        after: Option<i64>,
        sink: &(dyn Fn(Followed) + Send + Sync),
        stop: &StopFlag,
    ) -> Result<()>;
}

#[async_trait]
impl Console for Desk {
    fn location(&self) -> String {
        Desk::location(self)
    }

    async fn clients(&self) -> Result<Vec<ClientView>> {
        Desk::clients(self).await
    }

    async fn client(&self, name: &str) -> Result<ClientView> {
        Desk::client(self, name).await
    }

    async fn add_client(&self, request: AddClient) -> Result<ClientView> {
        Desk::add_client(self, request).await
    }

    async fn remove_client(&self, name: &str) -> Result<()> {
        Desk::remove_client(self, name).await
    }

    async fn users_page(&self, search: &str, offset: usize, limit: usize) -> Result<UsersPage> {
        Desk::users_page(self, search, offset, limit).await
    }

    async fn user(&self, query: &str) -> Result<UserDetail> {
        Desk::user(self, query).await
    }

    async fn user_audit(&self, query: &str, limit: usize) -> Result<Vec<AuditEntry>> {
        Desk::user_audit(self, query, limit).await
    }

    async fn user_http(&self, query: &str, limit: usize) -> Result<Vec<HttpLogEntry>> {
        Desk::user_http(self, query, limit).await
    }

    async fn http_curl(
        &self,
        query: &str,
        entry: i64,
        index: usize,
        reveal: bool,
    ) -> Result<CurlCommand> {
        Desk::http_curl(self, query, entry, index, reveal).await
    }

    async fn exchange(
        &self,
        client: Option<&str>,
        code: AuthCode,
        redirect: RedirectChoice,
    ) -> Result<ExchangeReport> {
        Desk::exchange(self, client, code, redirect).await
    }

    async fn refresh(&self, query: &str, client: Option<&str>) -> Result<UserView> {
        Desk::refresh(self, query, client).await
    }

    async fn refresh_all(
        &self,
        concurrency: usize,
        progress: Progress<'_>,
        stop: &StopFlag,
    ) -> Result<RefreshAllReport> {
        Desk::refresh_all(self, concurrency, progress, stop).await
    }

    async fn health_sweep(
        &self,
        options: HealthOptions,
        progress: HealthProgress<'_>,
        stop: &StopFlag,
    ) -> Result<HealthReport> {
        Desk::health_sweep(self, options, progress, stop).await
    }

    async fn needs_attention(&self, expiring_within_secs: u64) -> Result<NeedsAttention> {
        Desk::needs_attention(self, expiring_within_secs).await
    }

    async fn revoke(&self, query: &str, client: Option<&str>) -> Result<RevokeReport> {
        Desk::revoke(self, query, client).await
    }

    async fn drive(&self, query: &str, client: Option<&str>) -> Result<DriveReport> {
        Desk::drive(self, query, client).await
    }

    async fn drive_download(
        &self,
        query: &str,
        client: Option<&str>,
        file_id: &str,
    ) -> Result<DriveDownload> {
        Desk::drive_download(self, query, client, file_id).await
    }

    async fn drive_upload(
        &self,
        query: &str,
        client: Option<&str>,
        upload: DriveUpload,
    ) -> Result<DriveFileReport> {
        Desk::drive_upload(self, query, client, upload).await
    }

    async fn drive_delete(
        &self,
        query: &str,
        client: Option<&str>,
        file_id: &str,
    ) -> Result<DriveFileReport> {
        Desk::drive_delete(self, query, client, file_id).await
    }

    async fn export_users(&self) -> Result<Vec<UserView>> {
        Desk::export_users(self).await
    }

    async fn inspect(&self, client: Option<&str>, token: &str) -> Result<InspectReport> {
        Desk::inspect(self, client, token).await
    }

    async fn follow(
        &self,
        after: Option<i64>,
        sink: &(dyn Fn(Followed) + Send + Sync),
        stop: &StopFlag,
    ) -> Result<()> {
        // Other processes write to this store too: its log is looked at every second.
        let newest = |limit| {
            self.audit_log(AuditFilter {
                user: None,
                action: None,
                outcome: None,
                since: None,
                text: None,
                limit,
            })
        };
        let mut last = match after {
            Some(after) => after,
            None => newest(1).await?.first().map_or(0, |e| e.id),
        };
        sink(Followed::Online);
        while !stop.is_stopped() {
            let mut fresh: Vec<AuditEntry> = newest(FOLLOW_BATCH)
                .await?
                .into_iter()
                .filter(|e| e.id > last)
                .collect();
            fresh.reverse();
            for entry in fresh {
                last = last.max(entry.id);
                sink(Followed::Entry(entry));
            }
            crate::follow::wait(crate::follow::POLL, stop).await;
        }
        Ok(())
    }

    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        let user = match &query.user {
            Some(who) => Some(self.user_id(who).await?),
            None => None,
        };
        self.audit_log(AuditFilter {
            user,
            action: query.action,
            outcome: query.outcome,
            since: query.since,
            text: query.text,
            limit: query.limit,
        })
        .await
    }

    async fn reveal(&self, query: &str, which: RevealWhich) -> Result<Zeroizing<String>> {
        Desk::reveal(self, query, which).await
    }
}

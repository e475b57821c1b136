//! Finding users and reading about them: the Users list (a page, or a search), one user with
//! everything the user page shows, and the audit log.

use std::collections::HashMap;

use super::view::IdTokenRecord;
use super::{Desk, DeskError, Result, UserDetail, UserView, UsersPage, latest_grant};
use crate::store::{AuditEntry, AuditFilter, Client, Grant, GrantUid, User};

impl Desk {
    /// The best `limit` users matching `search` (all users, most recent first, without).
    pub async fn users(&self, search: Option<&str>, limit: usize) -> Result<Vec<UserView>> {
        let users = match search.map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => self.storage.search_users(text, limit).await?,
            None => self.storage.users_page(0, limit).await?.0,
        };
        self.views_of(&users).await
    }

    /// A window of the Users list: with no search text, `limit` users from `offset` in the
    /// recent order and the total; with text, the best `limit` matches (search ranks, it does
    /// not page: more matches than `limit` means the text should be more precise).
    pub async fn users_page(&self, search: &str, offset: usize, limit: usize) -> Result<UsersPage> {
        if search.trim().is_empty() {
            let (users, total) = self.storage.users_page(offset, limit).await?;
            return Ok(UsersPage {
                total: usize::try_from(total).unwrap_or(usize::MAX),
                offset,
                users: self.views_of(&users).await?,
                more_matches: false,
            });
        }
        let mut users = self
            .storage
            .search_users(search, limit.saturating_add(1))
            .await?;
        let more_matches = users.len() > limit;
        users.truncate(limit);
        Ok(UsersPage {
            total: users.len(),
            offset: 0,
            users: self.views_of(&users).await?,
            more_matches,
        })
    }

    /// Each user with their latest grant, in two reads whatever the number of users.
    async fn views_of(&self, users: &[User]) -> Result<Vec<UserView>> {
        let clients = self.clients_by_uid().await?;
        let ids: Vec<_> = users.iter().map(|u| u.id).collect();
        let mut grants: HashMap<_, Vec<Grant>> = HashMap::new();
        for g in self.storage.grants_of(&ids).await? {
            grants.entry(g.user_id).or_default().push(g);
        }
        Ok(users
            .iter()
            .map(|u| {
                let grant = grants.remove(&u.id).and_then(latest_grant);
                let client = grant.as_ref().and_then(|g| clients.get(g.client.as_str()));
                UserView::of(u, grant.as_ref(), client)
            })
            .collect())
    }

    pub(super) async fn find_user(&self, query: &str) -> Result<User> {
        let mut found = self.storage.find_users(query.trim()).await?;
        match found.len() {
            0 => Err(DeskError::UserNotFound {
                query: query.to_owned(),
            }),
            1 => Ok(found.remove(0)),
            n => Err(DeskError::AmbiguousUser {
                query: query.to_owned(),
                count: n,
            }),
        }
    }

    /// The store's id of the user named by `query` (sub or email), for filters.
    pub async fn user_id(&self, query: &str) -> Result<crate::store::UserId> {
        Ok(self.find_user(query).await?.id)
    }

    /// The user and the grant an operation acts on: the given client's, or the latest.
    pub(super) async fn user_and_grant(
        &self,
        query: &str,
        client: Option<&str>,
    ) -> Result<(User, Grant, Client)> {
        let user = self.find_user(query).await?;
        let grants = self.storage.grants_of(&[user.id]).await?;
        let grant = match client {
            Some(name) => {
                let c = self.client_row(Some(name)).await?;
                grants.into_iter().find(|g| g.client == c.uid)
            }
            None => latest_grant(grants),
        };
        let grant = grant.ok_or_else(|| DeskError::NoGrant {
            sub: user.sub.clone(),
            for_client: client
                .map(|c| format!(" with client {c}"))
                .unwrap_or_default(),
        })?;
        let client =
            self.storage
                .client(&grant.client)
                .await?
                .ok_or_else(|| DeskError::ClientNotFound {
                    name: grant.client.as_str().to_owned(),
                })?;
        Ok((user, grant, client))
    }

    pub(super) async fn view_of_grant(&self, uid: &GrantUid) -> Result<UserView> {
        let grant = self
            .storage
            .grant(uid)
            .await?
            .ok_or_else(|| DeskError::NoGrant {
                sub: String::new(),
                for_client: String::new(),
            })?;
        let user =
            self.storage
                .user(grant.user_id)
                .await?
                .ok_or_else(|| DeskError::UserNotFound {
                    query: grant.user_id.to_string(),
                })?;
        let client = self.storage.client(&grant.client).await?;
        Ok(UserView::of(&user, Some(&grant), client.as_ref()))
    }

    /// Everything the user page shows of one user (no token).
    pub async fn user(&self, query: &str) -> Result<UserDetail> {
        let (user, grant, client) = match self.user_and_grant(query, None).await {
            Ok((u, g, c)) => (u, Some(g), Some(c)),
            Err(DeskError::NoGrant { .. }) => (self.find_user(query).await?, None, None),
            Err(e) => return Err(e),
        };
        Ok(UserDetail {
            user: UserView::of(&user, grant.as_ref(), client.as_ref()),
            claims: user.claims.clone(),
            id_token: serde_json::from_value::<IdTokenRecord>(user.id_token.clone())
                .unwrap_or_default(),
        })
    }

    /// The audit log, newest first, as `filter` selects it.
    pub async fn audit_log(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>> {
        Ok(self.storage.audit(filter).await?)
    }

    /// One user's audit trail, newest first.
    pub async fn user_audit(&self, query: &str, limit: usize) -> Result<Vec<AuditEntry>> {
        let user = self.find_user(query).await?;
        self.audit_log(AuditFilter {
            user: Some(user.id),
            limit,
            ..AuditFilter::default()
        })
        .await
    }

    /// Every user (profiles and token health, never a token), most recent first, for an
    /// export. Audited before it is handed out: an export that cannot be recorded does not
    /// happen.
    pub async fn export_users(&self) -> Result<Vec<UserView>> {
        const PAGE: usize = 1_000;
        let mut all = Vec::new();
        loop {
            let (users, total) = self.storage.users_page(all.len(), PAGE).await?;
            let done = users.len() < PAGE;
            all.extend(self.views_of(&users).await?);
            if done || all.len() as u64 >= total {
                break;
            }
        }
        let entry = self.audit_entry(
            crate::store::AuditAction::UsersExport,
            None,
            crate::store::AuditOutcome::Ok,
            Some(format!("{} user(s)", all.len())),
        );
        self.audit_first(entry, "user list").await?;
        Ok(all)
    }
}

//! Operations on staff and API tokens shared by the admin API and `tokendesk server ...`
//! commands run on the server's machine: both check the same rules and write the same audit.

use tokendesk_core::api::{NewApiToken, Role};
use tokendesk_core::desk::{Desk, DeskError};
use tokendesk_core::store::{AuditAction, AuditOutcome, StoreError};

use crate::auth;
use crate::pg::PgStorage;

/// An API token's name: what the audit log calls it (`api-token:NAME`).
fn check_token_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "API token name",
            reason: format!(
                "{name:?}: use 1 to 64 letters, digits, '-', '_' or '.' (e.g. deploy-bot)"
            ),
        })
    }
}

/// Makes an API token with `role` named `name`; the token is in the answer only.
pub async fn create_api_token(
    pg: &PgStorage,
    desk: &Desk,
    name: &str,
    role: Role,
    by: &str,
) -> Result<NewApiToken, DeskError> {
    check_token_name(name)?;
    let token = auth::new_token(auth::API_TOKEN_PREFIX).map_err(|e| DeskError::TaskLost {
        what: "making a token",
        detail: e.to_string(),
    })?;
    pg.api_token_create(name, &token.digest, role, by, desk.now())
        .await?;
    desk.record(
        AuditAction::TokenCreate,
        AuditOutcome::Ok,
        Some(format!("{name} as {role}")),
    )
    .await?;
    Ok(NewApiToken {
        token: token.token.as_str().to_owned(),
        name: name.to_owned(),
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::check_token_name;

    #[test]
    fn token_names_are_plain() {
        for good in ["deploy-bot", "ci.nightly", "a", "X_1"] {
            assert!(check_token_name(good).is_ok(), "{good}");
        }
        for bad in ["", "has space", "émoji", "a/b", &"x".repeat(65)] {
            assert!(check_token_name(bad).is_err(), "{bad}");
        }
    }
}

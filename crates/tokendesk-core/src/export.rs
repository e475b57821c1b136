//! What leaves TokenDesk as files: the user list (profiles and token health, never a token) as
//! CSV or JSON, and the clients' public configuration for another desk to import. A client's
//! secret is never exported: importing asks for each client's client_secret.json again.

use serde::{Deserialize, Serialize};

use crate::desk::{ClientView, UserView};

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) gets a leading
/// `'`: profile fields come from ID tokens, and Google's errors from the network.
pub fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The columns of the users CSV, in order.
pub const USERS_CSV_COLUMNS: &[&str] = &[
    "sub",
    "issuer",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "picture",
    "locale",
    "hd",
    "client",
    "scopes",
    "access_token_state",
    "access_token_expires_at",
    "refresh_token",
    "refresh_token_invalid_reason",
    "has_drive_appdata",
    "updated_at",
];

/// RFC 4180 CSV with a header row; scopes space-separated, absent values empty.
pub fn users_csv(users: &[UserView]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(USERS_CSV_COLUMNS)?;
    let text = |v: &Option<String>| spreadsheet_safe(v.as_deref().unwrap_or(""));
    for u in users {
        w.write_record([
            spreadsheet_safe(&u.sub),
            spreadsheet_safe(&u.issuer),
            text(&u.email),
            u.email_verified.map(|b| b.to_string()).unwrap_or_default(),
            text(&u.name),
            text(&u.given_name),
            text(&u.family_name),
            text(&u.picture),
            text(&u.locale),
            text(&u.hd),
            text(&u.client),
            spreadsheet_safe(&u.scopes.join(" ")),
            u.access_token_state.as_str().to_owned(),
            u.access_token_expires_at.clone().unwrap_or_default(),
            u.refresh_token.as_str().to_owned(),
            text(&u.refresh_token_invalid_reason),
            u.has_drive_appdata.to_string(),
            u.updated_at.clone(),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The version of every JSON document the command line prints (and of the clients file): 0.1
/// printed none (read its absence as 1); a change an older script cannot read raises it.
pub const JSON_SCHEMA_VERSION: u32 = 2;

/// What a clients file says it is, so a wrong file is refused by name.
pub const CLIENTS_FILE_FORMAT: &str = "tokendesk.clients";

/// `tokendesk client export`: every client's public configuration, no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientsFile {
    pub format: String,
    pub schema_version: u32,
    pub clients: Vec<ExportedClient>,
}

/// One client without its secret: what `client add` needs beside the client_secret.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedClient {
    pub name: String,
    /// Checked against the client_secret.json given at import.
    pub client_id: String,
    /// Google's, or the provider chosen with `--issuer`.
    pub issuer: String,
    /// Where that provider serves Drive (`--api-base`); `None` for Google.
    pub api_base: Option<String>,
    pub ios_client_ids: Vec<String>,
}

impl ExportedClient {
    pub fn of(view: &ClientView) -> Self {
        let api_base = view.foreign_endpoints.then(|| {
            view.drive_api_base
                .as_deref()
                .unwrap_or(&view.issuer)
                .trim_end_matches('/')
                .trim_end_matches("/drive/v3")
                .to_owned()
        });
        Self {
            name: view.name.clone(),
            client_id: view.client_id.clone(),
            issuer: view.issuer.clone(),
            api_base,
            ios_client_ids: view.ios_client_ids.clone(),
        }
    }

    /// True when the client talks to another provider than Google (`client add --issuer`).
    pub fn foreign(&self) -> bool {
        self.api_base.is_some()
    }
}

impl ClientsFile {
    pub fn of(clients: &[ClientView]) -> Self {
        Self {
            format: CLIENTS_FILE_FORMAT.to_owned(),
            schema_version: JSON_SCHEMA_VERSION,
            clients: clients.iter().map(ExportedClient::of).collect(),
        }
    }

    /// Reads a clients file, refusing anything else by name.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let file: Self = serde_json::from_slice(bytes)
            .map_err(|e| format!("it is not a file written by `tokendesk client export` ({e})"))?;
        if file.format != CLIENTS_FILE_FORMAT {
            return Err(format!(
                "its format is {:?}, not {CLIENTS_FILE_FORMAT:?}",
                file.format
            ));
        }
        if file.schema_version > JSON_SCHEMA_VERSION {
            return Err(format!(
                "it was written by a newer TokenDesk (schema_version {}; this one reads {}): \
                 update TokenDesk",
                file.schema_version, JSON_SCHEMA_VERSION
            ));
        }
        Ok(file)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn client(foreign: bool) -> ClientView {
        ClientView {
            name: "emu".into(),
            client_id: "web.apps".into(),
            issuer: "http://127.0.0.1:4000".into(),
            ios_client_ids: vec!["ios.apps".into()],
            foreign_endpoints: foreign,
            token_endpoint: Some("http://127.0.0.1:4000/token".into()),
            authorization_endpoint: Some("http://127.0.0.1:4000/o/oauth2/v2/auth".into()),
            drive_api_base: Some("http://127.0.0.1:4000/drive/v3/".into()),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn an_exported_client_carries_what_client_add_needs_and_no_secret() {
        let file = ClientsFile::of(&[client(true)]);
        let text = serde_json::to_string(&file).unwrap();
        assert!(!text.contains("secret"), "no secret field at all: {text}");
        let back = ClientsFile::parse(text.as_bytes()).unwrap();
        assert_eq!(back, file);
        assert_eq!(
            back.clients[0].api_base.as_deref(),
            Some("http://127.0.0.1:4000"),
            "the API base as `client add --api-base` takes it"
        );
        assert_eq!(ExportedClient::of(&client(false)).api_base, None);
    }

    #[test]
    fn another_file_is_refused_by_name() {
        let err = ClientsFile::parse(br#"{"web": {"client_id": "x"}}"#).unwrap_err();
        assert!(err.contains("tokendesk client export"), "{err}");
        let err = ClientsFile::parse(br#"{"format": "x", "schema_version": 2, "clients": []}"#)
            .unwrap_err();
        assert!(err.contains("tokendesk.clients"), "{err}");
        let err = ClientsFile::parse(
            br#"{"format": "tokendesk.clients", "schema_version": 9, "clients": []}"#,
        )
        .unwrap_err();
        assert!(err.contains("newer"), "{err}");
    }

    #[test]
    fn csv_defuses_formulas_and_keeps_columns() {
        let user = UserView {
            client: Some("prod".into()),
            sub: "1001".into(),
            issuer: "https://accounts.google.com".into(),
            email: Some("ada@example.com".into()),
            email_verified: Some(true),
            name: Some("=HYPERLINK(\"x\")".into()),
            given_name: None,
            family_name: None,
            picture: None,
            locale: None,
            hd: None,
            scopes: vec!["openid".into(), "email".into()],
            access_token_expires_at: None,
            access_token_state: crate::desk::AccessTokenState::None,
            refresh_token: crate::desk::RefreshTokenView::Present,
            refresh_token_invalid_reason: None,
            has_drive_appdata: false,
            updated_at: "2026-01-01T00:00:00Z".into(),
        };
        let csv = String::from_utf8(users_csv(&[user]).unwrap()).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next().unwrap(), USERS_CSV_COLUMNS.join(","));
        let row = lines.next().unwrap();
        assert!(row.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{row}");
        assert!(row.contains(",openid email,"), "{row}");
        assert!(row.contains(",present,"), "{row}");
    }
}

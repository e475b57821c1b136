//! Printing: one JSON document on stdout with `--json`, readable text otherwise. Errors go to
//! stderr as text, or to stdout as `{"error": {"code", "message"}}` with `--json`. Every JSON
//! document is an object with `schema_version` ([`JSON_SCHEMA_VERSION`]); its shape per
//! command is written down in docs/json/*.schema.json (checked against this output by tests).

use serde::Serialize;
use serde_json::{Value, json};
use tokendesk_core::desk::{
    AccessTokenState, ClientView, DriveDownload, DriveFileReport, DriveReport, ExchangeReport,
    InspectReport, RefreshAllReport, RevokeReport, UserDetail, UserView,
};
use tokendesk_core::export::JSON_SCHEMA_VERSION;
use tokendesk_core::store::AuditEntry;
use zeroize::Zeroizing;

use crate::stdio::{errln, outln};

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

type Revealed = (Option<Zeroizing<String>>, Option<Zeroizing<String>>);

/// `value` as a document of the command line: an object with `schema_version`.
pub fn json_document(value: &impl Serialize) -> Value {
    let mut doc = match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            let mut map = serde_json::Map::new();
            map.insert("value".to_owned(), other);
            map
        }
        Err(err) => {
            let mut map = serde_json::Map::new();
            map.insert(
                "error".to_owned(),
                json!({"code": "json", "message": format!("cannot print JSON: {err}")}),
            );
            map
        }
    };
    doc.insert("schema_version".to_owned(), json!(JSON_SCHEMA_VERSION));
    Value::Object(doc)
}

pub(crate) fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(&json_document(value)) {
        Ok(text) => outln!("{text}"),
        Err(err) => errln!("error: cannot print JSON: {err}"),
    }
}

/// Whom an audit entry is about: the user's email (else sub), else their number, else "-".
fn audit_user(e: &AuditEntry) -> String {
    match (e.user_name(), e.user_id) {
        (Some(name), _) => name.to_owned(),
        (None, Some(id)) => format!("#{}", id.0),
        (None, None) => "-".into(),
    }
}

/// A file as people name it: name, ID, size.
fn file_line(f: &tokendesk_core::drive::DriveFile) -> String {
    let size = f.size.map(|s| format!(", {s} bytes")).unwrap_or_default();
    format!("{:?} ({}{size})", f.name, f.id)
}

pub(crate) fn or_dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("-")
}

/// When the access token expires, or "revoked" when revoking the grant killed it (the view
/// decides which).
fn access_expiry(u: &UserView) -> &str {
    match u.access_token_state {
        AccessTokenState::Revoked => "revoked",
        _ => or_dash(u.access_token_expires_at.as_deref()),
    }
}

/// Rows padded into columns; the last column is not padded.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        outln!("{}", s.trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

impl Out {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn error(&self, code: &str, message: &str, explanation: Option<&str>) {
        if self.json {
            let mut error = json!({"code": code, "message": message});
            if let Some(x) = explanation {
                error["explanation"] = json!(x);
            }
            print_json(&json!({ "error": error }));
        } else {
            errln!("error: {message}");
            if let Some(x) = explanation {
                errln!("{x}");
            }
        }
    }

    pub fn done(&self, message: &str) {
        if self.json {
            print_json(&json!({"ok": true, "message": message}));
        } else {
            outln!("{message}");
        }
    }

    pub fn client(&self, c: &ClientView) {
        if self.json {
            return print_json(c);
        }
        outln!("name:            {}", c.name);
        outln!("client id:       {}", c.client_id);
        outln!("issuer:          {}", c.issuer);
        outln!("token endpoint:  {}", or_dash(c.token_endpoint.as_deref()));
        outln!("drive api:       {}", or_dash(c.drive_api_base.as_deref()));
        outln!(
            "iOS client ids:  {}",
            if c.ios_client_ids.is_empty() {
                "-".to_owned()
            } else {
                c.ios_client_ids.join(", ")
            }
        );
        if c.foreign_endpoints {
            outln!("note:            not Google's endpoints (chosen with --issuer)");
        }
    }

    pub fn clients(&self, list: &[ClientView]) {
        if self.json {
            return print_json(&json!({ "clients": list }));
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|c| vec![c.name.clone(), c.issuer.clone(), c.client_id.clone()])
            .collect();
        table(&["NAME", "ISSUER", "CLIENT ID"], &rows);
    }

    fn user_text(u: &UserView) {
        outln!("sub:             {}", u.sub);
        let verified = match u.email_verified {
            Some(true) => " (verified)",
            Some(false) => " (NOT verified)",
            None => "",
        };
        outln!("email:           {}{verified}", or_dash(u.email.as_deref()));
        outln!("name:            {}", or_dash(u.name.as_deref()));
        outln!("given name:      {}", or_dash(u.given_name.as_deref()));
        outln!("family name:     {}", or_dash(u.family_name.as_deref()));
        outln!("picture:         {}", or_dash(u.picture.as_deref()));
        outln!("locale:          {}", or_dash(u.locale.as_deref()));
        outln!("hd:              {}", or_dash(u.hd.as_deref()));
        outln!("client:          {}", or_dash(u.client.as_deref()));
        outln!("scopes:          {}", u.scopes.join(" "));
        outln!("access expires:  {}", access_expiry(u));
        match &u.refresh_token_invalid_reason {
            Some(why) => outln!("refresh token:   {} ({why})", u.refresh_token),
            None => outln!("refresh token:   {}", u.refresh_token),
        }
        if !u.has_drive_appdata {
            outln!("note:            this grant lacks drive.appdata");
        }
    }

    pub fn user_view(&self, u: &UserView) {
        if self.json {
            print_json(u);
        } else {
            Self::user_text(u);
        }
    }

    pub fn user(&self, d: &UserDetail, revealed: Option<&Revealed>) {
        if self.json {
            let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
            if let Some((access, refresh)) = revealed {
                v["access_token"] = json!(access.as_ref().map(|s| s.as_str()));
                v["refresh_token_value"] = json!(refresh.as_ref().map(|s| s.as_str()));
            }
            return print_json(&v);
        }
        Self::user_text(&d.user);
        if let Some((access, refresh)) = revealed {
            outln!(
                "access token:    {}",
                access.as_ref().map_or("-", |s| s.as_str())
            );
            outln!(
                "refresh token:   {}",
                refresh.as_ref().map_or("-", |s| s.as_str())
            );
        }
    }

    pub fn users(&self, list: &[UserView]) {
        if self.json {
            return print_json(&json!({ "users": list }));
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|u| {
                vec![
                    u.sub.clone(),
                    or_dash(u.email.as_deref()).to_owned(),
                    or_dash(u.name.as_deref()).to_owned(),
                    u.refresh_token.to_string(),
                    access_expiry(u).to_owned(),
                ]
            })
            .collect();
        table(
            &["SUB", "EMAIL", "NAME", "REFRESH", "ACCESS EXPIRES"],
            &rows,
        );
    }

    pub fn exchange(&self, r: &ExchangeReport) {
        if self.json {
            return print_json(r);
        }
        Self::user_text(&r.user);
        for note in &r.notes {
            outln!("note:            {note}");
        }
    }

    pub fn refresh_all(&self, r: &RefreshAllReport) {
        if self.json {
            return print_json(r);
        }
        for o in r.outcomes.iter().filter(|o| !o.ok) {
            outln!(
                "failed  {}  {}  {}",
                o.sub,
                or_dash(o.email.as_deref()),
                or_dash(o.error.as_deref())
            );
        }
        outln!(
            "refreshed {} of {} ({} failed, {} skipped)",
            r.refreshed,
            r.total,
            r.failed,
            r.skipped
        );
    }

    pub fn revoke(&self, r: &RevokeReport) {
        if self.json {
            return print_json(r);
        }
        outln!("{}: {}", or_dash(r.user.email.as_deref()), r.message);
    }

    pub fn inspect(&self, r: &InspectReport) {
        if self.json {
            // DESIGN.md's shape: the verdict and every check under `verification`.
            return match r {
                InspectReport::Jwt(i) => print_json(&json!({
                    "kind": "jwt",
                    "header": i.unverified_header,
                    "claims": i.unverified_claims,
                    "verification": {"valid": i.valid, "checks": i.checks, "error": i.error},
                })),
                InspectReport::AccessToken(_) => print_json(r),
            };
        }
        match r {
            InspectReport::Jwt(i) => {
                outln!("header (unverified):");
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&i.unverified_header).unwrap_or_default()
                );
                outln!("claims (unverified):");
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&i.unverified_claims).unwrap_or_default()
                );
                outln!("checks:");
                for c in &i.checks {
                    outln!(
                        "  [{}] {:<14} {}",
                        if c.ok { "ok" } else { "FAIL" },
                        c.name,
                        c.detail
                    );
                }
                match &i.error {
                    None if i.valid => outln!("verdict: valid"),
                    None => outln!("verdict: NOT valid"),
                    Some(e) => outln!("verdict: NOT valid: {}", e.message),
                }
            }
            InspectReport::AccessToken(info) => print_json(info),
        }
    }

    pub fn drive(&self, r: &DriveReport) {
        if self.json {
            return print_json(r);
        }
        outln!(
            "appDataFolder {} of {}",
            r.folder.id,
            or_dash(r.user.email.as_deref())
        );
        let rows: Vec<Vec<String>> = r
            .files
            .iter()
            .map(|f| {
                vec![
                    f.name.clone(),
                    f.id.clone(),
                    f.mime_type.clone(),
                    f.size.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                    f.modified_time.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(&["NAME", "ID", "TYPE", "SIZE", "MODIFIED"], &rows);
    }

    pub fn drive_download(&self, d: &DriveDownload, path: &std::path::Path) {
        if self.json {
            return print_json(&json!({
                "user": d.user,
                "file": d.file,
                "out": path.display().to_string(),
                "bytes": d.content.len(),
            }));
        }
        outln!(
            "downloaded {} of {} to {}",
            file_line(&d.file),
            or_dash(d.user.email.as_deref()),
            path.display()
        );
    }

    /// An uploaded or deleted file (`done` says which).
    pub fn drive_file(&self, done: &str, r: &DriveFileReport) {
        if self.json {
            return print_json(&json!({ "done": done, "user": r.user, "file": r.file }));
        }
        let place = if done == "uploaded" { "into" } else { "from" };
        outln!(
            "{done} {} {place} the appDataFolder of {}",
            file_line(&r.file),
            or_dash(r.user.email.as_deref())
        );
    }

    pub fn import_outcomes(&self, list: &[crate::export::ImportOutcome]) {
        if self.json {
            return print_json(&json!({ "clients": list }));
        }
        for o in list {
            outln!("{:<13} {}: {}", o.outcome, o.name, o.message);
            if let Some(command) = &o.command {
                outln!("{:<13}   {command}", "");
            }
        }
    }

    /// One entry as a line of its own (`audit --follow`): the table's columns, or one JSON
    /// document per line.
    pub fn audit_line(&self, e: &AuditEntry) {
        if self.json {
            outln!("{}", json_document(e));
            return;
        }
        outln!(
            "{}  {}  {}  {}  {}  {}",
            e.at.to_rfc3339(),
            e.os_user,
            e.action.as_str(),
            e.outcome.as_str(),
            audit_user(e),
            e.detail.as_deref().unwrap_or("")
        );
    }

    pub fn audit(&self, list: &[AuditEntry]) {
        if self.json {
            return print_json(&json!({ "audit": list }));
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|e| {
                vec![
                    e.at.to_rfc3339(),
                    e.os_user.clone(),
                    e.action.as_str().to_owned(),
                    e.outcome.as_str().to_owned(),
                    audit_user(e),
                    e.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &["AT", "OS USER", "ACTION", "OUTCOME", "USER", "DETAIL"],
            &rows,
        );
    }
}

//! Printing: one JSON document on stdout with `--json`, readable text otherwise. Errors go to
//! stderr as text, or to stdout as `{"error": {"code", "message"}}` with `--json`.

use serde::Serialize;
use serde_json::{Value, json};
use tokendesk_core::desk::{
    ClientView, DriveReport, ExchangeReport, InspectReport, RefreshAllReport, RevokeReport,
    UserDetail, UserView,
};
use tokendesk_core::store::AuditEntry;
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

type Revealed = (Option<Zeroizing<String>>, Option<Zeroizing<String>>);

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("error: cannot print JSON: {err}"),
    }
}

fn or_dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("-")
}

/// Rows padded into columns; the last column is not padded.
fn table(headers: &[&str], rows: &[Vec<String>]) {
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
        println!("{}", s.trim_end());
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
            eprintln!("error: {message}");
            if let Some(x) = explanation {
                eprintln!("{x}");
            }
        }
    }

    pub fn done(&self, message: &str) {
        if self.json {
            print_json(&json!({"ok": true, "message": message}));
        } else {
            println!("{message}");
        }
    }

    pub fn client(&self, c: &ClientView) {
        if self.json {
            return print_json(c);
        }
        println!("name:            {}", c.name);
        println!("client id:       {}", c.client_id);
        println!("issuer:          {}", c.issuer);
        println!("token endpoint:  {}", or_dash(c.token_endpoint.as_deref()));
        println!("drive api:       {}", or_dash(c.drive_api_base.as_deref()));
        println!(
            "iOS client ids:  {}",
            if c.ios_client_ids.is_empty() {
                "-".to_owned()
            } else {
                c.ios_client_ids.join(", ")
            }
        );
        if c.foreign_endpoints {
            println!("note:            not Google's endpoints (chosen with --issuer)");
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
        println!("sub:             {}", u.sub);
        let verified = match u.email_verified {
            Some(true) => " (verified)",
            Some(false) => " (NOT verified)",
            None => "",
        };
        println!("email:           {}{verified}", or_dash(u.email.as_deref()));
        println!("name:            {}", or_dash(u.name.as_deref()));
        println!("given name:      {}", or_dash(u.given_name.as_deref()));
        println!("family name:     {}", or_dash(u.family_name.as_deref()));
        println!("picture:         {}", or_dash(u.picture.as_deref()));
        println!("locale:          {}", or_dash(u.locale.as_deref()));
        println!("hd:              {}", or_dash(u.hd.as_deref()));
        println!("client:          {}", or_dash(u.client.as_deref()));
        println!("scopes:          {}", u.scopes.join(" "));
        println!(
            "access expires:  {}",
            or_dash(u.access_token_expires_at.as_deref())
        );
        match &u.refresh_token_invalid_reason {
            Some(why) => println!("refresh token:   {} ({why})", u.refresh_token),
            None => println!("refresh token:   {}", u.refresh_token),
        }
        if !u.has_drive_appdata {
            println!("note:            this grant lacks drive.appdata");
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
            println!(
                "access token:    {}",
                access.as_ref().map_or("-", |s| s.as_str())
            );
            println!(
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
                    u.refresh_token.to_owned(),
                    or_dash(u.access_token_expires_at.as_deref()).to_owned(),
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
            println!("note:            {note}");
        }
    }

    pub fn refresh_all(&self, r: &RefreshAllReport) {
        if self.json {
            return print_json(r);
        }
        for o in r.outcomes.iter().filter(|o| !o.ok) {
            println!(
                "failed  {}  {}  {}",
                o.sub,
                or_dash(o.email.as_deref()),
                or_dash(o.error.as_deref())
            );
        }
        println!(
            "refreshed {} of {} ({} failed, {} skipped)",
            r.refreshed, r.total, r.failed, r.skipped
        );
    }

    pub fn revoke(&self, r: &RevokeReport) {
        if self.json {
            return print_json(r);
        }
        println!("{}: {}", or_dash(r.user.email.as_deref()), r.message);
    }

    pub fn inspect(&self, r: &InspectReport) {
        if self.json {
            return print_json(r);
        }
        match r {
            InspectReport::Jwt(i) => {
                println!("header (unverified):");
                println!(
                    "{}",
                    serde_json::to_string_pretty(&i.unverified_header).unwrap_or_default()
                );
                println!("claims (unverified):");
                println!(
                    "{}",
                    serde_json::to_string_pretty(&i.unverified_claims).unwrap_or_default()
                );
                println!("checks:");
                for c in &i.checks {
                    println!(
                        "  [{}] {:<14} {}",
                        if c.ok { "ok" } else { "FAIL" },
                        c.name,
                        c.detail
                    );
                }
                match &i.error {
                    None if i.valid => println!("verdict: valid"),
                    None => println!("verdict: NOT valid"),
                    Some(e) => println!("verdict: NOT valid: {}", e.message),
                }
            }
            InspectReport::AccessToken(info) => print_json(info),
        }
    }

    pub fn drive(&self, r: &DriveReport) {
        if self.json {
            return print_json(r);
        }
        println!(
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
                    e.user_id
                        .map(|u| u.0.to_string())
                        .unwrap_or_else(|| "-".into()),
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

//! The Audit page's filter and its CSV export.

use serde::Deserialize;
use tokendesk_core::store::{AuditAction, AuditEntry, AuditOutcome, Timestamp};
use ts_rs::TS;

use crate::error::{CmdResult, CommandError};

/// What the Audit page asks for; the filtering is SQL in the store (the log is never scanned
/// here).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    pub outcome: Option<AuditOutcome>,
    /// RFC 3339: entries at or after this instant.
    #[ts(type = "string | null")]
    pub since: Option<Timestamp>,
    /// Found (without regard to case) in who acted, the detail, or the user's email or sub.
    pub text: Option<String>,
    pub limit: Option<usize>,
}

impl From<AuditFilter> for tokendesk_core::console::AuditQuery {
    fn from(f: AuditFilter) -> Self {
        Self {
            user: None,
            action: f.action,
            outcome: f.outcome,
            since: f.since,
            text: f.text,
            limit: f.limit.unwrap_or(1_000).min(10_000),
        }
    }
}

/// RFC 4180 CSV with a header row. Cells that a spreadsheet would run as a formula (`=`, `+`,
/// `-`, `@`, tab, CR) are prefixed with `'`: the detail column holds text from Google's errors.
pub fn to_csv(entries: &[AuditEntry]) -> CmdResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| CommandError::new("internal", format!("cannot write CSV: {e}"));
    w.write_record([
        "id", "at", "os_user", "action", "user", "user_id", "outcome", "detail",
    ])
    .map_err(fail)?;
    for e in entries {
        w.write_record([
            e.id.to_string(),
            e.at.to_rfc3339(),
            defuse(&e.os_user),
            e.action.as_str().to_owned(),
            defuse(e.user_name().unwrap_or("")),
            e.user_id.map(|u| u.0.to_string()).unwrap_or_default(),
            e.outcome.as_str().to_owned(),
            defuse(e.detail.as_deref().unwrap_or("")),
        ])
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| CommandError::new("internal", format!("cannot write CSV: {e}")))
}

/// The same defusing as the users export's.
fn defuse(cell: &str) -> String {
    tokendesk_core::export::spreadsheet_safe(cell)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokendesk_core::store::{AuditAction, AuditOutcome, Timestamp, UserId};

    fn entry(id: i64, action: AuditAction, outcome: AuditOutcome, detail: &str) -> AuditEntry {
        AuditEntry {
            id,
            at: Timestamp::from_unix(1_700_000_000 + id),
            os_user: "support".into(),
            action,
            user_id: Some(UserId(7)),
            outcome,
            detail: Some(detail.into()),
            user_email: Some(format!("user{id}@example.com")),
            user_sub: Some(format!("10{id}")),
        }
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let log = vec![
            entry(
                1,
                AuditAction::Exchange,
                AuditOutcome::Failed,
                "=HYPERLINK(\"x\")",
            ),
            entry(
                2,
                AuditAction::Revoke,
                AuditOutcome::Ok,
                "a, \"quoted\"\nline",
            ),
        ];
        let csv = String::from_utf8(to_csv(&log).unwrap()).unwrap();
        let mut rows = csv::Reader::from_reader(csv.as_bytes());
        let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2, "one row per entry after the header");
        assert_eq!(
            &records[0][7], "'=HYPERLINK(\"x\")",
            "a formula is neutralised"
        );
        assert_eq!(
            &records[1][7], "a, \"quoted\"\nline",
            "commas, quotes and newlines round-trip"
        );
        assert_eq!(&records[1][3], "revoke");
        assert_eq!(
            &records[1][4], "user2@example.com",
            "the user is named by email, not only by number"
        );
        assert_eq!(&records[1][5], "7", "the number stays");
        let mut anonymous = log[0].clone();
        anonymous.user_email = None;
        let csv = String::from_utf8(to_csv(&[anonymous]).unwrap()).unwrap();
        let record = csv::Reader::from_reader(csv.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(&record[4], "101", "the sub names a user without an email");
        assert!(
            records[0][1].starts_with("2023-11-14T"),
            "times are RFC 3339"
        );
    }
}

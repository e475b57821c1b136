//! The Audit page's filter and its CSV export.

use serde::Deserialize;
use tokendesk_core::store::AuditEntry;
use ts_rs::TS;

use crate::error::{CmdResult, CommandError};

/// How many recent entries the page filters (the log itself is kept whole in SQLite).
pub const SCAN_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct AuditFilter {
    /// `exchange`, `refresh`, ... or none for all.
    pub action: Option<String>,
    /// `ok`, `failed`, `denied`, or none for all.
    pub outcome: Option<String>,
    /// Matched (case-insensitively) against the OS user, the detail, the user's email (part of
    /// it) and sub, and the user id.
    pub text: Option<String>,
    pub limit: Option<usize>,
}

pub fn filtered(entries: Vec<AuditEntry>, filter: &AuditFilter) -> Vec<AuditEntry> {
    let wanted = |want: &Option<String>, have: &str| {
        want.as_deref()
            .map(str::trim)
            .is_none_or(|w| w.is_empty() || w == have)
    };
    let text = filter
        .text
        .as_deref()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty());
    entries
        .into_iter()
        .filter(|e| wanted(&filter.action, e.action.as_str()))
        .filter(|e| wanted(&filter.outcome, e.outcome.as_str()))
        .filter(|e| {
            text.as_deref().is_none_or(|t| {
                e.os_user.to_lowercase().contains(t)
                    || e.detail
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(t))
                    || e.user_email
                        .as_deref()
                        .is_some_and(|m| m.to_lowercase().contains(t))
                    || e.user_sub.as_deref() == Some(t)
                    || e.user_id.is_some_and(|u| u.0.to_string() == t)
            })
        })
        .take(filter.limit.unwrap_or(1_000))
        .collect()
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

fn defuse(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
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
    fn filter_by_action_outcome_and_text() {
        let log = vec![
            entry(1, AuditAction::Exchange, AuditOutcome::Ok, "web"),
            entry(
                2,
                AuditAction::Refresh,
                AuditOutcome::Failed,
                "invalid_grant",
            ),
            entry(3, AuditAction::Refresh, AuditOutcome::Ok, "web"),
        ];
        let ids = |f: AuditFilter| {
            filtered(log.clone(), &f)
                .iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(AuditFilter::default()),
            [1, 2, 3],
            "no filter keeps all"
        );
        let refresh = AuditFilter {
            action: Some("refresh".into()),
            ..AuditFilter::default()
        };
        assert_eq!(ids(refresh), [2, 3]);
        let failed = AuditFilter {
            outcome: Some("failed".into()),
            ..AuditFilter::default()
        };
        assert_eq!(ids(failed), [2]);
        let text = AuditFilter {
            text: Some("INVALID".into()),
            ..AuditFilter::default()
        };
        assert_eq!(
            ids(text),
            [2],
            "text matches the detail, case-insensitively"
        );
        let limited = AuditFilter {
            limit: Some(1),
            ..AuditFilter::default()
        };
        assert_eq!(ids(limited), [1]);
        let email = AuditFilter {
            text: Some("USER3@".into()),
            ..AuditFilter::default()
        };
        assert_eq!(ids(email), [3], "text matches the user's email");
        let sub = AuditFilter {
            text: Some("102".into()),
            ..AuditFilter::default()
        };
        assert_eq!(ids(sub), [2], "and the user's sub, whole");
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

//! `tokendesk http USER`: the user's recent operations as HTTP (every request and response,
//! secrets masked), numbered ENTRY.N; `--curl ENTRY[.N]` prints one request as a curl command
//! (on stdout alone, so it can be piped or saved; its notes go to stderr), its secrets as
//! shell variables unless `--reveal` writes the stored ones in (audited).

use serde_json::json;
use tokendesk_core::console::Console;
use tokendesk_core::store::HttpLogEntry;

use crate::exit;
use crate::output::{Out, print_json};
use crate::signin::print_raw;
use crate::stdio::{errln, outln};

pub async fn run(
    console: &dyn Console,
    who: &str,
    limit: usize,
    curl: Option<(i64, usize)>,
    reveal: bool,
    out: &Out,
) -> anyhow::Result<u8> {
    if let Some((entry, index)) = curl {
        let command = console.http_curl(who, entry, index, reveal).await?;
        if out.json {
            print_json(&command);
        } else {
            outln!("{}", command.command);
            for note in &command.notes {
                errln!("note: {note}");
            }
        }
        return Ok(exit::OK);
    }
    let entries = console.user_http(who, limit).await?;
    if out.json {
        print_json(&json!({ "http": entries }));
    } else if entries.is_empty() {
        outln!(
            "No operation on {who} is kept yet: refresh, revoke, Drive and health checks keep \
             their HTTP here."
        );
    } else {
        for entry in &entries {
            print_entry(entry);
        }
        outln!();
        outln!(
            "`tokendesk http {who} --curl ENTRY.N` prints request N of an operation as a curl \
             command (secrets as shell variables; --reveal writes them in, audited)."
        );
    }
    Ok(exit::OK)
}

fn print_entry(entry: &HttpLogEntry) {
    let client = entry
        .client
        .as_deref()
        .map(|c| format!(", client {c}"))
        .unwrap_or_default();
    outln!(
        "#{}  {}  {}  {}  by {}{client}",
        entry.id,
        entry.at,
        entry.action.as_str(),
        entry.outcome.as_str(),
        entry.actor
    );
    for (n, raw) in entry.exchanges.iter().enumerate() {
        outln!("  [{}.{n}]", entry.id);
        print_raw(raw);
    }
}

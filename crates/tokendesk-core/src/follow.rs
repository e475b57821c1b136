//! Following the audit log as it grows (`tokendesk audit --follow`, the window's live pages):
//! on a team server the admin API's server-sent events (`GET /api/v1/events`), reconnecting
//! with `Last-Event-ID` so nothing is missed; on the embedded store, a look at the log every
//! second (other processes on the same store write to it too).

use std::time::Duration;

use crate::desk::{DeskError, ErrorKind, StopFlag};
use crate::store::AuditEntry;

/// What a follower hears.
#[derive(Debug, Clone)]
pub enum Followed {
    /// A new entry (a sign-in reached the receiver, a colleague refreshed...).
    Entry(AuditEntry),
    /// The connection is lost; the next try is in `retry_in`. `reason` says what failed.
    Offline { reason: String, retry_in: Duration },
    /// Connected (again).
    Online,
}

/// How often the embedded store's log is looked at.
pub const POLL: Duration = Duration::from_secs(1);
/// The server sends a comment every 15 s: this long without a byte is a dead connection.
const SILENCE: Duration = Duration::from_secs(45);
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// One request's life; then it reconnects from the last id (a client's timeout covers the
/// whole body, and a stream has no end).
const STREAM_LIFE: Duration = Duration::from_secs(3600);

/// Sleeps `how_long`, or less when `stop` is set meanwhile.
pub(crate) async fn wait(how_long: Duration, stop: &StopFlag) {
    tokio::select! {
        () = tokio::time::sleep(how_long) => {}
        () = stop.stopped() => {}
    }
}

/// One server-sent event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// Reads `text/event-stream` as it arrives (the WHATWG rules: fields `event`, `id`, `data`,
/// comments skipped, an event ends at a blank line; CR, LF or CRLF line ends).
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    current: SseEvent,
    has_data: bool,
    last_was_cr: bool,
}

impl SseParser {
    /// Feeds bytes; returns the events they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut done = Vec::new();
        for &b in bytes {
            match b {
                b'\n' if self.last_was_cr => self.last_was_cr = false,
                b'\r' | b'\n' => {
                    self.last_was_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                        done.push(event);
                    }
                }
                _ => {
                    self.last_was_cr = false;
                    self.line.push(b);
                }
            }
        }
        done
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            let had = std::mem::replace(&mut self.has_data, false);
            return (had || !event.event.is_empty()).then_some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.current.event = value.to_owned(),
            "id" => self.current.id = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

/// The SSE follow of a team server: `open` makes the request for the events after an id.
pub(crate) async fn follow_events(
    open: &(dyn Fn(Option<i64>) -> crate::console::Result<reqwest::RequestBuilder> + Send + Sync),
    check: &(dyn Fn(&reqwest::Response) -> crate::console::Result<()> + Send + Sync),
    after: Option<i64>,
    sink: &(dyn Fn(Followed) + Send + Sync),
    stop: &StopFlag,
) -> crate::console::Result<()> {
    let mut last = after;
    let mut pause = RETRY_FIRST;
    while !stop.is_stopped() {
        let failure = match open(last)?.timeout(STREAM_LIFE).send().await {
            Err(err) => err.to_string(),
            Ok(response) if response.status().is_success() => {
                check(&response)?;
                sink(Followed::Online);
                pause = RETRY_FIRST;
                match read_stream(response, &mut last, sink, stop).await {
                    Ok(()) => return Ok(()),
                    Err(reason) => reason,
                }
            }
            Ok(response) => {
                let status = response.status().as_u16();
                check(&response)?;
                if matches!(status, 401 | 403) {
                    return Err(DeskError::Remote {
                        code: if status == 401 {
                            "unauthenticated"
                        } else {
                            "forbidden"
                        }
                        .into(),
                        kind: if status == 401 {
                            ErrorKind::Unauthenticated
                        } else {
                            ErrorKind::Forbidden
                        },
                        message: format!(
                            "the team server refused the live events ({status}): sign in again \
                             (`tokendesk --server URL login`) or use a token that may read the audit"
                        ),
                        explanation: None,
                        raw: Vec::new(),
                    });
                }
                format!("HTTP {status}")
            }
        };
        sink(Followed::Offline {
            reason: failure,
            retry_in: pause,
        });
        wait(pause, stop).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
    Ok(())
}

/// Reads events until the stream ends (Err: why, to reconnect) or `stop` (Ok).
async fn read_stream(
    mut response: reqwest::Response,
    last: &mut Option<i64>,
    sink: &(dyn Fn(Followed) + Send + Sync),
    stop: &StopFlag,
) -> Result<(), String> {
    let mut parser = SseParser::default();
    let mut quiet = Duration::ZERO;
    loop {
        if stop.is_stopped() {
            return Ok(());
        }
        let chunk = match tokio::time::timeout(Duration::from_millis(250), response.chunk()).await {
            Err(_) => {
                quiet += Duration::from_millis(250);
                if quiet >= SILENCE {
                    return Err(format!(
                        "nothing from the server for {} s",
                        SILENCE.as_secs()
                    ));
                }
                continue;
            }
            Ok(Err(err)) => return Err(err.to_string()),
            Ok(Ok(None)) => return Err("the server ended the stream".to_owned()),
            Ok(Ok(Some(chunk))) => chunk,
        };
        quiet = Duration::ZERO;
        for event in parser.push(&chunk) {
            match event.event.as_str() {
                "audit" => match serde_json::from_str::<AuditEntry>(&event.data) {
                    Ok(entry) => {
                        *last = Some(last.map_or(entry.id, |l| l.max(entry.id)));
                        sink(Followed::Entry(entry));
                    }
                    Err(err) => tracing::warn!(%err, "an event that is not an audit entry"),
                },
                "end" => return Err(format!("the server ended the stream ({})", event.data)),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_line_ends_are_read_whole() {
        let mut parser = SseParser::default();
        assert!(parser.push(b": keep-alive\n\nevent: au").is_empty());
        let events = parser.push(b"dit\r\nid: 7\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\nevent: end\n");
        assert_eq!(
            events,
            [SseEvent {
                event: "audit".into(),
                id: Some("7".into()),
                data: "{\"a\":\n1}".into(),
            }]
        );
        let events = parser.push(b"data:{\"reason\":\"x\"}\n\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "end");
        assert_eq!(events[0].data, "{\"reason\":\"x\"}");
    }

    #[test]
    fn a_comment_or_a_blank_line_alone_is_no_event() {
        let mut parser = SseParser::default();
        assert!(parser.push(b":\n\n\n\n: ping\n\n").is_empty());
    }
}

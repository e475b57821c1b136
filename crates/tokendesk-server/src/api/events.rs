//! `GET /api/v1/events` (viewer): the audit log as it grows, as server-sent events. Each
//! event is `event: audit`, `id: <entry id>`, `data: <the AuditEntry as JSON>`. A client that
//! reconnects sends `Last-Event-ID` (browsers' EventSource do) or `?after=ID` and first gets
//! what it missed. Comments keep the connection alive through proxies; the caller's session or
//! token is checked again every [`RECHECK`], and the stream ends with `event: end` when it is
//! no longer valid (signed out, expired, revoked), so a removed colleague stops seeing events.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::stream;
use serde::Deserialize;
use tokendesk_core::store::AuditEntry;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, ApiState, Caller, Viewer};

/// How often a live stream checks that its caller may still read.
pub const RECHECK: Duration = Duration::from_secs(30);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct After {
    /// Replay the entries after this id first (as `Last-Event-ID` does).
    after: Option<i64>,
}

struct Feed {
    state: ApiState,
    caller: Caller,
    live: broadcast::Receiver<Arc<AuditEntry>>,
    /// Entries read from the database, to send before the live ones.
    backlog: std::vec::IntoIter<AuditEntry>,
    /// Ids the backlog sent, so the same entry arriving live is not sent twice.
    replayed: HashSet<i64>,
    /// The newest id sent, where a lagging subscriber resumes.
    sent_max: i64,
    recheck: tokio::time::Interval,
    ended: bool,
}

fn audit_event(entry: &AuditEntry) -> Event {
    Event::default()
        .event("audit")
        .id(entry.id.to_string())
        .json_data(entry)
        .unwrap_or_else(|_| Event::default().event("audit").id(entry.id.to_string()))
}

fn end_event(reason: &str) -> Event {
    Event::default()
        .event("end")
        .data(serde_json::json!({ "reason": reason }).to_string())
}

impl Feed {
    /// `entry` as the next event, remembered as sent.
    fn send(&mut self, entry: &AuditEntry) -> Event {
        self.sent_max = self.sent_max.max(entry.id);
        audit_event(entry)
    }

    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        if let Some(entry) = self.backlog.next() {
            return Some(self.send(&entry));
        }
        loop {
            tokio::select! {
                received = self.live.recv() => match received {
                    Ok(entry) => {
                        if self.replayed.remove(&entry.id) {
                            continue;
                        }
                        return Some(self.send(&entry));
                    }
                    Err(RecvError::Lagged(_)) => {
                        // Too slow for the buffer: read the rest from the database.
                        match self.state.events.replay(self.sent_max).await {
                            Ok(entries) => {
                                self.replayed.extend(entries.iter().map(|e| e.id));
                                self.backlog = entries.into_iter();
                                if let Some(entry) = self.backlog.next() {
                                    return Some(self.send(&entry));
                                }
                            }
                            Err(_) => {
                                self.ended = true;
                                return Some(end_event("unavailable"));
                            }
                        }
                    }
                    Err(RecvError::Closed) => {
                        self.ended = true;
                        return Some(end_event("stopping"));
                    }
                },
                _ = self.recheck.tick() => {
                    let still = self
                        .state
                        .pg
                        .credential(&self.caller.digest, self.state.life, self.state.desk.now())
                        .await;
                    match still {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            self.ended = true;
                            return Some(end_event("unauthenticated"));
                        }
                        // The database is away: the client reconnects and resumes by id.
                        Err(_) => {
                            self.ended = true;
                            return Some(end_event("unavailable"));
                        }
                    }
                }
            }
        }
    }
}

/// The audit log as it grows, as server-sent events.
///
/// Each event is `event: audit`, `id: <entry id>`, `data: <an AuditEntry as JSON>` (the
/// `AuditEntry` schema). The stream ends with `event: end` (data: `unauthenticated`,
/// `unavailable` or `stopping`) when the caller's credential stops working, the database is
/// away or the server stops. API call records are not events.
#[utoipa::path(
    get,
    path = tokendesk_core::api::paths::EVENTS,
    tag = "console",
    params(
        After,
        ("Last-Event-ID" = Option<i64>, Header, description = "The last entry id the client saw: the entries after it are replayed first."),
    ),
    responses(
        (status = 200, description = "A stream of `audit` events, each one an AuditEntry as JSON.", body = String, content_type = "text/event-stream"),
        (status = 400, description = "The query string is not what this call takes.", body = tokendesk_core::api::ErrorBody),
    ),
    extensions(("x-tokendesk-role" = json!("viewer"))),
)]
pub(super) async fn events(
    Viewer { 0: caller }: Viewer,
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<After>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(after) = query?;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    // Subscribed before the replay is read: nothing falls between the two.
    let live = state.events.subscribe();
    let backlog = match last_event_id.or(after.after) {
        Some(after) => state.events.replay(after).await?,
        None => Vec::new(),
    };
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.reset();
    let feed = Feed {
        replayed: backlog.iter().map(|e| e.id).collect(),
        sent_max: last_event_id.or(after.after).unwrap_or(0),
        backlog: backlog.into_iter(),
        state,
        caller,
        live,
        recheck,
        ended: false,
    };
    let stream = stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

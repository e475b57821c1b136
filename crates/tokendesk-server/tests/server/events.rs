//! `GET /api/v1/events`: what happens on one replica reaches a viewer watching another, live;
//! a reconnect with `Last-Event-ID` gets what it missed; the API's own call records are not
//! events; without credentials, 401.

use std::time::Duration;

use tokendesk_core::api::{Role, paths};

use crate::team::Team;

/// A server-sent event stream read by hand: (event, id, data) per event, comments skipped.
struct Feed {
    response: reqwest::Response,
    buffer: String,
}

#[derive(Debug)]
struct Sse {
    event: String,
    id: Option<String>,
    data: serde_json::Value,
}

impl Feed {
    async fn open(admin: &str, token: &str, last_event_id: Option<&str>) -> Feed {
        let mut request = reqwest::Client::new()
            .get(format!("{admin}{}", paths::EVENTS))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Feed {
            response,
            buffer: String::new(),
        }
    }

    async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Sse {
                    event,
                    id,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                };
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_on_one_replica_is_an_event_on_the_other_and_a_reconnect_resumes() {
    let team = Team::new().await;
    let a = team.replica("a").await;
    let b = team.replica("b").await;
    team.add_client(&a).await;
    team.add_staff("ada@example.com", Role::Viewer).await;
    team.add_staff("op@example.com", Role::Operator).await;
    let viewer = team.sign_in(&b, "ada@example.com").await.unwrap();
    let viewer = viewer.token.unwrap();
    let operator = team.staff_console(&a, "op@example.com").await;

    let unauthenticated = reqwest::get(format!("{}{}", b.admin_url(), paths::EVENTS))
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let mut feed = Feed::open(&b.admin_url(), &viewer, None).await;
    // An app's sign-in reaches replica A's receiver; the viewer on B sees it.
    assert_eq!(
        team.post_code(&a, &team.code("grace@example.com")).await,
        200
    );
    let seen = feed.next().await;
    assert_eq!(seen.event, "audit", "{seen:?}");
    assert_eq!(seen.data["action"], "exchange", "{seen:?}");
    assert_eq!(seen.data["user_email"], "grace@example.com");
    assert_eq!(seen.id.as_deref(), Some(&*seen.data["id"].to_string()));
    // A colleague's refresh through A: the next event (reads, such as the operator's
    // whoami, are the API's own records, not events).
    use tokendesk_core::console::Console as _;
    operator.refresh("grace@example.com", None).await.unwrap();
    let refreshed = feed.next().await;
    assert_eq!(refreshed.data["action"], "refresh", "{refreshed:?}");
    assert_eq!(refreshed.data["os_user"], "op@example.com");
    drop(feed);

    // While nobody watches: a revoke. A reconnect from the last id seen gets it first.
    operator.revoke("grace@example.com", None).await.unwrap();
    let mut feed = Feed::open(&a.admin_url(), &viewer, refreshed.id.as_deref()).await;
    let missed = feed.next().await;
    assert_eq!(missed.data["action"], "revoke", "{missed:?}");
    assert!(
        missed.data["id"].as_i64().unwrap() > refreshed.data["id"].as_i64().unwrap(),
        "{missed:?}"
    );
    // And then live again.
    assert_eq!(
        team.post_code(&b, &team.code("hopper@example.com")).await,
        200
    );
    let live = feed.next().await;
    assert_eq!(live.data["action"], "exchange", "{live:?}");
    assert_eq!(live.data["user_email"], "hopper@example.com");
    a.stop().await;
    b.stop().await;
}

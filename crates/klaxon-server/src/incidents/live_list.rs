//! Live lists: a Server-Sent Events stream that says "incidents changed" whenever any incident
//! gets a timeline event, so the incident list and the dashboard can redraw what they show.
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::response::sse::Event as SseEvent;
use axum::routing::get;
use futures_util::stream::{self, Stream};
use klaxon_domain::event::SubjectType;
use serde::Deserialize;

use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{WebSession, event_stream};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/incidents/changes", get(changes))
}

#[derive(Deserialize)]
struct ChangesQuery {
    /// The newest event the page had seen when it was drawn.
    after: Option<i64>,
}

/// How often the stream looks for changes made elsewhere (the engine, other instances);
/// changes made by this instance wake it at once.
const POLL: Duration = Duration::from_secs(2);
/// How long one stream lasts before the browser reconnects (and its session is checked again).
const MAX_AGE: Duration = Duration::from_secs(300);
/// On PostgreSQL sequence numbers are drawn before commit, so an event may appear behind one
/// already seen: each read looks back this many numbers for ones not yet reported.
const LOOK_BACK: i64 = 200;
/// Events read at once; more than [`LOOK_BACK`], so every read gets past what it saw before.
const BATCH: u32 = 1_000;

/// `change` events, each after one or more incident events: `{"seq": n, "incidents": [ids]}`,
/// the id being the newest sequence number seen (the browser resumes from it).
async fn changes(
    State(state): State<AppState>,
    _s: WebSession,
    Query(q): Query<ChangesQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let after = match resumed.max(q.after) {
        Some(after) => after.max(0),
        None => state.store.last_event_seq().await?,
    };
    Ok(event_stream(&state, change_stream(state.clone(), after)))
}

/// What a stream has seen: the newest number, and the numbers just behind it.
struct Seen {
    /// Events at or before this were on the page when it was drawn.
    floor: i64,
    newest: i64,
    recent: BTreeSet<i64>,
}

impl Seen {
    /// Takes a read's events; returns the incidents with events not seen before.
    fn take(&mut self, events: &[klaxon_store::Event]) -> Vec<String> {
        let mut changed = Vec::new();
        for e in events {
            if e.seq > self.floor && self.recent.insert(e.seq) && !changed.contains(&e.subject_id) {
                changed.push(e.subject_id.clone());
            }
            self.newest = self.newest.max(e.seq);
        }
        let keep_from = self.newest - LOOK_BACK;
        self.recent.retain(|s| *s > keep_from);
        changed
    }
}

fn change_stream(state: AppState, after: i64) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let deadline = tokio::time::Instant::now() + MAX_AGE;
    let seen = Seen {
        floor: after,
        newest: after,
        recent: BTreeSet::new(),
    };
    stream::unfold((state, seen), move |(state, mut seen)| async move {
        loop {
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            let changes = state.incident_changes.clone();
            let notified = changes.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let from = (seen.newest - LOOK_BACK).max(0);
            let events = match state
                .store
                .events_of_type(SubjectType::Incident, from, BATCH)
                .await
            {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "live incident list read failed");
                    Vec::new()
                }
            };
            let full = events.len() == BATCH as usize;
            let changed = seen.take(&events);
            if !changed.is_empty() {
                let data = serde_json::json!({"seq": seen.newest, "incidents": changed});
                let event = SseEvent::default()
                    .event("change")
                    .id(seen.newest.to_string())
                    .data(data.to_string());
                return Some((Ok(event), (state, seen)));
            }
            if !full {
                let _ = tokio::time::timeout(POLL, notified).await;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_domain::event::{Actor, EventKind};

    fn event(seq: i64, subject: &str) -> klaxon_store::Event {
        klaxon_store::Event {
            seq,
            subject_type: SubjectType::Incident,
            subject_id: subject.into(),
            at: jiff::Timestamp::UNIX_EPOCH,
            actor: Actor::System,
            kind: EventKind::SystemNote,
            data: serde_json::Value::Null,
            pinned: false,
        }
    }

    #[test]
    fn reports_each_event_once_including_late_ones() {
        let mut seen = Seen {
            floor: 10,
            newest: 10,
            recent: BTreeSet::new(),
        };
        // Events on the page already are not news.
        assert!(seen.take(&[event(9, "a"), event(10, "b")]).is_empty());
        assert_eq!(seen.take(&[event(12, "a"), event(13, "a")]), vec!["a"]);
        assert!(seen.take(&[event(12, "a"), event(13, "a")]).is_empty());
        // 11 committed after 12 and 13 were read: still reported.
        assert_eq!(
            seen.take(&[event(11, "c"), event(12, "a"), event(13, "a")]),
            vec!["c"]
        );
        assert_eq!(seen.newest, 13);
    }
}

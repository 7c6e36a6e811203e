//! Live timelines: a Server-Sent Events stream of an incident's new entries.
use super::describe::{Words, update_deliveries};
use super::web_page::{Entry, entry};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{WebSession, event_stream, not_found_page};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::response::sse::Event as SseEvent;
use axum::routing::get;
use futures_util::stream::{self, Stream};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::IncidentId;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/incidents/{id}/live", get(live))
}

// --- live updates -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "timeline_entry.html")]
struct EntryFragment<'a> {
    e: &'a Entry,
    can_respond: bool,
}

#[derive(Deserialize)]
struct LiveQuery {
    after: Option<i64>,
}

/// How often a live timeline looks for changes made elsewhere (the engine, other instances);
/// changes made by this instance wake it at once.
const LIVE_POLL: Duration = Duration::from_secs(2);
/// How long one live stream lasts before the browser has to reconnect (and sign in again).
const LIVE_MAX: Duration = Duration::from_secs(300);

/// New timeline entries as they are written: each an `entry` event carrying the entry's HTML
/// and its kind, so the page can append it and refresh what the change touched.
async fn live(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Query(q): Query<LiveQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let Ok(id) = raw.parse::<IncidentId>() else {
        return Ok(not_found_page());
    };
    if let Err(e) = state.store.incident(id).await {
        return if e.is_not_found() {
            Ok(not_found_page())
        } else {
            Err(e.into())
        };
    }
    let zone = s.user.time_zone.clone();
    let can_respond = s.user.role.allows(Role::Responder);
    // A browser reconnecting says where it was (the last entry's id).
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let after = resumed.max(q.after).unwrap_or(0);
    let stream = live_stream(state.clone(), id, after, zone, can_respond);
    Ok(event_stream(&state, stream))
}

fn live_stream(
    state: AppState,
    id: IncidentId,
    after: i64,
    zone: Option<String>,
    can_respond: bool,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let subject = id.to_string();
    // The stream ends after a while and the browser reconnects, signing in again with its
    // cookie: a session that ended (logout, expiry, a changed role) stops being served.
    let deadline = tokio::time::Instant::now() + LIVE_MAX;
    stream::unfold(
        (state, after, Vec::<SseEvent>::new()),
        move |(state, mut after, mut queue)| {
            let subject = subject.clone();
            let zone = zone.clone();
            async move {
                loop {
                    if let Some(next) = queue.pop() {
                        return Some((Ok(next), (state, after, queue)));
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    let changes = state.incident_changes.clone();
                    let notified = changes.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    let events = match state
                        .store
                        .events(
                            klaxon_domain::event::SubjectType::Incident,
                            &subject,
                            Some(after),
                            200,
                        )
                        .await
                    {
                        Ok(events) => events,
                        Err(e) => {
                            tracing::warn!(error = %e, "live timeline read failed");
                            Vec::new()
                        }
                    };
                    if events.is_empty() {
                        let _ = tokio::time::timeout(LIVE_POLL, notified).await;
                        continue;
                    }
                    after = events.last().map_or(after, |e| e.seq);
                    let names = super::timeline::names(&state, &events, &[]).await;
                    // Deliveries read differently for an update than for a page: look up
                    // which were updates only when the batch has any.
                    let updates = if events
                        .iter()
                        .any(|e| e.kind.as_str().starts_with("notification."))
                    {
                        update_deliveries(&state, id).await.unwrap_or_default()
                    } else {
                        Default::default()
                    };
                    let reader = Reader::new(zone.as_deref(), state.clock.now());
                    let words = Words {
                        names: &names,
                        rules: &state.incident_rules,
                        reader: Some(&reader),
                        updates: &updates,
                    };
                    // Popped from the back: push newest first.
                    for e in events.iter().rev() {
                        let en = entry(e, &words, &reader);
                        let fragment = EntryFragment {
                            e: &en,
                            can_respond,
                        };
                        let html = fragment.render().unwrap_or_default();
                        let data = serde_json::json!({"seq": e.seq, "kind": en.kind, "html": html});
                        queue.push(
                            SseEvent::default()
                                .event("entry")
                                .id(e.seq.to_string())
                                .data(data.to_string()),
                        );
                    }
                }
            }
        },
    )
}

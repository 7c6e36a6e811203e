//! The incident list: filters, the open-by-severity cards, acknowledging or resolving several
//! incidents at once, and the open incidents worst-first for the dashboard. The page updates
//! itself when incidents change (`live_list.rs` and `assets/list.js`).
use std::collections::{BTreeMap, HashSet};

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::incident::{IncidentStatus, Severity};
use klaxon_domain::page::Limit;
use klaxon_store::{Incident, IncidentFilter};

use super::api::Who;
use super::live_list;
use super::web::blank;
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::{Reader, When};
use crate::shared::web::{FormErrors, Nav, PageResult, WebSession, forbidden, html};
use crate::shared::web::{next_cursor, page_cursor};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(incidents_page))
        .route("/incidents/bulk", post(bulk))
        .merge(live_list::router())
}

// --- the list -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    nav: Option<Nav>,
    rows: Vec<IncidentRow>,
    next_cursor: Option<String>,
    can_declare: bool,
    /// Responders get the checkboxes and the bulk buttons.
    can_respond: bool,
    csrf: String,
    /// Open incidents per severity (`untriaged` for none), for the cards at the top.
    open_by_severity: Vec<(String, usize)>,
    q: ListQuery,
    /// The query string of this view without the cursor, for "older" links, the live refresh
    /// and the bulk form's way back.
    query: String,
    services: Vec<(String, String)>,
    teams: Vec<(String, String)>,
    severities: Vec<(&'static str, bool)>,
    /// A refused filter, beside its field.
    errors: FormErrors,
    /// The learning counts: incidents learned from and not (docs/learning.md).
    learned: klaxon_store::LearningCounts,
    /// A refused bulk action (nothing selected), beside the selection.
    bulk_errors: FormErrors,
    /// What a bulk action did, one line per incident.
    results: Vec<BulkResult>,
    /// The newest event when the page was read: the live stream reports changes after it.
    live_after: i64,
    /// This view's address, which the page fetches again to redraw itself.
    live_url: String,
}

struct IncidentRow {
    i: Incident,
    opened: When,
}

/// The list's filters, as the form sends them.
#[derive(Debug, Default)]
struct ListQuery {
    /// `open` (the default), `all`, or one status.
    status: String,
    severity: Vec<String>,
    service_id: String,
    from: String,
    to: String,
    q: String,
    mine: String,
    /// An escalation policy: the team's incidents.
    team: String,
    /// `true`, `false`, or empty for either.
    learned_from: String,
    cursor: Option<String>,
}

/// Parses a form query where a key may repeat (`severity`), into [`ListQuery`].
fn parse_query(raw: &str) -> Result<ListQuery, String> {
    let mut q = ListQuery::default();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "status" => q.status = v,
            "severity" => q.severity.push(v),
            "service_id" => q.service_id = v,
            "from" => q.from = v,
            "to" => q.to = v,
            "q" => q.q = v,
            "mine" => q.mine = v,
            "team" => q.team = v,
            "learned_from" => q.learned_from = v,
            "cursor" => q.cursor = Some(v),
            other => return Err(format!("unknown filter {other:?}")),
        }
    }
    Ok(q)
}

/// A day (`YYYY-MM-DD`, in the reader's zone: from its first instant; `end`: to the next
/// day's) or a full time, as the API's RFC 3339 bound.
fn day_or_time(
    reader: &Reader,
    field: &str,
    v: &str,
    end: bool,
) -> Result<Option<String>, ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let out_of_range = || ApiError::invalid(field, "is out of range");
    if let Ok(d) = v.parse::<jiff::civil::Date>() {
        let d = if end {
            d.tomorrow().map_err(|_| out_of_range())?
        } else {
            d
        };
        let start = d.to_zoned(reader.tz.clone()).map_err(|_| out_of_range())?;
        return Ok(Some(start.timestamp().to_string()));
    }
    v.parse::<Timestamp>()
        .map(|t| Some(t.to_string()))
        .map_err(|_| ApiError::invalid(field, "is not a date (YYYY-MM-DD) or a time"))
}

async fn incidents_page(
    State(state): State<AppState>,
    s: WebSession,
    RawQuery(raw): RawQuery,
) -> PageResult {
    render_list(&state, &s, &raw.unwrap_or_default(), Bulk::default()).await
}

/// What a bulk action leaves for the page it re-renders.
#[derive(Default)]
struct Bulk {
    errors: FormErrors,
    results: Vec<BulkResult>,
    status: Option<StatusCode>,
}

/// The list for the query string `raw` (repeated keys such as `severity=SEV1&severity=SEV2`
/// need a list-aware parser).
async fn render_list(state: &AppState, s: &WebSession, raw: &str, bulk: Bulk) -> PageResult {
    let q = match parse_query(raw) {
        Ok(q) => q,
        Err(e) => {
            return Ok(crate::shared::web::message(
                StatusCode::BAD_REQUEST,
                "Bad filter",
                &e,
            ));
        }
    };
    let reader = s.reader();
    // Read before the incidents: a change made meanwhile is then reported by the live stream.
    let live_after = state.store.last_event_seq().await?;
    let filtered = list_params(&reader, &q).and_then(|p| p.filter(s.user.id));
    let (rows, next, errors) = match filtered {
        Ok(filter) => {
            let page = state
                .store
                .list_incidents(
                    &filter,
                    page_cursor(q.cursor.as_deref()),
                    Limit::DEFAULT.get(),
                )
                .await?;
            (page.items, next_cursor(page.next), FormErrors::default())
        }
        Err(e) => (Vec::new(), None, FormErrors::from_error(e)?),
    };
    // The cards count every open incident, whatever the filter.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in all_open(state).await? {
        *counts.entry(severity_name(i.severity)).or_default() += 1;
    }
    let query = raw
        .split('&')
        .filter(|kv| !kv.starts_with("cursor=") && !kv.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    let services = crate::shared::lists::all_services(state)
        .await?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect();
    let severities = Severity::ALL
        .iter()
        .map(|sev| (sev.as_str(), q.severity.iter().any(|x| x == sev.as_str())))
        .collect();
    let teams = super::web::escalation_policies(state).await?;
    let learned = state.store.learning_counts(state.clock.now()).await?;
    let status = bulk.status.unwrap_or(if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    });
    Ok(html(
        status,
        &IncidentsPage {
            nav: Some(Nav::new(s, "/incidents")),
            rows: rows
                .into_iter()
                .map(|i| IncidentRow {
                    opened: reader.when(i.created_at),
                    i,
                })
                .collect(),
            next_cursor: next,
            can_declare: s.user.role.allows(Role::Responder),
            can_respond: s.user.role.allows(Role::Responder),
            csrf: s.session.csrf_token.clone(),
            open_by_severity: Severity::ALL
                .iter()
                .map(|s| s.to_string())
                .chain(std::iter::once("untriaged".to_owned()))
                .map(|k| {
                    let n = counts.get(&k).copied().unwrap_or(0);
                    (k, n)
                })
                .collect(),
            q,
            query,
            services,
            teams,
            severities,
            errors,
            learned,
            bulk_errors: bulk.errors,
            results: bulk.results,
            live_after,
            live_url: if raw.is_empty() {
                "/incidents".to_owned()
            } else {
                format!("/incidents?{raw}")
            },
        },
    ))
}

/// The API's parameters for the form's filters: the same checks, the same answers.
fn list_params(reader: &Reader, q: &ListQuery) -> Result<super::list::IncidentParams, ApiError> {
    let (status, open) = match q.status.as_str() {
        "" | "open" => (None, true),
        "all" => (None, false),
        other => (Some(other.to_owned()), false),
    };
    Ok(super::list::IncidentParams {
        service_id: blank(&q.service_id),
        status,
        open: Some(open),
        severity: Some(q.severity.join(",")),
        from: day_or_time(reader, "from", &q.from, false)?,
        to: day_or_time(reader, "to", &q.to, true)?,
        q: blank(&q.q),
        mine: Some(!q.mine.is_empty()),
        team: blank(&q.team),
        learned_from: match q.learned_from.as_str() {
            "" => None,
            "true" => Some(true),
            "false" => Some(false),
            _ => return Err(ApiError::invalid("learned_from", "must be true or false")),
        },
        limit: None,
        cursor: None,
    })
}

fn severity_name(s: Option<Severity>) -> String {
    s.map_or_else(|| "untriaged".to_owned(), |s| s.to_string())
}

/// Every incident matching `filter`, through all its pages.
async fn all_matching(
    state: &AppState,
    filter: &IncidentFilter,
) -> Result<Vec<Incident>, ApiError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_incidents(filter, after, Limit::MAX)
            .await?;
        all.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(all),
        }
    }
}

async fn all_open(state: &AppState) -> Result<Vec<Incident>, ApiError> {
    let open = IncidentFilter {
        open: true,
        ..Default::default()
    };
    all_matching(state, &open).await
}

// --- acting on several at once ------------------------------------------------------------------

/// One line of a bulk action's report.
struct BulkResult {
    /// The incident's number, for the report's order (0: gone).
    number: i64,
    ok: bool,
    text: String,
}

/// At most this many incidents in one bulk action: a page of the list holds fewer.
const BULK_MAX: usize = 500;

/// Acknowledges or resolves the incidents ticked on the list, each through the same change as
/// its own button (`move_from_with`: the same rules, events and paging), and reports what
/// happened to each.
async fn bulk(State(state): State<AppState>, s: WebSession, body: String) -> PageResult {
    let mut csrf = String::new();
    let mut action = String::new();
    let mut back = String::new();
    let mut picked = Vec::new();
    for (k, v) in form_urlencoded::parse(body.as_bytes()) {
        match k.as_ref() {
            "csrf" => csrf = v.into_owned(),
            "action" => action = v.into_owned(),
            "back" => back = v.into_owned(),
            "incident" => picked.push(v.into_owned()),
            _ => {}
        }
    }
    if let Err(r) = s.check_csrf(&csrf) {
        return Ok(r);
    }
    if !s.user.role.allows(Role::Responder) {
        return Ok(forbidden("acknowledge or resolve incidents"));
    }
    // The way back is a query string of this list's filters; anything else is dropped.
    if parse_query(&back).is_err() {
        back.clear();
    }
    let refuse = |errors: FormErrors| Bulk {
        errors,
        results: Vec::new(),
        status: Some(StatusCode::BAD_REQUEST),
    };
    let (to, only_from, done): (_, &'static [IncidentStatus], _) = match action.as_str() {
        "acknowledge" => (
            IncidentStatus::Acknowledged,
            &[IncidentStatus::Triggered],
            "acknowledged",
        ),
        "resolve" => (
            IncidentStatus::Resolved,
            &[
                IncidentStatus::Triggered,
                IncidentStatus::Acknowledged,
                IncidentStatus::Mitigated,
            ],
            "resolved",
        ),
        _ => {
            let e = FormErrors::field("action", "choose Acknowledge selected or Resolve selected");
            return render_list(&state, &s, &back, refuse(e)).await;
        }
    };
    if picked.len() > BULK_MAX {
        let e = FormErrors::field(
            "incident",
            &format!("select at most {BULK_MAX} incidents at once"),
        );
        return render_list(&state, &s, &back, refuse(e)).await;
    }
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for raw in &picked {
        match raw.parse::<IncidentId>() {
            Ok(id) if seen.insert(id) => ids.push(id),
            Ok(_) => {}
            Err(_) => {
                let e = FormErrors::field("incident", "one of the selected is not an incident");
                return render_list(&state, &s, &back, refuse(e)).await;
            }
        }
    }
    if ids.is_empty() {
        let e = FormErrors::field("incident", "select at least one incident first");
        return render_list(&state, &s, &back, refuse(e)).await;
    }
    let mut results = Vec::new();
    for id in ids {
        results.push(move_one(&state, &s, id, only_from, to, done).await?);
    }
    results.sort_by_key(|r| r.number);
    let bulk = Bulk {
        results,
        ..Default::default()
    };
    render_list(&state, &s, &back, bulk).await
}

/// Moves one incident of a bulk action and says how it went, in words.
async fn move_one(
    state: &AppState,
    s: &WebSession,
    id: IncidentId,
    only_from: &'static [IncidentStatus],
    to: IncidentStatus,
    done: &str,
) -> Result<BulkResult, ApiError> {
    let before = match state.store.incident(id).await {
        Ok(i) => i,
        Err(e) if e.is_not_found() => {
            return Ok(BulkResult {
                number: 0,
                ok: false,
                text: "An incident you selected no longer exists.".into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let name = format!("#{} {}", before.number, before.title);
    match super::api::move_from_with(state, Who::user(&s.user), id, only_from, to, None).await {
        Ok(_) => Ok(BulkResult {
            number: before.number,
            ok: true,
            text: format!("{name}: {done}."),
        }),
        Err(ApiError::Conflict { field: Some(f), .. }) if f == "status" => {
            // Read again: it may have moved since the list was drawn.
            let now = state.store.incident(id).await?;
            Ok(BulkResult {
                number: before.number,
                ok: false,
                text: format!("{name}: was already {}.", now.status),
            })
        }
        Err(e) => {
            let reason = FormErrors::from_error(e)?;
            let reason = reason.others(&[]).join(" ");
            Ok(BulkResult {
                number: before.number,
                ok: false,
                text: format!("{name}: not {done}: {reason}"),
            })
        }
    }
}

// --- open incidents, worst first, for the dashboard ---------------------------------------------

/// An open incident on the dashboard.
pub struct OpenRow {
    pub id: String,
    pub number: i64,
    pub title: String,
    /// `SEV1`…`SEV4`, or `untriaged`.
    pub severity: String,
    pub status: String,
    pub opened: When,
}

/// The open incidents, split for the person reading: the ones that involve them, then the rest.
pub struct OpenIncidents {
    /// Incidents `me` reported, holds a role in, or was paged for.
    pub mine: Vec<OpenRow>,
    pub others: Vec<OpenRow>,
}

/// The order that needs people first: worst severity (untriaged after SEV4), then triggered
/// before acknowledged before mitigated, then oldest.
fn worst_first(i: &Incident) -> (usize, u8, Timestamp, i64) {
    rank(i.severity, i.status, i.created_at, i.number)
}

fn rank(
    severity: Option<Severity>,
    status: IncidentStatus,
    opened: Timestamp,
    number: i64,
) -> (usize, u8, Timestamp, i64) {
    let severity = severity
        .and_then(|s| Severity::ALL.iter().position(|x| *x == s))
        .unwrap_or(Severity::ALL.len());
    let status = match status {
        IncidentStatus::Triggered => 0,
        IncidentStatus::Acknowledged => 1,
        IncidentStatus::Mitigated => 2,
        _ => 3,
    };
    (severity, status, opened, number)
}

/// Every open incident, worst first, those involving `me` apart: what needs people now, and
/// for how long it has.
pub async fn open_rows(
    state: &AppState,
    reader: &Reader,
    me: UserId,
) -> Result<OpenIncidents, ApiError> {
    let mut all = all_open(state).await?;
    let mine_filter = IncidentFilter {
        open: true,
        involving: Some(me),
        ..Default::default()
    };
    let mine: HashSet<IncidentId> = all_matching(state, &mine_filter)
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    all.sort_by_key(worst_first);
    let mut out = OpenIncidents {
        mine: Vec::new(),
        others: Vec::new(),
    };
    for i in all {
        let list = if mine.contains(&i.id) {
            &mut out.mine
        } else {
            &mut out.others
        };
        list.push(OpenRow {
            id: i.id.to_string(),
            number: i.number,
            severity: severity_name(i.severity),
            status: i.status.to_string(),
            opened: reader.when(i.created_at),
            title: i.title,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_severity_then_triggered_first_then_oldest() {
        use IncidentStatus::*;
        let at = |t: &str| format!("2026-11-21T{t}:00Z").parse::<Timestamp>().unwrap();
        let mut v = [
            (1, Some(Severity::Sev3), Triggered, at("08:00")),
            (2, None, Triggered, at("07:00")),
            (3, Some(Severity::Sev2), Mitigated, at("06:00")),
            (4, Some(Severity::Sev2), Triggered, at("09:00")),
            (5, Some(Severity::Sev2), Acknowledged, at("05:00")),
            (6, Some(Severity::Sev1), Acknowledged, at("09:30")),
            (7, Some(Severity::Sev2), Triggered, at("08:30")),
        ];
        v.sort_by_key(|&(n, sev, status, opened)| rank(sev, status, opened, n));
        let order: Vec<i64> = v.iter().map(|i| i.0).collect();
        assert_eq!(order, vec![6, 7, 4, 5, 3, 1, 2]);
    }

    #[test]
    fn days_are_read_in_the_readers_zone() {
        let r = Reader::new(
            Some("Europe/Berlin"),
            "2026-11-21T09:00:00Z".parse().unwrap(),
        );
        assert_eq!(
            day_or_time(&r, "from", "2026-11-20", false).unwrap(),
            Some("2026-11-19T23:00:00Z".into())
        );
        assert_eq!(
            day_or_time(&r, "to", "2026-11-20", true).unwrap(),
            Some("2026-11-20T23:00:00Z".into())
        );
        assert_eq!(day_or_time(&r, "from", " ", false).unwrap(), None);
        let e = day_or_time(&r, "from", "yesterday", false).unwrap_err();
        assert!(e.to_string().contains("not a date"), "{e}");
    }
}

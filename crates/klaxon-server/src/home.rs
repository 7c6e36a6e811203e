//! The dashboard, for the person on call: the open incidents that involve them, then the others,
//! worst first; who is on call now in their schedules and when their own next shift starts.
//! Figures about the system come last, for admins. The page redraws itself when incidents
//! change (`incidents::live_list`, `assets/list.js`).
use std::collections::HashSet;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::UserId;
use klaxon_domain::page::Limit;
use klaxon_domain::schedule::Schedule;

use crate::incidents::web_list::{OpenIncidents, open_rows};
use crate::oncall::schedules::api::{current_shift, domain};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::{Reader, When};
use crate::shared::web::{Nav, WebSession, html};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Option<Nav>,
    open: OpenIncidents,
    on_call: OnCall,
    /// Admins only.
    system: Option<SystemFigures>,
    /// Who cannot be reached: the reader, or a level of a policy some service pages.
    reach: Vec<crate::oncall::web::ReachWarning>,
    /// The newest event when the page was read: the live stream reports changes after it.
    live_after: i64,
}

struct SystemFigures {
    users: u64,
    database: &'static str,
    jobs: u64,
}

/// Who is on call now in one schedule.
struct OnCallRow {
    id: String,
    schedule: String,
    /// `None`: nobody.
    who: Option<String>,
    /// The reader is the one on call.
    me: bool,
    until: Option<When>,
}

/// The reader's own next (or current) shift.
struct MyShift {
    schedule_id: String,
    schedule: String,
    /// On call now: `start` is when the shift began.
    now: bool,
    start: When,
    end: When,
}

struct OnCall {
    /// Schedules the reader is in (a layer or an override), by name.
    mine: Vec<OnCallRow>,
    /// The others, when there are few enough to show.
    others: Vec<OnCallRow>,
    /// Schedules left out of `others` because there are many.
    not_shown: usize,
    next_shift: Option<MyShift>,
}

/// Other schedules are listed below the reader's own up to this many schedules in all.
const FEW_SCHEDULES: usize = 10;
/// How far ahead the reader's next shift is looked for.
const NEXT_SHIFT_DAYS: i64 = 90;
/// Overrides are read this far either side of now: as far as a current shift's bounds are
/// looked for (`oncall::schedules::api::current_shift`).
const OVERRIDE_DAYS: i64 = 183;

async fn dashboard(State(state): State<AppState>, s: WebSession) -> Result<Response, ApiError> {
    let reader = s.reader();
    // Read before the incidents: a change made meanwhile is then reported by the live stream.
    let live_after = state.store.last_event_seq().await?;
    let open = open_rows(&state, &reader, s.user.id).await?;
    let on_call = on_call(&state, &reader, s.user.id).await?;
    let system = if s.user.role == Role::Admin {
        Some(SystemFigures {
            users: state.store.count_users().await?,
            database: state.store.backend(),
            jobs: state.store.count_live_jobs().await?,
        })
    } else {
        None
    };
    let reach = crate::oncall::web::unreachable_for_dashboard(&state, &s.user).await?;
    let page = DashboardPage {
        reach,
        nav: Some(Nav::new(&s, "/")),
        open,
        on_call,
        system,
        live_after,
    };
    Ok(html(StatusCode::OK, &page))
}

/// Whether `me` takes turns in `s` or stands in for someone in it.
fn is_member(s: &Schedule, me: UserId) -> bool {
    s.layers().iter().any(|l| l.users.contains(&me)) || s.overrides().iter().any(|o| o.user == me)
}

/// `me`'s shift in `s` that is on now or starts first within [`NEXT_SHIFT_DAYS`].
fn next_shift_in(
    s: &Schedule,
    me: UserId,
    now: Timestamp,
) -> Option<klaxon_domain::schedule::Shift> {
    if let Some(current) = current_shift(s, now).filter(|sh| sh.user == me) {
        return Some(current);
    }
    let to = now
        .saturating_add(SignedDuration::from_hours(NEXT_SHIFT_DAYS * 24))
        .unwrap_or(Timestamp::MAX);
    s.shifts(now, to).into_iter().find(|sh| sh.user == me)
}

async fn on_call(state: &AppState, reader: &Reader, me: UserId) -> Result<OnCall, ApiError> {
    let now = reader.now;
    let span = SignedDuration::from_hours(OVERRIDE_DAYS * 24);
    let from = now.saturating_sub(span).unwrap_or(Timestamp::MIN);
    let to = now.saturating_add(span).unwrap_or(Timestamp::MAX);
    let mut stored = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_schedules_with_overrides(after, Limit::MAX, from, to)
            .await?;
        stored.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    stored.sort_by(|a, b| a.schedule.name.cmp(&b.schedule.name));
    let total = stored.len();
    let mut rows = Vec::new();
    let mut next_shift: Option<(Timestamp, MyShift)> = None;
    for st in &stored {
        let schedule = domain(st)?;
        let member = is_member(&schedule, me);
        if !member && total > FEW_SCHEDULES {
            continue;
        }
        let current = current_shift(&schedule, now);
        if member && let Some(sh) = next_shift_in(&schedule, me, now) {
            let sooner = next_shift
                .as_ref()
                .is_none_or(|(start, _)| sh.start < *start);
            if sooner {
                let mine = MyShift {
                    schedule_id: st.schedule.id.to_string(),
                    schedule: st.schedule.name.clone(),
                    now: sh.start <= now,
                    start: reader.when(sh.start),
                    end: reader.when(sh.end),
                };
                next_shift = Some((sh.start, mine));
            }
        }
        rows.push((member, current, st));
    }
    let users: Vec<UserId> = rows
        .iter()
        .filter_map(|(_, c, _)| c.map(|sh| sh.user))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let names = crate::shared::lists::user_names_or_ids(state, users).await?;
    let mut out = OnCall {
        mine: Vec::new(),
        others: Vec::new(),
        not_shown: 0,
        next_shift: next_shift.map(|(_, s)| s),
    };
    for (member, current, st) in rows {
        let row = OnCallRow {
            id: st.schedule.id.to_string(),
            schedule: st.schedule.name.clone(),
            who: current.and_then(|sh| names.get(&sh.user).cloned()),
            me: current.is_some_and(|sh| sh.user == me),
            until: current.map(|sh| reader.when(sh.end)),
        };
        if member {
            out.mine.push(row);
        } else {
            out.others.push(row);
        }
    }
    if total > FEW_SCHEDULES {
        out.not_shown = total - out.mine.len();
    }
    Ok(out)
}

//! The dashboard: what is on fire now, then the state of the system.
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::Nav;
use crate::shared::web::WebSession;
use crate::shared::web::html;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use klaxon_domain::event::SubjectType;

// --- pages -------------------------------------------------------------------------------------

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Option<Nav>,
    user_name: String,
    user_email: String,
    user_count: u64,
    database: &'static str,
    pending_jobs: u64,
    events: Vec<(String, String)>,
    on_call: Vec<crate::oncall::schedules::web::NowRow>,
    /// Open incidents, worst and oldest first: (id, "#n title", severity, status, age).
    open_incidents: Vec<crate::incidents::web::OpenRow>,
}

async fn dashboard(State(state): State<AppState>, s: WebSession) -> Result<Response, ApiError> {
    let user_count = state.store.count_users().await?;
    let pending_jobs = state.store.count_live_jobs().await?;
    let mut events = state
        .store
        .events(SubjectType::User, &s.user.id.to_string(), None, 500)
        .await?;
    events.reverse();
    events.truncate(10);
    let on_call = crate::oncall::schedules::web::on_call_now(&state).await?;
    let open_incidents = crate::incidents::web::open_rows(&state).await?;
    let page = DashboardPage {
        open_incidents,
        on_call,
        nav: Some(Nav::new(&s, "/")),
        user_name: s.user.name.clone(),
        user_email: s.user.email.clone(),
        user_count,
        database: state.store.backend(),
        pending_jobs,
        events: events
            .into_iter()
            .map(|e| {
                (
                    e.at.strftime("%Y-%m-%d %H:%M").to_string(),
                    e.kind.as_str().to_owned(),
                )
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, &page))
}

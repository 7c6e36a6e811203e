//! `/runners` (admins): the runners with their labels, when each was last seen and the runbook
//! versions it may run; registering one (its token shown once), removing one, and enabling or
//! disabling a runbook version for it.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::ids::{RunbookId, RunnerId};
use serde::Deserialize;

use super::runbooks_web::{author, refuse};
use super::runners;
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{FormErrors, Nav, PageResult, WebSession, forbidden, html};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/runners", get(page).post(register))
        .route("/runners/{id}/delete", post(delete))
        .route("/runners/{id}/enable", post(enable))
        .route("/runners/{id}/disable/{runbook}/{version}", post(disable))
}

#[derive(Default, Deserialize)]
pub(crate) struct RunnerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// One `key=value` a line.
    #[serde(default)]
    labels: String,
    #[serde(default)]
    runbook: String,
    #[serde(default)]
    version: String,
}

struct GrantRow {
    runbook_id: String,
    runbook: String,
    version: i32,
    digest: String,
}

struct Row {
    id: String,
    name: String,
    labels: String,
    seen: String,
    grants: Vec<GrantRow>,
}

#[derive(Template)]
#[template(path = "runners.html")]
struct RunnersPage {
    nav: Option<Nav>,
    csrf: String,
    rows: Vec<Row>,
    runbooks: Vec<(String, String)>,
    form: RunnerForm,
    /// Just registered: its name and token, shown this once.
    token: Option<(String, String)>,
    errors: FormErrors,
    /// Which runner's enable form the errors belong to.
    errors_for: String,
}

struct Shown {
    form: RunnerForm,
    token: Option<(String, String)>,
    errors: FormErrors,
    errors_for: String,
}

async fn render(state: &AppState, s: &WebSession, status: StatusCode, shown: Shown) -> PageResult {
    let reader = s.reader();
    let rows = runners::with_grants(state)
        .await?
        .into_iter()
        .map(|(r, grants)| Row {
            id: r.id.to_string(),
            labels: r
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            seen: r
                .last_seen_at
                .map_or_else(|| "never".to_owned(), |t| reader.when(t).html()),
            name: r.name,
            grants: grants
                .into_iter()
                .map(|g| GrantRow {
                    runbook_id: g.runbook_id.to_string(),
                    runbook: g.runbook_name,
                    version: g.version,
                    digest: g.digest.chars().take(12).collect(),
                })
                .collect(),
        })
        .collect();
    let mut runbooks: Vec<(String, String)> = state
        .store
        .list_runbooks()
        .await?
        .into_iter()
        .filter(|r| r.has_commands)
        .map(|r| {
            (
                r.id.to_string(),
                format!("{} (latest version {})", r.name, r.version),
            )
        })
        .collect();
    runbooks.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(html(
        status,
        &RunnersPage {
            nav: Some(Nav::new(s, "/runbooks")),
            csrf: s.session.csrf_token.clone(),
            rows,
            runbooks,
            form: shown.form,
            token: shown.token,
            errors: shown.errors,
            errors_for: shown.errors_for,
        },
    ))
}

fn blank() -> Shown {
    Shown {
        form: RunnerForm::default(),
        token: None,
        errors: FormErrors::default(),
        errors_for: String::new(),
    }
}

async fn page(State(state): State<AppState>, s: WebSession) -> PageResult {
    if s.user.role < Role::Admin {
        return Ok(forbidden("manage runners"));
    }
    render(&state, &s, StatusCode::OK, blank()).await
}

async fn register(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<RunnerForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin, "manage runners") {
        return Ok(r);
    }
    let labels: Vec<String> = f
        .labels
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    match runners::register(&state, &author(&s), &f.name, &labels).await {
        // The token is shown on the answer itself, once: a redirect would lose it.
        Ok(r) => {
            let shown = Shown {
                token: Some((r.runner.name, r.token)),
                ..blank()
            };
            render(&state, &s, StatusCode::CREATED, shown).await
        }
        Err(e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. })) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            let shown = Shown {
                form: f,
                errors,
                ..blank()
            };
            render(&state, &s, status, shown).await
        }
        Err(e) => Err(e),
    }
}

fn runner_id(raw: &str) -> Result<RunnerId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("runner"))
}

async fn delete(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<RunnerForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin, "manage runners") {
        return Ok(r);
    }
    match runners::delete(&state, &author(&s), runner_id(&id)?).await {
        Ok(()) | Err(ApiError::NotFound(_)) => Ok(Redirect::to("/runners").into_response()),
        Err(e) => Err(e),
    }
}

async fn enable(
    State(state): State<AppState>,
    s: WebSession,
    Path(id): Path<String>,
    Form(f): Form<RunnerForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin, "manage runners") {
        return Ok(r);
    }
    let runner = runner_id(&id)?;
    let version = match f.version.trim() {
        "" => Ok(None),
        v => v.parse::<i32>().map(Some).map_err(|_| {
            ApiError::invalid(
                "version",
                "a version is a whole number, or empty for the latest",
            )
        }),
    };
    let runbook: Result<RunbookId, ApiError> = f
        .runbook
        .parse()
        .map_err(|_| ApiError::invalid("runbook", "choose a runbook"));
    let done = match (runbook, version) {
        (Ok(rb), Ok(v)) => runners::grant(&state, &author(&s), runner, rb, v)
            .await
            .map(|_| ()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match done {
        Ok(()) => Ok(Redirect::to("/runners").into_response()),
        Err(
            e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. } | ApiError::NotFound(_)),
        ) => {
            let status = e.status();
            let errors = match e {
                ApiError::NotFound(_) => {
                    FormErrors::field("runbook", "that runbook or version is gone")
                }
                e => FormErrors::from_error(e)?,
            };
            let shown = Shown {
                form: f,
                errors,
                errors_for: id,
                ..blank()
            };
            render(&state, &s, status, shown).await
        }
        Err(e) => Err(e),
    }
}

async fn disable(
    State(state): State<AppState>,
    s: WebSession,
    Path((id, runbook, version)): Path<(String, String, i32)>,
    Form(f): Form<RunnerForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, &f.csrf, Role::Admin, "manage runners") {
        return Ok(r);
    }
    let runbook: RunbookId = runbook
        .parse()
        .map_err(|_| ApiError::not_found("runbook"))?;
    runners::revoke(&state, &author(&s), runner_id(&id)?, runbook, version).await?;
    Ok(Redirect::to("/runners").into_response())
}

//! `/secrets` (admins): the secret store's names and dates, a form to set one (the value is
//! never shown again), and removing one.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use serde::Deserialize;

use super::secrets::{self, SecretOut};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{FormErrors, Nav, PageResult, WebSession, forbidden, html};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/secrets", get(page).post(set))
        .route("/secrets/{name}/delete", post(delete))
}

#[derive(Default, Deserialize)]
pub(crate) struct SecretForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

struct Row {
    name: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "secrets.html")]
struct SecretsPage {
    nav: Option<Nav>,
    csrf: String,
    rows: Vec<Row>,
    store_on: bool,
    name: String,
    errors: FormErrors,
}

async fn render(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    name: String,
    errors: FormErrors,
) -> PageResult {
    let reader = s.reader();
    let rows = secrets::list(state)
        .await?
        .into_iter()
        .map(|x: SecretOut| Row {
            updated: reader.when(x.updated_at).html(),
            name: x.name,
        })
        .collect();
    Ok(html(
        status,
        &SecretsPage {
            nav: Some(Nav::new(s, "/runbooks")),
            csrf: s.session.csrf_token.clone(),
            rows,
            store_on: state.settings.runbooks.seal_key().is_some(),
            name,
            errors,
        },
    ))
}

async fn page(State(state): State<AppState>, s: WebSession) -> PageResult {
    if s.user.role < Role::Admin {
        return Ok(forbidden("manage secrets"));
    }
    render(
        &state,
        &s,
        StatusCode::OK,
        String::new(),
        FormErrors::default(),
    )
    .await
}

async fn set(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<SecretForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    if s.user.role < Role::Admin {
        return Ok(forbidden("manage secrets"));
    }
    match secrets::set_with(&state, Actor::User(s.user.id), f.name.trim(), &f.value).await {
        Ok(()) => Ok(Redirect::to("/secrets").into_response()),
        Err(e @ (ApiError::BadRequest { .. } | ApiError::Conflict { .. })) => {
            let status = e.status();
            // The value is not sent back into the page: it is typed again.
            render(&state, &s, status, f.name, FormErrors::from_error(e)?).await
        }
        Err(e) => Err(e),
    }
}

async fn delete(
    State(state): State<AppState>,
    s: WebSession,
    Path(name): Path<String>,
    Form(f): Form<SecretForm>,
) -> PageResult {
    if let Err(r) = s.check_csrf(&f.csrf) {
        return Ok(r);
    }
    if s.user.role < Role::Admin {
        return Ok(forbidden("manage secrets"));
    }
    match secrets::delete_with(&state, Actor::User(s.user.id), &name).await {
        Ok(()) | Err(ApiError::NotFound(_)) => Ok(Redirect::to("/secrets").into_response()),
        Err(e) => Err(e),
    }
}

//! The webhooks page (admins): add one (its secret shown once), turn it off and on, delete it,
//! and see its latest deliveries. Forms call the same functions as the REST API.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::WebhookId;
use klaxon_store::{Webhook, WebhookDelivery};
use serde::Deserialize;

use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::FormErrors;
use crate::shared::web::{CsrfForm, PageResult, forbidden, not_found_page};
use crate::shared::web::{Nav, WebSession, html};
use crate::webhooks::api::{CreateWebhook, UpdateWebhook};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(webhooks_page).post(add_webhook))
        .route("/webhooks/{id}", get(webhook_page).post(edit_webhook))
        .route("/webhooks/{id}/enabled", post(set_enabled))
        .route("/webhooks/{id}/delete", post(delete_webhook))
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    nav: Option<Nav>,
    webhooks: Vec<Webhook>,
    /// Right after creating one: its name and secret, shown this once.
    created: Option<(String, String)>,
    form: AddForm,
    csrf: String,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    /// Kinds or prefixes, separated by commas or spaces.
    #[serde(default)]
    events: String,
}

/// The page to answer with when this is not an admin's form (bad CSRF token or role).
fn refuse(s: &WebSession, csrf: Option<&str>) -> Option<Response> {
    if let Some(c) = csrf
        && let Err(r) = s.check_csrf(c)
    {
        return Some(r);
    }
    (s.user.role != Role::Admin).then(|| forbidden("manage webhooks"))
}

async fn render(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    form: AddForm,
    created: Option<(String, String)>,
    errors: FormErrors,
) -> PageResult {
    Ok(html(
        status,
        &WebhooksPage {
            nav: Some(Nav::new(s, "/webhooks")),
            webhooks: state.store.list_webhooks().await?,
            created,
            form,
            csrf: s.session.csrf_token.clone(),
            errors,
        },
    ))
}

/// "incident.resolved, incident.role_" → the list the API takes.
fn event_list(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n'])
        .filter(|k| !k.trim().is_empty())
        .map(|k| k.trim().to_owned())
        .collect()
}

async fn webhooks_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    if let Some(r) = refuse(&s, None) {
        return Ok(r);
    }
    let blank = AddForm::default();
    render(
        &state,
        &s,
        StatusCode::OK,
        blank,
        None,
        FormErrors::default(),
    )
    .await
}

async fn add_webhook(
    State(state): State<AppState>,
    s: WebSession,
    Form(f): Form<AddForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, Some(&f.csrf)) {
        return Ok(r);
    }
    let body = CreateWebhook {
        name: f.name.clone(),
        url: f.url.clone(),
        events: event_list(&f.events),
        enabled: Some(true),
    };
    match super::api::create_with(&state, Actor::User(s.user.id), body).await {
        Ok(w) => {
            let created = Some((w.name, w.secret));
            let (blank, none) = (AddForm::default(), FormErrors::default());
            render(&state, &s, StatusCode::CREATED, blank, created, none).await
        }
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            render(&state, &s, status, f, None, errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    nav: Option<Nav>,
    webhook: Webhook,
    deliveries: Vec<WebhookDelivery>,
    csrf: String,
    /// The edit form: the saved values, or what was typed when refused.
    form: AddForm,
    errors: FormErrors,
    notice: Option<String>,
}

async fn render_webhook(
    state: &AppState,
    s: &WebSession,
    id: WebhookId,
    status: StatusCode,
    form: Option<AddForm>,
    errors: FormErrors,
    notice: Option<String>,
) -> PageResult {
    let webhook = match state.store.webhook(id).await {
        Ok(w) => w,
        Err(e) if e.is_not_found() => return Ok(not_found_page()),
        Err(e) => return Err(e.into()),
    };
    let deliveries = state.store.list_webhook_deliveries(id, None, 100).await?;
    let form = form.unwrap_or_else(|| AddForm {
        csrf: String::new(),
        name: webhook.name.clone(),
        url: webhook.url.clone(),
        events: webhook.events.join(", "),
    });
    Ok(html(
        status,
        &WebhookPage {
            nav: Some(Nav::new(s, "/webhooks")),
            webhook,
            deliveries,
            csrf: s.session.csrf_token.clone(),
            form,
            errors,
            notice,
        },
    ))
}

async fn webhook_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
) -> PageResult {
    if let Some(r) = refuse(&s, None) {
        return Ok(r);
    }
    let Ok(id) = raw.parse::<WebhookId>() else {
        return Ok(not_found_page());
    };
    render_webhook(
        &state,
        &s,
        id,
        StatusCode::OK,
        None,
        FormErrors::default(),
        None,
    )
    .await
}

async fn edit_webhook(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<AddForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, Some(&f.csrf)) {
        return Ok(r);
    }
    let Ok(id) = raw.parse::<WebhookId>() else {
        return Ok(not_found_page());
    };
    let body = UpdateWebhook {
        name: Some(f.name.clone()),
        url: Some(f.url.clone()),
        events: Some(event_list(&f.events)),
        ..Default::default()
    };
    match super::api::update_with(&state, Actor::User(s.user.id), id, body).await {
        Ok(_) => {
            let saved = Some("Saved.".to_owned());
            render_webhook(
                &state,
                &s,
                id,
                StatusCode::OK,
                None,
                FormErrors::default(),
                saved,
            )
            .await
        }
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => {
            let status = e.status();
            let errors = FormErrors::from_error(e)?;
            render_webhook(&state, &s, id, status, Some(f), errors, None).await
        }
    }
}

#[derive(Deserialize)]
struct EnabledForm {
    csrf: String,
    #[serde(default)]
    enabled: String,
}

async fn set_enabled(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<EnabledForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, Some(&f.csrf)) {
        return Ok(r);
    }
    let Ok(id) = raw.parse::<WebhookId>() else {
        return Ok(not_found_page());
    };
    let body = UpdateWebhook {
        enabled: Some(f.enabled == "true"),
        ..Default::default()
    };
    match super::api::update_with(&state, Actor::User(s.user.id), id, body).await {
        Ok(_) => Ok(Redirect::to(&format!("/webhooks/{id}")).into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}

async fn delete_webhook(
    State(state): State<AppState>,
    s: WebSession,
    Path(raw): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if let Some(r) = refuse(&s, Some(&f.csrf)) {
        return Ok(r);
    }
    let Ok(id) = raw.parse::<WebhookId>() else {
        return Ok(not_found_page());
    };
    match super::api::delete_with(&state, Actor::User(s.user.id), id).await {
        Ok(()) => Ok(Redirect::to("/webhooks").into_response()),
        Err(ApiError::NotFound(_)) => Ok(not_found_page()),
        Err(e) => Err(e),
    }
}

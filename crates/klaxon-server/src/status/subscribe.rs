//! The public side of subscribing: the sign-up form (`/status/{slug}/subscribe`), and the
//! pages a subscriber's signed links open: confirm, choose components, unsubscribe (also the
//! RFC 8058 one-click POST mail clients send). Confirming and unsubscribing are POSTs, so a
//! mail scanner that opens links changes nothing.
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use klaxon_domain::contact::{self, ContactKind};
use klaxon_domain::event::Actor;
use klaxon_domain::ids::SubscriberId;
use klaxon_store::{Component, StatusPage, Subscriber, SubscriberKind};
use serde::Deserialize;

use super::public::{admit, not_found, with_csp};
use super::snapshot::Snapshots;
use super::subscribers::{
    LINK_KEY, choose_with, chosen, confirm_with, subscribe_with, token_ok, unsubscribe_with,
};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/status/{slug}/subscribe", get(form).post(sign_up))
        .route("/status/{slug}/subscription/{id}", get(manage).post(save))
        .route(
            "/status/{slug}/subscription/{id}/confirm",
            get(confirm_form).post(confirm),
        )
        .route(
            "/status/{slug}/subscription/{id}/unsubscribe",
            get(unsubscribe_form).post(unsubscribe),
        )
}

/// The largest form body read.
const FORM_MAX: usize = 64 * 1024;

#[derive(Template)]
#[template(path = "status/subscribe.html")]
struct SubscribeHtml {
    name: String,
    root: String,
    email: String,
    error: Option<String>,
    /// (code, name, checked)
    components: Vec<(String, String, bool)>,
    done: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "status/subscription.html")]
struct SubscriptionHtml {
    name: String,
    root: String,
    /// The subscriber's own address (`{root}/subscription/{id}`).
    action: String,
    token: String,
    step: &'static str,
    message: Option<&'static str>,
    address: Option<String>,
    all: bool,
    components: Vec<(String, String, bool)>,
}

fn html(status: StatusCode, body: String) -> Response {
    with_csp((status, Html(body)).into_response())
}

fn root(page: &StatusPage) -> String {
    format!("/status/{}", page.slug)
}

/// The components a reader can pick: the page's own, groups stand for their members.
fn choices(all: &[Component], picked: &[String]) -> Vec<(String, String, bool)> {
    all.iter()
        .filter(|c| !c.is_group)
        .map(|c| {
            let name = match c.group_id.and_then(|g| all.iter().find(|x| x.id == g)) {
                Some(g) => format!("{} / {}", g.name, c.name),
                None => c.name.clone(),
            };
            (c.code.clone(), name, picked.contains(&c.code))
        })
        .collect()
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

async fn read_form(body: axum::body::Body) -> Vec<(String, String)> {
    match axum::body::to_bytes(body, FORM_MAX).await {
        Ok(b) => form_pairs(&b),
        Err(_) => Vec::new(),
    }
}

fn error_page(e: &ApiError) -> Response {
    let status = e.status();
    with_csp((status, format!("{e}\n")).into_response())
}

async fn form(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path(slug): Path<String>,
    req: Request,
) -> Response {
    let Some(r) = snaps.by_slug(&slug) else {
        return not_found();
    };
    let (mut parts, _) = req.into_parts();
    if let Err(resp) = admit(&state, &snaps, &r, &mut parts).await {
        return resp;
    }
    if super::subscribers::page_base(&state.settings, &r.page).is_none() {
        return not_found();
    }
    let all = match state.store.list_components(r.page.id).await {
        Ok(a) => a,
        Err(e) => return error_page(&e.into()),
    };
    let page = SubscribeHtml {
        name: r.page.name.clone(),
        root: root(&r.page),
        email: String::new(),
        error: None,
        components: choices(&all, &[]),
        done: None,
    };
    html(StatusCode::OK, page.render().unwrap_or_default())
}

async fn sign_up(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path(slug): Path<String>,
    req: Request,
) -> Response {
    let Some(r) = snaps.by_slug(&slug) else {
        return not_found();
    };
    let (mut parts, body) = req.into_parts();
    if let Err(resp) = admit(&state, &snaps, &r, &mut parts).await {
        return resp;
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let client = crate::shared::web::origin(&state, &parts.headers, peer).addr;
    let pairs = read_form(body).await;
    let email = pairs
        .iter()
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let picked: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "components")
        .map(|(_, v)| v.clone())
        .collect();
    let all = match state.store.list_components(r.page.id).await {
        Ok(a) => a,
        Err(e) => return error_page(&e.into()),
    };
    let mut page = SubscribeHtml {
        name: r.page.name.clone(),
        root: root(&r.page),
        email: email.clone(),
        error: None,
        components: choices(&all, &picked),
        done: None,
    };
    let refuse = |mut page: SubscribeHtml, status: StatusCode, why: String| {
        page.error = Some(why);
        html(status, page.render().unwrap_or_default())
    };
    if let Err(e) = contact::address(ContactKind::Email, &email) {
        let why = format!("This is not an e-mail address: it {}.", e.reason);
        let why = why.replace(
            "it is not an e-mail address",
            "should look like name@example.com",
        );
        return refuse(page, StatusCode::BAD_REQUEST, why);
    }
    let limit = state.settings.status_pages.signups_per_minute;
    if let Err(secs) = state.signups.check(client, limit, state.clock.now()) {
        let why =
            format!("Too many sign-ups from your network just now. Try again in {secs} seconds.");
        return refuse(page, StatusCode::TOO_MANY_REQUESTS, why);
    }
    let components = match chosen(&all, &picked, "components") {
        Ok(c) => c,
        Err(e) => return refuse(page, StatusCode::BAD_REQUEST, e.to_string()),
    };
    match subscribe_with(
        &state,
        Actor::System,
        &r.page,
        SubscriberKind::Email,
        &email,
        components,
    )
    .await
    {
        Ok(_) => {
            // The same words whether the address was known or not.
            page.done = Some(
                "Thank you. Check your inbox: we sent a link to confirm your subscription \
                 (if this address is subscribed already, a link to manage it).",
            );
            html(StatusCode::OK, page.render().unwrap_or_default())
        }
        Err(e) => refuse(page, e.status(), e.to_string()),
    }
}

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    t: String,
}

/// The page and subscriber a signed link names, or the answer to give.
async fn open(
    state: &AppState,
    snaps: &Snapshots,
    slug: &str,
    id: &str,
    token: &str,
) -> Result<(StatusPage, Subscriber), Response> {
    let gone = |page: &StatusPage| {
        let body = SubscriptionHtml {
            name: page.name.clone(),
            root: root(page),
            action: String::new(),
            token: String::new(),
            step: "gone",
            message: Some(
                "This link is not valid any more: the subscription was removed, or the link is incomplete.",
            ),
            address: None,
            all: true,
            components: Vec::new(),
        };
        html(StatusCode::NOT_FOUND, body.render().unwrap_or_default())
    };
    let Some(r) = snaps.by_slug(slug) else {
        return Err(not_found());
    };
    let Ok(id) = id.parse::<SubscriberId>() else {
        return Err(gone(&r.page));
    };
    let s = match state.store.subscriber(id).await {
        Ok(s) if s.page_id == r.page.id && s.kind == SubscriberKind::Email => s,
        Ok(_) => return Err(gone(&r.page)),
        Err(e) if e.is_not_found() => return Err(gone(&r.page)),
        Err(e) => return Err(error_page(&e.into())),
    };
    let key = match state.store.server_key(LINK_KEY).await {
        Ok(k) => k,
        Err(e) => return Err(error_page(&e.into())),
    };
    if !token_ok(&key, &s, token) {
        return Err(gone(&r.page));
    }
    Ok((r.page.clone(), s))
}

async fn view(
    state: &AppState,
    page: &StatusPage,
    s: &Subscriber,
    token: &str,
    step: &'static str,
    message: Option<&'static str>,
) -> Response {
    let all = state
        .store
        .list_components(page.id)
        .await
        .unwrap_or_default();
    let picked: Vec<String> = s
        .component_ids
        .iter()
        .filter_map(|id| all.iter().find(|c| c.id == *id))
        .map(|c| c.code.clone())
        .collect();
    let body = SubscriptionHtml {
        name: page.name.clone(),
        root: root(page),
        action: format!("{}/subscription/{}", root(page), s.id),
        token: token.to_owned(),
        step,
        message,
        address: Some(s.address.clone()),
        all: s.all_components,
        components: choices(&all, &picked),
    };
    html(StatusCode::OK, body.render().unwrap_or_default())
}

async fn manage(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<Token>,
) -> Response {
    match open(&state, &snaps, &slug, &id, &q.t).await {
        // Not confirmed yet: the link in a manage e-mail confirms, as the first one would.
        Ok((page, s)) if s.confirmed_at.is_none() => {
            view(&state, &page, &s, &q.t, "confirm", None).await
        }
        Ok((page, s)) => view(&state, &page, &s, &q.t, "manage", None).await,
        Err(resp) => resp,
    }
}

async fn save(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<Token>,
    body: axum::body::Body,
) -> Response {
    let (page, s) = match open(&state, &snaps, &slug, &id, &q.t).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let picked: Vec<String> = read_form(body)
        .await
        .into_iter()
        .filter(|(k, _)| k == "components")
        .map(|(_, v)| v)
        .collect();
    let all = state
        .store
        .list_components(page.id)
        .await
        .unwrap_or_default();
    let components = match chosen(&all, &picked, "components") {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    match choose_with(&state, Actor::System, s, components).await {
        Ok(s) => view(&state, &page, &s, &q.t, "manage", Some("Saved.")).await,
        Err(e) => error_page(&e),
    }
}

async fn confirm_form(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<Token>,
) -> Response {
    match open(&state, &snaps, &slug, &id, &q.t).await {
        Ok((page, s)) if s.confirmed_at.is_some() => {
            view(
                &state,
                &page,
                &s,
                &q.t,
                "manage",
                Some("Your subscription is confirmed."),
            )
            .await
        }
        Ok((page, s)) => view(&state, &page, &s, &q.t, "confirm", None).await,
        Err(resp) => resp,
    }
}

async fn confirm(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<Token>,
) -> Response {
    let (page, s) = match open(&state, &snaps, &slug, &id, &q.t).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    match confirm_with(&state, &s).await {
        Ok(s) => {
            let msg = "Your subscription is confirmed. Choose components below if you want fewer e-mails.";
            view(&state, &page, &s, &q.t, "manage", Some(msg)).await
        }
        Err(e) => error_page(&e),
    }
}

async fn unsubscribe_form(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<Token>,
) -> Response {
    match open(&state, &snaps, &slug, &id, &q.t).await {
        Ok((page, s)) => view(&state, &page, &s, &q.t, "unsubscribe", None).await,
        Err(resp) => resp,
    }
}

/// A person's button, or a mail client's one-click POST (`List-Unsubscribe=One-Click`): both
/// carry the signed token in the address.
async fn unsubscribe(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<Token>,
) -> Response {
    let (page, s) = match open(&state, &snaps, &slug, &id, &q.t).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    match unsubscribe_with(&state, Actor::System, &s).await {
        Ok(()) => {
            let body = SubscriptionHtml {
                name: page.name.clone(),
                root: root(&page),
                action: String::new(),
                token: String::new(),
                step: "done",
                message: Some(
                    "You are unsubscribed: no more e-mails will be sent to this address.",
                ),
                address: None,
                all: true,
                components: Vec::new(),
            };
            html(StatusCode::OK, body.render().unwrap_or_default())
        }
        Err(e) => error_page(&e),
    }
}

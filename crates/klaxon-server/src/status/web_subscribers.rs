//! The admin web page of a status page's subscribers (admins only: addresses are personal
//! data): who they are, whether they confirmed, their last notice; adding and removing them.
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_store::{DeliveryStatus, SignUp, StatusPage, SubscriberKind};

use super::subscribers::{chosen, page_base, refuse_known, subscribe_with, unsubscribe_with};
use super::web::{Fields, page_form, page_of, refusal, start};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::web::{FormErrors, Nav, PageResult, Refused, WebSession, html, not_found_page};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/status-pages/{page}/subscribers", get(list).post(add))
        .route("/status-pages/{page}/subscribers/{id}/delete", post(remove))
}

struct Row {
    id: String,
    address: String,
    kind: &'static str,
    components: String,
    confirmed: String,
    /// The latest notice: its kind and outcome, when (HTML), and why it failed.
    last: String,
    last_at: String,
    last_error: String,
}

#[derive(Template)]
#[template(path = "status_admin/subscribers.html")]
struct SubscribersPage {
    nav: Option<Nav>,
    page: StatusPage,
    page_id: String,
    signup: String,
    can_sign_up: bool,
    rows: Vec<Row>,
    /// (code, "Group / name")
    components: Vec<(String, String)>,
    zone: String,
    csrf: String,
    notice: Option<String>,
    refused: Refused,
}

impl SubscribersPage {
    fn errs(&self, form: &str) -> &FormErrors {
        self.refused.errs(form)
    }

    fn typed<'a>(&'a self, form: &str, field: &str, default: &'a str) -> &'a str {
        self.refused.typed(form, field, default)
    }

    fn invalid(&self, form: &str, field: &str, id: &str) -> String {
        self.refused.invalid(form, field, id)
    }

    fn ticked(&self, code: &str) -> bool {
        self.refused.typed("add", &format!("components.{code}"), "") == "yes"
    }
}

async fn render(
    state: &AppState,
    s: &WebSession,
    page: StatusPage,
    status: StatusCode,
    notice: Option<String>,
    refused: Refused,
) -> PageResult {
    let reader = s.reader();
    let all = state.store.list_components(page.id).await?;
    let mut rows = Vec::new();
    for sub in state.store.list_subscribers(page.id).await? {
        let last = state.store.list_notices(sub.id, 1).await?;
        let (last, last_at, last_error) = match last.first() {
            None => ("none yet".to_owned(), String::new(), String::new()),
            Some(n) => {
                let what = match n.status {
                    DeliveryStatus::Sent => "sent",
                    DeliveryStatus::Failed => "failed",
                    DeliveryStatus::Pending | DeliveryStatus::Sending => "waiting",
                };
                let error = match n.status {
                    DeliveryStatus::Sent => String::new(),
                    _ => n.last_error.clone().unwrap_or_default(),
                };
                (
                    format!("{} {what}", n.kind.as_str()),
                    reader.when(n.sent_at.unwrap_or(n.created_at)).html(),
                    error,
                )
            }
        };
        let names: Vec<&str> = sub
            .component_ids
            .iter()
            .filter_map(|id| all.iter().find(|c| c.id == *id))
            .map(|c| c.name.as_str())
            .collect();
        rows.push(Row {
            id: sub.id.to_string(),
            kind: match sub.kind {
                SubscriberKind::Email => "e-mail",
                SubscriberKind::Webhook => "webhook",
            },
            components: if sub.all_components {
                "all".into()
            } else {
                names.join(", ")
            },
            confirmed: match sub.confirmed_at {
                Some(t) => reader.when(t).html(),
                None => "not yet".into(),
            },
            address: sub.address,
            last,
            last_at,
            last_error,
        });
    }
    let components = all
        .iter()
        .filter(|c| !c.is_group)
        .map(|c| {
            let name = match c.group_id.and_then(|g| all.iter().find(|x| x.id == g)) {
                Some(g) => format!("{} / {}", g.name, c.name),
                None => c.name.clone(),
            };
            (c.code.clone(), name)
        })
        .collect();
    let base = page_base(&state.settings, &page);
    Ok(html(
        status,
        &SubscribersPage {
            nav: Some(Nav::new(s, "/status-pages")),
            page_id: page.id.to_string(),
            signup: base
                .as_deref()
                .map_or(format!("/status/{}/subscribe", page.slug), |b| {
                    format!("{b}/subscribe")
                }),
            can_sign_up: base.is_some(),
            rows,
            components,
            zone: reader.zone,
            csrf: s.session.csrf_token.clone(),
            notice,
            refused,
            page,
        },
    ))
}

async fn list(
    State(state): State<AppState>,
    s: WebSession,
    Path(page): Path<String>,
) -> PageResult {
    if !s.user.role.allows(Role::Admin) {
        return Ok(crate::shared::web::forbidden("see subscribers"));
    }
    match page_of(&state, &page).await? {
        Some(p) => render(&state, &s, p, StatusCode::OK, None, Refused::default()).await,
        None => Ok(not_found_page()),
    }
}

async fn add(
    State(state): State<AppState>,
    s: WebSession,
    Path(page): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    let p = match page_form(&state, &s, &f, Role::Admin, "add subscribers", &page).await {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let outcome = async {
        let kind = SubscriberKind::parse(f.get("kind"))
            .ok_or_else(|| ApiError::invalid("kind", "choose e-mail or webhook"))?;
        let all = state.store.list_components(p.id).await?;
        let picked: Vec<String> = f.all("components").into_iter().map(str::to_owned).collect();
        let components = chosen(&all, &picked, "components")?;
        let address = f.get("address").trim();
        refuse_known(&state, &p, kind, address).await?;
        subscribe_with(
            &state,
            Actor::User(s.user.id),
            &p,
            kind,
            address,
            components,
        )
        .await
    }
    .await;
    match outcome {
        Ok(SignUp::Created(sub) | SignUp::Mailed(sub) | SignUp::TooSoon(sub)) => {
            let notice = if sub.confirmed_at.is_some() {
                format!("Added {}.", sub.address)
            } else {
                format!(
                    "Added {}: a confirmation e-mail is on its way, and nothing else is sent until it is followed.",
                    sub.address
                )
            };
            render(
                &state,
                &s,
                p,
                StatusCode::OK,
                Some(notice),
                Refused::default(),
            )
            .await
        }
        Err(e) => {
            let status = e.status();
            let refused = refusal("add", FormErrors::from_error(e)?, &f.typed(&["components"]));
            render(&state, &s, p, status, None, refused).await
        }
    }
}

async fn remove(
    State(state): State<AppState>,
    s: WebSession,
    Path((page, id)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    if let Err(r) = start(&s, f.get("csrf"), Role::Admin, "remove subscribers") {
        return Ok(r);
    }
    let Some(p) = page_of(&state, &page).await? else {
        return Ok(not_found_page());
    };
    let found = match id.parse() {
        Ok(id) => state.store.subscriber(id).await.ok(),
        Err(_) => None,
    };
    let Some(sub) = found.filter(|x| x.page_id == p.id) else {
        return Ok(not_found_page());
    };
    unsubscribe_with(&state, Actor::User(s.user.id), &sub).await?;
    let notice = format!("Removed {}: nothing more is sent to it.", sub.address);
    render(
        &state,
        &s,
        p,
        StatusCode::OK,
        Some(notice),
        Refused::default(),
    )
    .await
}

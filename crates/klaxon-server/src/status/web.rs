//! The admin web pages of status pages: the list, one page's settings and components, and its
//! public incidents and maintenances (`web_incidents.rs`). Forms call the same `*_with`
//! functions as the REST API, so the rules and events are the same whichever face is used.
use std::borrow::Borrow;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use klaxon_domain::auth::Role;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::StatusPageId;
use klaxon_domain::status::{self as domain, ComponentStatus};
use klaxon_store::{Check, Component, StatusPage};

use super::pages_api::{self, ComponentBody, PageBody};
use super::web_footer::{FooterRow, footer_links, footer_rows};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;
use crate::shared::time::Reader;
use crate::shared::web::{FormErrors, Nav, PageResult, Refused, WebSession};
use crate::shared::web::{forbidden, html, not_found_page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/status-pages", get(list_page).post(add_page))
        .route("/status-pages/{page}", get(one_page).post(edit_page))
        .route("/status-pages/{page}/delete", post(delete_page))
        .route("/status-pages/{page}/components", post(add_component))
        .route(
            "/status-pages/{page}/components/{component}",
            post(edit_component),
        )
        .route(
            "/status-pages/{page}/components/{component}/status",
            post(set_component_status),
        )
        .route(
            "/status-pages/{page}/components/{component}/delete",
            post(delete_component),
        )
        .merge(super::web_incidents::router())
        .merge(super::web_subscribers::router())
}

// --- form fields --------------------------------------------------------------------------------

/// A posted form as its pairs: these forms repeat names (services, components), which a struct
/// cannot take.
pub(crate) struct Fields(pub(crate) Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed of nothing; "" when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// What was typed, for the page to come back with: repeated names (check boxes) as
    /// `name.value` = `yes`.
    pub(crate) fn typed(&self, repeated: &[&str]) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| k != "csrf" && k != "password")
            .map(|(k, v)| {
                if repeated.contains(&k.as_str()) {
                    (format!("{k}.{v}"), "yes".to_owned())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect()
    }
}

/// A refusal of `form` with what was typed.
pub(crate) fn refusal(form: &'static str, e: FormErrors, typed: &[(String, String)]) -> Refused {
    let pairs: Vec<(&str, &str)> = typed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Refused::new(form, e, &pairs)
}

/// "" → none; otherwise the whole number, or a refusal naming `field`.
pub(crate) fn whole(field: &str, raw: &str) -> Result<Option<i64>, ApiError> {
    match raw.trim() {
        "" => Ok(None),
        n => n
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(field, "must be a whole number")),
    }
}

pub(crate) fn component_status(field: &str, raw: &str) -> Result<ComponentStatus, ApiError> {
    raw.trim()
        .parse::<ComponentStatus>()
        .map_err(|_| ApiError::invalid(field, "choose a status from the list"))
}

/// Every component status, as (value, words).
pub(crate) fn component_statuses() -> Vec<(&'static str, &'static str)> {
    ComponentStatus::ALL
        .iter()
        .map(|s| (s.as_str(), s.label()))
        .collect()
}

#[allow(clippy::result_large_err)] // the error is the page to answer with
pub(crate) fn start(s: &WebSession, csrf: &str, role: Role, what: &str) -> Result<(), Response> {
    s.check_csrf(csrf)?;
    if s.user.role.allows(role) {
        Ok(())
    } else {
        Err(forbidden(what))
    }
}

/// A form on a page's pages: its CSRF token and the caller's role checked, the page found.
/// `Err` is the answer to give (refused, not found, or a failure of ours).
pub(crate) async fn page_form(
    state: &AppState,
    s: &WebSession,
    f: &Fields,
    role: Role,
    what: &str,
    raw: &str,
) -> Result<StatusPage, Response> {
    start(s, f.get("csrf"), role, what)?;
    match page_of(state, raw).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(not_found_page()),
        Err(e) => Err(e.into_response()),
    }
}

pub(crate) async fn page_of(state: &AppState, raw: &str) -> Result<Option<StatusPage>, ApiError> {
    let Ok(id) = raw.parse::<StatusPageId>() else {
        return Ok(None);
    };
    match state.store.status_page(id).await {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

// --- the list -------------------------------------------------------------------------------------

pub struct PageRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub visibility: &'static str,
    pub overall: &'static str,
    pub indicator: &'static str,
}

pub(crate) fn visibility_words(v: klaxon_store::Visibility) -> &'static str {
    match v {
        klaxon_store::Visibility::Public => "public",
        klaxon_store::Visibility::Password => "behind a password",
        klaxon_store::Visibility::SignIn => "Klaxon users only",
    }
}

#[derive(Template)]
#[template(path = "status_admin/pages.html")]
struct ListPage {
    nav: Option<Nav>,
    pages: Vec<PageRow>,
    can_admin: bool,
    csrf: String,
    refused: Refused,
}

impl ListPage {
    /// A settings field's id: `{form}-{suffix}`.
    fn id(&self, form: &str, suffix: &str) -> String {
        format!("{form}-{suffix}")
    }

    /// ` aria-invalid…` for a settings field refused.
    fn inv(&self, form: &str, field: &str, suffix: &str) -> String {
        self.refused.invalid(form, field, &self.id(form, suffix))
    }
}

async fn render_list(
    state: &AppState,
    s: &WebSession,
    status: StatusCode,
    refused: Refused,
) -> PageResult {
    let mut pages = Vec::new();
    for p in state.store.list_status_pages().await? {
        let comps = state.store.list_components(p.id).await?;
        let open: Vec<_> = state
            .store
            .list_status_incidents(p.id, 100)
            .await?
            .into_iter()
            .filter(|w| w.incident.status.is_current() && !w.incident.maintenance)
            .map(|w| w.incident.impact)
            .collect();
        let statuses: Vec<_> = comps
            .iter()
            .filter(|c| !c.is_group)
            .map(|c| c.status)
            .collect();
        let o = domain::overall(&statuses, &open);
        pages.push(PageRow {
            id: p.id.to_string(),
            name: p.name,
            slug: p.slug,
            visibility: visibility_words(p.visibility),
            overall: o.description,
            indicator: o.indicator.as_str(),
        });
    }
    Ok(html(
        status,
        &ListPage {
            nav: Some(Nav::new(s, "/status-pages")),
            pages,
            can_admin: s.user.role.allows(Role::Admin),
            csrf: s.session.csrf_token.clone(),
            refused,
        },
    ))
}

async fn list_page(State(state): State<AppState>, s: WebSession) -> PageResult {
    render_list(&state, &s, StatusCode::OK, Refused::default()).await
}

/// The settings form's fields as the API's body; `creating` requires name and slug.
fn page_body(f: &Fields) -> Result<PageBody, ApiError> {
    let weight = match f.get("partial_outage_weight").trim() {
        "" => None,
        w => Some(w.parse::<f64>().map_err(|_| {
            ApiError::invalid(
                "partial_outage_weight",
                "must be a number from 0 to 1, such as 0.3",
            )
        })?),
    };
    let text = |n: &str| f.has(n).then(|| f.get(n).to_owned());
    Ok(PageBody {
        name: text("name"),
        slug: text("slug"),
        hostname: text("hostname"),
        logo_url: text("logo_url"),
        accent_color: text("accent_color").filter(|c| !c.trim().is_empty()),
        time_zone: text("time_zone").filter(|z| !z.trim().is_empty()),
        footer_links: None,
        visibility: text("visibility").filter(|v| !v.is_empty()),
        password: text("password").filter(|p| !p.is_empty()),
        partial_outage_weight: weight,
    })
}

async fn add_page(
    State(state): State<AppState>,
    s: WebSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    if let Err(r) = start(&s, f.get("csrf"), Role::Admin, "add status pages") {
        return Ok(r);
    }
    let outcome = match page_body(&f) {
        Ok(body) => pages_api::create_page_with(&state, Actor::User(s.user.id), body).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(p) => Ok(Redirect::to(&format!("/status-pages/{}", p.id)).into_response()),
        Err(e) => {
            let status = e.status();
            let r = refusal("add", FormErrors::from_error(e)?, &f.typed(&[]));
            render_list(&state, &s, status, r).await
        }
    }
}

// --- one page -------------------------------------------------------------------------------------

/// A component on the admin page, with its members after a group.
pub struct ComponentRow {
    pub code: String,
    pub name: String,
    pub description: String,
    pub is_group: bool,
    pub in_group: bool,
    /// The group's code ("" for none).
    pub group: String,
    pub position: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub show_uptime: bool,
    pub only_show_if_degraded: bool,
    pub services: Vec<String>,
    pub follow_checks: bool,
    /// Its checks' names (the enabled checks on its services), followed or not.
    pub checks: Vec<String>,
}

impl ComponentRow {
    /// "follows 1 check", "follows 3 checks".
    pub fn follows(&self) -> String {
        match self.checks.len() {
            1 => "follows 1 check".into(),
            n => format!("follows {n} checks"),
        }
    }
}

pub struct PublicRow {
    pub code: String,
    pub name: String,
    pub maintenance: bool,
    pub status: &'static str,
    pub current: bool,
    /// When it started, or its window, as `<time>`.
    pub when: String,
}

#[derive(Template)]
#[template(path = "status_admin/page.html")]
struct OnePage {
    nav: Option<Nav>,
    page: StatusPage,
    page_id: String,
    visibility: &'static str,
    components: Vec<ComponentRow>,
    groups: Vec<(String, String)>,
    services: Vec<(String, String)>,
    /// Every enabled check as "name (service)", for the add form's hint.
    all_checks: Vec<String>,
    incidents: Vec<PublicRow>,
    statuses: Vec<(&'static str, &'static str)>,
    impacts: Vec<&'static str>,
    can_admin: bool,
    can_respond: bool,
    csrf: String,
    notice: Option<String>,
    refused: Refused,
    zone: String,
    footer: Vec<FooterRow>,
}

impl OnePage {
    /// A settings field's id: `{form}-{suffix}`.
    fn id(&self, form: &str, suffix: &str) -> String {
        format!("{form}-{suffix}")
    }

    /// ` aria-invalid…` for a settings field refused.
    fn inv(&self, form: &str, field: &str, suffix: &str) -> String {
        self.refused.invalid(form, field, &self.id(form, suffix))
    }
    fn errs(&self, form: &str) -> &FormErrors {
        self.refused.errs(form)
    }

    fn typed<'a>(&'a self, form: &str, field: &str, default: &'a str) -> &'a str {
        self.refused.typed(form, field, default)
    }

    fn invalid(&self, form: &str, field: &str, id: &str) -> String {
        self.refused.invalid(form, field, id)
    }

    /// Whether this component's form (`form`) was the one refused.
    fn is_for(&self, form: &str, code: &str) -> bool {
        self.refused.is(form) && self.refused.typed(form, "code", "") == code
    }

    /// A component form's errors, only for the component it was about.
    fn cerrs(&self, form: &str, code: &str) -> &FormErrors {
        if self.is_for(form, code) {
            self.refused.errs(form)
        } else {
            self.refused.errs("")
        }
    }

    fn ctyped<'a>(&'a self, form: &str, code: &str, field: &str, default: &'a str) -> &'a str {
        if self.is_for(form, code) {
            self.refused.typed(form, field, default)
        } else {
            default
        }
    }

    fn cinvalid(&self, form: &str, code: &str, field: &str, id: impl AsRef<str>) -> String {
        if self.is_for(form, code) {
            self.refused.invalid(form, field, id.as_ref())
        } else {
            String::new()
        }
    }

    /// What was typed in `form`'s field `key` (a name made in the template), else `default`.
    fn ctyped_any<'a>(&'a self, form: &str, key: impl AsRef<str>, default: &'a str) -> &'a str {
        self.refused.typed(form, key.as_ref(), default)
    }

    /// Whether the check box `name` = `value` of a refused `form` was ticked, else `default`.
    fn ticked(&self, form: &str, name: &str, value: &str, default: bool) -> bool {
        if self.refused.is(form) {
            self.refused.typed(form, &format!("{name}.{value}"), "") == "yes"
        } else {
            default
        }
    }

    /// The same for a component's edit form.
    fn cticked(&self, code: &str, name: &str, value: &str, default: bool) -> bool {
        if self.is_for("edit", code) {
            self.refused.typed("edit", &format!("{name}.{value}"), "") == "yes"
        } else {
            default
        }
    }

    /// A single check box (`name` = `yes`) of a refused `form`, else `default`.
    fn checked(&self, form: &str, code: &str, name: &str, default: impl Borrow<bool>) -> bool {
        let default = *default.borrow();
        if self.refused.is(form) && (code.is_empty() || self.is_for(form, code)) {
            self.refused.typed(form, name, "") == "yes"
        } else {
            default
        }
    }
}

pub(crate) fn component_rows(all: &[Component], checks: &[Check]) -> Vec<ComponentRow> {
    let row = |c: &Component| ComponentRow {
        code: c.code.clone(),
        name: c.name.clone(),
        description: c.description.clone().unwrap_or_default(),
        is_group: c.is_group,
        in_group: c.group_id.is_some(),
        group: c
            .group_id
            .and_then(|g| all.iter().find(|x| x.id == g))
            .map(|g| g.code.clone())
            .unwrap_or_default(),
        position: c.position.to_string(),
        status: c.status.as_str(),
        status_label: c.status.label(),
        show_uptime: c.show_uptime,
        only_show_if_degraded: c.only_show_if_degraded,
        services: c.service_ids.iter().map(ToString::to_string).collect(),
        follow_checks: c.follow_checks,
        checks: pages_api::checks_of(c, checks)
            .into_iter()
            .map(|k| k.name.clone())
            .collect(),
    };
    let mut out = Vec::new();
    for top in all.iter().filter(|c| c.group_id.is_none()) {
        out.push(row(top));
        out.extend(all.iter().filter(|c| c.group_id == Some(top.id)).map(row));
    }
    out
}

pub(crate) fn public_row(reader: &Reader, i: &klaxon_store::StatusIncident) -> PublicRow {
    let when = match (i.scheduled_for, i.scheduled_until) {
        (Some(a), Some(b)) => format!("{} to {}", reader.when(a).html(), reader.when(b).html()),
        _ => reader.when(i.started_at).html(),
    };
    PublicRow {
        code: i.code.clone(),
        name: i.name.clone(),
        maintenance: i.maintenance,
        status: i.status.label(),
        current: i.status.is_current(),
        when,
    }
}

#[derive(Default)]
pub(crate) struct Feedback {
    pub(crate) status: Option<StatusCode>,
    pub(crate) notice: Option<String>,
    pub(crate) refused: Refused,
}

pub(crate) async fn render_page(
    state: &AppState,
    s: &WebSession,
    page: StatusPage,
    fb: Feedback,
) -> PageResult {
    let reader = s.reader();
    let all = state.store.list_components(page.id).await?;
    let mut incidents: Vec<_> = state
        .store
        .list_status_incidents(page.id, 100)
        .await?
        .into_iter()
        .map(|w| public_row(&reader, &w.incident))
        .collect();
    // Open ones first, each part newest first as the store gives them.
    incidents.sort_by_key(|r| !r.current);
    let services: Vec<(String, String)> = crate::shared::lists::all_services(state)
        .await?
        .into_iter()
        .map(|x| (x.id.to_string(), x.name))
        .collect();
    let checks = state.store.list_checks().await?;
    let all_checks = checks
        .iter()
        .filter(|k| k.enabled)
        .map(|k| {
            let on = services
                .iter()
                .find(|(id, _)| *id == k.service_id.to_string())
                .map_or("", |(_, n)| n.as_str());
            format!("{} ({on})", k.name)
        })
        .collect();
    Ok(html(
        fb.status.unwrap_or(StatusCode::OK),
        &OnePage {
            nav: Some(Nav::new(s, "/status-pages")),
            page_id: page.id.to_string(),
            visibility: page.visibility.as_str(),
            groups: all
                .iter()
                .filter(|c| c.is_group)
                .map(|c| (c.code.clone(), c.name.clone()))
                .collect(),
            components: component_rows(&all, &checks),
            services,
            all_checks,
            incidents,
            statuses: component_statuses(),
            impacts: vec!["none", "minor", "major", "critical"],
            can_admin: s.user.role.allows(Role::Admin),
            can_respond: s.user.role.allows(Role::Responder),
            csrf: s.session.csrf_token.clone(),
            notice: fb.notice,
            footer: footer_rows(&page, &fb.refused),
            refused: fb.refused,
            zone: reader.zone,
            page,
        },
    ))
}

/// The page after `form`: a notice on success; on refusal the reasons beside that form's
/// fields, with what was typed.
pub(crate) async fn after_form<T>(
    state: &AppState,
    s: &WebSession,
    page: StatusPage,
    form: &'static str,
    typed: &[(String, String)],
    outcome: Result<T, ApiError>,
    ok: impl FnOnce(T) -> String,
) -> PageResult {
    let fb = match outcome {
        Ok(v) => Feedback {
            notice: Some(ok(v)),
            ..Default::default()
        },
        Err(e) => Feedback {
            status: Some(e.status()),
            refused: refusal(form, FormErrors::from_error(e)?, typed),
            ..Default::default()
        },
    };
    // Reread: a change of settings shows as saved.
    let page = state.store.status_page(page.id).await.unwrap_or(page);
    render_page(state, s, page, fb).await
}

async fn one_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(page): Path<String>,
) -> PageResult {
    match page_of(&state, &page).await? {
        Some(p) => render_page(&state, &s, p, Feedback::default()).await,
        None => Ok(not_found_page()),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(page): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    let p = match page_form(&state, &s, &f, Role::Admin, "change status pages", &page).await {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let footer_links = match footer_links(&f) {
        Ok(links) => links,
        Err(errors) => {
            let fb = Feedback {
                status: Some(StatusCode::BAD_REQUEST),
                refused: refusal("settings", errors, &f.typed(&[])),
                ..Default::default()
            };
            return render_page(&state, &s, p, fb).await;
        }
    };
    let outcome = match page_body(&f) {
        Ok(body) => {
            let body = PageBody {
                footer_links,
                ..body
            };
            pages_api::update_page_with(&state, Actor::User(s.user.id), p.id, body).await
        }
        Err(e) => Err(e),
    };
    after_form(&state, &s, p, "settings", &f.typed(&[]), outcome, |_| {
        "Settings saved.".into()
    })
    .await
}

async fn delete_page(
    State(state): State<AppState>,
    s: WebSession,
    Path(page): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    let p = match page_form(&state, &s, &f, Role::Admin, "delete status pages", &page).await {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    // Checked here too: the box is `required` in the page, but a form can come from anywhere.
    let outcome = if f.get("confirm") == "yes" {
        pages_api::delete_page_with(&state, Actor::User(s.user.id), p.id).await
    } else {
        Err(ApiError::invalid(
            "confirm",
            "tick the box to delete the page, its components and its incidents",
        ))
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/status-pages").into_response()),
        Err(e) => {
            after_form(&state, &s, p, "delete", &[], Err::<(), _>(e), |()| {
                String::new()
            })
            .await
        }
    }
}

// --- components -----------------------------------------------------------------------------------

/// The component form's fields as the API's body.
fn component_body(f: &Fields, creating: bool) -> Result<ComponentBody, ApiError> {
    let services: Vec<String> = f.all("services").into_iter().map(str::to_owned).collect();
    Ok(ComponentBody {
        name: Some(f.get("name").to_owned()),
        description: Some(f.get("description").to_owned()),
        group: Some(f.get("group").to_owned()),
        is_group: creating.then(|| f.get("is_group") == "yes"),
        position: whole("position", f.get("position"))?,
        status: None,
        only_show_if_degraded: Some(f.get("only_show_if_degraded") == "yes"),
        show_uptime: Some(f.get("show_uptime") == "yes"),
        services: Some(services),
        follow_checks: Some(f.get("follow_checks") == "yes"),
    })
}

async fn add_component(
    State(state): State<AppState>,
    s: WebSession,
    Path(page): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    let p = match page_form(&state, &s, &f, Role::Admin, "add components", &page).await {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let outcome = match component_body(&f, true) {
        Ok(b) => pages_api::create_component_with(&state, Actor::User(s.user.id), p.id, b).await,
        Err(e) => Err(e),
    };
    let typed = f.typed(&["services"]);
    after_form(&state, &s, p, "component", &typed, outcome, |c| {
        format!("Added {}.", c.name)
    })
    .await
}

async fn edit_component(
    State(state): State<AppState>,
    s: WebSession,
    Path((page, component)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    let p = match page_form(&state, &s, &f, Role::Admin, "change components", &page).await {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let outcome = match component_body(&f, false) {
        Ok(b) => {
            pages_api::update_component_with(&state, Actor::User(s.user.id), p.id, &component, b)
                .await
        }
        Err(e) => Err(e),
    };
    let mut typed = f.typed(&["services"]);
    typed.push(("code".into(), component));
    after_form(&state, &s, p, "edit", &typed, outcome, |c| {
        format!("Saved {}.", c.name)
    })
    .await
}

async fn set_component_status(
    State(state): State<AppState>,
    s: WebSession,
    Path((page, component)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    let p = match page_form(
        &state,
        &s,
        &f,
        Role::Responder,
        "change components' statuses",
        &page,
    )
    .await
    {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let outcome = match component_status("status", f.get("status")) {
        Ok(st) => {
            let body = ComponentBody {
                status: Some(st),
                ..Default::default()
            };
            pages_api::update_component_with(&state, Actor::User(s.user.id), p.id, &component, body)
                .await
        }
        Err(e) => Err(e),
    };
    let mut typed = f.typed(&[]);
    typed.push(("code".into(), component));
    after_form(&state, &s, p, "status", &typed, outcome, |c| {
        format!("{} is now {}.", c.name, c.status.label().to_lowercase())
    })
    .await
}

async fn delete_component(
    State(state): State<AppState>,
    s: WebSession,
    Path((page, component)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(pairs);
    let p = match page_form(&state, &s, &f, Role::Admin, "remove components", &page).await {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    // Checked here too: the box is `required` in the page, but a form can come from anywhere.
    let outcome = if f.get("confirm") == "yes" {
        pages_api::delete_component_with(&state, Actor::User(s.user.id), p.id, &component).await
    } else {
        Err(ApiError::invalid(
            "confirm",
            "tick the box to remove the component",
        ))
    };
    let typed = vec![("code".to_owned(), component)];
    after_form(&state, &s, p, "remove", &typed, outcome, |()| {
        "Component removed.".into()
    })
    .await
}

//! Status pages and their components: REST under `/api/v1/status-pages`, and the `*_with`
//! operations the admin pages call too. Admins shape pages; responders (the communications
//! lead) set components' statuses.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ComponentId, ServiceId, StatusPageId};
use klaxon_domain::incident as rules;
use klaxon_domain::status::{self as domain, ComponentStatus};
use klaxon_store::{Check, Component, FooterLink, StatusPage, StoreError, Visibility};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::shared::api::{ApiJson, Caller};
use crate::shared::crypto::random_bytes;
use crate::shared::error::{ApiError, ApiResult, ErrorBody};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_status_pages, create_status_page))
        .routes(routes!(
            get_status_page,
            update_status_page,
            delete_status_page
        ))
        .routes(routes!(list_status_components, create_status_component))
        .routes(routes!(update_status_component, delete_status_component))
}

/// A fresh public id.
pub(crate) fn new_code() -> String {
    domain::code(random_bytes())
}

pub(crate) fn page_event(
    id: StatusPageId,
    at: Timestamp,
    actor: Actor,
    kind: EventKind,
    data: Value,
) -> NewEvent {
    NewEvent::new(SubjectType::StatusPage, id, at, actor, kind, data)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusPageOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: StatusPageId,
    /// The public, Statuspage-shaped id.
    pub code: String,
    pub name: String,
    pub slug: String,
    pub hostname: Option<String>,
    pub logo_url: Option<String>,
    pub accent_color: String,
    pub time_zone: String,
    pub footer_links: Vec<FooterLinkIo>,
    /// `public`, `password` or `sign_in`.
    pub visibility: String,
    pub partial_outage_weight: f64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FooterLinkIo {
    #[schema(max_length = 100)]
    pub label: String,
    pub url: String,
}

impl From<StatusPage> for StatusPageOut {
    fn from(p: StatusPage) -> Self {
        Self {
            id: p.id,
            code: p.code,
            name: p.name,
            slug: p.slug,
            hostname: p.hostname,
            logo_url: p.logo_url,
            accent_color: p.accent_color,
            time_zone: p.time_zone,
            footer_links: p
                .footer_links
                .into_iter()
                .map(|l| FooterLinkIo {
                    label: l.label,
                    url: l.url,
                })
                .collect(),
            visibility: p.visibility.as_str().to_owned(),
            partial_outage_weight: p.partial_outage_weight,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A page's settings. On create, `name` and `slug` are required.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageBody {
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// 1–63 lowercase letters, digits and inner hyphens: the page is at `/status/{slug}`.
    pub slug: Option<String>,
    /// A host name the page also answers on at its root (by the Host header); `""` for none.
    pub hostname: Option<String>,
    /// An http(s) link to a logo image; `""` for none.
    pub logo_url: Option<String>,
    /// `#rrggbb`, readable on white (4.5:1). Default `#1f6feb`.
    pub accent_color: Option<String>,
    /// IANA time zone for the page's days and times. Default UTC.
    pub time_zone: Option<String>,
    pub footer_links: Option<Vec<FooterLinkIo>>,
    /// `public` (default), `password` (needs `password`) or `sign_in` (Klaxon users).
    pub visibility: Option<String>,
    /// The shared password of a `password` page, at least 8 characters. Kept only as a hash.
    #[schema(min_length = 8, max_length = 200)]
    pub password: Option<String>,
    /// How much of a partial outage counts as down in uptime, 0 to 1. Default 0.3.
    pub partial_outage_weight: Option<f64>,
}

/// How many links a page's footer holds.
pub const MAX_FOOTER_LINKS: usize = 10;

/// A footer link's words: one line of at most 100 characters. `at` names the link in a
/// refusal (`footer_links[0]` here; the web form names its rows its own way).
pub(crate) fn footer_label(at: &str, raw: &str) -> ApiResult<String> {
    Ok(rules::parse_title(&format!("{at}.label"), raw, 100)?)
}

/// A footer link's address: an http(s) link.
pub(crate) fn footer_url(at: &str, raw: &str) -> ApiResult<String> {
    rules::parse_link(&format!("{at}.url"), Some(raw))?
        .ok_or_else(|| ApiError::invalid(format!("{at}.url"), "must not be empty"))
}

fn optional_text(v: &Option<String>) -> Option<Option<&str>> {
    v.as_deref()
        .map(|s| Some(s.trim()).filter(|s| !s.is_empty()))
}

/// Applies `body` to `p` (a new page or a saved one), checking every field.
async fn apply(state: &AppState, p: &mut StatusPage, body: PageBody) -> ApiResult<()> {
    if let Some(n) = &body.name {
        p.name = rules::parse_title("name", n, 100)?;
    }
    if let Some(s) = &body.slug {
        p.slug = domain::parse_slug(s)?;
    }
    if let Some(h) = optional_text(&body.hostname) {
        p.hostname = h.map(domain::parse_hostname).transpose()?;
    }
    if let Some(l) = optional_text(&body.logo_url) {
        p.logo_url = rules::parse_link("logo_url", l)?;
    }
    if let Some(c) = &body.accent_color {
        p.accent_color = domain::parse_accent(c)?;
    }
    if let Some(z) = &body.time_zone {
        p.time_zone = klaxon_domain::clock::zone_name("time_zone", z)?;
    }
    if let Some(links) = body.footer_links {
        if links.len() > MAX_FOOTER_LINKS {
            return Err(ApiError::invalid(
                "footer_links",
                format!("at most {MAX_FOOTER_LINKS} links"),
            ));
        }
        p.footer_links = links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let at = format!("footer_links[{i}]");
                Ok(FooterLink {
                    label: footer_label(&at, &l.label)?,
                    url: footer_url(&at, &l.url)?,
                })
            })
            .collect::<ApiResult<_>>()?;
    }
    if let Some(v) = &body.visibility {
        p.visibility = Visibility::parse(v.trim()).ok_or_else(|| {
            ApiError::invalid("visibility", "must be one of: public, password, sign_in")
        })?;
    }
    if let Some(w) = body.partial_outage_weight {
        p.partial_outage_weight = domain::parse_partial_weight(w)?;
    }
    if let Some(pw) = &body.password {
        if pw.chars().count() < 8 || pw.len() > 200 {
            return Err(ApiError::invalid(
                "password",
                "must be 8 to 200 characters long",
            ));
        }
        p.password_hash = Some(state.passwords.hash(pw).await.map_err(ApiError::Internal)?);
    }
    if p.visibility == Visibility::Password && p.password_hash.is_none() {
        return Err(ApiError::invalid(
            "password",
            "a password page needs a password",
        ));
    }
    if p.visibility != Visibility::Password {
        p.password_hash = None;
    }
    Ok(())
}

fn page_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { constraint } if constraint == "status_pages_hostname" => {
            ApiError::Conflict {
                message: "hostname: another status page answers on this host name".into(),
                field: Some("hostname".into()),
            }
        }
        StoreError::Conflict { .. } => ApiError::Conflict {
            message: "slug: another status page has this slug".into(),
            field: Some("slug".into()),
        },
        e => ApiError::or_not_found("status page")(e),
    }
}

/// Creates a status page (admins).
pub async fn create_page_with(
    state: &AppState,
    actor: Actor,
    body: PageBody,
) -> ApiResult<StatusPage> {
    if body.name.is_none() {
        return Err(ApiError::invalid("name", "is required"));
    }
    if body.slug.is_none() {
        return Err(ApiError::invalid("slug", "is required"));
    }
    let now = state.clock.now();
    let mut p = StatusPage {
        id: StatusPageId::new(now, random_bytes()),
        code: new_code(),
        name: String::new(),
        slug: String::new(),
        hostname: None,
        logo_url: None,
        accent_color: "#1f6feb".into(),
        time_zone: "UTC".into(),
        footer_links: Vec::new(),
        visibility: Visibility::Public,
        password_hash: None,
        partial_outage_weight: 0.3,
        revision: 1,
        created_at: now,
        updated_at: now,
    };
    apply(state, &mut p, body).await?;
    let e = page_event(
        p.id,
        now,
        actor,
        EventKind::StatusPageCreated,
        json!({"name": p.name, "slug": p.slug}),
    );
    let p = state
        .store
        .create_status_page(p, e)
        .await
        .map_err(page_conflict)?;
    state.status_refresh.changed().await;
    Ok(p)
}

pub async fn update_page_with(
    state: &AppState,
    actor: Actor,
    id: StatusPageId,
    body: PageBody,
) -> ApiResult<StatusPage> {
    let mut p = state
        .store
        .status_page(id)
        .await
        .map_err(ApiError::or_not_found("status page"))?;
    apply(state, &mut p, body).await?;
    let now = state.clock.now();
    p.updated_at = now;
    let e = page_event(
        id,
        now,
        actor,
        EventKind::StatusPageUpdated,
        json!({"name": p.name, "slug": p.slug, "visibility": p.visibility.as_str()}),
    );
    let p = state
        .store
        .update_status_page(p, e)
        .await
        .map_err(page_conflict)?;
    state.status_refresh.changed().await;
    Ok(p)
}

pub async fn delete_page_with(state: &AppState, actor: Actor, id: StatusPageId) -> ApiResult<()> {
    let now = state.clock.now();
    let e = page_event(id, now, actor, EventKind::StatusPageDeleted, json!({}));
    state
        .store
        .delete_status_page(id, e)
        .await
        .map_err(ApiError::or_not_found("status page"))?;
    state.status_refresh.changed().await;
    Ok(())
}

/// Every status page.
#[utoipa::path(get, path = "/api/v1/status-pages", tag = "status pages",
    responses((status = 200, body = Vec<StatusPageOut>), (status = 401, body = ErrorBody)))]
async fn list_status_pages(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<StatusPageOut>>> {
    caller.require(Role::Viewer)?;
    let all = state.store.list_status_pages().await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// Creates a status page (admin).
#[utoipa::path(post, path = "/api/v1/status-pages", tag = "status pages", request_body = PageBody,
    responses((status = 201, body = StatusPageOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_status_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PageBody>,
) -> ApiResult<(StatusCode, Json<StatusPageOut>)> {
    caller.require(Role::Admin)?;
    let p = create_page_with(&state, caller.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

/// One status page.
#[utoipa::path(get, path = "/api/v1/status-pages/{page}", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1)),
    responses((status = 200, body = StatusPageOut), (status = 404, body = ErrorBody)))]
async fn get_status_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(page): Path<String>,
) -> ApiResult<Json<StatusPageOut>> {
    caller.require(Role::Viewer)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let p = state
        .store
        .status_page(id)
        .await
        .map_err(ApiError::or_not_found("status page"))?;
    Ok(Json(p.into()))
}

/// Changes a status page (admin). `password` sets a new shared password.
#[utoipa::path(patch, path = "/api/v1/status-pages/{page}", tag = "status pages", request_body = PageBody,
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1)),
    responses((status = 200, body = StatusPageOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_status_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(page): Path<String>,
    ApiJson(body): ApiJson<PageBody>,
) -> ApiResult<Json<StatusPageOut>> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    Ok(Json(
        update_page_with(&state, caller.actor(), id, body)
            .await?
            .into(),
    ))
}

/// Deletes a status page with its components and public incidents (admin).
#[utoipa::path(delete, path = "/api/v1/status-pages/{page}", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_status_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(page): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    delete_page_with(&state, caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- components ---------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: ComponentId,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    /// The group's code, for a member of a group.
    pub group: Option<String>,
    pub is_group: bool,
    pub position: i64,
    pub status: ComponentStatus,
    pub only_show_if_degraded: bool,
    pub show_uptime: bool,
    /// Ids of the Klaxon services it depends on.
    #[schema(value_type = Vec<String>)]
    pub services: Vec<ServiceId>,
    /// Its status follows its checks: set by Klaxon whenever one of them changes state.
    pub follow_checks: bool,
    /// Its checks: the enabled uptime checks on its services (followed when `follow_checks`).
    pub checks: u32,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// A component's checks: the enabled uptime checks on the services it depends on.
pub(crate) fn checks_of<'a>(c: &Component, checks: &'a [Check]) -> Vec<&'a Check> {
    checks
        .iter()
        .filter(|k| k.enabled && c.service_ids.contains(&k.service_id))
        .collect()
}

fn component_out(c: Component, all: &[Component], checks: &[Check]) -> ComponentOut {
    let group = c
        .group_id
        .and_then(|g| all.iter().find(|x| x.id == g))
        .map(|g| g.code.clone());
    let n = u32::try_from(checks_of(&c, checks).len()).unwrap_or(u32::MAX);
    ComponentOut {
        id: c.id,
        code: c.code,
        name: c.name,
        description: c.description,
        group,
        is_group: c.is_group,
        position: c.position,
        status: c.status,
        only_show_if_degraded: c.only_show_if_degraded,
        show_uptime: c.show_uptime,
        services: c.service_ids,
        follow_checks: c.follow_checks,
        checks: n,
        updated_at: c.updated_at,
    }
}

/// A component's settings. On create, `name` is required.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentBody {
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// `""` for none.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// The group it belongs to: its code, id or name; `""` for none. Groups hold components,
    /// not groups (two levels at most).
    pub group: Option<String>,
    /// A group of components (create only).
    pub is_group: Option<bool>,
    /// Order among its siblings, smallest first. Default: after the last.
    pub position: Option<i64>,
    pub status: Option<ComponentStatus>,
    /// Shown only while not operational.
    pub only_show_if_degraded: Option<bool>,
    /// Shows 90 days of uptime bars (default true).
    pub show_uptime: Option<bool>,
    /// Klaxon services it depends on (ids or names): an incident on one proposes a status.
    pub services: Option<Vec<String>>,
    /// Its status follows the enabled uptime checks on those services (default false): all
    /// up is operational, some down a partial outage, all down a major outage, set each time
    /// one changes state, except while a maintenance in progress holds it. Not for groups.
    pub follow_checks: Option<bool>,
}

/// A component of `page` by its code, id or name (exact, else ignoring ASCII case).
pub(crate) fn find_component<'a>(
    all: &'a [Component],
    raw: &str,
    at: At<'_>,
) -> ApiResult<&'a Component> {
    let raw = raw.trim();
    let hit = all
        .iter()
        .find(|c| c.code == raw || c.id.to_string() == raw || c.name == raw)
        .or_else(|| {
            let mut folded = all.iter().filter(|c| c.name.eq_ignore_ascii_case(raw));
            match (folded.next(), folded.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        });
    hit.ok_or_else(|| match at {
        At::Path(_) => ApiError::NotFound(format!("no component is called \"{raw}\"")),
        At::Field(f) => ApiError::invalid(f, format!("no component is called \"{raw}\"")),
    })
}

async fn apply_component(
    state: &AppState,
    c: &mut Component,
    all: &[Component],
    body: ComponentBody,
) -> ApiResult<()> {
    if let Some(n) = &body.name {
        c.name = rules::parse_title("name", n, 100)?;
    }
    if let Some(d) = optional_text(&body.description) {
        c.description = d
            .map(|d| rules::parse_text("description", d, 2000))
            .transpose()?;
    }
    if let Some(g) = optional_text(&body.group) {
        c.group_id = match g {
            None => None,
            Some(g) => {
                let group = find_component(all, g, At::Field("group"))?;
                if !group.is_group {
                    return Err(ApiError::invalid(
                        "group",
                        format!("{} is not a group", group.name),
                    ));
                }
                if c.is_group {
                    return Err(ApiError::invalid("group", "a group cannot be in a group"));
                }
                Some(group.id)
            }
        };
    }
    if let Some(p) = body.position {
        c.position = p;
    }
    if let Some(s) = body.status {
        c.status = s;
    }
    if let Some(b) = body.only_show_if_degraded {
        c.only_show_if_degraded = b;
    }
    if let Some(b) = body.show_uptime {
        c.show_uptime = b;
    }
    if let Some(services) = &body.services {
        let mut ids = Vec::with_capacity(services.len());
        for (i, s) in services.iter().enumerate() {
            let field = format!("services[{i}]");
            ids.push(terms::service(state, s, At::Field(&field)).await?);
        }
        ids.sort();
        ids.dedup();
        c.service_ids = ids;
    }
    if let Some(f) = body.follow_checks {
        c.follow_checks = f;
    }
    // A group reads as its worst member: its members follow checks, not the group.
    if c.is_group && c.follow_checks {
        return Err(ApiError::invalid(
            "follow_checks",
            "a group shows its worst member: let its components follow their checks",
        ));
    }
    Ok(())
}

pub async fn create_component_with(
    state: &AppState,
    actor: Actor,
    page: StatusPageId,
    body: ComponentBody,
) -> ApiResult<Component> {
    if body.name.is_none() {
        return Err(ApiError::invalid("name", "is required"));
    }
    let all = state
        .store
        .list_components(page)
        .await
        .map_err(ApiError::or_not_found("status page"))?;
    let now = state.clock.now();
    let mut c = Component {
        id: ComponentId::new(now, random_bytes()),
        code: new_code(),
        page_id: page,
        group_id: None,
        is_group: body.is_group.unwrap_or(false),
        name: String::new(),
        description: None,
        position: all.iter().map(|c| c.position + 1).max().unwrap_or(0),
        status: ComponentStatus::Operational,
        only_show_if_degraded: false,
        show_uptime: true,
        service_ids: Vec::new(),
        follow_checks: false,
        created_at: now,
        updated_at: now,
    };
    apply_component(state, &mut c, &all, body).await?;
    let e = page_event(
        page,
        now,
        actor,
        EventKind::StatusComponentAdded,
        json!({"component": c.code, "name": c.name, "status": c.status}),
    );
    let c = state
        .store
        .create_component(c, e)
        .await
        .map_err(ApiError::or_not_found("status page"))?;
    state.status_refresh.changed().await;
    Ok(c)
}

pub async fn update_component_with(
    state: &AppState,
    actor: Actor,
    page: StatusPageId,
    component: &str,
    body: ComponentBody,
) -> ApiResult<Component> {
    if body.is_group.is_some() {
        return Err(ApiError::invalid(
            "is_group",
            "is set when the component is created",
        ));
    }
    let all = state.store.list_components(page).await?;
    let mut c = find_component(&all, component, At::Path("component"))?.clone();
    let old = c.status;
    apply_component(state, &mut c, &all, body).await?;
    let now = state.clock.now();
    c.updated_at = now;
    let moved = (c.status != old).then_some((old, c.status));
    let e = domain::component_updated(page, now, actor, &c.code, &c.name, moved);
    let c = state
        .store
        .update_component(c, e)
        .await
        .map_err(ApiError::or_not_found("component"))?;
    state.status_refresh.changed().await;
    Ok(c)
}

pub async fn delete_component_with(
    state: &AppState,
    actor: Actor,
    page: StatusPageId,
    component: &str,
) -> ApiResult<()> {
    let all = state.store.list_components(page).await?;
    let c = find_component(&all, component, At::Path("component"))?;
    let now = state.clock.now();
    let e = page_event(
        page,
        now,
        actor,
        EventKind::StatusComponentRemoved,
        json!({"component": c.code, "name": c.name}),
    );
    state
        .store
        .delete_component(c.id, e)
        .await
        .map_err(ApiError::or_not_found("component"))?;
    state.status_refresh.changed().await;
    Ok(())
}

/// A page's components and groups, each group followed by its members.
#[utoipa::path(get, path = "/api/v1/status-pages/{page}/components", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1)),
    responses((status = 200, body = Vec<ComponentOut>), (status = 404, body = ErrorBody)))]
async fn list_status_components(
    State(state): State<AppState>,
    caller: Caller,
    Path(page): Path<String>,
) -> ApiResult<Json<Vec<ComponentOut>>> {
    caller.require(Role::Viewer)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let all = state.store.list_components(id).await?;
    let checks = state.store.list_checks().await?;
    let out = all
        .iter()
        .cloned()
        .map(|c| component_out(c, &all, &checks))
        .collect();
    Ok(Json(out))
}

/// Adds a component or a group (admin).
#[utoipa::path(post, path = "/api/v1/status-pages/{page}/components", tag = "status pages", request_body = ComponentBody,
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1)),
    responses((status = 201, body = ComponentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_status_component(
    State(state): State<AppState>,
    caller: Caller,
    Path(page): Path<String>,
    ApiJson(body): ApiJson<ComponentBody>,
) -> ApiResult<(StatusCode, Json<ComponentOut>)> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let c = create_component_with(&state, caller.actor(), id, body).await?;
    let all = state.store.list_components(id).await?;
    let checks = state.store.list_checks().await?;
    Ok((StatusCode::CREATED, Json(component_out(c, &all, &checks))))
}

/// Changes a component. Responders may change its status only; admins anything.
#[utoipa::path(patch, path = "/api/v1/status-pages/{page}/components/{component}", tag = "status pages", request_body = ComponentBody,
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1),
        ("component" = String, Path, description = "Component code, id or name", min_length = 1)),
    responses((status = 200, body = ComponentOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_status_component(
    State(state): State<AppState>,
    caller: Caller,
    Path((page, component)): Path<(String, String)>,
    ApiJson(body): ApiJson<ComponentBody>,
) -> ApiResult<Json<ComponentOut>> {
    let status_only = body.status.is_some()
        && body.name.is_none()
        && body.description.is_none()
        && body.group.is_none()
        && body.is_group.is_none()
        && body.position.is_none()
        && body.only_show_if_degraded.is_none()
        && body.show_uptime.is_none()
        && body.services.is_none()
        && body.follow_checks.is_none();
    caller.require(if status_only {
        Role::Responder
    } else {
        Role::Admin
    })?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    let c = update_component_with(&state, caller.actor(), id, &component, body).await?;
    let all = state.store.list_components(id).await?;
    let checks = state.store.list_checks().await?;
    Ok(Json(component_out(c, &all, &checks)))
}

/// Deletes a component (a group with its members) (admin).
#[utoipa::path(delete, path = "/api/v1/status-pages/{page}/components/{component}", tag = "status pages",
    params(("page" = String, Path, description = terms::doc::STATUS_PAGE, min_length = 1),
        ("component" = String, Path, description = "Component code, id or name", min_length = 1)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_status_component(
    State(state): State<AppState>,
    caller: Caller,
    Path((page, component)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let id = terms::status_page(&state, &page, At::Path("page")).await?;
    delete_component_with(&state, caller.actor(), id, &component).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! What readers reach: `/status/{slug}/…` (and the same at the root of a page's own host name),
//! answered from the snapshot with ETags, gzip and cache headers. Private pages ask for their
//! shared password (a signed cookie) or a Klaxon sign-in first; a private page's documents are
//! only ever served behind that check.
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Form, Router};
use klaxon_store::{StatusPage, Visibility};
use serde::Deserialize;

use super::snapshot::{Doc, Rendered, Snapshots};
use crate::shared::crypto::{base64url, bytes_equal, hmac_sha256};
use crate::shared::state::AppState;
use crate::shared::web::{WebSession, cookie, set_cookie};

/// The server key that signs private pages' password cookies.
pub const COOKIE_KEY: &str = "status-pages";
const COOKIE_DAYS: i64 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/status", get(index))
        .route("/status/{slug}", get(page_root))
        .route("/status/{slug}/", get(page_root))
        .route("/status/{slug}/login", get(login_form).post(login))
        .route("/status/{slug}/{*rest}", get(document))
}

#[derive(Template)]
#[template(path = "status/index.html")]
struct IndexHtml {
    pages: Vec<(String, String)>,
}

/// The public pages, to find one.
async fn index(Extension(snaps): Extension<Arc<Snapshots>>) -> Response {
    let pages: Vec<(String, String)> = snaps
        .all()
        .iter()
        .filter(|r| r.page.visibility == Visibility::Public)
        .map(|r| (r.page.slug.clone(), r.page.name.clone()))
        .collect();
    if pages.len() == 1 {
        return Redirect::to(&format!("/status/{}", pages[0].0)).into_response();
    }
    let body = IndexHtml { pages }.render().unwrap_or_default();
    with_csp((StatusCode::OK, axum::response::Html(body)).into_response())
}

pub(super) fn with_csp(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    r
}

pub(super) fn not_found() -> Response {
    with_csp(
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Not found.\n",
        )
            .into_response(),
    )
}

async fn page_root(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path(slug): Path<String>,
    req: Request,
) -> Response {
    serve(&state, &snaps, &slug, "", req).await
}

async fn document(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path((slug, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    serve(&state, &snaps, &slug, rest.trim_end_matches('/'), req).await
}

/// The cookie that lets a browser read a password page: signed with a server key over the
/// page and its password's hash, so a new password shuts every browser out.
fn pass_value(key: &[u8; 32], page: &StatusPage) -> String {
    let mut data = page.id.to_string().into_bytes();
    data.push(0);
    data.extend(page.password_hash.as_deref().unwrap_or("").as_bytes());
    base64url(&hmac_sha256(key, &data))
}

fn cookie_name(page: &StatusPage) -> String {
    format!("klaxon_status_{}", page.code)
}

/// Whether this request may read `r`; otherwise the answer to give.
pub(super) async fn admit(
    state: &AppState,
    snaps: &Snapshots,
    r: &Rendered,
    parts: &mut axum::http::request::Parts,
) -> Result<(), Response> {
    match r.page.visibility {
        Visibility::Public => Ok(()),
        Visibility::Password => {
            let ok = snaps.cookie_key().is_some_and(|key| {
                cookie(&parts.headers, &cookie_name(&r.page)).is_some_and(|v| {
                    bytes_equal(v.as_bytes(), pass_value(&key, &r.page).as_bytes())
                })
            });
            if ok {
                Ok(())
            } else {
                Err(Redirect::to(&format!("/status/{}/login", r.page.slug)).into_response())
            }
        }
        Visibility::SignIn => match WebSession::from_request_parts(parts, state).await {
            Ok(_) => Ok(()),
            Err(_) => Err(Redirect::to("/login").into_response()),
        },
    }
}

async fn serve(
    state: &AppState,
    snaps: &Snapshots,
    slug: &str,
    path: &str,
    req: Request,
) -> Response {
    let Some(r) = snaps.by_slug(slug) else {
        return not_found();
    };
    // The body is not read: a reader's request is its head.
    let (mut parts, _) = req.into_parts();
    if let Err(resp) = admit(state, snaps, &r, &mut parts).await {
        return resp;
    }
    let Some(doc) = r.docs.get(path) else {
        return not_found();
    };
    respond(doc, r.page.visibility == Visibility::Public, &parts.headers)
}

/// A public page's document for a plain `GET`, answered before the application's middleware
/// (sessions, request ids, time-outs, error shaping): a reader's request needs none of it, and
/// the page must keep up with a flood of readers during an outage. Anything else (a private
/// page, a form, a path that is no document) returns `None` and goes the usual way.
pub fn fast_path(snaps: &Snapshots, req: &Request) -> Option<Response> {
    if req.method() != axum::http::Method::GET {
        return None;
    }
    let rest = req.uri().path().strip_prefix("/status/")?;
    let (slug, path) = rest.split_once('/').unwrap_or((rest, ""));
    let r = snaps.by_slug(slug)?;
    if r.page.visibility != Visibility::Public {
        return None;
    }
    let doc = r.docs.get(path.trim_end_matches('/'))?;
    let route = if rest.contains('/') {
        "/status/{slug}/{*rest}"
    } else {
        "/status/{slug}"
    };
    let resp = respond(doc, true, req.headers());
    // The same series the middleware would count, so dashboards see readers too.
    metrics::counter!(
        "klaxon_http_requests_total",
        "method" => "GET",
        "path" => route,
        "status" => resp.status().as_str().to_owned()
    )
    .increment(1);
    Some(resp)
}

/// A document's answer: 304 for a matching `If-None-Match`, gzip when the reader takes it,
/// and the page's cache, type and security headers.
fn respond(doc: &Doc, public: bool, headers: &HeaderMap) -> Response {
    let cache = if public {
        "public, max-age=30"
    } else {
        "private, no-cache"
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == doc.etag || t.trim() == "*")
        });
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("gzip"));
        match (&doc.gzip, gzip) {
            (Some(z), true) => {
                let mut resp = z.clone().into_response();
                resp.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                resp
            }
            _ => doc.body.clone().into_response(),
        }
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(doc.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&doc.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Cookie"),
    );
    if doc.content_type.starts_with("application/json") && public {
        // Status widgets on other sites read the JSON.
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    // The application's middleware adds this to every other answer.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    with_csp(resp)
}

#[derive(Template)]
#[template(path = "status/login.html")]
struct LoginHtml {
    name: String,
    slug: String,
    error: Option<&'static str>,
}

async fn login_form(
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path(slug): Path<String>,
) -> Response {
    let Some(r) = snaps.by_slug(&slug) else {
        return not_found();
    };
    if r.page.visibility != Visibility::Password {
        return Redirect::to(&format!("/status/{slug}")).into_response();
    }
    let body = LoginHtml {
        name: r.page.name.clone(),
        slug,
        error: None,
    };
    with_csp(
        (
            StatusCode::OK,
            axum::response::Html(body.render().unwrap_or_default()),
        )
            .into_response(),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<AppState>,
    Extension(snaps): Extension<Arc<Snapshots>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let Some(r) = snaps.by_slug(&slug) else {
        return not_found();
    };
    if r.page.visibility != Visibility::Password {
        return Redirect::to(&format!("/status/{slug}")).into_response();
    }
    let ok = state
        .passwords
        .verify(&f.password, r.page.password_hash.clone())
        .await
        .unwrap_or(false);
    let key = snaps.cookie_key();
    match (ok, key) {
        (true, Some(key)) => {
            let tls = crate::shared::web::origin(&state, &headers, None).tls;
            let mut resp = Redirect::to(&format!("/status/{slug}")).into_response();
            resp.headers_mut().insert(
                header::SET_COOKIE,
                set_cookie(
                    &cookie_name(&r.page),
                    &pass_value(&key, &r.page),
                    COOKIE_DAYS * 86_400,
                    tls,
                ),
            );
            resp
        }
        _ => {
            let body = LoginHtml {
                name: r.page.name.clone(),
                slug,
                error: Some("That password is not right."),
            };
            with_csp(
                (
                    StatusCode::UNAUTHORIZED,
                    axum::response::Html(body.render().unwrap_or_default()),
                )
                    .into_response(),
            )
        }
    }
}

/// Rewrites a request for a page's own host name (`status.example.com/…`) to its path
/// (`/status/{slug}/…`), before routing. It sees every request, so it is one map lookup in the
/// snapshot: no scan, no database.
pub fn host_rewrite(snaps: &Snapshots, req: &mut Request) {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.rsplit_once(':').map_or(h, |(name, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    name
                } else {
                    h
                }
            })
        })
        // A fully qualified name (`status.example.com.`) is the same host.
        .map(|h| h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase());
    let Some(host) = host else {
        return;
    };
    let Some(slug) = snaps.slug_for_host(&host) else {
        return;
    };
    let path = req.uri().path();
    if path.starts_with("/status/") {
        return;
    }
    let rest = path.trim_start_matches('/');
    let new = if rest.is_empty() {
        format!("/status/{slug}")
    } else {
        format!("/status/{slug}/{rest}")
    };
    let pq = match req.uri().query() {
        Some(q) => format!("{new}?{q}"),
        None => new,
    };
    if let Ok(uri) = pq.parse() {
        *req.uri_mut() = uri;
    }
}

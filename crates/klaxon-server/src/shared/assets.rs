//! The stylesheet and scripts, from `assets/`, embedded at build time and served under a URL
//! that carries a hash of their content, so browsers may keep them for a year: a new release
//! with a changed file has a new URL.
use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::shared::crypto::{hex, sha256};
use crate::shared::state::AppState;

struct Asset {
    /// `app.css`: the file's name in `assets/`.
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// One stylesheet for every page, from a file per area (`assets/css/`) so that each capability
/// keeps its styles beside the others' without sharing a file. The shell and tokens come first.
const APP_CSS: &str = concat!(
    include_str!("../../assets/css/base.css"),
    include_str!("../../assets/css/home.css"),
    include_str!("../../assets/css/incidents.css"),
    include_str!("../../assets/css/alerts.css"),
    include_str!("../../assets/css/checks.css"),
    include_str!("../../assets/css/oncall.css"),
    include_str!("../../assets/css/schedules.css"),
    include_str!("../../assets/css/people.css"),
    include_str!("../../assets/css/insights.css"),
    include_str!("../../assets/css/status_admin.css"),
    include_str!("../../assets/css/postmortems.css"),
    include_str!("../../assets/css/slos.css"),
    include_str!("../../assets/css/runbooks.css"),
);

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: APP_CSS,
    },
    Asset {
        name: "nojs.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../assets/nojs.css"),
    },
    Asset {
        name: "shell.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/shell.js"),
    },
    Asset {
        name: "schedules.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/schedules.js"),
    },
    Asset {
        name: "live.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/live.js"),
    },
    Asset {
        name: "list.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/list.js"),
    },
    Asset {
        name: "incident.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/incident.js"),
    },
];

/// `app.css` → `app.1a2b3c4d5e6f.css`: the first 12 hex digits of the content's SHA-256.
fn hashed_name(a: &Asset) -> String {
    let digest = hex(&sha256(a.body.as_bytes()));
    match a.name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{}.{ext}", &digest[..12]),
        None => format!("{}.{}", a.name, &digest[..12]),
    }
}

static HASHED: LazyLock<Vec<(String, &'static Asset)>> =
    LazyLock::new(|| ASSETS.iter().map(|a| (hashed_name(a), a)).collect());

/// The URL of an asset by its file name, for templates: `/assets/app.<hash>.css`.
pub fn url(name: &str) -> String {
    HASHED
        .iter()
        .find(|(_, a)| a.name == name)
        .map(|(h, _)| format!("/assets/{h}"))
        .unwrap_or_else(|| format!("/assets/{name}"))
}

/// The stylesheet's URL, for `base.html`.
pub fn css_url() -> String {
    url("app.css")
}

pub fn router() -> Router<AppState> {
    Router::new().route("/assets/{file}", get(serve))
}

async fn serve(Path(file): Path<String>) -> Response {
    match HASHED.iter().find(|(h, _)| *h == file) {
        Some((_, a)) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.body,
        )
            .into_response(),
        None => crate::shared::web::no_such_page(),
    }
}

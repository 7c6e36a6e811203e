//! Status pages: what customers read while something is broken. Admins shape pages and
//! components; the communications lead publishes incidents and maintenances from Klaxon's
//! incidents; readers get HTML, Statuspage v2 JSON and feeds from an in-memory snapshot that
//! outlives a database outage.
pub mod export;
mod feeds;
pub mod incidents_api;
pub mod maintenance;
pub mod notices;
pub mod pages_api;
pub mod public;
pub mod render;
pub mod snapshot;
pub mod subscribe;
pub mod subscribers;
mod v2;
pub mod web;
mod web_footer;
mod web_incidents;
mod web_subscribers;

use utoipa_axum::router::OpenApiRouter;

use crate::shared::state::AppState;

/// The REST routes of status pages.
pub fn api_router() -> OpenApiRouter<AppState> {
    pages_api::router()
        .merge(incidents_api::router())
        .merge(subscribers::router())
}

/// The pages readers reach (`/status/…`).
pub fn public_router() -> axum::Router<AppState> {
    public::router().merge(subscribe::router())
}

//! Incident response: declaring, the lifecycle and milestones, responders and roles, tasks, the
//! timeline, stakeholder updates, related incidents, and the pages sent on an incident.
use utoipa_axum::router::OpenApiRouter;

use crate::shared::state::AppState;

pub mod ack;
pub mod api;
pub mod describe;
pub mod list;
pub mod live;
pub mod live_list;
pub mod paging;
pub mod relations;
pub mod responders;
pub mod tasks;
pub mod timeline;
pub mod updates;
pub mod web;
pub mod web_forms;
pub mod web_list;
pub mod web_page;
pub mod web_postmortem;
pub mod web_status;

/// Every incident route of the REST API.
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
        .merge(list::router())
        .merge(paging::router())
        .merge(relations::router())
        .merge(responders::router())
        .merge(tasks::router())
        .merge(timeline::router())
        .merge(updates::router())
}

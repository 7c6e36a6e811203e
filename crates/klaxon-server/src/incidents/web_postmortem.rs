//! The incident page's postmortem panel: a link to its postmortem, or a button to start one
//! once the incident is resolved. Read from the store (the postmortems folder depends on this
//! one, not the other way round).
use klaxon_domain::auth::Role;
use klaxon_store::Incident;

use crate::shared::error::ApiResult;
use crate::shared::state::AppState;
use crate::shared::web::WebSession;

pub struct PostmortemPanel {
    /// Its id and state, when it has one.
    pub existing: Option<(String, String)>,
    pub required: bool,
    pub can_start: bool,
}

pub async fn panel(state: &AppState, s: &WebSession, i: &Incident) -> ApiResult<PostmortemPanel> {
    let pm = state.store.postmortem_of_incident(i.id).await?;
    let rules = state.settings.postmortems.rules().unwrap_or_default();
    Ok(PostmortemPanel {
        existing: pm.map(|p| (p.id.to_string(), p.state.as_str().replace('_', " "))),
        required: rules.required(i.severity),
        can_start: !i.status.is_open() && s.user.role.allows(Role::Responder),
    })
}

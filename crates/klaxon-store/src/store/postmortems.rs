//! Postmortems: one per resolved incident, its review and its publishing.
use async_trait::async_trait;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{IncidentId, PostmortemId};
use klaxon_domain::incident::Refusal;
use klaxon_domain::postmortem::Postmortem;

use crate::{PostmortemAttach, PostmortemEdit, PostmortemFilter, PostmortemSummary, StoreResult};

#[async_trait]
pub trait PostmortemStore: Send + Sync + 'static {
    /// Writes a new postmortem and its event on the incident's timeline. `Conflict
    /// { constraint: "incident_status" }` unless the incident is resolved or closed;
    /// `Conflict { constraint: "postmortems_incident_id" }` when it already has one;
    /// `NotFound` without the incident.
    async fn create_postmortem(&self, pm: Postmortem, event: NewEvent) -> StoreResult<Postmortem>;

    /// The postmortem with its sections, factors, reviewers, timeline choices and comments.
    async fn postmortem(&self, id: PostmortemId) -> StoreResult<Postmortem>;

    /// The incident's postmortem, if it has one.
    async fn postmortem_of_incident(&self, id: IncidentId) -> StoreResult<Option<Postmortem>>;

    /// Postmortems newest first, by state and text (in the incident's title or a section).
    async fn list_postmortems(
        &self,
        filter: &PostmortemFilter,
    ) -> StoreResult<Vec<PostmortemSummary>>;

    /// Changes a postmortem: reads it, holds it against other changes, runs `edit` and writes
    /// the postmortem it returns (replacing its parts) and its events, in one transaction. The
    /// inner `Err` is `edit`'s refusal (nothing written).
    async fn change_postmortem(
        &self,
        id: PostmortemId,
        edit: PostmortemEdit,
    ) -> StoreResult<Result<Postmortem, Refusal>>;

    /// Attaches a published postmortem's public summary to public incidents of its incident,
    /// with the incident's event, each page's event and the subscribers' notices, in one
    /// transaction. `Conflict { constraint: "postmortem_state" }` unless the postmortem is
    /// published with that summary; `Conflict { constraint: "status_incidents_postmortem" }`
    /// when a target is not the incident's or already shows one (nothing written);
    /// `NotFound` without the postmortem.
    async fn attach_postmortem(&self, a: PostmortemAttach) -> StoreResult<()>;
}

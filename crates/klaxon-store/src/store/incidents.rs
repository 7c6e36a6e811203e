//! Incidents and incident response.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{IncidentId, UserId};

use klaxon_domain::alert::AlertStatus;
use klaxon_domain::incident::{IncidentStatus, Refusal, stamp_move};

use crate::{
    Incident, IncidentChange, IncidentEdit, IncidentFilter, IncidentSnapshot, IncidentTask,
    NewIncident, Page, RoleAssignment, StoreError, StoreResult,
};

/// Incidents and incident response: status, roles, tasks, subscribers, relations, merges and
/// the timeline's pins.
#[async_trait]
pub trait IncidentStore: Send + Sync + 'static {
    async fn incident(&self, id: IncidentId) -> StoreResult<Incident>;

    /// The id of the incident numbered `number` (the `#75` people say); `NotFound` when none.
    async fn incident_id_by_number(&self, number: i64) -> StoreResult<IncidentId>;

    /// Incidents newest first by number, starting after (below) the number `after`.
    async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Page<Incident, i64>>;

    /// Acknowledges (status `acknowledged`) or resolves an incident by hand, with its open
    /// alerts, writing `events` (the caller's) plus one per alert changed. `Conflict
    /// { constraint: "incident_status" }` when the move is not allowed from its status.
    async fn set_incident_status(
        &self,
        id: IncidentId,
        status: klaxon_domain::incident::IncidentStatus,
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<Incident> {
        let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
            let from = snap.incident.status;
            let allowed = match status {
                IncidentStatus::Acknowledged => from == IncidentStatus::Triggered,
                IncidentStatus::Resolved => from.is_open(),
                _ => false,
            };
            if !allowed {
                return Err(Refusal::conflict("status", "not allowed"));
            }
            let mut c = IncidentChange::of(snap, at, event.actor);
            let mut m = snap.incident.milestones();
            stamp_move(&mut m, from, status, at);
            c.incident.set_milestones(m);
            c.incident.status = status;
            c.alerts = Some(match status {
                IncidentStatus::Acknowledged => AlertStatus::Acknowledged,
                _ => AlertStatus::Resolved,
            });
            c.events.push(event);
            Ok(c)
        });
        match self.change_incident(id, edit).await? {
            Ok(i) => Ok(i),
            Err(_) => Err(StoreError::Conflict {
                constraint: "incident_status".into(),
            }),
        }
    }

    /// Writes a declared incident (numbered by the store), its first role holders, its
    /// escalation job and events. `NotFound` when the service or a user does not exist.
    async fn declare_incident(&self, new: NewIncident) -> StoreResult<Incident>;

    /// Changes an incident: reads it and its role holders, locks it against other changes, runs
    /// `edit` on that state and writes what it decides, all in one transaction. The inner
    /// `Err` is `edit`'s refusal (nothing written). `NotFound` without the incident, or when
    /// an assigned user does not exist.
    async fn change_incident(
        &self,
        id: IncidentId,
        edit: IncidentEdit,
    ) -> StoreResult<Result<Incident, Refusal>>;

    /// The incident's role holders: current ones, or everyone who ever held a role (oldest
    /// first) with `history`.
    async fn incident_roles(
        &self,
        id: IncidentId,
        history: bool,
    ) -> StoreResult<Vec<RoleAssignment>>;

    /// Relates two incidents (both ways), or unrelates them, writing an `incident.related` /
    /// `incident.unrelated` event on each. Refused when they are one incident, or already in
    /// (or not in) that relation. `NotFound` without either.
    async fn relate_incidents(
        &self,
        a: IncidentId,
        b: IncidentId,
        related: bool,
        at: Timestamp,
        actor: klaxon_domain::event::Actor,
    ) -> StoreResult<Result<(), Refusal>>;

    /// The incidents related to this one, newest first. `NotFound` without it.
    async fn related_incidents(&self, id: IncidentId) -> StoreResult<Vec<Incident>>;

    /// Merges the duplicate `from` into `into`, in one transaction: `from`'s alerts move to
    /// `into`, `from` is resolved (with its open alerts' escalation stopped) and remembers where
    /// it went, and each gets an event (`incident.merged`, `incident.merged_in`). Both must be
    /// open and different. Returns `into`.
    async fn merge_incident(
        &self,
        from: IncidentId,
        into: IncidentId,
        at: Timestamp,
        actor: klaxon_domain::event::Actor,
    ) -> StoreResult<Result<Incident, Refusal>>;

    /// Who follows the incident. `NotFound` without it.
    async fn incident_subscribers(&self, id: IncidentId) -> StoreResult<Vec<UserId>>;

    /// The incident's tasks, oldest first. `NotFound` without the incident.
    async fn incident_tasks(&self, id: IncidentId) -> StoreResult<Vec<IncidentTask>>;

    /// Pins or unpins an event of the incident's timeline, writing `event`. `NotFound` when
    /// `seq` is not an event of this incident.
    async fn pin_incident_event(
        &self,
        id: IncidentId,
        seq: i64,
        pinned: bool,
        event: NewEvent,
    ) -> StoreResult<()>;
}

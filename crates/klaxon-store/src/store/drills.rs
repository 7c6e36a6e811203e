//! Drills: their scenarios, each drill with the scenario it follows, the steps injected so far,
//! and the scorecard it ended with.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::drill::{Scenario, Scorecard};
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{AlertId, DrillId, DrillScenarioId, IncidentId, UserId};

use crate::{Alert, StoreResult};

/// A scenario as kept; `revision` counts saves.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRecord {
    pub id: DrillScenarioId,
    pub definition: Scenario,
    pub revision: i32,
    pub created_at: Timestamp,
    pub updated_by: Option<UserId>,
    pub updated_at: Timestamp,
}

/// A drill: its incident, and the scenario as it was when the drill started.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillRecord {
    pub id: DrillId,
    pub incident_id: IncidentId,
    pub scenario_id: Option<DrillScenarioId>,
    /// The scenario's name when the drill started (none for a drill declared by hand): drills
    /// of one scenario are compared by it, even after the scenario is gone.
    pub scenario_name: Option<String>,
    pub definition: Scenario,
    pub started_by: Option<UserId>,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub ended_by: Option<UserId>,
    pub scorecard: Option<Scorecard>,
    /// The incident's number, title and status now.
    pub incident_number: i64,
    pub incident_title: String,
    pub incident_status: String,
}

/// A drill's start, written with its incident (see `NewIncident::drill`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDrill {
    /// `incident_*` fields are ignored.
    pub drill: DrillRecord,
    /// The job that injects the scenario's steps when they fall due.
    pub job: crate::NewJob,
}

/// What one scenario step writes besides its events.
#[derive(Debug, Clone, PartialEq)]
pub enum DrillWrite {
    /// A new alert on the drill's incident (which counts it).
    Alert(Box<Alert>),
    /// An alert of the drill resolved, if it is not already.
    Resolve(AlertId),
    /// Only its events (a note).
    Nothing,
}

#[async_trait]
pub trait DrillStore: Send + Sync + 'static {
    /// `Conflict` when the name is taken.
    async fn create_scenario(&self, s: &ScenarioRecord, event: NewEvent) -> StoreResult<()>;
    /// Saves over `revision - 1` only: `Conflict` when someone saved meanwhile, `NotFound`
    /// without it.
    async fn update_scenario(&self, s: &ScenarioRecord, event: NewEvent) -> StoreResult<()>;
    /// Its drills keep their copy of it.
    async fn delete_scenario(&self, id: DrillScenarioId, event: NewEvent) -> StoreResult<()>;
    async fn scenario(&self, id: DrillScenarioId) -> StoreResult<ScenarioRecord>;
    async fn scenario_named(&self, name: &str) -> StoreResult<ScenarioRecord>;
    /// By name.
    async fn list_scenarios(&self) -> StoreResult<Vec<ScenarioRecord>>;

    async fn drill(&self, id: DrillId) -> StoreResult<DrillRecord>;
    async fn drill_of_incident(&self, incident: IncidentId) -> StoreResult<Option<DrillRecord>>;
    /// Newest first, of one scenario (by its name at the time) or all; below `after`.
    async fn list_drills(
        &self,
        scenario: Option<&str>,
        after: Option<DrillId>,
        limit: u32,
    ) -> StoreResult<Vec<DrillRecord>>;
    /// Writes step `position` of a running drill once: false (and nothing written) when it
    /// was written already or the drill has ended.
    async fn drill_step(
        &self,
        drill: DrillId,
        position: u32,
        at: Timestamp,
        write: DrillWrite,
        events: Vec<NewEvent>,
    ) -> StoreResult<bool>;
    /// The steps the drill has taken: (position, when), in order of position.
    async fn drill_steps_taken(&self, drill: DrillId) -> StoreResult<Vec<(u32, Timestamp)>>;
    /// Ends a running drill with its scorecard: false when it had ended already.
    async fn end_drill(
        &self,
        drill: DrillId,
        at: Timestamp,
        by: Option<UserId>,
        scorecard: &Scorecard,
        event: NewEvent,
    ) -> StoreResult<bool>;
}

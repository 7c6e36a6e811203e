//! The error budget resolved incidents burned, per SLO of their service.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::ids::{IncidentId, ServiceId, SloId};
use klaxon_domain::incident::Severity;

use crate::StoreResult;

/// A resolved incident's burn of one SLO still to compute: never computed, or computed for
/// other instants (its milestones moved) or before the SLO last changed.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnDue {
    pub incident_id: IncidentId,
    pub slo_id: SloId,
    /// Impact start (or declaration) to resolution.
    pub from: Timestamp,
    pub to: Timestamp,
}

/// What an incident burned of one SLO, as computed at `computed_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentBurn {
    pub incident_id: IncidentId,
    pub slo_id: SloId,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Bad and all events (or minutes); none when the source gave no answer (kept so, an hour
    /// after resolution, rather than asked again every minute).
    pub bad: Option<f64>,
    pub total: Option<f64>,
    /// The window's budget when the incident ended; none without events in the window.
    pub allowed: Option<f64>,
    pub computed_at: Timestamp,
}

/// A burn with what a ranking shows of its incident.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedBurn {
    pub burn: IncidentBurn,
    pub number: i64,
    pub title: String,
    pub severity: Option<Severity>,
    pub service_id: ServiceId,
}

#[async_trait]
pub trait SloBurnStore: Send + Sync + 'static {
    /// Up to `limit` burns due, oldest resolution first, of incidents (drills left out)
    /// resolved in `[since, settled]` on services with SLOs whose source is not silent.
    async fn due_incident_burns(
        &self,
        since: Timestamp,
        settled: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<BurnDue>>;

    /// Keeps a computed burn, replacing the incident's earlier one for that SLO. Nothing is
    /// written (and no error) when the incident or the SLO is gone meanwhile.
    async fn record_incident_burn(&self, burn: &IncidentBurn) -> StoreResult<()>;

    /// An incident's kept burns, whether or not they are still current.
    async fn incident_burns(&self, incident: IncidentId) -> StoreResult<Vec<IncidentBurn>>;

    /// The current burns (computed for the incident's present impact start and resolution, of
    /// an SLO of its present service) of incidents declared in `[from, to)`, drills left out.
    async fn period_burns(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<RankedBurn>>;
}

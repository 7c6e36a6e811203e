//! Service level objectives: their definitions, rules' states and pushed counts.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{ServiceId, SloId};
use klaxon_domain::slo::availability::{Change, Source};
use klaxon_domain::slo::{BudgetStatus, Counts, Resolution, Slo};

use crate::{NewJob, StoreResult};

/// What one evaluation step decided for an SLO.
#[derive(Debug, Clone)]
pub struct SloEvaluation {
    pub id: SloId,
    pub step: Timestamp,
    /// Rules by name: firing or not, and since when.
    pub rules: Vec<(String, bool, Option<Timestamp>)>,
    pub status: BudgetStatus,
    pub status_since: Timestamp,
    pub silent_since: Option<Timestamp>,
    pub silent_alerted: bool,
    pub events: Vec<NewEvent>,
}

#[async_trait]
pub trait SloStore: Send + Sync + 'static {
    /// Writes a new SLO with its rules and its event, and the evaluator's job (kept once, by
    /// its dedup key). `NotFound` without its service; `Conflict` when the service already has
    /// an SLO of that name.
    async fn create_slo(&self, slo: &Slo, event: NewEvent, job: &NewJob) -> StoreResult<()>;

    async fn slo(&self, id: SloId) -> StoreResult<Slo>;

    /// Every SLO, or a service's, by service and name.
    async fn list_slos(&self, service: Option<ServiceId>) -> StoreResult<Vec<Slo>>;

    /// Writes an SLO's new definition and its event. A rule that keeps its name keeps whether
    /// it is firing, as stored (not as `slo` says: the evaluator may have moved it since it was
    /// read). `NotFound`; `Conflict` on a name the service's other SLOs use.
    async fn update_slo(&self, slo: &Slo, event: NewEvent) -> StoreResult<()>;

    /// Removes an SLO with its rules and counts. `NotFound` without it.
    async fn delete_slo(&self, id: SloId, event: NewEvent) -> StoreResult<()>;

    /// Adds pushed counts to the minute, five-minute, hour and UTC day slices that hold their instants
    /// (readers sum a span from whichever of them covers it whole).
    /// `NotFound` without the SLO.
    async fn push_slo_counts(&self, id: SloId, counts: &[(Timestamp, Counts)]) -> StoreResult<()>;

    /// For each of the SLOs `ids`, the sum of each span `[from, to)` of its slices at
    /// `resolution` (a slice is in a span when its start is). Read for all of them at once:
    /// SLOs with the same windows are evaluated together.
    async fn slo_sums(
        &self,
        ids: &[SloId],
        resolution: Resolution,
        spans: &[(Timestamp, Timestamp)],
    ) -> StoreResult<std::collections::HashMap<SloId, Vec<Counts>>>;

    /// The slices at `resolution` that start in `[from, to)`, oldest first.
    async fn slo_slices(
        &self,
        id: SloId,
        resolution: Resolution,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<(Timestamp, Counts)>>;

    /// Records evaluations of SLOs, each once, all in one transaction (a step that changes
    /// every SLO costs one commit, not one each). For each, in order: `false` (nothing written
    /// for it) when that SLO was evaluated at its step or a later one already (by another
    /// instance, say). The rules named take the states given; the events are written with it.
    async fn record_slo_evaluations(&self, es: Vec<SloEvaluation>) -> StoreResult<Vec<bool>>;

    /// What availability SLIs read: for each of `sources` (uptime checks and status-page
    /// components), its state changes over `[from, to]`: the last one at or before `from` (the
    /// state `from` is in), then every later one up to `to`, oldest first, each as its share
    /// of downtime (a component's partial outage by its page's weight). One read for every
    /// span of every source; a source with no change (deleted) is left out.
    async fn availability_changes(
        &self,
        sources: &[Source],
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<std::collections::HashMap<Source, Vec<Change>>>;

    /// Removes slices at `resolution` that start before `before`. Returns how many.
    async fn prune_slo_counts(&self, resolution: Resolution, before: Timestamp)
    -> StoreResult<u64>;
}

//! Reads for insights: learning from incidents and the load on the people on call.
use async_trait::async_trait;
use jiff::Timestamp;

use crate::{InsightIncident, InsightPage, StoreResult};

#[async_trait]
pub trait InsightStore: Send + Sync + 'static {
    /// Incidents declared in `[from, to)`, drills left out, oldest first.
    async fn insight_incidents(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<InsightIncident>>;

    /// Pages raised in `[from, to)` about incidents that are not drills: sent, being sent or
    /// failed (a page cancelled or still waiting interrupted nobody); stakeholder updates and
    /// test pages are not pages. Oldest first.
    async fn insight_pages(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<InsightPage>>;
}

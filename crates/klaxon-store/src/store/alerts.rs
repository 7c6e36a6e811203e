//! Services, integrations, maintenance windows, alerts and group commit.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{AlertId, IntegrationId, MaintenanceWindowId, ServiceId};

use crate::{
    Alert, AlertFilter, Integration, MaintenanceWindow, NewIntegration, Page, Service, StoreResult,
    Write, WriteAck,
};

/// Services, their integrations and maintenance windows, the alerts signals open, and the
/// group commit that applies signals and heartbeats.
#[async_trait]
pub trait AlertStore: Send + Sync + 'static {
    /// `Conflict { constraint: "services_name" }` when the name is taken.
    async fn create_service(&self, service: Service, event: NewEvent) -> StoreResult<Service>;

    async fn service(&self, id: ServiceId) -> StoreResult<Service>;

    /// The services whose name is `name` ignoring the case of ASCII letters (names are unique
    /// exactly, so several can differ in case only), as id and name; the same on both backends.
    async fn services_named(&self, name: &str) -> StoreResult<Vec<(ServiceId, String)>>;

    async fn list_services(
        &self,
        after: Option<ServiceId>,
        limit: u32,
    ) -> StoreResult<Page<Service, ServiceId>>;

    /// Replaces the service's settings (not its id or creation time).
    async fn update_service(&self, service: Service, event: NewEvent) -> StoreResult<Service>;

    /// Deletes a service with its integrations and maintenance windows. `Conflict
    /// { constraint: "open_alerts" }` while it has open alerts. Its resolved alerts go with it;
    /// its incidents stay, without a service.
    async fn delete_service(&self, id: ServiceId, event: NewEvent) -> StoreResult<()>;

    async fn create_integration(
        &self,
        integration: NewIntegration,
        event: NewEvent,
    ) -> StoreResult<Integration>;

    async fn integration(&self, id: IntegrationId) -> StoreResult<Integration>;

    /// The integrations whose name is `name` ignoring the case of ASCII letters, as id and name,
    /// across every service (names are not unique: two services may each have a "Prometheus").
    async fn integrations_named(&self, name: &str) -> StoreResult<Vec<(IntegrationId, String)>>;

    /// The hot path's lookup: the integration whose key hashes to `hash`.
    async fn integration_by_key(&self, hash: &[u8; 32]) -> StoreResult<Integration>;

    async fn list_integrations(&self, service: ServiceId) -> StoreResult<Vec<Integration>>;

    /// Changes name, rate limit and heartbeat interval.
    async fn update_integration(
        &self,
        integration: Integration,
        event: NewEvent,
    ) -> StoreResult<Integration>;

    /// Replaces the key; the old one stops working at once.
    async fn rotate_integration_key(
        &self,
        id: IntegrationId,
        prefix: &str,
        hash: [u8; 32],
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<Integration>;

    async fn delete_integration(&self, id: IntegrationId, event: NewEvent) -> StoreResult<()>;

    async fn create_maintenance(
        &self,
        window: MaintenanceWindow,
        event: NewEvent,
    ) -> StoreResult<MaintenanceWindow>;

    /// The service's windows that end after `now`, soonest first.
    async fn list_maintenance(
        &self,
        service: ServiceId,
        now: Timestamp,
    ) -> StoreResult<Vec<MaintenanceWindow>>;

    async fn delete_maintenance(
        &self,
        service: ServiceId,
        id: MaintenanceWindowId,
        event: NewEvent,
    ) -> StoreResult<()>;

    async fn alert(&self, id: AlertId) -> StoreResult<Alert>;

    /// The newest trigger's event as the tool sent it (JSON text), if one was kept.
    async fn alert_payload(&self, id: AlertId) -> StoreResult<Option<String>>;

    /// Alerts newest first, starting after (older than) `after`.
    async fn list_alerts(
        &self,
        filter: &AlertFilter,
        after: Option<AlertId>,
        limit: u32,
    ) -> StoreResult<Page<Alert, AlertId>>;

    /// Applies many writes in one transaction, answering for each. If the batch fails as a
    /// whole, each write is retried alone so one bad write cannot sink the others.
    async fn commit_batch(&self, writes: Vec<Write>) -> Vec<StoreResult<WriteAck>>;
}

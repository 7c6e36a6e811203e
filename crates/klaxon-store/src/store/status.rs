//! Status pages.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{ComponentId, IncidentId, ServiceId, StatusIncidentId, StatusPageId};

use crate::{
    Component, StatusIncident, StatusIncidentWithUpdates, StatusInterval, StatusPage, StatusUpdate,
    StoreResult,
};

/// Status pages, their components, and their public incidents and maintenances. Every change
/// a reader of the page can see bumps the page's `revision` in the same transaction.
#[async_trait]
pub trait StatusStore: Send + Sync + 'static {
    /// `Conflict` on `status_pages_slug` or `status_pages_hostname` when taken.
    async fn create_status_page(
        &self,
        page: StatusPage,
        event: NewEvent,
    ) -> StoreResult<StatusPage>;

    async fn status_page(&self, id: StatusPageId) -> StoreResult<StatusPage>;

    /// Every page, by name.
    async fn list_status_pages(&self) -> StoreResult<Vec<StatusPage>>;

    /// The pages whose name or slug is `name`, ignoring ASCII case, as id and name.
    async fn status_pages_named(&self, name: &str) -> StoreResult<Vec<(StatusPageId, String)>>;

    /// Changes everything but the id, code, revision and creation time.
    async fn update_status_page(
        &self,
        page: StatusPage,
        event: NewEvent,
    ) -> StoreResult<StatusPage>;

    /// Deletes a page with its components and public incidents.
    async fn delete_status_page(&self, id: StatusPageId, event: NewEvent) -> StoreResult<()>;

    /// Each page's id and revision, for readers' snapshots to rebuild what changed.
    async fn status_revisions(&self) -> StoreResult<Vec<(StatusPageId, i64)>>;

    /// Adds a component (opening its first status interval) with its services. One that
    /// follows its checks takes their status at once, with its own `Actor::System` event.
    async fn create_component(
        &self,
        component: Component,
        event: NewEvent,
    ) -> StoreResult<Component>;

    async fn component(&self, id: ComponentId) -> StoreResult<Component>;

    /// A page's components and groups, groups' members after them, by position.
    async fn list_components(&self, page: StatusPageId) -> StoreResult<Vec<Component>>;

    /// Changes a component and its services; a new status closes the open interval and opens
    /// another at `component.updated_at`. A component that starts following its checks, or
    /// follows them and changes services, takes their status at once, with its own
    /// `Actor::System` event; otherwise a status set by a person stands until a check moves.
    async fn update_component(
        &self,
        component: Component,
        event: NewEvent,
    ) -> StoreResult<Component>;

    /// Deletes a component (a group with its members).
    async fn delete_component(&self, id: ComponentId, event: NewEvent) -> StoreResult<()>;

    /// The components (of any page) that depend on any of `services`.
    async fn components_of_services(&self, services: &[ServiceId]) -> StoreResult<Vec<Component>>;

    /// A page's status intervals that end after `since` (or have not ended), by start.
    async fn status_intervals(
        &self,
        page: StatusPageId,
        since: Timestamp,
    ) -> StoreResult<Vec<StatusInterval>>;

    /// Opens a public incident or maintenance with its first update; the update's component
    /// changes are applied to the components. `events` go with it (the page's, and the
    /// Klaxon incident's timeline entry).
    async fn create_status_incident(
        &self,
        incident: StatusIncident,
        first: StatusUpdate,
        events: Vec<NewEvent>,
    ) -> StoreResult<StatusIncident>;

    /// Adds an update: the incident takes `incident`'s name, status, impact, window, component
    /// list and milestones (read it, change it, pass it back), and the update's component
    /// changes are applied. A maintenance that completes hands its components that follow
    /// their checks back to them. `NotFound` if it is gone.
    async fn add_status_update(
        &self,
        incident: StatusIncident,
        update: StatusUpdate,
        events: Vec<NewEvent>,
    ) -> StoreResult<StatusIncident>;

    /// As [`add_status_update`](Self::add_status_update), only if the incident's status is still
    /// `from` (the engine moving a maintenance, perhaps on several instances): `false`, and
    /// nothing written, if it is not.
    async fn move_status_incident(
        &self,
        from: klaxon_domain::status::PublicStatus,
        incident: StatusIncident,
        update: StatusUpdate,
        events: Vec<NewEvent>,
    ) -> StoreResult<bool>;

    /// How many maintenances are not completed yet.
    async fn unfinished_maintenances(&self) -> StoreResult<u64>;

    /// The public incident with this code, on any page.
    async fn status_incident_by_code(&self, code: &str) -> StoreResult<StatusIncidentId>;

    async fn status_incident(&self, id: StatusIncidentId)
    -> StoreResult<StatusIncidentWithUpdates>;

    /// A page's public incidents and maintenances, newest first (by start, or by the
    /// window's start for maintenances), at most `limit`.
    async fn list_status_incidents(
        &self,
        page: StatusPageId,
        limit: u32,
    ) -> StoreResult<Vec<StatusIncidentWithUpdates>>;

    /// The public incidents that tell of a Klaxon incident, on any page.
    async fn status_incidents_of(&self, incident: IncidentId) -> StoreResult<Vec<StatusIncident>>;

    /// Deletes a public incident or maintenance (a mistake, not a resolution).
    async fn delete_status_incident(
        &self,
        id: StatusIncidentId,
        event: NewEvent,
    ) -> StoreResult<()>;

    /// Maintenances the engine must move: scheduled ones whose window started by `now`, in
    /// progress or verifying ones whose window ended by `now`, and scheduled ones whose
    /// reminder is due and not sent.
    async fn due_maintenances(&self, now: Timestamp) -> StoreResult<Vec<StatusIncident>>;
}

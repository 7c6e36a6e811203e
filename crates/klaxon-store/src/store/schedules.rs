//! On-call schedules and overrides.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{OverrideId, ScheduleId};

use crate::{Page, ScheduleOverride, ScheduleRecord, ScheduleWithOverrides, StoreResult};

/// On-call schedules and their overrides.
#[async_trait]
pub trait ScheduleStore: Send + Sync + 'static {
    /// `Conflict { constraint: "schedules_name" }` when the name is taken; `NotFound` when a
    /// user the layers name does not exist.
    async fn create_schedule(
        &self,
        schedule: ScheduleRecord,
        event: NewEvent,
    ) -> StoreResult<ScheduleRecord>;

    async fn schedule(&self, id: ScheduleId) -> StoreResult<ScheduleRecord>;

    /// The schedules whose name is `name` ignoring the case of ASCII letters (names are unique
    /// exactly, so several can differ in case only), as id and name; the same on both backends.
    async fn schedules_named(&self, name: &str) -> StoreResult<Vec<(ScheduleId, String)>>;

    /// Schedules ordered by id, starting after `after`.
    async fn list_schedules(
        &self,
        after: Option<ScheduleId>,
        limit: u32,
    ) -> StoreResult<Page<ScheduleRecord, ScheduleId>>;

    /// Replaces name, description, time zone and layers (not the overrides).
    async fn update_schedule(
        &self,
        schedule: ScheduleRecord,
        event: NewEvent,
    ) -> StoreResult<ScheduleRecord>;

    /// Deletes a schedule with its overrides. `Conflict { constraint: "schedule_in_use" }`
    /// while an escalation policy targets it.
    async fn delete_schedule(&self, id: ScheduleId, event: NewEvent) -> StoreResult<()>;

    /// `NotFound` when the schedule or the user does not exist.
    async fn create_schedule_override(
        &self,
        o: ScheduleOverride,
        event: NewEvent,
    ) -> StoreResult<ScheduleOverride>;

    /// One override of one schedule.
    async fn schedule_override(
        &self,
        schedule: ScheduleId,
        id: OverrideId,
    ) -> StoreResult<ScheduleOverride>;

    /// The schedule's overrides that overlap `[from, to)`, by start then id (empty for an
    /// unknown schedule).
    async fn list_schedule_overrides(
        &self,
        schedule: ScheduleId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ScheduleOverride>>;

    /// `NotFound` unless the override exists and belongs to the schedule.
    async fn delete_schedule_override(
        &self,
        schedule: ScheduleId,
        id: OverrideId,
        event: NewEvent,
    ) -> StoreResult<()>;

    /// A schedule with its overrides that overlap `[from, to)`, read together: enough to say
    /// who is on call at any instant in that range.
    async fn schedule_with_overrides(
        &self,
        id: ScheduleId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<ScheduleWithOverrides>;

    /// A page of schedules (ordered by id, after `after`), each with its overrides that overlap
    /// `[from, to)`.
    async fn list_schedules_with_overrides(
        &self,
        after: Option<ScheduleId>,
        limit: u32,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Page<ScheduleWithOverrides, ScheduleId>>;
}

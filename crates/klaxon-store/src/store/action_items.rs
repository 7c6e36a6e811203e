//! Action items and their reminders.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{ActionItemId, IncidentId};
use klaxon_domain::incident::Refusal;

use crate::{
    ActionItemEdit, ActionItemFilter, ActionItemRow, ActionReminder, LearningCounts, NewActionItem,
    Page, StoreResult,
};

#[async_trait]
pub trait ActionItemStore: Send + Sync + 'static {
    /// Writes a new item, its event and (kept once) the reminder job. `NotFound` when the
    /// incident or the owner does not exist; `Conflict { constraint: "action_items_postmortem" }`
    /// when its `postmortem_id` is not the incident's postmortem.
    async fn create_action_item(&self, new: NewActionItem) -> StoreResult<ActionItemRow>;

    async fn action_item(&self, id: ActionItemId) -> StoreResult<ActionItemRow>;

    /// Items matching `filter`, soonest due first (then by id), after `after` (due, id).
    async fn list_action_items(
        &self,
        filter: &ActionItemFilter,
        after: Option<(Timestamp, ActionItemId)>,
        limit: u32,
    ) -> StoreResult<Page<ActionItemRow, (Timestamp, ActionItemId)>>;

    /// Changes an item: reads and locks it, runs `edit` and writes what it decides with its
    /// events, in one transaction. The inner `Err` is `edit`'s refusal (nothing written).
    /// `NotFound` without the item, or when a new owner does not exist.
    async fn change_action_item(
        &self,
        id: ActionItemId,
        edit: ActionItemEdit,
    ) -> StoreResult<Result<ActionItemRow, Refusal>>;

    async fn delete_action_item(&self, id: ActionItemId, event: NewEvent) -> StoreResult<()>;

    /// Open items due before `due_before` (their reminder window has begun) whose owner was
    /// not reminded after `reminded_before`, oldest first.
    async fn due_reminders(
        &self,
        due_before: Timestamp,
        reminded_before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ActionItemRow>>;

    /// Marks an item reminded and queues its notifications and event, at most once: `false`
    /// (nothing written) when it was reminded meanwhile or is no longer open.
    async fn remind_action_item(&self, r: ActionReminder) -> StoreResult<bool>;

    /// How many items are still open (the reminder job runs while any is).
    async fn open_action_items(&self) -> StoreResult<u64>;

    /// Counts of incidents learned from and not, and of open and overdue items, at `now`.
    async fn learning_counts(&self, now: Timestamp) -> StoreResult<LearningCounts>;

    /// Incidents not learned from (an open priority item), newest first: (id, number, title).
    async fn not_learned_from(&self, limit: u32) -> StoreResult<Vec<(IncidentId, i64, String)>>;
}

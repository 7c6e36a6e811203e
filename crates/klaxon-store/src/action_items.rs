//! Records of action items: what an incident taught, owned by someone, due by a date.
use jiff::Timestamp;
use klaxon_domain::action_item::{ActionKind, ActionState};
use klaxon_domain::event::{Actor, NewEvent};
use klaxon_domain::ids::{ActionItemId, EscalationPolicyId, IncidentId, UserId};
use klaxon_domain::incident::Refusal;
use serde::Serialize;

use crate::{NewJob, NewNotification};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionItem {
    pub id: ActionItemId,
    pub incident_id: IncidentId,
    /// The postmortem it came from. No foreign key yet: postmortems are kept elsewhere.
    pub postmortem_id: Option<uuid::Uuid>,
    pub title: String,
    pub owner_id: UserId,
    pub kind: ActionKind,
    pub priority: bool,
    pub due_at: Timestamp,
    pub tracker_url: Option<String>,
    pub state: ActionState,
    /// Why it will not be done (won't do only).
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub created_by: Actor,
    pub updated_at: Timestamp,
    pub last_reminded_at: Option<Timestamp>,
}

/// An item with what lists show of its incident and owner, read with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionItemRow {
    pub item: ActionItem,
    pub incident_number: i64,
    pub incident_title: String,
    pub owner_name: String,
}

/// Which items a list shows; every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionItemFilter {
    pub owner: Option<UserId>,
    /// The escalation policy of the incident's service.
    pub team: Option<EscalationPolicyId>,
    pub incident: Option<IncidentId>,
    pub state: Option<ActionState>,
    /// Open or in progress and due before this instant.
    pub overdue_at: Option<Timestamp>,
    /// Items whose incident is learned from (`true`) or not (`false`).
    pub learned_from: Option<bool>,
}

/// Counts over incidents and items. An incident is learned from while it has no open
/// priority item (`klaxon_domain::action_item::learned_from`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LearningCounts {
    pub incidents: u64,
    pub learned_from: u64,
    pub not_learned_from: u64,
    pub open_items: u64,
    pub overdue_items: u64,
}

/// A change decided on the item as it is now; the item to write and its events.
pub type ActionItemEdit =
    Box<dyn FnOnce(&ActionItem) -> Result<(ActionItem, Vec<NewEvent>), Refusal> + Send + 'static>;

/// One reminder: the item marked reminded at `at` (only if it was last reminded no later
/// than `reminded_before` and is still open), its notifications and event.
#[derive(Debug, Clone)]
pub struct ActionReminder {
    pub id: ActionItemId,
    pub at: Timestamp,
    pub reminded_before: Timestamp,
    pub notifications: Vec<NewNotification>,
    pub event: NewEvent,
}

/// A new item, with the reminder job to keep (once, by its dedup key).
#[derive(Debug, Clone)]
pub struct NewActionItem {
    pub item: ActionItem,
    pub event: NewEvent,
    pub job: Option<NewJob>,
}

//! Records of incident response: role assignments and the one way people change an incident.
use jiff::Timestamp;
use klaxon_domain::alert::AlertStatus;
use klaxon_domain::event::{Actor, NewEvent};
use klaxon_domain::ids::{IncidentId, RoleAssignmentId, TaskId, UserId};
use klaxon_domain::incident::Refusal;
use serde::Serialize;

use crate::{Incident, NewJob, NewNotification};

/// Someone holding (or having held) a role in an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleAssignment {
    pub id: RoleAssignmentId,
    pub incident_id: IncidentId,
    /// A key of the role catalog (`commander`, `scribe`, ...).
    pub role: String,
    pub user_id: UserId,
    pub assigned_at: Timestamp,
    pub assigned_by: Actor,
    /// None while the role is held.
    pub ended_at: Option<Timestamp>,
    pub ended_by: Option<Actor>,
}

/// Something to do during an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentTask {
    pub id: TaskId,
    pub incident_id: IncidentId,
    pub title: String,
    pub assignee_id: Option<UserId>,
    pub due_at: Option<Timestamp>,
    /// Done when set.
    pub done_at: Option<Timestamp>,
    pub done_by: Option<Actor>,
    pub created_at: Timestamp,
    pub created_by: Actor,
}

/// An incident as a change sees it: its row, who holds its roles now, and its tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSnapshot {
    pub incident: Incident,
    pub roles: Vec<RoleAssignment>,
    /// Oldest first.
    pub tasks: Vec<IncidentTask>,
    /// Who follows it (gets its stakeholder updates).
    pub subscribers: Vec<UserId>,
}

impl IncidentSnapshot {
    pub fn holders(&self, role: &str) -> impl Iterator<Item = &RoleAssignment> {
        self.roles.iter().filter(move |r| r.role == role)
    }
}

/// What a change writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentChange {
    /// The incident's new state. The store writes the columns people own (title, text fields,
    /// status, severity, impact, urgency, priority, category, reporter, milestones); alert
    /// counts and grouping stay the store's.
    pub incident: Incident,
    /// New holders.
    pub assign: Vec<RoleAssignment>,
    /// Current holders whose role ends now: (role, user).
    pub unassign: Vec<(String, UserId)>,
    /// Tasks to write (new ones, or new versions of existing ones).
    pub tasks: Vec<IncidentTask>,
    /// Tasks to remove.
    pub removed_tasks: Vec<TaskId>,
    /// People who start or stop following the incident.
    pub subscribe: Vec<UserId>,
    pub unsubscribe: Vec<UserId>,
    /// Moves the incident's open alerts along with it (acknowledged or resolved).
    pub alerts: Option<AlertStatus>,
    /// Jobs to enqueue (an escalation that starts again on reopen).
    pub jobs: Vec<NewJob>,
    /// Pages to queue (people paged into the incident); a page whose dedup key exists is
    /// skipped.
    pub pages: Vec<NewNotification>,
    pub events: Vec<NewEvent>,
    pub at: Timestamp,
    pub actor: Actor,
}

impl IncidentChange {
    /// A change that keeps the incident as it is, to add to with the builder fields.
    pub fn of(snapshot: &IncidentSnapshot, at: Timestamp, actor: Actor) -> Self {
        Self {
            incident: snapshot.incident.clone(),
            assign: Vec::new(),
            unassign: Vec::new(),
            tasks: Vec::new(),
            removed_tasks: Vec::new(),
            subscribe: Vec::new(),
            unsubscribe: Vec::new(),
            alerts: None,
            jobs: Vec::new(),
            pages: Vec::new(),
            events: Vec::new(),
            at,
            actor,
        }
    }
}

/// Decides a change from the incident's current state, while the store holds it still. Pure:
/// it runs inside the transaction and must not wait on anything.
pub type IncidentEdit =
    Box<dyn FnOnce(&IncidentSnapshot) -> Result<IncidentChange, Refusal> + Send + 'static>;

/// A new incident declared by a person.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    /// `number` is ignored: the store numbers incidents.
    pub incident: Incident,
    pub roles: Vec<RoleAssignment>,
    /// Starts the service's escalation, when it has one.
    pub job: Option<NewJob>,
    pub events: Vec<NewEvent>,
    /// When the incident is a drill's, the drill.
    pub drill: Option<crate::store::NewDrill>,
}

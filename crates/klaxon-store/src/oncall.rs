//! Records of on-call: escalation policies, contact methods, notification rules and the
//! notification outbox.
use jiff::Timestamp;
use klaxon_domain::alert::Urgency;
use klaxon_domain::contact::{ContactKind, NotificationStatus};
use klaxon_domain::escalation::Plan;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{
    ContactMethodId, EscalationPolicyId, IncidentId, NotificationId, NotificationRuleId, UserId,
};
use serde::Serialize;

use klaxon_domain::escalation::{STEP_JOB, StepJob, step_job_key};
use klaxon_domain::ids::JobId;

use crate::NewJob;

/// The job that runs step `step` of an incident's escalation at `at`.
pub fn escalation_job(id: JobId, incident: IncidentId, step: u32, at: Timestamp) -> NewJob {
    NewJob {
        id,
        kind: STEP_JOB.to_owned(),
        dedup_key: Some(step_job_key(incident, step)),
        payload: serde_json::to_value(StepJob {
            incident_id: incident,
            step,
        })
        .unwrap_or_default(),
        run_at: at,
        created_at: at,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationPolicy {
    pub id: EscalationPolicyId,
    pub name: String,
    pub description: String,
    pub plan: Plan,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactMethod {
    pub id: ContactMethodId,
    pub user_id: UserId,
    pub kind: ContactKind,
    pub label: String,
    pub address: String,
    /// Webhooks: the key each delivery is signed with (HMAC-SHA256).
    pub secret: Option<String>,
    pub created_at: Timestamp,
}

/// "After `delay_minutes`, notify me through this contact method, for incidents of this
/// urgency."
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationRule {
    pub id: NotificationRuleId,
    pub user_id: UserId,
    pub contact_method_id: ContactMethodId,
    pub delay_minutes: u32,
    pub urgency: Urgency,
    pub created_at: Timestamp,
}

/// A message in the outbox. It is committed before any provider is called.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: NotificationId,
    /// `None` for a test notification.
    pub incident_id: Option<IncidentId>,
    pub user_id: UserId,
    pub contact_method_id: Option<ContactMethodId>,
    pub kind: ContactKind,
    pub address: String,
    /// One notification per key: an escalation step retried writes nothing twice.
    pub dedup_key: String,
    /// What to say, as the channel renders it.
    pub payload: serde_json::Value,
    pub status: NotificationStatus,
    pub attempts: u32,
    /// When it is due (pending) or when its claim runs out (sending).
    pub run_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// Pages that bring someone into an incident (rather than escalate it) have dedup keys with
/// this prefix: they stand while the incident is open, acknowledged or not.
pub const RESPONDER_KEY_PREFIX: &str = "responder:";

/// Stakeholder updates have dedup keys with this prefix: they go out whatever the incident's
/// status (the last one says it is resolved).
pub const UPDATE_KEY_PREFIX: &str = "update:";

/// A notification to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub id: NotificationId,
    pub incident_id: Option<IncidentId>,
    pub user_id: UserId,
    pub contact_method_id: Option<ContactMethodId>,
    pub kind: ContactKind,
    pub address: String,
    pub dedup_key: String,
    pub payload: serde_json::Value,
    pub run_at: Timestamp,
    pub created_at: Timestamp,
}

/// Everything one escalation step writes, at most once per (incident, step): a retried or
/// doubled step finds its marker and writes nothing.
#[derive(Debug, Clone)]
pub struct EscalationStep {
    pub incident_id: IncidentId,
    pub step: u32,
    pub at: Timestamp,
    pub notifications: Vec<NewNotification>,
    pub events: Vec<NewEvent>,
    /// The next step's job, if the policy goes on.
    pub next: Option<NewJob>,
}

/// How a send ended, as the sender reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    Sent {
        at: Timestamp,
    },
    /// Not delivered for sure: pending again at `at`.
    Retry {
        at: Timestamp,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// What a claim did besides claiming: notifications made moot, or left in an unknown state by
/// a sender that stopped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claimed {
    pub due: Vec<Notification>,
    pub cancelled: u64,
    /// Claims that ran out after their send had begun: failed, outcome unknown.
    pub abandoned: u64,
    /// Claims that ran out before their send began: pending again, and claimable at once.
    pub released: u64,
}

/// The event a notification's change writes: on its incident's timeline, or on its user's for
/// a test notification. `data` adds to the notification's id, user and channel.
pub fn notification_event(
    n: &Notification,
    at: Timestamp,
    kind: EventKind,
    data: serde_json::Value,
) -> NewEvent {
    let mut body =
        serde_json::json!({"notification_id": n.id, "user_id": n.user_id, "channel": n.kind});
    if let (Some(obj), serde_json::Value::Object(extra)) = (body.as_object_mut(), data) {
        obj.extend(extra);
    }
    match n.incident_id {
        Some(i) => NewEvent::new(SubjectType::Incident, i, at, Actor::System, kind, body),
        None => NewEvent::new(SubjectType::User, n.user_id, at, Actor::System, kind, body),
    }
}

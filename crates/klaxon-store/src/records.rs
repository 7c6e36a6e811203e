//! What the store keeps and returns. Times are `jiff::Timestamp` (UTC); ids are typed.
use jiff::Timestamp;
use klaxon_domain::alert::{
    AlertContent, AlertStatus, Grouping, IntegrationKind, Signal, Step, Urgency, UrgencyRule,
};
use klaxon_domain::auth::{DisplayName, EmailAddress, Role, TokenName};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{
    AlertId, ApiTokenId, IncidentId, IntegrationId, JobId, MaintenanceWindowId, ServiceId,
    SessionId, UserId,
};
use klaxon_domain::incident::{Impact, IncidentStatus, Milestones, Priority, Severity};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
    /// Set while the user is deactivated: no login, no tokens, no pages.
    pub deactivated_at: Option<Timestamp>,
    /// The IANA zone pages show this person times in; `None` until they choose.
    pub time_zone: Option<String>,
}

impl User {
    pub fn active(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

/// What the store knows when a change to a user is decided, under its lock.
#[derive(Debug, Clone)]
pub struct UserSnapshot {
    pub user: User,
    /// Active admins other than this user.
    pub other_admins: u64,
}

/// A decided change: the user's new values and the events that record it. Deactivating also
/// ends the user's sessions and revokes their API tokens, in the same transaction.
#[derive(Debug, Clone)]
pub struct UserChange {
    pub user: User,
    pub events: Vec<NewEvent>,
}

/// Decides a change from the user's current state, while the store holds it still.
pub type UserEdit = Box<
    dyn FnOnce(&UserSnapshot) -> Result<UserChange, klaxon_domain::incident::Refusal>
        + Send
        + 'static,
>;

/// A user about to be created. The password arrives already hashed: hashing is CPU work the
/// caller does off the async threads.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: EmailAddress,
    pub name: DisplayName,
    pub role: Role,
    pub password_hash: String,
    pub created_at: Timestamp,
}

/// A user with the secret needed to check a login.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub name: String,
    pub role: Role,
    /// The user the token acts for; its role never exceeds that user's.
    pub user_id: UserId,
    /// The first characters of the token, to tell tokens apart without revealing them.
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: ApiTokenId,
    pub name: TokenName,
    pub role: Role,
    pub user_id: UserId,
    pub prefix: String,
    /// SHA-256 of the secret token: the token itself is never stored.
    pub hash: [u8; 32],
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    /// The synchronizer token every form of this session must carry.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    /// SHA-256 of the cookie value: a stolen database does not yield live sessions.
    pub hash: [u8; 32],
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub client_addr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// A per-database sequence number: events of one subject read back in this order.
    pub seq: i64,
    pub subject_type: SubjectType,
    pub subject_id: String,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: EventKind,
    pub data: serde_json::Value,
    /// Pinned to the top of its incident's timeline.
    pub pinned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: JobId,
    pub kind: String,
    /// At most one pending job per key; enqueueing an existing key keeps the existing job.
    pub dedup_key: Option<String>,
    pub payload: serde_json::Value,
    pub run_at: Timestamp,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub dedup_key: Option<String>,
    pub payload: serde_json::Value,
    pub run_at: Timestamp,
    pub attempts: u32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// Set once the job has used up its attempts; dead jobs are never claimed again.
    pub dead_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// The outcome of enqueueing a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    New(JobId),
    /// A pending job with the same dedup key already existed; nothing was written.
    Existing(JobId),
}

impl Enqueued {
    pub fn id(self) -> JobId {
        match self {
            Enqueued::New(id) | Enqueued::Existing(id) => id,
        }
    }
}

/// A write on the hot path, batched with others into one transaction by [`crate::GroupCommit`].
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Event(NewEvent),
    Job(NewJob),
    Signal(Box<SignalWrite>),
    Heartbeat(Box<HeartbeatWrite>),
}

/// What a committed [`Write`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAck {
    Event { seq: i64 },
    Job(Enqueued),
    Signal(SignalAck),
    Heartbeat(SignalAck),
}

/// One page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// What routine maintenance removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub sessions: u64,
    pub login_failures: u64,
}

/// Something that can break, and how its alerts become incidents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub id: ServiceId,
    pub name: String,
    pub description: String,
    pub urgency_rule: UrgencyRule,
    pub grouping: Grouping,
    /// Resolve an alert-opened incident once all its alerts are resolved.
    pub auto_resolve: bool,
    /// Who is paged when one of its incidents opens; nobody without one.
    pub escalation_policy_id: Option<klaxon_domain::ids::EscalationPolicyId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Integration {
    pub id: IntegrationId,
    pub service_id: ServiceId,
    pub name: String,
    pub kind: IntegrationKind,
    /// The first characters of the key, to tell keys apart without revealing them.
    pub key_prefix: String,
    /// Signals accepted per minute before answering 429; 0 for no limit.
    pub rate_limit_per_minute: u32,
    /// Heartbeat monitors: the longest silence before an alert opens.
    pub heartbeat_interval_secs: Option<u32>,
    pub last_ping_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub key_rotated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub integration: Integration,
    /// SHA-256 of the key: the key itself is never stored.
    pub key_hash: [u8; 32],
}

/// A period when a service's alerts are recorded but open no incident and page nobody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaintenanceWindow {
    pub id: MaintenanceWindowId,
    pub service_id: ServiceId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub description: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: AlertId,
    pub service_id: ServiceId,
    pub integration_id: Option<IntegrationId>,
    pub incident_id: Option<IncidentId>,
    pub dedup_key: String,
    pub status: AlertStatus,
    /// The newest trigger's content.
    pub content: AlertContent,
    /// How many triggers this alert has absorbed, the first included.
    pub count: u32,
    /// Arrived during a maintenance window: recorded, but opened no incident.
    pub in_maintenance: bool,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: IncidentId,
    /// A short number people say aloud: "incident 42".
    pub number: i64,
    pub title: String,
    pub description: String,
    pub status: IncidentStatus,
    pub urgency: Urgency,
    /// Unset on an incident an alert opened, until someone triages it.
    pub severity: Option<Severity>,
    pub impact: Option<Impact>,
    /// From impact × urgency through the priority matrix; unset without an impact.
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    /// Who reported it; confirms its closure. None for incidents alerts opened.
    pub reporter_id: Option<UserId>,
    pub service_id: Option<ServiceId>,
    pub alert_count: u32,
    /// Opened by an alert (rather than declared by a person).
    pub opened_by_alert: bool,
    /// When it was declared or opened: the `declared_at` milestone.
    pub created_at: Timestamp,
    pub impact_started_at: Option<Timestamp>,
    pub detected_at: Option<Timestamp>,
    pub acknowledged_at: Option<Timestamp>,
    pub mitigated_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// Where responders talk: a conference bridge and a chat channel.
    pub conference_url: Option<String>,
    pub chat_url: Option<String>,
    /// A duplicate merged into this incident (its alerts moved there; it is resolved).
    pub merged_into: Option<IncidentId>,
    /// A drill (practice): kept out of every insight and metric.
    pub is_drill: bool,
}

impl Incident {
    pub fn milestones(&self) -> Milestones {
        Milestones {
            impact_started_at: self.impact_started_at,
            detected_at: self.detected_at,
            declared_at: Some(self.created_at),
            acknowledged_at: self.acknowledged_at,
            mitigated_at: self.mitigated_at,
            resolved_at: self.resolved_at,
            closed_at: self.closed_at,
        }
    }

    /// Its durations from its milestones, computed on each read so an edit shows at once.
    pub fn durations(&self) -> klaxon_domain::learning::Durations {
        klaxon_domain::learning::durations(&self.milestones())
    }

    /// Takes milestones back (`declared_at` is required; a missing one keeps the old).
    pub fn set_milestones(&mut self, m: Milestones) {
        self.impact_started_at = m.impact_started_at;
        self.detected_at = m.detected_at;
        self.created_at = m.declared_at.unwrap_or(self.created_at);
        self.acknowledged_at = m.acknowledged_at;
        self.mitigated_at = m.mitigated_at;
        self.resolved_at = m.resolved_at;
        self.closed_at = m.closed_at;
    }
}

/// A parsed signal for an integration, applied on the hot path through group commit.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalWrite {
    pub service_id: ServiceId,
    /// None for signals Klaxon raises itself (uptime checks).
    pub integration_id: Option<IntegrationId>,
    pub signal: Signal,
    pub at: Timestamp,
    /// Ids to use if the signal opens an alert or an incident (the store does not draw random
    /// numbers).
    pub new_alert_id: AlertId,
    pub new_incident_id: IncidentId,
    /// The id of the job that starts the new incident's escalation, if it opens one.
    pub new_job_id: JobId,
}

/// A heartbeat ping: records when it came, resolves the monitor's missed-heartbeat alert if
/// one is open, and makes sure a check is scheduled.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatWrite {
    /// A resolve signal for the monitor's alert.
    pub resolve: SignalWrite,
    /// The check job; an existing one (same dedup key) is kept.
    pub check: NewJob,
}

/// What a signal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalAck {
    pub step: Step,
    pub alert_id: Option<AlertId>,
    pub incident_id: Option<IncidentId>,
    pub incident_opened: bool,
}

/// Which alerts a list shows.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub service_id: Option<ServiceId>,
    pub incident_id: Option<IncidentId>,
    pub status: Option<AlertStatus>,
}

/// Which incidents a list shows.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub service_id: Option<ServiceId>,
    pub status: Option<IncidentStatus>,
    /// Only incidents not yet resolved or closed.
    pub open: bool,
    /// Any of these severities (all when empty).
    pub severities: Vec<Severity>,
    /// Declared at or after.
    pub from: Option<Timestamp>,
    /// Declared before.
    pub to: Option<Timestamp>,
    /// Text in the title or description, ignoring case.
    pub text: Option<String>,
    /// Incidents this person reported, holds a role in, or was paged for.
    pub involving: Option<UserId>,
    /// A team's incidents: those of the services this escalation policy pages for.
    pub escalation_policy: Option<klaxon_domain::ids::EscalationPolicyId>,
    /// Learned from (`true`) or not (`false`): no priority action item is open or in progress
    /// (docs/learning.md).
    pub learned_from: Option<bool>,
}

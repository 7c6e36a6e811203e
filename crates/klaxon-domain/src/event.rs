//! Timeline events: every state change writes one, in the same transaction as the change.
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{ApiTokenId, UserId};

/// Who caused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// Klaxon itself: the engine, start-up, maintenance.
    System,
    User(UserId),
    /// A script acting through an API token.
    Token(ApiTokenId),
}

impl Actor {
    /// The stored form: `system`, `user:<id>`, `token:<id>`.
    pub fn encode(&self) -> String {
        match self {
            Actor::System => "system".to_owned(),
            Actor::User(id) => format!("user:{id}"),
            Actor::Token(id) => format!("token:{id}"),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        match s.split_once(':') {
            None if s == "system" => Some(Actor::System),
            Some(("user", id)) => id.parse().ok().map(Actor::User),
            Some(("token", id)) => id.parse().ok().map(Actor::Token),
            _ => None,
        }
    }
}

/// What kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    User,
    ApiToken,
    Job,
    System,
    Service,
    Integration,
    Alert,
    Incident,
    EscalationPolicy,
    Schedule,
}

impl SubjectType {
    pub const ALL: [SubjectType; 10] = [
        Self::User,
        Self::ApiToken,
        Self::Job,
        Self::System,
        Self::Service,
        Self::Integration,
        Self::Alert,
        Self::Incident,
        Self::EscalationPolicy,
        Self::Schedule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiToken => "api_token",
            Self::Job => "job",
            Self::System => "system",
            Self::Service => "service",
            Self::Integration => "integration",
            Self::Alert => "alert",
            Self::Incident => "incident",
            Self::EscalationPolicy => "escalation_policy",
            Self::Schedule => "schedule",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The typed kinds of event. The stored name is stable: it is part of the API and of webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.logged_in")]
    UserLoggedIn,
    #[serde(rename = "user.logged_out")]
    UserLoggedOut,
    #[serde(rename = "user.login_failed")]
    UserLoginFailed,
    #[serde(rename = "api_token.created")]
    ApiTokenCreated,
    #[serde(rename = "api_token.revoked")]
    ApiTokenRevoked,
    #[serde(rename = "job.dead")]
    JobDead,
    #[serde(rename = "system.bootstrapped")]
    SystemBootstrapped,
    #[serde(rename = "system.note")]
    SystemNote,
    #[serde(rename = "service.created")]
    ServiceCreated,
    #[serde(rename = "service.updated")]
    ServiceUpdated,
    #[serde(rename = "service.deleted")]
    ServiceDeleted,
    #[serde(rename = "service.change")]
    ServiceChange,
    #[serde(rename = "service.maintenance_scheduled")]
    MaintenanceScheduled,
    #[serde(rename = "service.maintenance_cancelled")]
    MaintenanceCancelled,
    #[serde(rename = "integration.created")]
    IntegrationCreated,
    #[serde(rename = "integration.updated")]
    IntegrationUpdated,
    #[serde(rename = "integration.key_rotated")]
    IntegrationKeyRotated,
    #[serde(rename = "integration.deleted")]
    IntegrationDeleted,
    #[serde(rename = "alert.triggered")]
    AlertTriggered,
    #[serde(rename = "alert.deduplicated")]
    AlertDeduplicated,
    #[serde(rename = "alert.acknowledged")]
    AlertAcknowledged,
    #[serde(rename = "alert.resolved")]
    AlertResolved,
    #[serde(rename = "incident.triggered")]
    IncidentTriggered,
    #[serde(rename = "incident.alert_added")]
    IncidentAlertAdded,
    #[serde(rename = "incident.acknowledged")]
    IncidentAcknowledged,
    #[serde(rename = "incident.resolved")]
    IncidentResolved,
    #[serde(rename = "escalation_policy.created")]
    EscalationPolicyCreated,
    #[serde(rename = "escalation_policy.updated")]
    EscalationPolicyUpdated,
    #[serde(rename = "escalation_policy.deleted")]
    EscalationPolicyDeleted,
    #[serde(rename = "user.contact_method_added")]
    ContactMethodAdded,
    #[serde(rename = "user.contact_method_changed")]
    ContactMethodChanged,
    #[serde(rename = "user.contact_method_removed")]
    ContactMethodRemoved,
    #[serde(rename = "user.notification_rule_added")]
    NotificationRuleAdded,
    #[serde(rename = "user.notification_rule_removed")]
    NotificationRuleRemoved,
    #[serde(rename = "incident.escalated")]
    IncidentEscalated,
    #[serde(rename = "incident.escalation_exhausted")]
    IncidentEscalationExhausted,
    #[serde(rename = "incident.escalated_by_hand")]
    IncidentEscalatedByHand,
    #[serde(rename = "incident.reassigned")]
    IncidentReassigned,
    #[serde(rename = "notification.queued")]
    NotificationQueued,
    #[serde(rename = "notification.sent")]
    NotificationSent,
    #[serde(rename = "notification.failed")]
    NotificationFailed,
    #[serde(rename = "notification.retrying")]
    NotificationRetrying,
    #[serde(rename = "notification.cancelled")]
    NotificationCancelled,
    #[serde(rename = "notification.deferred")]
    NotificationDeferred,
    #[serde(rename = "schedule.created")]
    ScheduleCreated,
    #[serde(rename = "schedule.updated")]
    ScheduleUpdated,
    #[serde(rename = "schedule.deleted")]
    ScheduleDeleted,
    #[serde(rename = "schedule.override_added")]
    ScheduleOverrideAdded,
    #[serde(rename = "schedule.override_removed")]
    ScheduleOverrideRemoved,
}

impl EventKind {
    pub const ALL: [EventKind; 50] = [
        Self::UserCreated,
        Self::UserLoggedIn,
        Self::UserLoggedOut,
        Self::UserLoginFailed,
        Self::ApiTokenCreated,
        Self::ApiTokenRevoked,
        Self::JobDead,
        Self::SystemBootstrapped,
        Self::SystemNote,
        Self::ServiceCreated,
        Self::ServiceUpdated,
        Self::ServiceDeleted,
        Self::ServiceChange,
        Self::MaintenanceScheduled,
        Self::MaintenanceCancelled,
        Self::IntegrationCreated,
        Self::IntegrationUpdated,
        Self::IntegrationKeyRotated,
        Self::IntegrationDeleted,
        Self::AlertTriggered,
        Self::AlertDeduplicated,
        Self::AlertAcknowledged,
        Self::AlertResolved,
        Self::IncidentTriggered,
        Self::IncidentAlertAdded,
        Self::IncidentAcknowledged,
        Self::IncidentResolved,
        Self::EscalationPolicyCreated,
        Self::EscalationPolicyUpdated,
        Self::EscalationPolicyDeleted,
        Self::ContactMethodAdded,
        Self::ContactMethodChanged,
        Self::ContactMethodRemoved,
        Self::NotificationRuleAdded,
        Self::NotificationRuleRemoved,
        Self::IncidentEscalated,
        Self::IncidentEscalationExhausted,
        Self::IncidentEscalatedByHand,
        Self::IncidentReassigned,
        Self::NotificationQueued,
        Self::NotificationSent,
        Self::NotificationFailed,
        Self::NotificationRetrying,
        Self::NotificationCancelled,
        Self::NotificationDeferred,
        Self::ScheduleCreated,
        Self::ScheduleUpdated,
        Self::ScheduleDeleted,
        Self::ScheduleOverrideAdded,
        Self::ScheduleOverrideRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserLoggedIn => "user.logged_in",
            Self::UserLoggedOut => "user.logged_out",
            Self::UserLoginFailed => "user.login_failed",
            Self::ApiTokenCreated => "api_token.created",
            Self::ApiTokenRevoked => "api_token.revoked",
            Self::JobDead => "job.dead",
            Self::SystemBootstrapped => "system.bootstrapped",
            Self::SystemNote => "system.note",
            Self::ServiceCreated => "service.created",
            Self::ServiceUpdated => "service.updated",
            Self::ServiceDeleted => "service.deleted",
            Self::ServiceChange => "service.change",
            Self::MaintenanceScheduled => "service.maintenance_scheduled",
            Self::MaintenanceCancelled => "service.maintenance_cancelled",
            Self::IntegrationCreated => "integration.created",
            Self::IntegrationUpdated => "integration.updated",
            Self::IntegrationKeyRotated => "integration.key_rotated",
            Self::IntegrationDeleted => "integration.deleted",
            Self::AlertTriggered => "alert.triggered",
            Self::AlertDeduplicated => "alert.deduplicated",
            Self::AlertAcknowledged => "alert.acknowledged",
            Self::AlertResolved => "alert.resolved",
            Self::IncidentTriggered => "incident.triggered",
            Self::IncidentAlertAdded => "incident.alert_added",
            Self::IncidentAcknowledged => "incident.acknowledged",
            Self::IncidentResolved => "incident.resolved",
            Self::EscalationPolicyCreated => "escalation_policy.created",
            Self::EscalationPolicyUpdated => "escalation_policy.updated",
            Self::EscalationPolicyDeleted => "escalation_policy.deleted",
            Self::ContactMethodAdded => "user.contact_method_added",
            Self::ContactMethodChanged => "user.contact_method_changed",
            Self::ContactMethodRemoved => "user.contact_method_removed",
            Self::NotificationRuleAdded => "user.notification_rule_added",
            Self::NotificationRuleRemoved => "user.notification_rule_removed",
            Self::IncidentEscalated => "incident.escalated",
            Self::IncidentEscalationExhausted => "incident.escalation_exhausted",
            Self::IncidentEscalatedByHand => "incident.escalated_by_hand",
            Self::IncidentReassigned => "incident.reassigned",
            Self::NotificationQueued => "notification.queued",
            Self::NotificationSent => "notification.sent",
            Self::NotificationFailed => "notification.failed",
            Self::NotificationRetrying => "notification.retrying",
            Self::NotificationCancelled => "notification.cancelled",
            Self::NotificationDeferred => "notification.deferred",
            Self::ScheduleCreated => "schedule.created",
            Self::ScheduleUpdated => "schedule.updated",
            Self::ScheduleDeleted => "schedule.deleted",
            Self::ScheduleOverrideAdded => "schedule.override_added",
            Self::ScheduleOverrideRemoved => "schedule.override_removed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event about to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub subject_type: SubjectType,
    pub subject_id: String,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: EventKind,
    pub data: serde_json::Value,
}

impl NewEvent {
    pub fn new(
        subject_type: SubjectType,
        subject_id: impl fmt::Display,
        at: Timestamp,
        actor: Actor,
        kind: EventKind,
        data: serde_json::Value,
    ) -> Self {
        Self {
            subject_type,
            subject_id: subject_id.to_string(),
            at,
            actor,
            kind,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for t in SubjectType::ALL {
            assert_eq!(SubjectType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn actor_round_trips() {
        let u = Actor::User(UserId(uuid::Uuid::nil()));
        for a in [
            Actor::System,
            u,
            Actor::Token(ApiTokenId(uuid::Uuid::max())),
        ] {
            assert_eq!(Actor::decode(&a.encode()), Some(a));
        }
        assert_eq!(Actor::decode("user:nope"), None);
        assert_eq!(Actor::decode("robot"), None);
    }
}

//! Timeline events: every state change writes one, in the same transaction as the change.
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{ApiTokenId, UserId, WorkflowRunId};
use crate::named_enum;

/// Who caused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// Klaxon itself: the engine, start-up, maintenance.
    System,
    User(UserId),
    /// A script acting through an API token.
    Token(ApiTokenId),
    /// A workflow's action, by the run that took it: an event it causes does not run the same
    /// workflow again.
    Workflow(WorkflowRunId),
}

impl Actor {
    /// The stored form: `system`, `user:<id>`, `token:<id>`.
    pub fn encode(&self) -> String {
        match self {
            Actor::System => "system".to_owned(),
            Actor::User(id) => format!("user:{id}"),
            Actor::Token(id) => format!("token:{id}"),
            Actor::Workflow(id) => format!("workflow:{id}"),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        match s.split_once(':') {
            None if s == "system" => Some(Actor::System),
            Some(("user", id)) => id.parse().ok().map(Actor::User),
            Some(("token", id)) => id.parse().ok().map(Actor::Token),
            Some(("workflow", id)) => id.parse().ok().map(Actor::Workflow),
            _ => None,
        }
    }
}

/// What kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    Webhook,
    StatusPage,
    Check,
    Slo,
    Runbook,
    Runner,
    Workflow,
    DrillScenario,
}

impl SubjectType {
    pub const ALL: [SubjectType; 18] = [
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
        Self::Webhook,
        Self::StatusPage,
        Self::Check,
        Self::Slo,
        Self::Runbook,
        Self::Runner,
        Self::Workflow,
        Self::DrillScenario,
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
            Self::Webhook => "webhook",
            Self::StatusPage => "status_page",
            Self::Check => "check",
            Self::Slo => "slo",
            Self::Runbook => "runbook",
            Self::Runner => "runner",
            Self::Workflow => "workflow",
            Self::DrillScenario => "drill_scenario",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

named_enum! {
    /// The typed kinds of event. The stored name is stable: it is part of the API and of
    /// webhooks.
    pub enum EventKind (field = "kind") {
        UserCreated = "user.created",
        UserLoggedIn = "user.logged_in",
        UserLoggedOut = "user.logged_out",
        UserUpdated = "user.updated",
        UserDeactivated = "user.deactivated",
        UserReactivated = "user.reactivated",
        UserPasswordChanged = "user.password_changed",
        UserLoginFailed = "user.login_failed",
        /// A wrong current password given to change a password or a contact method.
        UserPasswordCheckFailed = "user.password_check_failed",
        ApiTokenCreated = "api_token.created",
        ApiTokenRevoked = "api_token.revoked",
        JobDead = "job.dead",
        SystemBootstrapped = "system.bootstrapped",
        SystemNote = "system.note",
        ServiceCreated = "service.created",
        ServiceUpdated = "service.updated",
        ServiceDeleted = "service.deleted",
        ServiceChange = "service.change",
        MaintenanceScheduled = "service.maintenance_scheduled",
        MaintenanceCancelled = "service.maintenance_cancelled",
        IntegrationCreated = "integration.created",
        IntegrationUpdated = "integration.updated",
        IntegrationKeyRotated = "integration.key_rotated",
        IntegrationDeleted = "integration.deleted",
        AlertTriggered = "alert.triggered",
        AlertDeduplicated = "alert.deduplicated",
        AlertAcknowledged = "alert.acknowledged",
        AlertResolved = "alert.resolved",
        IncidentTriggered = "incident.triggered",
        IncidentAlertAdded = "incident.alert_added",
        IncidentAcknowledged = "incident.acknowledged",
        IncidentResolved = "incident.resolved",
        EscalationPolicyCreated = "escalation_policy.created",
        EscalationPolicyUpdated = "escalation_policy.updated",
        EscalationPolicyDeleted = "escalation_policy.deleted",
        ContactMethodAdded = "user.contact_method_added",
        ContactMethodChanged = "user.contact_method_changed",
        ContactMethodRemoved = "user.contact_method_removed",
        NotificationRuleAdded = "user.notification_rule_added",
        NotificationRuleRemoved = "user.notification_rule_removed",
        NotificationRuleChanged = "user.notification_rule_changed",
        IncidentEscalated = "incident.escalated",
        IncidentEscalationExhausted = "incident.escalation_exhausted",
        /// An escalation step whose level reached nobody who could be paged.
        IncidentLevelUnreachable = "incident.level_unreachable",
        IncidentEscalatedByHand = "incident.escalated_by_hand",
        IncidentReassigned = "incident.reassigned",
        NotificationQueued = "notification.queued",
        NotificationSent = "notification.sent",
        NotificationFailed = "notification.failed",
        NotificationRetrying = "notification.retrying",
        NotificationCancelled = "notification.cancelled",
        NotificationDeferred = "notification.deferred",
        ScheduleCreated = "schedule.created",
        ScheduleUpdated = "schedule.updated",
        ScheduleDeleted = "schedule.deleted",
        ScheduleOverrideAdded = "schedule.override_added",
        ScheduleOverrideRemoved = "schedule.override_removed",
        IncidentDeclared = "incident.declared",
        IncidentUpdated = "incident.updated",
        IncidentSeverityChanged = "incident.severity_changed",
        IncidentPriorityChanged = "incident.priority_changed",
        IncidentMitigated = "incident.mitigated",
        IncidentReopened = "incident.reopened",
        IncidentClosed = "incident.closed",
        IncidentMilestonesChanged = "incident.milestones_changed",
        IncidentRoleAssigned = "incident.role_assigned",
        IncidentRoleUnassigned = "incident.role_unassigned",
        IncidentNoteAdded = "incident.note_added",
        IncidentEventPinned = "incident.event_pinned",
        IncidentEventUnpinned = "incident.event_unpinned",
        IncidentTaskAdded = "incident.task_added",
        IncidentTaskUpdated = "incident.task_updated",
        IncidentTaskDone = "incident.task_done",
        IncidentTaskReopened = "incident.task_reopened",
        IncidentTaskRemoved = "incident.task_removed",
        /// Action items, on their incident's timeline.
        ActionItemCreated = "action_item.created",
        ActionItemUpdated = "action_item.updated",
        ActionItemStateChanged = "action_item.state_changed",
        ActionItemDeleted = "action_item.deleted",
        ActionItemReminded = "action_item.reminded",
        IncidentResponderPaged = "incident.responder_paged",
        IncidentRelated = "incident.related",
        IncidentUnrelated = "incident.unrelated",
        IncidentMerged = "incident.merged",
        IncidentMergedIn = "incident.merged_in",
        IncidentSubscribed = "incident.subscribed",
        IncidentUnsubscribed = "incident.unsubscribed",
        IncidentUpdatePosted = "incident.update_posted",
        WebhookCreated = "webhook.created",
        WebhookUpdated = "webhook.updated",
        WebhookDeleted = "webhook.deleted",
        StatusPageCreated = "status_page.created",
        StatusPageUpdated = "status_page.updated",
        StatusPageDeleted = "status_page.deleted",
        StatusComponentAdded = "status_page.component_added",
        StatusComponentUpdated = "status_page.component_updated",
        StatusComponentRemoved = "status_page.component_removed",
        /// A public incident or maintenance opened on a page.
        StatusIncidentPublished = "status_page.incident_published",
        StatusIncidentUpdated = "status_page.incident_updated",
        StatusIncidentDeleted = "status_page.incident_deleted",
        /// Someone signed up (or an admin added a subscriber).
        StatusSubscriberAdded = "status_page.subscriber_added",
        /// A known address signed up again: its confirmation or manage link was mailed again.
        StatusSubscriberMailed = "status_page.subscriber_mailed",
        StatusSubscriberConfirmed = "status_page.subscriber_confirmed",
        StatusSubscriberUpdated = "status_page.subscriber_updated",
        StatusSubscriberRemoved = "status_page.subscriber_removed",
        /// Subscribers were reminded of a maintenance about to start.
        StatusMaintenanceReminded = "status_page.maintenance_reminded",
        /// On the Klaxon incident's timeline: told customers on a status page.
        IncidentStatusPublished = "incident.status_page_published",
        IncidentStatusUpdated = "incident.status_page_updated",
        CheckCreated = "check.created",
        CheckUpdated = "check.updated",
        CheckDeleted = "check.deleted",
        /// A check crossed its failure threshold (on the service's timeline).
        CheckDown = "check.down",
        /// A check crossed its success threshold (on the service's timeline).
        CheckUp = "check.up",
        SloCreated = "slo.created",
        SloUpdated = "slo.updated",
        SloDeleted = "slo.deleted",
        /// A burn-rate rule fired (both its windows above its rate) or resolved (its long
        /// window back at or under it).
        SloRuleFired = "slo.rule_fired",
        SloRuleResolved = "slo.rule_resolved",
        /// The budget went from healthy to at risk, exhausted, or back.
        SloStatusChanged = "slo.status_changed",
        /// The SLI's source gave no answer for the configured silence (its alert opened), or
        /// answers again.
        SloSourceSilent = "slo.source_silent",
        SloSourceAnswers = "slo.source_answers",
        /// On the incident's timeline: its postmortem was started, changed, moved or published.
        PostmortemCreated = "postmortem.created",
        PostmortemUpdated = "postmortem.updated",
        PostmortemSubmitted = "postmortem.submitted",
        PostmortemBackToDraft = "postmortem.back_to_draft",
        PostmortemCommented = "postmortem.commented",
        PostmortemApproved = "postmortem.approved",
        PostmortemPublished = "postmortem.published",
        /// Its public summary was attached to the incident's status-page incidents.
        PostmortemAttached = "postmortem.attached",
        /// On a status page: a public incident now shows its postmortem.
        StatusPostmortemAttached = "status_page.postmortem_attached",
        /// A runbook's first version was saved.
        RunbookCreated = "runbook.created",
        /// A new version was saved (an edit, a restore of an older one, a sync from files).
        RunbookVersionSaved = "runbook.version_saved",
        RunbookDeleted = "runbook.deleted",
        /// On the incident's timeline: a runbook was started on it, and each step's moves.
        RunStarted = "run.started",
        /// A manual step was ticked.
        RunStepCompleted = "run.step_completed",
        RunStepApproved = "run.step_approved",
        RunStepRejected = "run.step_rejected",
        /// The engine (HTTP) or a runner (command) began a step.
        RunStepBegan = "run.step_began",
        RunStepSucceeded = "run.step_succeeded",
        RunStepFailed = "run.step_failed",
        /// Whoever ran the step vanished before saying how it ended.
        RunStepUnknown = "run.step_unknown",
        RunStepSkipped = "run.step_skipped",
        RunStepRetried = "run.step_retried",
        RunPaused = "run.paused",
        RunResumed = "run.resumed",
        RunAborted = "run.aborted",
        RunSucceeded = "run.succeeded",
        /// A runbook secret was set or replaced (its value is never in an event).
        SecretSet = "secret.set",
        SecretDeleted = "secret.deleted",
        /// An admin registered a runner (its token is never in an event).
        RunnerRegistered = "runner.registered",
        RunnerDeleted = "runner.deleted",
        /// An admin enabled a runbook version for a runner, or disabled it.
        RunnerGranted = "runner.granted",
        RunnerRevoked = "runner.revoked",
        WorkflowCreated = "workflow.created",
        WorkflowUpdated = "workflow.updated",
        WorkflowDeleted = "workflow.deleted",
        /// A workflow ran on an incident: on the incident's timeline, with each action's outcome.
        WorkflowRan = "workflow.ran",
        /// A workflow's trigger fired but it did not run: it would have run itself again.
        WorkflowLoopStopped = "workflow.loop_stopped",
        DrillScenarioSaved = "drill.scenario_saved",
        DrillScenarioDeleted = "drill.scenario_deleted",
        /// A drill began: its incident is practice, marked so everywhere.
        DrillStarted = "drill.started",
        /// A scenario's note reached the responders.
        DrillNote = "drill.note",
        /// A drill ended, with its scorecard.
        DrillEnded = "drill.ended",
    }
}

impl EventKind {
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// Which event kinds to keep: exact kinds (`incident.resolved`) or prefixes ending in `.`
/// (`incident.`, `notification.`). Empty keeps every kind. Timelines filter by it, webhooks
/// subscribe with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KindFilter(Vec<String>);

impl KindFilter {
    /// From input; `field` is named when a kind is unknown.
    pub fn parse<S: AsRef<str>>(field: &str, kinds: &[S]) -> Result<Self, crate::Invalid> {
        let mut out: Vec<String> = Vec::new();
        for k in kinds
            .iter()
            .map(|k| k.as_ref().trim())
            .filter(|k| !k.is_empty())
        {
            if !EventKind::ALL.iter().any(|e| Self::covers(k, e.as_str())) {
                return Err(crate::Invalid::new(
                    field,
                    format!(
                        "{k} is not an event kind or a prefix of one (e.g. incident.resolved, incident.)"
                    ),
                ));
            }
            if !out.iter().any(|o| o == k) {
                out.push(k.to_owned());
            }
        }
        Ok(Self(out))
    }

    /// A comma-separated list (a query parameter).
    pub fn parse_list(field: &str, list: Option<&str>) -> Result<Self, crate::Invalid> {
        let kinds: Vec<&str> = list.unwrap_or_default().split(',').collect();
        Self::parse(field, &kinds)
    }

    fn covers(pattern: &str, kind: &str) -> bool {
        kind == pattern || (pattern.ends_with('.') && kind.starts_with(pattern))
    }

    pub fn matches(&self, kind: EventKind) -> bool {
        self.matches_name(kind.as_str())
    }

    /// For a kind known only by its name (a client reading JSON).
    pub fn matches_name(&self, kind: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|k| Self::covers(k, kind))
    }

    pub fn kinds(&self) -> &[String] {
        &self.0
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
        for &k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for t in SubjectType::ALL {
            assert_eq!(SubjectType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn kind_filters_take_kinds_and_prefixes() {
        let all = KindFilter::parse::<&str>("kind", &[]).unwrap();
        assert!(all.matches(EventKind::IncidentNoteAdded));
        let f = KindFilter::parse("events", &["incident.resolved", " notification. "]).unwrap();
        assert!(f.matches(EventKind::IncidentResolved));
        assert!(f.matches(EventKind::NotificationSent));
        assert!(!f.matches(EventKind::IncidentAcknowledged));
        assert!(f.matches_name("notification.failed"));
        assert_eq!(f.kinds(), ["incident.resolved", "notification."]);
        let e = KindFilter::parse("events", &["incident.exploded"]).unwrap_err();
        assert_eq!(e.field, "events");
        assert!(KindFilter::parse("kind", &["incident"]).is_err());
        let l = KindFilter::parse_list("kind", Some("incident.note_added, ,incident.")).unwrap();
        assert_eq!(l.kinds(), ["incident.note_added", "incident."]);
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

//! Escalation policies, contact methods, notification rules and notifications.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{
    ContactMethodId, EscalationPolicyId, IncidentId, JobId, NotificationId, NotificationRuleId,
    UserId,
};
use klaxon_domain::reach::PersonFacts;

use crate::{
    Claimed, ContactMethod, EscalationPolicy, EscalationStep, NewNotification, Notification,
    NotificationRule, Page, SendResult, StoreResult,
};

/// Who gets paged and how: escalation policies, contact methods, notification rules,
/// escalation steps and the notifications they queue.
#[async_trait]
pub trait OnCallStore: Send + Sync + 'static {
    /// `Conflict { constraint: "escalation_policies_name" }` when the name is taken;
    /// `NotFound` when a target user or schedule does not exist.
    async fn create_escalation_policy(
        &self,
        policy: EscalationPolicy,
        event: NewEvent,
    ) -> StoreResult<EscalationPolicy>;

    async fn escalation_policy(&self, id: EscalationPolicyId) -> StoreResult<EscalationPolicy>;

    /// The escalation policies whose name is `name` ignoring the case of ASCII letters (names are unique
    /// exactly, so several can differ in case only), as id and name; the same on both backends.
    async fn escalation_policies_named(
        &self,
        name: &str,
    ) -> StoreResult<Vec<(EscalationPolicyId, String)>>;

    async fn list_escalation_policies(
        &self,
        after: Option<EscalationPolicyId>,
        limit: u32,
    ) -> StoreResult<Page<EscalationPolicy, EscalationPolicyId>>;

    /// Replaces name, description and plan.
    async fn update_escalation_policy(
        &self,
        policy: EscalationPolicy,
        event: NewEvent,
    ) -> StoreResult<EscalationPolicy>;

    /// `Conflict { constraint: "escalation_policy_in_use" }` while a service uses it.
    async fn delete_escalation_policy(
        &self,
        id: EscalationPolicyId,
        event: NewEvent,
    ) -> StoreResult<()>;

    /// Adds a contact method. With `first_rules` (rules through this method, each with its
    /// event), also adds all of them when the user has no notification rule yet, in the same
    /// transaction: a person's first method pages them. Returns the rules that were added, in
    /// the order given: all of `first_rules`, or none.
    async fn create_contact_method(
        &self,
        method: ContactMethod,
        event: NewEvent,
        first_rules: Vec<(NotificationRule, NewEvent)>,
    ) -> StoreResult<(ContactMethod, Vec<NotificationRule>)>;

    async fn contact_method(&self, id: ContactMethodId) -> StoreResult<ContactMethod>;

    async fn list_contact_methods(&self, user: UserId) -> StoreResult<Vec<ContactMethod>>;

    /// Changes label and address.
    async fn update_contact_method(
        &self,
        method: ContactMethod,
        event: NewEvent,
    ) -> StoreResult<ContactMethod>;

    /// Deletes the method and the rules that use it.
    async fn delete_contact_method(&self, id: ContactMethodId, event: NewEvent) -> StoreResult<()>;

    /// `NotFound` unless the contact method exists and belongs to the rule's user. A rule the
    /// same as one the user has (method, delay and urgency) would page twice at once: that one
    /// is returned and nothing is written.
    async fn create_notification_rule(
        &self,
        rule: NotificationRule,
        event: NewEvent,
    ) -> StoreResult<NotificationRule>;

    /// Changes a rule's method, delay and urgency. `NotFound` unless the rule is the user's
    /// and so is the method; `Conflict { constraint: "notification_rules_same" }` when the user
    /// has another rule just like it.
    async fn update_notification_rule(
        &self,
        rule: NotificationRule,
        event: NewEvent,
    ) -> StoreResult<NotificationRule>;

    /// What reaching each of `users` depends on: name, active, how many contact methods and
    /// rules per urgency. Users that do not exist are left out.
    async fn reach_people(&self, users: &[UserId]) -> StoreResult<Vec<PersonFacts>>;

    async fn list_notification_rules(&self, user: UserId) -> StoreResult<Vec<NotificationRule>>;

    async fn delete_notification_rule(
        &self,
        user: UserId,
        id: NotificationRuleId,
        event: NewEvent,
    ) -> StoreResult<()>;

    /// Writes an escalation step; `false` (and nothing written) when that step of that incident
    /// was already written or the incident is no longer triggered. `NotFound` without the
    /// incident.
    async fn apply_escalation_step(&self, step: EscalationStep) -> StoreResult<bool>;

    /// Queues one notification with its event (a test notification).
    async fn queue_notification(
        &self,
        notification: NewNotification,
        event: NewEvent,
    ) -> StoreResult<Notification>;

    /// In one transaction: cancels pending notifications of incidents no longer triggered;
    /// of those left `sending` past their claim, releases the ones whose send never began
    /// (pending again) and fails the others (their outcome is unknown: never resent), each
    /// failure with its event; then claims up to `limit` due ones until `claim_until`.
    async fn claim_notifications(
        &self,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Claimed>;

    /// Marks the sends of `ids` as begun, just before the message goes out; all of them or
    /// none. `false` when any is no longer held by the claim that ended at `claimed_until`
    /// (it ran out and another sender took it over): then the message must not be sent.
    async fn start_sending(
        &self,
        ids: &[NotificationId],
        claimed_until: Timestamp,
        at: Timestamp,
    ) -> StoreResult<bool>;

    /// Records how a claimed send ended, with its event. A notification no longer `sending`
    /// (abandoned meanwhile) is left as it is: `Ok(false)`.
    async fn finish_notification(
        &self,
        id: NotificationId,
        result: SendResult,
        event: NewEvent,
    ) -> StoreResult<bool>;

    /// Puts a claimed notification back to pending until `until` without counting the
    /// attempt (storm control held it back), with its event. `Ok(false)` if it is no longer
    /// `sending`.
    async fn defer_notification(
        &self,
        id: NotificationId,
        until: Timestamp,
        event: NewEvent,
    ) -> StoreResult<bool>;

    /// When each of these contact methods was last sent a message (methods never used are
    /// left out).
    async fn last_sent(
        &self,
        methods: &[ContactMethodId],
    ) -> StoreResult<Vec<(ContactMethodId, Timestamp)>>;

    async fn notification(&self, id: NotificationId) -> StoreResult<Notification>;

    /// An incident's notifications (or a user's, when `incident` is `None`), oldest first,
    /// after the notification `after`.
    async fn list_notifications(
        &self,
        incident: Option<IncidentId>,
        user: Option<UserId>,
        after: Option<NotificationId>,
        limit: u32,
    ) -> StoreResult<Vec<Notification>>;

    /// "Escalate now": the incident's next escalation step runs at `at` instead of after the
    /// current level's delay; an acknowledged incident becomes triggered again (its alerts
    /// too). Returns the step that will run. `Conflict { constraint: "incident_status" }` for
    /// a resolved or closed incident, `Conflict { constraint: "no_escalation_policy" }` when
    /// its service has none.
    async fn escalate_incident(
        &self,
        id: IncidentId,
        at: Timestamp,
        job_id: JobId,
        event: NewEvent,
    ) -> StoreResult<u32>;

    /// Reassigns an incident to one person by hand: its escalation policy stops (pending steps
    /// are dropped; "escalate now" takes it up again), an acknowledged incident is triggered
    /// again, and `pages` (that person's) are queued, with `event`. `Conflict { constraint:
    /// "incident_status" }` for a resolved or closed incident.
    async fn reassign_incident(
        &self,
        id: IncidentId,
        pages: Vec<NewNotification>,
        event: NewEvent,
    ) -> StoreResult<()>;
}

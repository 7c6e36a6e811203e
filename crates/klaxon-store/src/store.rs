use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::{NewEvent, SubjectType};
use klaxon_domain::ids::{
    AlertId, ApiTokenId, ContactMethodId, EscalationPolicyId, IncidentId, IntegrationId, JobId,
    MaintenanceWindowId, NotificationId, NotificationRuleId, OverrideId, ScheduleId, ServiceId,
    UserId,
};
use klaxon_domain::ids::{DeliveryId, WebhookId};

use klaxon_domain::alert::AlertStatus;
use klaxon_domain::incident::{IncidentStatus, Refusal, stamp_move};

use crate::{
    Alert, AlertFilter, ApiToken, Claimed, ClaimedDelivery, ContactMethod, DeliveryOutcome,
    Enqueued, EscalationPolicy, EscalationStep, Event, FanOut, FanOutReport, Incident,
    IncidentChange, IncidentEdit, IncidentFilter, IncidentSnapshot, IncidentTask, Integration, Job,
    MaintenanceWindow, NewApiToken, NewIncident, NewIntegration, NewJob, NewNotification,
    NewSession, NewUser, Notification, NotificationRule, Page, Pruned, RoleAssignment,
    ScheduleOverride, ScheduleRecord, ScheduleWithOverrides, SendResult, Service, Session,
    StoreError, StoreResult, User, UserCredentials, UserEdit, Webhook, WebhookDelivery, Write,
    WriteAck,
};

/// Everything Klaxon keeps. Each method is one transaction; each method that changes state
/// takes the event(s) describing the change and writes them in that same transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Closes connections, waiting for writes in flight.
    async fn close(&self);

    // --- users -------------------------------------------------------------------------------

    async fn create_user(&self, user: NewUser, event: NewEvent) -> StoreResult<User>;
    async fn user(&self, id: UserId) -> StoreResult<User>;
    /// The user with this login e-mail, with the hash to check a password against.
    async fn user_credentials(&self, email: &str) -> StoreResult<UserCredentials>;
    async fn count_users(&self) -> StoreResult<u64>;
    /// Users ordered by id, starting after `after`.
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Page<User, UserId>>;

    /// Changes a user's name, e-mail, role or activity, as `edit` decides from their current
    /// state (and the count of other active admins, held still so two admins cannot demote
    /// each other at once). Deactivating ends their sessions and revokes their tokens.
    async fn change_user(&self, id: UserId, edit: UserEdit) -> StoreResult<Result<User, Refusal>>;
    /// Replaces a user's password hash and ends their web sessions, except `keep` (the session
    /// changing its own password stays signed in).
    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<[u8; 32]>,
        event: NewEvent,
    ) -> StoreResult<()>;

    /// Creates the first admin and its token, only if there are no users yet. Safe when several
    /// instances start at once: exactly one of them creates. Returns whether it did.
    async fn bootstrap(
        &self,
        admin: NewUser,
        token: NewApiToken,
        events: Vec<NewEvent>,
    ) -> StoreResult<bool>;

    // --- API tokens --------------------------------------------------------------------------

    /// Creates a token for an active user; `NotFound` when the user is missing or deactivated.
    async fn create_token(&self, token: NewApiToken, event: NewEvent) -> StoreResult<ApiToken>;
    /// A live (not revoked) token of an active user by the hash of its secret, with the user it
    /// acts for.
    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<(ApiToken, User)>;
    async fn token(&self, id: ApiTokenId) -> StoreResult<ApiToken>;
    async fn list_tokens(
        &self,
        user: Option<UserId>,
        after: Option<ApiTokenId>,
        limit: u32,
    ) -> StoreResult<Page<ApiToken, ApiTokenId>>;
    /// Revokes a token; revoking a revoked token is `NotFound`.
    async fn revoke_token(
        &self,
        id: ApiTokenId,
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<ApiToken>;

    // --- web sessions ------------------------------------------------------------------------

    async fn create_session(&self, session: NewSession, event: NewEvent) -> StoreResult<()>;
    /// A session of an active user by the hash of its cookie.
    async fn session_by_hash(&self, hash: &[u8; 32]) -> StoreResult<(Session, User)>;
    async fn touch_session(&self, hash: &[u8; 32], at: Timestamp) -> StoreResult<()>;
    async fn delete_session(&self, hash: &[u8; 32], event: Option<NewEvent>) -> StoreResult<()>;

    // --- login throttling --------------------------------------------------------------------

    /// Records one failed login against each key (e.g. `account:<email>`, `addr:<ip>`).
    async fn record_login_failure(
        &self,
        keys: &[String],
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<()>;
    async fn count_login_failures(&self, key: &str, since: Timestamp) -> StoreResult<u64>;
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;

    // --- events ------------------------------------------------------------------------------

    async fn append_event(&self, event: NewEvent) -> StoreResult<Event>;
    /// The events of one subject in the order they were written, after sequence `after`.
    async fn events(
        &self,
        subject_type: SubjectType,
        subject_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    // --- the engine's queue ------------------------------------------------------------------

    async fn enqueue_job(&self, job: NewJob) -> StoreResult<Enqueued>;
    /// Leases up to `limit` due jobs (run_at ≤ now, not leased or lease expired, not dead) to
    /// `owner` until `lease_until`, incrementing their attempt count. Safe under concurrency:
    /// no job is leased to two owners at once.
    async fn claim_jobs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Removes a finished job; `NotFound` if `owner` no longer holds its lease.
    async fn complete_job(&self, id: JobId, owner: &str) -> StoreResult<()>;
    /// Releases the lease and schedules another try at `run_at`.
    async fn retry_job(
        &self,
        id: JobId,
        owner: &str,
        error: &str,
        run_at: Timestamp,
    ) -> StoreResult<()>;
    /// A recurring job done for now: releases the lease, resets its attempts and last error,
    /// and makes it due again at `run_at`.
    async fn reschedule_job(&self, id: JobId, owner: &str, run_at: Timestamp) -> StoreResult<()>;
    /// Keeps the job aside as dead, with its last error and an event.
    async fn bury_job(
        &self,
        id: JobId,
        owner: &str,
        error: &str,
        event: NewEvent,
    ) -> StoreResult<()>;
    /// Removes pending jobs with this dedup key (e.g. the escalation steps of an acknowledged
    /// incident). Returns how many.
    async fn cancel_jobs(&self, dedup_key: &str) -> StoreResult<u64>;
    async fn job(&self, id: JobId) -> StoreResult<Job>;
    /// Jobs ordered by id, dead ones included.
    async fn list_jobs(&self, after: Option<JobId>, limit: u32) -> StoreResult<Page<Job, JobId>>;
    /// How many jobs wait to run (not dead), for the dashboard.
    async fn count_live_jobs(&self) -> StoreResult<u64>;

    // --- services and integrations ----------------------------------------------------------

    /// `Conflict { constraint: "services_name" }` when the name is taken.
    async fn create_service(&self, service: Service, event: NewEvent) -> StoreResult<Service>;
    async fn service(&self, id: ServiceId) -> StoreResult<Service>;
    async fn list_services(
        &self,
        after: Option<ServiceId>,
        limit: u32,
    ) -> StoreResult<Page<Service, ServiceId>>;
    /// Replaces the service's settings (not its id or creation time).
    async fn update_service(&self, service: Service, event: NewEvent) -> StoreResult<Service>;
    /// Deletes a service with its integrations and maintenance windows. `Conflict
    /// { constraint: "open_alerts" }` while it has open alerts. Its resolved alerts go with it;
    /// its incidents stay, without a service.
    async fn delete_service(&self, id: ServiceId, event: NewEvent) -> StoreResult<()>;

    async fn create_integration(
        &self,
        integration: NewIntegration,
        event: NewEvent,
    ) -> StoreResult<Integration>;
    async fn integration(&self, id: IntegrationId) -> StoreResult<Integration>;
    /// The hot path's lookup: the integration whose key hashes to `hash`.
    async fn integration_by_key(&self, hash: &[u8; 32]) -> StoreResult<Integration>;
    async fn list_integrations(&self, service: ServiceId) -> StoreResult<Vec<Integration>>;
    /// Changes name, rate limit and heartbeat interval.
    async fn update_integration(
        &self,
        integration: Integration,
        event: NewEvent,
    ) -> StoreResult<Integration>;
    /// Replaces the key; the old one stops working at once.
    async fn rotate_integration_key(
        &self,
        id: IntegrationId,
        prefix: &str,
        hash: [u8; 32],
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<Integration>;
    async fn delete_integration(&self, id: IntegrationId, event: NewEvent) -> StoreResult<()>;

    async fn create_maintenance(
        &self,
        window: MaintenanceWindow,
        event: NewEvent,
    ) -> StoreResult<MaintenanceWindow>;
    /// The service's windows that end after `now`, soonest first.
    async fn list_maintenance(
        &self,
        service: ServiceId,
        now: Timestamp,
    ) -> StoreResult<Vec<MaintenanceWindow>>;
    async fn delete_maintenance(
        &self,
        service: ServiceId,
        id: MaintenanceWindowId,
        event: NewEvent,
    ) -> StoreResult<()>;

    // --- alerts and incidents ----------------------------------------------------------------

    async fn alert(&self, id: AlertId) -> StoreResult<Alert>;
    /// Alerts newest first, starting after (older than) `after`.
    async fn list_alerts(
        &self,
        filter: &AlertFilter,
        after: Option<AlertId>,
        limit: u32,
    ) -> StoreResult<Page<Alert, AlertId>>;
    async fn incident(&self, id: IncidentId) -> StoreResult<Incident>;
    /// Incidents newest first by number, starting after (below) the number `after`.
    async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Page<Incident, i64>>;

    // --- on-call -----------------------------------------------------------------------------

    /// `Conflict { constraint: "escalation_policies_name" }` when the name is taken;
    /// `NotFound` when a target user or schedule does not exist.
    async fn create_escalation_policy(
        &self,
        policy: EscalationPolicy,
        event: NewEvent,
    ) -> StoreResult<EscalationPolicy>;
    async fn escalation_policy(&self, id: EscalationPolicyId) -> StoreResult<EscalationPolicy>;
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

    async fn create_contact_method(
        &self,
        method: ContactMethod,
        event: NewEvent,
    ) -> StoreResult<ContactMethod>;
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

    /// `NotFound` unless the contact method exists and belongs to the rule's user.
    async fn create_notification_rule(
        &self,
        rule: NotificationRule,
        event: NewEvent,
    ) -> StoreResult<NotificationRule>;
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
    /// In one transaction: cancels pending notifications of incidents no longer triggered,
    /// fails those left `sending` past their claim (their outcome is unknown: never resent),
    /// each with its event, then claims up to `limit` due ones until `claim_until`.
    async fn claim_notifications(
        &self,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Claimed>;
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
    /// Acknowledges (status `acknowledged`) or resolves an incident by hand, with its open
    /// alerts, writing `events` (the caller's) plus one per alert changed. `Conflict
    /// { constraint: "incident_status" }` when the move is not allowed from its status.
    async fn set_incident_status(
        &self,
        id: IncidentId,
        status: klaxon_domain::incident::IncidentStatus,
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<Incident> {
        let edit: IncidentEdit = Box::new(move |snap: &IncidentSnapshot| {
            let from = snap.incident.status;
            let allowed = match status {
                IncidentStatus::Acknowledged => from == IncidentStatus::Triggered,
                IncidentStatus::Resolved => from.is_open(),
                _ => false,
            };
            if !allowed {
                return Err(Refusal::conflict("status", "not allowed"));
            }
            let mut c = IncidentChange::of(snap, at, event.actor);
            let mut m = snap.incident.milestones();
            stamp_move(&mut m, from, status, at);
            c.incident.set_milestones(m);
            c.incident.status = status;
            c.alerts = Some(match status {
                IncidentStatus::Acknowledged => AlertStatus::Acknowledged,
                _ => AlertStatus::Resolved,
            });
            c.events.push(event);
            Ok(c)
        });
        match self.change_incident(id, edit).await? {
            Ok(i) => Ok(i),
            Err(_) => Err(StoreError::Conflict {
                constraint: "incident_status".into(),
            }),
        }
    }

    // --- incident response -------------------------------------------------------------------

    /// Writes a declared incident (numbered by the store), its first role holders, its
    /// escalation job and events. `NotFound` when the service or a user does not exist.
    async fn declare_incident(&self, new: NewIncident) -> StoreResult<Incident>;
    /// Changes an incident: reads it and its role holders, locks it against other changes, runs
    /// `edit` on that state and writes what it decides, all in one transaction. The inner
    /// `Err` is `edit`'s refusal (nothing written). `NotFound` without the incident, or when
    /// an assigned user does not exist.
    async fn change_incident(
        &self,
        id: IncidentId,
        edit: IncidentEdit,
    ) -> StoreResult<Result<Incident, Refusal>>;
    /// The incident's role holders: current ones, or everyone who ever held a role (oldest
    /// first) with `history`.
    async fn incident_roles(
        &self,
        id: IncidentId,
        history: bool,
    ) -> StoreResult<Vec<RoleAssignment>>;
    /// Relates two incidents (both ways), or unrelates them, writing an `incident.related` /
    /// `incident.unrelated` event on each. Refused when they are one incident, or already in
    /// (or not in) that relation. `NotFound` without either.
    async fn relate_incidents(
        &self,
        a: IncidentId,
        b: IncidentId,
        related: bool,
        at: Timestamp,
        actor: klaxon_domain::event::Actor,
    ) -> StoreResult<Result<(), Refusal>>;
    /// The incidents related to this one, newest first. `NotFound` without it.
    async fn related_incidents(&self, id: IncidentId) -> StoreResult<Vec<Incident>>;
    /// Merges the duplicate `from` into `into`, in one transaction: `from`'s alerts move to
    /// `into`, `from` is resolved (with its open alerts' escalation stopped) and remembers where
    /// it went, and each gets an event (`incident.merged`, `incident.merged_in`). Both must be
    /// open and different. Returns `into`.
    async fn merge_incident(
        &self,
        from: IncidentId,
        into: IncidentId,
        at: Timestamp,
        actor: klaxon_domain::event::Actor,
    ) -> StoreResult<Result<Incident, Refusal>>;
    // --- outgoing webhooks -------------------------------------------------------------------

    /// Creates a webhook that receives events written from now on. `Conflict { constraint:
    /// "webhooks_name" }` when the name is taken.
    async fn create_webhook(&self, webhook: Webhook, event: NewEvent) -> StoreResult<Webhook>;
    async fn webhook(&self, id: WebhookId) -> StoreResult<Webhook>;
    /// Every webhook, by name.
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>>;
    /// Changes name, URL, events and enabled (not the secret).
    async fn update_webhook(&self, webhook: Webhook, event: NewEvent) -> StoreResult<Webhook>;
    /// Deletes a webhook and its deliveries.
    async fn delete_webhook(&self, id: WebhookId, event: NewEvent) -> StoreResult<()>;
    /// Turns incident events written since each enabled webhook last looked into pending
    /// deliveries (reading at most `limit` events per webhook: `more` says there may be more),
    /// once each, and moves the webhooks on (past events of other subjects too).
    /// The last few hundred events before a webhook's position are looked at again, so an
    /// event whose transaction committed late (PostgreSQL) is not skipped. Returns how many
    /// deliveries it queued.
    async fn fan_out_webhooks(
        &self,
        now: Timestamp,
        limit: u32,
        how: &FanOut<'_>,
    ) -> StoreResult<FanOutReport>;
    /// Leases due deliveries (pending, or sending with an expired lease) until `until`,
    /// counting the attempt.
    async fn claim_webhook_deliveries(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    async fn finish_webhook_delivery(
        &self,
        id: DeliveryId,
        outcome: DeliveryOutcome,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// A webhook's deliveries, newest first, before the one for event `before_seq`.
    async fn list_webhook_deliveries(
        &self,
        webhook: WebhookId,
        before_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;

    /// Who follows the incident. `NotFound` without it.
    async fn incident_subscribers(&self, id: IncidentId) -> StoreResult<Vec<UserId>>;
    /// The incident's tasks, oldest first. `NotFound` without the incident.
    async fn incident_tasks(&self, id: IncidentId) -> StoreResult<Vec<IncidentTask>>;
    /// Pins or unpins an event of the incident's timeline, writing `event`. `NotFound` when
    /// `seq` is not an event of this incident.
    async fn pin_incident_event(
        &self,
        id: IncidentId,
        seq: i64,
        pinned: bool,
        event: NewEvent,
    ) -> StoreResult<()>;
    /// The 32-byte secret named `name` (e.g. the key acknowledge links are signed with): made
    /// at random by the database the first time anyone asks, then the same for every caller,
    /// instance and restart. Race-free: concurrent first calls all get the one key stored.
    async fn server_key(&self, name: &str) -> StoreResult<[u8; 32]>;

    // --- schedules ---------------------------------------------------------------------------

    /// `Conflict { constraint: "schedules_name" }` when the name is taken; `NotFound` when a
    /// user the layers name does not exist.
    async fn create_schedule(
        &self,
        schedule: ScheduleRecord,
        event: NewEvent,
    ) -> StoreResult<ScheduleRecord>;
    async fn schedule(&self, id: ScheduleId) -> StoreResult<ScheduleRecord>;
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

    // --- group commit ------------------------------------------------------------------------

    /// Applies many writes in one transaction, answering for each. If the batch fails as a
    /// whole, each write is retried alone so one bad write cannot sink the others.
    async fn commit_batch(&self, writes: Vec<Write>) -> Vec<StoreResult<WriteAck>>;

    // --- maintenance -------------------------------------------------------------------------

    /// Deletes sessions created before `sessions_before` or idle since `idle_before`, and login
    /// failures older than `failures_before`.
    async fn prune(
        &self,
        sessions_before: Timestamp,
        idle_before: Timestamp,
        failures_before: Timestamp,
    ) -> StoreResult<Pruned>;
}

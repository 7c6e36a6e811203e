//! The behaviour every backend must show. Each case takes a freshly migrated, empty store.
use std::collections::HashSet;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use klaxon_domain::alert::{
    Action, Aggregate, AlertContent, AlertStatus, DedupKey, GroupField, Grouping, Image,
    IntegrationKind, Link, Severity, Signal, Step, Urgency, UrgencyRule,
};
use klaxon_domain::auth::{DisplayName, EmailAddress, Role, TokenName};
use klaxon_domain::contact::{ContactKind, NotificationStatus};
use klaxon_domain::escalation::{Level, Plan, STEP_JOB, StepJob, Target, step_job_key};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{
    AlertId, ApiTokenId, ContactMethodId, EscalationPolicyId, IncidentId, IntegrationId, JobId,
    MaintenanceWindowId, NotificationId, NotificationRuleId, ServiceId, SessionId, UserId,
};
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::*;
use serde_json::json;

/// A claim that takes every kind of job.
const ALL: JobKinds<'static> = JobKinds::Except(&[]);

mod accounts;
mod action_items;
mod alerts;
mod availability;
mod checks;
mod drills;
mod engine;
mod incidents;
mod insights;
mod notifications;
mod oncall;
mod postmortems;
mod reach;
mod runbooks;
mod schedules;
mod services;
mod slo_burns;
mod slos;
mod status;
mod status_follow;
mod subscribers;
mod users;
mod workflows;
pub use accounts::*;
pub use action_items::*;
pub use alerts::*;
pub use availability::*;
pub use checks::*;
pub use drills::*;
pub use engine::*;
pub use incidents::*;
pub use insights::*;
pub use notifications::*;
pub use oncall::*;
pub use postmortems::*;
pub use reach::*;
pub use runbooks::*;
pub use schedules::*;
pub use services::*;
pub use slo_burns::*;
pub use slos::*;
pub use status::*;
pub use status_follow::*;
pub use subscribers::*;
pub use users::*;
pub use workflows::*;

fn t0() -> Timestamp {
    "2026-11-21T09:00:00Z".parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_secs(secs)).unwrap()
}

fn rnd() -> [u8; 10] {
    let mut b = [0u8; 10];
    getrandom::fill(&mut b).unwrap();
    b
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        id: UserId::new(t0(), rnd()),
        email: EmailAddress::parse(email).unwrap(),
        name: DisplayName::parse("Test Person").unwrap(),
        role,
        password_hash: "$argon2id$fake".into(),
        created_at: t0(),
    }
}

fn ev(
    st: SubjectType,
    id: impl std::fmt::Display,
    kind: EventKind,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent::new(st, id, t0(), Actor::System, kind, data)
}

fn user_created(u: &NewUser) -> NewEvent {
    ev(
        SubjectType::User,
        u.id,
        EventKind::UserCreated,
        json!({"email": u.email}),
    )
}

fn new_token(user: UserId, role: Role, seed: u8) -> NewApiToken {
    NewApiToken {
        id: ApiTokenId::new(t0(), rnd()),
        name: TokenName::parse("ci").unwrap(),
        role,
        user_id: user,
        prefix: format!("klx_{seed:02x}"),
        hash: [seed; 32],
        created_at: t0(),
    }
}

fn new_job(kind: &str, key: Option<&str>, run_at: Timestamp) -> NewJob {
    NewJob {
        id: JobId::new(t0(), rnd()),
        kind: kind.into(),
        dedup_key: key.map(Into::into),
        payload: json!({"n": 1}),
        run_at,
        created_at: t0(),
    }
}

async fn events_of(s: &Arc<dyn Store>, st: SubjectType, id: impl std::fmt::Display) -> Vec<Event> {
    s.events(st, &id.to_string(), None, 100).await.unwrap()
}

// --- services, integrations, maintenance windows ----------------------------------------------

fn mins(m: i64) -> Timestamp {
    at(m * 60)
}

fn key32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

fn new_service(name: &str, grouping: Grouping, auto_resolve: bool) -> Service {
    Service {
        id: ServiceId::new(t0(), rnd()),
        name: name.into(),
        description: format!("the {name} service"),
        urgency_rule: UrgencyRule::SeverityBased,
        grouping,
        auto_resolve,
        escalation_policy_id: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn service_ev(id: ServiceId, kind: EventKind) -> NewEvent {
    ev(SubjectType::Service, id, kind, json!({}))
}

fn integration_ev(id: IntegrationId, kind: EventKind) -> NewEvent {
    ev(SubjectType::Integration, id, kind, json!({}))
}

fn new_integration(service: ServiceId, name: &str) -> NewIntegration {
    let hash = key32();
    NewIntegration {
        integration: Integration {
            id: IntegrationId::new(t0(), rnd()),
            service_id: service,
            name: name.into(),
            kind: IntegrationKind::EventsV2,
            key_prefix: format!("klxi_{:02x}{:02x}", hash[0], hash[1]),
            rate_limit_per_minute: 120,
            heartbeat_interval_secs: None,
            last_ping_at: None,
            created_at: t0(),
            key_rotated_at: t0(),
        },
        key_hash: hash,
    }
}

fn window(service: ServiceId, from_min: i64, to_min: i64, what: &str) -> MaintenanceWindow {
    MaintenanceWindow {
        id: MaintenanceWindowId::new(t0(), rnd()),
        service_id: service,
        starts_at: mins(from_min),
        ends_at: mins(to_min),
        description: what.into(),
        created_at: t0(),
    }
}

fn content(summary: &str, severity: Severity) -> AlertContent {
    AlertContent {
        summary: summary.into(),
        source: None,
        severity,
        timestamp: None,
        component: None,
        group: None,
        class: None,
        details: json!({}),
        links: vec![],
        images: vec![],
        client: None,
        client_url: None,
    }
}

/// Content with every field set, to check it reads back whole.
fn rich_content(summary: &str) -> AlertContent {
    AlertContent {
        summary: summary.into(),
        source: Some("prometheus-eu".into()),
        severity: Severity::Critical,
        timestamp: Some(at(30)),
        component: Some("api".into()),
        group: Some("frontend".into()),
        class: Some("latency".into()),
        details: json!({"labels": {"job": "api", "region": "eu"}, "value": 3, "ok": false}),
        links: vec![Link {
            href: "https://grafana.example.com/d/1".into(),
            text: Some("dashboard".into()),
        }],
        images: vec![Image {
            src: "https://img.example.com/1.png".into(),
            href: None,
            alt: Some("graph".into()),
        }],
        client: Some("Prometheus".into()),
        client_url: Some("https://prom.example.com".into()),
    }
}

/// A service with one integration, ready to receive signals.
#[derive(Clone)]
struct Monitored {
    service: Service,
    integration: Integration,
    key_hash: [u8; 32],
}

impl Monitored {
    fn signal(
        &self,
        action: Action,
        key: &str,
        content: Option<AlertContent>,
        when: Timestamp,
    ) -> SignalWrite {
        SignalWrite {
            service_id: self.service.id,
            integration_id: Some(self.integration.id),
            signal: Signal {
                action,
                dedup_key: DedupKey::parse(key).unwrap(),
                // What a tool would have sent, to check that the newest trigger's is kept.
                payload: content
                    .as_ref()
                    .map(|c| json!({"summary": c.summary, "at": when}).to_string()),
                content,
            },
            at: when,
            new_alert_id: AlertId::new(when, rnd()),
            new_incident_id: IncidentId::new(when, rnd()),
            new_job_id: JobId::new(when, rnd()),
        }
    }

    fn trigger(&self, key: &str, summary: &str, when: Timestamp) -> SignalWrite {
        self.trigger_with(key, content(summary, Severity::Critical), when)
    }

    fn trigger_with(&self, key: &str, c: AlertContent, when: Timestamp) -> SignalWrite {
        self.signal(Action::Trigger, key, Some(c), when)
    }

    fn acknowledge(&self, key: &str, when: Timestamp) -> SignalWrite {
        self.signal(Action::Acknowledge, key, None, when)
    }

    fn resolve(&self, key: &str, when: Timestamp) -> SignalWrite {
        self.signal(Action::Resolve, key, None, when)
    }
}

async fn monitored(s: &Arc<dyn Store>, name: &str, grouping: Grouping, auto: bool) -> Monitored {
    monitored_service(s, new_service(name, grouping, auto)).await
}

/// Creates the service as given, with one integration.
async fn monitored_service(s: &Arc<dyn Store>, svc: Service) -> Monitored {
    let service = s
        .create_service(svc.clone(), service_ev(svc.id, EventKind::ServiceCreated))
        .await
        .unwrap();
    let ni = new_integration(service.id, "monitoring");
    let integration = s
        .create_integration(
            ni.clone(),
            integration_ev(ni.integration.id, EventKind::IntegrationCreated),
        )
        .await
        .unwrap();
    Monitored {
        service,
        integration,
        key_hash: ni.key_hash,
    }
}

/// Commits signals as one batch; each must succeed.
async fn apply_all(s: &Arc<dyn Store>, writes: Vec<SignalWrite>) -> Vec<SignalAck> {
    let n = writes.len();
    let results = s
        .commit_batch(
            writes
                .into_iter()
                .map(|w| Write::Signal(Box::new(w)))
                .collect(),
        )
        .await;
    assert_eq!(results.len(), n, "one answer per write");
    results
        .into_iter()
        .map(|r| match r {
            Ok(WriteAck::Signal(a)) => a,
            other => panic!("expected a signal ack, got {other:?}"),
        })
        .collect()
}

async fn apply(s: &Arc<dyn Store>, w: SignalWrite) -> SignalAck {
    apply_all(s, vec![w]).await.pop().unwrap()
}

fn opened(w: &SignalWrite, incident: Option<IncidentId>, incident_opened: bool) -> SignalAck {
    SignalAck {
        step: Step::Open,
        alert_id: Some(w.new_alert_id),
        incident_id: incident,
        incident_opened,
    }
}

fn kinds(evs: &[Event]) -> Vec<EventKind> {
    evs.iter().map(|e| e.kind).collect()
}

async fn alerts_where(s: &Arc<dyn Store>, f: AlertFilter) -> Vec<Alert> {
    let page = s.list_alerts(&f, None, 1000).await.unwrap();
    assert_eq!(page.next, None);
    page.items
}

async fn incidents_where(s: &Arc<dyn Store>, f: IncidentFilter) -> Vec<Incident> {
    let page = s.list_incidents(&f, None, 1000).await.unwrap();
    assert_eq!(page.next, None);
    page.items
}

fn of_service(id: ServiceId) -> AlertFilter {
    AlertFilter {
        service_id: Some(id),
        ..AlertFilter::default()
    }
}

// --- on-call ---------------------------------------------------------------------------------

async fn person(s: &Arc<dyn Store>, email: &str) -> User {
    let u = new_user(email, Role::Responder);
    s.create_user(u.clone(), user_created(&u)).await.unwrap()
}

/// A plan of one level per entry (its users, its delay in minutes).
fn plan(levels: &[(&[UserId], u32)], repeat: u32) -> Plan {
    Plan::new(
        levels
            .iter()
            .map(|(users, delay)| Level {
                delay_minutes: *delay,
                targets: users.iter().map(|u| Target::User(*u)).collect(),
            })
            .collect(),
        repeat,
    )
    .unwrap()
}

fn new_policy(name: &str, plan: Plan) -> EscalationPolicy {
    EscalationPolicy {
        id: EscalationPolicyId::new(t0(), rnd()),
        name: name.into(),
        description: format!("who answers for {name}"),
        plan,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn policy_ev(id: EscalationPolicyId, kind: EventKind) -> NewEvent {
    ev(SubjectType::EscalationPolicy, id, kind, json!({}))
}

async fn create_policy(s: &Arc<dyn Store>, p: &EscalationPolicy) -> EscalationPolicy {
    s.create_escalation_policy(
        p.clone(),
        policy_ev(p.id, EventKind::EscalationPolicyCreated),
    )
    .await
    .unwrap()
}

fn user_ev(id: UserId, kind: EventKind) -> NewEvent {
    ev(SubjectType::User, id, kind, json!({}))
}

fn new_method(user: UserId, kind: ContactKind, address: &str) -> ContactMethod {
    ContactMethod {
        id: ContactMethodId::new(t0(), rnd()),
        user_id: user,
        kind,
        label: format!("my {kind:?}"),
        address: address.into(),
        secret: None,
        created_at: t0(),
    }
}

async fn create_method(s: &Arc<dyn Store>, m: &ContactMethod) -> ContactMethod {
    s.create_contact_method(
        m.clone(),
        user_ev(m.user_id, EventKind::ContactMethodAdded),
        Vec::new(),
    )
    .await
    .unwrap()
    .0
}

fn new_rule(method: &ContactMethod, delay_minutes: u32, urgency: Urgency) -> NotificationRule {
    NotificationRule {
        id: NotificationRuleId::new(t0(), rnd()),
        user_id: method.user_id,
        contact_method_id: method.id,
        delay_minutes,
        urgency,
        created_at: t0(),
    }
}

fn new_notification(
    method: &ContactMethod,
    incident: Option<IncidentId>,
    key: &str,
    run_at: Timestamp,
) -> NewNotification {
    NewNotification {
        id: NotificationId::new(t0(), rnd()),
        incident_id: incident,
        user_id: method.user_id,
        contact_method_id: Some(method.id),
        kind: method.kind,
        address: method.address.clone(),
        dedup_key: key.into(),
        payload: json!({"summary": key, "lines": ["a", "b"], "n": 1}),
        run_at,
        created_at: t0(),
    }
}

/// Where a notification's events go: its incident's timeline, or its user's.
fn note_subject(incident: Option<IncidentId>, user: UserId) -> (SubjectType, String) {
    match incident {
        Some(i) => (SubjectType::Incident, i.to_string()),
        None => (SubjectType::User, user.to_string()),
    }
}

fn note_ev(n: &Notification, kind: EventKind) -> NewEvent {
    let (st, id) = note_subject(n.incident_id, n.user_id);
    ev(st, id, kind, json!({"notification_id": n.id}))
}

/// The kinds of the events about one notification, in order.
async fn note_events(s: &Arc<dyn Store>, n: &Notification) -> Vec<EventKind> {
    let (st, id) = note_subject(n.incident_id, n.user_id);
    events_of(s, st, id)
        .await
        .into_iter()
        .filter(|e| e.data["notification_id"] == json!(n.id))
        .map(|e| e.kind)
        .collect()
}

async fn queue(s: &Arc<dyn Store>, n: NewNotification) -> Notification {
    let (st, id) = note_subject(n.incident_id, n.user_id);
    let e = ev(
        st,
        id,
        EventKind::NotificationQueued,
        json!({"notification_id": n.id}),
    );
    s.queue_notification(n, e).await.unwrap()
}

fn escalation_step(
    incident: IncidentId,
    step: u32,
    notifications: Vec<NewNotification>,
    next: Option<NewJob>,
) -> EscalationStep {
    EscalationStep {
        incident_id: incident,
        step,
        at: mins(i64::from(step)),
        notifications,
        events: vec![ev(
            SubjectType::Incident,
            incident,
            EventKind::IncidentEscalated,
            json!({"step": step}),
        )],
        next,
    }
}

async fn all_jobs(s: &Arc<dyn Store>) -> Vec<Job> {
    let page = s.list_jobs(None, 1000).await.unwrap();
    assert_eq!(page.next, None);
    page.items
}

async fn all_notifications(s: &Arc<dyn Store>, incident: Option<IncidentId>) -> Vec<Notification> {
    s.list_notifications(incident, None, None, 1000)
        .await
        .unwrap()
}

fn conflict(r: StoreResult<impl std::fmt::Debug>, name: &str) {
    match r {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, name),
        other => panic!("expected a {name} conflict, got {other:?}"),
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Runs `$case` against every backend, each on its own fresh database.
#[macro_export]
macro_rules! contract_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = $crate::TestDatabase::new($crate::Backend::Sqlite).await.unwrap();
                    $crate::contract::$case(db.open().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = $crate::TestDatabase::new($crate::Backend::Postgres).await else { return };
                    $crate::contract::$case(db.open().await).await;
                }
            )*
        }
    };
}

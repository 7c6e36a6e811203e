//! What people call things, wherever the API takes an id: an incident by its number (`75` or
//! `#75`), a user by e-mail, a service, escalation policy, schedule, webhook or integration by
//! name. A UUID is always read as an id, never as a name or a number.
//!
//! Names match exactly; failing that, ignoring the case of ASCII letters (`payments` finds
//! `Payments`), the same on both backends. Names are unique exactly, so a term that matches
//! several names ignoring case (`API` and `Api`) is refused as ambiguous, as is an integration
//! name that two services use (409 in a path, 400 naming a field); the caller gives the id.
//!
//! Where the term is given decides how a miss is told: a path parameter that names nothing is
//! `404`, a body or query field that names nothing is a `400` naming the field (as an unknown
//! id there is). A term that cannot be one (`abc` for an incident) is a `400` naming the
//! parameter or field either way.
use std::fmt::Display;
use std::str::FromStr;

use klaxon_domain::event::SubjectType;
use klaxon_domain::ids::{
    CheckId, EscalationPolicyId, IncidentId, IntegrationId, RunbookId, RunnerId, ScheduleId,
    ServiceId, StatusPageId, UserId, WebhookId, WorkflowId,
};

use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;

/// Where a term was given.
#[derive(Debug, Clone, Copy)]
pub enum At<'a> {
    /// A path parameter, by its name (`id`, `user_id`): naming nothing is a 404.
    Path(&'a str),
    /// A body or query field: naming nothing is a 400 naming the field.
    Field(&'a str),
}

impl At<'_> {
    fn name(self) -> String {
        match self {
            At::Path(n) | At::Field(n) => n.to_owned(),
        }
    }

    /// The answer when the term names nothing: `what` says what was looked for.
    fn missing(self, what: String) -> ApiError {
        match self {
            At::Path(_) => ApiError::NotFound(what),
            At::Field(field) => ApiError::invalid(field, what),
        }
    }

    /// The answer when the term names several: in a path, the thing cannot be told (409); in a
    /// field, the field's value is refused (400), as any other value naming nothing one.
    fn ambiguous(self, why: String) -> ApiError {
        match self {
            At::Path(param) => ApiError::Conflict {
                message: format!("{param}: {why}"),
                field: Some(param.to_owned()),
            },
            At::Field(field) => ApiError::invalid(field, why),
        }
    }

    fn malformed(self, expected: &str) -> ApiError {
        ApiError::invalid(self.name(), format!("is not {expected}"))
    }
}

/// The term as text the store can hold: trimmed, and a NUL (which PostgreSQL refuses) as
/// U+FFFD, as everywhere else input arrives.
fn clean(raw: &str) -> String {
    raw.trim().replace('\0', "\u{fffd}")
}

/// An incident: its id, or its number, `75` or `#75`.
pub async fn incident(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<IncidentId> {
    if let Ok(id) = raw.parse() {
        return Ok(id);
    }
    let term = raw.trim();
    let digits = term.strip_prefix('#').unwrap_or(term);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(at.malformed("an incident id or number (like 75 or #75)"));
    }
    let missing = || at.missing(format!("no incident is numbered {digits}"));
    // Too many digits for any number the database hands out.
    let Ok(number) = digits.parse::<i64>() else {
        return Err(missing());
    };
    match state.store.incident_id_by_number(number).await {
        Ok(id) => Ok(id),
        Err(e) if e.is_not_found() => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// A user: their id, or their e-mail address (in any case, as addresses are kept in lower
/// case).
pub async fn user(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<UserId> {
    if let Ok(id) = raw.parse() {
        return Ok(id);
    }
    let email = clean(raw).to_lowercase();
    if !email.contains('@') {
        return Err(at.malformed("a user id or e-mail address"));
    }
    match state.store.user_credentials(&email).await {
        Ok(c) => Ok(c.user.id),
        Err(e) if e.is_not_found() => Err(at.missing(format!("no user has the e-mail {email}"))),
        Err(e) => Err(e.into()),
    }
}

/// A service: its id or its name.
pub async fn service(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<ServiceId> {
    let kind = Kind::SERVICE;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => pick(&n, &state.store.services_named(&n).await?, at, &kind),
    }
}

/// An escalation policy: its id or its name.
pub async fn policy(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<EscalationPolicyId> {
    let kind = Kind::POLICY;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => pick(
            &n,
            &state.store.escalation_policies_named(&n).await?,
            at,
            &kind,
        ),
    }
}

/// A schedule: its id or its name.
pub async fn schedule(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<ScheduleId> {
    let kind = Kind::SCHEDULE;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => pick(&n, &state.store.schedules_named(&n).await?, at, &kind),
    }
}

/// An outgoing webhook: its id or its name.
pub async fn webhook(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<WebhookId> {
    let kind = Kind::WEBHOOK;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => pick(&n, &state.store.webhooks_named(&n).await?, at, &kind),
    }
}

/// A status page: its id, its slug or its name.
pub async fn status_page(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<StatusPageId> {
    let kind = Kind::STATUS_PAGE;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => pick(&n, &state.store.status_pages_named(&n).await?, at, &kind),
    }
}

/// An uptime check: its id or its name.
pub async fn check(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<CheckId> {
    let kind = Kind::CHECK;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => pick(&n, &state.store.checks_named(&n).await?, at, &kind),
    }
}

/// An integration: its id or its name, when no other integration (of any service) has it.
pub async fn integration(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<IntegrationId> {
    let kind = Kind::INTEGRATION;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => pick(&n, &state.store.integrations_named(&n).await?, at, &kind),
    }
}

/// A runbook: its id or its name (names are unique and lower-case).
pub async fn runbook(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<RunbookId> {
    let kind = Kind::RUNBOOK;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => match state.store.runbook_by_name(&n.to_ascii_lowercase()).await {
            Ok(r) => Ok(r.id),
            Err(klaxon_store::StoreError::NotFound) => {
                Err(at.missing(format!("no runbook is called \"{n}\"")))
            }
            Err(e) => Err(e.into()),
        },
    }
}

/// A workflow: its id or its name (names are unique and lower-case).
pub async fn workflow(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<WorkflowId> {
    let kind = Kind::WORKFLOW;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => match state.store.workflow_named(&n.to_ascii_lowercase()).await {
            Ok(w) => Ok(w.id),
            Err(klaxon_store::StoreError::NotFound) => {
                Err(at.missing(format!("no workflow is called \"{n}\"")))
            }
            Err(e) => Err(e.into()),
        },
    }
}

/// A drill scenario: its id or its name.
pub async fn drill_scenario(
    state: &AppState,
    raw: &str,
    at: At<'_>,
) -> ApiResult<klaxon_domain::ids::DrillScenarioId> {
    let kind = Kind::DRILL_SCENARIO;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => match state.store.scenario_named(&n.to_ascii_lowercase()).await {
            Ok(s) => Ok(s.id),
            Err(klaxon_store::StoreError::NotFound) => {
                Err(at.missing(format!("no drill scenario is called \"{n}\"")))
            }
            Err(e) => Err(e.into()),
        },
    }
}

/// A drill: its id, or its incident's id or number.
pub async fn drill(
    state: &AppState,
    raw: &str,
    at: At<'_>,
) -> ApiResult<klaxon_store::DrillRecord> {
    if let Ok(id) = raw.trim().parse::<klaxon_domain::ids::DrillId>() {
        match state.store.drill(id).await {
            Ok(d) => return Ok(d),
            Err(klaxon_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let incident = incident(state, raw, at).await?;
    state
        .store
        .drill_of_incident(incident)
        .await?
        .ok_or_else(|| at.missing("that incident is not a drill's".to_owned()))
}

/// A runner: its id or its name.
pub async fn runner(state: &AppState, raw: &str, at: At<'_>) -> ApiResult<RunnerId> {
    let kind = Kind::RUNNER;
    match parse(raw, at, &kind)? {
        Term::Id(id) => Ok(id),
        Term::Name(n) => {
            let found: Vec<(RunnerId, String)> = state
                .store
                .list_runners()
                .await?
                .into_iter()
                .filter(|r| r.name == n.to_ascii_lowercase())
                .map(|r| (r.id, r.name))
                .collect();
            pick(&n, &found, at, &kind)
        }
    }
}

/// The subject of events of `subject_type` (the audit log's `subject_id`): for the types people
/// name, what they call it, as above; API tokens, jobs, alerts and the system by the id their
/// events are stored under, as given.
pub async fn subject(
    state: &AppState,
    subject_type: SubjectType,
    raw: &str,
    at: At<'_>,
) -> ApiResult<String> {
    let id = match subject_type {
        SubjectType::Incident => incident(state, raw, at).await?.to_string(),
        SubjectType::User => user(state, raw, at).await?.to_string(),
        SubjectType::Service => service(state, raw, at).await?.to_string(),
        SubjectType::EscalationPolicy => policy(state, raw, at).await?.to_string(),
        SubjectType::Schedule => schedule(state, raw, at).await?.to_string(),
        SubjectType::Webhook => webhook(state, raw, at).await?.to_string(),
        SubjectType::Integration => integration(state, raw, at).await?.to_string(),
        SubjectType::StatusPage => status_page(state, raw, at).await?.to_string(),
        SubjectType::Check => check(state, raw, at).await?.to_string(),
        SubjectType::Runbook => runbook(state, raw, at).await?.to_string(),
        SubjectType::Runner => runner(state, raw, at).await?.to_string(),
        SubjectType::Workflow => workflow(state, raw, at).await?.to_string(),
        SubjectType::DrillScenario => drill_scenario(state, raw, at).await?.to_string(),
        SubjectType::ApiToken
        | SubjectType::Job
        | SubjectType::Alert
        | SubjectType::System
        | SubjectType::Slo => raw.to_owned(),
    };
    Ok(id)
}

// --- terms inside a JSON body -------------------------------------------------------------------

/// Bodies whose ids are typed (a policy's targets, a schedule's layers) are read after the terms
/// in them are replaced by ids: `from_json` reads the body then, with the usual errors.
pub fn from_json<T: serde::de::DeserializeOwned>(body: &serde_json::Value) -> ApiResult<T> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.into()))?;
    crate::shared::api::parse_json(&bytes)
}

/// The string at `key`, if it is one, for a resolver to replace by an id.
pub fn text_at<'v>(body: &'v mut serde_json::Value, key: &str) -> Option<&'v mut String> {
    match body.get_mut(key) {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

/// The items of the array at `key` when it has at most `max` (a longer one is refused when the
/// body is read, before anything is looked up).
pub fn items_at<'v>(
    body: &'v mut serde_json::Value,
    key: &str,
    max: usize,
) -> Option<&'v mut Vec<serde_json::Value>> {
    body.get_mut(key)
        .and_then(serde_json::Value::as_array_mut)
        .filter(|a| a.len() <= max)
}

/// Replaces by their ids the people named in `body[outer][i][inner][j]` (a schedule's
/// `layers[i].users[j]`), each by id or e-mail address; an error names the item.
pub async fn users_in(
    state: &AppState,
    body: &mut serde_json::Value,
    (outer, outer_max): (&str, usize),
    (inner, inner_max): (&str, usize),
) -> ApiResult<()> {
    let Some(items) = items_at(body, outer, outer_max) else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        let Some(users) = items_at(item, inner, inner_max) else {
            continue;
        };
        for (j, u) in users.iter_mut().enumerate() {
            if let serde_json::Value::String(raw) = u {
                let at = format!("{outer}[{i}].{inner}[{j}]");
                *raw = user(state, raw, At::Field(&at)).await?.to_string();
            }
        }
    }
    Ok(())
}

/// What a name names, in the messages: one and several.
struct Kind {
    one: &'static str,
    /// With its article, for "is not a service id or name".
    a: &'static str,
    many: &'static str,
}

impl Kind {
    const SERVICE: Kind = Kind {
        one: "service",
        a: "a service",
        many: "services",
    };
    const POLICY: Kind = Kind {
        one: "escalation policy",
        a: "an escalation policy",
        many: "escalation policies",
    };
    const SCHEDULE: Kind = Kind {
        one: "schedule",
        a: "a schedule",
        many: "schedules",
    };
    const WEBHOOK: Kind = Kind {
        one: "webhook",
        a: "a webhook",
        many: "webhooks",
    };
    const STATUS_PAGE: Kind = Kind {
        one: "status page",
        a: "a status page",
        many: "status pages",
    };
    const CHECK: Kind = Kind {
        one: "check",
        a: "a check",
        many: "checks",
    };
    const RUNBOOK: Kind = Kind {
        one: "runbook",
        a: "a runbook",
        many: "runbooks",
    };
    const WORKFLOW: Kind = Kind {
        one: "workflow",
        a: "a workflow",
        many: "workflows",
    };
    const DRILL_SCENARIO: Kind = Kind {
        one: "drill scenario",
        a: "a drill scenario",
        many: "drill scenarios",
    };
    const RUNNER: Kind = Kind {
        one: "runner",
        a: "a runner",
        many: "runners",
    };
    const INTEGRATION: Kind = Kind {
        one: "integration",
        a: "an integration",
        many: "integrations",
    };
}

enum Term<K> {
    Id(K),
    Name(String),
}

/// An id, or the name to look for.
fn parse<K: FromStr>(raw: &str, at: At<'_>, kind: &Kind) -> ApiResult<Term<K>> {
    if let Ok(id) = raw.parse() {
        return Ok(Term::Id(id));
    }
    let name = clean(raw);
    if name.is_empty() {
        return Err(at.malformed(&format!("{} id or name", kind.a)));
    }
    Ok(Term::Name(name))
}

/// The one the name names: the exact match, else the only match ignoring case.
fn pick<K: Copy + Display>(
    name: &str,
    found: &[(K, String)],
    at: At<'_>,
    kind: &Kind,
) -> ApiResult<K> {
    let exact: Vec<&(K, String)> = found.iter().filter(|(_, n)| n == name).collect();
    let (candidates, how) = match exact.len() {
        0 => (found.iter().collect::<Vec<_>>(), " ignoring case"),
        _ => (exact, ""),
    };
    match candidates.as_slice() {
        [] => Err(at.missing(format!("no {} is called \"{name}\"", kind.one))),
        [(id, _)] => Ok(*id),
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|(id, n)| format!("\"{n}\" ({id})"))
                .collect();
            let why = format!(
                "ambiguous: {} {} are called \"{name}\"{how}: {}; use the id",
                many.len(),
                kind.many,
                names.join(", ")
            );
            Err(at.ambiguous(why))
        }
    }
}

/// The descriptions the OpenAPI document gives the parameters that take a term.
pub mod doc {
    pub const INCIDENT: &str = "Incident id, or its number (`75` or `#75`)";
    pub const USER: &str = "User id, or their e-mail address";
    pub const SERVICE: &str = "Service id, or its name (exact, else ignoring ASCII case)";
    pub const POLICY: &str = "Escalation policy id, or its name (exact, else ignoring ASCII case)";
    pub const SCHEDULE: &str = "Schedule id, or its name (exact, else ignoring ASCII case)";
    pub const WEBHOOK: &str = "Webhook id, or its name (exact, else ignoring ASCII case)";
    pub const CHECK: &str = "Check id, or its name (exact, else ignoring ASCII case)";
    pub const RUNNER: &str = "Runner id, or its name (names are lower-case)";
    pub const RUNBOOK: &str = "Runbook id, or its name (names are lower-case)";
    pub const WORKFLOW: &str = "Workflow id, or its name (names are lower-case)";
    pub const DRILL_SCENARIO: &str = "Drill scenario id, or its name (names are lower-case)";
    pub const DRILL: &str = "Drill id, or its incident's id or number (`75` or `#75`)";
    pub const INTEGRATION: &str = "Integration id, or its name when no other integration has \
         it (exact, else ignoring ASCII case)";

    pub const STATUS_PAGE: &str =
        "Status page id, its slug, or its name (exact, else ignoring ASCII case)";

    /// The parameters whose name can match several things: their operations can answer 409.
    pub const BY_NAME: [&str; 7] = [
        SERVICE,
        POLICY,
        SCHEDULE,
        WEBHOOK,
        CHECK,
        INTEGRATION,
        STATUS_PAGE,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ServiceId {
        ServiceId(uuid::Uuid::from_bytes([n; 16]))
    }

    #[test]
    fn an_exact_name_wins_over_names_that_differ_in_case() {
        let found = vec![(id(1), "API".to_owned()), (id(2), "api".to_owned())];
        assert_eq!(
            pick("api", &found, At::Path("id"), &Kind::SERVICE).unwrap(),
            id(2)
        );
    }

    #[test]
    fn one_name_ignoring_case_is_found() {
        let found = vec![(id(1), "Payments".to_owned())];
        let got = pick("payments", &found, At::Field("service_id"), &Kind::SERVICE);
        assert_eq!(got.unwrap(), id(1));
    }

    #[test]
    fn several_names_ignoring_case_are_ambiguous() {
        let found = vec![(id(1), "API".to_owned()), (id(2), "Api".to_owned())];
        let e = pick("api", &found, At::Path("id"), &Kind::SERVICE).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::CONFLICT);
        let msg = e.to_string();
        assert!(
            msg.contains("ambiguous: 2 services are called \"api\""),
            "{msg}"
        );
        assert!(msg.contains("use the id"), "{msg}");
    }

    #[test]
    fn equal_names_are_ambiguous_and_a_field_says_so_with_a_400() {
        let found = vec![(id(1), "Prom".to_owned()), (id(2), "Prom".to_owned())];
        let e = pick("Prom", &found, At::Field("x"), &Kind::INTEGRATION).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(e.body().error.field.as_deref(), Some("x"));
        assert!(e.to_string().contains("2 integrations"), "{e}");
    }

    #[test]
    fn a_miss_is_404_in_a_path_and_400_in_a_field() {
        let e = pick::<ServiceId>("nope", &[], At::Path("id"), &Kind::SERVICE).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::NOT_FOUND);
        assert_eq!(e.to_string(), "no service is called \"nope\"");
        let e =
            pick::<ServiceId>("nope", &[], At::Field("service_id"), &Kind::SERVICE).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(e.body().error.field.as_deref(), Some("service_id"));
    }
}

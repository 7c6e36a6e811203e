//! Alert ingestion: PagerDuty Events API v2, the Alertmanager webhook, our generic webhook and
//! heartbeats. Each request is parsed into domain signals at the edge, then committed through
//! group commit; the answer goes out only after the commit.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use klaxon_domain::Invalid;
use klaxon_domain::alert::{
    Action, AlertContent, DedupKey, Image, IntegrationKind, Link, Severity, Signal, truncate,
};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{AlertId, IncidentId};
use klaxon_store::{Integration, SignalAck, SignalWrite, StoreError, Write, WriteAck};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::shared::crypto::{self, hex, random_bytes};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;

/// PagerDuty's cap on one event, which Alertmanager also respects.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/enqueue", post(pd_enqueue))
        .route("/v2/change/enqueue", post(pd_change))
        .route("/integrations/{key}/alertmanager", post(alertmanager))
        .route("/integrations/{key}/generic", post(generic))
        .route(
            "/integrations/{key}/heartbeat",
            get(heartbeat).post(heartbeat),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The path as it may be logged: integration keys are secrets.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    if let Some(rest) = path.strip_prefix("/integrations/") {
        let tail = rest.split_once('/').map(|(_, t)| t).unwrap_or("");
        return format!("/integrations/<key>/{tail}").into();
    }
    // One-click acknowledge links and calendar feeds are bearer credentials too.
    if path.starts_with("/ack/") {
        return "/ack/<token>".into();
    }
    if let Some(rest) = path.strip_prefix("/calendar/") {
        let kind = rest.split('/').next().unwrap_or("");
        return format!("/calendar/{kind}/<token>").into();
    }
    path.into()
}

// --- shared plumbing ---------------------------------------------------------------------------

/// Why an ingest request failed before or during the commit.
pub(crate) enum Refusal {
    /// The key names no integration of the right kind.
    UnknownKey,
    Invalid(Vec<Invalid>),
    Malformed(String),
    TooLarge,
    RateLimited(u64),
    Store(StoreError),
}

impl From<Invalid> for Refusal {
    fn from(e: Invalid) -> Self {
        Refusal::Invalid(vec![e])
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        // The integration or its service was deleted between the lookup and the commit.
        if e.is_not_found() {
            Refusal::UnknownKey
        } else {
            Refusal::Store(e)
        }
    }
}

async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, Refusal> {
    Bytes::from_request(req, state).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Refusal::TooLarge
        }
        other => Refusal::Malformed(other.body_text()),
    })
}

async fn integration_for(
    state: &AppState,
    key: &str,
    kind: IntegrationKind,
) -> Result<Integration, Refusal> {
    if key.is_empty() || key.len() > 128 {
        return Err(Refusal::UnknownKey);
    }
    let digest = crypto::sha256(key.as_bytes());
    let integration = match state.integrations.get(&digest) {
        Some(i) => i,
        None => {
            let i = state.store.integration_by_key(&digest).await?;
            state.integrations.put(digest, i.clone());
            i
        }
    };
    if integration.kind != kind {
        return Err(Refusal::UnknownKey);
    }
    state
        .rate_limiter
        .check(
            integration.id,
            integration.rate_limit_per_minute,
            state.clock.now(),
        )
        .map_err(Refusal::RateLimited)?;
    Ok(integration)
}

/// Commits one signal; answers once it is durable.
async fn commit_signal(
    state: &AppState,
    integration: &Integration,
    signal: Signal,
) -> Result<SignalAck, Refusal> {
    let now = state.clock.now();
    let write = SignalWrite {
        service_id: integration.service_id,
        integration_id: Some(integration.id),
        signal,
        at: now,
        new_alert_id: AlertId::new(now, random_bytes()),
        new_incident_id: IncidentId::new(now, random_bytes()),
        new_job_id: klaxon_domain::ids::JobId::new(now, random_bytes()),
    };
    match state
        .group_commit
        .write(Write::Signal(Box::new(write)))
        .await?
    {
        WriteAck::Signal(ack) => {
            metrics::counter!("klaxon_signals_total", "step" => step_name(ack)).increment(1);
            if ack.incident_opened {
                // Its escalation's first step is due now: page without waiting for a tick.
                state.engine.wake();
            }
            Ok(ack)
        }
        other => Err(Refusal::Store(StoreError::Other(
            format!("unexpected acknowledgement {other:?}").into(),
        ))),
    }
}

fn step_name(ack: SignalAck) -> &'static str {
    match ack.step {
        klaxon_domain::alert::Step::Open => "open",
        klaxon_domain::alert::Step::Deduplicate => "deduplicate",
        klaxon_domain::alert::Step::Acknowledge => "acknowledge",
        klaxon_domain::alert::Step::Resolve => "resolve",
        klaxon_domain::alert::Step::Ignore => "ignore",
    }
}

/// A dedup key for a trigger that brought none, as PagerDuty does: 32 hex characters.
fn generated_dedup_key() -> DedupKey {
    let r: [u8; 16] = random_bytes();
    DedupKey::parse(&hex(&r)).unwrap_or_else(|_| unreachable!("32 hex characters"))
}

/// Reads fields out of a JSON object, collecting every problem with its path.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    fn new(obj: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Self { obj, prefix }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn opt_str(&self, name: &str) -> Result<Option<String>, Invalid> {
        match self.obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Invalid::new(self.path(name), "must be a string")),
        }
    }

    fn req_str(&self, name: &str) -> Result<String, Invalid> {
        match self.opt_str(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(Invalid::new(self.path(name), "is missing or blank")),
        }
    }

    fn opt_parse<T: std::str::FromStr<Err = Invalid>>(
        &self,
        name: &str,
    ) -> Result<Option<T>, Invalid> {
        self.opt_str(name)?
            .map(|s| {
                s.parse::<T>()
                    .map_err(|e| Invalid::new(self.path(name), e.reason))
            })
            .transpose()
    }

    fn opt_time(&self, name: &str) -> Result<Option<Timestamp>, Invalid> {
        self.opt_str(name)?
            .map(|s| {
                parse_time(&s).ok_or_else(|| {
                    Invalid::new(self.path(name), "must be an ISO 8601 date and time")
                })
            })
            .transpose()
    }

    fn links(&self) -> Result<Vec<Link>, Invalid> {
        self.list("links", |o, p| {
            let f = Fields::new(o, p);
            Ok(Link {
                href: f.req_str("href")?,
                text: f.opt_str("text")?,
            })
        })
    }

    fn images(&self) -> Result<Vec<Image>, Invalid> {
        self.list("images", |o, p| {
            let f = Fields::new(o, p);
            Ok(Image {
                src: f.req_str("src")?,
                href: f.opt_str("href")?,
                alt: f.opt_str("alt")?,
            })
        })
    }

    fn list<T>(
        &self,
        name: &str,
        each: impl Fn(&Map<String, Value>, &str) -> Result<T, Invalid>,
    ) -> Result<Vec<T>, Invalid> {
        match self.obj.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let p = format!("{}[{i}].", self.path(name));
                    match v {
                        Value::Object(o) => each(o, &p),
                        _ => Err(Invalid::new(self.path(name), "items must be objects")),
                    }
                })
                .collect(),
            Some(_) => Err(Invalid::new(self.path(name), "must be an array")),
        }
    }
}

/// ISO 8601 with an offset, also in the `+0000` form PagerDuty's examples use.
fn parse_time(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    // "…58.315+0000" -> "…58.315+00:00"
    let cut = s.len().checked_sub(5).filter(|&i| s.is_char_boundary(i))?;
    let (head, off) = s.split_at(cut);
    let sign = off.chars().next()?;
    if (sign == '+' || sign == '-') && off[1..].chars().all(|c| c.is_ascii_digit()) {
        return format!("{head}{}:{}", &off[..3], &off[3..]).parse().ok();
    }
    None
}

fn collect<T>(results: Vec<Result<T, Invalid>>) -> (Vec<T>, Vec<Invalid>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

// --- PagerDuty Events API v2 --------------------------------------------------------------------

/// PagerDuty's answers, byte for byte in shape: clients parse them.
#[derive(Serialize)]
struct PdBody {
    status: &'static str,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dedup_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<String>>,
}

fn pd_response(refusal: Refusal) -> Response {
    let (status, body, retry) = match refusal {
        Refusal::UnknownKey => (
            StatusCode::BAD_REQUEST,
            PdBody {
                status: "invalid event",
                message: "Event object is invalid",
                dedup_key: None,
                errors: Some(vec!["Invalid routing key".into()]),
            },
            None,
        ),
        Refusal::Invalid(errs) => (
            StatusCode::BAD_REQUEST,
            PdBody {
                status: "invalid event",
                message: "Event object is invalid",
                dedup_key: None,
                errors: Some(
                    errs.into_iter()
                        .map(|e| format!("'{}' {}", e.field, e.reason))
                        .collect(),
                ),
            },
            None,
        ),
        Refusal::Malformed(_) => (
            StatusCode::BAD_REQUEST,
            PdBody {
                status: "Unrecognized object",
                message: "Event object format is unrecognized",
                dedup_key: None,
                errors: Some(vec!["JSON parse error".into()]),
            },
            None,
        ),
        Refusal::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            PdBody {
                status: "invalid event",
                message: "Event object is too large",
                dedup_key: None,
                errors: Some(vec![format!(
                    "the event is larger than {MAX_BODY_BYTES} bytes"
                )]),
            },
            None,
        ),
        Refusal::RateLimited(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            PdBody {
                status: "throttle event",
                message: "Requests for this service are arriving too quickly. Please retry later.",
                dedup_key: None,
                errors: None,
            },
            Some(secs),
        ),
        Refusal::Store(e) => return store_failure(&e),
    };
    let mut resp = (status, Json(body)).into_response();
    if let Some(secs) = retry {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// A database failure: 503, so that senders retry (Alertmanager and PagerDuty clients retry 5xx).
fn store_failure(e: &StoreError) -> Response {
    if let Some(held_back) = klaxon_store::repeats::allow("ingest-commit") {
        tracing::error!(error = %e, held_back, "could not commit a signal");
    }
    ApiError::Unavailable("the alert could not be stored; retry".into()).into_response()
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(&crate::shared::nul::json(bytes)) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(Refusal::Malformed("not a JSON object".into())),
        Err(e) => Err(Refusal::Malformed(e.to_string())),
    }
}

/// Parses a PagerDuty event into its routing key and signal.
fn parse_pd_event(obj: &Map<String, Value>) -> Result<(String, Signal), Refusal> {
    let f = Fields::new(obj, "");
    let mut errors = Vec::new();
    let routing_key = f.req_str("routing_key").map_err(|e| errors.push(e)).ok();
    let action = match f.req_str("event_action") {
        Ok(s) => s.parse::<Action>().map_err(|e| errors.push(e)).ok(),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let dedup = match f.opt_str("dedup_key") {
        Ok(Some(s)) => DedupKey::parse(&s)
            .map(Some)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten(),
        Ok(None) => None,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let content = if action == Some(Action::Trigger) {
        match pd_content(obj) {
            Ok(c) => Some(c),
            Err(mut errs) => {
                errors.append(&mut errs);
                None
            }
        }
    } else {
        None
    };
    let dedup_key = match (action, dedup) {
        (_, Some(k)) => Some(k),
        (Some(Action::Trigger), None) => Some(generated_dedup_key()),
        (Some(_), None) => {
            errors.push(Invalid::new("dedup_key", "is missing or blank"));
            None
        }
        (None, None) => None,
    };
    if !errors.is_empty() {
        return Err(Refusal::Invalid(errors));
    }
    match (routing_key, action, dedup_key) {
        (Some(rk), Some(action), Some(dedup_key)) => Ok((
            rk,
            Signal {
                action,
                dedup_key,
                content,
                payload: None,
            },
        )),
        _ => Err(Refusal::Invalid(vec![Invalid::new("event", "is invalid")])),
    }
}

fn pd_content(obj: &Map<String, Value>) -> Result<AlertContent, Vec<Invalid>> {
    let top = Fields::new(obj, "");
    let Some(Value::Object(payload)) = obj.get("payload") else {
        return Err(vec![Invalid::new("payload", "is missing or not an object")]);
    };
    let p = Fields::new(payload, "payload.");
    let (mut ok, mut errors) = collect(vec![p.req_str("summary"), p.req_str("source")]);
    let severity = match p.req_str("severity") {
        Ok(s) => s
            .parse::<Severity>()
            .map_err(|e| errors.push(Invalid::new("payload.severity", e.reason)))
            .ok(),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let mut take =
        |r: Result<Option<String>, Invalid>| r.map_err(|e| errors.push(e)).ok().flatten();
    let component = take(p.opt_str("component"));
    let group = take(p.opt_str("group"));
    let class = take(p.opt_str("class"));
    let client = take(top.opt_str("client"));
    let client_url = take(top.opt_str("client_url"));
    let timestamp = p
        .opt_time("timestamp")
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let links = top.links().map_err(|e| errors.push(e)).unwrap_or_default();
    let images = top.images().map_err(|e| errors.push(e)).unwrap_or_default();
    if !errors.is_empty() || ok.len() != 2 {
        return Err(errors);
    }
    let source = ok.pop();
    let summary = ok.pop().unwrap_or_default();
    Ok(AlertContent {
        // PagerDuty cuts long summaries rather than refusing them; so do we.
        summary: truncate(summary.trim().to_owned(), AlertContent::SUMMARY_MAX),
        source,
        severity: severity.unwrap_or(Severity::Error),
        timestamp,
        component,
        group,
        class,
        details: payload
            .get("custom_details")
            .cloned()
            .unwrap_or(Value::Null),
        links,
        images,
        client,
        client_url,
    })
}

async fn pd_enqueue(State(state): State<AppState>, req: Request) -> Response {
    let result = async {
        let bytes = body_bytes(req, &state).await?;
        let mut obj = parse_object(&bytes)?;
        let (routing_key, mut signal) = parse_pd_event(&obj)?;
        let integration = integration_for(&state, &routing_key, IntegrationKind::EventsV2).await?;
        if signal.content.is_some() {
            // Kept for people to read, without the key that lets anyone send alerts.
            obj.remove("routing_key");
            signal.payload = serde_json::to_string(&obj).ok();
        }
        let dedup_key = signal.dedup_key.as_str().to_owned();
        commit_signal(&state, &integration, signal).await?;
        Ok::<_, Refusal>(dedup_key)
    }
    .await;
    match result {
        Ok(dedup_key) => (
            StatusCode::ACCEPTED,
            Json(PdBody {
                status: "success",
                message: "Event processed",
                dedup_key: Some(dedup_key),
                errors: None,
            }),
        )
            .into_response(),
        Err(r) => pd_response(r),
    }
}

/// Change events (deploys, config changes) land on the service's timeline and page nobody.
async fn pd_change(State(state): State<AppState>, req: Request) -> Response {
    let result = async {
        let bytes = body_bytes(req, &state).await?;
        let obj = parse_object(&bytes)?;
        let top = Fields::new(&obj, "");
        let routing_key = top.req_str("routing_key")?;
        let Some(Value::Object(payload)) = obj.get("payload") else {
            return Err(Invalid::new("payload", "is missing or not an object").into());
        };
        let p = Fields::new(payload, "payload.");
        let summary = truncate(
            p.req_str("summary")?.trim().to_owned(),
            AlertContent::SUMMARY_MAX,
        );
        let source = p.opt_str("source")?;
        let timestamp = p.opt_time("timestamp")?;
        let links = top.links()?;
        let integration = integration_for(&state, &routing_key, IntegrationKind::EventsV2).await?;
        let now = state.clock.now();
        let event = NewEvent::new(
            SubjectType::Service,
            integration.service_id,
            now,
            Actor::System,
            EventKind::ServiceChange,
            json!({
                "summary": summary,
                "source": source,
                "timestamp": timestamp,
                "custom_details": payload.get("custom_details").cloned().unwrap_or(Value::Null),
                "links": links,
                "integration_id": integration.id,
            }),
        );
        state.group_commit.write(Write::Event(event)).await?;
        Ok::<_, Refusal>(())
    }
    .await;
    match result {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({"status": "success", "message": "Change event processed"})),
        )
            .into_response(),
        Err(r) => pd_response(r),
    }
}

// --- our own endpoints: errors in the API's shape -----------------------------------------------

fn api_response(refusal: Refusal) -> Response {
    match refusal {
        Refusal::UnknownKey => ApiError::not_found("integration").into_response(),
        Refusal::Invalid(mut errs) => {
            let first = errs.remove(0);
            let mut e = ApiError::from(first);
            if let ApiError::BadRequest { message, .. } = &mut e {
                for more in errs {
                    message.push_str(&format!("; {more}"));
                }
            }
            e.into_response()
        }
        Refusal::Malformed(m) => ApiError::BadRequest {
            code: "invalid_json",
            message: format!("malformed JSON: {m}"),
            field: None,
        }
        .into_response(),
        // The ingest routes have their own limit, not the API's `server.body_limit_bytes`.
        Refusal::TooLarge => ApiError::PayloadTooLarge(format!(
            "{} KiB, the most one alert request may carry",
            MAX_BODY_BYTES / 1024
        ))
        .into_response(),
        Refusal::RateLimited(secs) => ApiError::TooManyRequests {
            retry_after_secs: secs,
        }
        .into_response(),
        Refusal::Store(e) => store_failure(&e),
    }
}

#[derive(Serialize)]
struct IngestOut {
    status: &'static str,
    /// One entry per signal: what it did.
    results: Vec<SignalOut>,
}

#[derive(Serialize)]
struct SignalOut {
    dedup_key: String,
    step: klaxon_domain::alert::Step,
    alert_id: Option<AlertId>,
    incident_id: Option<IncidentId>,
}

fn signal_out(key: String, ack: SignalAck) -> SignalOut {
    SignalOut {
        dedup_key: key,
        step: ack.step,
        alert_id: ack.alert_id,
        incident_id: ack.incident_id,
    }
}

/// Commits several signals concurrently (they usually share one transaction).
async fn commit_all(
    state: &AppState,
    integration: &Integration,
    signals: Vec<Signal>,
) -> Result<Vec<SignalOut>, Refusal> {
    let keys: Vec<String> = signals
        .iter()
        .map(|s| s.dedup_key.as_str().to_owned())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, s) in signals.into_iter().enumerate() {
        let state = state.clone();
        let integration = integration.clone();
        tasks.spawn(async move { (i, commit_signal(&state, &integration, s).await) });
    }
    let mut acks = vec![None; keys.len()];
    let mut failure = None;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((i, Ok(ack))) => acks[i] = Some(ack),
            Ok((_, Err(e))) => failure = Some(e),
            Err(join) => failure = Some(Refusal::Store(StoreError::Other(join.to_string().into()))),
        }
    }
    if let Some(f) = failure {
        return Err(f);
    }
    Ok(keys
        .into_iter()
        .zip(acks)
        .filter_map(|(k, a)| a.map(|a| signal_out(k, a)))
        .collect())
}

/// Alertmanager's `severity` label in PagerDuty's vocabulary; Alertmanager's own default is
/// `error`.
fn severity_from_label(label: Option<&str>) -> Severity {
    match label.map(str::to_ascii_lowercase).as_deref() {
        Some("critical" | "page" | "emergency" | "alert" | "fatal" | "high") => Severity::Critical,
        Some("warning" | "warn" | "minor" | "medium") => Severity::Warning,
        Some("info" | "informational" | "notice" | "none" | "low" | "debug") => Severity::Info,
        _ => Severity::Error,
    }
}

fn non_blank<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// One alert of an Alertmanager notification, with the notification's other fields.
#[derive(Serialize)]
struct OneAlert<'a> {
    #[serde(flatten)]
    envelope: &'a Map<String, Value>,
    alerts: [&'a Value; 1],
}

/// One signal per Alertmanager alert, deduplicated on its fingerprint.
fn parse_alertmanager(obj: &Map<String, Value>) -> Result<Vec<Signal>, Refusal> {
    let Some(Value::Array(alerts)) = obj.get("alerts") else {
        return Err(Invalid::new("alerts", "is missing or not an array").into());
    };
    // What each alert's payload repeats from the notification: all but the other alerts.
    let envelope: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| k.as_str() != "alerts")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let group_key = obj.get("groupKey").cloned().unwrap_or(Value::Null);
    let receiver = obj.get("receiver").cloned().unwrap_or(Value::Null);
    let external_url = obj.get("externalURL").and_then(Value::as_str);
    let mut signals = Vec::with_capacity(alerts.len());
    for (i, alert) in alerts.iter().enumerate() {
        let prefix = format!("alerts[{i}].");
        let Value::Object(a) = alert else {
            return Err(Invalid::new(format!("alerts[{i}]"), "must be an object").into());
        };
        let f = Fields::new(a, &prefix);
        let labels = match a.get("labels") {
            Some(Value::Object(l)) => l,
            _ => {
                return Err(Invalid::new(f.path("labels"), "is missing or not an object").into());
            }
        };
        let empty = Map::new();
        let annotations = match a.get("annotations") {
            Some(Value::Object(m)) => m,
            _ => &empty,
        };
        // Alertmanager's labels and annotations are strings; anything else is not from it.
        for (what, map) in [("labels", labels), ("annotations", annotations)] {
            if let Some((k, _)) = map.iter().find(|(_, v)| !v.is_string()) {
                return Err(
                    Invalid::new(f.path(&format!("{what}.{k}")), "must be a string").into(),
                );
            }
        }
        let starts_at = match a.get("startsAt") {
            None | Some(Value::Null) => None,
            Some(t) => Some(t.as_str().and_then(parse_time).ok_or_else(|| {
                Invalid::new(
                    f.path("startsAt"),
                    "must be an RFC 3339 time, like 2026-12-06T10:00:00Z",
                )
            })?),
        };
        let label = |k: &str| labels.get(k).and_then(Value::as_str);
        let status = f.req_str("status")?;
        let action = match status.as_str() {
            "firing" => Action::Trigger,
            "resolved" => Action::Resolve,
            _ => {
                return Err(
                    Invalid::new(f.path("status"), "must be \"firing\" or \"resolved\"").into(),
                );
            }
        };
        // The fingerprint identifies the label set. Older senders may omit it: derive one.
        let fingerprint = match f.opt_str("fingerprint")? {
            Some(fp) if !fp.is_empty() => fp,
            _ => {
                let mut pairs: Vec<_> = labels.iter().collect();
                pairs.sort_by(|a, b| a.0.cmp(b.0));
                let text = serde_json::to_string(&pairs).unwrap_or_default();
                hex(&crypto::sha256(text.as_bytes())[..8])
            }
        };
        let dedup_key = DedupKey::parse(&fingerprint)
            .map_err(|e| Invalid::new(f.path("fingerprint"), e.reason))?;
        let content = (action == Action::Trigger).then(|| {
            let summary = non_blank(annotations, "summary")
                .or_else(|| non_blank(annotations, "description"))
                .or_else(|| non_blank(annotations, "message"))
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    let name = label("alertname").unwrap_or("alert");
                    match label("instance").or_else(|| label("job")) {
                        Some(on) => format!("{name} on {on}"),
                        None => name.to_owned(),
                    }
                });
            let mut links = Vec::new();
            if let Some(g) = a
                .get("generatorURL")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                links.push(Link {
                    href: g.to_owned(),
                    text: Some("Source".into()),
                });
            }
            if let Some(url) = external_url.filter(|s| !s.is_empty()) {
                links.push(Link {
                    href: url.to_owned(),
                    text: Some("Alertmanager".into()),
                });
            }
            AlertContent {
                summary: truncate(summary.trim().to_owned(), AlertContent::SUMMARY_MAX),
                source: label("instance")
                    .or_else(|| label("job"))
                    .map(str::to_owned),
                severity: severity_from_label(label("severity")),
                timestamp: starts_at,
                component: label("job").map(str::to_owned),
                group: label("alertname").map(str::to_owned),
                class: None,
                details: json!({
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": a.get("startsAt"),
                    "generatorURL": a.get("generatorURL"),
                    "fingerprint": fingerprint,
                    "groupKey": group_key,
                    "receiver": receiver,
                }),
                links,
                images: Vec::new(),
                client: Some("Alertmanager".into()),
                client_url: external_url.map(str::to_owned),
            }
        });
        // As Alertmanager would have sent this alert alone.
        let payload = content.as_ref().and_then(|_| {
            serde_json::to_string(&OneAlert {
                envelope: &envelope,
                alerts: [alert],
            })
            .ok()
        });
        signals.push(Signal {
            action,
            dedup_key,
            content,
            payload,
        });
    }
    Ok(signals)
}

async fn alertmanager(
    State(state): State<AppState>,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let result = async {
        let integration = integration_for(&state, &key, IntegrationKind::Alertmanager).await?;
        let bytes = body_bytes(req, &state).await?;
        let obj = parse_object(&bytes)?;
        let signals = parse_alertmanager(&obj)?;
        commit_all(&state, &integration, signals).await
    }
    .await;
    match result {
        Ok(results) => (
            StatusCode::OK,
            Json(IngestOut {
                status: "success",
                results,
            }),
        )
            .into_response(),
        Err(r) => api_response(r),
    }
}

/// Our own format: see docs/integrations.md.
fn parse_generic(obj: &Map<String, Value>) -> Result<Signal, Refusal> {
    let f = Fields::new(obj, "");
    let action = f.opt_parse::<Action>("action")?.unwrap_or(Action::Trigger);
    let dedup_key = match f.opt_str("dedup_key")? {
        Some(k) => DedupKey::parse(&k)?,
        None if action == Action::Trigger => generated_dedup_key(),
        None => {
            return Err(Invalid::new("dedup_key", "is required to acknowledge or resolve").into());
        }
    };
    let content = if action == Action::Trigger {
        let summary = AlertContent::parse_summary(&f.req_str("summary")?, "summary")?;
        Some(AlertContent {
            summary,
            source: f.opt_str("source")?,
            severity: f
                .opt_parse::<Severity>("severity")?
                .unwrap_or(Severity::Error),
            timestamp: f.opt_time("timestamp")?,
            component: f.opt_str("component")?,
            group: f.opt_str("group")?,
            class: f.opt_str("class")?,
            details: match obj.get("details") {
                None | Some(Value::Null) => Value::Null,
                Some(v @ Value::Object(_)) => v.clone(),
                Some(_) => return Err(Invalid::new("details", "must be an object").into()),
            },
            links: f.links()?,
            images: Vec::new(),
            client: None,
            client_url: None,
        })
    } else {
        None
    };
    let payload = content
        .as_ref()
        .and_then(|_| serde_json::to_string(obj).ok());
    Ok(Signal {
        action,
        dedup_key,
        content,
        payload,
    })
}

async fn generic(State(state): State<AppState>, Path(key): Path<String>, req: Request) -> Response {
    let result = async {
        let integration = integration_for(&state, &key, IntegrationKind::Generic).await?;
        let bytes = body_bytes(req, &state).await?;
        let obj = parse_object(&bytes)?;
        let signal = parse_generic(&obj)?;
        let key = signal.dedup_key.as_str().to_owned();
        let ack = commit_signal(&state, &integration, signal).await?;
        Ok::<_, Refusal>(signal_out(key, ack))
    }
    .await;
    match result {
        Ok(out) => (
            StatusCode::ACCEPTED,
            Json(IngestOut {
                status: "success",
                results: vec![out],
            }),
        )
            .into_response(),
        Err(r) => api_response(r),
    }
}

async fn heartbeat(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    let result = async {
        let integration = integration_for(&state, &key, IntegrationKind::Heartbeat).await?;
        crate::alerts::heartbeat::ping(&state, &integration).await
    }
    .await;
    match result {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "success"}))).into_response(),
        Err(r) => api_response(r),
    }
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;

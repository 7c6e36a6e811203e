//! Uptime checks: an HTTP(S) request or a TCP connection, made by the engine at an interval,
//! judged by conditions, with failure and success thresholds between "up" and "down".
//!
//! Everything here is pure: the spec parsed from input, the verdict on a probe, the threshold
//! state machine, the day-by-day tallies kept for 400 days and the up/down intervals a status
//! page component can follow.
use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Invalid, named_enum};

pub mod cert;
mod condition;
pub use condition::{
    Condition, ConditionResult, Left, Op, PathStep, Placeholder, Probe, Right, glob,
};

/// The job that runs one check, once per interval (dedup key [`job_key`]).
pub const RUN_JOB: &str = "check.run";
/// The job that forgets old results (dedup key [`PRUNE_KEY`]).
pub const PRUNE_JOB: &str = "check.prune";
pub const PRUNE_KEY: &str = "check:prune";
pub const PRUNE_EVERY: SignedDuration = SignedDuration::from_hours(1);

/// Raw results are kept this long…
pub const RESULTS_KEPT: SignedDuration = SignedDuration::from_hours(7 * 24);
/// …and the daily tallies and state changes this long.
pub const DAYS_KEPT: i64 = 400;

pub const INTERVAL_MIN: u32 = 20;
pub const INTERVAL_DEFAULT: u32 = 60;
pub const INTERVAL_MAX: u32 = 86_400;
pub const TIMEOUT_DEFAULT_MS: u32 = 10_000;
/// Well under the engine's job lease (60 s), so a slow probe never loses its job to another
/// instance mid-run.
pub const TIMEOUT_MAX_MS: u32 = 30_000;
pub const FAILURE_THRESHOLD_DEFAULT: u32 = 3;
pub const SUCCESS_THRESHOLD_DEFAULT: u32 = 2;
pub const THRESHOLD_MAX: u32 = 100;
pub const CONDITIONS_MAX: usize = 20;
pub const HEADERS_MAX: usize = 30;
pub const BODY_MAX: usize = 65_536;
pub const URL_MAX: usize = 2_000;
/// Bodies longer than this are cut before conditions read them.
pub const READ_MAX: usize = 1_048_576;

/// The dedup key of a check's run job, and of the alert it raises on its service.
pub fn job_key(id: impl std::fmt::Display) -> String {
    format!("check:{id}")
}

named_enum! {
    /// HTTP(S) or TCP, from the URL's scheme.
    pub enum CheckKind (field = "kind") {
        Http = "http",
        Tcp = "tcp",
    }
}

named_enum! {
    pub enum CheckState (field = "state") {
        Up = "up",
        Down = "down",
    }
}

named_enum! {
    pub enum HttpMethod (field = "method") {
        Get = "GET",
        Head = "HEAD",
        Post = "POST",
        Put = "PUT",
        Patch = "PATCH",
        Delete = "DELETE",
        Options = "OPTIONS",
    }
}

/// A check's settings, parsed. Kept as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSpec {
    /// `http://…`, `https://…` or `tcp://host:port`.
    pub url: String,
    pub method: HttpMethod,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub timeout_ms: u32,
    pub interval_secs: u32,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub conditions: Vec<Condition>,
}

/// What an admin typed; every field but the URL may be left out for its default.
#[derive(Debug, Clone, Default)]
pub struct SpecInput {
    pub url: String,
    pub method: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub timeout_ms: Option<u32>,
    pub interval_secs: Option<u32>,
    pub failure_threshold: Option<u32>,
    pub success_threshold: Option<u32>,
    pub conditions: Vec<String>,
}

impl CheckSpec {
    pub fn parse(input: SpecInput) -> Result<Self, Invalid> {
        let url = input.url.trim().to_owned();
        let kind = kind_of(&url)?;
        let method = match input.method.as_deref().map(str::trim) {
            None | Some("") => HttpMethod::Get,
            Some(m) => m.to_ascii_uppercase().parse()?,
        };
        let in_range = |field: &str, v: Option<u32>, default: u32, min: u32, max: u32| {
            let v = v.unwrap_or(default);
            if (min..=max).contains(&v) {
                Ok(v)
            } else {
                Err(Invalid::new(field, format!("must be from {min} to {max}")))
            }
        };
        let interval_secs = in_range(
            "interval_secs",
            input.interval_secs,
            INTERVAL_DEFAULT,
            INTERVAL_MIN,
            INTERVAL_MAX,
        )?;
        let timeout_ms = in_range(
            "timeout_ms",
            input.timeout_ms,
            TIMEOUT_DEFAULT_MS,
            100,
            TIMEOUT_MAX_MS,
        )?;
        let failure_threshold = in_range(
            "failure_threshold",
            input.failure_threshold,
            FAILURE_THRESHOLD_DEFAULT,
            1,
            THRESHOLD_MAX,
        )?;
        let success_threshold = in_range(
            "success_threshold",
            input.success_threshold,
            SUCCESS_THRESHOLD_DEFAULT,
            1,
            THRESHOLD_MAX,
        )?;
        if kind == CheckKind::Tcp {
            if !input.headers.is_empty() {
                return Err(Invalid::new("headers", "a TCP check sends no headers"));
            }
            if input.body.as_deref().is_some_and(|b| !b.is_empty()) {
                return Err(Invalid::new("body", "a TCP check sends no body"));
            }
            if input
                .method
                .as_deref()
                .is_some_and(|m| !m.trim().is_empty())
                && method != HttpMethod::Get
            {
                return Err(Invalid::new("method", "a TCP check has no method"));
            }
        }
        if input.headers.len() > HEADERS_MAX {
            return Err(Invalid::new("headers", format!("at most {HEADERS_MAX}")));
        }
        let mut headers = BTreeMap::new();
        for (name, value) in input.headers {
            let name = name.trim().to_owned();
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(Invalid::new(
                    "headers",
                    format!("{name:?} is not a header name (letters, digits and - _ . only)"),
                ));
            }
            if value.chars().any(char::is_control) || value.len() > 4096 {
                return Err(Invalid::new(
                    "headers",
                    format!("the value of {name} must be one line of at most 4096 bytes"),
                ));
            }
            headers.insert(name, value.trim().to_owned());
        }
        let body = input.body.filter(|b| !b.is_empty());
        if body.as_ref().is_some_and(|b| b.len() > BODY_MAX) {
            return Err(Invalid::new("body", format!("at most {BODY_MAX} bytes")));
        }
        let raw: Vec<String> = input
            .conditions
            .into_iter()
            .filter(|c| !c.trim().is_empty())
            .collect();
        if raw.len() > CONDITIONS_MAX {
            return Err(Invalid::new(
                "conditions",
                format!("at most {CONDITIONS_MAX}"),
            ));
        }
        let mut conditions = Vec::with_capacity(raw.len());
        for (i, text) in raw.iter().enumerate() {
            let field = format!("conditions[{i}]");
            let c = Condition::parse(&field, text)?;
            let p = c.placeholder();
            if kind == CheckKind::Tcp && !p.for_tcp() {
                return Err(Invalid::new(
                    field,
                    format!(
                        "a TCP check reads only [CONNECTED] and [RESPONSE_TIME], not {}",
                        p.name()
                    ),
                ));
            }
            if p == Placeholder::CertificateExpiration && !url.starts_with("https://") {
                return Err(Invalid::new(
                    field,
                    "[CERTIFICATE_EXPIRATION] needs an https:// URL",
                ));
            }
            conditions.push(c);
        }
        if conditions.is_empty() {
            let default = match kind {
                CheckKind::Http => "[STATUS] < 400",
                CheckKind::Tcp => "[CONNECTED] == true",
            };
            conditions.push(Condition::parse("conditions", default)?);
        }
        Ok(Self {
            url,
            method,
            headers,
            body,
            timeout_ms,
            interval_secs,
            failure_threshold,
            success_threshold,
            conditions,
        })
    }

    pub fn kind(&self) -> CheckKind {
        if self.url.starts_with("tcp://") {
            CheckKind::Tcp
        } else {
            CheckKind::Http
        }
    }

    /// `host:port` of a TCP check.
    pub fn tcp_address(&self) -> Option<&str> {
        self.url.strip_prefix("tcp://")
    }

    /// Whether a condition reads the body: only then is it downloaded.
    pub fn reads_body(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| c.placeholder() == Placeholder::Body)
    }

    pub fn interval(&self) -> SignedDuration {
        SignedDuration::from_secs(i64::from(self.interval_secs))
    }

    /// Judges one probe: every condition must hold, and an HTTP check must have had an answer.
    pub fn judge(&self, probe: &Probe, now: Timestamp) -> Verdict {
        let json = if self.conditions.iter().any(|c| {
            matches!(&c.left, Left::Value(_, p) | Left::Len(_, p) if !p.is_empty())
                || matches!(c.left, Left::Has(_))
        }) {
            probe
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok())
        } else {
            None
        };
        let results: Vec<ConditionResult> = self
            .conditions
            .iter()
            .map(|c| c.evaluate(probe, json.as_ref(), now))
            .collect();
        let answered = self.kind() == CheckKind::Tcp || probe.status.is_some();
        let failed = results.iter().find(|r| !r.ok);
        let ok = answered && failed.is_none();
        // The connection's error says more than the condition it made fail.
        let reason = match (ok, &probe.error, failed) {
            (true, _, _) => None,
            (false, Some(e), _) => Some(e.clone()),
            (false, None, Some(r)) => Some(format!("{} (was {})", r.condition, r.actual)),
            (false, None, None) => Some("no answer".into()),
        };
        Verdict {
            ok,
            reason,
            conditions: results,
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn kind_of(url: &str) -> Result<CheckKind, Invalid> {
    let bad = |why: &str| Invalid::new("url", why);
    if url.is_empty() {
        return Err(bad("must not be empty"));
    }
    if url.len() > URL_MAX || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "must be one URL, without spaces, of at most 2000 characters",
        ));
    }
    if let Some(rest) = url.strip_prefix("tcp://") {
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("a TCP check's URL is tcp://host:port"))?;
        let host_ok = !host.is_empty()
            && (host.starts_with('[') && host.ends_with(']')
                || host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
        let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
        if !host_ok || !port_ok {
            return Err(bad(
                "a TCP check's URL is tcp://host:port, with a port from 1 to 65535",
            ));
        }
        return Ok(CheckKind::Tcp);
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with http://, https:// or tcp://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("names no host"));
    }
    Ok(CheckKind::Http)
}

/// How a probe was judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    /// Why it failed: the connection error, or the first condition that did not hold.
    pub reason: Option<String>,
    pub conditions: Vec<ConditionResult>,
}

/// Where a check stands between its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub state: CheckState,
    /// Failed runs in a row.
    pub failures: u32,
    /// Successful runs in a row.
    pub successes: u32,
}

impl Health {
    /// A new check counts as up until it has failed `failure_threshold` times in a row.
    pub const NEW: Health = Health {
        state: CheckState::Up,
        failures: 0,
        successes: 0,
    };

    /// After one more run: the new standing, and the state it moved to, if it moved.
    pub fn after(
        self,
        ok: bool,
        failure_threshold: u32,
        success_threshold: u32,
    ) -> (Health, Option<CheckState>) {
        let mut h = self;
        if ok {
            h.successes = h.successes.saturating_add(1);
            h.failures = 0;
        } else {
            h.failures = h.failures.saturating_add(1);
            h.successes = 0;
        }
        let to = match h.state {
            CheckState::Up if h.failures >= failure_threshold => Some(CheckState::Down),
            CheckState::Down if h.successes >= success_threshold => Some(CheckState::Up),
            _ => None,
        };
        if let Some(s) = to {
            h.state = s;
        }
        (h, to)
    }
}

/// Midnight UTC of `t`'s day.
pub fn day_of(t: Timestamp) -> Timestamp {
    let ms = t.as_millisecond();
    let day = 86_400_000;
    Timestamp::from_millisecond(ms - ms.rem_euclid(day)).unwrap_or(t)
}

/// What one run adds to one UTC day's tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayTally {
    pub day: Timestamp,
    pub total: u32,
    pub successes: u32,
    pub response_ms: u64,
    pub down_ms: u64,
}

/// The tallies a run at `at` adds: one result on its day, and, when the check was down since
/// the previous run, the time between them as down time, split at UTC midnights. A gap longer
/// than two intervals (Klaxon was not running) counts only its last two intervals: nobody
/// looked in between.
pub fn tally(
    previous: Option<(Timestamp, CheckState)>,
    at: Timestamp,
    ok: bool,
    response_ms: u64,
    interval: SignedDuration,
) -> Vec<DayTally> {
    let mut out = vec![DayTally {
        day: day_of(at),
        total: 1,
        successes: u32::from(ok),
        response_ms,
        down_ms: 0,
    }];
    let Some((last, CheckState::Down)) = previous else {
        return out;
    };
    let earliest = at.checked_sub(interval * 2).unwrap_or(at);
    let mut from = last.max(earliest);
    while from < at {
        let day = day_of(from);
        let next_day = day
            .checked_add(SignedDuration::from_hours(24))
            .unwrap_or(at);
        let to = next_day.min(at);
        let ms = u64::try_from(to.duration_since(from).as_millis()).unwrap_or(0);
        match out.iter_mut().find(|t| t.day == day) {
            Some(t) => t.down_ms += ms,
            None => out.push(DayTally {
                day,
                total: 0,
                successes: 0,
                response_ms: 0,
                down_ms: ms,
            }),
        }
        from = to;
    }
    out
}

/// A stretch of time in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StateInterval {
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    pub state: CheckState,
}

/// The intervals between `from` and `to` given a check's state changes in time order (the last
/// one at or before `from` included, if any). Before the first change nothing is known, so
/// nothing is returned for that time.
pub fn intervals(
    changes: &[(Timestamp, CheckState)],
    from: Timestamp,
    to: Timestamp,
) -> Vec<StateInterval> {
    let mut out: Vec<StateInterval> = Vec::new();
    for (i, &(at, state)) in changes.iter().enumerate() {
        let end = changes.get(i + 1).map_or(to, |n| n.0).min(to);
        let start = at.max(from);
        if start >= end {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.state == state && last.to == start => last.to = end,
            _ => out.push(StateInterval {
                from: start,
                to: end,
                state,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests;

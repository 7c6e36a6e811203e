//! Asking a Prometheus-compatible HTTP API (`/api/v1/query`, `/api/v1/query_range`) for an
//! SLI's numbers. A source that cannot be reached, or answers with an error of its own, gives no
//! number: the evaluator then holds every rule where it is and, after the configured silence,
//! raises the SLO's "silent" alert instead of paging on missing data.
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::shared::config::{PrometheusSource, SlosSettings};

/// Why there is no number.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// The source took the request and refused the expression: its own message.
    Rejected(String),
    /// No answer, or not one we can read.
    Unreachable(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Rejected(m) => write!(f, "Prometheus refused it: {m}"),
            QueryError::Unreachable(m) => write!(f, "no answer: {m}"),
        }
    }
}

#[derive(Deserialize)]
struct Reply {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

fn seconds(t: Timestamp) -> String {
    format!("{:.3}", t.as_millisecond() as f64 / 1000.0)
}

/// A sample's value; NaN (0/0) and infinities count as nothing.
fn number(v: &serde_json::Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|x| x.is_finite())
        .unwrap_or(0.0)
}

async fn ask(
    http: &reqwest::Client,
    src: &PrometheusSource,
    path: &str,
    params: &[(&str, String)],
    timeout: Duration,
) -> Result<Data, QueryError> {
    let base = format!("{}{path}", src.url.trim_end_matches('/'));
    let url = reqwest::Url::parse_with_params(&base, params)
        .map_err(|e| QueryError::Unreachable(format!("the source's url: {e}")))?;
    let mut req = http.get(url).timeout(timeout);
    if let Some(auth) = &src.authorization {
        req = req.header(reqwest::header::AUTHORIZATION, auth);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| QueryError::Unreachable(e.without_url().to_string()))?;
    let status = resp.status();
    let reply: Reply = resp.json().await.map_err(|_| {
        QueryError::Unreachable(format!("{status} without Prometheus' JSON answer"))
    })?;
    if reply.status != "success" {
        let message = reply.error.unwrap_or_else(|| status.to_string());
        // 400 (bad_data) and 422 (execution) are about the expression; the rest is the server.
        return Err(if status.is_client_error() {
            QueryError::Rejected(message)
        } else {
            QueryError::Unreachable(message)
        });
    }
    reply
        .data
        .ok_or_else(|| QueryError::Unreachable("an answer without data".into()))
}

/// The value of `expr` at `at`: a scalar, or the sum of an instant vector (no series is 0).
pub async fn query(
    http: &reqwest::Client,
    settings: &SlosSettings,
    src: &PrometheusSource,
    expr: &str,
    at: Timestamp,
) -> Result<f64, QueryError> {
    let timeout = Duration::from_secs(settings.query_timeout_secs.into());
    let params = [("query", expr.to_owned()), ("time", seconds(at))];
    let data = ask(http, src, "/api/v1/query", &params, timeout).await?;
    match data.result_type.as_str() {
        "scalar" => Ok(number(&data.result[1])),
        "vector" => Ok(data
            .result
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| number(&s["value"][1]))
            .sum()),
        other => Err(QueryError::Rejected(format!(
            "the expression gives a {other}, not a number or an instant vector"
        ))),
    }
}

/// The value of `expr` at each `step` from `start` to `end`, summed over series; times with no
/// sample are left out.
pub async fn query_range(
    http: &reqwest::Client,
    settings: &SlosSettings,
    src: &PrometheusSource,
    expr: &str,
    (start, end): (Timestamp, Timestamp),
    step: SignedDuration,
) -> Result<Vec<(Timestamp, f64)>, QueryError> {
    let timeout = Duration::from_secs(settings.query_timeout_secs.into());
    let params = [
        ("query", expr.to_owned()),
        ("start", seconds(start)),
        ("end", seconds(end)),
        ("step", format!("{}", step.as_secs())),
    ];
    let data = ask(http, src, "/api/v1/query_range", &params, timeout).await?;
    let mut by: std::collections::BTreeMap<i64, f64> = Default::default();
    for series in data.result.as_array().into_iter().flatten() {
        for v in series["values"].as_array().into_iter().flatten() {
            let ms = (v[0].as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
            *by.entry(ms).or_default() += number(&v[1]);
        }
    }
    Ok(by
        .into_iter()
        .filter_map(|(ms, x)| Timestamp::from_millisecond(ms).ok().map(|t| (t, x)))
        .collect())
}

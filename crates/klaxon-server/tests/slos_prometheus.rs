//! SLOs on a real Prometheus (the Debian package's `prometheus` and `promtool`, from
//! KLAXON_TEST_PROMETHEUS and KLAXON_TEST_PROMTOOL; never skipped: the test fails when they are
//! missing). A history with an error burst is written as OpenMetrics, turned into TSDB blocks by
//! `promtool tsdb create-blocks-from openmetrics`, and served by a Prometheus started on them;
//! Klaxon asks it at fixed evaluation times (the fake clock), and the rules fire in the minutes
//! worked out by hand below. Then Prometheus is stopped: the SLO raises its "silent" alert after
//! the silence, and pages nothing.
use crate::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::Clock;
use klaxon_server::shared::config::PrometheusSource;
use serde_json::{Value, json};

on_both_backends!(burn_rate_rules_fire_on_prometheus_answers_and_a_silent_prometheus_pages_nobody);

fn binary(var: &str, fallback: &str) -> String {
    let path = std::env::var(var)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| fallback.into());
    assert!(
        Path::new(&path).exists(),
        "{path} not found: install prometheus (scripts/test.sh does), or set {var}"
    );
    path
}

/// A Prometheus on its own TSDB directory; killed on drop.
struct Prometheus {
    child: Option<Child>,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Prometheus {
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Writes `openmetrics`, builds blocks from it and serves them.
    async fn start(openmetrics: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("history.om");
        std::fs::write(&input, openmetrics).unwrap();
        let data = dir.path().join("data");
        let out = Command::new(binary("KLAXON_TEST_PROMTOOL", "/usr/bin/promtool"))
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "promtool: {out:?}");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global: {}\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary("KLAXON_TEST_PROMETHEUS", "/usr/bin/prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            // The history is weeks old by the wall clock: keep it.
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let me = Self {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            let ready = http.get(format!("{}/-/ready", me.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(me); // stopped and waited for
        panic!("prometheus did not get ready");
    }
}

/// Requests per minute, as counters sampled every minute from `from` to `to` (minutes after
/// `t0`): 1,000 requests a minute, 100 of them failing in minutes 0 to 59. A sample at minute
/// `m` counts the requests of the minutes before it.
fn history(t0: Timestamp, from: i64, to: i64) -> String {
    let mut ok = String::new();
    let mut failed = String::new();
    let (mut good, mut bad) = (0u64, 0u64);
    for m in from..=to {
        let at = (t0 + SignedDuration::from_mins(m)).as_second();
        ok += &format!("http_requests_total{{code=\"200\"}} {good} {at}\n");
        failed += &format!("http_requests_total{{code=\"500\"}} {bad} {at}\n");
        let errors = if (0..60).contains(&m) { 100 } else { 0 };
        good += 1000 - errors;
        bad += errors;
    }
    format!("# TYPE http_requests counter\n{ok}{failed}# EOF\n")
}

/// A 99.9 % SLO over 30 days: 4,400 calm minutes (more than the ticket rule's 3 days), then an
/// hour at 10 % errors (a burn rate of 100) from minute 0. After k bad minutes (k ≤ 60):
/// - page-fast (14.4× over 1 h and 5 min): 100k/60 > 14.4 from k = 9, so minute 9; it resolves
///   when fewer than 9 bad minutes are left in its hour: minute 112;
/// - page-slow (6× over 6 h and 30 min): 100k/360 > 6 from k = 22: minute 22;
/// - ticket (1× over 3 d and 6 h): 100k/4320 > 1 from k = 44: minute 44, later than both;
/// - the budget, 1 − 100k/(4400 + k) left: at risk (≤ 20 %) at k = 36, exhausted at k = 45.
async fn burn_rate_rules_fire_on_prometheus_answers_and_a_silent_prometheus_pages_nobody(
    b: Backend,
) {
    let start = "2026-11-21T09:00:00Z".parse::<Timestamp>().unwrap();
    let mut prom = Prometheus::start(&history(start, -4400, 130)).await;
    let url = prom.url.clone();
    let Some(app) = TestApp::spawn_with(b, |s| {
        s.slos.sources = vec![PrometheusSource {
            name: "main".into(),
            url,
            authorization: None,
        }];
    })
    .await
    else {
        return;
    };
    assert_eq!(app.clock.now(), start);
    let t = &app.admin.token;
    let svc = ok(
        app.post("/api/v1/services", t, &json!({"name": "checkout"})),
        201,
    )
    .await;
    let svc = svc["id"].as_str().unwrap().to_owned();
    let sli = |bad: &str| {
        json!({"kind": "prometheus", "source": "main", "bad": bad,
               "total": "sum(increase(http_requests_total[{{window}}]))"})
    };
    let body = |sli: Value| {
        json!({"service": "checkout", "name": "availability", "objective": 99.9,
               "window": "30d", "sli": sli})
    };
    // Prometheus' own refusal, at save time, on the field.
    let e = refused(
        app.post(
            "/api/v1/slos",
            t,
            &body(sli(
                "sum(increase(http_requests_total{code=\"500\"}[{{window}}])",
            )),
        ),
        400,
        "invalid_field",
        Some("sli.bad"),
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("Prometheus refused it"),
        "{e}"
    );
    refused(
        app.post(
            "/api/v1/slos",
            t,
            &body(
                json!({"kind": "prometheus", "source": "other", "bad": "x[{{window}}]",
                         "total": "y[{{window}}]"}),
            ),
        ),
        400,
        "invalid_field",
        Some("sli.source"),
    )
    .await;
    let s = ok(
        app.post(
            "/api/v1/slos",
            t,
            &body(sli(
                "sum(increase(http_requests_total{code=\"500\"}[{{window}}]))",
            )),
        ),
        201,
    )
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    // Calm days: nothing spent yet.
    assert!(
        s["budget"]["remaining_share"].as_f64().unwrap() > 0.999,
        "{s}"
    );

    let at = |m: i64| start + SignedDuration::from_mins(m);
    let mut moves: Vec<(i64, String)> = Vec::new();
    let mut before = s;
    let step = |m: i64, before: &mut Value, moves: &mut Vec<(i64, String)>, now: Value| {
        if now["status"] != before["status"] {
            moves.push((m, format!("status {}", now["status"].as_str().unwrap())));
        }
        for (i, r) in now["rules"].as_array().unwrap().iter().enumerate() {
            if r["firing"] != before["rules"][i]["firing"] {
                let what = if r["firing"] == true {
                    "fired"
                } else {
                    "resolved"
                };
                moves.push((m, format!("{} {what}", r["name"].as_str().unwrap())));
            }
        }
        *before = now;
    };
    for m in 0..=115 {
        if m > 0 {
            app.clock.advance(SignedDuration::from_mins(1));
        }
        app.state.engine.tick().await.unwrap();
        let now = ok(app.get(&format!("/api/v1/slos/{id}"), t), 200).await;
        step(m, &mut before, &mut moves, now);
    }
    let got: Vec<(i64, &str)> = moves.iter().map(|(m, w)| (*m, w.as_str())).collect();
    assert_eq!(
        got,
        [
            (9, "page-fast fired"),
            (22, "page-slow fired"),
            (36, "status at_risk"),
            (44, "ticket fired"),
            (45, "status exhausted"),
            (112, "page-fast resolved"),
        ]
    );
    // The burn-down comes from Prometheus too: one point an hour.
    let down = ok(app.get(&format!("/api/v1/slos/{id}/burn-down"), t), 200).await;
    assert!(!down.as_array().unwrap().is_empty(), "{down}");

    // Prometheus goes away: nothing moves, no page; after 10 minutes the SLO's own alert.
    prom.stop();
    let critical_before = alerts_of(&app, &svc, "critical").await;
    let mut silent_at = None;
    for m in 116..=128 {
        app.clock.advance(SignedDuration::from_mins(1));
        app.state.engine.tick().await.unwrap();
        let now = ok(app.get(&format!("/api/v1/slos/{id}"), t), 200).await;
        assert_eq!(now["silent_since"], json!(at(116)), "{now}");
        step(m, &mut before, &mut moves, now);
        let silent = alerts_of(&app, &svc, "warning")
            .await
            .into_iter()
            .filter(|a| a["dedup_key"] == format!("slo:{id}:silent"))
            .count();
        if silent > 0 && silent_at.is_none() {
            silent_at = Some(m);
        }
    }
    assert_eq!(silent_at, Some(126), "the alert after 10 silent minutes");
    assert_eq!(
        moves.len(),
        6,
        "no rule or status moved while silent: {moves:?}"
    );
    assert_eq!(alerts_of(&app, &svc, "critical").await, critical_before);
    app.stop().await;
}

async fn alerts_of(app: &TestApp, service: &str, severity: &str) -> Vec<Value> {
    let list = ok(
        app.get(
            &format!("/api/v1/alerts?service_id={service}"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["severity"] == severity)
        .cloned()
        .collect()
}

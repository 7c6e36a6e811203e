//! A real Prometheus Alertmanager sends to Klaxon through both of its ways in: the webhook
//! (`/integrations/{key}/alertmanager`) and its PagerDuty integration (Events API v2,
//! `/v2/enqueue`). Its alerts must arrive, deduplicate across its re-sends and resolve.
//!
//! Needs Debian's `prometheus-alertmanager` (0.25); scripts/test.sh installs it and sets
//! KLAXON_TEST_ALERTMANAGER. Never skipped: the test fails when the binary is missing.
//!
//! Alertmanager runs on the real clock, so this is the one place that polls on real time, with a
//! deadline. Klaxon's own timestamps still come from the fake clock.
use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, TestApp};
use serde_json::{Value, json};

on_both_backends!(real_alertmanager_webhook_and_pagerduty_deduplicate_and_resolve);

/// How long Alertmanager gets to deliver something. It flushes every second (group_interval).
const DEADLINE: Duration = Duration::from_secs(30);
/// Repeats of an unchanged group come after this: short, so that real re-sends are observed.
const REPEAT_INTERVAL: &str = "2s";

fn alertmanager_binary() -> String {
    const VAR: &str = "KLAXON_TEST_ALERTMANAGER";
    let path = std::env::var(VAR)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/bin/prometheus-alertmanager".into());
    assert!(
        Path::new(&path).exists(),
        "{path} not found: install prometheus-alertmanager (scripts/test.sh does), or set {VAR}"
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An Alertmanager process with its own configuration, storage and log; killed on drop.
struct Alertmanager {
    child: Child,
    url: String,
    log: PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    async fn start(config: &str) -> Self {
        let binary = alertmanager_binary();
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).unwrap();
        let storage = dir.path().join("data");
        std::fs::create_dir(&storage).unwrap();
        let log = dir.path().join("alertmanager.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.external-url={url}"))
            // Empty: no gossip cluster, so no peers to wait for before notifying.
            .arg("--cluster.listen-address=")
            .arg("--log.level=debug")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("start prometheus-alertmanager");
        let mut am = Self {
            child,
            url,
            log,
            http: reqwest::Client::new(),
            _dir: dir,
        };
        // Readiness poll, not a timing assumption.
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Some(status) = am.child.try_wait().unwrap() {
                panic!("alertmanager exited with {status}:\n{}", am.log_text());
            }
            if let Ok(r) = am.http.get(format!("{}/-/ready", am.url)).send().await
                && r.status().is_success()
            {
                return am;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("alertmanager did not become ready:\n{}", am.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// Posts alerts as Prometheus does (API v2), and checks Alertmanager took them.
    async fn post_alerts(&self, alerts: &[Value]) {
        let r = self
            .http
            .post(format!("{}/api/v2/alerts", self.url))
            .json(&alerts)
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(
            status.is_success(),
            "alertmanager refused alerts: {status} {}",
            r.text().await.unwrap()
        );
    }

    /// Alertmanager's own view: alertname/instance -> fingerprint.
    async fn fingerprints(&self) -> Vec<(String, String)> {
        let v: Value = self
            .http
            .get(format!("{}/api/v2/alerts", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut out: Vec<(String, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["labels"]["instance"].as_str().unwrap().to_owned(),
                    a["fingerprint"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Sum of a counter over the series of one integration (`webhook`, `pagerduty`).
    async fn counter(&self, name: &str, integration: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let label = format!("integration=\"{integration}\"");
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// A service with one integration of `kind`; returns (service id, integration key).
async fn service_with(app: &TestApp, name: &str, kind: &str) -> (String, String) {
    let r = app
        .post("/api/v1/services", &app.admin.token, &json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(
            &format!("/api/v1/services/{id}/integrations"),
            &app.admin.token,
            &json!({"name": format!("{name} {kind}"), "kind": kind}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let key = r.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, key)
}

async fn list(app: &TestApp, what: &str, service: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/{what}?limit=500&service_id={service}"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

/// Polls a service's alerts until `done` holds; fails with what was last seen and
/// Alertmanager's log otherwise.
async fn wait_for(
    app: &TestApp,
    am: &Alertmanager,
    service: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let alerts = list(app, "alerts", service).await;
        if done(&alerts) {
            return alerts;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}; last seen: {}\n--- alertmanager log ---\n{}",
                serde_json::to_string_pretty(&alerts).unwrap(),
                am.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn by_instance<'a>(alerts: &'a [Value], instance: &str) -> &'a Value {
    alerts
        .iter()
        .find(|a| a["content"]["source"] == instance)
        .unwrap_or_else(|| panic!("no alert from {instance} in {alerts:?}"))
}

/// An alert as Prometheus posts it; `resolved` sets endsAt in the past.
fn probe_alert(instance: &str, starts_at: jiff::Timestamp, resolved: bool) -> Value {
    let mut a = json!({
        "labels": {"alertname": "ProbeFailure", "instance": instance, "job": "blackbox",
                   "severity": "critical"},
        "annotations": {"summary": "Probe failed",
                        "description": format!("{instance} has not answered for 1 minute")},
        "startsAt": starts_at.to_string(),
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=probe_success+%3D%3D+0"
    });
    if resolved {
        let ended = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1);
        a["endsAt"] = json!(ended.to_string());
    }
    a
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn real_alertmanager_webhook_and_pagerduty_deduplicate_and_resolve(b: Backend) {
    let binary = alertmanager_binary(); // fails here, before any database work, when missing
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (am_service, am_key) = service_with(&app, "Web", "alertmanager").await;
    let (pd_service, pd_key) = service_with(&app, "Web via PagerDuty", "events_v2").await;

    // One receiver with both integrations, as people configure it. The PagerDuty severity comes
    // from the alert's label (a common configuration); source and summary are Alertmanager's
    // defaults.
    let config = format!(
        r#"
route:
  receiver: klaxon
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: {REPEAT_INTERVAL}
receivers:
  - name: klaxon
    webhook_configs:
      - url: '{url}/integrations/{am_key}/alertmanager'
        send_resolved: true
    pagerduty_configs:
      - routing_key: '{pd_key}'
        url: '{url}/v2/enqueue'
        severity: '{{{{ .CommonLabels.severity }}}}'
        send_resolved: true
"#,
        url = app.url
    );
    let am = Alertmanager::start(&config).await;
    eprintln!("using {binary} at {}", am.url);

    // Two alerts of one group: same alertname and summary, different instances.
    let t0 = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    let firing = [
        probe_alert("web1:443", t0, false),
        probe_alert("web2:443", t0, false),
    ];
    am.post_alerts(&firing).await;

    let alerts = wait_for(&app, &am, &am_service, "two webhook alerts", |a| {
        a.len() == 2
    })
    .await;
    let fingerprints = am.fingerprints().await;
    assert_eq!(fingerprints.len(), 2, "{fingerprints:?}");
    for (instance, fingerprint) in &fingerprints {
        let a = by_instance(&alerts, instance);
        assert_eq!(a["dedup_key"], fingerprint.as_str(), "dedup on fingerprint");
        assert!(is_hex(fingerprint, 16), "{fingerprint}");
        assert_eq!(a["status"], "triggered");
        assert_eq!(a["summary"], "Probe failed");
        assert_eq!(a["severity"], "critical");
        assert_eq!(a["content"]["component"], "blackbox");
        assert_eq!(a["content"]["group"], "ProbeFailure");
        assert_eq!(a["content"]["client"], "Alertmanager");
        assert_eq!(a["content"]["client_url"], am.url.as_str());
        assert_eq!(
            a["content"]["details"]["labels"]["instance"],
            instance.as_str()
        );
        assert_eq!(a["content"]["details"]["receiver"], "klaxon");
        assert_eq!(
            a["content"]["details"]["groupKey"],
            "{}:{alertname=\"ProbeFailure\"}"
        );
        assert_eq!(
            a["content"]["links"][0]["href"],
            "http://prometheus.example:9090/graph?g0.expr=probe_success+%3D%3D+0"
        );
        assert_eq!(a["content"]["links"][1]["href"], am.url.as_str());
        assert!(a["incident_id"].is_string(), "{a}");
    }

    // The PagerDuty side: one event per group, keyed on the sha256 of the group key.
    let pd = wait_for(&app, &am, &pd_service, "one PagerDuty alert", |a| {
        a.len() == 1
    })
    .await;
    let group_key = alerts[0]["content"]["details"]["groupKey"]
        .as_str()
        .unwrap();
    let expected_key =
        klaxon_server::crypto::hex(&klaxon_server::crypto::sha256(group_key.as_bytes()));
    let pd_alert = &pd[0];
    assert_eq!(pd_alert["dedup_key"], expected_key.as_str());
    assert!(is_hex(pd_alert["dedup_key"].as_str().unwrap(), 64));
    assert_eq!(pd_alert["status"], "triggered");
    assert_eq!(pd_alert["severity"], "critical");
    assert_eq!(
        pd_alert["summary"],
        "[FIRING:2] ProbeFailure (blackbox critical)"
    );
    assert!(
        pd_alert["content"]["source"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{pd_alert}"
    );
    assert_eq!(pd_alert["content"]["details"]["num_firing"], "2");
    assert!(pd_alert["incident_id"].is_string(), "{pd_alert}");
    assert_eq!(list(&app, "incidents", &am_service).await.len(), 2);
    assert_eq!(list(&app, "incidents", &pd_service).await.len(), 1);

    // Prometheus re-posts firing alerts on every evaluation, and Alertmanager repeats the
    // unchanged group every repeat_interval: the same alerts count up, nothing new opens.
    for _ in 0..3 {
        am.post_alerts(&firing).await;
    }
    let alerts = wait_for(&app, &am, &am_service, "repeated webhook alerts", |a| {
        a.iter().all(|x| x["count"].as_u64() >= Some(2))
    })
    .await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(alerts.iter().all(|a| a["status"] == "triggered"));
    let pd = wait_for(&app, &am, &pd_service, "a repeated PagerDuty event", |a| {
        a.iter().all(|x| x["count"].as_u64() >= Some(2))
    })
    .await;
    assert_eq!(pd.len(), 1, "{pd:?}");
    assert_eq!(pd[0]["dedup_key"], expected_key.as_str());
    assert_eq!(list(&app, "incidents", &am_service).await.len(), 2);
    assert_eq!(list(&app, "incidents", &pd_service).await.len(), 1);

    // web1 resolves: its alert resolves, web2's stays. PagerDuty gets a trigger with the new
    // summary (the group still fires) and no resolve.
    am.post_alerts(&[probe_alert("web1:443", t0, true)]).await;
    let alerts = wait_for(&app, &am, &am_service, "web1 resolved", |a| {
        a.len() == 2 && by_instance(a, "web1:443")["status"] == "resolved"
    })
    .await;
    assert_eq!(by_instance(&alerts, "web2:443")["status"], "triggered");
    let pd = wait_for(&app, &am, &pd_service, "PagerDuty sees one firing", |a| {
        a.len() == 1 && a[0]["summary"] == "[FIRING:1] ProbeFailure (blackbox critical)"
    })
    .await;
    assert_eq!(pd[0]["status"], "triggered", "the group still fires");
    let web1_incident = by_instance(&alerts, "web1:443")["incident_id"].clone();
    let open = list(&app, "incidents", &am_service).await;
    assert_eq!(open.len(), 2);
    let web1_incident = open.iter().find(|i| i["id"] == web1_incident).unwrap();
    assert_eq!(web1_incident["status"], "resolved", "{web1_incident}");

    // web2 resolves too: everything resolves, on both sides.
    am.post_alerts(&[probe_alert("web2:443", t0, true)]).await;
    let alerts = wait_for(&app, &am, &am_service, "all webhook alerts resolved", |a| {
        a.len() == 2 && a.iter().all(|x| x["status"] == "resolved")
    })
    .await;
    assert!(alerts.iter().all(|a| a["resolved_at"].is_string()));
    let pd = wait_for(
        &app,
        &am,
        &pd_service,
        "the PagerDuty alert resolved",
        |a| a.len() == 1 && a[0]["status"] == "resolved",
    )
    .await;
    assert_eq!(pd[0]["dedup_key"], expected_key.as_str());
    for service in [&am_service, &pd_service] {
        let incidents = list(&app, "incidents", service).await;
        assert!(
            incidents.iter().all(|i| i["status"] == "resolved"),
            "{incidents:?}"
        );
    }

    // Alertmanager saw every notification accepted: nothing was refused or retried.
    for integration in ["webhook", "pagerduty"] {
        let sent = am
            .counter("alertmanager_notifications_total", integration)
            .await;
        let failed = am
            .counter("alertmanager_notifications_failed_total", integration)
            .await;
        assert!(sent >= 4.0, "{integration}: {sent} notifications");
        assert_eq!(
            failed,
            0.0,
            "{integration}: {failed} failed notifications\n--- alertmanager log ---\n{}",
            am.log_text()
        );
    }
    drop(am);
    app.stop().await;
}

//! Insights through the REST API, on both backends: per-incident durations on the incident,
//! the metrics over a period against hand-computed values (missing and edited milestones,
//! groups, weeks), drills left out, bad periods, CSV, alert noise, on-call load by band across
//! DST, and the aggregates against a plain recomputation over a random set. Fake clock.
use crate::common;
use crate::incident_steps;

use jiff::Timestamp;
use serde_json::{Value, json};

use common::{Backend, TestApp, all_pages, member, ok, patch, refused, session_for};
use incident_steps::*;

on_both_backends!(
    metrics_match_hand_computed_values,
    drills_are_left_out_everywhere,
    a_bad_period_is_refused_naming_the_field,
    aggregates_equal_a_plain_recomputation,
    alert_facts_equal_a_plain_recomputation,
    alert_noise_counts_self_resolved_and_unacknowledged,
    oncall_load_counts_hours_and_pages_by_band_across_dst,
    the_insights_page_shows_tables_charts_and_exports,
);

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Declares an incident at `declared`, then gives it these milestones (resolving it first when
/// `resolved` is set). The clock ends at `declared` + 1 day.
#[allow(clippy::too_many_arguments)]
async fn incident_at(
    app: &TestApp,
    token: &str,
    title: &str,
    category: &str,
    declared: &str,
    impact: Option<&str>,
    detected: Option<&str>,
    ack: Option<&str>,
    mitigated: Option<&str>,
    resolved: Option<&str>,
) -> String {
    app.clock.set(t(declared));
    let mut body = json!({"title": title, "severity": "SEV3", "category": category});
    if let Some(i) = impact {
        body["impact_started_at"] = json!(i);
    }
    if let Some(d) = detected {
        body["detected_at"] = json!(d);
    }
    let id = id_of(&declare(app, token, body).await);
    app.clock
        .set(t(declared) + jiff::SignedDuration::from_hours(24));
    if resolved.is_some() {
        moved(app, token, &id, "resolved").await;
    }
    let mut m = json!({});
    if let Some(a) = ack {
        m["acknowledged_at"] = json!(a);
    }
    if let Some(x) = mitigated {
        m["mitigated_at"] = json!(x);
    }
    if let Some(r) = resolved {
        m["resolved_at"] = json!(r);
    }
    ok(milestones(app, token, &id, &m), 200).await;
    id
}

fn seconds(v: &Value) -> Option<f64> {
    (v["status"] == "measured").then(|| v["seconds"].as_f64().unwrap())
}

async fn metrics(app: &TestApp, query: &str) -> Value {
    ok(
        app.get(
            &format!("/api/v1/insights/incidents/metrics?{query}"),
            &app.admin.token,
        ),
        200,
    )
    .await
}

/// count, mean, median, p90 of one metric in a row.
fn stats(row: &Value, metric: &str) -> (u64, Option<f64>, Option<f64>, Option<f64>) {
    let s = &row[metric];
    (
        s["count"].as_u64().unwrap(),
        s["mean"].as_f64(),
        s["median"].as_f64(),
        s["p90"].as_f64(),
    )
}

/// The fixed set: A and B in the week of 23 November (category db), C and E in the week of
/// 30 November (category net). Durations in seconds:
///   A: TTD 600, TTA 300, TTM 3000, TTR 4800, whole 3600
///   B: no impact start, no mitigation: TTD n/a, TTA 600, TTM n/a, TTR 3600, whole 3600
///   C: TTD 1800, TTA 120, TTM 5400, TTR 7200, whole 3600
///   E: still open, acknowledged on declaring: TTA 0, the rest n/a (TTD: no impact start)
async fn fixed_set(app: &TestApp, token: &str) -> [String; 4] {
    let a = incident_at(
        app,
        token,
        "A",
        "db",
        "2026-11-23T10:00:00Z",
        Some("2026-11-23T09:40:00Z"),
        Some("2026-11-23T09:50:00Z"),
        Some("2026-11-23T10:05:00Z"),
        Some("2026-11-23T10:30:00Z"),
        Some("2026-11-23T11:00:00Z"),
    )
    .await;
    let b = incident_at(
        app,
        token,
        "B",
        "db",
        "2026-11-24T12:00:00Z",
        None,
        None,
        Some("2026-11-24T12:10:00Z"),
        None,
        Some("2026-11-24T13:00:00Z"),
    )
    .await;
    let c = incident_at(
        app,
        token,
        "C",
        "net",
        "2026-12-01T08:00:00Z",
        Some("2026-12-01T07:00:00Z"),
        Some("2026-12-01T07:30:00Z"),
        Some("2026-12-01T08:02:00Z"),
        Some("2026-12-01T08:30:00Z"),
        Some("2026-12-01T09:00:00Z"),
    )
    .await;
    let e = incident_at(
        app,
        token,
        "E",
        "net",
        "2026-12-03T10:00:00Z",
        None,
        None,
        None,
        None,
        None,
    )
    .await;
    [a, b, c, e]
}

async fn metrics_match_hand_computed_values(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let [a, b_id, _c, e] = fixed_set(&app, &ada.token).await;

    // Per incident, in its JSON: not applicable, never zero.
    let shown = incident(&app, &a).await;
    assert_eq!(seconds(&shown["durations"]["ttd"]), Some(600.0));
    assert_eq!(seconds(&shown["durations"]["ttr"]), Some(4800.0));
    let shown = incident(&app, &b_id).await;
    assert_eq!(
        shown["durations"]["ttd"],
        json!({"status": "not_applicable"})
    );
    assert_eq!(
        shown["durations"]["ttm"],
        json!({"status": "not_applicable"})
    );
    assert_eq!(seconds(&shown["durations"]["ttr"]), Some(3600.0));
    let shown = incident(&app, &e).await;
    assert_eq!(seconds(&shown["durations"]["tta"]), Some(0.0));
    assert_eq!(
        shown["durations"]["ttr"],
        json!({"status": "not_applicable"})
    );

    let q = "from=2026-11-23&to=2026-12-06&group_by=category";
    let r = metrics(&app, q).await;
    assert_eq!(r["from"], "2026-11-23T00:00:00Z");
    assert_eq!(
        r["to"], "2026-12-07T00:00:00Z",
        "a date `to` includes its day"
    );
    let all = &r["overall"];
    assert_eq!(all["incidents"], 4);
    assert_eq!(
        stats(all, "ttd"),
        (2, Some(1200.0), Some(1200.0), Some(1800.0))
    );
    // 0, 120, 300, 600: p90 is the ⌈3.6⌉ = 4th value.
    assert_eq!(
        stats(all, "tta"),
        (4, Some(255.0), Some(210.0), Some(600.0))
    );
    assert_eq!(
        stats(all, "ttm"),
        (2, Some(4200.0), Some(4200.0), Some(5400.0))
    );
    assert_eq!(
        stats(all, "ttr"),
        (3, Some(5200.0), Some(4800.0), Some(7200.0))
    );
    assert_eq!(
        stats(all, "duration"),
        (3, Some(3600.0), Some(3600.0), Some(3600.0))
    );
    // By category: db = A, B; net = C, E.
    let groups = r["groups"].as_array().unwrap();
    let db = groups.iter().find(|g| g["key"] == "db").unwrap();
    let net = groups.iter().find(|g| g["key"] == "net").unwrap();
    assert_eq!(db["incidents"], 2);
    assert_eq!(stats(db, "tta"), (2, Some(450.0), Some(450.0), Some(600.0)));
    assert_eq!(
        stats(net, "ttr"),
        (1, Some(7200.0), Some(7200.0), Some(7200.0))
    );
    // Week by week.
    let weeks = r["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 2);
    assert_eq!(weeks[0]["key"], "2026-11-23");
    assert_eq!(weeks[0]["incidents"], 2);
    assert_eq!(weeks[1]["key"], "2026-11-30");
    assert_eq!(weeks[1]["incidents"], 2);
    assert_eq!(stats(&weeks[1], "ttd").1, Some(1800.0));
    // SEV3 only: no SEV1/SEV2 minutes.
    assert_eq!(r["severe"][0]["severity"], "SEV1");
    assert_eq!(r["severe"][0]["incidents"], 0);

    // An edited milestone changes the numbers at once: A resolved 20 minutes later.
    ok(
        milestones(
            &app,
            &ada.token,
            &a,
            &json!({"resolved_at": "2026-11-23T11:20:00Z"}),
        ),
        200,
    )
    .await;
    assert_eq!(
        seconds(&incident(&app, &a).await["durations"]["ttr"]),
        Some(6000.0)
    );
    let r = metrics(&app, q).await;
    // 3600, 6000, 7200.
    assert_eq!(
        stats(&r["overall"], "ttr"),
        (3, Some(5600.0), Some(6000.0), Some(7200.0))
    );
    assert_eq!(stats(&r["overall"], "duration").1, Some(4000.0));

    // The same table as CSV, by parameter or by Accept.
    let csv = app
        .get(
            &format!("/api/v1/insights/incidents/metrics?{q}&format=csv"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("key,label,incidents,ttd_count,ttd_mean_s"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("all,all incidents,4,2,1200,1200,1800,"),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "{text}");
    let by_accept = app
        .get(
            &format!("/api/v1/insights/incidents/metrics?{q}&table=weeks"),
            &app.admin.token,
        )
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        by_accept.lines().nth(1).unwrap().starts_with("2026-11-23,"),
        "{by_accept}"
    );
    app.stop().await;
}

async fn drills_are_left_out_everywhere(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let [a, ..] = fixed_set(&app, &ada.token).await;
    let q = "from=2026-11-23&to=2026-12-06";
    let before = metrics(&app, q).await;
    assert_eq!(before["overall"]["incidents"], 4);

    // A drill is set through PATCH, with an event, and leaves every number.
    let changed = ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{a}"),
            &ada.token,
            &json!({"is_drill": true}),
        ),
        200,
    )
    .await;
    assert_eq!(changed["is_drill"], true);
    let e = last_event(&app, &a, "incident.updated").await;
    assert_eq!(
        e["data"]["changes"]["is_drill"],
        json!({"from": false, "to": true})
    );
    let after = metrics(&app, q).await;
    assert_eq!(after["overall"]["incidents"], 3);
    assert_eq!(
        stats(&after["overall"], "ttd"),
        (1, Some(1800.0), Some(1800.0), Some(1800.0))
    );
    assert_eq!(after["weeks"][0]["incidents"], 1);
    let noise = ok(
        app.get(
            &format!("/api/v1/insights/alert-noise?{q}"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert_eq!(noise["incidents"], 3);
    // Back from a drill: counted again.
    ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{a}"),
            &ada.token,
            &json!({"is_drill": false}),
        ),
        200,
    )
    .await;
    assert_eq!(metrics(&app, q).await["overall"]["incidents"], 4);

    // A closed incident can still be called a drill, and nothing else about it changes.
    ok(
        app.post(
            &format!("/api/v1/incidents/{a}/status"),
            &ada.token,
            &json!({"status": "closed"}),
        ),
        200,
    )
    .await;
    let drill = json!({"is_drill": true});
    ok(
        patch(&app, &format!("/api/v1/incidents/{a}"), &ada.token, &drill),
        200,
    )
    .await;
    assert_eq!(metrics(&app, q).await["overall"]["incidents"], 3);
    refused(
        patch(
            &app,
            &format!("/api/v1/incidents/{a}"),
            &ada.token,
            &json!({"is_drill": false, "title": "renamed"}),
        ),
        409,
        "conflict",
        Some("status"),
    )
    .await;
    app.stop().await;
}

async fn a_bad_period_is_refused_naming_the_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = &app.admin.token;
    for path in [
        "/api/v1/insights/incidents/metrics",
        "/api/v1/insights/alert-noise",
        "/api/v1/insights/oncall-load",
    ] {
        refused(
            app.get(
                &format!("{path}?from=2026-11-20T00:00:00Z&to=2026-11-19T00:00:00Z"),
                admin,
            ),
            400,
            "invalid_field",
            Some("to"),
        )
        .await;
        refused(
            app.get(&format!("{path}?from=yesterday"), admin),
            400,
            "invalid_field",
            Some("from"),
        )
        .await;
        refused(
            app.get(&format!("{path}?format=xml"), admin),
            400,
            "invalid_field",
            Some("format"),
        )
        .await;
    }
    refused(
        app.get("/api/v1/insights/alert-noise?group_by=", admin),
        400,
        "invalid_field",
        Some("group_by"),
    )
    .await;
    refused(
        app.get("/api/v1/insights/incidents/metrics?group_by=colour", admin),
        400,
        "invalid_field",
        Some("group_by"),
    )
    .await;
    // Without a token: 401.
    let r = app
        .http
        .get(format!("{}/api/v1/insights/alert-noise", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

/// Plain recomputation, written apart from the server's: sort, average, middle, nearest rank.
fn plain(mut v: Vec<f64>) -> (u64, Option<f64>, Option<f64>, Option<f64>) {
    if v.is_empty() {
        return (0, None, None, None);
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let median = if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    };
    let rank = ((0.9 * n as f64).ceil() as usize).max(1);
    (n as u64, Some(mean), Some(median), Some(v[rank - 1]))
}

async fn aggregates_equal_a_plain_recomputation(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    // A small linear congruential generator: random, but the same on every run.
    let mut seed: u64 = 0x5eed_1234;
    let mut rand = |n: i64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % n as u64) as i64
    };
    let base = t("2026-11-23T00:00:00Z");
    let mut ids = Vec::new();
    for k in 0..14 {
        let declared = base + jiff::SignedDuration::from_mins(k * 1000 + rand(300));
        let at = |m: i64| (declared + jiff::SignedDuration::from_secs(m)).to_string();
        let impact = (rand(3) > 0).then(|| at(-rand(3600) - 1));
        let ack = (rand(4) > 0).then(|| at(rand(1800)));
        let resolved = (rand(3) > 0).then(|| at(1800 + rand(7200)));
        let mitigated = resolved
            .as_ref()
            .and_then(|_| (rand(2) > 0).then(|| at(1800)));
        let category = ["db", "net", "app"][rand(3) as usize];
        let id = incident_at(
            &app,
            &ada.token,
            &format!("random {k}"),
            category,
            &declared.to_string(),
            impact.as_deref(),
            impact.as_deref(),
            ack.as_deref(),
            mitigated.as_deref(),
            resolved.as_deref(),
        )
        .await;
        ids.push(id);
    }
    let mut raw = Vec::new();
    for id in &ids {
        raw.push(incident(&app, id).await);
    }
    let r = metrics(&app, "from=2026-11-23&to=2026-12-06&group_by=category").await;
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-6,
        (None, None) => true,
        _ => false,
    };
    let check = |row: &Value, set: &[&Value]| {
        assert_eq!(row["incidents"], set.len());
        for m in ["ttd", "tta", "ttm", "ttr", "duration"] {
            let want = plain(
                set.iter()
                    .filter_map(|i| seconds(&i["durations"][m]))
                    .collect(),
            );
            let got = stats(row, m);
            assert_eq!(got.0, want.0, "{m} count");
            assert!(close(got.1, want.1), "{m} mean {got:?} {want:?}");
            assert!(close(got.2, want.2), "{m} median {got:?} {want:?}");
            assert!(close(got.3, want.3), "{m} p90 {got:?} {want:?}");
        }
    };
    let everything: Vec<&Value> = raw.iter().collect();
    check(&r["overall"], &everything);
    for g in r["groups"].as_array().unwrap() {
        let set: Vec<&Value> = raw.iter().filter(|i| i["category"] == g["key"]).collect();
        check(g, &set);
    }
    let weekly: u64 = r["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["incidents"].as_u64().unwrap())
        .sum();
    assert_eq!(weekly, ids.len() as u64);
    app.stop().await;
}

/// The alert facts (kept per incident as alerts and their events are written) against a
/// recomputation from the raw alerts and their events, after a random run of everything that
/// changes them: triggers, re-triggers, monitor and person resolutions, acknowledgements and
/// merges.
async fn alert_facts_equal_a_plain_recomputation(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let services = [
        service(&app, "checkout", &[]).await,
        service(&app, "search", &[]).await,
    ];
    let mut seed: u64 = 0xa1e7_5eed;
    let mut rand = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % n as u64) as usize
    };
    let mut sent: Vec<(usize, String)> = Vec::new();
    let mut merges = 0;
    for step in 0..60 {
        later(&app, 1 + rand(30) as i64);
        let triggered: Vec<String> = all_pages(&app, "/api/v1/incidents?status=triggered", 100)
            .await
            .iter()
            .map(id_of)
            .collect();
        let mut open = triggered.clone();
        for i in all_pages(&app, "/api/v1/incidents?status=acknowledged", 100).await {
            open.push(id_of(&i));
        }
        match rand(7) {
            // A re-trigger of a key resolved before opens a new alert; an open one repeats.
            0 | 1 if !sent.is_empty() && rand(3) == 0 => {
                let (s, key) = sent[rand(sent.len())].clone();
                alert(&app, &services[s].1, &key).await;
            }
            0..=2 => {
                let s = rand(2);
                let key = format!("check-{step}");
                alert(&app, &services[s].1, &key).await;
                sent.push((s, key));
            }
            3 if !sent.is_empty() => {
                let (s, key) = &sent[rand(sent.len())];
                resolve(&app, &services[*s].1, key).await;
            }
            4 if !triggered.is_empty() => {
                let id = &triggered[rand(triggered.len())];
                moved(&app, &ada.token, id, "acknowledged").await;
            }
            5 if !open.is_empty() => {
                moved(&app, &ada.token, &open[rand(open.len())], "resolved").await;
            }
            6 if open.len() > 1 => {
                let from = &open[rand(open.len())];
                let into = open.iter().find(|i| *i != from).unwrap();
                let r = app
                    .post(
                        &format!("/api/v1/incidents/{from}/merge"),
                        &ada.token,
                        &json!({"into": into}),
                    )
                    .send()
                    .await
                    .unwrap();
                if r.status() == 200 {
                    merges += 1;
                }
            }
            _ => {}
        }
    }
    assert!(merges > 0, "the run merged nothing");
    // The recomputation: every alert, its incident's service, its own events.
    let service_of: std::collections::HashMap<String, String> =
        all_pages(&app, "/api/v1/incidents", 100)
            .await
            .iter()
            .map(|i| {
                (
                    id_of(i),
                    i["service_id"].as_str().unwrap_or("none").to_owned(),
                )
            })
            .collect();
    let mut want: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let alerts = all_pages(&app, "/api/v1/alerts", 100).await;
    for a in &alerts {
        let Some(incident) = a["incident_id"].as_str() else {
            continue;
        };
        let events = all_pages(&app, &format!("/api/v1/alerts/{}/events", id_of(a)), 100).await;
        let by_monitor = events
            .iter()
            .any(|e| e["kind"] == "alert.resolved" && e["actor"] == "system");
        let self_resolved =
            a["status"] == "resolved" && a["acknowledged_at"].is_null() && by_monitor;
        let w = want.entry(service_of[incident].clone()).or_default();
        w.0 += 1;
        w.1 += u64::from(self_resolved);
    }
    let r = ok(
        app.get(
            "/api/v1/insights/alert-noise?from=2026-11-21&to=2026-11-23",
            &app.admin.token,
        ),
        200,
    )
    .await;
    let got: std::collections::BTreeMap<String, (u64, u64)> = r["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let id = s["service_id"].as_str().unwrap().to_owned();
            let n = (
                s["alerts"].as_u64().unwrap(),
                s["self_resolved_alerts"].as_u64().unwrap(),
            );
            (id, n)
        })
        .filter(|(_, n)| n.0 > 0)
        .collect();
    assert_eq!(got, want, "{r}");
    let total: u64 = want.values().map(|w| w.0).sum();
    let self_resolved: u64 = want.values().map(|w| w.1).sum();
    assert_eq!(r["alerts"], total);
    assert_eq!(r["self_resolved_alerts"], self_resolved);
    assert!(self_resolved > 0 && self_resolved < total, "{r}");
    app.stop().await;
}

async fn alert_noise_counts_self_resolved_and_unacknowledged(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (svc, key) = service(&app, "checkout", &[]).await;
    // Two alerts, an incident each; both resolve on their own before anyone acknowledged.
    alert(&app, &key, "disk").await;
    alert(&app, &key, "cpu").await;
    later(&app, 5);
    resolve(&app, &key, "disk").await;
    resolve(&app, &key, "cpu").await;
    // A third incident a person resolves: its alert did not resolve on its own.
    later(&app, 60);
    alert(&app, &key, "mem").await;
    let list = ok(
        app.get("/api/v1/incidents?status=triggered", &app.admin.token),
        200,
    )
    .await;
    let open = id_of(&list["items"][0]);
    later(&app, 5);
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    moved(&app, &ada.token, &open, "resolved").await;
    later(&app, 5);
    let r = ok(
        app.get(
            "/api/v1/insights/alert-noise?from=2026-11-21&to=2026-11-21",
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert_eq!(r["incidents"], 3, "{r}");
    assert_eq!(r["alerts"], 3);
    assert_eq!(r["alerts_per_incident"], 1.0);
    assert_eq!(r["self_resolved_alerts"], 2);
    // Nobody acknowledged any: the third was resolved straight away by a person.
    assert_eq!(r["unacknowledged_incidents"], 3);
    assert_eq!(r["services"][0]["service_id"], svc.as_str());
    assert_eq!(r["services"][0]["name"], "checkout");
    assert_eq!(r["services"][0]["alerts"], 3);
    let csv = app
        .get(
            "/api/v1/insights/alert-noise?from=2026-11-21&to=2026-11-21&format=csv",
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().nth(1).unwrap(), format!("{svc},checkout,3,3,2"));
    app.stop().await;
}

async fn resolve(app: &TestApp, key: &str, dedup: &str) {
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(&json!({"routing_key": key, "event_action": "resolve", "dedup_key": dedup}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

async fn oncall_load_counts_hours_and_pages_by_band_across_dst(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    ok(
        patch(
            &app,
            &format!("/api/v1/users/{}", bob.id),
            &admin,
            &json!({"time_zone": "America/New_York"}),
        ),
        200,
    )
    .await;
    let _receiver = pager(&app, &bob).await;
    // Bob alone on a weekly rota: on call the whole time.
    let schedule = ok(
        app.post(
            "/api/v1/schedules",
            &admin,
            &json!({"name": "Night", "time_zone": "America/New_York", "layers": [
                {"name": "Weekly", "start": "2026-10-26T00:00", "users": [bob.id],
                 "turn": {"count": 1, "unit": "weeks"}}]}),
        ),
        201,
    )
    .await;
    let policy = ok(
        app.post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "night policy", "repeat": 0,
                    "levels": [{"delay_minutes": 5,
                                "targets": [{"type": "schedule", "id": schedule["id"]}]}]}),
        ),
        201,
    )
    .await;
    let svc = ok(
        app.post(
            "/api/v1/services",
            &admin,
            &json!({"name": "api", "escalation_policy_id": policy["id"]}),
        ),
        201,
    )
    .await;
    let integration = ok(
        app.post(
            &format!("/api/v1/services/{}/integrations", id_of(&svc)),
            &admin,
            &json!({"name": "prom", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    let key = integration["key"].as_str().unwrap().to_owned();
    // Saturday 19:00 EDT (23:00 UTC, sleep hours in UTC): an off-hours page in New York.
    // Sunday 01:30 EDT (05:30 UTC), just before the clocks fall back: a sleep-hour page.
    for (at, dedup) in [
        ("2026-10-31T23:00:00Z", "evening"),
        ("2026-11-01T05:30:00Z", "night"),
    ] {
        app.clock.set(t(at));
        alert(&app, &key, dedup).await;
        tick(&app).await;
        tick(&app).await;
        later(&app, 1);
        resolve(&app, &key, dedup).await;
    }
    app.clock.set(t("2026-11-21T09:00:00Z"));
    // Saturday 12:00 EDT to Sunday 13:00 EST: 26 real hours. 12:00–22:00 off (10 h), 22:00
    // EDT to 08:00 EST sleep (11 h: the night has an extra hour), 08:00–13:00 off (5 h).
    let q = "from=2026-10-31T16:00:00Z&to=2026-11-01T18:00:00Z";
    let r = ok(
        app.get(&format!("/api/v1/insights/oncall-load?{q}"), &admin),
        200,
    )
    .await;
    let people = r["people"].as_array().unwrap();
    assert_eq!(people.len(), 1, "{r}");
    let p = &people[0];
    assert_eq!(p["name"], "Bob");
    assert_eq!(p["time_zone"], "America/New_York");
    assert_eq!(
        p["on_call_hours"],
        json!({"business": 0.0, "off": 15.0, "sleep": 11.0, "total": 26.0})
    );
    assert_eq!(p["pages"], json!({"business": 0, "off": 1, "sleep": 1}));
    assert_eq!(p["page_incidents"], 2);
    assert_eq!(p["shifts"], 1);
    let s = &r["schedules"][0];
    assert_eq!(s["name"], "Night");
    assert_eq!(s["shifts"], 1);
    assert_eq!(s["incidents"], 2);
    assert_eq!(s["incidents_per_shift"], 2.0);
    assert_eq!(s["members"][0]["pages"], 2);
    assert_eq!(s["members"][0]["sleep_pages"], 1);
    assert_eq!(s["members"][0]["hours"]["sleep"], 11.0);
    let csv = app
        .get(
            &format!("/api/v1/insights/oncall-load?{q}&format=csv"),
            &admin,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.lines().nth(1).unwrap(),
        format!("{},Bob,America/New_York,0,15,11,26,0,1,1,2,1", bob.id)
    );
    app.stop().await;
}

async fn the_insights_page_shows_tables_charts_and_exports(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let [a, ..] = fixed_set(&app, &ada.token).await;
    let (cookie, _) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let get = |path: String| {
        app.http
            .get(format!("{}{path}", app.url))
            .header("cookie", cookie.clone())
            .send()
    };
    let r = get("/insights?from=2026-11-23&to=2026-12-06&group_by=category".into())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    // The period as picked, the grouping selected, every table and its chart.
    assert!(page.contains(r#"value="2026-11-23""#), "{page}");
    assert!(page.contains(r#"value="2026-12-06""#));
    assert!(page.contains(r#"<option value="category" selected>"#));
    assert!(page.contains(r#"aria-current="page">Insights</a>"#));
    for id in [
        "metrics-table",
        "weeks-table",
        "severe-table",
        "noise-table",
        "people-table",
    ] {
        assert!(page.contains(&format!(r#"id="{id}""#)), "{id}");
    }
    assert!(page.contains(r#"<svg class="chart" id="chart-weeks" role="img""#));
    // The whole period: 4 incidents, TTD mean · median · p90 (2 measured).
    assert!(page.contains("<td data-label=\"Incidents\">4</td><td data-label=\"TTD\">20 min 0 s · 20 min 0 s · 30 min 0 s (2)</td>"), "{page}");
    // Exports of the same numbers for a signed-in reader.
    let csv =
        get("/insights/export/metrics.csv?from=2026-11-23&to=2026-12-06&group_by=category".into())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("all,all incidents,4,"),
        "{csv}"
    );
    let json: Value = get("/insights/export/people.json?from=2026-11-23&to=2026-12-06".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(json["people"].as_array().unwrap().is_empty());
    // The form as sent with nothing picked: the default period, no grouping.
    let r = get("/insights?from=&to=&group_by=".into()).await.unwrap();
    assert_eq!(r.status(), 200);
    // A bad period: the page says why, beside the form.
    let r = get("/insights?from=2026-12-06&to=2026-11-23".into())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"id="period-error">to: must be after from"#),
        "{page}"
    );

    // The incident page shows its durations and the drill box.
    let page = get(format!("/incidents/{a}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<dd data-duration="ttd">10 min 0 s</dd>"#),
        "{page}"
    );
    assert!(page.contains(r#"<dd data-duration="ttr">1 h 20 min</dd>"#));
    assert!(page.contains(r#"name="is_drill" value="yes" id="edit-drill">"#));
    app.stop().await;
}

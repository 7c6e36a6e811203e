//! Drills for the browser sweep: a scenario and two of its drills, the first ended.
use serde_json::json;

use crate::common::{TestApp, ok};

/// Each drill's (id, incident id), oldest first.
pub async fn seed(app: &TestApp, admin: &str) -> Vec<(String, String)> {
    ok(
        app.post(
            "/api/v1/drill-scenarios",
            admin,
            &json!({"name": "payments-db-failover", "title": "Payments database fails over",
                    "description": "The primary fails over to its replica; card payments stall.",
                    "service": "Payments API", "severity": "SEV2",
                    "targets": {"acknowledge_minutes": 5, "roles": ["commander", "communications_lead"],
                                "roles_minutes": 10, "first_update_minutes": 15, "runbook_steps": 2},
                    "steps": [{"at": 0, "alert": {"summary": "Payments p99 above 2 s on a-very-long-host-name-without-breaks.example.com",
                                                   "dedup_key": "payments-latency", "severity": "critical"}},
                              {"at": 4, "note": "Support: customers say card payments fail"},
                              {"at": 12, "resolve": "payments-latency"}]}),
        ),
        201,
    )
    .await;
    let mut drills = Vec::new();
    for _ in 0..2 {
        let d = ok(
            app.post(
                "/api/v1/drills",
                admin,
                &json!({"scenario": "payments-db-failover"}),
            ),
            201,
        )
        .await;
        drills.push((
            d["id"].as_str().unwrap().to_owned(),
            d["incident_id"].as_str().unwrap().to_owned(),
        ));
        app.clock.advance(jiff::SignedDuration::from_secs(200));
    }
    ok(
        app.post(
            &format!("/api/v1/drills/{}/end", drills[0].0),
            admin,
            &json!({}),
        ),
        200,
    )
    .await;
    drills
}

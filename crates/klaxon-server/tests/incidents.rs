//! Incident response scenarios through the REST API, on both backends: declaring by hand,
//! fields and priority, the lifecycle and its milestones, and closing. The clock is the test's;
//! the engine is ticked by hand and a webhook receiver records every page, so a page nobody
//! expected is a failure. Roles, notes, pins and the export are in incident_roles.rs.
use crate::common;
use crate::incident_steps;

use serde_json::{Value, json};

use common::{Backend, TestApp, expect_error, member, ok, patch, refused};
use incident_steps::*;

on_both_backends!(
    declared_priority_follows_severity_and_the_itil_matrix,
    declaring_records_reporter_description_and_categories,
    a_declared_incident_with_a_service_pages_and_one_without_does_not,
    declared_and_alert_opened_incidents_share_one_numbering,
    the_lifecycle_stamps_milestones_at_the_clock,
    forbidden_moves_are_refused_and_write_nothing,
    closing_needs_the_reporter_or_an_admin_with_a_reason,
    an_incident_without_reporter_is_closed_by_its_commander,
    milestones_are_edited_in_order_and_in_the_past,
    milestones_agree_with_the_status,
);

async fn declared_priority_follows_severity_and_the_itil_matrix(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    // Without impact and urgency, the severity gives them (and `sev3` is read as SEV3).
    for (sev, impact, urgency, priority) in [
        ("SEV1", "high", "high", "P1"),
        ("SEV2", "high", "medium", "P2"),
        ("sev3", "medium", "medium", "P3"),
        ("SEV4", "low", "low", "P5"),
    ] {
        let i = declare(
            &app,
            &ada.token,
            json!({"title": format!("{sev} by default"), "severity": sev}),
        )
        .await;
        assert_eq!(i["severity"], sev.to_uppercase(), "{i}");
        assert_eq!(i["impact"], impact, "{i}");
        assert_eq!(i["urgency"], urgency, "{i}");
        assert_eq!(i["priority"], priority, "{i}");
    }
    // Impact × urgency through the ITIL matrix, whatever the severity.
    for (impact, urgency, priority) in [
        ("high", "high", "P1"),
        ("high", "medium", "P2"),
        ("high", "low", "P3"),
        ("medium", "high", "P2"),
        ("medium", "medium", "P3"),
        ("medium", "low", "P4"),
        ("low", "high", "P3"),
        ("low", "medium", "P4"),
        ("low", "low", "P5"),
    ] {
        let i = declare(
            &app,
            &ada.token,
            json!({"title": format!("{impact}/{urgency}"), "severity": "SEV3",
                   "impact": impact, "urgency": urgency}),
        )
        .await;
        assert_eq!(
            (&i["impact"], &i["urgency"], &i["priority"]),
            (&json!(impact), &json!(urgency), &json!(priority)),
            "{impact}/{urgency}"
        );
        // The declaration event says the same.
        let declared = last_event(&app, &id_of(&i), "incident.declared").await;
        assert_eq!(declared["data"]["priority"], priority);
        assert_eq!(declared["data"]["impact"], impact);
        assert_eq!(declared["data"]["urgency"], urgency);
        assert_eq!(declared["data"]["severity"], "SEV3");
    }
    app.stop().await;
}

async fn declaring_records_reporter_description_and_categories(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "viewer").await;
    // The reporter defaults to the caller.
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "  Checkout is slow  ", "severity": "SEV3",
               "description": "p99 at 4s since the deploy", "category": "Performance",
               "subcategory": " latency "}),
    )
    .await;
    assert_eq!(i["title"], "Checkout is slow");
    assert_eq!(i["description"], "p99 at 4s since the deploy");
    assert_eq!(i["category"], "Performance");
    assert_eq!(i["subcategory"], "latency");
    assert_eq!(i["reporter_id"], ada.id.as_str());
    assert_eq!(i["service_id"], Value::Null);
    assert_eq!(i["opened_by_alert"], false);
    assert_eq!(i["alert_count"], 0);
    // Declared, detected and (nobody is paged, so the declarer is on it) acknowledged now.
    assert_eq!(ts(&i["created_at"]), now(&app));
    assert_eq!(ts(&i["milestones"]["declared_at"]), now(&app));
    assert_eq!(ts(&i["milestones"]["detected_at"]), now(&app));
    assert_eq!(ts(&i["milestones"]["acknowledged_at"]), now(&app));
    assert_eq!(i["milestones"]["impact_started_at"], Value::Null);
    let shown = incident(&app, &id_of(&i)).await;
    assert_eq!(shown, i);
    let declared = &timeline(&app, &id_of(&i)).await[0];
    assert_eq!(declared["kind"], "incident.declared");
    assert!(declared["actor"].as_str().unwrap().starts_with("token:"));
    assert_eq!(declared["data"]["reporter_id"], ada.id.as_str());
    assert_eq!(declared["data"]["number"], i["number"]);
    assert_eq!(declared["data"]["status"], "acknowledged");

    // Someone else as reporter (any user, even a viewer), with earlier milestones.
    later(&app, 30);
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Refunds fail", "severity": "SEV4", "reporter_id": bob.id,
               "impact_started_at": at(5), "detected_at": at(20), "category": ""}),
    )
    .await;
    assert_eq!(i["reporter_id"], bob.id.as_str());
    assert_eq!(i["category"], Value::Null);
    assert_eq!(i["milestones"]["impact_started_at"], at(5));
    assert_eq!(i["milestones"]["detected_at"], at(20));
    assert_eq!(i["milestones"]["declared_at"], at(30));
    // A SEV4 has no commander; the roles stay empty.
    assert!(roles(&app, &id_of(&i), false).await.is_empty());
    app.stop().await;
}

async fn a_declared_incident_with_a_service_pages_and_one_without_does_not(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let pages = pager(&app, &ada).await;
    let (checkout, _) = service(&app, "checkout", &[&ada]).await;
    let (quiet, _) = service(&app, "quiet", &[]).await;

    // No service: nobody is paged; bob is on it, and as a SEV2's declarer its commander.
    let i = declare(
        &app,
        &bob.token,
        json!({"title": "Search is down", "severity": "SEV2"}),
    )
    .await;
    assert_eq!(i["status"], "acknowledged");
    assert_eq!(ts(&i["acknowledged_at"]), now(&app));
    assert_eq!(
        holders(&roles(&app, &id_of(&i), false).await),
        vec![pair("commander", &bob.id)]
    );
    // A service without an escalation policy pages nobody either.
    let q = declare(
        &app,
        &bob.token,
        json!({"title": "Quiet", "severity": "SEV3", "service_id": quiet}),
    )
    .await;
    assert_eq!(q["status"], "acknowledged");
    assert_eq!(q["service_id"], quiet.as_str());
    tick(&app).await;
    later(&app, 30);
    tick(&app).await;
    assert!(pages.bodies().is_empty(), "{:?}", pages.bodies());
    for id in [id_of(&i), id_of(&q)] {
        let sent = ok(
            app.get(
                &format!("/api/v1/incidents/{id}/notifications"),
                &app.admin.token,
            ),
            200,
        )
        .await;
        assert!(sent["items"].as_array().unwrap().is_empty(), "{sent}");
    }

    // A service with a policy: triggered, and its first level is paged at the next tick.
    let p = declare(
        &app,
        &bob.token,
        json!({"title": "Checkout is down", "severity": "SEV3", "service_id": checkout}),
    )
    .await;
    let pid = id_of(&p);
    assert_eq!(p["status"], "triggered");
    assert_eq!(p["acknowledged_at"], Value::Null);
    assert_eq!(p["service_id"], checkout.as_str());
    tick(&app).await;
    let got = pages.bodies();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["type"], "incident.page");
    assert_eq!(got[0]["data"]["incident"]["title"], "Checkout is down");
    assert_eq!(got[0]["data"]["service"]["name"], "checkout");
    let kinds: Vec<String> = timeline(&app, &pid)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    for k in [
        "incident.declared",
        "incident.escalated",
        "notification.sent",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    // Acknowledging through the lifecycle stops the escalation: no page after the delay.
    moved(&app, &ada.token, &pid, "acknowledged").await;
    for _ in 0..6 {
        later(&app, 5);
        tick(&app).await;
    }
    assert_eq!(pages.bodies().len(), 1);

    // An unknown or malformed service is a 400 naming it; nothing is declared.
    let before = ok(app.get("/api/v1/incidents", &app.admin.token), 200).await;
    for bad in [
        json!("not-an-id"),
        json!("01234567-89ab-7def-8123-456789abcdef"),
    ] {
        refused(
            app.post(
                "/api/v1/incidents",
                &bob.token,
                &json!({"title": "x", "severity": "SEV3", "service_id": bad}),
            ),
            400,
            "invalid_field",
            Some("service_id"),
        )
        .await;
    }
    let after = ok(app.get("/api/v1/incidents", &app.admin.token), 200).await;
    assert_eq!(before, after);
    app.stop().await;
}

async fn declared_and_alert_opened_incidents_share_one_numbering(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let (_, key) = service(&app, "checkout", &[&ada]).await;
    alert(&app, &key, "first").await;
    let one = declare(
        &app,
        &ada.token,
        json!({"title": "Declared", "severity": "SEV3"}),
    )
    .await;
    alert(&app, &key, "second").await;
    let three = declare(
        &app,
        &ada.token,
        json!({"title": "Declared again", "severity": "SEV4"}),
    )
    .await;
    let list = ok(app.get("/api/v1/incidents", &app.admin.token), 200).await;
    let mut numbered: Vec<(i64, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["number"].as_i64().unwrap(),
                i["opened_by_alert"].as_bool().unwrap(),
            )
        })
        .collect();
    numbered.sort();
    assert_eq!(numbered, vec![(1, true), (2, false), (3, true), (4, false)]);
    assert_eq!(one["number"], 2);
    assert_eq!(three["number"], 4);

    // An alert-opened incident moves through the same lifecycle, taking its alerts along.
    let opened = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["number"] == 1)
        .unwrap()
        .clone();
    let id = id_of(&opened);
    assert_eq!(opened["severity"], Value::Null);
    let alerts = |app: &TestApp| {
        let req = app.get(
            &format!("/api/v1/alerts?incident_id={id}"),
            &app.admin.token,
        );
        async move { ok(req, 200).await["items"][0]["status"].clone() }
    };
    moved(&app, &ada.token, &id, "acknowledged").await;
    assert_eq!(alerts(&app).await, "acknowledged");
    moved(&app, &ada.token, &id, "mitigated").await;
    assert_eq!(alerts(&app).await, "acknowledged");
    moved(&app, &ada.token, &id, "resolved").await;
    assert_eq!(alerts(&app).await, "resolved");
    app.stop().await;
}

// --- the lifecycle ------------------------------------------------------------------------------

async fn the_lifecycle_stamps_milestones_at_the_clock(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let (checkout, _) = service(&app, "checkout", &[&ada]).await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Checkout is down", "severity": "SEV3", "service_id": checkout}),
    )
    .await;
    let id = id_of(&i);
    assert_eq!(i["status"], "triggered");
    let m = |i: &Value, name: &str| i["milestones"][name].clone();

    later(&app, 3);
    let i = moved(&app, &ada.token, &id, "acknowledged").await;
    assert_eq!(m(&i, "acknowledged_at"), at(3));
    assert_eq!(i["acknowledged_at"], at(3));
    later(&app, 10);
    let i = moved(&app, &ada.token, &id, "mitigated").await;
    assert_eq!(m(&i, "mitigated_at"), at(13));
    // The impact came back: mitigated is cleared, acknowledged stays as it was.
    later(&app, 5);
    let i = moved(&app, &ada.token, &id, "acknowledged").await;
    assert_eq!(m(&i, "mitigated_at"), Value::Null);
    assert_eq!(m(&i, "acknowledged_at"), at(3));
    later(&app, 5);
    let i = moved(&app, &ada.token, &id, "resolved").await;
    assert_eq!(m(&i, "resolved_at"), at(23));
    assert_eq!(i["resolved_at"], at(23));
    // Reopening brings it back to people: resolved is cleared, acknowledged kept.
    later(&app, 7);
    let i = moved(&app, &ada.token, &id, "acknowledged").await;
    assert_eq!(m(&i, "resolved_at"), Value::Null);
    assert_eq!(m(&i, "acknowledged_at"), at(3));
    later(&app, 10);
    let i = moved(&app, &ada.token, &id, "resolved").await;
    assert_eq!(m(&i, "resolved_at"), at(40));
    later(&app, 20);
    let i = moved(&app, &ada.token, &id, "closed").await;
    assert_eq!(m(&i, "closed_at"), at(60));
    assert_eq!(m(&i, "resolved_at"), at(40));
    assert_eq!(m(&i, "declared_at"), at(0));
    assert_eq!(m(&i, "detected_at"), at(0));
    assert_eq!(incident(&app, &id).await, i);

    assert_eq!(
        incident_kinds(&app, &id).await,
        vec![
            "incident.declared",
            "incident.acknowledged",
            "incident.mitigated",
            "incident.acknowledged",
            "incident.resolved",
            "incident.reopened",
            "incident.resolved",
            "incident.closed",
        ]
    );
    let events = timeline(&app, &id).await;
    let moves: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e["kind"] != "incident.declared")
        .filter(|e| e["kind"].as_str().unwrap().starts_with("incident."))
        .map(|e| {
            assert_eq!(e["actor"], events[0]["actor"]);
            (
                e["data"]["from"].as_str().unwrap().to_owned(),
                e["data"]["to"].as_str().unwrap().to_owned(),
                e["at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let step = |from: &str, to: &str, m: i64| (from.to_owned(), to.to_owned(), at(m));
    assert_eq!(
        moves,
        vec![
            step("triggered", "acknowledged", 3),
            step("acknowledged", "mitigated", 13),
            step("mitigated", "acknowledged", 18),
            step("acknowledged", "resolved", 23),
            step("resolved", "acknowledged", 30),
            step("acknowledged", "resolved", 40),
            step("resolved", "closed", 60),
        ]
    );

    // Straight from triggered to mitigated or resolved is allowed too.
    let j = declare(
        &app,
        &ada.token,
        json!({"title": "Flapping", "severity": "SEV4", "service_id": checkout}),
    )
    .await;
    later(&app, 1);
    let j = moved(&app, &ada.token, &id_of(&j), "resolved").await;
    assert_eq!(m(&j, "acknowledged_at"), Value::Null);
    assert_eq!(m(&j, "resolved_at"), at(61));
    let k = declare(
        &app,
        &ada.token,
        json!({"title": "Half down", "severity": "SEV4", "service_id": checkout}),
    )
    .await;
    later(&app, 1);
    let k = moved(&app, &ada.token, &id_of(&k), "mitigated").await;
    assert_eq!(m(&k, "acknowledged_at"), Value::Null);
    assert_eq!(m(&k, "mitigated_at"), at(62));
    // Back to acknowledged from there stamps acknowledgement now.
    later(&app, 1);
    let k = moved(&app, &ada.token, &id_of(&k), "acknowledged").await;
    assert_eq!(m(&k, "acknowledged_at"), at(63));
    assert_eq!(m(&k, "mitigated_at"), Value::Null);
    app.stop().await;
}

async fn forbidden_moves_are_refused_and_write_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Disk full", "severity": "SEV3"}),
    )
    .await;
    let id = id_of(&i);
    let path = format!("/api/v1/incidents/{id}/status");
    later(&app, 5);
    let before = snapshot(&app, &id).await;
    // Acknowledged cannot be closed, nor acknowledged again.
    for to in ["closed", "acknowledged"] {
        refused(
            move_to(&app, &ada.token, &id, to),
            409,
            "conflict",
            Some("status"),
        )
        .await;
    }
    // People do not trigger incidents; unknown statuses and bodies are malformed.
    refused(
        move_to(&app, &ada.token, &id, "triggered"),
        400,
        "invalid_field",
        Some("status"),
    )
    .await;
    refused(
        move_to(&app, &ada.token, &id, "fixed"),
        400,
        "invalid_field",
        Some("status"),
    )
    .await;
    for body in [
        json!({}),
        json!({"status": 3}),
        json!({"status": null}),
        json!({"status": "resolved", "why": "done"}),
    ] {
        let r = app.post(&path, &ada.token, &body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "invalid_field", "{e}");
    }
    refused(
        app.post(
            "/api/v1/incidents/01234567-89ab-7def-8123-456789abcdef/status",
            &ada.token,
            &json!({"status": "resolved"}),
        ),
        404,
        "not_found",
        None,
    )
    .await;
    unchanged(&app, &id, &before).await;

    // Mitigated cannot be closed either.
    moved(&app, &ada.token, &id, "mitigated").await;
    let before = snapshot(&app, &id).await;
    refused(
        move_to(&app, &ada.token, &id, "closed"),
        409,
        "conflict",
        Some("status"),
    )
    .await;
    unchanged(&app, &id, &before).await;

    // Closed is final: no status, field, role or milestone changes.
    moved(&app, &ada.token, &id, "resolved").await;
    refused(
        move_to(&app, &ada.token, &id, "resolved"),
        409,
        "conflict",
        Some("status"),
    )
    .await;
    moved(&app, &ada.token, &id, "closed").await;
    let before = snapshot(&app, &id).await;
    for to in ["acknowledged", "mitigated", "resolved", "closed"] {
        let e = expect_error(
            move_to(&app, &ada.token, &id, to).send().await.unwrap(),
            409,
            "conflict",
            Some("status"),
        )
        .await;
        assert!(e["message"].as_str().unwrap().contains("closed"), "{e}");
    }
    refused(
        move_to(&app, &ada.token, &id, "triggered"),
        400,
        "invalid_field",
        Some("status"),
    )
    .await;
    refused(
        patch(
            &app,
            &format!("/api/v1/incidents/{id}"),
            &ada.token,
            &json!({"title": "Disk was full"}),
        ),
        409,
        "conflict",
        Some("status"),
    )
    .await;
    refused(
        assign(&app, &ada.token, &id, "scribe", &ada.id),
        409,
        "conflict",
        Some("status"),
    )
    .await;
    unchanged(&app, &id, &before).await;
    app.stop().await;
}

async fn closing_needs_the_reporter_or_an_admin_with_a_reason(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let admin = &app.admin.token;
    let close = |token: &str, id: &str, reason: Option<&str>| {
        let mut body = json!({"status": "closed"});
        if let Some(r) = reason {
            body["reason"] = json!(r);
        }
        app.post(&format!("/api/v1/incidents/{id}/status"), token, &body)
    };

    // Ada reported it: she confirms by closing it.
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Login fails", "severity": "SEV3"}),
    )
    .await;
    let id = id_of(&i);
    moved(&app, &bob.token, &id, "resolved").await;
    let before = snapshot(&app, &id).await;
    // Another responder may not; an admin must say why.
    refused(close(&bob.token, &id, None), 403, "forbidden", None).await;
    refused(
        close(&bob.token, &id, Some("all good")),
        403,
        "forbidden",
        None,
    )
    .await;
    refused(
        close(admin, &id, None),
        400,
        "invalid_field",
        Some("reason"),
    )
    .await;
    refused(
        close(admin, &id, Some("   ")),
        400,
        "invalid_field",
        Some("reason"),
    )
    .await;
    unchanged(&app, &id, &before).await;
    later(&app, 15);
    let closed = ok(close(&ada.token, &id, None), 200).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["milestones"]["closed_at"], at(15));
    let e = last_event(&app, &id, "incident.closed").await;
    assert_eq!(e["data"]["override"], Value::Null, "{e}");
    assert_eq!(e["data"]["from"], "resolved");

    // An admin closing for an absent reporter, with a reason: recorded as an override.
    let j = declare(
        &app,
        &ada.token,
        json!({"title": "Slow search", "severity": "SEV4"}),
    )
    .await;
    let jd = id_of(&j);
    moved(&app, &ada.token, &jd, "resolved").await;
    later(&app, 5);
    let closed = ok(close(admin, &jd, Some("Ada is on leave")), 200).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["milestones"]["closed_at"], at(20));
    let e = last_event(&app, &jd, "incident.closed").await;
    assert_eq!(e["data"]["override"], true, "{e}");
    assert_eq!(e["data"]["reason"], "Ada is on leave", "{e}");

    // An admin who is the reporter just confirms: no override.
    let k = declare(
        &app,
        admin,
        json!({"title": "Admin's own", "severity": "SEV4"}),
    )
    .await;
    let kd = id_of(&k);
    moved(&app, admin, &kd, "resolved").await;
    ok(close(admin, &kd, None), 200).await;
    let e = last_event(&app, &kd, "incident.closed").await;
    assert_eq!(e["data"]["override"], Value::Null, "{e}");
    app.stop().await;
}

async fn an_incident_without_reporter_is_closed_by_its_commander(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let carol = member(&app, "carol@example.com", "Carol", "responder").await;
    let admin = &app.admin.token;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Queue backlog", "severity": "SEV3"}),
    )
    .await;
    let id = id_of(&i);
    // Nobody reported it (the field is cleared).
    let i = ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{id}"),
            &ada.token,
            &json!({"reporter_id": null}),
        ),
        200,
    )
    .await;
    assert_eq!(i["reporter_id"], Value::Null);
    moved(&app, &ada.token, &id, "resolved").await;
    // Without a commander only an admin with a reason closes it.
    let before = snapshot(&app, &id).await;
    let e = expect_error(
        move_to(&app, &ada.token, &id, "closed")
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
        None,
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("commander"), "{e}");
    refused(
        move_to(&app, admin, &id, "closed"),
        400,
        "invalid_field",
        Some("reason"),
    )
    .await;
    unchanged(&app, &id, &before).await;
    // With Carol as commander, she confirms; Ada still may not.
    ok(assign(&app, &ada.token, &id, "commander", &carol.id), 201).await;
    let before = snapshot(&app, &id).await;
    refused(
        move_to(&app, &ada.token, &id, "closed"),
        403,
        "forbidden",
        None,
    )
    .await;
    unchanged(&app, &id, &before).await;
    later(&app, 9);
    let closed = moved(&app, &carol.token, &id, "closed").await;
    assert_eq!(closed["milestones"]["closed_at"], at(9));
    let e = last_event(&app, &id, "incident.closed").await;
    assert_eq!(e["data"]["override"], Value::Null, "{e}");
    app.stop().await;
}

// --- milestones ---------------------------------------------------------------------------------

async fn milestones_are_edited_in_order_and_in_the_past(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Payments fail", "severity": "SEV3"}),
    )
    .await;
    let id = id_of(&i);
    // Acknowledged at 09:00 on declaring, mitigated at 09:30; now it is 10:00.
    later(&app, 30);
    moved(&app, &ada.token, &id, "mitigated").await;
    later(&app, 30);

    // After the fact: the impact started earlier than anyone noticed.
    let edited = ok(
        milestones(
            &app,
            &ada.token,
            &id,
            &json!({"impact_started_at": at(-20), "detected_at": at(-10)}),
        ),
        200,
    )
    .await;
    assert_eq!(edited["milestones"]["impact_started_at"], at(-20));
    assert_eq!(edited["milestones"]["detected_at"], at(-10));
    assert_eq!(edited["milestones"]["declared_at"], at(0));
    assert_eq!(edited["milestones"]["mitigated_at"], at(30));
    assert_eq!(incident(&app, &id).await, edited);
    let e = last_event(&app, &id, "incident.milestones_changed").await;
    assert_eq!(ts(&e["at"]), now(&app));
    assert_eq!(
        e["data"]["changes"],
        json!({
            "impact_started_at": {"from": null, "to": at(-20)},
            "detected_at": {"from": at(0), "to": at(-10)},
        })
    );

    let before = snapshot(&app, &id).await;
    // Out of order: each refusal names the milestone that was edited.
    for (body, field) in [
        // Detected after it was declared.
        (json!({"detected_at": at(10)}), "detected_at"),
        // Impact started after it was detected.
        (json!({"impact_started_at": at(-5)}), "impact_started_at"),
        // Mitigated before it was acknowledged.
        (json!({"mitigated_at": at(-1)}), "mitigated_at"),
        // Acknowledged after it was mitigated.
        (json!({"acknowledged_at": at(45)}), "acknowledged_at"),
        // Declared before it was detected.
        (json!({"declared_at": at(-15)}), "declared_at"),
        // In the future.
        (json!({"impact_started_at": at(61)}), "impact_started_at"),
        (json!({"mitigated_at": at(90)}), "mitigated_at"),
    ] {
        let e = expect_error(
            milestones(&app, &ada.token, &id, &body)
                .send()
                .await
                .unwrap(),
            400,
            "invalid_field",
            Some(field),
        )
        .await;
        assert!(
            e["message"].as_str().unwrap().starts_with(field),
            "{body}: {e}"
        );
    }
    // One good change and one bad: nothing of either is written.
    refused(
        milestones(
            &app,
            &ada.token,
            &id,
            &json!({"impact_started_at": at(-30), "mitigated_at": at(90)}),
        ),
        400,
        "invalid_field",
        Some("mitigated_at"),
    )
    .await;
    // Malformed times and unknown milestones.
    refused(
        milestones(&app, &ada.token, &id, &json!({"detected_at": "yesterday"})),
        400,
        "invalid_field",
        Some("detected_at"),
    )
    .await;
    refused(
        milestones(
            &app,
            &ada.token,
            &id,
            &json!({"detected_at": 1_700_000_000}),
        ),
        400,
        "invalid_field",
        Some("detected_at"),
    )
    .await;
    let r = milestones(&app, &ada.token, &id, &json!({"started_at": at(-5)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    unchanged(&app, &id, &before).await;

    // The same values again change nothing and write no event.
    let same = ok(
        milestones(&app, &ada.token, &id, &json!({"detected_at": at(-10)})),
        200,
    )
    .await;
    assert_eq!(same, before.0);
    unchanged(&app, &id, &before).await;

    // Moving declared_at earlier moves created_at with it; clearing an optional one works.
    let edited = ok(
        milestones(
            &app,
            &ada.token,
            &id,
            &json!({"declared_at": at(-5), "impact_started_at": null}),
        ),
        200,
    )
    .await;
    assert_eq!(edited["created_at"], at(-5));
    assert_eq!(edited["milestones"]["declared_at"], at(-5));
    assert_eq!(edited["milestones"]["impact_started_at"], Value::Null);
    let e = last_event(&app, &id, "incident.milestones_changed").await;
    assert_eq!(
        e["data"]["changes"],
        json!({
            "declared_at": {"from": at(0), "to": at(-5)},
            "impact_started_at": {"from": at(-20), "to": null},
        })
    );
    // Every incident keeps its declaration.
    let before = snapshot(&app, &id).await;
    refused(
        milestones(&app, &ada.token, &id, &json!({"declared_at": null})),
        409,
        "conflict",
        Some("declared_at"),
    )
    .await;
    unchanged(&app, &id, &before).await;
    refused(
        milestones(
            &app,
            &ada.token,
            "01234567-89ab-7def-8123-456789abcdef",
            &json!({"detected_at": at(-10)}),
        ),
        404,
        "not_found",
        None,
    )
    .await;
    app.stop().await;
}

async fn milestones_agree_with_the_status(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Emails delayed", "severity": "SEV4"}),
    )
    .await;
    let id = id_of(&i);
    later(&app, 60);
    let before = snapshot(&app, &id).await;
    // An open incident gets resolved or mitigated by its status, not by editing milestones.
    for (body, field) in [
        (json!({"resolved_at": at(30)}), "resolved_at"),
        (json!({"closed_at": at(30)}), "closed_at"),
        (json!({"mitigated_at": at(30)}), "mitigated_at"),
    ] {
        refused(
            milestones(&app, &ada.token, &id, &body),
            409,
            "conflict",
            Some(field),
        )
        .await;
    }
    unchanged(&app, &id, &before).await;

    moved(&app, &ada.token, &id, "resolved").await;
    later(&app, 10);
    // A resolved incident keeps its resolution; it can be moved earlier, not in the future.
    let before = snapshot(&app, &id).await;
    refused(
        milestones(&app, &ada.token, &id, &json!({"resolved_at": null})),
        409,
        "conflict",
        Some("resolved_at"),
    )
    .await;
    refused(
        milestones(&app, &ada.token, &id, &json!({"resolved_at": at(75)})),
        400,
        "invalid_field",
        Some("resolved_at"),
    )
    .await;
    unchanged(&app, &id, &before).await;
    let edited = ok(
        milestones(
            &app,
            &ada.token,
            &id,
            &json!({"resolved_at": at(45), "mitigated_at": at(40)}),
        ),
        200,
    )
    .await;
    assert_eq!(edited["status"], "resolved");
    assert_eq!(edited["resolved_at"], at(45));
    assert_eq!(edited["milestones"]["mitigated_at"], at(40));
    let e = last_event(&app, &id, "incident.milestones_changed").await;
    assert_eq!(e["data"]["changes"]["resolved_at"]["from"], at(60));
    assert_eq!(e["data"]["changes"]["resolved_at"]["to"], at(45));
    app.stop().await;
}

// --- roles --------------------------------------------------------------------------------------

//! What people call things, wherever the API takes an id: incidents by number, users by e-mail,
//! services, escalation policies, schedules, webhooks and integrations by name; in paths, body
//! fields and query filters (the audit log's subject too), on both backends. A UUID keeps working, a miss is a 404 in a path
//! and a 400 naming the field elsewhere, and a name that could mean several is refused.
use crate::common;

use serde_json::{Value, json};

use common::{Backend, TestApp, delete, member, ok, patch, refused};

on_both_backends!(
    incidents_by_number,
    users_by_email,
    policies_schedules_and_services_by_name,
    webhooks_and_integrations_by_name,
    names_match_ignoring_ascii_case_and_ambiguity_is_refused,
    audit_log_subjects_by_what_people_call_them,
);

/// `%`-encodes a path segment (names have spaces, numbers a `#`).
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn declare(app: &TestApp, title: &str) -> Value {
    ok(
        app.post(
            "/api/v1/incidents",
            &app.admin.token,
            &json!({"title": title, "severity": "SEV3"}),
        ),
        201,
    )
    .await
}

async fn get(app: &TestApp, path: &str) -> Value {
    ok(app.get(path, &app.admin.token), 200).await
}

async fn incidents_by_number(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let first = declare(&app, "Checkout is down").await;
    let second = declare(&app, "Checkout is down again").await;
    let (id, n) = (
        first["id"].as_str().unwrap(),
        first["number"].as_i64().unwrap(),
    );
    let n2 = second["number"].as_i64().unwrap();

    // By number, with or without `#`, and by id: the same incident.
    for term in [n.to_string(), format!("#{n}"), id.to_owned()] {
        let got = get(&app, &format!("/api/v1/incidents/{}", seg(&term))).await;
        assert_eq!(got["id"], id, "{term}");
    }
    // `klaxon incident note 75 …` is this call.
    let note = ok(
        app.post(
            &format!("/api/v1/incidents/{n}/notes"),
            &admin,
            &json!({"text": "rolled back"}),
        ),
        201,
    )
    .await;
    assert_eq!(note["subject_id"], id);
    let timeline = get(&app, &format!("/api/v1/incidents/{n}/timeline")).await;
    assert!(timeline.to_string().contains("rolled back"), "{timeline}");

    // A number nobody has is a 404 that names it; a word is the caller's mistake.
    let e = refused(
        app.get("/api/v1/incidents/999", &admin),
        404,
        "not_found",
        None,
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("999"), "{e}");
    refused(
        app.get("/api/v1/incidents/99999999999999999999999", &admin),
        404,
        "not_found",
        None,
    )
    .await;
    let e = refused(
        app.get("/api/v1/incidents/checkout", &admin),
        400,
        "invalid_field",
        Some("id"),
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("number"), "{e}");

    // In a body: relate by number, then merge into a number.
    let related = ok(
        app.post(
            &format!("/api/v1/incidents/{n}/related"),
            &admin,
            &json!({"incident_id": format!("#{n2}")}),
        ),
        201,
    )
    .await;
    assert_eq!(related["id"], second["id"]);
    ok(
        delete(&app, &format!("/api/v1/incidents/{n}/related/{n2}"), &admin),
        204,
    )
    .await;
    assert!(
        get(&app, &format!("/api/v1/incidents/{n}/related")).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    refused(
        app.post(
            &format!("/api/v1/incidents/{n}/related"),
            &admin,
            &json!({"incident_id": "4242"}),
        ),
        400,
        "invalid_field",
        Some("incident_id"),
    )
    .await;
    let merged = ok(
        app.post(
            &format!("/api/v1/incidents/{n2}/merge"),
            &admin,
            &json!({"into": n.to_string()}),
        ),
        200,
    )
    .await;
    assert_eq!(merged["id"], id);

    // In a query filter.
    let alerts = get(&app, &format!("/api/v1/alerts?incident_id=%23{n}")).await;
    assert!(alerts["items"].as_array().unwrap().is_empty());
    refused(
        app.get("/api/v1/alerts?incident_id=4242", &admin),
        400,
        "invalid_field",
        Some("incident_id"),
    )
    .await;
    app.stop().await;
}

async fn users_by_email(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let incident = declare(&app, "Payments slow").await;
    let n = incident["number"].as_i64().unwrap();

    // In the path, in any case; the id still works.
    for term in ["ada@example.com", "ADA@Example.com", ada.id.as_str()] {
        let u = get(&app, &format!("/api/v1/users/{}", seg(term))).await;
        assert_eq!(u["id"], ada.id.as_str(), "{term}");
    }
    let renamed = ok(
        patch(
            &app,
            "/api/v1/users/ada@example.com",
            &admin,
            &json!({"name": "Ada L."}),
        ),
        200,
    )
    .await;
    assert_eq!(renamed["name"], "Ada L.");
    let methods = get(&app, "/api/v1/users/ada@example.com/contact-methods").await;
    assert!(methods["items"].is_array(), "{methods}");

    // An address nobody has is a 404 naming it; something that is no address is a 400.
    let e = refused(
        app.get("/api/v1/users/nobody@example.com", &admin),
        404,
        "not_found",
        None,
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("nobody@example.com"),
        "{e}"
    );
    refused(
        app.get("/api/v1/users/ada", &admin),
        400,
        "invalid_field",
        Some("id"),
    )
    .await;

    // A role, a follower and a task's assignee, each given by e-mail in the body.
    let role = ok(
        app.post(
            &format!("/api/v1/incidents/{n}/roles"),
            &admin,
            &json!({"role": "scribe", "user_id": "Ada@example.com"}),
        ),
        201,
    )
    .await;
    assert_eq!(role["user_id"], ada.id.as_str());
    let roles = get(&app, &format!("/api/v1/incidents/{n}/roles")).await;
    assert!(
        roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "scribe" && r["user_id"] == ada.id.as_str()),
        "{roles}"
    );
    ok(
        delete(
            &app,
            &format!("/api/v1/incidents/{n}/roles/scribe/ada@example.com"),
            &admin,
        ),
        200,
    )
    .await;
    let follower = ok(
        app.post(
            &format!("/api/v1/incidents/{n}/subscribers"),
            &admin,
            &json!({"user_id": "ada@example.com"}),
        ),
        201,
    )
    .await;
    assert_eq!(follower["user_id"], ada.id.as_str());
    // Ada, a responder, unfollows herself by her address: her own, so allowed as such.
    ok(
        delete(
            &app,
            &format!("/api/v1/incidents/{n}/subscribers/ada@example.com"),
            &ada.token,
        ),
        200,
    )
    .await;
    let task = ok(
        app.post(
            &format!("/api/v1/incidents/{n}/tasks"),
            &admin,
            &json!({"title": "Page the bank", "assignee_id": "ada@example.com"}),
        ),
        201,
    )
    .await;
    assert_eq!(task["assignee_id"], ada.id.as_str());

    // An unknown address in a body is a 400 naming the field; nothing is written.
    let e = refused(
        app.post(
            &format!("/api/v1/incidents/{n}/roles"),
            &admin,
            &json!({"role": "scribe", "user_id": "nobody@example.com"}),
        ),
        400,
        "invalid_field",
        Some("user_id"),
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("nobody@example.com"),
        "{e}"
    );
    let after = get(&app, &format!("/api/v1/incidents/{n}/roles")).await;
    assert!(
        !after["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "scribe"),
        "{after}"
    );
    app.stop().await;
}

async fn policies_schedules_and_services_by_name(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;

    // A schedule whose layer names people by e-mail: stored as their ids.
    let schedule = ok(
        app.post(
            "/api/v1/schedules",
            &admin,
            &json!({"name": "Follow the sun", "time_zone": "Europe/Berlin", "layers": [
                {"name": "day", "start": "2026-11-20T09:00",
                 "users": ["ada@example.com", bob.id], "turn": {"count": 1, "unit": "weeks"}}]}),
        ),
        201,
    )
    .await;
    assert_eq!(
        schedule["layers"][0]["users"],
        json!([ada.id.as_str(), bob.id.as_str()])
    );
    let sid = schedule["id"].as_str().unwrap();
    let shown = get(&app, "/api/v1/schedules/Follow%20the%20sun").await;
    assert_eq!(shown["id"], sid);
    let o = ok(
        app.post(
            "/api/v1/schedules/Follow%20the%20sun/overrides",
            &admin,
            &json!({"user_id": "bob@example.com", "start": "2026-11-22T09:00:00Z",
                    "end": "2026-11-22T18:00:00Z"}),
        ),
        201,
    )
    .await;
    assert_eq!(o["user_id"], bob.id.as_str());
    assert_eq!(o["schedule_id"], sid);
    refused(
        app.post(
            "/api/v1/schedules",
            &admin,
            &json!({"name": "Night", "time_zone": "Europe/Berlin", "layers": [
                {"name": "night", "start": "2026-11-20T21:00",
                 "users": ["carol@example.com"], "turn": {"count": 1, "unit": "weeks"}}]}),
        ),
        400,
        "invalid_field",
        Some("layers[0].users[0]"),
    )
    .await;

    // A policy whose targets are a person by e-mail and the schedule by name.
    let policy = ok(
        app.post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "Primary", "levels": [{"delay_minutes": 5, "targets": [
                {"type": "user", "id": "ada@example.com"},
                {"type": "schedule", "id": "Follow the sun"}]}]}),
        ),
        201,
    )
    .await;
    assert_eq!(
        policy["levels"][0]["targets"],
        json!([{"type": "user", "id": ada.id}, {"type": "schedule", "id": sid}])
    );
    let pid = policy["id"].as_str().unwrap();
    assert_eq!(
        get(&app, "/api/v1/escalation-policies/Primary").await["id"],
        pid
    );
    let e = refused(
        patch(
            &app,
            "/api/v1/escalation-policies/Primary",
            &admin,
            &json!({"levels": [{"delay_minutes": 5, "targets": [
                {"type": "schedule", "id": "No such rota"}]}]}),
        ),
        400,
        "invalid_field",
        Some("levels[0].targets[0].id"),
    )
    .await;
    assert!(
        e["message"].as_str().unwrap().contains("No such rota"),
        "{e}"
    );
    refused(
        app.get("/api/v1/escalation-policies/Secondary", &admin),
        404,
        "not_found",
        None,
    )
    .await;

    // A service paged by the policy named in its body; found by name in paths and filters.
    let service = ok(
        app.post(
            "/api/v1/services",
            &admin,
            &json!({"name": "Payments API", "escalation_policy_id": "Primary"}),
        ),
        201,
    )
    .await;
    assert_eq!(service["escalation_policy_id"], pid);
    let svc = service["id"].as_str().unwrap();
    assert_eq!(
        get(&app, "/api/v1/services/Payments%20API").await["id"],
        svc
    );
    refused(
        app.post(
            "/api/v1/services",
            &admin,
            &json!({"name": "Search", "escalation_policy_id": "Tertiary"}),
        ),
        400,
        "invalid_field",
        Some("escalation_policy_id"),
    )
    .await;
    let declared = ok(
        app.post(
            "/api/v1/incidents",
            &admin,
            &json!({"title": "Card payments fail", "severity": "SEV3",
                    "service_id": "Payments API"}),
        ),
        201,
    )
    .await;
    assert_eq!(declared["service_id"], svc);
    let listed = get(
        &app,
        "/api/v1/incidents?service_id=Payments%20API&team=Primary",
    )
    .await;
    let ids: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, vec![&declared["id"]]);
    refused(
        app.get("/api/v1/incidents?team=Tertiary", &admin),
        400,
        "invalid_field",
        Some("team"),
    )
    .await;
    let window = ok(
        app.post(
            "/api/v1/services/Payments%20API/maintenance-windows",
            &admin,
            &json!({"ends_at": "2026-11-21T10:00:00Z"}),
        ),
        201,
    )
    .await;
    assert_eq!(window["service_id"], svc);
    // Deleting by name: the policy is in use, so refused; the service goes.
    refused(
        delete(&app, "/api/v1/escalation-policies/Primary", &admin),
        409,
        "conflict",
        None,
    )
    .await;
    ok(delete(&app, "/api/v1/services/Payments%20API", &admin), 204).await;
    refused(
        app.get(&format!("/api/v1/services/{svc}"), &admin),
        404,
        "not_found",
        None,
    )
    .await;
    app.stop().await;
}

async fn webhooks_and_integrations_by_name(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let hook = ok(
        app.post(
            "/api/v1/webhooks",
            &admin,
            &json!({"name": "Chat bridge", "url": "http://127.0.0.1:9/in"}),
        ),
        201,
    )
    .await;
    let shown = get(&app, "/api/v1/webhooks/Chat%20bridge").await;
    assert_eq!(shown["id"], hook["id"]);
    let changed = ok(
        patch(
            &app,
            "/api/v1/webhooks/chat%20bridge",
            &admin,
            &json!({"enabled": false}),
        ),
        200,
    )
    .await;
    assert_eq!(changed["enabled"], false);
    let deliveries = get(&app, "/api/v1/webhooks/Chat%20bridge/deliveries").await;
    assert!(deliveries["items"].as_array().unwrap().is_empty());

    let svc = ok(
        app.post("/api/v1/services", &admin, &json!({"name": "Web"})),
        201,
    )
    .await;
    let integration = ok(
        app.post(
            "/api/v1/services/Web/integrations",
            &admin,
            &json!({"name": "Prometheus", "kind": "generic"}),
        ),
        201,
    )
    .await;
    assert_eq!(integration["service_id"], svc["id"]);
    let shown = get(&app, "/api/v1/integrations/Prometheus").await;
    assert_eq!(shown["id"], integration["id"]);
    let listed = get(&app, "/api/v1/services/web/integrations").await;
    assert_eq!(listed["items"][0]["id"], integration["id"]);

    // Integration names are not unique: once two services have a "Prometheus", the name is
    // ambiguous and the id is needed.
    ok(
        app.post("/api/v1/services", &admin, &json!({"name": "Batch"})),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/services/Batch/integrations",
            &admin,
            &json!({"name": "Prometheus", "kind": "generic"}),
        ),
        201,
    )
    .await;
    let e = refused(
        app.get("/api/v1/integrations/Prometheus", &admin),
        409,
        "conflict",
        Some("id"),
    )
    .await;
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("ambiguous: 2 integrations are called \"Prometheus\""),
        "{msg}"
    );
    assert!(msg.contains("use the id"), "{msg}");
    let id = integration["id"].as_str().unwrap();
    assert_eq!(
        get(&app, &format!("/api/v1/integrations/{id}")).await["id"],
        id
    );
    app.stop().await;
}

async fn names_match_ignoring_ascii_case_and_ambiguity_is_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let mut ids = Vec::new();
    for name in ["API", "api", "Payments", "Über"] {
        let s = ok(
            app.post("/api/v1/services", &admin, &json!({"name": name})),
            201,
        )
        .await;
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    // Exact first; else the one name equal ignoring ASCII case.
    assert_eq!(
        get(&app, "/api/v1/services/api").await["id"],
        ids[1].as_str()
    );
    assert_eq!(
        get(&app, "/api/v1/services/API").await["id"],
        ids[0].as_str()
    );
    assert_eq!(
        get(&app, "/api/v1/services/PAYMENTS").await["id"],
        ids[2].as_str()
    );
    // Only ASCII letters fold, the same on both backends (PostgreSQL's lower() folds Ü).
    assert_eq!(
        get(&app, &format!("/api/v1/services/{}", seg("Über"))).await["id"],
        ids[3].as_str()
    );
    refused(
        app.get(&format!("/api/v1/services/{}", seg("über")), &admin),
        404,
        "not_found",
        None,
    )
    .await;

    // Two names equal ignoring case: ambiguous, in a path and in a body, and nothing written.
    let e = refused(
        app.get("/api/v1/services/Api", &admin),
        409,
        "conflict",
        Some("id"),
    )
    .await;
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("ambiguous: 2 services are called \"Api\" ignoring case"),
        "{msg}"
    );
    assert!(msg.contains(&ids[0]) && msg.contains(&ids[1]), "{msg}");
    // In a body or a filter the value is refused, naming the field.
    let before = get(&app, "/api/v1/incidents").await;
    let e = refused(
        app.post(
            "/api/v1/incidents",
            &admin,
            &json!({"title": "x", "severity": "SEV3", "service_id": "Api"}),
        ),
        400,
        "invalid_field",
        Some("service_id"),
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("service_id: ambiguous: 2 services"),
        "{e}"
    );
    assert_eq!(get(&app, "/api/v1/incidents").await, before);
    refused(
        app.get("/api/v1/incidents?service_id=Api", &admin),
        400,
        "invalid_field",
        Some("service_id"),
    )
    .await;
    refused(
        delete(&app, "/api/v1/services/Api", &admin),
        409,
        "conflict",
        Some("id"),
    )
    .await;
    assert_eq!(
        get(&app, "/api/v1/services").await["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // A name with a NUL is looked for like any other, on both backends.
    refused(
        app.get("/api/v1/services/a%00b", &admin),
        404,
        "not_found",
        None,
    )
    .await;
    app.stop().await;
}

/// The audit log of one subject, named by `subject` (any term, encoded here).
fn audit(app: &TestApp, subject_type: &str, subject: &str) -> reqwest::RequestBuilder {
    app.get(
        &format!(
            "/api/v1/events?subject_type={subject_type}&subject_id={}",
            seg(subject)
        ),
        &app.admin.token,
    )
}

/// The kinds of a subject's events, oldest first.
async fn audit_kinds(app: &TestApp, subject_type: &str, subject: &str) -> Vec<String> {
    ok(audit(app, subject_type, subject), 200).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_log_subjects_by_what_people_call_them(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let incident = declare(&app, "Checkout is down").await;
    let (id, n) = (
        incident["id"].as_str().unwrap(),
        incident["number"].as_i64().unwrap(),
    );
    let by_id = ok(audit(&app, "incident", id), 200).await;
    assert_eq!(by_id["items"][0]["kind"], "incident.declared", "{by_id}");
    for term in [n.to_string(), format!("#{n}")] {
        assert_eq!(
            ok(audit(&app, "incident", &term), 200).await,
            by_id,
            "{term}"
        );
    }
    let ann = member(&app, "ann@example.com", "Ann", "responder").await;
    let kinds = audit_kinds(&app, "user", "Ann@Example.com").await;
    assert_eq!(kinds, audit_kinds(&app, "user", &ann.id).await);
    assert_eq!(kinds.first().map(String::as_str), Some("user.created"));
    ok(
        app.post("/api/v1/services", &admin, &json!({"name": "Payments API"})),
        201,
    )
    .await;
    assert_eq!(
        audit_kinds(&app, "service", "payments api").await,
        ["service.created"]
    );
    ok(
        app.post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "Primary", "levels": [{"delay_minutes": 5,
                    "targets": [{"type": "user", "id": "ann@example.com"}]}]}),
        ),
        201,
    )
    .await;
    assert_eq!(
        audit_kinds(&app, "escalation_policy", "Primary").await,
        ["escalation_policy.created"]
    );

    // A term that names nothing is refused naming the field, as in any other filter; so is
    // one that cannot be one.
    for (subject_type, term, says) in [
        ("incident", "9999", "no incident is numbered 9999"),
        ("incident", "checkout", "is not an incident id or number"),
        ("user", "nobody@example.com", "no user has the e-mail"),
        ("service", "Billing", "no service is called \"Billing\""),
        ("schedule", "Night", "no schedule is called \"Night\""),
    ] {
        let e = refused(
            audit(&app, subject_type, term),
            400,
            "invalid_field",
            Some("subject_id"),
        )
        .await;
        assert!(e["message"].as_str().unwrap().contains(says), "{e}");
    }
    // An id is an id: one that names nothing (a deleted service, say) has no events, not an
    // error; subjects without names go by id as before.
    let none = ok(
        audit(&app, "service", "00000000-0000-7000-8000-000000000000"),
        200,
    )
    .await;
    assert_eq!(none["items"], json!([]));
    assert_eq!(
        audit_kinds(&app, "system", "klaxon").await,
        ["system.bootstrapped"]
    );
    app.stop().await;
}

//! Incident response scenarios through the REST API, on both backends: roles with their
//! history, the commander rule, typed field changes, bad input, notes, pins, the Markdown
//! export, viewers, configured rules, and concurrent changes. Steps in incident_steps/.
use crate::common;
use crate::incident_steps;

use serde_json::{Value, json};

use common::{Backend, TestApp, delete, expect_error, member, ok, patch, put, refused};
use incident_steps::*;

on_both_backends!(
    roles_are_handed_over_and_kept_in_history,
    major_incidents_always_have_a_commander,
    field_changes_are_typed_events,
    bad_input_is_refused_and_writes_nothing,
    notes_are_validated_and_can_be_pinned,
    pins_stay_within_their_incident,
    the_markdown_export_tells_the_story,
    the_export_is_a_download_with_html_neutralised,
    viewers_read_but_cannot_change,
    settings_describe_severities_the_matrix_and_roles,
    configured_rules_change_priorities_and_roles,
    concurrent_changes_are_decided_one_at_a_time,
);

async fn roles_are_handed_over_and_kept_in_history(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let carol = member(&app, "carol@example.com", "Carol", "responder").await;
    let dan = member(&app, "dan@example.com", "Dan", "viewer").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Cache stampede", "severity": "SEV3"}),
    )
    .await;
    let id = id_of(&i);
    assert!(roles(&app, &id, false).await.is_empty());

    later(&app, 1);
    ok(assign(&app, &ada.token, &id, "commander", &ada.id), 201).await;
    let e = last_event(&app, &id, "incident.role_assigned").await;
    assert_eq!(e["data"]["role"], "commander");
    assert_eq!(e["data"]["user_id"], ada.id.as_str());
    assert_eq!(e["data"]["replaces"], Value::Null);
    // A one-person role is handed over: Ada's ends as Bob's begins.
    later(&app, 4);
    let given = ok(assign(&app, &ada.token, &id, "commander", &bob.id), 201).await;
    let e = last_event(&app, &id, "incident.role_assigned").await;
    assert_eq!(e["data"]["replaces"], json!([ada.id]));
    let current = roles(&app, &id, false).await;
    assert_eq!(holders(&current), vec![pair("commander", &bob.id)]);
    // The answer is the new assignment, as listed.
    assert!(given["id"].is_string(), "{given}");
    assert_eq!(given, current[0]);
    assert_eq!(current[0]["name"], "Incident commander");
    assert_eq!(current[0]["assigned_at"], at(5));
    assert_eq!(current[0]["ended_at"], Value::Null);
    let history = roles(&app, &id, true).await;
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["user_id"], ada.id.as_str());
    assert_eq!(history[0]["assigned_at"], at(1));
    assert_eq!(history[0]["ended_at"], at(5));
    assert!(
        history[0]["ended_by"]
            .as_str()
            .unwrap()
            .starts_with("token:")
    );
    assert_eq!(history[1]["user_id"], bob.id.as_str());
    assert_eq!(history[1]["ended_at"], Value::Null);

    // Subject-matter experts can be several; anyone can hold a role, even a viewer.
    later(&app, 1);
    ok(
        assign(&app, &ada.token, &id, "subject_matter_expert", &carol.id),
        201,
    )
    .await;
    ok(
        assign(&app, &ada.token, &id, "subject_matter_expert", &dan.id),
        201,
    )
    .await;
    ok(
        assign(&app, &ada.token, &id, "communications_lead", &ada.id),
        201,
    )
    .await;
    ok(assign(&app, &ada.token, &id, "scribe", &carol.id), 201).await;
    let mut want = vec![
        pair("commander", &bob.id),
        pair("communications_lead", &ada.id),
        pair("scribe", &carol.id),
        pair("subject_matter_expert", &carol.id),
        pair("subject_matter_expert", &dan.id),
    ];
    want.sort();
    assert_eq!(holders(&roles(&app, &id, false).await), want);

    // Refusals write nothing.
    let before = snapshot(&app, &id).await;
    refused(
        assign(&app, &ada.token, &id, "boss", &carol.id),
        400,
        "invalid_field",
        Some("role"),
    )
    .await;
    for user in ["01234567-89ab-7def-8123-456789abcdef", "carol", ""] {
        refused(
            assign(&app, &ada.token, &id, "scribe", user),
            400,
            "invalid_field",
            Some("user_id"),
        )
        .await;
    }
    // The same holder twice is a conflict, for one-person and several-person roles.
    refused(
        assign(&app, &ada.token, &id, "commander", &bob.id),
        409,
        "conflict",
        Some("user_id"),
    )
    .await;
    refused(
        assign(&app, &ada.token, &id, "subject_matter_expert", &dan.id),
        409,
        "conflict",
        Some("user_id"),
    )
    .await;
    refused(
        app.post(
            &format!("/api/v1/incidents/{id}/roles"),
            &ada.token,
            &json!({"role": "scribe"}),
        ),
        400,
        "invalid_field",
        Some("user_id"),
    )
    .await;
    refused(
        app.post(
            &format!("/api/v1/incidents/{id}/roles"),
            &ada.token,
            &json!({"role": "scribe", "user_id": bob.id, "until": "later"}),
        ),
        400,
        "invalid_field",
        Some("until"),
    )
    .await;
    // Ending a role someone does not hold, or a role that does not exist.
    refused(
        unassign(&app, &ada.token, &id, "scribe", &bob.id),
        409,
        "conflict",
        Some("user_id"),
    )
    .await;
    refused(
        unassign(&app, &ada.token, &id, "boss", &bob.id),
        400,
        "invalid_field",
        Some("role"),
    )
    .await;
    refused(
        unassign(&app, &ada.token, &id, "scribe", "carol"),
        400,
        "invalid_field",
        Some("user_id"),
    )
    .await;
    refused(
        assign(
            &app,
            &ada.token,
            "01234567-89ab-7def-8123-456789abcdef",
            "scribe",
            &bob.id,
        ),
        404,
        "not_found",
        None,
    )
    .await;
    unchanged(&app, &id, &before).await;

    // Ending one expert's role leaves the other; the history keeps both.
    later(&app, 3);
    ok(
        unassign(&app, &ada.token, &id, "subject_matter_expert", &carol.id),
        200,
    )
    .await;
    let e = last_event(&app, &id, "incident.role_unassigned").await;
    assert_eq!(
        e["data"],
        json!({"role": "subject_matter_expert", "user_id": carol.id})
    );
    let current = holders(&roles(&app, &id, false).await);
    assert!(current.contains(&pair("subject_matter_expert", &dan.id)));
    assert!(!current.contains(&pair("subject_matter_expert", &carol.id)));
    let ended: Vec<Value> = roles(&app, &id, true)
        .await
        .into_iter()
        .filter(|r| r["role"] == "subject_matter_expert" && r["user_id"] == carol.id.as_str())
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["ended_at"], at(9));
    // Carol can come back; a SEV3's commander may step down.
    ok(
        assign(&app, &ada.token, &id, "subject_matter_expert", &carol.id),
        201,
    )
    .await;
    ok(unassign(&app, &ada.token, &id, "commander", &bob.id), 200).await;
    assert!(
        !holders(&roles(&app, &id, false).await)
            .iter()
            .any(|(r, _)| r == "commander")
    );
    assert_eq!(roles(&app, &id, true).await.len(), 7);

    // Closed, the roles are final.
    moved(&app, &ada.token, &id, "resolved").await;
    moved(&app, &ada.token, &id, "closed").await;
    let before = snapshot(&app, &id).await;
    refused(
        assign(&app, &ada.token, &id, "commander", &bob.id),
        409,
        "conflict",
        Some("status"),
    )
    .await;
    refused(
        unassign(&app, &ada.token, &id, "scribe", &carol.id),
        409,
        "conflict",
        Some("status"),
    )
    .await;
    unchanged(&app, &id, &before).await;
    app.stop().await;
}

async fn major_incidents_always_have_a_commander(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let carol = member(&app, "carol@example.com", "Carol", "responder").await;
    let (checkout, _) = service(&app, "checkout", &[&ada]).await;

    // A SEV1 that pages has no commander until someone acknowledges it: Bob, automatically.
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Everything is down", "severity": "SEV1", "service_id": checkout}),
    )
    .await;
    let id = id_of(&i);
    assert_eq!(i["status"], "triggered");
    assert!(roles(&app, &id, false).await.is_empty());
    later(&app, 2);
    moved(&app, &bob.token, &id, "acknowledged").await;
    assert_eq!(
        holders(&roles(&app, &id, false).await),
        vec![pair("commander", &bob.id)]
    );
    let e = last_event(&app, &id, "incident.role_assigned").await;
    assert_eq!(e["data"]["automatic"], true, "{e}");
    assert_eq!(e["data"]["user_id"], bob.id.as_str());
    assert_eq!(e["at"], at(2));
    let kinds = incident_kinds(&app, &id).await;
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["incident.acknowledged", "incident.role_assigned"]
    );
    // The commander of an acknowledged SEV1 cannot just step down.
    let before = snapshot(&app, &id).await;
    refused(
        unassign(&app, &bob.token, &id, "commander", &bob.id),
        409,
        "conflict",
        Some("role"),
    )
    .await;
    unchanged(&app, &id, &before).await;
    // Nor once mitigated; handing command over is fine.
    moved(&app, &bob.token, &id, "mitigated").await;
    refused(
        unassign(&app, &bob.token, &id, "commander", &bob.id),
        409,
        "conflict",
        Some("role"),
    )
    .await;
    ok(assign(&app, &bob.token, &id, "commander", &carol.id), 201).await;
    assert_eq!(
        holders(&roles(&app, &id, false).await),
        vec![pair("commander", &carol.id)]
    );
    // Resolved, it no longer needs one. (Back to acknowledged first: reopening an incident
    // resolved straight from mitigated is refused today, because the domain's stamp_move
    // keeps mitigated_at when reopening; reported, not fixed here.)
    moved(&app, &carol.token, &id, "acknowledged").await;
    moved(&app, &carol.token, &id, "resolved").await;
    ok(
        unassign(&app, &carol.token, &id, "commander", &carol.id),
        200,
    )
    .await;
    // Reopened without a commander, the one reopening it takes command.
    moved(&app, &bob.token, &id, "acknowledged").await;
    assert_eq!(
        holders(&roles(&app, &id, false).await),
        vec![pair("commander", &bob.id)]
    );

    // The acknowledge shortcut follows the same rule.
    let j = declare(
        &app,
        &ada.token,
        json!({"title": "Payments down", "severity": "SEV2", "service_id": checkout}),
    )
    .await;
    let r = app
        .post(
            &format!("/api/v1/incidents/{}/acknowledge", id_of(&j)),
            &carol.token,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        holders(&roles(&app, &id_of(&j), false).await),
        vec![pair("commander", &carol.id)]
    );
    // A commander named on declaring stays when someone else acknowledges.
    let k = declare(
        &app,
        &ada.token,
        json!({"title": "API down", "severity": "SEV1", "service_id": checkout,
               "commander_id": carol.id}),
    )
    .await;
    moved(&app, &bob.token, &id_of(&k), "acknowledged").await;
    assert_eq!(
        holders(&roles(&app, &id_of(&k), false).await),
        vec![pair("commander", &carol.id)]
    );
    assert!(
        timeline(&app, &id_of(&k))
            .await
            .iter()
            .all(|e| e["data"]["automatic"] != true)
    );

    // Raising an acknowledged SEV3 to SEV1 makes the one raising it commander.
    let m = declare(
        &app,
        &ada.token,
        json!({"title": "Disk filling", "severity": "SEV3"}),
    )
    .await;
    let mid = id_of(&m);
    assert_eq!(m["status"], "acknowledged");
    assert!(roles(&app, &mid, false).await.is_empty());
    let raised = ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{mid}"),
            &bob.token,
            &json!({"severity": "SEV1"}),
        ),
        200,
    )
    .await;
    assert_eq!(raised["severity"], "SEV1");
    assert_eq!(
        holders(&roles(&app, &mid, false).await),
        vec![pair("commander", &bob.id)]
    );
    let e = last_event(&app, &mid, "incident.role_assigned").await;
    assert_eq!(e["data"]["automatic"], true, "{e}");
    let e = last_event(&app, &mid, "incident.severity_changed").await;
    assert_eq!(e["data"], json!({"from": "SEV3", "to": "SEV1"}));
    let md = markdown(&app, &mid, "", &ada.token).await;
    assert!(
        md.contains("Bob: changed the severity from SEV3 to SEV1"),
        "{md}"
    );
    assert!(
        md.contains("Bob: became incident commander, automatically: a SEV1 or SEV2 under way needs a commander"),
        "{md}"
    );
    // A resolved one raised to SEV1 needs nobody.
    let n = declare(
        &app,
        &ada.token,
        json!({"title": "Old news", "severity": "SEV4"}),
    )
    .await;
    moved(&app, &ada.token, &id_of(&n), "resolved").await;
    ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{}", id_of(&n)),
            &bob.token,
            &json!({"severity": "SEV2"}),
        ),
        200,
    )
    .await;
    assert!(roles(&app, &id_of(&n), false).await.is_empty());
    app.stop().await;
}

// --- fields -------------------------------------------------------------------------------------

async fn field_changes_are_typed_events(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "DNS flaky", "severity": "SEV3", "category": "network",
               "subcategory": "dns"}),
    )
    .await;
    let id = id_of(&i);
    let path = format!("/api/v1/incidents/{id}");
    assert_eq!(i["priority"], "P3");

    later(&app, 1);
    let u = ok(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"title": "DNS down", "impact": "high", "urgency": "high",
                    "description": "resolvers time out"}),
        ),
        200,
    )
    .await;
    assert_eq!(u["title"], "DNS down");
    assert_eq!(u["description"], "resolvers time out");
    assert_eq!(
        (&u["impact"], &u["urgency"]),
        (&json!("high"), &json!("high"))
    );
    assert_eq!(u["priority"], "P1");
    assert_eq!(u["severity"], "SEV3", "severity is its own choice");
    let e = last_event(&app, &id, "incident.updated").await;
    assert_eq!(e["at"], at(1));
    assert_eq!(
        e["data"]["changes"],
        json!({
            "title": {"from": "DNS flaky", "to": "DNS down"},
            "description": {"from": "", "to": "resolvers time out"},
            "impact": {"from": "medium", "to": "high"},
            "urgency": {"from": "medium", "to": "high"},
            "priority": {"from": "P3", "to": "P1"},
        })
    );
    assert!(
        !incident_kinds(&app, &id)
            .await
            .contains(&"incident.severity_changed".to_owned())
    );

    // Severity alone: its own event, no `incident.updated`.
    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    let u = ok(
        patch(&app, &path, &ada.token, &json!({"severity": "sev4"})),
        200,
    )
    .await;
    assert_eq!(u["severity"], "SEV4");
    assert_eq!(u["priority"], "P1", "priority follows impact and urgency");
    let events = timeline(&app, &id).await;
    assert_eq!(events.len(), n + 1);
    assert_eq!(events[n]["kind"], "incident.severity_changed");
    assert_eq!(events[n]["data"], json!({"from": "SEV3", "to": "SEV4"}));
    assert_eq!(events[n]["at"], at(2));

    // Clearing labels, changing the reporter; unchanged values are not listed.
    let u = ok(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"category": null, "subcategory": "", "reporter_id": bob.id,
                    "title": "DNS down"}),
        ),
        200,
    )
    .await;
    assert_eq!(u["category"], Value::Null);
    assert_eq!(u["subcategory"], Value::Null);
    assert_eq!(u["reporter_id"], bob.id.as_str());
    let e = last_event(&app, &id, "incident.updated").await;
    assert_eq!(
        e["data"]["changes"],
        json!({
            "category": {"from": "network", "to": null},
            "subcategory": {"from": "dns", "to": null},
            "reporter_id": {"from": ada.id, "to": bob.id},
        })
    );
    // Nothing new: no event at all.
    let n = timeline(&app, &id).await.len();
    let same = ok(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"title": "DNS down", "severity": "SEV4"}),
        ),
        200,
    )
    .await;
    assert_eq!(same, u);
    assert_eq!(timeline(&app, &id).await.len(), n);
    app.stop().await;
}

async fn bad_input_is_refused_and_writes_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Queue stuck", "severity": "SEV3"}),
    )
    .await;
    let id = id_of(&i);
    let path = format!("/api/v1/incidents/{id}");
    let incidents_before = ok(app.get("/api/v1/incidents", &app.admin.token), 200).await;
    let before = snapshot(&app, &id).await;

    // Declaring.
    for (body, field) in [
        (json!({"title": "x", "severity": "SEV9"}), "severity"),
        (json!({"title": "x", "severity": ""}), "severity"),
        (json!({"title": "x", "severity": 1}), "severity"),
        (json!({"title": "x"}), "severity"),
        (json!({"severity": "SEV3"}), "title"),
        (json!({"title": "   ", "severity": "SEV3"}), "title"),
        (
            json!({"title": "x".repeat(201), "severity": "SEV3"}),
            "title",
        ),
        (json!({"title": "a\nb", "severity": "SEV3"}), "title"),
        (
            json!({"title": "x", "severity": "SEV3", "impact": "huge"}),
            "impact",
        ),
        (
            json!({"title": "x", "severity": "SEV3", "urgency": "now"}),
            "urgency",
        ),
        (
            json!({"title": "x", "severity": "SEV3", "urgency": true}),
            "urgency",
        ),
        (
            json!({"title": "x", "severity": "SEV3", "priority": "P1"}),
            "priority",
        ),
        (
            json!({"title": "x", "severity": "SEV3", "reporter_id": "01234567-89ab-7def-8123-456789abcdef"}),
            "reporter_id",
        ),
        (
            json!({"title": "x", "severity": "SEV3", "commander_id": "nobody"}),
            "commander_id",
        ),
        (
            json!({"title": "x", "severity": "SEV3", "detected_at": at(5)}),
            "detected_at",
        ),
        (
            json!({"title": "x", "severity": "SEV3", "detected_at": "soon"}),
            "detected_at",
        ),
        (
            json!({"title": "x", "severity": "SEV3", "category": "c".repeat(81)}),
            "category",
        ),
        (
            json!({"title": "x", "severity": "SEV3", "description": "d".repeat(20_001)}),
            "description",
        ),
    ] {
        let r = app
            .post("/api/v1/incidents", &ada.token, &body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{field}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "invalid_field", "{e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    // Impact started after detection, both given.
    let r = app
        .post(
            "/api/v1/incidents",
            &ada.token,
            &json!({"title": "x", "severity": "SEV3", "impact_started_at": at(-5),
                    "detected_at": at(-10)}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Not JSON at all.
    let r = app
        .http
        .post(format!("{}/api/v1/incidents", app.url))
        .bearer_auth(&ada.token)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_json", None).await;
    let r = app
        .http
        .post(format!("{}/api/v1/incidents", app.url))
        .bearer_auth(&ada.token)
        .body("title=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let after = ok(app.get("/api/v1/incidents", &app.admin.token), 200).await;
    assert_eq!(after, incidents_before, "nothing was declared");

    // Changing fields.
    for (body, field) in [
        (json!({"severity": "SEV9"}), "severity"),
        (json!({"severity": 2}), "severity"),
        (json!({"impact": "enormous"}), "impact"),
        (json!({"urgency": "whenever"}), "urgency"),
        (json!({"title": ""}), "title"),
        (json!({"title": ["a"]}), "title"),
        (
            json!({"reporter_id": "01234567-89ab-7def-8123-456789abcdef"}),
            "reporter_id",
        ),
        (json!({"reporter_id": "someone"}), "reporter_id"),
        (json!({"status": "resolved"}), "status"),
        (json!({"priority": "P1"}), "priority"),
        (json!({"service_id": null}), "service_id"),
    ] {
        let r = patch(&app, &path, &ada.token, &body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "invalid_field", "{e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    // A bad field among good ones: nothing of the good ones is written.
    refused(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"title": "Queue unstuck", "severity": "SEV9"}),
        ),
        400,
        "invalid_field",
        Some("severity"),
    )
    .await;
    refused(
        patch(
            &app,
            "/api/v1/incidents/01234567-89ab-7def-8123-456789abcdef",
            &ada.token,
            &json!({"title": "x"}),
        ),
        404,
        "not_found",
        None,
    )
    .await;
    unchanged(&app, &id, &before).await;
    app.stop().await;
}

// --- notes, pins and the export -----------------------------------------------------------------

async fn notes_are_validated_and_can_be_pinned(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Cart empties", "severity": "SEV3"}),
    )
    .await;
    let id = id_of(&i);
    let before = snapshot(&app, &id).await;
    for body in [
        json!({"text": ""}),
        json!({"text": "  \n\t "}),
        json!({"text": "x".repeat(20_001)}),
        json!({"text": 42}),
        json!({}),
    ] {
        let r = note(&app, &ada.token, &id, &body).send().await.unwrap();
        let e = expect_error(r, 400, "invalid_field", Some("text")).await;
        assert!(e["message"].as_str().unwrap().starts_with("text"), "{e}");
    }
    refused(
        note(
            &app,
            &ada.token,
            &id,
            &json!({"text": "hi", "pinned": true, "color": "red"}),
        ),
        400,
        "invalid_field",
        Some("color"),
    )
    .await;
    refused(
        note(
            &app,
            &ada.token,
            "01234567-89ab-7def-8123-456789abcdef",
            &json!({"text": "hi"}),
        ),
        404,
        "not_found",
        None,
    )
    .await;
    unchanged(&app, &id, &before).await;

    // 20,000 characters is fine; multi-byte characters count once.
    let long = "é".repeat(20_000);
    let n = ok(note(&app, &ada.token, &id, &json!({"text": long})), 201).await;
    assert_eq!(n["data"]["text"].as_str().unwrap().chars().count(), 20_000);

    later(&app, 2);
    let first = ok(
        note(
            &app,
            &ada.token,
            &id,
            &json!({"text": "Rolled back deploy 42"}),
        ),
        201,
    )
    .await;
    assert_eq!(first["kind"], "incident.note_added");
    assert_eq!(first["data"]["text"], "Rolled back deploy 42");
    assert_eq!(first["pinned"], false);
    assert_eq!(first["at"], at(2));
    assert_eq!(first["subject_id"], id.as_str());
    // Every event carries an id: its seq.
    assert!(first["seq"].is_i64(), "{first}");
    assert_eq!(first["id"], first["seq"]);
    let pinned = ok(
        note(
            &app,
            &ada.token,
            &id,
            &json!({"text": "Customers see empty carts", "pinned": true}),
        ),
        201,
    )
    .await;
    assert_eq!(pinned["pinned"], true);
    // The timeline agrees, and says who pinned what.
    let events = timeline(&app, &id).await;
    let find = |seq: &Value| events.iter().find(|e| e["seq"] == *seq).unwrap().clone();
    assert_eq!(find(&pinned["seq"])["pinned"], true);
    assert_eq!(find(&first["seq"])["pinned"], false);
    let e = events.last().unwrap();
    assert_eq!(e["kind"], "incident.event_pinned");
    assert_eq!(e["data"]["seq"], pinned["seq"]);

    // Pin and unpin by sequence number.
    let pin_path = format!("/api/v1/incidents/{id}/timeline/{}/pin", first["seq"]);
    ok(put(&app, &pin_path, &ada.token), 204).await;
    let events = timeline(&app, &id).await;
    assert_eq!(
        events.iter().find(|e| e["seq"] == first["seq"]).unwrap()["pinned"],
        true
    );
    ok(delete(&app, &pin_path, &ada.token), 204).await;
    let events = timeline(&app, &id).await;
    assert_eq!(
        events.iter().find(|e| e["seq"] == first["seq"]).unwrap()["pinned"],
        false
    );
    assert_eq!(events.last().unwrap()["kind"], "incident.event_unpinned");
    assert_eq!(events.last().unwrap()["data"]["seq"], first["seq"]);
    let pins: Vec<&str> = events
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| k.ends_with("pinned"))
        .collect();
    assert_eq!(
        pins,
        vec![
            "incident.event_pinned",
            "incident.event_pinned",
            "incident.event_unpinned"
        ]
    );
    // Any event of the incident can be pinned, not just notes.
    let declared_seq = &events[0]["seq"];
    ok(
        put(
            &app,
            &format!("/api/v1/incidents/{id}/timeline/{declared_seq}/pin"),
            &ada.token,
        ),
        204,
    )
    .await;
    assert_eq!(timeline(&app, &id).await[0]["pinned"], true);
    app.stop().await;
}

async fn pins_stay_within_their_incident(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let one = id_of(
        &declare(
            &app,
            &ada.token,
            json!({"title": "One", "severity": "SEV3"}),
        )
        .await,
    );
    let two = id_of(
        &declare(
            &app,
            &ada.token,
            json!({"title": "Two", "severity": "SEV3"}),
        )
        .await,
    );
    let theirs = ok(note(&app, &ada.token, &two, &json!({"text": "two's"})), 201).await;
    let before_one = snapshot(&app, &one).await;
    let before_two = snapshot(&app, &two).await;
    let seq = &theirs["seq"];
    refused(
        put(
            &app,
            &format!("/api/v1/incidents/{one}/timeline/{seq}/pin"),
            &ada.token,
        ),
        404,
        "not_found",
        None,
    )
    .await;
    refused(
        delete(
            &app,
            &format!("/api/v1/incidents/{one}/timeline/{seq}/pin"),
            &ada.token,
        ),
        404,
        "not_found",
        None,
    )
    .await;
    for bad in ["999999", "0", "-1"] {
        refused(
            put(
                &app,
                &format!("/api/v1/incidents/{one}/timeline/{bad}/pin"),
                &ada.token,
            ),
            404,
            "not_found",
            None,
        )
        .await;
    }
    refused(
        put(
            &app,
            &format!("/api/v1/incidents/{one}/timeline/first/pin"),
            &ada.token,
        ),
        400,
        "invalid_field",
        Some("seq"),
    )
    .await;
    // An event that is not an incident's (Ada's user being created) neither.
    let hers = ok(
        app.get(
            &format!("/api/v1/events?subject_type=user&subject_id={}", ada.id),
            &app.admin.token,
        ),
        200,
    )
    .await;
    let hers = &hers["items"][0]["seq"];
    assert!(hers.is_i64(), "{hers}");
    refused(
        put(
            &app,
            &format!("/api/v1/incidents/{one}/timeline/{hers}/pin"),
            &ada.token,
        ),
        404,
        "not_found",
        None,
    )
    .await;
    unchanged(&app, &one, &before_one).await;
    unchanged(&app, &two, &before_two).await;
    app.stop().await;
}

async fn the_markdown_export_tells_the_story(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada Lovelace", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob Babbage", "responder").await;
    let viewer = member(&app, "vic@example.com", "Vic Viewer", "viewer").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Checkout latency", "severity": "SEV2", "category": "Performance",
               "subcategory": "latency", "description": "p99 over 4 seconds",
               "impact_started_at": at(-15)}),
    )
    .await;
    let id = id_of(&i);
    let number = i["number"].as_i64().unwrap();
    later(&app, 5);
    ok(assign(&app, &ada.token, &id, "scribe", &bob.id), 201).await;
    later(&app, 5);
    ok(
        note(
            &app,
            &bob.token,
            &id,
            &json!({"text": "Rolled back deploy 42\nwatching p99", "pinned": true}),
        ),
        201,
    )
    .await;
    later(&app, 5);
    moved(&app, &ada.token, &id, "mitigated").await;
    later(&app, 5);
    ok(
        note(
            &app,
            &ada.token,
            &id,
            &json!({"text": "Latency is back to normal"}),
        ),
        201,
    )
    .await;

    let md = markdown(&app, &id, "", &viewer.token).await;
    assert!(
        md.starts_with(&format!("# Incident #{number}: Checkout latency\n")),
        "{md}"
    );
    for want in [
        "| Status | mitigated |",
        "| Severity | SEV2 |",
        "| Priority | P2 |",
        "| Impact / urgency | high / medium |",
        "| Category | Performance / latency |",
        "| Reporter | Ada Lovelace |",
        "p99 over 4 seconds",
        "## Milestones",
        "- Impact started: 2026-11-21 08:45:00 UTC",
        "- Detected: 2026-11-21 09:00:00 UTC",
        "- Declared: 2026-11-21 09:00:00 UTC",
        "- Acknowledged: 2026-11-21 09:00:00 UTC",
        "- Mitigated: 2026-11-21 09:15:00 UTC",
        "## Roles",
        "- Incident commander: Ada Lovelace (2026-11-21 09:00:00 UTC – now)",
        "- Scribe: Bob Babbage (2026-11-21 09:05:00 UTC – now)",
        "## Timeline",
        // Each entry names who did it, through the API too (the token's owner).
        "** Ada Lovelace: declared the incident “Checkout latency” as SEV2 (P2)",
        "** Ada Lovelace: made Bob Babbage scribe",
        "**2026-11-21 09:10:00 UTC** Bob Babbage: Rolled back deploy 42\n  watching p99 📌",
        "** Ada Lovelace: marked the incident mitigated",
        "Latency is back to normal",
    ] {
        assert!(md.contains(want), "{want:?} missing from:\n{md}");
    }
    assert!(!md.contains("Resolved:"), "{md}");
    assert!(!md.contains("an API token"), "{md}");
    // The milestones keep their order.
    let pos = |s: &str| md.find(s).unwrap();
    assert!(pos("- Impact started") < pos("- Detected"));
    assert!(pos("- Detected") < pos("- Declared"));
    assert!(pos("- Acknowledged") < pos("- Mitigated"));
    assert!(pos("## Milestones") < pos("## Roles"));
    assert!(pos("## Roles") < pos("## Timeline"));
    assert!(pos("Rolled back deploy 42") < pos("Latency is back to normal"));

    // Only notes: the summary stays, the other entries go.
    let notes = markdown(&app, &id, "?kind=incident.note_added", &viewer.token).await;
    assert!(notes.contains("# Incident #"), "{notes}");
    assert!(notes.contains("## Roles"), "{notes}");
    assert!(notes.contains("Rolled back deploy 42"), "{notes}");
    assert!(notes.contains("Latency is back to normal"), "{notes}");
    assert!(!notes.contains("declared the incident"), "{notes}");
    assert!(!notes.contains("marked the incident mitigated"), "{notes}");
    let timeline_part = |md: &str| md.split("## Timeline").nth(1).unwrap().to_owned();
    assert_eq!(timeline_part(&notes).matches("\n- ").count(), 2, "{notes}");
    // Several kinds, a prefix, and pinned only.
    let some = markdown(
        &app,
        &id,
        "?kind=incident.note_added,incident.mitigated",
        &viewer.token,
    )
    .await;
    assert_eq!(timeline_part(&some).matches("\n- ").count(), 3, "{some}");
    let prefixed = markdown(&app, &id, "?kind=incident.", &viewer.token).await;
    assert!(prefixed.contains("declared the incident"), "{prefixed}");
    let pinned = markdown(&app, &id, "?pinned=true", &viewer.token).await;
    assert_eq!(
        timeline_part(&pinned).matches("\n- ").count(),
        1,
        "{pinned}"
    );
    assert!(pinned.contains("Rolled back deploy 42"), "{pinned}");

    // Unknown kinds and parameters are refused.
    for (query, field) in [
        ("?kind=incident.exploded", Some("kind")),
        ("?kind=nonsense.", Some("kind")),
    ] {
        refused(
            app.get(
                &format!("/api/v1/incidents/{id}/timeline.md{query}"),
                &viewer.token,
            ),
            400,
            "invalid_field",
            field,
        )
        .await;
    }
    let r = app
        .get(
            &format!("/api/v1/incidents/{id}/timeline.md?format=html"),
            &viewer.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    refused(
        app.get(
            "/api/v1/incidents/01234567-89ab-7def-8123-456789abcdef/timeline.md",
            &viewer.token,
        ),
        404,
        "not_found",
        None,
    )
    .await;

    // After a handover the export shows when each held the role.
    later(&app, 5);
    ok(assign(&app, &ada.token, &id, "commander", &bob.id), 201).await;
    let md = markdown(&app, &id, "", &viewer.token).await;
    for want in [
        "- Incident commander: Ada Lovelace (2026-11-21 09:00:00 UTC – 2026-11-21 09:25:00 UTC)",
        "- Incident commander: Bob Babbage (2026-11-21 09:25:00 UTC – now)",
        "made Bob Babbage incident commander",
    ] {
        assert!(md.contains(want), "{want:?} missing from:\n{md}");
    }
    app.stop().await;
}

// --- access and settings ------------------------------------------------------------------------

async fn viewers_read_but_cannot_change(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let vic = member(&app, "vic@example.com", "Vic", "viewer").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Viewer test", "severity": "SEV3"}),
    )
    .await;
    let id = id_of(&i);
    let n = ok(note(&app, &ada.token, &id, &json!({"text": "hi"})), 201).await;
    let seq = &n["seq"];
    let before = snapshot(&app, &id).await;
    let v = &vic.token;
    for req in [
        app.post(
            "/api/v1/incidents",
            v,
            &json!({"title": "x", "severity": "SEV3"}),
        ),
        patch(
            &app,
            &format!("/api/v1/incidents/{id}"),
            v,
            &json!({"title": "y"}),
        ),
        move_to(&app, v, &id, "resolved"),
        milestones(&app, v, &id, &json!({"detected_at": at(0)})),
        assign(&app, v, &id, "scribe", &vic.id),
        unassign(&app, v, &id, "commander", &ada.id),
        note(&app, v, &id, &json!({"text": "from a viewer"})),
        put(
            &app,
            &format!("/api/v1/incidents/{id}/timeline/{seq}/pin"),
            v,
        ),
        delete(
            &app,
            &format!("/api/v1/incidents/{id}/timeline/{seq}/pin"),
            v,
        ),
    ] {
        refused(req, 403, "forbidden", None).await;
    }
    unchanged(&app, &id, &before).await;
    // Reading is fine.
    ok(app.get(&format!("/api/v1/incidents/{id}/roles"), v), 200).await;
    ok(
        app.get(&format!("/api/v1/incidents/{id}/roles?history=true"), v),
        200,
    )
    .await;
    markdown(&app, &id, "", v).await;
    ok(app.get("/api/v1/incident-settings", v), 200).await;
    // And nobody without a token.
    let r = app
        .http
        .get(format!("{}/api/v1/incident-settings", app.url))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "unauthorized", None).await;
    refused(
        app.get(&format!("/api/v1/incidents/{id}/roles?history=maybe"), v),
        400,
        "invalid_query",
        Some("history"),
    )
    .await;
    app.stop().await;
}

async fn settings_describe_severities_the_matrix_and_roles(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let s = ok(app.get("/api/v1/incident-settings", &app.admin.token), 200).await;
    let sevs: Vec<&str> = s["severities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["severity"].as_str().unwrap())
        .collect();
    assert_eq!(sevs, ["SEV1", "SEV2", "SEV3", "SEV4"]);
    assert!(
        s["severities"][0]["definition"]
            .as_str()
            .unwrap()
            .starts_with("Critical")
    );
    assert_eq!(
        s["priority_matrix"],
        json!([["P1", "P2", "P3"], ["P2", "P3", "P4"], ["P3", "P4", "P5"]])
    );
    let roles: Vec<(&str, bool)> = s["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["multiple"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("commander", false),
            ("communications_lead", false),
            ("scribe", false),
            ("subject_matter_expert", true),
        ]
    );
    app.stop().await;
}

async fn configured_rules_change_priorities_and_roles(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |s| {
        s.incidents
            .severities
            .insert("SEV1".into(), "All hands on deck".into());
        s.incidents.priority_matrix.high = vec!["P1".into(), "P1".into(), "P2".into()];
        s.incidents.roles.push(klaxon_domain::incident::RoleDef {
            key: "security_lead".into(),
            name: "Security lead".into(),
            description: "Owns the security side.".into(),
            multiple: false,
        });
    })
    .await
    else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let s = ok(app.get("/api/v1/incident-settings", &ada.token), 200).await;
    assert_eq!(s["severities"][0]["definition"], "All hands on deck");
    assert_eq!(s["priority_matrix"][0], json!(["P1", "P1", "P2"]));
    assert_eq!(s["roles"][4]["key"], "security_lead");

    // SEV2 is high impact, medium urgency: P1 by this matrix.
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Leaked key", "severity": "SEV2"}),
    )
    .await;
    assert_eq!(i["priority"], "P1");
    let id = id_of(&i);
    ok(assign(&app, &ada.token, &id, "security_lead", &ada.id), 201).await;
    ok(assign(&app, &ada.token, &id, "security_lead", &bob.id), 201).await;
    let current = roles(&app, &id, false).await;
    let lead: Vec<&Value> = current
        .iter()
        .filter(|r| r["role"] == "security_lead")
        .collect();
    assert_eq!(lead.len(), 1, "a one-person custom role is handed over");
    assert_eq!(lead[0]["user_id"], bob.id.as_str());
    assert_eq!(lead[0]["name"], "Security lead");
    let md = markdown(&app, &id, "", &ada.token).await;
    assert!(md.contains("- Security lead: Bob"), "{md}");
    app.stop().await;
}

// --- concurrency --------------------------------------------------------------------------------

/// Sends `n` requests at once; their statuses, in no particular order.
async fn at_once(reqs: Vec<reqwest::RequestBuilder>) -> Vec<u16> {
    let tasks: Vec<_> = reqs
        .into_iter()
        .map(|r| tokio::spawn(async move { r.send().await.unwrap().status().as_u16() }))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out.sort();
    out
}

async fn concurrent_changes_are_decided_one_at_a_time(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let mut people = Vec::new();
    for n in 0..6 {
        people.push(
            member(
                &app,
                &format!("p{n}@example.com"),
                &format!("P{n}"),
                "responder",
            )
            .await,
        );
    }
    let (checkout, _) = service(&app, "checkout", &[&people[0]]).await;

    // Six people acknowledge a SEV1 at once: one does, and becomes its only commander.
    let i = declare(
        &app,
        &people[0].token,
        json!({"title": "Outage", "severity": "SEV1", "service_id": checkout}),
    )
    .await;
    let id = id_of(&i);
    let statuses = at_once(
        people
            .iter()
            .map(|p| move_to(&app, &p.token, &id, "acknowledged"))
            .collect(),
    )
    .await;
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409]);
    let commanders = holders(&roles(&app, &id, true).await);
    assert_eq!(commanders.len(), 1, "{commanders:?}");
    let kinds = incident_kinds(&app, &id).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "incident.acknowledged")
            .count(),
        1
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "incident.role_assigned")
            .count(),
        1
    );

    // Everyone is made commander at once: each hands over from the one before, so exactly
    // one holds it in the end and everyone else's turn has ended.
    let statuses = at_once(
        people
            .iter()
            .map(|p| assign(&app, &people[0].token, &id, "commander", &p.id))
            .collect(),
    )
    .await;
    // The one already commander gets a conflict, unless someone took over before.
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let current = roles(&app, &id, false).await;
    assert_eq!(current.len(), 1, "{current:?}");
    let history = roles(&app, &id, true).await;
    let open = history.iter().filter(|r| r["ended_at"].is_null()).count();
    assert_eq!(open, 1, "{history:?}");
    let granted = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(history.len(), 1 + granted);

    // Resolving and closing at once: one each.
    let statuses = at_once(
        people
            .iter()
            .map(|p| move_to(&app, &p.token, &id, "resolved"))
            .collect(),
    )
    .await;
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409]);
    let statuses = at_once(
        (0..4)
            .map(|_| move_to(&app, &people[0].token, &id, "closed"))
            .collect(),
    )
    .await;
    assert_eq!(statuses, [200, 409, 409, 409]);
    let kinds = incident_kinds(&app, &id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "incident.resolved").count(),
        1
    );
    assert_eq!(kinds.iter().filter(|k| *k == "incident.closed").count(), 1);
    app.stop().await;
}

/// The Markdown export carries text from people and alert sources: it is a download that no
/// browser renders or sniffs, and no HTML tag in it can open. JSON answers are never sniffed
/// either.
async fn the_export_is_a_download_with_html_neutralised(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let token = app.admin.token.clone();
    let i = declare(
        &app,
        &token,
        json!({"title": "<script>alert(1)</script>", "severity": "SEV3"}),
    )
    .await;
    assert_eq!(
        i["title"], "<script>alert(1)</script>",
        "stored as typed; only the export is neutralised"
    );
    let id = id_of(&i);
    ok(
        note(
            &app,
            &token,
            &id,
            &json!({"text": "<img src=x onerror=alert(1)>"}),
        ),
        201,
    )
    .await;
    let (cookie, _) = common::session_for(&app, &app.admin.email, &app.admin.password).await;
    let api = app
        .get(&format!("/api/v1/incidents/{id}/timeline.md"), &token)
        .send()
        .await
        .unwrap();
    let web = app
        .http
        .get(format!("{}/incidents/{id}/timeline.md", app.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    for r in [api, web] {
        assert_eq!(r.status(), 200);
        let h = r.headers().clone();
        assert_eq!(h["content-type"], "text/markdown; charset=utf-8");
        assert!(
            h["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment;"),
            "{h:?}"
        );
        assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let md = r.text().await.unwrap();
        assert!(!md.contains("<script") && !md.contains("<img"), "{md}");
        assert!(md.contains("&lt;script>alert(1)&lt;/script>"), "{md}");
        assert!(md.contains("&lt;img src=x onerror=alert(1)>"), "{md}");
    }
    let r = app.get("/api/v1/me", &token).send().await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    app.stop().await;
}

//! Postmortems through the REST API, on both backends: the life cycle from draft to published,
//! the facts filled in from the incident (current until published, then frozen), the timeline
//! selection that leaves the incident's events untouched, and what is refused: a postmortem for
//! an open incident (409), publishing without an approval (403, naming the rule), and the admin
//! who publishes with a reason. The clock is the test's.
use crate::common;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use common::{Backend, PASSWORD, TestApp, member, ok, patch, refused, session_for, web_get_as};

on_both_backends!(
    a_postmortem_goes_from_draft_through_review_to_published,
    the_timeline_selection_leaves_the_incidents_events_untouched,
    an_admin_publishes_without_review_only_with_a_reason,
    the_pages_write_review_and_publish_a_postmortem,
);

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn declare(app: &TestApp, token: &str, title: &str, severity: &str) -> String {
    let i = ok(
        app.post(
            "/api/v1/incidents",
            token,
            &json!({"title": title, "severity": severity}),
        ),
        201,
    )
    .await;
    id_of(&i)
}

async fn resolve(app: &TestApp, id: &str) {
    ok(
        app.post(
            &format!("/api/v1/incidents/{id}/resolve"),
            &app.admin.token,
            &json!({}),
        ),
        200,
    )
    .await;
}

async fn incident_events(app: &TestApp, id: &str) -> Vec<Value> {
    let t = ok(
        app.get(
            &format!("/api/v1/incidents/{id}/timeline?limit=500"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    t["items"].as_array().unwrap().clone()
}

fn pm_path(id: &str, rest: &str) -> String {
    format!("/api/v1/postmortems/{id}{rest}")
}

async fn act(app: &TestApp, token: &str, id: &str, what: &str, status: u16) -> Value {
    ok(app.post(&pm_path(id, what), token, &json!({})), status).await
}

fn section<'a>(pm: &'a Value, key: &str) -> &'a Value {
    pm["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap()
}

fn entry<'a>(pm: &'a Value, kind: &str) -> &'a Value {
    pm["facts"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {}", pm["facts"]["timeline"]))
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn a_postmortem_goes_from_draft_through_review_to_published(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let inc = declare(&app, &ada.token, "Checkout is down", "SEV2").await;

    // Not while the incident is open.
    refused(
        app.post(
            "/api/v1/postmortems",
            &ada.token,
            &json!({"incident_id": inc}),
        ),
        409,
        "conflict",
        Some("incident_id"),
    )
    .await;

    // What the postmortem will be filled in with: an update, a note, a pin, a role.
    app.clock.advance(SignedDuration::from_mins(5));
    ok(
        app.post(
            &format!("/api/v1/incidents/{inc}/updates"),
            &ada.token,
            &json!({"message": "We are looking into failed checkouts."}),
        ),
        201,
    )
    .await;
    let note = ok(
        app.post(
            &format!("/api/v1/incidents/{inc}/notes"),
            &ada.token,
            &json!({"text": "The cache was flushed by the deploy.", "pinned": true}),
        ),
        201,
    )
    .await;
    let note_seq = note["seq"].as_i64().unwrap();
    ok(
        app.post(
            &format!("/api/v1/incidents/{inc}/roles"),
            &ada.token,
            &json!({"role": "scribe", "user_id": "bob@example.com"}),
        ),
        201,
    )
    .await;
    // Resolved on Saturday 2026-11-21 at 09:30 UTC: a SEV2 is due 5 business days later.
    app.clock.set(ts("2026-11-21T09:30:00Z"));
    resolve(&app, &inc).await;

    app.clock.set(ts("2026-11-21T10:00:00Z"));
    let pm = ok(
        app.post(
            "/api/v1/postmortems",
            &ada.token,
            &json!({"incident_id": inc}),
        ),
        201,
    )
    .await;
    let id = id_of(&pm);
    assert_eq!(pm["state"], "draft");
    assert_eq!(pm["required"], true);
    assert_eq!(pm["owner_id"], ada.id.as_str());
    assert_eq!(pm["due_at"], "2026-11-27T09:30:00Z");
    assert_eq!(pm["sections"].as_array().unwrap().len(), 10);
    assert!(
        !section(&pm, "got_lucky")["help"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    // Filled in from the incident.
    let f = &pm["facts"];
    assert_eq!(f["incident"]["title"], "Checkout is down");
    assert_eq!(f["incident"]["severity"], "SEV2");
    assert_eq!(f["incident"]["status"], "resolved");
    assert_eq!(
        f["incident"]["milestones"]["resolved_at"],
        "2026-11-21T09:30:00Z"
    );
    let roles: Vec<(&str, &str)> = f["responders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["role"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert!(roles.contains(&("commander", "Ada")), "{roles:?}");
    assert!(roles.contains(&("scribe", "Bob")), "{roles:?}");
    assert_eq!(f["updates"].as_array().unwrap().len(), 1);
    assert_eq!(f["updates"][0]["kind"], "incident.update_posted");
    // Pinned and key events are preselected; the rest are not.
    assert_eq!(entry(&pm, "incident.note_added")["included"], true);
    assert_eq!(entry(&pm, "incident.note_added")["seq"], note_seq);
    assert_eq!(entry(&pm, "incident.resolved")["included"], true);
    assert_eq!(entry(&pm, "incident.role_assigned")["included"], true);
    assert_eq!(entry(&pm, "incident.update_posted")["included"], false);
    // One per incident; by number too.
    refused(
        app.post(
            "/api/v1/postmortems",
            &bob.token,
            &json!({"incident_id": inc}),
        ),
        409,
        "conflict",
        Some("incident_id"),
    )
    .await;
    let number = f["incident"]["number"].as_i64().unwrap();
    let by_number = ok(app.get(&pm_path(&number.to_string(), ""), &bob.token), 200).await;
    assert_eq!(by_number["id"], id.as_str());

    // Writing: sections, factors, reviewers; bad input names its field and writes nothing.
    let body = json!({
        "sections": {"summary": "Checkout failed for 30 minutes.", "lessons": "Jitter the TTLs."},
        "factors": [
            {"kind": "trigger", "text": "A deploy flushed the cache."},
            {"kind": "contributing", "text": "Every key had the same TTL."},
            {"kind": "mitigating", "text": "The canary alerted early."}
        ],
        "reviewers": ["bob@example.com"]
    });
    let pm = ok(patch(&app, &pm_path(&id, ""), &ada.token, &body), 200).await;
    assert_eq!(
        section(&pm, "summary")["body"],
        "Checkout failed for 30 minutes."
    );
    assert_eq!(pm["factors"][2]["kind"], "mitigating");
    assert_eq!(pm["reviewers"][0]["user_id"], bob.id.as_str());
    refused(
        patch(
            &app,
            &pm_path(&id, ""),
            &ada.token,
            &json!({"sections": {"blame": "Bob"}}),
        ),
        400,
        "invalid_field",
        Some("sections.blame"),
    )
    .await;
    refused(
        patch(
            &app,
            &pm_path(&id, ""),
            &ada.token,
            &json!({"factors": [{"kind": "root_cause", "text": "x"}]}),
        ),
        400,
        "invalid_field",
        Some("factors[0].kind"),
    )
    .await;
    refused(
        patch(
            &app,
            &pm_path(&id, ""),
            &ada.token,
            &json!({"reviewers": ["nobody@example.com"]}),
        ),
        400,
        "invalid_field",
        Some("reviewers[0]"),
    )
    .await;
    let again = ok(app.get(&pm_path(&id, ""), &ada.token), 200).await;
    assert_eq!(again["factors"].as_array().unwrap().len(), 3);

    // Review: comments, approval only in review and only by a reviewer who is not the owner.
    let pm = ok(
        app.post(
            &pm_path(&id, "/comments"),
            &bob.token,
            &json!({"section": "summary", "body": "Say which customers."}),
        ),
        201,
    )
    .await;
    assert_eq!(pm["comments"][0]["author_id"], bob.id.as_str());
    refused(
        app.post(&pm_path(&id, "/approve"), &bob.token, &json!({})),
        409,
        "conflict",
        Some("state"),
    )
    .await;
    let pm = act(&app, &ada.token, &id, "/submit", 200).await;
    assert_eq!(pm["state"], "in_review");
    let e = refused(
        app.post(&pm_path(&id, "/publish"), &ada.token, &json!({})),
        403,
        "forbidden",
        None,
    )
    .await;
    assert_eq!(e["message"], klaxon_domain::postmortem::PUBLISH_RULE);
    refused(
        app.post(&pm_path(&id, "/approve"), &ada.token, &json!({})),
        403,
        "forbidden",
        None,
    )
    .await;
    app.clock.set(ts("2026-11-23T08:00:00Z"));
    let pm = act(&app, &bob.token, &id, "/approve", 200).await;
    assert_eq!(pm["reviewers"][0]["approved_at"], "2026-11-23T08:00:00Z");
    // Back to draft: the approval lapses; the reviewer approves the new text.
    let pm = act(&app, &ada.token, &id, "/draft", 200).await;
    assert_eq!(pm["state"], "draft");
    assert!(pm["reviewers"][0]["approved_at"].is_null());
    act(&app, &ada.token, &id, "/submit", 200).await;
    act(&app, &bob.token, &id, "/approve", 200).await;
    // Only the owner publishes on review.
    refused(
        app.post(&pm_path(&id, "/publish"), &bob.token, &json!({})),
        403,
        "forbidden",
        None,
    )
    .await;
    app.clock.set(ts("2026-11-24T12:00:00Z"));
    let pm = act(&app, &ada.token, &id, "/publish", 200).await;
    assert_eq!(pm["state"], "published");
    assert_eq!(pm["published_at"], "2026-11-24T12:00:00Z");
    assert_eq!(pm["published_by"], ada.id.as_str());
    assert!(pm["publish_reason"].is_null());

    // Published: read-only, and its facts no longer follow the incident.
    ok(
        patch(
            &app,
            &format!("/api/v1/incidents/{inc}"),
            &app.admin.token,
            &json!({"title": "Checkout outage"}),
        ),
        200,
    )
    .await;
    let read = ok(app.get(&pm_path(&id, ""), &bob.token), 200).await;
    assert_eq!(read["facts"]["incident"]["title"], "Checkout is down");
    for (req, field) in [
        (
            patch(
                &app,
                &pm_path(&id, ""),
                &ada.token,
                &json!({"sections": {"summary": "x"}}),
            ),
            "state",
        ),
        (
            app.post(
                &pm_path(&id, "/comments"),
                &bob.token,
                &json!({"section": "summary", "body": "x"}),
            ),
            "state",
        ),
        (
            app.post(&pm_path(&id, "/draft"), &ada.token, &json!({})),
            "state",
        ),
        (
            app.post(&pm_path(&id, "/publish"), &ada.token, &json!({})),
            "state",
        ),
    ] {
        refused(req, 409, "conflict", Some(field)).await;
    }

    // Each step is on the incident's timeline.
    let kinds: Vec<String> = incident_events(&app, &inc)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .filter(|k| k.starts_with("postmortem."))
        .collect();
    assert_eq!(
        kinds,
        [
            "postmortem.created",
            "postmortem.updated",
            "postmortem.commented",
            "postmortem.submitted",
            "postmortem.approved",
            "postmortem.back_to_draft",
            "postmortem.submitted",
            "postmortem.approved",
            "postmortem.published",
        ]
    );

    // Listed and searchable; exported as Markdown.
    let list = |q: &str| app.get(&format!("/api/v1/postmortems?{q}"), &bob.token);
    assert_eq!(
        ok(list("state=published"), 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(list("state=draft"), 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        ok(list("q=jitter"), 200).await["items"][0]["id"],
        id.as_str()
    );
    assert_eq!(
        ok(list("q=CHECKOUT%20OUTAGE"), 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(list("q=nothing-like-it"), 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    refused(list("state=done"), 400, "invalid_field", Some("state")).await;
    // It carries the incident's durations and lists its action items still to do.
    let read = ok(app.get(&pm_path(&id, ""), &bob.token), 200).await;
    assert_eq!(read["durations"]["ttr"]["status"], "measured");
    assert_eq!(read["durations"]["ttd"]["status"], "not_applicable");
    assert_eq!(read["open_action_items"], json!([]));
    let item = ok(
        app.post(
            "/api/v1/action-items",
            &ada.token,
            &json!({"incident": inc, "title": "Warm the cache after deploys", "owner": "ada@example.com",
                    "kind": "prevent", "priority": true}),
        ),
        201,
    )
    .await;
    // An item may name the postmortem it came from: this incident's, and no other.
    let add = |pm: &str| {
        app.post(
            "/api/v1/action-items",
            &ada.token,
            &json!({"incident": inc, "title": "Alert on cache misses", "owner": "ada@example.com",
                    "kind": "detect", "postmortem_id": pm}),
        )
    };
    let pm_id = ok(app.get(&pm_path(&id, ""), &bob.token), 200).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        add("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        400,
        "invalid_field",
        Some("postmortem_id"),
    )
    .await;
    ok(add(&pm_id), 201).await;
    let read = ok(app.get(&pm_path(&id, ""), &bob.token), 200).await;
    assert_eq!(read["open_action_items"].as_array().unwrap().len(), 2);
    assert!(
        read["open_action_items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == item["id"] && a["priority"] == true)
    );
    let r = app
        .get(&pm_path(&id, "/export.md"), &bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let md = r.text().await.unwrap();
    for want in [
        "# Postmortem: incident #",
        "Checkout is down",
        "## Summary\n\nCheckout failed for 30 minutes.",
        "- **trigger**: A deploy flushed the cache.",
        "Bob (approved)",
        "## Where we got lucky\n\n_Not written._",
        "The cache was flushed by the deploy.",
        "We are looking into failed checkouts.",
        "## Durations",
        "- Time to detect: not applicable",
        "- Warm the cache after deploys (priority): open, due ",
    ] {
        assert!(md.contains(want), "{want:?} not in\n{md}");
    }
    app.stop().await;
}

async fn the_timeline_selection_leaves_the_incidents_events_untouched(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let t = &app.admin.token;
    let inc = declare(&app, t, "Queue backlog", "SEV3").await;
    let note = ok(
        app.post(
            &format!("/api/v1/incidents/{inc}/notes"),
            t,
            &json!({"text": "Consumers were scaled down."}),
        ),
        201,
    )
    .await;
    let note_seq = note["seq"].as_i64().unwrap();
    resolve(&app, &inc).await;
    let pm = ok(
        app.post("/api/v1/postmortems", t, &json!({"incident_id": inc})),
        201,
    )
    .await;
    let id = id_of(&pm);
    // A SEV3 needs no postmortem and has no due date by default.
    assert_eq!(pm["required"], false);
    assert!(pm["due_at"].is_null());
    assert_eq!(entry(&pm, "incident.note_added")["included"], false);
    let resolved_seq = entry(&pm, "incident.resolved")["seq"].as_i64().unwrap();
    let before = incident_events(&app, &inc).await;

    let pm = ok(
        patch(
            &app,
            &pm_path(&id, "/timeline"),
            t,
            &json!({"entries": [
                {"seq": note_seq, "include": true, "note": "This is where it started."},
                {"seq": resolved_seq, "include": false}
            ]}),
        ),
        200,
    )
    .await;
    let n = entry(&pm, "incident.note_added");
    assert_eq!(
        (n["included"].as_bool(), n["note"].as_str()),
        (Some(true), Some("This is where it started."))
    );
    assert_eq!(entry(&pm, "incident.resolved")["included"], false);
    refused(
        patch(
            &app,
            &pm_path(&id, "/timeline"),
            t,
            &json!({"entries": [{"seq": 999999, "include": true}]}),
        ),
        400,
        "invalid_field",
        Some("entries[0].seq"),
    )
    .await;

    // The incident's events are exactly as they were; only the postmortem's own event follows.
    let after = incident_events(&app, &inc).await;
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[before.len()]["kind"], "postmortem.updated");
    // And the export shows the choice.
    let md = app
        .get(&pm_path(&id, "/export.md"), t)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        md.contains("Consumers were scaled down.\n  > This is where it started."),
        "{md}"
    );
    assert!(!md.contains("resolved the incident"), "{md}");
    app.stop().await;
}

async fn an_admin_publishes_without_review_only_with_a_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let inc = declare(&app, &ada.token, "Login errors", "SEV1").await;
    app.clock.set(ts("2026-11-21T10:00:00Z"));
    resolve(&app, &inc).await;
    let pm = ok(
        app.post(
            "/api/v1/postmortems",
            &ada.token,
            &json!({"incident_id": inc}),
        ),
        201,
    )
    .await;
    // SEV1: three calendar days.
    assert_eq!(pm["due_at"], "2026-11-24T10:00:00Z");
    let id = id_of(&pm);
    // The owner alone may not; an admin without a reason may not.
    refused(
        app.post(
            &pm_path(&id, "/publish"),
            &ada.token,
            &json!({"reason": "trust me"}),
        ),
        403,
        "forbidden",
        None,
    )
    .await;
    refused(
        app.post(&pm_path(&id, "/publish"), &app.admin.token, &json!({})),
        403,
        "forbidden",
        None,
    )
    .await;
    refused(
        app.post(
            &pm_path(&id, "/publish"),
            &app.admin.token,
            &json!({"reason": "  "}),
        ),
        403,
        "forbidden",
        None,
    )
    .await;
    let pm = ok(
        app.post(
            &pm_path(&id, "/publish"),
            &app.admin.token,
            &json!({"reason": "Reviewed in the weekly meeting."}),
        ),
        200,
    )
    .await;
    assert_eq!(pm["state"], "published");
    assert_eq!(pm["publish_reason"], "Reviewed in the weekly meeting.");
    let published = incident_events(&app, &inc)
        .await
        .into_iter()
        .find(|e| e["kind"] == "postmortem.published")
        .unwrap();
    assert_eq!(
        published["data"]["reason"],
        "Reviewed in the weekly meeting."
    );
    app.stop().await;
}

/// Posts a form with a session; returns the status and the page (or where it redirects).
async fn form(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location.unwrap_or(r.text().await.unwrap()))
}

async fn the_pages_write_review_and_publish_a_postmortem(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    member(&app, "ada@example.com", "Ada", "responder").await;
    member(&app, "bob@example.com", "Bob", "responder").await;
    let (ada, csrf) = session_for(&app, "ada@example.com", PASSWORD).await;
    let (bob, bob_csrf) = session_for(&app, "bob@example.com", PASSWORD).await;
    let inc = declare(&app, &app.admin.token, "Payments time out", "SEV1").await;

    // The incident page's panel: not before it is resolved; then a button that starts it.
    let page = web_get_as(&app, &format!("/incidents/{inc}"), &ada).await;
    assert!(page.contains("id=\"postmortem-panel\""), "no panel");
    assert!(!page.contains("id=\"start-postmortem\""));
    resolve(&app, &inc).await;
    let page = web_get_as(&app, &format!("/incidents/{inc}"), &ada).await;
    assert!(page.contains("Required for this severity."));
    let (status, to) = form(
        &app,
        &ada,
        "/postmortems",
        &[("csrf", &csrf), ("incident_id", &inc)],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    let pm_path = to;
    let id = pm_path.trim_start_matches("/postmortems/").to_owned();
    let page = web_get_as(&app, &format!("/incidents/{inc}"), &ada).await;
    assert!(page.contains(&format!("href=\"/postmortems/{id}\"")));

    // Sections; a refused factor line is named beside the box, with what was typed kept.
    let (status, _) = form(
        &app,
        &ada,
        &format!("{pm_path}/sections"),
        &[
            ("csrf", &csrf),
            ("sections.summary", "Payments timed out for 12 minutes."),
            ("sections.lessons", "Timeouts need budgets."),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let typed = "trigger: a slow upstream\nblame: Bob";
    let (status, page) = form(
        &app,
        &ada,
        &format!("{pm_path}/factors"),
        &[("csrf", &csrf), ("factors", typed)],
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"pm-factors-error\""), "{page}");
    assert!(page.contains("Line 2"), "{page}");
    assert!(
        page.contains("trigger: a slow upstream\nblame: Bob"),
        "typed text kept"
    );
    let (status, _) = form(
        &app,
        &ada,
        &format!("{pm_path}/factors"),
        &[
            ("csrf", &csrf),
            ("factors", "trigger: a slow upstream\nmitigating: retries"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (status, page) = form(
        &app,
        &ada,
        &format!("{pm_path}/people"),
        &[
            ("csrf", &csrf),
            ("owner", "ada@example.com"),
            ("reviewers", "nobody@example.com"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"pm-reviewers-error\""), "{page}");
    let (status, page) = form(
        &app,
        &ada,
        &format!("{pm_path}/people"),
        &[
            ("csrf", &csrf),
            ("owner", "ada@example.com"),
            ("reviewers", "bob@example.com"),
            ("due", "next week"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"pm-due-error\""), "{page}");
    assert!(page.contains("value=\"next week\""), "typed due date kept");
    // Reviewers are chosen from Klaxon's users, and the choice is kept through a refusal.
    let bob_box = "name=\"reviewers\" value=\"bob@example.com\"";
    let at = page.find(bob_box).expect("bob is offered as a reviewer");
    assert!(
        page[at..].starts_with(&format!("{bob_box} checked")),
        "bob's tick kept"
    );
    assert!(
        page.contains("<legend>Reviewers"),
        "the chooser is labelled"
    );
    let (status, _) = form(
        &app,
        &ada,
        &format!("{pm_path}/people"),
        &[
            ("csrf", &csrf),
            ("owner", "ada@example.com"),
            ("reviewers", "bob@example.com"),
            ("due", "2026-11-30T17:00"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let api = ok(
        app.get(&format!("/api/v1/postmortems/{id}"), &app.admin.token),
        200,
    )
    .await;
    assert_eq!(api["due_at"], "2026-11-30T17:00:00Z");
    assert_eq!(api["reviewers"].as_array().unwrap().len(), 1);

    // Review and publish through the page's buttons.
    let (status, _) = form(
        &app,
        &ada,
        &format!("{pm_path}/move"),
        &[("csrf", &csrf), ("action", "submit")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, page) = form(
        &app,
        &ada,
        &format!("{pm_path}/publish"),
        &[("csrf", &csrf), ("reason", "")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("Publishing needs the owner"), "{page}");
    let (status, _) = form(
        &app,
        &bob,
        &format!("{pm_path}/comments"),
        &[
            ("csrf", &bob_csrf),
            ("section", "summary"),
            ("body", "Which merchants?"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let page = web_get_as(&app, &pm_path, &bob).await;
    assert!(page.contains("id=\"pm-approve\""));
    let (status, _) = form(
        &app,
        &bob,
        &format!("{pm_path}/move"),
        &[("csrf", &bob_csrf), ("action", "approve")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, _) = form(
        &app,
        &ada,
        &format!("{pm_path}/publish"),
        &[("csrf", &csrf), ("reason", "")],
    )
    .await;
    assert_eq!(status, 303);

    // Read-only once published: the text is shown, no form is.
    let page = web_get_as(&app, &pm_path, &ada).await;
    assert!(page.contains("Published: this postmortem is read-only"));
    assert!(page.contains("Payments timed out for 12 minutes."));
    assert!(page.contains("Which merchants?"));
    assert!(!page.contains("id=\"sections-form\""));
    // Listed with search and state; printable.
    let list = web_get_as(&app, "/postmortems?q=payments&state=published", &bob).await;
    assert!(
        list.contains(&format!("href=\"/postmortems/{id}\"")),
        "{list}"
    );
    let list = web_get_as(&app, "/postmortems?state=draft", &bob).await;
    assert!(!list.contains(&format!("href=\"/postmortems/{id}\"")));
    let print = web_get_as(&app, &format!("{pm_path}/print"), &bob).await;
    assert!(
        print.contains("<strong>trigger</strong>: a slow upstream"),
        "{print}"
    );
    app.stop().await;
}

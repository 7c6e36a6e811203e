//! Action items through the API: created from incidents, listed (mine, team, overdue, state,
//! incident), due dates by the SLO, won't do with a reason, reminders by e-mail with the fake
//! clock (one a day, none after done, nothing else sent), and the "learned from" count.
use crate::common;
use crate::mail_support;

use jiff::{SignedDuration, Timestamp};
use klaxon_domain::Clock as _;
use klaxon_domain::contact::{ContactKind, NotificationStatus};
use klaxon_server::config::SmtpTls;
use serde_json::{Value, json};

use common::{
    Backend, Member, TestApp, delete, member, ok, patch, refused, session_for, web_get_as,
};
use mail_support::MockSmtp;

on_both_backends!(
    items_are_created_from_incidents_and_listed_mine_team_and_overdue,
    due_dates_follow_the_configured_slo,
    wont_do_needs_a_reason_and_items_can_be_removed,
    owners_are_reminded_by_email_once_a_day_until_done,
    incidents_are_learned_from_once_no_priority_item_is_open,
    the_web_pages_add_list_and_change_items,
);

async fn declare(app: &TestApp, token: &str, title: &str, service: Option<&str>) -> Value {
    let mut body = json!({"title": title, "severity": "SEV3"});
    if let Some(s) = service {
        body["service_id"] = json!(s);
    }
    ok(app.post("/api/v1/incidents", token, &body), 201).await
}

async fn add(app: &TestApp, token: &str, body: Value) -> Value {
    ok(app.post("/api/v1/action-items", token, &body), 201).await
}

async fn list(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let v = ok(
        app.get(&format!("/api/v1/action-items?{query}"), token),
        200,
    )
    .await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

fn later(app: &TestApp, hours: i64) -> String {
    app.clock
        .now()
        .checked_add(SignedDuration::from_hours(hours))
        .unwrap()
        .to_string()
}

async fn timeline_kinds(app: &TestApp, incident: &Value) -> Vec<String> {
    let v = ok(
        app.get(
            &format!(
                "/api/v1/incidents/{}/timeline?limit=500",
                incident["id"].as_str().unwrap()
            ),
            &app.admin.token,
        ),
        200,
    )
    .await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// A team: an escalation policy paging someone with no way to be reached, and its service.
async fn team(app: &TestApp) {
    let carol = member(app, "carol@example.com", "Carol", "responder").await;
    let admin = &app.admin.token;
    ok(
        app.post(
            "/api/v1/escalation-policies",
            admin,
            &json!({"name": "payments", "repeat": 0, "levels": [
                {"delay_minutes": 5, "targets": [{"type": "user", "id": carol.id}]}]}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/services",
            admin,
            &json!({"name": "checkout", "escalation_policy_id": "payments"}),
        ),
        201,
    )
    .await;
}

async fn items_are_created_from_incidents_and_listed_mine_team_and_overdue(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    team(&app).await;
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let viewer = member(&app, "vic@example.com", "Vic", "viewer").await;
    let one = declare(&app, &ada.token, "Checkout down", Some("checkout")).await;
    let two = declare(&app, &ada.token, "Search slow", None).await;
    let number = |i: &Value| i["number"].to_string();

    let a = add(
        &app,
        &ada.token,
        json!({"incident": format!("#{}", number(&one)), "title": "Alert on card errors",
               "owner": "ada@example.com", "kind": "detect", "priority": true,
               "tracker_url": "https://jira.example.com/browse/OPS-1"}),
    )
    .await;
    assert_eq!(a["incident_id"], one["id"]);
    assert_eq!(a["incident_number"], one["number"]);
    assert_eq!(
        (a["state"].as_str(), a["kind"].as_str()),
        (Some("open"), Some("detect"))
    );
    assert_eq!(a["owner_name"], "Ada");
    assert_eq!(a["tracker_url"], "https://jira.example.com/browse/OPS-1");
    add(
        &app,
        &ada.token,
        json!({"incident": number(&two), "title": "Write the runbook", "owner": bob.id,
               "kind": "process"}),
    )
    .await;
    add(
        &app,
        &bob.token,
        json!({"incident": number(&two), "title": "Add an index", "owner": bob.id,
               "kind": "prevent", "due_at": later(&app, 1)}),
    )
    .await;
    assert!(
        timeline_kinds(&app, &one)
            .await
            .contains(&"action_item.created".to_owned())
    );

    app.clock.advance(SignedDuration::from_hours(2));
    assert_eq!(
        list(&app, &ada.token, "mine=true").await,
        ["Alert on card errors"]
    );
    assert_eq!(
        list(&app, &bob.token, "mine=true").await,
        ["Add an index", "Write the runbook"]
    );
    assert_eq!(
        list(&app, &viewer.token, "owner=ada@example.com").await,
        ["Alert on card errors"]
    );
    assert_eq!(
        list(&app, &viewer.token, "team=payments").await,
        ["Alert on card errors"]
    );
    assert_eq!(
        list(&app, &viewer.token, "overdue=true").await,
        ["Add an index"]
    );
    assert_eq!(
        list(&app, &viewer.token, &format!("incident={}", number(&two))).await,
        ["Add an index", "Write the runbook"]
    );
    assert_eq!(list(&app, &viewer.token, "state=open").await.len(), 3);
    assert!(list(&app, &viewer.token, "state=done").await.is_empty());
    let page = ok(app.get("/api/v1/action-items?limit=2", &viewer.token), 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let rest = ok(
        app.get(
            &format!(
                "/api/v1/action-items?limit=2&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            &viewer.token,
        ),
        200,
    )
    .await;
    // Soonest due first: the overdue one led the first page.
    assert_eq!(page["items"][0]["title"], "Add an index");
    assert_eq!(page["items"][0]["overdue"], true);
    assert_eq!(rest["items"][0]["title"], "Write the runbook");
    assert_eq!(rest["next_cursor"], Value::Null);

    // Bad input: each refusal names its field and writes nothing.
    let base =
        || json!({"incident": number(&two), "title": "x", "owner": bob.id, "kind": "prevent"});
    let mut past = base();
    past["due_at"] = json!(later(&app, -1));
    refused(
        app.post("/api/v1/action-items", &ada.token, &past),
        400,
        "invalid_field",
        Some("due_at"),
    )
    .await;
    let mut nobody = base();
    nobody["owner"] = json!("nobody@example.com");
    refused(
        app.post("/api/v1/action-items", &ada.token, &nobody),
        400,
        "invalid_field",
        Some("owner"),
    )
    .await;
    let mut no_incident = base();
    no_incident["incident"] = json!("#999");
    refused(
        app.post("/api/v1/action-items", &ada.token, &no_incident),
        400,
        "invalid_field",
        Some("incident"),
    )
    .await;
    let mut bad_link = base();
    bad_link["tracker_url"] = json!("javascript:alert(1)");
    refused(
        app.post("/api/v1/action-items", &ada.token, &bad_link),
        400,
        "invalid_field",
        Some("tracker_url"),
    )
    .await;
    refused(
        app.post("/api/v1/action-items", &viewer.token, &base()),
        403,
        "forbidden",
        None,
    )
    .await;
    refused(
        app.get("/api/v1/action-items?state=finished", &ada.token),
        400,
        "invalid_field",
        Some("state"),
    )
    .await;
    refused(
        app.get("/api/v1/action-items?team=nobody", &ada.token),
        400,
        "invalid_field",
        Some("team"),
    )
    .await;
    refused(
        app.get(
            "/api/v1/action-items/0190f5a0-0000-7000-8000-000000000000",
            &ada.token,
        ),
        404,
        "not_found",
        None,
    )
    .await;
    refused(
        app.get("/api/v1/action-items/not-an-id", &ada.token),
        400,
        "invalid_field",
        Some("id"),
    )
    .await;
    assert_eq!(list(&app, &viewer.token, "").await.len(), 3);
    app.stop().await;
}

async fn due_dates_follow_the_configured_slo(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |s| {
        s.action_items.priority_days = 7;
        s.action_items.other_days = 14;
    })
    .await
    else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let i = declare(&app, &ada.token, "Checkout down", None).await;
    let item = |priority: bool| {
        json!({"incident": i["id"], "title": "Fix it", "owner": ada.id, "kind": "mitigate",
               "priority": priority})
    };
    let p = add(&app, &ada.token, item(true)).await;
    assert_eq!(p["due_at"], "2026-11-28T09:00:00Z");
    let o = add(&app, &ada.token, item(false)).await;
    assert_eq!(o["due_at"], "2026-12-05T09:00:00Z");
    // An explicit date wins; now is not in the past.
    let mut given = item(true);
    given["due_at"] = json!("2026-11-21T09:00:00Z");
    assert_eq!(
        add(&app, &ada.token, given).await["due_at"],
        "2026-11-21T09:00:00Z"
    );
    // Moving a due date into the past is refused too.
    app.clock.advance(SignedDuration::from_hours(1));
    refused(
        patch(
            &app,
            &format!("/api/v1/action-items/{}", p["id"].as_str().unwrap()),
            &ada.token,
            &json!({"due_at": "2026-11-21T09:30:00Z"}),
        ),
        400,
        "invalid_field",
        Some("due_at"),
    )
    .await;
    app.stop().await;
}

async fn wont_do_needs_a_reason_and_items_can_be_removed(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let viewer = member(&app, "vic@example.com", "Vic", "viewer").await;
    let i = declare(&app, &ada.token, "Checkout down", None).await;
    let item = add(
        &app,
        &ada.token,
        json!({"incident": i["id"], "title": "Rewrite the cart", "owner": ada.id, "kind": "prevent"}),
    )
    .await;
    let path = format!("/api/v1/action-items/{}", item["id"].as_str().unwrap());
    refused(
        patch(&app, &path, &ada.token, &json!({"state": "wont_do"})),
        400,
        "invalid_field",
        Some("reason"),
    )
    .await;
    refused(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"state": "wont_do", "reason": "  "}),
        ),
        400,
        "invalid_field",
        Some("reason"),
    )
    .await;
    refused(
        patch(&app, &path, &ada.token, &json!({"reason": "why not"})),
        400,
        "invalid_field",
        Some("reason"),
    )
    .await;
    refused(
        patch(&app, &path, &viewer.token, &json!({"state": "done"})),
        403,
        "forbidden",
        None,
    )
    .await;
    assert_eq!(
        ok(app.get(&path, &viewer.token), 200).await["state"],
        "open"
    );

    let w = ok(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"state": "wont_do", "reason": "The cart is being retired"}),
        ),
        200,
    )
    .await;
    assert_eq!(
        (w["state"].as_str(), w["reason"].as_str()),
        (Some("wont_do"), Some("The cart is being retired"))
    );
    let kinds = timeline_kinds(&app, &i).await;
    assert!(
        kinds.contains(&"action_item.state_changed".to_owned()),
        "{kinds:?}"
    );
    // Reopened, the reason goes; edits are told on the timeline.
    let o = ok(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"state": "in_progress", "title": "Retire the cart"}),
        ),
        200,
    )
    .await;
    assert_eq!(
        (o["state"].as_str(), &o["reason"], o["title"].as_str()),
        (Some("in_progress"), &Value::Null, Some("Retire the cart"))
    );
    assert!(
        timeline_kinds(&app, &i)
            .await
            .contains(&"action_item.updated".to_owned())
    );

    refused(delete(&app, &path, &viewer.token), 403, "forbidden", None).await;
    ok(delete(&app, &path, &ada.token), 204).await;
    refused(app.get(&path, &ada.token), 404, "not_found", None).await;
    refused(delete(&app, &path, &ada.token), 404, "not_found", None).await;
    assert!(
        timeline_kinds(&app, &i)
            .await
            .contains(&"action_item.deleted".to_owned())
    );
    app.stop().await;
}

async fn contact_method(app: &TestApp, who: &Member, kind: &str, address: &str) {
    ok(
        app.post(
            &format!("/api/v1/users/{}/contact-methods", who.id),
            &who.token,
            &json!({"kind": kind, "label": kind, "address": address,
                    "password": common::PASSWORD}),
        ),
        201,
    )
    .await;
}

async fn owners_are_reminded_by_email_once_a_day_until_done(b: Backend) {
    let smtp = MockSmtp::spawn().await;
    let port = smtp.port;
    let Some(app) = TestApp::spawn_with(b, |s| {
        s.server.public_url = Some("http://klaxon.test".into());
        s.smtp.host = Some("127.0.0.1".into());
        s.smtp.port = Some(port);
        s.smtp.tls = SmtpTls::None;
        s.smtp.from = Some("Klaxon <klaxon@example.com>".into());
        // A text provider nobody answers at: a reminder sent by text would show as a
        // notification below (and fail).
        s.sms.base_url = "http://127.0.0.1:9".into();
        s.sms.account_sid = Some("AC0123".into());
        s.sms.auth_token = Some("secret-token".into());
        s.sms.from = Some("+15555550000".into());
    })
    .await
    else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    contact_method(&app, &ada, "email", "ada@example.com").await;
    // Reminders never go by text message.
    contact_method(&app, &ada, "sms", "+15555550100").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    contact_method(&app, &bob, "email", "bob@example.com").await;
    let i = declare(&app, &ada.token, "Checkout down", None).await;
    // Due in 5 days: reminders start 3 days before.
    let item = add(
        &app,
        &ada.token,
        json!({"incident": i["id"], "title": "Alert on card errors", "owner": ada.id,
               "kind": "detect", "priority": true, "due_at": later(&app, 5 * 24)}),
    )
    .await;
    let path = format!("/api/v1/action-items/{}", item["id"].as_str().unwrap());
    let tick = async || {
        app.state.engine.tick().await.unwrap();
    };
    let hours = |h: i64| app.clock.advance(SignedDuration::from_hours(h));

    tick().await;
    assert!(smtp.mails().is_empty(), "too early");
    hours(47);
    tick().await;
    assert!(smtp.mails().is_empty(), "still too early");
    hours(1);
    tick().await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["ada@example.com"]);
    let subject = mails[0].header("Subject").unwrap();
    assert!(
        subject.contains("Action item due soon: Alert on card errors"),
        "{subject}"
    );
    assert!(mails[0].text().contains(&format!(
        "http://klaxon.test/action-items/{}",
        item["id"].as_str().unwrap()
    )));
    // Not again the same day, however often the engine runs.
    for _ in 0..3 {
        hours(7);
        tick().await;
    }
    assert_eq!(smtp.mails().len(), 1);
    hours(3);
    tick().await;
    assert_eq!(smtp.mails().len(), 2);
    // Past the due date: daily, and it says overdue.
    hours(3 * 24);
    tick().await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 3);
    assert!(mails[2].header("Subject").unwrap().contains("overdue"));
    assert_eq!(ok(app.get(&path, &ada.token), 200).await["overdue"], true);

    ok(
        patch(&app, &path, &ada.token, &json!({"state": "done"})),
        200,
    )
    .await;
    for _ in 0..3 {
        hours(24);
        tick().await;
    }
    assert_eq!(smtp.mails().len(), 3, "nothing after done");
    // Opened again, it is reminded again: the job, ended with nothing open, comes back.
    ok(
        patch(&app, &path, &ada.token, &json!({"state": "open"})),
        200,
    )
    .await;
    tick().await;
    assert_eq!(smtp.mails().len(), 4);
    ok(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"state": "wont_do", "reason": "Replaced by OPS-2"}),
        ),
        200,
    )
    .await;
    hours(48);
    tick().await;
    assert_eq!(smtp.mails().len(), 4, "nothing after won't do");
    // Exactly the four e-mails were queued and sent: no text, nothing to Bob.
    let ada_id = ada.id.parse().unwrap();
    let sent = app
        .state
        .store
        .list_notifications(None, Some(ada_id), None, 100)
        .await
        .unwrap();
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(
        sent.iter()
            .all(|n| n.kind == ContactKind::Email && n.status == NotificationStatus::Sent)
    );
    let bob_id = bob.id.parse().unwrap();
    assert!(
        app.state
            .store
            .list_notifications(None, Some(bob_id), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let reminded = timeline_kinds(&app, &i)
        .await
        .into_iter()
        .filter(|k| k == "action_item.reminded")
        .count();
    assert_eq!(reminded, 4);
    assert!(smtp.mails().iter().all(|m| m.to == ["ada@example.com"]));
    let _: Timestamp = app.clock.now();
    app.stop().await;
}

async fn incidents_are_learned_from_once_no_priority_item_is_open(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let one = declare(&app, &ada.token, "Checkout down", None).await;
    let two = declare(&app, &ada.token, "Search slow", None).await;
    declare(&app, &ada.token, "Nothing to do", None).await;
    let p = add(
        &app,
        &ada.token,
        json!({"incident": one["id"], "title": "Alert on card errors", "owner": ada.id,
               "kind": "detect", "priority": true}),
    )
    .await;
    add(
        &app,
        &ada.token,
        json!({"incident": two["id"], "title": "Tidy the dashboard", "owner": ada.id,
               "kind": "process"}),
    )
    .await;
    let s = ok(app.get("/api/v1/action-items/summary", &ada.token), 200).await;
    assert_eq!(
        (
            &s["incidents"],
            &s["learned_from"],
            &s["not_learned_from"],
            &s["open_items"]
        ),
        (&json!(3), &json!(2), &json!(1), &json!(2))
    );
    assert_eq!(s["incidents_not_learned_from"][0]["id"], one["id"]);
    assert_eq!(
        list(&app, &ada.token, "learned_from=false").await,
        ["Alert on card errors"]
    );
    assert_eq!(
        list(&app, &ada.token, "learned_from=true").await,
        ["Tidy the dashboard"]
    );
    // The incident list filters by the same rule, in the API and on its page with the counts.
    let incidents = |q: &'static str| {
        let app = &app;
        let token = ada.token.clone();
        async move {
            let v = ok(app.get(&format!("/api/v1/incidents?{q}"), &token), 200).await;
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["title"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(incidents("learned_from=false").await, ["Checkout down"]);
    assert_eq!(
        incidents("learned_from=true").await,
        ["Nothing to do", "Search slow"]
    );
    refused(
        app.get("/api/v1/incidents?learned_from=maybe", &ada.token),
        400,
        "invalid_query",
        Some("learned_from"),
    )
    .await;
    let (cookie, _) = session_for(&app, "ada@example.com", common::PASSWORD).await;
    let page = web_get_as(&app, "/incidents?status=all&learned_from=false", &cookie).await;
    assert!(
        page.contains("Checkout down") && !page.contains("Search slow"),
        "{page}"
    );
    assert!(
        page.contains("<option value=\"false\" selected>"),
        "the filter kept"
    );
    assert!(
        page.contains(">2 of 3 incidents</a>") && page.contains(">1 not yet</a>"),
        "{page}"
    );
    let page = web_get_as(&app, "/incidents?learned_from=perhaps", &cookie).await;
    assert!(page.contains("id=\"filter-learned-error\""), "{page}");

    let path = format!("/api/v1/action-items/{}", p["id"].as_str().unwrap());
    ok(
        patch(&app, &path, &ada.token, &json!({"state": "in_progress"})),
        200,
    )
    .await;
    let s = ok(app.get("/api/v1/action-items/summary", &ada.token), 200).await;
    assert_eq!(s["not_learned_from"], 1, "in progress is still open");
    ok(
        patch(&app, &path, &ada.token, &json!({"state": "done"})),
        200,
    )
    .await;
    let s = ok(app.get("/api/v1/action-items/summary", &ada.token), 200).await;
    assert_eq!(
        (&s["learned_from"], &s["not_learned_from"]),
        (&json!(3), &json!(0))
    );
    assert_eq!(s["incidents_not_learned_from"], json!([]));
    assert!(
        list(&app, &ada.token, "learned_from=false")
            .await
            .is_empty()
    );
    assert!(incidents("learned_from=false").await.is_empty());
    app.stop().await;
}

async fn post_form(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn the_web_pages_add_list_and_change_items(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let i = declare(&app, &ada.token, "Checkout down", None).await;
    let id = i["id"].as_str().unwrap();
    let (cookie, csrf) = session_for(&app, "ada@example.com", common::PASSWORD).await;

    // The incident page's panel, with its add form.
    let page = web_get_as(&app, &format!("/incidents/{id}"), &cookie).await;
    assert!(page.contains("id=\"action-items-section\""), "{page}");
    assert!(page.contains("No action items."));
    let add = format!("/incidents/{id}/action-items");
    // A past due date is refused beside its field, and what was typed stays.
    let (status, html) = post_form(
        &app,
        &cookie,
        &add,
        &[
            ("csrf", &csrf),
            ("title", "Add a card-error alert"),
            ("owner", &ada.id),
            ("kind", "detect"),
            ("priority", "yes"),
            ("due_at", "2020-01-01T09:00"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"ai-due-error\""), "{html}");
    assert!(html.contains("value=\"Add a card-error alert\""));
    let (status, _) = post_form(
        &app,
        &cookie,
        &add,
        &[
            ("csrf", &csrf),
            ("title", "Add a card-error alert"),
            ("owner", &ada.id),
            ("kind", "detect"),
            ("priority", "yes"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let page = web_get_as(&app, &format!("/incidents/{id}"), &cookie).await;
    assert!(page.contains("Add a card-error alert"));
    assert!(page.contains("Not learned from yet"));

    let list = web_get_as(&app, "/action-items", &cookie).await;
    assert!(list.contains("Add a card-error alert"), "mine");
    assert!(list.contains("0 of 1 incidents are learned from"), "{list}");
    let item =
        ok(app.get("/api/v1/action-items?mine=true", &ada.token), 200).await["items"][0].clone();
    let path = format!("/action-items/{}", item["id"].as_str().unwrap());
    let form = |state: &'static str, reason: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("title", "Add a card-error alert".into()),
            ("owner", ada.id.clone()),
            ("kind", "detect".into()),
            ("priority", "yes".into()),
            ("due_at", String::new()),
            ("tracker_url", String::new()),
            ("state", state.into()),
            ("reason", reason.into()),
        ]
    };
    let pairs = form("wont_do", "");
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, html) = post_form(&app, &cookie, &path, &refs).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"ai-reason-error\""), "{html}");
    let pairs = form("done", "");
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, html) = post_form(&app, &cookie, &path, &refs).await;
    assert_eq!(status, 200);
    assert!(html.contains("Saved."));
    assert_eq!(
        ok(app.get(&format!("/api/v1{path}"), &ada.token), 200).await["state"],
        "done"
    );
    let list = web_get_as(&app, "/action-items?view=all", &cookie).await;
    assert!(list.contains("1 of 1 incidents are learned from"), "{list}");
    app.stop().await;
}

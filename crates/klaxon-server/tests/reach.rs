//! Nobody unreachable without a warning, and a new person reachable from their first contact
//! method: the rules a first method brings, one per urgency (API and web), rules edited in place,
//! each level's
//! `reach` in the API, the warnings on the policy, profile and service pages and for the
//! dashboard (for each urgency), and the timeline entry of a page that reached nobody (for its
//! incident's urgency). Real server, fake clock, engine ticked by hand; every page a receiver
//! gets is counted: an unexpected one fails.
use crate::common;

use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use serde_json::{Value, json};

use common::{
    Backend, Member, PASSWORD, TestApp, delete, expect_error, member, ok, patch, session_for,
    web_get_as,
};

on_both_backends!(
    a_first_contact_method_brings_two_rules_and_rules_change_in_place,
    a_first_method_added_on_a_profile_brings_the_rules_too,
    a_level_that_reaches_nobody_is_flagged_and_its_page_says_so,
    each_urgency_is_judged_and_a_page_by_its_incidents,
);

/// A webhook receiver that keeps every body it is sent.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn spawn() -> Self {
        let got: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = got.clone();
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got }
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    ok(app.get(path, token), 200).await
}

async fn add_webhook(app: &TestApp, who: &Member, url: &str) -> Value {
    ok(
        app.post(
            &format!("/api/v1/users/{}/contact-methods", who.id),
            &who.token,
            &json!({"kind": "webhook", "label": "pager bot", "address": url, "password": PASSWORD}),
        ),
        201,
    )
    .await
}

async fn rules_of(app: &TestApp, who: &Member) -> Vec<Value> {
    get(
        app,
        &format!("/api/v1/users/{}/notification-rules", who.id),
        &who.token,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The kinds of a user's audit events, oldest first.
async fn user_event_kinds(app: &TestApp, user: &str) -> Vec<String> {
    get(
        app,
        &format!("/api/v1/events?subject_type=user&subject_id={user}&limit=200"),
        &app.admin.token,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// The `user.notification_rule_added` events of a user, oldest first.
async fn rule_added_events(app: &TestApp, user: &str) -> Vec<Value> {
    get(
        app,
        &format!("/api/v1/events?subject_type=user&subject_id={user}&limit=200"),
        &app.admin.token,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "user.notification_rule_added")
        .cloned()
        .collect()
}

/// A policy of one level paging `who`; returns its API answer.
async fn policy_paging(app: &TestApp, name: &str, who: &Member) -> Value {
    ok(
        app.post(
            "/api/v1/escalation-policies",
            &app.admin.token,
            &json!({"name": name, "levels": [{"delay_minutes": 5,
                    "targets": [{"type": "user", "id": who.id}]}]}),
        ),
        201,
    )
    .await
}

async fn a_first_contact_method_brings_two_rules_and_rules_change_in_place(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let hook = Receiver::spawn().await;
    let first = add_webhook(&app, &ada, &hook.url).await;
    // The first method pages her at once, for either urgency, and says so: `first_rules` has
    // both rules, `first_rule` the high-urgency one (as before).
    let rule = &first["first_rule"];
    assert_eq!(rule["contact_method_id"], first["id"], "{first}");
    assert_eq!(rule["delay_minutes"], 0);
    assert_eq!(rule["urgency"], "high");
    let brought = first["first_rules"].as_array().expect("first_rules");
    assert_eq!(brought.len(), 2, "{first}");
    assert_eq!(brought[0], *rule);
    let low = &brought[1];
    assert_eq!(
        (
            &low["contact_method_id"],
            &low["delay_minutes"],
            &low["urgency"]
        ),
        (&first["id"], &json!(0), &json!("low")),
        "{first}"
    );
    assert_ne!(low["id"], rule["id"]);
    let rules = rules_of(&app, &ada).await;
    assert_eq!(rules, *brought, "listed high first");
    let kinds = user_event_kinds(&app, &ada.id).await;
    assert!(
        kinds.ends_with(&[
            "user.contact_method_added".into(),
            "user.notification_rule_added".into(),
            "user.notification_rule_added".into()
        ]),
        "{kinds:?}"
    );
    let added = rule_added_events(&app, &ada.id).await;
    assert_eq!(
        added
            .iter()
            .map(|e| (
                e["data"]["rule_id"].clone(),
                e["data"]["urgency"].clone(),
                e["data"]["first_method"].clone()
            ))
            .collect::<Vec<_>>(),
        [
            (rule["id"].clone(), json!("high"), json!(true)),
            (low["id"].clone(), json!("low"), json!(true)),
        ]
    );
    // So a level paging her reaches her for either urgency: no warning anywhere.
    let policy = policy_paging(&app, "Ada's", &ada).await;
    assert_eq!(policy["reach"][0]["reachable"], true, "{policy}");
    assert_eq!(policy["reach"][0]["unreachable_for"], json!([]));
    assert_eq!(policy["reach"][0]["reasons"], json!([]));
    let (cookie, _) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let page = web_get_as(
        &app,
        &format!("/escalation-policies/{}", policy["id"].as_str().unwrap()),
        &cookie,
    )
    .await;
    assert!(
        !page.contains("level-unreachable") && !page.contains("nobody now"),
        "{page}"
    );
    let (ada_cookie, _) = session_for(&app, "ada@example.com", PASSWORD).await;
    let page = web_get_as(&app, "/profile", &ada_cookie).await;
    assert!(!page.contains("cannot be reached"), "{page}");
    let ada_user = app.state.store.user(ada.id.parse().unwrap()).await.unwrap();
    let warnings = klaxon_server::oncall::web::unreachable_for_dashboard(&app.state, &ada_user)
        .await
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");

    // A second method brings none: she has rules.
    let second = add_webhook(&app, &ada, &hook.url).await;
    assert!(second.get("first_rule").is_none(), "{second}");
    assert!(second.get("first_rules").is_none(), "{second}");
    assert_eq!(rules_of(&app, &ada).await.len(), 2);
    assert_eq!(rule_added_events(&app, &ada.id).await.len(), 2);
    // The same rule again (what the docs said to do before) is not doubled.
    let again = ok(
        app.post(
            &format!("/api/v1/users/{}/notification-rules", ada.id),
            &ada.token,
            &json!({"contact_method_id": first["id"], "delay_minutes": 0}),
        ),
        201,
    )
    .await;
    assert_eq!(again["id"], rule["id"]);
    assert_eq!(rules_of(&app, &ada).await.len(), 2);
    let before = user_event_kinds(&app, &ada.id).await.len();

    // Changed in place: a new delay, urgency and method; the id stays; evented.
    let path = format!(
        "/api/v1/users/{}/notification-rules/{}",
        ada.id,
        rule["id"].as_str().unwrap()
    );
    let changed = ok(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"delay_minutes": 5, "urgency": "low", "contact_method_id": second["id"]}),
        ),
        200,
    )
    .await;
    assert_eq!(changed["id"], rule["id"]);
    assert_eq!(changed["delay_minutes"], 5);
    assert_eq!(changed["urgency"], "low");
    assert_eq!(changed["contact_method_id"], second["id"]);
    let kinds = user_event_kinds(&app, &ada.id).await;
    assert_eq!(kinds.len(), before + 1);
    assert_eq!(kinds.last().unwrap(), "user.notification_rule_changed");
    // Refusals name the field and change nothing.
    for (body, status, field) in [
        (json!({"delay_minutes": 2000}), 400, Some("delay_minutes")),
        (json!({"urgency": "medium"}), 400, Some("urgency")),
        (
            json!({"contact_method_id": "nope"}),
            400,
            Some("contact_method_id"),
        ),
    ] {
        let r = patch(&app, &path, &ada.token, &body).send().await.unwrap();
        let code = if status == 400 {
            "invalid_field"
        } else {
            "conflict"
        };
        expect_error(r, status, code, field).await;
    }
    let bobs = add_webhook(&app, &bob, &hook.url).await;
    let r = patch(
        &app,
        &path,
        &ada.token,
        &json!({"contact_method_id": bobs["id"]}),
    )
    .send()
    .await
    .unwrap();
    expect_error(r, 400, "invalid_field", Some("contact_method_id")).await;
    // Just like another of her rules: a conflict.
    ok(
        app.post(
            &format!("/api/v1/users/{}/notification-rules", ada.id),
            &ada.token,
            &json!({"contact_method_id": first["id"], "delay_minutes": 0}),
        ),
        201,
    )
    .await;
    let r = patch(
        &app,
        &path,
        &ada.token,
        &json!({"delay_minutes": 0, "urgency": "high", "contact_method_id": first["id"]}),
    )
    .send()
    .await
    .unwrap();
    expect_error(r, 409, "conflict", None).await;
    // Someone else's rules are not yours; an admin's are anyone's.
    let r = patch(&app, &path, &bob.token, &json!({"delay_minutes": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = patch(
        &app,
        &format!(
            "/api/v1/users/{}/notification-rules/00000000-0000-7000-8000-000000000000",
            ada.id
        ),
        &ada.token,
        &json!({"delay_minutes": 1}),
    )
    .send()
    .await
    .unwrap();
    expect_error(r, 404, "not_found", None).await;
    let by_admin = ok(
        patch(&app, &path, &app.admin.token, &json!({"delay_minutes": 7})),
        200,
    )
    .await;
    assert_eq!(by_admin["delay_minutes"], 7);
    let rules = rules_of(&app, &ada).await;
    assert_eq!(rules.len(), 3);
    assert!(hook.count() == 0, "nothing was paged");
    app.stop().await;
}

/// A signed-in form post; returns (status, HTML).
async fn form(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn a_first_method_added_on_a_profile_brings_the_rules_too(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |s| {
        s.sms.account_sid = Some("AC123".into());
        s.sms.auth_token = Some("secret".into());
        s.sms.from = Some("+15550000000".into());
    })
    .await
    else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let cy = member(&app, "cy@example.com", "Cy", "responder").await;
    let hook = Receiver::spawn().await;
    let (cookie, csrf) = session_for(&app, "ada@example.com", PASSWORD).await;
    let page = web_get_as(&app, "/profile", &cookie).await;
    assert!(
        page.contains("You cannot be reached: you have no contact method."),
        "{page}"
    );
    // A refused form keeps what was typed and says why beside the field.
    let (status, page) = form(
        &app,
        &cookie,
        "/profile/contact-methods",
        &[
            ("csrf", &csrf),
            ("kind", "sms"),
            ("label", "phone"),
            ("address", "0155 555"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        page.contains("value=\"0155 555\"") && page.contains("type=\"tel\""),
        "{page}"
    );
    assert!(
        page.contains("id=\"cm-address-error\">Must be a phone number in international form"),
        "{page}"
    );
    assert!(rules_of(&app, &ada).await.is_empty());
    let (status, page) = form(
        &app,
        &cookie,
        "/profile/contact-methods",
        &[
            ("csrf", &csrf),
            ("kind", "webhook"),
            ("label", "bot"),
            ("address", &hook.url),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(
            "It is your first way to be reached, so two notification rules now page you through it at once, one for high-urgency and one for low-urgency incidents; change them below."
        ),
        "{page}"
    );
    // Reached for either urgency now: no warning.
    assert!(
        !page.contains("cannot be reached") && !page.contains("reach-warning"),
        "{page}"
    );
    let rules = rules_of(&app, &ada).await;
    assert_eq!(
        rules
            .iter()
            .map(|r| (r["delay_minutes"].as_u64(), r["urgency"].as_str()))
            .collect::<Vec<_>>(),
        [(Some(0), Some("high")), (Some(0), Some("low"))]
    );

    // An admin adds an SMS method for Cy from Cy's profile page: Cy gets the rule, and the
    // log says the admin did it.
    let (admin_cookie, admin_csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let page = web_get_as(
        &app,
        &format!("/users/{}/profile?kind=sms", cy.id),
        &admin_cookie,
    )
    .await;
    assert!(
        page.contains("Cy cannot be reached: they have no contact method.")
            && page.contains("Mobile number")
            && page.contains("type=\"tel\""),
        "{page}"
    );
    let (status, page) = form(
        &app,
        &admin_cookie,
        &format!("/users/{}/profile/contact-methods", cy.id),
        &[
            ("csrf", &admin_csrf),
            ("kind", "sms"),
            ("label", "phone"),
            ("address", "+1 415 555 0123"),
            ("password", &app.admin.password),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(
            "It is their first way to be reached, so two notification rules now page them through it at once, one for high-urgency and one for low-urgency incidents; change them below."
        ),
        "{page}"
    );
    assert!(!page.contains("Cy cannot be reached"), "{page}");
    let methods = get(
        &app,
        &format!("/api/v1/users/{}/contact-methods", cy.id),
        &cy.token,
    )
    .await;
    assert_eq!(methods["items"][0]["address"], "+14155550123");
    let rules = rules_of(&app, &cy).await;
    assert_eq!(
        rules
            .iter()
            .map(|r| (r["urgency"].as_str(), &r["contact_method_id"]))
            .collect::<Vec<_>>(),
        [
            (Some("high"), &methods["items"][0]["id"]),
            (Some("low"), &methods["items"][0]["id"])
        ]
    );
    let added = rule_added_events(&app, &cy.id).await;
    assert_eq!(added.len(), 2);
    for (e, r) in added.iter().zip(&rules) {
        assert_eq!(e["data"]["rule_id"], r["id"], "{e}");
        assert_eq!(e["data"]["first_method"], true, "{e}");
        assert!(e["actor"].as_str().unwrap().starts_with("user:"), "{e}");
    }

    // A responder cannot manage someone else's methods, by page or by form.
    let page = web_get_as(&app, &format!("/users/{}/profile", cy.id), &cookie).await;
    assert!(page.contains("Not allowed"), "{page}");
    let (status, _) = form(
        &app,
        &cookie,
        &format!("/users/{}/profile/contact-methods", cy.id),
        &[
            ("csrf", &csrf),
            ("kind", "webhook"),
            ("label", "x"),
            ("address", &hook.url),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(rules_of(&app, &cy).await.len(), 2);
    assert_eq!(hook.count(), 0, "nothing was paged");
    app.stop().await;
}

async fn a_level_that_reaches_nobody_is_flagged_and_its_page_says_so(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let cy = member(&app, "cy@example.com", "Cy", "responder").await;
    let ada_hook = Receiver::spawn().await;
    let bob_hook = Receiver::spawn().await;
    // Ada's first method brings her rules for either urgency.
    add_webhook(&app, &ada, &ada_hook.url).await;
    // Night has Cy on call now, and Cy has no way to be reached.
    let night = ok(
        app.post(
            "/api/v1/schedules",
            &admin,
            &json!({"name": "Night", "time_zone": "UTC", "layers": [{"name": "rota",
                    "start": "2026-11-20T09:00", "users": [cy.id],
                    "turn": {"count": 1, "unit": "weeks"}}]}),
        ),
        201,
    )
    .await;
    let level = |delay: u32, target: Value| json!({"delay_minutes": delay, "targets": [target]});
    let policy = ok(
        app.post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "Primary", "levels": [
                level(5, json!({"type": "user", "id": bob.id})),
                level(5, json!({"type": "schedule", "id": night["id"]})),
                level(5, json!({"type": "user", "id": ada.id})),
            ]}),
        ),
        201,
    )
    .await;
    let policy_id = policy["id"].as_str().unwrap().to_owned();
    // The API says which levels reach nobody, and why.
    let reach = &policy["reach"];
    assert_eq!(
        reach
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["reachable"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [false, false, true],
        "{reach}"
    );
    assert_eq!(reach[0]["reasons"][0]["code"], "no_contact_method");
    assert_eq!(reach[0]["reasons"][0]["user_id"], bob.id.as_str());
    assert_eq!(
        reach[0]["reasons"][0]["message"],
        "Bob has no contact method"
    );
    assert_eq!(reach[1]["reasons"][0]["schedule_id"], night["id"]);
    assert_eq!(
        reach[1]["reasons"][0]["message"],
        "Cy, on call in Night now, has no contact method"
    );
    let got = get(
        &app,
        &format!("/api/v1/escalation-policies/{policy_id}"),
        &admin,
    )
    .await;
    assert_eq!(got["reach"], *reach);

    let service = ok(
        app.post(
            "/api/v1/services",
            &admin,
            &json!({"name": "checkout", "escalation_policy_id": policy_id}),
        ),
        201,
    )
    .await;
    let service_id = service["id"].as_str().unwrap();
    // The pages warn: the policy (which level, why, a fix), the service, the profile; and the
    // dashboard's warnings name both levels.
    let (cookie, _) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let page = web_get_as(&app, &format!("/escalation-policies/{policy_id}"), &cookie).await;
    assert!(page.contains("Levels 1, 2 reach nobody now"), "{page}");
    assert!(
        page.contains(&format!(
            "Bob has no contact method. <a href=\"/users/{}/profile#reach\">Add a contact method for Bob</a>",
            bob.id
        )),
        "{page}"
    );
    let page = web_get_as(&app, &format!("/services/{service_id}"), &cookie).await;
    assert!(
        page.contains("Level 1 reaches nobody: Bob has no contact method.")
            && page.contains(
                "Level 2 reaches nobody: Cy, on call in Night now, has no contact method."
            ),
        "{page}"
    );
    let (bob_cookie, _) = session_for(&app, "bob@example.com", PASSWORD).await;
    let page = web_get_as(&app, "/profile", &bob_cookie).await;
    assert!(
        page.contains("You cannot be reached: you have no contact method.")
            && page.contains(">Primary</a>, but pages to you go nowhere until this is fixed."),
        "{page}"
    );
    let bob_user = app.state.store.user(bob.id.parse().unwrap()).await.unwrap();
    let warnings = klaxon_server::oncall::web::unreachable_for_dashboard(&app.state, &bob_user)
        .await
        .unwrap();
    let texts: Vec<&str> = warnings.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "You cannot be reached: you have no contact method. Add one on your profile.",
            "Primary: Level 1 reaches nobody: Bob has no contact method.",
            "Primary: Level 2 reaches nobody: Cy, on call in Night now, has no contact method.",
        ]
    );
    assert!(warnings[0].yours && warnings[0].href == "/profile#reach");
    // The dashboard shows them, each with a link to fix it.
    let dash = web_get_as(&app, "/", &bob_cookie).await;
    assert_eq!(
        dash.matches("data-testid=\"reach-warning\"").count(),
        3,
        "{dash}"
    );
    assert!(
        dash.contains("<a href=\"/profile#reach\">Fix it</a>"),
        "{dash}"
    );
    assert_eq!(
        warnings[1].href,
        format!("/escalation-policies/{policy_id}#level-1")
    );

    // An incident: levels 1 and 2 page nobody and the timeline says so, in the step's own
    // write; level 3 pages Ada, once.
    let integration = ok(
        app.post(
            &format!("/api/v1/services/{service_id}/integrations"),
            &admin,
            &json!({"name": "prom", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": integration["key"], "event_action": "trigger",
                      "dedup_key": "down", "payload": {"summary": "Checkout is down",
                      "source": "lb-1", "severity": "critical"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let tick = || async { app.state.engine.tick().await.unwrap() };
    tick().await;
    let incidents = get(&app, "/api/v1/incidents", &admin).await;
    let incident = incidents["items"][0]["id"].as_str().unwrap().to_owned();
    let unreachable = || async {
        let t = get(
            &app,
            &format!("/api/v1/incidents/{incident}/timeline"),
            &admin,
        )
        .await;
        t["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "incident.level_unreachable")
            .cloned()
            .collect::<Vec<Value>>()
    };
    let seen = unreachable().await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["data"]["level"], 1);
    assert_eq!(seen[0]["data"]["policy_id"], policy_id.as_str());
    assert_eq!(
        seen[0]["data"]["reasons"][0]["message"],
        "Bob has no contact method"
    );
    assert_eq!((ada_hook.count(), bob_hook.count()), (0, 0));
    app.clock.advance(SignedDuration::from_mins(5));
    tick().await;
    let seen = unreachable().await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1]["data"]["level"], 2);
    assert_eq!(
        seen[1]["data"]["reasons"][0]["message"],
        "Cy, on call in Night now, has no contact method"
    );
    assert_eq!(ada_hook.count(), 0, "nobody paged yet");
    app.clock.advance(SignedDuration::from_mins(5));
    tick().await;
    assert_eq!(ada_hook.count(), 1, "level 3 paged Ada");
    assert_eq!(unreachable().await.len(), 2, "level 3 reached someone");
    let sent = get(
        &app,
        &format!("/api/v1/incidents/{incident}/notifications"),
        &admin,
    )
    .await;
    let to: Vec<&str> = sent["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(to, [ada.id.as_str()], "{sent}");
    // In words on the incident's page.
    let page = web_get_as(&app, &format!("/incidents/{incident}"), &cookie).await;
    assert!(
        page.contains("level 1 reached nobody: Bob has no contact method")
            && page.contains(
                "level 2 reached nobody: Cy, on call in Night now, has no contact method"
            ),
        "{page}"
    );

    // Bob adds a way to be reached, and nothing else: the rules it brings reach him for either
    // urgency, so level 1 reaches him and the warnings go.
    add_webhook(&app, &bob, &bob_hook.url).await;
    let got = get(
        &app,
        &format!("/api/v1/escalation-policies/{policy_id}"),
        &admin,
    )
    .await;
    assert_eq!(got["reach"][0]["reachable"], true);
    assert_eq!(got["reach"][0]["unreachable_for"], json!([]));
    assert_eq!(got["reach"][0]["reasons"], json!([]));
    let page = web_get_as(&app, &format!("/escalation-policies/{policy_id}"), &cookie).await;
    assert!(
        page.contains("Level 2 reaches nobody now") && !page.contains("Bob has no"),
        "{page}"
    );
    let page = web_get_as(&app, "/profile", &bob_cookie).await;
    assert!(!page.contains("You cannot be reached"), "{page}");
    let warnings = klaxon_server::oncall::web::unreachable_for_dashboard(&app.state, &bob_user)
        .await
        .unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    // Ada's page went out once, and nothing else to anyone.
    app.clock.advance(SignedDuration::from_mins(30));
    tick().await;
    assert_eq!((ada_hook.count(), bob_hook.count()), (1, 0));
    app.stop().await;
}

async fn each_urgency_is_judged_and_a_page_by_its_incidents(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    // Their first methods brought each a rule per urgency: Ann keeps her high-urgency one only,
    // Bob his low-urgency one only.
    let ann = member(&app, "ann@example.com", "Ann", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let (ann_hook, bob_hook) = (Receiver::spawn().await, Receiver::spawn().await);
    let anns = add_webhook(&app, &ann, &ann_hook.url).await;
    let bobs = add_webhook(&app, &bob, &bob_hook.url).await;
    for (who, method, urgency) in [(&ann, &anns, "low"), (&bob, &bobs, "high")] {
        let rule = method["first_rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["urgency"] == urgency)
            .unwrap();
        let path = format!(
            "/api/v1/users/{}/notification-rules/{}",
            who.id,
            rule["id"].as_str().unwrap()
        );
        ok(delete(&app, &path, &who.token), 204).await;
    }
    let level =
        |who: &Member| json!({"delay_minutes": 5, "targets": [{"type": "user", "id": who.id}]});
    let policy = ok(
        app.post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "Days", "levels": [level(&ann), level(&bob)]}),
        ),
        201,
    )
    .await;
    let policy_id = policy["id"].as_str().unwrap().to_owned();
    // The API says which urgency each level misses, and why.
    let reach = &policy["reach"];
    assert_eq!(reach[0]["reachable"], false, "{reach}");
    assert_eq!(reach[0]["unreachable_for"], json!(["low"]));
    assert_eq!(
        reach[0]["reasons"],
        json!([{"code": "no_rule_for_urgency", "urgency": "low", "now": true,
                "user_id": ann.id, "message": "Ann has no low-urgency notification rule"}])
    );
    assert_eq!(reach[1]["unreachable_for"], json!(["high"]));
    assert_eq!(
        reach[1]["reasons"][0]["message"],
        "Bob has no high-urgency notification rule"
    );
    let service = ok(
        app.post(
            "/api/v1/services",
            &admin,
            &json!({"name": "checkout", "escalation_policy_id": policy_id}),
        ),
        201,
    )
    .await;
    let service_id = service["id"].as_str().unwrap();

    // Each page's warning says which urgency is affected.
    let (cookie, _) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let page = web_get_as(&app, &format!("/services/{service_id}"), &cookie).await;
    assert!(
        page.contains(
            "Level 1 reaches nobody for low-urgency incidents: Ann has no low-urgency notification rule."
        ) && page.contains(
            "Level 2 reaches nobody for high-urgency incidents: Bob has no high-urgency notification rule."
        ),
        "{page}"
    );
    let page = web_get_as(&app, &format!("/escalation-policies/{policy_id}"), &cookie).await;
    assert!(
        page.contains("Levels 1 (low urgency), 2 (high urgency) reach nobody now")
            && page.contains("Reaches nobody now for low-urgency incidents.")
            && page.contains("Ann has no low-urgency notification rule."),
        "{page}"
    );
    let (ann_cookie, _) = session_for(&app, "ann@example.com", PASSWORD).await;
    let page = web_get_as(&app, "/profile", &ann_cookie).await;
    assert!(
        page.contains(
            "You cannot be reached for low-urgency incidents: you have no low-urgency notification rule. Add one below."
        ),
        "{page}"
    );
    let ann_user = app.state.store.user(ann.id.parse().unwrap()).await.unwrap();
    let warnings = klaxon_server::oncall::web::unreachable_for_dashboard(&app.state, &ann_user)
        .await
        .unwrap();
    let texts: Vec<&str> = warnings.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "You cannot be reached for low-urgency incidents: you have no low-urgency notification rule. Add one on your profile.",
            "Days: Level 1 reaches nobody for low-urgency incidents: Ann has no low-urgency notification rule.",
            "Days: Level 2 reaches nobody for high-urgency incidents: Bob has no high-urgency notification rule.",
        ]
    );

    // A page judges its incident's urgency: a low-urgency one reaches nobody at level 1 and
    // says why, then pages Bob at level 2; a high-urgency one pages Ann at once.
    let declare = |urgency: &str| {
        app.post(
            "/api/v1/incidents",
            &admin,
            &json!({"title": format!("{urgency} one"), "severity": "SEV3",
                    "service_id": "checkout", "urgency": urgency}),
        )
    };
    let low = ok(declare("low"), 201).await;
    let tick = || async { app.state.engine.tick().await.unwrap() };
    tick().await;
    let unreachable = |id: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let t = get(app, &format!("/api/v1/incidents/{id}/timeline"), &admin).await;
            t["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "incident.level_unreachable")
                .cloned()
                .collect::<Vec<Value>>()
        }
    };
    let low_id = low["id"].as_str().unwrap().to_owned();
    let seen = unreachable(low_id.clone()).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["data"]["level"], 1);
    assert_eq!(
        seen[0]["data"]["reasons"],
        json!([{"code": "no_rule_for_urgency", "urgency": "low", "now": true,
                "user_id": ann.id, "message": "Ann has no low-urgency notification rule"}])
    );
    assert_eq!((ann_hook.count(), bob_hook.count()), (0, 0));
    app.clock.advance(SignedDuration::from_mins(5));
    tick().await;
    assert_eq!(
        (ann_hook.count(), bob_hook.count()),
        (0, 1),
        "level 2 paged Bob"
    );
    assert_eq!(unreachable(low_id.clone()).await.len(), 1);
    let page = web_get_as(&app, &format!("/incidents/{low_id}"), &cookie).await;
    assert!(
        page.contains("level 1 reached nobody: Ann has no low-urgency notification rule"),
        "{page}"
    );
    let high = ok(declare("high"), 201).await;
    tick().await;
    assert_eq!(
        (ann_hook.count(), bob_hook.count()),
        (1, 1),
        "Ann paged at once"
    );
    assert!(
        unreachable(high["id"].as_str().unwrap().to_owned())
            .await
            .is_empty()
    );
    app.stop().await;
}

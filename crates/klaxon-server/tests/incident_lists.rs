//! Finding incidents: the API's filters and stable pagination on both backends, and the web
//! list with its open-by-severity cards and filter form.
use crate::common;

use jiff::SignedDuration;
use klaxon_domain::Clock as _;
use serde_json::{Value, json};

use common::{Backend, TestApp, expect_error};

async fn declare(app: &TestApp, token: &str, title: &str, severity: &str) -> Value {
    let r = app
        .post(
            "/api/v1/incidents",
            token,
            &json!({"title": title, "severity": severity, "description": format!("about {title}")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn numbers(app: &TestApp, token: &str, query: &str) -> Vec<i64> {
    let r = app
        .get(&format!("/api/v1/incidents?{query}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{query}: {}", r.text().await.unwrap());
    let body: Value = r.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_i64().unwrap())
        .collect()
}

async fn filters_and_pages(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let (_, bob) = app.user_with_token("bob@example.com", "responder").await;
    // #1 SEV1 by the admin, #2 SEV3 by Bob, an hour later #3 SEV2 by Bob, #4 SEV4 (resolved).
    declare(&app, &admin, "Checkout errors", "SEV1").await;
    declare(&app, &bob, "Slow search", "SEV3").await;
    app.clock.advance(SignedDuration::from_hours(1));
    let later = app.clock.now();
    declare(&app, &bob, "checkout latency in EU", "SEV2").await;
    let fourth = declare(&app, &admin, "Disk full", "sev4").await;
    let r = app
        .post(
            &format!(
                "/api/v1/incidents/{}/resolve",
                fourth["id"].as_str().unwrap()
            ),
            &admin,
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    assert_eq!(numbers(&app, &admin, "").await, vec![4, 3, 2, 1]);
    assert_eq!(numbers(&app, &admin, "open=true").await, vec![3, 2, 1]);
    assert_eq!(numbers(&app, &admin, "status=resolved").await, vec![4]);
    assert_eq!(
        numbers(&app, &admin, "severity=SEV1,sev2").await,
        vec![3, 1]
    );
    assert_eq!(numbers(&app, &admin, "q=CHECKOUT").await, vec![3, 1]);
    assert_eq!(numbers(&app, &admin, "q=about%20slow").await, vec![2]);
    let from = later.to_string().replace(':', "%3A");
    assert_eq!(
        numbers(&app, &admin, &format!("from={from}")).await,
        vec![4, 3]
    );
    let to = later.to_string().replace(':', "%3A");
    assert_eq!(numbers(&app, &admin, &format!("to={to}")).await, vec![2, 1]);
    // "Mine": Bob reported #2 and #3.
    assert_eq!(numbers(&app, &bob, "mine=true").await, vec![3, 2]);
    assert_eq!(numbers(&app, &admin, "mine=true&open=true").await, vec![1]);

    // A team: the incidents of the services its escalation policy pages for.
    let me: Value = app
        .get("/api/v1/me", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = app
        .post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "payments", "repeat": 0, "levels": [
                {"delay_minutes": 5, "targets": [{"type": "user", "id": me["user"]["id"]}]}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let team = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(
            "/api/v1/services",
            &admin,
            &json!({"name": "payments", "escalation_policy_id": team}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let service = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(
            "/api/v1/incidents",
            &admin,
            &json!({"title": "Card declines", "severity": "SEV2", "service_id": service}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        numbers(&app, &admin, &format!("team={team}")).await,
        vec![5]
    );
    let r = app
        .get("/api/v1/incidents?team=nope", &admin)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("team")).await;

    // Pages of 1 through a filter: each match once, newest first, then no cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/incidents?severity=SEV1,SEV2,SEV3&limit=1&cursor={c}"),
            None => "/api/v1/incidents?severity=SEV1,SEV2,SEV3&limit=1".to_owned(),
        };
        let body: Value = app
            .get(&q, &admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["number"].as_i64().unwrap()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec![5, 3, 2, 1]);

    // Bad filters name their field.
    for (q, field) in [
        ("severity=SEV9", "severity"),
        ("status=open", "status"),
        ("from=yesterday", "from"),
    ] {
        let r = app
            .get(&format!("/api/v1/incidents?{q}"), &admin)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid_field", Some(field)).await;
    }
    // Malformed queries are refused by the query parser, naming the field when it can.
    let r = app
        .get("/api/v1/incidents?mine=perhaps", &admin)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_query", Some("mine")).await;
    let r = app
        .get("/api/v1/incidents?colour=red", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    app.stop().await;
}

async fn web_list_filters_and_counts(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    declare(&app, &admin, "Checkout errors", "SEV1").await;
    declare(&app, &admin, "Slow search", "SEV3").await;
    let html = common::web_get(&app, "/incidents").await;
    assert!(
        html.contains("data-testid=\"open-SEV1\"><span class=\"num\">1</span>"),
        "{html}"
    );
    assert!(
        html.contains("data-testid=\"open-SEV3\"><span class=\"num\">1</span>"),
        "{html}"
    );
    assert!(
        html.contains("data-testid=\"open-SEV2\"><span class=\"num\">0</span>"),
        "{html}"
    );
    // The dashboard lists open incidents, worst first.
    let home = common::web_get(&app, "/").await;
    let (sev1, sev3) = (
        home.find("Checkout errors").unwrap(),
        home.find("Slow search").unwrap(),
    );
    assert!(sev1 < sev3, "SEV1 before SEV3 on the dashboard");
    assert_eq!(home.matches("data-testid=\"open-incident\"").count(), 2);
    let html = common::web_get(&app, "/incidents?status=open&severity=SEV3&q=slow").await;
    assert!(
        html.contains("Slow search") && !html.contains("Checkout errors"),
        "{html}"
    );
    let html = common::web_get(&app, "/incidents?severity=SEV2").await;
    assert!(html.contains("No incidents match."), "{html}");

    // The incident page offers paging someone in; a role nobody holds is refused on the page.
    let list: Value = app
        .get("/api/v1/incidents?severity=SEV1", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (cookie, csrf) = common::session_for(&app, &app.admin.email, &app.admin.password).await;
    let html = common::web_get(&app, &format!("/incidents/{id}")).await;
    assert!(
        html.contains("id=\"page-form\"") && html.contains("value=\"role:scribe\""),
        "{html}"
    );
    let r = app
        .http
        .post(format!("{}/incidents/{id}/page", app.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("target", "role:scribe"),
            ("message", "notes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    // Beside the "who" box, in words, with the choice kept.
    let html = r.text().await.unwrap();
    assert!(
        html.contains("id=\"page-target-error\">Nobody holds the role scribe.</p>"),
        "{html}"
    );
    assert!(html.contains("<option value=\"role:scribe\" selected>"));
    app.stop().await;
}

on_both_backends!(filters_and_pages, web_list_filters_and_counts);

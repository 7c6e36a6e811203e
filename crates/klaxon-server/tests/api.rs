//! Scenario tests of the REST API against the real server.
use crate::common;

use common::{Backend, TestApp, expect_error};
use klaxon_server::config::MetricsAccess;
use serde_json::{Value, json};

on_both_backends!(
    tokens_authenticate_and_roles_limit_them,
    users_are_created_validated_and_paginated,
    bad_input_is_refused_and_writes_nothing,
    tokens_are_created_listed_and_revoked,
    every_change_is_an_audited_event,
    metric_labels_stay_bounded,
    body_errors_name_no_rust_types,
    an_array_body_is_refused,
);

async fn tokens_authenticate_and_roles_limit_them(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let r = app
        .http
        .get(format!("{}/api/v1/me", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    expect_error(r, 401, "unauthorized", None).await;
    // The scheme's name is case-insensitive (RFC 9110): any spelling of "Bearer" is taken.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = app
            .http
            .get(format!("{}/api/v1/me", app.url))
            .header("authorization", format!("{scheme} {}", app.admin.token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
    }
    let r = app
        .get("/api/v1/me", "klx_not-a-real-token")
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "unauthorized", None).await;

    let me: Value = app
        .get("/api/v1/me", &app.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "admin@localhost.localdomain");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["token"]["prefix"], app.admin.token[..12]);

    let (_, viewer) = app.user_with_token("viewer@example.com", "viewer").await;
    let r = app.get("/api/v1/users", &viewer).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .post("/api/v1/users", &viewer, &json!({"email": "x@example.com", "name": "X", "role": "viewer", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "forbidden", None).await;
    let r = app
        .get(
            "/api/v1/events?subject_type=system&subject_id=klaxon",
            &viewer,
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "forbidden", None).await;
    // A token can never be worth more than the person who makes it.
    let r = app
        .post(
            "/api/v1/tokens",
            &viewer,
            &json!({"name": "escalate", "role": "admin"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "forbidden", None).await;
    app.stop().await;
}

async fn users_are_created_validated_and_paginated(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let r = app
        .post("/api/v1/users", t, &json!({"email": " Grace@Example.com", "name": "Grace Hopper", "role": "responder", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let grace: Value = r.json().await.unwrap();
    assert_eq!(grace["email"], "grace@example.com");
    assert_eq!(grace["role"], "responder");
    assert!(grace.get("password").is_none() && grace.get("password_hash").is_none());
    let id = grace["id"].as_str().unwrap();
    let shown: Value = app
        .get(&format!("/api/v1/users/{id}"), t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown, grace);
    let r = app
        .get("/api/v1/users/01234567-89ab-7def-8123-456789abcdef", t)
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found", None).await;
    // Not an id at all: the caller's mistake, named.
    for path in [
        "/api/v1/users/not-an-id",
        "/api/v1/users/not-an-id/notification-rules",
        "/api/v1/users/not-an-id/contact-methods",
    ] {
        let r = app.get(path, t).send().await.unwrap();
        expect_error(r, 400, "invalid_field", Some("id")).await;
    }
    let r = app
        .http
        .delete(format!(
            "{}/api/v1/users/{id}/notification-rules/x",
            app.url
        ))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("rule_id")).await;

    // Same e-mail, different case: a conflict on the e-mail field.
    let r = app
        .post("/api/v1/users", t, &json!({"email": "GRACE@example.com", "name": "Other", "role": "viewer", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict", Some("email")).await;

    for i in 0..4 {
        app.post("/api/v1/users", t, &json!({"email": format!("p{i}@example.com"), "name": "P", "role": "viewer", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
    }
    // Six users in pages of four, via the opaque cursor.
    let first: Value = app
        .get("/api/v1/users?limit=4", t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 4);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(&format!("/api/v1/users?limit=4&cursor={cursor}"), t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert!(second["next_cursor"].is_null());
    let all: Vec<_> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|u| u["id"].clone())
        .collect();
    let unique: std::collections::HashSet<_> = all.iter().map(|v| v.to_string()).collect();
    assert_eq!(unique.len(), 6);
    let r = app.get("/api/v1/users?cursor=zz", t).send().await.unwrap();
    expect_error(r, 400, "invalid_field", Some("cursor")).await;
    let r = app.get("/api/v1/users?limit=0", t).send().await.unwrap();
    expect_error(r, 400, "invalid_field", Some("limit")).await;
    let r = app.get("/api/v1/users?limit=ten", t).send().await.unwrap();
    expect_error(r, 400, "invalid_query", Some("limit")).await;
    app.stop().await;
}

async fn bad_input_is_refused_and_writes_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let valid = json!({"email": "ok@example.com", "name": "Ok", "role": "viewer", "password": "correct horse battery"});
    let with = |k: &str, v: Value| {
        let mut body = valid.clone();
        body[k] = v;
        body
    };
    let cases = [
        (with("email", json!("not-an-email")), "email"),
        (with("role", json!("root")), "role"),
        (with("password", json!("short")), "password"),
        (with("name", json!("   ")), "name"),
        (with("name", json!(42)), "name"),
        (with("extra", json!(true)), "extra"),
    ];
    for (body, field) in cases {
        let r = app.post("/api/v1/users", t, &body).send().await.unwrap();
        expect_error(r, 400, "invalid_field", Some(field)).await;
    }
    let mut missing = valid.clone();
    missing.as_object_mut().unwrap().remove("password");
    let r = app.post("/api/v1/users", t, &missing).send().await.unwrap();
    expect_error(r, 400, "invalid_field", Some("password")).await;

    let r = app
        .http
        .post(format!("{}/api/v1/users", app.url))
        .bearer_auth(t)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_json", None).await;
    let r = app
        .http
        .post(format!("{}/api/v1/users", app.url))
        .bearer_auth(t)
        .body("email=x")
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "unsupported_media_type", None).await;
    let huge = json!({"email": "big@example.com", "name": "x".repeat(2 * 1024 * 1024), "role": "viewer", "password": "correct horse battery"});
    let r = app.post("/api/v1/users", t, &huge).send().await.unwrap();
    // The unread rest of the body means the server drops the socket: it must say so, or the
    // client's pool reuses a dead connection for the next request.
    assert_eq!(r.headers()["connection"], "close");
    expect_error(r, 413, "payload_too_large", None).await;
    let r = app
        .http
        .get(format!("{}/api/v1/nothing-here", app.url))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found", None).await;

    // Nothing of the above was written: only the bootstrap admin exists.
    assert_eq!(app.state.store.count_users().await.unwrap(), 1);
    app.stop().await;
}

async fn tokens_are_created_listed_and_revoked(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (responder_id, responder) = app.user_with_token("r@example.com", "responder").await;
    let r = app
        .post(
            "/api/v1/tokens",
            &responder,
            &json!({"name": "deploy bot", "role": "viewer"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("klx_"));
    let me: Value = app
        .get("/api/v1/me", &secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["role"].as_str(), me["token"]["name"].as_str()),
        (Some("viewer"), Some("deploy bot"))
    );

    // A responder sees only its own tokens; an admin sees all. Secrets are never listed.
    let mine: Value = app
        .get("/api/v1/tokens", &responder)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("secret").is_none())
    );
    let all: Value = app
        .get("/api/v1/tokens", &app.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);

    // Someone else's token does not exist for a non-admin.
    let admin_token_id = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user_id"] != responder_id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap();
    let r = app
        .http
        .delete(format!("{}/api/v1/tokens/{admin_token_id}", app.url))
        .bearer_auth(&responder)
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found", None).await;

    let id = created["id"].as_str().unwrap();
    let r = app
        .http
        .delete(format!("{}/api/v1/tokens/{id}", app.url))
        .bearer_auth(&responder)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app.get("/api/v1/me", &secret).send().await.unwrap();
    expect_error(r, 401, "unauthorized", None).await;
    let r = app
        .http
        .delete(format!("{}/api/v1/tokens/{id}", app.url))
        .bearer_auth(&responder)
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found", None).await;
    let r = app
        .post(
            "/api/v1/tokens",
            &responder,
            &json!({"name": "", "role": "viewer"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("name")).await;
    app.stop().await;
}

async fn every_change_is_an_audited_event(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let me: Value = app
        .get("/api/v1/me", t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token_id = me["token"]["id"].as_str().unwrap();
    let user: Value = app
        .post("/api/v1/users", t, &json!({"email": "new@example.com", "name": "New", "role": "viewer", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = user["id"].as_str().unwrap();
    let evs: Value = app
        .get(
            &format!("/api/v1/events?subject_type=user&subject_id={id}"),
            t,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = evs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "user.created");
    assert_eq!(items[0]["actor"], format!("token:{token_id}"));
    assert_eq!(items[0]["data"]["email"], "new@example.com");
    assert_eq!(items[0]["at"], "2026-11-21T09:00:00Z"); // the fake clock's time
    let boot: Value = app
        .get("/api/v1/events?subject_type=system&subject_id=klaxon", t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(boot["items"][0]["kind"], "system.bootstrapped");
    let r = app
        .get("/api/v1/events?subject_type=planet&subject_id=x", t)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("subject_type")).await;
    let r = app
        .get("/api/v1/events?subject_type=user", t)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_query", Some("subject_id")).await;
    app.stop().await;
}

/// Errors the framework makes itself have the API's error shape too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_errors_have_the_error_shape() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let r = app
        .http
        .put(format!("{}/api/v1/users", app.url))
        .bearer_auth(&app.admin.token)
        .send()
        .await
        .unwrap();
    let allow = r.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let e = expect_error(r, 405, "method_not_allowed", None).await;
    assert!(e["message"].as_str().unwrap().contains("PUT"), "{e}");
    let r = app
        .http
        .post(format!("{}/api/v1/me", app.url))
        .bearer_auth(&app.admin.token)
        .send()
        .await
        .unwrap();
    expect_error(r, 405, "method_not_allowed", None).await;
    // A path segment that is not UTF-8 once decoded.
    let r = app
        .get("/api/v1/users/%FF", &app.admin.token)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "bad_request", None).await;
    // Web pages keep their own answers.
    let r = app
        .http
        .put(format!("{}/login", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(
        r.headers()
            .get("content-type")
            .is_none_or(|v| !v.to_str().unwrap().contains("json"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_request_ids() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics.token = Some(METRICS_TOKEN.into());
    })
    .await
    else {
        return;
    };
    let r = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(rid.len(), 36, "a UUID request id");
    let r = app
        .http
        .get(format!("{}/healthz", app.url))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "abc-123",
        "a caller's request id is kept"
    );
    assert_eq!(
        app.http
            .get(format!("{}/readyz", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.get("/api/v1/me", &app.admin.token)
        .send()
        .await
        .unwrap();
    // Only with the token.
    for token in [None, Some("wrong-token-0123456789")] {
        let mut r = app.http.get(format!("{}/metrics", app.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        expect_error(r.send().await.unwrap(), 401, "unauthorized", None).await;
    }
    let metrics = app
        .http
        .get(format!("{}/metrics", app.url))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "klaxon_http_requests_total{method=\"GET\",path=\"/api/v1/me\",status=\"200\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("klaxon_http_request_duration_seconds"));
    // Readiness follows the database, within the second a probe's result is shared for.
    app.state.store.close().await;
    let mut r = None;
    for _ in 0..30 {
        let got = app
            .http
            .get(format!("{}/readyz", app.url))
            .send()
            .await
            .unwrap();
        if got.status() != 200 {
            r = Some(got);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    expect_error(r.expect("not ready within 3 s"), 503, "unavailable", None).await;
    app.stop().await;
}

const METRICS_TOKEN: &str = "prometheus-scrape-token-1234";

/// `/metrics` is nobody's by default, and can be open, behind a token (above) or on an address
/// of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_access_is_configurable() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let r = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    let e = expect_error(r, 404, "not_found", None).await;
    assert!(
        e["message"].as_str().unwrap().contains("metrics.token"),
        "{e}"
    );
    app.stop().await;

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics.access = MetricsAccess::Listen;
        s.metrics.listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    })
    .await
    else {
        return;
    };
    let main = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404, "not on the main listener");
    // The server binds its second listener as it starts serving: wait until it is up.
    let mut attempts = 0;
    let own = loop {
        match app
            .http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
        {
            Ok(r) => break r,
            Err(e) if e.is_connect() && attempts < 100 => attempts += 1,
            Err(e) => panic!("metrics.listen: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(own.status(), 200);
    assert!(
        own.text()
            .await
            .unwrap()
            .contains("klaxon_http_requests_total")
    );
    app.stop().await;
}

/// A caller inventing methods or paths cannot add metric series: unknown methods are counted as
/// `other`, and paths by their route template (`unmatched` when none), never as sent.
async fn metric_labels_stay_bounded(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |s| s.metrics.access = MetricsAccess::Open).await else {
        return;
    };
    for i in 0..20 {
        let method =
            reqwest::Method::from_bytes(format!("INVENTED{i}{}", "X".repeat(200)).as_bytes())
                .unwrap();
        for path in [
            "/api/v1/me".to_owned(),
            format!("/nowhere/{i}/{}", "y".repeat(200)),
        ] {
            let r = app
                .http
                .request(method.clone(), format!("{}{path}", app.url))
                .bearer_auth(&app.admin.token)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_client_error(), "{path}: {}", r.status());
        }
    }
    let metrics = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("INVENTED"),
        "a method became a label: {metrics}"
    );
    assert!(
        !metrics.contains("/nowhere/"),
        "a raw path became a label: {metrics}"
    );
    assert!(
        metrics.contains(
            r#"klaxon_http_requests_total{method="other",path="/api/v1/me",status="405"} 20"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"klaxon_http_requests_total{method="other",path="unmatched""#),
        "{metrics}"
    );
    app.stop().await;
}

/// A body of the wrong shape is explained in JSON's terms, not by the Rust types behind it.
async fn body_errors_name_no_rust_types(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let token = app.admin.token.clone();
    let r = app
        .post("/api/v1/services", &token, &json!("a service"))
        .send()
        .await
        .unwrap();
    let error = expect_error(r, 400, "invalid_field", None).await;
    let message = error["message"].as_str().unwrap();
    assert!(message.ends_with("expected a JSON object"), "{message}");
    let r = app
        .post("/api/v1/services", &token, &json!({"name": "Numbers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(
            &format!("/api/v1/services/{id}/integrations"),
            &token,
            &json!({"name": "x", "kind": "generic", "rate_limit_per_minute": -1}),
        )
        .send()
        .await
        .unwrap();
    let error = expect_error(r, 400, "invalid_field", Some("rate_limit_per_minute")).await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.ends_with("expected a whole number, 0 or more"),
        "{message}"
    );
    assert!(!message.contains("u32"), "{message}");
    app.stop().await;
}

/// serde reads a struct from an array of its fields in order; a body must be an object, or
/// `[null, null]` would clear an incident's first two milestones (found by Schemathesis).
async fn an_array_body_is_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let token = app.admin.token.clone();
    let at = "2026-11-21T08:00:00Z";
    let body = json!({"title": "Checkout down", "severity": "SEV2", "impact_started_at": at,
                      "detected_at": at});
    let r = app
        .post("/api/v1/incidents", &token, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/incidents/{id}/milestones");
    let r = common::patch(&app, &path, &token, &json!([null, null]))
        .send()
        .await
        .unwrap();
    let error = expect_error(r, 400, "invalid_field", None).await;
    assert_eq!(
        error["message"],
        "the body: invalid type: sequence, expected a JSON object"
    );
    let r = app
        .post("/api/v1/services", &token, &json!([]))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", None).await;
    let r = app
        .get(&format!("/api/v1/incidents/{id}"), &token)
        .send()
        .await
        .unwrap();
    let incident: Value = r.json().await.unwrap();
    assert_eq!(
        incident["milestones"]["impact_started_at"], at,
        "{incident}"
    );
    assert_eq!(incident["milestones"]["detected_at"], at, "{incident}");
    app.stop().await;
}

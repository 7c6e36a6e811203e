//! Managing people: changing details and roles, deactivation, passwords, and the rules that
//! keep an organisation from locking itself out or leaving a hole in its on-call.
use crate::common;

use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use klaxon_domain::Clock as _;
use serde_json::{Value, json};

use common::{Backend, TestApp, expect_error, member, ok, post_login, refused, session_for};

const PASSWORD: &str = "correct horse battery";

async fn patch(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    app.http
        .patch(format!("{}/api/v1/users/{id}", app.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn ok_json(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.get("/api/v1/me", token).send().await.unwrap()
}

/// Whether `password` signs `email` in through the login form.
async fn can_log_in(app: &TestApp, email: &str, password: &str) -> bool {
    let (cookie, csrf) = common::login_form(app).await;
    let r = post_login(app, &cookie, &csrf, email, password).await;
    r.status() == reqwest::StatusCode::SEE_OTHER
}

/// Whether a session cookie still opens the dashboard.
async fn session_alive(app: &TestApp, cookie: &str) -> bool {
    let r = app
        .http
        .get(format!("{}/", app.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    r.status() == 200
}

async fn user_events(app: &TestApp, id: &str) -> Vec<String> {
    let v: Value = app
        .get(
            &format!("/api/v1/events?subject_type=user&subject_id={id}"),
            &app.admin.token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn admins_change_people_and_the_last_admin_stays(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let admin_id = ok_json(me(&app, &admin).await).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (rita, rita_token) = app.user_with_token("rita@example.com", "responder").await;

    // An admin renames and demotes Rita; her responder token now acts as a viewer.
    let v = ok_json(
        patch(
            &app,
            &admin,
            &rita,
            json!({"name": "Rita Moreno", "role": "viewer"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (v["name"].as_str(), v["role"].as_str()),
        (Some("Rita Moreno"), Some("viewer"))
    );
    assert_eq!(v["active"], true);
    assert_eq!(ok_json(me(&app, &rita_token).await).await["role"], "viewer");
    assert!(
        user_events(&app, &rita)
            .await
            .contains(&"user.updated".to_owned())
    );

    // Rita may rename herself, but not change her role, nor anyone else.
    let v = ok_json(patch(&app, &rita_token, &rita, json!({"name": "Rita M."})).await).await;
    assert_eq!(v["name"], "Rita M.");
    let r = patch(&app, &rita_token, &rita, json!({"role": "admin"})).await;
    expect_error(r, 403, "forbidden", None).await;
    // Nor her e-mail, the login name: a leaked token must not be able to take the account.
    let r = patch(
        &app,
        &rita_token,
        &rita,
        json!({"email": "mallory@example.com"}),
    )
    .await;
    expect_error(r, 403, "forbidden", None).await;
    let r = patch(&app, &rita_token, &admin_id, json!({"name": "Mallory"})).await;
    expect_error(r, 403, "forbidden", None).await;

    // Bad input names its field and changes nothing.
    let r = patch(&app, &admin, &rita, json!({"email": "nope", "name": "X"})).await;
    expect_error(r, 400, "invalid_field", Some("email")).await;
    let r = patch(&app, &admin, &rita, json!({"role": "root"})).await;
    assert_eq!(r.status(), 400);
    let r = patch(&app, &admin, &rita, json!({"colour": "blue"})).await;
    assert_eq!(r.status(), 400);
    let r = patch(&app, &admin, &rita, json!({"email": app.admin.email})).await;
    expect_error(r, 409, "conflict", Some("email")).await;
    let r = patch(&app, &admin, "not-an-id", json!({"name": "X"})).await;
    expect_error(r, 400, "invalid_field", Some("id")).await;
    let v = ok_json(
        app.get(&format!("/api/v1/users/{rita}"), &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (v["name"].as_str(), v["email"].as_str()),
        (Some("Rita M."), Some("rita@example.com"))
    );

    // The only admin can neither step down nor deactivate themselves.
    let r = patch(&app, &admin, &admin_id, json!({"role": "responder"})).await;
    expect_error(r, 409, "conflict", Some("role")).await;
    let r = patch(&app, &admin, &admin_id, json!({"active": false})).await;
    expect_error(r, 403, "forbidden", None).await;

    // With a second admin, the first may step down; the second is then the last.
    let (_, viewer) = app.user_with_token("vic@example.com", "viewer").await;
    ok_json(patch(&app, &admin, &rita, json!({"role": "admin"})).await).await;
    let v = ok_json(patch(&app, &admin, &admin_id, json!({"role": "responder"})).await).await;
    assert_eq!(v["role"], "responder");
    let r = patch(&app, &viewer, &rita, json!({"role": "viewer"})).await;
    expect_error(r, 403, "forbidden", None).await;
    // Rita's own token is still a responder token: she needs an admin one to act as admin.
    let (_, rita_admin_token) = klaxon_server::people::api::issue_token(
        &app.state,
        rita.parse().unwrap(),
        klaxon_domain::auth::TokenName::parse("admin").unwrap(),
        klaxon_domain::auth::Role::Admin,
        klaxon_domain::event::Actor::System,
    )
    .await
    .unwrap();
    let r = patch(&app, &rita_admin_token, &rita, json!({"role": "viewer"})).await;
    expect_error(r, 409, "conflict", Some("role")).await;
    app.stop().await;
}

async fn deactivated_people_cannot_sign_in_use_tokens_or_be_scheduled(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let (rita, rita_token) = app.user_with_token("rita@example.com", "responder").await;
    let (session, _) = session_for(&app, "rita@example.com", PASSWORD).await;
    assert!(session_alive(&app, &session).await);

    // While a schedule names her, she cannot be deactivated: the error says where she is.
    let r = app
        .post(
            "/api/v1/schedules",
            &admin,
            &json!({"name": "Primary", "time_zone": "UTC", "layers": [
                {"name": "week", "start": "2026-11-16T09:00:00", "users": [rita],
                 "turn": {"count": 1, "unit": "weeks"}}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let schedule: Value = r.json().await.unwrap();
    let r = patch(&app, &admin, &rita, json!({"active": false})).await;
    let e = expect_error(r, 409, "conflict", Some("active")).await;
    assert!(
        e["message"].as_str().unwrap().contains("schedule Primary"),
        "{e}"
    );
    assert!(session_alive(&app, &session).await);
    assert_eq!(me(&app, &rita_token).await.status(), 200);

    let r = app
        .http
        .delete(format!(
            "{}/api/v1/schedules/{}",
            app.url,
            schedule["id"].as_str().unwrap()
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let v = ok_json(patch(&app, &admin, &rita, json!({"active": false})).await).await;
    assert_eq!(v["active"], false);
    assert!(v["deactivated_at"].is_string());

    // Her token, her session and her password stop working at once.
    assert_eq!(me(&app, &rita_token).await.status(), 401);
    assert!(!session_alive(&app, &session).await);
    assert!(!can_log_in(&app, "rita@example.com", PASSWORD).await);
    let tokens: Value = app
        .get("/api/v1/tokens", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hers: Vec<&Value> = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["user_id"] == rita.as_str())
        .collect();
    assert!(
        !hers.is_empty() && hers.iter().all(|t| t["revoked_at"].is_string()),
        "{tokens}"
    );
    let kinds = user_events(&app, &rita).await;
    assert!(kinds.contains(&"user.deactivated".to_owned()), "{kinds:?}");

    // Nobody can put her on call or page her in.
    let r = app
        .post(
            "/api/v1/schedules",
            &admin,
            &json!({"name": "Secondary", "time_zone": "UTC", "layers": [
                {"name": "week", "start": "2026-11-16T09:00:00", "users": [rita],
                 "turn": {"count": 1, "unit": "weeks"}}]}),
        )
        .send()
        .await
        .unwrap();
    let e = expect_error(r, 400, "invalid_field", Some("layers[0].users")).await;
    assert!(
        e["message"].as_str().unwrap().contains("deactivated"),
        "{e}"
    );
    let r = app
        .post(
            "/api/v1/escalation-policies",
            &admin,
            &json!({"name": "p", "levels": [{"delay_minutes": 5,
                    "targets": [{"type": "user", "id": rita}]}]}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("levels[0].targets")).await;

    // Reactivated, she signs in again; the old token stays revoked.
    let v = ok_json(patch(&app, &admin, &rita, json!({"active": true})).await).await;
    assert_eq!(v["active"], true);
    assert!(v["deactivated_at"].is_null());
    assert!(can_log_in(&app, "rita@example.com", PASSWORD).await);
    assert_eq!(me(&app, &rita_token).await.status(), 401);
    assert!(
        user_events(&app, &rita)
            .await
            .contains(&"user.reactivated".to_owned())
    );
    app.stop().await;
}

async fn passwords_are_reset_by_admins_and_changed_by_their_owner(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let (rita, rita_token) = app.user_with_token("rita@example.com", "responder").await;
    let (session, _) = session_for(&app, "rita@example.com", PASSWORD).await;

    // An admin sets a new one: the old stops working, her sessions end, her token does not.
    let path = format!("/api/v1/users/{rita}/password");
    let r = app
        .post(&path, &admin, &json!({"password": "short"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("password")).await;
    let r = app
        .post(
            &path,
            &rita_token,
            &json!({"password": "a much longer one"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "forbidden", None).await;
    assert!(can_log_in(&app, "rita@example.com", PASSWORD).await);
    let r = app
        .post(&path, &admin, &json!({"password": "temporary password 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!session_alive(&app, &session).await);
    assert!(!can_log_in(&app, "rita@example.com", PASSWORD).await);
    assert!(can_log_in(&app, "rita@example.com", "temporary password 1").await);
    assert_eq!(me(&app, &rita_token).await.status(), 200);

    // She changes it herself, with her current one.
    let mine = "/api/v1/me/password";
    let r = app
        .post(
            mine,
            &rita_token,
            &json!({"current_password": "wrong", "new_password": "my own long password"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("current_password")).await;
    let r = app
        .post(
            mine,
            &rita_token,
            &json!({"current_password": "temporary password 1", "new_password": "short"}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("new_password")).await;
    assert!(can_log_in(&app, "rita@example.com", "temporary password 1").await);
    let r = app
        .post(mine, &rita_token, &json!({"current_password": "temporary password 1", "new_password": "my own long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!can_log_in(&app, "rita@example.com", "temporary password 1").await);
    assert!(can_log_in(&app, "rita@example.com", "my own long password").await);
    let kinds = user_events(&app, &rita).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "user.password_changed")
            .count(),
        2,
        "{kinds:?}"
    );
    app.stop().await;
}

/// A page already queued for someone who is then deactivated is cancelled, not sent.
async fn a_deactivated_person_is_not_paged(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let receiver = axum::Router::new().fallback(move |body: axum::Json<Value>| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push(body.0);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let (bob, bob_token) = app.user_with_token("bob@example.com", "responder").await;
    let r = app
        .post(
            &format!("/api/v1/users/{bob}/contact-methods"),
            &bob_token,
            &json!({"kind": "webhook", "label": "bot", "address": hook, "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let method: Value = r.json().await.unwrap();
    // Bob's first method brought two rules that page at once (high and low urgency), and
    // `first_rule` is the high one: make them all wait 5 minutes.
    let rules = method["first_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{method}");
    assert_eq!(rules[0], method["first_rule"]);
    assert_eq!(
        (rules[0]["urgency"].as_str(), rules[1]["urgency"].as_str()),
        (Some("high"), Some("low"))
    );
    for rule in rules {
        let rule = rule["id"].as_str().unwrap();
        let r = common::patch(
            &app,
            &format!("/api/v1/users/{bob}/notification-rules/{rule}"),
            &bob_token,
            &json!({"delay_minutes": 5}),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
    }

    let r = app
        .post(
            "/api/v1/incidents",
            &admin,
            &json!({"title": "Checkout is slow", "severity": "SEV3"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let incident: Value = r.json().await.unwrap();
    let id = incident["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &admin,
            &json!({"user_id": bob}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    app.state.engine.tick().await.unwrap();
    assert!(got.lock().unwrap().is_empty(), "the rule waits 5 minutes");

    ok_json(patch(&app, &admin, &bob, json!({"active": false})).await).await;
    app.clock.advance(SignedDuration::from_mins(6));
    app.state.engine.tick().await.unwrap();
    app.state.engine.tick().await.unwrap();
    assert!(got.lock().unwrap().is_empty(), "{:?}", got.lock().unwrap());
    let list: Value = app
        .get(&format!("/api/v1/incidents/{id}/notifications"), &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["cancelled"], "{list}");
    let paged = common::all_pages(&app, &format!("/api/v1/incidents/{id}/notifications"), 1).await;
    assert_eq!(paged, list["items"].as_array().unwrap().clone());

    // A one-click acknowledge link sent to them before no longer works.
    let key = app
        .state
        .store
        .server_key(klaxon_server::oncall::ack::ACK_KEY)
        .await
        .unwrap();
    let notification = list["items"][0]["id"].as_str().unwrap().parse().unwrap();
    let expires = app
        .clock
        .now()
        .checked_add(SignedDuration::from_hours(1))
        .unwrap();
    let token = klaxon_server::oncall::ack::ack_token(&key, notification, expires);
    let r = app
        .http
        .post(format!("{}/ack/{token}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("deactivated"));
    let v = ok_json(
        app.get(&format!("/api/v1/incidents/{id}"), &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["status"], incident["status"], "the link changed nothing");

    // Paging a deactivated person in is refused, naming the field.
    let r = app
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &admin,
            &json!({"user_id": bob}),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_field", Some("user_id")).await;
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

async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The text of the element carrying `data-testid="{id}"`.
fn testid<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let at = html.find(&format!("data-testid=\"{id}\""))?;
    let start = at + html[at..].find('>')? + 1;
    Some(&html[start..start + html[start..].find('<')?])
}

async fn people_manage_their_tokens_and_password_on_their_account_page(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    app.user_with_token("rita@example.com", "responder").await;
    let (cookie, csrf) = session_for(&app, "rita@example.com", PASSWORD).await;
    let (other, _) = session_for(&app, "rita@example.com", PASSWORD).await;
    let (status, html) = page(&app, &cookie, "/account").await;
    assert_eq!(status, 200);
    assert!(html.contains("New API token") && html.contains("Change your password"));
    // The role picker offers nothing above her own role.
    assert!(!html.contains("<option>admin</option>"), "{html}");

    // More power than her own is refused; a viewer token is shown once and works.
    let (status, html) = form(
        &app,
        &cookie,
        "/account/tokens",
        &[("csrf", &csrf), ("name", "ci"), ("role", "admin")],
    )
    .await;
    assert_eq!(status, 403, "{html}");
    assert!(testid(&html, "token-secret").is_none());
    let (status, html) = form(
        &app,
        &cookie,
        "/account/tokens",
        &[("csrf", &csrf), ("name", "ci"), ("role", "viewer")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let secret = testid(&html, "token-secret")
        .expect("the secret, once")
        .to_owned();
    let v = ok_json(me(&app, &secret).await).await;
    assert_eq!(
        (v["role"].as_str(), v["token"]["name"].as_str()),
        (Some("viewer"), Some("ci"))
    );
    let (_, html) = page(&app, &cookie, "/account").await;
    assert!(testid(&html, "token-secret").is_none(), "shown only once");
    assert_eq!(
        html.matches("data-testid=\"token-row\"").count(),
        2,
        "{html}"
    );

    // Revoking it from the page stops it.
    let token_id = v["token"]["id"].as_str().unwrap();
    let (status, html) = form(
        &app,
        &cookie,
        &format!("/account/tokens/{token_id}/revoke"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(me(&app, &secret).await.status(), 401);
    // A form without the session's CSRF token does nothing.
    let (status, _) = form(
        &app,
        &cookie,
        "/account/tokens",
        &[("csrf", "x"), ("name", "ci2"), ("role", "viewer")],
    )
    .await;
    assert_eq!(status, 403);

    // A password change needs the current one; it keeps this session and ends the other.
    let (status, html) = form(
        &app,
        &cookie,
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current_password", "wrong"),
            ("new_password", "a new long password"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("current_password"), "{html}");
    let (status, html) = form(
        &app,
        &cookie,
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current_password", PASSWORD),
            ("new_password", "a new long password"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(session_alive(&app, &cookie).await);
    assert!(!session_alive(&app, &other).await);
    assert!(can_log_in(&app, "rita@example.com", "a new long password").await);
    app.stop().await;
}

async fn admins_manage_people_from_the_users_pages(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (rita, _) = app.user_with_token("rita@example.com", "responder").await;
    let (admin, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let (_, html) = page(&app, &admin, "/users").await;
    assert!(html.contains(&format!("href=\"/users/{rita}\"")), "{html}");

    let path = format!("/users/{rita}");
    let (status, html) = form(
        &app,
        &admin,
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Rita M."),
            ("email", "rita.m@example.com"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let v = ok_json(
        app.get(&format!("/api/v1/users/{rita}"), &app.admin.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (v["name"].as_str(), v["email"].as_str(), v["role"].as_str()),
        (Some("Rita M."), Some("rita.m@example.com"), Some("viewer"))
    );
    let (status, html) = form(
        &app,
        &admin,
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Rita"),
            ("email", "bad"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("email"), "{html}");

    let (status, html) = form(
        &app,
        &admin,
        &format!("{path}/password"),
        &[("csrf", &csrf), ("password", "reset by the admin")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(can_log_in(&app, "rita.m@example.com", "reset by the admin").await);
    let (rita_cookie, _) = session_for(&app, "rita.m@example.com", "reset by the admin").await;
    // Not an admin: her own page is refused too.
    assert_eq!(page(&app, &rita_cookie, &path).await.0, 403);

    // Pickers offer active people only.
    assert!(page(&app, &admin, "/schedules/new").await.1.contains(&rita));
    let (status, html) = form(
        &app,
        &admin,
        &format!("{path}/active"),
        &[("csrf", &csrf), ("active", "false")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(testid(&html, "user-state"), Some("deactivated"));
    assert!(!session_alive(&app, &rita_cookie).await);
    assert!(!page(&app, &admin, "/schedules/new").await.1.contains(&rita));
    // The admin cannot deactivate themselves: the page says why.
    let me_id = ok_json(me(&app, &app.admin.token).await).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, html) = form(
        &app,
        &admin,
        &format!("/users/{me_id}/active"),
        &[("csrf", &csrf), ("active", "false")],
    )
    .await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("cannot deactivate yourself"), "{html}");
    app.stop().await;
}

on_both_backends!(
    admins_change_people_and_the_last_admin_stays,
    deactivated_people_cannot_sign_in_use_tokens_or_be_scheduled,
    passwords_are_reset_by_admins_and_changed_by_their_owner,
    a_deactivated_person_is_not_paged,
    people_manage_their_tokens_and_password_on_their_account_page,
    admins_manage_people_from_the_users_pages,
    password_checks_through_the_api_are_throttled,
    common_passwords_are_refused_with_the_reason,
);

async fn common_passwords_are_refused_with_the_reason(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    for (password, why) in [
        ("password1234", "commonly used"),
        ("            ", "repeats"),
    ] {
        let e = refused(
            app.post(
                "/api/v1/users",
                &app.admin.token,
                &json!({"email": "weak@example.com", "name": "Weak", "role": "viewer",
                        "password": password}),
            ),
            400,
            "invalid_field",
            Some("password"),
        )
        .await;
        assert!(e["message"].as_str().unwrap().contains(why), "{e}");
    }
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let e = refused(
        app.post(
            "/api/v1/me/password",
            &ada.token,
            &json!({"current_password": PASSWORD, "new_password": "iloveyou1234"}),
        ),
        400,
        "invalid_field",
        Some("new_password"),
    )
    .await;
    assert!(
        e["message"].as_str().unwrap().contains("commonly used"),
        "{e}"
    );
    let users = ok(app.get("/api/v1/users", &app.admin.token), 200).await;
    assert!(
        !users.to_string().contains("weak@example.com"),
        "nothing half-made"
    );
    app.stop().await;
}

/// A token (or a session) is not a way to guess the password behind it: wrong current
/// passwords, for a password change or a contact method, are throttled per user like logins.
async fn password_checks_through_the_api_are_throttled(b: Backend) {
    let Some(app) =
        TestApp::spawn_with(b, |s| s.auth.login_failures_per_account_and_address = 4).await
    else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let change = |current: &str| {
        app.post(
            "/api/v1/me/password",
            &ada.token,
            &json!({"current_password": current, "new_password": "a much longer passphrase"}),
        )
    };
    let method = |password: &str| {
        app.post(
            &format!("/api/v1/users/{}/contact-methods", ada.id),
            &ada.token,
            &json!({"kind": "webhook", "label": "bot", "address": "https://example.com/hook",
                    "password": password}),
        )
    };
    for _ in 0..2 {
        refused(
            change("guess guess guess"),
            400,
            "invalid_field",
            Some("current_password"),
        )
        .await;
        refused(
            method("guess guess guess"),
            400,
            "invalid_field",
            Some("password"),
        )
        .await;
    }
    // Four wrong: now even the right one is refused, with when to come back.
    let r = change(PASSWORD).send().await.unwrap();
    assert_eq!(r.headers()["retry-after"], "900");
    expect_error(r, 429, "rate_limited", None).await;
    refused(method(PASSWORD), 429, "rate_limited", None).await;
    // Another user is not held back.
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    ok(
        app.post(
            &format!("/api/v1/users/{}/contact-methods", bob.id),
            &bob.token,
            &json!({"kind": "webhook", "label": "bot", "address": "https://example.com/hook",
                    "password": PASSWORD}),
        ),
        201,
    )
    .await;
    app.clock.advance(jiff::SignedDuration::from_mins(16));
    ok(change(PASSWORD), 204).await;
    app.stop().await;
}

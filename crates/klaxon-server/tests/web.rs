//! The web UI's login: sessions, CSRF and throttling, over plain HTTP.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(oncall_policies_profile_and_incident_actions);

/// The `name=value` of a Set-Cookie header of the response, if set.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=')?;
            (k == name).then(|| (val.to_owned(), attrs.to_owned()))
        })
}

fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[i..i + 64].to_owned()
}

/// Loads the login form and returns (cookie header, csrf token).
async fn login_form(app: &TestApp) -> (String, String) {
    let r = app
        .http
        .get(format!("{}/login", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (pre, attrs) = set_cookie(&r, "klaxon_login").expect("login cookie");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"),
        "{attrs}"
    );
    let html = r.text().await.unwrap();
    (format!("klaxon_login={pre}"), hidden_csrf(&html))
}

async fn post_login(
    app: &TestApp,
    cookie: &str,
    csrf: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.http
        .post(format!("{}/login", app.url))
        .header("cookie", cookie)
        .form(&[("email", email), ("password", password), ("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_dashboard_logout() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    // Signed out: pages send you to the login form.
    let r = app.http.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login");

    let (cookie, csrf) = login_form(&app).await;
    // A form token that does not match its cookie is refused (login CSRF).
    let r = post_login(
        &app,
        &cookie,
        &"0".repeat(64),
        &app.admin.email,
        &app.admin.password,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_login(&app, &cookie, &csrf, &app.admin.email, "wrong password!!").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("Wrong e-mail or password"));

    let r = post_login(&app, &cookie, &csrf, &app.admin.email, &app.admin.password).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (session, attrs) = set_cookie(&r, "klaxon_session").expect("session cookie");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict") && attrs.contains("Path=/"),
        "{attrs}"
    );
    assert!(!attrs.contains("Secure"), "plain HTTP here");
    let jar = format!("klaxon_session={session}");

    let r = app
        .http
        .get(format!("{}/", app.url))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("Administrator") && html.contains("Dashboard"));
    let csrf = hidden_csrf(&html);

    // Logout needs the session's CSRF token.
    let r = app
        .http
        .post(format!("{}/logout", app.url))
        .header("cookie", &jar)
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .http
        .post(format!("{}/logout", app.url))
        .header("cookie", &jar)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The session is gone server-side: replaying the cookie gets you nowhere.
    let r = app
        .http
        .get(format!("{}/", app.url))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_when_idle() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (cookie, csrf) = login_form(&app).await;
    let r = post_login(&app, &cookie, &csrf, &app.admin.email, &app.admin.password).await;
    let jar = format!(
        "klaxon_session={}",
        set_cookie(&r, "klaxon_session").unwrap().0
    );
    app.clock.advance(jiff::SignedDuration::from_mins(29));
    assert_eq!(
        app.http
            .get(format!("{}/", app.url))
            .header("cookie", &jar)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.clock.advance(jiff::SignedDuration::from_mins(29)); // active 29 min ago: still fine
    assert_eq!(
        app.http
            .get(format!("{}/", app.url))
            .header("cookie", &jar)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.clock.advance(jiff::SignedDuration::from_mins(31));
    assert_eq!(
        app.http
            .get(format!("{}/", app.url))
            .header("cookie", &jar)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_account_and_address() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.auth.login_failures_per_account = 3;
        s.auth.login_failures_per_address = 5;
    })
    .await
    else {
        return;
    };
    let (cookie, csrf) = login_form(&app).await;
    for _ in 0..3 {
        let r = post_login(&app, &cookie, &csrf, &app.admin.email, "not the password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is refused until the window passes.
    let r = post_login(&app, &cookie, &csrf, &app.admin.email, &app.admin.password).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Guessing other accounts from the same address trips the address limit.
    for i in 0..2 {
        let r = post_login(
            &app,
            &cookie,
            &csrf,
            &format!("nobody{i}@example.com"),
            "guess guess guess",
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = post_login(
        &app,
        &cookie,
        &csrf,
        "other@example.com",
        "guess guess guess",
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(jiff::SignedDuration::from_mins(16));
    let r = post_login(&app, &cookie, &csrf, &app.admin.email, &app.admin.password).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the window has passed");
    app.stop().await;
}

/// Logs the admin in; returns (session cookie header, the session's CSRF token).
async fn admin_session(app: &TestApp) -> (String, String) {
    let (cookie, csrf) = login_form(app).await;
    let r = post_login(app, &cookie, &csrf, &app.admin.email, &app.admin.password).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (session, _) = set_cookie(&r, "klaxon_session").expect("session cookie");
    let cookie = format!("klaxon_session={session}");
    let html = app
        .http
        .get(format!("{}/services", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (cookie.clone(), hidden_csrf(&html))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_integrations_alerts_and_incidents_pages() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (cookie, csrf) = admin_session(&app).await;
    let post = |path: &str, form: Vec<(&str, &str)>| {
        app.http
            .post(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let get = |path: &str| {
        app.http
            .get(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .send()
    };

    // A bad form is refused with the reason, and nothing is created.
    let r = post(
        "/services",
        vec![
            ("csrf", &csrf),
            ("name", " "),
            ("urgency_rule", "high"),
            ("grouping", "none"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("name: must not be empty"));
    // Without the session's CSRF token: refused.
    let r = post(
        "/services",
        vec![
            ("csrf", "nope"),
            ("name", "X"),
            ("urgency_rule", "high"),
            ("grouping", "none"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = post(
        "/services",
        vec![
            ("csrf", &csrf),
            ("name", "Storefront"),
            ("description", "the shop"),
            ("urgency_rule", "severity_based"),
            ("grouping", "time"),
            ("window_minutes", "15"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let service_path = r.headers()["location"].to_str().unwrap().to_owned();
    let html = get(&service_path).await.unwrap().text().await.unwrap();
    assert!(
        html.contains("join an incident opened in the last 15 min"),
        "{html}"
    );

    let r = post(
        &format!("{service_path}/integrations"),
        vec![
            ("csrf", &csrf),
            ("name", "Prometheus"),
            ("kind", "events_v2"),
            ("heartbeat_interval_secs", ""),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let i = html
        .find("data-testid=\"integration-key\">")
        .expect("the new key is shown")
        + 30;
    let key = html[i..i + 32].to_owned();
    // Shown once: the service page no longer has it.
    let html = get(&service_path).await.unwrap().text().await.unwrap();
    assert!(!html.contains(&key));
    assert!(html.contains(&key[..6]));

    let r = app.http.post(format!("{}/v2/enqueue", app.url))
        .json(&serde_json::json!({"routing_key": key, "event_action": "trigger", "dedup_key": "cart",
            "payload": {"summary": "Checkout latency high", "source": "web-3", "severity": "critical"}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 202);
    let html = get("/alerts?status=triggered")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Checkout latency high") && html.contains("web-3"),
        "{html}"
    );
    let html = get("/incidents").await.unwrap().text().await.unwrap();
    let i = html.find("href=\"/incidents/").expect("an incident row") + 6;
    let incident_path = html[i..].split('"').next().unwrap().to_owned();
    let html = get(&incident_path).await.unwrap().text().await.unwrap();
    assert!(
        html.contains("incident.alert_added") && html.contains("Checkout latency high (critical)"),
        "{html}"
    );

    // Maintenance from the page, then deleting is refused while the alert is open.
    let r = post(
        &format!("{service_path}/maintenance"),
        vec![
            ("csrf", &csrf),
            ("minutes", "30"),
            ("description", "deploy"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("In maintenance until 2026-11-21 09:30")
    );
    let r = post(&format!("{service_path}/delete"), vec![("csrf", &csrf)])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("open alerts"));
    app.stop().await;
}

/// A webhook receiver that accepts every delivery; returns its URL and how many it got.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// The value of the `location` header of a redirect.
fn location(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r.headers()["location"].to_str().unwrap().to_owned()
}

async fn oncall_policies_profile_and_incident_actions(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (cookie, csrf) = admin_session(&app).await;
    let csrf = csrf.as_str();
    let post = |path: &str, form: Vec<(&str, &str)>| {
        app.http
            .post(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let get = |path: &str| {
        let req = app
            .http
            .get(format!("{}{path}", app.url))
            .header("cookie", &cookie);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    let store = &app.state.store;
    let admin = store
        .user_credentials(&app.admin.email)
        .await
        .unwrap()
        .user
        .id;
    let admin_id = admin.to_string();
    let r = app
        .post(
            "/api/v1/users",
            &app.admin.token,
            &json!({"email": "ada@example.com", "name": "Ada Lovelace", "role": "responder",
                    "password": "correct horse battery"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let ada_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // --- escalation policies ---
    let html = get("/escalation-policies").await;
    assert!(html.contains("href=\"/profile\"") && html.contains("href=\"/escalation-policies\""));
    assert!(html.contains("No escalation policies yet"), "{html}");
    assert!(
        html.contains(&format!(
            "<option value=\"{ada_id}\">Ada Lovelace (ada@example.com)</option>"
        )),
        "{html}"
    );
    // Refusals name the field, answer 400, keep what was entered, and write nothing.
    let r = post(
        "/escalation-policies",
        vec![
            ("csrf", csrf),
            ("name", "Primary"),
            ("repeat", "1"),
            ("delay1", "0"),
            ("users1", &admin_id),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("level 1 delay_minutes: must be between 1 and 1440"),
        "{html}"
    );
    assert!(html.contains(&format!("<option value=\"{admin_id}\" selected>")));
    assert!(html.contains("value=\"Primary\""));
    let r = post(
        "/escalation-policies",
        vec![
            ("csrf", csrf),
            ("name", "Primary"),
            ("delay1", "15"),
            ("users1", &admin_id),
            ("delay2", "10"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("level 2 targets: needs at least one target")
    );
    let r = post(
        "/escalation-policies",
        vec![
            ("csrf", csrf),
            ("name", " "),
            ("delay1", "15"),
            ("users1", &admin_id),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("name: must not be empty"));
    let r = post(
        "/escalation-policies",
        vec![
            ("csrf", "nope"),
            ("name", "Primary"),
            ("delay1", "15"),
            ("users1", &admin_id),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        store
            .list_escalation_policies(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let r = post(
        "/escalation-policies",
        vec![
            ("csrf", csrf),
            ("name", "Primary"),
            ("description", "the day rota"),
            ("repeat", "1"),
            ("delay1", "15"),
            ("users1", &admin_id),
            ("users1", &ada_id),
            ("delay2", "30"),
            ("users2", &admin_id),
            ("delay3", ""),
        ],
    )
    .await
    .unwrap();
    let policy_path = location(&r);
    let policy_id = policy_path
        .strip_prefix("/escalation-policies/")
        .unwrap()
        .to_owned();
    let html = get(&policy_path).await;
    for want in [
        "level 1: Administrator, Ada Lovelace — 15 min",
        "level 2: Administrator — 30 min",
        "1 more time after the last level",
        "the day rota",
        "no service",
    ] {
        assert!(html.contains(want), "{want}: {html}");
    }
    let html = get("/escalation-policies").await;
    assert!(
        html.contains("level 1: Administrator, Ada Lovelace — 15 min")
            && html.contains(&format!("href=\"{policy_path}\">Primary</a>")),
        "{html}"
    );

    // --- a service pages through it, set with the service page's form ---
    let r = post(
        "/services",
        vec![
            ("csrf", csrf),
            ("name", "Checkout"),
            ("urgency_rule", "high"),
            ("grouping", "none"),
            ("escalation_policy_id", ""),
        ],
    )
    .await
    .unwrap();
    let service_path = location(&r);
    let html = get(&service_path).await;
    assert!(html.contains("none: incidents page nobody"), "{html}");
    assert!(html.contains(&format!("<option value=\"{policy_id}\">Primary</option>")));
    let r = post(
        &format!("{service_path}/escalation-policy"),
        vec![
            ("csrf", csrf),
            (
                "escalation_policy_id",
                "0195b6c8-0000-7000-8000-000000000001",
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("escalation_policy_id: no such escalation policy")
    );
    let r = post(
        &format!("{service_path}/escalation-policy"),
        vec![("csrf", csrf), ("escalation_policy_id", &policy_id)],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Escalation policy changed."), "{html}");
    assert!(html.contains(&format!("href=\"{policy_path}\">Primary</a>")));
    assert!(html.contains(&format!(
        "<option value=\"{policy_id}\" selected>Primary</option>"
    )));
    let html = get("/services").await;
    assert!(html.contains(&format!("href=\"{policy_path}\">Primary</a>")));
    let html = get(&policy_path).await;
    assert!(html.contains(&format!("href=\"{service_path}\">Checkout</a>")));
    // In use: deleting is refused with the reason.
    let r = post(&format!("{policy_path}/delete"), vec![("csrf", csrf)])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("services use this escalation policy")
    );

    // --- profile: contact methods (password asked again) and rules ---
    let (hook, got) = receiver().await;
    let html = get("/profile").await;
    assert!(html.contains("No contact methods"), "{html}");
    for kind in ["webhook", "slack", "teams", "mattermost"] {
        assert!(
            html.contains(&format!("<option value=\"{kind}\"")),
            "{kind}"
        );
    }
    assert!(!html.contains("<option value=\"sms\""));
    let r = post(
        "/profile/contact-methods",
        vec![
            ("csrf", csrf),
            ("kind", "webhook"),
            ("label", "pager bot"),
            ("address", &hook),
            ("password", "not my password"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains("password: is not your password"), "{html}");
    assert!(html.contains("value=\"pager bot\""));
    assert!(store.list_contact_methods(admin).await.unwrap().is_empty());
    let r = post(
        "/profile/contact-methods",
        vec![
            ("csrf", csrf),
            ("kind", "webhook"),
            ("label", "pager bot"),
            ("address", &hook),
            ("password", &app.admin.password),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let methods = store.list_contact_methods(admin).await.unwrap();
    assert_eq!(methods.len(), 1);
    let method = &methods[0];
    let secret = method.secret.clone().expect("webhooks have a secret");
    assert!(
        html.contains(&format!("data-testid=\"webhook-secret\">{secret}</code>")),
        "{html}"
    );
    // Shown once.
    let html = get("/profile").await;
    assert!(!html.contains(&secret));
    assert!(html.contains("pager bot") && html.contains(&hook));

    let method_id = method.id.to_string();
    let r = post(
        "/profile/notification-rules",
        vec![
            ("csrf", csrf),
            ("contact_method_id", &method_id),
            ("delay_minutes", "2000"),
            ("urgency", "high"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("delay_minutes: must be between 0 and 1440")
    );
    let r = post(
        "/profile/notification-rules",
        vec![
            ("csrf", csrf),
            ("contact_method_id", &method_id),
            ("delay_minutes", "0"),
            ("urgency", "high"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Added a rule: high urgency, after 0 min."),
        "{html}"
    );
    assert!(html.contains("<td>high</td><td>0 min</td><td>pager bot (webhook)</td>"));
    let rules = store.list_notification_rules(admin).await.unwrap();
    assert_eq!(rules.len(), 1);

    let r = post(
        &format!("/profile/contact-methods/{method_id}/test"),
        vec![("csrf", csrf)],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("queued"));
    app.state.engine.tick().await.unwrap();
    assert_eq!(got.load(Ordering::SeqCst), 1, "the test went out");
    let html = get("/profile").await;
    assert!(
        html.contains("(test)") && html.contains("status-sent"),
        "{html}"
    );

    // --- an incident pages the admin; acknowledge and resolve with the buttons ---
    let r = post(
        &format!("{service_path}/integrations"),
        vec![
            ("csrf", csrf),
            ("name", "Prometheus"),
            ("kind", "events_v2"),
        ],
    )
    .await
    .unwrap();
    let html = r.text().await.unwrap();
    let i = html
        .find("data-testid=\"integration-key\">")
        .expect("the new key is shown")
        + 30;
    let key = html[i..i + 32].to_owned();
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": key, "event_action": "trigger", "dedup_key": "pay",
            "payload": {"summary": "Payments failing", "source": "pay-1", "severity": "critical"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    app.state.engine.tick().await.unwrap();
    assert_eq!(got.load(Ordering::SeqCst), 2, "the admin was paged");
    let html = get("/incidents").await;
    let i = html.find("href=\"/incidents/").expect("an incident row") + 6;
    let incident_path = html[i..].split('"').next().unwrap().to_owned();
    let html = get(&incident_path).await;
    assert!(
        html.contains(&format!("action=\"{incident_path}/acknowledge\""))
            && html.contains(&format!("action=\"{incident_path}/resolve\"")),
        "{html}"
    );
    let i = html.find("<h2>Notifications</h2>").expect("notifications");
    let section = &html[i..html[i..].find("<h2>Timeline</h2>").unwrap() + i];
    assert_eq!(section.matches("data-testid=\"notification\"").count(), 1);
    assert!(
        section.contains("<td>Administrator</td><td>webhook</td>")
            && section.contains("status-sent")
            && section.contains("<td>1</td>"),
        "{section}"
    );

    let r = post(&format!("{incident_path}/acknowledge"), vec![("csrf", "x")])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &format!("{incident_path}/acknowledge"),
        vec![("csrf", csrf)],
    )
    .await
    .unwrap();
    assert_eq!(location(&r), incident_path);
    let html = get(&incident_path).await;
    assert!(
        html.contains("data-testid=\"incident-status\">acknowledged<")
            && html.contains("incident.acknowledged"),
        "{html}"
    );
    assert!(!html.contains(&format!("action=\"{incident_path}/acknowledge\"")));
    // Not allowed from its status: 409 with the reason, on the incident's page.
    let r = post(
        &format!("{incident_path}/acknowledge"),
        vec![("csrf", csrf)],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("the incident cannot become acknowledged from its current status")
    );
    let r = post(&format!("{incident_path}/resolve"), vec![("csrf", csrf)])
        .await
        .unwrap();
    assert_eq!(location(&r), incident_path);
    let html = get(&incident_path).await;
    assert!(html.contains("data-testid=\"incident-status\">resolved<"));
    assert!(!html.contains(&format!("action=\"{incident_path}/resolve\"")));

    // --- removing a rule, then the method ---
    let r = post(
        &format!("/profile/notification-rules/{}/delete", rules[0].id),
        vec![("csrf", csrf)],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Rule removed."));
    let r = post(
        &format!("/profile/contact-methods/{method_id}/delete"),
        vec![("csrf", csrf)],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Removed pager bot") && html.contains("No contact methods"));
    assert!(store.list_contact_methods(admin).await.unwrap().is_empty());
    app.stop().await;
}

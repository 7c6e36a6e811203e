//! The web UI's login: sessions, CSRF and throttling, over plain HTTP.
mod common;

use common::{Backend, TestApp};
use reqwest::StatusCode;

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

//! The web UI's login: sessions, CSRF and throttling, over plain HTTP.
use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Backend, TestApp, hidden_csrf, login_form, post_login, session_for, set_cookie};
use klaxon_domain::alert::Urgency;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    oncall_policies_profile_and_incident_actions,
    schedules_timeline_overrides_and_calendar_feeds
);

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
        s.server.trust_proxy_headers = true; // so the test can come from several addresses
        s.auth.login_failures_per_account_and_address = 3;
        s.auth.login_failures_per_account = 6;
        s.auth.login_failures_per_address = 5;
    })
    .await
    else {
        return;
    };
    let (cookie, csrf) = login_form(&app).await;
    let from = |addr: &'static str, email: String, password: String| {
        let (app, cookie, csrf) = (&app, cookie.clone(), csrf.clone());
        async move {
            app.http
                .post(format!("{}/login", app.url))
                .header("cookie", cookie)
                .header("x-forwarded-for", addr)
                .form(&[("email", email), ("password", password), ("csrf", csrf)])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let admin = || app.admin.email.clone();
    let right = || app.admin.password.clone();
    let wrong = || "not the password".to_owned();
    for _ in 0..3 {
        assert_eq!(
            from("203.0.113.1", admin(), wrong()).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // That address is locked out of the account: even the right password is refused there.
    assert_eq!(
        from("203.0.113.1", admin(), right()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The owner, elsewhere, is not.
    assert_eq!(
        from("198.51.100.7", admin(), right()).await,
        StatusCode::SEE_OTHER
    );
    // Guessing other accounts from the first address trips the address limit.
    for i in 0..2 {
        let r = from("203.0.113.1", format!("nobody{i}@example.com"), wrong()).await;
        assert_eq!(r, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        from("203.0.113.1", "other@example.com".into(), wrong()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A guesser spread over many addresses meets the account-wide limit.
    for addr in ["192.0.2.1", "192.0.2.2"] {
        for _ in 0..3 {
            assert_eq!(from(addr, admin(), wrong()).await, StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(
        from("192.0.2.3", admin(), right()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(jiff::SignedDuration::from_mins(16));
    assert_eq!(
        from("203.0.113.1", admin(), right()).await,
        StatusCode::SEE_OTHER,
        "the window has passed"
    );
    app.stop().await;
}

/// Logs the admin in; returns (session cookie header, the session's CSRF token).
async fn admin_session(app: &TestApp) -> (String, String) {
    session_for(app, &app.admin.email, &app.admin.password).await
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
            ("description", "typed <b>before</b>"),
            ("urgency_rule", "high"),
            ("grouping", "none"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    // Beside its field in plain words, with what was typed kept.
    assert!(
        html.contains(r#"<p class="field-error" id="name-error">Must not be empty.</p>"#),
        "{html}"
    );
    assert!(!html.contains("name: must"), "{html}");
    assert!(
        html.contains(r#"value="typed &#60;b&#62;before&#60;/b&#62;""#)
            || html.contains(r#"value="typed &lt;b&gt;before&lt;/b&gt;""#),
        "{html}"
    );
    assert!(html.contains(r#"<option value="high" selected>"#), "{html}");
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

    // A refused integration: the reason beside the interval, the name kept.
    let r = post(
        &format!("{service_path}/integrations"),
        vec![
            ("csrf", &csrf),
            ("name", "Pinger"),
            ("kind", "heartbeat"),
            ("heartbeat_interval_secs", "soon"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"id="heartbeat-error">Must be a number of seconds.</p>"#),
        "{html}"
    );
    assert!(html.contains(r#"value="Pinger""#), "{html}");
    assert!(
        html.contains(r#"<option value="heartbeat" selected>"#),
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
    let i = html
        .find("<td><a href=\"/incidents/")
        .expect("an incident row")
        + 13;
    let incident_path = html[i..].split('"').next().unwrap().to_owned();
    let html = get(&incident_path).await.unwrap().text().await.unwrap();
    assert!(
        html.contains("incident.alert_added") && html.contains("Checkout latency high (critical)"),
        "{html}"
    );

    // Maintenance from the page, then deleting is refused while the alert is open.
    let r = post(
        &format!("{service_path}/maintenance"),
        vec![("csrf", &csrf), ("minutes", "0"), ("description", "deploy")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"id="minutes-error">Must be between 1 and 10080.</p>"#),
        "{html}"
    );
    assert!(html.contains(r#"value="deploy""#), "{html}");
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
            .contains("In maintenance until 09:30 UTC.")
    );
    // Deleting needs the box ticked, checked by the server too.
    let r = post(&format!("{service_path}/delete"), vec![("csrf", &csrf)])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"id="delete-confirm-error">Tick the box"#),
        "{html}"
    );
    assert!(get(&service_path).await.unwrap().status().is_success());
    let r = post(
        &format!("{service_path}/delete"),
        vec![("csrf", &csrf), ("confirm", "yes")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    // The reason sits in the unfolded delete form.
    let form = &html[html
        .find(r#"id="delete" open"#)
        .expect("delete form unfolded")..];
    assert!(form.contains("open alerts"), "{html}");
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
        html.contains("id=\"delay1-error\">Must be between 1 and 1440.</p>"),
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
            .contains("id=\"targets2-error\">Needs at least one target.</p>")
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
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("id=\"policy-name-error\">Must not be empty.</p>")
    );
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
        "Level 1 <span class=\"muted\">· 15 min to acknowledge</span>",
        "Level 2 <span class=\"muted\">· 30 min to acknowledge</span>",
        ">Ada Lovelace</a></li>",
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
    let html = r.text().await.unwrap();
    assert!(
        html.contains(
            r#"<p class="field-error" id="escalation_policy_id-error">No such escalation policy.</p>"#
        ),
        "{html}"
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
            .contains("Services use this escalation policy: give them another first.")
    );

    // --- profile: contact methods (password asked again) and rules ---
    let (hook, got) = receiver().await;
    let html = get("/profile").await;
    assert!(html.contains("No contact methods"), "{html}");
    for kind in ["webhook", "slack", "teams", "mattermost"] {
        assert!(
            html.contains(&format!("href=\"/profile?kind={kind}#add-method\"")),
            "{kind}"
        );
    }
    assert!(!html.contains("kind=sms"));
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
    assert!(
        html.contains("id=\"cm-password-error\">Is not your password.</p>"),
        "{html}"
    );
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
            .contains("id=\"rule-delay-error\">Must be between 0 and 1440.</p>")
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
    // The first method brought this rule already: it is not added twice.
    assert!(
        html.contains("That rule is there already: high urgency, at once."),
        "{html}"
    );
    assert!(html.contains(
        "<td data-label=\"Urgency\">high</td><td data-label=\"After\">at once</td><td data-label=\"Through\">pager bot (Webhook)</td>"
    ));
    // The first method brought a low-urgency rule too, listed after the high one.
    let rules = store.list_notification_rules(admin).await.unwrap();
    assert_eq!(
        rules.iter().map(|r| r.urgency).collect::<Vec<_>>(),
        [Urgency::High, Urgency::Low]
    );

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
    let i = html
        .find("<td><a href=\"/incidents/")
        .expect("an incident row")
        + 13;
    let incident_path = html[i..].split('"').next().unwrap().to_owned();
    let html = get(&incident_path).await;
    assert!(
        html.contains(&format!("action=\"{incident_path}/acknowledge\""))
            && html.contains(&format!("action=\"{incident_path}/resolve\"")),
        "{html}"
    );
    let i = html.find("id=\"sent\"").expect("the pages sent");
    let section = &html[i..html[i..].find("</ul>").unwrap() + i];
    assert_eq!(section.matches("data-testid=\"notification\"").count(), 1);
    assert!(
        section.contains("Page to <strong>Administrator</strong> by webhook")
            && section.contains("status-sent")
            && section.contains(", 1 attempt<"),
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
            .contains("The incident is already acknowledged.")
    );
    // Escalate now: triggered again, the next level (the admin again) paged at once.
    let html = get(&incident_path).await;
    assert!(html.contains("id=\"escalate\"") && html.contains("id=\"reassign\""));
    let r = post(&format!("{incident_path}/escalate"), vec![("csrf", csrf)])
        .await
        .unwrap();
    assert_eq!(location(&r), incident_path);
    app.state.engine.tick().await.unwrap();
    assert_eq!(got.load(Ordering::SeqCst), 3, "the next level was paged");
    let html = get(&incident_path).await;
    assert!(html.contains("data-testid=\"incident-status\">triggered<"));
    // Reassign: a bad choice is refused on the page; the admin is paged directly.
    let r = post(
        &format!("{incident_path}/reassign"),
        vec![("csrf", csrf), ("user_id", "nobody")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        html.contains(&format!("<option value=\"{admin_id}\">")),
        "{html}"
    );
    let r = post(
        &format!("{incident_path}/reassign"),
        vec![("csrf", csrf), ("user_id", &admin_id)],
    )
    .await
    .unwrap();
    assert_eq!(location(&r), incident_path);
    app.state.engine.tick().await.unwrap();
    assert_eq!(got.load(Ordering::SeqCst), 4, "the new assignee was paged");
    let html = get(&incident_path).await;
    assert!(
        html.contains("incident.escalated_by_hand") && html.contains("incident.reassigned"),
        "{html}"
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

/// A strict reading of an iCalendar feed: every line ends with CRLF and has at most 75 octets,
/// BEGIN/END balance, the calendar and each event have their required properties, and each
/// event starts before it ends. Returns each event's (unfolded) properties.
fn check_ics(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    assert!(text.ends_with("\r\n"), "ends with CRLF");
    let mut lines: Vec<String> = Vec::new();
    for raw in text[..text.len() - 2].split("\r\n") {
        assert!(!raw.contains(['\r', '\n']), "bare CR or LF: {raw:?}");
        assert!(raw.len() <= 75, "{} octets: {raw:?}", raw.len());
        match raw.strip_prefix(' ') {
            Some(rest) => lines.last_mut().expect("not first").push_str(rest),
            None => lines.push(raw.to_owned()),
        }
    }
    assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
    let mut stack = Vec::new();
    let mut calendar = Vec::new();
    let mut events = Vec::new();
    let mut current: Option<std::collections::HashMap<String, String>> = None;
    for l in &lines {
        let (name, value) = l.split_once(':').unwrap_or_else(|| panic!("{l:?}"));
        match name {
            "BEGIN" => {
                if value == "VEVENT" {
                    assert!(current.is_none(), "nested VEVENT");
                    current = Some(Default::default());
                }
                stack.push(value.to_owned());
            }
            "END" => {
                assert_eq!(stack.pop().as_deref(), Some(value), "unbalanced END");
                if value == "VEVENT" {
                    events.push(current.take().unwrap());
                }
            }
            _ => match current.as_mut() {
                Some(e) => {
                    assert!(e.insert(name.to_owned(), value.to_owned()).is_none());
                }
                None => calendar.push((name.to_owned(), value.to_owned())),
            },
        }
    }
    assert!(stack.is_empty());
    for (p, v) in [
        ("VERSION", Some("2.0")),
        ("PRODID", Some("-//Klaxon//On-call//EN")),
        ("CALSCALE", Some("GREGORIAN")),
        ("METHOD", Some("PUBLISH")),
        ("X-WR-CALNAME", None),
    ] {
        let got = calendar
            .iter()
            .find(|(n, _)| n == p)
            .map(|(_, v)| v.as_str());
        assert!(got.is_some(), "calendar lacks {p}");
        if let Some(v) = v {
            assert_eq!(got, Some(v));
        }
    }
    let stamp = |v: &str| {
        assert!(v.len() == 16 && v.ends_with('Z'), "{v}");
        jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", v).unwrap()
    };
    for e in &events {
        for p in ["UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"] {
            assert!(e.contains_key(p), "event lacks {p}: {e:?}");
        }
        stamp(&e["DTSTAMP"]);
        assert!(stamp(&e["DTSTART"]) < stamp(&e["DTEND"]), "{e:?}");
    }
    events
}

/// The text of the first element carrying `data-testid="{id}"`.
fn testid_text(html: &str, id: &str) -> String {
    let i = html
        .find(&format!("data-testid=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id} in {html}"));
    let start = i + html[i..].find('>').unwrap() + 1;
    let end = start + html[start..].find('<').unwrap();
    html[start..end].to_owned()
}

/// The `data-testid="timeline-row"` blocks of a schedule page, each with its bars' text.
fn timeline_rows(html: &str) -> Vec<String> {
    html.split("data-testid=\"timeline-row\"")
        .skip(1)
        .map(|r| r.to_owned())
        .collect()
}

async fn schedules_timeline_overrides_and_calendar_feeds(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (cookie, csrf) = admin_session(&app).await;
    let csrf = csrf.as_str();
    let post_as = |cookie: &str, path: &str, form: Vec<(&str, &str)>| {
        app.http
            .post(format!("{}{path}", app.url))
            .header("cookie", cookie)
            .form(&form)
            .send()
    };
    let post = |path: &str, form: Vec<(&str, &str)>| post_as(&cookie, path, form);
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
    let admin = store.user_credentials(&app.admin.email).await.unwrap().user;
    let admin_id = admin.id.to_string();
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
    app.user_with_token("viewer@example.com", "viewer").await;

    // --- the list and the create form (the clock is Sat 2026-11-21 09:00 UTC) ---
    let html = get("/schedules").await;
    assert!(
        html.contains("href=\"/schedules\" aria-current=\"page\""),
        "{html}"
    );
    assert!(html.contains("No schedules yet"));
    assert!(html.contains("href=\"/schedules/new\""));
    let html = get("/schedules/new").await;
    assert!(html.contains(&format!(
        "<option value=\"{ada_id}\">Ada Lovelace (ada@example.com)</option>"
    )));
    // The form's controls are named as the API names its fields.
    let good = |zone: &'static str, users: Vec<&'static str>| {
        let mut f = vec![
            ("csrf", csrf),
            ("name", "Ops primary"),
            ("time_zone", zone),
            ("layers[0].name", "Layer 1"),
            ("layers[0].start", "2026-11-16T09:00"),
            ("layers[0].turn.count", "1"),
            ("layers[0].turn.unit", "days"),
        ];
        f.extend(users.into_iter().map(|u| ("layers[0].users", u)));
        f
    };
    let admin_leak: &'static str = Box::leak(admin_id.clone().into_boxed_str());
    let ada_leak: &'static str = Box::leak(ada_id.clone().into_boxed_str());
    let r = post(
        "/schedules",
        good("Mars/Olympus_Mons", vec![admin_leak, ada_leak]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    // In plain words beside the zone box, with everything typed kept.
    assert!(
        html.contains(
            "<p class=\"field-error\" id=\"time-zone-error\">“Mars/Olympus_Mons” is not a time zone"
        ),
        "{html}"
    );
    assert!(html.contains("value=\"Ops primary\"") && html.contains("value=\"Mars/Olympus_Mons\""));
    assert!(html.contains(&format!("name=\"layers[0].users\" value=\"{ada_id}\"")));
    let r = post("/schedules", good("UTC", vec![])).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("id=\"l0-users-error\">Add at least one person to this rotation.</p>"),
        "{html}"
    );
    let mut bad_start = good("UTC", vec![admin_leak]);
    bad_start[4].1 = "next monday";
    let r = post("/schedules", bad_start).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("id=\"l0-start-error\">Must be a date and time, like 2026-11-23T09:00.</p>")
    );
    assert!(
        store
            .list_schedules(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // A viewer cannot add one.
    let (viewer, viewer_csrf) =
        session_for(&app, "viewer@example.com", "correct horse battery").await;
    let mut as_viewer = good("UTC", vec![admin_leak]);
    as_viewer[0].1 = &viewer_csrf;
    let r = post_as(&viewer, "/schedules", as_viewer).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        store
            .list_schedules(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let r = post("/schedules", good("UTC", vec![admin_leak, ada_leak]))
        .await
        .unwrap();
    let page = location(&r);
    let schedule_id = page.strip_prefix("/schedules/").unwrap().to_owned();

    // Daily turns from Mon 16th 09:00, admin first: Ada has Sat 21st 09:00 – Sun 22nd 09:00.
    let html = get("/schedules").await;
    assert_eq!(testid_text(&html, "on-call-user"), "Ada Lovelace");
    assert!(html.contains(">Sun 22 Nov 09:00 UTC</time>"), "{html}");
    let html = get("/").await;
    let panel = &html[html.find("data-testid=\"on-call-panel\"").unwrap()..];
    assert!(panel.contains("Ops primary") && panel.contains("<strong>Ada Lovelace</strong>"));
    assert!(panel.contains("22 Nov, 09:00 UTC"), "{panel}");

    // --- the timeline ---
    let html = get(&format!("{page}?from=2026-11-21&days=7")).await;
    assert!(testid_text(&html, "on-call-now").is_empty()); // the name is in a <strong>
    assert!(html.contains(
        "<strong>Ada Lovelace</strong> until <time datetime=\"2026-11-22T09:00:00Z\">Sun 22 Nov 09:00 UTC</time>"
    ));
    let rows = timeline_rows(&html);
    assert_eq!(rows.len(), 2, "the final schedule and one layer");
    assert!(rows[0].contains("Final schedule") && rows[1].contains("Layer 1"));
    // [Sat 21 00:00, Sat 28 00:00): admin till 09:00, then 7 handoffs, the last cut at the end.
    for row in &rows {
        assert_eq!(row.matches("data-testid=\"bar\"").count(), 8, "{row}");
        assert_eq!(
            row.matches("class=\"bar-who\">Ada Lovelace</text>").count(),
            4
        );
        assert_eq!(
            row.matches(&format!("class=\"bar-who\">{}</text>", admin.name))
                .count(),
            4
        );
    }
    assert!(
        rows[0].contains("x=\"0.0000%\" width=\"5.3571%\""),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains("Sat 21 Nov 09:00 – Sun 22 Nov 09:00"));
    assert_eq!(html.matches("data-testid=\"bar\"").count(), 16);
    let html = get(&format!("{page}?from=2026-11-21&days=14")).await;
    assert_eq!(
        timeline_rows(&html)[0]
            .matches("data-testid=\"bar\"")
            .count(),
        15
    );
    // An unknown span falls back to the default week from today.
    let html = get(&format!("{page}?days=9")).await;
    assert_eq!(html.matches("data-testid=\"bar\"").count(), 16);

    // --- overrides ---
    let overrides = format!("{page}/overrides");
    let r = post(
        &overrides,
        vec![
            ("csrf", csrf),
            ("user_id", &admin_id),
            ("start", "2026-11-21T18:00"),
            ("end", "2026-11-21T12:00"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("id=\"override-end-error\">Must be after start.</p>"),
        "{html}"
    );
    assert!(html.contains("value=\"2026-11-21T18:00\""));
    // A viewer cannot add one, nor sees the form.
    let r = post_as(
        &viewer,
        &overrides,
        vec![
            ("csrf", &viewer_csrf),
            ("user_id", &admin_id),
            ("start", "2026-11-21T12:00"),
            ("end", "2026-11-21T18:00"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        store
            .list_schedule_overrides(
                schedule_id.parse().unwrap(),
                jiff::Timestamp::MIN,
                jiff::Timestamp::MAX
            )
            .await
            .unwrap()
            .is_empty()
    );
    let viewer_html = app
        .http
        .get(format!("{}{page}", app.url))
        .header("cookie", &viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!viewer_html.contains("id=\"add-override\"") && !viewer_html.contains("/delete\""));
    assert!(viewer_html.contains("data-testid=\"bar\""));

    let r = post(
        &overrides,
        vec![
            ("csrf", csrf),
            ("user_id", &admin_id),
            ("start", "2026-11-21T12:00"),
            ("end", "2026-11-21T18:00"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(location(&r), format!("{page}#overrides"));
    let html = get(&format!("{page}?from=2026-11-21&days=7")).await;
    let rows = timeline_rows(&html);
    // The override splits Ada's shift in the final schedule; the layer is unchanged.
    assert_eq!(rows[0].matches("data-testid=\"bar\"").count(), 10);
    assert_eq!(rows[1].matches("data-testid=\"bar\"").count(), 8);
    assert!(rows[0].contains("Sat 21 Nov 12:00 – Sat 21 Nov 18:00"));
    assert_eq!(html.matches("data-testid=\"override\"").count(), 1);
    let i = html.find("/overrides/").unwrap() + "/overrides/".len();
    let override_id = html[i..i + 36].to_owned();
    let remove = format!("{overrides}/{override_id}/delete");
    let r = post_as(&viewer, &remove, vec![("csrf", &viewer_csrf)])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(&remove, vec![("csrf", "nope")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(&page).await.matches("data-testid=\"override\"").count(),
        1
    );
    // Removing asks "are you sure" first.
    let r = post(&remove, vec![("csrf", csrf)]).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post(&remove, vec![("csrf", csrf), ("confirm", "yes")])
        .await
        .unwrap();
    assert_eq!(location(&r), format!("{page}#overrides"));
    let html = get(&page).await;
    assert!(html.contains("No upcoming overrides"));
    assert_eq!(
        timeline_rows(&html)[0]
            .matches("data-testid=\"bar\"")
            .count(),
        8
    );

    // --- calendar feeds ---
    let feed = testid_text(&html, "feed-url");
    assert!(
        feed.starts_with("/calendar/schedules/") && feed.ends_with(".ics"),
        "{feed}"
    );
    let r = app
        .http
        .get(format!("{}{feed}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/calendar; charset=utf-8");
    let text = r.text().await.unwrap();
    let events = check_ics(&text);
    assert!(text.contains("X-WR-CALNAME:Klaxon: Ops primary\r\n"));
    // From 14 Nov 09:00 to 20 Jan 09:00: the turns of 16 Nov .. 19 Jan, one a day.
    assert_eq!(events.len(), 65);
    assert_eq!(events[0]["DTSTART"], "20261116T090000Z");
    assert_eq!(events[0]["DTEND"], "20261117T090000Z");
    assert_eq!(events[0]["SUMMARY"], format!("On call: {}", admin.name));
    assert_eq!(events[5]["DTSTART"], "20261121T090000Z");
    assert_eq!(events[5]["SUMMARY"], "On call: Ada Lovelace");
    assert_eq!(events[64]["DTSTART"], "20270119T090000Z");
    let start = "2026-11-21T09:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second();
    assert_eq!(
        events[5]["UID"],
        format!("{schedule_id}-{ada_id}-{start}@klaxon")
    );
    assert_eq!(events[5]["DTSTAMP"], "20261121T090000Z");

    // The user's own feed, from the profile: the admin's every other day.
    let profile = get("/profile").await;
    let mine = testid_text(&profile, "my-feed-url");
    assert!(
        mine.starts_with("/calendar/users/") && mine.ends_with(".ics"),
        "{mine}"
    );
    let r = app
        .http
        .get(format!("{}{mine}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/calendar; charset=utf-8");
    let text = r.text().await.unwrap();
    let events = check_ics(&text);
    assert_eq!(events.len(), 33);
    assert!(
        events
            .iter()
            .all(|e| e["SUMMARY"] == "On call: Ops primary")
    );
    assert_eq!(events[1]["DTSTART"], "20261118T090000Z");
    assert!(events.iter().all(|e| e["UID"].contains(&admin_id)));

    // Tampered, swapped or misnamed tokens answer 404.
    let token = feed
        .strip_prefix("/calendar/schedules/")
        .unwrap()
        .strip_suffix(".ics")
        .unwrap();
    let mut chars: Vec<char> = token.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    for path in [
        format!("/calendar/schedules/{tampered}.ics"),
        format!("/calendar/users/{token}.ics"),
        format!("/calendar/schedules/{token}"),
        "/calendar/schedules/nothing.ics".to_owned(),
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // --- edit and delete (admin only) ---
    let r = post_as(
        &viewer,
        &format!("{page}/delete"),
        vec![("csrf", &viewer_csrf)],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The edit form holds the saved layer as it was made.
    let html = get(&format!("{page}/edit")).await;
    assert!(html.contains(
        "name=\"layers[0].start\" type=\"datetime-local\" required value=\"2026-11-16T09:00\""
    ));
    assert!(html.contains(&format!("name=\"layers[0].users\" value=\"{ada_id}\"")));
    let mut edit = good("Nowhere/Land", vec![admin_leak, ada_leak]);
    edit[1].1 = "Ops";
    let r = post(&format!("{page}/edit"), edit.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    edit[2].1 = "Europe/Berlin";
    edit.push(("description", "first line"));
    let r = post(&format!("{page}/edit"), edit).await.unwrap();
    assert_eq!(location(&r), page);
    let html = get(&page).await;
    assert!(html.contains("<h1>Ops</h1>") && html.contains("Europe/Berlin"));
    // Handoffs keep their local 09:00: 08:00 UTC in Berlin in winter.
    assert!(html.contains("Sun 22 Nov 09:00"));
    let r = post(&format!("{page}/delete"), vec![("csrf", csrf)])
        .await
        .unwrap();
    assert_eq!(location(&r), "/schedules");
    assert!(
        store
            .list_schedules(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // The schedule's feed is gone with it.
    let r = app
        .http
        .get(format!("{}{feed}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

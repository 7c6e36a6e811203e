//! A real browser (headless Chromium through chromedriver) logs in, sees the dashboard and logs
//! out. Needs `chromium` and `chromium-driver`; scripts/test.sh installs them. Never skipped.
use crate::browser_support;
use crate::common;

use browser_support::{Driver, Session};
use common::{Backend, TestApp};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_sees_the_dashboard_and_logs_out() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;

    s.go(&format!("{}/", app.url)).await;
    assert!(
        s.current_url().await.ends_with("/login"),
        "signed out: sent to the login page"
    );
    assert_eq!(s.title().await, "Log in · Klaxon");

    s.type_into("#email", &app.admin.email).await;
    s.type_into("#password", "a wrong password").await;
    s.click("#login").await;
    assert_eq!(s.wait_text("p.error").await, "Wrong e-mail or password.");

    s.type_into("#password", &app.admin.password).await;
    s.click("#login").await;
    s.wait_title("Dashboard · Klaxon").await;
    assert!(
        s.current_url()
            .await
            .ends_with(&format!("{}/", app.url.trim_start_matches("http://"))),
        "{}",
        s.current_url().await
    );
    assert_eq!(s.text("[data-testid=current-user]").await, "Administrator");
    // Incidents first; the system's figures last, for admins only.
    assert!(
        s.text("[data-testid=my-incidents]")
            .await
            .contains("Your open incidents")
    );
    assert_eq!(s.text("[data-testid=user-count]").await, "1");
    let order = s
        .exec(
            "return Array.from(document.querySelectorAll('main section[data-testid]')).map(e => e.dataset.testid).join(',');",
            json!([]),
        )
        .await;
    assert_eq!(order, "my-incidents,open-incidents,on-call-panel,system");

    s.click("nav a[href='/users']").await;
    s.wait_title("Users · Klaxon").await;

    // The account page: a new API token is shown once and works; the password changes.
    s.click("[data-testid=current-user]").await;
    s.wait_title("Your account · Klaxon").await;
    s.type_into("#t-name", "deploy script").await;
    s.click("#create-token").await;
    let secret = s.wait_text("[data-testid=token-secret]").await;
    let me = app.get("/api/v1/me", &secret).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["token"]["name"], "deploy script");
    s.type_into("#p-current", &app.admin.password).await;
    s.type_into("#p-new", "a brand new admin password").await;
    s.click("#change-password").await;
    s.wait_contains("p.notice", "Password changed").await;

    s.click("#logout").await;
    s.wait_title("Log in · Klaxon").await;
    assert!(s.current_url().await.ends_with("/login"));
    // Logged out for real: the dashboard sends us back to the login page.
    s.go(&format!("{}/", app.url)).await;
    assert!(s.current_url().await.ends_with("/login"));
    // Only the new password opens it again.
    s.login(&app.url, &app.admin.email, "a brand new admin password")
        .await;
    s.end().await;
    app.stop().await;
}

/// Declare an incident, assign a commander, post notes: a second browser on the same incident
/// sees each change without reloading (Server-Sent Events), and so does the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_run_an_incident_and_see_each_other_live() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (bob_id, _) = app.user_with_token("bob@example.com", "responder").await;
    let driver = Driver::start().await;
    let a = Session::new(&driver).await;
    let b = Session::new(&driver).await;
    a.login(&app.url, &app.admin.email, &app.admin.password)
        .await;
    b.login(&app.url, "bob@example.com", "correct horse battery")
        .await;

    // A declares a SEV3 with the form; severity definitions are shown where they choose.
    a.click("nav a[href='/incidents']").await;
    a.wait_title("Incidents · Klaxon").await;
    a.click("#declare-incident").await;
    a.wait_title("Declare an incident · Klaxon").await;
    assert!(a.texts(".severity-choice").await.contains("Critical"));
    a.type_into("#title", "Checkout errors in EU").await;
    a.click("#severity-SEV3").await;
    a.type_into("#description", "5xx on /pay since 09:00").await;
    a.type_into("#category", "payments").await;
    a.click("#declare").await;
    a.wait_title("#1 Checkout errors in EU · Klaxon").await;
    assert_eq!(
        a.text("[data-testid=incident-status]").await,
        "acknowledged"
    );
    assert_eq!(
        a.text("[data-testid=incident-priority]")
            .await
            .split_whitespace()
            .next(),
        Some("P3")
    );
    let url = a.current_url().await;

    // B opens the same incident and waits for the live stream.
    b.go(&url).await;
    b.wait_title("#1 Checkout errors in EU · Klaxon").await;
    for _ in 0..400 {
        if b.exec("return document.body.getAttribute('data-live');", json!([]))
            .await
            == "connected"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    b.exec("window.__same_page = true; return null;", json!([]))
        .await;

    // A makes Bob the incident commander.
    a.click("#roles-panel summary").await;
    a.click("#role-key option[value='commander']").await;
    a.click(&format!("#role-user option[value='{bob_id}']"))
        .await;
    a.click("#assign-role").await;
    a.wait_contains("[data-testid=role]", "Incident commander: Someone")
        .await;
    // B sees the role in the summary and the entry in the timeline, without reloading.
    b.wait_contains("[data-testid=role]", "Incident commander: Someone")
        .await;
    b.wait_contains("#timeline", "made Someone incident commander")
        .await;

    // A posts a note; B sees it appear.
    a.type_into("#note-text", "Rolled back deploy 4411").await;
    a.click("#post-note").await;
    a.wait_contains("#timeline .note", "Rolled back deploy 4411")
        .await;
    b.wait_contains("#timeline .note", "Rolled back deploy 4411")
        .await;
    // A adds a task for Bob; it appears on B's page.
    a.click("#task-panel summary").await;
    a.type_into("#task-title", "Page the payments vendor").await;
    a.click(&format!("#task-assignee option[value='{bob_id}']"))
        .await;
    a.click("#add-task").await;
    a.wait_contains("[data-testid=task]", "Page the payments vendor")
        .await;
    b.wait_contains("[data-testid=task]", "Page the payments vendor")
        .await;
    b.wait_contains("#timeline", "added a task for Someone")
        .await;
    assert_eq!(
        b.exec("return window.__same_page === true;", json!([]))
            .await,
        true,
        "B saw A's changes without reloading"
    );

    // Now the other way round: A watches, B acts.
    a.exec("window.__same_page = true; return null;", json!([]))
        .await;
    // B posts a pinned note and marks it mitigated; A sees both.
    b.type_into("#note-text", "Error rate back to normal").await;
    b.click("#note-pin").await;
    b.click("#post-note").await;
    a.wait_contains("#timeline .note", "Error rate back to normal")
        .await;
    b.click("#mitigate").await;
    a.wait_contains("[data-testid=incident-status]", "mitigated")
        .await;

    a.wait_contains(
        "ol.pinned-list, #timeline .pinned",
        "Error rate back to normal",
    )
    .await;
    assert_eq!(
        a.exec("return window.__same_page === true;", json!([]))
            .await,
        true,
        "A saw B's changes without reloading"
    );

    // B follows; A posts the "Investigating" update from its template; B sees it arrive.
    b.click("#follow").await;
    b.wait_contains("#follow", "Stop following").await;
    a.click("a[data-template='investigating']").await;
    a.wait_contains("#update-text", "We are investigating incident #1")
        .await;
    a.click("#post-update").await;
    b.wait_contains(
        "#timeline",
        "posted an update to 1 follower: We are investigating",
    )
    .await;
    a.end().await;
    b.end().await;
    app.stop().await;
}

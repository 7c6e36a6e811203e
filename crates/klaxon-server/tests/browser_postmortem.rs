//! A postmortem in a real browser (headless Chromium): the owner starts it from the resolved
//! incident's page, writes a section and a factor, names a reviewer and submits it; the reviewer
//! comments and approves; the owner publishes, and the page turns read-only; its public summary
//! goes onto the status page with a button.
use crate::browser_support;
use crate::common;

use browser_support::{Driver, Session};
use common::{Backend, PASSWORD, TestApp, member, ok};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postmortem_is_written_reviewed_and_published_in_the_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    member(&app, "ada@example.com", "Ada", "responder").await;
    member(&app, "bob@example.com", "Bob", "responder").await;
    let t = &app.admin.token;
    let i = ok(
        app.post(
            "/api/v1/incidents",
            t,
            &json!({"title": "Payments time out", "severity": "SEV2"}),
        ),
        201,
    )
    .await;
    let inc = i["id"].as_str().unwrap().to_owned();
    ok(
        app.post(&format!("/api/v1/incidents/{inc}/resolve"), t, &json!({})),
        200,
    )
    .await;
    let driver = Driver::start().await;

    // The owner: start, write, name a reviewer, submit.
    let s = Session::new(&driver).await;
    s.login(&app.url, "ada@example.com", PASSWORD).await;
    s.go(&format!("{}/incidents/{inc}", app.url)).await;
    s.click("#start-postmortem").await;
    s.wait_title("Postmortem of #1 · Klaxon").await;
    s.type_into("#sec-summary", "Payments timed out for 12 minutes.")
        .await;
    s.click("#save-sections").await;
    s.wait_contains("#sec-summary", "Payments timed out").await;
    s.type_into("#pm-factors", "trigger: a slow upstream").await;
    s.click("#save-factors").await;
    s.wait_contains("[data-testid=factor]", "a slow upstream")
        .await;
    s.type_into("#pm-public", "Some card payments failed for 12 minutes.")
        .await;
    s.click("#save-public").await;
    s.wait_contains("#pm-public", "Some card payments failed")
        .await;
    // Reviewers are ticked from Klaxon's users.
    s.click("#pm-reviewers input[value='bob@example.com']")
        .await;
    s.click("#save-people").await;
    s.wait_contains("#postmortem-facts", "Bob").await;
    s.click("#pm-submit").await;
    s.wait_contains("[data-testid=postmortem-state]", "in review")
        .await;
    let url = s.current_url().await;
    s.end().await;

    // The reviewer: comment and approve.
    let r = Session::new(&driver).await;
    r.login(&app.url, "bob@example.com", PASSWORD).await;
    r.go(&url).await;
    r.type_into("#pm-comment-body", "Which merchants noticed?")
        .await;
    r.click("#add-comment").await;
    r.wait_contains("[data-testid=pm-comment]", "Which merchants noticed?")
        .await;
    r.click("#pm-approve").await;
    r.wait_contains("#postmortem-facts", "Bob (approved)").await;
    r.end().await;

    // The owner publishes; the page is read-only, with the text written.
    let s = Session::new(&driver).await;
    s.login(&app.url, "ada@example.com", PASSWORD).await;
    s.go(&url).await;
    s.click("#pm-publish").await;
    s.wait_contains("[data-testid=postmortem-state]", "published")
        .await;
    s.wait_contains("#sections", "Payments timed out for 12 minutes.")
        .await;
    // Customers were told on a status page: the summary goes there with one button.
    ok(
        app.post(
            "/api/v1/status-pages",
            t,
            &json!({"name": "Acme", "slug": "acme"}),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/status-pages/acme/incidents",
            t,
            &json!({"name": "Payments slow", "status": "resolved", "incident": "1"}),
        ),
        201,
    )
    .await;
    // Loaded again (the address without its #fragment, so the browser does load it).
    s.go(url.split('#').next().unwrap()).await;
    s.click("#pm-attach").await;
    s.wait_contains(
        "[data-testid=pm-public-incident]",
        "shows the postmortem since",
    )
    .await;
    let forms = s
        .exec(
            "return document.querySelectorAll('#sections-form, #factors-form, #comment-form, #public-form, #attach-form').length;",
            json!([]),
        )
        .await;
    assert_eq!(forms, 0);
    s.end().await;
    app.stop().await;
}

//! In a real browser (headless Chromium): acknowledging several incidents at once from the
//! list, and the dashboard of the person on call, which redraws itself when someone else
//! changes an incident. Needs `chromium` and `chromium-driver`; never skipped.
use crate::browser_support;
use crate::common;
use crate::dashboard_support;

use std::time::Duration;

use browser_support::{Driver, Session};
use common::{Backend, PASSWORD, TestApp, ok};
use dashboard_support::{admin_id, declare, events_of, incident, paged_service, person, tick};
use jiff::SignedDuration;
use serde_json::{Value, json};

/// Waits until the page's live stream is open.
async fn wait_live(s: &Session<'_>) {
    for _ in 0..400 {
        if s.exec("return document.body.getAttribute('data-live');", json!([]))
            .await
            == "connected"
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the live stream never opened");
}

/// Whether the page scrolls sideways.
async fn overflows(s: &Session<'_>) -> bool {
    s.exec(
        "return document.documentElement.scrollWidth > window.innerWidth;",
        json!([]),
    )
    .await
        == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_acknowledge_from_the_list_stops_the_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    let service = paged_service(&app, &ada.id).await;
    let on = json!({"service_id": service});
    let admin = app.admin.token.clone();
    let mut ids = Vec::new();
    for (title, sev) in [
        ("Database down", "SEV2"),
        ("Queue backlog", "SEV3"),
        ("Disk full", "SEV3"),
    ] {
        let i = declare(&app, &admin, title, sev, on.clone()).await;
        assert_eq!(i["status"], "triggered");
        ids.push(i["id"].as_str().unwrap().to_owned());
    }
    tick(&app).await;
    assert_eq!(ada.receiver.pages(), 3, "level one paged Ada for each");

    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, &ada.email, PASSWORD).await;
    s.click("nav a[href='/incidents']").await;
    s.wait_title("Incidents · Klaxon").await;
    // Each box says which incident it selects.
    assert_eq!(
        s.exec(
            "return document.getElementById('pick-1').getAttribute('aria-label');",
            json!([])
        )
        .await,
        "Select #1 Database down"
    );
    s.click("#pick-1").await;
    s.click("#pick-2").await;
    assert_eq!(s.text("#bulk-count").await, "2 selected");
    s.click("#bulk-acknowledge").await;
    s.wait_contains(
        "[data-testid=bulk-results]",
        "#2 Queue backlog: acknowledged.",
    )
    .await;
    assert_eq!(
        s.texts("[data-testid=bulk-result]").await,
        "#1 Database down: acknowledged.\n#2 Queue backlog: acknowledged."
    );
    // Both acknowledged, each with its own event by Ada; the third is untouched.
    for id in &ids[..2] {
        assert_eq!(incident(&app, id).await["status"], "acknowledged");
        let acks = events_of(&app, id, "incident.acknowledged").await;
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].0, format!("user:{}", ada.id));
    }
    assert_eq!(incident(&app, &ids[2]).await["status"], "triggered");
    assert_eq!(
        s.texts("[data-testid=incident-row-status]").await,
        "triggered\nacknowledged\nacknowledged",
        "the list shows the new statuses, newest first"
    );
    // Paging stops for the two: level two pages Ada for the third only.
    app.clock.advance(SignedDuration::from_mins(10));
    tick(&app).await;
    app.clock.advance(SignedDuration::from_mins(10));
    tick(&app).await;
    assert_eq!(ada.receiver.pages(), 4, "one more page, for #3");

    // Select all, at a phone's width, and resolve: the page never scrolls sideways.
    s.viewport(390, 844, true).await;
    assert!(!overflows(&s).await, "the list fits 390 px");
    s.click("#select-all").await;
    assert_eq!(s.text("#bulk-count").await, "3 selected");
    s.click("#bulk-resolve").await;
    s.wait_contains("[data-testid=bulk-results]", "#3 Disk full: resolved.")
        .await;
    assert_eq!(
        s.texts("[data-testid=bulk-result]").await.lines().count(),
        3
    );
    assert!(!overflows(&s).await, "the report fits 390 px");
    for id in &ids {
        assert_eq!(incident(&app, id).await["status"], "resolved");
    }
    s.end().await;
    app.stop().await;
}

/// The titles in one dashboard section, in order.
async fn titles(s: &Session<'_>, section: &str) -> String {
    s.texts(&format!(
        "[data-testid={section}] [data-testid=open-incident] a"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_puts_mine_first_shows_my_next_shift_and_updates_live() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let admin = app.admin.token.clone();
    let bob = person(&app, "bob@example.com", "Bob", "Europe/Berlin").await;
    // Daily turns from Mon 16 Nov 09:00 UTC, Bob first: today (Sat 21st) is the admin's, Bob's
    // next starts Sun 22nd at 09:00 UTC, 10:00 in Berlin.
    let admin_user = admin_id(&app).await;
    ok(
        app.post(
            "/api/v1/schedules",
            &admin,
            &json!({"name": "Primary", "time_zone": "UTC", "layers": [
                {"name": "daily", "start": "2026-11-16T09:00:00", "users": [bob.id, admin_user],
                 "turn": {"count": 1, "unit": "days"}}]}),
        ),
        201,
    )
    .await;
    declare(&app, &admin, "Search slow", "SEV3", json!({})).await;
    declare(&app, &admin, "Payments down", "SEV1", json!({})).await;
    declare(&app, &bob.token, "Login errors", "SEV4", json!({})).await;

    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, &bob.email, PASSWORD).await;
    // Bob's own incident first, even though it is the least severe; then the others, worst
    // first.
    assert_eq!(titles(&s, "my-incidents").await, "Login errors");
    assert_eq!(
        titles(&s, "open-incidents").await,
        "Payments down\nSearch slow"
    );
    let next = s.text("[data-testid=my-next-shift]").await;
    assert!(
        next.contains("Your next shift: Primary, from 22 Nov, 10:00 CET (in 1 day)"),
        "{next}"
    );
    assert!(
        s.text("[data-testid=on-call-row]")
            .await
            .contains("Administrator")
    );

    // Someone else declares through the API: the open page shows it, in its place.
    wait_live(&s).await;
    s.exec("window.__same_page = true; return null;", json!([]))
        .await;
    declare(&app, &admin, "Database down", "SEV2", json!({})).await;
    s.wait_contains("[data-testid=open-incidents]", "Database down")
        .await;
    assert_eq!(
        titles(&s, "open-incidents").await,
        "Payments down\nDatabase down\nSearch slow"
    );
    // Making Bob commander of a new one puts it among his.
    declare(
        &app,
        &admin,
        "Cache misses",
        "SEV1",
        json!({"commander_id": bob.id}),
    )
    .await;
    s.wait_contains("[data-testid=my-incidents]", "Cache misses")
        .await;
    assert_eq!(
        titles(&s, "my-incidents").await,
        "Cache misses\nLogin errors"
    );
    assert_eq!(
        s.exec("return window.__same_page === true;", json!([]))
            .await,
        true,
        "the dashboard changed without a reload"
    );

    // The incident list too: a new incident appears, and what Bob ticked stays ticked.
    s.go(&format!("{}/incidents", app.url)).await;
    s.wait_title("Incidents · Klaxon").await;
    wait_live(&s).await;
    s.exec("window.__same_page = true; return null;", json!([]))
        .await;
    s.click("#pick-2").await;
    let resolved = declare(&app, &admin, "Flapping check", "SEV4", json!({})).await;
    s.wait_contains("#incident-rows", "Flapping check").await;
    assert_eq!(
        s.exec(
            "return document.getElementById('pick-2').checked;",
            json!([])
        )
        .await,
        true
    );
    assert_eq!(s.text("#bulk-count").await, "1 selected");
    // Resolved elsewhere: it leaves the open list.
    ok(
        app.post(
            &format!(
                "/api/v1/incidents/{}/resolve",
                resolved["id"].as_str().unwrap()
            ),
            &admin,
            &json!({}),
        ),
        200,
    )
    .await;
    for _ in 0..400 {
        if !s.texts("#incident-rows").await.contains("Flapping check") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!s.texts("#incident-rows").await.contains("Flapping check"));
    assert_eq!(
        s.texts("[data-testid=open-SEV4] .num").await,
        "1",
        "the counts follow"
    );
    assert_eq!(
        s.exec("return window.__same_page === true;", json!([]))
            .await,
        Value::Bool(true)
    );
    s.end().await;
    app.stop().await;
}

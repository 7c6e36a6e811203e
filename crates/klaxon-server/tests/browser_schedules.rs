//! Setting up a schedule only through its pages, in headless Chromium: create one with two
//! layers and a reordered rotation (the zone typed as "Berl" and corrected from the page's
//! suggestion), preview its shifts before saving, edit it (turn length, a time window, a layer
//! removed), add an override and remove it (confirmed), delete it. After each step the API says
//! what the store holds. Needs `chromium` and `chromium-driver`; scripts/test.sh installs them.
use crate::browser_support;
use crate::common;

use std::time::Duration;

use browser_support::{Driver, Session};
use common::{Backend, TestApp, member};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

on_both_backends!(a_schedule_is_set_up_previewed_edited_covered_and_deleted_in_the_browser);

/// Clicks a button that posts the form and waits for the page it brings back.
async fn press(s: &Session<'_>, css: &str) {
    s.exec("window.__old_page = true; return null;", json!([]))
        .await;
    s.click(css).await;
    for _ in 0..400 {
        let gone = s
            .exec(
                "return window.__old_page !== true && document.readyState === 'complete';",
                json!([]),
            )
            .await;
        if gone == true {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("pressing {css} brought no new page");
}

async fn value(s: &Session<'_>, css: &str) -> String {
    s.exec(
        "return document.querySelector(arguments[0]).value;",
        json!([css]),
    )
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

/// Sets a date-time box the way a picker does (typing into one depends on the browser's locale).
async fn set_value(s: &Session<'_>, css: &str, v: &str) {
    s.exec(
        "document.querySelector(arguments[0]).value = arguments[1]; return null;",
        json!([css, v]),
    )
    .await;
}

async fn pick(s: &Session<'_>, select: &str, value: &str) {
    s.click(&format!("{select} option[value='{value}']")).await;
}

async fn api(app: &TestApp, path: &str) -> Value {
    let r = app.get(path, &app.admin.token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

async fn schedules(app: &TestApp) -> Vec<Value> {
    api(app, "/api/v1/schedules").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Whether the page is no wider than the window (its own boxes may scroll).
async fn fits(s: &Session<'_>) -> bool {
    s.exec(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;",
        json!([]),
    )
    .await
        == true
}

/// The rows of a shift list as "who start end" (instants in UTC).
async fn shift_rows(s: &Session<'_>, testid: &str) -> Vec<String> {
    let v = s
        .exec(
            "return Array.from(document.querySelectorAll('[data-testid=' + arguments[0] + ']')).map(r => {
               const t = r.querySelectorAll('time');
               const who = r.querySelector('strong');
               return (who ? who.textContent : 'nobody') + ' ' + t[0].getAttribute('datetime') + ' ' + t[1].getAttribute('datetime');
             });",
            json!([testid]),
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

async fn a_schedule_is_set_up_previewed_edited_covered_and_deleted_in_the_browser(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await.id;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await.id;
    let carol = member(&app, "carol@example.com", "Carol", "responder")
        .await
        .id;
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;

    // --- create: two layers, a reordered rotation ---
    s.go(&format!("{}/schedules", app.url)).await;
    s.click("#new-schedule").await;
    s.wait_title("New schedule · Klaxon").await;
    // The clock says Saturday 21 November: the first hand-off defaults to Monday 09:00.
    assert_eq!(value(&s, "#l0-start").await, "2026-11-23T09:00");
    s.type_into("#s-name", "Ops").await;
    s.clear("#time-zone").await;
    s.type_into("#time-zone", "Berl").await;
    let offered = s
        .exec(
            "return document.querySelector('#time-zone-zones option[value=\"Europe/Berlin\"]') !== null;",
            json!([]),
        )
        .await;
    assert_eq!(offered, true, "the zone box offers Europe/Berlin");
    s.clear("#l0-name").await;
    s.type_into("#l0-name", "Weekly").await;
    for who in [&ada, &bob, &carol] {
        pick(&s, "#l0-add", who).await;
        press(&s, "#l0-add-person").await;
    }
    assert_eq!(s.texts("#layer-0 .rota-name").await, "Ada\nBob\nCarol");
    press(&s, "#l0-up-2").await; // Carol before Bob
    assert_eq!(s.texts("#layer-0 .rota-name").await, "Ada\nCarol\nBob");
    // Every button brings the form back with what was typed.
    assert_eq!(value(&s, "#s-name").await, "Ops");
    assert_eq!(value(&s, "#time-zone").await, "Berl");
    assert_eq!(value(&s, "#l0-name").await, "Weekly");

    press(&s, "#add-layer").await;
    s.clear("#l1-name").await;
    s.type_into("#l1-name", "Business hours").await;
    pick(&s, "#l1-add", &bob).await;
    press(&s, "#l1-add-person").await;
    pick(&s, "#l1-unit", "days").await;
    press(&s, "#l1-add-window").await; // every day, 09:00–17:00
    assert_eq!(value(&s, "#l1-w0-start").await, "09:00");
    assert_eq!(value(&s, "#l1-w0-end").await, "17:00");
    assert_eq!(value(&s, "#l1-unit").await, "days");
    assert_eq!(value(&s, "#l1-name").await, "Business hours");
    assert_eq!(s.texts("#layer-1 .rota-name").await, "Bob");

    // "Berl" is not a zone: the page says which one it may be, and takes it in one click.
    press(&s, "#preview-schedule").await;
    let error = s.text("#time-zone-error").await;
    assert!(error.contains("did you mean Europe/Berlin?"), "{error}");
    assert!(schedules(&app).await.is_empty());
    press(&s, "[data-testid=use-zone]").await;
    assert_eq!(value(&s, "#time-zone").await, "Europe/Berlin");
    assert_eq!(s.texts("#layer-0 .rota-name").await, "Ada\nCarol\nBob");

    // --- preview: two weeks from the first hand-off, before anything is saved ---
    press(&s, "#preview-schedule").await;
    let hours = |h: i64| {
        "2026-11-23T08:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .checked_add(SignedDuration::from_hours(h))
            .unwrap()
    };
    let mut expected = Vec::new();
    for day in 0..14_i64 {
        let weekly = if day < 7 { "Ada" } else { "Carol" };
        let at = |h: i64| hours(day * 24 + h);
        expected.push(format!("Bob {} {}", at(0), at(8)));
        expected.push(format!("{weekly} {} {}", at(8), at(24)));
    }
    assert_eq!(shift_rows(&s, "preview-shift").await, expected);
    let first = s.text("[data-testid=preview-shift]").await;
    assert!(
        first.contains("Mon 23 Nov 09:00 CET") && first.contains("your time: Mon 23 Nov 08:00 UTC"),
        "{first}"
    );
    assert!(
        s.text("[data-testid=preview]")
            .await
            .contains("Not saved yet")
    );
    assert!(schedules(&app).await.is_empty(), "a preview saves nothing");

    press(&s, "#save-schedule").await;
    s.wait_title("Ops · Klaxon").await;
    let saved = schedules(&app).await;
    assert_eq!(saved.len(), 1);
    let sched = &saved[0];
    let id = sched["id"].as_str().unwrap().to_owned();
    assert_eq!(sched["time_zone"], "Europe/Berlin");
    let layers = sched["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["name"], "Weekly");
    assert_eq!(layers[0]["users"], json!([ada, carol, bob]));
    assert_eq!(layers[0]["turn"], json!({"count": 1, "unit": "weeks"}));
    assert_eq!(layers[0]["start"], "2026-11-23T09:00:00");
    assert_eq!(layers[1]["users"], json!([bob]));
    assert_eq!(layers[1]["turn"], json!({"count": 1, "unit": "days"}));
    assert_eq!(
        layers[1]["restrictions"],
        json!([{"type": "daily", "start": "09:00:00", "duration_minutes": 480}])
    );
    // The page's list of shifts is the preview's, as saved.
    s.go(&format!(
        "{}/schedules/{id}?from=2026-11-23&days=14",
        app.url
    ))
    .await;
    let page_rows = shift_rows(&s, "shift").await;
    assert_eq!(
        page_rows[0],
        "nobody 2026-11-22T23:00:00Z 2026-11-23T08:00:00Z"
    );
    assert_eq!(page_rows.len(), 29);
    assert_eq!(page_rows[1..28], expected[..27]);
    // The last is cut at the span's end, midnight in Berlin.
    assert_eq!(
        page_rows[28],
        "Carol 2026-12-06T16:00:00Z 2026-12-06T23:00:00Z"
    );

    // The pages fit a phone: the timeline scrolls in its own box.
    s.viewport(390, 844, true).await;
    for path in [
        "/schedules".to_owned(),
        format!("/schedules/{id}"),
        format!("/schedules/{id}/edit"),
    ] {
        s.go(&format!("{}{path}", app.url)).await;
        assert!(fits(&s).await, "{path} scrolls sideways at 390 px");
    }
    s.viewport(1280, 900, false).await;

    // --- edit: a longer turn, a weekly window, the second layer removed ---
    s.go(&format!("{}/schedules/{id}", app.url)).await;
    s.click("#edit-schedule").await;
    s.wait_title("Edit Ops · Klaxon").await;
    assert_eq!(s.texts("#layer-0 .rota-name").await, "Ada\nCarol\nBob");
    s.clear("#l0-count").await;
    s.type_into("#l0-count", "2").await;
    press(&s, "#l0-add-window").await;
    pick(&s, "#l0-w0-type", "weekly").await; // Monday 09:00 to Friday 17:00
    press(&s, "#l1-remove-layer").await;
    assert_eq!(value(&s, "#l0-count").await, "2");
    assert_eq!(value(&s, "#l0-w0-type").await, "weekly");
    assert_eq!(
        s.exec(
            "return document.querySelectorAll('[data-testid=layer]').length;",
            json!([])
        )
        .await,
        1
    );
    press(&s, "#save-schedule").await;
    s.wait_title("Ops · Klaxon").await;
    let sched = api(&app, &format!("/api/v1/schedules/{id}")).await;
    let layers = sched["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["users"], json!([ada, carol, bob]));
    assert_eq!(layers[0]["turn"], json!({"count": 2, "unit": "weeks"}));
    assert_eq!(
        layers[0]["restrictions"],
        json!([{"type": "weekly", "start_weekday": "monday", "start": "09:00:00",
                "duration_minutes": 4 * 1440 + 8 * 60}])
    );
    let summary = s.text("[data-testid=layer-summary]").await;
    assert!(summary.contains("turns of 2 weeks"), "{summary}");
    assert!(summary.contains("Monday 09:00 – Friday 17:00"), "{summary}");

    // --- an override, typed in the reader's zone (UTC here), then removed ---
    pick(&s, "#override-user", &bob).await;
    set_value(&s, "#override-start", "2026-11-24T10:00").await;
    set_value(&s, "#override-end", "2026-11-24T09:00").await;
    press(&s, "#add-override").await;
    assert_eq!(s.text("#override-end-error").await, "Must be after start.");
    assert_eq!(value(&s, "#override-start").await, "2026-11-24T10:00");
    assert_eq!(value(&s, "#override-user").await, bob);
    let overrides = format!("/api/v1/schedules/{id}/overrides");
    assert_eq!(api(&app, &overrides).await["items"], json!([]));
    set_value(&s, "#override-end", "2026-11-24T12:00").await;
    press(&s, "#add-override").await;
    let items = api(&app, &overrides).await["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items[0]["user_id"], bob);
    assert_eq!(items[0]["start"], "2026-11-24T10:00:00Z");
    assert_eq!(items[0]["end"], "2026-11-24T12:00:00Z");
    let row = s.text("[data-testid=override]").await;
    assert!(
        row.contains("Bob")
            && row.contains("Tue 24 Nov 11:00 CET")
            && row.contains("your time: Tue 24 Nov 10:00 UTC"),
        "{row}"
    );
    // Removing asks first: open it, tick "I am sure", then remove.
    s.click("[data-testid=override] summary").await;
    s.click("[data-testid=override] input[name=confirm]").await;
    press(&s, "[data-testid=override] button.danger").await;
    assert_eq!(api(&app, &overrides).await["items"], json!([]));
    assert!(s.text("#main").await.contains("No upcoming overrides"));

    // --- delete, after confirming ---
    s.click("#delete-schedule").await;
    s.wait_title("Delete Ops · Klaxon").await;
    assert_eq!(schedules(&app).await.len(), 1, "asking deletes nothing");
    s.click("#confirm-delete").await;
    s.wait_title("Schedules · Klaxon").await;
    assert!(schedules(&app).await.is_empty());

    s.end().await;
    app.stop().await;
}

//! The incident page in a real browser (headless Chromium): keyboard shortcuts, what is above
//! the fold on a desktop and a phone, and the confirmations destructive actions ask for.
use crate::browser_support;
use crate::common;

use browser_support::{Driver, Session};
use common::{Backend, TestApp};
use serde_json::{Value, json};

async fn api(app: &TestApp, path: &str, body: Value) -> Value {
    let r = app
        .post(path, &app.admin.token, &body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

/// An incident an alert opened: triggered, with one alert. Returns its id.
async fn alert_incident(app: &TestApp) -> String {
    let service = api(app, "/api/v1/services", json!({"name": "Checkout"})).await;
    let sid = service["id"].as_str().unwrap();
    let key = api(
        app,
        &format!("/api/v1/services/{sid}/integrations"),
        json!({"name": "monitoring", "kind": "events_v2"}),
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(
            &json!({"routing_key": key, "event_action": "trigger", "dedup_key": "pay",
            "payload": {"summary": "Payments failing for EU customers since the last deploy",
                        "source": "pay-1", "severity": "critical"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let list = app
        .get("/api/v1/incidents", &app.admin.token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    list["items"][0]["id"].as_str().unwrap().to_owned()
}

async fn js(s: &Session<'_>, script: &str) -> Value {
    s.exec(script, json!([])).await
}

/// Polls until `script` returns true.
async fn wait_for(s: &Session<'_>, script: &str) {
    for _ in 0..400 {
        if js(s, script).await == true {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("never true: {script}");
}

const ESCAPE: &str = "\u{E00C}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shortcuts_acknowledge_resolve_and_focus_the_note_box_but_not_while_typing() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let id = alert_incident(&app).await;
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;
    s.go(&format!("{}/incidents/{id}", app.url)).await;
    s.wait_title("#1 Payments failing for EU customers since the last deploy · Klaxon")
        .await;
    assert_eq!(s.text("[data-testid=incident-status]").await, "triggered");
    // The next move is the one primary button; the others are quiet.
    assert_eq!(s.text(".primary-move button").await, "Acknowledge");
    assert_eq!(
        js(
            &s,
            "return document.querySelectorAll('#actions button:not(.secondary):not(.link)').length;"
        )
        .await,
        1
    );

    // ? lists the shortcuts, and so does the visible button; Escape closes the list.
    s.press("?").await;
    wait_for(&s, "return document.getElementById('shortcuts').open;").await;
    let listed = s.texts("#shortcuts dd").await;
    for what in ["Acknowledge", "Resolve", "Write a note", "Show this list"] {
        assert!(listed.contains(what), "{listed}");
    }
    s.press(ESCAPE).await;
    wait_for(&s, "return !document.getElementById('shortcuts').open;").await;
    s.click("#shortcuts-button").await;
    wait_for(&s, "return document.getElementById('shortcuts').open;").await;
    s.click("#shortcuts-close").await;
    wait_for(&s, "return !document.getElementById('shortcuts').open;").await;

    // Every form sent is seen here, before the page goes.
    js(&s, "document.addEventListener('submit', function () { window.__sent = true; }, true); return null;").await;
    // n goes to the note box; typing a and r there writes them and sends nothing.
    s.press("n").await;
    wait_for(&s, "return document.activeElement.id === 'note-text';").await;
    s.press("a").await;
    s.press("r").await;
    assert_eq!(
        js(&s, "return document.getElementById('note-text').value;").await,
        "ar"
    );
    assert_eq!(js(&s, "return window.__sent === undefined;").await, true);
    assert_eq!(s.text("[data-testid=incident-status]").await, "triggered");
    // Nor with a modifier held.
    js(&s, "document.activeElement.blur(); return null;").await;
    let ctrl_a = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
        {"type": "keyDown", "value": "\u{E009}"}, {"type": "keyDown", "value": "a"},
        {"type": "keyUp", "value": "a"}, {"type": "keyUp", "value": "\u{E009}"}]}]});
    driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{}/actions", s.id),
            Some(ctrl_a),
        )
        .await;
    assert_eq!(js(&s, "return window.__sent === undefined;").await, true);
    assert_eq!(s.text("[data-testid=incident-status]").await, "triggered");

    // a acknowledges through the button's form: the page says so and who did it, newest first.
    s.press("a").await;
    s.wait_contains("[data-testid=incident-status]", "acknowledged")
        .await;
    let newest = s.text("#timeline > li:first-child").await;
    assert!(
        newest.contains("Administrator acknowledged the incident"),
        "{newest}"
    );
    assert_eq!(s.text(".primary-move button").await, "Mitigated");
    // a again: nothing to acknowledge, and the page says so.
    s.press("a").await;
    s.wait_contains("#shortcut-status", "cannot be acknowledged now")
        .await;
    // r resolves.
    s.press("r").await;
    s.wait_contains("[data-testid=incident-status]", "resolved")
        .await;
    assert!(
        s.text("#timeline > li:first-child")
            .await
            .contains("Administrator resolved the incident")
    );
    s.end().await;
    app.stop().await;
}

/// What a responder needs first is on the first screen, on a desktop and on a phone, and the
/// phone never scrolls sideways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_essentials_are_above_the_fold_and_a_phone_never_scrolls_sideways() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let id = alert_incident(&app).await;
    let (bob, _) = app.user_with_token("bob@example.com", "responder").await;
    api(
        &app,
        &format!("/api/v1/incidents/{id}/roles"),
        json!({"role": "commander", "user_id": bob}),
    )
    .await;
    for n in 0..30 {
        api(
            &app,
            &format!("/api/v1/incidents/{id}/notes"),
            json!({"text": format!("Note {n}: a longer line of what was checked, with a URL https://grafana.example.com/d/abcdefghijklmnopqrstuvwxyz0123456789/payments")}),
        )
        .await;
    }
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;
    let essentials = "var out = []; ['h1', '[data-testid=incident-status]', '[data-testid=incident-severity], .incident-facts li:nth-child(2) strong', \
        '[data-testid=incident-priority]', '[data-testid=incident-age]', '[data-testid=incident-commander]', '.primary-move button'].forEach(function (css) { \
        var el = document.querySelector(css); if (!el) { out.push(css + ' missing'); return; } \
        var r = el.getBoundingClientRect(); if (r.bottom > window.innerHeight || r.height === 0) out.push(css + ' at ' + r.bottom); }); \
        return out.join('; ');";
    for (w, h, mobile) in [(1280, 900, false), (390, 844, true)] {
        s.viewport(w, h, mobile).await;
        for dark in [false, true] {
            s.color_scheme(dark).await;
            s.go(&format!("{}/incidents/{id}", app.url)).await;
            s.wait_title("#1 Payments failing for EU customers since the last deploy · Klaxon")
                .await;
            assert_eq!(js(&s, essentials).await, "", "{w}×{h}");
            assert_eq!(
                js(&s, "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;").await,
                true,
                "{w}×{h}: the page scrolls sideways"
            );
        }
    }
    assert_eq!(s.text("[data-testid=incident-commander]").await, "Someone");
    assert!(
        s.text("[data-testid=incident-age]")
            .await
            .starts_with("open ")
    );
    // Wide: the side panels are beside the timeline; narrow: below it.
    let beside = "var t = document.getElementById('timeline-section').getBoundingClientRect(); \
        var r = document.getElementById('roles-section').getBoundingClientRect(); return r.left >= t.right;";
    assert_eq!(js(&s, beside).await, false, "390 px: below");
    s.viewport(1280, 900, false).await;
    s.go(&format!("{}/incidents/{id}", app.url)).await;
    s.wait_title("#1 Payments failing for EU customers since the last deploy · Klaxon")
        .await;
    assert_eq!(js(&s, beside).await, true, "1280 px: beside");
    // The incident's alert links to its page.
    let href = js(
        &s,
        "return document.querySelector('#alerts a').getAttribute('href');",
    )
    .await;
    assert!(href.as_str().unwrap().starts_with("/alerts/"), "{href}");
    s.end().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destructive_actions_ask_before_they_act() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let target = api(
        &app,
        "/api/v1/incidents",
        json!({"title": "Checkout errors", "severity": "SEV3"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dup = api(
        &app,
        "/api/v1/incidents",
        json!({"title": "Payments failing", "severity": "SEV3"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api(
        &app,
        &format!("/api/v1/incidents/{dup}/tasks"),
        json!({"title": "Drop the cache"}),
    )
    .await;
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;
    s.go(&format!("{}/incidents/{dup}", app.url)).await;
    s.wait_title("#2 Payments failing · Klaxon").await;

    // Removing a task: the button that does it shows only once asked for.
    let shown = "return document.querySelector('[data-testid=task] details.confirm-remove button').checkVisibility();";
    assert_eq!(js(&s, shown).await, false);
    s.click("[data-testid=task] details.confirm-remove summary")
        .await;
    assert_eq!(js(&s, shown).await, true);
    s.click("[data-testid=task] details.confirm-remove button")
        .await;
    s.wait_contains("#tasks", "No tasks.").await;

    // Merging is folded away, and the browser will not send it before "I am sure" is ticked.
    assert_eq!(
        js(
            &s,
            "return document.getElementById('merge').checkVisibility();"
        )
        .await,
        false
    );
    s.click("#danger-zone summary").await;
    s.click(&format!("#merge-into option[value='{target}']"))
        .await;
    js(&s, "window.__same_page = true; return null;").await;
    s.click("#merge").await;
    assert_eq!(
        js(&s, "return document.getElementById('merge-confirm').validity.valueMissing && window.__same_page === true;").await,
        true
    );
    s.click("#merge-confirm").await;
    s.click("#merge").await;
    s.wait_title("#1 Checkout errors · Klaxon").await;
    s.go(&format!("{}/incidents/{dup}", app.url)).await;
    s.wait_contains("#merged-into", "Merged into").await;
    s.end().await;
    app.stop().await;
}

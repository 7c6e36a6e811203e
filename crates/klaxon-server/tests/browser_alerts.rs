//! The alert page in a real browser on a phone-sized screen (390×844): an alert whose details,
//! links and dedup key are long unbroken strings lays out without sideways scrolling, the
//! payload scrolls inside its own box, and nothing is fetched from another site.
use crate::browser_support;
use crate::common;

use browser_support::{Driver, Session};
use common::{Backend, TestApp, ok};
use serde_json::{Value, json};

/// (document width, viewport width): the first may not exceed the second.
async fn widths(s: &Session<'_>) -> (i64, i64) {
    let v = s
        .exec(
            "const d = document.documentElement; return [d.scrollWidth, d.clientWidth];",
            json!([]),
        )
        .await;
    (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_page_fits_a_phone() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let admin = &app.admin.token;
    let svc = ok(
        app.post("/api/v1/services", admin, &json!({"name": "edge"})),
        201,
    )
    .await;
    let integration = ok(
        app.post(
            &format!(
                "/api/v1/services/{}/integrations",
                svc["id"].as_str().unwrap()
            ),
            admin,
            &json!({"name": "tool", "kind": "events_v2"}),
        ),
        201,
    )
    .await;
    let long_word = "x".repeat(240);
    let long_url = format!("https://grafana.example.com/d/{}", "abcdef0123".repeat(30));
    let r = app
        .http
        .post(format!("{}/v2/enqueue", app.url))
        .json(&json!({
            "routing_key": integration["key"], "event_action": "trigger",
            "dedup_key": "k".repeat(255),
            "client": "Grafana", "client_url": long_url,
            "links": [{"href": long_url, "text": long_word}],
            "images": [{"src": format!("{long_url}.png"), "alt": long_word}],
            "payload": {"summary": format!("Latency {long_word}"), "source": long_word,
                        "severity": "warning",
                        "custom_details": {
                            long_word.clone(): long_url,
                            "nested": {"deeper": {"deepest_key_with_a_long_name": long_word}},
                            "lines": "one\ntwo\nthree"
                        }}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let list: Value = ok(app.get("/api/v1/alerts", admin), 200).await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();

    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;
    s.viewport(390, 844, true).await;

    s.go(&format!("{}/alerts", app.url)).await;
    s.wait_title("Alerts · Klaxon").await;
    let (doc, view) = widths(&s).await;
    assert!(
        doc <= view,
        "the alerts list is {doc} px wide on a {view} px screen"
    );
    s.click("[data-testid=alert-link]").await;
    s.wait_title(&format!("Alert: Latency {long_word} · Klaxon"))
        .await;
    assert!(s.current_url().await.ends_with(&format!("/alerts/{id}")));
    let (doc, view) = widths(&s).await;
    assert_eq!(view, 390);
    assert!(
        doc <= view,
        "the alert page is {doc} px wide on a {view} px screen"
    );
    assert!(
        s.text("[data-testid=alert-details]")
            .await
            .contains("nested.deeper.deepest_key_with_a_long_name")
    );

    // The payload, opened, scrolls inside its box; the page still does not.
    s.click("details.alert-payload summary").await;
    let pre = s
        .exec(
            "const p = document.querySelector('[data-testid=alert-payload]');
             const r = p.getBoundingClientRect();
             return [p.scrollWidth, p.clientWidth, r.right, r.height];",
            json!([]),
        )
        .await;
    let (scroll, client, right, height) = (
        pre[0].as_f64().unwrap(),
        pre[1].as_f64().unwrap(),
        pre[2].as_f64().unwrap(),
        pre[3].as_f64().unwrap(),
    );
    assert!(height > 0.0, "the payload is shown once opened");
    assert!(scroll > client, "a long line scrolls inside the box: {pre}");
    assert!(right <= 390.0, "the box ends inside the screen: {pre}");
    let (doc, view) = widths(&s).await;
    assert!(
        doc <= view,
        "with the payload open the page is {doc} px wide on {view}"
    );

    // Images and links are links: the page fetched nothing but Klaxon's own files.
    let fetched = s
        .exec(
            "return performance.getEntriesByType('resource').map(e => e.name);",
            json!([]),
        )
        .await;
    for url in fetched.as_array().unwrap() {
        assert!(url.as_str().unwrap().starts_with(&app.url), "fetched {url}");
    }
    s.end().await;
    app.stop().await;
}

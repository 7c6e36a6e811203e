//! The dashboard for the person on call (their incidents first, then everyone's worst first,
//! their schedules and next shift), acting on several incidents at once from the list, and the
//! stream that tells open pages an incident changed. On both backends.
use crate::common;
use crate::dashboard_support;

use std::time::Duration;

use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{Backend, PASSWORD, TestApp, member, ok, session_for, web_get_as};
use dashboard_support::{admin_id, declare, events_of, incident, paged_service, person, tick};

/// The part of `html` from the element with `data-testid="{id}"` to the next section.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("data-testid=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// The titles of the incident rows in `html`, in order.
fn titles(html: &str) -> Vec<String> {
    html.split("data-testid=\"open-incident\"")
        .skip(1)
        .map(|row| {
            let a = row.find("<a href=\"/incidents/").unwrap();
            let t = &row[a..];
            let t = &t[t.find('>').unwrap() + 1..];
            t[..t.find("</a>").unwrap()].to_owned()
        })
        .collect()
}

async fn mine_first_then_worst_first(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let bob = person(&app, "bob@example.com", "Bob", "Europe/Berlin").await;
    let service = paged_service(&app, &admin_id(&app).await).await;
    let minute = || app.clock.advance(SignedDuration::from_mins(1));
    // Declared without a service they start acknowledged; on the paged service, triggered.
    declare(&app, &admin, "Disk almost full", "SEV4", json!({})).await;
    minute();
    declare(&app, &admin, "Search slow", "SEV3", json!({})).await;
    minute();
    let checkout = declare(
        &app,
        &admin,
        "Checkout errors",
        "SEV3",
        json!({"service_id": service}),
    )
    .await;
    assert_eq!(checkout["status"], "triggered");
    minute();
    declare(&app, &admin, "Payments down", "SEV1", json!({})).await;
    minute();
    declare(&app, &bob.token, "Login errors", "SEV3", json!({})).await;
    minute();
    declare(
        &app,
        &admin,
        "Cache misses",
        "SEV2",
        json!({"commander_id": bob.id}),
    )
    .await;
    let done = declare(&app, &admin, "Old outage", "SEV1", json!({})).await;
    ok(
        app.post(
            &format!("/api/v1/incidents/{}/resolve", done["id"].as_str().unwrap()),
            &admin,
            &json!({}),
        ),
        200,
    )
    .await;

    let (cookie, _) = session_for(&app, &bob.email, PASSWORD).await;
    let html = web_get_as(&app, "/", &cookie).await;
    // Bob reported one and commands another: those first, worst first.
    let mine = section(&html, "my-incidents");
    assert_eq!(titles(mine), vec!["Cache misses", "Login errors"]);
    // Then the others: by severity, a triggered one before an older acknowledged one.
    let others = section(&html, "open-incidents");
    assert!(others.contains("Other open incidents"), "{others}");
    assert_eq!(
        titles(others),
        vec![
            "Payments down",
            "Checkout errors",
            "Search slow",
            "Disk almost full"
        ]
    );
    assert!(!html.contains("Old outage"), "resolved ones are not open");
    // Incidents come before anything else, and times are in Bob's zone, with how long ago.
    assert!(html.find("my-incidents").unwrap() < html.find("on-call-panel").unwrap());
    assert!(
        others.contains("10:03 CET</time> <span class=\"ago\">(2 min ago)</span>"),
        "{others}"
    );
    // The system's figures are for admins, at the bottom.
    assert!(!html.contains("data-testid=\"user-count\""));
    assert!(!html.contains("sqlite") && !html.contains("postgres"));
    let (admin_cookie, _) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let html = web_get_as(&app, "/", &admin_cookie).await;
    let system = html
        .find("data-testid=\"system\"")
        .expect("admins see the figures");
    assert!(html.find("data-testid=\"open-incidents\"").unwrap() < system);
    assert!(section(&html, "system").contains("<dd data-testid=\"user-count\">2</dd>"));
    // The admin reported everything but Bob's: all theirs, worst first.
    assert_eq!(
        titles(section(&html, "my-incidents")),
        vec![
            "Payments down",
            "Cache misses",
            "Checkout errors",
            "Search slow",
            "Disk almost full"
        ]
    );
    assert_eq!(
        titles(section(&html, "open-incidents")),
        vec!["Login errors"]
    );
    app.stop().await;
}

async fn my_schedules_and_next_shift(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let bob = person(&app, "bob@example.com", "Bob", "Europe/Berlin").await;
    let carol = member(&app, "carol@example.com", "Carol", "responder").await;
    let admin_id = admin_id(&app).await;
    // Daily turns from Mon 16 Nov 09:00 UTC, Bob first: today (Sat 21st, 09:00) is the
    // admin's; Bob's next starts Sun 22nd 09:00 UTC, 10:00 in Berlin.
    let schedule = |name: &str, users: Vec<&str>| {
        json!({"name": name, "time_zone": "UTC", "layers": [
            {"name": "daily", "start": "2026-11-16T09:00:00", "users": users,
             "turn": {"count": 1, "unit": "days"}}]})
    };
    ok(
        app.post(
            "/api/v1/schedules",
            &app.admin.token,
            &schedule("Primary", vec![&bob.id, &admin_id]),
        ),
        201,
    )
    .await;
    ok(
        app.post(
            "/api/v1/schedules",
            &app.admin.token,
            &schedule("Database", vec![&carol.id]),
        ),
        201,
    )
    .await;
    let (cookie, _) = session_for(&app, &bob.email, PASSWORD).await;
    let html = web_get_as(&app, "/", &cookie).await;
    let panel = section(&html, "on-call-panel");
    let next = section(panel, "my-next-shift");
    assert!(
        next.contains("Your next shift")
            && next.contains(">Primary</a>")
            && next.contains("22 Nov, 10:00 CET</time> <span class=\"ago\">(in 1 day)</span>"),
        "{next}"
    );
    // Bob's schedule first, with who is on it now; the other one below (there are few).
    let mine =
        &panel[panel.find("Your schedules").unwrap()..panel.find("Other schedules").unwrap()];
    assert!(
        mine.contains(">Primary</a>") && mine.contains("<strong>Administrator</strong>"),
        "{mine}"
    );
    assert!(
        mine.contains("22 Nov, 10:00 CET"),
        "the shift's end, in Bob's zone: {mine}"
    );
    let others = &panel[panel.find("Other schedules").unwrap()..];
    assert!(others.contains(">Database</a>") && others.contains("<strong>Carol</strong>"));

    // A day later Bob is on call (and signs in again: sessions end when idle).
    app.clock.advance(SignedDuration::from_hours(24));
    let (cookie, _) = session_for(&app, &bob.email, PASSWORD).await;
    let html = web_get_as(&app, "/", &cookie).await;
    let next = section(&html, "my-next-shift");
    assert!(
        next.contains("You are on call now") && next.contains("23 Nov, 10:00 CET"),
        "{next}"
    );
    assert!(section(&html, "on-call-panel").contains("<strong>Bob</strong> (you)"));
    // Someone in no schedule is told so.
    let (cookie, _) = session_for(&app, "carol@example.com", PASSWORD).await;
    let html = web_get_as(&app, "/", &cookie).await;
    assert!(section(&html, "my-next-shift").contains(">Database</a>"));
    let admin_html = web_get_as(
        &app,
        "/",
        &session_for(&app, &app.admin.email, &app.admin.password)
            .await
            .0,
    )
    .await;
    assert!(section(&admin_html, "my-next-shift").contains("Your next shift"));
    member(&app, "dave@example.com", "Dave", "viewer").await;
    let (cookie, _) = session_for(&app, "dave@example.com", PASSWORD).await;
    let html = web_get_as(&app, "/", &cookie).await;
    assert!(section(&html, "my-next-shift").contains("You are in no schedule."));
    app.stop().await;
}

/// Posts the list's bulk form as someone signed in.
async fn bulk(app: &TestApp, cookie: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let r = app
        .http
        .post(format!("{}/incidents/bulk", app.url))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

fn results(html: &str) -> Vec<String> {
    html.split("data-testid=\"bulk-result\">")
        .skip(1)
        .map(|r| r[..r.find("</li>").unwrap()].to_owned())
        .collect()
}

async fn bulk_acknowledge_and_resolve(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = person(&app, "ada@example.com", "Ada", "UTC").await;
    let service = paged_service(&app, &ada.id).await;
    let on = json!({"service_id": service});
    let admin = app.admin.token.clone();
    let one = declare(&app, &admin, "Database down", "SEV2", on.clone()).await;
    let two = declare(&app, &admin, "Queue backlog", "SEV3", on.clone()).await;
    let three = declare(&app, &admin, "Disk full", "SEV3", on.clone()).await;
    let four = declare(&app, &admin, "Cache cold", "SEV4", on.clone()).await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let (one, two, three, four) = (id(&one), id(&two), id(&three), id(&four));
    ok(
        app.post(
            &format!("/api/v1/incidents/{three}/resolve"),
            &admin,
            &json!({}),
        ),
        200,
    )
    .await;
    ok(
        app.post(
            &format!("/api/v1/incidents/{four}/status"),
            &admin,
            &json!({"status": "mitigated"}),
        ),
        200,
    )
    .await;
    tick(&app).await;
    assert_eq!(ada.receiver.pages(), 2, "level one paged Ada for #1 and #2");

    let (cookie, csrf) = session_for(&app, &ada.email, PASSWORD).await;
    // Nothing ticked: the form says so beside the selection, and nothing changes.
    let (status, html) = bulk(&app, &cookie, &[("csrf", &csrf), ("action", "acknowledge")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains(
            "<p class=\"field-error\" id=\"bulk-error\">Select at least one incident first.</p>"
        ),
        "{html}"
    );
    // Not an incident: refused as a whole, nothing half-done.
    let (status, html) = bulk(
        &app,
        &cookie,
        &[
            ("csrf", &csrf),
            ("action", "acknowledge"),
            ("incident", &one),
            ("incident", "75"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("One of the selected is not an incident."),
        "{html}"
    );
    assert_eq!(incident(&app, &one).await["status"], "triggered");
    // A form from another session is refused.
    let (status, _) = bulk(
        &app,
        &cookie,
        &[
            ("csrf", &"0".repeat(64)),
            ("action", "acknowledge"),
            ("incident", &one),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A viewer cannot.
    member(&app, "vic@example.com", "Vic", "viewer").await;
    let (viewer, viewer_csrf) = session_for(&app, "vic@example.com", PASSWORD).await;
    let (status, _) = bulk(
        &app,
        &viewer,
        &[
            ("csrf", &viewer_csrf),
            ("action", "acknowledge"),
            ("incident", &one),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(incident(&app, &one).await["status"], "triggered");
    assert!(
        !web_get_as(&app, "/incidents", &viewer)
            .await
            .contains("bulk-form")
    );

    // Acknowledge four: two were triggered; the resolved one is not reopened, the mitigated
    // one not taken back.
    let (status, html) = bulk(
        &app,
        &cookie,
        &[
            ("csrf", &csrf),
            ("action", "acknowledge"),
            ("back", "status=all"),
            ("incident", &one),
            ("incident", &two),
            ("incident", &three),
            ("incident", &four),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        results(&html),
        vec![
            "#1 Database down: acknowledged.",
            "#2 Queue backlog: acknowledged.",
            "#3 Disk full: was already resolved.",
            "#4 Cache cold: was already mitigated.",
        ]
    );
    // The list shown again is the one the form came from (all statuses).
    assert!(html.contains("<option value=\"all\" selected>"), "{html}");
    for (id, status) in [
        (&one, "acknowledged"),
        (&two, "acknowledged"),
        (&three, "resolved"),
        (&four, "mitigated"),
    ] {
        assert_eq!(incident(&app, id).await["status"], status);
    }
    // Each through its own change: one event each, by Ada.
    for id in [&one, &two] {
        let acks = events_of(&app, id, "incident.acknowledged").await;
        assert_eq!(acks.len(), 1, "{acks:?}");
        assert_eq!(acks[0].0, format!("user:{}", ada.id));
    }
    assert!(
        events_of(&app, &three, "incident.reopened")
            .await
            .is_empty()
    );
    // Paging stopped for both: level two never goes out.
    app.clock.advance(SignedDuration::from_mins(10));
    tick(&app).await;
    app.clock.advance(SignedDuration::from_mins(10));
    tick(&app).await;
    assert_eq!(ada.receiver.pages(), 2, "no page after the acknowledgement");

    // Resolve: the open ones resolve, the resolved one says so.
    let (_, html) = bulk(
        &app,
        &cookie,
        &[
            ("csrf", &csrf),
            ("action", "resolve"),
            ("incident", &one),
            ("incident", &three),
            ("incident", &four),
            ("incident", &one),
        ],
    )
    .await;
    assert_eq!(
        results(&html),
        vec![
            "#1 Database down: resolved.",
            "#3 Disk full: was already resolved.",
            "#4 Cache cold: resolved.",
        ]
    );
    assert_eq!(events_of(&app, &one, "incident.resolved").await.len(), 1);
    // An action the form does not have.
    let (status, html) = bulk(
        &app,
        &cookie,
        &[("csrf", &csrf), ("action", "close"), ("incident", &two)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("Choose Acknowledge selected or Resolve selected."),
        "{html}"
    );
    assert_eq!(incident(&app, &two).await["status"], "acknowledged");
    app.stop().await;
}

/// Reads the stream until a `change` event arrives; returns its data.
async fn next_change(r: &mut reqwest::Response) -> Value {
    let mut buf = String::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk())
            .await
            .expect("a change within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(at) = buf.find("event: change\n") {
            let rest = &buf[at..];
            if let Some(end) = rest.find("\n\n") {
                let data = rest[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap();
                return serde_json::from_str(data).unwrap();
            }
        }
    }
}

async fn changes_stream(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (cookie, _) = session_for(&app, &app.admin.email, &app.admin.password).await;
    // Signed out: no stream.
    let r = app
        .http
        .get(format!("{}/incidents/changes", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The page says where its stream starts.
    let html = web_get_as(&app, "/incidents", &cookie).await;
    let at = html.find("data-live-after=\"").unwrap() + 17;
    let after: i64 = html[at..at + html[at..].find('"').unwrap()]
        .parse()
        .unwrap();
    let mut r = app
        .http
        .get(format!("{}/incidents/changes?after={after}", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let declared = declare(&app, &bob.token, "Database down", "SEV1", json!({})).await;
    let change = next_change(&mut r).await;
    assert_eq!(change["incidents"], json!([declared["id"]]));
    let seq = change["seq"].as_i64().unwrap();
    assert!(seq > after);
    // Acknowledging another: reported too, later in the ledger.
    let other = declare(&app, &bob.token, "Queue backlog", "SEV3", json!({})).await;
    let change = next_change(&mut r).await;
    assert_eq!(change["incidents"], json!([other["id"]]));
    assert!(change["seq"].as_i64().unwrap() > seq);
    // Picking up again where it left off reports nothing old.
    let mut again = app
        .http
        .get(format!("{}/incidents/changes", app.url))
        .header("cookie", &cookie)
        .header("last-event-id", change["seq"].to_string())
        .send()
        .await
        .unwrap();
    ok(
        app.post(
            "/api/v1/incidents",
            &bob.token,
            &json!({"title": "Third", "severity": "SEV4"}),
        ),
        201,
    )
    .await;
    let third = next_change(&mut again).await;
    assert_eq!(third["incidents"].as_array().unwrap().len(), 1);
    assert_ne!(third["incidents"][0], other["id"]);
    // The browser going away ends its streams (and lets the server stop).
    drop(r);
    drop(again);
    app.stop().await;
}

on_both_backends!(
    mine_first_then_worst_first,
    my_schedules_and_next_shift,
    bulk_acknowledge_and_resolve,
    changes_stream
);

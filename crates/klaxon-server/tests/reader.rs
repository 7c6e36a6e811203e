//! Each person's time zone, and forms that keep what was typed: through the API and the pages,
//! on both backends.
use crate::common;

use serde_json::json;

use common::{Backend, TestApp, expect_error, member, ok, patch, session_for, web_get_as};

/// Anyone sets their own zone (not someone else's); a name that is not an IANA zone is refused
/// naming the field, and leaves the zone as it was; pages then show times in it, named.
async fn a_person_reads_times_in_their_own_zone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let carol = member(&app, "carol@example.com", "Carol", "responder").await;
    let me = ok(app.get("/api/v1/me", &bob.token), 200).await;
    assert_eq!(me["user"]["time_zone"], serde_json::Value::Null);

    let path = format!("/api/v1/users/{}", bob.id);
    let r = patch(&app, &path, &bob.token, &json!({"time_zone": "Berlin"}));
    expect_error(
        r.send().await.unwrap(),
        400,
        "invalid_field",
        Some("time_zone"),
    )
    .await;
    let u = ok(
        patch(
            &app,
            &path,
            &bob.token,
            &json!({"time_zone": " Asia/Tokyo "}),
        ),
        200,
    )
    .await;
    assert_eq!(u["time_zone"], "Asia/Tokyo");
    let r = patch(
        &app,
        &format!("/api/v1/users/{}", carol.id),
        &bob.token,
        &json!({"time_zone": "Asia/Tokyo"}),
    );
    assert_eq!(r.send().await.unwrap().status(), 403);
    // The change is on the person's record of changes.
    let events = ok(
        app.get(
            &format!("/api/v1/events?subject_type=user&subject_id={}", bob.id),
            &app.admin.token,
        ),
        200,
    )
    .await;
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "user.updated" && e["data"]["time_zone"]["to"] == "Asia/Tokyo"),
        "{events}"
    );

    // Pages: the zone is named in the top bar and times are in it (the fake clock is at
    // 09:00 UTC, 18:00 in Tokyo).
    let (cookie, _) = session_for(&app, "bob@example.com", common::PASSWORD).await;
    let page = web_get_as(&app, "/users", &cookie).await;
    assert!(page.contains(">Asia/Tokyo</a>"), "{page}");
    assert!(page.contains("18:00 JST"), "{page}");
    assert!(!page.contains("zone-offer"), "no offer once chosen");
    let (carol_cookie, _) = session_for(&app, "carol@example.com", common::PASSWORD).await;
    let page = web_get_as(&app, "/users", &carol_cookie).await;
    assert!(
        page.contains("09:00 UTC") && page.contains("id=\"zone-offer\""),
        "{page}"
    );
    app.stop().await;
}

/// A refused form says why beside the field, in words, and keeps what was typed.
async fn a_refused_form_keeps_what_was_typed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    member(&app, "bob@example.com", "Bob", "responder").await;
    let (cookie, csrf) =
        session_for(&app, &app.admin.email.clone(), &app.admin.password.clone()).await;
    let r = app
        .http
        .post(format!("{}/users", app.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Second Bob"),
            ("email", "bob@example.com"),
            ("role", "admin"),
            ("password", "a long enough passphrase 42"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    let error = page
        .split("id=\"new-email-error\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("no message beside the e-mail box: {page}"));
    assert!(
        !error.contains("email:"),
        "plain words, not API syntax: {error}"
    );
    assert!(error.starts_with(char::is_uppercase), "{error}");
    assert!(page.contains("value=\"Second Bob\""), "the name is kept");
    assert!(
        page.contains("value=\"bob@example.com\""),
        "the e-mail is kept"
    );
    assert!(
        page.contains("<option selected>admin</option>"),
        "the role is kept"
    );
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"new-email-error\""));
    // Nothing was written.
    let users = common::all_pages(&app, "/api/v1/users", 100).await;
    assert_eq!(users.len(), 2);

    // Declaring: the bad bridge address is named beside its box; the rest is kept.
    let r = app
        .http
        .post(format!("{}/incidents", app.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "Checkout is slow"),
            ("severity", "SEV2"),
            ("impact", "low"),
            ("description", "p99 at 4 s"),
            ("conference_url", "javascript:alert(1)"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"conference-url-error\""), "{page}");
    assert!(page.contains("value=\"Checkout is slow\""), "{page}");
    assert!(page.contains("<option value=\"low\" selected>"), "{page}");
    assert!(page.contains("id=\"severity-SEV2\" checked"), "{page}");
    assert!(page.contains(">p99 at 4 s</textarea>"), "{page}");
    let incidents = common::all_pages(&app, "/api/v1/incidents", 100).await;
    assert!(incidents.is_empty());
    app.stop().await;
}

on_both_backends!(
    a_person_reads_times_in_their_own_zone,
    a_refused_form_keeps_what_was_typed
);

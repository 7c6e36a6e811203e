//! Refused forms over HTTP: each reason in plain words beside the field it is about (or at the
//! top of the form it belongs to), what was typed kept, and the refusal's 4xx status. Covers a
//! user's page, the account page, deleting a policy in use and removing an override, which
//! asks "are you sure" first.
use crate::common;

use serde_json::{Value, json};

use common::{Backend, PASSWORD, TestApp, member, ok, session_for};

/// A signed-in form post; returns (status, HTML).
async fn form(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Where `needle` is in `html`, which must have it.
fn at(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in {html}"))
}

/// The text of the element with `id`, up to its first tag.
fn text_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = at(html, &format!("id=\"{id}\""));
    let start = start + html[start..].find('>').unwrap() + 1;
    &html[start..start + html[start..].find('<').unwrap()]
}

/// The `<form …>…</form>` whose tag holds `action="{action}"`.
fn form_with<'a>(html: &'a str, action: &str) -> &'a str {
    let i = at(html, &format!("action=\"{action}\""));
    let start = html[..i].rfind("<form").unwrap();
    &html[start..i + html[i..].find("</form>").unwrap()]
}

/// The message for `id` sits right after the control with that id, which points at it.
fn beside(html: &str, id: &str, message: &str) {
    let control = at(html, &format!("id=\"{id}\""));
    let error = at(html, &format!("id=\"{id}-error\""));
    assert!(control < error, "{id}: the message comes after the control");
    let between = &html[control..error];
    assert!(
        !between.contains("<label"),
        "{id}: nothing between the control and its message: {between}"
    );
    let tag = &html[html[..control].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    assert!(
        tag.contains("aria-invalid=\"true\"")
            && tag.contains(&format!("aria-describedby=\"{id}-error\"")),
        "{tag}"
    );
    assert_eq!(text_of(html, &format!("{id}-error")), message);
}

async fn a_users_page_says_each_refusal_on_its_own_form(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let rita = member(&app, "rita@example.com", "Rita", "responder").await;
    member(&app, "sam@example.com", "Sam", "responder").await;
    let (admin, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let path = format!("/users/{}", rita.id);

    // Someone else's e-mail address: said beside the e-mail box; the rest typed is kept.
    let (status, html) = form(
        &app,
        &admin,
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Rita Typed"),
            ("email", "sam@example.com"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert_eq!(status, 409, "{html}");
    beside(&html, "u-email", "Already in use.");
    assert!(html.contains("value=\"Rita Typed\""), "{html}");
    assert!(html.contains("value=\"sam@example.com\""), "{html}");
    assert!(html.contains("<option selected>viewer</option>"), "{html}");
    assert!(!html.contains("email: already in use"), "{html}");
    assert!(
        !html.contains("role=\"alert\""),
        "only beside the field: {html}"
    );
    // Nothing was saved.
    let saved = ok(
        app.get(&format!("/api/v1/users/{}", rita.id), &app.admin.token),
        200,
    )
    .await;
    assert_eq!(saved["name"], "Rita");

    // An empty name, beside the name box.
    let (status, html) = form(
        &app,
        &admin,
        &path,
        &[
            ("csrf", &csrf),
            ("name", " "),
            ("email", "rita@example.com"),
            ("role", "responder"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    beside(&html, "u-name", "Must not be empty.");
    assert!(!html.contains("name: must"), "{html}");

    // The last admin's role, beside the role picker.
    let me_id = ok(app.get("/api/v1/me", &app.admin.token), 200).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, html) = form(
        &app,
        &admin,
        &format!("/users/{me_id}"),
        &[
            ("csrf", &csrf),
            ("name", "Admin"),
            ("email", &app.admin.email),
            ("role", "responder"),
        ],
    )
    .await;
    assert_eq!(status, 409, "{html}");
    beside(
        &html,
        "u-role",
        "Belongs to the last active admin; make someone else an admin first.",
    );

    // A short password, beside the password box, and not shown back.
    let (status, html) = form(
        &app,
        &admin,
        &format!("{path}/password"),
        &[("csrf", &csrf), ("password", "short pw")],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    beside(&html, "u-password", "Must be at least 12 characters.");
    assert!(!html.contains("short pw"), "{html}");
    assert!(!html.contains("password: must"), "{html}");
    assert!(
        !form_with(&html, &path).contains("error"),
        "the details form is not blamed"
    );

    // Deactivation belongs to no field: the reason heads the deactivate form.
    let (status, html) = form(
        &app,
        &admin,
        &format!("/users/{me_id}/active"),
        &[("csrf", &csrf), ("active", "false")],
    )
    .await;
    assert_eq!(status, 403, "{html}");
    let deactivate = form_with(&html, &format!("/users/{me_id}/active"));
    assert!(
        deactivate
            .contains("<p class=\"error\" role=\"alert\">You cannot deactivate yourself.</p>"),
        "{html}"
    );
    assert_eq!(html.matches("You cannot deactivate yourself").count(), 1);
    // So does a person still on call.
    ok(
        app.post(
            "/api/v1/schedules",
            &app.admin.token,
            &json!({"name": "Primary", "time_zone": "UTC", "layers": [
                {"name": "Weekly", "start": "2026-11-16T09:00", "users": [rita.id],
                 "turn": {"count": 1, "unit": "weeks"}}]}),
        ),
        201,
    )
    .await;
    let (status, html) = form(
        &app,
        &admin,
        &format!("{path}/active"),
        &[("csrf", &csrf), ("active", "false")],
    )
    .await;
    assert_eq!(status, 409, "{html}");
    assert!(
        form_with(&html, &format!("{path}/active")).contains(
            "role=\"alert\">This user is still paged by schedule Primary; take them off first.</p>"
        ),
        "{html}"
    );
    assert!(!html.contains("active: "), "{html}");
    app.stop().await;
}

async fn the_account_page_says_each_refusal_beside_its_field(b: Backend) {
    let Some(app) =
        TestApp::spawn_with(b, |s| s.auth.login_failures_per_account_and_address = 3).await
    else {
        return;
    };
    member(&app, "rita@example.com", "Rita", "responder").await;
    let (cookie, csrf) = session_for(&app, "rita@example.com", PASSWORD).await;

    // A wrong current password, beside it; no password is shown back.
    let (status, html) = form(
        &app,
        &cookie,
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current_password", "not my password"),
            ("new_password", "a new long password"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    beside(&html, "p-current", "Is not your password.");
    assert!(!html.contains("current_password: "), "{html}");
    assert!(
        !html.contains("not my password") && !html.contains("a new long password"),
        "{html}"
    );
    // A new password too short, beside the new one.
    let (status, html) = form(
        &app,
        &cookie,
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current_password", PASSWORD),
            ("new_password", "too short"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    beside(&html, "p-new", "Must be at least 12 characters.");
    assert!(!html.contains("id=\"p-current-error\""), "{html}");

    // A token without a name: beside the name; the role chosen stays chosen.
    let (status, html) = form(
        &app,
        &cookie,
        "/account/tokens",
        &[("csrf", &csrf), ("name", ""), ("role", "viewer")],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    beside(&html, "t-name", "Must not be empty.");
    assert!(html.contains("<option selected>viewer</option>"), "{html}");
    assert!(!html.contains("data-testid=\"token-secret\""));
    // More power than her own: beside the role, the name typed kept.
    let (status, html) = form(
        &app,
        &cookie,
        "/account/tokens",
        &[("csrf", &csrf), ("name", "deploy bot"), ("role", "admin")],
    )
    .await;
    assert_eq!(status, 403, "{html}");
    beside(
        &html,
        "t-role",
        "A token cannot have more power than you (responder).",
    );
    assert!(html.contains("value=\"deploy bot\""), "{html}");
    assert!(!html.contains("id=\"p-current-error\""), "{html}");

    // Wrong guesses are throttled: said beside the current password too.
    for _ in 0..2 {
        let (status, _) = form(
            &app,
            &cookie,
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current_password", "guess guess guess"),
                ("new_password", "a new long password"),
            ],
        )
        .await;
        assert_eq!(status, 400);
    }
    let (status, html) = form(
        &app,
        &cookie,
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current_password", PASSWORD),
            ("new_password", "a new long password"),
        ],
    )
    .await;
    assert_eq!(status, 429, "{html}");
    beside(
        &html,
        "p-current",
        "Too many wrong passwords: try again in 15 min.",
    );
    app.stop().await;
}

async fn deleting_a_policy_in_use_says_why_beside_the_button(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin_token = &app.admin.token;
    let me_id = ok(app.get("/api/v1/me", admin_token), 200).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy = ok(
        app.post(
            "/api/v1/escalation-policies",
            admin_token,
            &json!({"name": "Payments on call", "levels": [
                {"delay_minutes": 5, "targets": [{"type": "user", "id": me_id}]}]}),
        ),
        201,
    )
    .await;
    let policy_id = policy["id"].as_str().unwrap();
    let service = ok(
        app.post(
            "/api/v1/services",
            admin_token,
            &json!({"name": "Payments API", "escalation_policy_id": policy_id}),
        ),
        201,
    )
    .await;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let path = format!("/escalation-policies/{policy_id}");
    let (status, html) = form(&app, &cookie, &format!("{path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 409, "{html}");
    assert_eq!(
        text_of(&html, "delete-policy-error"),
        "Services use this escalation policy: give them another first."
    );
    let delete = form_with(&html, &format!("{path}/delete#delete-policy-form"));
    let button = at(delete, "id=\"delete-policy\"");
    let reason = at(
        delete,
        "<p class=\"error\" role=\"alert\" id=\"delete-policy-error\">Services use this escalation policy: give them another first.</p>",
    );
    assert!(button < reason, "{delete}");
    assert!(
        delete.contains("aria-describedby=\"delete-policy-error\""),
        "{delete}"
    );
    // Said once, there, not at the page's top too.
    let lower = html.to_lowercase();
    assert_eq!(
        lower.matches("services use this escalation policy").count(),
        1
    );
    ok(
        app.get(&format!("/api/v1/{}", &path[1..]), admin_token),
        200,
    )
    .await;

    // Without the service it goes.
    let service_id = service["id"].as_str().unwrap();
    ok(
        common::delete(&app, &format!("/api/v1/services/{service_id}"), admin_token),
        204,
    )
    .await;
    let (status, _) = form(&app, &cookie, &format!("{path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let r = app
        .get(&format!("/api/v1/{}", &path[1..]), admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}

async fn removing_an_override_asks_to_be_sure(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let schedule = ok(
        app.post(
            "/api/v1/schedules",
            &app.admin.token,
            &json!({"name": "Primary", "time_zone": "UTC", "layers": [
                {"name": "Weekly", "start": "2026-11-16T09:00", "users": [bob.id],
                 "turn": {"count": 1, "unit": "weeks"}}]}),
        ),
        201,
    )
    .await;
    let id = schedule["id"].as_str().unwrap();
    let overrides = format!("/api/v1/schedules/{id}/overrides");
    let added = ok(
        app.post(
            &overrides,
            &bob.token,
            &json!({"user_id": bob.id, "start": "2026-11-22T09:00:00Z",
                    "end": "2026-11-22T17:00:00Z"}),
        ),
        201,
    )
    .await;
    let oid = added["id"].as_str().unwrap();
    let listed = |app: &TestApp| {
        let r = app.get(&overrides, &app.admin.token);
        async move {
            let v: Value = ok(r, 200).await;
            v["items"].as_array().unwrap().len()
        }
    };
    let (cookie, csrf) = session_for(&app, "bob@example.com", PASSWORD).await;
    let page = format!("/schedules/{id}");
    let remove = format!("{page}/overrides/{oid}/delete");

    // Without it, nothing is removed and the row says why.
    let (status, html) = form(&app, &cookie, &remove, &[("csrf", &csrf)]).await;
    assert_eq!(status, 400, "{html}");
    beside(
        &html,
        &format!("remove-{oid}-confirm"),
        "Tick this box to remove the override.",
    );
    assert!(
        html.contains("<details class=\"confirm-remove\" open>"),
        "{html}"
    );
    assert_eq!(listed(&app).await, 1);
    // The page asks: a box to tick before the button.
    let html = common::web_get_as(&app, &page, &cookie).await;
    let f = form_with(&html, &format!("{remove}#overrides"));
    let tick = at(
        f,
        &format!(
            "type=\"checkbox\" name=\"confirm\" value=\"yes\" id=\"remove-{oid}-confirm\" required"
        ),
    );
    assert!(tick < at(f, "<button type=\"submit\""), "{f}");
    assert!(
        !html.contains("confirm-remove\" open"),
        "folded until asked"
    );

    // An unknown override is not found, ticked or not.
    let unknown = format!("{page}/overrides/00000000-0000-7000-8000-000000000000/delete");
    let (status, _) = form(&app, &cookie, &unknown, &[("csrf", &csrf)]).await;
    assert_eq!(status, 404);

    // With it, the override goes.
    let (status, _) = form(
        &app,
        &cookie,
        &remove,
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(listed(&app).await, 0);
    app.stop().await;
}

on_both_backends!(
    a_users_page_says_each_refusal_on_its_own_form,
    the_account_page_says_each_refusal_beside_its_field,
    deleting_a_policy_in_use_says_why_beside_the_button,
    removing_an_override_asks_to_be_sure,
);
